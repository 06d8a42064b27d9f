/*
 * The governor: LEEC's task ring, grown up. It sits between the agents and
 * the transport and keeps the whole process within a CA's limits:
 *   - how many orders are in flight at once (max_parallel);
 *   - how many requests per second go to the CA (a token bucket);
 *   - a CA-wide pause after a 429 or 503 with Retry-After: nothing is sent
 *     until it has passed;
 *   - budgets modelled on Let's Encrypt's published limits: new orders per
 *     account per window, certificates per registered domain per window,
 *     so a large batch is spread over time instead of failing half-way.
 * Pure logic: time comes in as milliseconds, nothing here sleeps or does I/O,
 * so it is tested with a fake clock.
 */
#ifndef LEEC_GOVERNOR_H
#define LEEC_GOVERNOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "leec/leec.h"

typedef struct leec_gov_limits {
    unsigned max_parallel;      /* orders in flight; 0: unlimited */
    double rate;                /* requests per second; 0: unlimited */
    unsigned orders_per_window; /* new orders per account; 0: off */
    int64_t orders_window_ms;
    unsigned certs_per_domain; /* per registered domain; 0: off */
    int64_t certs_window_ms;
} leec_gov_limits;

typedef struct leec_governor leec_governor;

leec_governor *Leec_gov_new(void);
void Leec_gov_free(leec_governor *g);
void Leec_gov_set_limits(leec_governor *g, const leec_gov_limits *limits);
const leec_gov_limits *Leec_gov_limits_get(const leec_governor *g);

/*
 * May an order for these registered domains start at now_ms? On
 * LEEC_WAIT_NONE a slot is taken and the budgets are charged (release with
 * Leec_gov_order_done). Otherwise *until_ms says when to ask again (-1: when
 * another order finishes). LEEC_E_NOMEM is reported as LEEC_WAIT_NONE never:
 * on allocation failure the order is refused until later (PARALLEL).
 */
leec_wait_reason Leec_gov_order_admit(leec_governor *g, int64_t now_ms,
                                      const char *const *domains, size_t n,
                                      int64_t *until_ms);

/* An admitted order finished; admitted_ms is the time it was admitted.
 * issued=false gives back the certificate reservation it made at that time
 * (a failed order issues nothing); the order budget stays spent once the
 * order was sent (ordered), as it does at the CA, and is given back when it
 * never was (another process had meanwhile installed the certificate). */
void Leec_gov_order_done(leec_governor *g, int64_t admitted_ms,
                         const char *const *domains, size_t n, bool ordered,
                         bool issued);

/* Counts what happened elsewhere (another run, another process: the
 * store's budget log) at at_ms on this governor's clock: a new order
 * (cert false) against the order budget, or a certificate issued for
 * these registered domains (cert true) against the per-domain budget.
 * Stamps outside the windows drop out as usual. false on OOM. */
bool Leec_gov_note(leec_governor *g, int64_t at_ms, bool cert,
                   const char *const *domains, size_t n);

/* May a request go out at now_ms? 0: yes (a token is taken); else the
 * milliseconds to wait. *why (if not NULL) is PAUSED or RATE. */
int64_t Leec_gov_request_admit(leec_governor *g, int64_t now_ms,
                               leec_wait_reason *why);
/* What Leec_gov_request_admit would answer at now, taking nothing: how long
 * a request must wait (0: it may go). A query, for deadlines. */
int64_t Leec_gov_request_wait(const leec_governor *g, int64_t now_ms);

/* Feeds back a response: a 429 or 503 pauses every request to the CA for
 * retry_after_s seconds (a default when absent). Returns the pause end
 * (ms) when this response started or extended a pause, else -1. */
int64_t Leec_gov_on_response(leec_governor *g, int64_t now_ms, long status,
                             long retry_after_s);

/* End of the current CA-wide pause, or 0 when not paused. */
int64_t Leec_gov_paused_until(const leec_governor *g, int64_t now_ms);

/* Orders in flight. */
unsigned Leec_gov_in_flight(const leec_governor *g);

#endif
