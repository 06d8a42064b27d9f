#define _GNU_SOURCE
/* leec reset: forgets certificates (and with --all the accounts). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "leec/store.h"

#define RESET_USAGE                                                            \
    "usage: leec reset [--dir DIR] [--yes] (CERT-NAME ... | --all)\n"

/* --help: one line a line, as printed. */
/* clang-format off */
static const char reset_help[] =
    RESET_USAGE
    "\n"
    "Forgets every version of the named certificates (their live link first,\n"
    "then their archive) and their orders in progress (abandoned at the CA);\n"
    "--all also forgets the accounts. Asks first unless --yes.\n";
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

/* 0, or 1 after a message. */
static int reset_one(leec_store *store, const char *name)
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
    leec_code rc = leec_store_reset(store, name);
    for (size_t i = 0; urls && i < on; i++) {
        if (rc == LEEC_OK && urls[i])
            abandoned(name ? name : onames[i], urls[i]);
        free(urls[i]);
    }
    free(urls);
    leec_store_list_free(onames, on);
    if (rc == LEEC_OK)
        return 0;
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
    bool all, yes;
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
    default:
        return CLI_OPT_OTHER;
    }
}

int cmd_reset(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'D'},
        {"all", no_argument, NULL, 'a'},
        {"yes", no_argument, NULL, 'y'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
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
            goto done;
        }
    }
    if (!(store = cli_store_open(a.dir)))
        goto done;
    status = 0;
    if (a.all) {
        status = reset_one(store, NULL);
    } else {
        for (int i = 0; i < nnames; i++) {
            if (reset_one(store, names[i]) != 0)
                status = 1;
        }
    }
done:
    leec_store_free(store);
    free(a.dir);
    return status;
}
