#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cli.h"
#include "jsonout.h"

void jo_line(json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (s) {
        /* One line at a time: a fleet node's copy thread writes too. */
        flockfile(stdout);
        fputs(s, stdout);
        fputc('\n', stdout);
        fflush(stdout);
        funlockfile(stdout);
        free(s);
    }
}

json_t *jo_time(time_t t)
{
    char buf[32];
    if (!t)
        return json_null();
    cli_iso_time(t, buf, sizeof buf);
    return json_string(buf);
}

void jo_event(const char *event, json_t *fields)
{
    json_t *j =
        json_pack("{s:s, s:o}", "event", event, "time", jo_time(time(NULL)));
    if (j && fields)
        json_object_update(j, fields);
    json_decref(fields);
    jo_line(j);
    json_decref(j);
}

void jo_failure(json_t *doc, const char *error, json_t *problem)
{
    json_t *j = doc ? doc : json_object();
    if (!j)
        return;
    json_object_set_new(j, "ok", json_false());
    json_object_set_new(j, "error", json_string(error ? error : "failed"));
    if (problem && !json_is_null(problem))
        json_object_set(j, "problem", problem);
    cli_print_json(j);
    json_decref(j);
}
