/* timer.c - 4-ary min-heap of timers (see timer.h for the why).
 *
 * The heap is an array of slots (a timer's key and a pointer to it) where the
 * children of slot i are 4i+1 .. 4i+4 and every parent fires no later than
 * its children (timer.h says why four).  Adding sifts the new timer
 * up from the end; removing moves the last timer into the hole and sifts it
 * up or down.  Every move updates the moved timer's heap_index.
 */
#include <errno.h>
#include <stdlib.h>

#include "runtime/timer.h"

void timer_init(struct co_timer *t, void (*fire)(struct co_timer *))
{
    t->deadline_ns = 0;
    t->seq = 0;
    t->heap_index = TIMER_NOT_ARMED;
    t->fire = fire;
}

static bool fires_before(const struct timer_slot *a, const struct timer_slot *b)
{
    if (a->deadline_ns != b->deadline_ns)
        return a->deadline_ns < b->deadline_ns;
    return a->seq < b->seq;
}

static void place(struct co_timer_heap *h, size_t i, struct timer_slot slot)
{
    h->items[i] = slot;
    slot.timer->heap_index = i;
}

static void sift_up(struct co_timer_heap *h, size_t i)
{
    struct timer_slot moving = h->items[i];
    while (i > 0) {
        size_t parent = (i - 1) / TIMER_HEAP_ARITY;
        if (!fires_before(&moving, &h->items[parent]))
            break;
        place(h, i, h->items[parent]);
        i = parent;
    }
    place(h, i, moving);
}

static void sift_down(struct co_timer_heap *h, size_t i)
{
    struct timer_slot moving = h->items[i];
    for (;;) {
        size_t first = TIMER_HEAP_ARITY * i + 1;
        if (first >= h->count)
            break;
        size_t end = first + TIMER_HEAP_ARITY < h->count ? first + TIMER_HEAP_ARITY : h->count;
        size_t child = first;               /* the earliest of the children */
        for (size_t c = first + 1; c < end; c++)
            if (fires_before(&h->items[c], &h->items[child]))
                child = c;
        if (!fires_before(&h->items[child], &moving))
            break;
        place(h, i, h->items[child]);
        i = child;
    }
    place(h, i, moving);
}

static int grow(struct co_timer_heap *h)
{
    size_t cap = h->capacity ? h->capacity * 2 : 64;
    struct timer_slot *items = realloc(h->items, cap * sizeof *items);
    if (!items)
        return -ENOMEM;
    h->items = items;
    h->capacity = cap;
    return 0;
}

int timer_heap_add(struct co_timer_heap *h, struct co_timer *t, int64_t deadline_ns)
{
    timer_heap_remove(h, t);
    if (h->count == h->capacity) {
        int rc = grow(h);
        if (rc < 0)
            return rc;
    }
    t->deadline_ns = deadline_ns;
    t->seq = h->next_seq++;
    size_t i = h->count++;
    place(h, i, (struct timer_slot){ .deadline_ns = deadline_ns, .seq = t->seq, .timer = t });
    sift_up(h, i);
    return 0;
}

void timer_heap_remove(struct co_timer_heap *h, struct co_timer *t)
{
    if (!timer_is_armed(t))
        return;
    size_t hole = t->heap_index;
    t->heap_index = TIMER_NOT_ARMED;
    struct timer_slot last = h->items[--h->count];
    if (last.timer == t)
        return;
    place(h, hole, last);
    sift_up(h, hole);
    sift_down(h, last.timer->heap_index);
}

void timer_heap_fini(struct co_timer_heap *h)
{
    for (size_t i = 0; i < h->count; i++)
        h->items[i].timer->heap_index = TIMER_NOT_ARMED;
    free(h->items);
    h->items = NULL;
    h->count = h->capacity = 0;
}
