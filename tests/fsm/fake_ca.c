/* A small in-process ACME CA (RFC 8555) for the state-machine tests. It
 * answers the fake transport's requests: directory, nonces, accounts,
 * orders, authorizations with an http-01 challenge, finalize (a real X.509
 * certificate signed by a test CA key made at startup) and the certificate
 * chain. It checks the JWS of every signed request (nonce issued and unused,
 * url, jwk for newAccount and kid otherwise, signature). Knobs in fake.h
 * make it misbehave in the ways the tests need. */
#define _GNU_SOURCE
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/b64url.h"
#include "fake.h"

#define MAX_NAMES    8
#define MAX_ORDERS   16
#define MAX_ACCOUNTS 8

typedef struct ca_authz {
    char *ident;
    char *token;
    bool posted;        /* challenge answered */
    int polls_left;     /* polls still "pending" after the POST */
    const char *status; /* pending, valid, invalid */
} ca_authz;

typedef struct ca_order {
    char *names[MAX_NAMES];
    size_t n;
    ca_authz az[MAX_NAMES];
    int account;
    const char *status; /* pending, ready, processing, valid, invalid */
    int processing_left;
    char *chain; /* leaf + CA, once issued */
    bool gone;   /* forgotten: 404 (fake_ca_order_set) */
} ca_order;

typedef struct ca_account {
    char *url;
    EVP_PKEY *key;
    char *thumbprint;
} ca_account;

struct fake_ca_state {
    EVP_PKEY *key;
    X509 *cert;
    char *cert_pem;
    long serial;
    unsigned long next_nonce;
    unsigned char *nonce_used; /* by nonce number */
    size_t nonce_cap;
    ca_account acct[MAX_ACCOUNTS];
    size_t nacct;
    size_t acct_made;   /* accounts made so far: their URLs never repeat */
    int new_order_seen; /* newOrder requests, refused ones included */
    ca_order order[MAX_ORDERS];
    size_t norder;
};

/* ------------------------------------------------------------------ */
/* Setup                                                               */
/* ------------------------------------------------------------------ */

static char *x509_pem(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *out = NULL;
    if (b && PEM_write_bio_X509(b, x)) {
        char *p = NULL;
        long n = BIO_get_mem_data(b, &p);
        out = strndup(p, (size_t)n);
    }
    BIO_free(b);
    return out;
}

static bool add_ext(X509 *issuer, X509 *x, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    if (!e)
        return false;
    bool ok = X509_add_ext(x, e, -1) == 1;
    X509_EXTENSION_free(e);
    return ok;
}

fake_ca *fake_ca_new(void)
{
    fake_ca *ca = calloc(1, sizeof *ca);
    struct fake_ca_state *st = calloc(1, sizeof *st);
    if (!ca || !st)
        abort();
    ca->st = st;
    ca->knobs.authz_pending_polls = 1;
    ca->knobs.order_processing_polls = 1;
    st->serial = 1000;
    st->next_nonce = 1;
    st->key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    if (!st->key || !x)
        abort();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 3650L * 86400);
    X509_set_pubkey(x, st->key);
    X509_NAME *nm = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
                               (const unsigned char *)"leec fake test CA", -1,
                               -1, 0);
    X509_set_issuer_name(x, nm);
    if (!add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") ||
        !add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") ||
        !add_ext(x, x, NID_subject_key_identifier, "hash") ||
        !X509_sign(x, st->key, EVP_sha256()))
        abort();
    st->cert = x;
    if (!(st->cert_pem = x509_pem(x)))
        abort();
    return ca;
}

void fake_ca_free(fake_ca *ca)
{
    if (!ca)
        return;
    struct fake_ca_state *st = ca->st;
    EVP_PKEY_free(st->key);
    X509_free(st->cert);
    free(st->cert_pem);
    free(st->nonce_used);
    for (size_t i = 0; i < st->nacct; i++) {
        free(st->acct[i].url);
        EVP_PKEY_free(st->acct[i].key);
        free(st->acct[i].thumbprint);
    }
    for (size_t i = 0; i < st->norder; i++) {
        ca_order *o = &st->order[i];
        for (size_t j = 0; j < o->n; j++) {
            free(o->names[j]);
            free(o->az[j].ident);
            free(o->az[j].token);
        }
        free(o->chain);
    }
    free(st);
    free(ca);
}

const char *fake_ca_cert_pem(const fake_ca *ca)
{
    return ca->st->cert_pem;
}

/* ------------------------------------------------------------------ */
/* Responses                                                           */
/* ------------------------------------------------------------------ */

static void fresh_nonce(fake_ca *ca, leec_http_resp *resp)
{
    char nonce[32];
    snprintf(nonce, sizeof nonce, "Nonce%08lu", ca->st->next_nonce++);
    fake_resp_set(&resp->replay_nonce, nonce);
}

static void reply_json(leec_http_resp *resp, long status, json_t *obj)
{
    char *s = json_dumps(obj, JSON_COMPACT);
    if (!s)
        abort();
    resp->status = status;
    fake_resp_body(resp, "application/json", s);
    free(s);
    json_decref(obj);
}

static void reply_problem(leec_http_resp *resp, long status, const char *type,
                          const char *detail)
{
    json_t *o = json_pack("{s:s, s:s, s:i}", "type", type, "detail", detail,
                          "status", (int)status);
    char *s = json_dumps(o, JSON_COMPACT);
    resp->status = status;
    fake_resp_body(resp, "application/problem+json", s);
    free(s);
    json_decref(o);
}

#define ERR(x) "urn:ietf:params:acme:error:" x

static void reply_bad_body(fake_ca *ca, leec_http_resp *resp, long status)
{
    resp->status = status;
    if (ca->knobs.bad_body == FAKE_BODY_MALFORMED)
        fake_resp_body(resp, "application/json",
                       "{\"status\": \"pending\", \"authorizations\": [");
    else
        fake_resp_body(resp, "application/json",
                       "{\"status\": 5, \"authorizations\": \"x\", "
                       "\"finalize\": 7, \"identifiers\": {}, "
                       "\"identifier\": \"x\", \"challenges\": 3, "
                       "\"certificate\": [1]}");
}

/* ------------------------------------------------------------------ */
/* JWS verification                                                    */
/* ------------------------------------------------------------------ */

static unsigned char *b64d(const char *s, size_t *n)
{
    unsigned char *raw = NULL;
    if (!s || Leec_b64url_decode(s, strlen(s), &raw, n) != LEEC_OK)
        return NULL;
    return raw;
}

static BIGNUM *b64_bn(const char *s)
{
    size_t n = 0;
    unsigned char *raw = b64d(s, &n);
    BIGNUM *bn = raw ? BN_bin2bn(raw, (int)n, NULL) : NULL;
    free(raw);
    return bn;
}

/* A public key from a JWK; the RFC 7638 thumbprint in *thumb. */
static EVP_PKEY *jwk_key(const json_t *jwk, char **thumb)
{
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pc = NULL;
    BIGNUM *n = NULL, *e = NULL;
    unsigned char *x = NULL, *y = NULL, *pt = NULL;
    char *canon = NULL;
    const char *type = NULL;
    *thumb = NULL;
    if (!kty || !bld)
        goto out;
    if (strcmp(kty, "EC") == 0) {
        const char *crv = json_string_value(json_object_get(jwk, "crv"));
        const char *xs = json_string_value(json_object_get(jwk, "x"));
        const char *ys = json_string_value(json_object_get(jwk, "y"));
        size_t xl = 0, yl = 0;
        size_t want = crv && strcmp(crv, "P-256") == 0   ? 32
                      : crv && strcmp(crv, "P-384") == 0 ? 48
                                                         : 0;
        if (!want || !(x = b64d(xs, &xl)) || !(y = b64d(ys, &yl)) ||
            xl != want || yl != want)
            goto out;
        pt = malloc(1 + 2 * want);
        pt[0] = 4;
        memcpy(pt + 1, x, want);
        memcpy(pt + 1 + want, y, want);
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                        want == 32 ? "prime256v1" : "secp384r1",
                                        0);
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt,
                                         1 + 2 * want);
        type = "EC";
        if (asprintf(&canon,
                     "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"%s\","
                     "\"y\":\"%s\"}",
                     crv, xs, ys) < 0)
            canon = NULL;
    } else if (strcmp(kty, "RSA") == 0) {
        const char *ns = json_string_value(json_object_get(jwk, "n"));
        const char *es = json_string_value(json_object_get(jwk, "e"));
        if (!(n = b64_bn(ns)) || !(e = b64_bn(es)))
            goto out;
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
        type = "RSA";
        if (asprintf(&canon, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", es,
                     ns) < 0)
            canon = NULL;
    } else {
        goto out;
    }
    if (!canon || !(params = OSSL_PARAM_BLD_to_param(bld)) ||
        !(pc = EVP_PKEY_CTX_new_from_name(NULL, type, NULL)) ||
        EVP_PKEY_fromdata_init(pc) != 1 ||
        EVP_PKEY_fromdata(pc, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
        goto out;
    }
    unsigned char dg[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)canon, strlen(canon), dg);
    *thumb = Leec_b64url_encode(dg, sizeof dg);
out:
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(pc);
    BN_free(n);
    BN_free(e);
    free(x);
    free(y);
    free(pt);
    free(canon);
    ERR_clear_error();
    return pkey;
}

static bool verify_sig(EVP_PKEY *key, const char *alg, const char *input,
                       const unsigned char *sig, size_t siglen)
{
    const EVP_MD *md = NULL;
    unsigned char *der = NULL;
    int derlen = 0;
    bool ok = false;
    if (strcmp(alg, "RS256") == 0 && EVP_PKEY_is_a(key, "RSA")) {
        md = EVP_sha256();
    } else if ((strcmp(alg, "ES256") == 0 || strcmp(alg, "ES384") == 0) &&
               EVP_PKEY_is_a(key, "EC")) {
        size_t half = strcmp(alg, "ES256") == 0 ? 32 : 48;
        if (siglen != 2 * half || EVP_PKEY_get_bits(key) != (int)half * 8)
            return false;
        md = half == 32 ? EVP_sha256() : EVP_sha384();
        ECDSA_SIG *es = ECDSA_SIG_new();
        BIGNUM *r = BN_bin2bn(sig, (int)half, NULL);
        BIGNUM *s = BN_bin2bn(sig + half, (int)half, NULL);
        if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
            ECDSA_SIG_free(es);
            BN_free(r);
            BN_free(s);
            return false;
        }
        derlen = i2d_ECDSA_SIG(es, &der);
        ECDSA_SIG_free(es);
        if (derlen <= 0)
            return false;
        sig = der;
        siglen = (size_t)derlen;
    } else {
        return false;
    }
    EVP_MD_CTX *mc = EVP_MD_CTX_new();
    ok = mc && EVP_DigestVerifyInit(mc, NULL, md, NULL, key) == 1 &&
         EVP_DigestVerify(mc, sig, siglen, (const unsigned char *)input,
                          strlen(input)) == 1;
    EVP_MD_CTX_free(mc);
    OPENSSL_free(der);
    ERR_clear_error();
    return ok;
}

static bool nonce_take(struct fake_ca_state *st, const char *nonce)
{
    unsigned long n = 0;
    char tail = 0;
    if (!nonce || sscanf(nonce, "Nonce%8lu%c", &n, &tail) != 1 || n == 0 ||
        n >= st->next_nonce)
        return false;
    if (n >= st->nonce_cap) {
        size_t cap = st->nonce_cap ? st->nonce_cap : 256;
        while (cap <= n)
            cap *= 2;
        unsigned char *v = realloc(st->nonce_used, cap);
        if (!v)
            abort();
        memset(v + st->nonce_cap, 0, cap - st->nonce_cap);
        st->nonce_used = v;
        st->nonce_cap = cap;
    }
    if (st->nonce_used[n])
        return false;
    st->nonce_used[n] = 1;
    return true;
}

typedef struct jws_in {
    json_t *payload; /* NULL for POST-as-GET */
    bool as_get;
    int account;      /* index, -1 for a jwk request */
    EVP_PKEY *jwk;    /* newAccount: the key (owned) */
    char *thumbprint; /* newAccount: its thumbprint (owned) */
} jws_in;

static void jws_in_clear(jws_in *in)
{
    json_decref(in->payload);
    EVP_PKEY_free(in->jwk);
    free(in->thumbprint);
    memset(in, 0, sizeof *in);
}

/* Checks a signed request; answers it (and returns false) when bad. */
static bool check_jws(fake_ca *ca, const fake_request *req,
                      leec_http_resp *resp, bool want_jwk, jws_in *in)
{
    struct fake_ca_state *st = ca->st;
    json_t *body = NULL, *hdr = NULL;
    unsigned char *raw = NULL, *sig = NULL;
    size_t rawlen = 0, siglen = 0;
    char *input = NULL;
    const char *why = NULL;
    bool ok = false;
    memset(in, 0, sizeof *in);
    in->account = -1;

    if (strcmp(req->method, "POST") != 0 || !req->content_type ||
        strcmp(req->content_type, "application/jose+json") != 0) {
        why = "not a JOSE POST";
        goto bad;
    }
    if (!(body = json_loads(req->body, 0, NULL))) {
        why = "body is not JSON";
        goto bad;
    }
    const char *p64 = json_string_value(json_object_get(body, "protected"));
    const char *pl64 = json_string_value(json_object_get(body, "payload"));
    const char *s64 = json_string_value(json_object_get(body, "signature"));
    if (!p64 || !pl64 || !s64 || !(raw = b64d(p64, &rawlen)) ||
        !(hdr = json_loadb((const char *)raw, rawlen, 0, NULL)) ||
        !(sig = b64d(s64, &siglen))) {
        why = "malformed JWS";
        goto bad;
    }
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    const char *nonce = json_string_value(json_object_get(hdr, "nonce"));
    const char *url = json_string_value(json_object_get(hdr, "url"));
    const char *kid = json_string_value(json_object_get(hdr, "kid"));
    json_t *jwk = json_object_get(hdr, "jwk");
    if (!alg || !url || strcmp(url, req->url) != 0) {
        why = "protected header: alg or url wrong";
        goto bad;
    }
    if (!nonce) {
        why = "protected header: no nonce";
        goto bad;
    }
    if (want_jwk ? (!json_is_object(jwk) || kid) : (!kid || jwk)) {
        why = "protected header: jwk/kid wrong for this endpoint";
        goto bad;
    }
    EVP_PKEY *key = NULL;
    if (want_jwk) {
        if (!(in->jwk = jwk_key(jwk, &in->thumbprint))) {
            why = "bad jwk";
            goto bad;
        }
        key = in->jwk;
    } else {
        for (size_t i = 0; i < st->nacct; i++)
            if (strcmp(st->acct[i].url, kid) == 0)
                in->account = (int)i;
        if (in->account < 0) {
            fresh_nonce(ca, resp);
            reply_problem(resp, 400, ERR("accountDoesNotExist"), "unknown kid");
            goto out;
        }
        key = st->acct[in->account].key;
    }
    if (asprintf(&input, "%s.%s", p64, pl64) < 0) {
        input = NULL;
        why = "oom";
        goto bad;
    }
    if (!verify_sig(key, alg, input, sig, siglen)) {
        why = "signature does not verify";
        goto bad;
    }
    /* The nonce: the knob first, then replay protection. */
    if (ca->knobs.bad_nonces > 0 || !nonce_take(st, nonce)) {
        if (ca->knobs.bad_nonces > 0)
            ca->knobs.bad_nonces--;
        ca->stats.bad_nonce_sent++;
        fresh_nonce(ca, resp);
        reply_problem(resp, 400, ERR("badNonce"), "JWS has an invalid nonce");
        goto out;
    }
    free(raw);
    raw = NULL;
    if (!(raw = b64d(pl64, &rawlen)) && *pl64) {
        why = "payload is not base64url";
        goto bad;
    }
    if (!*pl64) {
        in->as_get = true;
    } else if (!(in->payload =
                     json_loadb((const char *)raw, rawlen, 0, NULL)) ||
               !json_is_object(in->payload)) {
        why = "payload is not a JSON object";
        goto bad;
    }
    ok = true;
    goto out;
bad:
    ca->stats.verify_failures++;
    fprintf(stderr, "fake CA: %s %s: %s\n", req->method, req->url, why);
    fresh_nonce(ca, resp);
    reply_problem(resp, 400, ERR("malformed"), why);
out:
    if (!ok)
        jws_in_clear(in);
    json_decref(body);
    json_decref(hdr);
    free(raw);
    free(sig);
    free(input);
    return ok;
}

/* ------------------------------------------------------------------ */
/* Endpoints                                                           */
/* ------------------------------------------------------------------ */

static void on_directory(fake_ca *ca, leec_http_resp *resp)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "newNonce",
                          FAKE_CA_BASE "/nonce", "newAccount",
                          FAKE_CA_BASE "/new-acct", "newOrder",
                          ca->knobs.dir_http_url ? "http://ca.test/new-order"
                                                 : FAKE_CA_BASE "/new-order",
                          "revokeCert", FAKE_CA_BASE "/revoke", "keyChange",
                          FAKE_CA_BASE "/key-change");
    if (ca->knobs.terms)
        json_object_set_new(
            o, "meta", json_pack("{s:s}", "termsOfService", ca->knobs.terms));
    reply_json(resp, 200, o);
}

static void on_new_account(fake_ca *ca, jws_in *in, leec_http_resp *resp)
{
    struct fake_ca_state *st = ca->st;
    bool only_existing =
        json_is_true(json_object_get(in->payload, "onlyReturnExisting"));
    if (!only_existing && ca->knobs.terms &&
        !json_is_true(json_object_get(in->payload, "termsOfServiceAgreed"))) {
        reply_problem(resp, 403, ERR("userActionRequired"),
                      "terms of service not agreed");
        return;
    }
    for (size_t i = 0; i < st->nacct; i++) {
        if (EVP_PKEY_eq(st->acct[i].key, in->jwk) == 1) {
            fake_resp_set(&resp->location, st->acct[i].url);
            reply_json(resp, 200, json_pack("{s:s}", "status", "valid"));
            return;
        }
    }
    if (only_existing) { /* RFC 8555 §7.3.1 */
        reply_problem(resp, 400, ERR("accountDoesNotExist"),
                      "no account for this key");
        return;
    }
    if (st->nacct == MAX_ACCOUNTS)
        abort();
    ca_account *a = &st->acct[st->nacct];
    if (asprintf(&a->url, FAKE_CA_BASE "/acct/%zu", ++st->acct_made) < 0)
        abort();
    a->key = in->jwk;
    a->thumbprint = in->thumbprint;
    in->jwk = NULL;
    in->thumbprint = NULL;
    st->nacct++;
    fake_resp_set(&resp->location, a->url);
    reply_json(resp, 201, json_pack("{s:s}", "status", "valid"));
}

static json_t *order_json(size_t oi, const ca_order *o)
{
    json_t *ids = json_array(), *azs = json_array();
    char url[128];
    for (size_t i = 0; i < o->n; i++) {
        json_array_append_new(
            ids, json_pack("{s:s, s:s}", "type", "dns", "value", o->names[i]));
        snprintf(url, sizeof url, FAKE_CA_BASE "/authz/%zu/%zu", oi, i);
        json_array_append_new(azs, json_string(url));
    }
    snprintf(url, sizeof url, FAKE_CA_BASE "/finalize/%zu", oi);
    json_t *j =
        json_pack("{s:s, s:o, s:o, s:s}", "status", o->status, "identifiers",
                  ids, "authorizations", azs, "finalize", url);
    if (strcmp(o->status, "valid") == 0) {
        snprintf(url, sizeof url, FAKE_CA_BASE "/cert/%zu", oi);
        json_object_set_new(j, "certificate", json_string(url));
    }
    if (strcmp(o->status, "invalid") == 0)
        json_object_set_new(j, "error",
                            json_pack("{s:s, s:s}", "type", ERR("unauthorized"),
                                      "detail", "an authorization failed"));
    return j;
}

static void on_new_order(fake_ca *ca, jws_in *in, leec_http_resp *resp)
{
    struct fake_ca_state *st = ca->st;
    json_t *ids = json_object_get(in->payload, "identifiers");
    if (!json_is_array(ids) || json_array_size(ids) == 0 ||
        json_array_size(ids) > MAX_NAMES) {
        reply_problem(resp, 400, ERR("malformed"), "bad identifiers");
        return;
    }
    if (ca->knobs.reject_identifiers) {
        json_t *subs = json_array();
        for (size_t i = 0; i < json_array_size(ids); i++) {
            json_t *id = json_array_get(ids, i);
            json_array_append_new(
                subs,
                json_pack("{s:s, s:s, s:O}", "type", ERR("rejectedIdentifier"),
                          "detail", "policy forbids issuing for this name",
                          "identifier", id));
        }
        json_t *p = json_pack("{s:s, s:s, s:i, s:o}", "type",
                              ERR("rejectedIdentifier"), "detail",
                              "Error creating new order :: 2 identifiers "
                              "rejected",
                              "status", 400, "subproblems", subs);
        char *s = json_dumps(p, JSON_COMPACT);
        resp->status = 400;
        fake_resp_body(resp, "application/problem+json", s);
        free(s);
        json_decref(p);
        return;
    }
    if (st->norder == MAX_ORDERS)
        abort();
    size_t oi = st->norder;
    ca_order *o = &st->order[oi];
    memset(o, 0, sizeof *o);
    for (size_t i = 0; i < json_array_size(ids); i++) {
        json_t *id = json_array_get(ids, i);
        const char *t = json_string_value(json_object_get(id, "type"));
        const char *v = json_string_value(json_object_get(id, "value"));
        if (!t || !v || strcmp(t, "dns") != 0) {
            for (size_t j = 0; j < o->n; j++) {
                free(o->names[j]);
                free(o->az[j].ident);
                free(o->az[j].token);
            }
            memset(o, 0, sizeof *o);
            reply_problem(resp, 400, ERR("malformed"), "bad identifier");
            return;
        }
        char tok[64];
        snprintf(tok, sizeof tok, "tok_%zu_%zu_AbCdEfGhIjKlMnOpQrStUvWxYz", oi,
                 i);
        o->names[o->n] = strdup(v);
        o->az[o->n].ident = strdup(v);
        o->az[o->n].token = strdup(tok);
        o->az[o->n].status = "pending";
        o->n++;
    }
    o->account = in->account;
    o->status = "pending";
    st->norder++;
    char loc[128];
    snprintf(loc, sizeof loc, FAKE_CA_BASE "/order/%zu", oi);
    fake_resp_set(&resp->location, loc);
    if (ca->knobs.bad_endpoint == FAKE_EP_NEW_ORDER) {
        reply_bad_body(ca, resp, 201);
        return;
    }
    reply_json(resp, 201, order_json(oi, o));
}

static ca_order *find_order(fake_ca *ca, const char *s, size_t *oi, size_t *ai,
                            bool with_authz)
{
    size_t o = 0, a = 0;
    int used = 0;
    char tail = 0;
    if (with_authz) {
        if (sscanf(s, "%zu/%zu%n%c", &o, &a, &used, &tail) != 2 ||
            s[used] != '\0')
            return NULL;
    } else if (sscanf(s, "%zu%n%c", &o, &used, &tail) != 1 || s[used] != '\0') {
        return NULL;
    }
    if (o >= ca->st->norder || ca->st->order[o].gone)
        return NULL;
    ca_order *ord = &ca->st->order[o];
    if (with_authz && a >= ord->n)
        return NULL;
    *oi = o;
    if (ai)
        *ai = a;
    return ord;
}

static void update_order(ca_order *o)
{
    if (strcmp(o->status, "pending") != 0)
        return;
    bool all = true;
    for (size_t i = 0; i < o->n; i++) {
        if (strcmp(o->az[i].status, "invalid") == 0) {
            o->status = "invalid";
            return;
        }
        all = all && strcmp(o->az[i].status, "valid") == 0;
    }
    if (all)
        o->status = "ready";
}

static json_t *authz_json(fake_ca *ca, size_t oi, size_t ai, ca_authz *z)
{
    char url[128];
    snprintf(url, sizeof url, FAKE_CA_BASE "/chall/%zu/%zu", oi, ai);
    const char *cst = strcmp(z->status, "valid") == 0     ? "valid"
                      : strcmp(z->status, "invalid") == 0 ? "invalid"
                      : z->posted                         ? "processing"
                                                          : "pending";
    json_t *ch = json_pack("{s:s, s:s, s:s, s:s}", "type", "http-01", "url",
                           url, "token", z->token, "status", cst);
    if (strcmp(z->status, "invalid") == 0)
        json_object_set_new(
            ch, "error",
            json_pack("{s:s, s:s, s:i}", "type", ERR("connection"), "detail",
                      ca->knobs.authz_fail_detail ? ca->knobs.authz_fail_detail
                                                  : "Connection refused",
                      "status", 400));
    char dns_url[128];
    snprintf(dns_url, sizeof dns_url, FAKE_CA_BASE "/chall-dns/%zu/%zu", oi,
             ai);
    json_t *dns = json_pack("{s:s, s:s, s:s, s:s}", "type", "dns-01", "url",
                            dns_url, "token", z->token, "status", "pending");
    return json_pack(
        "{s:s, s:{s:s, s:s}, s:[o, o]}", "status", z->status, "identifier",
        "type", ca->knobs.authz_ident_type ? ca->knobs.authz_ident_type : "dns",
        "value", ca->knobs.authz_ident ? ca->knobs.authz_ident : z->ident,
        "challenges", dns, ch);
}

static void on_authz(fake_ca *ca, const char *rest, leec_http_resp *resp)
{
    size_t oi = 0, ai = 0;
    ca_order *o = find_order(ca, rest, &oi, &ai, true);
    if (!o) {
        reply_problem(resp, 404, ERR("malformed"), "no such authorization");
        return;
    }
    ca_authz *z = &o->az[ai];
    if (z->posted && ca->knobs.authz_poll_500 > 0) {
        ca->knobs.authz_poll_500--;
        ca->stats.http500_sent++;
        reply_problem(resp, 500, ERR("serverInternal"), "try again");
        return;
    }
    if (ca->knobs.bad_endpoint == FAKE_EP_AUTHZ) {
        reply_bad_body(ca, resp, 200);
        return;
    }
    if (z->posted && strcmp(z->status, "pending") == 0) {
        if (z->polls_left > 0)
            z->polls_left--;
        else
            z->status = ca->knobs.authz_fail ? "invalid" : "valid";
        update_order(o);
    }
    if (ca->knobs.retry_after && strcmp(z->status, "pending") == 0)
        fake_resp_set(&resp->retry_after, ca->knobs.retry_after);
    reply_json(resp, 200, authz_json(ca, oi, ai, z));
}

static void on_challenge(fake_ca *ca, const char *rest, leec_http_resp *resp)
{
    size_t oi = 0, ai = 0;
    ca_order *o = find_order(ca, rest, &oi, &ai, true);
    if (!o) {
        reply_problem(resp, 404, ERR("malformed"), "no such challenge");
        return;
    }
    ca_authz *z = &o->az[ai];
    if (!z->posted && strcmp(z->status, "pending") == 0) {
        z->posted = true;
        z->polls_left = ca->knobs.authz_pending_polls;
        /* "Validate": the client must serve token.thumbprint right now. */
        if (ca->client) {
            char *ka = NULL, *want = NULL;
            leec_code rc =
                leec_ctx_http01_key_authorization(ca->client, z->token, &ka);
            if (asprintf(&want, "%s.%s", z->token,
                         ca->st->acct[o->account].thumbprint) < 0)
                want = NULL;
            if (rc != LEEC_OK || !ka || !want || strcmp(ka, want) != 0) {
                ca->stats.keyauth_failures++;
                z->status = "invalid";
                update_order(o);
            }
            free(ka);
            free(want);
        }
    }
    json_t *az = authz_json(ca, oi, ai, z);
    json_t *ch =
        json_incref(json_array_get(json_object_get(az, "challenges"), 1));
    json_decref(az);
    reply_json(resp, 200, ch);
}

static bool csr_names(X509_REQ *req, char **names, size_t *n)
{
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    GENERAL_NAMES *gens =
        exts ? X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL) : NULL;
    bool ok = gens != NULL;
    *n = 0;
    for (int i = 0; ok && i < sk_GENERAL_NAME_num(gens); i++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type != GEN_DNS || *n == MAX_NAMES) {
            ok = false;
            break;
        }
        const unsigned char *d = ASN1_STRING_get0_data(g->d.dNSName);
        names[(*n)++] =
            strndup((const char *)d, (size_t)ASN1_STRING_length(g->d.dNSName));
    }
    GENERAL_NAMES_free(gens);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return ok;
}

static char *issue(fake_ca *ca, EVP_PKEY *pub, const char *const *names,
                   size_t n)
{
    struct fake_ca_state *st = ca->st;
    X509 *x = X509_new();
    char *san = NULL, *leaf = NULL, *chain = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&san, &len);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%sDNS:%s", i ? "," : "", names[i]);
    fclose(f);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), st->serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 90L * 86400);
    X509_set_pubkey(x, pub);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)names[0], -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(st->cert));
    if (!add_ext(st->cert, x, NID_subject_alt_name, san) ||
        !add_ext(st->cert, x, NID_basic_constraints, "critical,CA:FALSE") ||
        !add_ext(st->cert, x, NID_authority_key_identifier, "keyid") ||
        !X509_sign(x, st->key, EVP_sha256()))
        abort();
    leaf = x509_pem(x);
    if (!leaf || asprintf(&chain, "%s%s", leaf, st->cert_pem) < 0)
        abort();
    free(leaf);
    free(san);
    X509_free(x);
    return chain;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void on_finalize(fake_ca *ca, const char *rest, jws_in *in,
                        leec_http_resp *resp)
{
    size_t oi = 0;
    ca_order *o = find_order(ca, rest, &oi, NULL, false);
    char *names[MAX_NAMES];
    size_t n = 0;
    X509_REQ *req = NULL;
    EVP_PKEY *pub = NULL;
    if (!o) {
        reply_problem(resp, 404, ERR("malformed"), "no such order");
        return;
    }
    if (strcmp(o->status, "ready") != 0) {
        reply_problem(resp, 403, ERR("orderNotReady"), "order is not ready");
        return;
    }
    size_t dlen = 0;
    unsigned char *der =
        b64d(json_string_value(json_object_get(in->payload, "csr")), &dlen);
    const unsigned char *p = der;
    if (!der || !(req = d2i_X509_REQ(NULL, &p, (long)dlen)) ||
        !(pub = X509_REQ_get_pubkey(req)) || X509_REQ_verify(req, pub) != 1 ||
        !csr_names(req, names, &n)) {
        reply_problem(resp, 400, ERR("badCSR"), "cannot parse the CSR");
        goto out;
    }
    /* The CSR must ask for exactly the order's names. */
    bool same = n == o->n;
    if (same) {
        char *a[MAX_NAMES], *b[MAX_NAMES];
        memcpy(a, names, n * sizeof *a);
        memcpy(b, o->names, n * sizeof *b);
        qsort(a, n, sizeof *a, cmp_str);
        qsort(b, n, sizeof *b, cmp_str);
        for (size_t i = 0; same && i < n; i++)
            same = strcmp(a[i], b[i]) == 0;
    }
    if (!same) {
        reply_problem(resp, 400, ERR("badCSR"), "CSR names differ");
        goto out;
    }
    o->chain =
        ca->knobs.issue_names
            ? issue(ca, pub, ca->knobs.issue_names, ca->knobs.issue_nnames)
            : issue(ca, pub, (const char *const *)names, n);
    o->processing_left = ca->knobs.order_processing_polls;
    o->status = "processing"; /* as pebble: issued asynchronously */
    reply_json(resp, 200, order_json(oi, o));
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(der);
    X509_REQ_free(req);
    EVP_PKEY_free(pub);
    ERR_clear_error();
}

static void on_order(fake_ca *ca, const char *rest, leec_http_resp *resp)
{
    size_t oi = 0;
    ca_order *o = find_order(ca, rest, &oi, NULL, false);
    if (!o) {
        reply_problem(resp, 404, ERR("malformed"), "no such order");
        return;
    }
    if (ca->knobs.bad_endpoint == FAKE_EP_ORDER) {
        reply_bad_body(ca, resp, 200);
        return;
    }
    if (strcmp(o->status, "processing") == 0 &&
        !ca->knobs.order_processing_forever) {
        if (o->processing_left > 0)
            o->processing_left--;
        else
            o->status = "valid";
    }
    if (ca->knobs.retry_after && strcmp(o->status, "processing") == 0)
        fake_resp_set(&resp->retry_after, ca->knobs.retry_after);
    reply_json(resp, 200, order_json(oi, o));
}

void fake_ca_order_set(fake_ca *ca, size_t oi, const char *status)
{
    if (oi >= ca->st->norder)
        abort();
    if (status)
        ca->st->order[oi].status = status;
    else
        ca->st->order[oi].gone = true;
}

static void on_cert(fake_ca *ca, const char *rest, leec_http_resp *resp)
{
    size_t oi = 0;
    ca_order *o = find_order(ca, rest, &oi, NULL, false);
    if (!o || !o->chain || strcmp(o->status, "valid") != 0) {
        reply_problem(resp, 404, ERR("malformed"), "no such certificate");
        return;
    }
    resp->status = 200;
    fake_resp_body(resp, "application/pem-certificate-chain", o->chain);
}

static const char *after(const char *url, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(url, prefix, n) == 0 ? url + n : NULL;
}

static bool limited_endpoint(fake_endpoint ep, const char *url)
{
    switch (ep) {
    case FAKE_EP_NEW_ORDER:
        return strcmp(url, FAKE_CA_BASE "/new-order") == 0;
    case FAKE_EP_AUTHZ:
        return after(url, FAKE_CA_BASE "/authz/") != NULL;
    case FAKE_EP_ORDER:
        return after(url, FAKE_CA_BASE "/order/") != NULL;
    case FAKE_EP_NONE:
        break;
    }
    return false;
}

void fake_ca_respond(void *ud, const fake_request *req, leec_http_resp *resp)
{
    fake_ca *ca = ud;
    const char *rest = NULL;
    jws_in in;
    memset(&in, 0, sizeof in);
    resp->err = LEEC_OK;

    /* Counted here, before the JWS is checked (a refused one is not in
     * stats.new_order), and once. */
    if (ca->knobs.forget_accounts_at_order &&
        strcmp(req->url, FAKE_CA_BASE "/new-order") == 0 &&
        ++ca->st->new_order_seen == ca->knobs.forget_accounts_at_order) {
        struct fake_ca_state *st = ca->st;
        for (size_t i = 0; i < st->nacct; i++) {
            free(st->acct[i].url);
            EVP_PKEY_free(st->acct[i].key);
            free(st->acct[i].thumbprint);
        }
        st->nacct = 0;
    }
    if (strcmp(req->url, FAKE_CA_DIR) == 0 && strcmp(req->method, "GET") == 0) {
        ca->stats.dir++;
        if (!ca->knobs.dir_without_nonce)
            fresh_nonce(ca, resp);
        on_directory(ca, resp);
        return;
    }
    if (strcmp(req->url, FAKE_CA_BASE "/nonce") == 0 &&
        strcmp(req->method, "POST") != 0) {
        ca->stats.nonce++;
        if (ca->knobs.nonce_fail_count > 0) {
            ca->knobs.nonce_fail_count--;
            resp->status = ca->knobs.nonce_fail_status;
            return;
        }
        fresh_nonce(ca, resp);
        resp->status = strcmp(req->method, "HEAD") == 0 ? 200 : 204;
        return;
    }
    bool new_acct = strcmp(req->url, FAKE_CA_BASE "/new-acct") == 0;
    if (!check_jws(ca, req, resp, new_acct, &in))
        return;
    fresh_nonce(ca, resp);
    if (ca->knobs.limit_count > 0 &&
        limited_endpoint(ca->knobs.limit_endpoint, req->url)) {
        ca->knobs.limit_count--;
        ca->stats.limited_sent++;
        if (ca->knobs.limit_retry_after)
            fake_resp_set(&resp->retry_after, ca->knobs.limit_retry_after);
        reply_problem(resp,
                      ca->knobs.limit_status ? ca->knobs.limit_status : 429,
                      ERR("rateLimited"),
                      "too many new orders recently: see "
                      "https://ca.test/docs/rate-limits");
        jws_in_clear(&in);
        return;
    }
    if (new_acct) {
        ca->stats.new_account++;
        if (in.as_get)
            reply_problem(resp, 400, ERR("malformed"), "no payload");
        else
            on_new_account(ca, &in, resp);
    } else if (strcmp(req->url, FAKE_CA_BASE "/new-order") == 0) {
        ca->stats.new_order++;
        if (in.as_get)
            reply_problem(resp, 400, ERR("malformed"), "no payload");
        else
            on_new_order(ca, &in, resp);
    } else if ((rest = after(req->url, FAKE_CA_BASE "/authz/"))) {
        ca->stats.authz_get++;
        if (!in.as_get)
            reply_problem(resp, 400, ERR("malformed"), "POST-as-GET only");
        else
            on_authz(ca, rest, resp);
    } else if ((rest = after(req->url, FAKE_CA_BASE "/chall/"))) {
        ca->stats.chall_post++;
        if (in.as_get || json_object_size(in.payload) != 0)
            reply_problem(resp, 400, ERR("malformed"), "payload must be {}");
        else
            on_challenge(ca, rest, resp);
    } else if ((rest = after(req->url, FAKE_CA_BASE "/finalize/"))) {
        ca->stats.finalize++;
        if (in.as_get)
            reply_problem(resp, 400, ERR("malformed"), "no payload");
        else
            on_finalize(ca, rest, &in, resp);
    } else if ((rest = after(req->url, FAKE_CA_BASE "/order/"))) {
        ca->stats.order_get++;
        if (!in.as_get)
            reply_problem(resp, 400, ERR("malformed"), "POST-as-GET only");
        else
            on_order(ca, rest, resp);
    } else if ((rest = after(req->url, FAKE_CA_BASE "/cert/"))) {
        ca->stats.cert_get++;
        if (!in.as_get)
            reply_problem(resp, 400, ERR("malformed"), "POST-as-GET only");
        else
            on_cert(ca, rest, resp);
    } else {
        reply_problem(resp, 404, ERR("malformed"), "no such resource");
    }
    jws_in_clear(&in);
}
