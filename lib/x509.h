/* Certificates: chains, checks before install, summaries. */
#ifndef LEEC_X509_H
#define LEEC_X509_H

#include <stddef.h>

#include "crypto.h"

/*
 * Splits an application/pem-certificate-chain body into its certificates,
 * each returned as a malloc'd PEM string (re-encoded, so only the BEGIN/END
 * block survives). Only whitespace may stand between blocks; each block must
 * parse as an X.509 certificate. At least one certificate.
 * Errors: LEEC_E_PROTOCOL (not a chain), LEEC_E_NOMEM.
 */
leec_code leec_pem_split_chain(const char *pem, size_t len, char ***certs,
                               size_t *n);
void leec_strv_free(char **v, size_t n);

/*
 * The checks before a certificate is installed: the leaf's public key is
 * key's, its subjectAltNames are exactly names (as a set, DNS names compared
 * case-insensitively, IP addresses by value), it is within its validity
 * period now, and, when issuer_pem is not NULL, it is signed by that issuer.
 * LEEC_E_CERT_MISMATCH with a one-line reason in *why (malloc'd, may be
 * NULL on OOM) otherwise.
 */
leec_code leec_cert_check(const char *leaf_pem, const char *issuer_pem,
                          const leec_key *key, const char *const *names,
                          size_t n, char **why);

/* Parsed issuer certificates remembered by their PEM text (a few), so that
 * the certificates of a batch, which share an intermediate, do not parse it
 * each time. One per context; not thread-safe. */
typedef struct leec_x509_cache leec_x509_cache;
leec_x509_cache *leec_x509_cache_new(void);
void leec_x509_cache_free(leec_x509_cache *cache);

/*
 * What the agent does with a downloaded chain, each certificate parsed once:
 * split it (as leec_pem_split_chain), run leec_cert_check on the leaf with
 * the first issuer, and hand back the leaf and the issuers (concatenated) as
 * malloc'd PEM. cache (may be NULL) spares parsing a known issuer again. LEEC_E_PROTOCOL (not a chain), LEEC_E_CERT_MISMATCH with *why,
 * LEEC_E_NOMEM.
 */
leec_code leec_chain_accept(const char *pem, size_t len, const leec_key *key,
                            const char *const *names, size_t n,
                            leec_x509_cache *cache, char **leaf_pem,
                            char **issuers_pem, char **why);

/* The DER encoding of the first certificate of a PEM text (revocation sends
 * it, RFC 8555 §7.6). *der malloc'd. LEEC_E_INVALID_ARG (no certificate),
 * LEEC_E_NOMEM. */
leec_code leec_cert_pem_to_der(const char *pem, size_t len,
                               unsigned char **der, size_t *derlen);

#endif
