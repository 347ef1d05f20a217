/* waitq.c - the FIFO of waiting tasks shared by the sync primitives; see
 * waitq.h for the hand-off protocol (who unlinks a waiter, and why no
 * wakeup is lost when a waiter times out or is cancelled). */
#include <errno.h>
#include <stddef.h>

#include "runtime/internal.h"
#include "runtime/waitq.h"

void waitq_init(struct co_waitq *q)
{
    q->head = q->tail = NULL;
}

static void push_tail(struct co_waitq *q, struct co_waiter *w)
{
    w->next = NULL;
    w->prev = q->tail;
    if (q->tail)
        q->tail->next = w;
    else
        q->head = w;
    q->tail = w;
    w->queued = true;
}

static void unlink_waiter(struct co_waitq *q, struct co_waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        q->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        q->tail = w->prev;
    w->prev = w->next = NULL;
    w->queued = false;
}

static struct co_waiter *pop_head(struct co_waitq *q)
{
    struct co_waiter *w = q->head;
    if (w)
        unlink_waiter(q, w);
    return w;
}

int waitq_enter(const char *fn)
{
    co_task *self = task_require_current(fn);
    if (!self)
        return -CO_ENOTASK;
    return self->cancelled ? -ECANCELED : 0;
}

int waitq_await(struct co_waitq *q, struct co_waiter *w, const void *obj, const char *what,
                int64_t deadline)
{
    w->task = task_self();
    w->granted = false;
    push_tail(q, w);
    int rc = task_suspend(WAIT_SYNC, obj, what, deadline);
    if (w->queued)          /* woken by the deadline or a cancel: leave the queue ourselves */
        unlink_waiter(q, w);
    return w->granted ? 0 : rc;
}

struct co_waiter *waitq_grant_first(struct co_waitq *q)
{
    struct co_waiter *w;
    while ((w = pop_head(q))) {
        /* false: its deadline or a cancel woke it this turn; it will return
         * that error, so the grant goes to the next one instead. */
        if (task_wake(w->task, 0)) {
            w->granted = true;
            return w;
        }
    }
    return NULL;
}

void waitq_fail_all(struct co_waitq *q, int rc)
{
    struct co_waiter *w;
    while ((w = pop_head(q)))
        task_wake(w->task, rc);
}

void waitq_grant_all(struct co_waitq *q)
{
    while (waitq_grant_first(q))
        ;
}
