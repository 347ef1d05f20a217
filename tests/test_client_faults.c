/* test_client_faults.c - what goes wrong, and what the client says about it
 * (RELIABILITY.md 5.2): refused connections, DNS failures, every timeout
 * (connect, read, write, total, the caller's deadline), peers that close or
 * reset mid-response, malformed responses, size caps, CRLF injection
 * attempts refused before anything is sent, and cancellation at every
 * waiting point.  Each case ends with the pool empty and the loop clean. */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/client.h"
#include "net/dns.h"
#include "tests/canned_server.h"
#include "tests/support.h"

#define DL co_deadline_in_ms(5000)

/* GET / must fail with `want`; the detail must contain `words`. */
struct expect_fail {
    int want;
    const char *words;
    const char *url;        /* instead of the server's / */
    int64_t min_ms, max_ms; /* how long it may take (0: no check) */
};

static void fail_case(struct canned_env *e)
{
    struct expect_fail *x = e->arg;
    struct http_response r;
    int64_t t0 = test_now_ms();
    int rc = http_await_get(e->client, x->url ? x->url : canned_path(e->srv, "/"), &r, DL);
    int64_t took = test_now_ms() - t0;
    ck_assert_msg(rc == x->want, "got %d (%s: %s), want %d (%s)", rc, co_strerror(rc),
                  r.detail.text, x->want, co_strerror(x->want));
    if (x->words)
        ck_assert_msg(strstr(r.detail.text, x->words), "detail \"%s\" lacks \"%s\"", r.detail.text,
                      x->words);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_null(r.body);
    if (x->max_ms)
        ck_assert_msg(took >= x->min_ms && took < x->max_ms, "took %lld ms", (long long)took);
    http_response_fini(&r);
    struct http_client_stats st = canned_stats(e);
    ck_assert_uint_eq(st.conns_open, 0);    /* a connection in an unknown state is closed */
    ck_assert_uint_eq(st.failures, 1);
}

static void serve_and_fail(struct canned_step *script, const struct http_client_opts *o,
                           struct expect_fail x)
{
    struct canned_server s = { 0 };
    memcpy(s.scripts[0], script, sizeof s.scripts[0]);
    canned_run(&s, o, fail_case, &x);
    canned_server_free(&s);
}

#define SERVE_AND_FAIL(opts, want, words, ...)                                  \
    do {                                                                        \
        struct canned_step sc_[CANNED_STEPS] = { __VA_ARGS__ };                 \
        serve_and_fail(sc_, (opts), (struct expect_fail){ (want), (words) });   \
    } while (0)

/* ---- connecting ---- */

START_TEST(connection_refused)
{
    int lfd;
    ck_assert_int_eq(sock_listen("127.0.0.1", 0, NULL, &lfd), 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", sock_local_port(lfd));
    sock_close(lfd);
    struct expect_fail x = { -ECONNREFUSED, "connect to 127.0.0.1", url };
    canned_run(NULL, NULL, fail_case, &x);
}
END_TEST

/* A stub resolver (runs on pool threads): "nx.test" does not exist,
 * "slow.test" takes 300 ms, anything else is 127.0.0.1. */
static int stub_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                            struct addrinfo **res)
{
    if (strcmp(node, "nx.test") == 0)
        return EAI_NONAME;
    if (strcmp(node, "slow.test") == 0)
        usleep(300 * 1000);
    return getaddrinfo("127.0.0.1", service, hints, res);
}

static const struct dns_resolver stub = { stub_getaddrinfo, freeaddrinfo };

static void dns_case(struct canned_env *e)
{
    fail_case(e);
    await_sleep_ms(350);    /* an abandoned lookup finishes before the fd count */
}

START_TEST(dns_name_not_found)
{
    dns_set_resolver(&stub);
    struct expect_fail x = { -NET_EDNS_NOTFOUND, "nx.test", "http://nx.test:1/" };
    canned_run(NULL, NULL, dns_case, &x);
    dns_set_resolver(NULL);
}
END_TEST

START_TEST(dns_that_hangs_is_a_connect_timeout)
{
    dns_set_resolver(&stub);
    struct http_client_opts o = { .connect_timeout_ms = 50 };
    struct expect_fail x = { -HTTP_E_CONNECT_TIMEOUT, "resolving", "http://slow.test:1/", 40, 250 };
    canned_run(NULL, &o, dns_case, &x);
    dns_set_resolver(NULL);
}
END_TEST

START_TEST(connect_that_never_completes_is_a_connect_timeout)
{
    struct canned_server s = { .no_accept = true };
    struct http_client_opts o = { .connect_timeout_ms = 60 };
    struct expect_fail x = { -HTTP_E_CONNECT_TIMEOUT, "connecting", NULL, 50, 1000 };
    canned_run(&s, &o, fail_case, &x);
}
END_TEST

/* ---- timeouts while talking ---- */

START_TEST(server_that_never_answers_is_a_read_timeout)
{
    struct http_client_opts o = { .read_timeout_ms = 50 };
    struct canned_step sc[CANNED_STEPS] = { C_READ, C_SLEEP(3000) };
    serve_and_fail(sc, &o, (struct expect_fail){ -HTTP_E_READ_TIMEOUT, "read timeout", NULL, 40, 500 });
}
END_TEST

START_TEST(slowloris_headers_hit_the_total_timeout)
{
    struct http_client_opts o = { .read_timeout_ms = 100, .total_timeout_ms = 150 };
    struct canned_step sc[CANNED_STEPS] = {
        C_READ, C_DRIP("HTTP/1.1 200 OK\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 10) };
    serve_and_fail(sc, &o, (struct expect_fail){ -HTTP_E_TOTAL_TIMEOUT, "150 ms", NULL, 140, 600 });
}
END_TEST

static void caller_deadline_case(struct canned_env *e)
{
    struct http_response r;
    int rc = http_await_get(e->client, canned_path(e->srv, "/"), &r, co_deadline_in_ms(40));
    ck_assert_int_eq(rc, -HTTP_E_TOTAL_TIMEOUT);
    ck_assert_ptr_nonnull(strstr(r.detail.text, "caller's deadline"));
    http_response_fini(&r);
}

START_TEST(the_callers_deadline_is_a_total_timeout)
{
    struct canned_server s = { .scripts = { { C_READ, C_SLEEP(3000) } } };
    canned_run(&s, NULL, caller_deadline_case, NULL);
    canned_server_free(&s);
}
END_TEST

static void write_timeout_case(struct canned_env *e)
{
    size_t len = 32u << 20;
    char *big = calloc(1, len);
    struct http_response r;
    int rc = http_await_post(e->client, canned_path(e->srv, "/"), NULL, big, len, &r, DL);
    ck_assert_msg(rc == -HTTP_E_WRITE_TIMEOUT, "%s: %s", co_strerror(rc), r.detail.text);
    http_response_fini(&r);
    free(big);
}

START_TEST(server_that_stops_reading_is_a_write_timeout)
{
    struct canned_server s = { .scripts = { { C_READ_HEAD, C_SLEEP(3000) } } };
    struct http_client_opts o = { .read_timeout_ms = 80, .sock = { .sndbuf = 4096 } };
    canned_run(&s, &o, write_timeout_case, NULL);
    canned_server_free(&s);
}
END_TEST

/* ---- the peer breaks off ---- */

START_TEST(peer_closes_mid_body)
{
    SERVE_AND_FAIL(NULL, -HTTP_E_INCOMPLETE, "response body",
                   C_READ, C_SEND("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly this"), C_CLOSE);
}
END_TEST

START_TEST(peer_closes_mid_head)
{
    SERVE_AND_FAIL(NULL, -HTTP_E_INCOMPLETE, NULL,
                   C_READ, C_SEND("HTTP/1.1 200 OK\r\nContent-Le"), C_CLOSE);
}
END_TEST

START_TEST(truncated_chunked_body)
{
    SERVE_AND_FAIL(NULL, -HTTP_E_INCOMPLETE, NULL,
                   C_READ, C_SEND("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"),
                   C_CLOSE);
}
END_TEST

START_TEST(reset_mid_response)
{
    SERVE_AND_FAIL(NULL, -ECONNRESET, NULL,
                   C_READ, C_SEND("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npart"), C_SLEEP(20),
                   C_RESET);
}
END_TEST

/* ---- malformed responses: each its own error ---- */

START_TEST(malformed_responses_name_the_rule)
{
    static const struct { const char *resp; int want; } cases[] = {
        { "HTTP/1.1 2000 OK\r\n\r\n", -HTTP_E_BAD_STATUS_LINE },
        { "HTTP/1.1 099 Low\r\n\r\n", -HTTP_E_BAD_STATUS_CODE },
        { "HTTP/2.0 200 OK\r\n\r\n", -HTTP_E_BAD_VERSION },
        { "\x16\x03\x03\x02\x01\x01\x01\xfc\x03\x03", -HTTP_E_BAD_STATUS_LINE },   /* TLS */
        { "<html>", -HTTP_E_BAD_STATUS_LINE },
        { "HTTP/1.1 200 OK\nContent-Length: 0\n\n", -HTTP_E_BARE_LF },
        { "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", -HTTP_E_CONTENT_LENGTH_CONFLICT },
        { "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", -HTTP_E_CL_AND_TE },
        { "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n", -HTTP_E_BAD_CONTENT_LENGTH },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", -HTTP_E_BAD_CHUNK_SIZE },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n", -HTTP_E_BAD_CHUNK_END },
        { "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", -HTTP_E_OBS_FOLD },
        { "HTTP/1.1 200 OK\r\nBad Name: a\r\n\r\n", -HTTP_E_WS_BEFORE_COLON },
        { "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n", -HTTP_E_TOO_MANY_INTERIM },
    };
    struct http_client_opts o = { .interim_max = 2 };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct canned_step sc[CANNED_STEPS] = {
            C_READ, { CANNED_SEND, cases[i].resp, strlen(cases[i].resp), 0 }, C_AWAIT_EOF };
        serve_and_fail(sc, &o, (struct expect_fail){ cases[i].want, "from http://127.0.0.1" });
    }
}
END_TEST

START_TEST(header_larger_than_the_head_limit)
{
    static char resp[6000];
    strcpy(resp, "HTTP/1.1 200 OK\r\nX-Big: ");
    memset(resp + strlen(resp), 'a', 4000);
    strcat(resp, "\r\n\r\n");
    struct http_client_opts o = { .head_max = 2048 };
    struct canned_step sc[CANNED_STEPS] = { C_READ, { CANNED_SEND, resp, strlen(resp), 0 }, C_AWAIT_EOF };
    serve_and_fail(sc, &o, (struct expect_fail){ -HTTP_E_HEADER_TOO_LARGE, NULL });
}
END_TEST

/* ---- size caps ---- */

START_TEST(body_caps_hold_for_every_framing)
{
    struct http_client_opts o = { .body_max = 10 };
    SERVE_AND_FAIL(&o, -HTTP_E_BODY_TOO_LARGE, NULL,
                   C_READ, C_SEND("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world"), C_AWAIT_EOF);
    SERVE_AND_FAIL(&o, -HTTP_E_BODY_TOO_LARGE, NULL,
                   C_READ, C_SEND("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  "6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n"), C_AWAIT_EOF);
    SERVE_AND_FAIL(&o, -HTTP_E_BODY_TOO_LARGE, NULL,
                   C_READ, C_SEND("HTTP/1.1 200 OK\r\n\r\nhello world"), C_CLOSE);
}
END_TEST

/* ---- refused before sending (CRLF injection, H6.1-H6.5) ---- */

static void injection_case(struct canned_env *e)
{
    const char *url = canned_path(e->srv, "/");
    struct http_header bad[] = {
        { "X-A", 3, "a\r\nX-Injected: 1", 17 },
        { "X-A", 3, "a\nb", 3 },
        { "X-A", 3, "a\0b", 3 },
        { "X A", 3, "v", 1 },
        { "X-A\r\nX-B", 8, "v", 1 },
        { "Host", 4, "evil.example", 12 },
        { "Content-Length", 14, "5", 1 },
        { "Transfer-Encoding", 17, "chunked", 7 },
    };
    struct http_response r;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct http_request q = { .url = url, .headers = &bad[i], .header_count = 1 };
        ck_assert_int_eq(http_await_request(e->client, &q, &r, DL), -HTTP_E_REQUEST_INVALID);
        ck_assert_ptr_nonnull(strstr(r.detail.text, "request refused"));
        http_response_fini(&r);
    }
    const char *methods[] = { "GET /x HTTP/1.1\r\nX: y", "G T", "", "GET\r" };
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        struct http_request q = { .url = url, .method = methods[i] };
        ck_assert_int_eq(http_await_request(e->client, &q, &r, DL), -HTTP_E_REQUEST_INVALID);
        http_response_fini(&r);
    }
    char evil[160];
    snprintf(evil, sizeof evil, "%s\r\nX-Injected: 1", url);
    ck_assert_int_eq(http_await_get(e->client, evil, &r, DL), -HTTP_E_URL_CHAR);
    http_response_fini(&r);
    ck_assert_int_eq(http_await_get(e->client, "http://127.0.0.1:1 HTTP/1.1\r\nX: y/", &r, DL) < 0, 1);
    http_response_fini(&r);
    ck_assert_uint_eq(canned_stats(e).conns_new, 0);
}

START_TEST(crlf_injection_is_refused_before_anything_is_sent)
{
    struct canned_server s = { .scripts = { { C_READ, C_AWAIT_EOF } } };
    canned_run(&s, NULL, injection_case, NULL);
    ck_assert_int_eq(s.connections, 0);
    canned_server_free(&s);
}
END_TEST

/* ---- cancellation anywhere (F17) ---- */

struct cancel_at {
    const char *url;
    int rc;
};

static int victim(void *arg)
{
    struct canned_env *e = arg;
    struct cancel_at *c = e->arg;
    struct http_response r;
    c->rc = http_await_get(e->client, c->url ? c->url : canned_path(e->srv, "/"), &r, DL);
    http_response_fini(&r);
    return 0;
}

static int holder(void *arg)
{
    struct canned_env *e = arg;
    struct http_response r;
    http_await_get(e->client, canned_path(e->srv, "/hold"), &r, DL);
    http_response_fini(&r);
    return 0;
}

static void cancel_case(struct canned_env *e)
{
    struct cancel_at *c = e->arg;
    co_task *h = NULL, *t;
    if (c->url && strcmp(c->url, "pool") == 0) {    /* the victim waits for the only slot */
        c->url = NULL;
        ck_assert_int_eq(task_spawn(&h, holder, e), 0);
        await_sleep_ms(5);
    }
    ck_assert_int_eq(task_spawn(&t, victim, e), 0);
    await_sleep_ms(30);
    task_cancel(t);
    ck_assert_int_eq(await_task(t, NULL, DL), 0);
    ck_assert_int_eq(c->rc, -ECANCELED);
    if (h)
        ck_assert_int_eq(await_task(h, NULL, DL), 0);
    struct http_client_stats st = canned_stats(e);
    ck_assert_uint_eq(st.waiting, 0);
    ck_assert_uint_eq(st.in_flight, 0);
    ck_assert_uint_eq(st.conns_open, h ? 1 : 0);
    await_sleep_ms(350);    /* a DNS job left behind finishes before the fd count */
}

static void run_cancel(struct canned_server *s, const struct http_client_opts *o, const char *url)
{
    struct cancel_at c = { url, 0 };
    canned_run(s, o, cancel_case, &c);
    if (s)
        canned_server_free(s);
}

START_TEST(cancel_during_dns_connect_pool_wait_head_and_body)
{
    dns_set_resolver(&stub);
    run_cancel(NULL, NULL, "http://slow.test:1/");
    dns_set_resolver(NULL);
    struct canned_server s1 = { .no_accept = true };
    run_cancel(&s1, NULL, NULL);
    struct canned_server s2 = { .scripts = { { C_READ, C_SLEEP(60), C_SEND("HTTP/1.1 200 OK\r\n"
                                               "Content-Length: 0\r\n\r\n"), C_REPEAT } } };
    struct http_client_opts one = { .max_conns_per_host = 1 };
    run_cancel(&s2, &one, "pool");
    struct canned_server s3 = { .scripts = { { C_READ, C_SEND("HTTP/1.1 200 OK\r\n"), C_SLEEP(3000) } } };
    run_cancel(&s3, NULL, NULL);
    struct canned_server s4 = { .scripts = { { C_READ, C_SEND("HTTP/1.1 200 OK\r\nContent-Length: 9"
                                               "\r\n\r\npart"), C_SLEEP(3000) } } };
    run_cancel(&s4, NULL, NULL);
}
END_TEST

Suite *client_faults_suite(void);
Suite *client_faults_suite(void)
{
    Suite *s = suite_create("client_faults");
    TCase *tc = tcase_create("faults");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, connection_refused);
    tcase_add_test(tc, dns_name_not_found);
    tcase_add_test(tc, dns_that_hangs_is_a_connect_timeout);
    tcase_add_test(tc, connect_that_never_completes_is_a_connect_timeout);
    tcase_add_test(tc, server_that_never_answers_is_a_read_timeout);
    tcase_add_test(tc, slowloris_headers_hit_the_total_timeout);
    tcase_add_test(tc, the_callers_deadline_is_a_total_timeout);
    tcase_add_test(tc, server_that_stops_reading_is_a_write_timeout);
    tcase_add_test(tc, peer_closes_mid_body);
    tcase_add_test(tc, peer_closes_mid_head);
    tcase_add_test(tc, truncated_chunked_body);
    tcase_add_test(tc, reset_mid_response);
    tcase_add_test(tc, malformed_responses_name_the_rule);
    tcase_add_test(tc, header_larger_than_the_head_limit);
    tcase_add_test(tc, body_caps_hold_for_every_framing);
    tcase_add_test(tc, crlf_injection_is_refused_before_anything_is_sent);
    tcase_add_test(tc, cancel_during_dns_connect_pool_wait_head_and_body);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(client_faults_suite)
