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
 * The alternative.  With `make SWITCH=asm` (x86-64 only) the two functions at
 * the end of this file use switch_x86_64.S instead: the same contract, the
 * same sanitizer annotations, no system call.
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

#ifdef COLOOP_SWITCH_ASM
void coro_asm_switch(void **save_sp, void *load_sp);
void coro_asm_start(void);
#endif

static void raw_switch(struct co_coro *from, struct co_coro *to)
{
#ifdef COLOOP_SWITCH_ASM
    coro_asm_switch(&from->sp, to->sp);
#else
    swapcontext(&from->ctx, &to->ctx);
#endif
}

const char *coro_switch_kind(void)
{
#ifdef COLOOP_SWITCH_ASM
    return "asm";
#else
    return "ucontext";
#endif
}

static void coro_finish_and_leave(struct co_coro *c)
{
    struct co_coro *to = c->leave_to;
    to->from = c;
    /* NULL: this context will never run again; let ASan free its fake stack. */
    CO_ASAN_START_SWITCH(NULL, to->stack_lo, to->stack_size);
#ifdef COLOOP_SWITCH_ASM
    void *discarded;
    coro_asm_switch(&discarded, to->sp);
#else
    setcontext(&to->ctx);
#endif
}

/* The first code a new coro runs, on its own stack. */
static void coro_run(struct co_coro *c)
{
    /* First entry: nothing to restore, and ASan tells us the bounds of the
     * stack we came from: the loop's own (the first time, the only way to
     * learn them) or another task's (the same bounds we gave it). */
    CO_ASAN_FINISH_SWITCH(NULL, &c->from->stack_lo, &c->from->stack_size);
    c->entry(c->arg);
    coro_finish_and_leave(c);
}

#ifdef COLOOP_SWITCH_ASM
/* Lay out the new stack as if coro_asm_switch had been called from
 * coro_asm_start: the switch's pops then "restore" r12 = c, r13 = coro_run,
 * and its ret jumps to coro_asm_start (see switch_x86_64.S). */
static int prepare_stack(struct co_coro *c, const struct co_stack *stack)
{
    uintptr_t top = ((uintptr_t)stack->lo + stack->size) & ~(uintptr_t)15;
    uint64_t *sp = (uint64_t *)top - 10;
    memset(sp, 0, 10 * sizeof *sp);
    sp[0] = 0x037f;                        /* x87 control word: the Linux default */
    sp[1] = 0x1f80;                        /* MXCSR: all exceptions masked, round to nearest */
    sp[4] = (uint64_t)(uintptr_t)coro_run; /* r13 */
    sp[5] = (uint64_t)(uintptr_t)c;        /* r12 */
    sp[8] = (uint64_t)(uintptr_t)coro_asm_start;   /* return address */
    c->sp = sp;
    return 0;
}
#else
static void coro_trampoline(unsigned int hi, unsigned int lo)
{
    coro_run((struct co_coro *)(((uintptr_t)hi << 32) | (uintptr_t)lo));
}

static int prepare_stack(struct co_coro *c, const struct co_stack *stack)
{
    if (getcontext(&c->ctx) < 0)
        return -errno;
    c->ctx.uc_stack.ss_sp = stack->lo;
    c->ctx.uc_stack.ss_size = stack->size;
    c->ctx.uc_link = NULL;   /* coro_run never returns */
    uintptr_t p = (uintptr_t)c;
    makecontext(&c->ctx, (void (*)(void))coro_trampoline, 2,
                (unsigned int)(p >> 32), (unsigned int)(p & 0xffffffffu));
    return 0;
}
#endif

int coro_make(struct co_coro *c, const struct co_stack *stack,
              void (*entry)(void *), void *arg, struct co_coro *home)
{
    c->entry = entry;
    c->arg = arg;
    c->home = home;
    c->leave_to = home;
    c->stack_lo = stack->lo;
    c->stack_size = stack->size;
    c->asan_fake_stack = NULL;
    return prepare_stack(c, stack);
}

void coro_switch(struct co_coro *from, struct co_coro *to)
{
    to->from = from;
    CO_ASAN_START_SWITCH(&from->asan_fake_stack, to->stack_lo, to->stack_size);
    raw_switch(from, to);
    CO_ASAN_FINISH_SWITCH(from->asan_fake_stack, NULL, NULL);
}
