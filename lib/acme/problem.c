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

static char *dup_member(const leec_json *obj, const char *key)
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

leec_problem *Leec_problem_from_json(const leec_json *obj, long status,
                                     long retry_after)
{
    if (!Leec_json_is_object(obj))
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
    const leec_json *subs = Leec_json_array(obj, "subproblems");
    size_t n = Leec_json_len(subs);
    if (n > PROBLEM_SUB_MAX)
        n = PROBLEM_SUB_MAX;
    if (n) {
        leec_subproblem *sub = calloc(n, sizeof *sub);
        if (!sub)
            goto fail;
        p->sub = sub;
        for (size_t i = 0; i < n; i++) {
            const leec_json *s = Leec_json_at(subs, i);
            if (!Leec_json_is_object(s))
                continue;
            const leec_json *id = Leec_json_object(s, "identifier");
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

/* The strings were cleaned and bounded when the problem was made: copied
 * as they are. */
static bool dup_str(const char *s, const char **out)
{
    *out = s ? strdup(s) : NULL;
    return !s || *out;
}

leec_problem *Leec_problem_dup(const leec_problem *p)
{
    if (!p)
        return NULL;
    leec_problem *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->status = p->status;
    d->retry_after = p->retry_after;
    if (!dup_str(p->type, &d->type) || !dup_str(p->detail, &d->detail))
        goto fail;
    if (p->nsub) {
        leec_subproblem *sub = calloc(p->nsub, sizeof *sub);
        if (!sub)
            goto fail;
        d->sub = sub;
        for (size_t i = 0; i < p->nsub; i++) {
            d->nsub++;
            if (!dup_str(p->sub[i].type, &sub[i].type) ||
                !dup_str(p->sub[i].detail, &sub[i].detail) ||
                !dup_str(p->sub[i].id_type, &sub[i].id_type) ||
                !dup_str(p->sub[i].id_value, &sub[i].id_value))
                goto fail;
        }
    }
    return d;
fail:
    Leec_problem_free(d);
    return NULL;
}

bool Leec_problem_is(const leec_problem *p, const char *name)
{
    size_t pl = strlen(LEEC_ACME_ERR);
    return p && p->type && strncmp(p->type, LEEC_ACME_ERR, pl) == 0 &&
           strcmp(p->type + pl, name) == 0;
}
