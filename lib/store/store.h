/* The store inside the library: the handle behind leec_store (a backend's
 * operations and state, include/leec/store.h) and the wrappers through
 * which the engine reaches a backend. Nothing above the store touches
 * paths or files: it reads and writes records. The filesystem backend is
 * store_fs.c; a shared backend for fleets implements the same operations.
 *
 * The wrappers check names, sizes and pointers and initialise out
 * parameters before they call a backend, so that every backend gets the
 * same guarantees (those the public header lists). */
#ifndef LEEC_STORE_INTERNAL_H
#define LEEC_STORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "leec/leec.h"
#include "leec/store.h"
#include "util/names.h"

/* The backend's operations (tests call them directly). */
const leec_store_ops *Leec_store_ops(const leec_store *s);
/* impl when s was made with ops, else NULL: how a backend finds its own. */
void *Leec_store_impl(const leec_store *s, const leec_store_ops *ops);
/* Why the last LEEC_E_STORE was returned (the caller's now), or NULL. */
char *Leec_store_take_why(leec_store *s);

/* The context whose log the store's refusals also go to (NULL: none). */
void Leec_store_set_log_ctx(leec_store *s, leec_ctx *ctx);
/* For backends: a line in that context's log (nothing without one), such
 * as why a database call failed with LEEC_E_IO. */
void Leec_store_log(leec_store *s, leec_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Accounts (leec_store_ops: account_load, account_save, account_remove). */
leec_code Leec_store_account_load(leec_store *s, const char *ca_id,
                                  char **key_pem, char **account_json);
leec_code Leec_store_account_save(leec_store *s, const char *ca_id,
                                  const char *key_pem,
                                  const char *account_json);
leec_code Leec_store_account_remove(leec_store *s, const char *ca_id);

/* The renewal state of version number of name (renewal_write). */
leec_code Leec_store_renewal_write(leec_store *s, const char *name,
                                   uint64_t number, const char *json);

/* http-01 tokens (token_put, token_get, token_delete): LEEC_E_INVALID_ARG
 * for a store without them, a token that is not 1 to 256 base64url
 * characters, or a key authorization that is not 1 to 1024 printable
 * ASCII characters. */
leec_code Leec_store_token_put(leec_store *s, const char *token,
                               const char *key_auth);
leec_code Leec_store_token_get(leec_store *s, const char *token,
                               char **key_auth);
leec_code Leec_store_token_delete(leec_store *s, const char *token);
/* The asynchronous lookup (leec_store_ops token_ask, token_fd,
 * token_answers): false when the store has none (use token_get). */
bool Leec_store_can_ask(const leec_store *s);
leec_code Leec_store_token_ask(leec_store *s, const char *token);
/* The key authorization of token known without a round trip (ops
 * token_known), malloc'd, or NULL. */
char *Leec_store_token_known(leec_store *s, const char *token);

/* Writes that do not wait (ops journal_write_async ...): whether the store
 * has them; the journal write and the token put sent, done called later
 * from Leec_store_async_perform (see store.h); the descriptor to watch
 * (-1: nothing in flight) and its poll(2) events. */
bool Leec_store_has_async(const leec_store *s);
leec_code Leec_store_order_write_async(leec_store *s, const char *name,
                                       uint64_t token,
                                       const leec_store_order *o, bool durable,
                                       leec_store_done_fn done, void *ud);
leec_code Leec_store_token_put_async(leec_store *s, const char *token,
                                     const char *key_auth,
                                     leec_store_done_fn done, void *ud);
int Leec_store_async_fd(leec_store *s, short *events);
void Leec_store_async_perform(leec_store *s);
void Leec_store_async_forget(leec_store *s, void *ud);
/* Leec_store_install_fenced, not waiting (ops version_install_async). */
bool Leec_store_can_install_async(const leec_store *s);
leec_code Leec_store_install_async(leec_store *store, const char *cert_name,
                                   const leec_store_new_version *in,
                                   uint64_t token, leec_store_done_fn done,
                                   void *ud);
int Leec_store_token_fd(leec_store *s);
leec_code Leec_store_token_answers(leec_store *s,
                                   void (*fn)(void *ud, const char *token,
                                              const char *key_auth),
                                   void *ud);

/* Locks (lock, unlock). Unlocking NULL does nothing. */
leec_code Leec_store_lock(leec_store *s, const char *kind, const char *name,
                          void **handle);
void Leec_store_unlock(leec_store *s, void *handle);

/* Leases (ABI 2: lease; a store of ABI 1 locks and gives token 0). Locks
 * taken with Leec_store_lock are leases of LEEC_LEASE_TTL_S too. token
 * may be NULL. */
#define LEEC_LEASE_TTL_S 3600u
leec_code Leec_store_lease(leec_store *s, const char *kind, const char *name,
                           unsigned ttl_s, void **handle, uint64_t *token);
/* LEEC_E_FENCED when a lease of kind/name newer than token was granted;
 * LEEC_OK for token 0 (no lease presented) or a store of ABI 1. */
leec_code Leec_store_fence(leec_store *s, const char *kind, const char *name,
                           uint64_t token);

/* leec_store_install_version and Leec_store_renewal_write presenting the
 * token of the writer's "cert" lease of name (0: none). */
leec_code Leec_store_install_fenced(leec_store *s, const char *name,
                                    const leec_store_new_version *in,
                                    uint64_t token, uint64_t *number);
leec_code Leec_store_renewal_write_fenced(leec_store *s, const char *name,
                                          uint64_t number, const char *json,
                                          uint64_t token);

/* The order journal (journal_*). Whether the store keeps one (ABI 2). */
bool Leec_store_has_journal(const leec_store *s);
/* Replaces the entry of name with o (order_url, ca_id and names required;
 * key_pem once the key is chosen; updated set here); durable as the
 * backend's journal_write; token as above.
 * LEEC_OK without writing for a store without a journal. */
leec_code Leec_store_order_write(leec_store *s, const char *name,
                                 uint64_t token, const leec_store_order *o,
                                 bool durable);
/* Removes the entry of name; LEEC_OK when there is none. */
leec_code Leec_store_order_remove(leec_store *s, const char *name,
                                  uint64_t token);

/* The budget log (budget_add, budget_read; ABI 4, optional). Whether the
 * store keeps one; adding and reading check the CA id and the entry (one
 * line, at most LEEC_STORE_BUDGET_ENTRY_MAX) and give LEEC_E_INVALID_ARG
 * for a store without one. */
bool Leec_store_has_budget(const leec_store *s);
leec_code Leec_store_budget_add(leec_store *s, const char *ca_id, int64_t when,
                                const char *entry, int64_t forget_before);
leec_code Leec_store_budget_read(leec_store *s, const char *ca_id,
                                 int64_t since, char ***entries,
                                 int64_t **whens, size_t *n);

/* "PID 1234" or "PID 1234 on host" of whoever holds the lock kind/name,
 * or "another process" when unknown: for messages (malloc'd, NULL on
 * OOM). */
char *Leec_store_holder_text(leec_store *st, const char *kind,
                             const char *name);

/* The file name of each part of a version ("privkey.pem", "meta.json",
 * ...): the only names a version folder holds, also the names reasons and
 * messages use. NULL for a value out of range. */
const char *Leec_store_part_file(leec_store_part part);

#endif
