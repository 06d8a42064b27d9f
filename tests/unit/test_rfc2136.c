/* Tests for lib/solver/rfc2136.c: the key file, the UPDATE messages (seen
 * by a fake server in a thread, which answers them as scripted), and a real
 * round trip through BIND's named when it is installed. */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
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

#include "engine/internal.h"
#include "solver/providers.h"
#include "testutil.h"

#define SECRET256 "/nZIC6K8B5hg13eJ7nPti3bd4tO6yQY4llxk2UM0g/c="
#define SECRET512                                                              \
    "jv2vXvqdj8G/fSIeuyOHUvXngYEa34A8ojmMv398ZiC9oBEkYk1oqlRCmM6g9nr+p0Szy"    \
    "HzlofCscMWntDRJ8Q=="
#define SECRET1      "y5IhRvLqv9Jqu7r5ytpWVf1043Q="
#define WRONG_SECRET "c3CRVnbl5I8bS6Ts5lPqpM4OAM/zhhfJK6ZPvczvtAg="
#define VALUE        "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
#define FQDN         "_acme-challenge.www.test.leec."
#define ZONE         "test.leec."

/* ---- fixture: a private folder, a context whose log is kept ---- */

typedef struct named {
    pid_t pid;
    int port;
} named;

static void named_stop(named *n);

typedef struct fixture {
    char *dir;
    named n; /* killed by teardown whatever happened */
    leec_ctx *ctx;
    char log[16384];
    size_t loglen;
} fixture;

static void log_cb(void *ud, leec_log_level level, const char *msg)
{
    fixture *f = ud;
    (void)level;
    int n =
        snprintf(f->log + f->loglen, sizeof f->log - f->loglen, "%s\n", msg);
    if (n > 0 && (size_t)n < sizeof f->log - f->loglen)
        f->loglen += (size_t)n;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    if (!(f->dir = tu_tmpdir("leec-rfc2136")))
        return -1;
    f->ctx = leec_ctx_new();
    if (!f->ctx)
        return -1;
    leec_ctx_set_log(f->ctx, log_cb, f, LEEC_LOG_DEBUG);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    /* Whatever happened, no secret was ever logged. */
    assert_null(strstr(f->log, SECRET256));
    assert_null(strstr(f->log, SECRET512));
    assert_null(strstr(f->log, SECRET1));
    assert_null(strstr(f->log, WRONG_SECRET));
    assert_null(strstr(f->log, "nZIC6K8B5hg1"));
    named_stop(&f->n);
    leec_ctx_free(f->ctx);
    tu_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* Writes text to DIR/name (mode 0600) and returns the path (malloc'd). */
static char *write_file(fixture *f, const char *name, const char *text)
{
    char *path = NULL;
    assert_true(asprintf(&path, "%s/%s", f->dir, name) > 0);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}

static char *key_text(const char *name, const char *alg, const char *secret)
{
    char *t = NULL;
    assert_true(asprintf(&t,
                         "key \"%s\" {\n\talgorithm %s;\n\tsecret "
                         "\"%s\";\n};\n",
                         name, alg, secret) > 0);
    return t;
}

/* Leec_rfc2136_new over a key file holding text. */
static leec_dns_provider *provider_from(fixture *f, const char *server,
                                        const char *text, leec_code *rc)
{
    char *path = write_file(f, "key.conf", text);
    leec_dns_provider *p = Leec_rfc2136_new(f->ctx, server, path, rc);
    free(path);
    return p;
}

/* ---- key files ---- */

static void test_key_good(void **state)
{
    fixture *f = *state;
    static const char *const good[] = {
        /* as tsig-keygen writes them */
        "key \"leec-test\" {\n\talgorithm hmac-sha256;\n\tsecret \"" SECRET256
        "\";\n};\n",
        "key \"k512\" {\n\talgorithm hmac-sha512;\n\tsecret \"" SECRET512
        "\";\n};\n",
        "key \"k1\" {\n\talgorithm hmac-sha1;\n\tsecret \"" SECRET1 "\";\n};\n",
        /* comments of the three kinds, odd spacing, bare words */
        "# made by hand\n// for the tests\n/* a\n block */ key leec-test{"
        "algorithm HMAC-SHA256.;/*x*/secret \"" SECRET256 "\" ; } ;  # end\n",
        /* no algorithm: hmac-sha256; secret first; empty statement */
        "key \"a.b.example.\" { secret \"" SECRET256 "\"; ; };",
        "key \"k\" {\r\n secret " SECRET1 ";\r\n algorithm \"hmac-sha1\";\r\n"
        "};\r\n",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        leec_code rc = LEEC_E_IO;
        leec_dns_provider *p = provider_from(f, "127.0.0.1:5353", good[i], &rc);
        if (!p)
            fprintf(stderr, "case %zu: %s\n", i, f->log);
        assert_non_null(p);
        assert_int_equal(rc, LEEC_OK);
        assert_string_equal(p->ops->name, "rfc2136");
        assert_true(p->ops->needs_zone);
        Leec_dns_provider_free(p);
    }
    /* The file is 0600: no warning about its mode. */
    assert_null(strstr(f->log, "chmod"));
}

static void test_key_mode_warning(void **state)
{
    fixture *f = *state;
    leec_code rc;
    char *text = key_text("leec-test", "hmac-sha256", SECRET256);
    char *path = write_file(f, "open.conf", text);
    assert_int_equal(chmod(path, 0644), 0);
    leec_dns_provider *p = Leec_rfc2136_new(f->ctx, "127.0.0.1", path, &rc);
    assert_non_null(p); /* a warning, not a refusal */
    assert_non_null(strstr(f->log, "chmod 600"));
    Leec_dns_provider_free(p);
    free(path);
    free(text);
}

static void test_key_refused_algorithms(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *alg, *expect;
    } cases[] = {
        {"hmac-sha384", "TSIG algorithm hmac-sha384 is not supported"},
        {"hmac-sha224", "TSIG algorithm hmac-sha224 is not supported"},
        {"hmac-md5", "TSIG algorithm hmac-md5 is obsolete"},
        {"hmac-md5.sig-alg.reg.int.", "hmac-md5.sig-alg.reg.int is obsolete"},
        {"gss-tsig", "unknown TSIG algorithm 'gss-tsig'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        leec_code rc = LEEC_OK;
        char *text = key_text("leec-test", cases[i].alg, SECRET256);
        f->loglen = 0;
        f->log[0] = '\0';
        assert_null(provider_from(f, "127.0.0.1", text, &rc));
        assert_int_equal(rc, LEEC_E_INVALID_ARG);
        if (!strstr(f->log, cases[i].expect))
            fprintf(stderr, "log: %s\n", f->log);
        assert_non_null(strstr(f->log, cases[i].expect));
        /* and what to use instead */
        assert_non_null(strstr(f->log, "hmac-sha256"));
        assert_non_null(strstr(f->log, "hmac-sha512"));
        free(text);
    }
}

static void test_key_malformed(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *text, *expect;
    } cases[] = {
        {"", "no key in the file"},
        {"# only a comment\n", "no key in the file"},
        {"key \"x\" { algorithm hmac-sha256; };", "the key has no secret"},
        {"key \"x\" { secret \"not base64!\"; };", "not valid base64"},
        {"key \"x\" { secret \"" SECRET256 "\"; }", "expected ';' after the "
                                                    "key's '}'"},
        {"key \"x\" { secret \"" SECRET256 "\" };", "expected ';' after the "
                                                    "secret"},
        {"key \"x\" { secret \"" SECRET256, "unterminated quoted string"},
        {"key \"x\" { secret \"" SECRET256 "\"; /* }; ", "unterminated /*"},
        {"key \"x\" { secret \"" SECRET256 "\";", "missing '}'"},
        {"key \"x\" { secret \"" SECRET256 "\"; secret \"" SECRET256 "\"; };",
         "secret given twice"},
        {"key \"x\" { secret \"" SECRET256 "\"; owner root; };",
         "unknown statement 'owner'"},
        {"key \"x\" { " SECRET256 "; };", "unexpected text in the key"},
        {"key \"x\" { secret \"" SECRET256
         "\"; };\nkey \"y\" { secret \"" SECRET256 "\"; };",
         "more than one key"},
        {"options { };", "expected 'key'"},
        {"key { secret \"" SECRET256 "\"; };", "expected the key's name"},
        {"key \"x\" secret;", "expected '{'"},
        {"key \"a..b\" { secret \"" SECRET256 "\"; };", "not a valid DNS name"},
        {"key \"x\" { secret \"ab\\\"cd\"; };", "backslash escape"},
        {"key \"x\" { secret; };", "expected a value after 'secret'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        leec_code rc = LEEC_OK;
        f->loglen = 0;
        f->log[0] = '\0';
        assert_null(provider_from(f, "127.0.0.1", cases[i].text, &rc));
        assert_int_equal(rc, LEEC_E_INVALID_ARG);
        if (!strstr(f->log, cases[i].expect))
            fprintf(stderr, "case %zu log: %s\n", i, f->log);
        assert_non_null(strstr(f->log, cases[i].expect));
        assert_non_null(strstr(f->log, "line "));
    }
}

static void test_key_file_errors(void **state)
{
    fixture *f = *state;
    leec_code rc = LEEC_OK;
    char *missing = NULL, *big = NULL, *path;

    /* missing file */
    assert_true(asprintf(&missing, "%s/nope.conf", f->dir) > 0);
    assert_null(Leec_rfc2136_new(f->ctx, "127.0.0.1", missing, &rc));
    assert_int_equal(rc, LEEC_E_IO);
    assert_non_null(strstr(f->log, "cannot open"));
    /* a folder */
    assert_null(Leec_rfc2136_new(f->ctx, "127.0.0.1", f->dir, &rc));
    assert_int_equal(rc, LEEC_E_IO);
    /* over 64 KiB (comments and all) */
    big = malloc(70000);
    assert_non_null(big);
    memset(big, '#', 69999);
    big[69999] = '\0';
    path = write_file(f, "big.conf", big);
    assert_null(Leec_rfc2136_new(f->ctx, "127.0.0.1", path, &rc));
    assert_int_equal(rc, LEEC_E_INVALID_ARG);
    assert_non_null(strstr(f->log, "larger than"));
    free(path);
    /* bad server addresses */
    char *text = key_text("k", "hmac-sha256", SECRET256);
    assert_null(provider_from(f, "ns1.example.com", text, &rc));
    assert_int_equal(rc, LEEC_E_INVALID_ARG);
    assert_null(provider_from(f, "", text, &rc));
    assert_int_equal(rc, LEEC_E_INVALID_ARG);
    assert_null(Leec_rfc2136_new(f->ctx, "127.0.0.1", NULL, &rc));
    assert_int_equal(rc, LEEC_E_INVALID_ARG);
    free(text);
    free(big);
    free(missing);
}

/* ---- a fake DNS server in a thread ---- */

enum fake_mode {
    FAKE_OK,       /* NOERROR, signed with the key */
    FAKE_REFUSED,  /* REFUSED, signed */
    FAKE_UNSIGNED, /* NOERROR without TSIG */
    FAKE_BADMAC,   /* NOERROR signed with another secret */
    FAKE_BADALG,   /* NOERROR, a TSIG naming an unknown algorithm */
    FAKE_SILENT,   /* no answer */
};

typedef struct fake {
    int fd;
    int port;
    pthread_t th;
    atomic_bool stop;
    atomic_int mode;
    const char *key_name, *secret, *alg;
    pthread_mutex_t mu;
    unsigned char last[4096]; /* the last request */
    size_t lastlen;
    int count;
    bool last_verified; /* its TSIG verified with the key */
} fake;

static void fake_answer(fake *fk, const unsigned char *buf, size_t n,
                        const struct sockaddr *from, socklen_t fromlen)
{
    ldns_pkt *req = NULL, *resp = NULL;
    ldns_rdf *mac = NULL;
    uint8_t *w = NULL;
    size_t wlen = 0;
    unsigned char copy[4096];
    bool verified = false;
    int mode = atomic_load(&fk->mode);

    if (ldns_wire2pkt(&req, buf, n) != LDNS_STATUS_OK)
        goto out;
    if (ldns_pkt_tsig(req)) {
        /* The client's ID was replaced after signing (as RFC 8945 allows):
         * verify with the original ID put back, as servers do. */
        uint16_t orig =
            ldns_rdf2native_int16(ldns_rr_rdf(ldns_pkt_tsig(req), 4));
        memcpy(copy, buf, n);
        copy[0] = (unsigned char)(orig >> 8);
        copy[1] = (unsigned char)(orig & 0xff);
        verified =
            ldns_pkt_tsig_verify(req, copy, n, fk->key_name, fk->secret, NULL);
        mac = ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(req), 3));
    }
    pthread_mutex_lock(&fk->mu);
    memcpy(fk->last, buf, n);
    fk->lastlen = n;
    fk->count++;
    fk->last_verified = verified;
    pthread_mutex_unlock(&fk->mu);
    if (mode == FAKE_SILENT)
        goto out;
    resp = ldns_pkt_new();
    ldns_pkt_set_id(resp, ldns_pkt_id(req));
    ldns_pkt_set_qr(resp, true);
    ldns_pkt_set_opcode(resp, LDNS_PACKET_UPDATE);
    ldns_pkt_set_rcode(resp, mode == FAKE_REFUSED ? LDNS_RCODE_REFUSED
                                                  : LDNS_RCODE_NOERROR);
    ldns_pkt_push_rr(resp, LDNS_SECTION_QUESTION,
                     ldns_rr_clone(ldns_rr_list_rr(ldns_pkt_question(req), 0)));
    if (mode != FAKE_UNSIGNED &&
        ldns_pkt_tsig_sign(resp, fk->key_name,
                           mode == FAKE_BADMAC ? WRONG_SECRET : fk->secret, 300,
                           fk->alg, mac) != LDNS_STATUS_OK)
        goto out;
    if (mode == FAKE_BADALG) {
        /* As signed, but naming an algorithm no one knows. */
        ldns_rdf *alg = ldns_dname_new_frm_str("hmac-sha999.");
        if (!alg)
            goto out;
        ldns_rdf_deep_free(ldns_rr_set_rdf(ldns_pkt_tsig(resp), alg, 0));
    }
    if (ldns_pkt2wire(&w, resp, &wlen) != LDNS_STATUS_OK)
        goto out;
    (void)sendto(fk->fd, w, wlen, 0, from, fromlen);

out:
    free(w);
    ldns_rdf_deep_free(mac);
    ldns_pkt_free(req);
    ldns_pkt_free(resp);
}

static void *fake_main(void *arg)
{
    fake *fk = arg;
    unsigned char buf[4096];
    while (!atomic_load(&fk->stop)) {
        struct pollfd pf = {fk->fd, POLLIN, 0};
        if (poll(&pf, 1, 50) != 1)
            continue;
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof from;
        ssize_t n = recvfrom(fk->fd, buf, sizeof buf, 0,
                             (struct sockaddr *)&from, &fromlen);
        if (n > 12)
            fake_answer(fk, buf, (size_t)n, (struct sockaddr *)&from, fromlen);
    }
    return NULL;
}

static void fake_start(fake *fk, const char *key_name, const char *secret,
                       const char *alg)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof sin;
    memset(fk, 0, sizeof *fk);
    fk->key_name = key_name;
    fk->secret = secret;
    fk->alg = alg;
    pthread_mutex_init(&fk->mu, NULL);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fk->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fk->fd >= 0);
    assert_int_equal(bind(fk->fd, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(getsockname(fk->fd, (struct sockaddr *)&sin, &len), 0);
    fk->port = ntohs(sin.sin_port);
    assert_int_equal(pthread_create(&fk->th, NULL, fake_main, fk), 0);
}

static void fake_stop(fake *fk)
{
    atomic_store(&fk->stop, true);
    pthread_join(fk->th, NULL);
    close(fk->fd);
    pthread_mutex_destroy(&fk->mu);
}

/* ---- driving the loop ---- */

typedef struct result {
    bool called;
    leec_code rc;
    char msg[512];
} result;

static void done_cb(void *ud, leec_code rc, const char *msg)
{
    result *r = ud;
    r->called = true;
    r->rc = rc;
    snprintf(r->msg, sizeof r->msg, "%s", msg ? msg : "");
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void run_until(leec_ctx *ctx, const result *r, int max_ms)
{
    int64_t end = mono_ms() + max_ms;
    while (!r->called && mono_ms() < end) {
        int running = 0;
        (void)leec_ctx_perform(ctx, &running);
        if (r->called)
            break;
        (void)leec_ctx_poll(ctx, 50);
    }
}

static leec_dns_provider *fake_provider(fixture *f, const fake *fk,
                                        const char *alg, const char *secret)
{
    char server[64];
    leec_code rc;
    snprintf(server, sizeof server, "127.0.0.1:%d", fk->port);
    char *text = key_text("leec-test", alg, secret);
    leec_dns_provider *p = provider_from(f, server, text, &rc);
    free(text);
    assert_non_null(p);
    return p;
}

/* Checks the last request the fake server got: an UPDATE of ZONE with one
 * TXT record (class cls, ttl), signed with key leec-test and alg. */
static void check_request(fake *fk, ldns_rr_class cls, uint32_t ttl,
                          const char *alg)
{
    ldns_pkt *pkt = NULL;
    char *s = NULL;

    pthread_mutex_lock(&fk->mu);
    assert_true(fk->lastlen > 0);
    assert_int_equal(ldns_wire2pkt(&pkt, fk->last, fk->lastlen),
                     LDNS_STATUS_OK);
    assert_true(fk->last_verified);
    pthread_mutex_unlock(&fk->mu);

    assert_int_equal(ldns_pkt_get_opcode(pkt), LDNS_PACKET_UPDATE);
    assert_false(ldns_pkt_qr(pkt));
    /* zone section: ZONE SOA IN */
    assert_int_equal(ldns_pkt_qdcount(pkt), 1);
    const ldns_rr *zq = ldns_rr_list_rr(ldns_pkt_question(pkt), 0);
    s = ldns_rdf2str(ldns_rr_owner(zq));
    assert_string_equal(s, ZONE);
    free(s);
    assert_int_equal(ldns_rr_get_type(zq), LDNS_RR_TYPE_SOA);
    assert_int_equal(ldns_rr_get_class(zq), LDNS_RR_CLASS_IN);
    /* no prerequisites; the update section: the one TXT record */
    assert_int_equal(ldns_pkt_ancount(pkt), 0);
    assert_int_equal(ldns_pkt_nscount(pkt), 1);
    const ldns_rr *up = ldns_rr_list_rr(ldns_pkt_authority(pkt), 0);
    s = ldns_rdf2str(ldns_rr_owner(up));
    assert_string_equal(s, FQDN);
    free(s);
    assert_int_equal(ldns_rr_get_type(up), LDNS_RR_TYPE_TXT);
    assert_int_equal(ldns_rr_get_class(up), cls);
    assert_int_equal(ldns_rr_ttl(up), ttl);
    assert_int_equal(ldns_rr_rd_count(up), 1);
    s = ldns_rdf2str(ldns_rr_rdf(up, 0));
    assert_string_equal(s, "\"" VALUE "\"");
    free(s);
    /* TSIG: key name and algorithm */
    const ldns_rr *tsig = ldns_pkt_tsig(pkt);
    assert_non_null(tsig);
    s = ldns_rdf2str(ldns_rr_owner(tsig));
    assert_string_equal(s, "leec-test.");
    free(s);
    s = ldns_rdf2str(ldns_rr_rdf(tsig, 0));
    assert_string_equal(s, alg);
    free(s);
    assert_int_equal(ldns_rdf2native_int16(ldns_rr_rdf(tsig, 2)), 300);
    ldns_pkt_free(pkt);
}

static void test_update_messages(void **state)
{
    fixture *f = *state;
    fake fk;
    result r = {0};
    void *op = NULL;

    fake_start(&fk, "leec-test.", SECRET256, "hmac-sha256.");
    leec_dns_provider *p = fake_provider(f, &fk, "hmac-sha256", SECRET256);

    /* add */
    assert_int_equal(p->ops->add(p->impl, ZONE, FQDN, VALUE, done_cb, &r, &op),
                     LEEC_STATUS_PENDING);
    assert_non_null(op);
    assert_false(r.called); /* never from inside add */
    run_until(f->ctx, &r, 5000);
    assert_true(r.called);
    if (r.rc != LEEC_OK)
        fprintf(stderr, "add: %s\n", r.msg);
    assert_int_equal(r.rc, LEEC_OK);
    check_request(&fk, LDNS_RR_CLASS_IN, 60, "hmac-sha256.");

    /* remove, asynchronously: the same record, class NONE, TTL 0 */
    memset(&r, 0, sizeof r);
    p->ops->remove(p->impl, op, done_cb, &r);
    run_until(f->ctx, &r, 5000);
    assert_true(r.called);
    assert_int_equal(r.rc, LEEC_OK);
    check_request(&fk, LDNS_RR_CLASS_NONE, 0, "hmac-sha256.");

    /* remove, synchronously (teardown) */
    memset(&r, 0, sizeof r);
    op = NULL;
    assert_int_equal(p->ops->add(p->impl, ZONE, FQDN, VALUE, done_cb, &r, &op),
                     LEEC_STATUS_PENDING);
    run_until(f->ctx, &r, 5000);
    assert_int_equal(r.rc, LEEC_OK);
    p->ops->remove(p->impl, op, NULL, NULL);
    check_request(&fk, LDNS_RR_CLASS_NONE, 0, "hmac-sha256.");
    assert_int_equal(fk.count, 4);

    /* remove while the add is still in flight: the add's done never runs,
     * the delete still goes out */
    memset(&r, 0, sizeof r);
    result r2 = {0};
    op = NULL;
    assert_int_equal(p->ops->add(p->impl, ZONE, FQDN, VALUE, done_cb, &r, &op),
                     LEEC_STATUS_PENDING);
    p->ops->remove(p->impl, op, done_cb, &r2);
    run_until(f->ctx, &r2, 5000);
    assert_true(r2.called);
    assert_int_equal(r2.rc, LEEC_OK);
    assert_false(r.called);
    check_request(&fk, LDNS_RR_CLASS_NONE, 0, "hmac-sha256.");

    /* bad arguments */
    assert_int_equal(
        p->ops->add(p->impl, ZONE, "www.other.leec.", VALUE, done_cb, &r, &op),
        LEEC_STATUS_FAILED);
    assert_int_equal(
        p->ops->add(p->impl, ZONE, FQDN, "with space", done_cb, &r, &op),
        LEEC_STATUS_FAILED);
    assert_int_equal(
        p->ops->add(p->impl, "test.leec", FQDN, VALUE, done_cb, &r, &op),
        LEEC_STATUS_FAILED);
    Leec_dns_provider_free(p);
    fake_stop(&fk);
}

static void test_update_sha512_sha1(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *alg, *ldns_alg, *secret;
    } cases[] = {
        {"hmac-sha512", "hmac-sha512.", SECRET512},
        {"hmac-sha1", "hmac-sha1.", SECRET1},
    };
    for (size_t i = 0; i < 2; i++) {
        fake fk;
        result r = {0};
        void *op = NULL;
        fake_start(&fk, "leec-test.", cases[i].secret, cases[i].ldns_alg);
        leec_dns_provider *p =
            fake_provider(f, &fk, cases[i].alg, cases[i].secret);
        assert_int_equal(
            p->ops->add(p->impl, ZONE, FQDN, VALUE, done_cb, &r, &op),
            LEEC_STATUS_PENDING);
        run_until(f->ctx, &r, 5000);
        assert_int_equal(r.rc, LEEC_OK);
        check_request(&fk, LDNS_RR_CLASS_IN, 60, cases[i].ldns_alg);
        p->ops->remove(p->impl, op, NULL, NULL);
        check_request(&fk, LDNS_RR_CLASS_NONE, 0, cases[i].ldns_alg);
        Leec_dns_provider_free(p);
        fake_stop(&fk);
    }
}

static void test_bad_answers(void **state)
{
    fixture *f = *state;
    static const struct {
        int mode;
        leec_code rc;
        const char *expect;
    } cases[] = {
        {FAKE_REFUSED, LEEC_E_SOLVER, "refused the update: REFUSED"},
        {FAKE_UNSIGNED, LEEC_E_PROTOCOL, "without a TSIG signature"},
        {FAKE_BADMAC, LEEC_E_PROTOCOL, "does not verify"},
        /* ldns cannot compute that MAC; its verification must not even be
         * tried (it then leaks the answer's TSIG record: the sanitized
         * build's leak check watches). */
        {FAKE_BADALG, LEEC_E_PROTOCOL, "does not verify"},
    };
    fake fk;
    fake_start(&fk, "leec-test.", SECRET256, "hmac-sha256.");
    leec_dns_provider *p = fake_provider(f, &fk, "hmac-sha256", SECRET256);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        result r = {0};
        void *op = NULL;
        atomic_store(&fk.mode, cases[i].mode);
        assert_int_equal(
            p->ops->add(p->impl, ZONE, FQDN, VALUE, done_cb, &r, &op),
            LEEC_STATUS_PENDING);
        run_until(f->ctx, &r, 5000);
        assert_true(r.called);
        assert_int_equal(r.rc, cases[i].rc);
        if (!strstr(r.msg, cases[i].expect))
            fprintf(stderr, "msg: %s\n", r.msg);
        assert_non_null(strstr(r.msg, cases[i].expect));
        /* cleanup still happens after a failed add (sync: bounded) */
        p->ops->remove(p->impl, op, NULL, NULL);
    }
    /* no answer at all: the teardown path gives up within its bound */
    atomic_store(&fk.mode, FAKE_OK);
    void *op = NULL;
    result r = {0};
    assert_int_equal(p->ops->add(p->impl, ZONE, FQDN, VALUE, done_cb, &r, &op),
                     LEEC_STATUS_PENDING);
    run_until(f->ctx, &r, 5000);
    assert_int_equal(r.rc, LEEC_OK);
    atomic_store(&fk.mode, FAKE_SILENT);
    int64_t t0 = mono_ms();
    f->loglen = 0;
    f->log[0] = '\0';
    p->ops->remove(p->impl, op, NULL, NULL);
    assert_true(mono_ms() - t0 < 4500);
    assert_non_null(strstr(f->log, "could not remove TXT"));
    Leec_dns_provider_free(p);
    fake_stop(&fk);
}

/* ---- against BIND's named ---- */

static bool have(const char *path)
{
    return access(path, X_OK) == 0;
}

static const char *find_tool(const char *name)
{
    static char buf[2][64];
    static int k;
    static const char *const dirs[] = {"/usr/sbin", "/usr/bin", "/sbin", "/bin",
                                       "/usr/local/sbin"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        char *b = buf[k++ & 1];
        snprintf(b, sizeof buf[0], "%s/%s", dirs[i], name);
        if (have(b))
            return b;
    }
    return NULL;
}

/* A port free for both UDP and TCP on 127.0.0.1 (racy, but only with
 * other tests). */
static int free_port(void)
{
    for (int tries = 0; tries < 20; tries++) {
        struct sockaddr_in sin = {.sin_family = AF_INET};
        socklen_t len = sizeof sin;
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int port = -1;
        if (u >= 0 && t >= 0 &&
            bind(u, (struct sockaddr *)&sin, sizeof sin) == 0 &&
            getsockname(u, (struct sockaddr *)&sin, &len) == 0 &&
            bind(t, (struct sockaddr *)&sin, sizeof sin) == 0)
            port = ntohs(sin.sin_port);
        if (u >= 0)
            close(u);
        if (t >= 0)
            close(t);
        if (port > 0)
            return port;
    }
    return -1;
}

/* One blocking UDP query for name/type to 127.0.0.1:port; the answer's
 * TXT strings joined by '|' into out ("" when none); false on no answer. */
static bool query_txt(int port, const char *name, char *out, size_t outsz)
{
    ldns_rdf *dn = NULL;
    ldns_pkt *q = NULL, *a = NULL;
    uint8_t *w = NULL;
    size_t wlen = 0;
    unsigned char buf[4096];
    bool ok = false;
    int fd = -1;
    struct sockaddr_in sin = {.sin_family = AF_INET};

    out[0] = '\0';
    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (ldns_str2rdf_dname(&dn, name) != LDNS_STATUS_OK)
        goto out;
    q = ldns_pkt_query_new(dn, LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_IN, 0);
    dn = NULL;
    ldns_pkt_set_random_id(q);
    if (ldns_pkt2wire(&w, q, &wlen) != LDNS_STATUS_OK)
        goto out;
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
        send(fd, w, wlen, 0) != (ssize_t)wlen)
        goto out;
    struct pollfd pf = {fd, POLLIN, 0};
    if (poll(&pf, 1, 2000) != 1)
        goto out;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 12 || ldns_wire2pkt(&a, buf, (size_t)n) != LDNS_STATUS_OK ||
        ldns_pkt_id(a) != ldns_pkt_id(q))
        goto out;
    ok = true;
    for (size_t i = 0; i < ldns_pkt_ancount(a); i++) {
        const ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(a), i);
        if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_TXT)
            continue;
        char *s = ldns_rdf2str(ldns_rr_rdf(rr, 0));
        size_t used = strlen(out);
        snprintf(out + used, outsz - used, "%s%s", used ? "|" : "", s);
        free(s);
    }

out:
    if (fd >= 0)
        close(fd);
    free(w);
    ldns_rdf_deep_free(dn);
    ldns_pkt_free(q);
    ldns_pkt_free(a);
    return ok;
}

static bool run_keygen(const char *keygen, const char *alg, const char *name,
                       const char *path)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || dup2(fd, 1) < 0)
            _exit(127);
        execl(keygen, "tsig-keygen", "-a", alg, name, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
           WEXITSTATUS(st) == 0;
}

static void named_stop(named *n)
{
    if (n->pid > 0) {
        int st;
        kill(n->pid, SIGTERM);
        for (int i = 0; i < 100; i++) {
            if (waitpid(n->pid, &st, WNOHANG) == n->pid) {
                n->pid = 0;
                break;
            }
            usleep(50000);
        }
        if (n->pid > 0) {
            kill(n->pid, SIGKILL);
            waitpid(n->pid, &st, 0);
        }
        n->pid = 0;
    }
}

/* Starts named on a free port with zone test.leec. updatable by the keys
 * in DIR/k256.conf, k512.conf, k1.conf. false (and skips) without named. */
static bool named_start(fixture *f, named *n)
{
    const char *named_bin = find_tool("named");
    const char *keygen = find_tool("tsig-keygen");
    char *conf = NULL, *zone = NULL, *path = NULL;
    bool ok = false;

    memset(n, 0, sizeof *n);
    if (!named_bin || !keygen)
        return false;
    static const char *const keys[][2] = {
        {"hmac-sha256", "k256"}, {"hmac-sha512", "k512"}, {"hmac-sha1", "k1"}};
    for (size_t i = 0; i < 3; i++) {
        assert_true(asprintf(&path, "%s/%s.conf", f->dir, keys[i][1]) > 0);
        assert_true(run_keygen(keygen, keys[i][0], keys[i][1], path));
        free(path);
        path = NULL;
    }
    n->port = free_port();
    assert_true(n->port > 0);
    assert_true(asprintf(&conf,
                         "options {\n"
                         "  directory \"%s\";\n"
                         "  pid-file \"%s/named.pid\";\n"
                         "  listen-on port %d { 127.0.0.1; };\n"
                         "  listen-on-v6 { none; };\n"
                         "  recursion no;\n"
                         "  dnssec-validation no;\n"
                         "  notify no;\n"
                         "};\n"
                         "controls { };\n"
                         "include \"%s/k256.conf\";\n"
                         "include \"%s/k512.conf\";\n"
                         "include \"%s/k1.conf\";\n"
                         "zone \"test.leec\" {\n"
                         "  type primary;\n"
                         "  file \"%s/test.leec.db\";\n"
                         "  allow-update { key k256; key k512; key k1; };\n"
                         "};\n",
                         f->dir, f->dir, n->port, f->dir, f->dir, f->dir,
                         f->dir) > 0);
    free(write_file(f, "named.conf", conf));
    free(write_file(f, "test.leec.db",
                    "$TTL 60\n"
                    "@ IN SOA ns.test.leec. hostmaster.test.leec. "
                    "1 60 60 600 60\n"
                    "@ IN NS ns.test.leec.\n"
                    "ns IN A 127.0.0.1\n"));
    assert_true(asprintf(&path, "%s/named.conf", f->dir) > 0);
    assert_true(asprintf(&zone, "%s/named.log", f->dir) > 0);
    n->pid = fork();
    assert_true(n->pid >= 0);
    if (n->pid == 0) {
        int fd = open(zone, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(named_bin, "named", "-g", "-n", "1", "-c", path, (char *)NULL);
        _exit(127);
    }
    /* ready when it answers for the zone */
    char txt[256];
    for (int i = 0; i < 200 && !ok; i++) {
        int st;
        if (waitpid(n->pid, &st, WNOHANG) == n->pid) {
            n->pid = 0;
            break;
        }
        ok = query_txt(n->port, "ns.test.leec.", txt, sizeof txt);
        if (!ok)
            usleep(50000);
    }
    if (!ok) {
        char *log = NULL;
        size_t len = 0;
        FILE *fp = fopen(zone, "r");
        if (fp) {
            log = calloc(1, 8192);
            if (log)
                len = fread(log, 1, 8191, fp);
            fclose(fp);
        }
        fprintf(stderr, "named did not start (%zu bytes of log):\n%s\n", len,
                log ? log : "");
        free(log);
        named_stop(n);
    }
    free(conf);
    free(zone);
    free(path);
    return ok;
}

static leec_dns_provider *named_provider(fixture *f, const named *n,
                                         const char *keyfile)
{
    char server[64], *path = NULL;
    leec_code rc;
    snprintf(server, sizeof server, "127.0.0.1:%d", n->port);
    assert_true(asprintf(&path, "%s/%s", f->dir, keyfile) > 0);
    leec_dns_provider *p = Leec_rfc2136_new(f->ctx, server, path, &rc);
    if (!p)
        fprintf(stderr, "log: %s\n", f->log);
    assert_non_null(p);
    free(path);
    return p;
}

static void test_named_round_trip(void **state)
{
    fixture *f = *state;
    named *np = &f->n;
    char txt[1024];

    if (!named_start(f, np)) {
        skip();
        return;
    }
    static const char *const keyfiles[] = {"k256.conf", "k512.conf", "k1.conf"};
    for (size_t i = 0; i < 3; i++) {
        leec_dns_provider *p = named_provider(f, np, keyfiles[i]);
        result r = {0};
        void *op = NULL;

        /* another value at the name, which must survive the removal */
        result r0 = {0};
        void *op0 = NULL;
        assert_int_equal(
            p->ops->add(p->impl, ZONE, FQDN, "other-value", done_cb, &r0, &op0),
            LEEC_STATUS_PENDING);
        run_until(f->ctx, &r0, 10000);
        assert_int_equal(r0.rc, LEEC_OK);

        assert_int_equal(
            p->ops->add(p->impl, ZONE, FQDN, VALUE, done_cb, &r, &op),
            LEEC_STATUS_PENDING);
        run_until(f->ctx, &r, 10000);
        assert_true(r.called);
        if (r.rc != LEEC_OK)
            fprintf(stderr, "%s: %s\n", keyfiles[i], r.msg);
        assert_int_equal(r.rc, LEEC_OK);
        assert_true(query_txt(np->port, FQDN, txt, sizeof txt));
        assert_non_null(strstr(txt, "\"" VALUE "\""));
        assert_non_null(strstr(txt, "\"other-value\""));

        /* removal: async for the first key, sync (teardown) otherwise */
        if (i == 0) {
            memset(&r, 0, sizeof r);
            p->ops->remove(p->impl, op, done_cb, &r);
            run_until(f->ctx, &r, 10000);
            assert_true(r.called);
            assert_int_equal(r.rc, LEEC_OK);
        } else {
            p->ops->remove(p->impl, op, NULL, NULL);
        }
        assert_true(query_txt(np->port, FQDN, txt, sizeof txt));
        assert_null(strstr(txt, VALUE));
        assert_non_null(strstr(txt, "\"other-value\""));
        p->ops->remove(p->impl, op0, NULL, NULL);
        assert_true(query_txt(np->port, FQDN, txt, sizeof txt));
        assert_string_equal(txt, "");
        Leec_dns_provider_free(p);
    }

    /* the right key name with a wrong secret: BADSIG, and no record */
    {
        char *text = key_text("k256", "hmac-sha256", WRONG_SECRET);
        free(write_file(f, "wrong.conf", text));
        free(text);
        leec_dns_provider *p = named_provider(f, np, "wrong.conf");
        result r = {0};
        void *op = NULL;
        assert_int_equal(
            p->ops->add(p->impl, ZONE, FQDN, VALUE, done_cb, &r, &op),
            LEEC_STATUS_PENDING);
        run_until(f->ctx, &r, 10000);
        assert_true(r.called);
        assert_int_equal(r.rc, LEEC_E_SOLVER);
        fprintf(stderr, "wrong secret: %s\n", r.msg);
        assert_non_null(strstr(r.msg, "BADSIG"));
        assert_non_null(strstr(r.msg, "rejected the TSIG signature"));
        assert_true(query_txt(np->port, FQDN, txt, sizeof txt));
        assert_string_equal(txt, "");
        p->ops->remove(p->impl, op, NULL, NULL);
        Leec_dns_provider_free(p);
    }
    /* a key named differently: BADKEY */
    {
        char *text = key_text("nobody", "hmac-sha256", SECRET256);
        free(write_file(f, "nobody.conf", text));
        free(text);
        leec_dns_provider *p = named_provider(f, np, "nobody.conf");
        result r = {0};
        void *op = NULL;
        assert_int_equal(
            p->ops->add(p->impl, ZONE, FQDN, VALUE, done_cb, &r, &op),
            LEEC_STATUS_PENDING);
        run_until(f->ctx, &r, 10000);
        assert_int_equal(r.rc, LEEC_E_SOLVER);
        fprintf(stderr, "unknown key: %s\n", r.msg);
        assert_non_null(strstr(r.msg, "BADKEY"));
        p->ops->remove(p->impl, op, NULL, NULL);
        Leec_dns_provider_free(p);
    }
    /* a zone the server does not serve: NOTAUTH */
    {
        leec_dns_provider *p = named_provider(f, np, "k256.conf");
        result r = {0};
        void *op = NULL;
        assert_int_equal(p->ops->add(p->impl, "other.leec.",
                                     "_acme-challenge.other.leec.", VALUE,
                                     done_cb, &r, &op),
                         LEEC_STATUS_PENDING);
        run_until(f->ctx, &r, 10000);
        assert_int_equal(r.rc, LEEC_E_SOLVER);
        fprintf(stderr, "other zone: %s\n", r.msg);
        assert_non_null(strstr(r.msg, "refused the update"));
        p->ops->remove(p->impl, op, NULL, NULL);
        Leec_dns_provider_free(p);
    }
    named_stop(np);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_key_good),
        T(test_key_mode_warning),
        T(test_key_refused_algorithms),
        T(test_key_malformed),
        T(test_key_file_errors),
        T(test_update_messages),
        T(test_update_sha512_sha1),
        T(test_bad_answers),
        T(test_named_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
