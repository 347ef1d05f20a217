/* sigsafe.h - building a message inside a signal handler.
 *
 * A handler may only call async-signal-safe functions: no printf, no malloc.
 * These helpers append text and numbers to a fixed buffer by hand, and
 * sigsafe_write() sends it with write(2).  Used by the stack-overflow report
 * and the watchdog.  Internal header.
 */
#ifndef COLOOP_SIGSAFE_H
#define COLOOP_SIGSAFE_H

#include <stddef.h>
#include <stdint.h>

struct sigsafe_buf {
    char text[512];   /* the message so far; silently truncated when full */
    size_t len;
};

void sigsafe_str(struct sigsafe_buf *b, const char *s);
void sigsafe_num(struct sigsafe_buf *b, int64_t n);
void sigsafe_write(int fd, const struct sigsafe_buf *b);

#endif
