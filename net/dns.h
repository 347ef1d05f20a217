/* dns.h - host names to addresses without blocking the loop.
 *
 * getaddrinfo() blocks: it reads /etc/hosts, asks the resolver over the
 * network, and may wait seconds for an answer that never comes.  Called on
 * the loop's thread it would stop every task (the DNS pitfall).  So names are
 * resolved on the worker pool (runtime/pool.h) and only the asking task
 * waits, bounded by its deadline.  Numeric addresses never go to the pool.
 *
 * Lookups are capped below the pool's size (a pool "kind" limit), so names
 * that hang can never take every worker; results are cached per thread for a
 * few seconds.  The resolver itself can be replaced (tests inject one that
 * fails, hangs or returns chosen addresses: a real resolver offline is not
 * something a test can rely on).
 *
 * dial.h tries the addresses in order; most callers want that, not this.
 */
#ifndef COLOOP_NET_DNS_H
#define COLOOP_NET_DNS_H

#include <netdb.h>
#include <stdint.h>

#include "net/neterr.h"
#include "net/socket.h"

#define DNS_MAX_ADDRS 16            /* addresses kept per name */
#define DNS_CACHE_TTL_MS 10000      /* how long a successful answer is reused */
#define DNS_HOST_MAX 255            /* longest name (RFC 1035) */

/* The answer: addresses in the resolver's order (the order to try them),
 * each with the requested port.  Caller-owned, no cleanup. */
struct dns_result {
    struct sock_addr addrs[DNS_MAX_ADDRS];
    int count;
};

/* Resolve host for TCP on port.  family: AF_UNSPEC (0), AF_INET or AF_INET6.
 * A numeric host ("127.0.0.1", "::1", also "[::1]") is answered at once
 * without suspending; a name may suspend while a worker runs getaddrinfo.
 * Returns 0 with out->count >= 1, or, with *why (may be NULL) naming the
 * host:
 *   NET_EDNS_NOTFOUND  the name does not exist (EAI_NONAME)
 *   NET_EDNS_TEMP      no answer now (EAI_AGAIN): no network, resolver down
 *   NET_EDNS_FAIL      other resolver failures
 *   -ETIMEDOUT         the deadline passed first (the lookup goes on in the
 *                      background and its answer is dropped)
 *   -ECANCELED, -EINVAL (empty or too long a name, bad port or family),
 *   -ENOMEM, -CO_ENOTASK (a name looked up outside a task) */
int dns_await_resolve(const char *host, int port, int family, struct dns_result *out,
                      struct net_detail *why, int64_t deadline);

/* Replace getaddrinfo/freeaddrinfo (for tests).  The functions run on worker
 * threads, so they must be thread-safe.  NULL restores the system's.  Clears
 * the calling thread's cache.  Process-wide: set it before lookups start. */
struct dns_resolver {
    int (*getaddrinfo)(const char *node, const char *service, const struct addrinfo *hints,
                       struct addrinfo **res);
    void (*freeaddrinfo)(struct addrinfo *res);
};
void dns_set_resolver(const struct dns_resolver *r);

/* Forget the calling thread's cached answers.  Never suspends. */
void dns_cache_clear(void);

/* How many lookups may run at once on the default pool: one less than its
 * workers (at least 1), so other pool jobs always have a worker. */
int dns_max_concurrent(void);

/* Per-thread counters. */
struct dns_stats {
    uint64_t lookups;       /* dns_await_resolve calls */
    uint64_t numeric;       /* answered without the pool: numeric hosts */
    uint64_t cache_hits;    /* answered from the cache */
    uint64_t pool_jobs;     /* getaddrinfo jobs sent to the pool */
    uint64_t failures;      /* lookups that returned an error */
};
void dns_get_stats(struct dns_stats *out);

#endif
