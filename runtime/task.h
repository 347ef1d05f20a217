/* task.h - tasks: functions running concurrently on one loop, each on its own
 * stack, switching only where they call an await_* function.
 *
 * Naming rule (the visible yield point): every function that can suspend the
 * calling task starts with await_.  Everything else returns without letting
 * another task run.  Calling an await_* function outside a task returns
 * -CO_ENOTASK and prints where.
 *
 * Ownership: task_spawn() gives the caller a handle.  Exactly one of
 * await_task() (join: take the result) or task_detach() (the loop owns it; a
 * failure is logged) must consume it.  A handle that is neither is reported
 * when the loop is freed, with the task's name and spawn site - the C version
 * of asyncio's "Task was destroyed but it is pending" and "exception was
 * never retrieved".
 *
 * Cancellation is cooperative: task_cancel() makes the task's current or next
 * await_* call return -ECANCELED, and every later one too (sticky), so the
 * task unwinds.  A task that never calls await_* cannot be cancelled.
 */
#ifndef COLOOP_TASK_H
#define COLOOP_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/loop.h"

struct co_spawn_opts {
    const char *name;       /* shown in reports and dumps (copied); default: the function's name */
    size_t stack_size;      /* usable stack bytes; 0 = CO_STACK_DEFAULT_SIZE (64 KiB) */
    bool unguarded;         /* no guard page: cheaper in kernel mappings, overflow undetected */
};

/* Spawn fn(arg) as a new task on the current loop.  It starts at the loop's
 * next turn, not now.  On success *out is the caller's handle.  Returns 0,
 * -CO_ENOLOOP, -ENOMEM, or -CO_ENOSTACK (see stack_error_detail()).
 * The macros record the function's name and the spawn site (file:line). */
#define task_spawn(out, fn, arg) \
    task_spawn_at((out), (fn), (arg), NULL, #fn, __FILE__, __LINE__)
#define task_spawn_opts(out, fn, arg, opts) \
    task_spawn_at((out), (fn), (arg), (opts), #fn, __FILE__, __LINE__)
int task_spawn_at(co_task **out, co_task_fn fn, void *arg, const struct co_spawn_opts *opts,
                  const char *fn_name, const char *file, int line);

/* Join: wait until t ends, store its return value in *result (may be NULL)
 * and consume the handle.  Returns 0 when joined; or, with the handle still
 * yours: -ETIMEDOUT (deadline passed), -ECANCELED (the caller was cancelled),
 * -EDEADLK (t is the caller), -EBUSY (another task is joining t).
 * Joining a task that already ended does not suspend. */
int await_task(co_task *t, int *result, int64_t deadline);

/* Give the handle to the loop: the task runs to its end and is freed; a
 * negative result other than -ECANCELED is logged on stderr.  Never suspends. */
void task_detach(co_task *t);

/* Ask t to stop: its current or next await_* returns -ECANCELED (sticky).
 * The handle stays the caller's.  Never suspends. */
void task_cancel(co_task *t);

/* Let every other ready task run once, then continue.  0 or -ECANCELED. */
int await_yield(void);

/* Sleep without blocking the loop.  0, or -ECANCELED.  ms <= 0 yields.
 * Counted from now, not from the start of the loop's turn: a task that
 * held the loop for 500 ms and then sleeps 100 ms sleeps 100 ms. */
int await_sleep_ms(int64_t ms);

/* Sleep until `deadline` (monotonic ns, e.g. from co_deadline_in_ms()).
 * 0, or -ECANCELED; a deadline already past yields. */
int await_sleep_until(int64_t deadline);

/* Wait until fd is readable (CO_FD_READ) or writable (CO_FD_WRITE).
 * Call it only after a read/write returned EAGAIN: the descriptor is
 * registered edge-triggered, so readiness that existed before the failed
 * call is not reported again.  Returns 0, -ETIMEDOUT, -ECANCELED, -EBUSY
 * (another task already waits on this fd in that direction), -EBADF (the fd
 * was forgotten/closed while waiting), -EPERM (fd cannot be polled, e.g. a
 * regular file). */
enum co_fd_direction { CO_FD_READ = 1, CO_FD_WRITE = 2 };
int await_fd(int fd, enum co_fd_direction dir, int64_t deadline);

/* Read readiness, remembered (plain functions: they never suspend).  A
 * reader that has just emptied a registered descriptor - its read failed
 * with EAGAIN, or returned fewer bytes than it asked for - says so with
 * loop_fd_drained(); epoll's next "readable" event for the descriptor undoes
 * it.  Until then loop_fd_maybe_readable() is false, and the next read can
 * wait first instead of making a system call that can only fail with EAGAIN.
 * Once epoll has reported a hang-up or an error, or for a descriptor the loop
 * has never waited on, it is always true.  sock_await_read() uses it. */
void loop_fd_drained(int fd);
bool loop_fd_maybe_readable(int fd);

/* The running task, or NULL outside any task. */
co_task *task_self(void);
const char *task_name(const co_task *t);
uint64_t task_id(const co_task *t);
/* True once task_cancel() was called on the running task. */
bool task_cancelled(void);

#endif
