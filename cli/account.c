#define _GNU_SOURCE
/* leec account: manage the saved ACME account of a CA (RFC 8555 §7.3):
 * register, show, update-contact, rollover, deactivate. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "issue.h"

static void account_usage(FILE *f)
{
    fputs(
        "usage: leec account ACTION [options]\n"
        "  register                 create and save the account (or say it\n"
        "                           exists already)\n"
        "  show                     the account as the CA knows it\n"
        "  update-contact           replace its contact with --email ADDR\n"
        "                           (none without --email)\n"
        "  rollover                 replace its key by a new one (--key-type)\n"
        "  deactivate               deactivate it at the CA (final) and\n"
        "                           remove it from the state folder\n"
        "options:\n"
        "      --email ADDR         contact (register, update-contact)\n"
        "      --eab-kid KID        External Account Binding key id\n"
        "                           (register)\n"
        "      --eab-hmac-key KEY   its MAC key, base64url\n"
        "      --key-type TYPE      key type of a new account key: ec256\n"
        "                           (default), ec384, rsa2048, rsa3072,\n"
        "                           rsa4096\n"
        "      --agree-tos          agree to the CA's terms of service\n"
        "                           (register)\n"
        "      --server URL         ACME directory URL, or letsencrypt,\n"
        "                           letsencrypt-staging (default: "
        "letsencrypt)\n"
        "      --ca-bundle FILE     trust this PEM file for the CA instead of\n"
        "                           the system store\n"
        "      --dir DIR            state folder (default /var/lib/leec as\n"
        "                           root, else ~/.local/share/leec)\n"
        "      --json               print the account as JSON\n"
        "  -v, --verbose            more output (twice: debug)\n"
        "  -q, --quiet              errors only\n",
        f);
}

enum {
    OPT_EMAIL = 256,
    OPT_EAB_KID,
    OPT_EAB_HMAC_KEY,
    OPT_KEY_TYPE,
    OPT_JSON,
};

static const struct option long_opts[] = {
    {"email", required_argument, NULL, OPT_EMAIL},
    {"eab-kid", required_argument, NULL, OPT_EAB_KID},
    {"eab-hmac-key", required_argument, NULL, OPT_EAB_HMAC_KEY},
    {"key-type", required_argument, NULL, OPT_KEY_TYPE},
    {"json", no_argument, NULL, OPT_JSON},
    ISSUE_CA_OPTIONS,
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const struct {
    const char *name;
    leec_account_op op;
} actions[] = {
    {"register", LEEC_ACCOUNT_OP_REGISTER},
    {"show", LEEC_ACCOUNT_OP_SHOW},
    {"update-contact", LEEC_ACCOUNT_OP_UPDATE_CONTACT},
    {"rollover", LEEC_ACCOUNT_OP_ROLLOVER},
    {"deactivate", LEEC_ACCOUNT_OP_DEACTIVATE},
};

typedef struct account_args {
    const char *action;
    leec_account_op op;
    bool key_type_set;
} account_args;

/* 0, -1 after --help, or EXIT_USAGE after a message. */
static int parse(int argc, char **argv, issue_opts *o, account_args *a)
{
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "vqh", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_EMAIL:
            o->email = optarg;
            break;
        case OPT_EAB_KID:
            o->eab_kid = optarg;
            break;
        case OPT_EAB_HMAC_KEY:
            o->eab_hmac_key = optarg;
            break;
        case OPT_KEY_TYPE:
            if (leec_key_type_parse(optarg, &o->key_type) != LEEC_OK) {
                fputs("leec: --key-type: ec256, ec384, rsa2048, rsa3072 or "
                      "rsa4096\n",
                      stderr);
                return EXIT_USAGE;
            }
            a->key_type_set = true;
            break;
        case OPT_JSON:
            o->json = true;
            break;
        case 'h':
            account_usage(stdout);
            return -1;
        default: {
            int r = issue_ca_option(c, optarg, o);
            if (r == 1)
                break;
            if (r == 0)
                account_usage(stderr);
            return r == 0 ? EXIT_USAGE : r;
        }
        }
    }
    if (optind != argc - 1) {
        fputs(optind >= argc ? "leec: which action? register, show, "
                               "update-contact, rollover or deactivate\n"
                             : "leec: one action at a time\n",
              stderr);
        account_usage(stderr);
        return EXIT_USAGE;
    }
    a->action = argv[optind];
    size_t i, n = sizeof actions / sizeof *actions;
    for (i = 0; i < n; i++)
        if (strcmp(a->action, actions[i].name) == 0)
            break;
    if (i == n) {
        fputs("leec: unknown account action '", stderr);
        cli_put_safe(a->action);
        fputs("'\n", stderr);
        account_usage(stderr);
        return EXIT_USAGE;
    }
    a->op = actions[i].op;
    if (o->eab_kid && a->op != LEEC_ACCOUNT_OP_REGISTER) {
        fputs("leec: --eab-kid/--eab-hmac-key only go with register (an "
              "existing account needs no binding)\n",
              stderr);
        return EXIT_USAGE;
    }
    if (!o->dir && !(o->dir = cli_default_dir())) {
        fputs("leec: no state folder: use --dir DIR\n", stderr);
        return EXIT_USAGE;
    }
    return 0;
}

typedef struct account_result {
    bool finished;
    leec_code rc;
    json_t *account;    /* url, status, contact, orders, created */
    json_t *problem;
    char *problem_type;
    char *problem_detail;
} account_result;

static void on_done(void *ud, leec_code rc, const leec_account_info *info,
                    const leec_problem *p)
{
    account_result *r = ud;
    r->finished = true;
    r->rc = rc;
    if (p) {
        r->problem = cli_problem_json(p);
        if (p->type)
            r->problem_type = strdup(p->type);
        if (p->detail)
            r->problem_detail = strdup(p->detail);
    }
    if (!info)
        return;
    json_t *o = json_object();
    json_t *c = json_array();
    if (!o || !c) {
        json_decref(o);
        json_decref(c);
        return;
    }
    for (size_t i = 0; i < info->ncontact; i++)
        json_array_append_new(c, json_string(info->contact[i]));
    json_object_set_new(o, "url", info->url ? json_string(info->url)
                                            : json_null());
    json_object_set_new(o, "status", info->status ? json_string(info->status)
                                                  : json_null());
    json_object_set_new(o, "contact", c);
    json_object_set_new(o, "orders", info->orders ? json_string(info->orders)
                                                  : json_null());
    json_object_set_new(o, "created", json_boolean(info->created));
    r->account = o;
}

static void print_failure(const char *action, leec_code rc,
                          const account_result *r)
{
    fputs("leec: account ", stderr);
    cli_put_safe(action);
    fprintf(stderr, " failed: %s", leec_strerror(rc));
    if (r && r->problem_detail) {
        fputs(": ", stderr);
        cli_put_safe(r->problem_detail);
    }
    if (r && r->problem_type) {
        fputs(" (", stderr);
        cli_put_safe(r->problem_type);
        fputc(')', stderr);
    }
    fputc('\n', stderr);
}

/* A string member for printing ("-" when missing). */
static const char *str_of(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

static void print_account(const account_args *a, json_t *acc)
{
    json_t *c = json_object_get(acc, "contact");
    switch (a->op) {
    case LEEC_ACCOUNT_OP_REGISTER:
        printf("%s account %s\n",
               json_is_true(json_object_get(acc, "created")) ? "registered"
                                                             : "existing",
               str_of(acc, "url"));
        break;
    case LEEC_ACCOUNT_OP_UPDATE_CONTACT:
        printf("contact updated for %s\n", str_of(acc, "url"));
        break;
    case LEEC_ACCOUNT_OP_ROLLOVER:
        printf("key rolled over for %s\n", str_of(acc, "url"));
        return;
    case LEEC_ACCOUNT_OP_DEACTIVATE:
        printf("deactivated %s (removed from the state folder)\n",
               str_of(acc, "url"));
        return;
    case LEEC_ACCOUNT_OP_SHOW:
        break;
    }
    printf("url:     %s\n", str_of(acc, "url"));
    printf("status:  %s\n", str_of(acc, "status"));
    fputs("contact:", stdout);
    if (!json_array_size(c))
        fputs(" -", stdout);
    for (size_t i = 0; i < json_array_size(c); i++)
        printf(" %s", json_string_value(json_array_get(c, i)));
    fputc('\n', stdout);
    printf("orders:  %s\n", str_of(acc, "orders"));
}

int cmd_account(int argc, char **argv)
{
    issue_opts o;
    account_args a = {0};
    account_result res = {0};
    leec_ctx *ctx = NULL;
    int status;
    memset(&o, 0, sizeof o);
    o.max_parallel = 10;

    if ((status = parse(argc, argv, &o, &a)) != 0) {
        status = status < 0 ? 0 : status;
        goto out;
    }
    if (!(ctx = issue_ctx_new(&o, cli_log, NULL, &status)))
        goto out;
    status = 1;
    if (a.key_type_set)
        leec_ctx_set_account_key_type(ctx, o.key_type);
    if (issue_open_store(ctx, &o) != 0)
        goto out;
    const char *arg = NULL;
    if (a.op == LEEC_ACCOUNT_OP_UPDATE_CONTACT)
        arg = o.email;
    else if (a.op == LEEC_ACCOUNT_OP_ROLLOVER && a.key_type_set)
        arg = leec_key_type_name(o.key_type);
    leec_code rc = leec_ctx_account_op(ctx, a.op, arg, on_done, &res);
    if (rc == LEEC_E_NOT_FOUND) {
        fprintf(stderr,
                "leec: no saved account for this CA in %s (create one with "
                "`leec account register`)\n",
                o.dir);
        goto out;
    }
    if (rc != LEEC_OK) {
        print_failure(a.action, rc, NULL);
        status = rc == LEEC_E_INVALID_ARG ? EXIT_USAGE : 1;
        goto out;
    }
    rc = leec_ctx_run(ctx);
    if (!res.finished) {
        print_failure(a.action, rc != LEEC_OK ? rc : LEEC_E_STATE, NULL);
        goto out;
    }
    if (o.json) {
        json_t *j = json_pack("{s:s, s:b}", "action", a.action, "ok",
                              res.rc == LEEC_OK);
        if (j) {
            if (res.account)
                json_object_set(j, "account", res.account);
            if (res.rc != LEEC_OK) {
                json_object_set_new(j, "error",
                                    json_string(leec_strerror(res.rc)));
                if (res.problem)
                    json_object_set(j, "problem", res.problem);
            }
            cli_print_json(j);
            json_decref(j);
        }
    }
    if (res.rc != LEEC_OK) {
        print_failure(a.action, res.rc, &res);
        goto out;
    }
    if (!o.json && res.account)
        print_account(&a, res.account);
    status = 0;
out:
    json_decref(res.account);
    json_decref(res.problem);
    free(res.problem_type);
    free(res.problem_detail);
    leec_ctx_free(ctx);
    free(o.dir);
    return status;
}
