/* Tests for lib/solver/tlsalpn01.c: a real responder on loopback, on a real
 * context's loop, and an OpenSSL client in the same thread: the client's
 * non-blocking handshake and leec_ctx_perform() take turns. The context runs
 * on a fake clock, so the 10 s handshake timeout is tested without waiting. */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "util/b64url.h"
#include "crypto/crypto.h"
#include "engine/internal.h"
#include "solver/providers.h"
#include "solver/tlsalpn01.h"
#include "testutil.h"

#define IDENT "alpn.leec.test"
#define KEYAUTH                                                                \
    "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"                              \
    ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
#define ACME_TLS1                                                              \
    "\x0a"                                                                     \
    "acme-tls/1"

typedef struct fixture {
    leec_ctx *ctx;
    leec_solver *s;
    int64_t now; /* the fake clock */
    int dones;   /* done callbacks seen */
    leec_code last_done;
    char log[4096]; /* the last ERROR logged */
} fixture;

static int64_t fake_clock(void *ud)
{
    return ((fixture *)ud)->now;
}

static void capture_log(void *ud, leec_log_level level, const char *msg)
{
    fixture *f = ud;
    if (level == LEEC_LOG_ERROR)
        snprintf(f->log, sizeof f->log, "%s", msg);
}

static void on_done(void *ud, leec_code rc, const char *msg)
{
    fixture *f = ud;
    (void)msg;
    f->dones++;
    f->last_done = rc;
}

static int setup_addr(void **state, const char *addr)
{
    leec_code err = LEEC_E_IO;
    fixture *f = calloc(1, sizeof *f);

    if (!f)
        return -1;
    f->now = 1000000;
    f->ctx = leec_ctx_new();
    if (!f->ctx)
        return -1;
    Leec_ctx_set_clock(f->ctx, fake_clock, f);
    leec_ctx_set_log(f->ctx, capture_log, f, LEEC_LOG_DEBUG);
    f->s = Leec_tlsalpn01_solver_new(f->ctx, addr, &err);
    if (!f->s || err != LEEC_OK)
        return -1;
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_addr(state, "127.0.0.1:0");
}

static int setup_dual(void **state)
{
    return setup_addr(state, "0");
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->s)
        Leec_solver_free(f->s);
    leec_ctx_free(f->ctx);
    free(f);
    return 0;
}

/* Waits up to ms for the client socket or the context, then runs the
 * context once. */
static void turn(fixture *f, int fd, short events, int ms)
{
    struct pollfd pfd[2] = {
        {.fd = leec_ctx_get_fd(f->ctx), .events = POLLIN},
        {.fd = fd, .events = events},
    };
    assert_true(poll(pfd, fd >= 0 ? 2 : 1, ms) >= 0);
    assert_int_equal(leec_ctx_perform(f->ctx, NULL), LEEC_OK);
}

static void *present(fixture *f, const char *ident, const char *key_auth,
                     const char *digest)
{
    leec_challenge ch = {
        .type = "tls-alpn-01",
        .ident = ident,
        .token = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA",
        .key_auth = key_auth,
        .digest = digest,
    };
    void *op = NULL;
    int before = f->dones;

    assert_int_equal(Leec_solver_present(f->s, &ch, on_done, f, &op), LEEC_OK);
    assert_non_null(op);
    /* Ready at once: done ran before present returned. */
    assert_int_equal(f->dones, before + 1);
    assert_int_equal(f->last_done, LEEC_OK);
    return op;
}

static void cleanup(fixture *f, void *op)
{
    int before = f->dones;
    Leec_solver_cleanup(f->s, op, true, on_done, f);
    assert_int_equal(f->dones, before + 1);
}

static int connect_to(fixture *f, int family)
{
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    int port = Leec_tlsalpn01_solver_port(f->s);
    int fd = -1;
    int rc = 0;

    assert_true(port > 0);
    sslen = tu_loopback(&ss, family, port);
    fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    rc = connect(fd, (struct sockaddr *)&ss, sslen);
    assert_true(rc == 0 || errno == EINPROGRESS);
    return fd;
}

typedef struct hs_opts {
    int family;       /* AF_INET by default */
    const char *sni;  /* NULL: none */
    const char *alpn; /* wire format; NULL: no ALPN */
    size_t alpn_len;
    int max_version; /* 0: any */
} hs_opts;

typedef struct hs_result {
    bool ok;
    unsigned long err; /* the client's OpenSSL error when !ok */
    char alpn[32];     /* selected protocol */
    X509 *peer;        /* caller frees */
    int version;
} hs_result;

/* One handshake as a validator would do it. */
static hs_result handshake(fixture *f, const hs_opts *o)
{
    hs_result res;
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = NULL;
    int fd = connect_to(f, o->family ? o->family : AF_INET);
    long deadline = tu_now_ms() + 5000;

    memset(&res, 0, sizeof res);
    assert_non_null(cctx);
    SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
    if (o->max_version)
        assert_int_equal(SSL_CTX_set_max_proto_version(cctx, o->max_version),
                         1);
    ssl = SSL_new(cctx);
    assert_non_null(ssl);
    assert_int_equal(SSL_set_fd(ssl, fd), 1);
    if (o->sni)
        assert_int_equal(SSL_set_tlsext_host_name(ssl, o->sni), 1);
    if (o->alpn) /* 0 is success here */
        assert_int_equal(SSL_set_alpn_protos(ssl,
                                             (const unsigned char *)o->alpn,
                                             (unsigned)o->alpn_len),
                         0);
    for (;;) {
        short ev = POLLIN;
        int r = 0;

        assert_true(tu_now_ms() < deadline);
        ERR_clear_error();
        r = SSL_connect(ssl);
        if (r == 1) {
            const unsigned char *sel = NULL;
            unsigned sel_len = 0;
            res.ok = true;
            SSL_get0_alpn_selected(ssl, &sel, &sel_len);
            assert_true(sel_len < sizeof res.alpn);
            if (sel_len)
                memcpy(res.alpn, sel, sel_len);
            res.peer = SSL_get1_peer_certificate(ssl);
            res.version = SSL_version(ssl);
            break;
        }
        switch (SSL_get_error(ssl, r)) {
        case SSL_ERROR_WANT_READ:
            break;
        case SSL_ERROR_WANT_WRITE:
            ev = POLLOUT;
            break;
        default:
            res.err = ERR_peek_last_error();
            goto done;
        }
        turn(f, fd, ev, 50);
    }
done:
    ERR_clear_error();
    SSL_free(ssl);
    SSL_CTX_free(cctx);
    close(fd);
    /* Let the server notice the end of the connection. */
    for (int i = 0; i < 100 && Leec_tlsalpn01_solver_connections(f->s); i++)
        turn(f, -1, 0, 10);
    assert_int_equal(Leec_tlsalpn01_solver_connections(f->s), 0);
    return res;
}

static hs_result validate(fixture *f, const char *sni)
{
    hs_opts o = {.sni = sni, .alpn = ACME_TLS1, .alpn_len = 11};
    return handshake(f, &o);
}

/* The certificate RFC 8737 §3 asks for: the one SAN, the critical
 * acmeIdentifier extension with SHA-256(key_auth), self-signed. */
static void check_cert(X509 *x, const char *dns, const unsigned char *ip,
                       size_t iplen, const char *key_auth)
{
    int crit = -1;
    GENERAL_NAMES *gens =
        X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
    ASN1_OBJECT *obj = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
    unsigned char want[34] = {0x04, 0x20};
    const GENERAL_NAME *gn = NULL;
    const ASN1_OCTET_STRING *data = NULL;
    X509_EXTENSION *ext = NULL;
    time_t now = time(NULL);
    int idx = -1;

    assert_non_null(gens);
    assert_int_equal(sk_GENERAL_NAME_num(gens), 1);
    gn = sk_GENERAL_NAME_value(gens, 0);
    if (dns) {
        assert_int_equal(gn->type, GEN_DNS);
        assert_int_equal(ASN1_STRING_length(gn->d.dNSName), strlen(dns));
        assert_memory_equal(ASN1_STRING_get0_data(gn->d.dNSName), dns,
                            strlen(dns));
    } else {
        assert_int_equal(gn->type, GEN_IPADD);
        assert_int_equal(ASN1_STRING_length(gn->d.iPAddress), iplen);
        assert_memory_equal(ASN1_STRING_get0_data(gn->d.iPAddress), ip, iplen);
    }
    GENERAL_NAMES_free(gens);

    assert_non_null(obj);
    idx = X509_get_ext_by_OBJ(x, obj, -1);
    ASN1_OBJECT_free(obj);
    assert_true(idx >= 0);
    ext = X509_get_ext(x, idx);
    assert_int_equal(X509_EXTENSION_get_critical(ext), 1);
    data = X509_EXTENSION_get_data(ext);
    Leec_sha256(key_auth, strlen(key_auth), want + 2);
    assert_int_equal(ASN1_STRING_length(data), sizeof want);
    assert_memory_equal(ASN1_STRING_get0_data(data), want, sizeof want);

    assert_int_equal(X509_verify(x, X509_get0_pubkey(x)), 1);
    assert_int_equal(EVP_PKEY_get_base_id(X509_get0_pubkey(x)), EVP_PKEY_EC);
    assert_true(X509_cmp_time(X509_get0_notBefore(x), &now) < 0);
    assert_true(X509_cmp_time(X509_get0_notAfter(x), &now) > 0);
}

static void test_validation_succeeds(void **state)
{
    fixture *f = *state;
    void *op = present(f, IDENT, KEYAUTH, NULL);
    hs_result r = validate(f, IDENT);
    char cn[256];

    assert_true(r.ok);
    assert_string_equal(r.alpn, "acme-tls/1");
    assert_non_null(r.peer);
    check_cert(r.peer, IDENT, NULL, 0, KEYAUTH);
    assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(r.peer),
                                          NID_commonName, cn, sizeof cn) > 0);
    assert_string_equal(cn, IDENT);
    X509_free(r.peer);

    /* SNI is case-insensitive, like DNS, and may end with a dot; TLS 1.2
     * works too. */
    r = validate(f, "ALPN.Leec.TEST");
    assert_true(r.ok);
    X509_free(r.peer);
    r = validate(f, IDENT ".");
    assert_true(r.ok);
    X509_free(r.peer);
    r = validate(f, IDENT "..");
    assert_false(r.ok);
    {
        hs_opts o = {.sni = IDENT,
                     .alpn = ACME_TLS1,
                     .alpn_len = 11,
                     .max_version = TLS1_2_VERSION};
        r = handshake(f, &o);
        assert_true(r.ok);
        assert_int_equal(r.version, TLS1_2_VERSION);
        check_cert(r.peer, IDENT, NULL, 0, KEYAUTH);
        X509_free(r.peer);
    }
    /* acme-tls/1 among others is picked. */
    {
        static const char protos[] = "\x02h2\x0a"
                                     "acme-tls/1\x08http/1.1";
        hs_opts o = {
            .sni = IDENT, .alpn = protos, .alpn_len = sizeof protos - 1};
        r = handshake(f, &o);
        assert_true(r.ok);
        assert_string_equal(r.alpn, "acme-tls/1");
        X509_free(r.peer);
    }
    cleanup(f, op);
}

static void test_digest_from_challenge(void **state)
{
    fixture *f = *state;
    unsigned char d[32];
    char *b64 = NULL;
    void *op = NULL;
    hs_result r;

    Leec_sha256(KEYAUTH, strlen(KEYAUTH), d);
    b64 = Leec_b64url_encode(d, sizeof d);
    assert_non_null(b64);
    op = present(f, IDENT, NULL, b64); /* no key_auth: the digest is used */
    r = validate(f, IDENT);
    assert_true(r.ok);
    check_cert(r.peer, IDENT, NULL, 0, KEYAUTH);
    X509_free(r.peer);
    cleanup(f, op);
    free(b64);
}

static void test_alpn_required(void **state)
{
    fixture *f = *state;
    void *op = present(f, IDENT, KEYAUTH, NULL);
    hs_opts none = {.sni = IDENT};
    hs_opts h2 = {.sni = IDENT, .alpn = "\x02h2", .alpn_len = 3};
    hs_opts h2_12 = {.sni = IDENT,
                     .alpn = "\x02h2",
                     .alpn_len = 3,
                     .max_version = TLS1_2_VERSION};
    hs_result r = handshake(f, &none);

    assert_false(r.ok);
    assert_null(r.peer);
    assert_int_equal(ERR_GET_REASON(r.err),
                     SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL);
    r = handshake(f, &h2);
    assert_false(r.ok);
    assert_int_equal(ERR_GET_REASON(r.err),
                     SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL);
    r = handshake(f, &h2_12);
    assert_false(r.ok);
    assert_int_equal(ERR_GET_REASON(r.err),
                     SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL);
    cleanup(f, op);
}

static void test_unknown_name(void **state)
{
    fixture *f = *state;
    void *op = present(f, IDENT, KEYAUTH, NULL);
    hs_opts nosni = {.alpn = ACME_TLS1, .alpn_len = 11};
    hs_result r = validate(f, "other.leec.test");

    assert_false(r.ok);
    assert_int_equal(ERR_GET_REASON(r.err), SSL_R_TLSV1_UNRECOGNIZED_NAME);
    r = validate(f, "x" IDENT); /* no suffix matching */
    assert_false(r.ok);
    r = handshake(f, &nosni);
    assert_false(r.ok);
    assert_int_equal(ERR_GET_REASON(r.err), SSL_R_TLSV1_UNRECOGNIZED_NAME);
    cleanup(f, op);
}

static void test_after_cleanup(void **state)
{
    fixture *f = *state;
    void *op = present(f, IDENT, KEYAUTH, NULL);
    hs_result r;

    cleanup(f, op);
    r = validate(f, IDENT);
    assert_false(r.ok);
    assert_int_equal(ERR_GET_REASON(r.err), SSL_R_TLSV1_UNRECOGNIZED_NAME);
}

/* Two presentations of one name (two orders): the newest answers, and the
 * older one's cleanup leaves it alone. */
static void test_same_name_twice(void **state)
{
    fixture *f = *state;
    static const char ka2[] = "second.keyauth";
    void *op1 = present(f, IDENT, KEYAUTH, NULL);
    void *op2 = present(f, IDENT, ka2, NULL);
    void *op3 = present(f, "other.leec.test", KEYAUTH, NULL);
    hs_result r = validate(f, IDENT);

    assert_true(r.ok);
    check_cert(r.peer, IDENT, NULL, 0, ka2);
    X509_free(r.peer);
    cleanup(f, op1);
    r = validate(f, IDENT);
    assert_true(r.ok);
    check_cert(r.peer, IDENT, NULL, 0, ka2);
    X509_free(r.peer);
    r = validate(f, "other.leec.test");
    assert_true(r.ok);
    check_cert(r.peer, "other.leec.test", NULL, 0, KEYAUTH);
    X509_free(r.peer);
    cleanup(f, op2);
    cleanup(f, op3);
    r = validate(f, IDENT);
    assert_false(r.ok);
}

/* RFC 8738: an IP identifier is asked for by its reverse name and carries
 * an iPAddress SAN. */
static void test_ip_identifiers(void **state)
{
    fixture *f = *state;
    static const unsigned char v4[4] = {192, 0, 2, 10};
    unsigned char v6[16];
    void *op4 = present(f, "192.0.2.10", KEYAUTH, NULL);
    void *op6 = present(f, "2001:db8::1", KEYAUTH, NULL);
    hs_result r = validate(f, "10.2.0.192.in-addr.arpa");

    assert_true(r.ok);
    check_cert(r.peer, NULL, v4, 4, KEYAUTH);
    X509_free(r.peer);
    assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", v6), 1);
    r = validate(f, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"
                    ".8.b.d.0.1.0.0.2.ip6.arpa");
    assert_true(r.ok);
    check_cert(r.peer, NULL, v6, 16, KEYAUTH);
    X509_free(r.peer);
    r = validate(f, "11.2.0.192.in-addr.arpa");
    assert_false(r.ok);
    cleanup(f, op4);
    cleanup(f, op6);
}

static void test_long_name(void **state)
{
    fixture *f = *state;
    /* 70 characters: too long for a CN (64), fine for a SAN. */
    static const char name[] = "a2345678901234567890123456789012345678901234567"
                               "8901234567890.leec.test";
    void *op = present(f, name, KEYAUTH, NULL);
    hs_result r = validate(f, name);
    int crit = -1;
    GENERAL_NAMES *gens = NULL;

    assert_true(r.ok);
    check_cert(r.peer, name, NULL, 0, KEYAUTH);
    gens = X509_get_ext_d2i(r.peer, NID_subject_alt_name, &crit, NULL);
    assert_int_equal(crit, 1); /* empty subject: critical SAN */
    GENERAL_NAMES_free(gens);
    X509_free(r.peer);
    cleanup(f, op);
}

static void test_refused_challenges(void **state)
{
    fixture *f = *state;
    void *op = NULL;
    leec_challenge wild = {.type = "tls-alpn-01",
                           .ident = IDENT,
                           .wildcard = true,
                           .key_auth = KEYAUTH};
    leec_challenge http = {
        .type = "http-01", .ident = IDENT, .key_auth = KEYAUTH};
    leec_challenge bad = {
        .type = "tls-alpn-01", .ident = "a b\n.test", .key_auth = KEYAUTH};
    leec_challenge nokey = {.type = "tls-alpn-01", .ident = IDENT};

    assert_int_not_equal(Leec_solver_present(f->s, &wild, on_done, f, &op),
                         LEEC_OK);
    assert_int_not_equal(Leec_solver_present(f->s, &http, on_done, f, &op),
                         LEEC_OK);
    assert_int_not_equal(Leec_solver_present(f->s, &bad, on_done, f, &op),
                         LEEC_OK);
    assert_int_not_equal(Leec_solver_present(f->s, &nokey, on_done, f, &op),
                         LEEC_OK);
    assert_int_equal(f->dones, 0);
    assert_string_equal(Leec_solver_ops(f->s)->type, "tls-alpn-01");
}

/* A connection that never speaks is closed after 10 s (fake clock). */
static void test_idle_timeout(void **state)
{
    fixture *f = *state;
    int fd = connect_to(f, AF_INET);
    char c = 0;
    ssize_t n = 0;

    for (int i = 0; i < 100 && !Leec_tlsalpn01_solver_connections(f->s); i++)
        turn(f, -1, 0, 10);
    assert_int_equal(Leec_tlsalpn01_solver_connections(f->s), 1);
    f->now += 9000;
    turn(f, -1, 0, 0);
    assert_int_equal(Leec_tlsalpn01_solver_connections(f->s), 1);
    f->now += 1001;
    turn(f, -1, 0, 0);
    assert_int_equal(Leec_tlsalpn01_solver_connections(f->s), 0);
    /* The client sees the end of the connection. */
    {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, 2000), 1);
    }
    n = recv(fd, &c, 1, 0);
    assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
    close(fd);
}

/* At most 64 connections; the others are closed at once; destroy closes
 * the rest. */
static void test_connection_limit(void **state)
{
    fixture *f = *state;
    int fds[70];
    int closed = 0;

    long deadline = tu_now_ms() + 5000;

    for (size_t i = 0; i < 70; i++)
        fds[i] = connect_to(f, AF_INET);
    /* Connections past the kernel's backlog retry their SYN a second
     * later: wait for all 70 to have been accepted or refused. */
    while (tu_now_ms() < deadline) {
        turn(f, -1, 0, 20);
        closed = 0;
        for (size_t i = 0; i < 70; i++) {
            struct pollfd p = {.fd = fds[i], .events = POLLIN};
            if (poll(&p, 1, 0) == 1)
                closed++;
        }
        if (closed >= 6 && Leec_tlsalpn01_solver_connections(f->s) >= 64)
            break;
    }
    assert_int_equal(Leec_tlsalpn01_solver_connections(f->s), 64);
    assert_int_equal(closed, 6);

    Leec_solver_free(f->s);
    f->s = NULL;
    for (size_t i = 0; i < 70; i++) {
        struct pollfd p = {.fd = fds[i], .events = POLLIN};
        assert_int_equal(poll(&p, 1, 2000), 1);
        close(fds[i]);
    }
}

static void test_dual_stack(void **state)
{
    fixture *f = *state;
    void *op = present(f, IDENT, KEYAUTH, NULL);
    hs_opts o4 = {
        .family = AF_INET, .sni = IDENT, .alpn = ACME_TLS1, .alpn_len = 11};
    hs_opts o6 = o4;
    hs_result r = handshake(f, &o4);
    int probe = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 lo6;

    assert_true(r.ok);
    X509_free(r.peer);
    /* IPv6 only where the host has ::1. */
    memset(&lo6, 0, sizeof lo6);
    lo6.sin6_family = AF_INET6;
    lo6.sin6_addr = in6addr_loopback;
    if (probe >= 0 && bind(probe, (struct sockaddr *)&lo6, sizeof lo6) == 0) {
        o6.family = AF_INET6;
        r = handshake(f, &o6);
        assert_true(r.ok);
        X509_free(r.peer);
    }
    if (probe >= 0)
        close(probe);
    cleanup(f, op);
}

static void test_bad_addresses(void **state)
{
    static const char *bad[] = {
        "",        "x",       "70000", "1.2.3.4",    "1.2.3:80",    "[::1]",
        "[::1]80", "host:80", "-1",    "127.0.0.1:", "127.0.0.1:8a"};
    leec_ctx *ctx = leec_ctx_new();
    leec_code err = LEEC_OK;
    fixture *f = *state;
    char addr[64];

    assert_non_null(ctx);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err = LEEC_OK;
        assert_null(Leec_tlsalpn01_solver_new(ctx, bad[i], &err));
        assert_int_equal(err, LEEC_E_INVALID_ARG);
    }
    assert_null(Leec_tlsalpn01_solver_new(ctx, NULL, &err));
    assert_int_equal(err, LEEC_E_INVALID_ARG);

    /* The port the fixture holds is taken. */
    leec_ctx_set_log(ctx, capture_log, f, LEEC_LOG_ERROR);
    snprintf(addr, sizeof addr, "127.0.0.1:%d",
             Leec_tlsalpn01_solver_port(f->s));
    assert_null(Leec_tlsalpn01_solver_new(ctx, addr, &err));
    assert_int_equal(err, LEEC_E_ADDR_IN_USE); /* the code says it all */
    leec_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_validation_succeeds, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_digest_from_challenge, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_alpn_required, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_after_cleanup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_name_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ip_identifiers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_challenges, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_idle_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dual_stack, setup_dual, teardown),
        cmocka_unit_test_setup_teardown(test_bad_addresses, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
