/* test_coro.c - the raw context switch, below the task layer: control and
 * values move between two contexts, and a pointer survives makecontext. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "runtime/coro.h"
#include "tests/support.h"

struct pingpong {
    struct co_coro home, worker;
    int value;          /* passed back and forth, incremented on each side */
    int worker_steps;
    void *seen_arg;     /* the pointer the worker received */
};

static void worker_entry(void *arg)
{
    struct pingpong *pp = arg;
    pp->seen_arg = arg;
    for (int i = 0; i < 1000; i++) {
        pp->value++;
        pp->worker_steps++;
        coro_switch(&pp->worker, &pp->home);
    }
}

START_TEST(switch_passes_values_both_ways)
{
    struct pingpong *pp = calloc(1, sizeof *pp);
    struct co_stack stack;
    ck_assert_int_eq(stack_alloc(&stack, CO_STACK_DEFAULT_SIZE, true), 0);
    coro_init_home(&pp->home);
    ck_assert_int_eq(coro_make(&pp->worker, &stack, worker_entry, pp, &pp->home), 0);
    for (int i = 0; i < 1000; i++) {
        coro_switch(&pp->home, &pp->worker);
        ck_assert_int_eq(pp->value, 2 * i + 1);   /* the worker added one */
        pp->value++;                              /* and we add one */
    }
    coro_switch(&pp->home, &pp->worker);          /* let entry return: it comes home */
    ck_assert_int_eq(pp->worker_steps, 1000);
    ck_assert_ptr_eq(pp->seen_arg, pp);
    stack_free(&stack);
    free(pp);
}
END_TEST

/* A pointer above 4 GiB would be truncated if passed as one int. */
START_TEST(pointer_above_4gib_survives_makecontext)
{
    /* Place the struct far above 4 GiB on purpose (the heap may be low, e.g.
     * under Valgrind). */
    static const uintptr_t hints[] = { 0x7e0000000000, 0x500000000000, 0x300000000000 };
    void *high = MAP_FAILED;
    for (size_t i = 0; i < sizeof hints / sizeof hints[0] && high == MAP_FAILED; i++)
        high = mmap((void *)hints[i], 4096, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    ck_assert_ptr_ne(high, MAP_FAILED);
    struct pingpong *pp = high;
    ck_assert_uint_gt((uintptr_t)pp, 0xffffffffu);
    struct co_stack stack;
    ck_assert_int_eq(stack_alloc(&stack, CO_STACK_DEFAULT_SIZE, true), 0);
    coro_init_home(&pp->home);
    coro_make(&pp->worker, &stack, worker_entry, pp, &pp->home);
    coro_switch(&pp->home, &pp->worker);
    ck_assert_ptr_eq(pp->seen_arg, pp);
    stack_free(&stack);
    munmap(high, 4096);
}
END_TEST

static Suite *coro_suite(void)
{
    Suite *s = suite_create("coro");
    TCase *tc = tcase_create("switch");
    tcase_add_test(tc, switch_passes_values_both_ways);
    tcase_add_test(tc, pointer_above_4gib_survives_makecontext);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(coro_suite)
