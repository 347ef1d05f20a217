/* server_client.c - see server_client.h.  The read loop is the parser's
 * documented one: fill the stream's buffer, http_parse_head over all of it,
 * then http_parse_body over what follows, http_parse_eof at the end. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include "tests/server_client.h"
#include "tests/support.h"

int64_t tc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tc_spawn_detached_at(co_task_fn fn, void *arg, const char *name, const char *file, int line)
{
    co_task *t;
    ck_assert_int_eq(task_spawn_at(&t, fn, arg, NULL, name, file, line), 0);
    task_detach(t);
}

int tc_await_connect(int port, tls_ctx *tls, stream **out, int64_t deadline)
{
    return stream_await_connect("127.0.0.1", port, tls, NULL, out, NULL, deadline);
}

int tc_await_send(stream *s, const char *raw, int64_t deadline)
{
    return stream_await_write(s, raw, strlen(raw), deadline);
}

static int append(struct tc_resp *r, const char *p, size_t n)
{
    char *b = realloc(r->body, r->body_len + n + 1);
    if (!b)
        return -ENOMEM;
    r->body = b;
    if (n)
        memcpy(b + r->body_len, p, n);
    r->body_len += n;
    b[r->body_len] = '\0';
    return 0;
}

/* Copy the head (n bytes at data) and move the field pointers into the copy. */
static int keep_head(struct tc_resp *r, const struct http_parser *p, const char *data, size_t n)
{
    free(r->head);
    r->head = malloc(n);
    if (!r->head)
        return -ENOMEM;
    memcpy(r->head, data, n);
    r->status = p->head.status;
    r->version_minor = p->head.version_minor;
    r->keep_alive = p->head.keep_alive;
    r->framing = p->head.framing;
    r->field_count = p->head.field_count;
    for (size_t i = 0; i < r->field_count; i++) {
        r->fields[i] = p->head.fields[i];
        r->fields[i].name = r->head + (p->head.fields[i].name - data);
        r->fields[i].value = r->head + (p->head.fields[i].value - data);
    }
    return 0;
}

static int await_head(stream *s, struct http_parser *p, struct tc_resp *r, int64_t deadline)
{
    for (;;) {
        const char *data;
        size_t have = stream_buffered(s, &data);
        int n = have ? http_parse_head(p, data, have) : 0;
        if (n < 0)
            return n;
        if (n > 0) {
            int rc = keep_head(r, p, data, (size_t)n);
            stream_consume(s, (size_t)n);
            if (rc < 0)
                return rc;
            if (http_response_interim(p) == 1)
                continue;
            return 0;
        }
        ssize_t got = stream_await_fill(s, deadline);
        if (got == 0)
            return http_parse_eof(p);
        if (got < 0)
            return (int)got;
    }
}

int tc_await_response(stream *s, const char *method, struct tc_resp *r, int64_t deadline)
{
    struct http_header fields[TC_FIELDS];
    struct http_parser p;
    memset(r, 0, sizeof *r);
    append(r, NULL, 0);
    http_parser_init(&p, HTTP_ROLE_RESPONSE, NULL, fields, TC_FIELDS);
    http_parser_expect(&p, method, strlen(method));
    int rc = await_head(s, &p, r, deadline);
    if (rc < 0)
        return rc;
    while (!http_parser_done(&p)) {
        const char *data;
        size_t have = stream_buffered(s, &data);
        if (have > 0) {
            struct http_span span;
            int n = http_parse_body(&p, data, have, &span);
            if (n < 0)
                return n;
            if (span.len)
                append(r, span.data, span.len);
            stream_consume(s, (size_t)n);
            if (n > 0)
                continue;
        }
        ssize_t got = stream_await_fill(s, deadline);
        if (got == 0) {
            rc = http_parse_eof(&p);
            if (rc < 0)
                return rc;
            break;
        }
        if (got < 0)
            return (int)got;
    }
    return 0;
}

void tc_resp_free(struct tc_resp *r)
{
    free(r->head);
    free(r->body);
    r->head = r->body = NULL;
}

const char *tc_header(const struct tc_resp *r, const char *name, char *buf, size_t len)
{
    size_t cursor = 0;
    const struct http_header *h = http_header_find(r->fields, r->field_count, name, &cursor);
    if (!h)
        return NULL;
    snprintf(buf, len, "%.*s", (int)h->value_len, h->value);
    return buf;
}

int tc_await_request(int port, tls_ctx *tls, const char *method, const char *target,
                     const char *extra, struct tc_resp *r, int64_t deadline)
{
    stream *s;
    memset(r, 0, sizeof *r);
    int rc = tc_await_connect(port, tls, &s, deadline);
    if (rc < 0)
        return rc;
    char req[4096];
    snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%sConnection: close\r\n\r\n",
             method, target, port, extra ? extra : "");
    rc = tc_await_send(s, req, deadline);
    if (rc == 0)
        rc = tc_await_response(s, method, r, deadline);
    stream_close(s);
    return rc;
}

bool tc_await_closed(stream *s, int64_t deadline)
{
    char buf[512];
    stream_consume(s, stream_buffered(s, NULL));
    for (;;) {
        ssize_t n = stream_await_read(s, buf, sizeof buf, deadline);
        if (n == 0 || n == -ECONNRESET || n == -EPIPE || n == -NET_ETLS_TRUNCATED)
            return true;
        if (n < 0)
            return false;
    }
}

/* ---- the server suites' fixture ---- */

static bool path_eq(const struct server_request *req, const char *path)
{
    return req->path_len == strlen(path) && memcmp(req->path, path, req->path_len) == 0;
}

int tc_test_handler(const struct server_request *req, server_response *resp, void *arg)
{
    (void)arg;
    char v[32];
    snprintf(v, sizeof v, "%llu", (unsigned long long)req->conn_id);
    resp_add_header(resp, "X-Conn", v);
    snprintf(v, sizeof v, "%u", req->conn_request);
    resp_add_header(resp, "X-Request-Number", v);
    resp_add_header(resp, "X-TLS", req->tls ? "1" : "0");
    if (strncmp(req->path, "/sleep/", 7) == 0) {
        int rc = await_sleep_ms(atoi(req->path + 7));
        if (rc < 0)
            return rc;
        return resp_await_send(resp, "slept", 5, CO_NO_DEADLINE);
    }
    if (strncmp(req->path, "/chunks", 7) == 0) {
        for (int i = 0; i < 3; i++) {
            char c[16];
            int n = snprintf(c, sizeof c, "chunk%d", i);
            int rc = resp_await_write(resp, c, (size_t)n, CO_NO_DEADLINE);
            if (rc < 0)
                return rc;
        }
        return resp_await_end(resp, CO_NO_DEADLINE);
    }
    if (strncmp(req->path, "/big", 4) == 0) {
        static char block[65536];
        int rc = resp_await_start(resp, 128 * (int64_t)sizeof block, CO_NO_DEADLINE);
        for (int i = 0; i < 128 && rc == 0; i++)
            rc = resp_await_write(resp, block, sizeof block, CO_NO_DEADLINE);
        return rc;
    }
    if (path_eq(req, "/nocontent")) {
        resp_set_status(resp, 204);
        return resp_await_send(resp, "ignored", 7, CO_NO_DEADLINE);
    }
    if (path_eq(req, "/noanswer"))
        return 0;
    if (path_eq(req, "/fail"))
        return -EIO;
    if (path_eq(req, "/inject")) {
        int rc = resp_add_header(resp, "X-Bad", "a\r\nSet-Cookie: x=1");
        snprintf(v, sizeof v, "%d", rc);
        return resp_await_send(resp, v, strlen(v), CO_NO_DEADLINE);
    }
    /* default: echo the body, method in a field */
    char m[16];
    snprintf(m, sizeof m, "%.*s", (int)(req->method_len < 15 ? req->method_len : 15), req->method);
    resp_add_header(resp, "X-Method", m);
    return resp_await_send(resp, req->body, req->body_len, CO_NO_DEADLINE);
}


http_server *tc_server;
int tc_port;
static int run_rc;

static int server_task(void *arg)
{
    (void)arg;
    run_rc = server_await_run(tc_server, CO_NO_DEADLINE);
    return 0;
}

void tc_with_server(struct server_opts *o, co_task_fn client, void *arg)
{
    int fds = open_fd_count();
    co_loop *loop;
    ck_assert_int_eq(loop_new(&loop), 0);
    if (!o->handler)
        o->handler = tc_test_handler;
    ck_assert_int_eq(server_new(o, &tc_server), 0);
    tc_port = server_port(tc_server);
    ck_assert_int_gt(tc_port, 0);
    tc_spawn_detached(server_task, NULL);
    tc_spawn_detached(client, arg);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_int_eq(run_rc, 0);
    server_free(tc_server);
    loop_free_clean(loop, fds);
}

int64_t tc_dl(void) { return co_deadline_in_ms(3000); }

void tc_stop_server(void) { ck_assert_int_eq(server_await_stop(tc_server, 1000, tc_dl()), 0); }

const char *tc_hdr(const struct tc_resp *r, const char *name)
{
    static char buf[4][512];
    static int i;
    i = (i + 1) % 4;
    const char *v = tc_header(r, name, buf[i], sizeof buf[i]);
    return v ? v : "(none)";
}

