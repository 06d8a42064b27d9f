/* Tests for lib/solver/http01.c: a real server on loopback, driven the way
 * the context's event loop drives it (poll the fd, then run). */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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

#include "net/http01_server.h"
#include "testutil.h"

#define TOKEN   "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
#define KEYAUTH TOKEN ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"

typedef struct fixture {
    leec_http01_server *srv;
    int lookups; /* how many times the server asked for a token */
    int turns;   /* loop turns since a lookup said "later" */
    bool later;  /* a lookup said "later": answered a few turns on */
    const char *later_answer;
} fixture;

static fixture *current; /* the test's, for the answers that come later */

/* Tokens whose answer comes later, as from a shared store. */
#define LATER_TOKEN   "later-token_0123456789"
#define LATER_UNKNOWN "later-unknown_0123456789"

static leec_http01_lookup_result lookup(void *userdata, const char *token,
                                        char **key_auth)
{
    fixture *f = userdata;
    f->lookups++;
    if (strcmp(token, LATER_TOKEN) == 0 || strcmp(token, LATER_UNKNOWN) == 0) {
        f->later = true;
        f->turns = 0;
        f->later_answer = strcmp(token, LATER_TOKEN) == 0 ? KEYAUTH : NULL;
        return LEEC_HTTP01_LATER;
    }
    *key_auth = strcmp(token, TOKEN) == 0 ? strdup(KEYAUTH) : NULL;
    return *key_auth ? LEEC_HTTP01_FOUND : LEEC_HTTP01_UNKNOWN;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    if (Leec_http01_server_new("127.0.0.1:0", lookup, f, &f->srv) != LEEC_OK)
        return -1;
    *state = f;
    current = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    Leec_http01_server_free(f->srv);
    free(f);
    current = NULL;
    return 0;
}

/* Sends req to the server over a fresh connection and returns everything
 * it answers until it closes the connection (malloc'd). */
static char *exchange_on(leec_http01_server *srv, int family, const char *req)
{
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    int port = Leec_http01_server_port(srv);
    int fd = -1;
    size_t len = 0;
    size_t cap = 65536;
    char *resp = calloc(1, cap + 1);
    long deadline = tu_now_ms() + 5000;
    bool eof = false;

    assert_non_null(resp);
    assert_true(port > 0);
    sslen = tu_loopback(&ss, family, port);
    fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    /* Loopback connects complete in the kernel's backlog, before the
     * server accepts, so a blocking connect cannot deadlock here. */
    assert_int_equal(connect(fd, (struct sockaddr *)&ss, sslen), 0);
    assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL),
                     (ssize_t)strlen(req));
    assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);

    while (!eof && tu_now_ms() < deadline) {
        struct pollfd pfd[2] = {
            {.fd = Leec_http01_server_fd(srv), .events = POLLIN},
            {.fd = fd, .events = POLLIN},
        };
        long t = Leec_http01_server_timeout_ms(srv);
        int wait = (t >= 0 && t < 100) ? (int)t : 100;

        assert_true(pfd[0].fd >= 0);
        assert_true(poll(pfd, 2, wait) >= 0);
        Leec_http01_server_run(srv);
        /* The store answers a few turns later; the server waits. */
        if (current && current->later && ++current->turns == 3) {
            assert_true(Leec_http01_server_waiting(srv));
            current->later = false;
            Leec_http01_server_answer(
                srv, current->later_answer ? LATER_TOKEN : LATER_UNKNOWN,
                current->later_answer);
            assert_false(Leec_http01_server_waiting(srv));
        }
        for (;;) {
            ssize_t n = recv(fd, resp + len, cap - len, 0);
            if (n > 0) {
                len += (size_t)n;
                assert_true(len < cap);
                continue;
            }
            if (n == 0)
                eof = true;
            else
                assert_true(errno == EAGAIN || errno == EWOULDBLOCK ||
                            errno == ECONNRESET);
            if (n < 0 && errno == ECONNRESET)
                eof = true;
            break;
        }
    }
    assert_true(eof);
    close(fd);
    resp[len] = '\0';
    return resp;
}

static char *exchange(leec_http01_server *srv, const char *req)
{
    return exchange_on(srv, AF_INET, req);
}

static int status_of(const char *resp)
{
    int code = 0;
    if (sscanf(resp, "HTTP/1.%*d %d", &code) != 1)
        return -1;
    return code;
}

static const char *body_of(const char *resp)
{
    const char *b = strstr(resp, "\r\n\r\n");
    return b ? b + 4 : NULL;
}

static char *get(leec_http01_server *srv, const char *method, const char *path)
{
    char req[1024];
    snprintf(req, sizeof req,
             "%s %s HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
             method, path);
    return exchange(srv, req);
}

static void test_get_live_token(void **state)
{
    fixture *f = *state;
    char *resp = get(f->srv, "GET", "/.well-known/acme-challenge/" TOKEN);

    assert_int_equal(status_of(resp), 200);
    assert_non_null(strcasestr(resp, "\r\nContent-Type: text/plain"));
    assert_string_equal(body_of(resp), KEYAUTH);
    assert_int_equal(f->lookups, 1);
    free(resp);

    /* HEAD: same status, no body. */
    resp = get(f->srv, "HEAD", "/.well-known/acme-challenge/" TOKEN);
    assert_int_equal(status_of(resp), 200);
    assert_string_equal(body_of(resp), "");
    free(resp);

    /* A query string does not change the token. */
    resp = get(f->srv, "GET", "/.well-known/acme-challenge/" TOKEN "?x=1");
    assert_int_equal(status_of(resp), 200);
    assert_string_equal(body_of(resp), KEYAUTH);
    free(resp);
}

/* A lookup that answers later (another node's token in a shared store):
 * the request waits, suspended, and gets the answer; an answer of
 * "unknown" is a 404. */
static void test_answer_later(void **state)
{
    fixture *f = *state;
    char *resp = get(f->srv, "GET", "/.well-known/acme-challenge/" LATER_TOKEN);
    assert_int_equal(status_of(resp), 200);
    assert_string_equal(body_of(resp), KEYAUTH);
    assert_true(f->turns >= 3);
    free(resp);
    resp = get(f->srv, "GET", "/.well-known/acme-challenge/" LATER_UNKNOWN);
    assert_int_equal(status_of(resp), 404);
    free(resp);
    /* Nothing left waiting. */
    assert_false(Leec_http01_server_waiting(f->srv));
}

static void test_unknown_token(void **state)
{
    fixture *f = *state;
    char *resp = get(f->srv, "GET", "/.well-known/acme-challenge/unknownTok");

    assert_int_equal(status_of(resp), 404);
    assert_string_equal(body_of(resp), "not found");
    assert_int_equal(f->lookups, 1);
    free(resp);
}

static void test_bad_paths(void **state)
{
    fixture *f = *state;
    const char *paths[] = {
        "/.well-known/acme-challenge/../x",
        "/.well-known/acme-challenge/",
        "/.well-known/acme-challenge/a/b",
        "/.well-known/acme-challenge/%2e%2e%2fx",
        "/.well-known/acme-challenge/" TOKEN "/",
        "/.well-known/acme-challenge",
        "/",
        "/index.html",
        "//.well-known/acme-challenge/" TOKEN,
        "/.well-known/acme-challengeX/" TOKEN,
        "/x/.well-known/acme-challenge/" TOKEN,
    };

    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char *resp = get(f->srv, "GET", paths[i]);
        assert_int_equal(status_of(resp), 404);
        free(resp);
    }
    /* None of them was even looked up. */
    assert_int_equal(f->lookups, 0);
}

static void test_post_and_others(void **state)
{
    fixture *f = *state;
    const char *methods[] = {"PUT", "DELETE", "OPTIONS"};
    char *resp = exchange(
        f->srv, "POST /.well-known/acme-challenge/" TOKEN " HTTP/1.1\r\n"
                "Host: example.com\r\nContent-Type: text/plain\r\n"
                "Content-Length: 5\r\nConnection: close\r\n\r\nhello");
    int st = status_of(resp);

    assert_true(st == 404 || st == 405);
    assert_null(strstr(resp, KEYAUTH));
    free(resp);
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        resp = get(f->srv, methods[i], "/.well-known/acme-challenge/" TOKEN);
        st = status_of(resp);
        assert_true(st == 404 || st == 405);
        free(resp);
    }
    assert_int_equal(f->lookups, 0);
}

static void test_garbage_request(void **state)
{
    fixture *f = *state;
    char *resp = exchange(f->srv, "\x01\x02 nonsense\r\n\r\n");

    /* MHD answers 400 or just closes; the point is that it survives. */
    free(resp);
    resp = get(f->srv, "GET", "/.well-known/acme-challenge/" TOKEN);
    assert_int_equal(status_of(resp), 200);
    free(resp);
}

static void test_bad_addresses(void **state)
{
    const char *bad[] = {"",
                         "abc",
                         "70000",
                         "-1",
                         "1.2.3.4",
                         "1.2.3.4:",
                         ":80",
                         "[::1]80",
                         "[::1]:",
                         "[::1",
                         "::1:80",
                         "localhost:80",
                         "1.2.3:80",
                         "1.2.3.4:8a",
                         "1.2.3.4:123456",
                         "[1.2.3.4]:80",
                         "80 ",
                         NULL};
    leec_http01_server *srv = NULL;
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(Leec_http01_server_new(bad[i], lookup, NULL, &srv),
                         LEEC_E_INVALID_ARG);
        assert_null(srv);
    }
    assert_int_equal(Leec_http01_server_new("0", NULL, NULL, &srv),
                     LEEC_E_INVALID_ARG);
    Leec_http01_server_free(NULL);
}

static void test_port_in_use(void **state)
{
    fixture *f = *state;
    leec_http01_server *other = NULL;
    char addr[64];

    snprintf(addr, sizeof addr, "127.0.0.1:%d",
             Leec_http01_server_port(f->srv));
    /* Said as such, not as a file system error. */
    assert_int_equal(Leec_http01_server_new(addr, lookup, f, &other),
                     LEEC_E_ADDR_IN_USE);
    assert_null(other);
    assert_non_null(
        strstr(leec_strerror(LEEC_E_ADDR_IN_USE), "address in use"));
}

static void test_dual_stack_and_v6(void **state)
{
    fixture f = {0};
    char *resp = NULL;
    (void)state;

    /* "PORT" alone listens on every address (dual stack when possible). */
    assert_int_equal(Leec_http01_server_new("0", lookup, &f, &f.srv), LEEC_OK);
    assert_true(Leec_http01_server_port(f.srv) > 0);
    resp = exchange(f.srv, "GET /.well-known/acme-challenge/" TOKEN
                           " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_int_equal(status_of(resp), 200);
    free(resp);
    Leec_http01_server_free(f.srv);
    f.srv = NULL;

    /* Explicit IPv6 loopback, when the host has IPv6. */
    if (Leec_http01_server_new("[::1]:0", lookup, &f, &f.srv) != LEEC_OK) {
        skip();
        return;
    }
    resp = exchange_on(f.srv, AF_INET6,
                       "GET /.well-known/acme-challenge/" TOKEN
                       " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_int_equal(status_of(resp), 200);
    assert_string_equal(body_of(resp), KEYAUTH);
    free(resp);
    Leec_http01_server_free(f.srv);
}

static void test_idle_without_requests(void **state)
{
    fixture *f = *state;
    long t = Leec_http01_server_timeout_ms(f->srv);

    /* No connection: nothing is due; run() must not block. */
    assert_true(t == -1 || t >= 0);
    Leec_http01_server_run(f->srv);
    assert_true(Leec_http01_server_fd(f->srv) >= 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_get_live_token),
        T(test_answer_later),
        T(test_unknown_token),
        T(test_bad_paths),
        T(test_post_and_others),
        T(test_garbage_request),
        cmocka_unit_test(test_bad_addresses),
        T(test_port_in_use),
        cmocka_unit_test(test_dual_stack_and_v6),
        T(test_idle_without_requests),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
