/* watchdog.h - the monitor thread that notices a task holding the loop.
 * Internal: switched on through debug.h. */
#ifndef COLOOP_WATCHDOG_H
#define COLOOP_WATCHDOG_H

#include "runtime/internal.h"

struct co_watchdog;

/* Start the monitor thread for `loop` (call on the loop's thread). */
int watchdog_start(struct co_watchdog **out, co_loop *loop, int threshold_ms);
void watchdog_stop(struct co_watchdog *w);

/* Called by the loop around every switch into a task (loop thread only). */
void watchdog_task_running(struct co_watchdog *w, co_task *t);
void watchdog_task_stopped(struct co_watchdog *w, co_task *t);

#endif
