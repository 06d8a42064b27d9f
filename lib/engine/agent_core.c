/* The agent's primitives that every agent file uses: the transitions
 * (recorded here, made by the driver in agent.c), giving back what an agent
 * holds, and the clean-ups. The lowest of the agent's files: it calls none
 * of the others, which call it. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/agent_internal.h"
#include "acme/problem.h"
#include "store/store.h"

/* ------------------------------------------------------------------ */
/* Transitions: recorded here, made by the driver (agent.c)           */
/* ------------------------------------------------------------------ */

void Leec_agent_set_state(leec_agent *a, leec_agent_state to)
{
    a->next = to;
    a->moving = true;
}

void Leec_agent_release(leec_agent *a, bool issued)
{
    if (a->admitted) {
        /* An order taken up from the journal was counted by the run that
         * made it. */
        a->admitted = false;
        Leec_gov_order_done(Leec_ctx_gov(a->ctx), a->admitted_at,
                            (const char *const *)a->regdoms, a->nregdoms,
                            a->order_url != NULL && !a->resumed, issued);
        Leec_ctx_wake_agents(a->ctx);
    }
    if (a->lock) {
        Leec_store_unlock(leec_ctx_get_store(a->ctx), a->lock);
        a->lock = NULL;
        a->lease_token = 0;
    }
}

void Leec_agent_stop_ordering(leec_agent *a)
{
    if (a->ordering) {
        a->ordering = false;
        Leec_ctx_ordering_add(a->ctx, -1);
    }
}

void Leec_agent_finish(leec_agent *a, leec_outcome outcome)
{
    a->outcome = outcome;
    a->deadline = -1;
    Leec_agent_set_state(a, outcome == LEEC_OUTCOME_FAILED ? LEEC_ST_FAILED
                                                           : LEEC_ST_DONE);
}

void Leec_agent_start_ordering(leec_agent *a)
{
    leec_ctx *ctx = a->ctx;
    if (!a->ordering) {
        a->ordering = true;
        Leec_ctx_ordering_add(ctx, 1);
        /* The PRE hook: before anything is sent for it. */
        Leec_ctx_hook(ctx, LEEC_HOOK_PRE, a);
    }
    Leec_agent_set_state(a, LEEC_ST_WAIT_ACCOUNT);
}

void Leec_agent_fail(leec_agent *a, leec_code err, leec_problem *problem,
                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    if (msg) /* it may quote the CA: printed as it is by callers */
        Leec_text_clean(msg, strlen(msg));
    free(a->errmsg);
    a->errmsg = msg;
    a->err = err;
    Leec_problem_free(a->problem);
    a->problem = problem;
    if (!a->retry_at && problem && problem->retry_after >= 0)
        a->retry_at = time(NULL) + problem->retry_after;
    /* INFO: the failure reaches the caller through the API (the done
     * callback, leec_agent_error); a log line at ERROR would say it twice. */
    Leec_log(a->ctx, LEEC_LOG_INFO, "agent %u (%s): failed: %s%s%s", a->id,
             a->cert_name, leec_agent_error_message(a),
             problem && problem->detail ? ": " : "",
             problem && problem->detail ? problem->detail : "");
    Leec_agent_finish(a, LEEC_OUTCOME_FAILED);
}

/* ------------------------------------------------------------------ */
/* Clean-ups                                                           */
/* ------------------------------------------------------------------ */

void Leec_agent_authz_clear(leec_agent *a)
{
    for (size_t i = 0; i < a->naz; i++) {
        free(a->az[i].url);
        free(a->az[i].ident);
        free(a->az[i].value);
        for (size_t k = 0; k < a->az[i].ncand; k++) {
            free(a->az[i].cand[k].type);
            free(a->az[i].cand[k].url);
            free(a->az[i].cand[k].token);
            free(a->az[i].cand[k].issuers);
        }
    }
    free(a->az);
    a->az = NULL;
    a->naz = 0;
}

void Leec_agent_solvers_cleanup(leec_agent *a)
{
    /* Synchronous: the agent (or the run) is ending. */
    for (size_t i = 0; i < a->naz; i++) {
        authz *z = &a->az[i];
        if (!z->presented && !z->presenting)
            continue;
        Leec_solver_cleanup(a->solver, z->op, z->valid, NULL, NULL);
        z->presented = z->presenting = false;
        z->op = NULL;
    }
}

const char *leec_agent_error_message(const leec_agent *a)
{
    return a->errmsg ? a->errmsg : leec_strerror(a->err);
}
