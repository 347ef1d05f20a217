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
 * the total time it held it.  That line must come after the monitor's report,
 * which can take a while (a signal, addr2line): while the monitor writes one,
 * the loop leaves its output with it (watchdog_print) and the monitor prints
 * it right after.  The lock guarding that is never held while waiting for
 * anything, in particular not for the capture signal's handler, which runs
 * on the loop thread.
 *
 * SIGQUIT: the loop answers a dump request at its next poll, which never
 * comes while a task holds it.  The handler also wakes the monitor; if the
 * loop has not answered within QUIT_ANSWER_MS and a task is running, the
 * monitor says at once which task holds the loop and where it is, from what
 * it already knows (the task list itself is the loop thread's alone).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <execinfo.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "runtime/backtrace.h"
#include "runtime/watchdog.h"

#define QUIT_ANSWER_MS 50   /* a SIGQUIT unanswered for this long: the loop is held */

struct co_watchdog {
    pthread_t thread;
    pid_t loop_tid;                 /* the loop thread, for /proc and tgkill */
    int64_t threshold_ns;
    _Atomic uint64_t seq;           /* changes at every switch in or out of a task */
    _Atomic int64_t since_ns;       /* when the running task got the CPU */
    _Atomic(co_task *) task;        /* the running task, NULL between tasks */
    uint64_t seq_local;             /* loop thread's copy of seq */
    int wake_fd;                    /* eventfd: watchdog_stop and SIGQUIT end the monitor's sleep */
    atomic_bool stopping;
    struct dump_requests *dumps;    /* this loop's SIGQUIT requests, or NULL */
    pthread_mutex_t report_lock;    /* guards the two fields below; held only briefly */
    bool reporting;                 /* the monitor is writing a report on the current stall */
    char *held_back;                /* the loop's output waiting for that report to be out */
    sem_t captured;                 /* posted by the capture signal handler */
    void *frames[BT_MAX_FRAMES];    /* written by the capture handler */
    int frame_count;
};

/* What the monitor remembers between its wakeups. */
struct monitor {
    uint64_t reported;              /* the stall (seq) already reported */
    unsigned quit_explained;        /* the SIGQUIT request count already explained */
    int64_t quit_since_ns;          /* when an unanswered request was first seen; 0: none */
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

/* --- output in order -------------------------------------------------------- */

/* Under report_lock: keep `text` for the monitor to print.  False if out of
 * memory: then it is printed now, out of order rather than lost. */
static bool hold_back(struct co_watchdog *w, const char *text)
{
    size_t old = w->held_back ? strlen(w->held_back) : 0, add = strlen(text);
    char *grown = realloc(w->held_back, old + add + 1);
    if (!grown)
        return false;
    memcpy(grown + old, text, add + 1);
    w->held_back = grown;
    return true;
}

void watchdog_print(struct co_watchdog *w, const char *text)
{
    pthread_mutex_lock(&w->report_lock);
    bool later = w->reporting && hold_back(w, text);
    pthread_mutex_unlock(&w->report_lock);
    if (!later)
        fputs(text, stderr);
}

/* Monitor: claim the output for a report on stall `seq`, unless the task has
 * moved on meanwhile (then its "gave back" line may already be out). */
static bool begin_report(struct co_watchdog *w, uint64_t seq)
{
    pthread_mutex_lock(&w->report_lock);
    bool same = atomic_load_explicit(&w->seq, memory_order_acquire) == seq;
    w->reporting = same;
    pthread_mutex_unlock(&w->report_lock);
    return same;
}

/* Monitor: print the report, then what the loop held back during it.  The
 * held-back text goes out under the lock, so a later line of the loop's
 * (which waits for the lock) cannot overtake it. */
static void end_report(struct co_watchdog *w, const char *text)
{
    if (text)
        fputs(text, stderr);
    pthread_mutex_lock(&w->report_lock);
    if (w->held_back) {
        fputs(w->held_back, stderr);
        free(w->held_back);
        w->held_back = NULL;
    }
    w->reporting = false;
    pthread_mutex_unlock(&w->report_lock);
}

/* --- the loop thread's side -------------------------------------------------- */

void watchdog_task_running(struct co_watchdog *w, co_task *t)
{
    atomic_store_explicit(&w->since_ns, monotonic_ns(), memory_order_relaxed);
    atomic_store_explicit(&w->task, t, memory_order_relaxed);
    atomic_store_explicit(&w->seq, ++w->seq_local, memory_order_release);
}

int64_t watchdog_task_stopped(struct co_watchdog *w, co_task *t)
{
    int64_t now = monotonic_ns();
    int64_t held = now - atomic_load_explicit(&w->since_ns, memory_order_relaxed);
    atomic_store_explicit(&w->task, NULL, memory_order_relaxed);
    atomic_store_explicit(&w->seq, ++w->seq_local, memory_order_release);
    if (held >= w->threshold_ns) {
        char line[1024];
        snprintf(line, sizeof line, "coloop watchdog: task #%llu '%s' (spawned at %s:%d) gave the "
                                    "loop back after holding it for %.3f s; no other task ran "
                                    "meanwhile\n",
                 (unsigned long long)t->id, t->name, t->spawn_file, t->spawn_line,
                 (double)held / 1e9);
        watchdog_print(w, line);
    }
    return now;
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
    while (sem_trywait(&w->captured) == 0)
        ;   /* a late answer to an earlier capture that timed out */
    w->frame_count = 0;
    atomic_store(&capture_target, w);
    if (tgkill(getpid(), w->loop_tid, capture_signal()) < 0) {
        atomic_store(&capture_target, NULL);
        return 0;
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 200 * 1000000;
    until.tv_sec += until.tv_nsec / 1000000000;
    until.tv_nsec %= 1000000000;
    int rc = sem_timedwait(&w->captured, &until);
    atomic_store(&capture_target, NULL);
    if (rc < 0)
        return 0;
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

/* Print `headline` and where the task of stall `seq` is, as one write.  The
 * loop's own lines wait for it (begin_report/end_report). */
static void report(struct co_watchdog *w, uint64_t seq, const struct task_copy *c,
                   const char *headline)
{
    if (!begin_report(w, seq))
        return;
    uintptr_t pcs[BT_MAX_FRAMES];
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);   /* one write, not interleaved with the loop's */
    if (!out) {
        end_report(w, NULL);
        return;
    }
    fputs(headline, out);
    int n = locate(w, c, pcs, out);
    bool moved_on = atomic_load_explicit(&w->seq, memory_order_acquire) != seq;
    bt_print(out, pcs, n < 0 ? -n : n, n > 0);
    if (moved_on)
        fprintf(out, "  (it gave the loop back while this was taken: the frames may show "
                     "where it went next)\n");
    fclose(out);
    end_report(w, text);
    free(text);
}

static void report_blocking(struct co_watchdog *w, uint64_t seq, const struct task_copy *c,
                            int64_t held_ns)
{
    char headline[1024];
    snprintf(headline, sizeof headline,
             "coloop watchdog: task #%llu '%s' (spawned at %s:%d) has held the loop for "
             "%lld ms (threshold %lld ms): no other task can run until it calls an "
             "await_* function.\n",
             c->id, c->name, c->spawn_file, c->spawn_line, (long long)(held_ns / 1000000),
             (long long)(w->threshold_ns / 1000000));
    report(w, seq, c, headline);
}

static void report_held_at_sigquit(struct co_watchdog *w, uint64_t seq, const struct task_copy *c,
                                   int64_t held_ns)
{
    char headline[1024];
    snprintf(headline, sizeof headline,
             "coloop watchdog: SIGQUIT: the loop is held by task #%llu '%s' (spawned at %s:%d) "
             "for %lld ms so far; the task dump follows when it gives the loop back.\n",
             c->id, c->name, c->spawn_file, c->spawn_line, (long long)(held_ns / 1000000));
    report(w, seq, c, headline);
}

/* True when a SIGQUIT request (*asked: the count) has gone unanswered for
 * QUIT_ANSWER_MS and was not explained yet. */
static bool quit_unanswered(const struct co_watchdog *w, struct monitor *m, int64_t now,
                            unsigned *asked)
{
    if (!w->dumps)
        return false;
    *asked = atomic_load(&w->dumps->asked);
    if (*asked == atomic_load(&w->dumps->answered) || *asked == m->quit_explained) {
        m->quit_since_ns = 0;
        return false;
    }
    if (m->quit_since_ns == 0)
        m->quit_since_ns = now;
    return now - m->quit_since_ns >= QUIT_ANSWER_MS * 1000000LL;
}

/* One look at the loop: an unanswered SIGQUIT, a stall over the threshold. */
static void look(struct co_watchdog *w, struct monitor *m)
{
    uint64_t seq = atomic_load_explicit(&w->seq, memory_order_acquire);
    int64_t now = monotonic_ns();
    int64_t held = now - atomic_load_explicit(&w->since_ns, memory_order_relaxed);
    struct task_copy c;
    unsigned asked;
    if (quit_unanswered(w, m, now, &asked)) {
        if (copy_running_task(w, seq, &c)) {
            m->quit_explained = asked;
            m->quit_since_ns = 0;
            report_held_at_sigquit(w, seq, &c, held);
        } else {
            m->quit_since_ns = now;   /* no task to name (the loop itself is busy): wait again */
        }
    }
    if (seq == m->reported || held < w->threshold_ns || !copy_running_task(w, seq, &c))
        return;
    m->reported = seq;   /* once per stall; the loop prints the total when it ends */
    report_blocking(w, seq, &c, held);
}

/* Sleep a tick (threshold/4, less while a SIGQUIT request is being timed);
 * the wake descriptor ends it early.  False when the watchdog stops. */
static bool wait_for_tick(struct co_watchdog *w, const struct monitor *m)
{
    int64_t timeout = w->threshold_ns / 4;
    if (m->quit_since_ns) {
        int64_t left = m->quit_since_ns + QUIT_ANSWER_MS * 1000000LL - monotonic_ns();
        if (left < timeout)
            timeout = left > 0 ? left : 0;
    }
    struct pollfd pfd = { .fd = w->wake_fd, .events = POLLIN };
    uint64_t count;
    if (poll(&pfd, 1, (int)((timeout + 999999) / 1000000)) > 0 &&
        read(w->wake_fd, &count, sizeof count) < 0) {
        /* EAGAIN: someone else's read won; nothing to do */
    }
    return !atomic_load(&w->stopping);
}

static void *watchdog_main(void *arg)
{
    struct co_watchdog *w = arg;
    struct monitor m = { 0 };
    while (wait_for_tick(w, &m))
        look(w, &m);
    return NULL;
}

/* The monitor keeps the loop thread's signal mask.  Blocking everything
 * here would be worse, not tidier: the SIGCHLD of the addr2line it runs
 * (ignored by default) would then be queued for the process instead of
 * dropped, and delivered to the loop thread, interrupting the very blocking
 * call being reported (a connect() with SO_SNDTIMEO fails with EINTR). */
static int start_thread(struct co_watchdog *w)
{
    int rc = pthread_create(&w->thread, NULL, watchdog_main, w);
    if (rc == 0)
        pthread_setname_np(w->thread, "coloop-watchdog");
    return -rc;
}

int watchdog_start(struct co_watchdog **out, co_loop *loop, int threshold_ms,
                   struct dump_requests *dumps)
{
    (void)loop;
    struct co_watchdog *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->wake_fd < 0) {
        int err = errno;
        free(w);
        return -err;
    }
    w->loop_tid = gettid();
    w->threshold_ns = (int64_t)threshold_ms * 1000000;
    w->dumps = dumps;
    pthread_mutex_init(&w->report_lock, NULL);
    sem_init(&w->captured, 0, 0);
    bt_init();
    void *warm[2];
    backtrace(warm, 2);   /* the first call loads libgcc: do it here, not in a signal handler */
    pthread_once(&handler_once, install_capture_handler);
    int rc = start_thread(w);
    if (rc < 0) {
        sem_destroy(&w->captured);
        pthread_mutex_destroy(&w->report_lock);
        close(w->wake_fd);
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

int watchdog_wake_fd(const struct co_watchdog *w)
{
    return w->wake_fd;
}

void watchdog_stop(struct co_watchdog *w)
{
    uint64_t one = 1;
    atomic_store(&w->stopping, true);
    if (write(w->wake_fd, &one, sizeof one) < 0) {
        /* cannot fail: the counter would have to reach 2^64 - 1 */
    }
    pthread_join(w->thread, NULL);
    close(w->wake_fd);
    pthread_mutex_destroy(&w->report_lock);
    sem_destroy(&w->captured);
    free(w->held_back);   /* NULL: the monitor prints it before it stops */
    free(w);
}
