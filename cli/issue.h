/* The options of the commands that talk to the CA, and what they share:
 * ca.c (options, context, loop, operations) and issue.c (agents, solvers,
 * results; the single-certificate and batch forms of leec issue). */
#ifndef LEEC_CLI_ISSUE_H
#define LEEC_CLI_ISSUE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "cli.h"

/* How long a run waits (--max-wait, --order-timeout, --lock-timeout):
 * bounded, and said when exceeded. */
typedef struct issue_waits {
    unsigned max_wait;      /* the CA's Retry-After waited in the run, s */
    unsigned order_timeout; /* an order or authorization stuck, s */
    unsigned lock_timeout;  /* another process's lock, s */
} issue_waits;
#define ISSUE_MAX_WAIT_S        60  /* issue and renew: a one-shot run */
#define ISSUE_DAEMON_MAX_WAIT_S 600 /* longer waits resume at the time */
#define ISSUE_WAITS(max_wait)                                                  \
    ((issue_waits){(max_wait), LEEC_ORDER_TIMEOUT_DEFAULT_S,                   \
                   LEEC_LOCK_TIMEOUT_DEFAULT_S})

typedef struct issue_opts {
    const char **names; /* -d NAME ... (single form) */
    size_t nnames;
    const char *cert_name;
    const char *batch; /* --batch FILE ("-": stdin) */
    const char *server;
    const char *ca_bundle;
    const char *http_port;
    const char *webroot;
    const char *dns; /* --dns rfc2136|ovh|hook */
    const char *dns_server;
    const char *tsig_key;
    const char *dns_zone;
    const char *dns_credentials;
    const char *dns_hook;
    const char *dns_resolver;
    int dns_propagation;    /* seconds; -1: the default */
    unsigned dns_auth_port; /* 0: 53 */
    const char *hook;       /* uacme's hook, any challenge type */
    const char *tls_port;   /* tls-alpn-01 responder */
    leec_key_type key_type;
    const char *email;
    const char *eab_kid;           /* --eab-kid: External Account Binding */
    const char *eab_hmac_key;      /* --eab-hmac-key (base64url, secret) */
    const char *eab_hmac_key_file; /* --eab-hmac-key-file FILE */
    bool agree_tos;
    bool throwaway;
    bool force;
    char *dir;
    int verbose;
    bool quiet;
    bool json;
    unsigned max_parallel; /* default 10; 0: unlimited */
    bool rate_set;
    double rate_limit; /* requests per second */
    bool budget_orders_set;
    unsigned budget_orders; /* new orders per 3 hours; 0: off */
    bool budget_domain_set;
    unsigned budget_domain; /* certificates per registered domain per 7 days */
    const char *preferred_chain; /* --preferred-chain CN */
    const char *profile;         /* --profile NAME */
    bool reuse_key;              /* --reuse-key */
    const char *pre_hook;        /* --pre-hook CMD */
    const char *post_hook;       /* --post-hook CMD */
    const char *deploy_hook;     /* --deploy-hook CMD */
    issue_waits waits;
    char *settings; /* the renewal settings as JSON text, made once per run
                       (issue_settings_text) and owned by its maker; NULL:
                       issue_agent_setup makes them for each agent */
} issue_opts;

/* Set by SIGINT/SIGTERM once issue_signals() ran: the signal number. */
extern volatile sig_atomic_t issue_stop_signal;
void issue_signals(void);

/* Runs the context's loop until its work is done or a stop signal came;
 * the loop's error, or LEEC_OK. */
leec_code issue_run(leec_ctx *ctx);

/* How a run that ended with rc went: 0, or the status after a message
 * (128 + the signal when one stopped it, 1 after a loop error). */
int issue_run_status(leec_code rc);

/* Monotonic seconds. */
double issue_now_s(void);

/* The options before parsing: none given, and the defaults (--max-parallel
 * 10, the default DNS propagation timeout). */
void issue_opts_init(issue_opts *o);

/* The options of every command that talks to the CA (--server,
 * --ca-bundle, --dir, --agree-tos, -v, -q): one copy of their parsing.
 * Their codes sit above the commands' own. */
enum {
    OPT_CA_SERVER = 1000,
    OPT_CA_BUNDLE_FILE,
    OPT_CA_DIR,
    OPT_CA_AGREE_TOS,
    OPT_CA_EAB_KEY_FILE, /* issue and account register only */
    OPT_WAIT_MAX,        /* issue, renew, daemon: ISSUE_WAIT_OPTIONS */
    OPT_WAIT_ORDER,
    OPT_WAIT_LOCK,
};
/* clang-format off */
#define ISSUE_WAIT_OPTIONS                                                     \
    {"max-wait", required_argument, NULL, OPT_WAIT_MAX},                       \
    {"order-timeout", required_argument, NULL, OPT_WAIT_ORDER},                \
    {"lock-timeout", required_argument, NULL, OPT_WAIT_LOCK}
/* clang-format on */
/* Takes one of ISSUE_WAIT_OPTIONS into *w: 0, CLI_OPT_OTHER (not one of
 * them), EXIT_USAGE after a message. */
int issue_wait_option(int c, const char *arg, issue_waits *w);
/* --eab-hmac-key-file: not in ISSUE_CA_OPTIONS (revoke has no EAB). */
#define ISSUE_EAB_KEY_FILE_OPTION                                              \
    {                                                                          \
        "eab-hmac-key-file", required_argument, NULL, OPT_CA_EAB_KEY_FILE      \
    }
#define ISSUE_USAGE_EAB_KEY_FILE                                               \
    "      --eab-hmac-key-file FILE  read the MAC key from FILE (not\n"        \
    "                           readable by group or others) rather than\n"    \
    "                           the command line\n"
/* One row a line: clang-format would pack them. */
/* clang-format off */
#define ISSUE_CA_OPTIONS                                                       \
    {"server", required_argument, NULL, OPT_CA_SERVER},                        \
    {"ca-bundle", required_argument, NULL, OPT_CA_BUNDLE_FILE},                \
    {"dir", required_argument, NULL, OPT_CA_DIR},                              \
    {"agree-tos", no_argument, NULL, OPT_CA_AGREE_TOS},                        \
    {"verbose", no_argument, NULL, 'v'},                                       \
    {"quiet", no_argument, NULL, 'q'}

/* Their help lines, in one place for every command's usage. */
#define ISSUE_USAGE_SERVER                                                     \
    "      --server URL         ACME directory URL, or letsencrypt,\n"         \
    "                           letsencrypt-staging (default: letsencrypt)\n"  \
    "      --ca-bundle FILE     trust this PEM file for the CA instead of\n"   \
    "                           the system store\n"
#define ISSUE_USAGE_DIR                                                        \
    "      --dir DIR            state folder (default /var/lib/leec as\n"      \
    "                           root, else ~/.local/share/leec)\n"
#define ISSUE_USAGE_WAITS(max_wait)                                            \
    "      --max-wait S         when the CA asks to wait longer than S\n"       \
    "                           seconds (Retry-After), end the certificate\n"  \
    "                           and say when to try again (default " #max_wait \
    ")\n"                                                                      \
    "      --order-timeout S    an order or authorization stuck pending or\n"  \
    "                           processing fails after S seconds (90)\n"      \
    "      --lock-timeout S     wait at most S seconds for another leec\n"     \
    "                           working on the same certificate (300)\n"
#define ISSUE_USAGE_VERBOSE                                                    \
    "  -v, --verbose            more output (twice: debug)\n"                  \
    "  -q, --quiet              errors only\n"
/* clang-format on */

/* Takes getopt's answer c if it is one of those, as a cli_cmd's take
 * does: 0 taken, CLI_OPT_OTHER not one of them, EXIT_USAGE after a message
 * (out of memory). */
int issue_ca_option(int c, const char *arg, issue_opts *o);

/* A context configured from the options (server, trust, account,
 * governor limits), without a store yet. NULL with *status set (after a
 * message on stderr). */
leec_ctx *issue_ctx_new(const issue_opts *o, leec_log_fn log, void *logud,
                        int *status);

/* Opens (creates) the --dir store into ctx. 0, or 1 after a message. */
int issue_open_store(leec_ctx *ctx, const issue_opts *o);

/* One operation on the CA outside any agent (leec account ACTION, leec
 * revoke): what its callback reported, and how its failures are told
 * ("leec: HEAD WHAT SEP error[: detail][ (type)]"). Zero-initialise but
 * for the message parts; issue_op_clear frees it. */
typedef struct issue_op {
    const char *head, *what, *sep;
    bool finished; /* its callback ran */
    leec_code rc;
    json_t *problem; /* the CA's problem document (cli_problem_json) */
    char *problem_type;
    char *problem_detail;
} issue_op;

/* Records the callback's outcome into the issue_op ud: a leec_revoke_fn. */
void issue_op_done(void *ud, leec_code rc, const leec_problem *p);

/* Tells op's failure rc on stderr, with the CA's problem once there. */
void issue_op_failure(const issue_op *op, leec_code rc);

/* Runs the context's loop until its work is done: 0 when op's callback
 * ran, else 1 after the failure message (the loop's error, or
 * LEEC_E_STATE when the loop ended without it). */
int issue_op_run(leec_ctx *ctx, issue_op *op);

void issue_op_clear(issue_op *op);

/* Per-certificate options: key type, --force, --webroot, ..., and the
 * renewal settings kept with the certificate. 0, or 1 after a message. */
int issue_agent_setup(leec_agent *agent, const issue_opts *o);

/* The solver the options choose (NULL with *rc LEEC_OK: the default
 * http-01 one); the library logs why it fails. */
leec_solver *issue_make_solver(leec_ctx *ctx, const issue_opts *o,
                               leec_code *rc);

/* lc_settings_json(o) as compact JSON text, malloc'd (NULL: no memory). */
char *issue_settings_text(const issue_opts *o);

/* lc_opts_of_fn for runs where every agent has the options o (ud). */
const issue_opts *issue_opts_of(void *ud, leec_agent *agent);

/* The built-in http-01 responder (--http-port) and the solver of the other
 * options, given to each of the agents. 0 or a status. */
int issue_listen(leec_ctx *ctx, const issue_opts *o, leec_agent *const *agents,
                 size_t n);

/* "issued", "fresh", "failed". */
const char *issue_outcome_name(leec_outcome out);

/* The result object of one certificate (cert_name, outcome, names, live,
 * [requests,] seconds, [error, problem]). names is stolen. requests < 0:
 * left out. */
json_t *issue_result_json(leec_agent *agent, leec_store *store, json_t *names,
                          long requests, double seconds);

/* "message: detail (type)" of a failed agent, malloc'd (NULL: no memory). */
char *issue_failure_text(const leec_agent *agent);

/* leec issue --batch FILE. */
int issue_batch(const issue_opts *o);

#endif
