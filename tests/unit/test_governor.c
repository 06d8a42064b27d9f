/* The governor (lib/governor.c): parallel limit, request rate, CA-wide
 * pause, order and per-domain budgets. Pure logic with explicit
 * millisecond times: nothing sleeps. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "engine/governor.h"

#define T0 ((int64_t)1000000) /* an arbitrary start time (ms) */

static const char *const EX[] = {"example.com"};
static const char *const EX_TWICE[] = {"example.com", "example.com"};
static const char *const ORG[] = {"example.org"};
static const char *const EX_ORG[] = {"example.org", "example.com"};

static leec_governor *gov(unsigned max_parallel, double rate, unsigned orders,
                          int64_t orders_window_ms, unsigned certs,
                          int64_t certs_window_ms)
{
    leec_governor *g = Leec_gov_new();
    assert_non_null(g);
    leec_gov_limits l;
    memset(&l, 0, sizeof l);
    l.max_parallel = max_parallel;
    l.rate = rate;
    l.orders_per_window = orders;
    l.orders_window_ms = orders_window_ms;
    l.certs_per_domain = certs;
    l.certs_window_ms = certs_window_ms;
    Leec_gov_set_limits(g, &l);
    const leec_gov_limits *got = Leec_gov_limits_get(g);
    assert_int_equal(got->max_parallel, max_parallel);
    assert_int_equal(got->orders_per_window, orders);
    assert_int_equal(got->certs_per_domain, certs);
    return g;
}

/* order_admit wrapper: returns the reason, *until in until. */
static leec_wait_reason admit(leec_governor *g, int64_t now,
                              const char *const *d, size_t n, int64_t *until)
{
    int64_t u = 12345; /* must be overwritten */
    leec_wait_reason r = Leec_gov_order_admit(g, now, d, n, &u);
    if (until)
        *until = u;
    return r;
}

/* ------------------------------------------------------------------ */
/* Parallel limit                                                      */
/* ------------------------------------------------------------------ */

static void test_parallel_limit(void **state)
{
    (void)state;
    leec_governor *g = gov(3, 0, 0, 0, 0, 0);
    int64_t until = 0;
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(admit(g, T0, EX, 1, &until), LEEC_WAIT_NONE);
        assert_int_equal(Leec_gov_in_flight(g), i + 1);
    }
    /* Full: PARALLEL, ask again when another order finishes (-1). */
    assert_int_equal(admit(g, T0, EX, 1, &until), LEEC_WAIT_PARALLEL);
    assert_int_equal(until, -1);
    /* Time alone does not help. */
    assert_int_equal(admit(g, T0 + 3600000, ORG, 1, &until),
                     LEEC_WAIT_PARALLEL);
    assert_int_equal(until, -1);
    assert_int_equal(Leec_gov_in_flight(g), 3);

    /* One finishes (issued or not): one slot, exactly. */
    Leec_gov_order_done(g, T0 + 10, EX, 1, true, true);
    assert_int_equal(Leec_gov_in_flight(g), 2);
    assert_int_equal(admit(g, T0 + 10, EX, 1, &until), LEEC_WAIT_NONE);
    assert_int_equal(admit(g, T0 + 10, EX, 1, &until), LEEC_WAIT_PARALLEL);
    Leec_gov_order_done(g, T0 + 20, EX, 1, true, false);
    assert_int_equal(admit(g, T0 + 20, EX, 1, &until), LEEC_WAIT_NONE);

    for (int i = 0; i < 3; i++)
        Leec_gov_order_done(g, T0 + 30, EX, 1, true, true);
    assert_int_equal(Leec_gov_in_flight(g), 0);
    /* done without a matching admit never underflows */
    Leec_gov_order_done(g, T0 + 40, EX, 1, true, true);
    assert_int_equal(Leec_gov_in_flight(g), 0);
    Leec_gov_free(g);
}

static void test_parallel_unlimited(void **state)
{
    (void)state;
    leec_governor *g = gov(0, 0, 0, 0, 0, 0);
    for (unsigned i = 0; i < 1000; i++)
        assert_int_equal(admit(g, T0, EX, 1, NULL), LEEC_WAIT_NONE);
    assert_int_equal(Leec_gov_in_flight(g), 1000);
    /* no limits at all: requests always go */
    for (int i = 0; i < 1000; i++)
        assert_int_equal(Leec_gov_request_admit(g, T0, NULL), 0);
    Leec_gov_free(g);
}

/* ------------------------------------------------------------------ */
/* Request rate                                                        */
/* ------------------------------------------------------------------ */

static void test_rate_burst_then_wait(void **state)
{
    (void)state;
    leec_governor *g = gov(0, 5, 0, 0, 0, 0);
    leec_wait_reason why = LEEC_WAIT_NONE;
    for (int i = 0; i < 5; i++)
        assert_int_equal(Leec_gov_request_admit(g, T0, &why), 0);
    /* 6th at the same instant: one token takes 200 ms at 5/s */
    why = LEEC_WAIT_NONE;
    int64_t w = Leec_gov_request_admit(g, T0, &why);
    assert_int_equal(why, LEEC_WAIT_RATE);
    assert_in_range(w, 190, 210);
    /* Asking again too early still waits, for the rest of it. */
    why = LEEC_WAIT_NONE;
    int64_t w2 = Leec_gov_request_admit(g, T0 + 100, &why);
    assert_int_equal(why, LEEC_WAIT_RATE);
    assert_in_range(w2, 90, 110);
    /* At the announced time it goes, and only one does. */
    assert_int_equal(Leec_gov_request_admit(g, T0 + w, &why), 0);
    assert_true(Leec_gov_request_admit(g, T0 + w, &why) > 0);
    /* why may be NULL */
    assert_true(Leec_gov_request_admit(g, T0 + w, NULL) > 0);
    Leec_gov_free(g);
}

static void test_rate_refill_and_cap(void **state)
{
    (void)state;
    leec_governor *g = gov(0, 5, 0, 0, 0, 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(Leec_gov_request_admit(g, T0, NULL), 0);
    /* 400 ms refill two tokens */
    int64_t t = T0 + 400;
    assert_int_equal(Leec_gov_request_admit(g, t, NULL), 0);
    assert_int_equal(Leec_gov_request_admit(g, t, NULL), 0);
    assert_true(Leec_gov_request_admit(g, t, NULL) > 0);

    /* Steady state: one every 200 ms, never faster. */
    int sent = 0;
    for (int64_t now = t; now < t + 10000; now += 10)
        if (Leec_gov_request_admit(g, now, NULL) == 0)
            sent++;
    assert_in_range(sent, 49, 51);

    /* A long idle time refills only up to the burst (one second's worth). */
    t += 3600000;
    for (int i = 0; i < 5; i++)
        assert_int_equal(Leec_gov_request_admit(g, t, NULL), 0);
    leec_wait_reason why = LEEC_WAIT_NONE;
    assert_true(Leec_gov_request_admit(g, t, &why) > 0);
    assert_int_equal(why, LEEC_WAIT_RATE);
    Leec_gov_free(g);
}

static void test_rate_below_one(void **state)
{
    (void)state;
    /* 0.5/s: burst of one request, then one per 2 s */
    leec_governor *g = gov(0, 0.5, 0, 0, 0, 0);
    assert_int_equal(Leec_gov_request_admit(g, T0, NULL), 0);
    int64_t w = Leec_gov_request_admit(g, T0, NULL);
    assert_in_range(w, 1990, 2010);
    assert_int_equal(Leec_gov_request_admit(g, T0 + w, NULL), 0);
    Leec_gov_free(g);
}

/* ------------------------------------------------------------------ */
/* CA-wide pause                                                       */
/* ------------------------------------------------------------------ */

static void test_pause_429(void **state)
{
    (void)state;
    leec_governor *g = gov(10, 0, 0, 0, 0, 0);
    assert_int_equal(Leec_gov_paused_until(g, T0), 0);
    int64_t end = Leec_gov_on_response(g, T0, 429, 30);
    assert_int_equal(end, T0 + 30000);
    assert_int_equal(Leec_gov_paused_until(g, T0), T0 + 30000);

    /* Every request waits for the rest of the pause. */
    leec_wait_reason why = LEEC_WAIT_NONE;
    assert_int_equal(Leec_gov_request_admit(g, T0, &why), 30000);
    assert_int_equal(why, LEEC_WAIT_PAUSED);
    why = LEEC_WAIT_NONE;
    assert_int_equal(Leec_gov_request_admit(g, T0 + 12345, &why),
                     30000 - 12345);
    assert_int_equal(why, LEEC_WAIT_PAUSED);
    assert_int_equal(Leec_gov_request_admit(g, T0 + 29999, &why), 1);

    /* New orders wait too, until the end. */
    int64_t until = 0;
    assert_int_equal(admit(g, T0 + 5000, EX, 1, &until), LEEC_WAIT_PAUSED);
    assert_int_equal(until, T0 + 30000);
    assert_int_equal(Leec_gov_in_flight(g), 0);

    /* A shorter Retry-After later on does not shorten it. */
    assert_int_equal(Leec_gov_on_response(g, T0 + 1000, 429, 5), -1);
    assert_int_equal(Leec_gov_paused_until(g, T0 + 1000), T0 + 30000);
    assert_int_equal(Leec_gov_on_response(g, T0 + 1000, 503, 0), -1);
    assert_int_equal(Leec_gov_paused_until(g, T0 + 1000), T0 + 30000);

    /* It ends at the right time. */
    assert_int_equal(Leec_gov_paused_until(g, T0 + 30000), 0);
    assert_int_equal(Leec_gov_request_admit(g, T0 + 30000, &why), 0);
    assert_int_equal(admit(g, T0 + 30000, EX, 1, &until), LEEC_WAIT_NONE);
    Leec_gov_free(g);
}

static void test_pause_extended_by_longer(void **state)
{
    (void)state;
    leec_governor *g = gov(0, 0, 0, 0, 0, 0);
    assert_int_equal(Leec_gov_on_response(g, T0, 429, 30), T0 + 30000);
    /* a longer one later extends it */
    assert_int_equal(Leec_gov_on_response(g, T0 + 10000, 429, 60), T0 + 70000);
    assert_int_equal(Leec_gov_paused_until(g, T0 + 40000), T0 + 70000);
    assert_int_equal(Leec_gov_request_admit(g, T0 + 40000, NULL), 30000);
    assert_int_equal(Leec_gov_request_admit(g, T0 + 70000, NULL), 0);
    Leec_gov_free(g);
}

static void test_pause_503_and_others(void **state)
{
    (void)state;
    leec_governor *g = gov(0, 0, 0, 0, 0, 0);
    /* Statuses that are not 429/503 never pause. */
    const long other[] = {200, 201, 204, 400, 403, 404, 500, 502, 504};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        assert_int_equal(Leec_gov_on_response(g, T0, other[i], 30), -1);
        assert_int_equal(Leec_gov_paused_until(g, T0), 0);
        assert_int_equal(Leec_gov_request_admit(g, T0, NULL), 0);
    }
    /* 503 pauses like 429 */
    assert_int_equal(Leec_gov_on_response(g, T0, 503, 7), T0 + 7000);
    leec_wait_reason why = LEEC_WAIT_NONE;
    assert_int_equal(Leec_gov_request_admit(g, T0 + 2000, &why), 5000);
    assert_int_equal(why, LEEC_WAIT_PAUSED);
    assert_int_equal(Leec_gov_paused_until(g, T0 + 7000), 0);
    Leec_gov_free(g);
}

static void test_pause_without_retry_after(void **state)
{
    (void)state;
    leec_governor *g = gov(0, 0, 0, 0, 0, 0);
    int64_t end = Leec_gov_on_response(g, T0, 429, -1);
    assert_true(end > T0); /* a default pause, > 0 */
    assert_int_equal(Leec_gov_paused_until(g, T0), end);
    leec_wait_reason why = LEEC_WAIT_NONE;
    assert_int_equal(Leec_gov_request_admit(g, T0, &why), end - T0);
    assert_int_equal(why, LEEC_WAIT_PAUSED);
    assert_int_equal(Leec_gov_request_admit(g, end, NULL), 0);

    leec_governor *g2 = gov(0, 0, 0, 0, 0, 0);
    assert_true(Leec_gov_on_response(g2, T0, 503, -1) > T0);
    Leec_gov_free(g2);
    Leec_gov_free(g);
}

static void test_pause_and_rate_together(void **state)
{
    (void)state;
    leec_governor *g = gov(0, 2, 0, 0, 0, 0);
    assert_int_equal(Leec_gov_on_response(g, T0, 429, 3), T0 + 3000);
    leec_wait_reason why = LEEC_WAIT_NONE;
    assert_true(Leec_gov_request_admit(g, T0, &why) > 0);
    assert_int_equal(why, LEEC_WAIT_PAUSED);
    /* after the pause the rate limit still applies: the burst, then wait */
    assert_int_equal(Leec_gov_request_admit(g, T0 + 3000, NULL), 0);
    assert_int_equal(Leec_gov_request_admit(g, T0 + 3000, NULL), 0);
    why = LEEC_WAIT_NONE;
    assert_true(Leec_gov_request_admit(g, T0 + 3000, &why) > 0);
    assert_int_equal(why, LEEC_WAIT_RATE);
    Leec_gov_free(g);
}

/* ------------------------------------------------------------------ */
/* Budgets                                                             */
/* ------------------------------------------------------------------ */

static void test_order_budget(void **state)
{
    (void)state;
    /* 3 new orders per 10 s */
    leec_governor *g = gov(0, 0, 3, 10000, 0, 0);
    int64_t until = 0;
    assert_int_equal(admit(g, T0, EX, 1, &until), LEEC_WAIT_NONE);
    assert_int_equal(admit(g, T0 + 1000, ORG, 1, &until), LEEC_WAIT_NONE);
    assert_int_equal(admit(g, T0 + 2000, EX, 1, &until), LEEC_WAIT_NONE);
    /* 4th waits until the oldest leaves the window */
    assert_int_equal(admit(g, T0 + 3000, ORG, 1, &until),
                     LEEC_WAIT_ORDER_BUDGET);
    assert_int_equal(until, T0 + 10000);
    /* finishing orders does not give the order budget back */
    Leec_gov_order_done(g, T0 + 4000, EX, 1, true, false);
    Leec_gov_order_done(g, T0 + 4000, ORG, 1, true, true);
    assert_int_equal(admit(g, T0 + 4000, ORG, 1, &until),
                     LEEC_WAIT_ORDER_BUDGET);
    assert_int_equal(until, T0 + 10000);
    assert_int_equal(admit(g, T0 + 9999, ORG, 1, &until),
                     LEEC_WAIT_ORDER_BUDGET);
    /* at oldest + window: exactly one more */
    assert_int_equal(admit(g, T0 + 10000, ORG, 1, &until), LEEC_WAIT_NONE);
    assert_int_equal(admit(g, T0 + 10000, ORG, 1, &until),
                     LEEC_WAIT_ORDER_BUDGET);
    assert_int_equal(until, T0 + 11000);
    Leec_gov_free(g);
}

static void test_domain_budget(void **state)
{
    (void)state;
    /* 2 certificates per registered domain per 60 s */
    leec_governor *g = gov(0, 0, 0, 0, 2, 60000);
    int64_t until = 0;
    assert_int_equal(admit(g, T0, EX, 1, &until), LEEC_WAIT_NONE);
    assert_int_equal(admit(g, T0 + 500, EX, 1, &until), LEEC_WAIT_NONE);
    /* a third for example.com waits... */
    assert_int_equal(admit(g, T0 + 1000, EX, 1, &until),
                     LEEC_WAIT_DOMAIN_BUDGET);
    assert_int_equal(until, T0 + 60000);
    /* ...also as one domain among others */
    assert_int_equal(admit(g, T0 + 1000, EX_ORG, 2, &until),
                     LEEC_WAIT_DOMAIN_BUDGET);
    assert_int_equal(until, T0 + 60000);
    /* another domain does not; the refused EX_ORG charged nothing */
    assert_int_equal(admit(g, T0 + 1000, ORG, 1, &until), LEEC_WAIT_NONE);
    assert_int_equal(admit(g, T0 + 1000, ORG, 1, &until), LEEC_WAIT_NONE);
    assert_int_equal(admit(g, T0 + 1000, ORG, 1, &until),
                     LEEC_WAIT_DOMAIN_BUDGET);
    assert_int_equal(until, T0 + 60000 + 1000);

    /* the window moves on */
    assert_int_equal(admit(g, T0 + 60000, EX, 1, &until), LEEC_WAIT_NONE);
    assert_int_equal(admit(g, T0 + 60000, EX, 1, &until),
                     LEEC_WAIT_DOMAIN_BUDGET);
    assert_int_equal(until, T0 + 500 + 60000);
    assert_int_equal(admit(g, T0 + 60500, EX, 1, &until), LEEC_WAIT_NONE);
    Leec_gov_free(g);
}

static void test_domain_budget_failed_order_gives_back(void **state)
{
    (void)state;
    leec_governor *g = gov(0, 0, 0, 0, 2, 60000);
    int64_t until = 0;
    assert_int_equal(admit(g, T0, EX, 1, &until), LEEC_WAIT_NONE);
    assert_int_equal(admit(g, T0 + 10, EX, 1, &until), LEEC_WAIT_NONE);
    assert_int_equal(admit(g, T0 + 20, EX, 1, &until), LEEC_WAIT_DOMAIN_BUDGET);
    /* the second fails: its reservation comes back */
    Leec_gov_order_done(g, T0 + 30, EX, 1, true, false);
    assert_int_equal(admit(g, T0 + 40, EX, 1, &until), LEEC_WAIT_NONE);
    assert_int_equal(admit(g, T0 + 50, EX, 1, &until), LEEC_WAIT_DOMAIN_BUDGET);
    /* an issued one keeps it */
    Leec_gov_order_done(g, T0 + 60, EX, 1, true, true);
    assert_int_equal(admit(g, T0 + 70, EX, 1, &until), LEEC_WAIT_DOMAIN_BUDGET);
    /* a failed order over two domains gives both back */
    assert_int_equal(admit(g, T0 + 80, ORG, 1, &until), LEEC_WAIT_NONE);
    Leec_gov_order_done(g, T0 + 90, EX, 1, true, false); /* frees one EX */
    assert_int_equal(admit(g, T0 + 100, EX_ORG, 2, &until), LEEC_WAIT_NONE);
    Leec_gov_order_done(g, T0 + 110, EX_ORG, 2, true, false);
    assert_int_equal(admit(g, T0 + 120, ORG, 1, &until), LEEC_WAIT_NONE);
    assert_int_equal(admit(g, T0 + 130, EX, 1, &until), LEEC_WAIT_NONE);
    assert_int_equal(admit(g, T0 + 140, ORG, 1, &until),
                     LEEC_WAIT_DOMAIN_BUDGET);
    assert_int_equal(admit(g, T0 + 140, EX, 1, &until),
                     LEEC_WAIT_DOMAIN_BUDGET);
    Leec_gov_free(g);
}

static void test_domain_budget_same_domain_counts_once(void **state)
{
    (void)state;
    /* One order for www.example.com + example.com: the caller passes the
     * registered domain per name; it is one certificate for example.com. */
    leec_governor *g = gov(0, 0, 0, 0, 2, 60000);
    int64_t until = 0;
    assert_int_equal(admit(g, T0, EX_TWICE, 2, &until), LEEC_WAIT_NONE);
    assert_int_equal(admit(g, T0 + 1, EX_TWICE, 2, &until), LEEC_WAIT_NONE);
    assert_int_equal(admit(g, T0 + 2, EX_TWICE, 2, &until),
                     LEEC_WAIT_DOMAIN_BUDGET);
    /* and a failure gives back exactly one */
    Leec_gov_order_done(g, T0 + 3, EX_TWICE, 2, true, false);
    assert_int_equal(admit(g, T0 + 4, EX, 1, &until), LEEC_WAIT_NONE);
    assert_int_equal(admit(g, T0 + 5, EX, 1, &until), LEEC_WAIT_DOMAIN_BUDGET);
    Leec_gov_free(g);
}

static void test_many_domains(void **state)
{
    (void)state;
    /* the domain table grows past its first size */
    leec_governor *g = gov(0, 0, 0, 0, 1, 60000);
    char buf[64];
    for (int i = 0; i < 500; i++) {
        snprintf(buf, sizeof buf, "d%d.example", i);
        const char *d[] = {buf};
        assert_int_equal(admit(g, T0, d, 1, NULL), LEEC_WAIT_NONE);
    }
    for (int i = 0; i < 500; i++) {
        snprintf(buf, sizeof buf, "d%d.example", i);
        const char *d[] = {buf};
        assert_int_equal(admit(g, T0, d, 1, NULL), LEEC_WAIT_DOMAIN_BUDGET);
    }
    Leec_gov_free(g);
}

static void test_order_checks_combined(void **state)
{
    (void)state;
    /* parallel + order budget: a refused order charges no budget */
    leec_governor *g = gov(1, 0, 2, 10000, 0, 0);
    int64_t until = 0;
    assert_int_equal(admit(g, T0, EX, 1, &until), LEEC_WAIT_NONE);
    for (int i = 0; i < 10; i++)
        assert_int_equal(admit(g, T0 + i, ORG, 1, &until), LEEC_WAIT_PARALLEL);
    Leec_gov_order_done(g, T0 + 100, EX, 1, true, true);
    assert_int_equal(admit(g, T0 + 100, ORG, 1, &until), LEEC_WAIT_NONE);
    Leec_gov_order_done(g, T0 + 200, ORG, 1, true, true);
    assert_int_equal(admit(g, T0 + 200, ORG, 1, &until),
                     LEEC_WAIT_ORDER_BUDGET);
    assert_int_equal(until, T0 + 10000);
    Leec_gov_free(g);
}

/* Changing limits mid-run (leec_ctx_set_max_parallel "at any time") keeps
 * what was spent: in-flight orders, the pause, the budgets, and the
 * request tokens (no fresh burst). */
static void test_set_limits_keeps_state(void **state)
{
    (void)state;
    leec_governor *g = gov(2, 5, 3, 10000, 0, 0);
    int64_t until = 0;
    assert_int_equal(admit(g, T0, EX, 1, &until), LEEC_WAIT_NONE);
    assert_int_equal(admit(g, T0, EX, 1, &until), LEEC_WAIT_NONE);
    for (int i = 0; i < 5; i++)
        assert_int_equal(Leec_gov_request_admit(g, T0, NULL), 0);
    assert_int_equal(Leec_gov_on_response(g, T0, 429, 1), T0 + 1000);

    leec_gov_limits l = *Leec_gov_limits_get(g);
    l.max_parallel = 3;
    Leec_gov_set_limits(g, &l);
    assert_int_equal(Leec_gov_in_flight(g), 2);
    assert_int_equal(Leec_gov_paused_until(g, T0), T0 + 1000);
    /* after the pause: one more order fits the parallel limit, and the
     * order budget (3) has one left */
    assert_int_equal(admit(g, T0 + 1000, EX, 1, &until), LEEC_WAIT_NONE);
    Leec_gov_order_done(g, T0 + 1000, EX, 1, true, true);
    assert_int_equal(admit(g, T0 + 1000, EX, 1, &until),
                     LEEC_WAIT_ORDER_BUDGET);

    /* the bucket: 5 spent at T0, 1000 ms of refill at 5/s = 5 tokens */
    for (int i = 0; i < 5; i++)
        assert_int_equal(Leec_gov_request_admit(g, T0 + 1000, NULL), 0);
    l.max_parallel = 4;
    Leec_gov_set_limits(g, &l); /* must not hand out another burst */
    leec_wait_reason why = LEEC_WAIT_NONE;
    assert_true(Leec_gov_request_admit(g, T0 + 1000, &why) > 0);
    assert_int_equal(why, LEEC_WAIT_RATE);
    Leec_gov_free(g);
}

static void test_free_null(void **state)
{
    (void)state;
    Leec_gov_free(NULL);
}

/* ------------------------------------------------------------------ */
/* Names                                                               */
/* ------------------------------------------------------------------ */

static void test_wait_reason_names(void **state)
{
    (void)state;
    const leec_wait_reason all[] = {
        LEEC_WAIT_NONE,   LEEC_WAIT_PARALLEL,     LEEC_WAIT_RATE,
        LEEC_WAIT_PAUSED, LEEC_WAIT_ORDER_BUDGET, LEEC_WAIT_DOMAIN_BUDGET,
        LEEC_WAIT_LOCK,
    };
    const size_t n = sizeof all / sizeof all[0];
    for (size_t i = 0; i < n; i++) {
        const char *s = leec_wait_reason_name(all[i]);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        assert_string_not_equal(s, "unknown");
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(s, leec_wait_reason_name(all[j]));
    }
    assert_string_equal(leec_wait_reason_name(LEEC_WAIT_PARALLEL),
                        "parallel limit");
    assert_string_equal(leec_wait_reason_name(LEEC_WAIT_PAUSED), "CA pause");
    /* out of range: still a string */
    assert_non_null(leec_wait_reason_name((leec_wait_reason)99));
    assert_non_null(leec_wait_reason_name((leec_wait_reason)-1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parallel_limit),
        cmocka_unit_test(test_parallel_unlimited),
        cmocka_unit_test(test_rate_burst_then_wait),
        cmocka_unit_test(test_rate_refill_and_cap),
        cmocka_unit_test(test_rate_below_one),
        cmocka_unit_test(test_pause_429),
        cmocka_unit_test(test_pause_extended_by_longer),
        cmocka_unit_test(test_pause_503_and_others),
        cmocka_unit_test(test_pause_without_retry_after),
        cmocka_unit_test(test_pause_and_rate_together),
        cmocka_unit_test(test_order_budget),
        cmocka_unit_test(test_domain_budget),
        cmocka_unit_test(test_domain_budget_failed_order_gives_back),
        cmocka_unit_test(test_domain_budget_same_domain_counts_once),
        cmocka_unit_test(test_many_domains),
        cmocka_unit_test(test_order_checks_combined),
        cmocka_unit_test(test_set_limits_keeps_state),
        cmocka_unit_test(test_free_null),
        cmocka_unit_test(test_wait_reason_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
