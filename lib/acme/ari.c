#define _GNU_SOURCE
#include "acme/ari.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool Leec_rfc3339_parse(const char *s, time_t *out)
{
    struct tm tm;
    int n = 0;
    memset(&tm, 0, sizeof tm);
    if (!s ||
        sscanf(s, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &n) !=
            3 ||
        n != 10)
        return false;
    s += n;
    if (*s != 'T' && *s != 't')
        return false;
    s++;
    if (sscanf(s, "%2d:%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) !=
            3 ||
        n != 8)
        return false;
    s += n;
    if (*s == '.') {
        s++;
        if (!isdigit((unsigned char)*s))
            return false;
        while (isdigit((unsigned char)*s))
            s++;
    }
    long off = 0;
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        int hh = 0, mm = 0;
        if (sscanf(s + 1, "%2d:%2d%n", &hh, &mm, &n) != 2 || n != 5 ||
            hh > 23 || mm > 59)
            return false;
        off = (hh * 3600L + mm * 60L) * (*s == '-' ? -1 : 1);
        s += 1 + n;
    } else {
        return false;
    }
    if (*s || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
        tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
        tm.tm_sec > 60 || tm.tm_year < 1970)
        return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return false;
    *out = t - off;
    return true;
}

leec_code Leec_ari_parse(const leec_json *obj, leec_ari_view *v)
{
    memset(v, 0, sizeof *v);
    const leec_json *w = Leec_json_object(obj, "suggestedWindow");
    if (!w || !Leec_rfc3339_parse(Leec_json_str(w, "start"), &v->start) ||
        !Leec_rfc3339_parse(Leec_json_str(w, "end"), &v->end) ||
        v->end < v->start) {
        v->start = v->end = 0;
        return LEEC_E_PROTOCOL;
    }
    const char *ex = Leec_json_str(obj, "explanationURL");
    bool clean = ex && strlen(ex) <= LEEC_ARI_TEXT_MAX &&
                 strncmp(ex, "https://", 8) == 0;
    for (const char *c = ex; clean && *c; c++)
        clean = (unsigned char)*c > 0x20 && (unsigned char)*c < 0x7f &&
                !strchr("\"<>\\", *c);
    if (clean && !(v->explanation = strdup(ex)))
        return LEEC_E_NOMEM;
    return LEEC_OK;
}

void Leec_ari_view_clear(leec_ari_view *v)
{
    free(v->explanation);
    memset(v, 0, sizeof *v);
}
