/* httperr.h - the http/ layer's own error codes: why a URL or a message was
 * refused, one code per rule, so a caller (and a test) can tell a smuggling
 * attempt from a merely long header.
 *
 * Like the rest of coloop, http/ returns them negated (-HTTP_E_CL_AND_TE).
 * They start at HTTP_ERR_BASE, above net/'s range, so they can later be merged
 * into co_strerror() unchanged; the range is HTTP_ERR_BASE+1 .. HTTP_ERR_END-1.
 * http_strerror() answers for every code: its own, then co_strerror().
 */
#ifndef COLOOP_HTTP_HTTPERR_H
#define COLOOP_HTTP_HTTPERR_H

enum http_error {
    HTTP_ERR_BASE = 12000,
    /* end of input */
    HTTP_E_INCOMPLETE,          /* 12001 closed before the end of a head or a length/chunk-delimited body */
    HTTP_E_CLOSED,              /* 12002 closed between messages, before any byte of the next one */
    /* start line */
    HTTP_E_BAD_STATUS_LINE,     /* 12003 not HTTP/d.d SP 3DIGIT [SP reason] */
    HTTP_E_BAD_STATUS_CODE,     /* 12004 status outside 100..599 */
    HTTP_E_BAD_VERSION,         /* 12005 an HTTP version other than 1.x */
    HTTP_E_BAD_REQUEST_LINE,    /* 12006 not method SP target SP HTTP/d.d */
    HTTP_E_BAD_METHOD,          /* 12007 the method is not a token */
    HTTP_E_BAD_TARGET,          /* 12008 a byte outside 0x21..0x7E in the request target */
    HTTP_E_TARGET_TOO_LONG,     /* 12009 the request line exceeds the line limit (server: 414) */
    /* line structure */
    HTTP_E_BARE_LF,             /* 12010 LF without CR */
    HTTP_E_BARE_CR,             /* 12011 CR not followed by LF */
    HTTP_E_LINE_TOO_LONG,       /* 12012 a line exceeds the line limit */
    HTTP_E_HEADER_TOO_LARGE,    /* 12013 the head (or trailer section) exceeds the head limit */
    /* field lines */
    HTTP_E_LEADING_WS,          /* 12014 whitespace before the first field line */
    HTTP_E_OBS_FOLD,            /* 12015 a field line continued on the next line */
    HTTP_E_BAD_HEADER_NAME,     /* 12016 field name empty, not a token, or no colon */
    HTTP_E_WS_BEFORE_COLON,     /* 12017 whitespace between the field name and the colon */
    HTTP_E_BAD_HEADER_VALUE,    /* 12018 NUL or another control byte in a field value */
    HTTP_E_TOO_MANY_HEADERS,    /* 12019 more field lines than the caller's array holds */
    /* message length (RFC 9112 6.3) */
    HTTP_E_BAD_CONTENT_LENGTH,  /* 12020 Content-Length not 1*DIGIT */
    HTTP_E_CONTENT_LENGTH_CONFLICT, /* 12021 several different Content-Length values */
    HTTP_E_CL_AND_TE,           /* 12022 Transfer-Encoding and Content-Length both present */
    HTTP_E_BAD_TRANSFER_ENCODING, /* 12023 empty or malformed Transfer-Encoding, chunked twice */
    HTTP_E_TE_NOT_CHUNKED,      /* 12024 request whose final transfer coding is not chunked (400) */
    HTTP_E_TE_UNSUPPORTED,      /* 12025 request with a transfer coding other than chunked (501) */
    HTTP_E_TE_HTTP10,           /* 12026 Transfer-Encoding in an HTTP/1.0 message */
    HTTP_E_BODY_TOO_LARGE,      /* 12027 the body exceeds the body limit */
    /* chunked coding (RFC 9112 7.1) */
    HTTP_E_BAD_CHUNK_SIZE,      /* 12028 chunk size not 1*HEXDIG */
    HTTP_E_CHUNK_SIZE_OVERFLOW, /* 12029 more than 16 hex digits */
    HTTP_E_BAD_CHUNK_EXT,       /* 12030 chunk extension off the grammar */
    HTTP_E_CHUNK_EXT_TOO_LONG,  /* 12031 too many extension bytes on one chunk line */
    HTTP_E_CHUNK_OVERHEAD,      /* 12032 too much framing for the data it carries */
    HTTP_E_BAD_CHUNK_END,       /* 12033 chunk data not followed by exactly CRLF */
    /* responses as a client sees them */
    HTTP_E_TOO_MANY_INTERIM,    /* 12034 more 1xx responses than the limit */
    HTTP_E_UPGRADE_REFUSED,     /* 12035 101 Switching Protocols, which coloop never asks for */
    HTTP_E_CONNECT_UNSUPPORTED, /* 12036 a 2xx answer to CONNECT (a tunnel) */
    /* URLs */
    HTTP_E_URL_TOO_LONG,        /* 12037 URL longer than HTTP_URL_MAX */
    HTTP_E_URL_SCHEME,          /* 12038 no scheme, or not http/https */
    HTTP_E_URL_USERINFO,        /* 12039 user:password@ in the URL */
    HTTP_E_URL_HOST,            /* 12040 missing or invalid host */
    HTTP_E_URL_IPV6,            /* 12041 invalid IPv6 literal */
    HTTP_E_URL_PORT,            /* 12042 port not 1..65535 digits */
    HTTP_E_URL_PERCENT,         /* 12043 % not followed by two hex digits */
    HTTP_E_URL_CHAR,            /* 12044 a control byte in the URL */
    HTTP_ERR_END
};

/* Words for any code http/ returns (negative or positive): its own codes
 * name the rule and where it comes from; everything else goes through
 * co_strerror().  Static string, never free.  Never suspends. */
const char *http_strerror(int code);

#endif
