/* The store interface's conformance suite (store_conformance.h). */
#define _GNU_SOURCE
#include "store_conformance.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "store/store.h"

/* The backend under test (cmocka's tests take no argument of ours). */
static const sc_backend *B;

typedef struct sc_fixture {
    leec_store *s; /* fresh */
} sc_fixture;

static int sc_setup(void **state)
{
    sc_fixture *f = calloc(1, sizeof *f);
    if (!f || !(f->s = B->fresh(B->ud))) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int sc_teardown(void **state)
{
    sc_fixture *f = *state;
    leec_store_free(f->s);
    B->wipe(B->ud);
    free(f);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Versions made of a tag, so that a read shows which install it saw   */
/* ------------------------------------------------------------------ */

typedef struct sc_text {
    char key[128], cert[128], chain[128], full[256], meta[128];
} sc_text;

static void sc_make(unsigned tag, sc_text *t)
{
    snprintf(t->key, sizeof t->key,
             "-----BEGIN PRIVATE KEY-----\nkey-%u\n-----END PRIVATE KEY-----\n",
             tag);
    snprintf(
        t->cert, sizeof t->cert,
        "-----BEGIN CERTIFICATE-----\nleaf-%u\n-----END CERTIFICATE-----\n",
        tag);
    snprintf(t->chain, sizeof t->chain,
             "-----BEGIN CERTIFICATE-----\nca-%u\n-----END CERTIFICATE-----\n",
             tag);
    snprintf(t->full, sizeof t->full, "%s%s", t->cert, t->chain);
    snprintf(t->meta, sizeof t->meta, "{\"names\":[\"a.example\"],\"tag\":%u}",
             tag);
}

static leec_code sc_install(leec_store *s, const char *name, unsigned tag,
                            uint64_t *number)
{
    static const char *const names[] = {"a.example", "b.example"};
    sc_text t;
    sc_make(tag, &t);
    leec_store_new_version in = {.privkey = t.key,
                                 .cert = t.cert,
                                 .chain = t.chain,
                                 .meta_json = t.meta,
                                 .names = names,
                                 .nnames = 2};
    return leec_store_install_version(s, name, &in, number);
}

/* The current version of name is the one installed with tag, whole, as
 * number (0: any). */
static void sc_assert_version(leec_store *s, const char *name, unsigned tag,
                              uint64_t number)
{
    leec_store_version v;
    sc_text t;
    sc_make(tag, &t);
    assert_int_equal(leec_store_read_version(s, name, LEEC_PARTS_ALL, &v),
                     LEEC_OK);
    if (number)
        assert_int_equal(v.number, number);
    assert_true(v.number > 0);
    const char *want[LEEC_PART_COUNT] = {t.key, t.cert, t.chain, t.full,
                                         t.meta};
    for (int p = 0; p < LEEC_PART_RENEWAL; p++) {
        assert_non_null(v.text[p]);
        assert_string_equal(v.text[p], want[p]);
        assert_int_equal(v.len[p], strlen(want[p]));
    }
    leec_store_version_clear(&v);
}

static void sc_assert_none(leec_store *s, const char *name)
{
    leec_store_version v;
    assert_int_equal(leec_store_read_version(s, name, LEEC_PARTS_ALL, &v),
                     LEEC_E_NOT_FOUND);
    for (int p = 0; p < LEEC_PART_COUNT; p++)
        assert_null(v.text[p]);
}

/* The names listed are exactly those given (sorted), n of them. */
static void sc_assert_list(leec_store *s, size_t n, ...)
{
    char **names = NULL;
    size_t got = 0;
    va_list ap;
    assert_int_equal(leec_store_list(s, &names, &got), LEEC_OK);
    assert_int_equal(got, n);
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(names[i], va_arg(ap, const char *));
    va_end(ap);
    if (n == 0)
        assert_null(names);
    leec_store_list_free(names, got);
}

static void sc_clean(const char *name, size_t versions)
{
    if (B->assert_clean)
        B->assert_clean(B->ud, name, versions);
}

/* ------------------------------------------------------------------ */
/* Records                                                             */
/* ------------------------------------------------------------------ */

static void test_empty(void **state)
{
    sc_fixture *f = *state;
    leec_store *s = f->s;
    char *a = (char *)"x", *b = (char *)"x";
    sc_assert_list(s, 0);
    sc_assert_none(s, "a.example");
    assert_int_equal(
        leec_store_read_part(s, "a.example", LEEC_PART_CERT, &a, NULL),
        LEEC_E_NOT_FOUND);
    assert_null(a);
    assert_int_equal(Leec_store_account_load(s, "ca.example", &a, &b),
                     LEEC_E_NOT_FOUND);
    assert_null(a);
    assert_null(b);
    assert_int_equal(Leec_store_renewal_write(s, "a.example", 1, "{}"),
                     LEEC_E_NOT_FOUND);
    assert_int_equal(leec_store_reset(s, "a.example"), LEEC_OK);
    assert_int_equal(leec_store_reset(s, NULL), LEEC_OK);
    assert_int_equal(Leec_store_account_remove(s, "ca.example"), LEEC_OK);
    sc_clean("a.example", 0);
}

static void test_install_round_trip(void **state)
{
    sc_fixture *f = *state;
    leec_store *s = f->s;
    uint64_t n1 = 0, n2 = 0, n3 = 0;
    leec_store_version v;
    char *text = NULL;
    size_t len = 0;

    assert_int_equal(sc_install(s, "a.example", 1, &n1), LEEC_OK);
    assert_true(n1 > 0);
    sc_assert_version(s, "a.example", 1, n1);
    /* No renewal state yet; only the parts asked for. */
    assert_int_equal(leec_store_read_version(s, "a.example",
                                             LEEC_PARTS(LEEC_PART_CERT) |
                                                 LEEC_PARTS(LEEC_PART_RENEWAL),
                                             &v),
                     LEEC_OK);
    assert_int_equal(v.number, n1);
    assert_non_null(v.text[LEEC_PART_CERT]);
    for (int p = 0; p < LEEC_PART_COUNT; p++)
        if (p != LEEC_PART_CERT)
            assert_null(v.text[p]);
    leec_store_version_clear(&v);
    /* The number alone. */
    assert_int_equal(leec_store_read_version(s, "a.example", 0, &v), LEEC_OK);
    assert_int_equal(v.number, n1);
    leec_store_version_clear(&v);

    /* A new version: a greater number, read whole. */
    assert_int_equal(sc_install(s, "a.example", 2, &n2), LEEC_OK);
    assert_true(n2 > n1);
    sc_assert_version(s, "a.example", 2, n2);
    assert_int_equal(
        leec_store_read_part(s, "a.example", LEEC_PART_PRIVKEY, &text, &len),
        LEEC_OK);
    assert_int_equal(len, strlen(text));
    assert_non_null(strstr(text, "key-2"));
    free(text);

    /* Without settings or chain: those parts are absent or empty; a leaf
     * without its last newline is kept apart from the chain. */
    leec_store_new_version bare = {.privkey = "k", .cert = "c"};
    assert_int_equal(leec_store_install_version(s, "a.example", &bare, &n3),
                     LEEC_OK);
    assert_true(n3 > n2);
    assert_int_equal(
        leec_store_read_version(s, "a.example", LEEC_PARTS_ALL, &v), LEEC_OK);
    assert_string_equal(v.text[LEEC_PART_CHAIN], "");
    assert_string_equal(v.text[LEEC_PART_FULLCHAIN], "c");
    assert_null(v.text[LEEC_PART_META]);
    assert_null(v.text[LEEC_PART_RENEWAL]);
    leec_store_version_clear(&v);
    assert_int_equal(
        leec_store_read_part(s, "a.example", LEEC_PART_META, &text, NULL),
        LEEC_E_NOT_FOUND);
    leec_store_new_version glued = {
        .privkey = "k", .cert = "c", .chain = "i\n"};
    assert_int_equal(leec_store_install_version(s, "a.example", &glued, NULL),
                     LEEC_OK);
    assert_int_equal(
        leec_store_read_part(s, "a.example", LEEC_PART_FULLCHAIN, &text, NULL),
        LEEC_OK);
    assert_string_equal(text, "c\ni\n");
    free(text);

    /* Other certificates are apart. */
    assert_int_equal(sc_install(s, "b.example", 7, NULL), LEEC_OK);
    sc_assert_version(s, "b.example", 7, 0);
    sc_assert_list(s, 2, "a.example", "b.example");
    sc_clean("a.example", 4);
    sc_clean("b.example", 1);
}

/* A reader in this process, an installer in another (its own store on
 * the same data): every read is one whole version, and versions only go
 * forward. */
static void test_read_while_installing(void **state)
{
    sc_fixture *f = *state;
    enum { ROUNDS = 150 };
    assert_int_equal(sc_install(f->s, "c.example", 0, NULL), LEEC_OK);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        leec_store *other = B->again(B->ud);
        int bad = !other;
        for (unsigned i = 1; i <= ROUNDS && !bad; i++)
            bad = sc_install(other, "c.example", i, NULL) != LEEC_OK;
        leec_store_free(other);
        _exit(bad);
    }
    uint64_t last = 0;
    unsigned reads = 0, last_tag = 0;
    int status = 0;
    for (;;) {
        leec_store_version v;
        unsigned tk = 0, tc = 0, th = 0, tm = 0;
        pid_t done = waitpid(pid, &status, WNOHANG);
        assert_int_equal(
            leec_store_read_version(f->s, "c.example", LEEC_PARTS_ALL, &v),
            LEEC_OK);
        assert_true(v.number >= last);
        last = v.number;
        assert_int_equal(
            sscanf(strchr(v.text[LEEC_PART_PRIVKEY], '\n') + 1, "key-%u", &tk),
            1);
        assert_int_equal(
            sscanf(strchr(v.text[LEEC_PART_CERT], '\n') + 1, "leaf-%u", &tc),
            1);
        assert_int_equal(
            sscanf(strchr(v.text[LEEC_PART_CHAIN], '\n') + 1, "ca-%u", &th), 1);
        assert_int_equal(sscanf(strstr(v.text[LEEC_PART_META], "\"tag\":"),
                                "\"tag\":%u", &tm),
                         1);
        assert_int_equal(tk, tc);
        assert_int_equal(th, tc);
        assert_int_equal(tm, tc);
        assert_true(tc >= last_tag);
        last_tag = tc;
        sc_text t;
        sc_make(tc, &t);
        assert_string_equal(v.text[LEEC_PART_FULLCHAIN], t.full);
        leec_store_version_clear(&v);
        reads++;
        if (done == pid)
            break;
        assert_int_equal(done, 0);
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(last_tag, ROUNDS); /* the last read saw the last one */
    print_message("    %u whole reads while %d versions were installed\n",
                  reads, ROUNDS);
}

static void test_list_and_reset(void **state)
{
    sc_fixture *f = *state;
    leec_store *s = f->s;
    assert_int_equal(sc_install(s, "c.example", 3, NULL), LEEC_OK);
    assert_int_equal(sc_install(s, "a.example", 1, NULL), LEEC_OK);
    assert_int_equal(sc_install(s, "b.example", 2, NULL), LEEC_OK);
    assert_int_equal(sc_install(s, "b.example", 4, NULL), LEEC_OK);
    sc_assert_list(s, 3, "a.example", "b.example", "c.example");

    /* One: every version of it, nothing of the others. */
    assert_int_equal(leec_store_reset(s, "b.example"), LEEC_OK);
    sc_assert_none(s, "b.example");
    sc_assert_list(s, 2, "a.example", "c.example");
    sc_assert_version(s, "a.example", 1, 0);
    sc_clean("b.example", 0);
    assert_int_equal(leec_store_reset(s, "b.example"), LEEC_OK);
    /* Installed again, it starts afresh. */
    assert_int_equal(sc_install(s, "b.example", 5, NULL), LEEC_OK);
    sc_assert_version(s, "b.example", 5, 0);

    /* A certificate whose lock another holds is not reset, nor is
     * anything when everything is asked for. */
    leec_store *other = B->again(B->ud);
    void *h = NULL;
    assert_non_null(other);
    assert_int_equal(Leec_store_lock(other, "cert", "c.example", &h), LEEC_OK);
    assert_int_equal(leec_store_reset(s, "c.example"), LEEC_E_LOCKED);
    assert_int_equal(leec_store_reset(s, NULL), LEEC_E_LOCKED);
    sc_assert_list(s, 3, "a.example", "b.example", "c.example");
    sc_assert_version(s, "c.example", 3, 0);
    Leec_store_unlock(other, h);

    /* Everything, the accounts too. */
    assert_int_equal(
        Leec_store_account_save(other, "ca.example", "key", "{\"url\":1}"),
        LEEC_OK);
    assert_int_equal(leec_store_reset(s, NULL), LEEC_OK);
    sc_assert_list(s, 0);
    sc_assert_list(other, 0);
    sc_assert_none(s, "a.example");
    char *k = NULL, *j = NULL;
    assert_int_equal(Leec_store_account_load(s, "ca.example", &k, &j),
                     LEEC_E_NOT_FOUND);
    assert_int_equal(Leec_store_account_load(other, "ca.example", &k, &j),
                     LEEC_E_NOT_FOUND);
    leec_store_free(other);
    sc_clean("a.example", 0);
    sc_clean("c.example", 0);
}

static void test_accounts(void **state)
{
    sc_fixture *f = *state;
    leec_store *s = f->s;
    char *k = NULL, *j = NULL;

    assert_int_equal(Leec_store_account_save(s, "ca.example", "key-1",
                                             "{\"url\":\"https://a/1\"}"),
                     LEEC_OK);
    assert_int_equal(Leec_store_account_load(s, "ca.example", &k, &j), LEEC_OK);
    assert_string_equal(k, "key-1");
    assert_string_equal(j, "{\"url\":\"https://a/1\"}");
    free(k);
    free(j);
    /* Replaced whole; another CA's is apart; another store sees it. */
    assert_int_equal(Leec_store_account_save(s, "ca.example", "key-2", "{}"),
                     LEEC_OK);
    assert_int_equal(
        Leec_store_account_save(s, "other.example_14000", "key-3", "[]"),
        LEEC_OK);
    leec_store *other = B->again(B->ud);
    assert_non_null(other);
    assert_int_equal(Leec_store_account_load(other, "ca.example", &k, &j),
                     LEEC_OK);
    assert_string_equal(k, "key-2");
    assert_string_equal(j, "{}");
    free(k);
    free(j);
    /* Removed at once; removing none is no error. */
    assert_int_equal(Leec_store_account_remove(other, "ca.example"), LEEC_OK);
    assert_int_equal(Leec_store_account_load(s, "ca.example", &k, &j),
                     LEEC_E_NOT_FOUND);
    assert_int_equal(Leec_store_account_remove(s, "ca.example"), LEEC_OK);
    assert_int_equal(Leec_store_account_load(s, "other.example_14000", &k, &j),
                     LEEC_OK);
    assert_string_equal(k, "key-3");
    free(k);
    free(j);
    leec_store_free(other);
    sc_clean(NULL, 0);
}

/* The renewal state belongs to one version: written for it while it is
 * current, gone with it when the next is installed. */
static void test_renewal_state(void **state)
{
    sc_fixture *f = *state;
    leec_store *s = f->s;
    uint64_t n1 = 0, n2 = 0;
    leec_store_version v;
    char *text = NULL;

    assert_int_equal(sc_install(s, "r.example", 1, &n1), LEEC_OK);
    assert_int_equal(Leec_store_renewal_write(s, "r.example", n1, "{\"a\":1}"),
                     LEEC_OK);
    assert_int_equal(Leec_store_renewal_write(s, "r.example", n1, "{\"a\":2}"),
                     LEEC_OK);
    assert_int_equal(leec_store_read_version(s, "r.example",
                                             LEEC_PARTS(LEEC_PART_CERT) |
                                                 LEEC_PARTS(LEEC_PART_RENEWAL),
                                             &v),
                     LEEC_OK);
    assert_int_equal(v.number, n1);
    assert_string_equal(v.text[LEEC_PART_RENEWAL], "{\"a\":2}");
    leec_store_version_clear(&v);

    /* Another store installs a new version: a write for the old one is
     * refused, the new one has none. */
    leec_store *other = B->again(B->ud);
    assert_non_null(other);
    assert_int_equal(sc_install(other, "r.example", 2, &n2), LEEC_OK);
    assert_int_equal(Leec_store_renewal_write(s, "r.example", n1, "{\"a\":3}"),
                     LEEC_E_NOT_FOUND);
    assert_int_equal(
        leec_store_read_part(s, "r.example", LEEC_PART_RENEWAL, &text, NULL),
        LEEC_E_NOT_FOUND);
    assert_int_equal(Leec_store_renewal_write(s, "r.example", n2, "{\"b\":1}"),
                     LEEC_OK);
    assert_int_equal(leec_store_read_part(other, "r.example", LEEC_PART_RENEWAL,
                                          &text, NULL),
                     LEEC_OK);
    assert_string_equal(text, "{\"b\":1}");
    free(text);
    sc_assert_version(other, "r.example", 2, n2);
    /* Never for a certificate without a version. */
    assert_int_equal(Leec_store_renewal_write(s, "none.example", n2, "{}"),
                     LEEC_E_NOT_FOUND);
    leec_store_free(other);
    sc_clean("r.example", 2);
}

static void test_tokens(void **state)
{
    sc_fixture *f = *state;
    leec_store *s = f->s;
    char *ka = (char *)"x";
    if (!Leec_store_ops(s)->token_put) {
        skip(); /* optional */
        return;
    }
    assert_int_equal(Leec_store_token_get(s, "tok-1_A", &ka), LEEC_E_NOT_FOUND);
    assert_null(ka);
    assert_int_equal(Leec_store_token_put(s, "tok-1_A", "tok-1_A.thumb"),
                     LEEC_OK);
    assert_int_equal(Leec_store_token_put(s, "tok2", "tok2.thumb"), LEEC_OK);
    assert_int_equal(Leec_store_token_get(s, "tok-1_A", &ka), LEEC_OK);
    assert_string_equal(ka, "tok-1_A.thumb");
    free(ka);
    /* Replaced, then forgotten (twice is no error). */
    assert_int_equal(Leec_store_token_put(s, "tok-1_A", "tok-1_A.other"),
                     LEEC_OK);
    assert_int_equal(Leec_store_token_get(s, "tok-1_A", &ka), LEEC_OK);
    assert_string_equal(ka, "tok-1_A.other");
    free(ka);
    assert_int_equal(Leec_store_token_delete(s, "tok-1_A"), LEEC_OK);
    assert_int_equal(Leec_store_token_delete(s, "tok-1_A"), LEEC_OK);
    assert_int_equal(Leec_store_token_get(s, "tok-1_A", &ka), LEEC_E_NOT_FOUND);
    assert_int_equal(Leec_store_token_get(s, "tok2", &ka), LEEC_OK);
    assert_string_equal(ka, "tok2.thumb");
    free(ka);

    /* Tokens are base64url, key authorizations printable, both bounded. */
    char long_tok[258], long_ka[1026];
    memset(long_tok, 'a', sizeof long_tok - 1);
    long_tok[sizeof long_tok - 1] = '\0';
    memset(long_ka, 'a', sizeof long_ka - 1);
    long_ka[sizeof long_ka - 1] = '\0';
    const char *bad_tok[] = {"",    "a/b",  "../x", "a.b",
                             "a b", "a\nb", "a=",   long_tok};
    for (size_t i = 0; i < sizeof bad_tok / sizeof *bad_tok; i++) {
        assert_int_equal(Leec_store_token_put(s, bad_tok[i], "x"),
                         LEEC_E_INVALID_ARG);
        assert_int_equal(Leec_store_token_get(s, bad_tok[i], &ka),
                         LEEC_E_INVALID_ARG);
        assert_int_equal(Leec_store_token_delete(s, bad_tok[i]),
                         LEEC_E_INVALID_ARG);
    }
    const char *bad_ka[] = {"", "a b", "a\nb", "\x7f", long_ka, NULL};
    for (size_t i = 0; i < sizeof bad_ka / sizeof *bad_ka; i++)
        assert_int_equal(Leec_store_token_put(s, "tok3", bad_ka[i]),
                         LEEC_E_INVALID_ARG);
    long_tok[256] = '\0'; /* 256: the longest */
    long_ka[1024] = '\0';
    assert_int_equal(Leec_store_token_put(s, long_tok, long_ka), LEEC_OK);
    assert_int_equal(Leec_store_token_get(s, long_tok, &ka), LEEC_OK);
    assert_string_equal(ka, long_ka);
    free(ka);
    sc_clean(NULL, 0);
}

static void test_locks(void **state)
{
    sc_fixture *f = *state;
    leec_store *s = f->s;
    leec_store *other = B->again(B->ud);
    void *h1 = NULL, *h2 = NULL, *h3 = NULL;
    char me[64];
    assert_non_null(other);
    snprintf(me, sizeof me, "PID %ld", (long)getpid());

    assert_int_equal(Leec_store_lock(s, "cert", "a.example", &h1), LEEC_OK);
    assert_non_null(h1);
    /* Exclusive between two stores on the same data. */
    assert_int_equal(Leec_store_lock(other, "cert", "a.example", &h2),
                     LEEC_E_LOCKED);
    assert_null(h2);
    /* Who holds it, when the backend can tell. */
    char *who = Leec_store_holder_text(other, "cert", "a.example");
    assert_non_null(who);
    if (Leec_store_ops(s)->lock_holder)
        assert_string_equal(who, me);
    else
        assert_string_equal(who, "another process");
    free(who);
    /* Other kinds and names are other locks. */
    assert_int_equal(Leec_store_lock(other, "account", "a.example", &h2),
                     LEEC_OK);
    assert_int_equal(Leec_store_lock(other, "cert", "b.example", &h3), LEEC_OK);
    Leec_store_unlock(other, h3);
    /* Released, it can be taken there. */
    Leec_store_unlock(s, h1);
    assert_int_equal(Leec_store_lock(other, "cert", "a.example", &h3), LEEC_OK);
    assert_int_equal(Leec_store_lock(s, "cert", "a.example", &h1),
                     LEEC_E_LOCKED);
    Leec_store_unlock(other, h3);
    Leec_store_unlock(other, h2);
    Leec_store_unlock(s, NULL); /* nothing */

    /* The public store-wide lock is the same mechanism. */
    leec_store_lock *l1 = NULL, *l2 = NULL;
    char *holder = NULL;
    assert_int_equal(leec_store_lock_take(s, "daemon", &l1, NULL), LEEC_OK);
    assert_int_equal(leec_store_lock_take(other, "daemon", &l2, &holder),
                     LEEC_E_LOCKED);
    assert_null(l2);
    assert_non_null(holder);
    free(holder);
    leec_store_lock_release(l1);
    assert_int_equal(leec_store_lock_take(other, "daemon", &l2, NULL), LEEC_OK);
    leec_store_lock_release(l2);
    leec_store_free(other);
}

/* ------------------------------------------------------------------ */
/* Leases and the order journal (ABI 2)                                */
/* ------------------------------------------------------------------ */

static bool sc_abi2(leec_store *s)
{
    return Leec_store_ops(s)->abi >= 2;
}

/* An order record made of a tag, so that a read shows which write it saw. */
typedef struct sc_order {
    char url[64], key[96], step[16];
    const char *names[2];
    leec_store_order o;
} sc_order;

static void sc_order_make(unsigned tag, sc_order *t)
{
    snprintf(t->url, sizeof t->url, "https://ca.example/order/%u", tag);
    snprintf(t->key, sizeof t->key,
             "-----BEGIN PRIVATE KEY-----\nok-%u\n-----END PRIVATE KEY-----\n",
             tag);
    snprintf(t->step, sizeof t->step, "step-%u", tag);
    t->names[0] = "a.example";
    t->names[1] = "*.a.example";
    t->o = (leec_store_order){.order_url = t->url,
                              .ca_id = (char *)"ca.example",
                              .account_url = (char *)"https://ca.example/a/1",
                              .names = (char **)t->names,
                              .nnames = 2,
                              .key_pem = t->key,
                              .step = t->step,
                              .since = 1700000000 + tag};
}

/* Odd tags are written durably, even ones not: both kinds of write. */
static leec_code sc_order_write(leec_store *s, const char *name, unsigned tag,
                                uint64_t token)
{
    sc_order t;
    sc_order_make(tag, &t);
    return Leec_store_order_write(s, name, token, &t.o, tag % 2 == 1);
}

/* The entry of name is the one written with tag, whole. */
static void sc_assert_order(leec_store *s, const char *name, unsigned tag)
{
    sc_order t;
    leec_store_order o;
    sc_order_make(tag, &t);
    assert_int_equal(leec_store_order_read(s, name, &o), LEEC_OK);
    assert_string_equal(o.order_url, t.url);
    assert_string_equal(o.key_pem, t.key);
    assert_string_equal(o.step, t.step);
    assert_string_equal(o.ca_id, "ca.example");
    assert_string_equal(o.account_url, "https://ca.example/a/1");
    assert_int_equal(o.nnames, 2);
    assert_string_equal(o.names[0], "a.example");
    assert_string_equal(o.names[1], "*.a.example");
    assert_int_equal(o.since, 1700000000 + tag);
    assert_true(o.updated > 0);
    leec_store_order_clear(&o);
}

static void sc_assert_no_order(leec_store *s, const char *name)
{
    leec_store_order o;
    assert_int_equal(leec_store_order_read(s, name, &o), LEEC_E_NOT_FOUND);
    assert_null(o.order_url);
    assert_null(o.key_pem);
}

/* Every grant has a greater token; a write presenting an older one than
 * the last grant is refused, whatever it writes. */
static void test_leases(void **state)
{
    sc_fixture *f = *state;
    leec_store *s = f->s;
    void *h1 = NULL, *h2 = NULL, *h3 = NULL;
    uint64_t t1 = 0, t2 = 0, t3 = 0, ta = 0;
    if (!sc_abi2(s)) {
        skip();
        return;
    }
    leec_store *other = B->again(B->ud);
    assert_non_null(other);
    assert_int_equal(Leec_store_lease(s, "cert", "a.example", 60, &h1, &t1),
                     LEEC_OK);
    assert_non_null(h1);
    assert_true(t1 > 0);
    /* Exclusive, as a lock; no token for a refusal. */
    assert_int_equal(Leec_store_lease(other, "cert", "a.example", 60, &h2, &t2),
                     LEEC_E_LOCKED);
    assert_null(h2);
    assert_int_equal(t2, 0);
    assert_int_equal(Leec_store_fence(other, "cert", "a.example", t1), LEEC_OK);
    /* Writes under the lease go through. */
    assert_int_equal(sc_order_write(s, "a.example", 1, t1), LEEC_OK);
    Leec_store_unlock(s, h1);

    /* The next holder, in another store: a greater token, and the old one
     * fenced off everywhere. */
    assert_int_equal(Leec_store_lease(other, "cert", "a.example", 60, &h2, &t2),
                     LEEC_OK);
    assert_true(t2 > t1);
    assert_int_equal(Leec_store_fence(s, "cert", "a.example", t1),
                     LEEC_E_FENCED);
    assert_int_equal(Leec_store_fence(s, "cert", "a.example", t2), LEEC_OK);
    assert_int_equal(Leec_store_fence(s, "cert", "a.example", 0), LEEC_OK);
    assert_int_equal(sc_order_write(s, "a.example", 2, t1), LEEC_E_FENCED);
    assert_int_equal(Leec_store_order_remove(s, "a.example", t1),
                     LEEC_E_FENCED);
    sc_assert_order(s, "a.example", 1);
    sc_text t;
    sc_make(1, &t);
    leec_store_new_version in = {.privkey = t.key, .cert = t.cert};
    assert_int_equal(Leec_store_install_fenced(s, "a.example", &in, t1, NULL),
                     LEEC_E_FENCED);
    sc_assert_none(s, "a.example");
    uint64_t num = 0;
    assert_int_equal(sc_install(other, "a.example", 3, &num), LEEC_OK);
    assert_int_equal(
        Leec_store_renewal_write_fenced(s, "a.example", num, "{}", t1),
        LEEC_E_FENCED);
    assert_int_equal(
        Leec_store_renewal_write_fenced(other, "a.example", num, "{}", t2),
        LEEC_OK);
    assert_int_equal(
        Leec_store_install_fenced(other, "a.example", &in, t2, NULL), LEEC_OK);
    assert_int_equal(sc_order_write(other, "a.example", 4, t2), LEEC_OK);
    assert_int_equal(Leec_store_order_remove(other, "a.example", t2), LEEC_OK);
    sc_assert_no_order(s, "a.example");
    /* Another kind or name has tokens of its own; a plain lock is a grant
     * too. */
    assert_int_equal(Leec_store_lease(s, "account", "a.example", 60, &h3, &ta),
                     LEEC_OK);
    assert_true(ta > 0);
    assert_int_equal(Leec_store_fence(s, "cert", "a.example", t2), LEEC_OK);
    Leec_store_unlock(s, h3);
    Leec_store_unlock(other, h2);
    assert_int_equal(Leec_store_lock(s, "cert", "a.example", &h1), LEEC_OK);
    Leec_store_unlock(s, h1);
    assert_int_equal(Leec_store_lease(s, "cert", "a.example", 60, &h1, &t3),
                     LEEC_OK);
    assert_true(t3 > t2 + 1);
    Leec_store_unlock(s, h1);
    leec_store_free(other);
    sc_clean("a.example", 2);
}

/* A holder killed with its lease: the next one takes it at once. */
static void test_lease_of_dead_holder(void **state)
{
    sc_fixture *f = *state;
    int fds[2];
    uint64_t dead = 0, t = 0;
    void *h = NULL;
    if (!sc_abi2(f->s)) {
        skip();
        return;
    }
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        leec_store *other = B->again(B->ud);
        void *ch = NULL;
        uint64_t ct = 0;
        if (!other ||
            Leec_store_lease(other, "cert", "d.example", 600, &ch, &ct) !=
                LEEC_OK ||
            write(fds[1], &ct, sizeof ct) != (ssize_t)sizeof ct)
            _exit(1);
        raise(SIGKILL); /* no release */
        _exit(2);
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], &dead, sizeof dead), (ssize_t)sizeof dead);
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_true(dead > 0);
    assert_int_equal(Leec_store_lease(f->s, "cert", "d.example", 60, &h, &t),
                     LEEC_OK);
    assert_true(t > dead);
    Leec_store_unlock(f->s, h);
}

static void test_journal(void **state)
{
    sc_fixture *f = *state;
    leec_store *s = f->s;
    char **names = NULL;
    size_t n = 0;
    if (!sc_abi2(s)) {
        skip();
        return;
    }
    sc_assert_no_order(s, "a.example");
    assert_int_equal(leec_store_order_list(s, &names, &n), LEEC_OK);
    assert_int_equal(n, 0);
    assert_null(names);
    /* Written, replaced (the next step), seen by another store. */
    assert_int_equal(sc_order_write(s, "a.example", 1, 0), LEEC_OK);
    sc_assert_order(s, "a.example", 1);
    assert_int_equal(sc_order_write(s, "a.example", 2, 0), LEEC_OK);
    assert_int_equal(sc_order_write(s, "b.example", 3, 0), LEEC_OK);
    leec_store *other = B->again(B->ud);
    assert_non_null(other);
    sc_assert_order(other, "a.example", 2);
    sc_assert_order(other, "b.example", 3);
    assert_int_equal(leec_store_order_list(other, &names, &n), LEEC_OK);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "a.example");
    assert_string_equal(names[1], "b.example");
    leec_store_list_free(names, n);
    /* Not a certificate version: the list of certificates is apart. */
    sc_assert_list(s, 0);
    /* Removed (twice is no error). */
    assert_int_equal(Leec_store_order_remove(other, "a.example", 0), LEEC_OK);
    assert_int_equal(Leec_store_order_remove(other, "a.example", 0), LEEC_OK);
    sc_assert_no_order(s, "a.example");
    sc_assert_order(s, "b.example", 3);
    /* The key comes once chosen; then what a write needs. */
    sc_order t;
    leec_store_order o;
    sc_order_make(5, &t);
    t.o.key_pem = NULL;
    t.o.account_url = NULL;
    assert_int_equal(Leec_store_order_write(s, "a.example", 0, &t.o, true),
                     LEEC_OK);
    assert_int_equal(leec_store_order_read(s, "a.example", &o), LEEC_OK);
    assert_null(o.key_pem);
    assert_null(o.account_url);
    assert_string_equal(o.order_url, t.url);
    leec_store_order_clear(&o);
    assert_int_equal(Leec_store_order_remove(s, "a.example", 0), LEEC_OK);
    sc_order_make(5, &t);
    t.o.order_url = NULL;
    assert_int_equal(Leec_store_order_write(s, "a.example", 0, &t.o, true),
                     LEEC_E_INVALID_ARG);
    sc_order_make(5, &t);
    t.o.nnames = 0;
    assert_int_equal(Leec_store_order_write(s, "a.example", 0, &t.o, true),
                     LEEC_E_INVALID_ARG);
    sc_order_make(5, &t);
    assert_int_equal(Leec_store_order_write(s, "../x", 0, &t.o, true),
                     LEEC_E_INVALID_ARG);
    /* A reset takes the entry with the certificate, with a version or
     * without; a reset of everything takes them all. */
    assert_int_equal(leec_store_reset(s, "b.example"), LEEC_OK);
    sc_assert_no_order(other, "b.example");
    assert_int_equal(sc_install(s, "c.example", 1, NULL), LEEC_OK);
    assert_int_equal(sc_order_write(s, "c.example", 6, 0), LEEC_OK);
    assert_int_equal(leec_store_reset(s, "c.example"), LEEC_OK);
    sc_assert_no_order(s, "c.example");
    assert_int_equal(sc_order_write(s, "d.example", 7, 0), LEEC_OK);
    assert_int_equal(sc_order_write(s, "e.example", 8, 0), LEEC_OK);
    void *h = NULL;
    assert_int_equal(Leec_store_lock(other, "cert", "d.example", &h), LEEC_OK);
    assert_int_equal(leec_store_reset(s, NULL), LEEC_E_LOCKED);
    sc_assert_order(s, "d.example", 7);
    Leec_store_unlock(other, h);
    assert_int_equal(leec_store_reset(s, NULL), LEEC_OK);
    assert_int_equal(leec_store_order_list(s, &names, &n), LEEC_OK);
    assert_int_equal(n, 0);
    leec_store_free(other);
    sc_clean(NULL, 0);
}

/* The budget log: entries kept as given with their time, read from a
 * time on, oldest first, by another store too; old ones forgotten. */
static void test_budget_log(void **state)
{
    sc_fixture *f = *state;
    leec_store *s = f->s;
    char **e = NULL;
    int64_t *w = NULL;
    size_t n = 9;
    if (!Leec_store_has_budget(s)) {
        skip();
        return;
    }
    assert_int_equal(Leec_store_budget_read(s, "ca.budget", 0, &e, &w, &n),
                     LEEC_OK);
    assert_int_equal(n, 0);
    assert_null(e);
    assert_null(w);
    assert_int_equal(
        Leec_store_budget_add(s, "ca.budget", 2000, "{\"b\":2}", 0), LEEC_OK);
    assert_int_equal(
        Leec_store_budget_add(s, "ca.budget", 1000, "{\"a\":1}", 0), LEEC_OK);
    /* Two entries of one second both kept. */
    assert_int_equal(
        Leec_store_budget_add(s, "ca.budget", 3000, "{\"c\":3}", 0), LEEC_OK);
    assert_int_equal(
        Leec_store_budget_add(s, "ca.budget", 3000, "{\"c\":3}", 0), LEEC_OK);
    assert_int_equal(Leec_store_budget_add(s, "ca.other", 3000, "{}", 0),
                     LEEC_OK);
    leec_store *other = B->again(B->ud);
    assert_non_null(other);
    assert_int_equal(
        Leec_store_budget_read(other, "ca.budget", 1500, &e, &w, &n), LEEC_OK);
    assert_int_equal(n, 3);
    assert_int_equal(w[0], 2000);
    assert_string_equal(e[0], "{\"b\":2}");
    assert_int_equal(w[1], 3000);
    assert_int_equal(w[2], 3000);
    assert_string_equal(e[2], "{\"c\":3}");
    leec_store_list_free(e, n);
    free(w);
    /* Forgotten before 2500 (by the next add). */
    assert_int_equal(
        Leec_store_budget_add(s, "ca.budget", 4000, "{\"d\":4}", 2500),
        LEEC_OK);
    assert_int_equal(Leec_store_budget_read(other, "ca.budget", 0, &e, &w, &n),
                     LEEC_OK);
    assert_int_equal(n, 3);
    assert_int_equal(w[0], 3000);
    assert_int_equal(w[2], 4000);
    leec_store_list_free(e, n);
    free(w);
    /* What the library refuses before a backend sees it. */
    assert_int_equal(Leec_store_budget_add(s, "../x", 1, "{}", 0),
                     LEEC_E_INVALID_ARG);
    assert_int_equal(Leec_store_budget_add(s, "ca.budget", 1, "{}\n{}", 0),
                     LEEC_E_INVALID_ARG);
    assert_int_equal(Leec_store_budget_add(s, "ca.budget", 1, "", 0),
                     LEEC_E_INVALID_ARG);
    leec_store_free(other);
}

/* Names become keys (file names in the filesystem store): only the rule's
 * are taken, by every operation, before a backend sees them. */
static void test_names_refused(void **state)
{
    sc_fixture *f = *state;
    leec_store *s = f->s;
    char longest[201], too_long[202];
    memset(longest, 'a', 200);
    longest[200] = '\0';
    memset(too_long, 'a', 201);
    too_long[201] = '\0';
    const char *bad[] = {
        "",    ".",   "..",   "../x",          ".hidden",     "-rf",
        "a/b", "a b", "a\nb", "*.example.com", "caf\xc3\xa9", too_long,
        NULL};
    sc_text t;
    sc_make(1, &t);
    leec_store_new_version in = {.privkey = t.key, .cert = t.cert};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *n = bad[i];
        leec_store_version v;
        char *a = NULL, *b = NULL;
        void *h = NULL;
        assert_false(leec_store_name_valid(n));
        assert_int_equal(leec_store_install_version(s, n, &in, NULL),
                         LEEC_E_INVALID_ARG);
        assert_int_equal(leec_store_read_version(s, n, LEEC_PARTS_ALL, &v),
                         LEEC_E_INVALID_ARG);
        assert_int_equal(leec_store_read_part(s, n, LEEC_PART_CERT, &a, NULL),
                         LEEC_E_INVALID_ARG);
        assert_int_equal(Leec_store_renewal_write(s, n, 1, "{}"),
                         LEEC_E_INVALID_ARG);
        assert_int_equal(Leec_store_account_save(s, n, "k", "{}"),
                         LEEC_E_INVALID_ARG);
        assert_int_equal(Leec_store_account_load(s, n, &a, &b),
                         LEEC_E_INVALID_ARG);
        assert_int_equal(Leec_store_account_remove(s, n), LEEC_E_INVALID_ARG);
        assert_int_equal(Leec_store_lock(s, "cert", n, &h), LEEC_E_INVALID_ARG);
        assert_int_equal(Leec_store_lock(s, n, "a.example", &h),
                         LEEC_E_INVALID_ARG);
        assert_null(h);
        if (n)
            assert_int_equal(leec_store_reset(s, n), LEEC_E_INVALID_ARG);
    }
    /* The longest name is a name; a version needs a key and a leaf. */
    assert_int_equal(leec_store_install_version(s, longest, &in, NULL),
                     LEEC_OK);
    sc_assert_list(s, 1, longest);
    leec_store_new_version nokey = {.cert = t.cert},
                           noleaf = {.privkey = t.key};
    assert_int_equal(leec_store_install_version(s, "a.example", &nokey, NULL),
                     LEEC_E_INVALID_ARG);
    assert_int_equal(leec_store_install_version(s, "a.example", &noleaf, NULL),
                     LEEC_E_INVALID_ARG);
    assert_int_equal(leec_store_install_version(s, "a.example", NULL, NULL),
                     LEEC_E_INVALID_ARG);
    leec_store_version v;
    assert_int_equal(
        leec_store_read_version(s, longest, LEEC_PARTS_ALL << 1, &v),
        LEEC_E_INVALID_ARG);
    sc_assert_list(s, 1, longest);
    sc_clean("a.example", 0);
}

/* What is written is bounded (LEEC_STORE_PART_MAX), so that every record
 * can be read back. */
static void test_sizes_bounded(void **state)
{
    sc_fixture *f = *state;
    leec_store *s = f->s;
    size_t max = LEEC_STORE_PART_MAX;
    char *big = malloc(max + 2);
    char *text = NULL;
    size_t len = 0;
    assert_non_null(big);
    memset(big, 'A', max + 1);
    big[max + 1] = '\0';

    leec_store_new_version in = {.privkey = "k", .cert = big};
    assert_int_equal(leec_store_install_version(s, "big.example", &in, NULL),
                     LEEC_E_TOO_LARGE);
    in = (leec_store_new_version){.privkey = big, .cert = "c"};
    assert_int_equal(leec_store_install_version(s, "big.example", &in, NULL),
                     LEEC_E_TOO_LARGE);
    in =
        (leec_store_new_version){.privkey = "k", .cert = "c", .meta_json = big};
    assert_int_equal(leec_store_install_version(s, "big.example", &in, NULL),
                     LEEC_E_TOO_LARGE);
    sc_assert_none(s, "big.example");
    assert_int_equal(Leec_store_account_save(s, "ca.example", big, "{}"),
                     LEEC_E_TOO_LARGE);
    assert_int_equal(Leec_store_account_save(s, "ca.example", "k", big),
                     LEEC_E_TOO_LARGE);

    /* The largest part is kept and read back whole; a full chain made
     * larger by its chain is not. */
    big[max] = '\0';
    in = (leec_store_new_version){.privkey = "k", .cert = big};
    assert_int_equal(leec_store_install_version(s, "big.example", &in, NULL),
                     LEEC_OK);
    assert_int_equal(
        leec_store_read_part(s, "big.example", LEEC_PART_CERT, &text, &len),
        LEEC_OK);
    assert_int_equal(len, max);
    assert_memory_equal(text, big, max);
    free(text);
    in.chain = "i";
    assert_int_equal(leec_store_install_version(s, "big.example", &in, NULL),
                     LEEC_E_TOO_LARGE);
    uint64_t n = 0;
    leec_store_version v;
    assert_int_equal(leec_store_read_version(s, "big.example", 0, &v), LEEC_OK);
    n = v.number;
    assert_int_equal(Leec_store_renewal_write(s, "big.example", n, big),
                     LEEC_OK);
    big[max] = 'A';
    assert_int_equal(Leec_store_renewal_write(s, "big.example", n, big),
                     LEEC_E_TOO_LARGE);
    free(big);
    sc_clean("big.example", 1);
}

/* ------------------------------------------------------------------ */
/* A failure at every write                                            */
/* ------------------------------------------------------------------ */

#define SC_WRITES_MAX 10000 /* an operation that writes more never ends */

static bool sc_can_inject(void)
{
    return B->inject_arm && B->inject_disarm;
}

/* The first version of a certificate: after a failure, none (nothing
 * listed, nothing left); a following install succeeds. */
static void test_install_first_fails(void **state)
{
    sc_fixture *f = *state;
    leec_store *s = f->s;
    unsigned n = 1;
    if (!sc_can_inject()) {
        skip();
        return;
    }
    for (;; n++) {
        assert_true(n < SC_WRITES_MAX);
        uint64_t num = 0;
        B->inject_arm(B->ud, n);
        leec_code rc = sc_install(s, "new.example", 1, &num);
        bool fired = B->inject_disarm(B->ud);
        if (!fired) {
            assert_int_equal(rc, LEEC_OK);
            break;
        }
        if (rc == LEEC_OK) { /* the failure did not matter: all there */
            sc_assert_version(s, "new.example", 1, num);
            sc_assert_list(s, 1, "new.example");
            sc_clean("new.example", 1);
        } else {
            sc_assert_none(s, "new.example");
            sc_assert_list(s, 0);
            sc_clean("new.example", 0);
            assert_int_equal(sc_install(s, "new.example", 2, &num), LEEC_OK);
            sc_assert_version(s, "new.example", 2, num);
            sc_clean("new.example", 1);
        }
        assert_int_equal(leec_store_reset(s, "new.example"), LEEC_OK);
        sc_clean("new.example", 0);
    }
    sc_assert_version(s, "new.example", 1, 0);
    sc_clean("new.example", 1);
    print_message("    first install: %u writes, each failed once\n", n - 1);
}

/* A version over another: after a failure, the previous one is current
 * and whole and nothing of the new one is left; a following install
 * succeeds. */
static void test_install_next_fails(void **state)
{
    sc_fixture *f = *state;
    leec_store *s = f->s;
    uint64_t cur = 0;
    unsigned tag = 1, n = 1;
    size_t versions = 1;
    if (!sc_can_inject()) {
        skip();
        return;
    }
    assert_int_equal(sc_install(s, "next.example", tag, &cur), LEEC_OK);
    assert_int_equal(Leec_store_renewal_write(s, "next.example", cur, "{}"),
                     LEEC_OK);
    for (;; n++) {
        assert_true(n < SC_WRITES_MAX);
        uint64_t num = 0;
        B->inject_arm(B->ud, n);
        leec_code rc = sc_install(s, "next.example", 1000 + n, &num);
        bool fired = B->inject_disarm(B->ud);
        if (!fired) {
            assert_int_equal(rc, LEEC_OK);
            sc_assert_version(s, "next.example", 1000 + n, num);
            assert_true(num > cur);
            versions++;
            break;
        }
        if (rc == LEEC_OK) {
            sc_assert_version(s, "next.example", 1000 + n, num);
            assert_true(num > cur);
            cur = num;
            tag = 1000 + n;
            versions++;
        } else {
            sc_assert_version(s, "next.example", tag, cur);
            /* Its renewal state with it (only the first has one). */
            leec_store_version v;
            assert_int_equal(
                leec_store_read_version(s, "next.example",
                                        LEEC_PARTS(LEEC_PART_RENEWAL), &v),
                LEEC_OK);
            assert_true((tag == 1) == (v.text[LEEC_PART_RENEWAL] != NULL));
            leec_store_version_clear(&v);
            sc_assert_list(s, 1, "next.example");
            sc_clean("next.example", versions);
            tag = 2000 + n;
            assert_int_equal(sc_install(s, "next.example", tag, &num), LEEC_OK);
            sc_assert_version(s, "next.example", tag, num);
            assert_true(num > cur);
            cur = num;
            versions++;
        }
        sc_clean("next.example", versions);
    }
    sc_clean("next.example", versions);
    print_message("    install over a version: %u writes, each failed once\n",
                  n - 1);
}

/* An account replaced: its key and its document each old or new, never
 * the new document with the old key; a following save succeeds. */
static void test_account_save_fails(void **state)
{
    sc_fixture *f = *state;
    leec_store *s = f->s;
    char key[32] = "key-0", doc[32] = "{\"v\":0}";
    unsigned n = 1;
    if (!sc_can_inject()) {
        skip();
        return;
    }
    assert_int_equal(Leec_store_account_save(s, "ca.example", key, doc),
                     LEEC_OK);
    for (;; n++) {
        char nkey[32], ndoc[32], *k = NULL, *j = NULL;
        assert_true(n < SC_WRITES_MAX);
        snprintf(nkey, sizeof nkey, "key-%u", n);
        snprintf(ndoc, sizeof ndoc, "{\"v\":%u}", n);
        B->inject_arm(B->ud, n);
        leec_code rc = Leec_store_account_save(s, "ca.example", nkey, ndoc);
        bool fired = B->inject_disarm(B->ud);
        assert_int_equal(Leec_store_account_load(s, "ca.example", &k, &j),
                         LEEC_OK);
        if (!fired || rc == LEEC_OK) {
            assert_int_equal(rc, LEEC_OK);
            assert_string_equal(k, nkey);
            assert_string_equal(j, ndoc);
        } else {
            bool knew = strcmp(k, nkey) == 0, jnew = strcmp(j, ndoc) == 0;
            assert_true(knew || strcmp(k, key) == 0);
            assert_true(jnew || strcmp(j, doc) == 0);
            assert_true(knew || !jnew);
        }
        free(k);
        free(j);
        sc_clean(NULL, 0);
        if (!fired)
            break;
        snprintf(key, sizeof key, "key-again-%u", n);
        snprintf(doc, sizeof doc, "{\"again\":%u}", n);
        assert_int_equal(Leec_store_account_save(s, "ca.example", key, doc),
                         LEEC_OK);
    }
    print_message("    account save: %u writes, each failed once\n", n - 1);
}

/* An account removed: whole or gone; a following remove succeeds. */
static void test_account_remove_fails(void **state)
{
    sc_fixture *f = *state;
    leec_store *s = f->s;
    unsigned n = 1;
    if (!sc_can_inject()) {
        skip();
        return;
    }
    for (;; n++) {
        char *k = NULL, *j = NULL;
        assert_true(n < SC_WRITES_MAX);
        assert_int_equal(Leec_store_account_save(s, "ca.example", "k", "{}"),
                         LEEC_OK);
        B->inject_arm(B->ud, n);
        leec_code rc = Leec_store_account_remove(s, "ca.example");
        bool fired = B->inject_disarm(B->ud);
        leec_code lrc = Leec_store_account_load(s, "ca.example", &k, &j);
        if (!fired || rc == LEEC_OK) {
            assert_int_equal(rc, LEEC_OK);
            assert_int_equal(lrc, LEEC_E_NOT_FOUND);
        } else if (lrc == LEEC_OK) {
            assert_string_equal(k, "k");
            assert_string_equal(j, "{}");
        } else {
            assert_int_equal(lrc, LEEC_E_NOT_FOUND);
        }
        free(k);
        free(j);
        assert_int_equal(Leec_store_account_remove(s, "ca.example"), LEEC_OK);
        sc_clean(NULL, 0);
        if (!fired)
            break;
    }
    print_message("    account remove: %u writes, each failed once\n", n - 1);
}

/* Renewal state replaced: old or new, whole; a following write
 * succeeds. */
static void test_renewal_write_fails(void **state)
{
    sc_fixture *f = *state;
    leec_store *s = f->s;
    char old[32] = "{\"v\":0}";
    uint64_t num = 0;
    unsigned n = 1;
    if (!sc_can_inject()) {
        skip();
        return;
    }
    assert_int_equal(sc_install(s, "r.example", 1, &num), LEEC_OK);
    assert_int_equal(Leec_store_renewal_write(s, "r.example", num, old),
                     LEEC_OK);
    for (;; n++) {
        char json[32], *text = NULL;
        assert_true(n < SC_WRITES_MAX);
        snprintf(json, sizeof json, "{\"v\":%u}", n);
        B->inject_arm(B->ud, n);
        leec_code rc = Leec_store_renewal_write(s, "r.example", num, json);
        bool fired = B->inject_disarm(B->ud);
        assert_int_equal(leec_store_read_part(s, "r.example", LEEC_PART_RENEWAL,
                                              &text, NULL),
                         LEEC_OK);
        if (!fired || rc == LEEC_OK)
            assert_string_equal(text, json);
        else
            assert_true(strcmp(text, json) == 0 || strcmp(text, old) == 0);
        free(text);
        sc_assert_version(s, "r.example", 1, num);
        sc_clean("r.example", 1);
        if (!fired) {
            assert_int_equal(rc, LEEC_OK);
            break;
        }
        snprintf(old, sizeof old, "{\"again\":%u}", n);
        assert_int_equal(Leec_store_renewal_write(s, "r.example", num, old),
                         LEEC_OK);
    }
    print_message("    renewal state: %u writes, each failed once\n", n - 1);
}

/* A certificate reset: after a failure it is there whole (as before) or
 * gone, never a part of a version; a following reset succeeds and leaves
 * nothing. */
static void test_reset_fails(void **state)
{
    sc_fixture *f = *state;
    leec_store *s = f->s;
    unsigned n = 1;
    if (!sc_can_inject()) {
        skip();
        return;
    }
    for (;; n++) {
        uint64_t num = 0;
        assert_true(n < SC_WRITES_MAX);
        assert_int_equal(sc_install(s, "x.example", 1, NULL), LEEC_OK);
        assert_int_equal(sc_install(s, "x.example", 2, &num), LEEC_OK);
        assert_int_equal(sc_install(s, "y.example", 3, NULL), LEEC_OK);
        B->inject_arm(B->ud, n);
        leec_code rc = leec_store_reset(s, "x.example");
        bool fired = B->inject_disarm(B->ud);
        leec_store_version v;
        leec_code rrc = leec_store_read_version(s, "x.example", 0, &v);
        if (!fired || rc == LEEC_OK) {
            assert_int_equal(rc, LEEC_OK);
            assert_int_equal(rrc, LEEC_E_NOT_FOUND);
        } else if (rrc == LEEC_OK) {
            sc_assert_version(s, "x.example", 2, num);
            sc_assert_list(s, 2, "x.example", "y.example");
        } else {
            assert_int_equal(rrc, LEEC_E_NOT_FOUND);
        }
        if (rrc != LEEC_OK)
            sc_assert_list(s, 1, "y.example");
        sc_assert_version(s, "y.example", 3, 0);
        assert_int_equal(leec_store_reset(s, "x.example"), LEEC_OK);
        sc_assert_none(s, "x.example");
        sc_clean("x.example", 0);
        assert_int_equal(leec_store_reset(s, "y.example"), LEEC_OK);
        if (!fired)
            break;
    }
    print_message("    reset of a certificate: %u writes, each failed once\n",
                  n - 1);
}

/* Everything reset: each certificate and the account whole or gone; a
 * following reset succeeds and leaves nothing. */
static void test_reset_all_fails(void **state)
{
    sc_fixture *f = *state;
    leec_store *s = f->s;
    unsigned n = 1;
    if (!sc_can_inject()) {
        skip();
        return;
    }
    for (;; n++) {
        uint64_t nx = 0, ny = 0;
        char *k = NULL, *j = NULL;
        assert_true(n < SC_WRITES_MAX);
        assert_int_equal(sc_install(s, "x.example", 1, &nx), LEEC_OK);
        assert_int_equal(sc_install(s, "y.example", 2, &ny), LEEC_OK);
        assert_int_equal(Leec_store_account_save(s, "ca.example", "k", "{}"),
                         LEEC_OK);
        B->inject_arm(B->ud, n);
        leec_code rc = leec_store_reset(s, NULL);
        bool fired = B->inject_disarm(B->ud);
        const char *names[] = {"x.example", "y.example"};
        const uint64_t nums[] = {nx, ny};
        size_t left = 0;
        for (unsigned i = 0; i < 2; i++) {
            leec_store_version v;
            leec_code rrc = leec_store_read_version(s, names[i], 0, &v);
            if (rrc == LEEC_OK) {
                assert_true(fired && rc != LEEC_OK);
                sc_assert_version(s, names[i], i + 1, nums[i]);
                left++;
            } else {
                assert_int_equal(rrc, LEEC_E_NOT_FOUND);
            }
        }
        char **listed = NULL;
        size_t nl = 0;
        assert_int_equal(leec_store_list(s, &listed, &nl), LEEC_OK);
        assert_int_equal(nl, left);
        leec_store_list_free(listed, nl);
        leec_code arc = Leec_store_account_load(s, "ca.example", &k, &j);
        if (arc == LEEC_OK) {
            assert_true(fired && rc != LEEC_OK);
            assert_string_equal(k, "k");
            assert_string_equal(j, "{}");
        } else {
            assert_int_equal(arc, LEEC_E_NOT_FOUND);
        }
        free(k);
        free(j);
        assert_int_equal(leec_store_reset(s, NULL), LEEC_OK);
        sc_assert_list(s, 0);
        sc_clean("x.example", 0);
        sc_clean("y.example", 0);
        if (!fired) {
            assert_int_equal(rc, LEEC_OK);
            break;
        }
    }
    print_message("    reset of everything: %u writes, each failed once\n",
                  n - 1);
}

/* A lease granted or not after a failure, never held without a token nor
 * left held; tokens only grow. */
static void test_lease_fails(void **state)
{
    sc_fixture *f = *state;
    leec_store *s = f->s;
    uint64_t last = 0;
    unsigned n = 1;
    if (!sc_can_inject() || !sc_abi2(s)) {
        skip();
        return;
    }
    leec_store *other = B->again(B->ud);
    assert_non_null(other);
    for (;; n++) {
        void *h = NULL, *h2 = NULL;
        uint64_t t = 0, t2 = 0;
        assert_true(n < SC_WRITES_MAX);
        B->inject_arm(B->ud, n);
        leec_code rc = Leec_store_lease(s, "cert", "l.example", 60, &h, &t);
        bool fired = B->inject_disarm(B->ud);
        if (rc == LEEC_OK) {
            assert_non_null(h);
            assert_true(t > last);
            last = t;
            Leec_store_unlock(s, h);
        } else {
            assert_true(fired);
            assert_null(h);
            assert_int_equal(t, 0);
        }
        /* Not left held: another takes it, with a greater token. */
        assert_int_equal(
            Leec_store_lease(other, "cert", "l.example", 60, &h2, &t2),
            LEEC_OK);
        assert_true(t2 > last);
        last = t2;
        assert_int_equal(Leec_store_fence(s, "cert", "l.example", t2), LEEC_OK);
        Leec_store_unlock(other, h2);
        sc_clean(NULL, 0);
        if (!fired)
            break;
    }
    leec_store_free(other);
    print_message("    lease: %u writes, each failed once\n", n - 1);
}

/* A journal entry replaced, durably or not: the previous one or the new
 * one, whole; a removal: whole or gone. */
static void test_journal_write_fails(void **state)
{
    sc_fixture *f = *state;
    leec_store *s = f->s;
    unsigned n = 1, old = 1, writes[2] = {0, 0};
    if (!sc_can_inject() || !sc_abi2(s)) {
        skip();
        return;
    }
    assert_int_equal(sc_order_write(s, "j.example", old, 0), LEEC_OK);
    /* Even tags: written without durability; odd: durably. */
    for (unsigned mode = 0; mode < 2; mode++) {
        for (n = 1;; n++) {
            unsigned tag = 100 + 2 * n + mode;
            assert_true(n < SC_WRITES_MAX);
            B->inject_arm(B->ud, n);
            leec_code rc = sc_order_write(s, "j.example", tag, 0);
            bool fired = B->inject_disarm(B->ud);
            leec_store_order o;
            assert_int_equal(leec_store_order_read(s, "j.example", &o),
                             LEEC_OK);
            sc_order want;
            sc_order_make(tag, &want);
            bool is_new = strcmp(o.order_url, want.url) == 0;
            leec_store_order_clear(&o);
            if (rc == LEEC_OK || is_new)
                sc_assert_order(s, "j.example", tag);
            else
                sc_assert_order(s, "j.example", old);
            sc_clean(NULL, 0);
            if (!fired) {
                assert_int_equal(rc, LEEC_OK);
                old = tag;
                break;
            }
            old = 1000 + n;
            assert_int_equal(sc_order_write(s, "j.example", old, 0), LEEC_OK);
        }
        writes[mode] = n - 1;
    }
    for (n = 1;; n++) {
        assert_true(n < SC_WRITES_MAX);
        B->inject_arm(B->ud, n);
        leec_code rc = Leec_store_order_remove(s, "j.example", 0);
        bool fired = B->inject_disarm(B->ud);
        leec_store_order o;
        leec_code rrc = leec_store_order_read(s, "j.example", &o);
        leec_store_order_clear(&o);
        if (rc == LEEC_OK)
            assert_int_equal(rrc, LEEC_E_NOT_FOUND);
        else if (rrc == LEEC_OK)
            sc_assert_order(s, "j.example", old);
        else
            assert_int_equal(rrc, LEEC_E_NOT_FOUND);
        sc_clean(NULL, 0);
        if (!fired)
            break;
        assert_int_equal(sc_order_write(s, "j.example", old, 0), LEEC_OK);
    }
    print_message("    journal entry: %u writes (durable: %u), its removal %u, "
                  "each failed once\n",
                  writes[0], writes[1], n - 1);
}

int sc_run(const sc_backend *b)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty, sc_setup, sc_teardown),
        cmocka_unit_test_setup_teardown(test_install_round_trip, sc_setup,
                                        sc_teardown),
        cmocka_unit_test_setup_teardown(test_read_while_installing, sc_setup,
                                        sc_teardown),
        cmocka_unit_test_setup_teardown(test_list_and_reset, sc_setup,
                                        sc_teardown),
        cmocka_unit_test_setup_teardown(test_accounts, sc_setup, sc_teardown),
        cmocka_unit_test_setup_teardown(test_renewal_state, sc_setup,
                                        sc_teardown),
        cmocka_unit_test_setup_teardown(test_tokens, sc_setup, sc_teardown),
        cmocka_unit_test_setup_teardown(test_locks, sc_setup, sc_teardown),
        cmocka_unit_test_setup_teardown(test_names_refused, sc_setup,
                                        sc_teardown),
        cmocka_unit_test_setup_teardown(test_sizes_bounded, sc_setup,
                                        sc_teardown),
        cmocka_unit_test_setup_teardown(test_install_first_fails, sc_setup,
                                        sc_teardown),
        cmocka_unit_test_setup_teardown(test_install_next_fails, sc_setup,
                                        sc_teardown),
        cmocka_unit_test_setup_teardown(test_account_save_fails, sc_setup,
                                        sc_teardown),
        cmocka_unit_test_setup_teardown(test_account_remove_fails, sc_setup,
                                        sc_teardown),
        cmocka_unit_test_setup_teardown(test_renewal_write_fails, sc_setup,
                                        sc_teardown),
        cmocka_unit_test_setup_teardown(test_reset_fails, sc_setup,
                                        sc_teardown),
        cmocka_unit_test_setup_teardown(test_reset_all_fails, sc_setup,
                                        sc_teardown),
        cmocka_unit_test_setup_teardown(test_leases, sc_setup, sc_teardown),
        cmocka_unit_test_setup_teardown(test_lease_of_dead_holder, sc_setup,
                                        sc_teardown),
        cmocka_unit_test_setup_teardown(test_journal, sc_setup, sc_teardown),
        cmocka_unit_test_setup_teardown(test_budget_log, sc_setup, sc_teardown),
        cmocka_unit_test_setup_teardown(test_lease_fails, sc_setup,
                                        sc_teardown),
        cmocka_unit_test_setup_teardown(test_journal_write_fails, sc_setup,
                                        sc_teardown),
    };
    B = b;
    return _cmocka_run_group_tests(b->name, tests, sizeof tests / sizeof *tests,
                                   NULL, NULL);
}
