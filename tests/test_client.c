/* test_client.c - the HTTP client against the canned loopback server: every
 * framing case (Content-Length, chunked with extensions and trailers,
 * close-delimited, HEAD, 204, 304, 1xx, 100-continue, 101), HTTP/1.0 and
 * Connection: close peers, bytes after a response, pipelining, the request
 * head the client writes, and bodies both ways (buffer, callback, file). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/client.h"
#include "tests/canned_server.h"
#include "tests/support.h"

#define DL co_deadline_in_ms(5000)

/* GET path, expect 200-ish success with this body. */
static void get_body(struct canned_env *e, const char *path, int status, const char *body)
{
    struct http_response r;
    int rc = http_await_get(e->client, canned_path(e->srv, path), &r, DL);
    ck_assert_msg(rc == 0, "%s: %s", co_strerror(rc), r.detail.text);
    ck_assert_int_eq(r.status, status);
    ck_assert_uint_eq(r.body_len, strlen(body));
    if (r.body_len)
        ck_assert_str_eq(r.body, body);
    http_response_fini(&r);
}

/* ---- framing ---- */

static void content_length_case(struct canned_env *e)
{
    struct http_response r;
    ck_assert_int_eq(http_await_get(e->client, canned_path(e->srv, "/a?b=c"), &r, DL), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.reason, "OK");
    ck_assert_str_eq(r.body, "hello");
    ck_assert_str_eq(http_response_header(&r, "x-a"), "b");
    ck_assert_ptr_null(http_response_header(&r, "x-none"));
    ck_assert(!r.reused);
    ck_assert_int_gt(r.timings.total_ns, 0);
    ck_assert_int_gt(r.timings.connect_ns, 0);
    ck_assert_ptr_nonnull(strstr(r.url, "/a?b=c"));
    http_response_fini(&r);
    const char *head = e->srv->reqs[0].head;
    ck_assert_ptr_nonnull(strstr(head, "GET /a?b=c HTTP/1.1\r\n"));
    ck_assert_ptr_nonnull(strstr(head, "\r\nHost: 127.0.0.1:"));
    ck_assert_ptr_nonnull(strstr(head, "\r\nUser-Agent: " HTTP_USER_AGENT_DEFAULT "\r\n"));
    ck_assert_ptr_null(strstr(head, "Content-Length"));
}

START_TEST(content_length_body_and_the_request_head)
{
    struct canned_server s = { .scripts = { {
        C_READ, C_SEND("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello"), C_REPEAT } } };
    canned_run(&s, NULL, content_length_case, NULL);
    canned_server_free(&s);
}
END_TEST

static void chunked_case(struct canned_env *e)
{
    struct http_response r;
    ck_assert_int_eq(http_await_get(e->client, canned_path(e->srv, "/"), &r, DL), 0);
    ck_assert_str_eq(r.body, "hello world");
    ck_assert_uint_eq(r.trailer_count, 1);
    ck_assert_str_eq(r.trailers[0].name, "X-Sum");
    ck_assert_str_eq(r.trailers[0].value, "42");
    http_response_fini(&r);
    get_body(e, "/again", 200, "hello world");   /* the chunked response ended exactly */
    ck_assert_uint_eq(canned_stats(e).conns_new, 1);
}

START_TEST(chunked_with_extensions_and_trailers)
{
    struct canned_server s = { .scripts = { {
        C_READ, C_SEND("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "5;ext=1\r\nhello\r\n6;a;b=\"q;\"\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n"),
        C_REPEAT } } };
    canned_run(&s, NULL, chunked_case, NULL);
    ck_assert_int_eq(s.connections, 1);
    canned_server_free(&s);
}
END_TEST

static void close_delimited_case(struct canned_env *e)
{
    get_body(e, "/", 200, "until the end");
    get_body(e, "/", 200, "until the end");
    struct http_client_stats st = canned_stats(e);
    ck_assert_uint_eq(st.conns_new, 2);     /* never pooled */
    ck_assert_uint_eq(st.conns_idle, 0);
}

START_TEST(close_delimited_body_is_read_to_the_end_and_not_pooled)
{
    struct canned_server s = { .scripts = { {
        C_READ, C_SEND("HTTP/1.1 200 OK\r\n\r\nuntil "), C_SLEEP(10), C_SEND("the end"), C_END } } };
    canned_run(&s, NULL, close_delimited_case, NULL);
    ck_assert_int_eq(s.connections, 2);
    canned_server_free(&s);
}
END_TEST

static void no_body_case(struct canned_env *e)
{
    struct http_response r;
    ck_assert_int_eq(http_await_head(e->client, canned_path(e->srv, "/"), &r, DL), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_len, 0);
    ck_assert_str_eq(http_response_header(&r, "content-length"), "100");
    http_response_fini(&r);
    get_body(e, "/204", 204, "");
    get_body(e, "/304", 304, "");
    get_body(e, "/last", 200, "ok");
    ck_assert_uint_eq(canned_stats(e).conns_new, 1);
    ck_assert_uint_eq(canned_stats(e).conns_reused, 3);
    ck_assert_ptr_nonnull(strstr(e->srv->reqs[0].head, "HEAD / HTTP/1.1\r\n"));
}

START_TEST(head_204_304_have_no_body_whatever_the_length_says)
{
    struct canned_server s = { .scripts = { {
        C_READ, C_SEND("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"),
        C_READ, C_SEND("HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n"),
        C_READ, C_SEND("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n"),
        C_READ, C_SEND("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), C_AWAIT_EOF } } };
    canned_run(&s, NULL, no_body_case, NULL);
    ck_assert_int_eq(s.connections, 1);
    canned_server_free(&s);
}
END_TEST

static void interim_case(struct canned_env *e) { get_body(e, "/", 200, "ok"); }

START_TEST(interim_responses_are_skipped)
{
    struct canned_server s = { .scripts = { {
        C_READ, C_SEND("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\n"
                       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), C_END } } };
    canned_run(&s, NULL, interim_case, NULL);
    canned_server_free(&s);
}
END_TEST

static void switching_case(struct canned_env *e)
{
    struct http_response r;
    int rc = http_await_get(e->client, canned_path(e->srv, "/"), &r, DL);
    ck_assert_int_eq(rc, -HTTP_E_UPGRADE_REFUSED);
    ck_assert_ptr_nonnull(strstr(r.detail.text, "101"));
    ck_assert_int_eq(r.status, 0);
    http_response_fini(&r);
    ck_assert_uint_eq(canned_stats(e).conns_open, 0);
}

START_TEST(switching_protocols_without_upgrade_is_an_error)
{
    struct canned_server s = { .scripts = { {
        C_READ, C_SEND("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n"), C_AWAIT_EOF } } };
    canned_run(&s, NULL, switching_case, NULL);
    canned_server_free(&s);
}
END_TEST

/* ---- 100-continue ---- */

static void expect_case(struct canned_env *e)
{
    static const char body[] = "the body";
    struct http_request q = { .method = "POST", .url = canned_path(e->srv, "/up"), .body = body,
                              .body_len = 8, .expect_continue = true };
    struct http_response r;
    ck_assert_int_eq(http_await_request(e->client, &q, &r, DL), 0);
    ck_assert_str_eq(r.body, "the body");
    http_response_fini(&r);
    ck_assert_ptr_nonnull(strstr(e->srv->reqs[0].head, "\r\nExpect: 100-continue\r\n"));
    ck_assert_ptr_nonnull(strstr(e->srv->reqs[0].head, "\r\nContent-Length: 8\r\n"));
    ck_assert_uint_eq(e->srv->reqs[0].early, 0);   /* nothing sent before the 100 */
}

START_TEST(expect_continue_waits_for_100_before_the_body)
{
    struct canned_server s = { .scripts = { {
        C_READ_HEAD, C_SLEEP(40), C_SEND("HTTP/1.1 100 Continue\r\n\r\n"), C_READ_BODY, C_ECHO,
        C_AWAIT_EOF } } };
    canned_run(&s, NULL, expect_case, NULL);
    canned_server_free(&s);
}
END_TEST

static void expect_refused_case(struct canned_env *e)
{
    struct http_request q = { .method = "PUT", .url = canned_path(e->srv, "/up"), .body = "x",
                              .body_len = 1, .expect_continue = true };
    struct http_response r;
    ck_assert_int_eq(http_await_request(e->client, &q, &r, DL), 0);
    ck_assert_int_eq(r.status, 417);
    http_response_fini(&r);
    ck_assert_uint_eq(canned_stats(e).conns_open, 0);     /* body never sent: the connection goes */
}

START_TEST(expect_continue_final_answer_means_no_body_and_no_reuse)
{
    struct canned_server s = { .scripts = { {
        C_READ_HEAD, C_SEND("HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n"),
        C_AWAIT_EOF } } };
    canned_run(&s, NULL, expect_refused_case, NULL);
    ck_assert_uint_eq(s.reqs[0].body_len, 0);
    canned_server_free(&s);
}
END_TEST

static void expect_timeout_case(struct canned_env *e)
{
    struct http_request q = { .method = "POST", .url = canned_path(e->srv, "/up"), .body = "late",
                              .body_len = 4, .expect_continue = true };
    struct http_response r;
    ck_assert_int_eq(http_await_request(e->client, &q, &r, DL), 0);
    ck_assert_str_eq(r.body, "late");
    http_response_fini(&r);
}

START_TEST(expect_continue_sends_the_body_after_the_expect_timeout)
{
    struct canned_server s = { .scripts = { { C_READ, C_ECHO, C_AWAIT_EOF } } };
    struct http_client_opts o = { .expect_timeout_ms = 30 };
    canned_run(&s, &o, expect_timeout_case, NULL);
    canned_server_free(&s);
}
END_TEST

/* ---- connection reuse decided by the peer ---- */

static void peer_case(struct canned_env *e)
{
    get_body(e, "/1", 200, "ok");
    get_body(e, "/2", 200, "ok");
    get_body(e, "/3", 200, "ok");
}

START_TEST(http10_peer_and_connection_close_are_not_reused)
{
    struct canned_server s = { .scripts = {
        { C_READ, C_SEND("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"), C_AWAIT_EOF },
        { C_READ, C_SEND("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"),
          C_AWAIT_EOF },
        { C_READ, C_SEND("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok"),
          C_REPEAT } } };
    canned_run(&s, NULL, peer_case, NULL);
    ck_assert_int_eq(s.connections, 3);
    canned_server_free(&s);
}
END_TEST

static void keep_alive_10_case(struct canned_env *e)
{
    peer_case(e);
    ck_assert_uint_eq(canned_stats(e).conns_reused, 2);
}

START_TEST(http10_keep_alive_is_reused)
{
    struct canned_server s = { .scripts = { {
        C_READ, C_SEND("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok"),
        C_REPEAT } } };
    canned_run(&s, NULL, keep_alive_10_case, NULL);
    ck_assert_int_eq(s.connections, 1);
    canned_server_free(&s);
}
END_TEST

START_TEST(bytes_after_a_response_close_the_connection)
{
    /* The second response arrives with no request outstanding (H1.10): it
     * must not answer the next request; a fresh connection does. */
    struct canned_server s = { .scripts = {
        { C_READ, C_SEND("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                         "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nbad"), C_AWAIT_EOF },
        { C_READ, C_SEND("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), C_REPEAT } } };
    canned_run(&s, NULL, peer_case, NULL);
    ck_assert_int_eq(s.connections, 2);
    canned_server_free(&s);
}
END_TEST

/* ---- pipelining ---- */

static void pipeline_case(struct canned_env *e)
{
    char u[3][128];
    struct http_request q[3] = {
        { .url = canned_url(e->srv, "/1", u[0], sizeof u[0]) },
        { .url = canned_url(e->srv, "/2", u[1], sizeof u[1]), .method = "HEAD" },
        { .url = canned_url(e->srv, "/3", u[2], sizeof u[2]) },
    };
    struct http_response r[3];
    ck_assert_int_eq(http_await_pipeline(e->client, q, 3, r, DL), 3);
    ck_assert_str_eq(r[0].body, "a");
    ck_assert_uint_eq(r[1].body_len, 0);
    ck_assert_str_eq(http_response_header(&r[1], "content-length"), "2");
    ck_assert_str_eq(r[2].body, "ccc");
    for (int i = 0; i < 3; i++)
        http_response_fini(&r[i]);
    get_body(e, "/4", 200, "d");                   /* then the connection is reused */
    ck_assert_uint_eq(canned_stats(e).conns_new, 1);
}

START_TEST(pipelined_responses_on_one_connection)
{
    struct canned_server s = { .scripts = { {
        C_READ, C_READ, C_READ,
        C_SEND("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"
               "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
               "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nccc\r\n0\r\n\r\n"),
        C_READ, C_SEND("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nd"), C_AWAIT_EOF } } };
    canned_run(&s, NULL, pipeline_case, NULL);
    ck_assert_int_eq(s.connections, 1);
    ck_assert_int_eq(s.requests, 4);
    canned_server_free(&s);
}
END_TEST

static void pipeline_close_case(struct canned_env *e)
{
    char u[3][128];
    struct http_request q[3];
    memset(q, 0, sizeof q);
    for (int i = 0; i < 3; i++)
        q[i].url = canned_url(e->srv, "/p", u[i], sizeof u[i]);
    struct http_response r[3];
    ck_assert_int_eq(http_await_pipeline(e->client, q, 3, r, DL), 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_str_eq(r[i].body, "x");
        http_response_fini(&r[i]);
    }
}

START_TEST(pipeline_resends_what_a_closing_server_did_not_answer)
{
    struct canned_server s = { .scripts = { {
        C_READ, C_SEND("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx"),
        C_CLOSE } } };
    canned_run(&s, NULL, pipeline_close_case, NULL);
    ck_assert_int_eq(s.connections, 3);
    canned_server_free(&s);
}
END_TEST

/* A missing client, request or response is refused before anything is
 * touched, and a request made outside any task says so (no crash, no hang). */
START_TEST(missing_arguments_and_no_task_are_refused)
{
    struct http_response r;
    struct http_request q = { .url = "http://127.0.0.1:1/" };
    ck_assert_int_eq(http_await_get(NULL, "http://127.0.0.1:1/", &r, CO_NO_DEADLINE), -EINVAL);
    ck_assert_int_eq(http_await_request(NULL, &q, &r, CO_NO_DEADLINE), -EINVAL);
    ck_assert_int_eq(http_await_pipeline(NULL, &q, 1, &r, CO_NO_DEADLINE), -EINVAL);
    http_client *c;
    ck_assert_int_eq(http_client_new(NULL, &c), 0);
    ck_assert_int_eq(http_await_request(c, NULL, &r, CO_NO_DEADLINE), -EINVAL);
    ck_assert_int_eq(http_await_request(c, &q, NULL, CO_NO_DEADLINE), -EINVAL);
    ck_assert_int_eq(http_await_get(c, "http://127.0.0.1:1/", &r, CO_NO_DEADLINE), -CO_ENOTASK);
    http_response_fini(&r);
    http_client_free(c);
}
END_TEST

Suite *client_suite(void);
Suite *client_suite(void)
{
    Suite *s = suite_create("client");
    TCase *tc = tcase_create("framing");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, content_length_body_and_the_request_head);
    tcase_add_test(tc, chunked_with_extensions_and_trailers);
    tcase_add_test(tc, close_delimited_body_is_read_to_the_end_and_not_pooled);
    tcase_add_test(tc, head_204_304_have_no_body_whatever_the_length_says);
    tcase_add_test(tc, interim_responses_are_skipped);
    tcase_add_test(tc, switching_protocols_without_upgrade_is_an_error);
    tcase_add_test(tc, expect_continue_waits_for_100_before_the_body);
    tcase_add_test(tc, expect_continue_final_answer_means_no_body_and_no_reuse);
    tcase_add_test(tc, expect_continue_sends_the_body_after_the_expect_timeout);
    tcase_add_test(tc, http10_peer_and_connection_close_are_not_reused);
    tcase_add_test(tc, http10_keep_alive_is_reused);
    tcase_add_test(tc, bytes_after_a_response_close_the_connection);
    tcase_add_test(tc, pipelined_responses_on_one_connection);
    tcase_add_test(tc, pipeline_resends_what_a_closing_server_did_not_answer);
    tcase_add_test(tc, missing_arguments_and_no_task_are_refused);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(client_suite)
