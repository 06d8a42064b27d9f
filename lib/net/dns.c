/* The DNS transport: one message out, one validated answer back, over UDP
 * (retried) or TCP. The same state machine serves the asynchronous API (on
 * the context's loop) and the blocking one (Leec_dns_send_sync drives it
 * with poll()), so both validate answers the same way. */
#define _GNU_SOURCE

#include "net/dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "util/loop.h"

#define DNS_HDR   12
#define DNS_MAX   65535
#define UDP_TRIES 3
/* UDP answers larger than this are treated as truncated (the TCP retry
 * gets them whole): callers advertise at most 1232 bytes (EDNS), so this
 * only bounds the buffer against servers that ignore that. */
#define UDP_BUF 4096
/* Datagrams read per wake-up: a flood of junk cannot keep us in the
 * callback. */
#define UDP_BURST 16

struct leec_dns_query {
    leec_ctx *ctx; /* NULL: driven by Leec_dns_send_sync's poll loop */
    struct sockaddr_storage sa;
    socklen_t salen;
    unsigned char *out; /* 2-byte length prefix (for TCP) + the message */
    size_t len;         /* the message's length */
    size_t qend;        /* end of its question section */
    int timeout_ms;
    bool tcp; /* in the TCP phase */
    bool connecting;
    int fd;
    unsigned watched;  /* events watched; 0: not registered */
    int tries;         /* UDP datagrams sent */
    int64_t start;     /* when the UDP phase began */
    int64_t deadline;  /* end of the current phase */
    leec_timer *timer; /* async mode */
    int64_t timer_at;  /* sync mode: -1 for none */
    size_t woff;       /* TCP: bytes of out written */
    unsigned char *in; /* the answer being read */
    size_t incap, inlen;
    leec_code soft; /* reported when the UDP tries run out */
    bool in_cb;     /* fn is running: cancel must not free */
    leec_dns_fn fn;
    void *ud;
};

/* ---- addresses ---- */

static bool parse_port(const char *s, int *port)
{
    long v = 0;
    if (!*s)
        return false;
    for (size_t i = 0; s[i]; i++) {
        if (s[i] < '0' || s[i] > '9' || i >= 5)
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return false;
    *port = (int)v;
    return true;
}

/* A numeric host (v4, or v6 with an optional %scope) and port. For v6,
 * getaddrinfo with AI_NUMERICHOST (it never touches the network) knows the
 * scope ids inet_pton does not. */
static leec_code numeric(const char *host, int port, int family,
                         struct sockaddr_storage *out, socklen_t *len)
{
    struct addrinfo hints = {0};
    struct addrinfo *ai = NULL;
    char serv[8];
    leec_code rc = LEEC_E_INVALID_ARG;

    /* inet_pton for v4: getaddrinfo would take inet_aton's "127.1". */
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)out;
        memset(out, 0, sizeof *out);
        if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
            return LEEC_E_INVALID_ARG;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        *len = sizeof *in;
        return LEEC_OK;
    }
    hints.ai_family = family;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    snprintf(serv, sizeof serv, "%d", port);
    if (getaddrinfo(host, serv, &hints, &ai) != 0 || !ai)
        goto out;
    if (ai->ai_addrlen > sizeof *out)
        goto out;
    memset(out, 0, sizeof *out);
    memcpy(out, ai->ai_addr, ai->ai_addrlen);
    *len = (socklen_t)ai->ai_addrlen;
    rc = LEEC_OK;
out:
    if (ai)
        freeaddrinfo(ai);
    return rc;
}

leec_code Leec_dns_parse_addr(const char *text, int default_port,
                              struct sockaddr_storage *out, socklen_t *len)
{
    char host[INET6_ADDRSTRLEN + 32];
    int port = default_port;
    int family = AF_INET;
    const char *colon = NULL;
    size_t hlen = 0;

    if (!text || !out || !len || default_port < 1 || default_port > 65535)
        return LEEC_E_INVALID_ARG;
    if (text[0] == '[') {
        const char *end = strchr(text, ']');
        if (!end)
            return LEEC_E_INVALID_ARG;
        if (end[1] == ':') {
            if (!parse_port(end + 2, &port))
                return LEEC_E_INVALID_ARG;
        } else if (end[1]) {
            return LEEC_E_INVALID_ARG;
        }
        text++;
        hlen = (size_t)(end - text);
        family = AF_INET6;
    } else if ((colon = strchr(text, ':')) && strchr(colon + 1, ':')) {
        /* Two colons or more: a bare v6 address, which cannot carry a port
         * (it would be ambiguous). */
        hlen = strlen(text);
        family = AF_INET6;
    } else if (colon) {
        if (!parse_port(colon + 1, &port))
            return LEEC_E_INVALID_ARG;
        hlen = (size_t)(colon - text);
    } else {
        hlen = strlen(text);
    }
    if (hlen == 0 || hlen >= sizeof host)
        return LEEC_E_INVALID_ARG;
    memcpy(host, text, hlen);
    host[hlen] = '\0';
    return numeric(host, port, family, out, len);
}

/* ---- messages ---- */

/* Names in questions we send are never compressed, but a pointer is
 * followed by nothing else in the name, so it is skipped either way. */
size_t Leec_dns_question_end(const unsigned char *m, size_t len)
{
    size_t off = DNS_HDR;
    unsigned qd = 0;

    if (len < DNS_HDR)
        return 0;
    qd = (unsigned)m[4] << 8 | m[5];
    for (unsigned i = 0; i < qd; i++) {
        for (;;) {
            if (off >= len)
                return 0;
            unsigned l = m[off];
            if ((l & 0xC0) == 0xC0) {
                off += 2;
                break;
            }
            if (l & 0xC0)
                return 0;
            off += 1 + l;
            if (l == 0)
                break;
        }
        off += 4; /* type, class */
        if (off > len)
            return 0;
    }
    return off;
}

/* What belongs to a query: see dns.h. Kept apart from the query's state so
 * that the fuzz target's stand-in transport judges answers the same way. */
bool Leec_dns_answer_matches(const unsigned char *m, size_t qend,
                             const unsigned char *a, size_t n)
{
    if (n < DNS_HDR || a[0] != m[0] || a[1] != m[1])
        return false;
    if (!(a[2] & 0x80) || (a[2] & 0x78) != (m[2] & 0x78))
        return false;
    if (a[4] == 0 && a[5] == 0 && (a[3] & 0x0F) != 0)
        return true;
    if (a[4] != m[4] || a[5] != m[5] || n < qend)
        return false;
    return memcmp(a + DNS_HDR, m + DNS_HDR, qend - DNS_HDR) == 0;
}

static bool answer_ok(const leec_dns_query *q, const unsigned char *a, size_t n)
{
    return Leec_dns_answer_matches(q->out + 2, q->qend, a, n);
}

/* ---- the state machine ---- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now(const leec_dns_query *q)
{
    return q->ctx ? Leec_now_ms(q->ctx) : mono_ms();
}

static void on_io(void *userdata, int fd, unsigned events);
static void on_timer(void *userdata);

static leec_code watch(leec_dns_query *q, unsigned events)
{
    if (q->ctx) {
        leec_code rc = Leec_loop_watch(q->ctx, q->fd, events, on_io, q);
        if (rc != LEEC_OK)
            return rc;
    }
    q->watched = events;
    return LEEC_OK;
}

static void cancel_timer(leec_dns_query *q)
{
    if (q->ctx && q->timer)
        Leec_loop_timer_cancel(q->ctx, q->timer);
    q->timer = NULL;
    q->timer_at = -1;
}

static leec_code set_timer(leec_dns_query *q, int64_t at)
{
    cancel_timer(q);
    if (q->ctx) {
        q->timer = Leec_loop_timer(q->ctx, at, on_timer, q);
        if (!q->timer)
            return LEEC_E_NOMEM;
    }
    q->timer_at = at;
    return LEEC_OK;
}

/* Unregisters and closes the socket: the loop must never see a closed
 * (or reused) descriptor. */
static void close_socket(leec_dns_query *q)
{
    if (q->fd < 0)
        return;
    if (q->watched && q->ctx)
        Leec_loop_unwatch(q->ctx, q->fd);
    q->watched = 0;
    close(q->fd);
    q->fd = -1;
}

static void teardown(leec_dns_query *q)
{
    close_socket(q);
    cancel_timer(q);
}

static void query_free(leec_dns_query *q)
{
    teardown(q);
    free(q->out);
    free(q->in);
    free(q);
}

/* Reports once and frees the query; nothing may touch q afterwards. */
static void finish(leec_dns_query *q, leec_code rc, const unsigned char *wire,
                   size_t len)
{
    teardown(q);
    q->in_cb = true;
    q->fn(q->ud, rc, rc == LEEC_OK ? wire : NULL, rc == LEEC_OK ? len : 0);
    query_free(q);
}

static leec_code open_socket(leec_dns_query *q, int type)
{
    q->fd = socket(q->sa.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (q->fd < 0)
        return LEEC_E_IO;
    /* Connected, also for UDP: the kernel then drops datagrams from any
     * other address, and ICMP errors come back to us. */
    if (connect(q->fd, (const struct sockaddr *)&q->sa, q->salen) == 0)
        return LEEC_OK;
    if (type == SOCK_STREAM && errno == EINPROGRESS) {
        q->connecting = true;
        return LEEC_OK;
    }
    return LEEC_E_IO;
}

/* One UDP datagram. A failure here is not final: the next try may work
 * (ECONNREFUSED left over from an ICMP error, a full send buffer). */
static void udp_try(leec_dns_query *q)
{
    q->tries++;
    if (send(q->fd, q->out + 2, q->len, 0) < 0 && errno != EAGAIN &&
        errno != EWOULDBLOCK)
        q->soft = LEEC_E_IO;
}

/* The next event of the UDP phase: another try, or the end. The tries are
 * spread evenly over the timeout. */
static leec_code udp_schedule(leec_dns_query *q)
{
    int64_t at = q->tries < UDP_TRIES
                     ? q->start + (int64_t)q->timeout_ms * q->tries / UDP_TRIES
                     : q->deadline;
    return set_timer(q, at);
}

static leec_code start_udp(leec_dns_query *q)
{
    leec_code rc = open_socket(q, SOCK_DGRAM);
    if (rc != LEEC_OK)
        return rc;
    if ((rc = watch(q, EPOLLIN)) != LEEC_OK)
        return rc;
    q->start = now(q);
    q->deadline = q->start + q->timeout_ms;
    q->tries = 1;
    /* The first datagram's error is reported at once: nothing will change
     * by retrying an unreachable network. */
    if (send(q->fd, q->out + 2, q->len, 0) < 0 && errno != EAGAIN &&
        errno != EWOULDBLOCK)
        return LEEC_E_IO;
    return udp_schedule(q);
}

/* fresh: the query asked for TCP (a whole timeout of its own); else a
 * truncated UDP answer came back. */
static leec_code start_tcp(leec_dns_query *q, bool fresh)
{
    leec_code rc = LEEC_OK;
    int64_t t = now(q);

    close_socket(q);
    q->tcp = true;
    q->connecting = false;
    q->woff = 0;
    q->inlen = 0;
    /* After truncation: within the original budget (the truncated answer
     * usually comes early), but a late one still leaves the TCP retry a
     * try's worth of time. */
    if (fresh)
        q->deadline = t + q->timeout_ms;
    else if (q->deadline < t + q->timeout_ms / UDP_TRIES)
        q->deadline = t + q->timeout_ms / UDP_TRIES;
    if ((rc = open_socket(q, SOCK_STREAM)) != LEEC_OK)
        return rc;
    /* Writable once connected (also when connect completed at once). */
    if ((rc = watch(q, EPOLLOUT)) != LEEC_OK)
        return rc;
    return set_timer(q, q->deadline);
}

static void on_udp(leec_dns_query *q)
{
    for (int i = 0; i < UDP_BURST; i++) {
        ssize_t n = recv(q->fd, q->in, q->incap, MSG_TRUNC);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            /* ICMP port unreachable and the like: the next try may get
             * through (a server restarting). */
            q->soft = LEEC_E_IO;
            return;
        }
        size_t got = (size_t)n < q->incap ? (size_t)n : q->incap;
        if (!answer_ok(q, q->in, got)) {
            q->soft = LEEC_E_PROTOCOL;
            continue;
        }
        if ((q->in[2] & 0x02) || (size_t)n > q->incap) {
            leec_code rc = start_tcp(q, false);
            if (rc != LEEC_OK)
                finish(q, rc, NULL, 0);
            return;
        }
        finish(q, LEEC_OK, q->in, got);
        return;
    }
}

/* Connect, write the length-prefixed message, read the length-prefixed
 * answer; each step returns when the socket would block. */
static void on_tcp(leec_dns_query *q, unsigned events)
{
    size_t total = q->len + 2;

    if (q->connecting) {
        int err = 0;
        socklen_t elen = sizeof err;
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        if (getsockopt(q->fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err)
            goto io;
        q->connecting = false;
    }
    while (q->woff < total) {
        ssize_t n =
            send(q->fd, q->out + q->woff, total - q->woff, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            goto io;
        }
        q->woff += (size_t)n;
        if (q->woff == total && watch(q, EPOLLIN) != LEEC_OK)
            goto nomem;
    }
    for (;;) {
        /* The 2-byte length first, then exactly that many bytes: the
         * answer can never exceed 64 KiB. */
        size_t need = q->inlen < 2 ? 2 : 2 + ((size_t)q->in[0] << 8 | q->in[1]);
        if (q->inlen == need) {
            if (need == 2)
                goto proto; /* an empty message */
            break;
        }
        if (need > q->incap) {
            unsigned char *p = realloc(q->in, need);
            if (!p)
                goto nomem;
            q->in = p;
            q->incap = need;
        }
        ssize_t n = recv(q->fd, q->in + q->inlen, need - q->inlen, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            goto io;
        }
        if (n == 0)
            goto io; /* closed before the whole answer */
        q->inlen += (size_t)n;
    }
    if (!answer_ok(q, q->in + 2, q->inlen - 2))
        goto proto;
    finish(q, LEEC_OK, q->in + 2, q->inlen - 2);
    return;
io:
    finish(q, LEEC_E_IO, NULL, 0);
    return;
proto:
    finish(q, LEEC_E_PROTOCOL, NULL, 0);
    return;
nomem:
    finish(q, LEEC_E_NOMEM, NULL, 0);
}

static void on_io(void *userdata, int fd, unsigned events)
{
    leec_dns_query *q = userdata;
    (void)fd;
    if (q->tcp)
        on_tcp(q, events);
    else
        on_udp(q);
}

static void on_timer(void *userdata)
{
    leec_dns_query *q = userdata;
    leec_code rc = LEEC_OK;

    q->timer = NULL; /* it has run: its handle is gone */
    q->timer_at = -1;
    if (q->tcp) {
        finish(q, LEEC_E_TIMEOUT, NULL, 0);
        return;
    }
    if (q->tries >= UDP_TRIES) {
        finish(q, q->soft, NULL, 0);
        return;
    }
    udp_try(q);
    if ((rc = udp_schedule(q)) != LEEC_OK)
        finish(q, rc, NULL, 0);
}

static leec_code query_new(leec_ctx *ctx, const struct sockaddr *sa,
                           socklen_t salen, const unsigned char *msg,
                           size_t len, int timeout_ms, leec_dns_fn fn,
                           void *userdata, leec_dns_query **out)
{
    leec_dns_query *q = NULL;
    uint16_t id = 0;
    ssize_t got = -1;

    if (!sa || !msg || !fn || len < DNS_HDR || len > DNS_MAX ||
        timeout_ms <= 0 || salen == 0 || salen > sizeof q->sa ||
        (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
        return LEEC_E_INVALID_ARG;
    if (!(q = calloc(1, sizeof *q)))
        return LEEC_E_NOMEM;
    q->ctx = ctx;
    q->fd = -1;
    q->timer_at = -1;
    q->soft = LEEC_E_TIMEOUT;
    q->timeout_ms = timeout_ms;
    q->fn = fn;
    q->ud = userdata;
    memcpy(&q->sa, sa, salen);
    q->salen = salen;
    q->len = len;
    q->incap = UDP_BUF;
    q->out = malloc(len + 2);
    q->in = malloc(q->incap);
    if (!q->out || !q->in) {
        query_free(q);
        return LEEC_E_NOMEM;
    }
    q->out[0] = (unsigned char)(len >> 8);
    q->out[1] = (unsigned char)len;
    memcpy(q->out + 2, msg, len);
    if (!(q->qend = Leec_dns_question_end(q->out + 2, len))) {
        query_free(q);
        return LEEC_E_INVALID_ARG;
    }
    /* An unpredictable ID (with the kernel's random source port) is what
     * keeps off-path attackers from forging answers. */
    do
        got = getrandom(&id, sizeof id, 0);
    while (got < 0 && errno == EINTR);
    if (got != (ssize_t)sizeof id) {
        query_free(q);
        return LEEC_E_IO;
    }
    memcpy(q->out + 2, &id, sizeof id);
    *out = q;
    return LEEC_OK;
}

leec_code Leec_dns_send(leec_ctx *ctx, const struct sockaddr *sa,
                        socklen_t salen, const unsigned char *msg, size_t len,
                        bool tcp, int timeout_ms, leec_dns_fn fn,
                        void *userdata, leec_dns_query **handle)
{
    leec_dns_query *q = NULL;
    leec_code rc = LEEC_E_INVALID_ARG;

    if (!ctx)
        return LEEC_E_INVALID_ARG;
    if ((rc = query_new(ctx, sa, salen, msg, len, timeout_ms, fn, userdata,
                        &q)) != LEEC_OK)
        return rc;
    rc = tcp ? start_tcp(q, true) : start_udp(q);
    if (rc != LEEC_OK) {
        query_free(q); /* fn never runs when we fail here */
        return rc;
    }
    if (handle)
        *handle = q;
    return LEEC_OK;
}

void Leec_dns_cancel(leec_ctx *ctx, leec_dns_query *q)
{
    (void)ctx;
    /* From inside its own callback the query is about to be freed by
     * finish(). */
    if (!q || q->in_cb)
        return;
    query_free(q);
}

/* ---- blocking ---- */

typedef struct sync_result {
    bool done;
    leec_code rc;
    unsigned char *reply;
    size_t rlen;
} sync_result;

static void sync_done(void *userdata, leec_code rc, const unsigned char *wire,
                      size_t len)
{
    sync_result *r = userdata;
    r->done = true;
    r->rc = rc;
    if (rc != LEEC_OK)
        return;
    if (!(r->reply = malloc(len))) {
        r->rc = LEEC_E_NOMEM;
        return;
    }
    memcpy(r->reply, wire, len);
    r->rlen = len;
}

leec_code Leec_dns_send_sync(const struct sockaddr *sa, socklen_t salen,
                             const unsigned char *msg, size_t len, bool tcp,
                             int timeout_ms, unsigned char **reply,
                             size_t *rlen)
{
    leec_dns_query *q = NULL;
    sync_result r = {0};
    leec_code rc = LEEC_E_INVALID_ARG;

    if (!reply || !rlen)
        return LEEC_E_INVALID_ARG;
    *reply = NULL;
    *rlen = 0;
    if ((rc = query_new(NULL, sa, salen, msg, len, timeout_ms, sync_done, &r,
                        &q)) != LEEC_OK)
        return rc;
    rc = tcp ? start_tcp(q, true) : start_udp(q);
    if (rc != LEEC_OK) {
        query_free(q);
        return rc;
    }
    /* q is freed by finish(), which sets r.done: test it before touching
     * q again. Every phase has a timer, so the loop ends. */
    while (!r.done) {
        struct pollfd pfd = {.fd = q->fd, .events = 0};
        int64_t wait = q->timer_at - mono_ms();
        if (q->watched & EPOLLIN)
            pfd.events |= POLLIN;
        if (q->watched & EPOLLOUT)
            pfd.events |= POLLOUT;
        if (wait < 0)
            wait = 0;
        int n = poll(&pfd, 1, (int)wait);
        if (n < 0 && errno != EINTR) {
            query_free(q);
            return LEEC_E_IO;
        }
        if (n > 0) {
            unsigned ev = 0;
            ev |= pfd.revents & POLLIN ? EPOLLIN : 0;
            ev |= pfd.revents & POLLOUT ? EPOLLOUT : 0;
            ev |= pfd.revents & POLLERR ? EPOLLERR : 0;
            ev |= pfd.revents & POLLHUP ? EPOLLHUP : 0;
            on_io(q, q->fd, ev);
            if (r.done)
                break;
        }
        /* Checked even after a wake-up: a stream of junk datagrams must
         * not hold off the deadline. */
        if (q->timer_at >= 0 && mono_ms() >= q->timer_at)
            on_timer(q);
    }
    if (r.rc == LEEC_OK) {
        *reply = r.reply;
        *rlen = r.rlen;
    }
    return r.rc;
}
