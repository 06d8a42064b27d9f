/* The governor wired into the library, driven against the in-process fake
 * CA over the scripted transport with a fake clock: the parallel limit
 * (QUEUED), the request rate, the CA-wide pause on 429 + Retry-After, the
 * maximum pause, the new-order budget, and what leec_agent_wait() reports
 * meanwhile. No network, no sleeping. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fake.h"
#include "../unit/testutil.h"

#define MAX_ITER   50000
#define MAX_AGENTS 8

typedef struct env env;

/* What one agent's callbacks saw. */
typedef struct slot {
    env *e;
    leec_agent *agent;
    int done;
    leec_outcome outcome;
    bool queued; /* entered QUEUED at least once */
} slot;

struct env {
    char *dir; /* the store, a private temporary folder */
    fake_ca *ca;
    leec_ctx *ctx;
    slot s[MAX_AGENTS];
    size_t n;
    /* orders in flight, as the state callbacks tell it */
    int in_flight, max_in_flight;
    /* the fake CA's view: newOrder requests minus finished agents */
    int ca_max_open;
    /* the first 429 the CA sent */
    bool limited;
    int64_t pause_ms;   /* the pause the test expects after it */
    int64_t limited_t;  /* fake clock when it was answered */
    size_t limited_log; /* log entries submitted before it was answered */
    /* leec_agent_wait() samples taken between perform calls */
    int seen[LEEC_WAIT_LOCK + 1];
    int bad_samples;   /* samples contradicting the expectation */
    int pause_samples; /* samples taken inside the pause */
    char why_bad[256];
};

static void log_fn(void *ud, leec_log_level level, const char *msg)
{
    (void)ud;
    fprintf(stderr, "leec[%d] @%lld: %s\n", (int)level,
            (long long)fake_clock_now(), msg);
}

/* The fake CA, watched: remembers when it first said 429. */
static void responder(void *ud, const fake_request *req, leec_http_resp *resp)
{
    env *e = ud;
    if (strcmp(req->url, FAKE_CA_BASE "/new-order") == 0) {
        int done = 0;
        for (size_t i = 0; i < e->n; i++)
            done += e->s[i].done;
        int open = e->ca->stats.new_order + 1 - done;
        if (open > e->ca_max_open)
            e->ca_max_open = open;
    }
    fake_ca_respond(e->ca, req, resp);
    if (!e->limited && (resp->status == 429 || resp->status == 503)) {
        e->limited = true;
        e->limited_t = fake_clock_now();
        e->limited_log = fake_http_log_count();
    }
}

static int setup(void **state)
{
    env *e = calloc(1, sizeof *e);
    assert_non_null(e);
    assert_non_null(e->dir = tu_tmpdir("leec-gov"));
    e->ca = fake_ca_new();
    fake_http_set_responder(responder, e);
    fake_clock_set(1000000);
    leec_ctx *ctx = leec_ctx_new();
    assert_non_null(ctx);
    assert_int_equal(leec_ctx_set_server(ctx, FAKE_CA_DIR), LEEC_OK);
    leec_code err = LEEC_E_IO;
    leec_store *st = leec_store_fs_new(e->dir, &err);
    assert_non_null(st);
    leec_ctx_set_store(ctx, st);
    Leec_ctx_set_clock(ctx, fake_clock, NULL);
    leec_ctx_set_agree_tos(ctx, true);
    if (getenv("LEEC_TEST_LOG"))
        leec_ctx_set_log(ctx, log_fn, NULL, LEEC_LOG_DEBUG);
    e->ctx = ctx;
    e->ca->client = ctx;
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    leec_ctx_free(e->ctx);
    fake_ca_free(e->ca);
    fake_http_reset();
    assert_int_equal(fake_http_pending(), 0);
    tu_rmtree(e->dir);
    free(e->dir);
    free(e);
    return 0;
}

static bool ordering(leec_agent_state st)
{
    return st >= LEEC_ST_NEW_ORDER && st <= LEEC_ST_INSTALL;
}

static void on_state(void *ud, leec_agent *a, leec_agent_state from,
                     leec_agent_state to)
{
    slot *s = ud;
    (void)a;
    if (to == LEEC_ST_QUEUED)
        s->queued = true;
    if (!ordering(from) && ordering(to))
        s->e->in_flight++;
    if (ordering(from) && !ordering(to))
        s->e->in_flight--;
    if (s->e->in_flight > s->e->max_in_flight)
        s->e->max_in_flight = s->e->in_flight;
}

static void on_done(void *ud, leec_agent *a, leec_outcome outcome)
{
    slot *s = ud;
    (void)a;
    s->done++;
    s->outcome = outcome;
}

/* n agents "<prefix><i>.example.org", started. */
static void start_agents(env *e, size_t n, const char *prefix)
{
    assert_true(n <= MAX_AGENTS);
    for (size_t i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s%zu.example.org", prefix, i);
        const char *names[] = {name};
        leec_code err = LEEC_E_IO;
        slot *s = &e->s[i];
        s->e = e;
        s->agent = leec_agent_new(e->ctx, NULL, names, 1, &err);
        assert_non_null(s->agent);
        assert_int_equal(err, LEEC_OK);
        leec_agent_set_callbacks(s->agent, on_state, on_done, s);
    }
    e->n = n;
    for (size_t i = 0; i < n; i++)
        assert_int_equal(leec_agent_start(e->s[i].agent), LEEC_OK);
}

static bool all_done(env *e)
{
    for (size_t i = 0; i < e->n; i++)
        if (leec_agent_get_outcome(e->s[i].agent) == LEEC_OUTCOME_NONE)
            return false;
    return true;
}

static void bad(env *e, const char *fmt, ...)
{
    e->bad_samples++;
    if (e->why_bad[0])
        return; /* keep the first */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->why_bad, sizeof e->why_bad, fmt, ap);
    va_end(ap);
}

/* Samples every agent's wait reason; checks what must hold at all times. */
static bool sample(void *ud)
{
    env *e = ud;
    int64_t now = fake_clock_now();
    bool in_pause =
        e->limited && e->pause_ms > 0 && now < e->limited_t + e->pause_ms;
    if (in_pause)
        e->pause_samples++;
    for (size_t i = 0; i < e->n; i++) {
        leec_agent *a = e->s[i].agent;
        time_t until = (time_t)-7;
        leec_wait_reason w = leec_agent_wait(a, &until);
        leec_agent_state st = leec_agent_get_state(a);
        if ((int)w < 0 || w > LEEC_WAIT_LOCK) {
            bad(e, "agent %zu: wait reason %d", i, (int)w);
            continue;
        }
        e->seen[w]++;
        if (until == (time_t)-7)
            bad(e, "agent %zu: until not set", i);
        bool finished = st == LEEC_ST_DONE || st == LEEC_ST_FAILED;
        if (finished && w != LEEC_WAIT_NONE)
            bad(e, "agent %zu finished but waits (%s)", i,
                leec_wait_reason_name(w));
        if (st == LEEC_ST_QUEUED && w == LEEC_WAIT_NONE)
            bad(e, "agent %zu QUEUED without a reason", i);
        if (w == LEEC_WAIT_PARALLEL) {
            if (st != LEEC_ST_QUEUED)
                bad(e, "agent %zu: PARALLEL in state %s", i,
                    leec_state_name(st));
            if (until != 0)
                bad(e, "agent %zu: PARALLEL with until %lld", i,
                    (long long)until);
        }
        if (in_pause && !finished) {
            if (w != LEEC_WAIT_PAUSED) {
                bad(e, "agent %zu in %s during the pause: %s (t+%lld ms)", i,
                    leec_state_name(st), leec_wait_reason_name(w),
                    (long long)(now - e->limited_t));
            } else {
                /* wall-clock end: now + what is left of the pause */
                long long left = (e->limited_t + e->pause_ms - now) / 1000;
                long long want = (long long)time(NULL) + left;
                if (llabs((long long)until - want) > 2)
                    bad(e, "agent %zu: PAUSED until %lld, want ~%lld", i,
                        (long long)until, want);
                time_t cu = leec_ctx_paused_until(e->ctx);
                if (llabs((long long)cu - (long long)until) > 1)
                    bad(e, "ctx paused until %lld, agent until %lld",
                        (long long)cu, (long long)until);
            }
        }
    }
    return all_done(e);
}

static void drive(env *e)
{
    int it = fake_drive_until(e->ctx, MAX_ITER, sample, e);
    if (it <= 0)
        for (size_t i = 0; i < e->n; i++)
            fprintf(
                stderr, "agent %zu: %s, wait %s\n", i,
                leec_state_name(leec_agent_get_state(e->s[i].agent)),
                leec_wait_reason_name(leec_agent_wait(e->s[i].agent, NULL)));
    assert_true(it > 0);
    if (e->bad_samples)
        fprintf(stderr, "%d bad samples; first: %s\n", e->bad_samples,
                e->why_bad);
}

static void assert_all_issued(env *e)
{
    for (size_t i = 0; i < e->n; i++) {
        leec_agent *a = e->s[i].agent;
        if (leec_agent_get_outcome(a) != LEEC_OUTCOME_ISSUED)
            fprintf(stderr, "agent %zu: outcome %d, %s: %s\n", i,
                    (int)leec_agent_get_outcome(a),
                    leec_strerror(leec_agent_error(a)),
                    leec_agent_error_message(a));
        assert_int_equal(leec_agent_get_outcome(a), LEEC_OUTCOME_ISSUED);
        assert_int_equal(e->s[i].done, 1);
        char *pem = NULL;
        assert_int_equal(leec_store_read_cert(leec_ctx_get_store(e->ctx),
                                              leec_agent_cert_name(a), &pem),
                         LEEC_OK);
        free(pem);
        assert_int_equal(leec_agent_wait(a, NULL), LEEC_WAIT_NONE);
    }
    assert_int_equal(e->ca->stats.verify_failures, 0);
    assert_int_equal(e->ca->stats.keyauth_failures, 0);
    assert_int_equal(e->in_flight, 0);
}

/* The request log around the first 429, to show what went wrong. */
static void dump_log(env *e)
{
    for (size_t i = 0; i < fake_http_log_count(); i++) {
        const fake_log_entry *l = fake_http_log(i);
        fprintf(stderr, "  %s#%zu t%+lld ms %s %s -> %ld\n",
                i == e->limited_log ? "(429 answered) " : "", i,
                (long long)(l->t_ms - e->limited_t), l->method, l->url,
                l->status);
    }
}

/* ------------------------------------------------------------------ */

/* 5 agents, at most 2 orders in flight: the others wait in QUEUED
 * (PARALLEL, until 0) and start as slots free up. */
static void test_max_parallel(void **state)
{
    env *e = *state;
    leec_ctx_set_max_parallel(e->ctx, 2);
    start_agents(e, 5, "p");
    drive(e);
    assert_all_issued(e);
    assert_int_equal(e->bad_samples, 0);
    assert_int_equal(e->ca->stats.new_order, 5);
    assert_true(e->max_in_flight <= 2);
    assert_int_equal(e->max_in_flight, 2); /* and it did run two at once */
    assert_true(e->ca_max_open <= 2);
    int queued = 0;
    for (size_t i = 0; i < e->n; i++)
        queued += e->s[i].queued;
    assert_true(queued >= 3);
    assert_true(e->seen[LEEC_WAIT_PARALLEL] > 0);
}

/* Raising the limit while agents wait lets them go. */
static bool any_queued(void *ud)
{
    env *e = ud;
    for (size_t i = 0; i < e->n; i++)
        if (leec_agent_get_state(e->s[i].agent) == LEEC_ST_QUEUED)
            return true;
    return false;
}

static void test_max_parallel_changed_while_queued(void **state)
{
    env *e = *state;
    leec_ctx_set_max_parallel(e->ctx, 1);
    start_agents(e, 4, "q");
    assert_true(fake_drive_until(e->ctx, MAX_ITER, any_queued, e) > 0);
    assert_int_equal(e->max_in_flight, 1);
    leec_ctx_set_max_parallel(e->ctx, 0); /* no limit */
    drive(e);
    assert_all_issued(e);
    assert_true(e->max_in_flight >= 2);
}

/* 2 requests per second: request times (fake clock) never beat a token
 * bucket of 2/s with a burst of 2. */
static void test_rate_limit(void **state)
{
    env *e = *state;
    leec_ctx_set_rate_limit(e->ctx, 2);
    leec_ctx_set_max_parallel(e->ctx, 0);
    start_agents(e, 4, "r");
    drive(e);
    assert_all_issued(e);
    size_t n = fake_http_log_count();
    assert_true(n > 10);
    for (size_t i = 0; i < n; i++) {
        int64_t ti = fake_http_log(i)->t_ms;
        for (size_t j = i; j < n; j++) {
            int64_t tj = fake_http_log(j)->t_ms;
            assert_true(tj >= ti); /* the log is in time order */
            /* requests i..j inside [ti, tj]: burst + refill */
            double allowed = 2.0 + 2.0 * (double)(tj - ti) / 1000.0;
            if ((double)(j - i + 1) > allowed + 1e-9) {
                fprintf(stderr,
                        "requests %zu..%zu (%zu) within %lld ms, allowed "
                        "%.2f\n",
                        i, j, j - i + 1, (long long)(tj - ti), allowed);
                fail();
            }
        }
    }
    /* and within any one-second window, at most 2 + 2 */
    int64_t span = fake_http_log(n - 1)->t_ms - fake_http_log(0)->t_ms;
    assert_true(span >= (int64_t)(n - 2) * 500 - 1);
}

/* While a request waits for the rate, its agent says so. */
static void test_rate_limit_wait_reported(void **state)
{
    env *e = *state;
    leec_ctx_set_rate_limit(e->ctx, 1);
    start_agents(e, 3, "w");
    drive(e);
    assert_all_issued(e);
    assert_int_equal(e->bad_samples, 0);
    assert_true(e->seen[LEEC_WAIT_RATE] > 0);
}

/* A 429 with Retry-After: 10 on one agent's newOrder pauses every agent:
 * nothing at all goes to the CA for 10 s, then all carry on. */
static void test_pause_on_429(void **state)
{
    env *e = *state;
    leec_ctx_set_max_parallel(e->ctx, 0);
    e->ca->knobs.limit_endpoint = FAKE_EP_NEW_ORDER;
    e->ca->knobs.limit_count = 1;
    e->ca->knobs.limit_retry_after = "10";
    e->pause_ms = 10000;
    start_agents(e, 5, "z");
    drive(e);
    assert_all_issued(e);
    assert_int_equal(e->ca->stats.limited_sent, 1);
    assert_true(e->limited);
    size_t n = fake_http_log_count();
    assert_true(n > e->limited_log); /* work resumed */
    for (size_t i = e->limited_log; i < n; i++) {
        const fake_log_entry *l = fake_http_log(i);
        if (l->t_ms < e->limited_t + 10000) {
            fprintf(stderr, "%s %s at t+%lld ms, inside the pause\n", l->method,
                    l->url, (long long)(l->t_ms - e->limited_t));
            dump_log(e);
            fail();
        }
    }
    /* the limited agent's newOrder was sent again */
    assert_int_equal(fake_http_count("POST", FAKE_CA_BASE "/new-order"), 6);
    assert_int_equal(e->ca->stats.new_order, 5);
    /* the pause was seen from outside, by every waiting agent */
    if (e->bad_samples)
        fprintf(stderr, "first bad sample: %s\n", e->why_bad);
    assert_int_equal(e->bad_samples, 0);
    assert_true(e->pause_samples > 0);
    assert_true(e->seen[LEEC_WAIT_PAUSED] > 0);
    assert_int_equal(leec_ctx_paused_until(e->ctx), 0);
}

/* A 503 with Retry-After on a poll pauses too. */
static void test_pause_on_503_poll(void **state)
{
    env *e = *state;
    e->ca->knobs.limit_endpoint = FAKE_EP_AUTHZ;
    e->ca->knobs.limit_count = 1;
    e->ca->knobs.limit_status = 503;
    e->ca->knobs.limit_retry_after = "7";
    e->pause_ms = 7000;
    start_agents(e, 2, "s");
    drive(e);
    assert_all_issued(e);
    assert_int_equal(e->ca->stats.limited_sent, 1);
    assert_true(e->limited);
    for (size_t i = e->limited_log; i < fake_http_log_count(); i++)
        assert_true(fake_http_log(i)->t_ms >= e->limited_t + 7000);
}

/* Retry-After beyond leec_ctx_set_max_pause: the agent fails with
 * LEEC_E_RATE_LIMITED and the CA's problem, without waiting it out. */
static void test_pause_longer_than_max(void **state)
{
    env *e = *state;
    leec_ctx_set_max_pause(e->ctx, 60);
    e->ca->knobs.limit_endpoint = FAKE_EP_NEW_ORDER;
    e->ca->knobs.limit_count = 1;
    e->ca->knobs.limit_retry_after = "3600";
    start_agents(e, 1, "m");
    drive(e);
    leec_agent *a = e->s[0].agent;
    assert_int_equal(leec_agent_get_outcome(a), LEEC_OUTCOME_FAILED);
    assert_int_equal(leec_agent_get_state(a), LEEC_ST_FAILED);
    assert_int_equal(leec_agent_error(a), LEEC_E_RATE_LIMITED);
    assert_non_null(leec_agent_error_message(a));
    const leec_problem *p = leec_agent_problem(a);
    assert_non_null(p);
    assert_string_equal(p->type, "urn:ietf:params:acme:error:rateLimited");
    assert_int_equal(p->status, 429);
    assert_int_equal(p->retry_after, 3600);
    /* it did not sit out the hour */
    assert_true(fake_clock_now() - e->limited_t < 60000);
    assert_int_equal(fake_http_count("POST", FAKE_CA_BASE "/new-order"), 1);
    assert_int_equal(leec_agent_wait(a, NULL), LEEC_WAIT_NONE);
    char *pem = NULL;
    assert_int_equal(leec_store_read_cert(leec_ctx_get_store(e->ctx),
                                          "m0.example.org", &pem),
                     LEEC_E_NOT_FOUND);
    assert_int_equal(Leec_ctx_tokens(e->ctx)->n, 0);
}

/* The same with other agents running: the CA-wide pause is too long for
 * them as well, so none of them waits it out (an hour here) either. */
static void test_pause_longer_than_max_many(void **state)
{
    env *e = *state;
    leec_ctx_set_max_pause(e->ctx, 60);
    e->ca->knobs.limit_endpoint = FAKE_EP_NEW_ORDER;
    e->ca->knobs.limit_count = 1;
    e->ca->knobs.limit_retry_after = "3600";
    start_agents(e, 3, "n");
    drive(e);
    int limited = 0;
    for (size_t i = 0; i < e->n; i++) {
        leec_agent *a = e->s[i].agent;
        if (leec_agent_get_outcome(a) == LEEC_OUTCOME_FAILED) {
            assert_int_equal(leec_agent_error(a), LEEC_E_RATE_LIMITED);
            limited++;
        } else {
            assert_int_equal(leec_agent_get_outcome(a), LEEC_OUTCOME_ISSUED);
        }
    }
    assert_true(limited >= 1);
    /* nothing sat out the hour */
    if (fake_clock_now() - e->limited_t >= 60000) {
        fprintf(stderr, "the run took %lld s of fake time after the 429\n",
                (long long)(fake_clock_now() - e->limited_t) / 1000);
        dump_log(e);
    }
    assert_true(fake_clock_now() - e->limited_t < 60000);
}

/* Within the maximum pause it is waited out, not failed. */
static void test_pause_within_max(void **state)
{
    env *e = *state;
    leec_ctx_set_max_pause(e->ctx, 60);
    e->ca->knobs.limit_endpoint = FAKE_EP_NEW_ORDER;
    e->ca->knobs.limit_count = 1;
    e->ca->knobs.limit_retry_after = "59";
    start_agents(e, 1, "k");
    drive(e);
    assert_all_issued(e);
    for (size_t i = e->limited_log; i < fake_http_log_count(); i++)
        assert_true(fake_http_log(i)->t_ms >= e->limited_t + 59000);
}

/* 2 new orders per 60 s: the third agent waits ORDER_BUDGET until the
 * first order leaves the window. */
static void test_order_budget(void **state)
{
    env *e = *state;
    leec_ctx_set_order_budget(e->ctx, 2, 60);
    start_agents(e, 3, "b");
    drive(e);
    assert_all_issued(e);
    int64_t t[3];
    size_t k = 0;
    for (size_t i = 0; i < fake_http_log_count() && k < 3; i++)
        if (strcmp(fake_http_log(i)->url, FAKE_CA_BASE "/new-order") == 0)
            t[k++] = fake_http_log(i)->t_ms;
    assert_int_equal(k, 3);
    assert_true(t[2] >= t[0] + 60000);
    assert_true(e->seen[LEEC_WAIT_ORDER_BUDGET] > 0);
}

/* fake clock time of the newOrder whose payload names name, or -1 */
static int64_t new_order_time(const char *name)
{
    for (size_t i = 0; i < fake_http_log_count(); i++) {
        const fake_log_entry *l = fake_http_log(i);
        if (strcmp(l->url, FAKE_CA_BASE "/new-order") == 0 && l->payload &&
            strstr(l->payload, name) && l->status == 201)
            return l->t_ms;
    }
    return -1;
}

/* 2 certificates per registered domain per 60 s: a third under
 * example.org waits DOMAIN_BUDGET, example.net does not; two names of one
 * registered domain in one order count once. */
static void test_domain_budget(void **state)
{
    env *e = *state;
    leec_ctx_set_domain_budget(e->ctx, 2, 60);
    static const char *const n0[] = {"a.example.org", "www.a.example.org"};
    static const char *const n1[] = {"b.example.org"};
    static const char *const n2[] = {"c.example.org"};
    static const char *const n3[] = {"x.example.net"};
    static const char *const *names[] = {n0, n1, n2, n3};
    static const size_t nn[] = {2, 1, 1, 1};
    for (size_t i = 0; i < 4; i++) {
        leec_code err = LEEC_E_IO;
        e->s[i].e = e;
        e->s[i].agent = leec_agent_new(e->ctx, NULL, names[i], nn[i], &err);
        assert_non_null(e->s[i].agent);
        leec_agent_set_callbacks(e->s[i].agent, on_state, on_done, &e->s[i]);
    }
    e->n = 4;
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(leec_agent_start(e->s[i].agent), LEEC_OK);
    drive(e);
    assert_all_issued(e);
    int64_t ta = new_order_time("\"a.example.org\"");
    int64_t tb = new_order_time("b.example.org");
    int64_t tc = new_order_time("c.example.org");
    int64_t tx = new_order_time("x.example.net");
    assert_true(ta >= 0 && tb >= 0 && tc >= 0 && tx >= 0);
    /* whichever two went first, the third waited out the window */
    int64_t t[3] = {ta, tb, tc};
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            if (t[j] < t[i]) {
                int64_t x = t[i];
                t[i] = t[j];
                t[j] = x;
            }
    assert_true(t[1] < t[0] + 60000);
    assert_true(t[2] >= t[0] + 60000);
    assert_true(tx < t[0] + 60000);
    assert_true(e->seen[LEEC_WAIT_DOMAIN_BUDGET] > 0);
}

static bool ordering_started(void *ud)
{
    env *e = ud;
    return leec_agent_get_state(e->s[0].agent) >= LEEC_ST_NEW_ORDER;
}

/* Two contexts on one store (as two processes): while the first orders
 * the certificate, the second waits for its lock (LEEC_WAIT_LOCK, until 0)
 * and then finds it fresh; one order in all. */
static void test_lock_two_contexts(void **state)
{
    env *e = *state;
    start_agents(e, 1, "lk");
    assert_true(fake_drive_until(e->ctx, MAX_ITER, ordering_started, e) > 0);

    leec_ctx *b = leec_ctx_new();
    assert_non_null(b);
    assert_int_equal(leec_ctx_set_server(b, FAKE_CA_DIR), LEEC_OK);
    leec_code err = LEEC_E_IO;
    leec_store *st = leec_store_fs_new(e->dir, &err);
    assert_non_null(st);
    leec_ctx_set_store(b, st);
    Leec_ctx_set_clock(b, fake_clock, NULL);
    leec_ctx_set_agree_tos(b, true);
    if (getenv("LEEC_TEST_LOG"))
        leec_ctx_set_log(b, log_fn, NULL, LEEC_LOG_DEBUG);
    const char *names[] = {"lk0.example.org"};
    leec_agent *ab = leec_agent_new(b, NULL, names, 1, &err);
    assert_non_null(ab);
    assert_int_equal(leec_agent_start(ab), LEEC_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(leec_ctx_perform(b, NULL), LEEC_OK);
    time_t until = (time_t)-7;
    assert_int_equal(leec_agent_wait(ab, &until), LEEC_WAIT_LOCK);
    assert_int_equal(until, 0);
    assert_int_equal(leec_agent_get_outcome(ab), LEEC_OUTCOME_NONE);

    drive(e); /* the first one finishes and lets go of the lock */
    assert_all_issued(e);
    assert_true(fake_drive(b, MAX_ITER) > 0);
    if (leec_agent_get_outcome(ab) != LEEC_OUTCOME_FRESH)
        fprintf(stderr, "second: outcome %d, %s\n",
                (int)leec_agent_get_outcome(ab), leec_agent_error_message(ab));
    assert_int_equal(leec_agent_get_outcome(ab), LEEC_OUTCOME_FRESH);
    assert_int_equal(leec_agent_wait(ab, NULL), LEEC_WAIT_NONE);
    assert_int_equal(e->ca->stats.new_order, 1);
    assert_string_equal(leec_agent_cert_pem(ab),
                        leec_agent_cert_pem(e->s[0].agent));
    leec_ctx_free(b);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_max_parallel),
        T(test_max_parallel_changed_while_queued),
        T(test_rate_limit),
        T(test_rate_limit_wait_reported),
        T(test_pause_on_429),
        T(test_pause_on_503_poll),
        T(test_pause_longer_than_max),
        T(test_pause_longer_than_max_many),
        T(test_pause_within_max),
        T(test_order_budget),
        T(test_domain_budget),
        T(test_lock_two_contexts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
