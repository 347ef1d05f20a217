/* canned_server.h - a scriptable loopback server for the client's tests: it
 * listens on 127.0.0.1 port 0 and plays a script per connection (read a
 * request, send these exact bytes, drip them, stall, close, reset, cut TLS
 * short, ...), recording every request it read and counting connections.
 * So each framing and fault case is served byte for byte, with no HTTP
 * server logic in the way.  Not the real server (http/server.c), on purpose.
 *
 * Its tasks live in a task group on the current loop: start it from a task
 * (or plain code with a loop), stop it from a task with
 * canned_server_await_stop(), which cancels whatever is still running.
 *
 *     struct canned_server s = { .scripts = {
 *         { C_READ, C_SEND("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), C_REPEAT },
 *     } };
 *     canned_server_start(&s);   ... requests to s.port ...
 *     canned_server_await_stop(&s); canned_server_free(&s);
 */
#ifndef COLOOP_TESTS_CANNED_SERVER_H
#define COLOOP_TESTS_CANNED_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "runtime/group.h"
#include "net/tls.h"

enum canned_op {
    CANNED_END = 0,     /* end of script: orderly close (FIN; TLS close_notify first) */
    CANNED_READ,        /* read one request, head and body (Content-Length or chunked) */
    CANNED_READ_HEAD,   /* read one request head only */
    CANNED_READ_BODY,   /* read the body of the last head */
    CANNED_SEND,        /* write text[0..len) */
    CANNED_DRIP,        /* write text one byte at a time, ms between bytes */
    CANNED_ECHO,        /* 200 with the last request's body as the body */
    CANNED_SLEEP,       /* pause ms */
    CANNED_CLOSE,       /* orderly close now, script over */
    CANNED_RESET,       /* close with a TCP RST, script over */
    CANNED_CUT,         /* TCP FIN without TLS close_notify, then wait for the client to go */
    CANNED_AWAIT_EOF,   /* wait (up to ms, 0: 10 s) for the client to close, script over */
    CANNED_REPEAT       /* back to the first step (a keep-alive server) */
};

/* One step of a connection's script. */
struct canned_step {
    enum canned_op op;
    const char *text;   /* SEND, DRIP: the bytes */
    size_t len;         /* their length */
    int ms;             /* DRIP, SLEEP, AWAIT_EOF: milliseconds */
};

#define C_END { CANNED_END, NULL, 0, 0 }
#define C_READ { CANNED_READ, NULL, 0, 0 }
#define C_READ_HEAD { CANNED_READ_HEAD, NULL, 0, 0 }
#define C_READ_BODY { CANNED_READ_BODY, NULL, 0, 0 }
#define C_SEND(lit) { CANNED_SEND, (lit), sizeof(lit) - 1, 0 }
#define C_DRIP(lit, ms) { CANNED_DRIP, (lit), sizeof(lit) - 1, (ms) }
#define C_ECHO { CANNED_ECHO, NULL, 0, 0 }
#define C_SLEEP(ms) { CANNED_SLEEP, NULL, 0, (ms) }
#define C_CLOSE { CANNED_CLOSE, NULL, 0, 0 }
#define C_RESET { CANNED_RESET, NULL, 0, 0 }
#define C_CUT { CANNED_CUT, NULL, 0, 0 }
#define C_AWAIT_EOF { CANNED_AWAIT_EOF, NULL, 0, 0 }
#define C_REPEAT { CANNED_REPEAT, NULL, 0, 0 }

/* scripts[i] serves the i-th connection, later ones the last script given
 * (a script whose first two steps are CANNED_END counts as not given: to
 * close at once, start with C_CLOSE). */
#define CANNED_SCRIPTS 8
#define CANNED_STEPS 16
#define CANNED_REQUESTS 64      /* requests recorded (more are counted, not kept) */

/* What the server read. */
struct canned_request {
    char *head;             /* the request head as received (NUL-terminated) */
    char *body;             /* the decoded body (NUL-terminated), or NULL */
    size_t body_len;
    size_t early;           /* bytes already buffered right after the head (100-continue check) */
    int conn;               /* which connection (0-based, in accept order) */
};

struct canned_server {
    /* set before canned_server_start */
    struct canned_step scripts[CANNED_SCRIPTS][CANNED_STEPS];
    tls_ctx *tls;           /* server TLS context, or NULL for plain TCP (borrowed) */
    bool no_accept;         /* listen with backlog 0 and never accept (connect timeouts) */
    /* results */
    int port;               /* where it listens */
    int connections;        /* connections accepted */
    int requests;           /* requests read (all connections) */
    int client_closes;      /* connections the client closed first (EOF while reading) */
    struct canned_request reqs[CANNED_REQUESTS];
    /* internal */
    int lfd;                /* the listener */
    int filler_fd;          /* no_accept: the connection that fills the backlog */
    co_group *group;        /* the accept loop and the connection tasks */
};

/* Listen and start serving.  Never suspends.  0, or a negative code. */
int canned_server_start(struct canned_server *s);

/* Cancel everything still running, wait for it, close the listener.
 * Suspends (call it from a task).  0 or a negative code. */
int canned_server_await_stop(struct canned_server *s);

/* Free the recorded requests.  Never suspends. */
void canned_server_free(struct canned_server *s);

/* "http://127.0.0.1:PORT" + path into buf (https with tls); returns buf. */
const char *canned_url(const struct canned_server *s, const char *path, char *buf, size_t len);

/* The client tests' frame: a new loop; a task that starts srv (if not
 * NULL), makes a client with opts, runs fn(env), frees the client, stops
 * and frees srv; then the loop must end clean (loop_free_clean) with the
 * client's pool empty.  fn's checks use Check's ck_assert.  The caller
 * still frees srv (canned_server_free) after looking at what it recorded. */
struct http_client;
struct http_client_opts;
struct canned_env {
    struct canned_server *srv;      /* the server, or NULL */
    struct http_client *client;     /* the client under test */
    void *arg;                      /* the test's own data */
};
void canned_run(struct canned_server *srv, const struct http_client_opts *opts,
                void (*fn)(struct canned_env *), void *arg);

/* The client's counters (http_client_get_stats), as a value for asserts. */
struct http_client_stats canned_stats(struct canned_env *e);

/* srv's URL for path, in a static buffer (one at a time). */
const char *canned_path(const struct canned_server *s, const char *path);

#endif
