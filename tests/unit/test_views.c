/* The typed views of the CA's documents (acme/order, account, ari) and the
 * JSON module under them: what a CA sends is read once, and a hostile or
 * malformed document is refused with a reason. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/b64url.h"
#include "util/json.h"
#include "acme/account.h"
#include "acme/ari.h"
#include "acme/order.h"
#include "acme/problem.h"

#define CA  "https://ca.test"
#define TOK "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"

static leec_json *load(const char *text)
{
    leec_json *j = NULL;
    assert_int_equal(Leec_json_parse_object(text, strlen(text), &j), LEEC_OK);
    return j;
}

/* ---- util/json ---- */

static bool count_member(void *ud, const char *key, const leec_json *v)
{
    (void)key;
    (void)v;
    return ++*(int *)ud < 2; /* stops after the second */
}

static void test_json_getters(void **state)
{
    (void)state;
    leec_json *j = load("{\"s\":\"x\",\"i\":42,\"b\":false,\"a\":[1,\"y\"],"
                        "\"o\":{\"k\":true},\"n\":null}");
    long long i = 0;
    assert_string_equal(Leec_json_str(j, "s"), "x");
    assert_null(Leec_json_str(j, "i")); /* wrong type: NULL, no crash */
    assert_true(Leec_json_int(j, "i", &i) && i == 42);
    assert_false(Leec_json_int(j, "s", &i));
    assert_int_equal(Leec_json_bool(j, "b"), 0);
    assert_int_equal(Leec_json_bool(j, "s"), -1);
    assert_int_equal(Leec_json_bool(Leec_json_object(j, "o"), "k"), 1);
    const leec_json *a = Leec_json_array(j, "a");
    assert_int_equal(Leec_json_len(a), 2);
    assert_null(Leec_json_as_str(Leec_json_at(a, 0)));
    assert_string_equal(Leec_json_as_str(Leec_json_at(a, 1)), "y");
    assert_null(Leec_json_at(a, 2));
    assert_null(Leec_json_array(j, "o"));
    assert_null(Leec_json_object(j, "a"));
    const char *s = "?";
    assert_int_equal(Leec_json_get_str(j, "n", true, &s), LEEC_E_PROTOCOL);
    assert_int_equal(Leec_json_get_str(j, "n", false, &s), LEEC_OK);
    assert_null(s);
    assert_int_equal(Leec_json_get_str(j, "i", false, &s), LEEC_E_PROTOCOL);
    int n = 0;
    Leec_json_each(j, count_member, &n);
    assert_int_equal(n, 2);
    /* NULL documents answer like empty ones. */
    assert_null(Leec_json_str(NULL, "s"));
    assert_int_equal(Leec_json_len(NULL), 0);
    Leec_json_free(j);
}

static void test_json_parse_refuses(void **state)
{
    (void)state;
    const char *bad[] = {"", "[]", "5", "{\"a\":1,\"a\":2}", "{\"a\":", "{}x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        leec_json *j = (leec_json *)1;
        assert_int_equal(Leec_json_parse_object(bad[i], strlen(bad[i]), &j),
                         LEEC_E_JSON);
        assert_null(j);
    }
    leec_json *j = NULL;
    assert_int_equal(Leec_json_parse_object(NULL, 0, &j), LEEC_E_JSON);
    /* Over the size bound: refused before parsing. */
    assert_int_equal(Leec_json_parse_object("{}", LEEC_JSON_MAX_TEXT + 1, &j),
                     LEEC_E_JSON);
    leec_json *any = Leec_json_parse_any("12", 2);
    long long v = 0;
    assert_true(Leec_json_as_int(any, &v) && v == 12);
    Leec_json_free(any);
}

static void test_json_build(void **state)
{
    (void)state;
    leec_json *o = Leec_json_new_object();
    leec_json *a = Leec_json_new_array();
    assert_true(Leec_json_set_str(o, "z", "last"));
    assert_true(Leec_json_set_int(o, "n", 7));
    assert_true(Leec_json_set_bool(o, "b", true));
    assert_true(Leec_json_push_str(a, "x"));
    assert_true(Leec_json_set(o, "a", a));
    assert_false(Leec_json_set_str(o, "nul", NULL));
    assert_false(Leec_json_set(NULL, "k", Leec_json_new_object()));
    char *c = Leec_json_dump(o, false);
    assert_string_equal(c, "{\"z\":\"last\",\"n\":7,\"b\":true,\"a\":[\"x\"]}");
    free(c);
    char *p = Leec_json_dump(o, true); /* sorted, indented */
    assert_non_null(strstr(p, "\"a\": [\n"));
    assert_true(strstr(p, "\"a\"") < strstr(p, "\"z\""));
    free(p);
    Leec_json_free(o);
}

/* ---- order ---- */

static leec_code order_of(const char *text, leec_order_view *v)
{
    leec_json *j = load(text);
    leec_code rc = Leec_order_parse(j, v);
    Leec_json_free(j); /* the view owns its strings */
    return rc;
}

static void test_order_view(void **state)
{
    (void)state;
    leec_order_view v;
    assert_int_equal(
        order_of("{\"status\":\"pending\",\"expires\":\"2026-01-08T00:00:00Z\","
                 "\"identifiers\":[{\"type\":\"dns\",\"value\":\"A.example\"},"
                 "{\"type\":\"dns\",\"value\":\"b.example\"}],"
                 "\"authorizations\":[\"" CA "/az/1\",\"" CA "/az/2\"],"
                 "\"finalize\":\"" CA "/fin\"}",
                 &v),
        LEEC_OK);
    assert_int_equal(v.status, LEEC_ORDER_PENDING);
    assert_int_equal(v.expires, 1767830400);
    assert_int_equal(v.nauthz, 2);
    assert_string_equal(v.authz[1], CA "/az/2");
    assert_string_equal(v.finalize, CA "/fin");
    assert_null(v.certificate);
    assert_null(v.error);
    char *names[] = {"b.example", "a.example"};
    assert_true(Leec_order_ids_match(&v, names, 2));
    assert_false(Leec_order_ids_match(&v, names, 1));
    char *other[] = {"b.example", "c.example"};
    assert_false(Leec_order_ids_match(&v, other, 2));
    Leec_order_view_clear(&v);
    assert_null(v.authz);

    /* Invalid, with its error; no identifiers: matches any names. */
    assert_int_equal(
        order_of("{\"status\":\"invalid\",\"error\":{\"type\":"
                 "\"urn:ietf:params:acme:error:caa\",\"detail\":\"no\"}}",
                 &v),
        LEEC_OK);
    assert_int_equal(v.status, LEEC_ORDER_INVALID);
    assert_true(Leec_problem_is(v.error, "caa"));
    assert_true(Leec_order_ids_match(&v, names, 2));
    Leec_order_view_clear(&v);
}

static void expect_bad_order(const char *text, const char *why)
{
    leec_order_view v;
    assert_int_equal(order_of(text, &v), LEEC_E_PROTOCOL);
    assert_non_null(v.why);
    if (!strstr(v.why, why))
        fail_msg("\"%s\" does not say \"%s\"", v.why, why);
    Leec_order_view_clear(&v);
}

static void test_order_hostile(void **state)
{
    (void)state;
    expect_bad_order("{}", "status");
    expect_bad_order("{\"status\":\"done\"}", "status");
    expect_bad_order("{\"status\":5}", "status");
    expect_bad_order("{\"status\":\"valid\",\"certificate\":\"http://x/c\"}",
                     "https");
    expect_bad_order("{\"status\":\"ready\",\"finalize\":7}", "https");
    expect_bad_order("{\"status\":\"pending\",\"authorizations\":\"" CA "\"}",
                     "authorizations");
    expect_bad_order("{\"status\":\"pending\",\"authorizations\":[5]}",
                     "authorization URL");
    expect_bad_order("{\"status\":\"pending\",\"identifiers\":{}}",
                     "identifiers");
    expect_bad_order("{\"status\":\"pending\",\"identifiers\":[{\"type\":"
                     "\"dns\"}]}",
                     "identifier");
    /* More authorizations than an order may have names. */
    char *big = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&big, &len);
    fputs("{\"status\":\"pending\",\"authorizations\":[", f);
    for (int i = 0; i < 101; i++)
        fprintf(f, "%s\"" CA "/az/%d\"", i ? "," : "", i);
    fputs("]}", f);
    fclose(f);
    expect_bad_order(big, "authorizations");
    free(big);
}

/* ---- authorization ---- */

static leec_code authz_of(const char *text, leec_authz_view *v)
{
    leec_json *j = load(text);
    leec_code rc = Leec_authz_parse(j, v);
    Leec_json_free(j);
    return rc;
}

#define IDENT "\"identifier\":{\"type\":\"dns\",\"value\":\"a.example\"}"
#define CH(type, tok)                                                          \
    "{\"type\":\"" type "\",\"url\":\"" CA "/ch/" type "\",\"token\":\"" tok   \
    "\"}"

static void test_authz_view(void **state)
{
    (void)state;
    leec_authz_view v;
    assert_int_equal(
        authz_of("{\"status\":\"pending\"," IDENT ",\"wildcard\":true,"
                 "\"expires\":\"2026-01-08T00:00:00.5Z\",\"challenges\":["
                 "{\"type\":\"dns-account-01\",\"url\":\"x\",\"token\":\"!\"},"
                 "" CH("http-01", TOK) "," CH(
                     "dns-01", TOK) ","
                                    "{\"type\":\"tls-alpn-01\",\"url\":\"" CA
                                    "/ch/t\",\"token\":"
                                    "\"" TOK "\",\"status\":\"processing\"}]}",
                 &v),
        LEEC_OK);
    assert_int_equal(v.status, LEEC_AUTHZ_PENDING);
    assert_string_equal(v.status_name, "pending");
    assert_string_equal(v.ident, "a.example");
    assert_string_equal(v.ident_type, "dns");
    assert_true(v.wildcard);
    assert_int_equal(v.expires, 1767830400);
    /* The unknown type is skipped (its token is none of leec's business). */
    assert_int_equal(v.nchall, 3);
    assert_string_equal(v.chall[0].type, "http-01");
    assert_string_equal(v.chall[0].token, TOK);
    assert_int_equal(v.chall[0].status, LEEC_CHALL_NONE);
    const leec_chall_view *c = Leec_authz_find(&v, "tls-alpn-01");
    assert_non_null(c);
    assert_string_equal(c->url, CA "/ch/t");
    assert_int_equal(c->status, LEEC_CHALL_PROCESSING);
    assert_null(Leec_authz_find(&v, "dns-account-01"));
    Leec_authz_view_clear(&v);

    /* Invalid: the first challenge error, whatever the challenge's type. */
    assert_int_equal(
        authz_of("{\"status\":\"invalid\"," IDENT ",\"challenges\":["
                 "{\"type\":\"x-01\",\"error\":{\"type\":\"urn:ietf:params:"
                 "acme:error:dns\"}},"
                 "{\"type\":\"http-01\",\"url\":\"" CA "/c\",\"token\":\"" TOK
                 "\",\"status\":\"invalid\",\"error\":{\"type\":\"urn:ietf:"
                 "params:acme:error:connection\"}}]}",
                 &v),
        LEEC_OK);
    assert_int_equal(v.status, LEEC_AUTHZ_INVALID);
    assert_true(Leec_problem_is(v.error, "dns"));
    assert_int_equal(v.chall[0].status, LEEC_CHALL_INVALID);
    Leec_authz_view_clear(&v);

    /* Valid, without challenges (RFC 8555 allows a reused one so). */
    assert_int_equal(authz_of("{\"status\":\"valid\"," IDENT "}", &v), LEEC_OK);
    assert_int_equal(v.nchall, 0);
    Leec_authz_view_clear(&v);
}

static void expect_bad_authz(const char *text, const char *why)
{
    leec_authz_view v;
    assert_int_equal(authz_of(text, &v), LEEC_E_PROTOCOL);
    assert_non_null(v.why);
    if (!strstr(v.why, why))
        fail_msg("\"%s\" does not say \"%s\"", v.why, why);
    Leec_authz_view_clear(&v);
}

static void test_authz_hostile(void **state)
{
    (void)state;
    expect_bad_authz("{" IDENT "}", "status");
    expect_bad_authz("{\"status\":\"gone\"," IDENT "}", "status");
    expect_bad_authz("{\"status\":\"pending\"}", "identifier");
    expect_bad_authz("{\"status\":\"pending\",\"identifier\":{\"type\":5,"
                     "\"value\":\"a\"}}",
                     "identifier");
    expect_bad_authz("{\"status\":\"pending\"," IDENT ",\"challenges\":{}}",
                     "not an array");
    expect_bad_authz("{\"status\":\"pending\"," IDENT ",\"challenges\":[7]}",
                     "not an object");
    /* Tokens: not base64url, empty, missing, overlong. */
    expect_bad_authz("{\"status\":\"pending\"," IDENT
                     ",\"challenges\":[" CH("http-01", "../../etc/passwd") "]}",
                     "token");
    expect_bad_authz("{\"status\":\"pending\"," IDENT
                     ",\"challenges\":[" CH("dns-01", "") "]}",
                     "token");
    expect_bad_authz("{\"status\":\"pending\"," IDENT
                     ",\"challenges\":[{\"type\":\"http-01\",\"url\":\"" CA
                     "/c\"}]}",
                     "token");
    expect_bad_authz("{\"status\":\"pending\"," IDENT
                     ",\"challenges\":[{\"type\":\"http-01\",\"url\":\"" CA
                     "/c\",\"token\":5}]}",
                     "token");
    char tok[LEEC_TOKEN_MAX + 2];
    memset(tok, 'A', sizeof tok - 1);
    tok[sizeof tok - 1] = '\0';
    char *text = NULL;
    assert_true(asprintf(&text,
                         "{\"status\":\"pending\"," IDENT ",\"challenges\":["
                         "{\"type\":\"http-01\",\"url\":\"" CA
                         "/c\",\"token\":\"%s\"}]}",
                         tok) > 0);
    expect_bad_authz(text, "token");
    free(text);
    tok[LEEC_TOKEN_MAX] = '\0'; /* exactly the limit: taken */
    assert_true(asprintf(&text,
                         "{\"status\":\"pending\"," IDENT ",\"challenges\":["
                         "{\"type\":\"http-01\",\"url\":\"" CA
                         "/c\",\"token\":\"%s\"}]}",
                         tok) > 0);
    leec_authz_view v;
    assert_int_equal(authz_of(text, &v), LEEC_OK);
    assert_int_equal(strlen(v.chall[0].token), LEEC_TOKEN_MAX);
    Leec_authz_view_clear(&v);
    free(text);
    /* A challenge URL that is not https. */
    expect_bad_authz("{\"status\":\"pending\"," IDENT
                     ",\"challenges\":[{\"type\":\"http-01\",\"url\":"
                     "\"http://ca.test/c\",\"token\":\"" TOK "\"}]}",
                     "URL");
    /* Too many challenges. */
    char *big = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&big, &len);
    fputs("{\"status\":\"pending\"," IDENT ",\"challenges\":[", f);
    for (int i = 0; i <= LEEC_MAX_CHALLENGES; i++)
        fprintf(f, "%s" CH("dns-01", TOK), i ? "," : "");
    fputs("]}", f);
    fclose(f);
    expect_bad_authz(big, "challenges");
    free(big);
}

static void test_chall_answer(void **state)
{
    (void)state;
    leec_json *j = load("{\"status\":\"invalid\",\"error\":{\"type\":"
                        "\"urn:ietf:params:acme:error:unauthorized\"}}");
    leec_chall_answer a;
    Leec_chall_answer_parse(j, &a);
    assert_int_equal(a.status, LEEC_CHALL_INVALID);
    assert_true(Leec_problem_is(a.error, "unauthorized"));
    Leec_problem_free(a.error);
    Leec_json_free(j);
    j = load("{\"status\":[],\"error\":\"no\"}");
    Leec_chall_answer_parse(j, &a);
    assert_int_equal(a.status, LEEC_CHALL_OTHER);
    assert_null(a.error);
    Leec_json_free(j);
}

/* ---- account ---- */

static void test_account_view(void **state)
{
    (void)state;
    leec_json *j = load("{\"status\":\"valid\",\"orders\":\"" CA "/o\","
                        "\"contact\":[\"mailto:a@b.c\",5,\"mailto:d@e.f\"]}");
    leec_account_view v;
    assert_int_equal(Leec_account_parse(j, &v), LEEC_OK);
    Leec_json_free(j);
    assert_string_equal(v.status, "valid");
    assert_string_equal(v.orders, CA "/o");
    assert_null(v.url);
    assert_int_equal(v.ncontact, 2);
    assert_string_equal(v.contact[1], "mailto:d@e.f");
    Leec_account_view_clear(&v);

    j = load("{\"status\":7,\"contact\":\"mailto:a@b.c\"}");
    assert_int_equal(Leec_account_parse(j, &v), LEEC_OK);
    assert_null(v.status);
    assert_int_equal(v.ncontact, 0);
    Leec_account_view_clear(&v);
    Leec_json_free(j);
    assert_int_equal(Leec_account_parse(NULL, &v), LEEC_E_PROTOCOL);
    Leec_account_view_clear(&v);
}

/* ---- renewalInfo ---- */

static void test_ari_view(void **state)
{
    (void)state;
    leec_json *j = load("{\"suggestedWindow\":{\"start\":"
                        "\"2025-02-01T00:00:00Z\",\"end\":"
                        "\"2025-02-02T00:00:00+00:00\"},"
                        "\"explanationURL\":\"https://ca.test/why\"}");
    leec_ari_view v;
    assert_int_equal(Leec_ari_parse(j, &v), LEEC_OK);
    assert_int_equal(v.start, 1738368000);
    assert_int_equal(v.end, 1738454400);
    assert_string_equal(v.explanation, "https://ca.test/why");
    Leec_ari_view_clear(&v);
    Leec_json_free(j);

    const char *bad[] = {
        "{}",
        "{\"suggestedWindow\":\"soon\"}",
        "{\"suggestedWindow\":{\"start\":\"2025-02-01T00:00:00Z\"}}",
        "{\"suggestedWindow\":{\"start\":1,\"end\":2}}",
        "{\"suggestedWindow\":{\"start\":\"2025-02-02T00:00:00Z\","
        "\"end\":\"2025-02-01T00:00:00Z\"}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        j = load(bad[i]);
        assert_int_equal(Leec_ari_parse(j, &v), LEEC_E_PROTOCOL);
        assert_null(v.explanation);
        Leec_ari_view_clear(&v);
        Leec_json_free(j);
    }
    /* An explanation that is not a clean https URL is left out. */
    j = load("{\"suggestedWindow\":{\"start\":\"2025-02-01T00:00:00Z\","
             "\"end\":\"2025-02-01T00:00:00Z\"},"
             "\"explanationURL\":\"https://x/\\\"><script>\"}");
    assert_int_equal(Leec_ari_parse(j, &v), LEEC_OK);
    assert_null(v.explanation);
    Leec_ari_view_clear(&v);
    Leec_json_free(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_getters),
        cmocka_unit_test(test_json_parse_refuses),
        cmocka_unit_test(test_json_build),
        cmocka_unit_test(test_order_view),
        cmocka_unit_test(test_order_hostile),
        cmocka_unit_test(test_authz_view),
        cmocka_unit_test(test_authz_hostile),
        cmocka_unit_test(test_chall_answer),
        cmocka_unit_test(test_account_view),
        cmocka_unit_test(test_ari_view),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
