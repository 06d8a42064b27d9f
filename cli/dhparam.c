#define _GNU_SOURCE
/* leec dhparam: Diffie-Hellman parameters for a TLS server's configuration
 * (ssl_dhparam, SSLOpenSSLConfCmd DHParameters, ...). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "jsonout.h"

#define DH_USAGE                                                               \
    "usage: leec dhparam [--bits 2048|3072|4096] [--generate] [--out FILE] "   \
    "[--dir DIR] [--json]\n"

/* --help: one line a line, as printed. */
/* clang-format off */
static const char dh_help[] =
    DH_USAGE
    "\n"
    "Writes Diffie-Hellman parameters as PEM, by default the RFC 7919 group\n"
    "of that size (ffdhe2048, ...), with --generate fresh ones (slow), to\n"
    "FILE or DIR/dh-params.pem (0644, replaced atomically). --json says what\n"
    "was written as JSON.\n";
/* clang-format on */

typedef struct dh_args {
    char *dir;       /* malloc'd; NULL: none given */
    const char *out; /* NULL: DIR/dh-params.pem */
    unsigned bits;
    bool generate, json;
} dh_args;

/* One of dhparam's options into the dh_args ud (as cli_cmd's take). */
static int take(void *ud, int c, const char *arg)
{
    dh_args *a = ud;
    switch (c) {
    case 'b':
        return cli_parse_unsigned("--bits", arg, &a->bits) ? 0 : EXIT_USAGE;
    case 'g':
        a->generate = true;
        return 0;
    case 'o':
        a->out = arg;
        return 0;
    case 'D':
        return cli_set_dir(&a->dir, arg);
    case 'j':
        a->json = true;
        return 0;
    default:
        return CLI_OPT_OTHER;
    }
}

/* The --json document: the file and what it holds. */
static json_t *result_json(const dh_args *a)
{
    char group[16];
    snprintf(group, sizeof group, "ffdhe%u", a->bits);
    return json_pack("{s:b, s:s?, s:i, s:b, s:s?}", "ok", true, "path", a->out,
                     "bits", (int)a->bits, "generated", a->generate, "group",
                     a->generate ? NULL : group);
}

int cmd_dhparam(int argc, char **argv)
{
    static const struct option opts[] = {
        {"bits", required_argument, NULL, 'b'},
        {"generate", no_argument, NULL, 'g'},
        {"out", required_argument, NULL, 'o'},
        {"dir", required_argument, NULL, 'D'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    /* No operands: checked here with --bits, one usage line for both. */
    static const cli_cmd cmd = {
        .shortopts = "h",
        .longopts = opts,
        .take = take,
        .usage = dh_help,
    };
    dh_args a = {.bits = 2048};
    char *path = NULL, *pem = NULL;
    int status;
    leec_code rc;
    leec_store *store = NULL;
    const char *err = NULL; /* --json: the failure, in short */

    if ((status = cli_getopt(&cmd, argc, argv, &a)) != 0) {
        status = status < 0 ? 0 : status;
        goto done;
    }
    status = 1;
    if (optind != argc ||
        (a.bits != 2048 && a.bits != 3072 && a.bits != 4096)) {
        if (optind == argc)
            fputs("leec: --bits must be 2048, 3072 or 4096\n", stderr);
        fputs(DH_USAGE, stderr);
        status = EXIT_USAGE;
        goto done;
    }
    err = "no state folder";
    if (!a.out) {
        /* Not cli_state_dir: dhparam's message says "(set --dir)". */
        if (!a.dir && !(a.dir = cli_default_dir())) {
            fputs("leec: no state folder (set --dir)\n", stderr);
            goto done;
        }
        /* Opening the store creates the state folder if needed. */
        err = "cannot open the store";
        if (!(store = cli_store_open(a.dir)))
            goto done;
        if (asprintf(&path, "%s/dh-params.pem", a.dir) < 0) {
            path = NULL;
            fputs("leec: out of memory\n", stderr);
            goto done;
        }
        a.out = path;
    }
    if (a.generate && a.bits > 2048)
        fprintf(stderr,
                "leec: generating %u-bit parameters, this may take "
                "minutes...\n",
                a.bits);
    err = "cannot make DH parameters";
    if ((rc = leec_dhparam_pem((int)a.bits, a.generate, &pem)) != LEEC_OK) {
        fprintf(stderr, "leec: cannot make DH parameters: %s\n",
                leec_strerror(rc));
        goto done;
    }
    err = "cannot write the file";
    rc = leec_write_file_atomic(a.out, pem, strlen(pem), 0644);
    if (rc != LEEC_OK) {
        fprintf(stderr, "leec: cannot write %s: %s\n", a.out,
                leec_strerror(rc));
        goto done;
    }
    status = 0;
    json_t *j = a.json ? result_json(&a) : NULL;
    if (a.json)
        cli_print_json(j);
    else
        printf("%s\n", a.out);
    json_decref(j);
done:
    if (a.json && status == 1)
        jo_failure(result_json(&a), err, NULL);
    leec_store_free(store);
    free(pem);
    free(path);
    free(a.dir);
    return status;
}
