#define _GNU_SOURCE
/* leec reset: forgets certificates (and with --all the accounts). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "jsonout.h"
#include "leec/store.h"

#define RESET_USAGE                                                            \
    "usage: leec reset [--dir DIR] [--yes] [--json] (CERT-NAME ... | --all)\n"

/* --help: one line a line, as printed. */
/* clang-format off */
static const char reset_help[] =
    RESET_USAGE
    "\n"
    "Forgets every version of the named certificates (their live link first,\n"
    "then their archive) and their orders in progress (abandoned at the CA);\n"
    "--all also forgets the accounts. Asks first unless --yes. --json prints\n"
    "what was forgotten as JSON.\n";
/* clang-format on */

/* Asks on the terminal; true for "y" or "yes". */
static bool confirm(int argc, char **argv, bool all, const char *dir)
{
    if (all) {
        fprintf(stderr,
                "Forget every certificate, key and account in %s? "
                "[y/N] ",
                dir);
    } else {
        fputs("Forget the certificate(s)", stderr);
        for (int i = 0; i < argc; i++) {
            fputc(' ', stderr);
            cli_put_safe(argv[i]);
        }
        fprintf(stderr, " and their keys in %s? [y/N] ", dir);
    }
    return cli_confirm_answer();
}

/* The URL of name's order in progress (malloc'd), or NULL. */
static char *order_of(leec_store *store, const char *name)
{
    leec_store_order o;
    char *url = NULL;
    if (leec_store_order_read(store, name, &o) == LEEC_OK) {
        url = o.order_url;
        o.order_url = NULL;
    }
    leec_store_order_clear(&o);
    return url;
}

/* Says which orders in progress a reset dropped: the CA keeps them until
 * they expire, unused. */
static void abandoned(const char *name, const char *url)
{
    fputs("leec: ", stderr);
    cli_put_safe(name);
    fputs(": order ", stderr);
    cli_put_safe(url);
    fputs(" abandoned at the CA (it expires there unused)\n", stderr);
}

/* --json: a row of rows for name (when rows is not NULL), or the row
 * already there; NULL when out of memory. */
static json_t *row_of(json_t *rows, const char *name)
{
    for (size_t i = 0; i < json_array_size(rows); i++) {
        json_t *r = json_array_get(rows, i);
        if (strcmp(json_string_value(json_object_get(r, "cert_name")), name) ==
            0)
            return r;
    }
    json_t *r = json_pack("{s:s, s:b, s:n}", "cert_name", name, "ok", true,
                          "order_abandoned");
    return r && json_array_append_new(rows, r) == 0 ? r : NULL;
}

/* --all with --json: a row for each certificate there is (each one with
 * an order in progress gets its own from reset_one). */
static void rows_of_all(leec_store *store, json_t *rows)
{
    char **names = NULL;
    size_t n = 0;
    if (leec_store_list(store, &names, &n) == LEEC_OK)
        for (size_t i = 0; i < n; i++)
            row_of(rows, names[i]);
    leec_store_list_free(names, n);
}

/* 0, or 1 after a message; with rows (--json), what happened to each
 * certificate added to it. */
static int reset_one(leec_store *store, const char *name, json_t *rows)
{
    char **onames = NULL, **urls = NULL;
    size_t on = 0;
    if (name) {
        on = 1;
        if ((urls = calloc(1, sizeof *urls)))
            urls[0] = order_of(store, name);
    } else if (leec_store_order_list(store, &onames, &on) == LEEC_OK && on &&
               (urls = calloc(on, sizeof *urls))) {
        for (size_t i = 0; i < on; i++)
            urls[i] = order_of(store, onames[i]);
    }
    if (rows && !name)
        rows_of_all(store, rows);
    else if (rows)
        row_of(rows, name);
    leec_code rc = leec_store_reset(store, name);
    for (size_t i = 0; urls && i < on; i++) {
        const char *who = name ? name : onames[i];
        if (rc == LEEC_OK && urls[i])
            abandoned(who, urls[i]);
        json_t *r = rows && rc == LEEC_OK && urls[i] ? row_of(rows, who) : NULL;
        if (r)
            json_object_set_new(r, "order_abandoned", json_string(urls[i]));
        free(urls[i]);
    }
    free(urls);
    leec_store_list_free(onames, on);
    if (rc == LEEC_OK)
        return 0;
    const char *why = rc == LEEC_E_INVALID_ARG && name
                          ? "not a certificate name"
                      : rc == LEEC_E_LOCKED
                          ? "in use by another leec process; nothing removed"
                          : cli_store_error(store, rc);
    /* --all: not said which were removed, so none is said to be. */
    for (size_t i = 0; i < json_array_size(rows); i++) {
        json_t *r = json_array_get(rows, i);
        const char *rn = json_string_value(json_object_get(r, "cert_name"));
        if (name && strcmp(rn, name) != 0)
            continue;
        json_object_set_new(r, "ok", json_false());
        json_object_set_new(r, "error", json_string(why));
    }
    fputs("leec: ", stderr);
    if (name)
        cli_put_safe(name);
    else
        fputs("reset", stderr);
    if (rc == LEEC_E_INVALID_ARG && name)
        fputs(": not a certificate name\n", stderr);
    else if (rc == LEEC_E_LOCKED)
        fputs(": in use by another leec process (an issue running?); "
              "nothing removed, try again later\n",
              stderr);
    else
        fprintf(stderr, ": %s\n", cli_store_error(store, rc));
    return 1;
}

typedef struct reset_args {
    char *dir; /* malloc'd; NULL: none given */
    bool all, yes, json;
} reset_args;

/* One of reset's options into the reset_args ud (as cli_cmd's take). */
static int take(void *ud, int c, const char *arg)
{
    reset_args *a = ud;
    switch (c) {
    case 'D':
        return cli_set_dir(&a->dir, arg);
    case 'a':
        a->all = true;
        return 0;
    case 'y':
        a->yes = true;
        return 0;
    case 'j':
        a->json = true;
        return 0;
    default:
        return CLI_OPT_OTHER;
    }
}

int cmd_reset(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'D'}, {"all", no_argument, NULL, 'a'},
        {"yes", no_argument, NULL, 'y'},       {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},      {NULL, 0, NULL, 0},
    };
    /* Names or --all: checked here, the operand count is not fixed. */
    static const cli_cmd cmd = {
        .shortopts = "hy",
        .longopts = opts,
        .take = take,
        .usage = reset_help,
    };
    reset_args a = {0};
    int status;
    leec_store *store = NULL;
    json_t *rows = NULL;
    const char *err = NULL; /* --json: the failure, in short */

    if ((status = cli_getopt(&cmd, argc, argv, &a)) != 0) {
        status = status < 0 ? 0 : status;
        goto done;
    }
    status = 1;
    int nnames = argc - optind;
    char **names = argv + optind;
    if (a.all == (nnames > 0)) {
        fputs(a.all ? "leec: --all takes no certificate names\n"
                    : "leec: name the certificates to reset, or --all\n",
              stderr);
        fputs(RESET_USAGE, stderr);
        status = EXIT_USAGE;
        goto done;
    }
    /* Not cli_state_dir: reset's message says "(set --dir)". */
    err = "no state folder";
    if (!a.dir && !(a.dir = cli_default_dir())) {
        fputs("leec: no state folder (set --dir)\n", stderr);
        goto done;
    }
    if (!a.yes) {
        if (!isatty(STDIN_FILENO)) {
            fputs("leec: reset forgets keys and certificates: confirm with "
                  "--yes when not on a terminal\n",
                  stderr);
            status = EXIT_USAGE;
            goto done;
        }
        if (!confirm(nnames, names, a.all, a.dir)) {
            fputs("leec: nothing reset\n", stderr);
            err = "not confirmed: nothing reset";
            goto done;
        }
    }
    err = "cannot open the store";
    if (!(store = cli_store_open(a.dir)))
        goto done;
    err = "out of memory";
    if (a.json && !(rows = json_array()))
        goto done;
    status = 0;
    if (a.all) {
        status = reset_one(store, NULL, rows);
    } else {
        for (int i = 0; i < nnames; i++) {
            if (reset_one(store, names[i], rows) != 0)
                status = 1;
        }
    }
    if (a.json) {
        json_t *j = json_pack("{s:b, s:b, s:O}", "ok", status == 0, "all",
                              a.all, "certificates", rows);
        if (j && status != 0)
            json_object_set_new(j, "error",
                                json_string(a.all ? "the reset failed"
                                                  : "a certificate could "
                                                    "not be reset"));
        cli_print_json(j);
        json_decref(j);
    }
done:
    if (a.json && status == 1 && !rows)
        jo_failure(json_pack("{s:b, s:b, s:[]}", "ok", false, "all", a.all,
                             "certificates"),
                   err, NULL);
    json_decref(rows);
    leec_store_free(store);
    free(a.dir);
    return status;
}
