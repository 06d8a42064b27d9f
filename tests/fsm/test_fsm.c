/* The agent's state machine driven against the in-process fake CA over the
 * scripted transport: no network, no sleeping (a fake clock jumps to the
 * next deadline). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fake.h"
#include "../unit/testutil.h"
#include "crypto/jws.h"
#include "acme/directory.h"
#include "acme/problem.h"
#include "crypto/crypto.h"
#include "leec/solver.h"
#include "leec/store.h"
#include "store/store.h"
#include "util/b64url.h"

#define MAX_ITER 20000
#define MAX_REC  64

static const char *const NAMES2[] = {"example.org", "www.example.org"};
#define TOK0 "tok_0_0_AbCdEfGhIjKlMnOpQrStUvWxYz"
#define TOK1 "tok_0_1_AbCdEfGhIjKlMnOpQrStUvWxYz"

/* What the callbacks saw. */
typedef struct rec {
    leec_agent_state from[MAX_REC], to[MAX_REC];
    size_t n;
    int done;
    leec_outcome outcome;
    bool free_in_done;
    leec_agent_state free_on_state; /* free the agent when entering it */
    leec_agent_state hold_on_state; /* fake_http_hold() when entering it */
    leec_ctx *ctx;
    /* key authorizations looked up when the agent entered RESPOND */
    leec_code ka_rc[2];
    char *ka[2];
} rec;

typedef struct env {
    char *dir; /* the store, a private temporary folder */
    fake_ca *ca;
    leec_ctx *ctx;
    rec r;
} env;

static void log_fn(void *ud, leec_log_level level, const char *msg)
{
    (void)ud;
    fprintf(stderr, "leec[%d]: %s\n", (int)level, msg);
}

static leec_ctx *new_ctx(env *e)
{
    leec_ctx *ctx = leec_ctx_new();
    assert_non_null(ctx);
    assert_int_equal(leec_ctx_set_server(ctx, FAKE_CA_DIR), LEEC_OK);
    leec_code err = LEEC_E_IO;
    leec_store *st = leec_store_fs_new(e->dir, &err);
    assert_non_null(st);
    assert_int_equal(err, LEEC_OK);
    leec_ctx_set_store(ctx, st);
    Leec_ctx_set_clock(ctx, fake_clock, NULL);
    leec_ctx_set_agree_tos(ctx, true);
    if (getenv("LEEC_TEST_LOG"))
        leec_ctx_set_log(ctx, log_fn, NULL, LEEC_LOG_DEBUG);
    return ctx;
}

static int setup(void **state)
{
    env *e = calloc(1, sizeof *e);
    assert_non_null(e);
    assert_non_null(e->dir = tu_tmpdir("leec-fsm"));
    e->ca = fake_ca_new();
    fake_http_set_responder(fake_ca_respond, e->ca);
    fake_clock_set(1000000);
    e->ctx = new_ctx(e);
    e->ca->client = e->ctx;
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    leec_ctx_free(e->ctx);
    for (int i = 0; i < 2; i++)
        free(e->r.ka[i]);
    fake_ca_free(e->ca);
    fake_http_reset();
    assert_int_equal(fake_http_pending(), 0);
    tu_rmtree(e->dir);
    free(e->dir);
    free(e);
    return 0;
}

static void on_state(void *ud, leec_agent *a, leec_agent_state from,
                     leec_agent_state to)
{
    rec *r = ud;
    if (r->n < MAX_REC) {
        r->from[r->n] = from;
        r->to[r->n] = to;
        r->n++;
    }
    if (r->hold_on_state != LEEC_ST_IDLE && to == r->hold_on_state)
        fake_http_hold(true);
    if (r->free_on_state != LEEC_ST_IDLE && to == r->free_on_state) {
        leec_agent_free(a);
        return;
    }
    if (to == LEEC_ST_RESPOND && r->ctx) {
        const char *tok[2] = {TOK0, TOK1};
        for (int i = 0; i < 2; i++) {
            free(r->ka[i]);
            r->ka[i] = NULL;
            r->ka_rc[i] =
                leec_ctx_http01_key_authorization(r->ctx, tok[i], &r->ka[i]);
        }
    }
}

static void on_done(void *ud, leec_agent *a, leec_outcome outcome)
{
    rec *r = ud;
    r->done++;
    r->outcome = outcome;
    if (r->free_in_done)
        leec_agent_free(a);
}

static leec_agent *agent_new(env *e, leec_ctx *ctx, const char *const *names,
                             size_t n, rec *r)
{
    leec_code err = LEEC_E_IO;
    leec_agent *a = leec_agent_new(ctx, NULL, names, n, &err);
    assert_non_null(a);
    assert_int_equal(err, LEEC_OK);
    r->ctx = ctx;
    leec_agent_set_callbacks(a, on_state, on_done, r);
    (void)e;
    return a;
}

/* Starts an agent for NAMES2 in e->ctx and runs it to the end. */
static leec_agent *run_one(env *e)
{
    leec_agent *a = agent_new(e, e->ctx, NAMES2, 2, &e->r);
    assert_int_equal(leec_agent_start(a), LEEC_OK);
    assert_true(fake_drive(e->ctx, MAX_ITER) > 0);
    assert_int_equal(e->r.done, 1);
    return a;
}

static void assert_failed(env *e, leec_agent *a, leec_code code)
{
    if (leec_agent_get_outcome(a) != LEEC_OUTCOME_FAILED ||
        leec_agent_error(a) != code)
        fprintf(
            stderr, "outcome %d error %s: %s\n", (int)leec_agent_get_outcome(a),
            leec_strerror(leec_agent_error(a)), leec_agent_error_message(a));
    assert_int_equal(e->r.outcome, LEEC_OUTCOME_FAILED);
    assert_int_equal(leec_agent_get_outcome(a), LEEC_OUTCOME_FAILED);
    assert_int_equal(leec_agent_get_state(a), LEEC_ST_FAILED);
    assert_int_equal(leec_agent_error(a), code);
    assert_non_null(leec_agent_error_message(a));
    /* Nothing installed, no token left behind. */
    char *pem = NULL;
    assert_int_equal(
        leec_store_read_cert(leec_ctx_get_store(e->ctx), "example.org", &pem),
        LEEC_E_NOT_FOUND);
    assert_null(pem);
    assert_int_equal(Leec_ctx_tokens(e->ctx)->n, 0);
    assert_int_equal(e->ca->stats.verify_failures, 0);
}

static void assert_issued(env *e, leec_agent *a)
{
    if (leec_agent_get_outcome(a) != LEEC_OUTCOME_ISSUED)
        fprintf(
            stderr, "outcome %d error %s: %s\n", (int)leec_agent_get_outcome(a),
            leec_strerror(leec_agent_error(a)), leec_agent_error_message(a));
    assert_int_equal(leec_agent_get_outcome(a), LEEC_OUTCOME_ISSUED);
    assert_int_equal(leec_agent_get_state(a), LEEC_ST_DONE);
    assert_int_equal(e->ca->stats.verify_failures, 0);
    assert_int_equal(e->ca->stats.keyauth_failures, 0);
    assert_int_equal(Leec_ctx_tokens(e->ctx)->n, 0);
}

/* Times of the requests to one URL. */
static size_t times_of(const char *url, int64_t *t, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < fake_http_log_count() && n < max; i++)
        if (strcmp(fake_http_log(i)->url, url) == 0)
            t[n++] = fake_http_log(i)->t_ms;
    return n;
}

/* ------------------------------------------------------------------ */

static void dump_log(void)
{
    if (!getenv("LEEC_TEST_LOG"))
        return;
    for (size_t i = 0; i < fake_http_log_count(); i++) {
        const fake_log_entry *l = fake_http_log(i);
        fprintf(stderr, "%8lld %-4s %s -> %ld\n", (long long)l->t_ms, l->method,
                l->url, l->status);
    }
}

static void test_happy_path(void **state)
{
    env *e = *state;
    leec_agent *a = run_one(e);
    dump_log();
    assert_issued(e, a);

    static const leec_agent_state want[] = {
        LEEC_ST_CHECK_EXISTING, LEEC_ST_WAIT_ACCOUNT, LEEC_ST_QUEUED,
        LEEC_ST_NEW_ORDER,      LEEC_ST_FETCH_AUTHZ,  LEEC_ST_PRESENT,
        LEEC_ST_RESPOND,        LEEC_ST_AUTHZ_POLL,   LEEC_ST_FINALIZE,
        LEEC_ST_ORDER_POLL,     LEEC_ST_DOWNLOAD,     LEEC_ST_INSTALL,
        LEEC_ST_DONE,
    };
    size_t nwant = sizeof want / sizeof want[0];
    assert_int_equal(e->r.n, nwant);
    for (size_t i = 0; i < nwant; i++) {
        assert_int_equal(e->r.to[i], want[i]);
        assert_int_equal(e->r.from[i], i ? want[i - 1] : LEEC_ST_IDLE);
    }

    /* The key authorizations were served while the challenges were live
     * (the CA checked them too), and are gone now. */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(e->r.ka_rc[i], LEEC_OK);
        assert_non_null(e->r.ka[i]);
        assert_true(strncmp(e->r.ka[i], i ? TOK1 "." : TOK0 ".",
                            strlen(TOK0) + 1) == 0);
    }
    char *ka = NULL;
    assert_int_equal(leec_ctx_http01_key_authorization(e->ctx, TOK0, &ka),
                     LEEC_E_NOT_FOUND);
    assert_null(ka);

    /* dir (its Replay-Nonce fills the pool), newAccount, newOrder, 2 authz,
     * 2 challenges, 2 rounds of 2 authz polls, finalize, 2 order polls,
     * download. */
    assert_int_equal(leec_ctx_request_count(e->ctx), 15);
    assert_int_equal(fake_http_log_count(), 15);
    assert_int_equal(e->ca->stats.dir, 1);
    assert_int_equal(e->ca->stats.nonce, 0);
    assert_int_equal(e->ca->stats.new_account, 1);
    assert_int_equal(e->ca->stats.new_order, 1);
    assert_int_equal(e->ca->stats.authz_get, 6);
    assert_int_equal(e->ca->stats.chall_post, 2);
    assert_int_equal(e->ca->stats.finalize, 1);
    assert_int_equal(e->ca->stats.order_get, 2);
    assert_int_equal(e->ca->stats.cert_get, 1);
    assert_int_equal(e->ca->stats.bad_nonce_sent, 0);

    /* newAccount carries the jwk, every later request the kid. */
    for (size_t i = 0; i < fake_http_log_count(); i++) {
        const fake_log_entry *l = fake_http_log(i);
        if (strcmp(l->method, "POST") != 0)
            continue;
        assert_non_null(l->protected_);
        bool acct = strcmp(l->url, FAKE_CA_BASE "/new-acct") == 0;
        assert_true((strstr(l->protected_, "\"jwk\"") != NULL) == acct);
        assert_true((strstr(l->protected_, "\"kid\"") != NULL) == !acct);
        assert_non_null(strstr(l->protected_, "\"nonce\""));
        assert_int_not_equal(l->status, 0);
    }

    /* Without Retry-After the second poll comes quickly. */
    int64_t t[8];
    assert_int_equal(times_of(FAKE_CA_BASE "/authz/0/0", t, 8), 3);
    assert_true(t[2] - t[1] < 1000);

    /* The live certificate is the one the agent reports. */
    char *pem = NULL;
    assert_int_equal(
        leec_store_read_cert(leec_ctx_get_store(e->ctx), "example.org", &pem),
        LEEC_OK);
    assert_non_null(leec_agent_cert_pem(a));
    assert_string_equal(pem, leec_agent_cert_pem(a));
    leec_cert_info *ci = NULL;
    assert_int_equal(leec_cert_info_from_pem(pem, strlen(pem), &ci), LEEC_OK);
    assert_int_equal(ci->nnames, 2);
    assert_non_null(strstr(ci->issuer, "leec fake test CA"));
    leec_cert_info_free(ci);
    free(pem);
}

/* Other key types: RS256 account JWS, an EC P-384 certificate key. */
static void test_rsa_account_ec384_cert(void **state)
{
    env *e = *state;
    leec_ctx_set_account_key_type(e->ctx, LEEC_KEY_RSA2048);
    leec_agent *a = agent_new(e, e->ctx, NAMES2, 2, &e->r);
    assert_int_equal(leec_agent_set_key_type(a, LEEC_KEY_EC384), LEEC_OK);
    assert_int_equal(leec_agent_start(a), LEEC_OK);
    assert_true(fake_drive(e->ctx, MAX_ITER) > 0);
    assert_issued(e, a);
    assert_non_null(strstr(fake_http_log(1)->protected_, "\"RS256\""));
    leec_cert_info *ci = NULL;
    const char *pem = leec_agent_cert_pem(a);
    assert_int_equal(leec_cert_info_from_pem(pem, strlen(pem), &ci), LEEC_OK);
    assert_string_equal(ci->key_type, "EC");
    assert_int_equal(ci->key_bits, 384);
    leec_cert_info_free(ci);
}

static void test_fresh_then_force(void **state)
{
    env *e = *state;
    leec_agent *a = run_one(e);
    assert_issued(e, a);
    char *first = NULL;
    assert_int_equal(
        leec_store_read_cert(leec_ctx_get_store(e->ctx), "example.org", &first),
        LEEC_OK);

    /* A new context on the same store: the saved account, the fresh cert. */
    leec_ctx *ctx2 = new_ctx(e);
    e->ca->client = ctx2;
    rec r2;
    memset(&r2, 0, sizeof r2);
    static const char *const names[] = {"Example.ORG.", "www.example.org"};
    leec_agent *b = agent_new(e, ctx2, names, 2, &r2);
    assert_int_equal(leec_agent_start(b), LEEC_OK);
    assert_true(fake_drive(ctx2, MAX_ITER) > 0);
    assert_int_equal(r2.done, 1);
    assert_int_equal(leec_agent_get_outcome(b), LEEC_OUTCOME_FRESH);
    assert_int_equal(leec_ctx_request_count(ctx2), 0);
    assert_int_equal(e->ca->stats.new_order, 1);
    assert_string_equal(leec_agent_cert_pem(b), first);

    /* Forced: ordered again with the saved account. */
    rec r3;
    memset(&r3, 0, sizeof r3);
    leec_agent *c = agent_new(e, ctx2, NAMES2, 2, &r3);
    leec_agent_set_force(c, true);
    assert_int_equal(leec_agent_start(c), LEEC_OK);
    assert_true(fake_drive(ctx2, MAX_ITER) > 0);
    assert_int_equal(r3.done, 1);
    if (leec_agent_get_outcome(c) != LEEC_OUTCOME_ISSUED)
        fprintf(stderr, "%s\n", leec_agent_error_message(c));
    assert_int_equal(leec_agent_get_outcome(c), LEEC_OUTCOME_ISSUED);
    assert_int_equal(e->ca->stats.new_order, 2);
    assert_int_equal(e->ca->stats.new_account, 1); /* reused */
    assert_int_equal(e->ca->stats.verify_failures, 0);
    assert_int_equal(e->ca->stats.keyauth_failures, 0);
    char *second = NULL;
    assert_int_equal(
        leec_store_read_cert(leec_ctx_get_store(ctx2), "example.org", &second),
        LEEC_OK);
    assert_string_not_equal(first, second);
    assert_string_equal(second, leec_agent_cert_pem(c));
    free(first);
    free(second);
    for (int i = 0; i < 2; i++) {
        free(r2.ka[i]);
        free(r3.ka[i]);
    }
    leec_ctx_free(ctx2);
    e->ca->client = e->ctx;
}

/* Two agents of one context, for a.example and b.example, in account
 * mode; both issued, the directory fetched once. */
static void two_agents(env *e, leec_account_mode mode)
{
    static const char *const n1[] = {"a.example"};
    static const char *const n2[] = {"b.example"};
    rec r1, r2;
    memset(&r1, 0, sizeof r1);
    memset(&r2, 0, sizeof r2);
    leec_ctx_set_account_mode(e->ctx, mode);
    leec_agent *a = agent_new(e, e->ctx, n1, 1, &r1);
    leec_agent *b = agent_new(e, e->ctx, n2, 1, &r2);
    assert_int_equal(leec_agent_start(a), LEEC_OK);
    assert_int_equal(leec_agent_start(b), LEEC_OK);
    assert_true(fake_drive(e->ctx, MAX_ITER) > 0);
    assert_int_equal(leec_agent_get_outcome(a), LEEC_OUTCOME_ISSUED);
    assert_int_equal(leec_agent_get_outcome(b), LEEC_OUTCOME_ISSUED);
    assert_int_equal(e->ca->stats.dir, 1);
    assert_int_equal(e->ca->stats.new_order, 2);
    assert_int_equal(e->ca->stats.verify_failures, 0);
    assert_int_equal(e->ca->stats.keyauth_failures, 0);
    for (int i = 0; i < 2; i++) {
        free(r1.ka[i]);
        free(r2.ka[i]);
    }
}

static void test_two_agents_share_account(void **state)
{
    env *e = *state;
    two_agents(e, LEEC_ACCOUNT_SAVED);
    assert_int_equal(e->ca->stats.new_account, 1);
}

/* The CA forgets the account while four agents order with it (a CA that
 * restarted): each request signed with the old key is refused, the
 * context makes one new account and the agents that were ordering order
 * again. The old key
 * stays alive for the requests still queued with it (it was freed under
 * them once, and a daemon crashed). */
static void test_account_lost_mid_flight(void **state)
{
    env *e = *state;
    static const char *const names[4][1] = {
        {"a.example"}, {"b.example"}, {"c.example"}, {"d.example"}};
    rec r[4];
    leec_agent *a[4];
    memset(r, 0, sizeof r);
    e->ca->knobs.forget_accounts_at_order = 2;
    for (int i = 0; i < 4; i++) {
        a[i] = agent_new(e, e->ctx, names[i], 1, &r[i]);
        assert_int_equal(leec_agent_start(a[i]), LEEC_OK);
    }
    assert_true(fake_drive(e->ctx, MAX_ITER) > 0);
    /* The order made before the loss belongs to the lost account: its
     * agent fails (the next run orders again); the others are issued. */
    int issued = 0;
    for (int i = 0; i < 4; i++) {
        issued += leec_agent_get_outcome(a[i]) == LEEC_OUTCOME_ISSUED;
        if (leec_agent_get_outcome(a[i]) != LEEC_OUTCOME_ISSUED)
            fprintf(stderr, "agent %d: %s\n", i,
                    leec_agent_error_message(a[i]));
    }
    assert_int_equal(issued, 3);
    assert_int_equal(e->ca->stats.new_account, 2);
    assert_int_equal(e->ca->stats.verify_failures, 0);
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 2; k++)
            free(r[i].ka[k]);
}

/* -d ::1 alone: a store name without ':' (its eight groups, '-' between);
 * an address in another spelling is no DNS name. */
static void test_default_names(void **state)
{
    env *e = *state;
    const char *v6[] = {"::1"};
    leec_code rc = LEEC_OK;
    leec_agent *a = leec_agent_new(e->ctx, NULL, v6, 1, &rc);
    assert_non_null(a);
    assert_string_equal(leec_agent_cert_name(a), "0-0-0-0-0-0-0-1");
    leec_agent_free(a);
    const char *odd[] = {"127.000.000.001"};
    assert_null(leec_agent_new(e->ctx, NULL, odd, 1, &rc));
    assert_int_equal(rc, LEEC_E_BAD_NAME);
}

static void test_bad_nonce_retried(void **state)
{
    env *e = *state;
    e->ca->knobs.bad_nonces = 3;
    e->ca->knobs.dir_without_nonce = true; /* so a HEAD newNonce comes first */
    leec_agent *a = run_one(e);
    assert_issued(e, a);
    assert_int_equal(e->ca->stats.bad_nonce_sent, 3);
    assert_int_equal(leec_ctx_request_count(e->ctx), 16 + 3);
    /* The retries used the nonce of the badNonce answer: one HEAD only. */
    assert_int_equal(e->ca->stats.nonce, 1);
    assert_int_equal(fake_http_count("HEAD", FAKE_CA_BASE "/nonce"), 1);
    assert_string_equal(fake_http_log(1)->method, "HEAD");
    assert_int_equal(fake_http_count("POST", FAKE_CA_BASE "/new-acct"), 4);
}

/* newNonce failing (a proxy that lost the CA answers 502) is asked again
 * after a pause, in rounds: nothing was sent, the order is made once. */
static void test_new_nonce_failing(void **state)
{
    env *e = *state;
    e->ca->knobs.dir_without_nonce = true; /* so a HEAD newNonce comes first */
    e->ca->knobs.nonce_fail_count = 2;
    e->ca->knobs.nonce_fail_status = 502;
    leec_agent *a = run_one(e);
    assert_issued(e, a);
    assert_int_equal(e->ca->stats.new_order, 1);
    assert_int_equal(fake_http_count("HEAD", FAKE_CA_BASE "/nonce"), 3);
}

/* ... and after its rounds, the certificate fails with what the CA said,
 * no order made. */
static void test_new_nonce_failing_for_good(void **state)
{
    env *e = *state;
    e->ca->knobs.dir_without_nonce = true;
    e->ca->knobs.nonce_fail_count = 1000;
    e->ca->knobs.nonce_fail_status = 500;
    leec_agent *a = run_one(e);
    assert_int_equal(leec_agent_get_outcome(a), LEEC_OUTCOME_FAILED);
    assert_int_equal(leec_agent_error(a), LEEC_E_HTTP);
    assert_non_null(
        strstr(leec_agent_error_message(a), "newNonce answered HTTP 500"));
    assert_int_equal(e->ca->stats.new_order, 0);
}

/* A storm of badNonce answers (a CA rejecting half its nonces makes runs
 * of ten likely in a batch): the request goes again after a pause, in
 * rounds, and the certificate is issued. */
static void test_bad_nonce_storm(void **state)
{
    env *e = *state;
    const int attempts = LEEC_BADNONCE_RETRIES + 1;
    e->ca->knobs.bad_nonces = 2 * attempts + 3;
    leec_agent *a = run_one(e);
    assert_issued(e, a);
    int64_t t[64];
    size_t n = times_of(FAKE_CA_BASE "/new-acct", t, 64);
    assert_int_equal(n, 2 * attempts + 4);
    /* 250 ms after the first run of eleven, 500 ms after the second. */
    assert_true(t[attempts] - t[attempts - 1] >= LEEC_BADNONCE_PAUSE_MS);
    assert_true(t[2 * attempts] - t[2 * attempts - 1] >=
                2 * LEEC_BADNONCE_PAUSE_MS);
    assert_true(t[1] - t[0] < LEEC_BADNONCE_PAUSE_MS);
}

static void test_bad_nonce_exhausted(void **state)
{
    env *e = *state;
    const int attempts =
        (LEEC_BADNONCE_RETRIES + 1) * (LEEC_BADNONCE_ROUNDS + 1);
    e->ca->knobs.bad_nonces = attempts + 5;
    leec_agent *a = run_one(e);
    assert_failed(e, a, LEEC_E_ACME);
    const leec_problem *p = leec_agent_problem(a);
    assert_non_null(p);
    assert_string_equal(p->type, "urn:ietf:params:acme:error:badNonce");
    assert_int_equal(p->status, 400);
    assert_int_equal(fake_http_count("POST", FAKE_CA_BASE "/new-acct"),
                     attempts);
    assert_int_equal(e->ca->stats.new_order, 0);
}

/* ---- the context's counters (leec_ctx_stat, request counts) ---- */

typedef struct counts {
    uint64_t n[LEEC_EP_COUNT][6]; /* by status class: 0 (none), 1xx..5xx */
    uint64_t total;
} counts;

static void count_fn(void *ud, leec_endpoint ep, long status, uint64_t n)
{
    counts *c = ud;
    assert_true((unsigned)ep < LEEC_EP_COUNT);
    assert_true(status == 0 || (status >= 100 && status < 600));
    c->n[ep][status / 100] += n;
    c->total += n;
}

static counts counts_of(leec_ctx *ctx)
{
    counts c;
    memset(&c, 0, sizeof c);
    leec_ctx_foreach_request_count(ctx, count_fn, &c);
    return c;
}

/* Every answer counted once under the endpoint it came from. */
static void test_counters_happy_path(void **state)
{
    env *e = *state;
    leec_agent *a = run_one(e);
    assert_issued(e, a);
    counts c = counts_of(e->ctx);
    assert_int_equal(c.total, leec_ctx_request_count(e->ctx));
    assert_int_equal(c.n[LEEC_EP_DIRECTORY][2], 1);
    assert_int_equal(c.n[LEEC_EP_NEW_ACCOUNT][2], 1);
    assert_int_equal(c.n[LEEC_EP_NEW_ORDER][2], 1);
    assert_int_equal(c.n[LEEC_EP_AUTHZ][2], 6);
    assert_int_equal(c.n[LEEC_EP_CHALLENGE][2], 2);
    assert_int_equal(c.n[LEEC_EP_FINALIZE][2], 1);
    assert_int_equal(c.n[LEEC_EP_ORDER][2], 2);
    assert_int_equal(c.n[LEEC_EP_CERTIFICATE][2], 1);
    assert_int_equal(leec_ctx_stat(e->ctx, LEEC_STAT_ORDERS_CREATED), 1);
    assert_int_equal(leec_ctx_stat(e->ctx, LEEC_STAT_ORDERS_WASTED), 0);
    assert_int_equal(leec_ctx_stat(e->ctx, LEEC_STAT_BADNONCE_RETRIES), 0);
    assert_int_equal(leec_ctx_stat(e->ctx, LEEC_STAT_GOVERNOR_WAITS), 0);
    assert_int_equal(leec_ctx_stat(e->ctx, LEEC_STAT_COUNT), 0);
    assert_string_equal(leec_endpoint_name(LEEC_EP_NEW_NONCE), "newNonce");
    assert_string_equal(leec_endpoint_name(LEEC_EP_COUNT), "other");
}

/* badNonce answers are counted with their status, and as retries. */
static void test_counters_bad_nonce(void **state)
{
    env *e = *state;
    e->ca->knobs.bad_nonces = 3;
    e->ca->knobs.dir_without_nonce = true; /* so a HEAD newNonce comes first */
    leec_agent *a = run_one(e);
    assert_issued(e, a);
    counts c = counts_of(e->ctx);
    assert_int_equal(c.total, leec_ctx_request_count(e->ctx));
    assert_int_equal(c.n[LEEC_EP_NEW_NONCE][2], 1);
    assert_int_equal(c.n[LEEC_EP_NEW_ACCOUNT][4], 3);
    assert_int_equal(c.n[LEEC_EP_NEW_ACCOUNT][2], 1);
    assert_int_equal(leec_ctx_stat(e->ctx, LEEC_STAT_BADNONCE_RETRIES), 3);
}

/* An order the CA invalidated is made and wasted. */
static void test_counters_order_wasted(void **state)
{
    env *e = *state;
    e->ca->knobs.authz_fail = true;
    leec_agent *a = run_one(e);
    assert_failed(e, a, LEEC_E_INVALID_ORDER);
    assert_int_equal(leec_ctx_stat(e->ctx, LEEC_STAT_ORDERS_CREATED), 1);
    assert_int_equal(leec_ctx_stat(e->ctx, LEEC_STAT_ORDERS_WASTED), 1);
}

/* One request a second: the governor holds most of them, and the time
 * they waited adds up to about the run's length. Two orders with one
 * slot: the second waits for the first. */
static void test_counters_governor_waits(void **state)
{
    env *e = *state;
    static const char *const other[] = {"example.net"};
    rec r2;
    memset(&r2, 0, sizeof r2);
    leec_ctx_set_rate_limit(e->ctx, 1);
    leec_ctx_set_max_parallel(e->ctx, 1);
    int64_t t0 = fake_clock_now();
    leec_agent *a = agent_new(e, e->ctx, NAMES2, 2, &e->r);
    leec_agent *b = agent_new(e, e->ctx, other, 1, &r2);
    assert_int_equal(leec_agent_start(a), LEEC_OK);
    assert_int_equal(leec_agent_start(b), LEEC_OK);
    assert_true(fake_drive(e->ctx, MAX_ITER) > 0);
    assert_issued(e, a);
    assert_int_equal(leec_agent_get_outcome(b), LEEC_OUTCOME_ISSUED);
    uint64_t waits = leec_ctx_stat(e->ctx, LEEC_STAT_GOVERNOR_WAITS);
    uint64_t ms = leec_ctx_stat(e->ctx, LEEC_STAT_GOVERNOR_WAIT_MS);
    assert_true(waits >= 10);
    assert_true(ms >= 10000);
    /* Waits overlap (an order held while its requests are), but none
     * lasts longer than the run. */
    assert_true(ms <= waits * (uint64_t)(fake_clock_now() - t0));
    assert_int_equal(leec_ctx_stat(e->ctx, LEEC_STAT_ORDERS_CREATED), 2);
}

static void test_retry_after_honoured(void **state)
{
    env *e = *state;
    e->ca->knobs.retry_after = "7";
    leec_agent *a = run_one(e);
    assert_issued(e, a);
    int64_t t[8];
    /* fetch, poll (pending, Retry-After: 7), poll (valid) */
    assert_int_equal(times_of(FAKE_CA_BASE "/authz/0/0", t, 8), 3);
    assert_true(t[2] - t[1] >= 7000);
    assert_int_equal(times_of(FAKE_CA_BASE "/authz/0/1", t, 8), 3);
    assert_true(t[2] - t[1] >= 7000);
    /* order: poll (processing, Retry-After: 7), poll (valid) */
    assert_int_equal(times_of(FAKE_CA_BASE "/order/0", t, 8), 2);
    assert_true(t[1] - t[0] >= 7000);
    assert_true(t[1] - t[0] < 8000);
}

static void test_invalid_authorization(void **state)
{
    env *e = *state;
    e->ca->knobs.authz_fail = true;
    e->ca->knobs.authz_fail_detail = "Connection refused by 192.0.2.1:80";
    leec_agent *a = run_one(e);
    /* The tokens were live while the CA validated... */
    assert_int_equal(e->r.ka_rc[0], LEEC_OK);
    assert_failed(e, a, LEEC_E_INVALID_ORDER);
    const leec_problem *p = leec_agent_problem(a);
    assert_non_null(p);
    assert_string_equal(p->type, "urn:ietf:params:acme:error:connection");
    assert_string_equal(p->detail, "Connection refused by 192.0.2.1:80");
    assert_non_null(strstr(leec_agent_error_message(a), "example.org"));
    /* ...and are gone now. */
    char *ka = NULL;
    assert_int_equal(leec_ctx_http01_key_authorization(e->ctx, TOK0, &ka),
                     LEEC_E_NOT_FOUND);
    assert_int_equal(leec_ctx_http01_key_authorization(e->ctx, TOK1, &ka),
                     LEEC_E_NOT_FOUND);
    assert_null(ka);
    assert_int_equal(e->ca->stats.finalize, 0);
}

/* An authorization for a name the order did not ask for: that name would
 * reach the solver (a hook, a DNS provider) and the logs. Refused before
 * any challenge is answered. */
static void test_authz_for_another_name(void **state)
{
    env *e = *state;
    e->ca->knobs.authz_ident = "victim.example; rm -rf /";
    leec_agent *a = run_one(e);
    assert_failed(e, a, LEEC_E_PROTOCOL);
    assert_non_null(strstr(leec_agent_error_message(a),
                           "which this order did not ask for"));
    assert_int_equal(e->ca->stats.chall_post, 0);
    assert_int_equal(e->ca->stats.finalize, 0);
    char *ka = NULL;
    assert_int_equal(leec_ctx_http01_key_authorization(e->ctx, TOK0, &ka),
                     LEEC_E_NOT_FOUND);
}

static void test_authz_of_another_type(void **state)
{
    env *e = *state;
    e->ca->knobs.authz_ident = "example.org";
    e->ca->knobs.authz_ident_type = "ip";
    leec_agent *a = run_one(e);
    assert_failed(e, a, LEEC_E_PROTOCOL);
    assert_non_null(strstr(leec_agent_error_message(a), "is for ip "));
    assert_int_equal(e->ca->stats.chall_post, 0);
}

/* Capitals are the same name: accepted (and our spelling used). */
static void test_authz_in_capitals(void **state)
{
    env *e = *state;
    static const char *const one[] = {"example.org"};
    e->ca->knobs.authz_ident = "EXAMPLE.ORG";
    leec_agent *a = agent_new(e, e->ctx, one, 1, &e->r);
    assert_int_equal(leec_agent_start(a), LEEC_OK);
    assert_true(fake_drive(e->ctx, MAX_ITER) > 0);
    assert_int_equal(leec_agent_get_outcome(a), LEEC_OUTCOME_ISSUED);
}

static size_t log_dirty; /* log lines with a control character */
static void strict_log(void *ud, leec_log_level level, const char *msg)
{
    (void)ud;
    (void)level;
    for (const unsigned char *p = (const unsigned char *)msg; *p; p++)
        if (*p < 0x20 || *p == 0x7f ||
            (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) ||
            (*p >= 0x80 && *p <= 0x9f &&
             (p == (const unsigned char *)msg || p[-1] < 0xc0)))
            log_dirty++;
}

/* A CA's words with C0 and C1 controls (U+009B is an 8-bit CSI): cleaned
 * in the problem document, the agent's message and every log line. */
static void test_controls_from_the_ca_cleaned(void **state)
{
    env *e = *state;
    e->ca->knobs.authz_fail = true;
    /* (JSON is UTF-8: a raw 0x9b byte cannot come this way.) */
    e->ca->knobs.authz_fail_detail = "refused \xc2\x9b"
                                     "2J\x1b]0;pwned\x07 "
                                     "\xc2\x85"
                                     "end";
    log_dirty = 0;
    leec_ctx_set_log(e->ctx, strict_log, NULL, LEEC_LOG_DEBUG);
    leec_agent *a = run_one(e);
    assert_failed(e, a, LEEC_E_INVALID_ORDER);
    const leec_problem *p = leec_agent_problem(a);
    assert_non_null(p);
    assert_string_equal(p->detail, "refused ??2J?]0;pwned? ??end");
    assert_int_equal(log_dirty, 0);
    for (const char *m = leec_agent_error_message(a); *m; m++)
        assert_true((unsigned char)*m >= 0x20 && (unsigned char)*m < 0x7f);
}

static int callbacks; /* every callback of the getters' test */
static void counting_log(void *ud, leec_log_level level, const char *msg)
{
    (void)ud;
    (void)level;
    (void)msg;
    callbacks++;
}
static void counting_state(void *ud, leec_agent *a, leec_agent_state from,
                           leec_agent_state to)
{
    (void)ud;
    (void)a;
    (void)from;
    (void)to;
    callbacks++;
}
static void counting_done(void *ud, leec_agent *a, leec_outcome outcome)
{
    (void)ud;
    (void)a;
    (void)outcome;
    callbacks++;
}

/* An RSA certificate key comes from a worker thread: the other agent goes
 * on meanwhile, and both are issued, each with its key type. */
static void test_rsa_key_on_a_worker(void **state)
{
    env *e = *state;
    static const char *const one[] = {"rsa.example.org"};
    static const char *const two[] = {"ec.example.org"};
    rec r2;
    memset(&r2, 0, sizeof r2);
    leec_agent *rsa = agent_new(e, e->ctx, one, 1, &e->r);
    leec_agent *ec = agent_new(e, e->ctx, two, 1, &r2);
    assert_int_equal(leec_agent_set_key_type(rsa, LEEC_KEY_RSA2048), LEEC_OK);
    assert_int_equal(leec_agent_start(rsa), LEEC_OK);
    assert_int_equal(leec_agent_start(ec), LEEC_OK);
    assert_true(fake_drive(e->ctx, MAX_ITER) > 0);
    assert_int_equal(leec_agent_get_outcome(rsa), LEEC_OUTCOME_ISSUED);
    assert_int_equal(leec_agent_get_outcome(ec), LEEC_OUTCOME_ISSUED);
    assert_non_null(Leec_ctx_workers(e->ctx)); /* it did go to a thread */
    char *key = NULL, *chain = NULL;
    assert_int_equal(leec_store_read_live(leec_ctx_get_store(e->ctx),
                                          "rsa.example.org", &key, &chain),
                     LEEC_OK);
    assert_non_null(strstr(key, "PRIVATE KEY"));
    leec_key *k = NULL;
    assert_int_equal(Leec_key_load_pem(key, strlen(key), &k), LEEC_OK);
    assert_int_equal(Leec_key_get_type(k), LEEC_KEY_RSA2048);
    Leec_key_free(k);
    free(key);
    free(chain);
    for (int i = 0; i < 2; i++)
        free(r2.ka[i]);
}

/* An agent freed (or a context freed) while its key is being generated:
 * the job is cancelled, its key freed, nothing completes afterwards. */
static bool in_finalize(void *ud)
{
    return leec_agent_get_state(ud) == LEEC_ST_FINALIZE;
}

static void test_keygen_cancelled(void **state)
{
    env *e = *state;
    static const char *const one[] = {"rsa.example.org"};
    leec_agent *a = agent_new(e, e->ctx, one, 1, &e->r);
    assert_int_equal(leec_agent_set_key_type(a, LEEC_KEY_RSA4096), LEEC_OK);
    assert_int_equal(leec_agent_start(a), LEEC_OK);
    assert_true(fake_drive_until(e->ctx, MAX_ITER, in_finalize, a) > 0);
    leec_agent_free(a); /* outside perform: at once */
    assert_int_equal(e->r.done, 0);
    /* The context frees its threads (the key still being made is waited
     * for and dropped) in teardown. */
}

/* Queries never act: with requests held by the governor and their time
 * come, asking for the timeout (or anything else) sends nothing and runs
 * no callback; only perform does. */
static void test_getters_never_act(void **state)
{
    env *e = *state;
    time_t until = 0;
    leec_ctx_set_rate_limit(e->ctx, 1);
    leec_ctx_set_log(e->ctx, counting_log, NULL, LEEC_LOG_DEBUG);
    leec_agent *a = leec_agent_new(e->ctx, NULL, NAMES2, 2, NULL);
    assert_non_null(a);
    leec_agent_set_callbacks(a, counting_state, counting_done, NULL);
    assert_int_equal(leec_agent_start(a), LEEC_OK);
    /* Until a request is held, with nothing else left to do now. */
    for (int i = 0; i < 100 && (Leec_acme_next_release(e->ctx) < 0 ||
                                leec_ctx_timeout_ms(e->ctx) == 0);
         i++) {
        int running = 0;
        assert_int_equal(leec_ctx_perform(e->ctx, &running), LEEC_OK);
    }
    assert_true(Leec_acme_next_release(e->ctx) >=
                0); /* held by the rate limit */
    size_t sent = fake_http_log_count();
    int calls = callbacks;
    fake_clock_set(fake_clock_now() + 60000); /* their time has come */
    for (int i = 0; i < 10; i++) {
        assert_int_equal(leec_ctx_timeout_ms(e->ctx), 0);
        (void)leec_ctx_get_fd(e->ctx);
        (void)leec_ctx_paused_until(e->ctx);
        (void)leec_ctx_request_count(e->ctx);
        (void)leec_ctx_connection_count(e->ctx);
        (void)leec_ctx_terms_url(e->ctx);
        (void)leec_agent_get_state(a);
        (void)leec_agent_get_outcome(a);
        (void)leec_agent_wait(a, &until);
        (void)leec_agent_error(a);
        (void)leec_agent_error_message(a);
        (void)leec_agent_names(a, NULL);
        (void)leec_agent_cert_pem(a);
    }
    assert_int_equal(callbacks, calls);
    assert_int_equal(fake_http_log_count(), sent);
    assert_true(Leec_acme_next_release(e->ctx) >= 0);
    /* perform releases them, and the agent goes on to its end. */
    assert_true(fake_drive(e->ctx, MAX_ITER) > 0);
    assert_int_equal(leec_agent_get_outcome(a), LEEC_OUTCOME_ISSUED);
    assert_true(fake_http_log_count() > sent);
}

static void test_order_processing_forever(void **state)
{
    env *e = *state;
    e->ca->knobs.order_processing_forever = true;
    leec_agent *a = run_one(e);
    assert_failed(e, a, LEEC_E_TIMEOUT);
    int64_t t[128], fin[2];
    size_t n = times_of(FAKE_CA_BASE "/order/0", t, 128);
    assert_int_equal(times_of(FAKE_CA_BASE "/finalize/0", fin, 2), 1);
    /* The default 90 s, with a back-off growing by half up to 10 s: a
     * bounded number of polls, and the stuck order named. */
    assert_true(n >= 10);
    assert_true(n <= 40);
    assert_true(t[n - 1] - fin[0] <= 90 * 1000 + 100);
    assert_true(t[n - 1] - fin[0] >= 80 * 1000);
    for (size_t i = 2; i + 1 < n; i++)
        assert_true(t[i] - t[i - 1] >= t[i - 1] - t[i - 2]);
    assert_true(t[n - 2] - t[n - 3] <= 10000);
    assert_non_null(strstr(leec_agent_error_message(a),
                           FAKE_CA_BASE "/order/0 stayed processing for 90 s"));
}

static void test_order_timeout_setting(void **state)
{
    env *e = *state;
    e->ca->knobs.order_processing_forever = true;
    leec_ctx_set_order_timeout(e->ctx, 5);
    leec_agent *a = run_one(e);
    assert_failed(e, a, LEEC_E_TIMEOUT);
    int64_t t[128], fin[2];
    size_t n = times_of(FAKE_CA_BASE "/order/0", t, 128);
    assert_int_equal(times_of(FAKE_CA_BASE "/finalize/0", fin, 2), 1);
    assert_true(n >= 3 && n <= 16);
    assert_true(t[n - 1] - fin[0] <= 5 * 1000 + 100);
    assert_non_null(strstr(leec_agent_error_message(a), "for 5 s"));
}

static void bad_body_case(void **state, fake_endpoint ep, fake_bad_body kind)
{
    env *e = *state;
    e->ca->knobs.bad_endpoint = ep;
    e->ca->knobs.bad_body = kind;
    leec_agent *a = run_one(e);
    /* A success status without a usable body: the CA broke the protocol. */
    assert_failed(e, a, LEEC_E_PROTOCOL);
    assert_null(leec_agent_problem(a));
}

static void test_malformed_new_order(void **state)
{
    bad_body_case(state, FAKE_EP_NEW_ORDER, FAKE_BODY_MALFORMED);
}
static void test_wrong_types_new_order(void **state)
{
    bad_body_case(state, FAKE_EP_NEW_ORDER, FAKE_BODY_WRONG_TYPES);
}
static void test_malformed_authz(void **state)
{
    bad_body_case(state, FAKE_EP_AUTHZ, FAKE_BODY_MALFORMED);
}
static void test_wrong_types_authz(void **state)
{
    bad_body_case(state, FAKE_EP_AUTHZ, FAKE_BODY_WRONG_TYPES);
}
static void test_malformed_order_poll(void **state)
{
    bad_body_case(state, FAKE_EP_ORDER, FAKE_BODY_MALFORMED);
}
static void test_wrong_types_order_poll(void **state)
{
    bad_body_case(state, FAKE_EP_ORDER, FAKE_BODY_WRONG_TYPES);
}

static void test_cert_for_other_names(void **state)
{
    env *e = *state;
    static const char *const other[] = {"example.org", "evil.example"};
    e->ca->knobs.issue_names = other;
    e->ca->knobs.issue_nnames = 2;
    leec_agent *a = run_one(e);
    assert_failed(e, a, LEEC_E_CERT_MISMATCH);
    assert_null(leec_agent_cert_pem(a));
    char *live =
        leec_store_live_path(leec_ctx_get_store(e->ctx), "example.org");
    assert_non_null(live);
    struct stat sb;
    assert_int_not_equal(lstat(live, &sb), 0);
    free(live);
}

static void test_directory_http_url(void **state)
{
    env *e = *state;
    e->ca->knobs.dir_http_url = true;
    leec_agent *a = run_one(e);
    assert_failed(e, a, LEEC_E_PROTOCOL);
    assert_int_equal(e->r.to[e->r.n - 1], LEEC_ST_FAILED);
    assert_int_equal(e->r.from[e->r.n - 1], LEEC_ST_WAIT_ACCOUNT);
    assert_int_equal(e->ca->stats.new_account, 0);
    assert_int_equal(leec_ctx_request_count(e->ctx), 1);
}

static void test_500_once_on_authz_poll(void **state)
{
    env *e = *state;
    e->ca->knobs.authz_poll_500 = 1;
    leec_agent *a = run_one(e);
    assert_issued(e, a);
    assert_int_equal(e->ca->stats.http500_sent, 1);
    size_t n500 = 0;
    for (size_t i = 0; i < fake_http_log_count(); i++)
        n500 += fake_http_log(i)->status == 500;
    assert_int_equal(n500, 1);
}

static void test_rejected_identifier_subproblems(void **state)
{
    env *e = *state;
    e->ca->knobs.reject_identifiers = true;
    leec_agent *a = run_one(e);
    assert_failed(e, a, LEEC_E_ACME);
    const leec_problem *p = leec_agent_problem(a);
    assert_non_null(p);
    assert_string_equal(p->type,
                        "urn:ietf:params:acme:error:rejectedIdentifier");
    assert_int_equal(p->status, 400);
    assert_non_null(p->detail);
    assert_int_equal(p->nsub, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_string_equal(p->sub[i].type,
                            "urn:ietf:params:acme:error:rejectedIdentifier");
        assert_string_equal(p->sub[i].id_type, "dns");
        assert_string_equal(p->sub[i].id_value, NAMES2[i]);
        assert_non_null(p->sub[i].detail);
    }
}

/* Hooks around orders, and the back-off after a failed renewal. */
typedef struct hook_rec {
    leec_hook_point point[16];
    bool with_agent[16];
    size_t n;
} hook_rec;

static void hook_fn(void *ud, leec_hook_point point, leec_agent *agent)
{
    hook_rec *h = ud;
    if (h->n < 16) {
        h->point[h->n] = point;
        h->with_agent[h->n] = agent != NULL;
        h->n++;
    }
}

static leec_agent *run_again(env *e, rec *r, bool force)
{
    memset(r, 0, sizeof *r);
    leec_agent *a = agent_new(e, e->ctx, NAMES2, 2, r);
    leec_agent_set_force(a, force);
    assert_int_equal(leec_agent_start(a), LEEC_OK);
    assert_true(fake_drive(e->ctx, MAX_ITER) > 0);
    assert_int_equal(r->done, 1);
    return a;
}

static void test_hooks_and_backoff(void **state)
{
    env *e = *state;
    hook_rec h;
    memset(&h, 0, sizeof h);
    leec_ctx_set_hook_fn(e->ctx, hook_fn, &h);
    leec_agent *a = run_one(e);
    assert_issued(e, a);
    assert_int_equal(h.n, 3);
    assert_int_equal(h.point[0], LEEC_HOOK_PRE);
    assert_int_equal(h.point[1], LEEC_HOOK_DEPLOY);
    assert_int_equal(h.point[2], LEEC_HOOK_POST);
    assert_true(h.with_agent[0] && h.with_agent[1] && !h.with_agent[2]);

    /* Fresh: no hook. */
    rec r;
    a = run_again(e, &r, false);
    assert_int_equal(r.outcome, LEEC_OUTCOME_FRESH);
    assert_int_equal(h.n, 3);

    /* A forced renewal that fails: PRE and POST, no DEPLOY, and the
     * failure is kept with the certificate. */
    e->ca->knobs.authz_fail = true;
    a = run_again(e, &r, true);
    assert_int_equal(r.outcome, LEEC_OUTCOME_FAILED);
    assert_int_equal(h.n, 5);
    assert_int_equal(h.point[3], LEEC_HOOK_PRE);
    assert_int_equal(h.point[4], LEEC_HOOK_POST);
    leec_renewal_plan *p = NULL;
    leec_store *st = leec_ctx_get_store(e->ctx);
    assert_int_equal(leec_store_renewal_plan(st, "example.org", &p), LEEC_OK);
    assert_int_equal(p->failures, 1);
    assert_true(p->retry_at > time(NULL) + 3500);
    assert_non_null(p->last_error);
    assert_true(p->wake >= p->retry_at);
    leec_renewal_plan_free(p);

    /* Not forced: backing off, nothing sent, no hook. */
    e->ca->knobs.authz_fail = false;
    size_t sent = fake_http_log_count();
    a = run_again(e, &r, false);
    assert_int_equal(r.outcome, LEEC_OUTCOME_DEFERRED);
    assert_int_equal(leec_agent_get_state(a), LEEC_ST_DONE);
    assert_int_equal(fake_http_log_count(), sent);
    assert_int_equal(h.n, 5);

    /* Forced again: renewed, and the new version starts afresh. */
    a = run_again(e, &r, true);
    assert_int_equal(r.outcome, LEEC_OUTCOME_ISSUED);
    assert_int_equal(h.n, 8);
    assert_int_equal(leec_store_renewal_plan(st, "example.org", &p), LEEC_OK);
    assert_int_equal(p->failures, 0);
    assert_int_equal(p->retry_at, 0);
    leec_renewal_plan_free(p);
}

static void test_free_in_on_done(void **state)
{
    env *e = *state;
    e->r.free_in_done = true;
    leec_agent *a = agent_new(e, e->ctx, NAMES2, 2, &e->r);
    assert_int_equal(leec_agent_start(a), LEEC_OK);
    assert_true(fake_drive(e->ctx, MAX_ITER) > 0);
    assert_int_equal(e->r.done, 1);
    assert_int_equal(e->r.outcome, LEEC_OUTCOME_ISSUED);
    assert_int_equal(Leec_agents_count(e->ctx), 0);

    /* FRESH finishes in the first perform after start, never inside
     * leec_agent_start itself. */
    rec r2;
    memset(&r2, 0, sizeof r2);
    r2.free_in_done = true;
    leec_agent *b = agent_new(e, e->ctx, NAMES2, 2, &r2);
    assert_int_equal(leec_agent_start(b), LEEC_OK);
    assert_int_equal(r2.done, 0);
    assert_int_equal(leec_ctx_perform(e->ctx, NULL), LEEC_OK);
    assert_int_equal(r2.done, 1);
    assert_int_equal(r2.outcome, LEEC_OUTCOME_FRESH);
    assert_true(fake_drive(e->ctx, MAX_ITER) > 0);
    assert_int_equal(Leec_agents_count(e->ctx), 0);

    /* FAILED, also from inside perform (invalid authorization). */
    e->ca->knobs.authz_fail = true;
    rec r3;
    memset(&r3, 0, sizeof r3);
    r3.free_in_done = true;
    static const char *const other[] = {"other.example"};
    leec_agent *c = agent_new(e, e->ctx, other, 1, &r3);
    assert_int_equal(leec_agent_start(c), LEEC_OK);
    assert_true(fake_drive(e->ctx, MAX_ITER) > 0);
    assert_int_equal(r3.done, 1);
    assert_int_equal(r3.outcome, LEEC_OUTCOME_FAILED);
    assert_int_equal(Leec_agents_count(e->ctx), 0);
    assert_int_equal(Leec_ctx_tokens(e->ctx)->n, 0);
    for (int i = 0; i < 2; i++) {
        free(r2.ka[i]);
        free(r3.ka[i]);
    }
}

/* The account fails synchronously inside leec_agent_start (no store id can
 * be derived from the server URL) and on_done frees the agent there. */
static void test_free_in_on_done_sync_failure(void **state)
{
    env *e = *state;
    leec_ctx *ctx = leec_ctx_new();
    assert_non_null(ctx);
    assert_int_equal(leec_ctx_set_server(ctx, "https://-bad.test/dir"),
                     LEEC_OK);
    leec_ctx_set_store(ctx, leec_store_fs_new(e->dir, NULL));
    Leec_ctx_set_clock(ctx, fake_clock, NULL);
    rec r;
    memset(&r, 0, sizeof r);
    r.free_in_done = true;
    static const char *const n1[] = {"a.example"};
    static const char *const n2[] = {"b.example"};
    leec_agent *a = agent_new(e, ctx, n1, 1, &r);
    rec rb;
    memset(&rb, 0, sizeof rb);
    leec_agent *b = agent_new(e, ctx, n2, 1, &rb);
    assert_int_equal(leec_agent_start(a), LEEC_OK);
    assert_int_equal(r.done, 0); /* no callback inside start */
    assert_int_equal(leec_ctx_perform(ctx, NULL), LEEC_OK);
    assert_int_equal(r.done, 1);
    assert_int_equal(r.outcome, LEEC_OUTCOME_FAILED);
    /* The other agent, not started, is untouched. */
    assert_int_equal(leec_agent_get_state(b), LEEC_ST_IDLE);
    assert_int_equal(leec_agent_start(b), LEEC_OK);
    int running = -1;
    assert_int_equal(leec_ctx_perform(ctx, &running), LEEC_OK);
    assert_int_equal(leec_agent_get_outcome(b), LEEC_OUTCOME_FAILED);
    assert_int_equal(leec_agent_error(b), LEEC_E_INVALID_ARG);
    assert_int_equal(running, 0);
    assert_int_equal(Leec_agents_count(ctx), 1);
    leec_ctx_free(ctx);
}

static bool held(void *ud)
{
    (void)ud;
    return fake_http_held();
}

static void test_free_in_on_state(void **state)
{
    env *e = *state;
    /* Freed inside perform when it presents its tokens: they go too. */
    e->r.free_on_state = LEEC_ST_RESPOND;
    leec_agent *a = agent_new(e, e->ctx, NAMES2, 2, &e->r);
    assert_int_equal(leec_agent_start(a), LEEC_OK);
    assert_int_equal(e->r.ka_rc[0], 0);
    assert_true(fake_drive(e->ctx, MAX_ITER) > 0);
    assert_int_equal(e->r.done, 0);
    assert_int_equal(e->r.ka_rc[0], LEEC_OK); /* live when it was freed */
    assert_int_equal(Leec_agents_count(e->ctx), 0);
    assert_int_equal(Leec_ctx_tokens(e->ctx)->n, 0);
    assert_int_equal(fake_http_pending(), 0);
    assert_int_equal(e->ca->stats.chall_post, 0);

    /* Freed in its very first transition. */
    rec r2;
    memset(&r2, 0, sizeof r2);
    r2.free_on_state = LEEC_ST_CHECK_EXISTING;
    leec_agent *b = agent_new(e, e->ctx, NAMES2, 2, &r2);
    assert_int_equal(leec_agent_start(b), LEEC_OK);
    assert_int_equal(Leec_agents_count(e->ctx), 1);
    assert_int_equal(leec_ctx_perform(e->ctx, NULL), LEEC_OK);
    assert_int_equal(Leec_agents_count(e->ctx), 0);
}

static void test_agent_free_mid_flight(void **state)
{
    env *e = *state;
    static const char *const n1[] = {"a.example"};
    rec r1;
    memset(&r1, 0, sizeof r1);
    r1.hold_on_state = LEEC_ST_FETCH_AUTHZ;
    leec_agent *a = agent_new(e, e->ctx, n1, 1, &r1);
    leec_agent *b = agent_new(e, e->ctx, NAMES2, 2, &e->r);
    assert_int_equal(leec_agent_start(a), LEEC_OK);
    assert_int_equal(leec_agent_start(b), LEEC_OK);
    assert_true(fake_drive_until(e->ctx, MAX_ITER, held, NULL) > 0);
    assert_int_equal(leec_agent_get_state(a), LEEC_ST_FETCH_AUTHZ);
    assert_true(fake_http_pending() > 0);
    leec_agent_free(a); /* outside any callback, request in flight */
    fake_http_hold(false);
    assert_true(fake_drive(e->ctx, MAX_ITER) > 0);
    assert_int_equal(r1.done, 0);
    assert_issued(e, b);
    assert_int_equal(Leec_agents_count(e->ctx), 1);
    for (int i = 0; i < 2; i++)
        free(r1.ka[i]);
}

static void test_ctx_free_right_after_start(void **state)
{
    env *e = *state;
    leec_agent *a = agent_new(e, e->ctx, NAMES2, 2, &e->r);
    assert_int_equal(leec_agent_start(a), LEEC_OK);
    assert_int_equal(fake_http_pending(), 0); /* nothing before perform */
    assert_int_equal(leec_ctx_perform(e->ctx, NULL), LEEC_OK);
    assert_int_equal(fake_http_pending(), 1); /* the directory */
    leec_ctx_free(e->ctx);
    e->ctx = NULL;
    e->ca->client = NULL;
    assert_int_equal(fake_http_pending(), 0);
    assert_int_equal(e->r.done, 0);
}

static void test_ctx_free_mid_flight(void **state)
{
    env *e = *state;
    char *webroot = NULL;
    assert_true(asprintf(&webroot, "%s/www", e->dir) > 0);
    assert_int_equal(mkdir(webroot, 0700), 0);
    e->ca->knobs.authz_pending_polls = 1000;
    static const char *const n1[] = {"a.example"};
    static const char *const n2[] = {"b.example"};
    rec r1, r2;
    memset(&r1, 0, sizeof r1);
    memset(&r2, 0, sizeof r2);
    leec_agent *v[2];
    r2.hold_on_state = LEEC_ST_AUTHZ_POLL;
    v[0] = agent_new(e, e->ctx, n1, 1, &r1);
    v[1] = agent_new(e, e->ctx, n2, 1, &r2);
    assert_int_equal(leec_agent_set_webroot(v[0], webroot), LEEC_OK);
    assert_int_equal(leec_agent_start(v[0]), LEEC_OK);
    assert_int_equal(leec_agent_start(v[1]), LEEC_OK);
    assert_true(fake_drive_until(e->ctx, MAX_ITER, held, NULL) > 0);
    /* Both poll: let the timers fire so that requests are in flight. */
    fake_clock_set(fake_clock_now() + 100);
    assert_int_equal(leec_ctx_perform(e->ctx, NULL), LEEC_OK);
    assert_int_equal(leec_agent_get_state(v[0]), LEEC_ST_AUTHZ_POLL);
    assert_int_equal(leec_agent_get_state(v[1]), LEEC_ST_AUTHZ_POLL);
    assert_int_equal(fake_http_pending(), 2);
    assert_int_equal(Leec_ctx_tokens(e->ctx)->n, 2);
    char path[256];
    snprintf(path, sizeof path, "%s/.well-known/acme-challenge/%s", webroot,
             TOK0);
    assert_int_equal(access(path, F_OK), 0);
    /* Free with requests in flight, tokens and a webroot file live. */
    leec_ctx_free(e->ctx);
    e->ctx = NULL;
    e->ca->client = NULL;
    assert_int_not_equal(access(path, F_OK), 0);
    assert_int_equal(fake_http_pending(), 0);
    assert_int_equal(r1.done + r2.done, 0);
    for (int i = 0; i < 2; i++) {
        free(r1.ka[i]);
        free(r2.ka[i]);
    }
    free(webroot);
}

static void test_terms_of_service(void **state)
{
    env *e = *state;
    e->ca->knobs.terms = "https://ca.test/terms-v1.pdf";
    leec_ctx_set_agree_tos(e->ctx, false);
    leec_agent *a = run_one(e);
    assert_failed(e, a, LEEC_E_TOS);
    assert_int_equal(e->ca->stats.new_account, 0);
    assert_int_equal(fake_http_count("POST", FAKE_CA_BASE "/new-acct"), 0);
    assert_string_equal(leec_ctx_terms_url(e->ctx),
                        "https://ca.test/terms-v1.pdf");
    assert_non_null(strstr(leec_agent_error_message(a), "terms-v1.pdf"));
}

static void test_terms_agreed(void **state)
{
    env *e = *state;
    e->ca->knobs.terms = "https://ca.test/terms-v1.pdf";
    leec_agent *a = run_one(e);
    assert_issued(e, a);
    for (size_t i = 0; i < fake_http_log_count(); i++) {
        const fake_log_entry *l = fake_http_log(i);
        if (strcmp(l->url, FAKE_CA_BASE "/new-acct") == 0)
            assert_non_null(
                strstr(l->payload, "\"termsOfServiceAgreed\":true"));
    }
}

/* The fake CA itself: its JWS checks are real (a forged signature, a wrong
 * url, a replayed nonce are refused), so the other cases mean something. */
static char *ca_nonce(env *e)
{
    fake_request rq = {"HEAD", FAKE_CA_BASE "/nonce", NULL, NULL, NULL};
    leec_http_resp resp;
    memset(&resp, 0, sizeof resp);
    Leec_buf_init(&resp.body, 0);
    fake_ca_respond(e->ca, &rq, &resp);
    assert_int_equal(resp.status, 200);
    assert_non_null(resp.replay_nonce);
    Leec_buf_free(&resp.body);
    return resp.replay_nonce;
}

static long ca_post(env *e, const leec_key *key, const char *nonce,
                    const char *signed_url, const char *to_url, bool forge,
                    char **type)
{
    char *jws = NULL;
    assert_int_equal(Leec_jws_sign(key, NULL, nonce, signed_url, "{}", &jws),
                     LEEC_OK);
    if (forge) {
        char *sig = strstr(jws, "\"signature\":\"");
        assert_non_null(sig);
        sig += 13;
        *sig = *sig == 'A' ? 'B' : 'A';
    }
    fake_request rq = {"POST", to_url, jws, "application/jose+json", NULL};
    leec_http_resp resp;
    memset(&resp, 0, sizeof resp);
    Leec_buf_init(&resp.body, 0);
    fake_ca_respond(e->ca, &rq, &resp);
    json_t *j = resp.body.data ? json_loads(resp.body.data, 0, NULL) : NULL;
    *type = j && json_is_string(json_object_get(j, "type"))
                ? strdup(json_string_value(json_object_get(j, "type")))
                : NULL;
    json_decref(j);
    long status = resp.status;
    free(resp.content_type);
    free(resp.location);
    free(resp.replay_nonce);
    Leec_buf_free(&resp.body);
    free(jws);
    return status;
}

static void test_fake_ca_checks_jws(void **state)
{
    env *e = *state;
    leec_key *key = NULL;
    char *type = NULL;
    const char *acct = FAKE_CA_BASE "/new-acct";
    assert_int_equal(Leec_key_generate(LEEC_KEY_EC256, &key), LEEC_OK);

    char *n1 = ca_nonce(e);
    assert_int_equal(ca_post(e, key, n1, acct, acct, true, &type), 400);
    assert_string_equal(type, "urn:ietf:params:acme:error:malformed");
    free(type);
    assert_int_equal(e->ca->stats.verify_failures, 1);

    char *n2 = ca_nonce(e);
    assert_int_equal(
        ca_post(e, key, n2, FAKE_CA_BASE "/new-order", acct, false, &type),
        400);
    free(type);
    assert_int_equal(e->ca->stats.verify_failures, 2);

    char *n3 = ca_nonce(e);
    assert_int_equal(ca_post(e, key, n3, acct, acct, false, &type), 201);
    free(type);
    /* the same nonce again */
    assert_int_equal(ca_post(e, key, n3, acct, acct, false, &type), 400);
    assert_string_equal(type, "urn:ietf:params:acme:error:badNonce");
    free(type);
    /* a nonce the CA never issued */
    assert_int_equal(ca_post(e, key, "Nonce99999999", acct, acct, false, &type),
                     400);
    assert_string_equal(type, "urn:ietf:params:acme:error:badNonce");
    free(type);
    e->ca->stats.verify_failures = 0;
    free(n1);
    free(n2);
    free(n3);
    Leec_key_free(key);
}

/* ------------------------------------------------------------------ */
/* A solver of the program's own (leec/solver.h)                       */
/* ------------------------------------------------------------------ */

#define MAX_CALLS 8

/* What the plugged-in solver saw, and how it answers: it takes any type,
 * declines dns-01 at once, and answers http-01 later (PENDING), when the
 * test calls the done it kept; fail: with that error instead. */
typedef struct my_solver {
    int presents, declined, cleanups, valid_cleanups, destroyed;
    char types[MAX_CALLS][16];
    int wrong; /* a challenge that did not hold together */
    size_t npending;
    leec_solver_done_fn done[MAX_CALLS];
    void *done_arg[MAX_CALLS];
    int ops_out; /* presentations not cleaned up yet */
    bool fail;
} my_solver;

typedef struct my_op {
    my_solver *s;
    char token[128];
} my_op;

/* The challenge holds together: key_auth is token.thumbprint, digest its
 * SHA-256 in base64url, the identifier one of the order's. */
static bool challenge_ok(const leec_challenge *ch)
{
    size_t tl = strlen(ch->token);
    unsigned char sum[32];
    char *want = NULL;
    bool ok = strncmp(ch->key_auth, ch->token, tl) == 0 &&
              ch->key_auth[tl] == '.' && ch->key_auth[tl + 1] &&
              strcmp(ch->ident_type, "dns") == 0 && !ch->wildcard &&
              (strcmp(ch->ident, NAMES2[0]) == 0 ||
               strcmp(ch->ident, NAMES2[1]) == 0);
    Leec_sha256(ch->key_auth, strlen(ch->key_auth), sum);
    want = Leec_b64url_encode(sum, sizeof sum);
    ok = ok && want && strcmp(want, ch->digest) == 0;
    free(want);
    return ok;
}

static leec_status my_present(void *impl, const leec_challenge *ch,
                              leec_solver_done_fn done, void *done_arg,
                              void **op)
{
    my_solver *s = impl;
    if (s->presents < MAX_CALLS)
        snprintf(s->types[s->presents], sizeof s->types[0], "%s", ch->type);
    s->presents++;
    if (!challenge_ok(ch))
        s->wrong++;
    if (strcmp(ch->type, "http-01") != 0) {
        s->declined++;
        return LEEC_STATUS_DECLINED;
    }
    my_op *o = calloc(1, sizeof *o);
    if (!o || s->npending == MAX_CALLS) {
        free(o);
        return LEEC_STATUS_FAILED;
    }
    o->s = s;
    snprintf(o->token, sizeof o->token, "%s", ch->token);
    s->done[s->npending] = done;
    s->done_arg[s->npending++] = done_arg;
    s->ops_out++;
    *op = o;
    return LEEC_STATUS_PENDING;
}

static leec_status my_cleanup(void *impl, void *op, bool valid,
                              leec_solver_done_fn done, void *done_arg)
{
    my_solver *s = impl;
    my_op *o = op;
    (void)done;
    (void)done_arg;
    if (!o || o->s != s)
        s->wrong++;
    s->cleanups++;
    s->valid_cleanups += valid;
    s->ops_out--;
    free(o);
    return LEEC_STATUS_DONE;
}

static void my_destroy(void *impl)
{
    my_solver *s = impl;
    s->destroyed++; /* lives in the test's frame */
}

static const leec_solver_ops my_ops = {
    .type = NULL,
    .name = "my solver",
    .present = my_present,
    .cleanup = my_cleanup,
    .destroy = my_destroy,
};

static bool both_pending(void *ud)
{
    const my_solver *s = ud;
    return s->npending == 2;
}

/* Frees the context, which destroys the solver (ms lives in the test's
 * frame: before it returns). */
static void free_ctx(env *e, my_solver *ms, int destroyed)
{
    leec_ctx_free(e->ctx);
    e->ctx = NULL;
    assert_int_equal(ms->destroyed, destroyed);
}

/* Runs an agent for NAMES2 on my_ops until both http-01 presentations are
 * pending, then reports them from outside leec_ctx_perform (as a host's
 * own loop would) and runs the agent to its end. */
static leec_agent *run_my_solver(env *e, my_solver *ms)
{
    leec_code err = LEEC_E_IO;
    leec_solver *s = leec_ctx_add_solver(e->ctx, &my_ops, ms, &err);
    assert_non_null(s);
    assert_int_equal(err, LEEC_OK);
    e->ca->client = NULL; /* the CA cannot look into the solver */
    leec_agent *a = agent_new(e, e->ctx, NAMES2, 2, &e->r);
    assert_int_equal(leec_agent_set_solver(a, s), LEEC_OK);
    assert_int_equal(leec_agent_start(a), LEEC_OK);
    assert_true(fake_drive_until(e->ctx, MAX_ITER, both_pending, ms) > 0);
    assert_int_equal(leec_agent_get_state(a), LEEC_ST_PRESENT);
    assert_int_equal(e->ca->stats.chall_post, 0);
    for (size_t i = 0; i < ms->npending; i++)
        ms->done[i](ms->done_arg[i], ms->fail ? LEEC_E_SOLVER : LEEC_OK,
                    ms->fail ? "my DNS host said no" : NULL);
    /* Taken up by the next perform, never inside done. */
    assert_int_equal(leec_agent_get_state(a), LEEC_ST_PRESENT);
    assert_int_equal(leec_ctx_timeout_ms(e->ctx), 0);
    assert_true(fake_drive(e->ctx, MAX_ITER) > 0);
    assert_int_equal(e->r.done, 1);
    return a;
}

static void test_custom_solver(void **state)
{
    env *e = *state;
    my_solver ms = {0};
    leec_agent *a = run_my_solver(e, &ms);
    assert_issued(e, a);
    /* Each authorization: dns-01 (the CA's first) declined, then
     * http-01. */
    assert_int_equal(ms.presents, 4);
    assert_int_equal(ms.declined, 2);
    assert_string_equal(ms.types[0], "dns-01");
    assert_string_equal(ms.types[1], "http-01");
    assert_string_equal(ms.types[2], "dns-01");
    assert_string_equal(ms.types[3], "http-01");
    assert_int_equal(ms.wrong, 0);
    assert_int_equal(e->ca->stats.chall_post, 2);
    /* Cleanup exactly once per accepted presentation, after validation. */
    assert_int_equal(ms.cleanups, 2);
    assert_int_equal(ms.valid_cleanups, 2);
    assert_int_equal(ms.ops_out, 0);
    assert_int_equal(ms.destroyed, 0);
    free_ctx(e, &ms, 1); /* the solver is the context's */
}

static void test_custom_solver_fails(void **state)
{
    env *e = *state;
    my_solver ms = {.fail = true};
    leec_agent *a = run_my_solver(e, &ms);
    assert_failed(e, a, LEEC_E_SOLVER);
    assert_non_null(
        strstr(leec_agent_error_message(a), "my solver for example.org"));
    assert_non_null(strstr(leec_agent_error_message(a), "my DNS host said no"));
    assert_int_equal(e->ca->stats.chall_post, 0);
    assert_int_equal(ms.cleanups, 2);
    assert_int_equal(ms.valid_cleanups, 0);
    assert_int_equal(ms.ops_out, 0);
    free_ctx(e, &ms, 1);
}

/* A solver of every type that declines them all: the agent fails with
 * LEEC_E_NO_CHALLENGE, naming the last one, and nothing is left over. */
static leec_status decline_present(void *impl, const leec_challenge *ch,
                                   leec_solver_done_fn done, void *done_arg,
                                   void **op)
{
    my_solver *s = impl;
    (void)ch;
    (void)done;
    (void)done_arg;
    (void)op;
    s->presents++;
    s->declined++;
    return LEEC_STATUS_DECLINED;
}

static void test_custom_solver_declines_all(void **state)
{
    env *e = *state;
    my_solver ms = {0};
    leec_code err = LEEC_E_IO;
    /* Not copied: it must outlive the solver (the context). */
    static const leec_solver_ops ops = {
        .type = NULL,
        .name = "my solver",
        .present = decline_present,
        .cleanup = my_cleanup,
        .destroy = my_destroy,
    };

    leec_solver *s = leec_ctx_add_solver(e->ctx, &ops, &ms, &err);
    assert_non_null(s);
    leec_agent *a = agent_new(e, e->ctx, NAMES2, 2, &e->r);
    assert_int_equal(leec_agent_set_solver(a, s), LEEC_OK);
    assert_int_equal(leec_agent_start(a), LEEC_OK);
    assert_true(fake_drive(e->ctx, MAX_ITER) > 0);
    assert_int_equal(e->r.done, 1);
    assert_failed(e, a, LEEC_E_NO_CHALLENGE);
    assert_non_null(strstr(leec_agent_error_message(a),
                           "my solver for example.org: declined http-01"));
    assert_int_equal(ms.presents, 2); /* dns-01, then http-01 */
    assert_int_equal(ms.cleanups, 0); /* nothing presented: none owed */
    assert_int_equal(e->ca->stats.chall_post, 0);
    free_ctx(e, &ms, 1);
}

/* A solver of one type that is ready at once, and the arguments
 * leec_ctx_add_solver refuses (impl destroyed all the same). */
static leec_status ready_present(void *impl, const leec_challenge *ch,
                                 leec_solver_done_fn done, void *done_arg,
                                 void **op)
{
    my_solver *s = impl;
    (void)done;
    (void)done_arg;
    (void)op;
    s->presents++;
    if (strcmp(ch->type, "http-01") != 0 || !challenge_ok(ch))
        s->wrong++;
    return LEEC_STATUS_DONE; /* *op stays NULL: nothing of its own */
}

static leec_status ready_cleanup(void *impl, void *op, bool valid,
                                 leec_solver_done_fn done, void *done_arg)
{
    my_solver *s = impl;
    (void)done;
    (void)done_arg;
    if (op)
        s->wrong++;
    s->cleanups++;
    s->valid_cleanups += valid;
    return LEEC_STATUS_DONE;
}

static void test_custom_solver_ready(void **state)
{
    env *e = *state;
    my_solver ms = {0};
    leec_solver_ops ops = my_ops;
    leec_code err = LEEC_OK;

    ops.present = NULL;
    assert_null(leec_ctx_add_solver(e->ctx, &ops, &ms, &err));
    assert_int_equal(err, LEEC_E_INVALID_ARG);
    assert_int_equal(ms.destroyed, 1);
    ops = my_ops;
    ops.type = "";
    assert_null(leec_ctx_add_solver(e->ctx, &ops, &ms, &err));
    assert_int_equal(ms.destroyed, 2);
    assert_null(leec_ctx_add_solver(NULL, &my_ops, &ms, &err));
    assert_int_equal(err, LEEC_E_INVALID_ARG);
    assert_int_equal(ms.destroyed, 3);

    static const leec_solver_ops ready_ops = {
        .type = "http-01",
        .name = "ready",
        .present = ready_present,
        .cleanup = ready_cleanup,
        .destroy = my_destroy,
    };
    memset(&ms, 0, sizeof ms);
    leec_solver *s = leec_ctx_add_solver(e->ctx, &ready_ops, &ms, &err);
    assert_non_null(s);
    e->ca->client = NULL;
    leec_agent *a = agent_new(e, e->ctx, NAMES2, 2, &e->r);
    assert_int_equal(leec_agent_set_solver(a, s), LEEC_OK);
    assert_int_equal(leec_agent_start(a), LEEC_OK);
    assert_true(fake_drive(e->ctx, MAX_ITER) > 0);
    assert_issued(e, a);
    assert_int_equal(ms.presents, 2); /* only http-01 was offered to it */
    assert_int_equal(ms.wrong, 0);
    assert_int_equal(ms.cleanups, 2);
    assert_int_equal(ms.valid_cleanups, 2);
    free_ctx(e, &ms, 1);
}

/* ------------------------------------------------------------------ */
/* Orders taken up from the journal                                    */
/* ------------------------------------------------------------------ */

/* A run killed as its agent enters kill_at (the agent freed there: no
 * ending runs, the journal keeps the order); then what happened at the CA
 * meanwhile (status: fake_ca_order_set, "" for nothing), and a new run
 * (a new context on the same store, as another process) for names. */
static leec_agent *killed_then_rerun(env *e, leec_agent_state kill_at,
                                     const char *step, const char *status,
                                     const char *const *names, size_t n)
{
    rec r1;
    memset(&r1, 0, sizeof r1);
    r1.free_on_state = kill_at;
    leec_agent *a = agent_new(e, e->ctx, NAMES2, 2, &r1);
    assert_int_equal(leec_agent_start(a), LEEC_OK);
    assert_true(fake_drive(e->ctx, MAX_ITER) > 0);
    assert_int_equal(r1.done, 0);
    assert_int_equal(e->ca->stats.new_order, 1);
    for (int i = 0; i < 2; i++)
        free(r1.ka[i]);

    /* The journal holds the order, at the step reached, and its key (an
     * EC key: chosen when the order was made). */
    leec_store_order o;
    assert_int_equal(
        leec_store_order_read(leec_ctx_get_store(e->ctx), "example.org", &o),
        LEEC_OK);
    assert_string_equal(o.order_url, FAKE_CA_BASE "/order/0");
    assert_string_equal(o.step, step);
    assert_non_null(o.key_pem);
    assert_int_equal(o.nnames, 2);
    assert_non_null(o.account_url);
    leec_store_order_clear(&o);

    if (!status || *status)
        fake_ca_order_set(e->ca, 0, status);
    leec_ctx_free(e->ctx);
    e->ctx = new_ctx(e);
    e->ca->client = e->ctx;
    a = agent_new(e, e->ctx, names, n, &e->r);
    assert_int_equal(leec_agent_start(a), LEEC_OK);
    assert_true(fake_drive(e->ctx, MAX_ITER) > 0);
    dump_log();
    assert_int_equal(e->r.done, 1);
    assert_issued(e, a);
    assert_non_null(leec_agent_order_url(a));
    /* Installed: the journal is empty. */
    assert_int_equal(
        leec_store_order_read(leec_ctx_get_store(e->ctx), "example.org", &o),
        LEEC_E_NOT_FOUND);
    return a;
}

static bool visited(const rec *r, leec_agent_state st)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->to[i] == st)
            return true;
    return false;
}

/* Taken up with its order as the CA has it: no second order. */
static void assert_resumed(env *e, leec_agent *a)
{
    assert_true(leec_agent_resumed(a));
    assert_string_equal(leec_agent_order_url(a), FAKE_CA_BASE "/order/0");
    assert_int_equal(e->r.to[3], LEEC_ST_RESUME);
    assert_false(visited(&e->r, LEEC_ST_NEW_ORDER));
    assert_int_equal(e->ca->stats.new_order, 1);
}

static void test_resume_pending(void **state)
{
    env *e = *state;
    /* Killed before any challenge was answered: both are answered now. */
    leec_agent *a =
        killed_then_rerun(e, LEEC_ST_PRESENT, "ordered", "", NAMES2, 2);
    assert_resumed(e, a);
    assert_int_equal(e->ca->stats.chall_post, 2);
    assert_true(visited(&e->r, LEEC_ST_PRESENT));
}

static void test_resume_pending_answered(void **state)
{
    env *e = *state;
    /* Killed once the challenges were answered, while the CA validates:
     * none is answered again, the authorizations are polled. */
    leec_agent *a =
        killed_then_rerun(e, LEEC_ST_AUTHZ_POLL, "answered", "", NAMES2, 2);
    assert_resumed(e, a);
    assert_int_equal(e->ca->stats.chall_post, 2);
    assert_false(visited(&e->r, LEEC_ST_PRESENT));
    assert_int_equal(e->r.to[4], LEEC_ST_FETCH_AUTHZ);
    assert_int_equal(e->r.to[5], LEEC_ST_AUTHZ_POLL);
}

static void test_resume_ready(void **state)
{
    env *e = *state;
    /* Killed before finalize: finalized now, once, with the journal's
     * key. */
    leec_agent *a =
        killed_then_rerun(e, LEEC_ST_FINALIZE, "answered", "", NAMES2, 2);
    assert_resumed(e, a);
    assert_int_equal(e->r.to[4], LEEC_ST_FINALIZE);
    assert_int_equal(e->ca->stats.finalize, 1);
    assert_int_equal(e->ca->stats.chall_post, 2);
}

static void test_resume_processing(void **state)
{
    env *e = *state;
    /* Killed after finalize: polled, then installed with the journal's
     * key (the chain is accepted only for the key of the CSR). */
    leec_agent *a =
        killed_then_rerun(e, LEEC_ST_ORDER_POLL, "finalized", "", NAMES2, 2);
    assert_resumed(e, a);
    assert_int_equal(e->r.to[4], LEEC_ST_ORDER_POLL);
    assert_int_equal(e->ca->stats.finalize, 1);
}

static void test_resume_valid(void **state)
{
    env *e = *state;
    /* Killed before the download: downloaded, checked, installed. */
    leec_agent *a =
        killed_then_rerun(e, LEEC_ST_DOWNLOAD, "finalized", "", NAMES2, 2);
    assert_resumed(e, a);
    assert_int_equal(e->r.to[4], LEEC_ST_DOWNLOAD);
    assert_int_equal(e->ca->stats.finalize, 1);
    assert_int_equal(e->ca->stats.cert_get, 1);
}

/* The order the journal kept cannot be completed: a new one. */
static void assert_anew(env *e, leec_agent *a)
{
    assert_false(leec_agent_resumed(a));
    assert_string_equal(leec_agent_order_url(a), FAKE_CA_BASE "/order/1");
    assert_int_equal(e->ca->stats.new_order, 2);
}

static void test_resume_invalid(void **state)
{
    env *e = *state;
    leec_agent *a =
        killed_then_rerun(e, LEEC_ST_PRESENT, "ordered", "invalid", NAMES2, 2);
    assert_anew(e, a);
    assert_int_equal(e->r.to[3], LEEC_ST_RESUME);
    assert_int_equal(e->r.to[4], LEEC_ST_NEW_ORDER);
}

static void test_resume_gone(void **state)
{
    env *e = *state;
    leec_agent *a =
        killed_then_rerun(e, LEEC_ST_FINALIZE, "answered", NULL, NAMES2, 2);
    assert_anew(e, a);
    assert_int_equal(e->r.to[3], LEEC_ST_RESUME);
    assert_int_equal(e->r.to[4], LEEC_ST_NEW_ORDER);
}

static void test_resume_other_names(void **state)
{
    env *e = *state;
    /* The certificate now has other names: its old order is not taken up
     * (nor asked about). */
    static const char *const one[] = {"example.org"};
    leec_agent *a =
        killed_then_rerun(e, LEEC_ST_PRESENT, "ordered", "", one, 1);
    assert_anew(e, a);
    assert_false(visited(&e->r, LEEC_ST_RESUME));
    assert_int_equal(fake_http_count("POST", FAKE_CA_BASE "/order/0"), 0);
}

/* A holder that lost its lease (here: its lock file removed, so that
 * another process was granted a newer lease) writes nothing more: its
 * next journal step is refused, and it fails with LEEC_E_FENCED. */
static void test_fenced_writer(void **state)
{
    env *e = *state;
    e->r.hold_on_state = LEEC_ST_FETCH_AUTHZ;
    leec_agent *a = agent_new(e, e->ctx, NAMES2, 2, &e->r);
    assert_int_equal(leec_agent_start(a), LEEC_OK);
    assert_true(fake_drive_until(e->ctx, MAX_ITER, held, NULL) > 0);
    char *lock = NULL;
    assert_true(asprintf(&lock, "%s/locks/cert-example.org.lock", e->dir) > 0);
    assert_int_equal(unlink(lock), 0);
    free(lock);
    leec_store *other = leec_store_fs_new(e->dir, NULL);
    void *h = NULL;
    uint64_t t = 0;
    assert_non_null(other);
    assert_int_equal(Leec_store_lease(other, "cert", "example.org", 60, &h, &t),
                     LEEC_OK);
    fake_http_hold(false);
    assert_true(fake_drive(e->ctx, MAX_ITER) > 0);
    assert_int_equal(e->r.done, 1);
    assert_int_equal(leec_agent_error(a), LEEC_E_FENCED);
    assert_non_null(strstr(leec_strerror(LEEC_E_FENCED), "fenced"));
    /* The entry stays as the holder left it, for the new holder. */
    leec_store_order o;
    assert_int_equal(leec_store_order_read(other, "example.org", &o), LEEC_OK);
    assert_string_equal(o.step, "ordered");
    leec_store_order_clear(&o);
    Leec_store_unlock(other, h);
    leec_store_free(other);
}

/* --throwaway-account=per-certificate: each agent makes an account of its
 * own, signs its order with it and answers with its key authorization
 * (the fake CA checks both against the order's account); none is saved. */
static void test_per_certificate_accounts(void **state)
{
    env *e = *state;
    two_agents(e, LEEC_ACCOUNT_PER_CERTIFICATE);
    assert_int_equal(e->ca->stats.new_account, 2);
    char *pem = NULL, *js = NULL;
    char *id = Leec_ca_id(FAKE_CA_DIR);
    assert_int_equal(
        Leec_store_account_load(leec_ctx_get_store(e->ctx), id, &pem, &js),
        LEEC_E_NOT_FOUND);
    free(id);
}

static bool waits_for_budget(void *ud)
{
    return leec_agent_wait(ud, NULL) == LEEC_WAIT_ORDER_BUDGET;
}

/* The order budget counts the orders of an earlier context on the same
 * store (its budget log): a second context over budget waits until the
 * window that began with the first order has passed, then orders. */
static void test_budget_across_contexts(void **state)
{
    env *e = *state;
    leec_ctx_set_order_budget(e->ctx, 1, 3600);
    leec_agent *a = run_one(e);
    assert_int_equal(leec_agent_get_outcome(a), LEEC_OUTCOME_ISSUED);
    assert_int_equal(e->ca->stats.new_order, 1);
    leec_ctx *ctx2 = new_ctx(e);
    e->ca->client = ctx2;
    leec_ctx_set_order_budget(ctx2, 1, 3600);
    static const char *const n[] = {"other.example"};
    rec r;
    memset(&r, 0, sizeof r);
    leec_agent *b = agent_new(e, ctx2, n, 1, &r);
    assert_int_equal(leec_agent_start(b), LEEC_OK);
    assert_true(fake_drive_until(ctx2, MAX_ITER, waits_for_budget, b) >= 0);
    time_t until = 0;
    assert_int_equal(leec_agent_wait(b, &until), LEEC_WAIT_ORDER_BUDGET);
    /* About an hour from now (the first order was made seconds ago). */
    assert_true(until > time(NULL) + 3500 && until <= time(NULL) + 3601);
    assert_int_equal(e->ca->stats.new_order, 1);
    assert_true(fake_drive(ctx2, MAX_ITER) > 0);
    assert_int_equal(leec_agent_get_outcome(b), LEEC_OUTCOME_ISSUED);
    assert_int_equal(e->ca->stats.new_order, 2);
    for (int i = 0; i < 2; i++)
        free(r.ka[i]);
    leec_ctx_free(ctx2);
    e->ca->client = e->ctx;
}

/* leec_ctx_stop while an authorization is polled: the challenge answer is
 * taken down at once, the agent fails (cancelled) from the next perform,
 * not from the call, and the loop then ends. */
static void test_stop_takes_challenges_down(void **state)
{
    env *e = *state;
    e->r.hold_on_state = LEEC_ST_AUTHZ_POLL;
    leec_agent *a = agent_new(e, e->ctx, NAMES2, 2, &e->r);
    assert_int_equal(leec_agent_start(a), LEEC_OK);
    assert_true(fake_drive_until(e->ctx, MAX_ITER, held, NULL) > 0);
    assert_int_equal(leec_agent_get_state(a), LEEC_ST_AUTHZ_POLL);
    assert_int_equal(Leec_ctx_tokens(e->ctx)->n, 2);
    assert_int_equal(leec_ctx_stop(e->ctx), 2);
    assert_int_equal(e->r.done, 0); /* not from the call */
    assert_int_equal(leec_ctx_stop(e->ctx), 0);
    fake_http_hold(false);
    assert_true(fake_drive(e->ctx, MAX_ITER) > 0);
    assert_int_equal(e->r.done, 1);
    assert_int_equal(leec_agent_error(a), LEEC_E_CANCELLED);
    assert_int_equal(Leec_ctx_tokens(e->ctx)->n, 0);
    unsigned failed = 9;
    assert_int_equal(leec_ctx_cleanups(e->ctx, &failed), 0);
    assert_int_equal(failed, 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_happy_path),
        T(test_rsa_account_ec384_cert),
        T(test_fresh_then_force),
        T(test_two_agents_share_account),
        T(test_per_certificate_accounts),
        T(test_budget_across_contexts),
        T(test_stop_takes_challenges_down),
        T(test_account_lost_mid_flight),
        T(test_default_names),
        T(test_new_nonce_failing),
        T(test_new_nonce_failing_for_good),
        T(test_bad_nonce_retried),
        T(test_bad_nonce_storm),
        T(test_bad_nonce_exhausted),
        T(test_counters_happy_path),
        T(test_counters_bad_nonce),
        T(test_counters_order_wasted),
        T(test_counters_governor_waits),
        T(test_retry_after_honoured),
        T(test_invalid_authorization),
        T(test_authz_for_another_name),
        T(test_authz_of_another_type),
        T(test_authz_in_capitals),
        T(test_controls_from_the_ca_cleaned),
        T(test_rsa_key_on_a_worker),
        T(test_keygen_cancelled),
        T(test_getters_never_act),
        T(test_order_processing_forever),
        T(test_order_timeout_setting),
        T(test_malformed_new_order),
        T(test_wrong_types_new_order),
        T(test_malformed_authz),
        T(test_wrong_types_authz),
        T(test_malformed_order_poll),
        T(test_wrong_types_order_poll),
        T(test_cert_for_other_names),
        T(test_directory_http_url),
        T(test_500_once_on_authz_poll),
        T(test_rejected_identifier_subproblems),
        T(test_hooks_and_backoff),
        T(test_free_in_on_done),
        T(test_free_in_on_done_sync_failure),
        T(test_ctx_free_mid_flight),
        T(test_free_in_on_state),
        T(test_agent_free_mid_flight),
        T(test_ctx_free_right_after_start),
        T(test_terms_of_service),
        T(test_terms_agreed),
        T(test_fake_ca_checks_jws),
        T(test_custom_solver),
        T(test_custom_solver_fails),
        T(test_custom_solver_ready),
        T(test_custom_solver_declines_all),
        T(test_resume_pending),
        T(test_resume_pending_answered),
        T(test_resume_ready),
        T(test_resume_processing),
        T(test_resume_valid),
        T(test_resume_invalid),
        T(test_resume_gone),
        T(test_resume_other_names),
        T(test_fenced_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
