#define _GNU_SOURCE
/* leec list: the managed certificates, one row each. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "leec/store.h"

#define LIST_USAGE "usage: leec list [--dir DIR] [--json]\n"

typedef struct row {
    const char *name;
    char *names; /* comma-separated SANs */
    char *key;   /* "EC P-256" */
    char *ca;    /* the CA's host, or NULL */
    char not_after[32], renew[32];
    const char *why;    /* "ari", "lifetime", "backoff", "revoked", "broken" */
    const char *status; /* "valid", "due", "expired", "broken"; NULL: no
                           row (unreadable) */
    char days[24];
} row;

/* Whole days from now to t, rounded towards minus infinity. */
static long days_until(time_t t)
{
    double d = difftime(t, time(NULL)) / 86400.0;
    return d < 0 ? (long)d - (d != (long)d) : (long)d;
}

/* The "server" member of the version's meta.json, malloc'd, or NULL;
 * *refused after a message when the store refuses it as unsafe. */
static char *meta_server(leec_store *store, const char *name, bool *refused)
{
    char *text = NULL, *out = NULL;
    json_t *j = NULL;
    leec_code rc = leec_store_read_meta(store, name, &text);
    if (rc == LEEC_E_STORE) {
        fprintf(stderr, "leec: %s: %s\n", name, cli_store_error(store, rc));
        *refused = true;
    }
    if (rc != LEEC_OK)
        goto done;
    j = json_loads(text, 0, NULL);
    const char *s = json_string_value(json_object_get(j, "server"));
    if (s)
        out = strdup(s);
done:
    json_decref(j);
    free(text);
    return out;
}

static char *join_names(const leec_cert_info *ci)
{
    size_t len = 1;
    for (size_t i = 0; i < ci->nnames; i++)
        len += strlen(ci->names[i]) + 1;
    char *s = malloc(len);
    if (!s)
        return NULL;
    size_t at = 0;
    s[0] = '\0';
    for (size_t i = 0; i < ci->nnames; i++) {
        size_t n = strlen(ci->names[i]);
        if (i)
            s[at++] = ',';
        memcpy(s + at, ci->names[i], n);
        at += n;
        s[at] = '\0';
    }
    return s;
}

/* The order in progress of a certificate (the store's journal), as JSON:
 * its URL, the step reached and since when. The key stays in the store. */
static json_t *order_json(const leec_store_order *o)
{
    char since[32], updated[32];
    cli_iso_time((time_t)o->since, since, sizeof since);
    cli_iso_time((time_t)o->updated, updated, sizeof updated);
    return json_pack("{s:s, s:s, s:s, s:s}", "url", o->order_url, "step",
                     o->step, "since", since, "updated", updated);
}

static bool has_row(json_t *arr, const char *name)
{
    for (size_t k = 0; k < json_array_size(arr); k++) {
        const char *nm =
            json_string_value(json_object_get(json_array_get(arr, k), "name"));
        if (nm && strcmp(nm, name) == 0)
            return true;
    }
    return false;
}

/* A shared store's certificates queued (leec issue --queue) and not yet
 * issued: a row each, status "queued", and for the table a list after it.
 * false after a message. */
static bool list_queued(leec_store *store, json_t *arr, bool table)
{
    char **names = NULL;
    size_t n = 0;
    bool said = false;
    leec_code rc = leec_store_wanted_list(store, &names, &n);
    if (rc != LEEC_OK) {
        fprintf(stderr, "leec: cannot list the queued certificates: %s\n",
                cli_store_error(store, rc));
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        leec_store_version v;
        rc = leec_store_read_version(store, names[i], 0, &v);
        leec_store_version_clear(&v);
        char *text = NULL;
        json_error_t jerr;
        json_t *doc = NULL;
        if (rc != LEEC_E_NOT_FOUND ||
            leec_store_wanted_read(store, names[i], &text) != LEEC_OK ||
            !(doc = json_loads(text, 0, &jerr))) {
            free(text);
            continue; /* issued, or gone meanwhile */
        }
        free(text);
        json_t *sans = json_object_get(doc, "names");
        if (table) {
            if (!said)
                printf("\nQUEUED (a node of the fleet orders them)\n");
            said = true;
            printf("%s ", names[i]);
            for (size_t k = 0; k < json_array_size(sans); k++) {
                const char *nm = json_string_value(json_array_get(sans, k));
                printf(" %s", nm ? nm : "?");
            }
            putchar('\n');
        } else if (!has_row(arr, names[i])) {
            json_array_append_new(arr,
                                  json_pack("{s:s, s:O, s:s}", "name", names[i],
                                            "names", sans, "status", "queued"));
        }
        json_decref(doc);
    }
    leec_store_list_free(names, n);
    return true;
}

/* Adds the orders in progress to the rows of arr (a row of its own for a
 * certificate without a version yet, status "ordering") and, for the
 * table, prints them after it. false after a message. */
static bool list_orders(leec_store *store, json_t *arr, bool table)
{
    char **names = NULL;
    size_t n = 0;
    bool ok = true, said = false;
    leec_code rc = leec_store_order_list(store, &names, &n);
    if (rc != LEEC_OK) {
        fprintf(stderr, "leec: cannot list the orders in progress: %s\n",
                cli_store_error(store, rc));
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        leec_store_order o;
        rc = leec_store_order_read(store, names[i], &o);
        if (rc == LEEC_E_NOT_FOUND)
            continue; /* finished meanwhile */
        if (rc != LEEC_OK) {
            fprintf(stderr, "leec: %s: cannot read its order in progress: %s\n",
                    names[i], cli_store_error(store, rc));
            ok = false;
            continue;
        }
        if (table) {
            char since[32];
            cli_iso_time((time_t)o.since, since, sizeof since);
            if (!said)
                printf("\nORDERS IN PROGRESS (the next run takes them up)\n");
            said = true;
            printf("%s  since %s  %s  %s\n", names[i], since, o.step,
                   o.order_url);
        } else {
            json_t *jrow = NULL;
            for (size_t k = 0; k < json_array_size(arr) && !jrow; k++) {
                json_t *r = json_array_get(arr, k);
                const char *nm = json_string_value(json_object_get(r, "name"));
                if (nm && strcmp(nm, names[i]) == 0)
                    jrow = r;
            }
            if (!jrow) {
                json_t *sans = json_array();
                for (size_t k = 0; k < o.nnames; k++)
                    json_array_append_new(sans, json_string(o.names[k]));
                jrow = json_pack("{s:s, s:o, s:s}", "name", names[i], "names",
                                 sans, "status", "ordering");
                json_array_append_new(arr, jrow);
            }
            json_object_set_new(jrow, "order", order_json(&o));
        }
        leec_store_order_clear(&o);
    }
    leec_store_list_free(names, n);
    return ok;
}

static int width(int w, const char *s)
{
    int n = (int)strlen(s);
    return n > w ? n : w;
}

int cmd_list(int argc, char **argv)
{
    static const cli_cmd cmd = {.shortopts = "h",
                                .longopts = cli_dir_json_options,
                                .take = cli_take_dir_json,
                                .usage = LIST_USAGE};
    cli_dir_json a = {0};
    char **names = NULL;
    size_t n = 0;
    bool failed = false;
    int status;
    leec_code rc;
    leec_store *store = NULL;
    row *rows = NULL;
    json_t *arr = NULL;

    if ((status = cli_getopt(&cmd, argc, argv, &a)) != 0) {
        status = status < 0 ? 0 : status;
        goto done;
    }
    status = EXIT_USAGE;
    if (optind != argc) {
        fputs(LIST_USAGE, stderr);
        goto done;
    }
    status = 1;
    if (!a.dir && !(a.dir = cli_default_dir())) {
        fputs("leec: no state folder (set --dir)\n", stderr);
        goto done;
    }
    if (!(store = cli_store_open(a.dir)))
        goto done;
    if ((rc = leec_store_list(store, &names, &n)) != LEEC_OK) {
        fprintf(stderr, "leec: cannot list %s: %s\n", a.dir, leec_strerror(rc));
        goto done;
    }
    if (!(arr = json_array()) || (n && !(rows = calloc(n, sizeof *rows)))) {
        fputs("leec: out of memory\n", stderr);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        char *pem = NULL, *server = NULL;
        leec_cert_info *ci = NULL;
        row *r = &rows[i];
        r->name = names[i];
        /* The same plan leec renew and the daemon follow. */
        leec_renewal_plan *pl = NULL;
        if ((rc = leec_store_renewal_plan(store, names[i], &pl)) != LEEC_OK) {
            fprintf(stderr, "leec: %s: cannot read it: %s\n", names[i],
                    cli_store_error(store, rc));
            failed = true;
            continue;
        }
        if (leec_store_read_cert(store, names[i], &pem) == LEEC_OK &&
            leec_cert_info_from_pem(pem, strlen(pem), &ci) != LEEC_OK)
            ci = NULL;
        free(pem);
        server = meta_server(store, names[i], &failed);
        time_t renew = pl->due, now = time(NULL);
        r->why = pl->why == LEEC_DUE_ARI       ? "ari"
                 : pl->why == LEEC_DUE_REVOKED ? "revoked"
                 : pl->why == LEEC_DUE_BROKEN  ? "broken"
                                               : "lifetime";
        if (pl->retry_at > renew) {
            renew = pl->retry_at;
            r->why = "backoff";
        }
        r->status = pl->broken             ? "broken"
                    : pl->not_after <= now ? "expired"
                    : renew <= now         ? "due"
                                           : "valid";
        if (pl->broken) {
            /* Said on stderr too, and in the exit status: a server cannot
             * use it, and renew replaces it. */
            fprintf(stderr,
                    "leec: %s: broken: %s (leec renew or leec issue orders "
                    "a new version)\n",
                    names[i], pl->broken);
            failed = true;
        }
        long left = ci ? days_until(ci->not_after) : 0;
        char nb[32] = "";
        if (ci) {
            cli_iso_time(ci->not_before, nb, sizeof nb);
            cli_iso_time(ci->not_after, r->not_after, sizeof r->not_after);
            snprintf(r->days, sizeof r->days, "%ld", left);
            r->names = join_names(ci);
            if (asprintf(&r->key, "%s %s", ci->key_type, ci->key_detail) < 0)
                r->key = NULL;
        } else {
            snprintf(r->not_after, sizeof r->not_after, "-");
            snprintf(r->days, sizeof r->days, "-");
        }
        cli_iso_time(renew, r->renew, sizeof r->renew);
        json_t *sans = json_array();
        for (size_t k = 0; ci && k < ci->nnames; k++)
            json_array_append_new(sans, json_string(ci->names[k]));
        json_array_append_new(
            arr,
            json_pack("{s:s, s:o, s:s?, s:s?, s:i, s:s?, s:s?, s:o, s:s, s:s, "
                      "s:s, s:s, s:o}",
                      "name", names[i], "names", sans, "key_type",
                      ci ? ci->key_type : NULL, "key_detail",
                      ci ? ci->key_detail : NULL, "key_bits",
                      ci ? ci->key_bits : 0, "not_before", ci ? nb : NULL,
                      "not_after", ci ? r->not_after : NULL, "days_left",
                      ci ? json_integer((json_int_t)left) : json_null(),
                      "next_renewal", r->renew, "renewal_reason", r->why,
                      "renewal_rule", leec_renewal_plan_rule(pl), "status",
                      r->status, "ca",
                      server ? json_string(server) : json_null()));
        json_t *row_j = json_array_get(arr, json_array_size(arr) - 1);
        char t1[32], t2[32];
        if (row_j && pl->window_end) {
            cli_iso_time(pl->window_start, t1, sizeof t1);
            cli_iso_time(pl->window_end, t2, sizeof t2);
            json_object_set_new(
                row_j, "ari_window",
                json_pack("{s:s, s:s}", "start", t1, "end", t2));
        }
        if (row_j && pl->ari) {
            cli_iso_time(pl->next_check, t1, sizeof t1);
            json_object_set_new(row_j, "ari_next_check", json_string(t1));
        }
        if (row_j && pl->broken)
            json_object_set_new(row_j, "broken", json_string(pl->broken));
        if (row_j && pl->ari_ignored)
            json_object_set_new(row_j, "ari_ignored", json_true());
        if (row_j && pl->revoked_at) {
            cli_iso_time(pl->revoked_at, t1, sizeof t1);
            json_object_set_new(row_j, "revoked", json_string(t1));
        }
        if (row_j && pl->explanation_url)
            json_object_set_new(row_j, "ari_explanation",
                                json_string(pl->explanation_url));
        if (row_j && pl->failures) {
            cli_iso_time(pl->retry_at, t1, sizeof t1);
            json_object_set_new(row_j, "failures",
                                json_pack("{s:i, s:s, s:s?}", "count",
                                          (int)pl->failures, "retry_at", t1,
                                          "last_error", pl->last_error));
        }
        leec_renewal_plan_free(pl);
        /* The table shows the CA's host, the JSON its whole URL. */
        if (server) {
            const char *h = strstr(server, "://");
            h = h ? h + 3 : server;
            r->ca = strndup(h, strcspn(h, "/"));
        }
        free(server);
        leec_cert_info_free(ci);
    }
    if (a.json) {
        if (!list_orders(store, arr, false) || !list_queued(store, arr, false))
            failed = true;
        cli_print_json(arr);
    } else {
        int wn = 4, ws = 5, wk = 3;
        for (size_t i = 0; i < n; i++) {
            if (!rows[i].status)
                continue;
            wn = width(wn, rows[i].name);
            ws = width(ws, rows[i].names ? rows[i].names : "?");
            wk = width(wk, rows[i].key ? rows[i].key : "?");
        }
        printf("%-*s  %-*s  %-*s  %-20s  %9s  %-7s  %-20s  %-8s  %s\n", wn,
               "NAME", ws, "NAMES", wk, "KEY", "NOT AFTER", "DAYS LEFT",
               "STATUS", "NEXT RENEWAL", "WHY", "CA");
        for (size_t i = 0; i < n; i++) {
            if (!rows[i].status)
                continue;
            printf("%-*s  %-*s  %-*s  %-20s  %9s  %-7s  %-20s  %-8s  %s\n", wn,
                   rows[i].name, ws, rows[i].names ? rows[i].names : "?", wk,
                   rows[i].key ? rows[i].key : "?", rows[i].not_after,
                   rows[i].days, rows[i].status, rows[i].renew, rows[i].why,
                   rows[i].ca ? rows[i].ca : "-");
        }
        if (!list_orders(store, arr, true) || !list_queued(store, arr, true))
            failed = true;
    }
    status = failed ? 1 : 0;
done:
    for (size_t i = 0; rows && i < n; i++) {
        free(rows[i].names);
        free(rows[i].key);
        free(rows[i].ca);
    }
    free(rows);
    json_decref(arr);
    leec_store_list_free(names, n);
    leec_store_free(store);
    free(a.dir);
    return status;
}
