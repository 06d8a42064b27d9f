/* leec issue --batch: the run's state, which the terminal view
 * (progress.c) reads, and the run itself. */
#ifndef LEEC_CLI_BATCH_H
#define LEEC_CLI_BATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "ca.h"

typedef struct batch batch;
typedef struct progress progress; /* progress.h */

typedef struct batch_cert {
    batch *b;          /* back pointer for the callbacks */
    leec_agent *agent; /* owned by the context */
    unsigned line;     /* in FILE */
    double t_start;    /* monotonic: started, or last left QUEUED */
    double t_done;
    leec_outcome outcome; /* NONE until on_done */
} batch_cert;

struct batch {
    const ca_opts *o;
    const char *file; /* for messages: FILE or "stdin" */
    leec_ctx *ctx;
    batch_cert *certs; /* in FILE order */
    size_t n, cap;
    size_t *done_order; /* indexes into certs, in completion order */
    size_t ndone, nreported;
    size_t issued, fresh, failed, deferred;
    double t0;    /* monotonic start of the run */
    progress *pv; /* the live view, or NULL */
};

/* leec issue --batch FILE (o->batch): the whole run, its status. */
int batch_issue(const ca_opts *o);

/* leec issue --queue (queue.c): records o's certificate (-d) or those of
 * its --batch file as wanted in the shared store, with o's settings, and
 * returns. 0, or a status after a message. */
int queue_issue(const ca_opts *o);

#endif
