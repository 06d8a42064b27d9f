/* Growable byte buffers with a hard cap, for everything read from the network.
 */
#ifndef LEEC_BUF_H
#define LEEC_BUF_H

#include <stddef.h>

#include "leec/leec.h"

typedef struct leec_buf {
    /* always NUL-terminated when non-NULL (the NUL is not in len) */
    char *data;
    size_t len;
    size_t cap;
    size_t max; /* appending past max fails with LEEC_E_TOO_LARGE */
} leec_buf;

/* An empty buffer that may grow to max bytes (0: no cap). Allocates nothing. */
void Leec_buf_init(leec_buf *b, size_t max);
/* LEEC_E_TOO_LARGE past the cap (the buffer is left unchanged), LEEC_E_NOMEM.
 */
leec_code Leec_buf_append(leec_buf *b, const void *data, size_t len);
leec_code Leec_buf_append_str(leec_buf *b, const char *s);
/* Appends printf-style text. */
leec_code Leec_buf_printf(leec_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Hands the data to the caller (a NUL-terminated malloc'd string, "" when
 * empty) and resets the buffer. NULL on allocation failure. */
char *Leec_buf_steal(leec_buf *b);
void Leec_buf_reset(leec_buf *b); /* len = 0, keeps memory */
void Leec_buf_free(leec_buf *b);  /* frees memory, keeps max */

#endif
