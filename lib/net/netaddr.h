/* Listening addresses of the built-in responders (http-01, tls-alpn-01). */
#ifndef LEEC_NETADDR_H
#define LEEC_NETADDR_H

#include <stdint.h>
#include <sys/socket.h>

#include "leec/leec.h"

/* Parses "PORT", "A.B.C.D:PORT" or "[V6]:PORT" (numeric addresses only:
 * which address a host name means is the admin's decision). *len is 0 for
 * "PORT" alone, meaning every address. LEEC_E_INVALID_ARG, LEEC_E_NOMEM. */
leec_code Leec_parse_listen_addr(const char *addr, struct sockaddr_storage *ss,
                                 socklen_t *len, uint16_t *port);

/* A listening TCP socket (non-blocking, close-on-exec) for what
 * Leec_parse_listen_addr gave: the address, or with len 0 every address
 * (dual-stack; IPv4 only on hosts without IPv6). *fd, or -1 with
 * LEEC_E_ADDR_IN_USE (another program listens there), LEEC_E_IO (why in
 * errno: EACCES for a port below 1024 without the privilege, ...). */
leec_code Leec_listen_open(const struct sockaddr_storage *ss, socklen_t len,
                           uint16_t port, int backlog, int *fd);

#endif
