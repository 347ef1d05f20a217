/* client_body.c - bodies in both directions: the request body from memory
 * or a callback (chunked when its length is unknown), the response body into
 * memory under a cap or out to a callback, the file callbacks, and the
 * response's own storage (head fields and trailers copied out of the
 * connection's buffer, which the next response reuses).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/client_internal.h"
#include "runtime/error.h"

#define SOURCE_PIECE (16 * 1024)    /* bytes asked of a body callback at a time */
#define CHUNK_HEAD 18               /* room for "<16 hex digits>\r\n" before a piece */

/* The most memory reserved for a response body before its bytes arrive.  A
 * Content-Length is only the server's claim: reserving all of it at the head
 * would let a server that announces 500 MB (under a 1 GiB body cap) and then
 * sends nothing make every such request allocate 500 MB.  Past this much,
 * client_body_deliver() grows the buffer by doubling as bytes come, so what
 * we hold follows what was received, not what was promised; 1 MiB still
 * gives most bodies their whole buffer in one allocation. */
#define BODY_RESERVE_MAX ((size_t)1 << 20)

/* ---- request bodies ---- */

ssize_t http_body_read_fd(void *arg, uint64_t offset, char *buf, size_t len)
{
    int fd = (int)(intptr_t)arg;
    ssize_t n;
    do
        n = pread(fd, buf, len, (off_t)offset);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

int http_body_write_fd(void *arg, const char *data, size_t len)
{
    int fd = (int)(intptr_t)arg;
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            int err = errno;
            if (err == EINTR)
                continue;
            return -err;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static int source_error(struct http_call *k, int rc, uint64_t at)
{
    const struct http_response *r = k->resp;
    if (rc == -HTTP_E_BODY_SOURCE)
        net_detail_set(&k->resp->detail, "the request body source gave %llu bytes, not the %lld "
                       "announced", (unsigned long long)at, (long long)k->req->body_length);
    else if (rc == -ESPIPE && at == 0 && (r->retried || r->redirects > 0))
        /* The source's contract (client.h): -ESPIPE when it cannot start
         * over.  Say why we asked it to, or the caller sees "Illegal seek"
         * from a request that never seeks. */
        net_detail_set(&k->resp->detail, "the request body had to be sent again (%s) but its "
                       "source cannot start over at byte 0: %s",
                       r->redirects > 0 ? "to follow a redirect"
                                        : "on a new connection after a stale pooled one",
                       co_strerror(rc));
    else
        net_detail_set(&k->resp->detail, "the request body source failed at byte %llu: %s",
                       (unsigned long long)at, co_strerror(rc));
    return rc;
}

/* From the callback: pieces as they come, each one chunk when chunked. */
static int await_send_from_source(struct http_call *k)
{
    const struct http_request *q = k->req;
    bool chunked = q->body_length < 0;
    char *buf = malloc(CHUNK_HEAD + SOURCE_PIECE + 2);
    if (!buf)
        return -ENOMEM;
    char *data = buf + CHUNK_HEAD;
    uint64_t offset = 0;
    int rc = 0;
    for (;;) {
        ssize_t n = q->body_read(q->body_arg, offset, data, SOURCE_PIECE);
        if (n < 0 || (size_t)n > SOURCE_PIECE) {
            rc = source_error(k, n < 0 ? (int)n : -HTTP_E_BODY_SOURCE, offset);
            break;
        }
        if (n == 0)
            break;
        if (!chunked && offset + (uint64_t)n > (uint64_t)q->body_length) {
            rc = source_error(k, -HTTP_E_BODY_SOURCE, offset + (uint64_t)n);
            break;
        }
        offset += (uint64_t)n;
        const char *out = data;
        size_t len = (size_t)n;
        if (chunked) {      /* "<hex>\r\n" right before the data, "\r\n" after it */
            char hex[CHUNK_HEAD + 1];
            int h = snprintf(hex, sizeof hex, "%zx\r\n", len);
            out = data - h;
            memcpy((char *)out, hex, (size_t)h);
            memcpy(data + len, "\r\n", 2);
            len += (size_t)h + 2;
        }
        if ((rc = client_exchange_await_write(k, out, len, "sending the request body")) < 0)
            break;
    }
    free(buf);
    if (rc == 0 && !chunked && offset != (uint64_t)q->body_length)
        rc = source_error(k, -HTTP_E_BODY_SOURCE, offset);
    if (rc == 0 && chunked)
        rc = client_exchange_await_write(k, "0\r\n\r\n", 5, "sending the request body");
    return rc;
}

int client_body_await_send(struct http_call *k)
{
    const struct http_request *q = k->req;
    if (q->body_read)
        return await_send_from_source(k);
    return client_exchange_await_write(k, q->body, q->body_len, "sending the request body");
}

/* ---- response bodies ---- */

void client_body_expect(struct http_call *k, uint64_t len)
{
    struct http_response *r = k->resp;
    if (k->req->on_body || len > k->body_max)
        return;
    size_t want = (len < BODY_RESERVE_MAX ? (size_t)len : BODY_RESERVE_MAX) + 1;
    if (want <= r->body_cap)
        return;
    char *b = realloc(r->body, want);
    if (b) {        /* a failure is no error: delivering grows the buffer as bytes come */
        r->body = b;
        r->body_cap = want;
    }
}

/* The buffer size that holds the announced Content-Length body and its NUL,
 * or 0 when the length is unknown (chunked, close-delimited).  Growth stops
 * there: doubling past it would only waste what an honest body never uses. */
static size_t announced_size(const struct http_call *k)
{
    if (!k->conn)
        return 0;
    const struct http_head *h = &k->conn->parser.head;
    if (h->framing != HTTP_FRAMING_LENGTH || h->content_length >= SIZE_MAX)
        return 0;
    return (size_t)h->content_length + 1;
}

int client_body_deliver(struct http_call *k, const char *data, size_t len)
{
    struct http_response *r = k->resp;
    r->body_received += len;
    if (k->req->on_body) {
        int rc = k->req->on_body(k->req->on_body_arg, data, len);
        if (rc < 0)
            net_detail_set(&r->detail, "the on_body callback stopped the transfer: %s",
                           co_strerror(rc));
        return rc;
    }
    if (r->body_len + len > k->body_max) {  /* the parser enforces it too; belt and braces */
        net_detail_set(&r->detail, "response body larger than the %llu-byte cap",
                       (unsigned long long)k->body_max);
        return -HTTP_E_BODY_TOO_LARGE;
    }
    size_t need = r->body_len + len + 1;
    if (need > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 4096;
        while (cap < need)
            cap *= 2;
        size_t exact = announced_size(k);
        if (exact >= need && cap > exact)
            cap = exact;
        char *b = realloc(r->body, cap);
        if (!b)
            return -ENOMEM;
        r->body = b;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, len);
    r->body_len += len;
    r->body[r->body_len] = '\0';
    return 0;
}

/* ---- the response's storage ---- */

/* Copy n fields (and, if reason, the reason phrase) into one allocation:
 * the array first, then each name and value NUL-terminated. */
static char *copy_fields(const struct http_header *f, size_t n, const char *reason,
                         size_t reason_len, struct http_header **out, const char **reason_out)
{
    size_t size = n * sizeof **out + reason_len + 1;
    for (size_t i = 0; i < n; i++)
        size += f[i].name_len + f[i].value_len + 2;
    char *mem = malloc(size);
    if (!mem)
        return NULL;
    struct http_header *arr = (struct http_header *)mem;
    char *at = mem + n * sizeof *arr;
    for (size_t i = 0; i < n; i++) {
        arr[i].name = at;
        arr[i].name_len = f[i].name_len;
        memcpy(at, f[i].name, f[i].name_len);
        at += f[i].name_len;
        *at++ = '\0';
        arr[i].value = at;
        arr[i].value_len = f[i].value_len;
        if (f[i].value_len)
            memcpy(at, f[i].value, f[i].value_len);
        at += f[i].value_len;
        *at++ = '\0';
    }
    if (reason_len)
        memcpy(at, reason, reason_len);
    at[reason_len] = '\0';
    *reason_out = at;
    *out = arr;
    return mem;
}

int client_body_store_head(struct http_response *r, const struct http_head *h)
{
    free(r->mem);
    r->mem = copy_fields(h->fields, h->field_count, h->reason, h->reason_len, &r->headers,
                         &r->reason);
    if (!r->mem) {
        r->headers = NULL;
        r->reason = NULL;
        return -ENOMEM;
    }
    r->header_count = h->field_count;
    return 0;
}

int client_body_store_trailers(struct http_response *r, const struct http_header *t, size_t n)
{
    const char *unused;
    free(r->trailers);
    r->trailers = (struct http_header *)copy_fields(t, n, "", 0, &r->trailers, &unused);
    r->trailer_count = r->trailers ? n : 0;
    return r->trailers ? 0 : -ENOMEM;
}

void client_body_reset_response(struct http_response *r, bool keep_url)
{
    free(r->mem);
    free(r->trailers);
    free(r->body);
    if (!keep_url) {
        free(r->url);
        r->url = NULL;
    }
    r->mem = r->body = NULL;
    r->reason = NULL;
    r->headers = r->trailers = NULL;
    r->header_count = r->trailer_count = 0;
    r->body_len = r->body_cap = 0;
    r->body_received = 0;
    r->status = 0;
    r->version_minor = 0;
}
