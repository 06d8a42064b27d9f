/* The root above a chain that stops short of it: the top certificate's
 * Authority Information Access caIssuers URL (RFC 5280 §4.2.2.1) is fetched
 * through the context's transport, the answer is checked to be that
 * certificate's issuer (x509.c: names, key identifiers, signature), and so
 * on from the issuer until a self-signed certificate. The URLs are usually
 * plain http: the transport allows it for these requests alone, and the
 * certificates fetched are trusted for their signatures, never for the
 * channel. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/internal.h"
#include "crypto/x509.h"

#define AIA_MAX_HOPS   4           /* issuers fetched at most */
#define AIA_MAX_BODY   (64 * 1024) /* a certificate, or a small bundle */
#define AIA_TIMEOUT_MS 15000       /* one fetch, connection included */
#define AIA_SLACK_MS   5000        /* our own guard beyond the transport's */

static const char aia_accept[] =
    "application/pkix-cert, application/pkcs7-mime, "
    "application/x-x509-ca-cert, application/x-pem-file, */*;q=0.1";

typedef struct aia_fetch {
    bool done;
    leec_code err;
    long status;
    char *errmsg; /* the transport's, sanitised */
    leec_buf body;
} aia_fetch;

/* A copy with anything but printable ASCII replaced (curl's messages may
 * quote what the server sent). */
static char *printable_dup(const char *s)
{
    char *d = strdup(s);
    for (char *p = d; p && *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
    return d;
}

static void on_answer(void *ud, leec_http_resp *r)
{
    aia_fetch *f = ud;
    f->done = true;
    f->err = r->err;
    f->status = r->status;
    if (r->errmsg)
        f->errmsg = printable_dup(r->errmsg);
    if (r->err == LEEC_OK && r->body.len &&
        Leec_buf_append(&f->body, r->body.data, r->body.len) != LEEC_OK)
        f->err = LEEC_E_NOMEM;
}

/* http:// or https://, a host, no spaces or control bytes, short. */
static bool aia_url_ok(const char *url)
{
    size_t skip;
    if (strncasecmp(url, "http://", 7) == 0)
        skip = 7;
    else if (strncasecmp(url, "https://", 8) == 0)
        skip = 8;
    else
        return false;
    if (strlen(url) > LEEC_MAX_URL || url[skip] == '\0' || url[skip] == '/')
        return false;
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return false;
    return true;
}

/* A one-line reason into *why (when wanted; NULL if out of memory). */
static void set_why(char **why, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_why(char **why, const char *fmt, ...)
{
    if (!why)
        return;
    free(*why);
    *why = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(why, fmt, ap) < 0)
        *why = NULL;
    va_end(ap);
}

/* GETs url through the context's transport, driving the context's loop
 * until the answer is in: a 200 with its body (capped) in *f. */
static leec_code fetch_one(leec_ctx *ctx, const char *url, aia_fetch *f,
                           char **why)
{
    leec_code rc = LEEC_E_NOMEM;
    leec_http *h = Leec_ctx_http(ctx);
    const leec_http_req_opts o = {.allow_http = true,
                                  .max_body = AIA_MAX_BODY,
                                  .timeout_ms = AIA_TIMEOUT_MS};
    if (!h) {
        set_why(why, "%s: %s", url, leec_strerror(rc));
        return rc;
    }
    Leec_log(ctx, LEEC_LOG_INFO, "fetching an issuer from %s", url);
    rc = Leec_http_submit_opts(h, "GET", url, NULL, NULL, aia_accept, NULL, &o,
                               on_answer, f);
    if (rc != LEEC_OK) {
        set_why(why, "%s: %s", url, leec_strerror(rc));
        return rc;
    }
    int64_t deadline = Leec_now_ms(ctx) + AIA_TIMEOUT_MS + AIA_SLACK_MS;
    while (!f->done) {
        rc = leec_ctx_perform(ctx, NULL);
        if (f->done)
            break;
        int64_t left = deadline - Leec_now_ms(ctx);
        if (rc == LEEC_OK && left <= 0)
            rc = LEEC_E_TIMEOUT;
        if (rc == LEEC_OK)
            rc = leec_ctx_poll(ctx, (int)left);
        if (rc != LEEC_OK) {
            Leec_http_cancel(h, f);
            set_why(why, "%s: %s", url, leec_strerror(rc));
            return rc;
        }
    }
    if (f->err != LEEC_OK) {
        set_why(why, "%s: %s%s%s", url, leec_strerror(f->err),
                f->errmsg ? ": " : "", f->errmsg ? f->errmsg : "");
        return f->err;
    }
    if (f->status != 200) {
        set_why(why, "%s: HTTP status %ld", url, f->status);
        return LEEC_E_HTTP;
    }
    return LEEC_OK;
}

leec_code leec_ctx_fetch_root(leec_ctx *ctx, const char *chain_pem, size_t len,
                              char **root_pem, char **why)
{
    leec_code rc = LEEC_E_INVALID_ARG;
    char *cur = NULL, *subject = NULL, *issuer = NULL, *url = NULL;
    char *next = NULL, *reason = NULL;
    bool self_signed = false;
    aia_fetch f = {.done = false};
    Leec_buf_init(&f.body, AIA_MAX_BODY);
    if (root_pem)
        *root_pem = NULL;
    if (why)
        *why = NULL;
    if (!ctx || !chain_pem || !root_pem) {
        set_why(why, "%s", leec_strerror(rc));
        goto out;
    }
    if (Leec_ctx_depth(ctx) > 0) {
        rc = LEEC_E_STATE;
        set_why(why, "called from inside leec_ctx_perform()");
        goto out;
    }
    rc = leec_chain_top(chain_pem, len, &cur, &subject, &issuer, &self_signed,
                        &url);
    if (rc != LEEC_OK) {
        set_why(why, "%s",
                rc == LEEC_E_INVALID_ARG ? "not a chain of PEM certificates"
                                         : leec_strerror(rc));
        goto out;
    }
    for (int hop = 0; !self_signed; hop++) {
        if (hop == AIA_MAX_HOPS) {
            rc = LEEC_E_PROTOCOL;
            set_why(why,
                    "no self-signed certificate after %d issuers fetched "
                    "(the last, %s, is issued by %s)",
                    hop, subject ? subject : "?", issuer ? issuer : "?");
            goto out;
        }
        if (!url) {
            rc = LEEC_E_NOT_FOUND;
            set_why(why,
                    "the certificate %s (issued by %s) names no caIssuers "
                    "URL to fetch its issuer from",
                    subject ? subject : "?", issuer ? issuer : "?");
            goto out;
        }
        if (!aia_url_ok(url)) {
            rc = LEEC_E_NOT_FOUND;
            set_why(why,
                    "%s: the caIssuers URL of %s is not an http or https "
                    "URL",
                    url, subject ? subject : "?");
            goto out;
        }
        free(f.errmsg);
        f.errmsg = NULL;
        f.done = false;
        Leec_buf_reset(&f.body);
        if ((rc = fetch_one(ctx, url, &f, why)) != LEEC_OK)
            goto out;
        rc = Leec_issuer_from_answer(cur, strlen(cur),
                                     (const unsigned char *)f.body.data,
                                     f.body.len, &next, why ? &reason : NULL);
        if (rc != LEEC_OK) {
            set_why(why, "%s: %s", url, reason ? reason : leec_strerror(rc));
            goto out;
        }
        Leec_log(ctx, LEEC_LOG_INFO, "%s: the issuer of %s", url,
                 subject ? subject : "?");
        free(cur);
        free(subject);
        free(issuer);
        free(url);
        cur = next;
        next = subject = issuer = url = NULL;
        rc = leec_chain_top(cur, strlen(cur), NULL, &subject, &issuer,
                            &self_signed, &url);
        if (rc != LEEC_OK) {
            set_why(why, "%s", leec_strerror(rc));
            goto out;
        }
    }
    *root_pem = cur;
    cur = NULL;
    rc = LEEC_OK;
out:
    free(cur);
    free(subject);
    free(issuer);
    free(url);
    free(next);
    free(reason);
    free(f.errmsg);
    Leec_buf_free(&f.body);
    return rc;
}
