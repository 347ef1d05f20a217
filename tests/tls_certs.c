/* tls_certs.c - the test PKI of tls_certs.h, built with X509_new/X509_sign.
 *
 * Each certificate is: a fresh EC P-256 key, a validity window relative to
 * now, a subject CN, X.509v3 extensions written in the config syntax the
 * `openssl` command uses ("critical,CA:TRUE"), and a SHA-256 signature by its
 * issuer's key.  The machine clock decides what "expired" means, which is why
 * this runs at test time and nothing is checked in.
 */
#define _GNU_SOURCE
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/tls_certs.h"

#define DAY (24L * 3600)

struct made {
    X509 *cert;
    EVP_PKEY *key;
};

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    if (!ext)
        return 0;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

/* What kind of certificate: decides the extensions. */
enum cert_kind { ROOT, INTERMEDIATE, LEAF };

/* Make a certificate for a new key, signed by `by` (NULL: by itself). */
static int make_cert(struct made *out, enum cert_kind kind, const char *cn, const char *san,
                     long from_s, long until_s, const struct made *by)
{
    out->cert = NULL;
    out->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = X509_new();
    if (!out->key || !x)
        goto fail;
    unsigned char serial[8];
    RAND_bytes(serial, sizeof serial);
    serial[0] &= 0x7f;   /* positive */
    BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
    int ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    X509 *issuer = by ? by->cert : x;
    EVP_PKEY *issuer_key = by ? by->key : out->key;
    ok = ok && X509_set_version(x, X509_VERSION_3) &&
         X509_gmtime_adj(X509_getm_notBefore(x), from_s) &&
         X509_gmtime_adj(X509_getm_notAfter(x), until_s) &&
         X509_set_pubkey(x, out->key);
    X509_NAME *name = X509_get_subject_name(x);
    ok = ok && X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"coloop tests", -1, -1, 0) &&
         X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) &&
         X509_set_issuer_name(x, X509_get_subject_name(issuer));
    ok = ok && add_ext(x, issuer, NID_subject_key_identifier, "hash");
    if (ok && by)
        ok = add_ext(x, issuer, NID_authority_key_identifier, "keyid:always");
    switch (kind) {
    case ROOT:
        ok = ok && add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE") &&
             add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
        break;
    case INTERMEDIATE:
        ok = ok && add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
             add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
        break;
    case LEAF:
        ok = ok && add_ext(x, issuer, NID_basic_constraints, "CA:FALSE") &&
             add_ext(x, issuer, NID_ext_key_usage, "serverAuth") &&
             add_ext(x, issuer, NID_subject_alt_name, san);
        if (by)   /* a self-signed leaf gets no keyUsage: it must still count as self-signed */
            ok = ok && add_ext(x, issuer, NID_key_usage, "critical,digitalSignature");
        break;
    }
    if (!ok || !X509_sign(x, issuer_key, EVP_sha256()))
        goto fail;
    out->cert = x;
    return 0;
fail:
    ERR_print_errors_fp(stderr);
    X509_free(x);
    EVP_PKEY_free(out->key);
    out->key = NULL;
    return -1;
}

static void made_free(struct made *m)
{
    X509_free(m->cert);
    EVP_PKEY_free(m->key);
}

static char *bio_text(BIO *b)
{
    char *data;
    long n = BIO_get_mem_data(b, &data);
    char *s = malloc((size_t)n + 1);
    if (s) {
        memcpy(s, data, (size_t)n);
        s[n] = '\0';
    }
    BIO_free(b);
    return s;
}

/* PEM of a certificate followed by up to two chain certificates. */
static char *chain_pem(X509 *leaf, X509 *chain1, X509 *chain2)
{
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, leaf);
    if (chain1)
        PEM_write_bio_X509(b, chain1);
    if (chain2)
        PEM_write_bio_X509(b, chain2);
    return bio_text(b);
}

static char *key_pem(EVP_PKEY *key)
{
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL);
    return bio_text(b);
}

static int make_leaf(struct test_cert *out, const char *cn, const char *san, long from_s,
                     long until_s, const struct made *by, X509 *chain)
{
    struct made m;
    if (make_cert(&m, LEAF, cn, san, from_s, until_s, by) < 0)
        return -1;
    out->cert_pem = chain_pem(m.cert, chain, NULL);
    out->key_pem = key_pem(m.key);
    made_free(&m);
    return out->cert_pem && out->key_pem ? 0 : -1;
}

int test_pki_make(struct test_pki *pki)
{
    static const char *good_san = "DNS:localhost,IP:127.0.0.1,IP:::1";
    memset(pki, 0, sizeof *pki);
    struct made root = { 0 }, inter = { 0 }, other_root = { 0 }, leaf = { 0 };
    int rc = -1;
    if (make_cert(&root, ROOT, "coloop test root", NULL, -DAY, 3650 * DAY, NULL) < 0 ||
        make_cert(&inter, INTERMEDIATE, "coloop test intermediate", NULL, -DAY, 3650 * DAY, &root) < 0 ||
        make_cert(&other_root, ROOT, "untrusted root", NULL, -DAY, 3650 * DAY, NULL) < 0 ||
        make_cert(&leaf, LEAF, "localhost", good_san, -3600, 30 * DAY, &inter) < 0)
        goto out;
    pki->ca_pem = chain_pem(root.cert, NULL, NULL);
    pki->good.cert_pem = chain_pem(leaf.cert, inter.cert, NULL);
    pki->good.key_pem = key_pem(leaf.key);
    pki->no_chain.cert_pem = chain_pem(leaf.cert, NULL, NULL);
    pki->no_chain.key_pem = key_pem(leaf.key);
    if (make_leaf(&pki->expired, "localhost", good_san, -30 * DAY, -DAY, &inter, inter.cert) < 0 ||
        make_leaf(&pki->wrong_host, "wrong.example", "DNS:wrong.example,IP:127.0.0.2", -3600,
                  30 * DAY, &inter, inter.cert) < 0 ||
        make_leaf(&pki->self_signed, "localhost", good_san, -3600, 30 * DAY, NULL, NULL) < 0 ||
        make_leaf(&pki->untrusted, "localhost", good_san, -3600, 30 * DAY, &other_root,
                  other_root.cert) < 0)
        goto out;
    rc = 0;
out:
    made_free(&root);
    made_free(&inter);
    made_free(&other_root);
    made_free(&leaf);
    if (rc < 0)
        test_pki_free(pki);
    return rc;
}

static void cert_free(struct test_cert *c)
{
    free(c->cert_pem);
    free(c->key_pem);
    c->cert_pem = c->key_pem = NULL;
}

void test_pki_free(struct test_pki *pki)
{
    free(pki->ca_pem);
    pki->ca_pem = NULL;
    cert_free(&pki->good);
    cert_free(&pki->no_chain);
    cert_free(&pki->expired);
    cert_free(&pki->wrong_host);
    cert_free(&pki->self_signed);
    cert_free(&pki->untrusted);
}

int test_pki_write_temp(const char *pem, char *path, size_t path_len)
{
    snprintf(path, path_len, "/tmp/coloop-test-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    size_t len = strlen(pem);
    ssize_t n = write(fd, pem, len);
    close(fd);
    return n == (ssize_t)len ? 0 : -1;
}
