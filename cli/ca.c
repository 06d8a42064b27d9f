#define _GNU_SOURCE
/* What every command that talks to the CA shares (issue, renew, account,
 * revoke): the common options, the context made from them, the
 * signals that stop a run, the event loop, and a context-level operation
 * (revocation, account operation) run until its callback fires. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca.h"

#define ORDERS_WINDOW_S (3u * 3600u)       /* --budget-orders: per 3 hours */
#define DOMAIN_WINDOW_S (7u * 24u * 3600u) /* --budget-domain: per 7 days */

#define STOP_MAX_S 30 /* the removals after a stop signal, at most */

volatile sig_atomic_t ca_stop_signal;
static volatile sig_atomic_t stop_signals; /* how many came */

/* A run being stopped: what its solvers put up, and how the removal went.
 * The CLI runs one loop at a time. */
static struct {
    const char *what; /* "the DNS records", ... */
    leec_ctx *ctx;    /* stopped (leec_ctx_stop), still alive */
    size_t started;   /* removals started */
    unsigned failed_before;
    sig_atomic_t signals_at;
    double until;
    bool cut; /* ended before they were done */
} stop = {.what = "the challenge answers"};

static void on_signal(int sig)
{
    ca_stop_signal = sig;
    stop_signals++;
}

void ca_stop_describe(const ca_opts *o)
{
    stop.what = o->dns       ? "the DNS records"
                : o->webroot ? "the challenge files"
                : o->hook    ? "the challenges (the hook's cleanup)"
                             : "the challenge answers";
}

bool ca_stop_turn(leec_ctx *ctx)
{
    if (!ca_stop_signal)
        return false;
    if (stop.ctx != ctx) {
        /* The first turn after the signal: stop, and say what is removed
         * (said done only once it is: ca_run_status). */
        stop.ctx = ctx;
        (void)leec_ctx_cleanups(ctx, &stop.failed_before);
        stop.started = leec_ctx_stop(ctx);
        stop.signals_at = stop_signals;
        stop.until = cli_now_s() + STOP_MAX_S;
        if (stop.started) {
            fprintf(stderr, "leec: interrupted; removing %s...\n", stop.what);
            fflush(stderr);
        }
        return false;
    }
    /* Another signal, or too long: end now (freeing the context makes one
     * last bounded attempt). */
    stop.cut = stop_signals != stop.signals_at || cli_now_s() > stop.until;
    return stop.cut;
}

const char *ca_stop_text(void)
{
    static char text[160];
    unsigned failed = 0;
    if (stop.ctx)
        (void)leec_ctx_cleanups(stop.ctx, &failed);
    failed -= stop.failed_before;
    if (!stop.ctx || !stop.started)
        snprintf(text, sizeof text, "interrupted");
    else if (stop.cut)
        snprintf(text, sizeof text,
                 "interrupted again; removing %s was cut short (some may be "
                 "left)",
                 stop.what);
    else if (failed)
        snprintf(text, sizeof text,
                 "interrupted; %u of %s could not be removed (see above)",
                 failed, stop.what);
    else
        snprintf(text, sizeof text, "interrupted; %s were removed", stop.what);
    return text;
}

void ca_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

leec_code ca_run(leec_ctx *ctx)
{
    leec_code rc = LEEC_OK;
    int running = 1;
    while (!ca_stop_turn(ctx)) {
        if ((rc = leec_ctx_perform(ctx, &running)) != LEEC_OK || !running)
            break;
        /* Bounded wait so a signal is noticed promptly. */
        if ((rc = leec_ctx_poll(ctx, 250)) != LEEC_OK)
            break;
    }
    return rc;
}

int ca_run_status(leec_code rc)
{
    if (ca_stop_signal) {
        fprintf(stderr, "leec: %s\n", ca_stop_text());
        return 128 + ca_stop_signal;
    }
    if (rc != LEEC_OK) {
        fprintf(stderr, "leec: event loop: %s\n", leec_strerror(rc));
        return 1;
    }
    return 0;
}

void ca_opts_init(ca_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_parallel = 10;
    o->dns_propagation = -1;
    o->waits = CA_WAITS(CA_MAX_WAIT_S);
}

int ca_wait_option(int c, const char *arg, ca_waits *w)
{
    const char *opt = c == OPT_WAIT_MAX     ? "--max-wait"
                      : c == OPT_WAIT_ORDER ? "--order-timeout"
                      : c == OPT_WAIT_LOCK  ? "--lock-timeout"
                                            : NULL;
    unsigned v = 0;
    if (!opt)
        return CLI_OPT_OTHER;
    if (!cli_parse_unsigned(opt, arg, &v))
        return EXIT_USAGE;
    if (v > 86400 || (c == OPT_WAIT_ORDER && v == 0)) {
        fprintf(stderr, "leec: %s: %s to 86400 seconds\n", opt,
                c == OPT_WAIT_ORDER ? "1" : "0");
        return EXIT_USAGE;
    }
    if (c == OPT_WAIT_MAX)
        w->max_wait = v;
    else if (c == OPT_WAIT_ORDER)
        w->order_timeout = v;
    else
        w->lock_timeout = v;
    return 0;
}

int ca_option(int c, const char *arg, ca_opts *o)
{
    switch (c) {
    case OPT_CA_SERVER:
        o->server = arg;
        return 0;
    case OPT_CA_BUNDLE_FILE:
        o->ca_bundle = arg;
        return 0;
    case OPT_CA_DIR:
        return cli_set_dir(&o->dir, arg);
    case OPT_CA_AGREE_TOS:
        o->agree_tos = true;
        return 0;
    case OPT_CA_EAB_KEY_FILE:
        o->eab_hmac_key_file = arg;
        return 0;
    case 'v':
        o->verbose++;
        return 0;
    case 'q':
        o->quiet = true;
        return 0;
    default:
        return ca_wait_option(c, arg, &o->waits);
    }
}

leec_ctx *ca_ctx_new(const ca_opts *o, leec_log_fn log, void *logud,
                     int *status)
{
    leec_code rc;
    leec_ctx *ctx = leec_ctx_new();
    *status = 1;
    if (!ctx) {
        fputs("leec: out of memory\n", stderr);
        return NULL;
    }
    leec_log_level lvl = o->quiet         ? LEEC_LOG_ERROR
                         : o->verbose > 1 ? LEEC_LOG_DEBUG
                         : o->verbose     ? LEEC_LOG_INFO
                                          : LEEC_LOG_WARN;
    leec_ctx_set_log(ctx, log, logud, lvl);
    if (o->server && (rc = leec_ctx_set_server(ctx, o->server)) != LEEC_OK) {
        fprintf(stderr, "leec: --server %s: %s\n", o->server,
                leec_strerror(rc));
        *status = EXIT_USAGE;
        goto fail;
    }
    if (o->ca_bundle)
        leec_ctx_set_ca_bundle(ctx, o->ca_bundle);
    if (o->account_key_type_set)
        leec_ctx_set_account_key_type(ctx, o->account_key_type);
    if (o->email && (rc = leec_ctx_set_contact(ctx, o->email)) != LEEC_OK) {
        fprintf(stderr, "leec: --email %s: %s\n", o->email, leec_strerror(rc));
        *status = EXIT_USAGE;
        goto fail;
    }
    leec_ctx_set_agree_tos(ctx, o->agree_tos);
    if (o->eab_hmac_key && o->eab_hmac_key_file) {
        fputs("leec: --eab-hmac-key or --eab-hmac-key-file, not both\n",
              stderr);
        *status = EXIT_USAGE;
        goto fail;
    }
    char *keybuf = NULL;
    const char *key = o->eab_hmac_key;
    if (o->eab_hmac_key_file) {
        if (!(keybuf = cli_read_secret("--eab-hmac-key-file",
                                       o->eab_hmac_key_file))) {
            *status = EXIT_USAGE;
            goto fail;
        }
        key = keybuf;
    }
    if ((o->eab_kid != NULL) != (key != NULL)) {
        fputs("leec: --eab-kid and --eab-hmac-key go together\n", stderr);
        cli_free_secret(keybuf);
        *status = EXIT_USAGE;
        goto fail;
    }
    rc = o->eab_kid ? leec_ctx_set_eab(ctx, o->eab_kid, key) : LEEC_OK;
    cli_free_secret(keybuf); /* the context keeps its own copy */
    if (rc != LEEC_OK) {
        fprintf(stderr,
                "leec: --eab-kid/--eab-hmac-key: %s (the key is "
                "base64url)\n",
                leec_strerror(rc));
        *status = EXIT_USAGE;
        goto fail;
    }
    leec_ctx_set_account_mode(ctx, o->throwaway_per_cert
                                       ? LEEC_ACCOUNT_PER_CERTIFICATE
                                   : o->throwaway ? LEEC_ACCOUNT_THROWAWAY
                                                  : LEEC_ACCOUNT_SAVED);
    leec_ctx_set_max_pause(ctx, o->waits.max_wait);
    leec_ctx_set_order_timeout(ctx, o->waits.order_timeout);
    leec_ctx_set_lock_timeout(ctx, o->waits.lock_timeout);
    /* After set_server: the library picks its defaults from the URL. */
    leec_ctx_set_max_parallel(ctx, o->max_parallel);
    if (o->rate_set)
        leec_ctx_set_rate_limit(ctx, o->rate_limit);
    if (o->budget_orders_set)
        leec_ctx_set_order_budget(ctx, o->budget_orders, ORDERS_WINDOW_S);
    if (o->budget_domain_set)
        leec_ctx_set_domain_budget(ctx, o->budget_domain, DOMAIN_WINDOW_S);
    *status = 0;
    return ctx;
fail:
    leec_ctx_free(ctx);
    return NULL;
}

int ca_open_store(leec_ctx *ctx, const ca_opts *o)
{
    leec_store *store = cli_store_open(o->dir);
    if (!store)
        return 1;
    leec_ctx_set_store(ctx, store);
    return 0;
}

void ca_op_done(void *ud, leec_code rc, const leec_problem *p)
{
    ca_op *op = ud;
    op->finished = true;
    op->rc = rc;
    if (!p)
        return;
    op->problem = cli_problem_json(p);
    if (p->type)
        op->problem_type = strdup(p->type);
    if (p->detail)
        op->problem_detail = strdup(p->detail);
}

void ca_op_failure(const ca_op *op, leec_code rc)
{
    fprintf(stderr, "leec: %s", op->head);
    cli_put_safe(op->what);
    fprintf(stderr, "%s%s", op->sep, leec_strerror(rc));
    if (op->problem_detail) {
        fputs(": ", stderr);
        cli_put_safe(op->problem_detail);
    }
    if (op->problem_type) {
        fputs(" (", stderr);
        cli_put_safe(op->problem_type);
        fputc(')', stderr);
    }
    fputc('\n', stderr);
}

int ca_op_run(leec_ctx *ctx, ca_op *op)
{
    /* The library's loop, not ca_run: these short operations catch no
     * stop signal (SIGINT ends them, as it always did). */
    leec_code rc = leec_ctx_run(ctx);
    if (op->finished)
        return 0;
    ca_op_failure(op, rc != LEEC_OK ? rc : LEEC_E_STATE);
    return 1;
}

void ca_op_clear(ca_op *op)
{
    json_decref(op->problem);
    free(op->problem_type);
    free(op->problem_detail);
    op->problem = NULL;
    op->problem_type = op->problem_detail = NULL;
}
