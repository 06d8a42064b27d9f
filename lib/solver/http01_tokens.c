#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "solver/http01_tokens.h"
#include "store/store.h"
#include "util/ctx_base.h"

/* A flat array: a few tokens per agent in flight; lookups are rare (one per
 * validation request from the CA). */

leec_store *Leec_tokens_store(const leec_token_table *t)
{
    return t ? t->shared : NULL;
}

leec_code Leec_tokens_add(leec_token_table *t, const char *token,
                          const char *key_auth, const void *owner)
{
    return Leec_tokens_add_local(t, token, key_auth, owner, true);
}

leec_code Leec_tokens_add_local(leec_token_table *t, const char *token,
                                const char *key_auth, const void *owner,
                                bool to_store)
{
    if (!t)
        return LEEC_E_NOMEM; /* the table could not be made */
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        leec_token *v = realloc(t->v, cap * sizeof *v);
        if (!v)
            return LEEC_E_NOMEM;
        t->v = v;
        t->cap = cap;
    }
    /* Committed to a shared store before the CA is told to look: the
     * node its validation request reaches may be another. */
    if (t->shared && to_store) {
        leec_code rc = Leec_store_token_put(t->shared, token, key_auth);
        if (rc != LEEC_OK)
            return rc;
    }
    leec_token *e = &t->v[t->n];
    e->token = strdup(token);
    e->key_auth = strdup(key_auth);
    e->owner = owner;
    if (!e->token || !e->key_auth) {
        free(e->token);
        free(e->key_auth);
        if (t->shared && to_store)
            (void)Leec_store_token_delete(t->shared, token);
        return LEEC_E_NOMEM;
    }
    t->n++;
    return LEEC_OK;
}

const char *Leec_tokens_find(const leec_token_table *t, const char *token)
{
    for (size_t i = 0; t && i < t->n; i++)
        if (strcmp(t->v[i].token, token) == 0)
            return t->v[i].key_auth;
    return NULL;
}

void Leec_tokens_remove(leec_token_table *t, const char *token,
                        const void *owner)
{
    for (size_t i = 0; t && i < t->n;) {
        leec_token *e = &t->v[i];
        if (e->owner == owner && (!token || strcmp(e->token, token) == 0)) {
            /* A failure leaves a row that answers nothing harmful (a key
             * authorization is public) until the next removal of it. */
            if (t->shared)
                (void)Leec_store_token_delete(t->shared, e->token);
            free(e->token);
            free(e->key_auth);
            t->v[i] = t->v[--t->n];
        } else {
            i++;
        }
    }
}

void Leec_tokens_set_store(leec_token_table *t, leec_store *store)
{
    if (t)
        t->shared = leec_store_is_shared(store) ? store : NULL;
}

char *Leec_tokens_lookup(const leec_token_table *t, const char *token)
{
    const char *ka = Leec_tokens_find(t, token);
    if (ka)
        return strdup(ka);
    char *out = NULL;
    if (t && t->shared &&
        Leec_store_token_get(t->shared, token, &out) != LEEC_OK)
        out = NULL;
    return out;
}

void Leec_tokens_free(leec_token_table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].token);
        free(t->v[i].key_auth);
    }
    free(t->v);
    t->v = NULL;
    t->n = t->cap = 0;
}

/* The context's table, its slot in the context's base: made on first use
 * (NULL on OOM, which the functions above take as an empty table). */
leec_token_table *Leec_ctx_tokens(leec_ctx *ctx)
{
    leec_ctx_base *b = Leec_ctx_base(ctx);
    if (!b->tokens)
        b->tokens = calloc(1, sizeof *b->tokens);
    return b->tokens;
}

void Leec_ctx_tokens_free(leec_ctx *ctx)
{
    leec_ctx_base *b = Leec_ctx_base(ctx);
    if (!b->tokens)
        return;
    Leec_tokens_free(b->tokens);
    free(b->tokens);
    b->tokens = NULL;
}
