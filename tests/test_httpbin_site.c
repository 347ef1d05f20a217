/* test_httpbin_site.c - the generated web site under /site/: its pages
 * have titles and 5-10 links to other pages, and a crawl over HTTP (robots.txt
 * obeyed, links resolved with http/url.h in every form they are written,
 * redirects followed, duplicates dropped) finds exactly what site_links()
 * says is there: every page once, the broken links, the private pages, the
 * one redirect loop.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http/httpbin.h"
#include "http/url.h"
#include "tests/server_client.h"
#include "tests/support.h"

static struct httpbin_opts bin;

#define ck_assert_contains(hay, needle) \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "'%s' not in:\n%s", (needle), (hay))

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
    snprintf(base_url, sizeof base_url, "http://127.0.0.1:%d%s", tc_port, base_path);
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
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", path, tc_port);
    ck_assert_int_eq(tc_await_send(c->s, req, tc_dl()), 0);
    ck_assert_int_eq(tc_await_response(c->s, "GET", r, tc_dl()), 0);
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
    ck_assert_int_eq(tc_await_request(tc_port, NULL, "GET", "/robots.txt", NULL, &r, tc_dl()), 0);
    ck_assert_contains(r.body, "Disallow: /site/private/");
    tc_resp_free(&r);
    ck_assert_int_eq(tc_await_connect(tc_port, NULL, &c.s, tc_dl()), 0);   /* one keep-alive connection */
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
    server_get_stats(tc_server, &st);
    ck_assert_uint_eq(st.accepted, 2);              /* robots.txt, then the crawl's one connection */
    for (int i = 0; i < c.nseen; i++)
        free(c.seen[i]);
    tc_stop_server();
    return 0;
}

START_TEST(the_site_crawls_to_what_the_generator_says)
{
    bin = (struct httpbin_opts){ .site_pages = 50, .site_seed = 3 };
    struct server_opts o = { .handler = httpbin_handle, .handler_arg = &bin };
    tc_with_server(&o, crawl_client, NULL);
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

static Suite *httpbin_site_suite(void)
{
    Suite *s = suite_create("httpbin_site");
    TCase *tc = tcase_create("httpbin_site");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, the_site_crawls_to_what_the_generator_says);
    tcase_add_test(tc, site_pages_have_titles_and_five_to_ten_page_links);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(httpbin_site_suite)
