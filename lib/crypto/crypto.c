#define _GNU_SOURCE
#include "crypto/crypto.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "util/b64url.h"
#include "util/buf.h"

struct leec_key {
    EVP_PKEY *pkey;
    leec_key_type type;
    /* Made by Leec_key_generate: an EC key then has OpenSSL's default
     * encoding (named curve, uncompressed point, public key included),
     * which ec_pkcs8_pem() writes without OpenSSL's encoder. */
    bool generated;
    /* DigestSign context initialised once, on the first Leec_key_sign(), and
     * only ever copied: never signed with, so it never holds message state.
     * Written through a const key (see crypto.h). */
    EVP_MD_CTX *sign_tmpl;
    /* The canonical public JWK and its RFC 7638 thumbprint, made on first
     * use (the public key never changes): every key authorization needs
     * the thumbprint, and reading the point back out of the provider costs
     * a field inversion each time. Written through a const key too. */
    char *jwk;
    char *thumb;
};

static const struct {
    leec_key_type type;
    const char *name;
} key_type_names[] = {
    {LEEC_KEY_EC256, "ec256"},     {LEEC_KEY_EC384, "ec384"},
    {LEEC_KEY_RSA2048, "rsa2048"}, {LEEC_KEY_RSA3072, "rsa3072"},
    {LEEC_KEY_RSA4096, "rsa4096"},
};

/* ASCII-only, so the result does not depend on the C locale. */
static bool ascii_ieq(const char *a, const char *b)
{
    for (;; a++, b++) {
        unsigned char ca = (unsigned char)*a;
        unsigned char cb = (unsigned char)*b;
        if (ca >= 'A' && ca <= 'Z')
            ca = (unsigned char)(ca - 'A' + 'a');
        if (cb >= 'A' && cb <= 'Z')
            cb = (unsigned char)(cb - 'A' + 'a');
        if (ca != cb)
            return false;
        if (!ca)
            return true;
    }
}

const char *leec_key_type_name(leec_key_type type)
{
    for (size_t i = 0; i < sizeof key_type_names / sizeof key_type_names[0];
         i++) {
        if (key_type_names[i].type == type)
            return key_type_names[i].name;
    }
    return NULL;
}

leec_code leec_key_type_parse(const char *name, leec_key_type *out)
{
    if (!name || !out)
        return LEEC_E_INVALID_ARG;
    for (size_t i = 0; i < sizeof key_type_names / sizeof key_type_names[0];
         i++) {
        if (ascii_ieq(name, key_type_names[i].name)) {
            *out = key_type_names[i].type;
            return LEEC_OK;
        }
    }
    return LEEC_E_INVALID_ARG;
}

/* PEM callback that refuses: without it OpenSSL would prompt on the terminal
 * for the password of an encrypted block. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

/* Which of the supported types pkey is, or LEEC_E_BAD_KEY. */
static leec_code classify(const EVP_PKEY *pkey, leec_key_type *type)
{
    char group[80];
    size_t glen = 0;
    int nid = NID_undef;
    int bits = 0;

    if (EVP_PKEY_is_a(pkey, "EC")) {
        /* Fails for explicit-parameter keys, which we do not want either. */
        if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
                                            group, sizeof group, &glen))
            return LEEC_E_BAD_KEY;
        nid = OBJ_sn2nid(group);
        if (nid == NID_undef)
            nid = EC_curve_nist2nid(group);
        if (nid == NID_X9_62_prime256v1) {
            *type = LEEC_KEY_EC256;
            return LEEC_OK;
        }
        if (nid == NID_secp384r1) {
            *type = LEEC_KEY_EC384;
            return LEEC_OK;
        }
        return LEEC_E_BAD_KEY;
    }
    /* "RSA" only: an RSA-PSS restricted key cannot make RS256 signatures. */
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        bits = EVP_PKEY_get_bits(pkey);
        switch (bits) {
        case 2048:
            *type = LEEC_KEY_RSA2048;
            return LEEC_OK;
        case 3072:
            *type = LEEC_KEY_RSA3072;
            return LEEC_OK;
        case 4096:
            *type = LEEC_KEY_RSA4096;
            return LEEC_OK;
        default:
            return LEEC_E_BAD_KEY;
        }
    }
    return LEEC_E_BAD_KEY;
}

/* Takes ownership of pkey (freed on failure too). */
static leec_code wrap(EVP_PKEY *pkey, leec_key_type type, leec_key **out)
{
    leec_key *k = malloc(sizeof *k);
    if (!k) {
        EVP_PKEY_free(pkey);
        return LEEC_E_NOMEM;
    }
    k->pkey = pkey;
    k->type = type;
    k->generated = false;
    k->sign_tmpl = NULL;
    k->jwk = NULL;
    k->thumb = NULL;
    *out = k;
    return LEEC_OK;
}

bool Leec_key_type_is_slow(leec_key_type type)
{
    return type == LEEC_KEY_RSA2048 || type == LEEC_KEY_RSA3072 ||
           type == LEEC_KEY_RSA4096;
}

leec_code Leec_key_generate(leec_key_type type, leec_key **out)
{
    leec_code rc = LEEC_E_CRYPTO;
    EVP_PKEY *pkey = NULL;

    if (!out)
        return LEEC_E_INVALID_ARG;
    *out = NULL;
    switch (type) {
    case LEEC_KEY_EC256:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        break;
    case LEEC_KEY_EC384:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
        break;
    case LEEC_KEY_RSA2048:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
        break;
    case LEEC_KEY_RSA3072:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
        break;
    case LEEC_KEY_RSA4096:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
        break;
    default:
        rc = LEEC_E_INVALID_ARG;
        goto out;
    }
    if (!pkey)
        goto out;
    rc = wrap(pkey, type, out);
    pkey = NULL;
    if (rc == LEEC_OK)
        (*out)->generated = true;
out:
    if (rc != LEEC_OK)
        ERR_clear_error();
    return rc;
}

leec_code Leec_key_load_pem(const char *pem, size_t len, leec_key **out)
{
    leec_code rc = LEEC_E_BAD_KEY;
    BIO *bio = NULL;
    EVP_PKEY *pkey = NULL;
    leec_key_type type = LEEC_KEY_EC256;

    if (!pem || !out || len > INT_MAX)
        return LEEC_E_INVALID_ARG;
    *out = NULL;
    bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio) {
        rc = LEEC_E_NOMEM;
        goto out;
    }
    /* The decoders behind this read PKCS#8, SEC1 and PKCS#1 alike. */
    pkey = PEM_read_bio_PrivateKey_ex(bio, NULL, no_password, NULL, NULL, NULL);
    if (!pkey)
        goto out;
    rc = classify(pkey, &type);
    if (rc != LEEC_OK)
        goto out;
    rc = wrap(pkey, type, out);
    pkey = NULL;
out:
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    /* Failed decoder attempts leave errors behind even on success; a stale
     * queue would confuse later SSL_get_error() calls. */
    ERR_clear_error();
    return rc;
}

leec_code Leec_bio_to_str(struct bio_st *bio, char **out, size_t *len)
{
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    *out = NULL;
    if (len)
        *len = 0;
    if (n < 0 || (n > 0 && !data))
        return LEEC_E_CRYPTO;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return LEEC_E_NOMEM;
    if (n)
        memcpy(s, data, (size_t)n);
    s[n] = '\0';
    *out = s;
    if (len)
        *len = (size_t)n;
    return LEEC_OK;
}

/* A PEM text written to bio: an empty one is OpenSSL's failure. */
static leec_code pem_of(BIO *bio, char **pem)
{
    size_t n = 0;
    leec_code rc = Leec_bio_to_str(bio, pem, &n);
    if (rc == LEEC_OK && n == 0) {
        free(*pem);
        *pem = NULL;
        rc = LEEC_E_CRYPTO;
    }
    return rc;
}

static bool key_is_ec(const leec_key *key)
{
    return key->type == LEEC_KEY_EC256 || key->type == LEEC_KEY_EC384;
}

/* Field (and r, s) size in bytes of an EC key. */
static size_t ec_size(const leec_key *key)
{
    return key->type == LEEC_KEY_EC384 ? 48 : 32;
}

/* DER length octets for len < 65536 (all a key here needs). */
static size_t der_len(unsigned char *p, size_t len)
{
    if (len < 0x80) {
        p[0] = (unsigned char)len;
        return 1;
    }
    if (len < 0x100) {
        p[0] = 0x81;
        p[1] = (unsigned char)len;
        return 2;
    }
    p[0] = 0x82;
    p[1] = (unsigned char)(len >> 8);
    p[2] = (unsigned char)len;
    return 3;
}

/* The largest PKCS#8 DER of an EC key here (P-384: 185 bytes). */
#define EC_PKCS8_MAX 192

/*
 * PKCS#8 PEM of a generated EC key, byte for byte what
 * PEM_write_bio_PKCS8PrivateKey writes (test_crypto compares them), built
 * directly: OpenSSL 3.0's encoder path gathers and sorts every encoder of
 * every provider on each call, about 0.8M instructions a key (3.6M the
 * first time in a process) against some 60 thousand here.
 *
 *   PrivateKeyInfo ::= SEQUENCE { INTEGER 0,
 *     SEQUENCE { OID id-ecPublicKey, OID namedCurve },
 *     OCTET STRING { ECPrivateKey ::= SEQUENCE { INTEGER 1,
 *       OCTET STRING d (padded to the order's size),
 *       [1] { BIT STRING 04 || x || y } } } }
 */
static leec_code ec_pkcs8_pem(const leec_key *key, char **pem)
{
    static const unsigned char oid_ec[] = {0x06, 0x07, 0x2a, 0x86, 0x48,
                                           0xce, 0x3d, 0x02, 0x01};
    static const unsigned char oid_p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                             0xce, 0x3d, 0x03, 0x01, 0x07};
    static const unsigned char oid_p384[] = {0x06, 0x05, 0x2b, 0x81,
                                             0x04, 0x00, 0x22};
    static const char head[] = "-----BEGIN PRIVATE KEY-----\n";
    static const char tail[] = "-----END PRIVATE KEY-----\n";
    leec_code rc = LEEC_E_CRYPTO;
    bool p384 = key->type == LEEC_KEY_EC384;
    const unsigned char *crv = p384 ? oid_p384 : oid_p256;
    size_t crvlen = p384 ? sizeof oid_p384 : sizeof oid_p256;
    size_t dlen = ec_size(key);
    unsigned char priv[48];
    unsigned char point[1 + 2 * 48];
    size_t plen = 0;
    unsigned char der[EC_PKCS8_MAX];
    size_t n = 0;
    BIGNUM *d = NULL;
    char *out = NULL;

    *pem = NULL;
    if (!EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d) ||
        BN_bn2binpad(d, priv, (int)dlen) < 0 ||
        !EVP_PKEY_get_octet_string_param(key->pkey, OSSL_PKEY_PARAM_PUB_KEY,
                                         point, sizeof point, &plen) ||
        plen != 1 + 2 * dlen || point[0] != POINT_CONVERSION_UNCOMPRESSED)
        goto out;
    /* Inside out: sizes first, then the bytes in order. */
    size_t bits = 2 + 1 + plen;                 /* BIT STRING */
    size_t tag1 = 2 + bits;                     /* [1] */
    size_t ecpk = 3 + (2 + dlen) + tag1;        /* ECPrivateKey content */
    size_t octs = (ecpk < 0x80 ? 2 : 3) + ecpk; /* its SEQUENCE */
    size_t alg = sizeof oid_ec + crvlen;        /* AlgorithmIdentifier */
    size_t body = 3 + (2 + alg) + (octs < 0x80 ? 2 : 3) + octs;
    der[n++] = 0x30;
    n += der_len(der + n, body);
    memcpy(der + n, "\x02\x01\x00\x30", 4);
    n += 4;
    der[n++] = (unsigned char)alg;
    memcpy(der + n, oid_ec, sizeof oid_ec);
    n += sizeof oid_ec;
    memcpy(der + n, crv, crvlen);
    n += crvlen;
    der[n++] = 0x04;
    n += der_len(der + n, octs);
    der[n++] = 0x30;
    n += der_len(der + n, ecpk);
    memcpy(der + n, "\x02\x01\x01\x04", 4);
    n += 4;
    der[n++] = (unsigned char)dlen;
    memcpy(der + n, priv, dlen);
    n += dlen;
    der[n++] = 0xa1;
    der[n++] = (unsigned char)bits;
    der[n++] = 0x03;
    der[n++] = (unsigned char)(plen + 1);
    der[n++] = 0x00;
    memcpy(der + n, point, plen);
    n += plen;
    /* Base64 in lines of 64 characters (48 bytes), as PEM_write does. */
    size_t lines = (n + 47) / 48;
    size_t olen = sizeof head - 1 + (n + 2) / 3 * 4 + lines + sizeof tail - 1;
    out = malloc(olen + 1);
    if (!out) {
        rc = LEEC_E_NOMEM;
        goto out;
    }
    size_t o = sizeof head - 1;
    memcpy(out, head, o);
    for (size_t i = 0; i < n; i += 48) {
        size_t chunk = n - i < 48 ? n - i : 48;
        o += (size_t)EVP_EncodeBlock((unsigned char *)out + o, der + i,
                                     (int)chunk);
        out[o++] = '\n';
    }
    memcpy(out + o, tail, sizeof tail);
    *pem = out;
    rc = LEEC_OK;
out:
    OPENSSL_cleanse(priv, sizeof priv);
    OPENSSL_cleanse(der, sizeof der);
    BN_clear_free(d);
    return rc;
}

leec_code Leec_key_to_pem(const leec_key *key, char **pem)
{
    leec_code rc = LEEC_E_CRYPTO;
    BIO *bio = NULL;

    if (!key || !pem)
        return LEEC_E_INVALID_ARG;
    *pem = NULL;
    if (key->generated && key_is_ec(key)) {
        rc = ec_pkcs8_pem(key, pem);
        if (rc != LEEC_OK)
            ERR_clear_error();
        return rc;
    }
    /* A secure-memory BIO is cleansed when freed. */
    bio = BIO_new(BIO_s_secmem());
    if (!bio) {
        rc = LEEC_E_NOMEM;
        goto out;
    }
    if (!PEM_write_bio_PKCS8PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL,
                                       NULL))
        goto out;
    rc = pem_of(bio, pem);
out:
    BIO_free(bio);
    if (rc != LEEC_OK)
        ERR_clear_error();
    return rc;
}

/* RFC 7919 groups by size, as OpenSSL names them. */
static const char *ffdhe_group(int bits)
{
    switch (bits) {
    case 2048:
        return "ffdhe2048";
    case 3072:
        return "ffdhe3072";
    case 4096:
        return "ffdhe4096";
    default:
        return NULL;
    }
}

leec_code leec_dhparam_pem(int bits, bool generate, char **pem)
{
    leec_code rc = LEEC_E_INVALID_ARG;
    const char *group = ffdhe_group(bits);
    EVP_PKEY_CTX *pctx = NULL;
    EVP_PKEY *params = NULL;
    BIO *bio = NULL;

    if (!pem)
        return LEEC_E_INVALID_ARG;
    *pem = NULL;
    if (!group)
        goto out;
    rc = LEEC_E_CRYPTO;
    pctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
    if (!pctx || EVP_PKEY_paramgen_init(pctx) <= 0)
        goto out;
    if (generate) {
        /* Safe prime p = 2q + 1 with generator 2, as `openssl dhparam`. */
        size_t pbits = (size_t)bits;
        int gen = 2;
        OSSL_PARAM p[4];
        p[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_FFC_TYPE,
                                                (char *)"generator", 0);
        p[1] = OSSL_PARAM_construct_size_t(OSSL_PKEY_PARAM_FFC_PBITS, &pbits);
        p[2] = OSSL_PARAM_construct_int(OSSL_PKEY_PARAM_DH_GENERATOR, &gen);
        p[3] = OSSL_PARAM_construct_end();
        if (EVP_PKEY_CTX_set_params(pctx, p) <= 0)
            goto out;
    } else {
        OSSL_PARAM p[2];
        p[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                (char *)group, 0);
        p[1] = OSSL_PARAM_construct_end();
        if (EVP_PKEY_CTX_set_params(pctx, p) <= 0)
            goto out;
    }
    if (EVP_PKEY_paramgen(pctx, &params) <= 0 || !params)
        goto out;
    bio = BIO_new(BIO_s_mem());
    if (!bio) {
        rc = LEEC_E_NOMEM;
        goto out;
    }
    if (!PEM_write_bio_Parameters(bio, params))
        goto out;
    rc = pem_of(bio, pem);
out:
    BIO_free(bio);
    EVP_PKEY_free(params);
    EVP_PKEY_CTX_free(pctx);
    if (rc != LEEC_OK)
        ERR_clear_error();
    return rc;
}

void Leec_key_free(leec_key *key)
{
    if (!key)
        return;
    EVP_MD_CTX_free(key->sign_tmpl);
    free(key->jwk);
    free(key->thumb);
    EVP_PKEY_free(key->pkey);
    free(key);
}

struct evp_pkey_st *Leec_key_evp(const leec_key *key)
{
    return key ? key->pkey : NULL;
}

leec_code Leec_key_from_evp(struct evp_pkey_st *pkey, leec_key **out)
{
    leec_code rc = LEEC_OK;
    leec_key_type type = LEEC_KEY_EC256;

    if (!pkey || !out)
        return LEEC_E_INVALID_ARG;
    *out = NULL;
    rc = classify(pkey, &type);
    if (rc != LEEC_OK)
        return rc;
    if (!EVP_PKEY_up_ref(pkey))
        return LEEC_E_CRYPTO;
    return wrap(pkey, type, out);
}

leec_key_type Leec_key_get_type(const leec_key *key)
{
    return key->type;
}

const char *Leec_key_jws_alg(const leec_key *key)
{
    switch (key->type) {
    case LEEC_KEY_EC256:
        return "ES256";
    case LEEC_KEY_EC384:
        return "ES384";
    default:
        return "RS256";
    }
}

/* base64url of a big number, padded to pad bytes (0: minimal length). */
static leec_code bn_b64url(const BIGNUM *bn, size_t pad, char **out)
{
    leec_code rc = LEEC_E_CRYPTO;
    unsigned char *bin = NULL;
    size_t blen = pad ? pad : (size_t)BN_num_bytes(bn);

    *out = NULL;
    bin = malloc(blen ? blen : 1);
    if (!bin) {
        rc = LEEC_E_NOMEM;
        goto out;
    }
    if (pad) {
        if (BN_bn2binpad(bn, bin, (int)pad) < 0)
            goto out;
    } else {
        BN_bn2bin(bn, bin);
    }
    *out = Leec_b64url_encode(bin, blen);
    rc = *out ? LEEC_OK : LEEC_E_NOMEM;
out:
    free(bin);
    return rc;
}

static leec_code make_jwk(const leec_key *key, char **json)
{
    leec_code rc = LEEC_E_CRYPTO;
    BIGNUM *a = NULL;
    BIGNUM *b = NULL;
    char *sa = NULL;
    char *sb = NULL;
    leec_buf buf;

    Leec_buf_init(&buf, 0);
    if (!key || !json)
        return LEEC_E_INVALID_ARG;
    *json = NULL;
    if (key_is_ec(key)) {
        if (!EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_EC_PUB_X, &a) ||
            !EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &b))
            goto out;
        /* RFC 7518 §6.2.1.2: coordinates are exactly the field size. */
        if ((rc = bn_b64url(a, ec_size(key), &sa)) != LEEC_OK ||
            (rc = bn_b64url(b, ec_size(key), &sb)) != LEEC_OK)
            goto out;
        /* RFC 7638 §3.2: required members only, in lexicographic order. */
        rc = Leec_buf_printf(&buf,
                             "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"%s\","
                             "\"y\":\"%s\"}",
                             key->type == LEEC_KEY_EC384 ? "P-384" : "P-256",
                             sa, sb);
    } else {
        if (!EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_RSA_N, &a) ||
            !EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_RSA_E, &b))
            goto out;
        /* RFC 7518 §6.3.1: minimal big-endian, no leading zero octets. */
        if ((rc = bn_b64url(a, 0, &sa)) != LEEC_OK ||
            (rc = bn_b64url(b, 0, &sb)) != LEEC_OK)
            goto out;
        rc = Leec_buf_printf(
            &buf, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", sb, sa);
    }
    if (rc != LEEC_OK)
        goto out;
    *json = Leec_buf_steal(&buf);
    rc = *json ? LEEC_OK : LEEC_E_NOMEM;
out:
    BN_free(a);
    BN_free(b);
    free(sa);
    free(sb);
    Leec_buf_free(&buf);
    if (rc != LEEC_OK)
        ERR_clear_error();
    return rc;
}

/* The key's cached JWK (see struct leec_key), made on first use. */
static leec_code cached_jwk(const leec_key *key, const char **json)
{
    leec_key *mut = (leec_key *)key; /* malloc'd, never a const object */
    leec_code rc = LEEC_OK;

    if (!key->jwk && (rc = make_jwk(key, &mut->jwk)) != LEEC_OK)
        return rc;
    *json = key->jwk;
    return LEEC_OK;
}

leec_code Leec_key_jwk_json(const leec_key *key, char **json)
{
    const char *jwk = NULL;
    leec_code rc = LEEC_OK;

    if (!key || !json)
        return LEEC_E_INVALID_ARG;
    *json = NULL;
    if ((rc = cached_jwk(key, &jwk)) != LEEC_OK)
        return rc;
    *json = strdup(jwk);
    return *json ? LEEC_OK : LEEC_E_NOMEM;
}

/* The key's cached thumbprint, made on first use. */
static leec_code cached_thumbprint(const leec_key *key, const char **b64)
{
    leec_key *mut = (leec_key *)key; /* malloc'd, never a const object */
    const char *jwk = NULL;
    unsigned char digest[32];
    leec_code rc = LEEC_OK;

    if (!key->thumb) {
        if ((rc = cached_jwk(key, &jwk)) != LEEC_OK)
            return rc;
        Leec_sha256(jwk, strlen(jwk), digest);
        if (!(mut->thumb = Leec_b64url_encode(digest, sizeof digest)))
            return LEEC_E_NOMEM;
    }
    *b64 = key->thumb;
    return LEEC_OK;
}

leec_code Leec_key_thumbprint(const leec_key *key, char **b64)
{
    const char *thumb = NULL;
    leec_code rc = LEEC_OK;

    if (!key || !b64)
        return LEEC_E_INVALID_ARG;
    *b64 = NULL;
    if ((rc = cached_thumbprint(key, &thumb)) != LEEC_OK)
        return rc;
    *b64 = strdup(thumb);
    return *b64 ? LEEC_OK : LEEC_E_NOMEM;
}

/* DER ECDSA-Sig-Value to the fixed-width r||s of RFC 7518 §3.4. */
static leec_code ecdsa_der_to_raw(const unsigned char *der, size_t dlen,
                                  size_t n, unsigned char **raw)
{
    leec_code rc = LEEC_E_CRYPTO;
    ECDSA_SIG *sig = NULL;
    const unsigned char *p = der;
    const BIGNUM *r = NULL;
    const BIGNUM *s = NULL;
    unsigned char *buf = NULL;

    *raw = NULL;
    if (dlen > LONG_MAX)
        goto out;
    sig = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
    if (!sig || p != der + dlen)
        goto out;
    ECDSA_SIG_get0(sig, &r, &s);
    buf = malloc(2 * n);
    if (!buf) {
        rc = LEEC_E_NOMEM;
        goto out;
    }
    if (BN_bn2binpad(r, buf, (int)n) < 0 ||
        BN_bn2binpad(s, buf + n, (int)n) < 0)
        goto out;
    *raw = buf;
    buf = NULL;
    rc = LEEC_OK;
out:
    free(buf);
    ECDSA_SIG_free(sig);
    return rc;
}

/* The key's signing template, made on first use. EVP_DigestSignInit_ex
 * fetches the digest and signature algorithms and exports the key to the
 * provider each time; copying an initialised context skips all of that. */
static leec_code sign_template(const leec_key *key, EVP_MD_CTX **tmpl)
{
    leec_code rc = LEEC_E_CRYPTO;
    /* The key is malloc'd, never a const object: see crypto.h for why a
     * cache inside a const key is safe. */
    leec_key *mut = (leec_key *)key;
    EVP_MD_CTX *mctx = NULL;
    const char *md = key->type == LEEC_KEY_EC384 ? "SHA384" : "SHA256";

    if (key->sign_tmpl) {
        rc = LEEC_OK;
        goto out;
    }
    mctx = EVP_MD_CTX_new();
    if (!mctx) {
        rc = LEEC_E_NOMEM;
        goto out;
    }
    /* RSA keys default to PKCS#1 v1.5 padding, which is what RS256 is. */
    if (EVP_DigestSignInit_ex(mctx, NULL, md, NULL, NULL, key->pkey, NULL) != 1)
        goto out;
    /* Copies are signed with once and freed: let EVP_DigestSign finalise
     * them in place instead of duplicating their state yet again. */
    EVP_MD_CTX_set_flags(mctx, EVP_MD_CTX_FLAG_FINALISE);
    mut->sign_tmpl = mctx;
    mctx = NULL;
    rc = LEEC_OK;
out:
    *tmpl = key->sign_tmpl;
    EVP_MD_CTX_free(mctx);
    return rc;
}

leec_code Leec_key_sign(const leec_key *key, const void *data, size_t len,
                        unsigned char **sig, size_t *siglen)
{
    leec_code rc = LEEC_E_CRYPTO;
    EVP_MD_CTX *tmpl = NULL;
    EVP_MD_CTX *mctx = NULL;
    unsigned char *der = NULL;
    size_t dlen = 0;
    int max = 0;

    if (!key || (!data && len) || !sig || !siglen)
        return LEEC_E_INVALID_ARG;
    *sig = NULL;
    *siglen = 0;
    if (!data)
        data = "";
    rc = sign_template(key, &tmpl);
    if (rc != LEEC_OK)
        goto out;
    rc = LEEC_E_CRYPTO;
    mctx = EVP_MD_CTX_new();
    if (!mctx) {
        rc = LEEC_E_NOMEM;
        goto out;
    }
    /* A fresh copy each time: signing consumes the context (the digest has
     * absorbed data, and FINALISE lets the provider finish it in place). */
    if (EVP_MD_CTX_copy_ex(mctx, tmpl) != 1)
        goto out;
    /* Upper bound of the signature: the modulus size for RSA, the longest
     * DER ECDSA-Sig-Value for EC. Saves EVP_DigestSign's size query. */
    max = EVP_PKEY_get_size(key->pkey);
    if (max <= 0)
        goto out;
    dlen = (size_t)max;
    der = malloc(dlen);
    if (!der) {
        rc = LEEC_E_NOMEM;
        goto out;
    }
    if (EVP_DigestSign(mctx, der, &dlen, data, len) != 1)
        goto out;
    if (key_is_ec(key)) {
        rc = ecdsa_der_to_raw(der, dlen, ec_size(key), sig);
        if (rc != LEEC_OK)
            goto out;
        *siglen = 2 * ec_size(key);
    } else {
        *sig = der;
        *siglen = dlen;
        der = NULL;
        rc = LEEC_OK;
    }
out:
    free(der);
    EVP_MD_CTX_free(mctx);
    if (rc != LEEC_OK)
        ERR_clear_error();
    return rc;
}

bool Leec_key_matches_cert_pem(const leec_key *key, const char *cert_pem,
                               size_t len)
{
    bool ok = false;
    BIO *bio = NULL;
    X509 *cert = NULL;
    EVP_PKEY *pub = NULL;

    if (!key || !cert_pem || len > INT_MAX)
        return false;
    bio = BIO_new_mem_buf(cert_pem, (int)len);
    if (!bio)
        goto out;
    cert = PEM_read_bio_X509(bio, NULL, no_password, NULL);
    if (!cert)
        goto out;
    pub = X509_get0_pubkey(cert);
    ok = pub && EVP_PKEY_eq(key->pkey, pub) == 1;
out:
    X509_free(cert);
    BIO_free(bio);
    ERR_clear_error();
    return ok;
}

void Leec_sha256(const void *data, size_t len, unsigned char out[32])
{
    unsigned int olen = 0;

    if (!data)
        data = "";
    /* No way to report failure here (it only happens when OpenSSL itself is
     * broken); a zeroed digest at least matches nothing by chance. */
    if (!EVP_Digest(data, len, out, &olen, EVP_sha256(), NULL) || olen != 32) {
        memset(out, 0, 32);
        ERR_clear_error();
    }
}

void Leec_sha1_hex(const void *data, size_t len, char out[41])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[20];
    unsigned int olen = 0;

    if (!data)
        data = "";
    if (!EVP_Digest(data, len, md, &olen, EVP_sha1(), NULL) || olen != 20) {
        memset(md, 0, sizeof md);
        ERR_clear_error();
    }
    for (size_t i = 0; i < sizeof md; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[40] = '\0';
}

leec_code Leec_hmac(const char *hash, const void *key, size_t keylen,
                    const void *data, size_t len, unsigned char **mac,
                    size_t *maclen)
{
    leec_code rc = LEEC_E_CRYPTO;
    const char *md = NULL;
    unsigned char tmp[EVP_MAX_MD_SIZE];
    size_t tlen = 0;
    unsigned char *copy = NULL;

    if (!hash || (!key && keylen) || (!data && len) || !mac || !maclen)
        return LEEC_E_INVALID_ARG;
    *mac = NULL;
    *maclen = 0;
    if (ascii_ieq(hash, "sha256"))
        md = "SHA256";
    else if (ascii_ieq(hash, "sha384"))
        md = "SHA384";
    else if (ascii_ieq(hash, "sha512"))
        md = "SHA512";
    else
        return LEEC_E_INVALID_ARG;
    if (!key)
        key = "";
    if (!data)
        data = "";
    if (!EVP_Q_mac(NULL, "HMAC", NULL, md, NULL, key, keylen, data, len, tmp,
                   sizeof tmp, &tlen))
        goto out;
    copy = malloc(tlen);
    if (!copy) {
        rc = LEEC_E_NOMEM;
        goto out;
    }
    memcpy(copy, tmp, tlen);
    *mac = copy;
    *maclen = tlen;
    rc = LEEC_OK;
out:
    OPENSSL_cleanse(tmp, sizeof tmp);
    if (rc != LEEC_OK)
        ERR_clear_error();
    return rc;
}

void Leec_secure_free(char *s)
{
    if (!s)
        return;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
}

leec_code Leec_key_authorization(const leec_key *account_key, const char *token,
                                 char **out)
{
    leec_code rc = LEEC_OK;
    const char *thumb = NULL;
    leec_buf buf;

    Leec_buf_init(&buf, 0);
    if (!account_key || !token || !out)
        return LEEC_E_INVALID_ARG;
    *out = NULL;
    /* The result is served over HTTP and may be written to disk: refuse a
     * token with anything outside the base64url alphabet. */
    if (!Leec_b64url_valid(token, 1024))
        return LEEC_E_INVALID_ARG;
    rc = cached_thumbprint(account_key, &thumb);
    if (rc != LEEC_OK)
        goto out;
    rc = Leec_buf_printf(&buf, "%s.%s", token, thumb);
    if (rc != LEEC_OK)
        goto out;
    *out = Leec_buf_steal(&buf);
    rc = *out ? LEEC_OK : LEEC_E_NOMEM;
out:
    Leec_buf_free(&buf);
    return rc;
}
