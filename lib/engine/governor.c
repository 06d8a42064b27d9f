#define _GNU_SOURCE
#include "engine/governor.h"

#include <stdlib.h>
#include <string.h>

#define PAUSE_DEFAULT_S 60 /* a 429/503 without Retry-After */

/* Timestamps of events inside a sliding window. */
typedef struct stamps {
    int64_t *v;
    size_t n, cap;
} stamps;

typedef struct domain_entry {
    char *name;
    stamps s;
} domain_entry;

struct leec_governor {
    leec_gov_limits lim;
    unsigned in_flight;
    double tokens;
    int64_t refill_ms;
    int64_t paused_until;
    stamps orders;
    domain_entry *dom; /* open addressing, power-of-two size */
    size_t ndom, capdom;
};

const char *leec_wait_reason_name(leec_wait_reason r)
{
    switch (r) {
    case LEEC_WAIT_NONE:
        return "not waiting";
    case LEEC_WAIT_PARALLEL:
        return "parallel limit";
    case LEEC_WAIT_RATE:
        return "request rate";
    case LEEC_WAIT_PAUSED:
        return "CA pause";
    case LEEC_WAIT_ORDER_BUDGET:
        return "new-order budget";
    case LEEC_WAIT_DOMAIN_BUDGET:
        return "per-domain budget";
    case LEEC_WAIT_LOCK:
        return "locked by another process";
    }
    return "unknown";
}

leec_governor *Leec_gov_new(void)
{
    leec_governor *g = calloc(1, sizeof *g);
    if (g)
        g->refill_ms = -1;
    return g;
}

void Leec_gov_free(leec_governor *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->capdom; i++) {
        free(g->dom[i].name);
        free(g->dom[i].s.v);
    }
    free(g->dom);
    free(g->orders.v);
    free(g);
}

void Leec_gov_set_limits(leec_governor *g, const leec_gov_limits *l)
{
    double cap = l->rate > 0 ? (l->rate < 1 ? 1 : l->rate) : 0;
    if (l->rate != g->lim.rate) {
        /* A new rate starts with a full bucket; changing another limit
         * must not hand out a fresh burst. */
        g->tokens = cap;
        g->refill_ms = -1;
    } else if (g->tokens > cap) {
        g->tokens = cap;
    }
    g->lim = *l;
}

const leec_gov_limits *Leec_gov_limits_get(const leec_governor *g)
{
    return &g->lim;
}

unsigned Leec_gov_in_flight(const leec_governor *g)
{
    return g->in_flight;
}

/* Drops stamps older than the window; returns the count left. */
static size_t stamps_trim(stamps *s, int64_t now, int64_t window)
{
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i] > now - window)
            s->v[k++] = s->v[i];
    s->n = k;
    return k;
}

static int64_t stamps_oldest(const stamps *s)
{
    int64_t m = INT64_MAX;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i] < m)
            m = s->v[i];
    return m;
}

static bool stamps_push(stamps *s, int64_t t)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4;
        int64_t *v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return false;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = t;
    return true;
}

/* Removes the stamp t (the order's own reservation), else the newest. */
static void stamps_pop(stamps *s, int64_t t)
{
    if (!s->n)
        return;
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i] == t) {
            s->v[i] = s->v[--s->n];
            return;
        }
    }
    size_t m = 0;
    for (size_t i = 1; i < s->n; i++)
        if (s->v[i] > s->v[m])
            m = i;
    s->v[m] = s->v[--s->n];
}

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static domain_entry *dom_find(leec_governor *g, const char *name, bool add)
{
    if (add && (g->ndom + 1) * 2 > g->capdom) {
        size_t cap = g->capdom ? g->capdom * 2 : 64;
        domain_entry *nd = calloc(cap, sizeof *nd);
        if (!nd)
            return NULL;
        for (size_t i = 0; i < g->capdom; i++) {
            if (!g->dom[i].name)
                continue;
            size_t j = hash(g->dom[i].name) & (cap - 1);
            while (nd[j].name)
                j = (j + 1) & (cap - 1);
            nd[j] = g->dom[i];
        }
        free(g->dom);
        g->dom = nd;
        g->capdom = cap;
    }
    if (!g->capdom)
        return NULL;
    size_t j = hash(name) & (g->capdom - 1);
    while (g->dom[j].name) {
        if (strcmp(g->dom[j].name, name) == 0)
            return &g->dom[j];
        j = (j + 1) & (g->capdom - 1);
    }
    if (!add || !(g->dom[j].name = strdup(name)))
        return NULL;
    g->ndom++;
    return &g->dom[j];
}

static bool seen_before(const char *const *d, size_t i)
{
    for (size_t k = 0; k < i; k++)
        if (strcmp(d[k], d[i]) == 0)
            return true;
    return false;
}

leec_wait_reason Leec_gov_order_admit(leec_governor *g, int64_t now,
                                      const char *const *domains, size_t n,
                                      int64_t *until)
{
    *until = -1;
    if (g->lim.max_parallel && g->in_flight >= g->lim.max_parallel)
        return LEEC_WAIT_PARALLEL;
    if (g->paused_until > now) {
        *until = g->paused_until;
        return LEEC_WAIT_PAUSED;
    }
    if (g->lim.orders_per_window &&
        stamps_trim(&g->orders, now, g->lim.orders_window_ms) >=
            g->lim.orders_per_window) {
        *until = stamps_oldest(&g->orders) + g->lim.orders_window_ms;
        return LEEC_WAIT_ORDER_BUDGET;
    }
    if (g->lim.certs_per_domain) {
        for (size_t i = 0; i < n; i++) {
            domain_entry *e = dom_find(g, domains[i], false);
            if (e && stamps_trim(&e->s, now, g->lim.certs_window_ms) >=
                         g->lim.certs_per_domain) {
                *until = stamps_oldest(&e->s) + g->lim.certs_window_ms;
                return LEEC_WAIT_DOMAIN_BUDGET;
            }
        }
        for (size_t i = 0; i < n; i++) {
            if (seen_before(domains, i))
                continue;
            domain_entry *e = dom_find(g, domains[i], true);
            if (!e || !stamps_push(&e->s, now)) {
                /* Give back what this order charged so far. */
                for (size_t k = 0; k < i; k++) {
                    domain_entry *d = seen_before(domains, k)
                                          ? NULL
                                          : dom_find(g, domains[k], false);
                    if (d)
                        stamps_pop(&d->s, now);
                }
                return LEEC_WAIT_PARALLEL;
            }
        }
    }
    if (g->lim.orders_per_window && !stamps_push(&g->orders, now))
        return LEEC_WAIT_PARALLEL;
    g->in_flight++;
    return LEEC_WAIT_NONE;
}

bool Leec_gov_note(leec_governor *g, int64_t at, bool cert,
                   const char *const *domains, size_t n)
{
    if (!cert)
        return stamps_push(&g->orders, at);
    for (size_t i = 0; i < n; i++) {
        if (seen_before(domains, i))
            continue;
        domain_entry *e = dom_find(g, domains[i], true);
        if (!e || !stamps_push(&e->s, at))
            return false;
    }
    return true;
}

void Leec_gov_order_done(leec_governor *g, int64_t admitted,
                         const char *const *domains, size_t n, bool ordered,
                         bool issued)
{
    if (g->in_flight)
        g->in_flight--;
    if (!ordered && g->lim.orders_per_window)
        stamps_pop(&g->orders, admitted);
    if (issued || !g->lim.certs_per_domain)
        return;
    for (size_t i = 0; i < n; i++) {
        domain_entry *e =
            seen_before(domains, i) ? NULL : dom_find(g, domains[i], false);
        if (e)
            stamps_pop(&e->s, admitted);
    }
}

int64_t Leec_gov_request_admit(leec_governor *g, int64_t now,
                               leec_wait_reason *why)
{
    if (g->paused_until > now) {
        if (why)
            *why = LEEC_WAIT_PAUSED;
        return g->paused_until - now;
    }
    if (g->lim.rate <= 0)
        return 0;
    double cap = g->lim.rate < 1 ? 1 : g->lim.rate;
    if (g->refill_ms >= 0 && now > g->refill_ms) {
        g->tokens += (double)(now - g->refill_ms) * g->lim.rate / 1000.0;
        if (g->tokens > cap)
            g->tokens = cap;
    }
    g->refill_ms = now;
    if (g->tokens >= 1) {
        g->tokens -= 1;
        return 0;
    }
    if (why)
        *why = LEEC_WAIT_RATE;
    int64_t wait = (int64_t)((1 - g->tokens) * 1000.0 / g->lim.rate) + 1;
    return wait > 0 ? wait : 1;
}

int64_t Leec_gov_request_wait(const leec_governor *g, int64_t now)
{
    if (g->paused_until > now)
        return g->paused_until - now;
    if (g->lim.rate <= 0)
        return 0;
    double cap = g->lim.rate < 1 ? 1 : g->lim.rate;
    double tokens = g->tokens;
    if (g->refill_ms >= 0 && now > g->refill_ms) {
        tokens += (double)(now - g->refill_ms) * g->lim.rate / 1000.0;
        if (tokens > cap)
            tokens = cap;
    }
    if (tokens >= 1)
        return 0;
    int64_t wait = (int64_t)((1 - tokens) * 1000.0 / g->lim.rate) + 1;
    return wait > 0 ? wait : 1;
}

int64_t Leec_gov_on_response(leec_governor *g, int64_t now, long status,
                             long retry_after_s)
{
    if (status != 429 && status != 503)
        return -1;
    /* Without Retry-After: a minute for "too many requests", a few seconds
     * for "unavailable" (usually a restart). */
    long s = retry_after_s >= 0 ? retry_after_s
             : status == 429    ? PAUSE_DEFAULT_S
                                : 10;
    int64_t until = now + (int64_t)s * 1000;
    if (until <= g->paused_until)
        return -1;
    g->paused_until = until;
    return until;
}

int64_t Leec_gov_paused_until(const leec_governor *g, int64_t now)
{
    return g->paused_until > now ? g->paused_until : 0;
}
