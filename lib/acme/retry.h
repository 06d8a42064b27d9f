/* Waiting policy: Retry-After and polling back-off, as deadlines. */
#ifndef LEEC_RETRY_H
#define LEEC_RETRY_H

#include <stdint.h>
#include <time.h>

/* Parses a Retry-After value (delta-seconds or an IMF-fixdate, RFC 9110
 * §10.2.3) into seconds from now, clamped to [0, 86400]; -1 when absent or
 * unparsable. */
long Leec_retry_after_seconds(const char *value, time_t now);

/* Polling back-off: the first poll comes soon (the CA often validates in
 * milliseconds), then each delay grows by half up to a cap. */
typedef struct leec_backoff {
    int64_t first_ms;
    int64_t cap_ms;
    int64_t next_ms;
    int64_t give_up_at; /* absolute ms: bounded total wait */
} leec_backoff;

void Leec_backoff_start(leec_backoff *b, int64_t now_ms, int64_t first_ms,
                        int64_t cap_ms, int64_t total_ms);
/* The delay before the next poll: retry_after_s (>= 0) wins when given,
 * clamped to the total budget. Returns -1 when the budget is spent. */
int64_t Leec_backoff_next(leec_backoff *b, int64_t now_ms, long retry_after_s);

#endif
