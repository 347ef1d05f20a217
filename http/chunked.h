/* chunked.h - the decoder for HTTP/1.1's chunked transfer coding
 * (RFC 9112 7.1), usable alone (the fuzz target does) and used by the
 * message parser (parse.h) for chunked bodies.
 *
 * It is an explicit state machine fed any number of bytes at a time, so the
 * result never depends on how the bytes were split.  It copies nothing: each
 * call hands back at most one span of body data, pointing into the caller's
 * bytes.  It stops after the last-chunk line ("0\r\n"); the trailer section
 * that follows is a field section and is parsed by parse.c, with the same
 * rules and limits as the header section.
 *
 *     chunked-body = *chunk last-chunk trailer-section CRLF
 *     chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *     chunk-size   = 1*HEXDIG            (at most HTTP_CHUNK_DIGITS_MAX digits)
 *     chunk-ext    = *( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] )
 *
 * Strictness: every line ends in exactly CRLF (a bare LF or CR is an error,
 * never a delimiter); no sign, "0x" or whitespace around the size except the
 * BWS before a ";"; extensions are checked against the grammar above, then
 * ignored; their bytes are bounded per line and, through the overhead rule
 * below, over the whole body.
 */
#ifndef COLOOP_HTTP_CHUNKED_H
#define COLOOP_HTTP_CHUNKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/httperr.h"

/* More hex digits than this is an error even with leading zeros: 16 digits
 * already reach 2^64, and no honest sender pads a size (RFC 9112 7.1). */
#define HTTP_CHUNK_DIGITS_MAX 16

/* Overhead rule (why: Go CVE-2023-39326, a few KiB of extension per byte of
 * data): each chunk may spend HTTP_CHUNK_FRAMING_FREE framing bytes (its size
 * line and the CRLF after its data) plus one more per data byte for free;
 * framing beyond that adds up, and a body whose unpaid framing exceeds
 * HTTP_CHUNK_EXCESS_MAX fails with HTTP_E_CHUNK_OVERHEAD. */
#define HTTP_CHUNK_FRAMING_FREE 32
#define HTTP_CHUNK_EXCESS_MAX (16 * 1024)

/* A body span: bytes of the caller's buffer, never copied. */
struct http_span {
    const char *data;   /* first byte (NULL when len is 0) */
    size_t len;         /* number of bytes */
};

enum http_chunk_state {
    HTTP_CHUNK_SIZE_FIRST,      /* the first hex digit of a chunk size */
    HTTP_CHUNK_SIZE,            /* more hex digits, or what ends the size */
    HTTP_CHUNK_SIZE_WS,         /* BWS after the size: only BWS or ";" may follow */
    HTTP_CHUNK_EXT_NAME_START,  /* after ";": BWS, then the extension name */
    HTTP_CHUNK_EXT_NAME,        /* in the name */
    HTTP_CHUNK_EXT_NAME_WS,     /* BWS after a name: "=" or ";" must follow */
    HTTP_CHUNK_EXT_VALUE_START, /* after "=": BWS, then a token or a quoted string */
    HTTP_CHUNK_EXT_VALUE,       /* in a token value */
    HTTP_CHUNK_EXT_QUOTED,      /* in a quoted-string value */
    HTTP_CHUNK_EXT_QUOTED_PAIR, /* after a backslash in a quoted string */
    HTTP_CHUNK_EXT_AFTER_QUOTE, /* right after the closing quote */
    HTTP_CHUNK_EXT_VALUE_WS,    /* BWS after a value: ";" must follow */
    HTTP_CHUNK_LINE_LF,         /* CR ended the chunk line: LF must follow */
    HTTP_CHUNK_DATA,            /* chunk data, `remaining` bytes to go */
    HTTP_CHUNK_DATA_CR,         /* the CR after chunk data */
    HTTP_CHUNK_DATA_LF,         /* the LF after chunk data */
    HTTP_CHUNK_TRAILERS,        /* last-chunk read: the trailer section is next */
    HTTP_CHUNK_FAILED           /* an error was returned; it is returned again */
};

/* Caller-owned decoder state; no resources, no _fini. */
struct http_chunked {
    enum http_chunk_state state;
    int error;              /* the error once state is HTTP_CHUNK_FAILED */
    uint64_t size;          /* size of the current chunk, as read so far */
    uint64_t remaining;     /* data bytes left in the current chunk */
    uint64_t total;         /* data bytes of all chunks so far (the decoded body) */
    uint64_t body_max;      /* limit on total */
    uint64_t excess;        /* framing bytes not paid for by data (overhead rule) */
    size_t ext_max;         /* limit on extension bytes per chunk line */
    size_t ext_len;         /* extension bytes on the current line */
    size_t line_len;        /* bytes of the current chunk line so far */
    unsigned digits;        /* hex digits of the current size */
};

/* Start decoding a chunked body: at most body_max data bytes, at most ext_max
 * extension bytes per chunk line.  Never suspends, cannot fail. */
void http_chunked_init(struct http_chunked *c, uint64_t body_max, size_t ext_max);

/* Decode from buf[0..len).  Returns the bytes consumed (0 only when len is 0
 * or the decoder already reached the trailers) and sets *data to the body
 * bytes among them (at most one span per call; empty when the call consumed
 * framing only).  Call again with the bytes after the consumed ones.
 * Errors (sticky): -HTTP_E_BAD_CHUNK_SIZE, -HTTP_E_CHUNK_SIZE_OVERFLOW,
 * -HTTP_E_BAD_CHUNK_EXT, -HTTP_E_CHUNK_EXT_TOO_LONG, -HTTP_E_CHUNK_OVERHEAD,
 * -HTTP_E_BAD_CHUNK_END, -HTTP_E_BARE_LF, -HTTP_E_BARE_CR,
 * -HTTP_E_BODY_TOO_LARGE.  Consumes at most INT_MAX bytes per call.  Never
 * suspends; the span points into buf (the caller's). */
int http_chunked_feed(struct http_chunked *c, const char *buf, size_t len, struct http_span *data);

/* True once the last-chunk line has been consumed: what follows is the
 * trailer section and its final CRLF.  Never suspends. */
static inline bool http_chunked_at_trailers(const struct http_chunked *c)
{
    return c->state == HTTP_CHUNK_TRAILERS;
}

#endif
