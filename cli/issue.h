/* leec issue run from another command (leec apply, config.c): the table of
 * its options, and a run given its arguments, its batch from memory and
 * each certificate's result handed back rather than printed. */
#ifndef LEEC_CLI_ISSUE_H
#define LEEC_CLI_ISSUE_H

#include <stdio.h>

#include "ca.h"

/* One certificate of a batch finished: its agent (the context's), its
 * outcome, and the object `leec issue --json` prints for it (borrowed). */
typedef void (*issue_result_fn)(void *ud, leec_agent *agent,
                                leec_outcome outcome, json_t *result);

typedef struct issue_feed {
    FILE *batch; /* --batch's lines, read instead of its path (which only
                    names it in messages) */
    issue_result_fn on_result; /* NULL: printed as leec issue does */
    void *ud;
    leec_log_fn log; /* the library's messages (NULL: cli_log) */
} issue_feed;

/* leec issue's long options ({NULL} ends them). */
extern const struct option issue_options[];

/* leec issue ARGV (argv[0] the command's name), with feed (NULL: as the
 * command). Its exit status (0 after --help). */
int issue_run(int argc, char **argv, const issue_feed *feed);

/* The options of argv read into *o (ca_opts_init'd, its strings argv's)
 * and checked as leec issue does. 0, -1 after --help, or a status after a
 * message. Free o->names and o->dir after. */
int issue_parse(int argc, char **argv, ca_opts *o);

#endif
