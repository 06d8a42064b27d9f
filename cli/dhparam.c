#define _GNU_SOURCE
/* leec dhparam: Diffie-Hellman parameters for a TLS server's configuration
 * (ssl_dhparam, SSLOpenSSLConfCmd DHParameters, ...). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define DH_USAGE                                                               \
    "usage: leec dhparam [--bits 2048|3072|4096] [--generate] [--out FILE] "   \
    "[--dir DIR]\n"

int cmd_dhparam(int argc, char **argv)
{
    static const struct option opts[] = {
        {"bits", required_argument, NULL, 'b'},
        {"generate", no_argument, NULL, 'g'},
        {"out", required_argument, NULL, 'o'},
        {"dir", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char *dir = NULL, *out = NULL, *pem = NULL;
    unsigned bits = 2048;
    bool generate = false;
    int c, status = 1;
    leec_code rc;
    leec_store *store = NULL;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if (!cli_parse_unsigned("--bits", optarg, &bits)) {
                status = EXIT_USAGE;
                goto done;
            }
            break;
        case 'g':
            generate = true;
            break;
        case 'o':
            free(out);
            out = strdup(optarg);
            break;
        case 'D':
            free(dir);
            dir = strdup(optarg);
            break;
        case 'h':
            fputs(DH_USAGE
                  "\n"
                  "Writes Diffie-Hellman parameters as PEM, by default the "
                  "RFC 7919 group\nof that size (ffdhe2048, ...), with "
                  "--generate fresh ones (slow), to\nFILE or DIR/dh-params.pem "
                  "(0644, replaced atomically).\n",
                  stdout);
            status = 0;
            goto done;
        default:
            status = EXIT_USAGE;
            goto done;
        }
    }
    if (optind != argc || (bits != 2048 && bits != 3072 && bits != 4096)) {
        if (optind == argc)
            fputs("leec: --bits must be 2048, 3072 or 4096\n", stderr);
        fputs(DH_USAGE, stderr);
        status = EXIT_USAGE;
        goto done;
    }
    if (!out) {
        if (!dir && !(dir = cli_default_dir())) {
            fputs("leec: no state folder (set --dir)\n", stderr);
            goto done;
        }
        /* Opening the store creates the state folder if needed. */
        if (!(store = leec_store_fs_new(dir, &rc))) {
            fprintf(stderr, "leec: cannot open %s: %s\n", dir,
                    leec_strerror(rc));
            goto done;
        }
        if (asprintf(&out, "%s/dh-params.pem", dir) < 0) {
            out = NULL;
            fputs("leec: out of memory\n", stderr);
            goto done;
        }
    }
    if (generate && bits > 2048)
        fprintf(stderr,
                "leec: generating %u-bit parameters, this may take "
                "minutes...\n",
                bits);
    if ((rc = leec_dhparam_pem((int)bits, generate, &pem)) != LEEC_OK) {
        fprintf(stderr, "leec: cannot make DH parameters: %s\n",
                leec_strerror(rc));
        goto done;
    }
    if ((rc = leec_write_file_atomic(out, pem, strlen(pem), 0644)) != LEEC_OK) {
        fprintf(stderr, "leec: cannot write %s: %s\n", out, leec_strerror(rc));
        goto done;
    }
    printf("%s\n", out);
    status = 0;
done:
    leec_store_free(store);
    free(pem);
    free(out);
    free(dir);
    return status;
}
