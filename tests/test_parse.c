/* test_parse.c - the response parser, as a table of vectors written from the
 * rules of RFC 9112/9110 and RELIABILITY.md section 3 (the rule ID starts
 * each name).  Every vector runs in every feeding mode of http_harness.h:
 * whole, byte by byte, split at every position and pair of positions,
 * pipelined three times, each piece against an unreadable page.
 * At the end, every input the fuzzers (tests/fuzz) found, kept as a
 * regression.  Requests are in test_parse_request.c, chunked bodies in
 * test_chunked.c, limits and helpers in test_parse_misc.c. */
#include "tests/http_harness.h"
#include "tests/support.h"

#define R H_RESP
#define CL0 "Content-Length: 0\r\n"

static const struct h_case cases[] = {
    /* the everyday cases */
    H_CASE("ok length", R, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "200 L5 ka [hello]"),
    H_CASE("ok empty length", R, "HTTP/1.1 200 OK\r\n" CL0 "\r\n", "200 L0 ka"),
    H_CASE("ok several fields", R, "HTTP/1.1 200 OK\r\nServer: x\r\nDate: y\r\nContent-Length: 2\r\n\r\nhi",
           "200 L2 ka [hi]"),
    H_CASE("ok 404", R, "HTTP/1.1 404 Not Found\r\n" CL0 "\r\n", "404 L0 ka"),
    H_CASE("ok 599", R, "HTTP/1.1 599 Whatever\r\n" CL0 "\r\n", "599 L0 ka"),
    H_CASE("ok body with CRLFs", R, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n\r\n\r\n", "200 L4 ka [\r\n\r\n]"),
    H_CASE("ok value OWS trimmed", R, "HTTP/1.1 200 OK\r\nContent-Length: \t 3 \t\r\n\r\nabc", "200 L3 ka [abc]"),
    H_CASE("ok no space after colon", R, "HTTP/1.1 200 OK\r\nContent-Length:3\r\n\r\nabc", "200 L3 ka [abc]"),
    H_CASE("ok field name case", R, "HTTP/1.1 200 OK\r\ncOnTeNt-LeNgTh: 3\r\n\r\nabc", "200 L3 ka [abc]"),
    H_CASE("ok empty value", R, "HTTP/1.1 200 OK\r\nX-Empty:\r\nX-Blank:   \r\n" CL0 "\r\n", "200 L0 ka"),
    H_CASE("H4.1 obs-text value", R, "HTTP/1.1 200 OK\r\nX: \xff\xfe\x80 caf\xc3\xa9\r\n" CL0 "\r\n", "200 L0 ka"),
    H_CASE("H4.1 obs-text reason", R, "HTTP/1.1 200 \xc3\x89t\xc3\xa9\r\n" CL0 "\r\n", "200 L0 ka"),
    H_CASE("H4.1 HTAB in value", R, "HTTP/1.1 200 OK\r\nX: a\tb\r\n" CL0 "\r\n", "200 L0 ka"),
    H_CASE("D1 status without reason", R, "HTTP/1.1 200\r\n" CL0 "\r\n", "200 L0 ka"),
    H_CASE("D1 empty reason", R, "HTTP/1.1 200 \r\n" CL0 "\r\n", "200 L0 ka"),
    H_CASE("H4.8 reason with spaces", R, "HTTP/1.1 200  all  good \r\n" CL0 "\r\n", "200 L0 ka"),
    H_CASE("H4.8 HTTP/1.2 read as 1.x", R, "HTTP/1.2 200 OK\r\n" CL0 "\r\n", "200 L0 ka"),
    H_CASE("D2 leading empty line", R, "\r\nHTTP/1.1 200 OK\r\n" CL0 "\r\n", "200 L0 ka"),
    H_CASE("D2 four leading empty lines", R, "\r\n\r\n\r\n\r\nHTTP/1.1 200 OK\r\n" CL0 "\r\n", "200 L0 ka"),
    H_CASE("D2 five leading empty lines", R, "\r\n\r\n\r\n\r\n\r\nHTTP/1.1 200 OK\r\n" CL0 "\r\n",
           "!BAD_STATUS_LINE"),
    /* keep-alive (RFC 9112 9.3) */
    H_CASE("H5.4 1.1 persists", R, "HTTP/1.1 200 OK\r\n" CL0 "\r\n", "200 L0 ka"),
    H_CASE("H5.4 close", R, "HTTP/1.1 200 OK\r\nConnection: close\r\n" CL0 "\r\n", "200 L0 cl"),
    H_CASE("H5.4 close any case", R, "HTTP/1.1 200 OK\r\nConnection: CLOSE\r\n" CL0 "\r\n", "200 L0 cl"),
    H_CASE("H5.4 close in a list", R, "HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\n" CL0 "\r\n",
           "200 L0 cl"),
    H_CASE("H5.4 close on a second line", R,
           "HTTP/1.1 200 OK\r\nConnection: foo\r\nConnection: close\r\n" CL0 "\r\n", "200 L0 cl"),
    H_CASE("H5.4 closed is not close", R, "HTTP/1.1 200 OK\r\nConnection: closed\r\n" CL0 "\r\n", "200 L0 ka"),
    H_CASE("H5.4 1.0 closes", R, "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc", "200 1.0 L3 cl [abc]"),
    H_CASE("H5.4 1.0 keep-alive", R, "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 3\r\n\r\nabc",
           "200 1.0 L3 ka [abc]"),
    H_CASE("H5.4 1.0 keep-alive and close", R,
           "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nConnection: close\r\n" CL0 "\r\n", "200 1.0 L0 cl"),
    /* H1.1: no body for HEAD, 1xx, 204, 304 */
    H_CASE("H1.1 HEAD ignores length", H_RESP_HEAD, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "200 N ka"),
    H_CASE("H1.1 HEAD ignores chunked", H_RESP_HEAD, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
           "200 N ka"),
    H_CASE("H1.1 HEAD without length", H_RESP_HEAD, "HTTP/1.1 200 OK\r\n\r\n", "200 N ka"),
    H_CASE("H1.1 204 ignores length", R, "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", "204 N ka"),
    H_CASE("H1.1 304 ignores chunked", R, "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
           "304 N ka"),
    H_CASE("H1.1 204 then next", R, "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\n" CL0 "\r\n",
           "204 N ka | 200 L0 ka"),
    /* H5.1-H5.2: interim responses */
    H_CASE("H5.1 100 then final", R, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
           "100 N ka | 200 L2 ka [ok]"),
    H_CASE("H5.1 100 and 103 then final", R,
           "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
           "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "100 N ka | 103 N ka | 200 L2 ka [ok]"),
    H_CASE("H5.1 1xx length ignored", R, "HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\nHTTP/1.1 204 No\r\n\r\n",
           "100 N ka | 204 N ka"),
    H_CASE("H5.1 interim cap", R,
           "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
           "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
           "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n",
           "100 N ka | 100 N ka | 100 N ka | 100 N ka | 100 N ka | 100 N ka | 100 N ka | 100 N ka"
           " | !TOO_MANY_INTERIM"),
    H_CASE("H5.1 interim only then EOF", R, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 2", "100 N ka | !INCOMPLETE"),
    H_CASE("H5.2 101 refused", R, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
           "101 N cl | !UPGRADE_REFUSED"),
    /* H1.2: CONNECT */
    H_CASE("H1.2 CONNECT 2xx is a tunnel", H_RESP_CONNECT, "HTTP/1.1 200 Connection established\r\n\r\n",
           "!CONNECT_UNSUPPORTED"),
    H_CASE("H1.2 CONNECT refused is a response", H_RESP_CONNECT, "HTTP/1.1 407 Auth\r\n" CL0 "\r\n", "407 L0 ka"),
    /* H1.3: both Transfer-Encoding and Content-Length */
    H_CASE("H1.3 CL then TE", R, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
           "!CL_AND_TE"),
    H_CASE("H1.3 TE then CL", R, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
           "!CL_AND_TE"),
    H_CASE("H1.3 TE identity with CL", R, "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\nContent-Length: 1\r\n\r\n",
           "!CL_AND_TE"),
    H_CASE("H1.3 TE not chunked with CL", R, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: gzip\r\n\r\n",
           "!CL_AND_TE"),
    /* H1.4-H1.5, H3.9: Transfer-Encoding */
    H_CASE("H1.4 chunked", R, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
           "200 C ka [hello]"),
    H_CASE("H3.9 chunked any case", R, "HTTP/1.1 200 OK\r\nTransfer-Encoding: ChUnKeD\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
           "200 C ka [hi]"),
    H_CASE("H1.4 gzip then chunked", R,
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", "200 C ka te [hi]"),
    H_CASE("H3.9 TE lines form one list", R,
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
           "200 C ka te [hi]"),
    H_CASE("H3.9 empty list element ignored", R,
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: , chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", "200 C ka [hi]"),
    H_CASE("H1.5 chunked not final reads to close", R,
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, deflate\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
           "200 X cl te [2\r\nhi\r\n0\r\n\r\n]"),
    H_CASE("H1.5 gzip alone reads to close", R, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzzz",
           "200 X cl te [zzz]"),
    H_CASE("H1.5 chunked then gzip lines", R,
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\nraw", "200 X cl te [raw]"),
    H_CASE("H3.9 chunkedchunked is not chunked", R,
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunkedchunked\r\n\r\n2\r\nhi", "200 X cl te [2\r\nhi]"),
    H_CASE("H3.9 chunked twice", R, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
           "!BAD_TRANSFER_ENCODING"),
    H_CASE("H3.9 chunked twice on two lines", R,
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
           "!BAD_TRANSFER_ENCODING"),
    H_CASE("H3.9 empty TE", R, "HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n", "!BAD_TRANSFER_ENCODING"),
    H_CASE("H3.9 TE of commas only", R, "HTTP/1.1 200 OK\r\nTransfer-Encoding: , ,\r\n\r\n",
           "!BAD_TRANSFER_ENCODING"),
    H_CASE("D4 TE with parameters", R, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;q=1\r\n\r\n",
           "!BAD_TRANSFER_ENCODING"),
    H_CASE("D4 TE element not a token", R, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked x\r\n\r\n",
           "!BAD_TRANSFER_ENCODING"),
    H_CASE("H1.9 TE in HTTP/1.0", R, "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "!TE_HTTP10"),
    H_CASE("H1.9 TE in HTTP/1.0 with CL", R,
           "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", "!TE_HTTP10"),
    /* H1.6, H2.x: Content-Length */
    H_CASE("H1.6 identical list", R, "HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabc", "200 L3 ka [abc]"),
    H_CASE("H1.6 identical lines", R, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
           "200 L3 ka [abc]"),
    H_CASE("H1.6 same number, leading zero", R, "HTTP/1.1 200 OK\r\nContent-Length: 3,003\r\n\r\nabc",
           "200 L3 ka [abc]"),
    H_CASE("H1.6 different list", R, "HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\nabcd",
           "!CONTENT_LENGTH_CONFLICT"),
    H_CASE("H1.6 different lines", R, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
           "!CONTENT_LENGTH_CONFLICT"),
    H_CASE("H1.6 empty list element", R, "HTTP/1.1 200 OK\r\nContent-Length: 3,,3\r\n\r\nabc", "!BAD_CONTENT_LENGTH"),
    H_CASE("H2.1 plus sign", R, "HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\nabc", "!BAD_CONTENT_LENGTH"),
    H_CASE("H2.1 minus sign", R, "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "!BAD_CONTENT_LENGTH"),
    H_CASE("H2.1 hex", R, "HTTP/1.1 200 OK\r\nContent-Length: 0x3\r\n\r\nabc", "!BAD_CONTENT_LENGTH"),
    H_CASE("H2.1 space inside", R, "HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n", "!BAD_CONTENT_LENGTH"),
    H_CASE("H2.1 empty value", R, "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", "!BAD_CONTENT_LENGTH"),
    H_CASE("H2.1 trailing letter", R, "HTTP/1.1 200 OK\r\nContent-Length: 3a\r\n\r\nabc", "!BAD_CONTENT_LENGTH"),
    H_CASE("H2.1 decimal point", R, "HTTP/1.1 200 OK\r\nContent-Length: 3.0\r\n\r\nabc", "!BAD_CONTENT_LENGTH"),
    H_CASE("H2.2 overflow", R, "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999999\r\n\r\n",
           "!BODY_TOO_LARGE"),
    H_CASE("H2.2 2^64", R, "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n", "!BODY_TOO_LARGE"),
    H_CASE("H2.2 above body limit", R, "HTTP/1.1 200 OK\r\nContent-Length: 67108865\r\n\r\n", "!BODY_TOO_LARGE"),
    H_CASE("H2.2 at body limit", R, "HTTP/1.1 200 OK\r\nContent-Length: 67108864\r\n\r\nab",
           "200 L67108864 ka [ab] | !INCOMPLETE"),
    /* H1.7-H1.8, H3.8: where the body ends */
    H_CASE("H1.7 EOF inside a length body", R, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello",
           "200 L10 ka [hello] | !INCOMPLETE"),
    H_CASE("H1.7 EOF inside the head", R, "HTTP/1.1 200 OK\r\nContent-Le", "!INCOMPLETE"),
    H_CASE("H1.7 EOF before the empty line", R, "HTTP/1.1 200 OK\r\n" CL0, "!INCOMPLETE"),
    H_CASE("H1.7 EOF after CR", R, "HTTP/1.1 200 OK\r", "!INCOMPLETE"),
    H_CASE("H1.8 close-delimited", R, "HTTP/1.1 200 OK\r\n\r\nhello world", "200 X cl [hello world]"),
    H_CASE("H1.8 close-delimited empty", R, "HTTP/1.1 200 OK\r\n\r\n", "200 X cl"),
    H_CASE("H1.8 close-delimited 1.0", R, "HTTP/1.0 200 OK\r\n\r\nabc", "200 1.0 X cl [abc]"),
    H_CASE("H5.3 pipelined responses", R,
           "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 404 No\r\nContent-Length: 2\r\n\r\nbc",
           "200 L1 ka [a] | 404 L2 ka [bc]"),
    /* H4.8: status line */
    H_CASE("H4.8 lowercase http", R, "http/1.1 200 OK\r\n" CL0 "\r\n", "!BAD_STATUS_LINE"),
    H_CASE("H4.8 two spaces", R, "HTTP/1.1  200 OK\r\n" CL0 "\r\n", "!BAD_STATUS_LINE"),
    H_CASE("H4.8 tab separator", R, "HTTP/1.1\t200 OK\r\n" CL0 "\r\n", "!BAD_STATUS_LINE"),
    H_CASE("H4.8 two digits", R, "HTTP/1.1 20 OK\r\n" CL0 "\r\n", "!BAD_STATUS_LINE"),
    H_CASE("H4.8 four digits", R, "HTTP/1.1 2000 OK\r\n" CL0 "\r\n", "!BAD_STATUS_LINE"),
    H_CASE("H4.8 letter in status", R, "HTTP/1.1 2x0 OK\r\n" CL0 "\r\n", "!BAD_STATUS_LINE"),
    H_CASE("H4.8 no space before reason", R, "HTTP/1.1 200OK\r\n" CL0 "\r\n", "!BAD_STATUS_LINE"),
    H_CASE("H4.8 status 099", R, "HTTP/1.1 099 Low\r\n" CL0 "\r\n", "!BAD_STATUS_CODE"),
    H_CASE("H4.8 status 600", R, "HTTP/1.1 600 High\r\n" CL0 "\r\n", "!BAD_STATUS_CODE"),
    H_CASE("H4.8 status 000", R, "HTTP/1.1 000 Zero\r\n" CL0 "\r\n", "!BAD_STATUS_CODE"),
    H_CASE("H4.8 HTTP/2.0", R, "HTTP/2.0 200 OK\r\n" CL0 "\r\n", "!BAD_VERSION"),
    H_CASE("H4.8 HTTP/0.9", R, "HTTP/0.9 200 OK\r\n" CL0 "\r\n", "!BAD_VERSION"),
    H_CASE("H4.8 HTTP/1", R, "HTTP/1 200 OK\r\n" CL0 "\r\n", "!BAD_STATUS_LINE"),
    H_CASE("H4.8 HTTP/1.10", R, "HTTP/1.10 200 OK\r\n" CL0 "\r\n", "!BAD_STATUS_LINE"),
    H_CASE("H4.8 leading space", R, " HTTP/1.1 200 OK\r\n" CL0 "\r\n", "!BAD_STATUS_LINE"),
    H_CASE("H4.8 not HTTP", R, "ICY 200 OK\r\n" CL0 "\r\n", "!BAD_STATUS_LINE"),
    H_CASE("H4.8 request line to a client", R, "GET / HTTP/1.1\r\n\r\n", "!BAD_STATUS_LINE"),
    H_CASE("H4.1 NUL in reason", R, "HTTP/1.1 200 O\0K\r\n" CL0 "\r\n", "!BAD_STATUS_LINE"),
    H_CASE("H4.6 control in reason", R, "HTTP/1.1 200 O\x01K\r\n" CL0 "\r\n", "!BAD_STATUS_LINE"),
    H_CASE("H4.1 NUL at start", R, "\0HTTP/1.1 200 OK\r\n" CL0 "\r\n", "!BAD_STATUS_LINE"),
    H_CASE("H4.8 status line only", R, "HTTP/1.1 200 OK", "!INCOMPLETE"),
    /* H4.2-H4.3: line ends */
    H_CASE("H4.2 LF-only head", R, "HTTP/1.1 200 OK\nContent-Length: 0\n\n", "!BARE_LF"),
    H_CASE("H4.2 LF after a field", R, "HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n", "!BARE_LF"),
    H_CASE("H4.2 LF as the empty line", R, "HTTP/1.1 200 OK\r\n" CL0 "\n", "!BARE_LF"),
    H_CASE("H4.2 leading bare LF", R, "\nHTTP/1.1 200 OK\r\n" CL0 "\r\n", "!BARE_LF"),
    H_CASE("H4.3 bare CR after status", R, "HTTP/1.1 200 OK\rContent-Length: 0\r\n\r\n", "!BARE_CR"),
    H_CASE("H4.3 CR splitting a value", R,
           "HTTP/1.1 200 OK\r\nX-Abc: \rxTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "!BARE_CR"),
    H_CASE("H4.3 CR CR LF", R, "HTTP/1.1 200 OK\r\n" CL0 "\r\r\n", "!BARE_CR"),
    H_CASE("H4.3 leading bare CR", R, "\rHTTP/1.1 200 OK\r\n" CL0 "\r\n", "!BARE_CR"),
    /* H4.4-H4.7: field lines */
    H_CASE("H4.4 space before first field", R, "HTTP/1.1 200 OK\r\n Content-Length: 0\r\n\r\n", "!LEADING_WS"),
    H_CASE("H4.4 tab before first field", R, "HTTP/1.1 200 OK\r\n\tX: y\r\n" CL0 "\r\n", "!LEADING_WS"),
    H_CASE("H4.5 space before colon", R, "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n", "!WS_BEFORE_COLON"),
    H_CASE("H4.5 tab before colon", R, "HTTP/1.1 200 OK\r\nTransfer-Encoding\t: chunked\r\n\r\n",
           "!WS_BEFORE_COLON"),
    H_CASE("H4.6 space inside name", R, "HTTP/1.1 200 OK\r\nContent Length: 0\r\n\r\n", "!WS_BEFORE_COLON"),
    H_CASE("H4.6 separator in name", R, "HTTP/1.1 200 OK\r\nX@Y: 1\r\n" CL0 "\r\n", "!BAD_HEADER_NAME"),
    H_CASE("H4.6 empty name", R, "HTTP/1.1 200 OK\r\n: value\r\n" CL0 "\r\n", "!BAD_HEADER_NAME"),
    H_CASE("H4.6 no colon", R, "HTTP/1.1 200 OK\r\nNoColonHere\r\n" CL0 "\r\n", "!BAD_HEADER_NAME"),
    H_CASE("H4.6 non-ASCII name", R, "HTTP/1.1 200 OK\r\nX-\xc3\xa9: 1\r\n" CL0 "\r\n", "!BAD_HEADER_NAME"),
    H_CASE("H4.1 NUL in name", R, "HTTP/1.1 200 OK\r\nX\0Y: 1\r\n" CL0 "\r\n", "!BAD_HEADER_NAME"),
    H_CASE("H4.6 NUL in value", R, "HTTP/1.1 200 OK\r\nX: a\0b\r\n" CL0 "\r\n", "!BAD_HEADER_VALUE"),
    H_CASE("H4.6 control in value", R, "HTTP/1.1 200 OK\r\nX: a\x01b\r\n" CL0 "\r\n", "!BAD_HEADER_VALUE"),
    H_CASE("H4.6 DEL in value", R, "HTTP/1.1 200 OK\r\nX: a\x7f\r\n" CL0 "\r\n", "!BAD_HEADER_VALUE"),
    H_CASE("H4.6 vertical tab in TE", R, "HTTP/1.1 200 OK\r\nTransfer-Encoding:\x0b" "chunked\r\n\r\n",
           "!BAD_HEADER_VALUE"),
    H_CASE("H4.7 obs-fold", R, "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n" CL0 "\r\n", "!OBS_FOLD"),
    H_CASE("H4.7 obs-fold with tab", R, "HTTP/1.1 200 OK\r\nX: a\r\n\tb\r\n" CL0 "\r\n", "!OBS_FOLD"),
    H_CASE("H4.7 obs-fold after chunked", R,
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n , identity\r\n\r\n0\r\n\r\n", "!OBS_FOLD"),
    H_CASE("H4.7 obs-fold extending a length", R, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n 0\r\n\r\n",
           "!OBS_FOLD"),
};

START_TEST(response_vector)
{
    h_check_case(NULL, &cases[_i]);
}
END_TEST

/* Inputs the fuzzers found (tests/fuzz), under the fuzzers' tiny limits:
 * head 200, line 40, body 100, extensions 8, 2 interims, 4 fields. */
static const struct h_case fuzz_cases[] = {
    /* fuzz_response: a close-delimited body over the limit delivered more
     * data before failing when it came in pieces than when it came whole */
    H_CASE("fuzz close body over limit after 1xx", R,
           "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
           "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
           "HTTP/1.1 100 Continu\xe6\r\n\r\n",
           "100 N ka | 200 X cl [HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n"
           "\r\nHTTP/1.1 100 Continue\r\n\r\n] | !BODY_TOO_LARGE"),       /* 4 x 25 bytes: the limit */
};

START_TEST(fuzz_regression)
{
    struct http_limits l;
    http_limits_default(&l);
    l.head_max = 200;
    l.line_max = 40;
    l.body_max = 100;
    l.chunk_ext_max = 8;
    l.interim_max = 2;
    struct h_config cfg = { &l, 4 };
    h_check_case(&cfg, &fuzz_cases[_i]);
}
END_TEST

static Suite *parse_suite(void)
{
    Suite *s = suite_create("parse");
    TCase *tc = tcase_create("responses");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, response_vector, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_loop_test(tc, fuzz_regression, 0, (int)(sizeof fuzz_cases / sizeof fuzz_cases[0]));
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(parse_suite)
