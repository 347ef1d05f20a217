/* chars.h - the byte classes of the HTTP and URI grammars (RFC 9110 5.6,
 * RFC 3986 2), as small inline tests.  Internal to http/: the parser, the
 * chunked decoder, the request formatter and the URL code all ask the same
 * question the same way.  Every function takes an unsigned char, because the
 * grammars are over octets and a plain char is signed on x86-64.
 */
#ifndef COLOOP_HTTP_CHARS_H
#define COLOOP_HTTP_CHARS_H

#include <stdbool.h>
#include <stddef.h>

static inline bool http_is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool http_is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* tchar: the bytes of a token (method, field name, coding, extension name). */
static inline bool http_is_tchar(unsigned char c)
{
    if (http_is_alpha(c) || http_is_digit(c))
        return true;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*':
    case '+': case '-': case '.': case '^': case '_': case '`': case '|': case '~':
        return true;
    default:
        return false;
    }
}

/* VCHAR: visible ASCII, 0x21..0x7E. */
static inline bool http_is_vchar(unsigned char c) { return c >= 0x21 && c <= 0x7E; }

/* obs-text: 0x80..0xFF, allowed in values so a non-UTF-8 byte never confuses parsing. */
static inline bool http_is_obs_text(unsigned char c) { return c >= 0x80; }

/* OWS / BWS element: SP or HTAB. */
static inline bool http_is_ows(unsigned char c) { return c == ' ' || c == '\t'; }

/* A byte allowed inside a field value or a reason phrase: VCHAR, obs-text,
 * SP, HTAB.  Everything else is a control byte (NUL, CR, LF, DEL, ...). */
static inline bool http_is_field_byte(unsigned char c)
{
    return (c >= 0x20 && c != 0x7F) || c == '\t';   /* = VCHAR | obs-text | SP | HTAB */
}

/* The value of a hex digit, or -1. */
static inline int http_hex_value(unsigned char c)
{
    if (http_is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static inline unsigned char http_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* Case-insensitive equality of two byte strings (ASCII letters only fold). */
static inline bool http_equal_nocase(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++)
        if (http_lower((unsigned char)a[i]) != http_lower((unsigned char)b[i]))
            return false;
    return true;
}

#endif
