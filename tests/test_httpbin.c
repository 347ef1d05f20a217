/* test_httpbin.c - the built-in target, route by route (httpbin.h), on a
 * server in the test's loop: the echo routes, /delay without blocking,
 * /status, /bytes, /stream, /drip, the redirect routes, /close, 404, and
 * httpbin on threads of its own (also over TLS) as the demos use it.  The
 * generated site is in test_httpbin_site.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http/httpbin.h"
#include "tests/server_client.h"
#include "tests/support.h"
#include "tests/tls_certs.h"

static struct httpbin_opts bin;

/* Run client against httpbin made from `bin` (tests/server_client.h). */
static void with_httpbin(co_task_fn client)
{
    struct server_opts o = bin.server;
    o.handler = httpbin_handle;
    o.handler_arg = &bin;
    tc_with_server(&o, client, NULL);
}

static void get(const char *target, struct tc_resp *r)
{
    ck_assert_int_eq(tc_await_request(tc_port, NULL, "GET", target, NULL, r, tc_dl()), 0);
}

#define ck_assert_contains(hay, needle) \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "'%s' not in:\n%s", (needle), (hay))

/* ---- echo ---- */

static int echo_client(void *arg)
{
    (void)arg;
    struct tc_resp r;
    ck_assert_int_eq(tc_await_request(tc_port, NULL, "GET", "/get?a=1&b=x%20y+z&a=2&empty",
                                      "X-Test: yes\r\nX-Dup: 1\r\nX-Dup: 2\r\nX-Odd: caf\xe9\r\n",
                                      &r, tc_dl()),
                     0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(tc_hdr(&r, "Content-Type"), "application/json");
    ck_assert_contains(r.body, "\"method\": \"GET\"");
    ck_assert_contains(r.body, "\"a\": [\"1\", \"2\"]");
    ck_assert_contains(r.body, "\"b\": \"x y z\"");
    ck_assert_contains(r.body, "\"empty\": \"\"");
    ck_assert_contains(r.body, "\"X-Test\": \"yes\"");
    ck_assert_contains(r.body, "\"X-Dup\": \"1, 2\"");
    ck_assert_contains(r.body, "\"X-Odd\": \"caf\\u00e9\"");
    ck_assert_contains(r.body, "\"origin\": \"127.0.0.1\"");
    char url[128];
    snprintf(url, sizeof url, "\"url\": \"http://127.0.0.1:%d/get?a=1", tc_port);
    ck_assert_contains(r.body, url);
    tc_resp_free(&r);
    ck_assert_int_eq(tc_await_request(tc_port, NULL, "DELETE", "/anything/x", "Content-Length: 9\r\n",
                                      &r, tc_dl()),
                     -HTTP_E_CLOSED);   /* 9 bytes promised, none sent: the body timeout */
    tc_resp_free(&r);
    stream *s;
    ck_assert_int_eq(tc_await_connect(tc_port, NULL, &s, tc_dl()), 0);
    ck_assert_int_eq(tc_await_send(s, "PATCH /anything/x HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n"
                                      "he said \"hi\"", tc_dl()),
                     0);
    ck_assert_int_eq(tc_await_response(s, "PATCH", &r, tc_dl()), 0);
    ck_assert_contains(r.body, "\"method\": \"PATCH\"");
    ck_assert_contains(r.body, "\"data\": \"he said \\\"hi");
    tc_resp_free(&r);
    stream_close(s);
    get("/hello", &r);
    ck_assert_str_eq(r.body, "Hello, World!\n");
    tc_resp_free(&r);
    get("/nowhere", &r);
    ck_assert_int_eq(r.status, 404);
    tc_resp_free(&r);
    tc_stop_server();
    return 0;
}

START_TEST(get_and_anything_echo_the_request_as_json)
{
    bin = (struct httpbin_opts){ .server = { .body_timeout_ms = 100 } };
    with_httpbin(echo_client);
}
END_TEST

/* ---- /delay ---- */

static int delay_one(void *arg)
{
    struct tc_resp r;
    get("/delay/200", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_contains(r.body, "\"delay_ms\": 200");
    *(int *)arg = r.status;
    tc_resp_free(&r);
    return 0;
}

static int delay_client(void *arg)
{
    (void)arg;
    int status[5];
    co_task *t[5];
    int64_t t0 = tc_now_ms();
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(task_spawn(&t[i], delay_one, &status[i]), 0);
    struct tc_resp r;
    get("/hello", &r);                              /* not held up by the delays */
    ck_assert_msg(tc_now_ms() - t0 < 100, "/hello took %lld ms", (long long)(tc_now_ms() - t0));
    tc_resp_free(&r);
    ck_assert_int_eq(await_all(t, 5, NULL, tc_dl()), 0);
    int64_t took = tc_now_ms() - t0;
    ck_assert_msg(took >= 195 && took < 400, "five /delay/200 took %lld ms", (long long)took);
    get("/delay/60001", &r);
    ck_assert_int_eq(r.status, 400);
    tc_resp_free(&r);
    tc_stop_server();
    return 0;
}

START_TEST(delay_answers_late_without_blocking_others)
{
    bin = (struct httpbin_opts){ 0 };
    with_httpbin(delay_client);
}
END_TEST

/* ---- /status, /bytes, /stream, /drip ---- */

static int bodies_client(void *arg)
{
    (void)arg;
    struct tc_resp r, r2;
    get("/status/418", &r);
    ck_assert_int_eq(r.status, 418);
    tc_resp_free(&r);
    get("/status/302", &r);
    ck_assert_str_eq(tc_hdr(&r, "Location"), "/get");
    tc_resp_free(&r);
    get("/status/429", &r);
    ck_assert_str_eq(tc_hdr(&r, "Retry-After"), "1");
    tc_resp_free(&r);
    get("/status/abc", &r);
    ck_assert_int_eq(r.status, 400);
    tc_resp_free(&r);
    get("/status/600", &r);
    ck_assert_int_eq(r.status, 400);
    tc_resp_free(&r);

    get("/bytes/100000", &r);
    ck_assert_str_eq(tc_hdr(&r, "Content-Length"), "100000");
    ck_assert_uint_eq(r.body_len, 100000);
    get("/bytes/100000", &r2);
    ck_assert_int_eq(memcmp(r.body, r2.body, 100000), 0);      /* the same every time */
    tc_resp_free(&r2);
    get("/bytes/100000?seed=7", &r2);
    ck_assert_int_ne(memcmp(r.body, r2.body, 100000), 0);      /* another seed, other bytes */
    tc_resp_free(&r2);
    tc_resp_free(&r);
    get("/bytes/0", &r);
    ck_assert_uint_eq(r.body_len, 0);
    tc_resp_free(&r);

    get("/stream/5", &r);
    ck_assert_int_eq(r.framing, HTTP_FRAMING_CHUNKED);
    ck_assert_contains(r.body, "{\"id\": 0, \"url\": \"/stream/5\"}\n");
    ck_assert_contains(r.body, "{\"id\": 4,");
    ck_assert_ptr_null(strstr(r.body, "\"id\": 5"));
    tc_resp_free(&r);

    int64_t t0 = tc_now_ms();
    get("/drip?bytes=5&duration=300", &r);
    int64_t took = tc_now_ms() - t0;
    ck_assert_str_eq(r.body, "*****");
    ck_assert_str_eq(tc_hdr(&r, "Content-Length"), "5");
    ck_assert_msg(took >= 290 && took < 600, "drip took %lld ms", (long long)took);
    tc_resp_free(&r);
    t0 = tc_now_ms();
    get("/drip?bytes=100000&duration=100&delay=50&code=201", &r);
    took = tc_now_ms() - t0;
    ck_assert_int_eq(r.status, 201);
    ck_assert_uint_eq(r.body_len, 100000);
    ck_assert_msg(took >= 145 && took < 500, "drip took %lld ms", (long long)took);
    tc_resp_free(&r);
    tc_stop_server();
    return 0;
}

START_TEST(status_bytes_stream_and_drip)
{
    bin = (struct httpbin_opts){ 0 };
    with_httpbin(bodies_client);
}
END_TEST

/* ---- redirects and cut responses ---- */

static int redirect_client(void *arg)
{
    (void)arg;
    struct tc_resp r;
    char target[64] = "/redirect/3", want[128];
    for (int hops = 0; hops < 3; hops++) {
        get(target, &r);
        ck_assert_int_eq(r.status, 302);
        snprintf(target, sizeof target, "%s", tc_hdr(&r, "Location"));
        tc_resp_free(&r);
    }
    ck_assert_str_eq(target, "/get");
    get("/absolute-redirect/2", &r);
    snprintf(want, sizeof want, "http://127.0.0.1:%d/absolute-redirect/1", tc_port);
    ck_assert_str_eq(tc_hdr(&r, "Location"), want);
    tc_resp_free(&r);
    get("/redirect-to?url=http%3A%2F%2Fexample.com%2Fx&status_code=301", &r);
    ck_assert_int_eq(r.status, 301);
    ck_assert_str_eq(tc_hdr(&r, "Location"), "http://example.com/x");
    tc_resp_free(&r);
    get("/redirect-to?url=%2Fa%0D%0ASet-Cookie%3A%20x%3D1", &r);   /* header injection */
    ck_assert_int_eq(r.status, 400);
    ck_assert_str_eq(tc_hdr(&r, "Set-Cookie"), "(none)");
    tc_resp_free(&r);

    ck_assert_int_eq(tc_await_request(tc_port, NULL, "GET", "/close", NULL, &r, tc_dl()), -HTTP_E_INCOMPLETE);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_len, 512);
    tc_resp_free(&r);
    ck_assert_int_eq(tc_await_request(tc_port, NULL, "GET", "/close?after=-1", NULL, &r, tc_dl()),
                     -HTTP_E_CLOSED);
    tc_resp_free(&r);
    int rc = tc_await_request(tc_port, NULL, "GET", "/close?bytes=100&after=10&reset=1", NULL, &r, tc_dl());
    ck_assert_msg(rc == -ECONNRESET || rc == -HTTP_E_INCOMPLETE, "rc %d", rc);
    tc_resp_free(&r);
    tc_stop_server();
    return 0;
}

START_TEST(redirect_chains_and_responses_cut_short)
{
    bin = (struct httpbin_opts){ 0 };
    with_httpbin(redirect_client);
}
END_TEST

/* ---- on threads of its own ---- */

static int thread_port;
static tls_ctx *client_tls;

static int thread_client(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10; i++) {
        struct tc_resp r;
        ck_assert_int_eq(tc_await_request(thread_port, client_tls, "GET", "/get?i=1", NULL, &r, tc_dl()), 0);
        ck_assert_int_eq(r.status, 200);
        ck_assert_contains(r.body, client_tls ? "\"url\": \"https://" : "\"url\": \"http://");
        tc_resp_free(&r);
    }
    return 0;
}

static void run_thread_mode(tls_ctx *server_tls)
{
    int fds = open_fd_count();
    httpbin_thread *h;
    struct httpbin_opts o = { .server = { .tls = server_tls }, .threads = 2 };
    ck_assert_int_eq(httpbin_start_thread(&o, &h), 0);
    thread_port = httpbin_thread_port(h);
    co_loop *loop;
    ck_assert_int_eq(loop_new(&loop), 0);
    tc_spawn_detached(thread_client, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    struct server_stats st;
    httpbin_thread_stats(h, &st);
    ck_assert_uint_eq(st.requests, 10);
    ck_assert_int_eq(httpbin_stop_thread(h, 1000, &st), 0);
    ck_assert_uint_eq(st.accepted, 10);
    ck_assert_uint_eq(st.open, 0);
    loop_free_clean(loop, fds);
}

START_TEST(httpbin_on_threads_of_its_own)
{
    run_thread_mode(NULL);
}
END_TEST

START_TEST(httpbin_on_threads_over_tls)
{
    struct test_pki pki;
    ck_assert_int_eq(test_pki_make(&pki), 0);
    struct tls_server_opts so = { .cert_pem = pki.good.cert_pem, .key_pem = pki.good.key_pem };
    struct tls_client_opts co = { .ca_pem = pki.ca_pem };
    tls_ctx *sctx;
    ck_assert_int_eq(tls_ctx_new_server(&so, &sctx, NULL), 0);
    ck_assert_int_eq(tls_ctx_new_client(&co, &client_tls, NULL), 0);
    run_thread_mode(sctx);
    tls_ctx_free(sctx);
    tls_ctx_free(client_tls);
    client_tls = NULL;
    test_pki_free(&pki);
}
END_TEST

static Suite *httpbin_suite(void)
{
    Suite *s = suite_create("httpbin");
    TCase *tc = tcase_create("httpbin");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, get_and_anything_echo_the_request_as_json);
    tcase_add_test(tc, delay_answers_late_without_blocking_others);
    tcase_add_test(tc, status_bytes_stream_and_drip);
    tcase_add_test(tc, redirect_chains_and_responses_cut_short);
    tcase_add_test(tc, httpbin_on_threads_of_its_own);
    tcase_add_test(tc, httpbin_on_threads_over_tls);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(httpbin_suite)
