/* pool_internal.h - what the two halves of the worker pool share: pool.c
 * (the worker threads' side: queue, workers, kinds, pool lifetime) and
 * poolwait.c (the loop's side: submitting, waiting, the per-loop port).
 * Not for users: see pool.h.
 */
#ifndef COLOOP_POOL_INTERNAL_H
#define COLOOP_POOL_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "runtime/internal.h"
#include "runtime/pool.h"

#define POOL_MAX_KINDS 8          /* kind limits per pool */

struct port;

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

static inline void list_push(struct job_list *l, struct job *j)
{
    j->next = NULL;
    j->prev = l->tail;
    if (l->tail)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
}

static inline void list_unlink(struct job_list *l, struct job *j)
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

/* pool.c: queue a job, waking an idle worker or starting one.  0 or -EAGAIN. */
int pool_submit(co_pool *p, struct job *j);
/* pool.c: call release (if any) and free the job. */
void job_dispose(struct job *j);
/* poolwait.c: a worker hands a finished job to its loop (under the pool lock). */
void port_post(struct job *j);

#endif
