#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

void leec_log(leec_ctx *ctx, leec_log_level level, const char *fmt, ...)
{
    if (!ctx || !ctx->log_fn || level > ctx->log_level)
        return;
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        ctx->log_fn(ctx->log_ud, level, small);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        ctx->log_fn(ctx->log_ud, level, small); /* truncated beats nothing */
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    ctx->log_fn(ctx->log_ud, level, big);
    free(big);
}
