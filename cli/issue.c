#define _GNU_SOURCE
/* leec issue: obtain one certificate through one agent, or many with
 * --batch (batch.c). What every command talking to the CA shares (its
 * options, the context, the loop) is in ca.c; how an agent is set up from
 * the options and its result told, in agents.c. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agents.h"
#include "batch.h"
#include "issue.h"
#include "lifecycle.h"

/* One help line a line, as printed. */
/* clang-format off */
static const char issue_usage[] =
    "usage: leec issue -d NAME [-d NAME ...] [options]\n"
    "       leec issue --batch FILE [options]\n"
    "  -d, --domain NAME        a name for the certificate (repeatable)\n"
    "      --cert-name NAME     name in the store (default: first name)\n"
    "      --batch FILE         many certificates in one run, one per line\n"
    "                           of FILE ('-': stdin): CERT-NAME NAME [NAME...]\n"
    "                           ('#' starts a comment); not with -d\n"
    CA_USAGE_SERVER
    "      --http-port [ADDR:]PORT  answer http-01 with the built-in server\n"
    "      --webroot DIR        answer http-01 with files under DIR\n"
    "      --tls-port [ADDR:]PORT  answer tls-alpn-01 with the built-in\n"
    "                           responder\n"
    "      --dns rfc2136|ovh    answer dns-01 (wildcards) through RFC 2136\n"
    "                           (--dns-server HOST[:PORT] --tsig-key FILE)\n"
    "                           or the OVH API (--dns-credentials FILE)\n"
    "      --dns-persist        dns-persist-01 (leec(1))\n"
    "      --dns-hook CMD       answer dns-01 with `CMD present|cleanup\n"
    "                           FQDN VALUE`\n"
    "      --dns-zone ZONE      the zone of the records (default: SOA lookup)\n"
    "      --dns-resolver ADDR[:PORT]  resolver for SOA, NS, CNAME lookups\n"
    "                           (default: the system's)\n"
    "      --dns-propagation-timeout S  wait at most S seconds for every\n"
    "                           authoritative server (default 120; 0: off)\n"
    "      --dns-auth-port PORT port of the authoritative servers (53)\n"
    "      --hook CMD           uacme-style hook for any challenge: `CMD\n"
    "                           begin|done|failed TYPE IDENT TOKEN AUTH`\n"
    "      --key-type TYPE      ec256 (default), ec384, rsa2048, rsa3072,\n"
    "                           rsa4096\n"
    "      --email ADDR         contact for a new account\n"
    "      --eab-kid KID        External Account Binding key id (CAs\n"
    "                           such as ZeroSSL need one for a new account)\n"
    "      --eab-hmac-key KEY   its MAC key, base64url\n"
    CA_USAGE_EAB_KEY_FILE
    "      --agree-tos          agree to the CA's terms of service\n"
    "      --throwaway-account[=per-certificate]  unsaved account(s)\n"
    "      --force              order even if the certificate is fresh\n"
    CA_USAGE_DIR
    "      --max-parallel N     at most N orders in flight (default 10;\n"
    "                           0: no limit)\n"
    "      --rate-limit N       at most N requests per second to the CA\n"
    "                           (default: 20 for Let's Encrypt, else none;\n"
    "                           0: no limit)\n"
    "      --budget-orders N    at most N new orders per 3 hours (0: off)\n"
    "      --budget-domain N    at most N certificates per registered\n"
    "                           domain per 7 days (0: off); over a budget,\n"
    "                           certificates wait instead of failing\n"
    "      --preferred-chain CN prefer the CA's alternate chain whose top\n"
    "                           certificate is issued by (or is) CN\n"
    "      --profile NAME       ask for the CA's certificate profile NAME\n"
    "      --reuse-key          keep the certificate's key when renewing\n"
    "                           (for DANE/TLSA; default: a new key)\n"
    "      --pre-hook CMD       run CMD before a run's first order\n"
    "      --post-hook CMD      run CMD after a run's orders\n"
    "      --deploy-hook CMD    run CMD for each certificate installed, with\n"
    "                           LEEC_CERT_NAME, LEEC_LIVE_DIR, LEEC_DOMAINS;\n"
    "                           the certificate's options are kept for renew\n"
    CA_USAGE_VERBOSE
    "      --json               print the result as JSON (--batch: one\n"
    "                           line per certificate as it finishes)\n";
/* clang-format on */

enum {
    OPT_CERT_NAME = 256,
    OPT_HTTP_PORT,
    OPT_WEBROOT,
    OPT_KEY_TYPE,
    OPT_EMAIL,
    OPT_ACCOUNT_KEY_TYPE,
    OPT_THROWAWAY,
    OPT_FORCE,
    OPT_JSON,
    OPT_BATCH,
    OPT_MAX_PARALLEL,
    OPT_RATE_LIMIT,
    OPT_BUDGET_ORDERS,
    OPT_BUDGET_DOMAIN,
    OPT_DNS,
    OPT_DNS_SERVER,
    OPT_TSIG_KEY,
    OPT_DNS_ZONE,
    OPT_DNS_CREDENTIALS,
    OPT_DNS_OVH,
    OPT_DNS_OVH_CREDENTIALS,
    OPT_DNS_HOOK,
    OPT_DNS_PERSIST,
    OPT_DNS_RESOLVER,
    OPT_DNS_PROPAGATION,
    OPT_DNS_AUTH_PORT,
    OPT_HOOK,
    OPT_TLS_PORT,
    OPT_PREFERRED_CHAIN,
    OPT_PROFILE,
    OPT_EAB_KID,
    OPT_EAB_HMAC_KEY,
    OPT_REUSE_KEY,
    OPT_PRE_HOOK,
    OPT_POST_HOOK,
    OPT_DEPLOY_HOOK,
    OPT_QUEUE,
};

const struct option issue_options[] = {
    {"domain", required_argument, NULL, 'd'},
    {"cert-name", required_argument, NULL, OPT_CERT_NAME},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"http-port", required_argument, NULL, OPT_HTTP_PORT},
    {"webroot", required_argument, NULL, OPT_WEBROOT},
    {"key-type", required_argument, NULL, OPT_KEY_TYPE},
    {"email", required_argument, NULL, OPT_EMAIL},
    {"account-key-type", required_argument, NULL, OPT_ACCOUNT_KEY_TYPE},
    {"throwaway-account", optional_argument, NULL, OPT_THROWAWAY},
    {"force", no_argument, NULL, OPT_FORCE},
    {"max-parallel", required_argument, NULL, OPT_MAX_PARALLEL},
    {"rate-limit", required_argument, NULL, OPT_RATE_LIMIT},
    {"budget-orders", required_argument, NULL, OPT_BUDGET_ORDERS},
    {"budget-domain", required_argument, NULL, OPT_BUDGET_DOMAIN},
    {"dns", required_argument, NULL, OPT_DNS},
    {"dns-server", required_argument, NULL, OPT_DNS_SERVER},
    {"tsig-key", required_argument, NULL, OPT_TSIG_KEY},
    {"dns-zone", required_argument, NULL, OPT_DNS_ZONE},
    {"dns-credentials", required_argument, NULL, OPT_DNS_CREDENTIALS},
    /* certbot's names, as the LEEC manual uses them */
    {"dns-ovh", no_argument, NULL, OPT_DNS_OVH},
    {"dns-ovh-credentials", required_argument, NULL, OPT_DNS_OVH_CREDENTIALS},
    {"dns-hook", required_argument, NULL, OPT_DNS_HOOK},
    {"dns-persist", no_argument, NULL, OPT_DNS_PERSIST},
    {"dns-resolver", required_argument, NULL, OPT_DNS_RESOLVER},
    {"dns-propagation-timeout", required_argument, NULL, OPT_DNS_PROPAGATION},
    {"dns-auth-port", required_argument, NULL, OPT_DNS_AUTH_PORT},
    {"hook", required_argument, NULL, OPT_HOOK},
    {"tls-port", required_argument, NULL, OPT_TLS_PORT},
    {"preferred-chain", required_argument, NULL, OPT_PREFERRED_CHAIN},
    {"profile", required_argument, NULL, OPT_PROFILE},
    {"eab-kid", required_argument, NULL, OPT_EAB_KID},
    {"eab-hmac-key", required_argument, NULL, OPT_EAB_HMAC_KEY},
    CA_EAB_KEY_FILE_OPTION,
    {"reuse-key", no_argument, NULL, OPT_REUSE_KEY},
    {"pre-hook", required_argument, NULL, OPT_PRE_HOOK},
    {"post-hook", required_argument, NULL, OPT_POST_HOOK},
    {"deploy-hook", required_argument, NULL, OPT_DEPLOY_HOOK},
    {"queue", no_argument, NULL, OPT_QUEUE},
    CA_OPTIONS,
    CA_WAIT_OPTIONS,
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* One of issue's own options into the ca_opts ud (as cli_cmd's take). */
static int take(void *ud, int c, const char *arg)
{
    ca_opts *o = ud;
    switch (c) {
    case 'd': {
        const char **v = realloc(o->names, (o->nnames + 1) * sizeof *v);
        if (!v)
            return 1;
        o->names = v;
        o->names[o->nnames++] = arg;
        break;
    }
    case OPT_CERT_NAME:
        o->cert_name = arg;
        break;
    case OPT_PREFERRED_CHAIN:
        if (!cli_printable_word(arg, true)) {
            fputs("leec: --preferred-chain needs a CN (printable)\n", stderr);
            return EXIT_USAGE;
        }
        o->preferred_chain = arg;
        break;
    case OPT_PROFILE:
        if (!cli_printable_word(arg, false)) {
            fputs("leec: --profile needs a profile name\n", stderr);
            return EXIT_USAGE;
        }
        o->profile = arg;
        break;
    case OPT_BATCH:
        o->batch = arg;
        break;
    case OPT_HTTP_PORT:
        o->http_port = arg;
        break;
    case OPT_WEBROOT:
        o->webroot = arg;
        break;
    case OPT_KEY_TYPE:
        if (leec_key_type_parse(arg, &o->key_type) != LEEC_OK) {
            fprintf(stderr, "leec: unknown key type '%s'\n", arg);
            return EXIT_USAGE;
        }
        o->key_type_set = true;
        break;
    case OPT_EMAIL:
        o->email = arg;
        break;
    case OPT_ACCOUNT_KEY_TYPE:
        if (leec_key_type_parse(arg, &o->account_key_type) != LEEC_OK) {
            fprintf(stderr, "leec: unknown key type '%s'\n", arg);
            return EXIT_USAGE;
        }
        o->account_key_type_set = true;
        break;
    case OPT_THROWAWAY:
        if (arg && strcmp(arg, "per-certificate") != 0 &&
            strcmp(arg, "per-run") != 0) {
            fprintf(stderr,
                    "leec: --throwaway-account=%s: per-run or "
                    "per-certificate\n",
                    arg);
            return EXIT_USAGE;
        }
        o->throwaway = true;
        o->throwaway_per_cert = arg && strcmp(arg, "per-certificate") == 0;
        break;
    case OPT_FORCE:
        o->force = true;
        break;
    case OPT_MAX_PARALLEL:
        if (!cli_parse_unsigned("--max-parallel", arg, &o->max_parallel))
            return EXIT_USAGE;
        break;
    case OPT_RATE_LIMIT:
        if (!cli_parse_rate("--rate-limit", arg, &o->rate_limit))
            return EXIT_USAGE;
        o->rate_set = true;
        break;
    case OPT_BUDGET_ORDERS:
        if (!cli_parse_unsigned("--budget-orders", arg, &o->budget_orders))
            return EXIT_USAGE;
        o->budget_orders_set = true;
        break;
    case OPT_BUDGET_DOMAIN:
        if (!cli_parse_unsigned("--budget-domain", arg, &o->budget_domain))
            return EXIT_USAGE;
        o->budget_domain_set = true;
        break;
    case OPT_DNS:
        o->dns = arg;
        break;
    case OPT_DNS_SERVER:
        o->dns_server = arg;
        break;
    case OPT_TSIG_KEY:
        o->tsig_key = arg;
        break;
    case OPT_DNS_ZONE:
        o->dns_zone = arg;
        break;
    case OPT_DNS_CREDENTIALS:
        o->dns_credentials = arg;
        break;
    case OPT_DNS_OVH:
        o->dns = "ovh";
        break;
    case OPT_DNS_OVH_CREDENTIALS:
        o->dns = "ovh";
        o->dns_credentials = arg;
        break;
    case OPT_DNS_HOOK:
        o->dns_hook = arg;
        break;
    case OPT_DNS_PERSIST:
        o->dns_persist = true;
        break;
    case OPT_DNS_RESOLVER:
        o->dns_resolver = arg;
        break;
    case OPT_DNS_PROPAGATION: {
        unsigned v = 0;
        if (!cli_parse_unsigned("--dns-propagation-timeout", arg, &v) ||
            v > 86400)
            return EXIT_USAGE;
        o->dns_propagation = (int)v;
        break;
    }
    case OPT_DNS_AUTH_PORT:
        if (!cli_parse_unsigned("--dns-auth-port", arg, &o->dns_auth_port) ||
            o->dns_auth_port == 0 || o->dns_auth_port > 65535) {
            fprintf(stderr, "leec: --dns-auth-port: 1 to 65535\n");
            return EXIT_USAGE;
        }
        break;
    case OPT_HOOK:
        o->hook = arg;
        break;
    case OPT_TLS_PORT:
        o->tls_port = arg;
        break;
    case OPT_EAB_KID:
        o->eab_kid = arg;
        break;
    case OPT_EAB_HMAC_KEY:
        o->eab_hmac_key = arg;
        break;
    case OPT_JSON:
        o->json = true;
        break;
    case OPT_REUSE_KEY:
        o->reuse_key = true;
        break;
    case OPT_PRE_HOOK:
        o->pre_hook = arg;
        break;
    case OPT_POST_HOOK:
        o->post_hook = arg;
        break;
    case OPT_DEPLOY_HOOK:
        o->deploy_hook = arg;
        break;
    case OPT_QUEUE:
        o->queue = true;
        break;
    default:
        return ca_option(c, arg, o);
    }
    return 0;
}

static const cli_cmd issue_cmd = {
    .shortopts = "d:vqh",
    .longopts = issue_options,
    .take = take,
    .usage = issue_usage,
    /* issue_usage is at the compiler's 4095-byte limit for one string. */
    .usage_more = "      --account-key-type TYPE  key of a new account (as\n"
                  "                           --key-type; default ec256)\n"
                  "      --queue              with a "
                  "PostgreSQL --store: record the\n"
                  "                           certificates "
                  "(and these settings) as\n"
                  "                           wanted and "
                  "return; the fleet's daemons\n"
                  "                           order them\n" CA_USAGE_WAITS(60),
    .usage_on_error = true};

/* 0, -1 after --help, or a status after a message. */
int issue_parse(int argc, char **argv, ca_opts *o)
{
    int r = cli_getopt(&issue_cmd, argc, argv, o);
    if (r != 0)
        return r;
    if (optind < argc) {
        fprintf(stderr, "leec: unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    if (o->batch && o->nnames) {
        fputs("leec: -d and --batch are mutually exclusive\n", stderr);
        return EXIT_USAGE;
    }
    if (o->batch && o->cert_name) {
        fputs("leec: --cert-name does not go with --batch (each line of FILE "
              "names its certificate)\n",
              stderr);
        return EXIT_USAGE;
    }
    if (!o->batch && o->nnames == 0) {
        fputs("leec: at least one -d NAME is needed\n", stderr);
        return EXIT_USAGE;
    }
    if (o->dns_hook && !o->dns)
        o->dns = "hook";
    if (o->queue && !cli_store_shared()) {
        fputs("leec: --queue records certificates for a fleet: it needs "
              "--store postgresql://... (or LEEC_STORE)\n",
              stderr);
        return EXIT_USAGE;
    }
    /* A fleet's nodes answer http-01 on their own --http-listen. */
    if (o->queue && !o->http_port && !o->webroot && !o->dns && !o->hook &&
        !o->tls_port && !o->dns_persist)
        o->http_port = "80";
    if (o->dns && strcmp(o->dns, "persist") == 0) {
        o->dns_persist = true; /* --dns persist, as --dns-persist */
        o->dns = NULL;
    }
    /* --dns with --dns-persist: its provider creates missing records. */
    int solvers = !!o->http_port + !!o->webroot + !!(o->dns || o->dns_persist) +
                  !!o->hook + !!o->tls_port;
    if (solvers != 1) {
        fputs("leec: choose one way to answer challenges: --http-port, "
              "--webroot, --tls-port, --dns (or --dns-hook), --dns-persist, "
              "or --hook\n",
              stderr);
        return EXIT_USAGE;
    }
    if (o->dns && strcmp(o->dns, "rfc2136") == 0 &&
        (!o->dns_server || !o->tsig_key)) {
        fputs("leec: --dns rfc2136 needs --dns-server HOST[:PORT] and "
              "--tsig-key FILE\n",
              stderr);
        return EXIT_USAGE;
    }
    if (o->dns && strcmp(o->dns, "ovh") == 0 && !o->dns_credentials) {
        fputs("leec: --dns ovh needs --dns-credentials FILE\n", stderr);
        return EXIT_USAGE;
    }
    if (o->dns && strcmp(o->dns, "hook") == 0 && !o->dns_hook) {
        fputs("leec: --dns hook needs --dns-hook CMD\n", stderr);
        return EXIT_USAGE;
    }
    if (o->dns && strcmp(o->dns, "rfc2136") != 0 &&
        strcmp(o->dns, "ovh") != 0 && strcmp(o->dns, "hook") != 0) {
        fprintf(stderr, "leec: --dns %s: rfc2136, ovh, hook or persist\n",
                o->dns);
        return EXIT_USAGE;
    }
    return cli_state_dir(&o->dir) ? 0 : EXIT_USAGE;
}

static void report(const ca_opts *o, leec_ctx *ctx, leec_agent *agent,
                   leec_store *store, double seconds)
{
    leec_outcome out = leec_agent_get_outcome(agent);
    const char *name = leec_agent_cert_name(agent);
    unsigned long nreq = leec_ctx_request_count(ctx);
    if (o->json) {
        json_t *names = json_array();
        for (size_t i = 0; i < o->nnames; i++)
            json_array_append_new(names, json_string(o->names[i]));
        json_t *j =
            agents_result_json(agent, store, names, (long)nreq, seconds);
        if (j)
            json_object_set_new(
                j, "connections",
                json_integer((json_int_t)leec_ctx_connection_count(ctx)));
        cli_print_json(j);
        json_decref(j);
    } else if (out == LEEC_OUTCOME_FAILED) {
        const leec_problem *p = leec_agent_problem(agent);
        char *text = agents_failure_text(agent);
        fprintf(stderr, "leec: %s: %s\n", name,
                text ? text : leec_agent_error_message(agent));
        free(text);
        for (size_t i = 0; p && i < p->nsub; i++)
            fprintf(stderr, "leec:   %s: %s (%s)\n",
                    p->sub[i].id_value ? p->sub[i].id_value : "?",
                    p->sub[i].detail ? p->sub[i].detail : "",
                    p->sub[i].type ? p->sub[i].type : "");
    } else if (!o->quiet) {
        char *live = leec_store_live_path(store, name);
        if (leec_agent_resumed(agent))
            printf("resumed order %s (made by an earlier run)\n",
                   leec_agent_order_url(agent));
        if (out == LEEC_OUTCOME_ISSUED)
            printf("issued %s%s%s\n", name, live ? " -> " : "",
                   live ? live : "");
        else if (out == LEEC_OUTCOME_DEFERRED)
            printf("%s: backing off after failed renewals; nothing sent "
                   "(--force tries now)\n",
                   name);
        else
            printf("%s is fresh: same names and not due for renewal; nothing "
                   "to do (--force orders anyway)\n",
                   name);
        if (o->verbose)
            printf("%.3f s, %lu HTTP requests, %lu TCP connection%s\n", seconds,
                   nreq, leec_ctx_connection_count(ctx),
                   leec_ctx_connection_count(ctx) == 1 ? "" : "s");
        free(live);
    }
}

static int issue_single(const ca_opts *o)
{
    leec_code rc = LEEC_OK;
    int status = 1;
    double t0 = cli_now_s();
    lc_hooks hooks;
    lc_hooks_init(&hooks, NULL, agents_opts_of, (void *)o);
    leec_ctx *ctx = ca_ctx_new(o, cli_log, NULL, &status);
    if (!ctx)
        return status;
    status = 1;
    if (ca_open_store(ctx, o) != 0)
        goto out;
    leec_store *store = leec_ctx_get_store(ctx);
    leec_agent *agent =
        leec_agent_new(ctx, o->cert_name, o->names, o->nnames, &rc);
    if (!agent) {
        fprintf(stderr, "leec: %s\n",
                rc == LEEC_E_BAD_NAME ? "invalid domain name among -d"
                : rc == LEEC_E_INVALID_ARG
                    ? "invalid --cert-name (letters, digits, '.', '_', '-')"
                    : leec_strerror(rc));
        status = EXIT_USAGE;
        goto out;
    }
    if (agents_setup(agent, o) != 0 || agents_listen(ctx, o, &agent, 1) != 0)
        goto out;
    lc_hooks_init(&hooks, store, agents_opts_of, (void *)o);
    leec_ctx_set_hook_fn(ctx, lc_hook_fn, &hooks);
    ca_stop_describe(o);
    ca_signals();
    if ((rc = leec_agent_start(agent)) != LEEC_OK) {
        fprintf(stderr, "leec: %s\n", leec_strerror(rc));
        goto out;
    }
    if ((status = ca_run_status(ca_run(ctx))) != 0)
        goto out;
    report(o, ctx, agent, store, cli_now_s() - t0);
    status = leec_agent_get_outcome(agent) == LEEC_OUTCOME_FAILED ? 1 : 0;
out:
    leec_ctx_free(ctx);
    lc_hooks_finish(&hooks);
    if (hooks.failed && status == 0)
        status = 1;
    return status;
}

int cmd_issue(int argc, char **argv)
{
    return issue_run(argc, argv, NULL);
}

int issue_run(int argc, char **argv, const issue_feed *feed)
{
    ca_opts o;
    ca_opts_init(&o);
    o.feed = feed;
    int status = issue_parse(argc, argv, &o);
    /* The same settings for every certificate of the run: made once (the
     * paths in them resolved once). */
    if (status == 0 && !(o.settings = agents_settings_text(&o))) {
        fputs("leec: out of memory\n", stderr);
        status = 1;
    }
    if (status != 0)
        status = status < 0 ? 0 : status;
    else if (o.queue)
        status = queue_issue(&o);
    else if (o.batch)
        status = batch_issue(&o);
    else
        status = issue_single(&o);
    free(o.settings);
    free(o.names);
    free(o.dir);
    return status;
}
