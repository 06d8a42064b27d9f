/* Certificates: chains, checks before install, summaries. */
#ifndef LEEC_X509_H
#define LEEC_X509_H

#include <stddef.h>

#include "crypto/crypto.h"

/*
 * Splits an application/pem-certificate-chain body into its certificates,
 * each returned as a malloc'd PEM string (re-encoded, so only the BEGIN/END
 * block survives). Only whitespace may stand between blocks; each block must
 * parse as an X.509 certificate. At least one certificate.
 * Errors: LEEC_E_PROTOCOL (not a chain), LEEC_E_NOMEM.
 */
leec_code Leec_pem_split_chain(const char *pem, size_t len, char ***certs,
                               size_t *n);
void Leec_strv_free(char **v, size_t n);

/*
 * The checks before a certificate is installed: the leaf's public key is
 * key's, its subjectAltNames are exactly names (as a set, DNS names compared
 * case-insensitively, IP addresses by value), it is within its validity
 * period now, and, when issuer_pem is not NULL, it is signed by that issuer.
 * LEEC_E_CERT_MISMATCH with a one-line reason in *why (malloc'd, may be
 * NULL on OOM) otherwise.
 */
leec_code Leec_cert_check(const char *leaf_pem, const char *issuer_pem,
                          const leec_key *key, const char *const *names,
                          size_t n, char **why);

/* Parsed issuer certificates remembered by their PEM text (a few), so that
 * the certificates of a batch, which share an intermediate, do not parse it
 * each time. One per context; not thread-safe. */
typedef struct leec_x509_cache leec_x509_cache;
leec_x509_cache *Leec_x509_cache_new(void);
void Leec_x509_cache_free(leec_x509_cache *cache);

/*
 * What the agent does with a downloaded chain, each certificate parsed once:
 * split it (as Leec_pem_split_chain), run Leec_cert_check on the leaf with
 * the first issuer, and hand back the leaf and the issuers (concatenated) as
 * malloc'd PEM. cache (may be NULL) spares parsing a known issuer again.
 * LEEC_E_PROTOCOL (not a chain), LEEC_E_CERT_MISMATCH with *why, LEEC_E_NOMEM.
 */
leec_code Leec_chain_accept(const char *pem, size_t len, const leec_key *key,
                            const char *const *names, size_t n,
                            leec_x509_cache *cache, char **leaf_pem,
                            char **issuers_pem, char **why);

/* The DER encoding of the first certificate of a PEM text (revocation sends
 * it, RFC 8555 §7.6). *der malloc'd. LEEC_E_INVALID_ARG (no certificate),
 * LEEC_E_NOMEM. */
leec_code Leec_cert_pem_to_der(const char *pem, size_t len, unsigned char **der,
                               size_t *derlen);

/* The certificate's ARI identifier (RFC 9773 §4.1): base64url of its
 * Authority Key Identifier's keyIdentifier, ".", base64url of its serial
 * number's DER content octets. *id malloc'd. LEEC_E_INVALID_ARG (no
 * certificate, or no AKI keyIdentifier), LEEC_E_NOMEM. */
leec_code Leec_ari_cert_id(const char *pem, size_t len, char **id);

/*
 * The issuer of child_pem's first certificate among the certificates of
 * body, what a caIssuers URL (RFC 5280 §4.2.2.1) served: one DER
 * certificate, PEM certificates, or a PKCS#7 certs-only bundle (DER or
 * PEM). Nothing is trusted: the one kept has the child's issuer name as
 * subject, agrees with it as X509_check_issued() requires (key
 * identifiers, keyCertSign), is a CA, and its key verifies the child's
 * signature. *issuer_pem malloc'd PEM. Errors: LEEC_E_INVALID_ARG (no
 * certificate in child_pem), LEEC_E_PROTOCOL (body holds no certificate),
 * LEEC_E_CERT_MISMATCH (none issued the child), LEEC_E_NOMEM; *why (when
 * why is not NULL; malloc'd, NULL on OOM) then says why in one line.
 */
leec_code Leec_issuer_from_answer(const char *child_pem, size_t child_len,
                                  const unsigned char *body, size_t len,
                                  char **issuer_pem, char **why);

#endif
