/* support.h - helpers shared by the Check suites: the "nothing left behind"
 * checks every runtime test ends with, and a way to capture stderr. */
#ifndef COLOOP_TEST_SUPPORT_H
#define COLOOP_TEST_SUPPORT_H

#include <check.h>
#include <stdbool.h>
#include <stdio.h>

#include "coloop.h"

/* Each test file registers its suite with COLOOP_TEST_SUITE(make_fn): the
 * runner picks it up without a central list, so adding a test file needs no
 * edit anywhere else.  (A constructor function runs before main.) */
void register_suite(Suite *(*make)(void));
#define COLOOP_TEST_SUITE(make_fn)                                          \
    __attribute__((constructor)) static void register_##make_fn(void)     \
    {                                                                       \
        register_suite(make_fn);                                            \
    }

/* Number of open descriptors of this process (from /proc/self/fd). */
int open_fd_count(void);

/* Assert the loop has no task, handle, timer or fd waiter left, then free it
 * and assert no descriptor leaked since `fds_before`. */
void loop_free_clean(co_loop *loop, int fds_before);

/* True when Check runs tests in-process (CK_FORK=no, as under Valgrind):
 * tests that crash on purpose are skipped then. */
bool check_no_fork_mode(void);

/* Run fn with stderr sent to a buffer; returns the text (static storage). */
const char *capture_stderr(void (*fn)(void *), void *arg);

#endif
