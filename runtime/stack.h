/* stack.h - coroutine stacks: mmap'd memory with a guard page, and a cache.
 *
 * Each task runs on its own stack.  A stack is one anonymous mapping whose
 * lowest page is PROT_NONE, so running off the end faults instead of silently
 * overwriting a neighbour.  Freed stacks go to a small per-loop cache so that
 * spawning a task usually costs no system call.  See stack.c for the layout
 * and for the limit every guarded stack counts against (vm.max_map_count).
 */
#ifndef COLOOP_STACK_H
#define COLOOP_STACK_H

#include <stdbool.h>
#include <stddef.h>

#define CO_STACK_DEFAULT_SIZE (64 * 1024)   /* usable bytes, guard page not counted */
#define CO_STACK_MIN_SIZE     (16 * 1024)
#define CO_STACK_CACHE_MAX    256            /* stacks kept per loop for reuse */

struct co_stack {
    void *map;          /* start of the whole mapping (the guard page, if any) */
    size_t map_len;     /* length of the whole mapping */
    void *lo;           /* lowest usable byte: the stack grows down towards it */
    size_t size;        /* usable bytes above lo */
    bool guarded;       /* true if map..lo is a PROT_NONE guard page */
    unsigned vg_id;     /* Valgrind's id for this stack (0 when not under Valgrind) */
};

struct co_stack_cache {
    struct co_stack slots[CO_STACK_CACHE_MAX];   /* LIFO: the warmest stack first */
    int count;                                   /* slots in use */
    unsigned long hits, misses;                  /* reuse statistics */
};

/* Map a new stack of at least `size` usable bytes (rounded up to pages).
 * guarded = put a PROT_NONE page below it (2 kernel mappings instead of ~0).
 * Returns 0, -ENOMEM (no memory), or -CO_ENOSTACK when the mapping budget
 * for guarded stacks is used up; stack_error_detail() then explains which
 * limit and what to change.  Never suspends. */
int stack_alloc(struct co_stack *s, size_t size, bool guarded);
void stack_free(struct co_stack *s);

/* Take a stack from the cache (same size and guard) or map a new one;
 * give one back (unmapped when the cache is full). */
int stack_cache_get(struct co_stack_cache *c, struct co_stack *s, size_t size, bool guarded);
void stack_cache_put(struct co_stack_cache *c, struct co_stack *s);
void stack_cache_drain(struct co_stack_cache *c);

/* How many guarded stacks this process may hold at once.  Computed once from
 * /proc/sys/vm/max_map_count minus the mappings already in use, halved (each
 * guarded stack is two mappings) with headroom left for libc.  A test or a
 * program may lower it; 0 restores the computed value. */
long stack_guarded_limit(void);
void stack_set_guarded_limit(long limit);
long stack_guarded_in_use(void);

/* The last stack allocation failure on this thread, in words. */
const char *stack_error_detail(void);

#endif
