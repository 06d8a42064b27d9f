/* Tests for lib/store.c and lib/store_fs.c. */
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <limits.h>
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
#include "store.h"
#include "testutil.h"

#define KEY1 "-----BEGIN PRIVATE KEY-----\nkey-one\n-----END PRIVATE KEY-----\n"
#define CERT1 "-----BEGIN CERTIFICATE-----\nleaf-one\n-----END CERTIFICATE-----\n"
#define KEY2 "-----BEGIN PRIVATE KEY-----\nkey-two\n-----END PRIVATE KEY-----\n"
#define CERT2 "-----BEGIN CERTIFICATE-----\nleaf-two\n-----END CERTIFICATE-----\n"
#define CHAIN "-----BEGIN CERTIFICATE-----\nissuer\n-----END CERTIFICATE-----\n"

typedef struct fixture {
    char *dir;   /* the test's private temporary folder */
    char *root;  /* the store, dir/store (created by the store) */
    leec_store *store;
    mode_t old_umask;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    leec_code err = LEEC_E_IO;

    if (!f)
        return -1;
    if (!(f->dir = tu_tmpdir("leec-store")))
        return -1;
    if (asprintf(&f->root, "%s/store", f->dir) < 0)
        return -1;
    /* A permissive umask shows that secrets do not depend on it. */
    f->old_umask = umask(0);
    f->store = leec_store_fs_new(f->root, &err);
    if (!f->store || err != LEEC_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    leec_store_free(f->store);
    umask(f->old_umask);
    tu_rmtree(f->dir);
    free(f->root);
    free(f->dir);
    free(f);
    return 0;
}

static char *slurp(const char *path)
{
    char *data = NULL;
    assert_int_equal(leec_file_read(path, 1 << 20, &data, NULL), LEEC_OK);
    return data;
}

static void assert_file(const char *root, const char *rel, const char *want,
                        mode_t mode)
{
    char *p = tu_pathf("%s/%s", root, rel);
    char *got = slurp(p);
    assert_string_equal(got, want);
    assert_int_equal(tu_mode_of(p), mode);
    free(got);
    free(p);
}

/* Entries of a folder other than . and .., as a count; hidden (temporary)
 * names are counted separately. */
static int count_entries(const char *dir, int *hidden)
{
    int n = 0;
    struct dirent *e = NULL;
    DIR *d = opendir(dir);
    assert_non_null(d);
    if (hidden)
        *hidden = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        n++;
        if (hidden && e->d_name[0] == '.')
            (*hidden)++;
    }
    closedir(d);
    return n;
}

static leec_code install(leec_store *s, const char *name, const char *key,
                         const char *cert, const char *chain, const char *meta)
{
    leec_cert_files files = {
        .privkey = key, .cert = cert, .chain = chain, .meta_json = meta};
    return s->ops->cert_install(s, name, &files);
}

static void test_name_valid(void **state)
{
    char longest[201];
    char too_long[202];
    (void)state;

    memset(longest, 'a', 200);
    longest[200] = '\0';
    memset(too_long, 'a', 201);
    too_long[201] = '\0';

    assert_true(leec_store_name_valid("example.com"));
    assert_true(leec_store_name_valid("A_b-c.9"));
    assert_true(leec_store_name_valid("acme-v02.api.letsencrypt.org"));
    assert_true(leec_store_name_valid("localhost_14000"));
    assert_true(leec_store_name_valid(longest));
    assert_false(leec_store_name_valid(too_long));
    assert_false(leec_store_name_valid(NULL));
    assert_false(leec_store_name_valid(""));
    assert_false(leec_store_name_valid("."));
    assert_false(leec_store_name_valid(".."));
    assert_false(leec_store_name_valid("../x"));
    assert_false(leec_store_name_valid(".hidden"));
    assert_false(leec_store_name_valid("-rf"));
    assert_false(leec_store_name_valid("a/b"));
    assert_false(leec_store_name_valid("a b"));
    assert_false(leec_store_name_valid("a\nb"));
    assert_false(leec_store_name_valid("*.example.com"));
    assert_false(leec_store_name_valid("caf\xc3\xa9"));
}

static void test_new_layout(void **state)
{
    fixture *f = *state;
    char *p = NULL;
    leec_code err = LEEC_OK;
    leec_store *again = NULL;

    assert_int_equal(tu_mode_of(f->root), 0700);
    p = tu_pathf("%s/accounts", f->root);
    assert_int_equal(tu_mode_of(p), 0700);
    free(p);
    p = tu_pathf("%s/archive", f->root);
    assert_int_equal(tu_mode_of(p), 0700);
    free(p);
    p = tu_pathf("%s/live", f->root);
    assert_int_equal(tu_mode_of(p), 0700);
    free(p);

    /* Opening an existing store works; a trailing slash is dropped. */
    p = tu_pathf("%s/", f->root);
    again = leec_store_fs_new(p, &err);
    assert_non_null(again);
    assert_int_equal(err, LEEC_OK);
    free(p);
    p = leec_store_live_path(again, "example.com");
    {
        char *want = tu_pathf("%s/live/example.com", f->root);
        assert_string_equal(p, want);
        free(want);
    }
    free(p);
    leec_store_free(again);

    /* A store under a regular file cannot be created. */
    p = tu_pathf("%s/plain", f->dir);
    assert_int_equal(leec_file_write_atomic(p, "x", 1, 0644), LEEC_OK);
    {
        char *below = tu_pathf("%s/store", p);
        err = LEEC_OK;
        assert_null(leec_store_fs_new(below, &err));
        assert_int_equal(err, LEEC_E_IO);
        free(below);
    }
    free(p);
    err = LEEC_OK;
    assert_null(leec_store_fs_new("", &err));
    assert_int_equal(err, LEEC_E_INVALID_ARG);
    assert_null(leec_store_fs_new(NULL, NULL));

    leec_store_free(NULL);
}

static void test_account_round_trip(void **state)
{
    fixture *f = *state;
    leec_store *s = f->store;
    char *key = NULL;
    char *json = NULL;
    char *p = NULL;

    assert_int_equal(s->ops->account_load(s, "acme.example_443", &key, &json),
                     LEEC_E_NOT_FOUND);
    assert_null(key);
    assert_null(json);

    assert_int_equal(s->ops->account_save(s, "acme.example_443", KEY1,
                                          "{\"url\":\"https://a/1\"}"),
                     LEEC_OK);
    assert_int_equal(s->ops->account_load(s, "acme.example_443", &key, &json),
                     LEEC_OK);
    assert_string_equal(key, KEY1);
    assert_string_equal(json, "{\"url\":\"https://a/1\"}");
    free(key);
    free(json);
    key = json = NULL;

    p = tu_pathf("%s/accounts/acme.example_443", f->root);
    assert_int_equal(tu_mode_of(p), 0700);
    free(p);
    assert_file(f->root, "accounts/acme.example_443/account.key.pem", KEY1,
                0600);
    assert_file(f->root, "accounts/acme.example_443/account.json",
                "{\"url\":\"https://a/1\"}", 0644);

    /* Saving again replaces both, leaving no temporaries. */
    assert_int_equal(s->ops->account_save(s, "acme.example_443", KEY2, "{}"),
                     LEEC_OK);
    assert_int_equal(s->ops->account_load(s, "acme.example_443", &key, &json),
                     LEEC_OK);
    assert_string_equal(key, KEY2);
    assert_string_equal(json, "{}");
    free(key);
    free(json);
    p = tu_pathf("%s/accounts/acme.example_443", f->root);
    {
        int hidden = 0;
        assert_int_equal(count_entries(p, &hidden), 2);
        assert_int_equal(hidden, 0);
    }
    free(p);
}

static void test_account_invalid_id(void **state)
{
    fixture *f = *state;
    leec_store *s = f->store;
    const char *bad[] = {"../x", ".hidden", "a/b", "", NULL};
    char *key = NULL;
    char *json = NULL;
    char *p = tu_pathf("%s/accounts", f->root);

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(s->ops->account_save(s, bad[i], KEY1, "{}"),
                         LEEC_E_INVALID_ARG);
        assert_int_equal(s->ops->account_load(s, bad[i], &key, &json),
                         LEEC_E_INVALID_ARG);
        assert_null(key);
        assert_null(json);
    }
    assert_int_equal(count_entries(p, NULL), 0);
    assert_int_equal(count_entries(f->root, NULL), 4); /* + locks/ */
    free(p);
}

/* A half account: its account.json without the key is an error (never a
 * new account written over it); a key without account.json is returned
 * alone (it finds its account again); an empty key is no key. */
static void test_account_half(void **state)
{
    fixture *f = *state;
    leec_store *s = f->store;
    char *key = NULL, *json = NULL;
    assert_int_equal(s->ops->account_save(s, "ca.test", KEY1, "{}"), LEEC_OK);
    char *k = tu_pathf("%s/accounts/ca.test/account.key.pem", f->root);
    char *j = tu_pathf("%s/accounts/ca.test/account.json", f->root);

    assert_int_equal(unlink(k), 0);
    assert_int_equal(s->ops->account_load(s, "ca.test", &key, &json),
                     LEEC_E_BAD_KEY);
    assert_null(key);
    assert_null(json);
    FILE *fp = fopen(k, "w"); /* empty */
    assert_non_null(fp);
    fclose(fp);
    assert_int_equal(s->ops->account_load(s, "ca.test", &key, &json),
                     LEEC_E_BAD_KEY);

    assert_int_equal(s->ops->account_save(s, "ca.test", KEY1, "{}"), LEEC_OK);
    assert_int_equal(unlink(j), 0);
    assert_int_equal(s->ops->account_load(s, "ca.test", &key, &json),
                     LEEC_OK);
    assert_string_equal(key, KEY1);
    assert_null(json);
    free(key);
    free(k);
    free(j);
}

/* Who holds a lock: the PID (and host) its taker wrote. */
static void test_lock_holder(void **state)
{
    fixture *f = *state;
    leec_store *s = f->store;
    void *h = NULL;
    long pid = 0;
    char *host = NULL;
    assert_int_equal(s->ops->lock_holder(s, "cert", "a.example", &pid, &host),
                     LEEC_E_NOT_FOUND);
    assert_int_equal(s->ops->lock(s, "cert", "a.example", &h), LEEC_OK);
    assert_int_equal(s->ops->lock_holder(s, "cert", "a.example", &pid, &host),
                     LEEC_OK);
    assert_int_equal(pid, (long)getpid());
    assert_non_null(host);
    free(host);
    s->ops->unlock(s, h);
    char *text = leec_store_holder_text(s, "cert", "nosuch");
    assert_string_equal(text, "another process");
    free(text);
    /* The store-wide lock of the public API: exclusive per open file. */
    leec_store_lock *l1 = NULL, *l2 = NULL;
    char *who = NULL;
    assert_int_equal(leec_store_lock_take(s, "daemon", &l1, &who), LEEC_OK);
    assert_null(who);
    leec_code rc;
    leec_store *other = leec_store_fs_new(f->root, &rc);
    assert_non_null(other);
    assert_int_equal(leec_store_lock_take(other, "daemon", &l2, &who),
                     LEEC_E_LOCKED);
    assert_null(l2);
    char want[64];
    snprintf(want, sizeof want, "PID %ld", (long)getpid());
    assert_string_equal(who, want);
    free(who);
    leec_store_lock_release(l1);
    assert_int_equal(leec_store_lock_take(other, "daemon", &l2, NULL),
                     LEEC_OK);
    leec_store_lock_release(l2);
    leec_store_free(other);
}

static void test_install_versions(void **state)
{
    fixture *f = *state;
    leec_store *s = f->store;
    char target[PATH_MAX];
    ssize_t n = 0;
    char *p = NULL;
    char *pem = NULL;
    size_t len = 0;
    int hidden = 0;

    assert_int_equal(install(s, "example.com", KEY1, CERT1, CHAIN, NULL),
                     LEEC_OK);
    p = tu_pathf("%s/live/example.com", f->root);
    n = readlink(p, target, sizeof target - 1);
    assert_true(n > 0);
    target[n] = '\0';
    assert_string_equal(target, "../archive/example.com/1");
    assert_int_equal(leec_store_read_cert(s, "example.com", &pem), LEEC_OK);
    assert_string_equal(pem, CERT1);
    free(pem);
    pem = NULL;

    assert_int_equal(install(s, "example.com", KEY2, CERT2, CHAIN,
                             "{\"names\":[\"example.com\"]}"),
                     LEEC_OK);
    n = readlink(p, target, sizeof target - 1);
    assert_true(n > 0);
    target[n] = '\0';
    assert_string_equal(target, "../archive/example.com/2");
    free(p);

    /* Key and full chain read together, from the one current version. */
    {
        char *key = NULL, *full = NULL;
        assert_int_equal(leec_store_read_live(s, "example.com", &key, &full),
                         LEEC_OK);
        assert_string_equal(key, KEY2);
        assert_string_equal(full, CERT2 CHAIN);
        free(key);
        free(full);
        assert_int_equal(leec_store_read_live(s, "nothing.example", &key,
                                              &full),
                         LEEC_E_NOT_FOUND);
        assert_null(key);
        assert_null(full);
    }

    /* The live view is version 2, whole. */
    assert_file(f->root, "live/example.com/privkey.pem", KEY2, 0600);
    assert_file(f->root, "live/example.com/cert.pem", CERT2, 0644);
    assert_file(f->root, "live/example.com/chain.pem", CHAIN, 0644);
    assert_file(f->root, "live/example.com/fullchain.pem", CERT2 CHAIN, 0644);
    assert_file(f->root, "live/example.com/meta.json",
                "{\"names\":[\"example.com\"]}", 0644);

    /* Version 1 is kept, untouched, without meta.json. */
    assert_file(f->root, "archive/example.com/1/privkey.pem", KEY1, 0600);
    assert_file(f->root, "archive/example.com/1/cert.pem", CERT1, 0644);
    assert_file(f->root, "archive/example.com/1/fullchain.pem", CERT1 CHAIN,
                0644);
    p = tu_pathf("%s/archive/example.com/1", f->root);
    assert_int_equal(count_entries(p, NULL), 4);
    assert_int_equal(tu_mode_of(p), 0700);
    free(p);

    p = tu_pathf("%s/archive/example.com", f->root);
    assert_int_equal(tu_mode_of(p), 0700);
    assert_int_equal(count_entries(p, &hidden), 2);
    assert_int_equal(hidden, 0);
    free(p);
    p = tu_pathf("%s/live", f->root);
    assert_int_equal(tu_mode_of(p), 0700);
    assert_int_equal(count_entries(p, &hidden), 1);
    assert_int_equal(hidden, 0);
    free(p);

    /* Reads through the ops go to the live version. */
    assert_int_equal(s->ops->cert_read(s, "example.com", "privkey.pem", &pem,
                                       &len),
                     LEEC_OK);
    assert_int_equal(len, strlen(KEY2));
    assert_string_equal(pem, KEY2);
    free(pem);
    pem = NULL;
    assert_int_equal(s->ops->cert_read(s, "example.com", "fullchain.pem",
                                       &pem, NULL),
                     LEEC_OK);
    assert_string_equal(pem, CERT2 CHAIN);
    free(pem);
    pem = NULL;
    assert_int_equal(leec_store_read_cert(s, "example.com", &pem), LEEC_OK);
    assert_string_equal(pem, CERT2);
    free(pem);
}

static void test_install_next_after_highest(void **state)
{
    fixture *f = *state;
    leec_store *s = f->store;
    char target[PATH_MAX];
    char *p = NULL;
    ssize_t n = 0;

    /* Gaps and stray entries: the next number follows the highest. */
    p = tu_pathf("%s/archive/gap.example/7", f->root);
    assert_int_equal(leec_mkdir_p(p, 0700), LEEC_OK);
    free(p);
    p = tu_pathf("%s/archive/gap.example/not-a-number", f->root);
    assert_int_equal(leec_mkdir_p(p, 0700), LEEC_OK);
    free(p);
    p = tu_pathf("%s/archive/gap.example/0099", f->root);
    assert_int_equal(leec_mkdir_p(p, 0700), LEEC_OK);
    free(p);

    assert_int_equal(install(s, "gap.example", KEY1, CERT1, "", NULL), LEEC_OK);
    p = tu_pathf("%s/live/gap.example", f->root);
    n = readlink(p, target, sizeof target - 1);
    assert_true(n > 0);
    target[n] = '\0';
    assert_string_equal(target, "../archive/gap.example/8");
    free(p);
    /* An empty chain: fullchain is the leaf alone. */
    assert_file(f->root, "live/gap.example/fullchain.pem", CERT1, 0644);
    assert_file(f->root, "live/gap.example/chain.pem", "", 0644);
}

static void test_install_fullchain_newline(void **state)
{
    fixture *f = *state;
    leec_store *s = f->store;
    const char *leaf = "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----";

    assert_int_equal(install(s, "nl.example", KEY1, leaf, CHAIN, NULL), LEEC_OK);
    {
        char *want = tu_pathf("%s\n%s", leaf, CHAIN);
        assert_file(f->root, "live/nl.example/fullchain.pem", want, 0644);
        free(want);
    }
    assert_file(f->root, "live/nl.example/cert.pem", leaf, 0644);
    /* A NULL chain is an empty one. */
    assert_int_equal(install(s, "nl.example", KEY1, CERT1, NULL, NULL),
                     LEEC_OK);
    assert_file(f->root, "live/nl.example/fullchain.pem", CERT1, 0644);
}

static void test_install_invalid(void **state)
{
    fixture *f = *state;
    leec_store *s = f->store;
    const char *bad[] = {"../x", ".hidden", "a/b", "", "-x", "..", NULL};
    char *p = NULL;
    char *pem = NULL;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(install(s, bad[i], KEY1, CERT1, CHAIN, NULL),
                         LEEC_E_INVALID_ARG);
        assert_int_equal(
            s->ops->cert_read(s, bad[i], "cert.pem", &pem, NULL),
            LEEC_E_INVALID_ARG);
        assert_null(pem);
        assert_int_equal(leec_store_read_cert(s, bad[i], &pem),
                         LEEC_E_INVALID_ARG);
        assert_null(leec_store_live_path(s, bad[i]));
    }
    /* Missing key or leaf. */
    assert_int_equal(install(s, "ok.example", NULL, CERT1, CHAIN, NULL),
                     LEEC_E_INVALID_ARG);
    assert_int_equal(install(s, "ok.example", KEY1, NULL, CHAIN, NULL),
                     LEEC_E_INVALID_ARG);
    assert_int_equal(s->ops->cert_install(s, "ok.example", NULL),
                     LEEC_E_INVALID_ARG);

    p = tu_pathf("%s/archive", f->root);
    assert_int_equal(count_entries(p, NULL), 0);
    free(p);
    p = tu_pathf("%s/live", f->root);
    assert_int_equal(count_entries(p, NULL), 0);
    free(p);
    assert_int_equal(count_entries(f->dir, NULL), 1);
}

static void test_install_failure_cleans_up(void **state)
{
    fixture *f = *state;
    leec_store *s = f->store;
    char *p = NULL;
    int hidden = 0;

    /* live/<name> is a non-empty folder, so the symlink cannot replace it:
     * the install fails and leaves neither a version nor a temporary. */
    p = tu_pathf("%s/live/blocked.example/keep", f->root);
    assert_int_equal(leec_file_write_atomic(p, "x", 1, 0644), LEEC_E_IO);
    free(p);
    p = tu_pathf("%s/live/blocked.example", f->root);
    assert_int_equal(leec_mkdir_p(p, 0700), LEEC_OK);
    free(p);
    p = tu_pathf("%s/live/blocked.example/keep", f->root);
    assert_int_equal(leec_file_write_atomic(p, "x", 1, 0644), LEEC_OK);
    free(p);

    assert_int_equal(install(s, "blocked.example", KEY1, CERT1, CHAIN, NULL),
                     LEEC_E_IO);
    p = tu_pathf("%s/archive/blocked.example", f->root);
    assert_int_equal(count_entries(p, NULL), 0);
    free(p);
    p = tu_pathf("%s/live", f->root);
    assert_int_equal(count_entries(p, &hidden), 1);
    assert_int_equal(hidden, 0);
    free(p);
}

static void test_cert_read_not_found(void **state)
{
    fixture *f = *state;
    leec_store *s = f->store;
    char *pem = (char *)"sentinel";

    assert_int_equal(leec_store_read_cert(s, "none.example", &pem),
                     LEEC_E_NOT_FOUND);
    assert_null(pem);
    pem = (char *)"sentinel";
    assert_int_equal(s->ops->cert_read(s, "none.example", "privkey.pem", &pem,
                                       NULL),
                     LEEC_E_NOT_FOUND);
    assert_null(pem);

    /* Installed without meta.json: that one file is not found. */
    assert_int_equal(install(s, "some.example", KEY1, CERT1, CHAIN, NULL),
                     LEEC_OK);
    assert_int_equal(s->ops->cert_read(s, "some.example", "meta.json", &pem,
                                       NULL),
                     LEEC_E_NOT_FOUND);
    /* Only the known file names are readable. */
    assert_int_equal(s->ops->cert_read(s, "some.example", "../../x", &pem,
                                       NULL),
                     LEEC_E_INVALID_ARG);
    assert_int_equal(s->ops->cert_read(s, "some.example", "other.pem", &pem,
                                       NULL),
                     LEEC_E_INVALID_ARG);
    assert_int_equal(leec_store_read_cert(NULL, "some.example", &pem),
                     LEEC_E_INVALID_ARG);
    assert_null(leec_store_live_path(NULL, "some.example"));
}

static void test_cert_read_bounded(void **state)
{
    fixture *f = *state;
    leec_store *s = f->store;
    size_t n = 1024 * 1024 + 1;
    char *big = malloc(n + 1);
    char *pem = NULL;

    assert_non_null(big);
    memset(big, 'A', n);
    big[n] = '\0';
    assert_int_equal(install(s, "big.example", KEY1, big, "", NULL), LEEC_OK);
    assert_int_equal(leec_store_read_cert(s, "big.example", &pem),
                     LEEC_E_TOO_LARGE);
    assert_null(pem);
    free(big);
}

static bool exists(const char *root, const char *rel)
{
    struct stat st;
    char *p = tu_pathf("%s/%s", root, rel);
    bool r = lstat(p, &st) == 0;
    free(p);
    return r;
}

static void test_list(void **state)
{
    fixture *f = *state;
    leec_store *s = f->store;
    char **names = (char **)1;
    size_t n = 99;

    assert_int_equal(leec_store_list(s, &names, &n), LEEC_OK);
    assert_int_equal(n, 0);
    assert_null(names);

    assert_int_equal(install(s, "b.example", KEY1, CERT1, CHAIN, NULL),
                     LEEC_OK);
    assert_int_equal(install(s, "a.example", KEY1, CERT1, CHAIN, NULL),
                     LEEC_OK);
    assert_int_equal(install(s, "a.example", KEY2, CERT2, CHAIN, NULL),
                     LEEC_OK);
    /* Not certificates: a hidden link, a plain file, a folder, a name that
     * is not valid, and a version without a live link. */
    char *p = tu_pathf("%s/live/.hidden", f->root);
    assert_int_equal(symlink("../archive/a.example/1", p), 0);
    free(p);
    p = tu_pathf("%s/live/plain", f->root);
    assert_int_equal(leec_file_write_atomic(p, "x", 1, 0644), LEEC_OK);
    free(p);
    p = tu_pathf("%s/live/folder", f->root);
    assert_int_equal(mkdir(p, 0700), 0);
    free(p);
    p = tu_pathf("%s/live/bad name", f->root);
    assert_int_equal(symlink("../archive/a.example/1", p), 0);
    free(p);
    p = tu_pathf("%s/archive/c.example/1", f->root);
    assert_int_equal(leec_mkdir_p(p, 0700), LEEC_OK);
    free(p);

    assert_int_equal(leec_store_list(s, &names, &n), LEEC_OK);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "a.example");
    assert_string_equal(names[1], "b.example");
    leec_store_list_free(names, n);
    leec_store_list_free(NULL, 0);

    assert_int_equal(leec_store_list(NULL, &names, &n), LEEC_E_INVALID_ARG);
    assert_int_equal(leec_store_list(s, NULL, &n), LEEC_E_INVALID_ARG);
    assert_int_equal(leec_store_list(s, &names, NULL), LEEC_E_INVALID_ARG);
}

static void test_read_meta(void **state)
{
    fixture *f = *state;
    leec_store *s = f->store;
    char *json = (char *)"sentinel";

    assert_int_equal(leec_store_read_meta(s, "none.example", &json),
                     LEEC_E_NOT_FOUND);
    assert_null(json);
    assert_int_equal(install(s, "m.example", KEY1, CERT1, CHAIN,
                             "{\"server\":\"https://ca.test/dir\"}"),
                     LEEC_OK);
    assert_int_equal(install(s, "m.example", KEY2, CERT2, CHAIN,
                             "{\"server\":\"https://ca2.test/dir\"}"),
                     LEEC_OK);
    /* The current version's. */
    assert_int_equal(leec_store_read_meta(s, "m.example", &json), LEEC_OK);
    assert_string_equal(json, "{\"server\":\"https://ca2.test/dir\"}");
    free(json);
    assert_int_equal(install(s, "n.example", KEY1, CERT1, CHAIN, NULL),
                     LEEC_OK);
    assert_int_equal(leec_store_read_meta(s, "n.example", &json),
                     LEEC_E_NOT_FOUND);
    assert_int_equal(leec_store_read_meta(s, "../m.example", &json),
                     LEEC_E_INVALID_ARG);
    assert_int_equal(leec_store_read_meta(NULL, "m.example", &json),
                     LEEC_E_INVALID_ARG);
}

/* Nothing left of the name, no trash left behind, the others intact. */
static void test_reset_one(void **state)
{
    fixture *f = *state;
    leec_store *s = f->store;
    char **names = NULL;
    size_t n = 0;
    char *pem = NULL;
    int hidden = 0;

    assert_int_equal(install(s, "a.example", KEY1, CERT1, CHAIN, "{}"),
                     LEEC_OK);
    assert_int_equal(install(s, "a.example", KEY2, CERT2, CHAIN, "{}"),
                     LEEC_OK);
    assert_int_equal(install(s, "b.example", KEY1, CERT1, CHAIN, NULL),
                     LEEC_OK);
    assert_int_equal(s->ops->account_save(s, "ca.test", KEY1, "{}"),
                     LEEC_OK);

    assert_int_equal(leec_store_reset(s, "a.example"), LEEC_OK);
    assert_false(exists(f->root, "live/a.example"));
    assert_false(exists(f->root, "archive/a.example"));
    char *live = tu_pathf("%s/live", f->root);
    char *archive = tu_pathf("%s/archive", f->root);
    assert_int_equal(count_entries(live, &hidden), 1);
    assert_int_equal(hidden, 0);
    assert_int_equal(count_entries(archive, &hidden), 1);
    assert_int_equal(hidden, 0);
    assert_int_equal(leec_store_list(s, &names, &n), LEEC_OK);
    assert_int_equal(n, 1);
    assert_string_equal(names[0], "b.example");
    leec_store_list_free(names, n);
    assert_int_equal(leec_store_read_cert(s, "a.example", &pem),
                     LEEC_E_NOT_FOUND);
    assert_int_equal(leec_store_read_cert(s, "b.example", &pem), LEEC_OK);
    assert_string_equal(pem, CERT1);
    free(pem);
    assert_file(f->root, "accounts/ca.test/account.json", "{}", 0644);

    /* Again: nothing to do. An invalid name is refused. */
    assert_int_equal(leec_store_reset(s, "a.example"), LEEC_OK);
    assert_int_equal(leec_store_reset(s, ".."), LEEC_E_INVALID_ARG);
    assert_int_equal(leec_store_reset(s, "x/y"), LEEC_E_INVALID_ARG);
    assert_int_equal(leec_store_reset(NULL, "a.example"), LEEC_E_INVALID_ARG);

    /* A later install starts over at version 1. */
    assert_int_equal(install(s, "a.example", KEY1, CERT1, CHAIN, NULL),
                     LEEC_OK);
    assert_true(exists(f->root, "archive/a.example/1"));
    assert_false(exists(f->root, "archive/a.example/2"));

    /* Trash an earlier reset could not delete is swept. */
    char *t = tu_pathf("%s/.trash-old.example-12345678/1", archive);
    assert_int_equal(leec_mkdir_p(t, 0700), LEEC_OK);
    free(t);
    assert_int_equal(leec_store_reset(s, "a.example"), LEEC_OK);
    assert_int_equal(count_entries(archive, &hidden), 1);
    assert_int_equal(hidden, 0);
    free(live);
    free(archive);
}

/* While an issue holds the certificate's lock, nothing is removed. */
static void test_reset_locked(void **state)
{
    fixture *f = *state;
    leec_store *s = f->store;
    void *h = NULL;

    assert_int_equal(install(s, "a.example", KEY1, CERT1, CHAIN, NULL),
                     LEEC_OK);
    assert_int_equal(install(s, "b.example", KEY1, CERT1, CHAIN, NULL),
                     LEEC_OK);
    assert_int_equal(s->ops->lock(s, "cert", "a.example", &h), LEEC_OK);
    assert_int_equal(leec_store_reset(s, "a.example"), LEEC_E_LOCKED);
    assert_true(exists(f->root, "live/a.example"));
    assert_true(exists(f->root, "archive/a.example/1"));
    /* All or nothing: b is not removed either. */
    assert_int_equal(leec_store_reset(s, NULL), LEEC_E_LOCKED);
    assert_true(exists(f->root, "live/a.example"));
    assert_true(exists(f->root, "live/b.example"));
    assert_true(exists(f->root, "archive/b.example/1"));
    s->ops->unlock(s, h);
    assert_int_equal(leec_store_reset(s, "a.example"), LEEC_OK);
    assert_false(exists(f->root, "archive/a.example"));
}

static void test_reset_all(void **state)
{
    fixture *f = *state;
    leec_store *s = f->store;
    char **names = NULL;
    size_t n = 0;
    char *key = NULL, *json = NULL;
    int hidden = 0;

    assert_int_equal(install(s, "a.example", KEY1, CERT1, CHAIN, NULL),
                     LEEC_OK);
    assert_int_equal(install(s, "b.example", KEY1, CERT1, CHAIN, NULL),
                     LEEC_OK);
    /* A version that never became current. */
    char *p = tu_pathf("%s/archive/c.example/1", f->root);
    assert_int_equal(leec_mkdir_p(p, 0700), LEEC_OK);
    free(p);
    assert_int_equal(s->ops->account_save(s, "ca.test", KEY1, "{}"),
                     LEEC_OK);

    assert_int_equal(leec_store_reset(s, NULL), LEEC_OK);
    assert_int_equal(leec_store_list(s, &names, &n), LEEC_OK);
    assert_int_equal(n, 0);
    const char *sub[] = {"live", "archive", "accounts"};
    for (size_t i = 0; i < 3; i++) {
        p = tu_pathf("%s/%s", f->root, sub[i]);
        assert_int_equal(count_entries(p, &hidden), 0);
        assert_int_equal(tu_mode_of(p), 0700);
        free(p);
    }
    assert_int_equal(count_entries(f->root, &hidden), 4);
    assert_int_equal(hidden, 0);
    assert_int_equal(s->ops->account_load(s, "ca.test", &key, &json),
                     LEEC_E_NOT_FOUND);
    /* The store stays usable. */
    assert_int_equal(install(s, "a.example", KEY2, CERT2, CHAIN, NULL),
                     LEEC_OK);
    assert_int_equal(s->ops->account_save(s, "ca.test", KEY1, "{}"),
                     LEEC_OK);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_valid),
        T(test_new_layout),
        T(test_account_round_trip),
        T(test_account_invalid_id),
        T(test_account_half),
        T(test_lock_holder),
        T(test_install_versions),
        T(test_install_next_after_highest),
        T(test_install_fullchain_newline),
        T(test_install_invalid),
        T(test_install_failure_cleans_up),
        T(test_cert_read_not_found),
        T(test_cert_read_bounded),
        T(test_list),
        T(test_read_meta),
        T(test_reset_one),
        T(test_reset_locked),
        T(test_reset_all),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
