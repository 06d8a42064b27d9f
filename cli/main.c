#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
    fputs("usage: leec <command> [options]\n"
          "\n"
          "commands:\n"
          "  issue    obtain a certificate (or keep a fresh one)\n"
          "  show     summarise a certificate\n"
          "  version  print the version\n"
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
    if (strcmp(cmd, "issue") == 0)
        return cmd_issue(argc - 1, argv + 1);
    if (strcmp(cmd, "show") == 0)
        return cmd_show(argc - 1, argv + 1);
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
