#define _GNU_SOURCE
#include "acme/retry.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RETRY_AFTER_MAX 86400

long Leec_retry_after_seconds(const char *value, time_t now)
{
    if (!value || !*value)
        return -1;
    while (isspace((unsigned char)*value))
        value++;
    if (isdigit((unsigned char)*value)) {
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(value, &end, 10);
        while (end && isspace((unsigned char)*end))
            end++;
        if (errno || !end || *end)
            return errno == ERANGE ? RETRY_AFTER_MAX : -1;
        return v > RETRY_AFTER_MAX ? RETRY_AFTER_MAX : (long)v;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end)
        return -1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    if (t <= now)
        return 0;
    return t - now > RETRY_AFTER_MAX ? RETRY_AFTER_MAX : (long)(t - now);
}

void Leec_backoff_start(leec_backoff *b, int64_t now_ms, int64_t first_ms,
                        int64_t cap_ms, int64_t total_ms)
{
    b->first_ms = first_ms;
    b->cap_ms = cap_ms;
    b->next_ms = first_ms;
    b->give_up_at = now_ms + total_ms;
}

int64_t Leec_backoff_next(leec_backoff *b, int64_t now_ms, long retry_after_s)
{
    if (now_ms >= b->give_up_at)
        return -1;
    int64_t d;
    if (retry_after_s >= 0) {
        d = (int64_t)retry_after_s * 1000;
        if (d < b->first_ms)
            d = b->first_ms; /* "Retry-After: 0" must not spin */
    } else {
        d = b->next_ms;
        b->next_ms += b->next_ms / 2;
        if (b->next_ms > b->cap_ms)
            b->next_ms = b->cap_ms;
    }
    if (now_ms + d > b->give_up_at)
        d = b->give_up_at - now_ms;
    return d;
}
