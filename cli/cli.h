/* The leec command line: a client of libleec's public API only. */
#ifndef LEEC_CLI_H
#define LEEC_CLI_H

#include <jansson.h>
#include <stdbool.h>

#include "leec/leec.h"

#define EXIT_USAGE 2

int cmd_issue(int argc, char **argv);
int cmd_show(int argc, char **argv);

/* Default state folder: /var/lib/leec as root, else $XDG_DATA_HOME/leec
 * (~/.local/share/leec). malloc'd. */
char *cli_default_dir(void);

/* Log callback writing "leec: msg" lines to stderr. */
void cli_log(void *userdata, leec_log_level level, const char *msg);

/* Prints a JSON value to stdout followed by a newline. */
void cli_print_json(json_t *v);

/* The problem document as JSON (NULL for NULL). */
json_t *cli_problem_json(const leec_problem *p);

/* "YYYY-MM-DDTHH:MM:SSZ" into buf. */
void cli_iso_time(time_t t, char *buf, size_t len);

#endif
