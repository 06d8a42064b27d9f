#define _GNU_SOURCE
/* The batch file of leec issue --batch (batchfile.h): lines split into
 * words; batch.c makes an agent of each certificate line. */
#include "batchfile.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_LINES 100000u
#define MAX_LINE  65536u /* bytes, without the newline */

enum { LINE_OK, LINE_EOF, LINE_LONG, LINE_NUL, LINE_ERR };

/* One line into buf (cap bytes, NUL-terminated, without the newline). */
static int read_line(FILE *f, char *buf, size_t cap)
{
    size_t n = 0;
    int c = EOF;
    bool any = false, nul = false;
    while ((c = getc_unlocked(f)) != EOF && c != '\n') {
        any = true;
        if (n + 1 >= cap)
            return LINE_LONG;
        nul |= c == '\0';
        buf[n++] = (char)c;
    }
    if (c == EOF && ferror(f))
        return LINE_ERR;
    if (c == EOF && !any)
        return LINE_EOF;
    buf[n] = '\0';
    return nul ? LINE_NUL : LINE_OK;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

void batch_line_error(const char *file, unsigned line, const char *what,
                      const char *arg, const char *after)
{
    fprintf(stderr, "leec: %s:%u: %s", file, line, what);
    if (arg) {
        fputs(" '", stderr);
        cli_put_safe(arg);
        fputc('\'', stderr);
    }
    fprintf(stderr, "%s\n", after ? after : "");
}

/* Splits one line into words and hands a certificate line to fn. 0,
 * EXIT_USAGE, or 1 (out of memory). */
static int take_line(const char *file, cli_nameset *seen, char *s,
                     unsigned line, const char ***tok, size_t *tokcap,
                     batch_line_fn fn, void *ud, size_t *ncerts)
{
    size_t nt = 0;
    for (;;) {
        while (is_space(*s))
            s++;
        if (!*s || *s == '#') /* '#' starting a word: a comment */
            break;
        if (nt == *tokcap) {
            size_t cap = *tokcap ? 2 * *tokcap : 16;
            const char **v = realloc(*tok, cap * sizeof *v);
            if (!v)
                return 1;
            *tok = v;
            *tokcap = cap;
        }
        (*tok)[nt++] = s;
        while (*s && !is_space(*s))
            s++;
        if (*s)
            *s++ = '\0';
    }
    if (nt == 0)
        return 0;
    const char **w = *tok;
    if (nt == 1) {
        batch_line_error(file, line, "no NAME after the certificate name", w[0],
                         " (a line is CERT-NAME NAME [NAME ...])");
        return EXIT_USAGE;
    }
    unsigned prev = 0;
    int added = cli_nameset_add(seen, w[0], line, &prev);
    if (added < 0)
        return 1;
    if (added == 0) {
        char after[64];
        snprintf(after, sizeof after, " is already on line %u", prev);
        batch_line_error(file, line, "certificate name", w[0], after);
        return EXIT_USAGE;
    }
    (*ncerts)++;
    return fn(ud, line, w, nt);
}

int batch_file_read(FILE *f, const char *file, batch_line_fn fn, void *ud)
{
    char *buf = malloc(MAX_LINE + 2);
    const char **tok = NULL;
    size_t tokcap = 0, ncerts = 0;
    cli_nameset seen = {NULL, 0, 0};
    int status = buf ? 0 : 1;
    for (unsigned line = 1; status == 0; line++) {
        int r = read_line(f, buf, MAX_LINE + 2);
        if (r == LINE_EOF)
            break;
        if (line > MAX_LINES) {
            fprintf(stderr, "leec: %s: more than %u lines\n", file, MAX_LINES);
            status = EXIT_USAGE;
        } else if (r == LINE_LONG) {
            fprintf(stderr, "leec: %s:%u: line longer than %u bytes\n", file,
                    line, MAX_LINE);
            status = EXIT_USAGE;
        } else if (r == LINE_NUL) {
            batch_line_error(file, line, "NUL byte in the line", NULL, NULL);
            status = EXIT_USAGE;
        } else if (r == LINE_ERR) {
            fprintf(stderr, "leec: cannot read %s: %s\n", file,
                    strerror(errno));
            status = EXIT_USAGE;
        } else {
            status = take_line(file, &seen, buf, line, &tok, &tokcap, fn, ud,
                               &ncerts);
        }
    }
    if (status == 1)
        fputs("leec: out of memory\n", stderr);
    else if (status == 0 && ncerts == 0) {
        fprintf(stderr, "leec: %s: no certificates\n", file);
        status = EXIT_USAGE;
    }
    cli_nameset_free(&seen);
    free(tok);
    free(buf);
    return status;
}
