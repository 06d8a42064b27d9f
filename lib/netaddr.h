/* Listening addresses of the built-in responders (http-01, tls-alpn-01). */
#ifndef LEEC_NETADDR_H
#define LEEC_NETADDR_H

#include <stdint.h>
#include <sys/socket.h>

#include "leec/leec.h"

/* Parses "PORT", "A.B.C.D:PORT" or "[V6]:PORT" (numeric addresses only:
 * which address a host name means is the admin's decision). *len is 0 for
 * "PORT" alone, meaning every address. LEEC_E_INVALID_ARG, LEEC_E_NOMEM. */
leec_code leec_parse_listen_addr(const char *addr, struct sockaddr_storage *ss,
                                 socklen_t *len, uint16_t *port);

#endif
