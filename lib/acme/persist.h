/* dns-persist-01 (draft-ietf-acme-dns-persist-01): the persistent TXT
 * record at _validation-persist.<domain>, formatted and parsed. Its value
 * is a CAA issue-value (RFC 8659 §4.2):
 *
 *   issuer-domain-name; accounturi=URI[; policy=wildcard][; persistUntil=T]
 *
 * T in seconds since the epoch (UTC). Pure functions, no I/O. */
#ifndef LEEC_ACME_PERSIST_H
#define LEEC_ACME_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "leec/leec.h"

/* The record's owner prefix, and the most issuer names a challenge may
 * carry (more is a malformed challenge). */
#define LEEC_PERSIST_PREFIX      "_validation-persist."
#define LEEC_PERSIST_MAX_ISSUERS 10

/* True if name is an issuer domain name as the draft wants it: lower case
 * A-labels (letters, digits, '-'), dot-separated labels of 1 to 63, no
 * trailing dot, at most 253 octets. */
bool Leec_persist_issuer_ok(const char *name);

/* The TXT value for issuer and account_uri, with "; policy=wildcard" when
 * wildcard and "; persistUntil=T" when until > 0. *out malloc'd.
 * LEEC_E_INVALID_ARG (an issuer that is not a domain name, an account URI
 * with spaces, ';' or control bytes), LEEC_E_NOMEM. */
leec_code Leec_persist_value(const char *issuer, const char *account_uri,
                             bool wildcard, int64_t until, char **out);

/* One record's value, parsed. */
typedef struct leec_persist_rec {
    char *issuer;     /* lower case, no trailing dot */
    char *accounturi; /* NULL when the record has none */
    bool wildcard;    /* policy=wildcard (the value case-insensitive) */
    int64_t until;    /* persistUntil; 0 when absent */
    const char *why;  /* when malformed: what is wrong (static) */
} leec_persist_rec;

/* Parses value (n bytes: the TXT record's strings joined). LEEC_E_PROTOCOL
 * (r->why says what) when it does not follow the syntax: no issuer name, a
 * parameter without '=', a tag or value of forbidden characters, a tag
 * twice, persistUntil not a number; LEEC_E_NOMEM. Clear r with
 * Leec_persist_rec_clear in every case. */
leec_code Leec_persist_parse(const char *value, size_t n, leec_persist_rec *r);
void Leec_persist_rec_clear(leec_persist_rec *r);

/* Whether r authorizes account_uri for one of the issuers (n of them) at
 * time now: the issuer among them (case-insensitive), the account URI the
 * same, policy=wildcard when wildcard is needed, persistUntil (if any) not
 * passed. *why (static) says why not. */
bool Leec_persist_matches(const leec_persist_rec *r, const char *const *issuers,
                          size_t n, const char *account_uri, bool wildcard,
                          int64_t now, const char **why);

#endif
