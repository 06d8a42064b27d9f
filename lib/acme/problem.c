#define _GNU_SOURCE
#include "acme/problem.h"

#include <stdlib.h>
#include <string.h>

#include "util/json.h"

#define PROBLEM_STR_MAX 1024
#define PROBLEM_SUB_MAX 100 /* enough for an order of 100 names */

/* The length of the UTF-8 sequence at s (at most n bytes) when it is a
 * valid, shortest-form encoding of a code point that is neither a C1
 * control (U+0080-U+009F) nor a surrogate; else 0. */
static size_t utf8_ok(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len = c >= 0xf0 && c <= 0xf4   ? 4
                 : c >= 0xe0 && c <= 0xef ? 3
                 : c >= 0xc2 && c <= 0xdf ? 2
                                          : 0;
    if (!len || len > n)
        return 0;
    unsigned cp = c & (0xff >> (len + 1));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
        return 0;
    return len;
}

size_t Leec_text_clean(char *s, size_t n)
{
    size_t changed = 0;
    unsigned char *p = (unsigned char *)s;
    for (size_t i = 0; i < n;) {
        if (p[i] >= 0x20 && p[i] < 0x7f) {
            i++;
            continue;
        }
        size_t k = p[i] >= 0x80 ? utf8_ok(p + i, n - i) : 0;
        if (k) {
            i += k;
            continue;
        }
        /* C0, DEL, a C1 control, or a byte that is no UTF-8: a terminal
         * must never take it for a control sequence. */
        p[i++] = '?';
        changed++;
    }
    return changed;
}

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
