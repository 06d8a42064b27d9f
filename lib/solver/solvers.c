/* The context's solvers: a registry, so that agents share them and they are
 * destroyed once, after the agents that used them. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "engine/internal.h"
#include "solver/providers.h"

leec_code Leec_ctx_add_solver(leec_ctx *ctx, leec_solver *s)
{
    leec_solver **v = realloc(ctx->solvers, (ctx->nsolvers + 1) * sizeof *v);
    if (!v) {
        s->ops->destroy(s);
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
        ctx->solvers[i]->ops->destroy(ctx->solvers[i]);
    free(ctx->solvers);
    ctx->solvers = NULL;
    ctx->nsolvers = 0;
    ctx->http01_solver = NULL;
}
