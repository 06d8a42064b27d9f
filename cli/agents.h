/* The agents of a run (leec issue, its --batch form, renew), in agents.c:
 * each set up from the options, given the solver the options choose, and
 * its result told the same way by every command. */
#ifndef LEEC_CLI_AGENTS_H
#define LEEC_CLI_AGENTS_H

#include <stddef.h>

#include "ca.h"

/* Per-certificate options: key type, --force, --webroot, ..., and the
 * renewal settings kept with the certificate. 0, or 1 after a message. */
int agents_setup(leec_agent *agent, const ca_opts *o);

/* The solver the options choose (NULL with *rc LEEC_OK: the default
 * http-01 one); the library logs why it fails. */
leec_solver *agents_make_solver(leec_ctx *ctx, const ca_opts *o, leec_code *rc);

/* The solvers of a run, one per distinct configuration (the solvers are
 * the context's: freed with it). */
typedef struct agents_solvers {
    struct agents_solver *v;
    size_t n;
} agents_solvers;
/* Sets agent's solver from o (nothing for http-01: the responder, or
 * agents_setup's webroot), made once per configuration in cache. 0, or 1
 * after a message. */
int agents_solver_set(leec_ctx *ctx, leec_agent *agent, const ca_opts *o,
                      agents_solvers *cache);
/* Forgets cache (before or after its context is freed). */
void agents_solvers_clear(agents_solvers *cache);

/* lc_settings_json(o) as compact JSON text, malloc'd (NULL: no memory). */
char *agents_settings_text(const ca_opts *o);

/* lc_opts_of_fn for runs where every agent has the options o (ud). */
const ca_opts *agents_opts_of(void *ud, leec_agent *agent);

/* The built-in http-01 responder (--http-port) and the solver of the other
 * options, given to each of the agents. 0 or a status. */
int agents_listen(leec_ctx *ctx, const ca_opts *o, leec_agent *const *agents,
                  size_t n);

/* "issued", "fresh", "failed". */
const char *agents_outcome_name(leec_outcome out);

/* The result object of one certificate (cert_name, outcome, names, live,
 * [requests,] seconds, [error, problem]). names is stolen. requests < 0:
 * left out. */
json_t *agents_result_json(leec_agent *agent, leec_store *store, json_t *names,
                           long requests, double seconds);

/* "message: detail (type)" of a failed agent, malloc'd (NULL: no memory). */
char *agents_failure_text(const leec_agent *agent);

#endif
