/* test_parse_request.c - the request parser (the server side), as a table
 * of vectors written from RFC 9112 3, 6.1, 6.3 and RELIABILITY.md 3.7, run in
 * every feeding mode of http_harness.h.  Smuggling shapes come first: each
 * is a request two parsers could frame differently, so each must fail. */
#include "tests/http_harness.h"
#include "tests/support.h"

#define Q H_REQ

static const struct h_case cases[] = {
    /* request lines that are fine */
    H_CASE("ok GET", Q, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET / N ka"),
    H_CASE("ok query", Q, "GET /p/q?x=1&y=%20 HTTP/1.1\r\nHost: a\r\n\r\n", "GET /p/q?x=1&y=%20 N ka"),
    H_CASE("ok HTTP/1.0", Q, "GET /x HTTP/1.0\r\n\r\n", "GET /x 1.0 N cl"),
    H_CASE("ok HTTP/1.0 keep-alive", Q, "GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "GET /x 1.0 N ka"),
    H_CASE("ok close", Q, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", "GET / N cl"),
    H_CASE("ok POST length", Q, "POST /f HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", "POST /f L3 ka [abc]"),
    H_CASE("ok POST chunked", Q, "POST /f HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
           "POST /f C ka [abc]"),
    H_CASE("ok POST chunked trailers", Q,
           "POST /f HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nDigest: x\r\n\r\n",
           "POST /f C ka [a] {Digest=x}"),
    H_CASE("ok OPTIONS *", Q, "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", "OPTIONS * N ka"),
    H_CASE("ok CONNECT authority", Q, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n",
           "CONNECT example.com:443 N ka"),
    H_CASE("ok absolute-form", Q, "GET http://a.example/b HTTP/1.1\r\nHost: a.example\r\n\r\n",
           "GET http://a.example/b N ka"),
    H_CASE("ok extension method", Q, "M-SEARCH * HTTP/1.1\r\n\r\n", "M-SEARCH * N ka"),
    H_CASE("ok odd token method", Q, "X!#$%&'*+.^_`|~ / HTTP/1.1\r\n\r\n", "X!#$%&'*+.^_`|~ / N ka"),
    H_CASE("ok no length, no body", Q, "DELETE /x HTTP/1.1\r\n\r\n", "DELETE /x N ka"),
    H_CASE("ok CL zero", Q, "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "POST / L0 ka"),
    H_CASE("ok leading CRLF", Q, "\r\nGET / HTTP/1.1\r\n\r\n", "GET / N ka"),
    H_CASE("H5.3 pipelined requests", Q, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", "GET /a N ka | GET /b N ka"),
    H_CASE("H5.3 body then next request", Q, "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n",
           "POST / L5 ka [hello] | GET / N ka"),
    /* request line errors */
    H_CASE("3 double space before target", Q, "GET  / HTTP/1.1\r\n\r\n", "!BAD_REQUEST_LINE"),
    H_CASE("3 double space before version", Q, "GET /  HTTP/1.1\r\n\r\n", "!BAD_REQUEST_LINE"),
    H_CASE("3 leading space", Q, " GET / HTTP/1.1\r\n\r\n", "!BAD_REQUEST_LINE"),
    H_CASE("3 trailing space", Q, "GET / HTTP/1.1 \r\n\r\n", "!BAD_REQUEST_LINE"),
    H_CASE("3 HTTP/0.9 line", Q, "GET /\r\n\r\n", "!BAD_REQUEST_LINE"),
    H_CASE("3 method only", Q, "GET\r\n\r\n", "!BAD_REQUEST_LINE"),
    H_CASE("3 lowercase version", Q, "GET / http/1.1\r\n\r\n", "!BAD_REQUEST_LINE"),
    H_CASE("3 version letters", Q, "GET / HTTP/1.x\r\n\r\n", "!BAD_REQUEST_LINE"),
    H_CASE("3 HTTP/2.0", Q, "GET / HTTP/2.0\r\n\r\n", "!BAD_VERSION"),
    H_CASE("3 HTTP/3.0", Q, "GET / HTTP/3.0\r\n\r\n", "!BAD_VERSION"),
    H_CASE("H6.1 separator in method", Q, "G(T / HTTP/1.1\r\n\r\n", "!BAD_METHOD"),
    H_CASE("H6.1 tab after method", Q, "GET\t/ HTTP/1.1\r\n\r\n", "!BAD_METHOD"),
    H_CASE("H6.1 NUL in method", Q, "GE\0T / HTTP/1.1\r\n\r\n", "!BAD_METHOD"),
    H_CASE("H6.2 DEL in target", Q, "GET /a\x7f HTTP/1.1\r\n\r\n", "!BAD_TARGET"),
    H_CASE("H6.2 non-ASCII target", Q, "GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", "!BAD_TARGET"),
    H_CASE("H6.2 tab in target", Q, "GET /a\tb HTTP/1.1\r\n\r\n", "!BAD_TARGET"),
    H_CASE("H6.2 NUL in target", Q, "GET /a\0b HTTP/1.1\r\n\r\n", "!BAD_TARGET"),
    H_CASE("H4.2 LF-only request", Q, "GET / HTTP/1.1\nHost: a\n\n", "!BARE_LF"),
    H_CASE("H4.2 LF ends the head", Q, "GET / HTTP/1.1\r\nHost: a\r\n\n", "!BARE_LF"),
    H_CASE("H4.3 bare CR in request line", Q, "GET / HTTP/1.1\rHost: a\r\n\r\n", "!BARE_CR"),
    H_CASE("H4.3 bare CR in value", Q, "GET / HTTP/1.1\r\nX: a\rTransfer-Encoding: chunked\r\n\r\n", "!BARE_CR"),
    H_CASE("H4.4 whitespace before first field", Q, "GET / HTTP/1.1\r\n Host: a\r\n\r\n", "!LEADING_WS"),
    H_CASE("H4.5 space before colon", Q, "GET / HTTP/1.1\r\nHost : a\r\n\r\n", "!WS_BEFORE_COLON"),
    H_CASE("H4.5 TE with space before colon", Q,
           "POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\nContent-Length: 3\r\n\r\nabc", "!WS_BEFORE_COLON"),
    H_CASE("H4.7 obs-fold in request", Q, "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", "!OBS_FOLD"),
    H_CASE("H4.6 NUL in value", Q, "GET / HTTP/1.1\r\nX: \0\r\n\r\n", "!BAD_HEADER_VALUE"),
    /* 3.7: framing a server must refuse */
    H_CASE("H1.3 CL.TE smuggling", Q,
           "POST / HTTP/1.1\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", "!CL_AND_TE"),
    H_CASE("H1.3 TE.CL smuggling", Q,
           "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
           "!CL_AND_TE"),
    H_CASE("H1.5 request gzip only", Q, "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "!TE_NOT_CHUNKED"),
    H_CASE("H1.5 request chunked not final", Q, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
           "!TE_NOT_CHUNKED"),
    H_CASE("H1.5 request chunked then other line", Q,
           "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n", "!TE_NOT_CHUNKED"),
    H_CASE("H3.9 request xchunked", Q, "POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n", "!TE_NOT_CHUNKED"),
    H_CASE("H3.9 request chunkedchunked", Q, "POST / HTTP/1.1\r\nTransfer-Encoding: chunkedchunked\r\n\r\n",
           "!TE_NOT_CHUNKED"),
    H_CASE("D5 request gzip then chunked", Q, "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
           "!TE_UNSUPPORTED"),
    H_CASE("H3.9 request chunked twice", Q, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
           "!BAD_TRANSFER_ENCODING"),
    H_CASE("H3.9 request empty TE", Q, "POST / HTTP/1.1\r\nTransfer-Encoding: \r\n\r\n", "!BAD_TRANSFER_ENCODING"),
    H_CASE("H1.9 request TE in HTTP/1.0", Q, "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
           "!TE_HTTP10"),
    H_CASE("H1.6 request different lengths", Q, "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
           "!CONTENT_LENGTH_CONFLICT"),
    H_CASE("H1.6 request same lengths", Q, "POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab",
           "POST / L2 ka [ab]"),
    H_CASE("H2.1 request negative length", Q, "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "!BAD_CONTENT_LENGTH"),
    H_CASE("H2.1 request plus length", Q, "POST / HTTP/1.1\r\nContent-Length: +2\r\n\r\nab", "!BAD_CONTENT_LENGTH"),
    H_CASE("H2.2 request huge length", Q, "POST / HTTP/1.1\r\nContent-Length: 100000000000\r\n\r\n",
           "!BODY_TOO_LARGE"),
    H_CASE("H3.1 request bad chunk", Q, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n",
           "POST / C ka | !BAD_CHUNK_SIZE"),
    H_CASE("H3.3 request LF in chunk", Q, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\na\r\n0\r\n\r\n",
           "POST / C ka | !BARE_LF"),
    H_CASE("H1.7 request truncated body", Q, "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab",
           "POST / L5 ka [ab] | !INCOMPLETE"),
    H_CASE("H1.7 request truncated head", Q, "GET / HTTP/1.1\r\nHost: a\r\n", "!INCOMPLETE"),
};

START_TEST(request_vector)
{
    h_check_case(NULL, &cases[_i]);
}
END_TEST

static Suite *parse_request_suite(void)
{
    Suite *s = suite_create("parse_request");
    TCase *tc = tcase_create("requests");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, request_vector, 0, (int)(sizeof cases / sizeof cases[0]));
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(parse_request_suite)
