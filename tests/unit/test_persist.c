/* dns-persist-01 records (draft-ietf-acme-dns-persist-01): the value leec
 * prints, the values it accepts when it checks a record, and the
 * challenge's issuer-domain-names as the authorization parser takes them. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/order.h"
#include "acme/persist.h"
#include "leec/leec.h"

#define ACCT "https://ca.example/acct/123"

static void test_format(void **state)
{
    (void)state;
    char *v = NULL;
    assert_int_equal(Leec_persist_value("ca.example", ACCT, false, 0, &v),
                     LEEC_OK);
    assert_string_equal(v, "ca.example; accounturi=" ACCT);
    free(v);
    assert_int_equal(
        leec_dns_persist_value("ca.example", ACCT, true, 1782424856LL, &v),
        LEEC_OK);
    assert_string_equal(v, "ca.example; accounturi=" ACCT
                           "; policy=wildcard; persistUntil=1782424856");
    free(v);
    /* Not a normalized issuer name; an account URL that would break the
     * record or a zone file. */
    static const char *const bad_issuers[] = {
        "CA.example",  "ca.example.", "",
        "-ca.example", "ca..example", "ca example"};
    for (size_t i = 0; i < sizeof bad_issuers / sizeof *bad_issuers; i++)
        assert_int_equal(Leec_persist_value(bad_issuers[i], ACCT, false, 0, &v),
                         LEEC_E_INVALID_ARG);
    static const char *const bad_uris[] = {"", "https://x/a b", "https://x/a;b",
                                           "https://x/\"", "https://x/\\"};
    for (size_t i = 0; i < sizeof bad_uris / sizeof *bad_uris; i++)
        assert_int_equal(
            Leec_persist_value("ca.example", bad_uris[i], false, 0, &v),
            LEEC_E_INVALID_ARG);
    assert_null(v);
}

static void parse_ok(const char *text, const char *issuer, const char *uri,
                     bool wildcard, int64_t until)
{
    leec_persist_rec r;
    assert_int_equal(Leec_persist_parse(text, strlen(text), &r), LEEC_OK);
    assert_string_equal(r.issuer, issuer);
    if (uri)
        assert_string_equal(r.accounturi, uri);
    else
        assert_null(r.accounturi);
    assert_int_equal(r.wildcard, wildcard);
    assert_int_equal(r.until, until);
    Leec_persist_rec_clear(&r);
}

static void test_parse(void **state)
{
    (void)state;
    parse_ok("ca.example; accounturi=" ACCT, "ca.example", ACCT, false, 0);
    /* Blanks where RFC 8659 allows them, tags in any case, the issuer
     * lower-cased and without its final dot, unknown tags ignored. */
    parse_ok("  CA.Example. ;accounturi = " ACCT " ;POLICY=Wildcard;"
             " persistUntil=1782424856 ; future-tag=x  ",
             "ca.example", ACCT, true, 1782424856);
    parse_ok("ca.example", "ca.example", NULL, false, 0);
    parse_ok("ca.example;", "ca.example", NULL, false, 0);
    parse_ok("ca.example; policy=other; accounturi=" ACCT, "ca.example", ACCT,
             false, 0);
    static const char *const bad[] = {
        "",
        "; accounturi=" ACCT,
        "ca.example accounturi=" ACCT,
        "ca.example; accounturi",
        "ca.example; accounturi=" ACCT ";",
        "ca.example; accounturi=" ACCT ";; policy=wildcard",
        "ca.example; accounturi=a; accounturi=b",
        "ca.example; policy=wild card",
        "ca.example; persistUntil=soon",
        "ca.example; persistUntil=",
        "ca.example; -tag=x",
        "ca_example; accounturi=" ACCT,
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        leec_persist_rec r;
        assert_int_equal(Leec_persist_parse(bad[i], strlen(bad[i]), &r),
                         LEEC_E_PROTOCOL);
        assert_non_null(r.why);
        Leec_persist_rec_clear(&r);
    }
    /* A NUL inside the record's bytes. */
    leec_persist_rec r;
    assert_int_equal(Leec_persist_parse("ca.example\0x", 12, &r),
                     LEEC_E_PROTOCOL);
    Leec_persist_rec_clear(&r);
}

static void test_matches(void **state)
{
    (void)state;
    static const char *const issuers[] = {"other.example", "ca.example"};
    const char *why = NULL;
    const char *text =
        "ca.example; accounturi=" ACCT "; policy=wildcard; persistUntil=2000";
    leec_persist_rec r;
    assert_int_equal(Leec_persist_parse(text, strlen(text), &r), LEEC_OK);
    assert_true(Leec_persist_matches(&r, issuers, 2, ACCT, true, 1999, &why));
    assert_true(Leec_persist_matches(&r, issuers, 2, ACCT, false, 2000, &why));
    assert_false(Leec_persist_matches(&r, issuers, 2, ACCT, true, 2001, &why));
    assert_string_equal(why, "past its persistUntil");
    assert_false(Leec_persist_matches(&r, issuers, 1, ACCT, false, 0, &why));
    assert_string_equal(why, "for another CA");
    assert_false(
        Leec_persist_matches(&r, issuers, 2, ACCT "4", false, 0, &why));
    assert_string_equal(why, "for another account");
    Leec_persist_rec_clear(&r);
    text = "ca.example; accounturi=" ACCT;
    assert_int_equal(Leec_persist_parse(text, strlen(text), &r), LEEC_OK);
    assert_true(Leec_persist_matches(&r, issuers, 2, ACCT, false, 0, &why));
    assert_false(Leec_persist_matches(&r, issuers, 2, ACCT, true, 0, &why));
    assert_non_null(strstr(why, "policy=wildcard"));
    Leec_persist_rec_clear(&r);
}

/* The authorization parser: dns-persist-01 needs no token but 1 to 10
 * issuer names. */
static leec_code parse_authz(const char *chall, leec_authz_view *v)
{
    char *doc = NULL;
    leec_json *j = NULL;
    if (asprintf(&doc,
                 "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\","
                 "\"value\":\"example.com\"},\"challenges\":[%s]}",
                 chall) < 0)
        fail();
    assert_int_equal(Leec_json_parse_object(doc, strlen(doc), &j), LEEC_OK);
    leec_code rc = Leec_authz_parse(j, v);
    Leec_json_free(j);
    free(doc);
    return rc;
}

static void test_authz(void **state)
{
    (void)state;
    leec_authz_view v;
    assert_int_equal(
        parse_authz("{\"type\":\"dns-persist-01\",\"url\":\"https://ca.example/"
                    "c/1\",\"status\":\"pending\",\"issuer-domain-names\":["
                    "\"ca.example\",\"other.example\"]}",
                    &v),
        LEEC_OK);
    assert_int_equal(v.nchall, 1);
    assert_string_equal(v.chall[0].type, "dns-persist-01");
    assert_null(v.chall[0].token);
    assert_string_equal(v.chall[0].issuers, "ca.example other.example");
    Leec_authz_view_clear(&v);
    static const char *const bad[] = {
        "{\"type\":\"dns-persist-01\",\"url\":\"https://ca.example/c/1\"}",
        "{\"type\":\"dns-persist-01\",\"url\":\"https://ca.example/c/1\","
        "\"issuer-domain-names\":[]}",
        "{\"type\":\"dns-persist-01\",\"url\":\"https://ca.example/c/1\","
        "\"issuer-domain-names\":[\"CA.example\"]}",
        "{\"type\":\"dns-persist-01\",\"url\":\"https://ca.example/c/1\","
        "\"issuer-domain-names\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\","
        "\"h\",\"i\",\"j\",\"k\"]}",
        "{\"type\":\"dns-persist-01\",\"url\":\"https://ca.example/c/1\","
        "\"issuer-domain-names\":[\"ca.example.\"]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(parse_authz(bad[i], &v), LEEC_E_PROTOCOL);
        Leec_authz_view_clear(&v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_matches),
        cmocka_unit_test(test_authz),
    };
    return cmocka_run_group_tests_name("persist", tests, NULL, NULL);
}
