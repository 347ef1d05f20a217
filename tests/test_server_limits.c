/* test_server_limits.c - http/server against clients that misbehave in
 * time, and its life: a slowloris client is dropped by the header timeout
 * while others are served on time; idle keep-alive, silent and slow-body
 * connections are closed on time; a client that does not read is dropped by
 * the write timeout; the concurrency cap queues or answers 429; graceful stop
 * finishes requests in flight, closes idle connections and cancels what
 * outlives the grace period; TLS; several loop threads on one port.  Accept
 * at the descriptor limit is in test_server_emfile.c.
 *
 * Timeouts are scaled down (a 300 ms header timeout, a byte every 100 ms
 * instead of every second) so each test takes well under two seconds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http/server.h"
#include "tests/server_client.h"
#include "tests/support.h"
#include "tests/tls_certs.h"

/* ---- timeouts ---- */

struct slow {
    stream *s;
    bool done;              /* the reader got its answer: stop dripping */
    int rc, status;
    int64_t first_byte_ms, answered_ms;
    int fast_served;
    int64_t fast_worst_ms;
};

static int slow_writer(void *arg)
{
    struct slow *sl = arg;
    static const char req[] = "GET /e HTTP/1.1\r\nHost: t\r\nX-Slow: 1\r\n\r\n";
    sl->first_byte_ms = tc_now_ms();
    for (size_t i = 0; i < sizeof req - 1 && !sl->done; i++) {
        if (stream_await_write(sl->s, req + i, 1, tc_dl()) < 0)
            break;
        await_sleep_ms(100);                /* one byte per 100 ms */
    }
    return 0;
}

static int slow_reader(void *arg)
{
    struct slow *sl = arg;
    struct tc_resp r;
    sl->rc = tc_await_response(sl->s, "GET", &r, co_deadline_in_ms(5000));
    sl->status = r.status;
    sl->answered_ms = tc_now_ms();
    sl->done = true;
    tc_resp_free(&r);
    return 0;
}

static int fast_client(void *arg)
{
    struct slow *sl = arg;
    while (!sl->done) {
        int64_t t0 = tc_now_ms();
        struct tc_resp r;
        ck_assert_int_eq(tc_await_request(tc_port, NULL, "GET", "/e", NULL, &r, tc_dl()), 0);
        ck_assert_int_eq(r.status, 200);
        tc_resp_free(&r);
        int64_t took = tc_now_ms() - t0;
        if (took > sl->fast_worst_ms)
            sl->fast_worst_ms = took;
        sl->fast_served++;
        await_sleep_ms(20);
    }
    return 0;
}

static int slowloris_client(void *arg)
{
    (void)arg;
    struct slow sl = { 0 };
    ck_assert_int_eq(tc_await_connect(tc_port, NULL, &sl.s, tc_dl()), 0);
    co_task *t[3];
    ck_assert_int_eq(task_spawn(&t[0], slow_writer, &sl), 0);
    ck_assert_int_eq(task_spawn(&t[1], slow_reader, &sl), 0);
    ck_assert_int_eq(task_spawn(&t[2], fast_client, &sl), 0);
    ck_assert_int_eq(await_all(t, 3, NULL, co_deadline_in_ms(5000)), 0);
    ck_assert_int_eq(sl.rc, 0);
    ck_assert_int_eq(sl.status, 408);
    int64_t took = sl.answered_ms - sl.first_byte_ms;
    ck_assert_msg(took >= 250 && took < 900, "dropped after %lld ms, timeout 300", (long long)took);
    ck_assert_int_ge(sl.fast_served, 5);
    ck_assert_msg(sl.fast_worst_ms < 100, "a fast client waited %lld ms", (long long)sl.fast_worst_ms);
    ck_assert(tc_await_closed(sl.s, tc_dl()));
    stream_close(sl.s);
    struct server_stats st;
    server_get_stats(tc_server, &st);
    ck_assert_uint_eq(st.timeouts, 1);
    tc_stop_server();
    return 0;
}

START_TEST(a_slowloris_client_is_dropped_while_others_are_served_on_time)
{
    struct server_opts o = { .header_timeout_ms = 300 };
    tc_with_server(&o, slowloris_client, NULL);
}
END_TEST

static int idle_client(void *arg)
{
    (void)arg;
    stream *s, *silent;
    struct tc_resp r;
    ck_assert_int_eq(tc_await_connect(tc_port, NULL, &s, tc_dl()), 0);
    ck_assert_int_eq(tc_await_connect(tc_port, NULL, &silent, tc_dl()), 0);
    ck_assert_int_eq(tc_await_send(s, "GET /e HTTP/1.1\r\nHost: t\r\n\r\n", tc_dl()), 0);
    ck_assert_int_eq(tc_await_response(s, "GET", &r, tc_dl()), 0);
    tc_resp_free(&r);
    int64_t t0 = tc_now_ms();
    ck_assert(tc_await_closed(s, tc_dl()));            /* idle keep-alive: 200 ms */
    int64_t idle = tc_now_ms() - t0;
    ck_assert(tc_await_closed(silent, tc_dl()));       /* never sent a byte: 300 ms from accept */
    int64_t quiet = tc_now_ms() - t0;
    ck_assert_msg(idle >= 150 && idle < 600, "idle close after %lld ms", (long long)idle);
    ck_assert_msg(quiet >= 200 && quiet < 700, "silent close after %lld ms", (long long)quiet);
    stream_close(s);
    stream_close(silent);
    /* a body that stops coming: dropped after the body timeout */
    ck_assert_int_eq(tc_await_connect(tc_port, NULL, &s, tc_dl()), 0);
    ck_assert_int_eq(tc_await_send(s, "POST /e HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789",
                                   tc_dl()),
                     0);
    t0 = tc_now_ms();
    ck_assert(tc_await_closed(s, tc_dl()));
    int64_t body = tc_now_ms() - t0;
    ck_assert_msg(body >= 150 && body < 600, "slow body dropped after %lld ms", (long long)body);
    stream_close(s);
    struct server_stats st;
    server_get_stats(tc_server, &st);
    ck_assert_uint_eq(st.idle_closed, 1);
    ck_assert_uint_eq(st.timeouts, 2);
    tc_stop_server();
    return 0;
}

START_TEST(idle_silent_and_slow_body_connections_are_closed_on_time)
{
    struct server_opts o = { .idle_timeout_ms = 200, .header_timeout_ms = 300, .body_timeout_ms = 200 };
    tc_with_server(&o, idle_client, NULL);
}
END_TEST

static int nonreader_client(void *arg)
{
    (void)arg;
    stream *s;
    struct stream_opts so = { .sock = { .rcvbuf = 4096 } };
    ck_assert_int_eq(stream_await_connect("127.0.0.1", tc_port, NULL, &so, &s, NULL, tc_dl()), 0);
    ck_assert_int_eq(tc_await_send(s, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n", tc_dl()), 0);
    struct server_stats st;
    for (int i = 0; i < 100; i++) {             /* never read; the server gives up at 200 ms */
        server_get_stats(tc_server, &st);
        if (st.open == 0)
            break;
        struct tc_resp r;                       /* meanwhile others are served */
        ck_assert_int_eq(tc_await_request(tc_port, NULL, "GET", "/e", NULL, &r, tc_dl()), 0);
        tc_resp_free(&r);
        await_sleep_ms(20);
    }
    ck_assert_uint_eq(st.open, 0);
    ck_assert_uint_eq(st.timeouts, 1);
    stream_close(s);
    tc_stop_server();
    return 0;
}

START_TEST(a_client_that_does_not_read_is_dropped_after_the_write_timeout)
{
    struct server_opts o = { .write_timeout_ms = 200 };
    tc_with_server(&o, nonreader_client, NULL);
}
END_TEST

/* ---- the concurrency cap ---- */

static int capped_one(void *arg)
{
    int *status = arg;
    struct tc_resp r;
    ck_assert_int_eq(tc_await_request(tc_port, NULL, "GET", "/sleep/100", NULL, &r, tc_dl()), 0);
    *status = r.status;
    if (r.status == 429)
        ck_assert_str_eq(tc_hdr(&r, "Retry-After"), "2");
    tc_resp_free(&r);
    return 0;
}

static int capped_client(void *arg)
{
    bool busy = arg != NULL;
    int status[6] = { 0 };
    co_task *t[6];
    int64_t t0 = tc_now_ms();
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(task_spawn(&t[i], capped_one, &status[i]), 0);
    ck_assert_int_eq(await_all(t, 6, NULL, co_deadline_in_ms(5000)), 0);
    int64_t took = tc_now_ms() - t0;
    int ok = 0, busy_n = 0;
    for (int i = 0; i < 6; i++) {
        ok += status[i] == 200;
        busy_n += status[i] == 429;
    }
    if (busy) {
        ck_assert_int_eq(ok, 2);
        ck_assert_int_eq(busy_n, 4);
        ck_assert_msg(took < 250, "took %lld ms", (long long)took);
    } else {
        ck_assert_int_eq(ok, 6);                /* three waves of two */
        ck_assert_msg(took >= 290 && took < 600, "took %lld ms", (long long)took);
    }
    tc_stop_server();
    return 0;
}

START_TEST(max_concurrent_queues_requests)
{
    struct server_opts o = { .max_concurrent = 2 };
    tc_with_server(&o, capped_client, NULL);
}
END_TEST

static int retry_after_client(void *arg)
{
    (void)arg;
    return capped_client((void *)1);
}

START_TEST(max_concurrent_with_busy_429)
{
    struct server_opts o = { .max_concurrent = 2, .busy_429 = true, .retry_after_s = 2 };
    tc_with_server(&o, retry_after_client, NULL);
}
END_TEST

/* ---- graceful stop ---- */

struct inflight {
    const char *target;
    int rc, status;
    char connection[32];
    int64_t done_ms;
};

static int inflight_one(void *arg)
{
    struct inflight *f = arg;
    stream *s;
    struct tc_resp r;
    char req[128];
    ck_assert_int_eq(tc_await_connect(tc_port, NULL, &s, tc_dl()), 0);
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", f->target);
    ck_assert_int_eq(tc_await_send(s, req, tc_dl()), 0);
    f->rc = tc_await_response(s, "GET", &r, tc_dl());
    f->status = r.status;
    tc_header(&r, "Connection", f->connection, sizeof f->connection);
    f->done_ms = tc_now_ms();
    tc_resp_free(&r);
    stream_close(s);
    return 0;
}

static int graceful_client(void *arg)
{
    (void)arg;
    stream *idle;
    struct tc_resp r;
    ck_assert_int_eq(tc_await_connect(tc_port, NULL, &idle, tc_dl()), 0);
    ck_assert_int_eq(tc_await_send(idle, "GET /e HTTP/1.1\r\nHost: t\r\n\r\n", tc_dl()), 0);
    ck_assert_int_eq(tc_await_response(idle, "GET", &r, tc_dl()), 0);
    tc_resp_free(&r);
    struct inflight slow = { .target = "/sleep/300" };
    co_task *t[2];
    ck_assert_int_eq(task_spawn(&t[0], inflight_one, &slow), 0);
    await_sleep_ms(50);                                 /* the request is in flight */
    int64_t t0 = tc_now_ms();
    ck_assert_int_eq(server_await_stop(tc_server, 2000, CO_NO_DEADLINE), 0);
    int64_t took = tc_now_ms() - t0;
    ck_assert_int_eq(await_all(t, 1, NULL, tc_dl()), 0);
    ck_assert_int_eq(slow.rc, 0);                       /* finished, and told to close */
    ck_assert_int_eq(slow.status, 200);
    ck_assert_str_eq(slow.connection, "close");
    ck_assert_msg(took >= 200 && took < 600, "stop took %lld ms", (long long)took);
    ck_assert(tc_await_closed(idle, co_deadline_in_ms(50)));   /* the idle one was closed at once */
    stream_close(idle);
    stream *late;
    ck_assert_int_eq(tc_await_connect(tc_port, NULL, &late, tc_dl()), -ECONNREFUSED);
    return 0;
}

START_TEST(graceful_stop_finishes_requests_in_flight_and_closes_idle_ones)
{
    struct server_opts o = { 0 };
    tc_with_server(&o, graceful_client, NULL);
}
END_TEST

static int grace_expiry_client(void *arg)
{
    (void)arg;
    struct inflight stuck = { .target = "/sleep/5000" };
    co_task *t;
    ck_assert_int_eq(task_spawn(&t, inflight_one, &stuck), 0);
    await_sleep_ms(50);
    int64_t t0 = tc_now_ms();
    ck_assert_int_eq(server_await_stop(tc_server, 100, CO_NO_DEADLINE), 0);
    int64_t took = tc_now_ms() - t0;
    ck_assert_int_eq(await_task(t, NULL, tc_dl()), 0);
    ck_assert_msg(took >= 80 && took < 500, "stop took %lld ms", (long long)took);
    ck_assert_int_eq(stuck.rc, -HTTP_E_CLOSED);        /* cancelled: closed without an answer */
    return 0;
}

START_TEST(graceful_stop_cancels_what_outlives_the_grace_period)
{
    struct server_opts o = { 0 };
    tc_with_server(&o, grace_expiry_client, NULL);
}
END_TEST

/* ---- TLS ---- */

static tls_ctx *client_tls;

static int tls_client(void *arg)
{
    (void)arg;
    stream *s;
    ck_assert_int_eq(tc_await_connect(tc_port, client_tls, &s, tc_dl()), 0);
    for (int i = 0; i < 2; i++) {
        struct tc_resp r;
        ck_assert_int_eq(tc_await_send(s, "POST /e HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc", tc_dl()), 0);
        ck_assert_int_eq(tc_await_response(s, "POST", &r, tc_dl()), 0);
        ck_assert_str_eq(r.body, "abc");
        ck_assert_str_eq(tc_hdr(&r, "X-TLS"), "1");
        ck_assert_str_eq(tc_hdr(&r, "X-Conn"), "1");
        tc_resp_free(&r);
    }
    stream_close(s);
    /* plain HTTP to the TLS tc_port: the handshake fails, the server goes on */
    ck_assert_int_eq(tc_await_connect(tc_port, NULL, &s, tc_dl()), 0);
    ck_assert_int_eq(tc_await_send(s, "GET / HTTP/1.1\r\nHost: t\r\n\r\n", tc_dl()), 0);
    ck_assert(tc_await_closed(s, tc_dl()));
    stream_close(s);
    struct server_stats st;
    server_get_stats(tc_server, &st);
    ck_assert_uint_eq(st.tls_failures, 1);
    tc_stop_server();
    return 0;
}

START_TEST(tls_keep_alive)
{
    struct test_pki pki;
    ck_assert_int_eq(test_pki_make(&pki), 0);
    struct tls_server_opts so = { .cert_pem = pki.good.cert_pem, .key_pem = pki.good.key_pem };
    struct tls_client_opts co = { .ca_pem = pki.ca_pem };
    tls_ctx *sctx;
    ck_assert_int_eq(tls_ctx_new_server(&so, &sctx, NULL), 0);
    ck_assert_int_eq(tls_ctx_new_client(&co, &client_tls, NULL), 0);
    struct server_opts o = { .tls = sctx };
    tc_with_server(&o, tls_client, NULL);
    tls_ctx_free(sctx);
    tls_ctx_free(client_tls);
    test_pki_free(&pki);
}
END_TEST

/* ---- several loop threads ---- */

static server_threads *threads;

static int threads_client(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20; i++) {
        struct tc_resp r;
        ck_assert_int_eq(tc_await_request(server_threads_port(threads), NULL, "GET", "/e", NULL, &r, tc_dl()), 0);
        ck_assert_int_eq(r.status, 200);
        tc_resp_free(&r);
    }
    return 0;
}

START_TEST(several_loop_threads_share_one_port)
{
    int fds = open_fd_count();
    struct server_opts o = { .handler = tc_test_handler };
    ck_assert_int_eq(server_threads_start(&o, 2, &threads), 0);
    co_loop *loop;
    ck_assert_int_eq(loop_new(&loop), 0);
    tc_spawn_detached(threads_client, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    struct server_stats st;
    ck_assert_int_eq(server_threads_stop(threads, 1000, &st), 0);
    ck_assert_uint_eq(st.accepted, 20);
    ck_assert_uint_eq(st.requests, 20);
    ck_assert_uint_eq(st.open, 0);
    loop_free_clean(loop, fds);
}
END_TEST

static Suite *server_limits_suite(void)
{
    Suite *s = suite_create("server_limits");
    TCase *tc = tcase_create("server_limits");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, a_slowloris_client_is_dropped_while_others_are_served_on_time);
    tcase_add_test(tc, idle_silent_and_slow_body_connections_are_closed_on_time);
    tcase_add_test(tc, a_client_that_does_not_read_is_dropped_after_the_write_timeout);
    tcase_add_test(tc, max_concurrent_queues_requests);
    tcase_add_test(tc, max_concurrent_with_busy_429);
    tcase_add_test(tc, graceful_stop_finishes_requests_in_flight_and_closes_idle_ones);
    tcase_add_test(tc, graceful_stop_cancels_what_outlives_the_grace_period);
    tcase_add_test(tc, tls_keep_alive);
    tcase_add_test(tc, several_loop_threads_share_one_port);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(server_limits_suite)
