/* sanitizers.h - the hooks that tell AddressSanitizer and Valgrind about our
 * stacks and our stack switches.  Without them both tools see a program whose
 * stack pointer jumps between unrelated memory blocks and report nonsense
 * (RELIABILITY.md V2, V5).  In a normal build every macro is empty.
 * Internal header: only coro.c and stack.c include it.
 */
#ifndef COLOOP_SANITIZERS_H
#define COLOOP_SANITIZERS_H

#include <stddef.h>

/* gcc defines __SANITIZE_ADDRESS__; clang 14 only answers __has_feature. */
#if defined(__SANITIZE_ADDRESS__)
# define CO_ASAN 1
#elif defined(__has_feature)
# if __has_feature(address_sanitizer)
#  define CO_ASAN 1
# endif
#endif

#ifdef CO_ASAN
# include <sanitizer/common_interface_defs.h>
# include <sanitizer/asan_interface.h>
# define CO_ASAN_START_SWITCH(save, lo, size)  __sanitizer_start_switch_fiber((save), (lo), (size))
# define CO_ASAN_FINISH_SWITCH(save, lo, size) __sanitizer_finish_switch_fiber((save), (lo), (size))
# define CO_ASAN_UNPOISON(lo, size)            ASAN_UNPOISON_MEMORY_REGION((lo), (size))
#else
# define CO_ASAN_START_SWITCH(save, lo, size)  ((void)(save), (void)(lo), (void)(size))
# define CO_ASAN_FINISH_SWITCH(save, lo, size) ((void)(save), (void)(lo), (void)(size))
# define CO_ASAN_UNPOISON(lo, size)            ((void)(lo), (void)(size))
#endif

/* Valgrind's header is optional: without it (no valgrind package) the
 * registration compiles to nothing, and nothing runs under Valgrind anyway. */
#if defined(__has_include)
# if __has_include(<valgrind/valgrind.h>)
#  include <valgrind/valgrind.h>
#  define CO_VALGRIND 1
# endif
#endif

#ifdef CO_VALGRIND
# define CO_VALGRIND_STACK_REGISTER(lo, size) \
    VALGRIND_STACK_REGISTER((char *)(lo), (char *)(lo) + (size) - 1)
# define CO_VALGRIND_STACK_DEREGISTER(id) VALGRIND_STACK_DEREGISTER(id)
#else
# define CO_VALGRIND_STACK_REGISTER(lo, size) ((void)(lo), (void)(size), 0u)
# define CO_VALGRIND_STACK_DEREGISTER(id) ((void)(id))
#endif

#endif
