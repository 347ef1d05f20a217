/* site.c - the generated web site under /site/ that the scraper crawls: a
 * deterministic graph of pages from (seed, pages), rendered as small HTML
 * pages, with the traps a crawler must handle (httpbin.h lists them):
 * cycles, one page under several spellings of its URL, broken links,
 * permanent and temporary redirects, a redirect loop, and a robots.txt.
 *
 * Nothing is stored: each page's links come from a small random generator
 * seeded with (seed, page), so the server and a test can both compute them
 * (site_links) and a crawler's result can be checked exactly.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "http/httpbin_internal.h"

static const char *const words[16] = {
    "amber", "basalt", "cedar", "delta", "ember", "fjord", "granite", "harbor",
    "indigo", "juniper", "kestrel", "lagoon", "meadow", "nimbus", "orchid", "prairie",
};

/* xorshift32, seeded from (seed, page) so that every page has its own stream. */
static uint32_t rng_seed(uint32_t seed, int page)
{
    uint32_t x = seed * 2654435761u ^ (uint32_t)(page + 2) * 40503u;
    return x ? x : 1;
}

static uint32_t rng_next(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

static void defaults(uint32_t *seed, unsigned *pages)
{
    if (*seed == 0)
        *seed = 1;
    if (*pages == 0)
        *pages = HTTPBIN_SITE_PAGES_DEFAULT;
}

static void add(struct site_link *out, size_t *n, enum site_link_kind kind,
                enum site_link_form form, int page)
{
    static const char *const dirs[] = { "page", "missing", "moved", "temp", "private" };
    struct site_link *l = &out[(*n)++];
    l->kind = kind;
    l->form = form;
    l->page = page;
    if (kind == SITE_LINK_LOOP)
        snprintf(l->path, sizeof l->path, "/site/loop/a");
    else
        snprintf(l->path, sizeof l->path, "/site/%s/%d", dirs[kind], page);
}

size_t site_links(uint32_t seed, unsigned pages, int page, struct site_link out[SITE_LINKS_MAX])
{
    defaults(&seed, &pages);
    size_t n = 0;
    if (page < -1 || page >= (int)pages)
        return 0;
    if (page == -1) {                       /* the index: the first pages, and a private one */
        for (int k = 0; k < 5 && k < (int)pages; k++)
            add(out, &n, SITE_LINK_PAGE, SITE_FORM_PATH, k);
        add(out, &n, SITE_LINK_PRIVATE, SITE_FORM_PATH, 0);
        return n;
    }
    uint32_t x = rng_seed(seed, page);
    int np = (int)pages;
    add(out, &n, SITE_LINK_PAGE, (enum site_link_form)(rng_next(&x) % 5), (page + 1) % np);
    add(out, &n, SITE_LINK_PAGE, (enum site_link_form)(rng_next(&x) % 5), (page + np - 1) % np);
    int extra = 3 + (int)(rng_next(&x) % 6);
    for (int i = 0; i < extra; i++) {
        int j = (int)(rng_next(&x) % pages);
        if (j == page)
            j = (j + np / 2) % np;
        add(out, &n, SITE_LINK_PAGE, (enum site_link_form)(rng_next(&x) % 5), j);
    }
    enum site_link_form special = rng_next(&x) % 2 ? SITE_FORM_PATH : SITE_FORM_ABSOLUTE;
    uint32_t r = rng_next(&x) % 20;
    int j = (int)(rng_next(&x) % pages);
    if (r < 2)
        add(out, &n, SITE_LINK_MISSING, special, page);
    else if (r < 4)
        add(out, &n, SITE_LINK_MOVED, special, j);
    else if (r < 6)
        add(out, &n, SITE_LINK_TEMP, special, j);
    else if (r == 6)
        add(out, &n, SITE_LINK_PRIVATE, special, page);
    if (page == (int)(seed % pages))
        add(out, &n, SITE_LINK_LOOP, SITE_FORM_PATH, -1);
    return n;
}

const char *site_link_href(const struct site_link *l, int from, const char *origin, char *buf,
                           size_t len)
{
    enum site_link_form form = l->form;
    if (from < 0 && form != SITE_FORM_ABSOLUTE)
        form = SITE_FORM_PATH;              /* relative forms are written for /site/page/K */
    switch (form) {
    case SITE_FORM_RELATIVE:
        snprintf(buf, len, "%d", l->page);
        break;
    case SITE_FORM_DOTDOT:
        snprintf(buf, len, "../page/%d", l->page);
        break;
    case SITE_FORM_FRAGMENT:
        snprintf(buf, len, "%d#top", l->page);
        break;
    case SITE_FORM_ABSOLUTE:
        snprintf(buf, len, "%s%s", origin, l->path);
        break;
    case SITE_FORM_PATH:
    default:
        snprintf(buf, len, "%s", l->path);
        break;
    }
    return buf;
}

const char *site_title(uint32_t seed, int page, char *buf, size_t len)
{
    if (seed == 0)
        seed = 1;
    if (page < 0) {
        snprintf(buf, len, "coloop test site");
        return buf;
    }
    uint32_t x = rng_seed(seed ^ 0x5bd1e995u, page);
    const char *a = words[rng_next(&x) % 16], *b = words[rng_next(&x) % 16];
    snprintf(buf, len, "Page %d: %s %s", page, a, b);
    return buf;
}

/* Render page `page` (-1: the index) into buf; returns its length. */
static size_t render(const struct httpbin_opts *o, const struct server_request *req, int page,
                     char *buf, size_t cap)
{
    char title[64], origin[300], href[400];
    site_title(o->site_seed, page, title, sizeof title);
    httpbin_origin(req, origin, sizeof origin);
    struct site_link links[SITE_LINKS_MAX];
    size_t n = site_links(o->site_seed, o->site_pages, page, links);
    size_t len = (size_t)snprintf(buf, cap,
                                  "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                                  "<title>%s</title></head>\n<body><h1 id=\"top\">%s</h1>\n"
                                  "<p>A page of the coloop test site.</p>\n<ul>\n",
                                  title, title);
    for (size_t i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "<li><a href=\"%s\">%s</a></li>\n",
                                site_link_href(&links[i], page, origin, href, sizeof href),
                                links[i].path);
    if (len < cap)
        len += (size_t)snprintf(buf + len, cap - len, "</ul></body></html>\n");
    return len < cap ? len : cap - 1;
}

static int await_html(server_response *resp, int status, const char *html, size_t len)
{
    resp_set_status(resp, status);
    resp_add_header(resp, "Content-Type", "text/html; charset=utf-8");
    return resp_await_send(resp, html, len, CO_NO_DEADLINE);
}

static int await_moved(server_response *resp, int status, const char *location)
{
    resp_set_status(resp, status);
    resp_add_header(resp, "Location", location);
    return resp_await_send(resp, "", 0, CO_NO_DEADLINE);
}

/* "/site/DIR/K" with K < pages: true and *k. */
static bool site_path(const struct server_request *req, const char *dir, unsigned pages, long *k)
{
    char prefix[32];
    size_t n = (size_t)snprintf(prefix, sizeof prefix, "/site/%s/", dir);
    return req->path_len > n && memcmp(req->path, prefix, n) == 0 &&
           httpbin_number(req->path + n, req->path_len - n, (long)pages - 1, k);
}

static bool is(const struct server_request *req, const char *path)
{
    return req->path_len == strlen(path) && memcmp(req->path, path, req->path_len) == 0;
}

int site_await_handle(const struct httpbin_opts *o, const struct server_request *req,
                      server_response *resp)
{
    uint32_t seed = o->site_seed;
    unsigned pages = o->site_pages;
    defaults(&seed, &pages);
    struct httpbin_opts d = *o;
    d.site_seed = seed;
    d.site_pages = pages;
    char html[4096], to[64];
    long k;
    if (is(req, "/robots.txt")) {
        static const char robots[] = "User-agent: *\nDisallow: /site/private/\n";
        return httpbin_await_text(resp, 200, robots);
    }
    if (is(req, "/site"))
        return await_moved(resp, 301, "/site/");
    if (is(req, "/site/"))
        return await_html(resp, 200, html, render(&d, req, -1, html, sizeof html));
    if (site_path(req, "page", pages, &k))
        return await_html(resp, 200, html, render(&d, req, (int)k, html, sizeof html));
    if (site_path(req, "moved", pages, &k) || site_path(req, "temp", pages, &k)) {
        snprintf(to, sizeof to, "/site/page/%ld", k);
        return await_moved(resp, req->path[6] == 'm' ? 301 : 302, to);
    }
    if (is(req, "/site/loop/a"))
        return await_moved(resp, 302, "/site/loop/b");
    if (is(req, "/site/loop/b"))
        return await_moved(resp, 302, "/site/loop/a");
    if (site_path(req, "private", pages, &k)) {
        size_t n = (size_t)snprintf(html, sizeof html,
                                    "<!DOCTYPE html>\n<html><head><title>Private %ld</title></head>"
                                    "<body><p>robots.txt asks crawlers not to come here.</p>"
                                    "<a href=\"/site/\">home</a></body></html>\n",
                                    k);
        return await_html(resp, 200, html, n);
    }
    size_t n = (size_t)snprintf(html, sizeof html,
                                "<!DOCTYPE html>\n<html><head><title>Not Found</title></head>"
                                "<body><p>No such page.</p></body></html>\n");
    return await_html(resp, 404, html, n);
}
