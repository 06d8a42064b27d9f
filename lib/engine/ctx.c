/* The context: settings, the shared transport and the event loop. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "util/b64url.h"
#include "engine/internal.h"
#include "util/loop.h"
#include "engine/workers.h"
#include "net/http01_server.h"
#include "store/store.h"
#include "crypto/x509.h"

const char *leec_server_url(const char *s)
{
    if (!s)
        return NULL;
    if (strcmp(s, "letsencrypt") == 0)
        return LEEC_LETSENCRYPT_URL;
    if (strcmp(s, "letsencrypt-staging") == 0)
        return LEEC_LETSENCRYPT_STAGING_URL;
    return s;
}

leec_ctx *leec_ctx_new(void)
{
    leec_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return NULL;
    ctx->base.log = Leec_logger_new();
    ctx->base.loop = Leec_loop_new();
    ctx->server = strdup(LEEC_LETSENCRYPT_URL);
    ctx->account_key_type = LEEC_KEY_EC256;
    ctx->gov = Leec_gov_new();
    ctx->x509_cache = Leec_x509_cache_new();
    ctx->max_pause_s = 3600;
    ctx->order_timeout_s = LEEC_ORDER_TIMEOUT_DEFAULT_S;
    ctx->lock_timeout_s = LEEC_LOCK_TIMEOUT_DEFAULT_S;
    ctx->acct_retry_at = -1;
    ctx->acct_lock_since = -1;
    if (!ctx->base.log || !ctx->base.loop || !ctx->server || !ctx->gov ||
        !ctx->x509_cache) {
        leec_ctx_free(ctx);
        return NULL;
    }
    leec_gov_limits lim = {.max_parallel = 10};
    Leec_gov_set_limits(ctx->gov, &lim);
    return ctx;
}

void leec_ctx_free(leec_ctx *ctx)
{
    if (!ctx)
        return;
    while (ctx->nagents)
        Leec_agent_destroy(ctx->agents[ctx->nagents - 1]);
    free(ctx->agents);
    Leec_ctx_ops_free_all(ctx);
    Leec_eab_clear(ctx);
    Leec_ctx_free_solvers(ctx); /* after the agents, before the loop */
    Leec_account_clear(ctx);
    /* Their jobs cancelled by now: the threads end, nothing completes. */
    Leec_workers_free(ctx->workers);
    Leec_acme_drop_deferred(ctx);
    Leec_http_free(ctx->http);
    Leec_http01_server_free(ctx->http01);
    Leec_nonce_clear(&ctx->nonces);
    Leec_ctx_tokens_free(ctx);
    leec_store_free(ctx->store);
    Leec_gov_free(ctx->gov);
    Leec_x509_cache_free(ctx->x509_cache);
    Leec_loop_free(ctx->base.loop);
    free(ctx->server);
    free(ctx->ca_bundle);
    free(ctx->contact);
    Leec_logger_free(ctx->base.log);
    free(ctx);
}

int leec_ctx_get_fd(leec_ctx *ctx)
{
    /* The transport joins this set when it is created, so asking for the
     * descriptor early does not freeze the CA settings. */
    return Leec_loop_fd(ctx);
}

static bool is_letsencrypt(const char *url)
{
    return strcmp(url, LEEC_LETSENCRYPT_URL) == 0 ||
           strcmp(url, LEEC_LETSENCRYPT_STAGING_URL) == 0;
}

/* Let's Encrypt's published limits, unless the caller chose otherwise. */
static void apply_ca_defaults(leec_ctx *ctx)
{
    if (!is_letsencrypt(ctx->server))
        return;
    leec_gov_limits l = *Leec_gov_limits_get(ctx->gov);
    if (!ctx->rate_set)
        l.rate = 20;
    if (!ctx->orders_set) {
        l.orders_per_window = 300;
        l.orders_window_ms = (int64_t)3 * 3600 * 1000;
    }
    if (!ctx->domains_set) {
        l.certs_per_domain = 50;
        l.certs_window_ms = (int64_t)7 * 86400 * 1000;
    }
    Leec_gov_set_limits(ctx->gov, &l);
}

void leec_ctx_set_max_parallel(leec_ctx *ctx, unsigned n)
{
    leec_gov_limits l = *Leec_gov_limits_get(ctx->gov);
    l.max_parallel = n;
    Leec_gov_set_limits(ctx->gov, &l);
    ctx->wake_agents = true;
}

void leec_ctx_set_rate_limit(leec_ctx *ctx, double per_second)
{
    leec_gov_limits l = *Leec_gov_limits_get(ctx->gov);
    l.rate = per_second > 0 ? per_second : 0;
    Leec_gov_set_limits(ctx->gov, &l);
    ctx->rate_set = true;
}

void leec_ctx_set_order_budget(leec_ctx *ctx, unsigned orders,
                               unsigned window_s)
{
    leec_gov_limits l = *Leec_gov_limits_get(ctx->gov);
    l.orders_per_window = window_s ? orders : 0;
    l.orders_window_ms = (int64_t)window_s * 1000;
    Leec_gov_set_limits(ctx->gov, &l);
    ctx->orders_set = true;
}

void leec_ctx_set_domain_budget(leec_ctx *ctx, unsigned certs,
                                unsigned window_s)
{
    leec_gov_limits l = *Leec_gov_limits_get(ctx->gov);
    l.certs_per_domain = window_s ? certs : 0;
    l.certs_window_ms = (int64_t)window_s * 1000;
    Leec_gov_set_limits(ctx->gov, &l);
    ctx->domains_set = true;
}

void leec_ctx_set_max_pause(leec_ctx *ctx, unsigned seconds)
{
    ctx->max_pause_s = seconds;
}

void leec_ctx_set_order_timeout(leec_ctx *ctx, unsigned seconds)
{
    ctx->order_timeout_s = seconds ? seconds : LEEC_ORDER_TIMEOUT_DEFAULT_S;
}

void leec_ctx_set_lock_timeout(leec_ctx *ctx, unsigned seconds)
{
    ctx->lock_timeout_s = seconds;
}

void leec_ctx_set_hook_fn(leec_ctx *ctx, leec_hook_fn fn, void *userdata)
{
    ctx->hook_fn = fn;
    ctx->hook_ud = userdata;
}

time_t leec_ctx_paused_until(leec_ctx *ctx)
{
    /* The wall-clock end computed once when the pause began, so that every
     * caller (and the log line) reports the same second. */
    return Leec_gov_paused_until(ctx->gov, Leec_now_ms(ctx)) ? ctx->pause_wall
                                                             : 0;
}

unsigned long leec_ctx_connection_count(leec_ctx *ctx)
{
    return ctx->http ? Leec_http_connection_count(ctx->http) : 0;
}

static bool started(const leec_ctx *ctx)
{
    return ctx->http != NULL;
}

leec_code leec_ctx_set_server(leec_ctx *ctx, const char *url)
{
    if (!url)
        return LEEC_E_INVALID_ARG;
    if (started(ctx))
        return LEEC_E_STATE;
    url = leec_server_url(url);
    if (!Leec_url_ok(url))
        return LEEC_E_INSECURE_URL;
    char *s = strdup(url);
    if (!s)
        return LEEC_E_NOMEM;
    free(ctx->server);
    ctx->server = s;
    return LEEC_OK;
}

leec_code leec_ctx_set_ca_bundle(leec_ctx *ctx, const char *path)
{
    if (started(ctx))
        return LEEC_E_STATE;
    char *s = NULL;
    if (path && !(s = strdup(path)))
        return LEEC_E_NOMEM;
    free(ctx->ca_bundle);
    ctx->ca_bundle = s;
    return LEEC_OK;
}

void leec_ctx_set_store(leec_ctx *ctx, leec_store *store)
{
    if (ctx->store != store)
        leec_store_free(ctx->store);
    ctx->store = store;
    /* What the store refuses (an unsafe state folder) is logged. */
    if (store)
        store->log_ctx = ctx;
}

leec_store *leec_ctx_get_store(leec_ctx *ctx)
{
    return ctx->store;
}

void leec_ctx_set_log(leec_ctx *ctx, leec_log_fn fn, void *userdata,
                      leec_log_level level)
{
    Leec_logger_set(ctx->base.log, fn, userdata, level);
}

void leec_ctx_set_account_mode(leec_ctx *ctx, leec_account_mode mode)
{
    ctx->account_mode = mode;
}

leec_code leec_ctx_set_contact(leec_ctx *ctx, const char *email)
{
    char *s = NULL;
    if (email) {
        const char *at = strchr(email, '@');
        if (!at || at == email || !at[1] || strlen(email) > 254)
            return LEEC_E_INVALID_ARG;
        for (const char *p = email; *p; p++)
            if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == ',' ||
                *p == '<' || *p == '>')
                return LEEC_E_INVALID_ARG;
        if (!(s = strdup(email)))
            return LEEC_E_NOMEM;
    }
    free(ctx->contact);
    ctx->contact = s;
    return LEEC_OK;
}

void leec_ctx_set_agree_tos(leec_ctx *ctx, bool agree)
{
    ctx->agree_tos = agree;
}

const char *leec_ctx_terms_url(leec_ctx *ctx)
{
    return ctx->dir.terms;
}

void leec_ctx_set_account_key_type(leec_ctx *ctx, leec_key_type type)
{
    ctx->account_key_type = type;
}

static const char *http01_lookup(void *ud, const char *token)
{
    leec_ctx *ctx = ud;
    const char *ka = Leec_tokens_find(Leec_ctx_tokens(ctx), token);
    Leec_log(ctx, LEEC_LOG_DEBUG, "http-01 responder: token %s %s", token,
             ka ? "served" : "unknown");
    return ka;
}

leec_code leec_ctx_listen_http01(leec_ctx *ctx, const char *addr)
{
    if (!addr)
        return LEEC_E_INVALID_ARG;
    leec_http01_server *srv = NULL;
    leec_code rc = Leec_http01_server_new(addr, http01_lookup, ctx, &srv);
    if (rc != LEEC_OK)
        return rc;
    Leec_http01_server_free(ctx->http01); /* closing drops it from epfd */
    ctx->http01 = srv;
    Leec_loop_add_fd(ctx, Leec_http01_server_fd(srv));
    Leec_log(ctx, LEEC_LOG_INFO, "http-01 responder listening on %s", addr);
    return LEEC_OK;
}

leec_code leec_ctx_http01_key_authorization(leec_ctx *ctx, const char *token,
                                            char **out)
{
    if (!token || !out)
        return LEEC_E_INVALID_ARG;
    *out = NULL;
    if (!Leec_b64url_valid(token, LEEC_MAX_TOKEN))
        return LEEC_E_NOT_FOUND;
    const char *ka = Leec_tokens_find(Leec_ctx_tokens(ctx), token);
    if (!ka)
        return LEEC_E_NOT_FOUND;
    return (*out = strdup(ka)) ? LEEC_OK : LEEC_E_NOMEM;
}

/* The transport is created on first use, so that settings made before the
 * first agent starts (CA bundle) apply to it. */
leec_http *Leec_ctx_http(leec_ctx *ctx)
{
    if (ctx->http)
        return ctx->http;
    leec_http_opts o = {
        .ca_bundle = ctx->ca_bundle,
        .user_agent = "leec/" LEEC_VERSION,
        .max_body = LEEC_MAX_BODY,
        .connect_timeout_ms = 10000,
        .timeout_ms = 30000,
    };
    ctx->http = Leec_http_new(&o);
    if (ctx->http) {
        Leec_loop_add_fd(ctx, Leec_http_fd(ctx->http));
        apply_ca_defaults(ctx);
    }
    return ctx->http;
}

unsigned long leec_ctx_request_count(leec_ctx *ctx)
{
    return ctx->http ? Leec_http_request_count(ctx->http) : 0;
}

static void reap(leec_ctx *ctx)
{
    if (!ctx->reap)
        return;
    ctx->reap = false;
    for (size_t i = ctx->nagents; i-- > 0;)
        if (Leec_agent_zombie(ctx->agents[i]))
            Leec_agent_destroy(ctx->agents[i]);
}

/* Wakes the agents (oldest first) after the account, the directory or an
 * order slot came: each looks again, in its own driver. */
static void wake_all(leec_ctx *ctx)
{
    ctx->wake_agents = false;
    for (size_t i = 0; i < ctx->nagents; i++)
        Leec_agent_wake(ctx->agents[i]);
}

leec_code leec_ctx_perform(leec_ctx *ctx, int *running)
{
    leec_code rc = LEEC_OK;
    ctx->depth++;
    if (ctx->http)
        rc = Leec_http_perform(ctx->http);
    if (ctx->http01)
        Leec_http01_server_run(ctx->http01);
    Leec_loop_run(ctx);
    int64_t now = Leec_now_ms(ctx);
    if (ctx->acct_retry_at >= 0 && ctx->acct_retry_at <= now)
        Leec_account_on_timer(ctx);
    /* Index loop: timers may add requests but never add agents. */
    for (size_t i = 0; i < ctx->nagents; i++) {
        leec_agent *a = ctx->agents[i];
        int64_t d = Leec_agent_deadline(a);
        if (d >= 0 && d <= now)
            Leec_agent_on_timer(a);
    }
    if (ctx->wake_agents)
        wake_all(ctx);
    if (ctx->ops)
        Leec_ctx_ops_perform(ctx);
    if (ctx->deferred)
        (void)Leec_acme_release(ctx);
    /* Requests started above go out now rather than after the next wait. */
    if (ctx->http && rc == LEEC_OK)
        rc = Leec_http_perform(ctx->http);
    ctx->depth--;
    if (ctx->depth == 0)
        reap(ctx);
    if (running) {
        int n = 0;
        for (size_t i = 0; i < ctx->nagents; i++)
            n += Leec_agent_running(ctx->agents[i]);
        /* A record still being removed keeps the loop going: callers stop
         * when nothing runs, and must not leave DNS records behind. */
        *running = n + (int)ctx->pending_ops + (ctx->cleanups > 0);
    }
    return rc;
}

static void earliest(long *best, int64_t deadline, int64_t now)
{
    if (deadline < 0)
        return;
    long t = deadline <= now ? 0 : (long)(deadline - now);
    if (*best < 0 || t < *best)
        *best = t;
}

long leec_ctx_timeout_ms(leec_ctx *ctx)
{
    int64_t now = Leec_now_ms(ctx);
    long best = -1;
    if (ctx->wake_agents || Leec_ctx_ops_due(ctx))
        return 0;
    for (size_t i = 0; i < ctx->nagents; i++)
        earliest(&best, Leec_agent_deadline(ctx->agents[i]), now);
    earliest(&best, ctx->acct_retry_at, now);
    earliest(&best, Leec_loop_next_timer(ctx), now);
    earliest(&best, Leec_acme_next_release(ctx), now);
    if (ctx->http) {
        long t = Leec_http_timeout_ms(ctx->http);
        if (t >= 0 && (best < 0 || t < best))
            best = t;
    }
    if (ctx->http01) {
        long t = Leec_http01_server_timeout_ms(ctx->http01);
        if (t >= 0 && (best < 0 || t < best))
            best = t;
    }
    return best;
}

leec_code leec_ctx_poll(leec_ctx *ctx, int timeout_ms)
{
    /* A wait, nothing more: the transport comes with the first agent or
     * operation, and its descriptor joins epfd then. */
    long t = leec_ctx_timeout_ms(ctx);
    if (t < 0 || (timeout_ms >= 0 && t > timeout_ms))
        t = timeout_ms;
    if (t < 0)
        t = 1000; /* nothing scheduled at all: look again in a while */
    return Leec_loop_wait(ctx, (int)t);
}

leec_code leec_ctx_run(leec_ctx *ctx)
{
    for (;;) {
        int running = 0;
        leec_code rc = leec_ctx_perform(ctx, &running);
        if (rc != LEEC_OK)
            return rc;
        if (!running)
            return LEEC_OK;
        if ((rc = leec_ctx_poll(ctx, -1)) != LEEC_OK)
            return rc;
    }
}
