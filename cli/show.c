#define _GNU_SOURCE
/* leec show: what `openssl x509 -text` tells, in a few lines. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

#define PEM_MAX (1024 * 1024)

static int read_file(const char *path, char **out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    char *buf = malloc(PEM_MAX + 1);
    size_t n = buf ? fread(buf, 1, PEM_MAX + 1, f) : 0;
    fclose(f);
    if (!buf || n > PEM_MAX) {
        free(buf);
        return -1;
    }
    buf[n] = '\0';
    *out = buf;
    return 0;
}

static long days_left(time_t not_after)
{
    double d = difftime(not_after, time(NULL)) / 86400.0;
    return d < 0 ? (long)d - (d != (long)d) : (long)d;
}

int cmd_show(int argc, char **argv)
{
    /* One operand: no message of its own when it is missing or more, the
     * usage says it. */
    static const cli_cmd cmd = {
        .shortopts = "h",
        .longopts = cli_dir_json_options,
        .take = cli_take_dir_json,
        .usage =
            "usage: leec show [--dir DIR] (CERT-NAME | FILE.pem) [--json]\n",
        .missing = "",
        .extra = ""};
    cli_dir_json a = {0};
    char *pem = NULL;
    int status;
    leec_cert_info *ci = NULL;
    leec_store *store = NULL;
    if ((status = cli_getopt(&cmd, argc, argv, &a)) != 0) {
        status = status < 0 ? 0 : status;
        goto out;
    }
    status = 1;
    const char *what = argv[optind];
    if (strchr(what, '/') ||
        (strlen(what) > 4 && strcmp(what + strlen(what) - 4, ".pem") == 0)) {
        if (read_file(what, &pem) != 0) {
            fprintf(stderr, "leec: cannot read %s\n", what);
            goto out;
        }
    } else {
        leec_code rc;
        if (!a.dir && !(a.dir = cli_default_dir()))
            goto out;
        if (!(store = cli_store_open(a.dir)))
            goto out;
        if ((rc = leec_store_read_cert(store, what, &pem)) != LEEC_OK) {
            fprintf(stderr, "leec: %s: %s\n", what,
                    rc == LEEC_E_NOT_FOUND ? "no such certificate in the store"
                                           : cli_store_error(store, rc));
            goto out;
        }
    }
    if (leec_cert_info_from_pem(pem, strlen(pem), &ci) != LEEC_OK) {
        fprintf(stderr, "leec: %s: no certificate found\n", what);
        goto out;
    }
    char nb[32], na[32];
    cli_iso_time(ci->not_before, nb, sizeof nb);
    cli_iso_time(ci->not_after, na, sizeof na);
    long left = days_left(ci->not_after);
    if (a.json) {
        json_t *names = json_array();
        for (size_t i = 0; i < ci->nnames; i++)
            json_array_append_new(names, json_string(ci->names[i]));
        json_t *j = json_pack(
            "{s:s, s:s, s:s, s:o, s:s, s:s, s:i, s:s, s:s, s:I}", "subject",
            ci->subject, "issuer", ci->issuer, "serial", ci->serial, "names",
            names, "key_type", ci->key_type, "key_detail", ci->key_detail,
            "key_bits", ci->key_bits, "not_before", nb, "not_after", na,
            "days_left", (json_int_t)left);
        cli_print_json(j);
        json_decref(j);
    } else {
        printf("subject:    %s\n", ci->subject);
        printf("names:     ");
        for (size_t i = 0; i < ci->nnames; i++)
            printf(" %s", ci->names[i]);
        printf("\nissuer:     %s\n", ci->issuer);
        printf("serial:     %s\n", ci->serial);
        printf("key:        %s %s\n", ci->key_type, ci->key_detail);
        printf("not before: %s\n", nb);
        printf("not after:  %s (%ld days left)\n", na, left);
    }
    status = 0;
out:
    leec_cert_info_free(ci);
    leec_store_free(store);
    free(pem);
    free(a.dir);
    return status;
}
