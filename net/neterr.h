/* neterr.h - the net/ layer's own error codes, and a caller-owned buffer for
 * the detail that goes with a failure.
 *
 * Like the runtime, net/ returns negative codes: errno values for what the
 * kernel says (-ECONNREFUSED, -ETIMEDOUT, -EPIPE, ...) and the codes below for
 * what only this layer knows (a name that does not resolve, a certificate the
 * client refuses).  They start at NET_ERR_BASE, above the runtime's CO_ERR_*
 * range; neterr.c registers them with co_strerror(), so co_strerror() and
 * net_strerror() (kept as an alias) name every code.
 */
#ifndef COLOOP_NET_NETERR_H
#define COLOOP_NET_NETERR_H

#include <stddef.h>

enum net_error {
    NET_ERR_BASE = 11000,
    NET_EDNS_NOTFOUND,  /* 11001 the name does not exist (EAI_NONAME / EAI_NODATA) */
    NET_EDNS_TEMP,      /* 11002 temporary resolver failure (EAI_AGAIN): no network, no answer */
    NET_EDNS_FAIL,      /* 11003 any other resolver failure (EAI_FAIL, EAI_SYSTEM, ...) */
    NET_ETLS,           /* 11004 TLS protocol error (the detail says which) */
    NET_ETLS_VERIFY,    /* 11005 the peer's certificate was refused (the detail says why) */
    NET_ETLS_TRUNCATED, /* 11006 the TLS peer closed the connection without close_notify */
    NET_ETLS_ALPN,      /* 11007 the server chose an application protocol we did not offer */
    NET_ETLS_CONFIG,    /* 11008 a certificate, key or trust store could not be loaded */
    NET_EEOF,           /* 11009 the stream ended before the bytes the call needs */
    NET_ELIMIT,         /* 11010 no delimiter within the size limit */
    NET_ERR_END
};

/* Words for any code net/ returns (negative or positive): its own codes
 * here, everything else through co_strerror().  Static string, never free. */
const char *net_strerror(int code);

/* The "which one and why" that a bare code cannot say: the name that did not
 * resolve, the addresses that refused, the certificate verification reason.
 * Functions that take a `struct net_detail *` (it may be NULL) fill it on
 * failure and leave text empty on success.  Caller-owned, no cleanup. */
#define NET_DETAIL_MAX 320
struct net_detail {
    char text[NET_DETAIL_MAX];  /* NUL-terminated, "" when there is nothing to add */
};

/* Replace / append (with "; ") formatted text; NULL-safe; never suspends. */
void net_detail_set(struct net_detail *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void net_detail_append(struct net_detail *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
