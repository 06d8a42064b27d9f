/* The PostgreSQL store: the records of include/leec/store.h in tables a
 * fleet of nodes shares (doc/store-postgresql.md has the schema and the
 * reasons):
 *
 *   account        leec_accounts (the key sealed)
 *   certificate    leec_certs: the current version, the wanted settings,
 *                  when it next needs a look
 *   version N      leec_versions (the private key sealed)
 *   order journal  leec_journal (the entry sealed: it holds a key)
 *   http-01 token  leec_tokens (in clear: a key authorization is public)
 *   locks, leases  leec_leases: one row per kind and name, its fencing
 *                  token from the sequence leec_fence, its expiry judged by
 *                  the database's clock (now()), never a node's
 *
 * Secrets are sealed with AES-256-GCM (crypto/seal.h) bound to their row,
 * so that a dump holds no key and a value moved to another row does not
 * open. Every write of a certificate's state is one transaction that also
 * checks the writer's lease row (SELECT ... FOR SHARE): a holder that lost
 * its lease writes nothing, even if it lost it a moment before.
 *
 * The store is used from one thread at a time. Its operations block for
 * their round trips (statement_timeout bounds each), except the writes
 * that do not wait (journal_write_async ...), which go pipelined on a
 * connection of their own and are answered from async_perform, and the
 * token lookups (token_ask), on a third. When the main connection broke
 * (the server restarted), the call reconnects once and repeats what is
 * safe to repeat: a read, a write that may be made twice, or a
 * transaction whose COMMIT was never sent. */
#define _GNU_SOURCE
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "crypto/der.h"
#include "crypto/seal.h"

/* The schema this library writes; a database with a newer one is refused
 * (an older leec must not write what it does not know). */
#define PG_MIGRATE_LOCK "7310582947017336163" /* pg_advisory_xact_lock key */
/* A sealed part: base64url of nonce, text and tag, and its prefix. */
#define PG_SEALED_MAX 1400000
_Static_assert((LEEC_STORE_PART_MAX + 28 + 2) / 3 * 4 + 64 <= PG_SEALED_MAX,
               "a sealed part fits its column");
#define PG_PART_MAX_SQL   "1048576"
#define PG_SEALED_MAX_SQL "1400000"
_Static_assert(LEEC_STORE_PART_MAX == 1048576, "PG_PART_MAX_SQL");

/* The migrations, in order: migrations[i] brings the schema from version
 * i to i + 1. Never edit one that shipped; add the next. */
static const char *const migrations[] = {
    /* 1: the tables of the first release. */
    "CREATE SEQUENCE leec_fence;"
    "CREATE TABLE leec_accounts ("
    " ca_id text PRIMARY KEY,"
    " key_sealed text NOT NULL"
    "  CHECK (octet_length(key_sealed) <= " PG_SEALED_MAX_SQL "),"
    " account_json text"
    "  CHECK (octet_length(account_json) <= " PG_PART_MAX_SQL "),"
    " updated timestamptz NOT NULL DEFAULT now());"
    "CREATE TABLE leec_certs ("
    " name text PRIMARY KEY,"
    " current bigint,"
    " last_number bigint NOT NULL DEFAULT 0,"
    " wanted text CHECK (octet_length(wanted) <= " PG_PART_MAX_SQL "),"
    " next_check timestamptz,"
    " updated timestamptz NOT NULL DEFAULT now());"
    "CREATE INDEX leec_certs_next_check ON leec_certs (next_check);"
    "CREATE TABLE leec_versions ("
    " name text NOT NULL REFERENCES leec_certs (name) ON DELETE CASCADE,"
    " number bigint NOT NULL,"
    " privkey_sealed text NOT NULL"
    "  CHECK (octet_length(privkey_sealed) <= " PG_SEALED_MAX_SQL "),"
    " cert text NOT NULL CHECK (octet_length(cert) <= " PG_PART_MAX_SQL "),"
    " chain text NOT NULL CHECK (octet_length(chain) <= " PG_PART_MAX_SQL "),"
    " fullchain text NOT NULL"
    "  CHECK (octet_length(fullchain) <= " PG_PART_MAX_SQL "),"
    " meta text CHECK (octet_length(meta) <= " PG_PART_MAX_SQL "),"
    " renewal text CHECK (octet_length(renewal) <= " PG_PART_MAX_SQL "),"
    " names text[] NOT NULL DEFAULT '{}',"
    " not_after timestamptz,"
    " created timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (name, number));"
    "CREATE TABLE leec_journal ("
    " name text PRIMARY KEY,"
    " entry_sealed text NOT NULL"
    "  CHECK (octet_length(entry_sealed) <= " PG_SEALED_MAX_SQL "),"
    " updated timestamptz NOT NULL DEFAULT now());"
    "CREATE TABLE leec_tokens ("
    " token text PRIMARY KEY CHECK (octet_length(token) <= 256),"
    " key_auth text NOT NULL CHECK (octet_length(key_auth) <= 1024),"
    " created timestamptz NOT NULL DEFAULT now());"
    "CREATE TABLE leec_leases ("
    " kind text NOT NULL,"
    " name text NOT NULL,"
    " token bigint NOT NULL,"
    " holder text NOT NULL,"
    " node text NOT NULL,"
    " host text NOT NULL,"
    " pid bigint NOT NULL,"
    " expires timestamptz NOT NULL,"
    " PRIMARY KEY (kind, name));"
    "CREATE INDEX leec_leases_holder ON leec_leases (holder);",
    /* 2: the governor's budget log (store ABI 4). */
    "CREATE TABLE leec_budget ("
    " ca_id text NOT NULL,"
    " made bigint NOT NULL,"
    " entry text NOT NULL CHECK (octet_length(entry) <= 4096));"
    "CREATE INDEX leec_budget_made ON leec_budget (ca_id, made);",
};
_Static_assert(LEEC_STORE_BUDGET_ENTRY_MAX == 4096, "leec_budget.entry");
#define PG_SCHEMA_VERSION (sizeof migrations / sizeof *migrations)

/* A lease this store instance holds (or claimed): shared by the handles
 * lease() gave for it, so that a claim followed by the engine's own lease
 * of that certificate is one grant with one token. */
typedef struct pg_held {
    char *kind, *name;
    uint64_t token;
    unsigned refs;     /* handles given by lease(); 0: claimed, not leased */
    bool lost;         /* the heartbeat found it gone: renewed no more */
    bool journal_gone; /* its install under this token dropped the
                        * journal's entry, and nothing wrote one since; or
                        * the claim found none */
    bool no_version;   /* the claim found no version, and none was
                        * installed through this instance since */
    char *wanted;      /* the settings the claim read, for one wanted_read */
    /* The current version the claim read (the key still sealed), while
     * the lease is held: only its holder installs another. */
    leec_store_version *ver;
    uint64_t last_number; /* the last version number allocated, when */
    bool last_known;      /* known: the claim read it, or an install since */
    bool sched;           /* schedule() kept back for unlock: at sched_when */
    int64_t sched_when;
} pg_held;

/* A token another node announced (NOTIFY leec_tokens). */
typedef struct pg_known {
    char *token, *key_auth;
} pg_known;
#define PG_KNOWN_MAX 4096 /* the newest announced tokens kept */

/* A token asked for by the responder, answered in order. */
typedef struct pg_ask {
    struct pg_ask *next;
    char *token;
    bool sent, answered;
} pg_ask;

typedef struct pg_store {
    leec_store *s; /* for messages; set once made */
    PGconn *conn;
    char *conninfo;
    char holder[33]; /* this instance's random id, in leec_leases.holder */
    char node[201];
    char host[256];
    leec_seal_key key; /* sealing, and opening */
    leec_seal_key old; /* opening only (rotation), when has_old */
    bool has_old;
    bool listening;  /* LISTEN leec_versions issued (again after a reset) */
    bool lost;       /* the connection broke during this attempt */
    bool committing; /* COMMIT was sent during this attempt */
    bool broken;     /* the connection must be made again */
    pg_held **held;
    size_t nheld;
    PGconn *tq;   /* token lookups without waiting, or NULL */
    bool tq_busy; /* a question is out on tq */
    pg_ask *asks; /* the questions, the one out first */
    pg_ask **asks_tail;
    pg_known *known; /* a ring of PG_KNOWN_MAX, the next to replace at */
    size_t known_next;
    char **changed; /* versions other nodes announced, not yet handed out */
    size_t nchanged;
    /* The version this instance installed last, read back without a round
     * trip (the renewal plan, the node's own copy) until another node
     * announces one of that certificate or it changes here. */
    char *mine_name;
    leec_store_version mine;
    uint64_t mine_token;     /* the lease it was installed under (0: none) */
    struct timespec mine_at; /* when (CLOCK_MONOTONIC) */
    /* Tokens deleted, not yet told to the database: they ride along with
     * the next heartbeat (a finished challenge's token harms nobody for
     * a few seconds), or go at destroy. */
    char **gone;
    size_t ngone;
    /* Writes that do not wait (journal_write_async ...): a third
     * connection, non-blocking, in pipeline mode, the writes sent one
     * after the other without waiting for each answer (each followed by a
     * sync point: its own transaction), answered in order. */
    PGconn *aq;
    struct pg_job *jobs; /* in the order sent, the first answered next */
    struct pg_job **jobs_tail;
    bool aq_flush; /* some of what was sent is still in libpq's buffer */
    bool async_on; /* a loop performs the writes that do not wait: a
                      lease's release and the renewal state go there too */
} pg_store;

static const leec_store_ops pg_ops;
typedef struct pg_job pg_job; /* a write without waiting, in flight */
struct pg_store;
static void jobs_free(struct pg_store *p);
static void aq_drain(struct pg_store *p);
static bool aq_unlocking(struct pg_store *p, const char *kind,
                         const char *name);

static pg_store *impl(leec_store *s)
{
    return Leec_store_impl(s, &pg_ops);
}

static void free_secret(char *s, size_t n)
{
    if (s)
        explicit_bzero(s, n);
    free(s);
}

static void free_secret_str(char *s)
{
    free_secret(s, s ? strlen(s) : 0);
}

/* ------------------------------------------------------------------ */
/* The connection                                                      */
/* ------------------------------------------------------------------ */

/* libpq's last message on one line, for the log. */
static void pg_log_error(pg_store *p, const char *what, const PGresult *r)
{
    const char *m = r ? PQresultErrorMessage(r) : "";
    char line[512];
    if (!m || !*m)
        m = PQerrorMessage(p->conn);
    snprintf(line, sizeof line, "%s", m && *m ? m : "no answer");
    for (char *c = line; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    if (p->s)
        Leec_store_log(p->s, LEEC_LOG_ERROR, "PostgreSQL store: %s: %s", what,
                       line);
}

static leec_code pg_io(pg_store *p, const char *what, const PGresult *r)
{
    pg_log_error(p, what, r);
    return LEEC_E_IO;
}

/* Whether a failure is the connection's: libpq says so, or the error has
 * no SQLSTATE (libpq's own: the server closed the connection) or one of
 * class 08 or of a server shutting down. */
static bool conn_broke(PGconn *c, const PGresult *r)
{
    if (PQstatus(c) != CONNECTION_OK)
        return true;
    if (!r)
        return false;
    const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    return !st || strncmp(st, "08", 2) == 0 || strncmp(st, "57P", 3) == 0;
}

/* One statement. The result when it succeeded (the caller clears it),
 * else NULL, p->lost set when the connection broke. */
static PGresult *pg_exec(pg_store *p, const char *sql, int n,
                         const char *const *vals)
{
    PGresult *r =
        n < 0 ? PQexec(p->conn, sql)
              : PQexecParams(p->conn, sql, n, NULL, vals, NULL, NULL, 0);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    if (conn_broke(p->conn, r))
        p->lost = p->broken = true;
    pg_log_error(p, "a statement failed", r);
    PQclear(r);
    return NULL;
}

/* A statement whose result is not needed. */
static bool pg_do(pg_store *p, const char *sql, int n, const char *const *vals)
{
    PGresult *r = pg_exec(p, sql, n, vals);
    PQclear(r);
    return r != NULL;
}

/* What a new session needs: a bound on every statement, and the
 * notifications it listened to before. */
static bool pg_session(pg_store *p)
{
    if (!pg_do(p,
               "SELECT set_config('statement_timeout', '15s', false),"
               " set_config('lock_timeout', '10s', false),"
               " set_config('client_min_messages', 'warning', false)",
               0, NULL))
        return false;
    return !p->listening || (pg_do(p, "LISTEN leec_versions", 0, NULL) &&
                             pg_do(p, "LISTEN leec_tokens", 0, NULL));
}

static void pg_notice(void *arg, const char *message)
{
    pg_store *p = arg;
    if (p->s)
        Leec_store_log(p->s, LEEC_LOG_DEBUG, "PostgreSQL store: %.*s",
                       (int)strcspn(message, "\n"), message);
}

static bool pg_connect(pg_store *p)
{
    /* Ours first, so that the connection string's own settings win
     * (expand_dbname), but client_encoding after: leec's text is UTF-8. */
    const char *keys[] = {"connect_timeout",
                          "keepalives",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "application_name",
                          "dbname",
                          "client_encoding",
                          NULL};
    const char *vals[] = {"5",    "1",         "30",   "10", "3",
                          "leec", p->conninfo, "UTF8", NULL};
    if (p->conn) {
        PQreset(p->conn);
    } else {
        p->conn = PQconnectdbParams(keys, vals, 1);
        if (!p->conn)
            return false;
        /* libpq would print the server's notices on stderr. */
        PQsetNoticeProcessor(p->conn, pg_notice, p);
    }
    if (PQstatus(p->conn) != CONNECTION_OK)
        return false;
    return pg_session(p);
}

/* Ready for a call: connected, and outside any transaction a failed call
 * may have left open. */
static leec_code pg_ready(pg_store *p)
{
    p->lost = p->committing = false;
    if (PQstatus(p->conn) != CONNECTION_OK || p->broken) {
        if (!pg_connect(p))
            return pg_io(p, "cannot reach the database", NULL);
        p->broken = false;
    }
    if (PQtransactionStatus(p->conn) != PQTRANS_IDLE &&
        !pg_do(p, "ROLLBACK", 0, NULL))
        return LEEC_E_IO;
    return LEEC_OK;
}

/* One statement outside a transaction, repeated once on a new connection
 * when the old one broke: only for reads and writes that may be made
 * twice. NULL with *rc set on failure. */
static PGresult *pg_q(pg_store *p, leec_code *rc, const char *sql, int n,
                      const char *const *vals)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if ((*rc = pg_ready(p)) != LEEC_OK)
            return NULL;
        PGresult *r = pg_exec(p, sql, n, vals);
        if (r)
            return r;
        if (!p->lost)
            break;
    }
    *rc = LEEC_E_IO;
    return NULL;
}

static leec_code pg_q_do(pg_store *p, const char *sql, int n,
                         const char *const *vals)
{
    leec_code rc = LEEC_OK;
    PQclear(pg_q(p, &rc, sql, n, vals));
    return rc;
}

/* A transaction: body's statements between BEGIN and COMMIT (ROLLBACK
 * when body fails). Repeated once on a new connection when the connection
 * broke before COMMIT was sent (the server then rolled it back); after,
 * whether it was committed is unknown: LEEC_E_IO. body must leave its
 * results clean when it fails, as it may run twice. */
typedef leec_code (*pg_body)(pg_store *p, void *arg);

static leec_code pg_tx(pg_store *p, pg_body body, void *arg)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        leec_code rc = pg_ready(p);
        if (rc != LEEC_OK)
            return rc;
        rc = pg_do(p, "BEGIN", 0, NULL) ? body(p, arg) : LEEC_E_IO;
        if (rc == LEEC_OK) {
            p->committing = true;
            if (pg_do(p, "COMMIT", 0, NULL))
                return LEEC_OK;
            rc = LEEC_E_IO;
        } else if (!p->lost) {
            pg_do(p, "ROLLBACK", 0, NULL);
        }
        if (p->committing && p->lost)
            return pg_io(p,
                         "the connection broke after COMMIT was sent: "
                         "whether it was committed is unknown",
                         NULL);
        if (!p->lost)
            return rc;
    }
    return pg_io(p, "the connection broke twice", NULL);
}

static void u64s(char *buf, size_t n, uint64_t v)
{
    snprintf(buf, n, "%" PRIu64, v);
}

/* A text column as a new string, bounded by max: LEEC_E_TOO_LARGE above
 * it. NULL column: *out NULL. */
static leec_code col_dup(const PGresult *r, int row, int col, size_t max,
                         char **out, size_t *len)
{
    *out = NULL;
    if (len)
        *len = 0;
    if (PQgetisnull(r, row, col))
        return LEEC_OK;
    size_t n = (size_t)PQgetlength(r, row, col);
    if (n > max)
        return LEEC_E_TOO_LARGE;
    if (!(*out = malloc(n + 1)))
        return LEEC_E_NOMEM;
    memcpy(*out, PQgetvalue(r, row, col), n);
    (*out)[n] = '\0';
    if (len)
        *len = n;
    return LEEC_OK;
}

static bool col_u64(const PGresult *r, int row, int col, uint64_t *v)
{
    char *end = NULL;
    const char *t = PQgetvalue(r, row, col);
    errno = 0;
    unsigned long long x = strtoull(t, &end, 10);
    if (PQgetisnull(r, row, col) || errno || end == t || *end)
        return false;
    *v = x;
    return true;
}

/* Column 0 of every row: names as leec_store_list() gives them. */
static leec_code names_of(const PGresult *r, char ***names, size_t *n)
{
    int rows = PQntuples(r);
    *names = NULL;
    *n = 0;
    if (rows == 0)
        return LEEC_OK;
    char **v = calloc((size_t)rows, sizeof *v);
    if (!v)
        return LEEC_E_NOMEM;
    for (int i = 0; i < rows; i++) {
        leec_code rc = col_dup(r, i, 0, 255, &v[i], NULL);
        if (rc == LEEC_OK && !v[i])
            rc = LEEC_E_IO;
        if (rc != LEEC_OK) {
            leec_store_list_free(v, (size_t)i + 1);
            return rc;
        }
    }
    *names = v;
    *n = (size_t)rows;
    return LEEC_OK;
}

static leec_code pg_names(pg_store *p, const char *sql, char ***names,
                          size_t *n)
{
    leec_code rc = LEEC_OK;
    PGresult *r = pg_q(p, &rc, sql, 0, NULL);
    if (!r)
        return rc;
    rc = names_of(r, names, n);
    PQclear(r);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Sealing                                                             */
/* ------------------------------------------------------------------ */

/* Opens what was sealed for the record aad describes (what: the record,
 * for the message). A value that does not open is refused, never taken
 * for another record's. */
static leec_code pg_unseal(pg_store *p, const char *aad, const char *what,
                           const char *sealed, char **plain, size_t *n)
{
    const leec_seal_key *keys[2] = {&p->key, &p->old};
    leec_code rc = Leec_unseal(keys, p->has_old ? 2 : 1, aad, sealed, plain, n);
    switch (rc) {
    case LEEC_OK:
    case LEEC_E_NOMEM:
        return rc;
    case LEEC_E_BAD_KEY:
        /* Not damage: the wrong key given. LEEC_E_BAD_KEY (its message
         * kept for leec_store_errmsg), so that nobody takes the version
         * for broken and orders a new one. */
        (void)leec_store_refuse(
            p->s,
            "PostgreSQL store: %s is sealed with a master key this store was "
            "not opened with (key id %.16s); give that key as the old one "
            "(--store-old-key FILE) and run leec store rekey",
            what, strchr(sealed, ':') ? strchr(sealed, ':') + 1 : "?");
        return LEEC_E_BAD_KEY;
    default:
        return leec_store_refuse(
            p->s,
            "PostgreSQL store: %s does not open with its master key: it was "
            "altered or moved from another record; restore it from a backup "
            "or remove the record",
            what);
    }
}

static char *aad_version(const char *name, uint64_t number)
{
    char *a = NULL;
    return asprintf(&a, "version\n%s\n%" PRIu64 "\nprivkey", name, number) < 0
               ? NULL
               : a;
}

static char *aad_of(const char *kind, const char *name)
{
    char *a = NULL;
    return asprintf(&a, "%s\n%s", kind, name) < 0 ? NULL : a;
}

/* ------------------------------------------------------------------ */
/* Leases held                                                         */
/* ------------------------------------------------------------------ */

static void held_ver_forget(pg_held *h);

static pg_held *held_find(pg_store *p, const char *kind, const char *name)
{
    for (size_t i = 0; i < p->nheld; i++)
        if (strcmp(p->held[i]->kind, kind) == 0 &&
            strcmp(p->held[i]->name, name) == 0)
            return p->held[i];
    return NULL;
}

/* Records a grant of token for kind/name (refs more handles). */
static pg_held *held_add(pg_store *p, const char *kind, const char *name,
                         uint64_t token, unsigned refs)
{
    pg_held *h = held_find(p, kind, name);
    if (h) {
        if (h->token != token) {
            /* Another grant: what the last one knew is not known. */
            h->journal_gone = h->no_version = h->last_known = h->sched = false;
            free(h->wanted);
            h->wanted = NULL;
            held_ver_forget(h);
        }
        h->token = token;
        h->lost = false;
        h->refs += refs;
        return h;
    }
    pg_held **v = realloc(p->held, (p->nheld + 1) * sizeof *v);
    if (!v)
        return NULL;
    p->held = v;
    if (!(h = calloc(1, sizeof *h)) || !(h->kind = strdup(kind)) ||
        !(h->name = strdup(name))) {
        if (h)
            free(h->kind);
        free(h);
        return NULL;
    }
    h->token = token;
    h->refs = refs;
    p->held[p->nheld++] = h;
    return h;
}

static void held_drop(pg_store *p, pg_held *h)
{
    for (size_t i = 0; i < p->nheld; i++)
        if (p->held[i] == h) {
            p->held[i] = p->held[--p->nheld];
            break;
        }
    free(h->kind);
    free(h->name);
    free(h->wanted);
    if (h->ver)
        leec_store_version_clear(h->ver);
    free(h->ver);
    free(h);
}

static void held_ver_forget(pg_held *h)
{
    if (h && h->ver) {
        leec_store_version_clear(h->ver);
        free(h->ver);
        h->ver = NULL;
    }
}

static void mine_forget(pg_store *p, const char *name)
{
    if (p->mine_name && (!name || strcmp(p->mine_name, name) == 0)) {
        free(p->mine_name);
        p->mine_name = NULL;
        leec_store_version_clear(&p->mine);
    }
}

/* Keeps what was just installed (the key too: the caller has it in
 * memory anyway, and it is cleared as any version's). */
static void mine_keep(pg_store *p, const char *name, uint64_t number,
                      uint64_t token, const leec_store_new_version *in)
{
    const char *parts[LEEC_PART_COUNT] = {[LEEC_PART_PRIVKEY] = in->privkey,
                                          [LEEC_PART_CERT] = in->cert,
                                          [LEEC_PART_CHAIN] =
                                              in->chain ? in->chain : "",
                                          [LEEC_PART_FULLCHAIN] = in->fullchain,
                                          [LEEC_PART_META] = in->meta_json};
    mine_forget(p, NULL);
    if (!(p->mine_name = strdup(name)))
        return;
    p->mine.number = number;
    p->mine_token = token;
    clock_gettime(CLOCK_MONOTONIC, &p->mine_at);
    for (int i = 0; i < LEEC_PART_COUNT; i++) {
        if (!parts[i])
            continue;
        if (!(p->mine.text[i] = strdup(parts[i]))) {
            mine_forget(p, NULL);
            return;
        }
        p->mine.len[i] = strlen(parts[i]);
    }
}

/* Whether the version kept is still the current one of name, as far as
 * can be told without a round trip: while the lease it was installed
 * under is held (only a holder installs), or for a few seconds when the
 * other nodes' installs are heard (LISTEN; the node reading back its own
 * copy right after the lease went). */
#define PG_MINE_HEARD_S 5
static bool mine_valid(pg_store *p, const char *name)
{
    if (!p->mine_name || strcmp(p->mine_name, name) != 0)
        return false;
    pg_held *h = held_find(p, "cert", name);
    if (p->mine_token && h && h->token == p->mine_token && !h->lost)
        return true;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return p->listening && now.tv_sec - p->mine_at.tv_sec < PG_MINE_HEARD_S;
}

/* The parts of want of the version the claim read, the key opened. */
static leec_code claimed_read(pg_store *p, const char *name,
                              const leec_store_version *ver, unsigned want,
                              leec_store_version *out)
{
    leec_store_version got = {.number = ver->number};
    leec_code rc = LEEC_OK;
    for (int i = 0; rc == LEEC_OK && i < LEEC_PART_COUNT; i++) {
        if (!(want & (1u << i)) || !ver->text[i])
            continue;
        if (i == LEEC_PART_PRIVKEY) {
            char *aad = aad_version(name, ver->number), what[64];
            snprintf(what, sizeof what, "the private key of version %" PRIu64,
                     ver->number);
            rc = aad ? pg_unseal(p, aad, what, ver->text[i], &got.text[i],
                                 &got.len[i])
                     : LEEC_E_NOMEM;
            free(aad);
            if (rc == LEEC_OK && got.len[i] > LEEC_STORE_PART_MAX)
                rc = LEEC_E_TOO_LARGE;
        } else if (!(got.text[i] = strdup(ver->text[i]))) {
            rc = LEEC_E_NOMEM;
        } else {
            got.len[i] = ver->len[i];
        }
    }
    if (rc != LEEC_OK)
        leec_store_version_clear(&got);
    else
        *out = got;
    return rc;
}

/* The parts of want of the version kept, as version_read gives them. */
static leec_code mine_read(pg_store *p, unsigned want, leec_store_version *out)
{
    leec_store_version got = {.number = p->mine.number};
    for (int i = 0; i < LEEC_PART_COUNT; i++) {
        if (!(want & (1u << i)) || !p->mine.text[i])
            continue;
        if (!(got.text[i] = strdup(p->mine.text[i]))) {
            leec_store_version_clear(&got);
            return LEEC_E_NOMEM;
        }
        got.len[i] = p->mine.len[i];
    }
    *out = got;
    return LEEC_OK;
}

/* The token this instance holds for the "cert" lease of name, or 0: what
 * a write of that certificate's state is checked against. */
static uint64_t cert_token(pg_store *p, const char *name, uint64_t given)
{
    if (given)
        return given;
    pg_held *h = held_find(p, "cert", name);
    return h && !h->lost ? h->token : 0;
}

/* A holder on this host whose process is gone: its lease need not be
 * waited for (store.h). */
static bool holder_dead(pg_store *p, const char *host, const char *pid)
{
    char *end = NULL;
    long v = strtol(pid, &end, 10);
    if (strcmp(host, p->host) != 0 || end == pid || *end || v <= 0 ||
        v == (long)getpid())
        return false;
    return kill((pid_t)v, 0) != 0 && errno == ESRCH;
}

/* ------------------------------------------------------------------ */
/* Accounts                                                            */
/* ------------------------------------------------------------------ */

static leec_code pg_account_load(leec_store *s, const char *ca_id,
                                 char **key_pem, char **account_json)
{
    pg_store *p = impl(s);
    leec_code rc = LEEC_OK;
    const char *v[] = {ca_id};
    PGresult *r = pg_q(p, &rc,
                       "SELECT key_sealed, account_json FROM leec_accounts"
                       " WHERE ca_id = $1",
                       1, v);
    if (!r)
        return rc;
    char *sealed = NULL, *aad = NULL;
    if (PQntuples(r) != 1) {
        rc = LEEC_E_NOT_FOUND;
    } else if ((rc = col_dup(r, 0, 0, PG_SEALED_MAX, &sealed, NULL)) !=
               LEEC_OK) {
    } else if (!sealed || !*sealed) {
        rc = LEEC_E_BAD_KEY;
    } else if (!(aad = aad_of("account", ca_id))) {
        rc = LEEC_E_NOMEM;
    } else if ((rc = pg_unseal(p, aad, "the account key", sealed, key_pem,
                               NULL)) == LEEC_OK) {
        rc = col_dup(r, 0, 1, LEEC_STORE_PART_MAX, account_json, NULL);
        if (rc != LEEC_OK) {
            free_secret_str(*key_pem);
            *key_pem = NULL;
        }
    }
    free(sealed);
    free(aad);
    PQclear(r);
    return rc;
}

static leec_code pg_account_save(leec_store *s, const char *ca_id,
                                 const char *key_pem, const char *account_json)
{
    pg_store *p = impl(s);
    char *aad = aad_of("account", ca_id), *sealed = NULL;
    leec_code rc =
        aad ? Leec_seal(&p->key, aad, key_pem, strlen(key_pem), &sealed)
            : LEEC_E_NOMEM;
    free(aad);
    if (rc != LEEC_OK)
        return rc;
    /* Key and document in one row, one statement: never one without the
     * other. */
    const char *v[] = {ca_id, sealed, account_json};
    rc = pg_q_do(p,
                 "INSERT INTO leec_accounts (ca_id, key_sealed, account_json)"
                 " VALUES ($1, $2, $3) ON CONFLICT (ca_id) DO UPDATE SET"
                 " key_sealed = EXCLUDED.key_sealed,"
                 " account_json = EXCLUDED.account_json, updated = now()",
                 3, v);
    free(sealed);
    return rc;
}

static leec_code pg_account_remove(leec_store *s, const char *ca_id)
{
    const char *v[] = {ca_id};
    return pg_q_do(impl(s), "DELETE FROM leec_accounts WHERE ca_id = $1", 1, v);
}

/* ------------------------------------------------------------------ */
/* Versions                                                            */
/* ------------------------------------------------------------------ */

static leec_code pg_version_read(leec_store *s, const char *name, unsigned want,
                                 leec_store_version *out)
{
    pg_store *p = impl(s);
    leec_code rc = LEEC_OK;
    char w[16];
    /* None at the claim, and none installed through this instance since,
     * under a lease still held: only its holder installs one. */
    pg_held *h = held_find(p, "cert", name);
    if (h && h->no_version && !h->lost)
        return LEEC_E_NOT_FOUND;
    if (mine_valid(p, name))
        return mine_read(p, want, out);
    if (h && h->ver && !h->lost)
        return claimed_read(p, name, h->ver, want, out);
    snprintf(w, sizeof w, "%u", want);
    const char *v[] = {name, w};
    /* One statement: every part from the one version current then. */
    PGresult *r =
        pg_q(p, &rc,
             "SELECT v.number,"
             " CASE WHEN $2::int & 1 <> 0 THEN v.privkey_sealed END,"
             " CASE WHEN $2::int & 2 <> 0 THEN v.cert END,"
             " CASE WHEN $2::int & 4 <> 0 THEN v.chain END,"
             " CASE WHEN $2::int & 8 <> 0 THEN v.fullchain END,"
             " CASE WHEN $2::int & 16 <> 0 THEN v.meta END,"
             " CASE WHEN $2::int & 32 <> 0 THEN v.renewal END"
             " FROM leec_certs c JOIN leec_versions v"
             " ON v.name = c.name AND v.number = c.current WHERE c.name = $1",
             2, v);
    if (!r)
        return rc;
    leec_store_version got = {0};
    if (PQntuples(r) != 1)
        rc = LEEC_E_NOT_FOUND;
    else if (!col_u64(r, 0, 0, &got.number))
        rc = LEEC_E_IO;
    for (int part = 1; rc == LEEC_OK && part < LEEC_PART_COUNT; part++)
        rc = col_dup(r, 0, 1 + part, LEEC_STORE_PART_MAX, &got.text[part],
                     &got.len[part]);
    if (rc == LEEC_OK && !PQgetisnull(r, 0, 1)) {
        char *sealed = NULL, *aad = aad_version(name, got.number), what[64];
        snprintf(what, sizeof what, "the private key of version %" PRIu64,
                 got.number);
        rc =
            aad ? col_dup(r, 0, 1, PG_SEALED_MAX, &sealed, NULL) : LEEC_E_NOMEM;
        if (rc == LEEC_OK)
            rc = pg_unseal(p, aad, what, sealed, &got.text[LEEC_PART_PRIVKEY],
                           &got.len[LEEC_PART_PRIVKEY]);
        if (rc == LEEC_OK && got.len[LEEC_PART_PRIVKEY] > LEEC_STORE_PART_MAX)
            rc = LEEC_E_TOO_LARGE;
        free(sealed);
        free(aad);
    }
    PQclear(r);
    if (rc != LEEC_OK)
        leec_store_version_clear(&got);
    else
        *out = got;
    return rc;
}

typedef struct pg_install {
    const char *name;
    const leec_store_new_version *in;
    const char *names; /* in->names, one a line, or NULL */
    const char *next;  /* when it next needs a look (Unix time), or NULL */
    const char *not_after;
    uint64_t token;
    uint64_t number; /* out */
} pg_install;

/* Two statements, no transaction: the version's number first (its own
 * transaction: a failed install leaves a gap, never a reused number),
 * then, in one statement, the lease checked (FOR SHARE), the version
 * written, made current unless a newer one is, the order's journal entry
 * dropped (its order is done: the library drops it next, and finds it
 * gone) and the nodes told (NOTIFY, sent at COMMIT). The key is sealed
 * between the two, its additional data naming the number. When the number
 * is known ahead (the claim read the last one, and only the lease's holder
 * installs), one statement: the number taken only if it is still the
 * next, else the two. */
#define PG_NUMBER_SQL                                                          \
    "INSERT INTO leec_certs (name, last_number)"                               \
    " VALUES ($1, 1) ON CONFLICT (name) DO UPDATE SET"                         \
    " last_number = leec_certs.last_number + 1 RETURNING last_number"
#define PG_INSTALL_PREDICTED_SQL                                               \
    "WITH lk AS (SELECT 1 FROM leec_certs WHERE name = $1 FOR UPDATE),"        \
    " ok AS (SELECT 1 FROM leec_leases WHERE kind = 'cert'"                    \
    " AND name = $1 AND token = $11::bigint AND expires > now()"               \
    " AND EXISTS (SELECT 1 FROM lk) FOR SHARE),"                               \
    " c AS (UPDATE leec_certs SET last_number = $2::bigint,"                   \
    "  current = $2::bigint, updated = now(),"                                 \
    "  next_check = COALESCE(to_timestamp($10::double precision),"             \
    "  now() + interval '1 hour') WHERE name = $1"                             \
    "  AND last_number = $2::bigint - 1 AND EXISTS (SELECT 1 FROM ok)"         \
    "  RETURNING name),"                                                       \
    " v AS (INSERT INTO leec_versions (name, number, privkey_sealed,"          \
    "  cert, chain, fullchain, meta, names, not_after)"                        \
    "  SELECT $1, $2::bigint, $3, $4, $5, $6, $7,"                             \
    "  COALESCE(string_to_array($8, E'\\n'), '{}'),"                           \
    "  to_timestamp($9::double precision) FROM c RETURNING 1),"                \
    " j AS (DELETE FROM leec_journal WHERE name = $1"                          \
    "  AND EXISTS (SELECT 1 FROM c) RETURNING 1),"                             \
    " n AS (SELECT pg_notify('leec_versions', $1) FROM c)"                     \
    " SELECT EXISTS (SELECT 1 FROM ok), (SELECT count(*) FROM v),"             \
    " (SELECT count(*) FROM n)"
#define PG_INSTALL_SQL                                                         \
    "WITH lk AS (SELECT 1 FROM leec_certs WHERE name = $1 FOR UPDATE),"        \
    " ok AS (SELECT 1 FROM leec_leases WHERE kind = 'cert'"                    \
    " AND name = $1 AND token = $11::bigint AND expires > now()"               \
    " AND EXISTS (SELECT 1 FROM lk) FOR SHARE),"                               \
    " go AS (SELECT 1 AS one WHERE $11::bigint = 0"                            \
    "  OR EXISTS (SELECT 1 FROM ok)),"                                         \
    " v AS (INSERT INTO leec_versions (name, number, privkey_sealed,"          \
    "  cert, chain, fullchain, meta, names, not_after)"                        \
    "  SELECT $1, $2::bigint, $3, $4, $5, $6, $7,"                             \
    "  COALESCE(string_to_array($8, E'\\n'), '{}'),"                           \
    "  to_timestamp($9::double precision) FROM go"                             \
    "  RETURNING name, number),"                                               \
    " c AS (UPDATE leec_certs c SET current = v.number, updated = now(),"      \
    "  next_check = COALESCE(to_timestamp($10::double precision),"             \
    "  now() + interval '1 hour') FROM v WHERE c.name = v.name"                \
    "  AND (c.current IS NULL OR c.current < v.number) RETURNING 1),"          \
    " j AS (DELETE FROM leec_journal WHERE name = $1"                          \
    "  AND $11::bigint <> 0 AND EXISTS (SELECT 1 FROM v) RETURNING 1),"        \
    " n AS (SELECT pg_notify('leec_versions', $1) FROM c)"                     \
    " SELECT EXISTS (SELECT 1 FROM go), (SELECT count(*) FROM n)"

static leec_code pg_install_number(pg_store *p, const char *name,
                                   uint64_t *number)
{
    leec_code rc = LEEC_OK;
    const char *v[] = {name};
    PGresult *r = pg_q(p, &rc, PG_NUMBER_SQL, 1, v);
    if (!r)
        return rc;
    if (PQntuples(r) != 1 || !col_u64(r, 0, 0, number))
        rc = LEEC_E_IO;
    PQclear(r);
    return rc;
}

/* The key sealed for a->number (*sealed, the caller frees it) and the 11
 * values of either install statement in v (num, tok: the caller's). */
static leec_code install_values(pg_store *p, const pg_install *a, char **sealed,
                                char num[24], char tok[24], const char *v[11])
{
    char *aad = aad_version(a->name, a->number);
    leec_code rc = aad ? Leec_seal(&p->key, aad, a->in->privkey,
                                   strlen(a->in->privkey), sealed)
                       : LEEC_E_NOMEM;
    free(aad);
    if (rc != LEEC_OK)
        return rc;
    u64s(num, 24, a->number);
    u64s(tok, 24, a->token);
    const char *w[11] = {a->name,
                         num,
                         *sealed,
                         a->in->cert,
                         a->in->chain ? a->in->chain : "",
                         a->in->fullchain,
                         a->in->meta_json,
                         a->names,
                         a->not_after,
                         a->next,
                         tok};
    memcpy(v, w, sizeof w);
    return LEEC_OK;
}

/* What an install statement answered: LEEC_E_FENCED, and for the
 * predicted one LEEC_E_NOT_FOUND when the number was not the next. */
static leec_code install_result(const PGresult *r, bool predicted)
{
    if (PQntuples(r) != 1)
        return LEEC_E_IO;
    if (strcmp(PQgetvalue(r, 0, 0), "t") != 0)
        return LEEC_E_FENCED;
    if (predicted && strcmp(PQgetvalue(r, 0, 1), "1") != 0)
        return LEEC_E_NOT_FOUND;
    return LEEC_OK;
}

static leec_code install_stmt(pg_store *p, pg_install *a, bool predicted)
{
    char *sealed = NULL, num[24], tok[24];
    const char *v[11];
    leec_code rc = install_values(p, a, &sealed, num, tok, v);
    if (rc != LEEC_OK)
        return rc;
    PGresult *r = pg_q(
        p, &rc, predicted ? PG_INSTALL_PREDICTED_SQL : PG_INSTALL_SQL, 11, v);
    free(sealed);
    if (!r)
        return rc;
    rc = install_result(r, predicted);
    PQclear(r);
    return rc;
}

static leec_code install_one(pg_store *p, pg_install *a)
{
    leec_code rc = pg_install_number(p, a->name, &a->number);
    return rc == LEEC_OK ? install_stmt(p, a, false) : rc;
}

/* What the instance knows after an install of name under token, number. */
static void installed(pg_store *p, const char *name, uint64_t token,
                      uint64_t number, const leec_store_new_version *in)
{
    pg_held *h = held_find(p, "cert", name);
    if (h)
        h->no_version = false;
    held_ver_forget(h);
    if (h && token && h->token == token) {
        h->last_number = number;
        h->last_known = true;
        h->journal_gone = true;
    }
    mine_keep(p, name, number, token, in);
}

/* The identifiers, one a line (none may hold a line break). */
static leec_code names_text(const leec_store_new_version *in, char **out)
{
    size_t n = 0;
    *out = NULL;
    if (!in->nnames)
        return LEEC_OK;
    for (size_t i = 0; i < in->nnames; i++) {
        if (!*in->names[i] || strpbrk(in->names[i], "\r\n") ||
            strlen(in->names[i]) > 1024)
            return LEEC_E_INVALID_ARG;
        n += strlen(in->names[i]) + 1;
    }
    if (n > LEEC_STORE_PART_MAX)
        return LEEC_E_TOO_LARGE;
    char *t = malloc(n), *w = t;
    if (!t)
        return LEEC_E_NOMEM;
    for (size_t i = 0; i < in->nnames; i++) {
        size_t l = strlen(in->names[i]);
        memcpy(w, in->names[i], l);
        w += l;
        *w++ = i + 1 < in->nnames ? '\n' : '\0';
    }
    *out = t;
    return LEEC_OK;
}

/* What both installs compute first: the names one a line (*names), and
 * from the leaf, a safe first guess of when to look again (two thirds of
 * its life; the library schedules the precise time right after) and its
 * end, as Unix times ("" when the leaf cannot be read). */
static leec_code install_prep(const leec_store_new_version *in, char **names,
                              char next[24], char na[24])
{
    unsigned char *der = NULL;
    size_t derlen = 0;
    time_t nb = 0, nafter = 0;
    char *serial = NULL;
    leec_code rc = names_text(in, names);
    if (rc != LEEC_OK)
        return rc;
    if (Leec_pem_cert_der(in->cert, strlen(in->cert), &der, &derlen) ==
            LEEC_OK &&
        Leec_der_cert_basics(der, derlen, &nb, &nafter, &serial) == LEEC_OK &&
        nafter > nb) {
        snprintf(next, 24, "%lld",
                 (long long)nb + ((long long)nafter - (long long)nb) * 2 / 3);
        snprintf(na, 24, "%lld", (long long)nafter);
    }
    free(der);
    free(serial);
    return LEEC_OK;
}

static leec_code pg_version_install(leec_store *s, const char *name,
                                    const leec_store_new_version *in,
                                    uint64_t *number)
{
    pg_store *p = impl(s);
    char next[24] = "", na[24] = "", *names = NULL;
    leec_code rc = install_prep(in, &names, next, na);
    if (rc != LEEC_OK)
        return rc;
    pg_install a = {.name = name,
                    .in = in,
                    .names = names,
                    .next = *next ? next : NULL,
                    .not_after = *na ? na : NULL,
                    .token = cert_token(p, name, leec_store_write_token(s))};
    pg_held *held = a.token ? held_find(p, "cert", name) : NULL;
    rc = LEEC_E_NOT_FOUND;
    if (held && held->token == a.token && held->last_known && !held->lost) {
        a.number = held->last_number + 1;
        rc = install_stmt(p, &a, true);
    }
    if (rc == LEEC_E_NOT_FOUND)
        rc = install_one(p, &a);
    free(names);
    if (rc == LEEC_OK) {
        *number = a.number;
        installed(p, name, a.token, a.number, in);
    }
    return rc;
}

static leec_code pg_list_numbers(leec_store *s, char ***names,
                                 uint64_t **numbers, size_t *n)
{
    pg_store *p = impl(s);
    leec_code rc = LEEC_OK;
    PGresult *r = pg_q(p, &rc,
                       "SELECT name, current FROM leec_certs"
                       " WHERE current IS NOT NULL ORDER BY name COLLATE \"C\"",
                       0, NULL);
    if (!r)
        return rc;
    rc = names_of(r, names, n);
    if (rc == LEEC_OK && *n && !(*numbers = calloc(*n, sizeof **numbers)))
        rc = LEEC_E_NOMEM;
    for (size_t i = 0; rc == LEEC_OK && i < *n; i++)
        if (!col_u64(r, (int)i, 1, &(*numbers)[i]))
            rc = LEEC_E_IO;
    PQclear(r);
    return rc;
}

static leec_code pg_list(leec_store *s, char ***names, size_t *n)
{
    return pg_names(impl(s),
                    "SELECT name FROM leec_certs WHERE current IS NOT NULL"
                    " ORDER BY name COLLATE \"C\"",
                    names, n);
}

typedef struct pg_reset {
    const char *name; /* NULL: everything */
} pg_reset;

static leec_code reset_body(pg_store *p, void *arg)
{
    pg_reset *a = arg;
    const char *v[] = {p->holder, a->name};
    /* The certificates' rows first (claim skips them then), and no lease
     * granted while this runs (reset is rare): the check below holds
     * until COMMIT, and the order of the locks is claim's. */
    if (!(a->name ? pg_do(p,
                          "SELECT 1 FROM leec_certs WHERE name = $1"
                          " FOR UPDATE",
                          1, v + 1)
                  : pg_do(p, "SELECT 1 FROM leec_certs FOR UPDATE", 0, NULL)) ||
        !pg_do(p, "LOCK TABLE leec_leases IN SHARE ROW EXCLUSIVE MODE", 0,
               NULL))
        return LEEC_E_IO;
    PGresult *r = pg_exec(
        p,
        a->name ? "SELECT host, pid FROM leec_leases WHERE kind = 'cert'"
                  " AND name = $2 AND holder <> $1 AND expires > now()"
                : "SELECT host, pid FROM leec_leases WHERE kind IN ('cert',"
                  " 'account') AND holder <> $1 AND expires > now()",
        a->name ? 2 : 1, v);
    if (!r)
        return LEEC_E_IO;
    leec_code rc = LEEC_OK;
    for (int i = 0; i < PQntuples(r) && rc == LEEC_OK; i++)
        if (!holder_dead(p, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1)))
            rc = LEEC_E_LOCKED;
    PQclear(r);
    if (rc != LEEC_OK)
        return rc;
    bool ok =
        a->name
            ? pg_do(p, "DELETE FROM leec_journal WHERE name = $1", 1, v + 1) &&
                  pg_do(p, "DELETE FROM leec_certs WHERE name = $1", 1, v + 1)
            : pg_do(p, "DELETE FROM leec_journal", 0, NULL) &&
                  pg_do(p, "DELETE FROM leec_certs", 0, NULL) &&
                  pg_do(p, "DELETE FROM leec_accounts", 0, NULL);
    return ok ? LEEC_OK : LEEC_E_IO;
}

static leec_code pg_reset_op(leec_store *s, const char *name)
{
    pg_reset a = {.name = name};
    mine_forget(impl(s), name);
    held_ver_forget(held_find(impl(s), "cert", name));
    return pg_tx(impl(s), reset_body, &a);
}

/* The renewal state of the current version, one statement: written only
 * while the lease (read FOR SHARE) carries the token (0: none presented);
 * the answer says which of the two failed. */
#define PG_RENEWAL_SQL                                                         \
    "WITH ok AS (SELECT 1 FROM leec_leases WHERE kind = 'cert'"                \
    " AND name = $1 AND token = $4::bigint AND expires > now() FOR SHARE),"    \
    " u AS (UPDATE leec_versions v SET renewal = $3 FROM leec_certs c"         \
    " WHERE c.name = $1 AND c.current = $2::bigint AND v.name = c.name"        \
    " AND v.number = c.current"                                                \
    " AND ($4::bigint = 0 OR EXISTS (SELECT 1 FROM ok)) RETURNING 1)"          \
    " SELECT EXISTS (SELECT 1 FROM u),"                                        \
    " $4::bigint = 0 OR EXISTS (SELECT 1 FROM ok)"

static leec_code renewal_result(const PGresult *r)
{
    if (PQntuples(r) != 1)
        return LEEC_E_IO;
    if (strcmp(PQgetvalue(r, 0, 1), "t") != 0)
        return LEEC_E_FENCED;
    return strcmp(PQgetvalue(r, 0, 0), "t") == 0 ? LEEC_OK : LEEC_E_NOT_FOUND;
}

/* What this instance keeps of a version (the claim's, its own last
 * install) takes the new renewal state when it is of that version, else
 * is forgotten. */
static void keep_renewal(pg_store *p, const char *name, uint64_t number,
                         const char *json)
{
    pg_held *h = held_find(p, "cert", name);
    leec_store_version *kept[] = {
        h ? h->ver : NULL,
        p->mine_name && strcmp(p->mine_name, name) == 0 ? &p->mine : NULL};
    for (size_t i = 0; i < 2; i++) {
        if (!kept[i])
            continue;
        char *copy = kept[i]->number == number ? strdup(json) : NULL;
        if (!copy) {
            if (i == 0)
                held_ver_forget(h);
            else
                mine_forget(p, name);
            continue;
        }
        free(kept[i]->text[LEEC_PART_RENEWAL]);
        kept[i]->text[LEEC_PART_RENEWAL] = copy;
        kept[i]->len[LEEC_PART_RENEWAL] = strlen(copy);
    }
}

static leec_code aq_renewal(pg_store *p, const char *name,
                            const char *const *v);

static leec_code pg_renewal_write(leec_store *s, const char *name,
                                  uint64_t number, const char *json)
{
    pg_store *p = impl(s);
    char num[24], tok[24];
    u64s(num, sizeof num, number);
    u64s(tok, sizeof tok, cert_token(p, name, leec_store_write_token(s)));
    const char *v[] = {name, num, json, tok};
    keep_renewal(p, name, number, json);
    /* On the loop (the library only logs a failure here), when what this
     * instance keeps of the version took the new state (the reads through
     * it see the write at once): sent without waiting, a refusal logged
     * when it comes. Otherwise a read could overtake it: written now. */
    pg_held *h = held_find(p, "cert", name);
    bool kept = (h && h->ver && !h->lost && h->ver->number == number) ||
                (mine_valid(p, name) && p->mine.number == number);
    if (p->async_on && kept && aq_renewal(p, name, v) == LEEC_OK)
        return LEEC_OK;
    leec_code rc = LEEC_OK;
    PGresult *r = pg_q(p, &rc, PG_RENEWAL_SQL, 4, v);
    if (!r)
        return rc;
    rc = renewal_result(r);
    PQclear(r);
    return rc;
}

/* ------------------------------------------------------------------ */
/* http-01 tokens                                                      */
/* ------------------------------------------------------------------ */

#define PG_TOKEN_PUT_SQL                                                       \
    "WITH i AS (INSERT INTO leec_tokens (token, key_auth)"                     \
    " VALUES ($1, $2) ON CONFLICT (token) DO UPDATE SET"                       \
    " key_auth = EXCLUDED.key_auth, created = now() RETURNING token)"          \
    " SELECT pg_notify('leec_tokens', $1 || ' ' || $2) FROM i"

/* The index of token among those deleted and not yet told, or -1. */
static long gone_find(pg_store *p, const char *token)
{
    for (size_t i = 0; i < p->ngone; i++)
        if (strcmp(p->gone[i], token) == 0)
            return (long)i;
    return -1;
}

/* The tokens deleted as a text[] literal (base64url: nothing to quote),
 * or NULL; "{}" for none. */
static char *gone_array(pg_store *p)
{
    size_t len = 3;
    for (size_t i = 0; i < p->ngone; i++)
        len += strlen(p->gone[i]) + 1;
    char *a = malloc(len), *w = a;
    if (!a)
        return NULL;
    *w++ = '{';
    for (size_t i = 0; i < p->ngone; i++) {
        size_t l = strlen(p->gone[i]);
        if (i)
            *w++ = ',';
        memcpy(w, p->gone[i], l);
        w += l;
    }
    memcpy(w, "}", 2);
    return a;
}

static void gone_clear(pg_store *p)
{
    leec_store_list_free(p->gone, p->ngone);
    p->gone = NULL;
    p->ngone = 0;
}

/* The deletes told at last, by a statement of their own. */
static leec_code gone_flush(pg_store *p)
{
    if (!p->ngone)
        return LEEC_OK;
    char *arr = gone_array(p);
    if (!arr)
        return LEEC_E_NOMEM;
    const char *v[] = {arr};
    leec_code rc = pg_q_do(
        p, "DELETE FROM leec_tokens WHERE token = ANY ($1::text[])", 1, v);
    free(arr);
    if (rc == LEEC_OK)
        gone_clear(p);
    return rc;
}

#define PG_GONE_MAX 512 /* deletes kept back at most */

static leec_code pg_token_put(leec_store *s, const char *token,
                              const char *key_auth)
{
    pg_store *p = impl(s);
    long g = gone_find(p, token);
    if (g >= 0) {
        free(p->gone[g]);
        p->gone[g] = p->gone[--p->ngone];
    }
    const char *v[] = {token, key_auth};
    /* Announced in the same statement (at COMMIT): the other nodes'
     * responders know it before the CA asks them, most of the time. */
    return pg_q_do(p, PG_TOKEN_PUT_SQL, 2, v);
}

static leec_code pg_token_get(leec_store *s, const char *token, char **key_auth)
{
    pg_store *p = impl(s);
    leec_code rc = LEEC_OK;
    if (gone_find(p, token) >= 0)
        return LEEC_E_NOT_FOUND;
    const char *v[] = {token};
    PGresult *r =
        pg_q(p, &rc, "SELECT key_auth FROM leec_tokens WHERE token = $1", 1, v);
    if (!r)
        return rc;
    rc = PQntuples(r) == 1 ? col_dup(r, 0, 0, 1024, key_auth, NULL)
                           : LEEC_E_NOT_FOUND;
    if (rc == LEEC_OK && !*key_auth)
        rc = LEEC_E_NOT_FOUND;
    PQclear(r);
    return rc;
}

static leec_code pg_token_delete(leec_store *s, const char *token)
{
    pg_store *p = impl(s);
    if (gone_find(p, token) >= 0)
        return LEEC_OK;
    char **v = realloc(p->gone, (p->ngone + 1) * sizeof *v);
    if (!v)
        return LEEC_E_NOMEM;
    p->gone = v;
    if (!(v[p->ngone] = strdup(token)))
        return LEEC_E_NOMEM;
    p->ngone++;
    return p->ngone >= PG_GONE_MAX ? gone_flush(p) : LEEC_OK;
}

/* ------------------------------------------------------------------ */
/* Leases                                                              */
/* ------------------------------------------------------------------ */

/* One attempt at kind/name: the token granted, 0 when another holds it. A
 * row of this instance's, unexpired, is kept with its token (a claim, or
 * a second lease of the same): one grant. */
static leec_code lease_grant(pg_store *p, const char *kind, const char *name,
                             unsigned ttl_s, uint64_t *token)
{
    char pid[24], ttl[16];
    leec_code rc = LEEC_OK;
    *token = 0;
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    snprintf(ttl, sizeof ttl, "%u", ttl_s);
    /* A release of ours still on its way (sent without waiting): our row
     * gets a new token, so that the release, which deletes the row of the
     * old one, cannot take this grant with it, whichever lands first. */
    const char *fresh = aq_unlocking(p, kind, name) ? "t" : "f";
    const char *v[] = {kind,    name, p->holder, p->node,
                       p->host, pid,  ttl,       fresh};
    PGresult *r = pg_q(
        p, &rc,
        "INSERT INTO leec_leases AS l (kind, name, token, holder, node, host,"
        " pid, expires) VALUES ($1, $2, nextval('leec_fence'), $3, $4, $5,"
        " $6::bigint, now() + make_interval(secs => $7::double precision))"
        " ON CONFLICT (kind, name) DO UPDATE SET"
        " token = CASE WHEN l.holder = EXCLUDED.holder AND l.expires > now()"
        "  AND NOT $8::boolean THEN l.token ELSE EXCLUDED.token END,"
        " expires = CASE WHEN l.holder = EXCLUDED.holder AND l.expires > now()"
        "  THEN greatest(l.expires, EXCLUDED.expires) ELSE EXCLUDED.expires"
        "  END,"
        " holder = EXCLUDED.holder, node = EXCLUDED.node,"
        " host = EXCLUDED.host, pid = EXCLUDED.pid"
        " WHERE l.expires <= now() OR l.holder = EXCLUDED.holder"
        " RETURNING token",
        8, v);
    if (!r)
        return rc;
    if (PQntuples(r) == 1 && !col_u64(r, 0, 0, token))
        rc = LEEC_E_IO;
    PQclear(r);
    if (rc != LEEC_OK || *token)
        return rc;
    /* Held by another: taken over at once when its process is gone. */
    r = pg_q(p, &rc,
             "SELECT token, host, pid FROM leec_leases"
             " WHERE kind = $1 AND name = $2",
             2, v);
    if (!r)
        return rc;
    if (PQntuples(r) == 1 &&
        holder_dead(p, PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2))) {
        const char *v2[] = {kind,    name, p->holder, p->node,
                            p->host, pid,  ttl,       PQgetvalue(r, 0, 0)};
        PGresult *t = pg_q(
            p, &rc,
            "UPDATE leec_leases SET token = nextval('leec_fence'),"
            " holder = $3, node = $4, host = $5, pid = $6::bigint,"
            " expires = now() + make_interval(secs => $7::double precision)"
            " WHERE kind = $1 AND name = $2 AND token = $8::bigint"
            " RETURNING token",
            8, v2);
        if (t && PQntuples(t) == 1 && !col_u64(t, 0, 0, token))
            rc = LEEC_E_IO;
        PQclear(t);
    }
    PQclear(r);
    return rc;
}

static leec_code pg_lease(leec_store *s, const char *kind, const char *name,
                          unsigned ttl_s, void **handle, uint64_t *token)
{
    pg_store *p = impl(s);
    uint64_t t = 0;
    leec_code rc = LEEC_OK;
    /* Held already (claimed, or leased by another handle) and not known
     * lost: the same grant, without a round trip. Should the database
     * have expired it since the last heartbeat, the first write under it
     * is refused (every write checks the token in its statement). */
    pg_held *mine = held_find(p, kind, name);
    if (mine && !mine->lost) {
        mine->refs++;
        *handle = mine;
        *token = mine->token;
        return LEEC_OK;
    }
    /* A release between the two statements of lease_grant: once more. */
    for (int i = 0; i < 2 && rc == LEEC_OK && !t; i++)
        rc = lease_grant(p, kind, name, ttl_s, &t);
    if (rc != LEEC_OK)
        return rc;
    if (!t)
        return LEEC_E_LOCKED;
    pg_held *h = held_add(p, kind, name, t, 1);
    if (!h) {
        char tok[24];
        u64s(tok, sizeof tok, t);
        const char *v[] = {kind, name, tok};
        pg_q_do(p,
                "DELETE FROM leec_leases WHERE kind = $1 AND name = $2"
                " AND token = $3::bigint",
                3, v);
        return LEEC_E_NOMEM;
    }
    *handle = h;
    *token = t;
    return LEEC_OK;
}

static leec_code pg_lock(leec_store *s, const char *kind, const char *name,
                         void **handle)
{
    uint64_t t = 0;
    return pg_lease(s, kind, name, LEEC_LEASE_TTL_S, handle, &t);
}

#define PG_UNLOCK_SQL                                                          \
    "DELETE FROM leec_leases WHERE kind = $1 AND name = $2"                    \
    " AND token = $3::bigint"
/* The next look written and the lease let go: d after u (which reads ok):
 * the row checked, then deleted. */
#define PG_UNLOCK_SCHED_SQL                                                    \
    "WITH lk AS (SELECT 1 FROM leec_certs WHERE name = $2 FOR UPDATE),"        \
    " ok AS (SELECT 1 FROM leec_leases WHERE kind = $1 AND name = $2"          \
    " AND token = $3::bigint AND expires > now()"                              \
    " AND EXISTS (SELECT 1 FROM lk) FOR UPDATE),"                              \
    " u AS (UPDATE leec_certs SET next_check ="                                \
    " to_timestamp($4::double precision) WHERE name = $2"                      \
    " AND EXISTS (SELECT 1 FROM ok) RETURNING 1),"                             \
    " d AS (DELETE FROM leec_leases WHERE kind = $1 AND name = $2"             \
    " AND token = $3::bigint AND (SELECT count(*) FROM u) >= 0"                \
    " RETURNING 1)"                                                            \
    " SELECT EXISTS (SELECT 1 FROM u)"

static leec_code aq_unlock(pg_store *p, const char *name, const char *sql,
                           int n, const char *const *v);

static void pg_unlock(leec_store *s, void *handle)
{
    pg_store *p = impl(s);
    pg_held *h = handle;
    char tok[24];
    if (!h || h->refs == 0 || --h->refs > 0)
        return;
    u64s(tok, sizeof tok, h->token);
    const char *v[] = {h->kind, h->name, tok, NULL};
    /* Only ours: a lease lost and granted again is the new holder's. A
     * failure leaves the row to expire. */
    if (!h->sched) {
        if (!p->async_on ||
            aq_unlock(p, h->name, PG_UNLOCK_SQL, 3, v) != LEEC_OK)
            pg_q_do(p, PG_UNLOCK_SQL, 3, v);
        held_drop(p, h);
        return;
    }
    /* The next look kept back by schedule(), written while the lease is
     * still ours, and the lease let go: one statement. */
    char w[24];
    snprintf(w, sizeof w, "%" PRId64, h->sched_when);
    v[3] = w;
    /* On the loop: sent without waiting; the answer is only logged. */
    if (p->async_on &&
        aq_unlock(p, h->name, PG_UNLOCK_SCHED_SQL, 4, v) == LEEC_OK) {
        held_drop(p, h);
        return;
    }
    leec_code rc = LEEC_OK;
    PGresult *r = pg_q(p, &rc, PG_UNLOCK_SCHED_SQL, 4, v);
    if (rc == LEEC_OK &&
        (!r || PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 0), "t") != 0))
        rc = LEEC_E_FENCED;
    PQclear(r);
    if (rc != LEEC_OK && p->s)
        Leec_store_log(p->s, LEEC_LOG_WARN,
                       "PostgreSQL store: %s: when to look at it next was not "
                       "recorded: %s",
                       h->name, leec_strerror(rc));
    held_drop(p, h);
}

static void pg_unclaim(leec_store *s, const char *name)
{
    pg_store *p = impl(s);
    pg_held *h = held_find(p, "cert", name);
    if (!h || h->refs > 0)
        return; /* not claimed, or leased: unlock lets it go */
    char tok[24];
    u64s(tok, sizeof tok, h->token);
    const char *v[] = {"cert", name, tok};
    /* A failure leaves the row, which no heartbeat renews any more: it
     * expires. */
    pg_q_do(p,
            "DELETE FROM leec_leases WHERE kind = $1 AND name = $2"
            " AND token = $3::bigint",
            3, v);
    held_drop(p, h);
}

static leec_code pg_fence(leec_store *s, const char *kind, const char *name,
                          uint64_t token)
{
    pg_store *p = impl(s);
    char tok[24];
    leec_code rc = LEEC_OK;
    u64s(tok, sizeof tok, token);
    const char *v[] = {kind, name, tok};
    PGresult *r = pg_q(p, &rc,
                       "SELECT 1 FROM leec_leases WHERE kind = $1"
                       " AND name = $2 AND token = $3::bigint"
                       " AND expires > now()",
                       3, v);
    if (!r)
        return rc;
    rc = PQntuples(r) == 1 ? LEEC_OK : LEEC_E_FENCED;
    PQclear(r);
    return rc;
}

static leec_code pg_lock_holder(leec_store *s, const char *kind,
                                const char *name, long *pid, char **host)
{
    pg_store *p = impl(s);
    leec_code rc = LEEC_OK;
    const char *v[] = {kind, name};
    PGresult *r = pg_q(p, &rc,
                       "SELECT pid, host FROM leec_leases WHERE kind = $1"
                       " AND name = $2 AND expires > now()",
                       2, v);
    if (!r)
        return rc;
    uint64_t n = 0;
    if (PQntuples(r) != 1 || !col_u64(r, 0, 0, &n) || n > LONG_MAX)
        rc = LEEC_E_NOT_FOUND;
    else if ((rc = col_dup(r, 0, 1, 255, host, NULL)) == LEEC_OK)
        *pid = (long)n;
    PQclear(r);
    return rc;
}

/* ------------------------------------------------------------------ */
/* The order journal                                                   */
/* ------------------------------------------------------------------ */

typedef struct pg_journal {
    const char *name;
    char *sealed; /* NULL: remove */
    uint64_t token;
    bool durable;
} pg_journal;

/* The journal write (or removal) as one statement, its own transaction:
 * the lease row read FOR SHARE in a CTE, the write made only when it
 * carries the token (or none was presented). A later step, which may be
 * lost with the machine (store.h), sets synchronous_commit off for that
 * transaction alone in the same statement (set_config's is_local), so it
 * waits for no WAL flush either. Repeated once after a broken connection:
 * both are idempotent. */
static const char *journal_sql(const pg_journal *a)
{
    return a->sealed && a->durable
               ? "WITH ok AS (SELECT 1 FROM leec_leases WHERE kind = 'cert'"
                 " AND name = $1 AND token = $2::bigint AND expires > now()"
                 " FOR SHARE) INSERT INTO leec_journal (name, entry_sealed)"
                 " SELECT $1, $3 WHERE $2::bigint = 0 OR EXISTS (SELECT 1 FROM"
                 " ok) ON CONFLICT (name) DO UPDATE SET"
                 " entry_sealed = EXCLUDED.entry_sealed, updated = now()"
                 " RETURNING 1"
           : a->sealed
               ? "WITH ok AS (SELECT 1 FROM leec_leases WHERE kind = 'cert'"
                 " AND name = $1 AND token = $2::bigint AND expires > now()"
                 " FOR SHARE), nf AS (SELECT set_config('synchronous_commit',"
                 " 'off', true) AS v) INSERT INTO leec_journal (name,"
                 " entry_sealed) SELECT $1, $3 FROM nf WHERE nf.v = 'off' AND"
                 " ($2::bigint = 0 OR EXISTS (SELECT 1 FROM ok))"
                 " ON CONFLICT (name) DO UPDATE SET"
                 " entry_sealed = EXCLUDED.entry_sealed, updated = now()"
                 " RETURNING 1"
               : "WITH ok AS (SELECT 1 FROM leec_leases WHERE kind = 'cert'"
                 " AND name = $1 AND token = $2::bigint AND expires > now()"
                 " FOR SHARE), d AS (DELETE FROM leec_journal WHERE name = $1"
                 " AND ($2::bigint = 0 OR EXISTS (SELECT 1 FROM ok)) RETURNING"
                 " 1) SELECT $2::bigint = 0 OR EXISTS (SELECT 1 FROM ok)";
}

/* What journal_sql's statement answered. */
static leec_code journal_result(bool write, const PGresult *r)
{
    if (write)
        return PQntuples(r) == 1 ? LEEC_OK : LEEC_E_FENCED;
    return PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0
               ? LEEC_OK
               : LEEC_E_FENCED;
}

static leec_code journal_one(pg_store *p, const pg_journal *a)
{
    char t[24];
    u64s(t, sizeof t, a->token);
    const char *v[] = {a->name, t, a->sealed};
    leec_code rc = LEEC_OK;
    PGresult *r = pg_q(p, &rc, journal_sql(a), a->sealed ? 3 : 2, v);
    if (!r)
        return rc;
    rc = journal_result(a->sealed != NULL, r);
    PQclear(r);
    return rc;
}

/* A journal write made ready: the entry sealed (a->sealed, the caller
 * frees it), the token it is checked against, and what this instance knew
 * of the entry forgotten (one is being written). */
static leec_code journal_prepare(pg_store *p, const char *name, uint64_t token,
                                 const char *entry, bool durable, pg_journal *a)
{
    char *aad = aad_of("journal", name), *sealed = NULL;
    leec_code rc = aad ? Leec_seal(&p->key, aad, entry, strlen(entry), &sealed)
                       : LEEC_E_NOMEM;
    free(aad);
    *a = (pg_journal){.name = name,
                      .sealed = sealed,
                      .token = cert_token(p, name, token),
                      .durable = durable};
    pg_held *h = held_find(p, "cert", name);
    if (h)
        h->journal_gone = false;
    return rc;
}

static leec_code pg_journal_write(leec_store *s, const char *name,
                                  uint64_t token, const char *entry,
                                  bool durable)
{
    pg_store *p = impl(s);
    pg_journal a;
    leec_code rc = journal_prepare(p, name, token, entry, durable, &a);
    if (rc == LEEC_OK)
        rc = journal_one(p, &a);
    free(a.sealed);
    return rc;
}

static leec_code pg_journal_read(leec_store *s, const char *name, char **entry)
{
    pg_store *p = impl(s);
    leec_code rc = LEEC_OK;
    /* None at the claim, or dropped since, under a lease still held: only
     * its holder writes one. */
    pg_held *h = held_find(p, "cert", name);
    if (h && h->journal_gone && !h->lost)
        return LEEC_E_NOT_FOUND;
    const char *v[] = {name};
    PGresult *r = pg_q(
        p, &rc, "SELECT entry_sealed FROM leec_journal WHERE name = $1", 1, v);
    if (!r)
        return rc;
    char *sealed = NULL, *aad = NULL;
    if (PQntuples(r) != 1)
        rc = LEEC_E_NOT_FOUND;
    else if ((rc = col_dup(r, 0, 0, PG_SEALED_MAX, &sealed, NULL)) != LEEC_OK)
        ;
    else if (!(aad = aad_of("journal", name)))
        rc = LEEC_E_NOMEM;
    else
        rc = pg_unseal(p, aad, "the order journal entry", sealed, entry, NULL);
    free(sealed);
    free(aad);
    PQclear(r);
    return rc;
}

static leec_code pg_journal_remove(leec_store *s, const char *name,
                                   uint64_t token)
{
    pg_store *p = impl(s);
    pg_journal a = {
        .name = name, .token = cert_token(p, name, token), .durable = false};
    /* Dropped by the install under this very lease: no round trip. */
    pg_held *h = held_find(p, "cert", name);
    if (h && h->token == a.token && h->journal_gone && !h->lost)
        return LEEC_OK;
    leec_code rc = journal_one(p, &a);
    if (rc == LEEC_OK && h && h->token == a.token)
        h->journal_gone = true;
    return rc;
}

static leec_code pg_journal_list(leec_store *s, char ***names, size_t *n)
{
    return pg_names(impl(s),
                    "SELECT name FROM leec_journal ORDER BY name COLLATE \"C\"",
                    names, n);
}

/* ------------------------------------------------------------------ */
/* The budget log                                                      */
/* ------------------------------------------------------------------ */

static leec_code pg_budget_add(leec_store *s, const char *ca_id, int64_t when,
                               const char *entry, int64_t forget_before)
{
    pg_store *p = impl(s);
    char w[24], f[24];
    snprintf(w, sizeof w, "%lld", (long long)when);
    snprintf(f, sizeof f, "%lld", (long long)forget_before);
    const char *v[] = {ca_id, w, entry};
    leec_code rc = pg_q_do(p,
                           "INSERT INTO leec_budget (ca_id, made, entry) "
                           "VALUES ($1, $2, $3)",
                           3, v);
    const char *fv[] = {ca_id, f};
    if (rc == LEEC_OK)
        (void)pg_q_do(p,
                      "DELETE FROM leec_budget WHERE ca_id = $1 AND "
                      "made < $2",
                      2, fv);
    return rc;
}

static leec_code pg_budget_read(leec_store *s, const char *ca_id, int64_t since,
                                char ***entries, int64_t **whens, size_t *n)
{
    pg_store *p = impl(s);
    leec_code rc = LEEC_OK;
    char f[24];
    snprintf(f, sizeof f, "%lld", (long long)since);
    const char *v[] = {ca_id, f};
    PGresult *r = pg_q(p, &rc,
                       "SELECT made, entry FROM leec_budget WHERE ca_id = $1 "
                       "AND made >= $2 ORDER BY made",
                       2, v);
    if (!r)
        return rc;
    size_t rows = (size_t)PQntuples(r), k = 0;
    char **e = rows ? calloc(rows, sizeof *e) : NULL;
    int64_t *w = rows ? calloc(rows, sizeof *w) : NULL;
    rc = rows && (!e || !w) ? LEEC_E_NOMEM : LEEC_OK;
    for (; rc == LEEC_OK && k < rows; k++) {
        w[k] = (int64_t)strtoll(PQgetvalue(r, (int)k, 0), NULL, 10);
        rc = col_dup(r, (int)k, 1, LEEC_STORE_BUDGET_ENTRY_MAX, &e[k], NULL);
    }
    PQclear(r);
    if (rc != LEEC_OK) {
        for (size_t i = 0; e && i < rows; i++)
            free(e[i]);
        free(e);
        free(w);
        return rc;
    }
    *entries = e;
    *whens = w;
    *n = rows;
    return LEEC_OK;
}

/* ------------------------------------------------------------------ */
/* A store shared by a fleet                                           */
/* ------------------------------------------------------------------ */

static leec_code pg_heartbeat(leec_store *s, unsigned ttl_s)
{
    pg_store *p = impl(s);
    size_t live = 0, len = 3;
    for (size_t i = 0; i < p->nheld; i++)
        if (!p->held[i]->lost) {
            live++;
            len += 21;
        }
    if (!live)
        return gone_flush(p);
    /* The tokens held, as an array literal of numbers: only the leases
     * this instance knows it holds are renewed (one lost in a broken
     * round trip expires). */
    char *arr = malloc(len), ttl[16];
    size_t w = 0;
    if (!arr)
        return LEEC_E_NOMEM;
    arr[w++] = '{';
    for (size_t i = 0; i < p->nheld; i++)
        if (!p->held[i]->lost)
            w += (size_t)snprintf(arr + w, len - w, "%s%" PRIu64,
                                  w > 1 ? "," : "", p->held[i]->token);
    snprintf(arr + w, len - w, "}");
    snprintf(ttl, sizeof ttl, "%u", ttl_s);
    char *gone = gone_array(p);
    if (!gone) {
        free(arr);
        return LEEC_E_NOMEM;
    }
    const char *v[] = {p->holder, ttl, arr, gone};
    leec_code rc = LEEC_OK;
    /* With the tokens deleted since the last beat: one statement. */
    PGresult *r = pg_q(p, &rc,
                       "WITH d AS (DELETE FROM leec_tokens"
                       " WHERE token = ANY ($4::text[]))"
                       " UPDATE leec_leases SET expires = greatest(expires,"
                       " now() + make_interval(secs => $2::double precision))"
                       " WHERE holder = $1 AND token = ANY ($3::bigint[])"
                       " AND expires > now() RETURNING token",
                       4, v);
    free(arr);
    free(gone);
    if (!r)
        return rc;
    gone_clear(p);
    /* Those not renewed are lost: forgotten (a handle still given out
     * stays until unlock, marked lost). */
    for (size_t i = p->nheld; i-- > 0;) {
        pg_held *h = p->held[i];
        bool renewed = false;
        for (int k = 0; k < PQntuples(r) && !renewed && !h->lost; k++) {
            uint64_t t = 0;
            renewed = col_u64(r, k, 0, &t) && t == h->token;
        }
        if (renewed || h->lost)
            continue;
        rc = LEEC_E_FENCED;
        if (h->refs)
            h->lost = true;
        else
            held_drop(p, h);
    }
    PQclear(r);
    return rc;
}

typedef struct pg_claim {
    unsigned max, ttl_s;
    PGresult *r; /* out */
} pg_claim;

static leec_code claim_body(pg_store *p, void *arg)
{
    pg_claim *a = arg;
    char max[16], ttl[16], pid[24];
    snprintf(max, sizeof max, "%u", a->max);
    snprintf(ttl, sizeof ttl, "%u", a->ttl_s);
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    const char *v[] = {p->holder, p->node, p->host, pid, ttl, max};
    /* One statement: the due certificates nobody holds, skipping the rows
     * another node is claiming now, each granted a lease. */
    a->r = pg_exec(
        p,
        "WITH due AS (SELECT c.name FROM leec_certs c"
        " WHERE c.next_check <= now() AND NOT EXISTS (SELECT 1 FROM"
        " leec_leases l WHERE l.kind = 'cert' AND l.name = c.name"
        " AND l.expires > now())"
        " ORDER BY c.next_check, c.name LIMIT $6::int"
        " FOR UPDATE OF c SKIP LOCKED),"
        " granted AS (INSERT INTO leec_leases AS l (kind, name, token,"
        " holder, node, host, pid, expires) SELECT 'cert', name,"
        " nextval('leec_fence'), $1, $2, $3, $4::bigint,"
        " now() + make_interval(secs => $5::double precision) FROM due"
        " ON CONFLICT (kind, name) DO UPDATE SET token = EXCLUDED.token,"
        " holder = EXCLUDED.holder, node = EXCLUDED.node,"
        " host = EXCLUDED.host, pid = EXCLUDED.pid,"
        " expires = EXCLUDED.expires WHERE l.expires <= now()"
        " RETURNING name, token)"
        /* With what the new holder reads first: the settings, whether
         * there is a version, whether there is a journal entry (stable
         * while it holds the lease: only a holder writes them). */
        " SELECT g.name, g.token, c.wanted, c.current IS NULL,"
        " NOT EXISTS (SELECT 1 FROM leec_journal j WHERE j.name = g.name),"
        " c.last_number, v.number, v.privkey_sealed, v.cert, v.chain,"
        " v.fullchain, v.meta, v.renewal"
        " FROM granted g JOIN leec_certs c ON c.name = g.name"
        " LEFT JOIN leec_versions v ON v.name = c.name AND v.number = c.current"
        " ORDER BY g.name COLLATE \"C\"",
        6, v);
    return a->r ? LEEC_OK : LEEC_E_IO;
}

/* The current version the claim read, from column col on (number, then
 * the parts in their order, the key sealed), kept with h. A version that
 * cannot be kept is read when asked for. */
static leec_code claim_version(const PGresult *r, int row, int col, pg_held *h)
{
    leec_store_version *v = calloc(1, sizeof *v);
    if (!v)
        return LEEC_E_NOMEM;
    leec_code rc = col_u64(r, row, col, &v->number) ? LEEC_OK : LEEC_E_IO;
    for (int part = 0; rc == LEEC_OK && part < LEEC_PART_COUNT; part++)
        rc = col_dup(r, row, col + 1 + part,
                     part == LEEC_PART_PRIVKEY ? PG_SEALED_MAX
                                               : LEEC_STORE_PART_MAX,
                     &v->text[part], &v->len[part]);
    if (rc != LEEC_OK) {
        leec_store_version_clear(v);
        free(v);
        return rc == LEEC_E_NOMEM ? rc : LEEC_OK;
    }
    h->ver = v;
    return LEEC_OK;
}

static leec_code pg_claim_op(leec_store *s, unsigned max, unsigned ttl_s,
                             char ***names, uint64_t **tokens, size_t *n)
{
    pg_store *p = impl(s);
    pg_claim a = {.max = max, .ttl_s = ttl_s};
    leec_code rc = pg_tx(p, claim_body, &a);
    if (rc != LEEC_OK) {
        PQclear(a.r);
        return rc;
    }
    int rows = PQntuples(a.r);
    rc = names_of(a.r, names, n);
    if (rc == LEEC_OK && rows > 0 &&
        !(*tokens = calloc((size_t)rows, sizeof **tokens)))
        rc = LEEC_E_NOMEM;
    for (int i = 0; rc == LEEC_OK && i < rows; i++) {
        pg_held *h = NULL;
        if (!col_u64(a.r, i, 1, &(*tokens)[i]))
            rc = LEEC_E_IO;
        else if (!(h = held_add(p, "cert", (*names)[i], (*tokens)[i], 0)))
            rc = LEEC_E_NOMEM;
        else {
            free(h->wanted);
            h->wanted = NULL;
            h->no_version = strcmp(PQgetvalue(a.r, i, 3), "t") == 0;
            h->journal_gone = strcmp(PQgetvalue(a.r, i, 4), "t") == 0;
            h->last_known = col_u64(a.r, i, 5, &h->last_number);
            if (!PQgetisnull(a.r, i, 2))
                rc = col_dup(a.r, i, 2, LEEC_STORE_PART_MAX, &h->wanted, NULL);
            held_ver_forget(h);
            if (rc == LEEC_OK && !PQgetisnull(a.r, i, 6))
                rc = claim_version(a.r, i, 6, h);
        }
    }
    PQclear(a.r);
    /* Granted but not given (out of memory): they expire unrenewed. */
    return rc;
}

static leec_code pg_schedule(leec_store *s, const char *name, int64_t when,
                             uint64_t token)
{
    pg_store *p = impl(s);
    char w[24], t[24];
    uint64_t tk = cert_token(p, name, token);
    /* Under a lease a handle of which is still out: written with the
     * lease's release, in its statement (the engine schedules, then lets
     * go). Lost with the process, the lease expires and the next holder
     * finds the certificate as it is. */
    pg_held *h = held_find(p, "cert", name);
    if (h && h->refs > 0 && !h->lost && tk && h->token == tk) {
        h->sched = true;
        h->sched_when = when;
        return LEEC_OK;
    }
    snprintf(w, sizeof w, "%" PRId64, when);
    u64s(t, sizeof t, tk);
    const char *v[] = {name, w, t};
    leec_code rc = LEEC_OK;
    /* One statement: the certificate's row updated only while the lease
     * (read FOR SHARE in the same statement) carries the token; the
     * answer says which of the two failed. */
    PGresult *r =
        pg_q(p, &rc,
             "WITH lk AS (SELECT 1 FROM leec_certs WHERE name = $1 FOR UPDATE),"
             " ok AS (SELECT 1 FROM leec_leases WHERE kind = 'cert'"
             " AND name = $1 AND token = $3::bigint AND expires > now()"
             " AND EXISTS (SELECT 1 FROM lk) FOR SHARE),"
             " u AS (UPDATE leec_certs SET next_check ="
             " to_timestamp($2::double precision) WHERE name = $1"
             " AND EXISTS (SELECT 1 FROM lk)"
             " AND ($3::bigint = 0 OR EXISTS (SELECT 1 FROM ok)) RETURNING 1)"
             " SELECT EXISTS (SELECT 1 FROM u),"
             " $3::bigint = 0 OR EXISTS (SELECT 1 FROM ok),"
             " EXISTS (SELECT 1 FROM lk)",
             3, v);
    if (!r)
        return rc;
    if (PQntuples(r) != 1)
        rc = LEEC_E_IO;
    else if (strcmp(PQgetvalue(r, 0, 2), "t") != 0)
        rc = LEEC_E_NOT_FOUND;
    else if (strcmp(PQgetvalue(r, 0, 1), "t") != 0)
        rc = LEEC_E_FENCED;
    else if (strcmp(PQgetvalue(r, 0, 0), "t") != 0)
        rc = LEEC_E_NOT_FOUND;
    PQclear(r);
    return rc;
}

static leec_code pg_want(leec_store *s, const char *name, const char *settings)
{
    const char *v[] = {name, settings};
    return pg_q_do(impl(s),
                   "INSERT INTO leec_certs (name, wanted, next_check)"
                   " VALUES ($1, $2, now()) ON CONFLICT (name) DO UPDATE SET"
                   " wanted = EXCLUDED.wanted, next_check = now(),"
                   " updated = now()",
                   2, v);
}

static leec_code pg_wanted_read(leec_store *s, const char *name,
                                char **settings)
{
    pg_store *p = impl(s);
    leec_code rc = LEEC_OK;
    /* Read by the claim a moment ago: given once, without a round trip. */
    pg_held *h = held_find(p, "cert", name);
    if (h && h->wanted) {
        *settings = h->wanted;
        h->wanted = NULL;
        return LEEC_OK;
    }
    const char *v[] = {name};
    PGresult *r = pg_q(p, &rc,
                       "SELECT wanted FROM leec_certs WHERE name = $1"
                       " AND wanted IS NOT NULL",
                       1, v);
    if (!r)
        return rc;
    rc = PQntuples(r) == 1
             ? col_dup(r, 0, 0, LEEC_STORE_PART_MAX, settings, NULL)
             : LEEC_E_NOT_FOUND;
    PQclear(r);
    return rc;
}

static leec_code pg_wanted_list(leec_store *s, char ***names, size_t *n)
{
    return pg_names(impl(s),
                    "SELECT name FROM leec_certs WHERE wanted IS NOT NULL"
                    " ORDER BY name COLLATE \"C\"",
                    names, n);
}

static leec_code pg_unwant(leec_store *s, const char *name)
{
    const char *v[] = {name};
    /* A certificate only wanted, never installed, leaves no row. */
    return pg_q_do(impl(s),
                   "WITH u AS (UPDATE leec_certs SET wanted = NULL,"
                   " updated = now() WHERE name = $1 RETURNING name, current)"
                   " DELETE FROM leec_certs c USING u WHERE c.name = u.name"
                   " AND u.current IS NULL",
                   1, v);
}

static int pg_changes_fd(leec_store *s)
{
    pg_store *p = impl(s);
    if (!p->listening) {
        p->listening = true;
        if (pg_q_do(p, "LISTEN leec_versions", 0, NULL) != LEEC_OK ||
            pg_q_do(p, "LISTEN leec_tokens", 0, NULL) != LEEC_OK) {
            p->listening = false;
            return -1;
        }
    }
    return PQsocket(p->conn);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A token announced by another node, kept in the ring (the oldest
 * replaced). */
static void known_add(pg_store *p, const char *extra)
{
    const char *sp = strchr(extra, ' ');
    if (!sp || sp == extra || !sp[1] || (size_t)(sp - extra) > 256 ||
        strlen(sp + 1) > 1024)
        return;
    if (!p->known && !(p->known = calloc(PG_KNOWN_MAX, sizeof *p->known)))
        return;
    pg_known *k = &p->known[p->known_next];
    char *t = strndup(extra, (size_t)(sp - extra)), *ka = strdup(sp + 1);
    if (!t || !ka) {
        free(t);
        free(ka);
        return;
    }
    free(k->token);
    free(k->key_auth);
    k->token = t;
    k->key_auth = ka;
    p->known_next = (p->known_next + 1) % PG_KNOWN_MAX;
}

/* Reads what came on the connection without waiting: versions other
 * nodes installed (kept for changes()), tokens they announced (kept for
 * token_known()). false when the connection broke. */
static bool drain_notes(pg_store *p)
{
    if (!p->listening || !p->conn)
        return true;
    if (!PQconsumeInput(p->conn))
        return false;
    PGnotify *note;
    while ((note = PQnotifies(p->conn))) {
        /* Our own installs and tokens are not news (sent on this
         * connection, or on the one of the writes that do not wait). */
        if (note->be_pid == PQbackendPID(p->conn) ||
            (p->aq && note->be_pid == PQbackendPID(p->aq)))
            ;
        else if (strcmp(note->relname, "leec_tokens") == 0)
            known_add(p, note->extra);
        else if (strcmp(note->relname, "leec_versions") == 0 &&
                 leec_store_name_valid(note->extra) && p->nchanged < 100000) {
            mine_forget(p, note->extra);
            /* A name not a name is dropped; so is one that finds no room
             * (the periodic look makes up for it). */
            char **nv = realloc(p->changed, (p->nchanged + 1) * sizeof *nv);
            if (nv) {
                p->changed = nv;
                if ((nv[p->nchanged] = strdup(note->extra)))
                    p->nchanged++;
            }
        }
        PQfreemem(note);
    }
    return true;
}

static leec_code pg_changes(leec_store *s, char ***names, size_t *n)
{
    pg_store *p = impl(s);
    if (!p->listening)
        return LEEC_OK;
    if (!drain_notes(p)) {
        /* Connected again (and listening again, on another descriptor:
         * changes_fd tells which); what was announced meanwhile is lost,
         * which the periodic look makes up for. */
        p->broken = true;
        pg_log_error(p, "reading notifications", NULL);
        return pg_ready(p);
    }
    char **v = p->changed;
    size_t k = p->nchanged;
    p->changed = NULL;
    p->nchanged = 0;
    if (k > 1) {
        size_t w = 1;
        qsort(v, k, sizeof *v, cmp_names);
        for (size_t i = 1; i < k; i++)
            if (strcmp(v[i], v[w - 1]) == 0)
                free(v[i]);
            else
                v[w++] = v[i];
        k = w;
    }
    *names = v;
    *n = k;
    return LEEC_OK;
}

static leec_code pg_token_known(leec_store *s, const char *token,
                                char **key_auth)
{
    pg_store *p = impl(s);
    /* What came already, never a wait: a broken connection is made again
     * by the next call that may wait. */
    if (!drain_notes(p))
        p->broken = true;
    for (size_t i = 0; p->known && i < PG_KNOWN_MAX; i++) {
        /* Newest first: a token announced again wins. */
        pg_known *k =
            &p->known[(p->known_next + PG_KNOWN_MAX - 1 - i) % PG_KNOWN_MAX];
        if (!k->token)
            break;
        if (strcmp(k->token, token) == 0)
            return (*key_auth = strdup(k->key_auth)) ? LEEC_OK : LEEC_E_NOMEM;
    }
    return LEEC_E_NOT_FOUND;
}

/* The rows of one table sealed with another key than the current one:
 * opened and sealed again. */
typedef struct pg_rekey_table {
    const char *select; /* key columns then the sealed one, FOR UPDATE */
    const char *update; /* $1.. the key columns, then the new sealed text */
    int nkey;
    const char *kind; /* the AAD's: "account", "journal", "version" */
} pg_rekey_table;

static const pg_rekey_table rekey_tables[] = {
    {"SELECT ca_id, key_sealed FROM leec_accounts"
     " WHERE key_sealed NOT LIKE $1 FOR UPDATE",
     "UPDATE leec_accounts SET key_sealed = $2 WHERE ca_id = $1", 1, "account"},
    {"SELECT name, entry_sealed FROM leec_journal"
     " WHERE entry_sealed NOT LIKE $1 FOR UPDATE",
     "UPDATE leec_journal SET entry_sealed = $2 WHERE name = $1", 1, "journal"},
    {"SELECT name, number, privkey_sealed FROM leec_versions"
     " WHERE privkey_sealed NOT LIKE $1 FOR UPDATE",
     "UPDATE leec_versions SET privkey_sealed = $3 WHERE name = $1"
     " AND number = $2::bigint",
     2, "version"},
};

typedef struct pg_rekey {
    size_t count; /* out */
} pg_rekey;

static leec_code rekey_row(pg_store *p, const pg_rekey_table *t,
                           const PGresult *r, int row)
{
    char *aad = NULL, *plain = NULL, *sealed = NULL;
    size_t n = 0;
    uint64_t num = 0;
    leec_code rc = LEEC_OK;
    const char *name = PQgetvalue(r, row, 0);
    if (t->nkey == 2)
        aad = col_u64(r, row, 1, &num) ? aad_version(name, num) : NULL;
    else
        aad = aad_of(t->kind, name);
    if (!aad)
        return LEEC_E_NOMEM;
    rc = pg_unseal(p, aad, t->kind, PQgetvalue(r, row, t->nkey), &plain, &n);
    if (rc == LEEC_OK)
        rc = Leec_seal(&p->key, aad, plain, n, &sealed);
    free_secret(plain, n);
    free(aad);
    if (rc != LEEC_OK)
        return rc;
    const char *v[] = {name, t->nkey == 2 ? PQgetvalue(r, row, 1) : sealed,
                       sealed};
    rc = pg_do(p, t->update, t->nkey + 1, v) ? LEEC_OK : LEEC_E_IO;
    free(sealed);
    return rc;
}

static leec_code rekey_body(pg_store *p, void *arg)
{
    pg_rekey *a = arg;
    char like[64];
    a->count = 0;
    snprintf(like, sizeof like, "leec-seal-1:%s:%%", p->key.id);
    const char *v[] = {like};
    for (size_t t = 0; t < sizeof rekey_tables / sizeof *rekey_tables; t++) {
        PGresult *r = pg_exec(p, rekey_tables[t].select, 1, v);
        if (!r)
            return LEEC_E_IO;
        leec_code rc = LEEC_OK;
        for (int i = 0; i < PQntuples(r) && rc == LEEC_OK; i++)
            rc = rekey_row(p, &rekey_tables[t], r, i);
        if (rc == LEEC_OK)
            a->count += (size_t)PQntuples(r);
        PQclear(r);
        if (rc != LEEC_OK)
            return rc;
    }
    return LEEC_OK;
}

static leec_code pg_rekey_op(leec_store *s, size_t *count)
{
    pg_rekey a = {0};
    leec_code rc = pg_tx(impl(s), rekey_body, &a);
    if (rc == LEEC_OK)
        *count = a.count;
    return rc;
}

/* ------------------------------------------------------------------ */
/* Opening and closing                                                 */
/* ------------------------------------------------------------------ */

static void pg_free(pg_store *p)
{
    if (!p)
        return;
    while (p->nheld)
        held_drop(p, p->held[0]);
    free(p->held);
    while (p->asks) {
        pg_ask *a = p->asks;
        p->asks = a->next;
        free(a->token);
        free(a);
    }
    for (size_t i = 0; p->known && i < PG_KNOWN_MAX; i++) {
        free(p->known[i].token);
        free(p->known[i].key_auth);
    }
    free(p->known);
    leec_store_list_free(p->changed, p->nchanged);
    leec_store_list_free(p->gone, p->ngone);
    mine_forget(p, NULL);
    jobs_free(p);
    if (p->aq)
        PQfinish(p->aq);
    if (p->tq)
        PQfinish(p->tq);
    if (p->conn)
        PQfinish(p->conn);
    Leec_seal_key_clear(&p->key);
    Leec_seal_key_clear(&p->old);
    free(p->conninfo);
    free(p);
}

static void pg_destroy(leec_store *s)
{
    pg_store *p = impl(s);
    aq_drain(p);
    /* Leases die with their holder: given back now rather than at their
     * expiry. */
    if (PQstatus(p->conn) == CONNECTION_OK &&
        PQtransactionStatus(p->conn) == PQTRANS_IDLE) {
        if (p->nheld) {
            const char *v[] = {p->holder};
            pg_do(p, "DELETE FROM leec_leases WHERE holder = $1", 1, v);
        }
        (void)gone_flush(p);
    }
    pg_free(p);
}

/* ------------------------------------------------------------------ */
/* Token lookups without waiting, on a connection of their own         */
/* ------------------------------------------------------------------ */

/* The responder asks here for another node's token and does not wait: the
 * question goes out non-blocking, the answer is read when the connection's
 * descriptor is readable. One question at a time, in order. */
/* A connection of the store's that is never waited on once made (made
 * once, and again after a failure, waiting with the store's
 * connect_timeout): the session's bounds, non-blocking, in pipeline mode
 * when asked. false, *c NULL and the reason logged, when it cannot be. */
static bool side_open(pg_store *p, PGconn **c, const char *what, bool pipeline)
{
    if (*c && PQstatus(*c) == CONNECTION_OK)
        return true;
    if (*c)
        PQfinish(*c);
    *c = PQconnectdb(p->conninfo);
    bool ok = PQstatus(*c) == CONNECTION_OK;
    if (ok) {
        PGresult *r =
            PQexec(*c, "SELECT set_config('statement_timeout', '15s', false),"
                       " set_config('lock_timeout', '10s', false),"
                       " set_config('client_min_messages', 'warning', false)");
        ok = PQresultStatus(r) == PGRES_TUPLES_OK;
        PQclear(r);
    }
    ok = ok && PQsetnonblocking(*c, 1) == 0 &&
         (!pipeline || PQenterPipelineMode(*c));
    if (!ok) {
        if (p->s)
            Leec_store_log(p->s, LEEC_LOG_ERROR, "PostgreSQL store: %s: %.*s",
                           what, (int)strcspn(PQerrorMessage(*c), "\n"),
                           PQerrorMessage(*c));
        PQfinish(*c);
        *c = NULL;
    }
    return ok;
}

static bool tq_open(pg_store *p)
{
    return side_open(p, &p->tq, "token lookups", false);
}

static bool tq_send(pg_store *p)
{
    if (p->tq_busy || !p->asks)
        return true;
    const char *v[] = {p->asks->token};
    if (!PQsendQueryParams(p->tq,
                           "SELECT key_auth FROM leec_tokens WHERE token = $1",
                           1, NULL, v, NULL, NULL, 0))
        return false;
    p->tq_busy = true;
    p->asks->sent = true;
    return PQflush(p->tq) >= 0;
}

static void ask_pop(pg_store *p)
{
    pg_ask *a = p->asks;
    if (!a)
        return;
    p->asks = a->next;
    if (!p->asks)
        p->asks_tail = &p->asks;
    free(a->token);
    free(a);
}

static void tq_close(pg_store *p)
{
    if (p->tq)
        PQfinish(p->tq);
    p->tq = NULL;
    p->tq_busy = false;
}

static leec_code pg_token_ask(leec_store *s, const char *token)
{
    pg_store *p = impl(s);
    pg_ask *a = calloc(1, sizeof *a);
    if (!a || !(a->token = strdup(token))) {
        free(a);
        return LEEC_E_NOMEM;
    }
    if (!p->asks_tail)
        p->asks_tail = &p->asks;
    *p->asks_tail = a;
    p->asks_tail = &a->next;
    if (!tq_open(p) || !tq_send(p)) {
        /* Unasked questions are not answered: the caller says unknown. */
        tq_close(p);
        while (p->asks)
            ask_pop(p);
        return LEEC_E_IO;
    }
    return LEEC_OK;
}

static int pg_token_fd(leec_store *s)
{
    pg_store *p = impl(s);
    return p->tq ? PQsocket(p->tq) : -1;
}

static leec_code pg_token_answers(leec_store *s,
                                  void (*fn)(void *ud, const char *token,
                                             const char *key_auth),
                                  void *ud)
{
    pg_store *p = impl(s);
    if (!p->tq)
        return LEEC_OK;
    if (!PQconsumeInput(p->tq)) {
        /* The connection broke: every question is answered "unknown" (the
         * CA retries), and the next question connects again. */
        while (p->asks) {
            if (!p->asks->answered)
                fn(ud, p->asks->token, NULL);
            ask_pop(p);
        }
        tq_close(p);
        return LEEC_E_IO;
    }
    while (p->tq_busy && !PQisBusy(p->tq)) {
        PGresult *r = PQgetResult(p->tq);
        if (!r) {
            /* That question is done: the next one goes out. */
            p->tq_busy = false;
            ask_pop(p);
            if (!tq_send(p)) {
                tq_close(p);
                while (p->asks) {
                    fn(ud, p->asks->token, NULL);
                    ask_pop(p);
                }
                return LEEC_E_IO;
            }
            continue;
        }
        const char *ka = NULL;
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
            !PQgetisnull(r, 0, 0) && PQgetlength(r, 0, 0) <= 1024)
            ka = PQgetvalue(r, 0, 0);
        if (p->asks && !p->asks->answered) {
            p->asks->answered = true;
            fn(ud, p->asks->token, ka);
        }
        PQclear(r);
    }
    return LEEC_OK;
}

/* ------------------------------------------------------------------ */
/* Writes without waiting, pipelined on a connection of their own      */
/* ------------------------------------------------------------------ */

/* The engine's writes on its loop (the journal, tokens, a lease let go)
 * go out without waiting: each is sent at once, followed by a sync point
 * (its own transaction), and the next one does not wait for its answer;
 * the answers come back in order and are handed to each writer's done.
 * A write of one certificate so never waits for another's round trip. */

enum {
    PG_JOB_JOURNAL,
    PG_JOB_TOKEN,
    PG_JOB_UNLOCK,
    PG_JOB_NUMBER,       /* an install's number, then PG_JOB_INSTALL */
    PG_JOB_INSTALL,      /* an install with its number */
    PG_JOB_INSTALL_PRED, /* one with the number known ahead, else NUMBER */
    PG_JOB_RENEWAL,      /* a renewal state nobody waits for */
};

/* An install in flight: copies of what it writes. */
typedef struct pg_ins {
    char *name, *privkey, *cert, *chain, *fullchain, *meta, *names;
    char next[24], na[24];
    uint64_t token, number;
} pg_ins;

static void ins_free(pg_ins *i)
{
    if (!i)
        return;
    free_secret_str(i->privkey);
    free(i->name);
    free(i->cert);
    free(i->chain);
    free(i->fullchain);
    free(i->meta);
    free(i->names);
    free(i);
}

/* The version it writes, and pg_install's view of it (borrowing i). */
static void ins_view(const pg_ins *i, leec_store_new_version *in, pg_install *a)
{
    *in = (leec_store_new_version){.privkey = i->privkey,
                                   .cert = i->cert,
                                   .chain = i->chain,
                                   .fullchain = i->fullchain,
                                   .meta_json = i->meta};
    *a = (pg_install){.name = i->name,
                      .in = in,
                      .names = i->names,
                      .next = *i->next ? i->next : NULL,
                      .not_after = *i->na ? i->na : NULL,
                      .token = i->token,
                      .number = i->number};
}

struct pg_job {
    struct pg_job *next;
    int kind;
    bool write;  /* PG_JOB_JOURNAL: an entry written (else removed) */
    char *v[11]; /* the statement's values (copies) */
    int nv;
    char *name;              /* what it is about, for the log */
    leec_store_done_fn done; /* NULL: nobody waits (a lease let go) */
    void *ud;
    int phase; /* 0: its result, 1: its end, 2: its sync point */
    leec_code rc;
    pg_ins *ins; /* PG_JOB_NUMBER, PG_JOB_INSTALL*: the install */
};

static void job_free(pg_job *j)
{
    if (!j)
        return;
    for (int i = 0; i < j->nv; i++)
        free(j->v[i]);
    free(j->name);
    ins_free(j->ins);
    free(j);
}

/* Forgotten unanswered (the store is destroyed): done is not called. */
static void jobs_free(pg_store *p)
{
    while (p->jobs) {
        pg_job *j = p->jobs;
        p->jobs = j->next;
        job_free(j);
    }
    p->jobs_tail = &p->jobs;
}

static void pg_async_perform(leec_store *s);

/* At destroy: the writes sent (a lease let go) are waited for, a few
 * seconds at most, their writers no longer told. */
static void aq_drain(pg_store *p)
{
    for (pg_job *j = p->jobs; j; j = j->next)
        j->done = NULL;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (p->jobs && p->aq && p->s) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long left = 5000 - ((long)(now.tv_sec - t0.tv_sec) * 1000 +
                            (long)(now.tv_nsec - t0.tv_nsec) / 1000000);
        if (left <= 0)
            break;
        struct pollfd pfd = {PQsocket(p->aq),
                             (short)(POLLIN | (p->aq_flush ? POLLOUT : 0)), 0};
        if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
            break;
        pg_async_perform(p->s);
    }
}

static pg_job *job_new(int kind, const char *name, int n, const char *const *v)
{
    pg_job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->kind = kind;
    j->nv = n;
    for (int i = 0; i < n; i++)
        if (v[i] && !(j->v[i] = strdup(v[i]))) {
            job_free(j);
            return NULL;
        }
    if (!(j->name = strdup(name))) {
        job_free(j);
        return NULL;
    }
    return j;
}

/* Made at the first write (waiting once, with the store's
 * connect_timeout), then never waited on. */
static bool aq_open(pg_store *p)
{
    if (p->aq && PQstatus(p->aq) == CONNECTION_OK)
        return true;
    p->aq_flush = false;
    return side_open(p, &p->aq, "writes without waiting", true);
}

/* The connection broke: every write in flight has an unknown outcome,
 * which its writer hears as LEEC_E_IO; the next write connects again. */
static void aq_fail_all(pg_store *p)
{
    if (p->s && p->aq)
        Leec_store_log(p->s, LEEC_LOG_ERROR,
                       "PostgreSQL store: writes without waiting: %.*s",
                       (int)strcspn(PQerrorMessage(p->aq), "\n"),
                       PQerrorMessage(p->aq));
    if (p->aq)
        PQfinish(p->aq);
    p->aq = NULL;
    p->aq_flush = false;
    pg_job *j = p->jobs;
    p->jobs = NULL;
    p->jobs_tail = &p->jobs;
    while (j) {
        pg_job *next = j->next;
        if (j->done)
            j->done(j->ud, LEEC_E_IO);
        job_free(j);
        j = next;
    }
}

/* Sends j (taken: freed on failure). LEEC_OK: queued, answered later. */
static leec_code aq_send(pg_store *p, pg_job *j, const char *sql)
{
    if (!aq_open(p)) {
        job_free(j);
        return LEEC_E_IO;
    }
    const char *v[11] = {0};
    for (int i = 0; i < j->nv; i++)
        v[i] = j->v[i];
    if (!PQsendQueryParams(p->aq, sql, j->nv, NULL, v, NULL, NULL, 0) ||
        !PQpipelineSync(p->aq)) {
        job_free(j);
        /* What was sent before is answered, or fails, in async_perform:
         * never a callback from within the call. */
        return LEEC_E_IO;
    }
    if (!p->jobs_tail)
        p->jobs_tail = &p->jobs;
    *p->jobs_tail = j;
    p->jobs_tail = &j->next;
    /* -1 too: async_perform finds the connection broken. */
    p->aq_flush = PQflush(p->aq) != 0;
    return LEEC_OK;
}

/* Whether a release of kind/name is in flight. */
static bool aq_unlocking(pg_store *p, const char *kind, const char *name)
{
    for (pg_job *j = p->jobs; j; j = j->next)
        if (j->kind == PG_JOB_UNLOCK && j->v[0] && j->v[1] &&
            strcmp(j->v[0], kind) == 0 && strcmp(j->v[1], name) == 0)
            return true;
    return false;
}

static leec_code aq_renewal(pg_store *p, const char *name, const char *const *v)
{
    pg_job *j = job_new(PG_JOB_RENEWAL, name, 4, v);
    return j ? aq_send(p, j, PG_RENEWAL_SQL) : LEEC_E_NOMEM;
}

static leec_code aq_unlock(pg_store *p, const char *name, const char *sql,
                           int n, const char *const *v)
{
    pg_job *j = job_new(PG_JOB_UNLOCK, name, n, v);
    return j ? aq_send(p, j, sql) : LEEC_E_NOMEM;
}

/* Sends the install of ins (taken) with its number, or (number 0) the
 * statement taking its number first; done and ud go with it. */
static leec_code ins_send(pg_store *p, pg_ins *ins, bool predicted,
                          leec_store_done_fn done, void *ud)
{
    pg_job *j = NULL;
    leec_code rc = LEEC_OK;
    if (!ins->number) {
        const char *v[] = {ins->name};
        if (!(j = job_new(PG_JOB_NUMBER, ins->name, 1, v))) {
            ins_free(ins);
            return LEEC_E_NOMEM;
        }
    } else {
        leec_store_new_version in;
        pg_install a;
        char *sealed = NULL, num[24], tok[24];
        const char *v[11];
        ins_view(ins, &in, &a);
        if ((rc = install_values(p, &a, &sealed, num, tok, v)) == LEEC_OK &&
            !(j = job_new(predicted ? PG_JOB_INSTALL_PRED : PG_JOB_INSTALL,
                          ins->name, 11, v)))
            rc = LEEC_E_NOMEM;
        free(sealed);
        if (rc != LEEC_OK) {
            ins_free(ins);
            return rc;
        }
    }
    j->ins = ins;
    j->done = done;
    j->ud = ud;
    return aq_send(p, j,
                   !ins->number ? PG_NUMBER_SQL
                   : predicted  ? PG_INSTALL_PREDICTED_SQL
                                : PG_INSTALL_SQL);
}

static char *dup_or_empty(const char *t)
{
    return strdup(t ? t : "");
}

static leec_code pg_version_install_async(leec_store *s, const char *name,
                                          const leec_store_new_version *in,
                                          uint64_t token,
                                          leec_store_done_fn done, void *ud)
{
    pg_store *p = impl(s);
    pg_ins *ins = calloc(1, sizeof *ins);
    if (!ins)
        return LEEC_E_NOMEM;
    leec_code rc = install_prep(in, &ins->names, ins->next, ins->na);
    if (rc == LEEC_OK &&
        (!(ins->name = strdup(name)) || !(ins->privkey = strdup(in->privkey)) ||
         !(ins->cert = strdup(in->cert)) ||
         !(ins->chain = dup_or_empty(in->chain)) ||
         !(ins->fullchain = dup_or_empty(in->fullchain)) ||
         !(ins->meta = dup_or_empty(in->meta_json))))
        rc = LEEC_E_NOMEM;
    if (rc != LEEC_OK) {
        ins_free(ins);
        return rc;
    }
    if (!in->meta_json) {
        free(ins->meta);
        ins->meta = NULL;
    }
    ins->token = cert_token(p, name, token);
    pg_held *held = ins->token ? held_find(p, "cert", name) : NULL;
    bool predicted =
        held && held->token == ins->token && held->last_known && !held->lost;
    if (predicted)
        ins->number = held->last_number + 1;
    return ins_send(p, ins, predicted, done, ud);
}

static leec_code pg_journal_write_async(leec_store *s, const char *name,
                                        uint64_t token, const char *entry,
                                        bool durable, leec_store_done_fn done,
                                        void *ud)
{
    pg_store *p = impl(s);
    char t[24];
    pg_journal a;
    leec_code rc = journal_prepare(p, name, token, entry, durable, &a);
    if (rc != LEEC_OK) {
        free(a.sealed);
        return rc;
    }
    u64s(t, sizeof t, a.token);
    const char *v[] = {name, t, a.sealed};
    pg_job *j = job_new(PG_JOB_JOURNAL, name, 3, v);
    free(a.sealed);
    if (!j)
        return LEEC_E_NOMEM;
    a.sealed = j->v[2];
    j->write = true;
    j->done = done;
    j->ud = ud;
    return aq_send(p, j, journal_sql(&a));
}

static leec_code pg_token_put_async(leec_store *s, const char *token,
                                    const char *key_auth,
                                    leec_store_done_fn done, void *ud)
{
    pg_store *p = impl(s);
    long g = gone_find(p, token);
    if (g >= 0) {
        free(p->gone[g]);
        p->gone[g] = p->gone[--p->ngone];
    }
    const char *v[] = {token, key_auth};
    pg_job *j = job_new(PG_JOB_TOKEN, token, 2, v);
    if (!j)
        return LEEC_E_NOMEM;
    j->done = done;
    j->ud = ud;
    return aq_send(p, j, PG_TOKEN_PUT_SQL);
}

static int pg_async_fd(leec_store *s, short *events)
{
    pg_store *p = impl(s);
    *events = 0;
    if (!p->jobs || !p->aq)
        return -1;
    *events = (short)(POLLIN | (p->aq_flush ? POLLOUT : 0));
    return PQsocket(p->aq);
}

/* What a job's statement answered. */
static leec_code job_result(pg_store *p, pg_job *j, PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        pg_log_error(p, j->name, r);
        return LEEC_E_IO;
    }
    switch (j->kind) {
    case PG_JOB_JOURNAL:
        return journal_result(j->write, r);
    case PG_JOB_NUMBER:
        return PQntuples(r) == 1 && col_u64(r, 0, 0, &j->ins->number)
                   ? LEEC_OK
                   : LEEC_E_IO;
    case PG_JOB_INSTALL:
    case PG_JOB_INSTALL_PRED:
        return install_result(r, j->kind == PG_JOB_INSTALL_PRED);
    case PG_JOB_RENEWAL: {
        leec_code rc = renewal_result(r);
        if (rc != LEEC_OK && p->s)
            Leec_store_log(p->s, LEEC_LOG_WARN,
                           "PostgreSQL store: %s: the renewal state was not "
                           "recorded: %s",
                           j->name, leec_strerror(rc));
        return rc;
    }
    case PG_JOB_UNLOCK:
        if (j->nv == 4 &&
            (PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 0), "t") != 0)) {
            if (p->s)
                Leec_store_log(p->s, LEEC_LOG_WARN,
                               "PostgreSQL store: %s: when to look at it next "
                               "was not recorded: lease lost",
                               j->name);
            return LEEC_E_FENCED;
        }
        return LEEC_OK;
    default:
        return LEEC_OK;
    }
}

/* A job answered: an install goes on to its next statement (the number
 * taken; or it was not the one predicted), else its writer is told. */
static void job_done(pg_store *p, pg_job *j)
{
    leec_code rc = j->rc;
    bool next = false;
    if (j->kind == PG_JOB_NUMBER && rc == LEEC_OK)
        next = true;
    else if (j->kind == PG_JOB_INSTALL_PRED && rc == LEEC_E_NOT_FOUND) {
        j->ins->number = 0;
        next = true;
    }
    if (next) {
        pg_ins *ins = j->ins;
        j->ins = NULL;
        rc = ins_send(p, ins, false, j->done, j->ud);
        if (rc == LEEC_OK) {
            job_free(j);
            return;
        }
    } else if (rc == LEEC_OK && j->ins) {
        leec_store_new_version in;
        pg_install a;
        ins_view(j->ins, &in, &a);
        installed(p, j->ins->name, j->ins->token, j->ins->number, &in);
    }
    if (j->done)
        j->done(j->ud, rc);
    job_free(j);
}

static void pg_async_perform(leec_store *s)
{
    pg_store *p = impl(s);
    p->async_on = true;
    if (!p->jobs)
        return;
    if (!p->aq) {
        aq_fail_all(p);
        return;
    }
    if (p->aq_flush) {
        int f = PQflush(p->aq);
        if (f < 0) {
            aq_fail_all(p);
            return;
        }
        p->aq_flush = f == 1;
    }
    if (!PQconsumeInput(p->aq)) {
        aq_fail_all(p);
        return;
    }
    while (p->jobs && !PQisBusy(p->aq)) {
        pg_job *j = p->jobs;
        PGresult *r = PQgetResult(p->aq);
        if (j->phase == 0) {
            if (!r)
                break; /* nothing yet */
            j->rc = job_result(p, j, r);
            PQclear(r);
            j->phase = 1;
        } else if (j->phase == 1) {
            if (r)
                PQclear(r); /* a second result: none is expected */
            else
                j->phase = 2;
        } else {
            if (!r)
                break;
            ExecStatusType st = PQresultStatus(r);
            PQclear(r);
            if (st != PGRES_PIPELINE_SYNC)
                continue;
            /* Taken off before done runs: done may send the next. */
            p->jobs = j->next;
            if (!p->jobs)
                p->jobs_tail = &p->jobs;
            job_done(p, j);
        }
    }
}

static void pg_async_forget(leec_store *s, void *ud)
{
    for (pg_job *j = impl(s)->jobs; j; j = j->next)
        if (j->ud == ud)
            j->done = NULL;
}

static const leec_store_ops pg_ops = {
    .abi = LEEC_STORE_ABI,
    .account_load = pg_account_load,
    .account_save = pg_account_save,
    .account_remove = pg_account_remove,
    .version_read = pg_version_read,
    .version_install = pg_version_install,
    .list = pg_list,
    .reset = pg_reset_op,
    .renewal_write = pg_renewal_write,
    .token_put = pg_token_put,
    .token_get = pg_token_get,
    .token_delete = pg_token_delete,
    .lock = pg_lock,
    .unlock = pg_unlock,
    .lock_holder = pg_lock_holder,
    .destroy = pg_destroy,
    .lease = pg_lease,
    .fence = pg_fence,
    .journal_write = pg_journal_write,
    .journal_read = pg_journal_read,
    .journal_remove = pg_journal_remove,
    .journal_list = pg_journal_list,
    .heartbeat = pg_heartbeat,
    .claim = pg_claim_op,
    .schedule = pg_schedule,
    .want = pg_want,
    .wanted_read = pg_wanted_read,
    .wanted_list = pg_wanted_list,
    .unwant = pg_unwant,
    .changes_fd = pg_changes_fd,
    .changes = pg_changes,
    .rekey = pg_rekey_op,
    .list_numbers = pg_list_numbers,
    .unclaim = pg_unclaim,
    .token_ask = pg_token_ask,
    .token_fd = pg_token_fd,
    .token_answers = pg_token_answers,
    .token_known = pg_token_known,
    .journal_write_async = pg_journal_write_async,
    .token_put_async = pg_token_put_async,
    .async_fd = pg_async_fd,
    .async_perform = pg_async_perform,
    .async_forget = pg_async_forget,
    .version_install_async = pg_version_install_async,
    .budget_add = pg_budget_add,
    .budget_read = pg_budget_read,
};

static leec_code fail_why(char **why, leec_code rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static leec_code fail_why(char **why, leec_code rc, const char *fmt, ...)
{
    va_list ap;
    if (!why || *why)
        return rc;
    va_start(ap, fmt);
    if (vasprintf(why, fmt, ap) < 0)
        *why = NULL;
    va_end(ap);
    return rc;
}

/* Creates or migrates the schema, in one transaction that the other
 * nodes opening the store at the same time wait for. */
static leec_code pg_migrate(pg_store *p, char **why)
{
    char *text = NULL;
    if (!pg_do(p, "BEGIN", 0, NULL) ||
        !pg_do(p, "SELECT pg_advisory_xact_lock(" PG_MIGRATE_LOCK ")", 0,
               NULL) ||
        !pg_do(p,
               "CREATE TABLE IF NOT EXISTS leec_schema (version integer NOT"
               " NULL, applied timestamptz NOT NULL DEFAULT now())",
               0, NULL))
        goto io;
    PGresult *r = pg_exec(
        p, "SELECT COALESCE(max(version), 0) FROM leec_schema", 0, NULL);
    uint64_t have = 0;
    bool ok = r && PQntuples(r) == 1 && col_u64(r, 0, 0, &have);
    PQclear(r);
    if (!ok)
        goto io;
    if (have > PG_SCHEMA_VERSION) {
        pg_do(p, "ROLLBACK", 0, NULL);
        return fail_why(why, LEEC_E_STORE,
                        "PostgreSQL store: the database's schema is version "
                        "%" PRIu64 ", newer than this leec's (%zu): a newer "
                        "leec wrote it; upgrade leec on this node",
                        have, PG_SCHEMA_VERSION);
    }
    for (uint64_t v = have; v < PG_SCHEMA_VERSION; v++) {
        char num[24];
        u64s(num, sizeof num, v + 1);
        const char *vals[] = {num};
        if (!pg_do(p, migrations[v], -1, NULL) ||
            !pg_do(p, "INSERT INTO leec_schema (version) VALUES ($1::int)", 1,
                   vals))
            goto io;
    }
    if (pg_do(p, "COMMIT", 0, NULL))
        return LEEC_OK;
io:
    text = PQerrorMessage(p->conn);
    if (PQtransactionStatus(p->conn) != PQTRANS_IDLE)
        pg_do(p, "ROLLBACK", 0, NULL);
    return fail_why(why, LEEC_E_IO,
                    "PostgreSQL store: cannot create or migrate the schema: "
                    "%s",
                    text && *text ? text : "a statement failed");
}

static leec_code pg_keys(pg_store *p, const leec_store_pg_options *o,
                         char **why)
{
    char *msg = NULL;
    leec_code rc;
    if (o && o->key_file) {
        rc = Leec_seal_key_load(o->key_file, &p->key, &msg);
    } else {
        rc = Leec_seal_key_from_credentials(&p->key, &msg);
        if (rc == LEEC_E_NOT_FOUND) {
            free(msg);
            return fail_why(
                why, LEEC_E_BAD_KEY,
                "PostgreSQL store: no master key to seal private keys with: "
                "give --store-key FILE (32 random bytes, e.g. `openssl rand "
                "-hex 32 > FILE; chmod 600 FILE`) or set "
                "CREDENTIALS_DIRECTORY to a folder holding leec-store-key "
                "(systemd's LoadCredential=)");
        }
    }
    if (rc == LEEC_OK && o && o->old_key_file) {
        rc = Leec_seal_key_load(o->old_key_file, &p->old, &msg);
        p->has_old = rc == LEEC_OK;
    }
    if (rc != LEEC_OK && why && !*why) {
        if (msg)
            *why = msg, msg = NULL;
        else
            fail_why(why, rc,
                     "PostgreSQL store: cannot read the master key (%s)",
                     leec_strerror(rc));
    }
    free(msg);
    return rc;
}

static bool pg_identity(pg_store *p, const leec_store_pg_options *o)
{
    unsigned char r[16];
    if (gethostname(p->host, sizeof p->host - 1) != 0 || !*p->host)
        snprintf(p->host, sizeof p->host, "unknown");
    if (o && o->node) {
        if (!leec_store_name_valid(o->node))
            return false;
        snprintf(p->node, sizeof p->node, "%s", o->node);
    } else {
        snprintf(p->node, sizeof p->node, "%.200s", p->host);
    }
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        return false;
    for (size_t i = 0; i < sizeof r; i++)
        snprintf(p->holder + 2 * i, 3, "%02x", r[i]);
    return true;
}

leec_store *leec_store_pg_open(const char *conninfo,
                               const leec_store_pg_options *o, leec_code *err,
                               char **why)
{
    leec_code rc = LEEC_E_NOMEM, dummy;
    leec_store *s = NULL;
    if (!err)
        err = &dummy;
    if (why)
        *why = NULL;
    pg_store *p = calloc(1, sizeof *p);
    if (!conninfo || !*conninfo || strlen(conninfo) > 4096) {
        rc = fail_why(why, LEEC_E_INVALID_ARG,
                      "PostgreSQL store: no connection string");
        goto fail;
    }
    if (!p || !(p->conninfo = strdup(conninfo)))
        goto fail;
    if (!pg_identity(p, o)) {
        rc = fail_why(why, LEEC_E_INVALID_ARG,
                      "PostgreSQL store: the node name must be 1 to 200 of "
                      "[A-Za-z0-9._-]");
        goto fail;
    }
    if ((rc = pg_keys(p, o, why)) != LEEC_OK)
        goto fail;
    if (!pg_connect(p)) {
        const char *m = p->conn ? PQerrorMessage(p->conn) : "out of memory";
        rc =
            fail_why(why, LEEC_E_IO, "PostgreSQL store: cannot connect: %s", m);
        goto fail;
    }
    if ((rc = pg_migrate(p, why)) != LEEC_OK)
        goto fail;
    if (!(s = leec_store_new(&pg_ops, p, &rc)))
        goto fail;
    p->s = s;
    *err = LEEC_OK;
    return s;
fail:
    pg_free(p);
    *err = rc;
    if (rc == LEEC_E_NOMEM)
        fail_why(why, rc, "PostgreSQL store: out of memory");
    return NULL;
}
