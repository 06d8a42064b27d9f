/* The governor's budgets across runs: new orders and certificates issued
 * are recorded in the store's budget log (include/leec/store.h, ABI 4),
 * and a context counts what the log holds before its first order, so that
 * two runs in a row (or two processes on one store) share one budget as
 * they share one account at the CA. The governor itself stays pure logic
 * (governor.c); this file is its link to the store and the clock. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/internal.h"
#include "store/store.h"
#include "util/json.h"

#define DAY_S         (24 * 3600)
#define LOG_KEEP_S    (7 * DAY_S) /* at least Let's Encrypt's windows */
#define PRUNE_EVERY_S 3600
#define KIND_ORDER    "order"
#define KIND_CERT     "cert"

/* How long the log keeps entries: the longer window, and at least a week
 * (a later run may turn on a budget this one did not have). */
static int64_t keep_s(const leec_gov_limits *l)
{
    int64_t k = LOG_KEEP_S;
    if (l->orders_window_ms / 1000 > k)
        k = l->orders_window_ms / 1000;
    if (l->certs_window_ms / 1000 > k)
        k = l->certs_window_ms / 1000;
    return k;
}

/* The store and CA id the log is kept under, or false (no log). ca_id is
 * the caller's to free. */
static bool log_of(leec_ctx *ctx, leec_store **st, char **ca_id)
{
    *st = leec_ctx_get_store(ctx);
    *ca_id = NULL;
    if (!Leec_store_has_budget(*st) || !Leec_ctx_server(ctx))
        return false;
    *ca_id = Leec_ca_id(Leec_ctx_server(ctx));
    return *ca_id != NULL;
}

static void seed_entry(leec_governor *g, int64_t at_ms, const char *text)
{
    leec_json *o = NULL;
    if (Leec_json_parse_object(text, strlen(text), &o) != LEEC_OK)
        return; /* not ours: skipped, as the store's other records are */
    const char *kind = Leec_json_str(o, "kind");
    const leec_json *d = Leec_json_array(o, "domains");
    size_t n = d ? Leec_json_len(d) : 0;
    const char **doms = n ? calloc(n, sizeof *doms) : NULL;
    size_t k = 0;
    for (size_t i = 0; doms && i < n; i++) {
        const char *s = Leec_json_as_str(Leec_json_at(d, i));
        if (s && *s)
            doms[k++] = s;
    }
    if (kind && strcmp(kind, KIND_ORDER) == 0)
        Leec_gov_note(g, at_ms, false, NULL, 0);
    else if (kind && strcmp(kind, KIND_CERT) == 0 && k)
        Leec_gov_note(g, at_ms, true, doms, k);
    free(doms);
    Leec_json_free(o);
}

void Leec_budget_seed(leec_ctx *ctx)
{
    struct leec_budget_log *b = Leec_ctx_budget(ctx);
    leec_governor *g = Leec_ctx_gov(ctx);
    const leec_gov_limits *l = Leec_gov_limits_get(g);
    leec_store *st = NULL;
    char *ca_id = NULL, **entries = NULL;
    int64_t *whens = NULL;
    size_t n = 0;
    if (b->seeded)
        return;
    b->seeded = true;
    if (!l->orders_per_window && !l->certs_per_domain)
        return;
    if (!log_of(ctx, &st, &ca_id))
        return;
    int64_t now = (int64_t)time(NULL), mono = Leec_now_ms(ctx);
    leec_code rc = Leec_store_budget_read(st, ca_id, now - keep_s(l), &entries,
                                          &whens, &n);
    if (rc != LEEC_OK)
        Leec_log(ctx, LEEC_LOG_WARN,
                 "cannot read the store's budget log (%s): the budgets count "
                 "this run's orders only",
                 leec_strerror(rc));
    for (size_t i = 0; i < n; i++) {
        /* Their time on the context's (monotonic) clock. */
        seed_entry(g, mono - (now - whens[i]) * 1000, entries[i]);
        free(entries[i]);
    }
    if (n)
        Leec_log(ctx, LEEC_LOG_INFO,
                 "budgets: %zu earlier orders and certificates counted from "
                 "the store",
                 n);
    free(entries);
    free(whens);
    free(ca_id);
}

void Leec_budget_note(leec_ctx *ctx, bool cert, const char *const *regdoms,
                      size_t n)
{
    struct leec_budget_log *b = Leec_ctx_budget(ctx);
    const leec_gov_limits *l = Leec_gov_limits_get(Leec_ctx_gov(ctx));
    leec_store *st = NULL;
    char *ca_id = NULL, *text = NULL;
    /* A run without budgets spares the write (a file and its fsync, or a
     * statement): only runs with budgets count, and are counted. */
    if ((!l->orders_per_window && !l->certs_per_domain) ||
        !log_of(ctx, &st, &ca_id))
        return;
    leec_json *o = Leec_json_new_object(), *d = Leec_json_new_array();
    bool ok =
        o && d && Leec_json_set_str(o, "kind", cert ? KIND_CERT : KIND_ORDER);
    for (size_t i = 0; ok && i < n; i++)
        ok = Leec_json_push_str(d, regdoms[i]);
    if (ok) {
        ok = Leec_json_set(o, "domains", d);
        d = NULL;
    }
    if (ok)
        text = Leec_json_dump(o, false);
    Leec_json_free(d);
    Leec_json_free(o);
    int64_t now = (int64_t)time(NULL), forget = 0;
    /* Forgetting reads the whole log: once an hour is enough. */
    if (now - b->pruned >= PRUNE_EVERY_S) {
        forget = now - keep_s(l);
        b->pruned = now;
    }
    leec_code rc = text ? Leec_store_budget_add(st, ca_id, now, text, forget)
                        : LEEC_E_NOMEM;
    if (rc != LEEC_OK)
        Leec_log(ctx, LEEC_LOG_WARN,
                 "cannot record the %s in the store's budget log: %s",
                 cert ? "certificate" : "new order", leec_strerror(rc));
    free(text);
    free(ca_id);
}

/* "3 h", "7 days", "90 s": a window for a message. */
static void window_text(int64_t ms, char *out, size_t len)
{
    int64_t s = ms / 1000;
    if (s >= DAY_S && s % DAY_S == 0)
        snprintf(out, len, "%lld day%s", (long long)(s / DAY_S),
                 s == DAY_S ? "" : "s");
    else if (s >= 3600 && s % 3600 == 0)
        snprintf(out, len, "%lld h", (long long)(s / 3600));
    else
        snprintf(out, len, "%lld s", (long long)s);
}

void Leec_budget_say(leec_ctx *ctx, const char *cert_name, leec_wait_reason why,
                     int64_t until_ms)
{
    struct leec_budget_log *b = Leec_ctx_budget(ctx);
    const leec_gov_limits *l = Leec_gov_limits_get(Leec_ctx_gov(ctx));
    if (b->said_why == (int)why && b->said_until == until_ms)
        return;
    b->said_why = (int)why;
    b->said_until = until_ms;
    char win[32], end[40] = "later";
    bool orders = why == LEEC_WAIT_ORDER_BUDGET;
    window_text(orders ? l->orders_window_ms : l->certs_window_ms, win,
                sizeof win);
    if (until_ms >= 0) {
        /* Rounded up to the minute shown: never an end that has passed. */
        time_t t =
            time(NULL) + (time_t)((until_ms - Leec_now_ms(ctx) + 999) / 1000);
        t = (t + 59) / 60 * 60;
        struct tm tm;
        if (gmtime_r(&t, &tm))
            strftime(end, sizeof end, "%Y-%m-%d %H:%M UTC", &tm);
    }
    if (orders)
        Leec_log(ctx, LEEC_LOG_WARN,
                 "budget of %u orders per %s reached; waiting until %s",
                 l->orders_per_window, win, end);
    else
        Leec_log(ctx, LEEC_LOG_WARN,
                 "%s: budget of %u certificates per registered domain per "
                 "%s reached; waiting until %s",
                 cert_name, l->certs_per_domain, win, end);
}
