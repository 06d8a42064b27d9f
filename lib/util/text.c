#include "util/text.h"

#include <stdbool.h>

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
