/* test_headline.c - the headline experiment (demos/headline.c, `make demo`)
 * in a small configuration: the table has every way, the numbers have the
 * shape the claims predict (overlapped waits beat sequential ones by far;
 * awaiting one at a time does not), the JSON is complete, and bad options
 * are refused.  The suite runs from $(BUILD)/tests, next to $(BUILD)/demos. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/support.h"

#define DEMO "../demos/headline "

static char output[65536];

/* Run a command, keep stdout+stderr in `output`, return its exit status. */
static int run(const char *cmd)
{
    char full[512];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(output, 1, sizeof output - 1, p);
    output[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The wall-time column of the table row labelled `label` (seconds), or -1. */
static double row_seconds(const char *label)
{
    const char *table = strstr(output, "wall time");   /* the table's header */
    const char *row = table ? strstr(table, label) : NULL;
    if (!row)
        return -1;
    const char *end = strchr(row, '\n');
    /* the wall time is the first number followed by " s" on the row */
    for (const char *p = row + strlen(label); p && p < end; p++) {
        char *stop;
        double v = strtod(p, &stop);
        if (stop != p && strncmp(stop, " s", 2) == 0)
            return v;
        if (stop != p)
            p = stop - 1;
    }
    return -1;
}

/* A JSON number after "key": in `from`, or -1. */
static double json_number(const char *from, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *at = strstr(from, pat);
    return at ? strtod(at + strlen(pat), NULL) : -1;
}

START_TEST(quick_run_shows_overlapped_waits_beating_sequential_ones)
{
    /* 12 requests of 100 ms; the sequential ways measure 4 and scale up. */
    ck_assert_int_eq(run(DEMO "-n 12 --delay-ms 100 --sample 4 --threads 3,N"), 0);
    double seq = row_seconds("sequential, blocking sockets");
    double pool3 = row_seconds("thread pool, 3 threads");
    double pool12 = row_seconds("thread pool, 12 threads");
    double all = row_seconds("coroutines, all in flight");
    double each = row_seconds("coroutines, awaited one by one");
    ck_assert_msg(seq > 0 && pool3 > 0 && pool12 > 0 && all > 0 && each > 0, "%s", output);
    ck_assert_ptr_nonnull(strstr(output, "4 of 12"));       /* the sample is labelled */
    ck_assert_ptr_nonnull(strstr(output, "scaled to 12"));
    ck_assert_double_ge(seq, 1.1);                          /* 12 x 100 ms, estimated */
    ck_assert_double_ge(each, 1.1);
    ck_assert_double_ge(pool3, 0.39);                       /* 4 rounds of 100 ms */
    ck_assert_double_lt(pool3, seq);
    /* Overlapped: every wait at once, so about one delay, far below 12. */
    ck_assert_double_ge(all, 0.1);
    ck_assert_double_lt(all, seq / 3);
    ck_assert_double_lt(pool12, seq / 3);
    ck_assert_ptr_nonnull(strstr(output, "What the numbers show"));
    ck_assert_ptr_null(strstr(output, "failed"));
}
END_TEST

START_TEST(json_has_every_way_with_its_threads)
{
    ck_assert_int_eq(run(DEMO "-n 6 --delay-ms 50 --sample 2 --threads N --json"), 0);
    const char *ways[] = { "sequential-blocking", "threads-6", "coroutines-all",
                           "coroutines-one-by-one" };
    for (size_t i = 0; i < sizeof ways / sizeof *ways; i++) {
        char key[64];
        snprintf(key, sizeof key, "\"way\": \"%s\"", ways[i]);
        const char *at = strstr(output, key);
        ck_assert_msg(at != NULL, "%s missing in %s", ways[i], output);
        ck_assert_double_ge(json_number(at, "wall_s"), 0.05);
        ck_assert_msg(json_number(at, "ok") == json_number(at, "requests"), "%s", at);
    }
    /* Six threads did the requests of the pool way (plus the main thread);
     * the coroutines ran on one. */
    ck_assert_double_ge(json_number(strstr(output, "threads-6"), "threads_peak"), 7);
    ck_assert_double_eq(json_number(strstr(output, "coroutines-all"), "threads_peak"), 1);
    ck_assert_ptr_nonnull(strstr(output, "\"extrapolated\": true"));
}
END_TEST

START_TEST(unreachable_url_is_reported_not_hidden)
{
    /* Port 1 on loopback: nothing listens; every way must say so and the
     * program must exit non-zero. */
    ck_assert_int_eq(run(DEMO "-n 2 --sample 1 --threads 2 --url http://127.0.0.1:1/delay/0"), 1);
    ck_assert_msg(strstr(output, "requests failed; the first: connect") != NULL, "%s", output);
    ck_assert_ptr_nonnull(strstr(output, "Connection refused"));
}
END_TEST

START_TEST(bad_options_are_refused)
{
    ck_assert_int_eq(run(DEMO "-n 0"), 2);
    ck_assert_int_eq(run(DEMO "--threads 5,x"), 2);
    ck_assert_int_eq(run(DEMO "--url"), 2);
    ck_assert_int_eq(run(DEMO "--help"), 0);
    ck_assert_ptr_nonnull(strstr(output, "--delay-ms"));
}
END_TEST

static Suite *headline_suite(void)
{
    Suite *s = suite_create("headline");
    TCase *tc = tcase_create("demo");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, quick_run_shows_overlapped_waits_beating_sequential_ones);
    tcase_add_test(tc, json_has_every_way_with_its_threads);
    tcase_add_test(tc, unreachable_url_is_reported_not_hidden);
    tcase_add_test(tc, bad_options_are_refused);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(headline_suite)
