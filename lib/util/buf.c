#define _GNU_SOURCE
#include "util/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void Leec_buf_init(leec_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

static leec_code reserve(leec_buf *b, size_t extra)
{
    if (b->max && (extra > b->max || b->len > b->max - extra))
        return LEEC_E_TOO_LARGE;
    if (b->len + extra + 1 <= b->cap)
        return LEEC_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2)
            return LEEC_E_NOMEM;
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p)
        return LEEC_E_NOMEM;
    b->data = p;
    b->cap = cap;
    return LEEC_OK;
}

leec_code Leec_buf_append(leec_buf *b, const void *data, size_t len)
{
    leec_code rc = reserve(b, len);
    if (rc != LEEC_OK)
        return rc;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return LEEC_OK;
}

leec_code Leec_buf_append_str(leec_buf *b, const char *s)
{
    return Leec_buf_append(b, s, strlen(s));
}

leec_code Leec_buf_printf(leec_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return LEEC_E_INVALID_ARG;
    leec_code rc = reserve(b, (size_t)n);
    if (rc != LEEC_OK)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return LEEC_OK;
}

char *Leec_buf_steal(leec_buf *b)
{
    char *p = b->data;
    if (!p)
        p = calloc(1, 1);
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void Leec_buf_reset(leec_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void Leec_buf_free(leec_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
