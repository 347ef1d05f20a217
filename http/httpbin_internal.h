/* httpbin_internal.h - what the built-in target's files share: httpbin.c
 * (the router and most routes), httpbin_echo.c (request helpers, the JSON
 * echo) and site.c (the generated web site). */
#ifndef COLOOP_HTTP_HTTPBIN_INTERNAL_H
#define COLOOP_HTTP_HTTPBIN_INTERNAL_H

#include <stdbool.h>

#include "http/httpbin.h"

/* Serve /robots.txt and /site/...  Suspends.  0 or a write error. */
int site_await_handle(const struct httpbin_opts *o, const struct server_request *req,
                      server_response *resp);

/* s[0..n) as a decimal in 0..max: true and *out, or false. */
bool httpbin_number(const char *s, size_t n, long max, long *out);

/* "http://HOST" or "https://HOST" from the request's Host field (or the
 * server's address when it has none or it looks wrong) into buf. */
const char *httpbin_origin(const struct server_request *req, char *buf, size_t len);

/* The decoded value of query parameter `name` in buf (len bytes), or NULL
 * (absent, or longer than buf). */
const char *httpbin_query_get(const struct server_request *req, const char *name, char *buf,
                              size_t len);

/* A numeric query parameter in -1..max, def when absent: true and *out, or
 * false if it is not a number in range. */
bool httpbin_query_long(const struct server_request *req, const char *name, long def, long max,
                        long *out);

/* The echo answer as JSON: method, url, args, headers, origin; the body as
 * "data" if with_data; "delay_ms" if delay_ms >= 0.  Suspends.  0 or a
 * write error. */
int httpbin_await_echo(const struct server_request *req, server_response *resp, bool with_data,
                       long delay_ms);

/* Answer status with a short text/plain body.  Suspends.  0 or a write error. */
int httpbin_await_text(server_response *resp, int status, const char *text);

#endif
