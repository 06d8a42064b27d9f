#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "util/b64url.h"
#include "acme/nonce.h"

void Leec_nonce_put(leec_nonce_pool *p, const char *nonce)
{
    /* RFC 8555 §6.5.1: a nonce is base64url; anything else is not replayed. */
    if (!nonce || !Leec_b64url_valid(nonce, LEEC_MAX_NONCE))
        return;
    char *copy = strdup(nonce);
    if (!copy)
        return;
    if (p->n == LEEC_NONCE_POOL) {
        free(p->v[0]);
        memmove(p->v, p->v + 1, (p->n - 1) * sizeof p->v[0]);
        p->n--;
    }
    p->v[p->n++] = copy;
}

char *Leec_nonce_take(leec_nonce_pool *p)
{
    return p->n ? p->v[--p->n] : NULL;
}

void Leec_nonce_clear(leec_nonce_pool *p)
{
    while (p->n)
        free(p->v[--p->n]);
}
