/* Identifiers: which DNS names an order takes, and the store name a
 * certificate gets from its first identifier. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "util/names.h"

static void test_dns_names(void **state)
{
    (void)state;
    static const char *const good[] = {"example.com",
                                       "*.example.com",
                                       "a1.b2",
                                       "x.123a",
                                       "1.example.com",
                                       "xn--bcher-kva.example",
                                       "_acme-challenge.example.com",
                                       "localhost"};
    /* Addresses in another spelling (the last label all digits), and the
     * usual malformed ones. */
    static const char *const bad[] = {"127.000.000.001",
                                      "2130706433",
                                      "1.2.3.04",
                                      "0x7f.0.0.1",
                                      "10.1",
                                      "a.-b",
                                      "a..b",
                                      "-a.b",
                                      "a.b-",
                                      "",
                                      "*.",
                                      "a*.b"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        if (!Leec_dns_name_ok(good[i]))
            fail_msg("%s refused", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (Leec_dns_name_ok(bad[i]))
            fail_msg("%s taken", bad[i]);
}

/* "127.000.000.001" is neither an IP address (inet_pton refuses the
 * leading zeros) nor, now, a DNS name: refused by -d. */
static void test_normalize_numeric(void **state)
{
    (void)state;
    const char *in[] = {"example.com", "127.000.000.001"};
    char **out = NULL;
    size_t n = 0, bad = 99;
    assert_int_equal(Leec_names_normalize(in, 2, 100, &out, &n, &bad),
                     LEEC_E_BAD_NAME);
    assert_int_equal(bad, 1);
    const char *ok[] = {"127.0.0.1", "::1", "Example.COM."};
    assert_int_equal(Leec_names_normalize(ok, 3, 100, &out, &n, NULL), LEEC_OK);
    assert_int_equal(n, 3);
    assert_string_equal(out[2], "example.com");
    Leec_names_free(out, n);
}

static void test_store_default(void **state)
{
    (void)state;
    static const struct {
        const char *ident, *name;
    } cases[] = {{"example.com", "example.com"},
                 {"127.0.0.1", "127.0.0.1"},
                 {"::1", "0-0-0-0-0-0-0-1"},
                 {"2001:db8::1", "2001-db8-0-0-0-0-0-1"},
                 {"fe80::1:ff", "fe80-0-0-0-0-0-1-ff"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *name = Leec_name_store_default(cases[i].ident);
        assert_non_null(name);
        assert_string_equal(name, cases[i].name);
        free(name);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dns_names),
        cmocka_unit_test(test_normalize_numeric),
        cmocka_unit_test(test_store_default),
    };
    return cmocka_run_group_tests_name("names", tests, NULL, NULL);
}
