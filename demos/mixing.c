/* mixing.c - claim C15: mixing a blocking HTTP client into async code
 * "creates weird deadlocks".  Here is the simplest one, and coloop naming it.
 *
 *   mixing [--quick] [--timeout-ms MS]
 *
 * One loop serves the built-in httpbin target (a server task on this loop,
 * 127.0.0.1, port 0).  A task on the same loop then asks that server for
 * /get with a *blocking* HTTP client: a plain blocking socket, connect(),
 * write(), read().  The kernel completes the connection and takes the
 * request, but the server task that would read it can only run when the
 * loop runs, and the loop is stuck in our read(): nothing can ever answer.
 * With the watchdog on, coloop says so while it happens: which task, where
 * it was spawned, which system call, and a backtrace down to the line.  The
 * socket has a receive timeout (SO_RCVTIMEO, 2 s) so the demo ends by itself;
 * without one the program would hang forever.
 *
 * Then the two fixes, each answered at once: the coroutine client
 * (http_await_get), and the same blocking client moved to the worker pool
 * (await_thread), where it blocks a worker thread instead of the loop.
 * --quick: a 500 ms receive timeout (for the tests).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "coloop.h"
#include "runtime/debug.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* --- a blocking HTTP client, as any synchronous library would do it -------- */

/* One blocking GET; also a pool job, so everything it needs is in here. */
struct blocking_get {
    int port;
    int timeout_ms;   /* SO_RCVTIMEO: how long read() may block */
    int status;       /* out: the status code, or 0 */
    int err;          /* out: 0, or the errno that ended it */
};

static int send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0)
            return -errno;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static int blocking_http_get(void *arg)
{
    struct blocking_get *g = arg;
    g->status = 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);   /* blocking */
    if (fd < 0)
        return g->err = errno;
    struct timeval tv = { g->timeout_ms / 1000, (g->timeout_ms % 1000) * 1000 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)g->port) };
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const char req[] = "GET /get HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    char head[64] = "";
    g->err = 0;
    if (connect(fd, (struct sockaddr *)&to, sizeof to) < 0)
        g->err = errno;
    else if ((g->err = -send_all(fd, req, sizeof req - 1)) == 0) {
        ssize_t n = read(fd, head, sizeof head - 1);   /* waits for the server */
        if (n < 0)
            g->err = errno;
        else if (n == 0 || sscanf(head, "HTTP/1.%*d %d", &g->status) != 1)
            g->err = EPROTO;
    }
    close(fd);
    return g->err;
}

/* --- the three clients, each a task on the server's loop -------------------- */

struct demo {
    http_server *server;
    int port;
    int timeout_ms;
    int status[3];
    int err[3];
    double ms[3];
};

static int blocking_client(void *arg)   /* the mistake */
{
    struct demo *d = arg;
    struct blocking_get g = { d->port, d->timeout_ms, 0, 0 };
    blocking_http_get(&g);
    d->status[0] = g.status;
    d->err[0] = g.err;
    return 0;
}

static int coroutine_client(void *arg)   /* fix 1: the client that suspends */
{
    struct demo *d = arg;
    http_client *c;
    int rc = http_client_new(NULL, &c);
    if (rc < 0)
        return d->err[1] = -rc;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/get", d->port);
    struct http_response r;
    rc = http_await_get(c, url, &r, co_deadline_in_ms(d->timeout_ms));
    d->status[1] = r.status;
    d->err[1] = -rc;
    http_response_fini(&r);
    http_client_free(c);
    return 0;
}

static int pooled_client(void *arg)   /* fix 2: the blocking client on a worker thread */
{
    struct demo *d = arg;
    struct blocking_get g = { d->port, d->timeout_ms, 0, 0 };
    int rc = await_thread(blocking_http_get, &g, sizeof g, NULL, CO_NO_DEADLINE);
    d->status[2] = g.status;
    d->err[2] = rc < 0 ? -rc : g.err;
    return 0;
}

static void print_outcome(const struct demo *d, int i)
{
    if (d->status[i])
        printf("  -> %d after %.0f ms\n", d->status[i], d->ms[i]);
    else
        printf("  -> no answer: gave up after %.0f ms (%s)\n", d->ms[i],
               d->err[i] == EAGAIN ? "read() timed out: SO_RCVTIMEO" : strerror(d->err[i]));
}

/* Run one client as a task of its own (its name is what the watchdog shows)
 * and wait for it. */
static void await_client(struct demo *d, int i, co_task_fn fn, const char *name)
{
    co_task *t;
    struct co_spawn_opts opts = { .name = name };
    double start = now_ms();
    if (task_spawn_opts(&t, fn, d, &opts) == 0)
        await_task(t, NULL, CO_NO_DEADLINE);
    d->ms[i] = now_ms() - start;
}

static int demo_task(void *arg)
{
    struct demo *d = arg;
    printf("1. A task asks the server with a blocking client (socket, connect, write,\n"
           "   read; SO_RCVTIMEO %d ms). The watchdog is on (threshold 100 ms):\n\n",
           d->timeout_ms);
    fflush(stdout);
    await_client(d, 0, blocking_client, "blocking-client");
    fflush(stderr);
    print_outcome(d, 0);
    printf("   Without SO_RCVTIMEO that read() would wait forever.\n\n");

    printf("2. Fix: the coroutine client, http_await_get(), from a task:\n");
    await_client(d, 1, coroutine_client, "coroutine-client");
    print_outcome(d, 1);
    printf("\n3. Fix: the same blocking client on the worker pool, await_thread():\n");
    await_client(d, 2, pooled_client, "pooled-client");
    print_outcome(d, 2);
    return server_await_stop(d->server, 100, co_deadline_in_ms(5000));
}

static int serve(void *arg)
{
    struct demo *d = arg;
    return server_await_run(d->server, CO_NO_DEADLINE);
}

/* --- main ------------------------------------------------------------------- */

static int run_demo(int timeout_ms)
{
    co_loop *loop;
    int rc = loop_new(&loop);
    if (rc < 0)
        return rc;
    struct httpbin_opts bin = { .server = { .port = 0 } };
    struct demo d = { .timeout_ms = timeout_ms };
    if ((rc = httpbin_server_new(&bin, &d.server)) < 0) {
        loop_free(loop);
        return rc;
    }
    d.port = server_port(d.server);
    printf("One loop serves httpbin at http://127.0.0.1:%d/ (a server task on this\n"
           "loop). Tasks on the same loop then ask it for /get, three ways.\n\n", d.port);
    loop_debug_enable(loop, 100);   /* what COLOOP_DEBUG=1 turns on */
    co_task *server_task, *client_task;
    struct co_spawn_opts server_opts = { .name = "httpbin-server" };
    struct co_spawn_opts demo_opts = { .name = "demo" };
    task_spawn_opts(&server_task, serve, &d, &server_opts);
    task_spawn_opts(&client_task, demo_task, &d, &demo_opts);
    task_detach(server_task);
    task_detach(client_task);
    rc = loop_run(loop);
    loop_debug_disable(loop);
    server_free(d.server);
    loop_free(loop);
    return rc < 0 ? rc : d.status[1] == 200 && d.status[2] == 200 ? 0 : -EPROTO;
}

int main(int argc, char **argv)
{
    int timeout_ms = 2000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            timeout_ms = 500;
        } else if (strcmp(argv[i], "--timeout-ms") == 0 && i + 1 < argc) {
            timeout_ms = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: mixing [--quick] [--timeout-ms MS]\n"
                   "  A task calls a blocking HTTP client against a server on its own loop;\n"
                   "  the blocking read gives up after MS ms (default 2000; --quick: 500).\n");
            return 0;
        } else {
            fprintf(stderr, "mixing: unknown argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }
    if (timeout_ms < 200) {
        fprintf(stderr, "mixing: --timeout-ms must be at least 200 (the watchdog needs 100)\n");
        return 2;
    }
    printf("=== Mixing a blocking client into async code  (C15) ===\n");
    fflush(stdout);
    int rc = run_demo(timeout_ms);
    if (rc < 0) {
        fprintf(stderr, "mixing: %s\n", co_strerror(rc));
        return 1;
    }
    printf("\nWhy: a task gives the loop back only inside an await_* call. A blocking\n"
           "client never does, so while it waits for the answer, the server task that\n"
           "would write that answer cannot run: on one loop, the wait can never end.\n"
           "(The kernel accepted the connection and buffered the request, so connect()\n"
           "and write() succeeded and nothing looked wrong.) In asyncio this hangs\n"
           "silently: debug mode only reports a slow step once it has finished, and\n"
           "this one never does. coloop's watchdog reports it while it blocks: task,\n"
           "spawn site, system call and line. Fix: use the coroutine client in tasks;\n"
           "if a library only has a blocking client, call it through await_thread()\n"
           "(asyncio.to_thread), so it blocks a worker thread, not the loop.\n");
    return 0;
}
