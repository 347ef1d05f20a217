/* test_client_body.c - bodies both ways (a callback with a known length, a
 * callback sent chunked, a source that lies about its length, a file up and
 * a file down, a response callback that stops the transfer) and TLS (reuse
 * over TLS with the handshake timed, a refused certificate with its reason,
 * close-delimited bodies with and without close_notify). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/client.h"
#include "tests/canned_server.h"
#include "tests/support.h"
#include "tests/tls_certs.h"

#define DL co_deadline_in_ms(5000)
#define BIG (300 * 1024 + 7)

static char pattern(uint64_t i) { return (char)('a' + (i * 7 + i / 1000) % 26); }

/* A body source of `size` pattern bytes; `lie` gives fewer than announced. */
struct source {
    uint64_t size;
    int calls;
};

static ssize_t pattern_read(void *arg, uint64_t offset, char *buf, size_t len)
{
    struct source *s = arg;
    s->calls++;
    if (s->calls % 3 == 0)
        await_yield();      /* a source may suspend */
    size_t n = offset >= s->size ? 0 : s->size - offset < len ? (size_t)(s->size - offset) : len;
    for (size_t i = 0; i < n; i++)
        buf[i] = pattern(offset + i);
    return (ssize_t)n;
}

static void check_pattern(const char *body, size_t len, uint64_t size)
{
    ck_assert_uint_eq(len, size);
    for (uint64_t i = 0; i < size; i++)
        if (body[i] != pattern(i))
            ck_abort_msg("byte %llu differs", (unsigned long long)i);
}

struct upload {
    int64_t announced;      /* body_length */
    uint64_t real;          /* what the source gives */
    int want_rc;
};

static void upload_case(struct canned_env *e)
{
    struct upload *u = e->arg;
    struct source src = { u->real, 0 };
    struct http_request q = { .method = "POST", .url = canned_path(e->srv, "/up"),
                              .body_read = pattern_read, .body_arg = &src,
                              .body_length = u->announced };
    struct http_response r;
    int rc = http_await_request(e->client, &q, &r, DL);
    ck_assert_msg(rc == u->want_rc, "%s: %s", co_strerror(rc), r.detail.text);
    if (rc == 0) {
        check_pattern(r.body, r.body_len, u->real);
        check_pattern(e->srv->reqs[0].body, e->srv->reqs[0].body_len, u->real);
        ck_assert_int_eq(strstr(e->srv->reqs[0].head, "Transfer-Encoding: chunked") != NULL,
                         u->announced < 0);
    } else {
        ck_assert_ptr_nonnull(strstr(r.detail.text, "body source"));
    }
    http_response_fini(&r);
}

static void run_upload(struct upload u)
{
    struct canned_server s = { .scripts = { { C_READ, C_ECHO, C_AWAIT_EOF } } };
    canned_run(&s, NULL, upload_case, &u);
    canned_server_free(&s);
}

START_TEST(request_body_from_a_callback_with_a_length)
{
    run_upload((struct upload){ BIG, BIG, 0 });
}
END_TEST

START_TEST(request_body_of_unknown_length_goes_chunked)
{
    run_upload((struct upload){ -1, BIG, 0 });
    run_upload((struct upload){ -1, 0, 0 });
}
END_TEST

START_TEST(a_body_source_giving_the_wrong_length_fails)
{
    run_upload((struct upload){ 1000, 500, -HTTP_E_BODY_SOURCE });
    run_upload((struct upload){ 1000, 5000, -HTTP_E_BODY_SOURCE });
}
END_TEST

/* ---- files ---- */

static int temp_file(char *path)
{
    strcpy(path, "/tmp/coloop-client-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    return fd;
}

static void file_case(struct canned_env *e)
{
    char p1[64], p2[64];
    int in = temp_file(p1), out = temp_file(p2);
    char *data = malloc(BIG);
    for (uint64_t i = 0; i < BIG; i++)
        data[i] = pattern(i);
    ck_assert_int_eq(write(in, data, BIG), BIG);
    struct http_request q = { .method = "PUT", .url = canned_path(e->srv, "/file"),
                              .body_read = http_body_read_fd, .body_arg = (void *)(intptr_t)in,
                              .body_length = BIG, .on_body = http_body_write_fd,
                              .on_body_arg = (void *)(intptr_t)out };
    struct http_response r;
    ck_assert_int_eq(http_await_request(e->client, &q, &r, DL), 0);
    ck_assert_ptr_null(r.body);                 /* it went to the file */
    ck_assert_uint_eq(r.body_received, BIG);
    http_response_fini(&r);
    ck_assert_int_eq(pread(out, data, BIG, 0), BIG);
    check_pattern(data, BIG, BIG);
    free(data);
    close(in);
    close(out);
}

START_TEST(file_up_and_file_down)
{
    struct canned_server s = { .scripts = { { C_READ, C_ECHO, C_AWAIT_EOF } } };
    canned_run(&s, NULL, file_case, NULL);
    canned_server_free(&s);
}
END_TEST

/* ---- a response callback ---- */

struct sink {
    size_t got;
    int pieces;
    size_t stop_after;      /* 0: never stop */
};

static int count_sink(void *arg, const char *data, size_t len)
{
    struct sink *s = arg;
    (void)data;
    s->got += len;
    s->pieces++;
    return s->stop_after && s->got >= s->stop_after ? -ECANCELED : 0;
}

static void sink_case(struct canned_env *e)
{
    struct sink all = { 0 }, stop = { .stop_after = 3 };
    struct http_request q = { .url = canned_path(e->srv, "/"), .on_body = count_sink,
                              .on_body_arg = &all, .body_max = 10 };
    struct http_response r;
    ck_assert_int_eq(http_await_request(e->client, &q, &r, DL), -HTTP_E_BODY_TOO_LARGE);
    http_response_fini(&r);
    q.body_max = 0;     /* a callback's body is not capped unless asked */
    ck_assert_int_eq(http_await_request(e->client, &q, &r, DL), 0);
    ck_assert_uint_eq(all.got, 26);
    ck_assert_int_ge(all.pieces, 2);
    http_response_fini(&r);
    q.on_body_arg = &stop;
    ck_assert_int_eq(http_await_request(e->client, &q, &r, DL), -ECANCELED);
    ck_assert_ptr_nonnull(strstr(r.detail.text, "on_body"));
    http_response_fini(&r);
    ck_assert_uint_eq(canned_stats(e).conns_open, 0);
}

START_TEST(response_callback_gets_every_piece_and_can_stop)
{
    struct canned_server s = { .scripts = { {
        C_READ, C_SEND("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "d\r\nabcdefghijklm\r\n"), C_SLEEP(10), C_SEND("d\r\nnopqrstuvwxyz\r\n0\r\n\r\n"),
        C_REPEAT } } };
    canned_run(&s, NULL, sink_case, NULL);
    canned_server_free(&s);
}
END_TEST

/* ---- TLS ---- */

struct tls_env {
    struct test_pki pki;
    tls_ctx *server;
};

static void tls_setup(struct tls_env *t, const struct test_cert *(*pick)(struct test_pki *))
{
    ck_assert_int_eq(test_pki_make(&t->pki), 0);
    const struct test_cert *c = pick ? pick(&t->pki) : &t->pki.good;
    struct tls_server_opts so = { .cert_pem = c->cert_pem, .key_pem = c->key_pem };
    ck_assert_int_eq(tls_ctx_new_server(&so, &t->server, NULL), 0);
}

static void tls_teardown(struct tls_env *t)
{
    tls_ctx_free(t->server);
    test_pki_free(&t->pki);
}

static void tls_reuse_case(struct canned_env *e)
{
    struct http_response r;
    for (int i = 0; i < 3; i++) {
        int rc = http_await_get(e->client, canned_path(e->srv, "/"), &r, DL);
        ck_assert_msg(rc == 0, "%s: %s", co_strerror(rc), r.detail.text);
        ck_assert_str_eq(r.body, "ok");
        if (i == 0)
            ck_assert_int_gt(r.timings.tls_ns, 0);
        else
            ck_assert(r.reused);
        http_response_fini(&r);
    }
    ck_assert_uint_eq(canned_stats(e).conns_new, 1);
}

START_TEST(https_keep_alive_with_verification)
{
    struct tls_env t;
    tls_setup(&t, NULL);
    struct canned_server s = { .tls = t.server, .scripts = { {
        C_READ, C_SEND("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), C_REPEAT } } };
    struct tls_client_opts co = { .ca_pem = t.pki.ca_pem };
    struct http_client_opts o = { .tls_opts = &co };
    canned_run(&s, &o, tls_reuse_case, NULL);
    ck_assert_int_eq(s.connections, 1);
    canned_server_free(&s);
    tls_teardown(&t);
}
END_TEST

static const struct test_cert *pick_expired(struct test_pki *p) { return &p->expired; }

static void tls_refused_case(struct canned_env *e)
{
    struct http_response r;
    ck_assert_int_eq(http_await_get(e->client, canned_path(e->srv, "/"), &r, DL), -NET_ETLS_VERIFY);
    ck_assert_msg(strstr(r.detail.text, "expired"), "%s", r.detail.text);
    ck_assert_ptr_nonnull(strstr(r.detail.text, "TLS handshake with 127.0.0.1"));
    http_response_fini(&r);
}

START_TEST(https_refuses_an_expired_certificate_and_says_so)
{
    struct tls_env t;
    tls_setup(&t, pick_expired);
    struct canned_server s = { .tls = t.server, .scripts = { { C_READ, C_AWAIT_EOF } } };
    struct tls_client_opts co = { .ca_pem = t.pki.ca_pem };
    struct http_client_opts o = { .tls_opts = &co };
    canned_run(&s, &o, tls_refused_case, NULL);
    ck_assert_int_eq(s.requests, 0);
    canned_server_free(&s);
    tls_teardown(&t);
}
END_TEST

/* Secure by default: a client made with no TLS options at all trusts only
 * the system store, so the test CA's (good) certificate is refused, with the
 * reason, and no request is sent. */
static void tls_default_refuses_case(struct canned_env *e)
{
    struct http_response r;
    ck_assert_int_eq(http_await_get(e->client, canned_path(e->srv, "/"), &r, DL), -NET_ETLS_VERIFY);
    ck_assert_msg(strstr(r.detail.text, "issuer"), "%s", r.detail.text);
    http_response_fini(&r);
}

START_TEST(https_verifies_by_default)
{
    struct tls_env t;
    tls_setup(&t, NULL);
    struct canned_server s = { .tls = t.server, .scripts = { { C_READ, C_AWAIT_EOF } } };
    canned_run(&s, NULL, tls_default_refuses_case, NULL);
    ck_assert_int_eq(s.requests, 0);
    canned_server_free(&s);
    tls_teardown(&t);
}
END_TEST

struct tls_close {
    int want;
};

static void tls_close_case(struct canned_env *e)
{
    struct tls_close *c = e->arg;
    struct http_response r;
    int rc = http_await_get(e->client, canned_path(e->srv, "/"), &r, DL);
    ck_assert_msg(rc == c->want, "%s: %s", co_strerror(rc), r.detail.text);
    if (rc == 0)
        ck_assert_str_eq(r.body, "all of it");
    http_response_fini(&r);
}

START_TEST(tls_close_delimited_body_needs_close_notify)
{
    struct tls_env t;
    tls_setup(&t, NULL);
    struct tls_client_opts co = { .ca_pem = t.pki.ca_pem };
    struct http_client_opts o = { .tls_opts = &co };
    struct canned_server ok = { .tls = t.server, .scripts = { {
        C_READ, C_SEND("HTTP/1.1 200 OK\r\n\r\nall of it"), C_CLOSE } } };
    struct tls_close want_ok = { 0 };
    canned_run(&ok, &o, tls_close_case, &want_ok);
    canned_server_free(&ok);
    struct canned_server cut = { .tls = t.server, .scripts = { {
        C_READ, C_SEND("HTTP/1.1 200 OK\r\n\r\nall of"), C_CUT } } };
    struct tls_close want_cut = { -NET_ETLS_TRUNCATED };
    canned_run(&cut, &o, tls_close_case, &want_cut);
    canned_server_free(&cut);
    tls_teardown(&t);
}
END_TEST

Suite *client_body_suite(void);
Suite *client_body_suite(void)
{
    Suite *s = suite_create("client_body");
    TCase *tc = tcase_create("body");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, request_body_from_a_callback_with_a_length);
    tcase_add_test(tc, request_body_of_unknown_length_goes_chunked);
    tcase_add_test(tc, a_body_source_giving_the_wrong_length_fails);
    tcase_add_test(tc, file_up_and_file_down);
    tcase_add_test(tc, response_callback_gets_every_piece_and_can_stop);
    tcase_add_test(tc, https_keep_alive_with_verification);
    tcase_add_test(tc, https_refuses_an_expired_certificate_and_says_so);
    tcase_add_test(tc, https_verifies_by_default);
    tcase_add_test(tc, tls_close_delimited_body_needs_close_notify);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(client_body_suite)
