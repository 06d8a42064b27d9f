/* The ACME account object (RFC 8555 §7.1.2) as a typed view. No I/O. */
#ifndef LEEC_ACME_ACCOUNT_H
#define LEEC_ACME_ACCOUNT_H

#include <stddef.h>

#include "leec/leec.h"
#include "util/json.h"

/* At most this many contact URLs are read. */
#define LEEC_MAX_CONTACTS 16

/* The strings are the view's (malloc'd); members absent or not strings are
 * NULL, contact entries that are not strings skipped. */
typedef struct leec_account_view {
    char *url; /* not in RFC 8555's object; leec's account.json has it */
    char *status;
    char *orders;
    char *contact[LEEC_MAX_CONTACTS];
    size_t ncontact;
} leec_account_view;

/* LEEC_E_PROTOCOL when obj is not an object, LEEC_E_NOMEM. Clear v with
 * Leec_account_view_clear in every case. */
leec_code Leec_account_parse(const leec_json *obj, leec_account_view *v);
void Leec_account_view_clear(leec_account_view *v);

#endif
