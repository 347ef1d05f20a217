/* chunked.c - bodies: the chunked decoder (an explicit state machine, one
 * byte of framing at a time, data in spans) and http_parse_body(), which
 * picks the decoder, a Content-Length countdown or read-until-close from the
 * head's framing.  See chunked.h for the grammar and the strictness rules.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "http/chars.h"
#include "http/parse_internal.h"

void http_chunked_init(struct http_chunked *c, uint64_t body_max, size_t ext_max)
{
    memset(c, 0, sizeof *c);
    c->state = HTTP_CHUNK_SIZE_FIRST;
    c->body_max = body_max;
    c->ext_max = ext_max;
}

/* One more hex digit of the size: counted, not trusted (H3.2). */
static int size_digit(struct http_chunked *c, int value)
{
    if (++c->digits > HTTP_CHUNK_DIGITS_MAX)
        return -HTTP_E_CHUNK_SIZE_OVERFLOW;
    c->size = c->size << 4 | (uint64_t)value;
    return 0;
}

/* The size is complete: it must fit in what the body limit has left. */
static int size_end(struct http_chunked *c, enum http_chunk_state next)
{
    if (c->size > c->body_max - c->total)
        return -HTTP_E_BODY_TOO_LARGE;
    c->state = next;
    return 0;
}

/* The chunk line's CRLF arrived: charge its framing (overhead rule in
 * chunked.h), then expect data, or the trailers after the last chunk. */
static int line_done(struct http_chunked *c)
{
    uint64_t framing = c->line_len + (c->size > 0 ? 2 : 0);
    if (framing > HTTP_CHUNK_FRAMING_FREE && framing - HTTP_CHUNK_FRAMING_FREE > c->size) {
        c->excess += framing - HTTP_CHUNK_FRAMING_FREE - c->size;
        if (c->excess > HTTP_CHUNK_EXCESS_MAX)
            return -HTTP_E_CHUNK_OVERHEAD;
    }
    c->remaining = c->size;
    c->state = c->size > 0 ? HTTP_CHUNK_DATA : HTTP_CHUNK_TRAILERS;
    c->size = 0;
    c->digits = 0;
    c->line_len = 0;
    c->ext_len = 0;
    return 0;
}

/* The size line up to its extensions: digits, then ";", BWS or CR. */
static int size_byte(struct http_chunked *c, unsigned char ch)
{
    int v = http_hex_value(ch);
    switch (c->state) {
    case HTTP_CHUNK_SIZE_FIRST:
        if (v < 0)
            return -HTTP_E_BAD_CHUNK_SIZE;      /* empty size, sign, space, ... */
        c->state = HTTP_CHUNK_SIZE;
        return size_digit(c, v);
    case HTTP_CHUNK_SIZE:
        if (v >= 0)
            return size_digit(c, v);
        if (ch == '\r')
            return size_end(c, HTTP_CHUNK_LINE_LF);
        if (ch == ';')
            return size_end(c, HTTP_CHUNK_EXT_NAME_START);
        if (http_is_ows(ch))
            return size_end(c, HTTP_CHUNK_SIZE_WS);
        return -HTTP_E_BAD_CHUNK_SIZE;          /* "0x", "5 junk", ... */
    default:                                    /* HTTP_CHUNK_SIZE_WS */
        if (ch == ';')
            c->state = HTTP_CHUNK_EXT_NAME_START;
        else if (!http_is_ows(ch))
            return -HTTP_E_BAD_CHUNK_SIZE;      /* whitespace not followed by ";" */
        return 0;
    }
}

/* qdtext / quoted-pair bytes (RFC 9110 5.6.4). */
static bool is_qdtext(unsigned char ch) { return http_is_field_byte(ch) && ch != '"' && ch != '\\'; }

/* What may follow an extension name or value besides ";" (a set of bits). */
enum { EXT_EQUALS = 1, EXT_CR = 2, EXT_WS = 4 };

/* The byte after a name or a value: ";" (the next extension) always, and
 * "=", CR or BWS (then state ws_state) when `allowed` says so. */
static int ext_separator(struct http_chunked *c, unsigned char ch, unsigned allowed,
                         enum http_chunk_state ws_state)
{
    if (ch == ';')
        c->state = HTTP_CHUNK_EXT_NAME_START;
    else if (ch == '=' && (allowed & EXT_EQUALS))
        c->state = HTTP_CHUNK_EXT_VALUE_START;
    else if (ch == '\r' && (allowed & EXT_CR))
        c->state = HTTP_CHUNK_LINE_LF;
    else if (http_is_ows(ch) && (allowed & EXT_WS))
        c->state = ws_state;
    else
        return -HTTP_E_BAD_CHUNK_EXT;       /* "2 junk", "a b", trailing BWS before CR */
    return 0;
}

/* chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ) */
static int ext_byte(struct http_chunked *c, unsigned char ch)
{
    switch (c->state) {
    case HTTP_CHUNK_EXT_NAME_START:
    case HTTP_CHUNK_EXT_VALUE_START:
        if (http_is_ows(ch))
            return 0;
        if (http_is_tchar(ch))
            c->state = c->state == HTTP_CHUNK_EXT_NAME_START ? HTTP_CHUNK_EXT_NAME : HTTP_CHUNK_EXT_VALUE;
        else if (ch == '"' && c->state == HTTP_CHUNK_EXT_VALUE_START)
            c->state = HTTP_CHUNK_EXT_QUOTED;
        else
            return -HTTP_E_BAD_CHUNK_EXT;       /* "2;" without a name, "=" without a value */
        return 0;
    case HTTP_CHUNK_EXT_NAME:
        return http_is_tchar(ch) ? 0 : ext_separator(c, ch, EXT_EQUALS | EXT_CR | EXT_WS,
                                                     HTTP_CHUNK_EXT_NAME_WS);
    case HTTP_CHUNK_EXT_NAME_WS:
        return http_is_ows(ch) ? 0 : ext_separator(c, ch, EXT_EQUALS, c->state);
    case HTTP_CHUNK_EXT_VALUE:
        return http_is_tchar(ch) ? 0 : ext_separator(c, ch, EXT_CR | EXT_WS, HTTP_CHUNK_EXT_VALUE_WS);
    case HTTP_CHUNK_EXT_QUOTED:
        if (ch == '"')
            c->state = HTTP_CHUNK_EXT_AFTER_QUOTE;
        else if (ch == '\\')
            c->state = HTTP_CHUNK_EXT_QUOTED_PAIR;
        else if (!is_qdtext(ch))
            return -HTTP_E_BAD_CHUNK_EXT;       /* CR inside quotes: unbalanced */
        return 0;
    case HTTP_CHUNK_EXT_QUOTED_PAIR:
        if (!http_is_field_byte(ch))
            return -HTTP_E_BAD_CHUNK_EXT;
        c->state = HTTP_CHUNK_EXT_QUOTED;
        return 0;
    case HTTP_CHUNK_EXT_AFTER_QUOTE:
        return ext_separator(c, ch, EXT_CR | EXT_WS, HTTP_CHUNK_EXT_VALUE_WS);
    default:                                    /* HTTP_CHUNK_EXT_VALUE_WS */
        return http_is_ows(ch) ? 0 : ext_separator(c, ch, 0, c->state);
    }
}

/* One byte of a chunk line (size, extensions, CRLF). */
static int line_byte(struct http_chunked *c, unsigned char ch)
{
    c->line_len++;
    if (c->state == HTTP_CHUNK_LINE_LF)
        return ch == '\n' ? line_done(c) : -HTTP_E_BARE_CR;
    if (ch == '\n')
        return -HTTP_E_BARE_LF;                 /* H3.3: never a bare LF in chunked framing */
    /* everything after the size and before CR counts against ext_max (H3.5) */
    if (c->state >= HTTP_CHUNK_SIZE_WS && ch != '\r' && ++c->ext_len > c->ext_max)
        return -HTTP_E_CHUNK_EXT_TOO_LONG;
    if (c->state <= HTTP_CHUNK_SIZE_WS)
        return size_byte(c, ch);
    return ext_byte(c, ch);
}

/* One byte of the CRLF after chunk data: exactly CRLF, nothing else (H3.3). */
static int data_end_byte(struct http_chunked *c, unsigned char ch)
{
    if (c->state == HTTP_CHUNK_DATA_CR) {
        if (ch != '\r')
            return ch == '\n' ? -HTTP_E_BARE_LF : -HTTP_E_BAD_CHUNK_END;
        c->state = HTTP_CHUNK_DATA_LF;
        return 0;
    }
    if (ch != '\n')
        return -HTTP_E_BARE_CR;
    c->state = HTTP_CHUNK_SIZE_FIRST;
    return 0;
}

int http_chunked_feed(struct http_chunked *c, const char *buf, size_t len, struct http_span *data)
{
    data->data = NULL;
    data->len = 0;
    if (c->state == HTTP_CHUNK_FAILED)
        return c->error;
    if (len > INT_MAX)
        len = INT_MAX;
    size_t i = 0;
    while (i < len && c->state != HTTP_CHUNK_TRAILERS) {
        if (c->state == HTTP_CHUNK_DATA) {
            size_t take = len - i < c->remaining ? len - i : (size_t)c->remaining;
            data->data = buf + i;
            data->len = take;
            c->remaining -= take;
            c->total += take;
            if (c->remaining == 0)
                c->state = HTTP_CHUNK_DATA_CR;
            return (int)(i + take);
        }
        unsigned char ch = (unsigned char)buf[i++];
        int rc = c->state >= HTTP_CHUNK_DATA_CR ? data_end_byte(c, ch) : line_byte(c, ch);
        if (rc < 0) {
            c->state = HTTP_CHUNK_FAILED;
            c->error = rc;
            return rc;
        }
    }
    return (int)i;
}

/* ---- http_parse_body: the three framings ---- */

static int body_length(struct http_parser *p, const char *buf, size_t len, struct http_span *data)
{
    size_t take = len < p->remaining ? len : (size_t)p->remaining;
    data->data = take ? buf : NULL;
    data->len = take;
    p->remaining -= take;
    if (p->remaining == 0)
        p->state = HTTP_PS_DONE;
    return (int)take;
}

/* Everything up to the limit is delivered, then the first byte beyond it
 * fails: so the data a caller sees never depends on how reads were split. */
static int body_until_close(struct http_parser *p, const char *buf, size_t len,
                            struct http_span *data)
{
    uint64_t room = p->limits.body_max - p->body_total;
    size_t take = len < room ? len : (size_t)room;
    if (take == 0 && len > 0)
        return -HTTP_E_BODY_TOO_LARGE;
    p->body_total += take;
    data->data = take ? buf : NULL;
    data->len = take;
    return (int)take;
}

static int body_chunked(struct http_parser *p, const char *buf, size_t len, struct http_span *data)
{
    if (p->state == HTTP_PS_TRAILERS) {
        int n = http_trailers_parse(p, buf, len);
        if (n > 0)
            p->state = HTTP_PS_DONE;
        return n;
    }
    int n = http_chunked_feed(&p->chunked, buf, len, data);
    if (n >= 0 && http_chunked_at_trailers(&p->chunked))
        http_trailers_begin(p);
    return n;
}

int http_parse_body(struct http_parser *p, const char *buf, size_t len, struct http_span *data)
{
    data->data = NULL;
    data->len = 0;
    if (p->state == HTTP_PS_ERROR)
        return p->error;
    if (p->state == HTTP_PS_DONE)
        return 0;
    if (p->state != HTTP_PS_BODY && p->state != HTTP_PS_TRAILERS)
        return -EINVAL;
    if (len > INT_MAX)
        len = INT_MAX;
    int rc;
    switch (p->head.framing) {
    case HTTP_FRAMING_LENGTH:
        rc = body_length(p, buf, len, data);
        break;
    case HTTP_FRAMING_CLOSE:
        rc = body_until_close(p, buf, len, data);
        break;
    case HTTP_FRAMING_CHUNKED:
        rc = body_chunked(p, buf, len, data);
        break;
    default:
        rc = 0;
        break;
    }
    if (rc < 0) {
        p->state = HTTP_PS_ERROR;
        p->error = rc;
    }
    return rc;
}
