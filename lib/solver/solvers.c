/* The context's solvers: a registry, so that agents share them and they are
 * destroyed once, after the agents that used them; and the public
 * constructors, each of which builds its solver and hands it to the
 * registry (adopt). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "engine/internal.h"
#include "solver/providers.h"

leec_code Leec_ctx_add_solver(leec_ctx *ctx, leec_solver *s)
{
    leec_solver **v = realloc(ctx->solvers, (ctx->nsolvers + 1) * sizeof *v);
    if (!v) {
        Leec_solver_free(s);
        return LEEC_E_NOMEM;
    }
    ctx->solvers = v;
    ctx->solvers[ctx->nsolvers++] = s;
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
    if (!ctx->http01_solver)
        ctx->http01_solver =
            adopt(ctx, Leec_http01_solver_new(ctx, NULL), NULL);
    return ctx->http01_solver;
}

leec_solver *leec_ctx_solver_webroot(leec_ctx *ctx, const char *dir,
                                     leec_code *err)
{
    for (size_t i = 0; dir && i < ctx->nsolvers; i++) {
        const char *d = Leec_webroot_solver_dir(ctx->solvers[i]);
        if (d && strcmp(d, dir) == 0)
            return ctx->solvers[i];
    }
    return adopt(ctx, Leec_webroot_solver_new(ctx, dir, err), err);
}

void Leec_ctx_free_solvers(leec_ctx *ctx)
{
    for (size_t i = ctx->nsolvers; i-- > 0;)
        Leec_solver_free(ctx->solvers[i]);
    free(ctx->solvers);
    ctx->solvers = NULL;
    ctx->nsolvers = 0;
    ctx->http01_solver = NULL;
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
