/* What every command that talks to the CA shares (issue, renew, account,
 * revoke), in ca.c: the options (issue's are the superset, renew reads the
 * per-certificate ones back from a certificate's settings), the context
 * made from them, the signals that stop a run, the event loop, and one
 * context-level operation run until its callback fires. */
#ifndef LEEC_CLI_CA_H
#define LEEC_CLI_CA_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "cli.h"

/* How long a run waits (--max-wait, --order-timeout, --lock-timeout):
 * bounded, and said when exceeded. */
typedef struct ca_waits {
    unsigned max_wait;      /* the CA's Retry-After waited in the run, s */
    unsigned order_timeout; /* an order or authorization stuck, s */
    unsigned lock_timeout;  /* another process's lock, s */
} ca_waits;
#define CA_MAX_WAIT_S        60  /* issue and renew: a one-shot run */
#define CA_DAEMON_MAX_WAIT_S 600 /* longer waits resume at the time */
#define CA_WAITS(max_wait)                                                     \
    ((ca_waits){(max_wait), LEEC_ORDER_TIMEOUT_DEFAULT_S,                      \
                LEEC_LOCK_TIMEOUT_DEFAULT_S})

/* One run's options. Every command that talks to the CA fills the common
 * ones (ca_option); the per-certificate ones (names, solver, key, hooks)
 * are leec issue's, or renew's read back from a certificate's settings. */
typedef struct ca_opts {
    const char **names; /* -d NAME ... (single form) */
    size_t nnames;
    const char *cert_name;
    const char *batch; /* --batch FILE ("-": stdin) */
    const char *server;
    const char *ca_bundle;
    const char *http_port;
    const char *webroot;
    const char *dns; /* --dns rfc2136|ovh|hook */
    /* --dns-persist (with --dns, that provider creates missing records) */
    bool dns_persist;
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
    bool key_type_set; /* given (--key-type, the renewal settings): a
                          certificate of another type is ordered again */
    const char *email;
    leec_key_type account_key_type; /* --account-key-type: a new account's */
    bool account_key_type_set;
    const char *eab_kid;           /* --eab-kid: External Account Binding */
    const char *eab_hmac_key;      /* --eab-hmac-key (base64url, secret) */
    const char *eab_hmac_key_file; /* --eab-hmac-key-file FILE */
    bool agree_tos;
    bool throwaway;
    bool throwaway_per_cert; /* --throwaway-account=per-certificate */
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
    bool queue;                  /* --queue: record for the fleet */
    ca_waits waits;
    char *settings; /* the renewal settings as JSON text, made once per run
                       (agents_settings_text) and owned by its maker; NULL:
                       agents_setup makes them for each agent */
    const struct issue_feed *feed; /* issue.h: leec apply's batch, or NULL */
} ca_opts;

/* Set by SIGINT/SIGTERM once ca_signals() ran: the signal number. */
extern volatile sig_atomic_t ca_stop_signal;
void ca_signals(void);

/* Runs the context's loop until its work is done; after a stop signal,
 * until what the solvers put up is removed (leec_ctx_stop), at most 30 s
 * or until another signal. The loop's error, or LEEC_OK. */
leec_code ca_run(leec_ctx *ctx);
/* What a stop removes, for its messages, from the run's options. */
void ca_stop_describe(const ca_opts *o);
/* For a run's own loop, at each turn: false to go on; on the first turn
 * after a stop signal, stops the run (and says what it removes); true
 * when the loop must end now (another signal, or 30 s). */
bool ca_stop_turn(leec_ctx *ctx);
/* After a stopped run: "interrupted; the DNS records were removed", or
 * what went wrong (static text). */
const char *ca_stop_text(void);

/* How a run that ended with rc went: 0, or the status after a message
 * (128 + the signal when one stopped it, 1 after a loop error). */
int ca_run_status(leec_code rc);

/* The options before parsing: none given, and the defaults (--max-parallel
 * 10, the default DNS propagation timeout). */
void ca_opts_init(ca_opts *o);

/* The options of every command that talks to the CA (--server,
 * --ca-bundle, --dir, --agree-tos, -v, -q): one copy of their parsing.
 * Their codes sit above the commands' own. */
enum {
    OPT_CA_SERVER = 1000,
    OPT_CA_BUNDLE_FILE,
    OPT_CA_DIR,
    OPT_CA_AGREE_TOS,
    OPT_CA_EAB_KEY_FILE, /* issue and account register only */
    OPT_WAIT_MAX,        /* issue, renew, daemon: CA_WAIT_OPTIONS */
    OPT_WAIT_ORDER,
    OPT_WAIT_LOCK,
};
/* clang-format off */
#define CA_WAIT_OPTIONS                                                     \
    {"max-wait", required_argument, NULL, OPT_WAIT_MAX},                       \
    {"order-timeout", required_argument, NULL, OPT_WAIT_ORDER},                \
    {"lock-timeout", required_argument, NULL, OPT_WAIT_LOCK}
/* clang-format on */
/* Takes one of CA_WAIT_OPTIONS into *w: 0, CLI_OPT_OTHER (not one of
 * them), EXIT_USAGE after a message. */
int ca_wait_option(int c, const char *arg, ca_waits *w);
/* --eab-hmac-key-file: not in CA_OPTIONS (revoke has no EAB). */
#define CA_EAB_KEY_FILE_OPTION                                                 \
    {                                                                          \
        "eab-hmac-key-file", required_argument, NULL, OPT_CA_EAB_KEY_FILE      \
    }
#define CA_USAGE_EAB_KEY_FILE                                                  \
    "      --eab-hmac-key-file FILE  read the MAC key from FILE (not\n"        \
    "                           readable by group or others) rather than\n"    \
    "                           the command line\n"
/* One row a line: clang-format would pack them. */
/* clang-format off */
#define CA_OPTIONS                                                       \
    {"server", required_argument, NULL, OPT_CA_SERVER},                        \
    {"ca-bundle", required_argument, NULL, OPT_CA_BUNDLE_FILE},                \
    {"dir", required_argument, NULL, OPT_CA_DIR},                              \
    {"agree-tos", no_argument, NULL, OPT_CA_AGREE_TOS},                        \
    {"verbose", no_argument, NULL, 'v'},                                       \
    {"quiet", no_argument, NULL, 'q'}

/* Their help lines, in one place for every command's usage. */
#define CA_USAGE_SERVER                                                     \
    "      --server URL         ACME directory URL, or letsencrypt,\n"         \
    "                           letsencrypt-staging (default: letsencrypt)\n"  \
    "      --ca-bundle FILE     trust this PEM file for the CA instead of\n"   \
    "                           the system store\n"
#define CA_USAGE_DIR                                                        \
    "      --dir DIR            state folder (default /var/lib/leec as\n"      \
    "                           root, else ~/.local/share/leec)\n"
#define CA_USAGE_WAITS(max_wait)                                            \
    "      --max-wait S         when the CA asks to wait longer than S\n"       \
    "                           seconds (Retry-After), end the certificate\n"  \
    "                           and say when to try again (default " #max_wait \
    ")\n"                                                                      \
    "      --order-timeout S    an order or authorization stuck pending or\n"  \
    "                           processing fails after S seconds (90)\n"      \
    "      --lock-timeout S     wait at most S seconds for another leec\n"     \
    "                           working on the same certificate (300)\n"
#define CA_USAGE_VERBOSE                                                    \
    "  -v, --verbose            more output (twice: debug)\n"                  \
    "  -q, --quiet              errors only\n"
/* clang-format on */

/* Takes getopt's answer c if it is one of those, as a cli_cmd's take
 * does: 0 taken, CLI_OPT_OTHER not one of them, EXIT_USAGE after a message
 * (out of memory). */
int ca_option(int c, const char *arg, ca_opts *o);

/* A context configured from the options (server, trust, account,
 * governor limits), without a store yet. NULL with *status set (after a
 * message on stderr). */
leec_ctx *ca_ctx_new(const ca_opts *o, leec_log_fn log, void *logud,
                     int *status);

/* Opens (creates) the --dir store into ctx. 0, or 1 after a message. */
int ca_open_store(leec_ctx *ctx, const ca_opts *o);

/* One operation on the CA outside any agent (leec account ACTION, leec
 * revoke): what its callback reported, and how its failures are told
 * ("leec: HEAD WHAT SEP error[: detail][ (type)]"). Zero-initialise but
 * for the message parts; ca_op_clear frees it. */
typedef struct ca_op {
    const char *head, *what, *sep;
    bool finished; /* its callback ran */
    leec_code rc;
    json_t *problem; /* the CA's problem document (cli_problem_json) */
    char *problem_type;
    char *problem_detail;
} ca_op;

/* Records the callback's outcome into the ca_op ud: a leec_revoke_fn. */
void ca_op_done(void *ud, leec_code rc, const leec_problem *p);

/* Tells op's failure rc on stderr, with the CA's problem once there. */
void ca_op_failure(const ca_op *op, leec_code rc);

/* Runs the context's loop until its work is done: 0 when op's callback
 * ran, else 1 after the failure message (the loop's error, or
 * LEEC_E_STATE when the loop ended without it). */
int ca_op_run(leec_ctx *ctx, ca_op *op);

void ca_op_clear(ca_op *op);

#endif
