/* switch_x86_64.S - the hand-written context switch (build with `make SWITCH=asm`).
 *
 * void coro_asm_switch(void **save_sp, void *load_sp)
 *
 * The System V x86-64 ABI says a called function may clobber every register
 * except rbx, rbp, r12-r15 and rsp, plus the control bits of MXCSR and of the
 * x87 FPU control word.  So a switch is a function call that pushes exactly
 * those onto the current stack, stores the stack pointer in *save_sp, loads
 * load_sp, pops the same set from the other stack and returns - into whatever
 * the other context was doing when it called coro_asm_switch (or into
 * coro_asm_start, for a context that never ran).  No system call: unlike
 * swapcontext, the signal mask is not touched (every task of a thread shares
 * it anyway).  That is why this costs ~10 ns instead of a ucontext switch's
 * system call.
 *
 * Stack of a suspended context, from its saved rsp upwards:
 *   +0 x87 control word   +8 MXCSR   +16 r15  +24 r14  +32 r13  +40 r12
 *   +48 rbx  +56 rbp  +64 return address
 */
#if defined(__x86_64__) && defined(COLOOP_SWITCH_ASM)
    .text
    .globl coro_asm_switch
    .type coro_asm_switch, @function
coro_asm_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $16, %rsp
    stmxcsr 8(%rsp)
    fnstcw (%rsp)
    movq %rsp, (%rdi)        /* save: our stack pointer is our whole context */
    movq %rsi, %rsp          /* load: from here on we are on the other stack */
    fldcw (%rsp)
    ldmxcsr 8(%rsp)
    addq $16, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size coro_asm_switch, .-coro_asm_switch

/* First "return" of a new context lands here, with r12 = the coro and
 * r13 = the C function to run it (coro.c prepared both on the new stack). */
    .globl coro_asm_start
    .type coro_asm_start, @function
coro_asm_start:
    movq %r12, %rdi
    andq $-16, %rsp          /* the ABI wants a 16-byte aligned stack at a call */
    callq *%r13
    ud2                      /* the function never returns */
    .size coro_asm_start, .-coro_asm_start
#endif
    .section .note.GNU-stack,"",@progbits
