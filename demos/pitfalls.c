/* pitfalls.c - the essays' async pitfalls, each reproduced, measured and explained.
 *
 *   pitfalls [--quick] [NAME...]      run the named demos (default: all of them)
 *
 *   blocking    a blocking call inside a task freezes every task (claims C8, C14)
 *   cpu         CPU-bound work in a task vs on the worker pool (C9)
 *   sequential  awaiting one at a time vs starting all, then joining (C10)
 *   errors      await_all vs a task group vs what asyncio.gather really does (C13)
 *   references  a task whose handle nobody keeps (C11, C12)
 *   forgotten   the C analogues of "coroutine was never awaited" (C11)
 *   noyield     a task that never yields cannot be cancelled (C8)
 *   errno       errno read after a yield point belongs to another task
 *
 * Each demo says what it is about to do, runs it, prints what it measured and
 * a short "why / fix".  --quick shortens every wait (for the tests).  Only
 * timers and the worker pool are used, so nothing touches the network.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coloop.h"
#include "runtime/debug.h"

static int scale = 1;   /* --quick divides every duration by 4 */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int ms(int full) { return full / scale; }

static void spawn_detached(co_task_fn fn, void *arg, const char *name)
{
    co_task *t;
    struct co_spawn_opts opts = { .name = name };
    if (task_spawn_opts(&t, fn, arg, &opts) == 0)
        task_detach(t);
}

static void heading(const char *title, const char *claim)
{
    printf("\n=== %s  (%s) ===\n", title, claim);
}

/* --- a ticker: the other tasks' point of view ---------------------------- */

/* Wakes every 10 ms for `for_ms` and records how late each wakeup was: what
 * every other task on the loop experiences while someone blocks it. */
struct ticker { int for_ms; int64_t worst_ms; };

static int tick(void *arg)
{
    struct ticker *t = arg;
    int64_t end = now_ms() + t->for_ms;
    while (now_ms() < end) {
        int64_t due = now_ms() + 10;
        await_sleep_ms(10);
        int64_t late = now_ms() - due;
        if (late > t->worst_ms)
            t->worst_ms = late;
    }
    return 0;
}

/* --- blocking -------------------------------------------------------------- */

struct blocking_run { int block_ms; int how; };   /* how: 0 blocking, 1 await, 2 pool */

static int usleep_job(void *arg) { usleep((useconds_t)*(int *)arg * 1000); return 0; }

static int stall(void *arg)
{
    struct blocking_run *r = arg;
    await_sleep_ms(20);
    if (r->how == 0)
        usleep((useconds_t)r->block_ms * 1000);   /* time.sleep(): the whole loop stops */
    else if (r->how == 1)
        await_sleep_ms(r->block_ms);             /* asyncio.sleep(): only this task waits */
    else
        await_thread(usleep_job, &r->block_ms, sizeof r->block_ms, NULL, CO_NO_DEADLINE);
    return 0;
}

static int64_t run_blocking_variant(int how, int block_ms, bool watchdog)
{
    co_loop *loop;
    loop_new(&loop);
    if (watchdog)
        loop_debug_enable(loop, 100);
    struct ticker t = { block_ms + 100, 0 };
    struct blocking_run r = { block_ms, how };
    spawn_detached(tick, &t, "ticker");
    spawn_detached(stall, &r, how == 0 ? "blocking-sleeper" : "sleeper");
    fflush(stdout);
    loop_run(loop);
    if (watchdog)
        loop_debug_disable(loop);
    loop_free(loop);
    return t.worst_ms;
}

static void demo_blocking(void)
{
    int block = ms(1000);
    heading("Blocking the loop", "C8, C14");
    printf("A ticker task wakes every 10 ms. Another task sleeps %d ms, three ways.\n"
           "With the blocking call, the watchdog (COLOOP_DEBUG=1) reports it live:\n\n", block);
    int64_t blocked = run_blocking_variant(0, block, true);
    int64_t awaited = run_blocking_variant(1, block, false);
    int64_t pooled = run_blocking_variant(2, block, false);
    printf("\n  %-40s  ticker's worst lateness\n", "how the task waited");
    printf("  %-40s  %6lld ms\n", "usleep() - blocking, like time.sleep", (long long)blocked);
    printf("  %-40s  %6lld ms\n", "await_sleep_ms() - like asyncio.sleep", (long long)awaited);
    printf("  %-40s  %6lld ms\n", "usleep() on the pool - like to_thread", (long long)pooled);
    printf("\nWhy: a task only gives the loop back inside an await_* call. usleep() never\n"
           "returns to the loop, so the ticker (and every request, timer and connection\n"
           "of a server) waits for it. Fix: the suspending equivalent (await_sleep_ms,\n"
           "stream_await_read...), or run the blocking call on the worker pool.\n");
}

/* --- cpu --------------------------------------------------------------------- */

static int count_primes(void *arg)
{
    int limit = *(int *)arg, count = 0;
    for (int n = 2; n < limit; n++) {
        int prime = 1;
        for (int d = 2; d * d <= n && prime; d++)
            prime = n % d != 0;
        count += prime;
    }
    return count;
}

struct cpu_run { int limit; bool on_pool; int result; int *remaining; };

static int crunch(void *arg)
{
    struct cpu_run *r = arg;
    await_sleep_ms(20);   /* let the ticker get going first */
    if (r->on_pool)
        await_thread(count_primes, &r->limit, sizeof r->limit, &r->result, CO_NO_DEADLINE);
    else
        r->result = count_primes(&r->limit);
    (*r->remaining)--;
    return 0;
}

/* Like tick(), but runs until every cruncher is done. */
struct cpu_ticker { int *remaining; int64_t worst_ms; };

static int tick_until_done(void *arg)
{
    struct cpu_ticker *t = arg;
    while (*t->remaining > 0) {
        int64_t due = now_ms() + 10;
        await_sleep_ms(10);
        if (now_ms() - due > t->worst_ms)
            t->worst_ms = now_ms() - due;
    }
    return 0;
}

static void run_cpu_variant(bool on_pool, int limit, int64_t *total_ms, int64_t *worst_ms)
{
    co_loop *loop;
    loop_new(&loop);
    int remaining = 4;
    struct cpu_run runs[4];
    struct cpu_ticker t = { &remaining, 0 };
    spawn_detached(tick_until_done, &t, "ticker");
    int64_t start = now_ms();
    for (int i = 0; i < 4; i++) {
        runs[i] = (struct cpu_run){ limit, on_pool, 0, &remaining };
        spawn_detached(crunch, &runs[i], "crunch");
    }
    loop_run(loop);
    *total_ms = now_ms() - start;
    *worst_ms = t.worst_ms;
    loop_free(loop);
}

static void demo_cpu(void)
{
    int limit = scale > 1 ? 300000 : 1500000;
    heading("CPU-bound work", "C9");
    printf("Four tasks each count the primes below %d (pure computation).\n", limit);
    int64_t in_task, lag_task, on_pool, lag_pool;
    run_cpu_variant(false, limit, &in_task, &lag_task);
    run_cpu_variant(true, limit, &on_pool, &lag_pool);
    printf("\n  %-28s  %8s  %22s\n", "where the work ran", "total", "ticker's worst lateness");
    printf("  %-28s  %6lld ms  %19lld ms\n", "inside the tasks", (long long)in_task, (long long)lag_task);
    printf("  %-28s  %6lld ms  %19lld ms   (%d worker threads)\n", "on the pool (await_thread)",
           (long long)on_pool, (long long)lag_pool, pool_default_threads());
    printf("\nWhy: a loop runs one task at a time on one thread, so computation inside a\n"
           "task is serial and holds every other task up; async gives it nothing. The\n"
           "pool's worker threads run it beside the loop. Unlike Python's threads (the\n"
           "GIL), C threads compute truly in parallel: on N cores up to N jobs at once.\n");
}

/* --- sequential ---------------------------------------------------------------- */

static int fake_request(void *arg) { return await_sleep_ms(*(int *)arg); }

static int one_at_a_time(void *arg)
{
    int *wait = arg;
    for (int i = 0; i < 10; i++) {
        co_task *t;
        task_spawn(&t, fake_request, wait);
        await_task(t, NULL, CO_NO_DEADLINE);   /* a = await f(1); b = await f(2); ... */
    }
    return 0;
}

static int all_then_join(void *arg)
{
    co_task *t[10];
    for (int i = 0; i < 10; i++)
        task_spawn(&t[i], fake_request, arg);
    return await_all(t, 10, NULL, CO_NO_DEADLINE);
}

static void demo_sequential(void)
{
    int wait = ms(200);
    heading("Awaiting one at a time", "C10");
    printf("Ten requests that each take %d ms.\n", wait);
    int64_t start = now_ms();
    co_run(one_at_a_time, &wait);
    int64_t serial = now_ms() - start;
    start = now_ms();
    co_run(all_then_join, &wait);
    int64_t together = now_ms() - start;
    printf("\n  spawn, join, spawn, join...   %6lld ms\n", (long long)serial);
    printf("  spawn all ten, then join all  %6lld ms\n", (long long)together);
    printf("\nWhy: joining each task before starting the next makes the waits follow each\n"
           "other: the code is async, the program is sequential. Start everything that\n"
           "can run at once, then wait for all of it (await_all, a task group).\n");
}

/* --- errors -------------------------------------------------------------------- */

struct job { const char *name; int after_ms; int result; int64_t ended_ms; int rc; };
static int64_t errors_start;

static int job_run(void *arg)
{
    struct job *j = arg;
    j->rc = await_sleep_ms(j->after_ms);
    j->ended_ms = now_ms() - errors_start;
    return j->rc < 0 ? j->rc : j->result;
}

static void reset_jobs(struct job *jobs)
{
    struct job fresh[3] = {
        { "fails", ms(200), -ECONNREFUSED, 0, 0 },
        { "medium", ms(400), 2, 0, 0 },
        { "slow", ms(1200), 3, 0, 0 },
    };
    memcpy(jobs, fresh, sizeof fresh);
    errors_start = now_ms();
}

static void print_jobs(const struct job *jobs, int64_t returned_ms)
{
    printf("    returned after %lld ms\n", (long long)returned_ms);
    for (int i = 0; i < 3; i++)
        printf("    %-7s %-28s at %5lld ms\n", jobs[i].name,
               jobs[i].rc == -ECANCELED ? "was cancelled" : jobs[i].result < 0 ? "failed" : "finished",
               (long long)jobs[i].ended_ms);
}

static int gather_like_all(void *arg)
{
    struct job *jobs = arg;
    co_task *t[3];
    int results[3];
    for (int i = 0; i < 3; i++)
        task_spawn(&t[i], job_run, &jobs[i]);
    int failed = await_all(t, 3, results, CO_NO_DEADLINE);
    printf("  await_all (gather with return_exceptions=True): %d failed, results %d / %d / %d\n",
           failed, results[0], results[1], results[2]);
    return 0;
}

static int group_fail_fast(void *arg)
{
    struct job *jobs = arg;
    co_group *g;
    group_new(&g);
    for (int i = 0; i < 3; i++)
        group_spawn(g, job_run, &jobs[i]);
    int rc = group_await(g, CO_NO_DEADLINE);
    group_free(g);
    printf("  task group (asyncio.TaskGroup): returned %s\n", co_strerror(rc));
    return 0;
}

/* asyncio.gather() without return_exceptions: the first exception propagates
 * at once, and the other awaitables are NOT cancelled: they run on, unobserved. */
static int gather_default(void *arg)
{
    struct job *jobs = arg;
    co_task *t[3];
    for (int i = 0; i < 3; i++)
        task_spawn(&t[i], job_run, &jobs[i]);
    size_t winner;
    int result = 0;
    while (await_any(t, 3, ANY_KEEP_REST, &winner, &result, CO_NO_DEADLINE) == 0 && result >= 0)
        ;
    printf("  gather default: raised '%s' at %lld ms; the others keep running:\n",
           co_strerror(result), (long long)(now_ms() - errors_start));
    for (int i = 0; i < 3; i++)
        if (t[i])
            task_detach(t[i]);   /* nobody will look at them again */
    return 0;
}

static void demo_errors(void)
{
    struct job jobs[3];
    heading("Errors in a fan-out", "C13");
    printf("Three tasks: 'fails' fails after %d ms, 'medium' ends after %d ms, 'slow' after %d ms.\n\n",
           ms(200), ms(400), ms(1200));
    reset_jobs(jobs);
    co_run(gather_like_all, jobs);
    print_jobs(jobs, now_ms() - errors_start);
    reset_jobs(jobs);
    co_run(group_fail_fast, jobs);
    print_jobs(jobs, now_ms() - errors_start);
    reset_jobs(jobs);
    int64_t returned;
    co_loop *loop;
    loop_new(&loop);
    spawn_detached(gather_default, jobs, "gather");
    loop_run(loop);   /* runs until the detached stragglers end too */
    returned = now_ms() - errors_start;
    loop_free(loop);
    print_jobs(jobs, returned);
    printf("\nWhy: the essays disagree. asyncio.gather() without return_exceptions raises the\n"
           "first exception immediately but does NOT cancel the others: they run to the\n"
           "end with nobody watching (above, 'medium' and 'slow' finished long after the\n"
           "error was raised). With return_exceptions=True it waits for all and returns\n"
           "every error (await_all). Only a TaskGroup cancels the rest on the first error\n"
           "and returns when all have ended (group_await).\n");
}

/* --- references ---------------------------------------------------------------- */

static int fetch_and_fail(void *arg) { (void)arg; await_sleep_ms(ms(50)); return -ECONNREFUSED; }

static int fire_and_forget(void *arg)
{
    (void)arg;
    co_task *t;
    struct co_spawn_opts opts = { .name = "forgotten-fetch" };
    task_spawn_opts(&t, fetch_and_fail, NULL, &opts);
    await_sleep_ms(ms(200));   /* other work; meanwhile the forgotten task fails */
    return 0;   /* the handle dies with this frame: nobody joins or detaches it */
}

static void demo_references(void)
{
    heading("Fire and forget", "C11, C12");
    printf("A task is spawned and its handle dropped. In Python the task object may be\n"
           "garbage-collected mid-flight (keep a reference!) and an exception nobody\n"
           "retrieves is only logged at exit. coloop's loop keeps every task alive until\n"
           "it ends, and reports the handle nobody consumed, with its spawn site:\n\n");
    fflush(stdout);
    co_run(fire_and_forget, NULL);
    fflush(stderr);
    printf("\nFix: consume every handle exactly once: await_task() to get the result,\n"
           "task_detach() to hand it to the loop (a failure is then logged when it\n"
           "happens), or spawn it in a task group that waits for it.\n");
}

/* --- forgotten ---------------------------------------------------------------- */

static int compute_answer(void *arg) { (void)arg; await_sleep_ms(ms(20)); return 42; }
static int fail_quietly(void *arg) { (void)arg; await_sleep_ms(ms(20)); return -ETIMEDOUT; }

static int detach_a_failure(void *arg)
{
    (void)arg;
    co_task *t;
    struct co_spawn_opts opts = { .name = "background-refresh" };
    task_spawn_opts(&t, fail_quietly, NULL, &opts);
    task_detach(t);               /* the loop owns it now: nobody will read its result */
    return await_sleep_ms(ms(100));
}

static void demo_forgotten(void)
{
    heading("Forgetting to await", "C11");
    printf("Python's `f()` without `await` builds a coroutine object and runs nothing; the\n"
           "mistake surfaces as a warning (\"RuntimeWarning: coroutine 'f' was never\n"
           "awaited\"), if at all. C has no coroutine objects, so the mistake takes\n"
           "other shapes. Here are the three, and what coloop says about each.\n\n");
    printf("1. A suspending call made outside any task (like calling a coroutine from sync code):\n");
    fflush(stdout);
    int rc = await_sleep_ms(ms(100));   /* main() is not a task */
    fflush(stderr);
    printf("   it returned at once with %d (%s)\n\n", rc, co_strerror(rc));
    printf("2. A task started and never joined (Python: \"Task was destroyed but it is pending\"):\n");
    fflush(stdout);
    co_task *t;
    co_loop *loop;
    loop_new(&loop);
    task_spawn(&t, compute_answer, NULL);   /* its 42 is never read */
    loop_run(loop);
    loop_free(loop);
    fflush(stderr);
    printf("\n3. A failure nobody reads (Python: \"Task exception was never retrieved\"):\n");
    fflush(stdout);
    co_run(detach_a_failure, NULL);
    fflush(stderr);
    printf("\nWhy: in coloop a task starts when it is spawned, whether or not anyone waits for\n"
           "it, so nothing is silently \"not run\"; what can be lost is its result. The\n"
           "handle rules make that visible: every handle is joined or detached exactly once,\n"
           "a detached failure is logged when it happens, a forgotten one at loop end.\n");
}

/* --- noyield ---------------------------------------------------------------------- */

struct spin { int for_ms; bool yields; int64_t started, asked, stopped; };

static int spin_task(void *arg)
{
    struct spin *s = arg;
    s->started = now_ms();
    int64_t last_yield = s->started;
    volatile unsigned long sink = 0;
    while (now_ms() - s->started < s->for_ms) {
        for (int i = 0; i < 10000; i++)
            sink += (unsigned long)i;
        if (s->yields && now_ms() - last_yield >= 10) {
            if (await_yield() == -ECANCELED)   /* the only place a cancel can reach us */
                break;
            last_yield = now_ms();
        }
    }
    s->stopped = now_ms();
    return 0;
}

static int cancel_when_possible(void *arg)
{
    struct spin *s = arg;
    co_task *t;
    task_spawn(&t, spin_task, s);
    await_sleep_ms(1);      /* the spinner starts; we run again only when it lets us */
    s->asked = now_ms();
    task_cancel(t);
    await_task(t, NULL, CO_NO_DEADLINE);
    printf("    the canceller got to run after %lld ms; the task stopped after %lld ms\n",
           (long long)(s->asked - s->started), (long long)(s->stopped - s->started));
    return 0;
}

static void demo_noyield(void)
{
    heading("A task that never yields", "C8");
    struct spin never = { ms(600), false, 0, 0, 0 }, sometimes = { ms(600), true, 0, 0, 0 };
    printf("A task computes for %d ms; another task wants to cancel it as soon as it can.\n\n", ms(600));
    printf("  without await_* in its loop:\n");
    co_run(cancel_when_possible, &never);
    printf("  with await_yield() every 10 ms:\n");
    co_run(cancel_when_possible, &sometimes);
    printf("\nWhy: cancellation is cooperative. task_cancel() only makes the task's next\n"
           "await_* call fail; a task that never calls one is never interrupted, and the\n"
           "canceller itself cannot even run until it ends. Long computations either\n"
           "await_yield() now and then (and check for -ECANCELED), or run on the pool.\n");
}

/* --- errno ------------------------------------------------------------------------- */

struct errno_run { int pipe_fd; int seen_late; int seen_copied; };

static int read_then_yield(void *arg)
{
    struct errno_run *r = arg;
    char c;
    if (read(r->pipe_fd, &c, 1) < 0) {
        int err = errno;                  /* right: copied before anything else runs */
        await_yield();                    /* another task runs here */
        r->seen_late = errno;             /* wrong: whatever the other task left */
        r->seen_copied = err;
    }
    return 0;
}

static int open_missing_file(void *arg)
{
    (void)arg;
    int fd = open("/nonexistent/coloop-demo", O_RDONLY);   /* sets errno = ENOENT */
    if (fd >= 0)
        close(fd);
    return 0;
}

static int errno_story(void *arg)
{
    co_task *a, *b;
    task_spawn(&a, read_then_yield, arg);
    task_spawn(&b, open_missing_file, NULL);
    await_task(a, NULL, CO_NO_DEADLINE);
    await_task(b, NULL, CO_NO_DEADLINE);
    return 0;
}

static void demo_errno(void)
{
    heading("errno across a yield point", "tour, section 4");
    int fds[2];
    if (pipe2(fds, O_NONBLOCK) < 0)
        return;
    struct errno_run r = { fds[0], 0, 0 };
    printf("Task A reads an empty nonblocking pipe (fails with EAGAIN), yields, then looks\n"
           "at errno. Meanwhile task B opens a file that does not exist.\n\n");
    co_run(errno_story, &r);
    printf("  errno copied right after read():  %s\n", strerrorname_np(r.seen_copied));
    printf("  errno read after the yield:       %s   <- task B's error, not A's\n",
           strerrorname_np(r.seen_late));
    printf("\nWhy: errno is one variable per thread, and every task of a loop shares the\n"
           "thread. Copy it into a local at once (int err = errno;) and pass errors on as\n"
           "negative codes, as every coloop function does.\n");
    close(fds[0]);
    close(fds[1]);
}

struct demo { const char *name; void (*run)(void); };

static const struct demo demos[] = {
    { "blocking", demo_blocking }, { "cpu", demo_cpu }, { "sequential", demo_sequential },
    { "errors", demo_errors }, { "references", demo_references }, { "forgotten", demo_forgotten },
    { "noyield", demo_noyield },
    { "errno", demo_errno },
};
#define DEMO_COUNT (sizeof demos / sizeof demos[0])

int main(int argc, char **argv)
{
    int first = 1;
    if (argc > 1 && strcmp(argv[1], "--quick") == 0) {
        scale = 4;
        first = 2;
    }
    if (argc > first && (strcmp(argv[first], "--help") == 0 || strcmp(argv[first], "-h") == 0)) {
        printf("usage: pitfalls [--quick] [NAME...]\ndemos:");
        for (size_t i = 0; i < DEMO_COUNT; i++)
            printf(" %s", demos[i].name);
        printf("\n");
        return 0;
    }
    for (size_t i = 0; i < DEMO_COUNT; i++) {
        bool wanted = argc <= first;
        for (int a = first; a < argc; a++)
            wanted |= strcmp(argv[a], demos[i].name) == 0;
        if (wanted) {
            demos[i].run();
            fflush(stdout);
        }
    }
    for (int a = first; a < argc; a++) {
        bool known = false;
        for (size_t i = 0; i < DEMO_COUNT; i++)
            known |= strcmp(argv[a], demos[i].name) == 0;
        if (!known) {
            fprintf(stderr, "pitfalls: no demo named '%s' (try --help)\n", argv[a]);
            return 2;
        }
    }
    return 0;
}
