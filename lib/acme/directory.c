#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acme/directory.h"
#include "acme/persist.h"
#include "util/names.h"
#include "acme/limits.h"
#include "util/json.h"
#include "util/names.h"

bool Leec_url_ok(const char *url)
{
    if (!url || strlen(url) > LEEC_MAX_URL)
        return false;
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return false;
    return strncasecmp(url, "https://", 8) == 0 && url[8] != '\0';
}

void Leec_directory_clear(leec_directory *d)
{
    free(d->new_nonce);
    free(d->new_account);
    free(d->new_order);
    free(d->revoke_cert);
    free(d->key_change);
    free(d->renewal_info);
    free(d->terms);
    for (size_t i = 0; i < d->nprofiles; i++)
        free(d->profiles[i]);
    free(d->profiles);
    for (size_t i = 0; i < d->ncaa; i++)
        free(d->caa[i]);
    free(d->caa);
    memset(d, 0, sizeof *d);
}

static leec_code take_url(const leec_json *obj, const char *key, bool required,
                          char **out, char **why)
{
    const char *v = NULL;
    if (Leec_json_get_str(obj, key, required, &v) != LEEC_OK ||
        (v && !Leec_url_ok(v))) {
        if (why && !*why &&
            asprintf(why, "directory: missing or invalid URL for %s", key) < 0)
            *why = NULL;
        return LEEC_E_PROTOCOL;
    }
    if (!v)
        return LEEC_OK;
    *out = strdup(v);
    return *out ? LEEC_OK : LEEC_E_NOMEM;
}

/* meta.profiles: an object of profile name -> description. Names that are
 * not short printable tokens are skipped; at most 32 are kept. */
#define MAX_PROFILES 32
typedef struct profiles_acc {
    leec_directory *d;
    size_t max;
    leec_code rc;
} profiles_acc;

static bool take_profile(void *ud, const char *name, const leec_json *v)
{
    profiles_acc *acc = ud;
    (void)v;
    size_t len = strlen(name);
    bool ok = len > 0 && len <= 64;
    for (size_t i = 0; ok && i < len; i++)
        ok = name[i] > 0x20 && name[i] < 0x7f && name[i] != ',';
    if (!ok || acc->d->nprofiles == acc->max)
        return true;
    if (!(acc->d->profiles[acc->d->nprofiles] = strdup(name))) {
        acc->rc = LEEC_E_NOMEM;
        return false;
    }
    acc->d->nprofiles++;
    return true;
}

static leec_code take_profiles(const leec_json *meta, leec_directory *d)
{
    const leec_json *p = Leec_json_object(meta, "profiles");
    size_t n = Leec_json_len(p);
    if (n == 0)
        return LEEC_OK;
    if (n > MAX_PROFILES)
        n = MAX_PROFILES;
    if (!(d->profiles = calloc(n, sizeof *d->profiles)))
        return LEEC_E_NOMEM;
    profiles_acc acc = {d, n, LEEC_OK};
    Leec_json_each(p, take_profile, &acc);
    return acc.rc;
}

/* meta.caaIdentities (RFC 8555 §7.1.1): the CA's domain names, as CAA
 * records and dns-persist-01 records name it; those that are not domain
 * names are skipped, at most LEEC_PERSIST_MAX_ISSUERS kept. */
static leec_code take_caa(const leec_json *meta, leec_directory *d)
{
    const leec_json *a = Leec_json_array(meta, "caaIdentities");
    size_t n = Leec_json_len(a);
    if (n == 0)
        return LEEC_OK;
    if (n > LEEC_PERSIST_MAX_ISSUERS)
        n = LEEC_PERSIST_MAX_ISSUERS;
    if (!(d->caa = calloc(n, sizeof *d->caa)))
        return LEEC_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *s = Leec_json_as_str(Leec_json_at(a, i));
        if (!Leec_persist_issuer_ok(s))
            continue;
        if (!(d->caa[d->ncaa] = strdup(s)))
            return LEEC_E_NOMEM;
        d->ncaa++;
    }
    return LEEC_OK;
}

leec_code Leec_directory_parse(const leec_json *obj, leec_directory *d,
                               char **why)
{
    leec_code rc;
    memset(d, 0, sizeof *d);
    if ((rc = take_url(obj, "newNonce", true, &d->new_nonce, why)) ||
        (rc = take_url(obj, "newAccount", true, &d->new_account, why)) ||
        (rc = take_url(obj, "newOrder", true, &d->new_order, why)) ||
        (rc = take_url(obj, "revokeCert", false, &d->revoke_cert, why)) ||
        (rc = take_url(obj, "keyChange", false, &d->key_change, why)) ||
        (rc = take_url(obj, "renewalInfo", false, &d->renewal_info, why)))
        goto out;
    /* The terms are shown to a person, never fetched: any printable string
     * (pebble's is a data: URL). */
    const char *tos =
        Leec_json_str(Leec_json_object(obj, "meta"), "termsOfService");
    if (tos &&
        (Leec_url_ok(tos) || strncmp(tos, "data:", 5) == 0 ||
         strncmp(tos, "http://", 7) == 0) &&
        !(d->terms = strdup(tos)))
        rc = LEEC_E_NOMEM;
    if (rc == LEEC_OK)
        rc = take_profiles(Leec_json_object(obj, "meta"), d);
    if (rc == LEEC_OK)
        rc = take_caa(Leec_json_object(obj, "meta"), d);
out:
    if (rc != LEEC_OK)
        Leec_directory_clear(d);
    return rc;
}

char *Leec_ca_id(const char *url)
{
    /* https://host[:port]/path -> "host" or "host_port" */
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t n = strcspn(p, "/?#");
    const char *at = memchr(p, '@', n);
    if (at) {
        n -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    char *id = strndup(p, n);
    if (!id)
        return NULL;
    for (char *c = id; *c; c++) {
        if (*c == ':')
            *c = '_';
        else if (*c == '[' || *c == ']')
            *c = '_';
        else if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    }
    if (!Leec_store_name_valid(id)) {
        free(id);
        return NULL;
    }
    return id;
}
