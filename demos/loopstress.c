/* loopstress.c - what the runtime core costs, measured on this machine.
 *
 *   switch     ns per context switch: raw coro_switch ping-pong, and two tasks
 *              yielding to each other through the loop
 *   spawn      tasks spawned and joined per second (1,000,000 trivial tasks,
 *              in batches, so the stack cache is what serves them)
 *   memory     resident memory per idle task with 100,000 tasks asleep
 *   timers     lateness of 10,000 timers (p50 / p99 / max)
 *
 * Usage: loopstress [--quick]   (--quick: 10x smaller, for tests)
 * Targets on a 2-core machine (issue 2): spawn+join >= 1,000,000/s,
 * <= 10 KiB resident per idle task, timer lateness p99 <= 1 ms.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coloop.h"
#include "runtime/coro.h"

static long scale = 1;   /* divisor for --quick */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static long resident_kib(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* --- raw switch: no loop, just two contexts bouncing --------------------- */

static struct co_coro raw_home, raw_other;
static long raw_rounds;

static void raw_bounce(void *arg)
{
    (void)arg;
    for (;;)
        coro_switch(&raw_other, &raw_home);
}

static double bench_raw_switch(void)
{
    struct co_stack stack;
    if (stack_alloc(&stack, CO_STACK_DEFAULT_SIZE, true) < 0)
        return -1;
    coro_init_home(&raw_home);
    coro_make(&raw_other, &stack, raw_bounce, NULL, &raw_home);
    raw_rounds = 1000000 / scale;
    int64_t start = now_ns();
    for (long i = 0; i < raw_rounds; i++)
        coro_switch(&raw_home, &raw_other);
    double ns = (double)(now_ns() - start) / (double)(2 * raw_rounds);
    stack_free(&stack);   /* raw_bounce never ends; its stack just goes away */
    return ns;
}

/* --- yield through the loop ---------------------------------------------- */

static int yielder(void *arg)
{
    long n = *(long *)arg;
    for (long i = 0; i < n; i++)
        await_yield();
    return 0;
}

static int yield_pair(void *arg)
{
    co_task *a, *b;
    task_spawn(&a, yielder, arg);
    task_spawn(&b, yielder, arg);
    await_task(a, NULL, CO_NO_DEADLINE);
    await_task(b, NULL, CO_NO_DEADLINE);
    return 0;
}

static double bench_loop_switch(void)
{
    long n = 500000 / scale;
    co_loop *loop;
    loop_new(&loop);
    co_task *t;
    task_spawn(&t, yield_pair, &n);
    task_detach(t);
    int64_t start = now_ns();
    loop_run(loop);
    int64_t elapsed = now_ns() - start;
    struct loop_stats st;
    loop_get_stats(loop, &st);
    loop_free(loop);
    return (double)elapsed / (double)st.switches;
}

/* --- spawn + join ---------------------------------------------------------- */

#define BATCH 100
static int trivial(void *arg) { return (int)(long)arg; }

static int spawn_join_many(void *arg)
{
    long total = *(long *)arg;
    co_task *batch[BATCH];
    for (long done = 0; done < total; done += BATCH) {
        for (int i = 0; i < BATCH; i++)
            if (task_spawn(&batch[i], trivial, (void *)(long)i) < 0)
                return -1;
        for (int i = 0; i < BATCH; i++)
            await_task(batch[i], NULL, CO_NO_DEADLINE);
    }
    return 0;
}

static double bench_spawn_join(long total, struct loop_stats *st)
{
    co_loop *loop;
    loop_new(&loop);
    co_task *t;
    task_spawn(&t, spawn_join_many, &total);
    task_detach(t);
    int64_t start = now_ns();
    loop_run(loop);
    double secs = (double)(now_ns() - start) / 1e9;
    loop_get_stats(loop, st);
    loop_free(loop);
    return (double)total / secs;
}

/* --- memory per idle task --------------------------------------------------- */

struct idle_run { long n; bool guarded; long made; long before_kib, after_kib; };

static int sleep_long(void *arg) { (void)arg; return await_sleep_ms(200); }

/* Spawn n sleepers, yield once so each has started and is asleep on its own
 * stack (FIFO: we run again only after all of them), then read RSS. */
static int spawn_idle_then_measure(void *arg)
{
    struct idle_run *r = arg;
    struct co_spawn_opts opts = { .name = "idle", .unguarded = !r->guarded };
    r->before_kib = resident_kib();
    for (r->made = 0; r->made < r->n; r->made++) {
        co_task *t;
        if (task_spawn_opts(&t, sleep_long, NULL, &opts) < 0)
            break;
        task_detach(t);
    }
    await_yield();
    r->after_kib = resident_kib();
    return 0;
}

static double bench_idle_memory(long n, bool guarded, long *made)
{
    struct idle_run r = { .n = n, .guarded = guarded };
    co_loop *loop;
    loop_new(&loop);
    co_task *t;
    task_spawn(&t, spawn_idle_then_measure, &r);
    task_detach(t);
    loop_run(loop);
    loop_free(loop);
    *made = r.made;
    return r.made ? (double)(r.after_kib - r.before_kib) / (double)r.made : 0;
}

/* --- timer lateness --------------------------------------------------------- */

/* Every task arms one timer, due 50..1000 ms after it starts.  Why not from
 * 1 ms: the first loop turn starts all the tasks (10,000 first steps, each
 * touching a fresh stack) and a timer due inside that turn is late by the
 * rest of the turn - that is loop lag from a burst, which the turn's length
 * (printed beside) shows, not the timers' precision, which is what this
 * figure is for.  Each task sleeps until a deadline it computed itself
 * (co_deadline_in_ms, a fresh clock reading), so lateness is measured
 * against exactly what the loop aimed for. */
#define FIRST_DUE_MS 50

struct lateness { int64_t *late_ns; long count, armed, spawned; int64_t t0, burst_ns; };

static int sleep_and_measure(void *arg)
{
    struct lateness *l = arg;
    int ms = FIRST_DUE_MS + rand() % (1001 - FIRST_DUE_MS);
    int64_t deadline = co_deadline_in_ms(ms);   /* what the loop will aim for */
    if (++l->armed == l->spawned)
        l->burst_ns = now_ns() - l->t0;
    await_sleep_until(deadline);
    l->late_ns[l->count++] = now_ns() - deadline;
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void bench_timers(long n, double *p50, double *p99, double *max, double *burst_ms)
{
    struct lateness l = { .late_ns = calloc((size_t)n, sizeof(int64_t)) };
    co_loop *loop;
    loop_new(&loop);
    srand(99);
    for (long i = 0; i < n; i++) {
        co_task *t;
        if (task_spawn(&t, sleep_and_measure, &l) == 0) {
            l.spawned++;
            task_detach(t);
        }
    }
    l.t0 = now_ns();
    loop_run(loop);
    loop_free(loop);
    *burst_ms = (double)l.burst_ns / 1e6;
    qsort(l.late_ns, (size_t)l.count, sizeof(int64_t), cmp_i64);
    *p50 = (double)l.late_ns[l.count / 2] / 1e6;
    *p99 = (double)l.late_ns[l.count * 99 / 100] / 1e6;
    *max = (double)l.late_ns[l.count - 1] / 1e6;
    free(l.late_ns);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--quick") == 0)
        scale = 10;
    printf("coloop loopstress%s (context switch: %s)\n\n", scale > 1 ? " --quick" : "",
           coro_switch_kind());

    printf("  raw context switch              %8.1f ns  (coro_switch ping-pong, no loop)\n",
           bench_raw_switch());
    printf("  task switch through the loop    %8.1f ns  (yield ping-pong, per switch)\n",
           bench_loop_switch());

    struct loop_stats st;
    long spawns = 1000000 / scale;
    double rate = bench_spawn_join(spawns, &st);
    printf("  spawn + join                    %8.0f tasks/s  (%ld tasks, batches of %d; "
           "stack cache %llu hits / %llu misses)   target >= 1,000,000/s\n",
           rate, spawns, BATCH, (unsigned long long)st.stack_cache_hits,
           (unsigned long long)st.stack_cache_misses);

    long made;
    long idle = 100000 / scale;
    double kib = bench_idle_memory(idle, false, &made);
    printf("  resident memory per idle task   %8.2f KiB  (%ld tasks asleep, unguarded stacks)"
           "   target <= 10 KiB\n", kib, made);
    long guarded_n = 20000 / scale;
    kib = bench_idle_memory(guarded_n, true, &made);
    printf("  ... with guard pages            %8.2f KiB  (%ld tasks; guarded stacks are capped "
           "at %ld by vm.max_map_count)\n", kib, made, stack_guarded_limit());

    double p50, p99, max, burst;
    long timers = 10000 / scale;
    bench_timers(timers, &p50, &p99, &max, &burst);
    printf("  timer lateness                  p50 %.3f ms, p99 %.3f ms, max %.3f ms  "
           "(%ld timers due %d..1000 ms; starting them all held the loop %.1f ms)"
           "   target p99 <= 1 ms\n", p50, p99, max, timers, FIRST_DUE_MS, burst);
    return 0;
}
