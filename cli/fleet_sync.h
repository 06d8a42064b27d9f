/* The fleet daemon's copy of the shared store in DIR (live/), kept on a
 * thread of its own: its reads of the shared store, its installs in DIR
 * (fsync) and the deploy hook never hold up the daemon's event loop, where
 * the certificates' requests to the CA are. */
#ifndef LEEC_CLI_FLEET_SYNC_H
#define LEEC_CLI_FLEET_SYNC_H

#include <stdarg.h>

#include "leec/leec.h"
#include "leec/store.h"

typedef struct fl_sync fl_sync;

/* How the thread reports (0 error, 1 warning, 2 notice, 3 info). */
typedef void (*fl_sync_say_fn)(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Called on the thread after each full look, with its connection to the
 * shared store (the metrics table read again there, off the loop). */
typedef void (*fl_sync_after_fn)(void *ud, leec_store *shared);

/* Starts the thread. shared: a connection of its own to the shared store,
 * local: DIR's store; both taken (freed by fl_sync_stop, also on failure).
 * It looks at every certificate at once, then every interval_s seconds,
 * and runs deploy_hook (NULL: none; borrowed, must outlive the thread)
 * for each certificate whose copy changed, then after (NULL: none) with
 * ud. NULL on failure. */
fl_sync *fl_sync_start(leec_store *shared, leec_store *local,
                       unsigned interval_s, const char *deploy_hook,
                       fl_sync_say_fn say, fl_sync_after_fn after, void *ud);
/* Look at name soon (another node installed a version). */
void fl_sync_name(fl_sync *s, const char *name);
/* Copy v, the current version of name the caller read (its own install),
 * soon: v taken (cleared here), no read. */
void fl_sync_version(fl_sync *s, const char *name, leec_store_version *v);
/* A full look soon (SIGHUP). */
void fl_sync_all(fl_sync *s);
/* Stops the thread (what it is doing ends first), frees everything. */
void fl_sync_stop(fl_sync *s);

#endif
