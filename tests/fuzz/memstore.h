/* A store held in memory (store.h's operations) for the fuzz targets: one
 * set of files that every certificate name and every CA id shares, so a
 * target puts its input where the library will read it. Locks are always
 * granted; an install replaces the certificate's files. */
#ifndef LEEC_FUZZ_STORE_H
#define LEEC_FUZZ_STORE_H

#include <stddef.h>

#include "store/store.h"

leec_store *fuzz_store_new(void);
/* Sets (a copy of len bytes of data) or, data NULL, removes a file:
 * "cert.pem", "chain.pem", "fullchain.pem", "privkey.pem", "meta.json",
 * "renewal.json", "account.key.pem", "account.json". */
void fuzz_store_set(leec_store *s, const char *file, const void *data,
                    size_t len);
/* Removes every file. */
void fuzz_store_clear(leec_store *s);

#endif
