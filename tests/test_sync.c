/* test_sync.c - semaphore, mutex, event and wait group as small stories:
 * the cap holds, FIFO order, and no permit is lost when a waiter is
 * cancelled or times out - before, after or in the same turn as a release
 * (the asyncio bug this design avoids). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support.h"

struct cap { struct co_sem sem; int in_flight, max_in_flight, done; };

static int capped_job(void *arg)
{
    struct cap *c = arg;
    ck_assert_int_eq(sema_await_acquire(&c->sem, CO_NO_DEADLINE), 0);
    if (++c->in_flight > c->max_in_flight)
        c->max_in_flight = c->in_flight;
    await_sleep_ms(2);
    c->in_flight--;
    c->done++;
    sema_release(&c->sem);
    return 0;
}

START_TEST(semaphore_caps_concurrency)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    struct cap c = { 0 };
    sema_init(&c.sem, 3);
    for (int i = 0; i < 20; i++)
        test_spawn_detached(capped_job, &c, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_int_eq(c.max_in_flight, 3);
    ck_assert_int_eq(c.done, 20);
    ck_assert_int_eq(sema_value(&c.sem), 3);
    ck_assert_int_eq(sema_try_acquire(&c.sem), 0);
    sema_fini(&c.sem);
    loop_free_clean(loop, fds);
}
END_TEST

struct line {
    struct co_sem sem;
    struct co_mutex mutex;
    char order[16];         /* who got it, in order */
    int n;
    int rc[8];              /* outcome per task letter */
    co_task *task[8];
    int next_letter;
    int64_t instant;        /* a deadline shared by two tasks: "the same turn" */
};

static int acquire_and_note(void *arg)
{
    struct line *l = arg;
    int me = l->next_letter++;
    l->rc[me] = sema_await_acquire(&l->sem, CO_NO_DEADLINE);
    if (l->rc[me] == 0)
        l->order[l->n++] = (char)('a' + me);
    return 0;
}

static int release_five_times(void *arg)
{
    struct line *l = arg;
    await_sleep_ms(2);   /* all five queue first */
    for (int i = 0; i < 5; i++) {
        sema_release(&l->sem);
        await_yield();
    }
    return 0;
}

START_TEST(semaphore_waiters_are_served_fifo)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    struct line l = { 0 };
    sema_init(&l.sem, 0);
    for (int i = 0; i < 5; i++)
        test_spawn_detached(acquire_and_note, &l, NULL);
    test_spawn_detached(release_five_times, &l, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_str_eq(l.order, "abcde");
    sema_fini(&l.sem);
    loop_free_clean(loop, fds);
}
END_TEST

/* Task a waits for a permit, then gives it back (if it got one) and notes
 * what its next await returns; b waits behind it. */
static int acquire_release_then_try_again(void *arg)
{
    struct line *l = arg;
    int me = l->next_letter++;
    l->rc[me] = sema_await_acquire(&l->sem, me == 0 ? l->instant : CO_NO_DEADLINE);
    if (l->rc[me] == 0) {
        l->order[l->n++] = (char)('a' + me);
        sema_release(&l->sem);
        l->rc[me + 4] = await_yield();
    }
    return 0;
}

enum race { CANCEL_WHILE_QUEUED, RELEASE_THEN_CANCEL, CANCEL_THEN_RELEASE, TIMEOUT_SAME_TURN };

struct race_story { struct line *l; enum race how; };

static int release_in_a_race(void *arg)
{
    struct race_story *r = arg;
    struct line *l = r->l;
    if (r->how == TIMEOUT_SAME_TURN) {
        await_sleep_until(l->instant);   /* wakes with a's deadline, and runs first */
        sema_release(&l->sem);
        return 0;
    }
    await_yield();   /* a and b are queued */
    if (r->how == CANCEL_WHILE_QUEUED) {
        task_cancel(l->task[0]);
        await_yield();   /* a has left the queue */
    } else if (r->how == CANCEL_THEN_RELEASE) {
        task_cancel(l->task[0]);
    }
    sema_release(&l->sem);
    if (r->how == RELEASE_THEN_CANCEL)
        task_cancel(l->task[0]);   /* a was already handed the permit */
    return 0;
}

static void run_race(enum race how, const char *want_order, int want_a)
{
    co_loop *loop = test_loop_new();
    struct line l = { 0 };
    struct race_story r = { &l, how };
    sema_init(&l.sem, 0);
    /* One value for both: deadlines read the clock afresh, so two computed
     * apart would differ by nanoseconds and could fire in different turns. */
    l.instant = co_deadline_in_ms(10);
    if (how == TIMEOUT_SAME_TURN)   /* the releaser's timer is armed before a's deadline */
        test_spawn_detached(release_in_a_race, &r, NULL);
    l.task[0] = test_spawn_detached(acquire_release_then_try_again, &l, NULL);
    l.task[1] = test_spawn_detached(acquire_release_then_try_again, &l, NULL);
    if (how != TIMEOUT_SAME_TURN)
        test_spawn_detached(release_in_a_race, &r, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_str_eq(l.order, want_order);
    ck_assert_int_eq(l.rc[0], want_a);
    ck_assert_int_eq(l.rc[1], 0);                  /* b always gets the permit */
    ck_assert_int_eq(sema_value(&l.sem), 1);        /* and nothing was lost */
    if (want_a == 0)
        ck_assert_int_eq(l.rc[4], -ECANCELED);     /* a's cancel hits its next await */
    sema_fini(&l.sem);
    loop_free(loop);
}

START_TEST(cancel_or_timeout_while_waiting_on_a_semaphore_loses_no_permit)
{
    int fds = open_fd_count();
    run_race(CANCEL_WHILE_QUEUED, "b", -ECANCELED);
    run_race(CANCEL_THEN_RELEASE, "b", -ECANCELED);
    run_race(RELEASE_THEN_CANCEL, "ab", 0);   /* a got it, gave it back, b got it */
    run_race(TIMEOUT_SAME_TURN, "b", -ETIMEDOUT);
    ck_assert_int_eq(open_fd_count(), fds);
}
END_TEST

struct counter { struct co_mutex m; int value; int rounds; };

static int increment_slowly(void *arg)
{
    struct counter *c = arg;
    for (int i = 0; i < c->rounds; i++) {
        ck_assert_int_eq(mutex_await_lock(&c->m, CO_NO_DEADLINE), 0);
        int v = c->value;
        await_yield();          /* without the lock, another task would interleave here */
        c->value = v + 1;
        ck_assert_int_eq(mutex_unlock(&c->m), 0);
    }
    return 0;
}

static int misuse_mutex(void *arg)
{
    struct counter *c = arg;
    ck_assert_int_eq(mutex_unlock(&c->m), -EPERM);      /* not the owner */
    ck_assert_int_eq(mutex_try_lock(&c->m), 0);
    ck_assert_int_eq(mutex_await_lock(&c->m, CO_NO_DEADLINE), -EDEADLK);
    ck_assert_int_eq(mutex_unlock(&c->m), 0);
    return 0;
}

START_TEST(mutex_excludes_and_refuses_misuse)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    struct counter c = { .rounds = 50 };
    mutex_init(&c.m);
    test_spawn_detached(misuse_mutex, &c, NULL);
    for (int i = 0; i < 3; i++)
        test_spawn_detached(increment_slowly, &c, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_int_eq(c.value, 150);
    mutex_fini(&c.m);
    loop_free_clean(loop, fds);
}
END_TEST

static int lock_and_note(void *arg)
{
    struct line *l = arg;
    int me = l->next_letter++;
    l->rc[me] = mutex_await_lock(&l->mutex, me == 2 ? co_deadline_in_ms(5) : CO_NO_DEADLINE);
    if (l->rc[me] == 0) {
        l->order[l->n++] = (char)('a' + me);
        await_sleep_ms(me == 0 ? 20 : 1);
        mutex_unlock(&l->mutex);
    }
    return 0;
}

static int cancel_b_soon(void *arg)
{
    struct line *l = arg;
    await_sleep_ms(2);
    task_cancel(l->task[1]);
    ck_assert_int_eq(mutex_try_lock(&l->mutex), -EAGAIN);
    return 0;
}

START_TEST(mutex_waiters_cancelled_or_timed_out_leave_the_lock_to_the_next)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    struct line l = { 0 };
    mutex_init(&l.mutex);
    for (int i = 0; i < 4; i++)   /* a holds it 20 ms; b is cancelled; c times out; d gets it */
        l.task[i] = test_spawn_detached(lock_and_note, &l, NULL);
    test_spawn_detached(cancel_b_soon, &l, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_str_eq(l.order, "ad");
    ck_assert_int_eq(l.rc[1], -ECANCELED);
    ck_assert_int_eq(l.rc[2], -ETIMEDOUT);
    mutex_fini(&l.mutex);
    loop_free_clean(loop, fds);
}
END_TEST

struct flag { struct co_event ev; int woke; int late_rc; };

static int wait_for_flag(void *arg)
{
    struct flag *f = arg;
    ck_assert_int_eq(event_await(&f->ev, CO_NO_DEADLINE), 0);
    f->woke++;
    return 0;
}

static int set_clear_then_wait(void *arg)
{
    struct flag *f = arg;
    await_yield();
    event_set(&f->ev);
    event_clear(&f->ev);   /* the waiters were woken: they still return 0 */
    ck_assert(!event_is_set(&f->ev));
    f->late_rc = event_await(&f->ev, co_deadline_in_ms(10));
    event_set(&f->ev);
    ck_assert_int_eq(event_await(&f->ev, CO_NO_DEADLINE), 0);   /* set: at once */
    return 0;
}

START_TEST(event_set_wakes_every_waiter)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    struct flag f = { 0 };
    event_init(&f.ev);
    for (int i = 0; i < 3; i++)
        test_spawn_detached(wait_for_flag, &f, NULL);
    test_spawn_detached(set_clear_then_wait, &f, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_int_eq(f.woke, 3);
    ck_assert_int_eq(f.late_rc, -ETIMEDOUT);
    event_fini(&f.ev);
    loop_free_clean(loop, fds);
}
END_TEST

struct crew { struct co_waitgroup wg; int sleep_ms[3]; int next; };

static int work_then_done(void *arg)
{
    struct crew *c = arg;
    await_sleep_ms(c->sleep_ms[c->next++]);
    ck_assert_int_eq(waitgroup_done(&c->wg), 0);
    return 0;
}

static int wait_for_crew(void *arg)
{
    struct crew *c = arg;
    int64_t start = test_loop_now_ms();   /* the workers' sleeps count from it */
    ck_assert_int_eq(waitgroup_await(&c->wg, co_deadline_in_ms(5)), -ETIMEDOUT);
    ck_assert_int_eq(waitgroup_await(&c->wg, CO_NO_DEADLINE), 0);
    ck_assert_int_ge(test_now_ms() - start, 29);
    ck_assert_int_eq(waitgroup_await(&c->wg, CO_NO_DEADLINE), 0);   /* 0: at once */
    return 0;
}

START_TEST(wait_group_waits_for_every_job)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    struct crew c = { .sleep_ms = { 10, 30, 20 } };
    waitgroup_init(&c.wg);
    ck_assert_int_eq(waitgroup_add(&c.wg, 3), 0);
    ck_assert_int_eq(waitgroup_add(&c.wg, -4), -EINVAL);
    for (int i = 0; i < 3; i++)
        test_spawn_detached(work_then_done, &c, NULL);
    test_spawn_detached(wait_for_crew, &c, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    waitgroup_fini(&c.wg);
    loop_free_clean(loop, fds);
}
END_TEST

struct blocked { struct co_sem sem; int rc; };

static int block_on_sem(void *arg)
{
    struct blocked *b = arg;
    b->rc = sema_await_acquire(&b->sem, CO_NO_DEADLINE);
    return 0;
}

static int dump_then_fini(void *arg)
{
    struct blocked *b = arg;
    await_yield();
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    loop_dump_tasks(loop_current(), out);
    fclose(out);
    ck_assert_ptr_nonnull(strstr(text, "waiting on semaphore"));
    free(text);
    sema_fini(&b->sem);   /* the waiter wakes with -CO_ECLOSED */
    return 0;
}

START_TEST(a_task_dump_names_the_primitive_and_fini_wakes_waiters)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    struct blocked b = { .rc = 1 };
    sema_init(&b.sem, 0);
    test_spawn_detached(block_on_sem, &b, NULL);
    test_spawn_detached(dump_then_fini, &b, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_int_eq(b.rc, -CO_ECLOSED);
    loop_free_clean(loop, fds);
}
END_TEST

static Suite *sync_suite(void)
{
    Suite *s = suite_create("sync");
    TCase *tc = tcase_create("sync");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, semaphore_caps_concurrency);
    tcase_add_test(tc, semaphore_waiters_are_served_fifo);
    tcase_add_test(tc, cancel_or_timeout_while_waiting_on_a_semaphore_loses_no_permit);
    tcase_add_test(tc, mutex_excludes_and_refuses_misuse);
    tcase_add_test(tc, mutex_waiters_cancelled_or_timed_out_leave_the_lock_to_the_next);
    tcase_add_test(tc, event_set_wakes_every_waiter);
    tcase_add_test(tc, wait_group_waits_for_every_job);
    tcase_add_test(tc, a_task_dump_names_the_primitive_and_fini_wakes_waiters);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(sync_suite)
