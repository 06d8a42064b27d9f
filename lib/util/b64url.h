/* base64url without padding (RFC 4648 §5, RFC 7515 §2). */
#ifndef LEEC_B64URL_H
#define LEEC_B64URL_H

#include <stdbool.h>
#include <stddef.h>

#include "leec/leec.h"

/* Encodes len bytes; returns a malloc'd NUL-terminated string or NULL (OOM). */
char *Leec_b64url_encode(const void *data, size_t len);

/* Strict decode: only the url-safe alphabet, no padding, no whitespace, no
 * impossible trailing bits. *out is malloc'd (caller frees).
 * LEEC_E_INVALID_ARG on bad input, LEEC_E_NOMEM. */
leec_code Leec_b64url_decode(const char *s, size_t slen, unsigned char **out,
                             size_t *outlen);

/* True if s is a non-empty base64url string of at most max characters
 * (used to validate ACME tokens before they reach a path or a URL). */
bool Leec_b64url_valid(const char *s, size_t max);

/* The longest ACME challenge token taken, anywhere (the agent, the http-01
 * responder and token table, webroot files, the store): RFC 8555 tokens
 * carry 128 bits (22 characters); 256 leaves room for CAs that send more
 * and still bounds a file name or a URL path. */
#define LEEC_TOKEN_MAX 256

/* True if s is a token leec takes: base64url, 1 to LEEC_TOKEN_MAX
 * characters. */
bool Leec_token_valid(const char *s);

#endif
