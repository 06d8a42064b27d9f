#define _GNU_SOURCE
/* leec issue: obtain one certificate through one agent. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static void issue_usage(FILE *f)
{
    fputs(
        "usage: leec issue -d NAME [-d NAME ...] [options]\n"
        "  -d, --domain NAME        a name for the certificate (repeatable)\n"
        "      --cert-name NAME     name in the store (default: first name)\n"
        "      --server URL         ACME directory URL, or letsencrypt,\n"
        "                           letsencrypt-staging (default: letsencrypt)\n"
        "      --ca-bundle FILE     trust this PEM file for the CA instead of\n"
        "                           the system store\n"
        "      --http-port [ADDR:]PORT  answer http-01 with the built-in server\n"
        "      --webroot DIR        answer http-01 with files under DIR\n"
        "      --key-type TYPE      ec256 (default), ec384, rsa2048, rsa3072,\n"
        "                           rsa4096\n"
        "      --email ADDR         contact for a new account\n"
        "      --agree-tos          agree to the CA's terms of service\n"
        "      --throwaway-account  use a fresh account for this run only\n"
        "      --force              order even if the certificate is fresh\n"
        "      --dir DIR            state folder (default /var/lib/leec as\n"
        "                           root, else ~/.local/share/leec)\n"
        "  -v, --verbose            more output (twice: debug)\n"
        "  -q, --quiet              errors only\n"
        "      --json               print the result as JSON\n",
        f);
}

enum {
    OPT_CERT_NAME = 256,
    OPT_SERVER,
    OPT_CA_BUNDLE,
    OPT_HTTP_PORT,
    OPT_WEBROOT,
    OPT_KEY_TYPE,
    OPT_EMAIL,
    OPT_AGREE_TOS,
    OPT_THROWAWAY,
    OPT_FORCE,
    OPT_DIR,
    OPT_JSON,
};

static const struct option long_opts[] = {
    {"domain", required_argument, NULL, 'd'},
    {"cert-name", required_argument, NULL, OPT_CERT_NAME},
    {"server", required_argument, NULL, OPT_SERVER},
    {"ca-bundle", required_argument, NULL, OPT_CA_BUNDLE},
    {"http-port", required_argument, NULL, OPT_HTTP_PORT},
    {"webroot", required_argument, NULL, OPT_WEBROOT},
    {"key-type", required_argument, NULL, OPT_KEY_TYPE},
    {"email", required_argument, NULL, OPT_EMAIL},
    {"agree-tos", no_argument, NULL, OPT_AGREE_TOS},
    {"throwaway-account", no_argument, NULL, OPT_THROWAWAY},
    {"force", no_argument, NULL, OPT_FORCE},
    {"dir", required_argument, NULL, OPT_DIR},
    {"verbose", no_argument, NULL, 'v'},
    {"quiet", no_argument, NULL, 'q'},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef struct issue_opts {
    const char **names;
    size_t nnames;
    const char *cert_name;
    const char *server;
    const char *ca_bundle;
    const char *http_port;
    const char *webroot;
    leec_key_type key_type;
    const char *email;
    bool agree_tos;
    bool throwaway;
    bool force;
    char *dir;
    int verbose;
    bool quiet;
    bool json;
} issue_opts;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse(int argc, char **argv, issue_opts *o)
{
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:vqh", long_opts, NULL)) != -1) {
        switch (c) {
        case 'd': {
            const char **v = realloc(o->names, (o->nnames + 1) * sizeof *v);
            if (!v)
                return 1;
            o->names = v;
            o->names[o->nnames++] = optarg;
            break;
        }
        case OPT_CERT_NAME:
            o->cert_name = optarg;
            break;
        case OPT_SERVER:
            o->server = optarg;
            break;
        case OPT_CA_BUNDLE:
            o->ca_bundle = optarg;
            break;
        case OPT_HTTP_PORT:
            o->http_port = optarg;
            break;
        case OPT_WEBROOT:
            o->webroot = optarg;
            break;
        case OPT_KEY_TYPE:
            if (leec_key_type_parse(optarg, &o->key_type) != LEEC_OK) {
                fprintf(stderr, "leec: unknown key type '%s'\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_EMAIL:
            o->email = optarg;
            break;
        case OPT_AGREE_TOS:
            o->agree_tos = true;
            break;
        case OPT_THROWAWAY:
            o->throwaway = true;
            break;
        case OPT_FORCE:
            o->force = true;
            break;
        case OPT_DIR:
            free(o->dir);
            if (!(o->dir = strdup(optarg)))
                return 1;
            break;
        case 'v':
            o->verbose++;
            break;
        case 'q':
            o->quiet = true;
            break;
        case OPT_JSON:
            o->json = true;
            break;
        case 'h':
            issue_usage(stdout);
            return -1;
        default:
            issue_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "leec: unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    if (o->nnames == 0) {
        fputs("leec: at least one -d NAME is needed\n", stderr);
        return EXIT_USAGE;
    }
    if (!o->http_port == !o->webroot) {
        fputs("leec: choose one http-01 solver: --http-port [ADDR:]PORT or "
              "--webroot DIR\n",
              stderr);
        return EXIT_USAGE;
    }
    if (!o->dir && !(o->dir = cli_default_dir())) {
        fputs("leec: no state folder: use --dir DIR\n", stderr);
        return EXIT_USAGE;
    }
    return 0;
}

static void report(const issue_opts *o, leec_ctx *ctx, leec_agent *agent,
                   leec_store *store, double seconds)
{
    leec_outcome out = leec_agent_get_outcome(agent);
    const char *name = leec_agent_cert_name(agent);
    char *live = leec_store_live_path(store, name);
    unsigned long nreq = leec_ctx_request_count(ctx);
    if (o->json) {
        json_t *names = json_array();
        for (size_t i = 0; i < o->nnames; i++)
            json_array_append_new(names, json_string(o->names[i]));
        const char *oc = out == LEEC_OUTCOME_ISSUED  ? "issued"
                         : out == LEEC_OUTCOME_FRESH ? "fresh"
                                                     : "failed";
        json_t *j = json_pack("{s:s, s:s, s:o, s:s?, s:I, s:f}", "cert_name",
                              name, "outcome", oc, "names", names, "live",
                              live, "requests", (json_int_t)nreq, "seconds",
                              seconds);
        if (out == LEEC_OUTCOME_FAILED) {
            json_object_set_new(j, "error",
                                json_string(leec_agent_error_message(agent)));
            if (leec_agent_problem(agent))
                json_object_set_new(j, "problem",
                                    cli_problem_json(leec_agent_problem(agent)));
        }
        cli_print_json(j);
        json_decref(j);
    } else if (out == LEEC_OUTCOME_FAILED) {
        const leec_problem *p = leec_agent_problem(agent);
        fprintf(stderr, "leec: %s: %s", name, leec_agent_error_message(agent));
        if (p)
            fprintf(stderr, ": %s (%s)", p->detail ? p->detail : "", p->type);
        fputc('\n', stderr);
        for (size_t i = 0; p && i < p->nsub; i++)
            fprintf(stderr, "leec:   %s: %s (%s)\n",
                    p->sub[i].id_value ? p->sub[i].id_value : "?",
                    p->sub[i].detail ? p->sub[i].detail : "",
                    p->sub[i].type ? p->sub[i].type : "");
    } else if (!o->quiet) {
        if (out == LEEC_OUTCOME_ISSUED)
            printf("issued %s -> %s\n", name, live ? live : "");
        else
            printf("%s is fresh: same names and not due for renewal; nothing "
                   "to do (--force orders anyway)\n",
                   name);
        if (o->verbose)
            printf("%.3f s, %lu HTTP requests\n", seconds, nreq);
    }
    free(live);
}

int cmd_issue(int argc, char **argv)
{
    issue_opts o;
    memset(&o, 0, sizeof o);
    leec_ctx *ctx = NULL;
    leec_code rc;
    int status = 1;
    int p = parse(argc, argv, &o);
    if (p != 0) {
        status = p < 0 ? 0 : p;
        goto out;
    }
    double t0 = now_s();
    if (!(ctx = leec_ctx_new()))
        goto out;
    leec_log_level lvl = o.quiet       ? LEEC_LOG_ERROR
                         : o.verbose > 1 ? LEEC_LOG_DEBUG
                         : o.verbose     ? LEEC_LOG_INFO
                                         : LEEC_LOG_WARN;
    /* The CLI prints the final failure itself; the library's own error
     * line would say it twice. */
    leec_ctx_set_log(ctx, cli_log, NULL,
                     lvl == LEEC_LOG_WARN && !o.verbose ? LEEC_LOG_WARN : lvl);
    if (o.server && (rc = leec_ctx_set_server(ctx, o.server)) != LEEC_OK) {
        fprintf(stderr, "leec: --server %s: %s\n", o.server,
                leec_strerror(rc));
        status = EXIT_USAGE;
        goto out;
    }
    if (o.ca_bundle)
        leec_ctx_set_ca_bundle(ctx, o.ca_bundle);
    if (o.email && (rc = leec_ctx_set_contact(ctx, o.email)) != LEEC_OK) {
        fprintf(stderr, "leec: --email %s: %s\n", o.email, leec_strerror(rc));
        status = EXIT_USAGE;
        goto out;
    }
    leec_ctx_set_agree_tos(ctx, o.agree_tos);
    leec_ctx_set_account_mode(ctx, o.throwaway ? LEEC_ACCOUNT_THROWAWAY
                                               : LEEC_ACCOUNT_SAVED);
    leec_store *store = leec_store_fs_new(o.dir, &rc);
    if (!store) {
        fprintf(stderr, "leec: cannot open the state folder %s: %s\n", o.dir,
                leec_strerror(rc));
        goto out;
    }
    leec_ctx_set_store(ctx, store);

    leec_agent *agent = leec_agent_new(ctx, o.cert_name, o.names, o.nnames,
                                       &rc);
    if (!agent) {
        fprintf(stderr, "leec: %s\n",
                rc == LEEC_E_BAD_NAME ? "invalid domain name among -d"
                : rc == LEEC_E_INVALID_ARG
                    ? "invalid --cert-name (letters, digits, '.', '_', '-')"
                    : leec_strerror(rc));
        status = EXIT_USAGE;
        goto out;
    }
    leec_agent_set_key_type(agent, o.key_type);
    leec_agent_set_force(agent, o.force);
    if (o.webroot)
        leec_agent_set_webroot(agent, o.webroot);
    if (o.http_port && (rc = leec_ctx_listen_http01(ctx, o.http_port)) !=
                           LEEC_OK) {
        fprintf(stderr, "leec: cannot listen on %s for http-01: %s\n",
                o.http_port, leec_strerror(rc));
        goto out;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if ((rc = leec_agent_start(agent)) != LEEC_OK) {
        fprintf(stderr, "leec: %s\n", leec_strerror(rc));
        goto out;
    }
    int running = 1;
    while (!stop_signal) {
        if ((rc = leec_ctx_perform(ctx, &running)) != LEEC_OK || !running)
            break;
        /* Bounded wait so a signal is noticed promptly. */
        if ((rc = leec_ctx_poll(ctx, 250)) != LEEC_OK)
            break;
    }
    if (stop_signal) {
        /* Freeing the context undoes every solver's side effect. */
        fprintf(stderr, "leec: interrupted; challenge files removed\n");
        status = 128 + stop_signal;
        goto out;
    }
    if (rc != LEEC_OK) {
        fprintf(stderr, "leec: event loop: %s\n", leec_strerror(rc));
        goto out;
    }
    report(&o, ctx, agent, store, now_s() - t0);
    status = leec_agent_get_outcome(agent) == LEEC_OUTCOME_FAILED ? 1 : 0;
out:
    leec_ctx_free(ctx);
    free(o.names);
    free(o.dir);
    return status;
}
