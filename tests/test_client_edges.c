/* test_client_edges.c - client behaviours at the edges that the other
 * client suites leave out: a Content-Length the server does not honour
 * must not decide how much memory we take; a streamed request body that
 * would have to be sent again (the stale-connection retry, a 307/308
 * redirect) asks its source to start over, and a source that cannot fails
 * the request with -ESPIPE and says why instead of sending a partial or
 * empty body; a read timeout in the middle of a body is named as one and
 * takes the connection with it; a HEAD stays HEAD through every redirect,
 * 303 included (RFC 9110 15.4.4); a TLS server that selects an ALPN
 * protocol we did not offer is refused. */
#define _GNU_SOURCE
#include <errno.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/client.h"
#include "net/tls_internal.h"   /* only to make a server that answers ALPN wrongly */
#include "tests/canned_server.h"
#include "tests/support.h"
#include "tests/tls_certs.h"

#define DL co_deadline_in_ms(5000)
#define OK2 "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

static bool has(const char *text, const char *words)
{
    return text && strstr(text, words) != NULL;
}

static char pattern(uint64_t i) { return (char)('a' + (i * 7 + i / 1000) % 26); }

static bool is_pattern(const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (data[i] != pattern(i))
            return false;
    return true;
}

/* ---- a Content-Length is a claim, not a reservation ---- */

/* A request running in its own task, so the test can look at its response
 * while the call is suspended halfway through the body. */
struct watched {
    struct canned_env *e;
    struct http_response r;     /* zeroed before the spawn, so it can be polled at once */
    int rc;
    bool done;
};

static int watched_get(void *arg)
{
    struct watched *w = arg;
    w->rc = http_await_get(w->e->client, canned_path(w->e->srv, "/huge"), &w->r, DL);
    w->done = true;
    return 0;
}

static void huge_claim_case(struct canned_env *e)
{
    struct watched w = { .e = e };
    co_task *t;
    ck_assert_int_eq(task_spawn(&t, watched_get, &w), 0);
    /* Poll until the three bytes sent are delivered.  The call then waits
     * for more under its 150 ms read timeout, and this task's 1 ms sleeps
     * always come due first (timers fire in deadline order, woken tasks run
     * in order), so it sees the half-filled response however slow the
     * machine.  Bounded: 5000 polls. */
    for (int i = 0; i < 5000 && w.r.body_received < 3 && !w.done; i++)
        await_sleep_ms(1);
    ck_assert_msg(!w.done, "the call ended early: %s: %s", co_strerror(w.rc), w.r.detail.text);
    ck_assert_uint_eq(w.r.body_received, 3);
    ck_assert_uint_eq(w.r.body_len, 3);
    size_t cap = w.r.body_cap;
    ck_assert_int_eq(await_task(t, NULL, DL), 0);
    ck_assert_msg(w.rc == -HTTP_E_READ_TIMEOUT, "%s: %s", co_strerror(w.rc), w.r.detail.text);
    ck_assert(has(w.r.detail.text, "while reading the response body"));
    /* 500 MB announced, 3 bytes sent: what we hold follows the bytes (a
     * small reservation), not the claim. */
    ck_assert_msg(cap <= (2u << 20), "%zu bytes reserved for 3 received", cap);
    ck_assert_ptr_null(w.r.body);           /* a failed call frees what it held */
    ck_assert_uint_eq(w.r.body_cap, 0);
    http_response_fini(&w.r);
    ck_assert_uint_eq(canned_stats(e).conns_open, 0);
}

START_TEST(a_huge_content_length_reserves_little_until_bytes_come)
{
    struct canned_server s = { .scripts = { {
        C_READ, C_SEND("HTTP/1.1 200 OK\r\nContent-Length: 500000000\r\n\r\nabc"),
        C_SLEEP(3000) } } };
    struct http_client_opts o = { .body_max = (uint64_t)1 << 30, .read_timeout_ms = 150 };
    canned_run(&s, &o, huge_claim_case, NULL);
    canned_server_free(&s);
}
END_TEST

#define HONEST_LEN ((size_t)3 * 1024 * 1024 + 5)   /* past the reservation: grown as it comes */

static void honest_case(struct canned_env *e)
{
    struct http_response r;
    int rc = http_await_get(e->client, canned_path(e->srv, "/big"), &r, DL);
    ck_assert_msg(rc == 0, "%s: %s", co_strerror(rc), r.detail.text);
    ck_assert_uint_eq(r.body_len, HONEST_LEN);
    ck_assert(is_pattern(r.body, r.body_len));
    ck_assert_int_eq(r.body[r.body_len], '\0');
    /* Doubling stops at the announced size: an honest body ends in a buffer
     * of exactly its length (and its NUL). */
    ck_assert_uint_eq(r.body_cap, HONEST_LEN + 1);
    http_response_fini(&r);
}

START_TEST(an_honest_body_past_the_reservation_arrives_whole_in_an_exact_buffer)
{
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 3145733\r\n\r\n";
    ck_assert_uint_eq(HONEST_LEN, 3145733);
    size_t hlen = sizeof head - 1;
    char *resp = malloc(hlen + HONEST_LEN);
    ck_assert_ptr_nonnull(resp);
    memcpy(resp, head, hlen);
    for (size_t i = 0; i < HONEST_LEN; i++)
        resp[hlen + i] = pattern(i);
    struct canned_server s = { .scripts = { {
        C_READ, { CANNED_SEND, resp, hlen + HONEST_LEN, 0 }, C_AWAIT_EOF } } };
    canned_run(&s, NULL, honest_case, NULL);
    canned_server_free(&s);
    free(resp);
}
END_TEST

/* ---- a streamed body that must be sent again ---- */

/* A body source of `size` pattern bytes.  A pipe-like one (rewind false)
 * cannot go back: asked for any offset but the next, it answers -ESPIPE as
 * client.h tells sources to. */
struct source {
    uint64_t size;
    bool rewind;
    uint64_t next;          /* the offset a pipe can give next */
    int starts;             /* calls at offset 0 */
    int refused;            /* calls answered -ESPIPE */
};

static ssize_t source_read(void *arg, uint64_t offset, char *buf, size_t len)
{
    struct source *s = arg;
    s->starts += offset == 0;
    if (!s->rewind && offset != s->next) {
        s->refused++;
        return -ESPIPE;
    }
    size_t n = offset >= s->size ? 0 : s->size - offset < len ? (size_t)(s->size - offset) : len;
    for (size_t i = 0; i < n; i++)
        buf[i] = pattern(offset + i);
    s->next = offset + n;
    return (ssize_t)n;
}

#define SRC_LEN 40000           /* more than one 16 KiB piece of the source */

/* Each kind of source, announced and chunked. */
struct resend {
    bool rewind;
    int64_t body_length;        /* SRC_LEN or -1 */
    const char *why;            /* the detail's words for the resend */
};

/* No request the server read from the `from`-th on (only those on
 * connection `conn`, unless it is -1) carries a body: nothing partial or
 * empty went out as if it were the body. */
static void assert_no_body_after(const struct canned_server *s, int from, int conn)
{
    int n = s->requests < CANNED_REQUESTS ? s->requests : CANNED_REQUESTS;
    for (int i = from; i < n; i++)
        if (conn < 0 || s->reqs[i].conn == conn)
            ck_assert_msg(s->reqs[i].body_len == 0, "request %d got %zu body bytes", i,
                          s->reqs[i].body_len);
}

static void check_resend(struct canned_env *e, struct resend *x, struct source *src,
                         const struct http_response *r, int rc)
{
    ck_assert_int_ge(src->starts, 2);      /* asked to start over, whatever it could do */
    if (x->rewind) {
        ck_assert_msg(rc == 0, "%s: %s", co_strerror(rc), r->detail.text);
        ck_assert_int_eq(r->status, 200);
        ck_assert_uint_eq(r->body_len, SRC_LEN);   /* the server echoes what it read */
        ck_assert(is_pattern(r->body, r->body_len));
        ck_assert_int_eq(src->refused, 0);
        return;
    }
    ck_assert_msg(rc == -ESPIPE, "%s: %s", co_strerror(rc), r->detail.text);
    ck_assert_int_eq(src->refused, 1);
    ck_assert_msg(has(r->detail.text, x->why) && has(r->detail.text, "cannot start over"),
                  "detail: %s", r->detail.text);
    ck_assert_int_eq(r->status, 0);
    ck_assert_ptr_null(r->body);
    ck_assert_uint_eq(canned_stats(e).conns_open, 0);  /* the half-sent request's connection is gone */
}

static void stale_resend_case(struct canned_env *e)
{
    struct resend *x = e->arg;
    struct http_response r;
    ck_assert_int_eq(http_await_get(e->client, canned_path(e->srv, "/warm"), &r, DL), 0);
    http_response_fini(&r);
    struct source src = { .size = SRC_LEN, .rewind = x->rewind };
    struct http_request q = { .method = "PUT", .url = canned_path(e->srv, "/up"),
                              .body_read = source_read, .body_arg = &src,
                              .body_length = x->body_length };
    int rc = http_await_request(e->client, &q, &r, DL);
    ck_assert(r.retried);
    ck_assert_uint_eq(canned_stats(e).retries, 1);
    check_resend(e, x, &src, &r, rc);
    http_response_fini(&r);
    if (!x->rewind)
        assert_no_body_after(e->srv, 0, 1);
}

/* Connection 0 answers a GET, then reads the PUT's head and closes without
 * a byte: a pooled connection that turns out dead after the request went
 * out (the idempotent PUT is retried).  Connection 1 echoes the body. */
static void run_stale_resend(struct resend x)
{
    struct canned_server s = { .scripts = {
        { C_READ, C_SEND(OK2), C_READ_HEAD, C_CLOSE },
        { C_READ, C_ECHO, C_AWAIT_EOF } } };
    canned_run(&s, NULL, stale_resend_case, &x);
    if (x.rewind)   /* else the retry's connection may be cut before the server accepts it */
        ck_assert_int_eq(s.connections, 2);
    canned_server_free(&s);
}

START_TEST(a_streamed_body_on_the_stale_connection_retry_is_asked_from_byte_0)
{
    const char *why = "on a new connection after a stale pooled one";
    run_stale_resend((struct resend){ true, SRC_LEN, why });
    run_stale_resend((struct resend){ true, -1, why });
    run_stale_resend((struct resend){ false, SRC_LEN, why });
    run_stale_resend((struct resend){ false, -1, why });
}
END_TEST

struct redirect_resend {
    struct resend x;
    int status;                 /* 307 or 308 */
};

static void redirect_resend_case(struct canned_env *e)
{
    struct redirect_resend *rr = e->arg;
    static char resp[160];
    snprintf(resp, sizeof resp, "HTTP/1.1 %d Again\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n",
             rr->status);
    e->srv->scripts[0][1] = (struct canned_step){ CANNED_SEND, resp, strlen(resp), 0 };
    struct source src = { .size = SRC_LEN, .rewind = rr->x.rewind };
    struct http_request q = { .method = "POST", .url = canned_path(e->srv, "/up"),
                              .body_read = source_read, .body_arg = &src,
                              .body_length = rr->x.body_length };
    struct http_response r;
    int rc = http_await_request(e->client, &q, &r, DL);
    ck_assert_int_eq(r.redirects, 1);
    ck_assert(!r.retried);
    check_resend(e, &rr->x, &src, &r, rc);
    http_response_fini(&r);
    /* The first hop's body arrived whole; the second hop's never did. */
    ck_assert_uint_eq(e->srv->reqs[0].body_len, SRC_LEN);
    ck_assert(is_pattern(e->srv->reqs[0].body, SRC_LEN));
    if (!rr->x.rewind)
        assert_no_body_after(e->srv, 1, -1);
    else
        ck_assert(has(e->srv->reqs[1].head, "POST /again HTTP/1.1\r\n"));
}

START_TEST(a_streamed_body_through_a_307_or_308_is_asked_from_byte_0)
{
    const char *why = "to follow a redirect";
    static const int statuses[] = { 307, 308 };
    for (size_t i = 0; i < 2; i++) {
        for (int kind = 0; kind < 4; kind++) {
            struct redirect_resend rr = { { kind & 1, kind & 2 ? -1 : SRC_LEN, why },
                                          statuses[i] };
            struct canned_server s = { .scripts = { {
                C_READ, C_SEND("x"), C_READ, C_ECHO, C_AWAIT_EOF } } };
            canned_run(&s, NULL, redirect_resend_case, &rr);
            ck_assert_int_eq(s.connections, 1);     /* the redirect kept the connection */
            canned_server_free(&s);
        }
    }
}
END_TEST

/* ---- a timeout in the middle of a body ---- */

struct mid_body {
    struct http_client_opts o;
    int want;                   /* which timeout */
    const char *words, *more;   /* ... and what its detail says */
    bool to_callback;           /* the body goes to on_body */
    char got[64];               /* what on_body was given */
    size_t got_len;
};

static int collect(void *arg, const char *data, size_t len)
{
    struct mid_body *m = arg;
    size_t room = sizeof m->got - 1 - m->got_len;
    size_t n = len < room ? len : room;
    memcpy(m->got + m->got_len, data, n);
    m->got_len += n;
    m->got[m->got_len] = '\0';
    return 0;
}

static void mid_body_case(struct canned_env *e)
{
    struct mid_body *m = e->arg;
    struct http_request q = { .url = canned_path(e->srv, "/slow") };
    if (m->to_callback) {
        q.on_body = collect;
        q.on_body_arg = m;
    }
    struct http_response r;
    int64_t t0 = test_now_ms();
    int rc = http_await_request(e->client, &q, &r, DL);
    int64_t took = test_now_ms() - t0;
    ck_assert_msg(rc == m->want, "%s: %s", co_strerror(rc), r.detail.text);
    ck_assert_msg(has(r.detail.text, m->words) && has(r.detail.text, m->more), "detail: %s",
                  r.detail.text);
    ck_assert_msg(took < 2500, "took %lld ms: waited for the server", (long long)took);
    ck_assert_int_eq(r.status, 0);          /* a failed call keeps no half response */
    ck_assert_ptr_null(r.body);
    ck_assert_uint_eq(r.body_cap, 0);
    if (m->to_callback)
        ck_assert_str_eq(m->got, "part");   /* what did arrive was handed out */
    http_response_fini(&r);
    struct http_client_stats st = canned_stats(e);
    ck_assert_uint_eq(st.conns_open, 0);    /* half read: closed, not pooled */
    ck_assert_uint_eq(st.conns_idle, 0);
    ck_assert_uint_eq(st.conns_closed, 1);
    /* The next request gets a new connection (the server's second). */
    rc = http_await_get(e->client, canned_path(e->srv, "/next"), &r, DL);
    ck_assert_msg(rc == 0, "%s: %s", co_strerror(rc), r.detail.text);
    ck_assert_str_eq(r.body, "ok");
    ck_assert(!r.reused);
    http_response_fini(&r);
    ck_assert_uint_eq(canned_stats(e).conns_new, 2);
}

static void run_mid_body(struct mid_body m)
{
    struct canned_server s = { .scripts = {
        { C_READ, C_SEND("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npart"), C_SLEEP(3000) },
        { C_READ, C_SEND(OK2), C_AWAIT_EOF } } };
    canned_run(&s, &m.o, mid_body_case, &m);
    ck_assert_int_eq(s.connections, 2);
    canned_server_free(&s);
}

START_TEST(a_read_timeout_mid_body_is_named_and_takes_the_connection)
{
    struct mid_body read_to = {
        .o = { .read_timeout_ms = 80 }, .want = -HTTP_E_READ_TIMEOUT,
        .words = "read timeout: no byte from http://127.0.0.1:",
        .more = " for 80 ms (while reading the response body)" };
    run_mid_body(read_to);
    read_to.to_callback = true;
    run_mid_body(read_to);
    /* A total timeout shorter than the read timeout: it is the one named. */
    struct mid_body total = {
        .o = { .read_timeout_ms = 2000, .total_timeout_ms = 80 }, .want = -HTTP_E_TOTAL_TIMEOUT,
        .words = "total timeout: the request took more than 80 ms",
        .more = "it was reading the response body" };
    run_mid_body(total);
}
END_TEST

/* ---- HEAD through redirects ---- */

struct head_redirect {
    int status;
};

static void head_redirect_case(struct canned_env *e)
{
    struct head_redirect *h = e->arg;
    /* A response to HEAD has no body whatever its Content-Length says: if
     * the client drained 12 bytes after the 30x, or read 5 after the 200,
     * it would wait into its read timeout. */
    static char resp[160];
    snprintf(resp, sizeof resp, "HTTP/1.1 %d Moved\r\nLocation: /other\r\nContent-Length: 12\r\n\r\n",
             h->status);
    e->srv->scripts[0][1] = (struct canned_step){ CANNED_SEND, resp, strlen(resp), 0 };
    struct http_response r;
    int rc = http_await_head(e->client, canned_path(e->srv, "/first"), &r, DL);
    ck_assert_msg(has(e->srv->reqs[1].head, "HEAD /other HTTP/1.1\r\n"),
                  "%d: the follow-up was: %s", h->status, e->srv->reqs[1].head);
    ck_assert_msg(rc == 0, "%d: %s: %s", h->status, co_strerror(rc), r.detail.text);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(r.redirects, 1);
    ck_assert_uint_eq(r.body_len, 0);
    ck_assert_str_eq(http_response_header(&r, "content-length"), "5");
    http_response_fini(&r);
    ck_assert_uint_eq(canned_stats(e).conns_new, 1);   /* no body to drain: the connection stayed */
}

START_TEST(head_stays_head_through_303_and_every_redirect)
{
    /* RFC 9110 15.4.4: a 303 turns the method into GET, except HEAD. */
    static const int statuses[] = { 303, 301, 302, 307, 308 };
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        struct canned_server s = { .scripts = { {
            C_READ, C_SEND("x"), C_READ, C_SEND("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"),
            C_AWAIT_EOF } } };
        struct head_redirect h = { statuses[i] };
        struct http_client_opts o = { .read_timeout_ms = 2000 };
        canned_run(&s, &o, head_redirect_case, &h);
        ck_assert_int_eq(s.requests, 2);
        canned_server_free(&s);
    }
}
END_TEST

/* ---- ALPN: the server picks a protocol we did not offer ---- */

/* The project's server context selects http/1.1 or nothing, as it should;
 * this one plays a broken server that answers "h2" to any offer. */
static int select_h2(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                     const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl, (void)in, (void)inlen, (void)arg;
    static const unsigned char h2[] = "h2";
    *out = h2;
    *outlen = 2;
    return SSL_TLSEXT_ERR_OK;
}

static void alpn_case(struct canned_env *e)
{
    struct http_response r;
    int rc = http_await_get(e->client, canned_path(e->srv, "/"), &r, DL);
    /* OpenSSL 3 checks the selection against our offer itself and aborts
     * the handshake ("bad extension", an illegal_parameter alert) before
     * net/tls.c's own check (NET_ETLS_ALPN) gets to run; net/tls.c adds a
     * hint naming ALPN to the detail. */
    ck_assert_msg(rc == -NET_ETLS, "%s: %s", co_strerror(rc), r.detail.text);
    ck_assert_msg(has(r.detail.text, "TLS handshake with 127.0.0.1:"), "detail: %s", r.detail.text);
    ck_assert_msg(has(r.detail.text, "bad extension"), "detail: %s", r.detail.text);
    ck_assert_msg(has(r.detail.text, "the server chose an ALPN protocol we did not offer"),
                  "detail: %s", r.detail.text);
    ck_assert_int_eq(r.status, 0);
    http_response_fini(&r);
    struct http_client_stats st = canned_stats(e);
    ck_assert_uint_eq(st.conns_new, 0);     /* never became a connection of the pool */
    ck_assert_uint_eq(st.conns_open, 0);
    ck_assert_int_eq(e->srv->requests, 0);  /* and no request went out on it */
}

START_TEST(a_server_selecting_an_alpn_protocol_we_did_not_offer_is_refused)
{
    struct test_pki pki;
    ck_assert_int_eq(test_pki_make(&pki), 0);
    struct tls_server_opts so = { .cert_pem = pki.good.cert_pem, .key_pem = pki.good.key_pem,
                                  .no_alpn = true };
    tls_ctx *server;
    ck_assert_int_eq(tls_ctx_new_server(&so, &server, NULL), 0);
    SSL_CTX_set_alpn_select_cb(server->ssl_ctx, select_h2, NULL);
    struct canned_server s = { .tls = server, .scripts = { { C_READ, C_SEND(OK2), C_AWAIT_EOF } } };
    struct tls_client_opts co = { .ca_pem = pki.ca_pem };
    struct http_client_opts o = { .tls_opts = &co };
    canned_run(&s, &o, alpn_case, NULL);
    canned_server_free(&s);
    tls_ctx_free(server);
    test_pki_free(&pki);
}
END_TEST

Suite *client_edges_suite(void);
Suite *client_edges_suite(void)
{
    Suite *s = suite_create("client_edges");
    TCase *tc = tcase_create("edges");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, a_huge_content_length_reserves_little_until_bytes_come);
    tcase_add_test(tc, an_honest_body_past_the_reservation_arrives_whole_in_an_exact_buffer);
    tcase_add_test(tc, a_streamed_body_on_the_stale_connection_retry_is_asked_from_byte_0);
    tcase_add_test(tc, a_streamed_body_through_a_307_or_308_is_asked_from_byte_0);
    tcase_add_test(tc, a_read_timeout_mid_body_is_named_and_takes_the_connection);
    tcase_add_test(tc, head_stays_head_through_303_and_every_redirect);
    tcase_add_test(tc, a_server_selecting_an_alpn_protocol_we_did_not_offer_is_refused);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(client_edges_suite)
