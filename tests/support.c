/* support.c - see support.h.  Also the test runner's main(): one Check
 * runner holding one suite per module, in fork mode so a crash or a hang
 * fails one test, not the run. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/support.h"

co_loop *test_loop_new(void)
{
    co_loop *loop;
    ck_assert_int_eq(loop_new(&loop), 0);
    return loop;
}

co_task *test_spawn_detached_at(co_task_fn fn, void *arg, const char *name,
                                const char *fn_name, const char *file, int line)
{
    struct co_spawn_opts opts = { .name = name };
    co_task *t;
    ck_assert_int_eq(task_spawn_at(&t, fn, arg, name ? &opts : NULL, fn_name, file, line), 0);
    task_detach(t);
    return t;
}

void test_run_main_at(co_task_fn fn, void *arg, const char *fn_name, const char *file, int line)
{
    test_spawn_detached_at(fn, arg, NULL, fn_name, file, line);
    ck_assert_int_eq(loop_run(loop_current()), 0);
}

int test_sleep_task(void *ms)
{
    return await_sleep_ms((intptr_t)ms);
}

int test_sleep_job(void *ms)
{
    usleep((useconds_t)(*(int *)ms) * 1000);
    return *(int *)ms;
}

int64_t test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t test_loop_now_ms(void)
{
    return co_now_ns() / 1000000;
}

void test_socketpair(int sv[2])
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

/* Entries in a /proc directory, "." and ".." left out. */
static int count_entries(const char *path)
{
    DIR *d = opendir(path);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

int open_fd_count(void)
{
    return count_entries("/proc/self/fd") - 1;   /* the directory stream's own descriptor */
}

int test_thread_count(void)
{
    return count_entries("/proc/self/task");
}

void loop_free_clean(co_loop *loop, int fds_before)
{
    struct loop_stats s;
    loop_get_stats(loop, &s);
    ck_assert_uint_eq(s.tasks_alive, 0);
    ck_assert_uint_eq(s.handles_open, 0);
    ck_assert_uint_eq(s.timers_armed, 0);
    ck_assert_uint_eq(s.fd_waiters, 0);
    ck_assert_uint_eq(s.external_waits, 0);   /* no pool job still awaited */
    loop_free(loop);
    ck_assert_ptr_null(loop_current());
    ck_assert_int_eq(open_fd_count(), fds_before);
}

bool check_no_fork_mode(void)
{
    const char *v = getenv("CK_FORK");
    return v && strcmp(v, "no") == 0;
}

const char *capture_stderr(void (*fn)(void *), void *arg)
{
    static char text[16384];
    fflush(stderr);
    FILE *tmp = tmpfile();
    int saved = dup(STDERR_FILENO);
    dup2(fileno(tmp), STDERR_FILENO);
    fn(arg);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(tmp);
    size_t n = fread(text, 1, sizeof text - 1, tmp);
    text[n] = '\0';
    fclose(tmp);
    return text;
}

#define MAX_SUITES 64
static Suite *(*suite_makers[MAX_SUITES])(void);
static int suite_count;

void register_suite(Suite *(*make)(void))
{
    if (suite_count == MAX_SUITES) {
        fprintf(stderr, "too many test suites: raise MAX_SUITES in tests/support.c\n");
        exit(EXIT_FAILURE);
    }
    suite_makers[suite_count++] = make;
}

/* Run one suite only with CK_RUN_SUITE=name (one test case: CK_RUN_CASE). */
int main(void)
{
    SRunner *sr = srunner_create(NULL);
    for (int i = 0; i < suite_count; i++)
        srunner_add_suite(sr, suite_makers[i]());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

size_t test_answer_from_child(size_t (*fn)(void *arg, char *out, size_t cap), void *arg,
                              char *out, size_t cap)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(p[0]);
        size_t n = fn(arg, out, cap - 1);
        _exit(write(p[1], out, n) == (ssize_t)n ? 0 : 1);
    }
    close(p[1]);
    size_t got = 0;
    ssize_t n;
    while (got < cap - 1 && (n = read(p[0], out + got, cap - 1 - got)) > 0)
        got += (size_t)n;
    close(p[0]);
    out[got] = '\0';
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status), "the child died (status 0x%x)", status);
    ck_assert_msg(got > 0, "no answer from the child");
    return got;
}
