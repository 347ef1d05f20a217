/* test_demo_threads.c - demos/threads_vs_tasks (claim C6): in its quick timer
 * configuration every waiter of both kinds starts, the wall time is about one
 * wait (they overlap), and a task costs less memory than a thread; the socket
 * variant (GET /delay/MS from the built-in httpbin) does the same in a small
 * configuration; and when a real limit stops the threads, the demo names that
 * limit.  The limits are lowered for real in the demo's process, never faked:
 * ulimit -v (RLIMIT_AS, enforced for everyone, root included) and, when the
 * suite runs as root, ulimit -u (RLIMIT_NPROC) after switching to the user
 * nobody (the kernel does not enforce RLIMIT_NPROC for root). */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support.h"

#define DEMO "../demos/threads_vs_tasks"

struct row {
    long n;
    char kind[16];
    double create_ms, wall_ms, peak_mib, per_kib;
    bool failed;
    char error[256];    /* its "start error:" line, if it failed */
    char why[512];      /* its "stopped by" line */
};

/* Parse the table rows (and the lines under a failed row) of the demo's output. */
static int parse_rows(FILE *p, struct row *rows, int max)
{
    char line[1024];
    int count = 0;
    while (fgets(line, sizeof line, p)) {
        struct row r = { 0 };
        if (count < max && sscanf(line, " %ld %15s %lf ms %lf ms %lf MiB %lf KiB", &r.n, r.kind,
                                  &r.create_ms, &r.wall_ms, &r.peak_mib, &r.per_kib) == 6) {
            r.failed = strstr(line, "FAILED") != NULL;
            rows[count++] = r;
        } else if (count > 0 && strncmp(line, "          ", 10) == 0) {   /* under a row */
            line[strcspn(line, "\n")] = '\0';
            const char *s;
            if ((s = strstr(line, "start error: ")) != NULL)
                snprintf(rows[count - 1].error, sizeof rows[0].error, "%s", s + 13);
            else if ((s = strstr(line, "stopped by ")) != NULL)
                snprintf(rows[count - 1].why, sizeof rows[0].why, "%s", s + 11);
        }
    }
    return count;
}

static int read_rows(const char *cmd, struct row *rows, int max)
{
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    int count = parse_rows(p, rows, max);
    ck_assert_int_eq(WEXITSTATUS(pclose(p)), 0);
    return count;
}

/* Rows come in pairs (threads, tasks) per N, all of them complete; both kinds
 * waited wait_ms at the same time: about creation + one wait, nowhere near N
 * waits (sanitizer builds make creation slow; sockets add connection setup). */
static void check_pairs(const struct row *rows, int n, double wait_ms)
{
    for (int i = 0; i < n; i += 2) {
        ck_assert_str_eq(rows[i].kind, "threads");
        ck_assert_str_eq(rows[i + 1].kind, "tasks");
        ck_assert_int_eq(rows[i].n, rows[i + 1].n);
        for (int k = i; k < i + 2; k++) {
            ck_assert_msg(!rows[k].failed, "%ld %s failed: %s", rows[k].n, rows[k].kind,
                          rows[k].why);
            ck_assert_double_ge(rows[k].wall_ms, wait_ms - 5.0);
            ck_assert_double_lt(rows[k].wall_ms, rows[k].create_ms + wait_ms * 3);
        }
    }
}

START_TEST(tasks_cost_less_memory_than_threads_and_both_overlap_their_waits)
{
    struct row rows[8];
    int n = read_rows(DEMO " --quick --timer", rows, 8);
    ck_assert_int_eq(n, 4);   /* 100 and 1000, threads and tasks */
    check_pairs(rows, n, 200.0);
    /* at 1000 waiters the per-waiter cost dominates the fixed costs */
    ck_assert_double_lt(rows[3].per_kib, rows[2].per_kib);
}
END_TEST

START_TEST(socket_waiters_overlap_and_tasks_cost_less_than_threads)
{
    struct row rows[4];
    FILE *p = popen(DEMO " --socket --wait-ms 200 200", "r");
    ck_assert_ptr_nonnull(p);
    char out[8192];
    size_t len = fread(out, 1, sizeof out - 1, p);
    out[len] = '\0';
    ck_assert_int_eq(WEXITSTATUS(pclose(p)), 0);
    ck_assert_msg(strstr(out, "Variant 2, socket") && strstr(out, "GETs /delay/200"), "%s", out);
    ck_assert_msg(!strstr(out, "Variant 1"), "--socket runs only the socket variant: %s", out);
    FILE *m = fmemopen(out, len, "r");
    ck_assert_ptr_nonnull(m);
    int n = parse_rows(m, rows, 4);
    fclose(m);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(rows[0].n, 200);
    check_pairs(rows, n, 200.0);
    /* 200 waiters, each holding a connection: a task still costs less than a thread */
    ck_assert_double_lt(rows[1].per_kib, rows[0].per_kib);
}
END_TEST

/* ulimit -v 32 MiB: the demo's process maps a few MiB, and each thread (and
 * each task) ~68 KiB of address space, so ~400 of 1000 start.  The shell sets
 * the limit (popen runs /bin/sh outside any Valgrind of this process).
 * AddressSanitizer reserves terabytes of address space: no ASan program runs
 * under such a limit, so this test has nothing to check there. */
START_TEST(address_space_limit_stops_threads_and_is_named)
{
#if defined(__SANITIZE_ADDRESS__)
    return;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    return;
#endif
#endif
    struct row rows[2];
    int n = read_rows("ulimit -v 32768 && exec " DEMO " --timer --wait-ms 50 1000", rows, 2);
    ck_assert_int_eq(n, 2);
    for (int k = 0; k < 2; k++) {
        ck_assert_msg(rows[k].failed, "%s: every one of 1000 started under ulimit -v 32768",
                      rows[k].kind);
        ck_assert_msg(strstr(rows[k].why, "ulimit -v (RLIMIT_AS) 32768 KiB"), "%s: %s",
                      rows[k].kind, rows[k].why);
    }
    ck_assert_str_eq(rows[0].kind, "threads");
    ck_assert_ptr_nonnull(strstr(rows[0].why, " threads started"));
    /* a thread's error is pthread_create's errno, a task's a coloop code */
    ck_assert_str_eq(rows[0].error, strerror(EAGAIN));
    ck_assert_str_eq(rows[1].kind, "tasks");
    ck_assert_ptr_nonnull(strstr(rows[1].why, " tasks started"));
    ck_assert_str_eq(rows[1].error, co_strerror(-ENOMEM));
}
END_TEST

/* ulimit -u 60 for the user nobody: the demo, its measuring child and ~58
 * threads.  Only root can switch users, and only a user other than root has
 * RLIMIT_NPROC enforced; elsewhere the test says so and checks nothing. */
START_TEST(process_limit_stops_threads_and_is_named)
{
    if (geteuid() != 0) {
        fprintf(stderr, "demo_threads: not root, the ulimit -u test is skipped\n");
        return;
    }
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct rlimit rl = { 60, 60 };
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]), close(fds[1]);
        if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0 ||
            setrlimit(RLIMIT_NPROC, &rl) != 0)
            _exit(3);
        execl(DEMO, DEMO, "--timer", "--wait-ms", "50", "200", (char *)NULL);
        _exit(4);
    }
    close(fds[1]);
    FILE *p = fdopen(fds[0], "r");
    ck_assert_ptr_nonnull(p);
    struct row rows[2];
    int n = parse_rows(p, rows, 2);
    fclose(p);
    int status;
    waitpid(pid, &status, 0);
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(rows[0].kind, "threads");
    ck_assert_msg(rows[0].failed, "all 200 threads started under ulimit -u 60");
    ck_assert_msg(strstr(rows[0].why, "ulimit -u (RLIMIT_NPROC) 60"), "%s", rows[0].why);
    ck_assert_str_eq(rows[0].error, strerror(EAGAIN));
    /* tasks are not processes: all of them start */
    ck_assert_str_eq(rows[1].kind, "tasks");
    ck_assert_msg(!rows[1].failed, "%s", rows[1].why);
}
END_TEST

static Suite *demo_threads_suite(void)
{
    Suite *s = suite_create("demo_threads");
    TCase *tc = tcase_create("demo_threads");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, tasks_cost_less_memory_than_threads_and_both_overlap_their_waits);
    tcase_add_test(tc, socket_waiters_overlap_and_tasks_cost_less_than_threads);
    tcase_add_test(tc, address_space_limit_stops_threads_and_is_named);
    tcase_add_test(tc, process_limit_stops_threads_and_is_named);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(demo_threads_suite)
