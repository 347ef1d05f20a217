/* stream.c - plain and TLS connections behind one interface, and the read
 * buffer every read goes through (see stream.h).
 *
 * The buffer is one fixed block:
 *
 *     buf                start            end                  cap
 *      |  consumed bytes  |  buffered bytes |     free space     |
 *
 * Reads consume from `start`; fills append at `end`, first sliding the
 * buffered bytes down to buf when the free space at the end runs out.  The
 * transport is chosen with one `if (s->tls)` in two places (read, write):
 * two cases do not need a table of function pointers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/dial.h"
#include "net/dns.h"
#include "net/stream.h"

struct stream {
    int fd;             /* the socket; ours */
    tls_conn *tls;      /* TLS state, or NULL for plain TCP */
    char *buf;          /* the read buffer, cap bytes */
    size_t cap;
    size_t start, end;  /* buffered bytes are buf[start..end) */
    bool eof;           /* the transport said end of stream */
};

int stream_new(int fd, tls_ctx *tls, const char *host, const struct stream_opts *opts,
               stream **out)
{
    *out = NULL;
    if (fd < 0)
        return -EBADF;
    size_t cap = opts && opts->read_buffer ? opts->read_buffer : STREAM_BUFFER_DEFAULT;
    stream *s = calloc(1, sizeof *s);
    char *buf = malloc(cap);
    if (!s || !buf) {
        free(s);
        free(buf);
        return -ENOMEM;
    }
    s->fd = fd;
    s->buf = buf;
    s->cap = cap;
    if (tls) {
        int rc = tls_conn_new(tls, fd, host, &s->tls);
        if (rc < 0) {
            free(buf);
            free(s);
            return rc;
        }
    }
    *out = s;
    return 0;
}

int stream_await_handshake(stream *s, int64_t deadline)
{
    return s->tls ? tls_await_handshake(s->tls, deadline) : 0;
}

int stream_await_connect(const char *host, int port, tls_ctx *tls, const struct stream_opts *opts,
                         stream **out, struct net_detail *why, int64_t deadline)
{
    *out = NULL;
    struct dial_opts dial = { 0 };
    if (opts) {
        dial.sock = opts->sock;
        dial.family = opts->family;
    }
    int fd;
    int rc = dial_await_tcp(host, port, &dial, &fd, NULL, why, deadline);
    if (rc < 0)
        return rc;
    stream *s;
    /* Verify against the name as the caller wrote it (brackets stripped). */
    char name[DNS_HOST_MAX + 1];
    size_t len = strlen(host);
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']' && len - 2 < sizeof name) {
        memcpy(name, host + 1, len - 2);
        name[len - 2] = '\0';
        host = name;
    }
    rc = stream_new(fd, tls, host, opts, &s);
    if (rc < 0) {
        net_detail_set(why, "cannot set up the connection to %s: %s", host, net_strerror(rc));
        sock_close(fd);
        return rc;
    }
    rc = stream_await_handshake(s, deadline);
    if (rc < 0) {
        net_detail_set(why, "%s", stream_detail(s));
        stream_abort(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* One read from the transport: TLS or the socket. */
static ssize_t transport_read(stream *s, void *p, size_t n, int64_t deadline)
{
    ssize_t r = s->tls ? tls_await_read(s->tls, p, n, deadline) : sock_await_read(s->fd, p, n, deadline);
    if (r == 0)
        s->eof = true;
    return r;
}

ssize_t stream_await_fill(stream *s, int64_t deadline)
{
    if (s->end == s->cap && s->start > 0) {   /* slide the buffered bytes down */
        memmove(s->buf, s->buf + s->start, s->end - s->start);
        s->end -= s->start;
        s->start = 0;
    }
    if (s->start == s->end)
        s->start = s->end = 0;
    if (s->end == s->cap)
        return -ENOBUFS;
    if (s->eof)
        return 0;
    ssize_t n = transport_read(s, s->buf + s->end, s->cap - s->end, deadline);
    if (n > 0)
        s->end += (size_t)n;
    return n;
}

size_t stream_buffered(const stream *s, const char **data)
{
    if (data)
        *data = s->buf + s->start;
    return s->end - s->start;
}

void stream_consume(stream *s, size_t n)
{
    size_t have = s->end - s->start;
    s->start += n < have ? n : have;
    if (s->start == s->end)
        s->start = s->end = 0;
}

ssize_t stream_await_read(stream *s, void *buf, size_t len, int64_t deadline)
{
    if (len == 0)
        return 0;
    size_t have = s->end - s->start;
    if (have == 0) {
        if (s->eof)
            return 0;
        /* A large read skips the copy: straight from the transport. */
        if (len >= s->cap)
            return transport_read(s, buf, len, deadline);
        ssize_t n = stream_await_fill(s, deadline);
        if (n <= 0)
            return n;
        have = (size_t)n;
    }
    size_t take = have < len ? have : len;
    memcpy(buf, s->buf + s->start, take);
    stream_consume(s, take);
    return (ssize_t)take;
}

int stream_await_read_exact(stream *s, void *buf, size_t len, int64_t deadline)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = stream_await_read(s, p, len, deadline);
        if (n < 0)
            return (int)n;
        if (n == 0)
            return -NET_EEOF;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

ssize_t stream_await_read_until(stream *s, const char *delim, size_t delim_len, size_t max,
                                const char **line, int64_t deadline)
{
    *line = NULL;
    if (delim_len == 0 || max > s->cap || max < delim_len)
        return -EINVAL;
    size_t searched = 0;   /* bytes after start known not to begin a delimiter */
    for (;;) {
        size_t have = s->end - s->start;
        size_t window = have < max ? have : max;
        if (window >= delim_len) {
            const char *from = s->buf + s->start + searched;
            const char *hit = memmem(from, window - searched, delim, delim_len);
            if (hit) {
                size_t n = (size_t)(hit - (s->buf + s->start)) + delim_len;
                *line = s->buf + s->start;
                s->start += n;   /* not stream_consume: the line must stay where it is */
                return (ssize_t)n;
            }
            searched = window - (delim_len - 1);   /* a delimiter may straddle the end */
        }
        if (have >= max)
            return -NET_ELIMIT;
        ssize_t r = stream_await_fill(s, deadline);
        if (r < 0)
            return r;
        if (r == 0)
            return s->end == s->start ? 0 : -NET_EEOF;
    }
}

ssize_t stream_await_peek(stream *s, size_t n, const char **data, int64_t deadline)
{
    *data = NULL;
    if (n > s->cap)
        return -EINVAL;
    while (s->end - s->start < n) {
        ssize_t r = stream_await_fill(s, deadline);
        if (r < 0)
            return r;
        if (r == 0)
            break;
    }
    *data = s->buf + s->start;
    return (ssize_t)(s->end - s->start);
}

int stream_await_write(stream *s, const void *buf, size_t len, int64_t deadline)
{
    if (s->tls)
        return tls_await_write_all(s->tls, buf, len, deadline);
    return sock_await_write_all(s->fd, buf, len, deadline);
}

int stream_await_shutdown(stream *s, int64_t deadline)
{
    if (s->tls) {
        int rc = tls_await_shutdown(s->tls, deadline);
        if (rc < 0)
            return rc;
    }
    return sock_shutdown_write(s->fd);
}

static void stream_free(stream *s)
{
    tls_conn_free(s->tls);
    free(s->buf);
    free(s);
}

int stream_await_close(stream *s, int64_t deadline)
{
    int rc = s->tls ? tls_await_shutdown(s->tls, deadline) : 0;
    sock_close(s->fd);
    stream_free(s);
    return rc;
}

void stream_close(stream *s)
{
    if (!s)
        return;
    if (s->tls)
        tls_try_shutdown(s->tls);   /* best effort: never waits */
    sock_close(s->fd);
    stream_free(s);
}

void stream_abort(stream *s)
{
    if (!s)
        return;
    sock_close_reset(s->fd);
    stream_free(s);
}

int stream_fd(const stream *s) { return s->fd; }
tls_conn *stream_tls(const stream *s) { return s->tls; }
const char *stream_detail(const stream *s) { return s->tls ? tls_conn_detail(s->tls) : ""; }
size_t stream_buffer_size(const stream *s) { return s->cap; }
