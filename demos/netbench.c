/* netbench.c - the net/ layer's benchmark: echo round trips per second over
 * loopback (one connection, then 100 at once; plain TCP, then TLS) and TLS
 * handshakes per second (full, then resumed).
 *
 * The server runs on its own thread with its own loop (one loop per thread),
 * the clients on the main thread's loop, so both sides get a CPU when the
 * machine has two.  Certificates come from the test PKI (tests/tls_certs.c,
 * included below because demos are built from one source file): an EC P-256
 * leaf under an intermediate, verified by the client as in production.
 *
 *     build/demos/netbench [seconds per figure, default 2]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coloop.h"
#include "net/stream.h"
#include "tests/tls_certs.c"

#define MSG_SIZE 64
#define MANY 100

static atomic_bool server_quit;
static struct test_pki pki;

struct server {
    int lfd;
    _Atomic(tls_ctx *) ctx;   /* NULL: plain; set by main between figures */
};

/* ---- the server thread ---- */

static int echo_conn(void *arg)
{
    stream *s = arg;
    char buf[4096];
    ssize_t n;
    if (stream_await_handshake(s, co_deadline_in_ms(5000)) == 0)
        while ((n = stream_await_read(s, buf, sizeof buf, co_deadline_in_ms(30000))) > 0)
            if (stream_await_write(s, buf, (size_t)n, co_deadline_in_ms(5000)) < 0)
                break;
    stream_close(s);
    return 0;
}

static int accept_loop(void *arg)
{
    struct server *sv = arg;
    while (!atomic_load(&server_quit)) {
        int fd;
        int rc = sock_await_accept(sv->lfd, NULL, &fd, co_deadline_in_ms(100));
        if (rc == -ETIMEDOUT)
            continue;
        if (rc < 0)
            return rc;
        sock_set_nodelay(fd, true);
        stream *s;
        co_task *t;
        if (stream_new(fd, atomic_load(&sv->ctx), NULL, NULL, &s) < 0) {
            sock_close(fd);
            continue;
        }
        if (task_spawn(&t, echo_conn, s) < 0) {
            stream_close(s);
            continue;
        }
        task_detach(t);
    }
    return 0;
}

static void *server_thread(void *arg)
{
    co_loop *loop;
    if (loop_new(&loop) < 0)
        return NULL;
    co_task *t;
    task_spawn(&t, accept_loop, arg);
    task_detach(t);
    loop_run(loop);
    loop_free(loop);
    return NULL;
}

/* ---- the clients ---- */

struct run {
    int port;
    tls_ctx *ctx;           /* NULL: plain */
    int64_t until_ns;       /* stop at this time */
    uint64_t count;         /* round trips or handshakes done */
    uint64_t resumed;       /* handshakes that resumed a session */
    int errors;
    char error[NET_DETAIL_MAX];
};

static void note_error(struct run *r, int rc, const char *what)
{
    if (r->errors++ == 0)
        snprintf(r->error, sizeof r->error, "%.200s: %.100s", what, net_strerror(rc));
}

static int echo_client(void *arg)
{
    struct run *r = arg;
    stream *s;
    struct net_detail why;
    int rc = stream_await_connect("127.0.0.1", r->port, r->ctx, NULL, &s, &why, co_deadline_in_ms(5000));
    if (rc < 0) {
        note_error(r, rc, why.text);
        return 0;
    }
    char msg[MSG_SIZE], back[MSG_SIZE];
    memset(msg, 'x', sizeof msg);
    while (co_now_ns() < r->until_ns) {
        rc = stream_await_write(s, msg, sizeof msg, co_deadline_in_ms(5000));
        if (rc == 0)
            rc = stream_await_read_exact(s, back, sizeof back, co_deadline_in_ms(5000));
        if (rc < 0) {
            note_error(r, rc, "echo");
            break;
        }
        r->count++;
    }
    stream_close(s);
    return 0;
}

static int handshake_client(void *arg)
{
    struct run *r = arg;
    while (co_now_ns() < r->until_ns) {
        stream *s;
        struct net_detail why;
        int rc = stream_await_connect("127.0.0.1", r->port, r->ctx, NULL, &s, &why, co_deadline_in_ms(5000));
        if (rc < 0) {
            note_error(r, rc, why.text);
            return 0;
        }
        /* One byte each way: the client reads the server's session ticket
         * (TLS 1.3 sends it after the handshake), as a real request would. */
        char c = 'h';
        rc = stream_await_write(s, &c, 1, co_deadline_in_ms(5000));
        if (rc == 0)
            rc = stream_await_read_exact(s, &c, 1, co_deadline_in_ms(5000));
        if (rc < 0)
            note_error(r, rc, "handshake echo");
        r->count++;
        r->resumed += tls_conn_resumed(stream_tls(s));
        stream_close(s);
    }
    return 0;
}

struct figure {
    const char *label;
    co_task_fn fn;
    int tasks;
    bool tls;
    bool resumption;
};

static double run_figure(const struct figure *f, int port, double seconds, tls_ctx *server_side,
                         struct server *sv, struct run *r)
{
    atomic_store(&sv->ctx, f->tls ? server_side : NULL);
    memset(r, 0, sizeof *r);
    r->port = port;
    if (f->tls) {
        struct tls_client_opts co = { .ca_pem = pki.ca_pem, .no_resumption = !f->resumption };
        struct net_detail why;
        if (tls_ctx_new_client(&co, &r->ctx, &why) < 0) {
            fprintf(stderr, "netbench: client TLS context: %s\n", why.text);
            exit(1);
        }
    }
    int64_t t0 = co_now_ns();
    r->until_ns = t0 + (int64_t)(seconds * 1e9);
    for (int i = 0; i < f->tasks; i++) {
        co_task *t;
        task_spawn(&t, f->fn, r);
        task_detach(t);
    }
    loop_run(loop_current());
    double elapsed = (double)(co_now_ns() - t0) / 1e9;
    tls_ctx_free(r->ctx);
    return (double)r->count / elapsed;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    if (seconds <= 0)
        seconds = 2.0;
    if (test_pki_make(&pki) < 0)
        return 1;
    struct tls_server_opts so = { .cert_pem = pki.good.cert_pem, .key_pem = pki.good.key_pem };
    tls_ctx *server_ctx;
    struct net_detail why;
    if (tls_ctx_new_server(&so, &server_ctx, &why) < 0) {
        fprintf(stderr, "netbench: server TLS context: %s\n", why.text);
        return 1;
    }
    co_loop *loop;
    loop_new(&loop);
    struct server sv = { .lfd = -1 };
    if (sock_listen("127.0.0.1", 0, NULL, &sv.lfd) < 0)
        return 1;
    int port = sock_local_port(sv.lfd);
    pthread_t server;
    pthread_create(&server, NULL, server_thread, &sv);

    static const struct figure figures[] = {
        { "plain echo, 1 connection", echo_client, 1, false, false },
        { "plain echo, 100 connections", echo_client, MANY, false, false },
        { "TLS echo, 1 connection", echo_client, 1, true, true },
        { "TLS echo, 100 connections", echo_client, MANY, true, true },
        { "TLS handshakes, full", handshake_client, 1, true, false },
        { "TLS handshakes, resumed", handshake_client, 1, true, true },
    };
    printf("netbench: %d-byte echo round trips and TLS handshakes over 127.0.0.1, %.1f s per "
           "figure;\n          server loop on its own thread, clients on the main thread; "
           "TLS 1.3, EC P-256 chain, verified\n", MSG_SIZE, seconds);
    int failed = 0;
    for (size_t i = 0; i < sizeof figures / sizeof figures[0]; i++) {
        struct run r;
        /* The server picks plain or TLS per connection from sv.ctx: change it
         * only between figures, when no connection is open. */
        double rate = run_figure(&figures[i], port, seconds, server_ctx, &sv, &r);
        printf("  %-30s %10.0f /s", figures[i].label, rate);
        if (figures[i].fn == handshake_client)
            printf("   (%llu of %llu resumed)", (unsigned long long)r.resumed, (unsigned long long)r.count);
        if (r.errors) {
            printf("   %d errors, first: %s", r.errors, r.error);
            failed = 1;
        }
        printf("\n");
        fflush(stdout);
    }
    atomic_store(&server_quit, true);
    pthread_join(server, NULL);
    sock_close(sv.lfd);
    loop_free(loop);
    tls_ctx_free(server_ctx);
    test_pki_free(&pki);
    return failed;
}
