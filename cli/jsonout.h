/* --json output shared by the commands beyond what cli.h has (in
 * jsonout.c): one compact line per event for the streams (leec renew,
 * leec daemon), and the failure form every single-object command ends
 * with ("ok": false, "error", and the CA's "problem" when it sent one).
 * The schemas of each command's output are in doc/json/. */
#ifndef LEEC_CLI_JSONOUT_H
#define LEEC_CLI_JSONOUT_H

#include <jansson.h>
#include <stdbool.h>

/* v as one compact line on stdout, flushed at once (a reader of a pipe
 * sees each event when it happens). v is not stolen. */
void jo_line(json_t *v);

/* One event line: {"event": event, "time": now (ISO 8601 UTC), then the
 * members of fields} through jo_line. fields (an object, or NULL) is
 * stolen. */
void jo_event(const char *event, json_t *fields);

/* The failure of a single-object command: doc (stolen; NULL: a new
 * object) with "ok": false, "error": error, and "problem" when problem
 * (a cli_problem_json object, not stolen) is not NULL, printed as
 * cli_print_json does. */
void jo_failure(json_t *doc, const char *error, json_t *problem);

/* t as "YYYY-MM-DDTHH:MM:SSZ", or null for 0. */
json_t *jo_time(time_t t);

#endif
