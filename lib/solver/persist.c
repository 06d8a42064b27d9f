/*
 * dns-persist-01 (draft-ietf-acme-dns-persist-01): the record is the
 * user's, set once per account (leec account dns-persist-record prints
 * it); this solver only checks, through the resolver, that
 * _validation-persist.<name> holds one for this account and this CA before
 * the challenge is answered, so that a missing record fails with the
 * record to create rather than as an "invalid" authorization. It never
 * writes nor removes a record. A name's parent domains are looked at too:
 * there a record covers the name only with policy=wildcard.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldns/ldns.h>

#include "acme/persist.h"
#include "acme/problem.h"
#include "net/dns.h"
#include "solver/dns01.h"
#include "solver/providers.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/loop.h"

#define QUERY_MS  3000
#define EDNS_SIZE 1232
/* Names asked per challenge: the name, then parents down to two labels. */
#define MAX_NAMES 8

typedef struct persist_solver {
    leec_ctx *ctx;
    leec_solver *creator; /* a dns-01 solver that creates missing records;
                             NULL: none (the context owns it) */
    struct sockaddr_storage res;
    socklen_t reslen;
    char res_text[INET6_ADDRSTRLEN + 16];
} persist_solver;

typedef struct persist_op {
    persist_solver *s;
    leec_solver_done_fn done; /* NULL once reported */
    void *ud;
    leec_dns_query *q;
    char *ident;   /* the name (a wildcard's base name) */
    bool wildcard; /* the authorization is for "*." + ident */
    char *account;
    char *issuers[LEEC_PERSIST_MAX_ISSUERS];
    size_t nissuers;
    size_t level;      /* labels dropped from ident: 0 is the name itself */
    char *seen;        /* the first record that did not fit, and why */
    char *asked_first; /* _validation-persist.<ident>. */
    void *keep_op;     /* the creation through s->creator, once started */
} persist_op;

static void op_free(persist_op *op)
{
    if (!op)
        return;
    if (op->q)
        Leec_dns_cancel(op->s->ctx, op->q);
    /* A record created stays, even when this ends its creation early. */
    if (op->keep_op)
        Leec_dns01_keep_end(op->s->creator, op->keep_op);
    free(op->ident);
    free(op->account);
    for (size_t i = 0; i < op->nissuers; i++)
        free(op->issuers[i]);
    free(op->seen);
    free(op->asked_first);
    free(op);
}

/* The outcome, once; the caller's callback may clean op up, so this is
 * the caller's last step. */
static void report(persist_op *op, leec_code rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report(persist_op *op, leec_code rc, const char *fmt, ...)
{
    leec_solver_done_fn done = op->done;
    void *ud = op->ud;
    char *msg = NULL;
    va_list ap;

    op->done = NULL;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    Leec_log(op->s->ctx, rc == LEEC_OK ? LEEC_LOG_INFO : LEEC_LOG_WARN,
             "dns-persist-01: %s", msg ? msg : leec_strerror(rc));
    if (done)
        done(ud, rc, msg);
    free(msg);
}

/* The name asked at op->level: ident without its first level labels. */
static const char *level_name(const persist_op *op)
{
    const char *p = op->ident;
    for (size_t i = 0; i < op->level && p; i++) {
        p = strchr(p, '.');
        p = p ? p + 1 : NULL;
    }
    return p;
}

static void on_answer(void *userdata, leec_code rc, const unsigned char *wire,
                      size_t len);

/* Asks for the TXT records at the current level. */
static leec_code ask(persist_op *op)
{
    char *name = NULL;
    ldns_rdf *dn = NULL;
    ldns_pkt *pkt = NULL;
    uint8_t *w = NULL;
    size_t wl = 0;
    leec_code rc = LEEC_E_NOMEM;

    if (asprintf(&name, "%s%s.", LEEC_PERSIST_PREFIX, level_name(op)) < 0) {
        name = NULL;
        goto out;
    }
    rc = LEEC_E_BAD_NAME;
    if (!(dn = ldns_dname_new_frm_str(name)))
        goto out;
    rc = LEEC_E_NOMEM;
    if (!(pkt = ldns_pkt_query_new(dn, LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_IN,
                                   LDNS_RD))) {
        ldns_rdf_deep_free(dn); /* not taken on failure */
        goto out;
    }
    ldns_pkt_set_edns_udp_size(pkt, EDNS_SIZE);
    if (ldns_pkt2wire(&w, pkt, &wl) != LDNS_STATUS_OK)
        goto out;
    Leec_log(op->s->ctx, LEEC_LOG_DEBUG, "dns-persist-01: asking %s for %s TXT",
             op->s->res_text, name);
    rc = Leec_dns_send(op->s->ctx, (const struct sockaddr *)&op->s->res,
                       op->s->reslen, w, wl, false, QUERY_MS, on_answer, op,
                       &op->q);
out:
    if (pkt)
        ldns_pkt_free(pkt);
    free(w);
    free(name);
    return rc;
}

/* Whether one TXT record fits; the first misfit's reason is kept for the
 * message. */
static bool record_fits(persist_op *op, const ldns_rr *rr)
{
    leec_buf v;
    leec_persist_rec r;
    const char *why = NULL;
    bool ok = false;

    Leec_buf_init(&v, 4096);
    for (size_t j = 0; j < ldns_rr_rd_count(rr); j++) {
        const ldns_rdf *rd = ldns_rr_rdf(rr, j);
        const uint8_t *d = ldns_rdf_data(rd);
        size_t n = ldns_rdf_size(rd);
        /* A character-string: a length byte, then the bytes. */
        if (n < 1 || (size_t)d[0] != n - 1 ||
            Leec_buf_append(&v, d + 1, d[0]) != LEEC_OK) {
            Leec_buf_free(&v);
            return false;
        }
    }
    /* The level above the name itself needs policy=wildcard too. */
    if (Leec_persist_parse(v.data ? v.data : "", v.len, &r) != LEEC_OK)
        why = r.why;
    else
        ok = Leec_persist_matches(
            &r, (const char *const *)op->issuers, op->nissuers, op->account,
            op->wildcard || op->level > 0, (int64_t)time(NULL), &why);
    if (!ok && !op->seen) {
        char *text = Leec_sanitize(v.data ? v.data : "", 300);
        if (asprintf(&op->seen, "%s%s TXT \"%s\" is %s", LEEC_PERSIST_PREFIX,
                     level_name(op), text ? text : "?",
                     r.why ? "malformed: " : "") < 0)
            op->seen = NULL;
        if (op->seen && why) {
            char *more = NULL;
            if (asprintf(&more, "%s%s", op->seen, why) >= 0) {
                free(op->seen);
                op->seen = more;
            }
        }
        free(text);
    }
    Leec_persist_rec_clear(&r);
    Leec_buf_free(&v);
    return ok;
}

/* The creator's report: the record is served (or why not). */
static void created(void *ud, leec_code rc, const char *msg)
{
    persist_op *op = ud;
    if (rc == LEEC_OK)
        report(op, LEEC_OK, "created %s for this account (it stays)",
               op->asked_first);
    else
        report(op, rc, "could not create %s: %s", op->asked_first,
               msg ? msg : leec_strerror(rc));
}

/* The value to create: without blanks, which RFC 8659 allows and some
 * DNS providers refuse. */
static void compact(char *v)
{
    char *w = v;
    for (char *r = v; *r; r++)
        if (*r != ' ')
            *w++ = *r;
    *w = '\0';
}

/* Nothing fits at any level: created through the DNS provider when there
 * is one, else the record to create, in a zone file's words. */
static void missing(persist_op *op)
{
    char *value = NULL;
    if (Leec_persist_value(op->issuers[0], op->account, op->wildcard, 0,
                           &value) != LEEC_OK)
        value = NULL;
    if (value && op->s->creator) {
        compact(value);
        Leec_log(op->s->ctx, LEEC_LOG_INFO,
                 "dns-persist-01: no record for this account at %s (%s): "
                 "creating it",
                 op->asked_first, op->seen ? op->seen : "none found");
        if (Leec_dns01_keep(op->s->creator, op->ident, value, created, op,
                            &op->keep_op) == LEEC_STATUS_PENDING) {
            free(value);
            return;
        }
        op->keep_op = NULL;
        report(op, LEEC_E_SOLVER, "could not start creating %s",
               op->asked_first);
        free(value);
        return;
    }
    report(op, LEEC_E_SOLVER,
           "no record for this account at %s (%s); create: %s IN TXT \"%s\" "
           "(`leec account dns-persist-record%s %s` prints it)",
           op->asked_first, op->seen ? op->seen : "none found", op->asked_first,
           value ? value : "?", op->wildcard ? " --wildcard" : "", op->ident);
    free(value);
}

static void on_answer(void *userdata, leec_code rc, const unsigned char *wire,
                      size_t len)
{
    persist_op *op = userdata;
    ldns_pkt *pkt = NULL;
    bool found = false;

    op->q = NULL;
    if (rc == LEEC_OK && ldns_wire2pkt(&pkt, wire, len) != LDNS_STATUS_OK) {
        pkt = NULL;
        rc = LEEC_E_PROTOCOL;
    }
    if (rc != LEEC_OK) {
        report(op, rc, "resolver %s: no answer for %s%s. (%s)", op->s->res_text,
               LEEC_PERSIST_PREFIX, level_name(op), leec_strerror(rc));
        goto out;
    }
    ldns_pkt_rcode rcode = ldns_pkt_get_rcode(pkt);
    if (rcode != LDNS_RCODE_NOERROR && rcode != LDNS_RCODE_NXDOMAIN) {
        report(op, LEEC_E_PROTOCOL, "resolver %s answered rcode %d for %s%s.",
               op->s->res_text, (int)rcode, LEEC_PERSIST_PREFIX,
               level_name(op));
        goto out;
    }
    /* The question matched (net/dns.c); the resolver followed CNAMEs, so
     * every TXT record of the answer is the name's. */
    ldns_rr_list *an = ldns_pkt_answer(pkt);
    for (size_t i = 0; an && i < ldns_rr_list_rr_count(an) && !found; i++) {
        const ldns_rr *rr = ldns_rr_list_rr(an, i);
        if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_TXT)
            found = record_fits(op, rr);
    }
    if (found) {
        report(op, LEEC_OK, "%s%s. names this account for %s",
               LEEC_PERSIST_PREFIX, level_name(op), op->ident);
        goto out;
    }
    /* Up one label, while two remain (never a top-level domain). */
    const char *next = strchr(level_name(op), '.');
    if (op->level + 1 < MAX_NAMES && next && strchr(next + 1, '.')) {
        op->level++;
        if ((rc = ask(op)) != LEEC_OK)
            report(op, rc, "cannot ask the resolver %s", op->s->res_text);
        goto out;
    }
    missing(op);
out:
    /* op may be gone (reported, then cleaned up): only the packet here. */
    if (pkt)
        ldns_pkt_free(pkt);
}

static leec_status persist_present(void *impl, const leec_challenge *ch,
                                   leec_solver_done_fn done, void *userdata,
                                   void **opp)
{
    persist_solver *s = impl;
    persist_op *op = NULL;
    size_t il;

    if (!ch || !done || !opp || strcmp(ch->type, "dns-persist-01") != 0 ||
        !ch->ident || strcmp(ch->ident_type, "dns") != 0)
        return LEEC_STATUS_DECLINED;
    if (!ch->account_uri || !ch->nissuer_domain_names ||
        ch->nissuer_domain_names > LEEC_PERSIST_MAX_ISSUERS) {
        Leec_log(s->ctx, LEEC_LOG_ERROR,
                 "dns-persist-01: the challenge for %s has no issuer names, "
                 "or the account no URL",
                 ch->ident);
        return LEEC_STATUS_FAILED;
    }
    if (!(op = calloc(1, sizeof *op)))
        return LEEC_STATUS_FAILED;
    op->s = s;
    op->done = done;
    op->ud = userdata;
    op->wildcard = ch->wildcard;
    il = strlen(ch->ident);
    if (!(op->ident = strndup(ch->ident,
                              il && ch->ident[il - 1] == '.' ? il - 1 : il)) ||
        !(op->account = strdup(ch->account_uri)))
        goto fail;
    for (size_t i = 0; i < ch->nissuer_domain_names; i++)
        if (!(op->issuers[op->nissuers++] = strdup(ch->issuer_domain_names[i])))
            goto fail;
    if (asprintf(&op->asked_first, "%s%s.", LEEC_PERSIST_PREFIX, op->ident) <
        0) {
        op->asked_first = NULL;
        goto fail;
    }
    if (ask(op) != LEEC_OK)
        goto fail;
    *opp = op;
    return LEEC_STATUS_PENDING;
fail:
    op_free(op);
    return LEEC_STATUS_FAILED;
}

/* The record is the user's: nothing to undo, whatever happened. */
static leec_status persist_cleanup(void *impl, void *opv, bool valid,
                                   leec_solver_done_fn done, void *userdata)
{
    (void)impl;
    (void)valid;
    (void)done;
    (void)userdata;
    op_free(opv);
    return LEEC_STATUS_DONE;
}

static void persist_destroy(void *impl)
{
    free(impl);
}

static const struct leec_solver_ops persist_ops = {
    .type = "dns-persist-01",
    .name = "dns-persist-01",
    .present = persist_present,
    .cleanup = persist_cleanup,
    .destroy = persist_destroy,
};

leec_solver *Leec_persist_solver_new(leec_ctx *ctx, const char *resolver,
                                     leec_solver *creator, leec_code *err)
{
    persist_solver *s = calloc(1, sizeof *s);
    leec_code rc = LEEC_E_NOMEM;
    if (!s)
        goto fail;
    s->ctx = ctx;
    rc = LEEC_E_INVALID_ARG;
    if (creator && !Leec_dns01_can_keep(creator)) {
        Leec_log(ctx, LEEC_LOG_ERROR,
                 "dns-persist-01: records are created only through the "
                 "built-in DNS solvers (RFC 2136, OVH, dns hook)");
        goto fail;
    }
    s->creator = creator;
    if ((rc = Leec_dns01_resolver(resolver, &s->res, &s->reslen, s->res_text,
                                  sizeof s->res_text)) != LEEC_OK) {
        Leec_log(ctx, LEEC_LOG_ERROR,
                 "dns-persist-01: the resolver must be a numeric ADDR[:PORT]");
        goto fail;
    }
    Leec_log(ctx, LEEC_LOG_DEBUG, "dns-persist-01: resolver %s", s->res_text);
    return Leec_solver_new(ctx, &persist_ops, s, err); /* s is taken */
fail:
    free(s);
    if (err)
        *err = rc;
    return NULL;
}

leec_code leec_dns_persist_value(const char *issuer, const char *account_uri,
                                 bool wildcard, long long persist_until,
                                 char **out)
{
    if (!out)
        return LEEC_E_INVALID_ARG;
    return Leec_persist_value(issuer, account_uri, wildcard,
                              (int64_t)persist_until, out);
}
