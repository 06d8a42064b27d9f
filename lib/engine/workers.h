/* The context's workers: a few threads for CPU-heavy steps (generating an
 * RSA key takes seconds), so that nothing long runs on the event loop. A
 * job's work runs on a worker thread and must touch nothing of the
 * context; its completion runs on the loop, from leec_ctx_perform(), like
 * every other event. Started on the first job, joined when the context is
 * freed. */
#ifndef LEEC_ENGINE_WORKERS_H
#define LEEC_ENGINE_WORKERS_H

#include "crypto/crypto.h"
#include "leec/leec.h"

typedef struct leec_workers leec_workers;
typedef struct leec_job leec_job;

/* Runs on a worker thread: the job's own data only. */
typedef void (*leec_job_run_fn)(void *arg);
/* Runs on the loop once the work is done (never for a cancelled job). */
typedef void (*leec_job_done_fn)(void *arg);
/* Frees arg: after done, or instead of it for a cancelled job. */
typedef void (*leec_job_free_fn)(void *arg);

/* Queues a job; *handle (if not NULL) identifies it until done runs or it
 * is cancelled. LEEC_E_NOMEM, LEEC_E_IO (no thread could be started);
 * arg is then not freed. */
leec_code Leec_job_submit(leec_ctx *ctx, leec_job_run_fn run,
                          leec_job_done_fn done, leec_job_free_fn free_arg,
                          void *arg, leec_job **handle);
/* Cancels a job (NULL does nothing): done will not run; its arg is freed
 * now if the job had not started, else when its work ends. */
void Leec_job_cancel(leec_ctx *ctx, leec_job *job);

/* A key of type generated on a worker (RSA takes seconds): done(ud, rc,
 * key) runs on the loop, key (NULL on an error) then the callee's.
 * LEEC_OK: queued, *handle as Leec_job_submit's; an error (no thread to
 * be had, LEEC_E_NOMEM): nothing queued, the caller generates it in
 * place. */
typedef void (*leec_key_done_fn)(void *ud, leec_code rc, leec_key *key);
leec_code Leec_key_job(leec_ctx *ctx, leec_key_type type, leec_key_done_fn done,
                       void *ud, leec_job **handle);

/* Stops the threads (waiting for the work under way) and frees every job
 * left without calling done. */
void Leec_workers_free(leec_workers *w);

#endif
