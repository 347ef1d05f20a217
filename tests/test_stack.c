/* test_stack.c - stack mapping, guard page, cache reuse and the mapping budget. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "runtime/internal.h"
#include "runtime/sanitizers.h"
#include "tests/support.h"

START_TEST(guard_page_is_not_accessible)
{
    struct co_stack s;
    ck_assert_int_eq(stack_alloc(&s, 64 * 1024, true), 0);
    ck_assert_uint_eq(s.size, 64 * 1024);
    ck_assert_ptr_eq((char *)s.map + getpagesize(), s.lo);
    memset(s.lo, 0xab, s.size);             /* the whole usable range is writable */
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, STDERR_FILENO);           /* keep ASan's report of this planned fault out of the log */
    ((volatile char *)s.map)[0] = 1;        /* the guard page is not: this must fault */
}
END_TEST

static int noop(void *arg) { (void)arg; return 7; }

struct reuse {
    void *stack_lo[4];   /* the stack each of four spawns got */
};

static int spawn_sequentially(void *arg)
{
    struct reuse *r = arg;
    for (int i = 0; i < 4; i++) {
        co_task *t;
        ck_assert_int_eq(task_spawn(&t, noop, NULL), 0);
        r->stack_lo[i] = t->stack.lo;
        int result;
        ck_assert_int_eq(await_task(t, &result, CO_NO_DEADLINE), 0);
        ck_assert_int_eq(result, 7);
    }
    return 0;
}

START_TEST(cache_reuses_a_finished_tasks_stack)
{
    int fds = open_fd_count();
    co_loop *loop;
    ck_assert_int_eq(loop_new(&loop), 0);
    struct reuse r;
    co_task *t;
    task_spawn(&t, spawn_sequentially, &r);
    task_detach(t);
    ck_assert_int_eq(loop_run(loop), 0);
    /* main task holds one stack; each child reuses the one the last child freed */
    ck_assert_ptr_eq(r.stack_lo[1], r.stack_lo[0]);
    ck_assert_ptr_eq(r.stack_lo[3], r.stack_lo[0]);
    struct loop_stats st;
    loop_get_stats(loop, &st);
    ck_assert_uint_ge(st.stack_cache_hits, 3);
    loop_free_clean(loop, fds);
}
END_TEST

START_TEST(spawn_past_the_budget_fails_with_a_clear_error)
{
    int fds = open_fd_count();
    co_loop *loop;
    ck_assert_int_eq(loop_new(&loop), 0);
    stack_set_guarded_limit(stack_guarded_in_use() + 10);
    co_task *t[11];
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(task_spawn(&t[i], noop, NULL), 0);
    ck_assert_int_eq(task_spawn(&t[10], noop, NULL), -CO_ENOSTACK);
    ck_assert_ptr_null(t[10]);
    ck_assert_ptr_nonnull(strstr(stack_error_detail(), "vm.max_map_count"));
    ck_assert_ptr_nonnull(strstr(stack_error_detail(), "10 guarded stacks exist"));
    ck_assert_ptr_nonnull(strstr(co_strerror(-CO_ENOSTACK), "stack"));
    /* the way out the message offers: unguarded stacks do not count */
    struct co_spawn_opts opts = { .name = "unguarded", .unguarded = true };
    ck_assert_int_eq(task_spawn_opts(&t[10], noop, NULL, &opts), 0);
    for (int i = 0; i < 11; i++)
        task_detach(t[i]);
    ck_assert_int_eq(loop_run(loop), 0);
    stack_set_guarded_limit(0);
    loop_free_clean(loop, fds);
}
END_TEST

START_TEST(budget_is_derived_from_max_map_count)
{
    long limit = stack_guarded_limit();
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    long max_maps = 0;
    ck_assert_int_eq(fscanf(f, "%ld", &max_maps), 1);
    fclose(f);
    ck_assert_int_gt(limit, 1000);
    ck_assert_int_lt(limit, max_maps / 2);   /* two maps per stack, minus headroom */
}
END_TEST

/* Out of address space: a child process lowers RLIMIT_AS to a little above
 * what it uses and spawns tasks with 1 MiB stacks until one fails; the
 * error must name the limit.  (Not under ASan, whose shadow memory needs
 * terabytes of address space, nor Valgrind, which manages its own.) */
static size_t spawn_until_out_of_address_space(void *arg, char *out, size_t cap)
{
    (void)arg;
    long vm_pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%ld", &vm_pages) != 1)
        return (size_t)snprintf(out, cap, "setup: cannot read /proc/self/statm");
    fclose(f);
    struct rlimit as = { 0 };
    as.rlim_cur = as.rlim_max = (rlim_t)vm_pages * (rlim_t)sysconf(_SC_PAGESIZE) + (64u << 20);
    co_loop *loop;
    if (setrlimit(RLIMIT_AS, &as) < 0 || loop_new(&loop) < 0)
        return (size_t)snprintf(out, cap, "setup: setrlimit or loop_new failed");
    struct co_spawn_opts big = { .name = "big", .stack_size = 1u << 20 };
    int rc = 0;
    for (int i = 0; i < 1000 && rc == 0; i++) {
        co_task *t;
        rc = task_spawn_opts(&t, noop, NULL, &big);
    }
    int n = snprintf(out, cap, "%d %s", rc, stack_error_detail());
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

START_TEST(out_of_address_space_names_the_limit)
{
#ifdef CO_ASAN
    return;
#endif
    if (getenv("COLOOP_UNDER_VALGRIND"))
        return;
    char got[512];
    test_answer_from_child(spawn_until_out_of_address_space, NULL, got, sizeof got);
    ck_assert_msg(strncmp(got, "-12 ", 4) == 0, "%s", got);     /* -ENOMEM */
    ck_assert_msg(strstr(got, "RLIMIT_AS") && strstr(got, "task stack"), "%s", got);
}
END_TEST

static Suite *stack_suite(void)
{
    Suite *s = suite_create("stack");
    TCase *tc = tcase_create("stack");
    /* A deliberate fault needs its own process.  Under ASan its SEGV handler
     * reports the fault and then aborts (abort_on_error=1). */
#ifdef CO_ASAN
    int fault_signal = SIGABRT;
#else
    int fault_signal = SIGSEGV;
#endif
    if (!check_no_fork_mode())
        tcase_add_test_raise_signal(tc, guard_page_is_not_accessible, fault_signal);
    tcase_add_test(tc, cache_reuses_a_finished_tasks_stack);
    tcase_add_test(tc, spawn_past_the_budget_fails_with_a_clear_error);
    tcase_add_test(tc, budget_is_derived_from_max_map_count);
    tcase_add_test(tc, out_of_address_space_names_the_limit);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(stack_suite)
