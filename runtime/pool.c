/* pool.c - the worker pool: a locked FIFO of jobs, worker threads that take
 * jobs from it, and a per-loop "port" through which finished jobs come back.
 *
 *   task (loop thread)            worker thread              loop (same thread as task)
 *   pool_await_job                                           
 *     queue the job  ----------->  take it, run() it
 *     task_suspend(EXTERNAL)       lock port, append to
 *                                  its inbox, write eventfd -> port_drain: empty the
 *                                                              inbox, task_wake each
 *     resumes: copy the result
 *     back, free the job
 *
 * The job is heap memory owned by the pool, never by the task, so a task
 * that leaves early (cancel, deadline) can simply mark it abandoned: whoever
 * touches it last frees it.  Each job's state is guarded by its pool's lock;
 * a port's inbox by the port's lock (taken inside the pool lock, never the
 * other way round).  A port exists while its loop has jobs in flight: its
 * eventfd is made on the first job and closed when the last one is
 * collected, so an idle loop holds no descriptor for the pool.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "runtime/internal.h"
#include "runtime/pool.h"

#define POOL_MAX_KINDS   8        /* kind limits per pool */
#define POOL_MAX_THREADS 1024     /* sanity cap on COLOOP_POOL_THREADS */

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE };

struct job {
    struct pool_job spec;       /* the caller's job; spec.arg points at `copy` when arg_size > 0 */
    void *caller_arg;           /* where the copy goes back when the job is collected */
    int result;                 /* run()'s return value once JOB_DONE */
    enum job_state state;       /* guarded by the pool's lock */
    bool abandoned;             /* the task left while it ran: the worker frees it */
    bool in_inbox;              /* linked in port->inbox; guarded by the port's lock */
    struct job *prev, *next;    /* links in the pool's queue, later in the port's inbox */
    co_task *waiter;            /* the task in pool_await_job() */
    struct port *port;          /* where to report completion */
    max_align_t copy[];         /* arg_size bytes: the pool's copy of arg */
};

struct job_list {
    struct job *head, *tail;    /* oldest first */
};

struct kind_limit {
    const char *kind;           /* the caller's static string */
    int max_running;            /* the cap */
    int running;                /* jobs of this kind in run() now */
};

struct co_pool {
    pthread_mutex_t lock;       /* guards everything below and every job's state */
    pthread_cond_t work;        /* a job was queued, or the pool stops */
    struct job_list queue;      /* jobs not started yet */
    pthread_t *threads;         /* workers started so far, joined by pool_free */
    int max_threads;            /* how many may be started */
    int wakeups;                /* signals sent to idle workers not yet awake */
    bool stopping;              /* pool_free: workers exit */
    unsigned long awaited;      /* jobs a task still waits for: pool_free refuses */
    struct kind_limit kinds[POOL_MAX_KINDS];
    int nkinds;
    struct pool_stats stats;    /* threads, idle and the job counters */
};

/* One per loop with jobs in flight (so one per thread, as loops are). */
struct port {
    co_loop *loop;              /* the loop that watches efd */
    int efd;                    /* eventfd a worker writes after posting a job */
    pthread_mutex_t lock;       /* guards inbox and the jobs' in_inbox */
    struct job_list inbox;      /* finished jobs whose task still waits */
    unsigned long jobs;         /* jobs that may still post here (loop thread only) */
};

static _Thread_local struct port *this_thread_port;

/* --- job lists --- */

static void list_push(struct job_list *l, struct job *j)
{
    j->next = NULL;
    j->prev = l->tail;
    if (l->tail)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
}

static void list_unlink(struct job_list *l, struct job *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        l->head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else
        l->tail = j->prev;
    j->prev = j->next = NULL;
}

/* --- the per-loop port --- */

/* Called by the loop when a worker wrote the eventfd: wake every task whose
 * job is in the inbox.  A task_wake() that fails means the task was woken
 * this turn by a cancel or its deadline: it will find its job finished and
 * out of the inbox, and free it itself. */
static void port_drain(void *arg)
{
    struct port *port = arg;
    uint64_t count;
    if (read(port->efd, &count, sizeof count) < 0)
        return;   /* EAGAIN: an older write, already drained */
    pthread_mutex_lock(&port->lock);
    struct job *done = port->inbox.head;
    port->inbox.head = port->inbox.tail = NULL;
    for (struct job *j = done; j; j = j->next)
        j->in_inbox = false;
    pthread_mutex_unlock(&port->lock);
    while (done) {
        struct job *j = done;
        done = j->next;
        task_wake(j->waiter, 0);
    }
}

/* The calling loop's port, made if needed, with one more job counted. */
static int port_get(co_loop *loop, struct port **out)
{
    struct port *port = this_thread_port;
    if (!port) {
        port = calloc(1, sizeof *port);
        if (!port)
            return -ENOMEM;
        port->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        int rc = port->efd < 0 ? -errno : loop_watch_fd(loop, port->efd, port_drain, port);
        if (rc < 0) {
            if (port->efd >= 0)
                close(port->efd);
            free(port);
            return rc;
        }
        pthread_mutex_init(&port->lock, NULL);
        port->loop = loop;
        this_thread_port = port;
    }
    port->jobs++;
    *out = port;
    return 0;
}

/* One job less; the last one closes the port.  No worker can still post
 * here then: every job that could was collected, or abandoned (a worker
 * checks that under the pool lock before it touches the port). */
static void port_put(struct port *port)
{
    if (--port->jobs > 0)
        return;
    loop_unwatch_fd(port->loop, port->efd);
    close(port->efd);
    pthread_mutex_destroy(&port->lock);
    this_thread_port = NULL;
    free(port);
}

/* Worker side, under the pool lock: hand a finished job to its loop.  The
 * eventfd is written under the port lock so the loop cannot close it first. */
static void port_post(struct job *j)
{
    struct port *port = j->port;
    uint64_t one = 1;
    pthread_mutex_lock(&port->lock);
    list_push(&port->inbox, j);
    j->in_inbox = true;
    if (write(port->efd, &one, sizeof one) < 0) {
        /* cannot fail: the counter would have to reach 2^64 - 1 */
    }
    pthread_mutex_unlock(&port->lock);
}

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

static void job_dispose(struct job *j)
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
static int submit(co_pool *p, struct job *j)
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

/* --- the task's side --- */

static struct job *job_new(const struct pool_job *spec, struct port *port, co_task *waiter)
{
    struct job *j = calloc(1, sizeof *j + spec->arg_size);
    if (!j)
        return NULL;
    j->spec = *spec;
    j->caller_arg = spec->arg;
    j->waiter = waiter;
    j->port = port;
    if (spec->arg_size > 0) {
        memcpy(j->copy, spec->arg, spec->arg_size);
        j->spec.arg = j->copy;
    }
    return j;
}

/* The task was woken by port_drain: the job is done and out of the inbox. */
static void collect(co_pool *p, struct job *j, int *result)
{
    if (result)
        *result = j->result;
    if (j->spec.arg_size > 0)
        memcpy(j->caller_arg, j->copy, j->spec.arg_size);
    pthread_mutex_lock(&p->lock);
    p->awaited--;
    pthread_mutex_unlock(&p->lock);
    free(j);
}

/* The task leaves before collecting (cancel, deadline): whoever touches the
 * job last frees it.  Queued: drop it unrun.  Running: the worker frees it.
 * Done: free it now, taking it out of the inbox if the loop has not yet. */
static void abandon(co_pool *p, struct job *j)
{
    bool dispose_now = true;
    pthread_mutex_lock(&p->lock);
    p->awaited--;
    p->stats.abandoned++;
    if (j->state == JOB_QUEUED) {
        list_unlink(&p->queue, j);
        p->stats.queued--;
    } else if (j->state == JOB_RUNNING) {
        j->abandoned = true;
        dispose_now = false;
    } else {
        pthread_mutex_lock(&j->port->lock);
        if (j->in_inbox)
            list_unlink(&j->port->inbox, j);
        j->in_inbox = false;
        pthread_mutex_unlock(&j->port->lock);
    }
    pthread_mutex_unlock(&p->lock);
    if (dispose_now)
        job_dispose(j);
}

int pool_await_job(co_pool *pool, const struct pool_job *job, int *result, int64_t deadline)
{
    co_task *self = task_require_current(__func__);
    if (!self)
        return -CO_ENOTASK;
    if (self->cancelled)
        return -ECANCELED;
    if (!job->run || (job->arg_size > 0 && !job->arg))
        return -EINVAL;
    if (!pool && !(pool = pool_default()))
        return -ENOMEM;
    co_loop *loop = self->loop;
    struct port *port;
    int rc = port_get(loop, &port);
    if (rc < 0)
        return rc;
    struct job *j = job_new(job, port, self);
    rc = j ? submit(pool, j) : -ENOMEM;
    if (rc < 0) {
        free(j);
        port_put(port);
        return rc;
    }
    loop->external_waits++;   /* the loop keeps polling; no deadlock report */
    rc = task_suspend(WAIT_EXTERNAL, j, job->kind ? job->kind : "pool job", deadline);
    loop->external_waits--;
    if (rc == 0)
        collect(pool, j, result);
    else
        abandon(pool, j);
    port_put(port);
    return rc;
}

int await_thread(pool_run_fn fn, void *arg, size_t arg_size, int *result, int64_t deadline)
{
    struct pool_job job = { .run = fn, .arg = arg, .arg_size = arg_size };
    if (!task_require_current(__func__))
        return -CO_ENOTASK;
    return pool_await_job(NULL, &job, result, deadline);
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
static co_pool *left_by_fork;   /* the parent's pool, unusable in a child: kept reachable */

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
