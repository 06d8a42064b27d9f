/* The context's public calls that drive everything: its creation and end,
 * perform, the next timeout, poll and run. The top of the engine: it calls
 * the objects the context owns, which never call it back (a file below
 * asks for the agents to be woken with Leec_ctx_wake_agents, read here). */
#define _GNU_SOURCE
#include <stdlib.h>

#include "engine/internal.h"
#include "engine/workers.h"
#include "net/http01_server.h"
#include "util/loop.h"

leec_ctx *leec_ctx_new(void)
{
    leec_ctx *ctx = Leec_ctx_alloc();
    if (!ctx)
        return NULL;
    if (Leec_session_attach(ctx) != LEEC_OK ||
        Leec_queue_attach(ctx) != LEEC_OK ||
        Leec_ctx_ops_attach(ctx) != LEEC_OK ||
        Leec_agents_attach(ctx) != LEEC_OK) {
        leec_ctx_free(ctx);
        return NULL;
    }
    return ctx;
}

void leec_ctx_free(leec_ctx *ctx)
{
    if (!ctx)
        return;
    Leec_agents_detach(ctx); /* first: they use everything else */
    Leec_ctx_ops_detach(ctx);
    Leec_ctx_free_solvers(ctx); /* after the agents, before the loop */
    Leec_session_detach(ctx);
    /* Their jobs cancelled by now: the threads end, nothing completes. */
    Leec_workers_free(Leec_ctx_workers(ctx));
    Leec_queue_detach(ctx);
    Leec_ctx_dealloc(ctx);
}

/* Wakes the agents (oldest first) after the account, the directory or an
 * order slot came: each looks again, in its own driver. */
static void wake_all(leec_ctx *ctx)
{
    for (size_t i = 0; i < Leec_agents_count(ctx); i++)
        Leec_agent_wake(Leec_agents_at(ctx, i));
}

leec_code leec_ctx_perform(leec_ctx *ctx, int *running)
{
    leec_code rc = LEEC_OK;
    Leec_ctx_depth_add(ctx, 1);
    if (Leec_ctx_transport(ctx))
        rc = Leec_http_perform(Leec_ctx_transport(ctx));
    if (Leec_ctx_http01_server(ctx)) {
        /* Answers that came are given before any deadline is judged:
         * after a stop (SIGSTOP, a paused VM) every deadline has passed at
         * once, and the answer may be waiting unread. */
        if (Leec_http01_server_waiting(Leec_ctx_http01_server(ctx)))
            Leec_ctx_token_answers(ctx);
        Leec_http01_server_run(Leec_ctx_http01_server(ctx));
    }
    Leec_loop_run(ctx);
    /* Also when its descriptor did not wake us: a connection that broke
     * is found here, and its writers told. */
    Leec_ctx_store_async(ctx);
    int64_t now = Leec_now_ms(ctx);
    int64_t retry_at = Leec_account_retry_at(ctx);
    if (retry_at >= 0 && retry_at <= now)
        Leec_account_on_timer(ctx);
    /* Index loop: timers may add requests but never add agents. */
    for (size_t i = 0; i < Leec_agents_count(ctx); i++) {
        leec_agent *a = Leec_agents_at(ctx, i);
        int64_t d = Leec_agent_deadline(a);
        if (d >= 0 && d <= now)
            Leec_agent_on_timer(a);
    }
    if (Leec_ctx_take_wake(ctx))
        wake_all(ctx);
    Leec_ctx_ops_perform(ctx);
    (void)Leec_acme_release(ctx);
    /* Requests started above go out now rather than after the next wait. */
    if (Leec_ctx_transport(ctx) && rc == LEEC_OK)
        rc = Leec_http_perform(Leec_ctx_transport(ctx));
    if (Leec_ctx_depth_add(ctx, -1) == 0)
        Leec_agents_reap(ctx);
    /* Writes sent above (a solver's token, a journal entry): watched
     * before the program waits. */
    Leec_ctx_store_async_watch(ctx);
    if (running) {
        int n = 0;
        for (size_t i = 0; i < Leec_agents_count(ctx); i++)
            n += Leec_agent_running(Leec_agents_at(ctx, i));
        /* A record still being removed keeps the loop going: callers stop
         * when nothing runs, and must not leave DNS records behind. */
        *running =
            n + (int)Leec_ctx_ops_pending(ctx) + (Leec_ctx_cleanups(ctx) > 0);
    }
    return rc;
}

static void earliest(long *best, int64_t deadline, int64_t now)
{
    if (deadline < 0)
        return;
    long t = deadline <= now ? 0 : (long)(deadline - now);
    if (*best < 0 || t < *best)
        *best = t;
}

long leec_ctx_timeout_ms(leec_ctx *ctx)
{
    int64_t now = Leec_now_ms(ctx);
    long best = -1;
    if (Leec_ctx_wake_pending(ctx) || Leec_ctx_ops_due(ctx))
        return 0;
    for (size_t i = 0; i < Leec_agents_count(ctx); i++)
        earliest(&best, Leec_agent_deadline(Leec_agents_at(ctx, i)), now);
    earliest(&best, Leec_account_retry_at(ctx), now);
    earliest(&best, Leec_loop_next_timer(ctx), now);
    earliest(&best, Leec_acme_next_release(ctx), now);
    if (Leec_ctx_transport(ctx)) {
        long t = Leec_http_timeout_ms(Leec_ctx_transport(ctx));
        if (t >= 0 && (best < 0 || t < best))
            best = t;
    }
    if (Leec_ctx_http01_server(ctx)) {
        long t = Leec_http01_server_timeout_ms(Leec_ctx_http01_server(ctx));
        if (t >= 0 && (best < 0 || t < best))
            best = t;
    }
    return best;
}

leec_code leec_ctx_poll(leec_ctx *ctx, int timeout_ms)
{
    /* A wait, nothing more: the transport comes with the first agent or
     * operation, and its descriptor joins epfd then. */
    long t = leec_ctx_timeout_ms(ctx);
    if (t < 0 || (timeout_ms >= 0 && t > timeout_ms))
        t = timeout_ms;
    if (t < 0)
        t = 1000; /* nothing scheduled at all: look again in a while */
    return Leec_loop_wait(ctx, (int)t);
}

leec_code leec_ctx_run(leec_ctx *ctx)
{
    for (;;) {
        int running = 0;
        leec_code rc = leec_ctx_perform(ctx, &running);
        if (rc != LEEC_OK)
            return rc;
        if (!running)
            return LEEC_OK;
        if ((rc = leec_ctx_poll(ctx, -1)) != LEEC_OK)
            return rc;
    }
}
