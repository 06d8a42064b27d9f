#define _GNU_SOURCE
#include "acme/order.h"
#include "acme/directory.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/b64url.h"
#include "acme/directory.h"
#include "acme/limits.h"
#include "acme/ari.h"
#include "acme/persist.h"
#include "acme/problem.h"

static const char *const order_status[] = {[LEEC_ORDER_PENDING] = "pending",
                                           [LEEC_ORDER_READY] = "ready",
                                           [LEEC_ORDER_PROCESSING] =
                                               "processing",
                                           [LEEC_ORDER_VALID] = "valid",
                                           [LEEC_ORDER_INVALID] = "invalid"};

static const char *const authz_status[] = {
    [LEEC_AUTHZ_PENDING] = "pending", [LEEC_AUTHZ_VALID] = "valid",
    [LEEC_AUTHZ_INVALID] = "invalid", [LEEC_AUTHZ_DEACTIVATED] = "deactivated",
    [LEEC_AUTHZ_EXPIRED] = "expired", [LEEC_AUTHZ_REVOKED] = "revoked"};

/* Indexed by leec_chall_status from LEEC_CHALL_PENDING. */
static const char *const chall_status[] = {"pending", "processing", "valid",
                                           "invalid"};

static const char *const known_types[] = {"http-01", "dns-01", "tls-alpn-01",
                                          "dns-persist-01"};

#define N(a) (sizeof(a) / sizeof *(a))

static int lookup(const char *s, const char *const *names, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return (int)i;
    return -1;
}

static time_t opt_time(const leec_json *o, const char *key)
{
    time_t t = 0;
    return Leec_rfc3339_parse(Leec_json_str(o, key), &t) ? t : 0;
}

/* Malformed: says what, for the caller's message. */
static leec_code bad(const char **why, const char *what)
{
    *why = what;
    return LEEC_E_PROTOCOL;
}

/* An optional URL member: absent is fine, present must be https. */
static leec_code opt_url(const leec_json *o, const char *key, char **out)
{
    const char *s = NULL;
    if (Leec_json_get_str(o, key, false, &s) != LEEC_OK ||
        (s && !Leec_url_ok(s)))
        return LEEC_E_PROTOCOL;
    if (s && !(*out = strdup(s)))
        return LEEC_E_NOMEM;
    return LEEC_OK;
}

static leec_code order_ids(const leec_json *ids, leec_order_view *v)
{
    size_t n = Leec_json_len(ids);
    if (!Leec_json_is_array(ids) || n > LEEC_MAX_NAMES)
        return bad(&v->why, "identifiers is not an array of at most 100");
    v->has_ids = true;
    if (n && !(v->ids = calloc(n, sizeof *v->ids)))
        return LEEC_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const leec_json *id = Leec_json_at(ids, i);
        const char *t = Leec_json_str(id, "type");
        const char *val = Leec_json_str(id, "value");
        if (!t || !val)
            return bad(&v->why, "an identifier without a type or a value");
        if (!(v->ids[i].type = strdup(t)) || !(v->ids[i].value = strdup(val)))
            return LEEC_E_NOMEM;
        v->nids++;
    }
    return LEEC_OK;
}

static leec_code order_authz(const leec_json *azs, leec_order_view *v)
{
    size_t n = Leec_json_len(azs);
    if (!Leec_json_is_array(azs) || n > LEEC_MAX_NAMES)
        return bad(&v->why, "authorizations is not an array of at most 100");
    if (n && !(v->authz = calloc(n, sizeof *v->authz)))
        return LEEC_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *u = Leec_json_as_str(Leec_json_at(azs, i));
        if (!Leec_url_ok(u))
            return bad(&v->why, "an authorization URL is not an https URL");
        if (!(v->authz[i] = strdup(u)))
            return LEEC_E_NOMEM;
        v->nauthz++;
    }
    return LEEC_OK;
}

leec_code Leec_order_parse(const leec_json *o, leec_order_view *v)
{
    leec_code rc;
    memset(v, 0, sizeof *v);
    int st = lookup(Leec_json_str(o, "status"), order_status, N(order_status));
    if (st < 0)
        return bad(&v->why, "no known status");
    v->status = (leec_order_status)st;
    v->expires = opt_time(o, "expires");
    if ((rc = opt_url(o, "finalize", &v->finalize)) != LEEC_OK ||
        (rc = opt_url(o, "certificate", &v->certificate)) != LEEC_OK) {
        if (rc == LEEC_E_PROTOCOL)
            v->why = "finalize or certificate is not an https URL";
        return rc;
    }
    const leec_json *ids = Leec_json_get(o, "identifiers");
    if (ids && (rc = order_ids(ids, v)) != LEEC_OK)
        return rc;
    const leec_json *azs = Leec_json_get(o, "authorizations");
    if (azs && (rc = order_authz(azs, v)) != LEEC_OK)
        return rc;
    const leec_json *err = Leec_json_object(o, "error");
    if (err && !(v->error = Leec_problem_from_json(err, 0, -1)))
        return LEEC_E_NOMEM;
    return LEEC_OK;
}

void Leec_order_view_clear(leec_order_view *v)
{
    for (size_t i = 0; i < v->nids; i++) {
        free(v->ids[i].type);
        free(v->ids[i].value);
    }
    free(v->ids);
    for (size_t i = 0; i < v->nauthz; i++)
        free(v->authz[i]);
    free(v->authz);
    free(v->finalize);
    free(v->certificate);
    Leec_problem_free(v->error);
    memset(v, 0, sizeof *v);
}

bool Leec_order_ids_match(const leec_order_view *v, char *const *names,
                          size_t n)
{
    if (!v->has_ids)
        return true; /* optional in some CAs' order updates */
    if (v->nids != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        for (size_t j = 0; j < n && !found; j++)
            found = strcasecmp(v->ids[i].value, names[j]) == 0;
        if (!found)
            return false;
    }
    return true;
}

static leec_chall_status chall_status_of(const leec_json *c)
{
    const leec_json *s = Leec_json_get(c, "status");
    if (!s)
        return LEEC_CHALL_NONE;
    int i = lookup(Leec_json_as_str(s), chall_status, N(chall_status));
    return i < 0 ? LEEC_CHALL_OTHER
                 : (leec_chall_status)(LEEC_CHALL_PENDING + i);
}

/* dns-persist-01's "issuer-domain-names": 1 to 10 normalized domain names
 * (the draft: a challenge otherwise malformed), joined by spaces into *out. */
static leec_code take_issuers(const leec_json *c, char **out, const char **why)
{
    const leec_json *a = Leec_json_array(c, "issuer-domain-names");
    size_t n = a ? Leec_json_len(a) : 0, len = 0;
    *out = NULL;
    if (n < 1 || n > LEEC_PERSIST_MAX_ISSUERS)
        return bad(why, "a dns-persist-01 challenge without 1 to 10 "
                        "issuer-domain-names");
    for (size_t i = 0; i < n; i++) {
        const char *s = Leec_json_as_str(Leec_json_at(a, i));
        if (!Leec_persist_issuer_ok(s))
            return bad(why, "an issuer-domain-name is not a lower case "
                            "domain name");
        len += strlen(s) + 1;
    }
    char *j = malloc(len);
    if (!j)
        return LEEC_E_NOMEM;
    j[0] = '\0';
    for (size_t i = 0, off = 0; i < n; i++) {
        const char *s = Leec_json_as_str(Leec_json_at(a, i));
        size_t l = strlen(s);
        if (off)
            j[off++] = ' ';
        memcpy(j + off, s, l + 1);
        off += l;
    }
    *out = j;
    return LEEC_OK;
}

/* One challenge: the first error document is kept whatever the type; a
 * known type is checked and copied, the others skipped. */
static leec_code take_chall(const leec_json *c, leec_authz_view *v)
{
    if (!Leec_json_is_object(c))
        return bad(&v->why, "a challenge is not an object");
    const leec_json *err = Leec_json_object(c, "error");
    if (err && !v->error && !(v->error = Leec_problem_from_json(err, 0, -1)))
        return LEEC_E_NOMEM;
    int t = lookup(Leec_json_str(c, "type"), known_types, N(known_types));
    if (t < 0)
        return LEEC_OK;
    const char *url = Leec_json_str(c, "url");
    const char *tok = Leec_json_str(c, "token");
    char *issuers = NULL;
    bool persist = strcmp(known_types[t], "dns-persist-01") == 0;
    if (!Leec_url_ok(url))
        return bad(&v->why, "a challenge URL is not an https URL");
    if (persist) {
        /* No token: the record names the account and the CA instead. */
        leec_code rc = take_issuers(c, &issuers, &v->why);
        if (rc != LEEC_OK)
            return rc;
        tok = NULL;
    } else if (!Leec_token_valid(tok)) {
        return bad(&v->why, "a challenge token is not base64url of 1 to 256 "
                            "characters");
    }
    leec_chall_view *ch = &v->chall[v->nchall];
    ch->status = chall_status_of(c);
    ch->issuers = issuers;
    if (!(ch->type = strdup(known_types[t])) || !(ch->url = strdup(url)) ||
        (tok && !(ch->token = strdup(tok)))) {
        free(ch->type);
        free(ch->url);
        free(ch->issuers);
        memset(ch, 0, sizeof *ch);
        return LEEC_E_NOMEM;
    }
    v->nchall++;
    return LEEC_OK;
}

leec_code Leec_authz_parse(const leec_json *az, leec_authz_view *v)
{
    leec_code rc;
    memset(v, 0, sizeof *v);
    const char *s = Leec_json_str(az, "status");
    int st = lookup(s, authz_status, N(authz_status));
    if (st < 0)
        return bad(&v->why, "no known status");
    v->status = (leec_authz_status)st;
    v->status_name = authz_status[st];
    const leec_json *id = Leec_json_object(az, "identifier");
    const char *ident = Leec_json_str(id, "value");
    const char *ident_type = Leec_json_str(id, "type");
    if (!ident || !ident_type)
        return bad(&v->why, "no identifier type and value");
    if (!(v->ident = strdup(ident)) || !(v->ident_type = strdup(ident_type)))
        return LEEC_E_NOMEM;
    v->wildcard = Leec_json_bool(az, "wildcard") == 1;
    v->expires = opt_time(az, "expires");
    const leec_json *chs = Leec_json_get(az, "challenges");
    if (!chs)
        return LEEC_OK;
    size_t n = Leec_json_len(chs);
    if (!Leec_json_is_array(chs))
        return bad(&v->why, "challenges is not an array");
    if (n > LEEC_MAX_CHALLENGES)
        return bad(&v->why, "more than 16 challenges");
    for (size_t i = 0; i < n; i++)
        if ((rc = take_chall(Leec_json_at(chs, i), v)) != LEEC_OK)
            return rc;
    return LEEC_OK;
}

void Leec_authz_view_clear(leec_authz_view *v)
{
    free(v->ident);
    free(v->ident_type);
    for (size_t i = 0; i < v->nchall; i++) {
        free(v->chall[i].type);
        free(v->chall[i].url);
        free(v->chall[i].token);
        free(v->chall[i].issuers);
    }
    Leec_problem_free(v->error);
    memset(v, 0, sizeof *v);
}

const leec_chall_view *Leec_authz_find(const leec_authz_view *v,
                                       const char *type)
{
    for (size_t i = 0; i < v->nchall; i++)
        if (v->chall[i].type && strcmp(v->chall[i].type, type) == 0)
            return &v->chall[i];
    return NULL;
}

void Leec_chall_answer_parse(const leec_json *ch, leec_chall_answer *a)
{
    a->status = chall_status_of(ch);
    const leec_json *err = Leec_json_object(ch, "error");
    a->error = err ? Leec_problem_from_json(err, 0, -1) : NULL;
}
