/* socket.h - nonblocking TCP on the loop: connect with a deadline, listen,
 * accept, read, write-all, shutdown, close; IPv4 and IPv6.
 *
 * A socket here is a plain descriptor number (int), nonblocking and
 * close-on-exec from birth.  The loop registers it with epoll the first time a
 * task waits on it, edge-triggered, and keeps it registered; so every call
 * below tries its system call first and waits only after EAGAIN.  Close with
 * sock_close() (never close(2)) so the loop forgets the registration first.
 *
 * This layer knows addresses, not names: dns.h resolves names, dial.h tries
 * every address of a name, stream.h puts TLS and a read buffer on top.
 */
#ifndef COLOOP_NET_SOCKET_H
#define COLOOP_NET_SOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* An IPv4 or IPv6 address with its port, by value (no allocation). */
struct sock_addr {
    struct sockaddr_storage ss;     /* sockaddr_in or sockaddr_in6 */
    socklen_t len;                  /* 0 = empty */
};

/* Parse a numeric address ("127.0.0.1", "::1", "fe80::1%lo"; no brackets,
 * no names) and a port 0..65535.  0, or -EINVAL.  Never suspends. */
int sock_addr_parse(const char *ip, int port, struct sock_addr *out);

/* The port of an address, or -EINVAL. */
int sock_addr_port(const struct sock_addr *a);

/* Format as "127.0.0.1:8080" or "[::1]:8080" into buf; returns buf. */
const char *sock_addr_format(const struct sock_addr *a, char *buf, size_t len);
#define SOCK_ADDR_STRLEN 64         /* enough for any sock_addr_format() result */

/* True if host is an IPv4 or IPv6 literal (no brackets, no scope id): no
 * DNS, no SNI, and the certificate must name the address.  Never suspends. */
bool sock_is_ip_literal(const char *host);

/* Options for client sockets; NULL means all defaults. */
struct sock_opts {
    bool nagle;         /* leave Nagle's algorithm on (default: TCP_NODELAY, for request/response) */
    int sndbuf;         /* SO_SNDBUF in bytes, 0 = the kernel's default */
    int rcvbuf;         /* SO_RCVBUF in bytes, 0 = the kernel's default */
};

/* Options for listening sockets; NULL means all defaults. */
struct sock_listen_opts {
    int backlog;        /* listen() backlog; 0 = SOMAXCONN */
    bool reuseport;     /* SO_REUSEPORT: several listeners (one loop per thread) share the port */
    bool v6only;        /* IPv6 listener refuses IPv4-mapped clients */
    int sndbuf, rcvbuf; /* inherited by accepted sockets; 0 = the kernel's default */
};

/* Listen on a numeric address (NULL = "0.0.0.0") and port (0 = the kernel
 * picks one: read it back with sock_local_port()).  SO_REUSEADDR is always
 * on.  Never suspends.  0 and *out_fd (the caller's: sock_close() it), or
 * -EINVAL (not a numeric address), -EADDRINUSE, -EACCES, -EMFILE, ... */
int sock_listen(const char *ip, int port, const struct sock_listen_opts *opts, int *out_fd);

/* The address / port a socket is bound to.  Never suspends.  0 / the port,
 * or a negative errno. */
int sock_local_addr(int fd, struct sock_addr *out);
int sock_local_port(int fd);

/* Accept one connection if one is pending, without waiting.  Never suspends.
 * 0 with *out_fd (nonblocking, close-on-exec, the caller's) and *peer (may be
 * NULL); -EAGAIN if none is pending; -EMFILE/-ENFILE/-ENOBUFS/-ENOMEM when
 * the process or system is out of descriptors or memory; other -errno. */
int sock_try_accept(int lfd, struct sock_addr *peer, int *out_fd);

/* Accept one connection, waiting for it.  Suspends.  Out of descriptors
 * (EMFILE, ENFILE) or memory, it backs off (sleeps 1 ms, doubling up to
 * 256 ms) and retries, so a server at its fd limit keeps serving the clients
 * it has, which free descriptors, instead of spinning on a listener that
 * stays readable; the first time per thread it says so on stderr.  Aborted
 * handshakes (ECONNABORTED, EPROTO, ...) are skipped.  0 with *out_fd (the
 * caller's) and *peer (may be NULL), or -ETIMEDOUT, -ECANCELED, -EBADF,
 * -EINVAL (not listening). */
int sock_await_accept(int lfd, struct sock_addr *peer, int *out_fd, int64_t deadline);

/* Open a TCP socket and connect it to addr.  Suspends.  TCP_NODELAY unless
 * opts->nagle.  0 with *out_fd (the caller's), or, with nothing left open:
 * -ECONNREFUSED (nobody listens), -ETIMEDOUT (deadline; the SYN went
 * unanswered), -ENETUNREACH / -EHOSTUNREACH (no route), -EADDRNOTAVAIL
 * (no local port left), -ECANCELED, -EMFILE, -EAFNOSUPPORT (no IPv6 here). */
int sock_await_connect(const struct sock_addr *addr, const struct sock_opts *opts, int *out_fd,
                       int64_t deadline);

/* Read up to len bytes.  Suspends only if nothing is available.  Returns the
 * count (> 0), 0 at end of stream (len 0 returns 0 at once), or -ETIMEDOUT,
 * -ECANCELED, -ECONNRESET, -EBADF (closed while waiting), ... */
ssize_t sock_await_read(int fd, void *buf, size_t len, int64_t deadline);

/* Write all len bytes (send with MSG_NOSIGNAL: a dead peer is -EPIPE, never
 * SIGPIPE), waiting whenever the socket buffer is full.  Suspends.  0, or
 * -EPIPE / -ECONNRESET (peer gone), -ETIMEDOUT, -ECANCELED: after an error
 * an unknown prefix was sent, so the connection is only good for closing. */
int sock_await_write_all(int fd, const void *buf, size_t len, int64_t deadline);

/* Half-close: send FIN; reads still work.  Never suspends.  0 or -errno. */
int sock_shutdown_write(int fd);

/* Forget the loop's registration (waking any waiter with -EBADF) and close.
 * Never suspends.  0 or -errno (the descriptor is gone either way). */
int sock_close(int fd);

/* Close with a TCP RST instead of a FIN (SO_LINGER 0): the peer sees
 * -ECONNRESET.  For connections in an unknown state, and for tests. */
int sock_close_reset(int fd);

/* Set SO_SNDBUF / SO_RCVBUF (0 = leave), TCP_NODELAY.  Never suspend. */
int sock_set_buffers(int fd, int sndbuf, int rcvbuf);
int sock_set_nodelay(int fd, bool on);

/* Per-thread counters (benchmarks, tests, "is the accept loop spinning?"). */
struct sock_stats {
    uint64_t accept_calls;      /* accept4() system calls */
    uint64_t accepted;          /* connections accepted */
    uint64_t accept_backoffs;   /* sleeps because of EMFILE/ENFILE/ENOBUFS/ENOMEM */
    uint64_t connects;          /* connect attempts */
    uint64_t connect_failures;  /* attempts that ended in an error or timeout */
};
void sock_get_stats(struct sock_stats *out);

#endif
