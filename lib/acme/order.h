/* ACME order, authorization and challenge objects (RFC 8555 §7.1.3,
 * §7.1.4, §8), each parsed once into a typed view that owns its strings:
 * every member the agent uses is checked here, where it enters, and the
 * agent reads fields, never JSON. No I/O. */
#ifndef LEEC_ORDER_H
#define LEEC_ORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "leec/leec.h"
#include "util/json.h"

/* Challenges read from one authorization: a CA offers one per type (three
 * today); more is a hostile document. */
#define LEEC_MAX_CHALLENGES 16

typedef enum leec_order_status {
    LEEC_ORDER_PENDING,
    LEEC_ORDER_READY,
    LEEC_ORDER_PROCESSING,
    LEEC_ORDER_VALID,
    LEEC_ORDER_INVALID
} leec_order_status;

typedef struct leec_order_ident {
    char *type;
    char *value;
} leec_order_ident;

typedef struct leec_order_view {
    leec_order_status status;
    time_t expires;        /* 0 when absent or not RFC 3339 */
    bool has_ids;          /* "identifiers" present (optional in updates) */
    leec_order_ident *ids; /* nids, each with a type and a value */
    size_t nids;           /* at most LEEC_MAX_NAMES */
    char **authz;          /* the authorization URLs (https), nauthz */
    size_t nauthz;         /* at most LEEC_MAX_NAMES */
    char *finalize;        /* https URL or NULL */
    char *certificate;     /* https URL or NULL */
    leec_problem *error;   /* the "error" problem, or NULL */
    const char *why;       /* when malformed: what is wrong (static) */
} leec_order_view;

/* LEEC_E_PROTOCOL (v->why says what) when the status is missing or
 * unknown, a URL member is not an https URL, authorizations is not an
 * array of https URLs or identifiers not an array of {type, value}
 * strings, or either is longer than LEEC_MAX_NAMES; LEEC_E_NOMEM. Clear v
 * with Leec_order_view_clear in every case. */
leec_code Leec_order_parse(const leec_json *order, leec_order_view *v);
void Leec_order_view_clear(leec_order_view *v);

/* True when the order's identifiers (when present) are exactly names. */
bool Leec_order_ids_match(const leec_order_view *v, char *const *names,
                          size_t n);

typedef enum leec_authz_status {
    LEEC_AUTHZ_PENDING,
    LEEC_AUTHZ_VALID,
    LEEC_AUTHZ_INVALID,
    LEEC_AUTHZ_DEACTIVATED,
    LEEC_AUTHZ_EXPIRED,
    LEEC_AUTHZ_REVOKED
} leec_authz_status;

typedef enum leec_chall_status {
    LEEC_CHALL_NONE, /* no status member */
    LEEC_CHALL_PENDING,
    LEEC_CHALL_PROCESSING,
    LEEC_CHALL_VALID,
    LEEC_CHALL_INVALID,
    LEEC_CHALL_OTHER
} leec_chall_status;

/* A challenge of a type leec knows, with a valid url and token (none for
 * dns-persist-01, which has issuer names instead). The strings are the
 * view's; a taker moves them out (NULLs them). */
typedef struct leec_chall_view {
    char *type;    /* "http-01", "dns-01", "tls-alpn-01", "dns-persist-01" */
    char *url;     /* https URL */
    char *token;   /* base64url, at most LEEC_TOKEN_MAX characters; NULL for
                      dns-persist-01 */
    char *issuers; /* dns-persist-01: its issuer-domain-names (1 to 10,
                      checked), joined by spaces; NULL for the others */
    leec_chall_status status;
} leec_chall_view;

typedef struct leec_authz_view {
    leec_authz_status status;
    const char *status_name; /* static */
    char *ident;             /* identifier value */
    char *ident_type;        /* its type ("dns", "ip") */
    bool wildcard;
    time_t expires; /* 0 when absent or not RFC 3339 */
    /* The challenges of known types, in the CA's order (others are
     * skipped). */
    leec_chall_view chall[LEEC_MAX_CHALLENGES];
    size_t nchall;
    leec_problem *error; /* the first challenge's error document, or NULL */
    const char *why;     /* when malformed: what is wrong (static) */
} leec_authz_view;

/* One pass over the authorization. LEEC_E_PROTOCOL (v->why says what) for
 * a missing or unknown status, a missing identifier, challenges that are
 * not an array of objects or more than LEEC_MAX_CHALLENGES, or a challenge
 * of a known type whose url is not https or whose token is not base64url
 * of at most LEEC_TOKEN_MAX characters; LEEC_E_NOMEM. Clear v with
 * Leec_authz_view_clear in every case. */
leec_code Leec_authz_parse(const leec_json *az, leec_authz_view *v);
void Leec_authz_view_clear(leec_authz_view *v);

/* The challenge of that type, or NULL. */
const leec_chall_view *Leec_authz_find(const leec_authz_view *v,
                                       const char *type);

/* The CA's answer to a challenge response: its status and error. */
typedef struct leec_chall_answer {
    leec_chall_status status;
    leec_problem *error; /* NULL when none; the caller's once read */
} leec_chall_answer;
void Leec_chall_answer_parse(const leec_json *ch, leec_chall_answer *a);

#endif
