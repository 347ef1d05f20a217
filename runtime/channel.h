/* channel.h - bounded channels between the tasks of one loop: asyncio.Queue,
 * or a Go channel, for producers and consumers.
 *
 * A channel carries fixed-size elements (copied in and out by value) through
 * a ring buffer of `capacity` elements.  Capacity 0 is a rendezvous: a send
 * completes only when a receiver takes the element, as with Go's unbuffered
 * channels.  Senders wait while the buffer is full, receivers while it is
 * empty, each in FIFO order: the task that started waiting first is served
 * first, and a waiter that times out or is cancelled leaves without taking
 * anything meant for another (see waitq.h).
 *
 * Closing is the producer's way to say "no more": every waiting sender and
 * receiver wakes; receivers still get every element already buffered, then
 * -CO_ECLOSED.  Senders get -CO_ECLOSED from then on.
 *
 * Loop-local: a channel belongs to the loop (thread) whose tasks use it; it
 * is not thread-safe.  To hand work to other threads, use the pool (pool.h).
 */
#ifndef COLOOP_CHANNEL_H
#define COLOOP_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct co_chan co_chan;

/* Make a channel of `capacity` elements (0 = rendezvous) of `elem_size`
 * bytes each.  Returns 0, -EINVAL (elem_size 0), or -ENOMEM.  The caller
 * owns *out and frees it with chan_free().  Never suspends. */
int chan_new(co_chan **out, size_t elem_size, size_t capacity);

/* Free a channel no task uses any more.  If tasks still wait on it, it is
 * closed first (they wake with -CO_ECLOSED and must not touch it again). */
void chan_free(co_chan *ch);

/* Send a copy of the elem_size bytes at `elem`.  Suspends while the buffer
 * is full (or, for capacity 0, until a receiver takes it).  Returns 0 once
 * the element is in the buffer or in a receiver's hands; -CO_ECLOSED if the
 * channel is or gets closed (the element was not sent); -ETIMEDOUT (the
 * deadline passed first; not sent); -ECANCELED (the caller was cancelled,
 * checked before anything else; not sent); -CO_ENOTASK outside a task.
 * `elem` is only read; it must stay valid until the call returns. */
int chan_await_send(co_chan *ch, const void *elem, int64_t deadline);

/* Receive the oldest element into `out` (elem_size bytes).  Suspends while
 * the channel is empty.  Returns 0 with *out set; -CO_ECLOSED once the channel is
 * closed and drained; -ETIMEDOUT; -ECANCELED; -CO_ENOTASK.  *out is only
 * written on success. */
int chan_await_recv(co_chan *ch, void *out, int64_t deadline);

/* The same without waiting: -EAGAIN where the await_ versions would
 * suspend.  Never suspend; callable outside a task. */
int chan_try_send(co_chan *ch, const void *elem);
int chan_try_recv(co_chan *ch, void *out);

/* No more sends: wake every waiter (see the top of this file).  Closing
 * twice is harmless.  Never suspends. */
void chan_close(co_chan *ch);

size_t chan_len(const co_chan *ch);        /* elements buffered now */
size_t chan_capacity(const co_chan *ch);
bool chan_is_closed(const co_chan *ch);

#endif
