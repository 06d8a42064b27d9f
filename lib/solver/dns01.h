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

#include "solver/solver.h"

typedef struct leec_dns_provider leec_dns_provider;

struct leec_dns_provider_ops {
    const char *name; /* "rfc2136", "ovh", "hook" */
    bool needs_zone;  /* whether add() needs the zone (SOA lookup) */
    /* Adds TXT fqdn = value ("_acme-challenge.example.com.", trailing dot)
     * in zone ("example.com.", or NULL when !needs_zone). done reports
     * when the provider has accepted it. *op: for remove. */
    leec_code (*add)(leec_dns_provider *p, const char *zone, const char *fqdn,
                     const char *value, leec_solver_done_fn done,
                     void *userdata, void **op);
    /* Removes exactly that record (other TXT values at the name stay).
     * done == NULL: synchronously, bounded. Always frees op. */
    void (*remove)(leec_dns_provider *p, void *op, leec_solver_done_fn done,
                   void *userdata);
    void (*destroy)(leec_dns_provider *p);
};

struct leec_dns_provider {
    const struct leec_dns_provider_ops *ops;
    leec_ctx *ctx;
};

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

#endif
