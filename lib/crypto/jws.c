#include "crypto/jws.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/b64url.h"
#include "util/buf.h"

/* Sets a string member. A NULL from json_string() is mostly text that is not
 * UTF-8 (a nonce comes from the server), so call it a bad argument. */
static leec_code set_str(json_t *obj, const char *name, const char *val)
{
    json_t *s = json_string(val);
    if (!s)
        return LEEC_E_INVALID_ARG;
    return json_object_set_new(obj, name, s) ? LEEC_E_NOMEM : LEEC_OK;
}

/* The protected header as compact JSON text (malloc'd by jansson). */
static leec_code build_header(const leec_key *key, const char *kid,
                              const char *nonce, const char *url, char **out)
{
    leec_code rc = LEEC_E_NOMEM;
    json_t *hdr = NULL;
    json_t *jwk = NULL;
    char *jwk_text = NULL;

    *out = NULL;
    hdr = json_object();
    if (!hdr)
        goto out;
    if ((rc = set_str(hdr, "alg", Leec_key_jws_alg(key))) != LEEC_OK)
        goto out;
    if (kid) {
        if ((rc = set_str(hdr, "kid", kid)) != LEEC_OK)
            goto out;
    } else {
        rc = Leec_key_jwk_json(key, &jwk_text);
        if (rc != LEEC_OK)
            goto out;
        rc = LEEC_E_NOMEM;
        /* Our own canonical text, so a parse failure can only be OOM. */
        jwk = json_loads(jwk_text, 0, NULL);
        if (!jwk || json_object_set(hdr, "jwk", jwk))
            goto out;
    }
    if (nonce && (rc = set_str(hdr, "nonce", nonce)) != LEEC_OK)
        goto out;
    if ((rc = set_str(hdr, "url", url)) != LEEC_OK)
        goto out;
    rc = LEEC_E_NOMEM;
    *out = json_dumps(hdr, JSON_COMPACT);
    if (*out)
        rc = LEEC_OK;
out:
    json_decref(jwk);
    json_decref(hdr);
    free(jwk_text);
    return rc;
}

leec_code Leec_jws_sign(const leec_key *key, const char *kid, const char *nonce,
                        const char *url, const char *payload, char **out)
{
    leec_code rc = LEEC_E_NOMEM;
    json_t *check = NULL;
    json_t *jws = NULL;
    char *hdr = NULL;
    char *hdr64 = NULL;
    char *pay64 = NULL;
    char *sig64 = NULL;
    unsigned char *sig = NULL;
    size_t siglen = 0;
    leec_buf input;

    Leec_buf_init(&input, 0);
    if (!key || !url || !out)
        return LEEC_E_INVALID_ARG;
    *out = NULL;
    if (payload) {
        /* Catch a caller bug here rather than as a CA "malformed" error. */
        check = json_loads(payload, JSON_DECODE_ANY, NULL);
        if (!check) {
            rc = LEEC_E_INVALID_ARG;
            goto out;
        }
    }
    rc = build_header(key, kid, nonce, url, &hdr);
    if (rc != LEEC_OK)
        goto out;
    rc = LEEC_E_NOMEM;
    hdr64 = Leec_b64url_encode(hdr, strlen(hdr));
    /* POST-as-GET (RFC 8555 §6.3) signs an empty payload. */
    pay64 = payload ? Leec_b64url_encode(payload, strlen(payload))
                    : Leec_b64url_encode("", 0);
    if (!hdr64 || !pay64)
        goto out;
    if ((rc = Leec_buf_printf(&input, "%s.%s", hdr64, pay64)) != LEEC_OK)
        goto out;
    rc = Leec_key_sign(key, input.data, input.len, &sig, &siglen);
    if (rc != LEEC_OK)
        goto out;
    rc = LEEC_E_NOMEM;
    sig64 = Leec_b64url_encode(sig, siglen);
    if (!sig64)
        goto out;
    jws = json_object();
    if (!jws || json_object_set_new(jws, "protected", json_string(hdr64)) ||
        json_object_set_new(jws, "payload", json_string(pay64)) ||
        json_object_set_new(jws, "signature", json_string(sig64)))
        goto out;
    *out = json_dumps(jws, JSON_COMPACT);
    if (*out)
        rc = LEEC_OK;
out:
    json_decref(check);
    json_decref(jws);
    free(hdr);
    free(hdr64);
    free(pay64);
    free(sig64);
    free(sig);
    Leec_buf_free(&input);
    return rc;
}

leec_code Leec_jws_sign_hmac(const unsigned char *key, size_t keylen,
                             const char *kid, const char *url,
                             const char *payload, char **out)
{
    leec_code rc = LEEC_E_INVALID_ARG;
    json_t *check = NULL;
    json_t *hdr = NULL;
    json_t *jws = NULL;
    char *hdr_text = NULL;
    char *hdr64 = NULL;
    char *pay64 = NULL;
    char *sig64 = NULL;
    unsigned char *mac = NULL;
    size_t maclen = 0;
    leec_buf input;

    Leec_buf_init(&input, 0);
    if (!out)
        return LEEC_E_INVALID_ARG;
    *out = NULL;
    if (!key || !keylen || !kid || !*kid || !url || !*url || !payload)
        goto out;
    if (!(check = json_loads(payload, JSON_DECODE_ANY, NULL)))
        goto out;
    rc = LEEC_E_NOMEM;
    if (!(hdr = json_object()))
        goto out;
    if ((rc = set_str(hdr, "alg", "HS256")) != LEEC_OK ||
        (rc = set_str(hdr, "kid", kid)) != LEEC_OK ||
        (rc = set_str(hdr, "url", url)) != LEEC_OK)
        goto out;
    rc = LEEC_E_NOMEM;
    if (!(hdr_text = json_dumps(hdr, JSON_COMPACT)) ||
        !(hdr64 = Leec_b64url_encode(hdr_text, strlen(hdr_text))) ||
        !(pay64 = Leec_b64url_encode(payload, strlen(payload))))
        goto out;
    if ((rc = Leec_buf_printf(&input, "%s.%s", hdr64, pay64)) != LEEC_OK)
        goto out;
    rc = Leec_hmac("sha256", key, keylen, input.data, input.len, &mac, &maclen);
    if (rc != LEEC_OK)
        goto out;
    rc = LEEC_E_NOMEM;
    if (!(sig64 = Leec_b64url_encode(mac, maclen)))
        goto out;
    jws = json_object();
    if (!jws || json_object_set_new(jws, "protected", json_string(hdr64)) ||
        json_object_set_new(jws, "payload", json_string(pay64)) ||
        json_object_set_new(jws, "signature", json_string(sig64)))
        goto out;
    if ((*out = json_dumps(jws, JSON_COMPACT)))
        rc = LEEC_OK;
out:
    json_decref(check);
    json_decref(hdr);
    json_decref(jws);
    free(hdr_text);
    free(hdr64);
    free(pay64);
    free(sig64);
    free(mac);
    Leec_buf_free(&input);
    return rc;
}
