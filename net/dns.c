/* dns.c - getaddrinfo on the worker pool (see dns.h).
 *
 *   dns_await_resolve(host)
 *     numeric?      -> parse it here, no pool, no suspension
 *     in the cache? -> copy, no pool
 *     else          -> pool job of kind "dns" (capped): lookup_job() runs
 *                      getaddrinfo on a worker, copies the addresses into
 *                      the job's own struct and frees the list there
 *
 * The job's argument is copied by the pool (arg_size > 0), and the worker
 * writes only into that copy: when the task leaves early (deadline, cancel)
 * the pool drops the copy once the lookup ends, and nothing the task owns is
 * ever touched by the late answer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "net/dns.h"
#include "runtime/error.h"
#include "runtime/loop.h"
#include "runtime/pool.h"

#define DNS_CACHE_SLOTS 8
#define DNS_KIND "dns"

/* Everything a lookup needs and produces: copied into the pool's job. */
struct lookup {
    char host[DNS_HOST_MAX + 1];
    int family;
    struct dns_resolver resolver;   /* chosen on the loop thread at submit time */
    int gai_rc;                     /* getaddrinfo's return value */
    int sys_errno;                  /* errno for EAI_SYSTEM, read on the worker */
    struct dns_result result;       /* addresses with port 0 */
};

struct cache_slot {
    char host[DNS_HOST_MAX + 1];
    int family;
    int64_t expires_ns;             /* 0 = free */
    struct dns_result result;       /* port 0 */
};

static _Atomic(int (*)(const char *, const char *, const struct addrinfo *, struct addrinfo **))
    custom_getaddrinfo;
static _Atomic(void (*)(struct addrinfo *)) custom_freeaddrinfo;
static _Thread_local struct cache_slot cache[DNS_CACHE_SLOTS];
static _Thread_local unsigned cache_next;
static _Thread_local struct dns_stats stats;

void dns_get_stats(struct dns_stats *out)
{
    *out = stats;
}

void dns_cache_clear(void)
{
    memset(cache, 0, sizeof cache);
}

void dns_set_resolver(const struct dns_resolver *r)
{
    atomic_store(&custom_getaddrinfo, r ? r->getaddrinfo : NULL);
    atomic_store(&custom_freeaddrinfo, r ? r->freeaddrinfo : NULL);
    dns_cache_clear();
}

int dns_max_concurrent(void)
{
    int n = pool_default_threads() - 1;
    return n >= 1 ? n : 1;
}

static void set_port(struct dns_result *r, int port)
{
    for (int i = 0; i < r->count; i++) {
        struct sockaddr_storage *ss = &r->addrs[i].ss;
        if (ss->ss_family == AF_INET)
            ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
        else
            ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
    }
}

/* On a worker thread: the blocking call.  Touches only *l (the pool's copy). */
static int lookup_job(void *arg)
{
    struct lookup *l = arg;
    struct addrinfo hints = { .ai_family = l->family, .ai_socktype = SOCK_STREAM,
                              .ai_protocol = IPPROTO_TCP };
    struct addrinfo *res = NULL;
    errno = 0;
    l->gai_rc = l->resolver.getaddrinfo(l->host, NULL, &hints, &res);
    l->sys_errno = errno;
    l->result.count = 0;
    for (struct addrinfo *ai = res; l->gai_rc == 0 && ai && l->result.count < DNS_MAX_ADDRS;
         ai = ai->ai_next) {
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
            ai->ai_addrlen > sizeof l->result.addrs[0].ss)
            continue;
        struct sock_addr *a = &l->result.addrs[l->result.count++];
        memset(a, 0, sizeof *a);
        memcpy(&a->ss, ai->ai_addr, ai->ai_addrlen);
        a->len = ai->ai_addrlen;
    }
    if (res)
        l->resolver.freeaddrinfo(res);
    if (l->gai_rc == 0 && l->result.count == 0)
        l->gai_rc = EAI_NODATA;   /* answers, but none we can connect to */
    return 0;
}

/* getaddrinfo's EAI_* codes to ours, with the host named in the detail. */
static int map_gai_error(const struct lookup *l, struct net_detail *why)
{
    int rc;
    switch (l->gai_rc) {
    case EAI_NONAME: case EAI_NODATA: case EAI_ADDRFAMILY:
        rc = -NET_EDNS_NOTFOUND;
        break;
    case EAI_AGAIN:
        rc = -NET_EDNS_TEMP;
        break;
    case EAI_MEMORY:
        rc = -ENOMEM;
        break;
    case EAI_FAMILY: case EAI_SERVICE: case EAI_BADFLAGS: case EAI_SOCKTYPE:
        rc = -EINVAL;
        break;
    default:
        rc = -NET_EDNS_FAIL;
        break;
    }
    if (l->gai_rc == EAI_SYSTEM)
        net_detail_set(why, "cannot resolve \"%s\": %s", l->host, strerror(l->sys_errno));
    else
        net_detail_set(why, "cannot resolve \"%s\": %s", l->host, gai_strerror(l->gai_rc));
    return rc;
}

static struct cache_slot *cache_find(const char *host, int family)
{
    int64_t now = co_now_ns();
    for (int i = 0; i < DNS_CACHE_SLOTS; i++) {
        struct cache_slot *c = &cache[i];
        if (c->expires_ns > now && c->family == family && strcmp(c->host, host) == 0)
            return c;
    }
    return NULL;
}

static void cache_put(const struct lookup *l)
{
    struct cache_slot *c = cache_find(l->host, l->family);
    if (!c)
        c = &cache[cache_next++ % DNS_CACHE_SLOTS];   /* round robin: 8 names */
    snprintf(c->host, sizeof c->host, "%s", l->host);
    c->family = l->family;
    c->result = l->result;
    c->expires_ns = co_now_ns() + DNS_CACHE_TTL_MS * 1000000LL;
}

/* "[::1]" -> "::1" (URLs write IPv6 literals in brackets). */
static bool parse_numeric(const char *host, int port, int family, struct dns_result *out)
{
    char buf[DNS_HOST_MAX + 1];
    size_t len = strlen(host);
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']' && len - 2 < sizeof buf) {
        memcpy(buf, host + 1, len - 2);
        buf[len - 2] = '\0';
        host = buf;
    }
    if (sock_addr_parse(host, port, &out->addrs[0]) < 0)
        return false;
    int f = out->addrs[0].ss.ss_family;
    out->count = family == AF_UNSPEC || family == f ? 1 : 0;
    return true;
}

int dns_await_resolve(const char *host, int port, int family, struct dns_result *out,
                      struct net_detail *why, int64_t deadline)
{
    out->count = 0;
    net_detail_set(why, "%s", "");
    stats.lookups++;
    if (!host || !*host || strlen(host) > DNS_HOST_MAX || port < 0 || port > 65535 ||
        (family != AF_UNSPEC && family != AF_INET && family != AF_INET6)) {
        net_detail_set(why, "bad host name, port or address family");
        stats.failures++;
        return -EINVAL;
    }
    if (parse_numeric(host, port, family, out)) {
        stats.numeric++;
        if (out->count == 0) {
            net_detail_set(why, "%s is not an address of the requested family", host);
            stats.failures++;
            return -NET_EDNS_NOTFOUND;
        }
        return 0;
    }
    const struct cache_slot *hit = cache_find(host, family);
    if (hit) {
        stats.cache_hits++;
        *out = hit->result;
        set_port(out, port);
        return 0;
    }
    struct lookup l = { .family = family };
    snprintf(l.host, sizeof l.host, "%s", host);
    l.resolver.getaddrinfo = atomic_load(&custom_getaddrinfo);
    l.resolver.freeaddrinfo = atomic_load(&custom_freeaddrinfo);
    if (!l.resolver.getaddrinfo || !l.resolver.freeaddrinfo) {
        l.resolver.getaddrinfo = getaddrinfo;
        l.resolver.freeaddrinfo = freeaddrinfo;
    }
    co_pool *pool = pool_default();
    if (!pool)
        return -ENOMEM;
    /* Set every time: the default pool is remade after fork or shutdown.  A
     * failure (no room for another kind) would leave DNS uncapped: say so. */
    if (pool_set_kind_limit(pool, DNS_KIND, dns_max_concurrent()) < 0)
        fprintf(stderr, "coloop: dns: could not cap concurrent lookups on the pool; "
                        "a slow resolver may take every worker\n");
    struct pool_job job = { .run = lookup_job, .arg = &l, .arg_size = sizeof l, .kind = DNS_KIND };
    stats.pool_jobs++;
    int rc = pool_await_job(pool, &job, NULL, deadline);
    if (rc < 0) {
        stats.failures++;
        if (rc == -ETIMEDOUT)
            net_detail_set(why, "looking up \"%s\": no answer before the deadline", host);
        else
            net_detail_set(why, "looking up \"%s\": %s", host, net_strerror(rc));
        return rc;
    }
    if (l.gai_rc != 0) {
        stats.failures++;
        return map_gai_error(&l, why);
    }
    cache_put(&l);
    *out = l.result;
    set_port(out, port);
    return 0;
}
