/* The ACME directory, URL checks and the CA's store id. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "engine/internal.h"

#define D "https://ca.test"

static leec_json *load(const char *text)
{
    leec_json *j = Leec_json_parse_any(text, strlen(text));
    assert_non_null(j);
    return j;
}

static void test_valid(void **state)
{
    (void)state;
    leec_json *j =
        load("{\"newNonce\":\"" D "/nonce\",\"newAccount\":\"" D
             "/acct\",\"newOrder\":\"" D "/order\",\"revokeCert\":\"" D
             "/revoke\",\"keyChange\":\"" D "/kc\",\"renewalInfo\":\"" D
             "/ari\",\"meta\":{"
             "\"termsOfService\":\"https://ca.test/tos.pdf\","
             "\"website\":\"https://ca.test\"},\"x-extra\":5}");
    leec_directory d;
    char *why = NULL;
    assert_int_equal(Leec_directory_parse(j, &d, &why), LEEC_OK);
    assert_null(why);
    assert_string_equal(d.new_nonce, D "/nonce");
    assert_string_equal(d.new_account, D "/acct");
    assert_string_equal(d.new_order, D "/order");
    assert_string_equal(d.revoke_cert, D "/revoke");
    assert_string_equal(d.key_change, D "/kc");
    assert_string_equal(d.renewal_info, D "/ari");
    assert_string_equal(d.terms, "https://ca.test/tos.pdf");
    Leec_directory_clear(&d);
    assert_null(d.new_nonce);
    Leec_json_free(j);

    /* Optional members may be absent; pebble's data: terms are kept. */
    j = load("{\"newNonce\":\"" D "/n\",\"newAccount\":\"" D
             "/a\",\"newOrder\":\"" D "/o\",\"meta\":{\"termsOfService\":"
             "\"data:text/plain,Do%20what%20thou%20wilt\"}}");
    assert_int_equal(Leec_directory_parse(j, &d, NULL), LEEC_OK);
    assert_null(d.revoke_cert);
    assert_null(d.renewal_info);
    assert_string_equal(d.terms, "data:text/plain,Do%20what%20thou%20wilt");
    Leec_directory_clear(&d);
    Leec_json_free(j);

    /* No meta: no terms. */
    j = load("{\"newNonce\":\"" D "/n\",\"newAccount\":\"" D
             "/a\",\"newOrder\":\"" D "/o\"}");
    assert_int_equal(Leec_directory_parse(j, &d, NULL), LEEC_OK);
    assert_null(d.terms);
    Leec_directory_clear(&d);
    Leec_json_free(j);
}

static void expect_bad(const char *text, const char *key)
{
    leec_json *j = load(text);
    leec_directory d;
    char *why = NULL;
    assert_int_equal(Leec_directory_parse(j, &d, &why), LEEC_E_PROTOCOL);
    assert_non_null(why);
    assert_non_null(strstr(why, key));
    assert_null(d.new_nonce);
    assert_null(d.new_account);
    assert_null(d.terms);
    free(why);
    Leec_json_free(j);
}

static void test_invalid(void **state)
{
    (void)state;
    expect_bad("{\"newNonce\":\"" D "/n\",\"newAccount\":\"" D "/a\"}",
               "newOrder");
    expect_bad("{\"newNonce\":\"" D "/n\",\"newAccount\":\"" D
               "/a\",\"newOrder\":null}",
               "newOrder");
    expect_bad("{\"newNonce\":\"" D "/n\",\"newAccount\":\"" D
               "/a\",\"newOrder\":5}",
               "newOrder");
    expect_bad("{\"newNonce\":\"" D "/n\",\"newAccount\":\"" D
               "/a\",\"newOrder\":\"http://ca.test/o\"}",
               "newOrder");
    expect_bad("{\"newNonce\":\"http://ca.test/n\",\"newAccount\":\"" D
               "/a\",\"newOrder\":\"" D "/o\"}",
               "newNonce");
    /* an optional URL must be valid when present */
    expect_bad("{\"newNonce\":\"" D "/n\",\"newAccount\":\"" D
               "/a\",\"newOrder\":\"" D "/o\",\"revokeCert\":\"ftp://x/\"}",
               "revokeCert");
    expect_bad("{\"newNonce\":\"" D "/n\",\"newAccount\":\"" D
               "/a x\",\"newOrder\":\"" D "/o\"}",
               "newAccount");
}

static void test_url_ok(void **state)
{
    (void)state;
    assert_true(Leec_url_ok("https://ca.test/dir"));
    assert_true(Leec_url_ok("HTTPS://ca.test/dir"));
    assert_true(Leec_url_ok("https://127.0.0.1:14000/dir"));
    assert_false(Leec_url_ok(NULL));
    assert_false(Leec_url_ok(""));
    assert_false(Leec_url_ok("https://"));
    assert_false(Leec_url_ok("http://ca.test/dir"));
    assert_false(Leec_url_ok("ftp://ca.test/dir"));
    assert_false(Leec_url_ok("ca.test/dir"));
    assert_false(Leec_url_ok("https://ca.test/a b"));
    assert_false(Leec_url_ok("https://ca.test/a\tb"));
    assert_false(Leec_url_ok("https://ca.test/a\r\nX-Evil: 1"));
    assert_false(Leec_url_ok("https://ca.test/\x7f"));
    char *big = malloc(LEEC_MAX_URL + 2);
    assert_non_null(big);
    memset(big, 'a', LEEC_MAX_URL + 1);
    memcpy(big, "https://", 8);
    big[LEEC_MAX_URL + 1] = '\0';
    assert_false(Leec_url_ok(big));
    big[LEEC_MAX_URL] = '\0';
    assert_true(Leec_url_ok(big));
    free(big);
}

static void expect_id(const char *url, const char *want)
{
    char *id = Leec_ca_id(url);
    if (!want) {
        assert_null(id);
        return;
    }
    assert_non_null(id);
    assert_string_equal(id, want);
    free(id);
}

static void test_ca_id(void **state)
{
    (void)state;
    expect_id("https://127.0.0.1:14000/dir", "127.0.0.1_14000");
    expect_id("https://acme-v02.api.letsencrypt.org/directory",
              "acme-v02.api.letsencrypt.org");
    expect_id(LEEC_LETSENCRYPT_STAGING_URL,
              "acme-staging-v02.api.letsencrypt.org");
    expect_id("https://CA.Example.COM/dir", "ca.example.com");
    expect_id("https://ca.test", "ca.test");
    expect_id("https://ca.test?x=1", "ca.test");
    expect_id("https://user:pw@ca.test:8443/dir", "ca.test_8443");
    expect_id("https://[::1]:14000/dir", "___1__14000");
    expect_id("https://-bad.test/dir", NULL);
    expect_id("https:///dir", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_url_ok),
        cmocka_unit_test(test_ca_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
