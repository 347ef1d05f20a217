/* coro.h - the context switch: the one place where a task's registers and
 * stack are swapped for another's.
 *
 * A coro is a saved execution context (registers + which stack).  The loop
 * owns a "home" coro that runs on the thread's ordinary stack; every task has
 * its own coro on an mmap'd stack.  Control only ever moves home -> task or
 * task -> home: the loop is the scheduler between any two tasks, which keeps
 * the switch code small and makes every switch visible in one place.
 *
 * Implementation: POSIX ucontext (makecontext/swapcontext) by default; with
 * `make SWITCH=asm` on x86-64, a hand-written switch (switch_x86_64.S) that
 * skips ucontext's signal-mask system call.  See coro.c for what a switch
 * saves and what it costs.  Nothing in this header suspends by
 * itself: the task layer (task.c) decides when to call coro_switch.
 */
#ifndef COLOOP_CORO_H
#define COLOOP_CORO_H

#include <stddef.h>
#include <ucontext.h>

#include "runtime/stack.h"

struct co_coro {
#ifdef COLOOP_SWITCH_ASM
    void *sp;                    /* saved stack pointer: the registers are on that stack */
#else
    ucontext_t ctx;              /* saved registers, signal mask and stack pointer */
#endif
    void (*entry)(void *);       /* first function run on this coro's stack */
    void *arg;                   /* its argument */
    struct co_coro *home;        /* the loop's context (coro_make's `home`) */
    struct co_coro *leave_to;    /* where control goes when entry() returns: home unless
                                    the entry function chose another before returning */
    struct co_coro *from;        /* the context that last switched to this one */
    const void *stack_lo;        /* this coro's stack, for AddressSanitizer's fiber API */
    size_t stack_size;
    void *asan_fake_stack;       /* ASan's use-after-return bookkeeping across a switch */
};

/* Prepare `home` to stand for the calling thread's own stack. */
void coro_init_home(struct co_coro *home);

/* Prepare `c` to run entry(arg) on `stack` the first time it is switched to;
 * when entry returns, control goes to c->leave_to (`home`, unless entry set
 * another context there before returning) and never comes back to `c`.
 * Returns 0 or a negative errno (getcontext failed). */
int coro_make(struct co_coro *c, const struct co_stack *stack,
              void (*entry)(void *), void *arg, struct co_coro *home);

/* "ucontext" or "asm": which switch this build uses (benchmarks print it). */
const char *coro_switch_kind(void);

/* Save the current context into `from` and resume `to`.  Returns when some
 * other context switches back to `from`. */
void coro_switch(struct co_coro *from, struct co_coro *to);

#endif
