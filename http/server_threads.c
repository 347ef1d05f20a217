/* server_threads.c - the server on several cores: N threads, each with its
 * own loop and its own server on the same port (SO_REUSEPORT: the kernel
 * spreads incoming connections over the listeners).  Nothing is shared
 * between the loops but the options and the handler's argument.
 *
 * A loop belongs to its thread, so another thread cannot call server_stop()
 * on it.  Each thread runs a small "stopper" task that waits on an eventfd;
 * server_threads_stop() writes to it, and the stopper calls server_stop() on
 * its own loop.  The same trick serves any cross-thread wakeup.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "http/server.h"
#include "runtime/task.h"

struct server_thread {
    struct server_threads *group;   /* back to the group */
    pthread_t thread;               /* the thread */
    bool started;                   /* pthread_create succeeded */
    int efd;                        /* eventfd: written by server_threads_stop */
    _Atomic(http_server *) server;  /* its server, while the loop runs */
    int run_rc;                     /* what server_await_run returned */
    struct server_stats final;      /* its counters when it ended */
};

struct server_threads {
    struct server_opts opts;        /* the copy every thread starts from */
    int count;                      /* threads */
    int port;                       /* the shared port */
    atomic_llong grace_ms;          /* for the stoppers */
    pthread_mutex_t lock;           /* guards ready and first_error while starting */
    pthread_cond_t cond;            /* signalled as each thread is ready or fails */
    int ready;                      /* threads that reported */
    int first_error;                /* the first server_new failure */
    struct server_thread t[];       /* one per thread */
};

static void report(struct server_threads *g, int rc)
{
    pthread_mutex_lock(&g->lock);
    g->ready++;
    if (rc < 0 && g->first_error == 0)
        g->first_error = rc;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

/* Waits for the eventfd, then stops this loop's server. */
static int stopper(void *arg)
{
    struct server_thread *t = arg;
    uint64_t v;
    for (;;) {
        ssize_t n = read(t->efd, &v, sizeof v);
        int err = errno;
        if (n == (ssize_t)sizeof v)
            break;
        if (n < 0 && err != EAGAIN && err != EINTR)
            break;
        if (n < 0 && err == EAGAIN && await_fd(t->efd, CO_FD_READ, CO_NO_DEADLINE) < 0)
            break;
    }
    server_stop(atomic_load(&t->server), atomic_load(&t->group->grace_ms));
    return 0;
}

static int runner(void *arg)
{
    struct server_thread *t = arg;
    t->run_rc = server_await_run(atomic_load(&t->server), CO_NO_DEADLINE);
    return 0;
}

static void *thread_main(void *arg)
{
    struct server_thread *t = arg;
    struct server_threads *g = t->group;
    co_loop *loop;
    int rc = loop_new(&loop);
    if (rc < 0) {
        report(g, rc);
        return NULL;
    }
    struct server_opts o = g->opts;
    http_server *s = NULL;
    if (t != &g->t[0])
        o.port = g->port;
    rc = server_new(&o, &s);
    co_task *a = NULL, *b = NULL;
    if (rc == 0) {
        atomic_store(&t->server, s);
        rc = task_spawn(&a, runner, t);
    }
    if (rc == 0 && (rc = task_spawn(&b, stopper, t)) < 0)
        task_cancel(a);
    if (t == &g->t[0] && rc == 0)
        g->port = server_port(s);   /* read by the others after report() */
    report(g, rc);
    if (a)
        task_detach(a);
    if (b)
        task_detach(b);
    loop_run(loop);
    if (s)
        server_get_stats(s, &t->final);
    atomic_store(&t->server, NULL);
    server_free(s);
    loop_close_fd(t->efd);
    t->efd = -1;
    loop_free(loop);
    return NULL;
}

/* Start thread i and wait until it has reported.  0 or its error. */
static int start_one(struct server_threads *g, int i)
{
    struct server_thread *t = &g->t[i];
    t->group = g;
    t->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (t->efd < 0)
        return -errno;
    int rc = pthread_create(&t->thread, NULL, thread_main, t);
    if (rc != 0) {
        close(t->efd);
        t->efd = -1;
        return rc == EAGAIN ? -EAGAIN : -rc;
    }
    t->started = true;
    pthread_mutex_lock(&g->lock);
    while (g->ready < i + 1)
        pthread_cond_wait(&g->cond, &g->lock);
    rc = g->first_error;
    pthread_mutex_unlock(&g->lock);
    return rc;
}

int server_threads_start(const struct server_opts *opts, int threads, server_threads **out)
{
    *out = NULL;
    if (!opts || !opts->handler || threads < 1 || threads > 1024)
        return -EINVAL;
    struct server_threads *g = calloc(1, sizeof *g + (size_t)threads * sizeof g->t[0]);
    if (!g)
        return -ENOMEM;
    g->opts = *opts;
    g->opts.reuseport = opts->reuseport || threads > 1;
    g->count = threads;
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->cond, NULL);
    for (int i = 0; i < threads; i++)
        g->t[i].efd = -1;
    int rc = 0;
    for (int i = 0; i < threads && rc == 0; i++)
        rc = start_one(g, i);   /* one at a time: thread 0 picks the port for the rest */
    if (rc < 0) {
        server_threads_stop(g, 0, NULL);
        return rc;
    }
    *out = g;
    return 0;
}

int server_threads_port(const server_threads *t) { return t->port; }

static void add_stats(struct server_stats *out, const struct server_stats *one)
{
    out->accepted += one->accepted;
    out->open += one->open;
    out->requests += one->requests;
    out->reused += one->reused;
    out->active += one->active;
    out->queued += one->queued;
    out->rejected += one->rejected;
    out->timeouts += one->timeouts;
    out->idle_closed += one->idle_closed;
    out->tls_failures += one->tls_failures;
}

void server_threads_stats(const server_threads *g, struct server_stats *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < g->count; i++) {
        http_server *s = atomic_load(&((struct server_threads *)g)->t[i].server);
        struct server_stats one;
        if (!s)
            continue;
        server_get_stats(s, &one);
        add_stats(out, &one);
    }
}

int server_threads_stop(server_threads *g, int64_t grace_ms, struct server_stats *final)
{
    if (final)
        memset(final, 0, sizeof *final);
    atomic_store(&g->grace_ms, grace_ms);
    uint64_t one = 1;
    for (int i = 0; i < g->count; i++)
        if (g->t[i].started && write(g->t[i].efd, &one, sizeof one) < 0)
            continue;   /* an eventfd write only fails on overflow: already signalled */
    int rc = 0;
    for (int i = 0; i < g->count; i++) {
        if (!g->t[i].started)
            continue;
        pthread_join(g->t[i].thread, NULL);
        if (final)
            add_stats(final, &g->t[i].final);
        if (rc == 0 && g->t[i].run_rc < 0)
            rc = g->t[i].run_rc;
    }
    for (int i = 0; i < g->count; i++)
        if (g->t[i].efd >= 0)
            close(g->t[i].efd);
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->cond);
    free(g);
    return rc;
}
