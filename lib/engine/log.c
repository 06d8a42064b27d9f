#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/internal.h"
#include "acme/problem.h"

void Leec_log(leec_ctx *ctx, leec_log_level level, const char *fmt, ...)
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
    /* Every line is cleaned here, whatever it quotes (a CA's detail, a
     * DNS name, curl's words): no control character reaches a terminal
     * or a log file, C1 ones included. */
    if ((size_t)n < sizeof small) {
        Leec_text_clean(small, (size_t)n);
        ctx->log_fn(ctx->log_ud, level, small);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        /* truncated beats nothing (a sequence cut at the end: '?') */
        Leec_text_clean(small, sizeof small - 1);
        ctx->log_fn(ctx->log_ud, level, small);
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    Leec_text_clean(big, (size_t)n);
    ctx->log_fn(ctx->log_ud, level, big);
    free(big);
}
