#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/log.h"

#include "util/ctx_base.h"
#include "util/text.h"

struct leec_logger {
    leec_log_fn fn;
    void *ud;
    leec_log_level level;
};

leec_logger *Leec_logger_new(void)
{
    leec_logger *l = calloc(1, sizeof *l);
    if (l)
        l->level = LEEC_LOG_WARN;
    return l;
}

void Leec_logger_free(leec_logger *l)
{
    free(l);
}

void Leec_logger_set(leec_logger *l, leec_log_fn fn, void *userdata,
                     leec_log_level level)
{
    l->fn = fn;
    l->ud = userdata;
    l->level = level;
}

void Leec_log(leec_ctx *ctx, leec_log_level level, const char *fmt, ...)
{
    const leec_logger *l = ctx ? Leec_ctx_base(ctx)->log : NULL;
    if (!l || !l->fn || level > l->level)
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
        l->fn(l->ud, level, small);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        /* truncated beats nothing (a sequence cut at the end: '?') */
        Leec_text_clean(small, sizeof small - 1);
        l->fn(l->ud, level, small);
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    Leec_text_clean(big, (size_t)n);
    l->fn(l->ud, level, big);
    free(big);
}
