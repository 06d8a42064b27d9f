/* Typed access to JSON from the CA: every getter checks the type and reports
 * a missing or mistyped member instead of crashing on it. */
#ifndef LEEC_JSON_H
#define LEEC_JSON_H

#include <jansson.h>
#include <stdbool.h>

#include "leec/leec.h"

/* Parses len bytes that must hold one JSON object (depth and size are bounded
 * by the caller's buffer cap). LEEC_E_JSON otherwise. */
leec_code Leec_json_parse_object(const char *data, size_t len, json_t **out);

/* The string member key of obj, or NULL when missing or not a string. */
const char *Leec_json_str(const json_t *obj, const char *key);

/* Like Leec_json_str but reports: LEEC_E_PROTOCOL when missing (if
 * required) or of another type. *out NULL when missing and optional. */
leec_code Leec_json_get_str(const json_t *obj, const char *key, bool required,
                            const char **out);

/* The array member key, or NULL when missing or not an array. */
json_t *Leec_json_array(const json_t *obj, const char *key);

/* The object member key, or NULL when missing or not an object. */
json_t *Leec_json_object(const json_t *obj, const char *key);

#endif
