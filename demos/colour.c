/* colour.c - claim C16, "function colour": making one function async forces
 * every caller to become async.  Not with stackful coroutines.
 *
 *   colour [--quick] [--items N] [--delay-ms MS]
 *
 * A chain of five plain C functions prices a basket:
 *
 *     report() -> summarise() -> price_with_tax() -> unit_price() -> lookup_price()
 *
 * Version 1 of lookup_price() reads a table.  Version 2 asks a price service
 * over HTTP (http_await_get against the built-in httpbin target, started in
 * this process on 127.0.0.1, port 0), which suspends the calling task for
 * the request.  Not one of the four callers changes: the very same compiled
 * report() .. unit_price() run both versions, through one function pointer.
 * The program prints the diff between the two versions of lookup_price()
 * (made from its own source, which it carries: see own_source below), then
 * prices 20 items with each: version 1 from plain main(), version 2 in one
 * task (one request after another) and in 20 tasks (all at once).
 *
 * What it costs instead: nothing at a call site says that price_with_tax()
 * may now pause and let other tasks run.  coloop's answer is a naming rule
 * (every function that can suspend is called await_*), which the functions
 * of the chain break here on purpose, to show what the rule is for.
 * --quick: 20 items, 20 ms per request (for the tests).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coloop.h"

/* The program carries its own source text: the assembler copies this file
 * into the binary, so the diff printed below is made from the code that
 * runs, and cannot drift from it.  (The path is relative to the directory
 * make runs in, the top of the tree.) */
__asm__(".pushsection .rodata\n"
        "own_source:\n"
        ".incbin \"" __FILE__ "\"\n"
        ".byte 0\n"
        ".popsection\n");
extern const char own_source[] __attribute__((visibility("hidden")));

#define MAX_ITEMS 200

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* --- the data and the price service ---------------------------------------- */

static const char *const names[] = { "tea", "coffee", "sugar", "milk", "honey",
                                     "oats", "rice", "beans", "salt", "pepper" };
static const int catalogue[] = { 450, 1299, 189, 105, 675, 349, 229, 159, 99, 389 };
#define CATALOGUE_SIZE ((int)(sizeof catalogue / sizeof catalogue[0]))

/* Where version 2 asks.  Our stand-in price service is httpbin's /delay
 * route: it answers after delay_ms with the request's query echoed back as
 * JSON, so we send the catalogue price along and read it back from the
 * answer.  What matters here is the wait, not where the number comes from. */
static struct {
    http_client *client;   /* made in the task that runs the chain: one per loop */
    char origin[64];       /* "http://127.0.0.1:PORT" */
    int delay_ms;
} shop;

/* The "cents" the service echoed: "args": {"cents": "1234", ...}. */
static int cents_from_json(const char *body)
{
    const char *at = body ? strstr(body, "\"cents\": \"") : NULL;
    return at ? atoi(at + strlen("\"cents\": \"")) : -1;
}

/* ==== lookup_price, version 1: from a table ==== */
static int lookup_price_in_table(int item)
{
    int cents = catalogue[item % CATALOGUE_SIZE];
    return cents;
}

/* ==== lookup_price, version 2: over HTTP ==== */
static int lookup_price_over_http(int item)
{
    int cents = catalogue[item % CATALOGUE_SIZE];
    char url[128];
    snprintf(url, sizeof url, "%s/delay/%d?cents=%d", shop.origin, shop.delay_ms, cents);
    struct http_response r;
    int rc = http_await_get(shop.client, url, &r, CO_NO_DEADLINE);   /* suspends */
    cents = rc < 0 ? rc : r.status == 200 ? cents_from_json(r.body) : -EPROTO;
    http_response_fini(&r);
    return cents;
}

/* --- the chain: plain C, written once, compiled once ------------------------ */

/* The innermost function, version 1 or 2.  A pointer, so that both versions
 * provably run through the same compiled callers, unchanged. */
static int (*lookup_price)(int item) = lookup_price_in_table;

static int unit_price(int item)        /* every fifth item is on offer: 10% off */
{
    int cents = lookup_price(item);
    if (cents < 0)
        return cents;
    return item % 5 == 4 ? cents - cents / 10 : cents;
}

static int price_with_tax(int item)    /* 20% VAT */
{
    int cents = unit_price(item);
    return cents < 0 ? cents : cents + cents / 5;
}

static int summarise(int item, char *line, size_t len)
{
    int cents = price_with_tax(item);
    if (cents >= 0)
        snprintf(line, len, "%-7s %3d.%02d", names[item % CATALOGUE_SIZE], cents / 100, cents % 100);
    return cents;
}

/* Prices items[0..n), keeps the first line of the report, returns the total
 * in cents or the first error. */
static long report(const int *items, int n, char *first_line, size_t len)
{
    long total = 0;
    for (int i = 0; i < n; i++) {
        char line[64];
        int cents = summarise(items[i], line, sizeof line);
        if (cents < 0)
            return cents;
        if (i == 0 && first_line)
            snprintf(first_line, len, "%s", line);
        total += cents;
    }
    return total;
}

/* --- running the chain ----------------------------------------------------- */

struct basket { int items[MAX_ITEMS]; int n; long total; char first[64]; double ms; };

static int open_shop(void)
{
    struct http_client_opts o = { .max_conns_per_host = MAX_ITEMS };   /* all at once */
    return http_client_new(&o, &shop.client);
}

static void close_shop(void)
{
    http_client_free(shop.client);
    shop.client = NULL;
}

/* A task: the whole basket in one report() call, one request after another. */
static int price_sequentially(void *arg)
{
    struct basket *b = arg;
    int rc = open_shop();
    if (rc < 0)
        return rc;
    b->total = report(b->items, b->n, b->first, sizeof b->first);
    close_shop();
    return 0;
}

struct one_item { const int *item; long cents; char *line; size_t len; };

static int price_one(void *arg)
{
    struct one_item *o = arg;
    o->cents = report(o->item, 1, o->line, o->len);   /* the same report(), one item */
    return 0;
}

/* A task: one task per item, all started, then all joined. */
static int price_concurrently(void *arg)
{
    struct basket *b = arg;
    struct one_item one[MAX_ITEMS];
    co_task *tasks[MAX_ITEMS];
    int rc = open_shop();
    if (rc < 0)
        return rc;
    int started = 0;
    for (; started < b->n; started++) {
        one[started] = (struct one_item){ &b->items[started], 0, NULL, 0 };
        if (started == 0) {
            one[0].line = b->first;
            one[0].len = sizeof b->first;
        }
        if ((rc = task_spawn(&tasks[started], price_one, &one[started])) < 0)
            break;
    }
    b->total = 0;
    for (int i = 0; i < started; i++) {
        await_task(tasks[i], NULL, CO_NO_DEADLINE);
        b->total = b->total < 0 ? b->total : one[i].cents < 0 ? one[i].cents : b->total + one[i].cents;
    }
    close_shop();
    return rc;
}

static void fill(struct basket *b, int n)
{
    memset(b, 0, sizeof *b);
    b->n = n;
    for (int i = 0; i < n; i++)
        b->items[i] = i;
}

static void print_row(const char *how, const struct basket *b)
{
    if (b->total < 0)
        printf("  %-48s  failed: %s\n", how, co_strerror((int)b->total));
    else
        printf("  %-48s  total %4ld.%02ld  %8.1f ms   (first line: \"%s\")\n", how, b->total / 100,
               b->total % 100, b->ms, b->first);
}

/* --- the diff, from our own source ------------------------------------------ */

#define MAX_LINES 40

/* The lines of the function after the marker line (a comment opening with
 * "==== TAG"), up to and including its closing "}".  Markers start in column 0, so the
 * string literals below (indented) never match. */
static int function_lines(const char *tag, const char *lines[], int lens[])
{
    char marker[64];
    snprintf(marker, sizeof marker, "/* ==== %s", tag);
    const char *p = strstr(own_source, marker);
    while (p && p != own_source && p[-1] != '\n')
        p = strstr(p + 1, marker);
    if (!p)
        return 0;
    p = strchr(p, '\n') + 1;
    int n = 0;
    while (*p && n < MAX_LINES) {
        const char *end = strchr(p, '\n');
        lines[n] = p;
        lens[n] = end ? (int)(end - p) : (int)strlen(p);
        n++;
        if (lens[n - 1] == 1 && p[0] == '}')
            break;
        p = end ? end + 1 : p + lens[n - 1];
    }
    return n;
}

static bool same_line(const char *a, int alen, const char *b, int blen)
{
    return alen == blen && memcmp(a, b, (size_t)alen) == 0;
}

/* A line diff (longest common subsequence): ' ' kept, '-' only in version
 * 1, '+' only in version 2. */
static void print_diff(void)
{
    const char *a[MAX_LINES], *b[MAX_LINES];
    int alen[MAX_LINES], blen[MAX_LINES];
    int na = function_lines("lookup_price, version 1", a, alen);
    int nb = function_lines("lookup_price, version 2", b, blen);
    static int lcs[MAX_LINES + 1][MAX_LINES + 1];
    for (int i = na - 1; i >= 0; i--)
        for (int j = nb - 1; j >= 0; j--)
            lcs[i][j] = same_line(a[i], alen[i], b[j], blen[j])
                            ? lcs[i + 1][j + 1] + 1
                            : (lcs[i + 1][j] > lcs[i][j + 1] ? lcs[i + 1][j] : lcs[i][j + 1]);
    printf("  --- lookup_price, version 1 (%s)\n  +++ lookup_price, version 2\n", __FILE__);
    int i = 0, j = 0, changed = 0;
    while (i < na || j < nb) {
        if (i < na && j < nb && same_line(a[i], alen[i], b[j], blen[j])) {
            printf("    %.*s\n", alen[i], a[i]);
            i++, j++;
        } else if (i < na && (j == nb || lcs[i + 1][j] >= lcs[i][j + 1])) {
            printf("  - %.*s\n", alen[i], a[i]);
            i++, changed++;
        } else {
            printf("  + %.*s\n", blen[j], b[j]);
            j++, changed++;
        }
    }
    printf("  (%d lines changed, all of them inside lookup_price; report(), summarise(),\n"
           "   price_with_tax() and unit_price() are untouched)\n", changed);
}

/* --- main ------------------------------------------------------------------- */

static void usage(void)
{
    printf("usage: colour [--quick] [--items N] [--delay-ms MS]\n"
           "  Prices N items (default 20, at most %d) through a chain of five plain C\n"
           "  functions, first from a table, then with the innermost one making an HTTP\n"
           "  request (MS ms each, default 100; --quick: 20).\n", MAX_ITEMS);
}

static int parse_args(int argc, char **argv, int *items)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            shop.delay_ms = 20;
        else if (strcmp(argv[i], "--items") == 0 && i + 1 < argc)
            *items = atoi(argv[++i]);
        else if (strcmp(argv[i], "--delay-ms") == 0 && i + 1 < argc)
            shop.delay_ms = atoi(argv[++i]);
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage();
            return 0;
        } else {
            fprintf(stderr, "colour: unknown argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }
    if (*items < 1 || *items > MAX_ITEMS || shop.delay_ms < 0) {
        fprintf(stderr, "colour: --items must be 1..%d and --delay-ms >= 0\n", MAX_ITEMS);
        return 2;
    }
    return -1;
}

int main(int argc, char **argv)
{
    int items = 20;
    shop.delay_ms = 100;
    int done = parse_args(argc, argv, &items);
    if (done >= 0)
        return done;

    printf("=== Function colour  (C16) ===\n"
           "A chain of five plain C functions prices %d items:\n"
           "  report() -> summarise() -> price_with_tax() -> unit_price() -> lookup_price()\n\n",
           items);
    struct basket table, calls, tasks;
    fill(&table, items);
    printf("Version 1: lookup_price() reads a table. The chain runs in plain main(),\n"
           "no task and no loop anywhere.\n\n");
    double start = now_ms();
    table.total = report(table.items, table.n, table.first, sizeof table.first);
    table.ms = now_ms() - start;

    printf("Version 2: lookup_price() asks a price service over HTTP instead (httpbin's\n"
           "/delay/%d on 127.0.0.1, in this process). The whole change:\n\n", shop.delay_ms);
    print_diff();

    struct httpbin_opts bin = { .server = { .port = 0 } };
    httpbin_thread *server;
    int rc = httpbin_start_thread(&bin, &server);
    if (rc < 0) {
        fprintf(stderr, "colour: cannot start httpbin: %s\n", co_strerror(rc));
        return 1;
    }
    snprintf(shop.origin, sizeof shop.origin, "http://127.0.0.1:%d", httpbin_thread_port(server));
    lookup_price = lookup_price_over_http;

    printf("\nThe colour did not vanish, it moved from the compiler to the run time:\n"
           "calling version 2's report() from plain main() (not a task) fails at once:\n");
    fflush(stdout);
    char line[64];
    long outside = open_shop();
    if (outside == 0) {
        outside = report(table.items, 1, line, sizeof line);
        close_shop();
    }
    fflush(stderr);
    printf("  report() returned %ld (%s)\n", outside, co_strerror((int)outside));

    printf("\nSo version 2 runs in tasks: in one task (request after request), then in\n"
           "%d tasks, one per item (all requests at once).\n\n", items);
    fill(&calls, items);
    fill(&tasks, items);
    start = now_ms();
    rc = co_run(price_sequentially, &calls);
    calls.ms = now_ms() - start;
    start = now_ms();
    rc = rc < 0 ? rc : co_run(price_concurrently, &tasks);
    tasks.ms = now_ms() - start;
    httpbin_stop_thread(server, 1000, NULL);
    if (rc < 0) {
        fprintf(stderr, "colour: %s\n", co_strerror(rc));
        return 1;
    }

    print_row("version 1, table, plain main()", &table);
    print_row("version 2, HTTP, one task (sequential)", &calls);
    print_row("version 2, HTTP, one task per item (concurrent)", &tasks);
    bool same = table.total == calls.total && calls.total == tasks.total;
    printf("\n  same results: %s; concurrent is %.1fx faster than sequential\n",
           same ? "yes" : "NO", tasks.ms > 0 ? calls.ms / tasks.ms : 0.0);

    printf("\nWhy: a coloop task has its own stack, so a plain C function deep in a call\n"
           "chain can pause the task and resume it later: one network call added six\n"
           "lines to one function and changed no signature (the new name only lets one\n"
           "program hold both versions). In asyncio the same change makes lookup_price a\n"
           "coroutine, so every caller up to the entry point must become async and await\n"
           "it (the essays' \"40 functions rewritten for one HTTP call\").\n"
           "What that costs instead: the pause is invisible. Reading price_with_tax(),\n"
           "nothing says that other tasks may now run in the middle of it and change\n"
           "shared state; in asyncio, code between two awaits runs without interruption\n"
           "and the colour marks every place where it may not. coloop's answer is a rule,\n"
           "not a type: a function that can suspend is named await_*, so in real code\n"
           "this chain would be await_report() ... await_lookup_price(). The compiler does\n"
           "not enforce the rule; the run-time check (-CO_ENOTASK outside a task, above)\n"
           "and code review do.\n");
    return same ? 0 : 1;
}
