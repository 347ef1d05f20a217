/* error.h - how coloop reports failure.
 *
 * Every function that can fail returns an int: >= 0 is success, < 0 is a
 * negative error code.  Codes are either ordinary errno values (-ETIMEDOUT,
 * -ECANCELED, -ECONNREFUSED, ...) or coloop's own codes below, which start at
 * CO_ERR_BASE so they never collide with errno.  co_strerror() turns any of
 * them into words.  errno itself is never read after a suspension point:
 * another task may have run in between and changed it.
 */
#ifndef COLOOP_ERROR_H
#define COLOOP_ERROR_H

enum co_error {
    CO_ERR_BASE = 10000,
    CO_ENOTASK,      /* an await_* function was called outside any task */
    CO_ENOSTACK,     /* no coroutine stack: the mapping budget is used up */
    CO_ENOLOOP,      /* no loop exists on this thread */
    CO_ENESTED,      /* co_run() called while a loop already runs on this thread */
    CO_EDEADLOCK,    /* every task is blocked and nothing can wake any of them */
    CO_ECLOSED,      /* a channel was closed (or a primitive finalised) while in use */
    CO_ERR_END
};

/* A message for any code this library returns (negative or positive,
 * errno, the runtime's own, or a higher layer's: net/ and http/ register
 * their ranges below).  The string is static; never free it. */
const char *co_strerror(int code);

/* The layers above the runtime (net/ 11000-11999, http/ 12000-12999) own
 * their codes and words, but the runtime cannot include them.  Each registers
 * its range once (from a constructor) so co_strerror answers for every code.
 * `describe` gets the positive code and returns a static string or NULL. */
typedef const char *(*co_error_describer)(int code);
void co_error_register_domain(int first, int last, co_error_describer describe);

#endif
