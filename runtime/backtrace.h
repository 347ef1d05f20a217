/* backtrace.h - where is a task right now?  Return addresses from a stack,
 * turned into "function at file:line".  Used by the watchdog.  Internal. */
#ifndef COLOOP_BACKTRACE_H
#define COLOOP_BACKTRACE_H

#include <stdint.h>
#include <stdio.h>

#define BT_MAX_FRAMES 24

/* Learn where the program's and libraries' code lies (call once, from any
 * thread, before the other functions). */
void bt_init(void);

/* Walk a stack that is not running (its thread is blocked in a system call)
 * from `sp` up to `top`, keeping every word that points just after a call
 * instruction in loaded code: the return addresses.  Conservative - a stale
 * return address left in a dead frame can show up - but it needs neither
 * frame pointers nor stopping the thread.  Returns how many were stored. */
int bt_scan_stack(uintptr_t sp, uintptr_t top, uintptr_t *pcs, int max);

/* Print frames as "    #N function at file:line" (addr2line for the
 * program, when installed; the dynamic symbol table otherwise).
 * `first_is_pc`: pcs[0] is an exact instruction address, not a return address. */
void bt_print(FILE *out, const uintptr_t *pcs, int n, int first_is_pc);

#endif
