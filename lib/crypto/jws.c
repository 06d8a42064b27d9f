#include "crypto/jws.h"

#include <stdlib.h>
#include <string.h>

#include "util/b64url.h"
#include "util/buf.h"
#include "util/json.h"

/* Whether payload is JSON text: catches a caller bug here rather than as a
 * CA "malformed" error. */
static bool is_json(const char *payload)
{
    leec_json *j = Leec_json_parse_any(payload, strlen(payload));
    Leec_json_free(j);
    return j != NULL;
}

/* The flattened JSON serialization (RFC 7515 §7.2.2) of its three parts,
 * members in the order json_dumps wrote them; base64url needs no escaping.
 * malloc'd in *out. */
static leec_code flattened(const char *hdr64, const char *pay64,
                           const char *sig64, char **out)
{
    static const char m1[] = "{\"protected\":\"";
    static const char m2[] = "\",\"payload\":\"";
    static const char m3[] = "\",\"signature\":\"";
    static const char m4[] = "\"}";
    size_t hlen = strlen(hdr64), plen = strlen(pay64), slen = strlen(sig64);
    size_t total = sizeof m1 - 1 + hlen + sizeof m2 - 1 + plen + sizeof m3 - 1 +
                   slen + sizeof m4 - 1;
    char *o = malloc(total + 1);
    if (!o)
        return LEEC_E_NOMEM;
    *out = o;
    memcpy(o, m1, sizeof m1 - 1);
    o += sizeof m1 - 1;
    memcpy(o, hdr64, hlen);
    o += hlen;
    memcpy(o, m2, sizeof m2 - 1);
    o += sizeof m2 - 1;
    memcpy(o, pay64, plen);
    o += plen;
    memcpy(o, m3, sizeof m3 - 1);
    o += sizeof m3 - 1;
    memcpy(o, sig64, slen);
    o += slen;
    memcpy(o, m4, sizeof m4);
    return LEEC_OK;
}

/* The protected header as compact JSON text, written directly: the same
 * bytes json_dumps with JSON_COMPACT made of a jansson tree (members in the
 * order alg, kid or jwk, nonce, url; strings escaped alike, and a string
 * that is not UTF-8 refused alike), without building the tree. A text
 * that is not UTF-8 is mostly the server's (a nonce): a bad argument. */
static leec_code build_header(const leec_key *key, const char *kid,
                              const char *nonce, const char *url, leec_buf *hdr)
{
    leec_code rc = Leec_buf_append_str(hdr, "{\"alg\":");
    if (rc == LEEC_OK)
        rc = Leec_json_append_string(hdr, Leec_key_jws_alg(key));
    if (rc != LEEC_OK)
        return rc;
    if (kid) {
        if ((rc = Leec_buf_append_str(hdr, ",\"kid\":")) != LEEC_OK ||
            (rc = Leec_json_append_string(hdr, kid)) != LEEC_OK)
            return rc;
    } else {
        /* Our own canonical compact JSON object (RFC 7638 order), as
         * jansson wrote it back after parsing it. */
        char *jwk = NULL;
        if ((rc = Leec_key_jwk_json(key, &jwk)) != LEEC_OK)
            return rc;
        if ((rc = Leec_buf_append_str(hdr, ",\"jwk\":")) == LEEC_OK)
            rc = Leec_buf_append_str(hdr, jwk);
        free(jwk);
        if (rc != LEEC_OK)
            return rc;
    }
    if (nonce && ((rc = Leec_buf_append_str(hdr, ",\"nonce\":")) != LEEC_OK ||
                  (rc = Leec_json_append_string(hdr, nonce)) != LEEC_OK))
        return rc;
    if ((rc = Leec_buf_append_str(hdr, ",\"url\":")) != LEEC_OK ||
        (rc = Leec_json_append_string(hdr, url)) != LEEC_OK)
        return rc;
    return Leec_buf_append(hdr, "}", 1);
}

leec_code Leec_jws_sign(const leec_key *key, const char *kid, const char *nonce,
                        const char *url, const char *payload, char **out)
{
    leec_code rc = LEEC_E_NOMEM;
    char *hdr64 = NULL;
    char *pay64 = NULL;
    char *sig64 = NULL;
    char *input = NULL;
    unsigned char *sig = NULL;
    size_t siglen = 0;
    leec_buf hdr;

    Leec_buf_init(&hdr, 0);
    if (!key || !url || !out)
        return LEEC_E_INVALID_ARG;
    *out = NULL;
    if (payload && !is_json(payload))
        return LEEC_E_INVALID_ARG;
    rc = build_header(key, kid, nonce, url, &hdr);
    if (rc != LEEC_OK)
        goto out;
    rc = LEEC_E_NOMEM;
    hdr64 = Leec_b64url_encode(hdr.data, hdr.len);
    /* POST-as-GET (RFC 8555 §6.3) signs an empty payload. */
    pay64 = payload ? Leec_b64url_encode(payload, strlen(payload))
                    : Leec_b64url_encode("", 0);
    if (!hdr64 || !pay64)
        goto out;
    size_t hlen = strlen(hdr64);
    size_t plen = strlen(pay64);
    /* The signing input, protected "." payload. */
    if (!(input = malloc(hlen + 1 + plen + 1)))
        goto out;
    memcpy(input, hdr64, hlen);
    input[hlen] = '.';
    memcpy(input + hlen + 1, pay64, plen + 1);
    rc = Leec_key_sign(key, input, hlen + 1 + plen, &sig, &siglen);
    if (rc != LEEC_OK)
        goto out;
    rc = LEEC_E_NOMEM;
    sig64 = Leec_b64url_encode(sig, siglen);
    if (sig64)
        rc = flattened(hdr64, pay64, sig64, out);
out:
    free(hdr64);
    free(pay64);
    free(sig64);
    free(sig);
    free(input);
    Leec_buf_free(&hdr);
    return rc;
}

leec_code Leec_jws_sign_hmac(const unsigned char *key, size_t keylen,
                             const char *kid, const char *url,
                             const char *payload, char **out)
{
    leec_code rc = LEEC_E_INVALID_ARG;
    char *hdr64 = NULL;
    char *pay64 = NULL;
    char *sig64 = NULL;
    unsigned char *mac = NULL;
    size_t maclen = 0;
    leec_buf hdr, input;

    Leec_buf_init(&hdr, 0);
    Leec_buf_init(&input, 0);
    if (!out)
        return LEEC_E_INVALID_ARG;
    *out = NULL;
    if (!key || !keylen || !kid || !*kid || !url || !*url || !payload ||
        !is_json(payload))
        goto out;
    /* {"alg":"HS256","kid":...,"url":...}, compact, as json_dumps wrote
     * it; a kid or url that is not UTF-8 is a bad argument. */
    if ((rc = Leec_buf_append_str(&hdr, "{\"alg\":\"HS256\",\"kid\":")) !=
            LEEC_OK ||
        (rc = Leec_json_append_string(&hdr, kid)) != LEEC_OK ||
        (rc = Leec_buf_append_str(&hdr, ",\"url\":")) != LEEC_OK ||
        (rc = Leec_json_append_string(&hdr, url)) != LEEC_OK ||
        (rc = Leec_buf_append(&hdr, "}", 1)) != LEEC_OK)
        goto out;
    rc = LEEC_E_NOMEM;
    if (!(hdr64 = Leec_b64url_encode(hdr.data, hdr.len)) ||
        !(pay64 = Leec_b64url_encode(payload, strlen(payload))))
        goto out;
    if ((rc = Leec_buf_printf(&input, "%s.%s", hdr64, pay64)) != LEEC_OK)
        goto out;
    rc = Leec_hmac("sha256", key, keylen, input.data, input.len, &mac, &maclen);
    if (rc != LEEC_OK)
        goto out;
    rc = LEEC_E_NOMEM;
    if ((sig64 = Leec_b64url_encode(mac, maclen)))
        rc = flattened(hdr64, pay64, sig64, out);
out:
    free(hdr64);
    free(pay64);
    free(sig64);
    free(mac);
    Leec_buf_free(&hdr);
    Leec_buf_free(&input);
    return rc;
}
