/* group.c - await_all, await_any and task groups, on top of joins.
 *
 * await_any has to wait for whichever of several tasks ends first.  The task
 * layer wakes a task's joiner when the task ends, so the caller registers
 * itself as the joiner of every task at once, suspends, and unregisters
 * from all of them as soon as it resumes (before any other await, so a late
 * finisher can never wake it out of some unrelated wait).
 *
 * A group does not need that: it spawns each child through a small
 * trampoline that reports the child's end to the group, so the group knows
 * at once when a child fails (and cancels the siblings from right there)
 * and when the last one ended (and wakes the task in group_await).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "runtime/group.h"
#include "runtime/internal.h"

/* --- await_all --- */

/* After a failed wait: join every task that did end, so no result is lost. */
static int join_finished(co_task **tasks, size_t n, int *results)
{
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        if (!tasks[i] || tasks[i]->state != TASK_DONE)
            continue;
        int r = 0;
        await_task(tasks[i], &r, CO_NO_DEADLINE);   /* ended: does not suspend */
        if (results)
            results[i] = r;
        tasks[i] = NULL;
        failed += r < 0;
    }
    return failed;
}

int await_all(co_task **tasks, size_t n, int *results, int64_t deadline)
{
    if (!task_require_current(__func__))
        return -CO_ENOTASK;
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        if (!tasks[i])
            continue;
        int r = 0;
        int rc = await_task(tasks[i], &r, deadline);   /* one absolute deadline for all */
        if (rc < 0) {
            join_finished(tasks, n, results);
            return rc;
        }
        if (results)
            results[i] = r;
        tasks[i] = NULL;
        failed += r < 0;
    }
    return failed;
}

/* --- await_any --- */

static size_t first_done(co_task **tasks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (tasks[i] && tasks[i]->state == TASK_DONE)
            return i;
    return n;
}

/* Suspend until any unfinished task of the set ends (each one wakes its
 * joiner when it ends), then unregister from all of them. */
static int await_first_end(co_task *self, co_task **tasks, size_t n, bool shielded,
                           int64_t deadline)
{
    for (size_t i = 0; i < n; i++)   /* never steal another joiner's slot */
        if (tasks[i] && tasks[i]->state != TASK_DONE &&
            (!tasks[i]->joiner || tasks[i]->joiner->state != TASK_WAITING))
            tasks[i]->joiner = self;   /* free, or held by a joiner already leaving */
    int rc = shielded
        ? task_suspend_shielded(WAIT_SYNC, tasks, "any of several tasks", deadline)
        : task_suspend(WAIT_SYNC, tasks, "any of several tasks", deadline);
    for (size_t i = 0; i < n; i++)
        if (tasks[i] && tasks[i]->joiner == self)
            tasks[i]->joiner = NULL;
    return rc;
}

static bool all_done(co_task **tasks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (tasks[i] && tasks[i]->state != TASK_DONE)
            return false;
    return true;
}

/* Cancel every task left, wait until all have ended, join them.  The wait
 * stays registered on every task left, so nobody else can start joining
 * one of them meanwhile (they get -EBUSY, as for any joined task). */
static void cancel_and_reap(co_task *self, co_task **tasks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (tasks[i])
            task_cancel(tasks[i]);
    while (!all_done(tasks, n))
        await_first_end(self, tasks, n, true, CO_NO_DEADLINE);
    for (size_t i = 0; i < n; i++) {
        if (tasks[i])
            await_task(tasks[i], NULL, CO_NO_DEADLINE);   /* ended: does not suspend */
        tasks[i] = NULL;
    }
}

static int check_any_args(co_task *self, co_task **tasks, size_t n)
{
    size_t given = 0;
    for (size_t i = 0; i < n; i++) {
        if (!tasks[i])
            continue;
        given++;
        if (tasks[i] == self)
            return -EDEADLK;
        if (tasks[i]->joiner && tasks[i]->joiner != self &&
            tasks[i]->joiner->state == TASK_WAITING)
            return -EBUSY;   /* a joiner already woken is leaving: not busy */
    }
    return given ? 0 : -EINVAL;
}

int await_any(co_task **tasks, size_t n, enum co_any_rest rest, size_t *winner, int *result,
              int64_t deadline)
{
    co_task *self = task_require_current(__func__);
    if (!self)
        return -CO_ENOTASK;
    int rc = check_any_args(self, tasks, n);
    if (rc < 0)
        return rc;
    size_t first;
    while ((first = first_done(tasks, n)) == n) {
        rc = await_first_end(self, tasks, n, false, deadline);
        if (rc < 0)
            break;
    }
    if (first < n) {
        rc = await_task(tasks[first], result, CO_NO_DEADLINE);   /* ended: does not suspend */
        tasks[first] = NULL;
        *winner = first;
    }
    if (rest == ANY_CANCEL_REST)
        cancel_and_reap(self, tasks, n);
    return rc;
}

/* --- task groups --- */

struct group_child {
    co_group *group;                    /* NULL once the group was freed under it */
    co_task *task;                      /* detached: the loop frees it when it ends */
    co_task_fn fn;                      /* the child's own function and argument */
    void *arg;
    struct group_child *prev, *next;    /* the group's list of running children */
};

struct co_group {
    struct group_child *children;       /* running children, newest first */
    size_t running;                     /* how many */
    int first_error;                    /* the first child failure, 0 if none */
    bool cancelling;                    /* children were cancelled; new ones start cancelled */
    co_task *waiter;                    /* the task in group_await(), if any */
};

int group_new(co_group **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : -ENOMEM;
}

size_t group_running(const co_group *g) { return g->running; }

void group_cancel(co_group *g)
{
    g->cancelling = true;
    for (struct group_child *c = g->children; c; c = c->next)
        task_cancel(c->task);
}

static void unlink_child(co_group *g, struct group_child *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        g->children = c->next;
    if (c->next)
        c->next->prev = c->prev;
    g->running--;
}

/* A failure after the first one.  asyncio's TaskGroup raises every failure
 * together (an ExceptionGroup); this group returns only the first, so a later
 * one is said here instead of being lost.  Cancellations are not failures:
 * the first error asked for them. */
static void report_later_failure(const co_group *g, const co_task *t, int result)
{
    fprintf(stderr, "coloop: group task #%llu '%s' (spawned at %s:%d) also failed: %s "
            "(the group returns its first error: %s)\n", (unsigned long long)t->id, t->name,
            t->spawn_file, t->spawn_line, co_strerror(result), co_strerror(g->first_error));
}

/* A child returned: a failure before any cancellation is the group's first
 * error and cancels the siblings; the last child wakes the waiter. */
static void child_ended(co_group *g, struct group_child *c, int result)
{
    unlink_child(g, c);
    if (result < 0 && !g->cancelling) {
        g->first_error = result;
        group_cancel(g);
    } else if (result < 0 && result != -ECANCELED && g->first_error != 0) {
        report_later_failure(g, c->task, result);
    }
    if (g->running == 0 && g->waiter)
        task_wake(g->waiter, 0);
}

static int group_child_main(void *arg)
{
    struct group_child *c = arg;
    int result = c->fn(c->arg);
    if (c->group)
        child_ended(c->group, c, result);
    free(c);
    return 0;   /* the group reports the failure; the loop must not log it again */
}

int group_spawn_at(co_group *g, co_task_fn fn, void *arg, const struct co_spawn_opts *opts,
                   const char *fn_name, const char *file, int line)
{
    struct group_child *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    *c = (struct group_child){ .group = g, .fn = fn, .arg = arg };
    int rc = task_spawn_at(&c->task, group_child_main, c, opts, fn_name, file, line);
    if (rc < 0) {
        free(c);
        return rc;
    }
    task_detach(c->task);
    c->next = g->children;
    if (g->children)
        g->children->prev = c;
    g->children = c;
    g->running++;
    if (g->cancelling)
        task_cancel(c->task);
    return 0;
}

static bool is_child(const co_group *g, const co_task *t)
{
    for (const struct group_child *c = g->children; c; c = c->next)
        if (c->task == t)
            return true;
    return false;
}

int group_await(co_group *g, int64_t deadline)
{
    co_task *self = task_require_current(__func__);
    if (!self)
        return -CO_ENOTASK;
    if (is_child(g, self))
        return -EDEADLK;
    if (g->waiter)
        return -EBUSY;
    int own = 0;   /* the caller's own deadline or cancel, if it came first */
    g->waiter = self;
    while (g->running > 0) {
        if (g->cancelling) {   /* only waiting for the children to unwind */
            task_suspend_shielded(WAIT_SYNC, g, "task group (cancelling)", CO_NO_DEADLINE);
            continue;
        }
        int rc = task_suspend(WAIT_SYNC, g, "task group", deadline);
        if (rc < 0 && !g->cancelling) {
            own = rc;
            group_cancel(g);
        }
    }
    g->waiter = NULL;
    int rc = g->first_error ? g->first_error : own;
    g->first_error = 0;
    g->cancelling = false;
    return rc;
}

void group_free(co_group *g)
{
    if (!g)
        return;
    if (g->running > 0) {
        fprintf(stderr, "coloop: task group freed with %zu child(ren) still running "
                        "(group_await() was not called); cancelling them\n", g->running);
        group_cancel(g);
        for (struct group_child *c = g->children; c; c = c->next)
            c->group = NULL;   /* each frees itself when it ends */
    }
    free(g);
}
