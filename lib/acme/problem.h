/* RFC 7807 problem documents from the CA (RFC 8555 §6.7). */
#ifndef LEEC_PROBLEM_H
#define LEEC_PROBLEM_H

#include <stddef.h>

#include "leec/leec.h"
#include "util/json.h"
#include "util/text.h"

#define LEEC_ACME_ERR "urn:ietf:params:acme:error:"

/* Builds a problem from a parsed JSON object (a response body, or the
 * "error" member of a challenge). Strings are copied and sanitised. A
 * missing "type" becomes "about:blank" (RFC 7807 §4.2). NULL on OOM or when
 * obj is not an object. Free with Leec_problem_free. */
leec_problem *Leec_problem_from_json(const leec_json *obj, long status,
                                     long retry_after);
void Leec_problem_free(leec_problem *p);
leec_problem *Leec_problem_dup(const leec_problem *p);

/* True if p's type is the ACME error urn:ietf:params:acme:error:<name>. */
bool Leec_problem_is(const leec_problem *p, const char *name);

/* A malloc'd copy of s safe to print (Leec_text_clean), at most max bytes
 * (then "..."). NULL in gives NULL out. */
char *Leec_sanitize(const char *s, size_t max);

#endif
