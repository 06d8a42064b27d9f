/* Identifiers: the names a certificate is ordered for. */
#ifndef LEEC_NAMES_H
#define LEEC_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "leec/leec.h"

/* A literal IPv4 or IPv6 address (an RFC 8738 "ip" identifier). */
bool Leec_name_is_ip(const char *s);

/* A DNS name as CAs accept it: LDH labels of 1-63, at most 253 characters,
 * an optional leading "*." (wildcard). Lower case expected. */
bool Leec_dns_name_ok(const char *s);
/* The store name a certificate gets from its first identifier when none is
 * given: the identifier itself, an IPv6 address spelled with '-' for its
 * store name has no ':' (malloc'd; NULL on OOM). */
char *Leec_name_store_default(const char *ident);

/*
 * Normalises names for an order: lower-cased, a trailing dot dropped,
 * duplicates removed (first occurrence kept), each checked with the two
 * functions above. *out is a malloc'd array of malloc'd strings, *nout its
 * length. LEEC_E_BAD_NAME (with *bad the index of the culprit),
 * LEEC_E_INVALID_ARG (none, or more than max), LEEC_E_NOMEM.
 */
leec_code Leec_names_normalize(const char *const *in, size_t n, size_t max,
                               char ***out, size_t *nout, size_t *bad);
void Leec_names_free(char **v, size_t n);

/* The registrable domain of a name per the Public Suffix List
 * ("www.example.co.uk" -> "example.co.uk"; a wildcard's "*." ignored; an IP
 * address or a name that is itself a public suffix: the name). malloc'd. */
char *Leec_registered_domain(const char *name);

/* The same set, whatever the order and case? */
bool Leec_names_same(char *const *a, size_t na, char *const *b, size_t nb);

/* True if name is usable as a certificate or CA id (a store's folder):
 * 1-200 characters of [A-Za-z0-9._-], not starting with '.' or '-'. */
bool Leec_store_name_valid(const char *name);

#endif
