/* client_internal.h - what the client's files share and callers do not
 * see: the client object, pooled connections, pool waiters, and the state
 * of one call (a request with its redirects and retry).
 *
 *   client.c           the public calls, validation, redirects, the retry rule
 *   client_exchange.c  one request/response exchange on a connection
 *   client_body.c      request body sources, response sinks, response storage
 *   client_pipeline.c  several requests on one connection
 *   client_dial.c      DNS, TCP and TLS for a new connection
 *   connpool.c         origins, idle connections, caps, the FIFO of waiters
 */
#ifndef COLOOP_HTTP_CLIENT_INTERNAL_H
#define COLOOP_HTTP_CLIENT_INTERNAL_H

#include "http/client.h"
#include "http/url.h"
#include "net/stream.h"
#include "runtime/sync.h"

struct pool_host;

/* A connection: a stream plus the parser state of the response on it. */
struct http_conn {
    stream *s;                      /* the transport; owned */
    struct pool_host *host;         /* the origin it belongs to */
    struct http_conn *prev, *next;  /* the host's idle list (most recent first) */
    struct http_conn *gprev, *gnext;/* the client's idle list, for eviction (most recent first) */
    int64_t idle_since;             /* loop clock when it went idle */
    uint64_t exchanges;             /* responses read on it */
    char peer[SOCK_ADDR_STRLEN];    /* the address dialled ("127.0.0.1:8080"): kept here
                                       because a reused connection has no DNS answer to ask */
    struct http_parser parser;      /* the response being read */
    struct http_header *fields;     /* parser's field array (fields_max) */
    struct http_header *trailers;   /* parser's trailer array (fields_max) */
};

/* How a connection comes back to the pool. */
enum conn_fate {
    CONN_KEEP,      /* complete response, reusable: idle (or handed to a waiter) */
    CONN_CLOSE,     /* orderly close (Connection: close, close-delimited, ...) */
    CONN_ABORT      /* unknown state (error, timeout, cancel): reset */
};

/* What a waiter was given. */
enum pool_grant {
    GRANT_NONE,     /* nothing yet */
    GRANT_CONN,     /* an idle connection (in conn) */
    GRANT_DIAL      /* a reserved slot: dial a new connection */
};

/* A task queued for a connection slot (lives on its stack). */
struct pool_waiter {
    struct pool_waiter *prev, *next;    /* its host's FIFO */
    uint64_t seq;                       /* arrival order across hosts */
    struct pool_host *host;             /* the origin it wants */
    struct co_event ready;              /* set when granted */
    enum pool_grant grant;              /* what it got */
    struct http_conn *conn;             /* GRANT_CONN: the connection */
};

/* One origin (scheme, host, port): its idle connections and waiters. */
struct pool_host {
    char *origin;                       /* "http://host:port", the key; owned */
    struct pool_host *chain;            /* next in the hash bucket */
    struct http_conn *idle_head;        /* idle connections, most recent first */
    size_t idle;                        /* how many */
    size_t open;                        /* open or being dialled (idle included) */
    struct pool_waiter *wait_head, *wait_tail; /* FIFO of waiters for this origin */
    size_t waiting;                     /* how many */
    struct pool_host *wprev, *wnext;    /* the client's list of origins with waiters */
};

struct http_client {
    struct http_client_opts o;          /* options with defaults applied */
    char *user_agent;                   /* owned; "" for none */
    tls_ctx *tls;                       /* https context, or NULL until needed */
    bool own_tls;                       /* we made it: free it */
    struct pool_host **buckets;         /* hash table of origins */
    size_t nbuckets;                    /* a power of two */
    size_t nhosts;                      /* origins in the table */
    struct http_conn *gidle_head, *gidle_tail; /* all idle connections, most recent first */
    struct pool_host *whead, *wtail;    /* origins with waiters */
    uint64_t wait_seq;                  /* arrival counter for waiters */
    size_t open_total;                  /* connections open or being dialled */
    size_t holders;                     /* calls holding a connection or a slot */
    struct http_client_stats st;        /* counters */
};

/* One call: a request through its redirects and its retry. */
struct http_call {
    http_client *c;
    const struct http_request *req;
    struct http_response *resp;
    int64_t t0;                     /* monotonic start (real clock) */
    int64_t deadline;               /* total: min(caller's, total_timeout), loop clock */
    bool caller_deadline;           /* deadline is the caller's (for the detail) */
    struct http_url url;            /* this hop's URL (owned) */
    const char *method;             /* this hop's method */
    bool idempotent;                /* may be retried */
    bool send_body;                 /* this hop sends the request body */
    bool strip_auth;                /* cross-origin hop seen: no Authorization/Cookie any more */
    bool strip_content;             /* the body was dropped: no Content-* fields */
    bool close_after;               /* the caller asked for Connection: close */
    int max_redirects;              /* -1: none followed */
    uint64_t body_max;              /* in-memory body cap */
    /* the current exchange */
    struct http_conn *conn;         /* held connection */
    bool reused;                    /* conn came from the pool */
    bool head_sent;                 /* the request head was written */
    bool body_pending;              /* Expect: 100-continue: body not sent yet */
    bool got_byte;                  /* a response byte arrived */
    bool pipelined;                 /* more responses follow on this connection */
    enum conn_fate fate;            /* what to do with conn afterwards */
    char *location;                 /* a redirect to follow (owned), else NULL */
    int64_t t_sent;                 /* monotonic: request head written */
    int64_t expect_deadline;        /* loop clock: stop waiting for 100 Continue */
    int status;                     /* the final status of this exchange */
};

/* ---- client.c ---- */
/* Refuse a request that must not be sent (HTTP_E_REQUEST_INVALID, detail set). */
int client_check_request(const struct http_request *q, struct http_response *r);
/* Set up a call (no URL parsed yet). */
void client_call_init(struct http_call *k, http_client *c, const struct http_request *req,
                      struct http_response *resp, int64_t deadline);
/* The connection broke before the server said anything (retryable). */
bool client_stale_error(int rc);
int64_t client_mono_ns(void);
/* min(deadline, now + ms) with the client's conventions (ms < 0: none). */
int64_t client_deadline_min(int64_t deadline, int64_t ms);
/* A -ETIMEDOUT from a call bounded by `used`: the total timeout if `used`
 * is the call's deadline, else `kind` (HTTP_E_CONNECT_TIMEOUT, _READ_,
 * _WRITE_).  Sets the detail ("while <what>"); returns the negative code. */
int client_timeout(struct http_call *k, int64_t used, int kind, const char *what);

/* ---- connpool.c ---- */
/* Get a connection for k->url: idle (checked for EOF), or a new one once a
 * slot is free.  Suspends.  0 with k->conn, k->reused; or an error with
 * the detail set (nothing held). */
int connpool_await_acquire(struct http_call *k);
/* Give k->conn back according to k->fate.  Never suspends. */
void connpool_release(http_client *c, struct http_conn *conn, enum conn_fate fate);
/* Close idle connections: all of them, or those past idle_timeout. */
void connpool_close_idle(http_client *c, bool all);
/* Close every idle connection and free the origin table. */
void connpool_free(http_client *c);

/* ---- client_dial.c ---- */
/* DNS, TCP, TLS for k->url under the connect timeout, timed into
 * k->resp->timings.  Suspends.  0 and *out (a connection of origin h), or an
 * error with the detail set (nothing left open). */
int client_await_dial(struct http_call *k, struct pool_host *h, struct http_conn **out);

/* ---- client_exchange.c ---- */
/* Format and send the request head (and the body unless it must wait for
 * 100 Continue).  Suspends.  0 or an error (k->fate set).  This and the
 * next fill resp's peer, tls_version and tls_alpn from k->conn. */
int client_exchange_await_send(struct http_call *k);
/* Read the response (handing 1xx heads to on_interim and skipping them,
 * sending a held body on 100), deliver or drain its body.  Suspends.  0 or an error; k->fate says the conn's fate. */
int client_exchange_await_receive(struct http_call *k);
/* Build the request head into a malloc'd buffer with `extra` spare bytes
 * after it.  0 with *out and *len, HTTP_E_REQUEST_INVALID (detail set) or
 * -ENOMEM.  Never suspends. */
int client_exchange_format_head(struct http_call *k, size_t extra, char **out, size_t *len);
/* Write to k->conn, each piece bounded by the read timeout (as a write
 * timeout) and the call's deadline.  Suspends.  0 or an error (detail set). */
int client_exchange_await_write(struct http_call *k, const void *buf, size_t len, const char *what);

/* ---- client_body.c ---- */
/* Send the request body (buffer, callback; chunked if its length is unknown). */
int client_body_await_send(struct http_call *k);
/* Copy the final head into resp (one allocation).  0 or -ENOMEM. */
int client_body_store_head(struct http_response *r, const struct http_head *h);
/* Copy trailers into resp.  0 or -ENOMEM. */
int client_body_store_trailers(struct http_response *r, const struct http_header *t, size_t n);
/* Deliver a piece of the response body (memory with cap, or the callback). */
int client_body_deliver(struct http_call *k, const char *data, size_t len);
/* Announce the body size (Content-Length): up to 1 MiB is reserved at once,
 * the rest as bytes come (the length is only the server's claim). */
void client_body_expect(struct http_call *k, uint64_t len);
/* Drop what a response holds except detail, timings, url, redirects. */
void client_body_reset_response(struct http_response *r, bool keep_url);

#endif
