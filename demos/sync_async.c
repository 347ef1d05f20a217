/* sync_async.c - claims C17 and C18: sync outside, async inside, and the
 * two boundaries between them.
 *
 *   sync_async [--quick] [--requests N] [--delay-ms MS]
 *
 * 1. A plain synchronous program (no task in sight) calls one function,
 *    fetch_all(), which runs a loop for a fan-out of N HTTP requests and
 *    returns the results; then it carries on synchronously.  That is
 *    Python's asyncio.run(fetch_all(urls)) and coloop's co_run().
 * 2. The same fetch_all() called from inside a running task: co_run()
 *    refuses with -CO_ENESTED and says where, instead of nesting a second
 *    loop or hanging.  The fix: async code calls the async core directly.
 * 3. The other boundary: a task that must call a blocking library function.
 *    Called directly it freezes the loop (the fan-out waits for it); through
 *    the worker pool (await_thread, asyncio.to_thread) it overlaps.
 *
 * The requests go to the built-in httpbin target on 127.0.0.1 (port 0), on
 * a thread of its own in this process.  --quick: 20 requests of 40 ms, a
 * 100 ms blocking call (for the tests).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coloop.h"

#define MAX_REQUESTS 500

static char origin[64];   /* "http://127.0.0.1:PORT" of the httpbin thread */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* --- the async core: a fan-out of requests ---------------------------------- */

struct fetch { const char *url; int status; size_t bytes; int rc; };

struct fan_out { http_client *client; struct fetch *fetch; };

static int fetch_one(void *arg)
{
    struct fan_out *f = arg;
    struct http_response r;
    f->fetch->rc = http_await_get(f->client, f->fetch->url, &r, co_deadline_in_ms(10000));
    f->fetch->status = r.status;
    f->fetch->bytes = r.body_len;
    http_response_fini(&r);
    return f->fetch->rc;
}

/* Every request at once, all joined; returns how many got a 200.  Must run
 * in a task: async code calls this directly. */
static int await_fetch_all(struct fetch *fetches, int n)
{
    http_client *client;
    struct http_client_opts o = { .max_conns_per_host = MAX_REQUESTS };
    int rc = http_client_new(&o, &client);
    if (rc < 0)
        return rc;
    struct fan_out *fan = calloc((size_t)n, sizeof *fan);
    co_task **tasks = calloc((size_t)n, sizeof *tasks);
    int started = 0, ok = 0;
    for (; fan && tasks && started < n; started++) {
        fan[started] = (struct fan_out){ client, &fetches[started] };
        if ((rc = task_spawn(&tasks[started], fetch_one, &fan[started])) < 0)
            break;
    }
    for (int i = 0; i < started; i++)
        if (await_task(tasks[i], NULL, CO_NO_DEADLINE) == 0 && fetches[i].status == 200)
            ok++;
    free(fan);
    free(tasks);
    http_client_free(client);
    return started < n ? (rc < 0 ? rc : -ENOMEM) : ok;
}

/* --- the sync edge: asyncio.run(fetch_all(urls)) ---------------------------- */

struct fetch_all_call { struct fetch *fetches; int n; };

static int fetch_all_task(void *arg)
{
    struct fetch_all_call *call = arg;
    return await_fetch_all(call->fetches, call->n);
}

/* A plain function for plain callers: runs a loop for the fan-out and
 * returns once every request has ended (the number of 200s, or an error).
 * Never suspends; blocks its caller instead, which is the point. */
static int fetch_all(struct fetch *fetches, int n)
{
    struct fetch_all_call call = { fetches, n };
    return co_run(fetch_all_task, &call);
}

/* --- 1. sync outside, async inside ------------------------------------------ */

static void make_urls(char (*urls)[96], struct fetch *fetches, int n, int delay_ms)
{
    for (int i = 0; i < n; i++) {
        snprintf(urls[i], sizeof urls[i], "%s/delay/%d?page=%d", origin, delay_ms, i);
        fetches[i] = (struct fetch){ .url = urls[i] };
    }
}

static size_t total_bytes(const struct fetch *fetches, int n)
{
    size_t sum = 0;
    for (int i = 0; i < n; i++)
        sum += fetches[i].bytes;
    return sum;
}

static void part_sync_outside(int n, int delay_ms)
{
    static char urls[MAX_REQUESTS][96];
    static struct fetch fetches[MAX_REQUESTS];
    printf("\n--- 1. A synchronous program with one async section ---\n");
    printf("step 1 (plain code): make %d URLs, %s/delay/%d?page=N\n", n, origin, delay_ms);
    make_urls(urls, fetches, n, delay_ms);
    printf("step 2 (plain code): ok = fetch_all(urls, %d);   /* co_run() inside */\n", n);
    double start = now_ms();
    int ok = fetch_all(fetches, n);
    double took = now_ms() - start;
    printf("step 3 (plain code again): %d of %d answered 200, %zu bytes, in %.0f ms\n", ok, n,
           total_bytes(fetches, n), took);
    printf("        (one after another that would be at least %d ms: %d x %d ms)\n", n * delay_ms,
           n, delay_ms);
}

/* --- 2. the same function called from inside a running loop ----------------- */

struct nested_run { struct fetch *fetches; int n; int nested_rc; int direct_ok; double direct_ms; };

static int handler_task(void *arg)
{
    struct nested_run *r = arg;
    printf("a task (an async handler, say) calls fetch_all() as if it were plain code:\n");
    fflush(stdout);
    r->nested_rc = fetch_all(r->fetches, r->n);   /* the mistake */
    fflush(stderr);
    printf("  fetch_all() returned %d: %s\n", r->nested_rc, co_strerror(r->nested_rc));
    double start = now_ms();
    r->direct_ok = await_fetch_all(r->fetches, r->n);   /* the fix */
    r->direct_ms = now_ms() - start;
    return 0;
}

static void part_nested(int n, int delay_ms)
{
    static char urls[MAX_REQUESTS][96];
    static struct fetch fetches[MAX_REQUESTS];
    printf("\n--- 2. The same function called from inside a running task ---\n");
    make_urls(urls, fetches, n, delay_ms);
    struct nested_run r = { fetches, n, 0, 0, 0 };
    co_run(handler_task, &r);
    printf("the fix, in the task: ok = await_fetch_all(urls, %d): %d answered 200 in %.0f ms\n", n,
           r.direct_ok, r.direct_ms);
}

/* --- 3. a blocking library call inside a task ------------------------------- */

/* Stands for any blocking library function a task may need: a database
 * driver, a vendor SDK, a read from a slow network file system.  It sleeps
 * block_ms in the kernel, like such a call waiting for its answer. */
static int legacy_blocking_call(void *arg)
{
    int block_ms = *(int *)arg;
    usleep((useconds_t)block_ms * 1000);
    return 42;
}

struct boundary_run { struct fetch *fetches; int n; int block_ms; bool on_pool; int legacy; };

static int fetch_all_in_background(void *arg)
{
    struct boundary_run *b = arg;
    return await_fetch_all(b->fetches, b->n);
}

/* Start the fan-out, call the blocking function, join the fan-out. */
static int mixed_task(void *arg)
{
    struct boundary_run *b = arg;
    co_task *fan;
    int rc = task_spawn(&fan, fetch_all_in_background, b);
    if (rc < 0)
        return rc;
    if (b->on_pool)   /* run_in_executor / to_thread: only this task waits */
        await_thread(legacy_blocking_call, &b->block_ms, sizeof b->block_ms, &b->legacy,
                     CO_NO_DEADLINE);
    else              /* called directly: the whole loop waits */
        b->legacy = legacy_blocking_call(&b->block_ms);
    int ok = 0;
    await_task(fan, &ok, CO_NO_DEADLINE);
    return ok;
}

static double run_boundary(int n, int delay_ms, int block_ms, bool on_pool, int *ok)
{
    static char urls[MAX_REQUESTS][96];
    static struct fetch fetches[MAX_REQUESTS];
    make_urls(urls, fetches, n, delay_ms);
    struct boundary_run b = { fetches, n, block_ms, on_pool, 0 };
    double start = now_ms();
    *ok = co_run(mixed_task, &b);
    return now_ms() - start;
}

static void part_blocking_boundary(int n, int delay_ms, int block_ms)
{
    printf("\n--- 3. The other boundary: a task calling a blocking library function ---\n");
    printf("A task starts the fan-out (%d requests of %d ms), then calls a blocking\n"
           "library function that takes %d ms, then joins the fan-out.\n\n", n, delay_ms, block_ms);
    int ok_direct, ok_pool;
    double direct = run_boundary(n, delay_ms, block_ms, false, &ok_direct);
    double pooled = run_boundary(n, delay_ms, block_ms, true, &ok_pool);
    printf("  %-44s  %6.0f ms  (%d answered 200)\n", "called directly in the task", direct, ok_direct);
    printf("  %-44s  %6.0f ms  (%d answered 200)\n", "through the pool, await_thread() (to_thread)",
           pooled, ok_pool);
    printf("  (%d + %d ms if they run one after the other, max(%d, %d) ms if they overlap)\n",
           block_ms, delay_ms, block_ms, delay_ms);
}

/* --- main ------------------------------------------------------------------- */

static void usage(void)
{
    printf("usage: sync_async [--quick] [--requests N] [--delay-ms MS]\n"
           "  N requests (default 20, at most %d) of MS ms each (default 200) from a\n"
           "  synchronous program, from inside a task, and beside a blocking call.\n",
           MAX_REQUESTS);
}

int main(int argc, char **argv)
{
    int n = 20, delay_ms = 200, block_ms = 300;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            delay_ms = 40;
            block_ms = 100;
        } else if (strcmp(argv[i], "--requests") == 0 && i + 1 < argc) {
            n = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--delay-ms") == 0 && i + 1 < argc) {
            delay_ms = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage();
            return 0;
        } else {
            fprintf(stderr, "sync_async: unknown argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }
    if (n < 1 || n > MAX_REQUESTS || delay_ms < 0) {
        fprintf(stderr, "sync_async: --requests must be 1..%d, --delay-ms >= 0\n", MAX_REQUESTS);
        return 2;
    }

    struct httpbin_opts bin = { .server = { .port = 0 } };
    httpbin_thread *server;
    int rc = httpbin_start_thread(&bin, &server);
    if (rc < 0) {
        fprintf(stderr, "sync_async: cannot start httpbin: %s\n", co_strerror(rc));
        return 1;
    }
    snprintf(origin, sizeof origin, "http://127.0.0.1:%d", httpbin_thread_port(server));
    printf("=== Sync outside, async inside  (C17, C18) ===\n"
           "httpbin runs on a thread of this process at %s.\n", origin);

    part_sync_outside(n, delay_ms);
    part_nested(n, delay_ms);
    part_blocking_boundary(n, delay_ms, block_ms);
    httpbin_stop_thread(server, 1000, NULL);

    printf("\nWhy: sync code that needs async code needs a runner: co_run() (asyncio.run)\n"
           "makes a loop, runs one function on it to the end and gives back its result,\n"
           "so the program stays synchronous and one section overlaps its waits. Keep\n"
           "that call at the edge: a runner called from inside a running loop would\n"
           "block the loop it runs in, so co_run() refuses with -CO_ENESTED (asyncio:\n"
           "\"asyncio.run() cannot be called from a running event loop\"). Give the\n"
           "async core its own await_* name and let async callers use it directly.\n"
           "Async code that needs a blocking function needs a thread: await_thread()\n"
           "(asyncio.to_thread, run_in_executor) runs it on the worker pool while the\n"
           "loop goes on. Plan both boundaries once, at the edges of the program.\n");
    return 0;
}
