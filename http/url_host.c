/* url_host.c - the authority of an http(s) URL: no userinfo, a host that
 * means the same thing to every reader (a plain name, a strict dotted quad,
 * or a bracketed IPv6 literal in canonical form), and a port in 1..65535.
 * See url.h for why each refusal exists.
 */
#include <arpa/inet.h>
#include <string.h>

#include "http/chars.h"
#include "http/url_internal.h"

static int parse_port(const char *s, size_t n, enum http_scheme scheme, uint16_t *port)
{
    if (n == 0) {                                           /* "host:" means the default */
        *port = http_scheme_default_port(scheme);
        return 0;
    }
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!http_is_digit((unsigned char)s[i]))
            return -HTTP_E_URL_PORT;
        v = v * 10 + (uint32_t)(s[i] - '0');
        if (v > 65535)
            return -HTTP_E_URL_PORT;
    }
    if (v == 0)
        return -HTTP_E_URL_PORT;
    *port = (uint16_t)v;
    return 0;
}

static int parse_ipv6(const char *s, size_t n, struct host_parts *h)
{
    char text[INET6_ADDRSTRLEN];
    struct in6_addr addr;
    if (n == 0 || n >= sizeof text)
        return -HTTP_E_URL_IPV6;
    for (size_t i = 0; i < n; i++)          /* no zone id ("%25eth0"), no IPvFuture ("v1.x") */
        if (http_hex_value((unsigned char)s[i]) < 0 && s[i] != ':' && s[i] != '.')
            return -HTTP_E_URL_IPV6;
    memcpy(text, s, n);
    text[n] = '\0';
    if (inet_pton(AF_INET6, text, &addr) != 1 || !inet_ntop(AF_INET6, &addr, h->host, sizeof h->host))
        return -HTTP_E_URL_IPV6;
    h->host_len = strlen(h->host);
    h->kind = HTTP_HOST_IPV6;
    return 0;
}

/* d.d.d.d exactly: four parts, 0..255, no leading zeros, nothing else. */
static bool is_dotted_quad(const char *s, size_t n)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        size_t start = i;
        unsigned v = 0;
        while (i < n && http_is_digit((unsigned char)s[i]) && i - start < 3)
            v = v * 10 + (unsigned)(s[i++] - '0');
        if (i == start || v > 255 || (s[start] == '0' && i - start > 1))
            return false;
        if (part < 3 && (i == n || s[i++] != '.'))
            return false;
    }
    return i == n;
}

/* Does the host end in a number (decimal or 0x hex), so that a resolver
 * would read it as an IPv4 address in one of inet_aton's forms? */
static bool ends_in_number(const char *s, size_t n)
{
    if (n > 0 && s[n - 1] == '.')
        n--;
    size_t start = n;
    while (start > 0 && s[start - 1] != '.')
        start--;
    const char *label = s + start;
    size_t len = n - start, i = 0;
    if (len >= 2 && label[0] == '0' && (label[1] == 'x' || label[1] == 'X'))
        i = 2;
    for (size_t j = i; j < len; j++)
        if (i ? http_hex_value((unsigned char)label[j]) < 0 : !http_is_digit((unsigned char)label[j]))
            return false;
    return len > 0;
}

static int parse_name(const char *s, size_t n, struct host_parts *h)
{
    if (n == 0 || n > HTTP_URL_HOST_MAX)
        return -HTTP_E_URL_HOST;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!http_is_alpha(c) && !http_is_digit(c) && c != '-' && c != '.' && c != '_')
            return -HTTP_E_URL_HOST;
        h->host[i] = (char)http_lower(c);
    }
    h->host[n] = '\0';
    h->host_len = n;
    h->kind = HTTP_HOST_NAME;
    if (ends_in_number(s, n)) {
        if (!is_dotted_quad(s, n))
            return -HTTP_E_URL_HOST;
        h->kind = HTTP_HOST_IPV4;
    }
    return 0;
}

int http_url_authority(const char *a, size_t n, enum http_scheme scheme, struct host_parts *h)
{
    if (memchr(a, '@', n))
        return -HTTP_E_URL_USERINFO;
    const char *rest;
    int rc;
    if (n > 0 && a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (!close)
            return -HTTP_E_URL_IPV6;
        rc = parse_ipv6(a + 1, (size_t)(close - a - 1), h);
        rest = close + 1;
    } else {
        const char *colon = memchr(a, ':', n);
        size_t host_len = colon ? (size_t)(colon - a) : n;
        rc = parse_name(a, host_len, h);
        rest = a + host_len;
    }
    if (rc < 0)
        return rc;
    size_t rest_len = (size_t)(a + n - rest);
    if (rest_len == 0) {
        h->port = http_scheme_default_port(scheme);
        return 0;
    }
    if (rest[0] != ':')
        return -HTTP_E_URL_HOST;                            /* "[::1]x" */
    return parse_port(rest + 1, rest_len - 1, scheme, &h->port);
}
