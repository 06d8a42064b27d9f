#define _GNU_SOURCE
/* leec revoke: ask the CA to revoke a certificate (RFC 8555 §7.6), signed
 * by the saved account or by the certificate's own key. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca.h"
#include "jsonout.h"

#define PEM_MAX (1024 * 1024)

/* One help line a line, as printed. */
/* clang-format off */
static const char revoke_usage[] =
    "usage: leec revoke (CERT-NAME | FILE.pem) [options]\n"
    "  CERT-NAME                a certificate of the store "
    "(live/CERT-NAME)\n"
    "  FILE.pem                 a certificate file (a path with '/' or\n"
    "                           ending in .pem)\n"
    "      --reason REASON      unspecified, keyCompromise,\n"
    "                           affiliationChanged, superseded,\n"
    "                           cessationOfOperation (default: none sent)\n"
    "      --with-cert-key      sign with the certificate's private key\n"
    "                           instead of the saved account (no account\n"
    "                           needed); FILE.pem needs --key\n"
    "      --key FILE           the certificate's private key (FILE.pem\n"
    "                           form; implies --with-cert-key)\n"
    CA_USAGE_SERVER
    CA_USAGE_DIR
    "      --agree-tos          accepted for symmetry with issue (no\n"
    "                           account is ever created here)\n"
    CA_USAGE_VERBOSE
    "      --json               print the result as JSON\n";
/* clang-format on */

static const struct {
    const char *name;
    int code;
} reasons[] = {
    {"unspecified", LEEC_REVOKE_UNSPECIFIED},
    {"keyCompromise", LEEC_REVOKE_KEY_COMPROMISE},
    {"affiliationChanged", LEEC_REVOKE_AFFILIATION_CHANGED},
    {"superseded", LEEC_REVOKE_SUPERSEDED},
    {"cessationOfOperation", LEEC_REVOKE_CESSATION_OF_OPERATION},
};

enum {
    OPT_REASON = 256,
    OPT_WITH_CERT_KEY,
    OPT_KEY,
    OPT_JSON,
};

static const struct option long_opts[] = {
    {"reason", required_argument, NULL, OPT_REASON},
    {"with-cert-key", no_argument, NULL, OPT_WITH_CERT_KEY},
    {"key", required_argument, NULL, OPT_KEY},
    {"json", no_argument, NULL, OPT_JSON},
    CA_OPTIONS,
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef struct revoke_args {
    ca_opts *o;
    const char *target;
    const char *key_file;
    bool with_key;
    int reason;
} revoke_args;

/* One of revoke's own options into the revoke_args ud (as cli_cmd's
 * take). */
static int take(void *ud, int c, const char *arg)
{
    revoke_args *a = ud;
    switch (c) {
    case OPT_REASON: {
        size_t i, n = sizeof reasons / sizeof *reasons;
        for (i = 0; i < n; i++)
            if (strcmp(arg, reasons[i].name) == 0)
                break;
        if (i == n) {
            fputs("leec: --reason: unspecified, keyCompromise, "
                  "affiliationChanged, superseded or "
                  "cessationOfOperation\n",
                  stderr);
            return EXIT_USAGE;
        }
        a->reason = reasons[i].code;
        return 0;
    }
    case OPT_WITH_CERT_KEY:
        a->with_key = true;
        return 0;
    case OPT_KEY:
        a->key_file = arg;
        a->with_key = true;
        return 0;
    case OPT_JSON:
        a->o->json = true;
        return 0;
    default:
        return ca_option(c, arg, a->o);
    }
}

static const cli_cmd revoke_cmd = {
    .shortopts = "vqh",
    .longopts = long_opts,
    .take = take,
    .usage = revoke_usage,
    .usage_on_error = true,
    .missing = "leec: which certificate? CERT-NAME or FILE.pem\n",
    .extra = "leec: one certificate at a time\n",
};

/* 0, -1 after --help, or EXIT_USAGE after a message. */
static int parse(int argc, char **argv, revoke_args *a)
{
    int r = cli_getopt(&revoke_cmd, argc, argv, a);
    if (r != 0)
        return r;
    a->target = argv[optind];
    return cli_state_dir(&a->o->dir) ? 0 : EXIT_USAGE;
}

static bool is_file_target(const char *t)
{
    size_t n = strlen(t);
    return strchr(t, '/') || (n > 4 && strcmp(t + n - 4, ".pem") == 0);
}

/* The whole file, NUL-terminated; 0 or -1 after a message. */
static int read_file(const char *path, const char *what, char **out)
{
    int status = -1;
    char *buf = NULL;
    size_t n = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        goto out;
    if (!(buf = malloc(PEM_MAX + 1)))
        goto out;
    n = fread(buf, 1, PEM_MAX + 1, f);
    if (ferror(f) || n > PEM_MAX)
        goto out;
    buf[n] = '\0';
    *out = buf;
    buf = NULL;
    status = 0;
out:
    if (f)
        fclose(f);
    if (buf) {
        explicit_bzero(buf, PEM_MAX + 1);
        free(buf);
    }
    if (status != 0) {
        fprintf(stderr, "leec: cannot read the %s ", what);
        cli_put_safe(path);
        fputc('\n', stderr);
    }
    return status;
}

static void free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

/* Reads the certificate (and its key when asked) of the target. 0 or 1
 * after a message. */
static int load_target(leec_ctx *ctx, const revoke_args *a, bool file,
                       char **cert, char **key)
{
    leec_code rc;
    if (file) {
        if (read_file(a->target, "certificate", cert) != 0)
            return 1;
        if (a->with_key && read_file(a->key_file, "key", key) != 0)
            return 1;
        return 0;
    }
    leec_store *store = leec_ctx_get_store(ctx);
    if (a->with_key)
        rc = leec_store_read_live(store, a->target, key, cert);
    else
        rc = leec_store_read_cert(store, a->target, cert);
    if (rc != LEEC_OK) {
        fputs("leec: no certificate '", stderr);
        cli_put_safe(a->target);
        fprintf(stderr, "' in the store: %s\n", cli_store_error(store, rc));
        return 1;
    }
    return 0;
}

/* A store certificate goes back to the CA that issued it (meta.json's
 * "server", and the trust its settings name), never to the default one,
 * unless --server says otherwise. 0, or 1 after a message. */
static int use_recorded_ca(leec_ctx *ctx, const revoke_args *a)
{
    char *text = NULL;
    json_t *meta = NULL;
    int status = 0;
    leec_store *store = leec_ctx_get_store(ctx);
    if (a->o->server ||
        leec_store_read_meta(store, a->target, &text) != LEEC_OK)
        goto out; /* no meta.json: load_target says what is missing */
    meta = json_loads(text, 0, NULL);
    const char *server = json_string_value(json_object_get(meta, "server"));
    const char *bundle = json_string_value(
        json_object_get(json_object_get(meta, "settings"), "ca_bundle"));
    if (!server)
        goto out;
    leec_code rc = leec_ctx_set_server(ctx, server);
    if (rc == LEEC_OK && bundle && !a->o->ca_bundle)
        rc = leec_ctx_set_ca_bundle(ctx, bundle);
    if (rc != LEEC_OK) {
        fputs("leec: the CA recorded with ", stderr);
        cli_put_safe(a->target);
        fprintf(stderr, " cannot be used: %s\n", leec_strerror(rc));
        status = 1;
    }
out:
    json_decref(meta);
    free(text);
    return status;
}

/* The --json document of a revocation: what was revoked, and how. */
static json_t *result_json(const revoke_args *a, bool file,
                           const leec_cert_info *info)
{
    const char *reason = NULL;
    for (size_t i = 0; i < sizeof reasons / sizeof *reasons; i++)
        if (reasons[i].code == a->reason)
            reason = reasons[i].name;
    json_t *j = json_pack(
        "{s:b, s:s?, s:s?, s:s?, s:s}", "ok", true, "cert_name",
        file ? NULL : a->target, "file", file ? a->target : NULL, "reason",
        reason, "signed_with", a->with_key ? "certificate_key" : "account");
    if (j && info) {
        json_t *names = json_array();
        for (size_t i = 0; i < info->nnames; i++)
            json_array_append_new(names, json_string(info->names[i]));
        json_object_set_new(j, "names", names);
        json_object_set_new(j, "serial", json_string(info->serial));
        json_object_set_new(j, "not_after", jo_time(info->not_after));
    }
    return j;
}

int cmd_revoke(int argc, char **argv)
{
    ca_opts o;
    revoke_args a = {.o = &o, .reason = LEEC_REVOKE_NO_REASON};
    ca_op res = {.head = "cannot revoke ", .sep = ": "};
    leec_ctx *ctx = NULL;
    leec_cert_info *info = NULL;
    char *cert = NULL, *key = NULL;
    const char *err = NULL; /* --json: the failure, in short */
    bool file = false;
    int status;
    ca_opts_init(&o);

    if ((status = parse(argc, argv, &a)) != 0) {
        status = status < 0 ? 0 : status;
        goto out;
    }
    res.what = a.target;
    file = is_file_target(a.target);
    status = EXIT_USAGE;
    if (file && a.with_key && !a.key_file) {
        fputs("leec: --with-cert-key with FILE.pem needs --key FILE\n", stderr);
        goto out;
    }
    if (!file && a.key_file) {
        fputs("leec: --key goes with FILE.pem (a store certificate's key is "
              "read from the store with --with-cert-key)\n",
              stderr);
        goto out;
    }
    err = "cannot set up the CA's context";
    if (!(ctx = ca_ctx_new(&o, cli_log, NULL, &status)))
        goto out;
    status = 1;
    /* The store holds the account, and CERT-NAME's files; a file revoked
     * with its own key needs none. */
    err = "cannot open the store";
    if ((!file || !a.with_key) && ca_open_store(ctx, &o) != 0)
        goto out;
    err = "the CA recorded with the certificate cannot be used";
    if (!file && use_recorded_ca(ctx, &a) != 0)
        goto out;
    err = file ? "cannot read the certificate or its key"
               : "no such certificate in the store";
    if (load_target(ctx, &a, file, &cert, &key) != 0)
        goto out;
    err = "no certificate found";
    if (leec_cert_info_from_pem(cert, strlen(cert), &info) != LEEC_OK) {
        fputs("leec: no certificate in ", stderr);
        cli_put_safe(a.target);
        fputc('\n', stderr);
        goto out;
    }
    leec_code rc = leec_ctx_revoke(ctx, cert, a.with_key ? key : NULL, a.reason,
                                   ca_op_done, &res);
    free_secret(key);
    key = NULL;
    if (rc == LEEC_E_NOT_FOUND) {
        err = "no saved account for this CA";
        fprintf(stderr,
                "leec: no saved account for this CA in %s: revoke with "
                "--with-cert-key (the certificate's private key), or with "
                "the --dir of the account that issued it\n",
                o.dir);
        goto out;
    }
    if (rc == LEEC_E_CERT_MISMATCH) {
        err = "the key is not the certificate's";
        fputs("leec: the key is not the certificate's\n", stderr);
        goto out;
    }
    err = leec_strerror(rc);
    if (rc != LEEC_OK) {
        ca_op_failure(&res, rc);
        goto out;
    }
    err = "the revocation did not complete";
    if (ca_op_run(ctx, &res) != 0)
        goto out;
    err = leec_strerror(res.rc);
    if (res.rc != LEEC_OK) {
        ca_op_failure(&res, res.rc);
        goto out;
    }
    /* With --json, the words go to stderr: stdout holds the document. */
    FILE *said = o.json ? stderr : stdout;
    fprintf(said, "%srevoked ", o.json ? "leec: " : "");
    fputs(a.target, said);
    fprintf(said, " (serial %s)\n", info->serial ? info->serial : "?");
    status = 0;
    /* A certificate of the store that is revoked is due at once: leec
     * renew (or the daemon) replaces it. */
    bool noted = !file && (rc = leec_store_note_revoked(leec_ctx_get_store(ctx),
                                                        a.target, cert,
                                                        time(NULL))) == LEEC_OK;
    if (!file && !noted)
        fprintf(stderr,
                "leec: warning: cannot record the revocation with the "
                "certificate (%s): leec renew --force replaces it\n",
                leec_strerror(rc));
    if (o.json) {
        json_t *j = result_json(&a, file, info);
        if (j && !file)
            json_object_set_new(j, "renewal_due", json_boolean(noted));
        cli_print_json(j);
        json_decref(j);
    }
out:
    /* Every failure after the options were read (usage errors, exit
     * status 2, print nothing on stdout). */
    if (o.json && status == 1)
        jo_failure(result_json(&a, file, info), err, res.problem);
    free_secret(key);
    free(cert);
    ca_op_clear(&res);
    leec_cert_info_free(info);
    leec_ctx_free(ctx);
    free(o.dir);
    return status;
}
