/* tls_ctx.c - TLS configurations: one SSL_CTX per configuration, shared by
 * every connection made with it (see tls.h), plus the client's session cache.
 *
 * A client context follows RELIABILITY.md section 4.1 in order: TLS 1.2 at
 * least (T1.1); the system trust store or the given CAs, each load checked
 * (T1.2); SSL_VERIFY_PEER set explicitly, because OpenSSL's default is
 * SSL_VERIFY_NONE, which completes a handshake with an expired or forged
 * certificate (T1.3); ALPN http/1.1, whose setter returns 0 on success (T1.7).
 * Per-connection settings (SNI, host name check) are in tls.c.
 *
 * Sessions: the server sends TLS 1.3 tickets after the handshake; OpenSSL
 * hands each to on_new_session(), which keeps the newest per "host:port".
 * The next connection to the same host and port offers it and skips the
 * certificate exchange and signature.  Never shared across hosts (T2.9).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "net/tls_internal.h"

static const unsigned char alpn_http11[] = "\x08http/1.1";

/* The newest error on OpenSSL's (per-thread) queue, in words. */
static void detail_from_openssl(struct net_detail *why, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    char buf[256] = "no OpenSSL error recorded";
    if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    net_detail_set(why, "%s: %s", what, buf);
    ERR_clear_error();
}

static tls_ctx *ctx_alloc(SSL_CTX *ssl_ctx, bool server)
{
    tls_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return NULL;
    ctx->ssl_ctx = ssl_ctx;
    ctx->server = server;
    atomic_init(&ctx->refs, 1);
    pthread_mutex_init(&ctx->lock, NULL);
    SSL_CTX_set_app_data(ssl_ctx, ctx);
    return ctx;
}

void tls_ctx_ref(tls_ctx *ctx)
{
    atomic_fetch_add(&ctx->refs, 1);
}

void tls_ctx_free(tls_ctx *ctx)
{
    if (!ctx || atomic_fetch_sub(&ctx->refs, 1) != 1)
        return;
    for (int i = 0; i < TLS_SESSION_CACHE; i++)
        SSL_SESSION_free(ctx->sessions[i].session);
    SSL_CTX_free(ctx->ssl_ctx);
    pthread_mutex_destroy(&ctx->lock);
    free(ctx);
}

SSL_SESSION *tls_ctx_session_get(tls_ctx *ctx, const char *key)
{
    SSL_SESSION *s = NULL;
    pthread_mutex_lock(&ctx->lock);
    for (int i = 0; i < TLS_SESSION_CACHE; i++) {
        struct tls_session_slot *slot = &ctx->sessions[i];
        if (slot->session && strcmp(slot->key, key) == 0) {
            if (SSL_SESSION_is_resumable(slot->session)) {
                s = slot->session;
                SSL_SESSION_up_ref(s);
            }
            break;
        }
    }
    pthread_mutex_unlock(&ctx->lock);
    return s;
}

void tls_ctx_session_put(tls_ctx *ctx, const char *key, SSL_SESSION *s)
{
    pthread_mutex_lock(&ctx->lock);
    struct tls_session_slot *slot = NULL;
    for (int i = 0; i < TLS_SESSION_CACHE && !slot; i++)
        if (ctx->sessions[i].session && strcmp(ctx->sessions[i].key, key) == 0)
            slot = &ctx->sessions[i];
    for (int i = 0; i < TLS_SESSION_CACHE && !slot; i++)
        if (!ctx->sessions[i].session)
            slot = &ctx->sessions[i];
    if (!slot)   /* full: round robin is enough for a cache this small */
        slot = &ctx->sessions[ctx->next_victim++ % TLS_SESSION_CACHE];
    SSL_SESSION *old = slot->session;
    slot->session = s;
    snprintf(slot->key, sizeof slot->key, "%s", key);
    pthread_mutex_unlock(&ctx->lock);
    SSL_SESSION_free(old);
}

int tls_ctx_sessions(tls_ctx *ctx)
{
    int n = 0;
    pthread_mutex_lock(&ctx->lock);
    for (int i = 0; i < TLS_SESSION_CACHE; i++)
        n += ctx->sessions[i].session != NULL;
    pthread_mutex_unlock(&ctx->lock);
    return n;
}

/* OpenSSL calls this with each new session (a TLS 1.3 ticket arrives after the
 * handshake, during a later SSL_read).  Returning 1 keeps the reference. */
static int on_new_session(SSL *ssl, SSL_SESSION *session)
{
    tls_conn *c = SSL_get_app_data(ssl);
    if (!c || !c->session_key[0] || !c->ctx->resumption)
        return 0;
    tls_ctx_session_put(c->ctx, c->session_key, session);
    return 1;
}

/* Add every certificate of a PEM text to the trust store.  Returns how many. */
static int trust_pem(SSL_CTX *ssl_ctx, const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    if (!bio)
        return 0;
    X509_STORE *store = SSL_CTX_get_cert_store(ssl_ctx);
    int n = 0;
    X509 *x;
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
        n += X509_STORE_add_cert(store, x) == 1;
        X509_free(x);
    }
    ERR_clear_error();   /* the read that ends the loop leaves "no start line" */
    BIO_free(bio);
    return n;
}

static int load_trust(SSL_CTX *ssl_ctx, const struct tls_client_opts *o, struct net_detail *why)
{
    /* OpenSSL only records a CA directory and looks into it during a
     * handshake, so a mistyped path would surface later as "unable to get
     * local issuer certificate": check it here, where the mistake is. */
    if (o->ca_dir) {
        struct stat st;
        const char *wrong = stat(o->ca_dir, &st) < 0 ? strerror(errno)
                            : !S_ISDIR(st.st_mode)   ? "not a directory"
                                                     : NULL;
        if (wrong) {
            net_detail_set(why, "CA directory %s: %s", o->ca_dir, wrong);
            return -NET_ETLS_CONFIG;
        }
    }
    if (o->ca_file || o->ca_dir) {
        if (SSL_CTX_load_verify_locations(ssl_ctx, o->ca_file, o->ca_dir) != 1) {
            char what[300];
            snprintf(what, sizeof what, "cannot load trusted CAs from %s", o->ca_file ? o->ca_file : o->ca_dir);
            detail_from_openssl(why, what);
            return -NET_ETLS_CONFIG;
        }
    }
    if (o->ca_pem && trust_pem(ssl_ctx, o->ca_pem) == 0) {
        net_detail_set(why, "ca_pem holds no usable certificate");
        return -NET_ETLS_CONFIG;
    }
    if (!o->ca_file && !o->ca_dir && !o->ca_pem &&
        SSL_CTX_set_default_verify_paths(ssl_ctx) != 1) {
        detail_from_openssl(why, "cannot load the system trust store");
        return -NET_ETLS_CONFIG;
    }
    return 0;
}

int tls_ctx_new_client(const struct tls_client_opts *opts, tls_ctx **out, struct net_detail *why)
{
    static const struct tls_client_opts defaults = { 0 };
    if (!opts)
        opts = &defaults;
    *out = NULL;
    net_detail_set(why, "%s", "");
    SSL_CTX *ssl_ctx = SSL_CTX_new(TLS_client_method());
    if (!ssl_ctx) {
        detail_from_openssl(why, "SSL_CTX_new");
        return -ENOMEM;
    }
    int rc = 0;
    if (SSL_CTX_set_min_proto_version(ssl_ctx, TLS1_2_VERSION) != 1) {
        detail_from_openssl(why, "cannot require TLS 1.2");
        rc = -NET_ETLS_CONFIG;
    }
    if (rc == 0)
        rc = load_trust(ssl_ctx, opts, why);
    /* Verification is explicit, both ways: the default would be NONE. */
    SSL_CTX_set_verify(ssl_ctx, opts->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    if (rc == 0 && !opts->no_alpn &&
        SSL_CTX_set_alpn_protos(ssl_ctx, alpn_http11, sizeof alpn_http11 - 1) != 0) {   /* 0 = ok */
        detail_from_openssl(why, "cannot set ALPN");
        rc = -NET_ETLS_CONFIG;
    }
    SSL_CTX_set_mode(ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* Client sessions go to our cache (keyed by host:port), not OpenSSL's. */
    SSL_CTX_set_session_cache_mode(ssl_ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ssl_ctx, on_new_session);
    tls_ctx *ctx = rc == 0 ? ctx_alloc(ssl_ctx, false) : NULL;
    if (!ctx) {
        SSL_CTX_free(ssl_ctx);
        return rc < 0 ? rc : -ENOMEM;
    }
    ctx->insecure = opts->insecure;
    ctx->alpn = !opts->no_alpn;
    ctx->resumption = !opts->no_resumption;
    if (ctx->insecure)
        fprintf(stderr, "coloop: WARNING: TLS client context with insecure=true: certificates and "
                        "host names are NOT verified, anyone on the path can read and change this "
                        "traffic. For tests and demos only.\n");
    *out = ctx;
    return 0;
}

/* Server ALPN: pick http/1.1 if the client offers it, else no ALPN at all. */
static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    unsigned char *sel;
    if (SSL_select_next_proto(&sel, outlen, alpn_http11, sizeof alpn_http11 - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

/* Certificate chain and key from PEM text: leaf first, then intermediates. */
static int use_pem(SSL_CTX *ssl_ctx, const char *cert_pem, const char *key_pem)
{
    int ok = 0;
    BIO *cb = BIO_new_mem_buf(cert_pem, -1);
    BIO *kb = BIO_new_mem_buf(key_pem, -1);
    X509 *leaf = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
    EVP_PKEY *key = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
    if (leaf && key && SSL_CTX_use_certificate(ssl_ctx, leaf) == 1 &&
        SSL_CTX_use_PrivateKey(ssl_ctx, key) == 1) {
        ok = 1;
        X509 *x;
        while (ok && (x = PEM_read_bio_X509(cb, NULL, NULL, NULL)))
            if (SSL_CTX_add0_chain_cert(ssl_ctx, x) != 1) {   /* takes x on success */
                X509_free(x);
                ok = 0;
            }
        if (ok)
            ERR_clear_error();   /* the end of the PEM text */
    }
    X509_free(leaf);
    EVP_PKEY_free(key);
    BIO_free(cb);
    BIO_free(kb);
    return ok;
}

int tls_ctx_new_server(const struct tls_server_opts *opts, tls_ctx **out, struct net_detail *why)
{
    *out = NULL;
    net_detail_set(why, "%s", "");
    bool files = opts && opts->cert_file && opts->key_file;
    bool pem = opts && opts->cert_pem && opts->key_pem;
    if (!files && !pem) {
        net_detail_set(why, "a TLS server needs cert_file+key_file or cert_pem+key_pem");
        return -NET_ETLS_CONFIG;
    }
    SSL_CTX *ssl_ctx = SSL_CTX_new(TLS_server_method());
    if (!ssl_ctx) {
        detail_from_openssl(why, "SSL_CTX_new");
        return -ENOMEM;
    }
    int rc = 0;
    SSL_CTX_set_min_proto_version(ssl_ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (files && (SSL_CTX_use_certificate_chain_file(ssl_ctx, opts->cert_file) != 1 ||
                  SSL_CTX_use_PrivateKey_file(ssl_ctx, opts->key_file, SSL_FILETYPE_PEM) != 1)) {
        detail_from_openssl(why, "cannot load the server certificate or key file");
        rc = -NET_ETLS_CONFIG;
    } else if (!files && !use_pem(ssl_ctx, opts->cert_pem, opts->key_pem)) {
        detail_from_openssl(why, "cannot use the server certificate or key PEM");
        rc = -NET_ETLS_CONFIG;
    }
    if (rc == 0 && SSL_CTX_check_private_key(ssl_ctx) != 1) {
        detail_from_openssl(why, "the private key does not match the certificate");
        rc = -NET_ETLS_CONFIG;
    }
    if (rc == 0 && !opts->no_alpn)
        SSL_CTX_set_alpn_select_cb(ssl_ctx, select_alpn, NULL);
    tls_ctx *ctx = rc == 0 ? ctx_alloc(ssl_ctx, true) : NULL;
    if (!ctx) {
        SSL_CTX_free(ssl_ctx);
        return rc < 0 ? rc : -ENOMEM;
    }
    ctx->alpn = !opts->no_alpn;
    *out = ctx;
    return 0;
}
