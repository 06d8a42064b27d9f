#include "crypto/csr.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "util/b64url.h"

/* Longest CN the X.520 upper bound (ub-common-name) allows. */
#define CN_MAX 64

/* One subjectAltName entry: iPAddress for an IP literal, else dNSName. */
static leec_code add_san(GENERAL_NAMES *gens, const char *name)
{
    leec_code rc = LEEC_E_NOMEM;
    GENERAL_NAME *gn = NULL;
    ASN1_STRING *val = NULL;
    unsigned char ip[sizeof(struct in6_addr)];
    size_t len = strlen(name);
    int type = GEN_DNS;
    int iplen = 0;

    if (len == 0 || len > INT_MAX)
        return LEEC_E_INVALID_ARG;
    if (inet_pton(AF_INET, name, ip) == 1)
        iplen = 4;
    else if (inet_pton(AF_INET6, name, ip) == 1)
        iplen = 16;
    gn = GENERAL_NAME_new();
    if (!gn)
        goto out;
    if (iplen) {
        type = GEN_IPADD;
        val = ASN1_OCTET_STRING_new();
        if (!val || !ASN1_OCTET_STRING_set(val, ip, iplen))
            goto out;
    } else {
        val = ASN1_IA5STRING_new();
        if (!val || !ASN1_STRING_set(val, name, (int)len))
            goto out;
    }
    GENERAL_NAME_set0_value(gn, type, val);
    val = NULL;
    if (!sk_GENERAL_NAME_push(gens, gn))
        goto out;
    gn = NULL;
    rc = LEEC_OK;
out:
    ASN1_STRING_free(val);
    GENERAL_NAME_free(gn);
    return rc;
}

static bool is_ip_literal(const char *name)
{
    unsigned char ip[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, name, ip) == 1 ||
           inet_pton(AF_INET6, name, ip) == 1;
}

/* Longest uncompressed point we make: 04 || x || y on P-384. */
#define EC_POINT_MAX (1 + 2 * 48)

/*
 * The SubjectPublicKeyInfo of an EC key, set directly. X509_REQ_set_pubkey
 * would encode the key through OSSL_ENCODER and decode the result back through
 * OSSL_DECODER: ~2M instructions, most of the cost of a CSR. The DER is the
 * same as i2d_PUBKEY's: id-ecPublicKey, the named curve's OID as parameters
 * (classify() admits named P-256/P-384 keys only), the uncompressed point.
 * One difference: a key loaded with a compressed point would be written
 * compressed by i2d_PUBKEY; here it is always uncompressed, the form every CA
 * must accept (RFC 5480 §2.2).
 */
static leec_code set_ec_pubkey(X509_REQ *req, EVP_PKEY *pkey, int curve)
{
    leec_code rc = LEEC_E_CRYPTO;
    X509_PUBKEY *spki = X509_REQ_get_X509_PUBKEY(req);
    ASN1_OBJECT *alg = OBJ_nid2obj(NID_X9_62_id_ecPublicKey);
    ASN1_OBJECT *crv = OBJ_nid2obj(curve);
    unsigned char *point = NULL;
    size_t plen = 0;

    if (!spki || !alg || !crv)
        goto out;
    /* OPENSSL_malloc'd: X509_PUBKEY_set0_param takes it on success. */
    point = OPENSSL_malloc(EC_POINT_MAX);
    if (!point) {
        rc = LEEC_E_NOMEM;
        goto out;
    }
    /* Always uncompressed, whatever the key's own conversion form. */
    if (!EVP_PKEY_get_octet_string_param(pkey,
                                         OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                         point, EC_POINT_MAX, &plen) ||
        plen == 0 || point[0] != POINT_CONVERSION_UNCOMPRESSED)
        goto out;
    /* alg and crv are built-in objects, not freed by anyone. */
    if (!X509_PUBKEY_set0_param(spki, alg, V_ASN1_OBJECT, crv, point,
                                (int)plen))
        goto out;
    point = NULL;
    rc = LEEC_OK;
out:
    OPENSSL_free(point);
    return rc;
}

/* The request's public key: the direct path for EC, OpenSSL's for RSA. */
static leec_code set_pubkey(X509_REQ *req, const leec_key *key)
{
    EVP_PKEY *pkey = Leec_key_evp(key);

    switch (Leec_key_get_type(key)) {
    case LEEC_KEY_EC256:
        return set_ec_pubkey(req, pkey, NID_X9_62_prime256v1);
    case LEEC_KEY_EC384:
        return set_ec_pubkey(req, pkey, NID_secp384r1);
    default:
        return X509_REQ_set_pubkey(req, pkey) ? LEEC_OK : LEEC_E_CRYPTO;
    }
}

leec_code Leec_csr_new(const leec_key *key, const char *const *names, size_t n,
                       char **b64url_der)
{
    leec_code rc = LEEC_E_CRYPTO;
    EVP_PKEY *pkey = NULL;
    X509_REQ *req = NULL;
    X509_NAME *subj = NULL;
    GENERAL_NAMES *gens = NULL;
    X509_EXTENSION *ext = NULL;
    STACK_OF(X509_EXTENSION) *exts = NULL;
    unsigned char *der = NULL;
    int dlen = 0;

    if (!key || !names || n == 0 || !b64url_der)
        return LEEC_E_INVALID_ARG;
    *b64url_der = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!names[i] || !*names[i])
            return LEEC_E_INVALID_ARG;
        /* dNSName is an IA5String: printable ASCII only (A-labels for IDNs),
         * else the CSR itself would be malformed. */
        for (const char *c = names[i]; *c; c++) {
            if (*c < 0x21 || *c > 0x7e)
                return LEEC_E_INVALID_ARG;
        }
    }
    pkey = Leec_key_evp(key);

    req = X509_REQ_new();
    subj = X509_NAME_new();
    gens = sk_GENERAL_NAME_new_null();
    exts = sk_X509_EXTENSION_new_null();
    if (!req || !subj || !gens || !exts) {
        rc = LEEC_E_NOMEM;
        goto out;
    }
    if (!X509_REQ_set_version(req, X509_REQ_VERSION_1))
        goto out;
    /* CAs take names from the SANs (RFC 8555 §7.4); the CN is only for old
     * software, and must fit in 64 characters or it breaks the CSR. */
    if (!is_ip_literal(names[0]) && strlen(names[0]) <= CN_MAX) {
        if (!X509_NAME_add_entry_by_NID(subj, NID_commonName, MBSTRING_UTF8,
                                        (const unsigned char *)names[0], -1, -1,
                                        0))
            goto out;
    }
    if (!X509_REQ_set_subject_name(req, subj))
        goto out;
    for (size_t i = 0; i < n; i++) {
        rc = add_san(gens, names[i]);
        if (rc != LEEC_OK)
            goto out;
    }
    rc = LEEC_E_CRYPTO;
    ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, gens);
    if (!ext || !sk_X509_EXTENSION_push(exts, ext))
        goto out;
    ext = NULL;
    if (!X509_REQ_add_extensions(req, exts))
        goto out;
    rc = set_pubkey(req, key);
    if (rc != LEEC_OK)
        goto out;
    rc = LEEC_E_CRYPTO;
    if (X509_REQ_sign(req, pkey, EVP_sha256()) <= 0)
        goto out;
    dlen = i2d_X509_REQ(req, &der);
    if (dlen <= 0)
        goto out;
    *b64url_der = Leec_b64url_encode(der, (size_t)dlen);
    rc = *b64url_der ? LEEC_OK : LEEC_E_NOMEM;
out:
    OPENSSL_free(der);
    X509_EXTENSION_free(ext);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    GENERAL_NAMES_free(gens);
    X509_NAME_free(subj);
    X509_REQ_free(req);
    if (rc != LEEC_OK)
        ERR_clear_error();
    return rc;
}
