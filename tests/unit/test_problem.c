/* RFC 7807 problem documents: parsing, sanitising, copying. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "acme/problem.h"
#include "util/json.h"

static leec_json *load(const char *text)
{
    leec_json *j = Leec_json_parse_any(text, strlen(text));
    assert_non_null(j);
    return j;
}

static void test_type_detail_subproblems(void **state)
{
    (void)state;
    leec_json *j =
        load("{\"type\":\"urn:ietf:params:acme:error:rejectedIdentifier\","
             "\"detail\":\"Error creating new order\",\"status\":400,"
             "\"subproblems\":["
             "{\"type\":\"urn:ietf:params:acme:error:rejectedIdentifier\","
             "\"detail\":\"forbidden\","
             "\"identifier\":{\"type\":\"dns\",\"value\":\"a.example\"}},"
             "{\"type\":\"urn:ietf:params:acme:error:caa\","
             "\"identifier\":{\"type\":\"ip\",\"value\":\"192.0.2.1\"}},"
             "\"not an object\","
             "{\"detail\":\"no type, no identifier\"}]}");
    leec_problem *p = Leec_problem_from_json(j, 400, 30);
    Leec_json_free(j);
    assert_non_null(p);
    assert_string_equal(p->type,
                        "urn:ietf:params:acme:error:rejectedIdentifier");
    assert_string_equal(p->detail, "Error creating new order");
    assert_int_equal(p->status, 400);
    assert_int_equal(p->retry_after, 30);
    assert_int_equal(p->nsub, 3); /* the non-object is skipped */
    assert_string_equal(p->sub[0].type,
                        "urn:ietf:params:acme:error:rejectedIdentifier");
    assert_string_equal(p->sub[0].detail, "forbidden");
    assert_string_equal(p->sub[0].id_type, "dns");
    assert_string_equal(p->sub[0].id_value, "a.example");
    assert_string_equal(p->sub[1].type, "urn:ietf:params:acme:error:caa");
    assert_null(p->sub[1].detail);
    assert_string_equal(p->sub[1].id_type, "ip");
    assert_string_equal(p->sub[1].id_value, "192.0.2.1");
    assert_null(p->sub[2].type);
    assert_string_equal(p->sub[2].detail, "no type, no identifier");
    assert_null(p->sub[2].id_type);
    assert_null(p->sub[2].id_value);
    assert_true(Leec_problem_is(p, "rejectedIdentifier"));
    assert_false(Leec_problem_is(p, "caa"));
    Leec_problem_free(p);
}

static void test_control_characters_sanitised(void **state)
{
    (void)state;
    leec_json *j = load("{\"type\":\"urn:x\\u001b[31m\","
                        "\"detail\":\"line1\\nline2\\r\\t\\u007f end\","
                        "\"subproblems\":[{\"detail\":\"a\\u0001b\","
                        "\"identifier\":{\"type\":\"dns\","
                        "\"value\":\"evil\\u0007.example\"}}]}");
    leec_problem *p = Leec_problem_from_json(j, 0, -1);
    Leec_json_free(j);
    assert_non_null(p);
    assert_string_equal(p->type, "urn:x?[31m");
    assert_string_equal(p->detail, "line1?line2??? end");
    assert_int_equal(p->nsub, 1);
    assert_string_equal(p->sub[0].id_value, "evil?.example");
    assert_string_equal(p->sub[0].detail, "a?b");
    assert_string_equal(p->sub[0].id_type, "dns");
    Leec_problem_free(p);
}

static void test_long_detail_cut(void **state)
{
    (void)state;
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    leec_json *j = Leec_json_new_object();
    assert_true(Leec_json_set_str(j, "type", "urn:x"));
    assert_true(Leec_json_set_str(j, "detail", big));
    leec_problem *p = Leec_problem_from_json(j, 0, -1);
    Leec_json_free(j);
    assert_non_null(p);
    size_t n = strlen(p->detail);
    assert_true(n < 2000);
    assert_string_equal(p->detail + n - 3, "...");
    Leec_problem_free(p);
}

static void test_missing_type_is_about_blank(void **state)
{
    (void)state;
    leec_json *j = load("{\"detail\":\"something\",\"type\":5}");
    leec_problem *p = Leec_problem_from_json(j, 500, -1);
    Leec_json_free(j);
    assert_non_null(p);
    assert_string_equal(p->type, "about:blank");
    assert_string_equal(p->detail, "something");
    assert_int_equal(p->status, 500);
    assert_int_equal(p->nsub, 0);
    assert_null(p->sub);
    assert_false(Leec_problem_is(p, "malformed"));
    Leec_problem_free(p);

    j = load("{}");
    p = Leec_problem_from_json(j, 0, -1);
    Leec_json_free(j);
    assert_non_null(p);
    assert_string_equal(p->type, "about:blank");
    assert_null(p->detail);
    Leec_problem_free(p);
}

static void test_non_object(void **state)
{
    (void)state;
    const char *texts[] = {"[]", "\"urn:ietf:params:acme:error:malformed\"",
                           "5", "null", "true"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        leec_json *j = load(texts[i]);
        assert_null(Leec_problem_from_json(j, 400, -1));
        Leec_json_free(j);
    }
    assert_null(Leec_problem_from_json(NULL, 400, -1));
    /* subproblems of the wrong type are ignored */
    leec_json *j = load("{\"type\":\"urn:x\",\"subproblems\":{\"a\":1}}");
    leec_problem *p = Leec_problem_from_json(j, 0, -1);
    Leec_json_free(j);
    assert_non_null(p);
    assert_int_equal(p->nsub, 0);
    Leec_problem_free(p);
}

static void test_problem_is(void **state)
{
    (void)state;
    leec_problem p;
    memset(&p, 0, sizeof p);
    assert_false(Leec_problem_is(NULL, "badNonce"));
    assert_false(Leec_problem_is(&p, "badNonce"));
    p.type = "urn:ietf:params:acme:error:badNonce";
    assert_true(Leec_problem_is(&p, "badNonce"));
    assert_false(Leec_problem_is(&p, "badNonc"));
    assert_false(Leec_problem_is(&p, "badNonceX"));
    assert_false(Leec_problem_is(&p, "badnonce"));
    p.type = "urn:ietf:params:acme:error:badNonceX";
    assert_false(Leec_problem_is(&p, "badNonce"));
    p.type = "urn:other:badNonce";
    assert_false(Leec_problem_is(&p, "badNonce"));
    p.type = "badNonce";
    assert_false(Leec_problem_is(&p, "badNonce"));
}

static void test_dup(void **state)
{
    (void)state;
    assert_null(Leec_problem_dup(NULL));
    leec_json *j =
        load("{\"type\":\"urn:ietf:params:acme:error:rateLimited\","
             "\"detail\":\"too many\","
             "\"subproblems\":[{\"type\":\"urn:ietf:params:acme:error:dns\","
             "\"detail\":\"NXDOMAIN\","
             "\"identifier\":{\"type\":\"dns\",\"value\":\"b.example\"}},"
             "{\"type\":\"urn:x\"}]}");
    leec_problem *p = Leec_problem_from_json(j, 429, 3600);
    Leec_json_free(j);
    assert_non_null(p);
    leec_problem *d = Leec_problem_dup(p);
    assert_non_null(d);
    assert_ptr_not_equal(d, p);
    assert_ptr_not_equal(d->type, p->type);
    assert_string_equal(d->type, p->type);
    assert_string_equal(d->detail, p->detail);
    assert_int_equal(d->status, 429);
    assert_int_equal(d->retry_after, 3600);
    assert_int_equal(d->nsub, 2);
    assert_string_equal(d->sub[0].type, "urn:ietf:params:acme:error:dns");
    assert_string_equal(d->sub[0].detail, "NXDOMAIN");
    assert_string_equal(d->sub[0].id_type, "dns");
    assert_string_equal(d->sub[0].id_value, "b.example");
    assert_string_equal(d->sub[1].type, "urn:x");
    assert_null(d->sub[1].detail);
    assert_null(d->sub[1].id_type);
    assert_null(d->sub[1].id_value);
    Leec_problem_free(p);
    /* the copy outlives the original */
    assert_true(Leec_problem_is(d, "rateLimited"));
    Leec_problem_free(d);

    j = load("{\"type\":\"urn:y\"}");
    p = Leec_problem_from_json(j, 0, -1);
    Leec_json_free(j);
    d = Leec_problem_dup(p);
    assert_non_null(d);
    assert_string_equal(d->type, "urn:y");
    assert_null(d->detail);
    assert_int_equal(d->nsub, 0);
    Leec_problem_free(p);
    Leec_problem_free(d);
    Leec_problem_free(NULL);
}

static void test_sanitize(void **state)
{
    (void)state;
    assert_null(Leec_sanitize(NULL, 10));
    char *s = Leec_sanitize("ab\x01\x7f"
                            "c",
                            10);
    assert_string_equal(s, "ab??c");
    free(s);
    s = Leec_sanitize("abcdef", 3);
    assert_string_equal(s, "abc...");
    free(s);
    s = Leec_sanitize("abc", 3);
    assert_string_equal(s, "abc");
    free(s);
    /* UTF-8 passes through */
    s = Leec_sanitize("h\xc3\xa9", 10);
    assert_string_equal(s, "h\xc3\xa9");
    free(s);
}

/* C1 controls (U+0080-U+009F) go as C0 ones do, in UTF-8 (U+009B is an
 * 8-bit CSI) and as raw bytes; so does anything that is not UTF-8. */
static void test_text_clean_c1(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"a\xc2\x9b"
         "31mX",
         "a??31mX"}, /* U+009B CSI */
        {"a\xc2\x85"
         "b",
         "a??b"}, /* U+0085 NEL */
        {"a\x9b"
         "31m",
         "a?31m"}, /* raw 8-bit CSI */
        {"\xc2\xa0|\xc3\xa9|\xe2\x82\xac", "\xc2\xa0|\xc3\xa9|\xe2\x82\xac"},
        {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"}, /* U+1F600 */
        {"\xc0\x80", "??"},                       /* overlong NUL */
        {"\xe0\x80\x80", "???"},                  /* overlong */
        {"\xed\xa0\x80", "???"},                  /* surrogate */
        {"\xf5\x80\x80\x80", "????"},             /* past U+10FFFF */
        {"x\xe2\x82", "x??"},                     /* cut short */
        {"tab\there\r\n", "tab?here??"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *s = Leec_sanitize(cases[i].in, 100);
        assert_non_null(s);
        assert_string_equal(s, cases[i].out);
        free(s);
    }
    char buf[] = "ok";
    assert_int_equal(Leec_text_clean(buf, 2), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_clean_c1),
        cmocka_unit_test(test_type_detail_subproblems),
        cmocka_unit_test(test_control_characters_sanitised),
        cmocka_unit_test(test_long_detail_cut),
        cmocka_unit_test(test_missing_type_is_about_blank),
        cmocka_unit_test(test_non_object),
        cmocka_unit_test(test_problem_is),
        cmocka_unit_test(test_dup),
        cmocka_unit_test(test_sanitize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
