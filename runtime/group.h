/* group.h - waiting for several tasks at once: await_all (every result and
 * every error), await_any (the first to finish), and task groups (the first
 * error cancels the rest; children never outlive the group).
 *
 * How these map to asyncio, and where asyncio surprises people:
 *
 *   asyncio.gather(*tasks, return_exceptions=True)  ->  await_all()
 *       waits for every task and hands back each result or error.
 *
 *   asyncio.gather(*tasks)  (the default, return_exceptions=False)
 *       raises the FIRST exception as soon as it happens, but does NOT
 *       cancel the other tasks: they keep running, unobserved, and their
 *       own failures surface only as "exception was never retrieved" logs.
 *       It is not fail-fast cancellation, whatever tutorials say.  coloop
 *       has no such mode, because it leaves tasks running that nobody owns.
 *       For its "react to the first failure" part use a task group; for
 *       "first result, others keep going" use await_any(ANY_KEEP_REST).
 *
 *   asyncio.TaskGroup (3.11), Trio nurseries  ->  co_group
 *       the first child to fail cancels all its siblings, the group waits
 *       until every child has really ended, then reports the failure.
 *       (Python raises an ExceptionGroup of every error; coloop returns the
 *       first error: later ones are usually the cancellations it caused.)
 *
 *   asyncio.wait(tasks, return_when=FIRST_COMPLETED)  ->  await_any()
 *
 * Handles: await_all and await_any take handles from task_spawn() and
 * consume (join) the tasks they report, setting tasks[i] = NULL for each;
 * the handles left non-NULL are still the caller's.  A group owns its
 * children outright: they have no handle, report their data through their
 * arg, and the group reports only the first error.
 */
#ifndef COLOOP_GROUP_H
#define COLOOP_GROUP_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/task.h"

/* Join every task.  For each one joined, results[i] (results may be NULL)
 * gets its return value, >= 0 or a negative error, and tasks[i] becomes
 * NULL; NULL entries are skipped, so after a timeout the same call can be
 * made again for the rest.  A task's failure does not stop the others.
 * Suspends until all have ended.  Returns how many of the joined tasks
 * failed (result < 0), or, with the unfinished tasks still the caller's
 * (every task that had ended by then is joined): -ETIMEDOUT, -ECANCELED
 * (the caller was cancelled: it may cancel and detach the rest), -EBUSY or
 * -EDEADLK (as await_task), -CO_ENOTASK.  Tasks already ended are joined
 * without suspending, even by a cancelled caller (as await_task does). */
int await_all(co_task **tasks, size_t n, int *results, int64_t deadline);

/* What await_any does with the tasks that did not finish first. */
enum co_any_rest {
    ANY_KEEP_REST,      /* they keep running; their handles stay the caller's */
    ANY_CANCEL_REST,    /* they are cancelled and waited for: no handle is left */
};

/* Wait until the first of the non-NULL tasks ends; join it, set *winner to
 * its index (tasks[*winner] = NULL) and *result (may be NULL) to its return
 * value.  If several ended in the same loop turn, the lowest index wins.
 * Returns 0, -EINVAL (no task given), -EBUSY (another task is joining one
 * of them), -ETIMEDOUT or -ECANCELED (no winner), -CO_ENOTASK.
 * With ANY_CANCEL_REST every other task is cancelled and joined before
 * returning, on every return path after the checks (their results are
 * dropped): the wait for them ignores the caller's own cancellation and has
 * no deadline, so a task that never reaches an await_* holds it up. */
int await_any(co_task **tasks, size_t n, enum co_any_rest rest, size_t *winner, int *result,
              int64_t deadline);

/* A task group: structured concurrency.  Make one, spawn children into it,
 * and group_await() it: children cannot outlive that call. */
typedef struct co_group co_group;

/* 0 or -ENOMEM.  The caller owns the group; free it with group_free(). */
int group_new(co_group **out);

/* Spawn fn(arg) as a child of the group (see task_spawn for the macros'
 * name and spawn-site recording).  A child's negative return value is a
 * failure: the first one cancels every other child; a later failure (other
 * than -ECANCELED) is printed on stderr with the child's name and spawn
 * site, since group_await returns only the first.  A child may spawn
 * siblings.  Spawned into a group being cancelled, a child starts
 * cancelled.  Returns 0, or task_spawn's errors.  Never suspends. */
#define group_spawn(g, fn, arg) \
    group_spawn_at((g), (fn), (arg), NULL, #fn, __FILE__, __LINE__)
#define group_spawn_opts(g, fn, arg, opts) \
    group_spawn_at((g), (fn), (arg), (opts), #fn, __FILE__, __LINE__)
int group_spawn_at(co_group *g, co_task_fn fn, void *arg, const struct co_spawn_opts *opts,
                   const char *fn_name, const char *file, int line);

/* Wait until every child has ended.  If the deadline passes or the caller
 * is cancelled first, the children are cancelled and still waited for
 * (that wait cannot be cancelled and has no deadline: a child that never
 * reaches an await_* holds it up).  Returns the first thing that went
 * wrong: the first child's failure, or -ETIMEDOUT / -ECANCELED for the
 * caller's own deadline or cancel; 0 if nothing did.  -EBUSY if another
 * task is already in group_await(g), -EDEADLK if the caller is a child of
 * g, -CO_ENOTASK.  Afterwards the group is empty and may be reused. */
int group_await(co_group *g, int64_t deadline);

/* Cancel every child (and every child spawned later, until group_await
 * returns).  The group still has to be awaited.  Never suspends. */
void group_cancel(co_group *g);

/* Children still running (not yet returned). */
size_t group_running(const co_group *g);

/* Free the group.  Children still running mean group_await was skipped: a
 * bug, reported on stderr; they are cancelled and left to end on their own. */
void group_free(co_group *g);

#endif
