/* A small asynchronous DNS client on the context's loop: one message out,
 * one answer back, over UDP (retried) or TCP (when the answer is truncated,
 * or asked for). Packets are built and parsed with ldns by the callers; only
 * the DNS files (dns.c, solver/dns01.c, solver/rfc2136.c) include ldns. */
#ifndef LEEC_DNS_H
#define LEEC_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "leec/leec.h"

/* "ADDR", "ADDR:PORT", "[V6]:PORT" -> a socket address (default_port when
 * none given). Numeric addresses only. LEEC_E_INVALID_ARG. */
leec_code Leec_dns_parse_addr(const char *text, int default_port,
                              struct sockaddr_storage *out, socklen_t *len);

/* Offset just past the question section of the message m, or 0 if it is
 * malformed. */
size_t Leec_dns_question_end(const unsigned char *m, size_t len);

/* Whether a (n bytes) answers the message m, whose question section ends
 * at qend: same ID and opcode, QR set, and the same question, byte for
 * byte (servers copy it; an answer for another name or type is not ours).
 * An error answer without a question (some servers send FORMERR/NOTIMP
 * that way) matches, so that the caller sees the server's rcode rather
 * than a timeout; it carries no data. Every answer is judged so before
 * the callback of Leec_dns_send sees it. */
bool Leec_dns_answer_matches(const unsigned char *m, size_t qend,
                             const unsigned char *a, size_t n);

typedef struct leec_dns_query leec_dns_query;

/* rc LEEC_OK with the answer's wire bytes (valid during the call), whose ID
 * and question matched what was sent; LEEC_E_TIMEOUT, LEEC_E_IO,
 * LEEC_E_PROTOCOL (malformed or mismatched answer, after the tries). */
typedef void (*leec_dns_fn)(void *userdata, leec_code rc,
                            const unsigned char *wire, size_t len);

/*
 * Sends msg (a DNS message in wire format; its ID is replaced by a random
 * one) to the server. UDP: up to 3 tries within timeout_ms, then TCP when an
 * answer comes back truncated; tcp=true: TCP from the start. Answers are
 * bounded (64 KiB). fn runs exactly once from leec_ctx_perform() unless
 * cancelled. *q (if not NULL) receives a handle valid until fn runs.
 */
leec_code Leec_dns_send(leec_ctx *ctx, const struct sockaddr *sa,
                        socklen_t salen, const unsigned char *msg, size_t len,
                        bool tcp, int timeout_ms, leec_dns_fn fn,
                        void *userdata, leec_dns_query **q);
void Leec_dns_cancel(leec_ctx *ctx, leec_dns_query *q);

/* The same, blocking (poll), for teardown paths only; bounded by
 * timeout_ms. *reply malloc'd. */
leec_code Leec_dns_send_sync(const struct sockaddr *sa, socklen_t salen,
                             const unsigned char *msg, size_t len, bool tcp,
                             int timeout_ms, unsigned char **reply,
                             size_t *rlen);

#endif
