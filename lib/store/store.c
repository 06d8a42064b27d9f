/* Backend-independent store functions: the handle, name rules, and the
 * wrappers that check what the library passes to a backend. */
#define _GNU_SOURCE
#include "store/store.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/b64url.h"
#include "util/json.h"
#include "util/log.h"

/* http-01: RFC 8555 tokens (base64url, as the responder takes them) and
 * their key authorizations (token '.' thumbprint). */
#define STORE_KEY_AUTH_MAX 1024

const char *Leec_store_part_file(leec_store_part part)
{
    static const char *const file[LEEC_PART_COUNT] = {
        [LEEC_PART_PRIVKEY] = "privkey.pem",
        [LEEC_PART_CERT] = "cert.pem",
        [LEEC_PART_CHAIN] = "chain.pem",
        [LEEC_PART_FULLCHAIN] = "fullchain.pem",
        [LEEC_PART_META] = "meta.json",
        [LEEC_PART_RENEWAL] = "renewal.json"};
    return (unsigned)part < LEEC_PART_COUNT ? file[part] : NULL;
}

bool leec_store_name_valid(const char *name)
{
    return Leec_store_name_valid(name);
}

static void free_secret(char *s)
{
    if (s)
        explicit_bzero(s, strlen(s));
    free(s);
}

/* ------------------------------------------------------------------ */
/* The handle                                                          */
/* ------------------------------------------------------------------ */

/* The handle: a backend's ops and impl. Private to this file. */
struct leec_store {
    const leec_store_ops *ops;   /* &own */
    const leec_store_ops *given; /* the backend's, for Leec_store_impl */
    leec_store_ops own;   /* a copy, the operations of a later ABI NULL */
    void *impl;           /* the backend's, freed by ops->destroy */
    char *why;            /* why the last LEEC_E_STORE was returned, or NULL */
    leec_ctx *log_ctx;    /* refusals are also logged there (set_store) */
    unsigned fleet_ttl;   /* a shared store: the lease its holder's heartbeat
                             keeps up (the last heartbeat's or claim's) */
    uint64_t write_token; /* during a shared store's fenced write */
};

const leec_store_ops *Leec_store_ops(const leec_store *s)
{
    return s->ops;
}

void *Leec_store_impl(const leec_store *s, const leec_store_ops *ops)
{
    return s && s->given == ops ? s->impl : NULL;
}

char *Leec_store_take_why(leec_store *s)
{
    char *why = s->why;
    s->why = NULL;
    return why;
}

void Leec_store_set_log_ctx(leec_store *s, leec_ctx *ctx)
{
    s->log_ctx = ctx;
}

void Leec_store_log(leec_store *s, leec_log_level level, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;
    if (!s || !s->log_ctx)
        return;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    if (msg)
        Leec_log(s->log_ctx, level, "%s", msg);
    free(msg);
}

leec_store *leec_store_new(const leec_store_ops *ops, void *impl,
                           leec_code *err)
{
    leec_store *s = NULL;
    leec_code rc = LEEC_E_INVALID_ARG;
    if (!ops || ops->abi < 1 || ops->abi > LEEC_STORE_ABI ||
        !ops->account_load || !ops->account_save || !ops->account_remove ||
        !ops->version_read || !ops->version_install || !ops->list ||
        !ops->reset || !ops->renewal_write || !ops->lock || !ops->unlock ||
        !ops->destroy)
        goto out;
    /* A backend of ABI 1 has a shorter struct: nothing after destroy is
     * read from it. */
    if (ops->abi >= 2 &&
        (!ops->lease || !ops->fence || !ops->journal_write ||
         !ops->journal_read || !ops->journal_remove || !ops->journal_list))
        goto out;
    rc = LEEC_E_NOMEM;
    if (!(s = calloc(1, sizeof *s)))
        goto out;
    memcpy(&s->own, ops,
           ops->abi >= 4   ? sizeof *ops
           : ops->abi == 3 ? offsetof(leec_store_ops, budget_add)
           : ops->abi == 2 ? offsetof(leec_store_ops, heartbeat)
                           : offsetof(leec_store_ops, lease));
    s->ops = &s->own;
    s->given = ops;
    s->impl = impl;
    rc = LEEC_OK;
out:
    if (err)
        *err = rc;
    return s;
}

void *leec_store_impl(const leec_store *store)
{
    return store ? store->impl : NULL;
}

uint64_t leec_store_write_token(const leec_store *store)
{
    return store ? store->write_token : 0;
}

void leec_store_free(leec_store *store)
{
    if (!store)
        return;
    store->ops->destroy(store);
    free(store->why);
    free(store);
}

leec_code leec_store_refuse(leec_store *s, const char *fmt, ...)
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

/* ------------------------------------------------------------------ */
/* Versions                                                            */
/* ------------------------------------------------------------------ */

void leec_store_version_clear(leec_store_version *v)
{
    if (!v)
        return;
    for (int i = 0; i < LEEC_PART_COUNT; i++)
        if (v->text[i]) {
            explicit_bzero(v->text[i], v->len[i]);
            free(v->text[i]);
        }
    memset(v, 0, sizeof *v);
}

leec_code leec_store_read_version(leec_store *store, const char *cert_name,
                                  unsigned want, leec_store_version *v)
{
    if (!v)
        return LEEC_E_INVALID_ARG;
    memset(v, 0, sizeof *v);
    if (!store || !Leec_store_name_valid(cert_name) ||
        (want & ~LEEC_PARTS_ALL) != 0)
        return LEEC_E_INVALID_ARG;
    leec_code rc = store->ops->version_read(store, cert_name, want, v);
    if (rc != LEEC_OK)
        leec_store_version_clear(v); /* nothing, whatever the backend left */
    return rc;
}

leec_code leec_store_read_part(leec_store *store, const char *cert_name,
                               leec_store_part part, char **text, size_t *len)
{
    leec_store_version v;
    if (len)
        *len = 0;
    if (!text)
        return LEEC_E_INVALID_ARG;
    *text = NULL;
    if ((unsigned)part >= LEEC_PART_COUNT)
        return LEEC_E_INVALID_ARG;
    leec_code rc =
        leec_store_read_version(store, cert_name, LEEC_PARTS(part), &v);
    if (rc == LEEC_OK && !v.text[part])
        rc = LEEC_E_NOT_FOUND;
    if (rc == LEEC_OK) {
        *text = v.text[part];
        if (len)
            *len = v.len[part];
        v.text[part] = NULL;
    }
    leec_store_version_clear(&v);
    return rc;
}

/* The full chain an install keeps: the leaf, then the issuers. A leaf
 * without a final newline would glue its END line to the chain's BEGIN
 * line, which no PEM parser accepts. NULL on allocation failure. */
static char *make_fullchain(const char *cert, const char *chain)
{
    size_t cl = strlen(cert), hl = strlen(chain);
    bool nl = cl > 0 && cert[cl - 1] != '\n' && hl > 0;
    char *full = malloc(cl + nl + hl + 1);
    if (!full)
        return NULL;
    memcpy(full, cert, cl);
    if (nl)
        full[cl] = '\n';
    memcpy(full + cl + nl, chain, hl + 1);
    return full;
}

static bool too_large(const char *s)
{
    return s && strnlen(s, LEEC_STORE_PART_MAX + 1) > LEEC_STORE_PART_MAX;
}

leec_code leec_store_install_version(leec_store *store, const char *cert_name,
                                     const leec_store_new_version *in,
                                     uint64_t *number)
{
    return Leec_store_install_fenced(store, cert_name, in, 0, number);
}

/* What an install checks before the backend sees it: *v is in with its
 * chain ("" for none) and *full its fullchain (the caller frees it). */
static leec_code install_checked(leec_store *store, const char *cert_name,
                                 const leec_store_new_version *in,
                                 leec_store_new_version *v, char **full)
{
    *full = NULL;
    if (!store || !Leec_store_name_valid(cert_name) || !in || !in->privkey ||
        !in->cert || (in->nnames && !in->names))
        return LEEC_E_INVALID_ARG;
    for (size_t i = 0; i < in->nnames; i++)
        if (!in->names[i])
            return LEEC_E_INVALID_ARG;
    *v = *in;
    if (!v->chain)
        v->chain = "";
    if (too_large(v->privkey) || too_large(v->cert) || too_large(v->chain) ||
        too_large(v->meta_json))
        return LEEC_E_TOO_LARGE;
    if (!(*full = make_fullchain(v->cert, v->chain)))
        return LEEC_E_NOMEM;
    v->fullchain = *full;
    return too_large(*full) ? LEEC_E_TOO_LARGE : LEEC_OK;
}

leec_code Leec_store_install_fenced(leec_store *store, const char *cert_name,
                                    const leec_store_new_version *in,
                                    uint64_t token, uint64_t *number)
{
    leec_store_new_version v;
    uint64_t n = 0;
    char *full = NULL;
    if (number)
        *number = 0;
    leec_code rc = install_checked(store, cert_name, in, &v, &full);
    /* A shared store checks the token in the write's own transaction
     * (store.h): no separate round trip before it. */
    if (rc == LEEC_OK && !leec_store_is_shared(store))
        rc = Leec_store_fence(store, "cert", cert_name, token);
    if (rc == LEEC_OK) {
        store->write_token = token;
        rc = store->ops->version_install(store, cert_name, &v, &n);
        store->write_token = 0;
    }
    free(full);
    if (rc == LEEC_OK && number)
        *number = n;
    return rc;
}

bool Leec_store_can_install_async(const leec_store *s)
{
    return Leec_store_has_async(s) && s->ops->version_install_async;
}

leec_code Leec_store_install_async(leec_store *store, const char *cert_name,
                                   const leec_store_new_version *in,
                                   uint64_t token, leec_store_done_fn done,
                                   void *ud)
{
    leec_store_new_version v;
    char *full = NULL;
    if (!Leec_store_can_install_async(store) || !done)
        return LEEC_E_INVALID_ARG;
    leec_code rc = install_checked(store, cert_name, in, &v, &full);
    if (rc == LEEC_OK)
        rc = store->ops->version_install_async(store, cert_name, &v, token,
                                               done, ud);
    free(full);
    return rc;
}

/* The public readers of one part (leec.h). */
leec_code leec_store_read_cert(leec_store *store, const char *cert_name,
                               char **pem)
{
    return leec_store_read_part(store, cert_name, LEEC_PART_CERT, pem, NULL);
}

leec_code leec_store_read_chain(leec_store *store, const char *cert_name,
                                char **pem)
{
    return leec_store_read_part(store, cert_name, LEEC_PART_CHAIN, pem, NULL);
}

leec_code leec_store_read_meta(leec_store *store, const char *cert_name,
                               char **json)
{
    return leec_store_read_part(store, cert_name, LEEC_PART_META, json, NULL);
}

leec_code leec_store_read_live(leec_store *store, const char *cert_name,
                               char **privkey_pem, char **fullchain_pem)
{
    leec_store_version v;
    if (!privkey_pem || !fullchain_pem)
        return LEEC_E_INVALID_ARG;
    *privkey_pem = *fullchain_pem = NULL;
    leec_code rc = leec_store_read_version(
        store, cert_name,
        LEEC_PARTS(LEEC_PART_PRIVKEY) | LEEC_PARTS(LEEC_PART_FULLCHAIN), &v);
    if (rc == LEEC_OK &&
        (!v.text[LEEC_PART_PRIVKEY] || !v.text[LEEC_PART_FULLCHAIN]))
        rc = LEEC_E_NOT_FOUND;
    if (rc == LEEC_OK) {
        *privkey_pem = v.text[LEEC_PART_PRIVKEY];
        *fullchain_pem = v.text[LEEC_PART_FULLCHAIN];
        v.text[LEEC_PART_PRIVKEY] = v.text[LEEC_PART_FULLCHAIN] = NULL;
    }
    leec_store_version_clear(&v);
    return rc;
}

leec_code leec_store_list(leec_store *store, char ***names, size_t *n)
{
    if (!names || !n)
        return LEEC_E_INVALID_ARG;
    *names = NULL;
    *n = 0;
    if (!store)
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

leec_code leec_store_reset(leec_store *store, const char *cert_name)
{
    if (!store)
        return LEEC_E_INVALID_ARG;
    if (cert_name && !Leec_store_name_valid(cert_name))
        return LEEC_E_INVALID_ARG;
    return store->ops->reset(store, cert_name);
}

leec_code Leec_store_renewal_write(leec_store *s, const char *name,
                                   uint64_t number, const char *json)
{
    return Leec_store_renewal_write_fenced(s, name, number, json, 0);
}

leec_code Leec_store_renewal_write_fenced(leec_store *s, const char *name,
                                          uint64_t number, const char *json,
                                          uint64_t token)
{
    if (!s || !Leec_store_name_valid(name) || !json || number == 0)
        return LEEC_E_INVALID_ARG;
    if (too_large(json))
        return LEEC_E_TOO_LARGE;
    leec_code rc = leec_store_is_shared(s)
                       ? LEEC_OK
                       : Leec_store_fence(s, "cert", name, token);
    if (rc != LEEC_OK)
        return rc;
    s->write_token = token;
    rc = s->ops->renewal_write(s, name, number, json);
    s->write_token = 0;
    return rc;
}

/* ------------------------------------------------------------------ */
/* Accounts                                                            */
/* ------------------------------------------------------------------ */

leec_code Leec_store_account_load(leec_store *s, const char *ca_id,
                                  char **key_pem, char **account_json)
{
    if (!key_pem || !account_json)
        return LEEC_E_INVALID_ARG;
    *key_pem = *account_json = NULL;
    if (!s || !Leec_store_name_valid(ca_id))
        return LEEC_E_INVALID_ARG;
    leec_code rc = s->ops->account_load(s, ca_id, key_pem, account_json);
    if (rc != LEEC_OK) {
        free_secret(*key_pem);
        free(*account_json);
        *key_pem = *account_json = NULL;
    }
    return rc;
}

leec_code Leec_store_account_save(leec_store *s, const char *ca_id,
                                  const char *key_pem, const char *account_json)
{
    if (!s || !Leec_store_name_valid(ca_id) || !key_pem || !account_json)
        return LEEC_E_INVALID_ARG;
    if (too_large(key_pem) || too_large(account_json))
        return LEEC_E_TOO_LARGE;
    return s->ops->account_save(s, ca_id, key_pem, account_json);
}

leec_code Leec_store_account_remove(leec_store *s, const char *ca_id)
{
    if (!s || !Leec_store_name_valid(ca_id))
        return LEEC_E_INVALID_ARG;
    return s->ops->account_remove(s, ca_id);
}

/* ------------------------------------------------------------------ */
/* http-01 tokens                                                      */
/* ------------------------------------------------------------------ */

static bool key_auth_valid(const char *k)
{
    size_t i = 0;
    if (!k)
        return false;
    for (; k[i]; i++)
        if (i >= STORE_KEY_AUTH_MAX || k[i] <= 0x20 || k[i] >= 0x7f)
            return false;
    return i > 0;
}

leec_code Leec_store_token_put(leec_store *s, const char *token,
                               const char *key_auth)
{
    if (!s || !s->ops->token_put || !Leec_token_valid(token) ||
        !key_auth_valid(key_auth))
        return LEEC_E_INVALID_ARG;
    return s->ops->token_put(s, token, key_auth);
}

leec_code Leec_store_token_get(leec_store *s, const char *token,
                               char **key_auth)
{
    if (!key_auth)
        return LEEC_E_INVALID_ARG;
    *key_auth = NULL;
    if (!s || !s->ops->token_get || !Leec_token_valid(token))
        return LEEC_E_INVALID_ARG;
    leec_code rc = s->ops->token_get(s, token, key_auth);
    if (rc != LEEC_OK) {
        free(*key_auth);
        *key_auth = NULL;
    }
    return rc;
}

leec_code Leec_store_token_delete(leec_store *s, const char *token)
{
    if (!s || !s->ops->token_delete || !Leec_token_valid(token))
        return LEEC_E_INVALID_ARG;
    return s->ops->token_delete(s, token);
}

bool Leec_store_can_ask(const leec_store *s)
{
    return s && s->ops->token_ask && s->ops->token_fd && s->ops->token_answers;
}

leec_code Leec_store_token_ask(leec_store *s, const char *token)
{
    if (!Leec_store_can_ask(s) || !Leec_token_valid(token))
        return LEEC_E_INVALID_ARG;
    return s->ops->token_ask(s, token);
}

char *Leec_store_token_known(leec_store *s, const char *token)
{
    char *ka = NULL;
    if (!s || !s->ops->token_known || !Leec_token_valid(token) ||
        s->ops->token_known(s, token, &ka) != LEEC_OK)
        return NULL;
    return ka;
}

int Leec_store_token_fd(leec_store *s)
{
    return Leec_store_can_ask(s) ? s->ops->token_fd(s) : -1;
}

leec_code Leec_store_token_answers(leec_store *s,
                                   void (*fn)(void *ud, const char *token,
                                              const char *key_auth),
                                   void *ud)
{
    if (!Leec_store_can_ask(s) || !fn)
        return LEEC_E_INVALID_ARG;
    return s->ops->token_answers(s, fn, ud);
}

/* ------------------------------------------------------------------ */
/* Locks                                                               */
/* ------------------------------------------------------------------ */

leec_code Leec_store_lock(leec_store *s, const char *kind, const char *name,
                          void **handle)
{
    return Leec_store_lease(s, kind, name, LEEC_LEASE_TTL_S, handle, NULL);
}

leec_code Leec_store_lease(leec_store *s, const char *kind, const char *name,
                           unsigned ttl_s, void **handle, uint64_t *token)
{
    uint64_t t = 0;
    if (token)
        *token = 0;
    if (!handle)
        return LEEC_E_INVALID_ARG;
    *handle = NULL;
    if (!s || !Leec_store_name_valid(kind) || !Leec_store_name_valid(name) ||
        ttl_s == 0)
        return LEEC_E_INVALID_ARG;
    /* On a shared store a lease lasts what the holder's heartbeat keeps
     * up, not an hour: a node that dies holds nothing for long. */
    if (leec_store_is_shared(s)) {
        unsigned fleet = s->fleet_ttl ? s->fleet_ttl : LEEC_FLEET_TTL_S;
        ttl_s = ttl_s < fleet ? ttl_s : fleet;
    }
    leec_code rc = s->ops->lease
                       ? s->ops->lease(s, kind, name, ttl_s, handle, &t)
                       : s->ops->lock(s, kind, name, handle);
    if (rc == LEEC_OK && (!*handle || (s->ops->lease && t == 0))) {
        /* A backend's mistake: never "held", never an unfenced lease. */
        if (*handle)
            s->ops->unlock(s, *handle);
        *handle = NULL;
        rc = LEEC_E_INVALID_ARG;
    }
    if (rc == LEEC_OK && token)
        *token = t;
    return rc;
}

leec_code Leec_store_fence(leec_store *s, const char *kind, const char *name,
                           uint64_t token)
{
    if (!s || !Leec_store_name_valid(kind) || !Leec_store_name_valid(name))
        return LEEC_E_INVALID_ARG;
    if (token == 0 || !s->ops->fence)
        return LEEC_OK;
    return s->ops->fence(s, kind, name, token);
}

void Leec_store_unlock(leec_store *s, void *handle)
{
    if (s && handle)
        s->ops->unlock(s, handle);
}

char *Leec_store_holder_text(leec_store *st, const char *kind, const char *name)
{
    long pid = 0;
    char *host = NULL, *s = NULL, me[256] = "";
    if (!st || !st->ops->lock_holder || !Leec_store_name_valid(kind) ||
        !Leec_store_name_valid(name) ||
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
    if (!store || !lock || !Leec_store_name_valid(name))
        return LEEC_E_INVALID_ARG;
    leec_store_lock *l = calloc(1, sizeof *l);
    if (!l)
        return LEEC_E_NOMEM;
    l->store = store;
    leec_code rc = Leec_store_lock(store, "store", name, &l->handle);
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
    Leec_store_unlock(lock->store, lock->handle);
    free(lock);
}

/* ------------------------------------------------------------------ */
/* The order journal                                                   */
/* ------------------------------------------------------------------ */

bool Leec_store_has_journal(const leec_store *s)
{
    return s && s->ops->journal_write;
}

void leec_store_order_clear(leec_store_order *o)
{
    if (!o)
        return;
    free(o->order_url);
    free(o->ca_id);
    free(o->account_url);
    for (size_t i = 0; o->names && i < o->nnames; i++)
        free(o->names[i]);
    free(o->names);
    free_secret(o->key_pem);
    free(o->step);
    memset(o, 0, sizeof *o);
}

/* The entry's text: one JSON object, the key in it (the backend keeps the
 * whole as a secret), so that an entry is one record written at once. */
static char *order_entry(const leec_store_order *o, int64_t now)
{
    leec_json *j = Leec_json_new_object(), *names = Leec_json_new_array();
    char *text = NULL;
    bool ok = Leec_json_set(j, "names", names) &&
              Leec_json_set_str(j, "order_url", o->order_url) &&
              Leec_json_set_str(j, "ca_id", o->ca_id) &&
              (!o->key_pem || Leec_json_set_str(j, "key", o->key_pem)) &&
              Leec_json_set_int(j, "since", o->since) &&
              Leec_json_set_int(j, "updated", now) &&
              Leec_json_set_str(j, "step", o->step ? o->step : "ordered") &&
              (!o->account_url ||
               Leec_json_set_str(j, "account_url", o->account_url));
    for (size_t i = 0; ok && i < o->nnames; i++)
        ok = Leec_json_push_str(names, o->names[i]);
    if (ok)
        text = Leec_json_dump(j, false);
    /* The dump holds the key too; the tree's copy is freed with it. */
    Leec_json_free(j);
    return text;
}

/* What a journal write checks before the backend sees it, and *text the
 * entry (secret: free_secret it) unless text is NULL (a store without a
 * journal: nothing to make). */
static leec_code order_checked(leec_store *s, const char *name,
                               const leec_store_order *o, char **text)
{
    if (text)
        *text = NULL;
    if (!s || !Leec_store_name_valid(name) || !o || !o->order_url ||
        !o->ca_id || !o->nnames || !o->names)
        return LEEC_E_INVALID_ARG;
    for (size_t i = 0; i < o->nnames; i++)
        if (!o->names[i])
            return LEEC_E_INVALID_ARG;
    if (!text)
        return LEEC_OK;
    if (!(*text = order_entry(o, (int64_t)time(NULL))))
        return LEEC_E_NOMEM;
    return too_large(*text) ? LEEC_E_TOO_LARGE : LEEC_OK;
}

leec_code Leec_store_order_write(leec_store *s, const char *name,
                                 uint64_t token, const leec_store_order *o,
                                 bool durable)
{
    char *text = NULL;
    bool journal = Leec_store_has_journal(s);
    leec_code rc = order_checked(s, name, o, journal ? &text : NULL);
    if (rc == LEEC_OK && journal)
        rc = s->ops->journal_write(s, name, token, text, durable);
    free_secret(text);
    return rc;
}

bool Leec_store_has_async(const leec_store *s)
{
    return s && s->ops->journal_write_async && s->ops->token_put_async &&
           s->ops->async_fd && s->ops->async_perform && s->ops->async_forget;
}

leec_code Leec_store_order_write_async(leec_store *s, const char *name,
                                       uint64_t token,
                                       const leec_store_order *o, bool durable,
                                       leec_store_done_fn done, void *ud)
{
    if (!done || !Leec_store_has_async(s) || !Leec_store_has_journal(s))
        return LEEC_E_INVALID_ARG;
    char *text = NULL;
    leec_code rc = order_checked(s, name, o, &text);
    if (rc == LEEC_OK)
        rc = s->ops->journal_write_async(s, name, token, text, durable, done,
                                         ud);
    free_secret(text);
    return rc;
}

leec_code Leec_store_token_put_async(leec_store *s, const char *token,
                                     const char *key_auth,
                                     leec_store_done_fn done, void *ud)
{
    if (!Leec_store_has_async(s) || !Leec_token_valid(token) || !key_auth ||
        strlen(key_auth) > 1024 || !done)
        return LEEC_E_INVALID_ARG;
    return s->ops->token_put_async(s, token, key_auth, done, ud);
}

int Leec_store_async_fd(leec_store *s, short *events)
{
    *events = 0;
    return Leec_store_has_async(s) ? s->ops->async_fd(s, events) : -1;
}

void Leec_store_async_perform(leec_store *s)
{
    if (Leec_store_has_async(s))
        s->ops->async_perform(s);
}

void Leec_store_async_forget(leec_store *s, void *ud)
{
    if (Leec_store_has_async(s))
        s->ops->async_forget(s, ud);
}

leec_code Leec_store_order_remove(leec_store *s, const char *name,
                                  uint64_t token)
{
    if (!s || !Leec_store_name_valid(name))
        return LEEC_E_INVALID_ARG;
    if (!Leec_store_has_journal(s))
        return LEEC_OK;
    return s->ops->journal_remove(s, name, token);
}

static char *dup_str(const leec_json *j, const char *key)
{
    const char *v = Leec_json_str(j, key);
    return v ? strdup(v) : NULL;
}

/* The entry's text back into o; false when it is not one order_entry
 * makes (or memory ran out: *nomem). */
static bool order_parse(const char *text, leec_store_order *o, bool *nomem)
{
    leec_json *j = NULL;
    long long since = 0, updated = 0;
    *nomem = false;
    leec_code rc = Leec_json_parse_object(text, strlen(text), &j);
    if (rc != LEEC_OK) {
        *nomem = rc == LEEC_E_NOMEM;
        return false;
    }
    const leec_json *names = Leec_json_array(j, "names");
    bool ok = names && Leec_json_len(names) > 0 &&
              Leec_json_str(j, "order_url") && Leec_json_str(j, "ca_id") &&
              Leec_json_str(j, "step") && Leec_json_int(j, "since", &since) &&
              Leec_json_int(j, "updated", &updated);
    size_t n = ok ? Leec_json_len(names) : 0;
    if (ok && !(o->names = calloc(n, sizeof *o->names)))
        ok = !(*nomem = true);
    for (size_t i = 0; ok && i < n; i++) {
        const char *v = Leec_json_as_str(Leec_json_at(names, i));
        if (!v)
            ok = false;
        else if (!(o->names[o->nnames++] = strdup(v)))
            ok = !(*nomem = true);
    }
    if (ok) {
        o->order_url = dup_str(j, "order_url");
        o->ca_id = dup_str(j, "ca_id");
        o->key_pem = dup_str(j, "key");
        o->step = dup_str(j, "step");
        o->account_url = dup_str(j, "account_url");
        o->since = since;
        o->updated = updated;
        if (!o->order_url || !o->ca_id || !o->step ||
            (Leec_json_str(j, "key") && !o->key_pem) ||
            (Leec_json_str(j, "account_url") && !o->account_url))
            ok = !(*nomem = true);
    }
    /* The parsed tree held the key: cleared with the text by the caller;
     * the tree's strings are freed here. */
    Leec_json_free(j);
    return ok;
}

leec_code leec_store_order_read(leec_store *store, const char *cert_name,
                                leec_store_order *o)
{
    char *text = NULL;
    bool nomem = false;
    if (!o)
        return LEEC_E_INVALID_ARG;
    memset(o, 0, sizeof *o);
    if (!store || !Leec_store_name_valid(cert_name))
        return LEEC_E_INVALID_ARG;
    if (!Leec_store_has_journal(store))
        return LEEC_E_NOT_FOUND;
    leec_code rc = store->ops->journal_read(store, cert_name, &text);
    if (rc == LEEC_OK && !order_parse(text, o, &nomem))
        rc = nomem ? LEEC_E_NOMEM
                   : leec_store_refuse(store,
                                       "the order journal entry of %s is not "
                                       "one leec wrote (leec reset %s drops "
                                       "it)",
                                       cert_name, cert_name);
    free_secret(text);
    if (rc != LEEC_OK)
        leec_store_order_clear(o);
    return rc;
}

leec_code leec_store_order_list(leec_store *store, char ***names, size_t *n)
{
    if (!names || !n)
        return LEEC_E_INVALID_ARG;
    *names = NULL;
    *n = 0;
    if (!store)
        return LEEC_E_INVALID_ARG;
    if (!Leec_store_has_journal(store))
        return LEEC_OK;
    return store->ops->journal_list(store, names, n);
}

/* ------------------------------------------------------------------ */
/* The budget log (ABI 4, optional operations)                         */
/* ------------------------------------------------------------------ */

bool Leec_store_has_budget(const leec_store *s)
{
    return s && s->ops->budget_add && s->ops->budget_read;
}

leec_code Leec_store_budget_add(leec_store *s, const char *ca_id, int64_t when,
                                const char *entry, int64_t forget_before)
{
    if (!Leec_store_has_budget(s) || !Leec_store_name_valid(ca_id) || !entry ||
        !*entry || strlen(entry) > LEEC_STORE_BUDGET_ENTRY_MAX ||
        strchr(entry, '\n') || when < 0)
        return LEEC_E_INVALID_ARG;
    return s->ops->budget_add(s, ca_id, when, entry, forget_before);
}

leec_code Leec_store_budget_read(leec_store *s, const char *ca_id,
                                 int64_t since, char ***entries,
                                 int64_t **whens, size_t *n)
{
    if (!entries || !whens || !n)
        return LEEC_E_INVALID_ARG;
    *entries = NULL;
    *whens = NULL;
    *n = 0;
    if (!Leec_store_has_budget(s) || !Leec_store_name_valid(ca_id))
        return LEEC_E_INVALID_ARG;
    return s->ops->budget_read(s, ca_id, since, entries, whens, n);
}

/* ------------------------------------------------------------------ */
/* A store shared by a fleet (ABI 3, optional operations)              */
/* ------------------------------------------------------------------ */

bool leec_store_is_shared(const leec_store *s)
{
    return s && s->ops->claim && s->ops->heartbeat && s->ops->schedule;
}

leec_code leec_store_heartbeat(leec_store *s, unsigned ttl_s)
{
    if (!s || ttl_s == 0)
        return LEEC_E_INVALID_ARG;
    s->fleet_ttl = ttl_s;
    return s->ops->heartbeat ? s->ops->heartbeat(s, ttl_s) : LEEC_OK;
}

leec_code leec_store_claim(leec_store *s, unsigned max, unsigned ttl_s,
                           char ***names, uint64_t **tokens, size_t *n)
{
    if (!names || !tokens || !n)
        return LEEC_E_INVALID_ARG;
    *names = NULL;
    *tokens = NULL;
    *n = 0;
    if (!s || !s->ops->claim || max == 0 || ttl_s == 0)
        return LEEC_E_INVALID_ARG;
    s->fleet_ttl = ttl_s;
    leec_code rc = s->ops->claim(s, max, ttl_s, names, tokens, n);
    if (rc != LEEC_OK || *n > max) {
        leec_store_list_free(*names, *n);
        free(*tokens);
        *names = NULL;
        *tokens = NULL;
        *n = 0;
        if (rc == LEEC_OK)
            rc = LEEC_E_IO;
    }
    return rc;
}

void leec_store_unclaim(leec_store *s, const char *name)
{
    void *h = NULL;
    uint64_t t = 0;
    if (!leec_store_is_shared(s) || !Leec_store_name_valid(name))
        return;
    if (s->ops->unclaim) {
        s->ops->unclaim(s, name);
        return;
    }
    /* A lease this store holds is granted again with the same token, and
     * its handle lets it go. */
    if (s->ops->lease(s, "cert", name, 1, &h, &t) == LEEC_OK && h)
        s->ops->unlock(s, h);
}

leec_code leec_store_schedule(leec_store *s, const char *name, int64_t when,
                              uint64_t token)
{
    if (!s || !Leec_store_name_valid(name))
        return LEEC_E_INVALID_ARG;
    return s->ops->schedule ? s->ops->schedule(s, name, when, token) : LEEC_OK;
}

leec_code leec_store_want(leec_store *s, const char *name, const char *settings)
{
    if (!s || !s->ops->want || !Leec_store_name_valid(name) || !settings ||
        strlen(settings) > LEEC_STORE_PART_MAX)
        return LEEC_E_INVALID_ARG;
    return s->ops->want(s, name, settings);
}

leec_code leec_store_wanted_read(leec_store *s, const char *name,
                                 char **settings)
{
    if (!settings)
        return LEEC_E_INVALID_ARG;
    *settings = NULL;
    if (!s || !Leec_store_name_valid(name))
        return LEEC_E_INVALID_ARG;
    if (!s->ops->wanted_read)
        return LEEC_E_NOT_FOUND;
    leec_code rc = s->ops->wanted_read(s, name, settings);
    if (rc != LEEC_OK) {
        free(*settings);
        *settings = NULL;
    }
    return rc;
}

leec_code leec_store_wanted_list(leec_store *s, char ***names, size_t *n)
{
    if (!names || !n)
        return LEEC_E_INVALID_ARG;
    *names = NULL;
    *n = 0;
    if (!s)
        return LEEC_E_INVALID_ARG;
    return s->ops->wanted_list ? s->ops->wanted_list(s, names, n) : LEEC_OK;
}

leec_code leec_store_unwant(leec_store *s, const char *name)
{
    if (!s || !Leec_store_name_valid(name))
        return LEEC_E_INVALID_ARG;
    return s->ops->unwant ? s->ops->unwant(s, name) : LEEC_OK;
}

int leec_store_changes_fd(leec_store *s)
{
    return s && s->ops->changes_fd ? s->ops->changes_fd(s) : -1;
}

leec_code leec_store_changes(leec_store *s, char ***names, size_t *n)
{
    if (!names || !n)
        return LEEC_E_INVALID_ARG;
    *names = NULL;
    *n = 0;
    if (!s)
        return LEEC_E_INVALID_ARG;
    return s->ops->changes ? s->ops->changes(s, names, n) : LEEC_OK;
}

leec_code leec_store_list_numbers(leec_store *s, char ***names,
                                  uint64_t **numbers, size_t *n)
{
    if (!names || !numbers || !n)
        return LEEC_E_INVALID_ARG;
    *names = NULL;
    *numbers = NULL;
    *n = 0;
    if (!s)
        return LEEC_E_INVALID_ARG;
    leec_code rc;
    if (s->ops->list_numbers) {
        rc = s->ops->list_numbers(s, names, numbers, n);
    } else if ((rc = s->ops->list(s, names, n)) == LEEC_OK && *n &&
               !(*numbers = calloc(*n, sizeof **numbers))) {
        rc = LEEC_E_NOMEM;
    } else {
        /* A store without it: one read of each number. */
        for (size_t i = 0; rc == LEEC_OK && i < *n; i++) {
            leec_store_version v;
            memset(&v, 0, sizeof v);
            leec_code r = s->ops->version_read(s, (*names)[i], 0, &v);
            (*numbers)[i] = r == LEEC_OK ? v.number : 0;
            leec_store_version_clear(&v);
        }
    }
    if (rc != LEEC_OK) {
        leec_store_list_free(*names, *n);
        free(*numbers);
        *names = NULL;
        *numbers = NULL;
        *n = 0;
    }
    return rc;
}

leec_code leec_store_rekey(leec_store *s, size_t *count)
{
    if (count)
        *count = 0;
    if (!s || !count)
        return LEEC_E_INVALID_ARG;
    return s->ops->rekey ? s->ops->rekey(s, count) : LEEC_E_INVALID_ARG;
}

bool leec_store_spec_is_pg(const char *spec)
{
    return spec &&
           (strncmp(spec, "postgresql://", 13) == 0 ||
            strncmp(spec, "postgres://", 11) == 0 || strchr(spec, '=') != NULL);
}
