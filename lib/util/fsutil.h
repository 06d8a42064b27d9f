/* Small file helpers: atomic writes and bounded reads.
 *
 * The *_at variants work inside the folder open as dirfd, on name, one
 * path component, and never follow a symbolic link at name: the store and
 * the webroot solver reach their folders without following links and then
 * stay inside them through descriptors. The path variants are thin
 * wrappers (the folder of path is opened the usual way). */
#ifndef LEEC_FSUTIL_H
#define LEEC_FSUTIL_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "leec/leec.h"

/* Writes path atomically: a temporary file in the same folder created with
 * mode (so a secret is never readable by others, not even briefly), written,
 * fsync'd, renamed over path, then the folder fsync'd. On any failure the
 * temporary is removed and path is untouched. LEEC_E_IO. */
leec_code Leec_file_write_atomic(const char *path, const void *data, size_t len,
                                 mode_t mode);
/* The same in the folder dirfd (name: one component, no '/'). A symbolic
 * link at name is replaced, never followed. */
leec_code Leec_file_write_atomic_at(int dirfd, const char *name,
                                    const void *data, size_t len, mode_t mode);

/* Creates path (it must not exist), writes and fsyncs it, with exactly mode.
 * For files inside a private temporary folder that is itself renamed into
 * place: no rename per file, and the caller fsyncs the folder once. On
 * failure the file is removed. LEEC_E_IO. */
leec_code Leec_file_write_new(const char *path, const void *data, size_t len,
                              mode_t mode);
/* The same relative to dirfd (O_EXCL|O_NOFOLLOW: an existing name, a link
 * included, is a failure). */
leec_code Leec_file_write_new_at(int dirfd, const char *name, const void *data,
                                 size_t len, mode_t mode);

/* Reads a whole file of at most max bytes into a malloc'd NUL-terminated
 * buffer. LEEC_E_NOT_FOUND (ENOENT), LEEC_E_TOO_LARGE, LEEC_E_IO. */
leec_code Leec_file_read(const char *path, size_t max, char **data,
                         size_t *len);
/* The same for a file already open as fd (read from its current offset);
 * st: its fstat when the caller has it (NULL: taken here). LEEC_E_IO for
 * anything but a regular file. fd stays open. */
leec_code Leec_fd_read(int fd, const struct stat *st, size_t max, char **data,
                       size_t *len);

/* Removes name in dirfd and, when it is a folder, everything below it,
 * never following a symbolic link (a link is removed, not what it points
 * at). A missing name is not an error. LEEC_E_INVALID_ARG for a name that
 * is not one component, LEEC_E_IO. */
leec_code Leec_remove_tree_at(int dirfd, const char *name);

/* mkdir -p with mode for the folders it creates. LEEC_E_IO. */
leec_code Leec_mkdir_p(const char *path, mode_t mode);

/* fsync a folder (after a rename into it). LEEC_E_IO. */
leec_code Leec_fsync_dir(const char *path);
/* The same for a folder open as fd. */
leec_code Leec_fsync_fd(int fd);

#endif
