/* test_channel.c - channels as small stories: buffering and FIFO order,
 * rendezvous, close while tasks wait on both ends, deadlines, a waiter that
 * times out or is cancelled in the same turn a value arrives (the value
 * goes to the next waiter), and 10,000 tasks through one channel. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support.h"

START_TEST(buffered_channel_is_fifo_and_try_ops_say_eagain)
{
    co_chan *ch;
    ck_assert_int_eq(chan_new(&ch, sizeof(int), 3), 0);
    for (int i = 1; i <= 3; i++)
        ck_assert_int_eq(chan_try_send(ch, &i), 0);
    int x = 4, v = 0;
    ck_assert_int_eq(chan_try_send(ch, &x), -EAGAIN);
    ck_assert_uint_eq(chan_len(ch), 3);
    for (int i = 1; i <= 3; i++) {
        ck_assert_int_eq(chan_try_recv(ch, &v), 0);
        ck_assert_int_eq(v, i);
    }
    ck_assert_int_eq(chan_try_recv(ch, &v), -EAGAIN);
    ck_assert_int_eq(chan_new(&(co_chan *){ NULL }, 0, 1), -EINVAL);
    chan_free(ch);
}
END_TEST

struct story {
    co_chan *ch;
    char log[64];           /* what happened, in order */
    int n;
    int rc[8];              /* each task's outcome */
    int got[8];
    int index;              /* handed out to tasks as they start */
    int64_t instant;        /* one deadline shared by two tasks */
};

static void note(struct story *s, char c) { s->log[s->n++] = c; }

static int rendezvous_sender(void *arg)
{
    struct story *s = arg;
    int v = 7;
    note(s, 's');
    ck_assert_int_eq(chan_await_send(s->ch, &v, CO_NO_DEADLINE), 0);
    note(s, 'S');   /* only after the receiver took it */
    return 0;
}

static int rendezvous_receiver(void *arg)
{
    struct story *s = arg;
    ck_assert_int_eq(await_sleep_ms(10), 0);
    note(s, 'r');
    ck_assert_int_eq(chan_await_recv(s->ch, &s->got[0], CO_NO_DEADLINE), 0);
    note(s, 'R');
    return 0;
}

START_TEST(capacity_zero_is_a_rendezvous)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    struct story s = { 0 };
    ck_assert_int_eq(chan_new(&s.ch, sizeof(int), 0), 0);
    int v = 1;
    ck_assert_int_eq(chan_try_send(s.ch, &v), -EAGAIN);   /* nobody is receiving */
    test_spawn_detached(rendezvous_sender, &s, NULL);
    test_spawn_detached(rendezvous_receiver, &s, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_str_eq(s.log, "srRS");   /* the receiver resumes at once, the sender next */
    ck_assert_int_eq(s.got[0], 7);
    chan_free(s.ch);
    loop_free_clean(loop, fds);
}
END_TEST

static int send_mine(void *arg)
{
    struct story *s = arg;
    int me = s->index++;
    int v = 100 + me;
    s->rc[me] = chan_await_send(s->ch, &v, CO_NO_DEADLINE);
    return 0;
}

static int recv_mine(void *arg)
{
    struct story *s = arg;
    int me = s->index++;
    s->got[me] = -1;
    s->rc[me] = chan_await_recv(s->ch, &s->got[me], CO_NO_DEADLINE);
    return 0;
}

static int close_full_channel(void *arg)
{
    struct story *s = arg;
    await_sleep_ms(5);   /* the 2 senders fill the buffer, 2 more wait */
    chan_close(s->ch);
    int v;
    ck_assert_int_eq(chan_await_recv(s->ch, &v, CO_NO_DEADLINE), 0);   /* drain what is left */
    ck_assert_int_eq(v, 100);
    ck_assert_int_eq(chan_await_recv(s->ch, &v, CO_NO_DEADLINE), 0);
    ck_assert_int_eq(v, 101);
    ck_assert_int_eq(chan_await_recv(s->ch, &v, CO_NO_DEADLINE), -CO_ECLOSED);
    ck_assert_int_eq(chan_await_send(s->ch, &v, CO_NO_DEADLINE), -CO_ECLOSED);
    return 0;
}

static int yield_then_close(void *arg)
{
    await_yield();   /* the receivers are waiting now */
    chan_close(arg);
    return 0;
}

START_TEST(close_wakes_waiting_senders_and_receivers_drain_then_get_epipe)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    struct story s = { 0 };
    ck_assert_int_eq(chan_new(&s.ch, sizeof(int), 2), 0);
    for (int i = 0; i < 4; i++)
        test_spawn_detached(send_mine, &s, NULL);
    test_spawn_detached(close_full_channel, &s, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_int_eq(s.rc[0], 0);
    ck_assert_int_eq(s.rc[1], 0);
    ck_assert_int_eq(s.rc[2], -CO_ECLOSED);
    ck_assert_int_eq(s.rc[3], -CO_ECLOSED);
    chan_free(s.ch);

    /* Receivers waiting on an empty channel wake with -CO_ECLOSED. */
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(chan_new(&s.ch, sizeof(int), 0), 0);
    test_spawn_detached(recv_mine, &s, NULL);
    test_spawn_detached(recv_mine, &s, NULL);
    test_spawn_detached(yield_then_close, s.ch, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_int_eq(s.rc[0], -CO_ECLOSED);
    ck_assert_int_eq(s.rc[1], -CO_ECLOSED);
    ck_assert_int_eq(s.got[0], -1);   /* untouched on failure */
    chan_free(s.ch);
    loop_free_clean(loop, fds);
}
END_TEST

static int send_in_order(void *arg)
{
    struct story *s = arg;
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(chan_await_send(s->ch, &i, CO_NO_DEADLINE), 0);
    return 0;
}

static int receive_five(void *arg)
{
    struct story *s = arg;
    await_sleep_ms(5);   /* every sender is queued by now */
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(chan_await_recv(s->ch, &s->got[i], CO_NO_DEADLINE), 0);
    return 0;
}

START_TEST(waiting_senders_and_receivers_are_served_fifo)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    struct story s = { 0 };
    ck_assert_int_eq(chan_new(&s.ch, sizeof(int), 0), 0);
    for (int i = 0; i < 5; i++)
        test_spawn_detached(send_mine, &s, NULL);
    test_spawn_detached(receive_five, &s, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(s.got[i], 100 + i);   /* senders 0..4 in the order they queued */

    memset(s.got, 0, sizeof s.got);
    s.index = 0;
    for (int i = 0; i < 5; i++)
        test_spawn_detached(recv_mine, &s, NULL);
    test_spawn_detached(send_in_order, &s, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(s.got[i], i);     /* receiver i got value i */
    chan_free(s.ch);
    loop_free_clean(loop, fds);
}
END_TEST

static int deadlines_on_both_ends(void *arg)
{
    co_chan *ch = arg;
    int v = 1;
    int64_t start = test_loop_now_ms();
    ck_assert_int_eq(chan_await_recv(ch, &v, co_deadline_in_ms(20)), -ETIMEDOUT);
    ck_assert_int_ge(test_now_ms() - start, 19);
    ck_assert_int_eq(chan_await_send(ch, &v, CO_NO_DEADLINE), 0);   /* fills capacity 1 */
    start = test_loop_now_ms();
    ck_assert_int_eq(chan_await_send(ch, &v, co_deadline_in_ms(20)), -ETIMEDOUT);
    ck_assert_int_ge(test_now_ms() - start, 19);
    ck_assert_uint_eq(chan_len(ch), 1);
    ck_assert_int_eq(chan_await_send(ch, &v, co_now_ns() - 1), -ETIMEDOUT);   /* past deadline */
    ck_assert_int_eq(chan_await_recv(ch, &v, co_now_ns() - 1), 0);   /* no wait needed: ok */
    struct loop_stats st;
    loop_get_stats(loop_current(), &st);
    ck_assert_uint_eq(st.timers_armed, 0);
    task_cancel(task_self());
    ck_assert_int_eq(chan_try_send(ch, &v), 0);
    ck_assert_int_eq(chan_await_recv(ch, &v, CO_NO_DEADLINE), -ECANCELED);   /* checked first */
    return 0;
}

START_TEST(deadlines_on_both_ends_leave_nothing_behind)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    co_chan *ch;
    ck_assert_int_eq(chan_new(&ch, sizeof(int), 1), 0);
    test_spawn_detached(deadlines_on_both_ends, ch, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    chan_free(ch);
    loop_free_clean(loop, fds);
}
END_TEST

/* A (deadline 10 ms) and B wait to receive; the sender wakes at the same
 * instant as A's deadline (the very same value: deadlines read the clock
 * afresh, so two computed apart would differ by nanoseconds), and runs
 * first.  A's timeout must not eat the value: it goes to B. */
static int recv_with_deadline(void *arg)
{
    struct story *s = arg;
    int me = s->index++;
    s->got[me] = -1;
    s->rc[me] = chan_await_recv(s->ch, &s->got[me], s->instant);
    return 0;
}

static int send_after_10ms(void *arg)
{
    struct story *s = arg;
    await_sleep_until(s->instant);
    int v = 42;
    ck_assert_int_eq(chan_await_send(s->ch, &v, CO_NO_DEADLINE), 0);
    return 0;
}

struct cancel_story { struct story *s; co_task *victim; };

static int cancel_then_send(void *arg)
{
    struct cancel_story *c = arg;
    await_yield();   /* both receivers are queued */
    task_cancel(c->victim);
    int v = 42;
    ck_assert_int_eq(chan_await_send(c->s->ch, &v, CO_NO_DEADLINE), 0);
    return 0;
}

START_TEST(a_waiter_timed_out_or_cancelled_in_the_same_turn_passes_the_value_on)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    struct story s = { 0 };
    ck_assert_int_eq(chan_new(&s.ch, sizeof(int), 0), 0);
    s.instant = co_deadline_in_ms(10);
    test_spawn_detached(send_after_10ms, &s, NULL);    /* armed first: fires first, runs first */
    test_spawn_detached(recv_with_deadline, &s, NULL);
    test_spawn_detached(recv_mine, &s, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_int_eq(s.rc[0], -ETIMEDOUT);
    ck_assert_int_eq(s.got[0], -1);
    ck_assert_int_eq(s.rc[1], 0);
    ck_assert_int_eq(s.got[1], 42);

    memset(&s.rc, 0, sizeof s.rc);
    s.index = 0;
    struct cancel_story c = { &s, NULL };
    c.victim = test_spawn_detached(recv_mine, &s, NULL);   /* detached: alive until it returns */
    test_spawn_detached(recv_mine, &s, NULL);
    test_spawn_detached(cancel_then_send, &c, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_int_eq(s.rc[0], -ECANCELED);
    ck_assert_int_eq(s.rc[1], 0);
    ck_assert_int_eq(s.got[1], 42);
    chan_free(s.ch);
    loop_free_clean(loop, fds);
}
END_TEST

#define MANY 10000
struct many { co_chan *ch; int next; int received; bool in_order; };

static int produce_one(void *arg)
{
    struct many *m = arg;
    int v = m->next++;
    return chan_await_send(m->ch, &v, CO_NO_DEADLINE);
}

static int consume_all(void *arg)
{
    struct many *m = arg;
    int v;
    m->in_order = true;
    while (m->received < MANY && chan_await_recv(m->ch, &v, CO_NO_DEADLINE) == 0)
        m->in_order &= v == m->received++;
    return 0;
}

START_TEST(ten_thousand_tasks_through_one_channel)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    struct many m = { 0 };
    ck_assert_int_eq(chan_new(&m.ch, sizeof(int), 8), 0);
    for (int i = 0; i < MANY; i++)
        test_spawn_detached(produce_one, &m, NULL);
    test_spawn_detached(consume_all, &m, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_int_eq(m.received, MANY);
    ck_assert(m.in_order);   /* producers queued in spawn order and were served so */
    ck_assert_uint_eq(chan_len(m.ch), 0);
    chan_free(m.ch);
    loop_free_clean(loop, fds);
}
END_TEST

static Suite *channel_suite(void)
{
    Suite *s = suite_create("channel");
    TCase *tc = tcase_create("channel");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, buffered_channel_is_fifo_and_try_ops_say_eagain);
    tcase_add_test(tc, capacity_zero_is_a_rendezvous);
    tcase_add_test(tc, close_wakes_waiting_senders_and_receivers_drain_then_get_epipe);
    tcase_add_test(tc, waiting_senders_and_receivers_are_served_fifo);
    tcase_add_test(tc, deadlines_on_both_ends_leave_nothing_behind);
    tcase_add_test(tc, a_waiter_timed_out_or_cancelled_in_the_same_turn_passes_the_value_on);
    tcase_add_test(tc, ten_thousand_tasks_through_one_channel);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(channel_suite)
