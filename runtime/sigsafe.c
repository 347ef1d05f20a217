/* sigsafe.c - async-signal-safe message building (see sigsafe.h). */
#include <unistd.h>

#include "runtime/sigsafe.h"

void sigsafe_str(struct sigsafe_buf *b, const char *s)
{
    while (s && *s && b->len < sizeof b->text)
        b->text[b->len++] = *s++;
}

void sigsafe_num(struct sigsafe_buf *b, int64_t n)
{
    char digits[24];
    int i = 0;
    uint64_t u = n < 0 ? (uint64_t)0 - (uint64_t)n : (uint64_t)n;
    do {
        digits[i++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (n < 0 && b->len < sizeof b->text)
        b->text[b->len++] = '-';
    while (i > 0 && b->len < sizeof b->text)
        b->text[b->len++] = digits[--i];
}

void sigsafe_write(int fd, const struct sigsafe_buf *b)
{
    size_t done = 0;
    while (done < b->len) {
        ssize_t n = write(fd, b->text + done, b->len - done);
        if (n <= 0)
            return;
        done += (size_t)n;
    }
}
