#define _GNU_SOURCE
#include "acme/account.h"

#include <stdlib.h>
#include <string.h>

static leec_code dup_opt(const char *s, char **out)
{
    *out = NULL;
    return s && !(*out = strdup(s)) ? LEEC_E_NOMEM : LEEC_OK;
}

leec_code Leec_account_parse(const leec_json *obj, leec_account_view *v)
{
    memset(v, 0, sizeof *v);
    if (!Leec_json_is_object(obj))
        return LEEC_E_PROTOCOL;
    if (dup_opt(Leec_json_str(obj, "url"), &v->url) ||
        dup_opt(Leec_json_str(obj, "status"), &v->status) ||
        dup_opt(Leec_json_str(obj, "orders"), &v->orders))
        return LEEC_E_NOMEM;
    const leec_json *c = Leec_json_array(obj, "contact");
    size_t n = Leec_json_len(c);
    for (size_t i = 0; i < n && v->ncontact < LEEC_MAX_CONTACTS; i++) {
        const char *s = Leec_json_as_str(Leec_json_at(c, i));
        if (!s)
            continue;
        if (!(v->contact[v->ncontact] = strdup(s)))
            return LEEC_E_NOMEM;
        v->ncontact++;
    }
    return LEEC_OK;
}

void Leec_account_view_clear(leec_account_view *v)
{
    free(v->url);
    free(v->status);
    free(v->orders);
    for (size_t i = 0; i < v->ncontact; i++)
        free(v->contact[i]);
    memset(v, 0, sizeof *v);
}
