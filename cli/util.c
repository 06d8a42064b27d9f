#define _GNU_SOURCE
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

char *cli_default_dir(void)
{
    const char *suffix = "/leec";
    char *out = NULL;
    if (geteuid() == 0)
        return strdup("/var/lib/leec");
    const char *xdg = getenv("XDG_DATA_HOME");
    if (xdg && *xdg == '/') {
        size_t n = strlen(xdg) + strlen(suffix) + 1;
        if ((out = malloc(n)))
            snprintf(out, n, "%s%s", xdg, suffix);
        return out;
    }
    const char *home = getenv("HOME");
    if (!home || *home != '/') {
        struct passwd *pw = getpwuid(getuid());
        home = pw ? pw->pw_dir : NULL;
    }
    if (!home)
        return NULL;
    const char *mid = "/.local/share";
    size_t n = strlen(home) + strlen(mid) + strlen(suffix) + 1;
    if ((out = malloc(n)))
        snprintf(out, n, "%s%s%s", home, mid, suffix);
    return out;
}

void cli_log(void *userdata, leec_log_level level, const char *msg)
{
    (void)userdata;
    static const char *const tag[] = {"error: ", "warning: ", "", ""};
    fprintf(stderr, "leec: %s%s\n", tag[level], msg);
}

void cli_print_json(json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *cli_problem_json(const leec_problem *p)
{
    if (!p)
        return json_null();
    json_t *subs = json_array();
    for (size_t i = 0; i < p->nsub; i++) {
        const leec_subproblem *s = &p->sub[i];
        json_array_append_new(
            subs, json_pack("{s:o, s:o, s:{s:o, s:o}}", "type",
                            str_or_null(s->type), "detail",
                            str_or_null(s->detail), "identifier", "type",
                            str_or_null(s->id_type), "value",
                            str_or_null(s->id_value)));
    }
    return json_pack("{s:o, s:o, s:I, s:o}", "type", str_or_null(p->type),
                     "detail", str_or_null(p->detail), "status",
                     (json_int_t)p->status, "subproblems", subs);
}

void cli_iso_time(time_t t, char *buf, size_t len)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
