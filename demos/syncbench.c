/* syncbench.c - what coloop's channels and worker pool cost, next to the
 * same patterns in Go and Python asyncio, measured in the same run.
 *
 *   ping-pong   two tasks bounce an int through two unbuffered (capacity 0)
 *               channels: ns per message (one message = one send + one
 *               receive; each round trip is two messages)
 *   pool        a task runs an empty job on a worker and waits for it:
 *               microseconds from submit to resume, on an idle loop (its
 *               eventfd is made and closed per job) and with another job in
 *               flight (the eventfd stays open)
 *   peers       Go: unbuffered channels, GOMAXPROCS=1 (one OS thread, like
 *               one loop); Python: asyncio.Queue and asyncio.to_thread.  Run
 *               only when `go` / /usr/bin/python3 exist: the programs are
 *               written to a temporary directory and run from there.
 *
 * Usage: syncbench [--quick] [--no-peers]   (--quick: 10x fewer rounds)
 * Ratios are coloop's time divided by the peer's: below 1 means coloop is
 * faster at this pattern.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coloop.h"

#ifdef COLOOP_SWITCH_ASM
#define SWITCH_NAME "asm"
#else
#define SWITCH_NAME "ucontext"
#endif

static long rounds = 500000;    /* ping-pong round trips */
static long jobs = 20000;       /* pool round trips */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* --- channel ping-pong --- */

struct pingpong { co_chan *ping, *pong; double ns_per_msg; };

static int echo(void *arg)
{
    struct pingpong *p = arg;
    int v;
    while (chan_await_recv(p->ping, &v, CO_NO_DEADLINE) == 0)
        if (chan_await_send(p->pong, &v, CO_NO_DEADLINE) < 0)
            return -1;
    return 0;
}

static int pinger(void *arg)
{
    struct pingpong *p = arg;
    int v = 0;
    int64_t start = now_ns();
    for (long i = 0; i < rounds; i++) {
        if (chan_await_send(p->ping, &v, CO_NO_DEADLINE) < 0 ||
            chan_await_recv(p->pong, &v, CO_NO_DEADLINE) < 0)
            return -1;
        v++;
    }
    p->ns_per_msg = (double)(now_ns() - start) / (double)(2 * rounds);
    chan_close(p->ping);   /* ends echo's loop */
    return v == rounds ? 0 : -1;
}

static double bench_pingpong(void)
{
    struct pingpong p = { 0 };
    co_task *a, *b;
    chan_new(&p.ping, sizeof(int), 0);
    chan_new(&p.pong, sizeof(int), 0);
    task_spawn(&a, echo, &p);
    task_spawn(&b, pinger, &p);
    task_detach(a);
    task_detach(b);
    loop_run(loop_current());
    chan_free(p.ping);
    chan_free(p.pong);
    return p.ns_per_msg;
}

/* --- pool round trip --- */

static int empty_job(void *arg) { (void)arg; return 0; }

static atomic_int release_holder;

static int hold_until_released(void *arg)
{
    (void)arg;
    while (!atomic_load(&release_holder))
        usleep(200);
    return 0;
}

struct roundtrip { double us_per_job; bool keep_port_open; };

static int holder(void *arg)
{
    (void)arg;
    return await_thread(hold_until_released, NULL, 0, NULL, CO_NO_DEADLINE);
}

static int submitter(void *arg)
{
    struct roundtrip *r = arg;
    await_thread(empty_job, NULL, 0, NULL, CO_NO_DEADLINE);   /* start a worker first */
    int64_t start = now_ns();
    for (long i = 0; i < jobs; i++)
        if (await_thread(empty_job, NULL, 0, NULL, CO_NO_DEADLINE) < 0)
            return -1;
    r->us_per_job = (double)(now_ns() - start) / (double)jobs / 1000.0;
    atomic_store(&release_holder, 1);
    return 0;
}

static double bench_pool(bool keep_port_open)
{
    struct roundtrip r = { 0, keep_port_open };
    co_task *t;
    atomic_store(&release_holder, 0);
    if (keep_port_open) {   /* a job in flight all along keeps the loop's eventfd open */
        task_spawn(&t, holder, NULL);
        task_detach(t);
    }
    task_spawn(&t, submitter, &r);
    task_detach(t);
    loop_run(loop_current());
    return r.us_per_job;
}

/* --- the peers --- */

static const char go_source[] =
    "package main\n"
    "import (\"fmt\"; \"os\"; \"strconv\"; \"time\")\n"
    "func main() {\n"
    "\tn, _ := strconv.Atoi(os.Args[1])\n"
    "\tping, pong := make(chan int), make(chan int)\n"
    "\tgo func() { for v := range ping { pong <- v } }()\n"
    "\tstart := time.Now()\n"
    "\tfor i := 0; i < n; i++ { ping <- i; <-pong }\n"
    "\tfmt.Printf(\"%.1f\\n\", float64(time.Since(start).Nanoseconds())/float64(2*n))\n"
    "\tclose(ping)\n"
    "}\n";

static const char python_source[] =
    "import asyncio, sys, time\n"
    "async def main(n, jobs):\n"
    "    ping, pong = asyncio.Queue(), asyncio.Queue()\n"
    "    async def echo():\n"
    "        while (v := await ping.get()) is not None:\n"
    "            await pong.put(v)\n"
    "    t = asyncio.create_task(echo())\n"
    "    start = time.perf_counter_ns()\n"
    "    for i in range(n):\n"
    "        await ping.put(i)\n"
    "        await pong.get()\n"
    "    print((time.perf_counter_ns() - start) / (2 * n))\n"
    "    await ping.put(None)\n"
    "    await t\n"
    "    await asyncio.to_thread(int)\n"
    "    start = time.perf_counter_ns()\n"
    "    for i in range(jobs):\n"
    "        await asyncio.to_thread(int)\n"
    "    print((time.perf_counter_ns() - start) / jobs / 1000)\n"
    "asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))\n";

static int write_file(const char *dir, const char *name, const char *text, char *path, size_t len)
{
    snprintf(path, len, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

/* Run a shell command, read up to two numbers from its output. */
static int run_peer(const char *cmd, double *a, double *b)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    int n = fscanf(p, "%lf %lf", a, b);
    int status = pclose(p);
    return status == 0 && n >= 1 ? n : -1;
}

static bool have_go(void)
{
    return system("command -v go >/dev/null 2>&1") == 0;
}

static void print_ratio(const char *what, double peer, const char *unit, double ours)
{
    printf("  %-40s %9.2f %s   coloop/peer = %.2f (%s)\n", what, peer, unit, ours / peer,
           ours < peer ? "coloop faster" : "coloop slower");
}

static void run_peers(double ns_msg, double us_job)
{
    char dir[] = "/tmp/syncbench.XXXXXX", path[256], cmd[1024];
    double a = 0, b = 0;
    if (!mkdtemp(dir))
        return;
    if (!have_go()) {
        printf("  go: not installed (apt-get install -y golang-go), skipped\n");
    } else if (write_file(dir, "pingpong.go", go_source, path, sizeof path) == 0) {
        snprintf(cmd, sizeof cmd, "cd %s && GOCACHE=%s/gocache GOMAXPROCS=1 go run pingpong.go %ld",
                 dir, dir, rounds);
        if (run_peer(cmd, &a, &b) >= 1)
            print_ratio("go unbuffered chan, GOMAXPROCS=1", a, "ns/msg", ns_msg);
        else
            printf("  go: the peer program failed, skipped\n");
    }
    if (access("/usr/bin/python3", X_OK) != 0) {
        printf("  python: /usr/bin/python3 not found, skipped\n");
    } else if (write_file(dir, "pingpong.py", python_source, path, sizeof path) == 0) {
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %ld %ld", path, rounds / 5, jobs / 4);
        if (run_peer(cmd, &a, &b) == 2) {
            print_ratio("python asyncio.Queue", a, "ns/msg", ns_msg);
            print_ratio("python asyncio.to_thread", b, "us/job", us_job);
        } else {
            printf("  python: the peer program failed (asyncio missing?), skipped\n");
        }
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "syncbench: could not remove %s\n", dir);
}

int main(int argc, char **argv)
{
    bool peers = true;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            rounds /= 10;
            jobs /= 10;
        } else if (strcmp(argv[i], "--no-peers") == 0) {
            peers = false;
        }
    }
    co_loop *loop;
    if (loop_new(&loop) < 0)
        return 1;
    printf("syncbench (%s switch, %d pool threads)\n", SWITCH_NAME, pool_default_threads());
    double ns_msg = bench_pingpong();
    double us_idle = bench_pool(false);
    double us_busy = bench_pool(true);
    printf("  %-40s %9.2f ns/msg   (%ld round trips)\n", "coloop channel ping-pong (capacity 0)",
           ns_msg, rounds);
    printf("  %-40s %9.2f us/job   (%ld jobs, eventfd made per job)\n",
           "coloop pool round trip, idle loop", us_idle, jobs);
    printf("  %-40s %9.2f us/job   (eventfd kept open)\n",
           "coloop pool round trip, job in flight", us_busy);
    if (peers)
        run_peers(ns_msg, us_idle);
    loop_free(loop);
    pool_shutdown_default();
    return 0;
}
