/* fdwait.c - waiting for a descriptor to become readable or writable.
 *
 * The loop keeps one slot per descriptor number: whether it is registered
 * with epoll, and which task (at most one per direction) waits on it.  A
 * second task waiting in the same direction gets -EBUSY: two readers of one
 * socket would steal each other's bytes, so that is always a bug.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "runtime/internal.h"

static int fd_table_reserve(co_loop *loop, int fd)
{
    if (fd < loop->fds_capacity)
        return 0;
    int cap = loop->fds_capacity ? loop->fds_capacity : 64;
    while (cap <= fd)
        cap *= 2;
    struct fd_slot *fds = realloc(loop->fds, (size_t)cap * sizeof *fds);
    if (!fds)
        return -ENOMEM;
    memset(fds + loop->fds_capacity, 0, (size_t)(cap - loop->fds_capacity) * sizeof *fds);
    loop->fds = fds;
    loop->fds_capacity = cap;
    return 0;
}

static int fd_register(co_loop *loop, int fd)
{
    int rc = fd_table_reserve(loop, fd);
    if (rc < 0 || loop->fds[fd].registered)
        return rc;
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.fd = fd };
    if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0 && errno != EEXIST)
        return -errno;   /* EPERM: regular files are always "ready" and cannot be polled */
    loop->fds[fd].registered = true;
    loop->fds[fd].drained = false;
    loop->fds[fd].hung_up = false;
    loop->stats.fds_registered++;
    return 0;
}

/* This thread's loop's slot for fd if the loop has registered it, else NULL. */
static struct fd_slot *registered_slot(int fd)
{
    co_loop *loop = loop_this_thread();
    if (!loop || fd < 0 || fd >= loop->fds_capacity || !loop->fds[fd].registered)
        return NULL;
    return &loop->fds[fd];
}

/* Why "fewer bytes than asked" may mark a descriptor drained: the read took
 * every byte there was when it ran, and every byte that arrives later makes
 * epoll report the descriptor again (edge-triggered: an event per arrival),
 * which undoes the mark in dispatch_fd_event before any task runs again.
 * What does not come again is an end of stream that arrived with the bytes
 * just read: its edge was reported with them.  So a descriptor that has hung
 * up is never marked: the next read must try, and see the end. */
void loop_fd_drained(int fd)
{
    struct fd_slot *slot = registered_slot(fd);
    if (slot && !slot->hung_up)
        slot->drained = true;
}

bool loop_fd_maybe_readable(int fd)
{
    struct fd_slot *slot = registered_slot(fd);
    return !slot || !slot->drained;
}

int await_fd(int fd, enum co_fd_direction dir, int64_t deadline)
{
    co_task *self = task_require_current(__func__);
    if (!self)
        return -CO_ENOTASK;
    if (fd < 0 || (dir != CO_FD_READ && dir != CO_FD_WRITE))
        return fd < 0 ? -EBADF : -EINVAL;
    co_loop *loop = self->loop;
    int rc = fd_register(loop, fd);
    if (rc < 0)
        return rc;
    struct fd_slot *slot = &loop->fds[fd];
    co_task **waiter = dir == CO_FD_READ ? &slot->reader : &slot->writer;
    /* A registered waiter that was already woken (a cancel, its deadline) but
     * has not run yet is leaving: it does not make the slot busy. */
    if ((*waiter && (*waiter)->state == TASK_WAITING) || slot->watch)
        return -EBUSY;
    *waiter = self;
    self->wait_fd = fd;
    loop->stats.fd_waiters++;
    rc = task_suspend(dir == CO_FD_READ ? WAIT_FD_READ : WAIT_FD_WRITE, NULL, NULL, deadline);
    loop->stats.fd_waiters--;
    slot = &loop->fds[fd];   /* the table may have moved while we slept */
    waiter = dir == CO_FD_READ ? &slot->reader : &slot->writer;
    if (*waiter == self)
        *waiter = NULL;
    return rc;
}

int loop_forget_fd(int fd)
{
    struct fd_slot *slot = registered_slot(fd);
    if (!slot)
        return 0;
    co_loop *loop = loop_this_thread();
    epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
    slot->registered = false;
    loop->stats.fds_registered--;
    if (slot->reader)
        task_wake(slot->reader, -EBADF);
    if (slot->writer)
        task_wake(slot->writer, -EBADF);
    slot->reader = slot->writer = NULL;
    slot->watch = NULL;
    return 0;
}

int loop_close_fd(int fd)
{
    loop_forget_fd(fd);
    return close(fd) < 0 ? -errno : 0;
}

int loop_watch_fd(co_loop *loop, int fd, fd_watch_fn fn, void *arg)
{
    int rc = fd_register(loop, fd);
    if (rc < 0)
        return rc;
    if (loop->fds[fd].reader || loop->fds[fd].writer || loop->fds[fd].watch)
        return -EBUSY;
    loop->fds[fd].watch = fn;
    loop->fds[fd].watch_arg = arg;
    return 0;
}

void loop_unwatch_fd(co_loop *loop, int fd)
{
    if (fd < 0 || fd >= loop->fds_capacity || !loop->fds[fd].watch)
        return;
    loop->fds[fd].watch = NULL;
    loop->fds[fd].watch_arg = NULL;
    epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
    loop->fds[fd].registered = false;
    loop->stats.fds_registered--;
}
