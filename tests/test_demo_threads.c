/* test_demo_threads.c - demos/threads_vs_tasks in its quick configuration:
 * every waiter of both kinds starts, the wall time is about one wait (they
 * overlap), and a task costs less memory than a thread (claim C6). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/support.h"

struct row { long n; char kind[16]; double create_ms, wall_ms, peak_mib, per_kib; };

static int read_rows(const char *cmd, struct row *rows, int max)
{
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char line[512];
    int count = 0;
    while (fgets(line, sizeof line, p) && count < max) {
        struct row r;
        if (sscanf(line, " %ld %15s %lf ms %lf ms %lf MiB %lf KiB", &r.n, r.kind, &r.create_ms,
                   &r.wall_ms, &r.peak_mib, &r.per_kib) == 6) {
            ck_assert_ptr_null(strstr(line, "FAILED"));
            rows[count++] = r;
        }
    }
    ck_assert_int_eq(WEXITSTATUS(pclose(p)), 0);
    return count;
}

START_TEST(tasks_cost_less_memory_than_threads_and_both_overlap_their_waits)
{
    struct row rows[8];
    int n = read_rows("../demos/threads_vs_tasks --quick", rows, 8);
    ck_assert_int_eq(n, 4);   /* 100 and 1000, threads and tasks */
    for (int i = 0; i < n; i += 2) {
        ck_assert_str_eq(rows[i].kind, "threads");
        ck_assert_str_eq(rows[i + 1].kind, "tasks");
        ck_assert_int_eq(rows[i].n, rows[i + 1].n);
        for (int k = i; k < i + 2; k++) {
            /* each waited 200 ms, all at the same time: about creation + one wait,
             * nowhere near N waits (sanitizer builds make creation slow) */
            ck_assert_double_ge(rows[k].wall_ms, 195.0);
            ck_assert_double_lt(rows[k].wall_ms, rows[k].create_ms + 200.0 * 3);
        }
    }
    /* at 1000 waiters the per-waiter cost dominates the fixed costs */
    ck_assert_double_lt(rows[3].per_kib, rows[2].per_kib);
}
END_TEST

static Suite *demo_threads_suite(void)
{
    Suite *s = suite_create("demo_threads");
    TCase *tc = tcase_create("demo_threads");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, tasks_cost_less_memory_than_threads_and_both_overlap_their_waits);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(demo_threads_suite)
