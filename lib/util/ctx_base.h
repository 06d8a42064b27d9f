/* The part of a context that the layers below the engine use: its log
 * (util/log.c), its loop and clock (util/loop.c), the live http-01 tokens
 * (solver/http01_tokens.c) and the solvers (solver/solvers.c). The engine's
 * struct leec_ctx (engine/ctx.c) begins with it, so that each of these
 * reaches its own state from a context without calling up into the engine.
 * Each slot is an object private to the file named; only that file uses
 * its slot. Not installed. */
#ifndef LEEC_CTX_BASE_H
#define LEEC_CTX_BASE_H

#include "leec/leec.h"

typedef struct leec_ctx_base {
    struct leec_logger *log;
    struct leec_loop *loop;
    struct leec_token_table *tokens; /* created on first use */
    struct leec_solvers *solvers;    /* created on first use */
} leec_ctx_base;

static inline leec_ctx_base *Leec_ctx_base(const leec_ctx *ctx)
{
    return (leec_ctx_base *)(void *)ctx;
}

#endif
