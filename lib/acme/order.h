/* ACME order and authorization objects (RFC 8555 §7.1.3, §7.1.4), parsed
 * and validated into typed views. No I/O: the agent feeds them the CA's
 * answers and acts on the result. */
#ifndef LEEC_ORDER_H
#define LEEC_ORDER_H

#include <jansson.h>
#include <stdbool.h>

#include "leec/leec.h"

typedef enum leec_order_status {
    LEEC_ORDER_PENDING,
    LEEC_ORDER_READY,
    LEEC_ORDER_PROCESSING,
    LEEC_ORDER_VALID,
    LEEC_ORDER_INVALID
} leec_order_status;

/* Pointers borrow from the JSON object. */
typedef struct leec_order_view {
    leec_order_status status;
    const char *finalize;         /* https URL or NULL */
    const char *certificate;      /* https URL or NULL */
    const json_t *authorizations; /* array of https URL strings, or NULL */
} leec_order_view;

/* LEEC_E_PROTOCOL when the status is missing or unknown, a URL member is
 * not an https URL, or authorizations is not an array of https URLs. */
leec_code Leec_order_parse(const json_t *order, leec_order_view *v);

/* True when the order's identifiers (when present) are exactly names. */
bool Leec_order_ids_match(const json_t *order, char *const *names, size_t n);

/* The order's "error" problem, or NULL. */
leec_problem *Leec_order_error(const json_t *order);

typedef enum leec_authz_status {
    LEEC_AUTHZ_PENDING,
    LEEC_AUTHZ_VALID,
    LEEC_AUTHZ_INVALID,
    LEEC_AUTHZ_DEACTIVATED,
    LEEC_AUTHZ_EXPIRED,
    LEEC_AUTHZ_REVOKED
} leec_authz_status;

typedef struct leec_authz_view {
    leec_authz_status status;
    const char *status_name;
    const char *ident;      /* identifier value */
    const char *ident_type; /* its type ("dns", "ip") */
    bool wildcard;
    /* The challenge of the wanted type, when offered: */
    const char *chall_url;    /* https URL */
    const char *token;        /* base64url */
    const char *chall_status; /* "pending", "processing", ... or NULL */
} leec_authz_view;

/*
 * Parses an authorization and picks its challenge of type chall_type.
 * LEEC_E_PROTOCOL for a malformed object, or a challenge of that type
 * whose url or token is invalid. A missing challenge type is not an error
 * here (chall_url stays NULL); *offered (when not NULL) then receives a
 * malloc'd space-separated list of the types offered.
 */
leec_code Leec_authz_parse(const json_t *az, const char *chall_type,
                           leec_authz_view *v, char **offered);

/* A challenge of a type leec knows, with a valid url and token. */
typedef struct leec_chall_view {
    const char *type;
    const char *url;
    const char *token;
    const char *status;
} leec_chall_view;

/* The i-th such challenge of the authorization, in the CA's order; false
 * past the last. */
bool Leec_authz_challenge_at(const json_t *az, size_t i, leec_chall_view *v);

/* The error document of a failed authorization (its challenge's), or NULL. */
leec_problem *Leec_authz_error(const json_t *az);

#endif
