/* Keys, JWKs, thumbprints, signatures: RFC 7638 §3.1, RFC 7515 A.3 and
 * RFC 4231 vectors plus round trips through OpenSSL. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "util/b64url.h"
#include "crypto/crypto.h"

#define NTYPES 5

/* RFC 7638 §3.1. */
static const char rfc7638_n[] =
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aP"
    "FFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl9"
    "3lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdA"
    "ZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3"
    "XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
static const char rfc7638_thumb[] =
    "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

/* RFC 7515 Appendix A.3 (ES256). */
static const char a3_x[] = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
static const char a3_y[] = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
static const char a3_d[] = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";
static const char a3_input[] =
    "eyJhbGciOiJFUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNv"
    "bS9pc19yb290Ijp0cnVlfQ";
static const char a3_sig[] =
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKT"
    "UJqPP3-Kg6NU1Q";

struct keys {
    leec_key *k[NTYPES];
};

/* dupn() without feature-test macros. */
static char *dupn(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static unsigned char *b64d(const char *s, size_t *len)
{
    unsigned char *out = NULL;
    assert_int_equal(Leec_b64url_decode(s, strlen(s), &out, len), LEEC_OK);
    return out;
}

/* Verifies a JWS-style signature (raw r||s for EC) with plain OpenSSL, so
 * the library's encoding is checked against an independent path. */
static bool verify_jws_sig(EVP_PKEY *pkey, const char *md, const void *data,
                           size_t len, const unsigned char *sig, size_t siglen)
{
    unsigned char *der = NULL;
    int derlen = 0;
    const unsigned char *vsig = sig;
    size_t vlen = siglen;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = false;

    assert_non_null(ctx);
    if (EVP_PKEY_is_a(pkey, "EC")) {
        ECDSA_SIG *es = ECDSA_SIG_new();
        size_t half = siglen / 2;
        BIGNUM *r = BN_bin2bn(sig, (int)half, NULL);
        BIGNUM *s = BN_bin2bn(sig + half, (int)half, NULL);
        assert_true(es && r && s && siglen % 2 == 0);
        assert_int_equal(ECDSA_SIG_set0(es, r, s), 1);
        derlen = i2d_ECDSA_SIG(es, &der);
        ECDSA_SIG_free(es);
        assert_true(derlen > 0);
        vsig = der;
        vlen = (size_t)derlen;
    }
    if (EVP_DigestVerifyInit_ex(ctx, NULL, md, NULL, NULL, pkey, NULL) == 1)
        ok = EVP_DigestVerify(ctx, vsig, vlen, data, len) == 1;
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    return ok;
}

/* An RSA public key from JWK n and e, built through OSSL_PARAM. */
static EVP_PKEY *rsa_from_ne(const char *n64, const char *e64)
{
    size_t nlen = 0, elen = 0;
    unsigned char *n = b64d(n64, &nlen);
    unsigned char *e = b64d(e64, &elen);
    BIGNUM *bn = BN_bin2bn(n, (int)nlen, NULL);
    BIGNUM *be = BN_bin2bn(e, (int)elen, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    EVP_PKEY *pkey = NULL;

    assert_true(bn && be && bld && ctx);
    assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn), 1);
    assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be), 1);
    params = OSSL_PARAM_BLD_to_param(bld);
    assert_non_null(params);
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params),
                     1);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    BN_free(bn);
    BN_free(be);
    free(n);
    free(e);
    return pkey;
}

/* The RFC 7515 A.3 P-256 key pair, private scalar included. */
static EVP_PKEY *a3_key(void)
{
    size_t xl = 0, yl = 0, dl = 0;
    unsigned char *x = b64d(a3_x, &xl);
    unsigned char *y = b64d(a3_y, &yl);
    unsigned char *d = b64d(a3_d, &dl);
    unsigned char pub[65];
    BIGNUM *bd = BN_bin2bn(d, (int)dl, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *pkey = NULL;

    assert_int_equal(xl, 32);
    assert_int_equal(yl, 32);
    pub[0] = 0x04;
    memcpy(pub + 1, x, 32);
    memcpy(pub + 33, y, 32);
    assert_true(bd && bld && ctx);
    assert_int_equal(OSSL_PARAM_BLD_push_utf8_string(
                         bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0),
                     1);
    assert_int_equal(OSSL_PARAM_BLD_push_octet_string(
                         bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub),
                     1);
    assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bd),
                     1);
    params = OSSL_PARAM_BLD_to_param(bld);
    assert_non_null(params);
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, params),
                     1);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    BN_clear_free(bd);
    free(x);
    free(y);
    free(d);
    return pkey;
}

/* PEM text of pkey in the given OpenSSL encoder structure. */
static char *encode_pem(EVP_PKEY *pkey, int selection, const char *structure)
{
    OSSL_ENCODER_CTX *ectx =
        OSSL_ENCODER_CTX_new_for_pkey(pkey, selection, "PEM", structure, NULL);
    unsigned char *data = NULL;
    size_t len = 0;
    char *s = NULL;

    assert_non_null(ectx);
    assert_int_equal(OSSL_ENCODER_to_data(ectx, &data, &len), 1);
    s = malloc(len + 1);
    assert_non_null(s);
    memcpy(s, data, len);
    s[len] = '\0';
    OPENSSL_clear_free(data, len);
    OSSL_ENCODER_CTX_free(ectx);
    return s;
}

static int setup_keys(void **state)
{
    struct keys *ks = calloc(1, sizeof *ks);
    if (!ks)
        return -1;
    for (int t = 0; t < NTYPES; t++) {
        if (Leec_key_generate((leec_key_type)t, &ks->k[t]) != LEEC_OK)
            return -1;
    }
    *state = ks;
    return 0;
}

static int teardown_keys(void **state)
{
    struct keys *ks = *state;
    for (int t = 0; t < NTYPES; t++)
        Leec_key_free(ks->k[t]);
    free(ks);
    return 0;
}

static void test_key_type_names(void **state)
{
    static const char *names[NTYPES] = {"ec256", "ec384", "rsa2048", "rsa3072",
                                        "rsa4096"};
    leec_key_type t = LEEC_KEY_RSA4096;
    (void)state;
    for (int i = 0; i < NTYPES; i++) {
        assert_string_equal(leec_key_type_name((leec_key_type)i), names[i]);
        assert_int_equal(leec_key_type_parse(names[i], &t), LEEC_OK);
        assert_int_equal(t, i);
    }
    assert_int_equal(leec_key_type_parse("EC384", &t), LEEC_OK);
    assert_int_equal(t, LEEC_KEY_EC384);
    assert_null(leec_key_type_name((leec_key_type)42));
    assert_int_equal(leec_key_type_parse("ec521", &t), LEEC_E_INVALID_ARG);
    assert_int_equal(leec_key_type_parse("", &t), LEEC_E_INVALID_ARG);
    assert_int_equal(leec_key_type_parse("rsa", &t), LEEC_E_INVALID_ARG);
    assert_int_equal(leec_key_type_parse(NULL, &t), LEEC_E_INVALID_ARG);
}

static void test_generate_types(void **state)
{
    struct keys *ks = *state;
    static const char *algs[NTYPES] = {"ES256", "ES384", "RS256", "RS256",
                                       "RS256"};
    static const int bits[NTYPES] = {256, 384, 2048, 3072, 4096};
    for (int t = 0; t < NTYPES; t++) {
        assert_int_equal(Leec_key_get_type(ks->k[t]), t);
        assert_string_equal(Leec_key_jws_alg(ks->k[t]), algs[t]);
        assert_int_equal(EVP_PKEY_get_bits(Leec_key_evp(ks->k[t])), bits[t]);
    }
}

static void test_pem_roundtrip(void **state)
{
    struct keys *ks = *state;
    for (int t = 0; t < NTYPES; t++) {
        char *pem = NULL, *pem2 = NULL, *j1 = NULL, *j2 = NULL;
        leec_key *k2 = NULL;
        assert_int_equal(Leec_key_to_pem(ks->k[t], &pem), LEEC_OK);
        assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
        assert_null(strstr(pem, "ENCRYPTED"));
        assert_int_equal(Leec_key_load_pem(pem, strlen(pem), &k2), LEEC_OK);
        assert_int_equal(Leec_key_get_type(k2), t);
        assert_int_equal(Leec_key_to_pem(k2, &pem2), LEEC_OK);
        assert_string_equal(pem, pem2);
        assert_int_equal(Leec_key_jwk_json(ks->k[t], &j1), LEEC_OK);
        assert_int_equal(Leec_key_jwk_json(k2, &j2), LEEC_OK);
        assert_string_equal(j1, j2);
        Leec_secure_free(pem);
        Leec_secure_free(pem2);
        free(j1);
        free(j2);
        Leec_key_free(k2);
    }
}

/* A generated EC key is written without OpenSSL's encoder: the text must
 * be OpenSSL's own, byte for byte, a private scalar with leading zero
 * bytes (padded to the order's size) included. */
static void test_pkcs8_like_openssl(void **state)
{
    (void)state;
    const leec_key_type types[] = {LEEC_KEY_EC256, LEEC_KEY_EC384};
    for (size_t t = 0; t < 2; t++) {
        int size = types[t] == LEEC_KEY_EC384 ? 48 : 32;
        bool padded = false;
        /* One scalar in 256 has a zero first byte: 5000 keys miss one with
         * a probability below 1e-8. */
        for (int i = 0; i < 5000 && (!padded || i < 20); i++) {
            leec_key *k = NULL;
            char *mine = NULL;
            char *data = NULL;
            BIGNUM *d = NULL;
            BIO *bio = BIO_new(BIO_s_mem());
            assert_non_null(bio);
            assert_int_equal(Leec_key_generate(types[t], &k), LEEC_OK);
            assert_int_equal(Leec_key_to_pem(k, &mine), LEEC_OK);
            assert_int_equal(PEM_write_bio_PKCS8PrivateKey(bio, Leec_key_evp(k),
                                                           NULL, NULL, 0, NULL,
                                                           NULL),
                             1);
            long n = BIO_get_mem_data(bio, &data);
            assert_true(n > 0);
            assert_int_equal(strlen(mine), (size_t)n);
            assert_memory_equal(mine, data, (size_t)n);
            assert_int_equal(EVP_PKEY_get_bn_param(
                                 Leec_key_evp(k), OSSL_PKEY_PARAM_PRIV_KEY, &d),
                             1);
            if (BN_num_bytes(d) < size)
                padded = true;
            BN_clear_free(d);
            BIO_free(bio);
            Leec_secure_free(mine);
            Leec_key_free(k);
        }
        assert_true(padded);
    }
}

/* SEC1 "EC PRIVATE KEY" and PKCS#1 "RSA PRIVATE KEY" load too. */
static void test_load_traditional(void **state)
{
    struct keys *ks = *state;
    for (int t = 0; t < NTYPES; t += 2) { /* ec256, rsa2048, rsa4096 */
        EVP_PKEY *pk = Leec_key_evp(ks->k[t]);
        char *pem =
            encode_pem(pk, OSSL_KEYMGMT_SELECT_KEYPAIR, "type-specific");
        leec_key *k2 = NULL;
        assert_non_null(strstr(pem, t < 2 ? "-----BEGIN EC PRIVATE KEY-----"
                                          : "-----BEGIN RSA PRIVATE KEY-----"));
        assert_int_equal(Leec_key_load_pem(pem, strlen(pem), &k2), LEEC_OK);
        assert_int_equal(Leec_key_get_type(k2), t);
        assert_int_equal(EVP_PKEY_eq(pk, Leec_key_evp(k2)), 1);
        Leec_key_free(k2);
        Leec_secure_free(pem);
    }
    /* ec384 in SEC1 as well, the other curve. */
    {
        char *pem = encode_pem(Leec_key_evp(ks->k[1]),
                               OSSL_KEYMGMT_SELECT_KEYPAIR, "type-specific");
        leec_key *k2 = NULL;
        assert_int_equal(Leec_key_load_pem(pem, strlen(pem), &k2), LEEC_OK);
        assert_int_equal(Leec_key_get_type(k2), LEEC_KEY_EC384);
        Leec_key_free(k2);
        Leec_secure_free(pem);
    }
}

static void expect_bad_key(EVP_PKEY *pk, const char *structure)
{
    char *pem = encode_pem(pk, OSSL_KEYMGMT_SELECT_KEYPAIR, structure);
    leec_key *k = NULL;
    assert_int_equal(Leec_key_load_pem(pem, strlen(pem), &k), LEEC_E_BAD_KEY);
    assert_null(k);
    Leec_secure_free(pem);
}

static void test_load_rejects(void **state)
{
    struct keys *ks = *state;
    EVP_PKEY *p521 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
    EVP_PKEY *k256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
    EVP_PKEY *rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    leec_key *k = NULL;
    char *pub = NULL;
    char *enc = NULL;
    BIO *bio = NULL;
    char *data = NULL;
    long len = 0;
    static const char garbage[] = "-----BEGIN PRIVATE KEY-----\nAAAA\n"
                                  "-----END PRIVATE KEY-----\n";
    (void)state;

    assert_true(p521 && k256 && rsa1024 && ed);
    expect_bad_key(p521, "PrivateKeyInfo");
    expect_bad_key(p521, "type-specific");
    expect_bad_key(k256, "PrivateKeyInfo");
    expect_bad_key(rsa1024, "PrivateKeyInfo");
    expect_bad_key(rsa1024, "type-specific");
    expect_bad_key(ed, "PrivateKeyInfo");

    assert_int_equal(Leec_key_load_pem(garbage, strlen(garbage), &k),
                     LEEC_E_BAD_KEY);
    assert_int_equal(Leec_key_load_pem("", 0, &k), LEEC_E_BAD_KEY);
    assert_int_equal(Leec_key_load_pem(NULL, 0, &k), LEEC_E_INVALID_ARG);

    /* A public key is not a private key. */
    pub = encode_pem(Leec_key_evp(ks->k[0]), OSSL_KEYMGMT_SELECT_PUBLIC_KEY,
                     "SubjectPublicKeyInfo");
    assert_int_equal(Leec_key_load_pem(pub, strlen(pub), &k), LEEC_E_BAD_KEY);

    /* An encrypted key fails instead of prompting for a password. */
    bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PKCS8PrivateKey(bio, Leec_key_evp(ks->k[0]),
                                                   EVP_aes_128_cbc(), "secret",
                                                   6, NULL, NULL),
                     1);
    len = BIO_get_mem_data(bio, &data);
    enc = dupn(data, (size_t)len);
    assert_non_null(strstr(enc, "ENCRYPTED PRIVATE KEY"));
    assert_int_equal(Leec_key_load_pem(enc, strlen(enc), &k), LEEC_E_BAD_KEY);
    assert_null(k);

    /* The wrapper applies the same rules. */
    assert_int_equal(Leec_key_from_evp(p521, &k), LEEC_E_BAD_KEY);
    assert_int_equal(Leec_key_from_evp(ed, &k), LEEC_E_BAD_KEY);

    BIO_free(bio);
    free(enc);
    free(pub);
    EVP_PKEY_free(p521);
    EVP_PKEY_free(k256);
    EVP_PKEY_free(rsa1024);
    EVP_PKEY_free(ed);
}

static void test_rfc7638_thumbprint(void **state)
{
    EVP_PKEY *pk = rsa_from_ne(rfc7638_n, "AQAB");
    leec_key *k = NULL;
    char *thumb = NULL;
    char *json = NULL;
    char want[512];
    unsigned char *sig = NULL;
    size_t siglen = 0;
    (void)state;

    assert_int_equal(Leec_key_from_evp(pk, &k), LEEC_OK);
    EVP_PKEY_free(pk); /* the wrapper holds its own reference */
    assert_int_equal(Leec_key_get_type(k), LEEC_KEY_RSA2048);
    assert_int_equal(Leec_key_jwk_json(k, &json), LEEC_OK);
    snprintf(want, sizeof want, "{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"%s\"}",
             rfc7638_n);
    assert_string_equal(json, want);
    assert_int_equal(Leec_key_thumbprint(k, &thumb), LEEC_OK);
    assert_string_equal(thumb, rfc7638_thumb);
    /* Made once and kept in the key: later calls hand out fresh copies of
     * the same text. */
    free(thumb);
    free(json);
    assert_int_equal(Leec_key_thumbprint(k, &thumb), LEEC_OK);
    assert_string_equal(thumb, rfc7638_thumb);
    assert_int_equal(Leec_key_jwk_json(k, &json), LEEC_OK);
    assert_string_equal(json, want);
    /* Public only: signing must fail cleanly. */
    assert_int_equal(Leec_key_sign(k, "x", 1, &sig, &siglen), LEEC_E_CRYPTO);
    assert_null(sig);
    free(thumb);
    free(json);
    Leec_key_free(k);
}

static void test_rfc7515_a3(void **state)
{
    EVP_PKEY *pk = a3_key();
    leec_key *k = NULL;
    char *json = NULL;
    char want[256];
    unsigned char *sig = NULL;
    size_t siglen = 0;
    unsigned char *mine = NULL;
    size_t minelen = 0;
    (void)state;

    assert_int_equal(Leec_key_from_evp(pk, &k), LEEC_OK);
    assert_int_equal(Leec_key_get_type(k), LEEC_KEY_EC256);
    assert_int_equal(Leec_key_jwk_json(k, &json), LEEC_OK);
    snprintf(want, sizeof want,
             "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
             a3_x, a3_y);
    assert_string_equal(json, want);

    /* The RFC's own raw r||s signature verifies: the raw<->DER handling of
     * the checker below is right. */
    sig = b64d(a3_sig, &siglen);
    assert_int_equal(siglen, 64);
    assert_true(
        verify_jws_sig(pk, "SHA256", a3_input, strlen(a3_input), sig, siglen));
    sig[10] ^= 1;
    assert_false(
        verify_jws_sig(pk, "SHA256", a3_input, strlen(a3_input), sig, siglen));

    /* And ours verifies through the same checker. */
    assert_int_equal(
        Leec_key_sign(k, a3_input, strlen(a3_input), &mine, &minelen), LEEC_OK);
    assert_int_equal(minelen, 64);
    assert_true(verify_jws_sig(pk, "SHA256", a3_input, strlen(a3_input), mine,
                               minelen));
    free(mine);
    free(sig);
    free(json);
    Leec_key_free(k);
    EVP_PKEY_free(pk);
}

static void test_sign_verify(void **state)
{
    struct keys *ks = *state;
    static const size_t lens[NTYPES] = {64, 96, 256, 384, 512};
    static const char msg[] = "eyJhbGciOiJFUzI1NiJ9.e30";
    for (int t = 0; t < NTYPES; t++) {
        const char *md = t == LEEC_KEY_EC384 ? "SHA384" : "SHA256";
        /* Many runs on EC so that a short r or s (1 in 128) shows up. */
        int runs = t < 2 ? 300 : 2;
        for (int i = 0; i < runs; i++) {
            unsigned char *sig = NULL;
            size_t siglen = 0;
            assert_int_equal(
                Leec_key_sign(ks->k[t], msg, strlen(msg), &sig, &siglen),
                LEEC_OK);
            assert_int_equal(siglen, lens[t]);
            assert_true(verify_jws_sig(Leec_key_evp(ks->k[t]), md, msg,
                                       strlen(msg), sig, siglen));
            assert_false(verify_jws_sig(Leec_key_evp(ks->k[t]), md, "x", 1, sig,
                                        siglen));
            free(sig);
        }
    }
    /* Empty input is a valid thing to sign. */
    {
        unsigned char *sig = NULL;
        size_t siglen = 0;
        assert_int_equal(Leec_key_sign(ks->k[0], NULL, 0, &sig, &siglen),
                         LEEC_OK);
        assert_true(verify_jws_sig(Leec_key_evp(ks->k[0]), "SHA256", "", 0, sig,
                                   siglen));
        free(sig);
    }
}

/* Signing reuses a context cached in the key: a copy that kept state from
 * the previous message (or a template that was signed with) would fail to
 * verify from the second signature on. Every message differs. */
static void test_sign_many(void **state)
{
    struct keys *ks = *state;
    static const int types[] = {LEEC_KEY_EC256, LEEC_KEY_RSA2048};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        leec_key *k = ks->k[types[t]];
        const char *md = "SHA256";
        size_t want = types[t] == LEEC_KEY_EC256 ? 64 : 256;
        for (int i = 0; i < 1000; i++) {
            char msg[64];
            unsigned char *sig = NULL;
            size_t siglen = 0;
            int mlen = snprintf(msg, sizeof msg, "eyJhbGciOiJFUzI1NiJ9.%d", i);
            assert_true(mlen > 0 && (size_t)mlen < sizeof msg);
            assert_int_equal(Leec_key_sign(k, msg, (size_t)mlen, &sig, &siglen),
                             LEEC_OK);
            assert_int_equal(siglen, want);
            assert_true(verify_jws_sig(Leec_key_evp(k), md, msg, (size_t)mlen,
                                       sig, siglen));
            free(sig);
        }
    }
}

static void check_jwk_shape(leec_key *k)
{
    char *json = NULL;
    assert_int_equal(Leec_key_jwk_json(k, &json), LEEC_OK);
    assert_null(strpbrk(json, " \t\r\n"));
    if (Leec_key_get_type(k) <= LEEC_KEY_EC384) {
        const char *pfx = Leec_key_get_type(k) == LEEC_KEY_EC256
                              ? "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\""
                              : "{\"crv\":\"P-384\",\"kty\":\"EC\",\"x\":\"";
        size_t clen = Leec_key_get_type(k) == LEEC_KEY_EC256 ? 43 : 64;
        const char *x = json + strlen(pfx);
        assert_memory_equal(json, pfx, strlen(pfx));
        assert_memory_equal(x + clen, "\",\"y\":\"", 7);
        assert_string_equal(x + clen + 7 + clen, "\"}");
    } else {
        assert_memory_equal(json, "{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"",
                            strlen("{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\""));
    }
    free(json);
}

static void test_jwk_canonical(void **state)
{
    struct keys *ks = *state;
    for (int t = 0; t < NTYPES; t++)
        check_jwk_shape(ks->k[t]);
}

/* A key whose x or y starts with a zero byte still gets 32-byte
 * coordinates (RFC 7518 §6.2.1.2). */
static void test_ec_coordinate_padding(void **state)
{
    bool found = false;
    (void)state;
    for (int i = 0; i < 5000 && !found; i++) {
        leec_key *k = NULL;
        BIGNUM *x = NULL, *y = NULL;
        assert_int_equal(Leec_key_generate(LEEC_KEY_EC256, &k), LEEC_OK);
        assert_int_equal(EVP_PKEY_get_bn_param(Leec_key_evp(k),
                                               OSSL_PKEY_PARAM_EC_PUB_X, &x),
                         1);
        assert_int_equal(EVP_PKEY_get_bn_param(Leec_key_evp(k),
                                               OSSL_PKEY_PARAM_EC_PUB_Y, &y),
                         1);
        if (BN_num_bytes(x) < 32 || BN_num_bytes(y) < 32) {
            found = true;
            check_jwk_shape(k);
        }
        BN_free(x);
        BN_free(y);
        Leec_key_free(k);
    }
    assert_true(found);
}

static void test_thumbprint_and_keyauth(void **state)
{
    struct keys *ks = *state;
    char *json = NULL, *thumb = NULL, *ka = NULL, *want_thumb = NULL;
    unsigned char digest[32];
    char want[256];

    assert_int_equal(Leec_key_jwk_json(ks->k[0], &json), LEEC_OK);
    Leec_sha256(json, strlen(json), digest);
    want_thumb = Leec_b64url_encode(digest, sizeof digest);
    assert_int_equal(Leec_key_thumbprint(ks->k[0], &thumb), LEEC_OK);
    assert_string_equal(thumb, want_thumb);
    assert_int_equal(strlen(thumb), 43);

    assert_int_equal(
        Leec_key_authorization(ks->k[0],
                               "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PC"
                               "t92wr-oA",
                               &ka),
        LEEC_OK);
    snprintf(want, sizeof want, "%s.%s",
             "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA", thumb);
    assert_string_equal(ka, want);
    free(ka);
    ka = NULL;
    assert_int_equal(Leec_key_authorization(ks->k[0], "../../etc", &ka),
                     LEEC_E_INVALID_ARG);
    assert_int_equal(Leec_key_authorization(ks->k[0], "", &ka),
                     LEEC_E_INVALID_ARG);
    assert_null(ka);
    free(json);
    free(thumb);
    free(want_thumb);
}

static void hex(const unsigned char *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

static void test_sha256_hmac(void **state)
{
    unsigned char d[32];
    char h[2 * 64 + 1];
    unsigned char *mac = NULL;
    size_t maclen = 0;
    static const char msg[] = "what do ya want for nothing?";
    (void)state;

    Leec_sha256("abc", 3, d);
    hex(d, 32, h);
    assert_string_equal(
        h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    /* RFC 4231 test case 2. */
    assert_int_equal(
        Leec_hmac("sha256", "Jefe", 4, msg, strlen(msg), &mac, &maclen),
        LEEC_OK);
    assert_int_equal(maclen, 32);
    hex(mac, maclen, h);
    assert_string_equal(
        h, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    free(mac);
    assert_int_equal(
        Leec_hmac("sha384", "Jefe", 4, msg, strlen(msg), &mac, &maclen),
        LEEC_OK);
    hex(mac, maclen, h);
    assert_string_equal(h, "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e4"
                           "2ec3736322445e8e2240ca5e69e2c78b3239ecfab21649");
    free(mac);
    assert_int_equal(
        Leec_hmac("sha512", "Jefe", 4, msg, strlen(msg), &mac, &maclen),
        LEEC_OK);
    hex(mac, maclen, h);
    assert_string_equal(
        h, "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
           "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
    free(mac);
    mac = NULL;
    assert_int_equal(
        Leec_hmac("md5", "Jefe", 4, msg, strlen(msg), &mac, &maclen),
        LEEC_E_INVALID_ARG);
    assert_null(mac);
}

/* A self-signed certificate for pkey, enough for matches_cert_pem. */
static char *self_signed(EVP_PKEY *pkey)
{
    X509 *x = X509_new();
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    long len = 0;
    char *s = NULL;

    assert_true(x && bio);
    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"t", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_set_pubkey(x, pkey);
    assert_true(X509_sign(x, pkey, EVP_sha256()) > 0);
    PEM_write_bio_X509(bio, x);
    len = BIO_get_mem_data(bio, &data);
    s = dupn(data, (size_t)len);
    BIO_free(bio);
    X509_free(x);
    return s;
}

static void test_matches_cert(void **state)
{
    struct keys *ks = *state;
    char *pem0 = self_signed(Leec_key_evp(ks->k[0]));
    char *pem2 = self_signed(Leec_key_evp(ks->k[2]));
    assert_true(Leec_key_matches_cert_pem(ks->k[0], pem0, strlen(pem0)));
    assert_true(Leec_key_matches_cert_pem(ks->k[2], pem2, strlen(pem2)));
    assert_false(Leec_key_matches_cert_pem(ks->k[0], pem2, strlen(pem2)));
    assert_false(Leec_key_matches_cert_pem(ks->k[1], pem0, strlen(pem0)));
    assert_false(Leec_key_matches_cert_pem(ks->k[0], "junk", 4));
    assert_false(Leec_key_matches_cert_pem(ks->k[0], pem0, 20));
    free(pem0);
    free(pem2);
    Leec_secure_free(NULL);
}

/* The RFC 7919 group straight from OpenSSL, for comparison. */
static EVP_PKEY *named_group(const char *name)
{
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
    OSSL_PARAM p[2] = {OSSL_PARAM_construct_utf8_string(
                           OSSL_PKEY_PARAM_GROUP_NAME, (char *)name, 0),
                       OSSL_PARAM_construct_end()};
    assert_non_null(c);
    assert_true(EVP_PKEY_paramgen_init(c) > 0);
    assert_true(EVP_PKEY_CTX_set_params(c, p) > 0);
    assert_true(EVP_PKEY_paramgen(c, &pk) > 0);
    EVP_PKEY_CTX_free(c);
    return pk;
}

static void assert_same_bn(const EVP_PKEY *a, const EVP_PKEY *b,
                           const char *param)
{
    BIGNUM *x = NULL, *y = NULL;
    assert_true(EVP_PKEY_get_bn_param(a, param, &x));
    assert_true(EVP_PKEY_get_bn_param(b, param, &y));
    assert_int_equal(BN_cmp(x, y), 0);
    BN_free(x);
    BN_free(y);
}

static void test_dhparam_named(void **state)
{
    (void)state;
    static const struct {
        int bits;
        const char *group;
    } cases[] = {{2048, "ffdhe2048"}, {3072, "ffdhe3072"}, {4096, "ffdhe4096"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *pem = NULL;
        assert_int_equal(leec_dhparam_pem(cases[i].bits, false, &pem), LEEC_OK);
        assert_non_null(strstr(pem, "-----BEGIN DH PARAMETERS-----\n"));
        BIO *bio = BIO_new_mem_buf(pem, -1);
        EVP_PKEY *got = PEM_read_bio_Parameters(bio, NULL);
        assert_non_null(got);
        assert_true(EVP_PKEY_is_a(got, "DH"));
        assert_int_equal(EVP_PKEY_get_bits(got), cases[i].bits);
        EVP_PKEY *want = named_group(cases[i].group);
        assert_same_bn(got, want, OSSL_PKEY_PARAM_FFC_P);
        assert_same_bn(got, want, OSSL_PKEY_PARAM_FFC_G);
        /* Checks out as DH parameters. */
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, got, NULL);
        assert_non_null(c);
        assert_int_equal(EVP_PKEY_param_check(c), 1);
        EVP_PKEY_CTX_free(c);
        EVP_PKEY_free(want);
        EVP_PKEY_free(got);
        BIO_free(bio);
        free(pem);
    }
}

static void test_dhparam_invalid(void **state)
{
    (void)state;
    char *pem = (char *)"sentinel";
    assert_int_equal(leec_dhparam_pem(1024, false, &pem), LEEC_E_INVALID_ARG);
    assert_null(pem);
    assert_int_equal(leec_dhparam_pem(2047, true, &pem), LEEC_E_INVALID_ARG);
    assert_int_equal(leec_dhparam_pem(8192, false, &pem), LEEC_E_INVALID_ARG);
    assert_int_equal(leec_dhparam_pem(2048, false, NULL), LEEC_E_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_type_names),
        cmocka_unit_test(test_generate_types),
        cmocka_unit_test(test_pem_roundtrip),
        cmocka_unit_test(test_pkcs8_like_openssl),
        cmocka_unit_test(test_load_traditional),
        cmocka_unit_test(test_load_rejects),
        cmocka_unit_test(test_rfc7638_thumbprint),
        cmocka_unit_test(test_rfc7515_a3),
        cmocka_unit_test(test_sign_verify),
        cmocka_unit_test(test_sign_many),
        cmocka_unit_test(test_jwk_canonical),
        cmocka_unit_test(test_ec_coordinate_padding),
        cmocka_unit_test(test_thumbprint_and_keyauth),
        cmocka_unit_test(test_sha256_hmac),
        cmocka_unit_test(test_matches_cert),
        cmocka_unit_test(test_dhparam_named),
        cmocka_unit_test(test_dhparam_invalid),
    };
    return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
