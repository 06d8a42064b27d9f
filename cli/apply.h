/* leec apply and the configuration file in leec daemon (apply.c). */
#ifndef LEEC_CLI_APPLY_H
#define LEEC_CLI_APPLY_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "config.h"

/* The daemon's file: read at start, again at each pass when it changed on
 * disk (SIGHUP starts a pass); an invalid one is told and the last valid
 * one kept. Filled by config_daemon_start; config_daemon_free ends it. */
typedef struct config_daemon {
    char *path; /* NULL: no file (none given, no default one) */
    cfg cur;    /* the last valid file */
    bool have, loaded, syslog;
    bool fresh;   /* loaded since the last pass */
    time_t mtime; /* of the file last read (-1: none) */
    long mtime_ns;
    off_t size;
    ino_t ino;
    time_t retry;            /* a pass when ordering failed (-1: none) */
    char **argv;             /* the daemon's arguments without --config */
    char *dir;               /* the file's dir, given to the daemon as --dir */
    char *store, *store_key; /* the file's store, handed to cli_set_store */
} config_daemon;

/* Takes --config FILE out of the daemon's arguments (*argv becomes an
 * array of d's), reads the file (or the default one when it exists), uses
 * its store and state folder unless --store or --dir name others, and on
 * a store shared by a fleet queues its certificates. 0, or a status after
 * a message (an invalid file: the daemon does not start). */
int config_daemon_start(int *argc, char ***argv, config_daemon *d);

/* Before each pass of the daemon: the file read again if it changed, its
 * certificates applied as leec apply does (into the state folder dir).
 * json: each certificate that was ordered, failed or deferred (all with
 * verbose), and the summary when something happened, as an "apply" event
 * of the daemon's --json stream ("result": apply's --json line). */
void config_daemon_pass(config_daemon *d, const char *dir, int verbose,
                        bool quiet, bool json);

/* wake, or earlier when a certificate of the file could not be ordered
 * (tried again an hour later). -1: never. */
time_t config_daemon_wake(const config_daemon *d, time_t wake);

/* On a fleet node's SIGHUP (ud: the config_daemon): the file read again
 * when it changed and, when it did, its new and changed certificates
 * queued as at the start (an invalid file told, the last valid one kept). */
void config_daemon_requeue(void *ud);

void config_daemon_free(config_daemon *d);

#endif
