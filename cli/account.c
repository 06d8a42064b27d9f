#define _GNU_SOURCE
/* leec account: manage the saved ACME account of a CA (RFC 8555 §7.3):
 * register, show, update-contact, rollover, deactivate. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ca.h"

/* One help line a line, as printed. */
/* clang-format off */
static const char account_usage[] =
    "usage: leec account ACTION [options]\n"
    "  register                 create and save the account (or say it\n"
    "                           exists already)\n"
    "  show                     the account as the CA knows it\n"
    "  update-contact           replace its contact with --email ADDR\n"
    "                           (none without --email)\n"
    "  rollover                 replace its key by a new one (--key-type)\n"
    "  deactivate               deactivate it at the CA (final) and\n"
    "                           remove it from the state folder\n"
    "  dns-persist-record DOMAIN  the dns-persist-01 record to set for\n"
    "                           DOMAIN (see its --help)\n"
    "options:\n"
    "      --email ADDR         contact (register, update-contact)\n"
    "      --eab-kid KID        External Account Binding key id\n"
    "                           (register)\n"
    "      --eab-hmac-key KEY   its MAC key, base64url\n"
    CA_USAGE_EAB_KEY_FILE
    "      --key-type TYPE      key type of a new account key: ec256\n"
    "                           (default), ec384, rsa2048, rsa3072,\n"
    "                           rsa4096\n"
    "      --agree-tos          agree to the CA's terms of service\n"
    "                           (register)\n"
    CA_USAGE_SERVER
    CA_USAGE_DIR
    "      --json               print the account as JSON\n"
    "      --yes                deactivate without asking (needed when\n"
    "                           not on a terminal)\n"
    CA_USAGE_VERBOSE;
/* clang-format on */

enum {
    OPT_EMAIL = 256,
    OPT_EAB_KID,
    OPT_EAB_HMAC_KEY,
    OPT_KEY_TYPE,
    OPT_JSON,
    OPT_YES,
};

static const struct option long_opts[] = {
    {"email", required_argument, NULL, OPT_EMAIL},
    {"eab-kid", required_argument, NULL, OPT_EAB_KID},
    {"eab-hmac-key", required_argument, NULL, OPT_EAB_HMAC_KEY},
    CA_EAB_KEY_FILE_OPTION,
    {"key-type", required_argument, NULL, OPT_KEY_TYPE},
    {"json", no_argument, NULL, OPT_JSON},
    {"yes", no_argument, NULL, OPT_YES},
    CA_OPTIONS,
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
    ca_opts *o;
    const char *action;
    leec_account_op op;
    bool key_type_set;
    bool yes; /* deactivate without asking */
} account_args;

/* One of account's own options into the account_args ud (as cli_cmd's
 * take). */
static int take(void *ud, int c, const char *arg)
{
    account_args *a = ud;
    ca_opts *o = a->o;
    switch (c) {
    case OPT_EMAIL:
        o->email = arg;
        return 0;
    case OPT_EAB_KID:
        o->eab_kid = arg;
        return 0;
    case OPT_EAB_HMAC_KEY:
        o->eab_hmac_key = arg;
        return 0;
    case OPT_KEY_TYPE:
        if (leec_key_type_parse(arg, &o->key_type) != LEEC_OK) {
            fputs("leec: --key-type: ec256, ec384, rsa2048, rsa3072 or "
                  "rsa4096\n",
                  stderr);
            return EXIT_USAGE;
        }
        a->key_type_set = true;
        return 0;
    case OPT_JSON:
        o->json = true;
        return 0;
    case OPT_YES:
        a->yes = true;
        return 0;
    default:
        return ca_option(c, arg, o);
    }
}

static const cli_cmd account_cmd = {
    .shortopts = "vqh",
    .longopts = long_opts,
    .take = take,
    .usage = account_usage,
    .usage_on_error = true,
    .missing = "leec: which action? register, show, update-contact, "
               "rollover, deactivate or dns-persist-record\n",
    .extra = "leec: one action at a time\n",
};

/* 0, -1 after --help, or EXIT_USAGE after a message. */
static int parse(int argc, char **argv, account_args *a)
{
    int r = cli_getopt(&account_cmd, argc, argv, a);
    if (r != 0)
        return r;
    a->action = argv[optind];
    size_t i, n = sizeof actions / sizeof *actions;
    for (i = 0; i < n; i++)
        if (strcmp(a->action, actions[i].name) == 0)
            break;
    if (i == n) {
        fputs("leec: unknown account action '", stderr);
        cli_put_safe(a->action);
        fputs("'\n", stderr);
        fputs(account_usage, stderr);
        return EXIT_USAGE;
    }
    a->op = actions[i].op;
    if (a->o->eab_kid && a->op != LEEC_ACCOUNT_OP_REGISTER) {
        fputs("leec: --eab-kid/--eab-hmac-key only go with register (an "
              "existing account needs no binding)\n",
              stderr);
        return EXIT_USAGE;
    }
    return cli_state_dir(&a->o->dir) ? 0 : EXIT_USAGE;
}

typedef struct account_result {
    ca_op op;        /* first: the callback's ud is both */
    json_t *account; /* url, status, contact, orders, created */
} account_result;

static void on_done(void *ud, leec_code rc, const leec_account_info *info,
                    const leec_problem *p)
{
    account_result *r = ud;
    ca_op_done(&r->op, rc, p);
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
    json_object_set_new(o, "url",
                        info->url ? json_string(info->url) : json_null());
    json_object_set_new(o, "status",
                        info->status ? json_string(info->status) : json_null());
    json_object_set_new(o, "contact", c);
    json_object_set_new(o, "orders",
                        info->orders ? json_string(info->orders) : json_null());
    json_object_set_new(o, "created", json_boolean(info->created));
    r->account = o;
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
    ca_opts o;
    account_args a = {.o = &o};
    account_result res = {.op = {.head = "account ", .sep = " failed: "}};
    leec_ctx *ctx = NULL;
    int status;
    ca_opts_init(&o);

    /* An action with its own operand and options (cli/persist.c). */
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "dns-persist-record") == 0)
            return cmd_account_persist(argc, argv);
    if ((status = parse(argc, argv, &a)) != 0) {
        status = status < 0 ? 0 : status;
        goto out;
    }
    res.op.what = a.action;
    /* Final at the CA: asked first, as reset does. */
    if (a.op == LEEC_ACCOUNT_OP_DEACTIVATE && !a.yes) {
        if (!isatty(STDIN_FILENO)) {
            fputs("leec: deactivating an account is final at the CA: confirm "
                  "with --yes when not on a terminal\n",
                  stderr);
            status = EXIT_USAGE;
            goto out;
        }
        fprintf(stderr,
                "Deactivate the account saved in %s at the CA? It cannot be "
                "undone. [y/N] ",
                o.dir);
        if (!cli_confirm_answer()) {
            fputs("leec: account not deactivated\n", stderr);
            status = 1;
            goto out;
        }
    }
    if (!(ctx = ca_ctx_new(&o, cli_log, NULL, &status)))
        goto out;
    status = 1;
    if (a.key_type_set)
        leec_ctx_set_account_key_type(ctx, o.key_type);
    if (ca_open_store(ctx, &o) != 0)
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
        ca_op_failure(&res.op, rc);
        status = rc == LEEC_E_INVALID_ARG ? EXIT_USAGE : 1;
        goto out;
    }
    if (ca_op_run(ctx, &res.op) != 0)
        goto out;
    if (o.json) {
        json_t *j = json_pack("{s:s, s:b}", "action", a.action, "ok",
                              res.op.rc == LEEC_OK);
        if (j) {
            if (res.account)
                json_object_set(j, "account", res.account);
            if (res.op.rc != LEEC_OK) {
                json_object_set_new(j, "error",
                                    json_string(leec_strerror(res.op.rc)));
                if (res.op.problem)
                    json_object_set(j, "problem", res.op.problem);
            }
            cli_print_json(j);
            json_decref(j);
        }
    }
    if (res.op.rc != LEEC_OK) {
        ca_op_failure(&res.op, res.op.rc);
        goto out;
    }
    if (!o.json && res.account)
        print_account(&a, res.account);
    status = 0;
out:
    json_decref(res.account);
    ca_op_clear(&res.op);
    leec_ctx_free(ctx);
    free(o.dir);
    return status;
}
