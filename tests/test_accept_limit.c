/* test_accept_limit.c - an accept loop at the descriptor limit (F14).
 *
 * In a child process with RLIMIT_NOFILE lowered and every free descriptor
 * slot but three used up: client A connects and is accepted (two slots),
 * client B connects (the third), and the server's accept of B fails with
 * EMFILE.  The listener stays readable, so a naive loop would spin.  We check
 * that sock_await_accept() backs off (few accept calls, little CPU over 300
 * ms), that the server meanwhile still serves A, and that B is served as soon
 * as A leaves and frees descriptors.  The child reports by exit code: the
 * number of the step that failed, or 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/socket.h"
#include "tests/support.h"

struct limit_story {
    int lfd, port;
    int accepted;
    int failed_at;          /* 0 = every step passed */
    uint64_t accept_calls_while_full;
    int64_t cpu_us_while_full;
};

static int echo_handler(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[256];
    ssize_t n;
    while ((n = sock_await_read(fd, buf, sizeof buf, co_deadline_in_ms(5000))) > 0)
        if (sock_await_write_all(fd, buf, (size_t)n, co_deadline_in_ms(5000)) < 0)
            break;
    sock_close(fd);
    return 0;
}

static int accept_loop(void *arg)
{
    struct limit_story *st = arg;
    while (st->accepted < 2) {
        int fd;
        int rc = sock_await_accept(st->lfd, NULL, &fd, co_deadline_in_ms(5000));
        if (rc < 0) {
            fprintf(stderr, "accept: %s\n", net_strerror(rc));
            st->failed_at = 90;
            return rc;
        }
        st->accepted++;
        co_task *t;
        if (task_spawn(&t, echo_handler, (void *)(intptr_t)fd) < 0) {
            st->failed_at = 91;
            return -1;
        }
        task_detach(t);
    }
    return 0;
}

static bool echo_once(int fd, const char *msg)
{
    size_t len = strlen(msg);
    char buf[64];
    if (sock_await_write_all(fd, msg, len, co_deadline_in_ms(2000)) < 0)
        return false;
    size_t got = 0;
    while (got < len) {
        ssize_t n = sock_await_read(fd, buf + got, sizeof buf - got, co_deadline_in_ms(2000));
        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    return memcmp(buf, msg, len) == 0;
}

static int64_t cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static int clients(void *arg)
{
    struct limit_story *st = arg;
    struct sock_addr a;
    sock_addr_parse("127.0.0.1", st->port, &a);
    int fa, fb;
    if (sock_await_connect(&a, NULL, &fa, co_deadline_in_ms(2000)) < 0)
        return st->failed_at = 1;
    if (!echo_once(fa, "a1"))
        return st->failed_at = 2;
    if (sock_await_connect(&a, NULL, &fb, co_deadline_in_ms(2000)) < 0)
        return st->failed_at = 3;   /* the kernel completes it; only accept() lacks a slot */
    /* Now the server is out of descriptors.  Watch it for 300 ms. */
    struct sock_stats s0, s1;
    sock_get_stats(&s0);
    int64_t cpu0 = cpu_us();
    for (int i = 0; i < 3; i++) {
        await_sleep_ms(100);
        if (!echo_once(fa, "a2"))   /* existing clients are still served */
            return st->failed_at = 4;
    }
    sock_get_stats(&s1);
    st->cpu_us_while_full = cpu_us() - cpu0;
    st->accept_calls_while_full = s1.accept_calls - s0.accept_calls;
    if (s1.accept_backoffs == 0)
        return st->failed_at = 5;
    if (st->accepted != 1)
        return st->failed_at = 6;
    sock_close(fa);   /* frees our slot and, once the server sees EOF, its slot */
    if (!echo_once(fb, "b1"))   /* B is accepted on the next retry */
        return st->failed_at = 7;
    sock_close(fb);
    return 0;
}

static int story_in_child(void)
{
    co_loop *loop;
    struct limit_story st = { 0 };
    if (loop_new(&loop) < 0 || sock_listen("127.0.0.1", 0, NULL, &st.lfd) < 0)
        return 10;
    st.port = sock_local_port(st.lfd);
    /* Lower the limit a little above what is open, then use every free
     * slot but three. */
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = (rlim_t)open_fd_count() + 64;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 11;
    int burned[128], nburned = 0;
    int fd;
    while (nburned < 128 && (fd = dup(STDIN_FILENO)) >= 0)
        burned[nburned++] = fd;
    if (nburned == 128 || errno != EMFILE || nburned < 3)
        return 12;
    for (int i = 0; i < 3; i++)
        close(burned[--nburned]);
    co_task *t;
    task_spawn(&t, accept_loop, &st);
    task_detach(t);
    task_spawn(&t, clients, &st);
    task_detach(t);
    int rc = loop_run(loop);
    while (nburned > 0)
        close(burned[--nburned]);
    sock_close(st.lfd);
    loop_free(loop);
    if (rc < 0)
        return 13;
    fprintf(stderr, "while full: %llu accept calls, %lld us CPU\n",
            (unsigned long long)st.accept_calls_while_full, (long long)st.cpu_us_while_full);
    if (st.failed_at)
        return st.failed_at;
    /* Backing off 1, 2, 4 ... 256 ms gives ~9 attempts in 300 ms; a spinning
     * loop would make hundreds of thousands. */
    if (st.accept_calls_while_full > 30)
        return 20;
    if (st.cpu_us_while_full > 100000)
        return 21;
    return 0;
}

START_TEST(accept_at_the_fd_limit_backs_off_and_recovers)
{
    /* Valgrind keeps descriptors of its own and emulates RLIMIT_NOFILE, so
     * the count of free slots this story relies on does not hold there. */
    if (getenv("COLOOP_UNDER_VALGRIND"))
        return;
    char errpath[] = "/tmp/coloop-emfile-XXXXXX";
    int errfd = mkstemp(errpath);
    ck_assert_int_ge(errfd, 0);
    unlink(errpath);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(errfd, STDERR_FILENO);   /* keep the warning; the parent checks it */
        close(errfd);
        _exit(story_in_child());
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    char text[1024] = "";
    ssize_t n = pread(errfd, text, sizeof text - 1, 0);
    close(errfd);
    text[n > 0 ? n : 0] = '\0';
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "child failed at step %d (status 0x%x); its stderr: %s",
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1, status, text);
    ck_assert_msg(strstr(text, "Too many open files") && strstr(text, "backing off"),
                  "no warning: %s", text);
}
END_TEST

static Suite *accept_limit_suite(void)
{
    Suite *s = suite_create("accept_limit");
    TCase *tc = tcase_create("accept_limit");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, accept_at_the_fd_limit_backs_off_and_recovers);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(accept_limit_suite)
