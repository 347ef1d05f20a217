/* coloop-httpbin.c - the built-in test target as a program: httpbin-like
 * routes (http/httpbin.h lists them) on coloop's own HTTP/1.1 server, so
 * every demo, test and benchmark can run offline against a known server.
 *
 *     build/demos/coloop-httpbin [--port N] [--host IP] [--threads N]
 *         [--tls] [--cert FILE --key FILE] [--max-concurrent N [--busy-429]]
 *         [--site-pages N] [--site-seed N] [--grace MS] [--quiet]
 *
 * --port 0 (the default) lets the kernel pick a port.  When it listens it
 * prints one line on stdout, "coloop-httpbin listening on http://HOST:PORT/",
 * so a script can wait for it and read the port.  --tls without --cert makes
 * a throwaway certificate for localhost / 127.0.0.1 / ::1 under a throwaway
 * CA (tests/tls_certs.c, included below as netbench does) and writes the CA
 * to a file named on stderr, for `curl --cacert FILE`.  SIGINT / SIGTERM stop
 * it gracefully: listener closed, requests in flight given --grace ms (5000).
 * With --threads 1 (the default) the server runs on the main thread's loop
 * and a task takes the signals from a signalfd; with N > 1, N loop threads
 * share the port (SO_REUSEPORT) and main waits for the signal.
 * Without --quiet, one line per request goes to stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "coloop.h"
#include "http/httpbin.h"
#include "tests/tls_certs.c"

static void usage(void)
{
    fprintf(stderr, "usage: coloop-httpbin [--port N] [--host IP] [--threads N] [--tls]\n"
                    "           [--cert FILE --key FILE] [--max-concurrent N [--busy-429]]\n"
                    "           [--site-pages N] [--site-seed N] [--grace MS] [--quiet]\n");
    exit(2);
}

/* --threads 1: the server runs on the main thread's loop, and a task waits
 * for SIGINT/SIGTERM on a signalfd.  One thread in the process also keeps
 * stack unmapping free of TLB-shootdown IPIs to other CPUs. */
struct here {
    http_server *server;        /* on this loop */
    int sfd;                    /* signalfd for SIGINT and SIGTERM */
    long grace;                 /* --grace */
    bool verbose;               /* not --quiet */
    int run_rc;                 /* what server_await_run returned */
};

static int here_stopper(void *arg)
{
    struct here *h = arg;
    struct signalfd_siginfo si;
    while (read(h->sfd, &si, sizeof si) != (ssize_t)sizeof si)
        if (await_fd(h->sfd, CO_FD_READ, CO_NO_DEADLINE) < 0)
            return 0;
    if (h->verbose)
        fprintf(stderr, "coloop-httpbin: %s, stopping (grace %ld ms)\n",
                strsignal((int)si.ssi_signo), h->grace);
    server_stop(h->server, h->grace);
    return 0;
}

static int here_runner(void *arg)
{
    struct here *h = arg;
    h->run_rc = server_await_run(h->server, CO_NO_DEADLINE);
    return 0;
}

/* Serve on this thread until a stop signal; fills *st.  0 or an error. */
static int serve_here(const struct httpbin_opts *o, const sigset_t *signals, long grace,
                      struct server_stats *st)
{
    co_loop *loop;
    struct here h = { .grace = grace, .verbose = o->log != NULL };
    co_task *t;
    int rc = loop_new(&loop);
    if (rc < 0)
        return rc;
    h.sfd = signalfd(-1, signals, SFD_NONBLOCK | SFD_CLOEXEC);
    if (h.sfd < 0 || (rc = httpbin_server_new(o, &h.server)) < 0) {
        fprintf(stderr, "coloop-httpbin: cannot listen on %s:%d: %s\n", o->server.host,
                o->server.port, co_strerror(h.sfd < 0 ? -errno : rc));
        loop_free(loop);
        return -1;
    }
    bool v6 = strchr(o->server.host, ':') != NULL;
    printf("coloop-httpbin listening on %s://%s%s%s:%d/\n", o->server.tls ? "https" : "http",
           v6 ? "[" : "", o->server.host, v6 ? "]" : "", server_port(h.server));
    fflush(stdout);
    if (task_spawn(&t, here_runner, &h) == 0)
        task_detach(t);
    if (task_spawn(&t, here_stopper, &h) == 0)
        task_detach(t);
    loop_run(loop);
    server_get_stats(h.server, st);
    server_free(h.server);
    loop_close_fd(h.sfd);
    loop_free(loop);
    return h.run_rc;
}

static long number(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 0)
        usage();
    return v;
}

int main(int argc, char **argv)
{
    struct httpbin_opts o = { .server = { .host = "127.0.0.1" }, .threads = 1, .log = stderr };
    const char *cert = NULL, *key = NULL;
    bool tls = false;
    long grace = 5000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = true;
        if (strcmp(a, "--port") == 0 && v)
            o.server.port = (int)number(v);
        else if (strcmp(a, "--host") == 0 && v)
            o.server.host = v;
        else if (strcmp(a, "--threads") == 0 && v)
            o.threads = (int)number(v);
        else if (strcmp(a, "--cert") == 0 && v)
            cert = v;
        else if (strcmp(a, "--key") == 0 && v)
            key = v;
        else if (strcmp(a, "--max-concurrent") == 0 && v)
            o.server.max_concurrent = (unsigned)number(v);
        else if (strcmp(a, "--site-pages") == 0 && v)
            o.site_pages = (unsigned)number(v);
        else if (strcmp(a, "--site-seed") == 0 && v)
            o.site_seed = (uint32_t)number(v);
        else if (strcmp(a, "--grace") == 0 && v)
            grace = number(v);
        else {
            takes = false;
            if (strcmp(a, "--tls") == 0)
                tls = true;
            else if (strcmp(a, "--busy-429") == 0)
                o.server.busy_429 = true;
            else if (strcmp(a, "--quiet") == 0)
                o.log = NULL;
            else
                usage();
        }
        i += takes;
    }
    if (o.threads < 1 || (!cert != !key))
        usage();

    /* Signals are taken with sigwait() by main; block them before any thread
     * starts so the loop threads inherit the mask and never see them. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct test_pki pki = { 0 };
    char ca_path[256] = "";
    tls_ctx *ctx = NULL;
    struct net_detail why;
    if (cert || tls) {
        struct tls_server_opts so = { .cert_file = cert, .key_file = key };
        if (!cert) {
            if (test_pki_make(&pki) < 0 ||
                test_pki_write_temp(pki.ca_pem, ca_path, sizeof ca_path) < 0) {
                fprintf(stderr, "coloop-httpbin: cannot make a certificate\n");
                return 1;
            }
            so.cert_pem = pki.good.cert_pem;
            so.key_pem = pki.good.key_pem;
            fprintf(stderr, "coloop-httpbin: self-signed set-up; trust the CA in %s "
                            "(curl --cacert %s)\n", ca_path, ca_path);
        }
        int rc = tls_ctx_new_server(&so, &ctx, &why);
        if (rc < 0) {
            fprintf(stderr, "coloop-httpbin: TLS: %s: %s\n", co_strerror(rc), why.text);
            return 1;
        }
        o.server.tls = ctx;
    }

    struct server_stats st = { 0 };
    int rc;
    if (o.threads == 1) {
        rc = serve_here(&o, &stop_signals, grace, &st);
    } else {
        httpbin_thread *h;
        rc = httpbin_start_thread(&o, &h);
        if (rc < 0) {
            fprintf(stderr, "coloop-httpbin: cannot listen on %s:%d: %s\n", o.server.host,
                    o.server.port, co_strerror(rc));
            return 1;
        }
        bool v6 = strchr(o.server.host, ':') != NULL;
        printf("coloop-httpbin listening on %s://%s%s%s:%d/\n", ctx ? "https" : "http",
               v6 ? "[" : "", o.server.host, v6 ? "]" : "", httpbin_thread_port(h));
        fflush(stdout);
        int sig;
        sigwait(&stop_signals, &sig);
        if (o.log)
            fprintf(stderr, "coloop-httpbin: %s, stopping (grace %ld ms)\n", strsignal(sig), grace);
        rc = httpbin_stop_thread(h, grace, &st);
    }
    if (o.log)
        fprintf(stderr,
                "coloop-httpbin: %llu connections, %llu requests (%llu on reused connections), "
                "%llu refused, %llu timed out\n",
                (unsigned long long)st.accepted, (unsigned long long)st.requests,
                (unsigned long long)st.reused, (unsigned long long)st.rejected,
                (unsigned long long)st.timeouts);
    tls_ctx_free(ctx);
    test_pki_free(&pki);
    if (ca_path[0])
        unlink(ca_path);        /* the CA of a certificate nobody serves any more */
    return rc < 0 ? 1 : 0;
}
