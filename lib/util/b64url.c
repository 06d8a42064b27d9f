#include "util/b64url.h"

#include <stdint.h>
#include <stdlib.h>

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Value of one url-safe character, or -1. Written out rather than a table so
 * that no locale or character set assumption sneaks in. */
static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

char *Leec_b64url_encode(const void *data, size_t len)
{
    const unsigned char *in = data;
    char *out = NULL;
    size_t olen = 0;
    size_t i = 0;
    size_t o = 0;

    /* 4 characters per 3 bytes, rounded up, without padding. */
    if (len > (SIZE_MAX - 1) / 4 * 3)
        return NULL;
    olen = len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0);
    out = malloc(olen + 1);
    if (!out)
        return NULL;

    for (i = 0; i + 3 <= len; i += 3) {
        uint32_t v =
            (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64url_alphabet[v >> 18 & 63];
        out[o++] = b64url_alphabet[v >> 12 & 63];
        out[o++] = b64url_alphabet[v >> 6 & 63];
        out[o++] = b64url_alphabet[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = b64url_alphabet[v >> 18 & 63];
        out[o++] = b64url_alphabet[v >> 12 & 63];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64url_alphabet[v >> 18 & 63];
        out[o++] = b64url_alphabet[v >> 12 & 63];
        out[o++] = b64url_alphabet[v >> 6 & 63];
    }
    out[o] = '\0';
    return out;
}

leec_code Leec_b64url_decode(const char *s, size_t slen, unsigned char **out,
                             size_t *outlen)
{
    leec_code rc = LEEC_E_INVALID_ARG;
    unsigned char *buf = NULL;
    size_t rem = slen % 4;
    size_t blen = 0;
    size_t i = 0;
    size_t o = 0;
    uint32_t acc = 0;
    int nacc = 0;

    if (!out || !outlen || (!s && slen))
        return LEEC_E_INVALID_ARG;
    *out = NULL;
    *outlen = 0;
    /* A single leftover character carries only 6 bits: never a whole byte. */
    if (rem == 1)
        goto out;
    blen = slen / 4 * 3 + (rem ? rem - 1 : 0);
    buf = malloc(blen ? blen : 1);
    if (!buf) {
        rc = LEEC_E_NOMEM;
        goto out;
    }
    for (i = 0; i < slen; i++) {
        int v = b64url_value((unsigned char)s[i]);
        if (v < 0)
            goto out;
        acc = acc << 6 | (uint32_t)v;
        nacc += 6;
        if (nacc >= 8) {
            nacc -= 8;
            buf[o++] = (unsigned char)(acc >> nacc & 0xff);
        }
    }
    /* Leftover bits must be zero, else two encodings would decode to the
     * same bytes and signatures could be malleable. */
    if (nacc > 0 && (acc & ((1u << nacc) - 1)) != 0)
        goto out;
    *out = buf;
    *outlen = o;
    buf = NULL;
    rc = LEEC_OK;
out:
    free(buf);
    return rc;
}

bool Leec_b64url_valid(const char *s, size_t max)
{
    size_t i = 0;

    if (!s || !*s)
        return false;
    /* RFC 8555 §8.3 constrains tokens to the alphabet only, so no length or
     * trailing-bit rules here: this guards paths and URLs. */
    for (i = 0; s[i]; i++) {
        if (i >= max || b64url_value((unsigned char)s[i]) < 0)
            return false;
    }
    return true;
}

bool Leec_token_valid(const char *s)
{
    return Leec_b64url_valid(s, LEEC_TOKEN_MAX);
}
