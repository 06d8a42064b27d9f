#define _GNU_SOURCE
#include "util/json.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

/* leec_json is never defined: a handle is a json_t seen from outside. */
#define J(x)  ((json_t *)(x))
#define CJ(x) ((const json_t *)(x))
#define L(x)  ((leec_json *)(x))

static json_t *load(const char *data, size_t len, size_t flags)
{
    json_error_t jerr;
    if (!data || len > LEEC_JSON_MAX_TEXT)
        return NULL;
    return json_loadb(data, len, flags | JSON_REJECT_DUPLICATES, &jerr);
}

leec_code Leec_json_parse_object(const char *data, size_t len, leec_json **out)
{
    *out = NULL;
    json_t *j = load(data, len, 0);
    if (!j)
        return LEEC_E_JSON;
    if (!json_is_object(j)) {
        json_decref(j);
        return LEEC_E_JSON;
    }
    *out = L(j);
    return LEEC_OK;
}

leec_json *Leec_json_parse_any(const char *data, size_t len)
{
    return L(load(data, len, JSON_DECODE_ANY));
}

void Leec_json_free(leec_json *j)
{
    json_decref(J(j));
}

leec_json *Leec_json_ref(leec_json *j)
{
    return L(json_incref(J(j)));
}

bool Leec_json_is_object(const leec_json *v)
{
    return json_is_object(CJ(v));
}

bool Leec_json_is_array(const leec_json *v)
{
    return json_is_array(CJ(v));
}

const leec_json *Leec_json_get(const leec_json *obj, const char *key)
{
    return json_is_object(CJ(obj)) ? L(json_object_get(CJ(obj), key)) : NULL;
}

const char *Leec_json_str(const leec_json *obj, const char *key)
{
    return Leec_json_as_str(Leec_json_get(obj, key));
}

leec_code Leec_json_get_str(const leec_json *obj, const char *key,
                            bool required, const char **out)
{
    const json_t *v = CJ(Leec_json_get(obj, key));
    *out = NULL;
    if (!v || json_is_null(v))
        return required ? LEEC_E_PROTOCOL : LEEC_OK;
    if (!json_is_string(v))
        return LEEC_E_PROTOCOL;
    *out = json_string_value(v);
    return LEEC_OK;
}

const leec_json *Leec_json_array(const leec_json *obj, const char *key)
{
    const leec_json *v = Leec_json_get(obj, key);
    return json_is_array(CJ(v)) ? v : NULL;
}

const leec_json *Leec_json_object(const leec_json *obj, const char *key)
{
    const leec_json *v = Leec_json_get(obj, key);
    return json_is_object(CJ(v)) ? v : NULL;
}

bool Leec_json_int(const leec_json *obj, const char *key, long long *out)
{
    return Leec_json_as_int(Leec_json_get(obj, key), out);
}

int Leec_json_bool(const leec_json *obj, const char *key)
{
    const json_t *v = CJ(Leec_json_get(obj, key));
    return json_is_boolean(v) ? json_is_true(v) : -1;
}

const char *Leec_json_as_str(const leec_json *v)
{
    return json_is_string(CJ(v)) ? json_string_value(CJ(v)) : NULL;
}

bool Leec_json_as_int(const leec_json *v, long long *out)
{
    if (!json_is_integer(CJ(v)))
        return false;
    *out = (long long)json_integer_value(CJ(v));
    return true;
}

size_t Leec_json_len(const leec_json *v)
{
    if (json_is_array(CJ(v)))
        return json_array_size(CJ(v));
    return json_is_object(CJ(v)) ? json_object_size(CJ(v)) : 0;
}

const leec_json *Leec_json_at(const leec_json *arr, size_t i)
{
    return json_is_array(CJ(arr)) ? L(json_array_get(CJ(arr), i)) : NULL;
}

void Leec_json_each(const leec_json *obj, leec_json_each_fn fn, void *ud)
{
    const char *key;
    json_t *v;
    if (!json_is_object(CJ(obj)))
        return;
    json_object_foreach(J(obj), key, v)
    {
        if (!fn(ud, key, L(v)))
            return;
    }
}

leec_json *Leec_json_new_object(void)
{
    return L(json_object());
}

leec_json *Leec_json_new_array(void)
{
    return L(json_array());
}

bool Leec_json_set(leec_json *obj, const char *key, leec_json *v)
{
    if (!obj || !v) {
        json_decref(J(v));
        return false;
    }
    return json_object_set_new(J(obj), key, J(v)) == 0;
}

bool Leec_json_set_str(leec_json *obj, const char *key, const char *s)
{
    return s && Leec_json_set(obj, key, L(json_string(s)));
}

bool Leec_json_set_int(leec_json *obj, const char *key, long long i)
{
    return Leec_json_set(obj, key, L(json_integer((json_int_t)i)));
}

bool Leec_json_set_bool(leec_json *obj, const char *key, bool b)
{
    return Leec_json_set(obj, key, L(json_boolean(b)));
}

bool Leec_json_push(leec_json *arr, leec_json *v)
{
    if (!arr || !v) {
        json_decref(J(v));
        return false;
    }
    return json_array_append_new(J(arr), J(v)) == 0;
}

bool Leec_json_push_str(leec_json *arr, const char *s)
{
    return s && Leec_json_push(arr, L(json_string(s)));
}

char *Leec_json_dump(const leec_json *j, bool pretty)
{
    if (!j)
        return NULL;
    return json_dumps(CJ(j),
                      pretty ? JSON_INDENT(2) | JSON_SORT_KEYS : JSON_COMPACT);
}

/* Length of the UTF-8 sequence at s (1 to 4), or 0 when it is not one
 * jansson accepts (its utf8_check_first/utf8_check_full): no stray
 * continuation byte, no overlong form, no surrogate, nothing past
 * U+10FFFF. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n = 0;
    uint32_t v = 0;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        v = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        v = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        v = c & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0; /* the NUL that ends the string included */
        v = v << 6 | (s[i] & 0x3f);
    }
    if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff) || (n == 3 && v < 0x800) ||
        (n == 4 && v < 0x10000))
        return 0;
    return n;
}

leec_code Leec_json_append_string(leec_buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t start = b->len;
    leec_code rc = Leec_buf_append(b, "\"", 1);
    while (rc == LEEC_OK && *p) {
        /* The longest run that needs no escape, in one copy. */
        const unsigned char *run = p;
        size_t n = 0;
        while (*p && *p != '"' && *p != '\\' && *p >= 0x20 &&
               (n = utf8_len(p)) != 0)
            p += n;
        if (p > run)
            rc = Leec_buf_append(b, run, (size_t)(p - run));
        if (rc != LEEC_OK || !*p)
            break;
        if (*p >= 0x80) { /* not UTF-8 */
            b->len = start;
            b->data[start] = '\0';
            return LEEC_E_INVALID_ARG;
        }
        char esc[7];
        switch (*p) {
        case '"':
            memcpy(esc, "\\\"", 3);
            break;
        case '\\':
            memcpy(esc, "\\\\", 3);
            break;
        case '\b':
            memcpy(esc, "\\b", 3);
            break;
        case '\f':
            memcpy(esc, "\\f", 3);
            break;
        case '\n':
            memcpy(esc, "\\n", 3);
            break;
        case '\r':
            memcpy(esc, "\\r", 3);
            break;
        case '\t':
            memcpy(esc, "\\t", 3);
            break;
        default:
            snprintf(esc, sizeof esc, "\\u%04X", (unsigned)*p);
        }
        rc = Leec_buf_append_str(b, esc);
        p++;
    }
    if (rc == LEEC_OK)
        rc = Leec_buf_append(b, "\"", 1);
    if (rc != LEEC_OK && b->data) {
        b->len = start;
        b->data[start] = '\0';
    }
    return rc;
}
