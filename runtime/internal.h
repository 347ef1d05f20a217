/* internal.h - what the loop and the task layer share and hide from users.
 *
 * loop.c and task.c are two halves of one scheduler: the loop decides which
 * task runs next, the task layer decides when a task stops running.  They
 * share the two structs below.  Other runtime modules (sync, pool, debug)
 * only use the functions declared at the end: task_suspend() is the one way a
 * task stops running, task_wake() the one way it becomes ready again.
 * One exception: await_any (group.c) registers itself as the `joiner` of
 * several tasks at once, relying on task_release_finished() waking the
 * joiner; it clears every registration when it resumes.
 */
#ifndef COLOOP_INTERNAL_H
#define COLOOP_INTERNAL_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime/coro.h"
#include "runtime/error.h"
#include "runtime/loop.h"
#include "runtime/stack.h"
#include "runtime/task.h"
#include "runtime/timer.h"

enum task_state {
    TASK_READY,     /* in the ready queue */
    TASK_RUNNING,   /* on the CPU now */
    TASK_WAITING,   /* suspended in task_suspend(), see wait_kind */
    TASK_DONE,      /* fn returned; result is set; stack already released */
};

/* Why a task waits: recorded by task_suspend() for dumps and deadlock reports. */
enum wait_kind {
    WAIT_NONE,
    WAIT_YIELD,     /* gave up the CPU, already ready again */
    WAIT_SLEEP,     /* a timer */
    WAIT_FD_READ,   /* wait_fd readable */
    WAIT_FD_WRITE,  /* wait_fd writable */
    WAIT_JOIN,      /* wait_obj is the task being joined */
    WAIT_SYNC,      /* a channel, semaphore, event...: wait_obj names it */
    WAIT_EXTERNAL,  /* something outside the loop thread will wake it (the pool) */
};

struct co_task {
    struct co_coro coro;        /* saved context while not running */
    struct co_stack stack;      /* released as soon as fn returns */
    co_task_fn fn;              /* the task's function and its argument */
    void *arg;
    int result;                 /* fn's return value once TASK_DONE */
    enum task_state state;
    enum wait_kind wait;        /* why it is TASK_WAITING */
    int wait_fd;                /* for WAIT_FD_*: the descriptor */
    const void *wait_obj;       /* for WAIT_JOIN / WAIT_SYNC: the object */
    const char *wait_what;      /* for WAIT_SYNC / WAIT_EXTERNAL: "channel", "pool job"... */
    int wake_rc;                /* what task_suspend() returns when it resumes */
    bool woken_by_deadline;     /* wake_rc came from the deadline timer (cancel overrides it) */
    bool cancelled;             /* task_cancel() was called: every await_* fails */
    bool detached;              /* the loop owns it: free at the end, log failures */
    bool shielded;              /* in task_suspend_shielded(): a cancel is noted, not delivered */
    struct co_timer deadline;   /* armed while a wait has a deadline */
    co_task *joiner;            /* the task inside await_task(this), if any */
    co_task *next_ready;        /* ready queue link */
    co_task *prev, *next;       /* list of all tasks of the loop (dumps, reports) */
    co_loop *loop;
    uint64_t id;                /* 1, 2, 3... per loop */
    char name[48];              /* for humans; copied at spawn */
    const char *spawn_file;     /* where task_spawn was called */
    int spawn_line;
};

/* A loop-internal watcher: called on the loop's stack (not in a task) when
 * its descriptor becomes readable.  Used for the worker pool's eventfd; it
 * must not suspend. */
typedef void (*fd_watch_fn)(void *arg);

struct fd_slot {
    co_task *reader;            /* the task waiting for readability, if any */
    co_task *writer;            /* the task waiting for writability, if any */
    fd_watch_fn watch;          /* or a loop-internal watcher (then no task waits here) */
    void *watch_arg;
    bool registered;            /* added to epoll (edge-triggered, both directions) */
    bool drained;               /* a read emptied it, and epoll has reported no bytes since */
    bool hung_up;               /* epoll reported a hang-up or an error: reads never wait first */
};

#define LAG_WINDOW 8192          /* recent timer lateness samples kept for percentiles */

struct co_debug;                 /* debug.c: watchdog, SIGQUIT dump; NULL when off */

struct co_loop {
    int epoll_fd;
    int64_t now_ns;                     /* cached CLOCK_MONOTONIC, refreshed once per turn */
    co_task *ready_head, *ready_tail;   /* FIFO of runnable tasks */
    co_task *batch_last;                /* the last task of the batch being run (loop.c) */
    int batch_left;                     /* how many more tasks this batch may run */
    co_task *ended;                     /* a task that ended and handed over: freed by the next */
    struct co_timer_heap timers;
    struct fd_slot *fds;                /* indexed by descriptor number */
    int fds_capacity;
    struct co_coro home;                /* the loop's own context, on the thread's stack */
    co_task *current;                   /* the running task, NULL when the loop runs */
    co_task *all_head;                  /* every task not yet consumed, newest first */
    struct co_stack_cache stacks;
    uint64_t next_task_id;
    uint64_t external_waits;            /* wakeups promised from other threads (pool jobs) */
    void *altstack;                     /* signal stack for the overflow report (overflow.c) */
    stack_t previous_altstack;          /* restored by loop_free */
    struct co_debug *debug;             /* debugging aids, NULL unless enabled */
    int32_t lag_us[LAG_WINDOW];         /* ring of recent timer lateness, microseconds */
    uint64_t lag_count;                 /* samples written to the ring so far */
    bool running;                       /* inside loop_run() */
    bool stop_requested;
    struct loop_stats stats;
};

/* The calling thread's loop (NULL if none). */
co_loop *loop_this_thread(void);

/* Suspend the running task until task_wake() or the deadline; the one and
 * only place a task stops running.  `why`/`obj`/`what` are recorded for the
 * task dump.  Returns the wake code: 0, -ETIMEDOUT, -ECANCELED, or what the
 * waker passed.  Returns -ECANCELED at once, without suspending, if the task
 * was already cancelled. */
int task_suspend(enum wait_kind why, const void *obj, const char *what, int64_t deadline);

/* The same, but a cancel neither prevents nor interrupts the wait (it is
 * still recorded, so the next ordinary await_* fails).  For cleanup waits
 * that must finish, e.g. a task group waiting for its cancelled children:
 * use it only where the wait is bounded by something else. */
int task_suspend_shielded(enum wait_kind why, const void *obj, const char *what, int64_t deadline);

/* Make a waiting task ready with `rc` as its wake code.  Returns false if it
 * was not waiting (already woken by something else this turn). */
bool task_wake(co_task *t, int rc);

/* The running task, or NULL after printing "FN called outside a task". */
co_task *task_require_current(const char *fn);

/* Watch `fd` for readability with a callback run by the loop itself (edge-
 * triggered: the callback must drain the descriptor).  The watcher does not
 * keep the loop alive; tasks waiting for what it delivers are counted in
 * loop->external_waits.  loop_unwatch_fd() before closing the descriptor. */
int loop_watch_fd(co_loop *loop, int fd, fd_watch_fn fn, void *arg);
void loop_unwatch_fd(co_loop *loop, int fd);

/* The stack-overflow report (overflow.c): an alternate signal stack for this
 * thread and the SIGSEGV/SIGBUS handler; undone by overflow_guard_stop. */
int overflow_guard_start(co_loop *loop);
void overflow_guard_stop(co_loop *loop);

/* Debugging hooks (debug.c, watchdog.c), called only when loop->debug is set. */
void debug_task_switched_in(co_loop *loop, co_task *t);
void debug_task_switched_out(co_loop *loop, co_task *t);
void debug_loop_freed(co_loop *loop);
int debug_enable_from_environment(co_loop *loop);

/* Loop internals used by task.c. */
void loop_make_ready(co_loop *loop, co_task *t);
void loop_switch_away(co_loop *loop, co_task *self);
void loop_task_ending(co_loop *loop, co_task *self);
void loop_release_ended(co_loop *loop);
void task_release_finished(co_task *t);
void task_free(co_task *t);
void task_describe_wait(const co_task *t, int64_t now_ns, char *buf, size_t len);

#endif
