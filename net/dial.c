/* dial.c - resolve, then try each address in turn (see dial.h).  The
 * happy-eyeballs race (RFC 8305: start the next address after 250 ms without
 * waiting for the first to fail) is not done: addresses are tried one after
 * the other, each with its share of the deadline. */
#define _GNU_SOURCE
#include <errno.h>

#include "net/dial.h"
#include "net/dns.h"
#include "runtime/loop.h"

int dial_await_tcp(const char *host, int port, const struct dial_opts *opts, int *out_fd,
                   struct sock_addr *peer, struct net_detail *why, int64_t deadline)
{
    static const struct dial_opts defaults = { 0 };
    if (!opts)
        opts = &defaults;
    *out_fd = -1;
    struct dns_result res;
    int rc = dns_await_resolve(host, port, opts->family, &res, why, deadline);
    if (rc < 0)
        return rc;
    for (int i = 0; i < res.count; i++) {
        int64_t attempt_deadline = deadline;
        if (deadline != CO_NO_DEADLINE && i < res.count - 1) {
            int64_t left = deadline - co_now_ns();
            if (left <= 0) {
                net_detail_append(why, "deadline passed before the other addresses were tried");
                rc = -ETIMEDOUT;
                break;
            }
            attempt_deadline = co_now_ns() + left / (res.count - i);
        }
        rc = sock_await_connect(&res.addrs[i], &opts->sock, out_fd, attempt_deadline);
        if (rc == 0) {
            if (peer)
                *peer = res.addrs[i];
            net_detail_set(why, "%s", "");
            return 0;
        }
        char addr[SOCK_ADDR_STRLEN];
        sock_addr_format(&res.addrs[i], addr, sizeof addr);
        if (i == 0)
            net_detail_set(why, "connect to %s: %s %s", host, addr, net_strerror(rc));
        else
            net_detail_append(why, "%s %s", addr, net_strerror(rc));
        if (rc == -ECANCELED)
            break;
    }
    return rc;
}
