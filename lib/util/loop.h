/* The context's event loop, for the parts of the library that own sockets,
 * processes or timers of their own (DNS queries, hook processes, the
 * tls-alpn-01 responder). Everything runs from leec_ctx_perform(); nothing
 * blocks and nothing sleeps. */
#ifndef LEEC_LOOP_H
#define LEEC_LOOP_H

#include <stdint.h>
#include <sys/epoll.h>

#include "leec/leec.h"

typedef struct leec_loop leec_loop;
typedef int64_t (*leec_clock_fn)(void *userdata);

/* The loop of a new context (an epoll set, the monotonic clock); NULL when
 * it cannot be made. Freed last, once nothing watches any more. */
leec_loop *Leec_loop_new(void);
void Leec_loop_free(leec_loop *l);

/* The context's clock, in milliseconds (monotonic unless a test set one). */
int64_t Leec_now_ms(const leec_ctx *ctx);
/* Test hook (not public): a fake clock; NULL restores the real one. */
void Leec_ctx_set_clock(leec_ctx *ctx, leec_clock_fn fn, void *userdata);

/* The epoll descriptor a host loop waits on (leec_ctx_get_fd). */
int Leec_loop_fd(const leec_ctx *ctx);
/* Adds fd to the set for readability without a callback: a descriptor
 * whose owner runs from perform anyway (the transport, the responder). */
void Leec_loop_add_fd(leec_ctx *ctx, int fd);
/* Waits at most timeout_ms (-1: no limit) for any descriptor of the set. */
leec_code Leec_loop_wait(leec_ctx *ctx, int timeout_ms);
/* Runs the ready watchers and the due timers (from perform). */
void Leec_loop_run(leec_ctx *ctx);
/* When the next timer is due (ms), or -1 without one. */
int64_t Leec_loop_next_timer(const leec_ctx *ctx);

/* events: EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP as epoll reports them. */
typedef void (*leec_io_fn)(void *userdata, int fd, unsigned events);

/*
 * Watches fd for events (EPOLLIN and/or EPOLLOUT); fn runs from
 * leec_ctx_perform() when it is ready. Watching an fd already watched
 * replaces its events and callback. The caller keeps ownership of fd and
 * must unwatch it before closing it. LEEC_E_IO, LEEC_E_NOMEM.
 */
leec_code Leec_loop_watch(leec_ctx *ctx, int fd, unsigned events, leec_io_fn fn,
                          void *userdata);
void Leec_loop_unwatch(leec_ctx *ctx, int fd);

typedef struct leec_timer leec_timer;
typedef void (*leec_timer_fn)(void *userdata);

/* Runs fn once at (or after) at_ms on the context's clock (Leec_now_ms). The
 * handle is valid until fn runs or the timer is cancelled. NULL on OOM. */
leec_timer *Leec_loop_timer(leec_ctx *ctx, int64_t at_ms, leec_timer_fn fn,
                            void *userdata);
/* Cancels a timer that has not run yet; NULL is fine. */
void Leec_loop_timer_cancel(leec_ctx *ctx, leec_timer *timer);

#endif
