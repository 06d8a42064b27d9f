/* timegm() is a BSD/GNU extension that glibc hides under strict C17. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include "crypto/x509.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/provider.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "util/b64url.h"
#include "util/buf.h"

/* Let's Encrypt sends 2-3; a long "chain" is more likely abuse. */
#define CHAIN_MAX 16
/* Names listed per group in a mismatch reason before "(+N more)". */
#define WHY_MAX_NAMES 8

static const char pem_begin[] = "-----BEGIN CERTIFICATE-----";
static const char pem_end[] = "-----END CERTIFICATE-----";

/* Refuses to prompt for a password (PEM blocks with encryption headers). */
static int no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

static bool is_pem_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Offset of needle in hay[0..hlen), or hlen when absent (memmem is GNU). */
static size_t find(const char *hay, size_t hlen, const char *needle)
{
    size_t nlen = strlen(needle);
    if (nlen > hlen)
        return hlen;
    for (size_t i = 0; i + nlen <= hlen; i++) {
        if (memcmp(hay + i, needle, nlen) == 0)
            return i;
    }
    return hlen;
}

/* A copy of len bytes with anything but printable ASCII replaced, since
 * these strings come from the CA and end up in logs and terminals. */
static char *dup_printable(const unsigned char *p, size_t len)
{
    char *s = malloc(len + 1);
    if (!s)
        return NULL;
    for (size_t i = 0; i < len; i++)
        s[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
    s[len] = '\0';
    return s;
}

/* The contents of a memory BIO as a malloc'd string, sanitised when it is
 * to be shown (names), as-is otherwise (PEM, whose newlines must stay). */
static char *bio_to_str(BIO *bio, bool sanitise)
{
    char *s = NULL;
    size_t len = 0;

    if (Leec_bio_to_str(bio, &s, &len) != LEEC_OK || !sanitise)
        return s;
    char *clean = dup_printable((const unsigned char *)s, len);
    free(s);
    return clean;
}

/* The first certificate of a PEM text, or NULL. */
static X509 *read_first_cert(const char *pem, size_t len)
{
    BIO *bio = NULL;
    X509 *cert = NULL;

    if (!pem || len > INT_MAX)
        return NULL;
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio)
        cert = PEM_read_bio_X509(bio, NULL, no_password, NULL);
    BIO_free(bio);
    return cert;
}

/* Parses exactly one BEGIN/END CERTIFICATE block: no encryption headers, no
 * bytes after the DER. keyctx (NULL: the default) is the library context
 * the certificate's public key is decoded in (see leec_x509_cache.lean);
 * the certificate itself belongs to the default one either way. */
static X509 *parse_block_in(const char *block, size_t len, OSSL_LIB_CTX *keyctx)
{
    BIO *bio = NULL;
    char *name = NULL;
    char *header = NULL;
    unsigned char *data = NULL;
    long dlen = 0;
    const unsigned char *p = NULL;
    X509 *cert = NULL;

    if (len > INT_MAX)
        return NULL;
    bio = BIO_new_mem_buf(block, (int)len);
    if (!bio)
        goto out;
    if (!PEM_read_bio(bio, &name, &header, &data, &dlen))
        goto out;
    if (strcmp(name, "CERTIFICATE") != 0 || header[0] != '\0' || dlen <= 0)
        goto out;
    p = data;
    cert = keyctx ? (X509 *)ASN1_item_d2i_ex(NULL, &p, dlen,
                                             ASN1_ITEM_rptr(X509), keyctx, NULL)
                  : d2i_X509(NULL, &p, dlen);
    if (cert && p != data + dlen) {
        X509_free(cert);
        cert = NULL;
    }
out:
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    BIO_free(bio);
    return cert;
}

static X509 *parse_block(const char *block, size_t len)
{
    return parse_block_in(block, len, NULL);
}

static char *cert_to_pem(X509 *cert)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *s = NULL;

    if (bio && PEM_write_bio_X509(bio, cert))
        s = bio_to_str(bio, false);
    BIO_free(bio);
    return s;
}

void Leec_strv_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

#define CACHE_SLOTS 4

struct leec_x509_cache {
    struct {
        char *block;
        size_t len;
        X509 *cert;
    } slot[CACHE_SLOTS];
    size_t next;
    /* A library context with no algorithms (only OpenSSL's "null"
     * provider), NULL when it could not be made. A leaf's public key
     * decoded in it stays undecoded: OpenSSL 3.0 decodes a certificate's
     * key through its decoder framework, about 100 us (a third of
     * accepting a chain), when comparing the key's bytes to ours suffices
     * (lean_key_eq). */
    OSSL_LIB_CTX *lean;
    OSSL_PROVIDER *null_prov;
};

leec_x509_cache *Leec_x509_cache_new(void)
{
    leec_x509_cache *c = calloc(1, sizeof(leec_x509_cache));
    if (c && (c->lean = OSSL_LIB_CTX_new()) != NULL &&
        !(c->null_prov = OSSL_PROVIDER_load(c->lean, "null"))) {
        OSSL_LIB_CTX_free(c->lean);
        c->lean = NULL;
    }
    ERR_clear_error();
    return c;
}

void Leec_x509_cache_free(leec_x509_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        free(c->slot[i].block);
        X509_free(c->slot[i].cert);
    }
    if (c->null_prov)
        OSSL_PROVIDER_unload(c->null_prov);
    OSSL_LIB_CTX_free(c->lean);
    free(c);
}

/* An issuer block seen before comes back parsed (a new reference); others
 * are parsed and remembered. Parsing costs OpenSSL 3.0 over a million
 * instructions (its key decoder), and a batch's certificates share one
 * intermediate. */
static X509 *parse_issuer(leec_x509_cache *c, const char *block, size_t len)
{
    if (!c)
        return parse_block(block, len);
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        if (c->slot[i].cert && c->slot[i].len == len &&
            memcmp(c->slot[i].block, block, len) == 0) {
            X509_up_ref(c->slot[i].cert);
            return c->slot[i].cert;
        }
    }
    X509 *x = parse_block(block, len);
    char *copy = x ? malloc(len) : NULL;
    if (copy) {
        size_t k = c->next++ % CACHE_SLOTS;
        free(c->slot[k].block);
        X509_free(c->slot[k].cert);
        memcpy(copy, block, len);
        c->slot[k].block = copy;
        c->slot[k].len = len;
        c->slot[k].cert = x;
        X509_up_ref(x);
    }
    return x;
}

/* How split_x509 parses the leaf: lean (its key left undecoded) when
 * keyctx is set, and where its block is, to parse it again fully. */
typedef struct lean_leaf {
    OSSL_LIB_CTX *keyctx; /* in: NULL for a full parse */
    bool parsed;          /* out: the leaf was parsed lean */
    const char *block;    /* out: the leaf's PEM block */
    size_t block_len;
} lean_leaf;

/* Parses a chain body into certificates (each parsed once; issuers through
 * the cache when given; the leaf as lean says when given). Strict: only
 * whitespace between blocks, every block a certificate, at most CHAIN_MAX. */
static leec_code split_x509(const char *pem, size_t len, X509 **out, size_t *n,
                            leec_x509_cache *cache, lean_leaf *lean)
{
    leec_code rc = LEEC_E_PROTOCOL;
    size_t count = 0;
    size_t pos = 0;
    for (;;) {
        size_t end = 0;
        while (pos < len && is_pem_space(pem[pos]))
            pos++;
        if (pos == len)
            break;
        if (len - pos < sizeof pem_begin - 1 ||
            memcmp(pem + pos, pem_begin, sizeof pem_begin - 1) != 0)
            goto out;
        end = pos + find(pem + pos, len - pos, pem_end);
        if (end == len || count == CHAIN_MAX)
            goto out;
        end += sizeof pem_end - 1;
        if (count)
            out[count] = parse_issuer(cache, pem + pos, end - pos);
        else if (lean && lean->keyctx) {
            out[count] = parse_block_in(pem + pos, end - pos, lean->keyctx);
            lean->parsed = out[count] != NULL;
            lean->block = pem + pos;
            lean->block_len = end - pos;
            if (!out[count]) /* as a full parse would have it */
                out[count] = parse_block(pem + pos, end - pos);
        } else
            out[count] = parse_block(pem + pos, end - pos);
        if (!out[count])
            goto out;
        count++;
        pos = end;
    }
    rc = count ? LEEC_OK : LEEC_E_PROTOCOL;
out:
    if (rc != LEEC_OK) {
        for (size_t k = 0; k < count; k++)
            X509_free(out[k]);
        count = 0;
    }
    *n = count;
    ERR_clear_error();
    return rc;
}

leec_code Leec_pem_split_chain(const char *pem, size_t len, char ***certs,
                               size_t *n)
{
    X509 *x[CHAIN_MAX];
    size_t count = 0;
    char **v = NULL;

    if (!pem || !certs || !n)
        return LEEC_E_INVALID_ARG;
    *certs = NULL;
    *n = 0;
    leec_code rc = split_x509(pem, len, x, &count, NULL, NULL);
    if (rc != LEEC_OK)
        return rc;
    rc = LEEC_E_NOMEM;
    if (!(v = calloc(count, sizeof *v)))
        goto out;
    for (size_t i = 0; i < count; i++)
        if (!(v[i] = cert_to_pem(x[i])))
            goto out;
    *certs = v;
    *n = count;
    v = NULL;
    rc = LEEC_OK;
out:
    Leec_strv_free(v, count);
    for (size_t i = 0; i < count; i++)
        X509_free(x[i]);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Name comparison                                                     */
/* ------------------------------------------------------------------ */

/* A wanted name: an IP literal (4 or 16 bytes) or a DNS name. */
typedef struct want_name {
    const char *text;
    unsigned char ip[sizeof(struct in6_addr)];
    size_t iplen; /* 0 for a DNS name */
} want_name;

static void classify_name(const char *text, want_name *w)
{
    w->text = text;
    w->iplen = 0;
    if (inet_pton(AF_INET, text, w->ip) == 1)
        w->iplen = 4;
    else if (inet_pton(AF_INET6, text, w->ip) == 1)
        w->iplen = 16;
}

static bool dns_eq(const unsigned char *a, size_t alen, const char *b)
{
    if (alen != strlen(b))
        return false;
    for (size_t i = 0; i < alen; i++) {
        unsigned char ca = a[i];
        unsigned char cb = (unsigned char)b[i];
        if (ca >= 'A' && ca <= 'Z')
            ca = (unsigned char)(ca - 'A' + 'a');
        if (cb >= 'A' && cb <= 'Z')
            cb = (unsigned char)(cb - 'A' + 'a');
        if (ca != cb)
            return false;
    }
    return true;
}

static bool gen_matches(const GENERAL_NAME *gn, const want_name *w)
{
    int type = 0;
    const ASN1_STRING *s = GENERAL_NAME_get0_value(gn, &type);

    if (!s)
        return false;
    if (type == GEN_DNS && !w->iplen)
        return dns_eq(ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s),
                      w->text);
    if (type == GEN_IPADD && w->iplen)
        return (size_t)ASN1_STRING_length(s) == w->iplen &&
               memcmp(ASN1_STRING_get0_data(s), w->ip, w->iplen) == 0;
    return false;
}

/* A SAN entry as text: the DNS name (sanitised) or the IP address; NULL
 * for other types and on OOM (*oom set). */
static char *gen_to_text(const GENERAL_NAME *gn, bool *oom)
{
    int type = 0;
    const ASN1_STRING *s = GENERAL_NAME_get0_value(gn, &type);
    const unsigned char *d = NULL;
    int len = 0;
    char txt[INET6_ADDRSTRLEN];
    char *out = NULL;

    *oom = false;
    if (!s || (type != GEN_DNS && type != GEN_IPADD))
        return NULL;
    d = ASN1_STRING_get0_data(s);
    len = ASN1_STRING_length(s);
    if (type == GEN_DNS) {
        out = dup_printable(d, (size_t)len);
    } else if ((len == 4 && inet_ntop(AF_INET, d, txt, sizeof txt)) ||
               (len == 16 && inet_ntop(AF_INET6, d, txt, sizeof txt))) {
        out = dup_printable((const unsigned char *)txt, strlen(txt));
    } else {
        /* Neither IPv4 nor IPv6: still show that something is there. */
        out = dup_printable((const unsigned char *)"(bad IP)", 8);
    }
    *oom = !out;
    return out;
}

/* Appends " name" items of a group, capped at WHY_MAX_NAMES. */
static leec_code why_item(leec_buf *why, size_t *shown, const char *label,
                          const char *name)
{
    leec_code rc = LEEC_OK;
    if (*shown == 0)
        rc = Leec_buf_printf(why, "%s%s", why->len ? ", " : "", label);
    if (rc == LEEC_OK && *shown < WHY_MAX_NAMES)
        rc = Leec_buf_printf(why, " %s", name);
    (*shown)++;
    return rc;
}

static leec_code why_more(leec_buf *why, size_t shown)
{
    if (shown <= WHY_MAX_NAMES)
        return LEEC_OK;
    return Leec_buf_printf(why, " (+%zu more)", shown - WHY_MAX_NAMES);
}

/* Compares the certificate's DNS/IP SANs with names as sets. Empty *diff
 * when equal, else "missing a, extra b" style text. */
static leec_code compare_names(X509 *cert, const char *const *names, size_t n,
                               leec_buf *diff)
{
    leec_code rc = LEEC_OK;
    GENERAL_NAMES *gens = NULL;
    want_name *want = NULL;
    int crit = 0;
    int ngens = 0;
    size_t shown = 0;
    char *txt = NULL;
    bool oom = false;

    gens = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
    if (!gens && crit != -1) {
        /* Present but unparseable, or repeated. */
        rc = Leec_buf_append_str(diff, "subjectAltName cannot be read");
        goto out;
    }
    ngens = gens ? sk_GENERAL_NAME_num(gens) : 0;
    want = calloc(n ? n : 1, sizeof *want);
    if (!want) {
        rc = LEEC_E_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        classify_name(names[i], &want[i]);

    shown = 0;
    for (size_t i = 0; i < n && rc == LEEC_OK; i++) {
        bool found = false;
        for (int j = 0; j < ngens && !found; j++)
            found = gen_matches(sk_GENERAL_NAME_value(gens, j), &want[i]);
        if (!found) {
            txt = dup_printable((const unsigned char *)names[i],
                                strlen(names[i]));
            rc = txt ? why_item(diff, &shown, "missing", txt) : LEEC_E_NOMEM;
            free(txt);
            txt = NULL;
        }
    }
    if (rc == LEEC_OK)
        rc = why_more(diff, shown);

    shown = 0;
    for (int j = 0; j < ngens && rc == LEEC_OK; j++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(gens, j);
        bool found = false;
        /* Other SAN types (e-mail, URI) are not ours to judge. */
        txt = gen_to_text(gn, &oom);
        if (!txt) {
            rc = oom ? LEEC_E_NOMEM : LEEC_OK;
            continue;
        }
        for (size_t i = 0; i < n && !found; i++)
            found = gen_matches(gn, &want[i]);
        if (!found)
            rc = why_item(diff, &shown, "extra", txt);
        free(txt);
        txt = NULL;
    }
    if (rc == LEEC_OK)
        rc = why_more(diff, shown);
out:
    free(want);
    GENERAL_NAMES_free(gens);
    return rc;
}

/* Whether a leaf parsed lean (its key not decoded) holds exactly key's
 * public key: the same curve and point bytes. Only EC keys are compared
 * here; false also when it cannot tell. */
static bool lean_key_eq(X509 *leaf, const leec_key *key)
{
    ASN1_OBJECT *alg = NULL;
    const unsigned char *pk = NULL;
    int pklen = 0;
    X509_ALGOR *pa = NULL;
    const void *pval = NULL;
    int ptype = 0;
    unsigned char pt[1 + 2 * 48];
    size_t ptlen = 0;
    leec_key_type t = Leec_key_get_type(key);
    int curve = t == LEEC_KEY_EC256   ? NID_X9_62_prime256v1
                : t == LEEC_KEY_EC384 ? NID_secp384r1
                                      : NID_undef;

    if (curve == NID_undef ||
        !X509_PUBKEY_get0_param(&alg, &pk, &pklen, &pa,
                                X509_get_X509_PUBKEY(leaf)) ||
        OBJ_obj2nid(alg) != NID_X9_62_id_ecPublicKey || !pa)
        return false;
    X509_ALGOR_get0(NULL, &ptype, &pval, pa);
    if (ptype != V_ASN1_OBJECT || OBJ_obj2nid(pval) != curve)
        return false;
    if (!EVP_PKEY_get_octet_string_param(
            Leec_key_evp(key), OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt, &ptlen))
        return false;
    return pklen > 0 && (size_t)pklen == ptlen && memcmp(pk, pt, ptlen) == 0;
}

/* The checks themselves; a reason goes to msg (empty: all passed). lean: the
 * leaf was parsed lean, its key is compared by lean_key_eq, and one that
 * is not confirmed equal gets the reason below (the caller checks again
 * the full way whenever a lean check fails). */
static leec_code check_x509(X509 *leaf, X509 *issuer, const leec_key *key,
                            const char *const *names, size_t n, leec_buf *msg,
                            bool lean)
{
    leec_code rc = LEEC_OK;
    leec_buf diff;
    Leec_buf_init(&diff, 0);
    if (lean
            ? !lean_key_eq(leaf, key)
            : !X509_get0_pubkey(leaf) ||
                  EVP_PKEY_eq(Leec_key_evp(key), X509_get0_pubkey(leaf)) != 1) {
        rc = Leec_buf_append_str(
            msg, "certificate public key does not match the private key");
        goto out;
    }
    rc = compare_names(leaf, names, n, &diff);
    if (rc != LEEC_OK)
        goto out;
    if (diff.len) {
        rc = Leec_buf_printf(msg, "certificate names differ: %s", diff.data);
        goto out;
    }
    /* X509_cmp_time: -1 before (or at) the time, 1 after, 0 on error. A CA
     * whose clock runs an hour ahead of ours is tolerated: the certificate
     * is still the one we asked for and becomes usable shortly. */
    time_t skew = time(NULL) + 3600;
    if (X509_cmp_time(X509_get0_notBefore(leaf), &skew) != -1) {
        rc = Leec_buf_append_str(msg, "certificate is not yet valid");
        goto out;
    }
    if (X509_cmp_current_time(X509_get0_notAfter(leaf)) != 1) {
        rc = Leec_buf_append_str(msg, "certificate has expired");
        goto out;
    }
    if (issuer) {
        EVP_PKEY *ipub = X509_get0_pubkey(issuer);
        /* check_issued matches names and key identifiers; verify proves the
         * signature. */
        if (X509_check_issued(issuer, leaf) != X509_V_OK || !ipub ||
            X509_verify(leaf, ipub) != 1)
            rc = Leec_buf_append_str(
                msg, "certificate is not signed by the given issuer");
    }
out:
    Leec_buf_free(&diff);
    return rc;
}

static bool names_ok(const char *const *names, size_t n)
{
    if (!names && n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!names[i])
            return false;
    return true;
}

leec_code Leec_cert_check(const char *leaf_pem, const char *issuer_pem,
                          const leec_key *key, const char *const *names,
                          size_t n, char **why)
{
    leec_code rc = LEEC_OK;
    X509 *leaf = NULL;
    X509 *issuer = NULL;
    leec_buf msg;

    Leec_buf_init(&msg, 0);
    if (!leaf_pem || !key || !names_ok(names, n) || !why)
        return LEEC_E_INVALID_ARG;
    *why = NULL;
    leaf = read_first_cert(leaf_pem, strlen(leaf_pem));
    if (!leaf) {
        rc = Leec_buf_append_str(&msg, "the certificate cannot be parsed");
        goto out;
    }
    if (issuer_pem) {
        issuer = read_first_cert(issuer_pem, strlen(issuer_pem));
        if (!issuer) {
            rc = Leec_buf_append_str(&msg,
                                     "the issuer certificate cannot be parsed");
            goto out;
        }
    }
    rc = check_x509(leaf, issuer, key, names, n, &msg, false);
out:
    if (rc == LEEC_OK && msg.len) {
        *why = Leec_buf_steal(&msg);
        rc = LEEC_E_CERT_MISMATCH;
    }
    X509_free(leaf);
    X509_free(issuer);
    Leec_buf_free(&msg);
    ERR_clear_error();
    return rc;
}

leec_code Leec_chain_accept(const char *pem, size_t len, const leec_key *key,
                            const char *const *names, size_t n,
                            leec_x509_cache *cache, char **leaf_pem,
                            char **issuers_pem, char **why)
{
    X509 *x[CHAIN_MAX];
    size_t count = 0;
    leec_buf msg, issuers;
    Leec_buf_init(&msg, 0);
    Leec_buf_init(&issuers, 0);
    if (!pem || !key || !names_ok(names, n) || !leaf_pem || !issuers_pem ||
        !why)
        return LEEC_E_INVALID_ARG;
    *leaf_pem = *issuers_pem = *why = NULL;
    /* Lean only for an EC key: lean_key_eq compares nothing else. */
    leec_key_type kt = Leec_key_get_type(key);
    lean_leaf lean = {
        .keyctx = cache && (kt == LEEC_KEY_EC256 || kt == LEEC_KEY_EC384)
                      ? cache->lean
                      : NULL};
    leec_code rc = split_x509(pem, len, x, &count, cache, &lean);
    if (rc != LEEC_OK)
        return rc;
    rc = check_x509(x[0], count > 1 ? x[1] : NULL, key, names, n, &msg,
                    lean.parsed);
    /* A lean check only ever passes for good reason; when one fails, the
     * full checks give the verdict and its reason. */
    if (rc == LEEC_OK && lean.parsed && msg.len) {
        X509 *full = parse_block(lean.block, lean.block_len);
        if (!full) {
            rc = LEEC_E_PROTOCOL;
            goto out;
        }
        X509_free(x[0]);
        x[0] = full;
        Leec_buf_reset(&msg);
        rc = check_x509(x[0], count > 1 ? x[1] : NULL, key, names, n, &msg,
                        false);
    }
    if (rc != LEEC_OK)
        goto out;
    if (msg.len) {
        *why = Leec_buf_steal(&msg);
        rc = LEEC_E_CERT_MISMATCH;
        goto out;
    }
    rc = LEEC_E_NOMEM;
    for (size_t i = 1; i < count; i++) {
        char *p = cert_to_pem(x[i]);
        leec_code arc = p ? Leec_buf_append_str(&issuers, p) : LEEC_E_NOMEM;
        free(p);
        if (arc != LEEC_OK)
            goto out;
    }
    if (!(*leaf_pem = cert_to_pem(x[0])) ||
        !(*issuers_pem = Leec_buf_steal(&issuers))) {
        free(*leaf_pem);
        *leaf_pem = NULL;
        goto out;
    }
    rc = LEEC_OK;
out:
    for (size_t i = 0; i < count; i++)
        X509_free(x[i]);
    Leec_buf_free(&msg);
    Leec_buf_free(&issuers);
    ERR_clear_error();
    return rc;
}

/* ------------------------------------------------------------------ */
/* Summaries                                                           */
/* ------------------------------------------------------------------ */

static char *name_rfc2253(const X509_NAME *name)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *s = NULL;

    if (bio && X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0)
        s = bio_to_str(bio, true);
    BIO_free(bio);
    return s;
}

static char *serial_hex(X509 *cert)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    char *hex = NULL;
    char *s = NULL;

    if (bn)
        hex = BN_bn2hex(bn);
    if (hex) {
        s = dup_printable((const unsigned char *)hex, strlen(hex));
        for (char *p = s; p && *p; p++) {
            if (*p >= 'A' && *p <= 'F')
                *p = (char)(*p - 'A' + 'a');
        }
    }
    OPENSSL_free(hex);
    BN_free(bn);
    return s;
}

static char *str_dup(const char *s)
{
    return dup_printable((const unsigned char *)s, strlen(s));
}

/* key_type, key_detail and key_bits of info. */
static leec_code describe_key(EVP_PKEY *pkey, leec_cert_info *info)
{
    leec_code rc = LEEC_E_NOMEM;
    char group[80];
    size_t glen = 0;
    const char *type = NULL;
    const char *nist = NULL;
    leec_buf detail;

    Leec_buf_init(&detail, 0);
    info->key_bits = EVP_PKEY_get_bits(pkey);
    /* Display names, not OpenSSL's upper-case key manager names. */
    if (EVP_PKEY_is_a(pkey, "EC"))
        type = "EC";
    else if (EVP_PKEY_is_a(pkey, "RSA"))
        type = "RSA";
    else if (EVP_PKEY_is_a(pkey, "RSA-PSS"))
        type = "RSA-PSS";
    else if (EVP_PKEY_is_a(pkey, "ED25519"))
        type = "Ed25519";
    else if (EVP_PKEY_is_a(pkey, "ED448"))
        type = "Ed448";
    else if (!(type = EVP_PKEY_get0_type_name(pkey)))
        type = "unknown";

    if (strcmp(type, "EC") == 0 &&
        EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                       sizeof group, &glen)) {
        int nid = OBJ_sn2nid(group);
        nist = nid != NID_undef ? EC_curve_nid2nist(nid) : NULL;
        rc = Leec_buf_append_str(&detail, nist ? nist : group);
    } else {
        rc = Leec_buf_printf(&detail, "%d bits", info->key_bits);
    }
    if (rc != LEEC_OK)
        goto out;
    rc = LEEC_E_NOMEM;
    info->key_type = str_dup(type);
    info->key_detail =
        dup_printable((const unsigned char *)detail.data, detail.len);
    if (info->key_type && info->key_detail)
        rc = LEEC_OK;
out:
    Leec_buf_free(&detail);
    return rc;
}

static leec_code asn1_to_time_t(const ASN1_TIME *t, time_t *out)
{
    struct tm tm;

    memset(&tm, 0, sizeof tm);
    if (!t || !ASN1_TIME_to_tm(t, &tm))
        return LEEC_E_INVALID_ARG;
    *out = timegm(&tm);
    return LEEC_OK;
}

leec_code leec_cert_info_from_pem(const char *pem, size_t len,
                                  leec_cert_info **out)
{
    leec_code rc = LEEC_E_NOMEM;
    X509 *cert = NULL;
    EVP_PKEY *pkey = NULL;
    GENERAL_NAMES *gens = NULL;
    leec_cert_info *info = NULL;
    int ngens = 0;

    if (!pem || !out)
        return LEEC_E_INVALID_ARG;
    *out = NULL;
    cert = read_first_cert(pem, len);
    if (!cert) {
        rc = LEEC_E_INVALID_ARG;
        goto out;
    }
    info = calloc(1, sizeof *info);
    if (!info)
        goto out;
    info->subject = name_rfc2253(X509_get_subject_name(cert));
    info->issuer = name_rfc2253(X509_get_issuer_name(cert));
    info->serial = serial_hex(cert);
    if (!info->subject || !info->issuer || !info->serial)
        goto out;

    gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    ngens = gens ? sk_GENERAL_NAME_num(gens) : 0;
    if (ngens > 0) {
        info->names = calloc((size_t)ngens, sizeof *info->names);
        if (!info->names)
            goto out;
    }
    for (int i = 0; i < ngens; i++) {
        bool oom = false;
        char *txt = gen_to_text(sk_GENERAL_NAME_value(gens, i), &oom);
        if (oom)
            goto out;
        if (txt)
            info->names[info->nnames++] = txt;
    }

    pkey = X509_get0_pubkey(cert);
    if (!pkey) {
        rc = LEEC_E_INVALID_ARG;
        goto out;
    }
    if ((rc = describe_key(pkey, info)) != LEEC_OK)
        goto out;
    if ((rc = asn1_to_time_t(X509_get0_notBefore(cert), &info->not_before)) !=
            LEEC_OK ||
        (rc = asn1_to_time_t(X509_get0_notAfter(cert), &info->not_after)) !=
            LEEC_OK)
        goto out;
    *out = info;
    info = NULL;
    rc = LEEC_OK;
out:
    leec_cert_info_free(info);
    GENERAL_NAMES_free(gens);
    X509_free(cert);
    ERR_clear_error();
    return rc;
}

void leec_cert_info_free(leec_cert_info *info)
{
    if (!info)
        return;
    free(info->subject);
    free(info->issuer);
    free(info->serial);
    for (size_t i = 0; i < info->nnames; i++)
        free(info->names[i]);
    free(info->names);
    free(info->key_type);
    free(info->key_detail);
    free(info);
}

leec_code Leec_cert_pem_to_der(const char *pem, size_t len, unsigned char **der,
                               size_t *derlen)
{
    leec_code rc = LEEC_E_INVALID_ARG;
    unsigned char *out = NULL;
    *der = NULL;
    *derlen = 0;
    X509 *cert = read_first_cert(pem, len);
    if (!cert)
        goto out;
    int n = i2d_X509(cert, NULL);
    if (n <= 0)
        goto out;
    rc = LEEC_E_NOMEM;
    if (!(out = malloc((size_t)n)))
        goto out;
    unsigned char *p = out;
    if (i2d_X509(cert, &p) != n) {
        free(out);
        out = NULL;
        rc = LEEC_E_CRYPTO;
        goto out;
    }
    *der = out;
    *derlen = (size_t)n;
    rc = LEEC_OK;
out:
    if (rc != LEEC_OK)
        ERR_clear_error();
    X509_free(cert);
    return rc;
}

/* ------------------------------------------------------------------ */
/* The top of a chain                                                  */
/* ------------------------------------------------------------------ */

/* The first commonName of name, sanitised, or NULL (*oom on failure). */
static char *name_cn(const X509_NAME *name, bool *oom)
{
    int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (i < 0)
        return NULL;
    const ASN1_STRING *d =
        X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    unsigned char *utf8 = NULL;
    int n = d ? ASN1_STRING_to_UTF8(&utf8, d) : -1;
    if (n < 0)
        return NULL;
    char *s = dup_printable(utf8, (size_t)n);
    OPENSSL_free(utf8);
    if (!s)
        *oom = true;
    return s;
}

/* The first caIssuers URI of the Authority Information Access, or NULL. */
static char *ca_issuers_uri(X509 *x, bool *oom)
{
    AUTHORITY_INFO_ACCESS *aia =
        X509_get_ext_d2i(x, NID_info_access, NULL, NULL);
    char *s = NULL;
    for (int i = 0; aia && i < sk_ACCESS_DESCRIPTION_num(aia); i++) {
        ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, i);
        if (OBJ_obj2nid(ad->method) != NID_ad_ca_issuers ||
            ad->location->type != GEN_URI)
            continue;
        const ASN1_IA5STRING *u = ad->location->d.uniformResourceIdentifier;
        s = dup_printable(ASN1_STRING_get0_data(u),
                          (size_t)ASN1_STRING_length(u));
        if (!s)
            *oom = true;
        break;
    }
    AUTHORITY_INFO_ACCESS_free(aia);
    return s;
}

leec_code leec_chain_top(const char *pem, size_t len, char **top_pem,
                         char **subject_cn, char **issuer_cn, bool *self_signed,
                         char **ca_issuers)
{
    X509 *x[CHAIN_MAX];
    size_t count = 0;
    char *outs[4] = {NULL, NULL, NULL, NULL};
    bool oom = false;
    if (!pem)
        return LEEC_E_INVALID_ARG;
    if (split_x509(pem, len, x, &count, NULL, NULL) != LEEC_OK)
        return LEEC_E_INVALID_ARG;
    X509 *top = x[count - 1];
    if (top_pem && !(outs[0] = cert_to_pem(top)))
        oom = true;
    if (subject_cn)
        outs[1] = name_cn(X509_get_subject_name(top), &oom);
    if (issuer_cn)
        outs[2] = name_cn(X509_get_issuer_name(top), &oom);
    if (ca_issuers)
        outs[3] = ca_issuers_uri(top, &oom);
    if (self_signed) {
        EVP_PKEY *pk = X509_get0_pubkey(top);
        *self_signed = X509_check_issued(top, top) == X509_V_OK && pk &&
                       X509_verify(top, pk) == 1;
    }
    for (size_t i = 0; i < count; i++)
        X509_free(x[i]);
    ERR_clear_error();
    if (oom) {
        for (size_t i = 0; i < 4; i++)
            free(outs[i]);
        return LEEC_E_NOMEM;
    }
    if (top_pem)
        *top_pem = outs[0];
    if (subject_cn)
        *subject_cn = outs[1];
    if (issuer_cn)
        *issuer_cn = outs[2];
    if (ca_issuers)
        *ca_issuers = outs[3];
    return LEEC_OK;
}

leec_code Leec_ari_cert_id(const char *pem, size_t len, char **id)
{
    leec_code rc = LEEC_E_INVALID_ARG;
    X509 *cert = NULL;
    BIGNUM *bn = NULL;
    unsigned char *serial = NULL;
    char *a = NULL, *b = NULL;
    *id = NULL;
    if (!(cert = read_first_cert(pem, len)))
        goto out;
    const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(cert);
    const ASN1_INTEGER *sn = X509_get0_serialNumber(cert);
    if (!aki || ASN1_STRING_length(aki) <= 0 || !sn)
        goto out;
    rc = LEEC_E_NOMEM;
    if (!(bn = ASN1_INTEGER_to_BN(sn, NULL)))
        goto out;
    /* The INTEGER's content octets: the magnitude, with a leading zero
     * when its top bit is set (serials are positive), "00" for zero. */
    int nb = BN_num_bytes(bn);
    if (!(serial = calloc((size_t)nb + 1, 1)))
        goto out;
    BN_bn2bin(bn, serial + 1);
    bool pad = nb == 0 || (serial[1] & 0x80);
    a = Leec_b64url_encode(ASN1_STRING_get0_data(aki),
                           (size_t)ASN1_STRING_length(aki));
    b = Leec_b64url_encode(pad ? serial : serial + 1, (size_t)nb + pad);
    size_t n = a && b ? strlen(a) + strlen(b) + 2 : 0;
    if (!n || !(*id = malloc(n)))
        goto out;
    snprintf(*id, n, "%s.%s", a, b);
    rc = LEEC_OK;
out:
    X509_free(cert);
    BN_free(bn);
    free(serial);
    free(a);
    free(b);
    return rc;
}

/* ------------------------------------------------------------------ */
/* An issuer fetched from a caIssuers URL                              */
/* ------------------------------------------------------------------ */

typedef struct cand_set {
    X509 *v[CHAIN_MAX];
    size_t n;
} cand_set;

/* Keeps x (owned from now on; freed when the set is full). */
static void cand_add(cand_set *c, X509 *x)
{
    if (!x)
        return;
    if (c->n == CHAIN_MAX) {
        X509_free(x);
        return;
    }
    c->v[c->n++] = x;
}

/* The certificates of a PKCS#7 SignedData (a certs-only bundle). */
static void cand_add_p7(cand_set *c, const unsigned char *der, long len)
{
    const unsigned char *p = der;
    PKCS7 *p7 = d2i_PKCS7(NULL, &p, len);
    if (p7 && p == der + len && PKCS7_type_is_signed(p7) && p7->d.sign) {
        STACK_OF(X509) *certs = p7->d.sign->cert;
        for (int i = 0; i < sk_X509_num(certs); i++) {
            X509 *x = sk_X509_value(certs, i);
            if (X509_up_ref(x))
                cand_add(c, x);
        }
    }
    PKCS7_free(p7);
}

/* One DER certificate, with nothing after it. */
static X509 *der_cert(const unsigned char *der, long len)
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, len);
    if (x && p != der + len) {
        X509_free(x);
        x = NULL;
    }
    return x;
}

/* PEM blocks: CERTIFICATE and PKCS7 ones are kept, others skipped. */
static void cand_add_pem(cand_set *c, const unsigned char *body, size_t len)
{
    BIO *bio = BIO_new_mem_buf(body, (int)len);
    while (bio && c->n < CHAIN_MAX) {
        char *name = NULL, *header = NULL;
        unsigned char *data = NULL;
        long dlen = 0;
        if (!PEM_read_bio(bio, &name, &header, &data, &dlen))
            break;
        if (header[0] == '\0' && dlen > 0) {
            if (strcmp(name, "CERTIFICATE") == 0)
                cand_add(c, der_cert(data, dlen));
            else if (strcmp(name, "PKCS7") == 0)
                cand_add_p7(c, data, dlen);
        }
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);
    }
    BIO_free(bio);
}

/* Why cand did not issue child, or NULL when it did. */
static const char *not_issuer(X509 *cand, X509 *child)
{
    if (X509_NAME_cmp(X509_get_subject_name(cand),
                      X509_get_issuer_name(child)) != 0)
        return "its subject is not the issuer name of the certificate";
    int v = X509_check_issued(cand, child);
    if (v != X509_V_OK)
        return X509_verify_cert_error_string(v);
    if (X509_check_ca(cand) == 0)
        return "it is not a CA certificate";
    EVP_PKEY *pk = X509_get0_pubkey(cand);
    if (!pk || X509_verify(child, pk) != 1)
        return "its key does not verify the certificate's signature";
    return NULL;
}

leec_code Leec_issuer_from_answer(const char *child_pem, size_t child_len,
                                  const unsigned char *body, size_t len,
                                  char **issuer_pem, char **why)
{
    leec_code rc = LEEC_E_INVALID_ARG;
    cand_set c = {.n = 0};
    X509 *child = NULL;
    char *subject = NULL, *child_name = NULL;
    const char *reason = NULL;
    *issuer_pem = NULL;
    if (why)
        *why = NULL;
    if (!(child = read_first_cert(child_pem, child_len)) || !body ||
        len > INT_MAX)
        goto out;
    size_t i = 0;
    while (i < len && is_pem_space((char)body[i]))
        i++;
    if (len - i >= 11 && memcmp(body + i, "-----BEGIN ", 11) == 0) {
        cand_add_pem(&c, body, len);
    } else {
        X509 *x = der_cert(body, (long)len);
        if (x)
            cand_add(&c, x);
        else
            cand_add_p7(&c, body, (long)len);
    }
    rc = LEEC_E_PROTOCOL;
    if (c.n == 0) {
        if (why)
            *why = str_dup("the answer holds no certificate (DER, PEM or "
                           "PKCS#7)");
        goto out;
    }
    for (size_t k = 0; k < c.n; k++) {
        const char *r = not_issuer(c.v[k], child);
        if (!r) {
            rc = (*issuer_pem = cert_to_pem(c.v[k])) ? LEEC_OK : LEEC_E_NOMEM;
            goto out;
        }
        if (!reason)
            reason = r;
    }
    rc = LEEC_E_CERT_MISMATCH;
    if (why) {
        leec_buf msg;
        Leec_buf_init(&msg, 0);
        subject = name_rfc2253(X509_get_subject_name(c.v[0]));
        child_name = name_rfc2253(X509_get_subject_name(child));
        if (Leec_buf_printf(&msg, "%s (%s) is not the issuer of %s: %s",
                            c.n == 1 ? "the certificate served"
                                     : "none of the certificates served is "
                                       "the issuer; the first",
                            subject ? subject : "?",
                            child_name ? child_name : "?", reason) == LEEC_OK)
            *why = Leec_buf_steal(&msg);
        Leec_buf_free(&msg);
    }
out:
    for (size_t k = 0; k < c.n; k++)
        X509_free(c.v[k]);
    X509_free(child);
    free(subject);
    free(child_name);
    ERR_clear_error();
    return rc;
}
