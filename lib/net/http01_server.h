/* The built-in http-01 responder (libmicrohttpd). It runs inside the
 * context's event loop: no thread of its own. */
#ifndef LEEC_SOLVER_HTTP01_H
#define LEEC_SOLVER_HTTP01_H

#include "leec/leec.h"

typedef struct leec_http01_server leec_http01_server;

/* What a lookup found: the key authorization (*key_auth, malloc'd, freed
 * by the responder), nothing, or nothing yet: the answer comes later
 * through Leec_http01_server_answer() (from the loop; the request's
 * connection waits, suspended, at most 5 s, then gets 404). */
typedef enum leec_http01_lookup_result {
    LEEC_HTTP01_FOUND,
    LEEC_HTTP01_UNKNOWN,
    LEEC_HTTP01_LATER,
} leec_http01_lookup_result;
typedef leec_http01_lookup_result (*leec_http01_lookup_fn)(void *userdata,
                                                           const char *token,
                                                           char **key_auth);

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

/* The answer to the lookups of token that said LEEC_HTTP01_LATER (key_auth
 * NULL: unknown, 404); copied. */
void Leec_http01_server_answer(leec_http01_server *srv, const char *token,
                               const char *key_auth);
/* True while a request waits for such an answer. */
bool Leec_http01_server_waiting(const leec_http01_server *srv);

/* The port actually bound (useful when asked for port 0). */
int Leec_http01_server_port(leec_http01_server *srv);

void Leec_http01_server_free(leec_http01_server *srv);

#endif
