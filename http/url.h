/* url.h - http and https URLs: parse, validate, normalize, resolve a link
 * against the page it came from (RFC 3986 5.2-5.4), and give the client the
 * pieces it needs: the request target, the Host value, the origin for the
 * connection pool, and the URL back as a string.
 *
 * Only http and https.  A parsed URL is always safe to put on the wire: every
 * byte of `target` and `host_header` is in 0x21..0x7E, so the request
 * formatter cannot be made to write a CR, LF or space through a URL.
 *
 * Decisions (what a URL becomes, or why it is refused):
 *   - scheme and host are lowercased; the port defaults to 80 / 443;
 *     an empty path becomes "/"; dot segments are removed (RFC 3986 5.2.4);
 *     the fragment is dropped (it is never sent, and two URLs that differ
 *     only by it name the same resource).
 *   - path and query: bytes RFC 3986 does not allow raw (space, '"', '<',
 *     '>', '\', '^', '`', '{', '|', '}', '[', ']' and non-ASCII) are
 *     percent-encoded, as browsers do with links written by people; an
 *     existing %XX is kept as is, and a '%' not followed by two hex digits is
 *     refused (HTTP_E_URL_PERCENT), since its meaning is a guess.  Control
 *     bytes (0x00-0x1F, 0x7F) anywhere are refused (HTTP_E_URL_CHAR): they
 *     are never part of a real link and CR/LF are the injection vector.
 *     Whitespace around a link (HTML attributes) is the caller's to trim.
 *   - user:password@ is refused (HTTP_E_URL_USERINFO): coloop does not send
 *     credentials taken from URLs; pass an Authorization header.
 *   - host names: letters, digits, '-', '.', '_' only (no percent-encoding,
 *     no IDNA: pass punycode).  A host whose last label is numeric must be a
 *     plain dotted quad (d.d.d.d, each 0..255, no leading zeros): "0x7f.1" or
 *     "127.1" would reach the resolver as a different address than a reader
 *     sees.  IPv6 literals go in brackets, are checked with inet_pton and
 *     written in canonical form (RFC 5952); zone ids are refused.
 *   - "http:g" relative to an http base resolves like "g" (RFC 3986 5.4.2's
 *     backward-compatible reading, and what browsers do): the strict reading
 *     gives an http URL without a host, which is useless.
 */
#ifndef COLOOP_HTTP_URL_H
#define COLOOP_HTTP_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/httperr.h"

#define HTTP_URL_MAX 8192       /* bytes of an input URL, and of a resulting href */
#define HTTP_URL_HOST_MAX 253   /* bytes of a host name (DNS limit) */

enum http_scheme {
    HTTP_SCHEME_HTTP,
    HTTP_SCHEME_HTTPS
};

enum http_host_kind {
    HTTP_HOST_NAME,     /* a name to resolve */
    HTTP_HOST_IPV4,     /* a dotted quad: no DNS, no TLS SNI */
    HTTP_HOST_IPV6      /* an IPv6 literal: no DNS, no TLS SNI */
};

/* A parsed URL.  Caller-owned struct; all strings live in one allocation
 * owned by the struct and freed by http_url_fini().  All are NUL-terminated. */
struct http_url {
    enum http_scheme scheme;
    enum http_host_kind host_kind;
    uint16_t port;              /* explicit, or 80 / 443 */
    const char *href;           /* the whole URL, normalized, no fragment: "https://a.example:8443/p?q" */
    const char *origin;         /* "https://a.example:8443", port always written: the pool key */
    const char *host;           /* for DNS and TLS: "a.example", "192.0.2.1", "::1" (no brackets) */
    const char *host_header;    /* the Host value: port only if not the default, IPv6 in brackets */
    const char *target;         /* the request target: "/p?q" (points into href) */
    size_t path_len;            /* target[0..path_len) is the path; then "?query" or nothing */
    char *mem;                  /* the allocation (internal) */
};

/* Parse an absolute http or https URL from s[0..len) into *u.  On success
 * *u owns one allocation (http_url_fini).  On failure *u is zeroed and owns
 * nothing.  Errors: -HTTP_E_URL_TOO_LONG, -HTTP_E_URL_CHAR,
 * -HTTP_E_URL_SCHEME (none, or not http/https), -HTTP_E_URL_USERINFO,
 * -HTTP_E_URL_HOST, -HTTP_E_URL_IPV6, -HTTP_E_URL_PORT, -HTTP_E_URL_PERCENT,
 * -ENOMEM.  Never suspends. */
int http_url_parse(struct http_url *u, const char *s, size_t len);

/* Resolve the reference ref[0..len) (absolute, "//host/p", "/p", "p",
 * "../p", "?q", "#f", "") against base, per RFC 3986 5.2, into *u.  u must
 * not be base.  Ownership and errors as http_url_parse.  Never suspends. */
int http_url_resolve(struct http_url *u, const struct http_url *base, const char *ref, size_t len);

/* Free what *u owns and zero it.  Safe on a zeroed or failed struct, and
 * twice.  Never suspends. */
void http_url_fini(struct http_url *u);

/* Same scheme, host and port: may share pooled connections.  Never suspends. */
bool http_url_same_origin(const struct http_url *a, const struct http_url *b);

/* "http" or "https" / 80 or 443 (static strings; never suspend). */
const char *http_scheme_name(enum http_scheme scheme);
uint16_t http_scheme_default_port(enum http_scheme scheme);

#endif
