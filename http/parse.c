/* parse.c - heads and field sections: the start line, the field lines, and
 * the scanner that decides when a parse is worth running.  Framing rules
 * are in framing.c, bodies in chunked.c (see parse.h for the whole picture).
 *
 * Restartable parsing.  The caller passes all the bytes of the head received
 * so far, from its first byte, each time more arrive; nothing is copied and
 * no pointer is kept between calls, so the caller may move its buffer.  Two
 * passes share the work:
 *   - the scanner looks at each new byte once (memchr for the LF of each
 *     line) and remembers where it stopped.  It picks "trigger" bytes: an
 *     empty line (the end of the head), a bare CR or LF, a line past the
 *     limit (it stops there), and the end of the start line;
 *   - the parser proper then runs from the first byte of the head over the
 *     bytes up to a trigger (the "view"), strictly left to right, and
 *     returns complete / need more / the first error.
 * A head thus costs one or two parses, not one per read: O(n) on a slow
 * drip.  Why the split cannot change the result: triggers depend on the
 * bytes only, and the parse is monotone (for a longer view it either still
 * needs more or gives the same answer, since it reports the first problem
 * in byte order); every stopping trigger is parsed, and so is the last
 * trigger before the bytes run out.
 *
 * Decisions (RELIABILITY.md section 7):
 *   H4.2  bare LF is an error everywhere (strict; llhttp became strict after
 *         CVE-2022-32214/35256), and so is a bare CR (RFC 9112 2.2).
 *   H4.7  obs-fold is rejected in requests and responses: replacing it with
 *         SP would be allowed for ordinary fields, but a folded line must
 *         never extend Content-Length or Transfer-Encoding (CVE-2022-32213,
 *         CVE-2024-27982), and one rule is easier to trust than two.
 *   H4.4  whitespace before the first field line is rejected, not skipped.
 *   D1    a status line without the SP and reason ("HTTP/1.1 200") is
 *         accepted: some servers send it, and a missing reason cannot move a
 *         message boundary.  Any other deviation is an error.
 *   D2    up to HTTP_LEADING_EMPTY_MAX empty lines before a start line are
 *         skipped (RFC 9112 2.2), for requests and responses alike.
 *   D3    field values may carry obs-text (bytes >= 0x80), never a control
 *         byte other than HTAB (RFC 9110 5.5 allows replacing CR/LF/NUL with
 *         SP; coloop rejects instead, as a parser that rewrites bytes would
 *         disagree with its peers about the message).
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "http/chars.h"
#include "http/parse_internal.h"

/* The smallest sensible line limit: a status line is at least 12 bytes. */
#define HTTP_LINE_MAX_MIN 16

void http_limits_default(struct http_limits *l)
{
    l->head_max = HTTP_HEAD_MAX_DEFAULT;
    l->line_max = HTTP_LINE_MAX_DEFAULT;
    l->body_max = HTTP_BODY_MAX_DEFAULT;
    l->chunk_ext_max = HTTP_CHUNK_EXT_MAX_DEFAULT;
    l->interim_max = HTTP_INTERIM_MAX_DEFAULT;
}

/* ---- the scanner ---- */

static void scan_reset(struct http_scan *s, bool start_done)
{
    s->pos = 0;
    s->line_start = 0;
    s->start_done = start_done;
    s->seen = false;
}

/* A view must end here: the head's empty line, or a byte the parse will
 * refuse (bare CR or LF, a line past the limit).  Scanning stops there. */
static size_t scan_stop(struct http_scan *s, size_t view, bool *stop)
{
    s->pos = view;
    *stop = true;
    return view;
}

/* Look at buf[s->pos .. end), a line at a time (memchr finds the LF).
 * Returns the end of the view to parse: at a stopping byte (*stop set), or
 * at the end, the end of a start line seen on the way (so a bad start line
 * is reported before the rest arrives), or 0 when nothing is worth a parse. */
static size_t scan_next(struct http_scan *s, const char *buf, size_t end, size_t line_max, bool *stop)
{
    size_t view = 0;
    *stop = false;
    while (s->pos < end) {
        size_t i = s->pos;
        if (i > s->line_start && buf[i - 1] == '\r' && buf[i] != '\n')
            return scan_stop(s, i + 1, stop);               /* CR at the end of the last call: bare */
        size_t wend = s->line_start + line_max < end ? s->line_start + line_max : end;
        const char *lf = memchr(buf + i, '\n', wend - i);
        size_t at = lf ? (size_t)(lf - buf) : wend;         /* the LF, or the window's end */
        const char *cr = memchr(buf + i, '\r', at - i);
        if (cr && (size_t)(cr - buf) + 1 < at)
            return scan_stop(s, (size_t)(cr - buf) + 2, stop);  /* bare CR */
        if (!lf) {
            if (wend < end)
                return scan_stop(s, wend + 1, stop);        /* the line cannot end within line_max */
            s->pos = end;
            break;
        }
        if (at == s->line_start || buf[at - 1] != '\r')
            return scan_stop(s, at + 1, stop);              /* bare LF */
        bool empty = at - s->line_start == 1;
        s->line_start = s->pos = at + 1;
        if (empty)
            return scan_stop(s, at + 1, stop);              /* the end of the section */
        if (!s->start_done) {
            s->start_done = true;
            view = at + 1;                                  /* the start line is complete */
        }
    }
    return view;
}

typedef int (*view_parser)(struct http_parser *p, const char *buf, size_t view);

/* Scan the new bytes and run `parse` over the views the scanner picks.
 * Returns the first non-zero result, 0 for "need more", or
 * -HTTP_E_HEADER_TOO_LARGE once the section cannot end within head_max. */
static int run_section(struct http_parser *p, const char *buf, size_t len, view_parser parse)
{
    if (len < p->scan.pos)                          /* fewer bytes than last time: start over */
        scan_reset(&p->scan, p->state == HTTP_PS_TRAILERS);
    if (len > 0)
        p->scan.seen = true;
    size_t end = len < p->limits.head_max ? len : p->limits.head_max;
    bool stop;
    do {
        size_t view = scan_next(&p->scan, buf, end, p->limits.line_max, &stop);
        int rc = view ? parse(p, buf, view) : 0;
        if (rc != 0)
            return rc;
    } while (stop);                                 /* e.g. an empty line before the start line */
    return len > p->limits.head_max ? -HTTP_E_HEADER_TOO_LARGE : 0;
}

/* ---- lines ---- */

/* Find the CRLF ending the line that starts at pos.  1 and *eol = index of
 * the CR; 0 if the line is not complete yet; or the first error in byte
 * order: -HTTP_E_BARE_LF, -HTTP_E_BARE_CR, -HTTP_E_LINE_TOO_LONG (the line
 * with its CRLF would exceed line_max).  The CR must sit within the first
 * line_max - 1 bytes, so memchr never looks further than that. */
static int line_end(const char *buf, size_t len, size_t pos, size_t line_max, size_t *eol)
{
    size_t wend = len - pos < line_max - 1 ? len : pos + line_max - 1;
    const char *cr = memchr(buf + pos, '\r', wend - pos);
    size_t at = cr ? (size_t)(cr - buf) : wend;
    if (memchr(buf + pos, '\n', at - pos))
        return -HTTP_E_BARE_LF;
    if (!cr)
        return wend < len ? -HTTP_E_LINE_TOO_LONG : 0;
    if (at + 1 == len)
        return 0;
    if (buf[at + 1] != '\n')
        return -HTTP_E_BARE_CR;
    *eol = at;
    return 1;
}

/* Skip the empty lines allowed before a start line.  1 when a non-empty
 * line begins at *pos, 0 for need more, or an error (`too_many` when there
 * are more than HTTP_LEADING_EMPTY_MAX). */
static int skip_empty_lines(const char *buf, size_t len, size_t *pos, int too_many)
{
    for (unsigned n = 0;; n++) {
        if (*pos == len)
            return 0;
        if (buf[*pos] == '\n')
            return -HTTP_E_BARE_LF;
        if (buf[*pos] != '\r')
            return 1;
        if (*pos + 1 == len)
            return 0;
        if (buf[*pos + 1] != '\n')
            return -HTTP_E_BARE_CR;
        if (n == HTTP_LEADING_EMPTY_MAX)
            return too_many;
        *pos += 2;
    }
}

/* ---- start lines ---- */

/* "HTTP/" DIGIT "." DIGIT at l (8 bytes available): 1, or 0 if malformed;
 * *major and *minor get the digits. */
static int http_version(const char *l, unsigned *major, unsigned *minor)
{
    if (memcmp(l, "HTTP/", 5) != 0 || !http_is_digit((unsigned char)l[5]) || l[6] != '.' ||
        !http_is_digit((unsigned char)l[7]))
        return 0;
    *major = (unsigned)(l[5] - '0');
    *minor = (unsigned)(l[7] - '0');
    return 1;
}

/* status-line = HTTP-version SP 3DIGIT SP reason-phrase (SP + reason may be
 * missing entirely, decision D1).  l[0..n) is the line without CRLF. */
static int parse_status_line(struct http_head *h, const char *l, size_t n)
{
    unsigned major, minor;
    if (n < 12 || !http_version(l, &major, &minor) || l[8] != ' ')
        return -HTTP_E_BAD_STATUS_LINE;
    if (major != 1)
        return -HTTP_E_BAD_VERSION;
    int status = 0;
    for (size_t i = 9; i < 12; i++) {
        if (!http_is_digit((unsigned char)l[i]))
            return -HTTP_E_BAD_STATUS_LINE;
        status = status * 10 + (l[i] - '0');
    }
    if (n > 12 && l[12] != ' ')
        return -HTTP_E_BAD_STATUS_LINE;
    if (status < 100 || status > 599)
        return -HTTP_E_BAD_STATUS_CODE;
    size_t reason = n > 12 ? 13 : 12;
    for (size_t i = reason; i < n; i++)
        if (!http_is_field_byte((unsigned char)l[i]))
            return -HTTP_E_BAD_STATUS_LINE;
    h->version_minor = minor;
    h->status = status;
    h->reason = l + reason;
    h->reason_len = n - reason;
    return 1;
}

/* request-line = method SP request-target SP HTTP-version.  The target is
 * checked as bytes (0x21..0x7E), not interpreted: that is the server's job. */
static int parse_request_line(struct http_head *h, const char *l, size_t n)
{
    size_t i = 0;
    while (i < n && http_is_tchar((unsigned char)l[i]))
        i++;
    if (i == n || i == 0 || l[i] != ' ')
        return i < n && l[i] != ' ' ? -HTTP_E_BAD_METHOD : -HTTP_E_BAD_REQUEST_LINE;
    h->method = l;
    h->method_len = i;
    size_t t = ++i;
    for (; i < n && l[i] != ' '; i++)
        if (!http_is_vchar((unsigned char)l[i]))
            return -HTTP_E_BAD_TARGET;
    if (i == t || i == n)
        return -HTTP_E_BAD_REQUEST_LINE;
    h->target = l + t;
    h->target_len = i - t;
    i++;
    unsigned major, minor;
    if (n - i != 8 || !http_version(l + i, &major, &minor))
        return -HTTP_E_BAD_REQUEST_LINE;
    if (major != 1)
        return -HTTP_E_BAD_VERSION;
    h->version_minor = minor;
    return 1;
}

/* ---- field lines ---- */

/* field-line = field-name ":" OWS field-value OWS.  `leading_ws` is the
 * error for a line that starts with whitespace (obs-fold, or whitespace
 * before the first field line). */
static int parse_field_line(const char *l, size_t n, struct http_header *h, int leading_ws)
{
    if (http_is_ows((unsigned char)l[0]))
        return leading_ws;
    size_t i = 0;
    while (i < n && http_is_tchar((unsigned char)l[i]))
        i++;
    if (i < n && http_is_ows((unsigned char)l[i]))
        return -HTTP_E_WS_BEFORE_COLON;
    if (i == 0 || i == n || l[i] != ':')
        return -HTTP_E_BAD_HEADER_NAME;
    h->name = l;
    h->name_len = i;
    size_t start = i + 1, end = n;
    for (i = start; i < n; i++)
        if (!http_is_field_byte((unsigned char)l[i]))
            return -HTTP_E_BAD_HEADER_VALUE;
    while (start < end && http_is_ows((unsigned char)l[start]))
        start++;
    while (end > start && http_is_ows((unsigned char)l[end - 1]))
        end--;
    h->value = l + start;
    h->value_len = end - start;
    return 1;
}

/* Field lines from *pos up to and including the empty line that ends the
 * section.  Stores them in out[0..max) (out may be NULL: check only).  1 and
 * *count when complete (*pos after the empty line), 0 for need more, or an
 * error.  `first_ws` is the error for whitespace at the start of the first
 * line. */
static int parse_fields(const char *buf, size_t len, size_t *pos, size_t line_max,
                        struct http_header *out, size_t max, size_t *count, int first_ws)
{
    for (size_t n = 0;; n++) {
        size_t eol;
        int rc = line_end(buf, len, *pos, line_max, &eol);
        if (rc <= 0)
            return rc;
        if (eol == *pos) {
            *pos = eol + 2;
            *count = n;
            return 1;
        }
        if (n == max)
            return -HTTP_E_TOO_MANY_HEADERS;
        struct http_header h;
        rc = parse_field_line(buf + *pos, eol - *pos, &h, n == 0 ? first_ws : -HTTP_E_OBS_FOLD);
        if (rc < 0)
            return rc;
        if (out)
            out[n] = h;
        *pos = eol + 2;
    }
}

/* ---- heads ---- */

/* The whole head over buf[0..view): its length, 0, or an error. */
static int parse_head_view(struct http_parser *p, const char *buf, size_t view)
{
    bool request = p->role == HTTP_ROLE_REQUEST;
    int bad_line = request ? -HTTP_E_BAD_REQUEST_LINE : -HTTP_E_BAD_STATUS_LINE;
    size_t pos = 0, eol, count;
    int rc = skip_empty_lines(buf, view, &pos, bad_line);
    if (rc <= 0)
        return rc;
    rc = line_end(buf, view, pos, p->limits.line_max, &eol);
    if (rc == -HTTP_E_LINE_TOO_LONG && request)
        rc = -HTTP_E_TARGET_TOO_LONG;
    if (rc <= 0)
        return rc;
    struct http_head *h = &p->head;
    memset(h, 0, sizeof *h);
    rc = request ? parse_request_line(h, buf + pos, eol - pos)
                 : parse_status_line(h, buf + pos, eol - pos);
    if (rc < 0)
        return rc;
    pos = eol + 2;
    rc = parse_fields(buf, view, &pos, p->limits.line_max, p->fields, p->fields_cap, &count,
                      -HTTP_E_LEADING_WS);
    if (rc <= 0)
        return rc;
    h->fields = p->fields;
    h->field_count = count;
    h->length = pos;
    return (int)pos;
}

static int fail(struct http_parser *p, int error)
{
    p->state = HTTP_PS_ERROR;
    p->error = error;
    return error;
}

int http_parser_init(struct http_parser *p, enum http_role role, const struct http_limits *limits,
                     struct http_header *fields, size_t fields_cap)
{
    struct http_limits l;
    if (limits)
        l = *limits;
    else
        http_limits_default(&l);
    if ((!fields && fields_cap > 0) || l.line_max < HTTP_LINE_MAX_MIN || l.head_max > INT_MAX)
        return -EINVAL;
    memset(p, 0, sizeof *p);
    p->role = role;
    p->limits = l;
    p->fields = fields;
    p->fields_cap = fields_cap;
    p->state = HTTP_PS_HEAD;
    scan_reset(&p->scan, false);
    return 0;
}

void http_parser_set_trailers(struct http_parser *p, struct http_header *trailers, size_t cap)
{
    p->trailers = trailers;
    p->trailers_cap = trailers ? cap : 0;
}

void http_parser_expect(struct http_parser *p, const char *method, size_t method_len)
{
    p->request_was_head = method_len == 4 && memcmp(method, "HEAD", 4) == 0;
    p->request_was_connect = method_len == 7 && memcmp(method, "CONNECT", 7) == 0;
}

/* A complete response head: count interim responses (RFC 9110 15.2 says a
 * client must accept any number, so the cap is ours, against endless 100s). */
static int count_interim(struct http_parser *p)
{
    bool interim = p->head.status < 200 && p->head.status != 101;
    if (!interim) {
        p->interim_count = 0;
        return 0;
    }
    if (++p->interim_count > p->limits.interim_max)
        return -HTTP_E_TOO_MANY_INTERIM;
    return 0;
}

/* After a complete head: where the body starts. */
static void enter_body(struct http_parser *p)
{
    const struct http_head *h = &p->head;
    p->body_total = 0;
    p->remaining = h->content_length;
    p->trailer_count = 0;
    http_chunked_init(&p->chunked, p->limits.body_max, p->limits.chunk_ext_max);
    bool empty = h->framing == HTTP_FRAMING_NONE ||
                 (h->framing == HTTP_FRAMING_LENGTH && h->content_length == 0);
    p->state = empty ? HTTP_PS_DONE : HTTP_PS_BODY;
}

int http_parse_head(struct http_parser *p, const char *buf, size_t len)
{
    if (p->state == HTTP_PS_ERROR)
        return p->error;
    if (p->state == HTTP_PS_DONE) {
        p->state = HTTP_PS_HEAD;
        scan_reset(&p->scan, false);
    }
    if (p->state != HTTP_PS_HEAD)
        return -EINVAL;
    int n = run_section(p, buf, len, parse_head_view);
    if (n <= 0)
        return n < 0 ? fail(p, n) : 0;
    int rc = http_framing_decide(p);
    if (rc == 0 && p->role == HTTP_ROLE_RESPONSE)
        rc = count_interim(p);
    if (rc < 0)
        return fail(p, rc);
    enter_body(p);
    return n;
}

int http_response_interim(const struct http_parser *p)
{
    if (p->head.status == 101)
        return -HTTP_E_UPGRADE_REFUSED;
    return p->head.status >= 100 && p->head.status < 200;
}

/* ---- trailers ---- */

static int parse_trailer_view(struct http_parser *p, const char *buf, size_t view)
{
    size_t pos = 0, count;
    size_t max = p->trailers ? p->trailers_cap : p->fields_cap;
    int rc = parse_fields(buf, view, &pos, p->limits.line_max, p->trailers, max, &count,
                          -HTTP_E_OBS_FOLD);
    if (rc <= 0)
        return rc;
    p->trailer_count = p->trailers ? count : 0;
    return (int)pos;
}

void http_trailers_begin(struct http_parser *p)
{
    p->state = HTTP_PS_TRAILERS;
    scan_reset(&p->scan, true);                     /* no start line in a trailer section */
}

int http_trailers_parse(struct http_parser *p, const char *buf, size_t len)
{
    return run_section(p, buf, len, parse_trailer_view);
}

int http_parse_eof(struct http_parser *p)
{
    switch (p->state) {
    case HTTP_PS_ERROR:
        return p->error;
    case HTTP_PS_HEAD:
        return p->scan.seen ? fail(p, -HTTP_E_INCOMPLETE) : -HTTP_E_CLOSED;
    case HTTP_PS_DONE:
        return -HTTP_E_CLOSED;
    case HTTP_PS_BODY:
        if (p->head.framing == HTTP_FRAMING_CLOSE) {
            p->state = HTTP_PS_DONE;
            return 0;
        }
        return fail(p, -HTTP_E_INCOMPLETE);
    case HTTP_PS_TRAILERS:
    default:
        return fail(p, -HTTP_E_INCOMPLETE);
    }
}
