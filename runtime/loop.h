/* loop.h - the event loop: one per thread, the scheduler for that thread's tasks.
 *
 * The loop owns everything a task can wait on: the ready queue, the timer
 * heap, the epoll instance with its table of descriptors, and the cached
 * clock.  Programs create a loop, spawn tasks onto it and call loop_run(),
 * which returns once no task is left (or loop_stop() was called).
 * co_run() does all of that for one function, like Python's asyncio.run().
 *
 * Nothing declared here suspends: these are called from plain code (main, or
 * from inside a task for the non-blocking ones).
 */
#ifndef COLOOP_LOOP_H
#define COLOOP_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct co_loop co_loop;
typedef struct co_task co_task;
typedef int (*co_task_fn)(void *arg);

/* Create the loop for this thread and make it the thread's current loop.
 * Returns 0, -EEXIST (this thread already has one), -ENOMEM, or an epoll error. */
int loop_new(co_loop **out);

/* Cancel and finish any task still alive, report handles nobody joined or
 * detached, release stacks, timers and the epoll descriptor.  Call it from
 * plain code, never from a task. */
void loop_free(co_loop *loop);

/* Run tasks until none is left (returns 0), until loop_stop() (returns 0 with
 * tasks still alive), or until every task is blocked with nothing that could
 * wake them (prints the blocked tasks and returns -CO_EDEADLOCK). */
int loop_run(co_loop *loop);

/* Make loop_run() return after the current iteration.  Safe from a task. */
void loop_stop(co_loop *loop);

/* The loop of the calling thread, or NULL. */
co_loop *loop_current(void);

/* Run fn(arg) as a task on a loop and return its result, from plain
 * synchronous code: the asyncio.run() of coloop.  Uses the thread's loop if
 * one exists and is idle, or creates one and frees it afterwards.  Called
 * while a loop runs on this thread (e.g. from inside a task) it prints why
 * and returns -CO_ENESTED instead of nesting or hanging.  If the loop stops
 * before fn ends, it returns the loop's error (-CO_EDEADLOCK), or -ECANCELED
 * when another task called loop_stop().  The macro records the call site,
 * which task dumps and reports show for the main task. */
#define co_run(fn, arg) co_run_at((fn), (arg), #fn, __FILE__, __LINE__)
int co_run_at(co_task_fn fn, void *arg, const char *fn_name, const char *file, int line);

/* Deadlines.  Every await_* call takes an absolute deadline on the monotonic
 * clock, in nanoseconds; build one with co_deadline_in_ms().  Absolute, so a
 * single deadline can bound several calls in a row. */
#define CO_NO_DEADLINE ((int64_t)-1)
int64_t co_now_ns(void);                 /* the loop's cached clock (real clock if no loop) */
int64_t co_deadline_in_ms(int64_t ms);   /* now (a fresh reading) + ms, for a deadline argument */

/* Descriptors.  await_fd() registers a descriptor with epoll the first time it
 * waits on it and keeps it registered.  Before closing a descriptor that a
 * task waited on, tell the loop, or a later descriptor with the same number
 * would be taken for registered: loop_close_fd() does both. */
int loop_forget_fd(int fd);
int loop_close_fd(int fd);

/* Counters for benchmarks, debugging and the "loop closed clean" checks. */
struct loop_stats {
    uint64_t switches;          /* context switches (loop->task, task->task, task->loop) */
    uint64_t tasks_spawned;     /* tasks created since loop_new */
    uint64_t tasks_alive;       /* tasks not finished yet */
    uint64_t handles_open;      /* finished tasks whose handle nobody joined yet */
    uint64_t epoll_waits;       /* calls into epoll */
    uint64_t timers_armed;      /* timers in the heap now */
    uint64_t fds_registered;    /* descriptors registered with epoll now */
    uint64_t fd_waiters;        /* tasks waiting on a descriptor now */
    uint64_t external_waits;    /* tasks waiting on a worker-pool job now */
    uint64_t stack_cache_hits;  /* spawns served from the stack cache */
    uint64_t stack_cache_misses;/* spawns that had to map a new stack */
    uint64_t lag_samples;       /* timers fired so far (the lag window holds the last 8192) */
    int64_t lag_p50_ns;         /* loop lag: how late the loop ran a due timer, */
    int64_t lag_p99_ns;         /*   median, 99th percentile and maximum over */
    int64_t lag_max_ns;         /*   the window */
};
void loop_get_stats(const co_loop *loop, struct loop_stats *out);

/* Print every task of the loop: id, name, state, what it waits on, spawn site. */
void loop_dump_tasks(const co_loop *loop, FILE *out);

#endif
