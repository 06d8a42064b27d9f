#define _GNU_SOURCE
/* Signed ACME requests: nonces, JWS, badNonce retries, response parsing.
 * The agent sees one callback per logical request, whatever happened below. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "jws.h"
#include "json.h"
#include "problem.h"

struct leec_acme_req {
    leec_ctx *ctx;
    bool post;
    char *url;
    char *payload;      /* NULL: POST-as-GET */
    const leec_key *key;
    char *kid;
    char *accept;
    leec_acme_fn fn;
    void *userdata;
    int nonce_tries;
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
    leec_code rc = leec_jws_sign(r->key, r->kid, nonce, r->url, r->payload,
                                 &jws);
    free(nonce);
    if (rc != LEEC_OK)
        return rc;
    rc = leec_http_submit(r->ctx->http, "POST", r->url, jws,
                          "application/jose+json", r->accept, on_response, r);
    free(jws);
    return rc;
}

static void on_nonce(void *ud, leec_http_resp *hr)
{
    leec_acme_req *r = ud;
    leec_ctx *ctx = r->ctx;
    if (hr->err != LEEC_OK) {
        deliver_error(r, hr->err, hr->errmsg);
        return;
    }
    leec_nonce_put(&ctx->nonces, hr->replay_nonce);
    char *nonce = leec_nonce_take(&ctx->nonces);
    if (!nonce) {
        deliver_error(r, LEEC_E_PROTOCOL, "newNonce gave no valid Replay-Nonce");
        return;
    }
    leec_code rc = send_signed(r, nonce);
    if (rc != LEEC_OK)
        deliver_error(r, rc, NULL);
}

/* Sends r now, or after fetching a nonce when the pool is empty. */
static leec_code dispatch(leec_acme_req *r)
{
    leec_ctx *ctx = r->ctx;
    if (!r->post)
        return leec_http_submit(ctx->http, "GET", r->url, NULL, NULL,
                                r->accept, on_response, r);
    char *nonce = leec_nonce_take(&ctx->nonces);
    if (nonce)
        return send_signed(r, nonce);
    if (!ctx->dir.new_nonce)
        return LEEC_E_STATE;
    return leec_http_submit(ctx->http, "HEAD", ctx->dir.new_nonce, NULL, NULL,
                            NULL, on_nonce, r);
}

static bool is_json_type(const char *ct)
{
    return ct && (strcmp(ct, "application/json") == 0 ||
                  strcmp(ct, "application/problem+json") == 0);
}

static void on_response(void *ud, leec_http_resp *hr)
{
    leec_acme_req *r = ud;
    leec_ctx *ctx = r->ctx;
    if (hr->err != LEEC_OK) {
        leec_log(ctx, LEEC_LOG_DEBUG, "%s: transport error: %s", r->url,
                 hr->errmsg ? hr->errmsg : leec_strerror(hr->err));
        deliver_error(r, hr->err, hr->errmsg);
        return;
    }
    leec_nonce_put(&ctx->nonces, hr->replay_nonce);

    leec_acme_resp resp;
    memset(&resp, 0, sizeof resp);
    resp.http = hr;
    resp.status = hr->status;
    resp.location = hr->location;
    resp.body = &hr->body;
    resp.content_type = hr->content_type;
    resp.retry_after = leec_retry_after_seconds(hr->retry_after,
                                                time(NULL));
    if (is_json_type(hr->content_type) && hr->body.len)
        (void)leec_json_parse_object(hr->body.data, hr->body.len, &resp.json);
    if (hr->status >= 400) {
        resp.problem = resp.json ? leec_problem_from_json(resp.json,
                                                          hr->status,
                                                          resp.retry_after)
                                 : NULL;
        /* RFC 8555 §6.5: retry a badNonce with the nonce it carried. */
        if (r->post && leec_problem_is(resp.problem, "badNonce") &&
            r->nonce_tries < LEEC_BADNONCE_RETRIES) {
            r->nonce_tries++;
            leec_log(ctx, LEEC_LOG_DEBUG, "badNonce on %s, retrying (%d)",
                     r->url, r->nonce_tries);
            leec_problem_free(resp.problem);
            json_decref(resp.json);
            leec_code rc = dispatch(r);
            if (rc != LEEC_OK)
                deliver_error(r, rc, NULL);
            return;
        }
    }
    resp.err = LEEC_OK;
    r->fn(r->userdata, &resp);
    leec_problem_free(resp.problem);
    json_decref(resp.json);
    req_free(r);
}

static leec_code start(leec_ctx *ctx, bool post, const char *url,
                       const char *payload, const leec_key *key,
                       const char *kid, const char *accept, leec_acme_fn fn,
                       void *userdata, leec_acme_req **handle)
{
    if (!leec_url_ok(url))
        return LEEC_E_INSECURE_URL;
    leec_acme_req *r = calloc(1, sizeof *r);
    if (!r)
        return LEEC_E_NOMEM;
    r->ctx = ctx;
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

leec_code leec_acme_post(leec_ctx *ctx, const char *url, const char *payload,
                         const leec_key *key, const char *kid,
                         const char *accept, leec_acme_fn fn, void *userdata,
                         leec_acme_req **handle)
{
    return start(ctx, true, url, payload, key, kid, accept, fn, userdata,
                 handle);
}

leec_code leec_acme_get(leec_ctx *ctx, const char *url, leec_acme_fn fn,
                        void *userdata, leec_acme_req **handle)
{
    return start(ctx, false, url, NULL, NULL, NULL, "application/json", fn,
                 userdata, handle);
}

void leec_acme_cancel(leec_ctx *ctx, leec_acme_req *r)
{
    if (!r)
        return;
    leec_http_cancel(ctx->http, r);
    req_free(r);
}
