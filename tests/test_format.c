/* test_format.c - writing a request head (RELIABILITY.md H6.1-H6.5): what
 * is written for good input, and a table of injections, each refused with
 * -EINVAL and nothing written; then the output read back by the parser. */
#include <errno.h>
#include <string.h>

#include "http/parse.h"
#include "tests/support.h"

#define FIELD(n, v) { n, sizeof(n) - 1, v, sizeof(v) - 1 }

START_TEST(writes_a_head)
{
    struct http_header f[] = { FIELD("Accept", "*/*"), FIELD("X-Empty", ""), FIELD("X-Tab", "a\tb"),
                               FIELD("X-Bytes", "caf\xc3\xa9") };
    static const char want[] = "GET /a?b=c HTTP/1.1\r\nHost: example.com:8080\r\nAccept: */*\r\n"
                               "X-Empty: \r\nX-Tab: a\tb\r\nX-Bytes: caf\xc3\xa9\r\n\r\n";
    char out[256];
    int n = http_format_request(out, sizeof out, "GET", "/a?b=c", "example.com:8080", f, 4);
    ck_assert_int_eq(n, (int)sizeof want - 1);
    ck_assert_int_eq(memcmp(out, want, sizeof want - 1), 0);
    ck_assert_int_eq(http_format_request(out, sizeof out, "OPTIONS", "*", "[::1]:8443", NULL, 0), 40);
}
END_TEST

START_TEST(too_small_writes_nothing)
{
    char out[64];
    memset(out, 'z', sizeof out);
    int n = http_format_request(out, sizeof out, "GET", "/", "a", NULL, 0);
    ck_assert_int_eq(n, 27);
    memset(out, 'z', sizeof out);
    ck_assert_int_eq(http_format_request(out, 26, "GET", "/", "a", NULL, 0), -ENOSPC);
    for (size_t i = 0; i < sizeof out; i++)
        ck_assert_int_eq(out[i], 'z');
    ck_assert_int_eq(http_format_request(out, 27, "GET", "/", "a", NULL, 0), 27);
}
END_TEST

struct bad_case {
    const char *rule;
    const char *method, *target, *host;
    struct http_header field;   /* name NULL: no field */
};

#define OK_FIELD { NULL, 0, NULL, 0 }

static const struct bad_case bad[] = {
    { "H6.1 space in method", "GET ", "/", "a", OK_FIELD },
    { "H6.1 CRLF in method", "G\r\nET", "/", "a", OK_FIELD },
    { "H6.1 empty method", "", "/", "a", OK_FIELD },
    { "H6.1 separator in method", "GE(T", "/", "a", OK_FIELD },
    { "H6.1 tab in method", "GET\t", "/", "a", OK_FIELD },
    { "H6.2 space in target", "GET", "/a b", "a", OK_FIELD },
    { "H6.2 CRLF in target", "GET", "/a\r\nX-Injected: 1", "a", OK_FIELD },
    { "H6.2 empty target", "GET", "", "a", OK_FIELD },
    { "H6.2 DEL in target", "GET", "/\x7f", "a", OK_FIELD },
    { "H6.2 non-ASCII target", "GET", "/caf\xc3\xa9", "a", OK_FIELD },
    { "H6.2 tab in target", "GET", "/a\tb", "a", OK_FIELD },
    { "H6.3 space in host", "GET", "/", "a b", OK_FIELD },
    { "H6.3 CRLF in host", "GET", "/", "a\r\nX: y", OK_FIELD },
    { "H6.3 empty host", "GET", "/", "", OK_FIELD },
    { "H6.3 urllib3 CVE-2019-11236 host", "GET", "/", "localhost:7777?a=1 HTTP/1.1\r\nX-injected: header", OK_FIELD },
    { "H6.3 slash in host", "GET", "/", "a/b", OK_FIELD },
    { "H6.3 at in host", "GET", "/", "u@a", OK_FIELD },
    { "H6.4 space in name", "GET", "/", "a", FIELD("X Y", "1") },
    { "H6.4 colon in name", "GET", "/", "a", FIELD("X:Y", "1") },
    { "H6.4 empty name", "GET", "/", "a", FIELD("", "1") },
    { "H6.4 CRLF in name", "GET", "/", "a", FIELD("X\r\nY", "1") },
    { "H6.4 NUL in name", "GET", "/", "a", FIELD("X\0Y", "1") },
    { "H6.4 CRLF in value", "GET", "/", "a", FIELD("X", "a\r\nSet-Cookie: x") },
    { "H6.4 LF in value", "GET", "/", "a", FIELD("X", "a\nb") },
    { "H6.4 CR in value", "GET", "/", "a", FIELD("X", "a\rb") },
    { "H6.4 NUL in value", "GET", "/", "a", FIELD("X", "a\0b") },
    { "H6.4 control in value", "GET", "/", "a", FIELD("X", "a\x01") },
    { "H6.4 DEL in value", "GET", "/", "a", FIELD("X", "a\x7f") },
    { "H6.3 Host given twice", "GET", "/", "a", FIELD("Host", "b") },
    { "H6.3 host given twice, any case", "GET", "/", "a", FIELD("hOsT", "a") },
    { "H6.5 Content-Length not digits", "POST", "/", "a", FIELD("Content-Length", "5a") },
    { "H6.5 Content-Length signed", "POST", "/", "a", FIELD("Content-Length", "+5") },
    { "H6.5 Content-Length empty", "POST", "/", "a", FIELD("Content-Length", "") },
};

START_TEST(refuses_injection)
{
    const struct bad_case *c = &bad[_i];
    char out[256];
    memset(out, 'z', sizeof out);
    int n = http_format_request(out, sizeof out, c->method, c->target, c->host, &c->field, c->field.name ? 1 : 0);
    ck_assert_msg(n == -EINVAL, "%s: got %d", c->rule, n);
    for (size_t i = 0; i < sizeof out; i++)
        ck_assert_int_eq(out[i], 'z');
}
END_TEST

START_TEST(never_both_lengths)              /* H6.5 */
{
    struct http_header f[] = { FIELD("Content-Length", "3"), FIELD("Transfer-Encoding", "chunked") };
    char out[256];
    ck_assert_int_eq(http_format_request(out, sizeof out, "POST", "/", "a", f, 2), -EINVAL);
    ck_assert_int_gt(http_format_request(out, sizeof out, "POST", "/", "a", f, 1), 0);
    ck_assert_int_gt(http_format_request(out, sizeof out, "POST", "/", "a", f + 1, 1), 0);
}
END_TEST

START_TEST(reads_back)
{
    struct http_header f[] = { FIELD("User-Agent", "coloop"), FIELD("Accept", "text/html") };
    struct http_header got[8];
    struct http_parser p;
    char out[256];
    int n = http_format_request(out, sizeof out, "HEAD", "/x?y", "h.example", f, 2);
    ck_assert_int_eq(http_parser_init(&p, HTTP_ROLE_REQUEST, NULL, got, 8), 0);
    ck_assert_int_eq(http_parse_head(&p, out, (size_t)n), n);
    ck_assert_int_eq(memcmp(p.head.method, "HEAD", p.head.method_len), 0);
    ck_assert_int_eq(memcmp(p.head.target, "/x?y", p.head.target_len), 0);
    ck_assert_uint_eq(p.head.field_count, 3);
    ck_assert_int_eq(memcmp(p.head.fields[0].value, "h.example", 9), 0);
    ck_assert_int_eq(memcmp(p.head.fields[2].value, "text/html", 9), 0);
}
END_TEST

static Suite *format_suite(void)
{
    Suite *s = suite_create("format");
    TCase *tc = tcase_create("request");
    tcase_add_test(tc, writes_a_head);
    tcase_add_test(tc, too_small_writes_nothing);
    tcase_add_loop_test(tc, refuses_injection, 0, (int)(sizeof bad / sizeof bad[0]));
    tcase_add_test(tc, never_both_lengths);
    tcase_add_test(tc, reads_back);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(format_suite)
