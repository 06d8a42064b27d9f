#define _GNU_SOURCE
/* leec daemon --metrics-listen: the table the daemon feeds and the server
 * thread renders (OpenMetrics 1.0 text at /metrics, JSON at /status). See
 * metrics.h for who calls what from which thread. */
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"

#define CONN_LIMIT     16 /* scrapers are few; more wait in the backlog */
#define CONN_TIMEOUT_S 10 /* a client that stalls is dropped */
#define OPENMETRICS_TYPE                                                       \
    "application/openmetrics-text; version=1.0.0; charset=utf-8"

typedef struct m_cert {
    char *name, *ca;
    bool planned; /* the store gave a plan: the times below are set */
    time_t not_before, not_after, next_renewal;
    unsigned failures;
    char *last_error;
    const char *result; /* static (metrics_result) */
    time_t result_at;
    bool seen; /* given in the current pass */
} m_cert;

typedef struct m_req {
    leec_endpoint ep;
    long status;
    uint64_t n;
} m_req;

typedef struct m_ca {
    char *url;
    uint64_t stat[LEEC_STAT_COUNT];
    m_req *req;
    size_t nreq, capreq;
} m_ca;

struct cli_metrics {
    pthread_mutex_t mu; /* over everything below but mhd */
    struct MHD_Daemon *mhd;
    time_t started;
    double started_mono;
    uint64_t passes;
    double last_pass_s;
    time_t last_pass_end, next_pass;
    m_cert *c;
    size_t nc, capc, hint; /* hint: where the next certificate likely is */
    bool pruning; /* a pass listed the store: metrics_pass_end prunes */
    m_ca *ca;
    size_t nca, capca;
};

/* ---- the listening address ---- */

/* Splits ADDR:PORT into a socket address; false when malformed. */
static bool parse_listen(const char *s, struct sockaddr_storage *ss,
                         socklen_t *len)
{
    const char *colon = strrchr(s, ':');
    char host[INET6_ADDRSTRLEN + 2];
    if (!colon || colon == s || (size_t)(colon - s) >= sizeof host)
        return false;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    char *end = NULL;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno || !colon[1] || *end || port == 0 || port > 65535 ||
        colon[1] == '+' || colon[1] == '-')
        return false;
    memset(ss, 0, sizeof *ss);
    size_t hl = strlen(host);
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        host[hl - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
            return false;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *len = sizeof *a6;
        return true;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
        return false;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    *len = sizeof *a4;
    return true;
}

bool metrics_listen_ok(const char *opt, const char *addr)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (parse_listen(addr, &ss, &len))
        return true;
    fprintf(stderr,
            "leec: %s: '%s' is not ADDR:PORT (a numeric address: "
            "127.0.0.1:9464, [::1]:9464, 0.0.0.0:9464)\n",
            opt, addr);
    return false;
}

/* ---- OpenMetrics text ---- */

/* A label value, escaped as the text format wants (\\, \", \n). */
static void put_value(FILE *f, const char *v)
{
    for (; v && *v; v++) {
        if (*v == '\\' || *v == '"')
            fputc('\\', f);
        if (*v == '\n')
            fputs("\\n", f);
        else
            fputc(*v, f);
    }
}

static void family(FILE *f, const char *name, const char *type,
                   const char *unit, const char *help)
{
    fprintf(f, "# TYPE %s %s\n", name, type);
    if (unit)
        fprintf(f, "# UNIT %s %s\n", name, unit);
    fprintf(f, "# HELP %s %s\n", name, help);
}

/* name{cert_name="...",ca="..." */
static void cert_labels(FILE *f, const char *name, const m_cert *c)
{
    fprintf(f, "%s{cert_name=\"", name);
    put_value(f, c->name);
    fputs("\",ca=\"", f);
    put_value(f, c->ca);
    fputc('"', f);
}

static void ca_labels(FILE *f, const char *name, const m_ca *ca)
{
    fprintf(f, "%s{ca=\"", name);
    put_value(f, ca->url);
    fputc('"', f);
}

/* A per-certificate family: a time or the failures. What the store's plan
 * says is left out until there is one, and an expiry of 0 (a broken
 * version, whose certificate cannot be read) is unknown, not 1970. */
enum cert_field { F_NOT_BEFORE, F_NOT_AFTER, F_NEXT, F_RESULT_AT, F_FAILURES };

static void cert_family(FILE *f, const cli_metrics *m, const char *name,
                        enum cert_field fld, const char *help)
{
    bool ts = fld != F_FAILURES;
    family(f, name, "gauge", ts ? "seconds" : NULL, help);
    for (size_t i = 0; i < m->nc; i++) {
        const m_cert *c = &m->c[i];
        long long v = fld == F_NOT_BEFORE  ? (long long)c->not_before
                      : fld == F_NOT_AFTER ? (long long)c->not_after
                      : fld == F_NEXT      ? (long long)c->next_renewal
                      : fld == F_RESULT_AT ? (long long)c->result_at
                                           : (long long)c->failures;
        if ((fld != F_RESULT_AT && !c->planned) ||
            ((fld == F_NOT_AFTER || fld == F_NOT_BEFORE) && !c->not_after))
            continue;
        cert_labels(f, name, c);
        fprintf(f, "} %lld\n", v);
    }
}

static void render_metrics(const cli_metrics *m, FILE *f)
{
    cert_family(f, m, "leec_certificate_not_before_timestamp_seconds",
                F_NOT_BEFORE,
                "When the installed certificate became valid (Unix time).");
    cert_family(f, m, "leec_certificate_not_after_timestamp_seconds",
                F_NOT_AFTER,
                "When the installed certificate expires (Unix time).");
    cert_family(f, m, "leec_certificate_next_renewal_timestamp_seconds", F_NEXT,
                "When the certificate is next renewed: the renewal time of "
                "its plan, or the end of a back-off after failures.");
    cert_family(f, m, "leec_certificate_consecutive_failures", F_FAILURES,
                "Failed renewals in a row (0 after a success).");
    family(f, "leec_certificate_last_result", "gauge", NULL,
           "What the daemon's last look at the certificate did (1 for the "
           "result label): renewed, not_due, backing_off, failed, skipped.");
    for (size_t i = 0; i < m->nc; i++) {
        cert_labels(f, "leec_certificate_last_result", &m->c[i]);
        fputs(",result=\"", f);
        put_value(f, m->c[i].result);
        fputs("\"} 1\n", f);
    }
    cert_family(f, m, "leec_certificate_last_result_timestamp_seconds",
                F_RESULT_AT, "When that result came (Unix time).");

    family(f, "leec_ca_requests", "counter", NULL,
           "Answers from the CA by endpoint and HTTP status (status 0: no "
           "answer, a network or TLS error).");
    for (size_t i = 0; i < m->nca; i++) {
        const m_ca *ca = &m->ca[i];
        for (size_t k = 0; k < ca->nreq; k++) {
            ca_labels(f, "leec_ca_requests_total", ca);
            fprintf(f, ",endpoint=\"%s\",status=\"%ld\"} %" PRIu64 "\n",
                    leec_endpoint_name(ca->req[k].ep), ca->req[k].status,
                    ca->req[k].n);
        }
    }
    static const struct {
        const char *name;
        leec_stat which;
        const char *help;
    } counters[] = {
        {"leec_ca_badnonce_retries", LEEC_STAT_BADNONCE_RETRIES,
         "Requests sent again after a badNonce answer."},
        {"leec_ca_orders_created", LEEC_STAT_ORDERS_CREATED,
         "Orders the CA created."},
        {"leec_ca_orders_wasted", LEEC_STAT_ORDERS_WASTED,
         "Orders that ended without a certificate and will not be taken up "
         "again."},
        {"leec_ca_governor_waits", LEEC_STAT_GOVERNOR_WAITS,
         "Times the governor held a request or an order back (rate, CA "
         "pause, parallel limit, budgets)."},
    };
    for (size_t k = 0; k < sizeof counters / sizeof counters[0]; k++) {
        family(f, counters[k].name, "counter", NULL, counters[k].help);
        for (size_t i = 0; i < m->nca; i++) {
            fprintf(f, "%s_total{ca=\"", counters[k].name);
            put_value(f, m->ca[i].url);
            fprintf(f, "\"} %" PRIu64 "\n", m->ca[i].stat[counters[k].which]);
        }
    }
    family(f, "leec_ca_governor_wait_seconds", "counter", "seconds",
           "How long those waits lasted, added as each ends.");
    for (size_t i = 0; i < m->nca; i++) {
        fputs("leec_ca_governor_wait_seconds_total{ca=\"", f);
        put_value(f, m->ca[i].url);
        fprintf(f, "\"} %.3f\n",
                (double)m->ca[i].stat[LEEC_STAT_GOVERNOR_WAIT_MS] / 1000.0);
    }

    family(f, "leec_daemon_start_time_seconds", "gauge", "seconds",
           "When the daemon started (Unix time).");
    fprintf(f, "leec_daemon_start_time_seconds %lld\n", (long long)m->started);
    family(f, "leec_daemon_uptime_seconds", "gauge", "seconds",
           "How long the daemon has been running.");
    fprintf(f, "leec_daemon_uptime_seconds %.3f\n",
            cli_now_s() - m->started_mono);
    family(f, "leec_daemon_passes", "counter", NULL,
           "Passes over the certificates completed.");
    fprintf(f, "leec_daemon_passes_total %" PRIu64 "\n", m->passes);
    family(f, "leec_daemon_last_pass_duration_seconds", "gauge", "seconds",
           "How long the last pass took.");
    if (m->passes)
        fprintf(f, "leec_daemon_last_pass_duration_seconds %.6f\n",
                m->last_pass_s);
    family(f, "leec_daemon_last_pass_timestamp_seconds", "gauge", "seconds",
           "When the last pass ended (Unix time).");
    if (m->passes)
        fprintf(f, "leec_daemon_last_pass_timestamp_seconds %lld\n",
                (long long)m->last_pass_end);
    family(f, "leec_daemon_next_pass_timestamp_seconds", "gauge", "seconds",
           "When the daemon looks at the certificates again (Unix time).");
    if (m->passes && m->next_pass > 0)
        fprintf(f, "leec_daemon_next_pass_timestamp_seconds %lld\n",
                (long long)m->next_pass);
    fputs("# EOF\n", f);
}

/* ---- /status ---- */

static json_t *iso_or_null(time_t t)
{
    char buf[32];
    if (t <= 0)
        return json_null();
    cli_iso_time(t, buf, sizeof buf);
    return json_string(buf);
}

static json_t *cert_json(const m_cert *c)
{
    return json_pack(
        "{s:s, s:s?, s:o, s:o, s:o, s:s?, s:s, s:o}", "name", c->name, "ca",
        c->ca, "not_after",
        c->planned ? iso_or_null(c->not_after) : json_null(), "next_renewal",
        c->planned ? iso_or_null(c->next_renewal) : json_null(),
        "consecutive_failures",
        c->planned ? json_integer((json_int_t)c->failures) : json_null(),
        "last_error", c->last_error, "last_result", c->result,
        "last_result_time", iso_or_null(c->result_at));
}

static json_t *ca_json(const m_ca *ca)
{
    json_t *req = json_array();
    for (size_t k = 0; req && k < ca->nreq; k++)
        json_array_append_new(req,
                              json_pack("{s:s, s:i, s:I}", "endpoint",
                                        leec_endpoint_name(ca->req[k].ep),
                                        "status", (int)ca->req[k].status,
                                        "count", (json_int_t)ca->req[k].n));
    return json_pack(
        "{s:s, s:o*, s:I, s:I, s:I, s:I, s:f}", "ca", ca->url, "requests", req,
        "badnonce_retries", (json_int_t)ca->stat[LEEC_STAT_BADNONCE_RETRIES],
        "orders_created", (json_int_t)ca->stat[LEEC_STAT_ORDERS_CREATED],
        "orders_wasted", (json_int_t)ca->stat[LEEC_STAT_ORDERS_WASTED],
        "governor_waits", (json_int_t)ca->stat[LEEC_STAT_GOVERNOR_WAITS],
        "governor_wait_seconds",
        (double)ca->stat[LEEC_STAT_GOVERNOR_WAIT_MS] / 1000.0);
}

/* The document as text (malloc'd), or NULL (out of memory). */
static char *render_status(const cli_metrics *m)
{
    json_t *certs = json_array(), *cas = json_array();
    for (size_t i = 0; certs && i < m->nc; i++)
        json_array_append_new(certs, cert_json(&m->c[i]));
    for (size_t i = 0; cas && i < m->nca; i++)
        json_array_append_new(cas, ca_json(&m->ca[i]));
    json_t *daemon = json_pack(
        "{s:o, s:f, s:I, s:o, s:o, s:o}", "started", iso_or_null(m->started),
        "uptime_seconds", cli_now_s() - m->started_mono, "passes",
        (json_int_t)m->passes, "last_pass_duration_seconds",
        m->passes ? json_real(m->last_pass_s) : json_null(), "last_pass_end",
        m->passes ? iso_or_null(m->last_pass_end) : json_null(), "next_pass",
        m->passes ? iso_or_null(m->next_pass) : json_null());
    json_t *doc = json_pack("{s:o*, s:o*, s:o*}", "daemon", daemon,
                            "certificates", certs, "cas", cas);
    char *s = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
    json_decref(doc);
    return s;
}

/* ---- the server (its own thread) ---- */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status,
                             const char *type, char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    enum MHD_Result ret = MHD_NO;
    if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type) ==
            MHD_YES &&
        (status != MHD_HTTP_METHOD_NOT_ALLOWED ||
         MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") ==
             MHD_YES))
        ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result text_reply(struct MHD_Connection *conn, unsigned status,
                                  const char *msg)
{
    char *body = strdup(msg);
    return body ? reply(conn, status, "text/plain; charset=utf-8", body,
                        strlen(body))
                : MHD_NO;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    cli_metrics *m = cls;
    (void)version;
    (void)upload;
    (void)con_cls;
    /* Nothing is read from a body: any method but GET and HEAD is refused
     * at once (MHD then closes the connection). */
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
        strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        *upload_size = 0;
        return text_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                          "only GET and HEAD\n");
    }
    bool metrics = strcmp(url, "/metrics") == 0;
    if (!metrics && strcmp(url, "/status") != 0)
        return text_reply(conn, MHD_HTTP_NOT_FOUND,
                          "not found: /metrics (OpenMetrics) and /status "
                          "(JSON) are served\n");
    char *body = NULL;
    size_t len = 0;
    pthread_mutex_lock(&m->mu);
    if (metrics) {
        FILE *f = open_memstream(&body, &len);
        if (f) {
            render_metrics(m, f);
            if (fclose(f) != 0) {
                free(body);
                body = NULL;
            }
        }
    } else if ((body = render_status(m))) {
        len = strlen(body);
    }
    pthread_mutex_unlock(&m->mu);
    if (!body)
        return text_reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                          "out of memory\n");
    return reply(conn, MHD_HTTP_OK,
                 metrics ? OPENMETRICS_TYPE : "application/json", body, len);
}

static void drop_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    (void)fmt;
    (void)ap; /* a scraper's broken connection is not the admin's news */
}

cli_metrics *metrics_start(const char *addr)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int one = 1, fd = -1;
    if (!parse_listen(addr, &ss, &len)) {
        (void)metrics_listen_ok("--metrics-listen", addr);
        return NULL;
    }
    cli_metrics *m = calloc(1, sizeof *m);
    if (!m) {
        fputs("leec: out of memory\n", stderr);
        return NULL;
    }
    pthread_mutex_init(&m->mu, NULL);
    m->started = time(NULL);
    m->started_mono = cli_now_s();
    /* Our own socket: the address exactly as given (MHD would bind every
     * address of the family), and the error said before any pass. */
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 32) != 0) {
        fprintf(stderr, "leec: --metrics-listen %s: %s\n", addr,
                strerror(errno));
        goto fail;
    }
    /* The server's thread takes no signal: the daemon's SIGTERM, SIGINT
     * and SIGHUP must reach its own thread, whose sleep they end (a
     * handler run here would set the flag and leave that sleep alone). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    m->mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_request, m,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)CONN_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)CONN_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)32768, MHD_OPTION_EXTERNAL_LOGGER, drop_log, NULL,
        MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!m->mhd) {
        fprintf(stderr, "leec: --metrics-listen %s: cannot start the server\n",
                addr);
        goto fail;
    }
    return m;
fail:
    if (fd >= 0)
        close(fd);
    pthread_mutex_destroy(&m->mu);
    free(m);
    return NULL;
}

static void cert_clear(m_cert *c)
{
    free(c->name);
    free(c->ca);
    free(c->last_error);
}

void metrics_stop(cli_metrics *m)
{
    if (!m)
        return;
    /* MHD closes the listening socket it was given. */
    MHD_stop_daemon(m->mhd);
    for (size_t i = 0; i < m->nc; i++)
        cert_clear(&m->c[i]);
    free(m->c);
    for (size_t i = 0; i < m->nca; i++) {
        free(m->ca[i].url);
        free(m->ca[i].req);
    }
    free(m->ca);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* ---- fed by the daemon ---- */

/* v (n used of *cap elements of size bytes) with room for one more,
 * moved when it doubles; NULL out of memory (v unchanged). */
static void *grow(void *v, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return v;
    size_t c = *cap ? *cap * 2 : 16;
    void *nv = realloc(v, c * size);
    if (nv)
        *cap = c;
    return nv;
}

void metrics_pass_begin(cli_metrics *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->nc; i++)
        m->c[i].seen = false;
    m->hint = 0;
    m->pruning = true;
    pthread_mutex_unlock(&m->mu);
}

const char *metrics_result(bool skipped, bool ran, leec_outcome outcome,
                           const leec_renewal_plan *plan)
{
    if (skipped)
        return "skipped";
    /* Not run: the back-off is what holds it when it sets the wake (the
     * pass says so), else it is simply not due. */
    if (!ran)
        return plan && plan->failures && plan->retry_at == plan->wake
                   ? "backing_off"
                   : "not_due";
    switch (outcome) {
    case LEEC_OUTCOME_ISSUED:
        return "renewed";
    case LEEC_OUTCOME_FRESH:
        return "not_due";
    case LEEC_OUTCOME_DEFERRED:
        return "backing_off";
    default:
        return "failed";
    }
}

/* The entry of name, added when new; NULL out of memory. The daemon gives
 * the certificates in the same order each pass: the hint finds most at
 * once, so a pass over thousands stays linear. */
static m_cert *cert_slot(cli_metrics *m, const char *name)
{
    for (size_t k = 0; k < m->nc; k++) {
        size_t i = (m->hint + k) % m->nc;
        if (strcmp(m->c[i].name, name) == 0) {
            m->hint = i + 1;
            return &m->c[i];
        }
    }
    m_cert *v = grow(m->c, m->nc, &m->capc, sizeof *v);
    if (!v)
        return NULL;
    m->c = v;
    m_cert *c = &m->c[m->nc];
    memset(c, 0, sizeof *c);
    if (!(c->name = strdup(name)))
        return NULL;
    m->hint = ++m->nc;
    return c;
}

static bool same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

void metrics_cert(cli_metrics *m, const char *name, const char *ca,
                  const leec_renewal_plan *plan, const char *result, time_t now)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    m_cert *c = cert_slot(m, name);
    if (c) {
        c->seen = true;
        if (!same(c->ca, ca)) {
            free(c->ca);
            c->ca = ca ? strdup(ca) : NULL;
        }
        if (plan) {
            c->planned = true;
            c->not_before = plan->not_before;
            c->not_after = plan->not_after;
            /* As leec list says it: the end of a back-off when later. */
            c->next_renewal =
                plan->retry_at > plan->due ? plan->retry_at : plan->due;
            c->failures = plan->failures;
            if (!same(c->last_error, plan->last_error)) {
                free(c->last_error);
                c->last_error =
                    plan->last_error ? strdup(plan->last_error) : NULL;
            }
        }
        /* Without a result, one of its own keeps; else the plan's. */
        if (result || !c->result) {
            c->result = result ? result : metrics_result(false, false, 0, plan);
            c->result_at = now;
        }
    }
    pthread_mutex_unlock(&m->mu);
}

static void req_add(m_ca *ca, leec_endpoint ep, long status, uint64_t n)
{
    for (size_t i = 0; i < ca->nreq; i++) {
        if (ca->req[i].ep == ep && ca->req[i].status == status) {
            ca->req[i].n += n;
            return;
        }
    }
    m_req *v = grow(ca->req, ca->nreq, &ca->capreq, sizeof *v);
    if (!v)
        return; /* a lost count, not a lost daemon */
    ca->req = v;
    ca->req[ca->nreq++] = (m_req){ep, status, n};
}

static void on_count(void *ud, leec_endpoint ep, long status, uint64_t n)
{
    req_add(ud, ep, status, n);
}

/* The counters of ctx, added to url's (add) or in their place. */
static void take_ctx(cli_metrics *m, const char *url, leec_ctx *ctx, bool add)
{
    if (!m || !ctx || !url)
        return;
    pthread_mutex_lock(&m->mu);
    m_ca *ca = NULL;
    for (size_t i = 0; i < m->nca && !ca; i++)
        if (strcmp(m->ca[i].url, url) == 0)
            ca = &m->ca[i];
    m_ca *v = ca ? NULL : grow(m->ca, m->nca, &m->capca, sizeof *v);
    if (v) {
        m->ca = v;
        ca = &m->ca[m->nca];
        memset(ca, 0, sizeof *ca);
        if ((ca->url = strdup(url)))
            m->nca++;
        else
            ca = NULL;
    }
    if (ca && !add) {
        memset(ca->stat, 0, sizeof ca->stat);
        ca->nreq = 0;
    }
    if (ca) {
        for (int s = 0; s < LEEC_STAT_COUNT; s++)
            ca->stat[s] += leec_ctx_stat(ctx, (leec_stat)s);
        leec_ctx_foreach_request_count(ctx, on_count, ca);
    }
    pthread_mutex_unlock(&m->mu);
}

void metrics_add_ctx(cli_metrics *m, const char *url, leec_ctx *ctx)
{
    take_ctx(m, url, ctx, true);
}

void metrics_set_ctx(cli_metrics *m, const char *url, leec_ctx *ctx)
{
    take_ctx(m, url, ctx, false);
}

void metrics_pass_end(cli_metrics *m, double seconds, time_t next)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    size_t k = 0;
    for (size_t i = 0; i < m->nc; i++) {
        if (m->c[i].seen || !m->pruning)
            m->c[k++] = m->c[i];
        else
            cert_clear(&m->c[i]); /* gone from the store */
    }
    m->nc = k;
    m->hint = 0;
    m->pruning = false;
    m->passes++;
    m->last_pass_s = seconds;
    m->last_pass_end = time(NULL);
    m->next_pass = next;
    pthread_mutex_unlock(&m->mu);
}
