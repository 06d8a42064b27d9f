/* The file of `leec issue --batch`: read and split, nothing more (no
 * agents, no library calls), so that tests/fuzz can feed it any bytes. */
#ifndef LEEC_CLI_BATCHFILE_H
#define LEEC_CLI_BATCHFILE_H

#include <stddef.h>
#include <stdio.h>

/* One certificate line: words[0] the certificate name, words[1..n-1] its
 * names (n >= 2), the certificate name not seen on an earlier line (ASCII
 * case ignored). Returns 0, EXIT_USAGE after its own message (by
 * batch_line_error), or 1 (out of memory). */
typedef int (*batch_line_fn)(void *ud, unsigned line, const char *const *words,
                             size_t n);

/* Reads f (named file in messages) line by line: CERT-NAME NAME [NAME ...],
 * words separated by blanks, a word starting with '#' and the rest of its
 * line a comment. Calls fn for each certificate line, in order. 0 when
 * every line was taken and there was at least one; EXIT_USAGE after a
 * message on stderr naming the file and line (a line without NAME, a
 * certificate name given twice, a NUL byte, a line over 64 KiB, more than
 * 100000 lines, a read error, or fn's); 1 after "out of memory". */
int batch_file_read(FILE *f, const char *file, batch_line_fn fn, void *ud);

/* "leec: FILE:LINE: what 'arg'after" on stderr, arg (when not NULL)
 * printable and shortened. */
void batch_line_error(const char *file, unsigned line, const char *what,
                      const char *arg, const char *after);

#endif
