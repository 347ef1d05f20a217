/* task.c - spawning, suspending, waking, joining and cancelling tasks.
 *
 * Read task_suspend() first: it is the only function in coloop that switches
 * away from a running task.  Every await_* function is a few lines around it:
 * record why we wait, maybe arm a deadline timer, switch to the loop, and on
 * return report the code the waker left in wake_rc.  A timer or a cancel
 * that wakes a task never touches its wait registration; the woken task
 * removes itself (from the fd table, a join, a channel queue) when it
 * resumes, so a timeout, a cancel and a normal wakeup all leave nothing behind
 * by the same path.  (A waker that hands the task something - a permit, a
 * value - may unlink it as it hands it over: see waitq.c.)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"

static co_task *task_from_timer(struct co_timer *timer)
{
    return (co_task *)((char *)timer - offsetof(co_task, deadline));
}

static void deadline_expired(struct co_timer *timer)
{
    co_task *t = task_from_timer(timer);
    if (task_wake(t, -ETIMEDOUT))
        t->woken_by_deadline = true;
}

co_task *task_self(void)
{
    co_loop *loop = loop_this_thread();
    return loop ? loop->current : NULL;
}

co_task *task_require_current(const char *fn)
{
    co_task *self = task_self();
    if (!self)
        fprintf(stderr, "coloop: %s() called outside a task: only code running inside a task "
                        "can suspend (spawn a task, or wrap the call in co_run())\n", fn);
    return self;
}

static int suspend(co_task *self, enum wait_kind why, const void *obj, const char *what,
                   int64_t deadline)
{
    co_loop *loop = self->loop;
    if (deadline != CO_NO_DEADLINE) {
        if (deadline <= loop->now_ns)
            return -ETIMEDOUT;
        if (timer_heap_add(&loop->timers, &self->deadline, deadline) < 0)
            return -ENOMEM;
    }
    self->wait = why;
    self->wait_obj = obj;
    self->wait_what = what;
    self->state = TASK_WAITING;
    self->woken_by_deadline = false;
    if (why == WAIT_YIELD)
        task_wake(self, 0);

    loop_switch_away(loop, self);   /* <- the task stops here and resumes here */

    timer_heap_remove(&loop->timers, &self->deadline);
    self->wait = WAIT_NONE;
    self->wait_obj = NULL;
    self->wait_what = NULL;
    return self->wake_rc;
}

int task_suspend(enum wait_kind why, const void *obj, const char *what, int64_t deadline)
{
    co_task *self = task_self();
    if (self->cancelled)
        return -ECANCELED;
    return suspend(self, why, obj, what, deadline);
}

int task_suspend_shielded(enum wait_kind why, const void *obj, const char *what, int64_t deadline)
{
    co_task *self = task_self();
    self->shielded = true;
    int rc = suspend(self, why, obj, what, deadline);
    self->shielded = false;
    return rc;
}

bool task_wake(co_task *t, int rc)
{
    if (t->state != TASK_WAITING)
        return false;
    t->wake_rc = rc;
    t->state = TASK_READY;
    loop_make_ready(t->loop, t);
    return true;
}

static void task_entry(void *arg)
{
    co_task *t = arg;
    loop_release_ended(t->loop);   /* the task that handed over to us may have just ended */
    t->result = t->fn(t->arg);
    t->state = TASK_DONE;
    loop_task_ending(t->loop, t);  /* chooses where coro_run goes when we return */
}

static void task_link(co_loop *loop, co_task *t)
{
    t->prev = NULL;
    t->next = loop->all_head;
    if (loop->all_head)
        loop->all_head->prev = t;
    loop->all_head = t;
}

static void task_unlink(co_task *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        t->loop->all_head = t->next;
    if (t->next)
        t->next->prev = t->prev;
}

int task_spawn_at(co_task **out, co_task_fn fn, void *arg, const struct co_spawn_opts *opts,
                  const char *fn_name, const char *file, int line)
{
    static const struct co_spawn_opts defaults = { 0 };
    co_loop *loop = loop_this_thread();
    *out = NULL;
    if (!loop)
        return -CO_ENOLOOP;
    if (!opts)
        opts = &defaults;
    co_task *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    size_t size = opts->stack_size ? opts->stack_size : CO_STACK_DEFAULT_SIZE;
    int rc = stack_cache_get(&loop->stacks, &t->stack, size, !opts->unguarded);
    if (rc < 0)
        goto fail_free;
    rc = coro_make(&t->coro, &t->stack, task_entry, t, &loop->home);
    if (rc < 0)
        goto fail_stack;
    t->fn = fn;
    t->arg = arg;
    t->loop = loop;
    t->id = ++loop->next_task_id;
    snprintf(t->name, sizeof t->name, "%s", opts->name ? opts->name : fn_name);
    t->spawn_file = file;
    t->spawn_line = line;
    timer_init(&t->deadline, deadline_expired);
    task_link(loop, t);
    loop->stats.tasks_spawned++;
    loop->stats.tasks_alive++;
    t->state = TASK_READY;
    loop_make_ready(loop, t);
    *out = t;
    return 0;
fail_stack:
    stack_cache_put(&loop->stacks, &t->stack);
fail_free:
    free(t);
    return rc;
}

/* A detached task ended: its failure is said here, since no handle owner
 * will look at it.  If some task is joining it anyway (it knew the handle),
 * that joiner frees it when it resumes; otherwise it goes now. */
static void detached_task_ended(co_task *t)
{
    if (t->result < 0 && t->result != -ECANCELED)
        fprintf(stderr, "coloop: detached task #%llu '%s' (spawned at %s:%d) failed: %s\n",
                (unsigned long long)t->id, t->name, t->spawn_file, t->spawn_line,
                co_strerror(t->result));
    if (t->joiner)
        task_wake(t->joiner, 0);
    else
        task_free(t);
}

/* Called by whatever runs first after a task's function returned and the
 * task switched away for the last time (loop_release_ended): its stack goes
 * back to the cache, its joiner is woken. */
void task_release_finished(co_task *t)
{
    co_loop *loop = t->loop;
    stack_cache_put(&loop->stacks, &t->stack);
    loop->stats.tasks_alive--;
    if (t->detached) {
        detached_task_ended(t);
        return;
    }
    loop->stats.handles_open++;
    if (t->joiner)
        task_wake(t->joiner, 0);
}

void task_free(co_task *t)
{
    task_unlink(t);
    stack_free(&t->stack);   /* only when freed before finishing (loop teardown) */
    free(t);
}

int await_task(co_task *t, int *result, int64_t deadline)
{
    co_task *self = task_require_current(__func__);
    if (!self)
        return -CO_ENOTASK;
    if (t == self)
        return -EDEADLK;
    if (t->joiner && t->joiner != self && t->joiner->state == TASK_WAITING)
        return -EBUSY;   /* a joiner already woken (deadline, cancel) is leaving: not busy */
    while (t->state != TASK_DONE) {
        t->joiner = self;
        int rc = task_suspend(WAIT_JOIN, t, "join", deadline);
        if (t->joiner == self)
            t->joiner = NULL;
        if (rc < 0) {
            if (t->state == TASK_DONE && t->detached)
                task_free(t);   /* it ended while we waited, and we were its last reader */
            return rc;
        }
    }
    if (result)
        *result = t->result;
    if (!t->detached)
        self->loop->stats.handles_open--;
    task_free(t);
    return 0;
}

void task_detach(co_task *t)
{
    t->detached = true;
    if (t->state == TASK_DONE) {
        t->loop->stats.handles_open--;
        detached_task_ended(t);
    }
}

void task_cancel(co_task *t)
{
    if (t->state == TASK_DONE)
        return;
    t->cancelled = true;
    if (t->shielded)
        return;
    if (t->state == TASK_WAITING)
        task_wake(t, -ECANCELED);
    else if (t->state == TASK_READY && t->woken_by_deadline)
        t->wake_rc = -ECANCELED;   /* an explicit cancel beats a deadline of the same turn */
}

bool task_cancelled(void)
{
    co_task *self = task_self();
    return self && self->cancelled;
}

const char *task_name(const co_task *t) { return t->name; }
uint64_t task_id(const co_task *t) { return t->id; }

int await_yield(void)
{
    if (!task_require_current(__func__))
        return -CO_ENOTASK;
    return task_suspend(WAIT_YIELD, NULL, NULL, CO_NO_DEADLINE);
}

int await_sleep_until(int64_t deadline)
{
    co_task *self = task_require_current(__func__);
    if (!self)
        return -CO_ENOTASK;
    if (deadline <= self->loop->now_ns)
        return await_yield();
    int rc = task_suspend(WAIT_SLEEP, NULL, NULL, deadline);
    return rc == -ETIMEDOUT ? 0 : rc;
}

int await_sleep_ms(int64_t ms)
{
    if (!task_require_current(__func__))   /* named here, so the message names this call */
        return -CO_ENOTASK;
    return await_sleep_until(ms <= 0 ? 0 : co_deadline_in_ms(ms));
}

void task_describe_wait(const co_task *t, int64_t now_ns, char *buf, size_t len)
{
    long long left_ms = timer_is_armed(&t->deadline)
                            ? (t->deadline.deadline_ns - now_ns) / 1000000 : -1;
    const co_task *other = t->wait_obj;
    switch (t->state) {
    case TASK_READY:   snprintf(buf, len, "ready"); return;
    case TASK_RUNNING: snprintf(buf, len, "running"); return;
    case TASK_DONE:    snprintf(buf, len, "done, result %d (%s)", t->result,
                                t->result < 0 ? co_strerror(t->result) : "ok"); return;
    case TASK_WAITING: break;
    }
    int n = 0;
    switch (t->wait) {
    case WAIT_SLEEP:    n = snprintf(buf, len, "sleeping"); break;
    case WAIT_FD_READ:  n = snprintf(buf, len, "waiting for fd %d readable", t->wait_fd); break;
    case WAIT_FD_WRITE: n = snprintf(buf, len, "waiting for fd %d writable", t->wait_fd); break;
    case WAIT_JOIN:     n = snprintf(buf, len, "joining task #%llu '%s'",
                                     (unsigned long long)other->id, other->name); break;
    case WAIT_SYNC:
    case WAIT_EXTERNAL: n = snprintf(buf, len, "waiting on %s %p", t->wait_what, t->wait_obj); break;
    default:            n = snprintf(buf, len, "waiting"); break;
    }
    if (left_ms >= 0 && n > 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, " (%lld ms left)", left_ms);
}
