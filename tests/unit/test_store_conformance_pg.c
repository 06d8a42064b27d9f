/* The PostgreSQL store (lib/store/store_pg.c): the store conformance suite
 * (store_conformance.c) with a failure injected at every statement, then
 * what only a shared store does: sealing at rest, leases on the database's
 * clock with fencing, claims, schedules and wanted certificates, change
 * notifications, a reconnection after the server restarted.
 *
 * Needs a server: LEEC_TEST_PG (a libpq connection string, one of a
 * throwaway database: every test makes and drops a schema of its own);
 * python3 tests/pg_env.py run -- THIS starts one. Without it: skipped (77).
 *
 * The injection is the linker's, as for the filesystem store: libpq's
 * PQexec and PQexecParams are wrapped (-Wl,--wrap), and the n-th statement
 * after inject_arm fails as one the server could not be sent (NULL), so
 * the library holds no injection code. */
#define _GNU_SOURCE

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "store_conformance.h"
#include "testutil.h"
#include "store/store.h"

/* ------------------------------------------------------------------ */
/* The wrapped statements                                              */
/* ------------------------------------------------------------------ */

static unsigned inj_at;    /* the statement that fails (0: none) */
static unsigned inj_count; /* statements since inject_arm */
static bool inj_fired;

static bool inj_fail(void)
{
    if (!inj_at || ++inj_count != inj_at)
        return false;
    inj_fired = true;
    return true;
}

PGresult *__real_PQexec(PGconn *c, const char *q);
PGresult *__wrap_PQexec(PGconn *c, const char *q);
PGresult *__wrap_PQexec(PGconn *c, const char *q)
{
    return inj_fail() ? NULL : __real_PQexec(c, q);
}

PGresult *__real_PQexecParams(PGconn *c, const char *q, int n, const Oid *t,
                              const char *const *v, const int *l, const int *f,
                              int rf);
PGresult *__wrap_PQexecParams(PGconn *c, const char *q, int n, const Oid *t,
                              const char *const *v, const int *l, const int *f,
                              int rf);
PGresult *__wrap_PQexecParams(PGconn *c, const char *q, int n, const Oid *t,
                              const char *const *v, const int *l, const int *f,
                              int rf)
{
    return inj_fail() ? NULL : __real_PQexecParams(c, q, n, t, v, l, f, rf);
}

/* ------------------------------------------------------------------ */
/* The factory: a schema per fresh store                               */
/* ------------------------------------------------------------------ */

typedef struct pg_factory {
    const char *base; /* LEEC_TEST_PG */
    PGconn *admin;    /* for making schemas and looking at rows */
    char *dir;        /* the master keys */
    char *key, *key2; /* two master key files */
    char schema[64];
    char *conninfo; /* base with the schema as search_path */
    unsigned serial;
} pg_factory;

static pg_factory F;

static void admin_do(const char *sql)
{
    PGresult *r = PQexec(F.admin, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK &&
        PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(F.admin));
    PQclear(r);
}

static void admin_dof(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static void admin_dof(const char *fmt, ...)
{
    char *sql = NULL;
    va_list ap;
    va_start(ap, fmt);
    assert_true(vasprintf(&sql, fmt, ap) > 0);
    va_end(ap);
    admin_do(sql);
    free(sql);
}

/* One value of a query on the current schema, or NULL (malloc'd). */
static char *admin_value(const char *sql)
{
    PGresult *r = PQexec(F.admin, sql);
    char *v = NULL;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(F.admin));
    if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        v = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static char *write_key(const char *name, mode_t mode)
{
    unsigned char k[32];
    char hex[65], *path = NULL;
    FILE *f = fopen("/dev/urandom", "rb");
    assert_non_null(f);
    assert_int_equal(fread(k, 1, sizeof k, f), sizeof k);
    fclose(f);
    for (size_t i = 0; i < sizeof k; i++)
        snprintf(hex + 2 * i, 3, "%02x", k[i]);
    assert_true(asprintf(&path, "%s/%s", F.dir, name) > 0);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%s\n", hex);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

static leec_store *open_with(const char *key, const char *old, leec_code *rc,
                             char **why)
{
    leec_store_pg_options o = {.key_file = key, .old_key_file = old};
    return leec_store_pg_open(F.conninfo, &o, rc, why);
}

static leec_store *pg_again(void *ud)
{
    (void)ud;
    leec_code rc = LEEC_OK;
    char *why = NULL;
    leec_store *s = open_with(F.key, NULL, &rc, &why);
    if (!s)
        print_error("leec_store_pg_open: %s: %s\n", leec_strerror(rc),
                    why ? why : "");
    free(why);
    return s;
}

static leec_store *pg_fresh(void *ud)
{
    snprintf(F.schema, sizeof F.schema, "leec_t%ld_%u", (long)getpid(),
             ++F.serial);
    admin_dof("DROP SCHEMA IF EXISTS %s CASCADE", F.schema);
    admin_dof("CREATE SCHEMA %s", F.schema);
    admin_dof("SET search_path = %s", F.schema);
    free(F.conninfo);
    F.conninfo = NULL;
    assert_true(asprintf(&F.conninfo, "%s options='-csearch_path=%s'", F.base,
                         F.schema) > 0);
    return pg_again(ud);
}

static void pg_wipe(void *ud)
{
    (void)ud;
    if (F.schema[0])
        admin_dof("DROP SCHEMA IF EXISTS %s CASCADE", F.schema);
    F.schema[0] = '\0';
}

static void pg_inject_arm(void *ud, unsigned n)
{
    (void)ud;
    inj_count = 0;
    inj_fired = false;
    inj_at = n;
}

static bool pg_inject_disarm(void *ud)
{
    (void)ud;
    inj_at = 0;
    return inj_fired;
}

/* After a failure: exactly versions whole versions of name, the current
 * one among them, and nothing half written anywhere (a transaction leaves
 * no temporary; the rows are checked against each other). */
static void pg_assert_clean(void *ud, const char *name, size_t versions)
{
    (void)ud;
    char *v = admin_value("SELECT count(*) FROM leec_certs c WHERE current IS "
                          "NOT NULL AND NOT EXISTS (SELECT 1 FROM "
                          "leec_versions v WHERE v.name = c.name AND "
                          "v.number = c.current)");
    assert_string_equal(v, "0");
    free(v);
    if (!name)
        return;
    char *q = NULL;
    assert_true(asprintf(&q,
                         "SELECT count(*) FROM leec_versions WHERE name = "
                         "'%s'",
                         name) > 0);
    v = admin_value(q);
    free(q);
    char want[24];
    snprintf(want, sizeof want, "%zu", versions);
    assert_string_equal(v, want);
    free(v);
}

/* ------------------------------------------------------------------ */
/* What only the PostgreSQL store does                                 */
/* ------------------------------------------------------------------ */

static const char *const KEY1 =
    "-----BEGIN PRIVATE KEY-----\nsecret-one\n-----END PRIVATE KEY-----\n";
static const char *const KEY2 =
    "-----BEGIN PRIVATE KEY-----\nsecret-two\n-----END PRIVATE KEY-----\n";

/* A leaf valid from 2026-11-22 to 2036-11-19 (tests/unit/test_der.c's). */
static const char leaf_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBeTCCAR+gAwIBAgIFAIdlQyEwCgYIKoZIzj0EAwIwFjEUMBIGA1UEAwwLYXJp\n"
    "LXRlc3QtY2EwHhcNMjYxMTIyMDkwNzE5WhcNMzYxMTE5MDkwNzE5WjAWMRQwEgYD\n"
    "VQQDDAthcmkuZXhhbXBsZTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABNuVBOMm\n"
    "KTMfFdei7FZGt+qz3Rl9ag5PkiAHg4iCQ2vGDTutdF26qIk73ZaPNw8WenAeS4OG\n"
    "tXLMMyACLdl7XrOjWjBYMB8GA1UdIwQYMBaAFGmIW2uHRkBB4bN7hHugrizeAcjU\n"
    "MBYGA1UdEQQPMA2CC2FyaS5leGFtcGxlMB0GA1UdDgQWBBRNsUrwN0rt/MDAsvXN\n"
    "gU1m/srT7zAKBggqhkjOPQQDAgNIADBFAiEA5QYf5GlYnXSjxI2aajlLaQlLvPoz\n"
    "l8ga+rjfnlyb6/ICIEq3N3M7NwFx5PdASOmqtIFBv8ltfCL00hcai/y0N7q4\n"
    "-----END CERTIFICATE-----\n";

static leec_code install(leec_store *s, const char *name, const char *key)
{
    leec_store_new_version in = {
        .privkey = key,
        .cert =
            "-----BEGIN CERTIFICATE-----\nleaf\n-----END CERTIFICATE-----\n",
        .chain = "",
        .meta_json = "{\"names\":[\"x\"]}"};
    return leec_store_install_version(s, name, &in, NULL);
}

static char *order_entry(const char *key)
{
    char *e = NULL;
    assert_true(asprintf(&e, "{\"key\":\"%s\"}", key) > 0);
    return e;
}

static int setup(void **state)
{
    leec_store *s = pg_fresh(NULL);
    *state = s;
    return s ? 0 : -1;
}

static int teardown(void **state)
{
    leec_store_free(*state);
    pg_wipe(NULL);
    return 0;
}

/* Every text of every table, as pg_dump would print it. */
static void assert_dump_clear(void)
{
    PGresult *cols =
        PQexec(F.admin, "SELECT table_name, column_name FROM "
                        "information_schema.columns WHERE table_schema = "
                        "current_schema() ORDER BY 1, 2");
    assert_int_equal(PQresultStatus(cols), PGRES_TUPLES_OK);
    assert_true(PQntuples(cols) > 20);
    for (int i = 0; i < PQntuples(cols); i++) {
        char *q = NULL;
        assert_true(asprintf(&q,
                             "SELECT count(*) FROM %s WHERE %s::text LIKE "
                             "'%%PRIVATE KEY%%' OR %s::text LIKE '%%secret-%%'",
                             PQgetvalue(cols, i, 0), PQgetvalue(cols, i, 1),
                             PQgetvalue(cols, i, 1)) > 0);
        char *n = admin_value(q);
        if (strcmp(n, "0") != 0)
            fail_msg("%s.%s holds a key in clear", PQgetvalue(cols, i, 0),
                     PQgetvalue(cols, i, 1));
        free(n);
        free(q);
    }
    PQclear(cols);
}

static void test_sealed_at_rest(void **state)
{
    leec_store *s = *state;
    char *k = NULL, *doc = NULL, *e1 = order_entry(KEY1),
         *e2 = order_entry(KEY2);
    assert_int_equal(install(s, "a.example", KEY1), LEEC_OK);
    assert_int_equal(install(s, "b.example", KEY2), LEEC_OK);
    assert_int_equal(Leec_store_account_save(s, "ca1", KEY1, "{}"), LEEC_OK);
    assert_int_equal(Leec_store_account_save(s, "ca2", KEY2, "{}"), LEEC_OK);
    const leec_store_ops *ops = Leec_store_ops(s);
    assert_int_equal(ops->journal_write(s, "a.example", 0, e1, true), LEEC_OK);
    assert_int_equal(ops->journal_write(s, "b.example", 0, e2, true), LEEC_OK);
    assert_dump_clear();

    /* Swapped between two rows: refused, never the other's key. */
    admin_do("UPDATE leec_versions v SET privkey_sealed = o.privkey_sealed "
             "FROM leec_versions o WHERE v.name = 'a.example' AND o.name = "
             "'b.example'");
    leec_store_version v;
    assert_int_equal(
        leec_store_read_version(s, "a.example", LEEC_PARTS_ALL, &v),
        LEEC_E_STORE);
    assert_null(v.text[LEEC_PART_PRIVKEY]);
    assert_non_null(strstr(leec_store_errmsg(s), "private key"));
    /* The parts in clear are still read without the key. */
    assert_int_equal(
        leec_store_read_version(s, "a.example", LEEC_PARTS(LEEC_PART_CERT), &v),
        LEEC_OK);
    leec_store_version_clear(&v);
    /* A version number changed: bound to its number too. */
    admin_do("UPDATE leec_versions SET number = 7 WHERE name = 'b.example'");
    admin_do("UPDATE leec_certs SET current = 7 WHERE name = 'b.example'");
    assert_int_equal(
        leec_store_read_version(s, "b.example", LEEC_PARTS_ALL, &v),
        LEEC_E_STORE);

    admin_do("UPDATE leec_accounts a SET key_sealed = o.key_sealed FROM "
             "leec_accounts o WHERE a.ca_id = 'ca1' AND o.ca_id = 'ca2'");
    assert_int_equal(Leec_store_account_load(s, "ca1", &k, &doc), LEEC_E_STORE);
    assert_null(k);
    assert_int_equal(Leec_store_account_load(s, "ca2", &k, &doc), LEEC_OK);
    assert_string_equal(k, KEY2);
    free(k);
    free(doc);

    admin_do("UPDATE leec_journal j SET entry_sealed = o.entry_sealed FROM "
             "leec_journal o WHERE j.name = 'a.example' AND o.name = "
             "'b.example'");
    char *entry = NULL;
    assert_int_equal(ops->journal_read(s, "a.example", &entry), LEEC_E_STORE);
    assert_null(entry);
    /* One bit altered. */
    admin_do("UPDATE leec_journal SET entry_sealed = left(entry_sealed, -2) "
             "|| CASE WHEN right(entry_sealed, 2) = 'AA' THEN 'AB' ELSE 'AA' "
             "END WHERE name = 'b.example'");
    assert_int_equal(ops->journal_read(s, "b.example", &entry), LEEC_E_STORE);
    free(e1);
    free(e2);
}

/* What is read is bounded too, whatever another writer put there. */
static void test_reads_bounded(void **state)
{
    leec_store *s = *state;
    char *text = NULL, *k = NULL, *doc = NULL;
    assert_int_equal(install(s, "a.example", KEY1), LEEC_OK);
    assert_int_equal(Leec_store_account_save(s, "ca1", KEY1, "{}"), LEEC_OK);
    /* The schema refuses a part too large... */
    PGresult *r = PQexec(F.admin, "UPDATE leec_versions SET cert = "
                                  "repeat('A', 1048577)");
    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
    PQclear(r);
    /* ...and without its checks, the reader does. */
    admin_do(
        "ALTER TABLE leec_versions DROP CONSTRAINT leec_versions_cert_check");
    admin_do("ALTER TABLE leec_accounts DROP CONSTRAINT "
             "leec_accounts_account_json_check");
    admin_do("UPDATE leec_versions SET cert = repeat('A', 1048577)");
    admin_do("UPDATE leec_accounts SET account_json = repeat('A', 1048577)");
    assert_int_equal(
        leec_store_read_part(s, "a.example", LEEC_PART_CERT, &text, NULL),
        LEEC_E_TOO_LARGE);
    assert_null(text);
    assert_int_equal(
        leec_store_read_part(s, "a.example", LEEC_PART_PRIVKEY, &text, NULL),
        LEEC_OK);
    free(text);
    assert_int_equal(Leec_store_account_load(s, "ca1", &k, &doc),
                     LEEC_E_TOO_LARGE);
    assert_null(k);
    assert_null(doc);
}

static void test_rekey(void **state)
{
    leec_store *s = *state, *t = NULL;
    leec_code rc = LEEC_OK;
    char *why = NULL, *k = NULL, *doc = NULL, *e = order_entry(KEY1);
    size_t count = 9;
    assert_int_equal(install(s, "a.example", KEY1), LEEC_OK);
    assert_int_equal(install(s, "a.example", KEY2), LEEC_OK);
    assert_int_equal(Leec_store_account_save(s, "ca1", KEY1, "{}"), LEEC_OK);
    assert_int_equal(
        Leec_store_ops(s)->journal_write(s, "a.example", 0, e, true), LEEC_OK);
    /* Nothing to seal again with the same key. */
    assert_int_equal(leec_store_rekey(s, &count), LEEC_OK);
    assert_int_equal(count, 0);
    /* Only the new key: what the old one sealed is refused, with why, as
     * a wrong key (never as damage, which a new version would replace). */
    assert_non_null(t = open_with(F.key2, NULL, &rc, &why));
    assert_int_equal(Leec_store_account_load(t, "ca1", &k, &doc),
                     LEEC_E_BAD_KEY);
    assert_non_null(strstr(leec_store_errmsg(t), "old"));
    leec_store_free(t);
    /* New and old: read, then sealed again with the new one. */
    assert_non_null(t = open_with(F.key2, F.key, &rc, &why));
    assert_int_equal(Leec_store_account_load(t, "ca1", &k, &doc), LEEC_OK);
    assert_string_equal(k, KEY1);
    free(k);
    free(doc);
    assert_int_equal(leec_store_rekey(t, &count), LEEC_OK);
    assert_int_equal(count, 4); /* an account, two versions, an entry */
    assert_int_equal(leec_store_rekey(t, &count), LEEC_OK);
    assert_int_equal(count, 0);
    leec_store_free(t);
    /* The new key alone now opens everything. */
    assert_non_null(t = open_with(F.key2, NULL, &rc, &why));
    assert_int_equal(Leec_store_account_load(t, "ca1", &k, &doc), LEEC_OK);
    assert_string_equal(k, KEY1);
    free(k);
    free(doc);
    char *text = NULL;
    assert_int_equal(
        leec_store_read_part(t, "a.example", LEEC_PART_PRIVKEY, &text, NULL),
        LEEC_OK);
    assert_string_equal(text, KEY2);
    free(text);
    char *entry = NULL;
    assert_int_equal(Leec_store_ops(t)->journal_read(t, "a.example", &entry),
                     LEEC_OK);
    assert_string_equal(entry, e);
    free(entry);
    leec_store_free(t);
    /* And the old one alone no more. */
    assert_int_equal(
        leec_store_read_part(s, "a.example", LEEC_PART_PRIVKEY, &text, NULL),
        LEEC_E_BAD_KEY);
    assert_dump_clear();
    free(e);
}

static void test_keys_refused(void **state)
{
    (void)state;
    leec_code rc = LEEC_OK;
    char *why = NULL;
    char *open_key = write_key("open.key", 0644);
    assert_null(open_with(open_key, NULL, &rc, &why));
    assert_int_equal(rc, LEEC_E_BAD_KEY);
    assert_non_null(why);
    assert_non_null(strstr(why, "open.key"));
    free(why);
    why = NULL;
    /* No key at all: where to give one. */
    char *cred = getenv("CREDENTIALS_DIRECTORY");
    unsetenv("CREDENTIALS_DIRECTORY");
    assert_null(open_with(NULL, NULL, &rc, &why));
    assert_int_equal(rc, LEEC_E_BAD_KEY);
    assert_non_null(why);
    assert_non_null(strstr(why, "--store-key"));
    assert_non_null(strstr(why, "CREDENTIALS_DIRECTORY"));
    free(why);
    why = NULL;
    /* systemd's credentials. */
    char *p = NULL;
    assert_true(asprintf(&p, "%s/leec-store-key", F.dir) > 0);
    unlink(p);
    assert_int_equal(link(F.key, p), 0);
    setenv("CREDENTIALS_DIRECTORY", F.dir, 1);
    leec_store *s = open_with(NULL, NULL, &rc, &why);
    assert_non_null(s);
    leec_store_free(s);
    unlink(p);
    free(p);
    if (cred)
        setenv("CREDENTIALS_DIRECTORY", cred, 1);
    else
        unsetenv("CREDENTIALS_DIRECTORY");
    /* A schema newer than this library. */
    admin_do("INSERT INTO leec_schema (version) VALUES (999)");
    assert_null(open_with(F.key, NULL, &rc, &why));
    assert_int_equal(rc, LEEC_E_STORE);
    assert_non_null(why);
    assert_non_null(strstr(why, "newer"));
    free(why);
    admin_do("DELETE FROM leec_schema WHERE version = 999");
    free(open_key);
    /* No server there: an I/O error that says so, soon. */
    leec_store_pg_options o = {.key_file = F.key};
    assert_null(
        leec_store_pg_open("host=127.0.0.1 port=1 dbname=x", &o, &rc, &why));
    assert_int_equal(rc, LEEC_E_IO);
    assert_non_null(why);
    assert_non_null(strstr(why, "cannot connect"));
    free(why);
}

/* Nodes opening a new database at the same moment: one creates the
 * schema, the others wait for it and find it made. */
static void test_schema_made_once(void **state)
{
    (void)state;
    enum { NODES = 4 };
    pid_t pid[NODES];
    admin_dof("DROP SCHEMA %s CASCADE", F.schema);
    admin_dof("CREATE SCHEMA %s", F.schema);
    fflush(NULL);
    for (int i = 0; i < NODES; i++) {
        pid[i] = fork();
        assert_true(pid[i] >= 0);
        if (pid[i] == 0) {
            leec_store *s = pg_again(NULL);
            int bad = !s || install(s, "m.example", KEY1) != LEEC_OK;
            leec_store_free(s);
            _exit(bad);
        }
    }
    for (int i = 0; i < NODES; i++) {
        int status = 0;
        assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    char *v = admin_value("SELECT string_agg(version::text, ',') FROM "
                          "leec_schema");
    assert_string_equal(v, "1,2");
    free(v);
    v = admin_value("SELECT max(number) FROM leec_versions");
    assert_string_equal(v, "4");
    free(v);
}

static void test_lease_expiry_fences(void **state)
{
    leec_store *a = *state, *b = pg_again(NULL);
    void *ha = NULL, *hb = NULL;
    uint64_t ta = 0, tb = 0;
    assert_non_null(b);
    assert_int_equal(install(a, "x.example", KEY1), LEEC_OK);
    assert_int_equal(Leec_store_lease(a, "cert", "x.example", 1, &ha, &ta),
                     LEEC_OK);
    assert_int_equal(Leec_store_lease(b, "cert", "x.example", 60, &hb, &tb),
                     LEEC_E_LOCKED);
    /* Who holds it: this process, on this host. */
    char *who = Leec_store_holder_text(b, "cert", "x.example");
    char me[32];
    snprintf(me, sizeof me, "PID %ld", (long)getpid());
    assert_string_equal(who, me);
    free(who);
    /* The heartbeat keeps it past its first second. */
    assert_int_equal(leec_store_heartbeat(a, 60), LEEC_OK);
    usleep(1200 * 1000);
    assert_int_equal(Leec_store_lease(b, "cert", "x.example", 60, &hb, &tb),
                     LEEC_E_LOCKED);
    assert_int_equal(Leec_store_fence(a, "cert", "x.example", ta), LEEC_OK);
    /* Not renewed, a lease ends at its expiry, by the database's clock. */
    void *hc = NULL, *hd = NULL;
    uint64_t tc = 0, td = 0;
    assert_int_equal(Leec_store_lease(a, "cert", "y.example", 1, &hc, &tc),
                     LEEC_OK);
    assert_int_equal(Leec_store_lease(b, "cert", "y.example", 60, &hd, &td),
                     LEEC_E_LOCKED);
    usleep(1300 * 1000);
    assert_int_equal(Leec_store_lease(b, "cert", "y.example", 60, &hd, &td),
                     LEEC_OK);
    assert_true(td > tc);
    assert_int_equal(Leec_store_fence(a, "cert", "y.example", tc),
                     LEEC_E_FENCED);
    /* a's heartbeat tells it; its unlock leaves b's lease alone. */
    assert_int_equal(leec_store_heartbeat(a, 60), LEEC_E_FENCED);
    Leec_store_unlock(a, hc);
    assert_int_equal(Leec_store_fence(b, "cert", "y.example", td), LEEC_OK);
    Leec_store_unlock(b, hd);
    /* Expired by the database's clock (as if a was stopped a minute). */
    admin_do("UPDATE leec_leases SET expires = now() - interval '1 second'");
    assert_int_equal(Leec_store_fence(a, "cert", "x.example", ta),
                     LEEC_E_FENCED);
    assert_int_equal(Leec_store_lease(b, "cert", "x.example", 60, &hb, &tb),
                     LEEC_OK);
    assert_true(tb > ta);
    /* a's writes are refused in their own transaction, even those that
     * present no token: the backend knows which lease a holds. */
    assert_int_equal(Leec_store_fence(a, "cert", "x.example", ta),
                     LEEC_E_FENCED);
    assert_int_equal(install(a, "x.example", KEY2), LEEC_E_FENCED);
    char *e = order_entry(KEY2);
    assert_int_equal(
        Leec_store_ops(a)->journal_write(a, "x.example", ta, e, true),
        LEEC_E_FENCED);
    assert_int_equal(
        Leec_store_ops(a)->journal_write(a, "x.example", 0, e, false),
        LEEC_E_FENCED);
    /* Under a handle still out, the schedule waits for the unlock's
     * statement, which checks the lease (below). */
    assert_int_equal(leec_store_schedule(a, "x.example", 1, ta), LEEC_OK);
    assert_int_equal(Leec_store_renewal_write(a, "x.example", 1, "{}"),
                     LEEC_E_FENCED);
    char *n = admin_value("SELECT count(*) FROM leec_versions");
    assert_string_equal(n, "1");
    free(n);
    assert_int_equal(leec_store_heartbeat(a, 60), LEEC_E_FENCED);
    assert_int_equal(leec_store_heartbeat(a, 60), LEEC_OK); /* forgotten */
    /* b writes under its lease; a's unlock leaves b's lease alone. */
    assert_int_equal(
        Leec_store_ops(b)->journal_write(b, "x.example", tb, e, true), LEEC_OK);
    assert_int_equal(install(b, "x.example", KEY2), LEEC_OK);
    Leec_store_unlock(a, ha);
    assert_int_equal(Leec_store_fence(b, "cert", "x.example", tb), LEEC_OK);
    n = admin_value("SELECT next_check = to_timestamp(1) FROM leec_certs"
                    " WHERE name = 'x.example'");
    assert_string_equal(n, "f"); /* a's kept-back schedule: refused */
    free(n);
    /* Without a handle out, refused at once. */
    assert_int_equal(leec_store_schedule(a, "x.example", 1, ta), LEEC_E_FENCED);
    /* reset respects a live lease of another. */
    assert_int_equal(leec_store_reset(a, "x.example"), LEEC_E_LOCKED);
    assert_int_equal(leec_store_reset(a, NULL), LEEC_E_LOCKED);
    Leec_store_unlock(b, hb);
    assert_int_equal(leec_store_reset(a, "x.example"), LEEC_OK);
    free(e);
    leec_store_free(b);
}

/* ---- writes that do not wait ---- */

typedef struct async_res {
    int calls;
    leec_code rc;
} async_res;

static void async_done(void *ud, leec_code rc)
{
    async_res *r = ud;
    r->calls++;
    r->rc = rc;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1e6;
}

/* The loop a program runs: waits on the store's descriptor for at most
 * ms, hands over what came. Returns when done is true or the time is up. */
static void pump(leec_store *s, const bool *done, int ms)
{
    double end = now_ms() + ms;
    while (!*done && now_ms() < end) {
        short ev = 0;
        int fd = Leec_store_async_fd(s, &ev);
        if (fd >= 0) {
            struct pollfd pfd = {fd, ev, 0};
            (void)poll(&pfd, 1, 50);
        } else {
            usleep(10 * 1000);
        }
        Leec_store_async_perform(s);
    }
}

static void test_async_writes(void **state)
{
    leec_store *s = *state, *b = pg_again(NULL);
    void *h = NULL;
    uint64_t t = 0;
    assert_non_null(b);
    assert_true(Leec_store_has_async(s));
    assert_int_equal(install(s, "x.example", KEY1), LEEC_OK);
    assert_int_equal(Leec_store_lease(s, "cert", "x.example", 60, &h, &t),
                     LEEC_OK);
    leec_store_order o = {.order_url = "https://ca.example/order/1",
                          .ca_id = "ca",
                          .names = (char *[]){"x.example"},
                          .nnames = 1,
                          .step = "ordered"};
    async_res j = {0}, k = {0}, f = {0};
    bool jdone = false;
    /* Sent, answered later: never from within the call. */
    assert_int_equal(Leec_store_order_write_async(s, "x.example", t, &o, true,
                                                  async_done, &j),
                     LEEC_OK);
    assert_int_equal(Leec_store_token_put_async(s, "tok-A_1", "tok-A_1.thumb",
                                                async_done, &k),
                     LEEC_OK);
    /* A token another lease holds: refused, as journal_write would. */
    assert_int_equal(Leec_store_order_write_async(s, "x.example", t + 1000, &o,
                                                  false, async_done, &f),
                     LEEC_OK);
    assert_int_equal(j.calls + k.calls + f.calls, 0);
    bool *all = &jdone;
    for (int i = 0; i < 200 && !(j.calls && k.calls && f.calls); i++)
        pump(s, all, 20);
    assert_int_equal(j.calls, 1);
    assert_int_equal(j.rc, LEEC_OK);
    assert_int_equal(k.calls, 1);
    assert_int_equal(k.rc, LEEC_OK);
    assert_int_equal(f.calls, 1);
    assert_int_equal(f.rc, LEEC_E_FENCED);
    leec_store_order back;
    assert_int_equal(leec_store_order_read(b, "x.example", &back), LEEC_OK);
    assert_string_equal(back.order_url, "https://ca.example/order/1");
    leec_store_order_clear(&back);
    char *ka = NULL;
    assert_int_equal(Leec_store_token_get(b, "tok-A_1", &ka), LEEC_OK);
    assert_string_equal(ka, "tok-A_1.thumb");
    free(ka);

    /* The database holds the lease row (another transaction): the write
     * waits there, not in the call, nor in async_perform. */
    admin_do("BEGIN");
    admin_do("SELECT 1 FROM leec_leases WHERE name = 'x.example' FOR UPDATE");
    async_res w = {0}, y = {0};
    double t0 = now_ms();
    assert_int_equal(Leec_store_order_write_async(s, "x.example", t, &o, false,
                                                  async_done, &w),
                     LEEC_OK);
    assert_int_equal(Leec_store_token_put_async(s, "tok-B_2", "tok-B_2.thumb",
                                                async_done, &y),
                     LEEC_OK);
    bool never = false;
    pump(s, &never, 300);
    double spent = now_ms() - t0;
    assert_int_equal(w.calls, 0);
    /* 300 ms of the loop's own waits, nothing blocked beyond them. */
    assert_true(spent < 1000);
    admin_do("COMMIT");
    for (int i = 0; i < 200 && !(w.calls && y.calls); i++)
        pump(s, &never, 20);
    assert_int_equal(w.calls, 1);
    assert_int_equal(w.rc, LEEC_OK);
    assert_int_equal(y.calls, 1);

    /* A writer gone: its done is no longer called; the write still lands. */
    async_res g = {0};
    assert_int_equal(Leec_store_token_put_async(s, "tok-C_3", "tok-C_3.thumb",
                                                async_done, &g),
                     LEEC_OK);
    Leec_store_async_forget(s, &g);
    for (int i = 0; i < 100; i++) {
        short ev = 0;
        if (Leec_store_async_fd(s, &ev) < 0)
            break;
        pump(s, &never, 20);
    }
    assert_int_equal(g.calls, 0);
    assert_int_equal(Leec_store_token_get(b, "tok-C_3", &ka), LEEC_OK);
    free(ka);

    /* The connection cut: the writes in flight fail (LEEC_E_IO), the next
     * one connects again. */
    async_res c = {0}, d = {0};
    assert_int_equal(Leec_store_token_put_async(s, "tok-D_4", "tok-D_4.thumb",
                                                async_done, &c),
                     LEEC_OK);
    admin_do("BEGIN");
    admin_do("LOCK TABLE leec_tokens IN ACCESS EXCLUSIVE MODE");
    assert_int_equal(Leec_store_token_put_async(s, "tok-E_5", "tok-E_5.thumb",
                                                async_done, &c),
                     LEEC_OK);
    pump(s, &never, 200);
    admin_do("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
             " WHERE pid <> pg_backend_pid() AND wait_event_type = 'Lock'");
    admin_do("ROLLBACK");
    for (int i = 0; i < 200 && c.calls < 2; i++)
        pump(s, &never, 20);
    assert_int_equal(c.calls, 2);
    assert_int_equal(c.rc, LEEC_E_IO);
    assert_int_equal(Leec_store_token_put_async(s, "tok-F_6", "tok-F_6.thumb",
                                                async_done, &d),
                     LEEC_OK);
    for (int i = 0; i < 200 && !d.calls; i++)
        pump(s, &never, 20);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.rc, LEEC_OK);

    /* An install that does not wait: under the lease, the version and
     * its number as the waiting one's, the journal's entry gone. */
    assert_true(Leec_store_can_install_async(s));
    async_res ia = {0};
    leec_store_new_version in = {
        .privkey = KEY2, .cert = leaf_pem, .meta_json = "{\"names\":[\"x\"]}"};
    assert_int_equal(
        Leec_store_install_async(s, "x.example", &in, t, async_done, &ia),
        LEEC_OK);
    assert_int_equal(ia.calls, 0);
    for (int i = 0; i < 200 && !ia.calls; i++)
        pump(s, &never, 20);
    assert_int_equal(ia.calls, 1);
    assert_int_equal(ia.rc, LEEC_OK);
    leec_store_version got;
    assert_int_equal(
        leec_store_read_version(b, "x.example", LEEC_PARTS_ALL, &got), LEEC_OK);
    assert_int_equal(got.number, 2);
    assert_string_equal(got.text[LEEC_PART_PRIVKEY], KEY2);
    leec_store_version_clear(&got);
    assert_int_equal(leec_store_order_read(b, "x.example", &back),
                     LEEC_E_NOT_FOUND);
    /* Under a token another holds: refused, nothing installed. */
    async_res ib = {0};
    assert_int_equal(Leec_store_install_async(s, "x.example", &in, t + 1000,
                                              async_done, &ib),
                     LEEC_OK);
    for (int i = 0; i < 200 && !ib.calls; i++)
        pump(s, &never, 20);
    assert_int_equal(ib.rc, LEEC_E_FENCED);
    char *n = admin_value("SELECT count(*) FROM leec_versions");
    assert_string_equal(n, "2");
    free(n);

    Leec_store_unlock(s, h);
    /* A lease let go without waiting (a loop performs the store), taken
     * again at once: a new token, so that the release on its way cannot
     * take the new grant with it. */
    short ev = 0;
    Leec_store_async_perform(s);
    void *h1 = NULL, *h2 = NULL;
    uint64_t t1 = 0, t2 = 0;
    assert_int_equal(Leec_store_lease(s, "cert", "z.example", 60, &h1, &t1),
                     LEEC_OK);
    Leec_store_unlock(s, h1);
    assert_int_equal(Leec_store_lease(s, "cert", "z.example", 60, &h2, &t2),
                     LEEC_OK);
    assert_true(t2 > t1);
    for (int i = 0; i < 100 && Leec_store_async_fd(s, &ev) >= 0; i++)
        pump(s, &never, 20);
    assert_int_equal(Leec_store_fence(b, "cert", "z.example", t2), LEEC_OK);
    void *h3 = NULL;
    uint64_t t3 = 0;
    assert_int_equal(Leec_store_lease(b, "cert", "z.example", 60, &h3, &t3),
                     LEEC_E_LOCKED);
    Leec_store_unlock(s, h2);
    /* A renewal state, sent without waiting once a loop performs and the
     * version is kept here (its lease held): read back at once here, in
     * the database once sent. Without it, written at once. */
    admin_do("UPDATE leec_certs SET next_check = now() - interval '1 second'"
             " WHERE name = 'x.example'");
    char **cn = NULL;
    uint64_t *ct = NULL;
    size_t cnn = 0;
    assert_int_equal(leec_store_claim(s, 10, 60, &cn, &ct, &cnn), LEEC_OK);
    assert_int_equal(cnn, 1);
    assert_string_equal(cn[0], "x.example");
    leec_store_list_free(cn, cnn);
    free(ct);
    short evx = 0;
    for (int i = 0; i < 100 && Leec_store_async_fd(s, &evx) >= 0; i++)
        pump(s, &never, 20);
    assert_int_equal(Leec_store_async_fd(s, &evx), -1);
    assert_int_equal(
        Leec_store_renewal_write(s, "x.example", 2, "{\"next_check\":7}"),
        LEEC_OK);
    char *rt = NULL;
    assert_int_equal(
        leec_store_read_part(s, "x.example", LEEC_PART_RENEWAL, &rt, NULL),
        LEEC_OK);
    assert_string_equal(rt, "{\"next_check\":7}");
    free(rt);
    /* Sent, not yet answered: the write is in flight. */
    assert_true(Leec_store_async_fd(s, &evx) >= 0);
    for (int i = 0; i < 100 && Leec_store_async_fd(s, &ev) >= 0; i++)
        pump(s, &never, 20);
    rt = admin_value("SELECT renewal FROM leec_versions WHERE name ="
                     " 'x.example' AND number = 2");
    assert_string_equal(rt, "{\"next_check\":7}");
    free(rt);
    leec_store_unclaim(s, "x.example");
    assert_int_equal(
        Leec_store_renewal_write(s, "x.example", 2, "{\"next_check\":8}"),
        LEEC_OK);
    rt = admin_value("SELECT renewal FROM leec_versions WHERE name ="
                     " 'x.example' AND number = 2");
    assert_string_equal(rt, "{\"next_check\":8}");
    free(rt);
    leec_store_free(b);
}

static void want_n(leec_store *s, const char *prefix, int n)
{
    for (int i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s%02d.example", prefix, i);
        assert_int_equal(leec_store_want(s, name, "{\"names\":[]}"), LEEC_OK);
    }
}

static void test_claim(void **state)
{
    leec_store *a = *state, *b = pg_again(NULL);
    char **na = NULL, **nb = NULL;
    uint64_t *ta = NULL, *tb = NULL;
    size_t ka = 0, kb = 0;
    void *h = NULL;
    uint64_t t = 0;
    assert_non_null(b);
    assert_true(leec_store_is_shared(a));
    want_n(a, "w", 5);
    /* A certificate leased by another is skipped. */
    assert_int_equal(Leec_store_lease(b, "cert", "w02.example", 60, &h, &t),
                     LEEC_OK);
    assert_int_equal(leec_store_claim(a, 2, 60, &na, &ta, &ka), LEEC_OK);
    assert_int_equal(ka, 2);
    assert_string_equal(na[0], "w00.example");
    assert_string_equal(na[1], "w01.example");
    assert_true(ta[0] > t && ta[1] > t && ta[0] != ta[1]);
    assert_int_equal(leec_store_claim(b, 10, 60, &nb, &tb, &kb), LEEC_OK);
    assert_int_equal(kb, 2);
    assert_string_equal(nb[0], "w03.example");
    assert_string_equal(nb[1], "w04.example");
    leec_store_list_free(nb, kb);
    free(tb);
    assert_int_equal(leec_store_claim(b, 10, 60, &nb, &tb, &kb), LEEC_OK);
    assert_int_equal(kb, 0);
    /* The engine's lease of a claimed certificate is that claim. */
    void *h2 = NULL;
    uint64_t t2 = 0;
    assert_int_equal(Leec_store_lease(a, "cert", "w01.example", 60, &h2, &t2),
                     LEEC_OK);
    assert_int_equal(t2, ta[1]);
    assert_int_equal(leec_store_heartbeat(a, 60), LEEC_OK);
    /* Released: due again for whoever claims next. */
    Leec_store_unlock(a, h2);
    Leec_store_unlock(b, h);
    assert_int_equal(leec_store_claim(b, 10, 60, &nb, &tb, &kb), LEEC_OK);
    assert_int_equal(kb, 2);
    assert_string_equal(nb[0], "w01.example");
    assert_string_equal(nb[1], "w02.example");
    leec_store_list_free(na, ka);
    leec_store_list_free(nb, kb);
    free(ta);
    free(tb);
    leec_store_free(b);
}

/* Two processes claiming at once never get the same certificate. */
static void test_claim_concurrent(void **state)
{
    leec_store *a = *state;
    enum { N = 40 };
    int fds[2][2];
    pid_t pid[2];
    want_n(a, "c", N);
    fflush(NULL);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(pipe(fds[k]), 0);
        pid[k] = fork();
        assert_true(pid[k] >= 0);
        if (pid[k] == 0) {
            leec_store *s = pg_again(NULL);
            char **n = NULL;
            uint64_t *t = NULL;
            size_t c = 0;
            int bad = !s;
            while (!bad) {
                bad = leec_store_claim(s, 3, 60, &n, &t, &c) != LEEC_OK;
                if (bad || c == 0)
                    break;
                for (size_t i = 0; i < c; i++) {
                    char rec[16] = "";
                    snprintf(rec, sizeof rec, "%s", n[i]);
                    bad |= write(fds[k][1], rec, sizeof rec) != sizeof rec;
                }
                leec_store_list_free(n, c);
                free(t);
            }
            _exit(bad);
        }
        close(fds[k][1]);
    }
    bool seen[N] = {false};
    int total = 0;
    for (int k = 0; k < 2; k++) {
        char name[17] = "";
        while (read(fds[k][0], name, 16) == 16) {
            int i = -1;
            assert_int_equal(sscanf(name, "c%02d.example", &i), 1);
            assert_false(seen[i]);
            seen[i] = true;
            total++;
        }
        close(fds[k][0]);
        int status = 0;
        assert_int_equal(waitpid(pid[k], &status, 0), pid[k]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_int_equal(total, N);
}

static void test_want_schedule(void **state)
{
    leec_store *s = *state;
    char *set = NULL, **n = NULL;
    uint64_t *t = NULL;
    size_t k = 0;
    assert_int_equal(leec_store_wanted_read(s, "a.example", &set),
                     LEEC_E_NOT_FOUND);
    assert_int_equal(leec_store_want(s, "a.example", "{\"a\":1}"), LEEC_OK);
    assert_int_equal(leec_store_want(s, "b.example", "{\"b\":1}"), LEEC_OK);
    assert_int_equal(leec_store_wanted_read(s, "a.example", &set), LEEC_OK);
    assert_string_equal(set, "{\"a\":1}");
    free(set);
    assert_int_equal(leec_store_wanted_list(s, &n, &k), LEEC_OK);
    assert_int_equal(k, 2);
    assert_string_equal(n[0], "a.example");
    leec_store_list_free(n, k);
    /* Not due until its time. */
    int64_t now = (int64_t)time(NULL);
    assert_int_equal(leec_store_schedule(s, "a.example", now + 3600, 0),
                     LEEC_OK);
    assert_int_equal(leec_store_schedule(s, "b.example", now + 3600, 0),
                     LEEC_OK);
    assert_int_equal(leec_store_schedule(s, "z.example", now, 0),
                     LEEC_E_NOT_FOUND);
    assert_int_equal(leec_store_claim(s, 10, 60, &n, &t, &k), LEEC_OK);
    assert_int_equal(k, 0);
    assert_int_equal(leec_store_schedule(s, "b.example", now - 5, 0), LEEC_OK);
    assert_int_equal(leec_store_claim(s, 10, 60, &n, &t, &k), LEEC_OK);
    assert_int_equal(k, 1);
    assert_string_equal(n[0], "b.example");
    /* Under the claim's lease: accepted with its token. */
    assert_int_equal(leec_store_schedule(s, "b.example", now + 60, t[0]),
                     LEEC_OK);
    leec_store_list_free(n, k);
    free(t);
    /* An install makes it due later, by itself; its names are kept. */
    const char *names[] = {"a.example", "*.a.example"};
    leec_store_new_version in = {
        .privkey = KEY1, .cert = "leaf", .names = names, .nnames = 2};
    assert_int_equal(leec_store_install_version(s, "a.example", &in, NULL),
                     LEEC_OK);
    char *kept = admin_value("SELECT array_to_string(names, ' ') FROM "
                             "leec_versions WHERE name = 'a.example'");
    assert_string_equal(kept, "a.example *.a.example");
    free(kept);
    /* A leaf it can read: looked at again after two thirds of its life. */
    in.cert = leaf_pem;
    assert_int_equal(leec_store_install_version(s, "a.example", &in, NULL),
                     LEEC_OK);
    kept = admin_value("SELECT to_char(c.next_check AT TIME ZONE 'UTC', "
                       "'YYYY-MM') || ' ' || to_char(v.not_after AT TIME "
                       "ZONE 'UTC', 'YYYY-MM-DD') FROM leec_certs c JOIN "
                       "leec_versions v ON v.name = c.name AND v.number = "
                       "c.current WHERE c.name = 'a.example'");
    assert_string_equal(kept, "2033-07 2036-11-19");
    free(kept);
    char *due = admin_value("SELECT next_check > now() FROM leec_certs WHERE "
                            "name = 'a.example'");
    assert_string_equal(due, "t");
    free(due);
    assert_int_equal(leec_store_unwant(s, "a.example"), LEEC_OK);
    assert_int_equal(leec_store_unwant(s, "b.example"), LEEC_OK);
    assert_int_equal(leec_store_unwant(s, "b.example"), LEEC_OK);
    assert_int_equal(leec_store_wanted_list(s, &n, &k), LEEC_OK);
    assert_int_equal(k, 0);
    /* Installed stays, only wanted goes. */
    assert_int_equal(leec_store_list(s, &n, &k), LEEC_OK);
    assert_int_equal(k, 1);
    leec_store_list_free(n, k);
    /* reset forgets the wish too. */
    assert_int_equal(leec_store_want(s, "a.example", "{}"), LEEC_OK);
    assert_int_equal(leec_store_reset(s, "a.example"), LEEC_OK);
    assert_int_equal(leec_store_wanted_read(s, "a.example", &set),
                     LEEC_E_NOT_FOUND);
}

static void test_changes(void **state)
{
    leec_store *a = *state, *b = pg_again(NULL);
    char **n = NULL;
    size_t k = 0;
    assert_non_null(b);
    int fd = leec_store_changes_fd(b);
    assert_true(fd >= 0);
    assert_true(leec_store_changes_fd(a) >= 0);
    assert_int_equal(install(a, "n.example", KEY1), LEEC_OK);
    assert_int_equal(install(a, "n.example", KEY2), LEEC_OK);
    assert_int_equal(install(a, "m.example", KEY2), LEEC_OK);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 5000), 1);
    usleep(100 * 1000); /* all three arrive */
    assert_int_equal(leec_store_changes(b, &n, &k), LEEC_OK);
    assert_int_equal(k, 2);
    assert_string_equal(n[0], "m.example");
    assert_string_equal(n[1], "n.example");
    leec_store_list_free(n, k);
    assert_int_equal(leec_store_changes(b, &n, &k), LEEC_OK);
    assert_int_equal(k, 0);
    /* Its own installs are not news to a. */
    assert_int_equal(leec_store_changes(a, &n, &k), LEEC_OK);
    assert_int_equal(k, 0);
    leec_store_free(b);
}

/* The server restarted as after a crash: the next call reconnects and
 * goes on; the notifications are listened to again. */
static void test_reconnect(void **state)
{
    leec_store *s = *state, *b = pg_again(NULL);
    const char *restart = getenv("LEEC_TEST_PG_RESTART");
    char *text = NULL, **n = NULL;
    size_t k = 0;
    if (!restart) {
        leec_store_free(b);
        skip();
        return;
    }
    assert_non_null(b);
    assert_true(leec_store_changes_fd(b) >= 0);
    assert_int_equal(install(s, "r.example", KEY1), LEEC_OK);
    PQfinish(F.admin);
    assert_int_equal(system(restart), 0);
    F.admin = PQconnectdb(F.base);
    assert_int_equal(PQstatus(F.admin), CONNECTION_OK);
    admin_do("SET client_min_messages = warning");
    admin_dof("SET search_path = %s", F.schema);
    assert_int_equal(
        leec_store_read_part(s, "r.example", LEEC_PART_PRIVKEY, &text, NULL),
        LEEC_OK);
    assert_string_equal(text, KEY1);
    free(text);
    /* A transaction after the restart. */
    assert_int_equal(install(b, "r.example", KEY2), LEEC_OK);
    void *h = NULL;
    uint64_t t = 0;
    assert_int_equal(Leec_store_lease(s, "cert", "r.example", 60, &h, &t),
                     LEEC_OK);
    Leec_store_unlock(s, h);
    int fd = leec_store_changes_fd(b);
    assert_int_equal(install(s, "r.example", KEY1), LEEC_OK);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_int_equal(leec_store_changes(b, &n, &k), LEEC_OK);
    assert_int_equal(k, 1);
    leec_store_list_free(n, k);
    leec_store_free(b);
}

int main(void)
{
    F.base = getenv("LEEC_TEST_PG");
    if (!F.base || !*F.base) {
        printf("LEEC_TEST_PG not set (python3 tests/pg_env.py run -- %s): "
               "skipped\n",
               "test_store_conformance_pg");
        return 77;
    }
    F.admin = PQconnectdb(F.base);
    if (PQstatus(F.admin) != CONNECTION_OK) {
        fprintf(stderr, "cannot connect to LEEC_TEST_PG: %s",
                PQerrorMessage(F.admin));
        return 1;
    }
    PQclear(PQexec(F.admin, "SET client_min_messages = warning"));
    if (!(F.dir = tu_tmpdir("leec-pg-keys")))
        return 1;
    F.key = write_key("master.key", 0600);
    F.key2 = write_key("master2.key", 0400);
    sc_backend b = {.name = "store conformance: pg",
                    .ud = &F,
                    .fresh = pg_fresh,
                    .again = pg_again,
                    .wipe = pg_wipe,
                    .inject_arm = pg_inject_arm,
                    .inject_disarm = pg_inject_disarm,
                    .assert_clean = pg_assert_clean};
    int failed = sc_run(&b);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sealed_at_rest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rekey, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_made_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lease_expiry_fences, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_claim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claim_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_want_schedule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconnect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_writes, setup, teardown),
    };
    failed += cmocka_run_group_tests_name("store: pg", tests, NULL, NULL);
    PQfinish(F.admin);
    tu_rmtree(F.dir);
    free(F.dir);
    free(F.key);
    free(F.key2);
    free(F.conninfo);
    return failed;
}
