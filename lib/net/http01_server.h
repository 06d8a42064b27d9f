/* The built-in http-01 responder (libmicrohttpd). It runs inside the
 * context's event loop: no thread of its own. */
#ifndef LEEC_SOLVER_HTTP01_H
#define LEEC_SOLVER_HTTP01_H

#include "leec/leec.h"

typedef struct leec_http01_server leec_http01_server;

/* Returns the key authorization for a token (borrowed, valid until the next
 * event loop step), or NULL if the token is not live. */
typedef const char *(*leec_http01_lookup_fn)(void *userdata, const char *token);

/*
 * Listens on "[ADDR:]PORT" (IPv4 "127.0.0.1:80", IPv6 "[::1]:80", or just
 * "80" for every IPv4 and IPv6 address). Serves GET/HEAD of
 * /.well-known/acme-challenge/TOKEN with the key authorization as
 * text/plain (tokens that are not valid base64url are 404 without a lookup);
 * everything else 404. Bounded: at most 64 connections, 10 s timeout.
 * Errors: LEEC_E_INVALID_ARG (address), LEEC_E_IO (cannot listen).
 */
leec_code Leec_http01_server_new(const char *addr, leec_http01_lookup_fn fn,
                                 void *userdata, leec_http01_server **out);

/* A file descriptor that becomes readable when the server has work
 * (an epoll fd): poll it, then call Leec_http01_server_run(). */
int Leec_http01_server_fd(leec_http01_server *srv);

/* Milliseconds until the server needs run() for its own timeouts (-1: none). */
long Leec_http01_server_timeout_ms(leec_http01_server *srv);

/* Does all pending work without blocking. */
void Leec_http01_server_run(leec_http01_server *srv);

/* The port actually bound (useful when asked for port 0). */
int Leec_http01_server_port(leec_http01_server *srv);

void Leec_http01_server_free(leec_http01_server *srv);

#endif
