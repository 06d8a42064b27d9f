#define _GNU_SOURCE
/* leec ca-cert: the CA certificate at the top of a stored chain (the last
 * certificate of chain.pem), for a trust store or a stapling
 * configuration. When the chain stops short of its root and the top
 * certificate names where its issuer is (AIA caIssuers), the issuers are
 * fetched up to the root (leec_ctx_fetch_root, each checked by signature)
 * and the root is written; a chain that stops short without saying where
 * its issuer is gives its top certificate, with a warning. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "jsonout.h"

static const char usage_text[] =
    "usage: leec ca-cert [CERT-NAME] [--dir DIR] [--out FILE]\n"
    "                    [--allow-intermediate] [--json]\n"
    "  writes the CA certificate at the top of CERT-NAME's chain (default:\n"
    "  the only certificate of the store) to FILE (default: stdout); when the\n"
    "  chain stops short of its root, fetches the root over the AIA caIssuers\n"
    "  URLs of the chain's top certificate and its issuers, and writes it;\n"
    "  when the root cannot be reached, fails, unless --allow-intermediate,\n"
    "  which writes the top certificate of the chain then; --json prints\n"
    "  the result as JSON (with the PEM text when there is no --out)\n";

/* The certificate name given, or the store's only one (malloc'd). */
static char *pick_name(leec_store *store, const char *given)
{
    if (given)
        return strdup(given);
    char **names = NULL, *one = NULL;
    size_t n = 0;
    if (leec_store_list(store, &names, &n) != LEEC_OK)
        fputs("leec: cannot list the certificates\n", stderr);
    else if (n != 1)
        fprintf(stderr, "leec: the store has %zu certificates: name one\n", n);
    else
        one = strdup(names[0]);
    leec_store_list_free(names, n);
    return one;
}

typedef struct cacert_args {
    cli_dir_json d; /* --dir, --json */
    const char *out;
    bool allow_intermediate; /* no root reached: the top one will do */
} cacert_args;

/* One of ca-cert's options into the cacert_args ud (as cli_cmd's take). */
static int take(void *ud, int c, const char *arg)
{
    cacert_args *a = ud;
    if (c == 'I') {
        a->allow_intermediate = true;
        return 0;
    }
    if (c != 'o')
        return cli_take_dir_json(&a->d, c, arg);
    a->out = arg;
    return 0;
}

int cmd_ca_cert(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'D'},
        {"out", required_argument, NULL, 'o'},
        {"allow-intermediate", no_argument, NULL, 'I'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const cli_cmd cmd = {.shortopts = "ho:",
                                .longopts = opts,
                                .take = take,
                                .usage = usage_text};
    cacert_args a = {0};
    char *name = NULL, *chain = NULL;
    char *top = NULL, *subject = NULL, *issuer = NULL, *aia = NULL;
    char *root = NULL, *why = NULL;
    bool self_signed = false;
    int status;
    leec_store *store = NULL;
    leec_ctx *ctx = NULL;
    leec_code rc;
    const char *err = NULL;     /* --json: the failure, in short */
    const char *warning = NULL; /* --json: why not the root */
    bool fetched = false;
    if ((status = cli_getopt(&cmd, argc, argv, &a)) != 0) {
        status = status < 0 ? 0 : status;
        goto out;
    }
    status = EXIT_USAGE;
    if (argc - optind > 1) {
        fputs(usage_text, stderr);
        goto out;
    }
    status = 1;
    err = "cannot open the store";
    if (!cli_state_dir(&a.d.dir) || !(store = cli_store_open(a.d.dir)))
        goto out;
    err = "name the certificate: the store has none or several";
    if (!(name = pick_name(store, optind < argc ? argv[optind] : NULL)))
        goto out;
    err = "no such certificate in the store";
    /* Through the store: its live link is checked, not followed. */
    if ((rc = leec_store_read_chain(store, name, &chain)) != LEEC_OK) {
        fprintf(stderr, "leec: %s: %s\n", name,
                rc == LEEC_E_NOT_FOUND || rc == LEEC_E_INVALID_ARG
                    ? "no such certificate in the store"
                    : cli_store_error(store, rc));
        goto out;
    }
    err = "no CA certificate in its chain";
    rc = leec_chain_top(chain, strlen(chain), &top, &subject, &issuer,
                        &self_signed, &aia);
    if (rc != LEEC_OK) {
        fprintf(stderr, "leec: %s: no CA certificate in its chain (%s)\n", name,
                leec_strerror(rc));
        goto out;
    }
    if (!self_signed && aia) {
        if (!(ctx = leec_ctx_new())) {
            fputs("leec: out of memory\n", stderr);
            goto out;
        }
        leec_ctx_set_log(ctx, cli_log, NULL, LEEC_LOG_WARN);
        rc = leec_ctx_fetch_root(ctx, chain, strlen(chain), &root, &why);
        fetched = rc == LEEC_OK;
        if (rc != LEEC_OK) {
            err = warning = "the chain stops short of its root, and the root "
                            "could not be fetched";
            fprintf(stderr,
                    "leec: %sthe chain of %s stops short of its root (the top "
                    "certificate, %s, is issued by %s), and the root could "
                    "not be fetched: %s%s%s%s\n",
                    a.allow_intermediate ? "warning: " : "", name,
                    subject ? subject : "?", issuer ? issuer : "?",
                    why ? "" : aia, why ? "" : ": ",
                    why ? why : leec_strerror(rc),
                    a.allow_intermediate
                        ? "; writing the top certificate (--allow-intermediate)"
                        : "; nothing written (--allow-intermediate writes the "
                          "top certificate)");
            if (!a.allow_intermediate)
                goto out;
        }
    }
    if (root) {
        free(top);
        top = root;
        root = NULL;
        free(subject);
        subject = NULL;
        rc = leec_chain_top(top, strlen(top), NULL, &subject, NULL, NULL, NULL);
        if (rc != LEEC_OK) {
            fprintf(stderr, "leec: %s\n", leec_strerror(rc));
            goto out;
        }
        self_signed = true;
    }
    if (!self_signed && !aia) {
        err = warning = "the chain stops short of its root and does not "
                        "locate its issuer";
        fprintf(stderr,
                "leec: %sthe chain of %s stops short of its root (the top "
                "certificate, %s, is issued by %s, which the chain does not "
                "include nor locate); %s\n",
                a.allow_intermediate ? "warning: " : "", name,
                subject ? subject : "?", issuer ? issuer : "?",
                a.allow_intermediate
                    ? "writing the top certificate (--allow-intermediate)"
                    : "nothing written (--allow-intermediate writes the top "
                      "certificate)");
        if (!a.allow_intermediate)
            goto out;
    }
    if (a.out) {
        err = "cannot write the file";
        rc = leec_write_file_atomic(a.out, top, strlen(top), 0644);
        if (rc != LEEC_OK) {
            fprintf(stderr, "leec: cannot write %s: %s\n", a.out,
                    leec_strerror(rc));
            goto out;
        }
        fprintf(stderr, "leec: wrote %s (%s) to %s\n",
                self_signed ? "the root" : "the top CA certificate",
                subject ? subject : "?", a.out);
    } else if (!a.d.json) {
        fputs(top, stdout);
    }
    status = 0;
    if (a.d.json) {
        json_t *j =
            json_pack("{s:b, s:s, s:s?, s:b, s:b, s:s?, s:s?, s:s?}", "ok",
                      true, "cert_name", name, "subject", subject, "root",
                      self_signed, "fetched", fetched, "path", a.out, "pem",
                      a.out ? NULL : top, "warning", warning);
        cli_print_json(j);
        json_decref(j);
    }
out:
    if (a.d.json && status == 1)
        jo_failure(json_pack("{s:b, s:s?}", "ok", false, "cert_name", name),
                   err, NULL);
    free(a.d.dir);
    free(name);
    free(chain);
    free(top);
    free(subject);
    free(issuer);
    free(aia);
    free(root);
    free(why);
    leec_ctx_free(ctx);
    leec_store_free(store);
    return status;
}
