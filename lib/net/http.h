/* The shared HTTP transport: one libcurl multi handle per context, reused
 * connections, non-blocking. Only http.c includes libcurl; tests link a fake
 * transport with the same functions (tests/fsm/fake_http.c). */
#ifndef LEEC_HTTP_H
#define LEEC_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "leec/leec.h"

typedef struct leec_http leec_http;

#define LEEC_HTTP_HEADER_MAX 8192 /* a longer header line is ignored */
#define LEEC_HTTP_LINKS_MAX  16   /* Link values kept per response */

typedef struct leec_http_opts {
    const char *ca_bundle; /* NULL: system store */
    const char *user_agent;
    size_t max_body; /* cap on a response body */
    long connect_timeout_ms;
    long timeout_ms; /* whole request */
} leec_http_opts;

typedef struct leec_http_link {
    char *url;
    char *rel;
} leec_http_link;

/* A response. Header values are NULL when absent; they are copied only if
 * short (a header line is capped at 8 KiB). */
typedef struct leec_http_resp {
    leec_code err; /* LEEC_OK when an HTTP response arrived */
    char *errmsg;  /* transport error text (curl's), else NULL */
    long status;
    leec_buf body;
    char *content_type; /* media type without parameters, lower-case */
    char *location;
    char *replay_nonce;
    char *retry_after;     /* raw header value */
    leec_http_link *links; /* Link headers, at most 16 */
    size_t nlinks;
} leec_http_resp;

/* Takes one line of a response's header section as received (the status
 * line, "Name: value\r\n", or the empty line) into resp: Content-Type,
 * Location, Replay-Nonce, Retry-After and Link (http_headers.c, no curl). A
 * status line starts a new response (after 100-continue): the values kept
 * so far are dropped. */
void Leec_http_header_line(leec_http_resp *resp, const char *line, size_t n);
/* Frees what resp holds (its strings, body and links), not resp itself. */
void Leec_http_resp_clear(leec_http_resp *resp);

/* Called once per request, from Leec_http_perform(). resp is owned by the
 * transport and valid only during the call. */
typedef void (*leec_http_done_fn)(void *userdata, leec_http_resp *resp);

leec_http *Leec_http_new(const leec_http_opts *opts);
void Leec_http_free(leec_http *h);

/*
 * Starts a request to an https:// URL (other schemes fail when the request
 * runs: LEEC_E_HTTP in the response). method is "GET", "HEAD" or "POST";
 * body (POST) is copied; content_type for the body, accept for the Accept
 * header (NULL: none). userdata identifies the request for
 * Leec_http_cancel(). Errors: LEEC_E_NOMEM, LEEC_E_HTTP.
 */
leec_code Leec_http_submit(leec_http *h, const char *method, const char *url,
                           const char *body, const char *content_type,
                           const char *accept, leec_http_done_fn fn,
                           void *userdata);

/*
 * Leec_http_submit with extra request headers: headers is NULL or a
 * NULL-terminated array of "Name: value" lines (copied; a line with CR/LF
 * or a bad name is refused with LEEC_E_INVALID_ARG). method may also be
 * another verb ("DELETE", "PUT"), sent as is, with body when not NULL.
 */
leec_code Leec_http_submit_headers(leec_http *h, const char *method,
                                   const char *url, const char *body,
                                   const char *content_type, const char *accept,
                                   const char *const *headers,
                                   leec_http_done_fn fn, void *userdata);

/* Settings of one request, tighter than the transport's (0: the
 * transport's own). */
typedef struct leec_http_req_opts {
    /* Also plain http:// URLs. Every request is https:// only otherwise:
     * only the AIA caIssuers fetch (aia.c) sets it, since RFC 5280
     * §4.2.2.1 publishes issuers over http (the certificate fetched is
     * checked by signature, not by the channel). */
    bool allow_http;
    size_t max_body; /* cap on the body, at most the transport's */
    long timeout_ms; /* whole request, at most the transport's */
} leec_http_req_opts;

/*
 * Leec_http_submit_headers with per-request settings (o may be NULL: none).
 */
leec_code Leec_http_submit_opts(leec_http *h, const char *method,
                                const char *url, const char *body,
                                const char *content_type, const char *accept,
                                const char *const *headers,
                                const leec_http_req_opts *o,
                                leec_http_done_fn fn, void *userdata);

/* Drops every request with this userdata; their callbacks never run. */
void Leec_http_cancel(leec_http *h, void *userdata);

/* Reads/writes what is ready and runs callbacks of finished requests. */
leec_code Leec_http_perform(leec_http *h);

/* An epoll descriptor that is readable when a socket of the transport has
 * work; perform() then. -1 when the transport has none (a fake one). */
int Leec_http_fd(leec_http *h);

/* Milliseconds until the transport needs perform() (-1: no requests). */
long Leec_http_timeout_ms(leec_http *h);

/* Requests started so far. */
unsigned long Leec_http_request_count(leec_http *h);

/* Connections (TCP + TLS handshakes) opened so far. */
unsigned long Leec_http_connection_count(leec_http *h);

#endif
