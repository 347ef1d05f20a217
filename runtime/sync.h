/* sync.h - semaphores, mutexes, events and wait groups for the tasks of one
 * loop: asyncio.Semaphore, Lock, Event, and Go's sync.WaitGroup.
 *
 * The semaphore is the concurrency cap the rest of coloop uses ("at most 10
 * requests in flight"): acquire before the work, release after.
 *
 * Common rules:
 *   - The structs live in the caller's storage (a global, a struct field, a
 *     task's stack that outlives every user): _init before use, _fini after.
 *     Their fields are private: use the functions.
 *   - Waiters are served FIFO.  A waiter that times out or is cancelled
 *     leaves the queue without taking what a waker meant for another: a
 *     release never gets lost (asyncio lost semaphore permits that way).
 *     A waiter that was handed its permit/lock in the same turn it was
 *     cancelled still gets it (returns 0) and must release it: the cancel
 *     fails its next await_* instead.  See waitq.h.
 *   - Every await_* returns -ECANCELED at once, without taking anything, if
 *     the calling task was cancelled; -CO_ENOTASK outside a task.
 *   - Loop-local: not thread-safe.  Wakers (release, set, done) never suspend
 *     and may be called from plain code on the loop's thread; mutex_unlock
 *     only from the task that holds the mutex (-EPERM otherwise).
 */
#ifndef COLOOP_SYNC_H
#define COLOOP_SYNC_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/loop.h"
#include "runtime/waitq.h"

/* --- semaphore: a count of permits --- */

struct co_sem {
    long permits;               /* available now; never > 0 while tasks wait */
    struct co_waitq waiters;    /* tasks in sema_await_acquire() */
};

/* Start with `permits` (>= 0) available.  Never suspends. */
void sema_init(struct co_sem *s, long permits);
/* Tasks still waiting wake with -CO_ECLOSED; the struct may then be reused. */
void sema_fini(struct co_sem *s);

/* Take one permit, suspending until one is released to this task.
 * 0 (the caller holds a permit and must sema_release it), -ETIMEDOUT (the
 * deadline passed first), -ECANCELED, -CO_ECLOSED (sema_fini while waiting),
 * -CO_ENOTASK.  Only 0 means a permit was taken. */
int sema_await_acquire(struct co_sem *s, int64_t deadline);
/* Take a permit if one is free and nobody queues before us: 0 or -EAGAIN. */
int sema_try_acquire(struct co_sem *s);
/* Give a permit back: to the oldest waiter if any, else to the count. */
void sema_release(struct co_sem *s);
long sema_value(const struct co_sem *s);

/* --- mutex: one owner at a time --- */

struct co_mutex {
    co_task *owner;             /* the task holding it, or NULL */
    struct co_waitq waiters;    /* tasks in mutex_await_lock() */
};

void mutex_init(struct co_mutex *m);
void mutex_fini(struct co_mutex *m);   /* waiters wake with -CO_ECLOSED */

/* Lock it, suspending while another task holds it.  0 (the caller owns it),
 * -EDEADLK (the caller already owns it: not recursive), -ETIMEDOUT,
 * -ECANCELED, -CO_ECLOSED (mutex_fini), -CO_ENOTASK. */
int mutex_await_lock(struct co_mutex *m, int64_t deadline);
/* 0 if locked now, -EAGAIN if held (or others queue first), -EDEADLK, -CO_ENOTASK. */
int mutex_try_lock(struct co_mutex *m);
/* Hand the lock to the oldest waiter, or free it.  0, or -EPERM if the
 * running task is not the owner (nothing changes). */
int mutex_unlock(struct co_mutex *m);

/* --- event: a flag tasks can wait for --- */

struct co_event {
    bool is_set;                /* the flag */
    struct co_waitq waiters;    /* tasks in event_await() */
};

void event_init(struct co_event *e);   /* starts clear */
void event_fini(struct co_event *e);   /* waiters wake with -CO_ECLOSED */

/* Set the flag and wake every waiter (each returns 0, even if the flag is
 * cleared again before it runs).  Never suspends. */
void event_set(struct co_event *e);
void event_clear(struct co_event *e);
bool event_is_set(const struct co_event *e);

/* Return at once if the flag is set, else suspend until event_set().
 * 0, -ETIMEDOUT, -ECANCELED, -CO_ECLOSED (event_fini), -CO_ENOTASK. */
int event_await(struct co_event *e, int64_t deadline);

/* --- wait group: wait until a count of jobs drops to zero --- */

struct co_waitgroup {
    long count;                 /* jobs added and not done yet */
    struct co_waitq waiters;    /* tasks in waitgroup_await() */
};

void waitgroup_init(struct co_waitgroup *wg);   /* count 0 */
void waitgroup_fini(struct co_waitgroup *wg);   /* waiters wake with -CO_ECLOSED */

/* Add n (may be negative) to the count; reaching 0 wakes every waiter.
 * 0, or -EINVAL if the count would go below 0 (nothing changes).
 * Call add before starting the job, not inside it, or a waiter may see 0
 * too early.  Never suspends. */
int waitgroup_add(struct co_waitgroup *wg, long n);
/* waitgroup_add(wg, -1). */
int waitgroup_done(struct co_waitgroup *wg);

/* Return at once if the count is 0, else suspend until it reaches 0.
 * 0, -ETIMEDOUT, -ECANCELED, -CO_ECLOSED (waitgroup_fini), -CO_ENOTASK. */
int waitgroup_await(struct co_waitgroup *wg, int64_t deadline);

#endif
