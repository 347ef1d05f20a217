/* debug.c - looking inside a loop: counters, loop lag, the task dump, the
 * SIGQUIT dump, and switching the debugging aids on and off (the watchdog
 * itself is in watchdog.c).
 *
 * Introspection is always on: every task carries its name, spawn site, state
 * and the reason it waits, and the loop keeps its counters and a window of
 * recent timer lateness, so a dump or a stats line costs nothing until
 * someone asks.  What costs something - a thread, a signal handler - only
 * exists once loop_debug_enable() (or COLOOP_DEBUG=1) asks for it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "runtime/debug.h"
#include "runtime/internal.h"
#include "runtime/pool_internal.h"
#include "runtime/watchdog.h"

#define MAX_DUMP_FDS 32   /* loops (threads) that can answer SIGQUIT at once */
#define WAIT_MARKS 1024   /* tasks whose wait start is remembered (by id, direct-mapped) */

/* When a task last stopped running to wait: recorded at every switch in
 * debug mode, so the dump can say how long a task has waited. */
struct wait_mark {
    uint64_t task_id;
    int64_t since_ns;
};

struct quit_slot;

struct co_debug {
    struct co_watchdog *watchdog;   /* the monitor thread */
    int dump_fd;                    /* eventfd poked by SIGQUIT, watched by the loop */
    struct quit_slot *quit;         /* this loop's entry in the SIGQUIT table, or NULL */
    struct wait_mark marks[WAIT_MARKS];
};

static int64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

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

__attribute__((format(printf, 3, 4)))
static void appendf(char *buf, size_t len, const char *fmt, ...)
{
    size_t used = strlen(buf);
    if (used + 1 >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

/* When `t` started its current wait, if known (debug mode); 0 if not. */
static int64_t wait_started(const co_loop *loop, const co_task *t)
{
    if (!loop->debug)
        return 0;
    const struct wait_mark *m = &loop->debug->marks[t->id % WAIT_MARKS];
    return m->task_id == t->id ? m->since_ns : 0;
}

/* A wait on a pool job (poolwait.c is WAIT_EXTERNAL's only user): the job's
 * kind, where it is, and how long the task has waited, not its address. */
static void describe_pool_wait(const co_loop *loop, const co_task *t, int64_t now,
                               char *buf, size_t len)
{
    const struct job *j = t->wait_obj;
    /* The job's state belongs to its pool's lock, and the job does not say
     * which pool it is in: a racy read of one enum, good enough for a line
     * a person reads (at worst one step behind). */
    enum job_state state = __atomic_load_n(&j->state, __ATOMIC_RELAXED);
    const char *where = state == JOB_QUEUED  ? "queued, no worker free yet"
                      : state == JOB_RUNNING ? "running on a worker"
                                             : "finished, about to resume the task";
    if (j->spec.kind)
        snprintf(buf, len, "waiting on pool job of kind '%s' (%s", j->spec.kind, where);
    else
        snprintf(buf, len, "waiting on a pool job (%s", where);
    int64_t since = wait_started(loop, t);
    if (since > 0)
        appendf(buf, len, ", waited %lld ms", (long long)((now - since) / 1000000));
    appendf(buf, len, ")");
}

/* What `t` is doing, with its deadline measured from `now` - a fresh clock:
 * the loop's cached one is from before its last epoll wait, and a dump taken
 * on SIGQUIT comes at the end of that wait. */
static void describe(const co_loop *loop, const co_task *t, int64_t now, char *buf, size_t len)
{
    bool waiting = t->state == TASK_WAITING;
    if (waiting && t->wait == WAIT_EXTERNAL)
        describe_pool_wait(loop, t, now, buf, len);
    else   /* INT64_MAX: a "now" past every deadline, so task_describe_wait adds no time */
        task_describe_wait(t, INT64_MAX, buf, len);
    if (!waiting || !timer_is_armed(&t->deadline))
        return;
    int64_t left = t->deadline.deadline_ns - now;
    if (left >= 0)
        appendf(buf, len, " (%lld ms left)", (long long)(left / 1000000));
    else   /* the loop has not fired it yet: it is held, or this dump is the hold-up */
        appendf(buf, len, " (due %lld ms ago)", (long long)(-left / 1000000));
}

void loop_dump_tasks(const co_loop *loop, FILE *out)
{
    char why[256];
    int64_t now = monotonic_ns();
    fprintf(out, "coloop: %llu task(s) alive, %llu finished handle(s) not joined:\n",
            (unsigned long long)loop->stats.tasks_alive,
            (unsigned long long)loop->stats.handles_open);
    for (const co_task *t = loop->all_head; t; t = t->next) {
        describe(loop, t, now, why, sizeof why);
        fprintf(out, "  #%-5llu %-20s %-8s %s%s, spawned at %s:%d\n",
                (unsigned long long)t->id, t->name, state_name(t->state), why,
                t->cancelled ? " [cancelled]" : "", t->spawn_file, t->spawn_line);
    }
}

/* --- the SIGQUIT dump ------------------------------------------------------ */

/* SIGQUIT may arrive on any thread: the handler only counts the request and
 * pokes two eventfds per loop that enabled debugging - the loop's, so it
 * prints its own dump at its next poll, and its watchdog's, so the monitor
 * can say who holds the loop if that poll does not come.  The table is
 * static: the handler must never touch memory a loop may have freed. */
struct quit_slot {
    atomic_int dump_fd;               /* the loop's eventfd + 1; 0: slot free */
    atomic_int wake_fd;               /* its watchdog's wake eventfd + 1; 0: none */
    struct dump_requests requests;    /* counted here, answered by the loop */
};

static struct quit_slot quit_slots[MAX_DUMP_FDS];
static pthread_mutex_t quit_lock = PTHREAD_MUTEX_INITIALIZER;   /* claims; installing the handler */
static int quit_users;                /* slots claimed */
static struct sigaction quit_before;  /* what SIGQUIT did before us; the last user restores it */

static void poke(atomic_int *fd_plus_one)
{
    uint64_t one = 1;
    int fd = atomic_load(fd_plus_one) - 1;
    if (fd >= 0 && write(fd, &one, sizeof one) < 0) {
        /* the eventfd counter cannot overflow in practice: nothing to do */
    }
}

/* A handler installed before ours still runs.  The default action (a core
 * dump) and SIG_IGN are replaced by the dump while debugging is on. */
static void chain_quit(int sig, siginfo_t *info, void *ctx)
{
    if (quit_before.sa_flags & SA_SIGINFO)
        quit_before.sa_sigaction(sig, info, ctx);
    else if (quit_before.sa_handler != SIG_DFL && quit_before.sa_handler != SIG_IGN)
        quit_before.sa_handler(sig);
}

static void on_sigquit(int sig, siginfo_t *info, void *ctx)
{
    int saved = errno;   /* a handler must leave errno as it found it */
    for (int i = 0; i < MAX_DUMP_FDS; i++) {
        struct quit_slot *s = &quit_slots[i];
        if (atomic_load(&s->dump_fd) == 0)
            continue;
        atomic_fetch_add(&s->requests.asked, 1);
        poke(&s->dump_fd);
        poke(&s->wake_fd);
    }
    chain_quit(sig, info, ctx);
    errno = saved;
}

/* Under quit_lock. */
static void install_quit_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigquit;
    sa.sa_flags = SA_RESTART | SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGQUIT, &sa, &quit_before);
}

/* Under quit_lock.  A handler someone installed after ours is left alone. */
static void restore_quit_handler(void)
{
    struct sigaction now;
    if (sigaction(SIGQUIT, NULL, &now) == 0 && (now.sa_flags & SA_SIGINFO) &&
        now.sa_sigaction == on_sigquit)
        sigaction(SIGQUIT, &quit_before, NULL);
}

/* A table entry for the loop's eventfd `fd`, installing the handler for the
 * first one; NULL if every entry is taken (that loop gets no SIGQUIT dump). */
static struct quit_slot *quit_claim(int fd)
{
    struct quit_slot *slot = NULL;
    pthread_mutex_lock(&quit_lock);
    for (int i = 0; i < MAX_DUMP_FDS && !slot; i++)
        if (atomic_load(&quit_slots[i].dump_fd) == 0)
            slot = &quit_slots[i];
    if (slot) {
        atomic_store(&slot->requests.answered, atomic_load(&slot->requests.asked));
        atomic_store(&slot->dump_fd, fd + 1);
        if (quit_users++ == 0)
            install_quit_handler();
    }
    pthread_mutex_unlock(&quit_lock);
    return slot;
}

/* Give the entry back; the last one restores what SIGQUIT did before. */
static void quit_release(struct quit_slot *slot)
{
    pthread_mutex_lock(&quit_lock);
    atomic_store(&slot->wake_fd, 0);
    atomic_store(&slot->dump_fd, 0);
    if (--quit_users == 0)
        restore_quit_handler();
    pthread_mutex_unlock(&quit_lock);
}

static void print_dump(co_loop *loop)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out) {
        out = stderr;   /* out of memory: unordered beats nothing */
    }
    fprintf(out, "coloop: SIGQUIT: task dump\n");
    loop_dump_tasks(loop, out);
    loop_print_stats(loop, out);
    if (out == stderr)
        return;
    fclose(out);
    watchdog_print(loop->debug->watchdog, text);   /* after a report the watchdog is writing */
    free(text);
}

static void on_dump_request(void *arg)
{
    co_loop *loop = arg;
    struct co_debug *d = loop->debug;
    unsigned asked = atomic_load(&d->quit->requests.asked);
    uint64_t count;
    while (read(d->dump_fd, &count, sizeof count) > 0)
        ;
    atomic_store(&d->quit->requests.answered, asked);   /* the loop is free: no "held by" */
    print_dump(loop);
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
    loop->debug->quit = quit_claim(fd);
    if (!loop->debug->quit) {   /* the table is full: no SIGQUIT dump for this loop */
        loop_unwatch_fd(loop, fd);
        close(fd);
        return 0;
    }
    loop->debug->dump_fd = fd;
    return 0;
}

static void stop_dump_on_sigquit(co_loop *loop)
{
    struct co_debug *d = loop->debug;
    if (!d->quit)
        return;
    quit_release(d->quit);
    d->quit = NULL;
    loop_unwatch_fd(loop, d->dump_fd);
    close(d->dump_fd);
    d->dump_fd = -1;
}

/* --- on and off --------------------------------------------------------------- */

int loop_debug_enable(co_loop *loop, int threshold_ms)
{
    if (loop->debug)
        return 0;
    struct co_debug *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    loop->debug = d;
    d->dump_fd = -1;
    int rc = dump_on_sigquit(loop);
    if (rc == 0)
        rc = watchdog_start(&d->watchdog, loop,
                            threshold_ms > 0 ? threshold_ms : CO_WATCHDOG_DEFAULT_MS,
                            d->quit ? &d->quit->requests : NULL);
    if (rc == 0 && d->quit)
        atomic_store(&d->quit->wake_fd, watchdog_wake_fd(d->watchdog) + 1);
    if (rc < 0)
        loop_debug_disable(loop);
    return rc;
}

void loop_debug_disable(co_loop *loop)
{
    struct co_debug *d = loop->debug;
    if (!d)
        return;
    if (d->quit)   /* the handler must stop poking the wake fd before it is closed */
        atomic_store(&d->quit->wake_fd, 0);
    if (d->watchdog)
        watchdog_stop(d->watchdog);
    stop_dump_on_sigquit(loop);
    free(d);
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
    int64_t now = watchdog_task_stopped(loop->debug->watchdog, t);
    if (t->state == TASK_WAITING) {
        struct wait_mark *m = &loop->debug->marks[t->id % WAIT_MARKS];
        m->task_id = t->id;
        m->since_ns = now;
    }
}

void debug_loop_freed(co_loop *loop)
{
    loop_print_stats(loop, stderr);
    loop_debug_disable(loop);
}
