// clang-format off
/*
 * The agent: one certificate's state machine (LEEC's FSM), driven as curl's
 * multi_runsingle drives an easy handle. A transition only records the next
 * state (set_state); Leec_agent_run, the driver, is the one place where it
 * takes effect: it reports it (on_state), runs the new state's step, and
 * goes on until a step waits for an event. Events (an answer from the CA,
 * a deadline, a solver reporting, the account or an order slot becoming
 * available) are handled by the state they come to, which records what
 * comes next, then the driver runs: nothing recurses into a transition.
 * The next state always follows the status the CA reports for the order
 * or the authorization.
 *
 *   state           its step                           left on (to)
 *   IDLE            -                                  leec_agent_start's first
 *                                                      perform (CHECK_EXISTING)
 *   CHECK_EXISTING  looks at the installed version     at once: fresh (DONE),
 *                   (agent_due.c)                      backing off (DONE),
 *                                                      due or new
 *                                                      (WAIT_ACCOUNT), asks
 *                                                      the CA (RENEWAL_INFO)
 *   RENEWAL_INFO    the directory, then GET            the answer, or the
 *                   renewalInfo (agent_due.c)          directory failing (DONE
 *                                                      or WAIT_ACCOUNT)
 *   WAIT_ACCOUNT    the context's account              the account ready
 *                                                      (QUEUED) or failed
 *                                                      (FAILED)
 *   QUEUED          an order slot of the governor,     slot and lock
 *                   then the certificate's lease, then (NEW_ORDER; RESUME
 *                   a second look under it, then the   for an order of the
 *                   store's journal                    journal), another
 *                                                      process's version
 *                                                      (DONE), lock timeout
 *                                                      (FAILED)
 *   RESUME          POST-as-GET the journal's order    its answer: as the
 *                                                      order's status says
 *                                                      (FETCH_AUTHZ, FINALIZE,
 *                                                      ORDER_POLL, DOWNLOAD),
 *                                                      or invalid or gone
 *                                                      (NEW_ORDER)
 *   NEW_ORDER       POST newOrder                      its answer
 *                                                      (FETCH_AUTHZ, FINALIZE,
 *                                                      ORDER_POLL, or again:
 *                                                      WAIT_ACCOUNT, NEW_ORDER)
 *   FETCH_AUTHZ     POST-as-GET each authorization     the last answer
 *                                                      (PRESENT, AUTHZ_POLL,
 *                                                      FINALIZE)
 *   PRESENT         the solver presents each challenge every solver reported
 *                                                      (RESPOND)
 *   RESPOND         POST {} to each challenge          the last answer
 *                                                      (AUTHZ_POLL)
 *   AUTHZ_POLL      polls what is pending, growing     all valid (FINALIZE)
 *                   back-off or Retry-After
 *   FINALIZE        the key, the CSR, POST finalize    its answer (ORDER_POLL,
 *                                                      DOWNLOAD)
 *   ORDER_POLL      polls the order                    valid (DOWNLOAD)
 *   DOWNLOAD        the chain (and alternates)         accepted (INSTALL)
 *   INSTALL         installs the version in the store  at once (DONE)
 *   DONE, FAILED    ends: clean-ups, the lock and slot given back, hooks,
 *                   on_done (which may free the agent)
 *
 * Any state may end in FAILED (its reason and the CA's problem kept).
 *
 * The order journal (the store's): the order is recorded under the
 * certificate's lease as soon as newOrder answers, before any other
 * request for it (on disk, with the certificate's key when it is made
 * then), then once per step (challenges answered; finalize about to be
 * sent; on a shared store only a step that brings the key), and dropped
 * once installed or dead. A run killed in between
 * leaves it to the next, which takes it up (RESUME).
 */
// clang-format on
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/b64url.h"
#include "crypto/csr.h"
#include "engine/internal.h"
#include "util/json.h"
#include "util/names.h"
#include "acme/order.h"
#include "acme/persist.h"
#include "acme/problem.h"
#include "engine/renewal.h"
#include "engine/workers.h"
#include "solver/providers.h"
#include "store/store.h"
#include "crypto/x509.h"

#include "engine/agent_internal.h"

/* The object itself (creation, settings, accessors) is in agent_api.c;
 * whether to order at all (CHECK_EXISTING, RENEWAL_INFO) in agent_due.c;
 * the transitions and clean-ups every file uses in agent_core.c. */

#define POLL_FIRST_MS 20 /* pebble validates in milliseconds */
#define POLL_CAP_MS   10000
#define RETRY_MAX     3 /* transient failures of one idempotent step */

/* ------------------------------------------------------------------ */
/* The driver                                                          */
/* ------------------------------------------------------------------ */

static void enter_wait_account(leec_agent *a);
static void enter_queued(leec_agent *a);
static void send_current(leec_agent *a);
static void enter_present(leec_agent *a);
static void enter_finalize(leec_agent *a);
static void enter_install(leec_agent *a);
static void lock_then_order(leec_agent *a);

/* The step of the state just entered: it starts the state's work (a
 * request, a timer, the solvers), or decides at once. */
static void enter(leec_agent *a)
{
    switch (a->state) {
    case LEEC_ST_CHECK_EXISTING:
        Leec_agent_check_existing(a);
        break;
    case LEEC_ST_RENEWAL_INFO:
        Leec_directory_ensure(a->ctx);
        Leec_agent_renewal_info_step(a, Leec_agent_on_response);
        break;
    case LEEC_ST_WAIT_ACCOUNT:
        enter_wait_account(a);
        break;
    case LEEC_ST_QUEUED:
        enter_queued(a);
        break;
    case LEEC_ST_NEW_ORDER:
    case LEEC_ST_RESUME:
    case LEEC_ST_FETCH_AUTHZ:
    case LEEC_ST_RESPOND:
    case LEEC_ST_DOWNLOAD:
        send_current(a);
        break;
    case LEEC_ST_AUTHZ_POLL:
    case LEEC_ST_ORDER_POLL:
        Leec_backoff_start(&a->backoff, Leec_now_ms(a->ctx), POLL_FIRST_MS,
                           POLL_CAP_MS,
                           (int64_t)Leec_ctx_order_timeout_s(a->ctx) * 1000);
        a->deadline = Leec_now_ms(a->ctx) + POLL_FIRST_MS;
        break;
    case LEEC_ST_PRESENT:
        enter_present(a);
        break;
    case LEEC_ST_FINALIZE:
        enter_finalize(a);
        break;
    case LEEC_ST_INSTALL:
        enter_install(a);
        break;
    case LEEC_ST_IDLE:
    case LEEC_ST_DONE:
    case LEEC_ST_FAILED:
    case LEEC_ST__COUNT:
        break;
    }
}

/* ------------------------------------------------------------------ */
/* The order journal                                                   */
/* ------------------------------------------------------------------ */

/* Records the order in progress and the step reached, under the
 * certificate's lease: once when the CA made it (before any other request
 * for it), then once per step, the key with it from the step that has
 * one (it must be there before finalize is sent). durable: on disk before
 * anything else is sent (the order's first record, and the one that
 * brings the key); a later step need only survive the process, which a
 * rename without fsync does. Fails the agent when the record cannot be
 * made: nothing is sent for an order the next run could not find. */
/* What comes after a journal write that did not wait. */
enum {
    JOURNAL_THEN_NONE,
    JOURNAL_THEN_FOLLOW,   /* follow_order(jview) */
    JOURNAL_THEN_POLL,     /* AUTHZ_POLL */
    JOURNAL_THEN_FINALIZE, /* POST finalize with jpayload */
    STORE_THEN_INSTALLED,  /* not a journal write: the install, done */
};
typedef enum { JOURNAL_DONE, JOURNAL_SENT, JOURNAL_FAILED } journal_res;
#define JOURNAL_WAIT_MS 30000 /* for the store's answer, at most */

static void journal_failed(leec_agent *a, leec_code rc)
{
    Leec_agent_fail(a, rc, NULL,
                    "cannot record the order %s in the store's journal",
                    a->order_url);
}

static void follow_order(leec_agent *a, leec_order_view *v, leec_code prc);
static void installed_now(leec_agent *a);
static void post(leec_agent *a, const char *url, const char *payload,
                 const char *accept);

void Leec_agent_journal_forget(leec_agent *a)
{
    if (a->jthen != JOURNAL_THEN_NONE)
        Leec_store_async_forget(leec_ctx_get_store(a->ctx), a);
    a->jthen = JOURNAL_THEN_NONE;
    Leec_order_view_clear(&a->jview);
    memset(&a->jview, 0, sizeof a->jview);
    free(a->jpayload);
    a->jpayload = NULL;
}

/* The store answered the write the agent waits for (a journal entry, or
 * the install): what was to follow it, now. */
static void store_answered(void *ud, leec_code rc)
{
    leec_agent *a = ud;
    int then = a->jthen;
    a->jthen = JOURNAL_THEN_NONE;
    a->deadline = -1;
    if (rc != LEEC_OK && then == STORE_THEN_INSTALLED) {
        Leec_agent_fail(a, rc, NULL,
                        "cannot install the certificate in the store");
    } else if (rc != LEEC_OK) {
        journal_failed(a, rc);
    } else if (then == STORE_THEN_INSTALLED) {
        installed_now(a);
    } else {
        a->journalled = true;
        a->key_journalled = a->key_journalled || a->jkey;
        switch (then) {
        case JOURNAL_THEN_FOLLOW:
            follow_order(a, &a->jview, a->jprc);
            break;
        case JOURNAL_THEN_POLL:
            Leec_agent_set_state(a, LEEC_ST_AUTHZ_POLL);
            break;
        case JOURNAL_THEN_FINALIZE:
            post(a, a->finalize_url, a->jpayload, NULL);
            break;
        default:
            break;
        }
    }
    Leec_order_view_clear(&a->jview);
    memset(&a->jview, 0, sizeof a->jview);
    free(a->jpayload);
    a->jpayload = NULL;
    Leec_agent_run(a);
}

/* Records the order in progress and the step reached, under the
 * certificate's lease: once when the CA made it (before any other request
 * for it), then once per step, the key with it from the step that has
 * one (it must be there before finalize is sent). durable: on disk before
 * anything else is sent (the order's first record, and the one that
 * brings the key); a later step need only survive the process, which a
 * rename without fsync does. Fails the agent when the record cannot be
 * made: nothing is sent for an order the next run could not find.
 * JOURNAL_DONE: recorded, go on; JOURNAL_SENT: the store's writes do not
 * wait (a database on the loop), the agent waits for the answer and then
 * does what then says (the caller leaves what it needs in jview or
 * jpayload); JOURNAL_FAILED: the agent failed. */
static journal_res journal_step(leec_agent *a, const char *step, bool durable,
                                int then)
{
    leec_ctx *ctx = a->ctx;
    leec_store *st = leec_ctx_get_store(ctx);
    char *key = NULL;
    if (!Leec_store_has_journal(st))
        return JOURNAL_DONE;
    /* On a shared store each write is a round trip to the database: a
     * later step that brings nothing a takeover needs (the order's URL is
     * there, and its key when it has one) is not written. A run taking the
     * order up asks the CA where it stands anyway. */
    if (leec_store_is_shared(st) && !durable && a->journalled &&
        (!a->cert_key || a->key_journalled))
        return JOURNAL_DONE;
    leec_code rc = a->cert_key ? Leec_key_to_pem(a->cert_key, &key) : LEEC_OK;
    bool async = Leec_store_has_async(st);
    if (rc == LEEC_OK) {
        leec_store_order o = {.order_url = a->order_url,
                              .ca_id = (char *)Leec_account_ca_id(ctx),
                              .account_url = (char *)Leec_agent_acct_url(a),
                              .names = a->names,
                              .nnames = a->nnames,
                              .key_pem = key,
                              .step = (char *)step,
                              .since = a->order_since};
        bool dur = durable || (key && !a->key_journalled);
        if (!o.ca_id)
            rc = LEEC_E_STATE;
        else if (async)
            rc = Leec_store_order_write_async(st, a->cert_name, a->lease_token,
                                              &o, dur, store_answered, a);
        else
            rc = Leec_store_order_write(st, a->cert_name, a->lease_token, &o,
                                        dur);
    }
    if (key)
        Leec_secure_free(key);
    if (rc != LEEC_OK) {
        journal_failed(a, rc);
        return JOURNAL_FAILED;
    }
    if (async) {
        a->jthen = then;
        a->jkey = a->cert_key != NULL;
        a->deadline = Leec_now_ms(ctx) + JOURNAL_WAIT_MS;
        Leec_ctx_store_async_watch(ctx);
        return JOURNAL_SENT;
    }
    a->journalled = true;
    a->key_journalled = a->key_journalled || a->cert_key;
    return JOURNAL_DONE;
}

/* Forgets the journal's entry (the certificate installed, or the order
 * dead); a failure only leaves an entry the next run finds finished. */
static void journal_drop(leec_agent *a)
{
    leec_code rc = Leec_store_order_remove(leec_ctx_get_store(a->ctx),
                                           a->cert_name, a->lease_token);
    a->journalled = false;
    if (rc != LEEC_OK)
        Leec_log(a->ctx, LEEC_LOG_WARN,
                 "agent %u (%s): cannot remove the order from the store's "
                 "journal: %s",
                 a->id, a->cert_name, leec_strerror(rc));
}

/* QUEUED, under the lease: an order of the journal for these names and
 * this account is taken up (its URL, its key when it has one) rather
 * than a new one made; one that cannot be is dropped. */
static bool journal_take(leec_agent *a)
{
    leec_ctx *ctx = a->ctx;
    const char *acct = Leec_agent_acct_url(a), *ca = Leec_account_ca_id(ctx);
    const char *why = NULL;
    leec_store_order o;
    leec_key *k = NULL;
    leec_code rc =
        leec_store_order_read(leec_ctx_get_store(ctx), a->cert_name, &o);
    if (rc == LEEC_E_NOT_FOUND)
        return false;
    if (rc != LEEC_OK)
        why = leec_strerror(rc);
    else if (!ca || strcmp(o.ca_id, ca) != 0)
        why = "it was made at another CA";
    else if (o.account_url && (!acct || strcmp(o.account_url, acct) != 0))
        why = "it belongs to another account";
    else if (!Leec_names_same(a->names, a->nnames, o.names, o.nnames))
        why = "it is for other names";
    else if (!Leec_url_ok(o.order_url))
        why = "its URL is not usable";
    else if (o.key_pem &&
             Leec_key_load_pem(o.key_pem, strlen(o.key_pem), &k) != LEEC_OK)
        why = "its key cannot be read";
    if (why) {
        Leec_log(ctx, LEEC_LOG_WARN,
                 "agent %u (%s): not taking up the order in progress %s: %s",
                 a->id, a->cert_name, o.order_url ? o.order_url : "", why);
        leec_store_order_clear(&o);
        journal_drop(a);
        return false;
    }
    free(a->order_url);
    a->order_url = o.order_url;
    o.order_url = NULL;
    Leec_key_free(a->cert_key);
    a->cert_key = k;
    a->order_since = o.since;
    a->journalled = a->resumed = true;
    a->key_journalled = k != NULL;
    Leec_log(ctx, LEEC_LOG_INFO,
             "agent %u (%s): taking up order %s (%s, of an earlier run)", a->id,
             a->cert_name, a->order_url, o.step);
    leec_store_order_clear(&o);
    return true;
}

/* Whether a failure means the CA will not complete the order (invalid,
 * refused, unusable), rather than a run cut short that the next one can
 * take up. A fenced writer writes nothing more. */
static bool order_dead(leec_code err)
{
    switch (err) {
    case LEEC_E_HTTP:
    case LEEC_E_TIMEOUT:
    case LEEC_E_TLS:
    case LEEC_E_IO:
    case LEEC_E_NOMEM:
    case LEEC_E_CANCELLED:
    case LEEC_E_SOLVER:
    case LEEC_E_RATE_LIMITED:
    case LEEC_E_LOCKED:
    case LEEC_E_FENCED:
    case LEEC_E_STORE:
        return false;
    default:
        return true;
    }
}

/* A store shared by a fleet: when the certificate next needs a look
 * (its renewal plan; one without a version, after a failure, in
 * LEEC_FLEET_RETRY_S), written under its lease before the lease is let go,
 * so that no node claims it again at once. */
static void schedule_next(leec_agent *a)
{
    leec_store *st = leec_ctx_get_store(a->ctx);
    if (!leec_store_is_shared(st))
        return;
    leec_renewal_plan *pl = NULL;
    int64_t when = (int64_t)time(NULL) + LEEC_FLEET_RETRY_S;
    if (leec_store_renewal_plan(st, a->cert_name, &pl) == LEEC_OK)
        when = (int64_t)pl->wake;
    leec_renewal_plan_free(pl);
    leec_code rc = leec_store_schedule(st, a->cert_name, when, a->lease_token);
    if (rc != LEEC_OK)
        Leec_log(a->ctx, LEEC_LOG_WARN,
                 "%s: cannot record when to look at it next: %s", a->cert_name,
                 leec_strerror(rc));
}

/* The governor let the order go, or the agent ended while held: the
 * wait's length goes to the context's counters. */
static void gov_wait_end(leec_agent *a)
{
    if (!a->gov_waiting)
        return;
    a->gov_waiting = false;
    int64_t d = Leec_now_ms(a->ctx) - a->gov_wait_since;
    Leec_stat_add(a->ctx, LEEC_STAT_GOVERNOR_WAIT_MS, d > 0 ? (uint64_t)d : 0);
}

/* DONE or FAILED: what the agent holds goes back, then the hooks and the
 * done callback, which may free the agent (the context defers that). */
static void ending(leec_agent *a)
{
    leec_ctx *ctx = a->ctx;
    bool ordered = a->ordering;
    leec_outcome outcome = a->outcome;
    gov_wait_end(a);
    Leec_acme_cancel(ctx, a->req);
    a->req = NULL;
    Leec_job_cancel(ctx, a->keygen);
    a->keygen = NULL;
    Leec_agent_journal_forget(a);
    Leec_agent_solvers_cleanup(a);
    /* Under the certificate's lock (taken now if the failure came before
     * it was): no other process has installed a version the failure could
     * be written into. One that holds it is working on the certificate:
     * its outcome, not ours, is the news. */
    if (ordered && outcome == LEEC_OUTCOME_FAILED && !a->stopping &&
        ((a->had_cert && a->names_same) || a->repairing) &&
        (a->lock || Leec_store_lease(leec_ctx_get_store(ctx), "cert",
                                     a->cert_name, LEEC_LEASE_TTL_S, &a->lock,
                                     &a->lease_token) == LEEC_OK))
        Leec_agent_record_failure(a);
    /* An order the CA will not complete is not taken up again; one cut
     * short (the network, a timeout, a solver) is, by the next run. */
    if (a->journalled && outcome == LEEC_OUTCOME_FAILED && a->lock &&
        order_dead(a->err))
        journal_drop(a);
    /* An order made and left without a certificate, not kept for the next
     * run to take up: spent for nothing (the CA counted it). */
    if (a->order_url && outcome != LEEC_OUTCOME_ISSUED && !a->journalled)
        Leec_stat_add(ctx, LEEC_STAT_ORDERS_WASTED, 1);
    if (a->lock)
        schedule_next(a);
    if (outcome == LEEC_OUTCOME_ISSUED && a->nregdoms)
        Leec_budget_note(ctx, true, (const char *const *)a->regdoms,
                         a->nregdoms);
    Leec_agent_release(a, outcome == LEEC_OUTCOME_ISSUED);
    a->wait = LEEC_WAIT_NONE;
    a->deadline = -1;
    if (outcome == LEEC_OUTCOME_ISSUED)
        Leec_ctx_hook(ctx, LEEC_HOOK_DEPLOY, a);
    Leec_agent_stop_ordering(a);
    if (a->on_done)
        a->on_done(a->ud, a, outcome);
    /* The agent may be gone (freed by its done callback); ctx is not. */
    if (ordered && Leec_ctx_ordering(ctx) == 0)
        Leec_ctx_hook(ctx, LEEC_HOOK_POST, NULL);
}

void Leec_agent_run(leec_agent *a)
{
    /* An event that comes while a step runs (a solver reporting at once)
     * has recorded what it had to: the loop below takes it from there. */
    if (a->driving)
        return;
    a->driving = true;
    while (a->moving && !a->zombie) {
        /* Stopped: whatever came meanwhile (a response), no next step. */
        if (a->stopping && a->next != LEEC_ST_DONE && a->next != LEEC_ST_FAILED)
            Leec_agent_fail(a, LEEC_E_CANCELLED, NULL, "interrupted");
        leec_agent_state from = a->state, to = a->next;
        a->moving = false;
        a->state = to;
        a->cursor = 0;
        a->retries = 0;
        Leec_log(a->ctx, LEEC_LOG_DEBUG, "agent %u (%s): %s -> %s", a->id,
                 a->cert_name, leec_state_name(from), leec_state_name(to));
        if (a->on_state)
            a->on_state(a->ud, a, from, to);
        if (a->zombie) /* freed by its state callback */
            break;
        if (to == LEEC_ST_DONE || to == LEEC_ST_FAILED) {
            a->driving = false;
            ending(a); /* a may be freed from here on */
            return;
        }
        enter(a);
    }
    a->driving = false;
}

leec_code leec_agent_start(leec_agent *a)
{
    if (a->state != LEEC_ST_IDLE)
        return LEEC_E_STATE;
    if (!leec_ctx_get_store(a->ctx))
        return LEEC_E_INVALID_ARG;
    if (!Leec_ctx_http(a->ctx))
        return LEEC_E_NOMEM;
    /* The first step runs from the next leec_ctx_perform(), like every
     * other: no callback ever runs inside this call. */
    a->started = true;
    a->deadline = Leec_now_ms(a->ctx);
    return LEEC_OK;
}

/* ------------------------------------------------------------------ */
/* CHECK_EXISTING and WAIT_ACCOUNT                                     */
/* ------------------------------------------------------------------ */

#define LOCK_RETRY_MS 200

/* Two processes never order the same certificate: the lock is taken once an
 * order slot is granted (so a batch holds at most max_parallel of them), and
 * a process that had to wait finds the other's certificate fresh. */
static bool take_lock(leec_agent *a)
{
    leec_ctx *ctx = a->ctx;
    leec_store *st = leec_ctx_get_store(ctx);
    leec_code rc = Leec_store_lease(st, "cert", a->cert_name, LEEC_LEASE_TTL_S,
                                    &a->lock, &a->lease_token);
    int64_t now = Leec_now_ms(ctx);
    if (rc == LEEC_OK) {
        a->wait = LEEC_WAIT_NONE;
        return true;
    }
    if (rc != LEEC_E_LOCKED) {
        Leec_agent_fail(a, rc, NULL,
                        "cannot lock the certificate in the store");
        return false;
    }
    if (!a->lock_logged) {
        a->lock_logged = true;
        a->lock_since = now;
        char *who = Leec_store_holder_text(leec_ctx_get_store(ctx), "cert",
                                           a->cert_name);
        Leec_log(ctx, LEEC_LOG_INFO,
                 "agent %u (%s): another process (%s) is working on this "
                 "certificate; waiting for it (at most %u s)",
                 a->id, a->cert_name, who ? who : "?",
                 Leec_ctx_lock_timeout_s(ctx));
        free(who);
    }
    if (now - a->lock_since >= (int64_t)Leec_ctx_lock_timeout_s(ctx) * 1000) {
        char *who = Leec_store_holder_text(leec_ctx_get_store(ctx), "cert",
                                           a->cert_name);
        Leec_agent_fail(
            a, LEEC_E_LOCKED, NULL,
            "another process (%s) holds the certificate's lock; gave up "
            "waiting after %u s",
            who ? who : "?", Leec_ctx_lock_timeout_s(ctx));
        free(who);
        return false;
    }
    a->wait = LEEC_WAIT_LOCK;
    a->wait_until = -1;
    a->deadline = Leec_now_ms(a->ctx) + LOCK_RETRY_MS;
    return false;
}

/* QUEUED, slot granted: the lock, then a second look (under it) for a
 * certificate another process installed meanwhile, then the order. */
static void lock_then_order(leec_agent *a)
{
    if (!a->lock && !take_lock(a))
        return;
    if (!Leec_agent_kept_meanwhile(a))
        Leec_agent_set_state(a, journal_take(a) ? LEEC_ST_RESUME
                                                : LEEC_ST_NEW_ORDER);
}

static void check_account(leec_agent *a)
{
    leec_ctx *ctx = a->ctx;
    if (Leec_agent_own_account(a)) {
        Leec_agent_account_step(a, Leec_agent_run);
        return;
    }
    if (Leec_account_state(ctx) == RES_READY) {
        a->acct_gen = Leec_account_gen(ctx);
        Leec_agent_set_state(a,
                             a->admitted ? LEEC_ST_NEW_ORDER : LEEC_ST_QUEUED);
    } else if (Leec_account_state(ctx) == RES_FAILED) {
        leec_problem *p = NULL;
        leec_code rc = Leec_account_error(ctx, &p);
        Leec_agent_fail(a, rc, p, "%s",
                        Leec_account_errmsg(ctx) ? Leec_account_errmsg(ctx)
                                                 : "no account");
    }
}

static void enter_wait_account(leec_agent *a)
{
    /* It may be known at once (a saved account), else a wake comes. */
    if (!Leec_agent_own_account(a))
        Leec_account_ensure(a->ctx);
    check_account(a);
}

/* QUEUED: asks the governor for an order slot; with one, the lock. */
static void enter_queued(leec_agent *a)
{
    leec_ctx *ctx = a->ctx;
    if (a->admitted) {
        lock_then_order(a); /* the lock, once more */
        return;
    }
    if (!a->regdoms) {
        if (!(a->regdoms = calloc(a->nnames, sizeof *a->regdoms))) {
            Leec_agent_fail(a, LEEC_E_NOMEM, NULL, "out of memory");
            return;
        }
        for (size_t i = 0; i < a->nnames; i++) {
            if (!(a->regdoms[i] = Leec_registered_domain(a->names[i]))) {
                Leec_agent_fail(a, LEEC_E_NOMEM, NULL, "out of memory");
                return;
            }
            a->nregdoms++;
        }
    }
    Leec_budget_seed(ctx);
    int64_t until = -1;
    leec_wait_reason why = Leec_gov_order_admit(
        Leec_ctx_gov(ctx), Leec_now_ms(ctx), (const char *const *)a->regdoms,
        a->nregdoms, &until);
    if (why == LEEC_WAIT_NONE) {
        gov_wait_end(a);
        a->admitted = true;
        a->admitted_at = Leec_now_ms(ctx);
        a->wait = LEEC_WAIT_NONE;
        a->deadline = -1;
        lock_then_order(a);
        return;
    }
    if (why != a->wait)
        Leec_log(ctx, LEEC_LOG_DEBUG, "agent %u (%s): waiting (%s)", a->id,
                 a->cert_name, leec_wait_reason_name(why));
    if (!a->gov_waiting) {
        a->gov_waiting = true;
        a->gov_wait_since = Leec_now_ms(ctx);
        Leec_stat_add(ctx, LEEC_STAT_GOVERNOR_WAITS, 1);
    }
    /* Said whatever the output is: a budget wait may last hours. */
    if (why == LEEC_WAIT_ORDER_BUDGET || why == LEEC_WAIT_DOMAIN_BUDGET)
        Leec_budget_say(ctx, a->cert_name, why, until);
    a->wait = why;
    a->wait_until = until;
    a->deadline = until; /* -1: woken when an order finishes */
}

void Leec_agent_wake(leec_agent *a)
{
    /* What it may wait for: the account, the directory, an order slot. */
    switch (a->state) {
    case LEEC_ST_WAIT_ACCOUNT:
        check_account(a);
        break;
    case LEEC_ST_RENEWAL_INFO:
        Leec_agent_renewal_info_step(a, Leec_agent_on_response);
        break;
    case LEEC_ST_QUEUED:
        if (!a->admitted)
            enter_queued(a);
        break;
    default:
        return;
    }
    Leec_agent_run(a);
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

/* What url is to the CA, for the context's counters: the agent knows the
 * URLs it was given. */
static leec_endpoint endpoint_of(const leec_agent *a, const char *url,
                                 const char *payload, const char *accept)
{
    const char *nw = Leec_session_dir(a->ctx)->new_order;
    if (nw && strcmp(url, nw) == 0)
        return LEEC_EP_NEW_ORDER;
    if (a->finalize_url && strcmp(url, a->finalize_url) == 0)
        return LEEC_EP_FINALIZE;
    if (a->order_url && strcmp(url, a->order_url) == 0)
        return LEEC_EP_ORDER;
    if (accept) /* only the download asks for PEM */
        return LEEC_EP_CERTIFICATE;
    return payload ? LEEC_EP_CHALLENGE : LEEC_EP_AUTHZ;
}

static void post(leec_agent *a, const char *url, const char *payload,
                 const char *accept)
{
    leec_ctx *ctx = a->ctx;
    leec_code rc =
        Leec_acme_post(ctx, endpoint_of(a, url, payload, accept), url, payload,
                       Leec_agent_acct_key(a), Leec_agent_acct_url(a), accept,
                       Leec_agent_on_response, a, &a->req);
    if (rc != LEEC_OK)
        Leec_agent_fail(a, rc, NULL, "cannot send a request to %s", url);
}

static char *new_order_payload(leec_agent *a)
{
    leec_json *ids = Leec_json_new_array();
    leec_json *o = Leec_json_new_object();
    char *s = NULL;
    bool ok = Leec_json_set(o, "identifiers", ids);
    for (size_t i = 0; ok && i < a->nnames; i++) {
        leec_json *id = Leec_json_new_object();
        ok = Leec_json_set_str(id, "type",
                               Leec_name_is_ip(a->names[i]) ? "ip" : "dns") &&
             Leec_json_set_str(id, "value", a->names[i]);
        if (!ok)
            Leec_json_free(id);
        else
            ok = Leec_json_push(ids, id);
    }
    if (ok && a->profile)
        ok = Leec_json_set_str(o, "profile", a->profile);
    /* RFC 9773 §5: a renewal names the certificate it replaces (the CA may
     * then exempt it from rate limits). */
    if (ok && a->had_cert && a->names_same &&
        Leec_session_dir(a->ctx)->renewal_info && !a->replaces_refused &&
        Leec_agent_ari_id(a))
        ok = Leec_json_set_str(o, "replaces", a->ari_id);
    if (ok)
        s = Leec_json_dump(o, false);
    Leec_json_free(o);
    return s;
}

/* With a profile asked for, whether the CA's directory lists it; fails the
 * agent (nothing sent) when not. */
static bool profile_offered(leec_agent *a)
{
    const leec_directory *d = Leec_session_dir(a->ctx);
    if (!a->profile)
        return true;
    for (size_t i = 0; i < d->nprofiles; i++)
        if (strcmp(d->profiles[i], a->profile) == 0)
            return true;
    leec_buf list;
    Leec_buf_init(&list, 0);
    for (size_t i = 0; i < d->nprofiles; i++)
        if ((i && Leec_buf_append_str(&list, ", ") != LEEC_OK) ||
            Leec_buf_append_str(&list, d->profiles[i]) != LEEC_OK)
            break;
    char *names = Leec_buf_steal(&list);
    if (d->nprofiles)
        Leec_agent_fail(a, LEEC_E_INVALID_ARG, NULL,
                        "profile %s is not offered; the CA offers profiles: %s",
                        a->profile, names ? names : "(out of memory)");
    else
        Leec_agent_fail(a, LEEC_E_INVALID_ARG, NULL,
                        "profile %s is not offered; the CA offers no profiles",
                        a->profile);
    free(names);
    Leec_buf_free(&list);
    return false;
}

/* Sends the request of the current state (also on a retry or poll). */
static void send_current(leec_agent *a)
{
    a->deadline = -1;
    switch (a->state) {
    case LEEC_ST_NEW_ORDER: {
        if (!profile_offered(a))
            return;
        char *p = new_order_payload(a);
        if (!p) {
            Leec_agent_fail(a, LEEC_E_NOMEM, NULL, "out of memory");
            return;
        }
        post(a, Leec_session_dir(a->ctx)->new_order, p, NULL);
        free(p);
        return;
    }
    case LEEC_ST_FETCH_AUTHZ:
    case LEEC_ST_AUTHZ_POLL:
        while (a->cursor < a->naz && a->az[a->cursor].valid)
            a->cursor++;
        if (a->cursor == a->naz) /* defensive: nothing left to ask */
            return;
        post(a, a->az[a->cursor].url, NULL, NULL);
        return;
    case LEEC_ST_RESPOND:
        while (a->cursor < a->naz && !a->az[a->cursor].respond)
            a->cursor++;
        if (a->cursor == a->naz)
            return;
        post(a, a->az[a->cursor].cand[a->az[a->cursor].ci].url, "{}", NULL);
        return;
    case LEEC_ST_ORDER_POLL:
    case LEEC_ST_RESUME:
        post(a, a->order_url, NULL, NULL);
        return;
    case LEEC_ST_FINALIZE:
        enter_finalize(a);
        return;
    case LEEC_ST_DOWNLOAD:
        /* cursor 0: the default chain; k: the alternate alt_urls[k - 1] */
        post(a, a->cursor ? a->alt_urls[a->cursor - 1] : a->cert_url, NULL,
             "application/pem-certificate-chain");
        return;
    default:
        return;
    }
}

void Leec_agent_on_timer(leec_agent *a)
{
    a->deadline = -1;
    if (a->stopping) {
        Leec_agent_fail(a, LEEC_E_CANCELLED, NULL, "interrupted");
    } else if (a->jthen != JOURNAL_THEN_NONE) {
        /* The store never answered (statement_timeout bounds a statement,
         * not a connection that went silent). */
        bool install = a->jthen == STORE_THEN_INSTALLED;
        Leec_agent_journal_forget(a);
        if (install)
            Leec_agent_fail(a, LEEC_E_TIMEOUT, NULL,
                            "the store did not answer the install");
        else
            journal_failed(a, LEEC_E_TIMEOUT);
    } else if (a->state == LEEC_ST_IDLE)
        Leec_agent_set_state(a, LEEC_ST_CHECK_EXISTING);
    else if (a->state == LEEC_ST_QUEUED)
        enter_queued(a);
    else
        send_current(a); /* a poll, or a retry after a transient failure */
    Leec_agent_run(a);
}

static bool idempotent(leec_agent_state s)
{
    return s == LEEC_ST_RESUME || s == LEEC_ST_FETCH_AUTHZ ||
           s == LEEC_ST_RESPOND || s == LEEC_ST_AUTHZ_POLL ||
           s == LEEC_ST_ORDER_POLL || s == LEEC_ST_DOWNLOAD;
}

/* A transient failure (transport error, 5xx, 429) of an idempotent step is
 * retried a few times after Retry-After or a growing delay. */
static bool retry_later(leec_agent *a, leec_acme_resp *r)
{
    /* 429 and 503 never get here unless the governor gave up on them. */
    bool transient =
        r->err == LEEC_E_HTTP || r->err == LEEC_E_TIMEOUT ||
        (r->err == LEEC_OK && r->status >= 500 && r->status != 503);
    if (!transient || !idempotent(a->state) || a->retries >= RETRY_MAX)
        return false;
    a->retries++;
    int64_t d = r->retry_after >= 0 ? (int64_t)r->retry_after * 1000
                                    : (int64_t)1000 << (a->retries - 1);
    if (d > 60000)
        return false; /* a long pause is the governor's business, not ours */
    Leec_log(a->ctx, LEEC_LOG_WARN,
             "agent %u (%s): %s failed (%s), retrying in %lld ms", a->id,
             a->cert_name, leec_state_name(a->state),
             r->err ? leec_strerror(r->err) : "server error", (long long)d);
    a->deadline = Leec_now_ms(a->ctx) + d;
    return true;
}

static leec_problem *steal_problem(leec_acme_resp *r)
{
    leec_problem *p = r->problem;
    r->problem = NULL;
    return p;
}

/* The error for an answer the agent cannot use: the CA's refusal, or (a
 * success status without the JSON object it must carry) a protocol error. */
static leec_code refusal_code(const leec_acme_resp *r)
{
    if (r->status == 429 || Leec_problem_is(r->problem, "rateLimited"))
        return LEEC_E_RATE_LIMITED;
    return r->status >= 200 && r->status < 300 ? LEEC_E_PROTOCOL : LEEC_E_ACME;
}

/* ------------------------------------------------------------------ */
/* Orders                                                              */
/* ------------------------------------------------------------------ */

static bool set_url(char **slot, const char *url)
{
    if (!Leec_url_ok(url))
        return false;
    char *s = strdup(url);
    if (!s)
        return false;
    free(*slot);
    *slot = s;
    return true;
}

/* The view's string into *slot (the view lets go of it). */
static void take_str(char **slot, char **from)
{
    free(*slot);
    *slot = *from;
    *from = NULL;
}

/* Moves on according to the order's status (new order, finalize, poll):
 * the view parsed from the CA's answer, and what its parse returned. */
static void follow_order(leec_agent *a, leec_order_view *v, leec_code prc)
{
    if (prc != LEEC_OK) {
        if (prc == LEEC_E_NOMEM)
            Leec_agent_fail(a, prc, NULL, "out of memory");
        else
            Leec_agent_fail(a, LEEC_E_PROTOCOL, NULL,
                            "malformed order object (%s)",
                            v->why ? v->why : "?");
        return;
    }
    leec_problem *error;
    switch (v->status) {
    case LEEC_ORDER_INVALID:
        error = v->error;
        v->error = NULL; /* taken by the agent */
        Leec_agent_fail(a, LEEC_E_INVALID_ORDER, error,
                        "the order became invalid");
        return;
    case LEEC_ORDER_PENDING:
        if (a->state == LEEC_ST_NEW_ORDER || a->state == LEEC_ST_RESUME)
            Leec_agent_set_state(a, LEEC_ST_FETCH_AUTHZ);
        else
            Leec_agent_fail(
                a, LEEC_E_PROTOCOL, NULL,
                "order is pending after its authorizations were valid");
        return;
    case LEEC_ORDER_READY:
        /* Straight from newOrder: every authorization was reused (or,
         * taken up, they were validated before). */
        Leec_agent_set_state(a, a->state == LEEC_ST_NEW_ORDER ||
                                        a->state == LEEC_ST_RESUME
                                    ? LEEC_ST_FINALIZE
                                    : LEEC_ST_ORDER_POLL);
        return;
    case LEEC_ORDER_PROCESSING:
        Leec_agent_set_state(a, LEEC_ST_ORDER_POLL);
        return;
    case LEEC_ORDER_VALID:
        if (!v->certificate)
            Leec_agent_fail(a, LEEC_E_PROTOCOL, NULL,
                            "valid order without a certificate URL");
        else if (!a->cert_key)
            Leec_agent_fail(
                a, LEEC_E_PROTOCOL, NULL,
                "the CA reports a valid order that leec did not finalize");
        else {
            take_str(&a->cert_url, &v->certificate);
            Leec_agent_set_state(a, LEEC_ST_DOWNLOAD);
        }
        return;
    }
}

/* The order's finalize URL and authorizations (the view lets go of
 * them). */
static bool take_order(leec_agent *a, leec_order_view *v)
{
    take_str(&a->finalize_url, &v->finalize);
    Leec_agent_authz_clear(a);
    if (!(a->az = calloc(v->nauthz, sizeof *a->az))) {
        Leec_agent_fail(a, LEEC_E_NOMEM, NULL, "out of memory");
        return false;
    }
    a->naz = v->nauthz;
    for (size_t i = 0; i < v->nauthz; i++) {
        a->az[i].agent = a;
        take_str(&a->az[i].url, &v->authz[i]);
    }
    return true;
}

/* RESUME found nothing to take up: the entry goes, a new order comes. */
static void resume_anew(leec_agent *a, const char *why)
{
    Leec_log(a->ctx, LEEC_LOG_INFO,
             "agent %u (%s): the order %s of an earlier run %s; ordering anew",
             a->id, a->cert_name, a->order_url, why);
    journal_drop(a);
    /* Made by an earlier run, never to give a certificate now. */
    Leec_stat_add(a->ctx, LEEC_STAT_ORDERS_WASTED, 1);
    free(a->order_url);
    a->order_url = NULL;
    Leec_key_free(a->cert_key);
    a->cert_key = NULL;
    a->resumed = a->key_journalled = false;
    Leec_agent_set_state(a, LEEC_ST_NEW_ORDER);
}

/* RESUME: the order as the CA has it now. Only one invalid, expired (the
 * CA reports it invalid) or gone leads to a new order; any other goes on
 * from its status, as after newOrder. */
static void on_resume(leec_agent *a, leec_acme_resp *r)
{
    if (r->status >= 400 && r->status < 500 && r->status != 429) {
        resume_anew(a, "is gone at the CA");
        return;
    }
    if (r->status != 200 || !r->json) {
        Leec_agent_fail(a, refusal_code(r), steal_problem(r),
                        "cannot fetch the order %s (HTTP %ld)", a->order_url,
                        r->status);
        return;
    }
    leec_order_view v;
    leec_code prc = Leec_order_parse(r->json, &v);
    if (prc == LEEC_E_NOMEM)
        Leec_agent_fail(a, prc, NULL, "out of memory");
    else if (prc != LEEC_OK || !v.finalize || !v.nauthz ||
             !Leec_order_ids_match(&v, a->names, a->nnames))
        resume_anew(a, "is not one leec can take up");
    else if (v.status == LEEC_ORDER_INVALID)
        resume_anew(a, "is invalid");
    else if (v.expires && v.expires <= time(NULL) &&
             v.status != LEEC_ORDER_VALID)
        resume_anew(a, "has expired");
    else if ((v.status == LEEC_ORDER_PROCESSING ||
              v.status == LEEC_ORDER_VALID) &&
             !a->cert_key)
        resume_anew(a, "was finalized with a key that was not recorded");
    else if (take_order(a, &v)) {
        Leec_log(a->ctx, LEEC_LOG_INFO,
                 "agent %u (%s): resumed order %s (%s at the CA)", a->id,
                 a->cert_name, a->order_url,
                 v.status == LEEC_ORDER_PENDING      ? "pending"
                 : v.status == LEEC_ORDER_READY      ? "ready"
                 : v.status == LEEC_ORDER_PROCESSING ? "processing"
                                                     : "valid");
        follow_order(a, &v, prc);
    }
    Leec_order_view_clear(&v);
}

static void on_new_order(leec_agent *a, leec_acme_resp *r)
{
    if (Leec_problem_is(r->problem, "accountDoesNotExist") &&
        !a->account_renewed) {
        /* A saved account deactivated or lost by the CA (a test CA that
         * restarted): make a new one once, then order again. */
        a->account_renewed = true;
        if (Leec_agent_own_account(a))
            Leec_agent_account_forget(a);
        else
            Leec_account_forget(a->ctx, a->acct_gen);
        Leec_agent_set_state(a, LEEC_ST_WAIT_ACCOUNT);
        return;
    }
    if (r->status >= 400 && r->status < 500 && r->status != 429 &&
        !a->replaces_refused && a->had_cert && a->names_same &&
        Leec_agent_ari_id(a) && Leec_session_dir(a->ctx)->renewal_info) {
        /* alreadyReplaced (another order named it), or a CA that does not
         * take "replaces" here: the renewal itself must not fail on it. */
        a->replaces_refused = true;
        Leec_log(a->ctx, LEEC_LOG_WARN,
                 "agent %u (%s): the CA refused \"replaces\" (%s); ordering "
                 "without it",
                 a->id, a->cert_name,
                 r->problem && r->problem->type ? r->problem->type
                                                : "no problem document");
        Leec_agent_set_state(a, LEEC_ST_NEW_ORDER);
        return;
    }
    if (r->status == 201) /* made at the CA, whatever follows */
        Leec_stat_add(a->ctx, LEEC_STAT_ORDERS_CREATED, 1);
    if (r->status != 201 || !r->json) {
        Leec_agent_fail(a, refusal_code(r), steal_problem(r),
                        "newOrder refused (HTTP %ld)", r->status);
        return;
    }
    leec_order_view v;
    leec_code prc = Leec_order_parse(r->json, &v);
    size_t n = v.nauthz;
    if (prc == LEEC_E_NOMEM) {
        Leec_agent_fail(a, prc, NULL, "out of memory");
        goto out;
    }
    if (prc != LEEC_OK || !v.finalize || !n ||
        !set_url(&a->order_url, r->location) ||
        !Leec_order_ids_match(&v, a->names, a->nnames)) {
        Leec_agent_fail(a, LEEC_E_PROTOCOL, NULL,
                        "malformed order (URL, authorizations or identifiers)");
        goto out;
    }
    if (!take_order(a, &v))
        goto out;
    Leec_log(a->ctx, LEEC_LOG_INFO, "agent %u (%s): order %s", a->id,
             a->cert_name, a->order_url);
    a->order_since = (int64_t)time(NULL);
    /* The certificate's key now (it was to be made at FINALIZE anyway), so
     * that the order's one durable record holds it; a slow one (RSA), or
     * the installed one to be reused, is recorded at FINALIZE instead. */
    if (!a->cert_key && !(a->reuse_key && a->had_cert) &&
        !Leec_key_type_is_slow(a->key_type)) {
        leec_code krc = Leec_key_generate(a->key_type, &a->cert_key);
        if (krc != LEEC_OK) {
            Leec_agent_fail(a, krc, NULL,
                            "cannot generate the certificate key");
            goto out;
        }
    }
    a->key_journalled = false;
    switch (journal_step(a, "ordered", true, JOURNAL_THEN_FOLLOW)) {
    case JOURNAL_DONE:
        follow_order(a, &v, prc);
        break;
    case JOURNAL_SENT:
        /* Kept for after the write: the view's parts are the agent's. */
        a->jview = v;
        a->jprc = prc;
        memset(&v, 0, sizeof v);
        break;
    case JOURNAL_FAILED:
        break;
    }
    /* Counted in the budget log after the journal entry went out: that
     * entry is what a run killed now needs to take the order up, and the
     * log's write (a file and its fsync) must not delay it. A transition
     * only sets the state: the agent is still here. */
    if (!a->resumed)
        Leec_budget_note(a->ctx, false, (const char *const *)a->regdoms,
                         a->nregdoms);
out:
    Leec_order_view_clear(&v);
}

/* ------------------------------------------------------------------ */
/* Authorizations                                                      */
/* ------------------------------------------------------------------ */

/* Takes a validated authorization's challenge down at once: it has served
 * its purpose. */
static void cleaned(void *ud, leec_code rc, const char *msg)
{
    leec_ctx *ctx = ud;
    Leec_ctx_cleanups_add(ctx, -1);
    if (rc != LEEC_OK) {
        Leec_ctx_cleanup_failed(ctx);
        Leec_log(ctx, LEEC_LOG_WARN, "challenge clean-up failed: %s",
                 msg ? msg : leec_strerror(rc));
    }
}

/* Takes down, without waiting, every challenge the agent's solver put up
 * or is putting up (leec_ctx_stop); the number started. */
static size_t cleanup_async(leec_agent *a)
{
    size_t n = 0;
    for (size_t i = 0; i < a->naz; i++) {
        authz *z = &a->az[i];
        if (!z->presented && !z->presenting)
            continue;
        void *op = z->op;
        z->presented = z->presenting = false;
        z->op = NULL;
        Leec_ctx_cleanups_add(a->ctx, 1);
        Leec_solver_cleanup(a->solver, op, z->valid, cleaned, a->ctx);
        n++;
    }
    return n;
}

size_t Leec_agent_stop(leec_agent *a)
{
    if (a->stopping)
        return 0;
    size_t n = cleanup_async(a);
    /* It fails from perform (its done callback runs there), at once. */
    a->stopping = true;
    a->deadline = Leec_now_ms(a->ctx);
    return n;
}

static void authz_done(leec_agent *a, authz *z)
{
    z->valid = true;
    z->respond = false;
    if (!z->presented)
        return;
    /* Asynchronous: a DNS record may take a round trip to remove; the
     * result only matters to the log. */
    Leec_ctx_cleanups_add(a->ctx,
                          1); /* the loop keeps running until it is done */
    Leec_solver_cleanup(a->solver, z->op, true, cleaned, a->ctx);
    z->presented = false;
    z->op = NULL;
}

/* Records the challenges of a pending authorization that the agent's
 * solver can answer: one of its type, or (a solver for any type) all of
 * them in the CA's order. */
static bool take_challenges(leec_agent *a, authz *z, leec_authz_view *v)
{
    const char *want = Leec_solver_ops(a->solver)->type;
    leec_buf offered;
    Leec_buf_init(&offered, 256);
    bool pending = false;
    for (size_t i = 0; i < v->nchall; i++) {
        leec_chall_view *c = &v->chall[i];
        (void)Leec_buf_printf(&offered, "%s%s", offered.len ? " " : "",
                              c->type);
        if ((want && strcmp(c->type, want) != 0) ||
            z->ncand == AUTHZ_CANDIDATES)
            continue;
        /* The view's strings, moved: copied once, when parsed. */
        chall_cand *k = &z->cand[z->ncand++];
        /* processing: already answered (by an earlier run, say). */
        pending = pending || c->status == LEEC_CHALL_NONE ||
                  c->status == LEEC_CHALL_PENDING;
        take_str(&k->type, &c->type);
        take_str(&k->url, &c->url);
        take_str(&k->token, &c->token);
        take_str(&k->issuers, &c->issuers);
    }
    if (!z->ncand) {
        Leec_agent_fail(a, LEEC_E_NO_CHALLENGE, NULL,
                        "no %s challenge for %s (offered: %s)",
                        want ? want : "usable", z->ident,
                        offered.len ? offered.data : "none");
        Leec_buf_free(&offered);
        return false;
    }
    Leec_buf_free(&offered);
    z->ci = 0;
    z->respond = pending;
    return true;
}

/* The next authorization poll after a back-off (or Retry-After). */
static void poll_later(leec_agent *a, long retry_after)
{
    int64_t d =
        Leec_backoff_next(&a->backoff, Leec_now_ms(a->ctx), retry_after);
    if (d < 0) {
        size_t i = a->cursor < a->naz ? a->cursor : 0;
        while (i + 1 < a->naz && a->az[i].valid)
            i++; /* the one still pending */
        const authz *z = &a->az[i];
        Leec_agent_fail(
            a, LEEC_E_TIMEOUT, NULL,
            "the authorization for %s (%s) stayed pending for %u s: the CA "
            "did not validate it in time",
            z->ident ? z->ident : "?", z->url,
            Leec_ctx_order_timeout_s(a->ctx));
        return;
    }
    a->deadline = Leec_now_ms(a->ctx) + d;
}

/* After the last authorization of a round: the next state, or the next
 * poll after a back-off. */
static void authz_round_done(leec_agent *a, long retry_after)
{
    bool all_valid = true, any_respond = false;
    for (size_t i = 0; i < a->naz; i++) {
        all_valid = all_valid && a->az[i].valid;
        any_respond = any_respond || a->az[i].respond;
    }
    if (all_valid) {
        Leec_agent_set_state(a, LEEC_ST_FINALIZE);
    } else if (a->state == LEEC_ST_FETCH_AUTHZ) {
        Leec_agent_set_state(a, any_respond ? LEEC_ST_PRESENT
                                            : LEEC_ST_AUTHZ_POLL);
    } else {
        poll_later(a, retry_after);
    }
}

/* Which of the order's names an authorization is for: its type and value
 * (with "*." when it says wildcard), as asked; NULL for none. */
static const char *authz_for_order(const leec_agent *a,
                                   const leec_authz_view *v)
{
    bool ip = strcmp(v->ident_type, "ip") == 0;
    if ((!ip && strcmp(v->ident_type, "dns") != 0) || (ip && v->wildcard))
        return NULL;
    size_t vl = strlen(v->ident), off = v->wildcard ? 2 : 0;
    for (size_t i = 0; i < a->nnames; i++) {
        const char *n = a->names[i];
        if (Leec_name_is_ip(n) != ip || strlen(n) != vl + off ||
            (v->wildcard && strncmp(n, "*.", 2) != 0))
            continue;
        /* Names are lower case; a CA may answer in capitals. */
        if (strcasecmp(n + off, v->ident) == 0)
            return n;
    }
    return NULL;
}

static void on_authz(leec_agent *a, leec_acme_resp *r)
{
    authz *z = &a->az[a->cursor];
    leec_authz_view v;
    if (r->status != 200 || !r->json) {
        Leec_agent_fail(a, refusal_code(r), steal_problem(r),
                        "cannot fetch an authorization (HTTP %ld)", r->status);
        return;
    }
    leec_code prc = Leec_authz_parse(r->json, &v);
    if (prc == LEEC_E_NOMEM) {
        Leec_agent_fail(a, prc, NULL, "out of memory");
        goto out;
    }
    if (prc != LEEC_OK) {
        Leec_agent_fail(a, LEEC_E_PROTOCOL, NULL,
                        "malformed authorization (%s)", v.why ? v.why : "?");
        goto out;
    }
    /* The name it is for reaches solvers, DNS providers, hooks and logs:
     * only one this order asked for, of the same type, and the same at
     * every poll. */
    const char *name = authz_for_order(a, &v);
    if (!name || (z->ident && strcmp(z->ident, name) != 0)) {
        char *what = Leec_sanitize(v.ident, 256);
        Leec_agent_fail(
            a, LEEC_E_PROTOCOL, NULL,
            "the CA's authorization %s is for %s %s%s, which this order did "
            "not ask for",
            z->url, v.ident_type, v.wildcard ? "*." : "", what ? what : "?");
        free(what);
        goto out;
    }
    if (!z->ident) {
        /* Our own spelling of it (checked, lower case), not the CA's. */
        z->wildcard = v.wildcard;
        if (!(z->ident = strdup(name)) ||
            !(z->value = strdup(name + (v.wildcard ? 2 : 0)))) {
            Leec_agent_fail(a, LEEC_E_NOMEM, NULL, "out of memory");
            goto out;
        }
    }
    switch (v.status) {
    case LEEC_AUTHZ_VALID:
        if (a->state == LEEC_ST_AUTHZ_POLL)
            Leec_log(a->ctx, LEEC_LOG_INFO, "agent %u (%s): %s validated",
                     a->id, a->cert_name, z->ident);
        authz_done(a, z);
        break;
    case LEEC_AUTHZ_PENDING:
        if (a->state == LEEC_ST_FETCH_AUTHZ && !take_challenges(a, z, &v))
            goto out;
        break;
    default: {
        leec_problem *error = v.error;
        v.error = NULL; /* taken by the agent */
        Leec_agent_fail(a, LEEC_E_INVALID_ORDER, error,
                        "authorization for %s is %s", z->ident, v.status_name);
        goto out;
    }
    }
    if (a->state == LEEC_ST_AUTHZ_POLL && !z->valid) {
        /* Still pending: the others were answered at the same moment and
         * are most likely pending too, so wait before asking again rather
         * than polling each of them now. */
        poll_later(a, r->retry_after);
        goto out;
    }
    /* Next authorization, or the end of the round. */
    a->cursor++;
    while (a->cursor < a->naz && a->az[a->cursor].valid)
        a->cursor++;
    if (a->cursor < a->naz)
        send_current(a);
    else
        authz_round_done(a, r->retry_after);
out:
    Leec_authz_view_clear(&v);
}

static void present_one(leec_agent *a, authz *z);

/* PRESENT ends when the solver has reported for every challenge to
 * answer (some report at once, http-01; some later, dns-01). */
static void present_check(leec_agent *a)
{
    for (size_t i = 0; i < a->naz; i++)
        if (a->az[i].respond && !a->az[i].ready)
            return;
    Leec_agent_set_state(a, LEEC_ST_RESPOND);
}

/* A solver's report; it may come from inside present_one (the step runs)
 * or later from the loop (then the driver runs). */
static void presented(void *ud, leec_code rc, const char *msg)
{
    authz *z = ud;
    leec_agent *a = z->agent;
    z->presenting = false;
    if (a->state != LEEC_ST_PRESENT || a->moving)
        return; /* ending already */
    if (rc == LEEC_E_NO_CHALLENGE && z->ci + 1 < z->ncand) {
        /* Declined (a hook for another type): try the next challenge. */
        Leec_solver_cleanup(a->solver, z->op, false, NULL, NULL);
        z->presented = false;
        z->op = NULL;
        z->ci++;
        present_one(a, z);
    } else if (rc != LEEC_OK) {
        Leec_agent_fail(a, rc == LEEC_E_NO_CHALLENGE ? rc : LEEC_E_SOLVER, NULL,
                        "%s for %s: %s", Leec_solver_ops(a->solver)->name,
                        z->ident, msg ? msg : leec_strerror(rc));
    } else {
        z->ready = true;
        Leec_log(a->ctx, LEEC_LOG_DEBUG, "agent %u (%s): %s ready for %s",
                 a->id, a->cert_name, z->cand[z->ci].type, z->ident);
        present_check(a);
    }
    Leec_agent_run(a);
}

static void present_one(leec_agent *a, authz *z)
{
    chall_cand *c = &z->cand[z->ci];
    char *ka = NULL, *digest = NULL, *names = NULL;
    const char *issuers[LEEC_PERSIST_MAX_ISSUERS];
    size_t nissuers = 0;
    unsigned char sum[32];
    leec_code rc = LEEC_OK;
    if (c->token) {
        rc = Leec_key_authorization(Leec_agent_acct_key(a), c->token, &ka);
        if (rc == LEEC_OK) {
            Leec_sha256(ka, strlen(ka), sum);
            if (!(digest = Leec_b64url_encode(sum, sizeof sum)))
                rc = LEEC_E_NOMEM;
        }
    } else if (c->issuers) {
        /* dns-persist-01: the names, split at their spaces (checked when
         * parsed). */
        if (!(names = strdup(c->issuers)))
            rc = LEEC_E_NOMEM;
        for (char *p = names; p && *p && nissuers < LEEC_PERSIST_MAX_ISSUERS;) {
            issuers[nissuers++] = p;
            p = strchr(p, ' ');
            if (p)
                *p++ = '\0';
        }
    }
    if (rc == LEEC_OK) {
        leec_challenge ch = {.type = c->type,
                             .ident_type =
                                 Leec_name_is_ip(z->value) ? "ip" : "dns",
                             .ident = z->value,
                             .wildcard = z->wildcard,
                             .token = c->token,
                             .key_auth = ka,
                             .digest = digest,
                             .issuer_domain_names = nissuers ? issuers : NULL,
                             .nissuer_domain_names = nissuers,
                             .account_uri = Leec_agent_acct_url(a)};
        z->presenting = true;
        z->presented = false;
        z->ready = false;
        rc = Leec_solver_present(a->solver, &ch, presented, z, &z->op);
        if (rc == LEEC_OK)
            z->presented = true; /* a cleanup is owed from now on */
        else
            z->presenting = false;
    }
    free(ka);
    free(digest);
    free(names);
    if (rc != LEEC_OK && !a->moving)
        Leec_agent_fail(a, LEEC_E_SOLVER, NULL,
                        "cannot present the %s challenge for %s", c->type,
                        z->ident);
}

static void enter_present(leec_agent *a)
{
    for (size_t i = 0; i < a->naz && !a->moving; i++)
        if (a->az[i].respond)
            present_one(a, &a->az[i]);
    if (!a->moving)
        present_check(a); /* every solver may have reported at once */
}

static void on_respond(leec_agent *a, leec_acme_resp *r)
{
    authz *z = &a->az[a->cursor];
    if (r->status != 200 || !r->json) {
        Leec_agent_fail(a, refusal_code(r), steal_problem(r),
                        "the CA refused the challenge response for %s",
                        z->ident);
        return;
    }
    leec_chall_answer ans;
    Leec_chall_answer_parse(r->json, &ans);
    if (ans.status == LEEC_CHALL_INVALID) {
        Leec_agent_fail(a, LEEC_E_INVALID_ORDER, ans.error,
                        "challenge for %s is invalid", z->ident);
        return;
    }
    Leec_problem_free(ans.error);
    z->respond = false;
    a->cursor++;
    while (a->cursor < a->naz && !a->az[a->cursor].respond)
        a->cursor++;
    if (a->cursor < a->naz)
        send_current(a);
    else if (journal_step(a, "answered", false, JOURNAL_THEN_POLL) ==
             JOURNAL_DONE)
        Leec_agent_set_state(a, LEEC_ST_AUTHZ_POLL);
}

/* ------------------------------------------------------------------ */
/* Finalize, download, install                                         */
/* ------------------------------------------------------------------ */

/* --reuse-key: the installed certificate's key, when it is of the type
 * asked for (else a fresh one, said so). */
static void reuse_installed_key(leec_agent *a)
{
    char *pem = NULL;
    size_t len = 0;
    leec_key *k = NULL;
    leec_store *st = leec_ctx_get_store(a->ctx);
    if (leec_store_read_part(st, a->cert_name, LEEC_PART_PRIVKEY, &pem, &len) ==
            LEEC_OK &&
        Leec_key_load_pem(pem, len, &k) == LEEC_OK &&
        Leec_key_get_type(k) == a->key_type) {
        a->cert_key = k;
        k = NULL;
        Leec_log(a->ctx, LEEC_LOG_INFO, "agent %u (%s): reusing the key", a->id,
                 a->cert_name);
    } else {
        Leec_log(a->ctx, LEEC_LOG_WARN,
                 "agent %u (%s): the installed key cannot be reused (missing "
                 "or not %s); using a new one",
                 a->id, a->cert_name, leec_key_type_name(a->key_type));
    }
    Leec_key_free(k);
    if (pem)
        Leec_secure_free(pem);
}

/* The CSR, then finalize. */
static void send_finalize(leec_agent *a)
{
    char *csr = NULL, *payload = NULL;
    leec_json *o = NULL;
    leec_code rc = Leec_csr_new(a->cert_key, (const char *const *)a->names,
                                a->nnames, &csr);
    if (rc != LEEC_OK) {
        Leec_agent_fail(a, rc, NULL, "cannot build the CSR");
        goto out;
    }
    if (!(o = Leec_json_new_object()) || !Leec_json_set_str(o, "csr", csr) ||
        !(payload = Leec_json_dump(o, false))) {
        Leec_agent_fail(a, LEEC_E_NOMEM, NULL, "out of memory");
        goto out;
    }
    /* The key before finalize: an order finalized with it is completed
     * only with it. */
    switch (journal_step(a, "finalized", false, JOURNAL_THEN_FINALIZE)) {
    case JOURNAL_DONE:
        post(a, a->finalize_url, payload, NULL);
        break;
    case JOURNAL_SENT:
        a->jpayload = payload;
        payload = NULL;
        break;
    case JOURNAL_FAILED:
        break;
    }
out:
    free(csr);
    free(payload);
    Leec_json_free(o);
}

/* The certificate's key, from a worker thread. */
static void keygen_done(void *ud, leec_code rc, leec_key *key)
{
    leec_agent *a = ud;
    a->keygen = NULL;
    if (rc != LEEC_OK) {
        Leec_agent_fail(a, rc, NULL, "cannot generate the certificate key");
    } else {
        a->cert_key = key;
        send_finalize(a);
    }
    Leec_agent_run(a);
}

/* FINALIZE: the key (reused, or a new one: an RSA key, seconds of CPU, on
 * a worker thread so that the other certificates go on meanwhile), the
 * CSR, the request. */
static void enter_finalize(leec_agent *a)
{
    leec_code rc = LEEC_OK;
    if (a->keygen)
        return; /* on its way */
    if (!a->cert_key && a->reuse_key && a->had_cert)
        reuse_installed_key(a);
    if (!a->cert_key && Leec_key_type_is_slow(a->key_type) &&
        Leec_key_job(a->ctx, a->key_type, keygen_done, a, &a->keygen) ==
            LEEC_OK)
        return; /* keygen_done goes on */
    /* Fast, or no thread to be had: generated here. */
    if (!a->cert_key &&
        (rc = Leec_key_generate(a->key_type, &a->cert_key)) != LEEC_OK) {
        Leec_agent_fail(a, rc, NULL, "cannot generate the certificate key");
        return;
    }
    send_finalize(a);
}

static void on_order(leec_agent *a, leec_acme_resp *r)
{
    if (r->status != 200 || !r->json) {
        Leec_agent_fail(
            a, refusal_code(r), steal_problem(r), "%s refused (HTTP %ld)",
            a->state == LEEC_ST_FINALIZE ? "finalize" : "order poll",
            r->status);
        return;
    }
    leec_order_view v;
    leec_code prc = Leec_order_parse(r->json, &v);
    if (a->state == LEEC_ST_ORDER_POLL && prc == LEEC_OK &&
        (v.status == LEEC_ORDER_PROCESSING || v.status == LEEC_ORDER_READY)) {
        int64_t d =
            Leec_backoff_next(&a->backoff, Leec_now_ms(a->ctx), r->retry_after);
        if (d < 0)
            Leec_agent_fail(
                a, LEEC_E_TIMEOUT, NULL,
                "the order %s stayed %s for %u s: the CA did not issue in "
                "time",
                a->order_url,
                v.status == LEEC_ORDER_READY ? "ready" : "processing",
                Leec_ctx_order_timeout_s(a->ctx));
        else
            a->deadline = Leec_now_ms(a->ctx) + d;
    } else {
        follow_order(a, &v, prc);
    }
    Leec_order_view_clear(&v);
}

/* Whether a chain's top certificate was issued by (or is) a certificate
 * with the preferred commonName. */
static bool chain_preferred(leec_agent *a, const char *issuers)
{
    char *subject = NULL, *issuer = NULL;
    if (!issuers || !*issuers ||
        leec_chain_top(issuers, strlen(issuers), NULL, &subject, &issuer, NULL,
                       NULL) != LEEC_OK)
        return false;
    bool yes = (issuer && strcmp(issuer, a->preferred_chain) == 0) ||
               (subject && strcmp(subject, a->preferred_chain) == 0);
    free(subject);
    free(issuer);
    return yes;
}

/* Remembers the alternate chains the CA links from the default one. */
static void take_alternates(leec_agent *a, const leec_acme_resp *r)
{
    const leec_http_resp *h = r->http;
    for (size_t i = 0; h && i < h->nlinks; i++) {
        size_t cap = sizeof a->alt_urls / sizeof *a->alt_urls;
        if (a->nalt == cap)
            break;
        if (!h->links[i].rel || strcmp(h->links[i].rel, "alternate") != 0 ||
            !Leec_url_ok(h->links[i].url))
            continue;
        char *u = strdup(h->links[i].url);
        if (u)
            a->alt_urls[a->nalt++] = u;
    }
}

/* The next alternate chain, or the install of the chain at hand. */
static void next_alternate(leec_agent *a)
{
    if (a->cursor < a->nalt) {
        a->cursor++;
        a->retries = 0;
        send_current(a);
        return;
    }
    Leec_log(a->ctx, LEEC_LOG_INFO,
             "agent %u (%s): no chain of the %zu the CA offers ends at %s; "
             "keeping the default chain",
             a->id, a->cert_name, a->nalt + 1, a->preferred_chain);
    Leec_agent_set_state(a, LEEC_ST_INSTALL);
}

static void on_download(leec_agent *a, leec_acme_resp *r)
{
    char *leaf = NULL, *issuers = NULL, *why = NULL;
    bool alternate = a->cursor > 0;
    leec_code rc = LEEC_OK;
    if (r->status != 200) {
        if (alternate) {
            Leec_log(a->ctx, LEEC_LOG_INFO,
                     "agent %u (%s): alternate chain %zu refused (HTTP %ld)",
                     a->id, a->cert_name, a->cursor, r->status);
            next_alternate(a);
            return;
        }
        Leec_agent_fail(a, LEEC_E_ACME, steal_problem(r),
                        "certificate download refused (HTTP %ld)", r->status);
        return;
    }
    if (!r->content_type ||
        strcmp(r->content_type, "application/pem-certificate-chain") != 0) {
        if (alternate) {
            next_alternate(a);
            return;
        }
        Leec_agent_fail(a, LEEC_E_PROTOCOL, NULL,
                        "certificate has content type %s",
                        r->content_type ? r->content_type : "(none)");
        return;
    }
    rc = Leec_chain_accept(r->body->data, r->body->len, a->cert_key,
                           (const char *const *)a->names, a->nnames,
                           Leec_ctx_x509_cache(a->ctx), &leaf, &issuers, &why);
    if (rc != LEEC_OK && alternate) {
        Leec_log(a->ctx, LEEC_LOG_INFO,
                 "agent %u (%s): refusing alternate chain %zu: %s", a->id,
                 a->cert_name, a->cursor, why ? why : leec_strerror(rc));
        next_alternate(a);
    } else if (rc == LEEC_E_PROTOCOL) {
        Leec_agent_fail(a, rc, NULL,
                        "the CA sent a malformed certificate chain");
    } else if (rc != LEEC_OK) {
        Leec_agent_fail(a, rc, NULL, "refusing the certificate: %s",
                        why ? why : leec_strerror(rc));
    } else if (alternate && !chain_preferred(a, issuers)) {
        next_alternate(a);
    } else {
        bool preferred = a->preferred_chain && chain_preferred(a, issuers);
        free(a->cert_pem);
        free(a->chain_pem);
        a->cert_pem = leaf;
        a->chain_pem = issuers;
        leaf = issuers = NULL;
        if (alternate)
            Leec_log(a->ctx, LEEC_LOG_INFO,
                     "agent %u (%s): using alternate chain %zu (ends at %s)",
                     a->id, a->cert_name, a->cursor, a->preferred_chain);
        if (!a->preferred_chain || preferred || alternate) {
            Leec_agent_set_state(a, LEEC_ST_INSTALL);
        } else {
            take_alternates(a, r);
            next_alternate(a);
        }
    }
    free(leaf);
    free(issuers);
    free(why);
}

static char *meta_json(leec_agent *a)
{
    leec_json *names = Leec_json_new_array();
    leec_json *o = Leec_json_new_object();
    char *s = NULL;
    bool ok = Leec_json_set(o, "names", names);
    for (size_t i = 0; ok && i < a->nnames; i++)
        ok = Leec_json_push_str(names, a->names[i]);
    if (!ok)
        goto out;
    (void)Leec_json_set_str(o, "key_type", leec_key_type_name(a->key_type));
    (void)Leec_json_set_str(o, "server", Leec_ctx_server(a->ctx));
    (void)Leec_json_set_str(o, "solver", Leec_solver_ops(a->solver)->name);
    const char *webroot = Leec_webroot_solver_dir(a->solver);
    if (webroot)
        (void)Leec_json_set_str(o, "webroot", webroot);
    if (a->profile)
        (void)Leec_json_set_str(o, "profile", a->profile);
    if (a->preferred_chain)
        (void)Leec_json_set_str(o, "preferred_chain", a->preferred_chain);
    (void)Leec_json_set_bool(o, "reuse_key", a->reuse_key);
    /* Whether to ask for renewal information at the next look (the
     * version's renewal.json is written only once something is known). */
    (void)Leec_json_set_bool(o, "ari_offered",
                             Leec_session_dir(a->ctx)->renewal_info != NULL);
    if (a->settings)
        (void)Leec_json_set(o, "settings", Leec_json_ref(a->settings));
    s = Leec_json_dump(o, true);
out:
    Leec_json_free(o);
    return s;
}

/* INSTALL, the version in the store: the journal's entry goes, done. */
static void installed_now(leec_agent *a)
{
    Leec_log(a->ctx, LEEC_LOG_INFO, "agent %u (%s): certificate installed",
             a->id, a->cert_name);
    if (a->journalled)
        journal_drop(a);
    Leec_agent_finish(a, LEEC_OUTCOME_ISSUED);
}

static void enter_install(leec_agent *a)
{
    char *key = NULL, *meta = NULL;
    leec_code rc = Leec_key_to_pem(a->cert_key, &key);
    if (rc != LEEC_OK) {
        Leec_agent_fail(a, rc, NULL, "cannot encode the certificate key");
        goto out;
    }
    meta = meta_json(a);
    leec_store_new_version f = {.privkey = key,
                                .cert = a->cert_pem,
                                .chain = a->chain_pem ? a->chain_pem : "",
                                .meta_json = meta,
                                .names = (const char *const *)a->names,
                                .nnames = a->nnames};
    leec_store *st = leec_ctx_get_store(a->ctx);
    if (Leec_store_can_install_async(st)) {
        /* The store's answer wakes the agent (store_answered). */
        rc = Leec_store_install_async(st, a->cert_name, &f, a->lease_token,
                                      store_answered, a);
        if (rc == LEEC_OK) {
            a->jthen = STORE_THEN_INSTALLED;
            a->deadline = Leec_now_ms(a->ctx) + JOURNAL_WAIT_MS;
            Leec_ctx_store_async_watch(a->ctx);
            goto out;
        }
    } else {
        rc = Leec_store_install_fenced(st, a->cert_name, &f, a->lease_token,
                                       NULL);
    }
    if (rc != LEEC_OK) {
        Leec_agent_fail(a, rc, NULL,
                        "cannot install the certificate in the store");
        goto out;
    }
    installed_now(a);
out:
    Leec_secure_free(key);
    free(meta);
}

/* ------------------------------------------------------------------ */
/* Dispatch of answers                                                 */
/* ------------------------------------------------------------------ */

static void on_answer(leec_agent *a, leec_acme_resp *r);

void Leec_agent_on_response(void *ud, leec_acme_resp *r)
{
    leec_agent *a = ud;
    a->req = NULL;
    on_answer(a, r);
    Leec_agent_run(a);
}

/* The CA's answer to the request of the current state. */
static void on_answer(leec_agent *a, leec_acme_resp *r)
{
    /* A refusal for a while (longer than the context may pause): when to
     * try again, even without a problem document to carry it. */
    if ((r->status == 429 || r->status == 503) && r->retry_after >= 0)
        a->retry_at = time(NULL) + r->retry_after;
    if (a->state == LEEC_ST_RENEWAL_INFO) {
        Leec_agent_on_renewal_info(a, r);
        return;
    }
    if (retry_later(a, r))
        return;
    if (r->err == LEEC_OK && r->status < 500 && r->status != 429)
        a->retries = 0; /* the budget is for consecutive failures */
    if (r->err != LEEC_OK && a->state == LEEC_ST_DOWNLOAD && a->cursor > 0) {
        Leec_log(a->ctx, LEEC_LOG_INFO,
                 "agent %u (%s): alternate chain %zu: %s", a->id, a->cert_name,
                 a->cursor, r->errmsg ? r->errmsg : leec_strerror(r->err));
        next_alternate(a);
        return;
    }
    if (r->err != LEEC_OK) {
        Leec_agent_fail(a, r->err, NULL, "%s: %s", leec_state_name(a->state),
                        r->errmsg ? r->errmsg : leec_strerror(r->err));
        return;
    }
    switch (a->state) {
    case LEEC_ST_NEW_ORDER:
        on_new_order(a, r);
        break;
    case LEEC_ST_RESUME:
        on_resume(a, r);
        break;
    case LEEC_ST_FETCH_AUTHZ:
    case LEEC_ST_AUTHZ_POLL:
        on_authz(a, r);
        break;
    case LEEC_ST_RESPOND:
        on_respond(a, r);
        break;
    case LEEC_ST_FINALIZE:
    case LEEC_ST_ORDER_POLL:
        on_order(a, r);
        break;
    case LEEC_ST_DOWNLOAD:
        on_download(a, r);
        break;
    default:
        Leec_agent_fail(a, LEEC_E_STATE, NULL,
                        "unexpected response in state %s",
                        leec_state_name(a->state));
        break;
    }
}
