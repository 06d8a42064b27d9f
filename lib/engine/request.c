#define _GNU_SOURCE
/* Signed ACME requests: nonces, JWS, badNonce retries, response parsing.
 * The agent sees one callback per logical request, whatever happened below. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/internal.h"
#include "crypto/jws.h"
#include "util/json.h"
#include "util/loop.h"
#include "acme/problem.h"

/* The context's request queue: what the governor holds, the nonces, and
 * the CA-wide pause as announced. Private to this file. */
struct leec_queue {
    leec_acme_req *deferred; /* requests held by the governor, FIFO */
    leec_acme_req *deferred_tail;
    int64_t pause_logged; /* the pause end last announced */
    time_t pause_wall;    /* its wall-clock end, computed once */
    unsigned max_pause_s;
    leec_nonce_pool nonces;
    const char *new_nonce; /* the directory's, owned by the session */
    uint64_t stat[LEEC_STAT_COUNT];
    struct req_count {
        leec_endpoint ep;
        long status;
        uint64_t n;
    } * counts; /* answers per (endpoint, status): a few dozen pairs */
    size_t ncounts, capcounts;
};

struct leec_acme_req {
    leec_ctx *ctx;
    leec_endpoint ep;
    bool post;
    char *url;
    char *payload; /* NULL: POST-as-GET */
    const leec_key *key;
    char *kid;
    char *accept;
    leec_acme_fn fn;
    void *userdata;
    int nonce_tries;
    int nonce_fetches;
    int nonce_rounds;        /* rounds of badNonce retries done */
    leec_timer *nonce_timer; /* the pause before the next round */
    int pause_tries;
    bool held;                  /* waiting in the governor's queue */
    int64_t held_at;            /* since then (ms) */
    struct leec_acme_req *next; /* in that queue */
};

static void req_free(leec_acme_req *r)
{
    if (!r)
        return;
    free(r->url);
    free(r->payload);
    free(r->kid);
    free(r->accept);
    free(r);
}

static void on_response(void *ud, leec_http_resp *hr);

/* One more answer from ep with this status (0: none came). Counters are
 * best effort: a pair that cannot be added for want of memory is lost. */
static void count_answer(struct leec_queue *q, leec_endpoint ep, long status)
{
    for (size_t i = 0; i < q->ncounts; i++) {
        if (q->counts[i].ep == ep && q->counts[i].status == status) {
            q->counts[i].n++;
            return;
        }
    }
    if (q->ncounts == q->capcounts) {
        size_t cap = q->capcounts ? q->capcounts * 2 : 16;
        struct req_count *c = realloc(q->counts, cap * sizeof *c);
        if (!c)
            return;
        q->counts = c;
        q->capcounts = cap;
    }
    q->counts[q->ncounts++] = (struct req_count){ep, status, 1};
}

/* A held request leaves the governor's queue: its wait ends. */
static void wait_ended(leec_acme_req *r)
{
    int64_t d = Leec_now_ms(r->ctx) - r->held_at;
    Leec_ctx_queue(r->ctx)->stat[LEEC_STAT_GOVERNOR_WAIT_MS] +=
        d > 0 ? (uint64_t)d : 0;
}

static void deliver_error(leec_acme_req *r, leec_code err, const char *msg)
{
    leec_acme_resp resp;
    memset(&resp, 0, sizeof resp);
    resp.err = err;
    resp.errmsg = msg;
    resp.retry_after = -1;
    r->fn(r->userdata, &resp);
    req_free(r);
}

static leec_code send_signed(leec_acme_req *r, char *nonce)
{
    char *jws = NULL;
    leec_code rc =
        Leec_jws_sign(r->key, r->kid, nonce, r->url, r->payload, &jws);
    free(nonce);
    if (rc != LEEC_OK)
        return rc;
    rc = Leec_http_submit(Leec_ctx_transport(r->ctx), "POST", r->url, jws,
                          "application/jose+json", r->accept, on_response, r);
    free(jws);
    return rc;
}

static leec_code dispatch(leec_acme_req *r);
static bool paused_by(leec_acme_req *r, const leec_http_resp *hr,
                      long retry_after, const leec_problem *problem);
static void nonce_pause(leec_acme_req *r, const char *why);

static void on_nonce(void *ud, leec_http_resp *hr)
{
    leec_acme_req *r = ud;
    leec_ctx *ctx = r->ctx;
    struct leec_queue *q = Leec_ctx_queue(ctx);
    count_answer(q, LEEC_EP_NEW_NONCE, hr->err == LEEC_OK ? hr->status : 0);
    if (hr->err != LEEC_OK) {
        deliver_error(r, hr->err, hr->errmsg);
        return;
    }
    if (!hr->replay_nonce) {
        char why[96];
        /* Nothing was sent yet. A CA pausing (503, 429) pauses this
         * request with every other; one failing (5xx: overloaded, a proxy
         * that lost it) is asked again after a growing delay, in rounds,
         * as a run of badNonce answers is. */
        if (hr->status >= 400 &&
            paused_by(r, hr,
                      Leec_retry_after_seconds(hr->retry_after, time(NULL)),
                      NULL))
            return;
        snprintf(why, sizeof why, "newNonce answered HTTP %ld%s", hr->status,
                 hr->status < 400 ? " without a Replay-Nonce" : "");
        if (hr->status >= 500 && r->nonce_rounds < LEEC_BADNONCE_ROUNDS) {
            nonce_pause(r, why);
            return;
        }
        deliver_error(r, hr->status >= 500 ? LEEC_E_HTTP : LEEC_E_PROTOCOL,
                      why);
        return;
    }
    Leec_nonce_put(&q->nonces, hr->replay_nonce);
    /* Through the governor again: a pause may have begun meanwhile. */
    leec_code rc = dispatch(r);
    if (rc != LEEC_OK)
        deliver_error(r, rc, NULL);
}

/* Sends r now, or after fetching a nonce when the pool is empty. */
static leec_code send_now(leec_acme_req *r)
{
    leec_ctx *ctx = r->ctx;
    struct leec_queue *q = Leec_ctx_queue(ctx);
    if (!r->post)
        return Leec_http_submit(Leec_ctx_transport(ctx), "GET", r->url, NULL,
                                NULL, r->accept, on_response, r);
    char *nonce = Leec_nonce_take(&q->nonces);
    if (nonce)
        return send_signed(r, nonce);
    if (!q->new_nonce)
        return LEEC_E_STATE;
    /* A CA whose nonces are never usable must not keep us asking. */
    if (++r->nonce_fetches > LEEC_BADNONCE_RETRIES)
        return LEEC_E_PROTOCOL;
    return Leec_http_submit(Leec_ctx_transport(ctx), "HEAD", q->new_nonce, NULL,
                            NULL, NULL, on_nonce, r);
}

static void hold(leec_acme_req *r)
{
    leec_ctx *ctx = r->ctx;
    struct leec_queue *q = Leec_ctx_queue(ctx);
    r->held = true;
    r->held_at = Leec_now_ms(ctx);
    q->stat[LEEC_STAT_GOVERNOR_WAITS]++;
    r->next = NULL;
    if (q->deferred_tail)
        q->deferred_tail->next = r;
    else
        q->deferred = r;
    q->deferred_tail = r;
}

/* Every request passes the governor: the CA-wide pause and the rate. */
static leec_code dispatch(leec_acme_req *r)
{
    leec_ctx *ctx = r->ctx;
    struct leec_queue *q = Leec_ctx_queue(ctx);
    if (q->deferred ||
        Leec_gov_request_admit(Leec_ctx_gov(ctx), Leec_now_ms(ctx), NULL) > 0) {
        hold(r); /* FIFO: nobody overtakes a request already waiting */
        return LEEC_OK;
    }
    return send_now(r);
}

int64_t Leec_acme_release(leec_ctx *ctx)
{
    struct leec_queue *q = Leec_ctx_queue(ctx);
    while (q->deferred) {
        int64_t now = Leec_now_ms(ctx);
        int64_t wait = Leec_gov_request_admit(Leec_ctx_gov(ctx), now, NULL);
        if (wait > 0)
            return now + wait;
        leec_acme_req *r = q->deferred;
        q->deferred = r->next;
        if (!q->deferred)
            q->deferred_tail = NULL;
        r->held = false;
        wait_ended(r);
        leec_code rc = send_now(r);
        if (rc != LEEC_OK)
            deliver_error(r, rc, NULL);
    }
    return -1;
}

int64_t Leec_acme_next_release(const leec_ctx *ctx)
{
    struct leec_queue *q = Leec_ctx_queue(ctx);
    if (!q->deferred)
        return -1;
    int64_t now = Leec_now_ms(ctx);
    return now + Leec_gov_request_wait(Leec_ctx_gov(ctx), now);
}

static void unhold(leec_ctx *ctx, leec_acme_req *r)
{
    struct leec_queue *qu = Leec_ctx_queue(ctx);
    leec_acme_req *prev = NULL;
    for (leec_acme_req *q = qu->deferred; q; prev = q, q = q->next) {
        if (q != r)
            continue;
        if (prev)
            prev->next = q->next;
        else
            qu->deferred = q->next;
        if (qu->deferred_tail == q)
            qu->deferred_tail = prev;
        r->held = false;
        wait_ended(r);
        return;
    }
}

leec_wait_reason Leec_acme_held(leec_ctx *ctx, const leec_acme_req *r,
                                int64_t *until)
{
    *until = -1;
    if (!r || !r->held)
        return LEEC_WAIT_NONE;
    int64_t p = Leec_gov_paused_until(Leec_ctx_gov(ctx), Leec_now_ms(ctx));
    if (p) {
        *until = p;
        return LEEC_WAIT_PAUSED;
    }
    return LEEC_WAIT_RATE;
}

void Leec_acme_drop_deferred(leec_ctx *ctx)
{
    struct leec_queue *q = Leec_ctx_queue(ctx);
    while (q->deferred) {
        leec_acme_req *r = q->deferred;
        q->deferred = r->next;
        wait_ended(r);
        req_free(r);
    }
    q->deferred_tail = NULL;
}

/* 429 and 503 pause the whole CA (the governor); the request that met it is
 * held and sent again after the pause, unless the pause is too long. */
static bool paused_by(leec_acme_req *r, const leec_http_resp *hr,
                      long retry_after, const leec_problem *problem)
{
    leec_ctx *ctx = r->ctx;
    struct leec_queue *q = Leec_ctx_queue(ctx);
    if (hr->status != 429 && hr->status != 503)
        return false;
    /* Longer than we may wait: not a pause but a refusal, which fails the
     * requests it answers (each agent's own) instead of stalling all. */
    if (retry_after > (long)q->max_pause_s)
        return false;
    int64_t now = Leec_now_ms(ctx);
    int64_t until =
        Leec_gov_on_response(Leec_ctx_gov(ctx), now, hr->status, retry_after);
    int64_t end = Leec_gov_paused_until(Leec_ctx_gov(ctx), now);
    if (!end || end - now > (int64_t)q->max_pause_s * 1000 ||
        r->pause_tries >= 5)
        return false;
    if (until >= 0 && until != q->pause_logged) {
        q->pause_logged = until;
        char when[16];
        time_t wall = time(NULL) + (time_t)((until - now + 999) / 1000);
        q->pause_wall = wall;
        struct tm tm;
        localtime_r(&wall, &tm);
        strftime(when, sizeof when, "%H:%M:%S", &tm);
        Leec_log(ctx, LEEC_LOG_WARN,
                 "the CA answered HTTP %ld%s%s: pausing every request to it "
                 "until %s",
                 hr->status, problem && problem->detail ? ": " : "",
                 problem && problem->detail ? problem->detail : "", when);
    }
    r->pause_tries++;
    hold(r);
    return true;
}

static bool is_json_type(const char *ct)
{
    return ct && (strcmp(ct, "application/json") == 0 ||
                  strcmp(ct, "application/problem+json") == 0);
}

static void after_nonce_pause(void *ud)
{
    leec_acme_req *r = ud;
    r->nonce_timer = NULL;
    leec_code rc = dispatch(r);
    if (rc != LEEC_OK)
        deliver_error(r, rc, NULL);
}

/* The request met LEEC_BADNONCE_RETRIES badNonce answers in a row: it goes
 * again, as new, after a pause that doubles with each round. */
static void nonce_pause(leec_acme_req *r, const char *why)
{
    leec_ctx *ctx = r->ctx;
    int64_t wait = (int64_t)LEEC_BADNONCE_PAUSE_MS << r->nonce_rounds;
    r->nonce_rounds++;
    r->nonce_tries = 0;
    r->nonce_fetches = 0;
    Leec_log(ctx, LEEC_LOG_INFO,
             "%s: %s; sending it again in %lld ms (round %d of %d)", r->url,
             why, (long long)wait, r->nonce_rounds, LEEC_BADNONCE_ROUNDS);
    if (!(r->nonce_timer = Leec_loop_timer(ctx, Leec_now_ms(ctx) + wait,
                                           after_nonce_pause, r)))
        deliver_error(r, LEEC_E_NOMEM, NULL);
}

static void on_response(void *ud, leec_http_resp *hr)
{
    leec_acme_req *r = ud;
    leec_ctx *ctx = r->ctx;
    struct leec_queue *q = Leec_ctx_queue(ctx);
    count_answer(q, r->ep, hr->err == LEEC_OK ? hr->status : 0);
    if (hr->err != LEEC_OK) {
        Leec_log(ctx, LEEC_LOG_DEBUG, "%s: transport error: %s", r->url,
                 hr->errmsg ? hr->errmsg : leec_strerror(hr->err));
        deliver_error(r, hr->err, hr->errmsg);
        return;
    }
    Leec_nonce_put(&q->nonces, hr->replay_nonce);

    leec_acme_resp resp;
    memset(&resp, 0, sizeof resp);
    resp.http = hr;
    resp.status = hr->status;
    resp.location = hr->location;
    resp.body = &hr->body;
    resp.content_type = hr->content_type;
    resp.retry_after = Leec_retry_after_seconds(hr->retry_after, time(NULL));
    if (is_json_type(hr->content_type) && hr->body.len)
        (void)Leec_json_parse_object(hr->body.data, hr->body.len, &resp.json);
    if (hr->status >= 400) {
        resp.problem = resp.json ? Leec_problem_from_json(resp.json, hr->status,
                                                          resp.retry_after)
                                 : NULL;
        if (paused_by(r, hr, resp.retry_after, resp.problem)) {
            Leec_problem_free(resp.problem);
            Leec_json_free(resp.json);
            return;
        }
        /* RFC 8555 §6.5: retry a badNonce with the nonce it carried; a
         * run of them, again after a pause (the request was not taken). */
        if (r->post && Leec_problem_is(resp.problem, "badNonce") &&
            (r->nonce_tries < LEEC_BADNONCE_RETRIES ||
             r->nonce_rounds < LEEC_BADNONCE_ROUNDS)) {
            Leec_problem_free(resp.problem);
            Leec_json_free(resp.json);
            q->stat[LEEC_STAT_BADNONCE_RETRIES]++;
            if (r->nonce_tries < LEEC_BADNONCE_RETRIES) {
                r->nonce_tries++;
                Leec_log(ctx, LEEC_LOG_DEBUG, "badNonce on %s, retrying (%d)",
                         r->url, r->nonce_tries);
                leec_code rc = dispatch(r);
                if (rc != LEEC_OK)
                    deliver_error(r, rc, NULL);
                return;
            }
            char why[64];
            snprintf(why, sizeof why, "%d badNonce answers in a row",
                     LEEC_BADNONCE_RETRIES);
            nonce_pause(r, why);
            return;
        }
    }
    resp.err = LEEC_OK;
    r->fn(r->userdata, &resp);
    Leec_problem_free(resp.problem);
    Leec_json_free(resp.json);
    req_free(r);
}

static leec_code start(leec_ctx *ctx, leec_endpoint ep, bool post,
                       const char *url, const char *payload,
                       const leec_key *key, const char *kid, const char *accept,
                       leec_acme_fn fn, void *userdata, leec_acme_req **handle)
{
    if (!Leec_url_ok(url))
        return LEEC_E_INSECURE_URL;
    leec_acme_req *r = calloc(1, sizeof *r);
    if (!r)
        return LEEC_E_NOMEM;
    r->ctx = ctx;
    r->ep = ep;
    r->post = post;
    r->key = key;
    r->fn = fn;
    r->userdata = userdata;
    r->url = strdup(url);
    if (!r->url || (payload && !(r->payload = strdup(payload))) ||
        (kid && !(r->kid = strdup(kid))) ||
        (accept && !(r->accept = strdup(accept)))) {
        req_free(r);
        return LEEC_E_NOMEM;
    }
    leec_code rc = dispatch(r);
    if (rc != LEEC_OK) {
        req_free(r);
        return rc;
    }
    if (handle)
        *handle = r;
    return LEEC_OK;
}

leec_code Leec_acme_post(leec_ctx *ctx, leec_endpoint ep, const char *url,
                         const char *payload, const leec_key *key,
                         const char *kid, const char *accept, leec_acme_fn fn,
                         void *userdata, leec_acme_req **handle)
{
    return start(ctx, ep, true, url, payload, key, kid, accept, fn, userdata,
                 handle);
}

leec_code Leec_acme_get(leec_ctx *ctx, leec_endpoint ep, const char *url,
                        leec_acme_fn fn, void *userdata, leec_acme_req **handle)
{
    return start(ctx, ep, false, url, NULL, NULL, NULL, "application/json", fn,
                 userdata, handle);
}

void Leec_acme_cancel(leec_ctx *ctx, leec_acme_req *r)
{
    if (!r)
        return;
    if (r->held)
        unhold(ctx, r);
    else if (r->nonce_timer)
        Leec_loop_timer_cancel(ctx, r->nonce_timer);
    else if (Leec_ctx_transport(ctx))
        Leec_http_cancel(Leec_ctx_transport(ctx), r);
    req_free(r);
}

leec_code Leec_queue_attach(leec_ctx *ctx)
{
    struct leec_queue *q = calloc(1, sizeof *q);
    if (!q)
        return LEEC_E_NOMEM;
    q->max_pause_s = 3600;
    Leec_ctx_set_queue(ctx, q);
    return LEEC_OK;
}

void Leec_queue_detach(leec_ctx *ctx)
{
    struct leec_queue *q = Leec_ctx_queue(ctx);
    if (!q)
        return;
    Leec_acme_drop_deferred(ctx);
    Leec_nonce_clear(&q->nonces);
    free(q->counts);
    free(q);
    Leec_ctx_set_queue(ctx, NULL);
}

void Leec_acme_set_nonce_url(leec_ctx *ctx, const char *url)
{
    struct leec_queue *q = Leec_ctx_queue(ctx);
    if (q) /* none while a context that failed to be made is freed */
        q->new_nonce = url;
}

void leec_ctx_set_max_pause(leec_ctx *ctx, unsigned seconds)
{
    Leec_ctx_queue(ctx)->max_pause_s = seconds;
}

time_t leec_ctx_paused_until(leec_ctx *ctx)
{
    /* The wall-clock end computed once when the pause began, so that every
     * caller (and the log line) reports the same second. */
    return Leec_gov_paused_until(Leec_ctx_gov(ctx), Leec_now_ms(ctx))
               ? Leec_ctx_queue(ctx)->pause_wall
               : 0;
}

/* ---- counters ---- */

const char *leec_endpoint_name(leec_endpoint ep)
{
    static const char *const names[LEEC_EP_COUNT] = {
        [LEEC_EP_DIRECTORY] = "directory",
        [LEEC_EP_NEW_NONCE] = "newNonce",
        [LEEC_EP_NEW_ACCOUNT] = "newAccount",
        [LEEC_EP_ACCOUNT] = "account",
        [LEEC_EP_NEW_ORDER] = "newOrder",
        [LEEC_EP_ORDER] = "order",
        [LEEC_EP_AUTHZ] = "authz",
        [LEEC_EP_CHALLENGE] = "challenge",
        [LEEC_EP_FINALIZE] = "finalize",
        [LEEC_EP_CERTIFICATE] = "certificate",
        [LEEC_EP_RENEWAL_INFO] = "renewalInfo",
        [LEEC_EP_REVOKE_CERT] = "revokeCert",
        [LEEC_EP_KEY_CHANGE] = "keyChange",
        [LEEC_EP_OTHER] = "other",
    };
    return (unsigned)ep < LEEC_EP_COUNT ? names[ep] : "other";
}

void Leec_stat_add(leec_ctx *ctx, leec_stat which, uint64_t n)
{
    struct leec_queue *q = Leec_ctx_queue(ctx);
    if (q && (unsigned)which < LEEC_STAT_COUNT)
        q->stat[which] += n;
}

uint64_t leec_ctx_stat(leec_ctx *ctx, leec_stat which)
{
    struct leec_queue *q = ctx ? Leec_ctx_queue(ctx) : NULL;
    return q && (unsigned)which < LEEC_STAT_COUNT ? q->stat[which] : 0;
}

void leec_ctx_foreach_request_count(leec_ctx *ctx, leec_request_count_fn fn,
                                    void *userdata)
{
    struct leec_queue *q = ctx ? Leec_ctx_queue(ctx) : NULL;
    for (size_t i = 0; q && fn && i < q->ncounts; i++)
        fn(userdata, q->counts[i].ep, q->counts[i].status, q->counts[i].n);
}
