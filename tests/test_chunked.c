/* test_chunked.c - chunked bodies (RFC 9112 7.1, RELIABILITY.md H3.x): a
 * table of vectors run through the response parser in every feeding mode
 * (http_harness.h), generated inputs for the extension and overhead bounds,
 * and the decoder used alone. */
#include <stdlib.h>
#include <string.h>

#include "tests/http_harness.h"
#include "tests/support.h"

#define R H_RESP
#define CH "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"

static const struct h_case cases[] = {
    H_CASE("H1.4 two chunks", R, CH "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "200 C ka [hello world]"),
    H_CASE("H1.4 many small chunks", R, CH "1\r\na\r\n1\r\nb\r\n1\r\nc\r\n0\r\n\r\n", "200 C ka [abc]"),
    H_CASE("H1.4 empty body", R, CH "0\r\n\r\n", "200 C ka"),
    H_CASE("H1.4 CRLF inside data", R, CH "4\r\n\r\n\r\n\r\n0\r\n\r\n", "200 C ka [\r\n\r\n]"),
    H_CASE("H1.4 pipelined after chunked", R, CH "1\r\na\r\n0\r\n\r\nHTTP/1.1 204 No\r\n\r\n",
           "200 C ka [a] | 204 N ka"),
    H_CASE("H3.1 uppercase hex", R, CH "A\r\n0123456789\r\n0\r\n\r\n", "200 C ka [0123456789]"),
    H_CASE("H3.1 lowercase hex", R, CH "a\r\n0123456789\r\n0\r\n\r\n", "200 C ka [0123456789]"),
    H_CASE("H3.1 leading zeros", R, CH "005\r\nhello\r\n0\r\n\r\n", "200 C ka [hello]"),
    H_CASE("H3.6 last chunk of zeros", R, CH "2\r\nhi\r\n000\r\n\r\n", "200 C ka [hi]"),
    H_CASE("H3.2 sixteen digits", R, CH "0000000000000002\r\nhi\r\n0\r\n\r\n", "200 C ka [hi]"),
    H_CASE("H3.2 seventeen digits", R, CH "00000000000000002\r\nhi\r\n0\r\n\r\n", "200 C ka | !CHUNK_SIZE_OVERFLOW"),
    H_CASE("H3.2 2^64", R, CH "10000000000000000\r\n", "200 C ka | !CHUNK_SIZE_OVERFLOW"),
    H_CASE("H3.2 2^64-1", R, CH "FFFFFFFFFFFFFFFF\r\n", "200 C ka | !BODY_TOO_LARGE"),
    H_CASE("H3.2 above body limit", R, CH "4000001\r\n", "200 C ka | !BODY_TOO_LARGE"),
    H_CASE("H3.2 limit checked before extensions", R, CH "4000001;x\r\n", "200 C ka | !BODY_TOO_LARGE"),
    H_CASE("H3.1 minus", R, CH "-5\r\nhello\r\n0\r\n\r\n", "200 C ka | !BAD_CHUNK_SIZE"),
    H_CASE("H3.1 plus", R, CH "+5\r\nhello\r\n0\r\n\r\n", "200 C ka | !BAD_CHUNK_SIZE"),
    H_CASE("H3.1 0x prefix", R, CH "0x5\r\nhello\r\n0\r\n\r\n", "200 C ka | !BAD_CHUNK_SIZE"),
    H_CASE("H3.1 leading space", R, CH " 5\r\nhello\r\n0\r\n\r\n", "200 C ka | !BAD_CHUNK_SIZE"),
    H_CASE("H3.1 trailing space", R, CH "5 \r\nhello\r\n0\r\n\r\n", "200 C ka | !BAD_CHUNK_SIZE"),
    H_CASE("H3.1 trailing tab", R, CH "5\t\r\nhello\r\n0\r\n\r\n", "200 C ka | !BAD_CHUNK_SIZE"),
    H_CASE("H3.1 empty size", R, CH "\r\nhello\r\n0\r\n\r\n", "200 C ka | !BAD_CHUNK_SIZE"),
    H_CASE("H3.1 not hex", R, CH "g\r\n", "200 C ka | !BAD_CHUNK_SIZE"),
    H_CASE("H3.1 junk after size", R, CH "5 junk\r\nhello\r\n0\r\n\r\n", "200 C ka | !BAD_CHUNK_SIZE"),
    H_CASE("H3.1 NUL after size", R, CH "5\0\r\nhello\r\n0\r\n\r\n", "200 C ka | !BAD_CHUNK_SIZE"),
    H_CASE("H3.3 LF after size", R, CH "5\nhello\r\n0\r\n\r\n", "200 C ka | !BARE_LF"),
    H_CASE("H3.3 CR alone after size", R, CH "5\rhello\r\n0\r\n\r\n", "200 C ka | !BARE_CR"),
    H_CASE("H3.3 LF after data", R, CH "5\r\nhello\n0\r\n\r\n", "200 C ka [hello] | !BARE_LF"),
    H_CASE("H3.3 CR alone after data", R, CH "5\r\nhello\rX0\r\n\r\n", "200 C ka [hello] | !BARE_CR"),
    H_CASE("H3.3 two other bytes after data", R, CH "5\r\nhelloXX0\r\n\r\n", "200 C ka [hello] | !BAD_CHUNK_END"),
    H_CASE("H3.3 data longer than its size", R, CH "3\r\nhello\r\n0\r\n\r\n", "200 C ka [hel] | !BAD_CHUNK_END"),
    H_CASE("H3.3 LF after last chunk", R, CH "0\n\r\n", "200 C ka | !BARE_LF"),
    H_CASE("H3.3 LF as the final line", R, CH "0\r\n\n", "200 C ka | !BARE_LF"),
    H_CASE("H3.4 extension name", R, CH "5;foo\r\nhello\r\n0\r\n\r\n", "200 C ka [hello]"),
    H_CASE("H3.4 extension value", R, CH "5;foo=bar\r\nhello\r\n0\r\n\r\n", "200 C ka [hello]"),
    H_CASE("H3.4 quoted value", R, CH "5;foo=\"b a;r\"\r\nhello\r\n0\r\n\r\n", "200 C ka [hello]"),
    H_CASE("H3.4 quoted pair", R, CH "5;foo=\"a\\\"b\"\r\nhello\r\n0\r\n\r\n", "200 C ka [hello]"),
    H_CASE("H3.4 BWS around", R, CH "5 ; foo = bar\r\nhello\r\n0\r\n\r\n", "200 C ka [hello]"),
    H_CASE("H3.4 several extensions", R, CH "5;a;b=c;d=\"e\"\r\nhello\r\n0\r\n\r\n", "200 C ka [hello]"),
    H_CASE("H3.4 extension on last chunk", R, CH "5\r\nhello\r\n0;end\r\n\r\n", "200 C ka [hello]"),
    H_CASE("H3.4 obs-text in quotes", R, CH "5;x=\"\xc3\xa9\"\r\nhello\r\n0\r\n\r\n", "200 C ka [hello]"),
    H_CASE("H3.4 semicolon without name", R, CH "5;\r\nhello\r\n0\r\n\r\n", "200 C ka | !BAD_CHUNK_EXT"),
    H_CASE("H3.4 value without name", R, CH "5;=x\r\nhello\r\n0\r\n\r\n", "200 C ka | !BAD_CHUNK_EXT"),
    H_CASE("H3.4 equals without value", R, CH "5;foo=\r\nhello\r\n0\r\n\r\n", "200 C ka | !BAD_CHUNK_EXT"),
    H_CASE("H3.4 unbalanced quote", R, CH "5;foo=\"bar\r\nhello\r\n0\r\n\r\n", "200 C ka | !BAD_CHUNK_EXT"),
    H_CASE("H3.4 space inside name", R, CH "5;foo bar\r\nhello\r\n0\r\n\r\n", "200 C ka | !BAD_CHUNK_EXT"),
    H_CASE("H3.4 BWS before CR", R, CH "5;foo \r\nhello\r\n0\r\n\r\n", "200 C ka | !BAD_CHUNK_EXT"),
    H_CASE("H3.4 space inside value", R, CH "5;foo=bar baz\r\nhello\r\n0\r\n\r\n", "200 C ka | !BAD_CHUNK_EXT"),
    H_CASE("H3.4 junk after quotes", R, CH "5;foo=\"x\"y\r\nhello\r\n0\r\n\r\n", "200 C ka | !BAD_CHUNK_EXT"),
    H_CASE("H3.4 control in name", R, CH "5;f\x01o\r\nhello\r\n0\r\n\r\n", "200 C ka | !BAD_CHUNK_EXT"),
    H_CASE("H3.4 DEL in quotes", R, CH "5;x=\"a\x7f\"\r\nhello\r\n0\r\n\r\n", "200 C ka | !BAD_CHUNK_EXT"),
    H_CASE("H3.4 comma in extensions", R, CH "5;a,b\r\nhello\r\n0\r\n\r\n", "200 C ka | !BAD_CHUNK_EXT"),
    H_CASE("H3.4 CR inside quotes", R, CH "5;x=\"a\rb\"\r\nhello\r\n0\r\n\r\n", "200 C ka | !BAD_CHUNK_EXT"),
    H_CASE("H3.3 LF ending extensions", R, CH "5;foo=bar\nhello\r\n0\r\n\r\n", "200 C ka | !BARE_LF"),
    H_CASE("H3.6 trailers", R, CH "5\r\nhello\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\n",
           "200 C ka [hello] {Expires=never,X-Sum=1}"),
    H_CASE("H3.6 trailer value trimmed", R, CH "0\r\nX:  v  \r\n\r\n", "200 C ka {X=v}"),
    H_CASE("H3.6 trailers then next message", R, CH "0\r\nX: 1\r\n\r\nHTTP/1.1 204 No\r\n\r\n",
           "200 C ka {X=1} | 204 N ka"),
    H_CASE("H3.6 trailer obs-fold", R, CH "0\r\nX: a\r\n b\r\n\r\n", "200 C ka | !OBS_FOLD"),
    H_CASE("H3.6 trailer leading whitespace", R, CH "0\r\n X: a\r\n\r\n", "200 C ka | !OBS_FOLD"),
    H_CASE("H3.6 trailer space before colon", R, CH "0\r\nX : a\r\n\r\n", "200 C ka | !WS_BEFORE_COLON"),
    H_CASE("H3.6 trailer bad name", R, CH "0\r\n@: a\r\n\r\n", "200 C ka | !BAD_HEADER_NAME"),
    H_CASE("H3.6 trailer NUL", R, CH "0\r\nX: a\0b\r\n\r\n", "200 C ka | !BAD_HEADER_VALUE"),
    H_CASE("H3.6 trailer bare CR", R, CH "0\r\nX: a\rb\r\n\r\n", "200 C ka | !BARE_CR"),
    H_CASE("H3.6 trailer bare LF", R, CH "0\r\nX: a\n\r\n", "200 C ka | !BARE_LF"),
    H_CASE("H3.8 EOF before last chunk", R, CH "5\r\nhello\r\n", "200 C ka [hello] | !INCOMPLETE"),
    H_CASE("H3.8 EOF inside data", R, CH "5\r\nhel", "200 C ka [hel] | !INCOMPLETE"),
    H_CASE("H3.8 EOF inside size", R, CH "5", "200 C ka | !INCOMPLETE"),
    H_CASE("H3.8 EOF after last chunk", R, CH "0\r\n", "200 C ka | !INCOMPLETE"),
    H_CASE("H3.8 EOF inside trailers", R, CH "0\r\nX: y\r\n", "200 C ka | !INCOMPLETE"),
    H_CASE("H3.8 EOF right after head", R, CH, "200 C ka | !INCOMPLETE"),
};

START_TEST(chunked_vector)
{
    h_check_case(NULL, &cases[_i]);
}
END_TEST

/* CH + count chunks "1;" + ext_bytes of 'a' (just "1" for 0) + CRLF + "x" +
 * CRLF, then the last chunk. */
static char *chunks_with_extensions(int count, size_t ext_bytes, size_t *len)
{
    size_t cap = sizeof CH + (size_t)count * (ext_bytes + 16) + 16;
    char *s = malloc(cap), *at = s;
    ck_assert_ptr_nonnull(s);
    at += sprintf(at, "%s", CH);
    for (int i = 0; i < count; i++) {
        at += sprintf(at, ext_bytes ? "1;" : "1");
        memset(at, 'a', ext_bytes);
        at += ext_bytes;
        at += sprintf(at, "\r\nx\r\n");
    }
    at += sprintf(at, "0\r\n\r\n");
    *len = (size_t)(at - s);
    return s;
}

static void check_generated(const char *name, const char *in, size_t len, const char *want)
{
    struct h_case c = { name, H_RESP, in, len, want };
    h_check_case(NULL, &c);
}

START_TEST(extension_bytes_are_bounded)     /* H3.5, per line */
{
    size_t len;
    char *at_limit = chunks_with_extensions(1, HTTP_CHUNK_EXT_MAX_DEFAULT, &len);
    check_generated("H3.5 extension at the limit", at_limit, len, "200 C ka [x]");
    char *over = chunks_with_extensions(1, HTTP_CHUNK_EXT_MAX_DEFAULT + 1, &len);
    check_generated("H3.5 extension over the limit", over, len, "200 C ka | !CHUNK_EXT_TOO_LONG");
    free(at_limit);
    free(over);
}
END_TEST

START_TEST(framing_overhead_is_bounded)     /* H3.5, over the body */
{
    /* each chunk: a 1004-byte line + CRLF for 1 data byte, 973 bytes over
     * the free allowance: 16 chunks stay under HTTP_CHUNK_EXCESS_MAX, 17 do not */
    size_t len;
    char *ok = chunks_with_extensions(16, 1000, &len);
    check_generated("H3.5 overhead under the limit", ok, len, "200 C ka [xxxxxxxxxxxxxxxx]");
    char *bad = chunks_with_extensions(17, 1000, &len);
    check_generated("H3.5 overhead over the limit", bad, len, "200 C ka [xxxxxxxxxxxxxxxx] | !CHUNK_OVERHEAD");
    free(ok);
    free(bad);
}
END_TEST

START_TEST(small_chunks_cost_nothing)       /* the overhead rule spares honest tiny chunks */
{
    size_t len;
    char *s = chunks_with_extensions(20000, 0, &len);       /* "1\r\nx\r\n" x 20000 */
    struct http_chunked c;
    struct http_span span;
    http_chunked_init(&c, HTTP_BODY_MAX_DEFAULT, HTTP_CHUNK_EXT_MAX_DEFAULT);
    size_t off = sizeof CH - 1;
    int bad = 0;
    while (!http_chunked_at_trailers(&c)) {
        int n = http_chunked_feed(&c, s + off, len - off, &span);
        ck_assert_int_ge(n, 1);
        bad += span.len == 1 && span.data[0] != 'x';
        off += (size_t)n;
    }
    ck_assert_int_eq(bad, 0);
    ck_assert_uint_eq(c.total, 20000);
    ck_assert_str_eq(s + off, "\r\n");                       /* stops before the trailer section */
    free(s);
}
END_TEST

START_TEST(decoder_alone)
{
    static const char body[] = "3;x=1\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n";
    const char *buf = h_guard_copy(body, sizeof body - 1);
    struct http_chunked c;
    struct http_span span;
    http_chunked_init(&c, 100, 16);
    ck_assert_int_eq(http_chunked_feed(&c, buf, 0, &span), 0);
    int n = http_chunked_feed(&c, buf, sizeof body - 1, &span);
    ck_assert_int_eq(n, 10);                                 /* line + "abc" */
    ck_assert_ptr_eq(span.data, buf + 7);                    /* zero-copy: into the input */
    ck_assert_uint_eq(span.len, 3);
    int m = http_chunked_feed(&c, buf + n, sizeof body - 1 - (size_t)n, &span);
    ck_assert_int_eq(m, 7);                                  /* CRLF + "2\r\n" + "de" */
    ck_assert_int_eq(memcmp(span.data, "de", 2), 0);
    int k = http_chunked_feed(&c, buf + n + m, sizeof body - 1 - (size_t)(n + m), &span);
    ck_assert_int_eq(k, 5);                                  /* CRLF + "0\r\n" */
    ck_assert_uint_eq(span.len, 0);
    ck_assert(http_chunked_at_trailers(&c));
    ck_assert_int_eq(http_chunked_feed(&c, "T", 1, &span), 0);  /* trailers are not its job */
    ck_assert_uint_eq(c.total, 5);
}
END_TEST

START_TEST(decoder_errors_are_sticky)
{
    struct http_chunked c;
    struct http_span span;
    http_chunked_init(&c, 100, 16);
    ck_assert_int_eq(http_chunked_feed(&c, "-1\r\n", 4, &span), -HTTP_E_BAD_CHUNK_SIZE);
    ck_assert_int_eq(http_chunked_feed(&c, "1\r\n", 3, &span), -HTTP_E_BAD_CHUNK_SIZE);
    http_chunked_init(&c, 4, 16);                            /* the body limit spans chunks */
    ck_assert_int_eq(http_chunked_feed(&c, "3\r\nabc", 6, &span), 6);
    ck_assert_int_eq(http_chunked_feed(&c, "\r\n2\r\n", 5, &span), -HTTP_E_BODY_TOO_LARGE);
}
END_TEST

static Suite *chunked_suite(void)
{
    Suite *s = suite_create("chunked");
    TCase *tc = tcase_create("vectors");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, chunked_vector, 0, (int)(sizeof cases / sizeof cases[0]));
    suite_add_tcase(s, tc);
    tc = tcase_create("decoder");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, extension_bytes_are_bounded);
    tcase_add_test(tc, framing_overhead_is_bounded);
    tcase_add_test(tc, small_chunks_cost_nothing);
    tcase_add_test(tc, decoder_alone);
    tcase_add_test(tc, decoder_errors_are_sticky);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(chunked_suite)
