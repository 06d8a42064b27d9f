/* The context's shared resources: the CA's directory and the account. The
 * first agent that needs them starts the requests; every agent waiting is
 * woken when they resolve, successfully or not. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/b64url.h"
#include "engine/internal.h"
#include "crypto/jws.h"
#include "util/json.h"
#include "acme/account.h"
#include "acme/problem.h"
#include "store/store.h"
#include "engine/workers.h"

/* The CA session: the directory, the account and what it is made with.
 * Private to this file (the others use the accessors of internal.h). */
typedef struct leec_session leec_session;
struct leec_session {
    leec_account_mode account_mode;
    char *contact;
    bool agree_tos;
    leec_key_type account_key_type;
    char *eab_kid;          /* External Account Binding, or NULL */
    unsigned char *eab_key; /* its MAC key (secret, wiped on free) */
    size_t eab_keylen;
    bool acct_created; /* the account was created by this ctx */
    bool acct_lookup;  /* newAccount looks up the saved key's account */
    bool acct_pending; /* the saved key is one whose newAccount may not have
                          reached the CA (saved before it was sent) */

    /* The directory and the account are shared by every agent: the first
     * agent that needs them starts their resolution, the others wait. */
    leec_res_state dir_state;
    leec_directory dir;
    leec_acme_req *dir_req;
    leec_res_state acct_state;
    unsigned acct_gen;    /* bumped each time an account becomes ready */
    bool acct_skip_saved; /* the saved account is gone at the CA */
    leec_key *acct_key;
    /* Keys replaced while requests signed with them may still be queued
     * (a request borrows the key and signs when it is sent, again after a
     * badNonce): freed with the session, never before. One per account
     * lost or deactivated: a handful at most. */
    leec_key **retired;
    size_t nretired;
    char *acct_url;
    char *acct_ca_id;
    leec_acme_req *acct_req;
    struct leec_job *acct_keygen; /* a new account's key, on a worker */
    int64_t acct_retry_at;   /* -1, or when to try the account lock again */
    int64_t acct_lock_since; /* waiting for the account lock since (ms) */
    void *acct_lock;
    leec_code acct_err;
    char *acct_errmsg;
    leec_problem *acct_problem;
};

/* Takes the session's key out of use without freeing it (see retired);
 * freed at once when it cannot be kept (out of memory, which the requests
 * signed with it then risk: never seen in practice). */
static void retire_key(leec_session *ss)
{
    if (!ss->acct_key)
        return;
    leec_key **v = realloc(ss->retired, (ss->nretired + 1) * sizeof *v);
    if (v) {
        ss->retired = v;
        v[ss->nretired++] = ss->acct_key;
    } else {
        Leec_key_free(ss->acct_key);
    }
    ss->acct_key = NULL;
}

/* The agents waiting look again from perform, each in its own driver:
 * never from inside another agent's step. */
static void wake_agents(leec_ctx *ctx)
{
    Leec_ctx_wake_agents(ctx);
}

static void unlock_account(leec_ctx *ctx)
{
    leec_session *ss = Leec_ctx_session(ctx);
    if (ss->acct_lock) {
        Leec_store_unlock(leec_ctx_get_store(ctx), ss->acct_lock);
        ss->acct_lock = NULL;
    }
}

static void account_fail(leec_ctx *ctx, leec_code err, const char *msg,
                         leec_problem *problem)
{
    leec_session *ss = Leec_ctx_session(ctx);
    unlock_account(ctx);
    ss->acct_state = RES_FAILED;
    ss->acct_err = err;
    free(ss->acct_errmsg);
    ss->acct_errmsg = strdup(msg ? msg : leec_strerror(err));
    Leec_problem_free(ss->acct_problem);
    ss->acct_problem = problem;
    /* INFO: each agent waiting for the account fails with this message,
     * and reports it through the API (operations, which have no message,
     * log it themselves): at ERROR it would be said twice. */
    Leec_log(ctx, LEEC_LOG_INFO, "account: %s%s%s", ss->acct_errmsg,
             problem && problem->detail ? ": " : "",
             problem && problem->detail ? problem->detail : "");
    wake_agents(ctx);
}

static void account_ready(leec_ctx *ctx)
{
    leec_session *ss = Leec_ctx_session(ctx);
    unlock_account(ctx);
    ss->acct_state = RES_READY;
    ss->acct_gen++;
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
    leec_session *ss = Leec_ctx_session(ctx);
    leec_json *o = Leec_json_new_object();
    if (!Leec_json_set_str(o, "url", ss->acct_url) ||
        !Leec_json_set_str(o, "directory", Leec_ctx_server(ctx))) {
        Leec_json_free(o);
        return NULL;
    }
    if (ss->contact) {
        char *m = NULL;
        if (asprintf(&m, "mailto:%s", ss->contact) >= 0) {
            (void)Leec_json_set(o, "contact", contact_list(m));
            free(m);
        }
    }
    char *s = Leec_json_dump(o, true);
    Leec_json_free(o);
    return s;
}

/* Saves the account key with the document js (NULL: out of memory). */
static leec_code save_with(leec_ctx *ctx, const char *js)
{
    leec_session *ss = Leec_ctx_session(ctx);
    char *pem = NULL;
    leec_code rc = js ? Leec_key_to_pem(ss->acct_key, &pem) : LEEC_E_NOMEM;
    if (rc == LEEC_OK)
        rc = Leec_store_account_save(leec_ctx_get_store(ctx), ss->acct_ca_id,
                                     pem, js);
    Leec_secure_free(pem);
    return rc;
}

leec_code Leec_account_save(leec_ctx *ctx)
{
    char *js = account_json(ctx);
    leec_code rc = save_with(ctx, js);
    free(js);
    return rc;
}

static void send_new_account(leec_ctx *ctx, bool lookup);

static void on_new_account(void *ud, leec_acme_resp *r)
{
    leec_ctx *ctx = ud;
    leec_session *ss = Leec_ctx_session(ctx);
    ss->acct_req = NULL;
    if (r->err != LEEC_OK) {
        account_fail(ctx, r->err, r->errmsg, NULL);
        return;
    }
    if (r->status != 201 && r->status != 200 && ss->acct_lookup &&
        ss->acct_pending &&
        Leec_problem_is(r->problem, "accountDoesNotExist")) {
        /* The key was saved before its newAccount was sent, and that
         * request never made an account (the process died first): the
         * key has no account, so one is made with it now. */
        Leec_log(ctx, LEEC_LOG_INFO,
                 "the saved key for %s has no account at the CA (its "
                 "newAccount was interrupted): creating it",
                 ss->acct_ca_id);
        send_new_account(ctx, false);
        return;
    }
    if (r->status != 201 && r->status != 200) {
        leec_problem *p = r->problem;
        r->problem = NULL;
        if (!ss->acct_lookup && ss->acct_pending) {
            /* Refused: the CA made no account, so its key saved before
             * the request goes (a later run starts afresh). */
            (void)Leec_store_account_remove(leec_ctx_get_store(ctx),
                                            ss->acct_ca_id);
            ss->acct_pending = false;
        }
        account_fail(ctx, LEEC_E_ACME,
                     ss->acct_lookup
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
    if (!(ss->acct_url = strdup(r->location))) {
        account_fail(ctx, LEEC_E_NOMEM, NULL, NULL);
        return;
    }
    ss->acct_created = r->status == 201;
    ss->acct_pending = false; /* account.json with its URL is saved below */
    Leec_log(ctx, LEEC_LOG_INFO, "account %s: %s",
             ss->acct_created ? "created" : "found", ss->acct_url);
    if (ss->account_mode == LEEC_ACCOUNT_SAVED) {
        leec_code rc = Leec_account_save(ctx);
        if (rc != LEEC_OK) {
            account_fail(ctx, rc, "cannot save the account in the store", NULL);
            return;
        }
    }
    account_ready(ctx);
}

/* RFC 8555 §7.3.4: the externalAccountBinding member, an HS256 JWS over
 * the new account's public JWK. */
static leec_code add_eab(leec_ctx *ctx, const leec_key *key, leec_json *payload)
{
    leec_session *ss = Leec_ctx_session(ctx);
    char *jwk = NULL, *jws = NULL;
    leec_json *o = NULL;
    leec_code rc = Leec_key_jwk_json(key, &jwk);
    if (rc == LEEC_OK)
        rc = Leec_jws_sign_hmac(ss->eab_key, ss->eab_keylen, ss->eab_kid,
                                ss->dir.new_account, jwk, &jws);
    if (rc == LEEC_OK) {
        (void)Leec_json_parse_object(jws, strlen(jws), &o);
        rc = Leec_json_set(payload, "externalAccountBinding", o) ? LEEC_OK
                                                                 : LEEC_E_NOMEM;
    }
    if (rc == LEEC_OK)
        Leec_log(ctx, LEEC_LOG_DEBUG,
                 "newAccount with external account "
                 "binding (kid %s)",
                 ss->eab_kid);
    free(jwk);
    free(jws);
    return rc;
}

/* Saves a new account's key before its newAccount is sent, with an
 * account.json that has no URL yet ("pending"): a process killed between
 * the CA's answer and the save would otherwise lose the key of an account
 * the CA made, and the next run would make a second one. The next run
 * asks the CA for the account of a pending key (and makes it with that
 * key when there is none). */
static leec_code save_pending(leec_ctx *ctx)
{
    leec_session *ss = Leec_ctx_session(ctx);
    leec_json *o = Leec_json_new_object();
    char *js = NULL;
    if (Leec_json_set_str(o, "directory", Leec_ctx_server(ctx)) &&
        Leec_json_set_bool(o, "pending", true))
        js = Leec_json_dump(o, true);
    leec_code rc = save_with(ctx, js);
    if (rc == LEEC_OK)
        ss->acct_pending = true;
    free(js);
    Leec_json_free(o);
    return rc;
}

/* The newAccount payload of a new account with key: the terms agreed,
 * the contact, External Account Binding. */
static leec_code new_account_payload(leec_ctx *ctx, const leec_key *key,
                                     leec_json **out)
{
    leec_session *ss = Leec_ctx_session(ctx);
    leec_code rc = LEEC_E_NOMEM;
    leec_json *p = Leec_json_new_object();
    *out = NULL;
    if (!p)
        return rc;
    if (ss->agree_tos)
        (void)Leec_json_set_bool(p, "termsOfServiceAgreed", true);
    if (ss->contact) {
        char *m = NULL;
        if (asprintf(&m, "mailto:%s", ss->contact) < 0)
            goto fail;
        (void)Leec_json_set(p, "contact", contact_list(m));
        free(m);
    }
    if (ss->eab_kid && (rc = add_eab(ctx, key, p)) != LEEC_OK)
        goto fail;
    *out = p;
    return LEEC_OK;
fail:
    Leec_json_free(p);
    return rc;
}

leec_code Leec_account_new_payload(leec_ctx *ctx, const leec_key *key,
                                   char **payload, const char **why)
{
    leec_session *ss = Leec_ctx_session(ctx);
    leec_json *p = NULL;
    *payload = NULL;
    *why = NULL;
    if (ss->dir.terms && !ss->agree_tos) {
        *why = "creating an account requires agreeing to the CA's terms of "
               "service";
        return LEEC_E_TOS;
    }
    leec_code rc = new_account_payload(ctx, key, &p);
    if (rc == LEEC_OK && !(*payload = Leec_json_dump(p, false)))
        rc = LEEC_E_NOMEM;
    Leec_json_free(p);
    return rc;
}

/* newAccount with ss->acct_key: a lookup of the saved key's account
 * (RFC 8555 §7.3.1: its account.json was lost, never a new one made with
 * it), or a new account. */
static void send_new_account(leec_ctx *ctx, bool lookup)
{
    leec_session *ss = Leec_ctx_session(ctx);
    leec_code rc = LEEC_E_NOMEM;
    leec_json *p = NULL;
    char *payload = NULL;
    ss->acct_lookup = lookup;
    if (lookup) {
        if (!(p = Leec_json_new_object()) ||
            !Leec_json_set_bool(p, "onlyReturnExisting", true))
            goto fail;
    } else {
        if ((rc = new_account_payload(ctx, ss->acct_key, &p)) != LEEC_OK)
            goto fail;
        rc = LEEC_E_NOMEM;
    }
    if (!(payload = Leec_json_dump(p, false)))
        goto fail;
    if (!lookup && ss->account_mode == LEEC_ACCOUNT_SAVED &&
        !ss->acct_pending && (rc = save_pending(ctx)) != LEEC_OK) {
        Leec_json_free(p);
        free(payload);
        account_fail(ctx, rc, "cannot save the account key in the store", NULL);
        return;
    }
    rc = Leec_acme_post(ctx, LEEC_EP_NEW_ACCOUNT, ss->dir.new_account, payload,
                        ss->acct_key, NULL, NULL, on_new_account, ctx,
                        &ss->acct_req);
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
static void keygen_done(void *ud, leec_code rc, leec_key *key)
{
    leec_ctx *ctx = ud;
    leec_session *ss = Leec_ctx_session(ctx);
    ss->acct_keygen = NULL;
    if (rc != LEEC_OK) {
        account_fail(ctx, rc, "cannot generate the account key", NULL);
        return;
    }
    ss->acct_key = key;
    send_new_account(ctx, false);
}

static void create_account(leec_ctx *ctx)
{
    leec_session *ss = Leec_ctx_session(ctx);
    leec_code rc;
    if (ss->acct_key) {
        send_new_account(ctx, true);
        return;
    }
    if (ss->dir.terms && !ss->agree_tos) {
        char *msg = NULL;
        if (asprintf(&msg,
                     "creating an account requires agreeing to the CA's "
                     "terms of service (%s)",
                     ss->dir.terms) < 0)
            msg = NULL;
        account_fail(ctx, LEEC_E_TOS, msg, NULL);
        free(msg);
        return;
    }
    if (Leec_key_type_is_slow(ss->account_key_type) &&
        Leec_key_job(ctx, ss->account_key_type, keygen_done, ctx,
                     &ss->acct_keygen) == LEEC_OK)
        return; /* keygen_done goes on */
    /* Fast, or no thread to be had: generated here. */
    if ((rc = Leec_key_generate(ss->account_key_type, &ss->acct_key)) !=
        LEEC_OK) {
        account_fail(ctx, rc, "cannot start the account request", NULL);
        return;
    }
    send_new_account(ctx, false);
}

static leec_code load_saved(leec_ctx *ctx, bool *found)
{
    leec_session *ss = Leec_ctx_session(ctx);
    char *pem = NULL, *js = NULL;
    leec_json *o = NULL;
    *found = false;
    leec_code rc = Leec_store_account_load(leec_ctx_get_store(ctx),
                                           ss->acct_ca_id, &pem, &js);
    if (rc == LEEC_E_NOT_FOUND)
        return LEEC_OK;
    if (rc != LEEC_OK)
        goto out;
    retire_key(ss);
    if (!js) {
        /* Only the key: kept for newAccount, which finds the account. */
        if ((rc = Leec_key_load_pem(pem, strlen(pem), &ss->acct_key)) ==
            LEEC_OK)
            Leec_log(ctx, LEEC_LOG_WARN,
                     "the saved account for %s has no account.json: asking "
                     "the CA for the account of its key",
                     ss->acct_ca_id);
        goto out;
    }
    const char *url = NULL;
    if ((rc = Leec_json_parse_object(js, strlen(js), &o)) == LEEC_OK &&
        Leec_json_bool(o, "pending") == 1 && !Leec_json_str(o, "url")) {
        /* A key saved before its newAccount: newAccount finds its account,
         * or makes it (on_new_account). */
        if ((rc = Leec_key_load_pem(pem, strlen(pem), &ss->acct_key)) ==
            LEEC_OK) {
            ss->acct_pending = true;
            Leec_log(ctx, LEEC_LOG_INFO,
                     "the saved account key for %s was saved before its "
                     "newAccount: asking the CA for its account",
                     ss->acct_ca_id);
        }
        goto out;
    }
    if (rc != LEEC_OK ||
        (rc = Leec_json_get_str(o, "url", true, &url)) != LEEC_OK ||
        !Leec_url_ok(url)) {
        rc = LEEC_E_JSON; /* said so by try_saved */
        goto out;
    }
    if ((rc = Leec_key_load_pem(pem, strlen(pem), &ss->acct_key)) != LEEC_OK)
        goto out;
    if (!(ss->acct_url = strdup(url))) {
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
    leec_session *ss = Leec_ctx_session(ctx);
    bool found = false;
    if (ss->acct_skip_saved)
        return false;
    leec_code rc = load_saved(ctx, &found);
    if (rc != LEEC_OK) {
        char *msg = NULL;
        if (asprintf(&msg,
                     "the saved account for %s cannot be used: %s "
                     "(account.key.pem, account.json); restore them, or "
                     "remove that account from the store to make a new one",
                     ss->acct_ca_id,
                     rc == LEEC_E_BAD_KEY ? "its key is missing or unusable"
                     : rc == LEEC_E_JSON  ? "its account.json is malformed"
                     : rc == LEEC_E_STORE &&
                             leec_store_errmsg(leec_ctx_get_store(ctx))
                         ? leec_store_errmsg(leec_ctx_get_store(ctx))
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
    leec_session *ss = Leec_ctx_session(ctx);
    ss->acct_state = RES_PENDING;
    if (ss->account_mode == LEEC_ACCOUNT_SAVED) {
        if (try_saved(ctx))
            return;
        /* None saved: one process creates it while the others wait, then
         * find it saved. */
        leec_code rc = Leec_store_lock(leec_ctx_get_store(ctx), "account",
                                       ss->acct_ca_id, &ss->acct_lock);
        int64_t now = Leec_now_ms(ctx);
        if (rc == LEEC_E_LOCKED) {
            if (ss->acct_lock_since < 0)
                ss->acct_lock_since = now;
            if (now - ss->acct_lock_since <
                (int64_t)Leec_ctx_lock_timeout_s(ctx) * 1000) {
                ss->acct_retry_at = now + ACCOUNT_LOCK_RETRY_MS;
                return;
            }
            char *who = Leec_store_holder_text(leec_ctx_get_store(ctx),
                                               "account", ss->acct_ca_id);
            char *msg = NULL;
            if (asprintf(&msg,
                         "another process (%s) holds the account's lock; gave "
                         "up waiting after %u s",
                         who ? who : "?", Leec_ctx_lock_timeout_s(ctx)) < 0)
                msg = NULL;
            account_fail(ctx, LEEC_E_LOCKED, msg, NULL);
            free(msg);
            free(who);
            return;
        }
        ss->acct_lock_since = -1;
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
    leec_session *ss = Leec_ctx_session(ctx);
    ss->acct_retry_at = -1;
    if (ss->acct_state == RES_PENDING && !ss->acct_req)
        start_account(ctx);
}

static void on_directory(void *ud, leec_acme_resp *r)
{
    leec_ctx *ctx = ud;
    leec_session *ss = Leec_ctx_session(ctx);
    char *why = NULL;
    ss->dir_req = NULL;
    if (r->err != LEEC_OK) {
        ss->dir_state = RES_FAILED;
        account_fail(ctx, r->err, r->errmsg, NULL);
        return;
    }
    if (r->status != 200 || !r->json) {
        ss->dir_state = RES_FAILED;
        char *msg = NULL;
        if (asprintf(&msg, "directory %s: HTTP %ld, not an ACME directory",
                     Leec_ctx_server(ctx), r->status) < 0)
            msg = NULL;
        leec_problem *p = r->problem;
        r->problem = NULL;
        account_fail(ctx, LEEC_E_PROTOCOL, msg, p);
        free(msg);
        return;
    }
    leec_code rc = Leec_directory_parse(r->json, &ss->dir, &why);
    if (rc != LEEC_OK) {
        ss->dir_state = RES_FAILED;
        account_fail(ctx, rc, why, NULL);
        free(why);
        return;
    }
    ss->dir_state = RES_READY;
    Leec_acme_set_nonce_url(ctx, ss->dir.new_nonce);
    if (ss->acct_state == RES_PENDING)
        start_account(ctx);
    /* Agents looking for renewal information need only the directory
     * (agents waiting for the account find it still pending); revocations
     * waiting for it look at dir_state from perform. */
    wake_agents(ctx);
}

static void fetch_directory(leec_ctx *ctx)
{
    leec_session *ss = Leec_ctx_session(ctx);
    ss->dir_state = RES_PENDING;
    Leec_log(ctx, LEEC_LOG_DEBUG, "fetching directory %s",
             Leec_ctx_server(ctx));
    leec_code rc = Leec_acme_get(ctx, LEEC_EP_DIRECTORY, Leec_ctx_server(ctx),
                                 on_directory, ctx, &ss->dir_req);
    if (rc != LEEC_OK) {
        ss->dir_state = RES_FAILED;
        account_fail(ctx, rc, "cannot request the directory", NULL);
    }
}

void Leec_directory_ensure(leec_ctx *ctx)
{
    leec_session *ss = Leec_ctx_session(ctx);
    /* Agents with accounts of their own journal their orders under it. */
    if (!ss->acct_ca_id)
        ss->acct_ca_id = Leec_ca_id(Leec_ctx_server(ctx));
    if (ss->dir_state == RES_NONE && ss->acct_state == RES_NONE)
        fetch_directory(ctx);
}

void Leec_account_ensure(leec_ctx *ctx)
{
    leec_session *ss = Leec_ctx_session(ctx);
    if (ss->acct_state != RES_NONE)
        return;
    ss->acct_state = RES_PENDING;
    if (!ss->acct_ca_id &&
        !(ss->acct_ca_id = Leec_ca_id(Leec_ctx_server(ctx)))) {
        account_fail(ctx, LEEC_E_INVALID_ARG,
                     "cannot derive a store id from the server URL", NULL);
        return;
    }
    if (ss->dir_state == RES_READY) {
        start_account(ctx);
        return;
    }
    if (ss->dir_state == RES_PENDING)
        return; /* fetched for a revocation: on_directory goes on */
    fetch_directory(ctx);
}

void Leec_account_forget(leec_ctx *ctx, unsigned gen)
{
    leec_session *ss = Leec_ctx_session(ctx);
    if (gen != ss->acct_gen || ss->acct_state != RES_READY)
        return; /* another agent already did it */
    Leec_log(ctx, LEEC_LOG_WARN,
             "the CA no longer knows account %s; creating a new one",
             ss->acct_url);
    /* Other agents' requests signed with it may be queued still. */
    retire_key(ss);
    free(ss->acct_url);
    ss->acct_url = NULL;
    ss->acct_state = RES_NONE;
    /* The saved account is replaced when the new one is created. */
    ss->acct_skip_saved = true;
}

leec_code Leec_account_error(leec_ctx *ctx, leec_problem **problem)
{
    leec_session *ss = Leec_ctx_session(ctx);
    leec_code rc = ss->acct_err != LEEC_OK ? ss->acct_err : LEEC_E_STATE;
    *problem = NULL;
    if (ss->acct_problem && !(*problem = Leec_problem_dup(ss->acct_problem)))
        rc = LEEC_E_NOMEM;
    return rc;
}

void Leec_account_clear(leec_ctx *ctx)
{
    leec_session *ss = Leec_ctx_session(ctx);
    Leec_job_cancel(ctx, ss->acct_keygen);
    ss->acct_keygen = NULL;
    unlock_account(ctx);
    ss->acct_retry_at = -1;
    ss->acct_lock_since = -1;
    Leec_acme_cancel(ctx, ss->dir_req);
    Leec_acme_cancel(ctx, ss->acct_req);
    ss->dir_req = ss->acct_req = NULL;
    Leec_acme_set_nonce_url(ctx, NULL);
    Leec_directory_clear(&ss->dir);
    Leec_key_free(ss->acct_key);
    ss->acct_key = NULL;
    for (size_t i = 0; i < ss->nretired; i++)
        Leec_key_free(ss->retired[i]);
    free(ss->retired);
    ss->retired = NULL;
    ss->nretired = 0;
    free(ss->acct_url);
    free(ss->acct_ca_id);
    free(ss->acct_errmsg);
    Leec_problem_free(ss->acct_problem);
    ss->acct_url = ss->acct_ca_id = ss->acct_errmsg = NULL;
    ss->acct_problem = NULL;
    ss->acct_state = RES_NONE;
    ss->dir_state = RES_NONE;
}

/* The context forgets its account (deactivated): the next use loads or
 * creates another. */
void Leec_account_drop(leec_ctx *ctx)
{
    leec_session *ss = Leec_ctx_session(ctx);
    retire_key(ss);
    free(ss->acct_url);
    ss->acct_url = NULL;
    ss->acct_state = RES_NONE;
    ss->acct_skip_saved = false;
}

/* ------------------------------------------------------------------ */
/* External Account Binding                                            */
/* ------------------------------------------------------------------ */

void Leec_eab_clear(leec_ctx *ctx)
{
    leec_session *ss = Leec_ctx_session(ctx);
    if (ss->eab_key) {
        explicit_bzero(ss->eab_key, ss->eab_keylen);
        free(ss->eab_key);
    }
    free(ss->eab_kid);
    ss->eab_key = NULL;
    ss->eab_keylen = 0;
    ss->eab_kid = NULL;
}

leec_code leec_ctx_set_eab(leec_ctx *ctx, const char *kid,
                           const char *hmac_key_b64url)
{
    unsigned char *key = NULL;
    size_t keylen = 0;
    char *k = NULL;
    if (!ctx)
        return LEEC_E_INVALID_ARG;
    leec_session *ss = Leec_ctx_session(ctx);
    if (!kid) {
        Leec_eab_clear(ctx);
        return LEEC_OK;
    }
    if (!*kid || strlen(kid) > 1024 || !hmac_key_b64url || !*hmac_key_b64url)
        return LEEC_E_INVALID_ARG;
    for (const char *p = kid; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return LEEC_E_INVALID_ARG;
    leec_code rc = Leec_b64url_decode(hmac_key_b64url, strlen(hmac_key_b64url),
                                      &key, &keylen);
    if (rc != LEEC_OK)
        return rc;
    if (!keylen || !(k = strdup(kid))) {
        explicit_bzero(key, keylen);
        free(key);
        return keylen ? LEEC_E_NOMEM : LEEC_E_INVALID_ARG;
    }
    Leec_eab_clear(ctx);
    ss->eab_kid = k;
    ss->eab_key = key;
    ss->eab_keylen = keylen;
    return LEEC_OK;
}

/* ------------------------------------------------------------------ */
/* Settings                                                            */
/* ------------------------------------------------------------------ */

void leec_ctx_set_account_mode(leec_ctx *ctx, leec_account_mode mode)
{
    leec_session *ss = Leec_ctx_session(ctx);
    ss->account_mode = mode;
}

leec_code leec_ctx_set_contact(leec_ctx *ctx, const char *email)
{
    leec_session *ss = Leec_ctx_session(ctx);
    char *s = NULL;
    if (email) {
        const char *at = strchr(email, '@');
        if (!at || at == email || !at[1] || strlen(email) > 254)
            return LEEC_E_INVALID_ARG;
        for (const char *p = email; *p; p++)
            if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == ',' ||
                *p == '<' || *p == '>')
                return LEEC_E_INVALID_ARG;
        if (!(s = strdup(email)))
            return LEEC_E_NOMEM;
    }
    free(ss->contact);
    ss->contact = s;
    return LEEC_OK;
}

void leec_ctx_set_agree_tos(leec_ctx *ctx, bool agree)
{
    leec_session *ss = Leec_ctx_session(ctx);
    ss->agree_tos = agree;
}

const char *leec_ctx_terms_url(leec_ctx *ctx)
{
    leec_session *ss = Leec_ctx_session(ctx);
    return ss->dir.terms;
}

void leec_ctx_set_account_key_type(leec_ctx *ctx, leec_key_type type)
{
    leec_session *ss = Leec_ctx_session(ctx);
    ss->account_key_type = type;
}

/* ------------------------------------------------------------------ */
/* The object and what the other files read of it                      */
/* ------------------------------------------------------------------ */

leec_code Leec_session_attach(leec_ctx *ctx)
{
    leec_session *ss = calloc(1, sizeof *ss);
    if (!ss)
        return LEEC_E_NOMEM;
    ss->account_key_type = LEEC_KEY_EC256;
    ss->acct_retry_at = -1;
    ss->acct_lock_since = -1;
    Leec_ctx_set_session(ctx, ss);
    return LEEC_OK;
}

void Leec_session_detach(leec_ctx *ctx)
{
    leec_session *ss = Leec_ctx_session(ctx);
    if (!ss)
        return;
    Leec_eab_clear(ctx);
    Leec_account_clear(ctx);
    free(ss->contact);
    free(ss);
    Leec_ctx_set_session(ctx, NULL);
}

const leec_directory *Leec_session_dir(const leec_ctx *ctx)
{
    return &Leec_ctx_session(ctx)->dir;
}

leec_res_state Leec_dir_state(const leec_ctx *ctx)
{
    return Leec_ctx_session(ctx)->dir_state;
}

leec_res_state Leec_account_state(const leec_ctx *ctx)
{
    return Leec_ctx_session(ctx)->acct_state;
}

unsigned Leec_account_gen(const leec_ctx *ctx)
{
    return Leec_ctx_session(ctx)->acct_gen;
}

leec_key *Leec_account_key(const leec_ctx *ctx)
{
    return Leec_ctx_session(ctx)->acct_key;
}

const char *Leec_account_url(const leec_ctx *ctx)
{
    return Leec_ctx_session(ctx)->acct_url;
}

const char *Leec_account_ca_id(const leec_ctx *ctx)
{
    return Leec_ctx_session(ctx)->acct_ca_id;
}

const char *Leec_account_errmsg(const leec_ctx *ctx)
{
    return Leec_ctx_session(ctx)->acct_errmsg;
}

bool Leec_account_created(const leec_ctx *ctx)
{
    return Leec_ctx_session(ctx)->acct_created;
}

bool Leec_account_skip_saved(const leec_ctx *ctx)
{
    return Leec_ctx_session(ctx)->acct_skip_saved;
}

int64_t Leec_account_retry_at(const leec_ctx *ctx)
{
    return Leec_ctx_session(ctx)->acct_retry_at;
}

leec_account_mode Leec_account_mode(const leec_ctx *ctx)
{
    return Leec_ctx_session(ctx)->account_mode;
}

leec_key_type Leec_account_key_type(const leec_ctx *ctx)
{
    return Leec_ctx_session(ctx)->account_key_type;
}

leec_key *Leec_account_swap_key(leec_ctx *ctx, leec_key *key)
{
    leec_session *ss = Leec_ctx_session(ctx);
    leec_key *old = ss->acct_key;
    ss->acct_key = key;
    return old;
}

char *Leec_account_swap_contact(leec_ctx *ctx, char *contact)
{
    leec_session *ss = Leec_ctx_session(ctx);
    char *old = ss->contact;
    ss->contact = contact;
    return old;
}
