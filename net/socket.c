/* socket.c - nonblocking TCP on the loop (see socket.h).
 *
 * Every I/O function has the same shape, the one the edge-triggered loop
 * requires: try the system call; on success return; copy errno into a local
 * at once; on EAGAIN wait with await_fd() and go round again; on anything
 * else return -err.  Never the other way round (wait, then try): the edge
 * that says "readable" may have fired before we asked, and would not fire
 * again.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "net/socket.h"
#include "runtime/loop.h"
#include "runtime/task.h"

#define ACCEPT_BACKOFF_FIRST_MS 1
#define ACCEPT_BACKOFF_MAX_MS 256

static _Thread_local struct sock_stats stats;
static _Thread_local bool warned_fd_limit;

void sock_get_stats(struct sock_stats *out)
{
    *out = stats;
}

int sock_addr_parse(const char *ip, int port, struct sock_addr *out)
{
    memset(out, 0, sizeof *out);
    if (!ip || port < 0 || port > 65535)
        return -EINVAL;
    /* getaddrinfo with AI_NUMERICHOST never touches the network or a file,
     * and it understands IPv6 scope ids ("fe80::1%eth0"), which inet_pton
     * does not. */
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
    char service[8];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo *res = NULL;
    if (getaddrinfo(ip, service, &hints, &res) != 0 || !res)
        return -EINVAL;
    memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
    out->len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int sock_addr_port(const struct sock_addr *a)
{
    if (a->ss.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
    if (a->ss.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
    return -EINVAL;
}

const char *sock_addr_format(const struct sock_addr *a, char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN + 16] = "?";
    if (a->len == 0 || getnameinfo((const struct sockaddr *)&a->ss, a->len, host, sizeof host,
                                   NULL, 0, NI_NUMERICHOST) != 0)
        snprintf(host, sizeof host, "?");
    if (a->ss.ss_family == AF_INET6)
        snprintf(buf, len, "[%s]:%d", host, sock_addr_port(a));
    else
        snprintf(buf, len, "%s:%d", host, sock_addr_port(a));
    return buf;
}

bool sock_is_ip_literal(const char *host)
{
    struct in6_addr buf;   /* big enough for either */
    return host && (inet_pton(AF_INET, host, &buf) == 1 || inet_pton(AF_INET6, host, &buf) == 1);
}

int sock_set_buffers(int fd, int sndbuf, int rcvbuf)
{
    if (sndbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) < 0)
        return -errno;
    if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) < 0)
        return -errno;
    return 0;
}

int sock_set_nodelay(int fd, bool on)
{
    int v = on;
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) < 0 ? -errno : 0;
}

int sock_listen(const char *ip, int port, const struct sock_listen_opts *opts, int *out_fd)
{
    static const struct sock_listen_opts defaults = { 0 };
    if (!opts)
        opts = &defaults;
    *out_fd = -1;
    struct sock_addr addr;
    if (sock_addr_parse(ip ? ip : "0.0.0.0", port, &addr) < 0)
        return -EINVAL;
    int fd = socket(addr.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0)
        return -errno;
    int one = 1, err = 0;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        err = errno;
    if (!err && opts->reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        err = errno;
    int v6only = opts->v6only;
    if (!err && addr.ss.ss_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) < 0)
        err = errno;
    int rc = err ? 0 : sock_set_buffers(fd, opts->sndbuf, opts->rcvbuf);
    if (rc < 0)
        err = -rc;
    if (!err && bind(fd, (struct sockaddr *)&addr.ss, addr.len) < 0)
        err = errno;
    if (!err && listen(fd, opts->backlog > 0 ? opts->backlog : SOMAXCONN) < 0)
        err = errno;
    if (err) {
        close(fd);   /* never awaited: nothing registered with the loop */
        return -err;
    }
    *out_fd = fd;
    return 0;
}

int sock_local_addr(int fd, struct sock_addr *out)
{
    memset(out, 0, sizeof *out);
    out->len = sizeof out->ss;
    if (getsockname(fd, (struct sockaddr *)&out->ss, &out->len) < 0) {
        out->len = 0;
        return -errno;
    }
    return 0;
}

int sock_local_port(int fd)
{
    struct sock_addr a;
    int rc = sock_local_addr(fd, &a);
    return rc < 0 ? rc : sock_addr_port(&a);
}

int sock_try_accept(int lfd, struct sock_addr *peer, int *out_fd)
{
    struct sock_addr ignored;
    if (!peer)
        peer = &ignored;
    peer->len = sizeof peer->ss;
    stats.accept_calls++;
    int fd = accept4(lfd, (struct sockaddr *)&peer->ss, &peer->len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        peer->len = 0;
        *out_fd = -1;
        return err == EWOULDBLOCK ? -EAGAIN : -err;
    }
    stats.accepted++;
    *out_fd = fd;
    return 0;
}

/* Errors after which the listener is fine and the next connection may be too:
 * the client gave up between its SYN and our accept (Linux reports some
 * network errors of the new connection on accept, see accept(2)). */
static bool accept_error_is_transient(int err)
{
    switch (err) {
    case ECONNABORTED: case EPROTO: case EINTR: case ENETDOWN: case ENOPROTOOPT:
    case EHOSTDOWN: case ENONET: case EHOSTUNREACH: case EOPNOTSUPP: case ENETUNREACH:
    case EPERM:   /* firewall rules forbid the connection */
        return true;
    default:
        return false;
    }
}

static bool accept_error_is_exhaustion(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

static void warn_fd_limit(int err)
{
    if (warned_fd_limit)
        return;
    warned_fd_limit = true;
    struct rlimit rl = { 0 };
    getrlimit(RLIMIT_NOFILE, &rl);
    fprintf(stderr, "coloop: accept: %s; backing off and retrying (RLIMIT_NOFILE soft limit %llu; "
                    "raise it with ulimit -n or setrlimit). Said once per thread.\n",
            strerror(err), (unsigned long long)rl.rlim_cur);
}

int sock_await_accept(int lfd, struct sock_addr *peer, int *out_fd, int64_t deadline)
{
    int backoff_ms = ACCEPT_BACKOFF_FIRST_MS;
    for (;;) {
        int rc = sock_try_accept(lfd, peer, out_fd);
        if (rc == 0)
            return 0;
        if (rc == -EAGAIN) {
            rc = await_fd(lfd, CO_FD_READ, deadline);
            if (rc < 0)
                return rc;
            backoff_ms = ACCEPT_BACKOFF_FIRST_MS;
            continue;
        }
        if (accept_error_is_transient(-rc))
            continue;
        if (!accept_error_is_exhaustion(-rc))
            return rc;
        /* Out of descriptors: the pending connection stays queued and the
         * listener stays readable.  Retrying at once would spin; waiting for
         * the next edge would strand the queued clients.  So sleep (other
         * tasks run, finish and close their descriptors), then try again. */
        warn_fd_limit(-rc);
        stats.accept_backoffs++;
        int64_t sleep_ms = backoff_ms;
        if (deadline != CO_NO_DEADLINE) {
            int64_t left_ms = (deadline - co_now_ns()) / 1000000;
            if (left_ms <= 0)
                return -ETIMEDOUT;
            if (left_ms < sleep_ms)
                sleep_ms = left_ms;
        }
        rc = await_sleep_ms(sleep_ms);
        if (rc < 0)
            return rc;
        if (backoff_ms < ACCEPT_BACKOFF_MAX_MS)
            backoff_ms *= 2;
    }
}

int sock_await_connect(const struct sock_addr *addr, const struct sock_opts *opts, int *out_fd,
                       int64_t deadline)
{
    static const struct sock_opts defaults = { 0 };
    if (!opts)
        opts = &defaults;
    *out_fd = -1;
    if (addr->len == 0)
        return -EINVAL;
    stats.connects++;
    int fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0) {
        int err = errno;
        stats.connect_failures++;
        return -err;
    }
    int rc = sock_set_buffers(fd, opts->sndbuf, opts->rcvbuf);
    if (rc == 0 && !opts->nagle)
        rc = sock_set_nodelay(fd, true);
    if (rc == 0 && connect(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0) {
        int err = errno;
        rc = err == EINPROGRESS ? 1 : -err;
    }
    /* rc == 1: the handshake is under way.  Writable means it ended, one way
     * or the other: SO_ERROR says which. */
    while (rc == 1) {
        rc = await_fd(fd, CO_FD_WRITE, deadline);
        if (rc < 0)
            break;
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
            soerr = errno;
        if (soerr == 0) {
            /* A spurious wakeup leaves the socket still connecting: ask. */
            struct sockaddr_storage ss;
            socklen_t pl = sizeof ss;
            if (getpeername(fd, (struct sockaddr *)&ss, &pl) < 0 && errno == ENOTCONN)
                rc = 1;
        }
        else
            rc = -soerr;
    }
    if (rc < 0) {
        stats.connect_failures++;
        sock_close(fd);
        return rc;
    }
    *out_fd = fd;
    return 0;
}

/* Reads try the system call first, except when the loop remembers that the
 * last read emptied the socket and epoll has reported nothing since: then
 * recv() could only fail with EAGAIN, so wait first (loop_fd_maybe_readable,
 * runtime/task.h).  The case it saves is the common one: a client that has
 * just sent a request, or a server that has just answered one, reads next and
 * finds nothing yet - one system call per request on each side. */
ssize_t sock_await_read(int fd, void *buf, size_t len, int64_t deadline)
{
    if (len == 0)
        return 0;
    bool wait_first = !loop_fd_maybe_readable(fd);
    for (;;) {
        if (wait_first) {
            int rc = await_fd(fd, CO_FD_READ, deadline);
            if (rc < 0)
                return rc;
        }
        ssize_t n = recv(fd, buf, len, 0);
        if (n >= 0) {
            if (n > 0 && (size_t)n < len)
                loop_fd_drained(fd);   /* it took every byte there was */
            return n;
        }
        int err = errno;   /* copy now: after await_fd it belongs to someone else */
        wait_first = err != EINTR;   /* interrupted: just try again */
        if (err == EAGAIN || err == EWOULDBLOCK)
            loop_fd_drained(fd);
        else if (err != EINTR)
            return -err;
    }
}

int sock_await_write_all(int fd, const void *buf, size_t len, int64_t deadline)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n >= 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        int err = errno;
        if (err == EINTR)
            continue;
        if (err != EAGAIN && err != EWOULDBLOCK)
            return -err;
        int rc = await_fd(fd, CO_FD_WRITE, deadline);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int sock_shutdown_write(int fd)
{
    return shutdown(fd, SHUT_WR) < 0 ? -errno : 0;
}

int sock_close(int fd)
{
    if (fd < 0)
        return -EBADF;
    return loop_close_fd(fd);
}

int sock_close_reset(int fd)
{
    struct linger lg = { .l_onoff = 1, .l_linger = 0 };
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    return sock_close(fd);
}
