/* sweep.c - the essay's concurrency sweep (claim C4): N URLs fetched with at
 * most C requests in flight, wall time per cell, as a table, a few sentences
 * computed from it, and an SVG chart.
 *
 *   sweep [-n LIST] [-c LIST] [--delay-ms MS] [--server-limit K] [--url BASE]
 *         [--svg FILE] [--json] [--quick] [--help]
 *
 * Every request is GET BASE/delay/MS: the server answers after MS ms, so a
 * request is almost nothing but waiting.  With C requests in flight, N of
 * them need ceil(N / C) waves of one delay each: the "ideal" time printed
 * beside each measured one.  The essay's table (CLAIMS.md C4) used a 1 s
 * delay and saw "diminishing returns past ~50" concurrent requests, which it
 * blamed on the server's rate limiting.  --server-limit K builds that cause
 * in: the target serves at most K requests at once and queues the rest, so
 * past C = K more concurrency only moves the queue from the client to the
 * server.
 *
 * How it runs: the target is coloop's httpbin on 127.0.0.1 (port 0) on a
 * thread of its own, or BASE given --url.  The client is one http_client on
 * the main thread's loop, allowed as many connections as the widest cell.  A
 * cell spawns N tasks, one per URL, and each takes a permit from a semaphore
 * of C before its request and gives it back after - asyncio.Semaphore(C)
 * around session.get().  C = 0 means unlimited: no semaphore.  Every cell
 * starts with no open connection, like a fresh run of a script.  A failed
 * request is counted and shown, never dropped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "coloop.h"

#define MAX_LEVELS 8            /* entries in -n and -c */
#define DEFAULT_DELAY_MS 50     /* keeps the default grid to ~1.5 minutes on 2 cores */
#define QUICK_DELAY_MS 20
#define FD_RESERVE 64           /* descriptors for everything but connections */

/* --- options ----------------------------------------------------------------- */

struct options {
    int ns[MAX_LEVELS], n_count;        /* URLs per cell */
    int cs[MAX_LEVELS], c_count;        /* requests in flight; 0 = unlimited */
    int delay_ms;
    int server_limit;                   /* the built-in target's max_concurrent; 0 = none */
    const char *base_url;               /* --url, or NULL for the built-in target */
    const char *svg_path;
    bool json;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sweep [-n LIST] [-c LIST] [--delay-ms MS] [--server-limit K] [--url BASE]\n"
            "             [--svg FILE] [--json] [--quick] [--help]\n"
            "\n"
            "  -n LIST           URLs per cell, comma-separated (default 100,1000,10000)\n"
            "  -c LIST           requests in flight, 0 = unlimited (default 10,50,100,0)\n"
            "  --delay-ms MS     each request is GET /delay/MS (default %d; the essay used 1000)\n"
            "  --server-limit K  the built-in target serves at most K requests at once and\n"
            "                    queues the rest, as a rate-limited server does\n"
            "  --url BASE        fetch BASE/delay/MS from another target (http:// or https://)\n"
            "  --svg FILE        where to write the chart (default sweep.svg)\n"
            "  --json            print the cells as JSON instead of the table\n"
            "  --quick           a tiny grid for the tests: -n 20,100 -c 5,20,0 --delay-ms %d\n",
            DEFAULT_DELAY_MS, QUICK_DELAY_MS);
}

static void die_usage(const char *fmt, const char *what)
{
    fprintf(stderr, "sweep: ");
    fprintf(stderr, fmt, what);
    fprintf(stderr, "\n");
    usage(stderr);
    exit(2);
}

/* "100,1000,10000" into out[]; every entry in [min, max]. */
static int parse_list(const char *text, int *out, int min, int max)
{
    int count = 0;
    const char *p = text;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < min || v > max || count == MAX_LEVELS || (*end && *end != ','))
            die_usage("bad list '%s'", text);
        out[count++] = (int)v;
        p = *end ? end + 1 : end;
    }
    if (count == 0)
        die_usage("empty list '%s'", text);
    return count;
}

static int parse_int(const char *text, int min, int max)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (end == text || *end || v < min || v > max)
        die_usage("bad number '%s'", text);
    return (int)v;
}

static const char *next_arg(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc)
        die_usage("%s needs a value", argv[*i]);
    return argv[++*i];
}

static void parse_options(int argc, char **argv, struct options *o)
{
    static const int default_ns[] = { 100, 1000, 10000 }, default_cs[] = { 10, 50, 100, 0 };
    static const int quick_ns[] = { 20, 100 }, quick_cs[] = { 5, 20, 0 };
    const char *n_list = NULL, *c_list = NULL, *delay = NULL;
    bool quick = false;
    *o = (struct options){ .svg_path = "sweep.svg" };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "-n") == 0) {
            n_list = next_arg(argc, argv, &i);
        } else if (strcmp(a, "-c") == 0) {
            c_list = next_arg(argc, argv, &i);
        } else if (strcmp(a, "--delay-ms") == 0) {
            delay = next_arg(argc, argv, &i);
        } else if (strcmp(a, "--server-limit") == 0) {
            o->server_limit = parse_int(next_arg(argc, argv, &i), 1, 1000000);
        } else if (strcmp(a, "--url") == 0) {
            o->base_url = next_arg(argc, argv, &i);
        } else if (strcmp(a, "--svg") == 0) {
            o->svg_path = next_arg(argc, argv, &i);
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "--quick") == 0) {
            quick = true;
        } else {
            die_usage("unknown option '%s'", a);
        }
    }
    /* --quick sets the grid; an explicit -n, -c or --delay-ms still wins */
    o->n_count = n_list ? parse_list(n_list, o->ns, 1, 1000000) : quick ? 2 : 3;
    if (!n_list)
        memcpy(o->ns, quick ? quick_ns : default_ns, sizeof(int) * (size_t)o->n_count);
    o->c_count = c_list ? parse_list(c_list, o->cs, 0, 1000000) : quick ? 3 : 4;
    if (!c_list)
        memcpy(o->cs, quick ? quick_cs : default_cs, sizeof(int) * (size_t)o->c_count);
    o->delay_ms = delay ? parse_int(delay, 0, HTTPBIN_DELAY_MAX_MS)
                        : quick ? QUICK_DELAY_MS : DEFAULT_DELAY_MS;
    if (o->base_url && strncmp(o->base_url, "http://", 7) != 0 &&
        strncmp(o->base_url, "https://", 8) != 0)
        die_usage("--url wants http://HOST[:PORT] or https://..., not '%s'", o->base_url);
    if (o->base_url && o->server_limit)
        die_usage("%s", "--server-limit configures the built-in target; it cannot limit --url");
}

/* --- descriptors --------------------------------------------------------------- */

/* Raise the soft RLIMIT_NOFILE to `want`: up to the hard limit, and past it
 * when the process may (root).  Returns the soft limit in force. */
static long raise_fd_limit(long want)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= (rlim_t)want)
        return rl.rlim_cur == RLIM_INFINITY ? LONG_MAX : (long)rl.rlim_cur;
    struct rlimit up = { (rlim_t)want, rl.rlim_max > (rlim_t)want ? rl.rlim_max : (rlim_t)want };
    if (setrlimit(RLIMIT_NOFILE, &up) != 0) {     /* above the hard limit needs CAP_SYS_RESOURCE */
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    return rl.rlim_cur == RLIM_INFINITY ? LONG_MAX : (long)rl.rlim_cur;
}

static const char *level_name(int c, char *buf, size_t len);

/* --- a cell: N GETs, at most C in flight ------------------------------------------ */

struct cell {
    int n, c;                   /* URLs; concurrency asked for (0 = unlimited) */
    int in_flight;              /* the cap used: C (N if unlimited), lowered by descriptors */
    bool capped;                /* the descriptor limit lowered it */
    double wall_s;              /* measured */
    double ideal_s;             /* ceil(N / in_flight) waves of one delay */
    int ok, failed;
    int first_error;            /* the first failure: a negative code, or an HTTP status */
    char first_detail[NET_DETAIL_MAX + 80];
    uint64_t conns;             /* connections the cell opened */
    uint64_t stacks_mapped;     /* task stacks the loop had to map (not from its cache) */
    double slowest_connect_s;   /* the longest TCP connect of the cell */
};

struct cell_run {
    http_client *client;
    const char *url;
    bool gated;                 /* false: every task may send at once */
    struct co_sem permits;      /* the semaphore of C */
    struct cell *cell;
};

static void note_failure(struct cell *c, int code, const char *detail)
{
    if (c->failed++ == 0) {
        c->first_error = code;
        snprintf(c->first_detail, sizeof c->first_detail, "%s", detail);
    }
}

/* One URL: the task body of `async with sem: await session.get(url)`.  It
 * suspends (waiting for a permit, then for the response), so the other N-1
 * tasks run meanwhile. */
static int fetch_task(void *arg)
{
    struct cell_run *run = arg;
    int rc = run->gated ? sema_await_acquire(&run->permits, CO_NO_DEADLINE) : 0;
    if (rc < 0) {
        note_failure(run->cell, rc, co_strerror(rc));
        return 0;
    }
    struct http_response resp;
    rc = http_await_get(run->client, run->url, &resp, CO_NO_DEADLINE);
    if (run->gated)
        sema_release(&run->permits);   /* before the bookkeeping: the next request goes now */
    if (rc < 0) {
        char msg[sizeof run->cell->first_detail];
        snprintf(msg, sizeof msg, "%.70s%s%s", co_strerror(rc), resp.detail.text[0] ? ": " : "",
                 resp.detail.text);
        note_failure(run->cell, rc, msg);
    } else if (resp.status != 200) {
        char msg[64];
        snprintf(msg, sizeof msg, "HTTP status %d instead of 200", resp.status);
        note_failure(run->cell, resp.status, msg);
    } else {
        run->cell->ok++;
    }
    double connect_s = resp.timings.connect_ns / 1e9;
    if (connect_s > run->cell->slowest_connect_s)
        run->cell->slowest_connect_s = connect_s;
    http_response_fini(&resp);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Spawn the N tasks, join them all, time it.  Suspends. */
static void await_cell(http_client *client, const char *url, struct cell *cell)
{
    struct cell_run run = { client, url, cell->in_flight < cell->n, { 0 }, cell };
    sema_init(&run.permits, cell->in_flight);
    co_task **tasks = calloc((size_t)cell->n, sizeof *tasks);
    struct http_client_stats before, after;
    struct loop_stats loop_before, loop_after;
    http_client_get_stats(client, &before);
    loop_get_stats(loop_current(), &loop_before);
    double start = now_s();
    size_t spawned = 0;
    for (int i = 0; tasks && i < cell->n; i++) {
        int rc = task_spawn(&tasks[spawned], fetch_task, &run);
        if (rc == 0)
            spawned++;
        else   /* e.g. out of stacks: a failure like any other, with the reason */
            note_failure(cell, rc, rc == -CO_ENOSTACK ? stack_error_detail() : co_strerror(rc));
    }
    if (!tasks)
        note_failure(cell, -ENOMEM, "no memory for the task handles");
    await_all(tasks, spawned, NULL, CO_NO_DEADLINE);
    cell->wall_s = now_s() - start;
    http_client_get_stats(client, &after);
    cell->conns = after.conns_new - before.conns_new;
    loop_get_stats(loop_current(), &loop_after);
    cell->stacks_mapped = loop_after.stack_cache_misses - loop_before.stack_cache_misses;
    cell->failed += cell->n - cell->ok - cell->failed;   /* none expected: keeps the sum honest */
    sema_fini(&run.permits);
    free(tasks);
}

/* --- the whole sweep ---------------------------------------------------------------- */

struct sweep {
    struct options opt;
    char url[512];              /* BASE/delay/MS */
    char target[160];           /* how the target is described */
    httpbin_thread *httpbin;    /* the built-in target, or NULL */
    long fd_limit;              /* RLIMIT_NOFILE in force */
    int fds_per_request;        /* 2 with the target in this process, else 1 */
    int max_in_flight;          /* what the descriptors allow */
    struct cell cells[MAX_LEVELS * MAX_LEVELS];
    int cell_count;
};

static struct cell *cell_at(struct sweep *sw, int row, int col)
{
    return &sw->cells[row * sw->opt.c_count + col];
}

/* Close the client's idle connections and, with the built-in target, wait
 * until the server has closed its ends too: the next cell starts from
 * nothing and has every descriptor.  Suspends. */
static void await_quiet(struct sweep *sw, http_client *client)
{
    http_client_close_idle(client);
    for (int waited = 0; sw->httpbin && waited < 5000; waited += 5) {
        struct server_stats st;
        httpbin_thread_stats(sw->httpbin, &st);
        if (st.open == 0)
            break;
        await_sleep_ms(5);
    }
}

static double worst_ideal_s(const struct sweep *sw)
{
    double worst = 0;
    for (int i = 0; i < sw->cell_count; i++) {
        double t = sw->cells[i].ideal_s;
        int k = sw->opt.server_limit;
        if (k && k < sw->cells[i].in_flight)   /* the server's queue sets the pace */
            t = ceil((double)sw->cells[i].n / k) * sw->opt.delay_ms / 1000.0;
        worst = t > worst ? t : worst;
    }
    return worst;
}

/* The client: pool caps wide enough for the widest cell, so the only limit on
 * concurrency is the semaphore; a read timeout generous enough for a request
 * that waits its turn in a rate-limited server's queue. */
static int make_client(const struct sweep *sw, http_client **out)
{
    int widest = 1;
    for (int i = 0; i < sw->cell_count; i++)
        widest = sw->cells[i].in_flight > widest ? sw->cells[i].in_flight : widest;
    int64_t patience_ms = 30000 + (int64_t)(2000 * worst_ideal_s(sw));
    struct http_client_opts o = {
        .max_conns_per_host = widest,
        .max_conns_total = widest,
        .read_timeout_ms = patience_ms,
        .pool_timeout_ms = patience_ms,
    };
    return http_client_new(&o, out);
}

static int sweep_task(void *arg)
{
    struct sweep *sw = arg;
    http_client *client;
    int rc = make_client(sw, &client);
    if (rc < 0) {
        fprintf(stderr, "sweep: http_client_new: %s\n", co_strerror(rc));
        return rc;
    }
    for (int i = 0; i < sw->cell_count; i++) {
        struct cell *c = &sw->cells[i];
        await_quiet(sw, client);
        char name[32];
        fprintf(stderr, "sweep: N=%-6d %-10s ", c->n, level_name(c->c, name, sizeof name));
        await_cell(client, sw->url, c);
        fprintf(stderr, "%8.3f s  (ideal %.3f s)%s\n", c->wall_s, c->ideal_s,
                c->failed ? "  FAILURES" : "");
    }
    http_client_free(client);
    return 0;
}

/* Fill in each cell's in-flight cap (C, N when unlimited, never more than N,
 * lowered to what the descriptors allow) and its ideal time. */
static void plan_cells(struct sweep *sw)
{
    const struct options *o = &sw->opt;
    sw->cell_count = o->n_count * o->c_count;
    for (int r = 0; r < o->n_count; r++) {
        for (int k = 0; k < o->c_count; k++) {
            struct cell *c = cell_at(sw, r, k);
            *c = (struct cell){ .n = o->ns[r], .c = o->cs[k] };
            c->in_flight = c->c == 0 || c->c > c->n ? c->n : c->c;
            if (c->in_flight > sw->max_in_flight) {
                c->in_flight = sw->max_in_flight;
                c->capped = true;
            }
            c->ideal_s = ceil((double)c->n / c->in_flight) * o->delay_ms / 1000.0;
        }
    }
}

/* Descriptors: every request in flight holds a connection, i.e. one
 * descriptor in the client and, with the built-in target in this process,
 * one in the server: 10,000 at once need ~20,000. */
static void plan_descriptors(struct sweep *sw)
{
    int widest = 1;
    for (int r = 0; r < sw->opt.n_count; r++)
        for (int k = 0; k < sw->opt.c_count; k++) {
            int n = sw->opt.ns[r], c = sw->opt.cs[k];
            int w = c == 0 || c > n ? n : c;
            widest = w > widest ? w : widest;
        }
    sw->fds_per_request = sw->opt.base_url ? 1 : 2;
    long want = (long)widest * sw->fds_per_request + FD_RESERVE;
    sw->fd_limit = raise_fd_limit(want);
    long room = (sw->fd_limit - FD_RESERVE) / sw->fds_per_request;
    sw->max_in_flight = room > INT_MAX ? INT_MAX : room < 1 ? 1 : (int)room;
}

/* --- the target ------------------------------------------------------------------------ */

static int start_target(struct sweep *sw)
{
    const struct options *o = &sw->opt;
    if (o->base_url) {
        size_t len = strlen(o->base_url);
        while (len > 0 && o->base_url[len - 1] == '/')
            len--;
        snprintf(sw->url, sizeof sw->url, "%.*s/delay/%d", (int)len, o->base_url, o->delay_ms);
        snprintf(sw->target, sizeof sw->target, "%.*s", (int)len, o->base_url);
        return 0;
    }
    /* One server loop: max_concurrent is per loop, so one thread makes the
     * limit exact.  Over the limit, requests wait their turn (no 429). */
    struct httpbin_opts ho = { .threads = 1 };
    ho.server.max_concurrent = (unsigned)o->server_limit;
    int rc = httpbin_start_thread(&ho, &sw->httpbin);
    if (rc < 0) {
        fprintf(stderr, "sweep: could not start the built-in target: %s\n", co_strerror(rc));
        return rc;
    }
    int port = httpbin_thread_port(sw->httpbin);
    snprintf(sw->url, sizeof sw->url, "http://127.0.0.1:%d/delay/%d", port, o->delay_ms);
    snprintf(sw->target, sizeof sw->target, "the built-in httpbin on 127.0.0.1:%d (its own thread)",
             port);
    return 0;
}

/* --- the table -------------------------------------------------------------------------- */

static const char *level_name(int c, char *buf, size_t len)
{
    if (c == 0)
        snprintf(buf, len, "unlimited");
    else
        snprintf(buf, len, "C=%d", c);
    return buf;
}

static void print_header(const struct sweep *sw)
{
    const struct options *o = &sw->opt;
    printf("Concurrency sweep (claim C4): N GETs of /delay/%d, at most C in flight.\n", o->delay_ms);
    printf("Target: %s", sw->target);
    if (o->server_limit)
        printf(", serving at most %d requests at once (the rest queue)", o->server_limit);
    printf(".\nClient: one http_client on the main thread's loop; N tasks per cell, each takes a\n"
           "permit of a semaphore of C before its request (unlimited: no semaphore); every\n"
           "cell starts with no open connection.\n");
    printf("Delay %d ms per request (the essay used 1 s): in the cells bound by waiting, times\n"
           "scale with the delay.  Descriptors: RLIMIT_NOFILE %ld, %d per request in flight.\n\n",
           o->delay_ms, sw->fd_limit, sw->fds_per_request);
}

static void print_table(const struct sweep *sw)
{
    const struct options *o = &sw->opt;
    char name[32];
    printf("Wall time per cell, measured s (ideal: ceil(N / C) x delay)\n\n");
    printf("%8s |", "N");
    for (int k = 0; k < o->c_count; k++)
        printf(" %19s |", level_name(o->cs[k], name, sizeof name));
    printf("\n---------+");
    for (int k = 0; k < o->c_count; k++)
        printf("---------------------+");
    printf("\n");
    for (int r = 0; r < o->n_count; r++) {
        printf("%8d |", o->ns[r]);
        for (int k = 0; k < o->c_count; k++) {
            const struct cell *c = &sw->cells[r * o->c_count + k];
            char text[48];
            snprintf(text, sizeof text, "%.3f s (%.3f)%c", c->wall_s, c->ideal_s,
                     c->failed ? '!' : c->capped ? '^' : ' ');
            printf(" %19s |", text);
        }
        printf("\n");
    }
}

/* Footnotes for the marked cells: failures with their first error, caps. */
static void print_footnotes(const struct sweep *sw)
{
    bool any_cap = false;
    char name[32];
    for (int i = 0; i < sw->cell_count; i++) {
        const struct cell *c = &sw->cells[i];
        level_name(c->c, name, sizeof name);
        if (c->failed)
            printf("  ! N=%d, %s: %d of %d requests FAILED (first: %s)\n", c->n, name, c->failed,
                   c->n, c->first_detail);
        if (c->capped)
            printf("  ^ N=%d, %s: capped at %d in flight: RLIMIT_NOFILE %ld allows no more\n",
                   c->n, name, c->in_flight, sw->fd_limit);
        any_cap |= c->capped;
    }
    if (any_cap)
        printf("    (%d descriptors per request in flight; raise the hard limit: ulimit -Hn, as "
               "root)\n", sw->fds_per_request);
}

/* --- what the numbers say -------------------------------------------------------------------- */

/* A bullet point built in pieces, then printed wrapped at 78 columns. */
struct para {
    char text[2048];
    size_t len;
};

static void para_add(struct para *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void para_add(struct para *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p->text + p->len, sizeof p->text - p->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        p->len = p->len + (size_t)n < sizeof p->text ? p->len + (size_t)n : sizeof p->text - 1;
}

static void para_print(struct para *p)
{
    const char *s = p->text;
    const char *lead = "- ";
    while (*s) {
        size_t room = 76, len = strlen(s);
        if (len > room) {   /* break at the last space that fits */
            len = room;
            while (len > 0 && s[len] != ' ')
                len--;
            if (len == 0)
                len = room;
        }
        printf("%s%.*s\n", lead, (int)len, s);
        lead = "  ";
        s += len;
        while (*s == ' ')
            s++;
    }
    p->len = 0;
    p->text[0] = '\0';
}

/* The columns of row r in increasing order of requests in flight. */
static int sorted_columns(const struct sweep *sw, int r, int *cols)
{
    int n = sw->opt.c_count;
    for (int k = 0; k < n; k++)
        cols[k] = k;
    for (int i = 1; i < n; i++)   /* insertion sort: at most MAX_LEVELS entries */
        for (int j = i; j > 0 && sw->cells[r * n + cols[j]].in_flight <
                                  sw->cells[r * n + cols[j - 1]].in_flight; j--) {
            int t = cols[j];
            cols[j] = cols[j - 1];
            cols[j - 1] = t;
        }
    return n;
}

/* The best time the target allows: waves of min(in flight, server limit). */
static double limited_ideal_s(const struct sweep *sw, const struct cell *c)
{
    int k = sw->opt.server_limit;
    int width = k && k < c->in_flight ? k : c->in_flight;
    return ceil((double)c->n / width) * sw->opt.delay_ms / 1000.0;
}

/* How close the cells bound by waiting came to their ideal. */
static void explain_waiting(const struct sweep *sw, struct para *p)
{
    double worst = 0;
    const struct cell *worst_cell = NULL;
    int counted = 0;
    for (int i = 0; i < sw->cell_count; i++) {
        const struct cell *c = &sw->cells[i];
        if (c->ideal_s < 4 * sw->opt.delay_ms / 1000.0 || c->failed || c->ideal_s <= 0 ||
            (sw->opt.server_limit && c->in_flight > sw->opt.server_limit))
            continue;
        double off = c->wall_s / c->ideal_s - 1;
        counted++;
        if (!worst_cell || off > worst) {
            worst = off;
            worst_cell = c;
        }
    }
    if (!worst_cell)
        return;
    para_add(p, "Waiting dominates: in the %d cells that need 4 or more waves of requests%s, "
                "the measured time is within %.0f%% of ceil(N / C) x delay (the farthest: N=%d, "
                "%d in flight).  The client does next to nothing while it waits, so a longer "
                "delay stretches these cells in proportion: with the essay's 1 s they would "
                "take %.0fx as long.", counted,
             sw->opt.server_limit ? " and stay within the server limit" : "", worst * 100 + 0.5,
             worst_cell->n, worst_cell->in_flight,
             sw->opt.delay_ms > 0 ? 1000.0 / sw->opt.delay_ms : 0.0);
    para_print(p);
}

/* Why the returns diminished after cell a (b is the next level up). */
static void explain_knee(const struct sweep *sw, struct para *p, const struct cell *a,
                         const struct cell *b)
{
    para_add(p, ": returns diminished past %d in flight", a->in_flight);
    if (sw->opt.server_limit && b->in_flight > sw->opt.server_limit)
        para_add(p, ", because the target serves %d at a time: the requests past that wait in "
                    "its queue instead of behind our semaphore.", sw->opt.server_limit);
    else
        para_add(p, ": %d in flight took %.3f s where its %.0f wave(s) of delay are %.3f s; the "
                    "rest is setting up, not waiting: %d tasks (%llu on freshly mapped stacks) "
                    "and %llu new connections, at both ends.",
                 b->in_flight, b->wall_s, b->ideal_s * 1000.0 / (sw->opt.delay_ms ?: 1),
                 b->ideal_s, b->n, (unsigned long long)b->stacks_mapped,
                 (unsigned long long)b->conns);
    if (b->slowest_connect_s >= 1.0)   /* a SYN dropped at a full listen queue waits 1 s+ */
        para_add(p, "  The slowest connect alone took %.1f s: more connections arrived at once "
                    "than the listen queue holds (net.core.somaxconn), and the dropped SYNs were "
                    "sent again a second or more later.", b->slowest_connect_s);
}

/* One point per N: the speed-up of each step up in concurrency against the
 * speed-up the waves allow (ceil(N/C) before / after), and where the returns
 * diminished: the first step that gained less than half of what it could. */
static void explain_row(const struct sweep *sw, struct para *p, int r)
{
    int cols[MAX_LEVELS], n = sorted_columns(sw, r, cols);
    const struct cell *row = &sw->cells[r * sw->opt.c_count];
    const struct cell *knee = NULL, *after = NULL;
    para_add(p, "N=%d:", row[0].n);
    int steps = 0;
    for (int i = 1; i < n; i++) {
        const struct cell *a = &row[cols[i - 1]], *b = &row[cols[i]];
        if (b->in_flight == a->in_flight || b->wall_s <= 0 || b->ideal_s <= 0)
            continue;
        double got = a->wall_s / b->wall_s, possible = a->ideal_s / b->ideal_s;
        para_add(p, "%s %d -> %d in flight, %.1fx faster (%.1fx if all waiting)",
                 steps++ ? ";" : "", a->in_flight, b->in_flight, got, possible);
        /* less than half the possible gain, counted in log terms */
        if (!knee && possible >= 1.5 && got < sqrt(possible)) {
            knee = a;
            after = b;
        }
    }
    if (!steps)
        para_add(p, " a single concurrency level.");
    else if (knee)
        explain_knee(sw, p, knee, after);
    else
        para_add(p, ": every step up paid off about as much as the waves allow.");
    para_print(p);
}

/* With everything in flight at once the floor is one delay: how close? */
static void explain_unlimited(const struct sweep *sw, struct para *p)
{
    int k = -1;
    for (int i = 0; i < sw->opt.c_count; i++)
        if (sw->opt.cs[i] == 0)
            k = i;
    if (k < 0 || sw->opt.delay_ms == 0)
        return;
    double delay = sw->opt.delay_ms / 1000.0;
    para_add(p, "Unlimited: one delay (%.3f s) is the floor.", delay);
    for (int r = 0; r < sw->opt.n_count; r++) {
        const struct cell *c = &sw->cells[r * sw->opt.c_count + k];
        para_add(p, "%s N=%d took %.3f s (%.1f delays%s)", r ? "," : "", c->n, c->wall_s,
                 c->wall_s / delay, c->capped ? ", capped" : "");
    }
    para_add(p, ".  One after another, N=%d would take %.0f s.", sw->opt.ns[sw->opt.n_count - 1],
             sw->opt.ns[sw->opt.n_count - 1] * delay);
    para_print(p);
}

/* With a server limit: were the cells past it any faster than it allows? */
static void explain_limit(const struct sweep *sw, struct para *p)
{
    int k = sw->opt.server_limit;
    if (!k)
        return;
    int over = 0, no_faster = 0;
    for (int i = 0; i < sw->cell_count; i++) {
        const struct cell *c = &sw->cells[i];
        if (c->in_flight <= k)
            continue;
        over++;
        no_faster += c->wall_s >= 0.9 * limited_ideal_s(sw, c);
    }
    if (!over)
        return;
    para_add(p, "Server limit %d: %d of the %d cells with more than %d in flight were no faster "
                "than ceil(N / %d) x delay, the best the target allows: past the limit, more "
                "concurrency in the client buys nothing.", k, no_faster, over, k, k);
    para_print(p);
}

static void explain(const struct sweep *sw)
{
    struct para p = { .len = 0 };
    printf("\nWhat the numbers show:\n");
    explain_waiting(sw, &p);
    for (int r = 0; r < sw->opt.n_count; r++)
        explain_row(sw, &p, r);
    explain_unlimited(sw, &p);
    explain_limit(sw, &p);
}

/* --- JSON ------------------------------------------------------------------------------------ */

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void print_json(const struct sweep *sw)
{
    printf("{\"claim\":\"C4\",\"url\":");
    json_string(stdout, sw->url);
    printf(",\"delay_ms\":%d,\"server_limit\":%d,\"fd_limit\":%ld,\"svg\":", sw->opt.delay_ms,
           sw->opt.server_limit, sw->fd_limit);
    json_string(stdout, sw->opt.svg_path);
    printf(",\"cells\":[");
    for (int i = 0; i < sw->cell_count; i++) {
        const struct cell *c = &sw->cells[i];
        printf("%s\n {\"n\":%d,\"c\":%d,\"in_flight\":%d,\"capped\":%s,\"wall_s\":%.4f,"
               "\"ideal_s\":%.4f,\"ok\":%d,\"failed\":%d,\"connections\":%llu,"
               "\"stacks_mapped\":%llu,\"slowest_connect_s\":%.4f,\"first_error\":",
               i ? "," : "", c->n, c->c, c->in_flight, c->capped ? "true" : "false", c->wall_s,
               c->ideal_s, c->ok, c->failed, (unsigned long long)c->conns,
               (unsigned long long)c->stacks_mapped, c->slowest_connect_s);
        if (c->failed)
            json_string(stdout, c->first_detail);
        else
            printf("null");
        printf("}");
    }
    printf("\n]}\n");
}

/* --- the SVG chart ------------------------------------------------------------------------- */

/* Text and attribute values go through this: & < > " ' become entities. */
static void svg_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default: fputc(*s, f);
        }
    }
}

struct chart {
    double left, top, width, height;    /* the plot area */
    double log_lo, log_hi;              /* y axis: log10 of seconds */
    int columns;
};

static double chart_x(const struct chart *ch, int col)
{
    return ch->left + (col + 0.5) * ch->width / ch->columns;
}

static double chart_y(const struct chart *ch, double seconds)
{
    double v = log10(seconds > 1e-4 ? seconds : 1e-4);
    return ch->top + ch->height * (ch->log_hi - v) / (ch->log_hi - ch->log_lo);
}

/* The y range: whole decades around every measured and ideal time. */
static void chart_range(const struct sweep *sw, struct chart *ch)
{
    double lo = 1e9, hi = 0;
    for (int i = 0; i < sw->cell_count; i++) {
        const double v[2] = { sw->cells[i].wall_s, sw->cells[i].ideal_s };
        for (int j = 0; j < 2; j++)
            if (v[j] > 0) {
                lo = v[j] < lo ? v[j] : lo;
                hi = v[j] > hi ? v[j] : hi;
            }
    }
    if (hi <= 0)
        lo = hi = 1;
    ch->log_lo = floor(log10(lo));
    ch->log_hi = ceil(log10(hi));
    if (ch->log_hi <= ch->log_lo)
        ch->log_hi = ch->log_lo + 1;
}

static void seconds_label(double s, char *buf, size_t len)
{
    if (s >= 1)
        snprintf(buf, len, "%g s", s);
    else
        snprintf(buf, len, "%g ms", s * 1000);
}

/* Horizontal grid lines at 1, 2 and 5 times each power of ten, labelled. */
static void svg_grid(FILE *f, const struct chart *ch)
{
    static const double steps[] = { 1, 2, 5 };
    for (double d = ch->log_lo; d <= ch->log_hi; d++)
        for (int i = 0; i < 3; i++) {
            double v = steps[i] * pow(10, d);
            if (log10(v) > ch->log_hi + 1e-9)
                break;
            double y = chart_y(ch, v);
            char label[32];
            seconds_label(v, label, sizeof label);
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n",
                    ch->left, y, ch->left + ch->width, y, i == 0 ? "#c8c8c8" : "#ececec");
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" class=\"tick\">", ch->left - 8,
                    y + 4);
            svg_text(f, label);
            fprintf(f, "</text>\n");
        }
}

static void svg_axes(FILE *f, const struct sweep *sw, const struct chart *ch)
{
    char name[32];
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
               "stroke=\"#888\"/>\n", ch->left, ch->top, ch->width, ch->height);
    for (int k = 0; k < sw->opt.c_count; k++) {
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"tick\">",
                chart_x(ch, k), ch->top + ch->height + 20);
        svg_text(f, level_name(sw->opt.cs[k], name, sizeof name));
        fprintf(f, "</text>\n");
    }
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"axis\">"
               "requests in flight (the semaphore&#8217;s C)</text>\n",
            ch->left + ch->width / 2, ch->top + ch->height + 46);
    fprintf(f, "<text transform=\"translate(%.1f %.1f) rotate(-90)\" text-anchor=\"middle\" "
               "class=\"axis\">wall time per cell (log scale)</text>\n",
            ch->left - 62, ch->top + ch->height / 2);
}

static const char *const palette[] = { "#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                       "#ff7f0e", "#8c564b", "#e377c2", "#17becf" };

/* One N: the ideal (dashed) and the measured line with a marker per cell. */
static void svg_series(FILE *f, const struct sweep *sw, const struct chart *ch, int r)
{
    const char *color = palette[r % 8];
    const struct cell *row = &sw->cells[r * sw->opt.c_count];
    for (int pass = 0; pass < 2; pass++) {
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" %s points=\"", color,
                pass == 0 ? "stroke-width=\"1.5\" stroke-dasharray=\"5 4\" opacity=\"0.55\""
                          : "stroke-width=\"2.5\"");
        for (int k = 0; k < sw->opt.c_count; k++)
            fprintf(f, "%s%.1f,%.1f", k ? " " : "", chart_x(ch, k),
                    chart_y(ch, pass == 0 ? row[k].ideal_s : row[k].wall_s));
        fprintf(f, "\"/>\n");
    }
    for (int k = 0; k < sw->opt.c_count; k++) {
        const struct cell *c = &row[k];
        char tip[sizeof c->first_detail + 200];
        snprintf(tip, sizeof tip, "N=%d, %d in flight%s: %.3f s (ideal %.3f s)%s%s", c->n,
                 c->in_flight, c->capped ? " (capped by descriptors)" : "", c->wall_s, c->ideal_s,
                 c->failed ? "; FAILED: " : "", c->failed ? c->first_detail : "");
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\" stroke=\"%s\" "
                   "stroke-width=\"2\"><title>", chart_x(ch, k), chart_y(ch, c->wall_s),
                c->failed ? "#fff" : color, c->failed ? "#000" : color);
        svg_text(f, tip);
        fprintf(f, "</title></circle>\n");
    }
}

static void svg_legend(FILE *f, const struct sweep *sw, double x, double y)
{
    for (int r = 0; r < sw->opt.n_count; r++, y += 24) {
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                   "stroke-width=\"2.5\"/>\n", x, y, x + 28, y, palette[r % 8]);
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\"/>\n", x + 14, y,
                palette[r % 8]);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"legend\">N = %d</text>\n", x + 36, y + 4,
                sw->opt.ns[r]);
    }
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\" "
               "stroke-width=\"1.5\" stroke-dasharray=\"5 4\"/>\n", x, y + 6, x + 28, y + 6);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"legend\">ideal:</text>\n", x + 36, y + 10);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"note\">ceil(N/C) &#215; delay</text>\n",
            x + 36, y + 26);
}

static void svg_titles(FILE *f, const struct sweep *sw, double width)
{
    char text[400];
    fprintf(f, "<text x=\"%.1f\" y=\"30\" text-anchor=\"middle\" class=\"title\">", width / 2);
    snprintf(text, sizeof text, "Wall time vs concurrency: N GETs of /delay/%d", sw->opt.delay_ms);
    svg_text(f, text);
    fprintf(f, "</text>\n<text x=\"%.1f\" y=\"52\" text-anchor=\"middle\" class=\"note\">",
            width / 2);
    if (sw->opt.server_limit)
        snprintf(text, sizeof text, "coloop sweep (claim C4), target: %s, server limit: %d at once",
                 sw->httpbin ? "built-in httpbin" : sw->target, sw->opt.server_limit);
    else
        snprintf(text, sizeof text, "coloop sweep (claim C4), target: %s, no server limit",
                 sw->httpbin ? "built-in httpbin" : sw->target);
    svg_text(f, text);
    fprintf(f, "</text>\n");
}

/* A dotted line at one delay: no cell can beat it. */
static void svg_floor(FILE *f, const struct sweep *sw, const struct chart *ch)
{
    double delay = sw->opt.delay_ms / 1000.0;
    if (delay <= 0)
        return;
    double y = chart_y(ch, delay);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\" "
               "stroke-width=\"1\" stroke-dasharray=\"1 3\"/>\n", ch->left, y, ch->left + ch->width, y);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"note\">one delay (%d ms): the floor</text>\n",
            ch->left + 6, y + 15, sw->opt.delay_ms);
}

/* Under the chart: the cells the descriptor limit capped or that had failures. */
static void svg_notes(FILE *f, const struct sweep *sw, double x, double y)
{
    char text[600] = "", name[32];
    size_t len = 0;
    for (int i = 0; i < sw->cell_count && len < sizeof text - 200; i++) {
        const struct cell *c = &sw->cells[i];
        level_name(c->c, name, sizeof name);
        if (c->capped)
            len += (size_t)snprintf(text + len, sizeof text - len, "%sN=%d %s: capped at %d in "
                                    "flight (RLIMIT_NOFILE %ld)", len ? "; " : "", c->n, name,
                                    c->in_flight, sw->fd_limit);
        if (c->failed)
            len += (size_t)snprintf(text + len, sizeof text - len, "%sN=%d %s: %d failed (hollow "
                                    "marker)", len ? "; " : "", c->n, name, c->failed);
    }
    if (!len)
        return;
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"note\">", x, y);
    svg_text(f, text);
    fprintf(f, "</text>\n");
}

static int write_svg(const struct sweep *sw)
{
    FILE *f = fopen(sw->opt.svg_path, "w");
    if (!f)
        return -errno;
    const double width = 820, height = 520;
    struct chart ch = { 95, 75, 540, 360, 0, 0, sw->opt.c_count };
    chart_range(sw, &ch);
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
               "viewBox=\"0 0 %.0f %.0f\" font-family=\"Helvetica, Arial, sans-serif\">\n"
               "<style>.title{font-size:18px;font-weight:bold} .axis{font-size:14px} "
               ".tick{font-size:12px;fill:#444} .legend{font-size:13px} "
               ".note{font-size:12px;fill:#555}</style>\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n",
            width, height, width, height);
    svg_titles(f, sw, width);
    svg_grid(f, &ch);
    svg_axes(f, sw, &ch);
    for (int r = 0; r < sw->opt.n_count; r++)
        svg_series(f, sw, &ch, r);
    svg_floor(f, sw, &ch);
    svg_legend(f, sw, ch.left + ch.width + 30, ch.top + 12);
    svg_notes(f, sw, ch.left, height - 14);
    fprintf(f, "</svg>\n");
    return fclose(f) == 0 ? 0 : -errno;
}

/* --- main ------------------------------------------------------------------------------------- */

static void report_svg(const struct sweep *sw, FILE *out)
{
    int rc = write_svg(sw);
    char *full = rc == 0 ? realpath(sw->opt.svg_path, NULL) : NULL;
    if (rc == 0)
        fprintf(out, "\nChart written to %s (open it in a browser).\n",
                full ? full : sw->opt.svg_path);
    else
        fprintf(stderr, "sweep: could not write %s: %s\n", sw->opt.svg_path, strerror(-rc));
    free(full);
}

static bool any_failed(const struct sweep *sw)
{
    for (int i = 0; i < sw->cell_count; i++)
        if (sw->cells[i].failed)
            return true;
    return false;
}

int main(int argc, char **argv)
{
    static struct sweep sw;   /* static: ~7 KiB of cells */
    parse_options(argc, argv, &sw.opt);
    plan_descriptors(&sw);
    plan_cells(&sw);
    if (start_target(&sw) < 0)
        return 1;
    if (!sw.opt.json) {
        print_header(&sw);
        fflush(stdout);
    }
    int rc = co_run(sweep_task, &sw);
    if (sw.httpbin)
        httpbin_stop_thread(sw.httpbin, 1000, NULL);
    if (rc < 0) {
        fprintf(stderr, "sweep: %s\n", co_strerror(rc));
        return 1;
    }
    if (sw.opt.json) {
        print_json(&sw);
        report_svg(&sw, stderr);
    } else {
        print_table(&sw);
        print_footnotes(&sw);
        explain(&sw);
        report_svg(&sw, stdout);
    }
    return any_failed(&sw) ? 1 : 0;
}
