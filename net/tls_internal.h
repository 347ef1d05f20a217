/* tls_internal.h - what tls_ctx.c (configurations, trust, session cache) and
 * tls.c (connections, I/O) share.  Not a public header. */
#ifndef COLOOP_NET_TLS_INTERNAL_H
#define COLOOP_NET_TLS_INTERNAL_H

#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>

#include "net/tls.h"

#define TLS_SESSION_CACHE 64        /* client sessions kept per context (host:port keys) */
#define TLS_SESSION_KEY_MAX 300     /* "host:port" */
#define TLS_HOST_MAX 256            /* longest host name or IP literal a client verifies */

struct tls_session_slot {
    char key[TLS_SESSION_KEY_MAX];  /* "host:port", "" = free */
    SSL_SESSION *session;           /* our reference */
};

struct tls_ctx {
    SSL_CTX *ssl_ctx;               /* OpenSSL's context; ours holds one reference */
    bool server;                    /* made by tls_ctx_new_server */
    bool insecure;                  /* client without verification (loud) */
    bool alpn;                      /* client offers / server selects http/1.1 */
    bool resumption;                /* client keeps sessions */
    atomic_int refs;                /* the creator's reference + one per connection */
    pthread_mutex_t lock;           /* guards the session cache: contexts cross threads */
    struct tls_session_slot sessions[TLS_SESSION_CACHE];
    unsigned next_victim;           /* round-robin replacement when the cache is full */
};

struct tls_conn {
    SSL *ssl;
    tls_ctx *ctx;                   /* holds a reference */
    int fd;                         /* the caller's socket (not closed here) */
    bool handshaken;                /* the handshake completed */
    bool broken;                    /* fatal error seen: no more I/O, no SSL_shutdown (T2.5) */
    bool shutdown_sent;             /* our close_notify is out */
    bool peer_eof;                  /* recv() returned 0 (the BIO answers BIO_CTRL_EOF with it) */
    int io_errno;                   /* errno of the BIO's last failed send/recv, 0 if none */
    int error;                      /* the sticky code once broken */
    long verify_result;             /* SSL_get_verify_result after the handshake (or failure) */
    char session_key[TLS_SESSION_KEY_MAX];  /* "host:port" for the client cache, "" = none */
    char host[TLS_HOST_MAX];        /* what the certificate must match (clients) */
    char detail[NET_DETAIL_MAX];    /* why the last call failed, or a warning */
};

/* Hold / drop a context reference (atomic: contexts are shared by threads). */
void tls_ctx_ref(tls_ctx *ctx);

/* Client session cache: take a reference to the session for key (NULL if
 * none), or store one (takes over the caller's reference). */
SSL_SESSION *tls_ctx_session_get(tls_ctx *ctx, const char *key);
void tls_ctx_session_put(tls_ctx *ctx, const char *key, SSL_SESSION *s);

#endif
