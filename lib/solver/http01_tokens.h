/* The live http-01 tokens: token -> key authorization, one owner per entry.
 * Not installed. */
#ifndef LEEC_SOLVER_HTTP01_TOKENS_H
#define LEEC_SOLVER_HTTP01_TOKENS_H

#include "leec/leec.h"

typedef struct leec_token {
    char *token;
    char *key_auth;
    const void *owner;
} leec_token;
typedef struct leec_token_table {
    leec_token *v;
    size_t n, cap;
    /* A store shared by a fleet (leec_store_is_shared), or NULL: every
     * token added is committed to it first, so that any node's responder
     * finds it, and removed from it with its entry. */
    leec_store *shared;
} leec_token_table;
/* Mirrors the table's tokens into store from now on when it is shared
 * (NULL or a store of one machine: the table alone). */
void Leec_tokens_set_store(leec_token_table *t, leec_store *store);
leec_code Leec_tokens_add(leec_token_table *t, const char *token,
                          const char *key_auth, const void *owner);
/* The same; to_store false: the shared store is not written (the caller
 * writes it without waiting), only the table. */
leec_code Leec_tokens_add_local(leec_token_table *t, const char *token,
                                const char *key_auth, const void *owner,
                                bool to_store);
/* The shared store tokens are mirrored into, or NULL. */
leec_store *Leec_tokens_store(const leec_token_table *t);
const char *Leec_tokens_find(const leec_token_table *t, const char *token);
/* The key authorization for token as a new string the caller frees: the
 * table's, else the shared store's (another node's token; one indexed
 * lookup). NULL when unknown (or out of memory). */
char *Leec_tokens_lookup(const leec_token_table *t, const char *token);
void Leec_tokens_remove(leec_token_table *t, const char *token,
                        const void *owner);
void Leec_tokens_free(leec_token_table *t);
/* The context's table (made on first use; NULL on OOM, which the functions
 * above take as an empty table), and its end. */
leec_token_table *Leec_ctx_tokens(leec_ctx *ctx);
void Leec_ctx_tokens_free(leec_ctx *ctx);

#endif
