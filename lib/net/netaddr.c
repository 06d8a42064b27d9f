/* Listening addresses given by the admin: "[ADDR:]PORT". */
#define _GNU_SOURCE
#include "net/netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
leec_code Leec_parse_listen_addr(const char *addr, struct sockaddr_storage *ss,
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

/* A listening socket, or -1 with errno set. v6only: for an AF_INET6
 * address, whether IPv4 is refused. */
static int listen_on(const struct sockaddr *sa, socklen_t len, bool v6only,
                     int backlog)
{
    int fd =
        socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    int v6 = v6only ? 1 : 0;
    int saved = 0;

    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        goto fail;
    if (sa->sa_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6, sizeof v6) != 0)
        goto fail;
    if (bind(fd, sa, len) != 0 || listen(fd, backlog) != 0)
        goto fail;
    return fd;

fail:
    saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

leec_code Leec_listen_open(const struct sockaddr_storage *ss, socklen_t len,
                           uint16_t port, int backlog, int *fd)
{
    struct sockaddr_in6 any6;
    struct sockaddr_in any4;

    if (len > 0) {
        *fd = listen_on((const struct sockaddr *)ss, len, true, backlog);
    } else {
        /* Bare port: dual-stack; IPv4 only on hosts without IPv6. */
        memset(&any6, 0, sizeof any6);
        any6.sin6_family = AF_INET6;
        any6.sin6_addr = in6addr_any;
        any6.sin6_port = htons(port);
        *fd = listen_on((const struct sockaddr *)&any6, sizeof any6, false,
                        backlog);
        if (*fd < 0 && errno != EADDRINUSE && errno != EACCES) {
            memset(&any4, 0, sizeof any4);
            any4.sin_family = AF_INET;
            any4.sin_addr.s_addr = htonl(INADDR_ANY);
            any4.sin_port = htons(port);
            *fd = listen_on((const struct sockaddr *)&any4, sizeof any4, false,
                            backlog);
        }
    }
    if (*fd >= 0)
        return LEEC_OK;
    return errno == EADDRINUSE ? LEEC_E_ADDR_IN_USE : LEEC_E_IO;
}
