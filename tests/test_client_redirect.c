/* test_client_redirect.c - redirects: relative and absolute Locations, the
 * method and body rules of 301/302/303/307/308, cross-origin header hygiene
 * (Authorization and Cookie never follow to another origin, and stay
 * dropped: H5.6), the loop limit, unusable Locations, and the redirect body
 * drained to keep the connection (or the connection closed when it is too
 * big to drain). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/client.h"
#include "tests/canned_server.h"
#include "tests/support.h"

#define DL co_deadline_in_ms(5000)
#define OK2 "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

static bool head_has(const struct canned_server *s, int i, const char *text)
{
    return i < s->requests && strstr(s->reqs[i].head, text) != NULL;
}

/* ---- relative, absolute ---- */

static void relative_case(struct canned_env *e)
{
    struct http_response r;
    ck_assert_int_eq(http_await_get(e->client, canned_path(e->srv, "/dir/a"), &r, DL), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "ok");
    ck_assert_int_eq(r.redirects, 2);
    ck_assert_ptr_nonnull(strstr(r.url, "/dir/c?x=1"));
    ck_assert_ptr_null(http_response_header(&r, "location"));  /* the final response's fields */
    http_response_fini(&r);
    struct http_client_stats st = canned_stats(e);
    ck_assert_uint_eq(st.redirects, 2);
    ck_assert_uint_eq(st.conns_new, 1);     /* redirect bodies drained: one connection */
    ck_assert_uint_eq(st.drained, 2);
    ck_assert(head_has(e->srv, 1, "GET /dir/b HTTP/1.1\r\n"));
    ck_assert(head_has(e->srv, 2, "GET /dir/c?x=1 HTTP/1.1\r\n"));
}

START_TEST(relative_redirects_are_followed_on_the_same_connection)
{
    struct canned_server s = { .scripts = { {
        C_READ, C_SEND("HTTP/1.1 302 Found\r\nLocation: b\r\nContent-Length: 5\r\n\r\nmoved"),
        C_READ, C_SEND("HTTP/1.1 301 Moved\r\nLocation: /dir/c?x=1#frag\r\nTransfer-Encoding: chunked"
                       "\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
        C_READ, C_SEND(OK2), C_AWAIT_EOF } } };
    canned_run(&s, NULL, relative_case, NULL);
    ck_assert_int_eq(s.connections, 1);
    canned_server_free(&s);
}
END_TEST

/* Two servers: A redirects (absolute URL) to B, B back to A. */
struct cross {
    struct canned_server *b;
    char loc_b[160];        /* A's 30x points here */
};

static void cross_case(struct canned_env *e)
{
    struct cross *x = e->arg;
    struct canned_server *b = x->b;
    ck_assert_int_eq(canned_server_start(b), 0);
    /* A's script was written before B's port existed: patch its Location. */
    static char resp_a[256], resp_b[256];
    snprintf(resp_a, sizeof resp_a, "HTTP/1.1 307 Temporary\r\nLocation: http://127.0.0.1:%d/b\r\n"
             "Content-Length: 0\r\n\r\n", b->port);
    snprintf(resp_b, sizeof resp_b, "HTTP/1.1 308 Permanent\r\nLocation: http://127.0.0.1:%d/back\r\n"
             "Content-Length: 0\r\n\r\n", e->srv->port);
    e->srv->scripts[0][1] = (struct canned_step){ CANNED_SEND, resp_a, strlen(resp_a), 0 };
    b->scripts[0][1] = (struct canned_step){ CANNED_SEND, resp_b, strlen(resp_b), 0 };
    struct http_header h[] = {
        { "Authorization", 13, "Bearer secret", 13 },
        { "Cookie", 6, "id=1", 4 },
        { "X-Keep", 6, "yes", 3 },
    };
    struct http_request q = { .method = "PUT", .url = canned_path(e->srv, "/a"), .headers = h,
                              .header_count = 3, .body = "data", .body_len = 4 };
    struct http_response r;
    int rc = http_await_request(e->client, &q, &r, DL);
    ck_assert_msg(rc == 0, "%s: %s", co_strerror(rc), r.detail.text);
    ck_assert_str_eq(r.body, "ok");
    ck_assert_int_eq(r.redirects, 2);
    http_response_fini(&r);
    struct canned_server *a = e->srv;
    ck_assert(head_has(a, 0, "Authorization: Bearer secret"));
    ck_assert(head_has(a, 0, "Cookie: id=1"));
    ck_assert(head_has(b, 0, "PUT /b HTTP/1.1"));           /* 307/308 keep method and body */
    ck_assert_str_eq(b->reqs[0].body, "data");
    ck_assert(!head_has(b, 0, "Authorization"));            /* not to another origin */
    ck_assert(!head_has(b, 0, "Cookie"));
    ck_assert(head_has(b, 0, "X-Keep: yes"));
    ck_assert(head_has(a, 1, "PUT /back HTTP/1.1"));
    ck_assert(!head_has(a, 1, "Authorization"));            /* and they stay dropped */
    ck_assert(!head_has(a, 1, "Cookie"));
    ck_assert_str_eq(a->reqs[1].body, "data");
    ck_assert_int_eq(canned_server_await_stop(b), 0);
}

START_TEST(cross_origin_redirects_drop_credentials_for_good)
{
    struct canned_server a = { .scripts = { { C_READ, C_SEND("x"), C_READ, C_SEND(OK2), C_AWAIT_EOF } } };
    struct canned_server b = { .scripts = { { C_READ, C_SEND("x"), C_AWAIT_EOF } } };
    struct cross x = { .b = &b };
    canned_run(&a, NULL, cross_case, &x);
    canned_server_free(&a);
    canned_server_free(&b);
}
END_TEST

/* ---- method rules ---- */

struct method_rule {
    int status;
    const char *method;
    const char *want_method;    /* on the second hop */
    bool body_kept;
};

static void method_case(struct canned_env *e)
{
    struct method_rule *m = e->arg;
    static char resp[128];
    snprintf(resp, sizeof resp, "HTTP/1.1 %d R\r\nLocation: /next\r\nContent-Length: 0\r\n\r\n",
             m->status);
    e->srv->scripts[0][1] = (struct canned_step){ CANNED_SEND, resp, strlen(resp), 0 };
    struct http_header ct = { "Content-Type", 12, "text/plain", 10 };
    struct http_request q = { .method = m->method, .url = canned_path(e->srv, "/first"),
                              .headers = &ct, .header_count = 1, .body = "payload", .body_len = 7 };
    struct http_response r;
    ck_assert_int_eq(http_await_request(e->client, &q, &r, DL), 0);
    ck_assert_int_eq(r.status, 200);
    http_response_fini(&r);
    char want[64];
    snprintf(want, sizeof want, "%s /next HTTP/1.1\r\n", m->want_method);
    ck_assert_msg(head_has(e->srv, 1, want), "%d %s: %s", m->status, m->method, e->srv->reqs[1].head);
    ck_assert_int_eq(head_has(e->srv, 1, "Content-Type: text/plain"), m->body_kept);
    ck_assert_int_eq(head_has(e->srv, 1, "Content-Length: 7"), m->body_kept);
    ck_assert_int_eq(e->srv->reqs[1].body_len, m->body_kept ? 7 : 0);
}

START_TEST(redirect_method_and_body_rules)
{
    static const struct method_rule rules[] = {
        { 301, "POST", "GET", false }, { 302, "POST", "GET", false }, { 303, "POST", "GET", false },
        { 303, "PUT", "GET", false },  { 307, "POST", "POST", true }, { 308, "POST", "POST", true },
        { 301, "PUT", "PUT", true },
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        struct canned_server s = { .scripts = { { C_READ, C_SEND("x"), C_READ, C_SEND(OK2),
                                                  C_AWAIT_EOF } } };
        struct method_rule m = rules[i];
        canned_run(&s, NULL, method_case, &m);
        canned_server_free(&s);
    }
}
END_TEST

/* ---- limits and refusals ---- */

static void loop_case(struct canned_env *e)
{
    struct http_response r;
    int rc = http_await_get(e->client, canned_path(e->srv, "/loop"), &r, DL);
    ck_assert_int_eq(rc, -HTTP_E_TOO_MANY_REDIRECTS);
    ck_assert_ptr_nonnull(strstr(r.detail.text, "after 3 redirects"));
    ck_assert_int_eq(r.redirects, 3);
    http_response_fini(&r);
    ck_assert_int_eq(e->srv->requests, 4);
}

START_TEST(redirect_loops_stop_at_the_limit)
{
    struct canned_server s = { .scripts = { {
        C_READ, C_SEND("HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n"),
        C_REPEAT } } };
    struct http_client_opts o = { .max_redirects = 3 };
    canned_run(&s, &o, loop_case, NULL);
    canned_server_free(&s);
}
END_TEST

static void no_follow_case(struct canned_env *e)
{
    struct http_request q = { .url = canned_path(e->srv, "/"), .max_redirects = -1 };
    struct http_response r;
    ck_assert_int_eq(http_await_request(e->client, &q, &r, DL), 0);
    ck_assert_int_eq(r.status, 302);
    ck_assert_str_eq(http_response_header(&r, "location"), "/elsewhere");
    ck_assert_str_eq(r.body, "see");
    http_response_fini(&r);
}

START_TEST(redirects_can_be_returned_as_they_are)
{
    struct canned_server s = { .scripts = { {
        C_READ, C_SEND("HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 3\r\n\r\nsee"),
        C_AWAIT_EOF } } };
    canned_run(&s, NULL, no_follow_case, NULL);
    canned_server_free(&s);
}
END_TEST

static void bad_location_case(struct canned_env *e)
{
    struct http_response r;
    ck_assert_int_eq(http_await_get(e->client, canned_path(e->srv, "/"), &r, DL),
                     -HTTP_E_BAD_REDIRECT);
    ck_assert_ptr_nonnull(strstr(r.detail.text, "redirect 302"));
    http_response_fini(&r);
}

START_TEST(unusable_location_is_an_error)
{
    struct canned_server s = { .scripts = { {
        C_READ, C_SEND("HTTP/1.1 302 Found\r\nLocation: ftp://x/\r\nContent-Length: 0\r\n\r\n"),
        C_AWAIT_EOF } } };
    canned_run(&s, NULL, bad_location_case, NULL);
    canned_server_free(&s);
}
END_TEST

static void big_body_case(struct canned_env *e)
{
    struct http_response r;
    ck_assert_int_eq(http_await_get(e->client, canned_path(e->srv, "/"), &r, DL), 0);
    ck_assert_str_eq(r.body, "ok");
    http_response_fini(&r);
    ck_assert_uint_eq(canned_stats(e).conns_new, 2);   /* too big to drain: closed instead */
    ck_assert_uint_eq(canned_stats(e).drained, 0);
}

START_TEST(a_redirect_body_too_big_to_drain_closes_the_connection)
{
    struct canned_server s = { .scripts = {
        { C_READ, C_SEND("HTTP/1.1 302 Found\r\nLocation: /b\r\nContent-Length: 100000\r\n\r\n"
                         "0123456789012345678901234567890123456789"), C_SLEEP(2000) },
        { C_READ, C_SEND(OK2), C_AWAIT_EOF } } };
    struct http_client_opts o = { .drain_max = 16 };
    canned_run(&s, &o, big_body_case, NULL);
    ck_assert_int_eq(s.connections, 2);
    canned_server_free(&s);
}
END_TEST

Suite *client_redirect_suite(void);
Suite *client_redirect_suite(void)
{
    Suite *s = suite_create("client_redirect");
    TCase *tc = tcase_create("redirect");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, relative_redirects_are_followed_on_the_same_connection);
    tcase_add_test(tc, cross_origin_redirects_drop_credentials_for_good);
    tcase_add_test(tc, redirect_method_and_body_rules);
    tcase_add_test(tc, redirect_loops_stop_at_the_limit);
    tcase_add_test(tc, redirects_can_be_returned_as_they_are);
    tcase_add_test(tc, unusable_location_is_an_error);
    tcase_add_test(tc, a_redirect_body_too_big_to_drain_closes_the_connection);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(client_redirect_suite)
