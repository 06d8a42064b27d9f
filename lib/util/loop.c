/* The context's event loop (loop.h): one epoll set that a host loop waits
 * on, the watched descriptors and timers of the parts of the library that
 * own sockets, processes or timers, and the clock everything is timed by. */
#define _GNU_SOURCE
#include "util/loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "util/ctx_base.h"

struct leec_watch {
    int fd;
    leec_io_fn fn;
    void *userdata;
};

struct leec_timer {
    int64_t at;
    leec_timer_fn fn;
    void *userdata;
};

struct leec_loop {
    int epfd;                   /* the one descriptor a host loop waits on */
    struct leec_watch *watches; /* sockets of solvers, DNS, hooks */
    size_t nwatches, capwatches;
    struct leec_timer **timers; /* their timers */
    size_t ntimers, captimers;
    leec_clock_fn clock;
    void *clock_ud;
};

static leec_loop *loop_of(const leec_ctx *ctx)
{
    return Leec_ctx_base(ctx)->loop;
}

static int64_t monotonic_ms(void *ud)
{
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

leec_loop *Leec_loop_new(void)
{
    leec_loop *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->clock = monotonic_ms;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        free(l);
        return NULL;
    }
    return l;
}

void Leec_loop_free(leec_loop *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->ntimers; i++)
        free(l->timers[i]);
    free(l->timers);
    free(l->watches);
    if (l->epfd >= 0)
        close(l->epfd);
    free(l);
}

int64_t Leec_now_ms(const leec_ctx *ctx)
{
    const leec_loop *l = loop_of(ctx);
    return l->clock(l->clock_ud);
}

void Leec_ctx_set_clock(leec_ctx *ctx, leec_clock_fn fn, void *userdata)
{
    leec_loop *l = loop_of(ctx);
    l->clock = fn ? fn : monotonic_ms;
    l->clock_ud = userdata;
}

int Leec_loop_fd(const leec_ctx *ctx)
{
    return loop_of(ctx)->epfd;
}

void Leec_loop_add_fd(leec_ctx *ctx, int fd)
{
    if (fd < 0)
        return;
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(loop_of(ctx)->epfd, EPOLL_CTL_ADD, fd, &ev);
}

leec_code Leec_loop_wait(leec_ctx *ctx, int timeout_ms)
{
    struct epoll_event ev[4];
    int n = epoll_wait(loop_of(ctx)->epfd, ev, 4, timeout_ms);
    return n >= 0 || errno == EINTR ? LEEC_OK : LEEC_E_IO;
}

static struct leec_watch *find_watch(leec_loop *l, int fd)
{
    for (size_t i = 0; i < l->nwatches; i++)
        if (l->watches[i].fd == fd)
            return &l->watches[i];
    return NULL;
}

leec_code Leec_loop_watch(leec_ctx *ctx, int fd, unsigned events, leec_io_fn fn,
                          void *userdata)
{
    leec_loop *l = loop_of(ctx);
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.fd = fd;
    struct leec_watch *w = find_watch(l, fd);
    if (w) {
        if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) != 0)
            return LEEC_E_IO;
        w->fn = fn;
        w->userdata = userdata;
        return LEEC_OK;
    }
    if (l->nwatches == l->capwatches) {
        size_t cap = l->capwatches ? l->capwatches * 2 : 8;
        struct leec_watch *v = realloc(l->watches, cap * sizeof *v);
        if (!v)
            return LEEC_E_NOMEM;
        l->watches = v;
        l->capwatches = cap;
    }
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
        return LEEC_E_IO;
    l->watches[l->nwatches++] = (struct leec_watch){fd, fn, userdata};
    return LEEC_OK;
}

void Leec_loop_unwatch(leec_ctx *ctx, int fd)
{
    leec_loop *l = loop_of(ctx);
    struct leec_watch *w = find_watch(l, fd);
    if (!w)
        return;
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
    *w = l->watches[--l->nwatches];
}

leec_timer *Leec_loop_timer(leec_ctx *ctx, int64_t at_ms, leec_timer_fn fn,
                            void *userdata)
{
    leec_loop *l = loop_of(ctx);
    if (l->ntimers == l->captimers) {
        size_t cap = l->captimers ? l->captimers * 2 : 8;
        leec_timer **v = realloc(l->timers, cap * sizeof *v);
        if (!v)
            return NULL;
        l->timers = v;
        l->captimers = cap;
    }
    leec_timer *t = malloc(sizeof *t);
    if (!t)
        return NULL;
    *t = (leec_timer){at_ms, fn, userdata};
    l->timers[l->ntimers++] = t;
    return t;
}

void Leec_loop_timer_cancel(leec_ctx *ctx, leec_timer *t)
{
    leec_loop *l = loop_of(ctx);
    for (size_t i = 0; t && i < l->ntimers; i++) {
        if (l->timers[i] == t) {
            l->timers[i] = l->timers[--l->ntimers];
            free(t);
            return;
        }
    }
}

int64_t Leec_loop_next_timer(const leec_ctx *ctx)
{
    const leec_loop *l = loop_of(ctx);
    int64_t best = -1;
    for (size_t i = 0; i < l->ntimers; i++)
        if (best < 0 || l->timers[i]->at < best)
            best = l->timers[i]->at;
    return best;
}

/* Runs what is ready: watched descriptors, then due timers. A callback may
 * watch, unwatch, add or cancel anything: each step looks things up again,
 * and timers added now wait for the next round. */
void Leec_loop_run(leec_ctx *ctx)
{
    leec_loop *l = loop_of(ctx);
    if (l->nwatches) {
        struct epoll_event ev[32];
        int n = epoll_wait(l->epfd, ev, 32, 0);
        for (int i = 0; i < n; i++) {
            struct leec_watch *w = find_watch(l, ev[i].data.fd);
            if (w)
                w->fn(w->userdata, w->fd, ev[i].events);
        }
    }
    size_t budget = l->ntimers;
    int64_t now = Leec_now_ms(ctx);
    while (budget-- > 0) {
        size_t due = l->ntimers;
        for (size_t i = 0; i < l->ntimers; i++)
            if (l->timers[i]->at <= now &&
                (due == l->ntimers || l->timers[i]->at < l->timers[due]->at))
                due = i;
        if (due == l->ntimers)
            break;
        leec_timer *t = l->timers[due];
        l->timers[due] = l->timers[--l->ntimers];
        leec_timer_fn fn = t->fn;
        void *ud = t->userdata;
        free(t);
        fn(ud);
    }
}
