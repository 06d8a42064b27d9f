/* Tests for lib/solver/webroot.c. */
#define _GNU_SOURCE

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/fsutil.h"
#include "solver/webroot.h"
#include "testutil.h"

#define TOKEN   "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
#define KEYAUTH TOKEN ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"

typedef struct fixture {
    char *dir;     /* private temporary folder */
    char *webroot; /* dir/www */
    mode_t old_umask;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);

    if (!f)
        return -1;
    if (!(f->dir = tu_tmpdir("leec-webroot")))
        return -1;
    if (asprintf(&f->webroot, "%s/www", f->dir) < 0)
        return -1;
    if (mkdir(f->webroot, 0755) != 0)
        return -1;
    /* A strict umask: the web server must still be able to read. */
    f->old_umask = umask(077);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    umask(f->old_umask);
    tu_rmtree(f->dir);
    free(f->webroot);
    free(f->dir);
    free(f);
    return 0;
}

static void test_present_and_cleanup(void **state)
{
    fixture *f = *state;
    char *file =
        tu_pathf("%s/.well-known/acme-challenge/%s", f->webroot, TOKEN);
    char *wk = tu_pathf("%s/.well-known", f->webroot);
    char *ac = tu_pathf("%s/.well-known/acme-challenge", f->webroot);
    char *data = NULL;
    size_t len = 0;

    assert_int_equal(Leec_webroot_present(f->webroot, TOKEN, KEYAUTH, NULL),
                     LEEC_OK);
    assert_int_equal(Leec_file_read(file, 4096, &data, &len), LEEC_OK);
    assert_int_equal(len, strlen(KEYAUTH));
    assert_string_equal(data, KEYAUTH);
    free(data);
    assert_int_equal(tu_mode_of(file), 0644);
    assert_int_equal(tu_mode_of(wk), 0755);
    assert_int_equal(tu_mode_of(ac), 0755);
    /* The file alone: no temporary left. */
    assert_int_equal(tu_count_entries(ac), 1);

    /* Presenting again (a retried challenge) just rewrites it. */
    assert_int_equal(Leec_webroot_present(f->webroot, TOKEN, KEYAUTH, NULL),
                     LEEC_OK);
    assert_int_equal(tu_count_entries(ac), 1);

    assert_int_equal(Leec_webroot_cleanup(f->webroot, TOKEN, NULL), LEEC_OK);
    assert_int_equal(access(file, F_OK), -1);
    assert_int_equal(errno, ENOENT);
    /* The folders stay; a second cleanup is not an error. */
    assert_int_equal(tu_count_entries(ac), 0);
    assert_int_equal(Leec_webroot_cleanup(f->webroot, TOKEN, NULL), LEEC_OK);

    free(file);
    free(wk);
    free(ac);
}

static void test_trailing_slash_webroot(void **state)
{
    fixture *f = *state;
    char *root = tu_pathf("%s/", f->webroot);
    char *file =
        tu_pathf("%s/.well-known/acme-challenge/%s", f->webroot, TOKEN);

    assert_int_equal(Leec_webroot_present(root, TOKEN, KEYAUTH, NULL), LEEC_OK);
    assert_int_equal(access(file, R_OK), 0);
    assert_int_equal(Leec_webroot_cleanup(root, TOKEN, NULL), LEEC_OK);
    assert_int_equal(access(file, F_OK), -1);

    free(root);
    free(file);
}

static void test_bad_tokens(void **state)
{
    fixture *f = *state;
    char long_token[300];
    const char *bad[] = {
        "../../etc/passwd", "a/b",    "",     "..",       ".",
        "abc def",          "abc%2F", "a\\b", long_token, NULL};

    memset(long_token, 'a', sizeof long_token - 1);
    long_token[sizeof long_token - 1] = '\0';
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(
            Leec_webroot_present(f->webroot, bad[i], KEYAUTH, NULL),
            LEEC_E_INVALID_ARG);
        assert_int_equal(Leec_webroot_cleanup(f->webroot, bad[i], NULL),
                         LEEC_E_INVALID_ARG);
    }
    /* Nothing at all was written: not even the folders. */
    assert_int_equal(tu_count_entries(f->webroot), 0);
    assert_int_equal(tu_count_entries(f->dir), 1);
}

static void test_bad_webroot(void **state)
{
    fixture *f = *state;
    char *missing = tu_pathf("%s/nope", f->dir);
    char *plain = tu_pathf("%s/plain", f->dir);

    /* A missing webroot is not created. */
    assert_int_equal(Leec_webroot_present(missing, TOKEN, KEYAUTH, NULL),
                     LEEC_E_IO);
    assert_int_equal(access(missing, F_OK), -1);
    assert_int_equal(Leec_file_write_atomic(plain, "x", 1, 0644), LEEC_OK);
    assert_int_equal(Leec_webroot_present(plain, TOKEN, KEYAUTH, NULL),
                     LEEC_E_IO);
    assert_int_equal(Leec_webroot_present(NULL, TOKEN, KEYAUTH, NULL),
                     LEEC_E_INVALID_ARG);
    assert_int_equal(Leec_webroot_present(f->webroot, TOKEN, NULL, NULL),
                     LEEC_E_INVALID_ARG);
    assert_int_equal(Leec_webroot_cleanup(NULL, TOKEN, NULL),
                     LEEC_E_INVALID_ARG);

    free(missing);
    free(plain);
}

static void test_cleanup_io_error(void **state)
{
    fixture *f = *state;
    char *file =
        tu_pathf("%s/.well-known/acme-challenge/%s", f->webroot, TOKEN);

    /* A folder where the file should be cannot be unlinked. */
    assert_int_equal(Leec_mkdir_p(file, 0755), LEEC_OK);
    assert_int_equal(Leec_webroot_cleanup(f->webroot, TOKEN, NULL), LEEC_E_IO);
    free(file);
}

#define NOBODY 65534

/* A folder outside the webroot, as another user would aim a link at. */
static char *elsewhere(fixture *f, const char *name)
{
    char *p = tu_pathf("%s/%s", f->dir, name);
    assert_int_equal(mkdir(p, 0755), 0);
    return p;
}

static void assert_why(char *why, const char *a, const char *b)
{
    assert_non_null(why);
    if (!strstr(why, a) || (b && !strstr(why, b)))
        fail_msg("'%s' / '%s' not in '%s'", a, b ? b : "", why);
    free(why);
}

/* A link another user planted at .well-known or acme-challenge is not
 * followed: nothing is written or removed where it points. */
static void test_foreign_links_refused(void **state)
{
    fixture *f = *state;
    if (geteuid() != 0)
        skip(); /* lchown to another user */
    char *target = elsewhere(f, "target");
    char *wk = tu_pathf("%s/.well-known", f->webroot);
    char *ac = tu_pathf("%s/acme-challenge", wk);
    char *why = NULL;

    /* .well-known -> target */
    assert_int_equal(symlink(target, wk), 0);
    assert_int_equal(lchown(wk, NOBODY, NOBODY), 0);
    assert_int_equal(Leec_webroot_present(f->webroot, TOKEN, KEYAUTH, &why),
                     LEEC_E_IO);
    assert_why(why, "/www/.well-known is a symbolic link owned by uid 65534",
               "not followed");
    assert_int_equal(tu_count_entries(target), 0);
    /* Cleanup does not reach through it either. */
    char *tac = tu_pathf("%s/acme-challenge", target);
    char *tfile = tu_pathf("%s/%s", tac, TOKEN);
    assert_int_equal(mkdir(tac, 0755), 0);
    assert_int_equal(Leec_file_write_atomic(tfile, "theirs", 6, 0644), LEEC_OK);
    why = NULL;
    assert_int_equal(Leec_webroot_cleanup(f->webroot, TOKEN, &why), LEEC_E_IO);
    assert_why(why, "uid 65534", NULL);
    assert_int_equal(access(tfile, F_OK), 0);
    assert_int_equal(unlink(wk), 0);

    /* .well-known/acme-challenge -> target/acme-challenge */
    assert_int_equal(mkdir(wk, 0755), 0);
    assert_int_equal(symlink(tac, ac), 0);
    assert_int_equal(lchown(ac, NOBODY, NOBODY), 0);
    why = NULL;
    assert_int_equal(Leec_webroot_present(f->webroot, TOKEN, KEYAUTH, &why),
                     LEEC_E_IO);
    assert_why(why, "/www/.well-known/acme-challenge is a symbolic link",
               "uid 65534");
    assert_int_equal(Leec_webroot_cleanup(f->webroot, TOKEN, NULL), LEEC_E_IO);
    assert_int_equal(tu_count_entries(tac), 1);
    char *data = NULL;
    assert_int_equal(Leec_file_read(tfile, 100, &data, NULL), LEEC_OK);
    assert_string_equal(data, "theirs");
    free(data);

    free(target);
    free(tac);
    free(tfile);
    free(wk);
    free(ac);
}

/* A link of the user running leec (an administrator's shared challenge
 * folder) is followed. */
static void test_own_links_followed(void **state)
{
    fixture *f = *state;
    char *shared = elsewhere(f, "shared");
    char *wk = tu_pathf("%s/.well-known", f->webroot);
    char *file = tu_pathf("%s/acme-challenge/%s", shared, TOKEN);

    /* Relative, as `ln -s ../shared` makes it. */
    assert_int_equal(symlink("../shared", wk), 0);
    assert_int_equal(Leec_webroot_present(f->webroot, TOKEN, KEYAUTH, NULL),
                     LEEC_OK);
    assert_int_equal(access(file, R_OK), 0);
    assert_int_equal(Leec_webroot_cleanup(f->webroot, TOKEN, NULL), LEEC_OK);
    assert_int_equal(access(file, F_OK), -1);
    free(shared);
    free(wk);
    free(file);
}

/* A link at the token's own name is replaced by the file, and removed by
 * the cleanup: what it pointed at stays as it was. */
static void test_token_link_replaced(void **state)
{
    fixture *f = *state;
    char *outside = tu_pathf("%s/outside", f->dir);
    char *ac = tu_pathf("%s/.well-known/acme-challenge", f->webroot);
    char *file = tu_pathf("%s/%s", ac, TOKEN);
    char *data = NULL;
    struct stat st;

    assert_int_equal(Leec_file_write_atomic(outside, "keep", 4, 0600), LEEC_OK);
    assert_int_equal(Leec_mkdir_p(ac, 0755), LEEC_OK);
    assert_int_equal(symlink(outside, file), 0);
    assert_int_equal(Leec_webroot_present(f->webroot, TOKEN, KEYAUTH, NULL),
                     LEEC_OK);
    assert_int_equal(lstat(file, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(Leec_file_read(outside, 100, &data, NULL), LEEC_OK);
    assert_string_equal(data, "keep");
    free(data);

    assert_int_equal(unlink(file), 0);
    assert_int_equal(symlink(outside, file), 0);
    assert_int_equal(Leec_webroot_cleanup(f->webroot, TOKEN, NULL), LEEC_OK);
    assert_int_equal(lstat(file, &st), -1);
    assert_int_equal(access(outside, F_OK), 0);

    /* Something else than a folder at .well-known. */
    char *wk = tu_pathf("%s/.well-known", f->webroot);
    assert_int_equal(tu_rmtree(wk), 0);
    assert_int_equal(Leec_file_write_atomic(wk, "x", 1, 0644), LEEC_OK);
    char *why = NULL;
    assert_int_equal(Leec_webroot_present(f->webroot, TOKEN, KEYAUTH, &why),
                     LEEC_E_IO);
    assert_why(why, "/www/.well-known is not a folder", NULL);
    free(wk);
    free(outside);
    free(ac);
    free(file);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_present_and_cleanup), T(test_trailing_slash_webroot),
        T(test_bad_tokens),          T(test_bad_webroot),
        T(test_cleanup_io_error),    T(test_foreign_links_refused),
        T(test_own_links_followed),  T(test_token_link_replaced),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
