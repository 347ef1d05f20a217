/* test_parse_misc.c - the parser's limits (H4.9, each at and past its
 * bound, in every feeding mode), the zero-copy contract, trailers kept apart
 * from headers, end of input, misuse, the field lookup helper, slow drips,
 * and the error messages. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/parse.h"
#include "runtime/error.h"
#include "tests/http_harness.h"
#include "tests/support.h"

#define R H_RESP
#define CH "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"

/* ---- limits, through the harness ---- */

static const struct h_case line_cases[] = {   /* line_max 32: 30 bytes + CRLF fit */
    H_CASE("H4.9 status line at limit", R, "HTTP/1.1 200 OK---------------\r\n\r\n", "200 X cl"),
    H_CASE("H4.9 status line over limit", R, "HTTP/1.1 200 OK----------------\r\n\r\n", "!LINE_TOO_LONG"),
    H_CASE("H4.9 field line at limit", R, "HTTP/1.1 200 OK\r\nX: 345678901234567890123456789\r\n\r\n", "200 X cl"),
    H_CASE("H4.9 field line over limit", R, "HTTP/1.1 200 OK\r\nX: 3456789012345678901234567890\r\n\r\n",
           "!LINE_TOO_LONG"),
    H_CASE("H4.9 over limit, never ending", R, "HTTP/1.1 200 OK\r\nX: 3456789012345678901234567890123456",
           "!LINE_TOO_LONG"),
    H_CASE("3 request line at limit", H_REQ, "GET /4567890123456789 HTTP/1.1\r\n\r\n", "GET /4567890123456789 N ka"),
    H_CASE("3 request line over limit (414)", H_REQ, "GET /45678901234567890 HTTP/1.1\r\n\r\n",
           "!TARGET_TOO_LONG"),
};

static const struct h_case head_cases[] = {   /* head_max 64 */
    H_CASE("H4.9 head at limit", R, "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4567890123456789012345\r\n\r\n",
           "200 X cl"),
    H_CASE("H4.9 head over limit", R, "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 45678901234567890123456\r\n\r\n",
           "!HEADER_TOO_LARGE"),
    H_CASE("H4.9 head never ends", R,
           "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nF: 6\r\nG: 7\r\nH: 8\r\nI",
           "!HEADER_TOO_LARGE"),
    H_CASE("H4.9 trailers over the head limit", R,
           CH "0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nF: 6\r\nG: 7\r\nH: 8\r\nI: 9\r\nJ: 10\r\nK: 11\r\n\r\n",
           "200 C ka | !HEADER_TOO_LARGE"),
};

static const struct h_case count_cases[] = {  /* 3 fields */
    H_CASE("H4.9 fields at limit", R, "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nContent-Length: 0\r\n\r\n", "200 L0 ka"),
    H_CASE("H4.9 fields over limit", R, "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nContent-Length: 0\r\n\r\n",
           "!TOO_MANY_HEADERS"),
};

static const struct h_case body_cases[] = {   /* body_max 10, chunk_ext_max 4, interim_max 2 */
    H_CASE("H2.2 length at limit", R, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", "200 L10 ka [0123456789]"),
    H_CASE("H2.2 length over limit", R, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", "!BODY_TOO_LARGE"),
    H_CASE("H3.2 chunks at limit", R, CH "5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n", "200 C ka [0123456789]"),
    H_CASE("H3.2 chunks over limit", R, CH "5\r\n01234\r\n6\r\n56789a\r\n0\r\n\r\n", "200 C ka [01234] | !BODY_TOO_LARGE"),
    H_CASE("H1.8 close body at limit", R, "HTTP/1.1 200 OK\r\n\r\n0123456789", "200 X cl [0123456789]"),
    H_CASE("H1.8 close body over limit", R, "HTTP/1.1 200 OK\r\n\r\n0123456789a", "200 X cl [0123456789] | !BODY_TOO_LARGE"),
    H_CASE("H3.5 extension at limit", R, CH "1;abcd\r\nx\r\n0\r\n\r\n", "200 C ka [x]"),
    H_CASE("H3.5 extension over limit", R, CH "1;abcde\r\nx\r\n0\r\n\r\n", "200 C ka | !CHUNK_EXT_TOO_LONG"),
    H_CASE("H3.5 whitespace counts", R, CH "1     ;a\r\nx\r\n0\r\n\r\n", "200 C ka | !CHUNK_EXT_TOO_LONG"),
    H_CASE("H5.1 interims at limit", R, "HTTP/1.1 100 A\r\n\r\nHTTP/1.1 102 B\r\n\r\nHTTP/1.1 204 C\r\n\r\n",
           "100 N ka | 102 N ka | 204 N ka"),
    H_CASE("H5.1 interims over limit", R, "HTTP/1.1 100 A\r\n\r\nHTTP/1.1 102 B\r\n\r\nHTTP/1.1 103 C\r\n\r\n",
           "100 N ka | 102 N ka | !TOO_MANY_INTERIM"),
};

static const struct h_case unlimited_cases[] = {   /* body_max UINT64_MAX: no limit */
    H_CASE("H2.2 2^64-1 with no limit", R, "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\nab",
           "200 L18446744073709551615 ka [ab] | !INCOMPLETE"),
    H_CASE("H2.2 2^64 with no limit", R, "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n",
           "!BODY_TOO_LARGE"),
    H_CASE("H2.2 overflow with no limit", R,
           "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", "!BODY_TOO_LARGE"),
    H_CASE("H1.6 2^64-1 then an overflow", R,
           "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n"
           "Content-Length: 99999999999999999999999\r\n\r\n", "!BODY_TOO_LARGE"),
    H_CASE("H2.1 overflow then a letter", R,
           "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999x\r\n\r\n", "!BAD_CONTENT_LENGTH"),
};

static struct http_limits small_limits(void)
{
    struct http_limits l;
    http_limits_default(&l);
    return l;
}

START_TEST(line_limit)
{
    struct http_limits l = small_limits();
    l.line_max = 32;
    struct h_config cfg = { &l, 0 };
    h_check_case(&cfg, &line_cases[_i]);
}
END_TEST

START_TEST(head_limit)
{
    struct http_limits l = small_limits();
    l.head_max = 64;
    struct h_config cfg = { &l, 0 };
    h_check_case(&cfg, &head_cases[_i]);
}
END_TEST

START_TEST(field_count_limit)
{
    struct h_config cfg = { NULL, 3 };
    h_check_case(&cfg, &count_cases[_i]);
}
END_TEST

START_TEST(body_limits)
{
    struct http_limits l = small_limits();
    l.body_max = 10;
    l.chunk_ext_max = 4;
    l.interim_max = 2;
    struct h_config cfg = { &l, 0 };
    h_check_case(&cfg, &body_cases[_i]);
}
END_TEST

START_TEST(no_body_limit_still_refuses_overflow)
{
    struct http_limits l = small_limits();
    l.body_max = UINT64_MAX;
    struct h_config cfg = { &l, 0 };
    h_check_case(&cfg, &unlimited_cases[_i]);
}
END_TEST

/* ---- direct use ---- */

static struct http_header fields[HTTP_FIELDS_DEFAULT];

START_TEST(head_points_into_the_buffer)
{
    static const char msg[] = "HTTP/1.1 203 Non-Authoritative\r\nSet-Cookie: a=1\r\nX-Pad:  v a l  \r\n"
                              "set-cookie: b=2\r\nContent-Length: 0\r\n\r\n";
    const char *buf = h_guard_copy(msg, sizeof msg - 1);
    struct http_parser p;
    ck_assert_int_eq(http_parser_init(&p, HTTP_ROLE_RESPONSE, NULL, fields, HTTP_FIELDS_DEFAULT), 0);
    ck_assert_int_eq(http_parse_head(&p, buf, sizeof msg - 1), (int)(sizeof msg - 1));
    ck_assert_int_eq(p.head.status, 203);
    ck_assert_ptr_eq(p.head.reason, buf + 13);
    ck_assert_uint_eq(p.head.reason_len, 17);
    ck_assert_uint_eq(p.head.field_count, 4);
    ck_assert_ptr_eq(p.head.fields[0].name, buf + 32);
    ck_assert_int_eq(memcmp(p.head.fields[1].value, "v a l", p.head.fields[1].value_len), 0);
    ck_assert_uint_eq(p.head.fields[1].value_len, 5);          /* OWS trimmed both sides, inner kept */
    size_t cursor = 0;                                        /* H4.10: repeated fields, in order */
    const struct http_header *h = http_header_find(p.head.fields, p.head.field_count, "SET-COOKIE", &cursor);
    ck_assert(h && memcmp(h->value, "a=1", 3) == 0);
    h = http_header_find(p.head.fields, p.head.field_count, "SET-COOKIE", &cursor);
    ck_assert(h && memcmp(h->value, "b=2", 3) == 0);
    ck_assert_ptr_null(http_header_find(p.head.fields, p.head.field_count, "SET-COOKIE", &cursor));
    cursor = 0;
    ck_assert_ptr_null(http_header_find(p.head.fields, p.head.field_count, "Set-Cookie2", &cursor));
    ck_assert(http_parser_done(&p));
}
END_TEST

START_TEST(trailers_kept_apart)             /* H3.7 */
{
    static const char msg[] = CH "1\r\na\r\n0\r\nX-T: 1\r\nY-T: 2\r\n\r\n";
    struct http_header trailers[1];
    struct http_parser p;
    struct http_span span;
    size_t head_len = sizeof CH - 1, len = sizeof msg - 1;
    http_parser_init(&p, HTTP_ROLE_RESPONSE, NULL, fields, HTTP_FIELDS_DEFAULT);
    ck_assert_int_eq(http_parse_head(&p, msg, len), (int)head_len);
    size_t off = head_len;
    int n;
    while ((n = http_parse_body(&p, msg + off, len - off, &span)) > 0)
        off += (size_t)n;
    ck_assert(http_parser_done(&p));                          /* not kept, only checked */
    ck_assert_uint_eq(p.trailer_count, 0);
    ck_assert_uint_eq(p.head.field_count, 1);                 /* and never merged into the head */

    http_parser_init(&p, HTTP_ROLE_RESPONSE, NULL, fields, HTTP_FIELDS_DEFAULT);
    http_parser_set_trailers(&p, trailers, 1);                /* room for one: two is too many */
    http_parse_head(&p, msg, len);
    off = head_len;
    while ((n = http_parse_body(&p, msg + off, len - off, &span)) > 0)
        off += (size_t)n;
    ck_assert_int_eq(n, -HTTP_E_TOO_MANY_HEADERS);
}
END_TEST

START_TEST(end_of_input)
{
    struct http_parser p;
    struct http_span span;
    http_parser_init(&p, HTTP_ROLE_REQUEST, NULL, fields, HTTP_FIELDS_DEFAULT);
    ck_assert_int_eq(http_parse_eof(&p), -HTTP_E_CLOSED);     /* nothing sent: a clean close */
    ck_assert_int_eq(http_parse_head(&p, "GET / HTTP/1.1\r\n\r\n", 18), 18);
    ck_assert_int_eq(http_parse_eof(&p), -HTTP_E_CLOSED);     /* between messages */
    ck_assert_int_eq(http_parse_head(&p, "GET", 3), 0);
    ck_assert_int_eq(http_parse_eof(&p), -HTTP_E_INCOMPLETE); /* inside a head */
    ck_assert_int_eq(http_parse_head(&p, "GET / HTTP/1.1\r\n\r\n", 18), -HTTP_E_INCOMPLETE);  /* sticky */

    http_parser_init(&p, HTTP_ROLE_RESPONSE, NULL, fields, HTTP_FIELDS_DEFAULT);
    ck_assert_int_eq(http_parse_head(&p, "HTTP/1.1 200 OK\r\n\r\nab", 21), 19);
    ck_assert_int_eq(http_parse_body(&p, "ab", 2, &span), 2);
    ck_assert(!http_parser_done(&p));
    ck_assert_int_eq(http_parse_eof(&p), 0);                  /* H1.8: EOF ends a close-delimited body */
    ck_assert(http_parser_done(&p));
}
END_TEST

START_TEST(misuse_is_einval)
{
    struct http_parser p;
    struct http_span span;
    struct http_limits l;
    http_limits_default(&l);
    l.line_max = 8;
    ck_assert_int_eq(http_parser_init(&p, HTTP_ROLE_RESPONSE, &l, fields, 1), -EINVAL);
    ck_assert_int_eq(http_parser_init(&p, HTTP_ROLE_RESPONSE, NULL, NULL, 1), -EINVAL);
    ck_assert_int_eq(http_parser_init(&p, HTTP_ROLE_RESPONSE, NULL, fields, HTTP_FIELDS_DEFAULT), 0);
    ck_assert_int_eq(http_parse_body(&p, "x", 1, &span), -EINVAL);   /* no head yet */
    ck_assert_int_eq(http_parse_head(&p, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", 38), 38);
    ck_assert_int_eq(http_parse_head(&p, "HTTP/1.1 200 OK\r\n\r\n", 19), -EINVAL);  /* body first */
    ck_assert_int_eq(http_parse_body(&p, "abc", 3, &span), 3);     /* -EINVAL was not sticky */
    ck_assert_int_eq(http_response_interim(&p), 0);
}
END_TEST

/* A head arriving one byte per read costs O(n), not O(n^2): the scanner
 * looks at each byte once and the full parse runs a handful of times. */
START_TEST(slow_drip_is_linear)
{
    if (getenv("COLOOP_UNDER_VALGRIND"))
        return;
    size_t cap = HTTP_HEAD_MAX_DEFAULT, len = 0;
    char *msg = malloc(cap);
    len += (size_t)sprintf(msg, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < 90; i++) {
        len += (size_t)sprintf(msg + len, "X-%02d: ", i);
        memset(msg + len, 'v', 600);
        len += 600;
        len += (size_t)sprintf(msg + len, "\r\n");
    }
    len += (size_t)sprintf(msg + len, "Content-Length: 0\r\n\r\n");
    struct http_parser p;
    http_parser_init(&p, HTTP_ROLE_RESPONSE, NULL, fields, HTTP_FIELDS_DEFAULT);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = 0;
    for (size_t n = 1; n <= len && rc == 0; n++)
        rc = http_parse_head(&p, msg, n);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    ck_assert_int_eq(rc, (int)len);
    /* quadratic would be ~1.5e9 byte steps (seconds); linear is ~1e5 (well under 1 ms
     * optimized); the bound leaves room for sanitizers and a loaded machine */
    ck_assert_msg(ms < 500, "a %zu-byte head fed byte by byte took %.1f ms", len, ms);
    free(msg);
}
END_TEST

START_TEST(every_code_has_words)
{
    const char *seen[HTTP_ERR_END - HTTP_ERR_BASE] = { 0 };
    for (int c = HTTP_ERR_BASE + 1; c < HTTP_ERR_END; c++) {
        const char *m = http_strerror(-c);
        ck_assert_ptr_nonnull(m);
        ck_assert_str_eq(m, http_strerror(c));
        ck_assert_str_ne(h_error_name(c), "?");
        for (int k = HTTP_ERR_BASE + 1; k < c; k++)
            ck_assert_ptr_ne(seen[k - HTTP_ERR_BASE], m);
        seen[c - HTTP_ERR_BASE] = m;
    }
    ck_assert_str_eq(http_strerror(-ETIMEDOUT), co_strerror(-ETIMEDOUT));
    ck_assert_str_eq(http_strerror(-CO_EDEADLOCK), co_strerror(-CO_EDEADLOCK));
    ck_assert_ptr_nonnull(strstr(http_strerror(-HTTP_E_CL_AND_TE), "smuggling"));
    ck_assert_ptr_nonnull(strstr(http_strerror(-HTTP_E_URL_USERINFO), "credentials"));
}
END_TEST

static Suite *parse_misc_suite(void)
{
    Suite *s = suite_create("parse_misc");
    TCase *tc = tcase_create("limits");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, line_limit, 0, (int)(sizeof line_cases / sizeof line_cases[0]));
    tcase_add_loop_test(tc, head_limit, 0, (int)(sizeof head_cases / sizeof head_cases[0]));
    tcase_add_loop_test(tc, field_count_limit, 0, (int)(sizeof count_cases / sizeof count_cases[0]));
    tcase_add_loop_test(tc, body_limits, 0, (int)(sizeof body_cases / sizeof body_cases[0]));
    tcase_add_loop_test(tc, no_body_limit_still_refuses_overflow, 0,
                        (int)(sizeof unlimited_cases / sizeof unlimited_cases[0]));
    suite_add_tcase(s, tc);
    tc = tcase_create("api");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, head_points_into_the_buffer);
    tcase_add_test(tc, trailers_kept_apart);
    tcase_add_test(tc, end_of_input);
    tcase_add_test(tc, misuse_is_einval);
    tcase_add_test(tc, slow_drip_is_linear);
    tcase_add_test(tc, every_code_has_words);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(parse_misc_suite)
