/* test_fdwait.c - waiting on descriptors: pipes and socketpairs, partial
 * writes, deadlines, cancel, close while waiting, and the misuse cases. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/support.h"

struct pipe_pair { int fds[2]; char got[32]; int rc; };

/* Read once: try first, wait only after EAGAIN (the edge-triggered rule). */
static int read_some(int fd, char *buf, size_t len, int64_t deadline)
{
    for (;;) {
        ssize_t n = read(fd, buf, len);
        if (n >= 0)
            return (int)n;
        int err = errno;   /* copy before anything else can change it */
        if (err != EAGAIN)
            return -err;
        int rc = await_fd(fd, CO_FD_READ, deadline);
        if (rc < 0)
            return rc;
    }
}

static int reader(void *arg)
{
    struct pipe_pair *p = arg;
    p->rc = read_some(p->fds[0], p->got, sizeof p->got - 1, CO_NO_DEADLINE);
    return 0;
}

static int writer(void *arg)
{
    struct pipe_pair *p = arg;
    await_sleep_ms(20);
    ck_assert_int_eq(write(p->fds[1], "hello", 5), 5);
    return 0;
}

START_TEST(reader_wakes_when_the_writer_writes)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    struct pipe_pair p = { 0 };
    ck_assert_int_eq(pipe2(p.fds, O_NONBLOCK | O_CLOEXEC), 0);
    test_spawn_detached(reader, &p, NULL);
    test_spawn_detached(writer, &p, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_int_eq(p.rc, 5);
    ck_assert_str_eq(p.got, "hello");
    loop_close_fd(p.fds[0]);
    loop_close_fd(p.fds[1]);
    loop_free_clean(loop, fds);
}
END_TEST

#define BULK (4 * 1024 * 1024)
struct bulk { int sv[2]; unsigned char *out, *in; size_t sent, received; int waits; };

static int bulk_send(void *arg)
{
    struct bulk *b = arg;
    while (b->sent < BULK) {
        ssize_t n = send(b->sv[0], b->out + b->sent, BULK - b->sent, MSG_NOSIGNAL);
        if (n > 0) {
            b->sent += (size_t)n;
            continue;
        }
        ck_assert_int_eq(errno, EAGAIN);
        b->waits++;
        ck_assert_int_eq(await_fd(b->sv[0], CO_FD_WRITE, co_deadline_in_ms(5000)), 0);
    }
    shutdown(b->sv[0], SHUT_WR);
    return 0;
}

static int bulk_receive(void *arg)
{
    struct bulk *b = arg;
    for (;;) {
        int n = read_some(b->sv[1], (char *)b->in + b->received, BULK - b->received + 1,
                          co_deadline_in_ms(5000));
        ck_assert_int_ge(n, 0);
        if (n == 0)
            return 0;
        b->received += (size_t)n;
    }
}

START_TEST(large_transfer_with_partial_writes)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    struct bulk b = { 0 };
    test_socketpair(b.sv);
    int small = 4096;
    setsockopt(b.sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    b.out = malloc(BULK);
    b.in = malloc(BULK + 1);
    for (size_t i = 0; i < BULK; i++)
        b.out[i] = (unsigned char)(i * 7 + (i >> 12));
    test_spawn_detached(bulk_send, &b, NULL);
    test_spawn_detached(bulk_receive, &b, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_uint_eq(b.received, BULK);
    ck_assert_int_eq(memcmp(b.in, b.out, BULK), 0);
    ck_assert_int_gt(b.waits, 0);   /* the small buffer forced the writer to wait */
    free(b.out);
    free(b.in);
    loop_close_fd(b.sv[0]);
    loop_close_fd(b.sv[1]);
    loop_free_clean(loop, fds);
}
END_TEST

static int read_with_deadline(void *arg)
{
    struct pipe_pair *p = arg;
    p->rc = read_some(p->fds[0], p->got, sizeof p->got, co_deadline_in_ms(20));
    return 0;
}

START_TEST(deadline_on_a_silent_pipe_times_out)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    struct pipe_pair p = { 0 };
    pipe2(p.fds, O_NONBLOCK | O_CLOEXEC);
    test_spawn_detached(read_with_deadline, &p, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_int_eq(p.rc, -ETIMEDOUT);
    struct loop_stats st;
    loop_get_stats(loop, &st);
    ck_assert_uint_eq(st.fds_registered, 1);   /* registered once, kept */
    loop_close_fd(p.fds[0]);
    close(p.fds[1]);
    loop_get_stats(loop, &st);
    ck_assert_uint_eq(st.fds_registered, 0);
    loop_free_clean(loop, fds);
}
END_TEST

struct misuse { int fds[2]; int first_rc, second_rc, file_rc; co_task *first; };

static int wait_readable(void *arg)
{
    struct misuse *m = arg;
    m->first_rc = await_fd(m->fds[0], CO_FD_READ, CO_NO_DEADLINE);
    return 0;
}

static int misuse_story(void *arg)
{
    struct misuse *m = arg;
    task_spawn(&m->first, wait_readable, m);
    await_yield();   /* the first reader is now waiting */
    m->second_rc = await_fd(m->fds[0], CO_FD_READ, co_deadline_in_ms(10));
    int file = open("/proc/self/stat", O_RDONLY);
    m->file_rc = await_fd(file, CO_FD_READ, co_deadline_in_ms(10));
    close(file);
    loop_close_fd(m->fds[0]);   /* wakes the first reader with -EBADF */
    return await_task(m->first, NULL, CO_NO_DEADLINE);
}

START_TEST(second_waiter_busy_regular_file_eperm_close_wakes_ebadf)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    struct misuse m = { 0 };
    pipe2(m.fds, O_NONBLOCK | O_CLOEXEC);
    test_spawn_detached(misuse_story, &m, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_int_eq(m.second_rc, -EBUSY);
    ck_assert_int_eq(m.file_rc, -EPERM);
    ck_assert_int_eq(m.first_rc, -EBADF);
    close(m.fds[1]);
    loop_free_clean(loop, fds);
}
END_TEST

static int cancel_the_reader(void *arg)
{
    struct misuse *m = arg;
    task_spawn(&m->first, wait_readable, m);
    await_sleep_ms(10);
    task_cancel(m->first);
    return await_task(m->first, NULL, CO_NO_DEADLINE);
}

START_TEST(cancel_while_waiting_on_an_fd)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    struct misuse m = { 0 };
    pipe2(m.fds, O_NONBLOCK | O_CLOEXEC);
    test_spawn_detached(cancel_the_reader, &m, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_int_eq(m.first_rc, -ECANCELED);
    loop_close_fd(m.fds[0]);
    close(m.fds[1]);
    loop_free_clean(loop, fds);
}
END_TEST

/* Review finding: a reader cancelled this turn (woken, not yet run) still
 * made the fd "busy" for another task reading it in the same turn. */
static int take_over_the_reader(void *arg)
{
    struct misuse *m = arg;
    task_spawn(&m->first, wait_readable, m);
    await_yield();               /* the first reader now waits */
    task_cancel(m->first);       /* woken with -ECANCELED, has not run yet */
    m->second_rc = await_fd(m->fds[0], CO_FD_READ, co_deadline_in_ms(10));
    return await_task(m->first, NULL, CO_NO_DEADLINE);
}

START_TEST(a_cancelled_reader_does_not_make_the_fd_busy)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    struct misuse m = { 0 };
    pipe2(m.fds, O_NONBLOCK | O_CLOEXEC);
    test_spawn_detached(take_over_the_reader, &m, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_int_eq(m.second_rc, -ETIMEDOUT);   /* it waited, not -EBUSY */
    ck_assert_int_eq(m.first_rc, -ECANCELED);
    loop_close_fd(m.fds[0]);
    close(m.fds[1]);
    loop_free_clean(loop, fds);
}
END_TEST

static Suite *fdwait_suite(void)
{
    Suite *s = suite_create("fdwait");
    TCase *tc = tcase_create("fdwait");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, reader_wakes_when_the_writer_writes);
    tcase_add_test(tc, large_transfer_with_partial_writes);
    tcase_add_test(tc, deadline_on_a_silent_pipe_times_out);
    tcase_add_test(tc, second_waiter_busy_regular_file_eperm_close_wakes_ebadf);
    tcase_add_test(tc, cancel_while_waiting_on_an_fd);
    tcase_add_test(tc, a_cancelled_reader_does_not_make_the_fd_busy);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(fdwait_suite)
