/* Listening addresses given by the admin: "[ADDR:]PORT". */
#define _GNU_SOURCE
#include "netaddr.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

/* "0".."65535", digits only. */
static bool parse_port(const char *s, uint16_t *port)
{
    unsigned long v = 0;
    size_t i = 0;

    if (!s || !*s)
        return false;
    for (i = 0; s[i]; i++) {
        if (s[i] < '0' || s[i] > '9' || i >= 5)
            return false;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > 65535)
        return false;
    *port = (uint16_t)v;
    return true;
}

/* Parses "PORT", "A.B.C.D:PORT" or "[V6]:PORT". *len is 0 for "PORT"
 * alone, meaning every address. Host names are not accepted: which
 * address they resolve to is the admin's decision, not ours. */
leec_code leec_parse_listen_addr(const char *addr, struct sockaddr_storage *ss,
                            socklen_t *len, uint16_t *port)
{
    leec_code rc = LEEC_E_INVALID_ARG;
    char *host = NULL;
    const char *colon = NULL;

    memset(ss, 0, sizeof *ss);
    *len = 0;
    if (!addr || !*addr)
        goto out;

    if (addr[0] == '[') {
        const char *end = strchr(addr, ']');
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        if (!end || end[1] != ':' || !parse_port(end + 2, port))
            goto out;
        host = strndup(addr + 1, (size_t)(end - addr - 1));
        if (!host) {
            rc = LEEC_E_NOMEM;
            goto out;
        }
        if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
            goto out;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(*port);
        *len = sizeof *sin6;
    } else if ((colon = strchr(addr, ':')) != NULL) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        if (!parse_port(colon + 1, port))
            goto out;
        host = strndup(addr, (size_t)(colon - addr));
        if (!host) {
            rc = LEEC_E_NOMEM;
            goto out;
        }
        if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
            goto out;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(*port);
        *len = sizeof *sin;
    } else if (!parse_port(addr, port)) {
        goto out;
    }
    rc = LEEC_OK;

out:
    free(host);
    return rc;
}

