/* test_url.c - http(s) URLs as tables: absolute URLs (what is accepted,
 * normalized, encoded or refused, and why), every example of RFC 3986
 * 5.4.1 (normal) and 5.4.2 (abnormal) resolved against its base adapted to
 * http, more relative forms, and the pieces the client uses (target, Host
 * value, origin).  Each input sits right before an unreadable page. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/url.h"
#include "tests/http_harness.h"
#include "tests/support.h"

/* want: the resulting href, or "!" + the error's short name. */
struct url_case {
    const char *base;   /* NULL: parse as absolute */
    const char *in;
    const char *want;
};

#define RFC "http://a/b/c/d;p?q"

static const struct url_case cases[] = {
    /* absolute: accepted and normalized */
    { NULL, "http://example.com", "http://example.com/" },
    { NULL, "HTTP://EXAMPLE.COM/A", "http://example.com/A" },
    { NULL, "https://example.com:443/", "https://example.com/" },
    { NULL, "https://example.com:8443/x?y#z", "https://example.com:8443/x?y" },
    { NULL, "http://example.com:/", "http://example.com/" },
    { NULL, "http://example.com:080/", "http://example.com/" },
    { NULL, "http://example.com:65535/", "http://example.com:65535/" },
    { NULL, "http://example.com?q", "http://example.com/?q" },
    { NULL, "http://example.com#frag", "http://example.com/" },
    { NULL, "http://example.com/?", "http://example.com/?" },
    { NULL, "http://a_b-c.example./", "http://a_b-c.example./" },
    { NULL, "http://[::1]/", "http://[::1]/" },
    { NULL, "http://[::1]:8080/", "http://[::1]:8080/" },
    { NULL, "http://[2001:DB8:0:0:0:0:0:1]/", "http://[2001:db8::1]/" },
    { NULL, "http://192.0.2.1/", "http://192.0.2.1/" },
    { NULL, "http://0.0.0.0/", "http://0.0.0.0/" },
    { NULL, "http://123.example/", "http://123.example/" },
    /* absolute: dot segments (5.2.4 applies to absolute URLs too) */
    { NULL, "http://example.com/a/./b/../c", "http://example.com/a/c" },
    { NULL, "http://example.com/../../x", "http://example.com/x" },
    { NULL, "http://example.com/a/..", "http://example.com/" },
    { NULL, "http://example.com/a/%2e%2e/b", "http://example.com/a/%2e%2e/b" },
    /* absolute: percent-encoding kept valid */
    { NULL, "http://example.com/a b", "http://example.com/a%20b" },
    { NULL, "http://example.com/caf\xc3\xa9", "http://example.com/caf%C3%A9" },
    { NULL, "http://example.com/a%2fb%41", "http://example.com/a%2fb%41" },
    { NULL, "http://example.com/a|b{c}^`\\", "http://example.com/a%7Cb%7Bc%7D%5E%60%5C" },
    { NULL, "http://example.com/[x]<y>\"", "http://example.com/%5Bx%5D%3Cy%3E%22" },
    { NULL, "http://example.com/?a=b c&d=\"e\"", "http://example.com/?a=b%20c&d=%22e%22" },
    { NULL, "http://example.com/?x?y/z:@!$&'()*+,;=", "http://example.com/?x?y/z:@!$&'()*+,;=" },
    { NULL, "http://example.com/~user/-._", "http://example.com/~user/-._" },
    { NULL, "http://example.com/%zz", "!URL_PERCENT" },
    { NULL, "http://example.com/%4", "!URL_PERCENT" },
    { NULL, "http://example.com/?q=%", "!URL_PERCENT" },
    { NULL, "http://example.com/%%41", "!URL_PERCENT" },
    /* absolute: refused */
    { NULL, "ftp://example.com/", "!URL_SCHEME" },
    { NULL, "example.com/path", "!URL_SCHEME" },
    { NULL, "//example.com/", "!URL_SCHEME" },
    { NULL, "/just/a/path", "!URL_SCHEME" },
    { NULL, "", "!URL_SCHEME" },
    { NULL, "mailto:a@example.com", "!URL_SCHEME" },
    { NULL, "javascript:alert(1)", "!URL_SCHEME" },
    { NULL, "http:///path", "!URL_HOST" },
    { NULL, "http:/path", "!URL_HOST" },
    { NULL, "http:path", "!URL_HOST" },
    { NULL, "http://user:pass@example.com/", "!URL_USERINFO" },
    { NULL, "http://user@example.com/", "!URL_USERINFO" },
    { NULL, "http://@example.com/", "!URL_USERINFO" },
    { NULL, "http://example.com:0/", "!URL_PORT" },
    { NULL, "http://example.com:65536/", "!URL_PORT" },
    { NULL, "http://example.com:99999999999999999999/", "!URL_PORT" },
    { NULL, "http://example.com:8a/", "!URL_PORT" },
    { NULL, "http://example.com:-1/", "!URL_PORT" },
    { NULL, "http://example.com:+80/", "!URL_PORT" },
    { NULL, "http://example.com: 80/", "!URL_PORT" },
    { NULL, "http://exa mple.com/", "!URL_HOST" },
    { NULL, "http://ex%41mple.com/", "!URL_HOST" },
    { NULL, "http://ex\xc3\xa4mple.com/", "!URL_HOST" },
    { NULL, "http://exa*mple.com/", "!URL_HOST" },
    { NULL, "http://192.0.2.256/", "!URL_HOST" },
    { NULL, "http://127.1/", "!URL_HOST" },
    { NULL, "http://0x7f.0.0.1/", "!URL_HOST" },
    { NULL, "http://1.2.3.0x4/", "!URL_HOST" },
    { NULL, "http://01.2.3.4/", "!URL_HOST" },
    { NULL, "http://1.2.3.4.5/", "!URL_HOST" },
    { NULL, "http://2130706433/", "!URL_HOST" },
    { NULL, "http://example.123/", "!URL_HOST" },
    { NULL, "http://[::1/", "!URL_IPV6" },
    { NULL, "http://[fe80::1%25eth0]/", "!URL_IPV6" },
    { NULL, "http://[v1.x]/", "!URL_IPV6" },
    { NULL, "http://[1:2]/", "!URL_IPV6" },
    { NULL, "http://[]/", "!URL_IPV6" },
    { NULL, "http://[::1]x/", "!URL_HOST" },
    { NULL, "http://::1/", "!URL_HOST" },
    { NULL, "http://exa\rmple.com/", "!URL_CHAR" },
    { NULL, "http://example.com/\r\nX-Injected: 1", "!URL_CHAR" },
    { NULL, "http://example.com/a\tb", "!URL_CHAR" },
    { NULL, "http://example.com/\x7f", "!URL_CHAR" },
    { NULL, "http://example.com/#\n", "!URL_CHAR" },
    /* RFC 3986 5.4.1, normal examples ("g:h" is not http: refused) */
    { RFC, "g:h", "!URL_SCHEME" },
    { RFC, "g", "http://a/b/c/g" },
    { RFC, "./g", "http://a/b/c/g" },
    { RFC, "g/", "http://a/b/c/g/" },
    { RFC, "/g", "http://a/g" },
    { RFC, "//g", "http://g/" },
    { RFC, "?y", "http://a/b/c/d;p?y" },
    { RFC, "g?y", "http://a/b/c/g?y" },
    { RFC, "#s", "http://a/b/c/d;p?q" },
    { RFC, "g#s", "http://a/b/c/g" },
    { RFC, "g?y#s", "http://a/b/c/g?y" },
    { RFC, ";x", "http://a/b/c/;x" },
    { RFC, "g;x", "http://a/b/c/g;x" },
    { RFC, "g;x?y#s", "http://a/b/c/g;x?y" },
    { RFC, "", "http://a/b/c/d;p?q" },
    { RFC, ".", "http://a/b/c/" },
    { RFC, "./", "http://a/b/c/" },
    { RFC, "..", "http://a/b/" },
    { RFC, "../", "http://a/b/" },
    { RFC, "../g", "http://a/b/g" },
    { RFC, "../..", "http://a/" },
    { RFC, "../../", "http://a/" },
    { RFC, "../../g", "http://a/g" },
    /* RFC 3986 5.4.2, abnormal examples */
    { RFC, "../../../g", "http://a/g" },
    { RFC, "../../../../g", "http://a/g" },
    { RFC, "/./g", "http://a/g" },
    { RFC, "/../g", "http://a/g" },
    { RFC, "g.", "http://a/b/c/g." },
    { RFC, ".g", "http://a/b/c/.g" },
    { RFC, "g..", "http://a/b/c/g.." },
    { RFC, "..g", "http://a/b/c/..g" },
    { RFC, "./../g", "http://a/b/g" },
    { RFC, "./g/.", "http://a/b/c/g/" },
    { RFC, "g/./h", "http://a/b/c/g/h" },
    { RFC, "g/../h", "http://a/b/c/h" },
    { RFC, "g;x=1/./y", "http://a/b/c/g;x=1/y" },
    { RFC, "g;x=1/../y", "http://a/b/c/y" },
    { RFC, "g?y/./x", "http://a/b/c/g?y/./x" },
    { RFC, "g?y/../x", "http://a/b/c/g?y/../x" },
    { RFC, "g#s/./x", "http://a/b/c/g" },
    { RFC, "g#s/../x", "http://a/b/c/g" },
    { RFC, "http:g", "http://a/b/c/g" },            /* the backward-compatible reading (url.h) */
    /* more relative forms */
    { "https://h.example:8443/x/y?z", "//o.example/p", "https://o.example/p" },
    { "https://h.example:8443/x/y?z", "//o.example:8443", "https://o.example:8443/" },
    { "https://h.example:8443/x/y?z", "http://o/", "http://o/" },
    { "https://h.example:8443/x/y?z", "https:g", "https://h.example:8443/x/g" },
    { "https://h.example:8443/x/y?z", "http:g", "!URL_HOST" },
    { "https://h.example:8443/x/y?z", "?", "https://h.example:8443/x/y?" },
    { "https://h.example:8443/x/y?z", "#top", "https://h.example:8443/x/y?z" },
    { "https://h.example:8443/x/y?z", "a b/caf\xc3\xa9?q r", "https://h.example:8443/x/a%20b/caf%C3%A9?q%20r" },
    { "https://h.example:8443/x/y?z", "//user@o/", "!URL_USERINFO" },
    { "https://h.example:8443/x/y?z", "//o:99999/", "!URL_PORT" },
    { "https://h.example:8443/x/y?z", "\r\n", "!URL_CHAR" },
    { "https://h.example:8443/x/y?z", "javascript:alert(1)", "!URL_SCHEME" },
    { "https://h.example:8443/x/y?z", "data:text/plain,hi", "!URL_SCHEME" },
    { "https://h.example:8443/x/y?z", "%zz", "!URL_PERCENT" },
    { "http://[::1]:8080/a/b", "c", "http://[::1]:8080/a/c" },
    { "http://[::1]:8080/a/b", "//[::2]/", "http://[::2]/" },
    { "http://a/", "../../..", "http://a/" },
    { "http://a", "b", "http://a/b" },
    { "http://a/b", "", "http://a/b" },
    { "http://a/b/", "c:d", "!URL_SCHEME" },
    { "http://a/b/", "./c:d", "http://a/b/c:d" },
};

static bool visible(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7E)
            return false;
    return true;
}

/* What every parsed URL promises: href = scheme "://" Host target; the
 * target starts with "/" and, like the Host value, is safe on the wire. */
static void check_invariants(const struct http_url *u)
{
    char joined[HTTP_URL_MAX + 512];
    snprintf(joined, sizeof joined, "%s://%s%s", http_scheme_name(u->scheme), u->host_header, u->target);
    ck_assert_str_eq(joined, u->href);
    ck_assert_int_eq(u->target[0], '/');
    ck_assert_uint_le(u->path_len, strlen(u->target));
    ck_assert(u->target[u->path_len] == '\0' || u->target[u->path_len] == '?');
    ck_assert(visible(u->target) && visible(u->host_header) && visible(u->origin));
}

static void check_url(const struct url_case *c)
{
    struct http_url base = { 0 }, u;
    if (c->base)
        ck_assert_int_eq(http_url_parse(&base, c->base, strlen(c->base)), 0);
    size_t n = strlen(c->in);
    const char *in = h_guard_copy(c->in, n);            /* a read past n faults */
    int rc = c->base ? http_url_resolve(&u, &base, in, n) : http_url_parse(&u, in, n);
    if (c->want[0] == '!') {
        ck_assert_msg(rc < 0, "%s + %s: accepted as %s, want %s", c->base, c->in, u.href, c->want);
        ck_assert_str_eq(h_error_name(rc), c->want + 1);
        ck_assert_ptr_null(u.mem);                      /* a failure owns nothing */
    } else {
        ck_assert_msg(rc == 0, "%s + %s: %s", c->base, c->in, http_strerror(rc));
        ck_assert_str_eq(u.href, c->want);
        check_invariants(&u);
    }
    http_url_fini(&u);
    http_url_fini(&base);
}

START_TEST(url_vector)
{
    check_url(&cases[_i]);
}
END_TEST

/* The pieces the client uses, for URLs of each kind. */
struct parts_case {
    const char *in;
    const char *host, *host_header, *origin, *target;
    size_t path_len;
    unsigned port;
    enum http_host_kind kind;
};

static const struct parts_case parts[] = {
    { "http://Example.COM", "example.com", "example.com", "http://example.com:80", "/", 1, 80, HTTP_HOST_NAME },
    { "https://example.com:8443/a/b?c=d", "example.com", "example.com:8443", "https://example.com:8443",
      "/a/b?c=d", 4, 8443, HTTP_HOST_NAME },
    { "http://example.com:443/", "example.com", "example.com:443", "http://example.com:443", "/", 1, 443,
      HTTP_HOST_NAME },
    { "https://example.com:80/", "example.com", "example.com:80", "https://example.com:80", "/", 1, 80,
      HTTP_HOST_NAME },
    { "https://[2001:DB8::1]/", "2001:db8::1", "[2001:db8::1]", "https://[2001:db8::1]:443", "/", 1, 443,
      HTTP_HOST_IPV6 },
    { "http://[::FFFF:192.0.2.1]:81/x", "::ffff:192.0.2.1", "[::ffff:192.0.2.1]:81", "http://[::ffff:192.0.2.1]:81",
      "/x", 2, 81, HTTP_HOST_IPV6 },
    { "http://192.0.2.1:80/?", "192.0.2.1", "192.0.2.1", "http://192.0.2.1:80", "/?", 1, 80, HTTP_HOST_IPV4 },
    { "http://example.com?x#y", "example.com", "example.com", "http://example.com:80", "/?x", 1, 80,
      HTTP_HOST_NAME },
};

START_TEST(url_parts)
{
    const struct parts_case *c = &parts[_i];
    struct http_url u;
    ck_assert_int_eq(http_url_parse(&u, c->in, strlen(c->in)), 0);
    ck_assert_str_eq(u.host, c->host);
    ck_assert_str_eq(u.host_header, c->host_header);
    ck_assert_str_eq(u.origin, c->origin);
    ck_assert_str_eq(u.target, c->target);
    ck_assert_uint_eq(u.path_len, c->path_len);
    ck_assert_uint_eq(u.port, c->port);
    ck_assert_int_eq(u.host_kind, c->kind);
    check_invariants(&u);
    http_url_fini(&u);
    ck_assert_ptr_null(u.href);                         /* fini zeroes */
}
END_TEST

START_TEST(same_origin)
{
    struct http_url a, b, c, d;
    http_url_parse(&a, "http://a.example/", 17);
    http_url_parse(&b, "HTTP://A.EXAMPLE:80/other?q", 27);
    http_url_parse(&c, "https://a.example/", 18);
    http_url_parse(&d, "http://a.example:81/", 20);
    ck_assert(http_url_same_origin(&a, &b));
    ck_assert_str_eq(a.origin, b.origin);
    ck_assert(!http_url_same_origin(&a, &c));
    ck_assert(!http_url_same_origin(&a, &d));
    http_url_fini(&a);
    http_url_fini(&b);
    http_url_fini(&c);
    http_url_fini(&d);
}
END_TEST

START_TEST(lengths_and_bounds)
{
    static char s[HTTP_URL_MAX + 2];
    struct http_url u;
    size_t n = (size_t)sprintf(s, "http://example.com/");
    memset(s + n, 'a', HTTP_URL_MAX - n);                   /* exactly HTTP_URL_MAX bytes */
    ck_assert_int_eq(http_url_parse(&u, s, HTTP_URL_MAX), 0);
    http_url_fini(&u);
    s[HTTP_URL_MAX] = 'a';
    ck_assert_int_eq(http_url_parse(&u, s, HTTP_URL_MAX + 1), -HTTP_E_URL_TOO_LONG);
    memset(s + n, ' ', 3000);                               /* 3000 spaces become 9000 bytes */
    ck_assert_int_eq(http_url_parse(&u, s, n + 3000), -HTTP_E_URL_TOO_LONG);
    ck_assert_ptr_null(u.mem);
    n = (size_t)sprintf(s, "http://");
    memset(s + n, 'h', HTTP_URL_HOST_MAX);
    ck_assert_int_eq(http_url_parse(&u, s, n + HTTP_URL_HOST_MAX), 0);
    http_url_fini(&u);
    s[n + HTTP_URL_HOST_MAX] = 'h';
    ck_assert_int_eq(http_url_parse(&u, s, n + HTTP_URL_HOST_MAX + 1), -HTTP_E_URL_HOST);
    /* the length is what counts, not a NUL: the rest of the string is not read */
    ck_assert_int_eq(http_url_parse(&u, "http://a/bXYZ", 10), 0);
    ck_assert_str_eq(u.href, "http://a/b");
    http_url_fini(&u);
    http_url_fini(&u);                                      /* twice is harmless */
}
END_TEST

START_TEST(resolve_chain)    /* a crawler's use: each page's links against that page */
{
    struct http_url page, next;
    ck_assert_int_eq(http_url_parse(&page, "https://site.example/docs/a/index.html", 38), 0);
    const char *links[] = { "../b/", "p%20q.html?x=1", "/", "//cdn.example/s.js", "#top" };
    const char *want[] = { "https://site.example/docs/b/", "https://site.example/docs/b/p%20q.html?x=1",
                           "https://site.example/", "https://cdn.example/s.js", "https://cdn.example/s.js" };
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(http_url_resolve(&next, &page, links[i], strlen(links[i])), 0);
        ck_assert_str_eq(next.href, want[i]);
        http_url_fini(&page);
        page = next;
    }
    http_url_fini(&page);
}
END_TEST

static Suite *url_suite(void)
{
    Suite *s = suite_create("url");
    TCase *tc = tcase_create("vectors");
    tcase_add_loop_test(tc, url_vector, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_loop_test(tc, url_parts, 0, (int)(sizeof parts / sizeof parts[0]));
    tcase_add_test(tc, same_origin);
    tcase_add_test(tc, lengths_and_bounds);
    tcase_add_test(tc, resolve_chain);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(url_suite)
