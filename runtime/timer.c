/* timer.c - binary min-heap of timers (see timer.h for the why).
 *
 * The heap is an array where the children of slot i are 2i+1 and 2i+2 and
 * every parent fires no later than its children.  Adding sifts the new timer
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

static bool fires_before(const struct co_timer *a, const struct co_timer *b)
{
    if (a->deadline_ns != b->deadline_ns)
        return a->deadline_ns < b->deadline_ns;
    return a->seq < b->seq;
}

static void place(struct co_timer_heap *h, size_t i, struct co_timer *t)
{
    h->items[i] = t;
    t->heap_index = i;
}

static void sift_up(struct co_timer_heap *h, size_t i)
{
    struct co_timer *t = h->items[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!fires_before(t, h->items[parent]))
            break;
        place(h, i, h->items[parent]);
        i = parent;
    }
    place(h, i, t);
}

static void sift_down(struct co_timer_heap *h, size_t i)
{
    struct co_timer *t = h->items[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->count)
            break;
        if (child + 1 < h->count && fires_before(h->items[child + 1], h->items[child]))
            child++;
        if (!fires_before(h->items[child], t))
            break;
        place(h, i, h->items[child]);
        i = child;
    }
    place(h, i, t);
}

static int grow(struct co_timer_heap *h)
{
    size_t cap = h->capacity ? h->capacity * 2 : 64;
    struct co_timer **items = realloc(h->items, cap * sizeof *items);
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
    place(h, h->count++, t);
    sift_up(h, t->heap_index);
    return 0;
}

void timer_heap_remove(struct co_timer_heap *h, struct co_timer *t)
{
    if (!timer_is_armed(t))
        return;
    size_t hole = t->heap_index;
    t->heap_index = TIMER_NOT_ARMED;
    struct co_timer *last = h->items[--h->count];
    if (last == t)
        return;
    place(h, hole, last);
    sift_up(h, hole);
    sift_down(h, last->heap_index);
}

void timer_heap_fini(struct co_timer_heap *h)
{
    for (size_t i = 0; i < h->count; i++)
        h->items[i]->heap_index = TIMER_NOT_ARMED;
    free(h->items);
    h->items = NULL;
    h->count = h->capacity = 0;
}
