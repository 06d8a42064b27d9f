/* The tls-alpn-01 responder (RFC 8737, RFC 8738 for IP addresses).
 *
 * A listening socket on the context's loop; every connection is one TLS
 * handshake driven by loop events, through a BIO of our own that uses
 * send(MSG_NOSIGNAL), so that a peer that goes away cannot raise SIGPIPE in
 * the host process. The ClientHello must offer ALPN "acme-tls/1" (anything
 * else fails the handshake before a certificate is chosen); its SNI selects
 * the live challenge, whose self-signed certificate carries the critical
 * acmeIdentifier extension. After the handshake the connection is closed:
 * the validator needs nothing else. One P-256 key per solver signs every
 * challenge certificate. */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "util/log.h"
#include "net/netaddr.h"
#include "util/log.h"
#include "util/b64url.h"
#include "crypto/crypto.h"
#include "util/loop.h"
#include "solver/providers.h"
#include "solver/tlsalpn01.h"

#define TYPE            "tls-alpn-01"
#define ALPN_PROTO      "acme-tls/1"
#define ACME_ID_OID     "1.3.6.1.5.5.7.1.31"
#define MAX_CONNS       64U
#define CONN_TIMEOUT_MS 10000
#define ACCEPT_PAUSE_MS 1000 /* after EMFILE and the like */
#define MAX_NAME        253
#define CN_MAX          64 /* ub-common-name (RFC 5280) */
#define DAY_S           86400L

typedef struct tlsalpn_solver tlsalpn_solver;

/* A presented challenge. The newest entry for a name wins. */
typedef struct alpn_chall {
    struct alpn_chall *next;
    char *ident; /* the identifier, as the CA names it */
    char *sni;   /* the server name it is asked for (reverse name for IPs) */
    X509 *cert;
} alpn_chall;

typedef struct alpn_conn {
    struct alpn_conn *prev, *next;
    tlsalpn_solver *s;
    int fd;
    SSL *ssl;
    leec_timer *timer;
    unsigned watching; /* the events the loop watches, 0: not watched */
} alpn_conn;

struct tlsalpn_solver {
    leec_ctx *ctx;
    int lfd;
    int port;
    bool lwatched;
    leec_timer *resume; /* re-watches lfd after an accept pause */
    SSL_CTX *sslctx;
    BIO_METHOD *biom;
    leec_key *key; /* made on the first present */
    alpn_chall *challs;
    alpn_conn *conns;
    unsigned nconns;
};

/* ---- the socket BIO (send with MSG_NOSIGNAL) ---- */

static int bio_write(BIO *b, const char *data, size_t len, size_t *written)
{
    const int *fd = BIO_get_data(b);
    ssize_t n = -1;

    BIO_clear_retry_flags(b);
    do
        n = send(*fd, data, len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            BIO_set_retry_write(b);
        return 0;
    }
    *written = (size_t)n;
    return 1;
}

static int bio_read(BIO *b, char *data, size_t len, size_t *readbytes)
{
    const int *fd = BIO_get_data(b);
    ssize_t n = -1;

    BIO_clear_retry_flags(b);
    do
        n = recv(*fd, data, len, 0);
    while (n < 0 && errno == EINTR);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            BIO_set_retry_read(b);
        return 0;
    }
    *readbytes = (size_t)n;
    return 1;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static BIO_METHOD *bio_method(void)
{
    /* No BIO_get_new_index(): OpenSSL has only ~127 of them per process,
     * and the type is informative only. */
    BIO_METHOD *m = BIO_meth_new(BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                 "leec tls-alpn-01 socket");
    if (!m)
        return NULL;
    if (!BIO_meth_set_write_ex(m, bio_write) ||
        !BIO_meth_set_read_ex(m, bio_read) || !BIO_meth_set_ctrl(m, bio_ctrl) ||
        !BIO_meth_set_create(m, bio_create)) {
        BIO_meth_free(m);
        return NULL;
    }
    return m;
}

/* ---- names ---- */

/* Whether sni (as the client sent it, maybe with one trailing dot) is name,
 * ignoring ASCII case. */
static bool name_is(const char *sni, const char *name)
{
    size_t n = strlen(sni);

    if (n > 0 && sni[n - 1] == '.')
        n--;
    return n == strlen(name) && strncasecmp(sni, name, n) == 0;
}

/* RFC 8738 §6: the reverse-mapping name of an address ("4.3.2.1.in-addr.arpa",
 * nibbles for IPv6 "....ip6.arpa"). out: at least 80 bytes. */
static void reverse_name(int family, const unsigned char *a, char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    if (family == AF_INET) {
        for (int i = 3; i >= 0; i--) {
            unsigned v = a[i];
            if (v >= 100)
                out[o++] = (char)('0' + v / 100);
            if (v >= 10)
                out[o++] = (char)('0' + v / 10 % 10);
            out[o++] = (char)('0' + v % 10);
            out[o++] = '.';
        }
        memcpy(out + o, "in-addr.arpa", sizeof "in-addr.arpa");
        return;
    }
    for (int i = 15; i >= 0; i--) {
        out[o++] = hex[a[i] & 0xf];
        out[o++] = '.';
        out[o++] = hex[a[i] >> 4];
        out[o++] = '.';
    }
    memcpy(out + o, "ip6.arpa", sizeof "ip6.arpa");
}

/* A DNS name in A-label form or an address: nothing a certificate or a log
 * line could trip on. */
static bool ident_ok(const char *ident)
{
    size_t n = strlen(ident);

    if (n == 0 || n > MAX_NAME)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = ident[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '.' || c == ':'))
            return false;
    }
    return true;
}

/* ---- the challenge certificate ---- */

static bool add_san(X509 *x, const char *ident, int family,
                    const unsigned char *ip, bool critical)
{
    bool ok = false;
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_STRING *v = NULL;

    if (!gens || !gn)
        goto out;
    if (family != AF_UNSPEC) {
        v = ASN1_OCTET_STRING_new();
        if (!v || !ASN1_OCTET_STRING_set(v, ip, family == AF_INET ? 4 : 16))
            goto out;
        GENERAL_NAME_set0_value(gn, GEN_IPADD, v);
    } else {
        v = ASN1_IA5STRING_new();
        if (!v || !ASN1_STRING_set(v, ident, -1))
            goto out;
        GENERAL_NAME_set0_value(gn, GEN_DNS, v);
    }
    v = NULL;
    if (!sk_GENERAL_NAME_push(gens, gn))
        goto out;
    gn = NULL;
    ok = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, critical ? 1 : 0,
                           X509V3_ADD_DEFAULT) == 1;

out:
    ASN1_STRING_free(v);
    GENERAL_NAME_free(gn);
    GENERAL_NAMES_free(gens);
    return ok;
}

/* The critical acmeIdentifier extension (RFC 8737 §3): its extnValue is
 * the DER of an OCTET STRING holding the 32-byte digest. */
static bool add_acme_id(X509 *x, const unsigned char digest[32])
{
    bool ok = false;
    unsigned char der[34];
    ASN1_OBJECT *obj = OBJ_txt2obj(ACME_ID_OID, 1);
    ASN1_OCTET_STRING *val = ASN1_OCTET_STRING_new();
    X509_EXTENSION *ext = NULL;

    if (!obj || !val)
        goto out;
    der[0] = V_ASN1_OCTET_STRING;
    der[1] = 32;
    memcpy(der + 2, digest, 32);
    if (!ASN1_OCTET_STRING_set(val, der, (int)sizeof der))
        goto out;
    ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 1, val);
    if (!ext)
        goto out;
    ok = X509_add_ext(x, ext, -1) == 1;

out:
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(val);
    ASN1_OBJECT_free(obj);
    return ok;
}

/* family: AF_INET/AF_INET6 with ip for an address, else AF_UNSPEC. */
static leec_code make_cert(EVP_PKEY *pkey, const char *ident, int family,
                           const unsigned char *ip,
                           const unsigned char digest[32], X509 **out)
{
    leec_code rc = LEEC_E_CRYPTO;
    X509 *x = X509_new();
    BIGNUM *bn = NULL;
    X509_NAME *name = NULL;
    unsigned char serial[16];
    bool has_cn = strlen(ident) <= CN_MAX;

    *out = NULL;
    if (!x)
        goto out;
    if (RAND_bytes(serial, (int)sizeof serial) != 1)
        goto out;
    serial[0] &= 0x7f; /* positive */
    serial[0] |= 0x01; /* and never zero */
    bn = BN_bin2bn(serial, (int)sizeof serial, NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
        goto out;
    if (!X509_set_version(x, X509_VERSION_3) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -DAY_S) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 7 * DAY_S) ||
        !X509_set_pubkey(x, pkey))
        goto out;
    /* CN = ident when it fits; a longer name leaves the subject empty, and
     * the SAN is then critical (RFC 5280 §4.2.1.6). */
    name = X509_get_subject_name(x);
    if (has_cn &&
        !X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                                    (const unsigned char *)ident, -1, -1, 0))
        goto out;
    if (!X509_set_issuer_name(x, name))
        goto out;
    if (!add_san(x, ident, family, ip, !has_cn) || !add_acme_id(x, digest))
        goto out;
    if (X509_sign(x, pkey, EVP_sha256()) <= 0)
        goto out;
    *out = x;
    x = NULL;
    rc = LEEC_OK;

out:
    BN_free(bn);
    X509_free(x);
    return rc;
}

/* The digest: ch->digest decoded, else SHA-256 of the key authorization. */
static bool chall_digest(const leec_challenge *ch, unsigned char out[32])
{
    unsigned char *raw = NULL;
    size_t rawlen = 0;
    bool ok = false;

    if (ch->digest &&
        Leec_b64url_decode(ch->digest, strlen(ch->digest), &raw, &rawlen) ==
            LEEC_OK &&
        rawlen == 32) {
        memcpy(out, raw, 32);
        ok = true;
    } else if (ch->key_auth) {
        Leec_sha256(ch->key_auth, strlen(ch->key_auth), out);
        ok = true;
    }
    free(raw);
    return ok;
}

static void chall_free(alpn_chall *c)
{
    if (!c)
        return;
    X509_free(c->cert);
    free(c->ident);
    free(c->sni);
    free(c);
}

static const alpn_chall *chall_find(const tlsalpn_solver *s, const char *sni)
{
    for (const alpn_chall *c = s->challs; c; c = c->next)
        if (name_is(sni, c->sni) || name_is(sni, c->ident))
            return c;
    return NULL;
}

/* ---- OpenSSL callbacks ---- */

/* Before anything else: a ClientHello without ALPN never gets a
 * certificate (RFC 8737 §3: only for acme-tls/1). */
static int on_client_hello(SSL *ssl, int *al, void *arg)
{
    const unsigned char *ext = NULL;
    size_t len = 0;

    (void)arg;
    if (SSL_client_hello_get0_ext(
            ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &ext,
            &len) != 1) {
        *al = SSL_AD_NO_APPLICATION_PROTOCOL;
        return SSL_CLIENT_HELLO_ERROR;
    }
    return SSL_CLIENT_HELLO_SUCCESS;
}

/* The SNI picks the challenge: its certificate and the solver's key. */
static int on_servername(SSL *ssl, int *al, void *arg)
{
    tlsalpn_solver *s = arg;
    const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    const alpn_chall *c = sni ? chall_find(s, sni) : NULL;

    if (!c) {
        Leec_log(s->ctx, LEEC_LOG_DEBUG,
                 "tls-alpn-01: no challenge for server name %s",
                 !sni            ? "(none)"
                 : ident_ok(sni) ? sni
                                 : "(malformed)");
        *al = SSL_AD_UNRECOGNIZED_NAME;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    if (SSL_use_certificate(ssl, c->cert) != 1 ||
        SSL_use_PrivateKey(ssl, Leec_key_evp(s->key)) != 1) {
        *al = SSL_AD_INTERNAL_ERROR;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    Leec_log(s->ctx, LEEC_LOG_DEBUG,
             "tls-alpn-01: presenting the validation certificate for %s",
             c->ident);
    return SSL_TLSEXT_ERR_OK;
}

/* acme-tls/1 or nothing (no_application_protocol). */
static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned int inlen, void *arg)
{
    const size_t plen = sizeof ALPN_PROTO - 1;
    size_t i = 0;

    (void)ssl;
    (void)arg;
    while (i < inlen) {
        size_t l = in[i];
        if (l == 0 || l > inlen - i - 1)
            break;
        if (l == plen && memcmp(in + i + 1, ALPN_PROTO, plen) == 0) {
            *out = in + i + 1;
            *outlen = (unsigned char)l;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + l;
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static SSL_CTX *make_ssl_ctx(tlsalpn_solver *s)
{
    SSL_CTX *c = SSL_CTX_new(TLS_server_method());

    if (!c)
        return NULL;
    /* Every handshake must be a full one that shows the certificate: no
     * tickets, no session cache, no renegotiation. */
    if (SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_num_tickets(c, 0) != 1) {
        SSL_CTX_free(c);
        return NULL;
    }
    SSL_CTX_set_options(c, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_client_hello_cb(c, on_client_hello, s);
    SSL_CTX_set_tlsext_servername_callback(c, on_servername);
    SSL_CTX_set_tlsext_servername_arg(c, s);
    SSL_CTX_set_alpn_select_cb(c, on_alpn, s);
    return c;
}

/* ---- connections ---- */

static void conn_close(alpn_conn *c)
{
    tlsalpn_solver *s = c->s;
    leec_ctx *ctx = s->ctx;

    if (c->watching)
        Leec_loop_unwatch(ctx, c->fd);
    Leec_loop_timer_cancel(ctx, c->timer);
    SSL_free(c->ssl); /* frees the BIO too */
    if (c->fd >= 0)
        close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    free(c);
    ERR_clear_error(); /* nothing of ours stays on the thread's queue */
}

static void on_conn(void *userdata, int fd, unsigned events);

static void conn_step(alpn_conn *c)
{
    leec_ctx *ctx = c->s->ctx;
    unsigned want = 0;
    int r = 0;

    ERR_clear_error();
    r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        /* close_notify, best effort; the validator has what it came for. */
        SSL_shutdown(c->ssl);
        conn_close(c);
        return;
    }
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        want = EPOLLIN;
        break;
    case SSL_ERROR_WANT_WRITE:
        want = EPOLLOUT;
        break;
    default: {
        char why[256] = "connection closed";
        unsigned long e = ERR_peek_last_error();
        if (e)
            ERR_error_string_n(e, why, sizeof why);
        Leec_log(ctx, LEEC_LOG_DEBUG, "tls-alpn-01: handshake failed: %s", why);
        conn_close(c);
        return;
    }
    }
    if (want != c->watching) {
        if (Leec_loop_watch(ctx, c->fd, want, on_conn, c) != LEEC_OK) {
            conn_close(c);
            return;
        }
        c->watching = want;
    }
}

static void on_conn(void *userdata, int fd, unsigned events)
{
    (void)fd;
    (void)events; /* errors and hang-ups surface in the handshake */
    conn_step(userdata);
}

static void on_conn_timeout(void *userdata)
{
    alpn_conn *c = userdata;

    c->timer = NULL; /* it has run */
    Leec_log(c->s->ctx, LEEC_LOG_DEBUG, "tls-alpn-01: handshake timed out");
    conn_close(c);
}

/* Takes fd (closed on failure). */
static void conn_start(tlsalpn_solver *s, int fd)
{
    leec_ctx *ctx = s->ctx;
    alpn_conn *c = calloc(1, sizeof *c);
    BIO *bio = NULL;

    if (!c) {
        close(fd);
        return;
    }
    c->s = s;
    c->fd = fd;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;

    c->ssl = SSL_new(s->sslctx);
    bio = BIO_new(s->biom);
    c->timer = Leec_loop_timer(ctx, Leec_now_ms(ctx) + CONN_TIMEOUT_MS,
                               on_conn_timeout, c);
    if (!c->ssl || !bio || !c->timer) {
        BIO_free(bio);
        conn_close(c);
        return;
    }
    BIO_set_data(bio, &c->fd);
    SSL_set_bio(c->ssl, bio, bio); /* one reference, taken by the SSL */
    SSL_set_accept_state(c->ssl);
    conn_step(c);
}

static void on_listen(void *userdata, int fd, unsigned events);

static bool watch_listener(tlsalpn_solver *s)
{
    if (Leec_loop_watch(s->ctx, s->lfd, EPOLLIN, on_listen, s) != LEEC_OK)
        return false;
    s->lwatched = true;
    return true;
}

static void on_resume(void *userdata)
{
    tlsalpn_solver *s = userdata;

    s->resume = NULL;
    if (!watch_listener(s))
        Leec_log(s->ctx, LEEC_LOG_ERROR,
                 "tls-alpn-01: cannot watch the listening socket");
}

/* Out of descriptors or memory: stop accepting for a while rather than
 * spin on a listening socket that stays readable. */
static void pause_accept(tlsalpn_solver *s)
{
    leec_ctx *ctx = s->ctx;

    if (s->resume)
        return;
    s->resume =
        Leec_loop_timer(ctx, Leec_now_ms(ctx) + ACCEPT_PAUSE_MS, on_resume, s);
    if (!s->resume)
        return; /* keep watching: better spinning than deaf */
    Leec_loop_unwatch(ctx, s->lfd);
    s->lwatched = false;
}

static void on_listen(void *userdata, int fd, unsigned events)
{
    tlsalpn_solver *s = userdata;

    (void)events;
    for (;;) {
        int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM)
                pause_accept(s);
            return;
        }
        if (s->nconns >= MAX_CONNS) {
            close(c);
            continue;
        }
        conn_start(s, c);
    }
}

/* ---- listening ---- */

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;

    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

/* ---- the solver ---- */

static leec_status tlsalpn_present(void *impl, const leec_challenge *ch,
                                   leec_solver_done_fn done, void *userdata,
                                   void **op)
{
    tlsalpn_solver *s = impl;
    leec_ctx *ctx = s->ctx;
    leec_code rc = LEEC_E_INVALID_ARG;
    alpn_chall *c = NULL;
    unsigned char digest[32];
    unsigned char ip[16];
    char rev[80];
    int family = AF_UNSPEC;

    if (!ch || !op || !ch->type || strcmp(ch->type, TYPE) != 0 || !ch->ident ||
        !ident_ok(ch->ident)) {
        Leec_log(ctx, LEEC_LOG_ERROR,
                 "tls-alpn-01: not a challenge it can "
                 "answer");
        goto out;
    }
    *op = NULL;
    if (ch->wildcard) {
        /* RFC 8737 §3: never for wildcard names. */
        Leec_log(ctx, LEEC_LOG_ERROR,
                 "tls-alpn-01 cannot validate the wildcard *.%s", ch->ident);
        goto out;
    }
    if (!chall_digest(ch, digest)) {
        Leec_log(ctx, LEEC_LOG_ERROR,
                 "tls-alpn-01: no key authorization for %s", ch->ident);
        goto out;
    }
    if (inet_pton(AF_INET, ch->ident, ip) == 1)
        family = AF_INET;
    else if (inet_pton(AF_INET6, ch->ident, ip) == 1)
        family = AF_INET6;

    rc = LEEC_E_CRYPTO;
    if (!s->key && Leec_key_generate(LEEC_KEY_EC256, &s->key) != LEEC_OK)
        goto out;

    rc = LEEC_E_NOMEM;
    c = calloc(1, sizeof *c);
    if (!c)
        goto out;
    if (family != AF_UNSPEC)
        reverse_name(family, ip, rev);
    c->ident = strdup(ch->ident);
    c->sni = strdup(family != AF_UNSPEC ? rev : ch->ident);
    if (!c->ident || !c->sni)
        goto out;
    rc = make_cert(Leec_key_evp(s->key), ch->ident, family, ip, digest,
                   &c->cert);
    if (rc != LEEC_OK) {
        Leec_log(ctx, LEEC_LOG_ERROR,
                 "tls-alpn-01: cannot make the certificate for %s", ch->ident);
        goto out;
    }
    c->next = s->challs;
    s->challs = c;
    *op = c;
    c = NULL;
    Leec_log(ctx, LEEC_LOG_DEBUG, "tls-alpn-01: answering for %s on port %d",
             ch->ident, s->port);
    rc = LEEC_OK;

out:
    chall_free(c);
    ERR_clear_error();
    (void)done;
    (void)userdata;
    return rc == LEEC_OK ? LEEC_STATUS_DONE : LEEC_STATUS_FAILED;
}

static leec_status tlsalpn_cleanup(void *impl, void *op, bool valid,
                                   leec_solver_done_fn done, void *userdata)
{
    tlsalpn_solver *s = impl;

    (void)valid;
    (void)done;
    (void)userdata;
    for (alpn_chall **pp = &s->challs; *pp; pp = &(*pp)->next) {
        if (*pp == op) {
            alpn_chall *c = *pp;
            *pp = c->next;
            chall_free(c);
            break;
        }
    }
    return LEEC_STATUS_DONE;
}

static void tlsalpn_destroy(void *impl)
{
    tlsalpn_solver *s = impl;
    leec_ctx *ctx = NULL;

    if (!s)
        return;
    ctx = s->ctx;
    while (s->conns)
        conn_close(s->conns);
    while (s->challs) {
        alpn_chall *c = s->challs;
        s->challs = c->next;
        chall_free(c);
    }
    Leec_loop_timer_cancel(ctx, s->resume);
    if (s->lfd >= 0) {
        if (s->lwatched)
            Leec_loop_unwatch(ctx, s->lfd);
        close(s->lfd);
    }
    SSL_CTX_free(s->sslctx);
    BIO_meth_free(s->biom);
    Leec_key_free(s->key);
    free(s);
    ERR_clear_error();
}

static const struct leec_solver_ops tlsalpn_ops = {
    .type = TYPE,
    .name = "tls-alpn-01 responder",
    .present = tlsalpn_present,
    .cleanup = tlsalpn_cleanup,
    .destroy = tlsalpn_destroy,
};

leec_solver *Leec_tlsalpn01_solver_new(leec_ctx *ctx, const char *addr,
                                       leec_code *err)
{
    leec_code rc = LEEC_E_INVALID_ARG;
    tlsalpn_solver *s = NULL;
    leec_solver *ret = NULL;
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    uint16_t port = 0;

    if (!ctx)
        goto out;
    rc = Leec_parse_listen_addr(addr, &ss, &sslen, &port);
    if (rc != LEEC_OK) {
        Leec_log(ctx, LEEC_LOG_ERROR,
                 "tls-alpn-01: bad listen address \"%.100s\" "
                 "(PORT, A.B.C.D:PORT or [V6]:PORT)",
                 addr ? addr : "");
        goto out;
    }

    rc = LEEC_E_NOMEM;
    s = calloc(1, sizeof *s);
    if (!s)
        goto out;
    s->ctx = ctx;
    s->lfd = -1;

    rc = LEEC_E_CRYPTO;
    s->biom = bio_method();
    s->sslctx = s->biom ? make_ssl_ctx(s) : NULL;
    if (!s->sslctx) {
        Leec_log(ctx, LEEC_LOG_ERROR, "tls-alpn-01: cannot set up TLS");
        goto out;
    }

    rc = Leec_listen_open(&ss, sslen, port, (int)MAX_CONNS, &s->lfd);
    if (rc != LEEC_OK) {
        char buf[128];
        /* LEEC_E_ADDR_IN_USE says it all; otherwise errno is the why. */
        if (rc != LEEC_E_ADDR_IN_USE)
            Leec_log(ctx, LEEC_LOG_ERROR,
                     "tls-alpn-01: cannot listen on %s: %s", addr,
                     strerror_r(errno, buf, sizeof buf));
        goto out;
    }
    rc = LEEC_E_IO;
    s->port = bound_port(s->lfd);
    if (s->port < 0 || !watch_listener(s)) {
        Leec_log(ctx, LEEC_LOG_ERROR,
                 "tls-alpn-01: cannot watch the socket on %s", addr);
        goto out;
    }
    ret = Leec_solver_new(ctx, &tlsalpn_ops, s, &rc); /* s is taken */
    s = NULL;

out:
    if (s)
        tlsalpn_destroy(s);
    ERR_clear_error();
    if (err)
        *err = rc;
    return ret;
}

int Leec_tlsalpn01_solver_port(const leec_solver *s)
{
    const tlsalpn_solver *t = Leec_solver_impl(s, &tlsalpn_ops);
    return t ? t->port : -1;
}

unsigned Leec_tlsalpn01_solver_connections(const leec_solver *s)
{
    const tlsalpn_solver *t = Leec_solver_impl(s, &tlsalpn_ops);
    return t ? t->nconns : 0;
}
