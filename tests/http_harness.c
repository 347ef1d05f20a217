/* http_harness.c - see http_harness.h: one engine that plays a client or a
 * server over a byte string, and the modes that feed it. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/http_harness.h"
#include "tests/support.h"

static const char *const error_names[] = {
    "INCOMPLETE", "CLOSED", "BAD_STATUS_LINE", "BAD_STATUS_CODE", "BAD_VERSION",
    "BAD_REQUEST_LINE", "BAD_METHOD", "BAD_TARGET", "TARGET_TOO_LONG", "BARE_LF", "BARE_CR",
    "LINE_TOO_LONG", "HEADER_TOO_LARGE", "LEADING_WS", "OBS_FOLD", "BAD_HEADER_NAME",
    "WS_BEFORE_COLON", "BAD_HEADER_VALUE", "TOO_MANY_HEADERS", "BAD_CONTENT_LENGTH",
    "CONTENT_LENGTH_CONFLICT", "CL_AND_TE", "BAD_TRANSFER_ENCODING", "TE_NOT_CHUNKED",
    "TE_UNSUPPORTED", "TE_HTTP10", "BODY_TOO_LARGE", "BAD_CHUNK_SIZE", "CHUNK_SIZE_OVERFLOW",
    "BAD_CHUNK_EXT", "CHUNK_EXT_TOO_LONG", "CHUNK_OVERHEAD", "BAD_CHUNK_END",
    "TOO_MANY_INTERIM", "UPGRADE_REFUSED", "CONNECT_UNSUPPORTED", "URL_TOO_LONG", "URL_SCHEME",
    "URL_USERINFO", "URL_HOST", "URL_IPV6", "URL_PORT", "URL_PERCENT", "URL_CHAR",
};

const char *h_error_name(int code)
{
    int c = code < 0 ? -code : code;
    _Static_assert(sizeof error_names / sizeof error_names[0] == HTTP_ERR_END - HTTP_ERR_BASE - 1,
                   "one name per http error code");
    if (c > HTTP_ERR_BASE && c < HTTP_ERR_END)
        return error_names[c - HTTP_ERR_BASE - 1];
    return "?";
}

const char *h_guard_copy(const char *data, size_t len)
{
    static char *region;
    static size_t usable;           /* bytes before the guard page */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (len > usable || !region) {
        if (region)
            munmap(region, usable + page);
        usable = (len + page - 1) / page * page;
        if (usable == 0)
            usable = page;
        region = mmap(NULL, usable + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ck_assert_ptr_ne(region, MAP_FAILED);
        ck_assert_int_eq(mprotect(region + usable, page, PROT_NONE), 0);
    }
    char *dst = region + usable - len;
    if (len)
        memcpy(dst, data, len);
    return dst;
}

/* ---- the outcome text ---- */

struct text {
    char *s;
    size_t len, cap;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (t->len + (size_t)n + 1 > t->cap) {
        t->cap = (t->len + (size_t)n + 1) * 2;
        t->s = realloc(t->s, t->cap);
        ck_assert_ptr_nonnull(t->s);
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

static void put_head(struct text *t, const struct http_parser *p, bool request)
{
    const struct http_head *h = &p->head;
    static const char framing[] = { 'N', 'L', 'C', 'X' };
    if (t->len)
        put(t, " | ");
    if (request)
        put(t, "%.*s %.*s", (int)h->method_len, h->method, (int)h->target_len, h->target);
    else
        put(t, "%d", h->status);
    if (h->version_minor == 0)
        put(t, " 1.0");
    put(t, " %c", framing[h->framing]);
    if (h->framing == HTTP_FRAMING_LENGTH)
        put(t, "%llu", (unsigned long long)h->content_length);
    put(t, " %s%s", h->keep_alive ? "ka" : "cl", h->te_other ? " te" : "");
}

static void put_end(struct text *t, const struct http_parser *p, const struct text *body)
{
    if (body->len)
        put(t, " [%.*s]", (int)body->len, body->s);
    for (size_t i = 0; i < p->trailer_count; i++)
        put(t, "%s%.*s=%.*s%s", i ? "," : " {", (int)p->trailers[i].name_len, p->trailers[i].name,
            (int)p->trailers[i].value_len, p->trailers[i].value, i + 1 == p->trailer_count ? "}" : "");
}

static void put_error(struct text *t, int code)
{
    put(t, "%s!%s", t->len ? " | " : "", h_error_name(code));
}

/* An error inside a body: the data delivered before it is part of the
 * outcome too (it must not depend on the split either). */
static void put_body_error(struct text *t, const struct text *body, int code)
{
    if (body->len)
        put(t, " [%.*s]", (int)body->len, body->s);
    put_error(t, code);
}

/* ---- the engine ---- */

struct engine {
    struct http_parser p;
    struct http_header fields[HTTP_FIELDS_DEFAULT * 2];
    struct http_header trailers[HTTP_FIELDS_DEFAULT];
    struct text out, body;
    bool in_body;
};

/* One step with the bytes [off, arrived): 1 progress, 0 need more, -1 stop. */
static int step(struct engine *e, enum h_role role, const char *in, size_t *off, size_t arrived)
{
    const char *buf = h_guard_copy(in + *off, arrived - *off);
    size_t avail = arrived - *off;
    int rc;
    if (!e->in_body) {
        rc = http_parse_head(&e->p, buf, avail);
        if (rc <= 0)
            return rc == 0 ? 0 : (put_error(&e->out, rc), -1);
        *off += (size_t)rc;
        put_head(&e->out, &e->p, role == H_REQ);
        if (role != H_REQ && (rc = http_response_interim(&e->p)) != 0)
            return rc > 0 ? 1 : (put_error(&e->out, rc), -1);
        e->body.len = 0;
        e->in_body = true;
    } else {
        struct http_span span;
        rc = http_parse_body(&e->p, buf, avail, &span);
        if (rc < 0)
            return put_body_error(&e->out, &e->body, rc), -1;
        if (span.len)
            put(&e->body, "%.*s", (int)span.len, span.data);
        *off += (size_t)rc;
        if (rc == 0 && !http_parser_done(&e->p))
            return 0;
    }
    if (http_parser_done(&e->p) && e->in_body) {
        put_end(&e->out, &e->p, &e->body);
        e->in_body = false;
    }
    return 1;
}

/* End of input: finish a close-delimited body, or report what is missing. */
static void at_eof(struct engine *e, size_t off, size_t len)
{
    if (!e->in_body && off == len)
        return;                                         /* clean end between messages */
    int rc = http_parse_eof(&e->p);
    if (rc < 0) {
        if (e->in_body)
            put_body_error(&e->out, &e->body, rc);
        else
            put_error(&e->out, rc);
        return;
    }
    put_end(&e->out, &e->p, &e->body);
}

const char *h_run(const struct h_config *cfg, enum h_role role, const char *in, size_t len,
                  const size_t *splits, size_t nsplits)
{
    static struct engine e;
    size_t cap = cfg && cfg->fields_cap ? cfg->fields_cap : HTTP_FIELDS_DEFAULT;
    ck_assert_uint_le(cap, sizeof e.fields / sizeof e.fields[0]);
    e.out.len = e.body.len = 0;
    e.in_body = false;
    int rc = http_parser_init(&e.p, role == H_REQ ? HTTP_ROLE_REQUEST : HTTP_ROLE_RESPONSE,
                              cfg ? cfg->limits : NULL, e.fields, cap);
    ck_assert_int_eq(rc, 0);
    http_parser_set_trailers(&e.p, e.trailers, sizeof e.trailers / sizeof e.trailers[0]);
    http_parser_expect(&e.p, role == H_RESP_HEAD ? "HEAD" : role == H_RESP_CONNECT ? "CONNECT" : "GET",
                       role == H_RESP_HEAD ? 4 : role == H_RESP_CONNECT ? 7 : 3);
    size_t off = 0, k = 0;
    for (;;) {
        rc = step(&e, role, in, &off, splits[k]);
        if (rc < 0)
            break;                                      /* the error is in the outcome */
        if (rc > 0 && off < splits[k])
            continue;                                   /* more bytes to look at */
        if (k + 1 < nsplits) {
            k++;                                        /* the next piece arrives */
            continue;
        }
        at_eof(&e, off, len);
        break;
    }
    put(&e.out, "%s", "");
    return e.out.s;
}

/* ---- the modes ---- */

static void expect(const struct h_case *c, const char *mode, size_t a, size_t b, const char *got,
                   const char *want)
{
    ck_assert_msg(strcmp(got, want) == 0, "%s [%s at %zu,%zu]: got \"%s\", want \"%s\"", c->name,
                  mode, a, b, got, want);
}

/* Whole, byte by byte, every position, and (short inputs) every pair. */
static void check_modes(const struct h_config *cfg, const struct h_case *c, const char *in,
                        size_t n, const char *want, bool pairs)
{
    size_t whole[1] = { n };
    expect(c, "whole", 0, 0, h_run(cfg, c->role, in, n, whole, 1), want);
    if (n == 0)
        return;
    size_t *bytes = malloc(n * sizeof *bytes);
    ck_assert_ptr_nonnull(bytes);
    for (size_t i = 0; i < n; i++)
        bytes[i] = i + 1;
    expect(c, "bytes", 0, 0, h_run(cfg, c->role, in, n, bytes, n), want);
    free(bytes);
    /* long inputs (limit tests): every position near both ends, a stride between */
    size_t stride = n <= HARNESS_SPLIT_ALL_MAX ? 1 : n / (HARNESS_SPLIT_ALL_MAX / 4);
    for (size_t i = 1; i < n; i += (i < 64 || n - i < 64) ? 1 : stride) {
        size_t two[2] = { i, n };
        expect(c, "split", i, 0, h_run(cfg, c->role, in, n, two, 2), want);
    }
    if (!pairs || n > HARNESS_PAIR_MAX || getenv("COLOOP_UNDER_VALGRIND"))
        return;
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            size_t three[3] = { i, j, n };
            expect(c, "pair", i, j, h_run(cfg, c->role, in, n, three, 3), want);
        }
    }
}

/* Three copies back to back read as three messages (or stop at the same
 * error).  Not for truncated inputs, nor for bodies that end at close. */
static bool pipelinable(const char *want)
{
    return !strstr(want, "!INCOMPLETE") && !strstr(want, " X ");
}

void h_check_case(const struct h_config *cfg, const struct h_case *c)
{
    check_modes(cfg, c, c->in, c->len, c->want, true);
    if (!pipelinable(c->want))
        return;
    size_t n = c->len;
    char *in3 = malloc(3 * n + 1);
    char *want3 = malloc(3 * strlen(c->want) + 7);
    ck_assert(in3 && want3);
    for (int i = 0; i < 3; i++)
        memcpy(in3 + (size_t)i * n, c->in, n);
    if (c->want[0] == '!' || strstr(c->want, "| !"))        /* stops at the same error */
        strcpy(want3, c->want);
    else
        sprintf(want3, "%s | %s | %s", c->want, c->want, c->want);
    check_modes(cfg, c, in3, 3 * n, want3, false);
    free(in3);
    free(want3);
}
