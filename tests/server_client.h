/* server_client.h - a deliberately small HTTP/1.1 client for the server and
 * httpbin suites: the test writes raw request bytes (so it can send exactly
 * the malformed, pipelined or slow requests it means), and reads back one
 * parsed response at a time with the project's own parser.  Not the real
 * client (http/client.h): that one is tested against this server too, but
 * the server's tests must not depend on it.
 */
#ifndef COLOOP_TESTS_SERVER_CLIENT_H
#define COLOOP_TESTS_SERVER_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/parse.h"
#include "http/server.h"
#include "net/stream.h"
#include "runtime/task.h"

#define TC_FIELDS 64

/* One response: the head copied, the body collected (NUL-terminated). */
struct tc_resp {
    int status;                         /* 100..599 */
    unsigned version_minor;             /* HTTP/1.x */
    bool keep_alive;                    /* the server lets the connection persist */
    enum http_framing framing;          /* how the body was delimited */
    char *head;                         /* the head's bytes (malloc'd) */
    struct http_header fields[TC_FIELDS]; /* into head */
    size_t field_count;
    char *body;                         /* malloc'd, NUL-terminated ("" if none) */
    size_t body_len;
};

/* Connect to 127.0.0.1:port (TLS if tls, verifying "127.0.0.1").  Suspends.
 * 0 and *out, or the connect/handshake code. */
int tc_await_connect(int port, tls_ctx *tls, stream **out, int64_t deadline);

/* Write the NUL-terminated raw text.  Suspends.  0 or a write error. */
int tc_await_send(stream *s, const char *raw, int64_t deadline);

/* Read one response to a request with `method` (HEAD: no body), skipping
 * 1xx.  Suspends.  0 with *r filled (tc_resp_free it), or: -HTTP_E_CLOSED
 * (the server closed before any byte), a parser code (-HTTP_E_INCOMPLETE:
 * the body was cut), -ETIMEDOUT, an I/O code.  On failure *r holds what
 * arrived (status if the head did, the body so far). */
int tc_await_response(stream *s, const char *method, struct tc_resp *r, int64_t deadline);

/* Free what *r holds (safe on a zeroed struct). */
void tc_resp_free(struct tc_resp *r);

/* The first value of field `name` copied into buf (NUL-terminated), or NULL. */
const char *tc_header(const struct tc_resp *r, const char *name, char *buf, size_t len);

/* Connect, send "METHOD target HTTP/1.1" with Host and Connection: close
 * (and extra raw header lines, may be NULL), read the response, close.
 * Suspends.  As tc_await_response, or the connect error. */
int tc_await_request(int port, tls_ctx *tls, const char *method, const char *target,
                     const char *extra, struct tc_resp *r, int64_t deadline);

/* Wait until the server closes the connection: true if a read returns end
 * of stream (or a reset) before the deadline, false on timeout or data.
 * Suspends. */
bool tc_await_closed(stream *s, int64_t deadline);

/* CLOCK_MONOTONIC in milliseconds (real time, not the loop's cached clock). */
int64_t tc_now_ms(void);

/* Spawn fn(arg) on the current loop and detach it (the test fails if the
 * spawn does). */
#define tc_spawn_detached(fn, arg) tc_spawn_detached_at((fn), (arg), #fn, __FILE__, __LINE__)
void tc_spawn_detached_at(co_task_fn fn, void *arg, const char *name, const char *file, int line);

/* ---- the server suites' fixture ---- */

/* The server of the running test and its port. */
extern http_server *tc_server;
extern int tc_port;

/* A handler for the server suites: "/sleep/MS", "/chunks" (three chunks),
 * "/big" (8 MiB), "/nocontent" (204), "/noanswer", "/fail" (-EIO),
 * "/inject" (a CR/LF header value), else echo the body with X-Method; every
 * answer carries X-Conn, X-Request-Number and X-TLS. */
int tc_test_handler(const struct server_request *req, server_response *resp, void *arg);

/* Make a loop and a server from o (handler default: tc_test_handler), run
 * it in a task and client(arg) in another until both end (the client must
 * stop the server: tc_stop_server), then check nothing leaked
 * (loop_free_clean). */
void tc_with_server(struct server_opts *o, co_task_fn client, void *arg);

/* server_await_stop(tc_server, 1 s grace), asserted. */
void tc_stop_server(void);

/* A deadline 3 s from now. */
int64_t tc_dl(void);

/* The value of field `name` of r, or "(none)" (four rotating buffers, so a
 * few may be used in one expression). */
const char *tc_hdr(const struct tc_resp *r, const char *name);

#endif
