/*
 * libleec — an ACME (RFC 8555) client library.
 *
 * This header is the door into the library. Beside it are the plug-in points:
 * <leec/store.h> (the store's records and the interface a store backend
 * implements), <leec/solver.h> and <leec/dns_provider.h>. The model:
 *
 *   leec_ctx    one per process (or per CA): the CA's directory, the account,
 *               the store, the shared HTTP transport and the event loop.
 *   leec_agent  one per certificate: an explicit state machine that orders,
 *               validates, finalizes, downloads and installs one certificate.
 *   leec_store  where accounts and certificates live: records (accounts,
 *               certificate versions, renewal state) in the filesystem
 *               backend below or in a program's own (<leec/store.h>).
 *
 * Nothing blocks: agents advance when leec_ctx_perform() is called, and
 * leec_ctx_poll() waits for the next socket event or deadline. leec_ctx_run()
 * does both until every agent has finished.
 *
 * Threading: a context and everything created from it must be used from one
 * thread at a time. Separate contexts are independent; the library has no
 * global mutable state. A context generates RSA keys on worker threads of
 * its own (started when first needed, joined by leec_ctx_free), which touch
 * nothing of the context and run no callback: its loop never stalls.
 *
 * Strings passed in are copied unless said otherwise. Strings returned as
 * "const char *" belong to the object they come from and stay valid until that
 * object is freed (or the next call that says it invalidates them). Every
 * _free() function accepts NULL and does nothing.
 */
#ifndef LEEC_LEEC_H
#define LEEC_LEEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && !defined(LEEC_STATIC)
#define LEEC_API __attribute__((visibility("default")))
#else
#define LEEC_API
#endif

#define LEEC_VERSION "0.1.0"

/* --------------------------------------------------------------------- */
/* Errors                                                                 */
/* --------------------------------------------------------------------- */

/*
 * Result codes. The numbers are stable: they may be stored or compared
 * across versions. X(name, number, message).
 */
#define LEEC_CODES(X)                                                          \
    X(LEEC_OK, 0, "success")                                                   \
    X(LEEC_E_NOMEM, 1, "out of memory")                                        \
    X(LEEC_E_INVALID_ARG, 2, "invalid argument")                               \
    X(LEEC_E_IO, 3, "file system error")                                       \
    X(LEEC_E_CRYPTO, 4, "cryptographic operation failed")                      \
    X(LEEC_E_JSON, 5, "malformed JSON")                                        \
    X(LEEC_E_PROTOCOL, 6, "unexpected response from the CA")                   \
    X(LEEC_E_HTTP, 7, "HTTP transport error")                                  \
    X(LEEC_E_TIMEOUT, 8, "timed out")                                          \
    X(LEEC_E_TOO_LARGE, 9, "response too large")                               \
    X(LEEC_E_ACME, 10, "the CA returned an error")                             \
    X(LEEC_E_TOS, 11, "the CA's terms of service must be agreed to")           \
    X(LEEC_E_INVALID_ORDER, 12, "the order or an authorization is invalid")    \
    X(LEEC_E_CERT_MISMATCH, 13, "certificate does not match key or names")     \
    X(LEEC_E_STORE, 14, "certificate store error")                             \
    X(LEEC_E_NOT_FOUND, 15, "not found")                                       \
    X(LEEC_E_SOLVER, 16, "challenge solver failed")                            \
    X(LEEC_E_NO_CHALLENGE, 17, "no challenge this client can solve")           \
    X(LEEC_E_INSECURE_URL, 18, "the CA URL must use https")                    \
    X(LEEC_E_CANCELLED, 19, "cancelled")                                       \
    X(LEEC_E_RATE_LIMITED, 20, "rate limited by the CA")                       \
    X(LEEC_E_BAD_NAME, 21, "invalid domain name")                              \
    X(LEEC_E_BAD_KEY, 22, "invalid or unsupported key")                        \
    X(LEEC_E_STATE, 23, "operation not allowed in this state")                 \
    X(LEEC_E_TLS, 24, "TLS error talking to the CA")                           \
    X(LEEC_E_LOCKED, 25, "locked by another process")                          \
    X(LEEC_E_ADDR_IN_USE, 26,                                                  \
      "address in use (another program listens there)")                        \
    X(LEEC_E_FENCED, 27,                                                       \
      "refused: another holder was granted the lease since (fenced)")

typedef enum leec_code {
#define LEEC_X_ENUM(name, num, msg) name = num,
    LEEC_CODES(LEEC_X_ENUM)
#undef LEEC_X_ENUM
} leec_code;

/* A static, human-readable message for a code; never NULL. */
LEEC_API const char *leec_strerror(leec_code code);

/* A subproblem of an RFC 8555 problem document (§6.7.1). */
typedef struct leec_subproblem {
    const char *type;     /* URN, e.g. "urn:ietf:params:acme:error:dns" */
    const char *detail;   /* may be NULL */
    const char *id_type;  /* identifier type ("dns", "ip"), may be NULL */
    const char *id_value; /* identifier value, may be NULL */
} leec_subproblem;

/*
 * An RFC 7807 problem document the CA returned. Read-only; owned by the
 * object it was obtained from. Strings are sanitised (control characters
 * replaced) and may be NULL when the CA left them out.
 */
typedef struct leec_problem {
    /* URN, e.g. "urn:ietf:params:acme:error:rejectedIdentifier" */
    const char *type;
    const char *detail;
    long status;      /* HTTP status of the response, 0 if not from HTTP */
    long retry_after; /* seconds from Retry-After, or -1 */
    size_t nsub;
    const leec_subproblem *sub;
} leec_problem;

/* --------------------------------------------------------------------- */
/* Logging                                                                */
/* --------------------------------------------------------------------- */

typedef enum leec_log_level {
    LEEC_LOG_ERROR = 0,
    LEEC_LOG_WARN = 1,
    LEEC_LOG_INFO = 2,
    LEEC_LOG_DEBUG = 3
} leec_log_level;

/*
 * Log callback. msg is a NUL-terminated line without a trailing newline,
 * valid only during the call. It never contains private keys, HMAC keys or
 * whole JWS bodies; bytes from the server are sanitised.
 */
typedef void (*leec_log_fn)(void *userdata, leec_log_level level,
                            const char *msg);

/* --------------------------------------------------------------------- */
/* Keys                                                                   */
/* --------------------------------------------------------------------- */

typedef enum leec_key_type {
    LEEC_KEY_EC256 = 0, /* ECDSA P-256, the default */
    LEEC_KEY_EC384,
    LEEC_KEY_RSA2048,
    LEEC_KEY_RSA3072,
    LEEC_KEY_RSA4096
} leec_key_type;

/* "ec256", "ec384", "rsa2048", ...; NULL for an unknown value. */
LEEC_API const char *leec_key_type_name(leec_key_type type);
/* Parses a name as above. Returns LEEC_E_INVALID_ARG if unknown. */
LEEC_API leec_code leec_key_type_parse(const char *name, leec_key_type *out);

/* --------------------------------------------------------------------- */
/* Certificate summaries (what `openssl x509 -text` tells, condensed)      */
/* --------------------------------------------------------------------- */

typedef struct leec_cert_info {
    char *subject; /* one-line RFC 2253 form */
    char *issuer;  /* one-line RFC 2253 form */
    char *serial;  /* lower-case hex, no separators */
    char **names;  /* subjectAltName entries (DNS names and IPs) */
    size_t nnames;
    char *key_type;   /* "EC", "RSA", ... */
    char *key_detail; /* "P-256", "2048 bits", ... */
    int key_bits;
    time_t not_before;
    time_t not_after;
} leec_cert_info;

/*
 * Parses the first certificate of a PEM buffer into a summary.
 * *out is allocated; free it with leec_cert_info_free().
 * Errors: LEEC_E_INVALID_ARG (no certificate), LEEC_E_NOMEM.
 */
LEEC_API leec_code leec_cert_info_from_pem(const char *pem, size_t len,
                                           leec_cert_info **out);
LEEC_API void leec_cert_info_free(leec_cert_info *info);

/*
 * The top of a PEM chain (chain.pem, or a CA's download): its last
 * certificate. Every output pointer may be NULL (not wanted); the strings
 * are malloc'd: *top_pem (the certificate, re-encoded as PEM), *subject_cn
 * and *issuer_cn (its subject's and issuer's commonName, NULL when absent),
 * *ca_issuers (the caIssuers URI of its Authority Information Access, NULL
 * when absent). *self_signed: the certificate is its own issuer (names
 * match and its signature verifies with its own key): a root.
 * Errors: LEEC_E_INVALID_ARG (not a chain of PEM certificates),
 * LEEC_E_NOMEM.
 */
LEEC_API leec_code leec_chain_top(const char *pem, size_t len, char **top_pem,
                                  char **subject_cn, char **issuer_cn,
                                  bool *self_signed, char **ca_issuers);

/* --------------------------------------------------------------------- */
/* Store                                                                  */
/* --------------------------------------------------------------------- */

/* A store: a backend's operations and state (the filesystem store here;
 * <leec/store.h> for its records, version reads and other backends). */
typedef struct leec_store leec_store;

/*
 * Opens (creating if needed, mode 0700) a filesystem store rooted at dir:
 *   accounts/<ca>/account.json, account.key.pem
 *   archive/<cert-name>/<N>/{privkey,cert,chain,fullchain}.pem
 *   live/<cert-name> -> ../archive/<cert-name>/<N>   (switched atomically)
 *   locks/   advisory locks, so that several processes can share the store
 *
 * The store is used only when nobody else can have written it, since it
 * decides which key a server loads and which hook commands a renewal runs:
 * dir (which may be reached through symbolic links: that is the caller's
 * choice) and every folder of the store must be owned by the effective
 * user of the process (when the store is opened) and not writable by
 * group or others, and so must
 * every file read from it (a private key not readable by others either;
 * readable by its group is allowed). Inside dir nothing is reached through
 * a symbolic link but live/<cert-name>, which is read only when it points
 * exactly at ../archive/<cert-name>/<N>. What breaks these rules is
 * refused with LEEC_E_STORE and a message naming the path and the fix
 * (chmod, chown): *why here, leec_store_errmsg() later. dir and live/,
 * archive/, locks/, accounts/ are checked here; the folders and files of a
 * certificate or account each time they are used.
 *
 * Returns NULL on failure with *err set (LEEC_E_STORE, LEEC_E_IO,
 * LEEC_E_INVALID_ARG, LEEC_E_NOMEM) when err is not NULL, and, for
 * LEEC_E_STORE, *why set to a newly allocated message the caller frees
 * (NULL otherwise) when why is not NULL. Returns the store, which keeps
 * descriptors of dir and its folders open (close-on-exec) until
 * leec_store_free().
 */
LEEC_API leec_store *leec_store_fs_open(const char *dir, leec_code *err,
                                        char **why);
/* leec_store_fs_open(dir, err, NULL). */
LEEC_API leec_store *leec_store_fs_new(const char *dir, leec_code *err);
/* Frees a store (its backend's state through its destroy operation). */
LEEC_API void leec_store_free(leec_store *store);

/*
 * Why the last function on store that returned LEEC_E_STORE did so: a
 * message naming the path and the fix, e.g. "state file
 * /var/lib/leec/archive/x/3/meta.json is writable by group or others
 * (mode 0664): chmod go-w /var/lib/leec/archive/x/3/meta.json". NULL when
 * there was none (or it could not be allocated). Owned by the store; valid
 * until the next call on it. When the store belongs to a context
 * (leec_ctx_set_store), these messages are also logged through it at
 * LEEC_LOG_ERROR.
 */
LEEC_API const char *leec_store_errmsg(const leec_store *store);

/*
 * Path of the live folder of a certificate in a filesystem store (live/ is
 * that backend's export for web servers), from the root (a store opened on
 * a relative folder: from the working folder of then), as a newly
 * allocated string the caller frees; NULL for other backends or on error.
 * The folder may not exist yet.
 */
LEEC_API char *leec_store_live_path(leec_store *store, const char *cert_name);

/*
 * Reads the current certificate of cert_name (cert.pem contents) into a new
 * NUL-terminated buffer the caller frees. LEEC_E_NOT_FOUND if none,
 * LEEC_E_STORE when refused as unsafe (leec_store_errmsg() says why: a
 * live link not made by leec, a file or folder others can write).
 */
LEEC_API leec_code leec_store_read_cert(leec_store *store,
                                        const char *cert_name, char **pem);

/*
 * The same for the issuer chain of the current version (chain.pem, may be
 * empty).
 */
LEEC_API leec_code leec_store_read_chain(leec_store *store,
                                         const char *cert_name, char **pem);

/*
 * Reads the private key and the full chain (certificate then issuers) of the
 * current version of cert_name, both from the same version even while a new
 * one is being installed: what a server embedding the library loads. Both
 * are newly allocated NUL-terminated PEM strings the caller frees; the key
 * is secret (clear it before freeing). LEEC_E_NOT_FOUND if none,
 * LEEC_E_INVALID_ARG, LEEC_E_IO, LEEC_E_STORE (refused as unsafe: a live link
 * not made by leec, a file or folder others can write, a key others can
 * read; leec_store_errmsg() says which and the fix).
 */
LEEC_API leec_code leec_store_read_live(leec_store *store,
                                        const char *cert_name,
                                        char **privkey_pem,
                                        char **fullchain_pem);

/*
 * The names of the certificates that have a current version (a live/<name>
 * link in a filesystem store), sorted by strcmp(). *names is a newly
 * allocated array of *n newly allocated strings (NULL when *n is 0); free
 * it with leec_store_list_free(). Every link is named; reading through one
 * checks it (LEEC_E_STORE for one leec did not make). Errors:
 * LEEC_E_INVALID_ARG, LEEC_E_IO, LEEC_E_NOMEM.
 */
LEEC_API leec_code leec_store_list(leec_store *store, char ***names, size_t *n);
/* Frees what leec_store_list() returned (names may be NULL). */
LEEC_API void leec_store_list_free(char **names, size_t n);

/*
 * Reads meta.json of the current version of cert_name (the settings kept
 * with it, e.g. "server", the CA's directory URL) into a new NUL-terminated
 * buffer the caller frees. LEEC_E_NOT_FOUND if there is no current version
 * or it has no meta.json; LEEC_E_INVALID_ARG, LEEC_E_IO, LEEC_E_STORE
 * (refused as unsafe, see leec_store_errmsg(): the settings hold commands
 * that `leec renew` runs, so a meta.json not owned by the user or writable
 * by others is never read).
 */
LEEC_API leec_code leec_store_read_meta(leec_store *store,
                                        const char *cert_name, char **json);

/*
 * Forgets state. With cert_name: every version of that certificate (its
 * live link first, so no reader ever finds a link to a removed version,
 * then its archive, moved away by a rename before being deleted) and its
 * order in progress (the journal entry: the order is abandoned at the CA,
 * leec_store_order_read() tells it first). With NULL: every certificate
 * and order in progress, then the accounts. Takes the certificate lock(s)
 * first: LEEC_E_LOCKED, with nothing removed, while another process (an
 * issue in progress) holds one. Resetting a certificate that does not exist
 * succeeds. Errors: LEEC_E_INVALID_ARG, LEEC_E_LOCKED, LEEC_E_IO,
 * LEEC_E_NOMEM.
 */
LEEC_API leec_code leec_store_reset(leec_store *store, const char *cert_name);

/*
 * A store-wide exclusive lock named name (a store name such as "daemon":
 * one leec daemon per state folder), taken without waiting and held until
 * released (or the process ends: a crashed holder leaves no stale lock).
 * *lock is the handle to release. LEEC_E_LOCKED when another process holds
 * it, with *holder (if holder is not NULL) a newly allocated "PID 1234"
 * (or "PID 1234 on host", or "another process" when unknown) the caller
 * frees. Errors: LEEC_E_INVALID_ARG, LEEC_E_LOCKED, LEEC_E_IO,
 * LEEC_E_NOMEM.
 */
typedef struct leec_store_lock leec_store_lock;
LEEC_API leec_code leec_store_lock_take(leec_store *store, const char *name,
                                        leec_store_lock **lock, char **holder);
/* Releases a lock (NULL does nothing); before its store is freed. */
LEEC_API void leec_store_lock_release(leec_store_lock *lock);

/*
 * When a certificate is due for renewal, from what the store knows (no
 * network). One rule, the same for leec renew (and its dry run), leec list,
 * the daemon and the agent itself:
 *   - a certificate leec revoked (leec_store_note_revoked) is due at once;
 *   - otherwise the lifetime rule (a third of the lifetime left, half for
 *     lifetimes under 10 days), or, when its CA offers ACME Renewal
 *     Information (RFC 9773) and a window was fetched, the random time
 *     chosen inside the suggested window if that is earlier: a CA may
 *     advance a renewal, never postpone it past the lifetime rule (a window
 *     that starts later is ignored, and the plan says so);
 *   - failed renewals back off (1 h doubling to a day, never more than a
 *     third of the time left before expiry).
 */
typedef enum leec_due_reason {
    LEEC_DUE_LIFETIME = 0,
    LEEC_DUE_ARI,
    LEEC_DUE_REVOKED,
    LEEC_DUE_BROKEN /* the installed version is unusable: see broken */
} leec_due_reason;

typedef struct leec_renewal_plan {
    time_t not_before, not_after; /* the installed certificate's */
    time_t due;                   /* renewal is due from then */
    leec_due_reason why;
    bool ari;                        /* the CA offers renewal information */
    time_t window_start, window_end; /* its suggested window (0: unknown) */
    time_t next_check;     /* when renewal information is fetched again
                              (Retry-After; 0: not offered) */
    char *explanation_url; /* the CA's explanation, or NULL */
    unsigned failures;     /* consecutive failed renewals */
    time_t retry_at;       /* no new attempt before (0: none) */
    char *last_error;      /* the last failure, or NULL */
    time_t wake;       /* when a renewal run should next look at it: the later
                          of retry_at and the earlier of due and next_check */
    bool ari_ignored;  /* the CA's window starts after the lifetime rule's
                          time (or after expiry): ignored */
    time_t revoked_at; /* leec revoked this certificate then (0: no) */
    char *broken;      /* what makes the installed version unusable, e.g.
                          "privkey.pem is empty", "cert.pem holds no readable
                          certificate" (not_before and not_after are 0 then),
                          "meta.json is malformed"; NULL when it is whole. Due
                          at once (LEEC_DUE_BROKEN): a renewal replaces it. */
} leec_renewal_plan;

/* Fills *out (allocated; free with leec_renewal_plan_free) for cert_name.
 * The checks are cheap (no OpenSSL): the certificate's DER, the key's PEM
 * and DER structure, meta.json's syntax; an agent started for it also
 * checks that the key is the certificate's. A broken version gives a plan
 * with broken set, not an error.
 * Errors: LEEC_E_NOT_FOUND (no current version), LEEC_E_INVALID_ARG (bad
 * name), LEEC_E_STORE (a file refused as unsafe, see leec_store_errmsg()),
 * LEEC_E_IO, LEEC_E_NOMEM. */
LEEC_API leec_code leec_store_renewal_plan(leec_store *store,
                                           const char *cert_name,
                                           leec_renewal_plan **out);
/* The rule that makes plan->due, in words, for people: "the CA's renewal
 * window (ARI)", "a third of the lifetime left", "half of the lifetime
 * left (lifetime under 10 days)", "revoked by leec", "the installed
 * version is broken". A static string. */
LEEC_API const char *leec_renewal_plan_rule(const leec_renewal_plan *plan);
LEEC_API void leec_renewal_plan_free(leec_renewal_plan *plan);

/*
 * Records that cert_pem (its first certificate) was revoked at when, if it
 * is the current version of cert_name: that version's renewal plan is then
 * due at once (LEEC_DUE_REVOKED), so leec renew, the daemon and an agent
 * started for it order a new one. Revoking an older version changes
 * nothing (LEEC_OK). A version installed later starts afresh.
 * Errors: LEEC_E_INVALID_ARG (bad name, no certificate in cert_pem),
 * LEEC_E_NOT_FOUND (no current version), LEEC_E_IO, LEEC_E_NOMEM.
 */
LEEC_API leec_code leec_store_note_revoked(leec_store *store,
                                           const char *cert_name,
                                           const char *cert_pem, time_t when);

/* --------------------------------------------------------------------- */
/* Files and parameters (for tools built on the library)                   */
/* --------------------------------------------------------------------- */

/*
 * Writes len bytes of data to path atomically: a temporary file in the same
 * folder, created with mode (e.g. 0644; 0600 for secrets), written, fsync'd
 * and renamed over path, then the folder fsync'd. Readers see the old file
 * or the new one, never a part. On failure path is untouched.
 * Errors: LEEC_E_INVALID_ARG, LEEC_E_IO.
 */
LEEC_API leec_code leec_write_file_atomic(const char *path, const void *data,
                                          size_t len, int mode);

/*
 * Diffie-Hellman parameters for a TLS server's finite-field key exchange,
 * as PEM ("-----BEGIN DH PARAMETERS-----"). bits is 2048, 3072 or 4096.
 * generate false: the RFC 7919 group of that size (ffdhe2048, ...; instant,
 * and the recommended choice). generate true: fresh safe-prime parameters
 * (slow: seconds to minutes). *pem is a newly allocated NUL-terminated
 * string the caller frees. Errors: LEEC_E_INVALID_ARG (other sizes),
 * LEEC_E_CRYPTO, LEEC_E_NOMEM.
 */
LEEC_API leec_code leec_dhparam_pem(int bits, bool generate, char **pem);

/* --------------------------------------------------------------------- */
/* Context                                                                */
/* --------------------------------------------------------------------- */

typedef struct leec_ctx leec_ctx;
typedef struct leec_agent leec_agent;

/* Directory URLs of well-known CAs. */
#define LEEC_LETSENCRYPT_URL "https://acme-v02.api.letsencrypt.org/directory"
#define LEEC_LETSENCRYPT_STAGING_URL                                           \
    "https://acme-staging-v02.api.letsencrypt.org/directory"

/*
 * Maps "letsencrypt" and "letsencrypt-staging" to their directory URLs;
 * returns any other string unchanged.
 */
LEEC_API const char *leec_server_url(const char *name_or_url);

/*
 * Creates a context. Defaults: Let's Encrypt production, the system trust
 * store, a saved account without contact, no store (set one before starting
 * an agent), log level WARN to nowhere. NULL on allocation failure.
 */
LEEC_API leec_ctx *leec_ctx_new(void);

/*
 * Frees the context. Agents still attached are freed too, their solvers'
 * side effects (webroot files, responder tokens) undone; the store is freed.
 */
LEEC_API void leec_ctx_free(leec_ctx *ctx);

/*
 * Sets the CA's ACME directory URL. Must be https://, else
 * LEEC_E_INSECURE_URL. Call before starting any agent (LEEC_E_STATE after).
 */
LEEC_API leec_code leec_ctx_set_server(leec_ctx *ctx, const char *url);

/*
 * Trusts the certificates in this PEM file instead of the system store for
 * the CA connection (as curl's --cacert). NULL restores the system store.
 */
LEEC_API leec_code leec_ctx_set_ca_bundle(leec_ctx *ctx, const char *path);

/* Takes ownership of store (freed with the context or when replaced). */
LEEC_API void leec_ctx_set_store(leec_ctx *ctx, leec_store *store);

/* The context's store, or NULL. Owned by the context. */
LEEC_API leec_store *leec_ctx_get_store(leec_ctx *ctx);

/*
 * Logging: fn receives messages at level or more severe. fn NULL: silent.
 */
LEEC_API void leec_ctx_set_log(leec_ctx *ctx, leec_log_fn fn, void *userdata,
                               leec_log_level level);

typedef enum leec_account_mode {
    /* One account per CA kept in the store and shared by every certificate
     * (needed later for renewals with `replaces`, revocation, rate limits).
     * Created on first use. */
    LEEC_ACCOUNT_SAVED = 0,
    /* A fresh account for this context only, never written anywhere. */
    LEEC_ACCOUNT_THROWAWAY = 1,
    /* A fresh account for each certificate (each agent makes its own key
     * and account, and signs its every request with it), never written
     * anywhere: the certificates of a run are not linked by their account
     * at the CA. Each costs a newAccount (the CA's limits on new accounts
     * apply). The context's own operations (revocation, account
     * management) still use the context's account. */
    LEEC_ACCOUNT_PER_CERTIFICATE = 2
} leec_account_mode;

/* Which account agents use (default LEEC_ACCOUNT_SAVED). Before the first
 * agent starts. */
LEEC_API void leec_ctx_set_account_mode(leec_ctx *ctx, leec_account_mode mode);

/*
 * Contact e-mail for a new account (without "mailto:"); NULL for none.
 * LEEC_E_INVALID_ARG for an address with no '@' or with control characters.
 */
LEEC_API leec_code leec_ctx_set_contact(leec_ctx *ctx, const char *email);

/*
 * Whether the user agrees to the CA's terms of service. Creating an account
 * at a CA whose directory lists termsOfService fails with LEEC_E_TOS unless
 * set; leec_ctx_terms_url() then tells the URL.
 */
LEEC_API void leec_ctx_set_agree_tos(leec_ctx *ctx, bool agree);

/* The CA's terms-of-service URL once the directory is known, else NULL. */
LEEC_API const char *leec_ctx_terms_url(leec_ctx *ctx);

/* Key type of a new account key (default ec256). */
LEEC_API void leec_ctx_set_account_key_type(leec_ctx *ctx, leec_key_type type);

/*
 * External Account Binding (RFC 8555 §7.3.4): some CAs (ZeroSSL, Google,
 * SSL.com, ...) only create accounts tied to an account of theirs. kid is
 * the key identifier they give, hmac_key_b64url the MAC key, base64url
 * without padding (as they print it). A newAccount request then carries
 * "externalAccountBinding": a JWS signed with HS256 over the new account's
 * public JWK, protected {"alg":"HS256","kid":kid,"url":newAccount URL}.
 * The key is decoded and kept in the context only (wiped when replaced or
 * freed), never logged nor saved. kid NULL removes the binding. Only a new
 * account uses it: a saved account is used as it is.
 * Errors: LEEC_E_INVALID_ARG (kid empty or with control characters,
 * hmac_key_b64url NULL, empty or not base64url), LEEC_E_NOMEM.
 */
LEEC_API leec_code leec_ctx_set_eab(leec_ctx *ctx, const char *kid,
                                    const char *hmac_key_b64url);

/*
 * Starts the built-in http-01 responder (libmicrohttpd) on "[ADDR:]PORT"
 * ("80", "127.0.0.1:5002", "[::1]:80"). It serves only
 * /.well-known/acme-challenge/TOKEN for tokens of live challenges, from this
 * context's event loop. Errors: LEEC_E_INVALID_ARG (bad address),
 * LEEC_E_ADDR_IN_USE (another program listens there), LEEC_E_IO (cannot
 * listen otherwise, e.g. a port below 1024 without the privilege).
 */
LEEC_API leec_code leec_ctx_listen_http01(leec_ctx *ctx, const char *addr);

/*
 * The key authorization for an http-01 token of a live challenge of any
 * agent of this context, so that a host web server can answer
 * /.well-known/acme-challenge/TOKEN itself. *out is allocated (caller frees).
 * LEEC_E_NOT_FOUND for an unknown token. May be called from callbacks.
 */
LEEC_API leec_code leec_ctx_http01_key_authorization(leec_ctx *ctx,
                                                     const char *token,
                                                     char **out);

/*
 * Does all work that is due now without blocking: reads and writes sockets,
 * fires deadlines, advances agents. *running (if not NULL) receives the
 * number of agents not yet finished, plus the revocations not yet reported
 * (leec_ctx_revoke), plus one while challenge clean-ups (removing DNS
 * records, say) are still under way: loop until it is 0.
 * Callbacks run from inside this call.
 */
LEEC_API leec_code leec_ctx_perform(leec_ctx *ctx, int *running);

/*
 * Waits until a socket is ready or the next deadline, at most timeout_ms
 * (negative: no limit other than the next deadline). Then call perform.
 * A wait only: nothing is sent or created, and no callback runs.
 */
LEEC_API leec_code leec_ctx_poll(leec_ctx *ctx, int timeout_ms);

/* perform + poll until no agent (nor revocation) is running. */
LEEC_API leec_code leec_ctx_run(leec_ctx *ctx);

/* Milliseconds until the next deadline of the context (-1: none; 0: work
 * is due now). A query, as every getter of this header: nothing is sent or
 * released, and no callback runs; only leec_ctx_perform() (and the waits
 * built on it) acts. */
LEEC_API long leec_ctx_timeout_ms(leec_ctx *ctx);

/*
 * A file descriptor for a host event loop (epoll, poll, select, libuv...):
 * it becomes readable whenever the context has socket work. Add it to your
 * loop for reading and call leec_ctx_perform() when it is readable or when
 * leec_ctx_timeout_ms() has elapsed, whichever comes first. Owned by the
 * context (never close it); the same for the context's whole life, and
 * asking for it early changes no setting.
 */
LEEC_API int leec_ctx_get_fd(leec_ctx *ctx);

/* Number of HTTP requests the context has sent (for measurements). */
LEEC_API unsigned long leec_ctx_request_count(leec_ctx *ctx);

/* Number of connections (TCP, and so TLS handshakes) the context opened. */
LEEC_API unsigned long leec_ctx_connection_count(leec_ctx *ctx);

/* --------------------------------------------------------------------- */
/* Counters: what the context asked of its CA (for metrics)               */
/* --------------------------------------------------------------------- */

/* The kind of ACME resource a request went to (RFC 8555 §7.1). */
typedef enum leec_endpoint {
    LEEC_EP_DIRECTORY,    /* GET of the directory */
    LEEC_EP_NEW_NONCE,    /* HEAD newNonce */
    LEEC_EP_NEW_ACCOUNT,  /* newAccount (registration, or looking it up) */
    LEEC_EP_ACCOUNT,      /* the account's URL (show, update, deactivate) */
    LEEC_EP_NEW_ORDER,    /* newOrder */
    LEEC_EP_ORDER,        /* an order's URL (polls, resuming) */
    LEEC_EP_AUTHZ,        /* an authorization's URL */
    LEEC_EP_CHALLENGE,    /* a challenge's URL (the response) */
    LEEC_EP_FINALIZE,     /* an order's finalize URL */
    LEEC_EP_CERTIFICATE,  /* a certificate's URL (download) */
    LEEC_EP_RENEWAL_INFO, /* renewalInfo (RFC 9773) */
    LEEC_EP_REVOKE_CERT,  /* revokeCert */
    LEEC_EP_KEY_CHANGE,   /* keyChange */
    LEEC_EP_OTHER,        /* anything else (AIA fetches are not counted) */
    LEEC_EP_COUNT         /* the number of kinds; not a kind */
} leec_endpoint;

/* The endpoint's name as the directory spells it ("directory", "newNonce",
 * "newAccount", "account", "newOrder", "order", "authz", "challenge",
 * "finalize", "certificate", "renewalInfo", "revokeCert", "keyChange",
 * "other"); "other" for a value out of range. A static string. */
LEEC_API const char *leec_endpoint_name(leec_endpoint ep);

/* The context's counters, read with leec_ctx_stat(). They start at 0 when
 * the context is made and only grow. */
typedef enum leec_stat {
    LEEC_STAT_BADNONCE_RETRIES, /* requests sent again after a badNonce */
    LEEC_STAT_ORDERS_CREATED,   /* orders the CA created (newOrder 201) */
    LEEC_STAT_ORDERS_WASTED,    /* orders that ended without a certificate
                                   and will not be taken up again (failed,
                                   invalid, or of an earlier run found
                                   unusable); one cut short by a stop or
                                   the network, kept in the store's journal
                                   for the next run, is not counted */
    LEEC_STAT_GOVERNOR_WAITS,   /* times the governor held a request (rate,
                                   CA-wide pause) or an order (parallel
                                   limit, budgets, pause) */
    LEEC_STAT_GOVERNOR_WAIT_MS, /* the milliseconds those waits lasted (a
                                   wait is added when it ends) */
    LEEC_STAT_COUNT             /* the number of counters; not a counter */
} leec_stat;

/* The value of counter which; 0 for a value out of range. A getter: it
 * sends nothing and runs no callback. Not thread-safe: call it from the
 * thread that drives the context (between leec_ctx_perform() calls, or from
 * a callback), and copy what another thread is to read. */
LEEC_API uint64_t leec_ctx_stat(leec_ctx *ctx, leec_stat which);

/* Called once per (endpoint, HTTP status) pair met so far, with how many
 * answers came with that status; http_status is 0 for requests that got no
 * HTTP answer (connection, TLS or timeout errors). Every answer counts, also
 * those the library handled itself (a badNonce retried, a 503 waited
 * out), so the sum is the number of exchanges with the CA. */
typedef void (*leec_request_count_fn)(void *userdata, leec_endpoint ep,
                                      long http_status, uint64_t count);

/* Calls fn for each pair counted by ctx, in no particular order. fn must
 * not call into ctx. The same thread rule as leec_ctx_stat(). */
LEEC_API void leec_ctx_foreach_request_count(leec_ctx *ctx,
                                             leec_request_count_fn fn,
                                             void *userdata);

/* --------------------------------------------------------------------- */
/* The governor: keeping a whole process within the CA's limits           */
/* --------------------------------------------------------------------- */

/*
 * At most n orders in flight at once (default 10; 0: no limit). Agents
 * beyond it wait in state QUEUED with reason LEEC_WAIT_PARALLEL and start
 * as others finish. May be called at any time.
 */
LEEC_API void leec_ctx_set_max_parallel(leec_ctx *ctx, unsigned n);

/*
 * At most per_second requests per second to the CA (a token bucket with a
 * burst of one second's worth; 0: no limit). The default is 0 except for
 * the Let's Encrypt URLs, where it is 20 (their published overall limit).
 */
LEEC_API void leec_ctx_set_rate_limit(leec_ctx *ctx, double per_second);

/*
 * Budgets modelled on Let's Encrypt's limits, counted by this context and,
 * when its store keeps a budget log (the filesystem and PostgreSQL stores
 * do; include/leec/store.h), across runs: each new order and certificate
 * is recorded there, and before its first order the context counts what
 * the log holds within the windows. The budgets:
 * at most orders new orders per window_s seconds (LE: 300 per 3 hours), and
 * at most certs certificates per registered domain (the public-suffix
 * registrable domain, e.g. example.co.uk) per window_s (LE: 50 per 7 days).
 * An agent over budget waits (LEEC_WAIT_ORDER_BUDGET,
 * LEEC_WAIT_DOMAIN_BUDGET) until the window allows it, rather than failing;
 * the wait is logged (LEEC_LOG_WARN) once with its end in UTC.
 * 0 turns a budget off (the default, except for the Let's Encrypt URLs).
 */
LEEC_API void leec_ctx_set_order_budget(leec_ctx *ctx, unsigned orders,
                                        unsigned window_s);
LEEC_API void leec_ctx_set_domain_budget(leec_ctx *ctx, unsigned certs,
                                         unsigned window_s);

/*
 * When the CA answers 429 or 503 with Retry-After, the context sends it
 * nothing at all until that time (every agent waits, LEEC_WAIT_PAUSED) and
 * then carries on. Returns the wall-clock end of the current pause, or 0.
 */
LEEC_API time_t leec_ctx_paused_until(leec_ctx *ctx);

/*
 * Stops the run (an interrupt): every running agent fails with
 * LEEC_E_CANCELLED ("interrupted"; its done callback runs from the next
 * leec_ctx_perform(), not from this call), and what their solvers put up
 * (challenge files, DNS records, a hook's begin) starts being taken down
 * at once, without waiting: leec_ctx_perform() reports running until it
 * is done (each removal bounded by its solver's timeouts), and
 * leec_ctx_cleanups() tells how it went. An interrupted order stays in the
 * store's journal for the next run; no renewal failure is recorded.
 * Returns the number of removals started (0: nothing was up). Calling it
 * again stops only agents started since. Not from a callback.
 */
LEEC_API size_t leec_ctx_stop(leec_ctx *ctx);

/*
 * The challenge removals under way (a validated challenge's, or those
 * leec_ctx_stop() started), and in *failed (when not NULL) how many have
 * failed since the context was made, each logged with its reason (WARN).
 */
LEEC_API unsigned leec_ctx_cleanups(const leec_ctx *ctx, unsigned *failed);

/*
 * How long one run waits for a CA pause at most (default 3600 s): a longer
 * Retry-After fails the affected agents with LEEC_E_RATE_LIMITED, the
 * problem document kept.
 */
LEEC_API void leec_ctx_set_max_pause(leec_ctx *ctx, unsigned seconds);

/*
 * How long an order or an authorization may stay pending or processing
 * once answered (default LEEC_ORDER_TIMEOUT_DEFAULT_S, 90 s; 0 restores
 * it): polls come at growing intervals (honouring the CA's Retry-After),
 * and when the time is up the agent fails with LEEC_E_TIMEOUT and a
 * message naming the object that was stuck and its URL. At any time; it
 * applies to the next wait.
 */
#define LEEC_ORDER_TIMEOUT_DEFAULT_S 90
LEEC_API void leec_ctx_set_order_timeout(leec_ctx *ctx, unsigned seconds);

/*
 * How long an agent (or the account's creation) waits for a certificate's
 * (or the account's) lock held by another process sharing the store
 * (default LEEC_LOCK_TIMEOUT_DEFAULT_S, 300 s; 0: not at all). Then it
 * fails with LEEC_E_LOCKED and a message naming the holder's PID. While it
 * waits, leec_agent_wait() says LEEC_WAIT_LOCK.
 */
#define LEEC_LOCK_TIMEOUT_DEFAULT_S 300
LEEC_API void leec_ctx_set_lock_timeout(leec_ctx *ctx, unsigned seconds);

/*
 * Hooks around ordering (certbot's pre, deploy and post hooks):
 *   LEEC_HOOK_PRE    an agent is about to order (it is due, forced, or new):
 *                    before anything is sent for it; the first PRE after
 *                    a POST (or the first of all) opens a wave (stop a web
 *                    server that holds port 80);
 *   LEEC_HOOK_DEPLOY a certificate was installed (agent: whose; reload
 *                    the server that uses it), before its done callback;
 *   LEEC_HOOK_POST   no agent of the context is ordering any more, after
 *                    some did (agent NULL): the wave is over.
 * A context freed in the middle of a wave calls no POST. The callback runs
 * synchronously from inside leec_ctx_perform() (the agent waits for it)
 * and must not free the agent or the context.
 */
typedef enum leec_hook_point {
    LEEC_HOOK_PRE = 0,
    LEEC_HOOK_DEPLOY,
    LEEC_HOOK_POST
} leec_hook_point;
typedef void (*leec_hook_fn)(void *userdata, leec_hook_point point,
                             leec_agent *agent);
/* Sets (fn NULL: removes) the context's hook callback; userdata is passed
 * back, never freed. At any time; it applies to the next hook point. */
LEEC_API void leec_ctx_set_hook_fn(leec_ctx *ctx, leec_hook_fn fn,
                                   void *userdata);

/* --------------------------------------------------------------------- */
/* Agents: one per certificate                                            */
/* --------------------------------------------------------------------- */

/*
 * The states of an agent. The state machine is in lib/engine/agent.c;
 * every transition is logged and reported to the state callback. RESUME
 * (an order of the store's journal taken up: POST-as-GET, then on as the
 * CA's status says) comes last so that the numbers of the others stay.
 */
#define LEEC_STATES(X)                                                         \
    X(LEEC_ST_IDLE, "IDLE")                                                    \
    X(LEEC_ST_CHECK_EXISTING, "CHECK_EXISTING")                                \
    X(LEEC_ST_RENEWAL_INFO, "RENEWAL_INFO")                                    \
    X(LEEC_ST_WAIT_ACCOUNT, "WAIT_ACCOUNT")                                    \
    X(LEEC_ST_QUEUED, "QUEUED")                                                \
    X(LEEC_ST_NEW_ORDER, "NEW_ORDER")                                          \
    X(LEEC_ST_FETCH_AUTHZ, "FETCH_AUTHZ")                                      \
    X(LEEC_ST_PRESENT, "PRESENT")                                              \
    X(LEEC_ST_RESPOND, "RESPOND")                                              \
    X(LEEC_ST_AUTHZ_POLL, "AUTHZ_POLL")                                        \
    X(LEEC_ST_FINALIZE, "FINALIZE")                                            \
    X(LEEC_ST_ORDER_POLL, "ORDER_POLL")                                        \
    X(LEEC_ST_DOWNLOAD, "DOWNLOAD")                                            \
    X(LEEC_ST_INSTALL, "INSTALL")                                              \
    X(LEEC_ST_DONE, "DONE")                                                    \
    X(LEEC_ST_FAILED, "FAILED")                                                \
    X(LEEC_ST_RESUME, "RESUME")

typedef enum leec_agent_state {
#define LEEC_X_STATE(name, str) name,
    LEEC_STATES(LEEC_X_STATE)
#undef LEEC_X_STATE
        LEEC_ST__COUNT
} leec_agent_state;

/* "NEW_ORDER", ...; never NULL. */
LEEC_API const char *leec_state_name(leec_agent_state state);

typedef enum leec_outcome {
    LEEC_OUTCOME_NONE = 0, /* not finished */
    LEEC_OUTCOME_ISSUED,   /* a new certificate is installed */
    LEEC_OUTCOME_FRESH,    /* existing certificate kept: same names, not due */
    LEEC_OUTCOME_FAILED,
    LEEC_OUTCOME_DEFERRED /* due, but backing off after failed renewals */
} leec_outcome;

/* Why an agent (or a request) is waiting instead of working. */
typedef enum leec_wait_reason {
    LEEC_WAIT_NONE = 0,
    LEEC_WAIT_PARALLEL,      /* the limit of orders in flight is reached */
    LEEC_WAIT_RATE,          /* the request rate limit */
    LEEC_WAIT_PAUSED,        /* the CA asked for a pause (429/503) */
    LEEC_WAIT_ORDER_BUDGET,  /* new orders per account per window spent */
    LEEC_WAIT_DOMAIN_BUDGET, /* certificates per registered domain spent */
    LEEC_WAIT_LOCK           /* another process holds the certificate */
} leec_wait_reason;

/* "parallel limit", "CA pause", ...; never NULL. */
LEEC_API const char *leec_wait_reason_name(leec_wait_reason reason);

/* Called on every state change, from inside leec_ctx_perform(). */
typedef void (*leec_state_fn)(void *userdata, leec_agent *agent,
                              leec_agent_state from, leec_agent_state to);
/* Called once when the agent finishes (DONE or FAILED). The agent may be
 * freed from inside this callback. */
typedef void (*leec_done_fn)(void *userdata, leec_agent *agent,
                             leec_outcome outcome);

/*
 * Creates an agent for one certificate covering names[0..n-1] (DNS names;
 * the first is the subject). cert_name NULL means names[0]. Names are
 * lower-cased; duplicates are dropped. The agent belongs to ctx and is freed
 * with it unless freed before. NULL with *err set: LEEC_E_BAD_NAME,
 * LEEC_E_INVALID_ARG (no names, bad cert name), LEEC_E_NOMEM.
 */
LEEC_API leec_agent *leec_agent_new(leec_ctx *ctx, const char *cert_name,
                                    const char *const *names, size_t n,
                                    leec_code *err);

/* Frees the agent, undoing its solvers' side effects if it is running. */
LEEC_API void leec_agent_free(leec_agent *agent);

/* Key type of the certificate key (default ec256). Once set (even to
 * ec256), an installed certificate whose key is of another type is ordered
 * again although fresh, as one for other names is; left unset, the
 * installed one's type does not matter until it is due. Before start
 * only. */
LEEC_API leec_code leec_agent_set_key_type(leec_agent *agent,
                                           leec_key_type type);

/*
 * http-01 solver: write challenge files under
 * dir/.well-known/acme-challenge/ (removed afterwards, on every path)
 * instead of the built-in responder. Before start only. Errors: as
 * leec_ctx_solver_webroot (LEEC_E_NOT_FOUND: no such folder), and
 * LEEC_E_STATE.
 */
LEEC_API leec_code leec_agent_set_webroot(leec_agent *agent, const char *dir);

/*
 * Preferred chain (like certbot's --preferred-chain): when the topmost
 * certificate of the CA's default chain was not issued by (nor is) a
 * certificate with this commonName, the alternate chains the CA offers
 * (Link rel="alternate", at most 4) are downloaded, each checked like the
 * default one, and the first whose top certificate's issuer CN (or subject
 * CN) is cn is installed; if none matches, the default chain is kept (and
 * that is logged). NULL: the default chain (the default). Before start
 * only. Errors: LEEC_E_STATE, LEEC_E_INVALID_ARG (empty, over 256 bytes or
 * control characters), LEEC_E_NOMEM.
 */
LEEC_API leec_code leec_agent_set_preferred_chain(leec_agent *agent,
                                                  const char *cn);

/*
 * Certificate profile (draft-ietf-acme-profiles): newOrder carries
 * "profile": name. The CA's directory must list name in meta.profiles;
 * otherwise the agent fails before newOrder with LEEC_E_INVALID_ARG and a
 * message naming the profiles the CA offers ("the CA offers profiles:
 * classic, tlsserver"). An installed certificate of another profile (or
 * of none: meta.json "profile") is ordered again although fresh, as one for
 * other names is. NULL: the CA's default (the default); the installed
 * one's profile then does not matter until it is due. Before start
 * only. Errors: LEEC_E_STATE, LEEC_E_INVALID_ARG (empty, over 256 bytes or
 * control characters), LEEC_E_NOMEM.
 */
LEEC_API leec_code leec_agent_set_profile(leec_agent *agent, const char *name);

/*
 * Solvers answer challenges. They belong to the context (freed with it) and
 * are shared by its agents; each agent uses one (default: http-01 through
 * the context's token table: the built-in responder of
 * leec_ctx_listen_http01, or the host's own server through
 * leec_ctx_http01_key_authorization). The ones below are built in; a
 * program plugs in its own through <leec/solver.h> (leec_ctx_add_solver),
 * or a DNS provider of its own under the dns-01 solver through
 * <leec/dns_provider.h> (leec_ctx_solver_dns).
 */
typedef struct leec_solver leec_solver;

/* The http-01 webroot solver for dir (one per folder; asking twice gives
 * the same). dir must be an existing folder, so that a typo is refused
 * before anything is ordered. NULL with *err on failure: LEEC_E_NOT_FOUND
 * (no such folder), LEEC_E_INVALID_ARG (empty, or not a folder), LEEC_E_IO
 * (it cannot be looked at), LEEC_E_NOMEM. */
LEEC_API leec_solver *leec_ctx_solver_webroot(leec_ctx *ctx, const char *dir,
                                              leec_code *err);

/* dns-01 settings shared by the DNS solvers. */
typedef struct leec_dns_options {
    const char *resolver;      /* recursive resolver "ADDR[:PORT]" for SOA,
                                  NS, CNAME and address lookups; NULL: the
                                  system's (/etc/resolv.conf) */
    const char *zone;          /* the zone, instead of an SOA lookup */
    int propagation_timeout_s; /* wait until every authoritative server
                                  serves the record, at most this long;
                                  0: no check; negative: 120 */
    int auth_port;             /* authoritative servers' port (0: 53) */
} leec_dns_options;

/*
 * dns-01 solvers (wildcard certificates). Each adds the TXT record
 * _acme-challenge.<name> (following CNAMEs: the record is written where they
 * point), waits for every authoritative server to serve it, and removes it
 * afterwards, on success, failure, and when the context is freed.
 *   rfc2136: RFC 2136 dynamic update signed with TSIG; server "ADDR[:PORT]",
 *            tsig_key_file in BIND's format (hmac-sha256, -sha512, -sha1).
 *   ovh:     the OVH API; credentials_file (endpoint, application_key,
 *            application_secret, consumer_key, optional ca_bundle), refused
 *            when readable by group or others.
 *   hook:    `cmd present FQDN VALUE` / `cmd cleanup FQDN VALUE`.
 * NULL with *err on failure (the reason is logged at ERROR).
 */
LEEC_API leec_solver *leec_ctx_solver_dns_rfc2136(leec_ctx *ctx,
                                                  const leec_dns_options *o,
                                                  const char *server,
                                                  const char *tsig_key_file,
                                                  leec_code *err);
LEEC_API leec_solver *leec_ctx_solver_dns_ovh(leec_ctx *ctx,
                                              const leec_dns_options *o,
                                              const char *credentials_file,
                                              leec_code *err);
LEEC_API leec_solver *leec_ctx_solver_dns_hook(leec_ctx *ctx,
                                               const leec_dns_options *o,
                                               const char *cmd, leec_code *err);

/* uacme's hook for every challenge type: `cmd begin|done|failed TYPE IDENT
 * TOKEN AUTH`; a non-zero begin declines a type (the next one offered is
 * tried). */
LEEC_API leec_solver *leec_ctx_solver_hook(leec_ctx *ctx, const char *cmd,
                                           leec_code *err);

/* tls-alpn-01 (RFC 8737): a responder on "[ADDR:]PORT" presenting the
 * acmeIdentifier certificate for ALPN acme-tls/1. */
LEEC_API leec_solver *leec_ctx_solver_tls_alpn(leec_ctx *ctx, const char *addr,
                                               leec_code *err);

/*
 * dns-persist-01 (draft-ietf-acme-dns-persist-01): validation by a TXT
 * record set once per account instead of one per order,
 *   _validation-persist.NAME. TXT "ISSUER; accounturi=URL[; policy=wildcard]
 *                                  [; persistUntil=T]"
 * ISSUER one of the CA's names (the challenge's issuer-domain-names), URL
 * the account URL. Before answering, the solver asks o->resolver (NULL: the
 * system's; the other options are unused) for the record at NAME (the base
 * name of a wildcard) and answers only when one names this account and
 * the CA, with policy=wildcard for a wildcard, and has not passed its
 * persistUntil; a record at a parent name with policy=wildcard also
 * covers NAME. When none does: with creator (a solver of this context
 * made by leec_ctx_solver_dns_rfc2136, _ovh or _hook; their options
 * apply), the record for this account and the CA's first issuer name is
 * created through its DNS provider (its value without blanks; with
 * policy=wildcard for a wildcard) and waited for as dns-01's is, then
 * kept: it is never removed, not even when the order fails or leec is
 * stopped. Without creator, the agent fails (LEEC_E_SOLVER) with a
 * message giving the record to create. The solver never removes a record.
 * NULL with *err: LEEC_E_INVALID_ARG (a resolver that is not a numeric
 * ADDR[:PORT]; a creator that is not one of those), LEEC_E_NOMEM.
 */
LEEC_API leec_solver *leec_ctx_solver_dns_persist(leec_ctx *ctx,
                                                  const leec_dns_options *o,
                                                  leec_solver *creator,
                                                  leec_code *err);

/*
 * The value of a dns-persist-01 record (see leec_ctx_solver_dns_persist)
 * for issuer (a lower case domain name, e.g. "letsencrypt.org") and
 * account_uri, with "; policy=wildcard" when wildcard and
 * "; persistUntil=T" when persist_until > 0 (seconds since the epoch).
 * *out malloc'd (free() it). LEEC_E_INVALID_ARG (issuer not a domain
 * name, account_uri empty or with blanks, ';' or control bytes),
 * LEEC_E_NOMEM.
 */
LEEC_API leec_code leec_dns_persist_value(const char *issuer,
                                          const char *account_uri,
                                          bool wildcard,
                                          long long persist_until, char **out);

/* Chooses the agent's solver (one of its context's). Before start only:
 * LEEC_E_STATE; LEEC_E_INVALID_ARG for another context's solver. */
LEEC_API leec_code leec_agent_set_solver(leec_agent *agent,
                                         leec_solver *solver);

/* Order even when the installed certificate is fresh, or backing off after
 * failed renewals. Before start only. */
LEEC_API void leec_agent_set_force(leec_agent *agent, bool force);

/* Keep the installed certificate's private key in the renewed one (for
 * DANE/TLSA records pinned to it) when its type is the agent's key type;
 * default false: a fresh key each time. Before start only. */
LEEC_API void leec_agent_set_reuse_key(leec_agent *agent, bool reuse);

/*
 * The application's own settings for this certificate, kept with each
 * version it installs (meta.json, member "settings") so that a later
 * renewal can be made with them (leec renew keeps its command-line options
 * there). json must be a JSON object, at most 64 KiB; it must not hold
 * secrets (the file is world-readable). NULL removes them. Before start
 * only. Errors: LEEC_E_STATE, LEEC_E_INVALID_ARG, LEEC_E_NOMEM.
 */
LEEC_API leec_code leec_agent_set_settings(leec_agent *agent, const char *json);

/* The state and done callbacks (either may be NULL) and their userdata.
 * They run from inside leec_ctx_perform(); the agent may be freed from its
 * done callback. */
LEEC_API void leec_agent_set_callbacks(leec_agent *agent,
                                       leec_state_fn on_state,
                                       leec_done_fn on_done, void *userdata);

/*
 * Starts the agent. It advances from leec_ctx_perform(), from the next call
 * on: no callback runs inside leec_agent_start(). LEEC_E_STATE if already
 * started, LEEC_E_INVALID_ARG if the context has no store, LEEC_E_NOMEM.
 * After the first start, leec_ctx_set_server() and leec_ctx_set_ca_bundle()
 * answer LEEC_E_STATE.
 */
LEEC_API leec_code leec_agent_start(leec_agent *agent);

/* The agent's state, its outcome (LEEC_OUTCOME_NONE until finished), and
 * its certificate name (owned by the agent). */
LEEC_API leec_agent_state leec_agent_get_state(const leec_agent *agent);
LEEC_API leec_outcome leec_agent_get_outcome(const leec_agent *agent);
LEEC_API const char *leec_agent_cert_name(const leec_agent *agent);

/* After FAILED: the error code, a one-line message (never NULL), and the
 * CA's problem document if one caused it (else NULL). */
LEEC_API leec_code leec_agent_error(const leec_agent *agent);
LEEC_API const char *leec_agent_error_message(const leec_agent *agent);
LEEC_API const leec_problem *leec_agent_problem(const leec_agent *agent);

/* After FAILED because the CA refused for a while (429 or 503 with a
 * Retry-After longer than leec_ctx_set_max_pause allows): the wall-clock
 * time it asked to be tried again; else 0. A renewal records it with the
 * certificate, so leec_store_renewal_plan's retry_at (and wake) is then. */
LEEC_API time_t leec_agent_retry_at(const leec_agent *agent);

/*
 * Whether the agent is waiting, and why (LEEC_WAIT_NONE when it is working
 * or finished). *until (if not NULL) receives the wall-clock time the wait
 * ends, or 0 when it ends on an event (another order finishing, a lock
 * being released).
 */
LEEC_API leec_wait_reason leec_agent_wait(const leec_agent *agent,
                                          time_t *until);

/* The names the agent orders, normalised (lower case, no duplicates). */
LEEC_API size_t leec_agent_names(const leec_agent *agent,
                                 const char *const **names);

/* The certificate installed (ISSUED) or kept (FRESH), as PEM; else NULL. */
LEEC_API const char *leec_agent_cert_pem(const leec_agent *agent);
/* The URL of the agent's order at the CA once it has one (NULL before;
 * the agent's string, valid until the agent changes order or is freed),
 * and whether it is an order of an earlier run taken up from the store's
 * journal (a run killed or cut short) rather than a new one. Queries:
 * they never act. */
LEEC_API const char *leec_agent_order_url(const leec_agent *agent);
LEEC_API bool leec_agent_resumed(const leec_agent *agent);

/* --------------------------------------------------------------------- */
/* The root above a chain (Authority Information Access, RFC 5280)        */
/* --------------------------------------------------------------------- */

/*
 * The root certificate above a PEM chain (chain.pem, or any chain: its last
 * certificate is its top). When the top is self-signed, it is the answer
 * and nothing is fetched. Otherwise the top's AIA caIssuers URL (http:// or
 * https://; RFC 5280 §4.2.2.1 publishes issuers over plain http, the only
 * requests of the library allowed it) is fetched through the context's
 * transport (at most 64 KiB, 15 s), the answer (DER, PEM, or a PKCS#7
 * certs-only bundle) is checked to hold that certificate's issuer (its
 * subject is the top's issuer name, it is a CA, and its key verifies the
 * top's signature: nothing is trusted for the channel it came over), and
 * the same is done from the issuer, at most 4 times, until a self-signed
 * certificate: the root. Redirects are not followed. Whether the root is
 * one to trust is the caller's decision.
 *
 * Blocking: runs the context's loop (leec_ctx_perform and leec_ctx_poll)
 * until done, so the context's agents and other operations advance
 * meanwhile; LEEC_E_STATE when called from inside leec_ctx_perform() (from
 * a callback).
 *
 * *root_pem receives the root as a newly allocated PEM string the caller
 * frees (NULL on failure). why may be NULL; otherwise *why receives, on
 * failure, a newly allocated one-line reason naming the URL and what went
 * wrong ("http://x/r.der: HTTP status 404", "...: the certificate served
 * (CN=X) is not the issuer (CN=Y): ..."), which the caller frees (NULL on
 * success or when out of memory).
 * Errors: LEEC_E_INVALID_ARG (NULL arguments, not a chain of PEM
 * certificates), LEEC_E_NOT_FOUND (a certificate on the way has no
 * caIssuers URL, or not an http/https one), LEEC_E_HTTP (transport error,
 * an HTTP status other than 200), LEEC_E_TIMEOUT, LEEC_E_TLS,
 * LEEC_E_TOO_LARGE, LEEC_E_PROTOCOL (the answer holds no certificate; no
 * self-signed certificate after 4 fetches), LEEC_E_CERT_MISMATCH (the
 * certificate served is not the issuer), LEEC_E_STATE, LEEC_E_NOMEM.
 */
LEEC_API leec_code leec_ctx_fetch_root(leec_ctx *ctx, const char *chain_pem,
                                       size_t len, char **root_pem, char **why);

/* --------------------------------------------------------------------- */
/* Revocation (RFC 8555 §7.6)                                             */
/* --------------------------------------------------------------------- */

/* RFC 5280 CRLReason codes accepted by leec_ctx_revoke (the ones Let's
 * Encrypt accepts from subscribers). */
#define LEEC_REVOKE_NO_REASON              (-1) /* send no "reason" */
#define LEEC_REVOKE_UNSPECIFIED            0
#define LEEC_REVOKE_KEY_COMPROMISE         1
#define LEEC_REVOKE_AFFILIATION_CHANGED    3
#define LEEC_REVOKE_SUPERSEDED             4
#define LEEC_REVOKE_CESSATION_OF_OPERATION 5

/*
 * Called once when a revocation finishes, from inside leec_ctx_perform().
 * rc: LEEC_OK (the CA revoked the certificate), LEEC_E_ACME with the CA's
 * problem document (e.g. urn:ietf:params:acme:error:alreadyRevoked,
 * unauthorized), or the error that stopped it (directory or account
 * unavailable: the problem, if any, is the CA's). problem is NULL or valid
 * only during the call.
 */
typedef void (*leec_revoke_fn)(void *userdata, leec_code rc,
                               const leec_problem *problem);

/*
 * Asks the CA to revoke a certificate (cert_pem: its PEM, the first
 * certificate is revoked; extra ones, such as a full chain's issuers, are
 * ignored). The request is signed either
 *   - by the account (cert_key_pem NULL): the context's account, which must
 *     be the one that ordered the certificate or hold authorizations for all
 *     its names. In LEEC_ACCOUNT_SAVED mode the account must already be saved
 *     in the store: none is created for a revocation (LEEC_E_NOT_FOUND);
 *   - or by the certificate's own private key (cert_key_pem: its PEM,
 *     secret, not kept after the call), which needs no account at all: only
 *     the CA's directory is fetched.
 * reason is an RFC 5280 CRLReason (LEEC_REVOKE_*: 0, 1, 3, 4, 5) or
 * LEEC_REVOKE_NO_REASON.
 *
 * The revocation advances from leec_ctx_perform(), from the next call on
 * (no callback runs inside leec_ctx_revoke()), and counts in its *running
 * until done has run, so leec_ctx_run() waits for it. Freeing the context
 * first drops it without calling done.
 *
 * Errors (done is then never called): LEEC_E_INVALID_ARG (no certificate in
 * cert_pem, a reason not listed, done NULL, no store in SAVED mode when
 * signing with the account), LEEC_E_BAD_KEY (cert_key_pem unusable),
 * LEEC_E_CERT_MISMATCH (the key is not the certificate's), LEEC_E_NOT_FOUND
 * (no saved account), LEEC_E_STORE (the saved account cannot be read),
 * LEEC_E_NOMEM.
 */
LEEC_API leec_code leec_ctx_revoke(leec_ctx *ctx, const char *cert_pem,
                                   const char *cert_key_pem, int reason,
                                   leec_revoke_fn done, void *userdata);

/* --------------------------------------------------------------------- */
/* Account management (RFC 8555 §7.3)                                     */
/* --------------------------------------------------------------------- */

/* What leec_ctx_account_op() does to the context's account. */
typedef enum leec_account_op {
    /* Makes sure the account exists: the saved one, else a new one created
     * (with the context's contact, terms agreement and EAB) and saved; then
     * fetched as SHOW does. info->created tells which. arg unused. */
    LEEC_ACCOUNT_OP_REGISTER = 0,
    /* POST-as-GET of the account URL: its status, contact and orders URL.
     * arg unused. */
    LEEC_ACCOUNT_OP_SHOW,
    /* Replaces the account's contact: arg is an e-mail address (without
     * "mailto:"), or NULL/"" for none. The saved account.json follows. */
    LEEC_ACCOUNT_OP_UPDATE_CONTACT,
    /* Key rollover (§7.3.5): a fresh account key of type arg ("ec256",
     * ...; NULL: the context's account key type) replaces the old one at
     * the CA, then in the store (the key file replaced atomically). No agent
     * may be running (LEEC_E_STATE): their requests are signed with the old
     * key. */
    LEEC_ACCOUNT_OP_ROLLOVER,
    /* Deactivation (§7.3.6), which cannot be undone: POST
     * {"status":"deactivated"}; on success the account is removed from the
     * store (accounts/<ca>/ deleted) and forgotten by the context, so that a
     * later issuance creates a fresh account. arg unused. */
    LEEC_ACCOUNT_OP_DEACTIVATE
} leec_account_op;

/* The account as the CA described it, valid only during the callback.
 * Strings may be NULL when the CA left them out. */
typedef struct leec_account_info {
    const char *url;            /* the account URL (kid) */
    const char *status;         /* "valid", "deactivated", "revoked" */
    const char *const *contact; /* ncontact URIs, e.g. "mailto:a@b.c" */
    size_t ncontact;
    const char *orders; /* the orders list URL */
    bool created;       /* REGISTER: created by this call */
    /* The CA's directory meta.caaIdentities that are domain names (at most
     * 10): the issuer domain names a dns-persist-01 record may name
     * (leec_dns_persist_value). */
    const char *const *caa_identities;
    size_t ncaa_identities;
} leec_account_info;

/*
 * Called once when an account operation finishes, from inside
 * leec_ctx_perform(). rc: LEEC_OK with info (never NULL then); LEEC_E_ACME
 * with the CA's problem (e.g. urn:ietf:params:acme:error:unauthorized for a
 * deactivated account, externalAccountRequired); or the error that stopped
 * it (directory or account unavailable, the store). info and problem are
 * NULL or valid only during the call.
 */
typedef void (*leec_account_fn)(void *userdata, leec_code rc,
                                const leec_account_info *info,
                                const leec_problem *problem);

/*
 * Starts an operation on the context's account (see leec_account_op). In
 * LEEC_ACCOUNT_SAVED mode every operation but REGISTER needs the account
 * saved in the store already (LEEC_E_NOT_FOUND otherwise: none is created);
 * in THROWAWAY mode the context's account is created first if needed.
 *
 * Like leec_ctx_revoke, the operation advances from leec_ctx_perform(),
 * from the next call on (done never runs inside this call), and counts in
 * its *running until done has run; freeing the context first drops it
 * without calling done. Run one at a time per context for predictable
 * results (they are carried out in order anyway).
 *
 * Errors (done is then never called): LEEC_E_INVALID_ARG (unknown op, done
 * NULL, no store in SAVED mode, a bad e-mail address or key type name),
 * LEEC_E_NOT_FOUND (no saved account), LEEC_E_STATE (ROLLOVER while agents
 * run), LEEC_E_NOMEM.
 */
LEEC_API leec_code leec_ctx_account_op(leec_ctx *ctx, leec_account_op op,
                                       const char *arg, leec_account_fn done,
                                       void *userdata);

#ifdef __cplusplus
}
#endif
#endif /* LEEC_LEEC_H */
