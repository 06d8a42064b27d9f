#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "agents.h"
#include "events.h"

/* The members the plan of a certificate gives its lines, under the names
 * leec list --json gives them. */
static void plan_members(json_t *j, const leec_renewal_plan *pl)
{
    time_t next = pl->retry_at > pl->due ? pl->retry_at : pl->due;
    if (pl->not_after)
        json_object_set_new(j, "not_after", jo_time(pl->not_after));
    json_object_set_new(j, "next_renewal", jo_time(next));
    json_object_set_new(j, "renewal_rule",
                        json_string(leec_renewal_plan_rule(pl)));
    if (pl->failures)
        json_object_set_new(j, "failures",
                            json_pack("{s:i, s:o, s:s?}", "count",
                                      (int)pl->failures, "retry_at",
                                      jo_time(pl->retry_at), "last_error",
                                      pl->last_error));
    if (pl->broken)
        json_object_set_new(j, "broken", json_string(pl->broken));
}

void ev_cert(leec_store *store, const char *cert_name, const char *const *names,
             size_t nnames, leec_agent *agent, const char *outcome,
             const char *error, double seconds, const leec_renewal_plan *pl)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < nnames; i++)
        json_array_append_new(arr, json_string(names[i]));
    json_t *j = NULL;
    if (agent) {
        j = agents_result_json(agent, store, arr, -1, seconds);
    } else {
        char *live = leec_store_live_path(store, cert_name);
        /* Only a folder that is there, as agents_result_json says. */
        if (live && access(live, F_OK) != 0) {
            free(live);
            live = NULL;
        }
        j = json_pack("{s:s, s:s, s:o, s:s?}", "cert_name", cert_name,
                      "outcome", outcome, "names", arr, "live", live);
        free(live);
        if (j && error)
            json_object_set_new(j, "error", json_string(error));
    }
    if (!j)
        return;
    if (pl)
        plan_members(j, pl);
    jo_event("certificate", j);
}

void ev_plan(const char *cert_name, const char *action,
             const leec_renewal_plan *pl, const char *why)
{
    json_t *j =
        json_pack("{s:s, s:s}", "cert_name", cert_name, "action", action);
    if (j && pl) {
        plan_members(j, pl);
        json_object_set_new(j, "expired",
                            json_boolean(pl->not_after <= time(NULL)));
    }
    if (j && why)
        json_object_set_new(j, "error", json_string(why));
    jo_event("plan", j);
}

void ev_pass_begun(size_t certificates)
{
    jo_event("pass_begun",
             json_pack("{s:I}", "certificates", (json_int_t)certificates));
}

void ev_pass_ended(const ev_counts *n, int status, double seconds)
{
    jo_event("pass_ended",
             json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:b, s:f}",
                       "certificates", (int)n->certificates, "issued",
                       (int)n->issued, "fresh", (int)n->fresh, "deferred",
                       (int)n->deferred, "failed", (int)n->failed, "skipped",
                       (int)n->skipped, "hook_failures", (int)n->hook_failures,
                       "broken", (int)n->broken, "ok", status == 0, "seconds",
                       seconds));
}
