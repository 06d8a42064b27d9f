/* The webroot http-01 solver: the challenge file is written where a running
 * web server already serves static files.
 *
 * The webroot usually belongs to another user (the web server's, a site's
 * deploy user), who could put a symbolic link at .well-known or
 * .well-known/acme-challenge so that root writes (and removes) a file in a
 * folder of their choice. So below the webroot every component is opened
 * from the folder above it with O_NOFOLLOW; a link there is followed only
 * when it belongs to the user running leec or to root (an administrator's
 * deliberate link, .well-known to a shared folder), and then through a
 * descriptor of the link itself, so that a link swapped meanwhile is not the
 * one followed. The token file is written atomically in the folder's
 * descriptor (a link planted at its name is replaced, not followed) and
 * removed from it. The webroot path itself is the administrator's. */
#define _GNU_SOURCE

#include "solver/webroot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/b64url.h"
#include "util/fsutil.h"

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_CLOEXEC)

/* *why = a message built printf-style (when why is not NULL). */
__attribute__((format(printf, 2, 3))) static void say(char **why,
                                                      const char *fmt, ...)
{
    va_list ap;
    if (!why)
        return;
    free(*why);
    va_start(ap, fmt);
    if (vasprintf(why, fmt, ap) < 0)
        *why = NULL;
    va_end(ap);
}

/* The webroot, which must exist: a mistyped one must fail here, not be
 * created and then fail the challenge with a confusing 404 at the CA. */
static leec_code open_webroot(const char *webroot, int *fd, char **why)
{
    *fd = open(webroot, DIR_FLAGS);
    if (*fd >= 0)
        return LEEC_OK;
    say(why, "webroot %s: %s", webroot, strerror(errno));
    return LEEC_E_IO;
}

/* Opens name in the folder parent (at rel below webroot, for messages),
 * creating it 0755 (so the web server can traverse it) when create: a
 * folder, or a link to one made by the user running leec or by root.
 * LEEC_E_NOT_FOUND when it is missing and not to be created. */
static leec_code open_part(int parent, const char *webroot, const char *rel,
                           const char *name, bool create, int *out, char **why)
{
    struct stat st;
    bool made = false;
    int fd = -1, lfd = -1;
    leec_code rc = LEEC_E_IO;
    uid_t me = geteuid();

    *out = -1;
    if (create) {
        if (mkdirat(parent, name, 0755) == 0)
            made = true;
        else if (errno != EEXIST) {
            say(why, "cannot create %s/%s: %s", webroot, rel, strerror(errno));
            return LEEC_E_IO;
        }
    }
    fd = openat(parent, name, DIR_FLAGS | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT)
        return LEEC_E_NOT_FOUND;
    if (fd < 0 && errno != ELOOP && errno != ENOTDIR) {
        say(why, "cannot open %s/%s: %s", webroot, rel, strerror(errno));
        goto out;
    }
    if (fd < 0) {
        char target[PATH_MAX];
        /* The link itself, so that its owner and its text are those of one
         * and the same link. */
        lfd = openat(parent, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (lfd < 0 || fstat(lfd, &st) != 0) {
            say(why, "cannot open %s/%s: %s", webroot, rel, strerror(errno));
            goto out;
        }
        if (!S_ISLNK(st.st_mode)) {
            say(why, "%s/%s is not a folder", webroot, rel);
            goto out;
        }
        if (st.st_uid != me && st.st_uid != 0) {
            say(why,
                "%s/%s is a symbolic link owned by uid %u, not by the user "
                "running leec (uid %u) or root: not followed (make it a "
                "folder)",
                webroot, rel, (unsigned)st.st_uid, (unsigned)me);
            goto out;
        }
        ssize_t n = readlinkat(lfd, "", target, sizeof target - 1);
        if (n < 0) {
            say(why, "cannot read the link %s/%s: %s", webroot, rel,
                strerror(errno));
            goto out;
        }
        target[n] = '\0';
        /* Relative to the folder holding the link, as the kernel would. */
        fd = openat(parent, target, DIR_FLAGS);
        if (fd < 0) {
            if (errno == ENOENT && !create) {
                rc = LEEC_E_NOT_FOUND;
                goto out;
            }
            say(why, "cannot open %s/%s (a link to %s): %s", webroot, rel,
                target, strerror(errno));
            goto out;
        }
    }
    /* Exact mode regardless of umask; only on the folder just made (not on
     * one another user put there meanwhile). */
    if (made &&
        (fstat(fd, &st) != 0 || (st.st_uid == me && fchmod(fd, 0755) != 0))) {
        say(why, "cannot set the mode of %s/%s: %s", webroot, rel,
            strerror(errno));
        goto out;
    }
    *out = fd;
    fd = -1;
    rc = LEEC_OK;

out:
    if (fd >= 0)
        close(fd);
    if (lfd >= 0)
        close(lfd);
    return rc;
}

/* webroot/.well-known/acme-challenge, open as *out. */
static leec_code open_challenge_dir(const char *webroot, bool create, int *out,
                                    char **why)
{
    int root = -1, wk = -1;
    leec_code rc = open_webroot(webroot, &root, why);
    /* Messages name paths without a doubled slash. */
    size_t len = strlen(webroot);
    while (len > 1 && webroot[len - 1] == '/')
        len--;
    char *shown = strndup(webroot, len);
    if (rc == LEEC_OK && !shown)
        rc = LEEC_E_NOMEM;
    if (rc == LEEC_OK)
        rc = open_part(root, shown, ".well-known", ".well-known", create, &wk,
                       why);
    if (rc == LEEC_OK)
        rc = open_part(wk, shown, ".well-known/acme-challenge",
                       "acme-challenge", create, out, why);
    if (root >= 0)
        close(root);
    if (wk >= 0)
        close(wk);
    free(shown);
    return rc;
}

leec_code Leec_webroot_present(const char *webroot, const char *token,
                               const char *key_auth, char **why)
{
    leec_code rc = LEEC_E_INVALID_ARG;
    int dir = -1;

    if (why)
        *why = NULL;
    /* The token comes from the CA: check it before it gets near a path. */
    if (!Leec_token_valid(token) || !webroot || !*webroot || !key_auth)
        goto out;
    rc = open_challenge_dir(webroot, true, &dir, why);
    if (rc == LEEC_E_NOT_FOUND)
        rc = LEEC_E_IO; /* removed while we made it */
    if (rc != LEEC_OK)
        goto out;
    rc =
        Leec_file_write_atomic_at(dir, token, key_auth, strlen(key_auth), 0644);
    if (rc != LEEC_OK)
        say(why, "cannot write %s/.well-known/acme-challenge/%s", webroot,
            token);

out:
    if (dir >= 0)
        close(dir);
    return rc;
}

leec_code Leec_webroot_cleanup(const char *webroot, const char *token,
                               char **why)
{
    leec_code rc = LEEC_E_INVALID_ARG;
    int dir = -1;

    if (why)
        *why = NULL;
    if (!Leec_token_valid(token) || !webroot || !*webroot)
        goto out;
    rc = open_challenge_dir(webroot, false, &dir, why);
    if (rc == LEEC_E_NOT_FOUND) {
        rc = LEEC_OK; /* nothing left to remove */
        goto out;
    }
    if (rc != LEEC_OK)
        goto out;
    /* A link at the token's name is removed itself, never followed. */
    if (unlinkat(dir, token, 0) != 0 && errno != ENOENT) {
        say(why, "cannot remove %s/.well-known/acme-challenge/%s: %s", webroot,
            token, strerror(errno));
        rc = LEEC_E_IO;
    }

out:
    if (dir >= 0)
        close(dir);
    return rc;
}
