/* Certificates: chain splitting, the pre-install checks and summaries,
 * against a tiny CA built here with the OpenSSL API. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "util/buf.h"
#include "crypto/crypto.h"
#include "crypto/x509.h"

#define HOUR 3600L
#define DAY  (24 * HOUR)

struct fixture {
    leec_key *ca_key;
    leec_key *ca2_key; /* a second CA with the same name */
    leec_key *leaf_key;
    leec_key *other_key;
    X509 *ca;
    X509 *ca2;
    char *ca_pem;
    char *ca2_pem;
};

static char *to_pem(X509 *x)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    long len = 0;
    char *s = NULL;
    assert_non_null(bio);
    assert_int_equal(PEM_write_bio_X509(bio, x), 1);
    len = BIO_get_mem_data(bio, &data);
    s = malloc((size_t)len + 1);
    assert_non_null(s);
    memcpy(s, data, (size_t)len);
    s[len] = '\0';
    BIO_free(bio);
    return s;
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext = NULL;
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    assert_non_null(ext);
    assert_int_equal(X509_add_ext(x, ext, -1), 1);
    X509_EXTENSION_free(ext);
}

/* A certificate for pub, signed by issuer/ikey (self-signed when issuer is
 * NULL). sans is an OpenSSL config string ("DNS:a,IP:1.2.3.4") or NULL. */
static X509 *make_cert(const char *cn, const char *org, EVP_PKEY *pub,
                       X509 *issuer, EVP_PKEY *ikey, const char *sans,
                       time_t nb, time_t na, long serial, bool is_ca)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();

    assert_true(x && name);
    assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial), 1);
    assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), nb));
    assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), na));
    if (org)
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                   (const unsigned char *)org, -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    assert_int_equal(X509_set_subject_name(x, name), 1);
    assert_int_equal(
        X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name),
        1);
    assert_int_equal(X509_set_pubkey(x, pub), 1);
    add_ext(x, issuer, NID_subject_key_identifier, "hash");
    if (is_ca) {
        add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(x, issuer, NID_authority_key_identifier, "keyid");
    }
    if (sans)
        add_ext(x, issuer, NID_subject_alt_name, sans);
    assert_true(X509_sign(x, ikey, EVP_sha256()) > 0);
    X509_NAME_free(name);
    return x;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    time_t now = time(NULL);
    if (!f || Leec_key_generate(LEEC_KEY_EC256, &f->ca_key) != LEEC_OK ||
        Leec_key_generate(LEEC_KEY_EC256, &f->ca2_key) != LEEC_OK ||
        Leec_key_generate(LEEC_KEY_EC256, &f->leaf_key) != LEEC_OK ||
        Leec_key_generate(LEEC_KEY_EC256, &f->other_key) != LEEC_OK)
        return -1;
    f->ca = make_cert("Test CA", "leec", Leec_key_evp(f->ca_key), NULL,
                      Leec_key_evp(f->ca_key), NULL, now - DAY, now + 30 * DAY,
                      1, true);
    f->ca2 = make_cert("Test CA", "leec", Leec_key_evp(f->ca2_key), NULL,
                       Leec_key_evp(f->ca2_key), NULL, now - DAY,
                       now + 30 * DAY, 2, true);
    f->ca_pem = to_pem(f->ca);
    f->ca2_pem = to_pem(f->ca2);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    Leec_key_free(f->ca_key);
    Leec_key_free(f->ca2_key);
    Leec_key_free(f->leaf_key);
    Leec_key_free(f->other_key);
    X509_free(f->ca);
    X509_free(f->ca2);
    free(f->ca_pem);
    free(f->ca2_pem);
    free(f);
    return 0;
}

/* A leaf for leaf_key signed by the CA, valid from an hour ago for 90 days. */
static char *leaf_pem(struct fixture *f, EVP_PKEY *pub, const char *sans)
{
    time_t now = time(NULL);
    X509 *x =
        make_cert("a.example", NULL, pub, f->ca, Leec_key_evp(f->ca_key), sans,
                  now - HOUR, now + 90 * DAY, 0x0abcdef12345L, false);
    char *s = to_pem(x);
    X509_free(x);
    return s;
}

static char *concat3(const char *a, const char *b, const char *c)
{
    leec_buf buf;
    Leec_buf_init(&buf, 0);
    assert_int_equal(Leec_buf_printf(&buf, "%s%s%s", a, b, c), LEEC_OK);
    return Leec_buf_steal(&buf);
}

/* ------------------------------------------------------------------ */

static void test_split_two(void **state)
{
    struct fixture *f = *state;
    char *leaf = leaf_pem(f, Leec_key_evp(f->leaf_key), "DNS:a.example");
    char *mid = concat3(leaf, "\n\r\n  \t\n", f->ca_pem);
    char *all = concat3("\n  ", mid, "\n\n");
    char **certs = NULL;
    size_t n = 0;

    assert_int_equal(Leec_pem_split_chain(all, strlen(all), &certs, &n),
                     LEEC_OK);
    assert_int_equal(n, 2);
    assert_string_equal(certs[0], leaf);
    assert_string_equal(certs[1], f->ca_pem);
    Leec_strv_free(certs, n);
    certs = NULL;

    /* Blocks back to back, no newline between END and BEGIN. */
    free(mid);
    mid = concat3(leaf, "", f->ca_pem);
    mid[strlen(leaf) - 1] = ' '; /* the newline after the leaf's END */
    assert_int_equal(Leec_pem_split_chain(mid, strlen(mid), &certs, &n),
                     LEEC_OK);
    assert_int_equal(n, 2);
    Leec_strv_free(certs, n);

    /* len bounds the input: only the first block. */
    assert_int_equal(Leec_pem_split_chain(all, strlen(leaf) + 3, &certs, &n),
                     LEEC_OK);
    assert_int_equal(n, 1);
    Leec_strv_free(certs, n);
    Leec_strv_free(NULL, 0);
    free(leaf);
    free(mid);
    free(all);
}

static void expect_not_chain(const char *pem)
{
    char **certs = NULL;
    size_t n = 7;
    assert_int_equal(Leec_pem_split_chain(pem, strlen(pem), &certs, &n),
                     LEEC_E_PROTOCOL);
    assert_null(certs);
    assert_int_equal(n, 0);
}

static void test_split_rejects(void **state)
{
    struct fixture *f = *state;
    char *leaf = leaf_pem(f, Leec_key_evp(f->leaf_key), "DNS:a.example");
    char *s = NULL;
    char *bad = NULL;

    expect_not_chain("");
    expect_not_chain(" \n\r\n\t");
    s = concat3(leaf, "garbage\n", f->ca_pem);
    expect_not_chain(s);
    free(s);
    s = concat3("Certificate:\n", leaf, "");
    expect_not_chain(s);
    free(s);
    s = concat3(leaf, "\n.", "");
    expect_not_chain(s);
    free(s);
    /* BEGIN without END. */
    s = concat3(leaf, "", "");
    s[strlen(s) - 10] = '\0';
    expect_not_chain(s);
    free(s);
    /* A block that is not a certificate. */
    expect_not_chain("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"
                     "-----END CERTIFICATE REQUEST-----\n");
    expect_not_chain("-----BEGIN CERTIFICATE-----\nAAAA\n"
                     "-----END CERTIFICATE-----\n");
    /* Corrupt base64 in the middle of a real one. */
    bad = concat3(leaf, "", "");
    bad[100] = '*';
    expect_not_chain(bad);
    free(bad);
    free(leaf);
}

/* DER followed by a stray byte is not a certificate. */
static void test_split_rejects_trailing_der(void **state)
{
    struct fixture *f = *state;
    unsigned char *der = NULL;
    int len = i2d_X509(f->ca, &der);
    unsigned char *longer = malloc((size_t)len + 1);
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    long plen = 0;
    char *pem = NULL;

    assert_true(len > 0 && longer && bio);
    memcpy(longer, der, (size_t)len);
    longer[len] = 0;
    assert_true(PEM_write_bio(bio, "CERTIFICATE", "", longer, len + 1) > 0);
    plen = BIO_get_mem_data(bio, &data);
    pem = malloc((size_t)plen + 1);
    assert_non_null(pem);
    memcpy(pem, data, (size_t)plen);
    pem[plen] = '\0';
    expect_not_chain(pem);
    free(pem);
    BIO_free(bio);
    free(longer);
    OPENSSL_free(der);
}

static void test_split_bound(void **state)
{
    struct fixture *f = *state;
    leec_buf buf;
    char **certs = NULL;
    size_t n = 0;

    Leec_buf_init(&buf, 0);
    for (int i = 0; i < 16; i++)
        assert_int_equal(Leec_buf_append_str(&buf, f->ca_pem), LEEC_OK);
    assert_int_equal(Leec_pem_split_chain(buf.data, buf.len, &certs, &n),
                     LEEC_OK);
    assert_int_equal(n, 16);
    Leec_strv_free(certs, n);
    assert_int_equal(Leec_buf_append_str(&buf, f->ca_pem), LEEC_OK);
    expect_not_chain(buf.data);
    Leec_buf_free(&buf);
}

/* ------------------------------------------------------------------ */

static void test_check_ok(void **state)
{
    struct fixture *f = *state;
    char *leaf = leaf_pem(f, Leec_key_evp(f->leaf_key),
                          "DNS:a.example,DNS:WWW.a.example,IP:192.0.2.1,"
                          "IP:2001:db8::1");
    /* Other order, other case, another spelling of the IPv6 address. */
    const char *names[] = {"2001:0db8:0:0::1", "www.A.EXAMPLE", "192.0.2.1",
                           "a.example"};
    char *why = NULL;

    assert_int_equal(
        Leec_cert_check(leaf, f->ca_pem, f->leaf_key, names, 4, &why), LEEC_OK);
    assert_null(why);
    assert_int_equal(Leec_cert_check(leaf, NULL, f->leaf_key, names, 4, &why),
                     LEEC_OK);
    assert_null(why);
    free(leaf);
}

static void test_chain_accept(void **state)
{
    struct fixture *f = *state;
    char *leaf = leaf_pem(f, Leec_key_evp(f->leaf_key), "DNS:a.example");
    const char *names[] = {"a.example"};
    char *body = NULL, *l = NULL, *iss = NULL, *why = NULL;
    size_t len = strlen(leaf) + strlen(f->ca_pem) + 2;
    body = malloc(len);
    assert_non_null(body);
    snprintf(body, len, "%s\n%s", leaf, f->ca_pem);

    leec_x509_cache *cache = Leec_x509_cache_new();
    assert_non_null(cache);
    for (int round = 0; round < 3; round++) { /* parsed, then cached */
        assert_int_equal(Leec_chain_accept(body, strlen(body), f->leaf_key,
                                           names, 1, cache, &l, &iss, &why),
                         LEEC_OK);
        assert_string_equal(l, leaf);
        assert_string_equal(iss, f->ca_pem);
        free(l);
        free(iss);
    }
    Leec_x509_cache_free(cache);
    assert_int_equal(Leec_chain_accept(body, strlen(body), f->leaf_key, names,
                                       1, NULL, &l, &iss, &why),
                     LEEC_OK);
    assert_string_equal(l, leaf);
    assert_string_equal(iss, f->ca_pem);
    assert_null(why);
    free(l);
    free(iss);

    /* Wrong key: refused with the reason, nothing handed back. */
    l = iss = NULL;
    assert_int_equal(Leec_chain_accept(body, strlen(body), f->other_key, names,
                                       1, NULL, &l, &iss, &why),
                     LEEC_E_CERT_MISMATCH);
    assert_null(l);
    assert_null(iss);
    assert_non_null(why);
    free(why);
    why = NULL;

    /* Not a chain. */
    assert_int_equal(Leec_chain_accept("junk", 4, f->leaf_key, names, 1, NULL,
                                       &l, &iss, &why),
                     LEEC_E_PROTOCOL);
    assert_null(why);
    free(body);
    free(leaf);
}

/* With a cache the leaf is parsed without decoding its key (lean); what
 * that cannot confirm is checked the full way: the verdict and the reason
 * must be those of a chain accepted without a cache. */
static void expect_same_verdict(const char *body, const leec_key *key,
                                const char *const *names, size_t n,
                                leec_code want)
{
    char *l[2] = {NULL, NULL}, *iss[2] = {NULL, NULL}, *why[2] = {NULL, NULL};
    leec_x509_cache *cache = Leec_x509_cache_new();
    assert_non_null(cache);
    for (int c = 0; c < 2; c++)
        assert_int_equal(Leec_chain_accept(body, strlen(body), key, names, n,
                                           c ? cache : NULL, &l[c], &iss[c],
                                           &why[c]),
                         want);
    for (int c = 0; c < 2; c++) {
        if (want == LEEC_OK) {
            assert_string_equal(l[c], l[0]);
            assert_string_equal(iss[c], iss[0]);
        } else {
            assert_non_null(why[c]);
            assert_string_equal(why[c], why[0]);
        }
    }
    for (int c = 0; c < 2; c++) {
        free(l[c]);
        free(iss[c]);
        free(why[c]);
    }
    Leec_x509_cache_free(cache);
}

static void test_chain_accept_lean(void **state)
{
    struct fixture *f = *state;
    char *leaf = leaf_pem(f, Leec_key_evp(f->leaf_key), "DNS:a.example");
    const char *names[] = {"a.example"};
    const char *other[] = {"b.example"};
    char *good = concat3(leaf, "\n", f->ca_pem);
    char *wrong_ca = concat3(leaf, "\n", f->ca2_pem);
    leec_key *rsa = NULL;

    expect_same_verdict(good, f->leaf_key, names, 1, LEEC_OK);
    expect_same_verdict(good, f->other_key, names, 1, LEEC_E_CERT_MISMATCH);
    expect_same_verdict(good, f->leaf_key, other, 1, LEEC_E_CERT_MISMATCH);
    expect_same_verdict(wrong_ca, f->leaf_key, names, 1, LEEC_E_CERT_MISMATCH);
    expect_same_verdict(leaf, f->leaf_key, names, 1, LEEC_OK);
    /* A flipped bit in the signature (the end of the DER): issued by the
     * CA as far as names and key identifiers go, but not signed by it. */
    char *bad = concat3(leaf, "\n", f->ca_pem);
    char *end = strstr(bad, "\n-----END CERTIFICATE-----");
    assert_non_null(end);
    while (end[-1] == '=' || end[-1] == '\n')
        end--;
    end[-3] = end[-3] == 'A' ? 'B' : 'A';
    expect_same_verdict(bad, f->leaf_key, names, 1, LEEC_E_CERT_MISMATCH);
    free(bad);
    /* An RSA key is never compared lean. */
    assert_int_equal(Leec_key_generate(LEEC_KEY_RSA2048, &rsa), LEEC_OK);
    expect_same_verdict(good, rsa, names, 1, LEEC_E_CERT_MISMATCH);
    Leec_key_free(rsa);
    free(good);
    free(wrong_ca);
    free(leaf);
}

static void expect_mismatch(const char *leaf, const char *issuer,
                            const leec_key *key, const char *const *names,
                            size_t n, const char *want)
{
    char *why = NULL;
    assert_int_equal(Leec_cert_check(leaf, issuer, key, names, n, &why),
                     LEEC_E_CERT_MISMATCH);
    assert_non_null(why);
    assert_string_equal(why, want);
    assert_null(strchr(why, '\n'));
    free(why);
}

static void test_check_wrong_key(void **state)
{
    struct fixture *f = *state;
    char *leaf = leaf_pem(f, Leec_key_evp(f->leaf_key), "DNS:a.example");
    const char *names[] = {"a.example"};
    expect_mismatch(leaf, f->ca_pem, f->other_key, names, 1,
                    "certificate public key does not match the private key");
    free(leaf);
}

static void test_check_names(void **state)
{
    struct fixture *f = *state;
    char *leaf =
        leaf_pem(f, Leec_key_evp(f->leaf_key), "DNS:a.example,DNS:c.example");
    const char *missing[] = {"a.example", "c.example", "b.example"};
    const char *extra[] = {"a.example"};
    const char *both[] = {"a.example", "b.example"};
    const char *ip[] = {"a.example", "c.example", "192.0.2.1"};

    expect_mismatch(leaf, f->ca_pem, f->leaf_key, missing, 3,
                    "certificate names differ: missing b.example");
    expect_mismatch(leaf, f->ca_pem, f->leaf_key, extra, 1,
                    "certificate names differ: extra c.example");
    expect_mismatch(leaf, f->ca_pem, f->leaf_key, both, 2,
                    "certificate names differ: missing b.example, "
                    "extra c.example");
    expect_mismatch(leaf, f->ca_pem, f->leaf_key, ip, 3,
                    "certificate names differ: missing 192.0.2.1");
    free(leaf);

    /* An IP in the certificate does not stand for the same text as DNS. */
    leaf = leaf_pem(f, Leec_key_evp(f->leaf_key), "DNS:a.example,IP:10.0.0.1");
    {
        const char *dns_only[] = {"a.example", "10.0.0.2"};
        expect_mismatch(leaf, NULL, f->leaf_key, dns_only, 2,
                        "certificate names differ: missing 10.0.0.2, "
                        "extra 10.0.0.1");
    }
    free(leaf);

    /* No SAN extension at all. */
    leaf = leaf_pem(f, Leec_key_evp(f->leaf_key), NULL);
    expect_mismatch(leaf, NULL, f->leaf_key, extra, 1,
                    "certificate names differ: missing a.example");
    free(leaf);
}

static void test_check_many_names_capped(void **state)
{
    struct fixture *f = *state;
    char *leaf = leaf_pem(f, Leec_key_evp(f->leaf_key), "DNS:a.example");
    const char *names[12];
    char store[12][16];
    char *why = NULL;

    names[0] = "a.example";
    for (int i = 1; i < 12; i++) {
        snprintf(store[i], sizeof store[i], "n%d.example", i);
        names[i] = store[i];
    }
    assert_int_equal(Leec_cert_check(leaf, NULL, f->leaf_key, names, 12, &why),
                     LEEC_E_CERT_MISMATCH);
    assert_string_equal(why, "certificate names differ: missing n1.example "
                             "n2.example n3.example n4.example n5.example "
                             "n6.example n7.example n8.example (+3 more)");
    free(why);
    free(leaf);
}

static void test_check_issuer(void **state)
{
    struct fixture *f = *state;
    char *leaf = leaf_pem(f, Leec_key_evp(f->leaf_key), "DNS:a.example");
    const char *names[] = {"a.example"};
    time_t now = time(NULL);
    X509 *other = make_cert("Other CA", NULL, Leec_key_evp(f->other_key), NULL,
                            Leec_key_evp(f->other_key), NULL, now - DAY,
                            now + DAY, 9, true);
    char *other_pem = to_pem(other);

    /* Same subject name, other key: names match, the signature does not. */
    expect_mismatch(leaf, f->ca2_pem, f->leaf_key, names, 1,
                    "certificate is not signed by the given issuer");
    expect_mismatch(leaf, other_pem, f->leaf_key, names, 1,
                    "certificate is not signed by the given issuer");
    /* The leaf is not its own issuer. */
    expect_mismatch(leaf, leaf, f->leaf_key, names, 1,
                    "certificate is not signed by the given issuer");
    expect_mismatch(leaf, "junk", f->leaf_key, names, 1,
                    "the issuer certificate cannot be parsed");
    X509_free(other);
    free(other_pem);
    free(leaf);
}

static void test_check_validity(void **state)
{
    struct fixture *f = *state;
    const char *names[] = {"a.example"};
    time_t now = time(NULL);
    X509 *old = make_cert("a.example", NULL, Leec_key_evp(f->leaf_key), f->ca,
                          Leec_key_evp(f->ca_key), "DNS:a.example",
                          now - 10 * DAY, now - DAY, 3, false);
    X509 *future = make_cert("a.example", NULL, Leec_key_evp(f->leaf_key),
                             f->ca, Leec_key_evp(f->ca_key), "DNS:a.example",
                             now + DAY, now + 10 * DAY, 4, false);
    char *old_pem = to_pem(old);
    char *future_pem = to_pem(future);

    expect_mismatch(old_pem, f->ca_pem, f->leaf_key, names, 1,
                    "certificate has expired");
    expect_mismatch(future_pem, f->ca_pem, f->leaf_key, names, 1,
                    "certificate is not yet valid");
    expect_mismatch("junk", f->ca_pem, f->leaf_key, names, 1,
                    "the certificate cannot be parsed");
    X509_free(old);
    X509_free(future);
    free(old_pem);
    free(future_pem);
}

/* ------------------------------------------------------------------ */

static void test_cert_info(void **state)
{
    struct fixture *f = *state;
    time_t nb = 1700000000;
    time_t na = 1700000000 + 90 * DAY;
    X509 *x = make_cert("a.example", NULL, Leec_key_evp(f->leaf_key), f->ca,
                        Leec_key_evp(f->ca_key),
                        "DNS:a.example,DNS:B.example,IP:192.0.2.1,"
                        "IP:2001:db8::1,email:x@a.example",
                        nb, na, 0x0abcdef12345L, false);
    char *pem = to_pem(x);
    leec_cert_info *info = NULL;

    assert_int_equal(leec_cert_info_from_pem(pem, strlen(pem), &info), LEEC_OK);
    assert_string_equal(info->subject, "CN=a.example");
    assert_string_equal(info->issuer, "CN=Test CA,O=leec");
    assert_string_equal(info->serial, "0abcdef12345");
    assert_int_equal(info->nnames, 4); /* the e-mail SAN is not a name */
    assert_string_equal(info->names[0], "a.example");
    assert_string_equal(info->names[1], "B.example");
    assert_string_equal(info->names[2], "192.0.2.1");
    assert_string_equal(info->names[3], "2001:db8::1");
    assert_string_equal(info->key_type, "EC");
    assert_string_equal(info->key_detail, "P-256");
    assert_int_equal(info->key_bits, 256);
    assert_true(info->not_before == nb);
    assert_true(info->not_after == na);
    leec_cert_info_free(info);
    leec_cert_info_free(NULL);
    X509_free(x);
    free(pem);
}

static void test_cert_info_key_kinds(void **state)
{
    struct fixture *f = *state;
    leec_key *rsa = NULL;
    leec_key *ec384 = NULL;
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    char *pem = NULL;
    leec_cert_info *info = NULL;

    assert_int_equal(Leec_key_generate(LEEC_KEY_RSA2048, &rsa), LEEC_OK);
    assert_int_equal(Leec_key_generate(LEEC_KEY_EC384, &ec384), LEEC_OK);
    assert_non_null(ed);

    pem = leaf_pem(f, Leec_key_evp(rsa), "DNS:a.example");
    assert_int_equal(leec_cert_info_from_pem(pem, strlen(pem), &info), LEEC_OK);
    assert_string_equal(info->key_type, "RSA");
    assert_string_equal(info->key_detail, "2048 bits");
    assert_int_equal(info->key_bits, 2048);
    leec_cert_info_free(info);
    free(pem);

    pem = leaf_pem(f, Leec_key_evp(ec384), "DNS:a.example");
    assert_int_equal(leec_cert_info_from_pem(pem, strlen(pem), &info), LEEC_OK);
    assert_string_equal(info->key_type, "EC");
    assert_string_equal(info->key_detail, "P-384");
    assert_int_equal(info->key_bits, 384);
    leec_cert_info_free(info);
    free(pem);

    pem = leaf_pem(f, ed, NULL);
    assert_int_equal(leec_cert_info_from_pem(pem, strlen(pem), &info), LEEC_OK);
    assert_string_equal(info->key_type, "Ed25519");
    assert_int_equal(info->nnames, 0);
    assert_null(info->names);
    leec_cert_info_free(info);
    free(pem);

    info = (leec_cert_info *)f; /* must be reset on failure */
    assert_int_equal(leec_cert_info_from_pem("nope", 4, &info),
                     LEEC_E_INVALID_ARG);
    assert_null(info);
    assert_int_equal(leec_cert_info_from_pem("", 0, &info), LEEC_E_INVALID_ARG);

    EVP_PKEY_free(ed);
    Leec_key_free(rsa);
    Leec_key_free(ec384);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_two),
        cmocka_unit_test(test_split_rejects),
        cmocka_unit_test(test_split_rejects_trailing_der),
        cmocka_unit_test(test_split_bound),
        cmocka_unit_test(test_check_ok),
        cmocka_unit_test(test_chain_accept),
        cmocka_unit_test(test_chain_accept_lean),
        cmocka_unit_test(test_check_wrong_key),
        cmocka_unit_test(test_check_names),
        cmocka_unit_test(test_check_many_names_capped),
        cmocka_unit_test(test_check_issuer),
        cmocka_unit_test(test_check_validity),
        cmocka_unit_test(test_cert_info),
        cmocka_unit_test(test_cert_info_key_kinds),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
