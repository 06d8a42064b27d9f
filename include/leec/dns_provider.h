/*
 * libleec — the DNS-provider interface: dns-01 over a program's own DNS.
 *
 * The library's dns-01 solver (RFC 8555 §8.4) does what every DNS host has
 * in common: for each challenge it follows _acme-challenge.<name>. through
 * CNAMEs (the record goes where they point), finds the zone that holds
 * the final name (SOA lookup, unless leec_dns_options.zone says it), has
 * the provider add the TXT record, asks every authoritative server of the
 * zone directly until all serve it (the propagation check), and has the
 * provider remove it again on every path: validated, failed, agent or
 * context freed. A DNS provider does the one part that differs from host
 * to host, adding and removing one TXT record. The built-in providers
 * (RFC 2136, OVH, the dns hook: leec_ctx_solver_dns_rfc2136, _ovh, _hook)
 * implement this interface; leec_ctx_solver_dns() makes the same dns-01
 * solver over a program's own.
 *
 *   add      adds the TXT record fqdn = value, leaving other TXT records
 *            at fqdn alone (a wildcard and its base name put two values
 *            at the same name at once). Returns LEEC_STATUS_DONE (the DNS
 *            host has accepted it; the propagation check follows),
 *            LEEC_STATUS_PENDING (done() reports it later: LEEC_OK, or
 *            why not), or LEEC_STATUS_FAILED (nothing to remove).
 *   remove   removes exactly the record that add added (op, from add).
 *            Called exactly once for every add that returned DONE or
 *            PENDING: also after an add that later failed through done,
 *            and for an add still PENDING, which it cancels (that add's
 *            done must not be called any more; what the add did or is
 *            still doing, remove undoes). done NULL: finish before
 *            returning (DONE or FAILED), in a few seconds at most;
 *            otherwise DONE, FAILED, or PENDING and done later. Frees op.
 *   destroy  once, when the solver is freed (with its context), or when
 *            leec_ctx_solver_dns() fails. No add is outstanding by then;
 *            a remove still PENDING is abandoned (finish it before
 *            returning: its done is no longer listened to).
 *
 * A provider may be synchronous: add and remove do their work (a blocking
 * request to the host's API, say) and return DONE or FAILED. The whole
 * context waits meanwhile, so keep it short; PENDING is for more.
 *
 * Threads and time are as for solvers (leec/solver.h): every operation runs
 * on the context's thread, add and remove (with done) from inside
 * leec_ctx_perform(), remove without done also from leec_agent_free() and
 * leec_ctx_free(), destroy from leec_ctx_free(); none may call back into
 * the context. done may be called on that thread from anywhere, inside
 * add or remove included (a result known at once, with a message: call
 * done and return LEEC_STATUS_PENDING); it never calls back into the
 * provider. msg (one line, may be NULL) is copied; it ends up in the
 * agent's error message ("dns-01 for NAME: my DNS could not add the TXT
 * record at FQDN: MSG") or, for remove, in the log.
 *
 * Ownership: zone, fqdn and value are valid only during add (copy what you
 * keep); op is the provider's own handle of one record (it may stay NULL),
 * passed back to remove. The ops structure is not copied: it must stay
 * valid and unchanged until destroy has run (make it static const).
 */
#ifndef LEEC_DNS_PROVIDER_H
#define LEEC_DNS_PROVIDER_H

#include <stdbool.h>

#include "leec/leec.h"
#include "leec/solver.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct leec_dns_provider_ops {
    /* For logs and messages ("rfc2136", "my DNS"); required. */
    const char *name;
    /* Whether add needs the zone: the solver then finds it first (SOA
     * lookup, or leec_dns_options.zone). false: add gets zone NULL (the
     * zone is still looked up afterwards, for the propagation check). */
    bool needs_zone;
    /* Required. zone: "example.com." (absolute, lower case) or NULL;
     * fqdn: "_acme-challenge.www.example.com." (absolute, lower case, a
     * host name: letters, digits, '-', '_'); value: the 43 base64url
     * characters of the challenge's digest. *op is NULL on entry. */
    leec_status (*add)(void *impl, const char *zone, const char *fqdn,
                       const char *value, leec_solver_done_fn done,
                       void *done_arg, void **op);
    /* Required; see above. A failure is only logged. */
    leec_status (*remove)(void *impl, void *op, leec_solver_done_fn done,
                          void *done_arg);
    /* Frees impl; may be NULL. */
    void (*destroy)(void *impl);
} leec_dns_provider_ops;

/*
 * A dns-01 solver over the program's own DNS provider: ops says how to use
 * it, impl is passed back to each operation. o: the resolver, the zone,
 * the propagation check and the authoritative servers' port, as for the
 * built-in DNS solvers (NULL: the defaults). The context owns the solver
 * (freed with it, after its agents) and, from now on, impl, even when this
 * fails: ops->destroy(impl) then runs before the return (when ops and
 * ops->destroy are not NULL). Give it to agents with
 * leec_agent_set_solver(); its type is "dns-01".
 * NULL with *err on failure (the reason is logged at ERROR):
 * LEEC_E_INVALID_ARG (ctx or ops NULL, no name, add or remove; a resolver
 * that is not a numeric ADDR[:PORT], a port out of range, a zone that is
 * no valid name), LEEC_E_NOMEM.
 */
LEEC_API leec_solver *leec_ctx_solver_dns(leec_ctx *ctx,
                                          const leec_dns_options *o,
                                          const leec_dns_provider_ops *ops,
                                          void *impl, leec_code *err);

#ifdef __cplusplus
}
#endif
#endif /* LEEC_DNS_PROVIDER_H */
