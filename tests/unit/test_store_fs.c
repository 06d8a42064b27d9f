/* Tests for lib/store.c and lib/store_fs.c. */
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

#include "util/fsutil.h"
#include "engine/internal.h"
#include "store/store.h"
#include "testutil.h"

#define KEY1 "-----BEGIN PRIVATE KEY-----\nkey-one\n-----END PRIVATE KEY-----\n"
#define CERT1                                                                  \
    "-----BEGIN CERTIFICATE-----\nleaf-one\n-----END CERTIFICATE-----\n"
#define KEY2 "-----BEGIN PRIVATE KEY-----\nkey-two\n-----END PRIVATE KEY-----\n"
#define CERT2                                                                  \
    "-----BEGIN CERTIFICATE-----\nleaf-two\n-----END CERTIFICATE-----\n"
#define CHAIN "-----BEGIN CERTIFICATE-----\nissuer\n-----END CERTIFICATE-----\n"

typedef struct fixture {
    char *dir;  /* the test's private temporary folder */
    char *root; /* the store, dir/store (created by the store) */
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
    assert_int_equal(Leec_file_read(path, 1 << 20, &data, NULL), LEEC_OK);
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
    leec_store_new_version in = {
        .privkey = key, .cert = cert, .chain = chain, .meta_json = meta};
    return leec_store_install_version(s, name, &in, NULL);
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

    assert_true(Leec_store_name_valid("example.com"));
    assert_true(Leec_store_name_valid("A_b-c.9"));
    assert_true(Leec_store_name_valid("acme-v02.api.letsencrypt.org"));
    assert_true(Leec_store_name_valid("localhost_14000"));
    assert_true(Leec_store_name_valid(longest));
    assert_false(Leec_store_name_valid(too_long));
    assert_false(Leec_store_name_valid(NULL));
    assert_false(Leec_store_name_valid(""));
    assert_false(Leec_store_name_valid("."));
    assert_false(Leec_store_name_valid(".."));
    assert_false(Leec_store_name_valid("../x"));
    assert_false(Leec_store_name_valid(".hidden"));
    assert_false(Leec_store_name_valid("-rf"));
    assert_false(Leec_store_name_valid("a/b"));
    assert_false(Leec_store_name_valid("a b"));
    assert_false(Leec_store_name_valid("a\nb"));
    assert_false(Leec_store_name_valid("*.example.com"));
    assert_false(Leec_store_name_valid("caf\xc3\xa9"));
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
    assert_int_equal(Leec_file_write_atomic(p, "x", 1, 0644), LEEC_OK);
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

    assert_int_equal(
        Leec_store_account_load(s, "acme.example_443", &key, &json),
        LEEC_E_NOT_FOUND);
    assert_null(key);
    assert_null(json);

    assert_int_equal(Leec_store_account_save(s, "acme.example_443", KEY1,
                                             "{\"url\":\"https://a/1\"}"),
                     LEEC_OK);
    assert_int_equal(
        Leec_store_account_load(s, "acme.example_443", &key, &json), LEEC_OK);
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
    assert_int_equal(Leec_store_account_save(s, "acme.example_443", KEY2, "{}"),
                     LEEC_OK);
    assert_int_equal(
        Leec_store_account_load(s, "acme.example_443", &key, &json), LEEC_OK);
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
        assert_int_equal(Leec_store_account_save(s, bad[i], KEY1, "{}"),
                         LEEC_E_INVALID_ARG);
        assert_int_equal(Leec_store_account_load(s, bad[i], &key, &json),
                         LEEC_E_INVALID_ARG);
        assert_null(key);
        assert_null(json);
    }
    assert_int_equal(count_entries(p, NULL), 0);
    assert_int_equal(count_entries(f->root, NULL), 5); /* + locks/, journal/ */
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
    assert_int_equal(Leec_store_account_save(s, "ca.test", KEY1, "{}"),
                     LEEC_OK);
    char *k = tu_pathf("%s/accounts/ca.test/account.key.pem", f->root);
    char *j = tu_pathf("%s/accounts/ca.test/account.json", f->root);

    assert_int_equal(unlink(k), 0);
    assert_int_equal(Leec_store_account_load(s, "ca.test", &key, &json),
                     LEEC_E_BAD_KEY);
    assert_null(key);
    assert_null(json);
    int fd = open(k, O_WRONLY | O_CREAT | O_TRUNC, 0600); /* empty */
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(Leec_store_account_load(s, "ca.test", &key, &json),
                     LEEC_E_BAD_KEY);

    assert_int_equal(Leec_store_account_save(s, "ca.test", KEY1, "{}"),
                     LEEC_OK);
    assert_int_equal(unlink(j), 0);
    assert_int_equal(Leec_store_account_load(s, "ca.test", &key, &json),
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
    assert_int_equal(
        Leec_store_ops(s)->lock_holder(s, "cert", "a.example", &pid, &host),
        LEEC_E_NOT_FOUND);
    assert_int_equal(Leec_store_lock(s, "cert", "a.example", &h), LEEC_OK);
    assert_int_equal(
        Leec_store_ops(s)->lock_holder(s, "cert", "a.example", &pid, &host),
        LEEC_OK);
    assert_int_equal(pid, (long)getpid());
    assert_non_null(host);
    free(host);
    Leec_store_unlock(s, h);
    char *text = Leec_store_holder_text(s, "cert", "nosuch");
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
    assert_int_equal(leec_store_lock_take(other, "daemon", &l2, NULL), LEEC_OK);
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
        assert_int_equal(
            leec_store_read_live(s, "nothing.example", &key, &full),
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

    /* Reads go to the live version. */
    assert_int_equal(
        leec_store_read_part(s, "example.com", LEEC_PART_PRIVKEY, &pem, &len),
        LEEC_OK);
    assert_int_equal(len, strlen(KEY2));
    assert_string_equal(pem, KEY2);
    free(pem);
    pem = NULL;
    assert_int_equal(
        leec_store_read_part(s, "example.com", LEEC_PART_FULLCHAIN, &pem, NULL),
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
    assert_int_equal(Leec_mkdir_p(p, 0700), LEEC_OK);
    free(p);
    p = tu_pathf("%s/archive/gap.example/not-a-number", f->root);
    assert_int_equal(Leec_mkdir_p(p, 0700), LEEC_OK);
    free(p);
    p = tu_pathf("%s/archive/gap.example/0099", f->root);
    assert_int_equal(Leec_mkdir_p(p, 0700), LEEC_OK);
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

/* What a killed install or account save left (a version's key among it)
 * goes with the next write under the same lock; names that only look
 * alike stay. */
static void test_killed_writes_swept(void **state)
{
    fixture *f = *state;
    leec_store *s = f->store;
    const char *gone[] = {"archive/swept.example/.1.tmp-0a1b2c3d",
                          "live/.swept.example.tmp-00000000",
                          "accounts/ca.example/.account.key.pem.tmp-01234567"};
    const char *kept[] = {"archive/swept.example/.1.tmp-notahex!",
                          "archive/swept.example/.x1.tmp-0a1b2c3d",
                          "live/.other.example.tmp-89abcdef"};
    char *p = tu_pathf("%s/archive/swept.example/.1.tmp-0a1b2c3d", f->root);
    assert_int_equal(Leec_mkdir_p(p, 0700), LEEC_OK);
    free(p);
    p = tu_pathf("%s/archive/swept.example/.1.tmp-0a1b2c3d/privkey.pem",
                 f->root);
    assert_int_equal(Leec_file_write_atomic(p, KEY1, strlen(KEY1), 0600),
                     LEEC_OK);
    free(p);
    assert_int_equal(Leec_store_account_save(s, "ca.example", KEY1, "{}"),
                     LEEC_OK);
    for (size_t i = 1; i < 3; i++) {
        p = tu_pathf("%s/%s", f->root, gone[i]);
        assert_int_equal(Leec_file_write_atomic(p, "x", 1, 0600), LEEC_OK);
        free(p);
    }
    for (size_t i = 0; i < 3; i++) {
        p = tu_pathf("%s/%s", f->root, kept[i]);
        assert_int_equal(Leec_file_write_atomic(p, "x", 1, 0600), LEEC_OK);
        free(p);
    }
    assert_int_equal(install(s, "swept.example", KEY1, CERT1, CHAIN, NULL),
                     LEEC_OK);
    assert_int_equal(Leec_store_account_save(s, "ca.example", KEY1, "{}"),
                     LEEC_OK);
    for (size_t i = 0; i < 3; i++) {
        p = tu_pathf("%s/%s", f->root, gone[i]);
        assert_int_equal(access(p, F_OK), -1);
        free(p);
        p = tu_pathf("%s/%s", f->root, kept[i]);
        assert_int_equal(access(p, F_OK), 0);
        free(p);
    }
}

static void test_install_fullchain_newline(void **state)
{
    fixture *f = *state;
    leec_store *s = f->store;
    const char *leaf =
        "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----";

    assert_int_equal(install(s, "nl.example", KEY1, leaf, CHAIN, NULL),
                     LEEC_OK);
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
            leec_store_read_part(s, bad[i], LEEC_PART_CERT, &pem, NULL),
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
    assert_int_equal(leec_store_install_version(s, "ok.example", NULL, NULL),
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
    assert_int_equal(Leec_file_write_atomic(p, "x", 1, 0644), LEEC_E_IO);
    free(p);
    p = tu_pathf("%s/live/blocked.example", f->root);
    assert_int_equal(Leec_mkdir_p(p, 0700), LEEC_OK);
    free(p);
    p = tu_pathf("%s/live/blocked.example/keep", f->root);
    assert_int_equal(Leec_file_write_atomic(p, "x", 1, 0644), LEEC_OK);
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
    assert_int_equal(
        leec_store_read_part(s, "none.example", LEEC_PART_PRIVKEY, &pem, NULL),
        LEEC_E_NOT_FOUND);
    assert_null(pem);

    /* Installed without meta.json: that one file is not found. */
    assert_int_equal(install(s, "some.example", KEY1, CERT1, CHAIN, NULL),
                     LEEC_OK);
    assert_int_equal(
        leec_store_read_part(s, "some.example", LEEC_PART_META, &pem, NULL),
        LEEC_E_NOT_FOUND);
    /* Only the parts there are are readable. */
    assert_int_equal(
        leec_store_read_part(s, "some.example", LEEC_PART_COUNT, &pem, NULL),
        LEEC_E_INVALID_ARG);
    leec_store_version v;
    assert_int_equal(leec_store_read_version(s, "some.example",
                                             LEEC_PARTS(LEEC_PART_COUNT), &v),
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
    /* Never installed (it could not be read back)... */
    assert_int_equal(install(s, "big.example", KEY1, big, "", NULL),
                     LEEC_E_TOO_LARGE);
    assert_int_equal(leec_store_read_cert(s, "big.example", &pem),
                     LEEC_E_NOT_FOUND);
    /* ...nor read when put there otherwise. */
    assert_int_equal(install(s, "big.example", KEY1, CERT1, "", NULL), LEEC_OK);
    char *p = tu_pathf("%s/archive/big.example/1/cert.pem", f->root);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(Leec_file_write_new(p, big, n, 0644), LEEC_OK);
    assert_int_equal(leec_store_read_cert(s, "big.example", &pem),
                     LEEC_E_TOO_LARGE);
    assert_null(pem);
    free(p);
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
    assert_int_equal(Leec_file_write_atomic(p, "x", 1, 0644), LEEC_OK);
    free(p);
    p = tu_pathf("%s/live/folder", f->root);
    assert_int_equal(mkdir(p, 0700), 0);
    free(p);
    p = tu_pathf("%s/live/bad name", f->root);
    assert_int_equal(symlink("../archive/a.example/1", p), 0);
    free(p);
    p = tu_pathf("%s/archive/c.example/1", f->root);
    assert_int_equal(Leec_mkdir_p(p, 0700), LEEC_OK);
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
    assert_int_equal(Leec_store_account_save(s, "ca.test", KEY1, "{}"),
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
    assert_int_equal(Leec_mkdir_p(t, 0700), LEEC_OK);
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
    assert_int_equal(Leec_store_lock(s, "cert", "a.example", &h), LEEC_OK);
    assert_int_equal(leec_store_reset(s, "a.example"), LEEC_E_LOCKED);
    assert_true(exists(f->root, "live/a.example"));
    assert_true(exists(f->root, "archive/a.example/1"));
    /* All or nothing: b is not removed either. */
    assert_int_equal(leec_store_reset(s, NULL), LEEC_E_LOCKED);
    assert_true(exists(f->root, "live/a.example"));
    assert_true(exists(f->root, "live/b.example"));
    assert_true(exists(f->root, "archive/b.example/1"));
    Leec_store_unlock(s, h);
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
    assert_int_equal(Leec_mkdir_p(p, 0700), LEEC_OK);
    free(p);
    assert_int_equal(Leec_store_account_save(s, "ca.test", KEY1, "{}"),
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
    assert_int_equal(count_entries(f->root, &hidden), 5); /* + journal/ */
    assert_int_equal(hidden, 0);
    assert_int_equal(Leec_store_account_load(s, "ca.test", &key, &json),
                     LEEC_E_NOT_FOUND);
    /* The store stays usable. */
    assert_int_equal(install(s, "a.example", KEY2, CERT2, CHAIN, NULL),
                     LEEC_OK);
    assert_int_equal(Leec_store_account_save(s, "ca.test", KEY1, "{}"),
                     LEEC_OK);
}

/* ------------------------------------------------------------------ */
/* Trust: what others can write is never used (issue 9, item 2)        */
/* ------------------------------------------------------------------ */

#define META_HOOK "{\"settings\":{\"deploy_hook\":\"touch /tmp/pwned\"}}"
#define NOBODY    65534

static bool is_root(void)
{
    return geteuid() == 0;
}

/* The store's last refusal mentions every one of the NULL-terminated
 * strings. */
static void assert_why_(const char *why, ...)
{
    va_list ap;
    const char *want = NULL;
    assert_non_null(why);
    va_start(ap, why);
    while ((want = va_arg(ap, const char *)) != NULL) {
        if (!strstr(why, want))
            fail_msg("'%s' not in '%s'", want, why);
    }
    va_end(ap);
}
#define assert_why(why, ...) assert_why_((why), __VA_ARGS__, (const char *)NULL)

/* Opening dir is refused with a message holding the strings given. */
#define assert_open_refused(dir, ...)                                          \
    do {                                                                       \
        leec_code err_ = LEEC_OK;                                              \
        char *why_ = NULL;                                                     \
        assert_null(leec_store_fs_open((dir), &err_, &why_));                  \
        assert_int_equal(err_, LEEC_E_STORE);                                  \
        assert_why(why_, __VA_ARGS__);                                         \
        free(why_);                                                            \
        err_ = LEEC_OK;                                                        \
        assert_null(leec_store_fs_new((dir), &err_));                          \
        assert_int_equal(err_, LEEC_E_STORE);                                  \
    } while (0)

static void assert_opens(const char *dir)
{
    leec_code err = LEEC_E_IO;
    char *why = (char *)"sentinel";
    leec_store *s = leec_store_fs_open(dir, &err, &why);
    assert_non_null(s);
    assert_int_equal(err, LEEC_OK);
    assert_null(why);
    assert_null(leec_store_errmsg(s));
    leec_store_free(s);
}

static void test_open_unsafe_root(void **state)
{
    fixture *f = *state;
    char *fix = tu_pathf("chmod go-w %s", f->root);

    assert_int_equal(chmod(f->root, 0777), 0);
    assert_open_refused(f->root, "state folder ", f->root, "(mode 0777)",
                        "writable by group or others", fix);
    assert_int_equal(chmod(f->root, 0770), 0);
    assert_open_refused(f->root, fix);
    assert_int_equal(chmod(f->root, 0702), 0);
    assert_open_refused(f->root, fix);
    /* Readable by others is no risk: the files that matter are 0600. */
    assert_int_equal(chmod(f->root, 0755), 0);
    assert_opens(f->root);
    /* The trailing slash is not shown. */
    assert_int_equal(chmod(f->root, 0777), 0);
    char *slash = tu_pathf("%s/", f->root);
    assert_open_refused(slash, fix);
    free(slash);
    assert_int_equal(chmod(f->root, 0700), 0);
    /* A missing folder is made safe. */
    char *fresh = tu_pathf("%s/fresh/store", f->dir);
    assert_opens(fresh);
    assert_int_equal(tu_mode_of(fresh), 0700);
    free(fresh);
    free(fix);
}

static void test_open_unsafe_subfolders(void **state)
{
    fixture *f = *state;
    static const char *const subs[] = {"live", "archive", "locks", "accounts"};

    for (size_t i = 0; i < 4; i++) {
        char *p = tu_pathf("%s/%s", f->root, subs[i]);
        char *fix = tu_pathf("chmod go-w %s", p);
        assert_int_equal(chmod(p, 0730), 0);
        assert_open_refused(f->root, p, "(mode 0730)", fix);
        assert_int_equal(chmod(p, 0700), 0);
        free(fix);
        free(p);
    }
    assert_opens(f->root);

    /* live/ a link to a folder of ours: not followed. */
    char *live = tu_pathf("%s/live", f->root);
    char *other = tu_pathf("%s/other", f->dir);
    assert_int_equal(mkdir(other, 0700), 0);
    assert_int_equal(rmdir(live), 0);
    assert_int_equal(symlink(other, live), 0);
    assert_open_refused(f->root, live, "is a symbolic link");
    assert_int_equal(tu_count_entries(other), 0);
    assert_int_equal(unlink(live), 0);
    /* locks/ a file. */
    char *locks = tu_pathf("%s/locks", f->root);
    assert_int_equal(rmdir(locks), 0);
    assert_int_equal(Leec_file_write_atomic(locks, "x", 1, 0600), LEEC_OK);
    assert_open_refused(f->root, locks, "is not a folder");
    assert_int_equal(unlink(locks), 0);
    assert_opens(f->root);
    free(locks);
    free(live);
    free(other);
}

/* --dir itself may be reached through a link (/var -> /srv/var): the
 * folder it leads to is what is checked. */
static void test_open_root_through_link(void **state)
{
    fixture *f = *state;
    char *alias = tu_pathf("%s/alias", f->dir);
    assert_int_equal(symlink(f->root, alias), 0);
    assert_opens(alias);
    assert_int_equal(chmod(f->root, 0777), 0);
    assert_open_refused(alias, alias, "chmod go-w");
    assert_int_equal(chmod(f->root, 0700), 0);
    free(alias);
}

static void test_open_foreign_owner(void **state)
{
    fixture *f = *state;
    if (!is_root())
        skip();
    char *fix = tu_pathf("chown root %s", f->root);
    assert_int_equal(chown(f->root, NOBODY, NOBODY), 0);
    assert_open_refused(f->root, f->root, "owned by uid 65534",
                        "not by the user running leec (uid 0)", fix);
    assert_int_equal(chown(f->root, 0, 0), 0);
    free(fix);
    char *archive = tu_pathf("%s/archive", f->root);
    fix = tu_pathf("chown root %s", archive);
    assert_int_equal(chown(archive, NOBODY, 0), 0);
    assert_open_refused(f->root, "owned by uid 65534", fix);
    assert_int_equal(chown(archive, 0, 0), 0);
    assert_opens(f->root);
    free(archive);
    free(fix);
}

/* A version somewhere else, as a local user would plant it: every file,
 * and settings with a hook. */
static char *plant_version(fixture *f)
{
    char *evil = tu_pathf("%s/evil", f->dir);
    static const char *const files[] = {"privkey.pem", "cert.pem",
                                        "chain.pem",   "fullchain.pem",
                                        "meta.json",   "renewal.json"};
    assert_int_equal(mkdir(evil, 0700), 0);
    for (size_t i = 0; i < 6; i++) {
        char *p = tu_pathf("%s/%s", evil, files[i]);
        assert_int_equal(
            Leec_file_write_atomic(p, META_HOOK, strlen(META_HOOK), 0600),
            LEEC_OK);
        free(p);
    }
    return evil;
}

/* Every reader refuses name with LEEC_E_STORE and a message naming
 * want. */
static void assert_reads_refused(leec_store *s, const char *name,
                                 const char *want)
{
    char *a = NULL, *b = NULL;
    leec_renewal_plan *plan = NULL;
    size_t len = 0;

    assert_int_equal(leec_store_read_cert(s, name, &a), LEEC_E_STORE);
    assert_null(a);
    assert_why(leec_store_errmsg(s), want);
    assert_int_equal(leec_store_read_chain(s, name, &a), LEEC_E_STORE);
    assert_int_equal(leec_store_read_live(s, name, &a, &b), LEEC_E_STORE);
    assert_null(a);
    assert_null(b);
    assert_int_equal(leec_store_read_meta(s, name, &a), LEEC_E_STORE);
    assert_null(a);
    assert_why(leec_store_errmsg(s), want);
    assert_int_equal(leec_store_read_part(s, name, LEEC_PART_RENEWAL, &a, &len),
                     LEEC_E_STORE);
    assert_int_equal(leec_store_renewal_plan(s, name, &plan), LEEC_E_STORE);
    assert_null(plan);
    assert_int_equal(Leec_store_renewal_write(s, name, 1, "{}"), LEEC_E_STORE);
}

static void test_live_link_checked(void **state)
{
    fixture *f = *state;
    leec_store *s = f->store;
    char *evil = plant_version(f);
    char *link = tu_pathf("%s/live/a.example", f->root);
    char **names = NULL;
    size_t n = 0;

    assert_int_equal(install(s, "a.example", KEY1, CERT1, CHAIN, "{}"),
                     LEEC_OK);
    assert_int_equal(install(s, "b.example", KEY2, CERT2, CHAIN, "{}"),
                     LEEC_OK);
    /* Towards a folder outside the store. */
    assert_int_equal(unlink(link), 0);
    assert_int_equal(symlink(evil, link), 0);
    assert_reads_refused(s, "a.example", link);
    assert_why(leec_store_errmsg(s), evil, "not at ../archive/a.example/N",
               "leec reset a.example");
    /* Nothing written there, nothing but the link changed. */
    assert_int_equal(tu_count_entries(evil), 6);
    {
        char *rj = tu_pathf("%s/renewal.json", evil);
        char *got = slurp(rj);
        assert_string_equal(got, META_HOOK);
        free(got);
        free(rj);
    }
    /* Listed (so that renew and list say why it cannot be read). */
    assert_int_equal(leec_store_list(s, &names, &n), LEEC_OK);
    assert_int_equal(n, 2);
    leec_store_list_free(names, n);

    /* Whatever else than what installs write. */
    static const char *const bad[] = {
        "../archive/a.example/1/",
        "../archive/a.example/01",
        "../archive/a.example/0",
        "../archive/a.example/../a.example/1",
        "../archive/b.example/1",
        "archive/a.example/1",
        "../archive/a.example/1x",
        "../archive/a.example/",
        "../archive/a.example",
        "../../evil",
        "../archive/a.example/1234567890",
        "./../archive/a.example/1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(unlink(link), 0);
        assert_int_equal(symlink(bad[i], link), 0);
        assert_reads_refused(s, "a.example", link);
    }
    /* Control characters in a target are not printed as they are. */
    assert_int_equal(unlink(link), 0);
    assert_int_equal(symlink("\x1b[2J", link), 0);
    assert_reads_refused(s, "a.example", "'?[2J'");

    /* Not a link at all. */
    assert_int_equal(unlink(link), 0);
    assert_int_equal(mkdir(link, 0700), 0);
    assert_reads_refused(s, "a.example", "is not a symbolic link");
    assert_int_equal(rmdir(link), 0);

    /* A version that is not there: simply none. */
    char *pem = NULL;
    assert_int_equal(symlink("../archive/a.example/9", link), 0);
    assert_int_equal(leec_store_read_cert(s, "a.example", &pem),
                     LEEC_E_NOT_FOUND);
    assert_int_equal(unlink(link), 0);
    assert_int_equal(symlink("../archive/a.example/1", link), 0);
    assert_int_equal(leec_store_read_cert(s, "a.example", &pem), LEEC_OK);
    assert_string_equal(pem, CERT1);
    free(pem);
    free(evil);
    free(link);
}

/* archive/NAME and archive/NAME/N are reached without following links. */
static void test_version_folders_checked(void **state)
{
    fixture *f = *state;
    leec_store *s = f->store;
    char *evil = plant_version(f);
    char *v2 = tu_pathf("%s/archive/a.example/2", f->root);
    char *adir = tu_pathf("%s/archive/a.example", f->root);
    char *v1 = tu_pathf("%s/archive/a.example/1", f->root);
    char *link = tu_pathf("%s/live/a.example", f->root);

    assert_int_equal(install(s, "a.example", KEY1, CERT1, CHAIN, "{}"),
                     LEEC_OK);
    /* The link's text is right, but version 2 is a link elsewhere. */
    assert_int_equal(symlink(evil, v2), 0);
    assert_int_equal(unlink(link), 0);
    assert_int_equal(symlink("../archive/a.example/2", link), 0);
    assert_reads_refused(s, "a.example", v2);
    assert_why(leec_store_errmsg(s), "is a symbolic link");
    assert_int_equal(tu_count_entries(evil), 6);
    assert_int_equal(unlink(link), 0);
    assert_int_equal(symlink("../archive/a.example/1", link), 0);

    /* Folders others can write. */
    assert_int_equal(chmod(v1, 0770), 0);
    assert_reads_refused(s, "a.example", v1);
    assert_why(leec_store_errmsg(s), "(mode 0770)", "chmod go-w");
    assert_int_equal(chmod(v1, 0700), 0);
    assert_int_equal(chmod(adir, 0777), 0);
    assert_reads_refused(s, "a.example", adir);
    /* ... nor is anything installed into one. */
    assert_int_equal(install(s, "a.example", KEY2, CERT2, CHAIN, NULL),
                     LEEC_E_STORE);
    assert_why(leec_store_errmsg(s), adir, "chmod go-w");
    assert_int_equal(count_entries(adir, NULL), 2); /* 1 and the link 2 */
    assert_int_equal(chmod(adir, 0700), 0);

    if (is_root()) {
        assert_int_equal(chown(v1, NOBODY, 0), 0);
        assert_reads_refused(s, "a.example", "owned by uid 65534");
        assert_int_equal(chown(v1, 0, 0), 0);
        assert_int_equal(chown(adir, NOBODY, 0), 0);
        assert_reads_refused(s, "a.example", adir);
        assert_int_equal(install(s, "a.example", KEY2, CERT2, CHAIN, NULL),
                         LEEC_E_STORE);
        assert_int_equal(chown(adir, 0, 0), 0);
    }
    char *pem = NULL;
    assert_int_equal(leec_store_read_cert(s, "a.example", &pem), LEEC_OK);
    free(pem);

    /* archive/NAME a link: refused, by readers and installs alike. */
    char *moved = tu_pathf("%s/moved", f->dir);
    assert_int_equal(rename(adir, moved), 0);
    assert_int_equal(symlink(moved, adir), 0);
    assert_reads_refused(s, "a.example", adir);
    assert_int_equal(install(s, "a.example", KEY2, CERT2, CHAIN, NULL),
                     LEEC_E_STORE);
    assert_int_equal(count_entries(moved, NULL), 2); /* 1 and the link 2 */
    free(moved);
    free(evil);
    free(v1);
    free(v2);
    free(adir);
    free(link);
}

/* The files of a version: regular, not links, ours, not writable by
 * others; a key not readable by others either. */
static void test_version_files_checked(void **state)
{
    fixture *f = *state;
    leec_store *s = f->store;
    char *meta = tu_pathf("%s/archive/m.example/1/meta.json", f->root);
    char *key = tu_pathf("%s/archive/m.example/1/privkey.pem", f->root);
    char *chain = tu_pathf("%s/archive/m.example/1/chain.pem", f->root);
    char *renewal = tu_pathf("%s/archive/m.example/1/renewal.json", f->root);
    char *outside = tu_pathf("%s/outside.json", f->dir);
    char *a = NULL, *b = NULL;

    assert_int_equal(install(s, "m.example", KEY1, CERT1, CHAIN, META_HOOK),
                     LEEC_OK);
    assert_int_equal(leec_store_read_meta(s, "m.example", &a), LEEC_OK);
    free(a);

    /* meta.json: the hooks `leec renew` runs. */
    assert_int_equal(chmod(meta, 0664), 0);
    assert_int_equal(leec_store_read_meta(s, "m.example", &a), LEEC_E_STORE);
    assert_null(a);
    char *fix = tu_pathf("chmod go-w %s", meta);
    assert_why(leec_store_errmsg(s), "state file ", meta, "(mode 0664)", fix);
    free(fix);
    assert_int_equal(chmod(meta, 0646), 0);
    assert_int_equal(leec_store_read_meta(s, "m.example", &a), LEEC_E_STORE);
    assert_int_equal(chmod(meta, 0644), 0);
    assert_int_equal(leec_store_read_meta(s, "m.example", &a), LEEC_OK);
    free(a);
    a = NULL;
    if (is_root()) {
        assert_int_equal(chown(meta, NOBODY, NOBODY), 0);
        assert_int_equal(leec_store_read_meta(s, "m.example", &a),
                         LEEC_E_STORE);
        assert_why(leec_store_errmsg(s), meta, "owned by uid 65534",
                   "chown root");
        assert_int_equal(chown(meta, 0, 0), 0);
    }
    /* A link, even to a file of ours. */
    assert_int_equal(Leec_file_write_atomic(outside, "{}", 2, 0600), LEEC_OK);
    assert_int_equal(unlink(meta), 0);
    assert_int_equal(symlink(outside, meta), 0);
    assert_int_equal(leec_store_read_meta(s, "m.example", &a), LEEC_E_STORE);
    assert_why(leec_store_errmsg(s), meta, "is a symbolic link");
    assert_int_equal(unlink(meta), 0);
    assert_int_equal(Leec_file_write_atomic(meta, "{}", 2, 0644), LEEC_OK);

    /* The key: readable by its group is an administrator's choice. */
    assert_int_equal(chmod(key, 0640), 0);
    assert_int_equal(leec_store_read_live(s, "m.example", &a, &b), LEEC_OK);
    free(a);
    free(b);
    assert_int_equal(chmod(key, 0644), 0);
    assert_int_equal(leec_store_read_live(s, "m.example", &a, &b),
                     LEEC_E_STORE);
    fix = tu_pathf("chmod o-r %s", key);
    assert_why(leec_store_errmsg(s), "private key ", key, "readable by others",
               fix);
    free(fix);
    assert_int_equal(chmod(key, 0666), 0);
    assert_int_equal(leec_store_read_live(s, "m.example", &a, &b),
                     LEEC_E_STORE);
    assert_why(leec_store_errmsg(s), "chmod go-w,o-r");
    assert_int_equal(chmod(key, 0620), 0);
    assert_int_equal(leec_store_read_live(s, "m.example", &a, &b),
                     LEEC_E_STORE);
    assert_why(leec_store_errmsg(s), "chmod go-w ");
    assert_int_equal(chmod(key, 0600), 0);
    /* The certificate itself is no secret. */
    assert_int_equal(leec_store_read_cert(s, "m.example", &a), LEEC_OK);
    free(a);

    /* renewal.json steers when renewal happens (test_renewal: the plan is
     * refused, not made without it). */
    assert_int_equal(Leec_store_renewal_write(s, "m.example", 1, "{}"),
                     LEEC_OK);
    assert_int_equal(tu_mode_of(renewal), 0644);
    size_t len = 0;
    assert_int_equal(
        leec_store_read_part(s, "m.example", LEEC_PART_RENEWAL, &a, &len),
        LEEC_OK);
    free(a);
    a = NULL;
    assert_int_equal(chmod(renewal, 0666), 0);
    assert_int_equal(
        leec_store_read_part(s, "m.example", LEEC_PART_RENEWAL, &a, &len),
        LEEC_E_STORE);
    assert_why(leec_store_errmsg(s), renewal);
    assert_int_equal(chmod(renewal, 0644), 0);

    /* Not a regular file: refused, and opening a FIFO does not block. */
    assert_int_equal(unlink(chain), 0);
    assert_int_equal(mkfifo(chain, 0600), 0);
    assert_int_equal(leec_store_read_chain(s, "m.example", &a), LEEC_E_STORE);
    assert_why(leec_store_errmsg(s), chain, "not a regular file");

    free(meta);
    free(key);
    free(chain);
    free(renewal);
    free(outside);
}

static void test_accounts_checked(void **state)
{
    fixture *f = *state;
    leec_store *s = f->store;
    char *adir = tu_pathf("%s/accounts/ca.test", f->root);
    char *key = tu_pathf("%s/account.key.pem", adir);
    char *json = tu_pathf("%s/account.json", adir);
    char *k = NULL, *j = NULL;

    assert_int_equal(Leec_store_account_save(s, "ca.test", KEY1, "{}"),
                     LEEC_OK);
    assert_int_equal(chmod(adir, 0777), 0);
    assert_int_equal(Leec_store_account_load(s, "ca.test", &k, &j),
                     LEEC_E_STORE);
    assert_why(leec_store_errmsg(s), adir, "chmod go-w");
    assert_int_equal(Leec_store_account_save(s, "ca.test", KEY2, "{}"),
                     LEEC_E_STORE);
    assert_int_equal(chmod(adir, 0700), 0);
    assert_int_equal(chmod(key, 0604), 0);
    assert_int_equal(Leec_store_account_load(s, "ca.test", &k, &j),
                     LEEC_E_STORE);
    assert_why(leec_store_errmsg(s), "private key ", key);
    assert_int_equal(chmod(key, 0600), 0);
    assert_int_equal(chmod(json, 0666), 0);
    assert_int_equal(Leec_store_account_load(s, "ca.test", &k, &j),
                     LEEC_E_STORE);
    assert_int_equal(chmod(json, 0644), 0);
    assert_int_equal(Leec_store_account_load(s, "ca.test", &k, &j), LEEC_OK);
    assert_string_equal(k, KEY1);
    free(k);
    free(j);
    /* The account folder a link to one of ours: not followed. */
    char *moved = tu_pathf("%s/moved", f->dir);
    assert_int_equal(rename(adir, moved), 0);
    assert_int_equal(symlink(moved, adir), 0);
    assert_int_equal(Leec_store_account_load(s, "ca.test", &k, &j),
                     LEEC_E_STORE);
    assert_why(leec_store_errmsg(s), adir, "symbolic link");
    assert_int_equal(Leec_store_account_save(s, "ca.test", KEY2, "{}"),
                     LEEC_E_STORE);
    {
        char *got = NULL;
        char *mk = tu_pathf("%s/account.key.pem", moved);
        got = slurp(mk);
        assert_string_equal(got, KEY1);
        free(got);
        free(mk);
    }
    /* Removing it removes the link, not what it points at. */
    assert_int_equal(Leec_store_account_remove(s, "ca.test"), LEEC_OK);
    assert_int_equal(count_entries(moved, NULL), 2);
    free(moved);
    free(adir);
    free(key);
    free(json);
}

static void log_capture(void *ud, leec_log_level level, const char *msg)
{
    char **last = ud;
    assert_int_equal(level, LEEC_LOG_ERROR);
    free(*last);
    *last = strdup(msg);
}

/* A refusal is kept for leec_store_errmsg and logged through the context
 * the store belongs to. */
static void test_refusal_logged(void **state)
{
    fixture *f = *state;
    leec_store *s = f->store;
    char *last = NULL;
    leec_ctx *ctx = leec_ctx_new();
    char *pem = NULL;
    assert_non_null(ctx);
    leec_ctx_set_log(ctx, log_capture, &last, LEEC_LOG_DEBUG);
    Leec_store_set_log_ctx(s, ctx); /* what leec_ctx_set_store does */

    assert_null(leec_store_errmsg(s));
    assert_null(leec_store_errmsg(NULL));
    assert_int_equal(install(s, "l.example", KEY1, CERT1, CHAIN, NULL),
                     LEEC_OK);
    char *link = tu_pathf("%s/live/l.example", f->root);
    assert_int_equal(unlink(link), 0);
    assert_int_equal(symlink("/etc", link), 0);
    assert_int_equal(leec_store_read_cert(s, "l.example", &pem), LEEC_E_STORE);
    assert_non_null(last);
    assert_string_equal(last, leec_store_errmsg(s));
    assert_why(last, link, "'/etc'");
    Leec_store_set_log_ctx(s, NULL);
    free(link);
    free(last);
    leec_ctx_free(ctx);
}

/* http-01 tokens are kept in memory by the store that was given them:
 * no file, so the layout stays certbot's; another store on the same folder
 * (another process) does not see them. */
static void test_tokens_in_memory(void **state)
{
    fixture *f = *state;
    leec_store *s = f->store;
    char *ka = NULL;
    leec_code err = LEEC_E_IO;
    leec_store *other = leec_store_fs_new(f->root, &err);
    assert_non_null(other);

    assert_int_equal(Leec_store_token_put(s, "tok", "tok.thumb"), LEEC_OK);
    assert_int_equal(Leec_store_token_get(s, "tok", &ka), LEEC_OK);
    assert_string_equal(ka, "tok.thumb");
    free(ka);
    assert_int_equal(Leec_store_token_get(other, "tok", &ka), LEEC_E_NOT_FOUND);
    assert_null(ka);
    assert_int_equal(count_entries(f->root, NULL), 5); /* no tokens/ */
    leec_store_free(other);
    /* Freed with the store (ASan would see a leak). */
    assert_int_equal(Leec_store_token_put(s, "tok2", "tok2.thumb"), LEEC_OK);
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
        T(test_killed_writes_swept),
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
        T(test_open_unsafe_root),
        T(test_open_unsafe_subfolders),
        T(test_open_root_through_link),
        T(test_open_foreign_owner),
        T(test_live_link_checked),
        T(test_version_folders_checked),
        T(test_version_files_checked),
        T(test_accounts_checked),
        T(test_refusal_logged),
        T(test_tokens_in_memory),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
