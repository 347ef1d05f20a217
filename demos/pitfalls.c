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
 * a short "why / fix", and shows the problem as it happens with one of the
 * debugging aids (runtime/debug.h): the watchdog naming the task that holds
 * the loop (blocking, cpu, noyield), the loop's lag statistics (blocking,
 * cpu), a task dump taken mid-run (sequential), the ownership report of
 * handles nobody consumed (references, forgotten).  --quick shortens every
 * wait (for the tests).  The network is loopback only: 'blocking' connects to
 * a listener of its own on 127.0.0.1 (port 0) whose accept queue is full, and
 * 'sequential' asks the built-in httpbin, started on a thread of this
 * process (127.0.0.1, port 0).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
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

/* Spawn and detach, recording the caller's line as the spawn site (the
 * watchdog and the reports print it). */
#define spawn_detached(fn, arg, name) \
    spawn_detached_at((fn), (arg), (name), #fn, __FILE__, __LINE__)

static void spawn_detached_at(co_task_fn fn, void *arg, const char *name, const char *fn_name,
                              const char *file, int line)
{
    co_task *t;
    struct co_spawn_opts opts = { .name = name };
    if (task_spawn_at(&t, fn, arg, &opts, fn_name, file, line) == 0)
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

/* The six ways one task waits for block_ms while the ticker runs. */
enum wait_how {
    WAIT_USLEEP,        /* usleep() in the task: time.sleep() */
    WAIT_AWAIT_SLEEP,   /* await_sleep_ms(): asyncio.sleep() */
    WAIT_POOL_SLEEP,    /* usleep() on the pool: asyncio.to_thread(time.sleep) */
    WAIT_CONNECT,       /* a blocking connect() in the task: socket.create_connection() */
    WAIT_AWAIT_DIAL,    /* dial_await_tcp(): asyncio.open_connection() */
    WAIT_POOL_CONNECT,  /* the blocking connect() on the pool */
    WAIT_HOW_COUNT
};

static const char *const wait_labels[WAIT_HOW_COUNT] = {
    "usleep() - blocking, like time.sleep",
    "await_sleep_ms() - like asyncio.sleep",
    "usleep() on the pool - like to_thread",
    "connect() - blocking, like a sync client",
    "dial_await_tcp() - like open_connection",
    "connect() on the pool - like to_thread",
};

/* What each run prints before it starts (%d: block_ms). */
static const char *const wait_steps[WAIT_HOW_COUNT] = {
    "usleep(%d ms) in the task",
    "await_sleep_ms(%d)",
    "usleep(%d ms) as a pool job, await_thread()",
    "connect() in the task, blocking socket, SO_SNDTIMEO %d ms",
    "dial_await_tcp() with a %d ms deadline",
    "the same blocking connect() as a pool job, %d ms, await_thread()",
};

static const char *const wait_task_names[WAIT_HOW_COUNT] = {
    "blocking-sleeper", "sleeper", "pool-sleeper", "blocking-connect", "dialer", "pool-connect",
};

struct blocking_run {
    enum wait_how how;
    int block_ms;
    int port;           /* the listener with a full backlog (connect variants) */
    int rc;             /* out: what the call returned */
    int64_t took_ms;    /* out: how long the call took */
};

static int usleep_job(void *arg) { usleep((useconds_t)*(int *)arg * 1000); return 0; }

/* A blocking connect() to 127.0.0.1:port that gives up after timeout_ms
 * (SO_SNDTIMEO); also a pool job.  Returns 0 or -errno: -EINPROGRESS when the
 * timeout expired with the handshake still unanswered. */
struct connect_job { int port; int timeout_ms; };

static int connect_blocking(void *arg)
{
    const struct connect_job *j = arg;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct timeval tv = { j->timeout_ms / 1000, (j->timeout_ms % 1000) * 1000 };
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)j->port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int rc = connect(fd, (struct sockaddr *)&a, sizeof a) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

/* A listener on 127.0.0.1 (port 0) whose accept queue is full: backlog 0
 * holds one connection, which *filler takes, and nobody accepts.  Linux
 * drops every later SYN, so a connect() to it waits for an answer that never
 * comes (the client retries after 1 s, 3 s, ...): a server too busy to
 * accept, reproduced on loopback.  Returns the port, or -errno. */
static int full_listener(int *listen_fd, int *filler)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    *listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    *filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (*listen_fd < 0 || *filler < 0 || bind(*listen_fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        listen(*listen_fd, 0) < 0 || getsockname(*listen_fd, (struct sockaddr *)&a, &len) < 0 ||
        connect(*filler, (struct sockaddr *)&a, sizeof a) < 0) {
        int err = errno;
        if (*listen_fd >= 0)
            close(*listen_fd);
        if (*filler >= 0)
            close(*filler);
        return -err;
    }
    return ntohs(a.sin_port);
}

static int stall(void *arg)
{
    struct blocking_run *r = arg;
    struct connect_job job = { r->port, r->block_ms };
    int fd = -1, result = 0;
    await_sleep_ms(15);   /* between two ticks, so a tick is due while we wait (see crunch) */
    int64_t start = now_ms();
    switch (r->how) {
    case WAIT_USLEEP:
        usleep((useconds_t)r->block_ms * 1000);   /* time.sleep(): the whole loop stops */
        break;
    case WAIT_AWAIT_SLEEP:
        r->rc = await_sleep_ms(r->block_ms);     /* asyncio.sleep(): only this task waits */
        break;
    case WAIT_POOL_SLEEP:
        r->rc = await_thread(usleep_job, &r->block_ms, sizeof r->block_ms, NULL, CO_NO_DEADLINE);
        break;
    case WAIT_CONNECT:
        r->rc = connect_blocking(&job);           /* the loop stops until the kernel gives up */
        break;
    case WAIT_AWAIT_DIAL:                          /* only this task waits, under a deadline */
        r->rc = dial_await_tcp("127.0.0.1", r->port, NULL, &fd, NULL, NULL,
                               co_deadline_in_ms(r->block_ms));
        if (fd >= 0)
            sock_close(fd);
        break;
    case WAIT_POOL_CONNECT:                        /* a worker thread blocks instead */
        r->rc = await_thread(connect_blocking, &job, sizeof job, &result, CO_NO_DEADLINE);
        if (r->rc == 0)
            r->rc = result;
        break;
    default:
        break;
    }
    r->took_ms = now_ms() - start;
    return 0;
}

/* Runs one way to wait beside the ticker, the watchdog on; returns the
 * ticker's worst lateness, and the loop's own lag maximum in *lag_max_ms. */
static int64_t run_blocking_variant(struct blocking_run *r, int64_t *lag_max_ms)
{
    int listen_fd = -1, filler = -1;
    if (r->how >= WAIT_CONNECT) {
        r->port = full_listener(&listen_fd, &filler);
        if (r->port < 0) {
            r->rc = r->port;
            return -1;
        }
    }
    co_loop *loop;
    loop_new(&loop);
    loop_debug_enable(loop, 100);
    struct ticker t = { r->block_ms + 50, 0 };
    spawn_detached(tick, &t, "ticker");
    spawn_detached(stall, r, wait_task_names[r->how]);
    fflush(stdout);
    loop_run(loop);
    struct loop_stats st;
    loop_get_stats(loop, &st);
    *lag_max_ms = st.lag_max_ns / 1000000;
    loop_debug_disable(loop);
    loop_free(loop);
    fflush(stderr);
    if (listen_fd >= 0) {
        close(filler);
        close(listen_fd);
    }
    return t.worst_ms;
}

static void demo_blocking(void)
{
    int block = ms(1000);
    heading("Blocking the loop", "C8, C14");
    printf("A ticker task wakes every 10 ms. Another task waits %d ms, six ways: it sleeps\n"
           "three ways, then connects three ways to a listener on 127.0.0.1 whose accept\n"
           "queue is full (a server too busy to accept: the kernel drops the SYN, so the\n"
           "connect waits; it gives up after %d ms). The watchdog (what COLOOP_DEBUG=1\n"
           "turns on, threshold 100 ms) reports every task that holds the loop, live:\n\n",
           block, block);
    struct blocking_run runs[WAIT_HOW_COUNT];
    int64_t late[WAIT_HOW_COUNT], lag[WAIT_HOW_COUNT];
    for (int how = 0; how < WAIT_HOW_COUNT; how++) {
        runs[how] = (struct blocking_run){ .how = (enum wait_how)how, .block_ms = block };
        printf("[%d] task '%s': ", how + 1, wait_task_names[how]);
        printf(wait_steps[how], block);
        printf("\n");
        late[how] = run_blocking_variant(&runs[how], &lag[how]);
    }
    printf("\n  %-40s  %s  %s  %s\n", "how the task waited", "ticker's worst lateness",
           "loop lag max", "the call: took, returned");
    for (int how = 0; how < WAIT_HOW_COUNT; how++) {
        int rc = runs[how].rc;
        printf("  %-40s  %20lld ms  %9lld ms  %6lld ms, %s\n", wait_labels[how],
               (long long)late[how], (long long)lag[how], (long long)runs[how].took_ms,
               rc == 0 ? "0" : rc < 0 && rc > -4096 ? strerrorname_np(-rc) : co_strerror(rc));
    }
    printf("  (a blocking connect() with SO_SNDTIMEO reports its timeout as EINPROGRESS)\n");
    printf("\nWhy: a task only gives the loop back inside an await_* call. usleep() and a\n"
           "blocking connect() never return to the loop, so the ticker (and every\n"
           "request, timer and connection of a server) waits for them; getaddrinfo() is\n"
           "the same trap (it may wait seconds for a DNS server). The watchdog names the\n"
           "task, the system call and the line. Fix: the suspending equivalent\n"
           "(await_sleep_ms, dial_await_tcp, dns_await_resolve, which runs getaddrinfo on\n"
           "the worker pool), or move the blocking call to a worker with await_thread().\n"
           "The wait itself is as long as before: only the loop is free.\n");
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
    /* Let the ticker get going, and start between two of its ticks (at 10 and
     * 20 ms), so its next timer is due while we compute: the loop's lag then
     * shows it.  Starting on a tick, the ticker could be run after us from
     * the same batch: late, but from a timer the loop fired on time. */
    await_sleep_ms(15);
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

struct cpu_result { int64_t total_ms, worst_ms, lag_p99_ms, lag_max_ms; };

static void run_cpu_variant(bool on_pool, int limit, int watchdog_ms, struct cpu_result *out)
{
    co_loop *loop;
    loop_new(&loop);
    loop_debug_enable(loop, watchdog_ms);
    int remaining = 4;
    struct cpu_run runs[4];
    struct cpu_ticker t = { &remaining, 0 };
    spawn_detached(tick_until_done, &t, "ticker");
    int64_t start = now_ms();
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "crunch-%d", i + 1);
        runs[i] = (struct cpu_run){ limit, on_pool, 0, &remaining };
        spawn_detached(crunch, &runs[i], name);
    }
    fflush(stdout);
    loop_run(loop);
    out->total_ms = now_ms() - start;
    out->worst_ms = t.worst_ms;
    struct loop_stats st;
    loop_get_stats(loop, &st);
    out->lag_p99_ms = st.lag_p99_ns / 1000000;
    out->lag_max_ms = st.lag_max_ns / 1000000;
    loop_debug_disable(loop);
    loop_free(loop);
    fflush(stderr);
}

static void demo_cpu(void)
{
    int limit = scale > 1 ? 300000 : 1500000;
    int watchdog_ms = scale > 1 ? 10 : 100;   /* --quick: each count takes some 25 ms */
    heading("CPU-bound work", "C9");
    printf("Four tasks each count the primes below %d (pure computation), beside a\n"
           "ticker that wakes every 10 ms. The watchdog is on (threshold %d ms) and the\n"
           "loop measures its lag (how late it ran each due timer).\n\n", limit, watchdog_ms);
    struct cpu_result task, pool;
    printf("[1] computing in the tasks themselves; the watchdog reports each one:\n");
    run_cpu_variant(false, limit, watchdog_ms, &task);
    printf("[2] computing on the worker pool; the tasks only wait (no report expected):\n");
    run_cpu_variant(true, limit, watchdog_ms, &pool);
    printf("\n  %-28s  %9s  %23s  %18s\n", "where the work ran", "total", "ticker's worst lateness",
           "loop lag p99 / max");
    printf("  %-28s  %6lld ms  %20lld ms  %8lld / %4lld ms\n", "inside the tasks",
           (long long)task.total_ms, (long long)task.worst_ms, (long long)task.lag_p99_ms,
           (long long)task.lag_max_ms);
    printf("  %-28s  %6lld ms  %20lld ms  %8lld / %4lld ms   (%d worker threads)\n",
           "on the pool (await_thread)", (long long)pool.total_ms, (long long)pool.worst_ms,
           (long long)pool.lag_p99_ms, (long long)pool.lag_max_ms, pool_default_threads());
    printf("\nWhy: a loop runs one task at a time on one thread, so computation inside a\n"
           "task is serial and holds every other task up; async gives it nothing. The\n"
           "pool's worker threads run it beside the loop. Unlike Python's threads (the\n"
           "GIL), C threads compute truly in parallel: on N cores up to N jobs at once.\n");
}

/* --- sequential ---------------------------------------------------------------- */

/* Ten GETs of /delay/WAIT from the built-in httpbin (a thread of this
 * process, 127.0.0.1, port 0): each answer comes after WAIT ms, so each
 * request is almost all waiting, as in the essays. */
#define SEQ_REQUESTS 10

struct seq_run {
    const char *url;
    http_client *client;
    int snapshot_ms;    /* when the task dump is taken */
    int ok;             /* out: requests answered 200 */
};

static int request(void *arg)
{
    struct seq_run *r = arg;
    struct http_response resp;
    int rc = http_await_get(r->client, r->url, &resp, co_deadline_in_ms(10000));
    if (rc == 0 && resp.status == 200)
        r->ok++;
    else
        printf("    GET %s: %s\n", r->url, rc < 0 ? co_strerror(rc) : "not 200");
    http_response_fini(&resp);
    return rc;
}

/* The debugging aid here: a task dump (loop_dump_tasks, what SIGQUIT prints
 * with COLOOP_DEBUG=1) taken while the requests run. */
static int snapshot(void *arg)
{
    struct seq_run *r = arg;
    await_sleep_ms(r->snapshot_ms);
    printf("    task dump at %d ms:\n", r->snapshot_ms);
    loop_dump_tasks(loop_current(), stdout);
    return 0;
}

static co_task *spawn_request(struct seq_run *r, int i)
{
    co_task *t = NULL;
    char name[32];
    snprintf(name, sizeof name, "request-%d", i + 1);
    struct co_spawn_opts opts = { .name = name };
    task_spawn_opts(&t, request, r, &opts);
    return t;
}

static int one_at_a_time(void *arg)
{
    struct seq_run *r = arg;
    co_task *snap;
    task_spawn(&snap, snapshot, r);
    for (int i = 0; i < SEQ_REQUESTS; i++)
        await_task(spawn_request(r, i), NULL, CO_NO_DEADLINE);   /* a = await f(1); b = ... */
    return await_task(snap, NULL, CO_NO_DEADLINE);
}

static int all_then_join(void *arg)
{
    struct seq_run *r = arg;
    co_task *snap, *t[SEQ_REQUESTS];
    task_spawn(&snap, snapshot, r);
    for (int i = 0; i < SEQ_REQUESTS; i++)
        t[i] = spawn_request(r, i);
    await_all(t, SEQ_REQUESTS, NULL, CO_NO_DEADLINE);
    return await_task(snap, NULL, CO_NO_DEADLINE);
}

/* Runs fn with a fresh client; returns the wall time in ms. */
static int64_t run_requests(co_task_fn fn, struct seq_run *r)
{
    struct http_client_opts o = { .max_conns_per_host = SEQ_REQUESTS };
    if (http_client_new(&o, &r->client) < 0)
        return -1;
    r->ok = 0;
    int64_t start = now_ms();
    co_run_at(fn, r, "requests", __FILE__, __LINE__);
    int64_t took = now_ms() - start;
    http_client_free(r->client);
    return took;
}

static void demo_sequential(void)
{
    int wait = ms(200);
    heading("Awaiting one at a time", "C10");
    struct httpbin_opts bin = { .server = { .port = 0 } };
    httpbin_thread *server;
    int rc = httpbin_start_thread(&bin, &server);
    if (rc < 0) {
        printf("cannot start the built-in httpbin: %s\n", co_strerror(rc));
        return;
    }
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/delay/%d", httpbin_thread_port(server), wait);
    printf("Ten GET requests to %s (the built-in httpbin, on a\n"
           "thread of this process), each answered after %d ms. Each way takes a task\n"
           "dump (loop_dump_tasks) while the requests run: how many are in flight?\n\n",
           url, wait);
    struct seq_run r = { .url = url, .snapshot_ms = wait + wait / 2 };
    printf("  [1] awaited one by one:\n");
    fflush(stdout);
    int64_t serial = run_requests(one_at_a_time, &r);
    int serial_ok = r.ok;
    r.snapshot_ms = wait / 2;
    printf("  [2] all started, then joined:\n");
    fflush(stdout);
    int64_t together = run_requests(all_then_join, &r);
    httpbin_stop_thread(server, 1000, NULL);
    printf("\n  spawn, join, spawn, join...   %6lld ms   (%d of %d answered 200)\n",
           (long long)serial, serial_ok, SEQ_REQUESTS);
    printf("  spawn all ten, then join all  %6lld ms   (%d of %d answered 200)\n",
           (long long)together, r.ok, SEQ_REQUESTS);
    printf("\nWhy: joining each task before starting the next makes the waits follow each\n"
           "other: the code is async, the program is sequential. The first dump shows one\n"
           "request in flight, the second all ten. Start everything that can run at\n"
           "once, then wait for all of it (await_all, a task group).\n");
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

/* Fix 1: join it, and the error is ours to handle. */
static int fetch_then_join(void *arg)
{
    (void)arg;
    co_task *t;
    struct co_spawn_opts opts = { .name = "joined-fetch" };
    task_spawn_opts(&t, fetch_and_fail, NULL, &opts);
    await_sleep_ms(ms(200));   /* the same other work */
    int result = 0;
    int rc = await_task(t, &result, CO_NO_DEADLINE);
    printf("    await_task() = %d: 'joined-fetch' returned %d (%s), for us to handle\n", rc,
           result, co_strerror(result));
    return 0;
}

/* Fix 2: detach it: the loop owns it, and logs its failure when it happens. */
static int fetch_then_detach(void *arg)
{
    (void)arg;
    co_task *t;
    struct co_spawn_opts opts = { .name = "detached-fetch" };
    task_spawn_opts(&t, fetch_and_fail, NULL, &opts);
    task_detach(t);
    await_sleep_ms(ms(200));
    printf("    the parent ends at %d ms; the failure above was logged when the fetch\n"
           "    failed (at %d ms), not at loop end\n", ms(200), ms(50));
    return 0;
}

/* Fix 3: a task group: the parent cannot end before its child. */
static int fetch_in_group(void *arg)
{
    (void)arg;
    co_group *g;
    if (group_new(&g) < 0)
        return -ENOMEM;
    struct co_spawn_opts opts = { .name = "group-fetch" };
    group_spawn_opts(g, fetch_and_fail, NULL, &opts);
    await_sleep_ms(ms(200));
    int rc = group_await(g, CO_NO_DEADLINE);
    group_free(g);
    printf("    group_await() returned %d (%s): the child's error, for us to handle\n", rc,
           co_strerror(rc));
    return 0;
}

/* Runs fn as the only task of a fresh loop; before freeing the loop, says how
 * many handles nobody consumed (the ownership report loop_free prints). */
static void run_owned(co_task_fn fn, const char *title)
{
    printf("  %s\n", title);
    fflush(stdout);
    co_loop *loop;
    loop_new(&loop);
    spawn_detached(fn, NULL, "parent");
    loop_run(loop);
    struct loop_stats st;
    loop_get_stats(loop, &st);
    if (st.handles_open == 0 && st.tasks_alive == 0)
        printf("    at loop end: 0 handles nobody consumed, no ownership report\n");
    else
        printf("    at loop end: %llu handle(s) nobody consumed; loop_free() reports:\n",
               (unsigned long long)st.handles_open);
    fflush(stdout);
    loop_free(loop);
    fflush(stderr);
}

static void demo_references(void)
{
    heading("Fire and forget", "C11, C12");
    printf("A task is spawned and its handle dropped. In Python the task object may be\n"
           "garbage-collected mid-flight (keep a reference!) and an exception nobody\n"
           "retrieves is only logged at exit. coloop's loop keeps every task alive until\n"
           "it ends, and reports the handle nobody consumed, with its spawn site. Each\n"
           "version below spawns a fetch that fails after %d ms, then works %d ms:\n\n",
           ms(50), ms(200));
    run_owned(fire_and_forget, "[1] the handle dropped:");
    run_owned(fetch_then_join, "[2] fixed: joined with await_task():");
    run_owned(fetch_then_detach, "[3] fixed: detached with task_detach() (failures are logged):");
    run_owned(fetch_in_group, "[4] fixed: spawned in a task group:");
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
    struct co_spawn_opts opts = { .name = s->yields ? "yielding-spinner" : "spinner" };
    task_spawn_opts(&t, spin_task, s, &opts);
    await_sleep_ms(1);      /* the spinner starts; we run again only when it lets us */
    s->asked = now_ms();
    task_cancel(t);
    await_task(t, NULL, CO_NO_DEADLINE);
    printf("    the canceller got to run after %lld ms; the task stopped after %lld ms\n",
           (long long)(s->asked - s->started), (long long)(s->stopped - s->started));
    return 0;
}

/* The canceller on a fresh loop with the watchdog on. */
static void run_spin(struct spin *s, int watchdog_ms)
{
    co_loop *loop;
    loop_new(&loop);
    loop_debug_enable(loop, watchdog_ms);
    spawn_detached(cancel_when_possible, s, "canceller");
    fflush(stdout);
    loop_run(loop);
    loop_debug_disable(loop);
    loop_free(loop);
    fflush(stderr);
}

static void demo_noyield(void)
{
    int watchdog_ms = ms(200);
    heading("A task that never yields", "C8");
    struct spin never = { ms(600), false, 0, 0, 0 }, sometimes = { ms(600), true, 0, 0, 0 };
    printf("A task computes for %d ms; another task wants to cancel it as soon as it can.\n"
           "The watchdog is on (threshold %d ms).\n\n", ms(600), watchdog_ms);
    printf("  without await_* in its loop ('spinner'):\n");
    run_spin(&never, watchdog_ms);
    printf("  with await_yield() every 10 ms ('yielding-spinner'):\n");
    run_spin(&sometimes, watchdog_ms);
    printf("\nWhy: cancellation is cooperative. task_cancel() only makes the task's next\n"
           "await_* call fail; a task that never calls one is never interrupted, and the\n"
           "canceller itself cannot even run until it ends: the watchdog names it, and the\n"
           "line it is computing on. The yielding one never holds the loop past 10 ms, so\n"
           "the watchdog stays quiet and the cancel lands at its next await_yield(). Long\n"
           "computations either await_yield() now and then (and check for -ECANCELED), or\n"
           "run on the pool.\n");
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
