#define _GNU_SOURCE
/* The live view of leec issue --batch on a terminal: one line per
 * certificate in flight and a total line, redrawn in place with ANSI
 * escapes, never taller than the terminal. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "progress.h"

#define LINE_MAX_BYTES 1024

struct progress {
    int fd;
    unsigned lines; /* lines of the view now on the terminal */
    char *buf;      /* the frame being built */
    size_t len, cap;
    bool oom;
};

/* "HH:MM:SS", local time ("YYYY-MM-DD HH:MM:SS" on another day). buf:
 * at least 24 bytes. */
static void clock_text(time_t t, char *buf, size_t len)
{
    struct tm tm, today;
    time_t now = time(NULL);
    localtime_r(&t, &tm);
    localtime_r(&now, &today);
    bool same_day = tm.tm_year == today.tm_year && tm.tm_yday == today.tm_yday;
    strftime(buf, len, same_day ? "%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm);
}

progress *progress_new(int fd)
{
    progress *p = calloc(1, sizeof *p);
    if (p)
        p->fd = fd;
    return p;
}

static void put(progress *p, const char *s, size_t n)
{
    if (p->oom)
        return;
    if (p->len + n + 1 > p->cap) {
        size_t cap = p->cap ? p->cap : 4096;
        while (p->len + n + 1 > cap)
            cap *= 2;
        char *v = realloc(p->buf, cap);
        if (!v) {
            p->oom = true;
            return;
        }
        p->buf = v;
        p->cap = cap;
    }
    memcpy(p->buf + p->len, s, n);
    p->len += n;
}

static void putf(progress *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void putf(progress *p, const char *fmt, ...)
{
    char tmp[LINE_MAX_BYTES];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        put(p, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Sends the frame; on a short write the view is as good as lost. */
static void flush(progress *p)
{
    size_t off = 0;
    while (!p->oom && off < p->len) {
        ssize_t w = write(p->fd, p->buf + off, p->len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    p->len = 0;
    p->oom = false;
}

void progress_clear(progress *p)
{
    if (!p || !p->lines)
        return;
    putf(p, "\r\033[%uA\033[J", p->lines);
    p->lines = 0;
    flush(p);
}

void progress_free(progress *p)
{
    if (!p)
        return;
    progress_clear(p);
    free(p->buf);
    free(p);
}

/* One line of the view, cut to the terminal's width so it never wraps
 * (the text is ASCII: cert names and state names are). */
static void line(progress *p, unsigned cols, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void line(progress *p, unsigned cols, const char *fmt, ...)
{
    char tmp[LINE_MAX_BYTES];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    size_t len = n < 0                    ? 0
                 : (size_t)n < sizeof tmp ? (size_t)n
                                          : sizeof tmp - 1;
    if (cols > 1 && len > cols - 1)
        len = cols - 1;
    put(p, tmp, len);
    put(p, "\033[K\n", 4);
    p->lines++;
}

static bool has_order(leec_agent_state st)
{
    return (st >= LEEC_ST_NEW_ORDER && st <= LEEC_ST_INSTALL) ||
           st == LEEC_ST_RESUME;
}

static void elapsed_text(double s, char *buf, size_t len)
{
    unsigned long t = s > 0 ? (unsigned long)s : 0;
    if (t >= 3600)
        snprintf(buf, len, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, len, "%lu:%02lu", t / 60, t % 60);
}

#define NREASONS (LEEC_WAIT_LOCK + 1)

void progress_draw(progress *p, const batch *b, double now)
{
    unsigned rows = 24, cols = 80;
    struct winsize ws;
    if (ioctl(p->fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
        rows = ws.ws_row;
        cols = ws.ws_col;
    }
    /* Keep one row free: the cursor sits below the view. */
    size_t room = rows > 1 ? rows - 1 : 0;

    size_t inflight = 0, waiting = 0, why[NREASONS] = {0};
    time_t why_until[NREASONS] = {0};
    int w = 0;
    for (size_t i = 0; i < b->n; i++) {
        const batch_cert *c = &b->certs[i];
        if (c->outcome != LEEC_OUTCOME_NONE)
            continue;
        leec_agent_state st = leec_agent_get_state(c->agent);
        if (has_order(st)) {
            size_t len = strlen(leec_agent_cert_name(c->agent));
            if (inflight++ < room && (int)len > w)
                w = len > 40 ? 40 : (int)len;
            continue;
        }
        time_t until = 0;
        leec_wait_reason r = leec_agent_wait(c->agent, &until);
        waiting++;
        if (r > LEEC_WAIT_NONE && r < NREASONS) {
            why[r]++;
            if (until && (!why_until[r] || until < why_until[r]))
                why_until[r] = until;
        }
    }
    bool show_why = false;
    for (int r = 1; r < NREASONS; r++)
        show_why |= why[r] > 0;
    size_t fixed = 1 + (show_why ? 1 : 0);
    if (fixed > room)
        fixed = room, show_why = false;
    size_t slots = room - fixed; /* lines for certificates */
    size_t shown = inflight <= slots ? inflight : slots ? slots - 1 : 0;

    if (p->lines)
        putf(p, "\r\033[%uA", p->lines);
    p->lines = 0;
    char hms[32];
    for (size_t i = 0, k = 0; k < shown && i < b->n; i++) {
        const batch_cert *c = &b->certs[i];
        leec_agent_state st = leec_agent_get_state(c->agent);
        if (c->outcome != LEEC_OUTCOME_NONE || !has_order(st))
            continue;
        k++;
        time_t until = 0;
        leec_wait_reason r = leec_agent_wait(c->agent, &until);
        if (r == LEEC_WAIT_NONE) {
            line(p, cols, "  %-*.*s  %s", w, w, leec_agent_cert_name(c->agent),
                 leec_state_name(st));
            continue;
        }
        hms[0] = '\0';
        if (until)
            clock_text(until, hms, sizeof hms);
        line(p, cols, "  %-*.*s  %-11s waiting: %s%s%s", w, w,
             leec_agent_cert_name(c->agent), leec_state_name(st),
             leec_wait_reason_name(r), until ? " until " : "", hms);
    }
    if (shown < inflight && slots)
        line(p, cols, "  ... and %zu more in flight", inflight - shown);
    if (show_why) {
        char text[LINE_MAX_BYTES];
        size_t off = 0;
        for (int r = 1; r < NREASONS && off < sizeof text; r++) {
            if (!why[r])
                continue;
            hms[0] = '\0';
            if (why_until[r])
                clock_text(why_until[r], hms, sizeof hms);
            int n = snprintf(text + off, sizeof text - off, "%s%zu %s%s%s",
                             off ? ", " : "", why[r],
                             leec_wait_reason_name((leec_wait_reason)r),
                             why_until[r] ? " until " : "", hms);
            off += n > 0 ? (size_t)n : 0;
        }
        line(p, cols, "  waiting: %s", text);
    }
    if (room) {
        char el[32], pause[64] = "";
        double secs = now - b->t0;
        size_t fin = b->issued + b->fresh + b->failed;
        elapsed_text(secs, el, sizeof el);
        time_t pu = leec_ctx_paused_until(b->ctx);
        if (pu) { /* first: the line may be cut to the terminal's width */
            clock_text(pu, hms, sizeof hms);
            snprintf(pause, sizeof pause, "CA paused until %s; ", hms);
        }
        line(p, cols,
             "%s%zu/%zu done, %zu failed, %zu waiting, %zu in flight, %.2f "
             "cert/s, %s elapsed",
             pause, b->issued + b->fresh, b->n, b->failed, waiting, inflight,
             secs > 0 ? (double)fin / secs : 0.0, el);
    }
    put(p, "\033[J", 3);
    flush(p);
}
