/* test_socket.c - nonblocking TCP on loopback: echo over IPv4 and IPv6,
 * large transfers both ways through small socket buffers, a peer that dies
 * mid-transfer, connection refused (F1), a connect that never completes
 * (F3) and cancel.  The accept loop at the descriptor limit (F14) is in
 * test_accept_limit.c (it lowers RLIMIT_NOFILE in a child of its own). */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/socket.h"
#include "tests/support.h"

/* ---- echo ---- */

struct echo {
    const char *ip;
    int lfd, port;
    int nodelay;                /* what the client socket had */
    char got[64];
    ssize_t got_len, eof_rc;
    struct sock_addr peer;
};

/* Echo everything until the peer's FIN, then close. */
static int echo_conn(int fd)
{
    char buf[16384];
    for (;;) {
        ssize_t n = sock_await_read(fd, buf, sizeof buf, co_deadline_in_ms(10000));
        if (n <= 0) {
            sock_close(fd);
            return (int)n;
        }
        int rc = sock_await_write_all(fd, buf, (size_t)n, co_deadline_in_ms(10000));
        if (rc < 0) {
            sock_close(fd);
            return rc;
        }
    }
}

static int echo_server_once(void *arg)
{
    struct echo *e = arg;
    int fd;
    ck_assert_int_eq(sock_await_accept(e->lfd, &e->peer, &fd, co_deadline_in_ms(5000)), 0);
    return echo_conn(fd);
}

static int echo_client(void *arg)
{
    struct echo *e = arg;
    struct sock_addr a;
    ck_assert_int_eq(sock_addr_parse(e->ip, e->port, &a), 0);
    int fd;
    ck_assert_int_eq(sock_await_connect(&a, NULL, &fd, co_deadline_in_ms(5000)), 0);
    socklen_t l = sizeof e->nodelay;
    getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &e->nodelay, &l);
    ck_assert_int_eq(sock_await_write_all(fd, "hello, echo", 11, co_deadline_in_ms(5000)), 0);
    ck_assert_int_eq(sock_shutdown_write(fd), 0);
    while (e->got_len < 11) {
        ssize_t n = sock_await_read(fd, e->got + e->got_len, sizeof e->got - 1 - (size_t)e->got_len,
                                    co_deadline_in_ms(5000));
        ck_assert_int_gt(n, 0);
        e->got_len += n;
    }
    e->eof_rc = sock_await_read(fd, e->got, sizeof e->got, co_deadline_in_ms(5000));
    e->got[e->got_len] = '\0';
    sock_close(fd);
    return 0;
}

static void run_echo(const char *ip)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    struct echo e = { .ip = ip };
    ck_assert_int_eq(sock_listen(ip, 0, NULL, &e.lfd), 0);
    e.port = sock_local_port(e.lfd);
    ck_assert_int_gt(e.port, 0);
    test_spawn_detached(echo_server_once, &e, NULL);
    test_spawn_detached(echo_client, &e, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_str_eq(e.got, "hello, echo");
    ck_assert_int_eq(e.eof_rc, 0);
    ck_assert_int_eq(e.nodelay, 1);   /* clients default to TCP_NODELAY */
    char addr[SOCK_ADDR_STRLEN];
    sock_addr_format(&e.peer, addr, sizeof addr);
    ck_assert_msg(strncmp(addr, ip[0] == ':' ? "[::1]:" : "127.0.0.1:", ip[0] == ':' ? 6 : 10) == 0,
                  "peer %s", addr);
    sock_close(e.lfd);
    loop_free_clean(loop, fds);
}

START_TEST(connect_accept_echo_ipv4)
{
    run_echo("127.0.0.1");
}
END_TEST

START_TEST(connect_accept_echo_ipv6)
{
    int probe;
    if (sock_listen("::1", 0, NULL, &probe) < 0)
        return;   /* no IPv6 loopback on this machine: nothing to test */
    sock_close(probe);
    run_echo("::1");
}
END_TEST

START_TEST(addresses_parse_and_format)
{
    struct sock_addr a;
    char buf[SOCK_ADDR_STRLEN];
    ck_assert_int_eq(sock_addr_parse("127.0.0.1", 8080, &a), 0);
    ck_assert_str_eq(sock_addr_format(&a, buf, sizeof buf), "127.0.0.1:8080");
    ck_assert_int_eq(sock_addr_parse("::1", 443, &a), 0);
    ck_assert_str_eq(sock_addr_format(&a, buf, sizeof buf), "[::1]:443");
    ck_assert_int_eq(sock_addr_port(&a), 443);
    ck_assert_int_eq(sock_addr_parse("localhost", 80, &a), -EINVAL);   /* names: dns.h */
    ck_assert_int_eq(sock_addr_parse("[::1]", 80, &a), -EINVAL);
    ck_assert_int_eq(sock_addr_parse("1.2.3.4", 65536, &a), -EINVAL);
    ck_assert(sock_is_ip_literal("10.0.0.1"));
    ck_assert(sock_is_ip_literal("fe80::1"));
    ck_assert(!sock_is_ip_literal("example.com"));
    ck_assert(!sock_is_ip_literal(""));
}
END_TEST

START_TEST(reuseport_lets_two_listeners_share_a_port)
{
    int a, b, c;
    struct sock_listen_opts rp = { .reuseport = true };
    ck_assert_int_eq(sock_listen("127.0.0.1", 0, &rp, &a), 0);
    int port = sock_local_port(a);
    ck_assert_int_eq(sock_listen("127.0.0.1", port, &rp, &b), 0);
    ck_assert_int_eq(sock_listen("127.0.0.1", port, NULL, &c), -EADDRINUSE);
    /* every listener has SO_REUSEADDR (a restart need not wait out TIME_WAIT);
     * SO_REUSEPORT only when asked */
    int on = 0;
    socklen_t len = sizeof on;
    ck_assert_int_eq(getsockopt(a, SOL_SOCKET, SO_REUSEADDR, &on, &len), 0);
    ck_assert_int_ne(on, 0);
    ck_assert_int_eq(sock_listen("127.0.0.1", 0, NULL, &c), 0);
    on = 0;
    ck_assert_int_eq(getsockopt(c, SOL_SOCKET, SO_REUSEADDR, &on, &len), 0);
    ck_assert_int_ne(on, 0);
    on = 1;
    ck_assert_int_eq(getsockopt(c, SOL_SOCKET, SO_REUSEPORT, &on, &len), 0);
    ck_assert_int_eq(on, 0);
    sock_close(a);
    sock_close(b);
    sock_close(c);
}
END_TEST

/* ---- large transfers through small buffers ---- */

#define BULK (8 * 1024 * 1024)

struct bulk {
    int lfd, port, cfd;
    unsigned char *out, *in;
    size_t received;
    int send_rc, recv_rc;
};

static int bulk_server(void *arg)
{
    struct bulk *b = arg;
    int fd;
    ck_assert_int_eq(sock_await_accept(b->lfd, NULL, &fd, co_deadline_in_ms(5000)), 0);
    return echo_conn(fd);
}

static int bulk_sender(void *arg)
{
    struct bulk *b = arg;
    /* Odd sizes, so writes end mid-buffer. */
    for (size_t off = 0; off < BULK && b->send_rc == 0;) {
        size_t n = BULK - off < 100003 ? BULK - off : 100003;
        b->send_rc = sock_await_write_all(b->cfd, b->out + off, n, co_deadline_in_ms(10000));
        off += n;
    }
    sock_shutdown_write(b->cfd);
    return 0;
}

static int bulk_receiver(void *arg)
{
    struct bulk *b = arg;
    for (;;) {
        ssize_t n = sock_await_read(b->cfd, b->in + b->received, BULK + 1 - b->received,
                                    co_deadline_in_ms(10000));
        if (n <= 0) {
            b->recv_rc = (int)n;
            return 0;
        }
        b->received += (size_t)n;
    }
}

static int bulk_client(void *arg)
{
    struct bulk *b = arg;
    struct sock_addr a;
    sock_addr_parse("127.0.0.1", b->port, &a);
    struct sock_opts small = { .sndbuf = 4096, .rcvbuf = 4096 };
    ck_assert_int_eq(sock_await_connect(&a, &small, &b->cfd, co_deadline_in_ms(5000)), 0);
    co_task *s, *r;
    task_spawn(&s, bulk_sender, b);
    task_spawn(&r, bulk_receiver, b);   /* one reader and one writer on one socket */
    await_task(s, NULL, CO_NO_DEADLINE);
    await_task(r, NULL, CO_NO_DEADLINE);
    sock_close(b->cfd);
    return 0;
}

START_TEST(large_transfer_both_ways_through_small_buffers)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    struct bulk b = { 0 };
    struct sock_listen_opts lo = { .sndbuf = 4096, .rcvbuf = 4096 };
    ck_assert_int_eq(sock_listen("127.0.0.1", 0, &lo, &b.lfd), 0);
    b.port = sock_local_port(b.lfd);
    b.out = malloc(BULK);
    b.in = malloc(BULK + 1);
    for (size_t i = 0; i < BULK; i++)
        b.out[i] = (unsigned char)(i * 31 + (i >> 13));
    test_spawn_detached(bulk_server, &b, NULL);
    test_spawn_detached(bulk_client, &b, NULL);
    struct loop_stats st;
    ck_assert_int_eq(loop_run(loop), 0);
    loop_get_stats(loop, &st);
    ck_assert_int_eq(b.send_rc, 0);
    ck_assert_int_eq(b.recv_rc, 0);
    ck_assert_uint_eq(b.received, BULK);
    ck_assert_int_eq(memcmp(b.in, b.out, BULK), 0);
    ck_assert_uint_gt(st.epoll_waits, 100);   /* the buffers were full again and again */
    free(b.out);
    free(b.in);
    sock_close(b.lfd);
    loop_free_clean(loop, fds);
}
END_TEST

/* ---- the peer goes away ---- */

struct dying {
    int lfd, port;
    int write_rc;
    ssize_t first_read, second_read;
};

static int reset_after_some(void *arg)
{
    struct dying *d = arg;
    int fd;
    ck_assert_int_eq(sock_await_accept(d->lfd, NULL, &fd, co_deadline_in_ms(5000)), 0);
    char buf[8192];   /* task stacks are 64 KiB: keep big buffers off them */
    size_t total = 0;
    while (total < 256 * 1024) {
        ssize_t n = sock_await_read(fd, buf, sizeof buf, co_deadline_in_ms(5000));
        ck_assert_int_gt(n, 0);
        total += (size_t)n;
    }
    sock_close_reset(fd);
    return 0;
}

static int write_forever(void *arg)
{
    struct dying *d = arg;
    struct sock_addr a;
    sock_addr_parse("127.0.0.1", d->port, &a);
    int fd;
    ck_assert_int_eq(sock_await_connect(&a, NULL, &fd, co_deadline_in_ms(5000)), 0);
    static char block[1 << 20];
    for (int i = 0; i < 1000 && d->write_rc == 0; i++)
        d->write_rc = sock_await_write_all(fd, block, sizeof block, co_deadline_in_ms(5000));
    sock_close(fd);
    return 0;
}

START_TEST(peer_resets_mid_transfer)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    struct dying d = { 0 };
    ck_assert_int_eq(sock_listen("127.0.0.1", 0, NULL, &d.lfd), 0);
    d.port = sock_local_port(d.lfd);
    test_spawn_detached(reset_after_some, &d, NULL);
    test_spawn_detached(write_forever, &d, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_msg(d.write_rc == -ECONNRESET || d.write_rc == -EPIPE, "write rc %d", d.write_rc);
    sock_close(d.lfd);
    loop_free_clean(loop, fds);
}
END_TEST

static int send_some_then_close(void *arg)
{
    struct dying *d = arg;
    int fd;
    ck_assert_int_eq(sock_await_accept(d->lfd, NULL, &fd, co_deadline_in_ms(5000)), 0);
    ck_assert_int_eq(sock_await_write_all(fd, "0123456789", 10, co_deadline_in_ms(5000)), 0);
    sock_close(fd);
    return 0;
}

static int read_until_eof(void *arg)
{
    struct dying *d = arg;
    struct sock_addr a;
    sock_addr_parse("127.0.0.1", d->port, &a);
    int fd;
    ck_assert_int_eq(sock_await_connect(&a, NULL, &fd, co_deadline_in_ms(5000)), 0);
    char buf[100];
    d->first_read = sock_await_read(fd, buf, sizeof buf, co_deadline_in_ms(5000));
    d->second_read = sock_await_read(fd, buf, sizeof buf, co_deadline_in_ms(5000));
    sock_close(fd);
    return 0;
}

START_TEST(peer_closes_mid_read_gives_data_then_eof)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    struct dying d = { 0 };
    ck_assert_int_eq(sock_listen("127.0.0.1", 0, NULL, &d.lfd), 0);
    d.port = sock_local_port(d.lfd);
    test_spawn_detached(send_some_then_close, &d, NULL);
    test_spawn_detached(read_until_eof, &d, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_int_eq(d.first_read, 10);
    ck_assert_int_eq(d.second_read, 0);
    sock_close(d.lfd);
    loop_free_clean(loop, fds);
}
END_TEST

static int reset_at_once(void *arg)
{
    struct dying *d = arg;
    int fd;
    ck_assert_int_eq(sock_await_accept(d->lfd, NULL, &fd, co_deadline_in_ms(5000)), 0);
    await_sleep_ms(20);   /* the client is waiting in its read now */
    sock_close_reset(fd);
    return 0;
}

START_TEST(peer_resets_while_we_read)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    struct dying d = { 0 };
    ck_assert_int_eq(sock_listen("127.0.0.1", 0, NULL, &d.lfd), 0);
    d.port = sock_local_port(d.lfd);
    test_spawn_detached(reset_at_once, &d, NULL);
    test_spawn_detached(read_until_eof, &d, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_int_eq(d.first_read, -ECONNRESET);
    sock_close(d.lfd);
    loop_free_clean(loop, fds);
}
END_TEST

/* ---- connect failures ---- */

struct conn_try {
    int port;
    int rc, fd;
    int64_t elapsed_ns, deadline_ms;
};

static int try_connect(void *arg)
{
    struct conn_try *c = arg;
    struct sock_addr a;
    sock_addr_parse("127.0.0.1", c->port, &a);
    int64_t t0 = co_now_ns();
    c->rc = sock_await_connect(&a, NULL, &c->fd, co_deadline_in_ms(c->deadline_ms));
    c->elapsed_ns = co_now_ns() - t0;
    if (c->rc == 0)
        sock_close(c->fd);
    return 0;
}

START_TEST(connection_refused_at_once)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    struct sock_stats before, after;
    sock_get_stats(&before);
    int lfd;
    ck_assert_int_eq(sock_listen("127.0.0.1", 0, NULL, &lfd), 0);
    struct conn_try c = { .port = sock_local_port(lfd), .deadline_ms = 5000 };
    sock_close(lfd);   /* nobody listens there now */
    test_spawn_detached(try_connect, &c, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_int_eq(c.rc, -ECONNREFUSED);
    ck_assert_int_eq(c.fd, -1);
    ck_assert_int_lt(c.elapsed_ns, 500 * 1000000LL);
    sock_get_stats(&after);
    ck_assert_uint_eq(after.connect_failures - before.connect_failures, 1);
    loop_free_clean(loop, fds);
}
END_TEST

/* F3 on loopback, offline: a listener with backlog 0 that never accepts.
 * Linux queues backlog+1 = 1 connection and then drops further SYNs (the
 * accept queue is full), so the next connect stays in SYN_SENT until its
 * retransmit timer (1 s and up): a deadline shorter than that must fire.
 * We fill the queue with connects that complete, until one does not. */
struct full_backlog {
    int lfd, port;
    int fillers[8], nfillers;
    struct conn_try probe;
};

/* Connect until one connect does not complete within 100 ms. */
static void await_fill_backlog(struct full_backlog *f)
{
    struct sock_addr a;
    sock_addr_parse("127.0.0.1", f->port, &a);
    for (f->nfillers = 0; f->nfillers < 8; f->nfillers++) {
        int fd;
        int rc = sock_await_connect(&a, NULL, &fd, co_deadline_in_ms(100));
        if (rc == -ETIMEDOUT)
            break;   /* the queue is full: SYNs are dropped now */
        ck_assert_int_eq(rc, 0);
        f->fillers[f->nfillers] = fd;
    }
    ck_assert_int_lt(f->nfillers, 8);
    f->probe.port = f->port;
}

static void close_fillers(struct full_backlog *f)
{
    for (int i = 0; i < f->nfillers; i++)
        sock_close(f->fillers[i]);
}

static int timeout_story(void *arg)
{
    struct full_backlog *f = arg;
    await_fill_backlog(f);
    f->probe.deadline_ms = 200;
    try_connect(&f->probe);
    close_fillers(f);
    return 0;
}

static int cancel_story(void *arg)
{
    struct full_backlog *f = arg;
    await_fill_backlog(f);
    f->probe.deadline_ms = 10000;
    co_task *probe;
    task_spawn(&probe, try_connect, &f->probe);
    await_sleep_ms(100);
    task_cancel(probe);
    await_task(probe, NULL, CO_NO_DEADLINE);
    close_fillers(f);
    return 0;
}

static void run_full_backlog(struct full_backlog *f, co_task_fn story)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    ck_assert_int_eq(sock_listen("127.0.0.1", 0, NULL, &f->lfd), 0);
    listen(f->lfd, 0);   /* sock_listen takes 0 as "default": set the real 0 here */
    f->port = sock_local_port(f->lfd);
    test_spawn_detached(story, f, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    sock_close(f->lfd);
    loop_free_clean(loop, fds);   /* the abandoned socket was closed too */
}

START_TEST(connect_to_a_full_backlog_times_out)
{
    struct full_backlog f = { 0 };
    run_full_backlog(&f, timeout_story);
    ck_assert_int_eq(f.probe.rc, -ETIMEDOUT);
    ck_assert_int_ge(f.probe.elapsed_ns, 190 * 1000000LL);
    ck_assert_int_lt(f.probe.elapsed_ns, 800 * 1000000LL);
}
END_TEST

START_TEST(cancel_during_connect)
{
    struct full_backlog f = { 0 };
    run_full_backlog(&f, cancel_story);
    ck_assert_int_eq(f.probe.rc, -ECANCELED);
    ck_assert_int_lt(f.probe.elapsed_ns, 500 * 1000000LL);
}
END_TEST

static int accept_with_deadline(void *arg)
{
    struct conn_try *c = arg;
    int64_t t0 = co_now_ns();
    c->rc = sock_await_accept(c->port, NULL, &c->fd, co_deadline_in_ms(50));
    c->elapsed_ns = co_now_ns() - t0;
    return 0;
}

START_TEST(accept_deadline_times_out)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    int lfd;
    ck_assert_int_eq(sock_listen("127.0.0.1", 0, NULL, &lfd), 0);
    struct conn_try c = { .port = lfd };   /* port field carries the listener here */
    test_spawn_detached(accept_with_deadline, &c, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_int_eq(c.rc, -ETIMEDOUT);
    ck_assert_int_ge(c.elapsed_ns, 45 * 1000000LL);
    sock_close(lfd);
    loop_free_clean(loop, fds);
}
END_TEST

/* ---- the "drained" mark: a short read lets the next read wait first ---- */

struct drained {
    int sv[2];
    char got[16];
    char second;                    /* the byte the second read got */
    int n_first, n_second, n_end;
    bool maybe_after_short, maybe_after_event;
};

static int peer_talks_later(void *arg)
{
    struct drained *d = arg;
    await_sleep_ms(30);
    ck_assert_int_eq(write(d->sv[1], "d", 1), 1);
    await_sleep_ms(30);
    ck_assert_int_eq(write(d->sv[1], "e", 1), 1);
    shutdown(d->sv[1], SHUT_WR);        /* the byte and the end arrive together */
    return 0;
}

static int reads_short(void *arg)
{
    struct drained *d = arg;
    int64_t dl = co_deadline_in_ms(5000);
    ck_assert_int_eq(await_fd(d->sv[0], CO_FD_WRITE, dl), 0);   /* registers the fd */
    ck_assert_int_eq(write(d->sv[1], "abc", 3), 3);
    d->n_first = (int)sock_await_read(d->sv[0], d->got, sizeof d->got, dl);
    d->maybe_after_short = loop_fd_maybe_readable(d->sv[0]);    /* took all: drained */
    d->n_second = (int)sock_await_read(d->sv[0], d->got, sizeof d->got, dl);   /* waits, gets "d" */
    d->second = d->got[0];
    d->maybe_after_event = loop_fd_maybe_readable(d->sv[0]);
    /* "e" and the end came with one edge: the short read of "e" must not
     * make the next read wait for an event that will never come */
    ck_assert_int_eq(sock_await_read(d->sv[0], d->got, sizeof d->got, dl), 1);   /* short */
    ck_assert_int_eq(d->got[0], 'e');
    d->n_end = (int)sock_await_read(d->sv[0], d->got, sizeof d->got, dl);
    return 0;
}

START_TEST(a_short_read_lets_the_next_read_wait_and_an_end_is_still_seen)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    struct drained d = { 0 };
    test_socketpair(d.sv);
    test_spawn_detached(reads_short, &d, NULL);
    test_spawn_detached(peer_talks_later, &d, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_int_eq(d.n_first, 3);
    ck_assert(!d.maybe_after_short);
    ck_assert_int_eq(d.n_second, 1);
    ck_assert_int_eq(d.second, 'd');
    ck_assert(!d.maybe_after_event);    /* "d" was a short read too */
    ck_assert_int_eq(d.n_end, 0);       /* the end of stream, not a hang */
    loop_close_fd(d.sv[0]);
    close(d.sv[1]);
    loop_free_clean(loop, fds);
}
END_TEST

static Suite *socket_suite(void)
{
    Suite *s = suite_create("socket");
    TCase *tc = tcase_create("socket");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, connect_accept_echo_ipv4);
    tcase_add_test(tc, connect_accept_echo_ipv6);
    tcase_add_test(tc, addresses_parse_and_format);
    tcase_add_test(tc, reuseport_lets_two_listeners_share_a_port);
    tcase_add_test(tc, large_transfer_both_ways_through_small_buffers);
    tcase_add_test(tc, peer_resets_mid_transfer);
    tcase_add_test(tc, peer_resets_while_we_read);
    tcase_add_test(tc, peer_closes_mid_read_gives_data_then_eof);
    tcase_add_test(tc, connection_refused_at_once);
    tcase_add_test(tc, connect_to_a_full_backlog_times_out);
    tcase_add_test(tc, cancel_during_connect);
    tcase_add_test(tc, accept_deadline_times_out);
    tcase_add_test(tc, a_short_read_lets_the_next_read_wait_and_an_end_is_still_seen);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(socket_suite)
