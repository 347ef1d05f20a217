/* debug.c - looking inside a loop: counters, loop lag, the task dump, and
 * switching the debugging aids on and off (the watchdog itself is in
 * watchdog.c).
 *
 * Introspection is always on: every task carries its name, spawn site, state
 * and the reason it waits, and the loop keeps its counters and a window of
 * recent timer lateness, so a dump or a stats line costs nothing until
 * someone asks.  What costs something - a thread, a signal handler - only
 * exists once loop_debug_enable() (or COLOOP_DEBUG=1) asks for it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "runtime/debug.h"
#include "runtime/internal.h"
#include "runtime/watchdog.h"

#define MAX_DUMP_FDS 32   /* loops (threads) that can answer SIGQUIT at once */

struct co_debug {
    struct co_watchdog *watchdog;   /* the monitor thread */
    int dump_fd;                    /* eventfd poked by SIGQUIT, watched by the loop */
};

/* SIGQUIT may arrive on any thread: the handler only writes to the eventfds
 * of the loops that enabled debugging, and each loop prints its own dump. */
static atomic_int dump_fds[MAX_DUMP_FDS];
static atomic_int dump_fds_initialised;

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static void compute_lag(const co_loop *loop, struct loop_stats *out)
{
    size_t n = loop->lag_count < LAG_WINDOW ? (size_t)loop->lag_count : LAG_WINDOW;
    out->lag_samples = loop->lag_count;
    out->lag_p50_ns = out->lag_p99_ns = out->lag_max_ns = 0;
    if (n == 0)
        return;
    int32_t *sorted = malloc(n * sizeof *sorted);
    if (!sorted)
        return;
    memcpy(sorted, loop->lag_us, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_i32);
    out->lag_p50_ns = (int64_t)sorted[n / 2] * 1000;
    out->lag_p99_ns = (int64_t)sorted[n * 99 / 100] * 1000;
    out->lag_max_ns = (int64_t)sorted[n - 1] * 1000;
    free(sorted);
}

void loop_get_stats(const co_loop *loop, struct loop_stats *out)
{
    *out = loop->stats;
    out->timers_armed = loop->timers.count;
    out->external_waits = loop->external_waits;
    out->stack_cache_hits = loop->stacks.hits;
    out->stack_cache_misses = loop->stacks.misses;
    compute_lag(loop, out);
}

void loop_print_stats(const co_loop *loop, FILE *out)
{
    struct loop_stats s;
    loop_get_stats(loop, &s);
    fprintf(out, "coloop stats: %llu switches, %llu tasks spawned, %llu alive, %llu epoll waits, "
                 "loop lag p50 %.3f ms / p99 %.3f ms / max %.3f ms over %llu timers\n",
            (unsigned long long)s.switches, (unsigned long long)s.tasks_spawned,
            (unsigned long long)s.tasks_alive, (unsigned long long)s.epoll_waits,
            (double)s.lag_p50_ns / 1e6, (double)s.lag_p99_ns / 1e6, (double)s.lag_max_ns / 1e6,
            (unsigned long long)s.lag_samples);
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

/* --- the SIGQUIT dump ------------------------------------------------------ */

static void on_sigquit(int sig)
{
    (void)sig;
    int saved = errno;   /* a handler must leave errno as it found it */
    uint64_t one = 1;
    for (int i = 0; i < MAX_DUMP_FDS; i++) {
        int fd = atomic_load(&dump_fds[i]);
        if (fd > 0 && write(fd, &one, sizeof one) < 0)
            continue;
    }
    errno = saved;
}

static void on_dump_request(void *arg)
{
    co_loop *loop = arg;
    uint64_t count;
    while (read(loop->debug->dump_fd, &count, sizeof count) > 0)
        ;
    fprintf(stderr, "coloop: SIGQUIT: task dump\n");
    loop_dump_tasks(loop, stderr);
    loop_print_stats(loop, stderr);
}

static int dump_on_sigquit(co_loop *loop)
{
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = loop_watch_fd(loop, fd, on_dump_request, loop);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    loop->debug->dump_fd = fd;
    for (int i = 0; i < MAX_DUMP_FDS; i++) {
        int expected = 0;
        if (atomic_compare_exchange_strong(&dump_fds[i], &expected, fd))
            break;
    }
    if (atomic_exchange(&dump_fds_initialised, 1) == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sigquit;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGQUIT, &sa, NULL);
    }
    return 0;
}

static void stop_dump_on_sigquit(co_loop *loop)
{
    int fd = loop->debug->dump_fd;
    if (fd < 0)
        return;
    for (int i = 0; i < MAX_DUMP_FDS; i++) {
        int expected = fd;
        atomic_compare_exchange_strong(&dump_fds[i], &expected, 0);
    }
    loop_unwatch_fd(loop, fd);
    close(fd);
}

/* --- on and off --------------------------------------------------------------- */

int loop_debug_enable(co_loop *loop, int threshold_ms)
{
    if (loop->debug)
        return 0;
    loop->debug = calloc(1, sizeof *loop->debug);
    if (!loop->debug)
        return -ENOMEM;
    loop->debug->dump_fd = -1;
    int rc = dump_on_sigquit(loop);
    if (rc == 0)
        rc = watchdog_start(&loop->debug->watchdog, loop,
                            threshold_ms > 0 ? threshold_ms : CO_WATCHDOG_DEFAULT_MS);
    if (rc < 0)
        loop_debug_disable(loop);
    return rc;
}

void loop_debug_disable(co_loop *loop)
{
    if (!loop->debug)
        return;
    if (loop->debug->watchdog)
        watchdog_stop(loop->debug->watchdog);
    stop_dump_on_sigquit(loop);
    free(loop->debug);
    loop->debug = NULL;
}

bool loop_debug_enabled(const co_loop *loop)
{
    return loop->debug != NULL;
}

int debug_enable_from_environment(co_loop *loop)
{
    const char *on = getenv("COLOOP_DEBUG");
    if (!on || strcmp(on, "1") != 0)
        return 0;
    const char *ms = getenv("COLOOP_WATCHDOG_MS");
    return loop_debug_enable(loop, ms ? atoi(ms) : 0);
}

void debug_task_switched_in(co_loop *loop, co_task *t)
{
    watchdog_task_running(loop->debug->watchdog, t);
}

void debug_task_switched_out(co_loop *loop, co_task *t)
{
    watchdog_task_stopped(loop->debug->watchdog, t);
}

void debug_loop_freed(co_loop *loop)
{
    loop_print_stats(loop, stderr);
    loop_debug_disable(loop);
}
