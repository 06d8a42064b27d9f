/* The live view of leec issue --batch on a terminal: drawn from the
 * batch's state (batch.h), which it only reads. */
#ifndef LEEC_CLI_PROGRESS_H
#define LEEC_CLI_PROGRESS_H

typedef struct batch batch;
typedef struct progress progress;

/* A view drawn on fd, or NULL when out of memory. */
progress *progress_new(int fd);
/* Erases the view and frees it. */
void progress_free(progress *p);
/* Erases the view (before other output to the terminal); the next
 * progress_draw brings it back. */
void progress_clear(progress *p);
/* Redraws the view from the batch's state at monotonic time now. */
void progress_draw(progress *p, const batch *b, double now);

#endif
