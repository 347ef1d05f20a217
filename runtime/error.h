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
    CO_ERR_END
};

/* A message for any code this library returns (negative or positive,
 * errno or coloop's own).  The string is static; never free it. */
const char *co_strerror(int code);

#endif
