/*
 * dns-01 (RFC 8555 §8.4): the part every DNS provider shares. For each
 * challenge: the record name _acme-challenge.<ident>. is followed through
 * CNAMEs (the record goes where they point), its zone is found by SOA lookup
 * (unless set), the provider adds the TXT record, then every authoritative
 * server of the zone (NS, their addresses) is asked directly until all serve
 * the value (the propagation check), and only then is the challenge ready.
 * Cleanup removes the record through the provider, on every path.
 */
#ifndef LEEC_SOLVER_DNS01_H
#define LEEC_SOLVER_DNS01_H

#include <sys/socket.h>

#include "leec/dns_provider.h"
#include "solver/solver.h"

/* A DNS provider (include/leec/dns_provider.h, where the contract is): its
 * ops and impl, whoever wrote them (rfc2136.c, ovh.c, hook.c, a program). */
typedef struct leec_dns_provider {
    const leec_dns_provider_ops *ops;
    void *impl;
    /* The built-in providers' (rfc2136.c, ovh.c, hook.c): frees op, from
     * add, and leaves its record in place (cancelling an add still under
     * way), for dns-persist-01's record, which is never removed. NULL for
     * a program's own provider, whose interface has no such step. */
    void (*forget)(void *impl, void *op);
} leec_dns_provider;

/* A provider over ops and impl. impl is taken even on failure
 * (ops->destroy(impl) then). NULL with *err: LEEC_E_INVALID_ARG (the
 * reason logged), LEEC_E_NOMEM. */
leec_dns_provider *Leec_dns_provider_new(leec_ctx *ctx,
                                         const leec_dns_provider_ops *ops,
                                         void *impl, leec_code *err);
/* ops->destroy(impl), and the handle. NULL does nothing. */
void Leec_dns_provider_free(leec_dns_provider *p);
/* impl when p was made with ops, else NULL: how a provider finds its own. */
void *Leec_dns_provider_impl(const leec_dns_provider *p,
                             const leec_dns_provider_ops *ops);

typedef struct leec_dns01_opts {
    const char *resolver;      /* recursive resolver "ADDR[:PORT]"; NULL:
                                  the system's (/etc/resolv.conf) */
    const char *zone;          /* the zone, instead of the SOA lookup */
    int propagation_timeout_s; /* 0: no propagation check; default 120 */
    int auth_port;             /* port of the authoritative servers (53) */
} leec_dns01_opts;

/* A dns-01 solver over provider (owned from now on, even on failure).
 * NULL with *err: LEEC_E_INVALID_ARG (resolver address), LEEC_E_NOMEM. */
leec_solver *Leec_dns01_solver_new(leec_ctx *ctx, leec_dns_provider *provider,
                                   const leec_dns01_opts *opts, leec_code *err);

/* dns-persist-01's record created through the dns-01 solver s (one made
 * by Leec_dns01_solver_new over a built-in provider): the TXT record
 * _validation-persist.<ident>. = value, added as dns-01's is (CNAMEs
 * followed, the zone found, the propagation check), reported through
 * done; PENDING, or FAILED when s cannot keep records or the name is
 * invalid. Leec_dns01_keep_end(s, op) ends it, exactly once, at any time
 * (a cancel before done): the record is never removed. */
bool Leec_dns01_can_keep(const leec_solver *s);
leec_status Leec_dns01_keep(leec_solver *s, const char *ident,
                            const char *value, leec_solver_done_fn done,
                            void *userdata, void **op);
void Leec_dns01_keep_end(leec_solver *s, void *op);

/* The recursive resolver to ask: text "ADDR[:PORT]" (numeric), or the
 * system's (the first nameserver of /etc/resolv.conf, else 127.0.0.1)
 * when text is NULL or empty; "ADDR:PORT" written to buf for messages.
 * LEEC_E_INVALID_ARG for a text that is no numeric address. */
leec_code Leec_dns01_resolver(const char *text, struct sockaddr_storage *sa,
                              socklen_t *len, char *buf, size_t size);

#endif
