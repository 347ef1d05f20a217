/* parsebench.c - how fast is the HTTP/1.1 parser (http/parse.h)?
 *
 * Three figures, each the best of a few half-second runs on one core:
 *   - a typical response: a ~500-byte head and a 10 KiB Content-Length
 *     body, in MB/s of input (head + body) and responses/s;
 *   - the same body chunked in 1 KiB chunks;
 *   - a small request head (what a server parses per request), requests/s.
 * The parser copies nothing, so a body costs a span per call; the head is
 * where the time goes.  Usage: parsebench [seconds-per-run, default 0.5]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/parse.h"

#define RUNS 3              /* best of */
#define BODY_BYTES (10 * 1024)
#define CHUNK_BYTES 1024

static struct http_header fields[HTTP_FIELDS_DEFAULT];

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static const char head_fields[] =
    "Date: Mon, 27 Jul 2025 12:28:53 GMT\r\n"
    "Server: Apache/2.4.57 (Debian)\r\n"
    "Last-Modified: Wed, 22 Jul 2025 19:15:56 GMT\r\n"
    "ETag: \"34aa387-d-1568eb00\"\r\n"
    "Accept-Ranges: bytes\r\n"
    "Vary: Accept-Encoding\r\n"
    "Cache-Control: public, max-age=3600\r\n"
    "Content-Type: text/html; charset=UTF-8\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Strict-Transport-Security: max-age=63072000; includeSubDomains\r\n"
    "Set-Cookie: session=38afes7a8; HttpOnly; Path=/; Max-Age=86400\r\n"
    "Connection: keep-alive\r\n";

/* Build "HTTP/1.1 200 OK" + fields + framing + body; returns its length. */
static size_t build_response(char *out, bool chunked)
{
    size_t n = (size_t)sprintf(out, "HTTP/1.1 200 OK\r\n%s", head_fields);
    if (!chunked) {
        n += (size_t)sprintf(out + n, "Content-Length: %d\r\n\r\n", BODY_BYTES);
        memset(out + n, 'b', BODY_BYTES);
        return n + BODY_BYTES;
    }
    n += (size_t)sprintf(out + n, "Transfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < BODY_BYTES / CHUNK_BYTES; i++) {
        n += (size_t)sprintf(out + n, "%x\r\n", CHUNK_BYTES);
        memset(out + n, 'b', CHUNK_BYTES);
        n += CHUNK_BYTES;
        n += (size_t)sprintf(out + n, "\r\n");
    }
    return n + (size_t)sprintf(out + n, "0\r\n\r\n");
}

/* Parse one whole message from msg; returns body bytes seen (or -1). */
static long parse_one(struct http_parser *p, const char *msg, size_t len)
{
    int n = http_parse_head(p, msg, len);
    if (n <= 0)
        return -1;
    size_t off = (size_t)n;
    long body = 0;
    struct http_span span;
    while (!http_parser_done(p)) {
        int k = http_parse_body(p, msg + off, len - off, &span);
        if (k <= 0)
            return -1;
        body += (long)span.len;
        off += (size_t)k;
    }
    return body;
}

/* Messages per second parsing msg over and over, best of RUNS. */
static double rate(enum http_role role, const char *msg, size_t len, double seconds)
{
    double best = 0;
    for (int r = 0; r < RUNS; r++) {
        struct http_parser p;
        http_parser_init(&p, role, NULL, fields, HTTP_FIELDS_DEFAULT);
        long count = 0;
        double start = now(), elapsed;
        do {
            for (int i = 0; i < 1000; i++)
                if (parse_one(&p, msg, len) < 0) {
                    fprintf(stderr, "parsebench: the sample message did not parse\n");
                    exit(1);
                }
            count += 1000;
        } while ((elapsed = now() - start) < seconds);
        if (count / elapsed > best)
            best = (double)count / elapsed;
    }
    return best;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 0.5;
    static char msg[BODY_BYTES + 4096];
    static const char request[] = "GET /index.html?page=2 HTTP/1.1\r\nHost: www.example.com\r\n"
                                  "User-Agent: coloop/0.1\r\nAccept: text/html,*/*;q=0.8\r\n"
                                  "Accept-Encoding: identity\r\nConnection: keep-alive\r\n\r\n";
    printf("HTTP/1.1 parser, one core, best of %d runs of %.1f s\n\n", RUNS, seconds);

    size_t len = build_response(msg, false);
    size_t head = len - BODY_BYTES;
    double r = rate(HTTP_ROLE_RESPONSE, msg, len, seconds);
    printf("  response, %zu-byte head + %d-byte body:  %8.0f responses/s  %7.0f MB/s  (%.0f ns per head)\n",
           head, BODY_BYTES, r, r * (double)len / 1e6, 1e9 / r);

    len = build_response(msg, true);
    r = rate(HTTP_ROLE_RESPONSE, msg, len, seconds);
    printf("  same body in %d-byte chunks (%zu bytes):  %8.0f responses/s  %7.0f MB/s\n", CHUNK_BYTES, len, r,
           r * (double)len / 1e6);

    r = rate(HTTP_ROLE_REQUEST, request, sizeof request - 1, seconds);
    printf("  request head, %zu bytes:                   %8.0f requests/s   %7.0f MB/s  (%.0f ns each)\n",
           sizeof request - 1, r, r * (double)(sizeof request - 1) / 1e6, 1e9 / r);
    return 0;
}
