/* test_client_info.c - what the client hands out besides the final
 * response: interim 1xx heads through the request's on_interim callback (in
 * order, before the final head, never a 101, a NULL callback still skipping
 * them, a non-zero return stopping the request as client.h says), and the
 * connection facts in struct http_response (peer, tls_version, tls_alpn)
 * for plain and TLS connections, new and reused, against the canned
 * loopback server (tests/canned_server.h) and a test PKI (tests/tls_certs.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/client.h"
#include "runtime/task.h"
#include "tests/canned_server.h"
#include "tests/support.h"
#include "tests/tls_certs.h"

#define DL co_deadline_in_ms(5000)

/* ---- interim heads ---- */

/* What the callbacks saw, as one string: each interim head as
 * "STATUS REASON{Name=value,...}", then "body:" and the body pieces, so one
 * comparison checks the contents and the order. */
struct seen {
    char log[512];
    int calls;
    int stop_at;                /* a status to stop at, or 0 */
    int stop_with;              /* what to return there */
    bool nap;                   /* suspend in the callback before reading the head */
};

__attribute__((format(printf, 2, 3))) static void log_add(struct seen *s, const char *fmt, ...)
{
    size_t used = strlen(s->log);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->log + used, sizeof s->log - used, fmt, ap);
    va_end(ap);
}

static int on_interim(void *arg, const struct http_interim *h)
{
    struct seen *s = arg;
    s->calls++;
    /* The head points into the connection's buffer; client.h promises it
     * stays valid for the whole call even if the callback suspends. */
    if (s->nap)
        await_sleep_ms(20);
    log_add(s, "%d %.*s{", h->status, (int)h->reason_len, h->reason);
    for (size_t i = 0; i < h->field_count; i++)
        log_add(s, "%.*s=%.*s,", (int)h->fields[i].name_len, h->fields[i].name,
                (int)h->fields[i].value_len, h->fields[i].value);
    log_add(s, "} ");
    return h->status == s->stop_at ? s->stop_with : 0;
}

static int on_body(void *arg, const char *data, size_t len)
{
    struct seen *s = arg;
    log_add(s, "body:%.*s", (int)len, data);
    return 0;
}

/* GET path with both callbacks logging into e->arg.  The client's code. */
static int get_logged(struct canned_env *e, const char *path, struct http_response *r)
{
    struct seen *s = e->arg;
    struct http_request q = { .url = canned_path(e->srv, path), .on_interim = on_interim,
                              .on_interim_arg = s, .on_body = on_body, .on_body_arg = s };
    return http_await_request(e->client, &q, r, DL);
}

#define EARLY_THEN_CONTINUE_THEN_OK                                                        \
    "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\nLink: </app.js>\r\n\r\n" \
    "HTTP/1.1 100 Continue\r\n\r\n"                                                          \
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

static void in_order_case(struct canned_env *e)
{
    struct seen *s = e->arg;
    struct http_response r;
    int rc = get_logged(e, "/", &r);
    ck_assert_msg(rc == 0, "%s: %s", co_strerror(rc), r.detail.text);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(s->calls, 2);
    ck_assert_str_eq(s->log, "103 Early Hints{Link=</style.css>; rel=preload,Link=</app.js>,} "
                             "100 Continue{} body:ok");
    http_response_fini(&r);
    /* The interim heads were consumed exactly: the connection is reused. */
    s->log[0] = '\0';
    ck_assert_int_eq(get_logged(e, "/again", &r), 0);
    ck_assert(r.reused);
    ck_assert_str_eq(s->log, "103 Early Hints{Link=</style.css>; rel=preload,Link=</app.js>,} "
                             "100 Continue{} body:ok");
    http_response_fini(&r);
}

START_TEST(each_interim_head_reaches_the_callback_in_order_before_the_final_one)
{
    struct canned_server s = { .scripts = { { C_READ, C_SEND(EARLY_THEN_CONTINUE_THEN_OK),
                                              C_REPEAT } } };
    struct seen seen = { .nap = true };
    canned_run(&s, NULL, in_order_case, &seen);
    ck_assert_int_eq(s.connections, 1);
    canned_server_free(&s);
}
END_TEST

static void null_case(struct canned_env *e)
{
    for (int i = 0; i < 2; i++) {
        struct http_response r;
        ck_assert_int_eq(http_await_get(e->client, canned_path(e->srv, "/"), &r, DL), 0);
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(r.body, "ok");
        ck_assert(r.reused == (i == 1));
        http_response_fini(&r);
    }
}

START_TEST(a_null_callback_still_skips_interim_heads)
{
    struct canned_server s = { .scripts = { { C_READ, C_SEND(EARLY_THEN_CONTINUE_THEN_OK),
                                              C_REPEAT } } };
    canned_run(&s, NULL, null_case, NULL);
    ck_assert_int_eq(s.connections, 1);
    canned_server_free(&s);
}
END_TEST

static void stop_case(struct canned_env *e)
{
    struct seen *s = e->arg;
    struct http_response r;
    ck_assert_int_eq(get_logged(e, "/", &r), s->stop_with < 0 ? s->stop_with : -ECANCELED);
    ck_assert_int_eq(s->calls, 1);                      /* not called for the 100 after it */
    ck_assert_str_eq(s->log, "103 Early Hints{Link=</style.css>; rel=preload,Link=</app.js>,} ");
    ck_assert_ptr_nonnull(strstr(r.detail.text, "on_interim callback stopped the request at a "
                                                "103 response"));
    ck_assert_int_eq(r.status, 0);
    ck_assert(!r.retried);                              /* a byte arrived: never retried */
    http_response_fini(&r);
    ck_assert_uint_eq(canned_stats(e).conns_open, 0);          /* half read: closed */
    ck_assert_uint_eq(canned_stats(e).failures, 1);
}

START_TEST(a_negative_return_fails_the_request_with_that_code_and_closes)
{
    struct canned_server s = { .scripts = { { C_READ, C_SEND(EARLY_THEN_CONTINUE_THEN_OK),
                                              C_AWAIT_EOF } } };
    struct seen seen = { .stop_at = 103, .stop_with = -EPERM };
    canned_run(&s, NULL, stop_case, &seen);
    canned_server_free(&s);
}
END_TEST

START_TEST(a_positive_return_fails_the_request_with_ecanceled)
{
    struct canned_server s = { .scripts = { { C_READ, C_SEND(EARLY_THEN_CONTINUE_THEN_OK),
                                              C_AWAIT_EOF } } };
    struct seen seen = { .stop_at = 103, .stop_with = 1 };
    canned_run(&s, NULL, stop_case, &seen);
    canned_server_free(&s);
}
END_TEST

static void expect_stop_case(struct canned_env *e)
{
    struct seen *s = e->arg;
    struct http_request q = { .method = "PUT", .url = canned_path(e->srv, "/up"), .body = "data",
                              .body_len = 4, .expect_continue = true, .on_interim = on_interim,
                              .on_interim_arg = s };
    struct http_response r;
    ck_assert_int_eq(http_await_request(e->client, &q, &r, DL), -EPERM);
    ck_assert_str_eq(s->log, "100 Continue{} ");
    http_response_fini(&r);
}

START_TEST(stopping_at_100_continue_sends_no_body)
{
    struct canned_server s = { .scripts = { {
        C_READ_HEAD, C_SEND("HTTP/1.1 100 Continue\r\n\r\n"), C_READ_BODY, C_AWAIT_EOF } } };
    struct seen seen = { .stop_at = 100, .stop_with = -EPERM };
    canned_run(&s, NULL, expect_stop_case, &seen);
    ck_assert_int_eq(s.requests, 1);
    ck_assert_uint_eq(s.reqs[0].early, 0);
    ck_assert_uint_eq(s.reqs[0].body_len, 0);           /* the held body never went out */
    canned_server_free(&s);
}
END_TEST

static void upgrade_case(struct canned_env *e)
{
    struct seen *s = e->arg;
    struct http_response r;
    ck_assert_int_eq(get_logged(e, "/", &r), -HTTP_E_UPGRADE_REFUSED);
    ck_assert_str_eq(s->log, "103 Early Hints{} ");     /* the 103, not the 101 */
    http_response_fini(&r);
}

START_TEST(a_101_is_refused_and_never_handed_to_the_callback)
{
    struct canned_server s = { .scripts = { {
        C_READ, C_SEND("HTTP/1.1 103 Early Hints\r\n\r\n"
                       "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n"), C_AWAIT_EOF } } };
    struct seen seen = { 0 };
    canned_run(&s, NULL, upgrade_case, &seen);
    canned_server_free(&s);
}
END_TEST

static void redirect_case(struct canned_env *e)
{
    struct seen *s = e->arg;
    struct http_response r;
    ck_assert_int_eq(get_logged(e, "/from", &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(r.redirects, 1);
    /* Both hops' interim heads, in order; the 302 itself is not one. */
    ck_assert_str_eq(s->log, "103 Early Hints{Link=</a>,} 100 Continue{} body:ok");
    http_response_fini(&r);
}

START_TEST(interim_heads_of_every_hop_of_a_followed_redirect)
{
    struct canned_server s = { .scripts = { {
        C_READ, C_SEND("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                       "HTTP/1.1 302 Found\r\nLocation: /to\r\nContent-Length: 0\r\n\r\n"),
        C_READ, C_SEND("HTTP/1.1 100 Continue\r\n\r\n"
                       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), C_AWAIT_EOF } } };
    struct seen seen = { 0 };
    canned_run(&s, NULL, redirect_case, &seen);
    ck_assert_int_eq(s.connections, 1);
    canned_server_free(&s);
}
END_TEST

/* ---- the connection: peer, TLS version, ALPN ---- */

struct conn_expect {
    char peer[64];              /* "127.0.0.1:PORT" */
    bool tls;
    const char *alpn;           /* what tls_alpn must be with TLS */
    const char *host;           /* "127.0.0.1" or "localhost" in the URL */
};

static void conn_info_case(struct canned_env *e)
{
    struct conn_expect *x = e->arg;
    snprintf(x->peer, sizeof x->peer, "127.0.0.1:%d", e->srv->port);
    char u[128];
    snprintf(u, sizeof u, "%s://%s:%d/", x->tls ? "https" : "http", x->host, e->srv->port);
    for (int i = 0; i < 2; i++) {
        struct http_response r;
        int rc = http_await_get(e->client, u, &r, DL);
        ck_assert_msg(rc == 0, "%s: %s", co_strerror(rc), r.detail.text);
        ck_assert(r.reused == (i == 1));                /* a new one, then the same reused */
        ck_assert_str_eq(r.peer, x->peer);
        if (x->tls) {
            ck_assert_msg(!strcmp(r.tls_version, "TLSv1.3") || !strcmp(r.tls_version, "TLSv1.2"),
                          "tls_version \"%s\"", r.tls_version);
            ck_assert_str_eq(r.tls_alpn, x->alpn);
        } else {
            ck_assert_str_eq(r.tls_version, "");
            ck_assert_str_eq(r.tls_alpn, "");
        }
        http_response_fini(&r);
    }
}

#define OK_FOREVER { C_READ, C_SEND("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), C_REPEAT }

START_TEST(plain_connection_has_a_peer_and_no_tls_new_or_reused)
{
    struct canned_server s = { .scripts = { OK_FOREVER } };
    struct conn_expect x = { .host = "127.0.0.1" };
    canned_run(&s, NULL, conn_info_case, &x);
    ck_assert_int_eq(s.connections, 1);
    canned_server_free(&s);
}
END_TEST

START_TEST(peer_is_the_address_actually_used_for_a_name)
{
    /* localhost may resolve to ::1 first; the server listens on 127.0.0.1
     * only, so the client falls through to it, and peer must say so. */
    struct canned_server s = { .scripts = { OK_FOREVER } };
    struct conn_expect x = { .host = "localhost" };
    canned_run(&s, NULL, conn_info_case, &x);
    canned_server_free(&s);
}
END_TEST

/* TLS over the canned server: the test PKI's "good" identity, ALPN
 * answered or not. */
static void tls_conn_run(bool server_alpn, const char *alpn)
{
    struct test_pki pki;
    ck_assert_int_eq(test_pki_make(&pki), 0);
    struct tls_server_opts so = { .cert_pem = pki.good.cert_pem, .key_pem = pki.good.key_pem,
                                  .no_alpn = !server_alpn };
    tls_ctx *server;
    ck_assert_int_eq(tls_ctx_new_server(&so, &server, NULL), 0);
    struct canned_server s = { .tls = server, .scripts = { OK_FOREVER } };
    struct tls_client_opts co = { .ca_pem = pki.ca_pem };
    struct http_client_opts o = { .tls_opts = &co };
    struct conn_expect x = { .tls = true, .alpn = alpn, .host = "127.0.0.1" };
    canned_run(&s, &o, conn_info_case, &x);
    ck_assert_int_eq(s.connections, 1);
    canned_server_free(&s);
    tls_ctx_free(server);
    test_pki_free(&pki);
}

START_TEST(tls_connection_has_version_alpn_and_peer_new_or_reused)
{
    tls_conn_run(true, "http/1.1");
}
END_TEST

START_TEST(tls_alpn_is_empty_when_the_server_ignores_it)
{
    tls_conn_run(false, "");
}
END_TEST

static void failure_case(struct canned_env *e)
{
    struct http_response r;
    /* Failed after the connection was made: peer says where. */
    ck_assert_int_eq(http_await_get(e->client, canned_path(e->srv, "/"), &r, DL),
                     -HTTP_E_CL_AND_TE);
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%d", e->srv->port);
    ck_assert_str_eq(r.peer, want);
    http_response_fini(&r);
    /* No connection at all: nothing to say. */
    int lfd;
    ck_assert_int_eq(sock_listen("127.0.0.1", 0, NULL, &lfd), 0);
    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/", sock_local_port(lfd));
    sock_close(lfd);
    ck_assert_int_eq(http_await_get(e->client, u, &r, DL), -ECONNREFUSED);
    ck_assert_str_eq(r.peer, "");
    ck_assert_str_eq(r.tls_version, "");
    http_response_fini(&r);
}

START_TEST(a_failure_keeps_the_peer_only_if_a_connection_was_made)
{
    struct canned_server s = { .scripts = { {
        C_READ, C_SEND("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n"),
        C_AWAIT_EOF } } };
    canned_run(&s, NULL, failure_case, NULL);
    canned_server_free(&s);
}
END_TEST

static Suite *client_info_suite(void)
{
    Suite *s = suite_create("client_info");
    TCase *tc = tcase_create("interim");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, each_interim_head_reaches_the_callback_in_order_before_the_final_one);
    tcase_add_test(tc, a_null_callback_still_skips_interim_heads);
    tcase_add_test(tc, a_negative_return_fails_the_request_with_that_code_and_closes);
    tcase_add_test(tc, a_positive_return_fails_the_request_with_ecanceled);
    tcase_add_test(tc, stopping_at_100_continue_sends_no_body);
    tcase_add_test(tc, a_101_is_refused_and_never_handed_to_the_callback);
    tcase_add_test(tc, interim_heads_of_every_hop_of_a_followed_redirect);
    suite_add_tcase(s, tc);

    tc = tcase_create("connection");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, plain_connection_has_a_peer_and_no_tls_new_or_reused);
    tcase_add_test(tc, peer_is_the_address_actually_used_for_a_name);
    tcase_add_test(tc, tls_connection_has_version_alpn_and_peer_new_or_reused);
    tcase_add_test(tc, tls_alpn_is_empty_when_the_server_ignores_it);
    tcase_add_test(tc, a_failure_keeps_the_peer_only_if_a_connection_was_made);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(client_info_suite)
