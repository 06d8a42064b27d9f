/* DER from outside: what an AIA caIssuers URL serves (one DER certificate,
 * PEM certificates, or a PKCS#7 certs-only bundle, DER or PEM), judged by
 * Leec_issuer_from_answer as the issuer of the test intermediate (pki/;
 * the test root is the right answer), and a certificate read by the
 * renewal pass's own DER walker (Leec_der_cert_basics). */
#include <stdlib.h>
#include <string.h>

#include "crypto/der.h"
#include "fuzz.h"
#include "crypto/x509.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *child;
    static size_t child_len;
    if (!child)
        child = fuzz_data("inter.pem", &child_len);
    /* A copy of exactly the input's size: a read past it is caught. */
    unsigned char *body = malloc(size ? size : 1);
    if (!body)
        return 0;
    memcpy(body, data, size);
    time_t nb = 0, na = 0;
    char *serial = NULL, *issuer = NULL, *why = NULL;
    if (Leec_der_cert_basics(body, size, &nb, &na, &serial) == LEEC_OK)
        free(serial);
    (void)Leec_issuer_from_answer(child, child_len, body, size, &issuer, &why);
    free(issuer);
    free(why);
    free(body);
    return 0;
}
