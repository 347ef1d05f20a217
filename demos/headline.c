/* headline.c - `make demo`: the essays' headline experiment (claims C1, C2,
 * C3, C10).  N GET requests to an endpoint that answers after one second,
 * fetched five ways:
 *
 *   1. one after another, each on a plain blocking socket (Python: requests.get in a loop)
 *   2. a pool of T threads with blocking sockets, T = 5  (ThreadPoolExecutor(5))
 *   3. the same with T = N threads                       (ThreadPoolExecutor(N))
 *   4. N coroutines on one loop, all in flight, then joined (asyncio.gather)
 *   5. coroutines awaited one at a time                  (for u in urls: await get(u))
 *
 * The point is in the table it prints: every request spends ~1 s waiting
 * and almost nothing computing, so what matters is whether the waits overlap.
 * One after another they add up (~N s); overlapped they take ~1 s, on N
 * threads or on one thread with N coroutines.  Async does not make a request
 * faster; it waits for all of them at once.
 *
 * The target is coloop's built-in httpbin, started by this program on
 * loopback (port 0) on a thread of its own; --url fetches any http/https URL
 * instead.  Each way runs in a child process (fork) so that its thread count
 * and memory can be read cleanly: the parent watches /proc/PID/status while
 * the child works, and the child's peak resident memory is its own.  The
 * blocking ways use nothing of coloop's runtime - only its HTTP parser, to
 * read the response - so they are exactly the code one would write without
 * it.
 *
 * Ways 1 and 5 take N x delay (100 s at the defaults).  To keep the default
 * run near half a minute they measure only --sample requests (10) and scale
 * up, and the table marks those figures as estimates; --full measures all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "coloop.h"

/* ---- options ---- */

#define MAX_THREAD_WAYS 4

struct options {
    int n;                      /* requests per way */
    int delay_ms;               /* the built-in target's /delay/MS */
    int sample;                 /* ways 1 and 5: requests measured (0: all) */
    int threads[MAX_THREAD_WAYS];   /* pool sizes; 0 stands for N */
    int thread_ways;
    const char *url;            /* --url, or NULL for the built-in target */
    bool insecure;              /* --insecure: https without verification */
    bool json;
};

static void usage(FILE *out)
{
    fprintf(out,
        "usage: headline [options]\n"
        "  N requests to an endpoint that answers after a delay, fetched five ways:\n"
        "  sequential blocking, thread pools, coroutines all at once, coroutines one by one.\n"
        "\n"
        "  -n N             requests per way (default 100)\n"
        "  --delay-ms MS    the built-in target's delay (default 1000)\n"
        "  --threads LIST   thread pool sizes, comma-separated; N means one per request\n"
        "                   (default 5,N)\n"
        "  --sample K       the two sequential ways measure K requests and scale up\n"
        "                   (default 10); --full measures all N\n"
        "  --full           measure every way on all N requests (takes N x delay twice)\n"
        "  --url URL        fetch URL instead of the built-in target (http or https; a\n"
        "                   real https://httpbin.org/delay/1, for instance)\n"
        "  --insecure       https without certificate checks (loudly; tests only)\n"
        "  --json           one JSON object on stdout instead of the table\n"
        "  --quick          a small run: -n 20 --delay-ms 100 --sample 5\n");
}

static bool parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

static bool parse_thread_list(const char *s, struct options *o)
{
    o->thread_ways = 0;
    char copy[128];
    snprintf(copy, sizeof copy, "%s", s);
    for (char *save, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (o->thread_ways == MAX_THREAD_WAYS)
            return false;
        int t = 0;
        if (strcmp(tok, "N") != 0 && !parse_int(tok, 1, 100000, &t))
            return false;
        o->threads[o->thread_ways++] = t;
    }
    return o->thread_ways > 0;
}

/* 0 to run, 1 when --help was asked, 2 on a usage error (said on stderr). */
static int parse_options(int argc, char **argv, struct options *o)
{
    *o = (struct options){ .n = 100, .delay_ms = 1000, .sample = 10,
                           .threads = { 5, 0 }, .thread_ways = 2 };
    enum { OPT_DELAY = 256, OPT_THREADS, OPT_SAMPLE, OPT_FULL, OPT_URL, OPT_INSECURE, OPT_JSON,
           OPT_QUICK, OPT_HELP };
    static const struct option longs[] = {
        { "delay-ms", required_argument, NULL, OPT_DELAY },
        { "threads", required_argument, NULL, OPT_THREADS },
        { "sample", required_argument, NULL, OPT_SAMPLE },
        { "full", no_argument, NULL, OPT_FULL },
        { "url", required_argument, NULL, OPT_URL },
        { "insecure", no_argument, NULL, OPT_INSECURE },
        { "json", no_argument, NULL, OPT_JSON },
        { "quick", no_argument, NULL, OPT_QUICK },
        { "help", no_argument, NULL, OPT_HELP },
        { 0 }
    };
    int c;
    bool ok = true;
    while (ok && (c = getopt_long(argc, argv, "n:h", longs, NULL)) != -1) {
        switch (c) {
        case 'n': ok = parse_int(optarg, 1, 100000, &o->n); break;
        case OPT_DELAY: ok = parse_int(optarg, 0, HTTPBIN_DELAY_MAX_MS, &o->delay_ms); break;
        case OPT_THREADS: ok = parse_thread_list(optarg, o); break;
        case OPT_SAMPLE: ok = parse_int(optarg, 1, 100000, &o->sample); break;
        case OPT_FULL: o->sample = 0; break;
        case OPT_URL: o->url = optarg; break;
        case OPT_INSECURE: o->insecure = true; break;
        case OPT_JSON: o->json = true; break;
        case OPT_QUICK: o->n = 20; o->delay_ms = 100; o->sample = 5; break;
        case 'h': case OPT_HELP: usage(stdout); return 1;
        default: ok = false;
        }
    }
    if (!ok || optind != argc) {
        if (!ok && c != '?')
            fprintf(stderr, "headline: bad value for an option\n");
        usage(stderr);
        return 2;
    }
    return 0;
}

/* ---- small helpers ---- */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A field of /proc/PID/status ("Threads", "VmRSS", "VmHWM", "VmPeak",
 * "VmSize"), as a number (kB for the Vm ones), or -1. */
static long proc_status_field(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long value = -1;
    size_t flen = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
            value = strtol(line + flen + 1, NULL, 10);
            break;
        }
    fclose(f);
    return value;
}

/* ---- what a way measured ---- */

#define ERR_LEN 400

/* Written by the child into a pipe, so plain data only. */
struct way_result {
    int requests;               /* requests made */
    int ok;                     /* of those, complete 200 responses */
    int64_t wall_ns;            /* first request start to last response end */
    int64_t lat_min_ns, lat_med_ns, lat_max_ns;     /* per-request times */
    long rss_start_kib, rss_peak_kib;   /* the child's VmRSS at the start, VmHWM at the end */
    long vm_start_kib, vm_peak_kib;     /* the same for address space (VmSize, VmPeak) */
    char first_error[ERR_LEN];  /* the first failure, in words ("" if none) */
};

/* Per-request bookkeeping shared by every way (in the child). */
struct fetch_log {
    int64_t *latency_ns;        /* one per request */
    atomic_int ok;
    atomic_int failed;
    pthread_mutex_t lock;       /* guards first_error */
    char first_error[ERR_LEN];
};

/* Count a failed request; keep the first one's words for the report. */
static void log_failure(struct fetch_log *log, const char *what)
{
    atomic_fetch_add(&log->failed, 1);
    pthread_mutex_lock(&log->lock);
    if (!log->first_error[0]) {
        size_t len = strnlen(what, ERR_LEN - 1);     /* truncated if longer */
        memcpy(log->first_error, what, len);
        log->first_error[len] = '\0';
    }
    pthread_mutex_unlock(&log->lock);
}

static void log_failure_code(struct fetch_log *log, const char *what, const char *detail, int rc)
{
    char text[ERR_LEN + 64];
    snprintf(text, sizeof text, "%s: %s (code %d)", what, detail && detail[0] ? detail : co_strerror(rc), -rc);
    log_failure(log, text);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void summarise_latencies(struct way_result *r, int64_t *lat, int count)
{
    qsort(lat, (size_t)count, sizeof *lat, cmp_i64);
    r->lat_min_ns = lat[0];
    r->lat_med_ns = lat[count / 2];
    r->lat_max_ns = lat[count - 1];
}

/* ---- ways 1-3: plain blocking sockets ---- */

/* What a blocking fetch needs, made once per way. */
struct blocking_target {
    struct http_url url;
    struct addrinfo *addrs;     /* getaddrinfo's answer (blocking: these ways may block) */
    SSL_CTX *tls;               /* https only */
    char request[1024];
    size_t request_len;
    int timeout_ms;             /* SO_RCVTIMEO / SO_SNDTIMEO: no fetch hangs forever */
};

static int blocking_connect(const struct blocking_target *t)
{
    struct timeval tv = { .tv_sec = t->timeout_ms / 1000, .tv_usec = t->timeout_ms % 1000 * 1000 };
    for (const struct addrinfo *a = t->addrs; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        /* On Linux SO_SNDTIMEO also bounds connect(). */
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            return fd;
        int err = errno;
        close(fd);
        errno = err;
    }
    return -1;
}

/* One transport: a socket, optionally wrapped in TLS (blocking both ways). */
struct blocking_conn {
    int fd;
    SSL *ssl;
};

static bool blocking_open(const struct blocking_target *t, struct blocking_conn *c, char *err)
{
    c->ssl = NULL;
    c->fd = blocking_connect(t);
    if (c->fd < 0) {
        snprintf(err, ERR_LEN, "connect to %s: %s", t->url.host_header, strerror(errno));
        return false;
    }
    if (!t->tls)
        return true;
    c->ssl = SSL_new(t->tls);
    if (c->ssl && SSL_set_tlsext_host_name(c->ssl, t->url.host) == 1 &&
        SSL_set1_host(c->ssl, t->url.host) == 1 && SSL_set_fd(c->ssl, c->fd) == 1 &&
        SSL_connect(c->ssl) == 1)
        return true;
    long verify = c->ssl ? SSL_get_verify_result(c->ssl) : X509_V_OK;
    unsigned long lib_err = ERR_get_error();
    snprintf(err, ERR_LEN, "TLS with %s: %s", t->url.host,
             verify != X509_V_OK ? X509_verify_cert_error_string(verify)
             : lib_err ? ERR_reason_error_string(lib_err) : "handshake failed");
    ERR_clear_error();
    return false;
}

static void blocking_close(struct blocking_conn *c)
{
    if (c->ssl)
        SSL_free(c->ssl);
    if (c->fd >= 0)
        close(c->fd);
}

static ssize_t blocking_send(struct blocking_conn *c, const char *buf, size_t len)
{
    if (c->ssl)
        return SSL_write(c->ssl, buf, (int)len) > 0 ? (ssize_t)len : -1;
    size_t done = 0;
    while (done < len) {
        ssize_t n = send(c->fd, buf + done, len - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

static ssize_t blocking_recv(struct blocking_conn *c, char *buf, size_t len)
{
    if (c->ssl) {
        int n = SSL_read(c->ssl, buf, (int)len);
        if (n > 0)
            return n;
        return SSL_get_error(c->ssl, n) == SSL_ERROR_ZERO_RETURN ? 0 : -1;
    }
    ssize_t n;
    do
        n = recv(c->fd, buf, len, 0);
    while (n < 0 && errno == EINTR);
    return n;
}

#define RESPONSE_MAX (256 * 1024)

/* Feed the bytes in buf[0..len) to the response parser: 1 once a whole
 * response was read (status in *status), 0 for more, or a negative code. */
static int parse_received(struct http_parser *p, const char *buf, size_t len, size_t *consumed,
                          int *status)
{
    if (p->state == HTTP_PS_HEAD) {
        int head = http_parse_head(p, buf, len);
        if (head <= 0)
            return head;
        *status = p->head.status;
        *consumed = (size_t)head;
    }
    while (!http_parser_done(p) && *consumed < len) {
        struct http_span body;
        int used = http_parse_body(p, buf + *consumed, len - *consumed, &body);
        if (used < 0)
            return used;
        if (used == 0)
            break;
        *consumed += (size_t)used;
    }
    return http_parser_done(p) ? 1 : 0;
}

/* Read one response to the end; its status, or a negative code.  The whole
 * response stays in buf (the parser's fields point into it). */
static int blocking_read_response(struct blocking_conn *c, char *buf, char *err)
{
    struct http_header fields[64];
    struct http_parser p;
    http_parser_init(&p, HTTP_ROLE_RESPONSE, NULL, fields, 64);
    size_t len = 0, consumed = 0;
    int status = 0;
    for (;;) {
        ssize_t n = blocking_recv(c, buf + len, RESPONSE_MAX - len);
        if (n < 0) {
            snprintf(err, ERR_LEN, "read: %s", errno == EAGAIN ? "timed out" : strerror(errno));
            return -EIO;
        }
        len += (size_t)n;
        int rc = n == 0 ? http_parse_eof(&p) : parse_received(&p, buf, len, &consumed, &status);
        if (n == 0 && rc == 0)
            rc = 1;
        if (rc < 0 || (n == 0 && rc != 1) || (rc == 0 && len == RESPONSE_MAX)) {
            snprintf(err, ERR_LEN, "response: %s", rc < 0 ? co_strerror(rc) : "too large");
            return rc < 0 ? rc : -EMSGSIZE;
        }
        if (rc == 1)
            return status;
    }
}

/* One GET on a fresh blocking connection, like requests.get(url).  Returns
 * true for a complete 200 response; else err says what went wrong. */
static bool blocking_fetch(const struct blocking_target *t, char *buf, char *err)
{
    struct blocking_conn c;
    bool ok = false;
    if (blocking_open(t, &c, err) && blocking_send(&c, t->request, t->request_len) > 0) {
        int status = blocking_read_response(&c, buf, err);
        ok = status == 200;
        if (status > 0 && !ok)
            snprintf(err, ERR_LEN, "HTTP status %d", status);
    } else if (!err[0]) {
        snprintf(err, ERR_LEN, "send: %s", strerror(errno));
    }
    blocking_close(&c);
    return ok;
}

static bool blocking_target_init(struct blocking_target *t, const char *url, bool insecure,
                                 int timeout_ms, char *err)
{
    memset(t, 0, sizeof *t);
    t->timeout_ms = timeout_ms;
    int rc = http_url_parse(&t->url, url, strlen(url));
    if (rc < 0) {
        snprintf(err, ERR_LEN, "URL: %s", co_strerror(rc));
        return false;
    }
    char port[8];
    snprintf(port, sizeof port, "%u", t->url.port);
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
    int gai = getaddrinfo(t->url.host, port, &hints, &t->addrs);
    if (gai != 0) {
        snprintf(err, ERR_LEN, "DNS %s: %s", t->url.host, gai_strerror(gai));
        return false;
    }
    if (t->url.scheme == HTTP_SCHEME_HTTPS) {
        t->tls = SSL_CTX_new(TLS_client_method());
        if (!t->tls || SSL_CTX_set_default_verify_paths(t->tls) != 1) {
            snprintf(err, ERR_LEN, "TLS: cannot load the system trust store");
            return false;
        }
        SSL_CTX_set_verify(t->tls, insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    }
    /* Connection: close - one connection per request, as requests.get does
     * without a Session. */
    int len = snprintf(t->request, sizeof t->request,
                       "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: coloop-headline\r\n"
                       "Connection: close\r\n\r\n", t->url.target, t->url.host_header);
    t->request_len = (size_t)len;
    return len > 0 && (size_t)len < sizeof t->request;
}

static void blocking_target_fini(struct blocking_target *t)
{
    if (t->addrs)
        freeaddrinfo(t->addrs);
    if (t->tls)
        SSL_CTX_free(t->tls);
    http_url_fini(&t->url);
}

/* Shared by the threads of ways 1-3: the next request to make. */
struct blocking_run {
    const struct blocking_target *target;
    struct fetch_log *log;
    atomic_int next;
    int count;
};

static void *blocking_worker(void *arg)
{
    struct blocking_run *run = arg;
    char *buf = malloc(RESPONSE_MAX);
    if (!buf) {
        log_failure(run->log, "out of memory");
        return NULL;
    }
    int i;
    while ((i = atomic_fetch_add(&run->next, 1)) < run->count) {
        char err[ERR_LEN] = "";
        int64_t start = now_ns();
        bool ok = blocking_fetch(run->target, buf, err);
        run->log->latency_ns[i] = now_ns() - start;
        if (ok)
            atomic_fetch_add(&run->log->ok, 1);
        else
            log_failure(run->log, err);
    }
    free(buf);
    return NULL;
}

/* threads == 0: on the calling thread (way 1); else on that many threads. */
static void run_blocking(const char *url, const struct options *o, int count, int threads,
                         struct fetch_log *log)
{
    struct blocking_target target;
    char err[ERR_LEN] = "";
    if (!blocking_target_init(&target, url, o->insecure, o->delay_ms + 30000, err)) {
        log_failure(log, err);
        blocking_target_fini(&target);
        return;
    }
    struct blocking_run run = { .target = &target, .log = log, .count = count };
    if (threads == 0) {
        blocking_worker(&run);
    } else {
        /* Default attributes: an 8 MiB stack reservation each, as Python's
         * threads get. */
        pthread_t *tids = calloc((size_t)threads, sizeof *tids);
        int started = 0;
        while (tids && started < threads && pthread_create(&tids[started], NULL, blocking_worker, &run) == 0)
            started++;
        if (started < threads)
        {
            char text[ERR_LEN];
            snprintf(text, sizeof text, "pthread_create failed after %d threads", started);
            log_failure(log, text);
        }
        for (int i = 0; i < started; i++)
            pthread_join(tids[i], NULL);
        free(tids);
    }
    blocking_target_fini(&target);
}

/* ---- ways 4 and 5: coroutines on one loop ---- */

struct coro_run {
    const char *url;
    const struct options *o;
    struct fetch_log *log;
    http_client *client;
    int count;
    bool all_at_once;
};

struct coro_fetch {
    struct coro_run *run;
    int index;
};

/* One GET through coloop's client; suspends this task while it waits. */
static int await_one_fetch(struct coro_run *run, int index)
{
    struct http_response resp = { 0 };
    int64_t start = now_ns();
    int rc = http_await_get(run->client, run->url, &resp, CO_NO_DEADLINE);
    run->log->latency_ns[index] = now_ns() - start;
    if (rc == 0 && resp.status == 200)
        atomic_fetch_add(&run->log->ok, 1);
    else if (rc == 0) {
        char text[ERR_LEN];
        snprintf(text, sizeof text, "HTTP status %d", resp.status);
        log_failure(run->log, text);
    }
    else
        log_failure_code(run->log, "GET", resp.detail.text, rc);
    http_response_fini(&resp);
    return rc;
}

static int fetch_task(void *arg)
{
    struct coro_fetch *f = arg;
    return await_one_fetch(f->run, f->index);
}

/* Way 4: start every request, then join them all (asyncio.gather). */
static int await_all_at_once(struct coro_run *run)
{
    struct coro_fetch *fetches = calloc((size_t)run->count, sizeof *fetches);
    co_task **tasks = calloc((size_t)run->count, sizeof *tasks);
    int spawned = 0;
    for (int i = 0; fetches && tasks && i < run->count; i++) {
        fetches[i] = (struct coro_fetch){ run, i };
        int rc = task_spawn(&tasks[i], fetch_task, &fetches[i]);
        if (rc < 0) {
            log_failure_code(run->log, "spawn", NULL, rc);
            break;
        }
        spawned++;
    }
    for (int i = 0; i < spawned; i++)
        await_task(tasks[i], NULL, CO_NO_DEADLINE);
    free(tasks);
    free(fetches);
    return 0;
}

/* Way 5: the mistake - each request awaited before the next one starts. */
static int await_one_by_one(struct coro_run *run)
{
    for (int i = 0; i < run->count; i++)
        await_one_fetch(run, i);
    return 0;
}

static int coro_main(void *arg)
{
    struct coro_run *run = arg;
    return run->all_at_once ? await_all_at_once(run) : await_one_by_one(run);
}

static void run_coroutines(const char *url, const struct options *o, int count, bool all_at_once,
                           struct fetch_log *log)
{
    struct tls_client_opts tls = { .insecure = o->insecure };
    struct http_client_opts copts = {
        /* without tls_opts an https URL gets the system trust store, loaded
         * at the first https request (an http URL never pays for it) */
        .tls_opts = o->insecure ? &tls : NULL,
        /* every request in flight needs its own connection */
        .max_conns_per_host = count, .max_conns_total = count,
        .read_timeout_ms = o->delay_ms + 30000,
    };
    struct coro_run run = { url, o, log, NULL, count, all_at_once };
    int rc = http_client_new(&copts, &run.client);
    if (rc < 0) {
        log_failure_code(log, "client", NULL, rc);
        return;
    }
    rc = co_run(coro_main, &run);
    if (rc < 0)
        log_failure_code(log, "co_run", NULL, rc);
    http_client_free(run.client);
}

/* ---- the five ways, each in a child process ---- */

enum way_kind { WAY_SEQUENTIAL, WAY_THREADS, WAY_COROUTINES, WAY_AWAIT_EACH };

struct way {
    enum way_kind kind;
    int threads;                /* WAY_THREADS: pool size */
    int requests;               /* requests measured (may be a sample) */
    char label[48];
    char key[32];               /* for --json */
    struct way_result r;
    long threads_peak;          /* /proc/PID/status Threads, watched by the parent */
    bool crashed;
};

/* In the child: make the requests, fill r. */
static void child_run_way(const struct way *w, const char *url, const struct options *o,
                          struct way_result *r)
{
    struct fetch_log log = { .latency_ns = calloc((size_t)w->requests, sizeof(int64_t)) };
    pthread_mutex_init(&log.lock, NULL);
    r->rss_start_kib = proc_status_field(getpid(), "VmRSS");
    r->vm_start_kib = proc_status_field(getpid(), "VmSize");
    int64_t start = now_ns();
    switch (w->kind) {
    case WAY_SEQUENTIAL: run_blocking(url, o, w->requests, 0, &log); break;
    case WAY_THREADS: run_blocking(url, o, w->requests, w->threads, &log); break;
    case WAY_COROUTINES: run_coroutines(url, o, w->requests, true, &log); break;
    case WAY_AWAIT_EACH: run_coroutines(url, o, w->requests, false, &log); break;
    }
    r->wall_ns = now_ns() - start;
    r->rss_peak_kib = proc_status_field(getpid(), "VmHWM");
    r->vm_peak_kib = proc_status_field(getpid(), "VmPeak");
    r->requests = w->requests;
    r->ok = atomic_load(&log.ok);
    summarise_latencies(r, log.latency_ns, w->requests);
    snprintf(r->first_error, ERR_LEN, "%s", log.first_error);
    free(log.latency_ns);
}

/* Fork a child for the way; watch its thread count until it reports. */
static void run_way(struct way *w, const char *url, const struct options *o)
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        w->crashed = true;
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(pipefd[0]);
        struct way_result r = { 0 };
        child_run_way(w, url, o, &r);
        ssize_t n = write(pipefd[1], &r, sizeof r);
        _exit(n == (ssize_t)sizeof r ? 0 : 1);
    }
    close(pipefd[1]);
    w->threads_peak = 0;
    struct pollfd pfd = { .fd = pipefd[0], .events = POLLIN };
    while (pid > 0 && poll(&pfd, 1, 2) == 0) {
        long t = proc_status_field(pid, "Threads");
        if (t > w->threads_peak)
            w->threads_peak = t;
    }
    ssize_t n = pid > 0 ? read(pipefd[0], &w->r, sizeof w->r) : -1;
    close(pipefd[0]);
    int status = 0;
    if (pid > 0)
        waitpid(pid, &status, 0);
    w->crashed = n != (ssize_t)sizeof w->r || !WIFEXITED(status) || WEXITSTATUS(status) != 0;
}

/* ---- the report ---- */

static double way_seconds(const struct way *w) { return (double)w->r.wall_ns / 1e9; }

/* The wall time for all N requests: measured, or scaled up from a sample. */
static double way_estimate(const struct way *w, int n)
{
    return way_seconds(w) * n / (w->requests > 0 ? w->requests : 1);
}

static bool way_sampled(const struct way *w, int n) { return w->requests < n; }

static const char *mib(long kib, char *buf, size_t len)
{
    snprintf(buf, len, "%+.1f MiB", kib / 1024.0);
    return buf;
}

static void print_table(const struct way *ways, int count, const struct options *o, const char *url)
{
    double base = way_estimate(&ways[0], o->n);
    printf("\n  %-34s %10s %11s %9s %8s %10s %13s\n", "way", "requests", "wall time", "speed-up",
           "threads", "peak RSS", "address space");
    for (int i = 0; i < count; i++) {
        const struct way *w = &ways[i];
        char reqs[32], wall[32], rss[32], vm[32];
        if (way_sampled(w, o->n))
            snprintf(reqs, sizeof reqs, "%d of %d", w->requests, o->n);
        else
            snprintf(reqs, sizeof reqs, "%d", w->requests);
        snprintf(wall, sizeof wall, "%s%.2f s%s", way_sampled(w, o->n) ? "~" : "",
                 way_estimate(w, o->n), way_sampled(w, o->n) ? "*" : " ");
        printf("  %d %-32s %10s %11s %8.1fx %8ld %10s %13s\n", i + 1, w->label, reqs, wall,
               base / way_estimate(w, o->n), w->threads_peak,
               mib(w->r.rss_peak_kib - w->r.rss_start_kib, rss, sizeof rss),
               mib(w->r.vm_peak_kib - w->r.vm_start_kib, vm, sizeof vm));
    }
    for (int i = 0; i < count; i++)
        if (way_sampled(&ways[i], o->n)) {
            printf("  * measured on %d requests (%.2f s) and scaled to %d; --full measures all of them\n",
                   ways[i].requests, way_seconds(&ways[i]), o->n);
            break;
        }
    printf("  threads: the most the process had at once while the way ran, its main thread\n"
           "  included (the parent watches /proc/PID/status); peak RSS and address space:\n"
           "  growth over the way's start.\n");
    for (int i = 0; i < count; i++) {
        const struct way *w = &ways[i];
        if (w->crashed)
            printf("  ! way %d did not report (the child process failed)\n", i + 1);
        else if (w->r.ok < w->r.requests)
            printf("  ! way %d: %d of %d requests failed; the first: %s\n", i + 1,
                   w->r.requests - w->r.ok, w->r.requests, w->r.first_error);
    }
    (void)url;
}

static const struct way *find_way(const struct way *ways, int count, enum way_kind kind, int threads)
{
    for (int i = 0; i < count; i++)
        if (ways[i].kind == kind && (kind != WAY_THREADS || ways[i].threads == threads))
            return &ways[i];
    return NULL;
}

static const struct way *largest_pool(const struct way *ways, int count)
{
    const struct way *best = NULL;
    for (int i = 0; i < count; i++)
        if (ways[i].kind == WAY_THREADS && (!best || ways[i].threads > best->threads))
            best = &ways[i];
    return best;
}

static const struct way *smallest_pool(const struct way *ways, int count)
{
    const struct way *best = NULL;
    for (int i = 0; i < count; i++)
        if (ways[i].kind == WAY_THREADS && (!best || ways[i].threads < best->threads))
            best = &ways[i];
    return best;
}

/* The explanation, from the numbers just measured. */
static void print_explanation(const struct way *ways, int count, const struct options *o)
{
    const struct way *seq = &ways[0];
    const struct way *coro = find_way(ways, count, WAY_COROUTINES, 0);
    const struct way *each = find_way(ways, count, WAY_AWAIT_EACH, 0);
    const struct way *small = smallest_pool(ways, count), *big = largest_pool(ways, count);
    double one = (double)seq->r.lat_med_ns / 1e9;
    printf("\nWhat the numbers show\n");
    printf("- Each request takes about %.2f s (median, one after another), and nearly all of it is\n"
           "  waiting for the server. One after another the waits add up: %d x %.2f s = ~%.0f s.\n",
           one, o->n, one, way_estimate(seq, o->n));
    if (coro)
        printf("- %d coroutines on ONE thread finished in %.2f s (%.0fx faster). No request got\n"
               "  faster - each still took %.2f..%.2f s - but all %d waits happened at the same time.\n"
               "  Async is about waiting efficiently, not about speed (C1, C2).\n",
               o->n, way_seconds(coro), way_estimate(seq, o->n) / way_seconds(coro),
               (double)coro->r.lat_min_ns / 1e9, (double)coro->r.lat_max_ns / 1e9, o->n);
    /* A pool smaller than N overlaps only as many waits as it has threads
     * (it may be the only pool: --threads 5). */
    if (small && (small != big || small->threads < o->n))
        printf("- %d threads overlap %d waits at a time: ~%d rounds of %.2f s = %.2f s.\n",
               small->threads, small->threads, (o->n + small->threads - 1) / small->threads, one,
               way_seconds(small));
    if (big && coro && big->threads >= o->n)
        printf("- %d threads overlap them all too (%.2f s), which is why a thread pool is a fine\n"
               "  answer at this size (C3). The price is in the other columns: %ld threads and\n"
               "  %.0f MiB of address space (each thread reserves an 8 MiB stack, and glibc gives\n"
               "  busy threads malloc arenas of their own, 64 MiB each) against the coroutines'\n"
               "  %ld thread and %.1f MiB. Address space is not memory in use (see peak RSS), but\n"
               "  it is what runs out first at 10,000 waiters: see build/demos/threads_vs_tasks (C6).\n",
               big->threads, way_seconds(big), big->threads_peak,
               (big->r.vm_peak_kib - big->r.vm_start_kib) / 1024.0, coro->threads_peak,
               (coro->r.vm_peak_kib - coro->r.vm_start_kib) / 1024.0);
    if (each)
        printf("- Coroutines awaited one at a time are as slow as the blocking loop (~%.0f s): the\n"
               "  loop had only one request to wait for at any moment, so there was nothing to\n"
               "  overlap. Start them all, then join (C10; see also `pitfalls sequential`).\n",
               way_estimate(each, o->n));
    printf("- The essays measured 100 short requests to httpbin.org (sync 8.5 s, aiohttp 2.1 s,\n"
           "  threads 2.3 s: about 4x, C3). ");
    if (o->url)         /* --delay-ms is the built-in target's: not this URL's */
        printf("Here every request waited about %.2f s (the median) for\n"
               "  %s;\n"
               "  overlapping the waits approaches a %dx speed-up as far as that server answers\n"
               "  them all at once.\n", one, o->url, o->n);
    else
        printf("Here every request waits a full %d ms on a local\n"
               "  server that never rate-limits, so overlapping the waits approaches a %dx speed-up.\n",
               o->delay_ms, o->n);
}

static void json_way(const struct way *w, int n, bool last)
{
    printf("    {\"way\": \"%s\", \"threads_configured\": %d, \"requests\": %d, \"ok\": %d, "
           "\"measured_s\": %.4f, \"wall_s\": %.4f, \"extrapolated\": %s, "
           "\"latency_ms\": {\"min\": %.1f, \"median\": %.1f, \"max\": %.1f}, "
           "\"threads_peak\": %ld, \"rss_growth_kib\": %ld, \"vm_growth_kib\": %ld, "
           "\"crashed\": %s, \"first_error\": \"",
           w->key, w->threads, w->requests, w->r.ok, way_seconds(w), way_estimate(w, n),
           way_sampled(w, n) ? "true" : "false", w->r.lat_min_ns / 1e6, w->r.lat_med_ns / 1e6,
           w->r.lat_max_ns / 1e6, w->threads_peak, w->r.rss_peak_kib - w->r.rss_start_kib,
           w->r.vm_peak_kib - w->r.vm_start_kib, w->crashed ? "true" : "false");
    for (const char *p = w->r.first_error; *p; p++)
        printf((*p == '"' || *p == '\\') ? "\\%c" : ((unsigned char)*p < 0x20 ? "?" : "%c"), *p);
    printf("\"}%s\n", last ? "" : ",");
}

static void print_json(const struct way *ways, int count, const struct options *o, const char *url)
{
    printf("{\n  \"url\": \"");
    for (const char *p = url; *p; p++)
        printf((*p == '"' || *p == '\\') ? "\\%c" : "%c", *p);
    printf("\",\n  \"n\": %d,\n  \"delay_ms\": ", o->n);
    if (o->url)                 /* the URL's own delay, whatever it is, is not known here */
        printf("null");
    else
        printf("%d", o->delay_ms);
    printf(",\n  \"ways\": [\n");
    for (int i = 0; i < count; i++)
        json_way(&ways[i], o->n, i == count - 1);
    printf("  ]\n}\n");
}

/* ---- main ---- */

static int build_ways(struct way *ways, const struct options *o)
{
    int sample = o->sample > 0 && o->sample < o->n ? o->sample : o->n;
    int count = 0;
    ways[count++] = (struct way){ WAY_SEQUENTIAL, 0, sample, "sequential, blocking sockets",
                                  "sequential-blocking" };
    for (int i = 0; i < o->thread_ways; i++) {
        struct way *w = &ways[count++];
        *w = (struct way){ WAY_THREADS, o->threads[i] ? o->threads[i] : o->n, o->n };
        snprintf(w->label, sizeof w->label, "thread pool, %d threads", w->threads);
        snprintf(w->key, sizeof w->key, "threads-%d", w->threads);
    }
    ways[count++] = (struct way){ WAY_COROUTINES, 0, o->n, "coroutines, all in flight",
                                  "coroutines-all" };
    ways[count++] = (struct way){ WAY_AWAIT_EACH, 0, sample, "coroutines, awaited one by one",
                                  "coroutines-one-by-one" };
    return count;
}

/* Enough descriptors for N connections (and the built-in server's N). */
static void raise_fd_limit(int n)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)(2 * n + 64)) {
        rl.rlim_cur = rl.rlim_max < (rlim_t)(2 * n + 64) ? rl.rlim_max : (rlim_t)(2 * n + 64);
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    struct options o;
    int rc = parse_options(argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : 2;
    raise_fd_limit(o.n);

    httpbin_thread *target = NULL;
    char url[512];
    if (o.url) {
        snprintf(url, sizeof url, "%s", o.url);
    } else {
        struct httpbin_opts hopts = { .server.host = "127.0.0.1" };
        rc = httpbin_start_thread(&hopts, &target);
        if (rc < 0) {
            fprintf(stderr, "headline: cannot start the built-in target: %s\n", co_strerror(rc));
            return 1;
        }
        snprintf(url, sizeof url, "http://127.0.0.1:%d/delay/%d", httpbin_thread_port(target),
                 o.delay_ms);
    }

    struct way ways[3 + MAX_THREAD_WAYS];
    int count = build_ways(ways, &o);
    if (!o.json)
        printf("coloop's headline experiment (claims C1, C2, C3, C10)\n"
               "%d GET requests to %s%s, fetched %d ways.\n", o.n, url,
               target ? " (the built-in target, on a thread of this process)" : "", count);
    for (int i = 0; i < count; i++) {
        if (!o.json) {
            printf("  running %d/%d: %-32s (%d requests) ...", i + 1, count, ways[i].label,
                   ways[i].requests);
            fflush(stdout);
        }
        run_way(&ways[i], url, &o);
        if (!o.json)
            printf(" %.2f s\n", way_seconds(&ways[i]));
    }

    if (o.json) {
        print_json(ways, count, &o, url);
    } else {
        print_table(ways, count, &o, url);
        print_explanation(ways, count, &o);
    }
    if (target)
        httpbin_stop_thread(target, 1000, NULL);

    int failed = 0;
    for (int i = 0; i < count; i++)
        failed += ways[i].crashed || ways[i].r.ok < ways[i].r.requests;
    return failed ? 1 : 0;
}
