#define _GNU_SOURCE
#include "util/names.h"

#include <arpa/inet.h>
#include <libpsl.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NAME_MAX_LEN 200 /* a store name */

bool Leec_name_is_ip(const char *s)
{
    unsigned char b[16];
    return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

bool Leec_dns_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return false;
    if (s[0] == '*') {
        if (s[1] != '.')
            return false;
        s += 2;
    }
    size_t label = 0;
    char prev = '.';
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (c == '.') {
            if (label == 0 || prev == '-')
                return false;
            label = 0;
        } else if (isalnum((unsigned char)c) || c == '-' || c == '_') {
            if ((label == 0 && c == '-') || ++label > 63)
                return false;
        } else {
            return false;
        }
        prev = c;
    }
    if (label == 0 || prev == '-')
        return false;
    /* The last label never all digits (RFC 3696 §2: no top-level domain
     * is): "127.000.000.001", "2130706433" or "1.2.3.04" are addresses in
     * another spelling, not host names. */
    const char *last = strrchr(s, '.');
    last = last ? last + 1 : s;
    return strspn(last, "0123456789") != strlen(last);
}

char *Leec_name_store_default(const char *ident)
{
    unsigned char b[16];
    if (inet_pton(AF_INET6, ident, b) != 1)
        return strdup(ident);
    /* An IPv6 address's store name: its eight groups, '-' between them
     * (a store name has no ':'): ::1 is 0-0-0-0-0-0-0-1. */
    char out[8 * 5];
    size_t w = 0;
    for (int g = 0; g < 8; g++)
        w += (size_t)snprintf(out + w, sizeof out - w, "%s%x", g ? "-" : "",
                              (unsigned)(b[2 * g] << 8 | b[2 * g + 1]));
    return strdup(out);
}

void Leec_names_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

leec_code Leec_names_normalize(const char *const *in, size_t n, size_t max,
                               char ***out, size_t *nout, size_t *bad)
{
    *out = NULL;
    *nout = 0;
    if (!in || n == 0 || n > max)
        return LEEC_E_INVALID_ARG;
    char **v = calloc(n, sizeof *v);
    size_t k = 0;
    if (!v)
        return LEEC_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        char *s = in[i] ? strdup(in[i]) : NULL;
        if (!s) {
            Leec_names_free(v, k);
            if (bad)
                *bad = i;
            return in[i] ? LEEC_E_NOMEM : LEEC_E_BAD_NAME;
        }
        for (char *p = s; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        size_t len = strlen(s);
        if (len > 1 && s[len - 1] == '.') /* "example.com." is the same */
            s[len - 1] = '\0';
        if (!Leec_name_is_ip(s) && !Leec_dns_name_ok(s)) {
            free(s);
            Leec_names_free(v, k);
            if (bad)
                *bad = i;
            return LEEC_E_BAD_NAME;
        }
        bool dup = false;
        for (size_t j = 0; j < k && !dup; j++)
            dup = strcmp(v[j], s) == 0;
        if (dup)
            free(s);
        else
            v[k++] = s;
    }
    *out = v;
    *nout = k;
    return LEEC_OK;
}

bool Leec_names_same(char *const *a, size_t na, char *const *b, size_t nb)
{
    if (na != nb)
        return false;
    /* Sets of at most 100 names: quadratic is fine and allocation-free. */
    for (size_t i = 0; i < na; i++) {
        bool found = false;
        for (size_t j = 0; j < nb && !found; j++)
            found = strcasecmp(a[i], b[j]) == 0;
        if (!found)
            return false;
    }
    for (size_t j = 0; j < nb; j++) {
        bool found = false;
        for (size_t i = 0; i < na && !found; i++)
            found = strcasecmp(a[i], b[j]) == 0;
        if (!found)
            return false;
    }
    return true;
}

char *Leec_registered_domain(const char *name)
{
    if (strncmp(name, "*.", 2) == 0)
        name += 2;
    if (Leec_name_is_ip(name))
        return strdup(name);
    /* The list compiled into libpsl: constant data, no global state. */
    const psl_ctx_t *psl = psl_builtin();
    const char *reg = psl ? psl_registrable_domain(psl, name) : NULL;
    if (!reg) {
        /* No list, or a name that is a public suffix itself: fall back to
         * the last two labels, the common case. */
        const char *last = strrchr(name, '.');
        reg = name;
        if (last) {
            const char *p = last;
            while (p > name && p[-1] != '.')
                p--;
            reg = p;
        }
    }
    return strdup(reg);
}

bool Leec_store_name_valid(const char *name)
{
    size_t i = 0;

    if (!name || name[0] == '\0' || name[0] == '.' || name[0] == '-')
        return false;
    for (i = 0; name[i]; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok || i >= NAME_MAX_LEN)
            return false;
    }
    return true;
}
