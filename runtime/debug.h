/* debug.h - the debugging aids: seeing the pitfalls while they happen.
 *
 * Off by default and free when off.  Turn them on for every loop with the
 * environment variable COLOOP_DEBUG=1 (COLOOP_WATCHDOG_MS=N changes the
 * threshold), or for one loop with loop_debug_enable().  When on:
 *
 *   - a watchdog thread notices a task that holds the loop longer than the
 *     threshold (default 100 ms, like asyncio's debug mode) and prints, while
 *     it is still blocking, the task's name, spawn site, how long so far and
 *     where it is (a backtrace with file:line); when the task finally gives
 *     the loop back, the loop prints the total;
 *   - SIGQUIT (Ctrl-\) prints every task of the loop (the task dump) at the
 *     loop's next turn; if a task holds the loop so that the turn does not
 *     come within 50 ms, the watchdog says at once which task and where it
 *     is, and the dump follows when the loop is free.  The handler chains to
 *     a SIGQUIT handler installed before it, and the previous disposition is
 *     restored when the last loop using it turns debugging off or is freed;
 *   - the dump says how long a task has waited on a pool job;
 *   - loop_free() prints a one-line summary of the loop's statistics.
 *
 * The statistics themselves (loop_get_stats, loop_print_stats) and the task
 * dump (loop_dump_tasks in loop.h) are always available.
 */
#ifndef COLOOP_DEBUG_H
#define COLOOP_DEBUG_H

#include <stdbool.h>
#include <stdio.h>

#include "runtime/loop.h"

#define CO_WATCHDOG_DEFAULT_MS 100

/* Start the watchdog (threshold_ms <= 0: the default), the SIGQUIT dump
 * and the exit summary for `loop`.  Returns 0, or a negative errno (thread
 * or eventfd creation failed).  Call from plain code, not from a task. */
int loop_debug_enable(co_loop *loop, int threshold_ms);
void loop_debug_disable(co_loop *loop);
bool loop_debug_enabled(const co_loop *loop);

/* One line: switches, tasks, epoll waits, loop lag p50/p99/max. */
void loop_print_stats(const co_loop *loop, FILE *out);

#endif
