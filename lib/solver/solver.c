/* The library's side of the solver interface (see solver.h): one record per
 * presentation, from present to the end of its cleanup. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/loop.h"
#include "util/log.h"
#include "solver/solver.h"

/* The handle: ops, impl and the presentations. Private to this file. */
struct leec_solver {
    const leec_solver_ops *ops;
    void *impl;
    leec_ctx *ctx;
    struct leec_presentation *open; /* presentations not cleaned up yet,
                                       and clean-ups under way */
    bool dying;                     /* destroy is running */
};

typedef struct leec_presentation pres;

struct leec_presentation {
    leec_solver *s;
    pres *prev, *next; /* in s->open */
    void *op;          /* the implementation's handle */
    bool cleaning;     /* cleanup has been called */
    bool declined;     /* present declined: no cleanup is owed to it */
    bool in_call;      /* inside the implementation's present or cleanup */
    /* The caller's callback; NULL once reported (or cancelled). */
    leec_solver_done_fn done;
    void *ud;
    /* A result waiting to be delivered: held inside the call, or until
     * the timer runs. */
    bool held;
    leec_code rc;
    char *msg;
    leec_timer *timer;
};

static void drop_result(pres *p)
{
    Leec_loop_timer_cancel(p->s->ctx, p->timer);
    p->timer = NULL;
    free(p->msg);
    p->msg = NULL;
    p->held = false;
}

static void pres_free(pres *p)
{
    if (!p)
        return;
    drop_result(p);
    if (p->prev)
        p->prev->next = p->next;
    else if (p->s->open == p)
        p->s->open = p->next;
    if (p->next)
        p->next->prev = p->prev;
    free(p);
}

/* Reports the held result to the caller. After a cleanup the record ends
 * here; after a present the caller may clean it up from inside done, so
 * nothing of p is touched after the call. */
static void deliver(pres *p)
{
    leec_solver_done_fn done = p->done;
    void *ud = p->ud;
    leec_code rc = p->rc;
    char *msg = p->msg;

    p->msg = NULL;
    p->done = NULL;
    p->held = false;
    Leec_loop_timer_cancel(p->s->ctx, p->timer);
    p->timer = NULL;
    if (p->cleaning)
        pres_free(p);
    if (done)
        done(ud, rc, msg);
    free(msg);
}

static void on_timer(void *userdata)
{
    pres *p = userdata;
    p->timer = NULL; /* the loop has freed it */
    deliver(p);
}

static void hold(pres *p, leec_code rc, const char *msg)
{
    drop_result(p);
    p->held = true;
    p->rc = rc;
    p->msg = msg ? strdup(msg) : NULL; /* out of memory: the code says it */
}

/* A done from the implementation: kept, and delivered when its call has
 * returned, or from the loop. */
static void take(pres *p, leec_code rc, const char *msg)
{
    leec_ctx *ctx = p->s->ctx;

    if (p->s->dying || p->held || !p->done)
        return; /* a second report, or nobody listens any more */
    hold(p, rc, msg);
    if (p->in_call)
        return;
    p->timer = Leec_loop_timer(ctx, Leec_now_ms(ctx), on_timer, p);
    if (!p->timer)
        deliver(p); /* out of memory: now rather than never */
}

static void present_done(void *arg, leec_code rc, const char *msg)
{
    pres *p = arg;
    if (!p->cleaning)
        take(p, rc, msg);
}

static void cleanup_done(void *arg, leec_code rc, const char *msg)
{
    pres *p = arg;
    if (p->cleaning)
        take(p, rc, msg);
}

leec_code Leec_solver_present(leec_solver *s, const leec_challenge *ch,
                              leec_solver_done_fn done, void *userdata,
                              void **op)
{
    pres *p = calloc(1, sizeof *p);
    leec_status st;

    *op = NULL;
    if (!p)
        return LEEC_E_NOMEM;
    p->s = s;
    p->done = done;
    p->ud = userdata;
    p->next = s->open;
    if (s->open)
        s->open->prev = p;
    s->open = p;
    p->in_call = true;
    st = s->ops->present(s->impl, ch, present_done, p, &p->op);
    p->in_call = false;
    switch (st) {
    case LEEC_STATUS_DONE:
        hold(p, LEEC_OK, NULL); /* what it returned, whatever it called */
        break;
    case LEEC_STATUS_PENDING:
        break;
    case LEEC_STATUS_DECLINED: {
        char *msg = NULL;
        p->declined = true;
        if (asprintf(&msg, "declined %s", ch->type) < 0)
            msg = NULL;
        hold(p, LEEC_E_NO_CHALLENGE, msg);
        free(msg);
        break;
    }
    case LEEC_STATUS_FAILED:
    default:
        pres_free(p);
        return LEEC_E_SOLVER;
    }
    *op = p;
    if (p->held)
        deliver(p); /* p may be gone now */
    return LEEC_OK;
}

void Leec_solver_cleanup(leec_solver *s, void *opv, bool valid,
                         leec_solver_done_fn done, void *userdata)
{
    pres *p = opv;
    leec_status st = LEEC_STATUS_DONE;

    if (!p) {
        if (done)
            done(userdata, LEEC_OK, NULL);
        return;
    }
    /* A present still under way is cancelled: its done is not delivered. */
    drop_result(p);
    p->cleaning = true;
    p->done = done;
    p->ud = userdata;
    if (!p->declined) {
        p->in_call = true;
        st = s->ops->cleanup(s->impl, p->op, valid, done ? cleanup_done : NULL,
                             done ? p : NULL);
        p->in_call = false;
    }
    if (!done) {
        /* Its failure was the implementation's to log. */
        if (st == LEEC_STATUS_PENDING)
            Leec_log(s->ctx, LEEC_LOG_WARN,
                     "%s: clean-up left unfinished when it had to end",
                     s->ops->name);
        pres_free(p);
        return;
    }
    if (!p->held) {
        if (st == LEEC_STATUS_PENDING)
            return; /* cleanup_done says when */
        if (st == LEEC_STATUS_DONE)
            hold(p, LEEC_OK, NULL);
        else
            hold(p, LEEC_E_SOLVER, NULL);
    }
    deliver(p);
}

leec_solver *Leec_solver_new(leec_ctx *ctx, const leec_solver_ops *ops,
                             void *impl, leec_code *err)
{
    leec_solver *s = NULL;
    leec_code rc = LEEC_E_INVALID_ARG;

    if (!ctx || !ops || !ops->present || !ops->cleanup || !ops->name ||
        (ops->type && !*ops->type)) {
        if (ctx)
            Leec_log(ctx, LEEC_LOG_ERROR,
                     "solver: its operations need present, cleanup and a "
                     "name, and a type that is NULL or not empty");
        goto fail;
    }
    rc = LEEC_E_NOMEM;
    if (!(s = calloc(1, sizeof *s)))
        goto fail;
    s->ops = ops;
    s->impl = impl;
    s->ctx = ctx;
    if (err)
        *err = LEEC_OK;
    return s;
fail:
    if (ops && ops->destroy)
        ops->destroy(impl);
    if (err)
        *err = rc;
    return NULL;
}

void Leec_solver_free(leec_solver *s)
{
    if (!s)
        return;
    s->dying = true;
    if (s->ops->destroy)
        s->ops->destroy(s->impl);
    /* Clean-ups the destroy finished or abandoned. */
    while (s->open)
        pres_free(s->open);
    free(s);
}

void *Leec_solver_impl(const leec_solver *s, const leec_solver_ops *ops)
{
    return s && s->ops == ops ? s->impl : NULL;
}

const leec_solver_ops *Leec_solver_ops(const leec_solver *s)
{
    return s->ops;
}

leec_ctx *Leec_solver_ctx(const leec_solver *s)
{
    return s->ctx;
}
