/* test_claim_demos.c - the demos of claims C15-C19 (demos/colour.c,
 * sync_async.c, mixing.c, debugview.c) run in their quick configuration;
 * each output is checked for its shape and for the outcome it is about.
 * The suite runs from $(BUILD)/tests, next to $(BUILD)/demos. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/support.h"

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

#define ck_assert_output_has(needle) \
    ck_assert_msg(strstr(output, (needle)) != NULL, "'%s' not in the output:\n%s", (needle), output)

/* The number printed right after `label` (skipping spaces) at or after
 * `from`, or -1. */
static double number_after(const char *from, const char *label)
{
    const char *at = strstr(from ? from : output, label);
    return at ? strtod(at + strlen(label), NULL) : -1;
}

/* The text after "total" and the time on the row labelled `label`. */
static void row_total_and_ms(const char *label, double *total, double *ms)
{
    const char *row = strstr(output, label);
    ck_assert_msg(row != NULL, "no row '%s' in:\n%s", label, output);
    char *end;
    *total = strtod(strstr(row, "total") + strlen("total"), &end);
    *ms = strtod(end, NULL);
}

/* --- colour (C16) ---------------------------------------------------------- */

START_TEST(colour_both_versions_agree_and_concurrent_is_faster)
{
    ck_assert_int_eq(run("../demos/colour --quick"), 0);
    /* the diff: the chain is untouched, the HTTP call is an added line */
    ck_assert_output_has("  - static int lookup_price_in_table(int item)");
    ck_assert_output_has("  + static int lookup_price_over_http(int item)");
    ck_assert_output_has("  +     int rc = http_await_get(shop.client, url, &r, CO_NO_DEADLINE);");
    ck_assert_output_has("        return cents;");   /* a context line: unchanged */
    /* the colour moved to run time: outside a task, version 2 is refused */
    ck_assert_output_has("http_await_request() called outside a task");
    double table, seq, conc, table_ms, seq_ms, conc_ms;
    row_total_and_ms("version 1, table, plain main()", &table, &table_ms);
    row_total_and_ms("version 2, HTTP, one task (sequential)", &seq, &seq_ms);
    row_total_and_ms("version 2, HTTP, one task per item (concurrent)", &conc, &conc_ms);
    ck_assert_double_gt(table, 0);
    ck_assert_double_eq(table, seq);
    ck_assert_double_eq(seq, conc);
    ck_assert_output_has("same results: yes");
    ck_assert_double_ge(seq_ms, 20 * 20);      /* 20 requests of 20 ms, one after another */
    ck_assert_double_lt(conc_ms, seq_ms / 2);  /* all at once */
    ck_assert_output_has("Why:");
}
END_TEST

/* --- sync_async (C17, C18) ------------------------------------------------- */

START_TEST(sync_async_runs_a_fan_out_from_plain_code_and_refuses_to_nest)
{
    ck_assert_int_eq(run("../demos/sync_async --quick"), 0);
    ck_assert_output_has("step 3 (plain code again): 20 of 20 answered 200");
    double fan_out = number_after(strstr(output, "step 3"), "bytes, in");
    ck_assert_double_gt(fan_out, 0);
    ck_assert_double_lt(fan_out, 20 * 40 / 2);   /* overlapped, not 20 x 40 ms */
    /* the nested run: refused, by its message and its code's words */
    ck_assert_output_has("coloop: co_run() called at demos/sync_async.c:");
    ck_assert_output_has("while a loop is running on this thread (from task 'handler_task')");
    ck_assert_output_has("fetch_all() returned -10004: a loop is already running on this thread "
                         "(co_run cannot nest)");
    ck_assert_output_has("await_fetch_all(urls, 20): 20 answered 200");
    /* the blocking boundary: directly it serialises, on the pool it overlaps */
    double direct = number_after(NULL, "called directly in the task");
    double pooled = number_after(NULL, "through the pool, await_thread() (to_thread)");
    ck_assert_double_ge(direct, 100 + 40 - 5);
    ck_assert_double_lt(pooled, direct - 20);
    ck_assert_output_has("Why:");
}
END_TEST

/* --- mixing (C15) --------------------------------------------------------- */

START_TEST(mixing_watchdog_names_the_blocked_task_and_the_fixes_answer)
{
    ck_assert_int_eq(run("../demos/mixing --quick"), 0);
    /* named while it blocks: task, spawn site, system call, our function */
    ck_assert_output_has("'blocking-client' (spawned at demos/mixing.c:");
    ck_assert_output_has("has held the loop for");
    ck_assert_output_has("It is blocked in read, right now:");
    ck_assert_output_has("blocking_http_get");
    ck_assert_output_has("gave the loop back after holding it for");
    /* it ended by itself, unanswered; then both fixes were answered */
    double gave_up = number_after(NULL, "-> no answer: gave up after");
    ck_assert_double_ge(gave_up, 450);
    ck_assert_output_has("(read() timed out: SO_RCVTIMEO)");
    const char *fix1 = strstr(output, "2. Fix: the coroutine client");
    const char *fix2 = strstr(output, "3. Fix: the same blocking client on the worker pool");
    ck_assert_ptr_nonnull(fix1);
    ck_assert_ptr_nonnull(fix2);
    ck_assert_ptr_nonnull(strstr(fix1, "-> 200 after"));
    ck_assert_ptr_nonnull(strstr(fix2, "-> 200 after"));
    ck_assert_output_has("Why:");
}
END_TEST

/* --- debugview (C19) ------------------------------------------------------- */

/* The first line at or after `from` that contains `needle`, or "". */
static const char *line_with(const char *from, const char *needle)
{
    static char line[512];
    line[0] = '\0';
    const char *at = from ? strstr(from, needle) : NULL;
    if (!at)
        return line;
    const char *start = at;
    while (start > output && start[-1] != '\n')
        start--;
    const char *end = strchr(at, '\n');
    size_t len = end ? (size_t)(end - start) : strlen(start);
    snprintf(line, sizeof line, "%.*s", (int)len, start);
    return line;
}

#define ck_assert_line_has(line, needle) \
    ck_assert_msg(strstr((line), (needle)) != NULL, "'%s' not in the line '%s'", (needle), (line))

START_TEST(debugview_dumps_show_the_stuck_task_and_the_watchdog_its_stack)
{
    ck_assert_int_eq(run("../demos/debugview --quick"), 0);
    /* 1. SIGQUIT at the process: the loop's dump, every task, the stuck one
     *    with its state, what it waits on and its spawn site */
    const char *sigquit = strstr(output, "coloop: SIGQUIT: task dump");
    ck_assert_msg(sigquit != NULL, "no SIGQUIT dump in:\n%s", output);
    const char *stuck = line_with(sigquit, "stuck-fetch ");
    ck_assert_line_has(stuck, "waiting  waiting for fd");
    ck_assert_line_has(stuck, "readable");
    ck_assert_line_has(stuck, "spawned at demos/debugview.c:");
    ck_assert_line_has(line_with(sigquit, "crawler-1 "), "spawned at demos/debugview.c:");
    /* 2. on request: the crawl's main task joins the stuck one */
    const char *api = strstr(output, "loop_dump_tasks(loop_current(), stdout)");
    ck_assert_ptr_nonnull(api);
    const char *crawl = line_with(api, " crawl ");
    ck_assert_line_has(crawl, "joining task #");
    ck_assert_line_has(crawl, "'stuck-fetch'");
    ck_assert_line_has(line_with(api, "stuck-fetch "), "waiting for fd");
    /* 3. the watchdog, live, with the computing function on top */
    const char *dog = strstr(output, "'indexer' (spawned at demos/debugview.c:");
    ck_assert_msg(dog != NULL, "no watchdog report in:\n%s", output);
    /* (normally before the "gave the loop back" line; a slow addr2line can delay it) */
    ck_assert_line_has(line_with(strstr(output, "--- 3."), "has held the loop for"), "'indexer'");
    ck_assert_ptr_nonnull(strstr(dog, "It is running (computing, not waiting), right now:"));
    /* The sample lands in build_index or in the clock read it calls (now_ms,
     * where build_index's own frame may be skipped by the unwinder): either
     * way a frame in the demo's code, with its line. */
    const char *report_end = strstr(dog, "gave the loop back");
    char report[4096];
    size_t report_len = report_end ? (size_t)(report_end - dog) : strlen(dog);
    snprintf(report, sizeof report, "%.*s", (int)report_len, dog);
    ck_assert_msg(strstr(report, "build_index at ") || strstr(report, "now_ms at "),
                  "no frame in the indexer's code in: %.600s", report);
    /* the crawl itself, and the end of the stuck task */
    ck_assert_output_has("12 pages fetched, 0 failed");
    ck_assert_output_has("(Operation canceled)");
    ck_assert_output_has("all_tasks()");
    ck_assert_output_has("Why:");
}
END_TEST

START_TEST(every_demo_has_help_and_rejects_unknown_arguments)
{
    static const char *const demos[] = { "colour", "sync_async", "mixing", "debugview" };
    for (size_t i = 0; i < sizeof demos / sizeof demos[0]; i++) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "../demos/%s --help", demos[i]);
        ck_assert_int_eq(run(cmd), 0);
        ck_assert_output_has("usage:");
        ck_assert_output_has("--quick");
        snprintf(cmd, sizeof cmd, "../demos/%s --no-such-option", demos[i]);
        ck_assert_int_eq(run(cmd), 2);
        ck_assert_output_has("unknown argument '--no-such-option'");
    }
}
END_TEST

static Suite *claim_demos_suite(void)
{
    Suite *s = suite_create("claim_demos");
    TCase *tc = tcase_create("claim_demos");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, colour_both_versions_agree_and_concurrent_is_faster);
    tcase_add_test(tc, sync_async_runs_a_fan_out_from_plain_code_and_refuses_to_nest);
    tcase_add_test(tc, mixing_watchdog_names_the_blocked_task_and_the_fixes_answer);
    tcase_add_test(tc, debugview_dumps_show_the_stuck_task_and_the_watchdog_its_stack);
    tcase_add_test(tc, every_demo_has_help_and_rejects_unknown_arguments);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(claim_demos_suite)
