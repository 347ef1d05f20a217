/* parse.h - the incremental, zero-copy HTTP/1.1 message parser: responses for
 * the client, requests for the server.  Pure functions over the caller's
 * bytes: no I/O, no allocation, nothing here suspends.
 *
 * A message is read in two steps:
 *
 *   head  http_parse_head(p, buf, len) with the bytes received so far, all of
 *         them, starting at the first byte of the head, each time more
 *         arrive.  It returns the head's length when the head is complete, 0
 *         when it needs more, or -HTTP_E_... .  The head (method, target,
 *         status, reason, field names and values) points into buf: keep those
 *         bytes until you are done with the head.
 *   body  http_parse_body(p, buf, len, &span) with the bytes after the head,
 *         as often as needed; each call consumes some bytes and gives back
 *         the body data among them as a span into buf.  http_parser_done()
 *         says when the message ended; the bytes after it are the next
 *         message (pipelining).  At end of input, http_parse_eof().
 *
 * Framing follows RFC 9112 6.3 in order: no body for HEAD/1xx/204/304, reject
 * Content-Length together with Transfer-Encoding, chunked when it is the final
 * coding, a Content-Length body, else (responses) read until close.  What is
 * refused, and why, is in httperr.h; the decisions that the RFCs leave open
 * (strict CRLF, obs-fold, duplicate Content-Length, ...) are listed in parse.c.
 *
 * Typical client loop (a sketch; errors and reads elided):
 *
 *     http_parser_init(&p, HTTP_ROLE_RESPONSE, NULL, fields, 100);
 *     http_parser_expect(&p, "GET", 3);
 *     do {                                  // skip 1xx interim responses
 *         while ((n = http_parse_head(&p, buf, len)) == 0) read more;
 *         consume n bytes;
 *     } while (http_response_interim(&p) == 1);
 *     while (!http_parser_done(&p)) {
 *         n = http_parse_body(&p, buf, len, &span);   // deliver span
 *         consume n bytes; if n == 0 read more (or http_parse_eof at EOF);
 *     }
 */
#ifndef COLOOP_HTTP_PARSE_H
#define COLOOP_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/chunked.h"
#include "http/httperr.h"

/* Defaults for struct http_limits (NULL limits = these). */
#define HTTP_HEAD_MAX_DEFAULT (64 * 1024)          /* start line + fields + final CRLF */
#define HTTP_LINE_MAX_DEFAULT (8 * 1024)           /* one line with its CRLF (RFC 9112 3: >= 8000) */
#define HTTP_BODY_MAX_DEFAULT ((uint64_t)64 << 20) /* 64 MiB of decoded body */
#define HTTP_CHUNK_EXT_MAX_DEFAULT 1024            /* extension bytes on one chunk line */
#define HTTP_INTERIM_MAX_DEFAULT 8                 /* 1xx responses before a final one */
/* A good size for the caller's field array (the array's size is the limit). */
#define HTTP_FIELDS_DEFAULT 100
/* Empty lines (CRLF) skipped before a start line (RFC 9112 2.2 "SHOULD
 * ignore at least one"); more is an error, so they cannot be used to spin. */
#define HTTP_LEADING_EMPTY_MAX 4

/* Caller-settable limits; each exceeded limit has its own error. */
struct http_limits {
    size_t head_max;        /* -HTTP_E_HEADER_TOO_LARGE (head, and trailer section); <= INT_MAX */
    size_t line_max;        /* -HTTP_E_LINE_TOO_LONG / -HTTP_E_TARGET_TOO_LONG; >= 16 */
    uint64_t body_max;      /* -HTTP_E_BODY_TOO_LARGE (decoded bytes) */
    size_t chunk_ext_max;   /* -HTTP_E_CHUNK_EXT_TOO_LONG */
    unsigned interim_max;   /* -HTTP_E_TOO_MANY_INTERIM */
};

/* Fill *l with the defaults above.  Never suspends. */
void http_limits_default(struct http_limits *l);

enum http_role {
    HTTP_ROLE_RESPONSE,     /* parse responses (the client side) */
    HTTP_ROLE_REQUEST       /* parse requests (the server side) */
};

enum http_framing {
    HTTP_FRAMING_NONE,      /* no body (HEAD, 1xx, 204, 304, request without length) */
    HTTP_FRAMING_LENGTH,    /* exactly content_length bytes */
    HTTP_FRAMING_CHUNKED,   /* chunked coding, then a trailer section */
    HTTP_FRAMING_CLOSE      /* response read until the connection closes */
};

/* One field line: name and value point into the caller's buffer.  The value
 * has its surrounding whitespace removed; neither is NUL-terminated. */
struct http_header {
    const char *name;       /* the field name, as received (any case) */
    size_t name_len;        /* its bytes */
    const char *value;      /* the field value without leading/trailing OWS */
    size_t value_len;       /* its bytes (0 for an empty value) */
};

/* A parsed head.  Pointers are into the buffer given to http_parse_head. */
struct http_head {
    size_t length;              /* bytes of the head, final CRLF included */
    unsigned version_minor;     /* HTTP/1.x: x (the major is always 1) */
    const char *method;         /* request: the method token */
    size_t method_len;          /* its bytes */
    const char *target;         /* request: the request target, as sent */
    size_t target_len;          /* its bytes */
    int status;                 /* response: 100..599 */
    const char *reason;         /* response: the reason phrase (may be empty) */
    size_t reason_len;          /* its bytes */
    struct http_header *fields; /* the caller's array, field lines in order */
    size_t field_count;         /* entries used in fields */
    enum http_framing framing;  /* how the body is delimited */
    uint64_t content_length;    /* framing LENGTH: the body's size */
    bool keep_alive;            /* the connection may carry another message after this one */
    bool te_other;              /* response: a transfer coding other than chunked was applied */
};

/* Where the parser is in a message. */
enum http_parse_state {
    HTTP_PS_HEAD,               /* reading a head */
    HTTP_PS_BODY,               /* reading the body */
    HTTP_PS_TRAILERS,           /* reading a chunked body's trailer section */
    HTTP_PS_DONE,               /* message complete: the next call to http_parse_head starts another */
    HTTP_PS_ERROR               /* an error was returned; every call returns it again */
};

/* The head scanner's progress (internal).  It remembers how far it looked,
 * so bytes that arrive one at a time are looked at once, not once per call. */
struct http_scan {
    size_t pos;                 /* bytes already scanned */
    size_t line_start;          /* where the line containing pos starts */
    bool start_done;            /* a non-empty line (the start line) has ended */
    bool seen;                  /* some byte of this section has been passed in */
};

/* Caller-owned parser (put it in the connection).  Holds no resources. */
struct http_parser {
    enum http_role role;            /* set by init */
    struct http_limits limits;      /* set by init */
    struct http_header *fields;     /* the caller's field array (head) */
    size_t fields_cap;              /* its size: the field count limit */
    struct http_header *trailers;   /* the caller's trailer array, or NULL */
    size_t trailers_cap;            /* its size */
    size_t trailer_count;           /* trailer fields of the last chunked body */
    bool request_was_head;          /* response: the request was HEAD */
    bool request_was_connect;       /* response: the request was CONNECT */
    enum http_parse_state state;
    int error;                      /* the sticky error in HTTP_PS_ERROR */
    unsigned interim_count;         /* 1xx heads since the last final response */
    struct http_head head;          /* the last complete head */
    struct http_scan scan;          /* head or trailer section in progress */
    uint64_t remaining;             /* framing LENGTH: body bytes left */
    uint64_t body_total;            /* framing CLOSE: body bytes so far */
    struct http_chunked chunked;    /* framing CHUNKED: the decoder */
};

/* Make p ready for the first message of a connection.  limits NULL = the
 * defaults.  fields[0..fields_cap) is the caller's array that heads are
 * parsed into; it must outlive p's use, and its size is the field count
 * limit.  0, or -EINVAL (fields NULL with a nonzero cap, line_max < 16, or
 * head_max > INT_MAX).
 * Never suspends. */
int http_parser_init(struct http_parser *p, enum http_role role, const struct http_limits *limits,
                     struct http_header *fields, size_t fields_cap);

/* Keep the trailer fields of chunked bodies in trailers[0..cap) (the caller's
 * array, apart from the head's).  Without it trailers are checked but not
 * kept, and at most fields_cap of them are allowed.  Never suspends. */
void http_parser_set_trailers(struct http_parser *p, struct http_header *trailers, size_t cap);

/* Response parser: the method of the request this response answers (HEAD
 * means no body whatever the head says; CONNECT 2xx is refused).  Call before
 * each response; it stays set until changed.  Never suspends. */
void http_parser_expect(struct http_parser *p, const char *method, size_t method_len);

/* Parse a head from buf[0..len), the bytes received so far starting at the
 * head's first byte (pass all of them again after each read).  Returns the
 * head's length (> 0) once complete, with p->head filled in; 0 when more
 * bytes are needed; or a negative code, after which the connection must be
 * closed: -HTTP_E_BAD_STATUS_LINE, -HTTP_E_BAD_STATUS_CODE,
 * -HTTP_E_BAD_VERSION, -HTTP_E_BAD_REQUEST_LINE, -HTTP_E_BAD_METHOD,
 * -HTTP_E_BAD_TARGET, -HTTP_E_TARGET_TOO_LONG, -HTTP_E_BARE_LF,
 * -HTTP_E_BARE_CR, -HTTP_E_LINE_TOO_LONG, -HTTP_E_HEADER_TOO_LARGE,
 * -HTTP_E_LEADING_WS, -HTTP_E_OBS_FOLD, -HTTP_E_BAD_HEADER_NAME,
 * -HTTP_E_WS_BEFORE_COLON, -HTTP_E_BAD_HEADER_VALUE, -HTTP_E_TOO_MANY_HEADERS,
 * the framing codes (-HTTP_E_CL_AND_TE, -HTTP_E_BAD_CONTENT_LENGTH,
 * -HTTP_E_CONTENT_LENGTH_CONFLICT, -HTTP_E_BAD_TRANSFER_ENCODING,
 * -HTTP_E_TE_NOT_CHUNKED, -HTTP_E_TE_UNSUPPORTED, -HTTP_E_TE_HTTP10,
 * -HTTP_E_BODY_TOO_LARGE), and for responses -HTTP_E_TOO_MANY_INTERIM,
 * -HTTP_E_CONNECT_UNSUPPORTED.  -EINVAL (not sticky) if called while a body
 * is being read.  The head points into buf; the caller keeps those bytes.
 * Reads only buf[0..len).  Never suspends. */
int http_parse_head(struct http_parser *p, const char *buf, size_t len);

/* Client: after a response head, 1 if it was an interim (1xx) response to
 * skip (parse the next head from the bytes after it), 0 for a final
 * response, -HTTP_E_UPGRADE_REFUSED for 101 (coloop never asks to switch
 * protocols: close the connection).  Never suspends. */
int http_response_interim(const struct http_parser *p);

/* Read body bytes from buf[0..len) (the bytes after those already
 * consumed).  Returns the number consumed (>= 0; 0 means more bytes are
 * needed, or the message is done) and sets *data to the body bytes among them
 * (at most one span per call, into buf).  Chunked trailers become available
 * in p->trailers when the message is done.  Errors (sticky): the chunked
 * codes of chunked.h, -HTTP_E_BODY_TOO_LARGE, and the field-line codes for a
 * trailer section.  -EINVAL (not sticky) if no head was parsed.  At most
 * INT_MAX bytes per call.  Never suspends. */
int http_parse_body(struct http_parser *p, const char *buf, size_t len, struct http_span *data);

/* The connection reached end of input.  0 if that completes the message
 * (a close-delimited body); -HTTP_E_INCOMPLETE in the middle of a head or of
 * a length- or chunk-delimited body; -HTTP_E_CLOSED between messages (normal
 * for a server; for a client, the server closed before answering).  Never
 * suspends. */
int http_parse_eof(struct http_parser *p);

/* True when the current message is complete (the next bytes, if any, start
 * the next message).  Never suspends. */
static inline bool http_parser_done(const struct http_parser *p) { return p->state == HTTP_PS_DONE; }

/* Find field lines named `name` (case-insensitive) in order: start with
 * *cursor = 0 and call again for the next one; NULL when there are no more.
 * Repeated fields come back in the order they were received.  Never suspends. */
const struct http_header *http_header_find(const struct http_header *fields, size_t count,
                                           const char *name, size_t *cursor);

/* Write a request head into out[0..size): "METHOD SP target SP HTTP/1.1",
 * "Host: host", then fields[0..count), then the empty line.  Refuses (-EINVAL,
 * nothing written) a method that is not a token, a target or host with a
 * byte outside 0x21..0x7E, a field name that is not a token, a value with
 * CR, LF, NUL or another control byte except HTAB, a Host field in `fields`,
 * or Content-Length together with Transfer-Encoding (RFC 9112 11.1 and 6.2).
 * Returns the length written (no NUL is added), or -ENOSPC (nothing written)
 * if out is too small.  Never suspends. */
int http_format_request(char *out, size_t size, const char *method, const char *target,
                        const char *host, const struct http_header *fields, size_t count);

#endif
