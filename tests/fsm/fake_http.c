/* A scripted transport with the functions of lib/http.h, without curl:
 * requests are queued by Leec_http_submit() and answered in order by the
 * test's responder from Leec_http_perform(). Also the fake clock and the
 * driver loop. */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/b64url.h"
#include "fake.h"

/* ---- clock ---- */

static int64_t clock_now = 1000000;

int64_t fake_clock(void *ud)
{
    (void)ud;
    return clock_now;
}

void fake_clock_set(int64_t now_ms)
{
    clock_now = now_ms;
}

int64_t fake_clock_now(void)
{
    return clock_now;
}

/* ---- transport ---- */

typedef struct fake_req {
    struct fake_req *next;
    char *method;
    char *url;
    char *body;
    char *content_type;
    char *accept;
    leec_http_done_fn fn;
    void *userdata;
    size_t log_index;
} fake_req;

struct leec_http {
    int fd; /* never readable: answers come from perform, on a timer */
    fake_req *head, *tail;
    size_t max_body;
    unsigned long count;
};

static fake_responder responder;
static void *responder_ud;
static fake_log_entry *log_v;
static size_t log_n, log_cap;
static size_t pending_total;
static bool held;

void fake_http_hold(bool hold)
{
    held = hold;
}

bool fake_http_held(void)
{
    return held;
}

void fake_http_set_responder(fake_responder fn, void *ud)
{
    responder = fn;
    responder_ud = ud;
}

static void req_free(fake_req *r)
{
    free(r->method);
    free(r->url);
    free(r->body);
    free(r->content_type);
    free(r->accept);
    free(r);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

leec_http *Leec_http_new(const leec_http_opts *opts)
{
    leec_http *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    /* A descriptor as the real transport has, for the code that watches
     * it on the context's loop (the OVH provider's own transport). */
    if ((h->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
        free(h);
        return NULL;
    }
    h->max_body = opts && opts->max_body ? opts->max_body : LEEC_MAX_BODY;
    return h;
}

void Leec_http_free(leec_http *h)
{
    if (!h)
        return;
    while (h->head) {
        fake_req *r = h->head;
        h->head = r->next;
        pending_total--;
        req_free(r);
    }
    close(h->fd);
    free(h);
}

/* Decodes one base64url member of a JWS body into a string. */
static char *jws_member(const json_t *jws, const char *key)
{
    const char *v = json_string_value(json_object_get(jws, key));
    unsigned char *raw = NULL;
    size_t n = 0;
    if (!v || Leec_b64url_decode(v, strlen(v), &raw, &n) != LEEC_OK)
        return NULL;
    char *s = strndup((const char *)raw, n);
    free(raw);
    return s;
}

static void log_add(const fake_req *r)
{
    if (log_n == log_cap) {
        size_t cap = log_cap ? log_cap * 2 : 64;
        fake_log_entry *v = realloc(log_v, cap * sizeof *v);
        if (!v)
            abort();
        log_v = v;
        log_cap = cap;
    }
    fake_log_entry *e = &log_v[log_n++];
    memset(e, 0, sizeof *e);
    e->method = strdup(r->method);
    e->url = strdup(r->url);
    e->t_ms = clock_now;
    if (r->body) {
        json_t *j = json_loads(r->body, 0, NULL);
        if (j) {
            e->protected_ = jws_member(j, "protected");
            e->payload = jws_member(j, "payload");
            json_decref(j);
        }
    }
}

leec_code Leec_http_submit(leec_http *h, const char *method, const char *url,
                           const char *body, const char *content_type,
                           const char *accept, leec_http_done_fn fn,
                           void *userdata)
{
    fake_req *r = calloc(1, sizeof *r);
    if (!r)
        return LEEC_E_NOMEM;
    r->method = strdup(method);
    r->url = strdup(url);
    r->body = strcmp(method, "POST") == 0 ? strdup(body ? body : "") : NULL;
    r->content_type = dup_or_null(content_type);
    r->accept = dup_or_null(accept);
    r->fn = fn;
    r->userdata = userdata;
    if (!r->method || !r->url || (strcmp(method, "POST") == 0 && !r->body)) {
        req_free(r);
        return LEEC_E_NOMEM;
    }
    log_add(r);
    r->log_index = log_n - 1;
    if (h->tail)
        h->tail->next = r;
    else
        h->head = r;
    h->tail = r;
    h->count++;
    pending_total++;
    return LEEC_OK;
}

/* Extra headers and per-request settings are not looked at: the
 * responder answers by method and URL (the OVH provider, the AIA fetch). */
leec_code Leec_http_submit_headers(leec_http *h, const char *method,
                                   const char *url, const char *body,
                                   const char *content_type, const char *accept,
                                   const char *const *headers,
                                   leec_http_done_fn fn, void *userdata)
{
    return Leec_http_submit_opts(h, method, url, body, content_type, accept,
                                 headers, NULL, fn, userdata);
}

leec_code Leec_http_submit_opts(leec_http *h, const char *method,
                                const char *url, const char *body,
                                const char *content_type, const char *accept,
                                const char *const *headers,
                                const leec_http_req_opts *o,
                                leec_http_done_fn fn, void *userdata)
{
    (void)headers;
    (void)o;
    return Leec_http_submit(h, method, url, body, content_type, accept, fn,
                            userdata);
}

static void unlink_head(leec_http *h)
{
    fake_req *r = h->head;
    h->head = r->next;
    if (!h->head)
        h->tail = NULL;
    pending_total--;
}

void Leec_http_cancel(leec_http *h, void *userdata)
{
    if (!h)
        return;
    fake_req **pp = &h->head;
    h->tail = NULL;
    while (*pp) {
        fake_req *r = *pp;
        if (r->userdata == userdata) {
            *pp = r->next;
            pending_total--;
            req_free(r);
        } else {
            h->tail = r;
            pp = &r->next;
        }
    }
}

leec_code Leec_http_perform(leec_http *h)
{
    /* Answer what was queued when we started; requests the callbacks
     * submit go out on the next call (as with a real network). */
    size_t n = 0;
    for (fake_req *r = h->head; r; r = r->next)
        n++;
    while (n-- > 0 && h->head && !held) {
        fake_req *r = h->head;
        unlink_head(h);
        leec_http_resp resp;
        memset(&resp, 0, sizeof resp);
        Leec_buf_init(&resp.body, h->max_body);
        if (responder) {
            fake_request fr = {r->method, r->url, r->body, r->content_type,
                               r->accept};
            responder(responder_ud, &fr, &resp);
        } else {
            resp.err = LEEC_E_HTTP;
            resp.errmsg = strdup("no responder");
        }
        if (r->log_index < log_n)
            log_v[r->log_index].status = resp.status;
        r->fn(r->userdata, &resp);
        Leec_http_resp_clear(&resp);
        req_free(r);
    }
    return LEEC_OK;
}

int Leec_http_fd(leec_http *h)
{
    /* Never readable: the driver jumps the clock instead of waiting. */
    return h->fd;
}

unsigned long Leec_http_connection_count(leec_http *h)
{
    return h && h->count ? 1 : 0;
}

long Leec_http_timeout_ms(leec_http *h)
{
    return h && h->head ? 0 : -1;
}

unsigned long Leec_http_request_count(leec_http *h)
{
    return h ? h->count : 0;
}

/* ---- log ---- */

size_t fake_http_log_count(void)
{
    return log_n;
}

const fake_log_entry *fake_http_log(size_t i)
{
    return i < log_n ? &log_v[i] : NULL;
}

size_t fake_http_count(const char *method, const char *url_prefix)
{
    size_t c = 0;
    for (size_t i = 0; i < log_n; i++)
        if ((!method || strcmp(log_v[i].method, method) == 0) &&
            (!url_prefix ||
             strncmp(log_v[i].url, url_prefix, strlen(url_prefix)) == 0))
            c++;
    return c;
}

void fake_http_log_clear(void)
{
    for (size_t i = 0; i < log_n; i++) {
        free(log_v[i].method);
        free(log_v[i].url);
        free(log_v[i].protected_);
        free(log_v[i].payload);
    }
    log_n = 0;
}

size_t fake_http_pending(void)
{
    return pending_total;
}

void fake_http_reset(void)
{
    fake_http_log_clear();
    free(log_v);
    log_v = NULL;
    log_cap = 0;
    responder = NULL;
    responder_ud = NULL;
    held = false;
}

/* ---- responder helpers ---- */

void fake_resp_set(char **slot, const char *value)
{
    free(*slot);
    *slot = value ? strdup(value) : NULL;
}

void fake_resp_body(leec_http_resp *resp, const char *content_type,
                    const char *body)
{
    fake_resp_set(&resp->content_type, content_type);
    Leec_buf_reset(&resp->body);
    if (body && Leec_buf_append_str(&resp->body, body) != LEEC_OK)
        abort();
}

/* ---- driver ---- */

static bool any_running(leec_ctx *ctx)
{
    for (size_t i = 0; i < Leec_agents_count(ctx); i++)
        if (Leec_agent_running(Leec_agents_at(ctx, i)))
            return true;
    return false;
}

int fake_drive_until(leec_ctx *ctx, int max_iter, bool (*stop)(void *ud),
                     void *ud)
{
    for (int i = 0; i < max_iter; i++) {
        int running = 0;
        if (leec_ctx_perform(ctx, &running) != LEEC_OK)
            return -1;
        if (stop ? stop(ud) : (!running && !any_running(ctx)))
            return i + 1;
        if (Leec_ctx_transport(ctx) && Leec_ctx_transport(ctx)->head)
            continue; /* answer them on the next perform */
        long t = leec_ctx_timeout_ms(ctx);
        if (t < 0 && Leec_ctx_workers(ctx)) {
            /* A worker thread at work (a key): its completion comes
             * through the context's descriptor, in real time. */
            if (leec_ctx_poll(ctx, 30000) != LEEC_OK)
                return -1;
            continue;
        }
        if (t < 0)
            return -1; /* nothing queued, no deadline: stuck */
        clock_now += t;
    }
    return -1;
}

int fake_drive(leec_ctx *ctx, int max_iter)
{
    return fake_drive_until(ctx, max_iter, NULL, NULL);
}
