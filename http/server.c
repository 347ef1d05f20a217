/* server.c - the server's life: options, the listening socket, the accept
 * loop that spawns one task per connection, the graceful stop and the
 * counters.  What a connection does is in server_conn.c, the response writer
 * in server_resp.c, several loop threads in server_threads.c.
 *
 * Lifetime: the server is reference-counted so that a connection task never
 * outlives the memory it points to.  The owner holds one reference
 * (server_free drops it), each open connection one more.  Normally
 * server_await_run drains every connection before it returns, so
 * server_free frees at once; only a cancelled run leaves connections behind.
 *
 * The stop, step by step: close the listener (the accept wait wakes with
 * -EBADF: sock_close tells the loop), cancel every connection that waits for
 * a request's first byte (nothing is lost), mark the rest "closing" so their
 * current response says "Connection: close"; the run task waits for them
 * until the grace deadline, cancels the rest, and waits for them to unwind.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http/server_internal.h"
#include "runtime/error.h"

static void fill_defaults(struct server_opts *o)
{
    if (!o->host)
        o->host = "127.0.0.1";
    if (!o->head_max)
        o->head_max = SERVER_HEAD_MAX_DEFAULT;
    if (!o->line_max)
        o->line_max = SERVER_LINE_MAX_DEFAULT;
    if (o->line_max >= o->head_max)     /* so an over-long request line is seen as one (414) */
        o->line_max = o->head_max - 1;  /* before the head fills the buffer (431) */
    if (!o->fields_max)
        o->fields_max = SERVER_FIELDS_MAX_DEFAULT;
    if (!o->body_max)
        o->body_max = SERVER_BODY_MAX_DEFAULT;
    if (!o->header_timeout_ms)
        o->header_timeout_ms = SERVER_HEADER_TIMEOUT_DEFAULT_MS;
    if (!o->idle_timeout_ms)
        o->idle_timeout_ms = SERVER_IDLE_TIMEOUT_DEFAULT_MS;
    if (!o->body_timeout_ms)
        o->body_timeout_ms = SERVER_BODY_TIMEOUT_DEFAULT_MS;
    if (!o->write_timeout_ms)
        o->write_timeout_ms = SERVER_WRITE_TIMEOUT_DEFAULT_MS;
    if (!o->linger_ms)
        o->linger_ms = SERVER_LINGER_DEFAULT_MS;
    if (!o->retry_after_s)
        o->retry_after_s = 1;
}

int server_new(const struct server_opts *opts, http_server **out)
{
    *out = NULL;
    if (!opts || !opts->handler || opts->port < 0 || opts->port > 65535 ||
        (opts->head_max && opts->head_max < 64) || opts->head_max > (1u << 30) ||
        (opts->line_max && opts->line_max < 16))
        return -EINVAL;
    if (!loop_current())
        return -CO_ENOLOOP;
    http_server *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->opts = *opts;
    fill_defaults(&s->opts);
    struct sock_listen_opts lo = { .backlog = s->opts.backlog, .reuseport = s->opts.reuseport };
    int rc = sock_listen(s->opts.host, s->opts.port, &lo, &s->lfd);
    if (rc < 0) {
        free(s);
        return rc;
    }
    s->port = sock_local_port(s->lfd);
    s->refs = 1;
    waitgroup_init(&s->conns_wg);
    event_init(&s->wake);
    event_init(&s->done);
    sema_init(&s->handlers, s->opts.max_concurrent ? (long)s->opts.max_concurrent : 0);
    *out = s;
    return 0;
}

int server_port(const http_server *s) { return s->port; }

static void close_listener(http_server *s)
{
    if (s->lfd >= 0) {
        sock_close(s->lfd);     /* wakes a task in sock_await_accept with -EBADF */
        s->lfd = -1;
    }
}

void server_stop(http_server *s, int64_t grace_ms)
{
    int64_t deadline = co_deadline_in_ms(grace_ms > 0 ? grace_ms : 0);
    if (!s->stopping || deadline < s->grace_deadline)
        s->grace_deadline = deadline;
    s->stopping = true;
    close_listener(s);
    event_set(&s->wake);
    for (struct server_conn *c = s->conns; c; c = c->next) {
        c->closing = true;
        if (c->idle)
            task_cancel(c->task);   /* waiting for a request that has not begun: drop it */
    }
}

/* Open a connection object for fd and start its task.  0 or a negative code
 * (fd closed). */
static int start_conn(http_server *s, int fd, const struct sock_addr *peer)
{
    struct server_conn *c = calloc(1, sizeof *c + s->opts.fields_max * sizeof c->fields[0]);
    struct stream_opts so = { .read_buffer = s->opts.head_max };
    int rc = c ? stream_new(fd, s->opts.tls, NULL, &so, &c->st) : -ENOMEM;
    if (rc < 0) {
        free(c);
        sock_close(fd);
        return rc;
    }
    struct http_limits lim;
    http_limits_default(&lim);
    lim.head_max = s->opts.head_max;
    lim.line_max = s->opts.line_max;
    lim.body_max = s->opts.body_max;
    http_parser_init(&c->parser, HTTP_ROLE_REQUEST, &lim, c->fields, s->opts.fields_max);
    c->server = s;
    c->peer = *peer;
    c->id = ++s->next_conn_id;
    c->idle = true;
    struct co_spawn_opts to = { .name = "http-conn", .stack_size = s->opts.stack_size };
    rc = task_spawn_opts(&c->task, server_conn_main, c, &to);
    if (rc < 0) {
        stream_close(c->st);
        free(c);
        return rc;
    }
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->refs++;
    waitgroup_add(&s->conns_wg, 1);
    server_count(&s->n.accepted, 1);
    server_count(&s->n.open, 1);
    task_detach(c->task);
    return 0;
}

void server_conn_gone(struct server_conn *c)
{
    http_server *s = c->server;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    server_count(&s->n.open, -1);
    waitgroup_done(&s->conns_wg);
    event_set(&s->wake);
    free(c->head);
    free(c->body);
    free(c);
    server_unref(s);
}

/* Wait until a connection ends (max_connections reached).  0 or an error. */
static int await_room(http_server *s, int64_t deadline)
{
    while (!s->stopping && atomic_load(&s->n.open) >= s->opts.max_connections) {
        event_clear(&s->wake);
        int rc = event_await(&s->wake, deadline);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Connections accepted in a row before the accept loop yields.  Without the
 * yield, a burst of 10,000 connecting clients keeps accept() succeeding and
 * this task never lets the new connections' tasks run: the first request is
 * read only after the last client was accepted (measured: first answer to
 * /delay/1000 at 2.5 s instead of 1 s).  After a batch, await_yield() puts
 * the accept task behind the connections it just started, so each of them
 * reads its request (and starts its timer) early.  nginx's multi_accept off
 * makes the same trade. */
#define ACCEPT_BATCH 16

/* The accept loop.  Returns 0 when stopped, or why it stopped otherwise. */
static int accept_loop(http_server *s, int64_t deadline)
{
    int in_a_row = 0;
    while (!s->stopping) {
        if (++in_a_row > ACCEPT_BATCH) {
            in_a_row = 0;
            int rc = await_yield();
            if (rc < 0 && !s->stopping)
                return rc;
        }
        int rc = s->opts.max_connections ? await_room(s, deadline) : 0;
        int fd = -1;
        struct sock_addr peer = { 0 };
        if (rc == 0 && !s->stopping)
            rc = sock_await_accept(s->lfd, &peer, &fd, deadline);
        if (s->stopping)
            break;
        if (rc == -ETIMEDOUT) {
            server_stop(s, 0);
            break;
        }
        if (rc < 0)
            return rc;
        if (s->opts.tls == NULL)
            sock_set_nodelay(fd, true);
        start_conn(s, fd, &peer);   /* a failure (ENOMEM) drops this client only */
    }
    return 0;
}

int server_await_run(http_server *s, int64_t deadline)
{
    if (!task_self())
        return -CO_ENOTASK;
    if (s->running || s->ran)
        return -EBUSY;
    s->running = s->ran = true;
    int rc = accept_loop(s, deadline);
    if (rc == -ECANCELED) {
        close_listener(s);
        s->stopping = true;
        for (struct server_conn *c = s->conns; c; c = c->next)
            task_cancel(c->task);
        s->running = false;
        event_set(&s->done);
        return rc;
    }
    if (!s->stopping)
        server_stop(s, 0);          /* an accept error: stop anyway */
    int wrc = waitgroup_await(&s->conns_wg, s->grace_deadline);
    if (wrc < 0) {
        for (struct server_conn *c = s->conns; c; c = c->next)
            task_cancel(c->task);
        if (wrc != -ECANCELED)
            wrc = waitgroup_await(&s->conns_wg, CO_NO_DEADLINE);
    }
    s->running = false;
    event_set(&s->done);
    return rc < 0 ? rc : wrc == -ECANCELED ? wrc : 0;
}

int server_await_stop(http_server *s, int64_t grace_ms, int64_t deadline)
{
    server_stop(s, grace_ms);
    if (!s->ran)
        return 0;
    return event_await(&s->done, deadline);
}

void server_unref(http_server *s)
{
    if (--s->refs > 0)
        return;
    close_listener(s);
    waitgroup_fini(&s->conns_wg);
    event_fini(&s->wake);
    event_fini(&s->done);
    sema_fini(&s->handlers);
    free(s);
}

void server_free(http_server *s)
{
    if (!s || s->freed)
        return;
    s->freed = true;
    close_listener(s);
    server_unref(s);
}

void server_get_stats(const http_server *s, struct server_stats *out)
{
    struct server_counters *n = (struct server_counters *)&s->n;
    out->accepted = atomic_load_explicit(&n->accepted, memory_order_relaxed);
    out->open = atomic_load_explicit(&n->open, memory_order_relaxed);
    out->requests = atomic_load_explicit(&n->requests, memory_order_relaxed);
    out->reused = atomic_load_explicit(&n->reused, memory_order_relaxed);
    out->active = atomic_load_explicit(&n->active, memory_order_relaxed);
    out->queued = atomic_load_explicit(&n->queued, memory_order_relaxed);
    out->rejected = atomic_load_explicit(&n->rejected, memory_order_relaxed);
    out->timeouts = atomic_load_explicit(&n->timeouts, memory_order_relaxed);
    out->idle_closed = atomic_load_explicit(&n->idle_closed, memory_order_relaxed);
    out->tls_failures = atomic_load_explicit(&n->tls_failures, memory_order_relaxed);
}

const char *server_request_header(const struct server_request *req, const char *name, size_t *len)
{
    size_t cursor = 0;
    const struct http_header *h = http_header_find(req->headers, req->header_count, name, &cursor);
    if (len)
        *len = h ? h->value_len : 0;
    return h ? h->value : NULL;
}

bool server_request_method_is(const struct server_request *req, const char *method)
{
    size_t n = strlen(method);
    return req->method_len == n && memcmp(req->method, method, n) == 0;
}
