/* dns-01: what every DNS provider shares (see dns01.h). One presentation
 * is a chain of asynchronous steps; each step's completion calls advance(),
 * which looks at what is known and starts the next step:
 *
 *   CNAME   follow _acme-challenge.<ident>. through CNAMEs (resolver)
 *   ZONE    SOA lookup walking up from the final name (resolver)
 *   ADD     the provider adds the TXT record
 *   NS      the zone's NS names, then their A/AAAA addresses (resolver)
 *   CHECK   every address asked directly, non-recursively, in rounds,
 *           until all serve the value or the propagation timeout ends
 *
 * The zone is looked up before ADD when the provider needs it, else after
 * (only for the propagation check). */
#define _GNU_SOURCE

#include "util/log.h"
#include "solver/dns01.h"
#include "util/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "net/dns.h"
#include "util/loop.h"

#define MAX_HOPS          8  /* CNAMEs followed */
#define MAX_NS            13 /* NS names used (the root has 13) */
#define MAX_ADDRS_PER_SET 4  /* A or AAAA records used per NS name */
#define MAX_SERVERS       26 /* addresses checked */
#define MAX_SLOTS         (2 * MAX_NS > MAX_SERVERS ? 2 * MAX_NS : MAX_SERVERS)
#define MAX_LABELS        127 /* SOA walk: a name has at most 127 labels */
#define QUERY_MS          2000
#define BACKOFF_MIN_MS    250
#define BACKOFF_MAX_MS    2000
#define EDNS_SIZE         1232 /* the DNS flag day's safe UDP size */
#define MSG_MAX           512

typedef struct dns01_solver {
    leec_ctx *ctx;
    leec_dns_provider *prov;
    struct sockaddr_storage res;
    socklen_t reslen;
    char res_text[INET6_ADDRSTRLEN + 16];
    char *zone; /* opts.zone, absolute; NULL: SOA lookup */
    int prop_s;
    int auth_port;
} dns01_solver;

typedef struct server {
    struct sockaddr_storage sa;
    socklen_t len;
    char text[INET6_ADDRSTRLEN + 16]; /* "ADDR:PORT" for messages */
    bool ok;                          /* served the value */
} server;

typedef enum { K_CNAME, K_SOA, K_NS, K_ADDR, K_CHECK } slot_kind;

struct dns01_op;
/* One outstanding query; its address is the query's userdata. */
typedef struct slot {
    struct dns01_op *op;
    leec_dns_query *q; /* NULL when idle */
    slot_kind kind;
    size_t idx; /* K_ADDR: the NS name; K_CHECK: the server */
    ldns_rr_type type;
} slot;

typedef struct dns01_op {
    dns01_solver *s;
    leec_solver_done_fn done; /* NULL once reported */
    void *ud;
    char *value;
    char *target; /* the name being followed, then the final one */
    bool target_final;
    int hops;
    char *zone;
    char *walk; /* SOA walk: the name asked */
    int walked;
    bool keep; /* a persistent record: never removed (Leec_dns01_keep) */
    bool add_called, added, in_add;
    bool add_pending;  /* add's done ran inside add() */
    bool add_reported; /* add's result is known */
    leec_code add_rc;
    char *add_msg;
    void *prov_op;
    bool ns_done, addrs_started, addrs_done, check_started;
    char *ns[MAX_NS];
    size_t nns;
    server servers[MAX_SERVERS];
    size_t nservers;
    int64_t prop_deadline;
    int backoff_ms;
    int rounds;
    leec_timer *timer;
    slot slots[MAX_SLOTS];
    size_t busy; /* slots with a query out */
} dns01_op;

static void advance(dns01_op *op);

/* ---- helpers ---- */

static leec_ctx *op_ctx(const dns01_op *op)
{
    return op->s->ctx;
}

static void cancel_all(dns01_op *op)
{
    for (size_t i = 0; i < MAX_SLOTS; i++) {
        if (op->slots[i].q)
            Leec_dns_cancel(op_ctx(op), op->slots[i].q);
        op->slots[i].q = NULL;
    }
    op->busy = 0;
    if (op->timer)
        Leec_loop_timer_cancel(op_ctx(op), op->timer);
    op->timer = NULL;
}

static void op_free(dns01_op *op)
{
    cancel_all(op);
    free(op->value);
    free(op->target);
    free(op->zone);
    free(op->walk);
    free(op->add_msg);
    for (size_t i = 0; i < op->nns; i++)
        free(op->ns[i]);
    free(op);
}

/* Reports the presentation's outcome, once. The host's callback may call
 * cleanup (freeing op), so this is always the caller's last step; msg is
 * copied because it may point into op. */
static void report(dns01_op *op, leec_code rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report(dns01_op *op, leec_code rc, const char *fmt, ...)
{
    leec_solver_done_fn done = op->done;
    void *ud = op->ud;
    char *msg = NULL;

    cancel_all(op);
    op->done = NULL;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
            msg = NULL;
        va_end(ap);
    }
    if (msg)
        Leec_log(op_ctx(op), rc == LEEC_OK ? LEEC_LOG_DEBUG : LEEC_LOG_WARN,
                 "dns-01: %s", msg);
    if (done)
        done(ud, rc, msg);
    free(msg);
}

/* "ADDR:PORT" / "[ADDR]:PORT". */
static void addr_text(const struct sockaddr *sa, char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        snprintf(buf, size, "%s:%u", host, (unsigned)ntohs(in->sin_port));
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(buf, size, "[%s]:%u", host, (unsigned)ntohs(in6->sin6_port));
    }
}

/* A query for name/type in wire format (malloc'd). RD for the resolver;
 * not for the authoritative servers, which must answer from their own
 * data. EDNS so that answers with several TXT values rarely need TCP. */
static leec_code build_query(const char *name, ldns_rr_type type, bool rd,
                             uint8_t **wire, size_t *len)
{
    ldns_rdf *dn = ldns_dname_new_frm_str(name);
    ldns_pkt *pkt = NULL;
    leec_code rc = LEEC_E_NOMEM;

    if (!dn)
        return LEEC_E_BAD_NAME;
    pkt = ldns_pkt_query_new(dn, type, LDNS_RR_CLASS_IN, rd ? LDNS_RD : 0);
    if (!pkt) {
        ldns_rdf_deep_free(dn); /* not taken on failure */
        goto out;
    }
    ldns_pkt_set_edns_udp_size(pkt, EDNS_SIZE);
    if (ldns_pkt2wire(wire, pkt, len) != LDNS_STATUS_OK)
        goto out;
    rc = LEEC_OK;
out:
    if (pkt)
        ldns_pkt_free(pkt);
    return rc;
}

static void on_answer(void *userdata, leec_code rc, const unsigned char *wire,
                      size_t len);

/* Sends name/type to sa from a free slot. */
static leec_code ask(dns01_op *op, const struct sockaddr_storage *sa,
                     socklen_t salen, const char *name, ldns_rr_type type,
                     bool rd, slot_kind kind, size_t idx)
{
    slot *sl = NULL;
    uint8_t *wire = NULL;
    size_t len = 0;
    leec_code rc = LEEC_E_NOMEM;

    for (size_t i = 0; i < MAX_SLOTS && !sl; i++)
        if (!op->slots[i].q)
            sl = &op->slots[i];
    if (!sl)
        return LEEC_E_NOMEM; /* cannot happen: bounded by design */
    if ((rc = build_query(name, type, rd, &wire, &len)) != LEEC_OK)
        goto out;
    *sl = (slot){.op = op, .kind = kind, .idx = idx, .type = type};
    rc = Leec_dns_send(op_ctx(op), (const struct sockaddr *)sa, salen, wire,
                       len, false, QUERY_MS, on_answer, sl, &sl->q);
out:
    free(wire);
    return rc;
}

static leec_code ask_resolver(dns01_op *op, const char *name, ldns_rr_type type,
                              slot_kind kind, size_t idx)
{
    leec_code rc =
        ask(op, &op->s->res, op->s->reslen, name, type, true, kind, idx);
    if (rc == LEEC_OK)
        op->busy++;
    return rc;
}

/* A domain name from a DNS message as text ("a.example.", lower case,
 * malloc'd) when it is a host name: labels of letters, digits, '-' and
 * '_' (a '-' neither first nor last), 1 to 63 bytes each. NULL otherwise
 * (or out of memory): never ldns's escaped presentation form, which a
 * hook, a DNS provider or a log would take for something else. */
static char *rdf_hostname(const ldns_rdf *rdf)
{
    if (!rdf || ldns_rdf_get_type(rdf) != LDNS_RDF_TYPE_DNAME)
        return NULL;
    const uint8_t *d = ldns_rdf_data(rdf);
    size_t n = ldns_rdf_size(rdf), i = 0, o = 0;
    char *out = n >= 1 && n <= 255 ? malloc(n + 2) : NULL;
    if (!out)
        return NULL;
    while (i < n) {
        size_t l = d[i++];
        if (l == 0)
            break; /* the root: the end */
        if (l > 63 || l > n - i)
            goto bad;
        for (size_t k = 0; k < l; k++) {
            unsigned char c = d[i + k];
            bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '_' || (c == '-' && k > 0 && k + 1 < l);
            if (c >= 'A' && c <= 'Z') {
                c = (unsigned char)(c - 'A' + 'a');
                ok = true;
            }
            if (!ok)
                goto bad;
            out[o++] = (char)c;
        }
        out[o++] = '.';
        i += l;
    }
    if (i != n)
        goto bad; /* bytes after the root label */
    if (o == 0)
        out[o++] = '.';
    out[o] = '\0';
    return out;
bad:
    free(out);
    return NULL;
}

/* Whether an RR of the type has the owner. */
static bool rr_is(const ldns_rr *rr, ldns_rr_type type, const ldns_rdf *owner)
{
    return ldns_rr_get_type(rr) == type &&
           ldns_dname_compare(ldns_rr_owner(rr), owner) == 0;
}

/* ---- CNAME ---- */

static void cname_answer(dns01_op *op, ldns_pkt *pkt)
{
    ldns_rdf *cur = ldns_dname_new_frm_str(op->target);
    ldns_rr_list *an = ldns_pkt_answer(pkt);
    char *next = NULL;
    ldns_pkt_rcode rcode = ldns_pkt_get_rcode(pkt);

    if (!cur) {
        report(op, LEEC_E_BAD_NAME, "%s is not a valid name", op->target);
        return;
    }
    if (rcode != LDNS_RCODE_NOERROR && rcode != LDNS_RCODE_NXDOMAIN) {
        ldns_rdf_deep_free(cur);
        report(op, LEEC_E_SOLVER, "resolver %s answered rcode %d for %s CNAME",
               op->s->res_text, (int)rcode, op->target);
        return;
    }
    for (size_t i = 0; an && i < ldns_rr_list_rr_count(an); i++) {
        ldns_rr *rr = ldns_rr_list_rr(an, i);
        if (rr_is(rr, LDNS_RR_TYPE_CNAME, cur) && ldns_rr_rd_count(rr) == 1) {
            if (!(next = rdf_hostname(ldns_rr_rdf(rr, 0)))) {
                ldns_rdf_deep_free(cur);
                report(op, LEEC_E_BAD_NAME,
                       "%s is a CNAME to a name that is not a host name: "
                       "not followed",
                       op->target);
                return;
            }
            break;
        }
    }
    ldns_rdf_deep_free(cur);
    if (!next) {
        op->target_final = true;
        Leec_log(op_ctx(op), LEEC_LOG_DEBUG, "dns-01: the record goes at %s",
                 op->target);
        advance(op);
        return;
    }
    if (++op->hops > MAX_HOPS) {
        free(next);
        report(op, LEEC_E_SOLVER, "more than %d CNAMEs from the challenge name",
               MAX_HOPS);
        return;
    }
    Leec_log(op_ctx(op), LEEC_LOG_DEBUG, "dns-01: %s is a CNAME to %s",
             op->target, next);
    free(op->target);
    op->target = next;
    leec_code rc = ask_resolver(op, op->target, LDNS_RR_TYPE_CNAME, K_CNAME, 0);
    if (rc != LEEC_OK)
        report(op, rc, "cannot ask the resolver about %s", op->target);
}

/* ---- ZONE ---- */

static void start_zone(dns01_op *op)
{
    leec_code rc = LEEC_OK;
    if (!op->walk && !(op->walk = strdup(op->target))) {
        report(op, LEEC_E_NOMEM, NULL);
        return;
    }
    rc = ask_resolver(op, op->walk, LDNS_RR_TYPE_SOA, K_SOA, 0);
    if (rc != LEEC_OK)
        report(op, rc, "cannot ask the resolver about %s", op->walk);
}

/* An SOA at the name asked is the apex; an SOA in the authority section
 * (NXDOMAIN, NODATA) names the zone that holds the name. Else one label
 * up. */
static void soa_answer(dns01_op *op, ldns_pkt *pkt)
{
    ldns_rdf *walk = ldns_dname_new_frm_str(op->walk);
    ldns_rdf *up = NULL;
    ldns_rr_list *an = ldns_pkt_answer(pkt);
    ldns_rr_list *au = ldns_pkt_authority(pkt);
    ldns_pkt_rcode rcode = ldns_pkt_get_rcode(pkt);

    if (!walk) {
        report(op, LEEC_E_BAD_NAME, "%s is not a valid name", op->walk);
        return;
    }
    if (rcode != LDNS_RCODE_NOERROR && rcode != LDNS_RCODE_NXDOMAIN) {
        ldns_rdf_deep_free(walk);
        report(op, LEEC_E_SOLVER, "resolver %s answered rcode %d for %s SOA",
               op->s->res_text, (int)rcode, op->walk);
        return;
    }
    for (size_t i = 0; an && i < ldns_rr_list_rr_count(an) && !op->zone; i++)
        if (rr_is(ldns_rr_list_rr(an, i), LDNS_RR_TYPE_SOA, walk))
            op->zone = rdf_hostname(walk);
    for (size_t i = 0; au && i < ldns_rr_list_rr_count(au) && !op->zone; i++) {
        ldns_rr *rr = ldns_rr_list_rr(au, i);
        const ldns_rdf *owner = ldns_rr_owner(rr);
        /* Only an ancestor (or the name itself) can hold the name. */
        if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA &&
            (ldns_dname_compare(owner, walk) == 0 ||
             ldns_dname_is_subdomain(walk, owner)))
            op->zone = rdf_hostname(owner);
    }
    if (op->zone) {
        ldns_rdf_deep_free(walk);
        Leec_log(op_ctx(op), LEEC_LOG_DEBUG, "dns-01: %s is in zone %s",
                 op->target, op->zone);
        advance(op);
        return;
    }
    if (ldns_dname_label_count(walk) == 0 || ++op->walked > MAX_LABELS ||
        !(up = ldns_dname_left_chop(walk))) {
        ldns_rdf_deep_free(walk);
        report(op, LEEC_E_SOLVER, "no zone found for %s (no SOA)", op->target);
        return;
    }
    ldns_rdf_deep_free(walk);
    free(op->walk);
    op->walk = rdf_hostname(up);
    ldns_rdf_deep_free(up);
    if (!op->walk) {
        report(op, LEEC_E_NOMEM, NULL);
        return;
    }
    start_zone(op);
}

/* ---- ADD ---- */

static void add_result(dns01_op *op, leec_code rc, const char *msg)
{
    if (rc != LEEC_OK) {
        report(op, rc, "%s could not add the TXT record at %s%s%s",
               op->s->prov->ops->name, op->target, msg ? ": " : "",
               msg ? msg : "");
        return;
    }
    op->added = true;
    Leec_log(op_ctx(op), LEEC_LOG_INFO, "dns-01: TXT record added at %s (%s)",
             op->target, op->s->prov->ops->name);
    advance(op);
}

static void add_done(void *userdata, leec_code rc, const char *msg)
{
    dns01_op *op = userdata;
    if (op->add_reported)
        return; /* a second report */
    /* Inside add(): prov_op is not known yet, and reporting now could
     * free op under the provider's feet. Finished after add() returns. */
    if (op->in_add) {
        op->add_pending = true;
        op->add_rc = rc;
        free(op->add_msg);
        op->add_msg = msg ? strdup(msg) : NULL;
        return;
    }
    op->add_reported = true;
    add_result(op, rc, msg);
}

static void start_add(dns01_op *op)
{
    const leec_dns_provider_ops *ops = op->s->prov->ops;
    leec_status st;

    op->in_add = true;
    st = ops->add(op->s->prov->impl, ops->needs_zone ? op->zone : NULL,
                  op->target, op->value, add_done, op, &op->prov_op);
    op->in_add = false;
    if (st != LEEC_STATUS_DONE && st != LEEC_STATUS_PENDING) {
        op->prov_op = NULL; /* nothing to remove */
        report(op, LEEC_E_SOLVER, "%s could not add the TXT record at %s",
               ops->name, op->target);
        return;
    }
    op->add_called = true; /* remove is owed from now on */
    if (st == LEEC_STATUS_DONE) {
        op->add_reported = true; /* what it returned, whatever it called */
        add_result(op, LEEC_OK, NULL);
    } else if (op->add_pending) {
        op->add_reported = true;
        add_result(op, op->add_rc, op->add_msg);
    }
}

/* ---- NS and their addresses ---- */

static void ns_answer(dns01_op *op, ldns_pkt *pkt)
{
    ldns_rdf *zone = ldns_dname_new_frm_str(op->zone);
    ldns_rr_list *an = ldns_pkt_answer(pkt);

    if (!zone) {
        report(op, LEEC_E_BAD_NAME, "%s is not a valid name", op->zone);
        return;
    }
    for (size_t i = 0; an && i < ldns_rr_list_rr_count(an); i++) {
        ldns_rr *rr = ldns_rr_list_rr(an, i);
        if (op->nns == MAX_NS)
            break;
        if (!rr_is(rr, LDNS_RR_TYPE_NS, zone) || ldns_rr_rd_count(rr) != 1)
            continue;
        /* A name server whose name is no host name is not asked. */
        char *name = rdf_hostname(ldns_rr_rdf(rr, 0));
        if (name)
            op->ns[op->nns++] = name;
    }
    ldns_rdf_deep_free(zone);
    if (op->nns == 0) {
        report(op, LEEC_E_SOLVER, "no NS records found for zone %s", op->zone);
        return;
    }
    op->ns_done = true;
    advance(op);
}

static void start_addrs(dns01_op *op)
{
    for (size_t i = 0; i < op->nns; i++) {
        leec_code rc = ask_resolver(op, op->ns[i], LDNS_RR_TYPE_A, K_ADDR, i);
        if (rc == LEEC_OK)
            rc = ask_resolver(op, op->ns[i], LDNS_RR_TYPE_AAAA, K_ADDR, i);
        if (rc != LEEC_OK) {
            report(op, rc, "cannot ask the resolver about %s", op->ns[i]);
            return;
        }
    }
}

static void add_server(dns01_op *op, int family, const uint8_t *addr)
{
    server sv = {0};
    if (op->nservers == MAX_SERVERS)
        return;
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&sv.sa;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)op->s->auth_port);
        memcpy(&in->sin_addr, addr, 4);
        sv.len = sizeof *in;
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sv.sa;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)op->s->auth_port);
        memcpy(&in6->sin6_addr, addr, 16);
        sv.len = sizeof *in6;
    }
    /* Several NS names often share an address: ask it once. */
    for (size_t i = 0; i < op->nservers; i++)
        if (op->servers[i].len == sv.len &&
            memcmp(&op->servers[i].sa, &sv.sa, sv.len) == 0)
            return;
    addr_text((const struct sockaddr *)&sv.sa, sv.text, sizeof sv.text);
    op->servers[op->nservers++] = sv;
}

/* A and AAAA answers for one NS name (CNAMEs in the answer are skipped:
 * the address records carry the final owner, which we do not check, as a
 * resolver's answer chain is all about the name asked). */
static void addr_answer(dns01_op *op, const slot *sl, ldns_pkt *pkt)
{
    ldns_rr_list *an = ldns_pkt_answer(pkt);
    int used = 0;

    for (size_t i = 0; an && i < ldns_rr_list_rr_count(an); i++) {
        ldns_rr *rr = ldns_rr_list_rr(an, i);
        const ldns_rdf *rd =
            ldns_rr_rd_count(rr) == 1 ? ldns_rr_rdf(rr, 0) : NULL;
        if (!rd || ldns_rr_get_type(rr) != sl->type ||
            used == MAX_ADDRS_PER_SET)
            continue;
        if (sl->type == LDNS_RR_TYPE_A && ldns_rdf_size(rd) == 4)
            add_server(op, AF_INET, ldns_rdf_data(rd));
        else if (sl->type == LDNS_RR_TYPE_AAAA && ldns_rdf_size(rd) == 16)
            add_server(op, AF_INET6, ldns_rdf_data(rd));
        else
            continue;
        used++;
    }
}

static void addrs_finished(dns01_op *op)
{
    if (op->nservers == 0) {
        report(op, LEEC_E_SOLVER,
               "no address found for the name servers of zone %s", op->zone);
        return;
    }
    op->addrs_done = true;
    Leec_log(op_ctx(op), LEEC_LOG_DEBUG,
             "dns-01: %zu name server address(es) for zone %s", op->nservers,
             op->zone);
    advance(op);
}

/* ---- CHECK ---- */

static void start_round(dns01_op *op);

static void on_round_timer(void *userdata)
{
    dns01_op *op = userdata;
    op->timer = NULL; /* the loop has freed it */
    start_round(op);
}

static void start_round(dns01_op *op)
{
    op->rounds++;
    for (size_t i = 0; i < op->nservers; i++) {
        server *sv = &op->servers[i];
        if (sv->ok)
            continue;
        leec_code rc = ask(op, &sv->sa, sv->len, op->target, LDNS_RR_TYPE_TXT,
                           false, K_CHECK, i);
        if (rc == LEEC_OK)
            op->busy++;
        else
            /* Not fatal: an address we cannot even send to (an IPv6 server
             * on a host without IPv6) just stays unconfirmed, and is named
             * when time runs out. */
            Leec_log(op_ctx(op), LEEC_LOG_DEBUG, "dns-01: cannot query %s: %s",
                     sv->text, leec_strerror(rc));
    }
    if (op->busy == 0)
        advance(op); /* nothing went out: the round is over already */
}

static void start_check(dns01_op *op)
{
    op->prop_deadline = Leec_now_ms(op_ctx(op)) + (int64_t)op->s->prop_s * 1000;
    op->backoff_ms = BACKOFF_MIN_MS;
    Leec_log(op_ctx(op), LEEC_LOG_INFO,
             "dns-01: waiting for %zu authoritative server(s) of %s to serve "
             "%s (at most %d s)",
             op->nservers, op->zone, op->target, op->s->prop_s);
    start_round(op);
}

/* Whether the answer of an authoritative server holds the value: a TXT
 * record at the name whose strings, joined, are the value. */
static bool serves_value(const dns01_op *op, ldns_pkt *pkt)
{
    ldns_rdf *name = ldns_dname_new_frm_str(op->target);
    ldns_rr_list *an = ldns_pkt_answer(pkt);
    size_t vlen = strlen(op->value);
    bool found = false;

    if (!name || ldns_pkt_get_rcode(pkt) != LDNS_RCODE_NOERROR)
        goto out;
    for (size_t i = 0; an && i < ldns_rr_list_rr_count(an) && !found; i++) {
        ldns_rr *rr = ldns_rr_list_rr(an, i);
        size_t off = 0;
        bool same = true;
        if (!rr_is(rr, LDNS_RR_TYPE_TXT, name))
            continue;
        for (size_t j = 0; j < ldns_rr_rd_count(rr) && same; j++) {
            const ldns_rdf *rd = ldns_rr_rdf(rr, j);
            const uint8_t *d = ldns_rdf_data(rd);
            size_t n = ldns_rdf_size(rd);
            /* A character-string: a length byte, then the bytes. */
            if (n < 1 || (size_t)d[0] != n - 1 || off + d[0] > vlen ||
                memcmp(op->value + off, d + 1, d[0]) != 0)
                same = false;
            else
                off += d[0];
        }
        found = same && off == vlen;
    }
out:
    if (name)
        ldns_rdf_deep_free(name);
    return found;
}

/* Called when a round's last answer is in. */
static void round_finished(dns01_op *op)
{
    size_t missing = 0;
    int64_t now = Leec_now_ms(op_ctx(op));
    char list[512] = "";
    size_t used = 0;

    for (size_t i = 0; i < op->nservers; i++) {
        if (op->servers[i].ok)
            continue;
        missing++;
        if (used < sizeof list) {
            int n = snprintf(list + used, sizeof list - used, "%s%s",
                             used ? ", " : "", op->servers[i].text);
            used += n > 0 ? (size_t)n : 0;
        }
    }
    if (missing == 0) {
        Leec_log(op_ctx(op), LEEC_LOG_INFO,
                 "dns-01: every authoritative server serves %s", op->target);
        report(op, LEEC_OK, NULL);
        return;
    }
    if (now >= op->prop_deadline) {
        report(op, LEEC_E_TIMEOUT,
               "propagation: %s did not serve the TXT record for %s within "
               "%d s",
               list, op->target, op->s->prop_s);
        return;
    }
    Leec_log(op_ctx(op), LEEC_LOG_DEBUG,
             "dns-01: round %d: %zu server(s) without the record yet: %s",
             op->rounds, missing, list);
    int64_t at = now + op->backoff_ms;
    if (at > op->prop_deadline)
        at = op->prop_deadline;
    op->backoff_ms = op->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                                                         : op->backoff_ms * 2;
    if (!(op->timer = Leec_loop_timer(op_ctx(op), at, on_round_timer, op)))
        report(op, LEEC_E_NOMEM, NULL);
}

/* ---- the steps ---- */

static void advance(dns01_op *op)
{
    const leec_dns_provider_ops *ops = op->s->prov->ops;

    if (op->busy)
        return; /* a step still has queries out */
    if (!op->target_final)
        return; /* cannot happen: present starts the CNAME step */
    if (!op->zone && ops->needs_zone) {
        start_zone(op);
        return;
    }
    if (!op->add_called) {
        start_add(op);
        return;
    }
    if (!op->added)
        return; /* the provider reports through add_done */
    if (op->s->prop_s <= 0) {
        report(op, LEEC_OK, NULL);
        return;
    }
    if (!op->zone) {
        start_zone(op);
        return;
    }
    if (!op->ns_done) {
        leec_code rc = ask_resolver(op, op->zone, LDNS_RR_TYPE_NS, K_NS, 0);
        if (rc != LEEC_OK)
            report(op, rc, "cannot ask the resolver about %s", op->zone);
        return;
    }
    if (!op->addrs_started) {
        op->addrs_started = true;
        start_addrs(op);
        return;
    }
    if (!op->addrs_done) {
        addrs_finished(op);
        return;
    }
    if (!op->check_started) {
        op->check_started = true;
        start_check(op);
        return;
    }
    round_finished(op);
}

static void on_answer(void *userdata, leec_code rc, const unsigned char *wire,
                      size_t len)
{
    slot *sl = userdata;
    dns01_op *op = sl->op;
    ldns_pkt *pkt = NULL;

    sl->q = NULL;
    op->busy--;
    if (rc == LEEC_OK && ldns_wire2pkt(&pkt, wire, len) != LDNS_STATUS_OK) {
        pkt = NULL;
        rc = LEEC_E_PROTOCOL;
    }
    if (sl->kind == K_CHECK) {
        server *sv = &op->servers[sl->idx];
        sv->ok = rc == LEEC_OK && serves_value(op, pkt);
        if (!sv->ok)
            Leec_log(op_ctx(op), LEEC_LOG_DEBUG,
                     "dns-01: %s does not serve the record yet%s%s", sv->text,
                     rc == LEEC_OK ? "" : ": ",
                     rc == LEEC_OK ? "" : leec_strerror(rc));
        if (op->busy == 0)
            advance(op);
        goto out;
    }
    if (rc != LEEC_OK) {
        /* An NS name without an AAAA (or any) answer is not fatal. */
        if (sl->kind == K_ADDR) {
            if (op->busy == 0)
                advance(op);
            goto out;
        }
        report(op, rc, "resolver %s: no answer (%s)", op->s->res_text,
               leec_strerror(rc));
        goto out;
    }
    switch (sl->kind) {
    case K_CNAME:
        cname_answer(op, pkt);
        break;
    case K_SOA:
        soa_answer(op, pkt);
        break;
    case K_NS:
        ns_answer(op, pkt);
        break;
    case K_ADDR:
        addr_answer(op, sl, pkt);
        if (op->busy == 0)
            advance(op);
        break;
    case K_CHECK:
        break;
    }
out:
    /* op may be gone (reported, then cleaned up): only the packet here. */
    if (pkt)
        ldns_pkt_free(pkt);
}

/* ---- the solver ---- */

/* A presentation of value at prefix + ident: the CNAME step first. */
static leec_status start(dns01_solver *s, const char *prefix, const char *ident,
                         const char *value, bool keep, leec_solver_done_fn done,
                         void *userdata, void **opp)
{
    dns01_op *op = NULL;
    ldns_rdf *check = NULL;
    size_t il = 0;

    if (!ident || !value || !done || !opp)
        goto fail;
    il = strlen(ident);
    if (!(op = calloc(1, sizeof *op)))
        goto fail;
    op->s = s;
    op->done = done;
    op->ud = userdata;
    op->keep = keep;
    /* The identifier never carries "*." (a wildcard's record is the base
     * name's); a trailing dot is tolerated. */
    if (asprintf(&op->target, "%s%s%s", prefix, ident,
                 il && ident[il - 1] == '.' ? "" : ".") < 0) {
        op->target = NULL;
        goto fail;
    }
    if (!(op->value = strdup(value)))
        goto fail;
    if (s->zone && !(op->zone = strdup(s->zone)))
        goto fail;
    if (!(check = ldns_dname_new_frm_str(op->target)))
        goto fail;
    ldns_rdf_deep_free(check);
    Leec_log(s->ctx, LEEC_LOG_INFO, "dns-01: %s %s via %s",
             keep ? "creating the persistent record" : "presenting", op->target,
             s->prov->ops->name);
    if (ask_resolver(op, op->target, LDNS_RR_TYPE_CNAME, K_CNAME, 0) != LEEC_OK)
        goto fail;
    *opp = op;
    return LEEC_STATUS_PENDING;
fail:
    if (op)
        op_free(op);
    /* the agent says it could not present the challenge */
    return LEEC_STATUS_FAILED;
}

static leec_status dns01_present(void *impl, const leec_challenge *ch,
                                 leec_solver_done_fn done, void *userdata,
                                 void **opp)
{
    if (!ch)
        return LEEC_STATUS_FAILED;
    return start(impl, "_acme-challenge.", ch->ident, ch->digest, false, done,
                 userdata, opp);
}

static leec_status dns01_cleanup(void *impl, void *opv, bool valid,
                                 leec_solver_done_fn done, void *userdata)
{
    dns01_solver *s = impl;
    dns01_op *op = opv;
    void *prov_op = NULL;
    bool added = false;

    (void)valid; /* the record goes either way */
    if (op && op->keep) {
        /* A persistent record (Leec_dns01_keep) stays: the provider only
         * lets its handle go. */
        if (op->add_called)
            s->prov->forget(s->prov->impl, op->prov_op);
        op_free(op);
        return LEEC_STATUS_DONE;
    }
    if (op) {
        /* Also cancels a presentation still in flight: its done is never
         * called. */
        cancel_all(op);
        op->done = NULL;
        added = op->add_called;
        prov_op = op->prov_op;
        if (added)
            Leec_log(s->ctx, LEEC_LOG_DEBUG,
                     "dns-01: removing the TXT record at %s", op->target);
        op_free(op);
    }
    /* Whenever add() returned DONE or PENDING, remove() runs: it frees
     * the provider's op even when the add then failed or is still in
     * flight. Its done is the caller's (the solver layer's). */
    if (added)
        return s->prov->ops->remove(s->prov->impl, prov_op, done, userdata);
    return LEEC_STATUS_DONE;
}

static void dns01_destroy(void *impl)
{
    dns01_solver *s = impl;
    if (!s)
        return;
    Leec_dns_provider_free(s->prov);
    free(s->zone);
    free(s);
}

static const struct leec_solver_ops dns01_ops = {
    .type = "dns-01",
    .name = "dns-01",
    .present = dns01_present,
    .cleanup = dns01_cleanup,
    .destroy = dns01_destroy,
};

/* The first usable "nameserver" of resolv.conf; glibc's default
 * (127.0.0.1) when there is none. Read once, at construction. */
static leec_code system_resolver(struct sockaddr_storage *sa, socklen_t *len)
{
    FILE *f = fopen("/etc/resolv.conf", "re");
    char line[512];
    leec_code rc = LEEC_E_NOT_FOUND;

    while (f && rc != LEEC_OK && fgets(line, sizeof line, f)) {
        const char *p = line;
        char addr[128];
        size_t n = 0;
        if (strncmp(p, "nameserver", 10) != 0 ||
            (p[10] != ' ' && p[10] != '\t'))
            continue;
        p += 10;
        while (*p == ' ' || *p == '\t')
            p++;
        while (p[n] && p[n] != ' ' && p[n] != '\t' && p[n] != '\n' &&
               p[n] != '\r' && p[n] != '#' && p[n] != ';')
            n++;
        if (n == 0 || n >= sizeof addr)
            continue;
        memcpy(addr, p, n);
        addr[n] = '\0';
        rc = Leec_dns_parse_addr(addr, 53, sa, len);
    }
    if (f)
        fclose(f);
    if (rc != LEEC_OK)
        rc = Leec_dns_parse_addr("127.0.0.1", 53, sa, len);
    return rc;
}

bool Leec_dns01_can_keep(const leec_solver *s)
{
    const dns01_solver *d = Leec_solver_impl(s, &dns01_ops);
    return d && d->prov->forget;
}

leec_status Leec_dns01_keep(leec_solver *s, const char *ident,
                            const char *value, leec_solver_done_fn done,
                            void *userdata, void **op)
{
    dns01_solver *d = Leec_solver_impl(s, &dns01_ops);
    if (!d || !d->prov->forget)
        return LEEC_STATUS_FAILED;
    return start(d, "_validation-persist.", ident, value, true, done, userdata,
                 op);
}

void Leec_dns01_keep_end(leec_solver *s, void *op)
{
    dns01_solver *d = Leec_solver_impl(s, &dns01_ops);
    if (d && op)
        (void)dns01_cleanup(d, op, false, NULL, NULL);
}

leec_code Leec_dns01_resolver(const char *text, struct sockaddr_storage *sa,
                              socklen_t *len, char *buf, size_t size)
{
    leec_code rc = text && *text ? Leec_dns_parse_addr(text, 53, sa, len)
                                 : system_resolver(sa, len);
    if (rc == LEEC_OK)
        addr_text((const struct sockaddr *)sa, buf, size);
    return rc;
}

leec_solver *Leec_dns01_solver_new(leec_ctx *ctx, leec_dns_provider *provider,
                                   const leec_dns01_opts *opts, leec_code *err)
{
    dns01_solver *s = NULL;
    leec_code rc = LEEC_E_INVALID_ARG;
    const char *why = "invalid arguments";

    if (!ctx || !provider || !provider->ops)
        goto fail;
    rc = LEEC_E_NOMEM;
    why = "out of memory";
    if (!(s = calloc(1, sizeof *s)))
        goto fail;
    s->ctx = ctx;
    s->prov = provider;
    provider = NULL;
    s->prop_s = 120;
    s->auth_port = 53;
    if (opts) {
        /* 0 turns the check off; a negative value means the default. */
        if (opts->propagation_timeout_s >= 0)
            s->prop_s = opts->propagation_timeout_s;
        if (opts->auth_port)
            s->auth_port = opts->auth_port;
    }
    rc = LEEC_E_INVALID_ARG;
    why = "the authoritative servers' port is out of range";
    if (s->auth_port < 1 || s->auth_port > 65535)
        goto fail;
    if (opts && opts->resolver && *opts->resolver) {
        why = "the resolver must be a numeric ADDR[:PORT]";
        if ((rc = Leec_dns_parse_addr(opts->resolver, 53, &s->res,
                                      &s->reslen)) != LEEC_OK)
            goto fail;
    } else {
        why = "no usable resolver";
        if ((rc = system_resolver(&s->res, &s->reslen)) != LEEC_OK)
            goto fail;
    }
    addr_text((const struct sockaddr *)&s->res, s->res_text,
              sizeof s->res_text);
    if (opts && opts->zone && *opts->zone) {
        size_t zl = strlen(opts->zone);
        ldns_rdf *check = NULL;
        rc = LEEC_E_NOMEM;
        why = "out of memory";
        if (asprintf(&s->zone, "%s%s", opts->zone,
                     opts->zone[zl - 1] == '.' ? "" : ".") < 0) {
            s->zone = NULL;
            goto fail;
        }
        rc = LEEC_E_INVALID_ARG;
        why = "the zone is not a valid name";
        if (!(check = ldns_dname_new_frm_str(s->zone)))
            goto fail;
        ldns_rdf_deep_free(check);
    }
    Leec_log(ctx, LEEC_LOG_DEBUG,
             "dns-01 via %s: resolver %s, propagation check %d s, port %d",
             s->prov->ops->name, s->res_text, s->prop_s, s->auth_port);
    return Leec_solver_new(ctx, &dns01_ops, s, err); /* s is taken */
fail:
    Leec_log(ctx, LEEC_LOG_ERROR, "dns-01: %s", why);
    Leec_dns_provider_free(provider);
    dns01_destroy(s);
    if (err)
        *err = rc;
    return NULL;
}

leec_dns_provider *Leec_dns_provider_new(leec_ctx *ctx,
                                         const leec_dns_provider_ops *ops,
                                         void *impl, leec_code *err)
{
    leec_dns_provider *p = NULL;
    leec_code rc = LEEC_E_INVALID_ARG;

    if (!ctx || !ops || !ops->name || !ops->add || !ops->remove) {
        if (ctx)
            Leec_log(ctx, LEEC_LOG_ERROR,
                     "dns-01: a DNS provider needs a name, add and remove");
        goto fail;
    }
    rc = LEEC_E_NOMEM;
    if (!(p = calloc(1, sizeof *p)))
        goto fail;
    p->ops = ops;
    p->impl = impl;
    if (err)
        *err = LEEC_OK;
    return p;
fail:
    if (ops && ops->destroy)
        ops->destroy(impl);
    if (err)
        *err = rc;
    return NULL;
}

void *Leec_dns_provider_impl(const leec_dns_provider *p,
                             const leec_dns_provider_ops *ops)
{
    return p && p->ops == ops ? p->impl : NULL;
}

void Leec_dns_provider_free(leec_dns_provider *p)
{
    if (!p)
        return;
    if (p->ops->destroy)
        p->ops->destroy(p->impl);
    free(p);
}
