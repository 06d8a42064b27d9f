/* Just enough DER (X.690) to walk a certificate's TBSCertificate to its
 * serial number and validity (RFC 5280 §4.1). Strict: definite minimal
 * lengths, the expected tags in order, times with seconds and 'Z'. Used on
 * certificates leec stored itself after checking them, for speed. */
#define _GNU_SOURCE /* timegm, memmem */
#include "crypto/der.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/b64url.h"

#define TAG_INTEGER  0x02
#define TAG_UTCTIME  0x17
#define TAG_GENTIME  0x18
#define TAG_SEQUENCE 0x30
#define TAG_VERSION  0xa0 /* [0] EXPLICIT, constructed */

/* One TLV at *p (before end): its tag and value; *p moves past it. */
static bool tlv(const unsigned char **p, const unsigned char *end,
                unsigned char *tag, const unsigned char **val, size_t *vlen)
{
    const unsigned char *q = *p;
    if (end - q < 2)
        return false;
    *tag = *q++;
    size_t n = *q++;
    if (n & 0x80) {
        size_t k = n & 0x7f;
        if (k == 0 || k > 4 || (size_t)(end - q) < k || *q == 0)
            return false; /* indefinite, too long, or not minimal */
        n = 0;
        for (size_t i = 0; i < k; i++)
            n = n << 8 | *q++;
        if (n < 0x80)
            return false;
    }
    if ((size_t)(end - q) < n)
        return false;
    *val = q;
    *vlen = n;
    *p = q + n;
    return true;
}

static bool digits(const unsigned char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* UTCTime YYMMDDHHMMSSZ (YY < 50: 20YY) or GeneralizedTime
 * YYYYMMDDHHMMSSZ, as RFC 5280 §4.1.2.5 has them. */
static bool der_time(unsigned char tag, const unsigned char *s, size_t n,
                     time_t *out)
{
    struct tm tm;
    int y = 0;
    memset(&tm, 0, sizeof tm);
    size_t yl = tag == TAG_UTCTIME ? 2 : tag == TAG_GENTIME ? 4 : 0;
    if (!yl || n != yl + 11 || s[n - 1] != 'Z' || !digits(s, yl, &y) ||
        !digits(s + yl, 2, &tm.tm_mon) || !digits(s + yl + 2, 2, &tm.tm_mday) ||
        !digits(s + yl + 4, 2, &tm.tm_hour) ||
        !digits(s + yl + 6, 2, &tm.tm_min) ||
        !digits(s + yl + 8, 2, &tm.tm_sec))
        return false;
    if (yl == 2)
        y += y < 50 ? 2000 : 1900;
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return false;
    tm.tm_year = y - 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return false;
    *out = t;
    return true;
}

leec_code Leec_der_cert_basics(const unsigned char *der, size_t len,
                               time_t *not_before, time_t *not_after,
                               char **serial)
{
    const unsigned char *p = der, *end = der + len, *v = NULL;
    const unsigned char *sn = NULL, *vend = NULL;
    unsigned char tag = 0;
    size_t n = 0, snlen = 0;
    *serial = NULL;
    /* Certificate, TBSCertificate, [version], serialNumber, signature,
     * issuer, validity. */
    if (!tlv(&p, end, &tag, &v, &n) || tag != TAG_SEQUENCE)
        return LEEC_E_INVALID_ARG;
    p = v;
    end = v + n;
    if (!tlv(&p, end, &tag, &v, &n) || tag != TAG_SEQUENCE)
        return LEEC_E_INVALID_ARG;
    p = v;
    end = v + n;
    if (!tlv(&p, end, &tag, &v, &n))
        return LEEC_E_INVALID_ARG;
    if (tag == TAG_VERSION && !tlv(&p, end, &tag, &v, &n))
        return LEEC_E_INVALID_ARG;
    if (tag != TAG_INTEGER || n == 0 || (v[0] & 0x80))
        return LEEC_E_INVALID_ARG; /* serials are positive */
    sn = v;
    snlen = n;
    for (int i = 0; i < 2; i++) /* signature, issuer */
        if (!tlv(&p, end, &tag, &v, &n) || tag != TAG_SEQUENCE)
            return LEEC_E_INVALID_ARG;
    if (!tlv(&p, end, &tag, &v, &n) || tag != TAG_SEQUENCE)
        return LEEC_E_INVALID_ARG;
    p = v;
    vend = v + n;
    if (!tlv(&p, vend, &tag, &v, &n) || !der_time(tag, v, n, not_before) ||
        !tlv(&p, vend, &tag, &v, &n) || !der_time(tag, v, n, not_after) ||
        p != vend)
        return LEEC_E_INVALID_ARG;
    /* The magnitude: without the sign byte(s) a positive INTEGER starts
     * with; "0" for zero, as BN_bn2hex says it. */
    while (snlen > 1 && sn[0] == 0) {
        sn++;
        snlen--;
    }
    if (snlen == 1 && sn[0] == 0)
        return (*serial = strdup("0")) ? LEEC_OK : LEEC_E_NOMEM;
    if (!(*serial = malloc(snlen * 2 + 1)))
        return LEEC_E_NOMEM;
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < snlen; i++) {
        (*serial)[2 * i] = hex[sn[i] >> 4];
        (*serial)[2 * i + 1] = hex[sn[i] & 15];
    }
    (*serial)[snlen * 2] = '\0';
    return LEEC_OK;
}

/* The PEM body as base64url (the project's one base64 decoder, strict
 * about trailing bits): line breaks and padding dropped, '+' and '/'
 * mapped. */
static leec_code pem_body(const char *b, const char *e, unsigned char **der,
                          size_t *derlen)
{
    char *u = malloc((size_t)(e - b) + 1);
    if (!u)
        return LEEC_E_NOMEM;
    size_t n = 0, pad = 0;
    leec_code rc = LEEC_OK;
    for (const char *c = b; c < e && rc == LEEC_OK; c++) {
        if (*c == ' ' || *c == '\t' || *c == '\r' || *c == '\n')
            continue;
        if (*c == '=')
            pad++;
        else if (pad || *c == '-' || *c == '_') /* after padding; not PEM */
            rc = LEEC_E_INVALID_ARG;
        else
            u[n++] = *c == '+' ? '-' : *c == '/' ? '_' : *c;
    }
    if (rc == LEEC_OK && (pad > 2 || n == 0))
        rc = LEEC_E_INVALID_ARG;
    if (rc == LEEC_OK)
        rc = Leec_b64url_decode(u, n, der, derlen);
    free(u);
    return rc == LEEC_E_NOMEM ? rc : rc != LEEC_OK ? LEEC_E_INVALID_ARG : rc;
}

leec_code Leec_pem_der(const char *pem, size_t len, const char *label,
                       unsigned char **der, size_t *derlen)
{
    char begin[64], endm[64];
    *der = NULL;
    *derlen = 0;
    int nb = snprintf(begin, sizeof begin, "-----BEGIN %s-----", label);
    int ne = snprintf(endm, sizeof endm, "-----END %s-----", label);
    if (nb < 0 || ne < 0 || (size_t)nb >= sizeof begin ||
        (size_t)ne >= sizeof endm)
        return LEEC_E_INVALID_ARG;
    const char *b = memmem(pem, len, begin, (size_t)nb);
    if (!b)
        return LEEC_E_INVALID_ARG;
    b += nb;
    const char *e = memmem(b, len - (size_t)(b - pem), endm, (size_t)ne);
    if (!e)
        return LEEC_E_INVALID_ARG;
    return pem_body(b, e, der, derlen);
}

leec_code Leec_pem_cert_der(const char *pem, size_t len, unsigned char **der,
                            size_t *derlen)
{
    return Leec_pem_der(pem, len, "CERTIFICATE", der, derlen);
}

bool Leec_pem_key_plausible(const char *pem, size_t len)
{
    static const char *const labels[] = {"PRIVATE KEY", "EC PRIVATE KEY",
                                         "RSA PRIVATE KEY"};
    for (size_t i = 0; i < sizeof labels / sizeof *labels; i++) {
        unsigned char *der = NULL;
        size_t n = 0;
        if (Leec_pem_der(pem, len, labels[i], &der, &n) != LEEC_OK)
            continue;
        /* One DER SEQUENCE, exactly the whole body. */
        const unsigned char *p = der;
        const unsigned char *v = NULL;
        unsigned char tag = 0;
        size_t vlen = 0;
        bool ok = tlv(&p, der + n, &tag, &v, &vlen) && tag == TAG_SEQUENCE &&
                  p == der + n && vlen > 0;
        explicit_bzero(der, n);
        free(der);
        return ok;
    }
    return false;
}
