/* client.h - the HTTP/1.1 client: requests with bodies in memory, from a
 * callback or a file; responses into memory (capped) or streamed out; a
 * keep-alive connection pool per origin with caps, a FIFO queue and its own
 * timeout; one transparent retry on a stale pooled connection; redirects;
 * connect / read / total timeouts; TLS through net/ (verified by default).
 *
 * Not here: the wire format (parse.h parses responses and formats request
 * heads), URLs (url.h), sockets and TLS (net/).  The server is server.h.
 *
 * One client is used by any number of tasks of one loop at once: each
 * request takes a connection from the pool for itself (or waits for one),
 * and gives it back when its response has been read completely.  Requests
 * beyond the caps wait in arrival order.  A client belongs to one loop (one
 * thread); a program with several loops makes one client per loop.
 *
 * Errors are negative codes: the net/ codes (DNS, connect, TLS), the
 * parser's codes (httperr.h: which protocol rule the server broke, or which
 * limit it exceeded), -ECANCELED, -ENOMEM, and the client's own below.
 * co_strerror() names every one; response->detail says what and where
 * ("read timeout: no byte from 127.0.0.1:8080 for 200 ms while reading the
 * response head").
 *
 * Typical use, from a task:
 *
 *     http_client *c;
 *     http_client_new(NULL, &c);
 *     struct http_response r;
 *     int rc = http_await_get(c, "http://localhost:8080/", &r, CO_NO_DEADLINE);
 *     if (rc == 0) printf("%d, %zu bytes\n", r.status, r.body_len);
 *     else printf("%s: %s\n", co_strerror(rc), r.detail.text);
 *     http_response_fini(&r);
 *     http_client_free(c);     // after every request has returned
 */
#ifndef COLOOP_HTTP_CLIENT_H
#define COLOOP_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "http/httperr.h"
#include "http/parse.h"
#include "net/neterr.h"
#include "net/socket.h"
#include "net/tls.h"

/* The client's own codes, in the http/ range (above the parser's). */
enum http_client_error {
    HTTP_CLIENT_ERR_BASE = 12500,
    HTTP_E_CONNECT_TIMEOUT,     /* 12501 DNS + TCP connect + TLS handshake over connect_timeout */
    HTTP_E_READ_TIMEOUT,        /* 12502 no response byte for read_timeout */
    HTTP_E_WRITE_TIMEOUT,       /* 12503 the server took no request byte for read_timeout */
    HTTP_E_TOTAL_TIMEOUT,       /* 12504 all hops over total_timeout or the caller's deadline */
    HTTP_E_POOL_TIMEOUT,        /* 12505 no connection slot came free within pool_timeout */
    HTTP_E_REQUEST_INVALID,     /* 12506 refused before sending: CR/LF/NUL in a header, ... */
    HTTP_E_TOO_MANY_REDIRECTS,  /* 12507 more redirects than max_redirects */
    HTTP_E_BAD_REDIRECT,        /* 12508 a redirect without a usable Location */
    HTTP_E_BODY_SOURCE,         /* 12509 the body source gave more/fewer bytes than announced */
    HTTP_CLIENT_ERR_END
};

/* True for the five timeout codes above (and -ETIMEDOUT).  Never suspends. */
bool http_error_is_timeout(int code);

/* Timeouts are in milliseconds: 0 means the default, HTTP_TIMEOUT_NONE none. */
#define HTTP_TIMEOUT_NONE ((int64_t)-1)
#define HTTP_CONNECT_TIMEOUT_DEFAULT_MS 10000
#define HTTP_READ_TIMEOUT_DEFAULT_MS 30000
#define HTTP_POOL_TIMEOUT_DEFAULT_MS 30000
#define HTTP_IDLE_TIMEOUT_DEFAULT_MS 30000
#define HTTP_EXPECT_TIMEOUT_DEFAULT_MS 1000
#define HTTP_CONNS_PER_HOST_DEFAULT 8
#define HTTP_CONNS_TOTAL_DEFAULT 256
#define HTTP_REDIRECTS_DEFAULT 10
#define HTTP_CLIENT_HEAD_MAX_DEFAULT (32 * 1024)   /* also the connection's read buffer */
#define HTTP_DRAIN_MAX_DEFAULT (64 * 1024)         /* unread body drained to keep a connection */
#define HTTP_USER_AGENT_DEFAULT "coloop/0.1"

/* Client configuration; NULL (or a zeroed struct) means all defaults. */
struct http_client_opts {
    tls_ctx *tls;                   /* https: this context (borrowed: keep it till client_free) */
    const struct tls_client_opts *tls_opts; /* or make one from these at http_client_new */
    const char *user_agent;         /* NULL: HTTP_USER_AGENT_DEFAULT; "" sends none (copied) */
    int max_conns_per_host;         /* per origin (scheme, host, port); 0: 8 */
    int max_conns_total;            /* all origins; 0: 256 */
    int64_t connect_timeout_ms;     /* DNS + connect + TLS handshake; 0: 10 s */
    int64_t read_timeout_ms;        /* longest silence between bytes, either way; 0: 30 s */
    int64_t total_timeout_ms;       /* a whole request, redirects included; 0: none */
    int64_t pool_timeout_ms;        /* waiting for a connection slot; 0: 30 s */
    int64_t idle_timeout_ms;        /* idle pooled connections older than this close; 0: 30 s */
    int64_t expect_timeout_ms;      /* Expect: 100-continue: send the body anyway after; 0: 1 s */
    int max_redirects;              /* 0: 10; -1: return 3xx responses as they are */
    uint64_t body_max;              /* response body kept in memory; 0: HTTP_BODY_MAX_DEFAULT */
    size_t head_max;                /* response head (and trailer section) bytes; 0: 32 KiB */
    size_t fields_max;              /* response header fields; 0: HTTP_FIELDS_DEFAULT */
    unsigned interim_max;           /* 1xx responses skipped before a final one; 0: 8 */
    size_t drain_max;               /* unread body bytes read to keep a connection; 0: 64 KiB */
    int family;                     /* AF_UNSPEC (0), AF_INET or AF_INET6 */
    struct sock_opts sock;          /* Nagle, socket buffer sizes */
};

typedef struct http_client http_client;

/* Make a client.  Never suspends.  0 and *out (the caller's:
 * http_client_free), -ENOMEM, -EINVAL (a negative cap), or NET_ETLS_CONFIG
 * when tls_opts names a trust store that cannot be loaded.  Without tls and
 * tls_opts, the first https request makes a context with the system trust
 * store (verification on). */
int http_client_new(const struct http_client_opts *opts, http_client **out);

/* Close every pooled connection and free the client.  Call it from the
 * loop's thread after every request has returned: a request still holding
 * a connection or waiting for one is a bug, reported on stderr, and the
 * client is then leaked rather than freed under it.  Never suspends.  NULL
 * is fine. */
void http_client_free(http_client *c);

/* Close the idle pooled connections now (the pool prunes expired ones
 * itself whenever it is used).  Never suspends. */
void http_client_close_idle(http_client *c);

/* Request body from a callback: copy up to len bytes of the body, starting
 * at byte `offset`, into buf; return how many (> 0), 0 at the end, or a
 * negative code (the request fails with it).  May suspend.  Offsets only
 * grow within one attempt, but a retry or a 307/308 redirect starts again
 * at 0: a source that cannot rewind returns -ESPIPE then. */
typedef ssize_t (*http_body_read_fn)(void *arg, uint64_t offset, char *buf, size_t len);

/* Response body to a callback: called with each piece in order (never with
 * len 0); return 0 to go on or a negative code to stop (the request fails
 * with it and the connection is closed).  May suspend. */
typedef int (*http_body_write_fn)(void *arg, const char *data, size_t len);

/* Ready-made callbacks for files: arg is the descriptor, (void *)(intptr_t)fd.
 * The reader uses pread (so it rewinds), the writer write(2).  Regular files
 * only: they never make the loop wait long (a pipe or a socket would). */
ssize_t http_body_read_fd(void *arg, uint64_t offset, char *buf, size_t len);
int http_body_write_fd(void *arg, const char *data, size_t len);

/* An interim (1xx) response head, as handed to http_interim_fn.  Zero-copy:
 * the reason and the field names and values point into the connection's
 * read buffer, are NOT NUL-terminated (use the lengths), and are valid only
 * during the call: copy what you keep. */
struct http_interim {
    int status;                     /* 100..199, never 101 */
    unsigned version_minor;         /* HTTP/1.x */
    const char *reason;             /* reason phrase (reason_len bytes; may be empty) */
    size_t reason_len;
    const struct http_header *fields; /* field lines in order */
    size_t field_count;
};

/* Interim responses to a callback: called once for each 1xx head the server
 * sends before the final response (100 Continue, 103 Early Hints, ...), in
 * the order they arrive, before the final head is read.  Never for 101
 * Switching Protocols: the client never asks to switch, so a 101 fails the
 * request (HTTP_E_UPGRADE_REFUSED) as it does without a callback.  When the
 * client follows redirects, each hop's interim heads are handed out, but
 * not the redirect responses themselves (set max_redirects to -1 to see
 * every final head).  A retry never repeats one: the client retries only
 * when no response byte arrived.  May suspend (to write the head out, say):
 * the connection waits, and the time counts against the call's deadline.
 * Return 0 to go on; any other value stops the request: it fails with that
 * code if it is negative, with -ECANCELED if positive, the detail says the
 * callback stopped it, and the connection is closed (its response is half
 * read).  With 100 Continue and expect_continue, the callback runs before
 * the held body is sent, so stopping there sends no body. */
typedef int (*http_interim_fn)(void *arg, const struct http_interim *head);

/* One request.  Caller-owned; everything it points to must stay valid until
 * the call returns.  Zero it, then set url (and whatever else). */
struct http_request {
    const char *method;             /* NULL: "GET" (a token: no CR, LF, SP, NUL) */
    const char *url;                /* absolute http:// or https:// URL */
    const struct http_header *headers; /* extra fields, in order (not Host, Content-Length,
                                          Transfer-Encoding: the client sets those) */
    size_t header_count;
    const void *body;               /* the body in memory (body_len bytes), or NULL */
    size_t body_len;
    http_body_read_fn body_read;    /* or streamed from this callback ... */
    void *body_arg;                 /* ... given this argument ... */
    int64_t body_length;            /* ... with this many bytes; -1: unknown, sent chunked */
    bool expect_continue;           /* send "Expect: 100-continue" and the body only after 100
                                       (or after expect_timeout) */
    http_body_write_fn on_body;     /* NULL: the response body goes into response->body */
    void *on_body_arg;
    http_interim_fn on_interim;     /* NULL: interim 1xx heads are skipped unseen */
    void *on_interim_arg;
    uint64_t body_max;              /* in-memory body cap for this request; 0: the client's */
    int max_redirects;              /* 0: the client's; -1: do not follow */
};

/* When each phase happened, for the last hop (total covers every hop).
 * Durations in nanoseconds; 0 for a phase that did not happen (a reused
 * connection has no DNS, connect or TLS). */
struct http_timings {
    int64_t pool_wait_ns;           /* waiting for a connection slot */
    int64_t dns_ns;                 /* name lookup (about 0 for numeric hosts and cache hits) */
    int64_t connect_ns;             /* TCP connect, every address tried */
    int64_t tls_ns;                 /* TLS handshake */
    int64_t first_byte_ns;          /* request sent until the first response byte */
    int64_t total_ns;               /* the whole call */
};

/* A response.  Filled in by the calls below, failed or not (on failure: no
 * status, the detail and timings only).  Free with http_response_fini. */
struct http_response {
    int status;                     /* 100..599; 0 if none */
    unsigned version_minor;         /* HTTP/1.x */
    const char *reason;             /* reason phrase (NUL-terminated) */
    struct http_header *headers;    /* field lines in order; names and values NUL-terminated */
    size_t header_count;
    struct http_header *trailers;   /* a chunked body's trailer fields */
    size_t trailer_count;
    char *body;                     /* the body in memory (NUL-terminated), unless on_body */
    size_t body_len;
    uint64_t body_received;         /* decoded body bytes received (also with on_body) */
    char *url;                      /* the URL that answered, after redirects */
    int redirects;                  /* redirects followed */
    bool reused;                    /* the last hop ran on a pooled connection */
    bool retried;                   /* a stale pooled connection made us retry */
    /* The connection of the last hop, new or reused alike (as text, so a
     * program can print it without net/): filled as soon as the hop has a
     * connection, so a failure after that still says where it happened;
     * "" when the hop got no connection. */
    char peer[SOCK_ADDR_STRLEN];    /* the address connected to: "127.0.0.1:8080", "[::1]:443" */
    char tls_version[16];           /* "TLSv1.3", "TLSv1.2"; "" for plain http */
    char tls_alpn[16];              /* the protocol the server chose by ALPN: "http/1.1", or ""
                                       (plain http, or a server that ignored ALPN) */
    struct http_timings timings;
    struct net_detail detail;       /* what went wrong, in words ("" on success) */
    char *mem;                      /* internal: headers' storage */
    size_t body_cap;                /* internal: body allocation */
};

/* Free what a response owns and zero it.  Safe on a zeroed response.  Never
 * suspends. */
void http_response_fini(struct http_response *r);

/* The value of the first field named `name` (case-insensitive), or NULL.
 * Never suspends. */
const char *http_response_header(const struct http_response *r, const char *name);

/* Send a request and read its response, following redirects.  Suspends.
 * 0 when a response arrived (any status: a 404 is a response) with *resp
 * filled in; or a negative code, *resp holding the detail and timings:
 *   HTTP_E_REQUEST_INVALID   method, URL or a header refused (nothing sent)
 *   HTTP_E_URL_*             the URL (or a redirect's Location) is invalid
 *   NET_EDNS_*               the name did not resolve
 *   -ECONNREFUSED, ...       connect failed (every address tried)
 *   NET_ETLS_VERIFY / NET_ETLS / NET_ETLS_ALPN   TLS (the detail says why)
 *   HTTP_E_CONNECT_TIMEOUT, HTTP_E_READ_TIMEOUT, HTTP_E_WRITE_TIMEOUT,
 *   HTTP_E_TOTAL_TIMEOUT, HTTP_E_POOL_TIMEOUT   which timeout fired
 *   HTTP_E_CLOSED / HTTP_E_INCOMPLETE   the server closed too early
 *   NET_ETLS_TRUNCATED       a close-delimited body ended without close_notify
 *   -ECONNRESET, -EPIPE      the connection broke
 *   HTTP_E_* (httperr.h)     the response broke a protocol rule
 *   HTTP_E_BODY_TOO_LARGE, HTTP_E_HEADER_TOO_LARGE   a size cap
 *   HTTP_E_TOO_MANY_REDIRECTS, HTTP_E_BAD_REDIRECT, HTTP_E_BODY_SOURCE
 *   -ECANCELED               the calling task was cancelled
 *   the callbacks' own codes, -ENOMEM, -CO_ENOTASK
 * Whatever happens, the connection slot is given back and a connection in
 * an unknown state is closed.  `deadline` bounds the whole call, like
 * total_timeout (whichever is first). */
int http_await_request(http_client *c, const struct http_request *req, struct http_response *resp,
                       int64_t deadline);

/* Shorthands.  Suspend; return as http_await_request. */
int http_await_get(http_client *c, const char *url, struct http_response *resp, int64_t deadline);
int http_await_head(http_client *c, const char *url, struct http_response *resp, int64_t deadline);
/* POST len bytes of body (copied by nobody: valid until return) with this
 * Content-Type (NULL: none). */
int http_await_post(http_client *c, const char *url, const char *content_type, const void *body,
                    size_t len, struct http_response *resp, int64_t deadline);

/* Pipelining: send n bodiless GET/HEAD requests to one origin on one
 * connection back to back, then read the n responses in order.  Redirects
 * are not followed.  Suspends.  Returns how many responses arrived (resps[i]
 * for i below it are complete; each needs http_response_fini, all n do),
 * or a negative code if none did.  Requests the server did not answer
 * (it closed after a response with Connection: close, or after nothing on a
 * reused connection) are sent again on a fresh connection.  -EINVAL: n is
 * 0, a request has a body, is not GET/HEAD, or names another origin. */
int http_await_pipeline(http_client *c, const struct http_request *reqs, size_t n,
                        struct http_response *resps, int64_t deadline);

/* Counters (since http_client_new), and the pool's state now. */
struct http_client_stats {
    uint64_t requests;              /* http_await_* calls */
    uint64_t exchanges;             /* request/response exchanges (hops, retries, pipelined) */
    uint64_t failures;              /* calls that returned an error */
    uint64_t conns_new;             /* connections opened */
    uint64_t conns_reused;          /* exchanges on a pooled connection */
    uint64_t conns_closed;          /* connections closed */
    uint64_t stale_closed;          /* idle connections found closed (or talking) before reuse */
    uint64_t idle_expired;          /* idle connections closed by idle_timeout */
    uint64_t retries;               /* requests sent again after a stale connection */
    uint64_t redirects;             /* redirects followed */
    uint64_t drained;               /* unread bodies drained to keep the connection */
    uint64_t pool_waits;            /* acquisitions that had to queue */
    uint64_t pool_timeouts;         /* ... and gave up (HTTP_E_POOL_TIMEOUT) */
    uint64_t conns_open;            /* now: open connections (busy + idle + connecting) */
    uint64_t conns_idle;            /* now: idle in the pool */
    uint64_t waiting;               /* now: requests queued for a slot */
    uint64_t in_flight;             /* now: requests holding a connection or a slot */
};
void http_client_get_stats(const http_client *c, struct http_client_stats *out);

#endif
