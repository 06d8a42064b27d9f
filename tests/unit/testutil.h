/* Fixture helpers shared by the unit tests: a private temporary folder, its
 * recursive removal, small checks on the files a test wrote, a monotonic
 * clock and a loopback address. Header only (static inline), so no test
 * needs another source file. Include it after defining _GNU_SOURCE
 * (asprintf, nftw). */
#ifndef LEEC_TESTS_TESTUTIL_H
#define LEEC_TESTS_TESTUTIL_H

#include <arpa/inet.h>
#include <dirent.h>
#include <ftw.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

/* Creates a new private folder (mode 0700) named PREFIX-XXXXXX under
 * $TMPDIR, or /tmp when it is not set. Returns its path (malloc'd), or NULL
 * on failure. */
static inline char *tu_tmpdir(const char *prefix)
{
    const char *tmp = getenv("TMPDIR");
    char *dir = NULL;

    if (asprintf(&dir, "%s/%s-XXXXXX", tmp ? tmp : "/tmp", prefix) < 0)
        return NULL;
    if (!mkdtemp(dir)) {
        free(dir);
        return NULL;
    }
    return dir;
}

static inline int tu_rmtree_entry(const char *path, const struct stat *st,
                                  int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Removes path and everything below it, without following symbolic links.
 * Returns 0, or -1 if something could not be removed. */
static inline int tu_rmtree(const char *path)
{
    return nftw(path, tu_rmtree_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

/* A path built like printf (malloc'd; fails the test if out of memory). */
__attribute__((format(printf, 1, 2))) static inline char *
tu_pathf(const char *fmt, ...)
{
    char *p = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&p, fmt, ap) < 0)
        p = NULL;
    va_end(ap);
    assert_non_null(p);
    return p;
}

/* The permission bits of path itself (not of what a link points to). */
static inline mode_t tu_mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    return st.st_mode & 07777;
}

/* The number of entries in a folder other than . and .. */
static inline int tu_count_entries(const char *dir)
{
    int n = 0;
    struct dirent *e = NULL;
    DIR *d = opendir(dir);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* Milliseconds on the monotonic clock. */
static inline int64_t tu_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Fills ss with the loopback address of family (AF_INET6, else AF_INET)
 * and port; returns its length. */
static inline socklen_t tu_loopback(struct sockaddr_storage *ss, int family,
                                    int port)
{
    memset(ss, 0, sizeof *ss);
    if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        a->sin6_addr = in6addr_loopback;
        return sizeof *a;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sizeof *a;
}

#endif
