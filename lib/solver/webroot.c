/* The webroot http-01 solver: the challenge file is written where a running
 * web server already serves static files. */
#define _GNU_SOURCE

#include "solver/webroot.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b64url.h"
#include "buf.h"
#include "fsutil.h"

/* RFC 8555 tokens carry 128 bits (22 characters); 256 leaves room for CAs
 * that use longer ones while keeping file names short. */
#define TOKEN_MAX 256
#define CHALLENGE_DIR "/.well-known/acme-challenge"

/* Builds "<webroot>/.well-known/acme-challenge" and, if token is not NULL,
 * the file path under it. */
static leec_code build_paths(const char *webroot, const char *token,
                             char **dir, char **file)
{
    leec_code rc = LEEC_OK;
    leec_buf b;

    leec_buf_init(&b, 0);
    rc = leec_buf_printf(&b, "%s" CHALLENGE_DIR, webroot);
    if (rc != LEEC_OK)
        goto out;
    if (dir) {
        *dir = strdup(b.data);
        if (!*dir) {
            rc = LEEC_E_NOMEM;
            goto out;
        }
    }
    rc = leec_buf_printf(&b, "/%s", token);
    if (rc != LEEC_OK)
        goto out;
    *file = leec_buf_steal(&b);
    if (!*file)
        rc = LEEC_E_NOMEM;

out:
    if (rc != LEEC_OK && dir) {
        free(*dir);
        *dir = NULL;
    }
    leec_buf_free(&b);
    return rc;
}

leec_code leec_webroot_present(const char *webroot, const char *token,
                               const char *key_auth)
{
    leec_code rc = LEEC_E_INVALID_ARG;
    char *dir = NULL;
    char *file = NULL;
    struct stat st;

    /* The token comes from the CA: check it before it gets near a path. */
    if (!leec_b64url_valid(token, TOKEN_MAX) || !webroot || !*webroot ||
        !key_auth)
        goto out;
    /* A mistyped webroot must fail here, not be created and then fail the
     * challenge with a confusing 404 at the CA. */
    if (stat(webroot, &st) != 0 || !S_ISDIR(st.st_mode)) {
        rc = LEEC_E_IO;
        goto out;
    }
    rc = build_paths(webroot, token, &dir, &file);
    if (rc != LEEC_OK)
        goto out;
    /* 0755 so the web server, usually another user, can traverse them. */
    rc = leec_mkdir_p(dir, 0755);
    if (rc != LEEC_OK)
        goto out;
    rc = leec_file_write_atomic(file, key_auth, strlen(key_auth), 0644);

out:
    free(dir);
    free(file);
    return rc;
}

leec_code leec_webroot_cleanup(const char *webroot, const char *token)
{
    leec_code rc = LEEC_E_INVALID_ARG;
    char *file = NULL;

    if (!leec_b64url_valid(token, TOKEN_MAX) || !webroot || !*webroot)
        goto out;
    rc = build_paths(webroot, token, NULL, &file);
    if (rc != LEEC_OK)
        goto out;
    rc = LEEC_OK;
    if (unlink(file) != 0 && errno != ENOENT)
        rc = LEEC_E_IO;

out:
    free(file);
    return rc;
}
