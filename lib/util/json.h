/* JSON, the only door to jansson in the library: an opaque handle with
 * typed getters (each checks the type and answers NULL/false for a missing
 * or mistyped member instead of crashing on it) and a few builders for the
 * small documents leec writes (request payloads, meta.json, renewal.json).
 * Keeping jansson behind this file lets the rest of lib/ read typed views
 * and keeps the parser's flags (duplicates refused, size bounded) in one
 * place. */
#ifndef LEEC_JSON_H
#define LEEC_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "leec/leec.h"
#include "util/buf.h"

/* A JSON value. Pointers returned by the getters borrow from the document
 * they were read from and live as long as it does. */
typedef struct leec_json leec_json;

/* The largest JSON text parsed: a CA's body is capped lower by the
 * transport (LEEC_MAX_BODY), store files and settings too. */
#define LEEC_JSON_MAX_TEXT (4 * 1024 * 1024)

/* Parses len bytes that must hold one JSON object (duplicate members
 * refused, at most LEEC_JSON_MAX_TEXT bytes). LEEC_E_JSON otherwise. Free
 * *out with Leec_json_free. */
leec_code Leec_json_parse_object(const char *data, size_t len, leec_json **out);

/* Like Leec_json_parse_object, for any JSON value (a number, null): NULL
 * when it is not JSON. */
leec_json *Leec_json_parse_any(const char *data, size_t len);

/* Releases a reference (NULL is fine); Leec_json_ref takes another. */
void Leec_json_free(leec_json *j);
leec_json *Leec_json_ref(leec_json *j);

/* ---- reading ---- */

bool Leec_json_is_object(const leec_json *v);
bool Leec_json_is_array(const leec_json *v);

/* The member key of obj, of any type; NULL when missing (or obj is not an
 * object). */
const leec_json *Leec_json_get(const leec_json *obj, const char *key);

/* The string member key of obj, or NULL when missing or not a string. */
const char *Leec_json_str(const leec_json *obj, const char *key);

/* Like Leec_json_str but reports: LEEC_E_PROTOCOL when missing (if
 * required) or of another type. *out NULL when missing and optional. */
leec_code Leec_json_get_str(const leec_json *obj, const char *key,
                            bool required, const char **out);

/* The array member key, or NULL when missing or not an array. */
const leec_json *Leec_json_array(const leec_json *obj, const char *key);

/* The object member key, or NULL when missing or not an object. */
const leec_json *Leec_json_object(const leec_json *obj, const char *key);

/* True with *out when the member key is an integer. */
bool Leec_json_int(const leec_json *obj, const char *key, long long *out);

/* 1 or 0 when the member key is a boolean, -1 otherwise. */
int Leec_json_bool(const leec_json *obj, const char *key);

/* v itself as a string (NULL when it is not one) or an integer. */
const char *Leec_json_as_str(const leec_json *v);
bool Leec_json_as_int(const leec_json *v, long long *out);

/* The length of an array or the member count of an object; 0 otherwise. */
size_t Leec_json_len(const leec_json *v);

/* The i-th item of an array, or NULL. */
const leec_json *Leec_json_at(const leec_json *arr, size_t i);

/* Calls fn for each member of obj, in the document's order, until it
 * returns false. */
typedef bool (*leec_json_each_fn)(void *ud, const char *key,
                                  const leec_json *v);
void Leec_json_each(const leec_json *obj, leec_json_each_fn fn, void *ud);

/* ---- building ---- */

/* New empty object or array; NULL on OOM. */
leec_json *Leec_json_new_object(void);
leec_json *Leec_json_new_array(void);

/* Sets obj's member key, taking v (released on failure). False on OOM or
 * when obj or v is NULL: a builder checks once, at the end, or ignores a
 * member it can do without. */
bool Leec_json_set(leec_json *obj, const char *key, leec_json *v);
bool Leec_json_set_str(leec_json *obj, const char *key, const char *s);
bool Leec_json_set_int(leec_json *obj, const char *key, long long i);
bool Leec_json_set_bool(leec_json *obj, const char *key, bool b);

/* Appends to arr, taking v (released on failure). */
bool Leec_json_push(leec_json *arr, leec_json *v);
bool Leec_json_push_str(leec_json *arr, const char *s);

/* The text of j: compact (request payloads), or pretty (indented, keys
 * sorted: files a person reads). malloc'd, NULL on OOM. */
char *Leec_json_dump(const leec_json *j, bool pretty);

/* Appends s as a JSON string literal, quotes included, exactly as
 * json_dumps() writes it (no flags: '"', '\\' and control characters
 * escaped, \b \f \n \r \t by name, others as \u00XX; everything else,
 * non-ASCII included, as is). For JSON text built directly where a jansson
 * tree would cost more than the text. LEEC_E_INVALID_ARG when s is not
 * UTF-8 as json_string() accepts it (nothing appended), LEEC_E_NOMEM. */
leec_code Leec_json_append_string(leec_buf *b, const char *s);

#endif
