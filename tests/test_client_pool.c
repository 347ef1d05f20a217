/* test_client_pool.c - the client's keep-alive pool: reuse (counted on the
 * server side), caps per origin and in total with FIFO waiting, the pool
 * timeout, idle expiry, the EOF check before reuse, the one retry on a
 * stale connection (idempotent only), and many tasks sharing one client. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/client.h"
#include "tests/canned_server.h"
#include "tests/support.h"

#define DL co_deadline_in_ms(5000)
#define OK2 "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

static int get(struct canned_env *e, const char *path, struct http_response *r)
{
    return http_await_get(e->client, canned_path(e->srv, path), r, DL);
}

static void get_ok(struct canned_env *e, const char *path)
{
    struct http_response r;
    int rc = get(e, path, &r);
    ck_assert_msg(rc == 0, "%s: %s", co_strerror(rc), r.detail.text);
    ck_assert_int_eq(r.status, 200);
    http_response_fini(&r);
}

static void reuse_case(struct canned_env *e)
{
    for (int i = 0; i < 5; i++)
        get_ok(e, "/");
    struct http_client_stats st = canned_stats(e);
    ck_assert_uint_eq(st.conns_new, 1);
    ck_assert_uint_eq(st.conns_reused, 4);
    ck_assert_uint_eq(st.conns_idle, 1);
    ck_assert_uint_eq(st.conns_open, 1);
}

START_TEST(keep_alive_reuses_one_connection)
{
    struct canned_server s = { .scripts = { { C_READ, C_SEND(OK2), C_REPEAT } } };
    canned_run(&s, NULL, reuse_case, NULL);
    ck_assert_int_eq(s.connections, 1);
    ck_assert_int_eq(s.requests, 5);
    canned_server_free(&s);
}
END_TEST

/* ---- caps and FIFO ---- */

struct fanout {
    struct canned_env *e;
    int index;
    int rc;
    int64_t done_ms;
    uint64_t max_open;
};

static int fan_task(void *arg)
{
    struct fanout *f = arg;
    char path[32];
    snprintf(path, sizeof path, "/%d", f->index);
    struct http_response r;
    f->rc = http_await_get(f->e->client, canned_path(f->e->srv, path), &r, DL);
    f->done_ms = test_now_ms();
    f->max_open = canned_stats(f->e).conns_open;
    http_response_fini(&r);
    return 0;
}

static void fifo_case(struct canned_env *e)
{
    struct fanout f[6];
    co_task *t[6];
    for (int i = 0; i < 6; i++) {
        f[i] = (struct fanout){ .e = e, .index = i };
        ck_assert_int_eq(task_spawn(&t[i], fan_task, &f[i]), 0);
        await_yield();      /* arrive in index order */
    }
    ck_assert_uint_eq(canned_stats(e).waiting, 5);
    ck_assert_int_eq(await_all(t, 6, NULL, DL), 0);
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(f[i].rc, 0);
        ck_assert_uint_le(f[i].max_open, 1);
    }
    for (int i = 0; i < 6; i++) {   /* served strictly in arrival order */
        char want[32];
        snprintf(want, sizeof want, "GET /%d ", i);
        ck_assert_ptr_eq(strstr(e->srv->reqs[i].head, want), e->srv->reqs[i].head);
    }
    ck_assert_uint_eq(canned_stats(e).pool_waits, 5);
}

START_TEST(requests_beyond_the_cap_wait_their_turn_fifo)
{
    struct canned_server s = { .scripts = { { C_READ, C_SLEEP(10), C_SEND(OK2), C_REPEAT } } };
    struct http_client_opts o = { .max_conns_per_host = 1 };
    canned_run(&s, &o, fifo_case, NULL);
    ck_assert_int_eq(s.connections, 1);
    canned_server_free(&s);
}
END_TEST

static void cap_case(struct canned_env *e)
{
    enum { N = 40 };
    struct fanout f[N];
    co_task *t[N];
    for (int i = 0; i < N; i++) {
        f[i] = (struct fanout){ .e = e, .index = i };
        ck_assert_int_eq(task_spawn(&t[i], fan_task, &f[i]), 0);
    }
    ck_assert_int_eq(await_all(t, N, NULL, DL), 0);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(f[i].rc, 0);
        ck_assert_uint_le(f[i].max_open, 3);
    }
    ck_assert_uint_eq(canned_stats(e).conns_new, 3);
}

START_TEST(per_origin_cap_bounds_connections)
{
    struct canned_server s = { .scripts = { { C_READ, C_SLEEP(2), C_SEND(OK2), C_REPEAT } } };
    struct http_client_opts o = { .max_conns_per_host = 3 };
    canned_run(&s, &o, cap_case, NULL);
    ck_assert_int_eq(s.connections, 3);
    ck_assert_int_eq(s.requests, 40);
    canned_server_free(&s);
}
END_TEST

/* Two origins, one connection in all: B waits while A's request runs, then
 * A's idle connection is closed to make room for B. */
struct two {
    struct canned_server *b;
    int rc_a, rc_b;
};

static int a_task(void *arg)
{
    struct canned_env *e = arg;
    struct two *w = e->arg;
    struct http_response r;
    w->rc_a = get(e, "/a", &r);
    http_response_fini(&r);
    return 0;
}

static void total_cap_case(struct canned_env *e)
{
    struct two *w = e->arg;
    ck_assert_int_eq(canned_server_start(w->b), 0);
    co_task *t;
    ck_assert_int_eq(task_spawn(&t, a_task, e), 0);
    await_sleep_ms(5);                              /* A holds the only slot */
    struct http_response r;
    w->rc_b = http_await_get(e->client, canned_path(w->b, "/b"), &r, DL);
    http_response_fini(&r);
    ck_assert_int_eq(await_task(t, NULL, DL), 0);
    ck_assert_int_eq(w->rc_a, 0);
    ck_assert_int_eq(w->rc_b, 0);
    struct http_client_stats st = canned_stats(e);
    ck_assert_uint_eq(st.conns_open, 1);            /* B's, idle */
    ck_assert_uint_eq(st.conns_closed, 1);          /* A's, evicted */
    ck_assert_uint_eq(st.pool_waits, 1);
    ck_assert_int_eq(canned_server_await_stop(w->b), 0);
}

START_TEST(total_cap_evicts_another_origins_idle_connection)
{
    struct canned_server a = { .scripts = { { C_READ, C_SLEEP(30), C_SEND(OK2), C_REPEAT } } };
    struct canned_server b = { .scripts = { { C_READ, C_SEND(OK2), C_REPEAT } } };
    struct two w = { .b = &b };
    struct http_client_opts o = { .max_conns_total = 1 };
    canned_run(&a, &o, total_cap_case, &w);
    ck_assert_int_eq(a.client_closes, 1);
    canned_server_free(&a);
    canned_server_free(&b);
}
END_TEST

static int slow_task(void *arg)
{
    struct canned_env *e = arg;
    get_ok(e, "/slow");
    return 0;
}

static void pool_timeout_case(struct canned_env *e)
{
    co_task *t;
    ck_assert_int_eq(task_spawn(&t, slow_task, e), 0);
    await_sleep_ms(5);
    struct http_response r;
    int64_t t0 = test_now_ms();
    ck_assert_int_eq(get(e, "/late", &r), -HTTP_E_POOL_TIMEOUT);
    int64_t took = test_now_ms() - t0;
    ck_assert_int_ge(took, 35);
    ck_assert_int_lt(took, 150);
    ck_assert_ptr_nonnull(strstr(r.detail.text, "pool timeout"));
    ck_assert(http_error_is_timeout(-HTTP_E_POOL_TIMEOUT));
    http_response_fini(&r);
    ck_assert_uint_eq(canned_stats(e).pool_timeouts, 1);
    ck_assert_uint_eq(canned_stats(e).waiting, 0);
    ck_assert_int_eq(await_task(t, NULL, DL), 0);
}

START_TEST(pool_wait_has_its_own_timeout_and_error)
{
    struct canned_server s = { .scripts = { { C_READ, C_SLEEP(200), C_SEND(OK2), C_REPEAT } } };
    struct http_client_opts o = { .max_conns_per_host = 1, .pool_timeout_ms = 40 };
    canned_run(&s, &o, pool_timeout_case, NULL);
    ck_assert_int_eq(s.requests, 1);    /* the late request never reached the server */
    canned_server_free(&s);
}
END_TEST

/* ---- stale connections ---- */

static void closed_idle_case(struct canned_env *e)
{
    get_ok(e, "/1");
    await_sleep_ms(20);                 /* the server has closed the idle connection */
    get_ok(e, "/2");
    struct http_client_stats st = canned_stats(e);
    ck_assert_uint_eq(st.stale_closed, 1);   /* caught by the EOF check, not by a retry */
    ck_assert_uint_eq(st.retries, 0);
    ck_assert_uint_eq(st.conns_new, 2);
}

START_TEST(server_closing_idle_connections_is_noticed_before_reuse)
{
    struct canned_server s = { .scripts = { { C_READ, C_SEND(OK2), C_CLOSE } } };
    canned_run(&s, NULL, closed_idle_case, NULL);
    ck_assert_int_eq(s.connections, 2);
    canned_server_free(&s);
}
END_TEST

struct stale {
    const char *method;
    int want_rc;
};

static void stale_case(struct canned_env *e)
{
    struct stale *st = e->arg;
    get_ok(e, "/1");
    struct http_request q = { .method = st->method, .url = canned_path(e->srv, "/2") };
    struct http_response r;
    int rc = http_await_request(e->client, &q, &r, DL);
    ck_assert_msg(rc == st->want_rc, "%s: %s", co_strerror(rc), r.detail.text);
    if (rc == 0) {
        ck_assert(r.retried);
        ck_assert(!r.reused);
        ck_assert_str_eq(r.body, "ok");
        ck_assert_uint_eq(canned_stats(e).retries, 1);
    } else {
        ck_assert_uint_eq(canned_stats(e).retries, 0);
    }
    http_response_fini(&r);
}

/* The server reads the second request on the pooled connection, then
 * closes (or resets) without a byte: a stale connection the EOF check could
 * not see.  GET is sent again on a new connection; POST is not. */
#define STALE_SCRIPTS(end) { { C_READ, C_SEND(OK2), C_READ_HEAD, end }, \
                             { C_READ, C_SEND(OK2), C_REPEAT } }

START_TEST(stale_connection_get_is_retried_once)
{
    struct canned_server s = { .scripts = STALE_SCRIPTS(C_CLOSE) };
    struct stale st = { "GET", 0 };
    canned_run(&s, NULL, stale_case, &st);
    ck_assert_int_eq(s.connections, 2);
    canned_server_free(&s);
}
END_TEST

START_TEST(stale_connection_reset_get_is_retried_once)
{
    struct canned_server s = { .scripts = STALE_SCRIPTS(C_RESET) };
    struct stale st = { "DELETE", 0 };
    canned_run(&s, NULL, stale_case, &st);
    ck_assert_int_eq(s.connections, 2);
    canned_server_free(&s);
}
END_TEST

START_TEST(stale_connection_post_is_not_retried)
{
    struct canned_server s = { .scripts = STALE_SCRIPTS(C_CLOSE) };
    struct stale st = { "POST", -HTTP_E_CLOSED };
    canned_run(&s, NULL, stale_case, &st);
    ck_assert_int_eq(s.connections, 1);
    canned_server_free(&s);
}
END_TEST

static void fresh_fail_case(struct canned_env *e)
{
    struct http_response r;
    ck_assert_int_eq(get(e, "/", &r), -HTTP_E_CLOSED);    /* a new connection: no retry */
    ck_assert_ptr_nonnull(strstr(r.detail.text, "closed the connection before answering"));
    http_response_fini(&r);
    ck_assert_uint_eq(canned_stats(e).retries, 0);
}

START_TEST(a_new_connection_closed_before_answering_is_not_retried)
{
    struct canned_server s = { .scripts = { { C_READ_HEAD, C_CLOSE } } };
    canned_run(&s, NULL, fresh_fail_case, NULL);
    ck_assert_int_eq(s.connections, 1);
    canned_server_free(&s);
}
END_TEST

static void idle_case(struct canned_env *e)
{
    get_ok(e, "/1");
    await_sleep_ms(60);
    get_ok(e, "/2");
    struct http_client_stats st = canned_stats(e);
    ck_assert_uint_eq(st.idle_expired, 1);
    ck_assert_uint_eq(st.conns_new, 2);
}

START_TEST(idle_connections_expire)
{
    struct canned_server s = { .scripts = { { C_READ, C_SEND(OK2), C_REPEAT } } };
    struct http_client_opts o = { .idle_timeout_ms = 30 };
    canned_run(&s, &o, idle_case, NULL);
    ck_assert_int_eq(s.connections, 2);
    ck_assert_int_eq(s.client_closes, 1);
    canned_server_free(&s);
}
END_TEST

/* ---- many tasks, one client ---- */

static void many_case(struct canned_env *e)
{
    enum { N = 1000 };
    struct fanout *f = calloc(N, sizeof *f);
    co_task **t = calloc(N, sizeof *t);
    for (int i = 0; i < N; i++) {
        f[i] = (struct fanout){ .e = e, .index = i };
        ck_assert_int_eq(task_spawn(&t[i], fan_task, &f[i]), 0);
    }
    ck_assert_int_eq(await_all(t, N, NULL, co_deadline_in_ms(20000)), 0);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(f[i].rc, 0);
    struct http_client_stats st = canned_stats(e);
    ck_assert_uint_eq(st.conns_new, 8);
    ck_assert_uint_eq(st.exchanges, N);
    free(f);
    free(t);
}

START_TEST(a_thousand_concurrent_requests_share_eight_connections)
{
    struct canned_server s = { .scripts = { { C_READ, C_SEND(OK2), C_REPEAT } } };
    canned_run(&s, NULL, many_case, NULL);
    ck_assert_int_eq(s.connections, 8);
    ck_assert_int_eq(s.requests, 1000);
    canned_server_free(&s);
}
END_TEST

Suite *client_pool_suite(void);
Suite *client_pool_suite(void)
{
    Suite *s = suite_create("client_pool");
    TCase *tc = tcase_create("pool");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, keep_alive_reuses_one_connection);
    tcase_add_test(tc, requests_beyond_the_cap_wait_their_turn_fifo);
    tcase_add_test(tc, per_origin_cap_bounds_connections);
    tcase_add_test(tc, total_cap_evicts_another_origins_idle_connection);
    tcase_add_test(tc, pool_wait_has_its_own_timeout_and_error);
    tcase_add_test(tc, server_closing_idle_connections_is_noticed_before_reuse);
    tcase_add_test(tc, stale_connection_get_is_retried_once);
    tcase_add_test(tc, stale_connection_reset_get_is_retried_once);
    tcase_add_test(tc, stale_connection_post_is_not_retried);
    tcase_add_test(tc, a_new_connection_closed_before_answering_is_not_retried);
    tcase_add_test(tc, idle_connections_expire);
    tcase_add_test(tc, a_thousand_concurrent_requests_share_eight_connections);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(client_pool_suite)
