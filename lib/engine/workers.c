/* The context's worker threads (workers.h). Jobs wait in a queue under a
 * mutex; a finished job goes to a second list and an eventfd, watched by
 * the context's loop, says so; its completion then runs from perform. */
#define _GNU_SOURCE
#include "engine/workers.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "engine/internal.h"
#include "util/loop.h"

#define MAX_THREADS 4

struct leec_job {
    leec_job_run_fn run;
    leec_job_done_fn done;
    leec_job_free_fn free_arg;
    void *arg;
    bool started;   /* taken by a thread */
    bool cancelled; /* done must not run */
    leec_job *next;
};

struct leec_workers {
    leec_ctx *ctx;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t threads[MAX_THREADS];
    size_t nthreads;
    bool stop;
    leec_job *queue, *queue_tail; /* waiting, oldest first */
    leec_job *ready, *ready_tail; /* worked, their completion owed */
    int efd;                      /* readable when ready is not empty */
};

static void job_free(leec_job *j)
{
    if (j->free_arg)
        j->free_arg(j->arg);
    free(j);
}

static void append(leec_job **head, leec_job **tail, leec_job *j)
{
    j->next = NULL;
    if (*tail)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
}

static void *thread_main(void *ud)
{
    leec_workers *w = ud;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->stop && !w->queue)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->stop)
            break;
        leec_job *j = w->queue;
        w->queue = j->next;
        if (!w->queue)
            w->queue_tail = NULL;
        j->started = true;
        pthread_mutex_unlock(&w->mu);
        j->run(j->arg);
        pthread_mutex_lock(&w->mu);
        append(&w->ready, &w->ready_tail, j);
        uint64_t one = 1;
        ssize_t n = write(w->efd, &one, sizeof one);
        (void)n; /* a full counter still reads as readable */
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* The loop: completions of the jobs worked, oldest first. */
static void on_ready(void *ud, int fd, unsigned events)
{
    leec_workers *w = ud;
    uint64_t n = 0;
    (void)events;
    ssize_t r = read(fd, &n, sizeof n);
    (void)r;
    pthread_mutex_lock(&w->mu);
    leec_job *list = w->ready;
    w->ready = w->ready_tail = NULL;
    pthread_mutex_unlock(&w->mu);
    while (list) {
        leec_job *j = list;
        list = j->next;
        /* A completion may cancel a job of this same list: it is only
         * marked (cancel finds it started), so look at the mark now. */
        if (!j->cancelled && j->done)
            j->done(j->arg);
        job_free(j);
    }
}

static leec_workers *workers_new(leec_ctx *ctx)
{
    leec_workers *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->ctx = ctx;
    w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->efd < 0 || pthread_mutex_init(&w->mu, NULL) != 0) {
        if (w->efd >= 0)
            close(w->efd);
        free(w);
        return NULL;
    }
    pthread_cond_init(&w->cv, NULL);
    if (Leec_loop_watch(ctx, w->efd, EPOLLIN, on_ready, w) != LEEC_OK) {
        Leec_workers_free(w);
        return NULL;
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t want = cpus < 1             ? 1
                  : cpus > MAX_THREADS ? MAX_THREADS
                                       : (size_t)cpus;
    while (w->nthreads < want &&
           pthread_create(&w->threads[w->nthreads], NULL, thread_main, w) == 0)
        w->nthreads++;
    if (w->nthreads == 0) {
        Leec_workers_free(w);
        return NULL;
    }
    return w;
}

leec_code Leec_job_submit(leec_ctx *ctx, leec_job_run_fn run,
                          leec_job_done_fn done, leec_job_free_fn free_arg,
                          void *arg, leec_job **handle)
{
    if (handle)
        *handle = NULL;
    if (!Leec_ctx_workers(ctx)) {
        leec_workers *made = workers_new(ctx);
        if (!made)
            return errno == ENOMEM ? LEEC_E_NOMEM : LEEC_E_IO;
        Leec_ctx_set_workers(ctx, made);
    }
    leec_job *j = calloc(1, sizeof *j);
    if (!j)
        return LEEC_E_NOMEM;
    *j = (leec_job){.run = run, .done = done, .free_arg = free_arg, .arg = arg};
    leec_workers *w = Leec_ctx_workers(ctx);
    pthread_mutex_lock(&w->mu);
    append(&w->queue, &w->queue_tail, j);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (handle)
        *handle = j;
    return LEEC_OK;
}

void Leec_job_cancel(leec_ctx *ctx, leec_job *job)
{
    leec_workers *w = Leec_ctx_workers(ctx);
    if (!job || !w)
        return;
    pthread_mutex_lock(&w->mu);
    if (!job->started) {
        leec_job *prev = NULL;
        for (leec_job *q = w->queue; q; prev = q, q = q->next) {
            if (q != job)
                continue;
            if (prev)
                prev->next = q->next;
            else
                w->queue = q->next;
            if (w->queue_tail == q)
                w->queue_tail = prev;
            break;
        }
        pthread_mutex_unlock(&w->mu);
        job_free(job);
        return;
    }
    job->cancelled = true; /* freed when its work ends, done not run */
    pthread_mutex_unlock(&w->mu);
}

void Leec_workers_free(leec_workers *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (size_t i = 0; i < w->nthreads; i++)
        pthread_join(w->threads[i], NULL);
    if (w->efd >= 0) {
        Leec_loop_unwatch(w->ctx, w->efd);
        close(w->efd);
    }
    while (w->queue) {
        leec_job *j = w->queue;
        w->queue = j->next;
        job_free(j);
    }
    while (w->ready) {
        leec_job *j = w->ready;
        w->ready = j->next;
        job_free(j);
    }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

/* A key job's own data: nothing of its caller but where the key goes. */
typedef struct key_job {
    leec_key_type type;
    leec_key *key;
    leec_code rc;
    leec_key_done_fn done;
    void *ud;
} key_job;

static void key_job_run(void *arg)
{
    key_job *k = arg;
    k->rc = Leec_key_generate(k->type, &k->key);
}

static void key_job_free(void *arg)
{
    key_job *k = arg;
    Leec_key_free(k->key);
    free(k);
}

static void key_job_done(void *arg)
{
    key_job *k = arg;
    leec_key *key = k->key;
    k->key = NULL;
    k->done(k->ud, k->rc, k->rc == LEEC_OK ? key : NULL);
    if (k->rc != LEEC_OK)
        Leec_key_free(key);
}

leec_code Leec_key_job(leec_ctx *ctx, leec_key_type type, leec_key_done_fn done,
                       void *ud, leec_job **handle)
{
    key_job *k = calloc(1, sizeof *k);
    if (!k)
        return LEEC_E_NOMEM;
    *k = (key_job){.type = type, .done = done, .ud = ud};
    leec_code rc = Leec_job_submit(ctx, key_job_run, key_job_done, key_job_free,
                                   k, handle);
    if (rc != LEEC_OK)
        free(k);
    return rc;
}
