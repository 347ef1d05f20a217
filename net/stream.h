/* stream.h - one connection interface over plain TCP and TLS, with a
 * buffered reader built in.
 *
 * A stream owns a connected socket, its TLS state if any, and a fixed-size
 * read buffer.  The HTTP client and server read and write streams and never
 * care which transport is underneath.
 *
 * The buffered reader is part of the stream, not a second object on top of
 * it, on purpose: bytes that a line read pulled into the buffer must be seen
 * by the next raw read, or a body would lose its first bytes to the header
 * reader.  With one object, every read goes through the buffer.  The buffer
 * never grows: a line or a peek larger than it is refused with a code, so a
 * peer that never sends the delimiter cannot make us allocate.
 *
 * Reading API, from most convenient to most zero-copy:
 *   stream_await_read        up to N bytes (like read(2))
 *   stream_await_read_exact  exactly N bytes, or NET_EEOF
 *   stream_await_read_until  up to and including a delimiter, within a limit
 *   stream_await_peek        at least N bytes in the buffer, not consumed
 *   stream_await_fill + stream_buffered + stream_consume: the parser's view
 */
#ifndef COLOOP_NET_STREAM_H
#define COLOOP_NET_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "net/neterr.h"
#include "net/socket.h"
#include "net/tls.h"

#define STREAM_BUFFER_DEFAULT (16 * 1024)   /* one TLS record */

typedef struct stream stream;

/* Stream options; NULL means all defaults. */
struct stream_opts {
    size_t read_buffer;     /* read buffer bytes (the longest line/peek); 0 = STREAM_BUFFER_DEFAULT */
    struct sock_opts sock;  /* for stream_await_connect: Nagle, buffer sizes */
    int family;             /* for stream_await_connect: AF_UNSPEC (0), AF_INET or AF_INET6 */
};

/* Wrap a connected socket.  With tls == NULL the stream is plain; otherwise
 * it makes a TLS connection from the context (client: `host` is the name to
 * verify; server context: host NULL) and stream_await_handshake() must run
 * before any I/O.  Never suspends.  On success the stream owns fd; on
 * failure fd is still the caller's.  0 and *out, -ENOMEM, -EINVAL. */
int stream_new(int fd, tls_ctx *tls, const char *host, const struct stream_opts *opts,
               stream **out);

/* TLS handshake (a plain stream returns 0 at once).  Suspends.  0, or the
 * codes of tls_await_handshake(); stream_detail() says why. */
int stream_await_handshake(stream *s, int64_t deadline);

/* Resolve host, connect to its addresses in turn (dial.h), and with a TLS
 * context do the handshake: the whole client connection setup under one
 * deadline.  Suspends.  0 and *out (the caller's: stream_close()), or a DNS,
 * connect or TLS code with the reason in *why (may be NULL). */
int stream_await_connect(const char *host, int port, tls_ctx *tls, const struct stream_opts *opts,
                         stream **out, struct net_detail *why, int64_t deadline);

/* Up to len bytes: what is buffered, else one transport read.  Suspends only
 * if nothing is buffered.  The count (> 0), 0 at a clean end of stream, or a
 * negative code (-ETIMEDOUT leaves the stream usable; NET_ETLS_TRUNCATED:
 * the TLS peer closed without close_notify). */
ssize_t stream_await_read(stream *s, void *buf, size_t len, int64_t deadline);

/* Exactly len bytes into buf.  Suspends.  0, NET_EEOF (the stream ended
 * first; what arrived was consumed), or a negative code. */
int stream_await_read_exact(stream *s, void *buf, size_t len, int64_t deadline);

/* Read until `delim` (delim_len bytes, e.g. "\r\n") has arrived, within the
 * first `max` bytes (max <= the buffer size).  Suspends.  Returns the length
 * including the delimiter and sets *line to it, inside the stream's buffer:
 * valid until the next call on this stream (copy it to keep it).  0 at a
 * clean end of stream with nothing buffered; NET_EEOF if the stream ended
 * inside a line; NET_ELIMIT if max bytes arrived without the delimiter
 * (nothing consumed: close the connection); -EINVAL if max is larger than
 * the buffer or delim_len is 0; other negative codes. */
ssize_t stream_await_read_until(stream *s, const char *delim, size_t delim_len, size_t max,
                                const char **line, int64_t deadline);

/* Wait until at least n bytes are buffered (n <= the buffer size) or the
 * stream ends; consume nothing.  Suspends.  Returns how many are buffered
 * (>= n, or fewer only at end of stream) with *data pointing at them (valid
 * until the next call on the stream), -EINVAL, or a negative code. */
ssize_t stream_await_peek(stream *s, size_t n, const char **data, int64_t deadline);

/* One transport read into the buffer's free space (compacting first).
 * Suspends.  Bytes added (> 0), 0 at end of stream, -ENOBUFS if the buffer
 * is full, or a negative code. */
ssize_t stream_await_fill(stream *s, int64_t deadline);

/* What is buffered now; never suspends.  *data may be NULL. */
size_t stream_buffered(const stream *s, const char **data);

/* Drop n buffered bytes (n <= stream_buffered()); never suspends. */
void stream_consume(stream *s, size_t n);

/* Write all len bytes.  Suspends.  0, or a negative code (-EPIPE,
 * -ECONNRESET, -ETIMEDOUT, NET_ETLS...): then the stream is only good for
 * closing. */
int stream_await_write(stream *s, const void *buf, size_t len, int64_t deadline);

/* End our direction: TLS close_notify, then TCP FIN.  Reading goes on.
 * Suspends (only while the socket is full).  0 or a negative code. */
int stream_await_shutdown(stream *s, int64_t deadline);

/* Close and free, the orderly way: a TLS stream sends close_notify first,
 * waiting (until the deadline) for room in the socket buffer if earlier
 * writes filled it, so the peer can tell the end of data from a cut.  The
 * stream is freed whatever happens.  Suspends (only while the socket is
 * full).  0, or why close_notify was not sent (-ETIMEDOUT, -ECANCELED,
 * -EPIPE...). */
int stream_await_close(stream *s, int64_t deadline);

/* Close and free without waiting.  A TLS stream tries once to send
 * close_notify: it fits in the socket buffer unless earlier writes filled it
 * (then it is skipped, and a peer reading to the end sees NET_ETLS_TRUNCATED:
 * use stream_await_close after a large final write).  NULL is fine. */
void stream_close(stream *s);

/* Close with a TCP RST, no close_notify: for a stream in an unknown state
 * (after a timeout mid-message).  Never suspends.  NULL is fine. */
void stream_abort(stream *s);

/* Facts; never suspend. */
int stream_fd(const stream *s);
tls_conn *stream_tls(const stream *s);          /* NULL for plain streams */
const char *stream_detail(const stream *s);     /* why the last TLS call failed, or "" */
size_t stream_buffer_size(const stream *s);

#endif
