/* channel.c - bounded channels: a ring buffer and two FIFO queues of
 * waiting tasks (senders, receivers).
 *
 * Invariants, which make every operation a few lines:
 *   - receivers wait only while the buffer is empty (nothing to take);
 *   - senders wait only while the buffer is full (capacity 0: always full).
 * So a send first looks for a waiting receiver and copies the element
 * straight into its buffer; a receive takes from the ring and then refills
 * it from the oldest waiting sender, or, with nothing buffered, copies
 * straight from a waiting sender.  Elements move exactly once per step,
 * and FIFO order holds across the buffer and the waiting senders.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/channel.h"
#include "runtime/error.h"
#include "runtime/waitq.h"

struct co_chan {
    size_t elem_size;           /* bytes per element */
    size_t capacity;            /* ring slots; 0 = rendezvous */
    size_t head;                /* ring index of the oldest element */
    size_t count;               /* elements in the ring */
    bool closed;                /* chan_close() was called */
    struct co_waitq senders;    /* waiter->data = the element to send */
    struct co_waitq receivers;  /* waiter->data = where to put the element */
    unsigned char ring[];       /* capacity * elem_size bytes */
};

int chan_new(co_chan **out, size_t elem_size, size_t capacity)
{
    *out = NULL;
    if (elem_size == 0)
        return -EINVAL;
    if (capacity && elem_size > (SIZE_MAX - sizeof(co_chan)) / capacity)
        return -ENOMEM;
    co_chan *ch = calloc(1, sizeof *ch + elem_size * capacity);
    if (!ch)
        return -ENOMEM;
    ch->elem_size = elem_size;
    ch->capacity = capacity;
    waitq_init(&ch->senders);
    waitq_init(&ch->receivers);
    *out = ch;
    return 0;
}

void chan_free(co_chan *ch)
{
    if (!ch)
        return;
    chan_close(ch);
    free(ch);
}

static void *slot(co_chan *ch, size_t i)
{
    return ch->ring + ((ch->head + i) % ch->capacity) * ch->elem_size;
}

static void ring_push(co_chan *ch, const void *elem)
{
    memcpy(slot(ch, ch->count), elem, ch->elem_size);
    ch->count++;
}

static void ring_pop(co_chan *ch, void *out)
{
    memcpy(out, slot(ch, 0), ch->elem_size);
    ch->head = (ch->head + 1) % ch->capacity;
    ch->count--;
}

int chan_try_send(co_chan *ch, const void *elem)
{
    if (ch->closed)
        return -CO_ECLOSED;
    struct co_waiter *r = waitq_grant_first(&ch->receivers);
    if (r) {
        memcpy(r->data, elem, ch->elem_size);   /* it has not run yet: its buffer is waiting */
        return 0;
    }
    if (ch->count < ch->capacity) {
        ring_push(ch, elem);
        return 0;
    }
    return -EAGAIN;
}

int chan_try_recv(co_chan *ch, void *out)
{
    if (ch->count > 0) {
        ring_pop(ch, out);
        struct co_waiter *s = waitq_grant_first(&ch->senders);
        if (s)
            ring_push(ch, s->data);   /* the freed slot goes to the oldest waiting sender */
        return 0;
    }
    struct co_waiter *s = waitq_grant_first(&ch->senders);
    if (s) {
        memcpy(out, s->data, ch->elem_size);   /* rendezvous: straight from the sender */
        return 0;
    }
    return ch->closed ? -CO_ECLOSED : -EAGAIN;
}

int chan_await_send(co_chan *ch, const void *elem, int64_t deadline)
{
    int rc = waitq_enter(__func__);
    if (rc < 0)
        return rc;
    rc = chan_try_send(ch, elem);
    if (rc != -EAGAIN)
        return rc;
    struct co_waiter w = { .data = (void *)elem };
    return waitq_await(&ch->senders, &w, ch, "channel send", deadline);
}

int chan_await_recv(co_chan *ch, void *out, int64_t deadline)
{
    int rc = waitq_enter(__func__);
    if (rc < 0)
        return rc;
    rc = chan_try_recv(ch, out);
    if (rc != -EAGAIN)
        return rc;
    struct co_waiter w = { .data = out };
    return waitq_await(&ch->receivers, &w, ch, "channel receive", deadline);
}

void chan_close(co_chan *ch)
{
    ch->closed = true;
    /* Receivers wait only on an empty buffer, so none of them misses an
     * element; senders' elements were never accepted. */
    waitq_fail_all(&ch->receivers, -CO_ECLOSED);
    waitq_fail_all(&ch->senders, -CO_ECLOSED);
}

size_t chan_len(const co_chan *ch) { return ch->count; }
size_t chan_capacity(const co_chan *ch) { return ch->capacity; }
bool chan_is_closed(const co_chan *ch) { return ch->closed; }
