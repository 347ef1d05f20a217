/* url.c - parsing and resolving http(s) URLs (see url.h for the rules).
 *
 * One path for everything: a URL, absolute or relative, is split into the
 * five parts of RFC 3986 appendix B; resolution (5.2.2) picks each part of
 * the result from the reference or the base; the authority is then checked
 * (host, port, no userinfo: url_host.c), and the result is written once
 * into a single allocation: host, Host value, origin, and href with the
 * target at its end.
 * The path is percent-encoded while it is copied, then its dot segments are
 * removed in place (5.2.4), which can only shorten it.
 */
#define _GNU_SOURCE     /* memrchr */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/chars.h"
#include "http/url_internal.h"

/* A reference split into its parts (fragment dropped). */
struct ref_parts {
    const char *scheme;     /* scheme_len 0: no scheme */
    size_t scheme_len;
    const char *auth;       /* after "//", when has_auth */
    size_t auth_len;
    bool has_auth;
    const char *path;
    size_t path_len;
    const char *query;      /* after "?", when has_query */
    size_t query_len;
    bool has_query;
};

/* The parts of the resolved URL, before checking and encoding. */
struct target_parts {
    enum http_scheme scheme;
    const char *auth;
    size_t auth_len;
    const char *prefix;     /* base path up to its last "/" (a merge, 5.2.3), or empty */
    size_t prefix_len;
    const char *path;
    size_t path_len;
    const char *query;
    size_t query_len;
    bool has_query;
};

const char *http_scheme_name(enum http_scheme scheme)
{
    return scheme == HTTP_SCHEME_HTTPS ? "https" : "http";
}

uint16_t http_scheme_default_port(enum http_scheme scheme)
{
    return scheme == HTTP_SCHEME_HTTPS ? 443 : 80;
}

/* ---- splitting ---- */

static size_t span_until(const char *s, size_t n, const char *stops)
{
    size_t i = 0, nstops = strlen(stops);
    while (i < n && !memchr(stops, s[i], nstops))
        i++;
    return i;
}

/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"; its length or 0. */
static size_t scheme_length(const char *s, size_t n)
{
    if (n == 0 || !http_is_alpha((unsigned char)s[0]))
        return 0;
    for (size_t i = 1; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ':')
            return i;
        if (!http_is_alpha(c) && !http_is_digit(c) && c != '+' && c != '-' && c != '.')
            return 0;
    }
    return 0;
}

static void split_ref(const char *s, size_t n, struct ref_parts *r)
{
    memset(r, 0, sizeof *r);
    n = span_until(s, n, "#");
    size_t k = scheme_length(s, n);
    if (k > 0) {
        r->scheme = s;
        r->scheme_len = k;
        s += k + 1;
        n -= k + 1;
    }
    if (n >= 2 && s[0] == '/' && s[1] == '/') {
        r->has_auth = true;
        r->auth = s + 2;
        r->auth_len = span_until(s + 2, n - 2, "/?");
        s += 2 + r->auth_len;
        n -= 2 + r->auth_len;
    }
    r->path = s;
    r->path_len = span_until(s, n, "?");
    if (r->path_len < n) {
        r->has_query = true;
        r->query = s + r->path_len + 1;
        r->query_len = n - r->path_len - 1;
    }
}

/* ---- resolution (RFC 3986 5.2.2) ---- */

static int scheme_from(const char *s, size_t n, enum http_scheme *scheme)
{
    if (http_equal_nocase(s, n, "http", 4))
        *scheme = HTTP_SCHEME_HTTP;
    else if (http_equal_nocase(s, n, "https", 5))
        *scheme = HTTP_SCHEME_HTTPS;
    else
        return -HTTP_E_URL_SCHEME;
    return 0;
}

static void take_ref_rest(struct target_parts *t, const struct ref_parts *r)
{
    t->path = r->path;
    t->path_len = r->path_len;
    t->query = r->query;
    t->query_len = r->query_len;
    t->has_query = r->has_query;
}

/* The reference has no authority: path and query relative to the base. */
static void relative_to_base(struct target_parts *t, const struct http_url *base,
                             const struct ref_parts *r)
{
    t->auth = base->host_header;
    t->auth_len = strlen(base->host_header);
    if (r->path_len > 0) {
        if (r->path[0] != '/') {                            /* merge: keep base up to its last "/" */
            const char *slash = memrchr(base->target, '/', base->path_len);
            t->prefix = base->target;
            t->prefix_len = (size_t)(slash - base->target) + 1;
        }
        take_ref_rest(t, r);
        return;
    }
    t->path = base->target;                                 /* "" or "?q": the base's path */
    t->path_len = base->path_len;
    if (r->has_query) {
        t->query = r->query;
        t->query_len = r->query_len;
        t->has_query = true;
    } else if (base->target[base->path_len] == '?') {
        t->query = base->target + base->path_len + 1;
        t->query_len = strlen(t->query);
        t->has_query = true;
    }
}

static int resolve_parts(const struct http_url *base, const struct ref_parts *r,
                         struct target_parts *t)
{
    memset(t, 0, sizeof *t);
    if (r->scheme_len > 0) {
        int rc = scheme_from(r->scheme, r->scheme_len, &t->scheme);
        if (rc < 0)
            return rc;
        bool same_scheme_relative = base && t->scheme == base->scheme && !r->has_auth;
        if (!same_scheme_relative) {
            if (!r->has_auth)
                return -HTTP_E_URL_HOST;                    /* "http:/x": no authority */
            t->auth = r->auth;
            t->auth_len = r->auth_len;
            take_ref_rest(t, r);
            return 0;
        }
    } else if (!base) {
        return -HTTP_E_URL_SCHEME;
    }
    t->scheme = base->scheme;
    if (r->has_auth) {                                      /* "//host/p" */
        t->auth = r->auth;
        t->auth_len = r->auth_len;
        take_ref_rest(t, r);
        return 0;
    }
    relative_to_base(t, base, r);
    return 0;
}

/* ---- writing the target ---- */

/* May byte c appear raw in a path (or a query)?  RFC 3986 3.3/3.4: pchar =
 * unreserved / sub-delims / ":" / "@", plus "/" (and "?" in a query). */
static bool keep_raw(unsigned char c, bool query)
{
    if (http_is_alpha(c) || http_is_digit(c))
        return true;
    switch (c) {
    case '-': case '.': case '_': case '~':                                 /* unreserved */
    case '!': case '$': case '&': case '\'': case '(': case ')':            /* sub-delims */
    case '*': case '+': case ',': case ';': case '=':
    case ':': case '@': case '/':
        return true;
    case '?':
        return query;
    default:
        return false;
    }
}

/* Copy s[0..n) to out, percent-encoding what may not appear raw; a "%" must
 * start a %XX triplet.  *written gets the bytes written (at most 3n). */
static int encode(char *out, const char *s, size_t n, bool query, size_t *written)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n || http_hex_value((unsigned char)s[i + 1]) < 0 ||
                http_hex_value((unsigned char)s[i + 2]) < 0)
                return -HTTP_E_URL_PERCENT;
            out[w++] = '%';
        } else if (keep_raw(c, query)) {
            out[w++] = (char)c;
        } else {
            out[w++] = '%';
            out[w++] = hex[c >> 4];
            out[w++] = hex[c & 15];
        }
    }
    *written = w;
    return 0;
}

/* Remove the last segment and its "/" from the output p[0..out). */
static size_t pop_segment(const char *p, size_t out)
{
    while (out > 0 && p[out - 1] != '/')
        out--;
    return out > 0 ? out - 1 : 0;
}

static bool starts(const char *s, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && memcmp(s, prefix, k) == 0;
}

/* RFC 3986 5.2.4 remove_dot_segments, in place over p[0..n); returns the
 * new length.  The output never runs ahead of the input, so one buffer
 * serves as both (rule letters as in the RFC). */
static size_t remove_dot_segments(char *p, size_t n)
{
    size_t in = 0, out = 0;
    while (in < n) {
        const char *s = p + in;
        size_t rest = n - in;
        if (starts(s, rest, "../") || starts(s, rest, "./")) {             /* A */
            in += s[0] == '.' && s[1] == '.' ? 3 : 2;
        } else if (starts(s, rest, "/./") || (rest == 2 && starts(s, rest, "/."))) {   /* B */
            in += rest == 2 ? 1 : 2;        /* the prefix becomes "/": reuse its last byte */
            p[in] = '/';
        } else if (starts(s, rest, "/../") || (rest == 3 && starts(s, rest, "/.."))) { /* C */
            in += rest == 3 ? 2 : 3;
            p[in] = '/';
            out = pop_segment(p, out);
        } else if ((rest == 1 && s[0] == '.') || (rest == 2 && starts(s, rest, ".."))) { /* D */
            in = n;
        } else {                                                            /* E */
            do
                p[out++] = p[in++];
            while (in < n && p[in] != '/');
        }
    }
    return out;
}

/* The target "/path?query" at out: *len bytes, the first *path_len of them
 * the path; NUL-terminated. */
static int write_target(char *out, const struct target_parts *t, size_t *len, size_t *path_len)
{
    size_t n, w;
    int rc = encode(out, t->prefix, t->prefix_len, false, &n);
    if (rc == 0)
        rc = encode(out + n, t->path, t->path_len, false, &w);
    if (rc < 0)
        return rc;
    n = remove_dot_segments(out, n + w);
    if (n == 0 || out[0] != '/') {                          /* http's empty path is "/" */
        memmove(out + 1, out, n);
        out[0] = '/';
        n++;
    }
    *path_len = n;
    if (t->has_query) {
        out[n++] = '?';
        rc = encode(out + n, t->query, t->query_len, true, &w);
        if (rc < 0)
            return rc;
        n += w;
    }
    out[n] = '\0';
    *len = n;
    return 0;
}

/* ---- assembling ---- */

static int build(struct http_url *u, const struct target_parts *t, const struct host_parts *h)
{
    const char *scheme = http_scheme_name(t->scheme);
    bool v6 = h->kind == HTTP_HOST_IPV6;
    const char *open = v6 ? "[" : "", *close = v6 ? "]" : "";
    char port[8] = "";
    if (h->port != http_scheme_default_port(t->scheme))
        snprintf(port, sizeof port, ":%u", (unsigned)h->port);
    size_t hh_len = h->host_len + (v6 ? 2 : 0) + strlen(port);
    size_t origin_cap = strlen("https://[]:65535") + h->host_len + 1;
    size_t target_cap = 3 * (t->prefix_len + t->path_len) + 1 + 1 + 3 * t->query_len + 1;
    size_t href_cap = strlen("https://") + hh_len + target_cap;
    char *mem = malloc(h->host_len + 1 + hh_len + 1 + origin_cap + href_cap);   /* the one allocation */
    if (!mem)
        return -ENOMEM;
    char *host = mem, *hh = host + h->host_len + 1, *origin = hh + hh_len + 1;
    memcpy(host, h->host, h->host_len + 1);
    snprintf(hh, hh_len + 1, "%s%s%s%s", open, h->host, close, port);
    int olen = snprintf(origin, origin_cap, "%s://%s%s%s:%u", scheme, open, h->host, close,
                        (unsigned)h->port);
    char *href = origin + olen + 1;
    size_t prefix = strlen(scheme);
    memcpy(href, scheme, prefix);
    memcpy(href + prefix, "://", 3);
    memcpy(href + prefix + 3, hh, hh_len);
    prefix += 3 + hh_len;
    size_t target_len, path_len;
    int rc = write_target(href + prefix, t, &target_len, &path_len);
    if (rc == 0 && prefix + target_len > HTTP_URL_MAX)
        rc = -HTTP_E_URL_TOO_LONG;                          /* so that href parses again */
    if (rc < 0) {
        free(mem);
        return rc;
    }
    *u = (struct http_url){ .scheme = t->scheme, .host_kind = h->kind, .port = h->port,
                            .href = href, .origin = origin, .host = host, .host_header = hh,
                            .target = href + prefix, .path_len = path_len, .mem = mem };
    return 0;
}

/* Length and control bytes, before anything else looks at the input. */
static int check_input(const char *s, size_t n)
{
    if (n > HTTP_URL_MAX)
        return -HTTP_E_URL_TOO_LONG;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7F)
            return -HTTP_E_URL_CHAR;
    }
    return 0;
}

int http_url_resolve(struct http_url *u, const struct http_url *base, const char *ref, size_t len)
{
    struct ref_parts r;
    struct target_parts t;
    struct host_parts h;
    memset(u, 0, sizeof *u);
    int rc = check_input(ref, len);
    if (rc < 0)
        return rc;
    split_ref(ref, len, &r);
    rc = resolve_parts(base, &r, &t);
    if (rc == 0)
        rc = http_url_authority(t.auth, t.auth_len, t.scheme, &h);
    if (rc == 0)
        rc = build(u, &t, &h);
    return rc;
}

int http_url_parse(struct http_url *u, const char *s, size_t len)
{
    return http_url_resolve(u, NULL, s, len);
}

void http_url_fini(struct http_url *u)
{
    free(u->mem);
    memset(u, 0, sizeof *u);
}

bool http_url_same_origin(const struct http_url *a, const struct http_url *b)
{
    return a->scheme == b->scheme && a->port == b->port && strcmp(a->host, b->host) == 0;
}
