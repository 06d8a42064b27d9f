/* Tests for lib/dns.c (the DNS transport, against a responder answered by
 * hand in the test loop) and lib/solver/dns01.c (against a real named, when
 * one is installed: skipped otherwise). */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <ldns/ldns.h>

#include "net/dns.h"
#include "engine/internal.h"
#include "leec/dns_provider.h"
#include "solver/dns01.h"
#include "testutil.h"

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    assert_non_null(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* ---- Leec_dns_parse_addr ---- */

static void check_addr(const char *text, int family, const char *host, int port)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    char buf[INET6_ADDRSTRLEN];

    assert_int_equal(Leec_dns_parse_addr(text, 53, &ss, &len), LEEC_OK);
    assert_int_equal(ss.ss_family, family);
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        assert_int_equal(len, sizeof *in);
        inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
        assert_int_equal(ntohs(in->sin_port), port);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        assert_int_equal(len, sizeof *in6);
        inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
        assert_int_equal(ntohs(in6->sin6_port), port);
    }
    assert_string_equal(buf, host);
}

static void test_parse_addr(void **state)
{
    static const char *const bad[] = {
        "",
        ":53",
        "1.2.3.4:",
        "1.2.3.4:0",
        "1.2.3.4:65536",
        "1.2.3.4:53x",
        "1.2.3.4:-1",
        "1.2.3.4: 53",
        "ns1.example.com",
        "ns1.example.com:53",
        "[::1",
        "[::1]x",
        "[::1]:",
        "[1.2.3.4]:53",
        "1.2.3",
        "256.1.1.1",
        "[::1]:123456",
        " 1.2.3.4",
    };
    struct sockaddr_storage ss;
    socklen_t len = 0;
    (void)state;

    check_addr("127.0.0.1", AF_INET, "127.0.0.1", 53);
    check_addr("192.0.2.1:5353", AF_INET, "192.0.2.1", 5353);
    check_addr("::1", AF_INET6, "::1", 53);
    check_addr("[::1]", AF_INET6, "::1", 53);
    check_addr("[2001:db8::1]:65535", AF_INET6, "2001:db8::1", 65535);
    check_addr("[fe80::1%lo]:53", AF_INET6, "fe80::1", 53);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(Leec_dns_parse_addr(bad[i], 53, &ss, &len),
                         LEEC_E_INVALID_ARG);
    assert_int_equal(Leec_dns_parse_addr(NULL, 53, &ss, &len),
                     LEEC_E_INVALID_ARG);
    assert_int_equal(Leec_dns_parse_addr("127.0.0.1", 0, &ss, &len),
                     LEEC_E_INVALID_ARG);
}

/* ---- a responder answered by hand ---- */

enum mode {
    M_ANSWER,       /* answer every query */
    M_DROP_FIRST,   /* ignore the first query */
    M_BAD_ID,       /* first a reply with a wrong ID, then the right one */
    M_BAD_QUESTION, /* only replies for another question */
    M_TC,           /* truncated over UDP; the answer over TCP */
    M_SILENT,       /* never answer */
};

typedef struct responder {
    int udp, listener, conn;
    int port;
    enum mode mode;
    int udp_queries, tcp_queries;
    unsigned char buf[4096];
    size_t blen;
} responder;

static void responder_open(responder *r, enum mode mode)
{
    memset(r, 0, sizeof *r);
    r->mode = mode;
    r->conn = -1;
    /* The same port number for UDP and TCP, as a DNS server has. */
    for (int attempt = 0; attempt < 50; attempt++) {
        struct sockaddr_in sin = {.sin_family = AF_INET};
        socklen_t sl = sizeof sin;
        int one = 1;
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        r->udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        assert_true(r->udp >= 0);
        assert_int_equal(bind(r->udp, (struct sockaddr *)&sin, sizeof sin), 0);
        assert_int_equal(getsockname(r->udp, (struct sockaddr *)&sin, &sl), 0);
        r->listener =
            socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        assert_true(r->listener >= 0);
        setsockopt(r->listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(r->listener, (struct sockaddr *)&sin, sizeof sin) == 0 &&
            listen(r->listener, 4) == 0) {
            r->port = ntohs(sin.sin_port);
            return;
        }
        close(r->udp);
        close(r->listener);
    }
    fail_msg("no free port");
}

static void responder_close(responder *r)
{
    close(r->udp);
    close(r->listener);
    if (r->conn >= 0)
        close(r->conn);
}

/* The query turned into an answer: QR, an A record 192.0.2.7 unless
 * truncated. */
static size_t make_answer(const unsigned char *q, size_t qlen,
                          unsigned char *out, bool tc)
{
    static const unsigned char rr[] = {0xC0, 0x0C, 0, 1, 0,   1, 0, 0,
                                       0,    60,   0, 4, 192, 0, 2, 7};
    memcpy(out, q, qlen);
    out[2] |= 0x80;
    out[3] = 0x80; /* RA, NOERROR */
    if (tc) {
        out[2] |= 0x02;
        return qlen;
    }
    memcpy(out + qlen, rr, sizeof rr);
    out[7] = 1; /* ANCOUNT */
    return qlen + sizeof rr;
}

static void serve(responder *r)
{
    unsigned char q[1024], a[1200];
    struct sockaddr_storage from;

    for (;;) {
        socklen_t fl = sizeof from;
        ssize_t n =
            recvfrom(r->udp, q, sizeof q, 0, (struct sockaddr *)&from, &fl);
        if (n < 0)
            break;
        r->udp_queries++;
        size_t alen = 0;
        switch (r->mode) {
        case M_SILENT:
            continue;
        case M_DROP_FIRST:
            if (r->udp_queries == 1)
                continue;
            alen = make_answer(q, (size_t)n, a, false);
            break;
        case M_BAD_ID:
            alen = make_answer(q, (size_t)n, a, false);
            a[1] ^= 0x5A;
            sendto(r->udp, a, alen, 0, (struct sockaddr *)&from, fl);
            a[1] ^= 0x5A;
            break;
        case M_BAD_QUESTION:
            alen = make_answer(q, (size_t)n, a, false);
            a[n - 3] ^= 0x0F; /* the answer to another type */
            break;
        case M_TC:
            alen = make_answer(q, (size_t)n, a, true);
            break;
        case M_ANSWER:
            alen = make_answer(q, (size_t)n, a, false);
            break;
        }
        sendto(r->udp, a, alen, 0, (struct sockaddr *)&from, fl);
    }
    /* TCP: one connection at a time, non-blocking, as the client runs in
     * this very thread. */
    if (r->conn < 0) {
        r->conn =
            accept4(r->listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        r->blen = 0;
    }
    if (r->conn < 0)
        return;
    for (;;) {
        ssize_t n = recv(r->conn, r->buf + r->blen, sizeof r->buf - r->blen, 0);
        if (n <= 0)
            break;
        r->blen += (size_t)n;
    }
    if (r->blen >= 2 && r->blen >= 2 + ((size_t)r->buf[0] << 8 | r->buf[1])) {
        unsigned char t[1200];
        size_t alen = make_answer(r->buf + 2, r->blen - 2, t + 2, false);
        t[0] = (unsigned char)(alen >> 8);
        t[1] = (unsigned char)alen;
        r->tcp_queries++;
        /* Two writes: the client must reassemble. */
        assert_int_equal(send(r->conn, t, 3, MSG_NOSIGNAL), 3);
        assert_int_equal(send(r->conn, t + 3, alen - 1, MSG_NOSIGNAL),
                         (ssize_t)alen - 1);
        close(r->conn);
        r->conn = -1;
    }
}

typedef struct result {
    int calls;
    leec_code rc;
    unsigned char wire[4096];
    size_t len;
} result;

static void on_result(void *userdata, leec_code rc, const unsigned char *wire,
                      size_t len)
{
    result *res = userdata;
    res->calls++;
    res->rc = rc;
    if (rc == LEEC_OK) {
        assert_non_null(wire);
        assert_true(len <= sizeof res->wire);
        memcpy(res->wire, wire, len);
        res->len = len;
    }
}

/* A query for example.test. A (malloc'd wire). */
static unsigned char *query_wire(const char *name, ldns_rr_type type,
                                 size_t *len)
{
    ldns_pkt *pkt = NULL;
    uint8_t *wire = NULL;
    assert_int_equal(
        ldns_pkt_query_new_frm_str(&pkt, name, type, LDNS_RR_CLASS_IN, LDNS_RD),
        LDNS_STATUS_OK);
    assert_int_equal(ldns_pkt2wire(&wire, pkt, len), LDNS_STATUS_OK);
    ldns_pkt_free(pkt);
    return wire;
}

/* Runs the context (and the responder) until the result is in or limit_ms
 * has passed. */
static void drive(leec_ctx *ctx, responder *r, const int *calls, int limit_ms)
{
    int64_t end = tu_now_ms() + limit_ms;
    while (*calls == 0 && tu_now_ms() < end) {
        assert_int_equal(leec_ctx_perform(ctx, NULL), LEEC_OK);
        if (r)
            serve(r);
        assert_int_equal(leec_ctx_poll(ctx, 5), LEEC_OK);
    }
    /* One more turn: a second (wrong) callback would show now. */
    leec_ctx_perform(ctx, NULL);
}

/* Sends one query to the responder in the given mode; returns the elapsed
 * time. */
static int64_t exchange(enum mode mode, bool tcp, int timeout_ms, result *res,
                        responder *r)
{
    leec_ctx *ctx = leec_ctx_new();
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    size_t qlen = 0;
    unsigned char *q = query_wire("example.test.", LDNS_RR_TYPE_A, &qlen);
    char addr[32];
    leec_dns_query *h = NULL;
    int fds = 0;
    int64_t t0 = 0;

    assert_non_null(ctx);
    responder_open(r, mode);
    snprintf(addr, sizeof addr, "127.0.0.1:%d", r->port);
    assert_int_equal(Leec_dns_parse_addr(addr, 53, &ss, &sl), LEEC_OK);
    memset(res, 0, sizeof *res);
    leec_ctx_perform(ctx, NULL); /* let the context open what it opens */
    leec_ctx_poll(ctx, 0);
    fds = count_fds();
    t0 = tu_now_ms();
    assert_int_equal(Leec_dns_send(ctx, (struct sockaddr *)&ss, sl, q, qlen,
                                   tcp, timeout_ms, on_result, res, &h),
                     LEEC_OK);
    assert_non_null(h);
    drive(ctx, r, &res->calls, timeout_ms * 3);
    int64_t elapsed = tu_now_ms() - t0;
    assert_int_equal(res->calls, 1);
    assert_int_equal(count_fds(), fds); /* every socket closed */
    if (res->rc == LEEC_OK) {
        /* The caller's ID is replaced; the rest of the question stays. */
        assert_true(res->len > qlen);
        assert_memory_equal(res->wire + 12, q + 12, qlen - 12);
        assert_true(res->wire[2] & 0x80);
    }
    free(q);
    leec_ctx_free(ctx);
    responder_close(r);
    return elapsed;
}

static void test_udp_answer(void **state)
{
    result res;
    responder r;
    (void)state;
    exchange(M_ANSWER, false, 1500, &res, &r);
    assert_int_equal(res.rc, LEEC_OK);
    assert_int_equal(res.wire[7], 1); /* the A record */
    assert_int_equal(r.udp_queries, 1);
    assert_int_equal(r.tcp_queries, 0);
}

static void test_udp_retry(void **state)
{
    result res;
    responder r;
    (void)state;
    int64_t t = exchange(M_DROP_FIRST, false, 900, &res, &r);
    assert_int_equal(res.rc, LEEC_OK);
    assert_int_equal(r.udp_queries, 2);
    assert_true(t >= 250); /* the second try waits a third of the timeout */
}

static void test_bad_id_ignored(void **state)
{
    result res;
    responder r;
    (void)state;
    exchange(M_BAD_ID, false, 1500, &res, &r);
    assert_int_equal(res.rc, LEEC_OK);
    assert_int_equal(r.udp_queries, 1);
}

static void test_bad_question(void **state)
{
    result res;
    responder r;
    (void)state;
    exchange(M_BAD_QUESTION, false, 300, &res, &r);
    assert_int_equal(res.rc, LEEC_E_PROTOCOL);
    assert_int_equal(r.udp_queries, 3);
}

static void test_tc_then_tcp(void **state)
{
    result res;
    responder r;
    (void)state;
    exchange(M_TC, false, 1500, &res, &r);
    assert_int_equal(res.rc, LEEC_OK);
    assert_int_equal(res.wire[2] & 0x02, 0); /* the whole answer */
    assert_int_equal(res.wire[7], 1);
    assert_int_equal(r.udp_queries, 1);
    assert_int_equal(r.tcp_queries, 1);
}

static void test_tcp_direct(void **state)
{
    result res;
    responder r;
    (void)state;
    exchange(M_SILENT, true, 1500, &res, &r);
    assert_int_equal(res.rc, LEEC_OK);
    assert_int_equal(r.udp_queries, 0);
    assert_int_equal(r.tcp_queries, 1);
}

static void test_timeout(void **state)
{
    result res;
    responder r;
    (void)state;
    int64_t t = exchange(M_SILENT, false, 300, &res, &r);
    assert_int_equal(res.rc, LEEC_E_TIMEOUT);
    assert_int_equal(r.udp_queries, 3);
    assert_true(t >= 290 && t < 1000);
}

/* A TCP listener that accepts and never answers. */
static void test_tcp_timeout(void **state)
{
    leec_ctx *ctx = leec_ctx_new();
    responder r;
    result res = {0};
    struct sockaddr_in sin = {.sin_family = AF_INET};
    size_t qlen = 0;
    unsigned char *q = query_wire("example.test.", LDNS_RR_TYPE_A, &qlen);
    (void)state;

    responder_open(&r, M_SILENT);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((uint16_t)r.port);
    int64_t t0 = tu_now_ms();
    assert_int_equal(Leec_dns_send(ctx, (struct sockaddr *)&sin, sizeof sin, q,
                                   qlen, true, 300, on_result, &res, NULL),
                     LEEC_OK);
    drive(ctx, NULL, &res.calls, 2000);
    assert_int_equal(res.calls, 1);
    assert_int_equal(res.rc, LEEC_E_TIMEOUT);
    assert_true(tu_now_ms() - t0 >= 290);
    free(q);
    leec_ctx_free(ctx);
    responder_close(&r);
}

static void test_cancel(void **state)
{
    leec_ctx *ctx = leec_ctx_new();
    responder r;
    result res = {0};
    struct sockaddr_in sin = {.sin_family = AF_INET};
    size_t qlen = 0;
    unsigned char *q = query_wire("example.test.", LDNS_RR_TYPE_A, &qlen);
    leec_dns_query *h = NULL;
    (void)state;

    responder_open(&r, M_TC);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((uint16_t)r.port);
    leec_ctx_perform(ctx, NULL);
    leec_ctx_poll(ctx, 0);
    int fds = count_fds();
    /* Cancelled in the UDP phase, before anything came back. */
    assert_int_equal(Leec_dns_send(ctx, (struct sockaddr *)&sin, sizeof sin, q,
                                   qlen, false, 300, on_result, &res, &h),
                     LEEC_OK);
    Leec_dns_cancel(ctx, h);
    assert_int_equal(count_fds(), fds);
    /* Cancelled while connecting over TCP. */
    assert_int_equal(Leec_dns_send(ctx, (struct sockaddr *)&sin, sizeof sin, q,
                                   qlen, true, 300, on_result, &res, &h),
                     LEEC_OK);
    Leec_dns_cancel(ctx, h);
    Leec_dns_cancel(ctx, NULL);
    assert_int_equal(count_fds(), fds);
    drive(ctx, &r, &res.calls, 700);
    assert_int_equal(res.calls, 0);
    free(q);
    leec_ctx_free(ctx);
    responder_close(&r);
}

/* Leec_dns_send_sync against a child process that answers. */
static void test_sync(void **state)
{
    responder r;
    struct sockaddr_in sin = {.sin_family = AF_INET};
    size_t qlen = 0;
    unsigned char *q = query_wire("example.test.", LDNS_RR_TYPE_A, &qlen);
    unsigned char *reply = NULL;
    size_t rlen = 0;
    (void)state;

    for (int m = 0; m < 2; m++) {
        responder_open(&r, m == 0 ? M_DROP_FIRST : M_TC);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            int64_t end = tu_now_ms() + 3000;
            while (tu_now_ms() < end && r.tcp_queries + r.udp_queries < 2) {
                struct pollfd p[2] = {{r.udp, POLLIN, 0},
                                      {r.listener, POLLIN, 0}};
                poll(p, 2, 10);
                serve(&r);
            }
            free(q);
            _exit(0);
        }
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sin.sin_port = htons((uint16_t)r.port);
        assert_int_equal(Leec_dns_send_sync((struct sockaddr *)&sin, sizeof sin,
                                            q, qlen, false, 900, &reply, &rlen),
                         LEEC_OK);
        assert_true(rlen > qlen);
        assert_int_equal(reply[7], 1);
        free(reply);
        waitpid(pid, NULL, 0);
        responder_close(&r);
    }
    /* Nobody answers: bounded. */
    responder_open(&r, M_SILENT);
    sin.sin_port = htons((uint16_t)r.port);
    int64_t t0 = tu_now_ms();
    assert_int_equal(Leec_dns_send_sync((struct sockaddr *)&sin, sizeof sin, q,
                                        qlen, false, 300, &reply, &rlen),
                     LEEC_E_TIMEOUT);
    assert_true(tu_now_ms() - t0 < 1000);
    assert_null(reply);
    responder_close(&r);
    free(q);
}

static void test_bad_args(void **state)
{
    leec_ctx *ctx = leec_ctx_new();
    struct sockaddr_in sin = {.sin_family = AF_INET};
    unsigned char tiny[5] = {0};
    /* A question whose name runs past the end. */
    unsigned char trunc[14] = {0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 9, 'a'};
    result res = {0};
    (void)state;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons(53);
    assert_int_equal(Leec_dns_send(ctx, (struct sockaddr *)&sin, sizeof sin,
                                   tiny, sizeof tiny, false, 100, on_result,
                                   &res, NULL),
                     LEEC_E_INVALID_ARG);
    assert_int_equal(Leec_dns_send(ctx, (struct sockaddr *)&sin, sizeof sin,
                                   trunc, sizeof trunc, false, 100, on_result,
                                   &res, NULL),
                     LEEC_E_INVALID_ARG);
    assert_int_equal(res.calls, 0);
    leec_ctx_free(ctx);
}

/* ---- dns-01 against a real named ---- */

typedef struct named {
    pid_t pid;
    int port;
    char dir[64];
} named;

static named g_named = {.pid = -1};

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, 0644);
}

static int free_port(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t sl = sizeof sin;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&sin, sizeof sin);
    getsockname(fd, (struct sockaddr *)&sin, &sl);
    close(fd);
    return ntohs(sin.sin_port);
}

static leec_code ask_sync(int port, const char *name, ldns_rr_type type,
                          ldns_pkt **pkt)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    size_t qlen = 0;
    unsigned char *q = query_wire(name, type, &qlen);
    unsigned char *reply = NULL;
    size_t rlen = 0;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((uint16_t)port);
    leec_code rc = Leec_dns_send_sync((struct sockaddr *)&sin, sizeof sin, q,
                                      qlen, false, 500, &reply, &rlen);
    free(q);
    if (rc == LEEC_OK) {
        assert_int_equal(ldns_wire2pkt(pkt, reply, rlen), LDNS_STATUS_OK);
        free(reply);
    }
    return rc;
}

static int named_start(void **state)
{
    static const char zone_example[] =
        "$TTL 60\n"
        "@ IN SOA ns1.example.test. hostmaster.example.test. 1 3600 600 "
        "86400 60\n"
        "@ IN NS ns1.example.test.\n"
        "@ IN NS ns2.example.test.\n"
        "ns1 IN A 127.0.0.1\n"
        "ns2 IN A 127.0.0.1\n"
        "_acme-challenge.alias IN CNAME _acme-challenge.target.other.test.\n"
        "_acme-challenge.loop IN CNAME _acme-challenge.loop.example.test.\n"
        /* CNAMEs to names no host has: shell metacharacters, a leading
         * '-' (an option to a hook). */
        "_acme-challenge.evil IN CNAME "
        "x\\$\\(touch\\032/tmp/p\\)\\;.other.test.\n"
        "_acme-challenge.dash IN CNAME -rf.other.test.\n";
    static const char zone_other[] =
        "$TTL 60\n"
        "@ IN SOA ns1.other.test. hostmaster.other.test. 1 3600 600 86400 60\n"
        "@ IN NS ns1.other.test.\n"
        "ns1 IN A 127.0.0.1\n";
    char conf[2048];
    char path[128];
    (void)state;

    if (access("/usr/sbin/named", X_OK) != 0 ||
        access("/usr/bin/nsupdate", X_OK) != 0)
        return 0; /* the named tests skip themselves */
    snprintf(g_named.dir, sizeof g_named.dir, "/tmp/leec-test-dns-XXXXXX");
    if (!mkdtemp(g_named.dir))
        return -1;
    /* named drops to the bind user when started as root and writes its
     * journals here. */
    chmod(g_named.dir, 0777);
    g_named.port = free_port();
    snprintf(conf, sizeof conf,
             "options {\n"
             "  directory \"%s\";\n"
             "  pid-file \"%s/named.pid\";\n"
             "  session-keyfile \"%s/session.key\";\n"
             "  managed-keys-directory \"%s\";\n"
             "  listen-on port %d { 127.0.0.1; };\n"
             "  listen-on-v6 { none; };\n"
             "  recursion yes;\n"
             "  allow-recursion { 127.0.0.1; };\n"
             "  dnssec-validation no;\n"
             "};\n"
             "controls { };\n"
             "zone \"example.test\" { type primary; file \"example.zone\";\n"
             "  allow-update { 127.0.0.1; }; };\n"
             "zone \"other.test\" { type primary; file \"other.zone\";\n"
             "  allow-update { 127.0.0.1; }; };\n",
             g_named.dir, g_named.dir, g_named.dir, g_named.dir, g_named.port);
    write_file(g_named.dir, "named.conf", conf);
    write_file(g_named.dir, "example.zone", zone_example);
    write_file(g_named.dir, "other.zone", zone_other);
    snprintf(path, sizeof path, "%s/named.conf", g_named.dir);
    g_named.pid = fork();
    if (g_named.pid < 0)
        return -1;
    if (g_named.pid == 0) {
        char log[128];
        snprintf(log, sizeof log, "%s/named.log", g_named.dir);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (geteuid() == 0)
            execl("/usr/sbin/named", "named", "-c", path, "-u", "bind", "-g",
                  (char *)NULL);
        else
            execl("/usr/sbin/named", "named", "-c", path, "-g", (char *)NULL);
        _exit(127);
    }
    /* Ready when it answers for its zone. */
    for (int i = 0; i < 100; i++) {
        ldns_pkt *pkt = NULL;
        if (ask_sync(g_named.port, "example.test.", LDNS_RR_TYPE_SOA, &pkt) ==
            LEEC_OK) {
            bool ok = ldns_pkt_get_rcode(pkt) == LDNS_RCODE_NOERROR;
            ldns_pkt_free(pkt);
            if (ok)
                return 0;
        }
        usleep(50000);
    }
    fprintf(stderr, "named did not start; see %s/named.log\n", g_named.dir);
    kill(g_named.pid, SIGTERM);
    waitpid(g_named.pid, NULL, 0);
    g_named.pid = -1;
    return 0;
}

static int named_stop(void **state)
{
    (void)state;
    if (g_named.pid > 0) {
        kill(g_named.pid, SIGTERM);
        waitpid(g_named.pid, NULL, 0);
        g_named.pid = -1;
    }
    if (g_named.dir[0] && !getenv("LEEC_KEEP_NAMED")) {
        if (tu_rmtree(g_named.dir) != 0)
            fprintf(stderr, "could not remove %s\n", g_named.dir);
    }
    return 0;
}

/* A DNS provider of the test's own, on the public interface
 * (leec/dns_provider.h): it runs nsupdate synchronously (a stand-in for the
 * RFC 2136 provider; blocking is fine here). fake: pretend to add. sync:
 * report through add's return value, else through done, called from
 * inside add. */
typedef struct stub_provider {
    bool fake, sync;
    char zone[128], fqdn[256], value[128];
    int adds, removes, destroyed;
} stub_provider;

typedef struct stub_op {
    stub_provider *p;
    char zone[128], fqdn[256], value[128];
} stub_op;

static int nsupdate(const char *zone, const char *fqdn, const char *value,
                    bool add)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "printf 'server 127.0.0.1 %d\\nzone %s\\nupdate %s %s 60 TXT "
             "\"%s\"\\nsend\\n' | nsupdate",
             g_named.port, zone, add ? "add" : "delete", fqdn, value);
    return system(cmd);
}

static leec_status stub_add(void *impl, const char *zone, const char *fqdn,
                            const char *value, leec_solver_done_fn done,
                            void *userdata, void **op)
{
    stub_provider *sp = impl;
    stub_op *o = calloc(1, sizeof *o);
    assert_non_null(o);
    assert_non_null(zone);
    o->p = sp;
    snprintf(o->zone, sizeof o->zone, "%s", zone);
    snprintf(o->fqdn, sizeof o->fqdn, "%s", fqdn);
    snprintf(o->value, sizeof o->value, "%s", value);
    snprintf(sp->zone, sizeof sp->zone, "%s", zone);
    snprintf(sp->fqdn, sizeof sp->fqdn, "%s", fqdn);
    snprintf(sp->value, sizeof sp->value, "%s", value);
    sp->adds++;
    *op = o;
    bool ok = sp->fake || nsupdate(zone, fqdn, value, true) == 0;
    if (sp->sync)
        return ok ? LEEC_STATUS_DONE : LEEC_STATUS_FAILED;
    /* Reported before add() returns: the solver must cope. */
    done(userdata, ok ? LEEC_OK : LEEC_E_SOLVER, ok ? NULL : "nsupdate failed");
    return LEEC_STATUS_PENDING;
}

static leec_status stub_remove(void *impl, void *opv, leec_solver_done_fn done,
                               void *userdata)
{
    stub_provider *sp = impl;
    stub_op *o = opv;
    sp->removes++;
    if (!sp->fake)
        assert_int_equal(nsupdate(o->zone, o->fqdn, o->value, false), 0);
    free(o);
    if (sp->sync || !done)
        return LEEC_STATUS_DONE;
    done(userdata, LEEC_OK, NULL);
    return LEEC_STATUS_PENDING;
}

static void stub_destroy(void *impl)
{
    stub_provider *sp = impl;
    sp->destroyed++; /* lives in the test's frame */
}

static const struct leec_dns_provider_ops stub_ops = {
    .name = "stub",
    .needs_zone = true,
    .add = stub_add,
    .remove = stub_remove,
    .destroy = stub_destroy,
};

typedef struct present_result {
    int calls;
    leec_code rc;
    char msg[512];
} present_result;

static void on_present(void *userdata, leec_code rc, const char *msg)
{
    present_result *pr = userdata;
    pr->calls++;
    pr->rc = rc;
    snprintf(pr->msg, sizeof pr->msg, "%s", msg ? msg : "");
}

static void log_to_stderr(void *ud, leec_log_level level, const char *msg)
{
    (void)ud;
    if (getenv("LEEC_TEST_LOG"))
        fprintf(stderr, "[%d] %s\n", (int)level, msg);
}

/* Presents ident through the library's dns-01 solver over the stub (made
 * as a program makes it, leec_ctx_solver_dns) and returns the stub's
 * view. */
static void run_present(const char *ident, bool fake, bool sync, int prop_s,
                        stub_provider *sp, present_result *pr, bool check_gone)
{
    leec_ctx *ctx = leec_ctx_new();
    char resolver[32];
    leec_dns_options opts = {0};
    leec_code err = LEEC_OK;
    leec_challenge ch = {.type = "dns-01",
                         .ident = ident,
                         .token = "tok",
                         .key_auth = "tok.thumb",
                         .digest =
                             "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"};
    void *op = NULL;

    leec_ctx_set_log(ctx, log_to_stderr, NULL, LEEC_LOG_DEBUG);
    memset(sp, 0, sizeof *sp);
    memset(pr, 0, sizeof *pr);
    sp->fake = fake;
    sp->sync = sync;
    snprintf(resolver, sizeof resolver, "127.0.0.1:%d", g_named.port);
    opts.resolver = resolver;
    opts.propagation_timeout_s = prop_s;
    opts.auth_port = g_named.port;
    leec_solver *s = leec_ctx_solver_dns(ctx, &opts, &stub_ops, sp, &err);
    assert_non_null(s);
    assert_int_equal(err, LEEC_OK);
    assert_string_equal(Leec_solver_ops(s)->type, "dns-01");
    leec_ctx_perform(ctx, NULL); /* let the context open what it opens */
    leec_ctx_poll(ctx, 0);
    int fds = count_fds();
    assert_int_equal(Leec_solver_present(s, &ch, on_present, pr, &op), LEEC_OK);
    drive(ctx, NULL, &pr->calls, (prop_s + 5) * 1000);
    assert_int_equal(pr->calls, 1);
    if (pr->rc == LEEC_OK && check_gone) {
        ldns_pkt *pkt = NULL;
        assert_int_equal(
            ask_sync(g_named.port, sp->fqdn, LDNS_RR_TYPE_TXT, &pkt), LEEC_OK);
        assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_answer(pkt)) > 0, true);
        ldns_pkt_free(pkt);
    }
    Leec_solver_cleanup(s, op, false, NULL, NULL); /* synchronous */
    assert_int_equal(count_fds(), fds);
    if (check_gone) {
        ldns_pkt *pkt = NULL;
        assert_int_equal(
            ask_sync(g_named.port, sp->fqdn, LDNS_RR_TYPE_TXT, &pkt), LEEC_OK);
        assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_answer(pkt)), 0);
        ldns_pkt_free(pkt);
    }
    assert_int_equal(sp->destroyed, 0);
    leec_ctx_free(ctx); /* the context's solver, and so the stub */
    assert_int_equal(sp->destroyed, 1);
}

static void test_dns01_plain(void **state)
{
    stub_provider sp;
    present_result pr;
    (void)state;
    if (g_named.pid <= 0)
        skip();
    run_present("www.example.test", false, false, 10, &sp, &pr, true);
    assert_int_equal(pr.rc, LEEC_OK);
    assert_string_equal(sp.zone, "example.test.");
    assert_string_equal(sp.fqdn, "_acme-challenge.www.example.test.");
    assert_int_equal(sp.adds, 1);
    assert_int_equal(sp.removes, 1);
}

static void test_dns01_cname(void **state)
{
    stub_provider sp;
    present_result pr;
    (void)state;
    if (g_named.pid <= 0)
        skip();
    run_present("alias.example.test", false, true, 10, &sp, &pr, true);
    assert_int_equal(pr.rc, LEEC_OK);
    assert_string_equal(sp.zone, "other.test.");
    assert_string_equal(sp.fqdn, "_acme-challenge.target.other.test.");
}

static void test_dns01_cname_loop(void **state)
{
    stub_provider sp;
    present_result pr;
    (void)state;
    if (g_named.pid <= 0)
        skip();
    run_present("loop.example.test", false, false, 10, &sp, &pr, false);
    assert_int_equal(pr.rc, LEEC_E_SOLVER);
    assert_non_null(strstr(pr.msg, "CNAME"));
    assert_int_equal(sp.adds, 0);
    assert_int_equal(sp.removes, 0);
}

/* A CNAME to something that is no host name is not followed: neither the
 * name nor ldns's escaped form of it reaches the provider. */
static void test_dns01_cname_not_a_host(void **state)
{
    (void)state;
    if (g_named.pid <= 0)
        skip();
    const char *bad[] = {"evil.example.test", "dash.example.test"};
    for (size_t i = 0; i < 2; i++) {
        stub_provider sp;
        present_result pr;
        run_present(bad[i], false, true, 10, &sp, &pr, false);
        assert_int_equal(pr.rc, LEEC_E_BAD_NAME);
        assert_non_null(strstr(pr.msg, "not a host name"));
        assert_null(strchr(pr.msg, '\\'));
        assert_int_equal(sp.adds, 0);
        assert_int_equal(sp.removes, 0);
    }
}

static void test_dns01_propagation_timeout(void **state)
{
    stub_provider sp;
    present_result pr;
    char want[128];
    (void)state;
    if (g_named.pid <= 0)
        skip();
    run_present("deep.sub.example.test", true, true, 1, &sp, &pr, false);
    assert_int_equal(pr.rc, LEEC_E_TIMEOUT);
    assert_string_equal(sp.zone, "example.test.");
    snprintf(want, sizeof want,
             "propagation: 127.0.0.1:%d did not serve the TXT record for "
             "_acme-challenge.deep.sub.example.test. within 1 s",
             g_named.port);
    assert_string_equal(pr.msg, want);
    assert_int_equal(sp.removes, 1);
}

/* A cleanup while present is in flight cancels it: no done, nothing left
 * open; once added, an asynchronous cleanup reports through its done. */
static void test_dns01_cleanup_paths(void **state)
{
    leec_ctx *ctx = leec_ctx_new();
    stub_provider sp = {0};
    present_result pr = {0}, cr = {0};
    char resolver[32];
    leec_dns_options opts = {0};
    leec_challenge ch = {.type = "dns-01",
                         .ident = "early.example.test",
                         .token = "tok",
                         .key_auth = "tok.thumb",
                         .digest =
                             "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"};
    void *op = NULL;
    (void)state;
    if (g_named.pid <= 0)
        skip();

    snprintf(resolver, sizeof resolver, "127.0.0.1:%d", g_named.port);
    opts.resolver = resolver;
    opts.propagation_timeout_s = 5;
    opts.auth_port = g_named.port;
    leec_solver *s = leec_ctx_solver_dns(ctx, &opts, &stub_ops, &sp, NULL);
    assert_non_null(s);
    leec_ctx_perform(ctx, NULL);
    leec_ctx_poll(ctx, 0);
    int fds = count_fds();

    /* Cancelled while the CNAME query is out. */
    assert_int_equal(Leec_solver_present(s, &ch, on_present, &pr, &op),
                     LEEC_OK);
    Leec_solver_cleanup(s, op, false, on_present, &cr);
    assert_int_equal(cr.calls, 1);
    assert_int_equal(cr.rc, LEEC_OK);
    assert_int_equal(count_fds(), fds);
    drive(ctx, NULL, &pr.calls, 300);
    assert_int_equal(pr.calls, 0);
    assert_int_equal(sp.adds + sp.removes, 0);

    /* Through to the end, then an asynchronous cleanup. */
    memset(&cr, 0, sizeof cr);
    assert_int_equal(Leec_solver_present(s, &ch, on_present, &pr, &op),
                     LEEC_OK);
    drive(ctx, NULL, &pr.calls, 5000);
    assert_int_equal(pr.calls, 1);
    assert_int_equal(pr.rc, LEEC_OK);
    Leec_solver_cleanup(s, op, true, on_present, &cr);
    drive(ctx, NULL, &cr.calls, 1000);
    assert_int_equal(cr.calls, 1);
    assert_int_equal(sp.adds, 1);
    assert_int_equal(sp.removes, 1);
    assert_int_equal(count_fds(), fds);
    leec_ctx_free(ctx);
    assert_int_equal(sp.destroyed, 1);
}

/* Constructor arguments (leec_ctx_solver_dns): the provider is the
 * context's from the call on, destroyed at once when the call fails. */
static void test_dns01_new_args(void **state)
{
    leec_ctx *ctx = leec_ctx_new();
    stub_provider sp = {0};
    leec_dns_options opts = {0};
    leec_code err = LEEC_OK;
    leec_dns_provider_ops no_add = stub_ops;
    (void)state;
    no_add.add = NULL;
    assert_null(leec_ctx_solver_dns(ctx, NULL, NULL, &sp, &err));
    assert_int_equal(err, LEEC_E_INVALID_ARG);
    assert_int_equal(sp.destroyed, 0); /* no ops: no destroy to call */
    assert_null(leec_ctx_solver_dns(ctx, NULL, &no_add, &sp, &err));
    assert_int_equal(err, LEEC_E_INVALID_ARG);
    assert_int_equal(sp.destroyed, 1);
    opts.resolver = "resolver.example";
    assert_null(leec_ctx_solver_dns(ctx, &opts, &stub_ops, &sp, &err));
    assert_int_equal(err, LEEC_E_INVALID_ARG);
    opts.resolver = "127.0.0.1:53";
    opts.auth_port = 70000;
    assert_null(leec_ctx_solver_dns(ctx, &opts, &stub_ops, &sp, &err));
    assert_int_equal(err, LEEC_E_INVALID_ARG);
    opts.auth_port = 0;
    opts.zone = "bad..zone";
    assert_null(leec_ctx_solver_dns(ctx, &opts, &stub_ops, &sp, &err));
    assert_int_equal(err, LEEC_E_INVALID_ARG);
    assert_int_equal(sp.destroyed, 4);
    opts.zone = "example.test";
    leec_solver *s = leec_ctx_solver_dns(ctx, &opts, &stub_ops, &sp, &err);
    assert_non_null(s);
    assert_int_equal(err, LEEC_OK);
    assert_string_equal(Leec_solver_ops(s)->type, "dns-01");
    /* The system's resolver (whatever resolv.conf says). */
    s = leec_ctx_solver_dns(ctx, NULL, &stub_ops, &sp, &err);
    assert_non_null(s);
    assert_int_equal(sp.destroyed, 4);
    leec_ctx_free(ctx);
    assert_int_equal(sp.destroyed, 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_addr),
        cmocka_unit_test(test_udp_answer),
        cmocka_unit_test(test_udp_retry),
        cmocka_unit_test(test_bad_id_ignored),
        cmocka_unit_test(test_bad_question),
        cmocka_unit_test(test_tc_then_tcp),
        cmocka_unit_test(test_tcp_direct),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_tcp_timeout),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_sync),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_dns01_new_args),
    };
    const struct CMUnitTest named_tests[] = {
        cmocka_unit_test(test_dns01_plain),
        cmocka_unit_test(test_dns01_cname),
        cmocka_unit_test(test_dns01_cname_loop),
        cmocka_unit_test(test_dns01_cname_not_a_host),
        cmocka_unit_test(test_dns01_propagation_timeout),
        cmocka_unit_test(test_dns01_cleanup_paths),
    };
    signal(SIGPIPE, SIG_IGN);
    int failed = cmocka_run_group_tests_name("dns", tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("dns01 with named", named_tests,
                                          named_start, named_stop);
    return failed;
}
