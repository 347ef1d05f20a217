/* test_stream.c - the stream interface and its buffered reader, over a
 * socketpair, loopback TCP and TLS: lines split at every position, limits,
 * end of stream in the middle of things, peek, deadlines, large transfers
 * both ways over TLS, and stream_await_connect (name -> TLS stream). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/stream.h"
#include "tests/support.h"
#include "tests/tls_certs.h"

/* ---- the buffered reader over a socketpair ---- */

static const char message[] = "GET / HTTP/1.1\r\nHost: example\r\n\r\nBODY";

struct split {
    int sv[2];
    size_t at;          /* the writer sends message[0..at), pauses, then the rest */
    bool close_after;   /* then closes its end */
    char lines[3][32];
    char body[8];
    ssize_t eof_rc;
};

static int split_writer(void *arg)
{
    struct split *s = arg;
    size_t len = sizeof message - 1;
    if (s->at > 0)
        ck_assert_int_eq(send(s->sv[1], message, s->at, MSG_NOSIGNAL), (ssize_t)s->at);
    await_sleep_ms(1);
    if (len > s->at)
        ck_assert_int_eq(send(s->sv[1], message + s->at, len - s->at, MSG_NOSIGNAL),
                         (ssize_t)(len - s->at));
    if (s->close_after)
        shutdown(s->sv[1], SHUT_WR);
    return 0;
}

static int split_reader(void *arg)
{
    struct split *s = arg;
    stream *st;
    struct stream_opts o = { .read_buffer = 64 };
    ck_assert_int_eq(stream_new(s->sv[0], NULL, NULL, &o, &st), 0);
    for (int i = 0; i < 3; i++) {
        const char *line;
        ssize_t n = stream_await_read_until(st, "\r\n", 2, 64, &line, co_deadline_in_ms(2000));
        ck_assert_int_gt(n, 0);
        memcpy(s->lines[i], line, (size_t)n);
    }
    ck_assert_int_eq(stream_await_read_exact(st, s->body, 4, co_deadline_in_ms(2000)), 0);
    char more[8];
    s->eof_rc = stream_await_read(st, more, sizeof more, co_deadline_in_ms(2000));
    stream_close(st);   /* closes sv[0] */
    return 0;
}

START_TEST(lines_split_at_every_position)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    for (size_t at = 0; at < sizeof message; at++) {
        struct split s = { .at = at, .close_after = true };
        test_socketpair(s.sv);
        test_spawn_detached(split_writer, &s, NULL);
        test_spawn_detached(split_reader, &s, NULL);
        ck_assert_int_eq(loop_run(loop), 0);
        ck_assert_str_eq(s.lines[0], "GET / HTTP/1.1\r\n");
        ck_assert_str_eq(s.lines[1], "Host: example\r\n");
        ck_assert_str_eq(s.lines[2], "\r\n");
        ck_assert_str_eq(s.body, "BODY");
        ck_assert_int_eq(s.eof_rc, 0);
        sock_close(s.sv[1]);
    }
    loop_free_clean(loop, fds);
}
END_TEST

/* A scripted peer: writes `chunks` (NULL-terminated) with a pause between. */
struct script {
    int sv[2];
    const char *chunks[6];
    bool close_after;
    stream *st;
    ssize_t rc[6];
    const char *line;
    const char *peeked;
    char got[64];
};

static int script_writer(void *arg)
{
    struct script *s = arg;
    for (int i = 0; s->chunks[i]; i++) {
        size_t len = strlen(s->chunks[i]);
        ck_assert_int_eq(send(s->sv[1], s->chunks[i], len, MSG_NOSIGNAL), (ssize_t)len);
        await_sleep_ms(5);
    }
    if (s->close_after)
        shutdown(s->sv[1], SHUT_WR);
    return 0;
}

static void run_script(struct script *s, co_task_fn reader, size_t buffer)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    test_socketpair(s->sv);
    struct stream_opts o = { .read_buffer = buffer };
    ck_assert_int_eq(stream_new(s->sv[0], NULL, NULL, &o, &s->st), 0);
    test_spawn_detached(script_writer, s, NULL);
    test_spawn_detached(reader, s, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    stream_close(s->st);
    sock_close(s->sv[1]);
    loop_free_clean(loop, fds);
}

static int limits_reader(void *arg)
{
    struct script *s = arg;
    int64_t dl = co_deadline_in_ms(2000);
    s->rc[0] = stream_await_read_until(s->st, "\n", 1, 65, &s->line, dl);   /* > buffer */
    s->rc[1] = stream_await_read_until(s->st, "\n", 1, 16, &s->line, dl);
    s->rc[2] = (ssize_t)stream_buffered(s->st, NULL);                       /* nothing consumed */
    return 0;
}

START_TEST(a_line_longer_than_the_limit_is_refused_without_growth)
{
    struct script s = { .chunks = { "0123456789", "0123456789", "0123456789\n", NULL } };
    run_script(&s, limits_reader, 64);
    ck_assert_int_eq(s.rc[0], -EINVAL);
    ck_assert_int_eq(s.rc[1], -NET_ELIMIT);
    ck_assert_int_ge(s.rc[2], 16);
    ck_assert_int_le(s.rc[2], 64);
}
END_TEST

static int eof_reader(void *arg)
{
    struct script *s = arg;
    int64_t dl = co_deadline_in_ms(2000);
    s->rc[0] = stream_await_read_until(s->st, "\r\n", 2, 64, &s->line, dl);
    s->rc[1] = stream_await_read_until(s->st, "\r\n", 2, 64, &s->line, dl);   /* "tail" then EOF */
    s->rc[2] = stream_await_read_until(s->st, "\r\n", 2, 64, &s->line, dl);   /* clean EOF */
    s->rc[3] = stream_await_read_exact(s->st, s->got, 4, dl);
    return 0;
}

START_TEST(end_of_stream_inside_a_line_or_an_exact_read)
{
    struct script s = { .chunks = { "head\r", "\ntail", NULL }, .close_after = true };
    run_script(&s, eof_reader, 64);
    ck_assert_int_eq(s.rc[0], 6);
    ck_assert_int_eq(s.rc[1], -NET_EEOF);
    ck_assert_int_eq(s.rc[2], -NET_EEOF);   /* "tail" is still there, unterminated */
    ck_assert_int_eq(s.rc[3], 0);           /* and read_exact takes it */
    ck_assert_int_eq(memcmp(s.got, "tail", 4), 0);
}
END_TEST

static int short_exact_reader(void *arg)
{
    struct script *s = arg;
    s->rc[0] = stream_await_read_exact(s->st, s->got, 10, co_deadline_in_ms(2000));
    s->rc[1] = stream_await_read_until(s->st, "\n", 1, 64, &s->line, co_deadline_in_ms(2000));
    return 0;
}

START_TEST(read_exact_short_is_eof_and_a_clean_end_is_zero)
{
    struct script s = { .chunks = { "abc", NULL }, .close_after = true };
    run_script(&s, short_exact_reader, 64);
    ck_assert_int_eq(s.rc[0], -NET_EEOF);
    ck_assert_int_eq(s.rc[1], 0);
}
END_TEST

static int peek_reader(void *arg)
{
    struct script *s = arg;
    int64_t dl = co_deadline_in_ms(2000);
    s->rc[0] = stream_await_peek(s->st, 5, &s->peeked, dl);   /* waits for the second chunk */
    memcpy(s->got, s->peeked, 5);
    s->rc[1] = stream_await_read(s->st, s->got + 8, 3, dl);   /* the same bytes, consumed now */
    s->rc[2] = stream_await_peek(s->st, 100, &s->peeked, dl); /* larger than the buffer */
    s->rc[3] = stream_await_read(s->st, s->got + 16, 16, dl);
    return 0;
}

START_TEST(peek_waits_for_n_bytes_and_consumes_nothing)
{
    struct script s = { .chunks = { "he", "llo!", NULL } };
    run_script(&s, peek_reader, 64);
    ck_assert_int_eq(s.rc[0], 6);
    ck_assert_int_eq(memcmp(s.got, "hello", 5), 0);
    ck_assert_int_eq(s.rc[1], 3);
    ck_assert_int_eq(memcmp(s.got + 8, "hel", 3), 0);
    ck_assert_int_eq(s.rc[2], -EINVAL);
    ck_assert_int_eq(s.rc[3], 3);
    ck_assert_int_eq(memcmp(s.got + 16, "lo!", 3), 0);
}
END_TEST

static int deadline_reader(void *arg)
{
    struct script *s = arg;
    s->rc[0] = stream_await_read(s->st, s->got, sizeof s->got, co_deadline_in_ms(1));
    s->rc[1] = stream_await_read_exact(s->st, s->got, 6, co_deadline_in_ms(2000));
    return 0;
}

START_TEST(a_read_deadline_leaves_the_stream_usable)
{
    struct script s = { .chunks = { "", "late!!", NULL } };
    run_script(&s, deadline_reader, 64);
    ck_assert_int_eq(s.rc[0], -ETIMEDOUT);
    ck_assert_int_eq(s.rc[1], 0);
    ck_assert_int_eq(memcmp(s.got, "late!!", 6), 0);
}
END_TEST

static int fill_reader(void *arg)
{
    struct script *s = arg;
    int64_t dl = co_deadline_in_ms(2000);
    const char *data;
    while (stream_buffered(s->st, NULL) < 16)
        ck_assert_int_gt(stream_await_fill(s->st, dl), 0);
    s->rc[0] = stream_await_fill(s->st, dl);   /* full */
    s->rc[1] = (ssize_t)stream_buffered(s->st, &data);
    memcpy(s->got, data, 16);
    stream_consume(s->st, 10);
    s->rc[2] = stream_await_fill(s->st, dl);   /* room again: slides down, reads the rest */
    s->rc[3] = (ssize_t)stream_buffered(s->st, &data);
    memcpy(s->got + 16, data, (size_t)s->rc[3]);
    return 0;
}

START_TEST(fill_buffered_consume_is_the_parsers_view)
{
    struct script s = { .chunks = { "0123456789abcdefXYZ", NULL } };
    run_script(&s, fill_reader, 16);
    ck_assert_int_eq(s.rc[0], -ENOBUFS);
    ck_assert_int_eq(s.rc[1], 16);
    ck_assert_int_eq(memcmp(s.got, "0123456789abcdef", 16), 0);
    ck_assert_int_eq(s.rc[2], 3);
    ck_assert_int_eq(s.rc[3], 9);
    ck_assert_int_eq(memcmp(s.got + 16, "abcdefXYZ", 9), 0);
}
END_TEST

/* ---- over TCP and TLS, with stream_await_connect ---- */

#define TLS_BULK (4 * 1024 * 1024)

struct tls_bulk {
    struct test_pki pki;
    const struct test_cert *cert;   /* what the server presents */
    tls_ctx *sctx, *cctx;   /* cctx NULL: plain TCP */
    const char *host;
    int lfd, port;
    stream *client;
    unsigned char *out, *in;
    size_t received;
    int connect_rc, write_rc, shutdown_rc, read_rc, server_rc;
    struct net_detail why;
};

/* Echo until the client's end of data, then close (TLS: close_notify). */
static int bulk_echo_server(void *arg)
{
    struct tls_bulk *b = arg;
    int fd;
    ck_assert_int_eq(sock_await_accept(b->lfd, NULL, &fd, co_deadline_in_ms(5000)), 0);
    stream *s;
    ck_assert_int_eq(stream_new(fd, b->cctx ? b->sctx : NULL, NULL, NULL, &s), 0);
    b->server_rc = stream_await_handshake(s, co_deadline_in_ms(5000));
    char *buf = malloc(32768);
    ssize_t n = 0;
    while (b->server_rc == 0 && (n = stream_await_read(s, buf, 32768, co_deadline_in_ms(10000))) > 0)
        b->server_rc = stream_await_write(s, buf, (size_t)n, co_deadline_in_ms(10000));
    if (n < 0)
        b->server_rc = (int)n;
    free(buf);
    stream_await_close(s, co_deadline_in_ms(2000));   /* close_notify even with full buffers */
    return 0;
}

static int bulk_writer(void *arg)
{
    struct tls_bulk *b = arg;
    for (size_t off = 0; off < TLS_BULK && b->write_rc == 0; off += 70001) {
        size_t n = TLS_BULK - off < 70001 ? TLS_BULK - off : 70001;
        b->write_rc = stream_await_write(b->client, b->out + off, n, co_deadline_in_ms(10000));
    }
    b->shutdown_rc = stream_await_shutdown(b->client, co_deadline_in_ms(2000));   /* half-close */
    return 0;
}

static int bulk_reader(void *arg)
{
    struct tls_bulk *b = arg;
    for (;;) {
        ssize_t n = stream_await_read(b->client, b->in + b->received, TLS_BULK + 1 - b->received,
                                      co_deadline_in_ms(10000));
        if (n <= 0) {
            b->read_rc = (int)n;
            return 0;
        }
        b->received += (size_t)n;
    }
}

static int bulk_client(void *arg)
{
    struct tls_bulk *b = arg;
    struct stream_opts o = { .sock = { .sndbuf = 8192, .rcvbuf = 8192 } };
    b->connect_rc = stream_await_connect(b->host, b->port, b->cctx, &o, &b->client, &b->why,
                                         co_deadline_in_ms(5000));
    if (b->connect_rc < 0)
        return 0;
    co_task *w, *r;
    task_spawn(&w, bulk_writer, b);
    task_spawn(&r, bulk_reader, b);   /* one writer and one reader on one TLS stream */
    await_task(w, NULL, CO_NO_DEADLINE);
    await_task(r, NULL, CO_NO_DEADLINE);
    stream_close(b->client);
    return 0;
}

static void run_bulk(struct tls_bulk *b, bool tls, bool expect_ok,
                     const struct test_cert *(*pick)(struct test_pki *))
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    ck_assert_int_eq(test_pki_make(&b->pki), 0);
    b->cert = pick ? pick(&b->pki) : &b->pki.good;
    if (!b->host)
        b->host = "localhost";
    if (tls) {
        struct tls_server_opts so = { .cert_pem = b->cert->cert_pem, .key_pem = b->cert->key_pem };
        struct tls_client_opts co = { .ca_pem = b->pki.ca_pem };
        ck_assert_int_eq(tls_ctx_new_server(&so, &b->sctx, NULL), 0);
        ck_assert_int_eq(tls_ctx_new_client(&co, &b->cctx, NULL), 0);
    }
    struct sock_listen_opts lo = { .sndbuf = 8192, .rcvbuf = 8192 };
    ck_assert_int_eq(sock_listen("127.0.0.1", 0, &lo, &b->lfd), 0);
    b->port = sock_local_port(b->lfd);
    if (expect_ok) {
        b->out = malloc(TLS_BULK);
        b->in = malloc(TLS_BULK + 1);
        for (size_t i = 0; i < TLS_BULK; i++)
            b->out[i] = (unsigned char)(i * 13 + (i >> 11));
    }
    test_spawn_detached(bulk_echo_server, b, NULL);
    test_spawn_detached(bulk_client, b, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    sock_close(b->lfd);
    tls_ctx_free(b->sctx);
    tls_ctx_free(b->cctx);
    test_pki_free(&b->pki);
    loop_free_clean(loop, fds);
}

static void check_bulk(struct tls_bulk *b)
{
    ck_assert_msg(b->connect_rc == 0, "%s: %s", net_strerror(b->connect_rc), b->why.text);
    ck_assert_int_eq(b->write_rc, 0);
    ck_assert_int_eq(b->shutdown_rc, 0);
    ck_assert_int_eq(b->read_rc, 0);
    ck_assert_int_eq(b->server_rc, 0);
    ck_assert_uint_eq(b->received, TLS_BULK);
    ck_assert_int_eq(memcmp(b->in, b->out, TLS_BULK), 0);
    free(b->out);
    free(b->in);
}

START_TEST(large_transfer_both_ways_over_tls)
{
    struct tls_bulk b = { 0 };
    run_bulk(&b, true, true, NULL);
    check_bulk(&b);
}
END_TEST

START_TEST(large_transfer_both_ways_over_plain_tcp_by_name)
{
    struct tls_bulk b = { 0 };
    run_bulk(&b, false, true, NULL);
    check_bulk(&b);
}
END_TEST

static const struct test_cert *pick_expired(struct test_pki *p) { return &p->expired; }

START_TEST(connect_reports_the_verification_reason)
{
    struct tls_bulk b = { .host = "127.0.0.1" };
    run_bulk(&b, true, false, pick_expired);
    ck_assert_int_eq(b.connect_rc, -NET_ETLS_VERIFY);
    ck_assert_msg(strstr(b.why.text, "certificate has expired") && strstr(b.why.text, "127.0.0.1"),
                  "detail: %s", b.why.text);
    ck_assert_ptr_null(b.client);
}
END_TEST

static Suite *stream_suite(void)
{
    Suite *s = suite_create("stream");
    TCase *tc = tcase_create("stream");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, lines_split_at_every_position);
    tcase_add_test(tc, a_line_longer_than_the_limit_is_refused_without_growth);
    tcase_add_test(tc, end_of_stream_inside_a_line_or_an_exact_read);
    tcase_add_test(tc, read_exact_short_is_eof_and_a_clean_end_is_zero);
    tcase_add_test(tc, peek_waits_for_n_bytes_and_consumes_nothing);
    tcase_add_test(tc, a_read_deadline_leaves_the_stream_usable);
    tcase_add_test(tc, fill_buffered_consume_is_the_parsers_view);
    tcase_add_test(tc, large_transfer_both_ways_over_tls);
    tcase_add_test(tc, large_transfer_both_ways_over_plain_tcp_by_name);
    tcase_add_test(tc, connect_reports_the_verification_reason);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(stream_suite)
