/* dns-persist-01 records (draft-ietf-acme-dns-persist-01): see persist.h. */
#define _GNU_SOURCE
#include "acme/persist.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Bytes of a record's value looked at: a TXT record of a few strings. */
#define VALUE_MAX 4096

bool Leec_persist_issuer_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0, label = 0;
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i <= n; i++) {
        char c = name[i];
        if (c == '.' || c == '\0') {
            /* Labels of 1 to 63, not starting or ending with '-'. */
            if (label == 0 || label > 63 || name[i - label] == '-' ||
                name[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
        label++;
    }
    return true;
}

/* RFC 8659's value: %x21-3A / %x3C-7E (no space, no ';'). */
static bool value_char(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e && c != ';';
}

leec_code Leec_persist_value(const char *issuer, const char *account_uri,
                             bool wildcard, int64_t until, char **out)
{
    char until_s[48] = "";
    *out = NULL;
    if (!Leec_persist_issuer_ok(issuer) || !account_uri || !*account_uri)
        return LEEC_E_INVALID_ARG;
    /* Nor quotes or backslashes: the value goes into zone files. */
    for (const char *p = account_uri; *p; p++)
        if (!value_char((unsigned char)*p) || *p == '"' || *p == '\\')
            return LEEC_E_INVALID_ARG;
    if (until > 0)
        (void)snprintf(until_s, sizeof until_s, "; persistUntil=%" PRId64,
                       until);
    if (asprintf(out, "%s; accounturi=%s%s%s", issuer, account_uri,
                 wildcard ? "; policy=wildcard" : "", until_s) < 0) {
        *out = NULL;
        return LEEC_E_NOMEM;
    }
    return LEEC_OK;
}

void Leec_persist_rec_clear(leec_persist_rec *r)
{
    free(r->issuer);
    free(r->accounturi);
    memset(r, 0, sizeof *r);
}

static leec_code bad(leec_persist_rec *r, const char *why)
{
    r->why = why;
    return LEEC_E_PROTOCOL;
}

static bool wsp(char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 8659's tag: (ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT)). */
static bool tag_ok(const char *t, size_t n)
{
    if (n == 0 || !isalnum((unsigned char)t[0]) ||
        !isalnum((unsigned char)t[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)t[i]) && t[i] != '-')
            return false;
    return true;
}

static bool tag_is(const char *t, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(t, name, n) == 0;
}

/* One "tag = value" parameter (blanks around it already skipped). */
static leec_code take_param(leec_persist_rec *r, const char *p, size_t n,
                            unsigned *seen)
{
    const char *eq = memchr(p, '=', n);
    if (!eq)
        return bad(r, "a parameter without '='");
    size_t tl = (size_t)(eq - p), vs = tl + 1, vl;
    while (tl && wsp(p[tl - 1]))
        tl--;
    while (vs < n && wsp(p[vs]))
        vs++;
    vl = n - vs;
    if (!tag_ok(p, tl))
        return bad(r, "a parameter tag of forbidden characters");
    for (size_t i = 0; i < vl; i++)
        if (!value_char((unsigned char)p[vs + i]))
            return bad(r, "a parameter value of forbidden characters");
    const char *v = p + vs;
    unsigned bit = 0;
    if (tag_is(p, tl, "accounturi")) {
        bit = 1;
        if (!(*seen & bit) && !(r->accounturi = strndup(v, vl)))
            return LEEC_E_NOMEM;
    } else if (tag_is(p, tl, "policy")) {
        bit = 2;
        /* Another policy than wildcard grants nothing more. */
        r->wildcard = vl == 8 && strncasecmp(v, "wildcard", 8) == 0;
    } else if (tag_is(p, tl, "persistUntil")) {
        bit = 4;
        int64_t t = 0;
        if (vl == 0 || vl > 18)
            return bad(r, "persistUntil is not a time in seconds");
        for (size_t i = 0; i < vl; i++) {
            if (v[i] < '0' || v[i] > '9')
                return bad(r, "persistUntil is not a time in seconds");
            t = t * 10 + (v[i] - '0');
        }
        r->until = t;
    }
    /* Unknown tags are extensions: ignored, as the draft asks. */
    if (bit && (*seen & bit))
        return bad(r, "a parameter given twice");
    *seen |= bit;
    return LEEC_OK;
}

leec_code Leec_persist_parse(const char *value, size_t n, leec_persist_rec *r)
{
    leec_code rc;
    unsigned seen = 0;
    size_t i = 0, s;

    memset(r, 0, sizeof *r);
    if (!value || n > VALUE_MAX)
        return bad(r, "too long");
    if (memchr(value, '\0', n))
        return bad(r, "a NUL byte");
    while (i < n && wsp(value[i]))
        i++;
    s = i;
    while (i < n && !wsp(value[i]) && value[i] != ';')
        i++;
    if (i == s)
        return bad(r, "no issuer domain name");
    if (!(r->issuer = strndup(value + s, i - s)))
        return LEEC_E_NOMEM;
    for (char *p = r->issuer; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    size_t il = strlen(r->issuer);
    if (il && r->issuer[il - 1] == '.')
        r->issuer[il - 1] = '\0';
    if (!Leec_persist_issuer_ok(r->issuer))
        return bad(r, "the issuer is not a domain name");
    while (i < n && wsp(value[i]))
        i++;
    if (i == n)
        return LEEC_OK;
    if (value[i] != ';')
        return bad(r, "text after the issuer domain name");
    i++;
    for (;;) {
        while (i < n && wsp(value[i]))
            i++;
        s = i;
        while (i < n && value[i] != ';')
            i++;
        size_t e = i;
        while (e > s && wsp(value[e - 1]))
            e--;
        if (e == s) {
            /* "issuer;" alone is allowed; an empty parameter is not. */
            if (i == n && seen == 0)
                return LEEC_OK;
            return bad(r, "an empty parameter");
        }
        if ((rc = take_param(r, value + s, e - s, &seen)) != LEEC_OK)
            return rc;
        if (i == n)
            return LEEC_OK;
        i++; /* the ';' */
    }
}

bool Leec_persist_matches(const leec_persist_rec *r, const char *const *issuers,
                          size_t n, const char *account_uri, bool wildcard,
                          int64_t now, const char **why)
{
    bool issuer = false;
    for (size_t i = 0; i < n && !issuer; i++)
        issuer = issuers[i] && strcasecmp(r->issuer, issuers[i]) == 0;
    if (!issuer)
        *why = "for another CA";
    else if (!r->accounturi || !account_uri ||
             strcmp(r->accounturi, account_uri) != 0)
        *why = "for another account";
    else if (wildcard && !r->wildcard)
        *why = "without policy=wildcard, needed for a wildcard or a subdomain";
    else if (r->until && r->until < now)
        *why = "past its persistUntil";
    else
        return true;
    return false;
}
