/* PEM text from the CA (a certificate download, application/pem-
 * certificate-chain) and from the store (cert.pem, chain.pem, privkey.pem):
 * every reader of PEM certificates and keys. The chain is checked against
 * the test leaf's key and names (pki/), so that a seed built on that key
 * goes all the way through Leec_chain_accept. */
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "crypto/der.h"
#include "fuzz.h"
#include "crypto/x509.h"

static leec_key *leaf_key;

static void setup(void)
{
    size_t n = 0;
    char *pem = fuzz_data("leaf.key.pem", &n);
    if (Leec_key_load_pem(pem, n, &leaf_key) != LEEC_OK)
        abort();
    Leec_secure_free(pem);
}

static void chain(const char *pem, size_t len)
{
    static const char *const names[] = {"example.com", "www.example.com"};
    char **certs = NULL, *leaf = NULL, *issuers = NULL, *why = NULL;
    size_t n = 0;
    if (Leec_pem_split_chain(pem, len, &certs, &n) == LEEC_OK)
        Leec_strv_free(certs, n);
    /* A cache per input: an issuer remembered from an earlier input
     * would make runs depend on their order. */
    leec_x509_cache *cache = Leec_x509_cache_new();
    for (int i = 0; i < 2; i++) { /* the second time from the cache */
        (void)Leec_chain_accept(pem, len, leaf_key, names, 2, cache, &leaf,
                                &issuers, &why);
        free(leaf);
        free(issuers);
        free(why);
        leaf = issuers = why = NULL;
    }
    Leec_x509_cache_free(cache);
}

static void summaries(const char *pem, size_t len)
{
    leec_cert_info *info = NULL;
    if (leec_cert_info_from_pem(pem, len, &info) == LEEC_OK)
        leec_cert_info_free(info);
    char *top = NULL, *scn = NULL, *icn = NULL, *aia = NULL, *id = NULL;
    bool self = false;
    if (leec_chain_top(pem, len, &top, &scn, &icn, &self, &aia) == LEEC_OK) {
        free(top);
        free(scn);
        free(icn);
        free(aia);
    }
    if (Leec_ari_cert_id(pem, len, &id) == LEEC_OK)
        free(id);
}

static void der(const char *pem, size_t len)
{
    unsigned char *d = NULL;
    size_t dlen = 0;
    if (Leec_cert_pem_to_der(pem, len, &d, &dlen) == LEEC_OK)
        free(d);
    /* The renewal pass's fast path: PEM to DER by hand, then the DER. */
    d = NULL;
    if (Leec_pem_cert_der(pem, len, &d, &dlen) == LEEC_OK) {
        time_t nb = 0, na = 0;
        char *serial = NULL;
        if (Leec_der_cert_basics(d, dlen, &nb, &na, &serial) == LEEC_OK)
            free(serial);
        free(d);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!leaf_key)
        setup();
    /* NUL-terminated as the transport's and the store's buffers are. */
    char *pem = malloc(size + 1);
    if (!pem)
        return 0;
    memcpy(pem, data, size);
    pem[size] = '\0';
    chain(pem, size);
    summaries(pem, size);
    der(pem, size);
    leec_key *k = NULL;
    if (Leec_key_load_pem(pem, size, &k) == LEEC_OK)
        Leec_key_free(k);
    free(pem);
    return 0;
}
