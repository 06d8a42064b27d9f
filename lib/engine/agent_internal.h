/* The agent's structure, shared by the agent's files only: agent_core.c
 * (transitions, clean-ups; calls none of the others), agent_due.c (whether
 * to order), agent_account.c (an account of its own), agent.c (the state
 * machine, the driver) and agent_api.c (the object and the context's list
 * of agents). Not installed. */
#ifndef LEEC_AGENT_INTERNAL_H
#define LEEC_AGENT_INTERNAL_H

#include "acme/order.h"
#include "engine/internal.h"
#include "engine/renewal.h"

#include "solver/solver.h"

#define AUTHZ_CANDIDATES 4 /* challenges kept per authorization */

typedef struct chall_cand {
    char *type;
    char *url;
    char *token;   /* NULL for dns-persist-01 */
    char *issuers; /* dns-persist-01: issuer names joined by spaces */
} chall_cand;

typedef struct authz {
    struct leec_agent *agent;
    char *url;
    char *ident; /* as shown: "*." + value for a wildcard */
    char *value; /* the identifier's value */
    bool wildcard;
    chall_cand cand[AUTHZ_CANDIDATES]; /* in the CA's order */
    size_t ncand, ci;                  /* ci: the one being answered */
    bool valid;
    bool respond;    /* challenge still pending: present + respond */
    bool presenting; /* present started, done not yet called */
    bool ready;      /* the solver reported the challenge answered */
    bool presented;  /* a side effect exists that must be undone */
    void *op;        /* the solver's handle of the presentation */
} authz;

struct leec_agent {
    leec_ctx *ctx;
    unsigned id;
    char *cert_name;
    char **names;
    size_t nnames;
    leec_key_type key_type;
    leec_solver *solver; /* how challenges are answered (the context's) */
    bool force;
    leec_state_fn on_state;
    leec_done_fn on_done;
    void *ud;

    leec_agent_state state;
    leec_agent_state next; /* recorded by a transition, made by the driver */
    bool moving;           /* next is set */
    bool driving;          /* Leec_agent_run is on the stack */
    leec_outcome outcome;
    bool zombie; /* freed inside perform: reaped after it */
    bool started;
    int64_t deadline;
    leec_acme_req *req;
    struct leec_job *keygen; /* the certificate key (or the agent's account
                                key), on a worker thread */
    /* Its own account (LEEC_ACCOUNT_PER_CERTIFICATE), agent_account.c. */
    leec_key *own_key;
    char *own_url;
    leec_key **own_retired; /* keys of accounts the CA lost: requests */
    size_t nown_retired;    /* signed with them may still be queued */
    void (*own_drive)(leec_agent *); /* Leec_agent_run, after an answer */
    int retries;
    unsigned acct_gen;    /* the account generation orders are signed by */
    void *lock;           /* the certificate's lease in the store */
    uint64_t lease_token; /* its fencing token, presented with every write
                             of the certificate's state (0: none) */
    bool journalled;      /* the store's journal holds this order */
    bool resumed;         /* the order is an earlier run's, taken up */
    bool key_journalled;  /* cert_key is in the journal's entry */
    /* A journal write in flight on a store whose writes do not wait: the
     * agent waits for it, then does what jthen says (JOURNAL_THEN_*). */
    int jthen;             /* 0: none in flight */
    bool jkey;             /* it carries cert_key */
    leec_order_view jview; /* JOURNAL_THEN_FOLLOW: the order's view */
    leec_code jprc;        /* and what its parse returned */
    char *jpayload;        /* JOURNAL_THEN_FINALIZE: the request's body */
    int64_t order_since;   /* when the order was made (Unix time) */
    char *seen_serial;     /* the installed certificate at the first look */
    bool lock_logged;
    int64_t lock_since; /* waiting for the lock since (ms): once
                           lock_logged */
    time_t retry_at;    /* the CA's Retry-After of a refusal, or 0 */
    bool admitted;      /* holds an order slot of the governor */
    int64_t admitted_at;
    char **regdoms; /* registered domains, for the budgets */
    size_t nregdoms;
    leec_wait_reason wait;  /* QUEUED or waiting for the lock: why */
    bool gov_waiting;       /* the governor holds the order back ... */
    int64_t gov_wait_since; /* ... since then (ms), for the counters */
    int64_t wait_until;     /* ms, or -1 */
    bool account_renewed;   /* accountDoesNotExist is recovered from once */

    char *order_url;
    char *finalize_url;
    char *cert_url;
    authz *az;
    size_t naz;
    size_t cursor;
    leec_backoff backoff;
    leec_key *cert_key;
    char *cert_pem;  /* the leaf, once downloaded (or the fresh one kept) */
    char *chain_pem; /* its issuers */

    leec_code err;
    char *errmsg;
    leec_problem *problem;

    bool reuse_key;          /* renew with the installed certificate's key */
    leec_json *settings;     /* the application's, kept in meta.json */
    bool had_cert;           /* a certificate was installed at the first look */
    bool names_same;         /* ... for the same names */
    bool key_type_set;       /* leec_agent_set_key_type was called */
    bool stopping;           /* leec_ctx_stop: fails at its next step */
    bool repairing;          /* the installed version is broken: replaced */
    bool ordering;           /* decided to order: counted in ctx->ordering */
    char *ari_id;            /* the installed certificate's ARI id, or NULL */
    bool ari_id_known;       /* ari_id computed (Leec_agent_ari_id) */
    leec_renewal_state rs;   /* its renewal state (renewal.json) */
    time_t cert_nb, cert_na; /* the installed certificate's validity */
    bool replaces_refused;   /* the CA refused "replaces": order without */

    char *preferred_chain; /* issuer CN wanted at the top, or NULL */
    char *profile;         /* newOrder's profile, or NULL */
    char *alt_urls[4];     /* Link rel="alternate" chains still to look at */
    size_t nalt;
};

/* agent_core.c. Gives back what the agent holds outside itself: the
 * governor's slot and the store's lock. */
void Leec_agent_release(leec_agent *a, bool issued);
/* An agent that decided to order and ends without finishing (freed):
 * leaves the context's count of ordering agents (no POST hook). */
void Leec_agent_stop_ordering(leec_agent *a);
/* Undoes every side effect of the solvers, on every path. */
void Leec_agent_solvers_cleanup(leec_agent *a);
/* leec_ctx_stop for one running agent: its challenges taken down without
 * waiting (the number started), and it fails at once from perform. */
size_t Leec_agent_stop(leec_agent *a);
/* agent_account.c: the agent's own account (LEEC_ACCOUNT_PER_CERTIFICATE).
 * Whether the agent has one to make; the step of WAIT_ACCOUNT then (the
 * directory, the key on a worker, newAccount; moves on like the shared
 * account's, or fails); forgetting it (the CA lost it: the next step makes
 * another); freeing it. The key and URL every request of the agent is
 * signed with: its own, else the context's. */
bool Leec_agent_own_account(const leec_agent *a);
void Leec_agent_account_step(leec_agent *a, void (*drive)(leec_agent *));
void Leec_agent_account_forget(leec_agent *a);
void Leec_agent_account_free(leec_agent *a);
leec_key *Leec_agent_acct_key(const leec_agent *a);
const char *Leec_agent_acct_url(const leec_agent *a);
/* Frees the authorizations (after the clean-ups). */
void Leec_agent_authz_clear(leec_agent *a);
/* agent.c. A journal write in flight is no longer waited for (the agent
 * ends, or is freed); what it was to be followed by is dropped. */
void Leec_agent_journal_forget(leec_agent *a);

/* agent_core.c. Transitions, for every step (agent_due.c's too): each only
 * records the next state; Leec_agent_run, the driver, makes it. */
void Leec_agent_set_state(leec_agent *a, leec_agent_state to);
/* The end: DONE (ISSUED, FRESH, DEFERRED) or FAILED next. */
void Leec_agent_finish(leec_agent *a, leec_outcome outcome);
/* FAILED next, with the error, a message (printf-style; cleaned of control
 * characters) and the CA's problem (taken, may be NULL). */
void Leec_agent_fail(leec_agent *a, leec_code err, leec_problem *problem,
                     const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The agent will order: the PRE hook (once), then WAIT_ACCOUNT next. */
void Leec_agent_start_ordering(leec_agent *a);
/* agent.c. The driver: makes the recorded transitions, running each new state's
 * step, until one waits for an event. Every event ends with it. */
void Leec_agent_run(leec_agent *a);
/* The answer to the agent's request (the request's callback). */
void Leec_agent_on_response(void *ud, leec_acme_resp *r);

/* agent_due.c: CHECK_EXISTING, RENEWAL_INFO (its step, run again when the
 * directory resolves, and its answer), the second look under the lock
 * (true: the agent finished, keeping another process's certificate or
 * failing), and the record of a failed renewal. */
void Leec_agent_check_existing(leec_agent *a);
/* on_response: the agent's answer handler (Leec_agent_on_response), passed
 * down so that this file calls nothing of agent.c. */
void Leec_agent_renewal_info_step(leec_agent *a, leec_acme_fn on_response);
void Leec_agent_on_renewal_info(leec_agent *a, leec_acme_resp *r);
bool Leec_agent_kept_meanwhile(leec_agent *a);
void Leec_agent_record_failure(leec_agent *a);
/* The installed certificate's ARI id (RFC 9773 §4.1), computed on first
 * use; NULL without one (no certificate, no AKI). Owned by the agent. */
const char *Leec_agent_ari_id(leec_agent *a);

#endif
