/* server_conn.c - one connection's task: the TLS handshake, then requests in
 * a loop (head, body, handler, end of response) while the connection may
 * persist, then the close.  Every wait has a deadline from the server's
 * timeouts, so no client can hold a task forever.
 *
 * The head is parsed in place, in the stream's read buffer (zero-copy), then
 * copied to the connection's own buffer with the parser's pointers moved
 * along: reading the body may slide the read buffer, and pipelined requests
 * after it need the room.  A head is ~100-500 bytes; the copy is noise next
 * to the system calls.
 *
 * Timeouts, and which deadline is in force while waiting for bytes:
 *   new connection, nothing received yet   accept + header_timeout
 *   keep-alive, nothing received yet       end of response + idle_timeout
 *   part of a head received                its first byte + header_timeout
 *   reading a body                         end of head + body_timeout
 * A slow head gets "408 Request Timeout"; the others close silently.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/server_internal.h"
#include "runtime/error.h"

/* The status for a request the parser refused (RELIABILITY.md 3.7). */
static int status_for(int rc)
{
    switch (-rc) {
    case HTTP_E_TARGET_TOO_LONG:
        return 414;
    case HTTP_E_HEADER_TOO_LARGE:
    case HTTP_E_LINE_TOO_LONG:
    case HTTP_E_TOO_MANY_HEADERS:
        return 431;
    case HTTP_E_BODY_TOO_LARGE:
        return 413;
    case HTTP_E_TE_UNSUPPORTED:
        return 501;
    case HTTP_E_BAD_VERSION:
        return 505;
    default:
        return 400;
    }
}

static bool is_http_error(int rc) { return -rc > HTTP_ERR_BASE && -rc < HTTP_ERR_END; }

/* Wait for more bytes with `deadline`.  The count (> 0), 0 at end of stream,
 * -ENOBUFS when the buffer is full, or an I/O error. */
static ssize_t await_more(struct server_conn *c, int64_t deadline)
{
    return stream_await_fill(c->st, deadline);
}

/* Read and parse the next request head.  Returns its length (> 0); 0 when
 * the connection should close quietly (end of stream, idle timeout, stop);
 * or an error: a parser code, -ETIMEDOUT (a head begun but too slow),
 * another I/O code. */
static int await_head(struct server_conn *c)
{
    http_server *s = c->server;
    const char *data;
    size_t have = stream_buffered(c->st, &data);
    int64_t idle_deadline = co_deadline_in_ms(c->requests ? s->opts.idle_timeout_ms
                                                          : s->opts.header_timeout_ms);
    int64_t head_deadline = have > 0 ? co_deadline_in_ms(s->opts.header_timeout_ms) : 0;
    for (;;) {
        if (have > 0) {
            int n = http_parse_head(&c->parser, data, have);
            if (n != 0)
                return n;
        }
        if (have == 0 && s->stopping)
            return 0;
        c->idle = have == 0;
        ssize_t r = await_more(c, have == 0 ? idle_deadline : head_deadline);
        c->idle = false;
        if (r == -ENOBUFS)
            return -HTTP_E_HEADER_TOO_LARGE;
        if (r == 0)
            return have == 0 ? 0 : -HTTP_E_INCOMPLETE;
        if (r < 0) {
            if (have == 0 && r == -ETIMEDOUT) {
                server_count(c->requests ? &s->n.idle_closed : &s->n.timeouts, 1);
                return 0;
            }
            if (have == 0 && r == -ECANCELED)
                return 0;       /* a stop while idle */
            return (int)r;
        }
        if (have == 0)
            head_deadline = co_deadline_in_ms(s->opts.header_timeout_ms);
        have = stream_buffered(c->st, &data);
    }
}

/* Copy the parsed head (n bytes at the stream's read position) to c->head
 * and move the parser's pointers there.  0 or -ENOMEM. */
static int keep_head(struct server_conn *c, size_t n)
{
    const char *data;
    stream_buffered(c->st, &data);
    if (n > c->head_cap) {
        char *p = realloc(c->head, n);
        if (!p)
            return -ENOMEM;
        c->head = p;
        c->head_cap = n;
    }
    memcpy(c->head, data, n);
    struct http_head *h = &c->parser.head;
    ptrdiff_t shift = c->head - data;
    h->method += shift;
    h->target += shift;
    for (size_t i = 0; i < h->field_count; i++) {
        h->fields[i].name += shift;
        h->fields[i].value += shift;
    }
    stream_consume(c->st, n);
    return 0;
}

/* Append a body span to c->body (always NUL-terminated).  0 or -ENOMEM. */
static int body_append(struct server_conn *c, const char *p, size_t n)
{
    if (c->body_len + n + 1 > c->body_cap) {
        size_t cap = c->body_cap ? c->body_cap : 256;
        while (cap < c->body_len + n + 1)
            cap *= 2;
        char *b = realloc(c->body, cap);
        if (!b)
            return -ENOMEM;
        c->body = b;
        c->body_cap = cap;
    }
    if (n > 0)
        memcpy(c->body + c->body_len, p, n);
    c->body_len += n;
    c->body[c->body_len] = '\0';
    return 0;
}

/* Read the whole body into c->body.  0, a parser code (-HTTP_E_...),
 * -ETIMEDOUT, or an I/O code. */
static int await_body(struct server_conn *c, server_response *r)
{
    http_server *s = c->server;
    c->body_len = 0;
    int rc = body_append(c, NULL, 0);
    if (rc < 0 || http_parser_done(&c->parser))
        return rc;
    const struct http_head *h = &c->parser.head;
    size_t cursor = 0;
    const struct http_header *expect =
        http_header_find(h->fields, h->field_count, "expect", &cursor);
    if (expect && expect->value_len == 12 && strncasecmp(expect->value, "100-continue", 12) == 0 &&
        h->version_minor >= 1) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        rc = resp_await_raw(r, cont, sizeof cont - 1, CO_NO_DEADLINE);
        if (rc < 0)
            return rc;
    }
    int64_t deadline = co_deadline_in_ms(s->opts.body_timeout_ms);
    while (!http_parser_done(&c->parser)) {
        const char *data;
        size_t have = stream_buffered(c->st, &data);
        if (have > 0) {
            struct http_span span;
            int n = http_parse_body(&c->parser, data, have, &span);
            if (n < 0)
                return n;
            if (span.len > 0 && (rc = body_append(c, span.data, span.len)) < 0)
                return rc;
            stream_consume(c->st, (size_t)n);
            if (n > 0)
                continue;
        }
        ssize_t got = await_more(c, deadline);
        if (got == -ENOBUFS)
            return -HTTP_E_HEADER_TOO_LARGE;   /* a trailer section larger than the buffer */
        if (got == 0)
            return http_parse_eof(&c->parser);
        if (got < 0)
            return (int)got;
    }
    return 0;
}

/* Fill *req from the parsed head and body. */
static void make_request(struct server_conn *c, struct server_request *req)
{
    const struct http_head *h = &c->parser.head;
    memset(req, 0, sizeof *req);
    req->method = h->method;
    req->method_len = h->method_len;
    req->target = h->target;
    req->target_len = h->target_len;
    const char *q = memchr(h->target, '?', h->target_len);
    req->path = h->target;
    req->path_len = q ? (size_t)(q - h->target) : h->target_len;
    req->query = q ? q + 1 : h->target + h->target_len;
    req->query_len = q ? h->target_len - req->path_len - 1 : 0;
    req->version_minor = h->version_minor;
    req->headers = h->fields;
    req->header_count = h->field_count;
    req->body = c->body;
    req->body_len = c->body_len;
    req->keep_alive = h->keep_alive;
    req->tls = stream_tls(c->st) != NULL;
    req->peer = &c->peer;
    req->conn_id = c->id;
    req->conn_request = c->requests;
    req->server = c->server;
}

/* A request the server answers itself (a refused request, or 429).  The
 * connection closes after it unless `keep` (429).  Returns whether to go on. */
static bool answer_error(struct server_conn *c, int status, int why, bool keep)
{
    struct server_request req;
    memset(&req, 0, sizeof req);
    req.method = "GET";
    req.method_len = 3;
    req.version_minor = 1;
    req.keep_alive = keep;
    server_response r;
    resp_init(&r, c, &req);
    if (!keep)
        resp_close_after(&r);
    char text[160];
    snprintf(text, sizeof text, "%d %s%s%s\n", status, server_reason(status), why ? ": " : "",
             why ? co_strerror(why) : "");
    if (status == 429) {
        char after[24];
        snprintf(after, sizeof after, "%d", c->server->opts.retry_after_s);
        resp_add_header(&r, "Retry-After", after);
    }
    server_count(&c->server->n.rejected, 1);
    c->linger = !keep && status != 408;
    return resp_await_simple(&r, status, text, CO_NO_DEADLINE) == 0 && keep;
}

/* Run the handler for one request and finish its response.  Returns whether
 * the connection may carry another request. */
static bool dispatch(struct server_conn *c, const struct server_request *req, server_response *r)
{
    http_server *s = c->server;
    bool capped = s->opts.max_concurrent > 0;
    if (capped) {
        if (s->opts.busy_429 && sema_try_acquire(&s->handlers) < 0)
            return answer_error(c, 429, 0,
                                req->keep_alive && req->version_minor >= 1 && !c->closing);
        if (!s->opts.busy_429) {
            server_count(&s->n.queued, 1);
            int rc = sema_await_acquire(&s->handlers, CO_NO_DEADLINE);
            server_count(&s->n.queued, -1);
            if (rc < 0)
                return false;
        }
    }
    server_count(&s->n.requests, 1);
    server_count(&s->n.reused, req->conn_request > 1);
    server_count(&s->n.active, 1);
    int rc = s->opts.handler(req, r, s->opts.handler_arg);
    server_count(&s->n.active, -1);
    if (capped)
        sema_release(&s->handlers);
    if (rc == -ECANCELED || task_cancelled())
        c->dead = true;                         /* stopped: close without an answer */
    else if (rc < 0 && r->state != RESP_NEW)
        c->dead = true;                         /* cut the body short: the client must see it */
    else if (r->state == RESP_NEW && !c->dead && !c->reset)
        resp_await_simple(r, rc < 0 ? 500 : 204, rc < 0 ? "500 Internal Server Error\n" : "",
                          CO_NO_DEADLINE);
    else if (r->state == RESP_STREAMING && !c->dead && !c->reset)
        resp_await_end(r, CO_NO_DEADLINE);
    return !c->dead && !c->reset && !r->close_after && r->error == 0 && r->state == RESP_DONE;
}

/* One request from its first byte to the end of its response.  Returns
 * whether to go on with the next one. */
static bool serve_one(struct server_conn *c)
{
    http_server *s = c->server;
    int n = await_head(c);
    if (n == 0)
        return false;
    if (n < 0) {
        if (n == -ETIMEDOUT) {
            server_count(&s->n.timeouts, 1);
            return answer_error(c, 408, 0, false);
        }
        if (is_http_error(n) && n != -HTTP_E_INCOMPLETE)
            return answer_error(c, status_for(n), n, false);
        return false;           /* end of stream inside a head, a reset, a TLS error: just close */
    }
    if (keep_head(c, (size_t)n) < 0)
        return answer_error(c, 500, -ENOMEM, false);
    c->requests++;
    struct server_request req;
    server_response r;
    make_request(c, &req);
    resp_init(&r, c, &req);
    int rc = await_body(c, &r);
    if (rc < 0) {
        if (rc == -ETIMEDOUT) {
            server_count(&s->n.timeouts, 1);
            return false;
        }
        return is_http_error(rc) && rc != -HTTP_E_INCOMPLETE && r.error == 0
                   ? answer_error(c, status_for(rc), rc, false)
                   : false;
    }
    req.body = c->body;
    req.body_len = c->body_len;
    bool go_on = dispatch(c, &req, &r);
    if (c->body_cap > SERVER_BODY_KEEP) {     /* one large upload must not pin its buffer */
        free(c->body);
        c->body = NULL;
        c->body_len = c->body_cap = 0;
    }
    return go_on;
}

/* After an error response: end our side, then read and drop what the client
 * still sends for a while, so closing does not reset the connection under
 * the answer before the client has read it. */
static void await_linger(struct server_conn *c)
{
    int64_t deadline = co_deadline_in_ms(c->server->opts.linger_ms);
    if (stream_await_shutdown(c->st, deadline) < 0)
        return;
    char sink[4096];
    size_t total = 0;
    ssize_t n;
    stream_consume(c->st, stream_buffered(c->st, NULL));
    while (total < (1u << 20) && (n = stream_await_read(c->st, sink, sizeof sink, deadline)) > 0)
        total += (size_t)n;
}

int server_conn_main(void *arg)
{
    struct server_conn *c = arg;
    http_server *s = c->server;
    int64_t hs_deadline = co_deadline_in_ms(s->opts.header_timeout_ms);
    int rc = stream_tls(c->st) ? stream_await_handshake(c->st, hs_deadline) : 0;
    if (rc < 0) {
        server_count(&s->n.tls_failures, 1);
        c->dead = true;
    }
    while (rc == 0 && serve_one(c)) {
        if (c->closing || (s->opts.max_requests && c->requests >= s->opts.max_requests))
            break;
    }
    if (c->reset)
        stream_abort(c->st);
    else if (c->dead)
        stream_close(c->st);
    else {
        if (c->linger)
            await_linger(c);
        stream_await_close(c->st, co_deadline_in_ms(s->opts.linger_ms));
    }
    server_conn_gone(c);
    return 0;
}
