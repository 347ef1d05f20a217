/* url_internal.h - what url.c (splitting, resolving, writing) and
 * url_host.c (checking the authority) share; not for callers. */
#ifndef COLOOP_HTTP_URL_INTERNAL_H
#define COLOOP_HTTP_URL_INTERNAL_H

#include "http/url.h"

/* The checked authority. */
struct host_parts {
    enum http_host_kind kind;
    char host[HTTP_URL_HOST_MAX + 1];   /* lowercased name, dotted quad, or canonical IPv6 */
    size_t host_len;                    /* bytes in host */
    uint16_t port;                      /* explicit, or the scheme's default */
};

/* Check the authority a[0..n) ("host", "host:port", "[v6]:port") of a URL
 * with this scheme and fill *h.  0, or -HTTP_E_URL_USERINFO,
 * -HTTP_E_URL_HOST, -HTTP_E_URL_IPV6, -HTTP_E_URL_PORT. */
int http_url_authority(const char *a, size_t n, enum http_scheme scheme, struct host_parts *h);

#endif
