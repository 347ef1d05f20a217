/* support.h - helpers shared by the Check suites: a loop and tasks to run
 * on it, clocks, the "nothing left behind" checks every runtime test ends
 * with, and a way to capture stderr. */
#ifndef COLOOP_TEST_SUPPORT_H
#define COLOOP_TEST_SUPPORT_H

#include <check.h>
#include <stdbool.h>
#include <stdio.h>

#include "coloop.h"

/* Each test file registers its suite with COLOOP_TEST_SUITE(make_fn): the
 * runner picks it up without a central list, so adding a test file needs no
 * edit anywhere else.  (A constructor function runs before main.) */
void register_suite(Suite *(*make)(void));
#define COLOOP_TEST_SUITE(make_fn)                                          \
    __attribute__((constructor)) static void register_##make_fn(void)     \
    {                                                                       \
        register_suite(make_fn);                                            \
    }

/* A new loop (it is now loop_current()); fails the test if loop_new does. */
co_loop *test_loop_new(void);

/* Spawn fn(arg) detached, named `name` (NULL: fn's), the caller as spawn site; returns it. */
#define test_spawn_detached(fn, arg, name) \
    test_spawn_detached_at((fn), (arg), (name), #fn, __FILE__, __LINE__)
co_task *test_spawn_detached_at(co_task_fn fn, void *arg, const char *name,
                                const char *fn_name, const char *file, int line);

/* Spawn fn(arg) as a detached "main" task, run the current loop to its end, assert 0. */
#define test_run_main(fn, arg) test_run_main_at((fn), (arg), #fn, __FILE__, __LINE__)
void test_run_main_at(co_task_fn fn, void *arg, const char *fn_name, const char *file, int line);

/* A task: sleeps (intptr_t)ms milliseconds, returns what await_sleep_ms did. */
int test_sleep_task(void *ms);

/* A pool job: usleep()s *(int *)ms milliseconds, returns that number. */
int test_sleep_job(void *ms);

/* Real elapsed time: CLOCK_MONOTONIC in milliseconds. */
int64_t test_now_ms(void);

/* The loop's cached clock in milliseconds: deadlines count from it. */
int64_t test_loop_now_ms(void);

/* A nonblocking, close-on-exec AF_UNIX stream socketpair, or the test fails. */
void test_socketpair(int sv[2]);

/* Number of open descriptors of this process (from /proc/self/fd). */
int open_fd_count(void);

/* Number of threads of this process (from /proc/self/task). */
int test_thread_count(void);

/* Assert the loop has no task, handle, timer or fd waiter left, then free it
 * and assert no descriptor leaked since `fds_before`. */
void loop_free_clean(co_loop *loop, int fds_before);

/* True when Check runs tests in-process (CK_FORK=no, as under Valgrind):
 * tests that crash on purpose are skipped then. */
bool check_no_fork_mode(void);

/* Run fn with stderr sent to a buffer; returns the text (static storage). */
const char *capture_stderr(void (*fn)(void *), void *arg);

/* Run fn(arg, out, cap) in a forked child; fn returns how many bytes of out
 * it filled, and they come back here, NUL-terminated, through a pipe - not
 * through the exit status: under Valgrind a forked child's exit runs a leak
 * check over what it inherited, and --error-exitcode replaces the status.
 * Fails the test if the child dies or sends nothing; returns the length. */
size_t test_answer_from_child(size_t (*fn)(void *arg, char *out, size_t cap), void *arg,
                              char *out, size_t cap);

#endif
