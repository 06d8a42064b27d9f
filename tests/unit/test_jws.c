/* JWS for ACME: parse what Leec_jws_sign writes and check it with jansson
 * and plain OpenSSL. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "util/b64url.h"
#include "crypto/crypto.h"
#include "crypto/jws.h"
#include "util/buf.h"
#include "util/json.h"

#define URL   "https://ca.example/acme/new-order"
#define NONCE "oFvnlFP1wIhRlYS2jTaXbA"
#define KID   "https://ca.example/acme/acct/evOfKhNU60wg"

struct keys {
    leec_key *ec256;
    leec_key *ec384;
    leec_key *rsa;
};

/* A decoded JWS: the three members and the protected header parsed. */
struct parsed {
    json_t *jws;
    json_t *hdr;
    char *payload; /* decoded, NUL-terminated */
    size_t payload_len;
};

static int setup(void **state)
{
    struct keys *k = calloc(1, sizeof *k);
    if (!k || Leec_key_generate(LEEC_KEY_EC256, &k->ec256) != LEEC_OK ||
        Leec_key_generate(LEEC_KEY_EC384, &k->ec384) != LEEC_OK ||
        Leec_key_generate(LEEC_KEY_RSA2048, &k->rsa) != LEEC_OK)
        return -1;
    *state = k;
    return 0;
}

static int teardown(void **state)
{
    struct keys *k = *state;
    Leec_key_free(k->ec256);
    Leec_key_free(k->ec384);
    Leec_key_free(k->rsa);
    free(k);
    return 0;
}

static unsigned char *b64d(const char *s, size_t *len)
{
    unsigned char *out = NULL;
    assert_int_equal(Leec_b64url_decode(s, strlen(s), &out, len), LEEC_OK);
    return out;
}

/* Verifies the JWS signature with OpenSSL directly (raw r||s to DER for
 * EC), over protected "." payload exactly as sent. */
static void verify(const leec_key *key, json_t *jws)
{
    const char *prot = json_string_value(json_object_get(jws, "protected"));
    const char *pay = json_string_value(json_object_get(jws, "payload"));
    const char *sig64 = json_string_value(json_object_get(jws, "signature"));
    EVP_PKEY *pkey = Leec_key_evp(key);
    const char *md =
        Leec_key_get_type(key) == LEEC_KEY_EC384 ? "SHA384" : "SHA256";
    size_t siglen = 0;
    unsigned char *sig = NULL;
    unsigned char *der = NULL;
    const unsigned char *vsig = NULL;
    size_t vlen = 0;
    size_t ilen = 0;
    char *input = NULL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    assert_true(prot && pay && sig64 && ctx);
    sig = b64d(sig64, &siglen);
    vsig = sig;
    vlen = siglen;
    if (EVP_PKEY_is_a(pkey, "EC")) {
        size_t half = Leec_key_get_type(key) == LEEC_KEY_EC384 ? 48 : 32;
        ECDSA_SIG *es = ECDSA_SIG_new();
        int dl = 0;
        assert_int_equal(siglen, 2 * half);
        assert_int_equal(ECDSA_SIG_set0(es, BN_bin2bn(sig, (int)half, NULL),
                                        BN_bin2bn(sig + half, (int)half, NULL)),
                         1);
        dl = i2d_ECDSA_SIG(es, &der);
        assert_true(dl > 0);
        ECDSA_SIG_free(es);
        vsig = der;
        vlen = (size_t)dl;
    } else {
        assert_int_equal(siglen, 256);
    }
    ilen = strlen(prot) + 1 + strlen(pay);
    input = malloc(ilen + 1);
    assert_non_null(input);
    memcpy(input, prot, strlen(prot));
    input[strlen(prot)] = '.';
    memcpy(input + strlen(prot) + 1, pay, strlen(pay) + 1);
    assert_int_equal(
        EVP_DigestVerifyInit_ex(ctx, NULL, md, NULL, NULL, pkey, NULL), 1);
    assert_int_equal(
        EVP_DigestVerify(ctx, vsig, vlen, (const unsigned char *)input, ilen),
        1);
    /* Flipping one byte of the signing input must break it. */
    input[0] ^= 1;
    assert_int_equal(
        EVP_DigestVerifyInit_ex(ctx, NULL, md, NULL, NULL, pkey, NULL), 1);
    assert_int_not_equal(
        EVP_DigestVerify(ctx, vsig, vlen, (const unsigned char *)input, ilen),
        1);
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    free(sig);
    free(input);
}

static void parse(const char *text, struct parsed *p)
{
    json_error_t err;
    unsigned char *hdr = NULL;
    size_t hlen = 0;
    unsigned char *pay = NULL;

    memset(p, 0, sizeof *p);
    p->jws = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    assert_non_null(p->jws);
    assert_true(json_is_object(p->jws));
    /* Flattened serialization: exactly these three members. */
    assert_int_equal(json_object_size(p->jws), 3);
    assert_true(json_is_string(json_object_get(p->jws, "protected")));
    assert_true(json_is_string(json_object_get(p->jws, "payload")));
    assert_true(json_is_string(json_object_get(p->jws, "signature")));
    hdr = b64d(json_string_value(json_object_get(p->jws, "protected")), &hlen);
    p->hdr = json_loadb((const char *)hdr, hlen, JSON_REJECT_DUPLICATES, &err);
    assert_non_null(p->hdr);
    free(hdr);
    pay = b64d(json_string_value(json_object_get(p->jws, "payload")),
               &p->payload_len);
    p->payload = malloc(p->payload_len + 1);
    assert_non_null(p->payload);
    memcpy(p->payload, pay, p->payload_len);
    p->payload[p->payload_len] = '\0';
    free(pay);
}

static void parsed_free(struct parsed *p)
{
    json_decref(p->jws);
    json_decref(p->hdr);
    free(p->payload);
}

static const char *hdr_str(struct parsed *p, const char *name)
{
    return json_string_value(json_object_get(p->hdr, name));
}

static void check_jwk_member(struct parsed *p, const leec_key *key)
{
    char *canon = NULL;
    json_t *want = NULL;
    assert_int_equal(Leec_key_jwk_json(key, &canon), LEEC_OK);
    want = json_loads(canon, 0, NULL);
    assert_non_null(want);
    assert_true(json_equal(json_object_get(p->hdr, "jwk"), want));
    json_decref(want);
    free(canon);
}

static void sign_and_check(const leec_key *key, const char *alg)
{
    static const char payload[] = "{\"identifiers\":[{\"type\":\"dns\","
                                  "\"value\":\"a.example\"}]}";
    char *out = NULL;
    struct parsed p;

    /* New-account style: jwk, nonce, url. */
    assert_int_equal(Leec_jws_sign(key, NULL, NONCE, URL, payload, &out),
                     LEEC_OK);
    parse(out, &p);
    assert_string_equal(hdr_str(&p, "alg"), alg);
    assert_string_equal(hdr_str(&p, "nonce"), NONCE);
    assert_string_equal(hdr_str(&p, "url"), URL);
    assert_null(json_object_get(p.hdr, "kid"));
    assert_int_equal(json_object_size(p.hdr), 4);
    check_jwk_member(&p, key);
    assert_string_equal(p.payload, payload); /* encoded as given */
    verify(key, p.jws);
    parsed_free(&p);
    free(out);
    out = NULL;

    /* Account requests: kid, no jwk. */
    assert_int_equal(Leec_jws_sign(key, KID, NONCE, URL, payload, &out),
                     LEEC_OK);
    parse(out, &p);
    assert_string_equal(hdr_str(&p, "alg"), alg);
    assert_string_equal(hdr_str(&p, "kid"), KID);
    assert_null(json_object_get(p.hdr, "jwk"));
    assert_int_equal(json_object_size(p.hdr), 4);
    verify(key, p.jws);
    parsed_free(&p);
    free(out);
}

static void test_es256(void **state)
{
    struct keys *k = *state;
    sign_and_check(k->ec256, "ES256");
}

static void test_es384(void **state)
{
    struct keys *k = *state;
    sign_and_check(k->ec384, "ES384");
}

static void test_rs256(void **state)
{
    struct keys *k = *state;
    sign_and_check(k->rsa, "RS256");
}

static void test_post_as_get(void **state)
{
    struct keys *k = *state;
    char *out = NULL;
    struct parsed p;

    assert_int_equal(Leec_jws_sign(k->ec256, KID, NONCE, URL, NULL, &out),
                     LEEC_OK);
    parse(out, &p);
    assert_string_equal(json_string_value(json_object_get(p.jws, "payload")),
                        "");
    assert_int_equal(p.payload_len, 0);
    verify(k->ec256, p.jws);
    parsed_free(&p);
    free(out);
}

/* The inner JWS of a key change has no nonce (RFC 8555 §7.3.5). */
static void test_no_nonce(void **state)
{
    struct keys *k = *state;
    char *out = NULL;
    struct parsed p;

    assert_int_equal(Leec_jws_sign(k->ec384, NULL, NULL, URL,
                                   "{\"account\":\"" KID "\",\"oldKey\":{}}",
                                   &out),
                     LEEC_OK);
    parse(out, &p);
    assert_null(json_object_get(p.hdr, "nonce"));
    assert_int_equal(json_object_size(p.hdr), 3);
    verify(k->ec384, p.jws);
    parsed_free(&p);
    free(out);
}

static void test_payload_must_be_json(void **state)
{
    struct keys *k = *state;
    char *out = NULL;
    assert_int_equal(Leec_jws_sign(k->ec256, KID, NONCE, URL, "", &out),
                     LEEC_E_INVALID_ARG);
    assert_int_equal(Leec_jws_sign(k->ec256, KID, NONCE, URL, "{", &out),
                     LEEC_E_INVALID_ARG);
    assert_int_equal(Leec_jws_sign(k->ec256, KID, NONCE, URL, "not json", &out),
                     LEEC_E_INVALID_ARG);
    assert_null(out);
    /* "{}" (an empty object) is JSON, unlike an empty string. */
    assert_int_equal(Leec_jws_sign(k->ec256, KID, NONCE, URL, "{}", &out),
                     LEEC_OK);
    free(out);
    out = NULL;
    assert_int_equal(Leec_jws_sign(k->ec256, KID, NONCE, NULL, "{}", &out),
                     LEEC_E_INVALID_ARG);
    /* A nonce that is not UTF-8 (it comes from the server). */
    assert_int_equal(Leec_jws_sign(k->ec256, KID, "\xff\xfe", URL, "{}", &out),
                     LEEC_E_INVALID_ARG);
    assert_null(out);
}

/* What the header was before it was written directly: a jansson tree,
 * dumped compact. NULL when jansson refuses a string. */
static char *jansson_header(const leec_key *key, const char *kid,
                            const char *nonce, const char *url)
{
    json_t *h = json_object();
    json_t *v = NULL;
    char *jwk = NULL;
    char *text = NULL;
    assert_non_null(h);
    json_object_set_new(h, "alg", json_string(Leec_key_jws_alg(key)));
    if (kid) {
        if (!(v = json_string(kid)))
            goto out;
        json_object_set_new(h, "kid", v);
    } else {
        assert_int_equal(Leec_key_jwk_json(key, &jwk), LEEC_OK);
        json_object_set_new(h, "jwk", json_loads(jwk, 0, NULL));
    }
    if (nonce) {
        if (!(v = json_string(nonce)))
            goto out;
        json_object_set_new(h, "nonce", v);
    }
    if (!(v = json_string(url)))
        goto out;
    json_object_set_new(h, "url", v);
    text = json_dumps(h, JSON_COMPACT);
out:
    json_decref(h);
    free(jwk);
    return text;
}

/* The JWS text is what jansson wrote before, byte for byte: the protected
 * header (every member, strings escaped or refused alike) and the outer
 * object, for keys of each kind and awkward server-supplied strings. */
static void test_same_bytes_as_jansson(void **state)
{
    struct keys *k = *state;
    static const char *const texts[] = {
        NONCE,
        KID,
        "a\"b\\c/d",
        "tab\there\nnew\rline\b\f",
        "\x01\x1f\x7f end",
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92",
        "",
        "\xc0\x80",         /* overlong NUL */
        "\xed\xa0\x80",     /* a surrogate */
        "\xf4\x90\x80\x80", /* past U+10FFFF */
        "\xe2\x82",         /* cut short */
        "\x80",             /* a lone continuation byte */
        "ok \xff",
    };
    const leec_key *keys[] = {k->ec256, k->ec384, k->rsa};
    for (size_t ki = 0; ki < 3; ki++) {
        for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
            for (int form = 0; form < 3; form++) {
                /* the text as nonce (kid), as kid, as url (jwk) */
                const char *kid = form == 0 ? KID : form == 1 ? texts[i] : NULL;
                const char *nonce = form == 1 ? NONCE : texts[i];
                const char *url = form == 2 ? texts[i] : URL;
                char *want = jansson_header(keys[ki], kid, nonce, url);
                char *out = NULL;
                leec_code rc =
                    Leec_jws_sign(keys[ki], kid, nonce, url, "{}", &out);
                if (!want) {
                    assert_int_equal(rc, LEEC_E_INVALID_ARG);
                    assert_null(out);
                    continue;
                }
                assert_int_equal(rc, LEEC_OK);
                json_t *jws = json_loads(out, 0, NULL);
                assert_non_null(jws);
                /* The outer object as json_dumps writes it. */
                char *again = json_dumps(jws, JSON_COMPACT);
                assert_string_equal(out, again);
                size_t hlen = 0;
                unsigned char *hdr =
                    b64d(json_string_value(json_object_get(jws, "protected")),
                         &hlen);
                assert_int_equal(hlen, strlen(want));
                assert_memory_equal(hdr, want, hlen);
                verify(keys[ki], jws);
                free(hdr);
                free(again);
                json_decref(jws);
                free(want);
                free(out);
            }
        }
    }
}

/* Leec_json_append_string against json_dumps of a json_string: every string
 * of one and two bytes, then random ones of up to six bytes drawn mostly
 * from the bytes that matter (controls, quotes, UTF-8 lead and
 * continuation bytes). */
static void append_matches(const char *s)
{
    json_t *j = json_string(s);
    char *want = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    leec_buf b;
    Leec_buf_init(&b, 0);
    assert_int_equal(Leec_buf_append_str(&b, "x"), LEEC_OK);
    leec_code rc = Leec_json_append_string(&b, s);
    if (!j) {
        assert_int_equal(rc, LEEC_E_INVALID_ARG);
        assert_string_equal(b.data, "x"); /* nothing appended */
    } else {
        assert_int_equal(rc, LEEC_OK);
        assert_non_null(want);
        assert_string_equal(b.data + 1, want);
    }
    Leec_buf_free(&b);
    free(want);
    json_decref(j);
}

static void test_json_string_escaping(void **state)
{
    (void)state;
    static const unsigned char pool[] = {
        0x01, 0x08, 0x09, 0x0a, 0x0c, 0x0d, 0x1f, '"',  '\\', '/',  'a',
        0x7f, 0x80, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed,
        0xef, 0xf0, 0xf4, 0xf5, 0xff, 0x8f, 0x90, 0xa5, 0x82, 0xac};
    char s[8];
    for (int a = 1; a < 256; a++) {
        s[0] = (char)a;
        s[1] = '\0';
        append_matches(s);
        for (int c = 1; c < 256; c++) {
            s[1] = (char)c;
            s[2] = '\0';
            append_matches(s);
        }
    }
    uint32_t x = 2463534242u; /* xorshift32: the same strings each run */
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        size_t n = 1 + x % 6;
        for (size_t j = 0; j < n; j++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            s[j] = (char)(x % 4 ? pool[(x >> 8) % sizeof pool]
                                : 1 + (x >> 8) % 255);
        }
        s[n] = '\0';
        append_matches(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_es256),
        cmocka_unit_test(test_same_bytes_as_jansson),
        cmocka_unit_test(test_json_string_escaping),
        cmocka_unit_test(test_es384),
        cmocka_unit_test(test_rs256),
        cmocka_unit_test(test_post_as_get),
        cmocka_unit_test(test_no_nonce),
        cmocka_unit_test(test_payload_must_be_json),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
