/* A certificate's validity and serial read straight from its DER, without
 * OpenSSL's full X.509 decoding (about a million instructions a
 * certificate with OpenSSL 3): what a renewal pass over thousands of
 * stored certificates needs of each. */
#ifndef LEEC_DER_H
#define LEEC_DER_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "leec/leec.h"

/* The first block labelled label ("CERTIFICATE", "PRIVATE KEY") of a PEM
 * text as DER (*der malloc'd). LEEC_E_INVALID_ARG (no block, bad base64),
 * LEEC_E_NOMEM. */
leec_code Leec_pem_der(const char *pem, size_t len, const char *label,
                       unsigned char **der, size_t *derlen);
leec_code Leec_pem_cert_der(const char *pem, size_t len, unsigned char **der,
                            size_t *derlen);

/* Whether a PEM text holds a private key block (PKCS#8, or the EC and RSA
 * forms) whose body is one well-formed DER SEQUENCE: a check for a key
 * file that is empty, truncated or not a key at all, without OpenSSL (the
 * key's numbers are not looked at). */
bool Leec_pem_key_plausible(const char *pem, size_t len);

/* notBefore, notAfter and the serial number (lower-case hex of its
 * magnitude, two digits a byte, "0" for zero: as leec_cert_info's) of a
 * DER certificate. *serial malloc'd. LEEC_E_INVALID_ARG (not a
 * certificate as DER defines it), LEEC_E_NOMEM. */
leec_code Leec_der_cert_basics(const unsigned char *der, size_t len,
                               time_t *not_before, time_t *not_after,
                               char **serial);

#endif
