/* The context's owner object: the settings, the transport, the governor
 * and the handles of the objects that the other files own (the CA session,
 * account.c; the request queue, request.c; the operations, ctx_ops.c; the
 * agents, agent_api.c; the workers, workers.c). Its fields are private to
 * this file: the others use the accessors of internal.h. It calls nothing
 * of the engine above it; the public calls that drive everything (new,
 * free, perform, timeout, run) are in ctx_api.c. */
#define _GNU_SOURCE
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <string.h>

#include "util/b64url.h"
#include "engine/internal.h"
#include "util/loop.h"
#include "engine/workers.h"
#include "net/http01_server.h"
#include "store/store.h"
#include "crypto/x509.h"

struct leec_ctx {
    leec_ctx_base base; /* first: what the lower layers use (ctx_base.h) */
    char *server;
    char *ca_bundle;
    leec_store *store;
    leec_http *http; /* created on first use (Leec_ctx_http) */
    struct leec_http01_server *http01;
    int token_fd; /* the store's descriptor for token answers, watched;
                     -1: none */
    int async_fd; /* the store's descriptor for writes in flight, watched;
                     -1: none */
    leec_governor *gov;
    struct leec_workers *workers;           /* threads, or NULL */
    struct leec_x509_cache *x509_cache;     /* issuers already parsed */
    bool rate_set, orders_set, domains_set; /* else the CA's defaults */
    struct leec_budget_log budget;          /* budget.c */
    unsigned order_timeout_s; /* an order or authorization stuck */
    unsigned lock_timeout_s;  /* waiting for another process's lock */
    leec_hook_fn hook_fn;     /* pre/deploy/post hooks, or NULL */
    void *hook_ud;
    unsigned ordering;        /* agents that decided to order, not finished */
    unsigned cleanups;        /* solver clean-ups under way */
    unsigned cleanups_failed; /* ... and those that failed, in all */
    bool wake_agents; /* the account, the directory or an order slot came */
    int depth;        /* > 0 while inside perform: frees are deferred */
    struct leec_session *session; /* account.c */
    struct leec_queue *queue;     /* request.c */
    struct leec_ops *ops;         /* ctx_ops.c */
    struct leec_agents *agents;   /* agent_api.c */
};

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

static void unwatch_token_fd(leec_ctx *ctx)
{
    if (ctx->token_fd >= 0)
        Leec_loop_unwatch(ctx, ctx->token_fd);
    ctx->token_fd = -1;
    if (ctx->async_fd >= 0)
        Leec_loop_unwatch(ctx, ctx->async_fd);
    ctx->async_fd = -1;
}

leec_ctx *Leec_ctx_alloc(void)
{
    leec_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return NULL;
    ctx->token_fd = ctx->async_fd = -1;
    ctx->base.log = Leec_logger_new();
    ctx->base.loop = Leec_loop_new();
    ctx->server = strdup(LEEC_LETSENCRYPT_URL);
    ctx->gov = Leec_gov_new();
    ctx->x509_cache = Leec_x509_cache_new();
    ctx->order_timeout_s = LEEC_ORDER_TIMEOUT_DEFAULT_S;
    ctx->lock_timeout_s = LEEC_LOCK_TIMEOUT_DEFAULT_S;
    if (!ctx->base.log || !ctx->base.loop || !ctx->server || !ctx->gov ||
        !ctx->x509_cache) {
        Leec_ctx_dealloc(ctx);
        return NULL;
    }
    leec_gov_limits lim = {.max_parallel = 10};
    Leec_gov_set_limits(ctx->gov, &lim);
    return ctx;
}

void Leec_ctx_dealloc(leec_ctx *ctx)
{
    if (!ctx)
        return;
    Leec_http_free(ctx->http);
    Leec_http01_server_free(ctx->http01);
    Leec_ctx_tokens_free(ctx);
    unwatch_token_fd(ctx);
    leec_store_free(ctx->store);
    Leec_gov_free(ctx->gov);
    Leec_x509_cache_free(ctx->x509_cache);
    Leec_loop_free(ctx->base.loop);
    free(ctx->server);
    free(ctx->ca_bundle);
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
    if (ctx->store != store) {
        unwatch_token_fd(ctx);
        leec_store_free(ctx->store);
    }
    ctx->store = store;
    /* What the store refuses (an unsafe state folder) is logged. */
    if (store)
        Leec_store_set_log_ctx(store, ctx);
    Leec_tokens_set_store(Leec_ctx_tokens(ctx), store);
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

static void token_answered(void *ud, const char *token, const char *key_auth)
{
    leec_ctx *ctx = ud;
    Leec_log(ctx, LEEC_LOG_DEBUG, "http-01 responder: token %s %s", token,
             key_auth ? "served (from the store)" : "unknown");
    Leec_http01_server_answer(ctx->http01, token, key_auth);
}

static void watch_token_fd(leec_ctx *ctx);

/* The store's answers came (or its connection changed): passed on to the
 * responder's waiting requests. */
static void on_token_fd(void *ud, int fd, unsigned events)
{
    leec_ctx *ctx = ud;
    (void)fd;
    (void)events;
    (void)Leec_store_token_answers(ctx->store, token_answered, ctx);
    watch_token_fd(ctx);
}

void Leec_ctx_token_answers(leec_ctx *ctx)
{
    if (ctx->token_fd >= 0)
        on_token_fd(ctx, ctx->token_fd, 0);
}

static void on_async_fd(void *ud, int fd, unsigned events)
{
    leec_ctx *ctx = ud;
    (void)fd;
    (void)events;
    Leec_ctx_store_async(ctx);
}

void Leec_ctx_store_async(leec_ctx *ctx)
{
    if (!Leec_store_has_async(ctx->store))
        return;
    Leec_store_async_perform(ctx->store);
    Leec_ctx_store_async_watch(ctx);
}

void Leec_ctx_store_async_watch(leec_ctx *ctx)
{
    short ev = 0;
    int fd = Leec_store_async_fd(ctx->store, &ev);
    if (ctx->async_fd >= 0 && fd != ctx->async_fd)
        Leec_loop_unwatch(ctx, ctx->async_fd);
    ctx->async_fd = -1;
    if (fd < 0)
        return;
    unsigned want =
        ((ev & POLLIN) ? EPOLLIN : 0u) | ((ev & POLLOUT) ? EPOLLOUT : 0u);
    /* Watched again every time (one epoll_ctl): after a reconnection the
     * descriptor may have the old number but be another socket. */
    if (Leec_loop_watch(ctx, fd, want, on_async_fd, ctx) != LEEC_OK) {
        Leec_loop_unwatch(ctx, fd);
        if (Leec_loop_watch(ctx, fd, want, on_async_fd, ctx) != LEEC_OK)
            return; /* looked at again at the next perform */
    }
    ctx->async_fd = fd;
}

/* Keeps the store's current descriptor for token answers in the loop. */
static void watch_token_fd(leec_ctx *ctx)
{
    int fd = Leec_store_token_fd(ctx->store);
    if (fd == ctx->token_fd)
        return;
    unwatch_token_fd(ctx);
    if (fd >= 0 &&
        Leec_loop_watch(ctx, fd, EPOLLIN, on_token_fd, ctx) == LEEC_OK)
        ctx->token_fd = fd;
}

/* A token not of this context: on a shared store, another node's. The
 * question is sent and the request waits, suspended, for its answer:
 * the loop never waits for the database. */
static leec_http01_lookup_result http01_lookup(void *ud, const char *token,
                                               char **key_auth)
{
    leec_ctx *ctx = ud;
    const char *mine = Leec_tokens_find(Leec_ctx_tokens(ctx), token);
    char *known = NULL;
    /* Another node's token it announced: served without a question. */
    if (!mine && leec_store_is_shared(ctx->store) &&
        (known = Leec_store_token_known(ctx->store, token))) {
        Leec_log(ctx, LEEC_LOG_DEBUG,
                 "http-01 responder: token %s served (announced)", token);
        *key_auth = known;
        return LEEC_HTTP01_FOUND;
    }
    if (!mine && leec_store_is_shared(ctx->store) &&
        Leec_store_can_ask(ctx->store)) {
        if (Leec_store_token_ask(ctx->store, token) == LEEC_OK) {
            watch_token_fd(ctx);
            return LEEC_HTTP01_LATER;
        }
        Leec_log(ctx, LEEC_LOG_WARN,
                 "http-01 responder: cannot ask the store for token %s", token);
        return LEEC_HTTP01_UNKNOWN;
    }
    *key_auth =
        mine ? strdup(mine) : Leec_tokens_lookup(Leec_ctx_tokens(ctx), token);
    Leec_log(ctx, LEEC_LOG_DEBUG, "http-01 responder: token %s %s", token,
             *key_auth ? "served" : "unknown");
    return *key_auth ? LEEC_HTTP01_FOUND : LEEC_HTTP01_UNKNOWN;
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
    if (!Leec_token_valid(token))
        return LEEC_E_NOT_FOUND;
    /* A host web server in a fleet asks for any node's token. */
    return (*out = Leec_tokens_lookup(Leec_ctx_tokens(ctx), token))
               ? LEEC_OK
               : LEEC_E_NOT_FOUND;
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

/* ------------------------------------------------------------------ */
/* Accessors                                                           */
/* ------------------------------------------------------------------ */

leec_http *Leec_ctx_transport(const leec_ctx *ctx)
{
    return ctx->http;
}

struct leec_http01_server *Leec_ctx_http01_server(const leec_ctx *ctx)
{
    return ctx->http01;
}

leec_governor *Leec_ctx_gov(const leec_ctx *ctx)
{
    return ctx->gov;
}

struct leec_budget_log *Leec_ctx_budget(leec_ctx *ctx)
{
    return &ctx->budget;
}

struct leec_x509_cache *Leec_ctx_x509_cache(const leec_ctx *ctx)
{
    return ctx->x509_cache;
}

const char *Leec_ctx_server(const leec_ctx *ctx)
{
    return ctx->server;
}

unsigned Leec_ctx_order_timeout_s(const leec_ctx *ctx)
{
    return ctx->order_timeout_s;
}

unsigned Leec_ctx_lock_timeout_s(const leec_ctx *ctx)
{
    return ctx->lock_timeout_s;
}

bool Leec_ctx_hook(leec_ctx *ctx, leec_hook_point point, leec_agent *agent)
{
    if (!ctx->hook_fn)
        return false;
    ctx->hook_fn(ctx->hook_ud, point, agent);
    return true;
}

unsigned Leec_ctx_ordering(const leec_ctx *ctx)
{
    return ctx->ordering;
}

void Leec_ctx_ordering_add(leec_ctx *ctx, int delta)
{
    ctx->ordering += (unsigned)delta;
}

unsigned Leec_ctx_cleanups(const leec_ctx *ctx)
{
    return ctx->cleanups;
}

void Leec_ctx_cleanup_failed(leec_ctx *ctx)
{
    ctx->cleanups_failed++;
}

unsigned leec_ctx_cleanups(const leec_ctx *ctx, unsigned *failed)
{
    if (failed)
        *failed = ctx->cleanups_failed;
    return ctx->cleanups;
}

void Leec_ctx_cleanups_add(leec_ctx *ctx, int delta)
{
    ctx->cleanups += (unsigned)delta;
}

void Leec_ctx_wake_agents(leec_ctx *ctx)
{
    ctx->wake_agents = true;
}

bool Leec_ctx_wake_pending(const leec_ctx *ctx)
{
    return ctx->wake_agents;
}

bool Leec_ctx_take_wake(leec_ctx *ctx)
{
    bool w = ctx->wake_agents;
    ctx->wake_agents = false;
    return w;
}

int Leec_ctx_depth(const leec_ctx *ctx)
{
    return ctx->depth;
}

int Leec_ctx_depth_add(leec_ctx *ctx, int delta)
{
    return ctx->depth += delta;
}

struct leec_workers *Leec_ctx_workers(const leec_ctx *ctx)
{
    return ctx->workers;
}

void Leec_ctx_set_workers(leec_ctx *ctx, struct leec_workers *w)
{
    ctx->workers = w;
}

struct leec_session *Leec_ctx_session(const leec_ctx *ctx)
{
    return ctx->session;
}

void Leec_ctx_set_session(leec_ctx *ctx, struct leec_session *s)
{
    ctx->session = s;
}

struct leec_queue *Leec_ctx_queue(const leec_ctx *ctx)
{
    return ctx->queue;
}

void Leec_ctx_set_queue(leec_ctx *ctx, struct leec_queue *q)
{
    ctx->queue = q;
}

struct leec_ops *Leec_ctx_ops(const leec_ctx *ctx)
{
    return ctx->ops;
}

void Leec_ctx_set_ops(leec_ctx *ctx, struct leec_ops *o)
{
    ctx->ops = o;
}

struct leec_agents *Leec_ctx_agents(const leec_ctx *ctx)
{
    return ctx->agents;
}

void Leec_ctx_set_agents(leec_ctx *ctx, struct leec_agents *a)
{
    ctx->agents = a;
}
