#define _GNU_SOURCE
/* leec store: the shared store itself. init creates (or migrates) its
 * schema; rekey seals every private key again with the current master key
 * (--store-key) after a rotation, reading with the previous one
 * (--old-key). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char store_usage[] =
    "usage: leec store init --store postgresql://...\n"
    "       leec store rekey --store postgresql://... --store-key NEW "
    "--store-old-key OLD\n"
    "  init   create the store's tables (or bring them to this version of\n"
    "         leec); every command does it too, this one says so\n"
    "  rekey  seal every private key of the store with the master key of\n"
    "         --store-key; those sealed with the key of --store-old-key\n"
    "         are read with it. Afterwards OLD is no longer needed\n";

static const struct option store_options[] = {
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int take(void *ud, int c, const char *arg)
{
    (void)ud;
    (void)c;
    (void)arg;
    return CLI_OPT_OTHER;
}

int cmd_store(int argc, char **argv)
{
    static const cli_cmd cmd = {.shortopts = "h",
                                .longopts = store_options,
                                .take = take,
                                .usage = store_usage,
                                .usage_on_error = true,
                                .missing = "leec: store: init or rekey?\n",
                                .extra = "leec: store: one action\n"};
    int status = cli_getopt(&cmd, argc, argv, NULL);
    if (status != 0)
        return status < 0 ? 0 : status;
    const char *action = argv[optind];
    bool rekey = strcmp(action, "rekey") == 0;
    if (!rekey && strcmp(action, "init") != 0) {
        fprintf(stderr, "leec: store: unknown action '%s' (init, rekey)\n",
                action);
        return EXIT_USAGE;
    }
    if (!cli_store_shared()) {
        fputs("leec: store: needs --store postgresql://... (or LEEC_STORE)\n",
              stderr);
        return EXIT_USAGE;
    }
    if (rekey && !cli_old_store_key()) {
        fputs("leec: store rekey: needs --store-old-key FILE (and the new "
              "key in --store-key)\n",
              stderr);
        return EXIT_USAGE;
    }
    leec_store *store = cli_store_open(NULL);
    if (!store)
        return 1;
    status = 0;
    if (rekey) {
        size_t n = 0;
        leec_code rc = leec_store_rekey(store, &n);
        if (rc != LEEC_OK) {
            fprintf(stderr, "leec: store rekey: %s\n",
                    cli_store_error(store, rc));
            status = 1;
        } else {
            printf("sealed %zu secret%s again with the current key\n", n,
                   n == 1 ? "" : "s");
        }
    } else {
        puts("the store is ready");
    }
    leec_store_free(store);
    return status;
}
