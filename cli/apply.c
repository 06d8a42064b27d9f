#define _GNU_SOURCE
/* leec apply, and the configuration file in leec daemon (apply.h): the
 * certificates of the file (config.c) compared with the store, then run
 * through leec issue's batch (issue.h), one batch per distinct set of
 * options. What is missing is ordered, what changed is ordered again, what
 * is due is renewed (the agent decides, by the renewal plan leec renew
 * reads), and certificates of the store the file no longer names are told,
 * never deleted. */
#include "apply.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>

#include "config.h"
#include "jsonout.h"
#include "issue.h"
#include "lifecycle.h"

/* Settings that make another certificate, not only another way to get
 * it: a change orders again (as a changed set of names does), with
 * --force, unless the certificate is backing off after failed attempts.
 * A changed key type or profile needs no --force: leec issue orders again
 * by itself (and waits out a back-off too). The others (solver, hooks,
 * contact) are used from the next order on. Keys of the settings
 * (lifecycle.c). */
static const char *const reorder_keys[] = {"server", "key_type", "profile",
                                           "preferred_chain", NULL};

typedef struct ap_opts {
    const char *dir; /* the state folder (resolved) */
    bool dry_run, json, quiet, syslog;
    bool daemon;     /* its output on stderr, as the daemon's; its summary
                        only when something happened */
    bool quiet_kept; /* certificates not in the file not told (the
                        daemon's passes but the first after a load) */
    int verbose;
} ap_opts;

typedef struct ap_cert {
    const cfg_cert *c;
    bool existed;
    bool force;
    char *reason; /* "new", "names changed", "key_type changed" */
    bool done;
    leec_outcome outcome;
    json_t *result; /* issue's --json object */
} ap_cert;

typedef struct ap_run {
    const cfg *cf;
    const ap_opts *ao;
    ap_cert *v;
    size_t n;
    unsigned issued, renewed, unchanged, deferred, failed, queued, kept;
    bool hook_failed; /* a run failed with none of its certificates */
} ap_run;

__attribute__((format(printf, 3, 4))) static void
say(const ap_opts *ao, int prio, const char *fmt, ...)
{
    va_list ap;
    if ((ao->quiet || ao->json) && prio > LOG_WARNING)
        return;
    va_start(ap, fmt);
    cli_vsay(ao->syslog, ao->daemon, prio, fmt, ap);
    va_end(ap);
}

static void print_line(const ap_opts *ao, json_t *j)
{
    if (ao->daemon) { /* leec daemon --json: an event of its stream */
        if (j)
            jo_event("apply", json_pack("{s:O}", "result", j));
        return;
    }
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (s) {
        puts(s);
        fflush(stdout);
    }
    free(s);
}

/* ---- what the store holds ---- */

static bool names_same(const cfg_cert *c, const json_t *names)
{
    if (json_array_size(names) != c->nnames)
        return false;
    for (size_t i = 0; i < c->nnames; i++) {
        bool found = false;
        for (size_t j = 0; j < c->nnames && !found; j++) {
            const char *s = json_string_value(json_array_get(names, j));
            found = s && strcasecmp(s, c->names[i]) == 0;
        }
        if (!found)
            return false;
    }
    return true;
}

/* c's options as leec issue reads them, and the settings it keeps. */
static json_t *settings_of(const cfg_cert *c, const char *dir)
{
    char **argv = calloc(c->nargs + 6, sizeof *argv);
    size_t argc = 0;
    if (!argv)
        return NULL;
    argv[argc++] = "issue";
    for (size_t i = 0; i < c->nargs; i++)
        argv[argc++] = c->args[i];
    argv[argc++] = "--dir";
    argv[argc++] = (char *)dir;
    argv[argc++] = "-d";
    argv[argc++] = c->names[0];
    ca_opts o;
    ca_opts_init(&o);
    json_t *j =
        issue_parse((int)argc, argv, &o) == 0 ? lc_settings_json(&o) : NULL;
    free(o.names);
    free(o.dir);
    free(argv);
    return j;
}

static bool str_eq(const json_t *a, const json_t *b, bool server)
{
    const char *x = json_string_value(a), *y = json_string_value(b);
    if (server) { /* "letsencrypt" and its URL are one CA */
        x = leec_server_url(x ? x : "letsencrypt");
        y = leec_server_url(y ? y : "letsencrypt");
    }
    return x == y || (x && y && strcmp(x, y) == 0);
}

/* Whether and why c is ordered regardless of its renewal time. */
static int compare(ap_cert *a, leec_store *store, const char *dir)
{
    char *text = NULL;
    json_error_t jerr;
    leec_code rc = leec_store_read_meta(store, a->c->cert_name, &text);
    json_t *meta = rc == LEEC_OK ? json_loads(text, 0, &jerr) : NULL;
    free(text);
    int status = 0;
    if (!meta) {
        a->existed = rc != LEEC_E_NOT_FOUND;
        a->reason = strdup(a->existed ? "unreadable settings" : "new");
        a->force = a->existed; /* its settings are lost: take the file's */
        return a->reason ? 0 : 1;
    }
    a->existed = true;
    json_t *now = settings_of(a->c, dir);
    const json_t *kept = json_object_get(meta, "settings");
    if (!names_same(a->c, json_object_get(meta, "names"))) {
        a->reason = strdup("names changed");
        status = a->reason ? 0 : 1;
    } else if (now) {
        for (size_t i = 0; reorder_keys[i] && !a->reason; i++) {
            const char *k = reorder_keys[i];
            if (str_eq(json_object_get(kept, k), json_object_get(now, k),
                       i == 0))
                continue;
            a->force = strcmp(k, "key_type") != 0 && strcmp(k, "profile") != 0;
            if (asprintf(&a->reason, "%s changed", k) < 0) {
                a->reason = NULL;
                status = 1;
            }
        }
    }
    json_decref(now);
    json_decref(meta);
    /* Backing off: the next attempt waits as a renewal's would. */
    leec_renewal_plan *pl = NULL;
    if (a->force &&
        leec_store_renewal_plan(store, a->c->cert_name, &pl) == LEEC_OK &&
        pl->failures && pl->retry_at > time(NULL))
        a->force = false;
    leec_renewal_plan_free(pl);
    return status;
}

/* ---- running ---- */

static ap_cert *find(ap_run *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcasecmp(r->v[i].c->cert_name, name) == 0)
            return &r->v[i];
    return NULL;
}

static void on_result(void *ud, leec_agent *agent, leec_outcome outcome,
                      json_t *result)
{
    ap_cert *a = find(ud, leec_agent_cert_name(agent));
    if (!a)
        return;
    a->done = true;
    a->outcome = outcome;
    json_decref(a->result);
    a->result = json_deep_copy(result);
}

static bool same_args(const ap_cert *a, const ap_cert *b)
{
    if (a->force != b->force || a->c->nargs != b->c->nargs)
        return false;
    for (size_t i = 0; i < a->c->nargs; i++)
        if (strcmp(a->c->args[i], b->c->args[i]) != 0)
            return false;
    return true;
}

/* The library's messages of a run in leec daemon --syslog. */
static void to_syslog(void *ud, leec_log_level level, const char *msg)
{
    (void)ud;
    syslog(level == LEEC_LOG_ERROR  ? LOG_ERR
           : level == LEEC_LOG_WARN ? LOG_WARNING
           : level == LEEC_LOG_INFO ? LOG_INFO
                                    : LOG_DEBUG,
           "%s", msg);
}

/* One batch: the certificates of r with the arguments of lead, through
 * leec issue --batch (from memory). Its exit status. */
static int run_batch(ap_run *r, ap_cert *lead, bool *in, bool queue)
{
    const ap_opts *ao = r->ao;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return 1;
    for (size_t i = 0; i < r->n; i++) {
        if (!in[i])
            continue;
        fputs(r->v[i].c->cert_name, f);
        for (size_t k = 0; k < r->v[i].c->nnames; k++)
            fprintf(f, " %s", r->v[i].c->names[k]);
        fputc('\n', f);
    }
    if (fclose(f) != 0) {
        free(text);
        return 1;
    }
    const cfg_cert *c = lead->c;
    char **argv = calloc(c->nargs + 12, sizeof *argv);
    int status = 1;
    FILE *batch = argv ? fmemopen(text, len, "r") : NULL;
    if (batch) {
        int argc = 0;
        argv[argc++] = "issue";
        for (size_t i = 0; i < c->nargs; i++)
            argv[argc++] = c->args[i];
        argv[argc++] = "--dir";
        argv[argc++] = (char *)ao->dir;
        argv[argc++] = "--batch";
        argv[argc++] = r->cf->path; /* names it in messages */
        if (lead->force)
            argv[argc++] = "--force";
        if (queue)
            argv[argc++] = "--queue";
        if (ao->quiet || queue)
            argv[argc++] = "-q";
        for (int v = 0; v < ao->verbose && v < 2; v++)
            argv[argc++] = "-v";
        issue_feed feed = {batch, on_result, r, ao->syslog ? to_syslog : NULL};
        status = issue_run(argc, argv, &feed);
        fclose(batch);
    }
    free(argv);
    free(text);
    return status;
}

/* ---- telling ---- */

static const char *action_of(const ap_cert *a, bool queue)
{
    if (queue && !a->reason)
        return "unchanged"; /* the fleet renews it */
    if (queue)
        return a->done ? "queued" : "failed";
    if (!a->done)
        return "failed";
    switch (a->outcome) {
    case LEEC_OUTCOME_ISSUED:
        return a->existed && !a->reason ? "renewed" : "issued";
    case LEEC_OUTCOME_FRESH:
        return "unchanged";
    case LEEC_OUTCOME_DEFERRED:
        return "deferred";
    default:
        return "failed";
    }
}

static json_t *names_json(const cfg_cert *c)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < c->nnames; i++)
        json_array_append_new(arr, json_string(c->names[i]));
    return arr;
}

static void tell(ap_run *r, ap_cert *a, bool queue)
{
    const ap_opts *ao = r->ao;
    const char *action = action_of(a, queue);
    const char *reason = a->reason                        ? a->reason
                         : strcmp(action, "renewed") == 0 ? "due"
                                                          : NULL;
    const char *name = a->c->cert_name;
    if (strcmp(action, "issued") == 0)
        r->issued++;
    else if (strcmp(action, "renewed") == 0)
        r->renewed++;
    else if (strcmp(action, "unchanged") == 0)
        r->unchanged++;
    else if (strcmp(action, "deferred") == 0)
        r->deferred++;
    else if (strcmp(action, "queued") == 0)
        r->queued++;
    else
        r->failed++;
    const char *err = json_string_value(json_object_get(a->result, "error"));
    if (ao->json) {
        json_t *j = json_pack("{s:s, s:s, s:s?}", "cert_name", name, "action",
                              action, "reason", reason);
        if (j && a->result)
            json_object_update_missing(j, a->result);
        else if (j)
            json_object_set_new(j, "names", names_json(a->c));
        if (j && !a->done && !queue)
            json_object_set_new(j, "error",
                                json_string("not started (see the messages "
                                            "above)"));
        /* The daemon's stream tells what happened, not every pass's
         * unchanged certificates (unless -v). */
        if (!ao->daemon || strcmp(action, "unchanged") != 0 || ao->verbose)
            print_line(ao, j);
        json_decref(j);
        return;
    }
    const char *live = json_string_value(json_object_get(a->result, "live"));
    if (strcmp(action, "failed") == 0)
        say(ao, LOG_ERR, "%s failed: %s", name,
            err ? err : "not started (see the messages above)");
    else if (strcmp(action, "unchanged") == 0 && !ao->verbose)
        return;
    else
        say(ao, strcmp(action, "deferred") == 0 ? LOG_WARNING : LOG_NOTICE,
            "%s %s%s%s%s%s%s", name, action, reason ? " (" : "",
            reason ? reason : "", reason ? ")" : "", live ? " -> " : "",
            live ? live : "");
}

/* Certificates of the store that the file does not name. */
static void tell_kept(ap_run *r, leec_store *store)
{
    char **names = NULL;
    size_t n = 0;
    if (leec_store_list(store, &names, &n) != LEEC_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        if (find(r, names[i]))
            continue;
        r->kept++;
        if (r->ao->quiet_kept)
            continue;
        if (r->ao->json) {
            json_t *j = json_pack("{s:s, s:s, s:s}", "cert_name", names[i],
                                  "action", "not-in-config", "reason",
                                  "kept; leec reset forgets it");
            print_line(r->ao, j);
            json_decref(j);
        } else {
            say(r->ao, LOG_NOTICE,
                "%s is not in %s: kept; `leec reset %s` forgets it", names[i],
                r->cf->path, names[i]);
        }
    }
    leec_store_list_free(names, n);
}

/* --dry-run: what a run would do, by the renewal plan. */
static void tell_plan(ap_run *r, ap_cert *a, leec_store *store)
{
    const char *name = a->c->cert_name;
    char when[32] = "";
    const char *action = "would-issue";
    const char *reason = a->reason;
    leec_renewal_plan *pl = NULL;
    time_t now = time(NULL);
    if (!reason && leec_store_renewal_plan(store, name, &pl) == LEEC_OK) {
        struct tm tm;
        time_t t = pl->failures && pl->retry_at > now ? pl->retry_at : pl->due;
        gmtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        action = pl->failures && pl->retry_at > now ? "deferred"
                 : pl->broken || pl->due <= now     ? "would-renew"
                                                    : "unchanged";
        reason = strcmp(action, "would-renew") == 0
                     ? (pl->broken ? pl->broken : "due")
                 : strcmp(action, "deferred") == 0 ? "backing off"
                                                   : "not due";
    } else if (!reason) {
        reason = "no current version";
    }
    if (r->ao->json) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:o, s:b}", "cert_name", name,
                              "action", action, "reason", reason, "names",
                              names_json(a->c), "dry_run", 1);
        if (j && *when)
            json_object_set_new(
                j, strcmp(action, "deferred") == 0 ? "retry_at" : "due",
                json_string(when));
        print_line(r->ao, j);
        json_decref(j);
    } else {
        printf("%s: %s (%s%s%s)\n", name, action, reason, *when ? "; " : "",
               *when ? when : "");
    }
    leec_renewal_plan_free(pl);
}

/* The whole of leec apply on a loaded file. Its exit status. */
static int apply(const cfg *cf, const ap_opts *ao)
{
    ap_run r = {.cf = cf, .ao = ao};
    double t0 = cli_now_s();
    leec_store *store = cli_store_open(ao->dir);
    if (!store)
        return 1;
    bool queue = leec_store_is_shared(store);
    int status = 0;
    bool *in = NULL;
    if (cf->n && (!(r.v = calloc(cf->n, sizeof *r.v)) ||
                  !(in = calloc(cf->n, sizeof *in)))) {
        say(ao, LOG_ERR, "out of memory");
        status = 1;
        goto out;
    }
    for (size_t i = 0; i < cf->n; i++) {
        r.v[i].c = &cf->certs[i];
        r.n++;
        if (compare(&r.v[i], store, ao->dir) != 0) {
            say(ao, LOG_ERR, "out of memory");
            status = 1;
            goto out;
        }
    }
    if (ao->dry_run) {
        for (size_t i = 0; i < r.n; i++)
            tell_plan(&r, &r.v[i], store);
        tell_kept(&r, store);
        goto out;
    }
    /* A fleet renews what it holds: only the new and the changed are
     * queued (again). */
    for (size_t i = 0; queue && i < r.n; i++)
        if (!r.v[i].reason) {
            r.v[i].done = true;
            tell(&r, &r.v[i], queue);
        }
    /* One batch per distinct set of options, in the file's order. */
    for (size_t i = 0; i < r.n && !ca_stop_signal; i++) {
        if (r.v[i].done || in[i])
            continue;
        size_t first = i;
        memset(in, 0, r.n * sizeof *in);
        for (size_t k = i; k < r.n; k++)
            in[k] = !r.v[k].done && same_args(&r.v[i], &r.v[k]);
        int st = run_batch(&r, &r.v[i], in, queue);
        if (queue && st == 0)
            for (size_t k = first; k < r.n; k++)
                r.v[k].done |= in[k];
        unsigned failed = r.failed;
        for (size_t k = first; k < r.n; k++)
            if (in[k])
                tell(&r, &r.v[k], queue);
        r.hook_failed |= st == 1 && r.failed == failed; /* a hook's exit */
        /* Told: not taken again by a later batch. */
        for (size_t k = first; k < r.n; k++)
            r.v[k].done |= in[k];
        if (st > 2) { /* a signal stopped it */
            status = st;
            goto out;
        }
        memset(in, 0, r.n * sizeof *in);
    }
    tell_kept(&r, store);
    if (ao->json) {
        json_t *j = json_pack(
            "{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:f}", "action",
            "summary", "config", cf->path, "issued", r.issued, "renewed",
            r.renewed, "unchanged", r.unchanged, "deferred", r.deferred,
            "failed", r.failed, "queued", r.queued, "not_in_config", r.kept,
            "seconds", cli_now_s() - t0);
        if (!ao->daemon || r.issued || r.renewed || r.failed || r.deferred ||
            r.queued)
            print_line(ao, j);
        json_decref(j);
    } else if (ao->daemon && !r.issued && !r.renewed && !r.failed &&
               !r.deferred && !r.queued) {
        /* said by the daemon's own pass: nothing more here */
    } else if (queue) {
        say(ao, LOG_NOTICE,
            "%s: %u queued for the fleet, %u unchanged, %u failed", cf->path,
            r.queued, r.unchanged, r.failed);
    } else {
        say(ao, r.failed ? LOG_WARNING : LOG_INFO,
            "%s: %u issued, %u renewed, %u unchanged, %u deferred, %u "
            "failed; %u not in the file (kept)",
            cf->path, r.issued, r.renewed, r.unchanged, r.deferred, r.failed,
            r.kept);
    }
    status = r.failed || r.hook_failed ? 1 : 0;
out:
    for (size_t i = 0; i < r.n; i++) {
        free(r.v[i].reason);
        json_decref(r.v[i].result);
    }
    free(r.v);
    free(in);
    leec_store_free(store);
    return status;
}

/* ---- leec apply ---- */

static void to_stderr(void *ud, const char *msg)
{
    (void)ud;
    fprintf(stderr, "leec: %s\n", msg);
}

/* The file's store and master key (defaults: store, store-key) unless
 * --store or $LEEC_STORE, --store-key name others: the strings must
 * outlive every use. */
static void use_store_of(const cfg *cf, char **spec, char **key)
{
    if (!cli_store_spec() && cf->store && (*spec = strdup(cf->store)))
        cli_set_store(*spec, NULL);
    if (!cli_store_key_file() && cf->store_key &&
        (*key = strdup(cf->store_key)))
        cli_set_store(NULL, *key);
}

enum { OPT_CONFIG = 256, OPT_DRY_RUN, OPT_JSON, OPT_DIR };

typedef struct apply_args {
    const char *config;
    char *dir;
    ap_opts ao;
} apply_args;

static int take(void *ud, int c, const char *arg)
{
    apply_args *a = ud;
    switch (c) {
    case OPT_CONFIG:
        a->config = arg;
        return 0;
    case OPT_DRY_RUN:
        a->ao.dry_run = true;
        return 0;
    case OPT_JSON:
        a->ao.json = true;
        return 0;
    case OPT_DIR:
        return cli_set_dir(&a->dir, arg);
    case 'v':
        a->ao.verbose++;
        return 0;
    case 'q':
        a->ao.quiet = true;
        return 0;
    default:
        return CLI_OPT_OTHER;
    }
}

static const char apply_usage[] =
    "usage: leec apply [--config FILE] [options]\n"
    "  makes the store hold the certificates of the configuration file:\n"
    "  orders those missing, orders again those whose names (or server,\n"
    "  key-type, profile, preferred-chain) changed, renews those due, and\n"
    "  tells (never deletes) those the file no longer names\n"
    "      --config FILE        the file (default: /etc/leec/leec.conf as\n"
    "                           root, else ~/.config/leec/leec.conf)\n"
    "      --dry-run            say what would be done; send nothing\n"
    "      --dir DIR            state folder (default: the file's, else\n"
    "                           /var/lib/leec or ~/.local/share/leec)\n"
    "      --json               one JSON line per certificate, then a\n"
    "                           summary line\n"
    "  -v, --verbose            more output (twice: debug)\n"
    "  -q, --quiet              errors only\n";

int cmd_apply(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, OPT_CONFIG},
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {"json", no_argument, NULL, OPT_JSON},
        {"dir", required_argument, NULL, OPT_DIR},
        {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const cli_cmd cmd = {.shortopts = "vqh",
                                .longopts = opts,
                                .take = take,
                                .usage = apply_usage,
                                .usage_on_error = true};
    apply_args a;
    memset(&a, 0, sizeof a);
    int status = cli_getopt(&cmd, argc, argv, &a);
    char *path = NULL, *spec = NULL, *key = NULL;
    cfg cf;
    memset(&cf, 0, sizeof cf);
    if (status == 0 && optind < argc) {
        fprintf(stderr, "leec: unexpected argument '%s'\n", argv[optind]);
        status = EXIT_USAGE;
    }
    if (status == 0 && cfg_locate(a.config, &path) != 0)
        status = EXIT_USAGE;
    else if (status == 0 && !path) {
        char *def = cfg_default_path();
        fprintf(stderr,
                "leec: no configuration file: %s does not exist (--config "
                "FILE names another)\n",
                def ? def : "the default");
        free(def);
        status = EXIT_USAGE;
    }
    if (status == 0 && cfg_load(path, &cf, to_stderr, NULL) != 0) {
        fprintf(stderr,
                "leec: %s: nothing done (`leec config check` lists "
                "the errors)\n",
                path);
        status = EXIT_USAGE;
    }
    if (status == 0) {
        if (!a.dir && cf.dir && cli_set_dir(&a.dir, cf.dir) != 0)
            status = 1;
        else if (!cli_state_dir(&a.dir))
            status = EXIT_USAGE;
    }
    if (status == 0) {
        use_store_of(&cf, &spec, &key);
        a.ao.dir = a.dir;
        ca_signals();
        status = apply(&cf, &a.ao);
    }
    cfg_free(&cf);
    free(path);
    free(a.dir);
    free(spec);
    free(key);
    return status < 0 ? 0 : status;
}

/* ---- leec daemon --config ---- */

static void to_log(void *ud, const char *msg)
{
    const config_daemon *d = ud;
    if (d->syslog)
        syslog(LOG_ERR, "%s", msg);
    else
        fprintf(stderr, "leec: %s\n", msg);
}

/* Loads the file again when it changed on disk; a file that became
 * invalid is told once and the one before kept. */
static void reload(config_daemon *d)
{
    struct stat st;
    if (stat(d->path, &st) != 0) {
        if (d->mtime != -1)
            to_log(d, d->have ? "the configuration file is gone: keeping the "
                                "certificates it named"
                              : "the configuration file is gone");
        d->mtime = -1;
        return;
    }
    /* To the nanosecond, and the inode: an editor's quick rewrite, or a
     * new file renamed over it, is seen. */
    if (d->loaded && st.st_mtim.tv_sec == d->mtime &&
        st.st_mtim.tv_nsec == d->mtime_ns && st.st_size == d->size &&
        st.st_ino == d->ino)
        return;
    d->mtime = st.st_mtim.tv_sec;
    d->mtime_ns = st.st_mtim.tv_nsec;
    d->size = st.st_size;
    d->ino = st.st_ino;
    d->loaded = true;
    cfg next;
    unsigned nerr = cfg_load(d->path, &next, to_log, d);
    if (nerr) {
        char *msg = NULL;
        if (asprintf(&msg, "%s: %u error%s: %s", d->path, nerr,
                     nerr == 1 ? "" : "s",
                     d->have ? "keeping the file as it was"
                             : "no certificates from it") >= 0)
            to_log(d, msg);
        free(msg);
        return;
    }
    cfg_free(&d->cur);
    d->cur = next;
    d->have = true;
    d->fresh = true;
    const char *s = d->cur.n == 1 ? "" : "s";
    if (d->syslog)
        syslog(LOG_NOTICE, "%s: %zu certificate%s", d->path, d->cur.n, s);
    else
        fprintf(stderr, "leec: %s: %zu certificate%s\n", d->path, d->cur.n, s);
}

/* A fleet's daemon: the file's new and changed certificates queued on
 * the shared store (apply queues there). Its exit status. */
static int queue_file(config_daemon *d)
{
    char *dir = NULL;
    if (!cli_state_dir(&dir))
        return EXIT_USAGE;
    ap_opts ao = {.dir = dir, .syslog = d->syslog, .daemon = true};
    d->fresh = false;
    int r = apply(&d->cur, &ao);
    free(dir);
    return r;
}

int config_daemon_start(int *argc, char ***argv, config_daemon *d)
{
    const char *given = NULL;
    int out = 1;
    char **v = *argv;
    memset(d, 0, sizeof d[0]);
    d->retry = (time_t)-1;
    d->mtime = -1;
    if (!(d->argv = calloc((size_t)*argc + 3, sizeof *d->argv)))
        return 1;
    d->argv[0] = v[0];
    bool has_dir = false;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(v[i], "--config") == 0 && i + 1 < *argc) {
            given = v[++i];
            continue;
        }
        if (strncmp(v[i], "--config=", 9) == 0) {
            given = v[i] + 9;
            continue;
        }
        has_dir |=
            strcmp(v[i], "--dir") == 0 || strncmp(v[i], "--dir=", 6) == 0;
        d->argv[out++] = v[i];
    }
    d->argv[out] = NULL;
    *argc = out;
    *argv = d->argv;
    int r = cfg_locate(given, &d->path);
    if (r != 0 || !d->path)
        return r;
    for (int i = 1; i < out; i++)
        d->syslog |= strcmp(d->argv[i], "--syslog") == 0;
    reload(d);
    if (!d->have)
        return 1; /* the daemon does not start on an invalid file */
    use_store_of(&d->cur, &d->store, &d->store_key);
    /* The file's state folder, unless --dir names one: the daemon watches
     * the folder the file's certificates go to. */
    if (!has_dir && d->cur.dir) {
        memmove(d->argv + 3, d->argv + 1, (size_t)out * sizeof *d->argv);
        d->argv[1] = "--dir";
        if (!(d->dir = strdup(d->cur.dir)))
            return 1;
        d->argv[2] = d->dir;
        *argc = out + 2;
    }
    /* A fleet's daemons order what is queued: the file's certificates are
     * queued here, and again on SIGHUP when the file changed. */
    return cli_store_shared() ? queue_file(d) : 0;
}

void config_daemon_requeue(void *ud)
{
    config_daemon *d = ud;
    if (!d->path)
        return;
    reload(d);
    if (d->have && d->fresh)
        queue_file(d);
}

void config_daemon_pass(config_daemon *d, const char *dir, int verbose,
                        bool quiet, bool json)
{
    d->retry = (time_t)-1;
    if (!d->path)
        return;
    reload(d);
    if (!d->have || d->cur.n == 0)
        return;
    ap_opts ao = {.dir = dir,
                  .syslog = d->syslog,
                  .daemon = true,
                  .quiet_kept = !d->fresh,
                  .quiet = quiet,
                  .json = json,
                  .verbose = verbose};
    d->fresh = false;
    /* A certificate that could not be ordered is tried again in an hour
     * (the renewal plan schedules those in the store). */
    if (apply(&d->cur, &ao) == 1)
        d->retry = time(NULL) + 3600;
}

time_t config_daemon_wake(const config_daemon *d, time_t wake)
{
    if (d->retry == (time_t)-1)
        return wake;
    return wake == (time_t)-1 || d->retry < wake ? d->retry : wake;
}

void config_daemon_free(config_daemon *d)
{
    cfg_free(&d->cur);
    free(d->argv);
    free(d->path);
    free(d->dir);
    /* d->store, d->store_key: cli_set_store holds them until the end */
}
