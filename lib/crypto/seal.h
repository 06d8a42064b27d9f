/* Sealing secrets kept in a shared store: AES-256-GCM under a master key,
 * a random 96-bit nonce per record, additional data binding each sealed
 * text to its record so that rows cannot be swapped, the key's id beside
 * it so that a rotation knows what to seal again. */
#ifndef LEEC_CRYPTO_SEAL_H
#define LEEC_CRYPTO_SEAL_H

#include <stdbool.h>
#include <stddef.h>

#include "leec/leec.h"

#define LEEC_SEAL_KEY_LEN 32
#define LEEC_SEAL_ID_LEN  16 /* hex digits */

/* A master key and its id: the first 8 bytes of SHA-256 over
 * "leec-seal-key-id" followed by the key, in hex (never the key). */
typedef struct leec_seal_key {
    unsigned char key[LEEC_SEAL_KEY_LEN];
    char id[LEEC_SEAL_ID_LEN + 1];
} leec_seal_key;

/* Reads a master key from path: 32 bytes raw, or 64 hex digits, or the
 * base64 of 32 bytes (surrounding white space ignored). The file must be a
 * regular file owned by the effective user, mode 0600 or 0400 (nothing for
 * group or others): LEEC_E_BAD_KEY otherwise, with *why (malloc'd) naming
 * the file and the fix; LEEC_E_IO when it cannot be read. */
leec_code Leec_seal_key_load(const char *path, leec_seal_key *k, char **why);
/* Leec_seal_key_load of $CREDENTIALS_DIRECTORY/leec-store-key (systemd's
 * LoadCredential=). LEEC_E_NOT_FOUND when the variable is not set. */
leec_code Leec_seal_key_from_credentials(leec_seal_key *k, char **why);
/* Zeroes k. */
void Leec_seal_key_clear(leec_seal_key *k);

/* Seals n bytes of plain, bound to aad (a NUL-terminated description of
 * the record, e.g. "version\nexample.com\n3\nprivkey"), into *sealed, a
 * malloc'd string: "leec-seal-1:" KEYID ":" base64url(nonce || ciphertext
 * || tag). LEEC_E_CRYPTO, LEEC_E_NOMEM. */
leec_code Leec_seal(const leec_seal_key *k, const char *aad, const void *plain,
                    size_t n, char **sealed);
/* Opens sealed with the key of keys[0..nkeys) whose id it names, checking
 * aad: *plain malloc'd, NUL-terminated (secret: clear before free), *n its
 * length when n is not NULL. LEEC_E_BAD_KEY when no key given has its id;
 * LEEC_E_CRYPTO when it does not open (altered, or bound to another
 * record); LEEC_E_INVALID_ARG when it is not a sealed text; LEEC_E_NOMEM. */
leec_code Leec_unseal(const leec_seal_key *const *keys, size_t nkeys,
                      const char *aad, const char *sealed, char **plain,
                      size_t *n);
/* True if sealed names key id (the first LEEC_SEAL_ID_LEN hex digits after
 * the prefix). */
bool Leec_sealed_with(const char *sealed, const char *id);

#endif
