/* The context's event loop, for the parts of the library that own sockets,
 * processes or timers of their own (DNS queries, hook processes, the
 * tls-alpn-01 responder). Everything runs from leec_ctx_perform(); nothing
 * blocks and nothing sleeps. */
#ifndef LEEC_LOOP_H
#define LEEC_LOOP_H

#include <stdint.h>
#include <sys/epoll.h>

#include "leec/leec.h"

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
