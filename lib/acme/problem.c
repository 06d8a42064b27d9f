#define _GNU_SOURCE
#include "acme/problem.h"

#include <stdlib.h>
#include <string.h>

#include "util/json.h"

#define PROBLEM_STR_MAX 1024
#define PROBLEM_SUB_MAX 100 /* enough for an order of 100 names */

char *Leec_sanitize(const char *s, size_t max)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    bool cut = n > max;
    if (cut)
        n = max;
    char *out = malloc(n + (cut ? 4 : 1));
    if (!out)
        return NULL;
    memcpy(out, s, n);
    Leec_text_clean(out, n);
    if (cut)
        memcpy(out + n, "...", 4);
    else
        out[n] = '\0';
    return out;
}

static char *dup_member(const json_t *obj, const char *key)
{
    return Leec_sanitize(Leec_json_str(obj, key), PROBLEM_STR_MAX);
}

void Leec_problem_free(leec_problem *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nsub; i++) {
        free((char *)p->sub[i].type);
        free((char *)p->sub[i].detail);
        free((char *)p->sub[i].id_type);
        free((char *)p->sub[i].id_value);
    }
    free((leec_subproblem *)p->sub);
    free((char *)p->type);
    free((char *)p->detail);
    free(p);
}

leec_problem *Leec_problem_from_json(const json_t *obj, long status,
                                     long retry_after)
{
    if (!json_is_object(obj))
        return NULL;
    leec_problem *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->status = status;
    p->retry_after = retry_after;
    p->type = dup_member(obj, "type");
    if (!p->type)
        p->type = strdup("about:blank");
    p->detail = dup_member(obj, "detail");
    if (!p->type)
        goto fail;
    json_t *subs = Leec_json_array(obj, "subproblems");
    size_t n = subs ? json_array_size(subs) : 0;
    if (n > PROBLEM_SUB_MAX)
        n = PROBLEM_SUB_MAX;
    if (n) {
        leec_subproblem *sub = calloc(n, sizeof *sub);
        if (!sub)
            goto fail;
        p->sub = sub;
        for (size_t i = 0; i < n; i++) {
            json_t *s = json_array_get(subs, i);
            if (!json_is_object(s))
                continue;
            json_t *id = Leec_json_object(s, "identifier");
            leec_subproblem *d = &sub[p->nsub++];
            d->type = dup_member(s, "type");
            d->detail = dup_member(s, "detail");
            d->id_type = dup_member(id, "type");
            d->id_value = dup_member(id, "value");
        }
    }
    return p;
fail:
    Leec_problem_free(p);
    return NULL;
}

leec_problem *Leec_problem_dup(const leec_problem *p)
{
    if (!p)
        return NULL;
    json_t *o = json_object();
    json_t *subs = json_array();
    leec_problem *out = NULL;
    if (!o || !subs)
        goto out;
    /* Round-trip through JSON: one copy routine instead of two. */
    json_object_set_new(o, "type", json_string(p->type));
    if (p->detail)
        json_object_set_new(o, "detail", json_string(p->detail));
    for (size_t i = 0; i < p->nsub; i++) {
        json_t *s = json_object();
        json_t *id = json_object();
        if (!s || !id) {
            json_decref(s);
            json_decref(id);
            goto out;
        }
        if (p->sub[i].type)
            json_object_set_new(s, "type", json_string(p->sub[i].type));
        if (p->sub[i].detail)
            json_object_set_new(s, "detail", json_string(p->sub[i].detail));
        if (p->sub[i].id_type)
            json_object_set_new(id, "type", json_string(p->sub[i].id_type));
        if (p->sub[i].id_value)
            json_object_set_new(id, "value", json_string(p->sub[i].id_value));
        json_object_set_new(s, "identifier", id);
        json_array_append_new(subs, s);
    }
    json_object_set(o, "subproblems", subs);
    out = Leec_problem_from_json(o, p->status, p->retry_after);
out:
    json_decref(subs);
    json_decref(o);
    return out;
}

bool Leec_problem_is(const leec_problem *p, const char *name)
{
    size_t pl = strlen(LEEC_ACME_ERR);
    return p && p->type && strncmp(p->type, LEEC_ACME_ERR, pl) == 0 &&
           strcmp(p->type + pl, name) == 0;
}
