/* The store interface: where accounts and certificates live. Nothing above
 * it touches paths. The filesystem backend is store_fs.c; a shared backend
 * for fleets will implement the same operations. */
#ifndef LEEC_STORE_H
#define LEEC_STORE_H

#include <stddef.h>

#include "leec/leec.h"

/* The files of one certificate version, as PEM text. */
typedef struct leec_cert_files {
    const char *privkey;   /* secret: written 0600 */
    const char *cert;      /* the leaf */
    const char *chain;     /* the issuer(s), may be "" */
    const char *meta_json; /* settings kept with the version, may be NULL */
} leec_cert_files;

struct leec_store_ops {
    /* ca_id is a short file-name-safe id of the CA ("host" or "host_port").
     * Loads the account key (PEM) and account JSON text. LEEC_E_NOT_FOUND
     * if none; LEEC_E_BAD_KEY when the account's document is there but
     * its key is missing or empty (never a reason to make a new account);
     * *account_json NULL when only the key is there (it finds its account
     * at the CA again). Both out strings are malloc'd; key_pem is
     * secret. */
    leec_code (*account_load)(leec_store *s, const char *ca_id, char **key_pem,
                              char **account_json);
    /* Saves (replacing) the account atomically: key 0600, folder 0700. */
    leec_code (*account_save)(leec_store *s, const char *ca_id,
                              const char *key_pem, const char *account_json);
    /* Removes the account of ca_id (key and JSON) at once; LEEC_OK when
     * there is none. May be NULL in a backend that cannot. */
    leec_code (*account_remove)(leec_store *s, const char *ca_id);
    /* Reads one file ("privkey.pem", "cert.pem", "chain.pem",
     * "fullchain.pem", "meta.json", "renewal.json") of the current version of a
     * certificate. LEEC_E_NOT_FOUND if there is none. *data malloc'd,
     * NUL-terminated. */
    leec_code (*cert_read)(leec_store *s, const char *name, const char *file,
                           char **data, size_t *len);
    /* Reads n of those files of one and the same current version (all or
     * nothing); out[i] malloc'd, NUL-terminated. */
    leec_code (*cert_read_many)(leec_store *s, const char *name,
                                const char *const *files, size_t n, char **out);
    /* Replaces (atomically) a file that changes during a version's life,
     * "renewal.json" (renewal information, failures), in the current
     * version of name. LEEC_E_NOT_FOUND if there is none. May be NULL. */
    leec_code (*cert_write_state)(leec_store *s, const char *name,
                                  const char *file, const char *data);
    /* Installs a new version and makes it current atomically (readers see
     * the old version or the new one, never a mix). fullchain = cert+chain. */
    leec_code (*cert_install)(leec_store *s, const char *name,
                              const leec_cert_files *files);
    /* Takes the exclusive lock kind/name ("cert" or "account", and a valid
     * name) without waiting: LEEC_OK with *handle set, LEEC_E_LOCKED when
     * another holder (another process) has it. Locks die with their
     * process. */
    leec_code (*lock)(leec_store *s, const char *kind, const char *name,
                      void **handle);
    void (*unlock)(leec_store *s, void *handle);
    /* Who holds kind/name (after LEEC_E_LOCKED, to say whom one waits
     * for): the holder's PID and host (malloc'd, may be NULL when
     * unknown). LEEC_E_NOT_FOUND when the holder is not known. May be
     * NULL in a backend that cannot tell. */
    leec_code (*lock_holder)(leec_store *s, const char *kind, const char *name,
                             long *pid, char **host);
    /* The names with a current version, sorted by strcmp(); *names is a
     * malloc'd array of *n malloc'd strings (NULL when none). */
    leec_code (*list)(leec_store *s, char ***names, size_t *n);
    /* Forgets the certificate name (all versions, live link first), or
     * with NULL every certificate and then the accounts, never leaving a
     * version half-removed. Takes the "cert" lock(s) itself: LEEC_E_LOCKED
     * with nothing removed when another holder has one. */
    leec_code (*reset)(leec_store *s, const char *name);
    /* Path of the live folder (filesystem backends), malloc'd, or NULL. */
    char *(*live_path)(leec_store *s, const char *name);
    void (*destroy)(leec_store *s);
};

struct leec_store {
    const struct leec_store_ops *ops;
    char *why;         /* why the last LEEC_E_STORE was returned, or NULL */
    leec_ctx *log_ctx; /* refusals are also logged there (set_store) */
};

/* "PID 1234" or "PID 1234 on host" of whoever holds the lock kind/name,
 * or "another process" when unknown: for messages (malloc'd, NULL on
 * OOM). */
char *Leec_store_holder_text(leec_store *st, const char *kind,
                             const char *name);

/* Records why an operation on s is refused (a message naming the path and
 * the fix), logs it through s->log_ctx when set, and returns LEEC_E_STORE.
 * Every LEEC_E_STORE of a backend comes with one. */
leec_code Leec_store_refuse(leec_store *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* True if name is usable as a certificate or CA id: 1-200 characters of
 * [A-Za-z0-9._-], not starting with '.' or '-'. */
bool Leec_store_name_valid(const char *name);

#endif
