/* client_exchange.c - one request and its response on a connection the
 * pool gave us: write the head (and the body, or hold it for 100 Continue),
 * read the head past interim responses (handing each to the request's
 * on_interim callback, if any), then deliver the body, or drain
 * it when the response is a redirect we follow.  At the end, decide whether
 * the connection may go back to the pool (RFC 9112 9.3, 9.6; H5.4): only
 * after a complete length- or chunk-delimited response that did not say
 * close, with no unread byte behind it (H1.10).
 *
 * The parser reads straight from the stream's buffer (zero-copy): a head
 * must fit in it, which is why the buffer is head_max bytes.  Every read
 * waits at most read_timeout for the next bytes and never past the call's
 * deadline; the error says which of the two fired.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/chars.h"
#include "http/client_internal.h"
#include "runtime/error.h"
#include "runtime/task.h"

#define EXTRA_FIELDS 4          /* User-Agent, Content-Length/TE, Expect, spare */
#define COALESCE_MAX 16384      /* a body this small goes out in the head's write */
#define WRITE_PIECE (64 * 1024) /* the write timeout is renewed per piece */

static bool field_is(const struct http_header *f, const char *name)
{
    return http_equal_nocase(f->name, f->name_len, name, strlen(name));
}

static bool has_token(const struct http_header *f, const char *tok)
{
    size_t n = strlen(tok);
    for (size_t i = 0; i + n <= f->value_len; i++)
        if (http_equal_nocase(f->value + i, n, tok, n) && (i == 0 || f->value[i - 1] == ' ' ||
                                                            f->value[i - 1] == ','))
            return true;
    return false;
}

/* The header fields of this hop: the caller's, less what a redirect took
 * away, plus the ones the client owns. */
static size_t build_fields(struct http_call *k, struct http_header *out, char *num, size_t num_len)
{
    const struct http_request *q = k->req;
    size_t n = 0;
    bool ua = false;
    for (size_t i = 0; i < q->header_count; i++) {
        const struct http_header *f = &q->headers[i];
        if (k->strip_auth && (field_is(f, "authorization") || field_is(f, "cookie") ||
                              field_is(f, "proxy-authorization")))
            continue;
        if (k->strip_content && f->name_len >= 8 && http_equal_nocase(f->name, 8, "content-", 8))
            continue;
        if (field_is(f, "connection") && has_token(f, "close"))
            k->close_after = true;
        ua |= field_is(f, "user-agent");
        out[n++] = *f;
    }
    if (!ua && k->c->user_agent[0])
        out[n++] = (struct http_header){ "User-Agent", 10, k->c->user_agent,
                                         strlen(k->c->user_agent) };
    bool sized = k->send_body && (q->body || q->body_length >= 0);
    if (sized || (!k->send_body && (!strcmp(k->method, "POST") || !strcmp(k->method, "PUT")))) {
        uint64_t len = !k->send_body ? 0 : q->body ? q->body_len : (uint64_t)q->body_length;
        snprintf(num, num_len, "%" PRIu64, len);
        out[n++] = (struct http_header){ "Content-Length", 14, num, strlen(num) };
    } else if (k->send_body) {
        out[n++] = (struct http_header){ "Transfer-Encoding", 17, "chunked", 7 };
    }
    if (k->send_body && q->expect_continue)
        out[n++] = (struct http_header){ "Expect", 6, "100-continue", 12 };
    return n;
}

int client_exchange_format_head(struct http_call *k, size_t extra, char **out, size_t *len)
{
    struct http_header local[16 + EXTRA_FIELDS], *fields = local;
    size_t cap = k->req->header_count + EXTRA_FIELDS;
    if (cap > sizeof local / sizeof local[0] && !(fields = malloc(cap * sizeof *fields)))
        return -ENOMEM;
    char num[24];
    size_t n = build_fields(k, fields, num, sizeof num);
    size_t size = strlen(k->method) + strlen(k->url.target) + strlen(k->url.host_header) + 64;
    for (size_t i = 0; i < n; i++)
        size += fields[i].name_len + fields[i].value_len + 4;
    char *buf = malloc(size + extra);
    int rc = buf ? http_format_request(buf, size, k->method, k->url.target, k->url.host_header,
                                       fields, n)
                 : -ENOMEM;
    if (fields != local)
        free(fields);
    if (rc < 0) {
        free(buf);
        if (rc == -EINVAL) {     /* checked before; this is the formatter's second opinion */
            net_detail_set(&k->resp->detail, "request refused by the head formatter");
            rc = -HTTP_E_REQUEST_INVALID;
        }
        return rc;
    }
    *out = buf;
    *len = (size_t)rc;
    return 0;
}

int client_exchange_await_write(struct http_call *k, const void *buf, size_t len, const char *what)
{
    const char *p = buf;
    while (len > 0) {
        size_t n = len < WRITE_PIECE ? len : WRITE_PIECE;
        int64_t dl = client_deadline_min(k->deadline, k->c->o.read_timeout_ms);
        int rc = stream_await_write(k->conn->s, p, n, dl);
        if (rc == -ETIMEDOUT)
            return client_timeout(k, dl, HTTP_E_WRITE_TIMEOUT, what);
        if (rc < 0) {
            net_detail_set(&k->resp->detail, "%s to %s: %s", what, k->url.origin, co_strerror(rc));
            return rc;
        }
        p += n;
        len -= n;
    }
    return 0;
}

/* Tell the response which connection it is on.  Both the send and the
 * receive call it: a pipeline's later responses never pass through
 * client_exchange_await_send, and a failure while sending should still say
 * where.  The TLS facts are read from the connection each time rather than
 * stored: they are a pointer each, and the same for new and reused. */
static void note_connection(struct http_call *k)
{
    struct http_response *r = k->resp;
    tls_conn *t = stream_tls(k->conn->s);
    snprintf(r->peer, sizeof r->peer, "%s", k->conn->peer);
    snprintf(r->tls_version, sizeof r->tls_version, "%s", t ? tls_conn_version(t) : "");
    snprintf(r->tls_alpn, sizeof r->tls_alpn, "%s", t ? tls_conn_alpn(t) : "");
}

int client_exchange_await_send(struct http_call *k)
{
    const struct http_request *q = k->req;
    note_connection(k);
    bool coalesce = k->send_body && q->body && !q->expect_continue && q->body_len <= COALESCE_MAX;
    char *head;
    size_t len;
    int rc = client_exchange_format_head(k, coalesce ? q->body_len : 0, &head, &len);
    if (rc < 0)
        return rc;
    if (coalesce && q->body_len > 0) {
        memcpy(head + len, q->body, q->body_len);
        len += q->body_len;
    }
    k->t_sent = client_mono_ns();
    rc = client_exchange_await_write(k, head, len, "sending the request");
    free(head);
    if (rc < 0)
        return rc;
    k->head_sent = true;
    if (!k->send_body || coalesce)
        return 0;
    if (q->expect_continue) {
        k->body_pending = true;
        k->expect_deadline = co_deadline_in_ms(k->c->o.expect_timeout_ms);
        return 0;
    }
    return client_body_await_send(k);
}

/* ---- errors while receiving ---- */

static int protocol_error(struct http_call *k, int rc, const char *where)
{
    net_detail_set(&k->resp->detail, "%s from %s: %s", where, k->url.origin, co_strerror(rc));
    return rc;
}

/* End of stream or a transport error while a response was expected. */
static int read_error(struct http_call *k, ssize_t r, const char *what)
{
    struct http_parser *p = &k->conn->parser;
    if (r == 0) {
        int rc = http_parse_eof(p);
        if (rc == -HTTP_E_CLOSED)
            net_detail_set(&k->resp->detail, "%s closed the connection before answering (%s "
                           "connection, %" PRIu64 " earlier responses on it)", k->url.origin,
                           k->reused ? "pooled" : "new", k->conn->exchanges);
        else if (rc < 0)
            protocol_error(k, rc, what);
        return rc;
    }
    if (r == -ETIMEDOUT)
        return client_timeout(k, k->deadline, HTTP_E_READ_TIMEOUT, what);
    if (r == -ENOBUFS) {     /* the buffer is head_max bytes: the head does not fit */
        net_detail_set(&k->resp->detail, "%s from %s: larger than the %zu-byte head limit", what,
                       k->url.origin, k->c->o.head_max);
        return -HTTP_E_HEADER_TOO_LARGE;
    }
    net_detail_set(&k->resp->detail, "%s from %s: %s", what, k->url.origin, co_strerror((int)r));
    return (int)r;
}

/* One more read into the stream's buffer, bounded by the read timeout, the
 * call's deadline, and (while a body waits for 100) the expect deadline.
 * > 0 bytes, 0 at end, or an error; -EAGAIN: the expect wait is over. */
static ssize_t await_more(struct http_call *k, const char *what)
{
    int64_t dl = client_deadline_min(k->deadline, k->c->o.read_timeout_ms);
    bool expect = k->body_pending && k->expect_deadline != CO_NO_DEADLINE &&
                  (dl == CO_NO_DEADLINE || k->expect_deadline < dl);
    ssize_t r = stream_await_fill(k->conn->s, expect ? k->expect_deadline : dl);
    if (r == -ETIMEDOUT && expect)
        return -EAGAIN;
    if (r == -ETIMEDOUT)
        return client_timeout(k, dl, HTTP_E_READ_TIMEOUT, what);
    return r;
}

/* ---- the head ---- */

/* A response starts with "HTTP/" (after at most a few empty lines): bytes
 * that cannot be one (TLS records, binary garbage, an HTML page) are
 * refused at once instead of waiting for a line end that may never come. */
static bool may_be_status_line(const char *data, size_t n)
{
    size_t i = 0;
    while (i + 1 < n && data[i] == '\r' && data[i + 1] == '\n' && i < 2 * HTTP_LEADING_EMPTY_MAX)
        i += 2;
    size_t m = n - i < 5 ? n - i : 5;
    return memcmp(data + i, "HTTP/", m) == 0 || (m == 1 && data[i] == '\r');
}

/* Hand an interim head to the request's callback (before it is consumed:
 * its fields point into the stream's buffer, which nothing else touches
 * while this task holds the connection, even if the callback suspends).
 * 0 to go on, or the code to fail with (detail set). */
static int await_interim_callback(struct http_call *k, const struct http_head *h)
{
    const struct http_request *q = k->req;
    if (!q->on_interim)
        return 0;
    struct http_interim head = {
        .status = h->status,
        .version_minor = h->version_minor,
        .reason = h->reason,
        .reason_len = h->reason_len,
        .fields = h->fields,
        .field_count = h->field_count,
    };
    int rc = q->on_interim(q->on_interim_arg, &head);
    if (rc == 0)
        return 0;
    if (rc > 0)                 /* "stop" without a code: say it was the caller's doing */
        rc = -ECANCELED;
    net_detail_set(&k->resp->detail, "the on_interim callback stopped the request at a %d "
                   "response from %s: %s", h->status, k->url.origin, co_strerror(rc));
    return rc;
}

/* Read heads until a final one.  Its length (not consumed yet), or an error. */
static int await_final_head(struct http_call *k)
{
    stream *s = k->conn->s;
    struct http_parser *p = &k->conn->parser;
    const char *what = "reading the response head";
    for (;;) {
        const char *data;
        size_t n = stream_buffered(s, &data);
        if (n > 0) {
            if (!k->got_byte) {
                k->got_byte = true;
                k->resp->timings.first_byte_ns = client_mono_ns() - k->t_sent;
            }
            int rc = may_be_status_line(data, n) ? http_parse_head(p, data, n)
                                                 : -HTTP_E_BAD_STATUS_LINE;
            if (rc < 0)
                return protocol_error(k, rc, "response head");
            if (rc > 0) {
                int interim = http_response_interim(p);
                if (interim < 0)
                    return protocol_error(k, interim, "response head");
                if (interim == 0)
                    return rc;
                int stop = await_interim_callback(k, &p->head);
                if (stop < 0)
                    return stop;                    /* fate stays CONN_ABORT: half read */
                stream_consume(s, (size_t)rc);     /* 1xx: skip it (H5.1) */
                if (p->head.status == 100 && k->body_pending) {
                    k->body_pending = false;
                    if ((rc = client_body_await_send(k)) < 0)
                        return rc;
                }
                continue;
            }
        }
        ssize_t r = await_more(k, what);
        if (r == -EAGAIN) {      /* no 100 in time: send the body anyway (RFC 9110 10.1.1) */
            k->body_pending = false;
            int rc = client_body_await_send(k);
            if (rc < 0)
                return rc;
            continue;
        }
        if (r <= 0)
            return r < 0 && http_error_is_timeout((int)r) ? (int)r : read_error(k, r, what);
    }
}

static bool is_redirect(int status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* ---- the body ---- */

/* Deliver (or drain, up to drain_max) the body.  0 when complete; 1 when a
 * drain gave up (close the connection); or an error. */
static int await_body(struct http_call *k, bool drain)
{
    stream *s = k->conn->s;
    struct http_parser *p = &k->conn->parser;
    const char *what = "reading the response body";
    uint64_t drained = 0;
    while (!http_parser_done(p)) {
        const char *data;
        size_t n = stream_buffered(s, &data);
        if (n > 0) {
            struct http_span span;
            int rc = http_parse_body(p, data, n, &span);
            if (rc < 0)
                return protocol_error(k, rc, "response body");
            if (span.len > 0 && drain && (drained += span.len) > k->c->o.drain_max)
                return 1;
            int d = span.len > 0 && !drain ? client_body_deliver(k, span.data, span.len) : 0;
            if (d < 0)
                return d;
            stream_consume(s, (size_t)rc);     /* the span was inside these bytes */
            if (rc > 0)
                continue;
        }
        if (http_parser_done(p))
            break;
        ssize_t r = await_more(k, what);
        if (r > 0)
            continue;
        if (r == 0 && http_parse_eof(p) == 0)
            break;                          /* a close-delimited body ended */
        if (r < 0 && http_error_is_timeout((int)r))
            return (int)r;
        return read_error(k, r, what);
    }
    if (drain && drained > 0)
        k->c->st.drained++;
    return 0;
}

int client_exchange_await_receive(struct http_call *k)
{
    http_client *c = k->c;
    struct http_conn *conn = k->conn;
    struct http_parser *p = &conn->parser;
    note_connection(k);
    struct http_limits l;
    http_limits_default(&l);
    l.head_max = c->o.head_max;
    if (l.line_max > l.head_max)
        l.line_max = l.head_max;
    l.interim_max = c->o.interim_max;
    l.body_max = k->req->on_body && !k->req->body_max ? UINT64_MAX : k->body_max;
    http_parser_init(p, HTTP_ROLE_RESPONSE, &l, conn->fields, c->o.fields_max);
    http_parser_set_trailers(p, conn->trailers, c->o.fields_max);
    http_parser_expect(p, k->method, strlen(k->method));
    int rc = await_final_head(k);
    if (rc < 0)
        return rc;
    const struct http_head *h = &p->head;
    k->status = k->resp->status = h->status;
    k->resp->version_minor = h->version_minor;
    size_t cursor = 0;
    const struct http_header *loc = http_header_find(h->fields, h->field_count, "location",
                                                     &cursor);
    bool drain = is_redirect(h->status) && loc && k->max_redirects >= 0;
    if (drain && !(k->location = strndup(loc->value, loc->value_len)))
        return -ENOMEM;
    if (!drain && (rc = client_body_store_head(k->resp, h)) < 0)
        return rc;
    stream_consume(conn->s, h->length);
    if (!drain && h->framing == HTTP_FRAMING_LENGTH)
        client_body_expect(k, h->content_length);
    rc = await_body(k, drain);
    if (rc < 0)
        return rc;
    if (!drain && p->trailer_count > 0 && (rc = client_body_store_trailers(k->resp, p->trailers,
                                                                      p->trailer_count)) < 0)
        return rc;
    bool keep = rc == 0 && h->keep_alive && h->framing != HTTP_FRAMING_CLOSE && !k->close_after &&
                !k->body_pending;
    /* Bytes after a complete response with no request outstanding must not
     * be taken as the next response (RFC 9112 9.2; H1.10): close. */
    if (keep && !k->pipelined && stream_buffered(conn->s, NULL) > 0)
        keep = false;
    k->fate = keep ? CONN_KEEP : rc == 1 ? CONN_ABORT : CONN_CLOSE;
    return 0;
}
