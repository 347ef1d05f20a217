/* pool.c - the worker pool, threads' side: a locked FIFO of jobs, worker
 * threads that take jobs from it, per-kind limits, and the pools' lifetime
 * (private pools, the process's default pool, exit and fork).
 *
 * The loop's side (submitting a job, suspending the task, the eventfd that
 * brings finished jobs back, abandoning a job when its task leaves early)
 * is poolwait.c.  Each job's state is guarded by its pool's lock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/pool_internal.h"

#define POOL_MAX_THREADS 1024     /* sanity cap on COLOOP_POOL_THREADS */

/* --- kinds and the queue (all under the pool lock) --- */

static struct kind_limit *find_kind(co_pool *p, const char *kind)
{
    for (int i = 0; kind && i < p->nkinds; i++)
        if (strcmp(p->kinds[i].kind, kind) == 0)
            return &p->kinds[i];
    return NULL;
}

/* The oldest queued job whose kind is under its limit, taken off the
 * queue.  O(queue length) only when limited kinds are queued. */
static struct job *take_runnable(co_pool *p)
{
    for (struct job *j = p->queue.head; j; j = j->next) {
        struct kind_limit *k = find_kind(p, j->spec.kind);
        if (k && k->running >= k->max_running)
            continue;
        if (k)
            k->running++;
        list_unlink(&p->queue, j);
        j->state = JOB_RUNNING;
        p->stats.queued--;
        p->stats.running++;
        return j;
    }
    return NULL;
}

/* A job's run() returned.  True if the caller must free it (abandoned). */
static bool finish_locked(co_pool *p, struct job *j, int result)
{
    struct kind_limit *k = find_kind(p, j->spec.kind);
    if (k)
        k->running--;
    p->stats.running--;
    p->stats.completed++;
    j->result = result;
    j->state = JOB_DONE;
    if (j->abandoned)
        return true;
    port_post(j);
    return false;
}

void job_dispose(struct job *j)
{
    if (j->spec.release)
        j->spec.release(j->spec.arg);
    free(j);
}

/* --- workers --- */

static void *worker_main(void *arg)
{
    co_pool *p = arg;
    pthread_mutex_lock(&p->lock);
    while (!p->stopping) {
        struct job *j = take_runnable(p);
        if (!j) {
            p->stats.idle++;
            pthread_cond_wait(&p->work, &p->lock);
            p->stats.idle--;
            if (p->wakeups > 0)
                p->wakeups--;
            continue;
        }
        pthread_mutex_unlock(&p->lock);
        int result = j->spec.run(j->spec.arg);
        pthread_mutex_lock(&p->lock);
        if (finish_locked(p, j, result)) {
            pthread_mutex_unlock(&p->lock);
            job_dispose(j);   /* release() may be slow: not under the lock */
            pthread_mutex_lock(&p->lock);
        }
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Start one more worker, with every signal blocked: signals such as SIGQUIT
 * (the task dump) and SIGPIPE must reach the loop threads, not a worker. */
static int start_worker(co_pool *p)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&p->threads[p->stats.threads], NULL, worker_main, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return -rc;
    p->stats.threads++;
    return 0;
}

/* Queue a job, waking an idle worker or starting a new one. */
int pool_submit(co_pool *p, struct job *j)
{
    pthread_mutex_lock(&p->lock);
    if (p->stats.idle > p->wakeups) {
        p->wakeups++;
        pthread_cond_signal(&p->work);
    } else if (p->stats.threads < p->max_threads) {
        int rc = start_worker(p);
        if (rc < 0 && p->stats.threads == 0) {
            pthread_mutex_unlock(&p->lock);
            return -EAGAIN;
        }
    }
    j->state = JOB_QUEUED;
    list_push(&p->queue, j);
    p->stats.queued++;
    p->awaited++;
    pthread_mutex_unlock(&p->lock);
    return 0;
}

/* --- making and freeing pools --- */

int pool_default_threads(void)
{
    const char *env = getenv("COLOOP_POOL_THREADS");
    long n = env ? strtol(env, NULL, 10) : 0;
    if (n < 1)
        n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    return n > POOL_MAX_THREADS ? POOL_MAX_THREADS : (int)n;
}

int pool_new(co_pool **out, int threads)
{
    *out = NULL;
    co_pool *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->max_threads = threads > 0 ? threads : pool_default_threads();
    p->threads = calloc((size_t)p->max_threads, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return -ENOMEM;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    *out = p;
    return 0;
}

int pool_free(co_pool *p)
{
    if (!p)
        return 0;
    pthread_mutex_lock(&p->lock);
    if (p->awaited > 0) {
        pthread_mutex_unlock(&p->lock);
        return -EBUSY;
    }
    p->stopping = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->stats.threads; i++)   /* waits for abandoned jobs still running */
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->lock);
    free(p->threads);
    free(p);
    return 0;
}

int pool_set_kind_limit(co_pool *p, const char *kind, int max_running)
{
    if (!p || !kind || max_running < 1)
        return -EINVAL;
    pthread_mutex_lock(&p->lock);
    struct kind_limit *k = find_kind(p, kind);
    int rc = 0;
    if (!k && p->nkinds == POOL_MAX_KINDS)
        rc = -ENOSPC;
    else if (!k)
        p->kinds[p->nkinds++] = (struct kind_limit){ kind, max_running, 0 };
    else
        k->max_running = max_running;
    pthread_mutex_unlock(&p->lock);
    return rc;
}

void pool_get_stats(co_pool *p, struct pool_stats *out)
{
    pthread_mutex_lock(&p->lock);
    *out = p->stats;
    pthread_mutex_unlock(&p->lock);
}

/* --- the default pool --- */

static pthread_mutex_t default_lock = PTHREAD_MUTEX_INITIALIZER;
static co_pool *default_pool;
/* The parent's pool, unusable in a child: kept reachable, so that leak
 * checkers do not report it.  volatile: a static that is only ever written
 * is removed by the optimizer, store and all (Valgrind then reported the pool
 * as "definitely lost" in every forked test child). */
static co_pool *volatile left_by_fork;

/* At exit, join the default pool's workers if none is busy; a job still
 * running (a task abandoned it) must not hold up the process's exit. */
static void default_pool_at_exit(void)
{
    pthread_mutex_lock(&default_lock);
    co_pool *p = default_pool;
    if (p) {
        pthread_mutex_lock(&p->lock);
        bool busy = p->stats.running > 0 || p->awaited > 0;
        pthread_mutex_unlock(&p->lock);
        if (!busy && pool_free(p) == 0)
            default_pool = NULL;
    }
    pthread_mutex_unlock(&default_lock);
}

/* In a forked child the workers are gone (fork copies one thread). */
static void default_pool_after_fork(void)
{
    pthread_mutex_init(&default_lock, NULL);
    left_by_fork = default_pool;
    default_pool = NULL;
}

static void default_pool_hooks(void)
{
    atexit(default_pool_at_exit);
    pthread_atfork(NULL, NULL, default_pool_after_fork);
}

co_pool *pool_default(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, default_pool_hooks);
    pthread_mutex_lock(&default_lock);
    if (!default_pool)
        pool_new(&default_pool, 0);
    co_pool *p = default_pool;
    pthread_mutex_unlock(&default_lock);
    return p;
}

int pool_shutdown_default(void)
{
    pthread_mutex_lock(&default_lock);
    int rc = pool_free(default_pool);
    if (rc == 0)
        default_pool = NULL;
    pthread_mutex_unlock(&default_lock);
    return rc;
}
