/* client_dial.c - a new connection for the pool: resolve the name (net/dns:
 * on the worker pool, capped, cached), connect to each address in turn, and
 * do the TLS handshake, all under the connect timeout, each phase timed for
 * the response's timings.  connpool.c calls it with a slot already reserved.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http/client_internal.h"
#include "net/dns.h"
#include "runtime/error.h"

static struct http_conn *conn_new(http_client *c)
{
    size_t n = c->o.fields_max;
    struct http_conn *conn = calloc(1, sizeof *conn + 2 * n * sizeof(struct http_header));
    if (conn) {
        conn->fields = (struct http_header *)(conn + 1);
        conn->trailers = conn->fields + n;
    }
    return conn;
}

/* Connect every address in turn, each with its share of the time left (as
 * net/dial.c does, but timed separately from DNS).  *used: the index of the
 * address that answered (the response reports it as `peer`). */
static int connect_addrs(struct http_call *k, const struct dns_result *res, int64_t dl, int *fd,
                         int *used)
{
    struct net_detail *why = &k->resp->detail;
    int rc = -EHOSTUNREACH;
    for (int i = 0; i < res->count; i++) {
        int64_t adl = dl;
        if (dl != CO_NO_DEADLINE && i < res->count - 1) {
            int64_t left = dl - co_now_ns();
            if (left <= 0)
                return -ETIMEDOUT;
            adl = co_now_ns() + left / (res->count - i);
        }
        rc = sock_await_connect(&res->addrs[i], &k->c->o.sock, fd, adl);
        if (rc == 0) {
            *used = i;
            return 0;
        }
        char addr[SOCK_ADDR_STRLEN];
        sock_addr_format(&res->addrs[i], addr, sizeof addr);
        if (i == 0)
            net_detail_set(why, "connect to %s: %s %s", k->url.host, addr, co_strerror(rc));
        else
            net_detail_append(why, "%s %s", addr, co_strerror(rc));
        if (rc == -ECANCELED)
            break;
    }
    return rc;
}

/* DNS, TCP, TLS under the connect deadline (see client_internal.h). */
int client_await_dial(struct http_call *k, struct pool_host *h, struct http_conn **out)
{
    http_client *c = k->c;
    const struct http_url *u = &k->url;
    struct http_timings *tm = &k->resp->timings;
    struct net_detail *why = &k->resp->detail;
    bool https = u->scheme == HTTP_SCHEME_HTTPS;
    int64_t dl = client_deadline_min(k->deadline, c->o.connect_timeout_ms);
    int rc;
    if (https && !c->tls) {
        if ((rc = tls_ctx_new_client(NULL, &c->tls, why)) < 0)
            return rc;
        c->own_tls = true;
    }
    int64_t t = client_mono_ns();
    struct dns_result res;
    rc = dns_await_resolve(u->host, u->port, c->o.family, &res, why, dl);
    tm->dns_ns = client_mono_ns() - t;
    if (rc == -ETIMEDOUT)
        return client_timeout(k, dl, HTTP_E_CONNECT_TIMEOUT, "resolving the host name");
    if (rc < 0)
        return rc;
    t = client_mono_ns();
    int fd = -1, used = 0;
    rc = connect_addrs(k, &res, dl, &fd, &used);
    tm->connect_ns = client_mono_ns() - t;
    if (rc == -ETIMEDOUT)
        return client_timeout(k, dl, HTTP_E_CONNECT_TIMEOUT, "connecting");
    if (rc < 0)
        return rc;
    struct http_conn *conn = conn_new(c);
    struct stream_opts so = { .read_buffer = c->o.head_max };
    if (!conn || (rc = stream_new(fd, https ? c->tls : NULL, u->host, &so, &conn->s)) < 0) {
        sock_close(fd);
        free(conn);
        return conn ? rc : -ENOMEM;
    }
    if (https) {
        t = client_mono_ns();
        rc = stream_await_handshake(conn->s, dl);
        tm->tls_ns = client_mono_ns() - t;
        if (rc < 0) {
            net_detail_set(why, "TLS handshake with %s:%u: %s", u->host, u->port,
                           *stream_detail(conn->s) ? stream_detail(conn->s) : co_strerror(rc));
            stream_abort(conn->s);
            free(conn);
            if (rc == -ETIMEDOUT)
                rc = client_timeout(k, dl, HTTP_E_CONNECT_TIMEOUT, "in the TLS handshake");
            return rc;
        }
    }
    /* Which of the name's addresses this is, from the DNS answer we still
     * hold (no getpeername call): later exchanges on the connection report
     * it too, when the answer is long gone. */
    sock_addr_format(&res.addrs[used], conn->peer, sizeof conn->peer);
    conn->host = h;
    c->st.conns_new++;
    *out = conn;
    return 0;
}
