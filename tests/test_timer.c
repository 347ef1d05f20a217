/* test_timer.c - the timer heap alone: order, ties, removal from anywhere. */
#include <stdlib.h>

#include "runtime/timer.h"
#include "tests/support.h"

#define N 5000

static int fired_count;
static struct co_timer *fired[N];

static void record_fire(struct co_timer *t) { fired[fired_count++] = t; }

/* Pop everything due, the way the loop does. */
static void drain(struct co_timer_heap *h)
{
    struct co_timer *t;
    while ((t = timer_heap_first(h))) {
        timer_heap_remove(h, t);
        t->fire(t);
    }
}

START_TEST(fires_in_deadline_order)
{
    static struct co_timer timers[N];
    struct co_timer_heap h = { 0 };
    srand(42);
    fired_count = 0;
    for (int i = 0; i < N; i++) {
        timer_init(&timers[i], record_fire);
        ck_assert_int_eq(timer_heap_add(&h, &timers[i], rand() % 1000), 0);
    }
    drain(&h);
    ck_assert_int_eq(fired_count, N);
    for (int i = 1; i < N; i++) {
        ck_assert_int_le(fired[i - 1]->deadline_ns, fired[i]->deadline_ns);
        if (fired[i - 1]->deadline_ns == fired[i]->deadline_ns)   /* ties: arming order */
            ck_assert_uint_lt(fired[i - 1]->seq, fired[i]->seq);
    }
    timer_heap_fini(&h);
}
END_TEST

START_TEST(removed_timers_never_fire)
{
    static struct co_timer timers[N];
    struct co_timer_heap h = { 0 };
    srand(7);
    fired_count = 0;
    for (int i = 0; i < N; i++) {
        timer_init(&timers[i], record_fire);
        timer_heap_add(&h, &timers[i], rand() % 100000);
    }
    for (int i = 0; i < N; i += 3)   /* remove a third, from all over the heap */
        timer_heap_remove(&h, &timers[i]);
    ck_assert_uint_eq(h.count, N - (N + 2) / 3);
    drain(&h);
    ck_assert_int_eq(fired_count, N - (N + 2) / 3);
    for (int i = 0; i < fired_count; i++)
        ck_assert_int_ne((int)(fired[i] - timers) % 3, 0);
    for (int i = 1; i < fired_count; i++)
        ck_assert_int_le(fired[i - 1]->deadline_ns, fired[i]->deadline_ns);
    timer_heap_fini(&h);
}
END_TEST

START_TEST(rearming_moves_a_timer)
{
    struct co_timer a, b;
    struct co_timer_heap h = { 0 };
    fired_count = 0;
    timer_init(&a, record_fire);
    timer_init(&b, record_fire);
    timer_heap_add(&h, &a, 10);
    timer_heap_add(&h, &b, 20);
    timer_heap_add(&h, &a, 30);   /* re-arm later than b */
    ck_assert_uint_eq(h.count, 2);
    drain(&h);
    ck_assert_ptr_eq(fired[0], &b);
    ck_assert_ptr_eq(fired[1], &a);
    ck_assert(!timer_is_armed(&a));
    timer_heap_remove(&h, &a);    /* removing a disarmed timer is harmless */
    timer_heap_fini(&h);
}
END_TEST

/* Every slot holds its timer's own key, each timer knows its slot, and no
 * parent fires after its children: the three facts the heap relies on. */
static void check_heap(const struct co_timer_heap *h)
{
    for (size_t i = 0; i < h->count; i++) {
        const struct timer_slot *s = &h->items[i];
        ck_assert_uint_eq(s->timer->heap_index, i);
        ck_assert_int_eq(s->deadline_ns, s->timer->deadline_ns);
        ck_assert_uint_eq(s->seq, s->timer->seq);
        if (i > 0) {
            const struct timer_slot *p = &h->items[(i - 1) / TIMER_HEAP_ARITY];
            ck_assert(p->deadline_ns < s->deadline_ns
                      || (p->deadline_ns == s->deadline_ns && p->seq < s->seq));
        }
    }
}

/* Random arms, re-arms, removals and pops, the heap checked after each. */
START_TEST(random_operations_keep_the_heap_whole)
{
    enum { M = 150, STEPS = 3000 };
    static struct co_timer timers[M];
    struct co_timer_heap h = { 0 };
    srand(1234);
    for (int i = 0; i < M; i++)
        timer_init(&timers[i], record_fire);
    size_t armed = 0;
    for (int step = 0; step < STEPS; step++) {
        struct co_timer *t = &timers[rand() % M];
        int op = rand() % 4;
        if (op <= 1) {                      /* arm or re-arm; few distinct deadlines: many ties */
            armed += !timer_is_armed(t);
            ck_assert_int_eq(timer_heap_add(&h, t, rand() % 50), 0);
        } else if (op == 2) {
            armed -= timer_is_armed(t);
            timer_heap_remove(&h, t);
        } else if (h.count > 0) {           /* pop the first, as the loop does */
            struct co_timer *first = timer_heap_first(&h);
            for (size_t i = 0; i < h.count; i++)
                ck_assert_int_le(first->deadline_ns, h.items[i].deadline_ns);
            timer_heap_remove(&h, first);
            armed--;
        }
        ck_assert_uint_eq(h.count, armed);
        check_heap(&h);
    }
    timer_heap_fini(&h);
    for (int i = 0; i < M; i++)
        ck_assert(!timer_is_armed(&timers[i]));
}
END_TEST

static Suite *timer_suite(void)
{
    Suite *s = suite_create("timer");
    TCase *tc = tcase_create("heap");
    tcase_add_test(tc, fires_in_deadline_order);
    tcase_add_test(tc, removed_timers_never_fire);
    tcase_add_test(tc, rearming_moves_a_timer);
    tcase_add_test(tc, random_operations_keep_the_heap_whole);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(timer_suite)
