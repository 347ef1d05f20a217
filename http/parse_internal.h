/* parse_internal.h - what the parser's files share and callers do not see:
 * parse.c (heads, field sections, the scanner), framing.c (message length
 * and connection rules) and chunked.c (bodies). */
#ifndef COLOOP_HTTP_PARSE_INTERNAL_H
#define COLOOP_HTTP_PARSE_INTERNAL_H

#include "http/parse.h"

/* framing.c: apply RFC 9112 6.3 to p->head (fields already parsed): set
 * framing, content_length, keep_alive, te_other.  0 or -HTTP_E_... */
int http_framing_decide(struct http_parser *p);

/* parse.c: the last chunk was read; a trailer section follows. */
void http_trailers_begin(struct http_parser *p);

/* parse.c: the trailer section of a chunked body, restartable like a head:
 * buf starts at the section's first byte.  Returns its length when complete
 * (trailers stored in p->trailers), 0 when more bytes are needed, or
 * -HTTP_E_... */
int http_trailers_parse(struct http_parser *p, const char *buf, size_t len);

#endif
