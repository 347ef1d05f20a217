/* server_resp.c - the response writer a handler gets: status, fields, and a
 * body sent whole (Content-Length) or streamed (chunked, or for an HTTP/1.0
 * client delimited by the close).
 *
 * The server owns the framing so a handler cannot get it wrong: it writes
 * Content-Length or Transfer-Encoding (never both, neither for 204/304),
 * Connection, Date; a HEAD request gets the head only; resp_add_header
 * refuses the framing fields and any control byte in a value (no response
 * splitting through a header a handler copies from a request).
 *
 * Writes: a head and a small body go out in one write from the connection's
 * buffer; larger bodies are written from the caller's memory, never copied.
 * Each write waits at most write_timeout_ms: a client that stops reading is
 * dropped, not waited for.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http/chars.h"
#include "http/server_internal.h"

const char *server_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 418: return "I'm a teapot";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "";
    }
}

/* "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n", formatted once per second per
 * thread (a loop thread answers many requests per second). */
static const char *date_field(void)
{
    static __thread time_t last;
    static __thread char text[64];
    time_t now = time(NULL);
    if (now != last) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(text, sizeof text, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        last = now;
    }
    return text;
}

void resp_init(server_response *r, struct server_conn *c, const struct server_request *req)
{
    r->conn = c;
    r->req = req;
    r->state = RESP_NEW;
    r->status = 200;
    r->length = 0;
    r->written = 0;
    r->chunked = false;
    r->no_body = false;
    r->close_after = false;
    r->error = 0;
    r->fields_len = 0;
}

int resp_set_status(server_response *r, int status)
{
    if (r->state != RESP_NEW)
        return -EALREADY;
    if (status < 200 || status > 599)
        return -EINVAL;
    r->status = status;
    return 0;
}

static bool token(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!http_is_tchar((unsigned char)s[i]))
            return false;
    return n > 0;
}

int resp_add_header(server_response *r, const char *name, const char *value)
{
    if (r->state != RESP_NEW)
        return -EALREADY;
    size_t nl = strlen(name), vl = strlen(value);
    if (!token(name, nl) || http_equal_nocase(name, nl, "content-length", 14) ||
        http_equal_nocase(name, nl, "transfer-encoding", 17) ||
        http_equal_nocase(name, nl, "connection", 10))
        return -EINVAL;
    for (size_t i = 0; i < vl; i++)
        if (!http_is_field_byte((unsigned char)value[i]))
            return -EINVAL;
    if (r->fields_len + nl + vl + 4 > sizeof r->fields)
        return -ENOSPC;
    char *at = r->fields + r->fields_len;
    memcpy(at, name, nl);
    memcpy(at + nl, ": ", 2);
    memcpy(at + nl + 2, value, vl);
    memcpy(at + nl + 2 + vl, "\r\n", 2);
    r->fields_len += nl + vl + 4;
    return 0;
}

void resp_close_after(server_response *r) { r->close_after = true; }

bool resp_started(const server_response *r) { return r->state != RESP_NEW; }

int resp_status(const server_response *r) { return r->status; }

void resp_abort(server_response *r, bool reset)
{
    r->state = RESP_DONE;
    r->close_after = true;
    if (reset)
        r->conn->reset = true;
    else
        r->conn->dead = true;
}

int resp_await_raw(server_response *r, const void *data, size_t len, int64_t deadline)
{
    struct server_conn *c = r->conn;
    if (r->error)
        return -EPIPE;
    int64_t limit = co_deadline_in_ms(c->server->opts.write_timeout_ms);
    int rc = stream_await_write(c->st, data, len,
                                deadline >= 0 && deadline < limit ? deadline : limit);
    if (rc < 0) {
        r->error = rc;
        c->dead = true;
        if (rc == -ETIMEDOUT)
            server_count(&c->server->n.timeouts, 1);
    }
    return rc;
}

/* Write the head for a body of `length` bytes or RESP_CHUNKED into c->out;
 * decide the framing and whether the connection closes.  Returns its length. */
static size_t build_head(server_response *r, int64_t length)
{
    struct server_conn *c = r->conn;
    http_server *s = c->server;
    const struct server_request *req = r->req;
    bool head = server_request_method_is(req, "HEAD");
    bool bodiless = r->status == 204 || r->status == 304;
    r->no_body = head || bodiless;
    r->length = length;
    r->chunked = length == RESP_CHUNKED && req->version_minor >= 1;
    if (!req->keep_alive || c->closing || s->stopping ||
        (s->opts.max_requests && c->requests >= s->opts.max_requests) ||
        (length == RESP_CHUNKED && !r->chunked))
        r->close_after = true;
    char *o = c->out;
    size_t cap = sizeof c->out, n;
    n = (size_t)snprintf(o, cap, "HTTP/1.1 %d %s\r\n%s", r->status, server_reason(r->status),
                         s->opts.no_date ? "" : date_field());
    memcpy(o + n, r->fields, r->fields_len);
    n += r->fields_len;
    if (bodiless)
        ;
    else if (length >= 0)
        n += (size_t)snprintf(o + n, cap - n, "Content-Length: %lld\r\n", (long long)length);
    else if (r->chunked)
        n += (size_t)snprintf(o + n, cap - n, "Transfer-Encoding: chunked\r\n");
    if (r->close_after)
        n += (size_t)snprintf(o + n, cap - n, "Connection: close\r\n");
    else if (req->version_minor == 0)
        n += (size_t)snprintf(o + n, cap - n, "Connection: keep-alive\r\n");
    memcpy(o + n, "\r\n", 2);
    return n + 2;
}

int resp_await_send(server_response *r, const void *body, size_t len, int64_t deadline)
{
    if (r->state != RESP_NEW)
        return -EALREADY;
    struct server_conn *c = r->conn;
    size_t n = build_head(r, (int64_t)len);
    r->state = RESP_DONE;
    r->written = len;
    if (r->no_body)
        len = 0;
    if (len <= sizeof c->out - n) {
        if (len > 0)
            memcpy(c->out + n, body, len);
        return resp_await_raw(r, c->out, n + len, deadline);
    }
    int rc = resp_await_raw(r, c->out, n, deadline);
    return rc < 0 ? rc : resp_await_raw(r, body, len, deadline);
}

int resp_await_start(server_response *r, int64_t length, int64_t deadline)
{
    if (r->state != RESP_NEW)
        return -EALREADY;
    if (length < 0 && length != RESP_CHUNKED)
        return -EINVAL;
    size_t n = build_head(r, length);
    r->state = RESP_STREAMING;
    return resp_await_raw(r, r->conn->out, n, deadline);
}

int resp_await_write(server_response *r, const void *data, size_t len, int64_t deadline)
{
    if (r->state == RESP_NEW) {
        int rc = resp_await_start(r, RESP_CHUNKED, deadline);
        if (rc < 0)
            return rc;
    }
    if (r->state == RESP_DONE)
        return -EALREADY;
    if (r->length >= 0 && r->written + len > (uint64_t)r->length)
        return -EINVAL;
    r->written += len;
    if (r->no_body || len == 0)     /* an empty chunk would end the body */
        return 0;
    if (!r->chunked)
        return resp_await_raw(r, data, len, deadline);
    char *o = r->conn->out;
    int n = snprintf(o, 24, "%zx\r\n", len);
    if ((size_t)n + len + 2 <= sizeof r->conn->out) {
        memcpy(o + n, data, len);
        memcpy(o + n + len, "\r\n", 2);
        return resp_await_raw(r, o, (size_t)n + len + 2, deadline);
    }
    int rc = resp_await_raw(r, o, (size_t)n, deadline);
    if (rc == 0)
        rc = resp_await_raw(r, data, len, deadline);
    return rc < 0 ? rc : resp_await_raw(r, "\r\n", 2, deadline);
}

int resp_await_end(server_response *r, int64_t deadline)
{
    if (r->state == RESP_NEW)
        return resp_await_send(r, "", 0, deadline);
    if (r->state == RESP_DONE)
        return -EALREADY;
    r->state = RESP_DONE;
    if (r->length >= 0 && r->written < (uint64_t)r->length) {
        r->conn->dead = true;       /* the client must see the body was cut */
        return 0;
    }
    if (r->chunked && !r->no_body)
        return resp_await_raw(r, "0\r\n\r\n", 5, deadline);
    return 0;
}

int resp_await_simple(server_response *r, int status, const char *text, int64_t deadline)
{
    r->status = status;
    if (text[0])
        resp_add_header(r, "Content-Type", "text/plain; charset=utf-8");
    return resp_await_send(r, text, strlen(text), deadline);
}
