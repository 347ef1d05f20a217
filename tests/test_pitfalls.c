/* test_pitfalls.c - the pitfall demos (demos/pitfalls.c) run in their quick
 * configuration; each output is checked for its shape and for the outcome it
 * is about.  The suite runs from $(BUILD)/tests, next to $(BUILD)/demos. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/support.h"

#define DEMO "../demos/pitfalls --quick "

static char output[65536];

/* Run a command, keep stdout+stderr in `output`, return its exit status. */
static int run(const char *cmd)
{
    char full[256];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(output, 1, sizeof output - 1, p);
    output[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The number printed right after `label` (skipping spaces), or -1. */
static long number_after(const char *label)
{
    const char *at = strstr(output, label);
    return at ? strtol(at + strlen(label), NULL, 10) : -1;
}

/* The part of the output from `from` up to `to` (or the end), as a copy in
 * `buf`; fails the test if `from` is missing. */
static const char *section(const char *from, const char *to, char *buf, size_t len)
{
    const char *start = strstr(output, from);
    ck_assert_msg(start != NULL, "no '%s' in:\n%s", from, output);
    const char *end = to ? strstr(start + strlen(from), to) : NULL;
    size_t n = end ? (size_t)(end - start) : strlen(start);
    if (n >= len)
        n = len - 1;
    memcpy(buf, start, n);
    buf[n] = '\0';
    return buf;
}

/* How many times `needle` occurs in `hay`. */
static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *at = strstr(hay, needle); at; at = strstr(at + 1, needle))
        n++;
    return n;
}

/* The n-th number (0-based) after `label` on its line, or -1. */
static long nth_number_after(const char *label, int nth)
{
    const char *at = strstr(output, label);
    if (!at)
        return -1;
    at += strlen(label);
    for (;;) {
        while (*at && *at != '\n' && !(*at >= '0' && *at <= '9'))
            at++;
        if (*at < '0' || *at > '9')
            return -1;
        char *end;
        long v = strtol(at, &end, 10);
        if (nth-- == 0)
            return v;
        at = end;
    }
}

START_TEST(blocking_call_freezes_the_ticker_and_the_watchdog_names_it)
{
    ck_assert_int_eq(run(DEMO "blocking"), 0);
    ck_assert_ptr_nonnull(strstr(output, "task #2 'blocking-sleeper' (spawned at demos/pitfalls.c:"));
    ck_assert_ptr_nonnull(strstr(output, "usleep"));
    long blocked = number_after("usleep() - blocking, like time.sleep");
    long awaited = number_after("await_sleep_ms() - like asyncio.sleep");
    long pooled = number_after("usleep() on the pool - like to_thread");
    ck_assert_int_ge(blocked, 200);   /* the 250 ms block, seen by the ticker */
    ck_assert_int_lt(awaited, blocked / 2);
    ck_assert_int_lt(pooled, blocked / 2);
}
END_TEST

START_TEST(blocking_connect_freezes_the_ticker_and_the_dial_does_not)
{
    static char part[16384];
    ck_assert_int_eq(run(DEMO "blocking"), 0);
    /* the watchdog names the task, the call and the line, while it blocks */
    section("[4] task 'blocking-connect'", "[5] task 'dialer'", part, sizeof part);
    ck_assert_ptr_nonnull(strstr(part, "'blocking-connect' (spawned at demos/pitfalls.c:"));
    ck_assert_ptr_nonnull(strstr(part, "has held the loop"));
    ck_assert_ptr_nonnull(strstr(part, "It is blocked in connect"));
    ck_assert_ptr_nonnull(strstr(part, "connect_blocking at "));
    ck_assert_ptr_nonnull(strstr(part, "pitfalls.c:"));
    /* the fixes hold the loop for no one: no watchdog report */
    section("[2] task 'sleeper'", "[4] task", part, sizeof part);
    ck_assert_ptr_null(strstr(part, "has held the loop"));
    section("[5] task 'dialer'", "how the task waited", part, sizeof part);
    ck_assert_ptr_null(strstr(part, "has held the loop"));
    /* lateness: the ticker's, then the loop's own lag maximum */
    long blocked = nth_number_after("connect() - blocking, like a sync client", 0);
    long blocked_lag = nth_number_after("connect() - blocking, like a sync client", 1);
    long dialed = nth_number_after("dial_await_tcp() - like open_connection", 0);
    long dialed_lag = nth_number_after("dial_await_tcp() - like open_connection", 1);
    long pooled = nth_number_after("connect() on the pool - like to_thread", 0);
    ck_assert_int_ge(blocked, 200);   /* the 250 ms connect timeout, seen by the ticker */
    ck_assert_int_ge(blocked_lag, 200);
    ck_assert_int_lt(dialed, blocked / 2);
    ck_assert_int_lt(dialed_lag, blocked_lag / 2);
    ck_assert_int_lt(pooled, blocked / 2);
    /* each connect really waited for the full-backlog listener, and gave up */
    ck_assert_ptr_nonnull(strstr(output, "ms, EINPROGRESS"));
    ck_assert_ptr_nonnull(strstr(output, "ms, ETIMEDOUT"));
    ck_assert_int_ge(nth_number_after("dial_await_tcp() - like open_connection", 2), 200);
}
END_TEST

START_TEST(cpu_work_in_tasks_delays_the_ticker_more_than_on_the_pool)
{
    ck_assert_int_eq(run(DEMO "cpu"), 0);
    const char *row = strstr(output, "inside the tasks");
    ck_assert_ptr_nonnull(row);
    long in_task_total = strtol(row + strlen("inside the tasks"), (char **)&row, 10);
    long in_task_lag = strtol(row + strlen(" ms"), NULL, 10);
    ck_assert_int_gt(in_task_total, 0);
    long pool_lag = -1;
    row = strstr(output, "on the pool (await_thread)");
    ck_assert_ptr_nonnull(row);
    strtol(row + strlen("on the pool (await_thread)"), (char **)&row, 10);
    pool_lag = strtol(row + strlen(" ms"), NULL, 10);
    ck_assert_int_gt(in_task_lag, pool_lag);
    /* the loop's own lag statistics agree: p99 and max */
    long task_p99 = nth_number_after("inside the tasks", 2);
    long task_max = nth_number_after("inside the tasks", 3);
    long pool_max = nth_number_after("on the pool (await_thread)", 3);
    ck_assert_int_ge(task_p99, 0);
    ck_assert_int_ge(task_max, task_p99);
    ck_assert_int_gt(task_max, pool_max);
    /* the watchdog reports the computing tasks, where they compute, and
     * nothing when the work is on the pool */
    static char part[16384];
    section("[1] computing in the tasks", "[2] computing on the worker pool", part, sizeof part);
    ck_assert_ptr_nonnull(strstr(part, "'crunch-1' (spawned at demos/pitfalls.c:"));
    ck_assert_ptr_nonnull(strstr(part, "has held the loop"));
    ck_assert_ptr_nonnull(strstr(part, "It is running (computing, not waiting)"));
    ck_assert_ptr_nonnull(strstr(part, "count_primes at "));
    section("[2] computing on the worker pool", "where the work ran", part, sizeof part);
    ck_assert_ptr_null(strstr(part, "has held the loop"));
}
END_TEST

START_TEST(sequential_await_is_ten_times_slower)
{
    ck_assert_int_eq(run(DEMO "sequential"), 0);
    long serial = number_after("spawn, join, spawn, join...");
    long together = number_after("spawn all ten, then join all");
    ck_assert_int_ge(serial, 500);           /* 10 x 50 ms, one after another */
    ck_assert_int_lt(together, serial / 3);
    /* real requests to the built-in httpbin, every one answered */
    ck_assert_ptr_nonnull(strstr(output, "/delay/50 (the built-in httpbin"));
    ck_assert_int_eq(count(output, "(10 of 10 answered 200)"), 2);
    /* the task dumps: one request in flight, then all ten */
    static char part[16384];
    section("[1] awaited one by one:", "[2] all started, then joined:", part, sizeof part);
    ck_assert_ptr_nonnull(strstr(part, "task dump at"));
    ck_assert_int_eq(count(part, " request-"), 1);
    ck_assert_ptr_nonnull(strstr(part, "waiting for fd"));
    section("[2] all started, then joined:", "spawn, join, spawn, join...", part, sizeof part);
    ck_assert_ptr_nonnull(strstr(part, "task dump at"));
    ck_assert_int_eq(count(part, " request-"), 10);
}
END_TEST

START_TEST(errors_show_gather_group_and_return_exceptions)
{
    ck_assert_int_eq(run(DEMO "errors"), 0);
    ck_assert_ptr_nonnull(strstr(output, "await_all (gather with return_exceptions=True): 1 failed"));
    const char *group = strstr(output, "task group (asyncio.TaskGroup): returned Connection refused");
    ck_assert_ptr_nonnull(group);
    ck_assert_ptr_nonnull(strstr(group, "medium  was cancelled"));
    const char *gather = strstr(output, "gather default: raised 'Connection refused'");
    ck_assert_ptr_nonnull(gather);
    ck_assert_ptr_nonnull(strstr(gather, "slow    finished"));   /* nobody cancelled it */
}
END_TEST

START_TEST(forgotten_handle_is_reported_with_its_error)
{
    ck_assert_int_eq(run(DEMO "references"), 0);
    ck_assert_ptr_nonnull(strstr(output, "'forgotten-fetch' (spawned at demos/pitfalls.c:"));
    ck_assert_ptr_nonnull(strstr(output, "never joined or detached"));
    ck_assert_ptr_nonnull(strstr(output, "Connection refused): an error nobody saw"));
    /* only the dropped handle is reported; the three fixes leave nothing */
    ck_assert_int_eq(count(output, "never joined"), 1);
    ck_assert_int_eq(count(output, "at loop end: 0 handles nobody consumed, no ownership report"), 3);
    static char part[16384];
    section("[1] the handle dropped", "[2] fixed", part, sizeof part);
    ck_assert_ptr_nonnull(strstr(part, "at loop end: 1 handle(s) nobody consumed"));
    ck_assert_ptr_nonnull(strstr(part, "'forgotten-fetch'"));
    section("[2] fixed: joined", "[3] fixed", part, sizeof part);
    ck_assert_ptr_nonnull(strstr(part, "'joined-fetch' returned -111 (Connection refused)"));
    ck_assert_ptr_nonnull(strstr(part, "no ownership report"));
    /* detached: the failure is logged as it happens, before the parent ends */
    section("[3] fixed: detached", "[4] fixed", part, sizeof part);
    const char *logged = strstr(part, "detached task #2 'detached-fetch'");
    ck_assert_ptr_nonnull(logged);
    ck_assert_ptr_nonnull(strstr(logged, "failed: Connection refused"));
    const char *parent_ends = strstr(part, "the parent ends at");
    ck_assert_ptr_nonnull(parent_ends);
    ck_assert(logged < parent_ends);
    ck_assert_ptr_nonnull(strstr(part, "no ownership report"));
    section("[4] fixed: spawned in a task group", "Fix:", part, sizeof part);
    ck_assert_ptr_nonnull(strstr(part, "group_await() returned -111 (Connection refused)"));
    ck_assert_ptr_nonnull(strstr(part, "no ownership report"));
}
END_TEST

START_TEST(forgetting_to_await_has_three_shapes_each_reported)
{
    ck_assert_int_eq(run(DEMO "forgotten"), 0);
    ck_assert_ptr_nonnull(strstr(output, "await_sleep_ms() called outside a task"));
    ck_assert_ptr_nonnull(strstr(output, "await_* called outside a task"));   /* co_strerror */
    ck_assert_ptr_nonnull(strstr(output, "'compute_answer'"));
    ck_assert_ptr_nonnull(strstr(output, "it returned 42 (ok)"));
    ck_assert_ptr_nonnull(strstr(output, "detached task #2 'background-refresh'"));
    ck_assert_ptr_nonnull(strstr(output, "failed: Connection timed out"));
}
END_TEST

START_TEST(a_task_that_never_yields_cannot_be_cancelled)
{
    ck_assert_int_eq(run(DEMO "noyield"), 0);
    long never = number_after("the canceller got to run after");
    const char *second = strstr(output, "with await_yield() every 10 ms");
    ck_assert_ptr_nonnull(second);
    long yields = strtol(strstr(second, "got to run after") + strlen("got to run after"), NULL, 10);
    ck_assert_int_ge(never, 140);   /* it ran its whole 150 ms first */
    ck_assert_int_lt(yields, never);
    /* the watchdog names the task that never yields, and where it computes */
    static char part[16384];
    section("without await_* in its loop", "with await_yield() every 10 ms", part, sizeof part);
    ck_assert_ptr_nonnull(strstr(part, "task #2 'spinner' (spawned at demos/pitfalls.c:"));
    ck_assert_ptr_nonnull(strstr(part, "has held the loop"));
    ck_assert_ptr_nonnull(strstr(part, "spin_task at "));
    /* the one that yields is never reported */
    section("with await_yield() every 10 ms", "Why:", part, sizeof part);
    ck_assert_ptr_null(strstr(part, "has held the loop"));
    ck_assert_ptr_null(strstr(part, "task #2 'yielding-spinner'"));
}
END_TEST

START_TEST(errno_after_a_yield_is_another_tasks)
{
    ck_assert_int_eq(run(DEMO "errno"), 0);
    ck_assert_ptr_nonnull(strstr(output, "errno copied right after read():  EAGAIN"));
    ck_assert_ptr_nonnull(strstr(output, "errno read after the yield:       ENOENT"));
}
END_TEST

START_TEST(help_lists_the_demos_and_an_unknown_name_fails)
{
    ck_assert_int_eq(run("../demos/pitfalls --help"), 0);
    ck_assert_ptr_nonnull(strstr(output, "blocking cpu sequential errors references forgotten noyield errno"));
    ck_assert_int_eq(run(DEMO "no-such-demo"), 2);
    ck_assert_ptr_nonnull(strstr(output, "no demo named 'no-such-demo'"));
}
END_TEST

static Suite *pitfalls_suite(void)
{
    Suite *s = suite_create("pitfalls");
    TCase *tc = tcase_create("pitfalls");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, blocking_call_freezes_the_ticker_and_the_watchdog_names_it);
    tcase_add_test(tc, blocking_connect_freezes_the_ticker_and_the_dial_does_not);
    tcase_add_test(tc, cpu_work_in_tasks_delays_the_ticker_more_than_on_the_pool);
    tcase_add_test(tc, sequential_await_is_ten_times_slower);
    tcase_add_test(tc, errors_show_gather_group_and_return_exceptions);
    tcase_add_test(tc, forgotten_handle_is_reported_with_its_error);
    tcase_add_test(tc, forgetting_to_await_has_three_shapes_each_reported);
    tcase_add_test(tc, a_task_that_never_yields_cannot_be_cancelled);
    tcase_add_test(tc, errno_after_a_yield_is_another_tasks);
    tcase_add_test(tc, help_lists_the_demos_and_an_unknown_name_fails);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(pitfalls_suite)
