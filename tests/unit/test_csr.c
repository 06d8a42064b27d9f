/* CSRs: decode what Leec_csr_new makes and inspect it with OpenSSL. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "util/b64url.h"
#include "crypto/crypto.h"
#include "crypto/csr.h"

struct keys {
    leec_key *ec256;
    leec_key *ec384;
    leec_key *rsa;
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

/* Makes the CSR and decodes it; checks the signature and the key. */
static X509_REQ *make(const leec_key *key, const char *const *names, size_t n)
{
    char *b64 = NULL;
    unsigned char *der = NULL;
    size_t dlen = 0;
    const unsigned char *p = NULL;
    X509_REQ *req = NULL;
    EVP_PKEY *pub = NULL;
    int want_sig = Leec_key_get_type(key) <= LEEC_KEY_EC384
                       ? NID_ecdsa_with_SHA256
                       : NID_sha256WithRSAEncryption;

    assert_int_equal(Leec_csr_new(key, names, n, &b64), LEEC_OK);
    assert_true(Leec_b64url_valid(b64, strlen(b64)));
    assert_int_equal(Leec_b64url_decode(b64, strlen(b64), &der, &dlen),
                     LEEC_OK);
    p = der;
    req = d2i_X509_REQ(NULL, &p, (long)dlen);
    assert_non_null(req);
    assert_ptr_equal(p, der + dlen);
    pub = X509_REQ_get0_pubkey(req);
    assert_non_null(pub);
    assert_int_equal(EVP_PKEY_eq(pub, Leec_key_evp(key)), 1);
    assert_int_equal(X509_REQ_verify(req, pub), 1);
    assert_int_equal(X509_REQ_get_signature_nid(req), want_sig);
    assert_int_equal(X509_REQ_get_version(req), X509_REQ_VERSION_1);
    /* EC keys skip X509_REQ_set_pubkey: the SubjectPublicKeyInfo written
     * directly must be the very bytes OpenSSL's encoder makes. */
    {
        unsigned char *mine = NULL;
        unsigned char *ref = NULL;
        int mlen = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(req), &mine);
        int rlen = i2d_PUBKEY(Leec_key_evp(key), &ref);
        assert_true(mlen > 0);
        assert_int_equal(mlen, rlen);
        assert_memory_equal(mine, ref, (size_t)mlen);
        OPENSSL_free(mine);
        OPENSSL_free(ref);
    }
    free(der);
    free(b64);
    return req;
}

static GENERAL_NAMES *sans(X509_REQ *req)
{
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    GENERAL_NAMES *gens = NULL;
    assert_non_null(exts);
    gens = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    assert_non_null(gens);
    return gens;
}

static void expect_dns(GENERAL_NAMES *gens, int i, const char *name)
{
    int type = 0;
    ASN1_STRING *s =
        GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(gens, i), &type);
    assert_int_equal(type, GEN_DNS);
    assert_int_equal(ASN1_STRING_length(s), strlen(name));
    assert_memory_equal(ASN1_STRING_get0_data(s), name, strlen(name));
}

static void expect_ip(GENERAL_NAMES *gens, int i, const unsigned char *ip,
                      int len)
{
    int type = 0;
    ASN1_STRING *s =
        GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(gens, i), &type);
    assert_int_equal(type, GEN_IPADD);
    assert_int_equal(ASN1_STRING_length(s), len);
    assert_memory_equal(ASN1_STRING_get0_data(s), ip, (size_t)len);
}

/* The CN of the request, or NULL when it has none. */
static char *cn(X509_REQ *req)
{
    X509_NAME *name = X509_REQ_get_subject_name(req);
    char buf[256];
    int len = X509_NAME_get_text_by_NID(name, NID_commonName, buf, sizeof buf);
    char *s = NULL;
    if (len < 0)
        return NULL;
    s = malloc((size_t)len + 1);
    assert_non_null(s);
    memcpy(s, buf, (size_t)len + 1);
    return s;
}

static void check_mixed(const leec_key *key)
{
    static const char *const names[] = {"a.example", "www.a.example",
                                        "192.0.2.1", "2001:db8::1"};
    static const unsigned char v4[] = {192, 0, 2, 1};
    static const unsigned char v6[] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                       0,    0,    0,    0,    0, 0, 0, 1};
    X509_REQ *req = make(key, names, 4);
    GENERAL_NAMES *gens = sans(req);
    char *c = cn(req);

    assert_int_equal(sk_GENERAL_NAME_num(gens), 4);
    expect_dns(gens, 0, "a.example");
    expect_dns(gens, 1, "www.a.example");
    expect_ip(gens, 2, v4, 4);
    expect_ip(gens, 3, v6, 16);
    assert_non_null(c);
    assert_string_equal(c, "a.example");
    free(c);
    GENERAL_NAMES_free(gens);
    X509_REQ_free(req);
}

static void test_ec256(void **state)
{
    struct keys *k = *state;
    check_mixed(k->ec256);
}

static void test_ec384(void **state)
{
    struct keys *k = *state;
    check_mixed(k->ec384);
}

static void test_rsa(void **state)
{
    struct keys *k = *state;
    check_mixed(k->rsa);
}

/* A key whose conversion form is compressed: i2d_PUBKEY writes the short
 * point, the CSR still carries the uncompressed one (RFC 5480 §2.2), for the
 * same key. */
static void test_ec_compressed_form(void **state)
{
    static const char *const names[] = {"c.example"};
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    leec_key *k = NULL;
    char *b64 = NULL;
    unsigned char *der = NULL;
    size_t dlen = 0;
    const unsigned char *p = NULL;
    X509_REQ *req = NULL;
    unsigned char *spki = NULL;
    const unsigned char *point = NULL;
    int plen = 0;
    X509_ALGOR *alg = NULL;
    int slen = 0;
    (void)state;

    assert_non_null(pk);
    assert_int_equal(
        EVP_PKEY_set_utf8_string_param(
            pk, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "compressed"),
        1);
    slen = i2d_PUBKEY(pk, &spki);
    assert_int_equal(slen, 59); /* 33-byte point: compressed */
    OPENSSL_free(spki);
    assert_int_equal(Leec_key_from_evp(pk, &k), LEEC_OK);

    assert_int_equal(Leec_csr_new(k, names, 1, &b64), LEEC_OK);
    assert_int_equal(Leec_b64url_decode(b64, strlen(b64), &der, &dlen),
                     LEEC_OK);
    p = der;
    req = d2i_X509_REQ(NULL, &p, (long)dlen);
    assert_non_null(req);
    assert_int_equal(X509_PUBKEY_get0_param(NULL, &point, &plen, &alg,
                                            X509_REQ_get_X509_PUBKEY(req)),
                     1);
    assert_int_equal(plen, 65);
    assert_int_equal(point[0], 0x04);
    assert_int_equal(EVP_PKEY_eq(X509_REQ_get0_pubkey(req), pk), 1);
    assert_int_equal(X509_REQ_verify(req, X509_REQ_get0_pubkey(req)), 1);
    X509_REQ_free(req);
    free(der);
    free(b64);
    Leec_key_free(k);
    EVP_PKEY_free(pk);
}

static void test_cn_rules(void **state)
{
    struct keys *k = *state;
    const char *names[2];
    X509_REQ *req = NULL;
    GENERAL_NAMES *gens = NULL;
    char *c = NULL;
    static const unsigned char v4[] = {198, 51, 100, 7};

    /* 64 characters is the most a CN may hold (ub-common-name). */
    {
        char exact[65];
        memset(exact, 'b', 64);
        exact[60] = '.';
        exact[64] = '\0';
        names[0] = exact;
        req = make(k->ec256, names, 1);
        c = cn(req);
        assert_non_null(c);
        assert_string_equal(c, exact);
        free(c);
        X509_REQ_free(req);
    }
    {
        char longer[66];
        memset(longer, 'b', 65);
        longer[60] = '.';
        longer[65] = '\0';
        names[0] = longer;
        names[1] = "short.example";
        req = make(k->ec256, names, 2);
        assert_null(cn(req));
        gens = sans(req);
        assert_int_equal(sk_GENERAL_NAME_num(gens), 2);
        expect_dns(gens, 0, longer);
        expect_dns(gens, 1, "short.example");
        GENERAL_NAMES_free(gens);
        X509_REQ_free(req);
    }

    /* An IP first: no CN, the IP as iPAddress. */
    names[0] = "198.51.100.7";
    names[1] = "b.example";
    req = make(k->ec256, names, 2);
    assert_null(cn(req));
    gens = sans(req);
    expect_ip(gens, 0, v4, 4);
    expect_dns(gens, 1, "b.example");
    GENERAL_NAMES_free(gens);
    X509_REQ_free(req);
}

static void test_bad_args(void **state)
{
    struct keys *k = *state;
    const char *names[] = {"a.example", NULL};
    const char *empty[] = {""};
    char *out = NULL;
    assert_int_equal(Leec_csr_new(k->ec256, names, 0, &out),
                     LEEC_E_INVALID_ARG);
    assert_int_equal(Leec_csr_new(k->ec256, names, 2, &out),
                     LEEC_E_INVALID_ARG);
    assert_int_equal(Leec_csr_new(k->ec256, empty, 1, &out),
                     LEEC_E_INVALID_ARG);
    assert_int_equal(Leec_csr_new(NULL, names, 1, &out), LEEC_E_INVALID_ARG);
    /* IA5String cannot hold these: U-labels, spaces, control bytes. */
    {
        const char *bad[] = {"b\303\274cher.example", "a example",
                             "a\n.example"};
        for (size_t i = 0; i < 3; i++)
            assert_int_equal(Leec_csr_new(k->ec256, &bad[i], 1, &out),
                             LEEC_E_INVALID_ARG);
    }
    assert_null(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ec256),
        cmocka_unit_test(test_ec384),
        cmocka_unit_test(test_rsa),
        cmocka_unit_test(test_cn_rules),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_ec_compressed_form),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
