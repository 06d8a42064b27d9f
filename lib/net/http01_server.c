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

#include <microhttpd.h>

#include "util/b64url.h"

#define CHALLENGE_PREFIX "/.well-known/acme-challenge/"
/* Enough for a CA's few validation servers plus some stray scanners. */
#define CONN_LIMIT     64U
#define CONN_TIMEOUT_S 10U

struct leec_http01_server {
    struct MHD_Daemon *daemon;
    leec_http01_lookup_fn lookup;
    void *userdata;
};

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
    const char *key_auth = NULL;
    size_t plen = strlen(CHALLENGE_PREFIX);

    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)req_cls;

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
    key_auth = srv->lookup(srv->userdata, token);

out:
    if (!key_auth)
        return respond(conn, MHD_HTTP_NOT_FOUND, "not found");
    return respond(conn, MHD_HTTP_OK, key_auth);
}

/* On a socket of our own (Leec_listen_open): why a bind failed is known,
 * which MHD would not tell. MHD owns it from here (closed on stop). */
static struct MHD_Daemon *start(leec_http01_server *srv, int fd)
{
    /* Without MHD_USE_ERROR_LOG and with a dropping logger, MHD is silent. */
    return MHD_start_daemon(MHD_USE_EPOLL, 0, NULL, NULL, handle_request, srv,
                            MHD_OPTION_EXTERNAL_LOGGER, drop_log, NULL,
                            MHD_OPTION_CONNECTION_LIMIT, CONN_LIMIT,
                            MHD_OPTION_CONNECTION_TIMEOUT, CONN_TIMEOUT_S,
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

    if (!srv || !srv->daemon || MHD_get_timeout(srv->daemon, &ms) != MHD_YES)
        return -1;
    return ms > (MHD_UNSIGNED_LONG_LONG)LONG_MAX ? LONG_MAX : (long)ms;
}

void Leec_http01_server_run(leec_http01_server *srv)
{
    if (srv && srv->daemon)
        MHD_run(srv->daemon);
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
    if (srv->daemon)
        MHD_stop_daemon(srv->daemon);
    free(srv);
}
