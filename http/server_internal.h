/* server_internal.h - what the server's files share and users do not see:
 * server.c (listener, accept loop, stop, counters), server_conn.c (one
 * connection's task: heads, bodies, limits, timeouts) and server_resp.c (the
 * response writer).  server_threads.c uses only the public API.
 */
#ifndef COLOOP_HTTP_SERVER_INTERNAL_H
#define COLOOP_HTTP_SERVER_INTERNAL_H

#include <stdatomic.h>

#include "http/server.h"
#include "net/stream.h"
#include "runtime/sync.h"
#include "runtime/task.h"

#define SERVER_OUT_BUF 4096         /* per connection: response heads and small bodies */
#define SERVER_FIELDS_BUF 2048      /* per response: the handler's own header fields */
#define SERVER_BODY_KEEP (64 * 1024) /* a body buffer larger than this is freed after its request */

/* Counters, atomic so another thread may read them while the loop runs. */
struct server_counters {
    atomic_uint_fast64_t accepted, open, requests, reused, active, queued, rejected, timeouts,
        idle_closed, tls_failures;
};

/* One connection: owned by its task, listed in its server while alive. */
struct server_conn {
    struct server_conn *prev, *next;    /* the server's list of open connections */
    http_server *server;                /* the server that accepted it */
    co_task *task;                      /* its task (detached; valid while listed) */
    stream *st;                         /* the transport and its read buffer */
    struct sock_addr peer;              /* the client */
    uint64_t id;                        /* 1, 2, ... per server */
    unsigned requests;                  /* requests read so far */
    bool idle;                          /* waiting for the first byte of a request: a stop may
                                           cancel it */
    bool closing;                       /* close after the current response */
    bool dead;                          /* a write failed or the response was cut: close now */
    bool reset;                         /* close with RST (resp_abort) */
    bool linger;                        /* an error answer was sent: drain before closing */
    struct http_parser parser;          /* request parser over the stream's buffer */
    char *head;                         /* a copy of the current request head */
    size_t head_cap;                    /* its allocation */
    char *body;                         /* the current request body, NUL-terminated */
    size_t body_len, body_cap;          /* its length and allocation */
    char out[SERVER_OUT_BUF];           /* response head (and small body) being written */
    struct http_header fields[];        /* opts.fields_max field lines of the current head */
};

enum resp_state {
    RESP_NEW,                           /* nothing sent */
    RESP_STREAMING,                     /* head sent, body in progress */
    RESP_DONE                           /* complete (or failed) */
};

/* The response writer: lives on the connection task's stack for one request. */
struct server_response {
    struct server_conn *conn;           /* where it goes */
    const struct server_request *req;   /* what it answers */
    enum resp_state state;
    int status;                         /* 200 unless set */
    int64_t length;                     /* declared Content-Length, or RESP_CHUNKED */
    uint64_t written;                   /* body bytes the handler wrote */
    bool chunked;                       /* Transfer-Encoding: chunked on the wire */
    bool no_body;                       /* HEAD, 204 or 304: nothing after the head */
    bool close_after;                   /* resp_close_after() or the server's decision */
    int error;                          /* first write error, or 0 */
    size_t fields_len;                  /* bytes in fields */
    char fields[SERVER_FIELDS_BUF];     /* "Name: value\r\n" lines from resp_add_header */
};

/* Everything a server is; see server.c. */
struct http_server {
    struct server_opts opts;            /* with the defaults filled in */
    int lfd;                            /* the listener, -1 once closed */
    int port;                           /* its port */
    bool running;                       /* server_await_run in progress */
    bool ran;                           /* server_await_run was called */
    bool stopping;                      /* server_stop was called (or the run deadline passed) */
    int64_t grace_deadline;             /* when to cancel what is still running */
    unsigned refs;                      /* the owner's reference + one per open connection */
    bool freed;                         /* server_free was called */
    uint64_t next_conn_id;              /* the next connection's id */
    struct server_conn *conns;          /* open connections */
    struct co_waitgroup conns_wg;       /* counts open connections, for the drain */
    struct co_event wake;               /* wakes the accept loop: a connection ended, or stop */
    struct co_event done;               /* set when server_await_run returns */
    struct co_sem handlers;             /* max_concurrent permits */
    struct server_counters n;           /* counters */
};

/* server_conn.c: the connection task; arg is a server_conn already listed. */
int server_conn_main(void *arg);

/* server.c: a connection ended: unlist it and drop its reference. */
void server_conn_gone(struct server_conn *c);

/* server.c: drop a reference; the last one frees the server. */
void server_unref(http_server *s);

/* server_resp.c: prepare r for req on c.  Never suspends. */
void resp_init(server_response *r, struct server_conn *c, const struct server_request *req);

/* server_resp.c: answer with status and a short text body (errors, 429).
 * Suspends.  0 or a write error. */
int resp_await_simple(server_response *r, int status, const char *text, int64_t deadline);

/* server_resp.c: the reason phrase of a status ("Not Found"), "" if unknown. */
const char *server_reason(int status);

/* server_resp.c: write through the connection with the write timeout.
 * Suspends.  0 or the stream's error (also remembered in r->error). */
int resp_await_raw(server_response *r, const void *data, size_t len, int64_t deadline);

static inline void server_count(atomic_uint_fast64_t *c, int64_t delta)
{
    atomic_fetch_add_explicit(c, (uint_fast64_t)delta, memory_order_relaxed);
}

#endif
