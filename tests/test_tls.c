/* test_tls.c - TLS on the loop: a local badssl set (RELIABILITY.md 4.3, T3.x).
 *
 * Each test runs a TLS server task and a client task on one loop, over
 * 127.0.0.1 on a kernel-chosen port, with certificates made at test time
 * (tests/tls_certs.c).  The good chain must be accepted; expired, wrong host,
 * self-signed, untrusted root and missing intermediate must each be refused
 * with their own reason; `insecure` must accept them and say so; a peer that
 * stalls, speaks plaintext or closes without close_notify must give the right
 * code before the deadline.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <stdio.h>
#include <sys/stat.h>

#include "net/stream.h"
#include "tests/support.h"
#include "tests/tls_certs.h"

enum server_mode {
    SERVE_ECHO,         /* handshake, echo one line, close_notify */
    SERVE_SILENT,       /* accept TCP, never speak (a stalled handshake) */
    SERVE_PLAINTEXT,    /* answer the ClientHello with an HTTP error */
    SERVE_TRUNCATE,     /* handshake, send a line, close without close_notify */
    SERVE_HOLD,         /* handshake, then say nothing until the client closes */
};

struct tls_case {
    struct test_pki pki;
    const struct test_cert *cert;   /* what the server presents */
    enum server_mode mode;
    struct tls_client_opts copts;
    const char *host;               /* what the client verifies */
    int connections;                /* how many times the client connects (default 1) */
    int64_t client_deadline_ms;
    int64_t cancel_after_ms;        /* > 0: cancel the client task after this long */
    bool server_from_files;         /* load the server's certificate and key from files */
    co_task *client;
    int lfd, port;
    tls_ctx *sctx, *cctx;
    /* results */
    int server_rc, client_rc, read_rc;
    long verify;
    int resumed;
    char sni[64];                   /* the server name the server received */
    char detail[NET_DETAIL_MAX];
    char alpn[16], version[16];
    int64_t client_ns;
};

static void case_init(struct tls_case *c, const struct test_cert *cert)
{
    memset(c, 0, sizeof *c);
    ck_assert_int_eq(test_pki_make(&c->pki), 0);
    c->cert = cert ? cert : &c->pki.good;
    c->host = "localhost";
    c->copts.ca_pem = c->pki.ca_pem;
    c->connections = 1;
    c->client_deadline_ms = 5000;
}

static int serve_one(struct tls_case *c)
{
    int fd;
    int rc = sock_await_accept(c->lfd, NULL, &fd, co_deadline_in_ms(5000));
    if (rc < 0)
        return rc;
    if (c->mode == SERVE_SILENT) {
        await_sleep_ms(c->client_deadline_ms + 200);
        sock_close(fd);
        return 0;
    }
    if (c->mode == SERVE_PLAINTEXT) {
        char junk[512];
        sock_await_read(fd, junk, sizeof junk, co_deadline_in_ms(2000));
        const char *resp = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
        sock_await_write_all(fd, resp, strlen(resp), co_deadline_in_ms(2000));
        sock_close(fd);
        return 0;
    }
    stream *s;
    ck_assert_int_eq(stream_new(fd, c->sctx, NULL, NULL, &s), 0);
    rc = stream_await_handshake(s, co_deadline_in_ms(5000));
    if (rc == 0)
        snprintf(c->sni, sizeof c->sni, "%s", tls_conn_server_name(stream_tls(s)));
    if (rc == 0 && c->mode == SERVE_TRUNCATE) {
        rc = stream_await_write(s, "partial\n", 8, co_deadline_in_ms(2000));
        int raw = stream_fd(s);
        /* close the TCP connection without close_notify: stream_abort would
         * send an RST, which is a different fault; a FIN is the truncation */
        shutdown(raw, SHUT_WR);
        await_sleep_ms(300);
        stream_close(s);
        return rc;
    }
    if (rc == 0 && c->mode == SERVE_HOLD) {
        char sink[16];
        stream_await_read(s, sink, sizeof sink, co_deadline_in_ms(5000));   /* the client's end */
    } else if (rc == 0) {
        const char *line;
        ssize_t n = stream_await_read_until(s, "\n", 1, 1024, &line, co_deadline_in_ms(5000));
        if (n > 0)
            rc = stream_await_write(s, line, (size_t)n, co_deadline_in_ms(5000));
        else
            rc = (int)n;
    }
    stream_await_close(s, co_deadline_in_ms(2000));
    return rc;
}

static int server_task(void *arg)
{
    struct tls_case *c = arg;
    for (int i = 0; i < c->connections; i++) {
        int rc = serve_one(c);
        if (rc < 0 && c->server_rc == 0)
            c->server_rc = rc;
    }
    return 0;
}

static int client_once(struct tls_case *c)
{
    int64_t t0 = co_now_ns();
    int64_t deadline = co_deadline_in_ms(c->client_deadline_ms);
    struct sock_addr addr;
    sock_addr_parse("127.0.0.1", c->port, &addr);
    int fd;
    int rc = sock_await_connect(&addr, NULL, &fd, deadline);
    ck_assert_int_eq(rc, 0);
    stream *s;
    ck_assert_int_eq(stream_new(fd, c->cctx, c->host, NULL, &s), 0);
    rc = stream_await_handshake(s, deadline);
    c->verify = tls_conn_verify_result(stream_tls(s));
    snprintf(c->detail, sizeof c->detail, "%s", stream_detail(s));
    if (rc == 0) {
        snprintf(c->alpn, sizeof c->alpn, "%s", tls_conn_alpn(stream_tls(s)));
        snprintf(c->version, sizeof c->version, "%s", tls_conn_version(stream_tls(s)));
        c->resumed += tls_conn_resumed(stream_tls(s));
        const char *line;
        if (c->mode == SERVE_HOLD) {
            /* a read deadline after the handshake: the TLS read waits on the
             * socket like any other, and gives up on time */
            int64_t before = co_now_ns();
            char more[16];
            c->read_rc = (int)stream_await_read(s, more, sizeof more, co_deadline_in_ms(200));
            c->client_ns = co_now_ns() - before;
            stream_close(s);
            return rc;
        }
        if (c->mode == SERVE_TRUNCATE) {
            ssize_t n = stream_await_read_until(s, "\n", 1, 1024, &line, deadline);
            ck_assert_int_eq(n, 8);
            char more[16];
            c->read_rc = (int)stream_await_read(s, more, sizeof more, deadline);
            snprintf(c->detail, sizeof c->detail, "%s", stream_detail(s));
        } else {
            rc = stream_await_write(s, "ping\n", 5, deadline);
            ck_assert_int_eq(rc, 0);
            ssize_t n = stream_await_read_until(s, "\n", 1, 1024, &line, deadline);
            ck_assert_int_eq(n, 5);
            ck_assert_int_eq(memcmp(line, "ping\n", 5), 0);
            char more[16];
            c->read_rc = (int)stream_await_read(s, more, sizeof more, deadline);   /* close_notify */
        }
    }
    stream_close(s);
    c->client_ns = co_now_ns() - t0;
    return rc;
}

static int client_task(void *arg)
{
    struct tls_case *c = arg;
    for (int i = 0; i < c->connections; i++)
        c->client_rc = client_once(c);
    return 0;
}

static void make_client_ctx(void *arg)
{
    struct tls_case *c = arg;
    struct net_detail why;
    int rc = tls_ctx_new_client(&c->copts, &c->cctx, &why);
    if (rc < 0)
        fprintf(stderr, "client ctx: %s: %s\n", net_strerror(rc), why.text);
}

static int canceller(void *arg)
{
    struct tls_case *c = arg;
    await_sleep_ms(c->cancel_after_ms);
    task_cancel(c->client);
    return await_task(c->client, NULL, CO_NO_DEADLINE);
}

/* Run one server and one client to the end; the results are in c. */
static void run_case(struct tls_case *c)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    struct net_detail why;
    struct tls_server_opts sopts = { .cert_pem = c->cert->cert_pem, .key_pem = c->cert->key_pem };
    char cert_path[64], key_path[64];
    if (c->server_from_files) {
        ck_assert_int_eq(test_pki_write_temp(c->cert->cert_pem, cert_path, sizeof cert_path), 0);
        ck_assert_int_eq(test_pki_write_temp(c->cert->key_pem, key_path, sizeof key_path), 0);
        sopts = (struct tls_server_opts){ .cert_file = cert_path, .key_file = key_path };
    }
    int rc = tls_ctx_new_server(&sopts, &c->sctx, &why);
    if (c->server_from_files) {
        unlink(cert_path);
        unlink(key_path);
    }
    ck_assert_msg(rc == 0, "server ctx: %s", why.text);
    make_client_ctx(c);
    ck_assert_ptr_nonnull(c->cctx);
    ck_assert_int_eq(sock_listen("127.0.0.1", 0, NULL, &c->lfd), 0);
    c->port = sock_local_port(c->lfd);
    test_spawn_detached(server_task, c, NULL);
    ck_assert_int_eq(task_spawn(&c->client, client_task, c), 0);
    if (c->cancel_after_ms > 0)
        test_spawn_detached(canceller, c, NULL);   /* it joins the client */
    else
        task_detach(c->client);
    ck_assert_int_eq(loop_run(loop), 0);
    sock_close(c->lfd);
    tls_ctx_free(c->sctx);
    tls_ctx_free(c->cctx);
    test_pki_free(&c->pki);
    loop_free_clean(loop, fds);
}

START_TEST(good_chain_accepted_by_name_with_alpn)
{
    struct tls_case c;
    case_init(&c, NULL);
    run_case(&c);
    ck_assert_msg(c.client_rc == 0, "%s: %s", net_strerror(c.client_rc), c.detail);
    ck_assert_int_eq(c.server_rc, 0);
    ck_assert_int_eq(c.verify, X509_V_OK);
    ck_assert_str_eq(c.alpn, "http/1.1");
    ck_assert_str_eq(c.version, "TLSv1.3");
    ck_assert_int_eq(c.read_rc, 0);   /* the server's close_notify: a clean end */
}
END_TEST

START_TEST(good_chain_accepted_by_ip)
{
    struct tls_case c;
    case_init(&c, NULL);
    c.host = "127.0.0.1";
    run_case(&c);
    ck_assert_msg(c.client_rc == 0, "%s: %s", net_strerror(c.client_rc), c.detail);
    ck_assert_str_eq(c.sni, "");    /* no SNI for an IP literal (RFC 6066 section 3) */
}
END_TEST

START_TEST(the_server_receives_the_host_name_as_sni)
{
    struct tls_case c;
    case_init(&c, NULL);
    run_case(&c);
    ck_assert_msg(c.client_rc == 0, "%s: %s", net_strerror(c.client_rc), c.detail);
    ck_assert_str_eq(c.sni, "localhost");
}
END_TEST

START_TEST(a_read_deadline_after_the_handshake_is_kept)
{
    struct tls_case c;
    case_init(&c, NULL);
    c.mode = SERVE_HOLD;
    run_case(&c);
    ck_assert_msg(c.client_rc == 0, "%s: %s", net_strerror(c.client_rc), c.detail);
    ck_assert_int_eq(c.read_rc, -ETIMEDOUT);
    ck_assert_int_ge(c.client_ns, 190 * 1000000LL);     /* not before the deadline */
    ck_assert_int_lt(c.client_ns, 3000 * 1000000LL);    /* nor long after it */
}
END_TEST

/* A bad certificate: refused with NET_ETLS_VERIFY, this X509 code and reason. */
static void expect_refused(const struct test_cert *(*pick)(struct test_pki *), const char *host,
                           long code, const char *reason)
{
    struct tls_case c;
    case_init(&c, NULL);
    c.cert = pick(&c.pki);
    c.host = host;
    run_case(&c);
    ck_assert_msg(c.client_rc == -NET_ETLS_VERIFY, "got %d (%s): %s", c.client_rc,
                  net_strerror(c.client_rc), c.detail);
    ck_assert_int_eq(c.verify, code);
    ck_assert_msg(strstr(c.detail, reason), "detail \"%s\" lacks \"%s\"", c.detail, reason);
    ck_assert_msg(strstr(c.detail, host), "detail \"%s\" does not name %s", c.detail, host);
    ck_assert_int_lt(c.server_rc, 0);   /* the server saw the client's alert */
}

static const struct test_cert *pick_expired(struct test_pki *p) { return &p->expired; }
static const struct test_cert *pick_wrong_host(struct test_pki *p) { return &p->wrong_host; }
static const struct test_cert *pick_self_signed(struct test_pki *p) { return &p->self_signed; }
static const struct test_cert *pick_untrusted(struct test_pki *p) { return &p->untrusted; }
static const struct test_cert *pick_no_chain(struct test_pki *p) { return &p->no_chain; }

START_TEST(expired_refused)
{
    expect_refused(pick_expired, "localhost", X509_V_ERR_CERT_HAS_EXPIRED, "certificate has expired");
}
END_TEST

START_TEST(wrong_host_refused_by_name_and_by_ip)
{
    expect_refused(pick_wrong_host, "localhost", X509_V_ERR_HOSTNAME_MISMATCH, "hostname mismatch");
    expect_refused(pick_wrong_host, "127.0.0.1", X509_V_ERR_IP_ADDRESS_MISMATCH, "IP address mismatch");
}
END_TEST

START_TEST(self_signed_refused)
{
    expect_refused(pick_self_signed, "localhost", X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
                   "self-signed certificate");
}
END_TEST

START_TEST(untrusted_root_refused)
{
    expect_refused(pick_untrusted, "localhost", X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
                   "self-signed certificate in certificate chain");
}
END_TEST

START_TEST(missing_intermediate_refused)
{
    expect_refused(pick_no_chain, "localhost", X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
                   "unable to get local issuer certificate");
}
END_TEST

START_TEST(system_store_does_not_know_the_test_ca)
{
    struct tls_case c;
    case_init(&c, NULL);
    c.copts.ca_pem = NULL;   /* the default: the system trust store */
    run_case(&c);
    ck_assert_int_eq(c.client_rc, -NET_ETLS_VERIFY);
    ck_assert_int_eq(c.verify, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}
END_TEST

static void run_case_arg(void *arg) { run_case(arg); }

START_TEST(insecure_accepts_every_bad_certificate_loudly)
{
    const struct test_cert *(*picks[])(struct test_pki *) = {
        pick_expired, pick_wrong_host, pick_self_signed, pick_untrusted, pick_no_chain,
    };
    for (size_t i = 0; i < sizeof picks / sizeof picks[0]; i++) {
        struct tls_case c;
        case_init(&c, NULL);
        c.cert = picks[i](&c.pki);
        c.copts.insecure = true;
        const char *err = capture_stderr(run_case_arg, &c);
        ck_assert_msg(c.client_rc == 0, "case %zu: %s: %s", i, net_strerror(c.client_rc), c.detail);
        ck_assert_int_ne(c.verify, X509_V_OK);   /* it would have failed... */
        ck_assert_msg(strstr(c.detail, "INSECURE"), "detail: %s", c.detail);   /* ...and says so */
        ck_assert_msg(strstr(err, "NOT verified"), "no warning on stderr: %s", err);
    }
}
END_TEST

START_TEST(ca_file_is_loaded)
{
    struct tls_case c;
    case_init(&c, NULL);
    char path[64];
    ck_assert_int_eq(test_pki_write_temp(c.pki.ca_pem, path, sizeof path), 0);
    c.copts.ca_pem = NULL;
    c.copts.ca_file = path;
    run_case(&c);
    unlink(path);
    ck_assert_msg(c.client_rc == 0, "%s: %s", net_strerror(c.client_rc), c.detail);
}
END_TEST

/* A hashed CA directory (what c_rehash / openssl rehash make): the root is
 * stored as <subject hash>.0 and found there during the handshake. */
START_TEST(ca_dir_is_loaded_and_a_bad_one_is_a_config_error)
{
    struct tls_case c;
    case_init(&c, NULL);
    char dir[] = "/tmp/coloop-cadir-XXXXXX", path[96];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    BIO *bio = BIO_new_mem_buf(c.pki.ca_pem, -1);
    X509 *root = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    ck_assert_ptr_nonnull(root);
    snprintf(path, sizeof path, "%s/%08lx.0", dir, X509_subject_name_hash(root));
    X509_free(root);
    BIO_free(bio);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(c.pki.ca_pem, f);
    fclose(f);
    c.copts.ca_pem = NULL;
    c.copts.ca_dir = dir;
    run_case(&c);
    ck_assert_msg(c.client_rc == 0, "%s: %s", net_strerror(c.client_rc), c.detail);

    tls_ctx *ctx = NULL;
    struct net_detail why;
    struct tls_client_opts missing = { .ca_dir = "/nonexistent/cadir" };
    ck_assert_int_eq(tls_ctx_new_client(&missing, &ctx, &why), -NET_ETLS_CONFIG);
    ck_assert_ptr_null(ctx);
    ck_assert_msg(strstr(why.text, "/nonexistent/cadir") && strstr(why.text, "No such file"),
                  "%s", why.text);
    struct tls_client_opts a_file = { .ca_dir = path };
    ck_assert_int_eq(tls_ctx_new_client(&a_file, &ctx, &why), -NET_ETLS_CONFIG);
    ck_assert_msg(strstr(why.text, "not a directory"), "%s", why.text);
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(bad_trust_or_key_is_a_config_error)
{
    tls_ctx *ctx = NULL;
    struct net_detail why;
    struct tls_client_opts co = { .ca_file = "/nonexistent/ca.pem" };
    ck_assert_int_eq(tls_ctx_new_client(&co, &ctx, &why), -NET_ETLS_CONFIG);
    ck_assert_ptr_null(ctx);
    ck_assert_msg(strstr(why.text, "/nonexistent/ca.pem"), "%s", why.text);
    struct test_pki pki;
    ck_assert_int_eq(test_pki_make(&pki), 0);
    struct tls_server_opts so = { .cert_pem = pki.good.cert_pem, .key_pem = pki.expired.key_pem };
    ck_assert_int_eq(tls_ctx_new_server(&so, &ctx, &why), -NET_ETLS_CONFIG);
    ck_assert_msg(strstr(why.text, "match"), "%s", why.text);   /* "key values mismatch" */
    test_pki_free(&pki);
}
END_TEST

START_TEST(stalled_handshake_hits_the_deadline)
{
    struct tls_case c;
    case_init(&c, NULL);
    c.mode = SERVE_SILENT;
    c.client_deadline_ms = 200;
    run_case(&c);
    ck_assert_int_eq(c.client_rc, -ETIMEDOUT);
    ck_assert_int_ge(c.client_ns, 190 * 1000000LL);
    ck_assert_int_lt(c.client_ns, 1000 * 1000000LL);
}
END_TEST

START_TEST(cancel_during_the_handshake)
{
    struct tls_case c;
    case_init(&c, NULL);
    c.mode = SERVE_SILENT;
    c.client_deadline_ms = 2000;
    c.cancel_after_ms = 50;
    run_case(&c);   /* and nothing is left open: loop_free_clean */
    ck_assert_int_eq(c.client_rc, -ECANCELED);
    ck_assert_int_lt(c.client_ns, 1000 * 1000000LL);
}
END_TEST

START_TEST(server_certificate_and_key_from_files)
{
    struct tls_case c;
    case_init(&c, NULL);
    c.server_from_files = true;
    run_case(&c);
    ck_assert_msg(c.client_rc == 0, "%s: %s", net_strerror(c.client_rc), c.detail);
}
END_TEST

START_TEST(plaintext_peer_is_a_quick_tls_error)
{
    struct tls_case c;
    case_init(&c, NULL);
    c.mode = SERVE_PLAINTEXT;
    run_case(&c);
    ck_assert_int_eq(c.client_rc, -NET_ETLS);
    ck_assert_msg(strstr(c.detail, "wrong version number"), "detail: %s", c.detail);
    ck_assert_int_lt(c.client_ns, 1000 * 1000000LL);
}
END_TEST

START_TEST(close_without_close_notify_is_truncation)
{
    struct tls_case c;
    case_init(&c, NULL);
    c.mode = SERVE_TRUNCATE;
    run_case(&c);
    ck_assert_int_eq(c.client_rc, 0);
    ck_assert_int_eq(c.read_rc, -NET_ETLS_TRUNCATED);
    ck_assert_msg(strstr(c.detail, "close_notify"), "detail: %s", c.detail);
}
END_TEST

START_TEST(second_connection_resumes_the_session)
{
    struct tls_case c;
    case_init(&c, NULL);
    c.connections = 3;
    run_case(&c);
    ck_assert_msg(c.client_rc == 0, "%s: %s", net_strerror(c.client_rc), c.detail);
    ck_assert_int_eq(c.resumed, 2);
}
END_TEST

START_TEST(no_resumption_option_does_full_handshakes)
{
    struct tls_case c;
    case_init(&c, NULL);
    c.connections = 2;
    c.copts.no_resumption = true;
    run_case(&c);
    ck_assert_int_eq(c.client_rc, 0);
    ck_assert_int_eq(c.resumed, 0);
}
END_TEST

/* Writing to a TLS peer that is gone: an error, never SIGPIPE, even with
 * SIGPIPE's default disposition back (our BIO sends with MSG_NOSIGNAL). */
struct dead_peer { int lfd, port; int write_rc; tls_ctx *sctx, *cctx; };

static int dead_peer_server(void *arg)
{
    struct dead_peer *d = arg;
    int fd;
    ck_assert_int_eq(sock_await_accept(d->lfd, NULL, &fd, co_deadline_in_ms(5000)), 0);
    stream *s;
    ck_assert_int_eq(stream_new(fd, d->sctx, NULL, NULL, &s), 0);
    ck_assert_int_eq(stream_await_handshake(s, co_deadline_in_ms(5000)), 0);
    stream_abort(s);   /* RST: the client's next writes fail */
    return 0;
}

static int dead_peer_client(void *arg)
{
    struct dead_peer *d = arg;
    struct sock_addr a;
    sock_addr_parse("127.0.0.1", d->port, &a);
    int fd;
    ck_assert_int_eq(sock_await_connect(&a, NULL, &fd, co_deadline_in_ms(5000)), 0);
    stream *s;
    ck_assert_int_eq(stream_new(fd, d->cctx, "localhost", NULL, &s), 0);
    ck_assert_int_eq(stream_await_handshake(s, co_deadline_in_ms(5000)), 0);
    await_sleep_ms(50);
    static char block[64 * 1024];
    for (int i = 0; i < 50 && d->write_rc == 0; i++)
        d->write_rc = stream_await_write(s, block, sizeof block, co_deadline_in_ms(5000));
    stream_close(s);
    return 0;
}

START_TEST(write_to_dead_peer_is_an_error_not_sigpipe)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    struct sigaction dfl = { .sa_handler = SIG_DFL }, saved;
    sigaction(SIGPIPE, &dfl, &saved);   /* undo loop_new's SIG_IGN: the BIO must not need it */
    struct test_pki pki;
    ck_assert_int_eq(test_pki_make(&pki), 0);
    struct dead_peer d = { 0 };
    struct tls_server_opts so = { .cert_pem = pki.good.cert_pem, .key_pem = pki.good.key_pem };
    struct tls_client_opts co = { .ca_pem = pki.ca_pem };
    ck_assert_int_eq(tls_ctx_new_server(&so, &d.sctx, NULL), 0);
    ck_assert_int_eq(tls_ctx_new_client(&co, &d.cctx, NULL), 0);
    ck_assert_int_eq(sock_listen("127.0.0.1", 0, NULL, &d.lfd), 0);
    d.port = sock_local_port(d.lfd);
    test_spawn_detached(dead_peer_server, &d, NULL);
    test_spawn_detached(dead_peer_client, &d, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    sigaction(SIGPIPE, &saved, NULL);   /* for the next tests when Check does not fork */
    ck_assert_msg(d.write_rc == -ECONNRESET || d.write_rc == -EPIPE, "write rc %d (%s)", d.write_rc,
                  net_strerror(d.write_rc));
    sock_close(d.lfd);
    tls_ctx_free(d.sctx);
    tls_ctx_free(d.cctx);
    test_pki_free(&pki);
    loop_free_clean(loop, fds);
}
END_TEST

static Suite *tls_suite(void)
{
    Suite *s = suite_create("tls");
    TCase *tc = tcase_create("tls");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, good_chain_accepted_by_name_with_alpn);
    tcase_add_test(tc, good_chain_accepted_by_ip);
    tcase_add_test(tc, the_server_receives_the_host_name_as_sni);
    tcase_add_test(tc, a_read_deadline_after_the_handshake_is_kept);
    tcase_add_test(tc, ca_dir_is_loaded_and_a_bad_one_is_a_config_error);
    tcase_add_test(tc, expired_refused);
    tcase_add_test(tc, wrong_host_refused_by_name_and_by_ip);
    tcase_add_test(tc, self_signed_refused);
    tcase_add_test(tc, untrusted_root_refused);
    tcase_add_test(tc, missing_intermediate_refused);
    tcase_add_test(tc, system_store_does_not_know_the_test_ca);
    tcase_add_test(tc, insecure_accepts_every_bad_certificate_loudly);
    tcase_add_test(tc, ca_file_is_loaded);
    tcase_add_test(tc, bad_trust_or_key_is_a_config_error);
    tcase_add_test(tc, stalled_handshake_hits_the_deadline);
    tcase_add_test(tc, cancel_during_the_handshake);
    tcase_add_test(tc, server_certificate_and_key_from_files);
    tcase_add_test(tc, plaintext_peer_is_a_quick_tls_error);
    tcase_add_test(tc, close_without_close_notify_is_truncation);
    tcase_add_test(tc, second_connection_resumes_the_session);
    tcase_add_test(tc, no_resumption_option_does_full_handshakes);
    tcase_add_test(tc, write_to_dead_peer_is_an_error_not_sigpipe);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(tls_suite)
