/* httperr.c - words for the http/ error codes (see httperr.h).  Each message
 * says what was wrong and names the rule it breaks, so a log line is enough
 * to find the paragraph of RFC 9112/9110/3986 (or the coloop decision) behind
 * a refusal.  Codes outside the range go to co_strerror(). */
#include "http/httperr.h"
#include <stddef.h>
#include "runtime/error.h"

static const char *const http_messages[] = {
    [HTTP_E_INCOMPLETE - HTTP_ERR_BASE] =
        "connection closed before the end of the message (RFC 9112 8, incomplete message)",
    [HTTP_E_CLOSED - HTTP_ERR_BASE] =
        "connection closed between messages, before any byte of the next one",
    [HTTP_E_BAD_STATUS_LINE - HTTP_ERR_BASE] =
        "malformed status line: want HTTP/d.d SP 3DIGIT SP reason (RFC 9112 4)",
    [HTTP_E_BAD_STATUS_CODE - HTTP_ERR_BASE] =
        "status code outside 100..599 (RFC 9110 15)",
    [HTTP_E_BAD_VERSION - HTTP_ERR_BASE] =
        "HTTP version other than 1.x (RFC 9112 2.3; server: 505)",
    [HTTP_E_BAD_REQUEST_LINE - HTTP_ERR_BASE] =
        "malformed request line: want method SP target SP HTTP/d.d (RFC 9112 3)",
    [HTTP_E_BAD_METHOD - HTTP_ERR_BASE] =
        "request method is not a token (RFC 9112 3.1)",
    [HTTP_E_BAD_TARGET - HTTP_ERR_BASE] =
        "request target has a byte outside 0x21..0x7E (RFC 9112 3.2)",
    [HTTP_E_TARGET_TOO_LONG - HTTP_ERR_BASE] =
        "request line longer than the line limit (RFC 9112 3; server: 414)",
    [HTTP_E_BARE_LF - HTTP_ERR_BASE] =
        "line ended by LF without CR (RFC 9112 2.2; coloop is strict, decision H4.2)",
    [HTTP_E_BARE_CR - HTTP_ERR_BASE] =
        "CR not followed by LF (RFC 9112 2.2, bare CR is invalid)",
    [HTTP_E_LINE_TOO_LONG - HTTP_ERR_BASE] =
        "line longer than the line limit (RFC 9110 5.4)",
    [HTTP_E_HEADER_TOO_LARGE - HTTP_ERR_BASE] =
        "header or trailer section larger than the head limit (RFC 9110 5.4)",
    [HTTP_E_LEADING_WS - HTTP_ERR_BASE] =
        "whitespace between the start line and the first field line (RFC 9112 2.2)",
    [HTTP_E_OBS_FOLD - HTTP_ERR_BASE] =
        "obsolete line folding in a field (RFC 9112 5.2; coloop rejects it, decision H4.7)",
    [HTTP_E_BAD_HEADER_NAME - HTTP_ERR_BASE] =
        "field name empty, not a token, or no colon (RFC 9110 5.1)",
    [HTTP_E_WS_BEFORE_COLON - HTTP_ERR_BASE] =
        "whitespace between field name and colon (RFC 9112 5.1, request smuggling)",
    [HTTP_E_BAD_HEADER_VALUE - HTTP_ERR_BASE] =
        "NUL or control byte in a field value (RFC 9110 5.5)",
    [HTTP_E_TOO_MANY_HEADERS - HTTP_ERR_BASE] =
        "more field lines than the limit (RFC 9110 5.4)",
    [HTTP_E_BAD_CONTENT_LENGTH - HTTP_ERR_BASE] =
        "Content-Length is not 1*DIGIT (RFC 9110 8.6; RFC 9112 6.3 item 5)",
    [HTTP_E_CONTENT_LENGTH_CONFLICT - HTTP_ERR_BASE] =
        "several different Content-Length values (RFC 9112 6.3 item 5, request smuggling)",
    [HTTP_E_CL_AND_TE - HTTP_ERR_BASE] =
        "Transfer-Encoding and Content-Length both present (RFC 9112 6.3, request smuggling; decision H1.3)",
    [HTTP_E_BAD_TRANSFER_ENCODING - HTTP_ERR_BASE] =
        "Transfer-Encoding empty, malformed, or chunked more than once (RFC 9112 6.1)",
    [HTTP_E_TE_NOT_CHUNKED - HTTP_ERR_BASE] =
        "request whose final transfer coding is not chunked (RFC 9112 6.3 item 4; server: 400)",
    [HTTP_E_TE_UNSUPPORTED - HTTP_ERR_BASE] =
        "request with a transfer coding other than chunked (RFC 9112 6.1; server: 501)",
    [HTTP_E_TE_HTTP10 - HTTP_ERR_BASE] =
        "Transfer-Encoding in an HTTP/1.0 message, framing is faulty (RFC 9112 6.1)",
    [HTTP_E_BODY_TOO_LARGE - HTTP_ERR_BASE] =
        "body larger than the body limit",
    [HTTP_E_BAD_CHUNK_SIZE - HTTP_ERR_BASE] =
        "chunk size is not 1*HEXDIG (RFC 9112 7.1)",
    [HTTP_E_CHUNK_SIZE_OVERFLOW - HTTP_ERR_BASE] =
        "chunk size has more than 16 hex digits (RFC 9112 7.1, integer overflow)",
    [HTTP_E_BAD_CHUNK_EXT - HTTP_ERR_BASE] =
        "malformed chunk extension (RFC 9112 7.1.1)",
    [HTTP_E_CHUNK_EXT_TOO_LONG - HTTP_ERR_BASE] =
        "chunk extension longer than the limit (RFC 9112 7.1.1)",
    [HTTP_E_CHUNK_OVERHEAD - HTTP_ERR_BASE] =
        "chunked framing too large for the data it carries (RFC 9112 7.1.1, resource exhaustion)",
    [HTTP_E_BAD_CHUNK_END - HTTP_ERR_BASE] =
        "chunk data not followed by CRLF (RFC 9112 7.1)",
    [HTTP_E_TOO_MANY_INTERIM - HTTP_ERR_BASE] =
        "too many 1xx interim responses (RFC 9110 15.2)",
    [HTTP_E_UPGRADE_REFUSED - HTTP_ERR_BASE] =
        "101 Switching Protocols without an Upgrade request (RFC 9110 7.8)",
    [HTTP_E_CONNECT_UNSUPPORTED - HTTP_ERR_BASE] =
        "2xx answer to CONNECT opens a tunnel, which coloop does not support (RFC 9112 6.3 item 2)",
    [HTTP_E_URL_TOO_LONG - HTTP_ERR_BASE] =
        "URL longer than the limit",
    [HTTP_E_URL_SCHEME - HTTP_ERR_BASE] =
        "URL scheme missing or not http/https",
    [HTTP_E_URL_USERINFO - HTTP_ERR_BASE] =
        "URL contains user:password@; coloop does not send credentials taken from URLs "
        "(pass an Authorization header instead)",
    [HTTP_E_URL_HOST - HTTP_ERR_BASE] =
        "URL host missing or invalid (letters, digits, '-', '.', '_'; IPv4 as d.d.d.d)",
    [HTTP_E_URL_IPV6 - HTTP_ERR_BASE] =
        "invalid IPv6 literal in URL (RFC 3986 3.2.2; zone ids are not supported)",
    [HTTP_E_URL_PORT - HTTP_ERR_BASE] =
        "URL port is not a number in 1..65535",
    [HTTP_E_URL_PERCENT - HTTP_ERR_BASE] =
        "URL has % not followed by two hex digits (RFC 3986 2.1)",
    [HTTP_E_URL_CHAR - HTTP_ERR_BASE] =
        "URL contains a control byte (CR, LF, NUL, ...)",
};

const char *http_strerror(int code)
{
    int c = code < 0 ? -code : code;
    if (c > HTTP_ERR_BASE && c < HTTP_ERR_END)
        return http_messages[c - HTTP_ERR_BASE];
    return co_strerror(code);
}

/* The parser's codes answer through co_strerror() too, so a program that
 * links only the parser (no client) still gets words for them. */
static const char *describe_parser_code(int code)
{
    return code > HTTP_ERR_BASE && code < HTTP_ERR_END ? http_messages[code - HTTP_ERR_BASE]
                                                      : NULL;
}

__attribute__((constructor)) static void register_parser_errors(void)
{
    co_error_register_domain(HTTP_ERR_BASE + 1, HTTP_ERR_END - 1, describe_parser_code);
}
