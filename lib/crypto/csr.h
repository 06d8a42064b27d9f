/* Certificate signing requests for finalize (RFC 8555 §7.4). */
#ifndef LEEC_CSR_H
#define LEEC_CSR_H

#include "crypto/crypto.h"

/*
 * A CSR signed by key, with every name as a subjectAltName (dNSName, or
 * iPAddress for a literal IPv4/IPv6 address) and names[0] as the subject CN
 * when it is a DNS name of at most 64 characters. Returned as base64url DER,
 * malloc'd, ready for the finalize payload. SHA-256 signature.
 */
leec_code Leec_csr_new(const leec_key *key, const char *const *names, size_t n,
                       char **b64url_der);

#endif
