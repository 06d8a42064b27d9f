/* JWS in the flattened JSON serialization, as ACME requests carry them
 * (RFC 8555 §6.2). */
#ifndef LEEC_JWS_H
#define LEEC_JWS_H

#include "crypto/crypto.h"

/*
 * Signs one ACME request. The protected header holds alg, nonce, url and
 * either kid (when kid is not NULL) or the public jwk. payload is the JSON
 * text of the payload, or NULL for a POST-as-GET (empty payload, RFC 8555
 * §6.3). nonce NULL leaves it out (the inner JWS of a key rollover).
 * *out is the JWS as malloc'd JSON text:
 *   {"protected":"...","payload":"...","signature":"..."}
 * Errors: LEEC_E_INVALID_ARG (payload is not JSON), LEEC_E_CRYPTO,
 * LEEC_E_NOMEM.
 */
leec_code Leec_jws_sign(const leec_key *key, const char *kid, const char *nonce,
                        const char *url, const char *payload, char **out);

/*
 * An HMAC-signed JWS (HS256), as the externalAccountBinding of a
 * newAccount request carries it (RFC 8555 §7.3.4): protected header
 * {"alg":"HS256","kid":kid,"url":url}, payload the JSON text given (the
 * account's public JWK). key/keylen is the CA's MAC key (secret: never
 * copied beyond the HMAC computation, never logged). *out is malloc'd JSON
 * text {"protected":...,"payload":...,"signature":...}.
 * Errors: LEEC_E_INVALID_ARG (NULL or empty key, kid or url, payload not
 * JSON), LEEC_E_CRYPTO, LEEC_E_NOMEM.
 */
leec_code Leec_jws_sign_hmac(const unsigned char *key, size_t keylen,
                             const char *kid, const char *url,
                             const char *payload, char **out);

#endif
