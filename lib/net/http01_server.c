/* The built-in http-01 responder. libmicrohttpd runs in external epoll mode:
 * the context's event loop polls our epoll fd and calls MHD_run(), so the
 * library stays single-threaded. */
#define _GNU_SOURCE

#include "net/netaddr.h"
#include "net/http01_server.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "util/b64url.h"

#define CHALLENGE_PREFIX "/.well-known/acme-challenge/"
/* Enough for a CA's few validation servers plus some stray scanners. */
#define CONN_LIMIT     64U
#define CONN_TIMEOUT_S 10U

/* A request whose answer comes later (LEEC_HTTP01_LATER): its connection
 * is suspended until Leec_http01_server_answer() or its deadline. */
typedef struct pending {
    struct pending *next;
    struct MHD_Connection *conn;
    char *token;
    char *key_auth; /* the answer (NULL: unknown) */
    bool answered;
    struct timespec since;
} pending;

struct leec_http01_server {
    struct MHD_Daemon *daemon;
    leec_http01_lookup_fn lookup;
    void *userdata;
    pending *pending;
};

/* How long a deferred lookup may take before the request is answered 404
 * (the CA retries or fails that challenge; the loop never waits). */
#define PENDING_MAX_MS 5000L

static long ms_since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)(now.tv_sec - t->tv_sec) * 1000L +
           (long)(now.tv_nsec - t->tv_nsec) / 1000000L;
}

static void answer(pending *pd, const char *key_auth)
{
    pd->key_auth = key_auth ? strdup(key_auth) : NULL;
    pd->answered = true;
    MHD_resume_connection(pd->conn);
}

static void pending_unlink(leec_http01_server *srv, pending *pd)
{
    for (pending **pp = &srv->pending; *pp; pp = &(*pp)->next)
        if (*pp == pd) {
            *pp = pd->next;
            break;
        }
    free(pd->token);
    free(pd->key_auth);
    free(pd);
}

/* MHD is done with a request: its pending entry, if any, goes. */
static void completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    if (*req_cls)
        pending_unlink(cls, *req_cls);
    *req_cls = NULL;
}

/* MHD would otherwise write to stderr, which a library must not do. */
static void drop_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    (void)fmt;
    (void)ap;
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned int status,
                               const char *body)
{
    enum MHD_Result ret = MHD_NO;
    struct MHD_Response *resp = NULL;

    /* MUST_COPY: body may be the lookup's borrowed string, which can be
     * gone by the time MHD sends it. (MHD takes void * even for copies;
     * it does not write to it.) */
    resp = MHD_create_response_from_buffer(strlen(body), (void *)body,
                                           MHD_RESPMEM_MUST_COPY);
    if (!resp)
        goto out;
    if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                "text/plain") != MHD_YES)
        goto out;
    ret = MHD_queue_response(conn, status, resp);

out:
    if (resp)
        MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result handle_request(void *cls, struct MHD_Connection *conn,
                                      const char *url, const char *method,
                                      const char *version,
                                      const char *upload_data,
                                      size_t *upload_data_size, void **req_cls)
{
    leec_http01_server *srv = cls;
    const char *token = NULL;
    char *key_auth = NULL;
    size_t plen = strlen(CHALLENGE_PREFIX);
    pending *pd = *req_cls;

    (void)version;
    (void)upload_data;
    (void)upload_data_size;

    /* Resumed: the deferred lookup answered (or its deadline passed). */
    if (pd) {
        if (!pd->answered)
            return MHD_YES;
        return pd->key_auth ? respond(conn, MHD_HTTP_OK, pd->key_auth)
                            : respond(conn, MHD_HTTP_NOT_FOUND, "not found");
    }

    /* Answered on the first call, before any body is read: a body is never
     * needed, and MHD then closes the connection instead of reading it. */
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
        strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        goto out;
    if (!url || strncmp(url, CHALLENGE_PREFIX, plen) != 0)
        goto out;
    token = url + plen;
    /* Only the base64url alphabet: no '/', '.', '%' tricks reach lookup. */
    if (!Leec_token_valid(token))
        goto out;
    if (srv->lookup(srv->userdata, token, &key_auth) == LEEC_HTTP01_LATER) {
        /* Answered from the loop when the store has: never waited for. */
        if (!(pd = calloc(1, sizeof *pd)) || !(pd->token = strdup(token))) {
            free(pd);
            goto out;
        }
        pd->conn = conn;
        clock_gettime(CLOCK_MONOTONIC, &pd->since);
        pd->next = srv->pending;
        srv->pending = pd;
        *req_cls = pd;
        MHD_suspend_connection(conn);
        return MHD_YES;
    }

out:
    if (!key_auth)
        return respond(conn, MHD_HTTP_NOT_FOUND, "not found");
    enum MHD_Result r = respond(conn, MHD_HTTP_OK, key_auth);
    free(key_auth);
    return r;
}

/* On a socket of our own (Leec_listen_open): why a bind failed is known,
 * which MHD would not tell. MHD owns it from here (closed on stop). */
static struct MHD_Daemon *start(leec_http01_server *srv, int fd)
{
    /* Without MHD_USE_ERROR_LOG and with a dropping logger, MHD is silent. */
    return MHD_start_daemon(
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL, handle_request,
        srv, MHD_OPTION_NOTIFY_COMPLETED, completed, srv,
        MHD_OPTION_EXTERNAL_LOGGER, drop_log, NULL, MHD_OPTION_CONNECTION_LIMIT,
        CONN_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT, CONN_TIMEOUT_S,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_END);
}

leec_code Leec_http01_server_new(const char *addr, leec_http01_lookup_fn fn,
                                 void *userdata, leec_http01_server **out)
{
    leec_code rc = LEEC_E_INVALID_ARG;
    leec_http01_server *srv = NULL;
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    uint16_t port = 0;

    if (!out || !fn)
        goto out;
    *out = NULL;
    rc = Leec_parse_listen_addr(addr, &ss, &sslen, &port);
    if (rc != LEEC_OK)
        goto out;

    rc = LEEC_E_NOMEM;
    srv = calloc(1, sizeof *srv);
    if (!srv)
        goto out;
    srv->lookup = fn;
    srv->userdata = userdata;

    int fd = -1;
    if ((rc = Leec_listen_open(&ss, sslen, port, (int)CONN_LIMIT, &fd)) !=
        LEEC_OK)
        goto out;
    if (!(srv->daemon = start(srv, fd))) {
        close(fd);
        rc = LEEC_E_IO;
        goto out;
    }
    *out = srv;
    srv = NULL;
    rc = LEEC_OK;

out:
    Leec_http01_server_free(srv);
    return rc;
}

int Leec_http01_server_fd(leec_http01_server *srv)
{
    const union MHD_DaemonInfo *info = NULL;

    if (!srv || !srv->daemon)
        return -1;
    info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    return info ? info->epoll_fd : -1;
}

long Leec_http01_server_timeout_ms(leec_http01_server *srv)
{
    MHD_UNSIGNED_LONG_LONG ms = 0;

    long t = -1;
    if (!srv || !srv->daemon)
        return -1;
    if (MHD_get_timeout(srv->daemon, &ms) == MHD_YES)
        t = ms > (MHD_UNSIGNED_LONG_LONG)LONG_MAX ? LONG_MAX : (long)ms;
    for (pending *pd = srv->pending; pd; pd = pd->next) {
        if (pd->answered)
            continue;
        long left = PENDING_MAX_MS - ms_since(&pd->since);
        left = left < 0 ? 0 : left;
        if (t < 0 || left < t)
            t = left;
    }
    return t;
}

void Leec_http01_server_run(leec_http01_server *srv)
{
    if (!srv || !srv->daemon)
        return;
    for (pending *pd = srv->pending; pd; pd = pd->next)
        if (!pd->answered && ms_since(&pd->since) >= PENDING_MAX_MS)
            answer(pd, NULL);
    MHD_run(srv->daemon);
}

void Leec_http01_server_answer(leec_http01_server *srv, const char *token,
                               const char *key_auth)
{
    for (pending *pd = srv ? srv->pending : NULL; pd; pd = pd->next)
        if (!pd->answered && strcmp(pd->token, token) == 0)
            answer(pd, key_auth);
}

bool Leec_http01_server_waiting(const leec_http01_server *srv)
{
    for (pending *pd = srv ? srv->pending : NULL; pd; pd = pd->next)
        if (!pd->answered)
            return true;
    return false;
}

int Leec_http01_server_port(leec_http01_server *srv)
{
    const union MHD_DaemonInfo *info = NULL;

    if (!srv || !srv->daemon)
        return -1;
    info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? (int)info->port : -1;
}

void Leec_http01_server_free(leec_http01_server *srv)
{
    if (!srv)
        return;
    /* MHD stops only connections that are not suspended. */
    for (pending *pd = srv->pending; pd; pd = pd->next)
        if (!pd->answered)
            answer(pd, NULL);
    if (srv->daemon)
        MHD_stop_daemon(srv->daemon);
    while (srv->pending)
        pending_unlink(srv, srv->pending);
    free(srv);
}
