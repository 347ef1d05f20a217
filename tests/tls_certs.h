/* tls_certs.h - a throwaway PKI made at test time with the OpenSSL API (no
 * `openssl` command needed): a root CA, an intermediate, and the leaves of a
 * local "badssl" set (RELIABILITY.md 4.3).  Everything is PEM text in memory;
 * the TLS tests hand it to tls_ctx_new_* directly.  Used by tests/test_tls.c,
 * tests/test_stream.c and demos/netbench.c (which #includes the .c file, as
 * demos are built from one source file).  Not linked into the library.
 */
#ifndef COLOOP_TESTS_TLS_CERTS_H
#define COLOOP_TESTS_TLS_CERTS_H

#include <stddef.h>

/* One server identity: its chain (leaf first) and key, PEM, malloc'd. */
struct test_cert {
    char *cert_pem;
    char *key_pem;
};

struct test_pki {
    char *ca_pem;                   /* the root the client trusts */
    struct test_cert good;          /* DNS:localhost, IP:127.0.0.1, IP:::1 by the intermediate; chain sent */
    struct test_cert no_chain;      /* the same leaf, intermediate not sent ("missing intermediate") */
    struct test_cert expired;       /* good names, validity ended yesterday */
    struct test_cert wrong_host;    /* DNS:wrong.example, IP:127.0.0.2 */
    struct test_cert self_signed;   /* localhost, signed by itself */
    struct test_cert untrusted;     /* localhost, by a second root the client does not trust (sent) */
};

/* Make the whole set (a few ms: EC P-256 keys).  0, or -1 after printing
 * OpenSSL's error on stderr. */
int test_pki_make(struct test_pki *pki);
void test_pki_free(struct test_pki *pki);

/* Write pem to a new file under /tmp; path gets its name (unlink it after).
 * 0 or -1. */
int test_pki_write_temp(const char *pem, char *path, size_t path_len);

#endif
