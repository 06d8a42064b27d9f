/* Text from outside (a CA, a DNS server, curl) made safe to print. */
#ifndef LEEC_TEXT_H
#define LEEC_TEXT_H

#include <stddef.h>

/* Makes n bytes of text safe for a terminal or a log, in place: C0
 * controls, DEL, C1 controls (U+0080-U+009F, as UTF-8 or as raw bytes) and
 * every byte that is not part of valid UTF-8 become '?'. Returns how many
 * bytes it replaced. */
size_t Leec_text_clean(char *s, size_t n);

#endif
