/*
 * libleec — the store interface: where accounts and certificates live, for
 * programs that read a store's records or bring a store of their own.
 *
 * A store holds records, not files:
 *
 *   account        one per CA (its id, e.g. "acme-v02.api.letsencrypt.org"):
 *                  the account key (PEM, secret) and the account document
 *                  (JSON text: its URL, the directory, the contact);
 *   certificate    a name (e.g. "example.com") with its versions; one of
 *                  them is current. Its settings (names, CA, key type,
 *                  solver, hooks) are kept with each version;
 *   version        what an install writes, whole or not at all: the private
 *                  key, the leaf, the issuer chain, the full chain and the
 *                  settings (meta.json), with a number that grows with each
 *                  install of that certificate;
 *   renewal state  JSON text belonging to one version (the CA's renewal
 *                  window, failed attempts, a revocation): a new version
 *                  starts without one;
 *   http-01 token  the key authorization answered for a token, for several
 *                  processes answering challenges for one store;
 *   lock, lease    exclusive, per kind and name, taken without waiting and
 *                  held until released, until its holder dies or (a
 *                  lease) until it expires. Each grant of a lease carries a
 *                  fencing token greater than every token granted before
 *                  for that kind and name; a write that changes a
 *                  certificate's state presents the token of its "cert"
 *                  lease and is refused (LEEC_E_FENCED) once a newer one
 *                  was granted, so that a holder that lost its lease (it
 *                  expired while the holder was stopped) writes nothing;
 *   order journal  per certificate, the order in progress (since ABI 2):
 *                  its URL, identifiers, account, the certificate key for
 *                  the CSR (secret) and the step reached, written as soon
 *                  as the CA creates the order and removed when the
 *                  certificate is installed or the order is dead, so that
 *                  a run killed in between is taken up by the next one;
 *   budget log     per CA (since ABI 4, optional): when each new order was
 *                  made and each certificate issued, with their registered
 *                  domains, for the budgets of leec_ctx_set_order_budget()
 *                  and leec_ctx_set_domain_budget() across runs.
 *
 * The library comes with one backend, the filesystem store
 * (leec_store_fs_open() in leec.h), whose live/ folder is its export for
 * web servers. A program may bring another (a database shared by a fleet)
 * by filling a leec_store_ops and calling leec_store_new(); the library
 * then uses it like the filesystem store. Tests of the library run one
 * conformance suite against a backend (tests/unit/store_conformance.c).
 *
 * Names. Certificate names, CA ids and lock names are 1 to 200 characters
 * of [A-Za-z0-9._-], not starting with '.' or '-' (leec_store_name_valid):
 * a backend may use them as file names. The library checks every name
 * before it calls a backend.
 *
 * Threading. A store is used from one thread at a time: the thread of the
 * context that owns it (leec_ctx_set_store), or the caller's. The library
 * calls a backend from leec_ctx_perform() and from the functions below;
 * every operation may block on its I/O (the file system, a round trip to a
 * database) and so delays the loop, but none waits for another holder of a
 * lock. Two stores on the same data (two processes, or two leec_store in
 * one) see each other's installs and locks.
 *
 * Errors. LEEC_E_INVALID_ARG (a bad name or argument), LEEC_E_NOT_FOUND,
 * LEEC_E_IO (the backend's I/O failed), LEEC_E_TOO_LARGE (a record above
 * LEEC_STORE_PART_MAX), LEEC_E_LOCKED, LEEC_E_FENCED (a write presenting
 * the token of a lease that another holder has been granted since),
 * LEEC_E_NOMEM, and LEEC_E_STORE: a
 * record refused as unsafe, with a message naming it and the fix
 * (leec_store_errmsg()).
 */
#ifndef LEEC_STORE_H
#define LEEC_STORE_H

#include <stdint.h>

#include "leec.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define LEEC_STORE_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define LEEC_STORE_PRINTF(f, a)
#endif

/* The largest record part a store keeps or reads (a key, a chain, a JSON
 * document): 1 MiB. Bigger is LEEC_E_TOO_LARGE. */
#define LEEC_STORE_PART_MAX ((size_t)1024 * 1024)

/* --------------------------------------------------------------------- */
/* Records                                                                */
/* --------------------------------------------------------------------- */

/* The parts of a certificate version (the file names of the filesystem
 * store in parentheses). */
typedef enum leec_store_part {
    LEEC_PART_PRIVKEY = 0, /* the private key, PEM, secret (privkey.pem) */
    LEEC_PART_CERT,        /* the leaf, PEM (cert.pem) */
    LEEC_PART_CHAIN,       /* the issuers, PEM, may be empty (chain.pem) */
    LEEC_PART_FULLCHAIN,   /* the leaf then the issuers (fullchain.pem) */
    LEEC_PART_META,        /* the certificate's settings, JSON (meta.json) */
    LEEC_PART_RENEWAL,     /* the version's renewal state (renewal.json) */
    LEEC_PART_COUNT
} leec_store_part;

/* A set of parts: LEEC_PARTS(LEEC_PART_CERT) | LEEC_PARTS(LEEC_PART_META). */
#define LEEC_PARTS(p)  (1u << (p))
#define LEEC_PARTS_ALL ((1u << LEEC_PART_COUNT) - 1)

/* One version as read. Each part asked for that the version has is in
 * text[part]: NUL-terminated, len[part] bytes before the NUL, allocated;
 * the other entries are NULL. The reader owns it: free it with
 * leec_store_version_clear() (which clears the key first). */
typedef struct leec_store_version {
    uint64_t number; /* 1, 2, ...: grows with each install of the
                        certificate (filesystem: N of archive/NAME/N) */
    char *text[LEEC_PART_COUNT];
    size_t len[LEEC_PART_COUNT];
} leec_store_version;

/* What an install writes. Every pointer is borrowed for the call. */
typedef struct leec_store_new_version {
    const char *privkey;      /* PEM, secret; required */
    const char *cert;         /* the leaf, PEM; required */
    const char *chain;        /* the issuers, PEM; NULL or "" for none */
    const char *fullchain;    /* made by leec_store_install_version() from
                                 cert and chain (a newline between them when
                                 the leaf lacks its last one); ignored when
                                 given to it. A backend keeps it as given. */
    const char *meta_json;    /* the settings (a JSON object's text: the
                                 engine's list "names", "server", "key_type",
                                 "solver", "settings"...), or NULL */
    const char *const *names; /* the identifiers the version certifies, for
                                 a backend that indexes them (the filesystem
                                 store does not: meta_json lists them) */
    size_t nnames;
} leec_store_new_version;

/* --------------------------------------------------------------------- */
/* Reading and installing versions (any store)                            */
/* --------------------------------------------------------------------- */

/*
 * Reads the parts in want (a set of LEEC_PARTS()) of the current version
 * of cert_name into *v, all from that one version even while another
 * process installs a new one. A part the version does not have (meta.json
 * or renewal state not written, a file lost) is NULL: not an error. want 0
 * reads only the number. *v is always initialised: clear it with
 * leec_store_version_clear(), also after an error (it holds nothing then).
 * Errors: LEEC_E_NOT_FOUND (no current version), LEEC_E_INVALID_ARG,
 * LEEC_E_IO, LEEC_E_TOO_LARGE, LEEC_E_STORE (a part refused as unsafe:
 * leec_store_errmsg()), LEEC_E_BAD_KEY (a shared store's secret sealed
 * with a master key the store was not opened with: leec_store_errmsg()
 * names it; not damage), LEEC_E_NOMEM.
 */
LEEC_API leec_code leec_store_read_version(leec_store *store,
                                           const char *cert_name, unsigned want,
                                           leec_store_version *v);
/* Frees the parts of v (the key cleared first) and zeroes it. */
LEEC_API void leec_store_version_clear(leec_store_version *v);

/*
 * One part of the current version of cert_name as a new NUL-terminated
 * string the caller frees (a key: clear it first), its length in *len when
 * len is not NULL. The errors of leec_store_read_version(), and
 * LEEC_E_NOT_FOUND also when the version lacks that part.
 */
LEEC_API leec_code leec_store_read_part(leec_store *store,
                                        const char *cert_name,
                                        leec_store_part part, char **text,
                                        size_t *len);

/*
 * Installs a new version of cert_name and makes it current at once:
 * readers see the previous version or the new one, never a part of it;
 * after a failure the previous version is still current, whole, and
 * nothing of the new one is visible. Its number is in *number when number
 * is not NULL. No renewal state yet. The caller should hold the "cert"
 * lock of cert_name (the engine does). Errors: LEEC_E_INVALID_ARG (no key
 * or leaf, a bad name), LEEC_E_TOO_LARGE (a part above
 * LEEC_STORE_PART_MAX), LEEC_E_IO, LEEC_E_STORE, LEEC_E_NOMEM.
 */
LEEC_API leec_code leec_store_install_version(leec_store *store,
                                              const char *cert_name,
                                              const leec_store_new_version *in,
                                              uint64_t *number);

/* --------------------------------------------------------------------- */
/* The order journal (any store of ABI 2)                                 */
/* --------------------------------------------------------------------- */

/* The order in progress for a certificate, as the journal keeps it. The
 * reader owns it: free it with leec_store_order_clear() (which clears the
 * key first). */
typedef struct leec_store_order {
    char *order_url;   /* the order at the CA */
    char *ca_id;       /* the CA id of the account it belongs to */
    char *account_url; /* that account's URL */
    char **names;      /* the identifiers ordered, nnames of them */
    size_t nnames;
    char *key_pem;   /* the certificate key for the CSR: PEM, secret;
                        NULL until it is chosen (at the latest before
                        finalize is sent) */
    char *step;      /* the step reached: "ordered" (the CA made it),
                        "answered" (challenges answered), "finalized"
                        (finalize sent) */
    int64_t since;   /* when the order was made (Unix time) */
    int64_t updated; /* when the step was recorded (Unix time) */
} leec_store_order;

/*
 * The journal entry of cert_name into *o (always initialised; clear it
 * with leec_store_order_clear(), also after an error). LEEC_E_NOT_FOUND
 * when no order is in progress (also for a store of ABI 1, which keeps no
 * journal), LEEC_E_STORE for an entry that is not one leec wrote (the
 * message names it), LEEC_E_INVALID_ARG, LEEC_E_IO, LEEC_E_NOMEM.
 */
LEEC_API leec_code leec_store_order_read(leec_store *store,
                                         const char *cert_name,
                                         leec_store_order *o);
/* Frees what o holds (the key cleared first) and zeroes it. */
LEEC_API void leec_store_order_clear(leec_store_order *o);
/* The certificates with an order in progress, sorted, as leec_store_list()
 * gives them (free with leec_store_list_free()). */
LEEC_API leec_code leec_store_order_list(leec_store *store, char ***names,
                                         size_t *n);

/* --------------------------------------------------------------------- */
/* A store shared by a fleet (ABI 3)                                      */
/* --------------------------------------------------------------------- */

/* True when store is shared by several nodes (it claims work: the
 * PostgreSQL store), false for the filesystem store. */
LEEC_API bool leec_store_is_shared(const leec_store *store);
/* Renews every lease held through store for ttl_s seconds (the operation
 * heartbeat above). LEEC_OK for a store that is not shared. An error means
 * the leases may be lost: stop acting on them. */
LEEC_API leec_code leec_store_heartbeat(leec_store *store, unsigned ttl_s);
/* Claims up to max due certificates (the operation claim above): *names
 * (free with leec_store_list_free()) and *tokens (free()), *n of each.
 * LEEC_E_INVALID_ARG for a store that is not shared. */
LEEC_API leec_code leec_store_claim(leec_store *store, unsigned max,
                                    unsigned ttl_s, char ***names,
                                    uint64_t **tokens, size_t *n);
/* A fleet's certificate without a version whose order failed is looked at
 * again after this many seconds (one with a version follows its renewal
 * plan, whose back-off grows). */
#define LEEC_FLEET_RETRY_S 60
/* A lease taken on a shared store lasts at most the time given to the last
 * leec_store_heartbeat() or leec_store_claim() on it, or this many seconds
 * before either: a holder's heartbeat keeps it up, and one that died holds
 * it no longer. */
#define LEEC_FLEET_TTL_S 30

/* Lets go of the lease of a certificate claimed through store and not
 * worked on (an agent lets its own go when it ends). */
LEEC_API void leec_store_unclaim(leec_store *store, const char *name);
/* When certificate name next needs a look (Unix time), under the lease of
 * token (0: none). LEEC_OK, nothing done, for a store that is not shared. */
LEEC_API leec_code leec_store_schedule(leec_store *store, const char *name,
                                       int64_t when, uint64_t token);
/* Records certificate name as wanted with its settings (JSON object text
 * in the shape of a version's meta), for the fleet to order.
 * LEEC_E_INVALID_ARG for a store that is not shared. */
LEEC_API leec_code leec_store_want(leec_store *store, const char *name,
                                   const char *settings);
/* The settings of a wanted certificate (*settings, caller frees);
 * LEEC_E_NOT_FOUND when it is not wanted. */
LEEC_API leec_code leec_store_wanted_read(leec_store *store, const char *name,
                                          char **settings);
/* The wanted certificates, as leec_store_list(). */
LEEC_API leec_code leec_store_wanted_list(leec_store *store, char ***names,
                                          size_t *n);
/* Forgets that name is wanted (LEEC_OK when it was not). */
LEEC_API leec_code leec_store_unwant(leec_store *store, const char *name);
/* A descriptor readable when another node installed a version, or -1; then
 * leec_store_changes() gives the names (as leec_store_list()). */
LEEC_API int leec_store_changes_fd(leec_store *store);
LEEC_API leec_code leec_store_changes(leec_store *store, char ***names,
                                      size_t *n);
/* The certificates with a current version and its number (*numbers, free
 * it), in one read where the store can (else one per certificate). */
LEEC_API leec_code leec_store_list_numbers(leec_store *store, char ***names,
                                           uint64_t **numbers, size_t *n);
/* Seals every secret again with the store's current master key (those
 * sealed with an old key given when opening it); *count how many.
 * LEEC_E_INVALID_ARG for a store that seals nothing. */
LEEC_API leec_code leec_store_rekey(leec_store *store, size_t *count);

/* --------------------------------------------------------------------- */
/* Opening a store                                                        */
/* --------------------------------------------------------------------- */

/* How to open a PostgreSQL store. Every field may be NULL. */
typedef struct leec_store_pg_options {
    const char *node;         /* this node's name, for leases and messages
                                 (1-200 of [A-Za-z0-9._-]); NULL: the host name */
    const char *key_file;     /* the master key sealing private keys: 32 bytes,
                                 raw, as 64 hex digits or as base64, in a file
                                 of mode 0600 or 0400 owned by the user;
                                 NULL: $CREDENTIALS_DIRECTORY/leec-store-key
                                 (systemd's LoadCredential=) */
    const char *old_key_file; /* a previous master key, still accepted when
                                 reading, for leec_store_rekey() */
} leec_store_pg_options;

/*
 * Opens the PostgreSQL store at conninfo (a libpq URI, postgresql://... or
 * postgres://..., or a "key=value ..." connection string), creating or
 * migrating its schema (doc/store-postgresql.md). Private keys (account,
 * certificate, journal) are sealed with AES-256-GCM under the master key.
 * NULL on failure with *err (LEEC_E_IO: the server cannot be reached or
 * refused, LEEC_E_BAD_KEY: no usable master key, LEEC_E_STORE: a schema
 * newer than this library, LEEC_E_INVALID_ARG, LEEC_E_NOMEM) and *why (a
 * message the caller frees) when not NULL.
 */
LEEC_API leec_store *leec_store_pg_open(const char *conninfo,
                                        const leec_store_pg_options *o,
                                        leec_code *err, char **why);

/* True if spec names a PostgreSQL store (a postgresql:// or postgres://
 * URI, or a connection string with '='), false for a folder. */
LEEC_API bool leec_store_spec_is_pg(const char *spec);

/* True if name is usable as a certificate name, CA id or lock name. */
LEEC_API bool leec_store_name_valid(const char *name);

/* --------------------------------------------------------------------- */
/* Writing a backend                                                      */
/* --------------------------------------------------------------------- */

/* The version of struct leec_store_ops this header describes. 2 added the
 * leases (lease, fence) and the order journal (journal_*) at the end of
 * the struct; 3 the optional operations of a store shared by a fleet
 * (heartbeat ... rekey); 4 the optional budget log (budget_add,
 * budget_read). A backend written for 1 (abi = 1, the operations up to
 * destroy) keeps working: its locks carry no token (every write is
 * accepted) and it keeps no journal (a killed run's order is not taken up
 * again). */
#define LEEC_STORE_ABI 4

/*
 * A backend's operations. Each receives its store; leec_store_impl(s) is
 * the backend's own state. The library has checked the names (see Names
 * above), the sizes of what is written (at most LEEC_STORE_PART_MAX) and
 * the pointers before it calls an operation; it initialised the out
 * parameters (NULL, 0). Strings a backend returns are allocated with
 * malloc() and NUL-terminated; the library frees them (clearing secrets).
 * Return LEEC_E_STORE only through leec_store_refuse(), so the refusal has
 * its message. Every operation is required unless it says otherwise.
 */
/* The outcome of a write that did not wait (journal_write_async). */
typedef void (*leec_store_done_fn)(void *ud, leec_code rc);

typedef struct leec_store_ops {
    unsigned abi; /* LEEC_STORE_ABI */

    /* Accounts, one per CA id: */
    /* The account of ca_id: *key_pem (secret) and *account_json. NOT_FOUND
     * when there is none; LEEC_E_BAD_KEY when its document is there but
     * its key is missing or empty (never a reason to make a new account);
     * *account_json NULL when only the key is there (the CA finds the
     * account of the key again). */
    leec_code (*account_load)(leec_store *s, const char *ca_id, char **key_pem,
                              char **account_json);
    /* Saves (replacing) the account: the key first, so that the document
     * is never there without its key. The key is kept secret. */
    leec_code (*account_save)(leec_store *s, const char *ca_id,
                              const char *key_pem, const char *account_json);
    /* Removes the account of ca_id at once; LEEC_OK when there is none. */
    leec_code (*account_remove)(leec_store *s, const char *ca_id);

    /* Certificates and their versions: */
    /* See leec_store_read_version(): the parts of want, from the current
     * version, consistently; *v arrives zeroed. On an error, v holds
     * nothing (the backend frees what it read). */
    leec_code (*version_read)(leec_store *s, const char *name, unsigned want,
                              leec_store_version *v);
    /* See leec_store_install_version(): in->fullchain is set. All or
     * nothing: a failure at any step leaves the previous version current
     * and whole and no trace of the new one a reader could see. */
    leec_code (*version_install)(leec_store *s, const char *name,
                                 const leec_store_new_version *in,
                                 uint64_t *number);
    /* The names with a current version, sorted by strcmp(), without
     * duplicates: *names a malloc'd array of *n malloc'd strings (NULL when
     * none). */
    leec_code (*list)(leec_store *s, char ***names, size_t *n);
    /* Forgets certificate name (every version, the current one first so
     * that no reader finds a removed version) or, name NULL, every
     * certificate and then every account; LEEC_OK when there is nothing.
     * A certificate's journal entry (ABI 2) goes with it, also when it has
     * no version yet (name NULL: every entry). Takes the "cert" lock of each
     * certificate (and the "account" lock of each account) before removing
     * anything: LEEC_E_LOCKED, with nothing removed, when another holder has
     * one. */
    leec_code (*reset)(leec_store *s, const char *name);

    /* Renewal state: */
    /* Replaces the renewal state (json) of version number of name, which
     * must still be current: LEEC_E_NOT_FOUND when it is not (another
     * installed a newer one, which starts with its own state) or there is
     * none. Read it with version_read (LEEC_PART_RENEWAL). */
    leec_code (*renewal_write)(leec_store *s, const char *name, uint64_t number,
                               const char *json);

    /* http-01 tokens: */
    /* The key authorization kept for token (1 to 256 base64url characters;
     * key_auth at most 1024 printable ASCII characters), replacing any.
     * Optional (NULL: the store keeps none, LEEC_E_INVALID_ARG). */
    leec_code (*token_put)(leec_store *s, const char *token,
                           const char *key_auth);
    /* *key_auth for token, or LEEC_E_NOT_FOUND. Optional. */
    leec_code (*token_get)(leec_store *s, const char *token, char **key_auth);
    /* Forgets token; LEEC_OK when there is none. Optional. */
    leec_code (*token_delete)(leec_store *s, const char *token);

    /* Locks: */
    /* Takes the exclusive lock kind/name (kind: "cert", "account" or
     * "store"; name: a certificate name, a CA id or a store-wide name such
     * as "daemon") without waiting: LEEC_OK with *handle set (never NULL),
     * LEEC_E_LOCKED when another holder has it, another store instance
     * included. A lock dies with its holder's process. */
    leec_code (*lock)(leec_store *s, const char *kind, const char *name,
                      void **handle);
    /* Releases a lock taken by lock on this store. */
    void (*unlock)(leec_store *s, void *handle);
    /* Who holds kind/name, for messages: *pid and *host (malloc'd; NULL
     * when unknown). LEEC_E_NOT_FOUND when unknown. Optional. */
    leec_code (*lock_holder)(leec_store *s, const char *kind, const char *name,
                             long *pid, char **host);

    /* Frees the backend's state, once, from leec_store_free(). */
    void (*destroy)(leec_store *s);

    /* ABI 2. Leases (required): */
    /* lock, and more: a lease of kind/name for ttl_s seconds, *token a
     * fencing token greater than every token granted before for kind/name
     * (by any store on the same data, across restarts). The lease ends
     * with unlock, with its holder's process, or at its expiry when the
     * backend cannot tell whether the holder lives (a shared database); a
     * holder whose process is known to be gone (a dead PID on the same
     * host) never makes the next one wait. Released with unlock. */
    leec_code (*lease)(leec_store *s, const char *kind, const char *name,
                       unsigned ttl_s, void **handle, uint64_t *token);
    /* LEEC_OK while no lease of kind/name newer than token has been
     * granted, else LEEC_E_FENCED. The library calls it before
     * version_install and renewal_write when the writer holds a lease,
     * except on a shared store (one with heartbeat): its writes check the
     * token themselves (leec_store_write_token(), else the instance's own
     * "cert" lease) in the same transaction, and the library spares the
     * round trip. */
    leec_code (*fence)(leec_store *s, const char *kind, const char *name,
                       uint64_t token);

    /* ABI 2. The order journal (required): */
    /* Replaces the journal entry of certificate name with entry (text the
     * library makes; secret: it holds a key, kept like one), whole or not
     * at all: after a failure the previous entry is there, whole. durable:
     * on stable storage before it returns (the library asks it for the
     * first entry of an order and for the one that brings its key);
     * otherwise (a later step) it may be lost with a crash of the machine,
     * never of the process, the previous entry standing. token: that of
     * the writer's "cert" lease of name (0: none presented);
     * LEEC_E_FENCED, nothing written, when a newer lease was granted. */
    leec_code (*journal_write)(leec_store *s, const char *name, uint64_t token,
                               const char *entry, bool durable);
    /* *entry (secret), or LEEC_E_NOT_FOUND. */
    leec_code (*journal_read)(leec_store *s, const char *name, char **entry);
    /* Removes the entry of name (LEEC_OK when there is none); fenced as
     * journal_write. Need not be durable: an entry a crash of the machine
     * brings back is of a finished order, which the next run finds valid
     * (downloaded again, no new order) or gone. reset removes a
     * certificate's entry with it, durably. */
    leec_code (*journal_remove)(leec_store *s, const char *name,
                                uint64_t token);
    /* The names with an entry, as list. */
    leec_code (*journal_list)(leec_store *s, char ***names, size_t *n);

    /* ABI 3. A store shared by a fleet of nodes (all optional: NULL for a
     * store of one machine; the library then never calls them). */
    /* Renews every lease held through s (claimed or taken by lease) until
     * ttl_s seconds from now, judged by the store's clock. An error (the
     * store unreachable, LEEC_E_IO) tells the holder it may lose its
     * leases: it stops acting on them (self-fencing). LEEC_E_FENCED when
     * one of them was lost (expired and granted to another): the holder
     * forgets it, the others are renewed. */
    leec_code (*heartbeat)(leec_store *s, unsigned ttl_s);
    /* Leases ("cert" kind) up to max certificates whose work is due (a
     * wanted certificate without a version, or one whose next check time,
     * set by schedule, has passed) and whose lease is free or expired,
     * skipping those another node is claiming at the same moment; for
     * ttl_s seconds. *names as list (sorted), (*tokens)[i] the fencing
     * token of names[i] (malloc'd array). A later lease() of one of them
     * through s returns the same token. */
    leec_code (*claim)(leec_store *s, unsigned max, unsigned ttl_s,
                       char ***names, uint64_t **tokens, size_t *n);
    /* Lets go of a lease claim granted and no lease() took (an agent's
     * lease is let go by unlock): forgotten here even when the store
     * cannot be told, so that the heartbeat no longer keeps it up and it
     * expires. */
    void (*unclaim)(leec_store *s, const char *name);
    /* Sets when certificate name next needs a look (Unix time); fenced by
     * token as journal_write (0: no lease presented). Under a lease the
     * caller holds through a handle still out, a backend may keep it back
     * and write it with that handle's unlock, in the same statement (the
     * library schedules, then lets go): then LEEC_OK here, and a refusal
     * at the unlock is logged. */
    leec_code (*schedule)(leec_store *s, const char *name, int64_t when,
                          uint64_t token);
    /* Records certificate name as wanted, with its settings (a JSON
     * object's text, the shape of a version's meta), replacing any, due at
     * once. wanted_read gives them back (LEEC_E_NOT_FOUND when not
     * wanted); wanted_list the wanted names, as list; unwant forgets it
     * (LEEC_OK when it was not; reset does it too). */
    leec_code (*want)(leec_store *s, const char *name, const char *settings);
    leec_code (*wanted_read)(leec_store *s, const char *name, char **settings);
    leec_code (*wanted_list)(leec_store *s, char ***names, size_t *n);
    leec_code (*unwant)(leec_store *s, const char *name);
    /* A descriptor that becomes readable when another node installs a
     * version (PostgreSQL: LISTEN); -1 when none. changes() drains it:
     * the names announced since the last call (as list, possibly with
     * duplicates removed, possibly empty). Never needed for correctness:
     * a reader also looks periodically. */
    int (*changes_fd)(leec_store *s);
    leec_code (*changes)(leec_store *s, char ***names, size_t *n);
    /* The names with a current version, as list, and (*numbers)[i] that
     * version's number (malloc'd array): one read for a node comparing
     * its copy with the store. Optional. */
    leec_code (*list_numbers)(leec_store *s, char ***names, uint64_t **numbers,
                              size_t *n);
    /* Looking a token up without waiting, for a responder on the loop
     * (optional; without them token_get, which waits, is used).
     * token_ask sends the question and returns at once; token_fd is a
     * descriptor that becomes readable when answers may have come (-1:
     * none); token_answers calls fn for each question answered since
     * (key_auth NULL: unknown, or the store could not answer), without
     * waiting. */
    leec_code (*token_ask)(leec_store *s, const char *token);
    int (*token_fd)(leec_store *s);
    leec_code (*token_answers)(leec_store *s,
                               void (*fn)(void *ud, const char *token,
                                          const char *key_auth),
                               void *ud);
    /* Seals again, with the store's current master key, every secret
     * sealed with another (an old key the store was opened with); *count
     * how many. */
    leec_code (*rekey)(leec_store *s, size_t *count);
    /* A token's key authorization as far as the instance knows without a
     * round trip (what other nodes announced, PostgreSQL: NOTIFY): *key_auth
     * (malloc'd), or LEEC_E_NOT_FOUND, and then the responder asks
     * (token_ask). Optional: it only spares round trips. */
    leec_code (*token_known)(leec_store *s, const char *token, char **key_auth);
    /* Writes that do not wait (optional, all five or none: a store whose
     * round trips would hold up the caller's event loop, a database).
     * Each sends its write and returns at once. LEEC_OK: done(ud, rc) is
     * called exactly once, from async_perform, never from within the
     * call, with what the waiting operation (journal_write, token_put)
     * would have returned; an error: nothing was sent, done is never
     * called. Writes are applied in the order sent, each its own
     * transaction. async_fd: the descriptor to watch while writes are in
     * flight, *events the poll(2) events (POLLOUT too while some are
     * still to be sent), or -1 when none is; async_perform sends what is
     * left and reads the answers that came, without waiting. */
    leec_code (*journal_write_async)(leec_store *s, const char *name,
                                     uint64_t token, const char *entry,
                                     bool durable, leec_store_done_fn done,
                                     void *ud);
    leec_code (*token_put_async)(leec_store *s, const char *token,
                                 const char *key_auth, leec_store_done_fn done,
                                 void *ud);
    int (*async_fd)(leec_store *s, short *events);
    void (*async_perform)(leec_store *s);
    /* The writer of ud is gone: done is no longer called for its writes
     * (still applied). */
    void (*async_forget)(leec_store *s, void *ud);
    /* A store with these may also send renewal_write, schedule and a
     * lease's release without waiting once a loop performs it
     * (async_perform was called): LEEC_OK then means sent, the instance's own
     * reads see the write at once, and a refusal is logged when it comes (the
     * library only logs those failures anyway). */
    /* version_install, not waiting (optional, with the five above),
     * fenced by token as the journal's writes (0: the instance's own
     * "cert" lease of name, if any). in is copied. */
    leec_code (*version_install_async)(leec_store *s, const char *name,
                                       const leec_store_new_version *in,
                                       uint64_t token, leec_store_done_fn done,
                                       void *ud);

    /* ABI 4. The governor's budget log (optional, both or neither): the
     * new orders and the certificates issued through the CA of ca_id, so
     * that --budget-orders and --budget-domain count across runs and
     * processes. entry is the library's own text (one line of JSON, at most
     * LEEC_STORE_BUDGET_ENTRY_MAX bytes), kept as given. budget_add keeps
     * entry as made at when (Unix time) beside the others (two processes
     * adding at once both keep theirs) and forgets those made before
     * forget_before; a failure of the forgetting is not an error.
     * budget_read gives the entries made at or after since, oldest first:
     * *entries an array of *n malloc'd strings (as list), (*whens)[i] when
     * entries[i] was made (malloc'd array); none is LEEC_OK with *n 0.
     * Without them, the budgets count what one context saw. */
    leec_code (*budget_add)(leec_store *s, const char *ca_id, int64_t when,
                            const char *entry, int64_t forget_before);
    leec_code (*budget_read)(leec_store *s, const char *ca_id, int64_t since,
                             char ***entries, int64_t **whens, size_t *n);
} leec_store_ops;

/* The largest entry of the budget log (budget_add). */
#define LEEC_STORE_BUDGET_ENTRY_MAX ((size_t)4096)

/*
 * A store made of a backend's operations and its state impl. ops must stay
 * valid as long as the store (usually a static const). On success the
 * store owns impl: leec_store_free() calls ops->destroy once (also when
 * the store belongs to a context that frees it). On failure (*err, when err
 * is not NULL: LEEC_E_INVALID_ARG for ops of an unknown abi (1 to 4 are
 * known) or without a required operation, LEEC_E_NOMEM) NULL, and the caller
 * keeps impl.
 */
LEEC_API leec_store *leec_store_new(const leec_store_ops *ops, void *impl,
                                    leec_code *err);
/* The impl given to leec_store_new(). */
LEEC_API void *leec_store_impl(const leec_store *store);
/* For a shared store's backend, inside version_install and renewal_write:
 * the fencing token the writer presented (0: none), which the write
 * checks in its own transaction (the library calls no fence before it).
 * 0 outside those calls. */
LEEC_API uint64_t leec_store_write_token(const leec_store *store);

/*
 * For backends: records why an operation is refused (a message naming the
 * record and the fix, printf-style) for leec_store_errmsg(), logs it
 * through the context owning the store, and returns LEEC_E_STORE.
 */
LEEC_API leec_code leec_store_refuse(leec_store *store, const char *fmt, ...)
    LEEC_STORE_PRINTF(2, 3);

#ifdef __cplusplus
}
#endif

#endif
