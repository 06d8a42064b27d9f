#define _GNU_SOURCE
/* leec reset: forgets certificates (and with --all the accounts). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define RESET_USAGE                                                            \
    "usage: leec reset [--dir DIR] [--yes] (CERT-NAME ... | --all)\n"

/* Asks on the terminal; true for "y" or "yes". */
static bool confirm(int argc, char **argv, bool all, const char *dir)
{
    char line[64];
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
    fflush(stderr);
    if (!fgets(line, sizeof line, stdin))
        return false;
    line[strcspn(line, "\r\n")] = '\0';
    return strcmp(line, "y") == 0 || strcmp(line, "Y") == 0 ||
           strcmp(line, "yes") == 0;
}

/* 0, or 1 after a message. */
static int reset_one(leec_store *store, const char *name)
{
    leec_code rc = leec_store_reset(store, name);
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
        fprintf(stderr, ": %s\n", leec_strerror(rc));
    return 1;
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
    char *dir = NULL;
    bool all = false, yes = false;
    int c, status = 1;
    leec_code rc;
    leec_store *store = NULL;

    optind = 1;
    while ((c = getopt_long(argc, argv, "hy", opts, NULL)) != -1) {
        switch (c) {
        case 'D':
            free(dir);
            dir = strdup(optarg);
            break;
        case 'a':
            all = true;
            break;
        case 'y':
            yes = true;
            break;
        case 'h':
            fputs(RESET_USAGE
                  "\n"
                  "Forgets every version of the named certificates (their "
                  "live link first,\nthen their archive); --all also forgets "
                  "the accounts. Asks first unless\n--yes.\n",
                  stdout);
            status = 0;
            goto done;
        default:
            status = EXIT_USAGE;
            goto done;
        }
    }
    int nnames = argc - optind;
    char **names = argv + optind;
    if (all == (nnames > 0)) {
        fputs(all ? "leec: --all takes no certificate names\n"
                  : "leec: name the certificates to reset, or --all\n",
              stderr);
        fputs(RESET_USAGE, stderr);
        status = EXIT_USAGE;
        goto done;
    }
    if (!dir && !(dir = cli_default_dir())) {
        fputs("leec: no state folder (set --dir)\n", stderr);
        goto done;
    }
    if (!yes) {
        if (!isatty(STDIN_FILENO)) {
            fputs("leec: reset forgets keys and certificates: confirm with "
                  "--yes when not on a terminal\n",
                  stderr);
            status = EXIT_USAGE;
            goto done;
        }
        if (!confirm(nnames, names, all, dir)) {
            fputs("leec: nothing reset\n", stderr);
            goto done;
        }
    }
    if (!(store = leec_store_fs_new(dir, &rc))) {
        fprintf(stderr, "leec: cannot open %s: %s\n", dir, leec_strerror(rc));
        goto done;
    }
    status = 0;
    if (all) {
        status = reset_one(store, NULL);
    } else {
        for (int i = 0; i < nnames; i++) {
            if (reset_one(store, names[i]) != 0)
                status = 1;
        }
    }
done:
    leec_store_free(store);
    free(dir);
    return status;
}
