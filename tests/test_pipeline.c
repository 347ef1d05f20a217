/* test_pipeline.c - the pipeline demo (demos/pipeline.c, claim C5) in its
 * quick configuration: one task per source beats one source after another,
 * but never beats the longest chain - the bound the demo explains.  The
 * suite runs from $(BUILD)/tests, next to $(BUILD)/demos. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/support.h"

static char output[16384];

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

static double json_number(const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *at = strstr(output, pat);
    return at ? strtod(at + strlen(pat), NULL) : -1;
}

START_TEST(sources_overlap_but_no_run_beats_the_longest_chain)
{
    ck_assert_int_eq(run("../demos/pipeline --quick --json"), 0);
    double seq = json_number("sequential_s"), conc = json_number("concurrent_s");
    double sum = json_number("sum_of_chains_s"), longest = json_number("longest_chain_s");
    ck_assert_msg(seq > 0 && conc > 0 && sum > 0 && longest > 0, "%s", output);
    ck_assert_double_ge(seq, sum);          /* one after another: every wait, in a row */
    ck_assert_double_ge(conc, longest);     /* together: never below the critical path */
    ck_assert_double_lt(conc, seq / 3);
}
END_TEST

START_TEST(a_concurrency_cap_of_one_is_sequential_again)
{
    ck_assert_int_eq(run("../demos/pipeline --quick --concurrency 1 --json"), 0);
    double seq = json_number("sequential_s"), conc = json_number("concurrent_s");
    ck_assert_double_ge(conc, json_number("sum_of_chains_s"));
    ck_assert_double_gt(conc, seq * 0.8);
}
END_TEST

START_TEST(report_explains_the_bound)
{
    ck_assert_int_eq(run("../demos/pipeline --quick"), 0);
    ck_assert_ptr_nonnull(strstr(output, "Why not 12x"));
    ck_assert_ptr_nonnull(strstr(output, "the best possible speed-up is sum / longest"));
    ck_assert_int_eq(run("../demos/pipeline --sources 0"), 2);
}
END_TEST

static Suite *pipeline_suite(void)
{
    Suite *s = suite_create("pipeline");
    TCase *tc = tcase_create("demo");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, sources_overlap_but_no_run_beats_the_longest_chain);
    tcase_add_test(tc, a_concurrency_cap_of_one_is_sequential_again);
    tcase_add_test(tc, report_explains_the_bound);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(pipeline_suite)
