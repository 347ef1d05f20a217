/* tls.h - TLS (OpenSSL 3) over a nonblocking socket of the loop.
 *
 * Two objects.  A tls_ctx is one configuration: client or server, trust
 * store, certificate, ALPN, the client's session cache.  Loading a trust
 * store costs milliseconds, so make one context per configuration and share
 * it by every connection (and by every loop thread: it is thread-safe).  A
 * tls_conn is one connection over a socket the caller owns; it is used on
 * one loop thread, by at most one reading and one writing task at a time.
 *
 * Secure by default: a client context verifies the certificate chain against
 * the system trust store (or the CAs you give it) AND that the certificate
 * names the host you asked for; SNI is sent for names (not IP literals);
 * ALPN offers http/1.1.  Turning verification off takes an option named
 * `insecure`, and the context says so on stderr when it is made.
 *
 * Every OpenSSL call is driven by the loop: WANT_READ waits for readable,
 * WANT_WRITE for writable, whichever the call asks for (a read may need to
 * write, and the other way round).  stream.h wraps this with plain TCP in one
 * interface; most code should use that.
 */
#ifndef COLOOP_NET_TLS_H
#define COLOOP_NET_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "net/neterr.h"

typedef struct tls_ctx tls_ctx;     /* one configuration, shared, refcounted */
typedef struct tls_conn tls_conn;   /* one connection */

/* Client configuration; NULL means all defaults (system trust store). */
struct tls_client_opts {
    const char *ca_file;    /* PEM file of CAs to trust instead of the system store */
    const char *ca_dir;     /* hashed directory of CAs (c_rehash), instead of the system store */
    const char *ca_pem;     /* CAs as PEM text in memory (tests) */
    bool insecure;          /* DANGER: accept any certificate for any name.  Tests and demos only. */
    bool no_alpn;           /* do not offer ALPN http/1.1 */
    bool no_resumption;     /* do not keep sessions for resumption */
};

/* Server configuration: a certificate chain (leaf first, then intermediates)
 * and its private key, from files or from PEM text in memory. */
struct tls_server_opts {
    const char *cert_file, *key_file;
    const char *cert_pem, *key_pem;
    bool no_alpn;           /* do not answer ALPN (default: select http/1.1 if offered) */
};

/* Make a context.  Never suspends.  0 and *out (the caller's reference:
 * tls_ctx_free()), or NET_ETLS_CONFIG with the reason in *why (may be NULL:
 * unreadable CA file or directory, key does not match the certificate),
 * or -ENOMEM. */
/* An empty system store (no ca-certificates package) is not detected here:
 * OpenSSL reports success for it.  It shows at the handshake, as
 * NET_ETLS_VERIFY "unable to get local issuer certificate". */
int tls_ctx_new_client(const struct tls_client_opts *opts, tls_ctx **out, struct net_detail *why);
int tls_ctx_new_server(const struct tls_server_opts *opts, tls_ctx **out, struct net_detail *why);

/* Drop the caller's reference.  Connections hold their own, so a context may
 * be freed while connections made from it are still open.  NULL is fine. */
void tls_ctx_free(tls_ctx *ctx);

/* Cached client sessions (for tests and benchmarks): how many are held. */
int tls_ctx_sessions(tls_ctx *ctx);

/* A connection over `fd`, a connected nonblocking socket that stays the
 * caller's (tls_conn_free() does not close it).  For a client context, `host`
 * is the name or IP literal the certificate must match (also the SNI name and
 * the session cache key, with the peer's port); for a server context pass
 * NULL.  Never suspends; the handshake is tls_await_handshake().  0 and *out
 * (the caller's: tls_conn_free()), -EINVAL (client without host), -ENOMEM. */
int tls_conn_new(tls_ctx *ctx, int fd, const char *host, tls_conn **out);

/* Run the handshake.  Suspends.  0, or:
 *   NET_ETLS_VERIFY   the certificate was refused; tls_conn_detail() names the
 *                     reason ("certificate has expired", "hostname mismatch",
 *                     "self-signed certificate", "unable to get local issuer
 *                     certificate", ...) and tls_conn_verify_result() the code
 *   NET_ETLS          protocol failure (e.g. "wrong version number": the peer
 *                     does not speak TLS); detail from OpenSSL
 *   NET_ETLS_ALPN     the server picked a protocol other than http/1.1 (OpenSSL 3
 *                     refuses one we did not offer inside the handshake:
 *                     NET_ETLS, "bad extension", and the detail says ALPN)
 *   NET_ETLS_TRUNCATED the peer closed the connection during the handshake
 *   -ETIMEDOUT, -ECANCELED, -ECONNRESET, -EPIPE, ...
 * After any failure the connection is only good for tls_conn_free(). */
int tls_await_handshake(tls_conn *c, int64_t deadline);

/* Read up to len decrypted bytes.  Suspends only if none are ready.  The
 * count (> 0), 0 when the peer closed cleanly (close_notify), or
 * NET_ETLS_TRUNCATED (the peer closed without close_notify: a body delimited
 * by the close is then incomplete), NET_ETLS, -ETIMEDOUT (the connection
 * stays usable), -ECANCELED, -ECONNRESET, ... */
ssize_t tls_await_read(tls_conn *c, void *buf, size_t len, int64_t deadline);

/* Write all len bytes.  Suspends while the socket is full.  0, or NET_ETLS,
 * -EPIPE, -ECONNRESET, -ETIMEDOUT, -ECANCELED: after an error the connection
 * is only good for tls_conn_free(). */
int tls_await_write_all(tls_conn *c, const void *buf, size_t len, int64_t deadline);

/* Send close_notify (the TLS end-of-data), waiting for room in the socket if
 * needed; does not wait for the peer's own close_notify.  Suspends.  0 (also
 * when there is nothing to send: no handshake, or a failed connection, where
 * OpenSSL forbids SSL_shutdown), -ETIMEDOUT, -ECANCELED, NET_ETLS, -EPIPE. */
int tls_await_shutdown(tls_conn *c, int64_t deadline);

/* The same without waiting: one attempt, for closing paths that must not
 * suspend.  0 (sent or nothing to send), -EAGAIN (socket full: not sent). */
int tls_try_shutdown(tls_conn *c);

/* Free the connection (not the socket).  Never suspends.  NULL is fine. */
void tls_conn_free(tls_conn *c);

/* Facts about a connection.  Never suspend.  Strings are owned by the
 * connection and live until tls_conn_free(). */
const char *tls_conn_detail(const tls_conn *c);   /* why the last call failed, "" if none */
long tls_conn_verify_result(const tls_conn *c);   /* X509_V_OK (0) or an X509_V_ERR_* code */
const char *tls_conn_alpn(const tls_conn *c);     /* "http/1.1" or "" */
const char *tls_conn_version(const tls_conn *c);  /* "TLSv1.3", ... */
bool tls_conn_resumed(const tls_conn *c);         /* the handshake resumed a cached session */
const char *tls_conn_server_name(const tls_conn *c);  /* SNI: sent (client) or received (server); "" if none */
size_t tls_conn_pending(const tls_conn *c);       /* decrypted bytes readable without waiting */
int tls_conn_fd(const tls_conn *c);

#endif
