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
    json_t *account; /* the CA's account object, on success */
    bool created;
};

static void job_destroy(leec_op *base)
{
    struct leec_acct_job *j = (struct leec_acct_job *)base;
    free(j->email);
    Leec_key_free(j->new_key);
    json_decref(j->account);
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
    if (r->json)
        j->account = json_incref(r->json);
    return true;
}

static void on_account(void *ud, leec_acme_resp *r)
{
    struct leec_acct_job *j = ud;
    leec_ctx *ctx = j->base.ctx;
    if (!response_ok(j, r, "account"))
        return;
    if (!j->account) {
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
        if (!json_object_get(j->account, "url") && Leec_account_url(ctx))
            json_object_set_new(j->account, "url",
                                json_string(Leec_account_url(ctx)));
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
    if (!j->account)
        j->account = json_object();
    if (j->account && !json_object_get(j->account, "url"))
        json_object_set_new(j->account, "url",
                            json_string(Leec_account_url(ctx)));
    finish(j, rc == LEEC_OK ? LEEC_OK : LEEC_E_STORE);
}

/* §7.3.5: the inner JWS, signed by the new key (jwk, no nonce), is the
 * payload of the outer one, signed by the old key (kid). */
static leec_code start_rollover(struct leec_acct_job *j)
{
    leec_ctx *ctx = j->base.ctx;
    char *old_jwk = NULL, *payload = NULL, *inner = NULL;
    json_t *o = NULL, *jwk = NULL;
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
    if (!(jwk = json_loads(old_jwk, 0, NULL)) ||
        !(o = json_pack("{s:s, s:O}", "account", Leec_account_url(ctx),
                        "oldKey", jwk)) ||
        !(payload = json_dumps(o, JSON_COMPACT)))
        goto out;
    if ((rc = Leec_jws_sign(j->new_key, NULL, NULL,
                            Leec_session_dir(ctx)->key_change, payload,
                            &inner)) != LEEC_OK)
        goto out;
    rc = Leec_acme_post(ctx, Leec_session_dir(ctx)->key_change, inner,
                        Leec_account_key(ctx), Leec_account_url(ctx), NULL,
                        on_rollover, j, &j->base.req);
out:
    free(old_jwk);
    free(payload);
    free(inner);
    json_decref(o);
    json_decref(jwk);
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
    json_t *o = NULL;
    switch (j->op) {
    case LEEC_ACCOUNT_OP_REGISTER:
        j->created = Leec_account_created(ctx);
        rc = Leec_acme_post(ctx, Leec_account_url(ctx), NULL,
                            Leec_account_key(ctx), Leec_account_url(ctx), NULL,
                            on_account, j, &j->base.req);
        break;
    case LEEC_ACCOUNT_OP_SHOW:
        rc = Leec_acme_post(ctx, Leec_account_url(ctx), NULL,
                            Leec_account_key(ctx), Leec_account_url(ctx), NULL,
                            on_account, j, &j->base.req);
        break;
    case LEEC_ACCOUNT_OP_UPDATE_CONTACT: {
        rc = LEEC_E_NOMEM;
        json_t *list = json_array();
        if (!list || !(o = json_pack("{s:o}", "contact", list)))
            break;
        if (j->email) {
            char *m = NULL;
            if (asprintf(&m, "mailto:%s", j->email) < 0)
                break;
            int bad = json_array_append_new(list, json_string(m));
            free(m);
            if (bad)
                break;
        }
        if (!(payload = json_dumps(o, JSON_COMPACT)))
            break;
        rc = Leec_acme_post(ctx, Leec_account_url(ctx), payload,
                            Leec_account_key(ctx), Leec_account_url(ctx), NULL,
                            on_account, j, &j->base.req);
        break;
    }
    case LEEC_ACCOUNT_OP_ROLLOVER:
        rc = agents_running(ctx) ? LEEC_E_STATE : start_rollover(j);
        break;
    case LEEC_ACCOUNT_OP_DEACTIVATE:
        rc = Leec_acme_post(ctx, Leec_account_url(ctx),
                            "{\"status\":\"deactivated\"}",
                            Leec_account_key(ctx), Leec_account_url(ctx), NULL,
                            on_account, j, &j->base.req);
        break;
    }
    json_decref(o);
    free(payload);
    return rc;
}

/* The account object as leec_account_info, then done. */
static void job_report(leec_op *base)
{
    struct leec_acct_job *j = (struct leec_acct_job *)base;
    leec_account_info info;
    const char **contact = NULL;
    memset(&info, 0, sizeof info);
    if (base->rc != LEEC_OK || !j->account) {
        j->done(j->userdata, base->rc, NULL, base->problem);
        return;
    }
    info.url = Leec_json_str(j->account, "url");
    if (!info.url)
        info.url = Leec_account_url(base->ctx);
    info.status = Leec_json_str(j->account, "status");
    info.orders = Leec_json_str(j->account, "orders");
    info.created = j->created;
    json_t *c = json_object_get(j->account, "contact");
    size_t n = json_is_array(c) ? json_array_size(c) : 0;
    if (n && (contact = calloc(n, sizeof *contact))) {
        for (size_t i = 0; i < n; i++) {
            const char *s = json_string_value(json_array_get(c, i));
            if (s)
                contact[info.ncontact++] = s;
        }
    }
    info.contact = contact;
    j->done(j->userdata, LEEC_OK, &info, NULL);
    free(contact);
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
