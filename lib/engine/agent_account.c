/* An agent's own account (LEEC_ACCOUNT_PER_CERTIFICATE, LEEC's way): each
 * certificate registers its own key and account, never saved, and signs
 * every request of its order with it, so that the certificates of one run
 * are not linked at the CA by their account. The step of WAIT_ACCOUNT:
 * the directory (the context's, shared), the key (on a worker when slow,
 * as the shared account's), then newAccount; the agent then moves on as
 * with the shared account (agent.c, check_account). Nothing here blocks
 * the loop. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/agent_internal.h"
#include "acme/account.h"
#include "acme/problem.h"
#include "engine/workers.h"

bool Leec_agent_own_account(const leec_agent *a)
{
    return Leec_account_mode(a->ctx) == LEEC_ACCOUNT_PER_CERTIFICATE;
}

leec_key *Leec_agent_acct_key(const leec_agent *a)
{
    return a->own_key ? a->own_key : Leec_account_key(a->ctx);
}

const char *Leec_agent_acct_url(const leec_agent *a)
{
    return a->own_key ? a->own_url : Leec_account_url(a->ctx);
}

/* Moves on once the account is there, as check_account does. */
static void ready(leec_agent *a)
{
    Leec_agent_set_state(a, a->admitted ? LEEC_ST_NEW_ORDER : LEEC_ST_QUEUED);
}

static void on_new_account(void *ud, leec_acme_resp *r)
{
    leec_agent *a = ud;
    a->req = NULL;
    if (r->err != LEEC_OK) {
        Leec_agent_fail(a, r->err, NULL, "newAccount: %s",
                        r->errmsg ? r->errmsg : leec_strerror(r->err));
    } else if (r->status != 201 && r->status != 200) {
        leec_problem *p = r->problem;
        r->problem = NULL;
        Leec_agent_fail(a, LEEC_E_ACME, p, "newAccount refused");
    } else if (!r->location || !Leec_url_ok(r->location)) {
        Leec_agent_fail(a, LEEC_E_PROTOCOL, NULL,
                        "newAccount: no valid account URL");
    } else if (!(a->own_url = strdup(r->location))) {
        Leec_agent_fail(a, LEEC_E_NOMEM, NULL, "out of memory");
    } else {
        Leec_log(a->ctx, LEEC_LOG_INFO,
                 "agent %u (%s): account of its own created: %s", a->id,
                 a->cert_name, a->own_url);
        ready(a);
    }
    a->own_drive(a);
}

static void send_new_account(leec_agent *a)
{
    char *payload = NULL;
    const char *why = NULL;
    leec_code rc = Leec_account_new_payload(a->ctx, a->own_key, &payload, &why);
    if (rc == LEEC_OK)
        rc = Leec_acme_post(a->ctx, LEEC_EP_NEW_ACCOUNT,
                            Leec_session_dir(a->ctx)->new_account, payload,
                            a->own_key, NULL, NULL, on_new_account, a, &a->req);
    free(payload);
    if (rc != LEEC_OK)
        Leec_agent_fail(a, rc, NULL, "%s",
                        why ? why : "cannot send the newAccount request");
}

static void keygen_done(void *ud, leec_code rc, leec_key *key)
{
    leec_agent *a = ud;
    a->keygen = NULL;
    if (rc != LEEC_OK) {
        Leec_agent_fail(a, rc, NULL, "cannot generate the account key");
    } else {
        a->own_key = key;
        send_new_account(a);
    }
    a->own_drive(a);
}

void Leec_agent_account_step(leec_agent *a, void (*drive)(leec_agent *))
{
    leec_ctx *ctx = a->ctx;
    a->own_drive = drive;
    if (a->own_key && a->own_url) {
        ready(a);
        return;
    }
    if (a->req || a->keygen)
        return; /* newAccount or the key under way */
    switch (Leec_dir_state(ctx)) {
    case RES_NONE:
        Leec_directory_ensure(ctx);
        if (Leec_dir_state(ctx) != RES_READY)
            return; /* woken when it resolves */
        break;
    case RES_PENDING:
        return;
    case RES_FAILED: {
        leec_problem *p = NULL;
        leec_code rc = Leec_account_error(ctx, &p);
        Leec_agent_fail(a, rc, p, "%s",
                        Leec_account_errmsg(ctx) ? Leec_account_errmsg(ctx)
                                                 : "no directory");
        return;
    }
    case RES_READY:
        break;
    }
    if (a->own_key) {
        send_new_account(a);
        return;
    }
    leec_key_type type = Leec_account_key_type(ctx);
    if (Leec_key_type_is_slow(type) &&
        Leec_key_job(ctx, type, keygen_done, a, &a->keygen) == LEEC_OK)
        return; /* keygen_done goes on */
    /* Fast, or no thread to be had: generated here. */
    leec_code rc = Leec_key_generate(type, &a->own_key);
    if (rc != LEEC_OK) {
        Leec_agent_fail(a, rc, NULL, "cannot generate the account key");
        return;
    }
    send_new_account(a);
}

void Leec_agent_account_forget(leec_agent *a)
{
    if (!a->own_key)
        return;
    Leec_log(a->ctx, LEEC_LOG_WARN,
             "agent %u (%s): the CA no longer knows its account %s; creating "
             "another",
             a->id, a->cert_name, a->own_url ? a->own_url : "");
    /* Requests signed with it may still be queued: kept until the end. */
    leec_key **v = realloc(a->own_retired, (a->nown_retired + 1) * sizeof *v);
    if (v) {
        a->own_retired = v;
        v[a->nown_retired++] = a->own_key;
    } else {
        Leec_key_free(a->own_key);
    }
    a->own_key = NULL;
    free(a->own_url);
    a->own_url = NULL;
}

void Leec_agent_account_free(leec_agent *a)
{
    Leec_key_free(a->own_key);
    for (size_t i = 0; i < a->nown_retired; i++)
        Leec_key_free(a->own_retired[i]);
    free(a->own_retired);
    free(a->own_url);
    a->own_key = NULL;
    a->own_url = NULL;
    a->own_retired = NULL;
    a->nown_retired = 0;
}
