/* canned_server.c - the scripted loopback server of canned_server.h.  Each
 * accepted connection gets a task that walks its script; requests are read
 * with the request parser (heads and Content-Length/chunked bodies) and
 * recorded, everything else is raw bytes, so a test can serve any framing
 * or fault exactly.  The tasks belong to one group, so stopping cancels
 * and reaps all of them. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/parse.h"
#include "net/stream.h"
#include "runtime/task.h"
#include "http/client.h"
#include "tests/canned_server.h"
#include "tests/support.h"

#define IO_MS 10000             /* no single server step waits longer */

struct cconn {
    struct canned_server *srv;
    int index;                  /* accept order */
    stream *s;
    struct http_parser p;
    struct http_header fields[64];
    struct canned_request *req; /* the request being read, or NULL past the record cap */
};

static struct canned_request *record(struct canned_server *srv, struct cconn *cc, const char *head,
                                     size_t len)
{
    int i = srv->requests++;
    if (i >= CANNED_REQUESTS)
        return NULL;
    struct canned_request *r = &srv->reqs[i];
    r->head = strndup(head, len);
    r->conn = cc->index;
    return r;
}

/* 1 when a head was read, 0 if the client closed first, or an error. */
static int await_head(struct cconn *cc)
{
    http_parser_init(&cc->p, HTTP_ROLE_REQUEST, NULL, cc->fields, 64);
    for (;;) {
        const char *data;
        size_t n = stream_buffered(cc->s, &data);
        if (n > 0) {
            int rc = http_parse_head(&cc->p, data, n);
            if (rc < 0)
                return rc;
            if (rc > 0) {
                cc->req = record(cc->srv, cc, data, (size_t)rc);
                stream_consume(cc->s, (size_t)rc);
                if (cc->req)
                    cc->req->early = stream_buffered(cc->s, NULL);
                return 1;
            }
        }
        ssize_t r = stream_await_fill(cc->s, co_deadline_in_ms(IO_MS));
        if (r == 0 && n == 0)
            return 0;
        if (r <= 0)
            return r < 0 ? (int)r : -HTTP_E_INCOMPLETE;
    }
}

static void append(struct canned_request *r, const char *data, size_t len)
{
    if (!r || len == 0)
        return;
    char *b = realloc(r->body, r->body_len + len + 1);
    if (!b)
        return;
    memcpy(b + r->body_len, data, len);
    r->body = b;
    r->body_len += len;
    b[r->body_len] = '\0';
}

static int await_body(struct cconn *cc)
{
    while (!http_parser_done(&cc->p)) {
        const char *data;
        size_t n = stream_buffered(cc->s, &data);
        if (n > 0) {
            struct http_span span;
            int rc = http_parse_body(&cc->p, data, n, &span);
            if (rc < 0)
                return rc;
            append(cc->req, span.data, span.len);
            stream_consume(cc->s, (size_t)rc);
            if (rc > 0)
                continue;
        }
        if (http_parser_done(&cc->p))
            break;
        ssize_t r = stream_await_fill(cc->s, co_deadline_in_ms(IO_MS));
        if (r <= 0)
            return r < 0 ? (int)r : -HTTP_E_INCOMPLETE;
    }
    return 0;
}

static int await_echo(struct cconn *cc)
{
    const char *body = cc->req && cc->req->body ? cc->req->body : "";
    size_t len = cc->req ? cc->req->body_len : 0;
    char head[128];
    int n = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", len);
    int rc = stream_await_write(cc->s, head, (size_t)n, co_deadline_in_ms(IO_MS));
    return rc == 0 && len > 0 ? stream_await_write(cc->s, body, len, co_deadline_in_ms(IO_MS)) : rc;
}

/* Read and drop until the client closes (or the wait ends). */
static void await_eof(struct cconn *cc, int ms)
{
    char buf[4096];
    int64_t dl = co_deadline_in_ms(ms > 0 ? ms : IO_MS);
    while (stream_await_read(cc->s, buf, sizeof buf, dl) > 0)
        ;
}

static const struct canned_step *script_for(const struct canned_server *srv, int index)
{
    int last = 0;
    for (int i = 0; i < CANNED_SCRIPTS; i++)
        if (srv->scripts[i][0].op != CANNED_END || srv->scripts[i][1].op != CANNED_END)
            last = i;
    return srv->scripts[index < last ? index : last];
}

/* Play one step.  1: go on, 0: the script is over (the stream is gone), <0: error. */
static int step(struct cconn *cc, const struct canned_step *st)
{
    int rc = 0;
    switch (st->op) {
    case CANNED_READ:
    case CANNED_READ_HEAD:
        rc = await_head(cc);
        if (rc == 0) {              /* the client closed: so do we */
            cc->srv->client_closes++;
            stream_close(cc->s);
            return 0;
        }
        if (rc == 1 && st->op == CANNED_READ)
            rc = await_body(cc) == 0 ? 1 : -1;
        return rc;
    case CANNED_READ_BODY:
        return await_body(cc) == 0 ? 1 : -1;
    case CANNED_SEND:
        return stream_await_write(cc->s, st->text, st->len, co_deadline_in_ms(IO_MS)) == 0 ? 1 : -1;
    case CANNED_DRIP:
        for (size_t i = 0; i < st->len; i++)
            if (stream_await_write(cc->s, st->text + i, 1, co_deadline_in_ms(IO_MS)) < 0 ||
                await_sleep_ms(st->ms) < 0)
                return -1;
        return 1;
    case CANNED_ECHO:
        return await_echo(cc) == 0 ? 1 : -1;
    case CANNED_SLEEP:
        return await_sleep_ms(st->ms) == 0 ? 1 : -1;
    case CANNED_RESET:
        stream_abort(cc->s);
        return 0;
    case CANNED_CUT:
        shutdown(stream_fd(cc->s), SHUT_WR);    /* FIN under TLS, no close_notify */
        await_eof(cc, 0);
        stream_abort(cc->s);
        return 0;
    case CANNED_AWAIT_EOF:
        await_eof(cc, st->ms);
        /* fall through */
    case CANNED_CLOSE:
    case CANNED_END:
    default:
        stream_await_close(cc->s, co_deadline_in_ms(2000));
        return 0;
    }
}

static int conn_task(void *arg)
{
    struct cconn *cc = arg;
    const struct canned_step *script = script_for(cc->srv, cc->index);
    int rc = stream_await_handshake(cc->s, co_deadline_in_ms(IO_MS)) == 0 ? 1 : -1;
    for (int i = 0; rc == 1; i++) {
        if (i == CANNED_STEPS || script[i].op == CANNED_REPEAT)
            i = 0;
        rc = step(cc, &script[i]);
    }
    if (rc < 0)
        stream_abort(cc->s);   /* cancelled, or the client broke a rule: a reset, not a close */
    free(cc);
    return 0;
}

static int accept_task(void *arg)
{
    struct canned_server *srv = arg;
    for (;;) {
        int fd;
        if (sock_await_accept(srv->lfd, NULL, &fd, CO_NO_DEADLINE) < 0)
            return 0;
        struct cconn *cc = calloc(1, sizeof *cc);
        if (!cc || stream_new(fd, srv->tls, NULL, NULL, &cc->s) < 0) {
            free(cc);
            sock_close(fd);
            continue;
        }
        cc->srv = srv;
        cc->index = srv->connections++;
        if (group_spawn(srv->group, conn_task, cc) < 0) {
            stream_abort(cc->s);
            free(cc);
        }
    }
}

/* A listener whose backlog is full: connect() to it never completes. */
static int start_no_accept(struct canned_server *srv)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    srv->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    srv->filler_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (srv->lfd < 0 || srv->filler_fd < 0 || bind(srv->lfd, (struct sockaddr *)&a, len) < 0 ||
        listen(srv->lfd, 0) < 0 || getsockname(srv->lfd, (struct sockaddr *)&a, &len) < 0 ||
        connect(srv->filler_fd, (struct sockaddr *)&a, len) < 0)
        return -errno;
    srv->port = ntohs(a.sin_port);
    return 0;
}

int canned_server_start(struct canned_server *srv)
{
    srv->filler_fd = -1;
    if (srv->no_accept)
        return start_no_accept(srv);
    int rc = sock_listen("127.0.0.1", 0, NULL, &srv->lfd);
    if (rc < 0)
        return rc;
    srv->port = sock_local_port(srv->lfd);
    if ((rc = group_new(&srv->group)) < 0 || (rc = group_spawn(srv->group, accept_task, srv)) < 0)
        return rc;
    return 0;
}

int canned_server_await_stop(struct canned_server *srv)
{
    int rc = 0;
    if (srv->no_accept) {
        close(srv->filler_fd);
        close(srv->lfd);
        return 0;
    }
    if (srv->group) {
        group_cancel(srv->group);
        rc = group_await(srv->group, CO_NO_DEADLINE);
        group_free(srv->group);
        srv->group = NULL;
    }
    sock_close(srv->lfd);
    return rc == -ECANCELED ? 0 : rc;
}

void canned_server_free(struct canned_server *srv)
{
    int n = srv->requests < CANNED_REQUESTS ? srv->requests : CANNED_REQUESTS;
    for (int i = 0; i < n; i++) {
        free(srv->reqs[i].head);
        free(srv->reqs[i].body);
    }
}

const char *canned_url(const struct canned_server *srv, const char *path, char *buf, size_t len)
{
    snprintf(buf, len, "%s://127.0.0.1:%d%s", srv->tls ? "https" : "http", srv->port, path);
    return buf;
}

struct http_client_stats canned_stats(struct canned_env *e)
{
    struct http_client_stats st;
    http_client_get_stats(e->client, &st);
    return st;
}

const char *canned_path(const struct canned_server *srv, const char *path)
{
    static char buf[256];
    return canned_url(srv, path, buf, sizeof buf);
}

struct run {
    struct canned_env env;
    const struct http_client_opts *opts;
    void (*fn)(struct canned_env *);
};

static int run_main(void *arg)
{
    struct run *r = arg;
    if (r->env.srv)
        ck_assert_int_eq(canned_server_start(r->env.srv), 0);
    ck_assert_int_eq(http_client_new(r->opts, &r->env.client), 0);
    r->fn(&r->env);
    struct http_client_stats st;
    http_client_get_stats(r->env.client, &st);
    ck_assert_uint_eq(st.in_flight, 0);     /* every slot given back */
    ck_assert_uint_eq(st.waiting, 0);
    http_client_free(r->env.client);
    if (r->env.srv)
        ck_assert_int_eq(canned_server_await_stop(r->env.srv), 0);
    return 0;
}

void canned_run(struct canned_server *srv, const struct http_client_opts *opts,
                void (*fn)(struct canned_env *), void *arg)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    struct run r = { { srv, NULL, arg }, opts, fn };
    test_run_main(run_main, &r);
    loop_free_clean(loop, fds);
}
