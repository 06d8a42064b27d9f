/* The context: settings, the shared transport and the event loop. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "b64url.h"
#include "internal.h"
#include "solver/http01.h"
#include "store.h"

static int64_t monotonic_ms(void *ud)
{
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t leec_now_ms(leec_ctx *ctx)
{
    return ctx->clock(ctx->clock_ud);
}

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
    ctx->server = strdup(LEEC_LETSENCRYPT_URL);
    ctx->log_level = LEEC_LOG_WARN;
    ctx->clock = monotonic_ms;
    ctx->account_key_type = LEEC_KEY_EC256;
    if (!ctx->server) {
        free(ctx);
        return NULL;
    }
    return ctx;
}

void leec_ctx_free(leec_ctx *ctx)
{
    if (!ctx)
        return;
    while (ctx->nagents)
        leec_agent_destroy(ctx->agents[ctx->nagents - 1]);
    free(ctx->agents);
    leec_account_clear(ctx);
    leec_http_free(ctx->http);
    leec_http01_server_free(ctx->http01);
    leec_nonce_clear(&ctx->nonces);
    leec_tokens_free(&ctx->tokens);
    leec_store_free(ctx->store);
    free(ctx->server);
    free(ctx->ca_bundle);
    free(ctx->contact);
    free(ctx);
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
    if (!leec_url_ok(url))
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
}

leec_store *leec_ctx_get_store(leec_ctx *ctx)
{
    return ctx->store;
}

void leec_ctx_set_log(leec_ctx *ctx, leec_log_fn fn, void *userdata,
                      leec_log_level level)
{
    ctx->log_fn = fn;
    ctx->log_ud = userdata;
    ctx->log_level = level;
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

void leec_ctx_set_clock(leec_ctx *ctx, leec_clock_fn fn, void *userdata)
{
    ctx->clock = fn ? fn : monotonic_ms;
    ctx->clock_ud = userdata;
}

static const char *http01_lookup(void *ud, const char *token)
{
    leec_ctx *ctx = ud;
    const char *ka = leec_tokens_find(&ctx->tokens, token);
    leec_log(ctx, LEEC_LOG_DEBUG, "http-01 responder: token %s %s", token,
             ka ? "served" : "unknown");
    return ka;
}

leec_code leec_ctx_listen_http01(leec_ctx *ctx, const char *addr)
{
    if (!addr)
        return LEEC_E_INVALID_ARG;
    leec_http01_server *srv = NULL;
    leec_code rc = leec_http01_server_new(addr, http01_lookup, ctx, &srv);
    if (rc != LEEC_OK)
        return rc;
    leec_http01_server_free(ctx->http01);
    ctx->http01 = srv;
    leec_log(ctx, LEEC_LOG_INFO, "http-01 responder listening on %s", addr);
    return LEEC_OK;
}

leec_code leec_ctx_http01_key_authorization(leec_ctx *ctx, const char *token,
                                            char **out)
{
    if (!token || !out)
        return LEEC_E_INVALID_ARG;
    *out = NULL;
    if (!leec_b64url_valid(token, LEEC_MAX_TOKEN))
        return LEEC_E_NOT_FOUND;
    const char *ka = leec_tokens_find(&ctx->tokens, token);
    if (!ka)
        return LEEC_E_NOT_FOUND;
    return (*out = strdup(ka)) ? LEEC_OK : LEEC_E_NOMEM;
}

/* The transport is created on first use, so that settings made before the
 * first agent starts (CA bundle) apply to it. */
leec_http *leec_ctx_http(leec_ctx *ctx)
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
    ctx->http = leec_http_new(&o);
    return ctx->http;
}

unsigned long leec_ctx_request_count(leec_ctx *ctx)
{
    return ctx->http ? leec_http_request_count(ctx->http) : 0;
}

static void reap(leec_ctx *ctx)
{
    if (!ctx->reap)
        return;
    ctx->reap = false;
    for (size_t i = ctx->nagents; i-- > 0;)
        if (leec_agent_zombie(ctx->agents[i]))
            leec_agent_destroy(ctx->agents[i]);
}

leec_code leec_ctx_perform(leec_ctx *ctx, int *running)
{
    leec_code rc = LEEC_OK;
    ctx->depth++;
    if (ctx->http)
        rc = leec_http_perform(ctx->http);
    if (ctx->http01)
        leec_http01_server_run(ctx->http01);
    int64_t now = leec_now_ms(ctx);
    /* Index loop: timers may add requests but never add agents. */
    for (size_t i = 0; i < ctx->nagents; i++) {
        leec_agent *a = ctx->agents[i];
        int64_t d = leec_agent_deadline(a);
        if (d >= 0 && d <= now)
            leec_agent_on_timer(a);
    }
    /* Requests started by timers go out now rather than after the poll. */
    if (ctx->http && rc == LEEC_OK)
        rc = leec_http_perform(ctx->http);
    ctx->depth--;
    if (ctx->depth == 0)
        reap(ctx);
    if (running) {
        int n = 0;
        for (size_t i = 0; i < ctx->nagents; i++)
            n += leec_agent_running(ctx->agents[i]);
        *running = n;
    }
    return rc;
}

long leec_ctx_timeout_ms(leec_ctx *ctx)
{
    int64_t now = leec_now_ms(ctx);
    long best = -1;
    for (size_t i = 0; i < ctx->nagents; i++) {
        int64_t d = leec_agent_deadline(ctx->agents[i]);
        if (d < 0)
            continue;
        long t = d <= now ? 0 : (long)(d - now);
        if (best < 0 || t < best)
            best = t;
    }
    if (ctx->http) {
        long t = leec_http_timeout_ms(ctx->http);
        if (t >= 0 && (best < 0 || t < best))
            best = t;
    }
    if (ctx->http01) {
        long t = leec_http01_server_timeout_ms(ctx->http01);
        if (t >= 0 && (best < 0 || t < best))
            best = t;
    }
    return best;
}

leec_code leec_ctx_poll(leec_ctx *ctx, int timeout_ms)
{
    long t = leec_ctx_timeout_ms(ctx);
    if (t < 0 || (timeout_ms >= 0 && t > timeout_ms))
        t = timeout_ms;
    if (t < 0)
        t = 1000;
    leec_http *h = leec_ctx_http(ctx);
    if (!h)
        return LEEC_E_NOMEM;
    int fds[1];
    size_t nfds = 0;
    if (ctx->http01)
        fds[nfds++] = leec_http01_server_fd(ctx->http01);
    return leec_http_wait(h, fds, nfds, (int)t);
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
