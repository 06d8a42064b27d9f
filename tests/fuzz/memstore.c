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
    char *data[NFILES];
    size_t len[NFILES];
    uint64_t version; /* of the certificate's files (0: 1, as set) */
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
    mem_store *m = leec_store_impl(s);
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
    mem_store *m = leec_store_impl(s);
    leec_code rc = get(m, "account.key.pem", key, NULL);
    if (rc == LEEC_OK && (rc = get(m, "account.json", json, NULL)) != LEEC_OK) {
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

/* The file of each part, in leec_store_part's order. */
static const char *const part_file[LEEC_PART_COUNT] = {
    "privkey.pem",   "cert.pem",  "chain.pem",
    "fullchain.pem", "meta.json", "renewal.json"};

static leec_code version_read(leec_store *s, const char *name, unsigned want,
                              leec_store_version *v)
{
    mem_store *m = leec_store_impl(s);
    leec_code rc = LEEC_OK;
    if (!leec_store_name_valid(name))
        return LEEC_E_INVALID_ARG;
    if (!m->data[file_index("cert.pem")])
        return LEEC_E_NOT_FOUND; /* no version without a certificate */
    v->number = m->version ? m->version : 1;
    for (int p = 0; p < LEEC_PART_COUNT && rc == LEEC_OK; p++)
        if (want & LEEC_PARTS(p)) {
            rc = get(m, part_file[p], &v->text[p], &v->len[p]);
            if (rc == LEEC_E_NOT_FOUND)
                rc = LEEC_OK;
        }
    if (rc != LEEC_OK)
        leec_store_version_clear(v);
    return rc;
}

static leec_code renewal_write(leec_store *s, const char *name, uint64_t number,
                               const char *json)
{
    mem_store *m = leec_store_impl(s);
    if (!leec_store_name_valid(name))
        return LEEC_E_INVALID_ARG;
    if (!m->data[file_index("cert.pem")] ||
        number != (m->version ? m->version : 1))
        return LEEC_E_NOT_FOUND;
    fuzz_store_set(s, "renewal.json", json, strlen(json));
    return LEEC_OK;
}

static leec_code version_install(leec_store *s, const char *name,
                                 const leec_store_new_version *f,
                                 uint64_t *number)
{
    mem_store *m = leec_store_impl(s);
    if (!leec_store_name_valid(name))
        return LEEC_E_INVALID_ARG;
    fuzz_store_set(s, "privkey.pem", f->privkey, strlen(f->privkey));
    fuzz_store_set(s, "cert.pem", f->cert, strlen(f->cert));
    fuzz_store_set(s, "chain.pem", f->chain, strlen(f->chain));
    fuzz_store_set(s, "fullchain.pem", f->fullchain, strlen(f->fullchain));
    fuzz_store_set(s, "meta.json", f->meta_json,
                   f->meta_json ? strlen(f->meta_json) : 0);
    fuzz_store_set(s, "renewal.json", NULL, 0); /* a new version */
    *number = m->version = (m->version ? m->version : 1) + 1;
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
    mem_store *m = leec_store_impl(s);
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

static void destroy(leec_store *s)
{
    fuzz_store_clear(s);
    free(leec_store_impl(s));
}

static const leec_store_ops ops = {
    .abi = 1, /* a backend of ABI 1: no leases, no order journal */
    .account_load = account_load,
    .account_save = account_save,
    .account_remove = account_remove,
    .version_read = version_read,
    .version_install = version_install,
    .list = list,
    .reset = reset,
    .renewal_write = renewal_write,
    .lock = lock,
    .unlock = unlock,
    .destroy = destroy,
};

leec_store *fuzz_store_new(void)
{
    mem_store *m = calloc(1, sizeof *m);
    leec_store *s = m ? leec_store_new(&ops, m, NULL) : NULL;
    if (!s)
        abort();
    return s;
}
