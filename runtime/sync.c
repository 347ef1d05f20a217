/* sync.c - semaphore, mutex, event and wait group: each one a little state
 * and a FIFO of waiters (waitq.h), so each operation is a few lines.
 *
 * Hand-off, not wake-and-retry: a release gives the permit (an unlock the
 * lock) directly to the oldest waiter instead of incrementing the count and
 * letting woken tasks race for it.  So nobody can barge past the queue, and
 * a woken waiter never finds the permit gone and has to wait again.
 */
#include <errno.h>
#include <stddef.h>

#include "runtime/internal.h"
#include "runtime/sync.h"

/* --- semaphore --- */

void sema_init(struct co_sem *s, long permits)
{
    s->permits = permits > 0 ? permits : 0;
    waitq_init(&s->waiters);
}

void sema_fini(struct co_sem *s)
{
    waitq_fail_all(&s->waiters, -CO_ECLOSED);
}

int sema_try_acquire(struct co_sem *s)
{
    if (s->permits == 0)
        return -EAGAIN;
    s->permits--;
    return 0;
}

int sema_await_acquire(struct co_sem *s, int64_t deadline)
{
    int rc = waitq_enter(__func__);
    if (rc < 0)
        return rc;
    if (sema_try_acquire(s) == 0)
        return 0;
    struct co_waiter w = { 0 };
    return waitq_await(&s->waiters, &w, s, "semaphore", deadline);
}

void sema_release(struct co_sem *s)
{
    if (!waitq_grant_first(&s->waiters))
        s->permits++;   /* nobody (still) waits: keep it */
}

long sema_value(const struct co_sem *s) { return s->permits; }

/* --- mutex --- */

void mutex_init(struct co_mutex *m)
{
    m->owner = NULL;
    waitq_init(&m->waiters);
}

void mutex_fini(struct co_mutex *m)
{
    waitq_fail_all(&m->waiters, -CO_ECLOSED);
    m->owner = NULL;
}

int mutex_try_lock(struct co_mutex *m)
{
    co_task *self = task_require_current(__func__);
    if (!self)
        return -CO_ENOTASK;
    if (m->owner == self)
        return -EDEADLK;
    if (m->owner)
        return -EAGAIN;
    m->owner = self;
    return 0;
}

int mutex_await_lock(struct co_mutex *m, int64_t deadline)
{
    int rc = waitq_enter(__func__);
    if (rc < 0)
        return rc;
    rc = mutex_try_lock(m);
    if (rc != -EAGAIN)
        return rc;
    struct co_waiter w = { 0 };
    return waitq_await(&m->waiters, &w, m, "mutex", deadline);   /* unlock set owner = us */
}

int mutex_unlock(struct co_mutex *m)
{
    if (!m->owner || m->owner != task_self())
        return -EPERM;
    struct co_waiter *next = waitq_grant_first(&m->waiters);
    m->owner = next ? next->task : NULL;
    return 0;
}

/* --- event --- */

void event_init(struct co_event *e)
{
    e->is_set = false;
    waitq_init(&e->waiters);
}

void event_fini(struct co_event *e)
{
    waitq_fail_all(&e->waiters, -CO_ECLOSED);
}

void event_set(struct co_event *e)
{
    e->is_set = true;
    waitq_grant_all(&e->waiters);
}

void event_clear(struct co_event *e) { e->is_set = false; }
bool event_is_set(const struct co_event *e) { return e->is_set; }

int event_await(struct co_event *e, int64_t deadline)
{
    int rc = waitq_enter(__func__);
    if (rc < 0 || e->is_set)
        return rc;
    struct co_waiter w = { 0 };
    return waitq_await(&e->waiters, &w, e, "event", deadline);
}

/* --- wait group --- */

void waitgroup_init(struct co_waitgroup *wg)
{
    wg->count = 0;
    waitq_init(&wg->waiters);
}

void waitgroup_fini(struct co_waitgroup *wg)
{
    waitq_fail_all(&wg->waiters, -CO_ECLOSED);
}

int waitgroup_add(struct co_waitgroup *wg, long n)
{
    if (wg->count + n < 0)
        return -EINVAL;
    wg->count += n;
    if (wg->count == 0)
        waitq_grant_all(&wg->waiters);
    return 0;
}

int waitgroup_done(struct co_waitgroup *wg) { return waitgroup_add(wg, -1); }

int waitgroup_await(struct co_waitgroup *wg, int64_t deadline)
{
    int rc = waitq_enter(__func__);
    if (rc < 0 || wg->count == 0)
        return rc;
    struct co_waiter w = { 0 };
    return waitq_await(&wg->waiters, &w, wg, "wait group", deadline);
}
