/* loop.c - the event loop: one turn = wait for I/O or the next timer, fire
 * due timers, run every task that is ready.
 *
 *     loop_run
 *       while tasks are alive:
 *         loop_poll        epoll_pwait2 until a descriptor is ready or the
 *                          earliest timer is due (0 if tasks are ready)
 *         fire_due_timers  wake tasks whose sleep or deadline has passed
 *         run_ready_batch  run each task that was ready at this point: the loop
 *                          switches to the first, each hands over to the next
 *                          when it stops or ends, the last one switches home
 *
 * Descriptors are registered with epoll once, edge-triggered, for both
 * directions (EPOLLIN|EPOLLOUT|EPOLLET).  Edge-triggered means epoll reports a
 * change of state, not a state: so every I/O wrapper must try its read or
 * write first and wait only after EAGAIN, or it could wait for an edge that
 * already happened.  In exchange the steady state costs no epoll_ctl calls.
 *
 * The ready queue is run in batches: tasks made ready while a batch runs wait
 * for the next turn, so a set of tasks that keep yielding cannot starve the
 * network (the loop polls between batches whenever anyone waits on I/O).  A
 * batch is also capped at READY_BATCH_MAX tasks: a turn that ran 10,000
 * freshly spawned tasks in a row would leave I/O unpolled and timers unfired
 * for milliseconds.  (The cached clock, now_ns, is refreshed once per turn;
 * deadlines are computed from a fresh reading: see co_deadline_in_ms.)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "runtime/internal.h"

#define EPOLL_BATCH 256
#define READY_BATCH_MAX 256   /* tasks run per turn before the clock and I/O are looked at again */
#define TEARDOWN_TURNS 1000   /* turns loop_free gives cancelled tasks to unwind */

static _Thread_local co_loop *this_thread_loop;

static int64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

co_loop *loop_this_thread(void) { return this_thread_loop; }
co_loop *loop_current(void) { return this_thread_loop; }

int64_t co_now_ns(void)
{
    return this_thread_loop ? this_thread_loop->now_ns : monotonic_ns();
}

/* From a fresh reading of the clock, not the turn's cached one: a task that
 * held the loop for 500 ms and then asks for 100 ms must get 100 ms, not a
 * deadline already 400 ms past (asyncio's loop.time() is fresh too; libuv's
 * uv_now() is cached, and says so).  The cache itself is left alone: it
 * still marks one turn (connpool.c tells a connection given back in this
 * same turn by it) and timers still fire against it. */
int64_t co_deadline_in_ms(int64_t ms)
{
    int64_t now = monotonic_ns();
    if (ms > (INT64_MAX - now) / 1000000)
        return INT64_MAX;   /* "forever" must not overflow into the past */
    return now + ms * 1000000;
}

/* A write to a socket whose peer is gone raises SIGPIPE, whose default action
 * kills the process; OpenSSL's writes cannot pass MSG_NOSIGNAL.  So a loop
 * ignores SIGPIPE (if nobody chose a handler) and writes fail with EPIPE. */
static void ignore_sigpipe(void)
{
    struct sigaction old;
    if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL)
        signal(SIGPIPE, SIG_IGN);
}

int loop_new(co_loop **out)
{
    *out = NULL;
    if (this_thread_loop)
        return -EEXIST;
    co_loop *loop = calloc(1, sizeof *loop);
    if (!loop)
        return -ENOMEM;
    loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epoll_fd < 0) {
        int err = errno;
        free(loop);
        return -err;
    }
    int rc = overflow_guard_start(loop);
    if (rc < 0) {
        close(loop->epoll_fd);
        free(loop);
        return rc;
    }
    coro_init_home(&loop->home);
    loop->now_ns = monotonic_ns();
    ignore_sigpipe();
    this_thread_loop = loop;
    debug_enable_from_environment(loop);   /* COLOOP_DEBUG=1; a failure only costs the aids */
    *out = loop;
    return 0;
}

void loop_make_ready(co_loop *loop, co_task *t)
{
    t->next_ready = NULL;
    if (loop->ready_tail)
        loop->ready_tail->next_ready = t;
    else
        loop->ready_head = t;
    loop->ready_tail = t;
}

/* Bookkeeping around a switch: which task runs (the watchdog and the task dump
 * read it), the switch counter, and the debug hooks. */
static void task_switching_in(co_loop *loop, co_task *t)
{
    loop->current = t;
    t->state = TASK_RUNNING;
    loop->stats.switches++;
    if (loop->debug)
        debug_task_switched_in(loop, t);
}

static void task_switched_out(co_loop *loop, co_task *t)
{
    if (loop->debug)
        debug_task_switched_out(loop, t);
    loop->current = NULL;
}

/* The next task of the running batch, or NULL when the batch is over. */
static co_task *take_from_batch(co_loop *loop)
{
    co_task *t = loop->ready_head;
    if (!t || loop->batch_left == 0)
        return NULL;
    loop->ready_head = t->next_ready;
    if (!loop->ready_head)
        loop->ready_tail = NULL;
    /* Tasks made ready while the batch runs are queued after batch_last:
     * taking it closes the batch. */
    loop->batch_left = t == loop->batch_last ? 0 : loop->batch_left - 1;
    return t;
}

/* Where a task that stops or ends goes: the next task of the batch (marked
 * running now), or home when the batch is over. */
static struct co_coro *hand_over_to(co_loop *loop)
{
    co_task *next = take_from_batch(loop);
    if (!next) {
        loop->stats.switches++;
        return &loop->home;
    }
    task_switching_in(loop, next);
    return &next->coro;
}

/* A task that stops hands the thread straight to the next task of the
 * batch: one switch (task -> task) instead of two (task -> loop -> task).
 * With ucontext every switch costs a system call, so this halves what a
 * batch of wakeups costs.  The last task of the batch switches home. */
void loop_switch_away(co_loop *loop, co_task *self)
{
    task_switched_out(loop, self);
    coro_switch(&self->coro, hand_over_to(loop));
    /* Resumed: whoever switched to us did task_switching_in(self). */
    loop_release_ended(loop);
}

/* A task whose function returned hands over the same way, but it cannot
 * free its own stack while it runs on it: it leaves itself in loop->ended,
 * and whatever runs next (the next task, or the loop) releases it first
 * thing.  Sets where coro_run switches to when task_entry returns. */
void loop_task_ending(co_loop *loop, co_task *self)
{
    task_switched_out(loop, self);
    loop->ended = self;
    self->coro.leave_to = hand_over_to(loop);
}

/* Every place that resumes after a switch calls this: a task that ended
 * and switched here is released now that nobody runs on its stack. */
void loop_release_ended(co_loop *loop)
{
    co_task *t = loop->ended;
    if (t) {
        loop->ended = NULL;
        task_release_finished(t);
    }
}

/* Run the tasks that are ready now, at most READY_BATCH_MAX.  The loop
 * switches to the first; each hands over to the next (loop_switch_away,
 * loop_task_ending); the loop gets the thread back when the batch is over. */
static void run_ready_batch(co_loop *loop)
{
    loop->batch_last = loop->ready_tail;
    loop->batch_left = READY_BATCH_MAX;
    co_task *t = take_from_batch(loop);
    if (!t)
        return;
    task_switching_in(loop, t);
    coro_switch(&loop->home, &t->coro);
    loop_release_ended(loop);
}

static void fire_due_timers(co_loop *loop)
{
    struct co_timer *first;
    while ((first = timer_heap_first(&loop->timers)) && first->deadline_ns <= loop->now_ns) {
        int64_t late_us = (loop->now_ns - first->deadline_ns) / 1000;
        loop->lag_us[loop->lag_count++ % LAG_WINDOW] = late_us > INT32_MAX ? INT32_MAX : (int32_t)late_us;
        timer_heap_remove(&loop->timers, first);
        first->fire(first);
    }
}

static void dispatch_fd_event(co_loop *loop, const struct epoll_event *ev)
{
    int fd = ev->data.fd;
    if (fd >= loop->fds_capacity || !loop->fds[fd].registered)
        return;
    struct fd_slot *slot = &loop->fds[fd];
    if (ev->events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        slot->hung_up = true;       /* sticky: an end or an error is read once, then stays */
    if (ev->events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        slot->drained = false;
    if (slot->watch && (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
        slot->watch(slot->watch_arg);
        return;
    }
    if (slot->reader && (ev->events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        task_wake(slot->reader, 0);
    if (slot->writer && (ev->events & (EPOLLOUT | EPOLLHUP | EPOLLERR)))
        task_wake(slot->writer, 0);
}

/* Wait for I/O at most until `timeout_ns` (-1 = no limit), dispatch events. */
static void loop_poll(co_loop *loop, int64_t timeout_ns)
{
    struct epoll_event events[EPOLL_BATCH];
    struct timespec ts = { timeout_ns / 1000000000, timeout_ns % 1000000000 };
    loop->stats.epoll_waits++;
    /* epoll_pwait2 takes nanoseconds; plain epoll_wait rounds to milliseconds,
     * which would make every timer up to 1 ms late.  Kernels before 5.11 (and
     * Valgrind 3.19) lack it: after the first ENOSYS, use epoll_wait. */
    static atomic_bool no_pwait2;
    int n = -1;
    if (!atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
        n = epoll_pwait2(loop->epoll_fd, events, EPOLL_BATCH, timeout_ns < 0 ? NULL : &ts, NULL);
        if (n < 0 && errno == ENOSYS)
            atomic_store(&no_pwait2, true);
    }
    if (atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
        int ms = timeout_ns < 0 ? -1 : (int)((timeout_ns + 999999) / 1000000);
        n = epoll_wait(loop->epoll_fd, events, EPOLL_BATCH, ms);
    }
    for (int i = 0; i < n; i++)
        dispatch_fd_event(loop, &events[i]);
}

static bool anyone_waits_outside(const co_loop *loop)
{
    return loop->stats.fd_waiters > 0 || loop->external_waits > 0;
}

static void report_deadlock(co_loop *loop)
{
    fprintf(stderr, "coloop: deadlock: %llu task(s) blocked, no timer armed, no descriptor or "
                    "pool job awaited: nothing can ever wake them.\n",
            (unsigned long long)loop->stats.tasks_alive);
    loop_dump_tasks(loop, stderr);
}

/* One turn of the loop.  Returns 1 to go on, 0 when no task is left,
 * -CO_EDEADLOCK when tasks are left but nothing can wake them. */
static int loop_turn(co_loop *loop)
{
    if (loop->stats.tasks_alive == 0)
        return 0;
    if (loop->ready_head) {
        if (anyone_waits_outside(loop))
            loop_poll(loop, 0);
    } else {
        struct co_timer *first = timer_heap_first(&loop->timers);
        if (first) {
            int64_t wait = first->deadline_ns - monotonic_ns();
            loop_poll(loop, wait > 0 ? wait : 0);
        } else if (anyone_waits_outside(loop)) {
            loop_poll(loop, -1);
        } else {
            return -CO_EDEADLOCK;
        }
    }
    loop->now_ns = monotonic_ns();
    fire_due_timers(loop);
    run_ready_batch(loop);
    return 1;
}

int loop_run(co_loop *loop)
{
    if (loop->running)
        return -CO_ENESTED;
    loop->running = true;
    loop->stop_requested = false;
    loop->now_ns = monotonic_ns();
    int rc = 0;
    while (!loop->stop_requested && (rc = loop_turn(loop)) > 0)
        ;
    loop->running = false;
    if (loop->stop_requested)
        return 0;
    if (rc == -CO_EDEADLOCK)
        report_deadlock(loop);
    return rc;
}

void loop_stop(co_loop *loop)
{
    loop->stop_requested = true;
}

/* Give every task still alive a cancel and a bounded number of turns to
 * unwind, so each leaves through its own return path (and its sanitizer
 * bookkeeping is closed properly). */
static void cancel_leftovers(co_loop *loop)
{
    for (co_task *t = loop->all_head; t; t = t->next) {
        if (t->state == TASK_DONE)
            continue;
        fprintf(stderr, "coloop: task #%llu '%s' (spawned at %s:%d) still pending when the loop "
                        "was freed; cancelling it\n",
                (unsigned long long)t->id, t->name, t->spawn_file, t->spawn_line);
        task_cancel(t);
    }
    loop->running = true;
    for (int turn = 0; turn < TEARDOWN_TURNS && loop_turn(loop) > 0; turn++)
        ;
    loop->running = false;
}

/* Handles nobody consumed: say so, then free them. */
static void report_and_free_handles(co_loop *loop)
{
    while (loop->all_head) {
        co_task *t = loop->all_head;
        if (t->state == TASK_DONE && !t->detached)
            fprintf(stderr, "coloop: task #%llu '%s' (spawned at %s:%d) was never joined or "
                            "detached; it returned %d (%s)%s\n",
                    (unsigned long long)t->id, t->name, t->spawn_file, t->spawn_line, t->result,
                    t->result < 0 ? co_strerror(t->result) : "ok",
                    t->result < 0 ? ": an error nobody saw" : "");
        else if (t->state != TASK_DONE)
            fprintf(stderr, "coloop: task #%llu '%s' (spawned at %s:%d) never finished; its "
                            "stack is released without unwinding it\n",
                    (unsigned long long)t->id, t->name, t->spawn_file, t->spawn_line);
        task_free(t);
    }
}

void loop_free(co_loop *loop)
{
    if (!loop)
        return;
    if (loop->running) {
        fprintf(stderr, "coloop: loop_free() called while the loop runs; ignored\n");
        return;
    }
    if (loop->stats.tasks_alive > 0)
        cancel_leftovers(loop);
    report_and_free_handles(loop);
    if (loop->debug)
        debug_loop_freed(loop);
    for (int fd = 0; fd < loop->fds_capacity; fd++)
        if (loop->fds[fd].registered)
            epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
    free(loop->fds);
    timer_heap_fini(&loop->timers);
    stack_cache_drain(&loop->stacks);
    overflow_guard_stop(loop);
    close(loop->epoll_fd);
    if (this_thread_loop == loop)
        this_thread_loop = NULL;
    free(loop);
}

struct run_main {
    co_task_fn fn;      /* the user's function */
    void *arg;
    int result;         /* what it returned */
    bool finished;      /* fn has returned */
    bool abandoned;     /* co_run has returned without it: the task frees this */
};

static int run_main_task(void *arg)
{
    struct run_main *m = arg;
    int result = m->fn(m->arg);
    if (m->abandoned) {   /* co_run gave up on us (loop stopped or deadlocked) */
        free(m);
        return result;
    }
    m->result = result;
    m->finished = true;
    loop_stop(loop_this_thread());   /* like asyncio.run: done when main is done */
    return 0;
}

int co_run_at(co_task_fn fn, void *arg, const char *fn_name, const char *file, int line)
{
    co_loop *loop = this_thread_loop;
    if (loop && loop->running) {
        co_task *self = loop->current;
        fprintf(stderr, "coloop: co_run() called at %s:%d while a loop is running on this "
                        "thread (from task '%s'); call the function directly or spawn it "
                        "instead\n", file, line, self ? self->name : "?");
        return -CO_ENESTED;
    }
    bool own_loop = !loop;
    if (own_loop) {
        int rc = loop_new(&loop);
        if (rc < 0)
            return rc;
    }
    /* On the heap, not on this frame: if the loop stops before main ends,
     * we return and main may still run (and write its result) later. */
    struct run_main *m = calloc(1, sizeof *m);
    if (!m) {
        if (own_loop)
            loop_free(loop);
        return -ENOMEM;
    }
    m->fn = fn;
    m->arg = arg;
    co_task *t;
    int rc = task_spawn_at(&t, run_main_task, m, NULL, fn_name, file, line);
    if (rc == 0) {
        task_detach(t);
        rc = loop_run(loop);
    }
    /* Main's result if it ended; else the loop's error (deadlock); else
     * someone called loop_stop() first and main is cancelled: -ECANCELED. */
    int result = m->finished ? m->result : rc < 0 ? rc : -ECANCELED;
    if (own_loop)
        loop_free(loop);   /* cancels (and reports) whatever main left running */
    if (own_loop || m->finished)
        free(m);           /* nobody can touch it any more */
    else
        m->abandoned = true;   /* main still lives on the caller's loop: it frees m */
    return result;
}
