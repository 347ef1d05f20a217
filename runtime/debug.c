/* debug.c - looking inside a loop: counters and the task dump.
 *
 * Introspection is always on: every task carries its name, spawn site, state
 * and the reason it waits, so a dump costs nothing until someone asks.
 */
#include <stdio.h>
#include <string.h>

#include "runtime/internal.h"

void loop_get_stats(const co_loop *loop, struct loop_stats *out)
{
    *out = loop->stats;
    out->timers_armed = loop->timers.count;
    out->stack_cache_hits = loop->stacks.hits;
    out->stack_cache_misses = loop->stacks.misses;
}

static const char *state_name(enum task_state s)
{
    switch (s) {
    case TASK_READY:   return "ready";
    case TASK_RUNNING: return "running";
    case TASK_WAITING: return "waiting";
    case TASK_DONE:    return "done";
    }
    return "?";
}

void loop_dump_tasks(const co_loop *loop, FILE *out)
{
    char why[160];
    fprintf(out, "coloop: %llu task(s) alive, %llu finished handle(s) not joined:\n",
            (unsigned long long)loop->stats.tasks_alive,
            (unsigned long long)loop->stats.handles_open);
    for (const co_task *t = loop->all_head; t; t = t->next) {
        task_describe_wait(t, loop->now_ns, why, sizeof why);
        fprintf(out, "  #%-5llu %-20s %-8s %s%s, spawned at %s:%d\n",
                (unsigned long long)t->id, t->name, state_name(t->state), why,
                t->cancelled ? " [cancelled]" : "", t->spawn_file, t->spawn_line);
    }
}
