/* waitq.h - the FIFO of waiting tasks inside every sync primitive.
 *
 * Channels, semaphores, mutexes, events and wait groups (sync.h, channel.h)
 * are each a little state plus one or two of these queues.  Not for users:
 * the structs are visible only because the primitives embed them.
 *
 * A waiter is a small node on the waiting task's own stack: the task is
 * suspended, so the node stays valid until the task resumes, and the task
 * takes it out of the queue itself before it returns.  The protocol:
 *
 *   - A waker that hands something over (a permit, a value, the lock) calls
 *     waitq_grant_first(): it pops waiters from the head, skipping any whose
 *     task was already woken this turn by its deadline or a cancel
 *     (task_wake() returns false for those), marks the one it woke
 *     `granted`, and returns it so the waker can copy data in or out.  The
 *     woken task has not run yet, so its buffers are still there to copy.
 *   - A waiter woken by its deadline or a cancel is still queued: it
 *     unlinks itself when it resumes.  Nothing was handed to it, so nothing
 *     is lost: the next waker simply skips it and grants the next waiter.
 *   - A granted waiter always succeeds, even if it was cancelled later in
 *     the same turn (the cancel is sticky: its next await_* fails), because
 *     what it was handed (a value taken from a sender, a permit) cannot be
 *     taken back safely.  It owns what it got, e.g. a permit to release.
 *
 * Popping granted waiters at once keeps the head of the queue the next
 * candidate, so every hand-off is O(1) and strictly FIFO: a task arriving
 * later cannot barge past a waiter that was already handed something.
 */
#ifndef COLOOP_WAITQ_H
#define COLOOP_WAITQ_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/loop.h"

struct co_waiter {
    struct co_waiter *prev, *next;  /* links while queued */
    co_task *task;                  /* the waiting task */
    void *data;                     /* what it offers or wants, e.g. a channel element */
    bool queued;                    /* still linked in the queue */
    bool granted;                   /* a waker handed it what it waited for */
};

struct co_waitq {
    struct co_waiter *head, *tail;  /* oldest first; may hold stale (already woken) waiters */
};

void waitq_init(struct co_waitq *q);

/* True when no waiter is queued (stale ones count as queued). */
static inline bool waitq_is_empty(const struct co_waitq *q) { return q->head == NULL; }

/* The checks every await_* of a primitive starts with: -CO_ENOTASK outside
 * a task (with a message naming fn), -ECANCELED if the caller was cancelled
 * (so a cancelled task cannot keep taking locks or values), else 0. */
int waitq_enter(const char *fn);

/* Queue the running task with `w` (caller's stack; w->data set by the caller)
 * and suspend it, recorded as waiting on `what` `obj`.  Returns 0 when a
 * waker granted it, else -ETIMEDOUT, -ECANCELED, -ENOMEM or the error a
 * waker passed to waitq_fail_all(); the waiter is unlinked either way. */
int waitq_await(struct co_waitq *q, struct co_waiter *w, const void *obj, const char *what,
                int64_t deadline);

/* Wake the oldest waiter still waiting and mark it granted; NULL if none.
 * Never suspends. */
struct co_waiter *waitq_grant_first(struct co_waitq *q);

/* Wake every waiter with `rc` (< 0, not granted) and empty the queue. */
void waitq_fail_all(struct co_waitq *q, int rc);

/* Grant every waiter (an event being set). */
void waitq_grant_all(struct co_waitq *q);

#endif
