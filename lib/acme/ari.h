/* ACME Renewal Information (RFC 9773): the renewalInfo object as a typed
 * view, and the RFC 3339 times the CA's documents carry. No I/O. */
#ifndef LEEC_ARI_H
#define LEEC_ARI_H

#include <stdbool.h>
#include <time.h>

#include "leec/leec.h"
#include "util/json.h"

/* The longest explanationURL kept (longer ones are dropped). */
#define LEEC_ARI_TEXT_MAX 1024

typedef struct leec_ari_view {
    time_t start, end; /* suggestedWindow, start <= end */
    /* explanationURL when an https URL of printable ASCII without quotes,
     * angle brackets or backslashes (it is shown and written to files);
     * malloc'd, or NULL. */
    char *explanation;
} leec_ari_view;

/* LEEC_E_PROTOCOL when suggestedWindow is missing, either time is not an
 * RFC 3339 string or end is before start; LEEC_E_NOMEM. An unusable
 * explanationURL is left out, not an error. */
leec_code Leec_ari_parse(const leec_json *obj, leec_ari_view *v);
void Leec_ari_view_clear(leec_ari_view *v);

/* "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)", 't'/'z' accepted. */
bool Leec_rfc3339_parse(const char *s, time_t *out);

#endif
