/* The agent object: creation, settings, accessors and freeing. Its state
 * machine is in agent.c. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/agent_internal.h"
#include "engine/workers.h"
#include "util/json.h"
#include "util/names.h"
#include "acme/problem.h"
#include "solver/webroot.h"
#include "store/store.h"

/* ------------------------------------------------------------------ */
/* The context's agents                                                */
/* ------------------------------------------------------------------ */

/* Private to this file: the context's agents, oldest first. */
struct leec_agents {
    leec_agent **v;
    size_t n, cap;
    unsigned ids; /* the last id given, for logs */
    bool reap;    /* some agent awaits its deferred free */
};

leec_code Leec_agents_attach(leec_ctx *ctx)
{
    struct leec_agents *as = calloc(1, sizeof *as);
    if (!as)
        return LEEC_E_NOMEM;
    Leec_ctx_set_agents(ctx, as);
    return LEEC_OK;
}

void Leec_agents_detach(leec_ctx *ctx)
{
    struct leec_agents *as = Leec_ctx_agents(ctx);
    if (!as)
        return;
    while (as->n)
        Leec_agent_destroy(as->v[as->n - 1]);
    free(as->v);
    free(as);
    Leec_ctx_set_agents(ctx, NULL);
}

size_t Leec_agents_count(const leec_ctx *ctx)
{
    return Leec_ctx_agents(ctx)->n;
}

leec_agent *Leec_agents_at(const leec_ctx *ctx, size_t i)
{
    return Leec_ctx_agents(ctx)->v[i];
}

void Leec_agents_reap(leec_ctx *ctx)
{
    struct leec_agents *as = Leec_ctx_agents(ctx);
    if (!as->reap)
        return;
    as->reap = false;
    for (size_t i = as->n; i-- > 0;)
        if (Leec_agent_zombie(as->v[i]))
            Leec_agent_destroy(as->v[i]);
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                          */
/* ------------------------------------------------------------------ */

leec_agent *leec_agent_new(leec_ctx *ctx, const char *cert_name,
                           const char *const *names, size_t n, leec_code *err)
{
    leec_code rc = LEEC_E_NOMEM;
    leec_agent *a = NULL;
    if (!ctx) {
        rc = LEEC_E_INVALID_ARG;
        goto fail;
    }
    if (!(a = calloc(1, sizeof *a)))
        goto fail;
    a->ctx = ctx;
    a->deadline = -1;
    if (!(a->solver = Leec_ctx_default_solver(ctx)))
        goto fail;
    if ((rc = Leec_names_normalize(names, n, LEEC_MAX_NAMES, &a->names,
                                   &a->nnames, NULL)) != LEEC_OK)
        goto fail;
    rc = LEEC_E_NOMEM;
    const char *cn = cert_name ? cert_name : a->names[0];
    if (!cert_name && strncmp(cn, "*.", 2) == 0)
        cn += 2; /* "*.example.com" is stored as example.com */
    if (!(a->cert_name = cert_name ? strdup(cn) : Leec_name_store_default(cn)))
        goto fail;
    if (!Leec_store_name_valid(a->cert_name)) {
        rc = LEEC_E_INVALID_ARG;
        goto fail;
    }
    struct leec_agents *as = Leec_ctx_agents(ctx);
    if (as->n == as->cap) {
        size_t cap = as->cap ? as->cap * 2 : 8;
        leec_agent **v = realloc(as->v, cap * sizeof *v);
        if (!v)
            goto fail;
        as->v = v;
        as->cap = cap;
    }
    a->id = ++as->ids;
    as->v[as->n++] = a;
    if (err)
        *err = LEEC_OK;
    return a;
fail:
    if (a) {
        Leec_names_free(a->names, a->nnames);
        free(a->cert_name);
        free(a);
    }
    if (err)
        *err = rc;
    return NULL;
}

void Leec_agent_destroy(leec_agent *a)
{
    if (!a)
        return;
    leec_ctx *ctx = a->ctx;
    struct leec_agents *as = Leec_ctx_agents(ctx);
    Leec_acme_cancel(ctx, a->req);
    Leec_job_cancel(ctx, a->keygen);
    Leec_agent_journal_forget(a);
    Leec_agent_solvers_cleanup(a);
    Leec_agent_release(a, false);
    Leec_agent_stop_ordering(a);
    /* From the end: contexts free their agents last to first. */
    for (size_t i = as->n; i-- > 0;) {
        if (as->v[i] == a) {
            memmove(&as->v[i], &as->v[i + 1], (as->n - i - 1) * sizeof *as->v);
            as->n--;
            break;
        }
    }
    Leec_agent_authz_clear(a);
    Leec_agent_account_free(a);
    Leec_names_free(a->names, a->nnames);
    Leec_names_free(a->regdoms, a->nregdoms);
    free(a->cert_name);
    free(a->order_url);
    free(a->finalize_url);
    free(a->cert_url);
    Leec_key_free(a->cert_key);
    free(a->cert_pem);
    free(a->chain_pem);
    free(a->seen_serial);
    free(a->errmsg);
    Leec_problem_free(a->problem);
    free(a->preferred_chain);
    free(a->profile);
    free(a->ari_id);
    Leec_json_free(a->settings);
    Leec_renewal_clear(&a->rs);
    for (size_t i = 0; i < a->nalt; i++)
        free(a->alt_urls[i]);
    free(a);
}

void leec_agent_free(leec_agent *a)
{
    if (!a)
        return;
    if (Leec_ctx_depth(a->ctx) > 0) {
        /* Inside a callback: the loop still holds pointers to us. */
        Leec_acme_cancel(a->ctx, a->req);
        a->req = NULL;
        Leec_job_cancel(a->ctx, a->keygen);
        a->keygen = NULL;
        Leec_agent_solvers_cleanup(a);
        Leec_agent_release(a, false);
        Leec_agent_stop_ordering(a);
        a->zombie = true;
        a->deadline = -1;
        Leec_ctx_agents(a->ctx)->reap = true;
        return;
    }
    Leec_agent_destroy(a);
}

leec_code leec_agent_set_key_type(leec_agent *a, leec_key_type type)
{
    if (a->state != LEEC_ST_IDLE)
        return LEEC_E_STATE;
    if (!leec_key_type_name(type))
        return LEEC_E_INVALID_ARG;
    a->key_type = type;
    a->key_type_set = true;
    return LEEC_OK;
}

/* A copy of an option string (NULL clears): short and printable. */
static leec_code set_opt_str(leec_agent *a, char **slot, const char *v)
{
    if (a->state != LEEC_ST_IDLE)
        return LEEC_E_STATE;
    char *c = NULL;
    if (v) {
        size_t n = strlen(v);
        if (n == 0 || n > 256)
            return LEEC_E_INVALID_ARG;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
                return LEEC_E_INVALID_ARG;
        if (!(c = strdup(v)))
            return LEEC_E_NOMEM;
    }
    free(*slot);
    *slot = c;
    return LEEC_OK;
}

leec_code leec_agent_set_preferred_chain(leec_agent *a, const char *cn)
{
    return set_opt_str(a, &a->preferred_chain, cn);
}

leec_code leec_agent_set_profile(leec_agent *a, const char *name)
{
    return set_opt_str(a, &a->profile, name);
}

leec_code leec_agent_set_webroot(leec_agent *a, const char *dir)
{
    if (a->state != LEEC_ST_IDLE)
        return LEEC_E_STATE;
    leec_code rc = LEEC_OK;
    leec_solver *s = dir ? leec_ctx_solver_webroot(a->ctx, dir, &rc)
                         : Leec_ctx_default_solver(a->ctx);
    if (!s)
        return rc != LEEC_OK ? rc : LEEC_E_NOMEM;
    a->solver = s;
    return LEEC_OK;
}

leec_code leec_agent_set_solver(leec_agent *a, leec_solver *solver)
{
    if (a->state != LEEC_ST_IDLE)
        return LEEC_E_STATE;
    if (!solver || Leec_solver_ctx(solver) != a->ctx)
        return LEEC_E_INVALID_ARG;
    a->solver = solver;
    return LEEC_OK;
}

void leec_agent_set_force(leec_agent *a, bool force)
{
    a->force = force;
}

void leec_agent_set_reuse_key(leec_agent *a, bool reuse)
{
    a->reuse_key = reuse;
}

#define SETTINGS_MAX (64 * 1024)

leec_code leec_agent_set_settings(leec_agent *a, const char *json)
{
    leec_json *o = NULL;
    if (a->state != LEEC_ST_IDLE)
        return LEEC_E_STATE;
    if (json) {
        size_t n = strlen(json);
        if (n > SETTINGS_MAX)
            return LEEC_E_INVALID_ARG;
        leec_code rc = Leec_json_parse_object(json, n, &o);
        if (rc != LEEC_OK)
            return rc == LEEC_E_NOMEM ? rc : LEEC_E_INVALID_ARG;
    }
    Leec_json_free(a->settings);
    a->settings = o;
    return LEEC_OK;
}

void leec_agent_set_callbacks(leec_agent *a, leec_state_fn on_state,
                              leec_done_fn on_done, void *userdata)
{
    a->on_state = on_state;
    a->on_done = on_done;
    a->ud = userdata;
}

leec_agent_state leec_agent_get_state(const leec_agent *a)
{
    return a->state;
}
leec_outcome leec_agent_get_outcome(const leec_agent *a)
{
    return a->outcome;
}
const char *leec_agent_cert_name(const leec_agent *a)
{
    return a->cert_name;
}
leec_code leec_agent_error(const leec_agent *a)
{
    return a->err;
}
const leec_problem *leec_agent_problem(const leec_agent *a)
{
    return a->problem;
}
time_t leec_agent_retry_at(const leec_agent *a)
{
    return a->state == LEEC_ST_FAILED ? a->retry_at : 0;
}
const char *leec_agent_cert_pem(const leec_agent *a)
{
    return a->cert_pem;
}
const char *leec_agent_order_url(const leec_agent *a)
{
    return a ? a->order_url : NULL;
}
bool leec_agent_resumed(const leec_agent *a)
{
    return a && a->resumed;
}
int64_t Leec_agent_deadline(const leec_agent *a)
{
    return a->zombie ? -1 : a->deadline;
}
bool Leec_agent_running(const leec_agent *a)
{
    return !a->zombie && a->started && a->state != LEEC_ST_DONE &&
           a->state != LEEC_ST_FAILED;
}
bool Leec_agent_zombie(const leec_agent *a)
{
    return a->zombie;
}

leec_wait_reason leec_agent_wait(const leec_agent *a, time_t *until)
{
    leec_wait_reason w = a->wait;
    int64_t end = a->wait_until;
    if (w == LEEC_WAIT_NONE && Leec_agent_running(a))
        w = Leec_acme_held(a->ctx, a->req, &end);
    if (until) {
        int64_t now = Leec_now_ms(a->ctx);
        *until = w != LEEC_WAIT_NONE && end >= 0
                     ? time(NULL) + (time_t)((end - now + 999) / 1000)
                     : 0;
    }
    return w;
}

size_t leec_agent_names(const leec_agent *a, const char *const **names)
{
    if (names)
        *names = (const char *const *)a->names;
    return a->nnames;
}

size_t leec_ctx_stop(leec_ctx *ctx)
{
    size_t n = 0;
    for (size_t i = 0; i < Leec_agents_count(ctx); i++)
        if (Leec_agent_running(Leec_agents_at(ctx, i)))
            n += Leec_agent_stop(Leec_agents_at(ctx, i));
    return n;
}
