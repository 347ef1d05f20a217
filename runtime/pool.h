/* pool.h - worker threads for blocking and CPU-bound work: coloop's
 * asyncio.to_thread / loop.run_in_executor.
 *
 * A task must never block its loop: a blocking call (getaddrinfo, a disk
 * read, a long computation) stops every other task of the loop with it.
 * await_thread() runs such a function on a worker thread instead and
 * suspends only the calling task; the loop goes on running the others.  When
 * the job ends, the worker wakes the loop through an eventfd the loop watches
 * and the task resumes with the job's result.
 *
 * Threads: a pool has up to N workers (default: the number of CPUs, or the
 * COLOOP_POOL_THREADS environment variable), started lazily as jobs arrive
 * and kept until the pool is freed.  Jobs start in FIFO order.  One pool may
 * serve any number of loops on any threads: pool_default() is the process's
 * shared pool, used by await_thread(); a loop (or a library) that wants its
 * own workers makes a private one with pool_new().  Each job's completion
 * goes back to the loop that submitted it.  The job function runs on a
 * worker thread: it must not call any coloop function or touch loop-local
 * objects (channels, semaphores, tasks).
 *
 * Memory: cancelling or timing out the waiting task resumes it at once, but
 * the job cannot be stopped: it finishes in the background.  So the job's
 * memory belongs to the pool, not to the task, and the rule for `arg` is:
 *   - arg_size > 0 (the safe default): the pool copies arg_size bytes from
 *     arg into the job before it starts, run() gets a pointer to that copy,
 *     and the copy is written back to arg when the job ends while the task
 *     still waits.  So arg may live on the task's stack: if the task leaves
 *     early, its stack can be reused at once, run() only ever sees the copy.
 *   - arg_size == 0: run() gets arg itself, which must then stay valid until
 *     the job has really ended (after an early return, that is later):
 *     static data, or heap data that `release` frees.
 *   - release (optional): if the task left before the job ended, the pool
 *     calls release(what run got) exactly once, after run() returned or
 *     instead of running it (a job still queued is dropped, not run).  Use
 *     it to free what run() produced (freeaddrinfo) or what arg owns.  It
 *     may run on a worker thread or on the loop's thread.
 *
 * Capping one kind of job: a pool can limit how many jobs of one kind run at
 * once (pool_set_kind_limit), across every loop using the pool; excess jobs
 * of that kind wait in the pool's queue while other kinds run.  DNS uses it
 * so lookups can never occupy every worker.  A loop-local semaphore around
 * the await (sync.h) works too, and keeps the waiting out of the pool
 * queue, but caps one loop only.
 *
 * Lifetime: the loop's eventfd exists only while that loop has jobs in
 * flight, so an idle pool keeps no descriptor open and never keeps a loop
 * alive; while a task waits on a job the loop counts it as an external wait
 * (no deadlock report).  pool_free() joins the workers; the default pool's
 * idle workers are joined at exit (pool_shutdown_default() does it earlier).
 * After fork() the child gets a fresh default pool (the workers stayed in
 * the parent); a private pool must not be used in a forked child.
 */
#ifndef COLOOP_POOL_H
#define COLOOP_POOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct co_pool co_pool;

/* Runs on a worker thread; its return value is the job's result. */
typedef int (*pool_run_fn)(void *arg);

struct pool_job {
    pool_run_fn run;              /* the work, on a worker thread */
    void *arg;                    /* its argument (see the memory rule above) */
    size_t arg_size;              /* > 0: copied in, and back out if still awaited */
    void (*release)(void *arg);   /* optional: cleanup when the waiter left early */
    const char *kind;             /* optional: static name for the task dump and kind limits */
};

/* A private pool of up to `threads` workers (<= 0: pool_default_threads()).
 * No thread starts until the first job.  0, -ENOMEM.  Never suspends. */
int pool_new(co_pool **out, int threads);

/* Stop the workers and free the pool.  Jobs whose task left early are
 * allowed to finish first (this waits for them); queued jobs are not run.
 * Returns 0, or -EBUSY (nothing freed) while a task still waits on a job.
 * Call it from plain code or a task; it blocks the calling thread. */
int pool_free(co_pool *pool);

/* The process-wide pool, made on first use (NULL only on ENOMEM). */
co_pool *pool_default(void);
/* COLOOP_POOL_THREADS if set to a number >= 1, else the number of CPUs. */
int pool_default_threads(void);
/* Join the default pool's workers now (a later use makes a new pool).
 * 0, or -EBUSY while a task waits on one of its jobs. */
int pool_shutdown_default(void);

/* At most `max_running` (>= 1) jobs of `kind` (a static string, compared by
 * contents) run at once in this pool.  0, -EINVAL, -ENOSPC (too many kinds). */
int pool_set_kind_limit(co_pool *pool, const char *kind, int max_running);

/* Run `job` on `pool` (NULL = the default pool) and suspend the calling task
 * until it ends.  Returns 0 with *result (may be NULL) = run()'s return
 * value, after copying the arg back; or, with the job abandoned as described
 * above: -ETIMEDOUT (the deadline passed, whether the job was queued or
 * running), -ECANCELED (the task was cancelled; checked first, then nothing
 * is submitted).  Other errors, nothing submitted: -EINVAL (no run, or
 * arg_size > 0 with a NULL arg), -ENOMEM, -EAGAIN (no worker thread could be
 * started), an eventfd error such as -EMFILE, -CO_ENOTASK. */
int pool_await_job(co_pool *pool, const struct pool_job *job, int *result, int64_t deadline);

/* Shorthand on the default pool: fn(copy of arg_size bytes of arg) on a
 * worker, as pool_await_job() with no release and no kind. */
int await_thread(pool_run_fn fn, void *arg, size_t arg_size, int *result, int64_t deadline);

/* Counters for tests, benchmarks and dumps (a snapshot taken under the
 * pool's lock).  Never suspends. */
struct pool_stats {
    int threads;                  /* workers started */
    int idle;                     /* workers waiting for a job */
    unsigned long queued;         /* jobs waiting to start */
    unsigned long running;        /* jobs in run() now */
    unsigned long completed;      /* jobs whose run() returned */
    unsigned long abandoned;      /* jobs whose task left before they ended */
};
void pool_get_stats(co_pool *pool, struct pool_stats *out);

#endif
