/* test_task.c - the task layer's semantics as small stories: join, order,
 * yield, cancel, deadlines, ownership reports, deadlock, co_run. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/support.h"

static int square(void *arg) { long n = (long)arg; await_yield(); return (int)(n * n); }

static int join_five(void *arg)
{
    int *sum = arg;
    co_task *t[5];
    for (long i = 0; i < 5; i++)
        ck_assert_int_eq(task_spawn(&t[i], square, (void *)(i + 1)), 0);
    for (int i = 0; i < 5; i++) {
        int r = -1;
        ck_assert_int_eq(await_task(t[i], &r, CO_NO_DEADLINE), 0);
        ck_assert_int_eq(r, (i + 1) * (i + 1));
        *sum += r;
    }
    return 0;
}

START_TEST(join_returns_each_result)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    int sum = 0;
    test_run_main(join_five, &sum);
    ck_assert_int_eq(sum, 1 + 4 + 9 + 16 + 25);
    loop_free_clean(loop, fds);
}
END_TEST

#define SLEEPERS 10000
struct order {
    int sleep_ms[SLEEPERS];
    int64_t deadline[SLEEPERS];   /* the deadline each task slept until */
    int woke[SLEEPERS];           /* task indexes in wake order */
    int count;
};
struct sleeper { struct order *o; int index; };

static int sleep_and_record(void *arg)
{
    struct sleeper *s = arg;
    s->o->deadline[s->index] = co_deadline_in_ms(s->o->sleep_ms[s->index]);
    ck_assert_int_eq(await_sleep_until(s->o->deadline[s->index]), 0);
    s->o->woke[s->o->count++] = s->index;
    return 0;
}

START_TEST(ten_thousand_sleepers_wake_in_deadline_order)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    struct order *o = calloc(1, sizeof *o);
    struct sleeper *s = calloc(SLEEPERS, sizeof *s);
    srand(1234);
    for (int i = 0; i < SLEEPERS; i++) {
        o->sleep_ms[i] = 1 + rand() % 300;
        s[i] = (struct sleeper){ o, i };
        test_spawn_detached(sleep_and_record, &s[i], NULL);
    }
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_int_eq(o->count, SLEEPERS);
    /* Tasks wake in deadline order; equal deadlines in the order they were
     * armed, which is spawn order (tasks start FIFO). */
    for (int i = 1; i < SLEEPERS; i++) {
        int a = o->woke[i - 1], b = o->woke[i];
        ck_assert_int_le(o->deadline[a], o->deadline[b]);
        if (o->deadline[a] == o->deadline[b])
            ck_assert_int_lt(a, b);
    }
    free(o);
    free(s);
    loop_free_clean(loop, fds);
}
END_TEST

struct trace { char steps[64]; int n; };

static int yield_three_times(void *arg)
{
    struct trace *tr = arg;
    char me = (char)('a' + task_id(task_self()) - 1);
    for (int i = 0; i < 3; i++) {
        tr->steps[tr->n++] = me;
        ck_assert_int_eq(await_yield(), 0);
    }
    return 0;
}

START_TEST(yield_takes_turns_fifo)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    struct trace tr = { 0 };
    for (int i = 0; i < 3; i++)
        test_spawn_detached(yield_three_times, &tr, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_str_eq(tr.steps, "abcabcabc");
    loop_free_clean(loop, fds);
}
END_TEST

/* Sleeps "forever"; returns how many of its awaits were cancelled. */
static int sleep_long_then_try_again(void *arg)
{
    (void)arg;
    int cancelled = 0;
    cancelled += await_sleep_ms(10000) == -ECANCELED;
    cancelled += await_yield() == -ECANCELED;          /* sticky */
    cancelled += await_sleep_ms(5) == -ECANCELED;
    ck_assert(task_cancelled());
    return cancelled;
}

static int cancel_a_sleeper(void *arg)
{
    (void)arg;
    co_task *t;
    task_spawn(&t, sleep_long_then_try_again, NULL);
    int64_t start = test_now_ms();
    await_sleep_ms(20);
    task_cancel(t);
    int result = -1;
    ck_assert_int_eq(await_task(t, &result, CO_NO_DEADLINE), 0);
    ck_assert_int_eq(result, 3);
    ck_assert_int_lt(test_now_ms() - start, 1000);   /* woken by the cancel, not the timer */
    return 0;
}

START_TEST(cancel_wakes_a_sleeper_and_sticks)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    test_run_main(cancel_a_sleeper, NULL);
    loop_free_clean(loop, fds);
}
END_TEST

static int cancel_before_it_starts(void *arg)
{
    (void)arg;
    co_task *t;
    task_spawn(&t, sleep_long_then_try_again, NULL);
    task_cancel(t);   /* it has not run yet: its first await fails */
    int result = -1;
    ck_assert_int_eq(await_task(t, &result, CO_NO_DEADLINE), 0);
    ck_assert_int_eq(result, 3);
    return 0;
}

START_TEST(cancel_before_start_fails_the_first_await)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    test_run_main(cancel_before_it_starts, NULL);
    loop_free_clean(loop, fds);
}
END_TEST

/* Hold the loop for 150 ms (a blocking call), then sleep 50 ms. */
static int block_then_sleep(void *arg)
{
    int64_t *slept_ms = arg;
    usleep(150 * 1000);
    int64_t start = test_now_ms();
    ck_assert_int_eq(await_sleep_ms(50), 0);
    *slept_ms = test_now_ms() - start;
    return 0;
}

/* The loop's clock is read once per turn; a sleep is counted from a fresh
 * reading.  Counted from the turn's reading, the 50 ms would have ended
 * 100 ms before they began and the sleep would return at once. */
START_TEST(a_sleep_after_a_long_turn_still_sleeps)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    int64_t slept_ms = -1;
    test_run_main(block_then_sleep, &slept_ms);
    ck_assert_int_ge(slept_ms, 49);
    loop_free_clean(loop, fds);
}
END_TEST

/* test_sleep_task under its own name: the pending-task test looks for it in the report. */
static int sleep_ms_arg(void *ms) { return test_sleep_task(ms); }

static int join_with_deadline(void *arg)
{
    (void)arg;
    co_task *t;
    task_spawn(&t, sleep_ms_arg, (void *)10000L);
    int64_t start = test_now_ms();
    int result = 99;
    ck_assert_int_eq(await_task(t, &result, co_deadline_in_ms(30)), -ETIMEDOUT);
    ck_assert_int_eq(result, 99);                 /* untouched: the handle is still ours */
    ck_assert_int_ge(test_now_ms() - start, 29);
    struct loop_stats st;
    loop_get_stats(loop_current(), &st);
    ck_assert_uint_eq(st.timers_armed, 1);        /* only the sleeper's own timer is left */
    task_cancel(t);
    ck_assert_int_eq(await_task(t, &result, CO_NO_DEADLINE), 0);
    ck_assert_int_eq(result, -ECANCELED);
    return 0;
}

START_TEST(deadline_expiry_returns_etimedout_and_leaves_nothing)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    test_run_main(join_with_deadline, NULL);
    loop_free_clean(loop, fds);
}
END_TEST

struct race { co_task *victim; int victim_rc; };

static int wait_with_deadline(void *arg)
{
    struct race *r = arg;
    r->victim_rc = await_task(task_self(), NULL, co_deadline_in_ms(5)) ;   /* -EDEADLK at once */
    ck_assert_int_eq(r->victim_rc, -EDEADLK);
    co_task *sleeper;
    task_spawn(&sleeper, sleep_ms_arg, (void *)1000L);
    r->victim_rc = await_task(sleeper, NULL, co_deadline_in_ms(5));
    task_cancel(sleeper);
    task_detach(sleeper);
    return 0;
}

static int cancel_after_5ms(void *arg)
{
    struct race *r = arg;
    await_sleep_ms(5);
    task_cancel(r->victim);   /* the victim's 5 ms deadline fired this same turn */
    return 0;
}

START_TEST(explicit_cancel_beats_a_deadline_of_the_same_turn)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    struct race r = { 0 };
    test_spawn_detached(cancel_after_5ms, &r, NULL);   /* runs first: its timer is armed first */
    r.victim = test_spawn_detached(wait_with_deadline, &r, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_int_eq(r.victim_rc, -ECANCELED);
    loop_free_clean(loop, fds);
}
END_TEST

static void await_in_main(void *arg)
{
    *(int *)arg = await_sleep_ms(1);
}

START_TEST(await_outside_a_task_is_refused_with_a_message)
{
    int rc = 0;
    const char *err = capture_stderr(await_in_main, &rc);
    ck_assert_int_eq(rc, -CO_ENOTASK);
    ck_assert_ptr_nonnull(strstr(err, "await_sleep_ms() called outside a task"));
}
END_TEST

static int join_other(void *arg) { return await_task(*(co_task **)arg, NULL, CO_NO_DEADLINE); }

static void two_tasks_join_each_other(void *arg)
{
    int *rc = arg;
    co_loop *loop = test_loop_new();
    co_task *a, *b;
    task_spawn(&a, join_other, &b);
    task_spawn(&b, join_other, &a);
    *rc = loop_run(loop);
    task_detach(a);
    task_detach(b);
    loop_free(loop);
}

START_TEST(deadlock_is_reported_instead_of_hanging)
{
    int rc = 0;
    const char *err = capture_stderr(two_tasks_join_each_other, &rc);
    ck_assert_int_eq(rc, -CO_EDEADLOCK);
    ck_assert_ptr_nonnull(strstr(err, "deadlock"));
    ck_assert_ptr_nonnull(strstr(err, "joining task #2 'join_other'"));
    ck_assert_ptr_nonnull(strstr(err, "joining task #1 'join_other'"));
}
END_TEST

static int fail_refused(void *arg) { (void)arg; await_yield(); return -ECONNREFUSED; }

static void drop_a_handle(void *arg)
{
    (void)arg;
    co_loop *loop = test_loop_new();
    co_task *t;
    struct co_spawn_opts opts = { .name = "fetch-forgotten" };
    task_spawn_opts(&t, fail_refused, NULL, &opts);
    loop_run(loop);
    loop_free(loop);   /* nobody joined or detached t */
}

START_TEST(never_joined_handle_is_reported_with_its_error)
{
    const char *err = capture_stderr(drop_a_handle, NULL);
    ck_assert_ptr_nonnull(strstr(err, "'fetch-forgotten'"));
    ck_assert_ptr_nonnull(strstr(err, "test_task.c:"));
    ck_assert_ptr_nonnull(strstr(err, "never joined or detached"));
    ck_assert_ptr_nonnull(strstr(err, "Connection refused"));
}
END_TEST

static void detach_a_failing_task(void *arg)
{
    (void)arg;
    co_loop *loop = test_loop_new();
    test_spawn_detached(fail_refused, NULL, NULL);
    loop_run(loop);
    loop_free(loop);
}

START_TEST(detached_failure_is_logged)
{
    const char *err = capture_stderr(detach_a_failing_task, NULL);
    ck_assert_ptr_nonnull(strstr(err, "detached task #1 'fail_refused'"));
    ck_assert_ptr_nonnull(strstr(err, "failed: Connection refused"));
}
END_TEST

static int stop_loop_soon(void *arg) { (void)arg; await_sleep_ms(5); loop_stop(loop_current()); return 0; }

static void free_with_a_pending_task(void *arg)
{
    int *sleeper_result = arg;
    co_loop *loop = test_loop_new();
    co_task *sleeper;
    task_spawn(&sleeper, sleep_ms_arg, (void *)60000L);
    test_spawn_detached(stop_loop_soon, NULL, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    loop_free(loop);   /* sleeper is pending and its handle unjoined */
    (void)sleeper_result;
}

START_TEST(pending_task_at_loop_end_is_cancelled_and_reported)
{
    int64_t start = test_now_ms();
    const char *err = capture_stderr(free_with_a_pending_task, NULL);
    ck_assert_int_lt(test_now_ms() - start, 5000);
    ck_assert_ptr_nonnull(strstr(err, "'sleep_ms_arg'"));
    ck_assert_ptr_nonnull(strstr(err, "still pending when the loop was freed"));
    ck_assert_ptr_nonnull(strstr(err, "returned -125"));   /* it unwound with -ECANCELED */
}
END_TEST

static int plus_one(void *arg) { await_sleep_ms(1); return *(int *)arg + 1; }

static void co_run_plus_one(void *arg)
{
    int x = 1;
    *(int *)arg = co_run(plus_one, &x);
}

static int run_nested(void *arg)
{
    const char *err = capture_stderr(co_run_plus_one, arg);
    ck_assert_ptr_nonnull(strstr(err, "co_run() called at tests/test_task.c:"));
    ck_assert_ptr_nonnull(strstr(err, "while a loop is running on this thread"));
    return 0;
}

START_TEST(co_run_runs_a_function_from_plain_code_and_refuses_to_nest)
{
    int fds = open_fd_count();
    int x = 41;
    ck_assert_int_eq(co_run(plus_one, &x), 42);
    ck_assert_ptr_null(loop_current());
    int nested = 0;
    ck_assert_int_eq(co_run(run_nested, &nested), 0);
    ck_assert_int_eq(nested, -CO_ENESTED);
    ck_assert_int_eq(open_fd_count(), fds);
}
END_TEST

static int double_join(void *arg)
{
    co_task **target = arg;
    return await_task(*target, NULL, CO_NO_DEADLINE);
}

static int two_joiners(void *arg)
{
    (void)arg;
    co_task *sleeper, *first;
    task_spawn(&sleeper, sleep_ms_arg, (void *)20L);
    task_spawn(&first, double_join, &sleeper);
    await_yield();                         /* let `first` start joining */
    ck_assert_int_eq(await_task(sleeper, NULL, CO_NO_DEADLINE), -EBUSY);
    int r = -1;
    ck_assert_int_eq(await_task(first, &r, CO_NO_DEADLINE), 0);
    ck_assert_int_eq(r, 0);
    return 0;
}

START_TEST(a_second_joiner_gets_ebusy)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    test_run_main(two_joiners, NULL);
    loop_free_clean(loop, fds);
}
END_TEST

/* Review finding: a sleep "forever" overflowed the deadline into the past. */
static int sleep_forever_is_cancelled(void *arg)
{
    (void)arg;
    co_task *t;
    task_spawn(&t, sleep_ms_arg, (void *)(long)(INT64_MAX / 1000));
    await_sleep_ms(30);
    ck_assert_int_eq(co_deadline_in_ms(INT64_MAX / 1000), INT64_MAX);   /* saturated */
    int result = 0;
    ck_assert_int_eq(await_task(t, &result, co_deadline_in_ms(0)), -ETIMEDOUT);   /* still asleep */
    task_cancel(t);
    ck_assert_int_eq(await_task(t, &result, CO_NO_DEADLINE), 0);
    ck_assert_int_eq(result, -ECANCELED);
    return 0;
}

START_TEST(a_huge_sleep_saturates_instead_of_overflowing)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    test_run_main(sleep_forever_is_cancelled, NULL);
    loop_free_clean(loop, fds);
}
END_TEST

/* Review finding: a joiner already woken (by its deadline or a cancel) but
 * not yet run made a second join of the same task fail with -EBUSY.  A
 * cancel puts it in that state deterministically. */
struct stale { co_task *target; int first_rc, second_rc, result; };

static int join_target(void *arg)
{
    struct stale *s = arg;
    s->first_rc = await_task(s->target, NULL, CO_NO_DEADLINE);
    return 0;
}

static int join_after_the_first_joiner_was_cancelled(void *arg)
{
    struct stale *s = arg;
    co_task *first;
    task_spawn(&s->target, sleep_ms_arg, (void *)40L);
    task_spawn(&first, join_target, s);
    await_yield();         /* `first` is now joining the target */
    task_cancel(first);    /* woken with -ECANCELED; it has not run yet */
    s->second_rc = await_task(s->target, &s->result, CO_NO_DEADLINE);
    return await_task(first, NULL, CO_NO_DEADLINE);
}

START_TEST(a_joiner_already_woken_does_not_make_the_task_busy)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    struct stale s = { 0 };
    test_run_main(join_after_the_first_joiner_was_cancelled, &s);
    ck_assert_int_eq(s.first_rc, -ECANCELED);
    ck_assert_int_eq(s.second_rc, 0);
    ck_assert_int_eq(s.result, 0);
    loop_free_clean(loop, fds);
}
END_TEST

/* Review finding: co_run on a thread whose loop stops before main ends left
 * main writing into co_run's dead stack frame (ASan: stack-use-after-return). */
static int stop_the_loop(void *arg) { (void)arg; loop_stop(loop_current()); return 0; }
static int main_that_outlives_co_run(void *arg) { (void)arg; await_sleep_ms(20); return 7; }

START_TEST(co_run_on_a_stopped_loop_returns_ecanceled_and_main_ends_safely)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    test_spawn_detached(stop_the_loop, NULL, "stopper");
    ck_assert_int_eq(co_run(main_that_outlives_co_run, NULL), -ECANCELED);
    ck_assert_int_eq(loop_run(loop), 0);   /* main ends now, on the caller's loop */
    loop_free_clean(loop, fds);
}
END_TEST

static Suite *task_suite(void)
{
    Suite *s = suite_create("task");
    TCase *tc = tcase_create("task");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, join_returns_each_result);
    tcase_add_test(tc, ten_thousand_sleepers_wake_in_deadline_order);
    tcase_add_test(tc, yield_takes_turns_fifo);
    tcase_add_test(tc, cancel_wakes_a_sleeper_and_sticks);
    tcase_add_test(tc, cancel_before_start_fails_the_first_await);
    tcase_add_test(tc, a_sleep_after_a_long_turn_still_sleeps);
    tcase_add_test(tc, deadline_expiry_returns_etimedout_and_leaves_nothing);
    tcase_add_test(tc, explicit_cancel_beats_a_deadline_of_the_same_turn);
    tcase_add_test(tc, await_outside_a_task_is_refused_with_a_message);
    tcase_add_test(tc, deadlock_is_reported_instead_of_hanging);
    tcase_add_test(tc, never_joined_handle_is_reported_with_its_error);
    tcase_add_test(tc, detached_failure_is_logged);
    tcase_add_test(tc, pending_task_at_loop_end_is_cancelled_and_reported);
    tcase_add_test(tc, co_run_runs_a_function_from_plain_code_and_refuses_to_nest);
    tcase_add_test(tc, a_second_joiner_gets_ebusy);
    tcase_add_test(tc, a_huge_sleep_saturates_instead_of_overflowing);
    tcase_add_test(tc, a_joiner_already_woken_does_not_make_the_task_busy);
    tcase_add_test(tc, co_run_on_a_stopped_loop_returns_ecanceled_and_main_ends_safely);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(task_suite)
