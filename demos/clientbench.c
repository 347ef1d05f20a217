/* clientbench.c - the HTTP client's benchmark: keep-alive GET requests per
 * second over 1 and over 50 connections, and wrk against the same server in
 * the same run, printed as a ratio to wrk.
 *
 * The server is nginx when it is installed (one worker, a config written to
 * a temporary directory: listen 127.0.0.1, access_log off, a fixed 12-byte
 * answer), else coloop's own server: httpbin's /hello on one loop thread of
 * its own in this program.  The client runs on the main thread: one loop, one client,
 * N tasks each sending GETs back to back on its own pooled connection.  A
 * peer that is not installed is skipped with a message.
 *
 * The server and the clients (coloop's and wrk) are pinned to different CPUs
 * (demos/cpupin.h).  Each figure is measured in rounds, coloop then wrk, and
 * the ratio printed is the median of the rounds' ratios: on a shared machine
 * the rate of either program drifts by tens of percent from one run to the
 * next, and a ratio of two measurements taken seconds apart cancels most of
 * that drift.  Beside each rate: the client's CPU time per request, which
 * does not depend on how fast the server answers.
 *
 *     build/demos/clientbench [seconds per figure, default 2] [rounds, default 3]
 *     CLIENTBENCH_SERVER=builtin build/demos/clientbench    (skip nginx)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coloop.h"
#include "http/client.h"
#include "http/httpbin.h"
#include "demos/cpupin.h"

#define BODY "hello world\n"

static int seconds = 2;
static int rounds = 3;
static struct cpupin_plan pin = { -1, -1, { { 0 } } };   /* where the server and the clients run */

/* ---- peers found on PATH ---- */

static char *find_program(const char *name)
{
    static const char *const dirs[] = { "/usr/sbin", "/usr/bin", "/usr/local/sbin",
                                        "/usr/local/bin", "/sbin", "/bin" };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char *path;
        if (asprintf(&path, "%s/%s", dirs[i], name) < 0)
            return NULL;
        if (access(path, X_OK) == 0)
            return path;
        free(path);
    }
    return NULL;
}

static int free_port(void)
{
    int fd, port;
    if (sock_listen("127.0.0.1", 0, NULL, &fd) < 0)
        return -1;
    port = sock_local_port(fd);
    close(fd);
    return port;
}

/* ---- nginx ---- */

struct nginx {
    char dir[64];       /* the temporary directory with the config */
    pid_t pid;
};

static int nginx_start(const char *bin, struct nginx *n, int port)
{
    strcpy(n->dir, "/tmp/coloop-clientbench-XXXXXX");
    if (!mkdtemp(n->dir))
        return -1;
    char conf[128];
    snprintf(conf, sizeof conf, "%s/nginx.conf", n->dir);
    FILE *f = fopen(conf, "w");
    if (!f)
        return -1;
    fprintf(f, "worker_processes 1;\ndaemon off;\npid %s/nginx.pid;\nerror_log %s/error.log;\n"
               "events { worker_connections 1024; }\n"
               "http {\n  access_log off;\n  keepalive_requests 100000000;\n"
               "  keepalive_timeout 60s;\n"
               "  client_body_temp_path %s;\n  proxy_temp_path %s;\n  fastcgi_temp_path %s;\n"
               "  uwsgi_temp_path %s;\n  scgi_temp_path %s;\n"
               "  server {\n    listen 127.0.0.1:%d;\n"
               "    location / { default_type text/plain; return 200 \"" BODY "\"; }\n  }\n}\n",
            n->dir, n->dir, n->dir, n->dir, n->dir, n->dir, n->dir, port);
    fclose(f);
    n->pid = fork();
    if (n->pid == 0) {
        cpupin_to(pin.server_cpu);
        freopen("/dev/null", "w", stdout);
        execl(bin, bin, "-c", conf, "-p", n->dir, (char *)NULL);
        _exit(127);
    }
    return n->pid > 0 ? 0 : -1;
}

static void nginx_stop(struct nginx *n)
{
    if (n->pid > 0) {
        kill(n->pid, SIGTERM);
        waitpid(n->pid, NULL, 0);
    }
    if (!n->dir[0])
        return;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", n->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "clientbench: could not remove %s\n", n->dir);
}

/* ---- the coloop client ---- */

struct bench {
    http_client *client;
    const char *url;
    int64_t until;          /* loop clock */
    uint64_t done;          /* responses */
    int errors;
    int first_error;
};

static int getter(void *arg)
{
    struct bench *b = arg;
    while (co_now_ns() < b->until) {
        struct http_response r;
        int rc = http_await_get(b->client, b->url, &r, co_deadline_in_ms(5000));
        if (rc == 0 && r.status == 200) {
            b->done++;
        } else if (b->errors++ == 0) {
            b->first_error = rc;
            fprintf(stderr, "clientbench: %s: %s\n", co_strerror(rc), r.detail.text);
        }
        http_response_fini(&r);
    }
    return 0;
}

/* What one client did in one measurement. */
struct figure {
    double rate;            /* requests per second, -1 on failure */
    double cpu_us;          /* CPU time (user + system) per request, microseconds */
};

static double cpu_seconds(const struct rusage *ru)
{
    return (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) +
           (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e6;
}

struct run {
    const char *url;
    int conns;
    struct figure fig;
};

static int run_main(void *arg)
{
    struct run *run = arg;
    struct http_client_opts o = { .max_conns_per_host = run->conns };
    struct bench b = { .url = run->url };
    if (http_client_new(&o, &b.client) < 0)
        return -1;
    co_task **t = calloc((size_t)run->conns, sizeof *t);
    b.until = co_now_ns() + 300 * 1000000ll;     /* warm up: open the connections */
    for (int i = 0; i < run->conns; i++)
        task_spawn(&t[i], getter, &b);
    await_all(t, (size_t)run->conns, NULL, CO_NO_DEADLINE);
    b.done = 0;
    struct rusage ru0, ru1;
    getrusage(RUSAGE_THREAD, &ru0);   /* the client's loop runs on this thread alone */
    int64_t t0 = co_now_ns();
    b.until = t0 + seconds * 1000000000ll;
    for (int i = 0; i < run->conns; i++)
        task_spawn(&t[i], getter, &b);
    await_all(t, (size_t)run->conns, NULL, CO_NO_DEADLINE);
    double secs = (double)(co_now_ns() - t0) / 1e9;
    getrusage(RUSAGE_THREAD, &ru1);
    run->fig.rate = b.errors ? -1 : (double)b.done / secs;
    run->fig.cpu_us = b.done ? (cpu_seconds(&ru1) - cpu_seconds(&ru0)) * 1e6 / (double)b.done : 0;
    struct http_client_stats st;
    http_client_get_stats(b.client, &st);
    if (st.conns_new != (uint64_t)run->conns)
        fprintf(stderr, "clientbench: %llu connections opened for %d (reconnects)\n",
                (unsigned long long)st.conns_new, run->conns);
    http_client_free(b.client);
    free(t);
    return 0;
}

static struct figure coloop_figure(const char *url, int conns)
{
    struct run r = { url, conns, { -1, 0 } };
    if (co_run(run_main, &r) != 0)
        r.fig.rate = -1;
    return r.fig;
}

/* ---- wrk ---- */

/* wrk's rate as it reports it; its CPU time from the children's rusage,
 * over the requests it made in its -d seconds (rate x seconds). */
static struct figure wrk_figure(const char *wrk, const char *url, int conns)
{
    struct figure fig = { -1, 0 };
    struct rusage ru0, ru1;
    getrusage(RUSAGE_CHILDREN, &ru0);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s -t1 -c%d -d%ds %s 2>&1", wrk, conns, seconds, url);
    FILE *p = popen(cmd, "r");
    if (!p)
        return fig;
    char line[256];
    while (fgets(line, sizeof line, p))
        if (sscanf(line, "Requests/sec: %lf", &fig.rate) == 1)
            break;
    while (fgets(line, sizeof line, p))
        ;
    pclose(p);
    getrusage(RUSAGE_CHILDREN, &ru1);
    if (fig.rate > 0)
        fig.cpu_us = (cpu_seconds(&ru1) - cpu_seconds(&ru0)) * 1e6 / (fig.rate * seconds);
    return fig;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof v[0], compare_doubles);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* `rounds` x (coloop, then wrk) on `conns` connections; one line per round
 * and one with the medians.  Returns -1 if the coloop client failed. */
static int measure_rounds(const char *url, const char *wrk, int conns)
{
    double ratios[16], cpu_ratios[16];
    int n = 0, failed = 0;
    for (int r = 1; r <= rounds; r++) {
        struct figure ours = coloop_figure(url, conns);
        struct figure theirs = wrk ? wrk_figure(wrk, url, conns) : (struct figure){ -1, 0 };
        failed |= ours.rate < 0;
        printf("  %-6d %-7d %12.0f %10.1f", conns, r, ours.rate, ours.cpu_us);
        if (theirs.rate > 0 && ours.rate > 0) {
            ratios[n] = ours.rate / theirs.rate;
            cpu_ratios[n] = ours.cpu_us / theirs.cpu_us;
            printf(" %12.0f %10.1f %8.2fx %8.2fx\n", theirs.rate, theirs.cpu_us, ratios[n],
                   cpu_ratios[n]);
            n++;
        } else {
            printf(" %12s %10s %9s %9s\n", "-", "-", "-", "-");
        }
        fflush(stdout);
    }
    if (n > 0) {
        double rate_median = median(ratios, n);   /* sorts them: the ends are min and max */
        printf("  %-6d %-7s %12s %10s %12s %10s %8.2fx %8.2fx   (req/s ratio %.2f-%.2f)\n", conns,
               "median", "", "", "", "", rate_median, median(cpu_ratios, n), ratios[0],
               ratios[n - 1]);
    }
    return failed ? -1 : 0;
}

/* Wait until something accepts connections on the port (nginx starting). */
static int wait_listening(int port)
{
    for (int i = 0; i < 200; i++) {
        struct sock_addr a;
        sock_addr_parse("127.0.0.1", port, &a);
        int fd = socket(a.ss.ss_family, SOCK_STREAM, 0);
        int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a.ss, a.len) == 0;
        if (fd >= 0)
            close(fd);
        if (ok)
            return 0;
        usleep(10 * 1000);
    }
    return -1;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        seconds = atoi(argv[1]) > 0 ? atoi(argv[1]) : 2;
    if (argc > 2) {
        rounds = atoi(argv[2]);
        rounds = rounds < 1 ? 1 : rounds > 16 ? 16 : rounds;
    }
    signal(SIGPIPE, SIG_IGN);
    pin = cpupin_plan_print("clientbench");
    const char *which = getenv("CLIENTBENCH_SERVER");
    char *nginx_bin = which && strcmp(which, "builtin") == 0 ? NULL : find_program("nginx");
    char *wrk = find_program("wrk");
    struct nginx ng = { .pid = -1 };
    httpbin_thread *builtin = NULL;
    int port;
    const char *server, *path = "/";
    if (nginx_bin && (port = free_port()) > 0 && nginx_start(nginx_bin, &ng, port) == 0 &&
        wait_listening(port) == 0) {
        server = "nginx, 1 worker";
    } else {
        if (nginx_bin)
            fprintf(stderr, "clientbench: nginx did not start; using the coloop server\n");
        else if (which)
            printf("clientbench: CLIENTBENCH_SERVER=%s: using the coloop server\n", which);
        else
            printf("clientbench: nginx not installed (apt-get install -y nginx): using the "
                   "coloop server\n");
        nginx_stop(&ng);
        ng.pid = -1;
        struct httpbin_opts ho = { .threads = 1 };
        cpupin_to(pin.server_cpu);     /* the server's thread inherits this */
        if (httpbin_start_thread(&ho, &builtin) < 0)
            return 1;
        port = httpbin_thread_port(builtin);
        server = "coloop httpbin, 1 loop thread";
        path = "/hello";
    }
    cpupin_to(pin.client_cpu);
    if (!wrk)
        printf("clientbench: wrk not installed (apt-get install -y wrk): no ratio\n");
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    printf("clientbench: keep-alive GET %s (%s), %d s per figure, client on one loop (one "
           "core), wrk -t1, %d round(s)\n", url, server, seconds, rounds);
    printf("  %-6s %-7s %12s %10s %12s %10s %9s %9s\n", "conns", "round", "coloop req/s",
           "CPU us/req", "wrk req/s", "CPU us/req", "req/s", "CPU/req");
    static const int conns[] = { 1, 50 };
    int status = 0;
    for (size_t i = 0; i < sizeof conns / sizeof conns[0]; i++)
        if (measure_rounds(url, wrk, conns[i]) < 0)
            status = 1;
    if (ng.pid > 0)
        nginx_stop(&ng);
    else
        httpbin_stop_thread(builtin, 1000, NULL);
    free(nginx_bin);
    free(wrk);
    return status;
}
