#define _GNU_SOURCE
/* leec issue --batch FILE: one agent per line of FILE, all in one context
 * and one event loop; the governor in the library paces them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agents.h"
#include "batch.h"
#include "batchfile.h"
#include "issue.h"
#include "lifecycle.h"
#include "progress.h"

#define DRAW_INTERVAL 0.125 /* s: at most 8 redraws a second */
#define POLL_MAX_MS   250   /* so that a signal is noticed promptly */

/* Which name of a line the library refuses (for the message). */
static const char *bad_name(leec_ctx *ctx, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        leec_code rc;
        leec_agent *a = leec_agent_new(ctx, "probe", &names[i], 1, &rc);
        leec_agent_free(a);
        if (!a && rc == LEEC_E_BAD_NAME)
            return names[i];
    }
    return NULL;
}

/* A certificate line of FILE (batchfile.c splits them): its agent,
 * started later. 0, EXIT_USAGE, or 1 (out of memory). */
static int add_cert(void *ud, unsigned line, const char *const *w, size_t nt)
{
    batch *b = ud;
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64;
        batch_cert *v = realloc(b->certs, cap * sizeof *v);
        if (!v)
            return 1;
        b->certs = v;
        b->cap = cap;
    }
    leec_code rc;
    leec_agent *a = leec_agent_new(b->ctx, w[0], w + 1, nt - 1, &rc);
    if (!a) {
        const char *bad;
        if (rc == LEEC_E_BAD_NAME && (bad = bad_name(b->ctx, w + 1, nt - 1)))
            batch_line_error(b->file, line, "invalid domain name", bad, NULL);
        else if (rc == LEEC_E_BAD_NAME)
            batch_line_error(b->file, line, "invalid domain names for", w[0],
                             NULL);
        else if (rc == LEEC_E_INVALID_ARG)
            batch_line_error(b->file, line, "invalid certificate name", w[0],
                             " (letters, digits, '.', '_', '-')");
        else
            batch_line_error(b->file, line, leec_strerror(rc), NULL, NULL);
        return rc == LEEC_E_NOMEM ? 1 : EXIT_USAGE;
    }
    if (agents_setup(a, b->o) != 0)
        return 1;
    batch_cert *c = &b->certs[b->n++];
    memset(c, 0, sizeof *c);
    c->agent = a;
    c->line = line;
    return 0;
}

/* Reads FILE and creates every agent, starting none. 0 or a status. */
static int read_batch(batch *b)
{
    const char *path = b->o->batch;
    bool std = strcmp(path, "-") == 0;
    const issue_feed *feed = b->o->feed;
    if (feed && feed->batch)
        return batch_file_read(feed->batch, b->file, add_cert, b);
    FILE *f = std ? stdin : fopen(path, "r");
    if (!f) {
        fprintf(stderr, "leec: cannot read %s: %s\n", path, strerror(errno));
        return EXIT_USAGE;
    }
    int status = batch_file_read(f, b->file, add_cert, b);
    if (!std)
        fclose(f);
    return status;
}

/* ---- running ---- */

static void on_state(void *ud, leec_agent *agent, leec_agent_state from,
                     leec_agent_state to)
{
    batch_cert *c = ud;
    if (from == LEEC_ST_QUEUED && to != LEEC_ST_QUEUED)
        c->t_start = cli_now_s(); /* its own time starts with its order */
}

/* Records only: output happens in the loop, agents are freed with ctx. */
static void on_done(void *ud, leec_agent *agent, leec_outcome outcome)
{
    batch_cert *c = ud;
    batch *b = c->b;
    if (c->outcome != LEEC_OUTCOME_NONE)
        return;
    c->outcome = outcome == LEEC_OUTCOME_NONE ? LEEC_OUTCOME_FAILED : outcome;
    c->t_done = cli_now_s();
    b->done_order[b->ndone++] = (size_t)(c - b->certs);
    if (c->outcome == LEEC_OUTCOME_ISSUED)
        b->issued++;
    else if (c->outcome == LEEC_OUTCOME_FRESH)
        b->fresh++;
    else if (c->outcome == LEEC_OUTCOME_DEFERRED)
        b->deferred++;
    else
        b->failed++;
}

static void batch_log(void *ud, leec_log_level level, const char *msg)
{
    const batch *b = ud;
    if (b->pv)
        progress_clear(b->pv);
    if (b->o->feed && b->o->feed->log) /* leec daemon --syslog's */
        b->o->feed->log(b->o->feed->ud, level, msg);
    else
        cli_log(NULL, level, msg);
}

static json_t *names_json(const leec_agent *a)
{
    const char *const *names;
    size_t n = leec_agent_names(a, &names);
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        json_array_append_new(arr, json_string(names[i]));
    return arr;
}

/* Output for the certificates finished since the last call. */
static void report_done(batch *b)
{
    const ca_opts *o = b->o;
    leec_store *store = leec_ctx_get_store(b->ctx);
    while (b->nreported < b->ndone) {
        batch_cert *c = &b->certs[b->done_order[b->nreported++]];
        const char *name = leec_agent_cert_name(c->agent);
        if (o->feed && o->feed->on_result) { /* its caller tells it */
            json_t *j =
                agents_result_json(c->agent, store, names_json(c->agent), -1,
                                   c->t_done - c->t_start);
            o->feed->on_result(o->feed->ud, c->agent, c->outcome, j);
            json_decref(j);
            continue;
        }
        if (o->json) {
            json_t *j =
                agents_result_json(c->agent, store, names_json(c->agent), -1,
                                   c->t_done - c->t_start);
            char *s =
                j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
            if (s) {
                fputs(s, stdout);
                fputc('\n', stdout);
                fflush(stdout);
            }
            free(s);
            json_decref(j);
        }
        if (c->outcome == LEEC_OUTCOME_FAILED) {
            char *text = agents_failure_text(c->agent);
            if (b->pv)
                progress_clear(b->pv);
            fprintf(stderr, "leec: %s failed: %s\n", name,
                    text ? text : leec_agent_error_message(c->agent));
            free(text);
        } else if (!o->quiet && !b->pv && leec_agent_resumed(c->agent)) {
            fprintf(stderr, "leec: %s %s (resumed order %s)\n", name,
                    agents_outcome_name(c->outcome),
                    leec_agent_order_url(c->agent));
        } else if (!o->quiet && !b->pv) {
            fprintf(stderr, "leec: %s %s\n", name,
                    agents_outcome_name(c->outcome));
        }
    }
}

static void summary(const batch *b, double elapsed)
{
    leec_store *store = leec_ctx_get_store(b->ctx);
    int w = (int)strlen("CERT-NAME");
    for (size_t i = 0; i < b->n; i++) {
        size_t len = strlen(leec_agent_cert_name(b->certs[i].agent));
        if (len > (size_t)w)
            w = len > 48 ? 48 : (int)len;
    }
    printf("%-*s  %-7s  %s\n", w, "CERT-NAME", "OUTCOME", "DETAIL");
    for (size_t i = 0; i < b->n; i++) {
        const batch_cert *c = &b->certs[i];
        const char *name = leec_agent_cert_name(c->agent);
        char *detail = c->outcome == LEEC_OUTCOME_FAILED
                           ? agents_failure_text(c->agent)
                           : leec_store_live_path(store, name);
        printf("%-*s  %-7s  %s\n", w, name,
               c->outcome == LEEC_OUTCOME_NONE
                   ? "-"
                   : agents_outcome_name(c->outcome),
               detail ? detail : "");
        free(detail);
    }
    size_t fin = b->issued + b->fresh + b->failed + b->deferred;
    if (b->deferred)
        printf("%zu deferred (backing off after failed renewals)\n",
               b->deferred);
    printf("%zu issued, %zu fresh, %zu failed in %.2f s (%.2f certificates/s, "
           "%lu HTTP requests)\n",
           b->issued, b->fresh, b->failed, elapsed,
           elapsed > 0 ? (double)fin / elapsed : 0.0,
           leec_ctx_request_count(b->ctx));
}

static leec_code run(batch *b)
{
    leec_code rc = LEEC_OK;
    double next_draw = 0;
    int running = 1;
    while (!ca_stop_turn(b->ctx)) {
        if ((rc = leec_ctx_perform(b->ctx, &running)) != LEEC_OK)
            break;
        report_done(b);
        /* The library logs a pause when it begins (a warning); the live
         * view shows it from leec_ctx_paused_until. */
        if (!running)
            break;
        int timeout = POLL_MAX_MS;
        if (b->pv) {
            double now = cli_now_s();
            if (now >= next_draw) {
                progress_draw(b->pv, b, now);
                next_draw = now + DRAW_INTERVAL;
            }
            double ms = (next_draw - now) * 1000.0 + 1; /* round up */
            if (ms < timeout)
                timeout = ms < 0 ? 0 : (int)ms;
        }
        if ((rc = leec_ctx_poll(b->ctx, timeout)) != LEEC_OK)
            break;
    }
    return rc;
}

int batch_issue(const ca_opts *o)
{
    batch bt;
    batch *b = &bt;
    memset(b, 0, sizeof *b);
    b->o = o;
    b->file = strcmp(o->batch, "-") == 0 ? "stdin" : o->batch;
    b->t0 = cli_now_s();
    int status = 1;
    lc_hooks hooks;
    lc_hooks_init(&hooks, NULL, agents_opts_of, (void *)o);
    if (!(b->ctx = ca_ctx_new(o, batch_log, b, &status)))
        return status;
    /* Every line is checked before anything is written or sent. */
    if ((status = read_batch(b)) != 0)
        goto out;
    status = 1;
    if (ca_open_store(b->ctx, o) != 0)
        goto out;
    if (!(b->done_order = calloc(b->n, sizeof *b->done_order))) {
        fputs("leec: out of memory\n", stderr);
        goto out;
    }
    leec_agent **agents = calloc(b->n, sizeof *agents);
    if (!agents) {
        fputs("leec: out of memory\n", stderr);
        goto out;
    }
    for (size_t i = 0; i < b->n; i++)
        agents[i] = b->certs[i].agent;
    int lst = agents_listen(b->ctx, o, agents, b->n);
    free(agents);
    if (lst != 0)
        goto out;
    lc_hooks_init(&hooks, leec_ctx_get_store(b->ctx), agents_opts_of,
                  (void *)o);
    leec_ctx_set_hook_fn(b->ctx, lc_hook_fn, &hooks);
    if (isatty(STDERR_FILENO) && !o->quiet && !o->json && !o->feed)
        b->pv = progress_new(STDERR_FILENO);
    ca_stop_describe(o);
    ca_signals();
    double t = cli_now_s();
    for (size_t i = 0; i < b->n; i++) {
        batch_cert *c = &b->certs[i];
        c->b = b;
        c->t_start = t;
        leec_agent_set_callbacks(c->agent, on_state, on_done, c);
        leec_code rc = leec_agent_start(c->agent);
        if (rc != LEEC_OK) {
            fprintf(stderr, "leec: %s: %s\n", leec_agent_cert_name(c->agent),
                    leec_strerror(rc));
            goto out;
        }
    }
    leec_code rc = run(b);
    progress_free(b->pv);
    b->pv = NULL;
    if ((status = ca_run_status(rc)) != 0)
        goto out;
    report_done(b);
    if (!o->json && !o->quiet && !o->feed)
        summary(b, cli_now_s() - b->t0);
    status = b->failed == 0 && b->ndone == b->n ? 0 : 1;
out:
    progress_free(b->pv);
    b->pv = NULL;
    /* Before the records: callbacks may still run while agents are freed. */
    leec_ctx_free(b->ctx);
    lc_hooks_finish(&hooks);
    if (hooks.failed && status == 0)
        status = 1;
    free(b->done_order);
    free(b->certs);
    return status;
}
