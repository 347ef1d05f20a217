/* timer.h - the loop's timers: a binary min-heap ordered by (deadline, sequence).
 *
 * A timer is embedded in whatever needs one (a sleeping task, a deadline on a
 * wait).  The heap holds pointers, and each timer remembers its own index in
 * the heap, so arming, disarming and finding the next deadline cost O(log n),
 * O(log n) and O(1).  The sequence number breaks ties: two timers with the
 * same deadline fire in the order they were armed.
 */
#ifndef COLOOP_TIMER_H
#define COLOOP_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct co_timer {
    int64_t deadline_ns;                  /* CLOCK_MONOTONIC time at which it fires */
    uint64_t seq;                         /* arming order, the tie-break */
    size_t heap_index;                    /* position in the heap, or TIMER_NOT_ARMED */
    void (*fire)(struct co_timer *);      /* called by the loop once the deadline passes */
};

#define TIMER_NOT_ARMED SIZE_MAX

struct co_timer_heap {
    struct co_timer **items;              /* items[0] is the earliest deadline */
    size_t count;                         /* armed timers */
    size_t capacity;                      /* allocated slots */
    uint64_t next_seq;                    /* sequence for the next timer armed */
};

void timer_init(struct co_timer *t, void (*fire)(struct co_timer *));
static inline bool timer_is_armed(const struct co_timer *t) { return t->heap_index != TIMER_NOT_ARMED; }

/* Arm `t` to fire at deadline_ns.  Returns 0 or -ENOMEM.  Never suspends. */
int timer_heap_add(struct co_timer_heap *h, struct co_timer *t, int64_t deadline_ns);
/* Disarm `t` if armed; harmless otherwise. */
void timer_heap_remove(struct co_timer_heap *h, struct co_timer *t);
/* The earliest timer, or NULL. */
static inline struct co_timer *timer_heap_first(const struct co_timer_heap *h) { return h->count ? h->items[0] : NULL; }
void timer_heap_fini(struct co_timer_heap *h);

#endif
