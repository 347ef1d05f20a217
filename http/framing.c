/* framing.c - how long is the body, and may the connection be reused?  The
 * message-length rules of RFC 9112 6.3, applied in their order to a parsed
 * head, and the Connection / HTTP/1.0 rules of RFC 9112 9.3.
 *
 * This is where request smuggling is stopped: every way two parsers could
 * disagree about where a body ends (Content-Length with Transfer-Encoding,
 * two different lengths, "chunked" hidden in another token, a signed or
 * spaced number) is an error here, never a guess.
 *
 * Also here: http_header_find(), the case-insensitive field lookup these
 * rules are written with.
 *
 * Decisions (RELIABILITY.md section 7):
 *   H1.3  Transfer-Encoding with Content-Length is rejected in both roles
 *         (http-parser, strict llhttp and aiohttp do the same); the caller
 *         closes the connection.
 *   H1.6  identical repeated values ("42, 42", or two lines saying 42) are
 *         read as 42 (RFC 9110 8.6 allows it); any difference is an error.
 *   D4    Transfer-Encoding elements must be bare tokens: a coding with
 *         parameters ("gzip;q=1") is refused, since no real sender uses them
 *         and "chunked;x" would be one more way to hide chunked.
 *   D5    a request with a coding other than chunked is refused (501): the
 *         server decodes nothing else.  A response may carry other codings;
 *         te_other says so and the body is handed over still encoded.
 */
#include <string.h>

#include "http/chars.h"
#include "http/parse_internal.h"

const struct http_header *http_header_find(const struct http_header *fields, size_t count,
                                           const char *name, size_t *cursor)
{
    size_t name_len = strlen(name);
    for (size_t i = *cursor; i < count; i++) {
        if (http_equal_nocase(fields[i].name, fields[i].name_len, name, name_len)) {
            *cursor = i + 1;
            return &fields[i];
        }
    }
    *cursor = count;
    return NULL;
}

/* Walks a comma-separated list value (RFC 9110 5.6.1) element by element,
 * each trimmed of OWS; empty elements are returned too (length 0). */
struct list_iter {
    const char *value;
    size_t len;
    size_t pos;     /* start of the next element; > len when finished */
};

static bool list_next(struct list_iter *it, const char **el, size_t *el_len)
{
    if (it->pos > it->len)
        return false;
    size_t start = it->pos, end = start;
    while (end < it->len && it->value[end] != ',')
        end++;
    it->pos = end + 1;
    while (start < end && http_is_ows((unsigned char)it->value[start]))
        start++;
    while (end > start && http_is_ows((unsigned char)it->value[end - 1]))
        end--;
    *el = it->value + start;
    *el_len = end - start;
    return true;
}

static bool is_token(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!http_is_tchar((unsigned char)s[i]))
            return false;
    return n > 0;
}

static bool has_field(const struct http_head *h, const char *name)
{
    size_t cursor = 0;
    return http_header_find(h->fields, h->field_count, name, &cursor) != NULL;
}

/* Content-Length = 1*DIGIT, read without strtoul (which accepts spaces,
 * signs and wraps "-1" around).  A number past 2^64 - 1 is "too large"
 * whatever the body limit is, even with no limit at all (UINT64_MAX, a
 * streaming caller's choice): it never wraps and never saturates into a
 * length that a second, different Content-Length could then equal. */
static int parse_length(const char *s, size_t n, uint64_t *out)
{
    if (n == 0)
        return -HTTP_E_BAD_CONTENT_LENGTH;
    uint64_t v = 0;
    bool overflow = false;
    for (size_t i = 0; i < n; i++) {
        if (!http_is_digit((unsigned char)s[i]))
            return -HTTP_E_BAD_CONTENT_LENGTH;   /* checked to the end: bad beats large */
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            overflow = true;
        else
            v = v * 10 + d;
    }
    if (overflow)
        return -HTTP_E_BODY_TOO_LARGE;
    *out = v;
    return 0;
}

/* Every element of every Content-Length line must be the same number. */
static int content_length(const struct http_head *h, uint64_t *out)
{
    size_t cursor = 0;
    const struct http_header *f;
    bool have = false;
    while ((f = http_header_find(h->fields, h->field_count, "content-length", &cursor))) {
        struct list_iter it = { f->value, f->value_len, 0 };
        const char *el;
        size_t el_len;
        while (list_next(&it, &el, &el_len)) {
            uint64_t v;
            int rc = parse_length(el, el_len, &v);
            if (rc < 0)
                return rc;
            if (have && v != *out)
                return -HTTP_E_CONTENT_LENGTH_CONFLICT;
            *out = v;
            have = true;
        }
    }
    return 0;
}

/* What Transfer-Encoding says, all its lines read as one list in order. */
struct te_info {
    unsigned codings;       /* non-empty elements */
    unsigned chunked;       /* how many of them are "chunked" */
    bool chunked_last;      /* the final coding is chunked */
    bool other;             /* some coding is not chunked */
};

static int transfer_encoding(const struct http_head *h, struct te_info *te)
{
    size_t cursor = 0;
    const struct http_header *f;
    *te = (struct te_info){ 0 };
    while ((f = http_header_find(h->fields, h->field_count, "transfer-encoding", &cursor))) {
        struct list_iter it = { f->value, f->value_len, 0 };
        const char *el;
        size_t el_len;
        while (list_next(&it, &el, &el_len)) {
            if (el_len == 0)
                continue;                   /* "a, , b": empty elements are ignored */
            if (!is_token(el, el_len))
                return -HTTP_E_BAD_TRANSFER_ENCODING;
            bool chunked = http_equal_nocase(el, el_len, "chunked", 7);
            te->codings++;
            te->chunked += chunked;
            te->chunked_last = chunked;
            te->other |= !chunked;
        }
    }
    if (te->codings == 0 || te->chunked > 1)    /* empty TE; chunked applied twice (6.1) */
        return -HTTP_E_BAD_TRANSFER_ENCODING;
    return 0;
}

/* Connection: close / keep-alive, as tokens of a list over all its lines. */
static void connection_options(const struct http_head *h, bool *close, bool *keep_alive)
{
    size_t cursor = 0;
    const struct http_header *f;
    *close = *keep_alive = false;
    while ((f = http_header_find(h->fields, h->field_count, "connection", &cursor))) {
        struct list_iter it = { f->value, f->value_len, 0 };
        const char *el;
        size_t el_len;
        while (list_next(&it, &el, &el_len)) {
            *close |= http_equal_nocase(el, el_len, "close", 5);
            *keep_alive |= http_equal_nocase(el, el_len, "keep-alive", 10);
        }
    }
}

/* Item 1: a response to HEAD, and 1xx, 204 and 304, never have a body. */
static bool response_without_body(const struct http_parser *p)
{
    int s = p->head.status;
    return p->request_was_head || s < 200 || s == 204 || s == 304;
}

/* Items 3-4 (and 6.1): Transfer-Encoding is present. */
static int framing_by_te(struct http_parser *p, const struct te_info *te)
{
    struct http_head *h = &p->head;
    if (h->version_minor == 0)
        return -HTTP_E_TE_HTTP10;
    if (has_field(h, "content-length"))
        return -HTTP_E_CL_AND_TE;
    if (p->role == HTTP_ROLE_REQUEST) {
        if (!te->chunked_last)
            return -HTTP_E_TE_NOT_CHUNKED;
        if (te->other)
            return -HTTP_E_TE_UNSUPPORTED;
    }
    h->te_other = te->other;
    h->framing = te->chunked_last ? HTTP_FRAMING_CHUNKED : HTTP_FRAMING_CLOSE;
    return 0;
}

/* Items 5-6: Content-Length is present (and Transfer-Encoding is not). */
static int framing_by_length(struct http_parser *p)
{
    struct http_head *h = &p->head;
    int rc = content_length(h, &h->content_length);
    if (rc < 0)
        return rc;
    if (h->content_length > p->limits.body_max)
        return -HTTP_E_BODY_TOO_LARGE;
    h->framing = HTTP_FRAMING_LENGTH;
    return 0;
}

static int decide_length(struct http_parser *p)
{
    struct http_head *h = &p->head;
    bool response = p->role == HTTP_ROLE_RESPONSE;
    if (response && response_without_body(p))
        return 0;                                   /* item 1: framing NONE */
    if (response && p->request_was_connect && h->status / 100 == 2)
        return -HTTP_E_CONNECT_UNSUPPORTED;         /* item 2: a tunnel */
    if (has_field(h, "transfer-encoding")) {
        struct te_info te;
        int rc = transfer_encoding(h, &te);
        return rc < 0 ? rc : framing_by_te(p, &te);
    }
    if (has_field(h, "content-length"))
        return framing_by_length(p);
    h->framing = response ? HTTP_FRAMING_CLOSE : HTTP_FRAMING_NONE;   /* items 7-8 */
    return 0;
}

int http_framing_decide(struct http_parser *p)
{
    struct http_head *h = &p->head;
    h->framing = HTTP_FRAMING_NONE;
    h->content_length = 0;
    h->te_other = false;
    int rc = decide_length(p);
    if (rc < 0)
        return rc;
    bool close, keep_alive;
    connection_options(h, &close, &keep_alive);
    /* HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive". */
    h->keep_alive = h->version_minor >= 1 ? !close : keep_alive && !close;
    if (h->framing == HTTP_FRAMING_CLOSE || (p->role == HTTP_ROLE_RESPONSE && h->status == 101))
        h->keep_alive = false;
    return 0;
}
