/* Small file helpers: atomic writes and bounded reads. */
#define _GNU_SOURCE

#include "util/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"

/* How many temporary names to try before giving up: a collision needs
 * another writer with the same random suffix, so a few tries are plenty. */
#define TMP_TRIES 32

/* Fills out with 8 lower-case hex characters (and a NUL). Unpredictable so
 * that a hostile local user cannot pre-create our temporary name; O_EXCL
 * makes a clash a retry, not a vulnerability. */
static void random_suffix(char out[9])
{
    static const char hex[] = "0123456789abcdef";
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        /* Early boot without entropy: uniqueness still comes from O_EXCL. */
        struct timespec ts = {0};
        clock_gettime(CLOCK_MONOTONIC, &ts);
        r = (uint32_t)ts.tv_nsec ^ ((uint32_t)getpid() << 16) ^
            (uint32_t)(uintptr_t)&ts;
    }
    for (int i = 0; i < 8; i++) {
        out[i] = hex[r & 0xf];
        r >>= 4;
    }
    out[8] = '\0';
}

/* Splits path into a malloc'd folder ("." when there is none) and a pointer
 * to the last component inside path. */
static leec_code split_path(const char *path, char **dir, const char **base)
{
    const char *slash = strrchr(path, '/');
    size_t dlen = 0;
    char *d = NULL;

    if (!slash) {
        d = strdup(".");
        *base = path;
    } else {
        /* "/file" lives in "/", not in "". */
        dlen = slash == path ? 1 : (size_t)(slash - path);
        d = strndup(path, dlen);
        *base = slash + 1;
    }
    if (!d)
        return LEEC_E_NOMEM;
    *dir = d;
    return LEEC_OK;
}

static leec_code write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return LEEC_E_IO;
        }
        p += n;
        len -= (size_t)n;
    }
    return LEEC_OK;
}

leec_code Leec_fsync_fd(int fd)
{
    /* Some file systems cannot fsync a folder (EINVAL); their renames are
     * as durable as they will ever be, so that is not a failure. */
    return fsync(fd) == 0 || errno == EINVAL ? LEEC_OK : LEEC_E_IO;
}

leec_code Leec_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return LEEC_E_IO;
    leec_code rc = Leec_fsync_fd(fd);
    close(fd);
    return rc;
}

leec_code Leec_file_write_new_at(int dirfd, const char *name, const void *data,
                                 size_t len, mode_t mode)
{
    if (!name || !*name || (!data && len > 0))
        return LEEC_E_INVALID_ARG;
    int fd = openat(dirfd, name,
                    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return LEEC_E_IO;
    leec_code rc = LEEC_E_IO;
    if (fchmod(fd, mode) == 0 && (rc = write_all(fd, data, len)) == LEEC_OK &&
        fsync(fd) != 0)
        rc = LEEC_E_IO;
    if (close(fd) != 0 && rc == LEEC_OK)
        rc = LEEC_E_IO;
    if (rc != LEEC_OK)
        unlinkat(dirfd, name, 0);
    return rc;
}

leec_code Leec_file_write_new(const char *path, const void *data, size_t len,
                              mode_t mode)
{
    return Leec_file_write_new_at(AT_FDCWD, path, data, len, mode);
}

leec_code Leec_file_write_atomic_at(int dirfd, const char *name,
                                    const void *data, size_t len, mode_t mode)
{
    leec_code rc = LEEC_E_IO;
    char *tmp = NULL;
    leec_buf b;
    int fd = -1;

    Leec_buf_init(&b, 0);
    if (!name || !*name || strchr(name, '/') || (!data && len > 0)) {
        rc = LEEC_E_INVALID_ARG;
        goto out;
    }
    for (int i = 0; i < TMP_TRIES && fd < 0; i++) {
        char sfx[9];
        random_suffix(sfx);
        Leec_buf_reset(&b);
        /* Same folder as the target so that rename() is atomic. The name
         * is cut so that the temporary fits NAME_MAX whenever name does. */
        rc = Leec_buf_printf(&b, ".%.200s.tmp-%s", name, sfx);
        if (rc != LEEC_OK)
            goto out;
        fd = openat(dirfd, b.data,
                    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0 && errno != EEXIST && errno != EINTR) {
            rc = LEEC_E_IO;
            goto out;
        }
    }
    if (fd < 0) {
        rc = LEEC_E_IO;
        goto out;
    }
    tmp = Leec_buf_steal(&b);
    if (!tmp) {
        rc = LEEC_E_NOMEM;
        goto out;
    }

    /* The umask may only have removed bits at creation; set the exact mode
     * so that a 0644 file is readable by the web server as asked. */
    if (fchmod(fd, mode) != 0) {
        rc = LEEC_E_IO;
        goto out;
    }
    rc = write_all(fd, data, len);
    if (rc != LEEC_OK)
        goto out;
    if (fsync(fd) != 0) {
        rc = LEEC_E_IO;
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = LEEC_E_IO;
        goto out;
    }
    fd = -1;
    /* rename replaces whatever name is (a planted symbolic link too)
     * without following it. */
    if (renameat(dirfd, tmp, dirfd, name) != 0) {
        rc = LEEC_E_IO;
        goto out;
    }
    /* Renamed: nothing left to unlink, even if the folder fsync fails. */
    free(tmp);
    tmp = NULL;
    rc = Leec_fsync_fd(dirfd);

out:
    if (fd >= 0)
        close(fd);
    if (tmp) {
        unlinkat(dirfd, tmp, 0);
        free(tmp);
    }
    Leec_buf_free(&b);
    return rc;
}

leec_code Leec_file_write_atomic(const char *path, const void *data, size_t len,
                                 mode_t mode)
{
    leec_code rc = LEEC_E_INVALID_ARG;
    char *dir = NULL;
    const char *base = NULL;
    int dfd = -1;

    if (!path || (!data && len > 0))
        goto out;
    rc = split_path(path, &dir, &base);
    if (rc != LEEC_OK)
        goto out;
    if (*base == '\0') {
        rc = LEEC_E_INVALID_ARG;
        goto out;
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        rc = LEEC_E_IO;
        goto out;
    }
    rc = Leec_file_write_atomic_at(dfd, base, data, len, mode);

out:
    if (dfd >= 0)
        close(dfd);
    free(dir);
    return rc;
}

leec_code Leec_fd_read(int fd, const struct stat *st, size_t max, char **data,
                       size_t *len)
{
    leec_code rc = LEEC_E_IO;
    leec_buf b;
    struct stat own;
    char chunk[4096];

    Leec_buf_init(&b, max);
    if (!data) {
        rc = LEEC_E_INVALID_ARG;
        goto out;
    }
    *data = NULL;
    if (len)
        *len = 0;
    /* Only regular files: a FIFO or device could block or never end. */
    if (!st && fstat(fd, &own) == 0)
        st = &own;
    if (!st || !S_ISREG(st->st_mode)) {
        rc = LEEC_E_IO;
        goto out;
    }
    if (max && (uintmax_t)st->st_size > (uintmax_t)max) {
        rc = LEEC_E_TOO_LARGE;
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = LEEC_E_IO;
            goto out;
        }
        if (n == 0)
            break;
        /* The file may grow after fstat; the buffer cap still holds. */
        rc = Leec_buf_append(&b, chunk, (size_t)n);
        if (rc != LEEC_OK)
            goto out;
    }
    size_t got = b.len;
    *data = Leec_buf_steal(&b);
    if (!*data) {
        rc = LEEC_E_NOMEM;
        goto out;
    }
    if (len)
        *len = got;
    rc = LEEC_OK;

out:
    explicit_bzero(chunk, sizeof chunk);
    Leec_buf_free(&b);
    return rc;
}

leec_code Leec_file_read(const char *path, size_t max, char **data, size_t *len)
{
    if (!path || !data)
        return LEEC_E_INVALID_ARG;
    *data = NULL;
    if (len)
        *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return (errno == ENOENT || errno == ENOTDIR) ? LEEC_E_NOT_FOUND
                                                     : LEEC_E_IO;
    leec_code rc = Leec_fd_read(fd, NULL, max, data, len);
    close(fd);
    return rc;
}

/* Folders nest this deep at most below what Leec_remove_tree_at removes
 * (a version folder holds files only): a bound on open descriptors. */
#define TREE_DEPTH_MAX 16

static leec_code remove_tree(int parent, const char *name, int depth)
{
    leec_code rc = LEEC_OK;
    struct dirent *e = NULL;
    DIR *d = NULL;

    if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
        return LEEC_OK;
    if (errno != EISDIR && errno != EPERM)
        return LEEC_E_IO;
    if (depth >= TREE_DEPTH_MAX)
        return LEEC_E_IO;
    int fd =
        openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? LEEC_OK : LEEC_E_IO;
    if (!(d = fdopendir(fd))) {
        close(fd);
        return LEEC_E_IO;
    }
    for (;;) {
        errno = 0;
        if (!(e = readdir(d)))
            break;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (remove_tree(dirfd(d), e->d_name, depth + 1) != LEEC_OK)
            rc = LEEC_E_IO;
    }
    if (errno != 0)
        rc = LEEC_E_IO;
    closedir(d);
    if (unlinkat(parent, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
        rc = LEEC_E_IO;
    return rc;
}

leec_code Leec_remove_tree_at(int dirfd, const char *name)
{
    if (!name || !*name || strchr(name, '/') || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0)
        return LEEC_E_INVALID_ARG;
    return remove_tree(dirfd, name, 0);
}

/* Creates one folder; an existing folder is fine, anything else is not. */
static leec_code mkdir_one(const char *path, mode_t mode)
{
    struct stat st;
    if (mkdir(path, mode) == 0) {
        /* Exact mode regardless of umask, as for files. */
        return chmod(path, mode) == 0 ? LEEC_OK : LEEC_E_IO;
    }
    if (errno != EEXIST)
        return LEEC_E_IO;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return LEEC_E_IO;
    return LEEC_OK;
}

leec_code Leec_mkdir_p(const char *path, mode_t mode)
{
    leec_code rc = LEEC_E_IO;
    char *p = NULL;

    if (!path || !*path) {
        rc = LEEC_E_INVALID_ARG;
        goto out;
    }
    /* The common case, a folder that exists: one stat, no walk. */
    struct stat st;
    if (stat(path, &st) == 0) {
        rc = S_ISDIR(st.st_mode) ? LEEC_OK : LEEC_E_IO;
        goto out;
    }
    p = strdup(path);
    if (!p) {
        rc = LEEC_E_NOMEM;
        goto out;
    }

    /* Walk the prefixes "a", "a/b", ... skipping the root and repeated
     * slashes, creating each one that is missing. */
    for (char *s = p + 1; *s; s++) {
        if (*s != '/' || s[-1] == '/')
            continue;
        *s = '\0';
        rc = mkdir_one(p, mode);
        *s = '/';
        if (rc != LEEC_OK)
            goto out;
    }
    rc = mkdir_one(p, mode);

out:
    free(p);
    return rc;
}

leec_code leec_write_file_atomic(const char *path, const void *data, size_t len,
                                 int mode)
{
    if (mode < 0 || mode > 07777)
        return LEEC_E_INVALID_ARG;
    return Leec_file_write_atomic(path, data, len, (mode_t)mode);
}
