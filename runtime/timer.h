/* timer.h - the loop's timers: a 4-ary min-heap ordered by (deadline, sequence).
 *
 * A timer is embedded in whatever needs one (a sleeping task, a deadline on a
 * wait).  The heap holds a slot per timer - its key (deadline, sequence) and a
 * pointer to it - and each timer remembers its own index in the heap, so
 * arming, disarming and finding the next deadline cost O(log n), O(log n) and
 * O(1).  The sequence number breaks ties: two timers with the same deadline
 * fire in the order they were armed.
 *
 * Why the key is copied into the slot: with only pointers in the array, every
 * comparison on the way down the heap loads a timer from somewhere in a task's
 * memory, a cache miss each once there are thousands of tasks.  serverbench's
 * 10,000 /delay/1000 answers spent 11% of the server's time in
 * timer_heap_remove that way; with the keys side by side in one array, a sift
 * reads one array and writes back only the indexes of the timers it moves.
 * Those writes still miss, one per level, so each slot has four children
 * rather than two: the heap is half as deep (7 levels for 20,000 timers, not
 * 14) and a sift moves half as many timers, for a few more comparisons within
 * one or two cache lines.  (Go's runtime timers make the same choice.)
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
#define TIMER_HEAP_ARITY 4                /* children per slot: i*4+1 .. i*4+4 */

struct timer_slot {
    int64_t deadline_ns;                  /* copies of the timer's key, for comparing */
    uint64_t seq;
    struct co_timer *timer;
};

struct co_timer_heap {
    struct timer_slot *items;             /* items[0] is the earliest deadline */
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
static inline struct co_timer *timer_heap_first(const struct co_timer_heap *h) { return h->count ? h->items[0].timer : NULL; }
void timer_heap_fini(struct co_timer_heap *h);

#endif
