/* The in-memory store of the fuzz targets (memstore.h). */
#define _GNU_SOURCE
#include "memstore.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char *const files[] = {
    "cert.pem",  "chain.pem",    "fullchain.pem",   "privkey.pem",
    "meta.json", "renewal.json", "account.key.pem", "account.json"};
#define NFILES (sizeof files / sizeof *files)

typedef struct mem_store {
    leec_store base;
    char *data[NFILES];
    size_t len[NFILES];
} mem_store;

static int file_index(const char *file)
{
    for (size_t i = 0; file && i < NFILES; i++)
        if (strcmp(files[i], file) == 0)
            return (int)i;
    return -1;
}

static leec_code get(mem_store *m, const char *file, char **out, size_t *len)
{
    int i = file_index(file);
    *out = NULL;
    if (len)
        *len = 0;
    if (i < 0)
        return LEEC_E_INVALID_ARG;
    if (!m->data[i])
        return LEEC_E_NOT_FOUND;
    if (!(*out = malloc(m->len[i] + 1)))
        return LEEC_E_NOMEM;
    memcpy(*out, m->data[i], m->len[i]);
    (*out)[m->len[i]] = '\0'; /* as Leec_file_read leaves it */
    if (len)
        *len = m->len[i];
    return LEEC_OK;
}

void fuzz_store_set(leec_store *s, const char *file, const void *data,
                    size_t len)
{
    mem_store *m = (mem_store *)s;
    int i = file_index(file);
    if (i < 0)
        abort();
    free(m->data[i]);
    m->data[i] = NULL;
    m->len[i] = 0;
    if (!data)
        return;
    if (!(m->data[i] = malloc(len ? len : 1)))
        abort();
    memcpy(m->data[i], data, len);
    m->len[i] = len;
}

void fuzz_store_clear(leec_store *s)
{
    for (size_t i = 0; i < NFILES; i++)
        fuzz_store_set(s, files[i], NULL, 0);
}

static leec_code account_load(leec_store *s, const char *ca_id, char **key,
                              char **json)
{
    (void)ca_id;
    leec_code rc = get((mem_store *)s, "account.key.pem", key, NULL);
    if (rc == LEEC_OK &&
        (rc = get((mem_store *)s, "account.json", json, NULL)) != LEEC_OK) {
        free(*key);
        *key = NULL;
    }
    return rc;
}

static leec_code account_save(leec_store *s, const char *ca_id, const char *key,
                              const char *json)
{
    (void)ca_id;
    fuzz_store_set(s, "account.key.pem", key, strlen(key));
    fuzz_store_set(s, "account.json", json, strlen(json));
    return LEEC_OK;
}

static leec_code account_remove(leec_store *s, const char *ca_id)
{
    (void)ca_id;
    fuzz_store_set(s, "account.key.pem", NULL, 0);
    fuzz_store_set(s, "account.json", NULL, 0);
    return LEEC_OK;
}

static leec_code cert_read(leec_store *s, const char *name, const char *file,
                           char **data, size_t *len)
{
    if (!Leec_store_name_valid(name))
        return LEEC_E_INVALID_ARG;
    return get((mem_store *)s, file, data, len);
}

static leec_code cert_read_many(leec_store *s, const char *name,
                                const char *const *f, size_t n, char **out)
{
    leec_code rc = LEEC_OK;
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    for (size_t i = 0; i < n && rc == LEEC_OK; i++)
        rc = cert_read(s, name, f[i], &out[i], NULL);
    if (rc != LEEC_OK)
        for (size_t i = 0; i < n; i++) {
            free(out[i]);
            out[i] = NULL;
        }
    return rc;
}

static leec_code cert_write_state(leec_store *s, const char *name,
                                  const char *file, const char *data)
{
    mem_store *m = (mem_store *)s;
    if (!Leec_store_name_valid(name) || strcmp(file, "renewal.json") != 0)
        return LEEC_E_INVALID_ARG;
    if (!m->data[file_index("cert.pem")])
        return LEEC_E_NOT_FOUND;
    fuzz_store_set(s, file, data, strlen(data));
    return LEEC_OK;
}

static leec_code cert_install(leec_store *s, const char *name,
                              const leec_cert_files *f)
{
    if (!Leec_store_name_valid(name))
        return LEEC_E_INVALID_ARG;
    size_t cl = strlen(f->cert), hl = strlen(f->chain);
    char *full = malloc(cl + hl + 1);
    if (!full)
        return LEEC_E_NOMEM;
    memcpy(full, f->cert, cl);
    memcpy(full + cl, f->chain, hl + 1);
    fuzz_store_set(s, "privkey.pem", f->privkey, strlen(f->privkey));
    fuzz_store_set(s, "cert.pem", f->cert, cl);
    fuzz_store_set(s, "chain.pem", f->chain, hl);
    fuzz_store_set(s, "fullchain.pem", full, cl + hl);
    fuzz_store_set(s, "meta.json", f->meta_json,
                   f->meta_json ? strlen(f->meta_json) : 0);
    fuzz_store_set(s, "renewal.json", NULL, 0); /* a new version */
    free(full);
    return LEEC_OK;
}

static leec_code lock(leec_store *s, const char *kind, const char *name,
                      void **handle)
{
    (void)kind;
    (void)name;
    *handle = s; /* any non-NULL handle */
    return LEEC_OK;
}

static void unlock(leec_store *s, void *handle)
{
    (void)s;
    (void)handle;
}

static leec_code list(leec_store *s, char ***names, size_t *n)
{
    mem_store *m = (mem_store *)s;
    *names = NULL;
    *n = 0;
    if (!m->data[file_index("cert.pem")])
        return LEEC_OK;
    if (!(*names = calloc(1, sizeof **names)) ||
        !((*names)[0] = strdup("example.com"))) {
        free(*names);
        *names = NULL;
        return LEEC_E_NOMEM;
    }
    *n = 1;
    return LEEC_OK;
}

static leec_code reset(leec_store *s, const char *name)
{
    (void)name;
    fuzz_store_clear(s);
    return LEEC_OK;
}

static char *live_path(leec_store *s, const char *name)
{
    (void)s;
    (void)name;
    return NULL;
}

static void destroy(leec_store *s)
{
    fuzz_store_clear(s);
    free(s);
}

static const struct leec_store_ops ops = {
    .account_load = account_load,
    .account_save = account_save,
    .account_remove = account_remove,
    .cert_read = cert_read,
    .cert_read_many = cert_read_many,
    .cert_write_state = cert_write_state,
    .cert_install = cert_install,
    .lock = lock,
    .unlock = unlock,
    .list = list,
    .reset = reset,
    .live_path = live_path,
    .destroy = destroy,
};

leec_store *fuzz_store_new(void)
{
    mem_store *m = calloc(1, sizeof *m);
    if (!m)
        abort();
    m->base.ops = &ops;
    return &m->base;
}
