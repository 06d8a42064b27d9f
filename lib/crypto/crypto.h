/* Keys, digests and signatures. Only crypto.c, jws.c, csr.c and x509.c see
 * OpenSSL; everything else holds a leec_key by pointer. */
#ifndef LEEC_CRYPTO_H
#define LEEC_CRYPTO_H

#include <stddef.h>

#include "leec/leec.h"

/* Wraps an EVP_PKEY. Not immutable behind a const pointer: Leec_key_sign()
 * keeps an initialised signing context inside the key, and the JWK and
 * thumbprint functions keep their text (each made on first use, freed by
 * Leec_key_free), so "const leec_key *" means "the key material does not
 * change", not "safe to share". Like everything else (leec.h), a key must
 * be used by one thread at a time, signing included. */
typedef struct leec_key leec_key;

/* Generates a fresh key. LEEC_E_CRYPTO, LEEC_E_NOMEM. */
leec_code Leec_key_generate(leec_key_type type, leec_key **out);
/* Whether generating a key of this type takes long (RSA: from tens of
 * milliseconds to seconds) rather than microseconds (EC). */
bool Leec_key_type_is_slow(leec_key_type type);

/* Loads a private key from PEM (PKCS#8, SEC1 "EC PRIVATE KEY" or PKCS#1
 * "RSA PRIVATE KEY"). Only the five supported types are accepted:
 * LEEC_E_BAD_KEY otherwise (e.g. EC P-521, RSA 1024). */
leec_code Leec_key_load_pem(const char *pem, size_t len, leec_key **out);

/* Unencrypted PKCS#8 PEM, malloc'd NUL-terminated. The caller must treat it as
 * secret (write 0600, never log) and should Leec_secure_free() it. */
leec_code Leec_key_to_pem(const leec_key *key, char **pem);

/* For the crypto files: the contents of a memory BIO as a malloc'd
 * NUL-terminated copy (*len its length, when len is not NULL).
 * LEEC_E_CRYPTO when its data cannot be read, LEEC_E_NOMEM. */
struct bio_st;
leec_code Leec_bio_to_str(struct bio_st *bio, char **out, size_t *len);

void Leec_key_free(leec_key *key);

/* For the files that see OpenSSL only: the EVP_PKEY inside key, owned by
 * key. Named by its struct tag so this header needs no OpenSSL include. */
struct evp_pkey_st;
struct evp_pkey_st *Leec_key_evp(const leec_key *key);

/* Wraps an existing EVP_PKEY, taking a reference of its own (the caller keeps
 * theirs). LEEC_E_BAD_KEY unless it is one of the five supported types. A
 * public-only key is accepted; signing with it then fails. */
leec_code Leec_key_from_evp(struct evp_pkey_st *pkey, leec_key **out);
leec_key_type Leec_key_get_type(const leec_key *key);

/* The JWS "alg" for the key: "ES256", "ES384" or "RS256". */
const char *Leec_key_jws_alg(const leec_key *key);

/* The public JWK as canonical JSON (RFC 7638 §3: required members only,
 * lexicographic order, no whitespace), malloc'd. Used both in JWS headers and
 * for the thumbprint. EC coordinates are left-padded to the field size. */
leec_code Leec_key_jwk_json(const leec_key *key, char **json);

/* RFC 7638 thumbprint: base64url(SHA-256(canonical JWK)), malloc'd. */
leec_code Leec_key_thumbprint(const leec_key *key, char **b64);

/* Signs data as JWS wants it: RS256 = RSASSA-PKCS1-v1_5 SHA-256; ES256/ES384
 * = raw r||s, each left-padded to 32/48 bytes (RFC 7518 §3.4), not DER.
 * *sig is malloc'd. The first call caches a signing context in key (see the
 * typedef): not reentrant on the same key. */
leec_code Leec_key_sign(const leec_key *key, const void *data, size_t len,
                        unsigned char **sig, size_t *siglen);

/* Is the public half of key the same as the public key in this PEM cert? */
bool Leec_key_matches_cert_pem(const leec_key *key, const char *cert_pem,
                               size_t len);

void Leec_sha256(const void *data, size_t len, unsigned char out[32]);

/* SHA-1 as 40 lower-case hex digits and a NUL, only where a protocol
 * mandates it (OVH's request signature). */
void Leec_sha1_hex(const void *data, size_t len, char out[41]);

/* HMAC-SHA256/384/512 by hash name "sha256" etc.; *mac malloc'd. */
leec_code Leec_hmac(const char *hash, const void *key, size_t keylen,
                    const void *data, size_t len, unsigned char **mac,
                    size_t *maclen);

/* Cleanses then frees a NUL-terminated secret string. */
void Leec_secure_free(char *s);

/* Key authorization (RFC 8555 §8.1): token "." thumbprint(account key).
 * malloc'd. */
leec_code Leec_key_authorization(const leec_key *account_key, const char *token,
                                 char **out);

#endif
