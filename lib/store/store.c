/* Backend-independent store functions: name rules and the public wrappers. */
#define _GNU_SOURCE
#include "store/store.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/internal.h"

/* Names become single path components, so they must not be able to name
 * a parent (".."), a hidden file, or an option-looking word. */
#define STORE_NAME_MAX 200

bool Leec_store_name_valid(const char *name)
{
    size_t i = 0;

    if (!name || name[0] == '\0' || name[0] == '.' || name[0] == '-')
        return false;
    for (i = 0; name[i]; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok || i >= STORE_NAME_MAX)
            return false;
    }
    return true;
}

leec_code Leec_store_refuse(leec_store *s, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    free(s->why);
    s->why = msg; /* NULL when out of memory: the code still tells */
    if (msg && s->log_ctx)
        Leec_log(s->log_ctx, LEEC_LOG_ERROR, "%s", msg);
    return LEEC_E_STORE;
}

const char *leec_store_errmsg(const leec_store *store)
{
    return store ? store->why : NULL;
}

void leec_store_free(leec_store *store)
{
    if (!store)
        return;
    free(store->why);
    store->why = NULL;
    if (store->ops && store->ops->destroy)
        store->ops->destroy(store);
}

char *leec_store_live_path(leec_store *store, const char *cert_name)
{
    if (!store || !store->ops || !store->ops->live_path ||
        !Leec_store_name_valid(cert_name))
        return NULL;
    return store->ops->live_path(store, cert_name);
}

/* One file of the current version of cert_name, NUL-terminated. */
static leec_code read_one(leec_store *store, const char *cert_name,
                          const char *file, char **out)
{
    size_t len = 0;

    if (!store || !store->ops || !store->ops->cert_read || !out)
        return LEEC_E_INVALID_ARG;
    *out = NULL;
    if (!Leec_store_name_valid(cert_name))
        return LEEC_E_INVALID_ARG;
    /* A length is passed although unused: backends may rely on it. */
    return store->ops->cert_read(store, cert_name, file, out, &len);
}

leec_code leec_store_read_cert(leec_store *store, const char *cert_name,
                               char **pem)
{
    return read_one(store, cert_name, "cert.pem", pem);
}

leec_code leec_store_read_chain(leec_store *store, const char *cert_name,
                                char **pem)
{
    return read_one(store, cert_name, "chain.pem", pem);
}

leec_code leec_store_read_live(leec_store *store, const char *cert_name,
                               char **privkey_pem, char **fullchain_pem)
{
    static const char *const files[] = {"privkey.pem", "fullchain.pem"};
    char *out[2] = {NULL, NULL};
    if (!store || !store->ops || !store->ops->cert_read_many || !privkey_pem ||
        !fullchain_pem)
        return LEEC_E_INVALID_ARG;
    *privkey_pem = *fullchain_pem = NULL;
    if (!Leec_store_name_valid(cert_name))
        return LEEC_E_INVALID_ARG;
    leec_code rc = store->ops->cert_read_many(store, cert_name, files, 2, out);
    if (rc == LEEC_OK) {
        *privkey_pem = out[0];
        *fullchain_pem = out[1];
    }
    return rc;
}

leec_code leec_store_list(leec_store *store, char ***names, size_t *n)
{
    if (!names || !n)
        return LEEC_E_INVALID_ARG;
    *names = NULL;
    *n = 0;
    if (!store || !store->ops || !store->ops->list)
        return LEEC_E_INVALID_ARG;
    return store->ops->list(store, names, n);
}

void leec_store_list_free(char **names, size_t n)
{
    if (!names)
        return;
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

leec_code leec_store_read_meta(leec_store *store, const char *cert_name,
                               char **json)
{
    return read_one(store, cert_name, "meta.json", json);
}

leec_code leec_store_reset(leec_store *store, const char *cert_name)
{
    if (!store || !store->ops || !store->ops->reset)
        return LEEC_E_INVALID_ARG;
    if (cert_name && !Leec_store_name_valid(cert_name))
        return LEEC_E_INVALID_ARG;
    return store->ops->reset(store, cert_name);
}

char *Leec_store_holder_text(leec_store *st, const char *kind, const char *name)
{
    long pid = 0;
    char *host = NULL, *s = NULL, me[256] = "";
    if (!st || !st->ops->lock_holder ||
        st->ops->lock_holder(st, kind, name, &pid, &host) != LEEC_OK ||
        pid <= 0) {
        free(host);
        return strdup("another process");
    }
    if (gethostname(me, sizeof me - 1) != 0)
        me[0] = '\0';
    int n = host && strcmp(host, me) != 0
                ? asprintf(&s, "PID %ld on %s", pid, host)
                : asprintf(&s, "PID %ld", pid);
    free(host);
    return n < 0 ? NULL : s;
}

struct leec_store_lock {
    leec_store *store;
    void *handle;
};

leec_code leec_store_lock_take(leec_store *store, const char *name,
                               leec_store_lock **lock, char **holder)
{
    if (lock)
        *lock = NULL;
    if (holder)
        *holder = NULL;
    if (!store || !lock || !store->ops->lock || !Leec_store_name_valid(name))
        return LEEC_E_INVALID_ARG;
    leec_store_lock *l = calloc(1, sizeof *l);
    if (!l)
        return LEEC_E_NOMEM;
    l->store = store;
    leec_code rc = store->ops->lock(store, "store", name, &l->handle);
    if (rc != LEEC_OK) {
        free(l);
        if (rc == LEEC_E_LOCKED && holder)
            *holder = Leec_store_holder_text(store, "store", name);
        return rc;
    }
    *lock = l;
    return LEEC_OK;
}

void leec_store_lock_release(leec_store_lock *lock)
{
    if (!lock)
        return;
    lock->store->ops->unlock(lock->store, lock->handle);
    free(lock);
}
