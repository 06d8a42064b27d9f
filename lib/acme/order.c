#include "acme/order.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/b64url.h"
#include "util/buf.h"
#include "engine/internal.h"
#include "util/json.h"
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

static int lookup(const char *s, const char *const *names, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return (int)i;
    return -1;
}

/* An optional URL member: absent is fine, present must be https. */
static leec_code opt_url(const json_t *o, const char *key, const char **out)
{
    if (Leec_json_get_str(o, key, false, out) != LEEC_OK ||
        (*out && !Leec_url_ok(*out)))
        return LEEC_E_PROTOCOL;
    return LEEC_OK;
}

leec_code Leec_order_parse(const json_t *o, leec_order_view *v)
{
    memset(v, 0, sizeof *v);
    int st = lookup(Leec_json_str(o, "status"), order_status,
                    sizeof order_status / sizeof *order_status);
    if (st < 0)
        return LEEC_E_PROTOCOL;
    v->status = (leec_order_status)st;
    if (opt_url(o, "finalize", &v->finalize) != LEEC_OK ||
        opt_url(o, "certificate", &v->certificate) != LEEC_OK)
        return LEEC_E_PROTOCOL;
    json_t *azs = json_object_get(o, "authorizations");
    if (azs) {
        if (!json_is_array(azs) || json_array_size(azs) > LEEC_MAX_NAMES)
            return LEEC_E_PROTOCOL;
        for (size_t i = 0; i < json_array_size(azs); i++)
            if (!Leec_url_ok(json_string_value(json_array_get(azs, i))))
                return LEEC_E_PROTOCOL;
        v->authorizations = azs;
    }
    return LEEC_OK;
}

bool Leec_order_ids_match(const json_t *order, char *const *names, size_t n)
{
    json_t *ids = Leec_json_array(order, "identifiers");
    if (!ids)
        return true; /* optional in some CAs' order updates */
    if (json_array_size(ids) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        const char *v = Leec_json_str(json_array_get(ids, i), "value");
        bool found = false;
        for (size_t j = 0; v && j < n && !found; j++)
            found = strcasecmp(v, names[j]) == 0;
        if (!found)
            return false;
    }
    return true;
}

leec_problem *Leec_order_error(const json_t *order)
{
    return Leec_problem_from_json(Leec_json_object(order, "error"), 0, -1);
}

leec_code Leec_authz_parse(const json_t *az, const char *type,
                           leec_authz_view *v, char **offered)
{
    memset(v, 0, sizeof *v);
    if (offered)
        *offered = NULL;
    const char *s = Leec_json_str(az, "status");
    int st =
        lookup(s, authz_status, sizeof authz_status / sizeof *authz_status);
    const json_t *id = Leec_json_object(az, "identifier");
    v->ident = Leec_json_str(id, "value");
    v->ident_type = Leec_json_str(id, "type");
    if (st < 0 || !v->ident || !v->ident_type)
        return LEEC_E_PROTOCOL;
    v->status = (leec_authz_status)st;
    v->status_name = s;
    v->wildcard = json_is_true(json_object_get(az, "wildcard"));
    json_t *chs = json_object_get(az, "challenges");
    if (chs && !json_is_array(chs))
        return LEEC_E_PROTOCOL;
    const json_t *ch = NULL;
    leec_buf list;
    Leec_buf_init(&list, 1024);
    for (size_t i = 0; chs && i < json_array_size(chs); i++) {
        const json_t *c = json_array_get(chs, i);
        const char *t = Leec_json_str(c, "type");
        if (!t)
            continue;
        if (strcmp(t, type) == 0 && !ch)
            ch = c;
        (void)Leec_buf_printf(&list, "%s%s", list.len ? " " : "", t);
    }
    if (!ch) {
        if (offered)
            *offered = Leec_buf_steal(&list);
        Leec_buf_free(&list);
        return LEEC_OK;
    }
    Leec_buf_free(&list);
    v->chall_url = Leec_json_str(ch, "url");
    v->token = Leec_json_str(ch, "token");
    v->chall_status = Leec_json_str(ch, "status");
    if (!Leec_url_ok(v->chall_url) || !v->token ||
        !Leec_b64url_valid(v->token, LEEC_MAX_TOKEN))
        return LEEC_E_PROTOCOL;
    return LEEC_OK;
}

leec_problem *Leec_authz_error(const json_t *az)
{
    json_t *chs = Leec_json_array(az, "challenges");
    for (size_t i = 0; chs && i < json_array_size(chs); i++) {
        json_t *e = Leec_json_object(json_array_get(chs, i), "error");
        if (e)
            return Leec_problem_from_json(e, 0, -1);
    }
    return NULL;
}

bool Leec_authz_challenge_at(const json_t *az, size_t i, leec_chall_view *v)
{
    static const char *const known[] = {"http-01", "dns-01", "tls-alpn-01"};
    json_t *chs = Leec_json_array(az, "challenges");
    size_t k = 0;
    memset(v, 0, sizeof *v);
    for (size_t j = 0; chs && j < json_array_size(chs); j++) {
        const json_t *c = json_array_get(chs, j);
        const char *t = Leec_json_str(c, "type");
        bool ok = false;
        for (size_t m = 0; t && m < sizeof known / sizeof *known; m++)
            ok = ok || strcmp(t, known[m]) == 0;
        const char *url = Leec_json_str(c, "url");
        const char *tok = Leec_json_str(c, "token");
        if (!ok || !Leec_url_ok(url) || !tok ||
            !Leec_b64url_valid(tok, LEEC_MAX_TOKEN))
            continue;
        if (k++ == i) {
            v->type = t;
            v->url = url;
            v->token = tok;
            v->status = Leec_json_str(c, "status");
            return true;
        }
    }
    return false;
}
