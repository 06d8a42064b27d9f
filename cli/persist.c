#define _GNU_SOURCE
/* leec account dns-persist-record DOMAIN: the dns-persist-01 record
 * (draft-ietf-acme-dns-persist-01) to set once for the saved account, as
 * a zone file line: the account URL from the CA, the issuer domain name
 * from --issuer or the CA's directory (meta.caaIdentities). */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca.h"

/* clang-format off */
static const char persist_usage[] =
    "usage: leec account dns-persist-record DOMAIN [options]\n"
    "  prints the TXT record _validation-persist.DOMAIN that lets this\n"
    "  account validate DOMAIN with dns-persist-01 (leec issue\n"
    "  --dns-persist); *.DOMAIN implies --wildcard\n"
    "options:\n"
    "      --wildcard           add policy=wildcard: the record also covers\n"
    "                           *.DOMAIN and every name under DOMAIN\n"
    "      --persist-until DATE the CA stops using the record after DATE\n"
    "                           (YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ, or\n"
    "                           seconds since 1970)\n"
    "      --issuer NAME        the CA's issuer domain name (default: the\n"
    "                           first of its directory's caaIdentities)\n"
    CA_USAGE_SERVER
    CA_USAGE_DIR
    "      --json               print the record as JSON\n"
    CA_USAGE_VERBOSE;
/* clang-format on */

enum { OPT_WILDCARD = 256, OPT_UNTIL, OPT_ISSUER, OPT_JSON };

static const struct option long_opts[] = {
    {"wildcard", no_argument, NULL, OPT_WILDCARD},
    {"persist-until", required_argument, NULL, OPT_UNTIL},
    {"issuer", required_argument, NULL, OPT_ISSUER},
    {"json", no_argument, NULL, OPT_JSON},
    CA_OPTIONS,
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef struct persist_args {
    ca_opts *o;
    bool wildcard;
    long long until; /* 0: none */
    const char *issuer;
} persist_args;

/* DATE as seconds since the epoch (UTC); -1 when it is none of the forms. */
static long long parse_date(const char *s)
{
    struct tm tm;
    const char *end;
    memset(&tm, 0, sizeof tm);
    if ((end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) && !*end)
        return (long long)timegm(&tm);
    memset(&tm, 0, sizeof tm);
    if ((end = strptime(s, "%Y-%m-%d", &tm)) && !*end)
        return (long long)timegm(&tm);
    unsigned v;
    size_t n = strlen(s);
    if (n >= 1 && n <= 10 && strspn(s, "0123456789") == n &&
        cli_parse_unsigned("--persist-until", s, &v))
        return (long long)v;
    return -1;
}

static int take(void *ud, int c, const char *arg)
{
    persist_args *a = ud;
    switch (c) {
    case OPT_WILDCARD:
        a->wildcard = true;
        return 0;
    case OPT_UNTIL:
        if ((a->until = parse_date(arg)) <= 0) {
            fputs("leec: --persist-until: YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ "
                  "or seconds since 1970\n",
                  stderr);
            return EXIT_USAGE;
        }
        return 0;
    case OPT_ISSUER:
        a->issuer = arg;
        return 0;
    case OPT_JSON:
        a->o->json = true;
        return 0;
    default:
        return ca_option(c, arg, a->o);
    }
}

static const cli_cmd persist_cmd = {
    .shortopts = "vqh",
    .longopts = long_opts,
    .take = take,
    .usage = persist_usage,
    .usage_on_error = true,
};

/* A host name, lower-cased in place: letters, digits, '-', '_', dots
 * between labels of 1 to 63, at most 253 bytes. */
static bool domain_ok(char *d)
{
    size_t n = strlen(d), label = 0;
    if (n && d[n - 1] == '.')
        d[--n] = '\0';
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i <= n; i++) {
        if (d[i] == '.' || d[i] == '\0') {
            if (label == 0 || label > 63)
                return false;
            label = 0;
            continue;
        }
        d[i] = (char)tolower((unsigned char)d[i]);
        if (!isalnum((unsigned char)d[i]) && d[i] != '-' && d[i] != '_')
            return false;
        label++;
    }
    return true;
}

typedef struct persist_result {
    ca_op op; /* first: the callback's ud is both */
    char *url;
    char *issuer; /* the directory's first caaIdentity */
} persist_result;

static void on_done(void *ud, leec_code rc, const leec_account_info *info,
                    const leec_problem *p)
{
    persist_result *r = ud;
    ca_op_done(&r->op, rc, p);
    if (!info)
        return;
    r->url = info->url ? strdup(info->url) : NULL;
    if (info->ncaa_identities)
        r->issuer = strdup(info->caa_identities[0]);
}

int cmd_account_persist(int argc, char **argv)
{
    ca_opts o;
    persist_args a = {.o = &o};
    persist_result res = {.op = {.head = "account ",
                                 .what = "dns-persist-record",
                                 .sep = " failed: "}};
    leec_ctx *ctx = NULL;
    char *domain = NULL, *value = NULL, *name = NULL;
    int status;
    ca_opts_init(&o);

    if ((status = cli_getopt(&persist_cmd, argc, argv, &a)) != 0) {
        status = status < 0 ? 0 : status;
        goto out;
    }
    /* argv[optind] is the action itself. */
    status = EXIT_USAGE;
    if (optind + 2 != argc) {
        fputs("leec: account dns-persist-record needs one DOMAIN\n", stderr);
        fputs(persist_usage, stderr);
        goto out;
    }
    const char *d = argv[optind + 1];
    if (strncmp(d, "*.", 2) == 0) {
        a.wildcard = true; /* the record of *.D is D's, with the policy */
        d += 2;
    }
    if (!(domain = strdup(d)) || !domain_ok(domain)) {
        fputs("leec: dns-persist-record: '", stderr);
        cli_put_safe(argv[optind + 1]);
        fputs("' is no domain name\n", stderr);
        goto out;
    }
    if (!cli_state_dir(&o.dir))
        goto out;
    if (!(ctx = ca_ctx_new(&o, cli_log, NULL, &status)))
        goto out;
    status = 1;
    if (ca_open_store(ctx, &o) != 0)
        goto out;
    leec_code rc =
        leec_ctx_account_op(ctx, LEEC_ACCOUNT_OP_SHOW, NULL, on_done, &res);
    if (rc == LEEC_E_NOT_FOUND) {
        fprintf(stderr,
                "leec: no saved account for this CA in %s (create one with "
                "`leec account register`): the record names the account\n",
                o.dir);
        goto out;
    }
    if (rc != LEEC_OK) {
        ca_op_failure(&res.op, rc);
        goto out;
    }
    if (ca_op_run(ctx, &res.op) != 0)
        goto out;
    if (res.op.rc != LEEC_OK) {
        ca_op_failure(&res.op, res.op.rc);
        goto out;
    }
    const char *issuer = a.issuer ? a.issuer : res.issuer;
    if (!issuer) {
        fputs("leec: the CA's directory names no issuer domain name "
              "(caaIdentities): give it with --issuer NAME (the CA's "
              "dns-persist-01 challenges list it in issuer-domain-names)\n",
              stderr);
        status = EXIT_USAGE;
        goto out;
    }
    rc = leec_dns_persist_value(issuer, res.url, a.wildcard, a.until, &value);
    if (rc != LEEC_OK) {
        fputs("leec: --issuer must be a lower case domain name (and the "
              "account URL printable)\n",
              stderr);
        status = EXIT_USAGE;
        goto out;
    }
    if (asprintf(&name, "_validation-persist.%s.", domain) < 0) {
        name = NULL;
        goto out;
    }
    if (o.json) {
        /* As every account action's: action and ok, then what it made. */
        json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:o}", "name",
                                name, "type", "TXT", "value", value, "issuer",
                                issuer, "account", res.url, "wildcard",
                                a.wildcard, "persist_until",
                                a.until ? json_integer(a.until) : json_null());
        json_t *j =
            rec ? json_pack("{s:s, s:b, s:o}", "action", "dns-persist-record",
                            "ok", 1, "record", rec)
                : NULL;
        if (j)
            cli_print_json(j);
        json_decref(j);
    } else {
        /* The value has no '"' nor '\\' (checked): quoted as it is. */
        printf("%s IN TXT \"%s\"\n", name, value);
    }
    status = 0;
out:
    free(domain);
    free(value);
    free(name);
    free(res.url);
    free(res.issuer);
    ca_op_clear(&res.op);
    leec_ctx_free(ctx);
    free(o.dir);
    return status;
}
