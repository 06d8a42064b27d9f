/* The leec command line: a client of libleec's public API only. */
#ifndef LEEC_CLI_H
#define LEEC_CLI_H

#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>

#include "leec/leec.h"
#include "leec/store.h"

#define EXIT_USAGE 2

int cmd_issue(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_reset(int argc, char **argv);
int cmd_dhparam(int argc, char **argv);
int cmd_revoke(int argc, char **argv);
int cmd_ca_cert(int argc, char **argv);
int cmd_account(int argc, char **argv);
/* leec account dns-persist-record (cli/persist.c). */
int cmd_account_persist(int argc, char **argv);
int cmd_renew(int argc, char **argv);
int cmd_daemon(int argc, char **argv);
int cmd_store(int argc, char **argv);
int cmd_apply(int argc, char **argv);  /* apply.c */
int cmd_config(int argc, char **argv); /* config.c */
/* leec daemon on a store shared by a fleet (fleet.c). on_hup, when not
 * NULL, is called with ud from the node's loop on each SIGHUP, before it
 * claims (the daemon's configuration file queued again). */
int fleet_daemon(int argc, char **argv, void (*on_hup)(void *ud), void *ud);

/* A command's options, for cli_getopt: each command states them, one loop
 * reads them (and --help, and an unknown option, the same way for all). */
#define CLI_OPT_OTHER (-2) /* take: not one of the command's options */
typedef struct cli_cmd {
    const char *shortopts;         /* with 'h' */
    const struct option *longopts; /* with {"help", ..., 'h'} */
    /* One option getopt_long returned: 0 taken, CLI_OPT_OTHER, or the
     * status to stop with (after a message). */
    int (*take)(void *ud, int c, const char *arg);
    const char *usage;      /* --help prints it on stdout */
    const char *usage_more; /* and this after it, if not NULL (one string
                               literal may hold only 4095 bytes) */
    bool usage_on_error;    /* an unknown option prints it on stderr too */
    /* Non-NULL: exactly one operand after the options, else this message
     * (none, more than one) and the usage on stderr. */
    const char *missing, *extra;
} cli_cmd;

/* Reads argv's options from the first (optind: the first operand after).
 * 0, -1 after --help, or a status (EXIT_USAGE after an unknown option or
 * a wrong number of operands). */
int cli_getopt(const cli_cmd *cmd, int argc, char **argv, void *ud);

/* The options of the commands that only read the state folder (list,
 * show): --dir DIR, --json and --help, and cli_cmd's take for them into a
 * cli_dir_json ud. */
typedef struct cli_dir_json {
    char *dir; /* malloc'd; NULL: none given */
    bool json;
} cli_dir_json;
extern const struct option cli_dir_json_options[];
int cli_take_dir_json(void *ud, int c, const char *arg);

/* --store SPEC and --store-key FILE (taken by main for every command;
 * NULL leaves one as it is), and the node name a PostgreSQL store's leases
 * carry (leec daemon --node). */
void cli_set_store(const char *spec, const char *key_file);
void cli_set_node(const char *node);
/* --store-key's file as given (NULL: none). */
const char *cli_store_key_file(void);
/* --store-old-key: the previous master key, still read (rotation). */
void cli_set_old_store_key(const char *file);
const char *cli_old_store_key(void);
/* The store spec in force: --store, else $LEEC_STORE, else NULL (the
 * state folder). */
const char *cli_store_spec(void);
/* True when the store in force is shared by a fleet (PostgreSQL). */
bool cli_store_shared(void);

/* --dir DIR: *dir becomes a copy of arg. 0, or EXIT_USAGE after a
 * message (out of memory). */
int cli_set_dir(char **dir, const char *arg);

/* *dir, or else the default state folder into it: false after a message. */
bool cli_state_dir(char **dir);

/* The filesystem store of dir (created if needed), or NULL after a
 * message (an unsafe folder: the store's own, naming the fix). */
leec_store *cli_store_open(const char *dir);

/* What to say about rc, returned by a call on store: the store's message
 * for a refusal (LEEC_E_STORE: which path, which fix), else
 * leec_strerror(rc). Valid until the next call on store. */
const char *cli_store_error(leec_store *store, leec_code rc);

/* A secret from a file (--eab-hmac-key-file): at most 4 KiB, surrounding
 * white space removed, refused when group or others may read it. NULL
 * after a message naming opt. Free with cli_free_secret (wipes it). */
char *cli_read_secret(const char *opt, const char *path);
void cli_free_secret(char *s);

/* Default state folder: /var/lib/leec as root, else $XDG_DATA_HOME/leec
 * (~/.local/share/leec). malloc'd. */
char *cli_default_dir(void);

/* Log callback writing "leec: msg" lines to stderr. */
void cli_log(void *userdata, leec_log_level level, const char *msg);

/* A message of a run (renew, apply, the daemon) at a syslog priority:
 * to syslog, else on stderr after "leec: " (warnings and worse, or all
 * when on_stderr), else on stdout; a newline added. */
__attribute__((format(printf, 4, 0))) void
cli_vsay(bool to_syslog, bool on_stderr, int prio, const char *fmt, va_list ap);

/* Prints a JSON value to stdout followed by a newline. */
void cli_print_json(json_t *v);

/* The problem document as JSON (NULL for NULL). */
json_t *cli_problem_json(const leec_problem *p);

/* Monotonic seconds. */
double cli_now_s(void);

/* "YYYY-MM-DDTHH:MM:SSZ" into buf. */
void cli_iso_time(time_t t, char *buf, size_t len);

/* --opt N: a whole number 0..UINT_MAX (false after a message). */
bool cli_parse_unsigned(const char *opt, const char *s, unsigned *out);
/* --opt N: a finite number 0..1e6, e.g. "0.5" (false after a message). */
bool cli_parse_rate(const char *opt, const char *s, double *out);

/* Writes a string from user input to stderr for a message: at most 200
 * bytes, control and non-ASCII bytes as '?'. */
void cli_put_safe(const char *s);
/* The answer to a [y/N] question just asked on stderr: true for "y" or
 * "yes" read from stdin. */
bool cli_confirm_answer(void);

/* A set of names compared without regard to ASCII case, each with the line
 * it was first seen on. Zero-initialise; free with cli_nameset_free. */
typedef struct cli_nameslot {
    char *key; /* lower case */
    unsigned line;
} cli_nameslot;
typedef struct cli_nameset {
    cli_nameslot *v;
    size_t n, cap; /* cap: 0 or a power of two */
} cli_nameset;
/* 1: added; 0: already there (*prev: its line); -1: out of memory. */
int cli_nameset_add(cli_nameset *s, const char *name, unsigned line,
                    unsigned *prev);
void cli_nameset_free(cli_nameset *s);

/* A non-empty option value of at most 256 bytes without control characters
 * (nor spaces unless allowed). */
bool cli_printable_word(const char *s, bool spaces);

#endif
