/* poolwait.c - the worker pool, loop's side: a task submits a job and
 * waits; a per-loop "port" brings the finished job back (pool.c runs it).
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
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "runtime/pool_internal.h"

struct port {
    co_loop *loop;              /* the loop that watches efd */
    int efd;                    /* eventfd a worker writes after posting a job */
    pthread_mutex_t lock;       /* guards inbox and the jobs' in_inbox */
    struct job_list inbox;      /* finished jobs whose task still waits */
    unsigned long jobs;         /* jobs that may still post here (loop thread only) */
};

static _Thread_local struct port *this_thread_port;

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
void port_post(struct job *j)
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
    if (deadline != CO_NO_DEADLINE && deadline <= loop->now_ns)
        return -ETIMEDOUT;   /* do not wake a worker for a job nobody will wait for */
    struct port *port;
    int rc = port_get(loop, &port);
    if (rc < 0)
        return rc;
    struct job *j = job_new(job, port, self);
    rc = j ? pool_submit(pool, j) : -ENOMEM;
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
