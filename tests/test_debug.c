/* test_debug.c - the debugging aids, checked by what they print: the
 * watchdog (blocking and spinning tasks, its threshold, the order of its
 * lines), the task dump (on request, on SIGQUIT, while a task holds the
 * loop, pool jobs), the SIGQUIT handler's manners, the stack-overflow
 * report, the loop's counters and lag, and "off costs nothing". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/debug.h"
#include "tests/support.h"

/* The first line of `text` that contains both `a` and `b`, or NULL. */
static const char *line_with(const char *text, const char *a, const char *b)
{
    for (const char *p = text; (p = strstr(p, a)) != NULL; p++) {
        const char *start = p;
        while (start > text && start[-1] != '\n')
            start--;
        const char *end = strchr(p, '\n');
        const char *hit = strstr(start, b);
        if (hit && (!end || hit < end))
            return start;
    }
    return NULL;
}

/* The number right after `before` in the first line with `a` and `before`; -1 if none. */
static long number_after(const char *text, const char *a, const char *before)
{
    const char *line = line_with(text, a, before);
    return line ? strtol(strstr(line, before) + strlen(before), NULL, 10) : -1;
}

/* "file:LINE" appears in the first line of `text`, not followed by another digit. */
static bool mentions_line(const char *text, const char *file, int line)
{
    char want[128];
    snprintf(want, sizeof want, "%s:%d", file, line);
    const char *end = strchr(text, '\n');
    for (const char *p = text; (p = strstr(p, want)) != NULL && (!end || p < end); p++)
        if (p[strlen(want)] < '0' || p[strlen(want)] > '9')
            return true;
    return false;
}

static volatile unsigned long sink;

/* Compute without yielding for `ms` milliseconds. */
static void spin_ms(int ms)
{
    int64_t until = test_now_ms() + ms;
    do {
        for (int i = 0; i < 100000; i++)
            sink += (unsigned long)i;
    } while (test_now_ms() < until);
}

static int ticker(void *arg) { (void)arg; for (int i = 0; i < 4; i++) await_sleep_ms(20); return 0; }

static int blocking_line;   /* where blocking_call blocks, for the backtrace check */

__attribute__((noinline)) static void blocking_call(void)
{
    blocking_line = __LINE__; usleep(400 * 1000);   /* the pitfall: a blocking sleep */
    sink++;   /* no tail call: this frame stays on the stack for the backtrace */
}

static int blocker(void *arg) { (void)arg; await_sleep_ms(5); blocking_call(); return 0; }

static int spinner(void *arg)
{
    (void)arg;
    await_sleep_ms(5);
    spin_ms(400);
    return 0;
}

static int culprit_line;   /* where run_with_watchdog spawns the culprit */

static void run_with_watchdog(void *arg)
{
    co_task_fn culprit = (co_task_fn)arg;
    co_loop *loop = test_loop_new();
    ck_assert_int_eq(loop_debug_enable(loop, 100), 0);
    test_spawn_detached(ticker, NULL, "ticker");
    culprit_line = __LINE__; test_spawn_detached(culprit, NULL, "culprit");
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
        /* the backtrace names the blocking call's function and line */
        const char *frame = line_with(err, "blocking_call at ", "tests/test_debug.c:");
        ck_assert_msg(frame && mentions_line(frame, "tests/test_debug.c", blocking_line),
                      "no frame 'blocking_call at tests/test_debug.c:%d' in:\n%.3000s",
                      blocking_line, err);
    }
    ck_assert_ptr_nonnull(strstr(err, "gave the loop back after holding it for 0.4"));
    ck_assert_ptr_nonnull(strstr(err, "coloop stats:"));   /* the exit summary in debug mode */
}
END_TEST

START_TEST(watchdog_names_a_spinning_task_and_where_it_is)
{
    const char *err = capture_stderr(run_with_watchdog, (void *)spinner);
    const char *report = line_with(err, "task #2 'culprit' (spawned at ", "has held the loop for");
    ck_assert_msg(report && mentions_line(report, "tests/test_debug.c", culprit_line),
                  "no report naming the spawn site tests/test_debug.c:%d in:\n%.3000s",
                  culprit_line, err);
    if (!under_valgrind()) {
        ck_assert_ptr_nonnull(strstr(err, "It is running (computing, not waiting)"));
        /* the function, from the backtrace */
        ck_assert_msg(strstr(err, "spin_ms at "), "%.3000s", err);
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

/* --- the threshold from the environment ------------------------------------ */

static void blocker_under_debug_from_environment(void *threshold_ms)
{
    setenv("COLOOP_DEBUG", "1", 1);
    setenv("COLOOP_WATCHDOG_MS", threshold_ms, 1);
    co_loop *loop = test_loop_new();
    unsetenv("COLOOP_DEBUG");
    unsetenv("COLOOP_WATCHDOG_MS");
    test_spawn_detached(blocker, NULL, "culprit");   /* blocks the loop ~400 ms */
    loop_run(loop);
    loop_free(loop);
}

START_TEST(watchdog_threshold_comes_from_coloop_watchdog_ms)
{
    const char *err = capture_stderr(blocker_under_debug_from_environment, "300");
    ck_assert_msg(line_with(err, "'culprit'", "(threshold 300 ms)") != NULL, "%.3000s", err);
    ck_assert_ptr_nonnull(strstr(err, "gave the loop back"));
    err = capture_stderr(blocker_under_debug_from_environment, "5000");
    ck_assert_ptr_nonnull(strstr(err, "coloop stats:"));   /* debug mode was on */
    ck_assert_msg(strstr(err, "has held the loop") == NULL, "%.3000s", err);
    ck_assert_msg(strstr(err, "gave the loop back") == NULL, "%.3000s", err);
}
END_TEST

/* --- the order of the watchdog's lines --------------------------------------- */

#define STALLS 10

static int stall(void *ms) { spin_ms((int)(intptr_t)ms); return 0; }

/* Stalls just over the threshold, one after another: each one ends while the
 * watchdog is likely still writing its report (capture, addr2line). */
static int stalls_in_turn(void *arg)
{
    (void)arg;
    for (int i = 0; i < STALLS; i++) {
        char name[32];
        snprintf(name, sizeof name, "stall-%d", i);
        struct co_spawn_opts opts = { .name = name };
        co_task *t;
        ck_assert_int_eq(task_spawn_opts(&t, stall, (void *)(intptr_t)(104 + 4 * i), &opts), 0);
        ck_assert_int_eq(await_task(t, NULL, CO_NO_DEADLINE), 0);
    }
    return 0;
}

static void stalls_scene(void *arg)
{
    (void)arg;
    co_loop *loop = test_loop_new();
    ck_assert_int_eq(loop_debug_enable(loop, 100), 0);
    test_spawn_detached(stalls_in_turn, NULL, "driver");
    loop_run(loop);
    loop_free(loop);
}

START_TEST(watchdog_report_comes_before_the_gave_back_line)
{
    const char *err = capture_stderr(stalls_scene, NULL);
    int reports = 0;
    for (int i = 0; i < STALLS; i++) {
        char name[32];
        snprintf(name, sizeof name, "'stall-%d'", i);
        const char *report = line_with(err, name, "has held the loop for");
        const char *gave = line_with(err, name, "gave the loop back");
        ck_assert_msg(gave != NULL, "no 'gave the loop back' for %s in:\n%.3000s", name, err);
        ck_assert_msg(!report || report < gave, "%s: 'gave back' before the report in:\n%.3000s",
                      name, err);
        reports += report != NULL;
    }
    ck_assert_msg(reports > 0, "no report at all in:\n%.3000s", err);
}
END_TEST

/* --- SIGQUIT while a task holds the loop -------------------------------------- */

struct held_scene { co_task *long_sleeper; };

static int hog(void *arg)
{
    struct held_scene *s = arg;
    await_sleep_ms(5);
    spin_ms(600);          /* SIGQUIT arrives meanwhile */
    await_sleep_ms(30);    /* the loop is free: it prints the dump now */
    task_cancel(s->long_sleeper);
    return 0;
}

static void *sigquit_later(void *ms)
{
    usleep((useconds_t)(intptr_t)ms * 1000);
    kill(getpid(), SIGQUIT);   /* at the process, as kill -QUIT or Ctrl-\ would */
    return NULL;
}

static int hog_line;   /* where held_loop_scene spawns the hog */

static void held_loop_scene(void *arg)
{
    (void)arg;
    co_loop *loop = test_loop_new();
    ck_assert_int_eq(loop_debug_enable(loop, 5000), 0);   /* no ordinary watchdog report */
    struct held_scene s;
    s.long_sleeper = test_spawn_detached(test_sleep_task, (void *)2000L, "long-sleeper");
    test_spawn_detached(test_sleep_task, (void *)100L, "napper");
    hog_line = __LINE__; test_spawn_detached(hog, &s, "hog");
    pthread_t sender;
    ck_assert_int_eq(pthread_create(&sender, NULL, sigquit_later, (void *)200L), 0);
    loop_run(loop);
    pthread_join(sender, NULL);
    loop_free(loop);
}

START_TEST(sigquit_names_the_task_holding_the_loop_then_dumps)
{
    const char *err = capture_stderr(held_loop_scene, NULL);
    const char *held = line_with(err, "SIGQUIT: the loop is held by task #3 'hog'", "so far");
    ck_assert_msg(held != NULL, "no 'held by' line in:\n%.3000s", err);
    ck_assert(mentions_line(held, "tests/test_debug.c", hog_line));
    ck_assert_ptr_nonnull(strstr(held, "the task dump follows when it gives the loop back"));
    long held_ms = number_after(held, "'hog'", ") for ");
    ck_assert_msg(held_ms >= 150 && held_ms < 550,   /* SIGQUIT at 200 ms, named ~50 ms later */
                  "named after %ld ms of holding in:\n%.3000s", held_ms, err);
    if (!under_valgrind()) {
        ck_assert_ptr_nonnull(strstr(held, "It is running (computing, not waiting)"));
        ck_assert_ptr_nonnull(strstr(held, "spin_ms"));   /* where, from the backtrace */
    }
    const char *dump = strstr(err, "coloop: SIGQUIT: task dump");
    ck_assert_msg(dump && dump > held, "no task dump after the 'held by' line in:\n%.3000s", err);
    /* The times come from a fresh clock, not the loop's (from before the
     * hog ran at ~5 ms: 1995 ms left, napper 95 ms left). */
    long left = number_after(dump, "long-sleeper", "sleeping (");
    ck_assert_msg(left >= 800 && left <= 1500, "long-sleeper: %ld ms left in:\n%.3000s", left,
                  dump);
    long overdue = number_after(dump, "napper", "sleeping (due ");
    ck_assert_msg(overdue >= 300 && overdue <= 1000, "napper: due %ld ms ago in:\n%.3000s", overdue,
                  dump);
}
END_TEST

/* --- the SIGQUIT handler gives the signal back --------------------------------- */

static volatile sig_atomic_t earlier_handler_calls;
static void earlier_handler(int sig) { (void)sig; earlier_handler_calls++; }

static bool sigquit_handler_is(void (*handler)(int))
{
    struct sigaction now;
    sigaction(SIGQUIT, NULL, &now);
    return !(now.sa_flags & SA_SIGINFO) && now.sa_handler == handler;
}

/* In a child process: 0 if every check holds, else the number of the first that failed. */
static int sigquit_disposition_checks(void)
{
    signal(SIGQUIT, SIG_DFL);
    co_loop *loop;
    if (loop_new(&loop) < 0)
        return 1;
    if (loop_debug_enable(loop, 0) < 0)
        return 7;
    if (sigquit_handler_is(SIG_DFL))
        return 2;   /* debug on: the dump's handler is installed */
    loop_debug_disable(loop);
    if (!sigquit_handler_is(SIG_DFL))
        return 3;   /* debug off: the default action is back */
    struct sigaction mine;
    memset(&mine, 0, sizeof mine);
    mine.sa_handler = earlier_handler;
    sigemptyset(&mine.sa_mask);
    sigaction(SIGQUIT, &mine, NULL);
    if (loop_debug_enable(loop, 0) < 0)
        return 4;
    raise(SIGQUIT);
    if (earlier_handler_calls != 1)
        return 5;   /* the earlier handler is chained */
    loop_free(loop);
    if (!sigquit_handler_is(earlier_handler))
        return 6;   /* loop freed: the earlier handler is back */
    return 0;
}

static size_t run_sigquit_disposition_checks(void *arg, char *out, size_t cap)
{
    (void)arg;
    int null = open("/dev/null", O_WRONLY);
    dup2(null, STDERR_FILENO);   /* the stats line of loop_free */
    close(null);
    return (size_t)snprintf(out, cap, "%d", sigquit_disposition_checks());
}

START_TEST(sigquit_disposition_is_restored_when_debug_ends)
{
    char failed[16];
    test_answer_from_child(run_sigquit_disposition_checks, NULL, failed, sizeof failed);
    ck_assert_msg(strcmp(failed, "0") == 0, "check %s failed in the child", failed);
}
END_TEST

/* --- the counters ------------------------------------------------------------ */

static int yield_twice(void *arg)
{
    (void)arg;
    await_yield();
    await_yield();
    return 0;
}

START_TEST(stats_count_switches_and_spawns)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    for (int i = 0; i < 3; i++)
        test_spawn_detached(yield_twice, NULL, "yielder");
    ck_assert_int_eq(loop_run(loop), 0);
    struct loop_stats st;
    loop_get_stats(loop, &st);
    /* Three turns, one batch of the three tasks each.  In each, every task
     * (yielding in the first two turns, ending in the third) hands the
     * thread to the next and the last one goes home: loop->A->B->C->loop,
     * 4 switches.  (Without the hand-over it would be 3 x 3 x 2 = 18.)  Only
     * ready tasks, no I/O: the loop never waits. */
    ck_assert_uint_eq(st.tasks_spawned, 3);
    ck_assert_uint_eq(st.switches, 4 + 4 + 4);
    ck_assert_uint_eq(st.tasks_alive, 0);
    ck_assert_uint_eq(st.epoll_waits, 0);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    loop_print_stats(loop, out);
    fclose(out);
    ck_assert_msg(strstr(text, "12 switches, 3 tasks spawned, 0 alive, 0 epoll waits"),
                  "%.3000s", text);
    free(text);
    loop_free_clean(loop, fds);
}
END_TEST

/* --- a task waiting on a pool job, in the dump --------------------------------- */

struct pool_scene { co_pool *pool; char *text; size_t len; };

static int await_job(void *arg, const char *kind)
{
    struct pool_scene *s = arg;
    int ms = 250;
    struct pool_job job = {
        .run = test_sleep_job, .arg = &ms, .arg_size = sizeof ms, .kind = kind,
    };
    return pool_await_job(s->pool, &job, NULL, CO_NO_DEADLINE);
}
static int resize_job_waiter(void *arg) { return await_job(arg, "resize"); }
static int plain_job_waiter(void *arg) { return await_job(arg, NULL); }

static int dump_pool_waits(void *arg)
{
    struct pool_scene *s = arg;
    await_sleep_ms(100);
    FILE *out = open_memstream(&s->text, &s->len);
    loop_dump_tasks(loop_current(), out);
    fclose(out);
    return 0;
}

static void pool_scene(void *arg)
{
    struct pool_scene *s = arg;
    co_loop *loop = test_loop_new();
    ck_assert_int_eq(loop_debug_enable(loop, 5000), 0);   /* debug mode knows since when */
    ck_assert_int_eq(pool_new(&s->pool, 1), 0);            /* one worker: the second job queues */
    test_spawn_detached(resize_job_waiter, s, "resizer");
    test_spawn_detached(plain_job_waiter, s, "plain");
    test_spawn_detached(dump_pool_waits, s, "dumper");
    ck_assert_int_eq(loop_run(loop), 0);
    loop_free(loop);
    ck_assert_int_eq(pool_free(s->pool), 0);
}

START_TEST(dump_says_what_a_pool_job_is_doing)
{
    struct pool_scene s = { 0 };
    capture_stderr(pool_scene, &s);
    const char *text = s.text;
    long waited = number_after(text, "resizer", "waiting on pool job of kind 'resize' "
                                                "(running on a worker, waited ");
    ck_assert_msg(waited >= 60 && waited <= 240, "resizer waited %ld ms in:\n%.3000s", waited,
                  text);
    ck_assert_msg(line_with(text, "plain", "waiting on a pool job (queued, no worker free yet, "
                                           "waited ") != NULL, "%.3000s", text);
    ck_assert_msg(strstr(text, "0x") == NULL, "a raw pointer in:\n%.3000s", text);
    free(s.text);
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
    tcase_add_test(tc, watchdog_threshold_comes_from_coloop_watchdog_ms);
    tcase_add_test(tc, watchdog_report_comes_before_the_gave_back_line);
    tcase_add_test(tc, sigquit_names_the_task_holding_the_loop_then_dumps);
    tcase_add_test(tc, sigquit_disposition_is_restored_when_debug_ends);
    tcase_add_test(tc, stats_count_switches_and_spawns);
    tcase_add_test(tc, dump_says_what_a_pool_job_is_doing);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(debug_suite)
