/* Account management (RFC 8555 §7.3): External Account Binding settings,
 * and the operations of leec_ctx_account_op (register, show, contact
 * update, key rollover, deactivation). Each operation is a small job of the
 * context like a revocation: queued by leec_ctx_account_op, advanced and
 * reported from leec_ctx_perform, counted in ctx->pending_ops. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64url.h"
#include "internal.h"
#include "json.h"
#include "jws.h"
#include "problem.h"
#include "store.h"

/* ------------------------------------------------------------------ */
/* External Account Binding                                            */
/* ------------------------------------------------------------------ */

static void eab_clear(leec_ctx *ctx)
{
    if (ctx->eab_key) {
        explicit_bzero(ctx->eab_key, ctx->eab_keylen);
        free(ctx->eab_key);
    }
    free(ctx->eab_kid);
    ctx->eab_key = NULL;
    ctx->eab_keylen = 0;
    ctx->eab_kid = NULL;
}

leec_code leec_ctx_set_eab(leec_ctx *ctx, const char *kid,
                           const char *hmac_key_b64url)
{
    unsigned char *key = NULL;
    size_t keylen = 0;
    char *k = NULL;
    if (!ctx)
        return LEEC_E_INVALID_ARG;
    if (!kid) {
        eab_clear(ctx);
        return LEEC_OK;
    }
    if (!*kid || strlen(kid) > 1024 || !hmac_key_b64url || !*hmac_key_b64url)
        return LEEC_E_INVALID_ARG;
    for (const char *p = kid; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return LEEC_E_INVALID_ARG;
    leec_code rc = leec_b64url_decode(hmac_key_b64url, strlen(hmac_key_b64url),
                                      &key, &keylen);
    if (rc != LEEC_OK)
        return rc;
    if (!keylen || !(k = strdup(kid))) {
        explicit_bzero(key, keylen);
        free(key);
        return keylen ? LEEC_E_NOMEM : LEEC_E_INVALID_ARG;
    }
    eab_clear(ctx);
    ctx->eab_kid = k;
    ctx->eab_key = key;
    ctx->eab_keylen = keylen;
    return LEEC_OK;
}

/* ------------------------------------------------------------------ */
/* Jobs                                                                */
/* ------------------------------------------------------------------ */

typedef enum {
    JOB_QUEUED, /* not looked at yet */
    JOB_WAIT,   /* waiting for the directory and the account */
    JOB_SENT,   /* the request is out */
    JOB_DONE    /* finished: done is called next */
} job_state;

struct leec_acct_job {
    struct leec_acct_job *next;
    leec_ctx *ctx;
    leec_account_op op;
    job_state state;
    char *email;          /* UPDATE_CONTACT: NULL for none */
    leec_key_type new_type;
    leec_key *new_key;    /* ROLLOVER */
    leec_acme_req *req;
    leec_account_fn done;
    void *userdata;
    leec_code rc;
    leec_problem *problem;
    json_t *account;      /* the CA's account object, on success */
    bool created;
};

static void job_free(struct leec_acct_job *j)
{
    if (!j)
        return;
    leec_acme_cancel(j->ctx, j->req);
    free(j->email);
    leec_key_free(j->new_key);
    leec_problem_free(j->problem);
    json_decref(j->account);
    free(j);
}

static const char *op_name(leec_account_op op)
{
    switch (op) {
    case LEEC_ACCOUNT_OP_REGISTER:
        return "register";
    case LEEC_ACCOUNT_OP_SHOW:
        return "show";
    case LEEC_ACCOUNT_OP_UPDATE_CONTACT:
        return "contact update";
    case LEEC_ACCOUNT_OP_ROLLOVER:
        return "key rollover";
    case LEEC_ACCOUNT_OP_DEACTIVATE:
        return "deactivation";
    }
    return "?";
}

static void finish(struct leec_acct_job *j, leec_code rc,
                   leec_problem *problem)
{
    j->state = JOB_DONE;
    j->rc = rc;
    leec_problem_free(j->problem);
    j->problem = problem;
    if (rc == LEEC_OK)
        leec_log(j->ctx, LEEC_LOG_INFO, "account %s done", op_name(j->op));
    else
        leec_log(j->ctx, LEEC_LOG_DEBUG, "account %s failed: %s%s%s",
                 op_name(j->op), leec_strerror(rc),
                 problem && problem->detail ? ": " : "",
                 problem && problem->detail ? problem->detail : "");
}

/* The context forgets its account (deactivated): the next use loads or
 * creates another. */
static void forget_account(leec_ctx *ctx)
{
    leec_key_free(ctx->acct_key);
    ctx->acct_key = NULL;
    free(ctx->acct_url);
    ctx->acct_url = NULL;
    ctx->acct_state = RES_NONE;
    ctx->acct_skip_saved = false;
}

/* Common handling of the CA's answer: true when it is a success with an
 * account object (kept in the job). */
static bool response_ok(struct leec_acct_job *j, leec_acme_resp *r,
                        const char *what)
{
    j->req = NULL;
    if (r->err != LEEC_OK) {
        leec_log(j->ctx, LEEC_LOG_ERROR, "%s: %s", what,
                 r->errmsg ? r->errmsg : leec_strerror(r->err));
        finish(j, r->err, NULL);
        return false;
    }
    if (r->status != 200) {
        leec_problem *p = r->problem;
        r->problem = NULL;
        if (!p)
            leec_log(j->ctx, LEEC_LOG_ERROR,
                     "%s: HTTP %ld without a problem document", what,
                     r->status);
        finish(j, p ? LEEC_E_ACME : LEEC_E_PROTOCOL, p);
        return false;
    }
    if (r->json)
        j->account = json_incref(r->json);
    return true;
}

static void on_account(void *ud, leec_acme_resp *r)
{
    struct leec_acct_job *j = ud;
    leec_ctx *ctx = j->ctx;
    if (!response_ok(j, r, "account"))
        return;
    if (!j->account) {
        leec_log(ctx, LEEC_LOG_ERROR, "account: the CA's answer is no JSON "
                                      "object");
        finish(j, LEEC_E_PROTOCOL, NULL);
        return;
    }
    leec_code rc = LEEC_OK;
    if (j->op == LEEC_ACCOUNT_OP_UPDATE_CONTACT) {
        /* account.json keeps the contact too (informational). */
        char *keep = ctx->contact;
        ctx->contact = j->email;
        if (ctx->account_mode == LEEC_ACCOUNT_SAVED)
            rc = leec_account_save(ctx);
        ctx->contact = keep;
        if (rc == LEEC_OK && leec_ctx_set_contact(ctx, j->email) != LEEC_OK)
            rc = LEEC_E_NOMEM;
        if (rc != LEEC_OK)
            leec_log(ctx, LEEC_LOG_WARN, "contact updated at the CA, but "
                                         "account.json not rewritten");
        rc = LEEC_OK; /* the CA has it; the file is only informational */
    } else if (j->op == LEEC_ACCOUNT_OP_DEACTIVATE) {
        if (ctx->account_mode == LEEC_ACCOUNT_SAVED) {
            if (ctx->store->ops->account_remove)
                rc = ctx->store->ops->account_remove(ctx->store,
                                                     ctx->acct_ca_id);
            else
                rc = LEEC_E_STORE;
            if (rc != LEEC_OK)
                leec_log(ctx, LEEC_LOG_ERROR,
                         "account deactivated at the CA, but it cannot be "
                         "removed from the store: %s",
                         leec_strerror(rc));
        }
        leec_log(ctx, LEEC_LOG_INFO, "account %s deactivated", ctx->acct_url);
        /* The URL is reported from the account object, then forgotten. */
        if (!json_object_get(j->account, "url") && ctx->acct_url)
            json_object_set_new(j->account, "url",
                                json_string(ctx->acct_url));
        forget_account(ctx);
    }
    finish(j, rc, NULL);
}

static void on_rollover(void *ud, leec_acme_resp *r)
{
    struct leec_acct_job *j = ud;
    leec_ctx *ctx = j->ctx;
    if (!response_ok(j, r, "keyChange"))
        return;
    /* The CA now knows the new key only: use it, then save it. */
    leec_key *old = ctx->acct_key;
    ctx->acct_key = j->new_key;
    j->new_key = old;
    leec_log(ctx, LEEC_LOG_INFO, "account key rolled over (%s)",
             leec_key_type_name(leec_key_get_type(ctx->acct_key)));
    leec_code rc = LEEC_OK;
    if (ctx->account_mode == LEEC_ACCOUNT_SAVED &&
        (rc = leec_account_save(ctx)) != LEEC_OK)
        leec_log(ctx, LEEC_LOG_ERROR,
                 "the CA has the new account key, but it cannot be saved: "
                 "%s",
                 leec_strerror(rc));
    /* keyChange answers with the account object at most; without one,
     * report what is known. */
    if (!j->account)
        j->account = json_object();
    if (j->account && !json_object_get(j->account, "url"))
        json_object_set_new(j->account, "url", json_string(ctx->acct_url));
    finish(j, rc == LEEC_OK ? LEEC_OK : LEEC_E_STORE, NULL);
}

/* §7.3.5: the inner JWS, signed by the new key (jwk, no nonce), is the
 * payload of the outer one, signed by the old key (kid). */
static leec_code start_rollover(struct leec_acct_job *j)
{
    leec_ctx *ctx = j->ctx;
    char *old_jwk = NULL, *payload = NULL, *inner = NULL;
    json_t *o = NULL, *jwk = NULL;
    leec_code rc;
    if (!ctx->dir.key_change) {
        leec_log(ctx, LEEC_LOG_ERROR, "the CA's directory has no keyChange "
                                      "URL");
        return LEEC_E_PROTOCOL;
    }
    if ((rc = leec_key_generate(j->new_type, &j->new_key)) != LEEC_OK)
        goto out;
    if ((rc = leec_key_jwk_json(ctx->acct_key, &old_jwk)) != LEEC_OK)
        goto out;
    rc = LEEC_E_NOMEM;
    if (!(jwk = json_loads(old_jwk, 0, NULL)) ||
        !(o = json_pack("{s:s, s:O}", "account", ctx->acct_url, "oldKey",
                        jwk)) ||
        !(payload = json_dumps(o, JSON_COMPACT)))
        goto out;
    if ((rc = leec_jws_sign(j->new_key, NULL, NULL, ctx->dir.key_change,
                            payload, &inner)) != LEEC_OK)
        goto out;
    rc = leec_acme_post(ctx, ctx->dir.key_change, inner, ctx->acct_key,
                        ctx->acct_url, NULL, on_rollover, j, &j->req);
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
    for (size_t i = 0; i < ctx->nagents; i++)
        if (leec_agent_running(ctx->agents[i]))
            return true;
    return false;
}

static void send_op(struct leec_acct_job *j)
{
    leec_ctx *ctx = j->ctx;
    leec_code rc = LEEC_OK;
    char *payload = NULL;
    json_t *o = NULL;
    j->state = JOB_SENT;
    switch (j->op) {
    case LEEC_ACCOUNT_OP_REGISTER:
        j->created = ctx->acct_created;
        rc = leec_acme_post(ctx, ctx->acct_url, NULL, ctx->acct_key,
                            ctx->acct_url, NULL, on_account, j, &j->req);
        break;
    case LEEC_ACCOUNT_OP_SHOW:
        rc = leec_acme_post(ctx, ctx->acct_url, NULL, ctx->acct_key,
                            ctx->acct_url, NULL, on_account, j, &j->req);
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
        rc = leec_acme_post(ctx, ctx->acct_url, payload, ctx->acct_key,
                            ctx->acct_url, NULL, on_account, j, &j->req);
        break;
    }
    case LEEC_ACCOUNT_OP_ROLLOVER:
        rc = agents_running(ctx) ? LEEC_E_STATE : start_rollover(j);
        break;
    case LEEC_ACCOUNT_OP_DEACTIVATE:
        rc = leec_acme_post(ctx, ctx->acct_url, "{\"status\":\"deactivated\"}",
                            ctx->acct_key, ctx->acct_url, NULL, on_account, j,
                            &j->req);
        break;
    }
    json_decref(o);
    free(payload);
    if (rc != LEEC_OK) {
        j->req = NULL;
        finish(j, rc, NULL);
    }
}

static void fail_from_account(struct leec_acct_job *j)
{
    leec_problem *p = NULL;
    leec_code rc = leec_account_error(j->ctx, &p);
    finish(j, rc, p);
}

static void advance(struct leec_acct_job *j)
{
    leec_ctx *ctx = j->ctx;
    leec_account_ensure(ctx);
    if (ctx->acct_state == RES_READY)
        send_op(j);
    else if (ctx->acct_state == RES_FAILED)
        fail_from_account(j);
    else
        j->state = JOB_WAIT;
}

/* The account object as leec_account_info, then done. */
static void report(struct leec_acct_job *j)
{
    leec_account_info info;
    const char **contact = NULL;
    memset(&info, 0, sizeof info);
    if (j->rc != LEEC_OK || !j->account) {
        j->done(j->userdata, j->rc, NULL, j->problem);
        return;
    }
    info.url = leec_json_str(j->account, "url");
    if (!info.url)
        info.url = j->ctx->acct_url;
    info.status = leec_json_str(j->account, "status");
    info.orders = leec_json_str(j->account, "orders");
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

void leec_account_ops_perform(leec_ctx *ctx)
{
    struct leec_acct_job **pp = &ctx->acct_jobs;
    while (*pp) {
        struct leec_acct_job *j = *pp;
        /* One at a time, in order: a rollover or a deactivation changes
         * the account the next one uses. */
        if (j != ctx->acct_jobs && j->state == JOB_QUEUED)
            break;
        if (j->state == JOB_QUEUED || j->state == JOB_WAIT)
            advance(j);
        if (j->state != JOB_DONE)
            break;
        *pp = j->next;
        ctx->pending_ops--;
        report(j);
        job_free(j);
    }
}

bool leec_account_ops_due(const leec_ctx *ctx)
{
    const struct leec_acct_job *j = ctx->acct_jobs;
    if (!j)
        return false;
    switch (j->state) {
    case JOB_QUEUED:
    case JOB_DONE:
        return true;
    case JOB_WAIT:
        return ctx->acct_state != RES_PENDING;
    case JOB_SENT:
        break;
    }
    return false;
}

void leec_account_ops_free_all(leec_ctx *ctx)
{
    while (ctx->acct_jobs) {
        struct leec_acct_job *j = ctx->acct_jobs;
        ctx->acct_jobs = j->next;
        job_free(j);
        if (ctx->pending_ops)
            ctx->pending_ops--;
    }
    eab_clear(ctx);
}

/* Every operation but REGISTER needs the saved account (none is created
 * for them). */
static leec_code saved_account_exists(leec_ctx *ctx)
{
    char *pem = NULL, *js = NULL;
    if (ctx->account_mode != LEEC_ACCOUNT_SAVED ||
        ctx->acct_state == RES_READY || ctx->acct_state == RES_PENDING)
        return LEEC_OK;
    if (ctx->acct_skip_saved)
        return LEEC_E_NOT_FOUND;
    char *ca_id = leec_ca_id(ctx->server);
    if (!ca_id)
        return LEEC_E_INVALID_ARG;
    leec_code rc = ctx->store->ops->account_load(ctx->store, ca_id, &pem, &js);
    leec_secure_free(pem);
    free(js);
    free(ca_id);
    return rc;
}

leec_code leec_ctx_account_op(leec_ctx *ctx, leec_account_op op,
                              const char *arg, leec_account_fn done,
                              void *userdata)
{
    leec_code rc = LEEC_E_INVALID_ARG;
    struct leec_acct_job *j = NULL;
    if (!ctx || !done || (unsigned)op > LEEC_ACCOUNT_OP_DEACTIVATE)
        goto fail;
    if (ctx->account_mode == LEEC_ACCOUNT_SAVED && !ctx->store)
        goto fail;
    rc = LEEC_E_NOMEM;
    if (!(j = calloc(1, sizeof *j)))
        goto fail;
    j->ctx = ctx;
    j->op = op;
    j->done = done;
    j->userdata = userdata;
    j->new_type = ctx->account_key_type;
    if (op == LEEC_ACCOUNT_OP_UPDATE_CONTACT && arg && *arg) {
        /* The same checks as a new account's contact. */
        char *keep = ctx->contact;
        ctx->contact = NULL;
        rc = leec_ctx_set_contact(ctx, arg);
        j->email = ctx->contact;
        ctx->contact = keep;
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
    if (op != LEEC_ACCOUNT_OP_REGISTER &&
        (rc = saved_account_exists(ctx)) != LEEC_OK)
        goto fail;
    rc = LEEC_E_NOMEM;
    if (!leec_ctx_http(ctx))
        goto fail;
    struct leec_acct_job **pp = &ctx->acct_jobs;
    while (*pp)
        pp = &(*pp)->next;
    *pp = j;
    ctx->pending_ops++;
    leec_log(ctx, LEEC_LOG_DEBUG, "account %s queued", op_name(op));
    return LEEC_OK;
fail:
    job_free(j);
    return rc;
}
