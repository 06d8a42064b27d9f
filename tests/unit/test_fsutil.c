/* Tests for lib/fsutil.c: atomic writes, bounded reads, mkdir -p. */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
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
#include "testutil.h"

typedef struct fixture {
    char *dir;
    mode_t old_umask;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    if (!(f->dir = tu_tmpdir("leec-fsutil")))
        return -1;
    f->old_umask = umask(022);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    umask(f->old_umask);
    tu_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static char *join(const char *dir, const char *name)
{
    char *p = NULL;
    if (asprintf(&p, "%s/%s", dir, name) < 0)
        return NULL;
    return p;
}

static void test_write_mode_exact(void **state)
{
    fixture *f = *state;
    char *a = join(f->dir, "secret");
    char *b = join(f->dir, "public");
    char *c = join(f->dir, "secret2");

    /* A permissive umask must not widen a secret... */
    umask(0);
    assert_int_equal(Leec_file_write_atomic(a, "k", 1, 0600), LEEC_OK);
    assert_int_equal(tu_mode_of(a), 0600);
    /* ...and a strict one must not narrow a public file. */
    umask(077);
    assert_int_equal(Leec_file_write_atomic(b, "p", 1, 0644), LEEC_OK);
    assert_int_equal(tu_mode_of(b), 0644);
    umask(022);
    assert_int_equal(Leec_file_write_atomic(c, "k", 1, 0600), LEEC_OK);
    assert_int_equal(tu_mode_of(c), 0600);

    free(a);
    free(b);
    free(c);
}

static void test_write_overwrite(void **state)
{
    fixture *f = *state;
    char *p = join(f->dir, "file.txt");
    char *data = NULL;
    size_t len = 0;

    assert_int_equal(Leec_file_write_atomic(p, "one", 3, 0644), LEEC_OK);
    assert_int_equal(Leec_file_write_atomic(p, "two!", 4, 0600), LEEC_OK);
    assert_int_equal(Leec_file_read(p, 100, &data, &len), LEEC_OK);
    assert_int_equal(len, 4);
    assert_string_equal(data, "two!");
    assert_int_equal(tu_mode_of(p), 0600);
    /* No temporary left behind. */
    assert_int_equal(tu_count_entries(f->dir), 1);

    free(data);
    free(p);
}

static void test_write_binary_and_empty(void **state)
{
    fixture *f = *state;
    char *p = join(f->dir, "bin");
    char *e = join(f->dir, "empty");
    static const unsigned char bytes[] = {0, 1, 2, 0xff, 0, 'x'};
    char *data = NULL;
    size_t len = 0;

    assert_int_equal(Leec_file_write_atomic(p, bytes, sizeof bytes, 0644),
                     LEEC_OK);
    assert_int_equal(Leec_file_read(p, 0, &data, &len), LEEC_OK);
    assert_int_equal(len, sizeof bytes);
    assert_memory_equal(data, bytes, sizeof bytes);
    assert_int_equal(data[len], '\0');
    free(data);
    data = NULL;

    assert_int_equal(Leec_file_write_atomic(e, NULL, 0, 0644), LEEC_OK);
    assert_int_equal(Leec_file_read(e, 10, &data, &len), LEEC_OK);
    assert_int_equal(len, 0);
    assert_string_equal(data, "");

    free(data);
    free(p);
    free(e);
}

static void test_write_large(void **state)
{
    fixture *f = *state;
    char *p = join(f->dir, "large");
    size_t n = 3 * 1024 * 1024 + 17;
    char *big = malloc(n);
    char *data = NULL;
    size_t len = 0;

    assert_non_null(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    assert_int_equal(Leec_file_write_atomic(p, big, n, 0644), LEEC_OK);
    assert_int_equal(Leec_file_read(p, n, &data, &len), LEEC_OK);
    assert_int_equal(len, n);
    assert_memory_equal(data, big, n);

    free(data);
    free(big);
    free(p);
}

static void test_write_failure_cleans_up(void **state)
{
    fixture *f = *state;
    char *sub = join(f->dir, "adir");
    char *missing = join(f->dir, "no/such/file");
    char *slash = join(f->dir, "x/");

    /* rename() over a folder fails: the temporary must go, the folder stay. */
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(Leec_file_write_atomic(sub, "x", 1, 0644), LEEC_E_IO);
    assert_int_equal(tu_count_entries(f->dir), 1);
    assert_int_equal(tu_count_entries(sub), 0);

    assert_int_equal(Leec_file_write_atomic(missing, "x", 1, 0644), LEEC_E_IO);
    assert_int_equal(tu_count_entries(f->dir), 1);

    /* A trailing slash names no file. */
    assert_int_equal(Leec_file_write_atomic(slash, "x", 1, 0644),
                     LEEC_E_INVALID_ARG);
    assert_int_equal(tu_count_entries(f->dir), 1);

    free(slash);
    free(sub);
    free(missing);
}

static void test_write_long_name(void **state)
{
    fixture *f = *state;
    char name[251];
    char *p = NULL;

    /* The final name fits NAME_MAX; the temporary must too. */
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    p = join(f->dir, name);
    assert_int_equal(Leec_file_write_atomic(p, "x", 1, 0644), LEEC_OK);
    assert_int_equal(tu_count_entries(f->dir), 1);
    free(p);
}

static void test_read_bounds(void **state)
{
    fixture *f = *state;
    char *p = join(f->dir, "hundred");
    char buf[100];
    char *data = NULL;
    size_t len = 0;

    memset(buf, 'z', sizeof buf);
    assert_int_equal(Leec_file_write_atomic(p, buf, sizeof buf, 0644), LEEC_OK);
    assert_int_equal(Leec_file_read(p, 100, &data, &len), LEEC_OK);
    assert_int_equal(len, 100);
    free(data);
    data = NULL;

    assert_int_equal(Leec_file_read(p, 99, &data, &len), LEEC_E_TOO_LARGE);
    assert_null(data);

    /* len is optional. */
    assert_int_equal(Leec_file_read(p, 1000, &data, NULL), LEEC_OK);
    assert_int_equal(strlen(data), 100);
    free(data);
    free(p);
}

static void test_read_not_found(void **state)
{
    fixture *f = *state;
    char *p = join(f->dir, "nothing");
    char *q = join(f->dir, "nothing/below");
    char *data = (char *)"sentinel";
    size_t len = 5;

    assert_int_equal(Leec_file_read(p, 10, &data, &len), LEEC_E_NOT_FOUND);
    assert_null(data);
    assert_int_equal(len, 0);
    assert_int_equal(Leec_file_read(q, 10, &data, &len), LEEC_E_NOT_FOUND);
    /* A folder is not a file. */
    assert_int_equal(Leec_file_read(f->dir, 10, &data, &len), LEEC_E_IO);
    assert_null(data);

    free(p);
    free(q);
}

static void test_mkdir_p(void **state)
{
    fixture *f = *state;
    char *deep = join(f->dir, "a/b//c/");
    char *a = join(f->dir, "a");
    char *c = join(f->dir, "a/b/c");
    char *file = join(f->dir, "plain");

    umask(077);
    assert_int_equal(Leec_mkdir_p(deep, 0755), LEEC_OK);
    assert_int_equal(tu_mode_of(a), 0755);
    assert_int_equal(tu_mode_of(c), 0755);
    /* Existing folders are fine and keep their mode. */
    assert_int_equal(Leec_mkdir_p(c, 0700), LEEC_OK);
    assert_int_equal(tu_mode_of(c), 0755);

    assert_int_equal(Leec_file_write_atomic(file, "x", 1, 0644), LEEC_OK);
    assert_int_equal(Leec_mkdir_p(file, 0700), LEEC_E_IO);
    assert_int_equal(Leec_mkdir_p("", 0700), LEEC_E_INVALID_ARG);

    assert_int_equal(Leec_fsync_dir(f->dir), LEEC_OK);
    assert_int_equal(Leec_fsync_dir(file), LEEC_E_IO);

    free(deep);
    free(a);
    free(c);
    free(file);
}

static void test_relative_path(void **state)
{
    fixture *f = *state;
    char *cwd = getcwd(NULL, 0);
    char *data = NULL;

    assert_non_null(cwd);
    assert_int_equal(chdir(f->dir), 0);
    assert_int_equal(Leec_file_write_atomic("rel.txt", "r", 1, 0644), LEEC_OK);
    assert_int_equal(Leec_file_read("rel.txt", 10, &data, NULL), LEEC_OK);
    assert_string_equal(data, "r");
    assert_int_equal(chdir(cwd), 0);

    free(data);
    free(cwd);
}

/* The *_at writers stay in their folder and never write through a link
 * planted at the name. */
static void test_write_at_no_follow(void **state)
{
    fixture *f = *state;
    char *out = join(f->dir, "outside");
    char *in = join(f->dir, "in");
    char *link = join(in, "file");
    char *data = NULL;
    int dfd = -1;

    assert_int_equal(Leec_file_write_atomic(out, "theirs", 6, 0644), LEEC_OK);
    assert_int_equal(mkdir(in, 0700), 0);
    assert_int_equal(symlink(out, link), 0);
    dfd = open(in, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dfd >= 0);

    /* O_EXCL|O_NOFOLLOW: the link is a failure, its target untouched. */
    assert_int_equal(Leec_file_write_new_at(dfd, "file", "mine", 4, 0600),
                     LEEC_E_IO);
    /* The atomic write replaces the link itself. */
    assert_int_equal(Leec_file_write_atomic_at(dfd, "file", "mine", 4, 0600),
                     LEEC_OK);
    assert_int_equal(Leec_file_read(out, 100, &data, NULL), LEEC_OK);
    assert_string_equal(data, "theirs");
    free(data);
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(tu_count_entries(in), 1);

    assert_int_equal(Leec_file_write_new_at(dfd, "new", "n", 1, 0640), LEEC_OK);
    assert_int_equal(tu_count_entries(in), 2);
    /* One component only. */
    assert_int_equal(Leec_file_write_atomic_at(dfd, "a/b", "x", 1, 0644),
                     LEEC_E_INVALID_ARG);
    assert_int_equal(Leec_file_write_atomic_at(dfd, "", "x", 1, 0644),
                     LEEC_E_INVALID_ARG);
    assert_int_equal(Leec_file_write_new_at(dfd, "", "x", 1, 0644),
                     LEEC_E_INVALID_ARG);

    /* Leec_fd_read: a regular file only. */
    int fd = openat(dfd, "new", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    size_t len = 0;
    assert_int_equal(Leec_fd_read(fd, NULL, 10, &data, &len), LEEC_OK);
    assert_string_equal(data, "n");
    assert_int_equal(len, 1);
    free(data);
    close(fd);
    assert_int_equal(Leec_fd_read(dfd, NULL, 10, &data, NULL), LEEC_E_IO);
    /* With the caller's fstat: the same. */
    struct stat dst;
    assert_int_equal(fstat(dfd, &dst), 0);
    assert_int_equal(Leec_fd_read(dfd, &dst, 10, &data, NULL), LEEC_E_IO);
    assert_null(data);

    close(dfd);
    free(out);
    free(in);
    free(link);
}

/* A tree is removed whole; what its links point at is not. */
static void test_remove_tree_at(void **state)
{
    fixture *f = *state;
    char *keep = join(f->dir, "keep");
    char *keepfile = join(keep, "precious");
    char *tree = join(f->dir, "tree");
    char *deep = join(tree, "a/b/c");
    char *p = NULL;
    int dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    assert_true(dfd >= 0);
    assert_int_equal(Leec_mkdir_p(keep, 0700), LEEC_OK);
    assert_int_equal(Leec_file_write_atomic(keepfile, "x", 1, 0644), LEEC_OK);
    assert_int_equal(Leec_mkdir_p(deep, 0700), LEEC_OK);
    p = join(deep, "file");
    assert_int_equal(Leec_file_write_atomic(p, "x", 1, 0600), LEEC_OK);
    free(p);
    p = join(tree, "a/link");
    assert_int_equal(symlink(keep, p), 0);
    free(p);

    assert_int_equal(Leec_remove_tree_at(dfd, "tree"), LEEC_OK);
    assert_int_equal(access(tree, F_OK), -1);
    assert_int_equal(access(keepfile, F_OK), 0);
    /* A missing name, a link at the top (removed, not followed). */
    assert_int_equal(Leec_remove_tree_at(dfd, "tree"), LEEC_OK);
    p = join(f->dir, "toplink");
    assert_int_equal(symlink(keep, p), 0);
    assert_int_equal(Leec_remove_tree_at(dfd, "toplink"), LEEC_OK);
    assert_int_equal(access(keepfile, F_OK), 0);
    free(p);
    assert_int_equal(Leec_remove_tree_at(dfd, "."), LEEC_E_INVALID_ARG);
    assert_int_equal(Leec_remove_tree_at(dfd, ".."), LEEC_E_INVALID_ARG);
    assert_int_equal(Leec_remove_tree_at(dfd, "keep/precious"),
                     LEEC_E_INVALID_ARG);
    assert_int_equal(Leec_remove_tree_at(dfd, ""), LEEC_E_INVALID_ARG);
    assert_int_equal(Leec_fsync_fd(dfd), LEEC_OK);

    close(dfd);
    free(keep);
    free(keepfile);
    free(tree);
    free(deep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_mode_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_overwrite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_binary_and_empty, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_write_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_failure_cleans_up, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_write_long_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mkdir_p, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relative_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_at_no_follow, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_remove_tree_at, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
