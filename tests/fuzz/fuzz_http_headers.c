/* The header section of a response, as the transport receives it: one
 * line at a time (each with its CRLF, as curl hands them over) into
 * Leec_http_header_line, then what request.c and the agent take from the
 * result: Retry-After as seconds, Replay-Nonce into the nonce pool, the
 * Location and Link URLs. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net/http.h"
#include "engine/internal.h"
#include "acme/retry.h"

#define NOW ((time_t)1767225600) /* 2026-01-01, so runs repeat */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    leec_http_resp resp;
    memset(&resp, 0, sizeof resp);
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl + 1 - p) : (size_t)(end - p);
        Leec_http_header_line(&resp, p, n);
        p += n;
    }
    (void)Leec_retry_after_seconds(resp.retry_after, NOW);
    (void)Leec_url_ok(resp.location);
    for (size_t i = 0; i < resp.nlinks; i++)
        (void)(Leec_url_ok(resp.links[i].url) &&
               strcmp(resp.links[i].rel, "alternate") == 0);
    leec_nonce_pool pool = {0};
    Leec_nonce_put(&pool, resp.replay_nonce);
    char *nonce = Leec_nonce_take(&pool);
    free(nonce);
    Leec_nonce_clear(&pool);
    Leec_http_resp_clear(&resp);
    return 0;
}
