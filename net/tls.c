/* tls.c - TLS connections on the loop (see tls.h): the socket BIO, the
 * handshake and the read / write / shutdown drivers.
 *
 * Every OpenSSL I/O call here follows one pattern (RELIABILITY.md 4.2):
 *
 *     ERR_clear_error();                  the error queue is per thread and
 *     ok = SSL_xxx(ssl, ...);             other tasks use it between our calls
 *     err = SSL_get_error(ssl, ok);       at once, before anything can yield
 *     WANT_READ  -> await_fd(READ),  retry the same call with the same buffer
 *     WANT_WRITE -> await_fd(WRITE), retry (any call may want either way)
 *     else       -> a code and a detail, and the connection is "broken":
 *                   no more I/O and no SSL_shutdown (T2.5)
 *
 * The socket BIO is our own, ~50 lines: it sends with MSG_NOSIGNAL, so a dead
 * peer is EPIPE even if the program set its own SIGPIPE handler (T2.8), and it
 * saves errno at the failing send/recv, so the code we return comes from the
 * syscall itself, never from an errno read after a suspension.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "net/socket.h"
#include "net/tls_internal.h"
#include "runtime/task.h"

/* ---- the socket BIO ---- */

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static int bio_write(BIO *b, const char *data, int len)
{
    tls_conn *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n;
    do   /* EINTR is not "wait for readiness": the edge-triggered rule wants EAGAIN first */
        n = send(c->fd, data, (size_t)len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n >= 0)
        return (int)n;
    int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK)
        BIO_set_retry_write(b);
    else
        c->io_errno = err;
    return -1;
}

static int bio_read(BIO *b, char *data, int len)
{
    tls_conn *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n;
    do
        n = recv(c->fd, data, (size_t)len, 0);
    while (n < 0 && errno == EINTR);
    if (n > 0)
        return (int)n;
    if (n == 0) {
        c->peer_eof = true;
        return 0;
    }
    int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK)
        BIO_set_retry_read(b);
    else
        c->io_errno = err;
    return -1;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)num;
    tls_conn *c = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH:        /* nothing is buffered here */
        return 1;
    case BIO_CTRL_EOF:          /* how OpenSSL 3 tells "unexpected EOF" from a syscall error */
        return c->peer_eof;
    case BIO_C_GET_FD:
        if (ptr)
            *(int *)ptr = c->fd;
        return c->fd;
    default:
        return 0;
    }
}

static void bio_method_make(void)
{
    bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "coloop socket");
    if (!bio_method)
        return;
    BIO_meth_set_write(bio_method, bio_write);
    BIO_meth_set_read(bio_method, bio_read);
    BIO_meth_set_ctrl(bio_method, bio_ctrl);
}

/* ---- connections ---- */

int tls_conn_new(tls_ctx *ctx, int fd, const char *host, tls_conn **out)
{
    *out = NULL;
    if (!ctx->server && (!host || !*host || strlen(host) >= TLS_HOST_MAX))
        return -EINVAL;
    pthread_once(&bio_once, bio_method_make);
    tls_conn *c = calloc(1, sizeof *c);
    SSL *ssl = c ? SSL_new(ctx->ssl_ctx) : NULL;
    BIO *bio = ssl && bio_method ? BIO_new(bio_method) : NULL;
    if (!bio) {
        SSL_free(ssl);
        free(c);
        ERR_clear_error();
        return -ENOMEM;
    }
    c->ssl = ssl;
    c->fd = fd;
    c->ctx = ctx;
    tls_ctx_ref(ctx);
    BIO_set_data(bio, c);
    BIO_set_init(bio, 1);
    SSL_set_bio(ssl, bio, bio);   /* the SSL owns the BIO now */
    SSL_set_app_data(ssl, c);
    if (ctx->server) {
        SSL_set_accept_state(ssl);
        *out = c;
        return 0;
    }
    SSL_set_connect_state(ssl);
    snprintf(c->host, sizeof c->host, "%s", host);
    int ok;
    if (sock_is_ip_literal(host)) {
        /* No SNI for IP literals (RFC 6066 3); check the IP SAN instead. */
        ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
    } else {
        ok = SSL_set_tlsext_host_name(ssl, host) == 1 && SSL_set1_host(ssl, host) == 1;
        SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    }
    if (!ok) {
        ERR_clear_error();
        tls_conn_free(c);
        return -EINVAL;
    }
    struct sock_addr peer = { .len = sizeof peer.ss };
    if (ctx->resumption &&
        getpeername(fd, (struct sockaddr *)&peer.ss, &peer.len) == 0) {
        snprintf(c->session_key, sizeof c->session_key, "%s:%d", host, sock_addr_port(&peer));
        SSL_SESSION *s = tls_ctx_session_get(ctx, c->session_key);
        if (s) {
            SSL_set_session(ssl, s);   /* takes its own reference */
            SSL_SESSION_free(s);
        }
    }
    *out = c;
    return 0;
}

void tls_conn_free(tls_conn *c)
{
    if (!c)
        return;
    SSL_free(c->ssl);
    tls_ctx_free(c->ctx);
    free(c);
}

/* Wait for what OpenSSL asked for.  0 to retry the call, or the await's error. */
static int wait_for(tls_conn *c, int ssl_err, int64_t deadline)
{
    return await_fd(c->fd, ssl_err == SSL_ERROR_WANT_READ ? CO_FD_READ : CO_FD_WRITE, deadline);
}

static bool wants_io(int ssl_err)
{
    return ssl_err == SSL_ERROR_WANT_READ || ssl_err == SSL_ERROR_WANT_WRITE;
}

/* The connection is done for: remember why, return the code. */
static int give_up(tls_conn *c, int code)
{
    c->broken = true;
    c->error = code;
    return code;
}

static int fail_verify(tls_conn *c)
{
    const char *reason = X509_verify_cert_error_string(c->verify_result);
    snprintf(c->detail, sizeof c->detail, "certificate verification failed for %s: %s (X509 error %ld)",
             c->host, reason, c->verify_result);
    return give_up(c, -NET_ETLS_VERIFY);
}

/* OpenSSL 3 checks a server's ALPN choice against our offer itself and ends
 * the handshake with "bad extension" before check_after_handshake() can say
 * NET_ETLS_ALPN.  Other extensions fail the same way, so the code stays
 * NET_ETLS and the detail names the usual suspect. */
static const char *refused_extension_hint(const tls_conn *c, unsigned long e)
{
    bool bad_extension = ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_BAD_EXTENSION;
    if (!bad_extension || c->handshaken || c->ctx->server || !c->ctx->alpn)
        return "";
    return " (most likely the server chose an ALPN protocol we did not offer: we offer only "
           "http/1.1)";
}

/* Turn a failed SSL call into a code and a detail.  Called right after
 * SSL_get_error(), before anything could yield: the queue is still ours. */
static int fail(tls_conn *c, int ssl_err, const char *op)
{
    unsigned long e = ERR_peek_last_error();
    char why[200] = "";
    if (e)
        ERR_error_string_n(e, why, sizeof why);
    ERR_clear_error();
    if (!c->handshaken && !c->ctx->server && !c->ctx->insecure) {
        c->verify_result = SSL_get_verify_result(c->ssl);
        if (c->verify_result != X509_V_OK)
            return fail_verify(c);
    }
    if (ssl_err == SSL_ERROR_SYSCALL && c->io_errno) {
        snprintf(c->detail, sizeof c->detail, "TLS %s: %s", op, strerror(c->io_errno));
        return give_up(c, -c->io_errno);
    }
    bool eof = ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
    if (eof || (ssl_err == SSL_ERROR_SYSCALL && c->peer_eof)) {
        snprintf(c->detail, sizeof c->detail, "TLS %s: the peer closed the connection without "
                 "close_notify%s", op, c->handshaken ? "" : " (during the handshake)");
        return give_up(c, -NET_ETLS_TRUNCATED);
    }
    snprintf(c->detail, sizeof c->detail, "TLS %s: %s%s", op,
             why[0] ? why : ssl_err == SSL_ERROR_SYSCALL ? "system call failed" : "unknown failure",
             refused_extension_hint(c, e));
    return give_up(c, -NET_ETLS);
}

/* After a successful client handshake: ALPN, and the insecure warning. */
static int check_after_handshake(tls_conn *c)
{
    if (c->ctx->server)
        return 0;
    c->verify_result = SSL_get_verify_result(c->ssl);
    if (c->ctx->alpn) {
        const unsigned char *p;
        unsigned int n;
        SSL_get0_alpn_selected(c->ssl, &p, &n);
        if (n > 0 && (n != 8 || memcmp(p, "http/1.1", 8) != 0)) {
            snprintf(c->detail, sizeof c->detail, "server selected ALPN \"%.*s\", we offered http/1.1",
                     (int)n, (const char *)p);
            return give_up(c, -NET_ETLS_ALPN);
        }
    }
    if (c->ctx->insecure && c->verify_result != X509_V_OK)
        snprintf(c->detail, sizeof c->detail, "INSECURE: accepted a certificate for %s that fails "
                 "verification: %s", c->host, X509_verify_cert_error_string(c->verify_result));
    return 0;
}

int tls_await_handshake(tls_conn *c, int64_t deadline)
{
    if (c->broken)
        return c->error;
    c->detail[0] = '\0';
    while (!c->handshaken) {
        ERR_clear_error();
        c->io_errno = 0;
        int ok = SSL_do_handshake(c->ssl);
        if (ok == 1) {
            c->handshaken = true;
            break;
        }
        int err = SSL_get_error(c->ssl, ok);
        if (!wants_io(err))
            return fail(c, err, "handshake");
        int rc = wait_for(c, err, deadline);
        if (rc < 0) {
            snprintf(c->detail, sizeof c->detail, "TLS handshake with %s: %s",
                     c->host[0] ? c->host : "client", net_strerror(rc));
            return give_up(c, rc);   /* a half-done handshake cannot be resumed later */
        }
    }
    return check_after_handshake(c);
}

ssize_t tls_await_read(tls_conn *c, void *buf, size_t len, int64_t deadline)
{
    if (c->broken)
        return c->error;
    if (len == 0)
        return 0;
    for (;;) {
        ERR_clear_error();
        c->io_errno = 0;
        size_t n = 0;
        int ok = SSL_read_ex(c->ssl, buf, len, &n);
        if (ok)
            return (ssize_t)n;
        int err = SSL_get_error(c->ssl, ok);
        if (err == SSL_ERROR_ZERO_RETURN) {   /* close_notify: a clean end */
            ERR_clear_error();
            return 0;
        }
        if (!wants_io(err))
            return fail(c, err, "read");
        int rc = wait_for(c, err, deadline);
        if (rc < 0)
            return rc;   /* nothing was consumed: the connection stays usable */
    }
}

int tls_await_write_all(tls_conn *c, const void *buf, size_t len, int64_t deadline)
{
    if (c->broken)
        return c->error;
    const char *p = buf;
    while (len > 0) {
        ERR_clear_error();
        c->io_errno = 0;
        size_t n = 0;
        int ok = SSL_write_ex(c->ssl, p, len, &n);
        if (ok) {
            p += n;
            len -= n;
            continue;
        }
        int err = SSL_get_error(c->ssl, ok);
        if (!wants_io(err))
            return fail(c, err, "write");
        /* Retry with the same p and len, as SSL_write requires (T2.4). */
        int rc = wait_for(c, err, deadline);
        if (rc < 0)
            return give_up(c, rc);   /* a record may be half sent */
    }
    return 0;
}

/* One SSL_shutdown attempt.  1 = done (or nothing to do), 0 = wants I/O
 * (*ssl_err says which), < 0 = failed. */
static int shutdown_step(tls_conn *c, int *ssl_err)
{
    if (c->broken || !c->handshaken || c->shutdown_sent)
        return 1;
    ERR_clear_error();
    c->io_errno = 0;
    int r = SSL_shutdown(c->ssl);
    if (r >= 0) {   /* 0 = sent, the peer's not seen yet: not an error (T2.6) */
        c->shutdown_sent = true;
        return 1;
    }
    *ssl_err = SSL_get_error(c->ssl, r);
    if (wants_io(*ssl_err))
        return 0;
    return fail(c, *ssl_err, "shutdown");
}

int tls_await_shutdown(tls_conn *c, int64_t deadline)
{
    for (;;) {
        int err = 0;
        int r = shutdown_step(c, &err);
        if (r != 0)
            return r > 0 ? 0 : r;
        r = wait_for(c, err, deadline);
        if (r < 0)
            return give_up(c, r);
    }
}

int tls_try_shutdown(tls_conn *c)
{
    int err = 0;
    int r = shutdown_step(c, &err);
    return r > 0 ? 0 : r == 0 ? -EAGAIN : r;
}

const char *tls_conn_detail(const tls_conn *c) { return c->detail; }
long tls_conn_verify_result(const tls_conn *c) { return c->verify_result; }
const char *tls_conn_version(const tls_conn *c) { return SSL_get_version(c->ssl); }
bool tls_conn_resumed(const tls_conn *c) { return SSL_session_reused(c->ssl) == 1; }

const char *tls_conn_server_name(const tls_conn *c)
{
    const char *name = SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);
    return name ? name : "";
}
size_t tls_conn_pending(const tls_conn *c) { return (size_t)SSL_pending(c->ssl); }
int tls_conn_fd(const tls_conn *c) { return c->fd; }

const char *tls_conn_alpn(const tls_conn *c)
{
    const unsigned char *p;
    unsigned int n;
    SSL_get0_alpn_selected(c->ssl, &p, &n);
    return n == 8 && memcmp(p, "http/1.1", 8) == 0 ? "http/1.1" : "";
}
