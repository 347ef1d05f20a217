/* test_httpbin.c - the built-in target, route by route (httpbin.h), on a
 * server in the test's loop: the echo routes, /delay without blocking,
 * /status, /bytes, /stream, /drip, the redirect routes, /close, 404, a full
 * crawl of the generated site checked against site_links(), and httpbin on
 * threads of its own (also over TLS) as the demos use it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http/httpbin.h"
#include "http/url.h"
#include "tests/server_client.h"
#include "tests/support.h"
#include "tests/tls_certs.h"

static http_server *srv;
static int port;
static struct httpbin_opts bin;

static int server_task(void *arg)
{
    (void)arg;
    ck_assert_int_eq(server_await_run(srv, CO_NO_DEADLINE), 0);
    return 0;
}

static void with_httpbin(co_task_fn client)
{
    int fds = open_fd_count();
    co_loop *loop;
    ck_assert_int_eq(loop_new(&loop), 0);
    ck_assert_int_eq(httpbin_server_new(&bin, &srv), 0);
    port = server_port(srv);
    tc_spawn_detached(server_task, NULL);
    tc_spawn_detached(client, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    server_free(srv);
    loop_free_clean(loop, fds);
}

static int64_t dl(void) { return co_deadline_in_ms(3000); }

static void stop(void) { ck_assert_int_eq(server_await_stop(srv, 1000, dl()), 0); }

static void get(const char *target, struct tc_resp *r)
{
    ck_assert_int_eq(tc_await_request(port, NULL, "GET", target, NULL, r, dl()), 0);
}

static const char *hdr(const struct tc_resp *r, const char *name)
{
    static char buf[4][512];
    static int i;
    i = (i + 1) % 4;
    const char *v = tc_header(r, name, buf[i], sizeof buf[i]);
    return v ? v : "(none)";
}

#define ck_assert_contains(hay, needle) \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "'%s' not in:\n%s", (needle), (hay))

/* ---- echo ---- */

static int echo_client(void *arg)
{
    (void)arg;
    struct tc_resp r;
    ck_assert_int_eq(tc_await_request(port, NULL, "GET", "/get?a=1&b=x%20y+z&a=2&empty",
                                      "X-Test: yes\r\nX-Dup: 1\r\nX-Dup: 2\r\nX-Odd: caf\xe9\r\n",
                                      &r, dl()),
                     0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(hdr(&r, "Content-Type"), "application/json");
    ck_assert_contains(r.body, "\"method\": \"GET\"");
    ck_assert_contains(r.body, "\"a\": [\"1\", \"2\"]");
    ck_assert_contains(r.body, "\"b\": \"x y z\"");
    ck_assert_contains(r.body, "\"empty\": \"\"");
    ck_assert_contains(r.body, "\"X-Test\": \"yes\"");
    ck_assert_contains(r.body, "\"X-Dup\": \"1, 2\"");
    ck_assert_contains(r.body, "\"X-Odd\": \"caf\\u00e9\"");
    ck_assert_contains(r.body, "\"origin\": \"127.0.0.1\"");
    char url[128];
    snprintf(url, sizeof url, "\"url\": \"http://127.0.0.1:%d/get?a=1", port);
    ck_assert_contains(r.body, url);
    tc_resp_free(&r);
    ck_assert_int_eq(tc_await_request(port, NULL, "DELETE", "/anything/x", "Content-Length: 9\r\n",
                                      &r, dl()),
                     -HTTP_E_CLOSED);   /* 9 bytes promised, none sent: the body timeout */
    tc_resp_free(&r);
    stream *s;
    ck_assert_int_eq(tc_await_connect(port, NULL, &s, dl()), 0);
    ck_assert_int_eq(tc_await_send(s, "PATCH /anything/x HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n"
                                      "he said \"hi\"", dl()),
                     0);
    ck_assert_int_eq(tc_await_response(s, "PATCH", &r, dl()), 0);
    ck_assert_contains(r.body, "\"method\": \"PATCH\"");
    ck_assert_contains(r.body, "\"data\": \"he said \\\"hi");
    tc_resp_free(&r);
    stream_close(s);
    get("/hello", &r);
    ck_assert_str_eq(r.body, "Hello, World!\n");
    tc_resp_free(&r);
    get("/nowhere", &r);
    ck_assert_int_eq(r.status, 404);
    tc_resp_free(&r);
    stop();
    return 0;
}

START_TEST(get_and_anything_echo_the_request_as_json)
{
    bin = (struct httpbin_opts){ .server = { .body_timeout_ms = 100 } };
    with_httpbin(echo_client);
}
END_TEST

/* ---- /delay ---- */

static int delay_one(void *arg)
{
    struct tc_resp r;
    get("/delay/200", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_contains(r.body, "\"delay_ms\": 200");
    *(int *)arg = r.status;
    tc_resp_free(&r);
    return 0;
}

static int delay_client(void *arg)
{
    (void)arg;
    int status[5];
    co_task *t[5];
    int64_t t0 = tc_now_ms();
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(task_spawn(&t[i], delay_one, &status[i]), 0);
    struct tc_resp r;
    get("/hello", &r);                              /* not held up by the delays */
    ck_assert_msg(tc_now_ms() - t0 < 100, "/hello took %lld ms", (long long)(tc_now_ms() - t0));
    tc_resp_free(&r);
    ck_assert_int_eq(await_all(t, 5, NULL, dl()), 0);
    int64_t took = tc_now_ms() - t0;
    ck_assert_msg(took >= 195 && took < 400, "five /delay/200 took %lld ms", (long long)took);
    get("/delay/60001", &r);
    ck_assert_int_eq(r.status, 400);
    tc_resp_free(&r);
    stop();
    return 0;
}

START_TEST(delay_answers_late_without_blocking_others)
{
    bin = (struct httpbin_opts){ 0 };
    with_httpbin(delay_client);
}
END_TEST

/* ---- /status, /bytes, /stream, /drip ---- */

static int bodies_client(void *arg)
{
    (void)arg;
    struct tc_resp r, r2;
    get("/status/418", &r);
    ck_assert_int_eq(r.status, 418);
    tc_resp_free(&r);
    get("/status/302", &r);
    ck_assert_str_eq(hdr(&r, "Location"), "/get");
    tc_resp_free(&r);
    get("/status/429", &r);
    ck_assert_str_eq(hdr(&r, "Retry-After"), "1");
    tc_resp_free(&r);
    get("/status/abc", &r);
    ck_assert_int_eq(r.status, 400);
    tc_resp_free(&r);
    get("/status/600", &r);
    ck_assert_int_eq(r.status, 400);
    tc_resp_free(&r);

    get("/bytes/100000", &r);
    ck_assert_str_eq(hdr(&r, "Content-Length"), "100000");
    ck_assert_uint_eq(r.body_len, 100000);
    get("/bytes/100000", &r2);
    ck_assert_int_eq(memcmp(r.body, r2.body, 100000), 0);      /* the same every time */
    tc_resp_free(&r2);
    get("/bytes/100000?seed=7", &r2);
    ck_assert_int_ne(memcmp(r.body, r2.body, 100000), 0);      /* another seed, other bytes */
    tc_resp_free(&r2);
    tc_resp_free(&r);
    get("/bytes/0", &r);
    ck_assert_uint_eq(r.body_len, 0);
    tc_resp_free(&r);

    get("/stream/5", &r);
    ck_assert_int_eq(r.framing, HTTP_FRAMING_CHUNKED);
    ck_assert_contains(r.body, "{\"id\": 0, \"url\": \"/stream/5\"}\n");
    ck_assert_contains(r.body, "{\"id\": 4,");
    ck_assert_ptr_null(strstr(r.body, "\"id\": 5"));
    tc_resp_free(&r);

    int64_t t0 = tc_now_ms();
    get("/drip?bytes=5&duration=300", &r);
    int64_t took = tc_now_ms() - t0;
    ck_assert_str_eq(r.body, "*****");
    ck_assert_str_eq(hdr(&r, "Content-Length"), "5");
    ck_assert_msg(took >= 290 && took < 600, "drip took %lld ms", (long long)took);
    tc_resp_free(&r);
    t0 = tc_now_ms();
    get("/drip?bytes=100000&duration=100&delay=50&code=201", &r);
    took = tc_now_ms() - t0;
    ck_assert_int_eq(r.status, 201);
    ck_assert_uint_eq(r.body_len, 100000);
    ck_assert_msg(took >= 145 && took < 500, "drip took %lld ms", (long long)took);
    tc_resp_free(&r);
    stop();
    return 0;
}

START_TEST(status_bytes_stream_and_drip)
{
    bin = (struct httpbin_opts){ 0 };
    with_httpbin(bodies_client);
}
END_TEST

/* ---- redirects and cut responses ---- */

static int redirect_client(void *arg)
{
    (void)arg;
    struct tc_resp r;
    char target[64] = "/redirect/3", want[128];
    for (int hops = 0; hops < 3; hops++) {
        get(target, &r);
        ck_assert_int_eq(r.status, 302);
        snprintf(target, sizeof target, "%s", hdr(&r, "Location"));
        tc_resp_free(&r);
    }
    ck_assert_str_eq(target, "/get");
    get("/absolute-redirect/2", &r);
    snprintf(want, sizeof want, "http://127.0.0.1:%d/absolute-redirect/1", port);
    ck_assert_str_eq(hdr(&r, "Location"), want);
    tc_resp_free(&r);
    get("/redirect-to?url=http%3A%2F%2Fexample.com%2Fx&status_code=301", &r);
    ck_assert_int_eq(r.status, 301);
    ck_assert_str_eq(hdr(&r, "Location"), "http://example.com/x");
    tc_resp_free(&r);
    get("/redirect-to?url=%2Fa%0D%0ASet-Cookie%3A%20x%3D1", &r);   /* header injection */
    ck_assert_int_eq(r.status, 400);
    ck_assert_str_eq(hdr(&r, "Set-Cookie"), "(none)");
    tc_resp_free(&r);

    ck_assert_int_eq(tc_await_request(port, NULL, "GET", "/close", NULL, &r, dl()), -HTTP_E_INCOMPLETE);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_len, 512);
    tc_resp_free(&r);
    ck_assert_int_eq(tc_await_request(port, NULL, "GET", "/close?after=-1", NULL, &r, dl()),
                     -HTTP_E_CLOSED);
    tc_resp_free(&r);
    int rc = tc_await_request(port, NULL, "GET", "/close?bytes=100&after=10&reset=1", NULL, &r, dl());
    ck_assert_msg(rc == -ECONNRESET || rc == -HTTP_E_INCOMPLETE, "rc %d", rc);
    tc_resp_free(&r);
    stop();
    return 0;
}

START_TEST(redirect_chains_and_responses_cut_short)
{
    bin = (struct httpbin_opts){ 0 };
    with_httpbin(redirect_client);
}
END_TEST

/* ---- the site: crawl it all and compare with the generator ---- */

#define CRAWL_MAX 1024

struct crawl {
    stream *s;
    char *seen[CRAWL_MAX];      /* every path queued or fetched so far */
    bool fetched[CRAWL_MAX];    /* fetched while following redirects: not again */
    int nseen, next;            /* the queue is seen[next..nseen) */
    int ok, not_found, private_skipped, loops, redirects;
};

static bool seen(struct crawl *c, const char *path)
{
    for (int i = 0; i < c->nseen; i++)
        if (strcmp(c->seen[i], path) == 0)
            return true;
    return false;
}

static void enqueue(struct crawl *c, const char *path, bool fetched)
{
    if (!seen(c, path) && c->nseen < CRAWL_MAX) {
        c->fetched[c->nseen] = fetched;
        c->seen[c->nseen++] = strdup(path);
    }
}

/* Resolve href against http://127.0.0.1:PORT + base into path.  False if
 * it leaves the origin. */
static bool resolve(const char *base_path, const char *href, size_t len, char *path, size_t cap)
{
    char base_url[256];
    struct http_url base, u;
    snprintf(base_url, sizeof base_url, "http://127.0.0.1:%d%s", port, base_path);
    ck_assert_int_eq(http_url_parse(&base, base_url, strlen(base_url)), 0);
    ck_assert_int_eq(http_url_resolve(&u, &base, href, len), 0);
    bool same = http_url_same_origin(&u, &base);
    snprintf(path, cap, "%s", u.target);
    http_url_fini(&u);
    http_url_fini(&base);
    return same;
}

static void fetch(struct crawl *c, const char *path, struct tc_resp *r)
{
    char req[400];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", path, port);
    ck_assert_int_eq(tc_await_send(c->s, req, dl()), 0);
    ck_assert_int_eq(tc_await_response(c->s, "GET", r, dl()), 0);
}

static void visit(struct crawl *c, const char *start)
{
    char path[256], chain[8][256];
    int hops = 0;
    snprintf(path, sizeof path, "%s", start);
    for (;;) {
        struct tc_resp r;
        fetch(c, path, &r);
        snprintf(chain[hops++], sizeof chain[0], "%s", path);
        if (r.status == 301 || r.status == 302) {
            c->redirects++;
            char loc[256], next[256];
            const char *l = tc_header(&r, "Location", loc, sizeof loc);
            ck_assert_ptr_nonnull(l);
            ck_assert(resolve(path, l, strlen(l), next, sizeof next));
            tc_resp_free(&r);
            bool loop = false;
            for (int i = 0; i < hops; i++)
                loop |= strcmp(chain[i], next) == 0;
            if (loop) {
                c->loops++;
                return;
            }
            if (seen(c, next) || hops == 8)
                return;
            enqueue(c, next, true);     /* fetched here, in the chain */
            snprintf(path, sizeof path, "%s", next);
            continue;
        }
        if (r.status == 404)
            c->not_found++;
        if (r.status == 200) {
            c->ok++;
            for (const char *h = r.body; (h = strstr(h, "href=\"")); ) {
                h += 6;
                const char *end = strchr(h, '"');
                char target[256];
                if (resolve(path, h, (size_t)(end - h), target, sizeof target))
                    enqueue(c, target, false);
                h = end;
            }
        }
        tc_resp_free(&r);
        return;
    }
}

static int crawl_client(void *arg)
{
    (void)arg;
    static struct crawl c;
    struct tc_resp r;
    get("/robots.txt", &r);
    ck_assert_contains(r.body, "Disallow: /site/private/");
    tc_resp_free(&r);
    ck_assert_int_eq(tc_await_connect(port, NULL, &c.s, dl()), 0);   /* one keep-alive connection */
    enqueue(&c, "/site/", false);
    while (c.next < c.nseen) {
        if (c.fetched[c.next]) {
            c.next++;
            continue;
        }
        const char *path = c.seen[c.next++];
        if (strncmp(path, "/site/private/", 14) == 0) {
            c.private_skipped++;
            continue;
        }
        visit(&c, path);
    }
    stream_close(c.s);
    /* what the generator says: every page and the index answer 200 once; the
     * broken and private links, and the one loop, are as site_links lists */
    int missing = 0, private_n = 0, loops = 0;
    static char distinct[CRAWL_MAX][48];
    int nd = 0;
    for (int p = -1; p < 50; p++) {
        struct site_link links[SITE_LINKS_MAX];
        size_t n = site_links(bin.site_seed, bin.site_pages, p, links);
        for (size_t i = 0; i < n; i++) {
            bool dup = false;
            for (int j = 0; j < nd && !dup; j++)
                dup = strcmp(distinct[j], links[i].path) == 0;
            if (dup)
                continue;
            snprintf(distinct[nd++], sizeof distinct[0], "%s", links[i].path);
            missing += links[i].kind == SITE_LINK_MISSING;
            private_n += links[i].kind == SITE_LINK_PRIVATE;
            loops += links[i].kind == SITE_LINK_LOOP;
        }
    }
    ck_assert_int_eq(c.ok, 50 + 1);
    ck_assert_int_eq(c.not_found, missing);
    ck_assert_int_eq(c.private_skipped, private_n);
    ck_assert_int_eq(c.loops, loops);
    ck_assert_int_eq(loops, 1);
    ck_assert_int_gt(missing, 0);
    ck_assert_int_gt(c.redirects, 2);
    struct server_stats st;
    server_get_stats(srv, &st);
    ck_assert_uint_eq(st.accepted, 2);              /* robots.txt, then the crawl's one connection */
    for (int i = 0; i < c.nseen; i++)
        free(c.seen[i]);
    stop();
    return 0;
}

START_TEST(the_site_crawls_to_what_the_generator_says)
{
    bin = (struct httpbin_opts){ .site_pages = 50, .site_seed = 3 };
    with_httpbin(crawl_client);
}
END_TEST

START_TEST(site_pages_have_titles_and_five_to_ten_page_links)
{
    for (int p = 0; p < HTTPBIN_SITE_PAGES_DEFAULT; p++) {
        struct site_link links[SITE_LINKS_MAX];
        size_t n = site_links(0, 0, p, links), pages = 0;
        for (size_t i = 0; i < n; i++)
            pages += links[i].kind == SITE_LINK_PAGE;
        ck_assert_uint_ge(pages, 5);
        ck_assert_uint_le(pages, 10);
        char want[48], title[64];
        snprintf(want, sizeof want, "/site/page/%d", (p + 1) % HTTPBIN_SITE_PAGES_DEFAULT);
        ck_assert_str_eq(links[0].path, want);              /* next: every page is reachable */
        snprintf(want, sizeof want, "Page %d: ", p);
        ck_assert_int_eq(strncmp(site_title(0, p, title, sizeof title), want, strlen(want)), 0);
    }
}
END_TEST

/* ---- on threads of its own ---- */

static int thread_port;
static tls_ctx *client_tls;

static int thread_client(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10; i++) {
        struct tc_resp r;
        ck_assert_int_eq(tc_await_request(thread_port, client_tls, "GET", "/get?i=1", NULL, &r, dl()), 0);
        ck_assert_int_eq(r.status, 200);
        ck_assert_contains(r.body, client_tls ? "\"url\": \"https://" : "\"url\": \"http://");
        tc_resp_free(&r);
    }
    return 0;
}

static void run_thread_mode(tls_ctx *server_tls)
{
    int fds = open_fd_count();
    httpbin_thread *h;
    struct httpbin_opts o = { .server = { .tls = server_tls }, .threads = 2 };
    ck_assert_int_eq(httpbin_start_thread(&o, &h), 0);
    thread_port = httpbin_thread_port(h);
    co_loop *loop;
    ck_assert_int_eq(loop_new(&loop), 0);
    tc_spawn_detached(thread_client, NULL);
    ck_assert_int_eq(loop_run(loop), 0);
    struct server_stats st;
    httpbin_thread_stats(h, &st);
    ck_assert_uint_eq(st.requests, 10);
    ck_assert_int_eq(httpbin_stop_thread(h, 1000, &st), 0);
    ck_assert_uint_eq(st.accepted, 10);
    ck_assert_uint_eq(st.open, 0);
    loop_free_clean(loop, fds);
}

START_TEST(httpbin_on_threads_of_its_own)
{
    run_thread_mode(NULL);
}
END_TEST

START_TEST(httpbin_on_threads_over_tls)
{
    struct test_pki pki;
    ck_assert_int_eq(test_pki_make(&pki), 0);
    struct tls_server_opts so = { .cert_pem = pki.good.cert_pem, .key_pem = pki.good.key_pem };
    struct tls_client_opts co = { .ca_pem = pki.ca_pem };
    tls_ctx *sctx;
    ck_assert_int_eq(tls_ctx_new_server(&so, &sctx, NULL), 0);
    ck_assert_int_eq(tls_ctx_new_client(&co, &client_tls, NULL), 0);
    run_thread_mode(sctx);
    tls_ctx_free(sctx);
    tls_ctx_free(client_tls);
    client_tls = NULL;
    test_pki_free(&pki);
}
END_TEST

static Suite *httpbin_suite(void)
{
    Suite *s = suite_create("httpbin");
    TCase *tc = tcase_create("httpbin");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, get_and_anything_echo_the_request_as_json);
    tcase_add_test(tc, delay_answers_late_without_blocking_others);
    tcase_add_test(tc, status_bytes_stream_and_drip);
    tcase_add_test(tc, redirect_chains_and_responses_cut_short);
    tcase_add_test(tc, the_site_crawls_to_what_the_generator_says);
    tcase_add_test(tc, site_pages_have_titles_and_five_to_ten_page_links);
    tcase_add_test(tc, httpbin_on_threads_of_its_own);
    tcase_add_test(tc, httpbin_on_threads_over_tls);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(httpbin_suite)
