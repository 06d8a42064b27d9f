/* JWS in the flattened JSON serialization, as ACME requests carry them
 * (RFC 8555 §6.2). */
#ifndef LEEC_JWS_H
#define LEEC_JWS_H

#include "crypto.h"

/*
 * Signs one ACME request. The protected header holds alg, nonce, url and
 * either kid (when kid is not NULL) or the public jwk. payload is the JSON
 * text of the payload, or NULL for a POST-as-GET (empty payload, RFC 8555
 * §6.3). nonce NULL leaves it out (the inner JWS of a key rollover).
 * *out is the JWS as malloc'd JSON text:
 *   {"protected":"...","payload":"...","signature":"..."}
 * Errors: LEEC_E_INVALID_ARG (payload is not JSON), LEEC_E_CRYPTO, LEEC_E_NOMEM.
 */
leec_code leec_jws_sign(const leec_key *key, const char *kid,
                        const char *nonce, const char *url,
                        const char *payload, char **out);

#endif
