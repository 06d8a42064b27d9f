/* Internal structures shared by the library's files. Not installed. */
#ifndef LEEC_INTERNAL_H
#define LEEC_INTERNAL_H

#include <stdint.h>

#include "crypto/crypto.h"
#include "engine/governor.h"
#include "net/http.h"
#include "leec/leec.h"
#include "acme/retry.h"
#include "util/json.h"
#include "util/ctx_base.h"
#include "util/log.h"
#include "util/loop.h"
#include "acme/directory.h"
#include "acme/limits.h"
#include "acme/nonce.h"
#include "solver/http01_tokens.h"
#include "solver/providers.h"

/* ---- signed requests (request.c) ---- */
typedef struct leec_acme_resp {
    leec_code err;      /* LEEC_OK when the CA answered */
    const char *errmsg; /* transport error text or NULL */
    long status;
    const char *location;
    long retry_after;     /* seconds, -1 when absent */
    leec_json *json;      /* parsed JSON object body, or NULL */
    const leec_buf *body; /* raw body */
    const char *content_type;
    leec_problem *problem; /* error document; the callee may steal it */
    const leec_http_resp *http;
} leec_acme_resp;

typedef void (*leec_acme_fn)(void *userdata, leec_acme_resp *resp);
typedef struct leec_acme_req leec_acme_req;

/*
 * A JWS-signed POST (payload JSON text, or NULL for POST-as-GET) to url,
 * signed by key with kid (or jwk when kid is NULL). Takes a nonce from the
 * pool (fetching one first when empty) and retries badNonce transparently
 * with the fresh nonce. fn runs exactly once unless cancelled.
 */
leec_code Leec_acme_post(leec_ctx *ctx, leec_endpoint ep, const char *url,
                         const char *payload, const leec_key *key,
                         const char *kid, const char *accept, leec_acme_fn fn,
                         void *userdata, leec_acme_req **handle);
/* A plain GET (the directory, renewalInfo). ep: what url is, for the
 * counters (leec_ctx_foreach_request_count). */
leec_code Leec_acme_get(leec_ctx *ctx, leec_endpoint ep, const char *url,
                        leec_acme_fn fn, void *userdata,
                        leec_acme_req **handle);
/* Adds n to the context's counter which (leec_ctx_stat): the callers that
 * know an order was created or wasted, or a wait of an order ended. */
void Leec_stat_add(leec_ctx *ctx, leec_stat which, uint64_t n);
void Leec_acme_cancel(leec_ctx *ctx, leec_acme_req *req);
/* Sends the requests the governor now allows; returns the time (monotonic
 * ms) the next held request may go, or -1 when none is held. */
int64_t Leec_acme_release(leec_ctx *ctx);
/* When the first held request may go (monotonic ms), or -1 when none is
 * held: a query (nothing is sent, taken or called). */
int64_t Leec_acme_next_release(const leec_ctx *ctx);
void Leec_acme_drop_deferred(leec_ctx *ctx);
/* Whether r waits in the governor's queue, and why (PAUSED, RATE). */
leec_wait_reason Leec_acme_held(leec_ctx *ctx, const leec_acme_req *r,
                                int64_t *until);

/* ---- the context ---- */
typedef enum { RES_NONE, RES_PENDING, RES_READY, RES_FAILED } leec_res_state;

/* The context's owner object (ctx.c): its fields are private to ctx.c. */
leec_ctx *Leec_ctx_alloc(void); /* the owner alone, objects not attached */
void Leec_ctx_dealloc(leec_ctx *ctx);

/* Its settings and the objects it owns itself. */
leec_http *Leec_ctx_http(leec_ctx *ctx);            /* created on first use */
leec_http *Leec_ctx_transport(const leec_ctx *ctx); /* NULL before that */
struct leec_http01_server *Leec_ctx_http01_server(const leec_ctx *ctx);
/* Passes on the store's token answers already arrived (never waits). */
void Leec_ctx_token_answers(leec_ctx *ctx);
/* The store's writes that do not wait: what came is handed to the
 * writers, what is left sent, and the descriptor watched (after a write
 * was sent: _watch alone). */
void Leec_ctx_store_async(leec_ctx *ctx);
void Leec_ctx_store_async_watch(leec_ctx *ctx);
leec_governor *Leec_ctx_gov(const leec_ctx *ctx);

/* ---- the budgets across runs (budget.c) ---- */
/* What the context knows of the store's budget log: whether the governor
 * was seeded from it, when it was last pruned (Unix time), and the last
 * budget wait reported (reason, end on the context's clock), so that a
 * batch waiting for one window says it once. Zeroed with the context. */
struct leec_budget_log {
    bool seeded;
    int64_t pruned;
    int said_why;
    int64_t said_until;
};
struct leec_budget_log *Leec_ctx_budget(leec_ctx *ctx);
/* Once per context, before its first order is admitted: counts in the
 * governor what the store's budget log holds within the budget windows
 * (other runs, other processes). Nothing for a store without a log. */
void Leec_budget_seed(leec_ctx *ctx);
/* Records in the store's budget log a new order (cert false) or a
 * certificate issued (cert true) for these registered domains, now. A
 * failure is logged, never fatal: the budgets then count less. */
void Leec_budget_note(leec_ctx *ctx, bool cert, const char *const *regdoms,
                      size_t n);
/* Reports (WARN, once per wait end) that an order waits for a budget
 * (why LEEC_WAIT_ORDER_BUDGET or LEEC_WAIT_DOMAIN_BUDGET) until until_ms
 * on the context's clock, with that end as a UTC time. */
void Leec_budget_say(leec_ctx *ctx, const char *cert_name, leec_wait_reason why,
                     int64_t until_ms);
struct leec_x509_cache *Leec_ctx_x509_cache(const leec_ctx *ctx);
const char *Leec_ctx_server(const leec_ctx *ctx);
unsigned Leec_ctx_order_timeout_s(const leec_ctx *ctx);
unsigned Leec_ctx_lock_timeout_s(const leec_ctx *ctx);
/* Runs the application's hook at point; false when it has none. */
bool Leec_ctx_hook(leec_ctx *ctx, leec_hook_point point, leec_agent *agent);
/* Agents that decided to order and have not finished. */
unsigned Leec_ctx_ordering(const leec_ctx *ctx);
void Leec_ctx_ordering_add(leec_ctx *ctx, int delta);
/* Solver clean-ups under way: perform keeps reporting running. */
unsigned Leec_ctx_cleanups(const leec_ctx *ctx);
void Leec_ctx_cleanups_add(leec_ctx *ctx, int delta);
void Leec_ctx_cleanup_failed(leec_ctx *ctx); /* one more that failed */
/* The account, the directory or an order slot came: the agents look again
 * from perform (ctx_api.c), never from inside the step that said so. */
void Leec_ctx_wake_agents(leec_ctx *ctx);
bool Leec_ctx_wake_pending(const leec_ctx *ctx);
bool Leec_ctx_take_wake(leec_ctx *ctx); /* and clears it */
/* > 0 while inside perform: frees are deferred. Returns the new depth. */
int Leec_ctx_depth(const leec_ctx *ctx);
int Leec_ctx_depth_add(leec_ctx *ctx, int delta);

/* The handles of the objects the other files own, each private to its
 * file: set by that file's attach, read by its own functions. */
struct leec_workers *Leec_ctx_workers(const leec_ctx *ctx);
void Leec_ctx_set_workers(leec_ctx *ctx, struct leec_workers *w);
struct leec_session *Leec_ctx_session(const leec_ctx *ctx);
void Leec_ctx_set_session(leec_ctx *ctx, struct leec_session *s);
struct leec_queue *Leec_ctx_queue(const leec_ctx *ctx);
void Leec_ctx_set_queue(leec_ctx *ctx, struct leec_queue *q);
struct leec_ops *Leec_ctx_ops(const leec_ctx *ctx);
void Leec_ctx_set_ops(leec_ctx *ctx, struct leec_ops *o);
struct leec_agents *Leec_ctx_agents(const leec_ctx *ctx);
void Leec_ctx_set_agents(leec_ctx *ctx, struct leec_agents *a);

/* ---- the request queue (request.c) ---- */
leec_code Leec_queue_attach(leec_ctx *ctx);
void Leec_queue_detach(leec_ctx *ctx); /* drops what is held */
/* The directory's newNonce URL (owned by the session, which sets it again
 * before freeing it), or NULL. */
void Leec_acme_set_nonce_url(leec_ctx *ctx, const char *url);

/* ---- the CA session (account.c) ---- */
leec_code Leec_session_attach(leec_ctx *ctx);
void Leec_session_detach(leec_ctx *ctx);
const leec_directory *Leec_session_dir(const leec_ctx *ctx);
leec_res_state Leec_dir_state(const leec_ctx *ctx);
leec_res_state Leec_account_state(const leec_ctx *ctx);
unsigned Leec_account_gen(const leec_ctx *ctx);
leec_key *Leec_account_key(const leec_ctx *ctx);
const char *Leec_account_url(const leec_ctx *ctx);
const char *Leec_account_ca_id(const leec_ctx *ctx);
const char *Leec_account_errmsg(const leec_ctx *ctx);
bool Leec_account_created(const leec_ctx *ctx);
bool Leec_account_skip_saved(const leec_ctx *ctx);
/* -1, or when the account bootstrap looks at the lock again (ms). */
int64_t Leec_account_retry_at(const leec_ctx *ctx);
leec_account_mode Leec_account_mode(const leec_ctx *ctx);
leec_key_type Leec_account_key_type(const leec_ctx *ctx);
/* The account key and the contact replaced (key rollover, contact update):
 * each returns what it replaced, now the caller's. */
leec_key *Leec_account_swap_key(leec_ctx *ctx, leec_key *key);
char *Leec_account_swap_contact(leec_ctx *ctx, char *contact);
/* The context forgets its account (deactivated): the next use loads or
 * creates another. */
void Leec_account_drop(leec_ctx *ctx);

/* Account bootstrap (account.c): makes sure the directory and account are
 * known, starting their requests if needed. The ctx wakes waiting agents
 * (Leec_agent_wake) when it resolves. */
void Leec_account_ensure(leec_ctx *ctx);
void Leec_account_clear(leec_ctx *ctx);
/* Why the account bootstrap failed: its code (LEEC_E_STATE if it has not),
 * and a copy of the CA's problem document in *problem (NULL if none; the
 * caller owns it). LEEC_E_NOMEM when the copy fails. */
leec_code Leec_account_error(leec_ctx *ctx, leec_problem **problem);
/* The CA says the account of generation gen does not exist (any more):
 * forget it, so the next Leec_account_ensure creates (and saves) a new one.
 * Does nothing when another agent has already done so. */
void Leec_account_forget(leec_ctx *ctx, unsigned gen);
/* The payload of a newAccount for a new account with key (the terms
 * agreed, the contact, External Account Binding): *payload, the caller's.
 * LEEC_E_TOS (with *why) when the CA's terms are not agreed to. */
leec_code Leec_account_new_payload(leec_ctx *ctx, const leec_key *key,
                                   char **payload, const char **why);
/* Saves the account key and account.json (url, directory, contact) in
 * the store under acct_ca_id, replacing what is there (key first). */
leec_code Leec_account_save(leec_ctx *ctx);

/* Makes sure the directory alone is known (fetching it if neither it nor
 * the account is under way): what a revocation signed by the certificate's
 * key needs. A failed fetch fails the account too (acct_err). */
void Leec_directory_ensure(leec_ctx *ctx);

/* Runs the account bootstrap's own deadline (waiting for the account lock
 * of another process). */
void Leec_account_on_timer(leec_ctx *ctx);

/* ---- context-level operations (ctx_ops.c) ---- */
/* A revocation or an account operation: a job of the context queued by a
 * public call, advanced and reported from leec_ctx_perform (never inside
 * the call that queued it), counted in Leec_ctx_ops_pending so leec_ctx_run
 * waits for it. Each kind embeds this header as its first member. */
typedef struct leec_op leec_op;

typedef enum {
    LEEC_OP_QUEUED, /* not looked at yet */
    LEEC_OP_WAIT,   /* waiting for the directory or the account */
    LEEC_OP_SENT,   /* its request is out */
    LEEC_OP_DONE    /* finished: reported next */
} leec_op_state;

typedef struct leec_op_kind {
    /* Only the oldest operation of the kind advances: each may change
     * what the next one uses (the account key, the account itself). */
    bool one_at_a_time;
    /* The directory (and the account unless dir_only) is ready: starts the
     * request (Leec_acme_post with &op->req). An error finishes op. */
    leec_code (*send)(leec_op *op);
    /* op is finished and unlinked: runs the caller's callback. */
    void (*report)(leec_op *op);
    /* Frees the kind's own fields and the operation itself. */
    void (*destroy)(leec_op *op);
} leec_op_kind;

struct leec_op {
    leec_op *next;
    const leec_op_kind *kind;
    leec_ctx *ctx;
    const char *what; /* for logs ("account show"), owned by the kind */
    leec_op_state state;
    bool dir_only; /* signed by a key of its own: no account needed */
    leec_acme_req *req;
    leec_code rc;          /* once DONE */
    leec_problem *problem; /* once DONE, may be NULL */
};

/* Fills op's header; op is not queued yet. */
void Leec_op_init(leec_op *op, leec_ctx *ctx, const leec_op_kind *kind,
                  const char *what);
/* Appends op to the context's operations (taken on success; else the
 * caller still owns it). */
leec_code Leec_op_queue(leec_op *op);
/* Cancels op's request and frees it; NULL does nothing. */
void Leec_op_free(leec_op *op);
/* Marks op DONE with rc and problem (taken), logging a failure. */
void Leec_op_finish(leec_op *op, leec_code rc, leec_problem *problem);
/* Common handling of the CA's answer to op's request (named req_name in
 * logs): true on HTTP 200, else op is finished with the error. */
bool Leec_op_answer_ok(leec_op *op, leec_acme_resp *r, const char *req_name);
/* LEEC_OK unless the context signs with a saved account that is not
 * loaded yet and missing from the store (none is created for these). */
leec_code Leec_op_saved_account_exists(leec_ctx *ctx);

leec_code Leec_ctx_ops_attach(leec_ctx *ctx);
void Leec_ctx_ops_detach(leec_ctx *ctx);
/* Queued and not reported yet: they keep leec_ctx_run going. */
unsigned Leec_ctx_ops_pending(const leec_ctx *ctx);
/* Advances the operations and reports the finished ones; from perform. */
void Leec_ctx_ops_perform(leec_ctx *ctx);
/* True when Leec_ctx_ops_perform has work now (perform without waiting). */
bool Leec_ctx_ops_due(const leec_ctx *ctx);
/* Drops them all without callbacks (context free). */
void Leec_ctx_ops_free_all(leec_ctx *ctx);

/* Forgets the External Account Binding, wiping its key (account.c). */
void Leec_eab_clear(leec_ctx *ctx);

/* ---- agents (agent.c, agent_api.c) ---- */
/* The context's agents (agent_api.c), oldest first. */
leec_code Leec_agents_attach(leec_ctx *ctx);
void Leec_agents_detach(leec_ctx *ctx); /* destroys them, last first */
size_t Leec_agents_count(const leec_ctx *ctx);
leec_agent *Leec_agents_at(const leec_ctx *ctx, size_t i);
/* Destroys the agents freed inside perform (after it). */
void Leec_agents_reap(leec_ctx *ctx);
/* Something an agent may wait for has come (the account, the directory,
 * an order slot): it looks again. */
void Leec_agent_wake(leec_agent *agent);
int64_t Leec_agent_deadline(const leec_agent *agent); /* -1: none */
void Leec_agent_on_timer(leec_agent *agent);
bool Leec_agent_running(const leec_agent *agent);
bool Leec_agent_zombie(const leec_agent *agent);
void Leec_agent_destroy(leec_agent *agent); /* no deferral */

#endif
