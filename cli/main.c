#define _GNU_SOURCE
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
};

static void usage(FILE *f)
{
    fputs("usage: leec <command> [options]\n\ncommands:\n", f);
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-9s%s\n", commands[i].name, commands[i].help);
    fputs("  version  print the version\n"
          "\n"
          "`leec <command> --help` tells a command's options.\n",
          f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
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
