/*
 * leec-dns-provider: a certificate through dns-01, with a DNS provider of the
 * program's own (leec/dns_provider.h). The library's dns-01 solver follows
 * CNAMEs, finds the zone, checks propagation and removes the record on every
 * path; the provider only adds and removes one TXT record.
 *
 * The provider here talks to a DNS host's HTTP API: pebble-challtestsrv's
 * management API, which the e2e tests run (POST /set-txt {"host","value"}
 * adds a value at a name, POST /clear-txt {"host"} drops them all). It is
 * synchronous: each call makes its requests (libcurl, 5 s at most) and
 * returns LEEC_STATUS_DONE or a failure. A wildcard and its base name put
 * two values at the same name at once, so it keeps the values of each name
 * and writes them all each time.
 *
 *   leec-dns-provider --server URL [--ca-bundle FILE] --dir DIR --api URL
 *                     [--resolver ADDR:PORT] [--propagation-timeout S]
 *                     [--agree-tos] [-v] -d NAME [-d NAME ...]
 *
 * Prints "add FQDN VALUE" and "remove FQDN VALUE" for each provider call,
 * then "issued CERT-NAME" (exit 0) or "failed: WHY" (exit 1).
 */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include <leec/dns_provider.h>
#include <leec/leec.h>

/* ---- the provider ---------------------------------------------------- */

typedef struct value {
    struct value *next;
    char *fqdn, *txt;
} value;

typedef struct api_dns {
    char *api; /* the management API's base URL */
    CURL *curl;
    value *values; /* every value set, by name */
} api_dns;

/* POSTs obj (taken) to api + path. 0 on a 2xx answer, else -1 with why. */
static int post(api_dns *p, const char *path, json_t *obj, char *why,
                size_t whylen)
{
    char url[1024];
    char *body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    long status = 0;
    CURLcode cc;

    json_decref(obj);
    if (!body) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    snprintf(url, sizeof url, "%s%s", p->api, path);
    curl_easy_reset(p->curl);
    curl_easy_setopt(p->curl, CURLOPT_URL, url);
    curl_easy_setopt(p->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(p->curl, CURLOPT_TIMEOUT, 5L);
    curl_easy_setopt(p->curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(p->curl, CURLOPT_NOSIGNAL, 1L);
    cc = curl_easy_perform(p->curl);
    free(body);
    if (cc != CURLE_OK) {
        snprintf(why, whylen, "%.300s: %s", url, curl_easy_strerror(cc));
        return -1;
    }
    curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
        snprintf(why, whylen, "%.300s: HTTP status %ld", url, status);
        return -1;
    }
    return 0;
}

/* Makes the API serve exactly our values at fqdn. */
static int push(api_dns *p, const char *fqdn, char *why, size_t whylen)
{
    if (post(p, "/clear-txt", json_pack("{s:s}", "host", fqdn), why, whylen) !=
        0)
        return -1;
    for (value *v = p->values; v; v = v->next)
        if (strcmp(v->fqdn, fqdn) == 0 &&
            post(p, "/set-txt",
                 json_pack("{s:s, s:s}", "host", fqdn, "value", v->txt), why,
                 whylen) != 0)
            return -1;
    return 0;
}

static void unlink_value(api_dns *p, value *v)
{
    for (value **pp = &p->values; *pp; pp = &(*pp)->next)
        if (*pp == v) {
            *pp = v->next;
            return;
        }
}

static void value_free(value *v)
{
    if (v) {
        free(v->fqdn);
        free(v->txt);
        free(v);
    }
}

static leec_status api_add(void *impl, const char *zone, const char *fqdn,
                           const char *txt, leec_solver_done_fn done,
                           void *done_arg, void **op)
{
    api_dns *p = impl;
    value *v = calloc(1, sizeof *v);
    char why[512];

    (void)zone; /* needs_zone is false: NULL */
    if (!v || !(v->fqdn = strdup(fqdn)) || !(v->txt = strdup(txt))) {
        value_free(v);
        return LEEC_STATUS_FAILED;
    }
    printf("add %s %s\n", fqdn, txt);
    fflush(stdout);
    v->next = p->values;
    p->values = v;
    if (push(p, fqdn, why, sizeof why) != 0) {
        unlink_value(p, v);
        value_free(v);
        (void)push(p, fqdn, why, sizeof why); /* the others, as they were */
        /* A failure known at once, with its reason: done, then PENDING
         * (returning FAILED would say no more than "could not add"). */
        done(done_arg, LEEC_E_SOLVER, why);
        return LEEC_STATUS_PENDING;
    }
    *op = v;
    return LEEC_STATUS_DONE;
}

static leec_status api_remove(void *impl, void *op, leec_solver_done_fn done,
                              void *done_arg)
{
    api_dns *p = impl;
    value *v = op;
    char why[512];
    int rc = 0;

    (void)done; /* synchronous either way */
    (void)done_arg;
    if (!v)
        return LEEC_STATUS_DONE; /* an add that failed through done */
    printf("remove %s %s\n", v->fqdn, v->txt);
    fflush(stdout);
    unlink_value(p, v);
    rc = push(p, v->fqdn, why, sizeof why);
    if (rc != 0)
        fprintf(stderr, "leec-dns-provider: could not remove TXT %s: %s\n",
                v->fqdn, why);
    value_free(v);
    return rc == 0 ? LEEC_STATUS_DONE : LEEC_STATUS_FAILED;
}

static void api_destroy(void *impl)
{
    api_dns *p = impl;
    while (p->values) {
        value *v = p->values;
        p->values = v->next;
        value_free(v);
    }
    curl_easy_cleanup(p->curl);
    free(p->api);
    free(p);
}

static const leec_dns_provider_ops api_ops = {
    .name = "challtestsrv API",
    .needs_zone = false,
    .add = api_add,
    .remove = api_remove,
    .destroy = api_destroy,
};

/* ---- the program ----------------------------------------------------- */

typedef struct outcome {
    bool finished;
    leec_outcome how;
} outcome;

static void on_log(void *ud, leec_log_level level, const char *msg)
{
    (void)ud;
    (void)level;
    fprintf(stderr, "leec: %s\n", msg);
}

static void on_done(void *ud, leec_agent *a, leec_outcome how)
{
    outcome *o = ud;
    (void)a;
    o->finished = true;
    o->how = how;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: leec-dns-provider --server URL [--ca-bundle FILE] --dir "
            "DIR --api URL\n"
            "         [--resolver ADDR:PORT] [--propagation-timeout S] "
            "[--agree-tos] [-v]\n"
            "         -d NAME [-d NAME ...]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *server = NULL, *bundle = NULL, *dir = NULL, *api = NULL;
    const char *names[16];
    size_t nnames = 0;
    bool agree = false, verbose = false;
    leec_dns_options o = {.propagation_timeout_s = -1};
    leec_code err = LEEC_OK;
    outcome out = {0};
    int ret = 1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--agree-tos") == 0) {
            agree = true;
            continue;
        }
        if (strcmp(a, "-v") == 0) {
            verbose = true;
            continue;
        }
        if (!v)
            return usage();
        i++;
        if (strcmp(a, "--server") == 0)
            server = v;
        else if (strcmp(a, "--ca-bundle") == 0)
            bundle = v;
        else if (strcmp(a, "--dir") == 0)
            dir = v;
        else if (strcmp(a, "--api") == 0)
            api = v;
        else if (strcmp(a, "--resolver") == 0)
            o.resolver = v;
        else if (strcmp(a, "--propagation-timeout") == 0)
            o.propagation_timeout_s = (int)strtol(v, NULL, 10);
        else if (strcmp(a, "-d") == 0 && nnames < 16)
            names[nnames++] = v;
        else
            return usage();
    }
    if (!server || !dir || !api || !nnames)
        return usage();

    curl_global_init(CURL_GLOBAL_DEFAULT);
    leec_ctx *ctx = leec_ctx_new();
    api_dns *p = calloc(1, sizeof *p);
    if (!ctx || !p || !(p->api = strdup(api)) || !(p->curl = curl_easy_init()))
        goto out;
    leec_ctx_set_log(ctx, on_log, NULL,
                     verbose ? LEEC_LOG_DEBUG : LEEC_LOG_WARN);
    if (leec_ctx_set_server(ctx, server) != LEEC_OK ||
        leec_ctx_set_ca_bundle(ctx, bundle) != LEEC_OK) {
        fprintf(stderr, "failed: bad --server or --ca-bundle\n");
        goto out;
    }
    leec_ctx_set_agree_tos(ctx, agree);
    leec_store *store = leec_store_fs_new(dir, &err);
    if (!store) {
        fprintf(stderr, "failed: %s: %s\n", dir, leec_strerror(err));
        goto out;
    }
    leec_ctx_set_store(ctx, store);

    /* The dns-01 solver over our provider: p is the context's from here
     * on, even if this fails. */
    leec_solver *solver = leec_ctx_solver_dns(ctx, &o, &api_ops, p, &err);
    p = NULL;
    if (!solver) {
        fprintf(stderr, "failed: %s\n", leec_strerror(err));
        goto out;
    }
    leec_agent *agent = leec_agent_new(ctx, NULL, names, nnames, &err);
    if (!agent || leec_agent_set_solver(agent, solver) != LEEC_OK) {
        fprintf(stderr, "failed: %s\n", leec_strerror(err));
        goto out;
    }
    leec_agent_set_callbacks(agent, NULL, on_done, &out);
    if (leec_agent_start(agent) != LEEC_OK || leec_ctx_run(ctx) != LEEC_OK ||
        !out.finished) {
        fprintf(stderr, "failed: the run did not finish\n");
        goto out;
    }
    if (out.how == LEEC_OUTCOME_ISSUED || out.how == LEEC_OUTCOME_FRESH) {
        printf("%s %s\n", out.how == LEEC_OUTCOME_ISSUED ? "issued" : "fresh",
               leec_agent_cert_name(agent));
        ret = 0;
    } else {
        printf("failed: %s\n", leec_agent_error_message(agent));
    }

out:
    if (p)
        api_destroy(p);
    leec_ctx_free(ctx);
    curl_global_cleanup();
    return ret;
}
