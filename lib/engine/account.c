/* The context's shared resources: the CA's directory and the account. The
 * first agent that needs them starts the requests; every agent waiting is
 * woken when they resolve, successfully or not. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/internal.h"
#include "crypto/jws.h"
#include "util/json.h"
#include "acme/account.h"
#include "acme/problem.h"
#include "store/store.h"
#include "engine/workers.h"

/* The agents waiting look again from perform, each in its own driver:
 * never from inside another agent's step. */
static void wake_agents(leec_ctx *ctx)
{
    ctx->wake_agents = true;
}

static void unlock_account(leec_ctx *ctx)
{
    if (ctx->acct_lock) {
        Leec_store_unlock(ctx->store, ctx->acct_lock);
        ctx->acct_lock = NULL;
    }
}

static void account_fail(leec_ctx *ctx, leec_code err, const char *msg,
                         leec_problem *problem)
{
    unlock_account(ctx);
    ctx->acct_state = RES_FAILED;
    ctx->acct_err = err;
    free(ctx->acct_errmsg);
    ctx->acct_errmsg = strdup(msg ? msg : leec_strerror(err));
    Leec_problem_free(ctx->acct_problem);
    ctx->acct_problem = problem;
    /* INFO: each agent waiting for the account fails with this message,
     * and reports it through the API (operations, which have no message,
     * log it themselves): at ERROR it would be said twice. */
    Leec_log(ctx, LEEC_LOG_INFO, "account: %s%s%s", ctx->acct_errmsg,
             problem && problem->detail ? ": " : "",
             problem && problem->detail ? problem->detail : "");
    wake_agents(ctx);
}

static void account_ready(leec_ctx *ctx)
{
    unlock_account(ctx);
    ctx->acct_state = RES_READY;
    ctx->acct_gen++;
    wake_agents(ctx);
}

/* [m], or NULL on OOM. */
static leec_json *contact_list(const char *m)
{
    leec_json *a = Leec_json_new_array();
    if (!Leec_json_push_str(a, m)) {
        Leec_json_free(a);
        return NULL;
    }
    return a;
}

static char *account_json(leec_ctx *ctx)
{
    leec_json *o = Leec_json_new_object();
    if (!Leec_json_set_str(o, "url", ctx->acct_url) ||
        !Leec_json_set_str(o, "directory", ctx->server)) {
        Leec_json_free(o);
        return NULL;
    }
    if (ctx->contact) {
        char *m = NULL;
        if (asprintf(&m, "mailto:%s", ctx->contact) >= 0) {
            (void)Leec_json_set(o, "contact", contact_list(m));
            free(m);
        }
    }
    char *s = Leec_json_dump(o, true);
    Leec_json_free(o);
    return s;
}

leec_code Leec_account_save(leec_ctx *ctx)
{
    char *pem = NULL;
    char *js = account_json(ctx);
    leec_code rc = js ? Leec_key_to_pem(ctx->acct_key, &pem) : LEEC_E_NOMEM;
    if (rc == LEEC_OK)
        rc = Leec_store_account_save(ctx->store, ctx->acct_ca_id, pem, js);
    Leec_secure_free(pem);
    free(js);
    return rc;
}

static void on_new_account(void *ud, leec_acme_resp *r)
{
    leec_ctx *ctx = ud;
    ctx->acct_req = NULL;
    if (r->err != LEEC_OK) {
        account_fail(ctx, r->err, r->errmsg, NULL);
        return;
    }
    if (r->status != 201 && r->status != 200) {
        leec_problem *p = r->problem;
        r->problem = NULL;
        account_fail(ctx, LEEC_E_ACME,
                     ctx->acct_lookup
                         ? "the CA knows no account for the saved account "
                           "key (its account.json is missing); remove that "
                           "account from the store to make a new one"
                         : "newAccount refused",
                     p);
        return;
    }
    leec_account_view acct;
    leec_code vrc = Leec_account_parse(r->json, &acct);
    bool valid =
        vrc != LEEC_OK || !acct.status || strcmp(acct.status, "valid") == 0;
    Leec_account_view_clear(&acct);
    if (vrc == LEEC_E_NOMEM) {
        account_fail(ctx, LEEC_E_NOMEM, NULL, NULL);
        return;
    }
    if (!r->location || !Leec_url_ok(r->location) || !valid) {
        account_fail(ctx, LEEC_E_PROTOCOL,
                     "newAccount: no valid account URL or account not valid",
                     NULL);
        return;
    }
    if (!(ctx->acct_url = strdup(r->location))) {
        account_fail(ctx, LEEC_E_NOMEM, NULL, NULL);
        return;
    }
    ctx->acct_created = r->status == 201;
    Leec_log(ctx, LEEC_LOG_INFO, "account %s: %s",
             ctx->acct_created ? "created" : "found", ctx->acct_url);
    if (ctx->account_mode == LEEC_ACCOUNT_SAVED) {
        char *pem = NULL;
        char *js = account_json(ctx);
        leec_code rc = js ? Leec_key_to_pem(ctx->acct_key, &pem) : LEEC_E_NOMEM;
        if (rc == LEEC_OK)
            rc = Leec_store_account_save(ctx->store, ctx->acct_ca_id, pem, js);
        Leec_secure_free(pem);
        free(js);
        if (rc != LEEC_OK) {
            account_fail(ctx, rc, "cannot save the account in the store", NULL);
            return;
        }
    }
    account_ready(ctx);
}

/* RFC 8555 §7.3.4: the externalAccountBinding member, an HS256 JWS over
 * the new account's public JWK. */
static leec_code add_eab(leec_ctx *ctx, leec_json *payload)
{
    char *jwk = NULL, *jws = NULL;
    leec_json *o = NULL;
    leec_code rc = Leec_key_jwk_json(ctx->acct_key, &jwk);
    if (rc == LEEC_OK)
        rc = Leec_jws_sign_hmac(ctx->eab_key, ctx->eab_keylen, ctx->eab_kid,
                                ctx->dir.new_account, jwk, &jws);
    if (rc == LEEC_OK) {
        (void)Leec_json_parse_object(jws, strlen(jws), &o);
        rc = Leec_json_set(payload, "externalAccountBinding", o) ? LEEC_OK
                                                                 : LEEC_E_NOMEM;
    }
    if (rc == LEEC_OK)
        Leec_log(ctx, LEEC_LOG_DEBUG,
                 "newAccount with external account "
                 "binding (kid %s)",
                 ctx->eab_kid);
    free(jwk);
    free(jws);
    return rc;
}

/* newAccount with ctx->acct_key: a lookup of the saved key's account
 * (RFC 8555 §7.3.1: its account.json was lost, never a new one made with
 * it), or a new account. */
static void send_new_account(leec_ctx *ctx, bool lookup)
{
    leec_code rc = LEEC_E_NOMEM;
    leec_json *p = NULL;
    char *payload = NULL;
    ctx->acct_lookup = lookup;
    if (lookup) {
        if (!(p = Leec_json_new_object()) ||
            !Leec_json_set_bool(p, "onlyReturnExisting", true))
            goto fail;
    } else {
        if (!(p = Leec_json_new_object()))
            goto fail;
        if (ctx->agree_tos)
            (void)Leec_json_set_bool(p, "termsOfServiceAgreed", true);
        if (ctx->contact) {
            char *m = NULL;
            if (asprintf(&m, "mailto:%s", ctx->contact) < 0)
                goto fail;
            (void)Leec_json_set(p, "contact", contact_list(m));
            free(m);
        }
        if (ctx->eab_kid && (rc = add_eab(ctx, p)) != LEEC_OK)
            goto fail;
        rc = LEEC_E_NOMEM;
    }
    if (!(payload = Leec_json_dump(p, false)))
        goto fail;
    rc = Leec_acme_post(ctx, ctx->dir.new_account, payload, ctx->acct_key, NULL,
                        NULL, on_new_account, ctx, &ctx->acct_req);
    if (rc != LEEC_OK)
        goto fail;
    Leec_json_free(p);
    free(payload);
    return;
fail:
    Leec_json_free(p);
    free(payload);
    account_fail(ctx, rc, "cannot start the account request", NULL);
}

/* An RSA account key comes from a worker thread (seconds of CPU). */
typedef struct acct_keygen {
    leec_ctx *ctx;
    leec_key_type type;
    leec_key *key;
    leec_code rc;
} acct_keygen;

static void keygen_run(void *arg)
{
    acct_keygen *k = arg;
    k->rc = Leec_key_generate(k->type, &k->key);
}

static void keygen_free(void *arg)
{
    acct_keygen *k = arg;
    Leec_key_free(k->key);
    free(k);
}

static void keygen_done(void *arg)
{
    acct_keygen *k = arg;
    leec_ctx *ctx = k->ctx;
    ctx->acct_keygen = NULL;
    if (k->rc != LEEC_OK) {
        account_fail(ctx, k->rc, "cannot generate the account key", NULL);
        return;
    }
    ctx->acct_key = k->key;
    k->key = NULL;
    send_new_account(ctx, false);
}

static void create_account(leec_ctx *ctx)
{
    leec_code rc;
    if (ctx->acct_key) {
        send_new_account(ctx, true);
        return;
    }
    if (ctx->dir.terms && !ctx->agree_tos) {
        char *msg = NULL;
        if (asprintf(&msg,
                     "creating an account requires agreeing to the CA's "
                     "terms of service (%s)",
                     ctx->dir.terms) < 0)
            msg = NULL;
        account_fail(ctx, LEEC_E_TOS, msg, NULL);
        free(msg);
        return;
    }
    if (Leec_key_type_is_slow(ctx->account_key_type)) {
        acct_keygen *k = calloc(1, sizeof *k);
        if (k) {
            k->ctx = ctx;
            k->type = ctx->account_key_type;
            if (Leec_job_submit(ctx, keygen_run, keygen_done, keygen_free, k,
                                &ctx->acct_keygen) == LEEC_OK)
                return; /* keygen_done goes on */
            free(k);
        }
        /* No thread to be had: generated here, as before. */
    }
    if ((rc = Leec_key_generate(ctx->account_key_type, &ctx->acct_key)) !=
        LEEC_OK) {
        account_fail(ctx, rc, "cannot start the account request", NULL);
        return;
    }
    send_new_account(ctx, false);
}

static leec_code load_saved(leec_ctx *ctx, bool *found)
{
    char *pem = NULL, *js = NULL;
    leec_json *o = NULL;
    *found = false;
    leec_code rc =
        Leec_store_account_load(ctx->store, ctx->acct_ca_id, &pem, &js);
    if (rc == LEEC_E_NOT_FOUND)
        return LEEC_OK;
    if (rc != LEEC_OK)
        goto out;
    Leec_key_free(ctx->acct_key);
    ctx->acct_key = NULL;
    if (!js) {
        /* Only the key: kept for newAccount, which finds the account. */
        if ((rc = Leec_key_load_pem(pem, strlen(pem), &ctx->acct_key)) ==
            LEEC_OK)
            Leec_log(ctx, LEEC_LOG_WARN,
                     "the saved account for %s has no account.json: asking "
                     "the CA for the account of its key",
                     ctx->acct_ca_id);
        goto out;
    }
    const char *url = NULL;
    if ((rc = Leec_json_parse_object(js, strlen(js), &o)) != LEEC_OK ||
        (rc = Leec_json_get_str(o, "url", true, &url)) != LEEC_OK ||
        !Leec_url_ok(url)) {
        rc = LEEC_E_JSON; /* said so by try_saved */
        goto out;
    }
    if ((rc = Leec_key_load_pem(pem, strlen(pem), &ctx->acct_key)) != LEEC_OK)
        goto out;
    if (!(ctx->acct_url = strdup(url))) {
        rc = LEEC_E_NOMEM;
        goto out;
    }
    *found = true;
    Leec_log(ctx, LEEC_LOG_INFO, "using the saved account %s", url);
out:
    Leec_secure_free(pem);
    free(js);
    Leec_json_free(o);
    return rc;
}

/* Looks for the saved account; true when it settled the matter (found, or
 * failed). */
static bool try_saved(leec_ctx *ctx)
{
    bool found = false;
    if (ctx->acct_skip_saved)
        return false;
    leec_code rc = load_saved(ctx, &found);
    if (rc != LEEC_OK) {
        char *msg = NULL;
        if (asprintf(&msg,
                     "the saved account for %s cannot be used: %s "
                     "(account.key.pem, account.json); restore them, or "
                     "remove that account from the store to make a new one",
                     ctx->acct_ca_id,
                     rc == LEEC_E_BAD_KEY ? "its key is missing or unusable"
                     : rc == LEEC_E_JSON  ? "its account.json is malformed"
                     : rc == LEEC_E_STORE && leec_store_errmsg(ctx->store)
                         ? leec_store_errmsg(ctx->store)
                         : leec_strerror(rc)) < 0)
            msg = NULL;
        account_fail(ctx, rc == LEEC_E_NOMEM ? rc : LEEC_E_STORE,
                     msg ? msg : "the saved account cannot be read", NULL);
        free(msg);
    } else if (found) {
        account_ready(ctx);
    }
    return rc != LEEC_OK || found;
}

#define ACCOUNT_LOCK_RETRY_MS 200

static void start_account(leec_ctx *ctx)
{
    ctx->acct_state = RES_PENDING;
    if (ctx->account_mode == LEEC_ACCOUNT_SAVED) {
        if (try_saved(ctx))
            return;
        /* None saved: one process creates it while the others wait, then
         * find it saved. */
        leec_code rc = Leec_store_lock(ctx->store, "account", ctx->acct_ca_id,
                                       &ctx->acct_lock);
        int64_t now = Leec_now_ms(ctx);
        if (rc == LEEC_E_LOCKED) {
            if (ctx->acct_lock_since < 0)
                ctx->acct_lock_since = now;
            if (now - ctx->acct_lock_since <
                (int64_t)ctx->lock_timeout_s * 1000) {
                ctx->acct_retry_at = now + ACCOUNT_LOCK_RETRY_MS;
                return;
            }
            char *who =
                Leec_store_holder_text(ctx->store, "account", ctx->acct_ca_id);
            char *msg = NULL;
            if (asprintf(&msg,
                         "another process (%s) holds the account's lock; gave "
                         "up waiting after %u s",
                         who ? who : "?", ctx->lock_timeout_s) < 0)
                msg = NULL;
            account_fail(ctx, LEEC_E_LOCKED, msg, NULL);
            free(msg);
            free(who);
            return;
        }
        ctx->acct_lock_since = -1;
        if (rc != LEEC_OK) {
            account_fail(ctx, rc, "cannot lock the account in the store", NULL);
            return;
        }
        if (try_saved(ctx))
            return;
    }
    create_account(ctx);
}

void Leec_account_on_timer(leec_ctx *ctx)
{
    ctx->acct_retry_at = -1;
    if (ctx->acct_state == RES_PENDING && !ctx->acct_req)
        start_account(ctx);
}

static void on_directory(void *ud, leec_acme_resp *r)
{
    leec_ctx *ctx = ud;
    char *why = NULL;
    ctx->dir_req = NULL;
    if (r->err != LEEC_OK) {
        ctx->dir_state = RES_FAILED;
        account_fail(ctx, r->err, r->errmsg, NULL);
        return;
    }
    if (r->status != 200 || !r->json) {
        ctx->dir_state = RES_FAILED;
        char *msg = NULL;
        if (asprintf(&msg, "directory %s: HTTP %ld, not an ACME directory",
                     ctx->server, r->status) < 0)
            msg = NULL;
        leec_problem *p = r->problem;
        r->problem = NULL;
        account_fail(ctx, LEEC_E_PROTOCOL, msg, p);
        free(msg);
        return;
    }
    leec_code rc = Leec_directory_parse(r->json, &ctx->dir, &why);
    if (rc != LEEC_OK) {
        ctx->dir_state = RES_FAILED;
        account_fail(ctx, rc, why, NULL);
        free(why);
        return;
    }
    ctx->dir_state = RES_READY;
    if (ctx->acct_state == RES_PENDING)
        start_account(ctx);
    /* Agents looking for renewal information need only the directory
     * (agents waiting for the account find it still pending); revocations
     * waiting for it look at dir_state from perform. */
    wake_agents(ctx);
}

static void fetch_directory(leec_ctx *ctx)
{
    ctx->dir_state = RES_PENDING;
    Leec_log(ctx, LEEC_LOG_DEBUG, "fetching directory %s", ctx->server);
    leec_code rc =
        Leec_acme_get(ctx, ctx->server, on_directory, ctx, &ctx->dir_req);
    if (rc != LEEC_OK) {
        ctx->dir_state = RES_FAILED;
        account_fail(ctx, rc, "cannot request the directory", NULL);
    }
}

void Leec_directory_ensure(leec_ctx *ctx)
{
    if (ctx->dir_state == RES_NONE && ctx->acct_state == RES_NONE)
        fetch_directory(ctx);
}

void Leec_account_ensure(leec_ctx *ctx)
{
    if (ctx->acct_state != RES_NONE)
        return;
    ctx->acct_state = RES_PENDING;
    if (!ctx->acct_ca_id && !(ctx->acct_ca_id = Leec_ca_id(ctx->server))) {
        account_fail(ctx, LEEC_E_INVALID_ARG,
                     "cannot derive a store id from the server URL", NULL);
        return;
    }
    if (ctx->dir_state == RES_READY) {
        start_account(ctx);
        return;
    }
    if (ctx->dir_state == RES_PENDING)
        return; /* fetched for a revocation: on_directory goes on */
    fetch_directory(ctx);
}

void Leec_account_forget(leec_ctx *ctx, unsigned gen)
{
    if (gen != ctx->acct_gen || ctx->acct_state != RES_READY)
        return; /* another agent already did it */
    Leec_log(ctx, LEEC_LOG_WARN,
             "the CA no longer knows account %s; creating a new one",
             ctx->acct_url);
    Leec_key_free(ctx->acct_key);
    ctx->acct_key = NULL;
    free(ctx->acct_url);
    ctx->acct_url = NULL;
    ctx->acct_state = RES_NONE;
    /* The saved account is replaced when the new one is created. */
    ctx->acct_skip_saved = true;
}

leec_code Leec_account_error(leec_ctx *ctx, leec_problem **problem)
{
    leec_code rc = ctx->acct_err != LEEC_OK ? ctx->acct_err : LEEC_E_STATE;
    *problem = NULL;
    if (ctx->acct_problem && !(*problem = Leec_problem_dup(ctx->acct_problem)))
        rc = LEEC_E_NOMEM;
    return rc;
}

void Leec_account_clear(leec_ctx *ctx)
{
    Leec_job_cancel(ctx, ctx->acct_keygen);
    ctx->acct_keygen = NULL;
    unlock_account(ctx);
    ctx->acct_retry_at = -1;
    ctx->acct_lock_since = -1;
    Leec_acme_cancel(ctx, ctx->dir_req);
    Leec_acme_cancel(ctx, ctx->acct_req);
    ctx->dir_req = ctx->acct_req = NULL;
    Leec_directory_clear(&ctx->dir);
    Leec_key_free(ctx->acct_key);
    ctx->acct_key = NULL;
    free(ctx->acct_url);
    free(ctx->acct_ca_id);
    free(ctx->acct_errmsg);
    Leec_problem_free(ctx->acct_problem);
    ctx->acct_url = ctx->acct_ca_id = ctx->acct_errmsg = NULL;
    ctx->acct_problem = NULL;
    ctx->acct_state = RES_NONE;
    ctx->dir_state = RES_NONE;
}
