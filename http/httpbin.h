/* httpbin.h - coloop's built-in test target: httpbin-like routes on the
 * server of server.h, so every demo, test and benchmark runs offline and
 * gives the same answers every time.
 *
 * Three ways to run it:
 *   - in a loop you already run (tests): httpbin_server_new() + a task in
 *     server_await_run();
 *   - on threads of its own, beside a client that has its own loop (demos):
 *     httpbin_start_thread() / httpbin_stop_thread();
 *   - as a program: build/demos/coloop-httpbin.
 *
 * Routes (every number is a decimal in the path or the query):
 *   /get                 JSON echo: method, url, args (query), headers, origin
 *   /anything[/...]      the same, plus the request body as "data"
 *   /hello               "Hello, World!\n" (the benchmarks' small response)
 *   /delay/MS            /get's answer after MS ms (<= 60000), without
 *                        blocking anything else
 *   /status/CODE         that status (200..599), empty body; 3xx with
 *                        Location: /get, 429/503 with Retry-After: 1
 *   /bytes/N             N bytes (<= 64 MiB), Content-Length; ?seed=S picks
 *                        the byte pattern (deterministic)
 *   /stream/N            N JSON lines (<= 100000), one chunk each, chunked
 *   /drip?bytes=N&duration=MS&delay=MS&code=C
 *                        N bytes of '*' spread over MS ms (Content-Length),
 *                        after an initial delay
 *   /redirect/N          302 to /redirect/N-1 ... /redirect/1 -> /get
 *   /absolute-redirect/N the same with absolute URLs (from Host)
 *   /redirect-to?url=U&status_code=C   one redirect to U (302 default)
 *   /close?bytes=N&after=K&reset=1     declares N bytes (1024), sends K of
 *                        them (N/2; -1: not even the head), then closes
 *                        (with a RST when reset=1): a body cut short
 *   /robots.txt          disallows /site/private/
 *   /site/...            a generated web site for the scraper (below)
 * Anything else is 404.
 *
 * The site: /site/ (the index) and /site/page/0 .. /site/page/N-1, each
 * with a <title> and 5-10 links to other pages (next and previous, so every
 * page is reachable and there are cycles, plus random ones), written in
 * every form a crawler must resolve: "/site/page/7", "7", "../page/7",
 * "7#top", "http://HOST/site/page/7".  Some pages also link to
 * /site/missing/K (404), /site/moved/K (301 -> page K), /site/temp/K (302
 * -> page K), /site/private/K (a page robots.txt disallows), and one to
 * /site/loop/a (a -> b -> a, a redirect loop).  All of it is a function of
 * (seed, pages): site_links() gives a crawler's test the expected graph.
 */
#ifndef COLOOP_HTTP_HTTPBIN_H
#define COLOOP_HTTP_HTTPBIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "http/server.h"

#define HTTPBIN_SITE_PAGES_DEFAULT 200
#define HTTPBIN_DELAY_MAX_MS 60000

struct httpbin_opts {
    struct server_opts server;  /* address, TLS, limits, timeouts, max_concurrent, ...;
                                   handler and handler_arg are httpbin's own */
    int threads;                /* httpbin_start_thread: loops on threads; 0 = 1 */
    unsigned site_pages;        /* pages of the site; 0 = HTTPBIN_SITE_PAGES_DEFAULT */
    uint32_t site_seed;         /* the site's seed; 0 = 1 */
    FILE *log;                  /* one line per request ("GET /get 200"), or NULL */
};

/* The router: a server_handler_fn whose arg is a const struct httpbin_opts *
 * (defaults applied as it reads them).  Suspends (as handlers do).  0, or a
 * write error of the response. */
int httpbin_handle(const struct server_request *req, server_response *resp, void *arg);

/* server_new() with opts->server and the httpbin router.  opts must outlive
 * the server.  Never suspends.  As server_new(). */
int httpbin_server_new(const struct httpbin_opts *opts, http_server **out);

/* httpbin on opts->threads threads of its own (server_threads_start), for a
 * program whose own loop is busy being the client.  opts is copied.  Blocks
 * until it listens.  0 and *out (the caller's: httpbin_stop_thread()), or as
 * server_threads_start(). */
typedef struct httpbin_thread httpbin_thread;
int httpbin_start_thread(const struct httpbin_opts *opts, httpbin_thread **out);

/* The port it listens on. */
int httpbin_thread_port(const httpbin_thread *h);

/* Its counters (all threads added up).  Any thread. */
void httpbin_thread_stats(const httpbin_thread *h, struct server_stats *out);

/* Graceful stop (server_stop(grace_ms) on every thread), join, free.
 * *final (may be NULL) gets the last counters.  Blocks the caller.  0 or the
 * first run error. */
int httpbin_stop_thread(httpbin_thread *h, int64_t grace_ms, struct server_stats *final);

/* ---- the generated site ---- */

enum site_link_kind {
    SITE_LINK_PAGE,             /* /site/page/K: 200 */
    SITE_LINK_MISSING,          /* /site/missing/K: 404 */
    SITE_LINK_MOVED,            /* /site/moved/K: 301 to /site/page/K */
    SITE_LINK_TEMP,             /* /site/temp/K: 302 to /site/page/K */
    SITE_LINK_PRIVATE,          /* /site/private/K: 200, but robots.txt disallows it */
    SITE_LINK_LOOP              /* /site/loop/a: 302 to /site/loop/b, which 302s back */
};

enum site_link_form {
    SITE_FORM_PATH,             /* "/site/page/7" */
    SITE_FORM_RELATIVE,         /* "7" (relative to /site/page/K) */
    SITE_FORM_DOTDOT,           /* "../page/7" */
    SITE_FORM_FRAGMENT,         /* "7#top" */
    SITE_FORM_ABSOLUTE          /* "http://HOST/site/page/7" */
};

struct site_link {
    enum site_link_kind kind;   /* what is at the other end */
    enum site_link_form form;   /* how the page writes it */
    int page;                   /* K in the path (-1 for the loop) */
    char path[48];              /* the absolute path it resolves to: "/site/page/7" */
};

#define SITE_LINKS_MAX 16

/* The links of page `page` (0..pages-1, or -1 for the index /site/) of the
 * site made from seed (0 = 1) and pages (0 = the default), in the order the
 * page shows them.  Returns how many (<= SITE_LINKS_MAX), 0 for a page that
 * does not exist.  Never suspends. */
size_t site_links(uint32_t seed, unsigned pages, int page, struct site_link out[SITE_LINKS_MAX]);

/* The href page `from` (-1: the index) writes for link l; origin is
 * "http://127.0.0.1:8080" (for SITE_FORM_ABSOLUTE).  Returns buf. */
const char *site_link_href(const struct site_link *l, int from, const char *origin, char *buf,
                           size_t len);

/* The title of page `page` (-1: the index) into buf.  Returns buf. */
const char *site_title(uint32_t seed, int page, char *buf, size_t len);

#endif
