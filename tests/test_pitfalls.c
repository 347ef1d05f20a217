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
}
END_TEST

START_TEST(sequential_await_is_ten_times_slower)
{
    ck_assert_int_eq(run(DEMO "sequential"), 0);
    long serial = number_after("spawn, join, spawn, join...");
    long together = number_after("spawn all ten, then join all");
    ck_assert_int_ge(serial, 500);           /* 10 x 50 ms, one after another */
    ck_assert_int_lt(together, serial / 3);
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
    const char *second = strstr(output, "with await_yield() every 10 ms:");
    ck_assert_ptr_nonnull(second);
    long yields = strtol(strstr(second, "got to run after") + strlen("got to run after"), NULL, 10);
    ck_assert_int_ge(never, 140);   /* it ran its whole 150 ms first */
    ck_assert_int_lt(yields, never);
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
