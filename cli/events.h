/* The event lines of leec renew --json and leec daemon --json (in
 * events.c): one compact JSON object a line on stdout, flushed at once,
 * each with "event" and "time" (doc/json/renew.schema.json and
 * daemon.schema.json say every member). renew.c says when; this file
 * says what each line holds. */
#ifndef LEEC_CLI_EVENTS_H
#define LEEC_CLI_EVENTS_H

#include <stddef.h>

#include "jsonout.h"
#include "leec/leec.h"

/* What a pass did, by outcome (the "pass_ended" event). */
typedef struct ev_counts {
    unsigned certificates, issued, fresh, deferred, failed, skipped;
    unsigned hook_failures, broken;
} ev_counts;

/* "certificate": what became of one certificate, as leec issue --json
 * tells it (cert_name, outcome, names, live, ...), with its renewal plan
 * pl as the store has it now (not_after, next_renewal, renewal_rule,
 * failures, broken; NULL: none known), read by the caller, who has it
 * already for its own message. agent (NULL: none ran) gives the outcome,
 * the order and the error; else outcome ("fresh", "deferred", "failed",
 * "skipped") and error (NULL: none) do. */
void ev_cert(leec_store *store, const char *cert_name, const char *const *names,
             size_t nnames, leec_agent *agent, const char *outcome,
             const char *error, double seconds, const leec_renewal_plan *pl);

/* "plan" (renew --dry-run): what a run would do with cert_name, action
 * "renew", "wait", "back_off", "ask_ari" or "skip" (why: skip's reason),
 * by its plan pl (NULL for skip). */
void ev_plan(const char *cert_name, const char *action,
             const leec_renewal_plan *pl, const char *why);

/* "pass_begun" (the certificates of the pass) and "pass_ended" (what
 * became of them; status: the pass's exit status so far). */
void ev_pass_begun(size_t certificates);
void ev_pass_ended(const ev_counts *n, int status, double seconds);

#endif
