/* leec daemon --metrics-listen ADDR:PORT: the daemon's state for a
 * monitoring system, OpenMetrics text at /metrics and JSON at /status,
 * served by libmicrohttpd on its own thread.
 *
 * The daemon's thread feeds it (each call takes the mutex and changes the
 * table the server reads): the certificates as the store plans them after
 * each certificate and each pass, the counters of each CA context before
 * it is freed, the passes. The server's thread renders that table under
 * the same mutex; it never touches a context or the store. */
#ifndef LEEC_CLI_METRICS_H
#define LEEC_CLI_METRICS_H

#include <stdbool.h>
#include <time.h>

#include "leec/leec.h"

typedef struct cli_metrics cli_metrics;

/* Checks ADDR:PORT (IPv4 a.b.c.d:port or IPv6 [addr]:port, numeric: no
 * name is resolved): true when it is well formed; else false after a
 * message naming opt. */
bool metrics_listen_ok(const char *opt, const char *addr);

/* Listens on addr (as metrics_listen_ok accepts it) and starts the
 * server thread. NULL after a message (address in use, no permission). */
cli_metrics *metrics_start(const char *addr);

/* Stops the server (its thread joined) and frees m. NULL: nothing. */
void metrics_stop(cli_metrics *m);

/* A pass has listed the store: certificates not given to metrics_cert
 * before metrics_pass_end are gone from it and leave the table. A pass
 * that could not list it keeps the table as it was. */
void metrics_pass_begin(cli_metrics *m);

/* One certificate as the pass left it: plan is its renewal plan (read
 * from the store; NULL: the times known so far are kept), ca the CA's
 * directory URL (may be NULL), result what the pass did with it
 * (metrics_result; NULL: the last one is kept, or for a certificate new to
 * the table, what its plan says), now the time of that result. m NULL:
 * nothing. */
void metrics_cert(cli_metrics *m, const char *name, const char *ca,
                  const leec_renewal_plan *plan, const char *result,
                  time_t now);

/* What a pass did with a certificate, as the "result" label says it:
 * "renewed", "not_due", "backing_off", "failed" or "skipped" (it cannot be
 * renewed: its settings are unreadable). ran: an agent was started for it
 * (outcome is then its outcome). A static string. */
const char *metrics_result(bool skipped, bool ran, leec_outcome outcome,
                           const leec_renewal_plan *plan);

/* Adds the counters of ctx (leec_ctx_stat, leec_ctx_foreach_request_count)
 * to those kept for the CA ca (its directory URL): called once per context,
 * before it is freed. m or ctx NULL: nothing. */
void metrics_add_ctx(cli_metrics *m, const char *ca, leec_ctx *ctx);

/* The same for a context that lives on (the fleet's): its counters
 * replace those kept for ca. */
void metrics_set_ctx(cli_metrics *m, const char *ca, leec_ctx *ctx);

/* The pass ended after seconds (monotonic), next: when the daemon looks
 * again (-1: at a signal). */
void metrics_pass_end(cli_metrics *m, double seconds, time_t next);

#endif
