/* httpbin.c - the built-in test target's router and routes (the list is in
 * httpbin.h), and the ways to run it: in the caller's loop, or on threads of
 * its own.  Request helpers and the JSON echo are in httpbin_echo.c, the
 * generated web site in site.c.
 *
 * Every route is a plain handler running in its connection's task.  The
 * slow ones (/delay, /drip) sleep with await_sleep_ms, so one client's delay
 * never holds up another: 10,000 clients each asking for /delay/1000 are all
 * answered after about one second, on one loop.  Every number a client sends
 * is bounded (a route that allocates or loops on an unbounded number is a
 * denial of service), and every answer is a function of the request alone,
 * so tests can predict it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/httpbin_internal.h"
#include "runtime/task.h"

#define BYTES_MAX (64L << 20)
#define STREAM_MAX 100000
#define DRIP_BYTES_MAX (10L << 20)
#define DRIP_DURATION_MAX 60000
#define REDIRECT_MAX 100
#define CLOSE_BYTES_MAX (1L << 20)
#define BLOCK 16384                 /* bytes per write for generated bodies */

/* The route after `prefix`, if the path starts with it. */
static bool route_is(const struct server_request *req, const char *prefix, const char **rest,
                     size_t *rest_len)
{
    size_t n = strlen(prefix);
    if (req->path_len < n || memcmp(req->path, prefix, n) != 0)
        return false;
    *rest = req->path + n;
    *rest_len = req->path_len - n;
    return true;
}

static bool path_is(const struct server_request *req, const char *path)
{
    return req->path_len == strlen(path) && memcmp(req->path, path, req->path_len) == 0;
}

static int await_bad(server_response *resp)
{
    return httpbin_await_text(resp, 400, "bad number\n");
}

/* /delay/MS: the echo, after MS ms of sleeping (other tasks run meanwhile). */
static int await_delay(const struct server_request *req, server_response *resp, const char *ms,
                       size_t len)
{
    long n;
    if (!httpbin_number(ms, len, HTTPBIN_DELAY_MAX_MS, &n))
        return await_bad(resp);
    int rc = await_sleep_ms(n);
    if (rc < 0)
        return rc;              /* cancelled: the server closes the connection */
    return httpbin_await_echo(req, resp, false, n);
}

/* /status/CODE */
static int await_status(server_response *resp, const char *code, size_t len)
{
    long n;
    if (!httpbin_number(code, len, 599, &n) || n < 200)
        return await_bad(resp);
    resp_set_status(resp, (int)n);
    if (n >= 300 && n < 400 && n != 304)
        resp_add_header(resp, "Location", "/get");
    if (n == 401)
        resp_add_header(resp, "WWW-Authenticate", "Basic realm=\"coloop\"");
    if (n == 429 || n == 503)
        resp_add_header(resp, "Retry-After", "1");
    return resp_await_send(resp, "", 0, CO_NO_DEADLINE);
}

/* Byte i of /bytes with a seed: a xorshift stream, the same every time. */
static void fill_bytes(unsigned char *buf, size_t n, uint32_t *state)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t x = *state;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *state = x;
        buf[i] = (unsigned char)x;
    }
}

/* /bytes/N?seed=S */
static int await_bytes(const struct server_request *req, server_response *resp, const char *num,
                       size_t len)
{
    long n, seed;
    if (!httpbin_number(num, len, BYTES_MAX, &n) ||
        !httpbin_query_long(req, "seed", 1, 0xffffffffL, &seed))
        return await_bad(resp);
    unsigned char *buf = malloc(BLOCK);
    if (!buf)
        return httpbin_await_text(resp, 500, "out of memory\n");
    uint32_t state = (uint32_t)seed ? (uint32_t)seed : 1;
    resp_add_header(resp, "Content-Type", "application/octet-stream");
    int rc = resp_await_start(resp, n, CO_NO_DEADLINE);
    for (long off = 0; rc == 0 && off < n; off += BLOCK) {
        size_t k = n - off < BLOCK ? (size_t)(n - off) : BLOCK;
        fill_bytes(buf, k, &state);
        rc = resp_await_write(resp, buf, k, CO_NO_DEADLINE);
    }
    free(buf);
    return rc < 0 ? rc : resp_await_end(resp, CO_NO_DEADLINE);
}

/* /stream/N: N JSON lines, one chunk each. */
static int await_stream(const struct server_request *req, server_response *resp, const char *num,
                        size_t len)
{
    long n;
    if (!httpbin_number(num, len, STREAM_MAX, &n))
        return await_bad(resp);
    resp_add_header(resp, "Content-Type", "application/json");
    int rc = resp_await_start(resp, RESP_CHUNKED, CO_NO_DEADLINE);
    for (long i = 0; rc == 0 && i < n; i++) {
        char line[128];
        int k = snprintf(line, sizeof line, "{\"id\": %ld, \"url\": \"%.*s\"}\n", i,
                         (int)(req->path_len < 64 ? req->path_len : 64), req->path);
        rc = resp_await_write(resp, line, (size_t)k, CO_NO_DEADLINE);
    }
    return rc < 0 ? rc : resp_await_end(resp, CO_NO_DEADLINE);
}

/* /drip?bytes=N&duration=MS&delay=MS&code=C: the head at once (after the
 * delay), then byte i at duration*(i+1)/N ms; bytes due at the same
 * millisecond go out in one write. */
static int await_drip(const struct server_request *req, server_response *resp)
{
    long bytes, duration, delay, code;
    if (!httpbin_query_long(req, "bytes", 10, DRIP_BYTES_MAX, &bytes) ||
        !httpbin_query_long(req, "duration", 2000, DRIP_DURATION_MAX, &duration) ||
        !httpbin_query_long(req, "delay", 0, HTTPBIN_DELAY_MAX_MS, &delay) ||
        !httpbin_query_long(req, "code", 200, 599, &code) || bytes < 0 || duration < 0 ||
        delay < 0 || code < 200)
        return await_bad(resp);
    int rc = await_sleep_ms(delay);
    if (rc < 0)
        return rc;
    static const char stars[BLOCK] = { [0 ... BLOCK - 1] = '*' };
    resp_set_status(resp, (int)code);
    resp_add_header(resp, "Content-Type", "application/octet-stream");
    rc = resp_await_start(resp, bytes, CO_NO_DEADLINE);
    int64_t start = co_now_ns();
    long sent = 0;
    while (rc == 0 && sent < bytes) {
        int64_t elapsed = (co_now_ns() - start) / 1000000;
        long due = bytes;
        if (duration > 0 && elapsed < duration)
            due = (long)((int64_t)bytes * elapsed / duration);
        while (rc == 0 && sent < due) {
            long k = due - sent < BLOCK ? due - sent : BLOCK;
            rc = resp_await_write(resp, stars, (size_t)k, CO_NO_DEADLINE);
            sent += k;
        }
        if (rc == 0 && sent < bytes) {
            int64_t next = (int64_t)duration * (sent + 1) / bytes;
            rc = await_sleep_ms(next - elapsed > 0 ? next - elapsed : 1);
        }
    }
    return rc < 0 ? rc : resp_await_end(resp, CO_NO_DEADLINE);
}

/* /redirect/N and /absolute-redirect/N */
static int await_redirect(const struct server_request *req, server_response *resp,
                          const char *num, size_t len, bool absolute)
{
    long n;
    if (!httpbin_number(num, len, REDIRECT_MAX, &n) || n < 1)
        return await_bad(resp);
    char origin[300] = "", location[400];
    if (absolute)
        httpbin_origin(req, origin, sizeof origin);
    if (n == 1)
        snprintf(location, sizeof location, "%s/get", origin);
    else
        snprintf(location, sizeof location, "%s/%s/%ld", origin,
                 absolute ? "absolute-redirect" : "redirect", n - 1);
    resp_set_status(resp, 302);
    resp_add_header(resp, "Location", location);
    return resp_await_send(resp, "", 0, CO_NO_DEADLINE);
}

/* /redirect-to?url=U&status_code=C */
static int await_redirect_to(const struct server_request *req, server_response *resp)
{
    char url[2048];
    long code;
    if (!httpbin_query_get(req, "url", url, sizeof url) ||
        !httpbin_query_long(req, "status_code", 302, 399, &code) || code < 300)
        return httpbin_await_text(resp, 400, "need url= and a 3xx status_code=\n");
    resp_set_status(resp, (int)code);
    if (resp_add_header(resp, "Location", url) < 0)      /* CR/LF in it: refused */
        return httpbin_await_text(resp, 400, "bad url\n");
    return resp_await_send(resp, "", 0, CO_NO_DEADLINE);
}

/* /close?bytes=N&after=K&reset=1: a response cut short on purpose. */
static int await_close(const struct server_request *req, server_response *resp)
{
    long bytes, after, reset;
    if (!httpbin_query_long(req, "bytes", 1024, CLOSE_BYTES_MAX, &bytes) ||
        !httpbin_query_long(req, "after", -2, CLOSE_BYTES_MAX, &after) ||
        !httpbin_query_long(req, "reset", 0, 1, &reset) || bytes < 0)
        return await_bad(resp);
    if (after == -2)
        after = bytes / 2;
    if (after > bytes)
        after = bytes;
    int rc = 0;
    if (after >= 0) {
        static const char dots[BLOCK] = { [0 ... BLOCK - 1] = '.' };
        rc = resp_await_start(resp, bytes, CO_NO_DEADLINE);
        for (long sent = 0; rc == 0 && sent < after; sent += BLOCK)
            rc = resp_await_write(resp, dots, (size_t)(after - sent < BLOCK ? after - sent : BLOCK),
                                  CO_NO_DEADLINE);
    }
    resp_abort(resp, reset == 1);
    return rc;
}

static int await_index(server_response *resp)
{
    static const char text[] =
        "coloop-httpbin: /get /anything /hello /delay/MS /status/CODE /bytes/N /stream/N\n"
        "/drip?bytes=N&duration=MS&delay=MS /redirect/N /absolute-redirect/N\n"
        "/redirect-to?url=U /close?bytes=N&after=K&reset=1 /robots.txt /site/\n";
    return httpbin_await_text(resp, 200, text);
}

static int await_route(const struct httpbin_opts *o, const struct server_request *req,
                       server_response *resp)
{
    const char *rest;
    size_t n;
    if (path_is(req, "/get"))
        return httpbin_await_echo(req, resp, false, -1);
    if (path_is(req, "/anything") || route_is(req, "/anything/", &rest, &n))
        return httpbin_await_echo(req, resp, true, -1);
    if (path_is(req, "/hello"))
        return httpbin_await_text(resp, 200, "Hello, World!\n");
    if (route_is(req, "/delay/", &rest, &n))
        return await_delay(req, resp, rest, n);
    if (route_is(req, "/status/", &rest, &n))
        return await_status(resp, rest, n);
    if (route_is(req, "/bytes/", &rest, &n))
        return await_bytes(req, resp, rest, n);
    if (route_is(req, "/stream/", &rest, &n))
        return await_stream(req, resp, rest, n);
    if (path_is(req, "/drip"))
        return await_drip(req, resp);
    if (route_is(req, "/redirect/", &rest, &n))
        return await_redirect(req, resp, rest, n, false);
    if (route_is(req, "/absolute-redirect/", &rest, &n))
        return await_redirect(req, resp, rest, n, true);
    if (path_is(req, "/redirect-to"))
        return await_redirect_to(req, resp);
    if (path_is(req, "/close"))
        return await_close(req, resp);
    if (path_is(req, "/"))
        return await_index(resp);
    if (path_is(req, "/robots.txt") || path_is(req, "/site") || route_is(req, "/site/", &rest, &n))
        return site_await_handle(o, req, resp);
    return httpbin_await_text(resp, 404, "not found\n");
}

int httpbin_handle(const struct server_request *req, server_response *resp, void *arg)
{
    const struct httpbin_opts *o = arg;
    int rc = await_route(o, req, resp);
    if (o->log)
        fprintf(o->log, "%.*s %.*s %d%s\n", (int)req->method_len, req->method,
                (int)req->target_len, req->target, resp_status(resp), rc < 0 ? " (cut)" : "");
    return rc;
}

int httpbin_server_new(const struct httpbin_opts *opts, http_server **out)
{
    struct server_opts so = opts->server;
    so.handler = httpbin_handle;
    so.handler_arg = (void *)opts;
    return server_new(&so, out);
}

/* ---- on threads of its own ---- */

struct httpbin_thread {
    struct httpbin_opts opts;       /* the copy the handlers read */
    server_threads *threads;        /* the loops */
};

int httpbin_start_thread(const struct httpbin_opts *opts, httpbin_thread **out)
{
    *out = NULL;
    httpbin_thread *h = calloc(1, sizeof *h);
    if (!h)
        return -ENOMEM;
    h->opts = *opts;
    struct server_opts so = opts->server;
    so.handler = httpbin_handle;
    so.handler_arg = &h->opts;
    int rc = server_threads_start(&so, opts->threads > 0 ? opts->threads : 1, &h->threads);
    if (rc < 0) {
        free(h);
        return rc;
    }
    *out = h;
    return 0;
}

int httpbin_thread_port(const httpbin_thread *h) { return server_threads_port(h->threads); }

void httpbin_thread_stats(const httpbin_thread *h, struct server_stats *out)
{
    server_threads_stats(h->threads, out);
}

int httpbin_stop_thread(httpbin_thread *h, int64_t grace_ms, struct server_stats *final)
{
    int rc = server_threads_stop(h->threads, grace_ms, final);
    free(h);
    return rc;
}
