/* Account management (RFC 8555 §7.3): External Account Binding settings,
 * and the operations of leec_ctx_account_op (register, show, contact
 * update, key rollover, deactivation). Each is an operation of the context
 * like a revocation (ctx_ops.c): queued by leec_ctx_account_op, advanced
 * and reported from leec_ctx_perform. Here: the requests and what their
 * answers change in the context. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/b64url.h"
#include "engine/internal.h"
#include "util/json.h"
#include "crypto/jws.h"
#include "acme/account.h"
#include "acme/problem.h"
#include "store/store.h"

/* ------------------------------------------------------------------ */
/* Jobs                                                                */
/* ------------------------------------------------------------------ */

struct leec_acct_job {
    leec_op base; /* first: the queue handles it as a leec_op */
    leec_account_op op;
    char *email; /* UPDATE_CONTACT: NULL for none */
    leec_key_type new_type;
    leec_key *new_key; /* ROLLOVER */
    leec_account_fn done;
    void *userdata;
    leec_account_view account; /* the CA's account object, on success */
    bool have_account;
    bool created;
};

static void job_destroy(leec_op *base)
{
    struct leec_acct_job *j = (struct leec_acct_job *)base;
    free(j->email);
    Leec_key_free(j->new_key);
    Leec_account_view_clear(&j->account);
    free(j);
}

/* The operation's name in logs ("account key rollover queued"). */
static const char *op_name(leec_account_op op)
{
    switch (op) {
    case LEEC_ACCOUNT_OP_REGISTER:
        return "account register";
    case LEEC_ACCOUNT_OP_SHOW:
        return "account show";
    case LEEC_ACCOUNT_OP_UPDATE_CONTACT:
        return "account contact update";
    case LEEC_ACCOUNT_OP_ROLLOVER:
        return "account key rollover";
    case LEEC_ACCOUNT_OP_DEACTIVATE:
        return "account deactivation";
    }
    return "account ?";
}

static void finish(struct leec_acct_job *j, leec_code rc)
{
    if (rc == LEEC_OK)
        Leec_log(j->base.ctx, LEEC_LOG_INFO, "%s done", j->base.what);
    Leec_op_finish(&j->base, rc, NULL);
}

/* The CA's answer: true when it is a success, its account object (if
 * any) kept in the job. */
static bool response_ok(struct leec_acct_job *j, leec_acme_resp *r,
                        const char *req_name)
{
    if (!Leec_op_answer_ok(&j->base, r, req_name))
        return false;
    if (r->json) {
        Leec_account_view_clear(&j->account); /* an earlier answer's */
        leec_code rc = Leec_account_parse(r->json, &j->account);
        if (rc == LEEC_E_NOMEM) {
            finish(j, rc);
            return false;
        }
        j->have_account = true;
    }
    return true;
}

static void on_account(void *ud, leec_acme_resp *r)
{
    struct leec_acct_job *j = ud;
    leec_ctx *ctx = j->base.ctx;
    if (!response_ok(j, r, "account"))
        return;
    if (!j->have_account) {
        Leec_log(ctx, LEEC_LOG_ERROR,
                 "account: the CA's answer is no JSON "
                 "object");
        finish(j, LEEC_E_PROTOCOL);
        return;
    }
    leec_code rc = LEEC_OK;
    if (j->op == LEEC_ACCOUNT_OP_UPDATE_CONTACT) {
        /* account.json keeps the contact too (informational). */
        char *keep = Leec_account_swap_contact(ctx, j->email);
        if (Leec_account_mode(ctx) == LEEC_ACCOUNT_SAVED)
            rc = Leec_account_save(ctx);
        Leec_account_swap_contact(ctx, keep);
        if (rc == LEEC_OK && leec_ctx_set_contact(ctx, j->email) != LEEC_OK)
            rc = LEEC_E_NOMEM;
        if (rc != LEEC_OK)
            Leec_log(ctx, LEEC_LOG_WARN,
                     "contact updated at the CA, but "
                     "account.json not rewritten");
        rc = LEEC_OK; /* the CA has it; the file is only informational */
    } else if (j->op == LEEC_ACCOUNT_OP_DEACTIVATE) {
        if (Leec_account_mode(ctx) == LEEC_ACCOUNT_SAVED) {
            rc = Leec_store_account_remove(leec_ctx_get_store(ctx),
                                           Leec_account_ca_id(ctx));
            if (rc != LEEC_OK)
                Leec_log(ctx, LEEC_LOG_ERROR,
                         "account deactivated at the CA, but it cannot be "
                         "removed from the store: %s",
                         leec_strerror(rc));
        }
        Leec_log(ctx, LEEC_LOG_INFO, "account %s deactivated",
                 Leec_account_url(ctx));
        /* The URL is reported from the account object, then forgotten. */
        if (!j->account.url && Leec_account_url(ctx))
            j->account.url = strdup(Leec_account_url(ctx));
        Leec_account_drop(ctx);
    }
    finish(j, rc);
}

static void on_rollover(void *ud, leec_acme_resp *r)
{
    struct leec_acct_job *j = ud;
    leec_ctx *ctx = j->base.ctx;
    if (!response_ok(j, r, "keyChange"))
        return;
    /* The CA now knows the new key only: use it, then save it. */
    leec_key *old = Leec_account_swap_key(ctx, j->new_key);
    j->new_key = old;
    Leec_log(ctx, LEEC_LOG_INFO, "account key rolled over (%s)",
             leec_key_type_name(Leec_key_get_type(Leec_account_key(ctx))));
    leec_code rc = LEEC_OK;
    if (Leec_account_mode(ctx) == LEEC_ACCOUNT_SAVED &&
        (rc = Leec_account_save(ctx)) != LEEC_OK)
        Leec_log(ctx, LEEC_LOG_ERROR,
                 "the CA has the new account key, but it cannot be saved: "
                 "%s",
                 leec_strerror(rc));
    /* keyChange answers with the account object at most; without one,
     * report what is known. */
    j->have_account = true;
    if (!j->account.url && Leec_account_url(ctx))
        j->account.url = strdup(Leec_account_url(ctx));
    finish(j, rc == LEEC_OK ? LEEC_OK : LEEC_E_STORE);
}

/* §7.3.5: the inner JWS, signed by the new key (jwk, no nonce), is the
 * payload of the outer one, signed by the old key (kid). */
static leec_code start_rollover(struct leec_acct_job *j)
{
    leec_ctx *ctx = j->base.ctx;
    char *old_jwk = NULL, *payload = NULL, *inner = NULL;
    leec_json *o = NULL, *jwk = NULL;
    leec_code rc;
    if (!Leec_session_dir(ctx)->key_change) {
        Leec_log(ctx, LEEC_LOG_ERROR,
                 "the CA's directory has no keyChange "
                 "URL");
        return LEEC_E_PROTOCOL;
    }
    if ((rc = Leec_key_generate(j->new_type, &j->new_key)) != LEEC_OK)
        goto out;
    if ((rc = Leec_key_jwk_json(Leec_account_key(ctx), &old_jwk)) != LEEC_OK)
        goto out;
    rc = LEEC_E_NOMEM;
    if (Leec_json_parse_object(old_jwk, strlen(old_jwk), &jwk) != LEEC_OK ||
        !(o = Leec_json_new_object()) ||
        !Leec_json_set_str(o, "account", Leec_account_url(ctx)) ||
        !Leec_json_set(o, "oldKey", jwk) ||
        !(payload = Leec_json_dump(o, false))) {
        jwk = NULL; /* taken by o, or released */
        goto out;
    }
    jwk = NULL;
    if ((rc = Leec_jws_sign(j->new_key, NULL, NULL,
                            Leec_session_dir(ctx)->key_change, payload,
                            &inner)) != LEEC_OK)
        goto out;
    rc = Leec_acme_post(ctx, LEEC_EP_KEY_CHANGE,
                        Leec_session_dir(ctx)->key_change, inner,
                        Leec_account_key(ctx), Leec_account_url(ctx), NULL,
                        on_rollover, j, &j->base.req);
out:
    free(old_jwk);
    free(payload);
    free(inner);
    Leec_json_free(o);
    Leec_json_free(jwk);
    return rc;
}

static bool agents_running(const leec_ctx *ctx)
{
    for (size_t i = 0; i < Leec_agents_count(ctx); i++)
        if (Leec_agent_running(Leec_agents_at(ctx, i)))
            return true;
    return false;
}

static leec_code job_send(leec_op *base)
{
    struct leec_acct_job *j = (struct leec_acct_job *)base;
    leec_ctx *ctx = base->ctx;
    leec_code rc = LEEC_OK;
    char *payload = NULL;
    leec_json *o = NULL;
    switch (j->op) {
    case LEEC_ACCOUNT_OP_REGISTER:
        j->created = Leec_account_created(ctx);
        rc = Leec_acme_post(ctx, LEEC_EP_ACCOUNT, Leec_account_url(ctx), NULL,
                            Leec_account_key(ctx), Leec_account_url(ctx), NULL,
                            on_account, j, &j->base.req);
        break;
    case LEEC_ACCOUNT_OP_SHOW:
        rc = Leec_acme_post(ctx, LEEC_EP_ACCOUNT, Leec_account_url(ctx), NULL,
                            Leec_account_key(ctx), Leec_account_url(ctx), NULL,
                            on_account, j, &j->base.req);
        break;
    case LEEC_ACCOUNT_OP_UPDATE_CONTACT: {
        rc = LEEC_E_NOMEM;
        leec_json *list = Leec_json_new_array();
        if (!(o = Leec_json_new_object()) || !Leec_json_set(o, "contact", list))
            break;
        if (j->email) {
            char *m = NULL;
            if (asprintf(&m, "mailto:%s", j->email) < 0)
                break;
            bool ok = Leec_json_push_str(list, m);
            free(m);
            if (!ok)
                break;
        }
        if (!(payload = Leec_json_dump(o, false)))
            break;
        rc =
            Leec_acme_post(ctx, LEEC_EP_ACCOUNT, Leec_account_url(ctx), payload,
                           Leec_account_key(ctx), Leec_account_url(ctx), NULL,
                           on_account, j, &j->base.req);
        break;
    }
    case LEEC_ACCOUNT_OP_ROLLOVER:
        rc = agents_running(ctx) ? LEEC_E_STATE : start_rollover(j);
        break;
    case LEEC_ACCOUNT_OP_DEACTIVATE:
        rc = Leec_acme_post(ctx, LEEC_EP_ACCOUNT, Leec_account_url(ctx),
                            "{\"status\":\"deactivated\"}",
                            Leec_account_key(ctx), Leec_account_url(ctx), NULL,
                            on_account, j, &j->base.req);
        break;
    }
    Leec_json_free(o);
    free(payload);
    return rc;
}

/* The account object as leec_account_info, then done. */
static void job_report(leec_op *base)
{
    struct leec_acct_job *j = (struct leec_acct_job *)base;
    leec_account_info info;
    memset(&info, 0, sizeof info);
    if (base->rc != LEEC_OK || !j->have_account) {
        j->done(j->userdata, base->rc, NULL, base->problem);
        return;
    }
    info.url = j->account.url;
    if (!info.url)
        info.url = Leec_account_url(base->ctx);
    info.status = j->account.status;
    info.orders = j->account.orders;
    info.created = j->created;
    info.contact = (const char *const *)j->account.contact;
    info.ncontact = j->account.ncontact;
    const leec_directory *d = Leec_session_dir(base->ctx);
    if (d) {
        info.caa_identities = (const char *const *)d->caa;
        info.ncaa_identities = d->ncaa;
    }
    j->done(j->userdata, LEEC_OK, &info, NULL);
}

/* One at a time, in order: a rollover or a deactivation changes the
 * account the next one uses. */
static const leec_op_kind job_kind = {.one_at_a_time = true,
                                      .send = job_send,
                                      .report = job_report,
                                      .destroy = job_destroy};

leec_code leec_ctx_account_op(leec_ctx *ctx, leec_account_op op,
                              const char *arg, leec_account_fn done,
                              void *userdata)
{
    leec_code rc = LEEC_E_INVALID_ARG;
    struct leec_acct_job *j = NULL;
    if (!ctx || !done || (unsigned)op > LEEC_ACCOUNT_OP_DEACTIVATE)
        goto fail;
    if (Leec_account_mode(ctx) == LEEC_ACCOUNT_SAVED &&
        !leec_ctx_get_store(ctx))
        goto fail;
    rc = LEEC_E_NOMEM;
    if (!(j = calloc(1, sizeof *j)))
        goto fail;
    Leec_op_init(&j->base, ctx, &job_kind, op_name(op));
    j->op = op;
    j->done = done;
    j->userdata = userdata;
    j->new_type = Leec_account_key_type(ctx);
    if (op == LEEC_ACCOUNT_OP_UPDATE_CONTACT && arg && *arg) {
        /* The same checks as a new account's contact. */
        char *keep = Leec_account_swap_contact(ctx, NULL);
        rc = leec_ctx_set_contact(ctx, arg);
        j->email = Leec_account_swap_contact(ctx, keep);
        if (rc != LEEC_OK)
            goto fail;
    }
    if (op == LEEC_ACCOUNT_OP_ROLLOVER && arg &&
        (rc = leec_key_type_parse(arg, &j->new_type)) != LEEC_OK)
        goto fail;
    if (op == LEEC_ACCOUNT_OP_ROLLOVER && agents_running(ctx)) {
        rc = LEEC_E_STATE;
        goto fail;
    }
    /* Every operation but REGISTER needs the saved account. */
    if (op != LEEC_ACCOUNT_OP_REGISTER &&
        (rc = Leec_op_saved_account_exists(ctx)) != LEEC_OK)
        goto fail;
    if ((rc = Leec_op_queue(&j->base)) != LEEC_OK)
        goto fail;
    return LEEC_OK;
fail:
    if (j)
        Leec_op_free(&j->base);
    return rc;
}
