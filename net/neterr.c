/* neterr.c - words for the net/ error codes (see neterr.h) and the detail
 * buffer helpers.  Codes outside NET_ERR_BASE..NET_ERR_END go to co_strerror(),
 * so callers need only one function whatever layer the code came from. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "net/neterr.h"
#include "runtime/error.h"

static const char *const net_messages[] = {
    [NET_EDNS_NOTFOUND - NET_ERR_BASE] = "host name not found",
    [NET_EDNS_TEMP - NET_ERR_BASE] = "temporary failure in name resolution",
    [NET_EDNS_FAIL - NET_ERR_BASE] = "name resolution failed",
    [NET_ETLS - NET_ERR_BASE] = "TLS protocol error",
    [NET_ETLS_VERIFY - NET_ERR_BASE] = "TLS certificate verification failed",
    [NET_ETLS_TRUNCATED - NET_ERR_BASE] = "TLS peer closed the connection without close_notify",
    [NET_ETLS_ALPN - NET_ERR_BASE] = "TLS server selected an application protocol we did not offer",
    [NET_ETLS_CONFIG - NET_ERR_BASE] = "TLS configuration error (certificate, key or trust store)",
    [NET_EEOF - NET_ERR_BASE] = "connection closed before the expected data",
    [NET_ELIMIT - NET_ERR_BASE] = "delimiter not found within the size limit",
};

static const char *describe_net_code(int code)
{
    return code > NET_ERR_BASE && code < NET_ERR_END ? net_messages[code - NET_ERR_BASE] : NULL;
}

/* So that co_strerror() (runtime/error.c) knows our words too. */
__attribute__((constructor)) static void register_net_errors(void)
{
    co_error_register_domain(NET_ERR_BASE, NET_ERR_BASE + 999, describe_net_code);
}

const char *net_strerror(int code)
{
    return co_strerror(code);
}

void net_detail_set(struct net_detail *d, const char *fmt, ...)
{
    if (!d)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->text, sizeof d->text, fmt, ap);
    va_end(ap);
}

void net_detail_append(struct net_detail *d, const char *fmt, ...)
{
    if (!d)
        return;
    size_t used = strnlen(d->text, sizeof d->text - 1);
    if (used > 0 && used + 2 < sizeof d->text) {
        memcpy(d->text + used, "; ", 3);
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->text + used, sizeof d->text - used, fmt, ap);
    va_end(ap);
}
