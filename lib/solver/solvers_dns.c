/* The public constructors of the DNS, hook and tls-alpn-01 solvers: each
 * builds the solver and hands it to the context, which owns it. */
#define _GNU_SOURCE
#include <stdlib.h>

#include "engine/internal.h"
#include "solver/providers.h"

static leec_solver *adopt(leec_ctx *ctx, leec_solver *s, leec_code *err)
{
    if (!s)
        return NULL;
    leec_code rc = Leec_ctx_add_solver(ctx, s);
    if (err)
        *err = rc;
    return rc == LEEC_OK ? s : NULL;
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
