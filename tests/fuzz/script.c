/* The scripted server of the fuzz targets (script.h). */
#define _GNU_SOURCE
#include "script.h"

#include <stdlib.h>
#include <string.h>

#include "fake.h"

static const char *pos, *end;

static const char *find(const char *p, const char *e, const char *s)
{
    size_t n = strlen(s);
    return p && (size_t)(e - p) >= n ? memmem(p, (size_t)(e - p), s, n) : NULL;
}

/* The next response's bytes, [*b, *e); false when the script is over. */
static bool next(const char **b, const char **e)
{
    if (!pos || pos >= end)
        return false;
    const char *sep = find(pos, end, "\n--\n");
    *b = pos;
    *e = sep ? sep + 1 : end; /* the body keeps its last newline */
    pos = sep ? sep + 4 : end;
    return true;
}

static void respond(void *ud, const fake_request *req, leec_http_resp *resp)
{
    (void)ud;
    const char *p = NULL, *e = NULL;
    if (!next(&p, &e)) {
        resp->err = LEEC_E_HTTP;
        fake_resp_set(&resp->errmsg, "the script is over");
        return;
    }
    const char *nl = memchr(p, '\n', (size_t)(e - p));
    const char *first_end = nl ? nl : e;
    if ((size_t)(first_end - p) < 9 || memcmp(p, "HTTP/", 5) != 0) {
        resp->err = LEEC_E_HTTP;
        fake_resp_set(&resp->errmsg, "not an HTTP reply");
        return;
    }
    const char *sp = memchr(p, ' ', (size_t)(first_end - p));
    const char *d = sp ? sp + 1 : first_end;
    long status = 0;
    for (int i = 0; i < 3 && d < first_end && *d >= '0' && *d <= '9'; i++)
        status = status * 10 + (*d++ - '0');
    resp->status = status;
    /* Header lines up to the empty one, each with its newline as curl
     * hands them over; the status line too (it starts a response). */
    while (p < e) {
        nl = memchr(p, '\n', (size_t)(e - p));
        const char *le = nl ? nl + 1 : e;
        bool blank = le - p == 1 || (le - p == 2 && *p == '\r');
        if (!blank)
            Leec_http_header_line(resp, p, (size_t)(le - p));
        p = le;
        if (blank)
            break;
    }
    /* A HEAD answer has no body (curl does not read one). */
    if (strcmp(req->method, "HEAD") != 0 && p < e &&
        Leec_buf_append(&resp->body, p, (size_t)(e - p)) != LEEC_OK)
        resp->err = LEEC_E_TOO_LARGE; /* as http.c's on_body */
}

void fuzz_script_start(const uint8_t *data, size_t size)
{
    pos = (const char *)data;
    end = pos + size;
    fake_http_set_responder(respond, NULL);
}

size_t fuzz_script_left(void)
{
    size_t n = 0;
    for (const char *p = pos; p && p < end; n++) {
        const char *sep = find(p, end, "\n--\n");
        p = sep ? sep + 4 : end;
    }
    return n;
}
