#define _GNU_SOURCE
/* leec issue --queue: the certificates a fleet should keep, recorded in the
 * shared store with their settings (each node's daemon claims and orders
 * them). Nothing is sent to the CA here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "batchfile.h"
#include "issue.h"

typedef struct queue {
    const ca_opts *o;
    leec_ctx *ctx; /* only to check names as leec issue does */
    leec_store *store;
    json_t *settings;
    json_t *queued; /* the certificate names recorded */
    const char *file;
} queue;

/* Records one certificate: {"names": [...], "settings": {...}}. 0,
 * EXIT_USAGE after a message about the names, or 1. */
static int want(queue *q, const char *cert_name, const char *const *names,
                size_t n, unsigned line)
{
    leec_code rc;
    leec_agent *a = leec_agent_new(q->ctx, cert_name, names, n, &rc);
    if (!a) {
        const char *what = rc == LEEC_E_BAD_NAME ? "invalid domain name"
                           : rc == LEEC_E_INVALID_ARG
                               ? "invalid certificate name"
                               : leec_strerror(rc);
        if (line)
            batch_line_error(q->file, line, what, NULL, NULL);
        else
            fprintf(stderr, "leec: %s\n", what);
        return rc == LEEC_E_NOMEM ? 1 : EXIT_USAGE;
    }
    const char *name = leec_agent_cert_name(a);
    json_t *j = json_object();
    json_t *arr = json_array();
    for (size_t i = 0; j && arr && i < n; i++)
        json_array_append_new(arr, json_string(names[i]));
    char *text = NULL;
    if (j && arr && json_object_set(j, "names", arr) == 0 &&
        json_object_set(j, "settings", q->settings) == 0)
        text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(arr);
    json_decref(j);
    int status = 1;
    if (!text)
        fputs("leec: out of memory\n", stderr);
    else if ((rc = leec_store_want(q->store, name, text)) != LEEC_OK)
        fprintf(stderr, "leec: %s: cannot record it: %s\n", name,
                cli_store_error(q->store, rc));
    else
        status = json_array_append_new(q->queued, json_string(name)) ? 1 : 0;
    free(text);
    leec_agent_free(a);
    return status;
}

static int add_line(void *ud, unsigned line, const char *const *w, size_t n)
{
    return want(ud, w[0], w + 1, n - 1, line);
}

int queue_issue(const ca_opts *o)
{
    int status = 1;
    queue q = {.o = o,
               .file =
                   o->batch && strcmp(o->batch, "-") == 0 ? "stdin" : o->batch};
    json_error_t jerr;
    leec_ctx *ctx = ca_ctx_new(o, cli_log, NULL, &status);
    if (!ctx)
        return status;
    q.ctx = ctx;
    status = 1;
    if (!(q.store = cli_store_open(o->dir)))
        goto out;
    if (!(q.settings = json_loads(o->settings, 0, &jerr)) ||
        !(q.queued = json_array()))
        goto out;
    if (o->feed && o->feed->batch) {
        status = batch_file_read(o->feed->batch, q.file, add_line, &q);
    } else if (o->batch) {
        bool std = strcmp(o->batch, "-") == 0;
        FILE *f = std ? stdin : fopen(o->batch, "r");
        if (!f) {
            fprintf(stderr, "leec: cannot read %s: %s\n", o->batch,
                    strerror(errno));
            status = EXIT_USAGE;
            goto out;
        }
        status = batch_file_read(f, q.file, add_line, &q);
        if (!std)
            fclose(f);
    } else {
        status = want(&q, o->cert_name, o->names, o->nnames, 0);
    }
    size_t n = json_array_size(q.queued);
    if (o->json) {
        json_t *j = json_pack("{s:O}", "queued", q.queued);
        cli_print_json(j);
        json_decref(j);
    } else if (!o->quiet) {
        printf("queued %zu certificate%s for the fleet\n", n,
               n == 1 ? "" : "s");
    }
out:
    json_decref(q.settings);
    json_decref(q.queued);
    leec_store_free(q.store);
    leec_ctx_free(ctx);
    return status;
}
