/* DNS messages from a resolver or a name server, read as dns-01 reads them
 * (lib/solver/dns01.c: CNAME, SOA, NS, A/AAAA answers, the TXT answers of
 * the propagation check) and as the RFC 2136 provider reads the answers
 * to its UPDATEs (rfc2136.c: rcode, TSIG error, TSIG verification).
 *
 * The input is a stream of messages as over TCP (RFC 1035 §4.2.2: a
 * two-byte length before each), given in order to the queries the solver
 * sends for _acme-challenge.www.example.com (resolver, zone, UPDATE, name
 * servers, their addresses, the check rounds; then the record's removal,
 * and a second presentation removed the blocking way). An empty message
 * stands for a query that got no answer (a timeout). The DNS transport
 * is replaced at link time (-Wl,--wrap: Leec_dns_send and friends become
 * the __wrap_ functions below): nothing is sent anywhere, and each answer
 * goes through Leec_dns_answer_matches as the real transport's do, its ID
 * set to the query's (the real transport picks a random one). An answer
 * with TC set to a UDP query is followed by the next one, as over TCP.
 *
 * A signed answer to an UPDATE is signed again, with the test key, over
 * the query's MAC: a recorded signature covers the recording's request,
 * whose time differs from the replay's, and would never verify. So the
 * fuzzed bytes of a TSIG with a MAC do not matter; those of an unsigned
 * TSIG (the error answers of a server that refuses our signature) and of
 * the rest of the message do.
 *
 * Seeds come from the same run against a real server: with
 * FUZZ_DNS_RECORD=FILE and FUZZ_DNS_SERVER=ADDR:PORT in the environment,
 * the __wrap_ functions hand every query to the real transport (the
 * __real_ ones), on the real clock, and the answers are written to FILE in
 * the input's format (tests/fuzz/capture_seeds.py runs it against BIND). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "net/dns.h"
#include "fake.h"
#include "fuzz.h"
#include "util/loop.h"
#include "solver/providers.h"

#define MAX_ITER   2000
#define DIGEST     "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
#define SERVER     "127.0.0.1:5353"
#define KEY_NAME   "leec-test."
#define KEY_SECRET "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2U="

static const char *record_file; /* FUZZ_DNS_RECORD: recording, not fuzzing */
static int auth_port = 5353;
static char server[64] = SERVER;

/* ---- the script of answers ---- */

static const uint8_t *pos, *end;

/* The next message of the stream, or false when it is over. */
static bool next_answer(const uint8_t **msg, size_t *len)
{
    if (end - pos < 2)
        return false;
    size_t n = (size_t)pos[0] << 8 | pos[1];
    if ((size_t)(end - pos - 2) < n)
        n = (size_t)(end - pos - 2); /* a short last message */
    *msg = pos + 2;
    *len = n;
    pos += 2 + n;
    return true;
}

/* The answer c (*n bytes, malloc'd) to the UPDATE q signed again over
 * q's MAC, when it carries a TSIG with a MAC and no error (see the top);
 * c is left alone otherwise. */
static void resign(const unsigned char *q, size_t qlen, unsigned char **c,
                   size_t *n)
{
    ldns_pkt *qp = NULL, *ap = NULL;
    uint8_t *wire = NULL;
    size_t wlen = 0;
    if (qlen < 3 || ((q[2] >> 3) & 0x0F) != LDNS_PACKET_UPDATE ||
        ldns_wire2pkt(&qp, q, qlen) != LDNS_STATUS_OK || !ldns_pkt_tsig(qp) ||
        ldns_wire2pkt(&ap, *c, *n) != LDNS_STATUS_OK)
        goto out;
    ldns_rr *t = ldns_pkt_tsig(ap);
    if (!t || ldns_rr_rd_count(t) < 6 ||
        ldns_rdf_size(ldns_rr_rdf(t, 3)) <= 2 || /* a MAC, not just its size */
        ldns_rdf2native_int16(ldns_rr_rdf(t, 5)) != 0)
        goto out;
    ldns_rr_free(t);
    ldns_pkt_set_tsig(ap, NULL);
    if (ldns_pkt_tsig_sign(ap, KEY_NAME, KEY_SECRET, 300, "hmac-sha256.",
                           ldns_rr_rdf(ldns_pkt_tsig(qp), 3)) !=
            LDNS_STATUS_OK ||
        ldns_pkt2wire(&wire, ap, &wlen) != LDNS_STATUS_OK)
        goto out;
    free(*c);
    *c = wire;
    *n = wlen;
    wire = NULL;
out:
    free(wire);
    ldns_pkt_free(qp);
    ldns_pkt_free(ap);
}

/* The answer the real transport would deliver for query q (len bytes):
 * LEEC_OK with a malloc'd copy, LEEC_E_TIMEOUT when the script is over
 * (no answer came), LEEC_E_PROTOCOL when it does not match (the real one
 * would wait on, then give up so). */
static leec_code answer(const unsigned char *q, size_t qlen, bool tcp,
                        unsigned char **out, size_t *outlen)
{
    const uint8_t *a = NULL;
    size_t n = 0;
    *out = NULL;
    *outlen = 0;
    if (!next_answer(&a, &n) || n == 0)
        return LEEC_E_TIMEOUT; /* the script is over, or says so */
    if (!tcp && n > 2 && (a[2] & 0x02) && (!next_answer(&a, &n) || n == 0))
        return LEEC_E_TIMEOUT; /* truncated: the TCP retry's answer */
    unsigned char *c = malloc(n ? n : 1);
    if (!c)
        return LEEC_E_NOMEM;
    memcpy(c, a, n);
    if (n >= 2 && qlen >= 2)
        memcpy(c, q, 2);
    resign(q, qlen, &c, &n);
    if (!Leec_dns_answer_matches(q, Leec_dns_question_end(q, qlen), c, n)) {
        free(c);
        return LEEC_E_PROTOCOL;
    }
    *out = c;
    *outlen = n;
    return LEEC_OK;
}

/* ---- recording ---- */

leec_code __real_Leec_dns_send(leec_ctx *ctx, const struct sockaddr *sa,
                               socklen_t salen, const unsigned char *msg,
                               size_t len, bool tcp, int timeout_ms,
                               leec_dns_fn fn, void *userdata,
                               leec_dns_query **q);
void __real_Leec_dns_cancel(leec_ctx *ctx, leec_dns_query *q);
leec_code __real_Leec_dns_send_sync(const struct sockaddr *sa, socklen_t salen,
                                    const unsigned char *msg, size_t len,
                                    bool tcp, int timeout_ms,
                                    unsigned char **reply, size_t *rlen);

/* The answers of a recording, by query: the replay hands answers out in
 * the order the queries were sent, whatever order they came back in (the
 * A and AAAA queries of several name servers are out at once). A query
 * that got no answer (an unreachable server) is an empty message, which
 * the replay turns into a timeout. */
static struct {
    unsigned char *wire;
    size_t len;
} * answers;
static size_t nanswers;

static size_t record_slot(void)
{
    void *v = realloc(answers, (nanswers + 1) * sizeof *answers);
    if (!v)
        abort();
    answers = v;
    answers[nanswers].wire = NULL;
    answers[nanswers].len = 0;
    return nanswers++;
}

static void record(size_t slot, leec_code rc, const unsigned char *wire,
                   size_t len)
{
    if (rc != LEEC_OK || len > 65535)
        return;
    if (!(answers[slot].wire = malloc(len ? len : 1)))
        abort();
    memcpy(answers[slot].wire, wire, len);
    answers[slot].len = len;
}

static void record_write(void)
{
    FILE *f = fopen(record_file, "wb");
    if (!f)
        abort();
    for (size_t i = 0; i < nanswers; i++) {
        size_t len = answers[i].len;
        unsigned char n[2] = {(unsigned char)(len >> 8), (unsigned char)len};
        if (fwrite(n, 1, 2, f) != 2 ||
            (len && fwrite(answers[i].wire, 1, len, f) != len))
            abort();
        free(answers[i].wire);
    }
    free(answers);
    fclose(f);
}

/* The caller's callback, after the answer is written down. */
typedef struct recorded {
    leec_dns_fn fn;
    void *ud;
    size_t slot;
} recorded;

static void on_recorded(void *ud, leec_code rc, const unsigned char *wire,
                        size_t len)
{
    recorded r = *(recorded *)ud;
    free(ud);
    record(r.slot, rc, wire, len);
    r.fn(r.ud, rc, wire, len);
}

/* ---- the stand-in transport ---- */

/* Queries wait in the order they were sent and are answered in that
 * order, on the next turn of the loop (one timer for all of them): the
 * order of a recording's answers. */
struct leec_dns_query {
    struct leec_dns_query *next;
    unsigned char *msg;
    size_t len;
    bool tcp;
    leec_dns_fn fn;
    void *ud;
    bool in_cb; /* fn is running: a cancel must not free (as dns.c) */
};

static leec_dns_query *queue, **queue_tail = &queue;
static leec_timer *queue_timer;

leec_code __wrap_Leec_dns_send(leec_ctx *ctx, const struct sockaddr *sa,
                               socklen_t salen, const unsigned char *msg,
                               size_t len, bool tcp, int timeout_ms,
                               leec_dns_fn fn, void *userdata,
                               leec_dns_query **q);
void __wrap_Leec_dns_cancel(leec_ctx *ctx, leec_dns_query *q);
leec_code __wrap_Leec_dns_send_sync(const struct sockaddr *sa, socklen_t salen,
                                    const unsigned char *msg, size_t len,
                                    bool tcp, int timeout_ms,
                                    unsigned char **reply, size_t *rlen);

static void query_free(leec_dns_query *q)
{
    free(q->msg);
    free(q);
}

static void unqueue(leec_dns_query *q)
{
    for (leec_dns_query **pp = &queue; *pp; pp = &(*pp)->next)
        if (*pp == q) {
            *pp = q->next;
            if (queue_tail == &q->next)
                queue_tail = pp;
            return;
        }
}

/* Answers the queries waiting, oldest first, and those their callbacks
 * send meanwhile. */
static void deliver(void *ud)
{
    (void)ud;
    queue_timer = NULL;
    while (queue) {
        leec_dns_query *q = queue;
        unsigned char *a = NULL;
        size_t n = 0;
        unqueue(q);
        leec_code rc = answer(q->msg, q->len, q->tcp, &a, &n);
        q->in_cb = true;
        q->fn(q->ud, rc, a, n);
        free(a);
        query_free(q);
    }
}

leec_code __wrap_Leec_dns_send(leec_ctx *ctx, const struct sockaddr *sa,
                               socklen_t salen, const unsigned char *msg,
                               size_t len, bool tcp, int timeout_ms,
                               leec_dns_fn fn, void *userdata,
                               leec_dns_query **out)
{
    if (record_file) {
        recorded *r = malloc(sizeof *r);
        if (!r)
            return LEEC_E_NOMEM;
        *r = (recorded){fn, userdata, record_slot()};
        leec_code rc = __real_Leec_dns_send(ctx, sa, salen, msg, len, tcp,
                                            timeout_ms, on_recorded, r, out);
        if (rc != LEEC_OK)
            free(r);
        return rc; /* a cancelled query is never cancelled in a recording */
    }
    /* What the real one refuses up front. */
    if (!msg || !fn || len < 12 || len > 65535 || timeout_ms <= 0 ||
        !Leec_dns_question_end(msg, len))
        return LEEC_E_INVALID_ARG;
    leec_dns_query *q = calloc(1, sizeof *q);
    if (!q || !(q->msg = malloc(len))) {
        free(q);
        return LEEC_E_NOMEM;
    }
    memcpy(q->msg, msg, len);
    q->len = len;
    q->tcp = tcp;
    q->fn = fn;
    q->ud = userdata;
    if (!queue_timer && !(queue_timer = Leec_loop_timer(ctx, Leec_now_ms(ctx),
                                                        deliver, NULL))) {
        query_free(q);
        return LEEC_E_NOMEM;
    }
    *queue_tail = q;
    queue_tail = &q->next;
    if (out)
        *out = q;
    return LEEC_OK;
}

void __wrap_Leec_dns_cancel(leec_ctx *ctx, leec_dns_query *q)
{
    if (record_file) {
        __real_Leec_dns_cancel(ctx, q);
        return;
    }
    if (!q || q->in_cb)
        return;
    unqueue(q);
    query_free(q);
    if (!queue) {
        Leec_loop_timer_cancel(ctx, queue_timer);
        queue_timer = NULL;
    }
}

leec_code __wrap_Leec_dns_send_sync(const struct sockaddr *sa, socklen_t salen,
                                    const unsigned char *msg, size_t len,
                                    bool tcp, int timeout_ms,
                                    unsigned char **reply, size_t *rlen)
{
    if (record_file) {
        size_t slot = record_slot();
        leec_code rc = __real_Leec_dns_send_sync(sa, salen, msg, len, tcp,
                                                 timeout_ms, reply, rlen);
        record(slot, rc, *reply, *rlen);
        return rc;
    }
    if (!msg || len < 12 || len > 65535 || timeout_ms <= 0 ||
        !Leec_dns_question_end(msg, len))
        return LEEC_E_INVALID_ARG;
    return answer(msg, len, tcp, reply, rlen);
}

/* ---- the solver ---- */

static char keyfile[64];

static void setup(void)
{
    if ((record_file = getenv("FUZZ_DNS_RECORD"))) {
        const char *srv = getenv("FUZZ_DNS_SERVER");
        const char *colon = srv ? strrchr(srv, ':') : NULL;
        if (!colon || strlen(srv) >= sizeof server)
            abort();
        snprintf(server, sizeof server, "%s", srv);
        auth_port = (int)strtol(colon + 1, NULL, 10);
    }
    static const char text[] = "key \"leec-test\" {\n"
                               "\talgorithm hmac-sha256;\n"
                               "\tsecret \"" KEY_SECRET "\";\n};\n";
    int fd = memfd_create("tsig.key", MFD_CLOEXEC);
    if (fd < 0 || fchmod(fd, 0600) != 0 ||
        write(fd, text, sizeof text - 1) != (ssize_t)(sizeof text - 1))
        abort();
    snprintf(keyfile, sizeof keyfile, "/proc/self/fd/%d", fd);
}

static void done(void *ud, leec_code rc, const char *msg)
{
    (void)rc;
    (void)msg;
    *(bool *)ud = true;
}

static bool is_true(void *ud)
{
    return *(bool *)ud;
}

/* Until *flag: on the fake clock, or on the real one when recording. */
static void drive(leec_ctx *ctx, bool *flag)
{
    if (!record_file) {
        (void)fake_drive_until(ctx, MAX_ITER, is_true, flag);
        return;
    }
    for (int i = 0; i < 300 && !*flag; i++) {
        leec_ctx_poll(ctx, 100);
        leec_ctx_perform(ctx, NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool recorded_once;
    if (!keyfile[0])
        setup();
    if (record_file && recorded_once++)
        return 0; /* libFuzzer runs an empty input first: one recording */
    pos = data;
    end = data + size;
    fake_clock_set(1000000);
    leec_ctx *ctx = leec_ctx_new();
    if (!ctx)
        abort();
    if (!record_file)
        Leec_ctx_set_clock(ctx, fake_clock, NULL);
    fuzz_ctx_log(ctx);
    leec_code rc;
    leec_dns_provider *p = Leec_rfc2136_new(ctx, server, keyfile, &rc);
    leec_dns01_opts o = {.resolver = server,
                         .propagation_timeout_s = 10,
                         .auth_port = auth_port};
    leec_solver *s = p ? Leec_dns01_solver_new(ctx, p, &o, &rc) : NULL;
    if (!s)
        abort();
    leec_challenge ch = {.type = "dns-01",
                         .ident = "www.example.com",
                         .token = "tok",
                         .key_auth = "tok.thumb",
                         .digest = DIGEST};
    void *op = NULL;
    bool presented = false, cleaned = false;
    if (Leec_solver_present(s, &ch, done, &presented, &op) == LEEC_OK) {
        drive(ctx, &presented);
        Leec_solver_cleanup(s, op, true, done, &cleaned);
        drive(ctx, &cleaned);
    }
    /* Again for a wildcard, cleaned up the blocking way once added. */
    ch.ident = "example.com";
    ch.wildcard = true;
    presented = false;
    if ((record_file || pos < end) &&
        Leec_solver_present(s, &ch, done, &presented, &op) == LEEC_OK) {
        drive(ctx, &presented);
        Leec_solver_cleanup(s, op, false, NULL, NULL);
    }
    Leec_solver_free(s);
    /* Queries nobody waits for any more (a run cut short). */
    while (queue) {
        leec_dns_query *q = queue;
        unqueue(q);
        query_free(q);
    }
    Leec_loop_timer_cancel(ctx, queue_timer);
    queue_timer = NULL;
    leec_ctx_free(ctx);
    if (record_file)
        record_write();
    return 0;
}
