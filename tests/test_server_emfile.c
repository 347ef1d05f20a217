/* test_server_emfile.c - http/server accepting at the descriptor limit
 * (RELIABILITY.md F14).
 *
 * In a child process (the limit is per process): client A is served; then
 * RLIMIT_NOFILE is lowered so that exactly one more descriptor fits.  Client
 * B's socket takes it, so the server's accept of B fails with EMFILE while
 * the listener stays readable.  The server must back off, not spin (few
 * accept calls in 300 ms), keep serving A, and accept B once A leaves and
 * frees descriptors.  The child reports the step that failed as its exit
 * code (0: all passed). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http/server.h"
#include "tests/server_client.h"
#include "tests/support.h"

static int emfile_step;

/* Record step n as failed unless ok; true if it passed. */
static bool step(int n, bool ok)
{
    if (!ok)
        emfile_step = n;
    return ok;
}

static int emfile_client(void *arg)
{
    (void)arg;
    stream *a = NULL, *b = NULL;
    struct tc_resp r = { 0 };
    if (!step(1, tc_await_connect(tc_port, NULL, &a, tc_dl()) == 0))
        goto out;
    if (!step(2, tc_await_send(a, "GET /e HTTP/1.1\r\nHost: t\r\n\r\n", tc_dl()) == 0))
        goto out;
    if (!step(3, tc_await_response(a, "GET", &r, tc_dl()) == 0 && r.status == 200))
        goto out;
    tc_resp_free(&r);
    struct rlimit saved, low;
    getrlimit(RLIMIT_NOFILE, &saved);
    low = saved;
    low.rlim_cur = (rlim_t)open_fd_count() + 1;
    if (!step(4, setrlimit(RLIMIT_NOFILE, &low) == 0))
        goto out;
    /* the last slot */
    if (!step(5, tc_await_connect(tc_port, NULL, &b, tc_dl()) == 0))
        goto out;
    if (!step(6, tc_await_send(b, "GET /e HTTP/1.1\r\nHost: t\r\n\r\n", tc_dl()) == 0))
        goto out;
    struct sock_stats before, after;
    sock_get_stats(&before);
    await_sleep_ms(300);
    sock_get_stats(&after);
    /* it hit EMFILE */
    if (!step(7, after.accept_backoffs > before.accept_backoffs))
        goto out;
    /* and did not spin */
    if (!step(8, after.accept_calls - before.accept_calls < 30))
        goto out;
    if (!step(9, tc_await_send(a, "GET /e HTTP/1.1\r\nHost: t\r\n\r\n", tc_dl()) == 0))
        goto out;
    /* A still served */
    if (!step(10, tc_await_response(a, "GET", &r, tc_dl()) == 0 && r.status == 200))
        goto out;
    tc_resp_free(&r);
    stream_close(a);                    /* frees descriptors */
    a = NULL;
    if (!step(11, tc_await_response(b, "GET", &r, co_deadline_in_ms(2000)) == 0 && r.status == 200))
        goto out;
    tc_resp_free(&r);
    setrlimit(RLIMIT_NOFILE, &saved);
out:
    stream_close(a);
    stream_close(b);
    tc_resp_free(&r);
    server_stop(tc_server, 0);
    return 0;
}

static int emfile_server(void *arg)
{
    (void)arg;
    server_await_run(tc_server, CO_NO_DEADLINE);
    return 0;
}

START_TEST(accept_at_the_descriptor_limit_backs_off_and_recovers)
{
    /* Valgrind keeps descriptors of its own and emulates RLIMIT_NOFILE, so
     * "exactly one more descriptor fits" does not hold there. */
    if (getenv("COLOOP_UNDER_VALGRIND"))
        return;
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        co_loop *loop;
        struct server_opts o = { .handler = tc_test_handler };
        int null = open("/dev/null", O_WRONLY);
        dup2(null, STDERR_FILENO);      /* the server says once that it backs off */
        close(null);
        if (loop_new(&loop) < 0 || server_new(&o, &tc_server) < 0)
            _exit(100);
        tc_port = server_port(tc_server);
        tc_spawn_detached(emfile_server, NULL);
        tc_spawn_detached(emfile_client, NULL);
        loop_run(loop);
        server_free(tc_server);
        loop_free(loop);
        _exit(emfile_step);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status), "the child died (status %d)", status);
    ck_assert_msg(WEXITSTATUS(status) == 0, "step %d failed", WEXITSTATUS(status));
}
END_TEST

static Suite *server_emfile_suite(void)
{
    Suite *s = suite_create("server_emfile");
    TCase *tc = tcase_create("server_emfile");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, accept_at_the_descriptor_limit_backs_off_and_recovers);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(server_emfile_suite)
