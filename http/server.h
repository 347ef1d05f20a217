/* server.h - a small HTTP/1.1 server on the runtime: coloop's own test
 * target (httpbin.h runs its routes on it), not a general web server.
 *
 * Shape: one listening socket per loop, one task per connection.  The task
 * reads a request head (parse.h, over the stream's buffer), then the whole
 * body (Content-Length or chunked) into memory, then calls the handler in the
 * same task with the request and a response writer, and loops for the next
 * request while the connection may persist (keep-alive; pipelined requests
 * are simply the bytes already buffered).  A handler may suspend (sleep, do
 * I/O): it only holds up its own connection.
 *
 * Bad clients cannot hurt it (RELIABILITY.md 3.7): every limit (head size,
 * field count, request line, body size) and timeout (a new connection's first
 * request, a slow head, idle keep-alive, a slow body, a reader that does not
 * read) has a default; a malformed request gets 400 / 413 / 414 / 431 / 501 /
 * 505 with "Connection: close" and the connection is closed; a slow head gets
 * 408.  At the descriptor limit, accept backs off (sock_await_accept) instead
 * of spinning.
 *
 * Several cores: make one server per loop thread on the same port with
 * `reuseport`, or let server_threads_start() do it.
 *
 * Graceful stop: server_stop() closes the listener (new connections are
 * refused), closes idle connections at once, lets requests in flight finish
 * with "Connection: close" within a grace period, then cancels what is left.
 */
#ifndef COLOOP_HTTP_SERVER_H
#define COLOOP_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/parse.h"
#include "net/socket.h"
#include "net/tls.h"
#include "runtime/loop.h"

typedef struct http_server http_server;
typedef struct server_response server_response;

/* Defaults for the zero values of struct server_opts. */
#define SERVER_HEAD_MAX_DEFAULT (16 * 1024)        /* request head bytes (431 beyond) */
#define SERVER_LINE_MAX_DEFAULT (8 * 1024)         /* request line bytes (414 beyond) */
#define SERVER_FIELDS_MAX_DEFAULT 100              /* field lines (431 beyond) */
#define SERVER_BODY_MAX_DEFAULT ((uint64_t)1 << 20) /* request body bytes (413 beyond) */
#define SERVER_HEADER_TIMEOUT_DEFAULT_MS 10000
#define SERVER_IDLE_TIMEOUT_DEFAULT_MS 30000
#define SERVER_BODY_TIMEOUT_DEFAULT_MS 30000
#define SERVER_WRITE_TIMEOUT_DEFAULT_MS 30000
#define SERVER_LINGER_DEFAULT_MS 1000

/* A parsed request, as the handler sees it.  Every pointer is valid until
 * the handler returns; nothing is NUL-terminated except `body`. */
struct server_request {
    const char *method;                 /* the method token, e.g. "GET" */
    size_t method_len;
    const char *target;                 /* the request target as sent: "/path?query" */
    size_t target_len;
    const char *path;                   /* target up to the first '?' */
    size_t path_len;
    const char *query;                  /* after the '?' (without it); length 0 if none */
    size_t query_len;
    unsigned version_minor;             /* HTTP/1.x: x */
    const struct http_header *headers;  /* field lines in order (http_header_find) */
    size_t header_count;
    const char *body;                   /* the decoded body, NUL-terminated; "" if none */
    size_t body_len;
    bool keep_alive;                    /* the client allows another request on the connection */
    bool tls;                           /* the connection is TLS */
    const struct sock_addr *peer;       /* the client's address */
    uint64_t conn_id;                   /* the connection's number on this server (1, 2, ...) */
    unsigned conn_request;              /* 1 for the first request on its connection, then 2, ... */
    http_server *server;                /* the server serving it */
};

/* A request handler: runs in the connection's task, may suspend.  It answers
 * through resp (see resp_* below); if it returns without answering, the
 * server answers 204 when it returned >= 0, else 500.  A negative return
 * after the answer started closes the connection (the body may be cut). */
typedef int (*server_handler_fn)(const struct server_request *req, server_response *resp,
                                 void *arg);

/* Options; every zero value means the default named in its comment. */
struct server_opts {
    const char *host;               /* numeric address to listen on; NULL = "127.0.0.1" */
    int port;                       /* 0 = the kernel picks one (server_port()) */
    bool reuseport;                 /* SO_REUSEPORT: several servers (one per loop thread)
                                       share the port */
    int backlog;                    /* listen backlog; 0 = SOMAXCONN */
    tls_ctx *tls;                   /* a server TLS context, or NULL for plain HTTP; stays the
                                       caller's and must outlive the server */
    server_handler_fn handler;      /* required */
    void *handler_arg;              /* its last argument */
    size_t head_max;                /* request head bytes; 431 beyond; SERVER_HEAD_MAX_DEFAULT */
    size_t line_max;                /* request line bytes; 414 beyond (a longer field line: 431) */
    unsigned fields_max;            /* field lines per request; 431 beyond; 100 */
    uint64_t body_max;              /* decoded request body bytes; 413 beyond; 1 MiB */
    int64_t header_timeout_ms;      /* a request's first byte (for a new connection: the accept,
                                       then also the TLS handshake) to its complete head; then 408
                                       and close.  10 s */
    int64_t idle_timeout_ms;        /* keep-alive: end of a response to the next request's first
                                       byte; then the connection is closed.  30 s */
    int64_t body_timeout_ms;        /* the whole request body, from the end of its head.  30 s */
    int64_t write_timeout_ms;       /* each response write (a client that does not read).  30 s */
    int64_t linger_ms;              /* after an error response: how long to drain what the client
                                       still sends, so it can read the answer.  1 s */
    unsigned max_connections;       /* open connections; at the cap accepting pauses.  0 = none */
    unsigned max_requests;          /* requests per connection, then "Connection: close";
                                       0 = no cap */
    unsigned max_concurrent;        /* handlers running at once (per server, i.e. per loop);
                                       further requests wait their turn.  0 = no cap */
    bool busy_429;                  /* over max_concurrent: answer 429 with Retry-After at once
                                       instead of waiting */
    int retry_after_s;              /* the Retry-After of those 429s; 0 = 1 */
    size_t stack_size;              /* per connection task; 0 = the runtime's default */
    bool no_date;                   /* leave out the Date field */
};

/* Counters, readable from any thread (each is read atomically). */
struct server_stats {
    uint64_t accepted;              /* connections accepted */
    uint64_t open;                  /* connections open now */
    uint64_t requests;              /* requests handed to the handler */
    uint64_t reused;                /* of those, not the first on their connection (keep-alive) */
    uint64_t active;                /* handlers running now */
    uint64_t queued;                /* requests waiting for max_concurrent now */
    uint64_t rejected;              /* requests answered by the server itself: 4xx/5xx, 429 */
    uint64_t timeouts;              /* connections dropped by the header, body or write timeout */
    uint64_t idle_closed;           /* keep-alive connections closed by the idle timeout */
    uint64_t tls_failures;          /* TLS handshakes that failed */
};

/* Make a server and its listening socket on the calling thread's loop.
 * Never suspends.  0 and *out (the caller's: server_free()), or -EINVAL (no
 * handler, a bad option), -CO_ENOLOOP, -ENOMEM, and sock_listen()'s errors
 * (-EADDRINUSE, -EMFILE, ...). */
int server_new(const struct server_opts *opts, http_server **out);

/* The port the server listens on (the one the kernel picked for port 0). */
int server_port(const http_server *s);

/* Accept and serve connections until server_stop() (or the deadline, which
 * acts as server_stop(s, 0)), then drain the connections as server_stop
 * says and return.  Suspends: run it in a task of its own.  0 once stopped
 * and drained; -EBUSY if it is already running or ran before; -ECANCELED if
 * the task was cancelled (every connection is cancelled too and ends on its
 * own); -CO_ENOTASK.  An accept error other than running out of descriptors
 * (which backs off) stops the server and is returned after the drain. */
int server_await_run(http_server *s, int64_t deadline);

/* Stop: close the listener now (new connections are refused), close idle
 * keep-alive connections now, answer requests in flight with "Connection:
 * close", and after grace_ms cancel what is still running (their
 * connections are closed).  Never suspends; call it on the server's loop
 * thread (from a task, or plain code).  Calling it again only shortens the
 * grace period. */
void server_stop(http_server *s, int64_t grace_ms);

/* server_stop(), then wait until server_await_run() has returned.
 * Suspends.  0, -ETIMEDOUT, -ECANCELED, -CO_ENOTASK. */
int server_await_stop(http_server *s, int64_t grace_ms, int64_t deadline);

/* Free the server: call it after server_await_run() returned (or if it never
 * ran).  Closes the listener if still open.  If connections are still
 * alive (the run task was cancelled), the last of them frees the memory.
 * Never suspends.  NULL is fine. */
void server_free(http_server *s);

/* A snapshot of the counters.  Never suspends; any thread. */
void server_get_stats(const http_server *s, struct server_stats *out);

/* ---- in a handler: the request ---- */

/* The value of the first field named `name` (case-insensitive), with its
 * length in *len (may be NULL), or NULL.  Not NUL-terminated. */
const char *server_request_header(const struct server_request *req, const char *name, size_t *len);

/* True if the request's method is `method` (exact, case-sensitive as HTTP says). */
bool server_request_method_is(const struct server_request *req, const char *method);

/* ---- in a handler: the response ----
 *
 * Either resp_await_send() the whole body at once (Content-Length), or
 * resp_await_start() with a length or RESP_CHUNKED, then resp_await_write()
 * any number of times, then resp_await_end().  The server writes the status
 * line, Date, the framing (Content-Length or Transfer-Encoding: chunked, never
 * both; nothing for 204 and 304) and Connection; a HEAD request gets the head
 * only; an HTTP/1.0 client gets a streamed body delimited by the close.
 * Every resp_await_* waits at most write_timeout_ms per write, whatever the
 * deadline.  After a write error the connection is closed once the handler
 * returns; further calls return -EPIPE. */

#define RESP_CHUNKED ((int64_t)-1)  /* resp_await_start: length unknown, stream chunks */

/* Set the status (200..599; default 200).  Never suspends.  0, -EINVAL,
 * -EALREADY (the head was sent). */
int resp_set_status(server_response *r, int status);

/* Add a field to the head.  The name must be a token, the value free of
 * control bytes (CR/LF injection is refused, not escaped); Content-Length,
 * Transfer-Encoding and Connection belong to the server (use
 * resp_close_after()).  Values are copied.  Never suspends.  0, -EINVAL,
 * -ENOSPC (more than 2 KiB of fields), -EALREADY. */
int resp_add_header(server_response *r, const char *name, const char *value);

/* Close the connection after this response ("Connection: close"). */
void resp_close_after(server_response *r);

/* Send the head with Content-Length: len and the body.  Suspends.  0,
 * -EALREADY (already started), or a write error (-EPIPE, -ECONNRESET,
 * -ETIMEDOUT, -ECANCELED, NET_ETLS...). */
int resp_await_send(server_response *r, const void *body, size_t len, int64_t deadline);

/* Send the head now, for a body of `length` bytes (>= 0) or RESP_CHUNKED.
 * Suspends.  0, -EALREADY, -EINVAL (length < 0 and not RESP_CHUNKED), or a
 * write error. */
int resp_await_start(server_response *r, int64_t length, int64_t deadline);

/* Send body bytes (one chunk when chunked; nothing for HEAD, but counted).
 * Starts a chunked response if nothing was sent yet.  Suspends.  0, -EINVAL
 * (more than the declared length), -EALREADY (ended), or a write error. */
int resp_await_write(server_response *r, const void *data, size_t len, int64_t deadline);

/* End the body (the last chunk, for chunked).  A declared length not
 * reached closes the connection.  Called by the server if the handler
 * returns without it.  Suspends.  0, -EALREADY, or a write error. */
int resp_await_end(server_response *r, int64_t deadline);

/* Cut the connection when the handler returns, whatever was sent (fault
 * tests: a body cut short).  reset: with a TCP RST instead of a FIN.  Never
 * suspends. */
void resp_abort(server_response *r, bool reset);

/* True once the head was sent. */
bool resp_started(const server_response *r);

/* The status set so far (200 by default; what was sent once started). */
int resp_status(const server_response *r);

/* ---- several loops on several threads ---- */

typedef struct server_threads server_threads;

/* Start `threads` (>= 1) threads, each with its own loop and its own server
 * made from opts (a copy; with more than one thread, reuseport is forced on
 * so all listen on the same port and the kernel spreads connections).  The
 * handler runs on those threads: handler_arg must be safe to share.  Blocks
 * the calling thread until every server listens (or one failed).  Never
 * suspends.  0 and *out (the caller's: server_threads_stop()), -EINVAL,
 * -ENOMEM, -EAGAIN (no thread), or the first server_new() error. */
int server_threads_start(const struct server_opts *opts, int threads, server_threads **out);

/* The shared port. */
int server_threads_port(const server_threads *t);

/* The counters of every thread's server, added up.  Any thread, until
 * server_threads_stop(). */
void server_threads_stats(const server_threads *t, struct server_stats *out);

/* Stop every server with server_stop(grace_ms), wait for the threads to end
 * and free everything; *final (may be NULL) gets the counters added up as
 * they were at the end.  Blocks the calling thread (not a loop thread of
 * these servers).  Returns 0, or the first error a server's run returned. */
int server_threads_stop(server_threads *t, int64_t grace_ms, struct server_stats *final);

#endif
