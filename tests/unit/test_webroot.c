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

#include "fsutil.h"
#include "solver/webroot.h"
#include "testutil.h"

#define TOKEN "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
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

    assert_int_equal(leec_webroot_present(f->webroot, TOKEN, KEYAUTH),
                     LEEC_OK);
    assert_int_equal(leec_file_read(file, 4096, &data, &len), LEEC_OK);
    assert_int_equal(len, strlen(KEYAUTH));
    assert_string_equal(data, KEYAUTH);
    free(data);
    assert_int_equal(tu_mode_of(file), 0644);
    assert_int_equal(tu_mode_of(wk), 0755);
    assert_int_equal(tu_mode_of(ac), 0755);
    /* The file alone: no temporary left. */
    assert_int_equal(tu_count_entries(ac), 1);

    /* Presenting again (a retried challenge) just rewrites it. */
    assert_int_equal(leec_webroot_present(f->webroot, TOKEN, KEYAUTH),
                     LEEC_OK);
    assert_int_equal(tu_count_entries(ac), 1);

    assert_int_equal(leec_webroot_cleanup(f->webroot, TOKEN), LEEC_OK);
    assert_int_equal(access(file, F_OK), -1);
    assert_int_equal(errno, ENOENT);
    /* The folders stay; a second cleanup is not an error. */
    assert_int_equal(tu_count_entries(ac), 0);
    assert_int_equal(leec_webroot_cleanup(f->webroot, TOKEN), LEEC_OK);

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

    assert_int_equal(leec_webroot_present(root, TOKEN, KEYAUTH), LEEC_OK);
    assert_int_equal(access(file, R_OK), 0);
    assert_int_equal(leec_webroot_cleanup(root, TOKEN), LEEC_OK);
    assert_int_equal(access(file, F_OK), -1);

    free(root);
    free(file);
}

static void test_bad_tokens(void **state)
{
    fixture *f = *state;
    char long_token[300];
    const char *bad[] = {"../../etc/passwd", "a/b", "", "..", ".",
                         "abc def", "abc%2F", "a\\b", long_token, NULL};

    memset(long_token, 'a', sizeof long_token - 1);
    long_token[sizeof long_token - 1] = '\0';
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(leec_webroot_present(f->webroot, bad[i], KEYAUTH),
                         LEEC_E_INVALID_ARG);
        assert_int_equal(leec_webroot_cleanup(f->webroot, bad[i]),
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
    assert_int_equal(leec_webroot_present(missing, TOKEN, KEYAUTH), LEEC_E_IO);
    assert_int_equal(access(missing, F_OK), -1);
    assert_int_equal(leec_file_write_atomic(plain, "x", 1, 0644), LEEC_OK);
    assert_int_equal(leec_webroot_present(plain, TOKEN, KEYAUTH), LEEC_E_IO);
    assert_int_equal(leec_webroot_present(NULL, TOKEN, KEYAUTH),
                     LEEC_E_INVALID_ARG);
    assert_int_equal(leec_webroot_present(f->webroot, TOKEN, NULL),
                     LEEC_E_INVALID_ARG);
    assert_int_equal(leec_webroot_cleanup(NULL, TOKEN), LEEC_E_INVALID_ARG);

    free(missing);
    free(plain);
}

static void test_cleanup_io_error(void **state)
{
    fixture *f = *state;
    char *file =
        tu_pathf("%s/.well-known/acme-challenge/%s", f->webroot, TOKEN);

    /* A folder where the file should be cannot be unlinked. */
    assert_int_equal(leec_mkdir_p(file, 0755), LEEC_OK);
    assert_int_equal(leec_webroot_cleanup(f->webroot, TOKEN), LEEC_E_IO);
    free(file);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_present_and_cleanup),
        T(test_trailing_slash_webroot),
        T(test_bad_tokens),
        T(test_bad_webroot),
        T(test_cleanup_io_error),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
