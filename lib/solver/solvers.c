/* The context's solvers: a registry, so that agents share them and they are
 * destroyed once, after the agents that used them; and the public
 * constructors, each of which builds its solver and hands it to the
 * registry (adopt). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "util/ctx_base.h"
#include "solver/providers.h"

/* The registry, the context's slot for it (made on first use). */
struct leec_solvers {
    leec_solver **solvers;
    size_t nsolvers;
    leec_solver *http01_solver;
};

static struct leec_solvers *registry(leec_ctx *ctx)
{
    leec_ctx_base *b = Leec_ctx_base(ctx);
    if (!b->solvers)
        b->solvers = calloc(1, sizeof *b->solvers);
    return b->solvers;
}

leec_code Leec_ctx_add_solver(leec_ctx *ctx, leec_solver *s)
{
    struct leec_solvers *r = registry(ctx);
    leec_solver **v =
        r ? realloc(r->solvers, (r->nsolvers + 1) * sizeof *v) : NULL;
    if (!v) {
        Leec_solver_free(s);
        return LEEC_E_NOMEM;
    }
    r->solvers = v;
    r->solvers[r->nsolvers++] = s;
    return LEEC_OK;
}

/* Registers a freshly made solver, or passes its error on. */
static leec_solver *adopt(leec_ctx *ctx, leec_solver *s, leec_code *err)
{
    if (!s)
        return NULL;
    leec_code rc = Leec_ctx_add_solver(ctx, s);
    if (err)
        *err = rc;
    return rc == LEEC_OK ? s : NULL;
}

leec_solver *leec_ctx_add_solver(leec_ctx *ctx, const leec_solver_ops *ops,
                                 void *impl, leec_code *err)
{
    return adopt(ctx, Leec_solver_new(ctx, ops, impl, err), err);
}

leec_solver *Leec_ctx_default_solver(leec_ctx *ctx)
{
    struct leec_solvers *r = registry(ctx);
    if (!r)
        return NULL;
    if (!r->http01_solver)
        r->http01_solver = adopt(ctx, Leec_http01_solver_new(ctx, NULL), NULL);
    return r->http01_solver;
}

leec_solver *leec_ctx_solver_webroot(leec_ctx *ctx, const char *dir,
                                     leec_code *err)
{
    const struct leec_solvers *r = Leec_ctx_base(ctx)->solvers;
    for (size_t i = 0; r && dir && i < r->nsolvers; i++) {
        const char *d = Leec_webroot_solver_dir(r->solvers[i]);
        if (d && strcmp(d, dir) == 0)
            return r->solvers[i];
    }
    return adopt(ctx, Leec_webroot_solver_new(ctx, dir, err), err);
}

void Leec_ctx_free_solvers(leec_ctx *ctx)
{
    leec_ctx_base *b = Leec_ctx_base(ctx);
    struct leec_solvers *r = b->solvers;
    if (!r)
        return;
    for (size_t i = r->nsolvers; i-- > 0;)
        Leec_solver_free(r->solvers[i]);
    free(r->solvers);
    free(r);
    b->solvers = NULL;
}

static leec_solver *dns01(leec_ctx *ctx, const leec_dns_options *o,
                          leec_dns_provider *p, leec_code *err)
{
    if (!p)
        return NULL;
    leec_dns01_opts d = {
        .resolver = o ? o->resolver : NULL,
        .zone = o ? o->zone : NULL,
        .propagation_timeout_s =
            !o || o->propagation_timeout_s < 0 ? 120 : o->propagation_timeout_s,
        .auth_port = o && o->auth_port > 0 ? o->auth_port : 53,
    };
    return adopt(ctx, Leec_dns01_solver_new(ctx, p, &d, err), err);
}

leec_solver *leec_ctx_solver_dns(leec_ctx *ctx, const leec_dns_options *o,
                                 const leec_dns_provider_ops *ops, void *impl,
                                 leec_code *err)
{
    return dns01(ctx, o, Leec_dns_provider_new(ctx, ops, impl, err), err);
}

leec_solver *leec_ctx_solver_dns_rfc2136(leec_ctx *ctx,
                                         const leec_dns_options *o,
                                         const char *server,
                                         const char *tsig_key_file,
                                         leec_code *err)
{
    return dns01(ctx, o, Leec_rfc2136_new(ctx, server, tsig_key_file, err),
                 err);
}

leec_solver *leec_ctx_solver_dns_ovh(leec_ctx *ctx, const leec_dns_options *o,
                                     const char *credentials_file,
                                     leec_code *err)
{
    return dns01(ctx, o, Leec_ovh_new(ctx, credentials_file, err), err);
}

leec_solver *leec_ctx_solver_dns_hook(leec_ctx *ctx, const leec_dns_options *o,
                                      const char *cmd, leec_code *err)
{
    return dns01(ctx, o, Leec_dns_hook_new(ctx, cmd, err), err);
}

leec_solver *leec_ctx_solver_hook(leec_ctx *ctx, const char *cmd,
                                  leec_code *err)
{
    return adopt(ctx, Leec_hook_solver_new(ctx, cmd, err), err);
}

leec_solver *leec_ctx_solver_tls_alpn(leec_ctx *ctx, const char *addr,
                                      leec_code *err)
{
    return adopt(ctx, Leec_tlsalpn01_solver_new(ctx, addr, err), err);
}

leec_solver *leec_ctx_solver_dns_persist(leec_ctx *ctx,
                                         const leec_dns_options *o,
                                         leec_solver *creator, leec_code *err)
{
    return adopt(
        ctx, Leec_persist_solver_new(ctx, o ? o->resolver : NULL, creator, err),
        err);
}
