/* coro.c - the context switch on ucontext, with the sanitizer annotations.
 *
 * What a switch costs.  swapcontext() saves the callee-saved registers, the
 * stack pointer and the floating-point environment, and it also saves and
 * restores the *signal mask* with an rt_sigprocmask system call on every
 * switch.  That system call is most of the ~200 ns a ucontext switch takes on
 * x86-64 (a hand-written switch of the six callee-saved registers takes about
 * 10 ns).  We keep ucontext because it is standard, portable and easy to read;
 * `make bench` prints what a switch costs on your machine.
 *
 * The classic trap.  makecontext() passes the entry function's arguments as
 * `int`s.  A pointer does not fit in an int on a 64-bit machine, so passing
 * one directly "works" until the pointer happens to be above 4 GiB.  We split
 * the pointer into two 32-bit halves and join them again in coro_trampoline.
 *
 * AddressSanitizer must be told about every switch (RELIABILITY.md R1.1-R1.5):
 * "start" right before swapcontext with the destination stack, "finish" first
 * thing after control comes back.  A coro that ends passes NULL to start so
 * ASan can drop the dead stack's fake frames.
 */
#include <stdint.h>
#include <string.h>
#include <errno.h>

#include "runtime/coro.h"
#include "runtime/sanitizers.h"

void coro_init_home(struct co_coro *home)
{
    memset(home, 0, sizeof *home);
    /* stack_lo/size stay unknown until the first task learns them from ASan
     * (see coro_trampoline); without ASan they are never needed. */
}

static void coro_finish_and_leave(struct co_coro *c)
{
    struct co_coro *home = c->home;
    /* NULL: this context will never run again; let ASan free its fake stack. */
    CO_ASAN_START_SWITCH(NULL, home->stack_lo, home->stack_size);
    setcontext(&home->ctx);
}

static void coro_trampoline(unsigned int hi, unsigned int lo)
{
    struct co_coro *c = (struct co_coro *)(((uintptr_t)hi << 32) | (uintptr_t)lo);
    /* First entry: nothing to restore, and ASan tells us the bounds of the
     * stack we came from, which is the home stack. */
    CO_ASAN_FINISH_SWITCH(NULL, &c->home->stack_lo, &c->home->stack_size);
    c->entry(c->arg);
    coro_finish_and_leave(c);
}

int coro_make(struct co_coro *c, const struct co_stack *stack,
              void (*entry)(void *), void *arg, struct co_coro *home)
{
    if (getcontext(&c->ctx) < 0)
        return -errno;
    c->entry = entry;
    c->arg = arg;
    c->home = home;
    c->stack_lo = stack->lo;
    c->stack_size = stack->size;
    c->asan_fake_stack = NULL;
    c->ctx.uc_stack.ss_sp = stack->lo;
    c->ctx.uc_stack.ss_size = stack->size;
    c->ctx.uc_link = NULL;   /* coro_trampoline never returns */
    uintptr_t p = (uintptr_t)c;
    makecontext(&c->ctx, (void (*)(void))coro_trampoline, 2,
                (unsigned int)(p >> 32), (unsigned int)(p & 0xffffffffu));
    return 0;
}

void coro_switch(struct co_coro *from, struct co_coro *to)
{
    CO_ASAN_START_SWITCH(&from->asan_fake_stack, to->stack_lo, to->stack_size);
    swapcontext(&from->ctx, &to->ctx);
    CO_ASAN_FINISH_SWITCH(from->asan_fake_stack, NULL, NULL);
}
