/* Retry-After parsing and the polling back-off. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <time.h>

#include "acme/retry.h"

/* "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110's example) */
#define EXAMPLE_DATE "Sun, 06 Nov 1994 08:49:37 GMT"
#define EXAMPLE_T    ((time_t)784111777)

static void test_delta_seconds(void **state)
{
    (void)state;
    time_t now = 1700000000;
    assert_int_equal(Leec_retry_after_seconds("120", now), 120);
    assert_int_equal(Leec_retry_after_seconds(" 5 ", now), 5);
    assert_int_equal(Leec_retry_after_seconds("0", now), 0);
    assert_int_equal(Leec_retry_after_seconds("86400", now), 86400);
    assert_int_equal(Leec_retry_after_seconds("86401", now), 86400);
    assert_int_equal(Leec_retry_after_seconds("100000000", now), 86400);
    assert_int_equal(
        Leec_retry_after_seconds("99999999999999999999999999", now), 86400);
}

static void test_garbage(void **state)
{
    (void)state;
    time_t now = 1700000000;
    assert_int_equal(Leec_retry_after_seconds(NULL, now), -1);
    assert_int_equal(Leec_retry_after_seconds("", now), -1);
    assert_int_equal(Leec_retry_after_seconds("   ", now), -1);
    assert_int_equal(Leec_retry_after_seconds("soon", now), -1);
    assert_int_equal(Leec_retry_after_seconds("-5", now), -1);
    assert_int_equal(Leec_retry_after_seconds("5s", now), -1);
    assert_int_equal(Leec_retry_after_seconds("5 6", now), -1);
    assert_int_equal(Leec_retry_after_seconds("1.5", now), -1);
    assert_int_equal(Leec_retry_after_seconds(EXAMPLE_DATE " extra", now), -1);
    assert_int_equal(
        Leec_retry_after_seconds("Sun, 32 Nov 1994 08:49:37 GMT", now), -1);
}

static void test_imf_fixdate(void **state)
{
    (void)state;
    /* in the past: now */
    assert_int_equal(Leec_retry_after_seconds(EXAMPLE_DATE, EXAMPLE_T + 100),
                     0);
    assert_int_equal(Leec_retry_after_seconds(EXAMPLE_DATE, EXAMPLE_T), 0);
    /* in the future */
    assert_int_equal(Leec_retry_after_seconds(EXAMPLE_DATE, EXAMPLE_T - 100),
                     100);
    assert_int_equal(Leec_retry_after_seconds(" " EXAMPLE_DATE, EXAMPLE_T - 1),
                     1);
    /* far future: clamped */
    assert_int_equal(
        Leec_retry_after_seconds(EXAMPLE_DATE, EXAMPLE_T - 10 * 86400), 86400);
}

static void test_backoff_growth_and_cap(void **state)
{
    (void)state;
    leec_backoff b;
    int64_t now = 1000;
    Leec_backoff_start(&b, now, 50, 10000, 300000);
    int64_t prev = 0;
    int reached_cap = 0;
    for (int i = 0; i < 40; i++) {
        int64_t d = Leec_backoff_next(&b, now, -1);
        assert_true(d > 0);
        if (i == 0)
            assert_int_equal(d, 50);
        if (i == 1)
            assert_int_equal(d, 75);
        assert_true(d >= prev);
        assert_true(d <= 10000);
        if (prev && d < 10000)
            assert_true(d <= prev + prev / 2);
        reached_cap += d == 10000;
        prev = d;
        now += d;
        if (now >= 1000 + 300000 - 10000)
            break;
    }
    assert_true(reached_cap > 0);
}

static void test_backoff_budget(void **state)
{
    (void)state;
    leec_backoff b;
    Leec_backoff_start(&b, 0, 50, 10000, 300000);
    /* Polls never go past the budget, and it ends. */
    int64_t now = 0;
    int polls = 0;
    for (;;) {
        int64_t d = Leec_backoff_next(&b, now, -1);
        if (d < 0)
            break;
        assert_true(now + d <= 300000);
        now += d;
        polls++;
        assert_true(polls < 100);
    }
    assert_int_equal(now, 300000);
    assert_true(polls > 10);
    assert_true(polls < 60);
    assert_int_equal(Leec_backoff_next(&b, 300000, -1), -1);
    assert_int_equal(Leec_backoff_next(&b, 400000, 5), -1);

    Leec_backoff_start(&b, 0, 50, 10000, 300000);
    assert_int_equal(Leec_backoff_next(&b, 299990, -1), 10);
}

static void test_backoff_retry_after(void **state)
{
    (void)state;
    leec_backoff b;
    Leec_backoff_start(&b, 0, 50, 10000, 300000);
    /* Retry-After wins, even past the cap... */
    assert_int_equal(Leec_backoff_next(&b, 0, 7), 7000);
    assert_int_equal(Leec_backoff_next(&b, 0, 60), 60000);
    /* ...and does not advance the back-off. */
    assert_int_equal(Leec_backoff_next(&b, 0, -1), 50);
    /* "Retry-After: 0" does not spin: the minimum is the first delay. */
    assert_int_equal(Leec_backoff_next(&b, 0, 0), 50);
    /* Clamped to what is left of the budget. */
    assert_int_equal(Leec_backoff_next(&b, 290000, 3600), 10000);
    assert_int_equal(Leec_backoff_next(&b, 299999, 86400), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delta_seconds),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_imf_fixdate),
        cmocka_unit_test(test_backoff_growth_and_cap),
        cmocka_unit_test(test_backoff_budget),
        cmocka_unit_test(test_backoff_retry_after),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
