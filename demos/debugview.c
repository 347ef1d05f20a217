/* debugview.c - claim C19, "debugging async code is harder": what coloop
 * shows about a running program, next to what asyncio shows.
 *
 *   debugview [--quick] [--pages N]
 *
 * A small crawl: three crawler tasks fetch pages of the built-in httpbin
 * target's generated site (/site/page/K, on a thread of this process,
 * 127.0.0.1, port 0), with a politeness delay between fetches.  One more
 * task is deliberately stuck: 'stuck-fetch' asks /delay/60000, a server
 * that takes a minute to answer, and the crawl's main task joins it, so the
 * crawl never ends.  An inspector task then looks at the loop three ways:
 *
 *   1. the task dump on SIGQUIT (raised at the process, as kill -QUIT or
 *      Ctrl-\ would), printed by the loop at its next turn;
 *   2. the task dump on request (loop_dump_tasks), once the crawlers are
 *      done: now it shows who holds the program up, and on what;
 *   3. the watchdog's live backtrace of an 'indexer' task that computes for
 *      500 ms without yielding, printed while it is still running.
 *
 * Then it cancels the stuck task and the program ends.  After each view,
 * the program says what asyncio would show in that place.
 * --quick: 12 pages, 20 ms politeness (for the tests).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coloop.h"
#include "runtime/debug.h"

#define CRAWLERS 3
#define MAX_PAGES 200

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Everything the tasks share; they all run on one loop, so no locks. */
struct crawl {
    http_client *client;
    char origin[64];
    int pages;              /* /site/page/0 .. pages-1 */
    int polite_ms;          /* pause between two fetches of one crawler */
    int index_ms;           /* how long the indexer computes */
    int next_page;          /* the next page a crawler takes */
    int crawlers_left;      /* crawlers still running */
    bool joining_stuck;     /* crawl_main has joined every crawler, now joins 'stuck-fetch' */
    char titles[MAX_PAGES][64];
    int fetched, failed;
    co_task *stuck;         /* 'stuck-fetch', for the inspector to cancel */
    int stuck_rc;           /* what the stuck fetch returned in the end */
};

/* --- the crawl ------------------------------------------------------------- */

static void keep_title(struct crawl *c, int page, const char *html)
{
    const char *open = html ? strstr(html, "<title>") : NULL;
    const char *close = open ? strstr(open, "</title>") : NULL;
    if (open && close) {
        open += strlen("<title>");
        snprintf(c->titles[page], sizeof c->titles[page], "%.*s", (int)(close - open), open);
    }
}

static int crawler(void *arg)
{
    struct crawl *c = arg;
    while (c->next_page < c->pages) {
        int page = c->next_page++;
        char url[128];
        snprintf(url, sizeof url, "%s/site/page/%d", c->origin, page);
        struct http_response r;
        int rc = http_await_get(c->client, url, &r, co_deadline_in_ms(5000));
        if (rc == 0 && r.status == 200) {
            keep_title(c, page, r.body);
            c->fetched++;
        } else {
            c->failed++;
        }
        http_response_fini(&r);
        if (await_sleep_ms(c->polite_ms) < 0)   /* be polite to the server */
            break;
    }
    c->crawlers_left--;
    return 0;
}

static int stuck_fetch(void *arg)   /* the bug we are looking for */
{
    struct crawl *c = arg;
    char url[128];
    snprintf(url, sizeof url, "%s/delay/60000", c->origin);
    struct http_response r;
    int rc = http_await_get(c->client, url, &r, CO_NO_DEADLINE);
    http_response_fini(&r);
    return rc;
}

/* The crawl's main task: start everything, join everything. */
static int crawl_main(void *arg)
{
    struct crawl *c = arg;
    co_task *crawlers[CRAWLERS];
    struct co_spawn_opts stuck_opts = { .name = "stuck-fetch" };
    task_spawn_opts(&c->stuck, stuck_fetch, c, &stuck_opts);
    for (int i = 0; i < CRAWLERS; i++) {
        char name[32];   /* room for any int: keeps -Wformat-truncation quiet at -O1 */
        snprintf(name, sizeof name, "crawler-%d", i + 1);
        struct co_spawn_opts opts = { .name = name };
        if (task_spawn_opts(&crawlers[i], crawler, c, &opts) == 0)
            c->crawlers_left++;
        else
            crawlers[i] = NULL;
    }
    for (int i = 0; i < CRAWLERS; i++)
        if (crawlers[i])
            await_task(crawlers[i], NULL, CO_NO_DEADLINE);
    /* Set just before the join suspends, with no yield between: whoever sees
     * it set (another task) sees this task already waiting in the join. */
    c->joining_stuck = true;
    await_task(c->stuck, &c->stuck_rc, CO_NO_DEADLINE);   /* hangs until cancelled */
    return 0;
}

/* --- the views --------------------------------------------------------------- */

/* CPU-bound work that never yields: the watchdog's case. */
static int build_index(void *arg)
{
    struct crawl *c = arg;
    double until = now_ms() + c->index_ms;
    volatile unsigned hash = 5381;
    while (now_ms() < until)
        for (int p = 0; p < c->pages; p++)
            for (const char *s = c->titles[p]; *s; s++)
                hash = hash * 33 + (unsigned char)*s;
    return 0;
}

static void view_sigquit(void)
{
    printf("\n--- 1. The task dump on SIGQUIT (kill -QUIT %d, or Ctrl-\\), mid-crawl ---\n",
           (int)getpid());
    fflush(stdout);
    kill(getpid(), SIGQUIT);   /* the handler pokes the loop, which prints at its next turn */
    await_sleep_ms(10);
    fflush(stderr);
    printf("asyncio: no signal prints the tasks. From code, asyncio.all_tasks() returns\n"
           "the Task objects; each repr gives the name, the coroutine with the line it is\n"
           "suspended at, and the future it waits for; task.print_stack() gives frames.\n"
           "Where a task was created is kept only in debug mode. (Python 3.14 adds\n"
           "`python -m asyncio ps PID` and `pstree PID`, which list them from outside.)\n");
}

static void view_on_request(void)
{
    printf("\n--- 2. The crawlers are done but the program does not end. Why?\n"
           "    loop_dump_tasks(loop_current(), stdout), called from a task ---\n");
    loop_dump_tasks(loop_current(), stdout);
    printf("Read it from the bottom: 'crawl' joins 'stuck-fetch', which waits for its\n"
           "socket to become readable: a server that does not answer. The line says\n"
           "where the task was spawned; the time left is the client's read timeout\n"
           "(30 s by default), the only thing that would end this wait.\n"
           "asyncio: the same from asyncio.all_tasks(), one Task repr per task; the\n"
           "chain of awaits is in each coroutine's cr_await, found by walking it.\n");
}

static void view_watchdog(struct crawl *c)
{
    printf("\n--- 3. The watchdog, live: an 'indexer' task computes for %d ms ---\n", c->index_ms);
    fflush(stdout);
    co_task *t;
    struct co_spawn_opts opts = { .name = "indexer" };
    if (task_spawn_opts(&t, build_index, c, &opts) == 0)
        await_task(t, NULL, CO_NO_DEADLINE);
    fflush(stderr);
    printf("asyncio (debug mode, PYTHONASYNCIODEBUG=1): once the step has finished, one\n"
           "warning that executing the task took %.2f seconds, with the task's repr; no\n"
           "stack of where it was, and nothing at all while it still blocks.\n",
           c->index_ms / 1000.0);
}

static int inspector(void *arg)
{
    struct crawl *c = arg;
    await_sleep_ms(c->polite_ms + c->polite_ms / 2);   /* let the crawl get going */
    view_sigquit();
    /* Not "crawlers_left == 0": the last crawler ends before 'crawl' runs
     * again to see it, and a dump in between would show 'crawl' as ready. */
    while (!c->joining_stuck)
        await_sleep_ms(5);
    view_on_request();
    view_watchdog(c);
    printf("\nDone looking: the inspector cancels 'stuck-fetch'.\n");
    task_cancel(c->stuck);
    return 0;
}

/* --- main --------------------------------------------------------------------- */

static int run_crawl(struct crawl *c)
{
    co_loop *loop;
    int rc = loop_new(&loop);
    if (rc < 0)
        return rc;
    struct http_client_opts o = { .max_conns_per_host = CRAWLERS + 1 };
    if ((rc = http_client_new(&o, &c->client)) < 0 || (rc = loop_debug_enable(loop, 100)) < 0) {
        http_client_free(c->client);
        loop_free(loop);
        return rc;
    }
    co_task *main_task, *inspector_task;
    struct co_spawn_opts main_opts = { .name = "crawl" }, insp_opts = { .name = "inspector" };
    task_spawn_opts(&main_task, crawl_main, c, &main_opts);
    task_spawn_opts(&inspector_task, inspector, c, &insp_opts);
    task_detach(inspector_task);
    task_detach(main_task);
    rc = loop_run(loop);
    loop_debug_disable(loop);
    http_client_free(c->client);
    loop_free(loop);
    return rc;
}

static void usage(void)
{
    printf("usage: debugview [--quick] [--pages N]\n"
           "  Crawls N pages (default 24, at most %d) of the built-in site with %d tasks,\n"
           "  one task stuck, and shows the task dump (SIGQUIT and API) and the watchdog.\n",
           MAX_PAGES, CRAWLERS);
}

int main(int argc, char **argv)
{
    static struct crawl c = { .pages = 24, .polite_ms = 100, .index_ms = 500 };
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            c.pages = 12;
            c.polite_ms = 20;
            c.index_ms = 500;   /* longer than the watchdog takes to symbolise its report */
        } else if (strcmp(argv[i], "--pages") == 0 && i + 1 < argc) {
            c.pages = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage();
            return 0;
        } else {
            fprintf(stderr, "debugview: unknown argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }
    if (c.pages < 1 || c.pages > MAX_PAGES) {
        fprintf(stderr, "debugview: --pages must be 1..%d\n", MAX_PAGES);
        return 2;
    }
    struct httpbin_opts bin = { .server = { .port = 0 } };
    httpbin_thread *server;
    int rc = httpbin_start_thread(&bin, &server);
    if (rc < 0) {
        fprintf(stderr, "debugview: cannot start httpbin: %s\n", co_strerror(rc));
        return 1;
    }
    snprintf(c.origin, sizeof c.origin, "http://127.0.0.1:%d", httpbin_thread_port(server));
    printf("=== Debugging view  (C19) ===\n"
           "%d crawler tasks fetch %d pages of %s/site/,\n"
           "pausing %d ms between fetches. 'stuck-fetch' asks /delay/60000 (a minute\n"
           "to answer) and the crawl's main task joins it. An inspector task looks at\n"
           "the loop while this runs.\n",
           CRAWLERS, c.pages, c.origin, c.polite_ms);
    double start = now_ms();
    rc = run_crawl(&c);
    httpbin_stop_thread(server, 100, NULL);
    if (rc < 0) {
        fprintf(stderr, "debugview: %s\n", co_strerror(rc));
        return 1;
    }
    printf("\nThe crawl: %d pages fetched, %d failed, in %.0f ms; 'stuck-fetch' ended with\n"
           "%d (%s). First titles: \"%s\", \"%s\", \"%s\".\n",
           c.fetched, c.failed, now_ms() - start, c.stuck_rc, co_strerror(c.stuck_rc),
           c.titles[0], c.pages > 1 ? c.titles[1] : "", c.pages > 2 ? c.titles[2] : "");
    printf("\nWhy: a stackful task is a real call stack, so coloop can show what a\n"
           "debugger shows for a thread: a name, where it was spawned, what it waits on,\n"
           "and where it is. The dump comes from the loop's own bookkeeping (every wait\n"
           "records its reason), costs nothing until asked, and works in any build. The\n"
           "watchdog reads a blocking task's stack from another thread while it blocks.\n"
           "asyncio's equivalents exist but are scattered: all_tasks() and a Task's repr\n"
           "and print_stack() from code, debug mode for creation tracebacks and a\n"
           "warning after a slow step. Name your tasks in both worlds.\n");
    return c.fetched == c.pages ? 0 : 1;
}
