/* Test doubles for the state-machine tests: a scripted transport that
 * replaces lib/http.c (fake_http.c), a fake clock, and a small in-process
 * ACME CA (fake_ca.c). No network, no sleeping. */
#ifndef LEEC_TEST_FAKE_H
#define LEEC_TEST_FAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/http.h"
#include "engine/internal.h"

/* ---- fake clock ---- */
/* The clock handed to Leec_ctx_set_clock(ctx, fake_clock, NULL). */
int64_t fake_clock(void *ud);
void fake_clock_set(int64_t now_ms);
int64_t fake_clock_now(void);

/* ---- fake transport ---- */
typedef struct fake_request {
    const char *method; /* "GET", "HEAD", "POST" */
    const char *url;
    const char *body;         /* NULL for GET/HEAD */
    const char *content_type; /* of the body, may be NULL */
    const char *accept;       /* may be NULL */
} fake_request;

/* Fills resp (err/status/body/headers: strings malloc'd, freed by the
 * transport after the callback). resp->body is initialised (capped at
 * LEEC_MAX_BODY) and resp->err is LEEC_OK on entry. */
typedef void (*fake_responder)(void *ud, const fake_request *req,
                               leec_http_resp *resp);

void fake_http_set_responder(fake_responder fn, void *ud);

/* One sent request as the log keeps it. */
typedef struct fake_log_entry {
    char *method;
    char *url;
    int64_t t_ms;     /* fake clock at submission */
    char *protected_; /* decoded JWS protected header (JSON text) or NULL */
    char *payload;    /* decoded JWS payload ("" for POST-as-GET) or NULL */
    long status;      /* status answered (0 if never answered) */
} fake_log_entry;

size_t fake_http_log_count(void);
const fake_log_entry *fake_http_log(size_t i);
/* Number of logged requests with this method whose URL starts with
 * url_prefix (NULL: any). */
size_t fake_http_count(const char *method, const char *url_prefix);
void fake_http_log_clear(void);
/* Requests submitted and not yet answered (over every transport). */
size_t fake_http_pending(void);
/* While held, perform answers nothing (requests stay in flight). */
void fake_http_hold(bool hold);
bool fake_http_held(void);
/* Frees what the log holds (end of a test). */
void fake_http_reset(void);

/* Helpers for responders. */
void fake_resp_set(char **slot, const char *value);
void fake_resp_body(leec_http_resp *resp, const char *content_type,
                    const char *body);

/* Runs the context until no agent runs: perform; when nothing is queued,
 * jump the fake clock to the context's next deadline. Returns the number
 * of iterations, or -1 if the loop got stuck or exceeded max_iter. */
int fake_drive(leec_ctx *ctx, int max_iter);
/* Like fake_drive but stops as soon as stop(ud) is true (checked after each
 * perform). Returns -1 if it never was. */
int fake_drive_until(leec_ctx *ctx, int max_iter, bool (*stop)(void *ud),
                     void *ud);

/* ---- fake CA ---- */
#define FAKE_CA_BASE "https://ca.test"
#define FAKE_CA_DIR  FAKE_CA_BASE "/dir"

typedef enum fake_endpoint {
    FAKE_EP_NONE = 0,
    FAKE_EP_NEW_ORDER,
    FAKE_EP_AUTHZ,
    FAKE_EP_ORDER,
} fake_endpoint;

typedef enum fake_bad_body {
    FAKE_BODY_MALFORMED = 0, /* not JSON at all */
    FAKE_BODY_WRONG_TYPES,   /* "status": 5, "authorizations": "x", ... */
} fake_bad_body;

typedef struct fake_ca_knobs {
    int bad_nonces;             /* reject the next N signed requests */
    const char *retry_after;    /* Retry-After on poll responses */
    int authz_pending_polls;    /* K: polls still pending after the POST */
    int order_processing_polls; /* P: polls answered "processing" */
    bool order_processing_forever;
    bool authz_fail; /* authorizations become invalid */
    const char *authz_fail_detail;
    fake_endpoint bad_endpoint; /* answer this endpoint with a bad body */
    fake_bad_body bad_body;
    const char *const *issue_names; /* issue for these names instead */
    size_t issue_nnames;
    bool dir_without_nonce;       /* the directory has no Replay-Nonce */
    bool dir_http_url;            /* newOrder URL in the directory is http:// */
    const char *terms;            /* meta.termsOfService */
    int authz_poll_500;           /* answer N authz polls with a 500 */
    bool reject_identifiers;      /* newOrder: 400 rejectedIdentifier + subs */
    const char *authz_ident;      /* every authorization names this value */
    const char *authz_ident_type; /* ... of this type (default "dns") */
    /* Answer the next limit_count signed requests to limit_endpoint with
     * limit_status (0: 429), a rateLimited problem and, unless NULL,
     * Retry-After: limit_retry_after. The nonce is used up, as at a CA. */
    fake_endpoint limit_endpoint;
    int limit_count;
    long limit_status;
    const char *limit_retry_after;
    /* When the N-th newOrder comes (1: the first), forget every account
     * first, as a CA that restarted: requests signed with their keys get
     * accountDoesNotExist. 0: never. */
    int forget_accounts_at_order;
    /* Answer the next N newNonce requests with this status (a proxy that
     * lost the CA: 502), no Replay-Nonce. */
    int nonce_fail_count;
    long nonce_fail_status;
} fake_ca_knobs;

typedef struct fake_ca_stats {
    int dir, nonce, new_account, new_order, authz_get, chall_post, finalize,
        order_get, cert_get;
    int bad_nonce_sent;   /* badNonce answers (knob or replayed nonce) */
    int verify_failures;  /* JWS checks that failed (must stay 0) */
    int keyauth_failures; /* challenge POSTed while the key authorization
                             was not served by the client */
    int http500_sent;
    int limited_sent; /* answers from the limit_* knobs */
} fake_ca_stats;

typedef struct fake_ca {
    fake_ca_knobs knobs;
    fake_ca_stats stats;
    leec_ctx *client;         /* to check key authorizations; may be NULL */
    struct fake_ca_state *st; /* internal */
} fake_ca;

fake_ca *fake_ca_new(void);
void fake_ca_free(fake_ca *ca);
/* The responder to install with fake_http_set_responder(fake_ca_respond, ca).
 */
void fake_ca_respond(void *ud, const fake_request *req, leec_http_resp *resp);
/* What happened to order oi (0: the first made) while no client looked:
 * its status becomes status ("invalid", ...), or, NULL, it is gone (404,
 * as a CA that forgot it). */
void fake_ca_order_set(fake_ca *ca, size_t oi, const char *status);
/* The CA certificate (PEM). */
const char *fake_ca_cert_pem(const fake_ca *ca);

#endif
