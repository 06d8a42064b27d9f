/*
 * leec-https-server — an HTTPS server that obtains and renews its own
 * certificate by embedding libleec, the way LEEC lives inside its web server.
 *
 * One thread, one poll() loop over:
 *   - leec_ctx_get_fd(): the ACME client's sockets,
 *   - the plain-HTTP daemon (libmicrohttpd, external epoll mode): it answers
 *     /.well-known/acme-challenge/TOKEN itself through
 *     leec_ctx_http01_key_authorization() and redirects the rest to https,
 *   - the HTTPS daemon, started once the first certificate is installed,
 *   - a self-pipe the SIGINT/SIGTERM handler writes to.
 *
 * Certificate switch: the HTTPS daemon gets its certificate from a GnuTLS
 * retrieve callback (MHD_OPTION_HTTPS_CERT_CALLBACK), which hands out the
 * current "generation" (key + chain). Installing a new certificate makes a
 * new generation current; new handshakes get it, and the listening socket is
 * never closed. Old generations stay allocated while a connection that may
 * point at them is open (GnuTLS keeps the pointers the callback returned for
 * the session's life, gnutls_certificate_get_ours() reads them).
 */
/* POSIX and XSI interfaces (sigaction, strdup) under -std=c17. */
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include <leec/leec.h>
#include <leec/store.h>

#define PROG             "leec-https-server"
#define CHALLENGE_PREFIX "/.well-known/acme-challenge/"
#define MAX_NAMES        100
#define MAX_CHAIN        8 /* leaf + issuers in fullchain.pem */
/* Without --renew-every, ask the agent every 12 h whether the certificate is
 * due (it answers FRESH without contacting the CA until a third of the
 * lifetime is left, so this is cheap). */
#define DEFAULT_CHECK_S (12L * 3600)
#define CONN_TIMEOUT_S  30U
#define CONN_LIMIT      256U

/* One certificate with its key, as GnuTLS wants them for a handshake. */
typedef struct cert_gen {
    struct cert_gen *next; /* oldest first; the last one is current */
    gnutls_pcert_st pcert[MAX_CHAIN];
    unsigned npcert;
    gnutls_privkey_t key;
    char *serial;   /* lower-case hex, as leec_cert_info gives it */
    unsigned conns; /* HTTPS connections accepted while current */
} cert_gen;

typedef struct listen_addr {
    struct sockaddr_storage ss;
    bool ipv6;
    bool any; /* no address given: MHD binds the wildcard */
    uint16_t port;
} listen_addr;

typedef struct server {
    leec_ctx *ctx;
    const char *names[MAX_NAMES];
    size_t nnames;
    listen_addr http_addr, https_addr;
    struct MHD_Daemon *http, *https;
    unsigned https_port; /* the bound port (differs when 0 was asked) */
    cert_gen *gens;      /* list; NULL until the first certificate */
    cert_gen *current;
    leec_agent *agent;     /* the running agent, or NULL */
    long renew_every_s;    /* 0: the default check, without force */
    int64_t next_check_ms; /* monotonic; -1 while an agent runs */
    bool stop;
    int exit_code;
} server;

/* GnuTLS's retrieve callback has no user pointer, so the callback reaches
 * the server through this; one server per process. */
static server *the_server;

static int sig_pipe[2] = {-1, -1};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void logf_(const char *level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void logf_(const char *level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: %s: ", PROG, level);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void leec_log_cb(void *ud, leec_log_level level, const char *msg)
{
    (void)ud;
    static const char *const names[] = {"error", "warn", "info", "debug"};
    const char *l = (unsigned)level < 4 ? names[level] : "?";
    fprintf(stderr, "%s: leec %s: %s\n", PROG, l, msg);
}

static void mhd_log_cb(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    /* MHD's messages end with their own newline. */
    fprintf(stderr, "%s: microhttpd: ", PROG);
    vfprintf(stderr, fmt, ap);
}

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    /* Nonblocking: a full pipe already means "stop". */
    ssize_t n = write(sig_pipe[1], &b, 1);
    (void)n;
    errno = saved;
}

/* ------------------------------------------------------------------ */
/* Certificate generations                                             */
/* ------------------------------------------------------------------ */

static void gen_free(cert_gen *g)
{
    if (!g)
        return;
    for (unsigned i = 0; i < g->npcert; i++)
        gnutls_pcert_deinit(&g->pcert[i]);
    if (g->key)
        gnutls_privkey_deinit(g->key);
    free(g->serial);
    free(g);
}

/*
 * Loads the key and full chain of the current version: one read of two
 * parts of a version record (leec/store.h), both from that version even if
 * another process installs a new one meanwhile.
 */
static int gen_load(leec_store *store, const char *cert_name, cert_gen **out)
{
    int ret = -1;
    const char *keypem = NULL, *fullchain = NULL;
    leec_store_version v;
    leec_cert_info *info = NULL;
    cert_gen *g = NULL;
    int rc;

    *out = NULL;
    leec_code lc = leec_store_read_version(
        store, cert_name,
        LEEC_PARTS(LEEC_PART_PRIVKEY) | LEEC_PARTS(LEEC_PART_FULLCHAIN), &v);
    keypem = v.text[LEEC_PART_PRIVKEY];
    fullchain = v.text[LEEC_PART_FULLCHAIN];
    if (lc == LEEC_OK && (!keypem || !fullchain))
        lc = LEEC_E_NOT_FOUND; /* a version missing a file */
    if (lc != LEEC_OK) {
        logf_("error", "reading %s from the store: %s", cert_name,
              leec_strerror(lc));
        goto out;
    }
    if (!(g = calloc(1, sizeof *g))) {
        logf_("error", "out of memory");
        goto out;
    }
    gnutls_datum_t key = {(unsigned char *)keypem, (unsigned)strlen(keypem)};
    gnutls_datum_t chain = {(unsigned char *)fullchain,
                            (unsigned)strlen(fullchain)};
    g->npcert = MAX_CHAIN;
    rc = gnutls_pcert_list_import_x509_raw(g->pcert, &g->npcert, &chain,
                                           GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0) {
        g->npcert = 0; /* nothing to deinit on failure */
        logf_("error", "%s: full chain: %s", cert_name, gnutls_strerror(rc));
        goto out;
    }
    if ((rc = gnutls_privkey_init(&g->key)) < 0 ||
        (rc = gnutls_privkey_import_x509_raw(g->key, &key, GNUTLS_X509_FMT_PEM,
                                             NULL, 0)) < 0) {
        logf_("error", "%s: key: %s", cert_name, gnutls_strerror(rc));
        goto out;
    }
    /* The serial as leec reports it, so the log and the test agree. */
    lc = leec_cert_info_from_pem(fullchain, strlen(fullchain), &info);
    if (lc != LEEC_OK) {
        logf_("error", "%s: %s", cert_name, leec_strerror(lc));
        goto out;
    }
    g->serial = strdup(info->serial);
    if (!g->serial) {
        logf_("error", "out of memory");
        goto out;
    }
    *out = g;
    g = NULL;
    ret = 0;

out:
    leec_cert_info_free(info);
    leec_store_version_clear(&v); /* clears the key first */
    gen_free(g);
    return ret;
}

static void gens_prune(server *s)
{
    while (s->gens && s->gens != s->current && s->gens->conns == 0) {
        cert_gen *g = s->gens;
        s->gens = g->next;
        gen_free(g);
    }
}

static void gens_free_all(server *s)
{
    while (s->gens) {
        cert_gen *g = s->gens;
        s->gens = g->next;
        gen_free(g);
    }
    s->current = NULL;
}

/* gnutls_certificate_retrieve_function2: every handshake asks here. */
static int cert_callback(gnutls_session_t session,
                         const gnutls_datum_t *req_ca_dn, int nreqs,
                         const gnutls_pk_algorithm_t *pk_algos,
                         int pk_algos_length, gnutls_pcert_st **pcert,
                         unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
    (void)session;
    (void)req_ca_dn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    cert_gen *g = the_server ? the_server->current : NULL;
    if (!g)
        return -1; /* aborts the handshake */
    *pcert = g->pcert;
    *pcert_length = g->npcert;
    *pkey = g->key;
    return 0;
}

/* Counts connections per generation, so that retired ones are freed only
 * when nothing can reference them any more. */
static void notify_conn(void *cls, struct MHD_Connection *conn,
                        void **socket_context,
                        enum MHD_ConnectionNotificationCode code)
{
    server *s = cls;
    (void)conn;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        cert_gen *g = s->current;
        if (g)
            g->conns++;
        *socket_context = g;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        cert_gen *g = *socket_context;
        if (g && g->conns > 0)
            g->conns--;
        *socket_context = NULL;
        gens_prune(s);
    }
}

/* The serial of the certificate this TLS session was actually given. */
static const char *session_serial(server *s, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    const gnutls_datum_t *ours =
        ci && ci->tls_session ? gnutls_certificate_get_ours(ci->tls_session)
                              : NULL;
    if (ours) {
        for (cert_gen *g = s->gens; g; g = g->next) {
            const gnutls_datum_t *d = &g->pcert[0].cert;
            if (d->size == ours->size &&
                memcmp(d->data, ours->data, d->size) == 0)
                return g->serial;
        }
    }
    return s->current ? s->current->serial : "?";
}

/* ------------------------------------------------------------------ */
/* HTTP handlers                                                       */
/* ------------------------------------------------------------------ */

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status,
                               const char *body, const char *location)
{
    enum MHD_Result ret = MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        goto out;
    if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                "text/plain; charset=utf-8") != MHD_YES)
        goto out;
    if (location && MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION,
                                            location) != MHD_YES)
        goto out;
    ret = MHD_queue_response(conn, status, r);
out:
    if (r)
        MHD_destroy_response(r);
    return ret;
}

static bool is_get(const char *method)
{
    return strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
           strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
}

/* Host header without its port, if it is a plausible host name or address
 * (it goes into a Location header, so nothing else is let through). */
static bool host_only(const char *host, char *out, size_t outlen)
{
    size_t n;
    if (!host || !*host)
        return false;
    if (host[0] == '[') {
        const char *end = strchr(host, ']');
        if (!end)
            return false;
        n = (size_t)(end - host) + 1;
    } else {
        const char *colon = strchr(host, ':');
        n = colon ? (size_t)(colon - host) : strlen(host);
    }
    if (n == 0 || n >= outlen)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = host[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':' ||
                  c == '[' || c == ']';
        if (!ok)
            return false;
    }
    memcpy(out, host, n);
    out[n] = '\0';
    return true;
}

static enum MHD_Result redirect_to_https(server *s, struct MHD_Connection *conn,
                                         const char *url)
{
    char host[256], port[16] = "", location[2048];
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_HOST);
    if (!s->https || !host_only(h, host, sizeof host))
        return respond(conn, MHD_HTTP_NOT_FOUND, "not found\n", NULL);
    /* MHD hands over the decoded path: keep only printable ASCII so that it
     * cannot break the header. */
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            url = "/";
    if (s->https_port != 443)
        snprintf(port, sizeof port, ":%u", s->https_port);
    int n =
        snprintf(location, sizeof location, "https://%s%s%s", host, port, url);
    if (n < 0 || (size_t)n >= sizeof location)
        return respond(conn, MHD_HTTP_NOT_FOUND, "not found\n", NULL);
    return respond(conn, MHD_HTTP_MOVED_PERMANENTLY,
                   "this site is served over https\n", location);
}

static enum MHD_Result http_handler(void *cls, struct MHD_Connection *conn,
                                    const char *url, const char *method,
                                    const char *version,
                                    const char *upload_data,
                                    size_t *upload_data_size, void **req_cls)
{
    server *s = cls;
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)req_cls;
    if (!is_get(method))
        return respond(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only\n", NULL);
    if (strncmp(url, CHALLENGE_PREFIX, strlen(CHALLENGE_PREFIX)) != 0)
        return redirect_to_https(s, conn, url);

    /* The library knows the tokens of every live challenge of the context;
     * it validates the token's syntax too. */
    char *ka = NULL;
    leec_code rc = leec_ctx_http01_key_authorization(
        s->ctx, url + strlen(CHALLENGE_PREFIX), &ka);
    enum MHD_Result ret;
    if (rc == LEEC_OK)
        ret = respond(conn, MHD_HTTP_OK, ka, NULL);
    else
        ret = respond(conn, MHD_HTTP_NOT_FOUND, "not found\n", NULL);
    free(ka);
    return ret;
}

static enum MHD_Result https_handler(void *cls, struct MHD_Connection *conn,
                                     const char *url, const char *method,
                                     const char *version,
                                     const char *upload_data,
                                     size_t *upload_data_size, void **req_cls)
{
    server *s = cls;
    (void)url;
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)req_cls;
    if (!is_get(method))
        return respond(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only\n", NULL);
    char body[256];
    snprintf(body, sizeof body, "hello from " PROG " (serial %s)\n",
             session_serial(s, conn));
    return respond(conn, MHD_HTTP_OK, body, NULL);
}

/* ------------------------------------------------------------------ */
/* Daemons                                                             */
/* ------------------------------------------------------------------ */

/*
 * "[ADDR:]PORT", with ADDR a numeric IPv4 address or a bracketed IPv6 one.
 * Port 0 lets the kernel choose (the chosen port is printed).
 */
static bool parse_addr(const char *arg, listen_addr *out)
{
    bool ok = false;
    char host[INET6_ADDRSTRLEN + 2] = "";
    const char *port = arg;
    struct addrinfo hints, *res = NULL;

    memset(out, 0, sizeof *out);
    if (arg[0] == '[') {
        const char *end = strchr(arg, ']');
        if (!end || end[1] != ':' || (size_t)(end - arg - 1) >= sizeof host)
            goto out;
        memcpy(host, arg + 1, (size_t)(end - arg - 1));
        host[end - arg - 1] = '\0';
        port = end + 2;
    } else {
        const char *colon = strrchr(arg, ':');
        if (colon) {
            if ((size_t)(colon - arg) >= sizeof host ||
                strchr(arg, ':') != colon)
                goto out;
            memcpy(host, arg, (size_t)(colon - arg));
            host[colon - arg] = '\0';
            port = colon + 1;
        }
    }
    char *end = NULL;
    errno = 0;
    unsigned long p = strtoul(port, &end, 10);
    if (!*port || *end || errno || p > 65535 || port[0] == '-' ||
        port[0] == '+')
        goto out;
    out->port = (uint16_t)p;
    if (!host[0]) {
        out->any = true;
        ok = true;
        goto out;
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) != 0 || !res ||
        res->ai_addrlen > sizeof out->ss)
        goto out;
    memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
    out->ipv6 = res->ai_family == AF_INET6;
    ok = true;
out:
    if (res)
        freeaddrinfo(res);
    return ok;
}

static struct MHD_Daemon *start_http(server *s)
{
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (s->http_addr.ipv6)
        flags |= MHD_USE_IPv6;
    /* The logger first: MHD reports options it parses before it to stderr.
     * A NULL sockaddr means the port on the wildcard address. */
    return MHD_start_daemon(
        flags, s->http_addr.port, NULL, NULL, http_handler, s,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log_cb, s, MHD_OPTION_SOCK_ADDR,
        s->http_addr.any ? NULL : (const struct sockaddr *)&s->http_addr.ss,
        MHD_OPTION_CONNECTION_TIMEOUT, CONN_TIMEOUT_S,
        MHD_OPTION_CONNECTION_LIMIT, CONN_LIMIT, MHD_OPTION_END);
}

static struct MHD_Daemon *start_https(server *s)
{
    unsigned flags = MHD_USE_EPOLL | MHD_USE_TLS | MHD_USE_ERROR_LOG;
    if (s->https_addr.ipv6)
        flags |= MHD_USE_IPv6;
    return MHD_start_daemon(
        flags, s->https_addr.port, NULL, NULL, https_handler, s,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log_cb, s, MHD_OPTION_SOCK_ADDR,
        s->https_addr.any ? NULL : (const struct sockaddr *)&s->https_addr.ss,
        MHD_OPTION_HTTPS_CERT_CALLBACK, &cert_callback,
        MHD_OPTION_NOTIFY_CONNECTION, notify_conn, s,
        MHD_OPTION_CONNECTION_TIMEOUT, CONN_TIMEOUT_S,
        MHD_OPTION_CONNECTION_LIMIT, CONN_LIMIT, MHD_OPTION_END);
}

static unsigned bound_port(struct MHD_Daemon *d, unsigned fallback)
{
    const union MHD_DaemonInfo *di =
        MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    return di && di->port ? di->port : fallback;
}

static int daemon_fd(struct MHD_Daemon *d)
{
    const union MHD_DaemonInfo *di =
        d ? MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
    return di ? di->epoll_fd : -1;
}

/* Makes the stored certificate current, starting the HTTPS daemon the
 * first time. Returns 0 on success (or when it was current already). */
static int install_cert(server *s, const char *cert_name)
{
    cert_gen *g = NULL;
    if (gen_load(leec_ctx_get_store(s->ctx), cert_name, &g) != 0)
        return -1;
    if (s->current && strcmp(s->current->serial, g->serial) == 0) {
        gen_free(g); /* FRESH: the one we serve already */
        return 0;
    }
    if (s->current)
        s->current->next = g;
    else
        s->gens = g;
    s->current = g;
    gens_prune(s);
    if (!s->https) {
        s->https = start_https(s);
        if (!s->https) {
            logf_("error", "cannot start the HTTPS daemon");
            return -1;
        }
        s->https_port = bound_port(s->https, s->https_addr.port);
    }
    printf("serving https on %u with certificate serial %s\n", s->https_port,
           g->serial);
    fflush(stdout);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Agents                                                              */
/* ------------------------------------------------------------------ */

static void on_done(void *ud, leec_agent *agent, leec_outcome outcome)
{
    server *s = ud;
    int64_t every = s->renew_every_s ? s->renew_every_s : DEFAULT_CHECK_S;

    if (outcome == LEEC_OUTCOME_ISSUED || outcome == LEEC_OUTCOME_FRESH ||
        outcome == LEEC_OUTCOME_DEFERRED) {
        logf_("info", "certificate %s: %s", leec_agent_cert_name(agent),
              outcome == LEEC_OUTCOME_ISSUED  ? "issued"
              : outcome == LEEC_OUTCOME_FRESH ? "fresh"
                                              : "backing off after failures");
        /* The agent's cert name, not names[0]: leec normalises names. */
        if (install_cert(s, leec_agent_cert_name(agent)) != 0 && !s->https) {
            s->stop = true;
            s->exit_code = 1;
        }
    } else {
        const leec_problem *p = leec_agent_problem(agent);
        logf_("error", "certificate %s: %s%s%s", leec_agent_cert_name(agent),
              leec_agent_error_message(agent), p && p->detail ? ": " : "",
              p && p->detail ? p->detail : "");
        /* Nothing to serve at all: say so rather than sit there. With a
         * certificate in use, keep it and try again at the next check. */
        if (!s->https) {
            s->stop = true;
            s->exit_code = 1;
        }
    }
    /* Without a forced period: look again when the library's plan says
     * (due time, the CA's renewal-information Retry-After, back-off), at
     * least a minute and at most the default period from now. */
    leec_renewal_plan *plan = NULL;
    if (!s->renew_every_s &&
        leec_store_renewal_plan(leec_ctx_get_store(s->ctx),
                                leec_agent_cert_name(agent),
                                &plan) == LEEC_OK) {
        time_t in = plan->wake - time(NULL);
        every = in < 60 ? 60 : in < every ? (int64_t)in : every;
        leec_renewal_plan_free(plan);
    }
    leec_agent_free(agent); /* allowed from inside this callback */
    s->agent = NULL;
    s->next_check_ms = now_ms() + every * 1000;
}

static int start_agent(server *s, bool force)
{
    leec_code err = LEEC_OK;
    leec_agent *a = leec_agent_new(s->ctx, NULL, s->names, s->nnames, &err);
    if (!a) {
        logf_("error", "cannot create the agent: %s", leec_strerror(err));
        return -1;
    }
    leec_agent_set_force(a, force);
    leec_agent_set_callbacks(a, NULL, on_done, s);
    /* Recorded before the start: an agent can finish inside
     * leec_agent_start() (a fresh stored certificate), and then on_done()
     * has already run, freed it and scheduled the next check. */
    s->agent = a;
    s->next_check_ms = -1;
    if ((err = leec_agent_start(a)) != LEEC_OK) {
        logf_("error", "cannot start the agent: %s", leec_strerror(err));
        leec_agent_free(a);
        s->agent = NULL;
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* The loop                                                            */
/* ------------------------------------------------------------------ */

static void min_timeout(long *t, long candidate)
{
    if (candidate >= 0 && (*t < 0 || candidate < *t))
        *t = candidate;
}

static long mhd_timeout(struct MHD_Daemon *d)
{
    MHD_UNSIGNED_LONG_LONG t = 0;
    if (!d || MHD_get_timeout(d, &t) != MHD_YES)
        return -1;
    return t > (MHD_UNSIGNED_LONG_LONG)LONG_MAX ? LONG_MAX : (long)t;
}

static int run_loop(server *s, int leec_fd, int http_fd)
{
    while (!s->stop) {
        long t = leec_ctx_timeout_ms(s->ctx);
        min_timeout(&t, mhd_timeout(s->http));
        min_timeout(&t, mhd_timeout(s->https));
        if (s->next_check_ms >= 0) {
            int64_t left = s->next_check_ms - now_ms();
            min_timeout(
                &t, left < 0 ? 0 : (long)(left > LONG_MAX ? LONG_MAX : left));
        }
        if (t > INT_MAX)
            t = INT_MAX;

        struct pollfd pfd[4] = {
            {.fd = sig_pipe[0], .events = POLLIN},
            {.fd = leec_fd, .events = POLLIN},
            {.fd = http_fd, .events = POLLIN},
            /* The HTTPS daemon's epoll fd appears with the first certificate;
             * a negative fd is ignored by poll(). */
            {.fd = daemon_fd(s->https), .events = POLLIN},
        };
        if (poll(pfd, 4, (int)t) < 0 && errno != EINTR) {
            logf_("error", "poll: %s", strerror(errno));
            return 1;
        }
        if (pfd[0].revents & POLLIN) {
            unsigned char b = 0;
            if (read(sig_pipe[0], &b, 1) == 1)
                logf_("info", "signal %u: stopping", (unsigned)b);
            return 0;
        }
        /* Each is cheap when it has nothing to do, so all run every turn
         * rather than tracking which fd fired. */
        leec_code rc = leec_ctx_perform(s->ctx, NULL);
        if (rc != LEEC_OK)
            logf_("warn", "leec_ctx_perform: %s", leec_strerror(rc));
        MHD_run(s->http);
        if (s->https)
            MHD_run(s->https);
        if (!s->agent && s->next_check_ms >= 0 &&
            now_ms() >= s->next_check_ms &&
            start_agent(s, s->renew_every_s > 0) != 0)
            s->next_check_ms = now_ms() + 60 * 1000; /* try again later */
    }
    return s->exit_code;
}

/* ------------------------------------------------------------------ */
/* Set-up                                                              */
/* ------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fputs("usage: " PROG " --server URL [--ca-bundle FILE] --dir DIR\n"
          "         --http-port [ADDR:]PORT --https-port [ADDR:]PORT\n"
          "         -d NAME [-d NAME...] [--agree-tos] [--renew-every SECONDS]"
          " [-v]\n"
          "\n"
          "Obtains a certificate for the names (http-01, answered on the\n"
          "http port) and serves https with it, renewing it while running.\n"
          "--renew-every N forces a new certificate every N seconds (a test\n"
          "hook); without it the certificate is checked every 12 hours and\n"
          "renewed when a third of its lifetime is left.\n",
          f);
}

static int install_signals(void)
{
    struct sigaction sa;
    if (pipe(sig_pipe) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        int fl = fcntl(sig_pipe[i], F_GETFL);
        if (fl < 0 || fcntl(sig_pipe[i], F_SETFL, fl | O_NONBLOCK) != 0 ||
            fcntl(sig_pipe[i], F_SETFD, FD_CLOEXEC) != 0)
            return -1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
        return -1;
    sa.sa_handler = SIG_IGN; /* a client going away must not kill us */
    return sigaction(SIGPIPE, &sa, NULL);
}

int main(int argc, char **argv)
{
    enum { O_SERVER = 256, O_CA, O_DIR, O_HTTP, O_HTTPS, O_TOS, O_RENEW };
    static const struct option opts[] = {
        {"server", required_argument, NULL, O_SERVER},
        {"ca-bundle", required_argument, NULL, O_CA},
        {"dir", required_argument, NULL, O_DIR},
        {"http-port", required_argument, NULL, O_HTTP},
        {"https-port", required_argument, NULL, O_HTTPS},
        {"domain", required_argument, NULL, 'd'},
        {"agree-tos", no_argument, NULL, O_TOS},
        {"renew-every", required_argument, NULL, O_RENEW},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    server s;
    const char *url = NULL, *ca = NULL, *dir = NULL;
    const char *http_arg = NULL, *https_arg = NULL;
    bool tos = false, have_sigs = false;
    int verbose = 0, ret = 2, c, leec_fd = -1, http_fd = -1;
    leec_code rc;
    leec_store *store = NULL;

    memset(&s, 0, sizeof s);
    s.next_check_ms = -1;
    while ((c = getopt_long(argc, argv, "d:vh", opts, NULL)) != -1) {
        switch (c) {
        case O_SERVER:
            url = optarg;
            break;
        case O_CA:
            ca = optarg;
            break;
        case O_DIR:
            dir = optarg;
            break;
        case O_HTTP:
            http_arg = optarg;
            break;
        case O_HTTPS:
            https_arg = optarg;
            break;
        case O_TOS:
            tos = true;
            break;
        case 'v':
            verbose++;
            break;
        case 'd':
            if (s.nnames == MAX_NAMES) {
                fprintf(stderr, PROG ": at most %d names\n", MAX_NAMES);
                goto out;
            }
            s.names[s.nnames++] = optarg;
            break;
        case O_RENEW: {
            char *end = NULL;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (!*optarg || *end || errno || v <= 0 || v > 86400L * 365) {
                fprintf(stderr, PROG ": --renew-every wants seconds > 0\n");
                goto out;
            }
            s.renew_every_s = v;
            break;
        }
        case 'h':
            usage(stdout);
            ret = 0;
            goto out;
        default:
            usage(stderr);
            goto out;
        }
    }
    if (optind != argc || !url || !dir || !http_arg || !https_arg ||
        !s.nnames) {
        usage(stderr);
        goto out;
    }
    if (!parse_addr(http_arg, &s.http_addr) ||
        !parse_addr(https_arg, &s.https_addr)) {
        fprintf(stderr, PROG ": ports are [ADDR:]PORT, ADDR numeric\n");
        goto out;
    }

    ret = 1;
    /* Checked before talking to the CA: a certificate we could not serve
     * would be wasted on the CA's rate limits. */
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES ||
        MHD_is_feature_supported(MHD_FEATURE_HTTPS_CERT_CALLBACK) != MHD_YES) {
        fprintf(stderr, PROG ": this libmicrohttpd lacks TLS or the "
                             "certificate callback\n");
        goto out;
    }
    if (install_signals() != 0) {
        fprintf(stderr, PROG ": signals: %s\n", strerror(errno));
        goto out;
    }
    have_sigs = true;
    the_server = &s;

    s.ctx = leec_ctx_new();
    if (!s.ctx) {
        fprintf(stderr, PROG ": out of memory\n");
        goto out;
    }
    leec_ctx_set_log(s.ctx, leec_log_cb, NULL,
                     verbose ? LEEC_LOG_DEBUG : LEEC_LOG_INFO);
    leec_ctx_set_agree_tos(s.ctx, tos);
    if ((rc = leec_ctx_set_server(s.ctx, leec_server_url(url))) != LEEC_OK ||
        (ca && (rc = leec_ctx_set_ca_bundle(s.ctx, ca)) != LEEC_OK)) {
        fprintf(stderr, PROG ": %s\n", leec_strerror(rc));
        ret = 2; /* a bad argument, like the ones above */
        goto out;
    }
    {
        /* An unsafe folder (others can write it) is refused: say why. */
        char *why = NULL;
        store = leec_store_fs_open(dir, &rc, &why);
        if (!store) {
            if (why)
                fprintf(stderr, PROG ": %s\n", why);
            else
                fprintf(stderr, PROG ": %s: %s\n", dir, leec_strerror(rc));
            free(why);
            goto out;
        }
    }
    leec_ctx_set_store(s.ctx, store);

    /* After the settings above: the fd brings the CA transport to life,
     * after which server and CA bundle can no longer change. */
    leec_fd = leec_ctx_get_fd(s.ctx);
    if (leec_fd < 0) {
        fprintf(stderr, PROG ": leec_ctx_get_fd failed\n");
        goto out;
    }
    /* The http daemon first: the CA's validator will come knocking. */
    s.http = start_http(&s);
    if (!s.http) {
        fprintf(stderr, PROG ": cannot listen on %s\n", http_arg);
        goto out;
    }
    http_fd = daemon_fd(s.http);
    if (http_fd < 0) {
        fprintf(stderr, PROG ": no epoll fd from libmicrohttpd\n");
        goto out;
    }
    logf_("info", "http on %u, answering http-01 for %zu name(s)",
          bound_port(s.http, s.http_addr.port), s.nnames);
    /* The first run is never forced: a fresh stored certificate (from an
     * earlier run) is served straight away. */
    if (start_agent(&s, false) != 0)
        goto out;
    ret = run_loop(&s, leec_fd, http_fd);

out:
    /* HTTPS first: stopping it closes its connections, which releases the
     * generations they hold. */
    if (s.https)
        MHD_stop_daemon(s.https);
    gens_free_all(&s);
    if (s.http)
        MHD_stop_daemon(s.http);
    leec_ctx_free(s.ctx); /* frees a running agent, undoing its challenges */
    the_server = NULL;
    if (have_sigs) {
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
    }
    for (int i = 0; i < 2; i++)
        if (sig_pipe[i] >= 0)
            close(sig_pipe[i]);
    return ret;
}
