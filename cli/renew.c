#define _GNU_SOURCE
/* leec renew and leec daemon: renew what is due, each certificate with the
 * settings kept with it when it was issued (meta.json "settings"). A pass
 * reads the store, picks the certificates whose time has come (the
 * library's renewal plan: lifetime, ARI window and Retry-After, back-off),
 * runs them through one context per CA and reports. The daemon runs passes
 * and sleeps until the earliest next one, woken early by SIGHUP. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "agents.h"
#include "apply.h"
#include "events.h"
#include "lifecycle.h"
#include "metrics.h"

#define NEVER        ((time_t)-1)
#define WAKE_MIN_S   60   /* never two passes closer than this */
#define WAKE_RETRY_S 3600 /* after a pass that could not read the store */
#define NAP_MAX_S    3600 /* re-read the clock at least this often */

typedef struct rn_opts {
    char *dir;
    bool force, dry_run, quiet, syslog, daemon, json;
    int verbose;
    unsigned max_parallel;
    bool rate_set;
    double rate_limit;
    ca_waits waits;
    const char *metrics_listen; /* --metrics-listen ADDR:PORT, or NULL */
    cli_metrics *metrics;       /* its server, fed by each pass */
} rn_opts;

typedef struct rn_cert {
    char *name;
    json_t *meta;       /* meta.json: owns the strings of o */
    ca_opts o;          /* from its settings */
    const char **names; /* meta "names" (borrowed) */
    size_t nnames;
    leec_renewal_plan *plan;
    const char *skip; /* why it cannot be renewed, or NULL */
    char *why;        /* the store's refusal (malloc'd), or NULL */
    bool selected;
    bool reported;
    leec_agent *agent;
    leec_outcome outcome;
} rn_cert;

typedef struct rn_pass {
    const rn_opts *ro;
    rn_cert *c;
    size_t n;
    unsigned issued, fresh, failed, deferred, skipped, hookfail, broken;
} rn_pass;

static volatile sig_atomic_t reload_requested;

static void on_hup(int sig)
{
    (void)sig;
    reload_requested = 1;
}

/* ---- output: stdout/stderr, or syslog for the daemon ---- */

static bool use_syslog; /* set once by cmd_daemon before any pass */

/* Or'ed into say's prio: with --json, a certificate event tells it. Else
 * an error is an "error" event too. */
#define TOLD_BY_EVENT 0x100

__attribute__((format(printf, 3, 4))) static void
say(const rn_opts *ro, int prio, const char *fmt, ...)
{
    va_list ap;
    bool event = !(prio & TOLD_BY_EVENT);
    prio &= ~TOLD_BY_EVENT;
    if (ro->json && event && prio <= LOG_ERR) {
        char *msg = NULL;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) >= 0)
            jo_event("error", json_pack("{s:s}", "error", msg));
        va_end(ap);
        free(msg);
    }
    if (ro->quiet && prio > LOG_WARNING)
        return;
    va_start(ap, fmt);
    /* --json: stdout holds only the events. */
    cli_vsay(use_syslog, ro->daemon || ro->json, prio, fmt, ap);
    va_end(ap);
}

/* --json: c's "certificate" event (its agent's outcome, or outcome). */
static void cert_event(const rn_opts *ro, leec_store *store, const rn_cert *c,
                       const char *outcome, const char *error, double seconds,
                       const leec_renewal_plan *pl)
{
    if (ro->json)
        ev_cert(store, c->name, c->names, c->nnames, c->agent, outcome, error,
                seconds, pl);
}

static void rn_log(void *ud, leec_log_level level, const char *msg)
{
    if (!use_syslog) {
        cli_log(ud, level, msg);
        return;
    }
    int prio = level == LEEC_LOG_ERROR  ? LOG_ERR
               : level == LEEC_LOG_WARN ? LOG_WARNING
               : level == LEEC_LOG_INFO ? LOG_INFO
                                        : LOG_DEBUG;
    syslog(prio, "%s", msg);
}

static void fmt_when(time_t t, char *buf, size_t len)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%d %H:%M UTC", &tm);
}

/* ---- loading ---- */

static void cert_clear(rn_cert *c)
{
    free(c->name);
    json_decref(c->meta);
    free(c->o.settings);
    free(c->names);
    free(c->why);
    leec_renewal_plan_free(c->plan);
    memset(c, 0, sizeof *c);
}

static int load_cert(leec_store *store, rn_cert *c)
{
    char *text = NULL;
    json_error_t jerr;
    leec_code rc = leec_store_renewal_plan(store, c->name, &c->plan);
    /* Refused as unsafe: the store says which file and the fix. Nothing of
     * it is used, its hooks least of all. */
    if (rc == LEEC_E_STORE || rc == LEEC_E_BAD_KEY)
        c->why = strdup(cli_store_error(store, rc));
    if (rc != LEEC_OK)
        return rc == LEEC_E_NOT_FOUND ? 2 : 1;
    if ((rc = leec_store_read_meta(store, c->name, &text)) != LEEC_OK ||
        !(c->meta = json_loads(text, 0, &jerr)) || !json_is_object(c->meta)) {
        /* Refused as unsafe: the store says which file and the fix. Else
         * its settings are lost: only leec issue, given them again, can
         * order a new version. */
        if (rc == LEEC_E_STORE)
            c->why = strdup(cli_store_error(store, rc));
        c->skip = c->why ? c->why
                         : "its meta.json is missing or malformed "
                           "(truncated?), so its settings are lost: run "
                           "leec issue for it again";
        free(text);
        return 0;
    }
    free(text);
    json_t *names = json_object_get(c->meta, "names");
    size_t n = json_array_size(names);
    if (n == 0 || !(c->names = calloc(n, sizeof *c->names))) {
        c->skip = "meta.json lists no names";
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(names, i));
        if (!s) {
            c->skip = "meta.json lists a name that is not a string";
            return 0;
        }
        c->names[c->nnames++] = s;
    }
    c->o.dns_propagation = -1;
    const char *why = NULL;
    json_t *settings = json_object_get(c->meta, "settings");
    if (lc_opts_from_settings(settings, &c->o, &why) != 0)
        c->skip = why;
    /* Kept again as they are with the renewed version. */
    else if (!(c->o.settings =
                   json_dumps(settings, JSON_COMPACT | JSON_SORT_KEYS)))
        return 1;
    return 0;
}

/* The certificates of the pass (the given names, or every one). 0, or 1
 * after a message. */
static int load(rn_pass *p, leec_store *store, char **only, size_t nonly)
{
    char **names = NULL;
    size_t n = nonly;
    int status = 0;
    if (!nonly && leec_store_list(store, &names, &n) != LEEC_OK) {
        say(p->ro, LOG_ERR, "cannot list the certificates in %s", p->ro->dir);
        return 1;
    }
    if (n && !(p->c = calloc(n, sizeof *p->c))) {
        say(p->ro, LOG_ERR, "out of memory");
        status = 1;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        rn_cert *c = &p->c[p->n];
        if (!(c->name = strdup(nonly ? only[i] : names[i]))) {
            status = 1;
            goto out;
        }
        int r = load_cert(store, c);
        if (r == 0) {
            p->n++;
            continue;
        }
        say(p->ro, LOG_ERR, "%s: %s", c->name,
            r == 2   ? "no such certificate"
            : c->why ? c->why
                     : "cannot read it");
        cert_clear(c);
        status = 1;
    }
out:
    leec_store_list_free(names, nonly ? 0 : n);
    return status;
}

/* ---- running one group (one CA, one account) ---- */

typedef struct rn_group {
    rn_pass *p;
    rn_cert **c;
    size_t n;
} rn_group;

static const ca_opts *opts_of(void *ud, leec_agent *agent)
{
    rn_group *g = ud;
    for (size_t i = 0; i < g->n; i++)
        if (g->c[i]->agent == agent)
            return &g->c[i]->o;
    return NULL;
}

static void on_done(void *ud, leec_agent *agent, leec_outcome outcome)
{
    rn_cert *c = ud;
    (void)agent;
    c->outcome = outcome;
}

/* Same CA, trust, contact and account kind, and the same port for the
 * built-in http-01 responder (a context has one): one context. */
static bool same_group(const rn_cert *a, const rn_cert *b)
{
    const char *sa = leec_server_url(a->o.server ? a->o.server : "letsencrypt");
    const char *sb = leec_server_url(b->o.server ? b->o.server : "letsencrypt");
#define EQ(x, y) ((x) == (y) || ((x) && (y) && strcmp((x), (y)) == 0))
    return EQ(sa, sb) && EQ(a->o.ca_bundle, b->o.ca_bundle) &&
           EQ(a->o.email, b->o.email) && a->o.throwaway == b->o.throwaway &&
           a->o.throwaway_per_cert == b->o.throwaway_per_cert &&
           EQ(a->o.http_port, b->o.http_port);
}

/* The solver of c's settings, one per distinct configuration. The group
 * shares one http-01 port (same_group): its responder is started once. */
static int solver_for(leec_ctx *ctx, rn_cert *c, agents_solvers *cache,
                      bool *listening)
{
    const ca_opts *o = &c->o;
    if (o->http_port) {
        leec_code rc = LEEC_OK;
        if (!*listening &&
            (rc = leec_ctx_listen_http01(ctx, o->http_port)) != LEEC_OK) {
            fprintf(stderr, "leec: %s: cannot listen on %s for http-01: %s\n",
                    c->name, o->http_port, leec_strerror(rc));
            return 1;
        }
        *listening = true;
        return 0;
    }
    return agents_solver_set(ctx, c->agent, o, cache);
}

/* What became of c in the run; pl: its renewal plan as the run left it
 * (NULL: unreadable). */
static void report(rn_pass *p, rn_cert *c, leec_store *store, double seconds,
                   const leec_renewal_plan *pl)
{
    char when[32] = "";
    const rn_opts *ro = p->ro;
    c->reported = true;
    switch (c->outcome) {
    case LEEC_OUTCOME_ISSUED: {
        char *live = leec_store_live_path(store, c->name);
        if (c->agent && leec_agent_resumed(c->agent))
            say(ro, LOG_NOTICE, "%s: resumed order %s (made by an earlier run)",
                c->name, leec_agent_order_url(c->agent));
        say(ro, LOG_NOTICE, "renewed %s%s%s", c->name, live ? " -> " : "",
            live ? live : "");
        free(live);
        p->issued++;
        cert_event(ro, store, c, NULL, NULL, seconds, pl);
        break;
    }
    case LEEC_OUTCOME_FRESH:
        if (pl)
            fmt_when(pl->due, when, sizeof when);
        say(ro, LOG_INFO, "%s is not due (renewal from %s, %s)", c->name, when,
            leec_renewal_plan_rule(pl));
        p->fresh++;
        cert_event(ro, store, c, NULL, NULL, seconds, pl);
        break;
    case LEEC_OUTCOME_DEFERRED:
        if (c->plan->retry_at)
            fmt_when(c->plan->retry_at, when, sizeof when);
        say(ro, LOG_WARNING, "%s: backing off after failed renewals until %s",
            c->name, when);
        p->deferred++;
        cert_event(ro, store, c, "deferred", NULL, seconds, pl);
        break;
    default: {
        char *text = c->agent ? agents_failure_text(c->agent) : NULL;
        say(ro, LOG_ERR | TOLD_BY_EVENT, "%s: renewal failed: %s", c->name,
            text ? text : "not started");
        free(text);
        p->failed++;
        cert_event(ro, store, c, "failed", "not started", seconds, pl);
        break;
    }
    }
}

/* The certificate as the store now plans it, to the metrics server. */
static void to_metrics(const rn_opts *ro, const rn_cert *c,
                       const leec_renewal_plan *pl)
{
    if (!ro->metrics)
        return;
    /* The CA as leec list names it (unknown when meta.json is unreadable) */
    const char *ca = json_string_value(json_object_get(c->meta, "server"));
    metrics_cert(ro->metrics, c->name, ca, pl,
                 metrics_result(c->skip != NULL, c->selected, c->outcome, pl),
                 time(NULL));
}

static int run_group(rn_pass *p, rn_group *g)
{
    const rn_opts *ro = p->ro;
    ca_opts go = g->c[0]->o; /* the context-wide fields */
    go.dir = ro->dir;
    go.verbose = ro->verbose;
    go.quiet = ro->quiet;
    go.agree_tos = true; /* agreed when it was issued */
    go.max_parallel = ro->max_parallel;
    go.rate_set = ro->rate_set;
    go.rate_limit = ro->rate_limit;
    go.waits = ro->waits;
    int status = 1;
    agents_solvers cache = {NULL, 0};
    bool listening = false;
    lc_hooks hooks;
    lc_hooks_init(&hooks, NULL, opts_of, g);
    leec_ctx *ctx = ca_ctx_new(&go, rn_log, NULL, &status);
    if (!ctx)
        goto out;
    status = 1;
    if (ca_open_store(ctx, &go) != 0)
        goto out;
    hooks.store = leec_ctx_get_store(ctx);
    leec_ctx_set_hook_fn(ctx, lc_hook_fn, &hooks);
    for (size_t i = 0; i < g->n; i++) {
        rn_cert *c = g->c[i];
        leec_code rc;
        c->o.force = ro->force;
        c->agent = leec_agent_new(ctx, c->name, c->names, c->nnames, &rc);
        if (!c->agent) {
            say(ro, LOG_ERR, "%s: %s", c->name, leec_strerror(rc));
            continue;
        }
        leec_agent_set_callbacks(c->agent, NULL, on_done, c);
        if (agents_setup(c->agent, &c->o) != 0 ||
            solver_for(ctx, c, &cache, &listening) != 0 ||
            leec_agent_start(c->agent) != LEEC_OK) {
            leec_agent_free(c->agent);
            c->agent = NULL;
        }
    }
    double t0 = cli_now_s();
    leec_code rc = ca_run(ctx);
    if (ca_stop_signal) {
        say(ro, LOG_WARNING, "%s", ca_stop_text());
        status = 128 + ca_stop_signal;
        goto out;
    }
    if (rc != LEEC_OK)
        say(ro, LOG_ERR, "event loop: %s", leec_strerror(rc));
    for (size_t i = 0; i < g->n; i++) {
        /* Read once, for the message, the event and the metrics, and only
         * when one of them wants it. */
        leec_renewal_plan *pl = NULL;
        if ((g->c[i]->outcome == LEEC_OUTCOME_FRESH || ro->json ||
             ro->metrics) &&
            leec_store_renewal_plan(hooks.store, g->c[i]->name, &pl) != LEEC_OK)
            pl = NULL;
        report(p, g->c[i], hooks.store, cli_now_s() - t0, pl);
        if (pl)
            to_metrics(ro, g->c[i], pl);
        leec_renewal_plan_free(pl);
    }
    status = 0;
out:
    if (ctx)
        metrics_add_ctx(ro->metrics,
                        leec_server_url(go.server ? go.server : "letsencrypt"),
                        ctx);
    leec_ctx_free(ctx);
    lc_hooks_finish(&hooks);
    p->hookfail += hooks.failed;
    agents_solvers_clear(&cache);
    for (size_t i = 0; i < g->n; i++)
        g->c[i]->agent = NULL; /* freed with the context */
    return status;
}

/* ---- a pass ---- */

/* The CA's window, when the plan ignores it (it lies after the lifetime
 * rule's time): said wherever the due time is. */
static void ignored_window(const leec_renewal_plan *pl, char *buf, size_t len)
{
    char s[32], e[32];
    buf[0] = '\0';
    if (!pl->ari_ignored)
        return;
    fmt_when(pl->window_start, s, sizeof s);
    fmt_when(pl->window_end, e, sizeof e);
    snprintf(buf, len,
             "; the CA's window %s to %s is ignored: it starts "
             "later",
             s, e);
}

/* What a real run would do with each certificate, by the same plan. 0, or
 * 1 when a certificate has expired. */
static int dry_run(rn_pass *p)
{
    time_t now = time(NULL);
    int status = 0;
    /* --json: the words to stderr, a "plan" event each to stdout. */
    FILE *out = p->ro->json ? stderr : stdout;
    for (size_t i = 0; i < p->n; i++) {
        rn_cert *c = &p->c[i];
        char due[32], exp[32], ign[128];
        if (c->skip) {
            fprintf(out, "%s: cannot be renewed: %s\n", c->name, c->skip);
            if (p->ro->json)
                ev_plan(c->name, "skip", NULL, c->skip);
            continue;
        }
        const char *action = "renew";
        const leec_renewal_plan *pl = c->plan;
        fmt_when(pl->due, due, sizeof due);
        fmt_when(pl->not_after, exp, sizeof exp);
        ignored_window(pl, ign, sizeof ign);
        const char *why = leec_renewal_plan_rule(pl);
        const char *expired = pl->not_after <= now ? "EXPIRED; " : "";
        if (*expired || pl->broken)
            status = 1;
        if (pl->broken &&
            !(pl->failures && pl->retry_at > now && !p->ro->force)) {
            fprintf(out, "%s: BROKEN (%s): would order a new version\n",
                    c->name, pl->broken);
        } else if (pl->broken) {
            char r[32];
            action = "back_off";
            fmt_when(pl->retry_at, r, sizeof r);
            fprintf(out,
                    "%s: BROKEN (%s); backing off after %u failed "
                    "renewal%s until %s (last: %s)\n",
                    c->name, pl->broken, pl->failures,
                    pl->failures == 1 ? "" : "s", r,
                    pl->last_error ? pl->last_error : "?");
        } else if (pl->failures && pl->retry_at > now && !p->ro->force) {
            char r[32];
            action = "back_off";
            fmt_when(pl->retry_at, r, sizeof r);
            fprintf(out,
                    "%s: %sbacking off after %u failed renewal%s until %s "
                    "(last: %s); due %s (%s)\n",
                    c->name, expired, pl->failures,
                    pl->failures == 1 ? "" : "s", r,
                    pl->last_error ? pl->last_error : "?", due, why);
        } else if (p->ro->force) {
            fprintf(out, "%s: %swould renew (forced; expires %s)\n", c->name,
                    expired, exp);
        } else if (pl->due <= now) {
            fprintf(out, "%s: %sdue since %s (%s; expires %s%s)\n", c->name,
                    expired, due, why, exp, ign);
        } else if (pl->ari && pl->next_check <= now) {
            action = "ask_ari";
            fprintf(out,
                    "%s: would ask the CA for its renewal window (due %s by "
                    "%s so far)\n",
                    c->name, due, why);
        } else {
            action = "wait";
            fprintf(out, "%s: not due until %s (%s; expires %s%s)\n", c->name,
                    due, why, exp, ign);
        }
        if (p->ro->json)
            ev_plan(c->name, action, pl, NULL);
    }
    return status;
}

/* Certificates that have expired and were not renewed by this pass: an
 * error each (the exit status says it). True if there is one. */
static bool report_expired(rn_pass *p)
{
    time_t now = time(NULL);
    bool any = false;
    for (size_t i = 0; i < p->n; i++) {
        rn_cert *c = &p->c[i];
        if (!c->plan || c->plan->not_after > now ||
            c->outcome == LEEC_OUTCOME_ISSUED)
            continue;
        char exp[32];
        fmt_when(c->plan->not_after, exp, sizeof exp);
        say(p->ro, LOG_ERR, "%s: expired on %s and not renewed", c->name, exp);
        any = true;
    }
    return any;
}

/* Runs one pass; *wake: when the next one is needed (NEVER: nothing to
 * watch). 0, 1 (something failed) or 128+signal. */
static int pass(const rn_opts *ro, char **only, size_t nonly, time_t *wake)
{
    rn_pass p;
    memset(&p, 0, sizeof p);
    p.ro = ro;
    double started = cli_now_s();
    *wake = time(NULL) + WAKE_RETRY_S;
    leec_code rc = LEEC_E_STORE;
    char *why = NULL;
    /* --store: a PostgreSQL store or another folder (cli_store_open says
     * why it cannot be opened). */
    leec_store *store = cli_store_spec()
                            ? cli_store_open(ro->dir)
                            : leec_store_fs_open(ro->dir, &rc, &why);
    if (!store && cli_store_spec())
        return 1;
    if (!store) {
        if (why)
            say(ro, LOG_ERR, "%s", why);
        else
            say(ro, LOG_ERR, "cannot open the state folder %s: %s", ro->dir,
                leec_strerror(rc));
        free(why);
        return 1;
    }
    int status = load(&p, store, only, nonly);
    if (status == 0)
        metrics_pass_begin(ro->metrics);
    time_t now = time(NULL);
    if (ro->json && !ro->dry_run)
        ev_pass_begun(p.n);
    for (size_t i = 0; i < p.n; i++) {
        rn_cert *c = &p.c[i];
        if (c->skip) {
            say(ro, LOG_ERR | TOLD_BY_EVENT, "%s: cannot be renewed: %s",
                c->name, c->skip);
            p.skipped++;
            if (!ro->dry_run)
                cert_event(ro, store, c, "skipped", c->skip, 0, c->plan);
            continue;
        }
        c->selected = ro->force || c->plan->wake <= now;
        /* An error even when this run replaces it: something damaged the
         * state folder, and the exit status tells a monitor so. */
        if (c->plan->broken && !ro->dry_run) {
            say(ro, LOG_ERR | TOLD_BY_EVENT,
                "%s: the installed version is broken (%s)%s", c->name,
                c->plan->broken, c->selected ? "; ordering a new one" : "");
            p.broken++;
        }
        if (!c->selected && !ro->dry_run) {
            char when[32];
            fmt_when(c->plan->wake, when, sizeof when);
            if (c->plan->failures && c->plan->retry_at == c->plan->wake) {
                /* Said every run: a certificate that keeps failing must
                 * not go unnoticed. */
                say(ro, LOG_WARNING,
                    "%s: backing off after %u failed renewal%s until %s "
                    "(last: %s)",
                    c->name, c->plan->failures,
                    c->plan->failures == 1 ? "" : "s", when,
                    c->plan->last_error ? c->plan->last_error : "?");
                p.deferred++;
                cert_event(ro, store, c, "deferred", NULL, 0, c->plan);
                continue;
            }
            if (ro->verbose)
                say(ro, LOG_INFO, "%s is not due (next look at %s)", c->name,
                    when);
            p.fresh++;
            /* The daemon's passes would repeat them all: with -v only. */
            if (!ro->daemon || ro->verbose)
                cert_event(ro, store, c, "fresh", NULL, 0, c->plan);
        }
    }
    if (ro->dry_run) {
        status = dry_run(&p) ? 1 : status;
        goto out;
    }
    for (size_t i = 0; i < p.n && !ca_stop_signal; i++) {
        rn_cert *lead = &p.c[i];
        if (!lead->selected || lead->reported)
            continue;
        rn_group g = {&p, NULL, 0};
        if (!(g.c = calloc(p.n, sizeof *g.c)))
            break;
        for (size_t k = i; k < p.n; k++)
            if (p.c[k].selected && !p.c[k].reported &&
                same_group(lead, &p.c[k]))
                g.c[g.n++] = &p.c[k];
        int r = run_group(&p, &g);
        for (size_t k = 0; k < g.n; k++)
            g.c[k]->reported = true;
        free(g.c);
        if (r > 1) {
            status = r;
            goto out;
        }
    }
    if (!ro->daemon || p.issued || p.failed || p.deferred)
        say(ro, LOG_INFO, "%u renewed, %u failed, %u deferred, %u not due",
            p.issued, p.failed, p.deferred, p.fresh);
    if (report_expired(&p) || p.failed || p.skipped || p.hookfail || p.broken)
        status = status ? status : 1;
    if (ro->json)
        ev_pass_ended(&(ev_counts){(unsigned)p.n, p.issued, p.fresh, p.deferred,
                                   p.failed, p.skipped, p.hookfail, p.broken},
                      status, cli_now_s() - started);
    /* The next pass (the daemon's): the earliest time a certificate wants
     * looking at. Only those that ran can have a new plan. */
    *wake = NEVER;
    time_t gap = WAKE_MIN_S;
    for (size_t i = 0; ro->daemon && i < p.n; i++) {
        rn_cert *c = &p.c[i];
        leec_renewal_plan *pl = NULL;
        if (c->skip)
            continue;
        if (c->selected &&
            leec_store_renewal_plan(store, c->name, &pl) == LEEC_OK) {
            leec_renewal_plan_free(c->plan);
            c->plan = pl;
        }
        if (*wake == NEVER || c->plan->wake < *wake)
            *wake = c->plan->wake;
        /* Passes no closer than a minute, unless a certificate lives only
         * minutes: a pass must come before it lapses. */
        time_t life = c->plan->not_after - c->plan->not_before;
        if (life / 8 < gap)
            gap = life / 8 > 1 ? life / 8 : 1;
    }
    if (*wake != NEVER && *wake < time(NULL) + gap)
        *wake = time(NULL) + gap;
    for (size_t i = 0; i < p.n; i++)
        to_metrics(ro, &p.c[i], p.c[i].plan);
out:
    metrics_pass_end(ro->metrics, cli_now_s() - started, *wake);
    for (size_t i = 0; i < p.n; i++)
        cert_clear(&p.c[i]);
    free(p.c);
    leec_store_free(store);
    return status;
}

/* ---- options ---- */

enum {
    OPT_FORCE = 256,
    OPT_DRY_RUN,
    OPT_DIR,
    OPT_SYSLOG,
    OPT_MAX_PARALLEL,
    OPT_RATE_LIMIT,
    OPT_METRICS_LISTEN,
    OPT_JSON,
};

#define RN_COMMON_OPTIONS                                                      \
    {"dir", required_argument, NULL, OPT_DIR},                                 \
        {"max-parallel", required_argument, NULL, OPT_MAX_PARALLEL},           \
        {"rate-limit", required_argument, NULL, OPT_RATE_LIMIT},               \
        CA_WAIT_OPTIONS, {"verbose", no_argument, NULL, 'v'},                  \
        {"quiet", no_argument, NULL, 'q'}, {"help", no_argument, NULL, 'h'},   \
        {"json", no_argument, NULL, OPT_JSON},                                 \
    {                                                                          \
        NULL, 0, NULL, 0                                                       \
    }

static const struct option renew_options[] = {
    {"force", no_argument, NULL, OPT_FORCE},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    RN_COMMON_OPTIONS,
};

static const struct option daemon_options[] = {
    {"syslog", no_argument, NULL, OPT_SYSLOG},
    {"metrics-listen", required_argument, NULL, OPT_METRICS_LISTEN},
    RN_COMMON_OPTIONS,
};

static int take(void *ud, int c, const char *arg)
{
    rn_opts *ro = ud;
    switch (c) {
    case OPT_FORCE:
        ro->force = true;
        return 0;
    case OPT_DRY_RUN:
        ro->dry_run = true;
        return 0;
    case OPT_SYSLOG:
        ro->syslog = true;
        return 0;
    case OPT_METRICS_LISTEN:
        ro->metrics_listen = arg; /* argv's: lives as long */
        return metrics_listen_ok("--metrics-listen", arg) ? 0 : EXIT_USAGE;
    case OPT_DIR:
        return cli_set_dir(&ro->dir, arg);
    case OPT_MAX_PARALLEL:
        return cli_parse_unsigned("--max-parallel", arg, &ro->max_parallel)
                   ? 0
                   : EXIT_USAGE;
    case OPT_RATE_LIMIT:
        if (!cli_parse_rate("--rate-limit", arg, &ro->rate_limit))
            return EXIT_USAGE;
        ro->rate_set = true;
        return 0;
    case 'v':
        ro->verbose++;
        return 0;
    case 'q':
        ro->quiet = true;
        return 0;
    case OPT_JSON:
        ro->json = true;
        return 0;
    default:
        return ca_wait_option(c, arg, &ro->waits);
    }
}

static int parse(int argc, char **argv, rn_opts *ro, const cli_cmd *cmd)
{
    ro->max_parallel = 10;
    /* The daemon waits in its loop a while longer; beyond that, as renew
     * does, a certificate the CA asks to wait for resumes at the time it
     * named (recorded with it: its plan wakes the daemon then). */
    ro->waits = CA_WAITS(ro->daemon ? CA_DAEMON_MAX_WAIT_S : CA_MAX_WAIT_S);
    int r = cli_getopt(cmd, argc, argv, ro);
    if (r != 0)
        return r;
    if (ro->daemon && optind < argc) {
        fprintf(stderr, "leec: unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    return cli_state_dir(&ro->dir) ? 0 : EXIT_USAGE;
}

static const char renew_usage[] =
    "usage: leec renew [CERT-NAME ...] [options]\n"
    "  renews the certificates that are due (default: every one in the\n"
    "  state folder), each with the settings it was issued with\n"
    "      --force              renew even if not due (or backing off)\n"
    "      --dry-run            say what is due and why; send nothing\n"
    "      --dir DIR            state folder\n"
    "      --max-parallel N     at most N orders in flight (default 10)\n"
    "      --rate-limit N       at most N requests per second to the "
    "CA\n" CA_USAGE_WAITS(
        60) "  -v, --verbose            more output (twice: debug)\n"
            "  -q, --quiet              errors only\n"
            "      --json               one JSON line per event on stdout\n"
            "                           (each certificate, the pass's "
            "counts)\n";

int cmd_renew(int argc, char **argv)
{
    static const cli_cmd cmd = {.shortopts = "vqh",
                                .longopts = renew_options,
                                .take = take,
                                .usage = renew_usage,
                                .usage_on_error = true};
    rn_opts ro;
    memset(&ro, 0, sizeof ro);
    int status = parse(argc, argv, &ro, &cmd);
    if (status == 0) {
        time_t wake;
        ca_signals();
        status = pass(&ro, argv + optind, (size_t)(argc - optind), &wake);
    }
    free(ro.dir);
    return status < 0 ? 0 : status;
}

static const char daemon_usage[] =
    "usage: leec daemon [options]\n"
    "  keeps every certificate of the state folder renewed: renews what is\n"
    "  due, then sleeps until the next certificate is due or the CA's\n"
    "  renewal information is to be fetched again. SIGHUP: look again now;\n"
    "  SIGTERM: stop (cleaning up a renewal under way)\n"
    "      --dir DIR            state folder\n"
    "      --config FILE        also order the certificates of FILE (default:\n"
    "                           leec.conf when it exists; see leec apply)\n"
    "      --syslog             log to syslog (daemon facility) instead of\n"
    "                           stderr\n"
    "      --metrics-listen ADDR:PORT\n"
    "                           serve OpenMetrics at /metrics and JSON at\n"
    "                           /status (e.g. 127.0.0.1:9464)\n"
    "      --max-parallel N     at most N orders in flight (default 10)\n"
    "      --rate-limit N       at most N requests per second to the "
    "CA\n" CA_USAGE_WAITS(
        600) "  -v, --verbose            more output (twice: debug)\n"
             "  -q, --quiet              errors only\n"
             "      --json               one JSON line per event on stdout\n";

/* Reads every pending event of the live/ watch; true if there was one. */
static bool drain(int ifd)
{
    bool any = false;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    while (ifd >= 0 && read(ifd, buf, sizeof buf) > 0)
        any = true;
    return any;
}

/* Sleeps until wake (NEVER: until a signal), a stop, a reload, or a change
 * of live/ (a certificate added or removed by leec issue or leec reset,
 * which may be due before wake), with the three signals blocked outside
 * ppoll so that none is missed. True when woken by a change. */
static bool nap(time_t wake, const sigset_t *open_mask, int ifd)
{
    while (!ca_stop_signal && !reload_requested) {
        time_t now = time(NULL);
        if (wake != NEVER && now >= wake)
            return false;
        /* Chunks: a suspended machine's monotonic clock stands still. */
        time_t left = wake == NEVER ? NAP_MAX_S : wake - now;
        struct timespec ts = {left > NAP_MAX_S ? NAP_MAX_S : left, 0};
        struct pollfd pfd = {ifd, POLLIN, 0};
        int r = ppoll(ifd >= 0 ? &pfd : NULL, ifd >= 0 ? 1 : 0, &ts, open_mask);
        if (r < 0 && errno != EINTR)
            return false;
        if (r > 0 && drain(ifd))
            return true;
    }
    return false;
}

/* --json: the daemon's own events (what passes say is pass's):
 * "started", "next_wake" (at arg, NEVER: a signal), "reload" (arg: a
 * change of live/ rather than SIGHUP; nothing without either) and
 * "stopping". */
static void daemon_event(const rn_opts *ro, const char *event, time_t arg)
{
    json_t *f = NULL;
    if (!ro->json)
        return;
    if (strcmp(event, "started") == 0)
        f = json_pack("{s:s, s:I}", "dir", ro->dir, "pid",
                      (json_int_t)getpid());
    else if (strcmp(event, "next_wake") == 0)
        f = json_pack("{s:o}", "at", arg == NEVER ? json_null() : jo_time(arg));
    else if (strcmp(event, "stopping") == 0)
        f = json_pack("{s:i}", "signal", (int)ca_stop_signal);
    else if (ca_stop_signal || (!reload_requested && !arg))
        return; /* no reload: woken to stop, or at the time */
    else
        f = json_pack("{s:s}", "reason",
                      reload_requested ? "sighup" : "certificates_changed");
    jo_event(event, f);
}

int cmd_daemon(int argc, char **argv)
{
    static const cli_cmd cmd = {.shortopts = "vqh",
                                .longopts = daemon_options,
                                .take = take,
                                .usage = daemon_usage,
                                .usage_on_error = true};
    config_daemon cd; /* the configuration file (apply.c) */
    int status = config_daemon_start(&argc, &argv, &cd);
    if (status != 0) {
        config_daemon_free(&cd);
        return status;
    }
    /* On a store shared by a fleet, a node of it (argv is cd's). */
    if (cli_store_shared()) {
        status = fleet_daemon(argc, argv, config_daemon_requeue, &cd);
        config_daemon_free(&cd);
        return status;
    }
    rn_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.daemon = true;
    status = parse(argc, argv, &ro, &cmd);
    if (status != 0) {
        config_daemon_free(&cd);
        free(ro.dir);
        return status < 0 ? 0 : status;
    }
    if (ro.metrics_listen && !(ro.metrics = metrics_start(ro.metrics_listen))) {
        free(ro.dir);
        config_daemon_free(&cd);
        return 1;
    }
    if (ro.syslog) {
        openlog("leec", LOG_PID, LOG_DAEMON);
        use_syslog = true;
    }
    ca_signals();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    sigset_t block, open_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    /* One daemon per state folder: a second would renew everything
     * twice. The lock lives as long as this process. */
    leec_code rc;
    char *why = NULL;
    leec_store *st = leec_store_fs_open(ro.dir, &rc, &why);
    leec_store_lock *one = NULL;
    char *holder = NULL;
    if (!st ||
        (rc = leec_store_lock_take(st, "daemon", &one, &holder)) != LEEC_OK) {
        if (rc == LEEC_E_LOCKED)
            say(&ro, LOG_ERR,
                "another leec daemon (%s) is running on the state folder %s",
                holder ? holder : "?", ro.dir);
        else if (why) /* unsafe: which folder, and the fix */
            say(&ro, LOG_ERR, "%s", why);
        else
            say(&ro, LOG_ERR, "cannot open the state folder %s: %s", ro.dir,
                leec_strerror(rc));
        free(why);
        free(holder);
        leec_store_free(st);
        free(ro.dir);
        config_daemon_free(&cd);
        metrics_stop(ro.metrics);
        if (use_syslog)
            closelog();
        return 1;
    }
    say(&ro, LOG_NOTICE, "daemon started (state folder %s)", ro.dir);
    daemon_event(&ro, "started", 0);
    /* Watching live/ (the store makes it): certificates added meanwhile are
     * seen at once, not at the next wake. Without it, SIGHUP does it. */
    char *live = NULL;
    int ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (ifd >= 0 && (asprintf(&live, "%s/live", ro.dir) < 0 ||
                     inotify_add_watch(ifd, live,
                                       IN_CREATE | IN_MOVED_TO | IN_DELETE |
                                           IN_MOVED_FROM) < 0)) {
        say(&ro, LOG_WARNING,
            "cannot watch %s/live (%s): send SIGHUP after adding a "
            "certificate",
            ro.dir, strerror(errno));
        close(ifd);
        ifd = -1;
    }
    free(live);
    status = 0;
    while (!ca_stop_signal) {
        reload_requested = 0;
        time_t wake = NEVER;
        config_daemon_pass(&cd, ro.dir, ro.verbose, ro.quiet, ro.json);
        int r = pass(&ro, NULL, 0, &wake);
        wake = config_daemon_wake(&cd, wake);
        drain(ifd); /* the pass's own installs */
        if (r > 1)
            break; /* interrupted by SIGTERM/SIGINT */
        sigprocmask(SIG_BLOCK, &block, &open_mask);
        if (!ca_stop_signal && !reload_requested) {
            char when[32] = "a signal";
            if (wake != NEVER)
                fmt_when(wake, when, sizeof when);
            say(&ro, LOG_INFO, "next look at %s", when);
            daemon_event(&ro, "next_wake", wake);
        }
        bool changed = nap(wake, &open_mask, ifd);
        sigprocmask(SIG_SETMASK, &open_mask, NULL);
        if (reload_requested && !ca_stop_signal)
            say(&ro, LOG_NOTICE, "SIGHUP: reading the certificates again");
        else if (changed && !ca_stop_signal)
            say(&ro, LOG_INFO, "certificates added or removed: looking again");
        daemon_event(&ro, "reload", changed);
    }
    if (ifd >= 0)
        close(ifd);
    say(&ro, LOG_NOTICE, "stopping (signal %d)", (int)ca_stop_signal);
    daemon_event(&ro, "stopping", 0);
    leec_store_lock_release(one);
    leec_store_free(st);
    metrics_stop(ro.metrics);
    if (use_syslog)
        closelog();
    free(ro.dir);
    config_daemon_free(&cd);
    return status;
}
