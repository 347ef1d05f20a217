/* test_server.c - http/server's HTTP/1.1 on loopback: keep-alive and its
 * counters, pipelining, request bodies (length, chunked, 100-continue),
 * responses (length, chunked, HEAD, 204, handler failures, header
 * injection refused), Connection: close and HTTP/1.0, max requests per
 * connection, and the malformed requests RELIABILITY.md 3.7 lists (each gets
 * its status, "Connection: close", and the close).  Limits in time, the
 * concurrency cap, stop, TLS and threads are in test_server_limits.c.
 *
 * Each test runs the server in a task of the test's loop (port 0) and the
 * clients as other tasks (tests/server_client.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http/server.h"
#include "tests/server_client.h"
#include "tests/support.h"

/* ---- keep-alive, pipelining, bodies ---- */

static int keepalive_client(void *arg)
{
    (void)arg;
    stream *s;
    ck_assert_int_eq(tc_await_connect(tc_port, NULL, &s, tc_dl()), 0);
    for (int i = 1; i <= 3; i++) {
        struct tc_resp r;
        ck_assert_int_eq(tc_await_send(s, "GET /x HTTP/1.1\r\nHost: t\r\n\r\n", tc_dl()), 0);
        ck_assert_int_eq(tc_await_response(s, "GET", &r, tc_dl()), 0);
        ck_assert_int_eq(r.status, 200);
        ck_assert(r.keep_alive);
        ck_assert_str_eq(tc_hdr(&r, "X-Conn"), "1");
        ck_assert_int_eq(atoi(tc_hdr(&r, "X-Request-Number")), i);
        ck_assert_str_eq(tc_hdr(&r, "Content-Length"), "0");
        ck_assert_str_ne(tc_hdr(&r, "Date"), "(none)");
        tc_resp_free(&r);
    }
    struct server_stats st;
    server_get_stats(tc_server, &st);
    ck_assert_uint_eq(st.accepted, 1);
    ck_assert_uint_eq(st.requests, 3);
    ck_assert_uint_eq(st.reused, 2);
    ck_assert_uint_eq(st.open, 1);
    stream_close(s);
    tc_stop_server();
    server_get_stats(tc_server, &st);
    ck_assert_uint_eq(st.open, 0);
    return 0;
}

START_TEST(keep_alive_reuses_one_connection_and_counts_it)
{
    struct server_opts o = { 0 };
    tc_with_server(&o, keepalive_client, NULL);
}
END_TEST

static int pipeline_client(void *arg)
{
    (void)arg;
    stream *s;
    ck_assert_int_eq(tc_await_connect(tc_port, NULL, &s, tc_dl()), 0);
    ck_assert_int_eq(tc_await_send(s,
                                   "POST /e HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\na"
                                   "POST /e HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                                   "2\r\nbb\r\n0\r\n\r\n"
                                   "GET /e HTTP/1.1\r\nHost: t\r\n\r\n",
                                   tc_dl()),
                     0);
    const char *want[] = { "a", "bb", "" };
    for (int i = 0; i < 3; i++) {
        struct tc_resp r;
        ck_assert_int_eq(tc_await_response(s, "POST", &r, tc_dl()), 0);
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(r.body, want[i]);
        ck_assert_int_eq(atoi(tc_hdr(&r, "X-Request-Number")), i + 1);
        tc_resp_free(&r);
    }
    stream_close(s);
    tc_stop_server();
    return 0;
}

START_TEST(pipelined_requests_are_answered_in_order)
{
    struct server_opts o = { 0 };
    tc_with_server(&o, pipeline_client, NULL);
}
END_TEST

static int body_client(void *arg)
{
    (void)arg;
    stream *s;
    struct tc_resp r;
    ck_assert_int_eq(tc_await_connect(tc_port, NULL, &s, tc_dl()), 0);
    /* chunked, with an extension and a trailer, sent in pieces */
    ck_assert_int_eq(tc_await_send(s, "PUT /e HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhel",
                                   tc_dl()),
                     0);
    await_sleep_ms(20);
    ck_assert_int_eq(tc_await_send(s, "lo\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n", tc_dl()), 0);
    ck_assert_int_eq(tc_await_response(s, "PUT", &r, tc_dl()), 0);
    ck_assert_str_eq(r.body, "hello world");
    ck_assert_str_eq(tc_hdr(&r, "X-Method"), "PUT");
    tc_resp_free(&r);
    /* Expect: 100-continue: the interim answer comes before the body is sent */
    ck_assert_int_eq(tc_await_send(s, "POST /e HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                                      "Content-Length: 4\r\n\r\n", tc_dl()),
                     0);
    const char *line;
    ck_assert_int_eq(stream_await_read_until(s, "\r\n\r\n", 4, 64, &line, tc_dl()), 25);
    ck_assert_int_eq(strncmp(line, "HTTP/1.1 100 Continue\r\n", 23), 0);
    ck_assert_int_eq(tc_await_send(s, "body", tc_dl()), 0);
    ck_assert_int_eq(tc_await_response(s, "POST", &r, tc_dl()), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "body");
    tc_resp_free(&r);
    stream_close(s);
    tc_stop_server();
    return 0;
}

START_TEST(request_bodies_by_length_chunked_and_after_100_continue)
{
    struct server_opts o = { 0 };
    tc_with_server(&o, body_client, NULL);
}
END_TEST

/* ---- response framing ---- */

static int framing_client(void *arg)
{
    (void)arg;
    stream *s;
    struct tc_resp r;
    ck_assert_int_eq(tc_await_connect(tc_port, NULL, &s, tc_dl()), 0);
    ck_assert_int_eq(tc_await_send(s, "GET /chunks HTTP/1.1\r\nHost: t\r\n\r\n"
                                      "HEAD /chunks HTTP/1.1\r\nHost: t\r\n\r\n"
                                      "HEAD /e HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
                                      "GET /nocontent HTTP/1.1\r\nHost: t\r\n\r\n"
                                      "GET /noanswer HTTP/1.1\r\nHost: t\r\n\r\n"
                                      "GET /inject HTTP/1.1\r\nHost: t\r\n\r\n"
                                      "GET /fail HTTP/1.1\r\nHost: t\r\n\r\n", tc_dl()),
                     0);
    ck_assert_int_eq(tc_await_response(s, "GET", &r, tc_dl()), 0);
    ck_assert_int_eq(r.framing, HTTP_FRAMING_CHUNKED);
    ck_assert_str_eq(r.body, "chunk0chunk1chunk2");
    ck_assert_str_eq(tc_hdr(&r, "Content-Length"), "(none)");
    tc_resp_free(&r);
    ck_assert_int_eq(tc_await_response(s, "HEAD", &r, tc_dl()), 0);
    ck_assert_str_eq(tc_hdr(&r, "Transfer-Encoding"), "chunked");
    ck_assert_uint_eq(r.body_len, 0);
    tc_resp_free(&r);
    ck_assert_int_eq(tc_await_response(s, "HEAD", &r, tc_dl()), 0);
    ck_assert_str_eq(tc_hdr(&r, "Content-Length"), "3");   /* as GET would say; no body follows */
    ck_assert_uint_eq(r.body_len, 0);
    tc_resp_free(&r);
    ck_assert_int_eq(tc_await_response(s, "GET", &r, tc_dl()), 0);
    ck_assert_int_eq(r.status, 204);
    ck_assert_str_eq(tc_hdr(&r, "Content-Length"), "(none)");
    ck_assert_str_eq(tc_hdr(&r, "Transfer-Encoding"), "(none)");
    tc_resp_free(&r);
    ck_assert_int_eq(tc_await_response(s, "GET", &r, tc_dl()), 0);
    ck_assert_int_eq(r.status, 204);                    /* the handler said nothing */
    tc_resp_free(&r);
    ck_assert_int_eq(tc_await_response(s, "GET", &r, tc_dl()), 0);
    ck_assert_str_eq(r.body, "-22");                    /* -EINVAL: CR/LF refused */
    ck_assert_str_eq(tc_hdr(&r, "Set-Cookie"), "(none)");
    tc_resp_free(&r);
    ck_assert_int_eq(tc_await_response(s, "GET", &r, tc_dl()), 0);
    ck_assert_int_eq(r.status, 500);
    tc_resp_free(&r);
    stream_close(s);
    tc_stop_server();
    return 0;
}

START_TEST(chunked_head_204_and_handler_failures_are_framed_by_the_server)
{
    struct server_opts o = { 0 };
    tc_with_server(&o, framing_client, NULL);
}
END_TEST

static int close_client(void *arg)
{
    (void)arg;
    stream *s;
    struct tc_resp r;
    /* Connection: close */
    ck_assert_int_eq(tc_await_connect(tc_port, NULL, &s, tc_dl()), 0);
    ck_assert_int_eq(tc_await_send(s, "GET /e HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", tc_dl()), 0);
    ck_assert_int_eq(tc_await_response(s, "GET", &r, tc_dl()), 0);
    ck_assert_str_eq(tc_hdr(&r, "Connection"), "close");
    ck_assert(tc_await_closed(s, tc_dl()));
    tc_resp_free(&r);
    stream_close(s);
    /* HTTP/1.0: closes by default; keeps alive when asked; streams until close */
    ck_assert_int_eq(tc_await_connect(tc_port, NULL, &s, tc_dl()), 0);
    ck_assert_int_eq(tc_await_send(s, "GET /e HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", tc_dl()), 0);
    ck_assert_int_eq(tc_await_response(s, "GET", &r, tc_dl()), 0);
    ck_assert_str_eq(tc_hdr(&r, "Connection"), "keep-alive");
    tc_resp_free(&r);
    ck_assert_int_eq(tc_await_send(s, "GET /chunks HTTP/1.0\r\n\r\n", tc_dl()), 0);
    ck_assert_int_eq(tc_await_response(s, "GET", &r, tc_dl()), 0);
    ck_assert_int_eq(r.framing, HTTP_FRAMING_CLOSE);
    ck_assert_str_eq(r.body, "chunk0chunk1chunk2");
    ck_assert_str_eq(tc_hdr(&r, "Connection"), "close");
    tc_resp_free(&r);
    stream_close(s);
    tc_stop_server();
    return 0;
}

START_TEST(connection_close_and_http_1_0)
{
    struct server_opts o = { 0 };
    tc_with_server(&o, close_client, NULL);
}
END_TEST

/* ---- malformed requests: status, then close ---- */

struct bad_case {
    const char *name;
    const char *raw;
    int status;
};

static char long_target[9100], big_head[9100], many_fields[2000], big_chunked[9100];

static const struct bad_case bad_cases[] = {
    { "CL+TE", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400 },
    { "ws before colon", "GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400 },
    { "obs-fold", "GET / HTTP/1.1\r\nHost: t\r\nX-A: b\r\n c\r\n\r\n", 400 },
    { "chunked not final", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400 },
    { "unknown coding", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501 },
    { "two lengths", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400 },
    { "bad length", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n", 400 },
    { "HTTP/2.0", "GET / HTTP/2.0\r\n\r\n", 505 },
    { "garbage", "\x16\x03\x01\x02\x01\xfc\x03\x03\r\n\r\n", 400 },
    { "bare LF", "GET / HTTP/1.1\nHost: t\n\n", 400 },
    { "bad chunk size", "POST /e HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400 },
    { "body too large", "POST /e HTTP/1.1\r\nHost: t\r\nContent-Length: 2000\r\n\r\n", 413 },
    { "target too long", long_target, 414 },
    { "head too large", big_head, 431 },
    { "too many fields", many_fields, 431 },
    { "chunked too large", big_chunked, 413 },
};

static void make_big_cases(void)
{
    char pad[9001];
    memset(pad, 'a', 9000);
    pad[9000] = '\0';
    snprintf(long_target, sizeof long_target, "GET /%s HTTP/1.1\r\nHost: t\r\n\r\n", pad);
    pad[5000] = '\0';
    snprintf(big_head, sizeof big_head, "GET / HTTP/1.1\r\nHost: t\r\nX-Big: %s\r\n\r\n", pad);
    int n = snprintf(many_fields, sizeof many_fields, "GET / HTTP/1.1\r\nHost: t\r\n");
    for (int i = 0; i < 12; i++)
        n += snprintf(many_fields + n, sizeof many_fields - (size_t)n, "X-%d: v\r\n", i);
    snprintf(many_fields + n, sizeof many_fields - (size_t)n, "\r\n");
    pad[600] = '\0';
    n = snprintf(big_chunked, sizeof big_chunked,
                 "POST /e HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 3; i++)
        n += snprintf(big_chunked + n, sizeof big_chunked - (size_t)n, "258\r\n%s\r\n", pad);
    snprintf(big_chunked + n, sizeof big_chunked - (size_t)n, "0\r\n\r\n");
}

static int bad_client(void *arg)
{
    (void)arg;
    size_t n = sizeof bad_cases / sizeof bad_cases[0];
    for (size_t i = 0; i < n; i++) {
        const struct bad_case *c = &bad_cases[i];
        stream *s;
        struct tc_resp r;
        ck_assert_int_eq(tc_await_connect(tc_port, NULL, &s, tc_dl()), 0);
        ck_assert_int_eq(tc_await_send(s, c->raw, tc_dl()), 0);
        int rc = tc_await_response(s, "GET", &r, tc_dl());
        ck_assert_msg(rc == 0 && r.status == c->status, "%s: rc %d status %d, want %d", c->name, rc,
                      r.status, c->status);
        ck_assert_msg(strcmp(tc_hdr(&r, "Connection"), "close") == 0, "%s: no Connection: close", c->name);
        ck_assert_msg(tc_await_closed(s, tc_dl()), "%s: connection left open", c->name);
        tc_resp_free(&r);
        stream_close(s);
    }
    struct server_stats st;
    server_get_stats(tc_server, &st);
    ck_assert_uint_eq(st.rejected, n);
    ck_assert_uint_eq(st.requests, 0);
    tc_stop_server();
    return 0;
}

START_TEST(malformed_requests_get_their_status_and_a_close)
{
    make_big_cases();
    struct server_opts o = { .head_max = 4096, .fields_max = 10, .body_max = 1000 };
    tc_with_server(&o, bad_client, NULL);
}
END_TEST

static int max_requests_client(void *arg)
{
    (void)arg;
    stream *s;
    struct tc_resp r;
    ck_assert_int_eq(tc_await_connect(tc_port, NULL, &s, tc_dl()), 0);
    ck_assert_int_eq(tc_await_send(s, "GET /e HTTP/1.1\r\nHost: t\r\n\r\nGET /e HTTP/1.1\r\nHost: t\r\n\r\n", tc_dl()), 0);
    ck_assert_int_eq(tc_await_response(s, "GET", &r, tc_dl()), 0);
    ck_assert_str_eq(tc_hdr(&r, "Connection"), "(none)");
    tc_resp_free(&r);
    ck_assert_int_eq(tc_await_response(s, "GET", &r, tc_dl()), 0);
    ck_assert_str_eq(tc_hdr(&r, "Connection"), "close");
    tc_resp_free(&r);
    ck_assert(tc_await_closed(s, tc_dl()));
    stream_close(s);
    tc_stop_server();
    return 0;
}

START_TEST(max_requests_per_connection_ends_with_connection_close)
{
    struct server_opts o = { .max_requests = 2 };
    tc_with_server(&o, max_requests_client, NULL);
}
END_TEST

static Suite *server_suite(void)
{
    Suite *s = suite_create("server");
    TCase *tc = tcase_create("server");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, keep_alive_reuses_one_connection_and_counts_it);
    tcase_add_test(tc, pipelined_requests_are_answered_in_order);
    tcase_add_test(tc, request_bodies_by_length_chunked_and_after_100_continue);
    tcase_add_test(tc, chunked_head_204_and_handler_failures_are_framed_by_the_server);
    tcase_add_test(tc, connection_close_and_http_1_0);
    tcase_add_test(tc, malformed_requests_get_their_status_and_a_close);
    tcase_add_test(tc, max_requests_per_connection_ends_with_connection_close);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(server_suite)
