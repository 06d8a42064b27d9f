/* The filesystem store, laid out like certbot's so that existing web server
 * configurations can point at live/<name>/fullchain.pem and privkey.pem:
 *
 *   accounts/<ca_id>/account.key.pem (0600), account.json
 *   archive/<name>/<N>/privkey.pem (0600), cert.pem, chain.pem,
 *                      fullchain.pem, meta.json
 *   live/<name> -> ../archive/<name>/<N>
 *
 * A new version is built in a private temporary folder, renamed into place,
 * and only then made current by renaming a fresh symlink over live/<name>.
 * A reader that resolves live/<name> once thus gets one whole version. */
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fsutil.h"
#include "store.h"

/* Certificates, chains, keys and account documents are a few KiB; anything
 * bigger is not ours. */
#define FS_READ_MAX ((size_t)1024 * 1024)
#define FS_TMP_TRIES 32
/* Version numbers beyond this are not ours either (and keep arithmetic
 * far from overflow). */
#define FS_VERSION_MAX 999999999UL

typedef struct fs_store {
    leec_store base; /* first, so a leec_store * is also an fs_store * */
    char *dir;
} fs_store;

static fs_store *fs_of(leec_store *s)
{
    return (fs_store *)s;
}

/* A newly allocated path built printf-style, or NULL on allocation failure. */
__attribute__((format(printf, 1, 2))) static char *pathf(const char *fmt, ...)
{
    va_list ap;
    char *p = NULL;
    int n = 0;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        goto out;
    p = malloc((size_t)n + 1);
    if (!p)
        goto out;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
out:
    return p;
}

/* Frees a buffer that held secret material after clearing it. */
static void free_secret(char *p, size_t len)
{
    if (p)
        explicit_bzero(p, len);
    free(p);
}

/* 8 hex characters from the kernel's generator; see fsutil.c for why. */
static void random_suffix(char out[9])
{
    static const char hex[] = "0123456789abcdef";
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        struct timespec ts = {0};
        clock_gettime(CLOCK_MONOTONIC, &ts);
        r = (uint32_t)ts.tv_nsec ^ ((uint32_t)getpid() << 16);
    }
    for (int i = 0; i < 8; i++) {
        out[i] = hex[r & 0xf];
        r >>= 4;
    }
    out[8] = '\0';
}

/* ------------------------------------------------------------------ */
/* Accounts                                                            */
/* ------------------------------------------------------------------ */

static leec_code fs_account_load(leec_store *s, const char *ca_id,
                                 char **key_pem, char **account_json)
{
    fs_store *fs = fs_of(s);
    leec_code rc = LEEC_E_INVALID_ARG;
    char *kpath = NULL;
    char *jpath = NULL;
    char *key = NULL;
    char *json = NULL;
    size_t klen = 0;

    if (!key_pem || !account_json)
        goto out;
    *key_pem = NULL;
    *account_json = NULL;
    if (!leec_store_name_valid(ca_id))
        goto out;

    rc = LEEC_E_NOMEM;
    kpath = pathf("%s/accounts/%s/account.key.pem", fs->dir, ca_id);
    jpath = pathf("%s/accounts/%s/account.json", fs->dir, ca_id);
    if (!kpath || !jpath)
        goto out;
    leec_code krc = leec_file_read(kpath, FS_READ_MAX, &key, &klen);
    rc = leec_file_read(jpath, FS_READ_MAX, &json, NULL);
    if (krc == LEEC_E_NOT_FOUND && rc == LEEC_E_NOT_FOUND)
        goto out; /* no account */
    /* An account.json without its key must not become a new account
     * written over it: the key is what the CA knows the account by. */
    if (krc == LEEC_E_NOT_FOUND || (krc == LEEC_OK && klen == 0))
        krc = LEEC_E_BAD_KEY;
    if (krc != LEEC_OK) {
        rc = krc;
        goto out;
    }
    /* A key without account.json: the key finds its account again. */
    if (rc == LEEC_E_NOT_FOUND)
        rc = LEEC_OK;
    if (rc != LEEC_OK)
        goto out;
    *key_pem = key;
    key = NULL;
    *account_json = json;
    json = NULL;

out:
    free_secret(key, klen);
    free(json);
    free(kpath);
    free(jpath);
    return rc;
}

static leec_code fs_account_save(leec_store *s, const char *ca_id,
                                 const char *key_pem, const char *account_json)
{
    fs_store *fs = fs_of(s);
    leec_code rc = LEEC_E_INVALID_ARG;
    char *adir = NULL;
    char *kpath = NULL;
    char *jpath = NULL;

    if (!key_pem || !account_json || !leec_store_name_valid(ca_id))
        goto out;
    rc = LEEC_E_NOMEM;
    adir = pathf("%s/accounts/%s", fs->dir, ca_id);
    kpath = pathf("%s/account.key.pem", adir ? adir : "");
    jpath = pathf("%s/account.json", adir ? adir : "");
    if (!adir || !kpath || !jpath)
        goto out;
    rc = leec_mkdir_p(adir, 0700);
    if (rc != LEEC_OK)
        goto out;
    /* Key first: an account.json without its key would be useless, while a
     * key without account.json is simply found again at the CA. */
    rc = leec_file_write_atomic(kpath, key_pem, strlen(key_pem), 0600);
    if (rc != LEEC_OK)
        goto out;
    rc = leec_file_write_atomic(jpath, account_json, strlen(account_json),
                                0644);

out:
    free(adir);
    free(kpath);
    free(jpath);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Certificates                                                        */
/* ------------------------------------------------------------------ */

/* The files a caller may read; anything else is refused rather than
 * turned into a path. */
static bool cert_file_known(const char *file)
{
    static const char *const known[] = {"privkey.pem", "cert.pem",
                                        "chain.pem", "fullchain.pem",
                                        "meta.json", "renewal.json"};
    if (!file)
        return false;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(file, known[i]) == 0)
            return true;
    return false;
}

/* The path of file in the current version of name (through the live
 * link), after checking the link exists: LEEC_E_NOT_FOUND without one. */
static leec_code current_file(fs_store *fs, const char *name,
                              const char *file, char **path)
{
    struct stat st;
    char *link = pathf("%s/live/%s", fs->dir, name);
    *path = pathf("%s/live/%s/%s", fs->dir, name, file);
    leec_code rc = LEEC_E_NOMEM;
    if (link && *path)
        rc = lstat(link, &st) == 0 ? LEEC_OK
             : errno == ENOENT     ? LEEC_E_NOT_FOUND
                                   : LEEC_E_IO;
    free(link);
    if (rc != LEEC_OK) {
        free(*path);
        *path = NULL;
    }
    return rc;
}

static leec_code fs_cert_read(leec_store *s, const char *name,
                              const char *file, char **data, size_t *len)
{
    char *path = NULL;
    if (!data)
        return LEEC_E_INVALID_ARG;
    *data = NULL;
    if (len)
        *len = 0;
    if (!leec_store_name_valid(name) || !cert_file_known(file))
        return LEEC_E_INVALID_ARG;
    leec_code rc = current_file(fs_of(s), name, file, &path);
    if (rc == LEEC_OK)
        rc = leec_file_read(path, FS_READ_MAX, data, len);
    free(path);
    return rc;
}

/* The number after the highest numbered version in archive/<name>
 * (1 for none). Temporary folders start with '.' and are skipped. */
static leec_code next_version(const char *adir, unsigned long *out)
{
    leec_code rc = LEEC_E_IO;
    DIR *d = NULL;
    struct dirent *e = NULL;
    unsigned long max = 0;

    d = opendir(adir);
    if (!d)
        goto out;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        size_t i = 0;
        unsigned long v = 0;

        if (n[0] < '1' || n[0] > '9')
            continue;
        for (i = 0; n[i] >= '0' && n[i] <= '9' && v <= FS_VERSION_MAX; i++)
            v = v * 10 + (unsigned long)(n[i] - '0');
        if (n[i] != '\0' || v > FS_VERSION_MAX)
            continue;
        if (v > max)
            max = v;
    }
    if (errno != 0)
        goto out;
    if (max >= FS_VERSION_MAX)
        goto out;
    *out = max + 1;
    rc = LEEC_OK;

out:
    if (d)
        closedir(d);
    return rc;
}

/* Removes a version folder we created and did not make current. Only the
 * names we write are removed, so a mistake cannot delete anything else. */
static void remove_version(const char *vdir)
{
    static const char *const files[] = {"privkey.pem", "cert.pem",
                                        "chain.pem", "fullchain.pem",
                                        "meta.json", "renewal.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char *p = pathf("%s/%s", vdir, files[i]);
        if (p)
            unlink(p);
        free(p);
    }
    rmdir(vdir);
}

static leec_code write_in(const char *dir, const char *file, const char *data,
                          size_t len, mode_t mode)
{
    leec_code rc = LEEC_E_NOMEM;
    char *p = pathf("%s/%s", dir, file);
    if (!p)
        goto out;
    rc = leec_file_write_new(p, data, len, mode);
out:
    free(p);
    return rc;
}

/* Writes the files of one version into dir (a private temporary folder that
 * is renamed into place afterwards: each file is fsync'd, then the folder
 * once, instead of an atomic rename and folder fsync per file). */
static leec_code write_version(const char *dir, const leec_cert_files *f)
{
    leec_code rc = LEEC_OK;
    const char *chain = f->chain ? f->chain : "";
    size_t clen = strlen(f->cert);
    leec_buf full;

    leec_buf_init(&full, 0);
    rc = write_in(dir, "privkey.pem", f->privkey, strlen(f->privkey), 0600);
    if (rc != LEEC_OK)
        goto out;
    rc = write_in(dir, "cert.pem", f->cert, clen, 0644);
    if (rc != LEEC_OK)
        goto out;
    rc = write_in(dir, "chain.pem", chain, strlen(chain), 0644);
    if (rc != LEEC_OK)
        goto out;

    rc = leec_buf_append(&full, f->cert, clen);
    /* A leaf without a final newline would glue its END line to the
     * chain's BEGIN line, which no PEM parser accepts. */
    if (rc == LEEC_OK && clen > 0 && f->cert[clen - 1] != '\n' && *chain)
        rc = leec_buf_append(&full, "\n", 1);
    if (rc == LEEC_OK)
        rc = leec_buf_append_str(&full, chain);
    if (rc != LEEC_OK)
        goto out;
    rc = write_in(dir, "fullchain.pem", full.data, full.len, 0644);
    if (rc != LEEC_OK)
        goto out;
    if (f->meta_json)
        rc = write_in(dir, "meta.json", f->meta_json, strlen(f->meta_json),
                      0644);
    if (rc == LEEC_OK)
        rc = leec_fsync_dir(dir);

out:
    leec_buf_free(&full);
    return rc;
}

/* Points live/<name> at target by renaming a fresh symlink over it, so the
 * link is replaced in one step and never missing. */
static leec_code switch_live(const char *livedir, const char *name,
                             const char *target)
{
    leec_code rc = LEEC_E_IO;
    char *tmp = NULL;
    char *link = NULL;

    link = pathf("%s/%s", livedir, name);
    if (!link) {
        rc = LEEC_E_NOMEM;
        goto out;
    }
    for (int i = 0; i < FS_TMP_TRIES; i++) {
        char sfx[9];
        random_suffix(sfx);
        free(tmp);
        tmp = pathf("%s/.%s.tmp-%s", livedir, name, sfx);
        if (!tmp) {
            rc = LEEC_E_NOMEM;
            goto out;
        }
        if (symlink(target, tmp) == 0)
            break;
        if (errno != EEXIST) {
            free(tmp);
            tmp = NULL;
            rc = LEEC_E_IO;
            goto out;
        }
        free(tmp);
        tmp = NULL;
    }
    if (!tmp)
        goto out;
    if (rename(tmp, link) != 0)
        goto out;
    free(tmp);
    tmp = NULL;
    rc = leec_fsync_dir(livedir);

out:
    if (tmp)
        unlink(tmp);
    free(tmp);
    free(link);
    return rc;
}

static leec_code fs_cert_install(leec_store *s, const char *name,
                                 const leec_cert_files *files)
{
    fs_store *fs = fs_of(s);
    leec_code rc = LEEC_E_INVALID_ARG;
    char *adir = NULL;
    char *tmpdir = NULL;
    char *vdir = NULL;
    char *target = NULL;
    char *livedir = NULL;
    unsigned long n = 0;
    bool unused_version = false;

    if (!leec_store_name_valid(name) || !files || !files->privkey ||
        !files->cert)
        goto out;

    rc = LEEC_E_NOMEM;
    adir = pathf("%s/archive/%s", fs->dir, name);
    livedir = pathf("%s/live", fs->dir);
    if (!adir || !livedir)
        goto out;
    rc = leec_mkdir_p(adir, 0700);
    if (rc != LEEC_OK)
        goto out;
    rc = leec_mkdir_p(livedir, 0700);
    if (rc != LEEC_OK)
        goto out;
    rc = next_version(adir, &n);
    if (rc != LEEC_OK)
        goto out;

    /* mkdtemp creates the folder 0700 with an unpredictable name. */
    tmpdir = pathf("%s/.%lu.tmp-XXXXXX", adir, n);
    if (!tmpdir) {
        rc = LEEC_E_NOMEM;
        goto out;
    }
    if (!mkdtemp(tmpdir)) {
        free(tmpdir);
        tmpdir = NULL;
        rc = LEEC_E_IO;
        goto out;
    }
    rc = write_version(tmpdir, files);
    if (rc != LEEC_OK)
        goto out;

    /* Another installer may have taken number n meanwhile: rename() refuses
     * to replace a non-empty folder, so take the next number. */
    for (int i = 0; i < FS_TMP_TRIES; i++, n++) {
        free(vdir);
        vdir = pathf("%s/%lu", adir, n);
        if (!vdir) {
            rc = LEEC_E_NOMEM;
            goto out;
        }
        if (rename(tmpdir, vdir) == 0) {
            unused_version = true;
            break;
        }
        if (errno != ENOTEMPTY && errno != EEXIST) {
            rc = LEEC_E_IO;
            goto out;
        }
    }
    if (!unused_version) {
        rc = LEEC_E_IO;
        goto out;
    }
    free(tmpdir);
    tmpdir = NULL;
    rc = leec_fsync_dir(adir);
    if (rc != LEEC_OK)
        goto out;

    target = pathf("../archive/%s/%lu", name, n);
    if (!target) {
        rc = LEEC_E_NOMEM;
        goto out;
    }
    rc = switch_live(livedir, name, target);
    if (rc != LEEC_OK)
        goto out;
    unused_version = false;

out:
    if (tmpdir)
        remove_version(tmpdir);
    /* A version that never became current would only confuse; remove it. */
    if (unused_version && vdir)
        remove_version(vdir);
    free(adir);
    free(tmpdir);
    free(vdir);
    free(target);
    free(livedir);
    return rc;
}

/* Reads several files of the current version, resolving live/<name> once
 * so that all come from the same version even while a new one is being
 * installed. */
static leec_code fs_cert_read_many(leec_store *s, const char *name,
                                   const char *const *files, size_t n,
                                   char **out)
{
    fs_store *fs = fs_of(s);
    leec_code rc = LEEC_E_NOMEM;
    char *link = NULL, *path = NULL;
    char target[256];
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    if (!leec_store_name_valid(name))
        return LEEC_E_INVALID_ARG;
    for (size_t i = 0; i < n; i++)
        if (!cert_file_known(files[i]))
            return LEEC_E_INVALID_ARG;
    if (!(link = pathf("%s/live/%s", fs->dir, name)))
        goto out;
    ssize_t len = readlink(link, target, sizeof target - 1);
    if (len < 0) {
        rc = errno == ENOENT ? LEEC_E_NOT_FOUND : LEEC_E_IO;
        goto out;
    }
    target[len] = '\0';
    /* Only links of our own making: ../archive/<name>/<N>. */
    const char *num = strrchr(target, '/');
    size_t prefix = strlen("../archive/") + strlen(name);
    if (!num || (size_t)(num - target) != prefix ||
        strncmp(target, "../archive/", 11) != 0 ||
        strncmp(target + 11, name, strlen(name)) != 0 || !num[1] ||
        strspn(num + 1, "0123456789") != strlen(num + 1)) {
        rc = LEEC_E_STORE;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        free(path);
        if (!(path = pathf("%s/archive/%s%s/%s", fs->dir, name, num,
                           files[i]))) {
            rc = LEEC_E_NOMEM;
            goto out;
        }
        if ((rc = leec_file_read(path, FS_READ_MAX, &out[i], NULL)) !=
            LEEC_OK)
            goto out;
    }
    rc = LEEC_OK;
out:
    if (rc != LEEC_OK)
        for (size_t i = 0; i < n; i++) {
            if (out[i])
                explicit_bzero(out[i], strlen(out[i]));
            free(out[i]);
            out[i] = NULL;
        }
    free(link);
    free(path);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Locks                                                               */
/* ------------------------------------------------------------------ */

/* flock(2) on locks/<kind>-<name>.lock: released by the kernel when the
 * descriptor closes, so a crashed process never leaves a stale lock. The
 * files are never unlinked (unlinking a lock file races with its next
 * taker). */
static leec_code fs_lock(leec_store *s, const char *kind, const char *name,
                         void **handle)
{
    leec_code rc = LEEC_E_NOMEM;
    char *path = NULL;
    int fd = -1;
    int *h = NULL;
    *handle = NULL;
    if (!leec_store_name_valid(kind) || !leec_store_name_valid(name))
        return LEEC_E_INVALID_ARG;
    if (!(path = pathf("%s/locks/%s-%s.lock", fs_of(s)->dir, kind, name)) ||
        !(h = malloc(sizeof *h)))
        goto out;
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        rc = LEEC_E_IO;
        goto out;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        rc = errno == EWOULDBLOCK ? LEEC_E_LOCKED : LEEC_E_IO;
        goto out;
    }
    /* Who holds it, for those who wait (advisory: the lock is the flock;
     * a holder that could not write it is only unnamed). */
    char me[320], host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0)
        host[0] = '\0';
    int n = snprintf(me, sizeof me, "%ld %s\n", (long)getpid(), host);
    ssize_t w = n > 0 && ftruncate(fd, 0) == 0
                    ? pwrite(fd, me, (size_t)n, 0)
                    : -1;
    (void)w;
    *h = fd;
    *handle = h;
    h = NULL;
    fd = -1;
    rc = LEEC_OK;
out:
    if (fd >= 0)
        close(fd);
    free(h);
    free(path);
    return rc;
}

static leec_code fs_lock_holder(leec_store *s, const char *kind,
                                const char *name, long *pid, char **host)
{
    char *path = NULL, *text = NULL;
    size_t len = 0;
    *pid = 0;
    *host = NULL;
    if (!leec_store_name_valid(kind) || !leec_store_name_valid(name))
        return LEEC_E_INVALID_ARG;
    if (!(path = pathf("%s/locks/%s-%s.lock", fs_of(s)->dir, kind, name)))
        return LEEC_E_NOMEM;
    leec_code rc = leec_file_read(path, 512, &text, &len);
    free(path);
    if (rc != LEEC_OK)
        return rc == LEEC_E_TOO_LARGE ? LEEC_E_NOT_FOUND : rc;
    /* "PID HOST\n", as fs_lock writes it; anything else is unknown. */
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (end == text || v <= 0 || *end != ' ') {
        free(text);
        return LEEC_E_NOT_FOUND;
    }
    size_t hl = strcspn(end + 1, "\n");
    bool clean = hl > 0 && hl < 256;
    for (size_t i = 0; clean && i < hl; i++)
        clean = end[1 + i] > 0x20 && end[1 + i] < 0x7f;
    *pid = v;
    if (clean && !(*host = strndup(end + 1, hl)))
        rc = LEEC_E_NOMEM;
    free(text);
    return rc;
}

static void fs_unlock(leec_store *s, void *handle)
{
    (void)s;
    int *h = handle;
    if (!h)
        return;
    close(*h);
    free(h);
}

/* ------------------------------------------------------------------ */
/* Listing and resetting                                               */
/* ------------------------------------------------------------------ */

typedef struct name_vec {
    char **v;
    size_t n, cap;
} name_vec;

static void name_vec_free(name_vec *nv)
{
    for (size_t i = 0; i < nv->n; i++)
        free(nv->v[i]);
    free(nv->v);
    nv->v = NULL;
    nv->n = nv->cap = 0;
}

static leec_code name_vec_add(name_vec *nv, const char *name)
{
    if (nv->n == nv->cap) {
        size_t cap = nv->cap ? nv->cap * 2 : 16;
        char **v = reallocarray(nv->v, cap, sizeof *v);
        if (!v)
            return LEEC_E_NOMEM;
        nv->v = v;
        nv->cap = cap;
    }
    if (!(nv->v[nv->n] = strdup(name)))
        return LEEC_E_NOMEM;
    nv->n++;
    return LEEC_OK;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts and drops duplicates. */
static void name_vec_sort_unique(name_vec *nv)
{
    size_t k = 0;
    if (nv->n == 0)
        return;
    qsort(nv->v, nv->n, sizeof *nv->v, cmp_name);
    for (size_t i = 1; i < nv->n; i++) {
        if (strcmp(nv->v[i], nv->v[k]) == 0)
            free(nv->v[i]);
        else
            nv->v[++k] = nv->v[i];
    }
    nv->n = k + 1;
}

/* Adds the valid names of dir's entries of one file type (S_IFLNK or
 * S_IFDIR, not following links). A missing folder has no entries. */
static leec_code collect_names(const char *dir, mode_t type, name_vec *nv)
{
    leec_code rc = LEEC_E_IO;
    DIR *d = opendir(dir);
    struct dirent *e = NULL;

    if (!d) {
        rc = errno == ENOENT ? LEEC_OK : LEEC_E_IO;
        goto out;
    }
    for (;;) {
        struct stat st;
        errno = 0;
        if (!(e = readdir(d)))
            break;
        if (!leec_store_name_valid(e->d_name))
            continue;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT)
                continue; /* removed meanwhile */
            goto out;
        }
        if ((st.st_mode & S_IFMT) != type)
            continue;
        rc = name_vec_add(nv, e->d_name);
        if (rc != LEEC_OK)
            goto out;
        rc = LEEC_E_IO;
    }
    if (errno != 0)
        goto out;
    rc = LEEC_OK;

out:
    if (d)
        closedir(d);
    return rc;
}

static leec_code fs_list(leec_store *s, char ***names, size_t *n)
{
    fs_store *fs = fs_of(s);
    leec_code rc = LEEC_E_NOMEM;
    name_vec nv = {0};
    char *livedir = pathf("%s/live", fs->dir);

    *names = NULL;
    *n = 0;
    if (!livedir)
        goto out;
    rc = collect_names(livedir, S_IFLNK, &nv);
    if (rc != LEEC_OK)
        goto out;
    name_vec_sort_unique(&nv);
    *names = nv.n ? nv.v : NULL;
    *n = nv.n;
    if (!nv.n)
        free(nv.v);
    nv.v = NULL;
    nv.n = nv.cap = 0;

out:
    name_vec_free(&nv);
    free(livedir);
    return rc;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

/* Deletes a tree we renamed away (never follows links). */
static leec_code remove_tree(const char *path)
{
    int r = nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return r == 0 || errno == ENOENT ? LEEC_OK : LEEC_E_IO;
}

/* Renames parent/name to parent/.trash-<name>-<random> in one step, so
 * that name is gone at once; *trash is the new path (malloc'd), or NULL
 * when there was nothing to move. */
static leec_code move_to_trash(const char *parent, const char *name,
                               char **trash)
{
    leec_code rc = LEEC_E_NOMEM;
    char *from = pathf("%s/%s", parent, name);
    char sfx[9];

    *trash = NULL;
    if (!from)
        goto out;
    random_suffix(sfx);
    if (!(*trash = pathf("%s/.trash-%s-%s", parent, name, sfx)))
        goto out;
    if (rename(from, *trash) != 0) {
        rc = errno == ENOENT ? LEEC_OK : LEEC_E_IO;
        free(*trash);
        *trash = NULL;
        goto out;
    }
    rc = leec_fsync_dir(parent);

out:
    free(from);
    return rc;
}

/* Deletes what earlier resets renamed away but could not delete (a crash,
 * a full disk). Best effort: the entries are already out of sight. */
static void sweep_trash(const char *parent)
{
    DIR *d = opendir(parent);
    struct dirent *e = NULL;
    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, ".trash-", 7) != 0)
            continue;
        char *p = pathf("%s/%s", parent, e->d_name);
        if (p)
            remove_tree(p);
        free(p);
    }
    closedir(d);
}

/* Removes one certificate; its lock is held. The live link goes first: a
 * reader then finds no certificate rather than a link to a removed one. */
static leec_code reset_cert(fs_store *fs, const char *name)
{
    leec_code rc = LEEC_E_NOMEM;
    char *livedir = pathf("%s/live", fs->dir);
    char *adir = pathf("%s/archive", fs->dir);
    char *trash = NULL;

    if (!livedir || !adir)
        goto out;
    rc = move_to_trash(livedir, name, &trash);
    if (rc != LEEC_OK)
        goto out;
    if (trash && unlink(trash) != 0 && errno != ENOENT) {
        rc = LEEC_E_IO;
        goto out;
    }
    free(trash);
    rc = move_to_trash(adir, name, &trash);
    if (rc != LEEC_OK)
        goto out;
    if (trash)
        rc = remove_tree(trash);
    if (rc == LEEC_OK) {
        sweep_trash(livedir);
        sweep_trash(adir);
    }

out:
    free(trash);
    free(livedir);
    free(adir);
    return rc;
}

/* One CA's account: its folder renamed away in one step, then deleted.
 * Removing an account that does not exist succeeds. */
static leec_code fs_account_remove(leec_store *s, const char *ca_id)
{
    fs_store *fs = fs_of(s);
    leec_code rc = LEEC_E_NOMEM;
    char *acc = NULL;
    char *trash = NULL;

    if (!leec_store_name_valid(ca_id))
        return LEEC_E_INVALID_ARG;
    if (!(acc = pathf("%s/accounts", fs->dir)))
        goto out;
    rc = move_to_trash(acc, ca_id, &trash);
    if (rc == LEEC_OK && trash)
        rc = remove_tree(trash);
    if (rc == LEEC_OK)
        sweep_trash(acc);

out:
    free(trash);
    free(acc);
    return rc;
}

/* Every account, the folder renamed away whole and recreated empty. */
static leec_code reset_accounts(fs_store *fs)
{
    leec_code rc = LEEC_E_NOMEM;
    char *acc = pathf("%s/accounts", fs->dir);
    char *trash = NULL;

    if (!acc)
        goto out;
    rc = move_to_trash(fs->dir, "accounts", &trash);
    if (rc != LEEC_OK)
        goto out;
    rc = leec_mkdir_p(acc, 0700);
    if (rc != LEEC_OK)
        goto out;
    if (trash)
        rc = remove_tree(trash);
    if (rc == LEEC_OK)
        sweep_trash(fs->dir);

out:
    free(trash);
    free(acc);
    return rc;
}

static leec_code fs_reset(leec_store *s, const char *name)
{
    fs_store *fs = fs_of(s);
    leec_code rc = LEEC_E_NOMEM;
    name_vec certs = {0};
    name_vec accts = {0};
    void **certlocks = NULL;
    void **acctlocks = NULL;
    char *sub = NULL;

    if (name) {
        if (!leec_store_name_valid(name))
            return LEEC_E_INVALID_ARG;
        rc = name_vec_add(&certs, name);
    } else {
        /* Versions without a live link (an install cut short) too. */
        if (!(sub = pathf("%s/live", fs->dir)))
            goto out;
        rc = collect_names(sub, S_IFLNK, &certs);
        free(sub);
        sub = NULL;
        if (rc == LEEC_OK && !(sub = pathf("%s/archive", fs->dir)))
            rc = LEEC_E_NOMEM;
        if (rc == LEEC_OK)
            rc = collect_names(sub, S_IFDIR, &certs);
        free(sub);
        sub = NULL;
        if (rc == LEEC_OK && !(sub = pathf("%s/accounts", fs->dir)))
            rc = LEEC_E_NOMEM;
        if (rc == LEEC_OK)
            rc = collect_names(sub, S_IFDIR, &accts);
    }
    if (rc != LEEC_OK)
        goto out;
    /* A process holds one lock per name (flock conflicts even within a
     * process), hence no duplicates. */
    name_vec_sort_unique(&certs);
    name_vec_sort_unique(&accts);
    rc = LEEC_E_NOMEM;
    if ((certs.n && !(certlocks = calloc(certs.n, sizeof *certlocks))) ||
        (accts.n && !(acctlocks = calloc(accts.n, sizeof *acctlocks))))
        goto out;
    /* Every lock before anything is removed: all or nothing. */
    for (size_t i = 0; i < certs.n; i++)
        if ((rc = fs_lock(s, "cert", certs.v[i], &certlocks[i])) != LEEC_OK)
            goto out;
    for (size_t i = 0; i < accts.n; i++)
        if ((rc = fs_lock(s, "account", accts.v[i], &acctlocks[i])) !=
            LEEC_OK)
            goto out;
    for (size_t i = 0; i < certs.n; i++)
        if ((rc = reset_cert(fs, certs.v[i])) != LEEC_OK)
            goto out;
    rc = name ? LEEC_OK : reset_accounts(fs);

out:
    for (size_t i = 0; certlocks && i < certs.n; i++)
        fs_unlock(s, certlocks[i]);
    for (size_t i = 0; acctlocks && i < accts.n; i++)
        fs_unlock(s, acctlocks[i]);
    free(certlocks);
    free(acctlocks);
    free(sub);
    name_vec_free(&certs);
    name_vec_free(&accts);
    return rc;
}

/* Through the live link: the file lands in the current version's folder
 * (temporary file, fsync, rename there). A version made current meanwhile
 * by another process starts with its own state, which is what it needs. */
static leec_code fs_cert_write_state(leec_store *s, const char *name,
                                     const char *file, const char *data)
{
    char *path = NULL;
    if (!data || !leec_store_name_valid(name) || !file ||
        strcmp(file, "renewal.json") != 0)
        return LEEC_E_INVALID_ARG;
    leec_code rc = current_file(fs_of(s), name, file, &path);
    if (rc == LEEC_OK)
        rc = leec_file_write_atomic(path, data, strlen(data), 0644);
    free(path);
    return rc;
}

static char *fs_live_path(leec_store *s, const char *name)
{
    if (!leec_store_name_valid(name))
        return NULL;
    return pathf("%s/live/%s", fs_of(s)->dir, name);
}

static void fs_destroy(leec_store *s)
{
    fs_store *fs = fs_of(s);
    if (!fs)
        return;
    free(fs->dir);
    free(fs);
}

static const struct leec_store_ops fs_ops = {
    .account_load = fs_account_load,
    .account_save = fs_account_save,
    .account_remove = fs_account_remove,
    .cert_read = fs_cert_read,
    .cert_read_many = fs_cert_read_many,
    .cert_install = fs_cert_install,
    .cert_write_state = fs_cert_write_state,
    .live_path = fs_live_path,
    .list = fs_list,
    .reset = fs_reset,
    .lock = fs_lock,
    .lock_holder = fs_lock_holder,
    .unlock = fs_unlock,
    .destroy = fs_destroy,
};

leec_store *leec_store_fs_new(const char *dir, leec_code *err)
{
    leec_code rc = LEEC_E_INVALID_ARG;
    fs_store *fs = NULL;
    char *sub = NULL;
    size_t len = 0;
    static const char *const subdirs[] = {"accounts", "archive", "live",
                                          "locks"};

    if (!dir || !*dir)
        goto out;
    rc = LEEC_E_NOMEM;
    fs = calloc(1, sizeof *fs);
    if (!fs)
        goto out;
    fs->base.ops = &fs_ops;
    /* Without trailing slashes, so that paths we report look natural. */
    len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    fs->dir = strndup(dir, len);
    if (!fs->dir)
        goto out;

    rc = leec_mkdir_p(fs->dir, 0700);
    if (rc != LEEC_OK)
        goto out;
    for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++) {
        free(sub);
        sub = pathf("%s/%s", fs->dir, subdirs[i]);
        if (!sub) {
            rc = LEEC_E_NOMEM;
            goto out;
        }
        rc = leec_mkdir_p(sub, 0700);
        if (rc != LEEC_OK)
            goto out;
    }
    rc = LEEC_OK;

out:
    free(sub);
    if (rc != LEEC_OK) {
        fs_destroy(fs ? &fs->base : NULL);
        fs = NULL;
    }
    if (err)
        *err = rc;
    return fs ? &fs->base : NULL;
}
