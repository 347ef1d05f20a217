/* watchdog.h - the monitor thread that notices a task holding the loop.
 * Internal: switched on through debug.h. */
#ifndef COLOOP_WATCHDOG_H
#define COLOOP_WATCHDOG_H

#include <stdatomic.h>

#include "runtime/internal.h"

struct co_watchdog;

/* SIGQUIT dump requests for one loop: the signal handler counts them, the
 * loop records the count it has answered with a dump.  The watchdog reads
 * both to notice a request the loop is too busy to answer.  In static
 * storage (debug.c), since the handler may run on any thread at any time. */
struct dump_requests {
    atomic_uint asked;      /* incremented by the SIGQUIT handler */
    atomic_uint answered;   /* the `asked` value the loop's last dump answered */
};

/* Start the monitor thread for `loop` (call on the loop's thread).  `dumps`
 * may be NULL (no SIGQUIT for this loop).  0, -ENOMEM, or a thread/eventfd error. */
int watchdog_start(struct co_watchdog **out, co_loop *loop, int threshold_ms,
                   struct dump_requests *dumps);
void watchdog_stop(struct co_watchdog *w);

/* The descriptor that wakes the monitor at once (eventfd: write 8 bytes);
 * the SIGQUIT handler writes it so an unanswered request is seen quickly. */
int watchdog_wake_fd(const struct co_watchdog *w);

/* Called by the loop around every switch into a task (loop thread only).
 * watchdog_task_stopped returns the time it read (CLOCK_MONOTONIC, ns). */
void watchdog_task_running(struct co_watchdog *w, co_task *t);
int64_t watchdog_task_stopped(struct co_watchdog *w, co_task *t);

/* Loop thread: write `text` to stderr now, or, if the monitor is in the
 * middle of a report about the loop, right after that report. */
void watchdog_print(struct co_watchdog *w, const char *text);

#endif
