/* leec issue --batch: what batch.c shares with the terminal view. */
#ifndef LEEC_CLI_BATCH_H
#define LEEC_CLI_BATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "issue.h"

typedef struct batch batch;
typedef struct progress progress;

typedef struct batch_cert {
    batch *b;          /* back pointer for the callbacks */
    leec_agent *agent; /* owned by the context */
    unsigned line;     /* in FILE */
    double t_start;    /* monotonic: started, or last left QUEUED */
    double t_done;
    leec_outcome outcome; /* NONE until on_done */
} batch_cert;

struct batch {
    const issue_opts *o;
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

/* The live view on a terminal (progress.c). */

/* A view drawn on fd, or NULL when out of memory. */
progress *progress_new(int fd);
/* Erases the view and frees it. */
void progress_free(progress *p);
/* Erases the view (before other output to the terminal); the next
 * progress_draw brings it back. */
void progress_clear(progress *p);
/* Redraws the view from the batch's state at monotonic time now. */
void progress_draw(progress *p, const batch *b, double now);

/* "HH:MM:SS", local time ("YYYY-MM-DD HH:MM:SS" on another day). buf:
 * at least 24 bytes. */
void batch_clock(time_t t, char *buf, size_t len);

#endif
