/* dial.h - from a host name and port to a connected TCP socket.
 *
 * Resolve the name (dns.h: numeric hosts at once, names on the worker pool),
 * then connect to each address in the resolver's order until one accepts,
 * all under one deadline.  "localhost" often resolves to ::1 first while a
 * server listens on 127.0.0.1 only: the refused ::1 costs a microsecond and
 * the next address is tried.
 */
#ifndef COLOOP_NET_DIAL_H
#define COLOOP_NET_DIAL_H

#include <stdint.h>

#include "net/neterr.h"
#include "net/socket.h"

/* Options; NULL means all defaults. */
struct dial_opts {
    struct sock_opts sock;  /* per socket: Nagle, buffer sizes */
    int family;             /* AF_UNSPEC (0), AF_INET or AF_INET6 */
};

/* Connect to host:port.  Suspends.  With several addresses and a deadline,
 * each attempt gets an equal share of the time left (the last one all of
 * it), so one address that drops packets cannot use up the time of the
 * others.  0 with *out_fd (the caller's: sock_close()) and, if peer is not
 * NULL, the address that answered; or the DNS codes of dns_await_resolve(),
 * or the last attempt's connect error (-ECONNREFUSED, -ETIMEDOUT,
 * -ENETUNREACH, ...), or -ECANCELED.  *why (may be NULL) lists each address
 * tried with its error, or the DNS failure with the name. */
int dial_await_tcp(const char *host, int port, const struct dial_opts *opts, int *out_fd,
                   struct sock_addr *peer, struct net_detail *why, int64_t deadline);

#endif
