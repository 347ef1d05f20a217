/* watchdog.c - noticing a task that blocks the loop, while it blocks.
 *
 * The essays' first pitfall: a blocking call (time.sleep, requests.get) or a
 * long computation inside a task freezes every other task, silently.  Here a
 * monitor thread watches the loop thread.  The loop publishes, at every
 * switch, which task runs and since when (three relaxed atomic stores: cheap
 * enough for debug mode).  The monitor wakes every threshold/4; if the same
 * task has been running longer than the threshold it prints who (name, spawn
 * site), for how long, and where the task is now:
 *
 *   - blocked in a system call (sleep, a blocking connect, getaddrinfo...):
 *     /proc/self/task/TID/syscall gives the call, its stack pointer and PC;
 *     we scan the task's stack for return addresses (backtrace.c) without
 *     touching the thread.  Signalling it instead would interrupt the call -
 *     nanosleep is never restarted after a signal - and change what we watch.
 *   - running (a CPU-bound loop): there is no call to interrupt, so we send
 *     the thread a signal whose handler records backtrace() for us.
 *
 * When the task finally gives the loop back, the loop thread itself prints
 * the total time it held it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <execinfo.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runtime/backtrace.h"
#include "runtime/watchdog.h"

struct co_watchdog {
    pthread_t thread;
    pid_t loop_tid;                 /* the loop thread, for /proc and tgkill */
    int64_t threshold_ns;
    _Atomic uint64_t seq;           /* changes at every switch in or out of a task */
    _Atomic int64_t since_ns;       /* when the running task got the CPU */
    _Atomic(co_task *) task;        /* the running task, NULL between tasks */
    uint64_t seq_local;             /* loop thread's copy of seq */
    pthread_mutex_t lock;           /* with `wake`: lets watchdog_stop end the sleep at once */
    pthread_cond_t wake;
    bool stopping;
    sem_t captured;                 /* posted by the capture signal handler */
    void *frames[BT_MAX_FRAMES];    /* written by the capture handler */
    int frame_count;
};

static struct co_watchdog *_Atomic capture_target;   /* whose thread the capture signal is for */
static pthread_once_t handler_once = PTHREAD_ONCE_INIT;

static int capture_signal(void) { return SIGRTMIN + 3; }

static int64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* --- the loop thread's side -------------------------------------------------- */

void watchdog_task_running(struct co_watchdog *w, co_task *t)
{
    atomic_store_explicit(&w->since_ns, monotonic_ns(), memory_order_relaxed);
    atomic_store_explicit(&w->task, t, memory_order_relaxed);
    atomic_store_explicit(&w->seq, ++w->seq_local, memory_order_release);
}

void watchdog_task_stopped(struct co_watchdog *w, co_task *t)
{
    int64_t held = monotonic_ns() - atomic_load_explicit(&w->since_ns, memory_order_relaxed);
    atomic_store_explicit(&w->task, NULL, memory_order_relaxed);
    atomic_store_explicit(&w->seq, ++w->seq_local, memory_order_release);
    if (held >= w->threshold_ns)
        fprintf(stderr, "coloop watchdog: task #%llu '%s' (spawned at %s:%d) gave the loop back "
                        "after holding it for %.3f s; no other task ran meanwhile\n",
                (unsigned long long)t->id, t->name, t->spawn_file, t->spawn_line,
                (double)held / 1e9);
}

/* --- capturing a running thread's stack ----------------------------------- */

static void on_capture_signal(int sig)
{
    (void)sig;
    int saved = errno;
    struct co_watchdog *w = atomic_load(&capture_target);
    if (w && gettid() == w->loop_tid) {
        w->frame_count = backtrace(w->frames, BT_MAX_FRAMES);
        sem_post(&w->captured);
    }
    errno = saved;
}

static void install_capture_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_capture_signal;
    sa.sa_flags = SA_RESTART | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(capture_signal(), &sa, NULL);
}

static int capture_running_stack(struct co_watchdog *w, uintptr_t *pcs)
{
    atomic_store(&capture_target, w);
    w->frame_count = 0;
    if (tgkill(getpid(), w->loop_tid, capture_signal()) < 0)
        return 0;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 200 * 1000000;
    until.tv_sec += until.tv_nsec / 1000000000;
    until.tv_nsec %= 1000000000;
    if (sem_timedwait(&w->captured, &until) < 0)
        return 0;
    atomic_store(&capture_target, NULL);
    int n = 0;
    for (int i = 0; i < w->frame_count; i++)   /* skip the handler and signal frames */
        if (i >= 2)
            pcs[n++] = (uintptr_t)w->frames[i];
    return n;
}

/* --- the monitor thread's side ------------------------------------------------ */

struct task_copy {
    unsigned long long id;
    char name[48];
    const char *spawn_file;
    int spawn_line;
    uintptr_t stack_top;
};

/* Copy what we print about the task; valid only if no switch happened meanwhile. */
static bool copy_running_task(struct co_watchdog *w, uint64_t seq, struct task_copy *c)
{
    co_task *t = atomic_load_explicit(&w->task, memory_order_acquire);
    if (!t)
        return false;
    c->id = (unsigned long long)t->id;
    memcpy(c->name, t->name, sizeof c->name);
    c->spawn_file = t->spawn_file;
    c->spawn_line = t->spawn_line;
    c->stack_top = (uintptr_t)t->stack.lo + t->stack.size;
    return atomic_load_explicit(&w->seq, memory_order_acquire) == seq;
}

static const char *syscall_name(long nr)
{
    switch (nr) {   /* x86-64 numbers of the calls that usually block a loop */
    case 0: return "read";
    case 1: return "write";
    case 7: return "poll";
    case 23: return "select";
    case 35: return "nanosleep (sleep, usleep)";
    case 42: return "connect";
    case 43: return "accept";
    case 44: return "sendto";
    case 45: return "recvfrom";
    case 61: return "wait4";
    case 202: return "futex (a lock or condition variable)";
    case 230: return "clock_nanosleep (sleep, usleep)";
    case 232: return "epoll_wait";
    default: return "a system call";
    }
}

/* Where is the loop thread?  Fills pcs; returns the count. */
static int locate(struct co_watchdog *w, const struct task_copy *c, uintptr_t *pcs, FILE *out)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)w->loop_tid);
    FILE *f = fopen(path, "r");
    bool have = f && fgets(line, sizeof line, f);
    if (f)
        fclose(f);
    long nr = -1;
    unsigned long args[6], sp = 0, pc = 0;
    if (have && sscanf(line, "%ld %lx %lx %lx %lx %lx %lx %lx %lx", &nr, &args[0], &args[1],
                       &args[2], &args[3], &args[4], &args[5], &sp, &pc) == 9 && nr >= 0) {
        fprintf(out, "  It is blocked in %s, right now:\n", syscall_name(nr));
        pcs[0] = pc;
        if (sp < c->stack_top && c->stack_top - sp <= 16 * 1024 * 1024)
            return 1 + bt_scan_stack(sp, c->stack_top, pcs + 1, BT_MAX_FRAMES - 1);
        return 1;
    }
    fprintf(out, "  It is running (computing, not waiting), right now:\n");
    return -capture_running_stack(w, pcs);   /* negative: no exact first PC */
}

static void report_blocking(struct co_watchdog *w, const struct task_copy *c, int64_t held_ns)
{
    uintptr_t pcs[BT_MAX_FRAMES];
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);   /* one write, not interleaved with the loop's */
    if (!out)
        return;
    fprintf(out, "coloop watchdog: task #%llu '%s' (spawned at %s:%d) has held the loop for "
                 "%lld ms (threshold %lld ms): no other task can run until it calls an "
                 "await_* function.\n",
            c->id, c->name, c->spawn_file, c->spawn_line, (long long)(held_ns / 1000000),
            (long long)(w->threshold_ns / 1000000));
    int n = locate(w, c, pcs, out);
    bt_print(out, pcs, n < 0 ? -n : n, n > 0);
    fclose(out);
    fputs(text, stderr);
    free(text);
}

static void *watchdog_main(void *arg)
{
    struct co_watchdog *w = arg;
    uint64_t reported = 0;
    pthread_mutex_lock(&w->lock);
    while (!w->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        int64_t tick = w->threshold_ns / 4;
        until.tv_sec += (until.tv_nsec + tick) / 1000000000;
        until.tv_nsec = (until.tv_nsec + tick) % 1000000000;
        pthread_cond_timedwait(&w->wake, &w->lock, &until);
        if (w->stopping)
            break;
        uint64_t seq = atomic_load_explicit(&w->seq, memory_order_acquire);
        int64_t held = monotonic_ns() - atomic_load_explicit(&w->since_ns, memory_order_relaxed);
        struct task_copy c;
        if (seq == reported || held < w->threshold_ns || !copy_running_task(w, seq, &c))
            continue;
        reported = seq;   /* once per stall; the loop prints the total when it ends */
        pthread_mutex_unlock(&w->lock);
        report_blocking(w, &c, held);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int watchdog_start(struct co_watchdog **out, co_loop *loop, int threshold_ms)
{
    (void)loop;
    struct co_watchdog *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    w->loop_tid = gettid();
    w->threshold_ns = (int64_t)threshold_ms * 1000000;
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->wake, &attr);
    pthread_condattr_destroy(&attr);
    sem_init(&w->captured, 0, 0);
    bt_init();
    void *warm[2];
    backtrace(warm, 2);   /* the first call loads libgcc: do it here, not in a signal handler */
    pthread_once(&handler_once, install_capture_handler);
    int rc = pthread_create(&w->thread, NULL, watchdog_main, w);
    if (rc != 0) {
        free(w);
        return -rc;
    }
    pthread_setname_np(w->thread, "coloop-watchdog");
    *out = w;
    return 0;
}

void watchdog_stop(struct co_watchdog *w)
{
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    sem_destroy(&w->captured);
    free(w);
}
