/* base64url: RFC 4648 §10 vectors (unpadded, url alphabet) and the strict
 * decoder's rejections. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "util/b64url.h"

static const struct {
    const char *raw;
    const char *enc;
} vectors[] = {
    {"", ""},
    {"f", "Zg"},
    {"fo", "Zm8"},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg"},
    {"fooba", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy"},
};

static void test_rfc4648_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        char *enc = Leec_b64url_encode(vectors[i].raw, strlen(vectors[i].raw));
        unsigned char *dec = NULL;
        size_t dlen = 0;
        assert_non_null(enc);
        assert_string_equal(enc, vectors[i].enc);
        assert_int_equal(Leec_b64url_decode(enc, strlen(enc), &dec, &dlen),
                         LEEC_OK);
        assert_non_null(dec);
        assert_int_equal(dlen, strlen(vectors[i].raw));
        assert_memory_equal(dec, vectors[i].raw, dlen);
        free(enc);
        free(dec);
    }
}

/* The two characters where base64url differs from base64. */
static void test_url_alphabet(void **state)
{
    static const unsigned char minus[] = {0xfb, 0xef, 0xbe};
    static const unsigned char under[] = {0xff, 0xff, 0xff};
    static const unsigned char mixed[] = {0xfb, 0xff};
    char *e = NULL;
    (void)state;

    e = Leec_b64url_encode(minus, sizeof minus);
    assert_string_equal(e, "----");
    free(e);
    e = Leec_b64url_encode(under, sizeof under);
    assert_string_equal(e, "____");
    free(e);
    e = Leec_b64url_encode(mixed, sizeof mixed);
    assert_string_equal(e, "-_8");
    free(e);
}

static void test_roundtrip_all_bytes(void **state)
{
    unsigned char data[256];
    (void)state;
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(255 - i);
    for (size_t len = 0; len <= sizeof data; len++) {
        char *enc = Leec_b64url_encode(data, len);
        unsigned char *dec = NULL;
        size_t dlen = 0;
        assert_non_null(enc);
        assert_true(strlen(enc) == len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0));
        assert_int_equal(Leec_b64url_decode(enc, strlen(enc), &dec, &dlen),
                         LEEC_OK);
        assert_int_equal(dlen, len);
        if (len)
            assert_memory_equal(dec, data, len);
        free(enc);
        free(dec);
    }
}

static void expect_reject(const char *s, size_t len)
{
    unsigned char *dec = (unsigned char *)"sentinel";
    size_t dlen = 99;
    assert_int_equal(Leec_b64url_decode(s, len, &dec, &dlen),
                     LEEC_E_INVALID_ARG);
    assert_null(dec);
    assert_int_equal(dlen, 0);
}

static void test_strict_rejections(void **state)
{
    (void)state;
    expect_reject("Zg==", 4); /* padding */
    expect_reject("Zg=", 3);  /* partial padding */
    expect_reject("Zm9vYg==", 8);
    expect_reject("+/8", 3); /* standard alphabet */
    expect_reject("Zm+v", 4);
    expect_reject("Zm/v", 4);
    expect_reject("Zm9 v", 5); /* whitespace */
    expect_reject("Zm9v\n", 5);
    expect_reject("\tZm9v", 5);
    expect_reject("Zm9v\r\nYg", 8);
    expect_reject("Z", 1); /* one char cannot hold a byte */
    expect_reject("Zm9vY", 5);
    expect_reject("Zh", 2);  /* non-zero trailing bits */
    expect_reject("Zm9", 3); /* "Zm8" is the canonical form */
    expect_reject("Zm9vYh", 6);
    expect_reject("Zm9vYmF", 7); /* "Zm9vYmE" is canonical */
    expect_reject("Zm\0v", 4);   /* embedded NUL */
    expect_reject("Zm9v\xc3\xa9", 6);
}

static void test_decode_args(void **state)
{
    unsigned char *dec = NULL;
    size_t dlen = 0;
    (void)state;
    assert_int_equal(Leec_b64url_decode(NULL, 0, &dec, &dlen), LEEC_OK);
    assert_int_equal(dlen, 0);
    free(dec);
    assert_int_equal(Leec_b64url_decode(NULL, 3, &dec, &dlen),
                     LEEC_E_INVALID_ARG);
    assert_int_equal(Leec_b64url_decode("Zg", 2, NULL, &dlen),
                     LEEC_E_INVALID_ARG);
    /* slen, not the NUL, bounds the input. */
    assert_int_equal(Leec_b64url_decode("Zm9vYmFy", 4, &dec, &dlen), LEEC_OK);
    assert_int_equal(dlen, 3);
    assert_memory_equal(dec, "foo", 3);
    free(dec);
}

static void test_valid(void **state)
{
    (void)state;
    assert_true(Leec_b64url_valid("abcXYZ019-_", 64));
    assert_true(
        Leec_b64url_valid("LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0", 43));
    assert_false(
        Leec_b64url_valid("LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0", 42));
    assert_false(Leec_b64url_valid("", 10));
    assert_false(Leec_b64url_valid(NULL, 10));
    assert_false(Leec_b64url_valid("abc=", 10));
    assert_false(Leec_b64url_valid("a+b", 10));
    assert_false(Leec_b64url_valid("a/b", 10));
    assert_false(Leec_b64url_valid("../etc", 10));
    assert_false(Leec_b64url_valid("a b", 10));
    assert_false(Leec_b64url_valid("ab\n", 10));
    assert_false(Leec_b64url_valid("a", 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_vectors),
        cmocka_unit_test(test_url_alphabet),
        cmocka_unit_test(test_roundtrip_all_bytes),
        cmocka_unit_test(test_strict_rejections),
        cmocka_unit_test(test_decode_args),
        cmocka_unit_test(test_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
