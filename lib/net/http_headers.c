/* The response headers leec reads, from the lines as the transport hands
 * them over. Kept apart from http.c so that it holds no curl: the fuzzer
 * (tests/fuzz/fuzz_http_headers.c) and the fake transports feed it bytes
 * directly. */
#define _GNU_SOURCE
#include "net/http.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void Leec_http_resp_clear(leec_http_resp *r)
{
    free(r->errmsg);
    Leec_buf_free(&r->body);
    free(r->content_type);
    free(r->location);
    free(r->replay_nonce);
    free(r->retry_after);
    for (size_t i = 0; i < r->nlinks; i++) {
        free(r->links[i].url);
        free(r->links[i].rel);
    }
    free(r->links);
}

static char *trimmed_dup(const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    return strndup(s, n);
}

/* Link: <url>;rel="up", <url2>;rel="alternate" (RFC 8288). */
static void parse_links(leec_http_resp *resp, const char *v, size_t n)
{
    const char *end = v + n;
    while (v < end && resp->nlinks < LEEC_HTTP_LINKS_MAX) {
        const char *lt = memchr(v, '<', (size_t)(end - v));
        if (!lt)
            return;
        const char *gt = memchr(lt, '>', (size_t)(end - lt));
        if (!gt)
            return;
        const char *next = memchr(gt, ',', (size_t)(end - gt));
        const char *stop = next ? next : end;
        const char *rel = NULL;
        size_t rel_len = 0;
        for (const char *p = gt + 1; p + 4 <= stop; p++) {
            if (strncasecmp(p, "rel=", 4) == 0) {
                rel = p + 4;
                while (rel < stop && *rel == '"')
                    rel++;
                const char *re = rel;
                while (re < stop && *re != '"' && *re != ';' &&
                       !isspace((unsigned char)*re))
                    re++;
                rel_len = (size_t)(re - rel);
                break;
            }
        }
        if (rel) {
            leec_http_link *nl =
                realloc(resp->links, (resp->nlinks + 1) * sizeof *nl);
            if (!nl)
                return;
            resp->links = nl;
            nl[resp->nlinks].url = strndup(lt + 1, (size_t)(gt - lt - 1));
            nl[resp->nlinks].rel = strndup(rel, rel_len);
            if (!nl[resp->nlinks].url || !nl[resp->nlinks].rel) {
                free(nl[resp->nlinks].url);
                free(nl[resp->nlinks].rel);
                return;
            }
            resp->nlinks++;
        }
        if (!next)
            return;
        v = next + 1;
    }
}

void Leec_http_header_line(leec_http_resp *resp, const char *ptr, size_t n)
{
    if (n > LEEC_HTTP_HEADER_MAX)
        return; /* ignored, not fatal: none we read is that long */
    if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
        /* A new response (after 100-continue or a redirect): start over. */
        free(resp->content_type);
        free(resp->location);
        free(resp->replay_nonce);
        free(resp->retry_after);
        resp->content_type = resp->location = NULL;
        resp->replay_nonce = resp->retry_after = NULL;
        return;
    }
    const char *colon = memchr(ptr, ':', n);
    if (!colon)
        return;
    size_t klen = (size_t)(colon - ptr);
    const char *v = colon + 1;
    size_t vlen = n - klen - 1;
    char **slot = NULL;
    if (klen == 12 && strncasecmp(ptr, "Content-Type", 12) == 0) {
        size_t m = 0;
        while (m < vlen && v[m] != ';')
            m++;
        free(resp->content_type);
        resp->content_type = trimmed_dup(v, m);
        if (resp->content_type)
            for (char *p = resp->content_type; *p; p++)
                *p = (char)tolower((unsigned char)*p);
        return;
    }
    if (klen == 8 && strncasecmp(ptr, "Location", 8) == 0)
        slot = &resp->location;
    else if (klen == 12 && strncasecmp(ptr, "Replay-Nonce", 12) == 0)
        slot = &resp->replay_nonce;
    else if (klen == 11 && strncasecmp(ptr, "Retry-After", 11) == 0)
        slot = &resp->retry_after;
    else if (klen == 4 && strncasecmp(ptr, "Link", 4) == 0)
        parse_links(resp, v, vlen);
    if (slot) {
        free(*slot);
        *slot = trimmed_dup(v, vlen);
    }
}
