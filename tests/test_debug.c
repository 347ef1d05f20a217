/* test_debug.c - the debugging aids, checked by what they print: the
 * watchdog (blocking and spinning tasks), the task dump (on request and on
 * SIGQUIT), the stack-overflow report, loop lag, and "off costs nothing". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/debug.h"
#include "tests/support.h"

static int ticker(void *arg) { (void)arg; for (int i = 0; i < 4; i++) await_sleep_ms(20); return 0; }

static void blocking_call(void) { usleep(400 * 1000); }   /* the pitfall: a blocking sleep */

static int blocker(void *arg) { (void)arg; await_sleep_ms(5); blocking_call(); return 0; }

static volatile unsigned long sink;
static int spinner(void *arg)
{
    (void)arg;
    await_sleep_ms(5);
    int64_t until = co_now_ns() + 400 * 1000000LL;
    struct timespec ts;
    do {   /* compute without yielding for ~400 ms */
        for (int i = 0; i < 100000; i++)
            sink += (unsigned long)i;
        clock_gettime(CLOCK_MONOTONIC, &ts);
    } while ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec < until);
    return 0;
}

static void run_with_watchdog(void *arg)
{
    co_task_fn culprit = (co_task_fn)arg;
    co_loop *loop = test_loop_new();
    ck_assert_int_eq(loop_debug_enable(loop, 100), 0);
    test_spawn_detached(ticker, NULL, "ticker");
    test_spawn_detached(culprit, NULL, "culprit");
    loop_run(loop);
    loop_free(loop);
}

/* Under Valgrind every thread runs on Valgrind's own scheduler: the loop
 * thread shows as blocked on Valgrind's lock, and its frames are Valgrind's.
 * There we check who and how long, not where. */
static bool under_valgrind(void) { return getenv("COLOOP_UNDER_VALGRIND") != NULL; }

START_TEST(watchdog_names_a_task_blocked_in_a_system_call)
{
    const char *err = capture_stderr(run_with_watchdog, (void *)blocker);
    ck_assert_ptr_nonnull(strstr(err, "task #2 'culprit' (spawned at tests/test_debug.c:"));
    ck_assert_ptr_nonnull(strstr(err, "has held the loop for"));
    if (!under_valgrind()) {
        ck_assert_ptr_nonnull(strstr(err, "It is blocked in"));
        ck_assert_ptr_nonnull(strstr(err, "nanosleep"));
    }
    ck_assert_ptr_nonnull(strstr(err, "gave the loop back after holding it for 0.4"));
    ck_assert_ptr_nonnull(strstr(err, "coloop stats:"));   /* the exit summary in debug mode */
}
END_TEST

START_TEST(watchdog_names_a_spinning_task_and_where_it_is)
{
    const char *err = capture_stderr(run_with_watchdog, (void *)spinner);
    ck_assert_ptr_nonnull(strstr(err, "'culprit'"));
    ck_assert_ptr_nonnull(strstr(err, "has held the loop for"));
    if (!under_valgrind()) {
        ck_assert_ptr_nonnull(strstr(err, "It is running (computing, not waiting)"));
        ck_assert_ptr_nonnull(strstr(err, "spinner"));   /* the function, from the backtrace */
    }
    ck_assert_ptr_nonnull(strstr(err, "gave the loop back"));
}
END_TEST

static void debug_from_environment(void *arg)
{
    (void)arg;
    setenv("COLOOP_DEBUG", "1", 1);
    co_loop *loop = test_loop_new();
    ck_assert(loop_debug_enabled(loop));
    unsetenv("COLOOP_DEBUG");
    loop_free(loop);   /* prints the stats line in debug mode */
}

START_TEST(debug_off_starts_no_thread_and_on_starts_one)
{
    unsetenv("COLOOP_DEBUG");
    int before = test_thread_count();
    co_loop *loop = test_loop_new();
    ck_assert(!loop_debug_enabled(loop));
    ck_assert_int_eq(test_thread_count(), before);
    ck_assert_int_eq(loop_debug_enable(loop, 0), 0);
    ck_assert_int_eq(test_thread_count(), before + 1);
    loop_debug_disable(loop);
    ck_assert_int_eq(test_thread_count(), before);
    loop_free(loop);
    const char *err = capture_stderr(debug_from_environment, NULL);
    ck_assert_ptr_nonnull(strstr(err, "coloop stats: 0 switches"));
}
END_TEST

struct dump_scene { int pipe_fds[2]; co_task *sleeper; co_chan *chan; char *text; size_t len; };

static int wait_on_pipe(void *arg)
{
    int rc = await_fd(*(int *)arg, CO_FD_READ, CO_NO_DEADLINE);
    return rc == -EBADF ? 0 : rc;   /* the dumper closes the pipe to end the scene */
}
static int join_it(void *arg) { return await_task(*(co_task **)arg, NULL, CO_NO_DEADLINE); }

static int receive_one(void *arg)
{
    int value;
    int rc = chan_await_recv(arg, &value, CO_NO_DEADLINE);
    return rc == -CO_ECLOSED ? 0 : rc;   /* the dumper closes it to end the scene */
}

static int take_dump(void *arg)
{
    struct dump_scene *s = arg;
    await_sleep_ms(10);   /* let the others reach their waits */
    FILE *out = open_memstream(&s->text, &s->len);
    loop_dump_tasks(loop_current(), out);
    fclose(out);
    task_cancel(s->sleeper);
    loop_close_fd(s->pipe_fds[0]);   /* wakes the pipe waiter with -EBADF */
    chan_close(s->chan);
    return 0;
}

START_TEST(dump_lists_every_task_with_what_it_waits_on)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    struct dump_scene s = { 0 };
    pipe2(s.pipe_fds, O_NONBLOCK | O_CLOEXEC);
    struct co_spawn_opts opts = { .name = "long-sleeper" };
    task_spawn_opts(&s.sleeper, test_sleep_task, (void *)5000L, &opts);
    test_spawn_detached(wait_on_pipe, &s.pipe_fds[0], "pipe-reader");
    test_spawn_detached(join_it, &s.sleeper, "joiner");
    ck_assert_int_eq(chan_new(&s.chan, sizeof(int), 0), 0);
    test_spawn_detached(receive_one, s.chan, "chan-receiver");
    test_spawn_detached(take_dump, &s, "dumper");
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_ptr_nonnull(strstr(s.text, "long-sleeper"));
    ck_assert_ptr_nonnull(strstr(s.text, "sleeping ("));          /* with the time left */
    ck_assert_ptr_nonnull(strstr(s.text, "ms left)"));
    ck_assert_ptr_nonnull(strstr(s.text, "pipe-reader"));
    ck_assert_ptr_nonnull(strstr(s.text, "readable"));
    ck_assert_ptr_nonnull(strstr(s.text, "joining task #1 'long-sleeper'"));
    ck_assert_ptr_nonnull(strstr(s.text, "running"));             /* the dumper itself */
    ck_assert_ptr_nonnull(strstr(s.text, "chan-receiver"));
    ck_assert_ptr_nonnull(strstr(s.text, "waiting on channel"));
    ck_assert_ptr_nonnull(strstr(s.text, "spawned at tests/test_debug.c:"));
    free(s.text);
    chan_free(s.chan);
    close(s.pipe_fds[1]);
    loop_free_clean(loop, fds);
}
END_TEST

static int raise_sigquit(void *arg)
{
    (void)arg;
    raise(SIGQUIT);
    return await_sleep_ms(50);   /* the loop prints the dump on its next turn */
}

static void sigquit_scene(void *arg)
{
    (void)arg;
    co_loop *loop = test_loop_new();
    loop_debug_enable(loop, 1000);
    test_spawn_detached(raise_sigquit, NULL, "quitter");
    test_spawn_detached(test_sleep_task, (void *)100L, "bystander");
    loop_run(loop);
    loop_free(loop);
}

START_TEST(sigquit_prints_the_task_dump)
{
    const char *err = capture_stderr(sigquit_scene, NULL);
    ck_assert_ptr_nonnull(strstr(err, "SIGQUIT: task dump"));
    ck_assert_ptr_nonnull(strstr(err, "bystander"));
    ck_assert_ptr_nonnull(strstr(err, "quitter"));
}
END_TEST

static int recurse(int depth)
{
    volatile char frame[256];
    frame[0] = (char)depth;
    return depth > 1000000 ? frame[0] : recurse(depth + 1) + frame[0];
}
static int deep(void *arg) { (void)arg; return recurse(0); }

START_TEST(stack_overflow_names_the_task_and_aborts)
{
    int pipe_fds[2];
    ck_assert_int_eq(pipe(pipe_fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipe_fds[1], STDERR_FILENO);
        co_loop *loop;
        loop_new(&loop);
        test_spawn_detached(deep, NULL, "deep-recursion");
        loop_run(loop);
        _exit(0);   /* not reached */
    }
    close(pipe_fds[1]);
    char text[4096];
    ssize_t n, len = 0;
    while ((n = read(pipe_fds[0], text + len, sizeof text - 1 - (size_t)len)) > 0)
        len += n;
    text[len] = '\0';
    close(pipe_fds[0]);
    int status;
    waitpid(pid, &status, 0);
    ck_assert(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0));
    ck_assert_ptr_nonnull(strstr(text, "stack overflow in task deep-recursion (spawned at "
                                       "tests/test_debug.c:"));
    ck_assert_ptr_nonnull(strstr(text, "stack 64 KiB"));
}
END_TEST

START_TEST(loop_lag_is_measured_for_every_timer)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    for (int i = 0; i < 50; i++)
        test_spawn_detached(test_sleep_task, (void *)2L, "nap");
    loop_run(loop);
    struct loop_stats st;
    loop_get_stats(loop, &st);
    ck_assert_uint_eq(st.lag_samples, 50);
    ck_assert_int_ge(st.lag_p50_ns, 0);
    ck_assert_int_le(st.lag_p50_ns, st.lag_p99_ns);
    ck_assert_int_le(st.lag_p99_ns, st.lag_max_ns);
    ck_assert_int_lt(st.lag_max_ns, 1000000000);   /* nobody blocked: far below a second */
    loop_free_clean(loop, fds);
}
END_TEST

static Suite *debug_suite(void)
{
    Suite *s = suite_create("debug");
    TCase *tc = tcase_create("debug");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, watchdog_names_a_task_blocked_in_a_system_call);
    tcase_add_test(tc, watchdog_names_a_spinning_task_and_where_it_is);
    tcase_add_test(tc, debug_off_starts_no_thread_and_on_starts_one);
    tcase_add_test(tc, dump_lists_every_task_with_what_it_waits_on);
    tcase_add_test(tc, sigquit_prints_the_task_dump);
    if (!check_no_fork_mode())   /* the overflow test forks a child that dies on purpose */
        tcase_add_test(tc, stack_overflow_names_the_task_and_aborts);
    tcase_add_test(tc, loop_lag_is_measured_for_every_timer);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(debug_suite)
