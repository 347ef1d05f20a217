/* overflow.c - turning a stack overflow in a task into a sentence.
 *
 * A task that recurses too deep runs into the PROT_NONE guard page below its
 * stack (stack.c) and the kernel sends SIGSEGV.  A handler cannot run on the
 * overflowed stack - there is no room left on it - so every loop thread gets
 * an alternate signal stack (sigaltstack) and the handler is installed with
 * SA_ONSTACK.  The handler checks whether the faulting address lies in the
 * running task's guard page; if so it prints
 *
 *     stack overflow in task NAME (spawned at FILE:LINE, stack N KiB)
 *
 * and aborts.  Any other fault is not ours: the previous handler (the
 * default, or AddressSanitizer's) gets it, so real crashes keep their usual
 * report and core dump.  Everything in the handler is async-signal-safe.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtime/internal.h"
#include "runtime/sigsafe.h"

/* SIGSTKSZ (8 KiB) is not always enough for a handler plus libc; folly uses 32. */
#define ALT_STACK_SIZE (64 * 1024)

static struct sigaction previous_segv, previous_bus;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

static bool in_guard_page(const co_task *t, const void *addr)
{
    const char *a = addr;
    return t && t->stack.guarded && a >= (const char *)t->stack.map && a < (const char *)t->stack.lo;
}

static void report_overflow(const co_task *t)
{
    struct sigsafe_buf b = { .len = 0 };
    sigsafe_str(&b, "coloop: stack overflow in task ");
    sigsafe_str(&b, t->name);
    sigsafe_str(&b, " (spawned at ");
    sigsafe_str(&b, t->spawn_file);
    sigsafe_str(&b, ":");
    sigsafe_num(&b, t->spawn_line);
    sigsafe_str(&b, ", stack ");
    sigsafe_num(&b, (int64_t)(t->stack.size / 1024));
    sigsafe_str(&b, " KiB): use a bigger .stack_size in task_spawn_opts, "
                    "or move big arrays off the stack\n");
    sigsafe_write(STDERR_FILENO, &b);
}

static void pass_to_previous(int sig, siginfo_t *info, void *uctx)
{
    const struct sigaction *prev = sig == SIGBUS ? &previous_bus : &previous_segv;
    if (prev->sa_flags & SA_SIGINFO) {
        prev->sa_sigaction(sig, info, uctx);
        return;
    }
    if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
        prev->sa_handler(sig);
        return;
    }
    /* Default action: restore it and return; the faulting instruction runs
     * again and this time kills the process with the usual core dump. */
    signal(sig, SIG_DFL);
}

static void on_fault(int sig, siginfo_t *info, void *uctx)
{
    co_loop *loop = loop_this_thread();
    co_task *t = loop ? loop->current : NULL;
    if (in_guard_page(t, info->si_addr)) {
        report_overflow(t);
        signal(SIGABRT, SIG_DFL);
        abort();
    }
    pass_to_previous(sig, info, uctx);
}

static void install_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &previous_segv);
    sigaction(SIGBUS, &sa, &previous_bus);
}

int overflow_guard_start(co_loop *loop)
{
    pthread_once(&install_once, install_handlers);
    void *mem = mmap(NULL, ALT_STACK_SIZE, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return -errno;
    stack_t ss = { .ss_sp = mem, .ss_size = ALT_STACK_SIZE, .ss_flags = 0 };
    if (sigaltstack(&ss, &loop->previous_altstack) < 0) {
        int err = errno;
        munmap(mem, ALT_STACK_SIZE);
        return -err;
    }
    loop->altstack = mem;
    return 0;
}

void overflow_guard_stop(co_loop *loop)
{
    if (!loop->altstack)
        return;
    sigaltstack(&loop->previous_altstack, NULL);
    munmap(loop->altstack, ALT_STACK_SIZE);
    loop->altstack = NULL;
}
