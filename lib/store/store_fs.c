/* The filesystem store: the records of include/leec/store.h laid out like
 * certbot's files, so that existing web server configurations can point at
 * live/<name>/fullchain.pem and privkey.pem (live/ is this backend's export
 * for web servers, leec_store_live_path):
 *
 *   account        accounts/<ca_id>/account.key.pem (0600), account.json
 *   version N      archive/<name>/<N>/privkey.pem (0600), cert.pem,
 *                  chain.pem, fullchain.pem, meta.json (the certificate's
 *                  settings: the names are in it)
 *   renewal state  archive/<name>/<N>/renewal.json
 *   current        live/<name> -> ../archive/<name>/<N>
 *   locks, leases  locks/<kind>-<name>.lock (flock: the exclusion) and
 *                  beside it <kind>-<name>.lease (the last grant: its
 *                  fencing token, expiry and holder), replaced at each
 *                  grant
 *   order journal  journal/<name>.json (0600: it holds the certificate
 *                  key), replaced whole at each step
 *   http-01 tokens in memory, per store instance (no file)
 *
 * A new version is built in a private temporary folder, renamed into place,
 * and only then made current by renaming a fresh symlink over live/<name>.
 * A reader that resolves live/<name> once thus gets one whole version. An
 * install that fails at any step leaves the previous version current and
 * removes what it wrote.
 *
 * Trust. What is read here decides which key a server uses and which hook
 * commands `leec renew` runs (they are kept in meta.json), so the state is
 * used only when nobody else can have written it:
 *   - the root folder (reached through whatever links its path holds: the
 *     administrator's choice) and every folder of the store below it are
 *     owned by the user running leec (the effective user when the store is
 *     opened) and not writable by group or others;
 *     so is every file read (a private key not readable by others either;
 *     by its group is an administrator's choice: 0640 for ssl-cert);
 *   - the root stays open as a descriptor and everything below it is
 *     reached from descriptors, one component at a time, never through a
 *     symbolic link, with one exception: live/<name>, whose text must be
 *     exactly ../archive/<name>/<N>, and which is then not followed but
 *     re-resolved from archive/ without links.
 * A refusal is LEEC_E_STORE with a message naming the path and the fix
 * (leec_store_refuse). Checking costs an fstat per folder and file opened,
 * on descriptors the read opens anyway. */
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/fsutil.h"
#include "store/store.h"

/* Certificates, chains, keys and account documents are a few KiB; anything
 * bigger is not ours. */
#define FS_READ_MAX  ((size_t)1024 * 1024)
#define FS_TMP_TRIES 32
/* Version numbers beyond this are not ours either (and keep arithmetic
 * far from overflow). */
#define FS_VERSION_MAX    999999999UL
#define FS_VERSION_DIGITS 9
/* What of a foreign link target a message shows. */
#define FS_SHOWN_MAX 200

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* An http-01 token and its key authorization (kept in memory). */
typedef struct fs_token {
    char *token, *key_auth;
} fs_token;

typedef struct fs_store {
    leec_store *st; /* the handle this is the state of: for refusals */
    char *dir;      /* as given, without trailing slashes: for messages */
    char *abs_dir;  /* dir from the root (the working folder at open before
                       a relative one), for paths handed to others */
    int root, live, archive, locks, journal; /* checked folders, open */
    uid_t uid; /* the effective user when opened: who must own it all */
    fs_token *tokens;
    size_t ntokens;
    struct fs_held *held; /* the locks this instance holds */
} fs_store;

/* A lock this store instance holds: its flocked descriptor, and the lease
 * token granted with it. While it is held no other holder can be granted
 * the lease (the flock excludes them), so fencing a write that presents
 * this token needs no read of the lease file. */
typedef struct fs_held {
    int fd;
    uint64_t token; /* 0 for a bare lock */
    char *key;      /* "kind/name" */
    struct fs_held *next;
} fs_held;

static const leec_store_ops fs_ops;

static fs_store *fs_of(leec_store *s)
{
    return Leec_store_impl(s, &fs_ops);
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

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
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

static DIR *open_stream(int dfd);

/* Whether entry is a temporary this file or fsutil.c made for base (NULL:
 * any base; digits: a base of decimal digits, a version being installed):
 * "." base ".tmp-" and 8 characters of random_suffix. */
static bool is_temp_of(const char *entry, const char *base, bool digits)
{
    size_t n = strlen(entry), bl = 0;
    if (n < 1 + 5 + 8 + 1 || entry[0] != '.' ||
        strncmp(entry + n - 13, ".tmp-", 5) != 0)
        return false;
    for (size_t i = n - 8; i < n; i++)
        if (!strchr("0123456789abcdef", entry[i]))
            return false;
    bl = n - 14;
    if (base)
        return strlen(base) == bl && strncmp(entry + 1, base, bl) == 0;
    for (size_t i = 1; digits && i <= bl; i++)
        if (entry[i] < '0' || entry[i] > '9')
            return false;
    return bl > 0;
}

/* Removes the temporaries a killed writer left in dfd (see is_temp_of),
 * a version's key among them. Called by a writer holding the lock of what
 * dfd holds, so none of them is being written. Best effort. */
static void sweep_temps(int dfd, const char *base, bool digits)
{
    DIR *d = open_stream(dfd);
    struct dirent *e = NULL;
    if (!d)
        return;
    while ((e = readdir(d)) != NULL)
        if (is_temp_of(e->d_name, base, digits))
            (void)Leec_remove_tree_at(dfd, e->d_name);
    closedir(d);
}

/* ------------------------------------------------------------------ */
/* Trust checks                                                        */
/* ------------------------------------------------------------------ */

/* The name chown takes for uid: its user name, else the number. */
static void user_name(uid_t uid, char *out, size_t len)
{
    struct passwd pw, *res = NULL;
    char buf[1024];
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res &&
        res->pw_name && *res->pw_name)
        snprintf(out, len, "%s", res->pw_name);
    else
        snprintf(out, len, "%u", (unsigned)uid);
}

/* rel's path as the user knows it ("DIR" or "DIR/rel"), malloc'd. */
static char *shown(fs_store *fs, const char *rel)
{
    return rel && *rel ? pathf("%s/%s", fs->dir, rel) : strdup(fs->dir);
}

/* Whether st (of what, at rel) may be trusted: owned by the user running
 * leec and not writable by group or others (secret: not readable by
 * others either). LEEC_OK, or LEEC_E_STORE with the fix. */
static leec_code check_trusted(fs_store *fs, const struct stat *st,
                               const char *what, const char *rel, bool secret)
{
    uid_t me = fs->uid;
    mode_t mode = st->st_mode & 07777;
    mode_t bad = mode & (mode_t)(secret ? 026 : 022);
    leec_code rc = LEEC_OK;
    char *p = NULL;

    if (st->st_uid == me && !bad)
        return LEEC_OK;
    if (!(p = shown(fs, rel)))
        return LEEC_E_NOMEM;
    if (st->st_uid != me) {
        char user[64];
        user_name(me, user, sizeof user);
        rc = leec_store_refuse(fs->st,
                               "%s %s is owned by uid %u, not by the user "
                               "running leec (uid %u): chown %s %s",
                               what, p, (unsigned)st->st_uid, (unsigned)me,
                               user, p);
    } else if (bad & 022) {
        bool also_read = (bad & 004) != 0;
        rc = leec_store_refuse(
            fs->st,
            "%s %s is %s by group or others (mode %04o): "
            "chmod %s %s",
            what, p, also_read ? "readable by others and writable" : "writable",
            (unsigned)mode, also_read ? "go-w,o-r" : "go-w", p);
    } else {
        rc = leec_store_refuse(fs->st,
                               "%s %s is readable by others (mode %04o): "
                               "chmod o-r %s",
                               what, p, (unsigned)mode, p);
    }
    free(p);
    return rc;
}

/* Why name in parent could not be opened as a folder without following a
 * link (errno e from openat): a refusal for a link or something else,
 * LEEC_E_NOT_FOUND, or LEEC_E_IO. */
static leec_code dir_open_failure(fs_store *fs, int parent, const char *name,
                                  const char *rel, int e)
{
    struct stat st;
    leec_code rc = LEEC_E_IO;
    char *p = NULL;

    if (e == ENOENT)
        return LEEC_E_NOT_FOUND;
    if (e != ELOOP && e != ENOTDIR)
        return LEEC_E_IO;
    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? LEEC_E_NOT_FOUND : LEEC_E_IO;
    if (!(p = shown(fs, rel)))
        return LEEC_E_NOMEM;
    if (S_ISLNK(st.st_mode))
        rc = leec_store_refuse(fs->st,
                               "state folder %s is a symbolic link: leec "
                               "follows no link inside its state folder but "
                               "live/NAME (make it a folder)",
                               p);
    else
        rc = leec_store_refuse(fs->st, "state folder %s is not a folder", p);
    free(p);
    return rc;
}

/* Opens the folder name in parent, creating it (exactly 0700) when create,
 * without following a link, and checks that it is trusted. rel: its path
 * in the store, for messages. LEEC_E_NOT_FOUND when it is missing and not
 * to be created. */
static leec_code open_dir(fs_store *fs, int parent, const char *name,
                          const char *rel, bool create, int *out)
{
    struct stat st;
    bool made = false;
    leec_code rc = LEEC_OK;
    int fd = -1;

    *out = -1;
    if (create) {
        if (mkdirat(parent, name, 0700) == 0)
            made = true;
        else if (errno != EEXIST)
            return LEEC_E_IO;
    }
    fd = openat(parent, name, DIR_FLAGS);
    if (fd < 0)
        return dir_open_failure(fs, parent, name, rel, errno);
    /* Exact mode regardless of umask, as for files. */
    if ((made && fchmod(fd, 0700) != 0) || fstat(fd, &st) != 0) {
        close(fd);
        return LEEC_E_IO;
    }
    rc = check_trusted(fs, &st, "state folder", rel, false);
    if (rc != LEEC_OK) {
        close(fd);
        return rc;
    }
    *out = fd;
    return LEEC_OK;
}

/* Reads file in the folder dirfd (at rel, for messages): a regular file,
 * not reached through a link, trusted (secret: a private key). */
static leec_code read_trusted(fs_store *fs, int dirfd, const char *rel,
                              const char *file, bool secret, char **data,
                              size_t *len)
{
    struct stat st;
    leec_code rc = LEEC_E_IO;
    char *r = NULL, *p = NULL;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer. */
    int fd = openat(dirfd, file,
                    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

    if (fd < 0 && errno == ENOENT)
        return LEEC_E_NOT_FOUND;
    if (fd < 0 && errno != ELOOP)
        return LEEC_E_IO;
    if (fd >= 0 && fstat(fd, &st) != 0)
        goto out;
    rc = LEEC_E_NOMEM;
    if (!(r = pathf("%s/%s", rel, file)))
        goto out;
    if (fd < 0 || !S_ISREG(st.st_mode)) {
        if (!(p = shown(fs, r)))
            goto out;
        rc = leec_store_refuse(fs->st,
                               fd < 0 ? "state file %s is a symbolic link: "
                                        "leec follows no link inside its "
                                        "state folder but live/NAME"
                                      : "state file %s is not a regular file",
                               p);
        goto out;
    }
    rc = check_trusted(fs, &st, secret ? "private key" : "state file", r,
                       secret);
    if (rc == LEEC_OK)
        rc = Leec_fd_read(fd, &st, FS_READ_MAX, data, len);

out:
    if (fd >= 0)
        close(fd);
    free(r);
    free(p);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Accounts                                                            */
/* ------------------------------------------------------------------ */

/* accounts/<ca_id>, checked (created when create). */
static leec_code open_account(fs_store *fs, const char *ca_id, bool create,
                              int *out, char **rel)
{
    int acc = -1;
    leec_code rc = LEEC_E_NOMEM;

    *out = -1;
    if (!(*rel = pathf("accounts/%s", ca_id)))
        goto out;
    rc = open_dir(fs, fs->root, "accounts", "accounts", create, &acc);
    if (rc == LEEC_OK)
        rc = open_dir(fs, acc, ca_id, *rel, create, out);
out:
    close_fd(&acc);
    if (rc != LEEC_OK) {
        free(*rel);
        *rel = NULL;
    }
    return rc;
}

static leec_code fs_account_load(leec_store *s, const char *ca_id,
                                 char **key_pem, char **account_json)
{
    fs_store *fs = fs_of(s);
    leec_code rc = LEEC_E_INVALID_ARG;
    char *key = NULL;
    char *json = NULL;
    char *rel = NULL;
    size_t klen = 0;
    int afd = -1;

    if (!key_pem || !account_json)
        goto out;
    *key_pem = NULL;
    *account_json = NULL;
    if (!Leec_store_name_valid(ca_id))
        goto out;

    rc = open_account(fs, ca_id, false, &afd, &rel);
    if (rc != LEEC_OK)
        goto out;
    leec_code krc =
        read_trusted(fs, afd, rel, "account.key.pem", true, &key, &klen);
    rc = read_trusted(fs, afd, rel, "account.json", false, &json, NULL);
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
    close_fd(&afd);
    free_secret(key, klen);
    free(json);
    free(rel);
    return rc;
}

static leec_code fs_account_save(leec_store *s, const char *ca_id,
                                 const char *key_pem, const char *account_json)
{
    fs_store *fs = fs_of(s);
    leec_code rc = LEEC_E_INVALID_ARG;
    char *rel = NULL;
    int afd = -1;

    if (!key_pem || !account_json || !Leec_store_name_valid(ca_id))
        goto out;
    rc = open_account(fs, ca_id, true, &afd, &rel);
    if (rc != LEEC_OK)
        goto out;
    sweep_temps(afd, NULL, false); /* a killed save's, under the lock */
    /* Key first: an account.json without its key would be useless, while a
     * key without account.json is simply found again at the CA. */
    rc = Leec_file_write_atomic_at(afd, "account.key.pem", key_pem,
                                   strlen(key_pem), 0600);
    if (rc != LEEC_OK)
        goto out;
    rc = Leec_file_write_atomic_at(afd, "account.json", account_json,
                                   strlen(account_json), 0644);

out:
    close_fd(&afd);
    free(rel);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Certificates                                                        */
/* ------------------------------------------------------------------ */

/* The version number at the end of a live link's text, as installs write
 * it: 1 to FS_VERSION_MAX in decimal, without leading zeros. NULL when
 * target is not exactly "../archive/<name>/<N>". */
static const char *link_version(const char *target, const char *name)
{
    static const char prefix[] = "../archive/";
    size_t plen = sizeof prefix - 1, nlen = strlen(name);
    const char *num = NULL;
    size_t digits = 0;

    /* Each test runs only when the text is long enough for it. */
    if (strncmp(target, prefix, plen) != 0 ||
        strncmp(target + plen, name, nlen) != 0 || target[plen + nlen] != '/')
        return NULL;
    num = target + plen + nlen + 1;
    digits = strspn(num, "0123456789");
    if (digits == 0 || digits > FS_VERSION_DIGITS || num[digits] != '\0' ||
        num[0] == '0')
        return NULL;
    return num;
}

/* A refusal for the live link of name whose text is target. */
static leec_code foreign_link(fs_store *fs, const char *name,
                              const char *target)
{
    char safe[FS_SHOWN_MAX + 4];
    size_t i = 0;
    for (; target[i] && i < FS_SHOWN_MAX; i++)
        safe[i] = (target[i] >= 0x20 && target[i] < 0x7f) ? target[i] : '?';
    safe[i] = '\0';
    if (target[i])
        memcpy(safe + i, "...", 4);
    return leec_store_refuse(fs->st,
                             "live link %s/live/%s points at '%s', not at "
                             "../archive/%s/N: leec reads only the links it "
                             "makes (remove it, or leec reset %s)",
                             fs->dir, name, safe, name, name);
}

/* Opens the current version of name, through the one check every reader
 * goes through: live/<name> must read exactly ../archive/<name>/<N>, and
 * archive/<name> and archive/<name>/<N> are then opened from archive/
 * without following links and checked. *vfd: the version folder; *vrel:
 * its path in the store (malloc'd), for messages; *number: N.
 * LEEC_E_NOT_FOUND without a link or a version. */
static leec_code open_current(fs_store *fs, const char *name, int *vfd,
                              char **vrel, uint64_t *number)
{
    char target[PATH_MAX];
    const char *num = NULL;
    leec_code rc = LEEC_E_IO;
    char *arel = NULL;
    int afd = -1;

    *vfd = -1;
    *vrel = NULL;
    ssize_t n = readlinkat(fs->live, name, target, sizeof target - 1);
    if (n < 0) {
        if (errno == ENOENT)
            return LEEC_E_NOT_FOUND;
        if (errno != EINVAL)
            return LEEC_E_IO;
        /* Not a link: a folder or file someone put there. */
        return leec_store_refuse(fs->st,
                                 "%s/live/%s is not a symbolic link: leec "
                                 "reads only the links it makes (remove it, "
                                 "or leec reset %s)",
                                 fs->dir, name, name);
    }
    target[n] = '\0';
    if (!(num = link_version(target, name)))
        return foreign_link(fs, name, target);
    /* At most FS_VERSION_DIGITS digits (link_version): no overflow. */
    *number = strtoull(num, NULL, 10);
    if (!(arel = pathf("archive/%s", name)) ||
        !(*vrel = pathf("archive/%s/%s", name, num))) {
        rc = LEEC_E_NOMEM;
        goto out;
    }
    rc = open_dir(fs, fs->archive, name, arel, false, &afd);
    if (rc == LEEC_OK)
        rc = open_dir(fs, afd, num, *vrel, false, vfd);

out:
    close_fd(&afd);
    free(arel);
    if (rc != LEEC_OK) {
        free(*vrel);
        *vrel = NULL;
    }
    return rc;
}

/* Reads the parts in want of the current version, resolving live/<name>
 * once (open_current) so that all come from the same version even while a
 * new one is being installed: the one place a version's files are read. A
 * file that is not there is a part the version lacks. */
static leec_code fs_version_read(leec_store *s, const char *name, unsigned want,
                                 leec_store_version *v)
{
    fs_store *fs = fs_of(s);
    char *vrel = NULL;
    int vfd = -1;
    if (!Leec_store_name_valid(name))
        return LEEC_E_INVALID_ARG;
    leec_code rc = open_current(fs, name, &vfd, &vrel, &v->number);
    for (int p = 0; p < LEEC_PART_COUNT && rc == LEEC_OK; p++) {
        if (!(want & LEEC_PARTS(p)))
            continue;
        rc = read_trusted(fs, vfd, vrel, Leec_store_part_file(p),
                          p == LEEC_PART_PRIVKEY, &v->text[p], &v->len[p]);
        if (rc == LEEC_E_NOT_FOUND)
            rc = LEEC_OK;
    }
    if (rc != LEEC_OK)
        leec_store_version_clear(v);
    close_fd(&vfd);
    free(vrel);
    return rc;
}

/* The number after the highest numbered version in the folder afd
 * (1 for none); on the way, removes the temporary version folders a killed
 * install left (the caller holds the lock of the name). */
static leec_code next_version(int afd, unsigned long *out)
{
    leec_code rc = LEEC_E_IO;
    DIR *d = NULL;
    struct dirent *e = NULL;
    unsigned long max = 0;
    /* A descriptor of its own: readdir moves its offset. */
    int fd = openat(afd, ".", DIR_FLAGS);

    if (fd < 0 || !(d = fdopendir(fd)))
        goto out;
    fd = -1;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        size_t i = 0;
        unsigned long v = 0;

        if (is_temp_of(n, NULL, true)) {
            /* What an install killed midway left (its key among it): the
             * lock of the name is held, so no other install is under way.
             * Removed in this same pass over the folder. */
            (void)Leec_remove_tree_at(afd, n);
            continue;
        }
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
    close_fd(&fd);
    if (d)
        closedir(d);
    return rc;
}

/* Removes a version folder we created (name in afd) and did not make
 * current. Only the names we write are removed, so a mistake cannot delete
 * anything else. */
static void remove_version(int afd, const char *name)
{
    int vfd = openat(afd, name, DIR_FLAGS);
    if (vfd >= 0) {
        for (int p = 0; p < LEEC_PART_COUNT; p++)
            unlinkat(vfd, Leec_store_part_file(p), 0);
        close(vfd);
    }
    unlinkat(afd, name, AT_REMOVEDIR);
}

/* Creates name in dfd (it must not exist) with exactly mode and writes
 * text into it; the open descriptor in *fd (-1 on failure). */
static leec_code create_part(int dfd, const char *name, const char *text,
                             mode_t mode, int *fd)
{
    size_t len = strlen(text);
    *fd = openat(dfd, name,
                 O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (*fd < 0)
        return LEEC_E_IO;
    /* The umask may only have removed bits at creation. */
    if (fchmod(*fd, mode) != 0)
        return LEEC_E_IO;
    while (len > 0) {
        ssize_t w = write(*fd, text, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return LEEC_E_IO;
        text += w;
        len -= (size_t)w;
    }
    return LEEC_OK;
}

/* Writes the files of one version into the folder dfd (a private temporary
 * folder that is renamed into place afterwards: each file is fsync'd, then
 * the folder once, instead of an atomic rename and folder fsync per file).
 * All the files are written before the first fsync: the folder, which
 * every new file's fsync also writes out on ext4, then goes to the disk
 * once rather than once a file. On failure the caller removes the folder. */
static leec_code write_version(int dfd, const leec_store_new_version *in)
{
    const char *text[LEEC_PART_COUNT] = {[LEEC_PART_PRIVKEY] = in->privkey,
                                         [LEEC_PART_CERT] = in->cert,
                                         [LEEC_PART_CHAIN] = in->chain,
                                         [LEEC_PART_FULLCHAIN] = in->fullchain,
                                         [LEEC_PART_META] = in->meta_json};
    int fd[LEEC_PART_COUNT];
    leec_code rc = LEEC_OK;
    for (int p = 0; p < LEEC_PART_COUNT; p++)
        fd[p] = -1;
    for (int p = 0; p < LEEC_PART_COUNT && rc == LEEC_OK; p++)
        if (text[p])
            rc = create_part(dfd, Leec_store_part_file(p), text[p],
                             p == LEEC_PART_PRIVKEY ? 0600 : 0644, &fd[p]);
    for (int p = 0; p < LEEC_PART_COUNT; p++) {
        if (fd[p] < 0)
            continue;
        if (rc == LEEC_OK && fsync(fd[p]) != 0)
            rc = LEEC_E_IO;
        if (close(fd[p]) != 0 && rc == LEEC_OK)
            rc = LEEC_E_IO;
    }
    return rc == LEEC_OK ? Leec_fsync_fd(dfd) : rc;
}

/* Points live/<name> at target by renaming a fresh symlink over it, so the
 * link is replaced in one step and never missing. Nothing changes on
 * failure. */
static leec_code link_live(fs_store *fs, const char *name, const char *target)
{
    /* One temporary name per certificate, not a random one: the lock of
     * name is held, so nobody else uses it, and what a killed install left
     * is removed here rather than found by reading live/ (thousands of
     * entries) at every install. */
    leec_code rc = LEEC_E_NOMEM;
    char *tmp = pathf(".%s.tmp-00000000", name);
    if (!tmp)
        return rc;
    rc = LEEC_E_IO;
    (void)unlinkat(fs->live, tmp, 0);
    if (symlinkat(target, fs->live, tmp) != 0) {
        free(tmp);
        return rc;
    }
    if (renameat(fs->live, tmp, fs->live, name) == 0)
        rc = LEEC_OK;
    else
        unlinkat(fs->live, tmp, 0);
    free(tmp);
    return rc;
}

/* Makes target the current version of name (link_live), durably: live/ is
 * fsync'd. When that fsync fails the install fails, so the previous link
 * is put back (old: its text, NULL when there was none); *kept when that
 * failed too and the new link stays (the caller must not remove its
 * version then). */
static leec_code switch_live(fs_store *fs, const char *name, const char *target,
                             const char *old, bool old_known, bool *kept)
{
    *kept = false;
    leec_code rc = link_live(fs, name, target);
    if (rc != LEEC_OK)
        return rc;
    rc = Leec_fsync_fd(fs->live);
    if (rc == LEEC_OK)
        return rc;
    leec_code back = !old_known ? LEEC_E_IO
                     : old      ? link_live(fs, name, old)
                     : unlinkat(fs->live, name, 0) == 0 ? LEEC_OK
                                                        : LEEC_E_IO;
    if (back == LEEC_OK)
        (void)Leec_fsync_fd(fs->live); /* as durable as it can be */
    else
        *kept = true;
    return rc;
}

/* A new private folder ".<n>.tmp-XXXXXXXX" in afd (0700, an unpredictable
 * name), open as *tfd; its name in *tmp (malloc'd). */
static leec_code make_tmp_version(int afd, unsigned long n, char **tmp,
                                  int *tfd)
{
    *tmp = NULL;
    *tfd = -1;
    for (int i = 0; i < FS_TMP_TRIES; i++) {
        char sfx[9];
        random_suffix(sfx);
        if (!(*tmp = pathf(".%lu.tmp-%s", n, sfx)))
            return LEEC_E_NOMEM;
        if (mkdirat(afd, *tmp, 0700) == 0) {
            *tfd = openat(afd, *tmp, DIR_FLAGS);
            if (*tfd >= 0 && fchmod(*tfd, 0700) == 0)
                return LEEC_OK;
            close_fd(tfd);
            unlinkat(afd, *tmp, AT_REMOVEDIR);
            break;
        }
        int e = errno;
        free(*tmp);
        *tmp = NULL;
        if (e != EEXIST)
            break;
    }
    free(*tmp);
    *tmp = NULL;
    return LEEC_E_IO;
}

static leec_code fs_version_install(leec_store *s, const char *name,
                                    const leec_store_new_version *in,
                                    uint64_t *number)
{
    fs_store *fs = fs_of(s);
    leec_code rc = LEEC_E_INVALID_ARG;
    char *arel = NULL;
    char *tmp = NULL;
    char *target = NULL;
    char num[24];
    char old[PATH_MAX];
    unsigned long n = 0;
    bool unused_version = false, kept = false, old_known = false;
    int afd = -1, tfd = -1;

    if (!Leec_store_name_valid(name) || !in || !in->privkey || !in->cert ||
        !in->chain || !in->fullchain)
        goto out;

    rc = LEEC_E_NOMEM;
    if (!(arel = pathf("archive/%s", name)))
        goto out;
    rc = open_dir(fs, fs->archive, name, arel, true, &afd);
    if (rc != LEEC_OK)
        goto out;
    rc = next_version(afd, &n);
    if (rc != LEEC_OK)
        goto out;
    rc = make_tmp_version(afd, n, &tmp, &tfd);
    if (rc != LEEC_OK)
        goto out;
    rc = write_version(tfd, in);
    if (rc != LEEC_OK)
        goto out;

    /* Another installer may have taken number n meanwhile: rename() refuses
     * to replace a non-empty folder, so take the next number. */
    for (int i = 0; i < FS_TMP_TRIES; i++, n++) {
        snprintf(num, sizeof num, "%lu", n);
        if (renameat(afd, tmp, afd, num) == 0) {
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
    free(tmp);
    tmp = NULL;
    rc = Leec_fsync_fd(afd);
    if (rc != LEEC_OK)
        goto out;

    target = pathf("../archive/%s/%lu", name, n);
    if (!target) {
        rc = LEEC_E_NOMEM;
        goto out;
    }
    /* What live/<name> says now, to be put back should the switch not
     * become durable. */
    ssize_t ol = readlinkat(fs->live, name, old, sizeof old - 1);
    if (ol >= 0)
        old[ol] = '\0';
    old_known = ol >= 0 || errno == ENOENT;
    rc = switch_live(fs, name, target, ol >= 0 ? old : NULL, old_known, &kept);
    if (rc != LEEC_OK && !kept)
        goto out;
    unused_version = false;
    if (rc == LEEC_OK && number)
        *number = n;

out:
    close_fd(&tfd);
    if (tmp)
        remove_version(afd, tmp);
    /* A version that never became current would only confuse; remove it. */
    if (unused_version)
        remove_version(afd, num);
    close_fd(&afd);
    free(arel);
    free(tmp);
    free(target);
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
    char *file = NULL;
    int fd = -1;
    fs_held *h = NULL;
    *handle = NULL;
    if (!Leec_store_name_valid(kind) || !Leec_store_name_valid(name))
        return LEEC_E_INVALID_ARG;
    if (!(file = pathf("%s-%s.lock", kind, name)) ||
        !(h = calloc(1, sizeof *h)) || !(h->key = pathf("%s/%s", kind, name)))
        goto out;
    fd = openat(fs_of(s)->locks, file,
                O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
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
    ssize_t w =
        n > 0 && ftruncate(fd, 0) == 0 ? pwrite(fd, me, (size_t)n, 0) : -1;
    (void)w;
    h->fd = fd;
    h->next = fs_of(s)->held;
    fs_of(s)->held = h;
    *handle = h;
    h = NULL;
    fd = -1;
    rc = LEEC_OK;
out:
    close_fd(&fd);
    if (h)
        free(h->key);
    free(h);
    free(file);
    return rc;
}

static leec_code fs_lock_holder(leec_store *s, const char *kind,
                                const char *name, long *pid, char **host)
{
    char *file = NULL, *text = NULL;
    size_t len = 0;
    *pid = 0;
    *host = NULL;
    if (!Leec_store_name_valid(kind) || !Leec_store_name_valid(name))
        return LEEC_E_INVALID_ARG;
    if (!(file = pathf("%s-%s.lock", kind, name)))
        return LEEC_E_NOMEM;
    /* In locks/ (checked when the store was opened), not through a link. */
    int fd = openat(fs_of(s)->locks, file,
                    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    free(file);
    if (fd < 0)
        return errno == ENOENT ? LEEC_E_NOT_FOUND : LEEC_E_IO;
    leec_code rc = Leec_fd_read(fd, NULL, 512, &text, &len);
    close(fd);
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
    fs_held *h = handle;
    if (!h)
        return;
    for (fs_held **p = &fs_of(s)->held; *p; p = &(*p)->next)
        if (*p == h) {
            *p = h->next;
            break;
        }
    close(h->fd);
    free(h->key);
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

/* A directory stream of the folder dfd, on a descriptor of its own. */
static DIR *open_stream(int dfd)
{
    int fd = openat(dfd, ".", DIR_FLAGS);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d && fd >= 0)
        close(fd);
    return d;
}

/* Adds the valid names of the entries of the folder dfd of one file type
 * (S_IFLNK or S_IFDIR, not following links). */
static leec_code collect_names(int dfd, mode_t type, name_vec *nv)
{
    leec_code rc = LEEC_E_IO;
    DIR *d = open_stream(dfd);
    struct dirent *e = NULL;

    if (!d)
        goto out;
    for (;;) {
        struct stat st;
        errno = 0;
        if (!(e = readdir(d)))
            break;
        if (!Leec_store_name_valid(e->d_name))
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

/* ------------------------------------------------------------------ */
/* Leases: flock for the exclusion, a file beside it for the token     */
/* ------------------------------------------------------------------ */

/* The last grant of kind/name: "TOKEN EXPIRY PID HOST\n" in
 * locks/<kind>-<name>.lease. *token 0 when there was none. A file that
 * does not read so (cut by a power failure: it is replaced without an
 * fsync, below) counts as none too: tokens may then start again, which
 * only a holder that died with the machine could notice. */
static leec_code lease_read(fs_store *fs, const char *kind, const char *name,
                            uint64_t *token)
{
    char *file = NULL, *text = NULL, *end = NULL;
    *token = 0;
    if (!(file = pathf("%s-%s.lease", kind, name)))
        return LEEC_E_NOMEM;
    int fd =
        openat(fs->locks, file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    free(file);
    if (fd < 0)
        return errno == ENOENT ? LEEC_OK : LEEC_E_IO;
    leec_code rc = Leec_fd_read(fd, NULL, 1024, &text, NULL);
    close(fd);
    if (rc == LEEC_E_TOO_LARGE)
        return LEEC_OK;
    if (rc != LEEC_OK)
        return rc;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (end != text && *end == ' ' && errno == 0)
        *token = v;
    free(text);
    return LEEC_OK;
}

/* Replaces file in the folder dfd with text (mode 0600) in one rename:
 * whole, the old or the new. Durable: on disk (the file and the folder
 * fsync'd); else the new one may be lost with the machine (never with the
 * process), for records whose loss a crash of the machine makes harmless. */
static leec_code replace_file(int dfd, const char *file, const char *text,
                              size_t len, bool durable)
{
    /* One temporary name per file, not a random one: the caller holds the
     * lock of what file records, so nobody else writes it, and what a
     * killed writer left is replaced here (a random name would stay for
     * ever, or need the whole folder read at each write). */
    leec_code rc = LEEC_E_NOMEM;
    char *tmp = NULL;
    int fd = -1;
    if (!(tmp = pathf(".%s.tmp-00000000", file)))
        goto out;
    rc = LEEC_E_IO;
    (void)unlinkat(dfd, tmp, 0);
    fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                0600);
    /* Flocked while written: where no lock covers the file (the budget
     * log), a sweep tells a killed writer's temporary by its free flock. */
    if (fd < 0 || flock(fd, LOCK_EX) != 0 || fchmod(fd, 0600) != 0 ||
        write(fd, text, len) != (ssize_t)len)
        goto out;
    if (durable && fsync(fd) != 0)
        goto out;
    if (close(fd) != 0) {
        fd = -1;
        goto out;
    }
    fd = -1;
    if (renameat(dfd, tmp, dfd, file) != 0)
        goto out;
    free(tmp);
    tmp = NULL;
    rc = durable ? Leec_fsync_fd(dfd) : LEEC_OK;
out:
    close_fd(&fd);
    if (tmp)
        unlinkat(dfd, tmp, 0);
    free(tmp);
    return rc;
}

/* Replaces the lease file of kind/name (replace_file: the exclusion is the
 * flock, and the token only has to grow while holders live, see
 * lease_read, which the page cache gives). */
static leec_code lease_write(fs_store *fs, const char *kind, const char *name,
                             uint64_t token, unsigned ttl_s)
{
    char host[256] = "", text[400];
    char *file = pathf("%s-%s.lease", kind, name);
    if (!file)
        return LEEC_E_NOMEM;
    if (gethostname(host, sizeof host - 1) != 0 || !*host)
        snprintf(host, sizeof host, "-");
    int n = snprintf(
        text, sizeof text, "%llu %lld %ld %s\n", (unsigned long long)token,
        (long long)time(NULL) + (long long)ttl_s, (long)getpid(), host);
    leec_code rc = n > 0 && (size_t)n < sizeof text
                       ? replace_file(fs->locks, file, text, (size_t)n, false)
                       : LEEC_E_IO;
    free(file);
    return rc;
}

/* The flock (fs_lock), then the next token. A holder that died released
 * its flock with its descriptors: its successor never waits for an
 * expiry, which only says until when the holder meant to work. */
static leec_code fs_lease(leec_store *s, const char *kind, const char *name,
                          unsigned ttl_s, void **handle, uint64_t *token)
{
    fs_store *fs = fs_of(s);
    uint64_t cur = 0;
    *token = 0;
    leec_code rc = fs_lock(s, kind, name, handle);
    if (rc != LEEC_OK)
        return rc;
    rc = lease_read(fs, kind, name, &cur);
    if (rc == LEEC_OK && cur == UINT64_MAX)
        rc = LEEC_E_IO;
    if (rc == LEEC_OK)
        rc = lease_write(fs, kind, name, cur + 1, ttl_s);
    if (rc != LEEC_OK) {
        fs_unlock(s, *handle);
        *handle = NULL;
        return rc;
    }
    *token = cur + 1;
    ((fs_held *)*handle)->token = cur + 1;
    return LEEC_OK;
}

static leec_code fs_fence(leec_store *s, const char *kind, const char *name,
                          uint64_t token)
{
    uint64_t cur = 0;
    if (!Leec_store_name_valid(kind) || !Leec_store_name_valid(name))
        return LEEC_E_INVALID_ARG;
    /* Held here, on the lock file that is still in place (a removed one
     * has no link left: another holder may flock its successor): nobody
     * can have been granted the lease since, no need to read it. */
    size_t kl = strlen(kind);
    struct stat st;
    for (const fs_held *h = fs_of(s)->held; token && h; h = h->next)
        if (h->token == token && strncmp(h->key, kind, kl) == 0 &&
            h->key[kl] == '/' && strcmp(h->key + kl + 1, name) == 0 &&
            fstat(h->fd, &st) == 0 && st.st_nlink > 0)
            return LEEC_OK;
    leec_code rc = lease_read(fs_of(s), kind, name, &cur);
    if (rc == LEEC_OK && token && cur > token)
        rc = LEEC_E_FENCED;
    return rc;
}

/* ------------------------------------------------------------------ */
/* The order journal: journal/<name>.json                              */
/* ------------------------------------------------------------------ */

#define JOURNAL_SUFFIX ".json"

static leec_code fs_journal_write(leec_store *s, const char *name,
                                  uint64_t token, const char *entry,
                                  bool durable)
{
    fs_store *fs = fs_of(s);
    char *file = NULL;
    if (!Leec_store_name_valid(name) || !entry)
        return LEEC_E_INVALID_ARG;
    leec_code rc = fs_fence(s, "cert", name, token);
    if (rc != LEEC_OK)
        return rc;
    if (!(file = pathf("%s" JOURNAL_SUFFIX, name)))
        return LEEC_E_NOMEM;
    /* One file, replaced by a rename: the previous entry stays whole until
     * the new one is there (durable: on disk). */
    rc = replace_file(fs->journal, file, entry, strlen(entry), durable);
    free(file);
    return rc;
}

static leec_code fs_journal_read(leec_store *s, const char *name, char **entry)
{
    fs_store *fs = fs_of(s);
    char *file = NULL;
    size_t len = 0;
    if (!Leec_store_name_valid(name))
        return LEEC_E_INVALID_ARG;
    if (!(file = pathf("%s" JOURNAL_SUFFIX, name)))
        return LEEC_E_NOMEM;
    leec_code rc =
        read_trusted(fs, fs->journal, "journal", file, true, entry, &len);
    free(file);
    return rc;
}

/* Removes journal/<name>.json (durable: on disk, as a reset is). */
static leec_code journal_unlink(fs_store *fs, const char *name, bool durable)
{
    char *file = pathf("%s" JOURNAL_SUFFIX, name);
    if (!file)
        return LEEC_E_NOMEM;
    int r = unlinkat(fs->journal, file, 0);
    int e = errno;
    free(file);
    if (r != 0)
        return e == ENOENT ? LEEC_OK : LEEC_E_IO;
    return durable ? Leec_fsync_fd(fs->journal) : LEEC_OK;
}

static leec_code fs_journal_remove(leec_store *s, const char *name,
                                   uint64_t token)
{
    if (!Leec_store_name_valid(name))
        return LEEC_E_INVALID_ARG;
    leec_code rc = fs_fence(s, "cert", name, token);
    return rc != LEEC_OK ? rc : journal_unlink(fs_of(s), name, false);
}

/* Adds the names of the entries in journal/ (temporaries start with '.'
 * and are not names). */
static leec_code collect_journal(fs_store *fs, name_vec *nv)
{
    leec_code rc = LEEC_E_IO;
    DIR *d = open_stream(fs->journal);
    struct dirent *e = NULL;
    const size_t sl = strlen(JOURNAL_SUFFIX);
    if (!d)
        return LEEC_E_IO;
    for (;;) {
        errno = 0;
        if (!(e = readdir(d)))
            break;
        size_t l = strlen(e->d_name);
        if (l <= sl || strcmp(e->d_name + l - sl, JOURNAL_SUFFIX) != 0)
            continue;
        char *n = strndup(e->d_name, l - sl);
        if (!n) {
            rc = LEEC_E_NOMEM;
            goto out;
        }
        rc = Leec_store_name_valid(n) ? name_vec_add(nv, n) : LEEC_OK;
        free(n);
        if (rc != LEEC_OK)
            goto out;
        rc = LEEC_E_IO;
    }
    if (errno == 0)
        rc = LEEC_OK;
out:
    closedir(d);
    return rc;
}

static leec_code fs_journal_list(leec_store *s, char ***names, size_t *n)
{
    name_vec nv = {0};
    *names = NULL;
    *n = 0;
    leec_code rc = collect_journal(fs_of(s), &nv);
    if (rc == LEEC_OK && nv.n) {
        name_vec_sort_unique(&nv);
        *names = nv.v;
        *n = nv.n;
        nv.v = NULL;
        nv.n = nv.cap = 0;
    }
    name_vec_free(&nv);
    return rc;
}

/* Every live/<name> link (reading one checks it: open_current). */
static leec_code fs_list(leec_store *s, char ***names, size_t *n)
{
    fs_store *fs = fs_of(s);
    leec_code rc = LEEC_OK;
    name_vec nv = {0};

    *names = NULL;
    *n = 0;
    rc = collect_names(fs->live, S_IFLNK, &nv);
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
    return rc;
}

/* Renames name in the folder dfd to .trash-<name>-<random> in one step, so
 * that name is gone at once; *trash is the new name (malloc'd), or NULL
 * when there was nothing to move. */
static leec_code move_to_trash(int dfd, const char *name, char **trash)
{
    char sfx[9];

    *trash = NULL;
    random_suffix(sfx);
    if (!(*trash = pathf(".trash-%s-%s", name, sfx)))
        return LEEC_E_NOMEM;
    if (renameat(dfd, name, dfd, *trash) != 0) {
        free(*trash);
        *trash = NULL;
        return errno == ENOENT ? LEEC_OK : LEEC_E_IO;
    }
    return Leec_fsync_fd(dfd);
}

/* Deletes what earlier resets renamed away but could not delete (a crash,
 * a full disk). Best effort: the entries are already out of sight. */
static void sweep_trash(int dfd)
{
    DIR *d = open_stream(dfd);
    struct dirent *e = NULL;
    if (!d)
        return;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, ".trash-", 7) == 0)
            Leec_remove_tree_at(dfd, e->d_name);
    closedir(d);
}

/* Removes one certificate; its lock is held. The live link goes first: a
 * reader then finds no certificate rather than a link to a removed one. */
static leec_code reset_cert(fs_store *fs, const char *name)
{
    char *trash = NULL;
    leec_code rc = move_to_trash(fs->live, name, &trash);

    if (rc != LEEC_OK)
        goto out;
    if (trash && unlinkat(fs->live, trash, 0) != 0 && errno != ENOENT) {
        rc = LEEC_E_IO;
        goto out;
    }
    free(trash);
    trash = NULL;
    /* The order in progress goes with it (after the live link: a reader
     * never finds a version whose order is gone but not the version). */
    rc = journal_unlink(fs, name, true);
    if (rc != LEEC_OK)
        goto out;
    rc = move_to_trash(fs->archive, name, &trash);
    if (rc != LEEC_OK)
        goto out;
    if (trash)
        rc = Leec_remove_tree_at(fs->archive, trash);
    if (rc == LEEC_OK) {
        sweep_trash(fs->live);
        sweep_trash(fs->archive);
    }

out:
    free(trash);
    return rc;
}

/* One CA's account: its folder renamed away in one step, then deleted.
 * Removing an account that does not exist succeeds. */
static leec_code fs_account_remove(leec_store *s, const char *ca_id)
{
    fs_store *fs = fs_of(s);
    char *trash = NULL;
    int acc = -1;

    if (!Leec_store_name_valid(ca_id))
        return LEEC_E_INVALID_ARG;
    leec_code rc = open_dir(fs, fs->root, "accounts", "accounts", false, &acc);
    if (rc == LEEC_E_NOT_FOUND)
        return LEEC_OK;
    if (rc == LEEC_OK)
        rc = move_to_trash(acc, ca_id, &trash);
    if (rc == LEEC_OK && trash)
        rc = Leec_remove_tree_at(acc, trash);
    if (rc == LEEC_OK)
        sweep_trash(acc);
    close_fd(&acc);
    free(trash);
    return rc;
}

/* Every account, the folder renamed away whole and recreated empty. */
static leec_code reset_accounts(fs_store *fs)
{
    char *trash = NULL;
    int acc = -1;
    leec_code rc = move_to_trash(fs->root, "accounts", &trash);

    if (rc != LEEC_OK)
        goto out;
    rc = open_dir(fs, fs->root, "accounts", "accounts", true, &acc);
    if (rc != LEEC_OK)
        goto out;
    if (trash)
        rc = Leec_remove_tree_at(fs->root, trash);
    if (rc == LEEC_OK)
        sweep_trash(fs->root);

out:
    close_fd(&acc);
    free(trash);
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
    int acc = -1;

    if (name) {
        if (!Leec_store_name_valid(name))
            return LEEC_E_INVALID_ARG;
        rc = name_vec_add(&certs, name);
    } else {
        /* Versions without a live link (an install cut short) too. */
        rc = collect_names(fs->live, S_IFLNK, &certs);
        if (rc == LEEC_OK)
            rc = collect_names(fs->archive, S_IFDIR, &certs);
        /* Orders in progress for a certificate without a version yet. */
        if (rc == LEEC_OK)
            rc = collect_journal(fs, &certs);
        if (rc == LEEC_OK)
            rc = open_dir(fs, fs->root, "accounts", "accounts", false, &acc);
        if (rc == LEEC_OK)
            rc = collect_names(acc, S_IFDIR, &accts);
        else if (rc == LEEC_E_NOT_FOUND)
            rc = LEEC_OK;
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
        if ((rc = fs_lock(s, "account", accts.v[i], &acctlocks[i])) != LEEC_OK)
            goto out;
    for (size_t i = 0; i < certs.n; i++)
        if ((rc = reset_cert(fs, certs.v[i])) != LEEC_OK)
            goto out;
    rc = name ? LEEC_OK : reset_accounts(fs);
    /* What a reset cut short left behind, even when no certificate is left
     * to reset (reset_cert sweeps after each one). */
    if (rc == LEEC_OK && !name) {
        sweep_trash(fs->live);
        sweep_trash(fs->archive);
    }

out:
    for (size_t i = 0; certlocks && i < certs.n; i++)
        fs_unlock(s, certlocks[i]);
    for (size_t i = 0; acctlocks && i < accts.n; i++)
        fs_unlock(s, acctlocks[i]);
    free(certlocks);
    free(acctlocks);
    close_fd(&acc);
    name_vec_free(&certs);
    name_vec_free(&accts);
    return rc;
}

/* renewal.json in the current version's folder, found through the live
 * link's check, when that is version number (temporary file, fsync,
 * rename there). A version made current meanwhile by another process
 * starts with its own state, which is what it needs. */
static leec_code fs_renewal_write(leec_store *s, const char *name,
                                  uint64_t number, const char *json)
{
    fs_store *fs = fs_of(s);
    char *vrel = NULL;
    uint64_t cur = 0;
    int vfd = -1;
    if (!json || !Leec_store_name_valid(name))
        return LEEC_E_INVALID_ARG;
    leec_code rc = open_current(fs, name, &vfd, &vrel, &cur);
    if (rc == LEEC_OK && cur != number)
        rc = LEEC_E_NOT_FOUND;
    if (rc == LEEC_OK)
        sweep_temps(vfd, Leec_store_part_file(LEEC_PART_RENEWAL), false);
    if (rc == LEEC_OK)
        rc = Leec_file_write_atomic_at(vfd,
                                       Leec_store_part_file(LEEC_PART_RENEWAL),
                                       json, strlen(json), 0644);
    close_fd(&vfd);
    free(vrel);
    return rc;
}

/* ------------------------------------------------------------------ */
/* http-01 tokens: in memory, per store instance                       */
/* ------------------------------------------------------------------ */

/* A process answering the CA itself (leec's responder, a host server)
 * keeps its tokens here; no file is written, so the layout is certbot's
 * and nothing secret-adjacent outlives the process. Other processes on
 * the same folder do not see them: a fleet needs a shared backend. */
static fs_token *token_find(fs_store *fs, const char *token)
{
    for (size_t i = 0; i < fs->ntokens; i++)
        if (strcmp(fs->tokens[i].token, token) == 0)
            return &fs->tokens[i];
    return NULL;
}

static leec_code fs_token_put(leec_store *s, const char *token,
                              const char *key_auth)
{
    fs_store *fs = fs_of(s);
    fs_token *t = token_find(fs, token);
    char *k = strdup(key_auth);
    if (!k)
        return LEEC_E_NOMEM;
    if (t) {
        free(t->key_auth);
        t->key_auth = k;
        return LEEC_OK;
    }
    fs_token *v = reallocarray(fs->tokens, fs->ntokens + 1, sizeof *v);
    char *name = v ? strdup(token) : NULL;
    if (v)
        fs->tokens = v;
    if (!name) {
        free(k);
        return LEEC_E_NOMEM;
    }
    fs->tokens[fs->ntokens++] = (fs_token){name, k};
    return LEEC_OK;
}

static leec_code fs_token_get(leec_store *s, const char *token, char **key_auth)
{
    fs_token *t = token_find(fs_of(s), token);
    if (!t)
        return LEEC_E_NOT_FOUND;
    return (*key_auth = strdup(t->key_auth)) ? LEEC_OK : LEEC_E_NOMEM;
}

static leec_code fs_token_delete(leec_store *s, const char *token)
{
    fs_store *fs = fs_of(s);
    fs_token *t = token_find(fs, token);
    if (t) {
        free(t->token);
        free(t->key_auth);
        *t = fs->tokens[--fs->ntokens];
    }
    return LEEC_OK;
}

static void fs_free(fs_store *fs)
{
    if (!fs)
        return;
    close_fd(&fs->root);
    close_fd(&fs->live);
    close_fd(&fs->archive);
    close_fd(&fs->locks);
    close_fd(&fs->journal);
    while (fs->held) { /* locks never released: they end with the store */
        fs_held *h = fs->held;
        fs->held = h->next;
        close(h->fd);
        free(h->key);
        free(h);
    }
    for (size_t i = 0; i < fs->ntokens; i++) {
        free(fs->tokens[i].token);
        free(fs->tokens[i].key_auth);
    }
    free(fs->tokens);
    free(fs->dir);
    free(fs->abs_dir);
    free(fs);
}

static void fs_destroy(leec_store *s)
{
    fs_free(fs_of(s));
}

/* ------------------------------------------------------------------ */
/* The budget log: budget/<ca_id>/<when>-<random>, one file per entry  */
/* ------------------------------------------------------------------ */

/* One file per entry, made whole by a rename: two processes adding at
 * once never lose each other's, and no lock is needed. Old ones are
 * removed by whoever adds next. */

/* budget/<ca_id>, opened (created when create). */
static leec_code open_budget(fs_store *fs, const char *ca_id, bool create,
                             int *out)
{
    int bfd = -1;
    char *rel = pathf("budget/%s", ca_id);
    leec_code rc =
        rel ? open_dir(fs, fs->root, "budget", "budget", create, &bfd)
            : LEEC_E_NOMEM;
    if (rc == LEEC_OK)
        rc = open_dir(fs, bfd, ca_id, rel, create, out);
    close_fd(&bfd);
    free(rel);
    return rc;
}

/* The time an entry's file name says ("<when>-<8 hex digits>"), or -1 for
 * another name (a temporary, a stranger). */
static int64_t budget_when(const char *name)
{
    char *end = NULL;
    if (name[0] < '0' || name[0] > '9')
        return -1;
    errno = 0;
    long long w = strtoll(name, &end, 10);
    if (errno || *end != '-' || strlen(end + 1) != 8 ||
        strspn(end + 1, "0123456789abcdef") != 8)
        return -1;
    return (int64_t)w;
}

/* Removes entries made before forget_before and the temporaries of killed
 * writers (whose flock went with them). Best effort. */
static void budget_sweep(int dfd, int64_t forget_before)
{
    DIR *d = open_stream(dfd);
    struct dirent *e = NULL;
    while (d && (e = readdir(d))) {
        int64_t w = budget_when(e->d_name);
        if (w >= 0 && w < forget_before) {
            (void)unlinkat(dirfd(d), e->d_name, 0);
        } else if (w < 0 && is_temp_of(e->d_name, NULL, false)) {
            int fd = openat(dirfd(d), e->d_name,
                            O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
            if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
                (void)unlinkat(dirfd(d), e->d_name, 0);
            close_fd(&fd);
        }
    }
    if (d)
        closedir(d);
}

static leec_code fs_budget_add(leec_store *s, const char *ca_id, int64_t when,
                               const char *entry, int64_t forget_before)
{
    fs_store *fs = fs_of(s);
    int cfd = -1;
    char rnd[9], *file = NULL;
    leec_code rc = open_budget(fs, ca_id, true, &cfd);
    if (rc != LEEC_OK)
        return rc;
    random_suffix(rnd);
    if (!(file = pathf("%lld-%s", (long long)when, rnd))) {
        rc = LEEC_E_NOMEM;
        goto out;
    }
    if ((rc = replace_file(cfd, file, entry, strlen(entry), true)) != LEEC_OK)
        goto out;
    /* Housekeeping: an entry left is only read and skipped. */
    if (forget_before > 0)
        budget_sweep(cfd, forget_before);
out:
    free(file);
    close_fd(&cfd);
    return rc;
}

typedef struct budget_vec {
    char **entries;
    int64_t *whens;
    size_t n, cap;
} budget_vec;

static leec_code budget_vec_add(budget_vec *v, int64_t when, char *entry)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        char **e = realloc(v->entries, cap * sizeof *e);
        if (e)
            v->entries = e;
        int64_t *w = e ? realloc(v->whens, cap * sizeof *w) : NULL;
        if (!w)
            return LEEC_E_NOMEM;
        v->whens = w;
        v->cap = cap;
    }
    /* Insertion keeps them oldest first; a few hundred at most. */
    size_t i = v->n++;
    for (; i > 0 && v->whens[i - 1] > when; i--) {
        v->whens[i] = v->whens[i - 1];
        v->entries[i] = v->entries[i - 1];
    }
    v->whens[i] = when;
    v->entries[i] = entry;
    return LEEC_OK;
}

static leec_code fs_budget_read(leec_store *s, const char *ca_id, int64_t since,
                                char ***entries, int64_t **whens, size_t *n)
{
    fs_store *fs = fs_of(s);
    budget_vec v = {0};
    int cfd = -1;
    DIR *d = NULL;
    char *rel = pathf("budget/%s", ca_id);
    leec_code rc = rel ? open_budget(fs, ca_id, false, &cfd) : LEEC_E_NOMEM;
    if (rc == LEEC_E_NOT_FOUND) {
        rc = LEEC_OK; /* nothing recorded yet */
        goto out;
    }
    if (rc != LEEC_OK)
        goto out;
    if (!(d = open_stream(cfd))) {
        rc = LEEC_E_IO;
        goto out;
    }
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            rc = errno ? LEEC_E_IO : LEEC_OK;
            break;
        }
        int64_t w = budget_when(e->d_name);
        char *text = NULL;
        size_t len = 0;
        if (w < 0 || w < since)
            continue;
        rc = read_trusted(fs, cfd, rel, e->d_name, false, &text, &len);
        if (rc == LEEC_E_NOT_FOUND)
            continue; /* forgotten meanwhile */
        if (rc == LEEC_OK && (rc = budget_vec_add(&v, w, text)) != LEEC_OK)
            free(text);
        if (rc != LEEC_OK)
            break;
    }
out:
    if (d)
        closedir(d);
    close_fd(&cfd);
    free(rel);
    if (rc != LEEC_OK) {
        for (size_t i = 0; i < v.n; i++)
            free(v.entries[i]);
        free(v.entries);
        free(v.whens);
        return rc;
    }
    *entries = v.entries;
    *whens = v.whens;
    *n = v.n;
    return LEEC_OK;
}

static const leec_store_ops fs_ops = {
    .abi = LEEC_STORE_ABI,
    .account_load = fs_account_load,
    .account_save = fs_account_save,
    .account_remove = fs_account_remove,
    .version_read = fs_version_read,
    .version_install = fs_version_install,
    .list = fs_list,
    .reset = fs_reset,
    .renewal_write = fs_renewal_write,
    .token_put = fs_token_put,
    .token_get = fs_token_get,
    .token_delete = fs_token_delete,
    .lock = fs_lock,
    .unlock = fs_unlock,
    .lock_holder = fs_lock_holder,
    .destroy = fs_destroy,
    .lease = fs_lease,
    .fence = fs_fence,
    .journal_write = fs_journal_write,
    .journal_read = fs_journal_read,
    .journal_remove = fs_journal_remove,
    .journal_list = fs_journal_list,
    .budget_add = fs_budget_add,
    .budget_read = fs_budget_read,
};

/* The filesystem store's export: live/<name>, where web servers read. */
char *leec_store_live_path(leec_store *store, const char *cert_name)
{
    if (!Leec_store_impl(store, &fs_ops) || !Leec_store_name_valid(cert_name))
        return NULL;
    /* From the root, as certbot's RENEWED_LINEAGE: a hook runs in a folder
     * of its own choosing. */
    return pathf("%s/live/%s", fs_of(store)->abs_dir, cert_name);
}

/* The root, reached the usual way (links in the path given are the
 * administrator's), then held open and checked. */
static leec_code open_root(fs_store *fs)
{
    struct stat st;
    leec_code rc = Leec_mkdir_p(fs->dir, 0700);
    if (rc != LEEC_OK)
        return rc;
    fs->root = open(fs->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fs->root < 0 || fstat(fs->root, &st) != 0)
        return LEEC_E_IO;
    return check_trusted(fs, &st, "state folder", NULL, false);
}

leec_store *leec_store_fs_open(const char *dir, leec_code *err, char **why)
{
    leec_code rc = LEEC_E_INVALID_ARG;
    leec_store *st = NULL;
    fs_store *fs = NULL;
    size_t len = 0;
    int acc = -1;

    if (why)
        *why = NULL;
    if (!dir || !*dir)
        goto out;
    rc = LEEC_E_NOMEM;
    fs = calloc(1, sizeof *fs);
    if (!fs)
        goto out;
    fs->root = fs->live = fs->archive = fs->locks = fs->journal = -1;
    fs->uid = geteuid();
    /* Without trailing slashes, so that paths we report look natural. */
    len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    fs->dir = strndup(dir, len);
    if (!fs->dir)
        goto out;
    if (fs->dir[0] == '/') {
        fs->abs_dir = strdup(fs->dir);
    } else {
        char *cwd = getcwd(NULL, 0);
        if (cwd && asprintf(&fs->abs_dir, "%s%s%s", cwd,
                            strcmp(cwd, "/") == 0 ? "" : "/", fs->dir) < 0)
            fs->abs_dir = NULL;
        if (!cwd) {
            rc = LEEC_E_IO;
            goto out;
        }
        free(cwd);
    }
    if (!fs->abs_dir || !(st = leec_store_new(&fs_ops, fs, &rc)))
        goto out;
    fs->st = st;
    /* The store owns fs now. */
    fs = NULL;
    fs_store *f = fs_of(st);

    if ((rc = open_root(f)) != LEEC_OK ||
        (rc = open_dir(f, f->root, "live", "live", true, &f->live)) !=
            LEEC_OK ||
        (rc = open_dir(f, f->root, "archive", "archive", true, &f->archive)) !=
            LEEC_OK ||
        (rc = open_dir(f, f->root, "locks", "locks", true, &f->locks)) !=
            LEEC_OK ||
        (rc = open_dir(f, f->root, "journal", "journal", true, &f->journal)) !=
            LEEC_OK ||
        (rc = open_dir(f, f->root, "accounts", "accounts", true, &acc)) !=
            LEEC_OK)
        goto out;
    /* accounts/ is opened at each use: leec reset --all replaces it. */
    close_fd(&acc);
    rc = LEEC_OK;

out:
    fs_free(fs);
    if (rc != LEEC_OK && st) {
        if (why && rc == LEEC_E_STORE) {
            *why = Leec_store_take_why(st);
        }
        /* Not found here means a folder vanished while it was made. */
        if (rc == LEEC_E_NOT_FOUND)
            rc = LEEC_E_IO;
        leec_store_free(st);
        st = NULL;
    }
    if (err)
        *err = rc;
    return st;
}

leec_store *leec_store_fs_new(const char *dir, leec_code *err)
{
    return leec_store_fs_open(dir, err, NULL);
}
