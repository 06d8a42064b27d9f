/* Small file helpers: atomic writes and bounded reads. */
#ifndef LEEC_FSUTIL_H
#define LEEC_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

#include "leec/leec.h"

/* Writes path atomically: a temporary file in the same folder created with
 * mode (so a secret is never readable by others, not even briefly), written,
 * fsync'd, renamed over path, then the folder fsync'd. On any failure the
 * temporary is removed and path is untouched. LEEC_E_IO. */
leec_code leec_file_write_atomic(const char *path, const void *data,
                                 size_t len, mode_t mode);

/* Creates path (it must not exist), writes and fsyncs it, with exactly mode.
 * For files inside a private temporary folder that is itself renamed into
 * place: no rename per file, and the caller fsyncs the folder once. On
 * failure the file is removed. LEEC_E_IO. */
leec_code leec_file_write_new(const char *path, const void *data, size_t len,
                              mode_t mode);

/* Reads a whole file of at most max bytes into a malloc'd NUL-terminated
 * buffer. LEEC_E_NOT_FOUND (ENOENT), LEEC_E_TOO_LARGE, LEEC_E_IO. */
leec_code leec_file_read(const char *path, size_t max, char **data,
                         size_t *len);

/* mkdir -p with mode for the folders it creates. LEEC_E_IO. */
leec_code leec_mkdir_p(const char *path, mode_t mode);

/* fsync a folder (after a rename into it). LEEC_E_IO. */
leec_code leec_fsync_dir(const char *path);

#endif
