/* The configuration file (leec.conf, YAML read by libyaml), in config.c:
 * the CA and account, the defaults, and the certificates this machine
 * keeps, each turned into the arguments of `leec issue` (one table of keys:
 * issue's long options), checked as leec issue checks them, with FILE:LINE:
 * COLUMN in every error. leec apply (apply.c) runs them. */
#ifndef LEEC_CLI_CONFIG_H
#define LEEC_CLI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define CFG_MAX_BYTES (4u << 20) /* a bigger file is refused */

/* One certificate of the file. */
typedef struct cfg_cert {
    char *cert_name;
    char **names; /* as written (checked as DNS names) */
    size_t nnames;
    char **args; /* leec issue's options: "--KEY", ["VALUE"], ...: the ca
                    section's, then defaults', then its own (the nearest
                    wins; a solver key drops the solver keys below it) */
    size_t nargs;
    unsigned line, col; /* of its entry */
} cfg_cert;

typedef struct cfg {
    char *path;
    char *dir;               /* defaults' dir (the state folder), or NULL */
    char *store, *store_key; /* defaults' store and store-key, or NULL */
    cfg_cert *certs;
    size_t n;
} cfg;

/* Receives each error, formatted "FILE:LINE:COLUMN: what". */
typedef void (*cfg_err_fn)(void *ud, const char *msg);

/* Reads and checks path into *c (zero-initialised by it). 0: valid; else
 * the number of errors told through err (1 when the file cannot be read).
 * *c is filled only when valid; cfg_free it. */
unsigned cfg_load(const char *path, cfg *c, cfg_err_fn err, void *ud);
void cfg_free(cfg *c);

/* The default file: /etc/leec/leec.conf as root, else
 * $XDG_CONFIG_HOME/leec/leec.conf, else ~/.config/leec/leec.conf. malloc'd
 * (NULL: no home). */
char *cfg_default_path(void);

/* --config FILE: the file named (which must exist), or the default one
 * when it exists (*path NULL when there is none: no file, not an error).
 * Returns 0, or 1 after a message. *path is malloc'd. */
int cfg_locate(const char *given, char **path);

#endif
