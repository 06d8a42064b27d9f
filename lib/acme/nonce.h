/* The pool of Replay-Nonces (RFC 8555 §6.5). Not installed. */
#ifndef LEEC_ACME_NONCE_H
#define LEEC_ACME_NONCE_H

#include <stddef.h>

#include "acme/limits.h"

typedef struct leec_nonce_pool {
    char *v[LEEC_NONCE_POOL];
    size_t n;
} leec_nonce_pool;
/* Keeps a nonce from a response (validated base64url; the oldest is dropped
 * when full). */
void Leec_nonce_put(leec_nonce_pool *p, const char *nonce);
/* Takes the freshest nonce (caller frees) or NULL when empty. */
char *Leec_nonce_take(leec_nonce_pool *p);
void Leec_nonce_clear(leec_nonce_pool *p);

#endif
