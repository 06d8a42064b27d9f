/*
 * The RFC 2136 dns-01 provider: the TXT record is added and removed by DNS
 * UPDATE messages signed with TSIG (RFC 8945), sent to one server (usually
 * the zone's primary). The key comes from a file in BIND's format, as
 * written by `tsig-keygen -a hmac-sha256 NAME`:
 *
 *     key "NAME" {
 *         algorithm hmac-sha256;
 *         secret "BASE64";
 *     };
 *
 * Every answer must carry a TSIG that verifies with the key (else it could
 * be forged by anyone on the path); a server that rejects our signature
 * answers unsigned with the TSIG error set, which is reported as such.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "util/log.h"
#include "net/dns.h"
#include "util/log.h"
#include "solver/providers.h"

#define KEYFILE_MAX     (64 * 1024)
#define UPDATE_TTL      60
#define TSIG_FUDGE      300
#define ADD_TIMEOUT_MS  10000
#define SYNC_TIMEOUT_MS 3000
#define UDP_MAX         512 /* larger messages go over TCP */
#define WHY_MAX         320

/* TSIG extended errors (RFC 8945 §5.2, in the TSIG record's Error field). */
#define TSIG_BADSIG   16
#define TSIG_BADKEY   17
#define TSIG_BADTIME  18
#define TSIG_BADTRUNC 22

typedef struct rfc2136 rfc2136;

/* One record: the op handed to dns01, and the UPDATE in flight for it. */
typedef struct rec {
    rfc2136 *p;
    char *zone;
    char *fqdn;
    char *value;
    /* in flight */
    leec_dns_query *q;
    ldns_rdf *mac; /* the request's MAC, to verify the answer */
    bool removing; /* the UPDATE in flight deletes the record */
    bool refused;  /* the server answered the add with a refusal:
                      there is nothing to delete */
    leec_solver_done_fn done;
    void *ud;
    struct rec *prev, *next; /* the provider's list of UPDATEs in flight */
} rec;

struct rfc2136 {
    leec_ctx *ctx;
    char *server; /* as given, for messages */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char *key_name;  /* absolute, lower case: "name." */
    const char *alg; /* ldns's name: "hmac-sha256." */
    char *secret;    /* base64; secret */
    rec *inflight;
};

/* ------------------------------------------------------------------ */
/* The key file                                                         */

typedef enum { T_EOF, T_WORD, T_STRING, T_LBRACE, T_RBRACE, T_SEMI, T_ERR } tok;

typedef struct lexer {
    const char *s;
    size_t n, i;
    unsigned line;
    /* the last token */
    const char *t;
    size_t tlen;
    unsigned tline;
} lexer;

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
}

/* Skips blanks and the three comment styles BIND accepts. false on an
 * unterminated block comment. */
static bool skip_blank(lexer *lx)
{
    while (lx->i < lx->n) {
        char c = lx->s[lx->i];
        char d = lx->i + 1 < lx->n ? lx->s[lx->i + 1] : '\0';
        if (is_space(c)) {
            if (c == '\n')
                lx->line++;
            lx->i++;
        } else if (c == '#' || (c == '/' && d == '/')) {
            while (lx->i < lx->n && lx->s[lx->i] != '\n')
                lx->i++;
        } else if (c == '/' && d == '*') {
            lx->i += 2;
            for (;;) {
                if (lx->i + 1 >= lx->n)
                    return false;
                if (lx->s[lx->i] == '*' && lx->s[lx->i + 1] == '/') {
                    lx->i += 2;
                    break;
                }
                if (lx->s[lx->i] == '\n')
                    lx->line++;
                lx->i++;
            }
        } else {
            break;
        }
    }
    return true;
}

static tok lex(lexer *lx, char *why, size_t whysz)
{
    if (!skip_blank(lx)) {
        snprintf(why, whysz, "unterminated /* comment");
        return T_ERR;
    }
    lx->tline = lx->line;
    lx->t = lx->s + lx->i;
    lx->tlen = 0;
    if (lx->i >= lx->n)
        return T_EOF;
    char c = lx->s[lx->i];
    if (c == '\0') {
        snprintf(why, whysz, "NUL byte in the file");
        return T_ERR;
    }
    if (c == '{' || c == '}' || c == ';') {
        lx->i++;
        lx->tlen = 1;
        return c == '{' ? T_LBRACE : c == '}' ? T_RBRACE : T_SEMI;
    }
    if (c == '"') {
        size_t start = ++lx->i;
        while (lx->i < lx->n && lx->s[lx->i] != '"') {
            char x = lx->s[lx->i];
            if (x == '\\' || x == '\n' || x == '\0') {
                snprintf(why, whysz, "%s in a quoted string",
                         x == '\\' ? "backslash escape" : "line break or NUL");
                return T_ERR;
            }
            lx->i++;
        }
        if (lx->i >= lx->n) {
            snprintf(why, whysz, "unterminated quoted string");
            return T_ERR;
        }
        lx->t = lx->s + start;
        lx->tlen = lx->i - start;
        lx->i++; /* the closing quote */
        return T_STRING;
    }
    size_t start = lx->i;
    while (lx->i < lx->n) {
        char x = lx->s[lx->i];
        if (is_space(x) || x == '{' || x == '}' || x == ';' || x == '"' ||
            x == '#' || x == '\0')
            break;
        lx->i++;
    }
    lx->t = lx->s + start;
    lx->tlen = lx->i - start;
    return T_WORD;
}

static bool tok_is(const lexer *lx, const char *word)
{
    return lx->tlen == strlen(word) && strncasecmp(lx->t, word, lx->tlen) == 0;
}

/* A token safe to show in a message: short and made of name characters
 * only (never a secret: those hold digits, capitals, '+', '/', '='). */
static bool tok_showable(const lexer *lx)
{
    if (lx->tlen == 0 || lx->tlen > 32)
        return false;
    for (size_t i = 0; i < lx->tlen; i++) {
        char c = lx->t[i];
        if (!((c >= 'a' && c <= 'z') || c == '-' || c == '_'))
            return false;
    }
    return true;
}

/* Copies an algorithm name for messages: printable, at most 40 bytes. */
static void show_name(char *out, size_t outsz, const char *s, size_t len)
{
    size_t j = 0;
    for (size_t i = 0; i < len && j + 1 < outsz && i < 40; i++)
        out[j++] = (s[i] > 0x20 && s[i] < 0x7f) ? s[i] : '?';
    out[j] = '\0';
}

static bool b64_ok(const char *s, size_t len)
{
    size_t pad = 0;
    if (len == 0 || len % 4 != 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '=') {
            pad++;
            continue;
        }
        if (pad)
            return false; /* data after padding */
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '+' || c == '/'))
            return false;
    }
    return pad <= 2 && len - pad > 1;
}

/* The algorithm's name as ldns signs with it, or NULL with why set. */
static const char *map_alg(const char *s, size_t len, char *why, size_t whysz)
{
    char name[48];
    show_name(name, sizeof name, s, len);
    size_t n = strlen(name);
    if (n && name[n - 1] == '.')
        name[--n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (name[i] >= 'A' && name[i] <= 'Z')
            name[i] = (char)(name[i] - 'A' + 'a');
    if (strcmp(name, "hmac-sha256") == 0)
        return "hmac-sha256.";
    if (strcmp(name, "hmac-sha512") == 0)
        return "hmac-sha512.";
    if (strcmp(name, "hmac-sha1") == 0)
        return "hmac-sha1.";
    if (strcmp(name, "hmac-sha384") == 0 || strcmp(name, "hmac-sha224") == 0)
        snprintf(why, whysz,
                 "TSIG algorithm %s is not supported (the DNS library cannot "
                 "sign with it); use hmac-sha256 (tsig-keygen's default), "
                 "hmac-sha512 or hmac-sha1",
                 name);
    else if (strcmp(name, "hmac-md5") == 0 ||
             strcmp(name, "hmac-md5.sig-alg.reg.int") == 0)
        snprintf(why, whysz,
                 "TSIG algorithm %s is obsolete and refused; use hmac-sha256 "
                 "(tsig-keygen's default), hmac-sha512 or hmac-sha1",
                 name);
    else
        snprintf(why, whysz,
                 "unknown TSIG algorithm '%s'; supported: hmac-sha256 "
                 "(the default), hmac-sha512, hmac-sha1",
                 name);
    return NULL;
}

typedef struct tsig_key {
    char *name;      /* "name.", lower case */
    const char *alg; /* ldns's spelling */
    char *secret;    /* base64 */
} tsig_key;

static void tsig_key_clear(tsig_key *k)
{
    free(k->name);
    if (k->secret) {
        explicit_bzero(k->secret, strlen(k->secret));
        free(k->secret);
    }
    *k = (tsig_key){0};
}

/* Parses the text of a key file. On failure, why says what is wrong and on
 * which line (never quoting the secret). */
static leec_code parse_key(const char *text, size_t len, tsig_key *out,
                           char *why, size_t whysz)
{
    leec_code rc = LEEC_E_INVALID_ARG;
    lexer lx = {.s = text, .n = len, .line = 1};
    const char *name = NULL, *alg = NULL, *secret = NULL;
    size_t name_len = 0, alg_len = 0, secret_len = 0;
    unsigned key_line = 0;
    char emsg[200] = "";
    tok t;

    *out = (tsig_key){0};
    t = lex(&lx, emsg, sizeof emsg);
    if (t == T_ERR)
        goto bad;
    if (t == T_EOF) {
        snprintf(emsg, sizeof emsg, "no key in the file");
        goto bad;
    }
    if (t != T_WORD || !tok_is(&lx, "key")) {
        snprintf(emsg, sizeof emsg, "expected 'key'");
        goto bad;
    }
    key_line = lx.tline;
    t = lex(&lx, emsg, sizeof emsg);
    if (t == T_ERR)
        goto bad;
    if ((t != T_STRING && t != T_WORD) || lx.tlen == 0) {
        snprintf(emsg, sizeof emsg, "expected the key's name after 'key'");
        goto bad;
    }
    name = lx.t;
    name_len = lx.tlen;
    if ((t = lex(&lx, emsg, sizeof emsg)) != T_LBRACE) {
        if (t != T_ERR)
            snprintf(emsg, sizeof emsg, "expected '{' after the key's name");
        goto bad;
    }
    for (;;) {
        t = lex(&lx, emsg, sizeof emsg);
        if (t == T_ERR)
            goto bad;
        if (t == T_RBRACE)
            break;
        if (t == T_EOF) {
            snprintf(emsg, sizeof emsg, "missing '}' closing the key");
            goto bad;
        }
        if (t == T_SEMI)
            continue; /* an empty statement */
        bool is_alg = t == T_WORD && tok_is(&lx, "algorithm");
        bool is_secret = t == T_WORD && tok_is(&lx, "secret");
        if (!is_alg && !is_secret) {
            if (tok_showable(&lx))
                snprintf(emsg, sizeof emsg,
                         "unknown statement '%.*s' in the "
                         "key (expected algorithm or secret)",
                         (int)lx.tlen, lx.t);
            else
                snprintf(emsg, sizeof emsg,
                         "unexpected text in the key "
                         "(expected algorithm or secret)");
            goto bad;
        }
        if ((is_alg && alg) || (is_secret && secret)) {
            snprintf(emsg, sizeof emsg, "%s given twice",
                     is_alg ? "algorithm" : "secret");
            goto bad;
        }
        t = lex(&lx, emsg, sizeof emsg);
        if (t == T_ERR)
            goto bad;
        if ((t != T_WORD && t != T_STRING) || lx.tlen == 0) {
            snprintf(emsg, sizeof emsg, "expected a value after '%s'",
                     is_alg ? "algorithm" : "secret");
            goto bad;
        }
        if (is_alg) {
            alg = lx.t;
            alg_len = lx.tlen;
        } else {
            secret = lx.t;
            secret_len = lx.tlen;
        }
        t = lex(&lx, emsg, sizeof emsg);
        if (t != T_SEMI) {
            if (t != T_ERR)
                snprintf(emsg, sizeof emsg, "expected ';' after the %s",
                         is_alg ? "algorithm" : "secret");
            goto bad;
        }
    }
    t = lex(&lx, emsg, sizeof emsg);
    if (t != T_SEMI) {
        if (t != T_ERR)
            snprintf(emsg, sizeof emsg, "expected ';' after the key's '}'");
        goto bad;
    }
    t = lex(&lx, emsg, sizeof emsg);
    if (t != T_EOF) {
        if (t == T_WORD && tok_is(&lx, "key"))
            snprintf(emsg, sizeof emsg,
                     "more than one key in the file "
                     "(give a file with exactly one)");
        else if (t != T_ERR)
            snprintf(emsg, sizeof emsg, "unexpected text after the key");
        goto bad;
    }

    /* The statements are all there: check their values. */
    lx.tline = key_line;
    if (!secret) {
        snprintf(emsg, sizeof emsg, "the key has no secret");
        goto bad;
    }
    if (!b64_ok(secret, secret_len)) {
        snprintf(emsg, sizeof emsg, "the key's secret is not valid base64");
        goto bad;
    }
    out->alg = alg ? map_alg(alg, alg_len, emsg, sizeof emsg) : "hmac-sha256.";
    if (!out->alg)
        goto bad;
    {
        bool dot = name[name_len - 1] == '.';
        out->name = malloc(name_len + 2);
        if (!out->name) {
            rc = LEEC_E_NOMEM;
            goto out;
        }
        for (size_t i = 0; i < name_len; i++) {
            char c = name[i];
            out->name[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
        out->name[name_len] = '.';
        out->name[name_len + (dot ? 0 : 1)] = '\0';
        ldns_rdf *dn = NULL;
        if (ldns_str2rdf_dname(&dn, out->name) != LDNS_STATUS_OK ||
            strcmp(out->name, ".") == 0) {
            ldns_rdf_deep_free(dn);
            snprintf(emsg, sizeof emsg,
                     "the key's name is not a valid DNS "
                     "name");
            goto bad;
        }
        ldns_rdf_deep_free(dn);
    }
    out->secret = strndup(secret, secret_len);
    if (!out->secret) {
        rc = LEEC_E_NOMEM;
        goto out;
    }
    rc = LEEC_OK;
    goto out;

bad:
    snprintf(why, whysz, "line %u: %s", lx.tline, emsg);
    rc = LEEC_E_INVALID_ARG;
out:
    if (rc != LEEC_OK)
        tsig_key_clear(out);
    return rc;
}

/* Reads the key file (bounded, regular files only), warns when others may
 * read it, and parses it. The file's bytes are wiped before being freed. */
static leec_code load_key(leec_ctx *ctx, const char *path, tsig_key *key)
{
    leec_code rc = LEEC_E_IO;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    char why[WHY_MAX];
    struct stat st;
    int fd = -1;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        Leec_log(ctx, LEEC_LOG_ERROR,
                 "rfc2136: cannot open the TSIG key "
                 "file %s: %s",
                 path, strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        Leec_log(ctx, LEEC_LOG_ERROR,
                 "rfc2136: the TSIG key file %s is not "
                 "a regular file",
                 path);
        goto out;
    }
    if (st.st_size > KEYFILE_MAX) {
        Leec_log(ctx, LEEC_LOG_ERROR,
                 "rfc2136: the TSIG key file %s is "
                 "larger than %d bytes",
                 path, KEYFILE_MAX);
        rc = LEEC_E_INVALID_ARG;
        goto out;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        Leec_log(ctx, LEEC_LOG_WARN,
                 "rfc2136: the TSIG key file %s is "
                 "accessible by group or others (chmod 600 it)",
                 path);
    /* One allocation, never grown: no copy of the secret left behind. */
    cap = KEYFILE_MAX + 1;
    buf = malloc(cap);
    if (!buf) {
        rc = LEEC_E_NOMEM;
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            Leec_log(ctx, LEEC_LOG_ERROR,
                     "rfc2136: cannot read the TSIG key "
                     "file %s: %s",
                     path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len == cap) {
            Leec_log(ctx, LEEC_LOG_ERROR,
                     "rfc2136: the TSIG key file %s is "
                     "larger than %d bytes",
                     path, KEYFILE_MAX);
            rc = LEEC_E_INVALID_ARG;
            goto out;
        }
    }
    rc = parse_key(buf, len, key, why, sizeof why);
    if (rc == LEEC_E_INVALID_ARG)
        Leec_log(ctx, LEEC_LOG_ERROR, "rfc2136: TSIG key file %s, %s", path,
                 why);

out:
    if (buf) {
        explicit_bzero(buf, cap);
        free(buf);
    }
    if (fd >= 0)
        close(fd);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Messages                                                             */

/* The TXT record (class IN to add, NONE to delete it alone: RFC 2136
 * §2.5.1 and §2.5.4). */
static ldns_rr *txt_rr(const char *fqdn, const char *value, bool del)
{
    ldns_rr *rr = NULL;
    ldns_rdf *owner = NULL, *txt = NULL;
    unsigned char data[256];
    size_t vlen = strlen(value);

    if (vlen == 0 || vlen > 255)
        goto out;
    data[0] = (unsigned char)vlen;
    memcpy(data + 1, value, vlen);
    if (ldns_str2rdf_dname(&owner, fqdn) != LDNS_STATUS_OK)
        goto out;
    txt = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_STR, vlen + 1, data);
    rr = ldns_rr_new();
    if (!txt || !rr)
        goto out;
    ldns_rr_set_owner(rr, owner);
    owner = NULL;
    ldns_rr_set_type(rr, LDNS_RR_TYPE_TXT);
    ldns_rr_set_class(rr, del ? LDNS_RR_CLASS_NONE : LDNS_RR_CLASS_IN);
    ldns_rr_set_ttl(rr, del ? 0 : UPDATE_TTL);
    if (!ldns_rr_push_rdf(rr, txt))
        goto out;
    txt = NULL;
    return rr;

out:
    ldns_rdf_deep_free(owner);
    ldns_rdf_deep_free(txt);
    ldns_rr_free(rr);
    return NULL;
}

/* The signed UPDATE for r, in wire format (*wire: free()), and its MAC. */
static leec_code build_update(const rfc2136 *p, const rec *r, bool del,
                              unsigned char **wire, size_t *len, ldns_rdf **mac)
{
    leec_code rc = LEEC_E_NOMEM;
    ldns_rdf *zone = NULL;
    ldns_rr *rr = NULL;
    ldns_rr_list *up = NULL;
    ldns_pkt *pkt = NULL;
    uint8_t *w = NULL;
    size_t wlen = 0;

    *wire = NULL;
    *mac = NULL;
    if (ldns_str2rdf_dname(&zone, r->zone) != LDNS_STATUS_OK) {
        rc = LEEC_E_INVALID_ARG;
        goto out;
    }
    rr = txt_rr(r->fqdn, r->value, del);
    up = ldns_rr_list_new();
    if (!rr || !up)
        goto out;
    if (!ldns_rr_list_push_rr(up, rr))
        goto out;
    rr = NULL;
    pkt = ldns_update_pkt_new(zone, LDNS_RR_CLASS_IN, NULL, up, NULL);
    if (!pkt)
        goto out;
    zone = NULL; /* the packet's now */
    ldns_pkt_set_rd(pkt, false);
    ldns_pkt_set_random_id(pkt);
    if (ldns_pkt_tsig_sign(pkt, p->key_name, p->secret, TSIG_FUDGE, p->alg,
                           NULL) != LDNS_STATUS_OK ||
        !ldns_pkt_tsig(pkt)) {
        rc = LEEC_E_CRYPTO;
        goto out;
    }
    *mac = ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(pkt), 3));
    if (!*mac)
        goto out;
    if (ldns_pkt2wire(&w, pkt, &wlen) != LDNS_STATUS_OK)
        goto out;
    *wire = w;
    *len = wlen;
    w = NULL;
    rc = LEEC_OK;

out:
    if (rc != LEEC_OK) {
        ldns_rdf_deep_free(*mac);
        *mac = NULL;
    }
    free(w);
    ldns_pkt_free(pkt);
    ldns_rr_list_deep_free(up);
    ldns_rr_free(rr);
    ldns_rdf_deep_free(zone);
    return rc;
}

static const char *rcode_text(unsigned rcode, const char **hint)
{
    *hint = "";
    switch (rcode) {
    case LDNS_RCODE_FORMERR:
        *hint = " (the server could not parse the update)";
        return "FORMERR";
    case LDNS_RCODE_SERVFAIL:
        *hint = " (see the server's log)";
        return "SERVFAIL";
    case LDNS_RCODE_NXDOMAIN:
        return "NXDOMAIN";
    case LDNS_RCODE_NOTIMPL:
        *hint = " (dynamic updates not supported)";
        return "NOTIMP";
    case LDNS_RCODE_REFUSED:
        *hint = " (updates not allowed for this key or zone? see "
                "allow-update / update-policy)";
        return "REFUSED";
    case LDNS_RCODE_YXDOMAIN:
        return "YXDOMAIN";
    case LDNS_RCODE_YXRRSET:
        return "YXRRSET";
    case LDNS_RCODE_NXRRSET:
        return "NXRRSET";
    case LDNS_RCODE_NOTAUTH:
        *hint = " (TSIG key rejected, or the server is not authoritative "
                "for the zone?)";
        return "NOTAUTH";
    case LDNS_RCODE_NOTZONE:
        *hint = " (the name is not inside the zone)";
        return "NOTZONE";
    default:
        return NULL;
    }
}

/* Whether the answer's TSIG names our algorithm (alg: ldns's name), the one
 * the answer must be signed with (RFC 8945 §5.3). Checked before
 * ldns_pkt_tsig_verify, which leaks the packet's TSIG record when it
 * cannot compute the MAC, as for an algorithm it does not know (ldns
 * 1.8.3): a server, or a forger matching our query, could make us leak at
 * every answer. */
static bool same_alg(const ldns_rr *tsig, const char *alg)
{
    const ldns_rdf *have = ldns_rr_rdf(tsig, 0);
    ldns_rdf *want = ldns_dname_new_frm_str(alg);
    bool same = want && have &&
                ldns_rdf_get_type(have) == LDNS_RDF_TYPE_DNAME &&
                ldns_dname_compare(have, want) == 0;
    ldns_rdf_deep_free(want);
    return same;
}

/* Judges the server's answer to an UPDATE whose MAC was mac. LEEC_OK when
 * it is signed by our key and says NOERROR; else why says what happened. */
static leec_code check_answer(const rfc2136 *p, const unsigned char *wire,
                              size_t len, const ldns_rdf *mac, char *why,
                              size_t whysz)
{
    leec_code rc = LEEC_E_PROTOCOL;
    ldns_pkt *ans = NULL;
    const char *hint = "";
    const char *name;
    char num[16];

    if (ldns_wire2pkt(&ans, wire, len) != LDNS_STATUS_OK) {
        snprintf(why, whysz, "malformed answer from the DNS server %s",
                 p->server);
        goto out;
    }
    if (!ldns_pkt_qr(ans) || ldns_pkt_get_opcode(ans) != LDNS_PACKET_UPDATE) {
        snprintf(why, whysz,
                 "the DNS server %s did not answer with an "
                 "UPDATE response",
                 p->server);
        goto out;
    }
    unsigned rcode = ldns_pkt_get_rcode(ans);
    name = rcode_text(rcode, &hint);
    if (!name) {
        snprintf(num, sizeof num, "RCODE %u", rcode);
        name = num;
    }
    const ldns_rr *tsig = ldns_pkt_tsig(ans);
    if (tsig && ldns_rr_rd_count(tsig) >= 6) {
        unsigned err = ldns_rdf2native_int16(ldns_rr_rdf(tsig, 5));
        if (err != 0) {
            const char *e =
                err == TSIG_BADSIG     ? "BADSIG (wrong secret?)"
                : err == TSIG_BADKEY   ? "BADKEY (unknown key name or "
                                         "algorithm?)"
                : err == TSIG_BADTIME  ? "BADTIME (the clocks differ "
                                         "by more than 5 minutes?)"
                : err == TSIG_BADTRUNC ? "BADTRUNC"
                                       : NULL;
            if (e)
                snprintf(why, whysz,
                         "the DNS server %s rejected the TSIG "
                         "signature: %s [%s]",
                         p->server, e, name);
            else
                snprintf(why, whysz,
                         "the DNS server %s rejected the TSIG "
                         "signature: error %u [%s]",
                         p->server, err, name);
            rc = LEEC_E_SOLVER;
            goto out;
        }
        if (!same_alg(tsig, p->alg) ||
            !ldns_pkt_tsig_verify(ans, wire, len, p->key_name, p->secret,
                                  mac)) {
            snprintf(why, whysz,
                     "the answer of the DNS server %s has a TSIG "
                     "signature that does not verify [%s]",
                     p->server, name);
            rc = LEEC_E_PROTOCOL;
            goto out;
        }
    } else if (rcode == LDNS_RCODE_NOERROR) {
        snprintf(why, whysz,
                 "the DNS server %s answered without a TSIG "
                 "signature",
                 p->server);
        rc = LEEC_E_PROTOCOL;
        goto out;
    }
    if (rcode != LDNS_RCODE_NOERROR) {
        snprintf(why, whysz, "the DNS server %s refused the update: %s%s%s",
                 p->server, name, hint, tsig ? "" : " [unsigned answer]");
        rc = LEEC_E_SOLVER;
        goto out;
    }
    rc = LEEC_OK;

out:
    ldns_pkt_free(ans);
    return rc;
}

/* ------------------------------------------------------------------ */
/* The provider                                                         */

static void rec_free(rec *r)
{
    if (!r)
        return;
    ldns_rdf_deep_free(r->mac);
    free(r->zone);
    free(r->fqdn);
    free(r->value);
    free(r);
}

static void inflight_link(rfc2136 *p, rec *r)
{
    r->prev = NULL;
    r->next = p->inflight;
    if (p->inflight)
        p->inflight->prev = r;
    p->inflight = r;
}

static void inflight_unlink(rfc2136 *p, rec *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else if (p->inflight == r)
        p->inflight = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
}

/* dns-persist-01's record stays (dns01.h): only the handle goes, and an
 * update still in flight is no longer listened to. */
static void rfc_forget(void *impl, void *op)
{
    rfc2136 *p = impl;
    rec *r = op;
    if (!r)
        return;
    if (r->q) {
        Leec_dns_cancel(p->ctx, r->q);
        r->q = NULL;
        inflight_unlink(p, r);
    }
    rec_free(r);
}

static void on_answer(void *userdata, leec_code rc, const unsigned char *wire,
                      size_t len)
{
    rec *r = userdata;
    rfc2136 *p = r->p;
    leec_solver_done_fn done = r->done;
    void *ud = r->ud;
    char why[WHY_MAX] = "";

    r->q = NULL;
    inflight_unlink(p, r);
    if (rc == LEEC_OK)
        rc = check_answer(p, wire, len, r->mac, why, sizeof why);
    else
        snprintf(why, sizeof why, "no answer from the DNS server %s: %s",
                 p->server, leec_strerror(rc));
    ldns_rdf_deep_free(r->mac);
    r->mac = NULL;
    r->done = NULL;
    r->ud = NULL;
    if (rc == LEEC_OK)
        Leec_log(p->ctx, LEEC_LOG_INFO, "rfc2136: %s TXT %s \"%s\"",
                 r->removing ? "removed" : "added", r->fqdn, r->value);
    else
        Leec_log(p->ctx, LEEC_LOG_DEBUG, "rfc2136: %s TXT %s: %s",
                 r->removing ? "removing" : "adding", r->fqdn, why);
    if (!r->removing && rc == LEEC_E_SOLVER)
        r->refused = true;
    if (r->removing)
        rec_free(r); /* done may free the provider: touch nothing after */
    /* r (an add's op) may be freed by done, through remove */
    if (done)
        done(ud, rc, rc == LEEC_OK ? NULL : why);
}

/* Sends the UPDATE for r; on_answer runs with the answer. */
static leec_code send_update(rfc2136 *p, rec *r, bool del)
{
    leec_code rc;
    unsigned char *wire = NULL;
    size_t len = 0;

    ldns_rdf_deep_free(r->mac);
    r->mac = NULL;
    r->removing = del;
    rc = build_update(p, r, del, &wire, &len, &r->mac);
    if (rc != LEEC_OK)
        goto out;
    rc = Leec_dns_send(p->ctx, (const struct sockaddr *)&p->addr, p->addrlen,
                       wire, len, len > UDP_MAX, ADD_TIMEOUT_MS, on_answer, r,
                       &r->q);
    if (rc != LEEC_OK)
        goto out;
    inflight_link(p, r);

out:
    free(wire);
    return rc;
}

static bool value_ok(const char *v)
{
    size_t n = v ? strlen(v) : 0;
    if (n == 0 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++)
        if (v[i] <= 0x20 || v[i] >= 0x7f || v[i] == '"' || v[i] == '\\')
            return false;
    return true;
}

/* fqdn and zone are valid absolute names and fqdn is inside zone. */
static bool names_ok(const char *zone, const char *fqdn)
{
    ldns_rdf *z = NULL, *f = NULL;
    bool ok = false;
    size_t zl = zone ? strlen(zone) : 0, fl = fqdn ? strlen(fqdn) : 0;

    if (!zl || !fl || zone[zl - 1] != '.' || fqdn[fl - 1] != '.')
        goto out;
    if (ldns_str2rdf_dname(&z, zone) != LDNS_STATUS_OK ||
        ldns_str2rdf_dname(&f, fqdn) != LDNS_STATUS_OK)
        goto out;
    ok = ldns_dname_compare(z, f) == 0 || ldns_dname_is_subdomain(f, z);

out:
    ldns_rdf_deep_free(z);
    ldns_rdf_deep_free(f);
    return ok;
}

static leec_status rfc_add(void *impl, const char *zone, const char *fqdn,
                           const char *value, leec_solver_done_fn done,
                           void *userdata, void **op)
{
    rfc2136 *p = impl;
    leec_code rc = LEEC_E_INVALID_ARG;
    rec *r = NULL;

    if (op)
        *op = NULL;
    if (!op || !done || !names_ok(zone, fqdn) || !value_ok(value)) {
        Leec_log(p->ctx, LEEC_LOG_ERROR,
                 "rfc2136: cannot add TXT %s in "
                 "zone %s: not an absolute name inside the zone, or a value "
                 "unfit for a TXT record",
                 fqdn ? fqdn : "(null)", zone ? zone : "(null)");
        goto out;
    }
    rc = LEEC_E_NOMEM;
    r = calloc(1, sizeof *r);
    if (!r)
        goto out;
    r->p = p;
    r->zone = strdup(zone);
    r->fqdn = strdup(fqdn);
    r->value = strdup(value);
    if (!r->zone || !r->fqdn || !r->value)
        goto out;
    r->done = done;
    r->ud = userdata;
    rc = send_update(p, r, false);
    if (rc != LEEC_OK) {
        Leec_log(p->ctx, LEEC_LOG_ERROR,
                 "rfc2136: cannot send the update "
                 "adding TXT %s to %s: %s",
                 fqdn, p->server, leec_strerror(rc));
        goto out;
    }
    Leec_log(p->ctx, LEEC_LOG_DEBUG,
             "rfc2136: adding TXT %s \"%s\" in "
             "zone %s via %s",
             fqdn, value, zone, p->server);
    *op = r;
    r = NULL;

out:
    rec_free(r);
    return rc == LEEC_OK ? LEEC_STATUS_PENDING : LEEC_STATUS_FAILED;
}

/* Deletes the record now, bounded (teardown). */
static leec_code remove_sync(rfc2136 *p, rec *r)
{
    leec_code rc;
    unsigned char *wire = NULL, *reply = NULL;
    size_t len = 0, rlen = 0;
    char why[WHY_MAX] = "";

    ldns_rdf_deep_free(r->mac);
    r->mac = NULL;
    rc = build_update(p, r, true, &wire, &len, &r->mac);
    if (rc != LEEC_OK) {
        snprintf(why, sizeof why, "cannot build the update: %s",
                 leec_strerror(rc));
        goto out;
    }
    rc = Leec_dns_send_sync((const struct sockaddr *)&p->addr, p->addrlen, wire,
                            len, len > UDP_MAX, SYNC_TIMEOUT_MS, &reply, &rlen);
    if (rc != LEEC_OK) {
        snprintf(why, sizeof why, "no answer from the DNS server %s: %s",
                 p->server, leec_strerror(rc));
        goto out;
    }
    rc = check_answer(p, reply, rlen, r->mac, why, sizeof why);

out:
    if (rc == LEEC_OK)
        Leec_log(p->ctx, LEEC_LOG_INFO, "rfc2136: removed TXT %s \"%s\"",
                 r->fqdn, r->value);
    else
        Leec_log(p->ctx, LEEC_LOG_WARN,
                 "rfc2136: could not remove TXT "
                 "%s \"%s\": %s",
                 r->fqdn, r->value, why);
    free(wire);
    free(reply);
    return rc;
}

static leec_status rfc_remove(void *impl, void *op, leec_solver_done_fn done,
                              void *userdata)
{
    rfc2136 *p = impl;
    rec *r = op;
    leec_code rc;

    if (!r)
        return LEEC_STATUS_DONE;
    /* An add still in flight: forget its answer (it may have been applied
     * already, so the delete goes out anyway). */
    if (r->q) {
        Leec_dns_cancel(p->ctx, r->q);
        r->q = NULL;
        inflight_unlink(p, r);
    }
    r->done = NULL;
    r->ud = NULL;
    if (r->refused) {
        /* A signed refusal: the record never existed. */
        rec_free(r);
        return LEEC_STATUS_DONE;
    }
    if (!done) {
        rc = remove_sync(p, r);
        rec_free(r);
        return rc == LEEC_OK ? LEEC_STATUS_DONE : LEEC_STATUS_FAILED;
    }
    r->done = done;
    r->ud = userdata;
    rc = send_update(p, r, true);
    if (rc != LEEC_OK) {
        char why[WHY_MAX];
        snprintf(why, sizeof why,
                 "cannot send the update removing TXT %s "
                 "to %s: %s",
                 r->fqdn, p->server, leec_strerror(rc));
        Leec_log(p->ctx, LEEC_LOG_WARN, "rfc2136: %s", why);
        rec_free(r);
        done(userdata, rc, why); /* the reason, with the failure */
    }
    return LEEC_STATUS_PENDING;
}

static void rfc_destroy(void *impl)
{
    rfc2136 *p = impl;
    if (!p)
        return;
    /* No present is outstanding by now; cancel whatever is still in flight
     * (deletes we own are freed, adds belong to their op holder). */
    while (p->inflight) {
        rec *r = p->inflight;
        inflight_unlink(p, r);
        if (r->q)
            Leec_dns_cancel(p->ctx, r->q);
        r->q = NULL;
        if (r->removing)
            rec_free(r);
        else
            r->p = NULL;
    }
    free(p->server);
    free(p->key_name);
    if (p->secret) {
        explicit_bzero(p->secret, strlen(p->secret));
        free(p->secret);
    }
    free(p);
}

static const struct leec_dns_provider_ops rfc2136_ops = {
    .name = "rfc2136",
    .needs_zone = true,
    .add = rfc_add,
    .remove = rfc_remove,
    .destroy = rfc_destroy,
};

leec_dns_provider *Leec_rfc2136_new(leec_ctx *ctx, const char *server,
                                    const char *tsig_key_file, leec_code *err)
{
    leec_code rc = LEEC_E_INVALID_ARG;
    rfc2136 *p = NULL;
    tsig_key key = {0};

    if (!ctx || !server || !*server || !tsig_key_file || !*tsig_key_file) {
        Leec_log(ctx, LEEC_LOG_ERROR,
                 "rfc2136: a server address and a TSIG "
                 "key file are required");
        goto out;
    }
    p = calloc(1, sizeof *p);
    if (!p) {
        rc = LEEC_E_NOMEM;
        goto out;
    }
    p->ctx = ctx;
    p->addrlen = sizeof p->addr;
    rc = Leec_dns_parse_addr(server, 53, &p->addr, &p->addrlen);
    if (rc != LEEC_OK) {
        Leec_log(ctx, LEEC_LOG_ERROR,
                 "rfc2136: bad server address '%s' "
                 "(a numeric address, optionally with :PORT)",
                 server);
        goto out;
    }
    p->server = strdup(server);
    if (!p->server) {
        rc = LEEC_E_NOMEM;
        goto out;
    }
    rc = load_key(ctx, tsig_key_file, &key);
    if (rc != LEEC_OK)
        goto out;
    p->key_name = key.name;
    p->alg = key.alg;
    p->secret = key.secret;
    key = (tsig_key){0};
    Leec_log(ctx, LEEC_LOG_DEBUG, "rfc2136: server %s, key %s (%.*s)", server,
             p->key_name, (int)strlen(p->alg) - 1, p->alg);

out:
    tsig_key_clear(&key);
    if (rc != LEEC_OK) {
        rfc_destroy(p);
        if (err)
            *err = rc;
        return NULL;
    }
    leec_dns_provider *dp =
        Leec_dns_provider_new(ctx, &rfc2136_ops, p, err); /* p is taken */
    if (dp)
        dp->forget = rfc_forget;
    return dp;
}
