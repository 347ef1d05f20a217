/* serverbench.c - the server's two benchmarks (issue 7):
 *
 *  1. Requests per second for a small response, coloop vs nginx, same run:
 *     wrk (-t1 -c50) against coloop's httpbin /hello on one loop thread, then
 *     against nginx with one worker process serving the same bytes from a
 *     config written to a temporary directory; printed with the ratio.  A
 *     peer that is not installed is skipped with a message
 *     (apt-get install -y wrk nginx).  Both servers and wrk share the
 *     machine's CPUs: the figures are for comparing, not for quoting.
 *
 *  2. 10,000 concurrent clients, each asking /delay/1000: the clients are
 *     tasks of one loop in this process; the server is httpbin in a forked
 *     child, first on one loop (a single-threaded process), then on one loop
 *     per CPU (threads sharing the port with SO_REUSEPORT).  Three phases,
 *     each starting when the last one has ended for everyone:
 *       connect  every client opens its connection (and the server accepts);
 *       once     every client sends GET /delay/1000 and reads the answer:
 *                from the first request to the last answer, the target is
 *                within 10% of one second;
 *       again    the same on the same connections: the server's steady
 *                state, its connection tasks' stacks and buffers touched.
 *     Nobody closes until the end.  "From the first spawn" adds the connect
 *     phase to "once": the cost of setting up 10,000 connections on both
 *     sides, mapping 20,000 task stacks and touching fresh memory.
 *     Descriptors: each process needs clients + ~100 (10,100; the run raises
 *     the soft RLIMIT_NOFILE up to the hard limit and runs fewer clients,
 *     saying so, if that is not enough); in one process it would be
 *     2 * clients + 100 (20,100).  Client and server are separate processes
 *     on the same machine: a one-loop server is pinned to one CPU and the
 *     clients to another (demos/cpupin.h; wrk and the servers it measures
 *     too); several loops spread over every CPU.  On 2 cores the kernel's
 *     loopback TCP work (each send runs the receiver's TCP input too) is
 *     most of the time.  The listen backlog is capped by net.core.somaxconn
 *     (4096 here).
 *
 *     build/demos/serverbench [seconds per wrk run, default 5] [clients, default 10000]
 *                             [server loops, default: 1, then one per CPU]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "coloop.h"
#include "http/httpbin.h"
#include "demos/cpupin.h"

#define WRK_CONNECTIONS 50
static const char hello[] = "Hello, World!\\n";    /* as nginx's config spells /hello's body */

static struct cpupin_plan pin = { -1, -1, { { 0 } } };   /* where the server and the clients run */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool have(const char *cmd)
{
    char line[256];
    snprintf(line, sizeof line, "command -v %s >/dev/null 2>&1", cmd);
    return system(line) == 0;
}

/* Run wrk against url; returns requests/s, or -1 (the output is shown). */
static double run_wrk(const char *url, int seconds)
{
    char cmd[512], line[512];
    snprintf(cmd, sizeof cmd, "wrk -t1 -c%d -d%ds %s 2>&1", WRK_CONNECTIONS, seconds, url);
    FILE *p = popen(cmd, "r");
    double rps = -1;
    while (p && fgets(line, sizeof line, p)) {
        if (strncmp(line, "Requests/sec:", 13) == 0)
            rps = atof(line + 13);
        if (strstr(line, "Socket errors") || strstr(line, "Non-2xx"))
            printf("    wrk: %s", line);
    }
    if (p)
        pclose(p);
    return rps;
}

/* Wait until something accepts on 127.0.0.1:port (nginx starting). */
static bool wait_listening(int port)
{
    for (int i = 0; i < 100; i++) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "exec 3<>/dev/tcp/127.0.0.1/%d", port);
        char line[200];
        snprintf(line, sizeof line, "bash -c '%s' 2>/dev/null", cmd);
        if (system(line) == 0)
            return true;
        usleep(50 * 1000);
    }
    return false;
}

/* A port nobody listens on now (small race: fine for a benchmark). */
static int free_port(void)
{
    co_loop *loop;
    int fd, port = -1;
    if (loop_new(&loop) < 0)
        return -1;
    if (sock_listen("127.0.0.1", 0, NULL, &fd) == 0) {
        port = sock_local_port(fd);
        sock_close(fd);
    }
    loop_free(loop);
    return port;
}

static double bench_nginx(int seconds)
{
    const char *nginx = access("/usr/sbin/nginx", X_OK) == 0 ? "/usr/sbin/nginx" : "nginx";
    if (!have(nginx)) {
        printf("  nginx: not installed, skipped (apt-get install -y nginx)\n");
        return -1;
    }
    char dir[] = "/tmp/serverbench-XXXXXX", conf[300], err[300], url[64];
    if (!mkdtemp(dir))
        return -1;
    int port = free_port();
    snprintf(conf, sizeof conf, "%s/nginx.conf", dir);
    snprintf(err, sizeof err, "%s/error.log", dir);
    FILE *f = fopen(conf, "w");
    if (!f)
        return -1;
    fprintf(f,
            "worker_processes 1;\ndaemon off;\n%spid %s/nginx.pid;\nerror_log %s warn;\n"
            "events { worker_connections 1024; }\n"
            "http {\n  access_log off;\n  keepalive_requests 1000000;\n"
            "  client_body_temp_path %s/body; proxy_temp_path %s/proxy;\n"
            "  fastcgi_temp_path %s/fcgi; uwsgi_temp_path %s/uwsgi; scgi_temp_path %s/scgi;\n"
            "  server {\n    listen 127.0.0.1:%d;\n"
            "    location /hello {\n"
            "      default_type \"text/plain; charset=utf-8\"; return 200 \"%s\";\n    }\n"
            "  }\n}\n",
            geteuid() == 0 ? "user root;\n" : "", dir, err, dir, dir, dir, dir, dir, port, hello);
    fclose(f);
    pid_t pid = fork();
    if (pid == 0) {
        cpupin_to(pin.server_cpu);
        execlp(nginx, nginx, "-p", dir, "-e", err, "-c", conf, (char *)NULL);
        _exit(127);
    }
    double rps = -1;
    if (pid > 0 && wait_listening(port)) {
        snprintf(url, sizeof url, "http://127.0.0.1:%d/hello", port);
        rps = run_wrk(url, seconds);
    } else {
        printf("  nginx: did not start (see %s)\n", err);
    }
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    char rm[400];
    snprintf(rm, sizeof rm, "rm -rf %s", dir);
    if (system(rm) != 0)
        printf("  (could not remove %s)\n", dir);
    return rps;
}

static void bench_rps(int seconds)
{
    printf("== small response, requests/s: wrk -t1 -c%d -d%ds, one server thread ==\n",
           WRK_CONNECTIONS, seconds);
    if (!have("wrk")) {
        printf("  wrk: not installed, skipped (apt-get install -y wrk)\n");
        return;
    }
    struct httpbin_opts o = { .threads = 1 };
    httpbin_thread *h;
    cpupin_to(pin.server_cpu);      /* the server thread inherits it */
    int started = httpbin_start_thread(&o, &h);
    cpupin_to(pin.client_cpu);      /* wrk, started from here, inherits this one */
    if (started < 0) {
        printf("  coloop: cannot start httpbin\n");
        return;
    }
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hello", httpbin_thread_port(h));
    double coloop = run_wrk(url, seconds);
    httpbin_stop_thread(h, 1000, NULL);
    printf("  coloop httpbin /hello   %10.0f requests/s\n", coloop);
    double nginx = bench_nginx(seconds);
    if (nginx > 0)
        printf("  nginx 1 worker /hello   %10.0f requests/s\n", nginx);
    if (coloop > 0 && nginx > 0)
        printf("  ratio coloop/nginx      %10.2f  (target >= 0.80)\n", coloop / nginx);
}

/* ---- 10,000 clients each asking /delay/1000 ---- */

/* Round 0 ("once") is each client's first request on its new connection;
 * round 1 ("again") asks once more on it: the server's steady state, with its
 * 10,000 connection tasks' stacks and buffers already touched. */
enum { ROUNDS = 2 };

struct crowd {
    int port;                       /* the server's */
    int running;                    /* client tasks spawned */
    double t_spawn, t_go[ROUNDS];   /* the first spawn; when everyone may ask, per round */
    double *connected;              /* per client: connected, seconds after t_spawn */
    double *answered[ROUNDS];       /* per client and round: answered, seconds after t_go */
    double last_sent[ROUNDS];       /* the last request written, seconds after t_go */
    int nconnected, nanswered[ROUNDS];
    int connect_failed, served[ROUNDS], failed[ROUNDS];
    int first_error;                /* the first failure's code */
    struct co_waitgroup pending;    /* clients still in the current phase */
    struct co_event go[ROUNDS + 1]; /* everyone may ask, per round; the last: may close */
};

static struct crowd crowd;
static http_server *crowd_server;   /* in the server process, with one loop */

/* GET /delay/1000 on fd and read the answer (its Content-Length says where
 * it ends).  0 for a 200, or a code. */
static int await_exchange(int fd, int round)
{
    char buf[2048];
    int64_t dl = co_deadline_in_ms(30000);
    int n = snprintf(buf, sizeof buf, "GET /delay/1000 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n",
                     crowd.port);
    int rc = sock_await_write_all(fd, buf, (size_t)n, dl);
    double sent = now_s() - crowd.t_go[round];
    if (sent > crowd.last_sent[round])
        crowd.last_sent[round] = sent;
    struct http_header fields[16];
    struct http_parser p;
    http_parser_init(&p, HTTP_ROLE_RESPONSE, NULL, fields, 16);
    http_parser_expect(&p, "GET", 3);
    size_t got = 0;
    int head = 0;
    while (rc == 0) {
        ssize_t r = sock_await_read(fd, buf + got, sizeof buf - got, dl);
        if (r <= 0)
            return r < 0 ? (int)r : -EPROTO;
        got += (size_t)r;
        if (head == 0 && (head = http_parse_head(&p, buf, got)) < 0)
            return head;
        if (head > 0 && got >= (size_t)head + p.head.content_length)
            break;
        if (got == sizeof buf)
            return -EMSGSIZE;
    }
    return rc < 0 ? rc : p.head.status == 200 ? 0 : -EPROTO;
}

static void note_failure(int rc)
{
    if (!crowd.first_error)
        crowd.first_error = rc;
}

/* Touch the part of this task's stack that await_exchange will use, so the
 * first round does not time the clients' own page faults (a fresh task stack
 * is backed by memory only where it is touched: one fault per page, 10,000
 * of them inside the measured window).  A load generator warms up; the
 * figure is meant to be the server's. */
static void __attribute__((noinline)) touch_exchange_stack(void)
{
    volatile char warm[6 * 1024];
    for (size_t i = 0; i < sizeof warm; i += 512)
        warm[i] = 0;
}

/* One client: connect; when everyone has, ask; when everyone has an answer,
 * ask again; then close.  Nobody closes (or connects) during a round, so a
 * round measures only the requests. */
static int crowd_client(void *arg)
{
    (void)arg;
    struct sock_addr a;
    int fd = -1;
    sock_addr_parse("127.0.0.1", crowd.port, &a);
    int rc = sock_await_connect(&a, NULL, &fd, co_deadline_in_ms(30000));
    if (rc == 0) {
        crowd.connected[crowd.nconnected++] = now_s() - crowd.t_spawn;
    } else {
        crowd.connect_failed++;
        note_failure(rc);
    }
    touch_exchange_stack();
    waitgroup_done(&crowd.pending);
    for (int r = 0; r < ROUNDS; r++) {
        event_await(&crowd.go[r], CO_NO_DEADLINE);
        if (rc == 0) {
            rc = await_exchange(fd, r);
            crowd.answered[r][crowd.nanswered[r]++] = now_s() - crowd.t_go[r];
            if (rc == 0) {
                crowd.served[r]++;
            } else {
                crowd.failed[r]++;
                note_failure(rc);
            }
        }
        waitgroup_done(&crowd.pending);
    }
    event_await(&crowd.go[ROUNDS], CO_NO_DEADLINE);
    if (fd >= 0)
        sock_close(fd);
    return 0;
}

static int conductor(void *arg)
{
    (void)arg;
    waitgroup_await(&crowd.pending, CO_NO_DEADLINE);     /* everyone has connected (or failed) */
    for (int r = 0; r < ROUNDS; r++) {
        waitgroup_add(&crowd.pending, crowd.running);
        crowd.t_go[r] = now_s();
        event_set(&crowd.go[r]);
        waitgroup_await(&crowd.pending, CO_NO_DEADLINE); /* everyone has an answer */
    }
    event_set(&crowd.go[ROUNDS]);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The server side, in a child process of its own, until the parent closes
 * `stop`; its counters go back through `report`.  One loop: httpbin on the
 * child's main loop, a single-threaded process.  Several: httpbin on that
 * many loop threads sharing the port (SO_REUSEPORT), the main thread waiting
 * on the pipe. */
static int child_stopper(void *arg)
{
    int fd = *(int *)arg;
    char c;
    while (read(fd, &c, 1) < 0 && errno == EAGAIN)
        if (await_fd(fd, CO_FD_READ, CO_NO_DEADLINE) < 0)
            break;
    server_stop(crowd_server, 1000);
    return 0;
}

static int child_runner(void *arg)
{
    (void)arg;
    return server_await_run(crowd_server, CO_NO_DEADLINE);
}

static void report_port(int report_fd, int port)
{
    if (write(report_fd, &port, sizeof port) != sizeof port || port < 0)
        _exit(1);
}

static void report_stats(int report_fd, const struct server_stats *st)
{
    _exit(write(report_fd, st, sizeof *st) == sizeof *st ? 0 : 1);
}

static void crowd_server_one_loop(int stop_fd, int report_fd)
{
    co_loop *loop;
    struct httpbin_opts o = { .server = { .backlog = 65535 } };
    int port = -1;
    co_task *t;
    if (loop_new(&loop) == 0 && httpbin_server_new(&o, &crowd_server) == 0)
        port = server_port(crowd_server);
    report_port(report_fd, port);
    fcntl(stop_fd, F_SETFL, O_NONBLOCK);
    task_spawn(&t, child_runner, NULL);
    task_detach(t);
    task_spawn(&t, child_stopper, &stop_fd);
    task_detach(t);
    loop_run(loop);
    struct server_stats st;
    server_get_stats(crowd_server, &st);
    server_free(crowd_server);
    loop_close_fd(stop_fd);
    loop_free(loop);
    report_stats(report_fd, &st);
}

static void crowd_server_loops(int stop_fd, int report_fd, int loops)
{
    struct httpbin_opts o = { .server = { .backlog = 65535 }, .threads = loops };
    httpbin_thread *h = NULL;
    report_port(report_fd, httpbin_start_thread(&o, &h) == 0 ? httpbin_thread_port(h) : -1);
    char c;
    while (read(stop_fd, &c, 1) < 0 && errno == EINTR)
        ;
    struct server_stats st = { 0 };
    httpbin_stop_thread(h, 1000, &st);
    report_stats(report_fd, &st);
}

/* Raise the soft descriptor limit for `clients` (+ ~100) if the hard limit
 * allows; returns how many clients can run. */
static int fit_descriptors(int clients)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rlim_t need = (rlim_t)clients + 100;
    if (rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max > need ? need : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    printf("  descriptors: %d + ~100 in each process (server, clients); RLIMIT_NOFILE %llu "
           "(hard %llu)\n", clients, (unsigned long long)rl.rlim_cur,
           (unsigned long long)rl.rlim_max);
    if (rl.rlim_cur < need) {
        clients = (int)(rl.rlim_cur - 100);
        printf("  (not enough descriptors: running %d clients; raise ulimit -n)\n", clients);
    }
    return clients;
}

/* The clients: tasks of one loop in this process. */
static void run_clients(int clients)
{
    co_loop *loop;
    if (loop_new(&loop) < 0)
        return;
    waitgroup_init(&crowd.pending);
    for (int r = 0; r <= ROUNDS; r++)
        event_init(&crowd.go[r]);
    waitgroup_add(&crowd.pending, clients);
    co_task *t;
    if (task_spawn(&t, conductor, NULL) == 0)
        task_detach(t);
    /* small unguarded stacks for the clients: one mapping each */
    struct co_spawn_opts so = { .name = "client", .stack_size = 16 * 1024, .unguarded = true };
    crowd.t_spawn = now_s();
    for (int i = 0; i < clients; i++) {
        if (task_spawn_opts(&t, crowd_client, NULL, &so) < 0) {
            crowd.connect_failed++;
            waitgroup_add(&crowd.pending, -1);
            continue;
        }
        crowd.running++;
        task_detach(t);
    }
    loop_run(loop);
    waitgroup_fini(&crowd.pending);
    for (int r = 0; r <= ROUNDS; r++)
        event_fini(&crowd.go[r]);
    loop_free(loop);
}

static void print_crowd(int clients, const struct server_stats *st)
{
    static const char *const what[ROUNDS] = { "once:", "again:" };
    double *c = crowd.connected;
    int nc = crowd.nconnected;
    qsort(c, (size_t)nc, sizeof(double), cmp_double);
    if (nc > 0)
        printf("  connect: %d of %d connected, the last %.3f s after the first spawn "
               "(median %.3f s)\n", nc, clients, c[nc - 1], c[nc / 2]);
    for (int r = 0; r < ROUNDS; r++) {
        double *d = crowd.answered[r];
        int n = crowd.nanswered[r];
        qsort(d, (size_t)n, sizeof(double), cmp_double);
        double total = n ? d[n - 1] : 0;
        printf("  %-8s served %d of %d, total %.3f s from the first request to the last "
               "answer (%+.1f%% vs 1 s; target within 10%%)\n", what[r], crowd.served[r],
               clients, total, (total - 1.0) * 100);
        if (n > 0)
            printf("           answered: first %.3f s, median %.3f s, last %.3f s; the last "
                   "request was sent at %.3f s\n", d[0], d[n / 2], d[n - 1], crowd.last_sent[r]);
        if (r == 0 && n > 0)
            printf("           from the first spawn, the connections included: %.3f s\n",
                   crowd.t_go[0] - crowd.t_spawn + total);
    }
    if (crowd.first_error)
        printf("  first failure: %s (connects failed %d; requests failed %d, %d)\n",
               co_strerror(crowd.first_error), crowd.connect_failed, crowd.failed[0],
               crowd.failed[1]);
    printf("  server: %llu connections accepted, %llu requests\n",
           (unsigned long long)st->accepted, (unsigned long long)st->requests);
}

static void bench_crowd(int clients, int loops)
{
    printf("\n== %d concurrent clients, each GET /delay/1000 once; server on %d loop%s ==\n",
           clients, loops, loops == 1 ? "" : "s (threads, SO_REUSEPORT)");
    clients = fit_descriptors(clients);
    int stop[2], report[2];
    if (pipe(stop) < 0 || pipe(report) < 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        if (loops == 1)
            cpupin_to(pin.server_cpu);
        else
            cpupin_release(&pin);   /* one loop thread per CPU: let them spread */
        close(stop[1]);
        close(report[0]);
        if (loops == 1)
            crowd_server_one_loop(stop[0], report[1]);
        crowd_server_loops(stop[0], report[1], loops);
    }
    close(stop[0]);
    close(report[1]);
    int port = -1;
    if (pid < 0 || read(report[0], &port, sizeof port) != sizeof port || port < 0) {
        printf("  cannot start the server process\n");
        return;
    }
    crowd = (struct crowd){ .port = port, .connected = calloc((size_t)clients, sizeof(double)) };
    for (int r = 0; r < ROUNDS; r++)
        crowd.answered[r] = calloc((size_t)clients, sizeof(double));
    run_clients(clients);
    close(stop[1]);                     /* the server stops */
    struct server_stats st = { 0 };
    if (read(report[0], &st, sizeof st) != sizeof st)
        printf("  (no report from the server process)\n");
    waitpid(pid, NULL, 0);
    close(report[0]);
    print_crowd(clients, &st);
    free(crowd.connected);
    for (int r = 0; r < ROUNDS; r++)
        free(crowd.answered[r]);
}

int main(int argc, char **argv)
{
    int seconds = argc > 1 ? atoi(argv[1]) : 5;
    int clients = argc > 2 ? atoi(argv[2]) : 10000;
    int loops = argc > 3 ? atoi(argv[3]) : 0;
    int cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    pin = cpupin_plan_print("serverbench");
    cpupin_to(pin.client_cpu);
    if (seconds > 0)
        bench_rps(seconds);
    if (clients > 0 && loops > 0)
        bench_crowd(clients, loops);
    if (clients > 0 && loops <= 0) {
        bench_crowd(clients, 1);
        if (cpus > 1)
            bench_crowd(clients, cpus);
    }
    return 0;
}
