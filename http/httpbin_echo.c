/* httpbin_echo.c - the built-in target's helpers for reading a request
 * (numbers, the query string, the origin) and its echo routes' answer: the
 * request as JSON, as httpbin.org's /get and /anything give it.  The router
 * is in httpbin.c.
 *
 * The JSON is built in a growable buffer; every byte that came from the
 * client is escaped (bytes >= 0x80 as Latin-1 \u00XX), so the answer is
 * valid JSON whatever the request held.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/chars.h"
#include "http/httpbin_internal.h"
#include "runtime/task.h"

#define ARGS_MAX 64     /* query parameters shown in "args" */

/* ---- helpers ---- */

bool httpbin_number(const char *s, size_t n, long max, long *out)
{
    long v = 0;
    if (n == 0 || n > 12)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!http_is_digit((unsigned char)s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

const char *httpbin_origin(const struct server_request *req, char *buf, size_t len)
{
    size_t hl;
    const char *host = server_request_header(req, "host", &hl);
    bool ok = host && hl > 0 && hl < 256;
    for (size_t i = 0; ok && i < hl; i++) {
        unsigned char c = (unsigned char)host[i];
        ok = http_is_alpha(c) || http_is_digit(c) || strchr(".-_:[]", c);
    }
    const char *scheme = req->tls ? "https" : "http";
    if (ok)
        snprintf(buf, len, "%s://%.*s", scheme, (int)hl, host);
    else
        snprintf(buf, len, "%s://127.0.0.1:%d", scheme, server_port(req->server));
    return buf;
}

int httpbin_await_text(server_response *resp, int status, const char *text)
{
    resp_set_status(resp, status);
    resp_add_header(resp, "Content-Type", "text/plain; charset=utf-8");
    return resp_await_send(resp, text, strlen(text), CO_NO_DEADLINE);
}

/* Percent-decode s[0..n) ('+' is a space) into out (n + 1 bytes). */
static size_t url_decode(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = http_hex_value((unsigned char)s[i + 1])) >= 0 &&
            (lo = http_hex_value((unsigned char)s[i + 2])) >= 0) {
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    out[o] = '\0';
    return o;
}

/* One "key=value" of the query: k/v point into it.  False at the end. */
struct param {
    const char *k, *v;
    size_t kl, vl;
};

static bool next_param(const char **at, const char *end, struct param *p)
{
    while (*at < end && **at == '&')
        (*at)++;
    if (*at >= end)
        return false;
    const char *amp = memchr(*at, '&', (size_t)(end - *at));
    const char *stop = amp ? amp : end;
    const char *eq = memchr(*at, '=', (size_t)(stop - *at));
    p->k = *at;
    p->kl = (size_t)((eq ? eq : stop) - *at);
    p->v = eq ? eq + 1 : stop;
    p->vl = (size_t)(stop - p->v);
    *at = stop;
    return true;
}

const char *httpbin_query_get(const struct server_request *req, const char *name, char *buf,
                             size_t len)
{
    const char *at = req->query, *end = req->query + req->query_len;
    struct param p;
    size_t nl = strlen(name);
    while (next_param(&at, end, &p))
        if (p.kl == nl && memcmp(p.k, name, nl) == 0 && p.vl < len) {
            url_decode(p.v, p.vl, buf);
            return buf;
        }
    return NULL;
}

bool httpbin_query_long(const struct server_request *req, const char *name, long def, long max,
                       long *out)
{
    char buf[24];
    const char *v = httpbin_query_get(req, name, buf, sizeof buf);
    *out = def;
    if (!v)
        return true;
    if (strcmp(v, "-1") == 0) {
        *out = -1;
        return true;
    }
    return httpbin_number(v, strlen(v), max, out);
}

/* ---- JSON text ---- */

struct text {
    char *p;            /* the text (malloc'd) */
    size_t len, cap;    /* its length and allocation */
    bool failed;        /* an allocation failed: the text is incomplete */
};

static void put(struct text *t, const char *s, size_t n)
{
    if (t->failed || (n == 0 && t->p))
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *p = realloc(t->p, cap);
        if (!p) {
            t->failed = true;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
    if (n > 0)
        memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

static void puts_(struct text *t, const char *s) { put(t, s, strlen(s)); }

static void printf_(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void printf_(struct text *t, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    put(t, buf, n < (int)sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* A JSON string; bytes >= 0x80 are taken as Latin-1 (\u00XX), so any
 * header value gives valid JSON. */
static void json_str(struct text *t, const char *s, size_t n)
{
    put(t, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = { '\\', (char)c };
            put(t, e, 2);
        } else if (c < 0x20 || c >= 0x7f) {
            printf_(t, "\\u%04x", c);
        } else {
            put(t, (const char *)&c, 1);
        }
    }
    put(t, "\"", 1);
}

/* "args": the query as an object; a repeated key becomes an array. */
static void json_args(struct text *t, const struct server_request *req)
{
    const char *end = req->query + req->query_len;
    char *k1 = malloc(req->query_len + 1), *k2 = malloc(req->query_len + 1),
         *v = malloc(req->query_len + 1);
    puts_(t, "{");
    const char *at = req->query;
    struct param p, q;
    int shown = 0;
    for (int i = 0; k1 && k2 && v && shown < ARGS_MAX && next_param(&at, end, &p); i++) {
        size_t kl = url_decode(p.k, p.kl, k1);
        const char *scan = req->query;
        int before = 0, count = 0;
        for (int j = 0; next_param(&scan, end, &q); j++) {
            size_t ql = url_decode(q.k, q.kl, k2);
            if (ql == kl && memcmp(k1, k2, kl) == 0) {
                before += j < i;
                count++;
            }
        }
        if (before > 0)
            continue;                       /* shown with its first occurrence */
        puts_(t, shown++ ? ", " : "");
        json_str(t, k1, kl);
        puts_(t, count > 1 ? ": [" : ": ");
        scan = req->query;
        int n = 0;
        while (next_param(&scan, end, &q)) {
            size_t ql = url_decode(q.k, q.kl, k2);
            if (ql != kl || memcmp(k1, k2, kl) != 0)
                continue;
            puts_(t, n++ ? ", " : "");
            json_str(t, v, url_decode(q.v, q.vl, v));
        }
        puts_(t, count > 1 ? "]" : "");
    }
    puts_(t, "}");
    free(k1);
    free(k2);
    free(v);
}

/* "headers": name -> value; repeated fields joined with ", " (RFC 9110 5.3). */
static void json_headers(struct text *t, const struct server_request *req)
{
    puts_(t, "{");
    int shown = 0;
    for (size_t i = 0; i < req->header_count; i++) {
        const struct http_header *h = &req->headers[i];
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = http_equal_nocase(req->headers[j].name, req->headers[j].name_len, h->name,
                                     h->name_len);
        if (seen)
            continue;
        puts_(t, shown++ ? ", " : "");
        json_str(t, h->name, h->name_len);
        puts_(t, ": ");
        struct text joined = { 0 };
        for (size_t j = i; j < req->header_count; j++) {
            const struct http_header *o = &req->headers[j];
            if (!http_equal_nocase(o->name, o->name_len, h->name, h->name_len))
                continue;
            if (joined.len)
                put(&joined, ", ", 2);
            put(&joined, o->value, o->value_len);
        }
        json_str(t, joined.p ? joined.p : "", joined.len);
        t->failed |= joined.failed;
        free(joined.p);
    }
    puts_(t, "}");
}

int httpbin_await_echo(const struct server_request *req, server_response *resp, bool with_data,
                      long delay_ms)
{
    struct text t = { 0 };
    char origin[300], ip[INET6_ADDRSTRLEN] = "?";
    const struct sockaddr_storage *ss = &req->peer->ss;
    if (ss->ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, ip, sizeof ip);
    else if (ss->ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, ip, sizeof ip);
    puts_(&t, "{\n  \"method\": ");
    json_str(&t, req->method, req->method_len);
    puts_(&t, ",\n  \"url\": ");
    httpbin_origin(req, origin, sizeof origin);
    struct text url = { 0 };
    puts_(&url, origin);
    put(&url, req->target, req->target_len);
    json_str(&t, url.p ? url.p : "", url.len);
    free(url.p);
    puts_(&t, ",\n  \"args\": ");
    json_args(&t, req);
    puts_(&t, ",\n  \"headers\": ");
    json_headers(&t, req);
    puts_(&t, ",\n  \"origin\": ");
    json_str(&t, ip, strlen(ip));
    if (with_data) {
        puts_(&t, ",\n  \"data\": ");
        json_str(&t, req->body, req->body_len);
    }
    if (delay_ms >= 0)
        printf_(&t, ",\n  \"delay_ms\": %ld", delay_ms);
    puts_(&t, "\n}\n");
    int rc;
    if (t.failed) {
        rc = httpbin_await_text(resp, 500, "out of memory\n");
    } else {
        resp_add_header(resp, "Content-Type", "application/json");
        rc = resp_await_send(resp, t.p, t.len, CO_NO_DEADLINE);
    }
    free(t.p);
    return rc;
}
