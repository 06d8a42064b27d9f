#define _GNU_SOURCE
#include "util/json.h"

leec_code Leec_json_parse_object(const char *data, size_t len, json_t **out)
{
    json_error_t jerr;
    *out = NULL;
    if (!data)
        return LEEC_E_JSON;
    json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        return LEEC_E_JSON;
    if (!json_is_object(j)) {
        json_decref(j);
        return LEEC_E_JSON;
    }
    *out = j;
    return LEEC_OK;
}

const char *Leec_json_str(const json_t *obj, const char *key)
{
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

leec_code Leec_json_get_str(const json_t *obj, const char *key, bool required,
                            const char **out)
{
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    *out = NULL;
    if (!v || json_is_null(v))
        return required ? LEEC_E_PROTOCOL : LEEC_OK;
    if (!json_is_string(v))
        return LEEC_E_PROTOCOL;
    *out = json_string_value(v);
    return LEEC_OK;
}

json_t *Leec_json_array(const json_t *obj, const char *key)
{
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    return json_is_array(v) ? v : NULL;
}

json_t *Leec_json_object(const json_t *obj, const char *key)
{
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    return json_is_object(v) ? v : NULL;
}
