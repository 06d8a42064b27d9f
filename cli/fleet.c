#define _GNU_SOURCE
/* leec daemon on a store shared by a fleet (--store postgresql://...): one
 * node of several. It claims the certificates that are due (wanted ones
 * without a version, renewals whose time has come) in batches under
 * leases, orders them through one context, answers any node's http-01
 * token on --http-listen, renews all its leases with one heartbeat, stops
 * working on its certificates when it cannot reach the store before their
 * leases can expire, and keeps DIR/live/ (a folder store) in sync with the
 * shared store for the web server on this machine, running --deploy-hook
 * when its copy changes. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agents.h"
#include "events.h"
#include "fleet_sync.h"
#include "hookrun.h"
#include "lifecycle.h"
#include "metrics.h"

#define FL_LEASE_TTL_S      30
#define FL_CLAIM_INTERVAL_S 5
#define FL_SYNC_INTERVAL_S  60
#define FL_POLL_MAX_MS      250 /* a signal is noticed promptly */
#define FL_HOOK_TIMEOUT_S   600
#define FL_SKIP_S           3600 /* a certificate this node cannot order */

typedef struct fl_opts {
    ca_opts o; /* the context's: --server, --ca-bundle, limits, waits */
    const char *node;
    const char *http_listen;
    const char *deploy_hook;
    const char *metrics_listen;
    unsigned lease_ttl, claim_interval, claim_batch, sync_interval;
    bool json;
} fl_opts;

typedef struct fleet fleet;

/* A certificate this node claimed. */
typedef struct fl_cert {
    fleet *f;
    char *name;
    uint64_t token; /* the claim's fencing token */
    json_t *doc;    /* {"names", "settings"}: owns the strings of o */
    ca_opts o;
    const char **names;
    size_t nnames;
    leec_agent *agent;
    double t0; /* started (monotonic) */
} fl_cert;

struct fleet {
    fl_opts *fo;
    leec_ctx *ctx;
    leec_store *store; /* the context's, shared */
    fl_sync *sync;     /* DIR: this machine's copy, kept by its thread */
    fl_cert **work;    /* claimed, in flight */
    size_t nwork, capwork;
    agents_solvers solvers;
    double last_ok; /* the last heartbeat that succeeded (monotonic) */
    bool more;      /* the last claim filled its room: more is due */
    bool paused;    /* self-fenced: the store cannot be reached */
    unsigned issued, failed;
    cli_metrics *metrics;     /* --metrics-listen, or NULL */
    void (*on_hup)(void *ud); /* SIGHUP: the caller's (its config file) */
    void *hup_ud;
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int verbosity;
/* --json (set before the loop and the copy's thread start): an error is an
 * "error" event too, unless FL_TOLD is or'ed into its level (a
 * certificate event tells it). */
static bool json_events;
#define FL_TOLD 0x10

static void fl_log(void *ud, leec_log_level level, const char *msg)
{
    (void)ud;
    static const char *const tag[] = {"error: ", "warning: ", "", ""};
    fprintf(stderr, "leec: %s%s\n", tag[level], msg);
}

static void say(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say(int level, const char *fmt, ...)
{
    /* 0 error, 1 warning, 2 notice, 3 info, 4 debug */
    bool event = json_events && level == 0;
    level &= ~FL_TOLD;
    if (level > 2 + verbosity)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (event && vasprintf(&msg, fmt, ap) >= 0)
        jo_event("error", json_pack("{s:s}", "error", msg));
    free(msg);
    va_end(ap);
    va_start(ap, fmt);
    /* One line at a time: the copy's thread says things too. */
    flockfile(stderr);
    fputs(level == 0   ? "leec: error: "
          : level == 1 ? "leec: warning: "
                       : "leec: ",
          stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    funlockfile(stderr);
    va_end(ap);
}

/* ---- the work: claimed certificates ---- */

static void cert_free(fl_cert *c)
{
    if (!c)
        return;
    leec_agent_free(c->agent);
    json_decref(c->doc);
    free(c->o.settings);
    free(c->names);
    free(c->name);
    free(c);
}

static void work_remove(fleet *f, fl_cert *c)
{
    for (size_t i = 0; i < f->nwork; i++)
        if (f->work[i] == c) {
            f->work[i] = f->work[--f->nwork];
            break;
        }
}

/* This node's counters, on the loop's thread (the context's own): after
 * each certificate, so that its result and its requests show together,
 * and every --sync-interval. */
static void metrics_counters(fleet *f)
{
    metrics_set_ctx(
        f->metrics,
        leec_server_url(f->fo->o.server ? f->fo->o.server : "letsencrypt"),
        f->ctx);
}

/* When name next needs a look, written under its claim of token (when the
 * agent still held its own lease, the engine wrote it before letting it
 * go, and this one is refused: no harm), then the claim let go. */
static void finish(fleet *f, const char *name, uint64_t token, int64_t when)
{
    leec_code rc = leec_store_schedule(f->store, name, when, token);
    if (rc != LEEC_OK && rc != LEEC_E_FENCED)
        say(1, "%s: cannot record when to look at it next: %s", name,
            leec_strerror(rc));
    leec_store_unclaim(f->store, name);
}

static void on_done(void *ud, leec_agent *agent, leec_outcome outcome)
{
    fl_cert *c = ud;
    fleet *f = c->f;
    /* A failure of the store (it restarted, the network) is not the CA's:
     * looked at again soon, not after the usual wait. */
    bool store_failed = outcome == LEEC_OUTCOME_FAILED &&
                        (leec_agent_error(agent) == LEEC_E_IO ||
                         leec_agent_error(agent) == LEEC_E_FENCED);
    int64_t when =
        (int64_t)time(NULL) +
        (store_failed ? (int64_t)f->fo->claim_interval : LEEC_FLEET_RETRY_S);
    /* Read once, for the next look and the event. */
    bool wake_of_plan = outcome != LEEC_OUTCOME_ISSUED && !store_failed;
    leec_renewal_plan *pl = NULL;
    if ((wake_of_plan || json_events) &&
        leec_store_renewal_plan(f->store, c->name, &pl) != LEEC_OK)
        pl = NULL;
    if (wake_of_plan && pl)
        when = (int64_t)pl->wake;
    switch (outcome) {
    case LEEC_OUTCOME_ISSUED:
        f->issued++;
        say(2, "%s: issued%s", c->name,
            leec_agent_resumed(agent) ? " (resumed a journalled order)" : "");
        break;
    case LEEC_OUTCOME_FRESH:
        say(3, "%s is not due", c->name);
        break;
    case LEEC_OUTCOME_DEFERRED:
        say(1, "%s: backing off after failed renewals", c->name);
        break;
    default: {
        char *text = agents_failure_text(agent);
        f->failed++;
        say(0 | FL_TOLD, "%s: failed: %s", c->name, text ? text : "?");
        free(text);
        break;
    }
    }
    if (json_events)
        ev_cert(f->store, c->name, c->names, c->nnames, agent, NULL, NULL,
                mono() - c->t0, pl);
    leec_renewal_plan_free(pl);
    /* An install is made under the agent's lease, and the engine wrote the
     * next look under it: only the claim is left to let go. */
    if (outcome == LEEC_OUTCOME_ISSUED)
        leec_store_unclaim(f->store, c->name);
    else
        finish(f, c->name, c->token, when);
    work_remove(f, c);
    metrics_cert(f->metrics, c->name,
                 leec_server_url(c->o.server ? c->o.server : "letsencrypt"),
                 NULL, metrics_result(false, true, outcome, NULL), time(NULL));
    if (f->metrics)
        metrics_counters(f);
    /* The store announces other nodes' installs, not ours: what was just
     * installed is read back (from memory: no round trip) and copied. */
    if (outcome == LEEC_OUTCOME_ISSUED) {
        leec_store_version v;
        if (leec_store_read_version(
                f->store, c->name,
                LEEC_PARTS(LEEC_PART_PRIVKEY) | LEEC_PARTS(LEEC_PART_CERT) |
                    LEEC_PARTS(LEEC_PART_CHAIN) | LEEC_PARTS(LEEC_PART_META),
                &v) == LEEC_OK)
            fl_sync_version(f->sync, c->name, &v);
        else
            fl_sync_name(f->sync, c->name);
    }
    cert_free(c); /* the agent with it: allowed from its done callback */
}

/* Reads what c should be: the wanted record (leec issue --queue), else the
 * settings kept with its current version. 0, or a reason. */
static const char *load(fleet *f, fl_cert *c)
{
    char *text = NULL;
    json_error_t jerr;
    json_t *settings = NULL;
    if (leec_store_wanted_read(f->store, c->name, &text) == LEEC_OK) {
        c->doc = json_loads(text, 0, &jerr);
    } else if (leec_store_read_meta(f->store, c->name, &text) == LEEC_OK) {
        c->doc = json_loads(text, 0, &jerr);
    } else {
        free(text);
        return "neither wanted nor issued (removed meanwhile?)";
    }
    free(text);
    if (!json_is_object(c->doc))
        return "its record is not a JSON object";
    json_t *names = json_object_get(c->doc, "names");
    size_t n = json_array_size(names);
    if (n == 0 || !(c->names = calloc(n, sizeof *c->names)))
        return "its record lists no names";
    for (size_t i = 0; i < n; i++)
        if (!(c->names[c->nnames++] =
                  json_string_value(json_array_get(names, i))))
            return "its record lists a name that is not a string";
    settings = json_object_get(c->doc, "settings");
    const char *why = NULL;
    c->o.dns_propagation = -1;
    if (lc_opts_from_settings(settings, &c->o, &why) != 0)
        return why;
    const char *mine =
        leec_server_url(f->fo->o.server ? f->fo->o.server : "letsencrypt");
    const char *its =
        leec_server_url(c->o.server ? c->o.server : "letsencrypt");
    if (!mine || !its || strcmp(mine, its) != 0)
        return "it is ordered from another CA than this node's --server";
    if (c->o.http_port && !f->fo->http_listen)
        return "it is validated by http-01 and this node has no "
               "--http-listen";
    if (!(c->o.settings = json_dumps(settings, JSON_COMPACT | JSON_SORT_KEYS)))
        return "out of memory";
    return NULL;
}

/* Starts the agent of a claimed certificate; on failure the claim is let
 * go with a later look. */
static void start(fleet *f, const char *name, uint64_t token)
{
    fl_cert *c = calloc(1, sizeof *c);
    const char *why = "out of memory";
    leec_code rc = LEEC_E_NOMEM;
    if (!c || !(c->name = strdup(name)))
        goto fail;
    c->f = f;
    c->token = token;
    c->t0 = mono();
    if ((why = load(f, c)))
        goto fail;
    why = "its names or certificate name are refused";
    if (!(c->agent = leec_agent_new(f->ctx, c->name, c->names, c->nnames, &rc)))
        goto fail;
    why = "its settings are refused";
    leec_agent_set_callbacks(c->agent, NULL, on_done, c);
    if (agents_setup(c->agent, &c->o) != 0 ||
        agents_solver_set(f->ctx, c->agent, &c->o, &f->solvers) != 0)
        goto fail;
    if (f->nwork == f->capwork) {
        size_t cap = f->capwork ? 2 * f->capwork : 64;
        fl_cert **v = realloc(f->work, cap * sizeof *v);
        if (!v)
            goto fail;
        f->work = v;
        f->capwork = cap;
    }
    if ((rc = leec_agent_start(c->agent)) != LEEC_OK) {
        why = leec_strerror(rc);
        goto fail;
    }
    f->work[f->nwork++] = c;
    say(3, "%s: claimed (token %llu)", name, (unsigned long long)token);
    return;
fail:
    say(0 | FL_TOLD, "%s: cannot be ordered by this node: %s", name, why);
    if (json_events) {
        leec_renewal_plan *pl = NULL;
        if (leec_store_renewal_plan(f->store, name, &pl) != LEEC_OK)
            pl = NULL;
        ev_cert(f->store, name, c ? c->names : NULL, c ? c->nnames : 0, NULL,
                "skipped", why, 0, pl);
        leec_renewal_plan_free(pl);
    }
    finish(f, name, token, (int64_t)time(NULL) + FL_SKIP_S);
    cert_free(c);
}

static void claim(fleet *f)
{
    unsigned room = f->fo->claim_batch > f->nwork
                        ? f->fo->claim_batch - (unsigned)f->nwork
                        : 0;
    if (room == 0)
        return;
    char **names = NULL;
    uint64_t *tokens = NULL;
    size_t n = 0;
    leec_code rc =
        leec_store_claim(f->store, room, f->fo->lease_ttl, &names, &tokens, &n);
    if (rc != LEEC_OK) {
        say(1, "cannot claim work: %s", cli_store_error(f->store, rc));
        return;
    }
    if (n)
        say(3, "claimed %zu certificate%s", n, n == 1 ? "" : "s");
    f->more = n == room;
    for (size_t i = 0; i < n; i++)
        start(f, names[i], tokens[i]);
    leec_store_list_free(names, n);
    free(tokens);
}

/* Stops working on every claimed certificate: its journalled order is
 * taken up by whichever node claims it next. */
static void drop_all(fleet *f, const char *why)
{
    if (f->nwork)
        say(1, "%s: stopping work on %zu certificate%s", why, f->nwork,
            f->nwork == 1 ? "" : "s");
    while (f->nwork) {
        fl_cert *c = f->work[--f->nwork];
        leec_store_unclaim(f->store, c->name);
        cert_free(c);
    }
}

static void heartbeat(fleet *f, double now)
{
    leec_code rc = leec_store_heartbeat(f->store, f->fo->lease_ttl);
    if (rc == LEEC_OK) {
        if (f->paused)
            say(2, "the store answers again: claiming work again");
        f->paused = false;
        f->last_ok = now;
        return;
    }
    if (rc == LEEC_E_FENCED) {
        /* Stopped or cut off longer than a lease: another node has taken
         * over; every write of ours would be refused anyway. */
        f->last_ok = now;
        drop_all(f, "leases lost (fenced: another node took them over)");
        return;
    }
    say(1, "heartbeat failed: %s", cli_store_error(f->store, rc));
    /* Self-fencing: before the leases can expire (judged by the store's
     * clock, which a cut-off node cannot read), stop talking to the CA
     * for these certificates; a third of the lease is the margin. */
    if (!f->paused && now - f->last_ok >= (double)f->fo->lease_ttl * 2 / 3) {
        f->paused = true;
        drop_all(f, "the store cannot be reached");
    }
}

/* ---- this machine's copy (fleet_sync.c, on its thread) ---- */

static void sync_changes(fleet *f)
{
    char **names = NULL;
    size_t n = 0;
    if (leec_store_changes(f->store, &names, &n) != LEEC_OK)
        return;
    for (size_t i = 0; i < n; i++)
        fl_sync_name(f->sync, names[i]);
    leec_store_list_free(names, n);
}

/* ---- --metrics-listen ---- */

/* What the metrics server shows of the shared store: every certificate as
 * leec list reads it (its plan, its CA). On the copy's thread after each
 * full look, with its connection (a store of thousands takes a few round
 * trips per certificate: never on the loop). ud: the fleet, of which only
 * what is set before the thread starts is read; the metrics table takes
 * its own lock. */
static void metrics_refresh(void *ud, leec_store *st)
{
    const fleet *f = ud;
    cli_metrics *m = f->metrics;
    double t0 = mono();
    char **names = NULL;
    size_t n = 0;
    if (leec_store_list(st, &names, &n) == LEEC_OK) {
        metrics_pass_begin(m);
        for (size_t i = 0; i < n; i++) {
            leec_renewal_plan *pl = NULL;
            char *text = NULL;
            json_t *meta = NULL;
            if (leec_store_renewal_plan(st, names[i], &pl) != LEEC_OK)
                continue; /* gone meanwhile, or unreadable: kept as it was */
            if (leec_store_read_meta(st, names[i], &text) == LEEC_OK)
                meta = json_loads(text, 0, NULL);
            metrics_cert(m, names[i],
                         json_string_value(json_object_get(meta, "server")), pl,
                         NULL, time(NULL));
            json_decref(meta);
            free(text);
            leec_renewal_plan_free(pl);
        }
        leec_store_list_free(names, n);
    }
    metrics_pass_end(m, mono() - t0, time(NULL) + (time_t)f->fo->sync_interval);
}

/* ---- the loop ---- */

static volatile sig_atomic_t fl_hup;

static void on_hup(int sig)
{
    (void)sig;
    fl_hup = 1;
}

static int run(fleet *f)
{
    fl_opts *fo = f->fo;
    double now = mono();
    double t_hb = now + (double)fo->lease_ttl / 3;
    double t_claim = now, t_metrics = now;
    f->last_ok = now;
    int running = 1;
    while (!ca_stop_signal) {
        now = mono();
        if (fl_hup) {
            fl_hup = 0;
            say(2, "SIGHUP: claiming and syncing now");
            if (json_events)
                jo_event("reload", json_pack("{s:s}", "reason", "sighup"));
            t_claim = now;
            if (f->on_hup)
                f->on_hup(f->hup_ud);
            fl_sync_all(f->sync);
        }
        /* While there is more to do, claim again as soon as half the
         * batch is done rather than at the next interval: the interval
         * bounds an idle node's cost, not a busy node's pace. */
        if (!f->paused &&
            (now >= t_claim || (f->more && f->nwork <= fo->claim_batch / 2))) {
            claim(f);
            t_claim = now + fo->claim_interval;
        }
        struct pollfd pfd[2] = {{leec_ctx_get_fd(f->ctx), POLLIN, 0},
                                {leec_store_changes_fd(f->store), POLLIN, 0}};
        long ms = leec_ctx_timeout_ms(f->ctx);
        double next = t_hb < t_claim ? t_hb : t_claim;
        long until = (long)((next - mono()) * 1000) + 1;
        if (ms < 0 || ms > until)
            ms = until < 0 ? 0 : until;
        if (ms > FL_POLL_MAX_MS)
            ms = FL_POLL_MAX_MS;
        int r = poll(pfd, pfd[1].fd >= 0 ? 2 : 1, (int)ms);
        if (r < 0 && errno != EINTR) {
            say(0, "poll: %s", strerror(errno));
            return 1;
        }
        /* Every turn, not only when the descriptor is readable: the
         * client library may have read a notification along with the
         * answer to another statement (no round trip: what was read). */
        (void)r;
        /* The beat comes between the wait and the agents' turn: after a
         * stop (SIGSTOP, a paused VM) longer than the lease, another node
         * may hold these certificates, and none of ours may act before
         * knowing. A third of the lease between beats: two may fail
         * before the leases are at risk. */
        now = mono();
        if (now >= t_hb) {
            heartbeat(f, now);
            t_hb = now + (double)fo->lease_ttl / 3;
        }
        sync_changes(f);
        if (f->metrics && now >= t_metrics) {
            metrics_counters(f);
            t_metrics = now + fo->sync_interval;
        }
        leec_code rc = leec_ctx_perform(f->ctx, &running);
        if (rc != LEEC_OK) {
            say(0, "event loop: %s", leec_strerror(rc));
            return 1;
        }
    }
    return 0;
}

/* ---- options ---- */

enum {
    OPT_NODE = 300,
    OPT_HTTP_LISTEN,
    OPT_LEASE_TTL,
    OPT_CLAIM_INTERVAL,
    OPT_CLAIM_BATCH,
    OPT_SYNC_INTERVAL,
    OPT_DEPLOY,
    OPT_MAXPAR,
    OPT_RATE,
    OPT_METRICS_LISTEN,
    OPT_JSON,
};

static const struct option fleet_options[] = {
    {"node", required_argument, NULL, OPT_NODE},
    {"http-listen", required_argument, NULL, OPT_HTTP_LISTEN},
    {"lease-ttl", required_argument, NULL, OPT_LEASE_TTL},
    {"claim-interval", required_argument, NULL, OPT_CLAIM_INTERVAL},
    {"claim-batch", required_argument, NULL, OPT_CLAIM_BATCH},
    {"sync-interval", required_argument, NULL, OPT_SYNC_INTERVAL},
    {"deploy-hook", required_argument, NULL, OPT_DEPLOY},
    {"max-parallel", required_argument, NULL, OPT_MAXPAR},
    {"rate-limit", required_argument, NULL, OPT_RATE},
    {"metrics-listen", required_argument, NULL, OPT_METRICS_LISTEN},
    {"json", no_argument, NULL, OPT_JSON},
    CA_OPTIONS,
    CA_WAIT_OPTIONS,
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int take(void *ud, int c, const char *arg)
{
    fl_opts *fo = ud;
    switch (c) {
    case OPT_NODE:
        fo->node = arg;
        return 0;
    case OPT_HTTP_LISTEN:
        fo->http_listen = arg;
        return 0;
    case OPT_DEPLOY:
        fo->deploy_hook = arg;
        return 0;
    case OPT_METRICS_LISTEN:
        fo->metrics_listen = arg;
        return metrics_listen_ok("--metrics-listen", arg) ? 0 : EXIT_USAGE;
    case OPT_JSON:
        fo->json = true;
        return 0;
    case OPT_LEASE_TTL:
        return cli_parse_unsigned("--lease-ttl", arg, &fo->lease_ttl) &&
                       fo->lease_ttl >= 3
                   ? 0
                   : (fputs("leec: --lease-ttl: at least 3 seconds\n", stderr),
                      EXIT_USAGE);
    case OPT_CLAIM_INTERVAL:
        return cli_parse_unsigned("--claim-interval", arg,
                                  &fo->claim_interval) &&
                       fo->claim_interval >= 1
                   ? 0
                   : EXIT_USAGE;
    case OPT_CLAIM_BATCH:
        return cli_parse_unsigned("--claim-batch", arg, &fo->claim_batch) &&
                       fo->claim_batch >= 1
                   ? 0
                   : EXIT_USAGE;
    case OPT_SYNC_INTERVAL:
        return cli_parse_unsigned("--sync-interval", arg, &fo->sync_interval) &&
                       fo->sync_interval >= 1
                   ? 0
                   : EXIT_USAGE;
    case OPT_MAXPAR:
        return cli_parse_unsigned("--max-parallel", arg, &fo->o.max_parallel)
                   ? 0
                   : EXIT_USAGE;
    case OPT_RATE:
        if (!cli_parse_rate("--rate-limit", arg, &fo->o.rate_limit))
            return EXIT_USAGE;
        fo->o.rate_set = true;
        return 0;
    default: {
        int r = ca_wait_option(c, arg, &fo->o.waits);
        return r == CLI_OPT_OTHER ? ca_option(c, arg, &fo->o) : r;
    }
    }
}

static const char fleet_usage[] =
    "usage: leec daemon --store postgresql://... --node NAME --dir DIR "
    "[options]\n"
    "  one node of a fleet sharing the store: claims the certificates that\n"
    "  are due (queued by leec issue --queue, or renewals), orders them,\n"
    "  answers any node's http-01 token and keeps DIR/live/ in sync with\n"
    "  the store. SIGHUP: claim and sync now; SIGTERM: stop\n"
    "      --node NAME          this node's name (leases, messages)\n"
    "      --dir DIR            this machine's copy (DIR/live/NAME/...)\n"
    "      --http-listen ADDR:PORT  answer http-01 here (behind the load\n"
    "                           balancer that receives port 80)\n"
    "      --deploy-hook CMD    run when this machine's copy of a\n"
    "                           certificate changes (LEEC_CERT_NAME,\n"
    "                           LEEC_LIVE_DIR)\n"
    "      --metrics-listen ADDR:PORT  serve OpenMetrics at /metrics and\n"
    "                           JSON at /status (the shared store's\n"
    "                           certificates, read every --sync-interval)\n"
    "      --lease-ttl S        a claim lasts S seconds unless renewed by\n"
    "                           the heartbeat (every S/3; default 30)\n"
    "      --claim-interval S   look for due certificates every S seconds\n"
    "                           (default 5)\n"
    "      --claim-batch N      at most N certificates in flight (default\n"
    "                           twice --max-parallel)\n"
    "      --sync-interval S    compare DIR with the store every S seconds\n"
    "                           besides its notifications (default 60)\n"
    "      --max-parallel N     at most N orders in flight (default 10)\n"
    "      --rate-limit N       at most N requests per second to the "
    "CA\n"
    "      --json               one JSON line per event on "
    "stdout\n" CA_USAGE_SERVER CA_USAGE_VERBOSE;

int fleet_daemon(int argc, char **argv, void (*hup_fn)(void *ud), void *ud)
{
    static const cli_cmd cmd = {.shortopts = "vqh",
                                .longopts = fleet_options,
                                .take = take,
                                .usage = fleet_usage,
                                .usage_more = CA_USAGE_WAITS(600),
                                .usage_on_error = true};
    fl_opts fo;
    memset(&fo, 0, sizeof fo);
    ca_opts_init(&fo.o);
    fo.o.waits = CA_WAITS(CA_DAEMON_MAX_WAIT_S);
    fo.lease_ttl = FL_LEASE_TTL_S;
    fo.claim_interval = FL_CLAIM_INTERVAL_S;
    fo.sync_interval = FL_SYNC_INTERVAL_S;
    int status = cli_getopt(&cmd, argc, argv, &fo);
    if (status != 0) {
        free(fo.o.dir);
        return status < 0 ? 0 : status;
    }
    status = EXIT_USAGE;
    if (optind < argc)
        fprintf(stderr, "leec: unexpected argument '%s'\n", argv[optind]);
    else if (!fo.node || !leec_store_name_valid(fo.node))
        fputs("leec: a fleet's daemon needs --node NAME (letters, digits, "
              "'.', '_', '-'), unique in the fleet\n",
              stderr);
    else if (!fo.o.dir)
        fputs("leec: a fleet's daemon needs --dir DIR: this machine's copy "
              "of the certificates\n",
              stderr);
    else
        status = 0;
    if (status != 0) {
        free(fo.o.dir);
        return status;
    }
    if (!fo.claim_batch)
        fo.claim_batch = fo.o.max_parallel ? 2 * fo.o.max_parallel : 20;
    verbosity = fo.o.quiet ? -1 : fo.o.verbose;
    json_events = fo.json;
    fo.o.agree_tos = true; /* agreed when the certificates were queued */
    cli_set_node(fo.node);
    ca_signals();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);

    fleet f;
    memset(&f, 0, sizeof f);
    f.fo = &fo;
    f.on_hup = hup_fn;
    f.hup_ud = ud;
    status = 1;
    leec_code rc;
    char *why = NULL;
    if (!(f.ctx = ca_ctx_new(&fo.o, fl_log, NULL, &status)))
        goto out;
    status = 1;
    if (!(f.store = cli_store_open(fo.o.dir)))
        goto out;
    leec_ctx_set_store(f.ctx, f.store);
    if ((rc = leec_store_heartbeat(f.store, fo.lease_ttl)) != LEEC_OK) {
        say(0, "the store does not answer: %s", cli_store_error(f.store, rc));
        goto out;
    }
    /* Before the copy's thread, which fills its table. */
    if (fo.metrics_listen && !(f.metrics = metrics_start(fo.metrics_listen)))
        goto out;
    /* The copy's thread: DIR's store and a connection of its own. */
    leec_store *local = leec_store_fs_open(fo.o.dir, &rc, &why), *mirror = NULL;
    if (!local) {
        say(0, "%s", why ? why : leec_strerror(rc));
        free(why);
        goto out;
    }
    if (!(mirror = cli_store_open(fo.o.dir))) {
        leec_store_free(local);
        goto out;
    }
    if (!(f.sync =
              fl_sync_start(mirror, local, fo.sync_interval, fo.deploy_hook,
                            say, f.metrics ? metrics_refresh : NULL, &f))) {
        say(0, "cannot start the thread keeping %s", fo.o.dir);
        goto out;
    }
    if (fo.http_listen &&
        (rc = leec_ctx_listen_http01(f.ctx, fo.http_listen)) != LEEC_OK) {
        say(0, "cannot listen on %s for http-01: %s", fo.http_listen,
            leec_strerror(rc));
        goto out;
    }
    say(2, "node %s started (copy in %s%s%s)", fo.node, fo.o.dir,
        fo.http_listen ? ", http-01 on " : "",
        fo.http_listen ? fo.http_listen : "");
    if (json_events)
        jo_event("started", json_pack("{s:s, s:I, s:s}", "dir", fo.o.dir, "pid",
                                      (json_int_t)getpid(), "node", fo.node));
    status = run(&f);
    say(2, "node %s stopping (signal %d): %u issued, %u failed", fo.node,
        (int)ca_stop_signal, f.issued, f.failed);
    if (json_events)
        jo_event("stopping", json_pack("{s:i}", "signal", (int)ca_stop_signal));
    drop_all(&f, "stopping");
out:
    free(f.work);
    leec_ctx_free(f.ctx); /* the shared store with it */
    agents_solvers_clear(&f.solvers);
    fl_sync_stop(f.sync);
    metrics_stop(f.metrics);
    free(fo.o.dir);
    return ca_stop_signal ? 0 : status;
}
