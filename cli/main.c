#define _GNU_SOURCE
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* One line per subcommand (each in its own file, declared in cli.h). */
static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"issue", cmd_issue, "obtain certificates (or keep fresh ones)"},
    {"renew", cmd_renew, "renew the certificates that are due"},
    {"daemon", cmd_daemon, "keep every certificate renewed (long-running)"},
    {"show", cmd_show, "summarise a certificate"},
    {"list", cmd_list, "list the managed certificates"},
    {"reset", cmd_reset, "forget certificates (or all state)"},
    {"dhparam", cmd_dhparam, "write Diffie-Hellman parameters (PEM)"},
    {"revoke", cmd_revoke, "ask the CA to revoke a certificate"},
    {"ca-cert", cmd_ca_cert, "write the CA certificate atop a chain"},
    {"account", cmd_account, "manage the account at the CA"},
    {"store", cmd_store, "set up or rekey a shared (PostgreSQL) store"},
    {"apply", cmd_apply, "keep the certificates of the configuration file"},
    {"config", cmd_config, "check the configuration file (config check)"},
};

static void usage(FILE *f)
{
    fputs("usage: leec <command> [options]\n\ncommands:\n", f);
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-9s%s\n", commands[i].name, commands[i].help);
    fputs(
        "  version  print the version\n"
        "\n"
        "`leec <command> --help` tells a command's options. Every command\n"
        "also takes:\n"
        "  --store URI|DIR      where certificates and accounts live: a\n"
        "                       PostgreSQL URI "
        "(postgresql://USER@HOST:PORT/DB)\n"
        "                       or connection string shared by a fleet, or a\n"
        "                       state folder (default: $LEEC_STORE, else "
        "--dir)\n"
        "  --store-key FILE     the master key (32 bytes, mode 0600) sealing\n"
        "                       private keys in a PostgreSQL store (default:\n"
        "                       $CREDENTIALS_DIRECTORY/leec-store-key)\n",
        f);
}

/* Takes --store and --store-key out of a command's arguments (before a
 * "--"): every command opens its store through cli_store_open(), so one
 * copy of their parsing serves all. 0, or EXIT_USAGE after a message. */
static int take_store_options(int *argc, char **argv)
{
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        bool key = false;
        if (strcmp(a, "--") == 0) {
            while (i < *argc)
                argv[out++] = argv[i++];
            break;
        }
        bool old = strcmp(a, "--store-old-key") == 0 ||
                   strncmp(a, "--store-old-key=", 16) == 0;
        if (strcmp(a, "--store") == 0 || strcmp(a, "--store-key") == 0 ||
            strcmp(a, "--store-old-key") == 0) {
            key = a[7] == '-';
            if (i + 1 >= *argc) {
                fprintf(stderr, "leec: %s needs a value\n", a);
                return EXIT_USAGE;
            }
            val = argv[++i];
        } else if (strncmp(a, "--store=", 8) == 0) {
            val = a + 8;
        } else if (strncmp(a, "--store-key=", 12) == 0) {
            key = true;
            val = a + 12;
        } else if (old) {
            val = a + 16;
        } else {
            argv[out++] = argv[i];
            continue;
        }
        if (!*val) {
            fprintf(stderr, "leec: --store%s needs a value\n",
                    old   ? "-old-key"
                    : key ? "-key"
                          : "");
            return EXIT_USAGE;
        }
        if (old)
            cli_set_old_store_key(val);
        else
            cli_set_store(key ? NULL : val, key ? val : NULL);
    }
    argv[out] = NULL;
    *argc = out;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    int sub_argc = argc - 1;
    if (take_store_options(&sub_argc, argv + 1) != 0)
        return EXIT_USAGE;
    argc = sub_argc + 1;
    const char *cmd = argv[1];
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("leec %s\n", LEEC_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
        strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "leec: unknown command '%s'\n", cmd);
    usage(stderr);
    return EXIT_USAGE;
}
