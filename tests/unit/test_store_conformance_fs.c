/* The store conformance suite (store_conformance.c) on the filesystem
 * backend, with a failure injected at every write.
 *
 * The injection is the linker's: this program is linked with
 * -Wl,--wrap=SYMBOL for each system call through which the backend (and
 * lib/util/fsutil.c, which it writes with) changes the file system, so
 * that those calls, made from the library's objects, come here first. The
 * n-th of them after inject_arm fails with EIO without being made; the
 * library itself holds no injection code. */
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "store_conformance.h"
#include "testutil.h"

/* ------------------------------------------------------------------ */
/* The wrapped system calls                                            */
/* ------------------------------------------------------------------ */

static unsigned inj_at;    /* the write that fails (0: none) */
static unsigned inj_count; /* writes since inject_arm */
static bool inj_fired;

/* True when this write is the one to fail (errno set). */
static bool inj_fail(void)
{
    if (!inj_at || ++inj_count != inj_at)
        return false;
    inj_fired = true;
    errno = EIO;
    return true;
}

/* Opening counts as a write only when it may create. */
static bool creates(int flags)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

#define WRAP(ret, name, params, args)                                          \
    ret __real_##name params;                                                  \
    ret __wrap_##name params;                                                  \
    ret __wrap_##name params                                                   \
    {                                                                          \
        if (inj_fail())                                                        \
            return -1;                                                         \
        return __real_##name args;                                             \
    }

WRAP(ssize_t, write, (int fd, const void *b, size_t n), (fd, b, n))
WRAP(ssize_t, pwrite, (int fd, const void *b, size_t n, off_t o), (fd, b, n, o))
WRAP(ssize_t, pwrite64, (int fd, const void *b, size_t n, off_t o),
     (fd, b, n, o))
WRAP(int, fsync, (int fd), (fd))
WRAP(int, fdatasync, (int fd), (fd))
WRAP(int, fchmod, (int fd, mode_t m), (fd, m))
WRAP(int, chmod, (const char *p, mode_t m), (p, m))
WRAP(int, ftruncate, (int fd, off_t l), (fd, l))
WRAP(int, ftruncate64, (int fd, off_t l), (fd, l))
WRAP(int, mkdir, (const char *p, mode_t m), (p, m))
WRAP(int, mkdirat, (int d, const char *p, mode_t m), (d, p, m))
WRAP(int, rename, (const char *a, const char *b), (a, b))
WRAP(int, renameat, (int da, const char *a, int db, const char *b),
     (da, a, db, b))
WRAP(int, symlinkat, (const char *t, int d, const char *p), (t, d, p))
WRAP(int, unlinkat, (int d, const char *p, int f), (d, p, f))
WRAP(int, unlink, (const char *p), (p))
WRAP(int, rmdir, (const char *p), (p))
WRAP(int, linkat, (int da, const char *a, int db, const char *b, int f),
     (da, a, db, b, f))

#define WRAP_OPEN(name, params, call_params)                                   \
    int __real_##name params;                                                  \
    int __wrap_##name params;                                                  \
    int __wrap_##name params                                                   \
    {                                                                          \
        mode_t mode = 0;                                                       \
        if (creates(flags)) {                                                  \
            va_list ap;                                                        \
            va_start(ap, flags);                                               \
            mode = (mode_t)va_arg(ap, int);                                    \
            va_end(ap);                                                        \
            if (inj_fail())                                                    \
                return -1;                                                     \
        }                                                                      \
        return __real_##name call_params;                                      \
    }

WRAP_OPEN(open, (const char *p, int flags, ...), (p, flags, mode))
WRAP_OPEN(open64, (const char *p, int flags, ...), (p, flags, mode))
WRAP_OPEN(openat, (int d, const char *p, int flags, ...), (d, p, flags, mode))
WRAP_OPEN(openat64, (int d, const char *p, int flags, ...), (d, p, flags, mode))

/* ------------------------------------------------------------------ */
/* The backend's factory                                               */
/* ------------------------------------------------------------------ */

typedef struct fs_factory {
    char *dir;  /* the test's private folder */
    char *root; /* the store: dir/store */
} fs_factory;

static leec_store *fs_fresh(void *ud)
{
    fs_factory *f = ud;
    leec_code rc = LEEC_E_IO;
    free(f->dir);
    free(f->root);
    f->root = NULL;
    if (!(f->dir = tu_tmpdir("leec-conformance")) ||
        asprintf(&f->root, "%s/store", f->dir) < 0)
        return NULL;
    return leec_store_fs_new(f->root, &rc);
}

static leec_store *fs_again(void *ud)
{
    fs_factory *f = ud;
    return leec_store_fs_new(f->root, NULL);
}

static void fs_wipe(void *ud)
{
    fs_factory *f = ud;
    if (f->dir)
        tu_rmtree(f->dir);
    free(f->dir);
    free(f->root);
    f->dir = f->root = NULL;
}

static void fs_inject_arm(void *ud, unsigned n)
{
    (void)ud;
    inj_count = 0;
    inj_fired = false;
    inj_at = n;
}

static bool fs_inject_disarm(void *ud)
{
    (void)ud;
    inj_at = 0;
    return inj_fired;
}

/* The entries of a folder but . and .., sorted (NULL-terminated; a
 * missing folder has none). */
static char **entries(const char *dir, size_t *n)
{
    struct dirent **list = NULL;
    int k = scandir(dir, &list, NULL, alphasort);
    char **out = calloc((size_t)(k > 0 ? k : 0) + 1, sizeof *out);
    assert_non_null(out);
    *n = 0;
    if (k < 0) {
        assert_int_equal(errno, ENOENT);
        return out;
    }
    for (int i = 0; i < k; i++) {
        if (strcmp(list[i]->d_name, ".") && strcmp(list[i]->d_name, ".."))
            assert_non_null(out[(*n)++] = strdup(list[i]->d_name));
        free(list[i]);
    }
    free(list);
    return out;
}

static void entries_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static bool numeric(const char *s)
{
    return *s >= '1' && *s <= '9' && strspn(s, "0123456789") == strlen(s);
}

/* Nothing hidden (a temporary file or folder, a version being built, a
 * trash left by a reset) in dir. */
static void assert_nothing_hidden(const char *dir)
{
    size_t n = 0;
    char **e = entries(dir, &n);
    for (size_t i = 0; i < n; i++)
        if (e[i][0] == '.')
            fail_msg("%s/%s is left", dir, e[i]);
    entries_free(e);
}

/* A version folder holds its files and nothing else. */
static void assert_version_whole(const char *vdir)
{
    static const char *const need[] = {"cert.pem", "chain.pem", "fullchain.pem",
                                       "privkey.pem"};
    size_t n = 0, have = 0;
    char **e = entries(vdir, &n);
    for (size_t i = 0; i < n; i++) {
        bool known =
            strcmp(e[i], "meta.json") == 0 || strcmp(e[i], "renewal.json") == 0;
        for (size_t k = 0; k < 4; k++)
            if (strcmp(e[i], need[k]) == 0) {
                known = true;
                have++;
            }
        if (!known)
            fail_msg("%s/%s is not a file of a version", vdir, e[i]);
    }
    if (have != 4)
        fail_msg("%s is not a whole version", vdir);
    entries_free(e);
}

static void fs_assert_clean(void *ud, const char *name, size_t versions)
{
    fs_factory *f = ud;
    static const char *const top[] = {"accounts", "archive", "journal", "live",
                                      "locks"};
    size_t n = 0;
    char **e = entries(f->root, &n);
    for (size_t i = 0; i < n; i++) {
        bool known = false;
        for (size_t k = 0; k < 5; k++)
            known = known || strcmp(e[i], top[k]) == 0;
        if (!known)
            fail_msg("%s/%s is left", f->root, e[i]);
    }
    entries_free(e);
    char *p = tu_pathf("%s/live", f->root);
    assert_nothing_hidden(p);
    free(p);
    p = tu_pathf("%s/journal", f->root);
    assert_nothing_hidden(p);
    free(p);
    p = tu_pathf("%s/locks", f->root);
    assert_nothing_hidden(p);
    free(p);
    p = tu_pathf("%s/archive", f->root);
    assert_nothing_hidden(p);
    char **certs = entries(p, &n);
    free(p);
    for (size_t i = 0; i < n; i++) {
        size_t nv = 0, count = 0;
        char *adir = tu_pathf("%s/archive/%s", f->root, certs[i]);
        char **vs = entries(adir, &nv);
        for (size_t k = 0; k < nv; k++) {
            char *vdir = tu_pathf("%s/%s", adir, vs[k]);
            if (!numeric(vs[k]))
                fail_msg("%s is left", vdir);
            assert_version_whole(vdir);
            count++;
            free(vdir);
        }
        if (name && strcmp(certs[i], name) == 0 && count != versions)
            fail_msg("%s holds %zu versions, not %zu", adir, count, versions);
        entries_free(vs);
        free(adir);
    }
    entries_free(certs);
    p = tu_pathf("%s/accounts", f->root);
    assert_nothing_hidden(p);
    char **accts = entries(p, &n);
    for (size_t i = 0; i < n; i++) {
        char *a = tu_pathf("%s/%s", p, accts[i]);
        assert_nothing_hidden(a);
        free(a);
    }
    entries_free(accts);
    free(p);
    if (!name)
        return;
    /* live/<name> is there exactly when a version is, and points at one. */
    struct stat st;
    p = tu_pathf("%s/live/%s", f->root, name);
    if (versions == 0) {
        assert_int_equal(lstat(p, &st), -1);
        char *a = tu_pathf("%s/archive/%s", f->root, name);
        size_t left = 0;
        entries_free(entries(a, &left));
        assert_int_equal(left, 0);
        free(a);
    } else {
        assert_int_equal(stat(p, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
    }
    free(p);
}

int main(void)
{
    fs_factory f = {0};
    sc_backend b = {.name = "store conformance: fs",
                    .ud = &f,
                    .fresh = fs_fresh,
                    .again = fs_again,
                    .wipe = fs_wipe,
                    .inject_arm = fs_inject_arm,
                    .inject_disarm = fs_inject_disarm,
                    .assert_clean = fs_assert_clean};
    int failed = sc_run(&b);
    fs_wipe(&f);
    return failed;
}
