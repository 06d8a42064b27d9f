/*
 * The OVH API as a dns-01 provider (https://api.ovh.com/). Every call is
 * signed as OVH documents it:
 *
 *   X-Ovh-Application: application key
 *   X-Ovh-Consumer:    consumer key
 *   X-Ovh-Timestamp:   server time (local time + the delta learnt once from
 *                      the unauthenticated GET /auth/time)
 *   X-Ovh-Signature:   "$1$" + hex(SHA1(secret + "+" + consumer key + "+" +
 *                      METHOD + "+" + full URL + "+" + body + "+" + ts))
 *
 * add:    POST /domain/zone/{zone}/record {"fieldType":"TXT",...} -> id,
 *         then POST /domain/zone/{zone}/refresh (the zone is only served
 *         once refreshed).
 * remove: DELETE /domain/zone/{zone}/record/{id}, then the refresh again.
 *
 * Requests go through a transport of its own (its own CA bundle), whose
 * descriptor and deadline live on the context's loop. The blocking remove
 * (done == NULL) uses a second, private transport driven here, bounded.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "acme/directory.h"
#include "util/log.h"
#include "util/buf.h"
#include "util/log.h"
#include "acme/directory.h"
#include "crypto/crypto.h"
#include "net/http.h"
#include "util/json.h"
#include "util/loop.h"
#include "solver/providers.h"

#define CREDS_MAX      (16 * 1024) /* a credentials file is a few lines */
#define VALUE_MAX      1024        /* any one credential */
#define RESP_MAX       (64 * 1024) /* OVH's answers here are small objects */
#define MSG_MAX        200         /* OVH's "message" as quoted in errors */
#define SYNC_BUDGET_MS 5000        /* the whole blocking remove */

/* Test hooks (tests/unit/test_ovh.c), not part of any header. */
leec_code Leec_ovh_sign(const char *secret, const char *consumer_key,
                        const char *method, const char *url, const char *body,
                        long long timestamp, char out[44]);
leec_code Leec_ovh_split(const char *zone, const char *fqdn, char **ovh_zone,
                         char **sub);
const char *Leec_ovh_cred(const leec_dns_provider *p, const char *key);

typedef struct ovh ovh;

typedef enum {
    OP_TIME_WAIT,   /* waits for /auth/time */
    OP_CREATE,      /* POST record in flight */
    OP_REFRESH_ADD, /* POST refresh in flight (after the create) */
    OP_ADDED,       /* add reported LEEC_OK */
    OP_FAILED,      /* add reported an error */
    OP_DELETE,      /* DELETE in flight (remove) */
    OP_REFRESH_DEL, /* POST refresh in flight (after the delete) */
} op_state;

typedef struct ovh_op {
    struct ovh_op *next;
    ovh *p;
    op_state state;
    char *zone; /* OVH's zone name: "example.com" */
    char *sub;  /* "_acme-challenge.www" */
    char *fqdn; /* for logs */
    char *value;
    long long id;  /* the record, 0 until created */
    bool removing; /* remove() was called: add's done is not reported */
    leec_solver_done_fn done; /* add's, then remove's */
    void *userdata;
} ovh_op;

struct ovh {
    leec_ctx *ctx;
    char *endpoint; /* without a trailing '/' */
    char *app_key;
    char *app_secret;   /* secret */
    char *consumer_key; /* secret */
    char *ca_bundle;
    leec_http *http;
    leec_http *sync_http; /* the blocking remove's, made when needed */
    bool watched;
    leec_timer *timer;
    enum { TIME_UNKNOWN, TIME_ASKED, TIME_KNOWN } time_state;
    long long delta; /* server time - local time, seconds */
    ovh_op *ops;     /* every op not yet freed */
    int depth;       /* > 0 inside perform: destroy is deferred */
    bool dead;
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                        */
/* ------------------------------------------------------------------ */

static void secret_free(char *s)
{
    if (s)
        explicit_bzero(s, strlen(s));
    free(s);
}

leec_code Leec_ovh_sign(const char *secret, const char *consumer_key,
                        const char *method, const char *url, const char *body,
                        long long timestamp, char out[44])
{
    leec_code rc;
    leec_buf b;
    char hex[41];

    Leec_buf_init(&b, 0);
    if (!secret || !consumer_key || !method || !url || !out)
        return LEEC_E_INVALID_ARG;
    rc = Leec_buf_printf(&b, "%s+%s+%s+%s+%s+%lld", secret, consumer_key,
                         method, url, body ? body : "", timestamp);
    if (rc != LEEC_OK)
        goto out;
    Leec_sha1_hex(b.data, b.len, hex);
    memcpy(out, "$1$", 3);
    memcpy(out + 3, hex, sizeof hex);
out:
    if (b.data)
        explicit_bzero(b.data, b.len);
    Leec_buf_free(&b);
    return rc;
}

/* A DNS name as it may appear in a URL path and a subDomain: letters,
 * digits, '-', '_' and '.'. */
static bool name_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

leec_code Leec_ovh_split(const char *zone, const char *fqdn, char **ovh_zone,
                         char **sub)
{
    leec_code rc = LEEC_E_INVALID_ARG;
    char *z = NULL, *s = NULL;
    size_t zl, fl;

    if (!zone || !fqdn || !ovh_zone || !sub)
        return LEEC_E_INVALID_ARG;
    *ovh_zone = *sub = NULL;
    zl = strlen(zone);
    fl = strlen(fqdn);
    if (zl && zone[zl - 1] == '.')
        zl--;
    if (fl && fqdn[fl - 1] == '.')
        fl--;
    if (zl == 0 || zl > 253 || fl > 253 || !name_ok(zone, zl) ||
        !name_ok(fqdn, fl) || zone[0] == '.' || fqdn[0] == '.')
        goto out;
    if (fl == zl) {
        if (strncasecmp(fqdn, zone, zl) != 0)
            goto out;
        s = strdup("");
    } else {
        /* fqdn = sub "." zone */
        if (fl < zl + 2 || fqdn[fl - zl - 1] != '.' ||
            strncasecmp(fqdn + fl - zl, zone, zl) != 0)
            goto out;
        s = strndup(fqdn, fl - zl - 1);
    }
    z = strndup(zone, zl);
    rc = (z && s) ? LEEC_OK : LEEC_E_NOMEM;
    if (rc == LEEC_OK) {
        for (char *c = z; *c; c++) /* OVH's zone names are lower-case */
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        *ovh_zone = z;
        *sub = s;
        z = s = NULL;
    }
out:
    free(z);
    free(s);
    return rc;
}

/* OVH's error text: the "message" member, printable ASCII, shortened. */
static char *ovh_message(const leec_http_resp *r)
{
    leec_json *j = NULL;
    char *m = NULL;
    const char *s;

    if (!r->body.data || !r->body.len)
        return NULL;
    j = Leec_json_parse_any(r->body.data, r->body.len);
    s = Leec_json_str(j, "message");
    if (s) {
        m = strndup(s, MSG_MAX);
        for (char *c = m; c && *c; c++)
            if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
                *c = '?';
    }
    Leec_json_free(j);
    return m;
}

/* Parses the body as any JSON value (OVH answers numbers and null, too). */
static leec_json *body_json(const leec_http_resp *r)
{
    if (!r->body.data || !r->body.len)
        return NULL;
    return Leec_json_parse_any(r->body.data, r->body.len);
}

/* LEEC_OK for a 200, else the code, with msg (malloc'd) saying why. */
static leec_code resp_check(const char *what, const leec_http_resp *r,
                            char **msg)
{
    char *m = NULL;
    int n;

    *msg = NULL;
    if (r->err != LEEC_OK) {
        n = asprintf(msg, "OVH %s: %s", what,
                     r->errmsg ? r->errmsg : leec_strerror(r->err));
        if (n < 0)
            *msg = NULL;
        return r->err;
    }
    if (r->status == 200)
        return LEEC_OK;
    m = ovh_message(r);
    n = asprintf(msg, "OVH %s: HTTP %ld%s%s", what, r->status, m ? ": " : "",
                 m ? m : "");
    if (n < 0)
        *msg = NULL;
    free(m);
    return LEEC_E_SOLVER;
}

/* ------------------------------------------------------------------ */
/* The transport on the context's loop                                  */
/* ------------------------------------------------------------------ */

static void provider_free(ovh *p);
static void drive(ovh *p);
static void on_timer(void *ud);

static void rearm(ovh *p)
{
    if (p->dead)
        return;
    Leec_loop_timer_cancel(p->ctx, p->timer);
    p->timer = NULL;
    long t = Leec_http_timeout_ms(p->http);
    if (t >= 0) {
        p->timer =
            Leec_loop_timer(p->ctx, Leec_now_ms(p->ctx) + t, on_timer, p);
        if (!p->timer)
            Leec_log(p->ctx, LEEC_LOG_ERROR,
                     "OVH: out of memory arming a timer");
    }
}

static void on_io(void *ud, int fd, unsigned events)
{
    (void)fd;
    (void)events;
    drive(ud);
}

static void on_timer(void *ud)
{
    ovh *p = ud;
    p->timer = NULL; /* the loop has dropped it */
    drive(p);
}

/* Runs the transport: from the descriptor or the timer. */
static void drive(ovh *p)
{
    p->depth++;
    leec_code rc = Leec_http_perform(p->http);
    p->depth--;
    if (p->dead) {
        if (p->depth == 0)
            provider_free(p);
        return;
    }
    if (rc != LEEC_OK)
        Leec_log(p->ctx, LEEC_LOG_WARN, "OVH: transport: %s",
                 leec_strerror(rc));
    rearm(p);
}

static long long ovh_now(const ovh *p)
{
    return (long long)time(NULL) + p->delta;
}

/* Headers of a signed call; *hv holds their text, freed by the caller. */
static leec_code sign_headers(ovh *p, const char *method, const char *url,
                              const char *body, char **hv, size_t *hvlen,
                              const char *h[5])
{
    leec_code rc;
    char sig[44];
    long long ts = ovh_now(p);
    leec_buf b;
    size_t o1, o2, o3;

    Leec_buf_init(&b, 0);
    *hv = NULL;
    rc = Leec_ovh_sign(p->app_secret, p->consumer_key, method, url, body, ts,
                       sig);
    if (rc != LEEC_OK)
        goto out;
    /* One allocation, four NUL-separated lines. */
    rc = Leec_buf_printf(&b, "X-Ovh-Application: %s", p->app_key);
    o1 = b.len + 1;
    if (rc == LEEC_OK)
        rc = Leec_buf_append(&b, "", 1);
    if (rc == LEEC_OK)
        rc = Leec_buf_printf(&b, "X-Ovh-Consumer: %s", p->consumer_key);
    o2 = b.len + 1;
    if (rc == LEEC_OK)
        rc = Leec_buf_append(&b, "", 1);
    if (rc == LEEC_OK)
        rc = Leec_buf_printf(&b, "X-Ovh-Timestamp: %lld", ts);
    o3 = b.len + 1;
    if (rc == LEEC_OK)
        rc = Leec_buf_append(&b, "", 1);
    if (rc == LEEC_OK)
        rc = Leec_buf_printf(&b, "X-Ovh-Signature: %s", sig);
    if (rc != LEEC_OK)
        goto out;
    h[0] = b.data;
    h[1] = b.data + o1;
    h[2] = b.data + o2;
    h[3] = b.data + o3;
    h[4] = NULL;
    *hvlen = b.len;
    *hv = b.data;
    b.data = NULL;
out:
    if (b.data)
        explicit_bzero(b.data, b.len);
    Leec_buf_free(&b);
    return rc;
}

/* A signed call on transport h: {endpoint}{path}. */
static leec_code ovh_submit(ovh *p, leec_http *h, const char *method,
                            const char *path, const char *body,
                            leec_http_done_fn fn, void *ud)
{
    leec_code rc;
    char *url = NULL, *hv = NULL;
    size_t hvlen = 0;
    const char *hdrs[5];

    if (asprintf(&url, "%s%s", p->endpoint, path) < 0) {
        url = NULL;
        rc = LEEC_E_NOMEM;
        goto out;
    }
    rc = sign_headers(p, method, url, body, &hv, &hvlen, hdrs);
    if (rc != LEEC_OK)
        goto out;
    Leec_log(p->ctx, LEEC_LOG_DEBUG, "OVH: %s %s", method, url);
    rc = Leec_http_submit_headers(h, method, url, body,
                                  body ? "application/json" : NULL,
                                  "application/json", hdrs, fn, ud);
out:
    if (hv)
        explicit_bzero(hv, hvlen); /* the consumer key is in there */
    free(hv);
    free(url);
    return rc;
}

/* Submits on the loop's transport and keeps the loop informed. */
static leec_code loop_submit(ovh *p, ovh_op *o, const char *method,
                             const char *path, const char *body,
                             leec_http_done_fn fn, bool signed_call)
{
    leec_code rc;
    void *ud = o ? (void *)o : (void *)p;

    if (!p->watched) {
        rc = Leec_loop_watch(p->ctx, Leec_http_fd(p->http), EPOLLIN, on_io, p);
        if (rc != LEEC_OK)
            return rc;
        p->watched = true;
    }
    if (signed_call) {
        rc = ovh_submit(p, p->http, method, path, body, fn, ud);
    } else {
        char *url = NULL;
        if (asprintf(&url, "%s%s", p->endpoint, path) < 0)
            return LEEC_E_NOMEM;
        Leec_log(p->ctx, LEEC_LOG_DEBUG, "OVH: %s %s", method, url);
        rc = Leec_http_submit(p->http, method, url, NULL, NULL,
                              "application/json", fn, ud);
        free(url);
    }
    if (rc == LEEC_OK && p->depth == 0)
        rearm(p);
    return rc;
}

/* ------------------------------------------------------------------ */
/* The steps of add and remove                                          */
/* ------------------------------------------------------------------ */

static void op_free(ovh_op *o)
{
    if (!o)
        return;
    for (ovh_op **pp = &o->p->ops; *pp; pp = &(*pp)->next) {
        if (*pp == o) {
            *pp = o->next;
            break;
        }
    }
    Leec_http_cancel(o->p->http, o);
    free(o->zone);
    free(o->sub);
    free(o->fqdn);
    free(o->value);
    free(o);
}

/* Reports the end of add (unless remove came first) or of remove (and then
 * frees o). o must not be touched after this. */
static void op_finish(ovh_op *o, leec_code rc, const char *msg)
{
    leec_solver_done_fn done = o->done;
    void *ud = o->userdata;
    ovh *p = o->p;

    if (rc != LEEC_OK && msg)
        Leec_log(p->ctx, LEEC_LOG_ERROR, "%s", msg);
    if (o->removing) {
        op_free(o);
    } else {
        o->state = rc == LEEC_OK ? OP_ADDED : OP_FAILED;
        o->done = NULL;
    }
    if (done)
        done(ud, rc, msg);
}

static void start_delete(ovh_op *o);
static void on_create(void *ud, leec_http_resp *r);
static void on_refresh(void *ud, leec_http_resp *r);

/* Sends the record creation; the caller reports a failure. */
static leec_code start_create(ovh_op *o)
{
    leec_code rc = LEEC_E_NOMEM;
    leec_json *j = Leec_json_new_object();
    char *body = NULL, *path = NULL;

    if (Leec_json_set_str(j, "fieldType", "TXT") &&
        Leec_json_set_str(j, "subDomain", o->sub) &&
        Leec_json_set_str(j, "target", o->value) &&
        Leec_json_set_int(j, "ttl", 60))
        body = Leec_json_dump(j, false);
    if (!body || asprintf(&path, "/domain/zone/%s/record", o->zone) < 0) {
        path = NULL;
        goto out;
    }
    o->state = OP_CREATE;
    rc = loop_submit(o->p, o, "POST", path, body, on_create, true);
out:
    Leec_json_free(j);
    free(body);
    free(path);
    return rc;
}

static void start_refresh(ovh_op *o, op_state st)
{
    char *path = NULL;
    leec_code rc = LEEC_E_NOMEM;

    if (asprintf(&path, "/domain/zone/%s/refresh", o->zone) >= 0) {
        o->state = st;
        rc = loop_submit(o->p, o, "POST", path, NULL, on_refresh, true);
        free(path);
    }
    if (rc != LEEC_OK)
        op_finish(o, rc, "OVH: cannot send the zone refresh");
}

static void on_create(void *ud, leec_http_resp *r)
{
    ovh_op *o = ud;
    char *msg = NULL;
    leec_json *j = NULL;
    long long id = 0;
    leec_code rc = resp_check("record creation", r, &msg);

    if (rc != LEEC_OK)
        goto out;
    j = body_json(r);
    if (!Leec_json_int(j, "id", &id) || id <= 0) {
        rc = LEEC_E_PROTOCOL;
        if (asprintf(&msg,
                     "OVH record creation: no record id in the "
                     "answer for %s",
                     o->fqdn) < 0)
            msg = NULL;
        goto out;
    }
    o->id = id;
    Leec_log(o->p->ctx, LEEC_LOG_DEBUG, "OVH: record %lld is TXT %s", o->id,
             o->fqdn);
out:
    Leec_json_free(j);
    if (rc != LEEC_OK && o->removing && r->err == LEEC_OK && r->status != 200)
        op_finish(o, LEEC_OK, NULL); /* refused: nothing to remove */
    else if (rc != LEEC_OK)
        op_finish(o, rc, msg);
    else if (o->removing)
        start_delete(o);
    else
        start_refresh(o, OP_REFRESH_ADD);
    free(msg);
}

static void on_refresh(void *ud, leec_http_resp *r)
{
    ovh_op *o = ud;
    char *msg = NULL;
    leec_code rc = resp_check("zone refresh", r, &msg);

    if (rc == LEEC_OK && o->state == OP_REFRESH_ADD) {
        Leec_log(o->p->ctx, LEEC_LOG_INFO,
                 "OVH: TXT %s added to zone %s (record %lld)", o->fqdn, o->zone,
                 o->id);
        if (o->removing) {
            start_delete(o);
            goto out;
        }
    } else if (rc == LEEC_OK) {
        Leec_log(o->p->ctx, LEEC_LOG_INFO,
                 "OVH: TXT %s removed from zone %s (record %lld)", o->fqdn,
                 o->zone, o->id);
    }
    op_finish(o, rc, msg);
out:
    free(msg);
}

static void on_delete(void *ud, leec_http_resp *r)
{
    ovh_op *o = ud;
    char *msg = NULL;
    leec_code rc = resp_check("record deletion", r, &msg);

    /* Already gone is what we wanted. */
    if (rc == LEEC_E_SOLVER && r->status == 404) {
        Leec_log(o->p->ctx, LEEC_LOG_WARN,
                 "OVH: record %lld (%s) was already gone", o->id, o->fqdn);
        op_finish(o, LEEC_OK, NULL);
    } else if (rc != LEEC_OK) {
        op_finish(o, rc, msg);
    } else {
        start_refresh(o, OP_REFRESH_DEL);
    }
    free(msg);
}

static void start_delete(ovh_op *o)
{
    char *path = NULL;
    leec_code rc = LEEC_E_NOMEM;

    if (asprintf(&path, "/domain/zone/%s/record/%lld", o->zone, o->id) >= 0) {
        o->state = OP_DELETE;
        rc = loop_submit(o->p, o, "DELETE", path, NULL, on_delete, true);
        free(path);
    }
    if (rc != LEEC_OK)
        op_finish(o, rc, "OVH: cannot send the record deletion");
}

static void on_time(void *ud, leec_http_resp *r)
{
    ovh *p = ud;
    char *msg = NULL;
    leec_json *j = NULL;
    long long t = 0;
    leec_code rc = resp_check("GET /auth/time", r, &msg);

    if (rc == LEEC_OK) {
        j = body_json(r);
        if (!Leec_json_as_int(j, &t) || t <= 0) {
            rc = LEEC_E_PROTOCOL;
            if (asprintf(&msg, "OVH GET /auth/time: not a number") < 0)
                msg = NULL;
        } else {
            p->delta = t - (long long)time(NULL);
            p->time_state = TIME_KNOWN;
            Leec_log(p->ctx, LEEC_LOG_DEBUG,
                     "OVH: server time is local time %+lld s", p->delta);
        }
    }
    Leec_json_free(j);
    if (rc != LEEC_OK)
        p->time_state = TIME_UNKNOWN; /* the next add asks again */
    /* Every op waiting for the time goes on (or fails). Each step may free
     * its op or call back into us: restart the walk after each. */
    for (;;) {
        ovh_op *o = p->ops;
        while (o && o->state != OP_TIME_WAIT)
            o = o->next;
        if (!o || p->dead)
            break;
        /* Each branch moves o out of OP_TIME_WAIT (or frees it). */
        leec_code crc = rc;
        if (rc != LEEC_OK)
            op_finish(o, rc, msg ? msg : "OVH: cannot learn the server time");
        else if ((crc = start_create(o)) != LEEC_OK)
            op_finish(o, crc, "OVH: cannot send the record creation");
    }
    free(msg);
}

/* ------------------------------------------------------------------ */
/* The provider's operations                                            */
/* ------------------------------------------------------------------ */

static leec_status ovh_add(void *impl, const char *zone, const char *fqdn,
                           const char *value, leec_solver_done_fn done,
                           void *userdata, void **op)
{
    ovh *p = impl;
    leec_code rc;
    ovh_op *o = NULL;

    if (!op || !value || !*value || strlen(value) > 255) {
        rc = LEEC_E_INVALID_ARG;
        goto out;
    }
    *op = NULL;
    o = calloc(1, sizeof *o);
    if (!o) {
        rc = LEEC_E_NOMEM;
        goto out;
    }
    o->p = p;
    rc = Leec_ovh_split(zone, fqdn, &o->zone, &o->sub);
    if (rc == LEEC_E_INVALID_ARG)
        Leec_log(p->ctx, LEEC_LOG_ERROR, "OVH: %s is not a name in zone %s",
                 fqdn ? fqdn : "(null)", zone ? zone : "(null)");
    if (rc != LEEC_OK)
        goto out;
    o->fqdn = strdup(fqdn);
    o->value = strdup(value);
    if (!o->fqdn || !o->value) {
        rc = LEEC_E_NOMEM;
        goto out;
    }
    o->done = done;
    o->userdata = userdata;
    o->state = OP_TIME_WAIT;
    if (p->time_state == TIME_UNKNOWN) {
        rc = loop_submit(p, NULL, "GET", "/auth/time", NULL, on_time, false);
        if (rc != LEEC_OK)
            goto out;
        p->time_state = TIME_ASKED;
    }
    Leec_log(p->ctx, LEEC_LOG_INFO, "OVH: adding TXT %s in zone %s", fqdn,
             o->zone);
    if (p->time_state == TIME_KNOWN) {
        rc = start_create(o);
        if (rc != LEEC_OK)
            goto out;
    }
    o->next = p->ops;
    p->ops = o;
    *op = o;
    o = NULL;
    rc = LEEC_OK;
out:
    if (o) {
        free(o->zone);
        free(o->sub);
        free(o->fqdn);
        free(o->value);
        free(o);
    }
    return rc == LEEC_OK ? LEEC_STATUS_PENDING : LEEC_STATUS_FAILED;
}

/* ---- the blocking remove ---- */

typedef struct sync_res {
    bool done;
    leec_code rc;
    long status;
    char *msg;
} sync_res;

static void on_sync(void *ud, leec_http_resp *r)
{
    sync_res *s = ud;
    s->done = true;
    s->rc = resp_check("cleanup", r, &s->msg);
    s->status = r->status;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One signed call on the private transport, until deadline (monotonic). */
static leec_code sync_call(ovh *p, const char *method, const char *path,
                           int64_t deadline, sync_res *s)
{
    leec_code rc;

    memset(s, 0, sizeof *s);
    if (!p->sync_http) {
        leec_http_opts o = {
            .ca_bundle = p->ca_bundle,
            .user_agent = "leec",
            .max_body = RESP_MAX,
            .connect_timeout_ms = SYNC_BUDGET_MS,
            .timeout_ms = SYNC_BUDGET_MS,
        };
        p->sync_http = Leec_http_new(&o);
        if (!p->sync_http)
            return LEEC_E_NOMEM;
    }
    rc = ovh_submit(p, p->sync_http, method, path, NULL, on_sync, s);
    if (rc != LEEC_OK)
        return rc;
    while (!s->done) {
        int64_t left = deadline - mono_ms();
        if (left <= 0) {
            Leec_http_cancel(p->sync_http, s);
            return LEEC_E_TIMEOUT;
        }
        long t = Leec_http_timeout_ms(p->sync_http);
        if (t < 0 || t > left)
            t = (long)left;
        struct pollfd pfd = {.fd = Leec_http_fd(p->sync_http),
                             .events = POLLIN};
        if (poll(&pfd, 1, (int)t) < 0 && errno != EINTR) {
            Leec_http_cancel(p->sync_http, s);
            return LEEC_E_IO;
        }
        Leec_http_perform(p->sync_http);
    }
    return s->rc;
}

static void remove_sync(ovh *p, ovh_op *o)
{
    int64_t deadline = mono_ms() + SYNC_BUDGET_MS;
    sync_res s = {0};
    char *path = NULL;
    leec_code rc = LEEC_E_NOMEM;

    if (asprintf(&path, "/domain/zone/%s/record/%lld", o->zone, o->id) < 0) {
        path = NULL;
        goto out;
    }
    rc = sync_call(p, "DELETE", path, deadline, &s);
    if (rc == LEEC_E_SOLVER && s.status == 404)
        rc = LEEC_OK; /* already gone */
    if (rc != LEEC_OK)
        goto out;
    free(path);
    free(s.msg);
    s.msg = NULL;
    if (asprintf(&path, "/domain/zone/%s/refresh", o->zone) < 0) {
        path = NULL;
        rc = LEEC_E_NOMEM;
        goto out;
    }
    rc = sync_call(p, "POST", path, deadline, &s);
out:
    if (rc == LEEC_OK)
        Leec_log(p->ctx, LEEC_LOG_INFO,
                 "OVH: TXT %s removed from zone %s (record %lld)", o->fqdn,
                 o->zone, o->id);
    else
        Leec_log(p->ctx, LEEC_LOG_ERROR,
                 "OVH: could not remove TXT %s (record %lld) from zone %s: "
                 "%s; remove it by hand",
                 o->fqdn, o->id, o->zone, s.msg ? s.msg : leec_strerror(rc));
    free(s.msg);
    free(path);
}

static leec_status ovh_remove(void *impl, void *op, leec_solver_done_fn done,
                              void *userdata)
{
    ovh *p = impl;
    ovh_op *o = op;

    if (!o)
        return LEEC_STATUS_DONE;
    if (!done) {
        if (o->state == OP_CREATE)
            Leec_log(p->ctx, LEEC_LOG_WARN,
                     "OVH: stopped while creating TXT %s: the record may "
                     "remain in zone %s",
                     o->fqdn, o->zone);
        Leec_http_cancel(p->http, o);
        if (o->id > 0)
            remove_sync(p, o); /* a failure is logged, "remove it by hand" */
        op_free(o);
        return LEEC_STATUS_DONE;
    }
    o->removing = true;
    o->done = done;
    o->userdata = userdata;
    switch (o->state) {
    case OP_CREATE:
    case OP_DELETE:
    case OP_REFRESH_DEL:
        break; /* their answer goes on (on_create sees removing) */
    case OP_REFRESH_ADD:
        Leec_http_cancel(p->http, o);
        start_delete(o);
        break;
    case OP_TIME_WAIT:
    case OP_ADDED:
    case OP_FAILED:
        if (o->id > 0)
            start_delete(o);
        else
            op_finish(o, LEEC_OK, NULL); /* done, before returning */
        break;
    }
    return LEEC_STATUS_PENDING;
}

/* dns-persist-01's record stays (dns01.h): only the handle goes. */
static void ovh_forget(void *impl, void *op)
{
    (void)impl;
    op_free(op);
}

static void provider_free(ovh *p)
{
    while (p->ops) {
        ovh_op *o = p->ops;
        if (o->id > 0)
            Leec_log(p->ctx, LEEC_LOG_WARN,
                     "OVH: TXT %s (record %lld) left in zone %s", o->fqdn,
                     o->id, o->zone);
        op_free(o);
    }
    if (p->http) {
        if (p->watched)
            Leec_loop_unwatch(p->ctx, Leec_http_fd(p->http));
        Leec_http_free(p->http);
    }
    Leec_loop_timer_cancel(p->ctx, p->timer);
    Leec_http_free(p->sync_http);
    free(p->endpoint);
    secret_free(p->app_key);
    secret_free(p->app_secret);
    secret_free(p->consumer_key);
    free(p->ca_bundle);
    free(p);
}

static void ovh_destroy(void *impl)
{
    ovh *p = impl;
    if (!p)
        return;
    if (p->depth > 0) {
        /* Inside our own perform: no more callbacks, freed on return. */
        for (ovh_op *o = p->ops; o; o = o->next)
            Leec_http_cancel(p->http, o);
        Leec_http_cancel(p->http, p);
        Leec_loop_timer_cancel(p->ctx, p->timer);
        p->timer = NULL;
        p->dead = true;
        return;
    }
    provider_free(p);
}

static const struct leec_dns_provider_ops ovh_ops = {
    .name = "ovh",
    .needs_zone = true,
    .add = ovh_add,
    .remove = ovh_remove,
    .destroy = ovh_destroy,
};

/* ------------------------------------------------------------------ */
/* Credentials                                                          */
/* ------------------------------------------------------------------ */

static char *trim(char *s, char *end)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
    *end = '\0';
    return s;
}

/* Reads the file after checking its mode on the open descriptor. */
static leec_code read_creds(leec_ctx *ctx, const char *file, leec_buf *out)
{
    leec_code rc = LEEC_E_IO;
    struct stat st;
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    if (fd < 0) {
        Leec_log(ctx, LEEC_LOG_ERROR,
                 "OVH: cannot open credentials file "
                 "%s: %s",
                 file, strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        Leec_log(ctx, LEEC_LOG_ERROR,
                 "OVH: credentials file %s is not a "
                 "regular file",
                 file);
        rc = LEEC_E_INVALID_ARG;
        goto out;
    }
    if (st.st_mode & 077) {
        Leec_log(ctx, LEEC_LOG_ERROR,
                 "OVH: credentials file %s is readable "
                 "by group or others (mode %04o); chmod 600 it",
                 file, (unsigned)(st.st_mode & 07777));
        rc = LEEC_E_INVALID_ARG;
        goto out;
    }
    for (;;) {
        char chunk[4096];
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            Leec_log(ctx, LEEC_LOG_ERROR,
                     "OVH: cannot read credentials file "
                     "%s: %s",
                     file, strerror(errno));
            explicit_bzero(chunk, sizeof chunk);
            goto out;
        }
        if (n == 0)
            break;
        rc = Leec_buf_append(out, chunk, (size_t)n);
        explicit_bzero(chunk, sizeof chunk);
        if (rc != LEEC_OK) {
            if (rc == LEEC_E_TOO_LARGE) {
                Leec_log(ctx, LEEC_LOG_ERROR,
                         "OVH: credentials file %s is "
                         "too large",
                         file);
                rc = LEEC_E_INVALID_ARG;
            }
            goto out;
        }
        rc = LEEC_E_IO;
    }
    rc = out->data ? LEEC_OK : Leec_buf_append(out, "", 0);
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

/* The API names OVH's own libraries take for endpoint (python-ovh's, which
 * certbot's OVH credentials file uses), and their URLs. */
static const struct {
    const char *name, *url;
} ovh_endpoints[] = {
    {"ovh-eu", "https://eu.api.ovh.com/1.0"},
    {"ovh-ca", "https://ca.api.ovh.com/1.0"},
    {"ovh-us", "https://api.us.ovhcloud.com/1.0"},
    {"kimsufi-eu", "https://eu.api.kimsufi.com/1.0"},
    {"kimsufi-ca", "https://ca.api.kimsufi.com/1.0"},
    {"soyoustart-eu", "https://eu.api.soyoustart.com/1.0"},
    {"soyoustart-ca", "https://ca.api.soyoustart.com/1.0"},
};

/* endpoint given by name: its URL instead. */
static leec_code endpoint_named(ovh *p)
{
    for (size_t i = 0; i < sizeof ovh_endpoints / sizeof *ovh_endpoints; i++)
        if (strcmp(p->endpoint, ovh_endpoints[i].name) == 0) {
            char *url = strdup(ovh_endpoints[i].url);
            if (!url)
                return LEEC_E_NOMEM;
            free(p->endpoint);
            p->endpoint = url;
            break;
        }
    return LEEC_OK;
}

/* Parses key = value lines into p: leec's keys, or certbot's OVH plugin's
 * (dns_ovh_endpoint, dns_ovh_application_key, ...: the same with a
 * prefix), so that the file the LEEC manual has one write serves as it
 * is. Values are never logged. */
static leec_code parse_creds(leec_ctx *ctx, const char *file, char *text,
                             ovh *p)
{
    static const char *const keys[] = {"endpoint", "application_key",
                                       "application_secret", "consumer_key",
                                       "ca_bundle"};
    char **slots[] = {&p->endpoint, &p->app_key, &p->app_secret,
                      &p->consumer_key, &p->ca_bundle};
    unsigned lineno = 0;
    char *line = text;

    while (line && *line) {
        char *nl = strchr(line, '\n');
        char *end = nl ? nl : line + strlen(line);
        char *next = nl ? nl + 1 : NULL;
        lineno++;
        char *s = trim(line, end);
        line = next;
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            Leec_log(ctx, LEEC_LOG_ERROR,
                     "OVH: %s line %u: expected "
                     "key = value",
                     file, lineno);
            return LEEC_E_INVALID_ARG;
        }
        char *k = trim(s, eq);
        char *v = trim(eq + 1, eq + 1 + strlen(eq + 1));
        if (strncmp(k, "dns_ovh_", 8) == 0 && strcmp(k + 8, "ca_bundle") != 0)
            k += 8;
        size_t i = 0;
        while (i < sizeof keys / sizeof *keys && strcmp(k, keys[i]) != 0)
            i++;
        if (i == sizeof keys / sizeof *keys) {
            /* k is bounded text before '=', not a value: safe to quote. */
            Leec_log(ctx, LEEC_LOG_ERROR,
                     "OVH: %s line %u: unknown key "
                     "\"%.64s\"",
                     file, lineno, k);
            return LEEC_E_INVALID_ARG;
        }
        if (*slots[i]) {
            Leec_log(ctx, LEEC_LOG_ERROR, "OVH: %s line %u: %s given twice",
                     file, lineno, keys[i]);
            return LEEC_E_INVALID_ARG;
        }
        bool bad = !*v || strlen(v) > VALUE_MAX;
        for (const char *c = v; !bad && *c; c++)
            bad = (unsigned char)*c < 0x20 || *c == 0x7f;
        if (bad) {
            Leec_log(ctx, LEEC_LOG_ERROR,
                     "OVH: %s line %u: empty, too long "
                     "or unprintable value for %s",
                     file, lineno, keys[i]);
            return LEEC_E_INVALID_ARG;
        }
        *slots[i] = strdup(v);
        if (!*slots[i])
            return LEEC_E_NOMEM;
    }
    for (size_t i = 0; i < 4; i++) {
        if (!*slots[i]) {
            Leec_log(ctx, LEEC_LOG_ERROR, "OVH: %s: %s missing", file, keys[i]);
            return LEEC_E_INVALID_ARG;
        }
    }
    /* The secret and consumer key go into a header line and a signed
     * string: no spaces or '+' ambiguity matters to OVH, but a space in a
     * header value is refused to keep lines unambiguous. */
    for (size_t i = 1; i < 4; i++) {
        for (const char *c = *slots[i]; *c; c++) {
            if (*c == ' ' || *c == '\t') {
                Leec_log(ctx, LEEC_LOG_ERROR,
                         "OVH: %s: %s contains "
                         "spaces",
                         file, keys[i]);
                return LEEC_E_INVALID_ARG;
            }
        }
    }
    leec_code rc = endpoint_named(p);
    if (rc != LEEC_OK)
        return rc;
    size_t el = strlen(p->endpoint);
    while (el > 8 && p->endpoint[el - 1] == '/')
        p->endpoint[--el] = '\0';
    if (!Leec_url_ok(p->endpoint) || strchr(p->endpoint, '?') ||
        strchr(p->endpoint, '#')) {
        Leec_log(ctx, LEEC_LOG_ERROR,
                 "OVH: %s: endpoint must be an https URL (e.g. "
                 "https://eu.api.ovh.com/1.0) or one of ovh-eu, ovh-ca, "
                 "ovh-us, kimsufi-eu, kimsufi-ca, soyoustart-eu, "
                 "soyoustart-ca",
                 file);
        return LEEC_E_INVALID_ARG;
    }
    return LEEC_OK;
}

const char *Leec_ovh_cred(const leec_dns_provider *base, const char *key)
{
    const ovh *p = base && base->ops == &ovh_ops ? base->impl : NULL;
    if (!p || !key)
        return NULL;
    if (strcmp(key, "endpoint") == 0)
        return p->endpoint;
    if (strcmp(key, "application_key") == 0)
        return p->app_key;
    if (strcmp(key, "application_secret") == 0)
        return p->app_secret;
    if (strcmp(key, "consumer_key") == 0)
        return p->consumer_key;
    if (strcmp(key, "ca_bundle") == 0)
        return p->ca_bundle;
    return NULL;
}

leec_dns_provider *Leec_ovh_new(leec_ctx *ctx, const char *credentials_file,
                                leec_code *err)
{
    leec_code rc = LEEC_E_INVALID_ARG;
    ovh *p = NULL;
    leec_buf text;

    Leec_buf_init(&text, CREDS_MAX);
    if (!ctx || !credentials_file || !*credentials_file) {
        Leec_log(ctx, LEEC_LOG_ERROR, "OVH: no credentials file");
        goto out;
    }
    rc = read_creds(ctx, credentials_file, &text);
    if (rc != LEEC_OK)
        goto out;
    p = calloc(1, sizeof *p);
    if (!p) {
        rc = LEEC_E_NOMEM;
        goto out;
    }
    p->ctx = ctx;
    rc = parse_creds(ctx, credentials_file, text.data, p);
    if (rc != LEEC_OK)
        goto out;
    leec_http_opts o = {
        .ca_bundle = p->ca_bundle,
        .user_agent = "leec",
        .max_body = RESP_MAX,
        .connect_timeout_ms = 10000,
        .timeout_ms = 30000,
    };
    p->http = Leec_http_new(&o);
    if (!p->http) {
        rc = LEEC_E_NOMEM;
        goto out;
    }
    Leec_log(ctx, LEEC_LOG_DEBUG, "OVH: API %s%s%s", p->endpoint,
             p->ca_bundle ? ", trusting " : "",
             p->ca_bundle ? p->ca_bundle : "");
out:
    if (text.data)
        explicit_bzero(text.data, text.len);
    Leec_buf_free(&text);
    if (rc != LEEC_OK) {
        if (rc == LEEC_E_NOMEM)
            Leec_log(ctx, LEEC_LOG_ERROR, "OVH: out of memory");
        if (p)
            provider_free(p);
        p = NULL;
    }
    if (!p) {
        if (err)
            *err = rc;
        return NULL;
    }
    leec_dns_provider *dp =
        Leec_dns_provider_new(ctx, &ovh_ops, p, err); /* p is taken */
    if (dp)
        dp->forget = ovh_forget;
    return dp;
}
