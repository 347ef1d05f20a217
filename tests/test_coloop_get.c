/* test_coloop_get.c - demos/coloop-get run as a program, option by option,
 * error kind by error kind, against servers in this process: httpbin on
 * threads of its own (httpbin_start_thread), plain or TLS with a throwaway
 * PKI (tests/tls_certs.c), and the canned server (tests/canned_server.h)
 * for the byte-exact faults httpbin cannot make (a stall, a protocol
 * violation, interim responses, trailers).  The suite runs from
 * $(BUILD)/tests, next to $(BUILD)/demos; each run's stdout and stderr go
 * to files in a temporary directory that is also its working directory.
 * Exit 1 (no kind of its own) is reached by a run under a low
 * RLIMIT_NOFILE (run_with_fd_limit).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/canned_server.h"
#include "tests/support.h"
#include "tests/tls_certs.h"

extern char **environ;

/* ---- running the program ---- */

static char prog[PATH_MAX];     /* ../demos/coloop-get, made absolute */
static char dir[64];            /* this test's temporary directory (the program's cwd) */

/* What one run left behind. */
struct result {
    int code;                   /* exit status, or -1 if it did not exit */
    char out[1 << 17];          /* stdout */
    size_t out_len;
    char err[1 << 15];          /* stderr */
    int64_t ms;                 /* how long it ran */
};

static struct result R;         /* big: static, not on a task's stack */

/* A file of dir into buf (NUL-terminated); its length. */
static size_t slurp(const char *name, char *buf, size_t cap)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    size_t n = 0;
    if (f) {
        n = fread(buf, 1, cap - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
    return n;
}

/* Write len bytes to a file of dir. */
static void put_file(const char *name, const char *data, size_t len)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

/* Drop the sanitizers' own notes ("==123==WARNING: ASan doesn't fully
 * support makecontext/swapcontext ..." under `make asan`, where the program
 * is built with ASan too): only the program's lines are under test. */
static void drop_sanitizer_lines(char *text)
{
    char *line = text, *keep = text;
    while (*line) {
        char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) + 1 : strlen(line);
        if (strncmp(line, "==", 2) != 0) {
            memmove(keep, line, len);
            keep += len;
        }
        line += len;
    }
    *keep = '\0';
}

/* Run the program with args (NULL-terminated) in dir, stdout to `out`
 * (NULL: dir/stdout), stderr to dir/stderr; fill *r.  Blocks the caller
 * until it ends: call it from a pool thread when this loop must go on
 * serving (await_get). */
static void run_into(struct result *r, const char *out, const char *const *args)
{
    const char *argv[40] = { prog };
    size_t n = 1;
    while (args[n - 1] && n < 39) {
        argv[n] = args[n - 1];
        n++;
    }
    argv[n] = NULL;
    char out_path[128], err_path[128];
    snprintf(out_path, sizeof out_path, "%s/stdout", dir);
    snprintf(err_path, sizeof err_path, "%s/stderr", dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out ? out : out_path, O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addchdir_np(&fa, dir);
    int64_t t0 = test_now_ms();
    pid_t pid;
    int rc = posix_spawn(&pid, prog, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    r->code = -1;
    if (rc == 0) {
        int status;
        while (waitpid(pid, &status, 0) < 0)
            ;
        r->code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    r->ms = test_now_ms() - t0;
    r->out_len = slurp("stdout", r->out, sizeof r->out);
    slurp("stderr", r->err, sizeof r->err);
    drop_sanitizer_lines(r->err);
}

/* Run the program with stdout into a pipe nobody reads for `stall_ms`,
 * then read it all: a slow consumer, like `coloop-get URL | less`. */
static void run_into_slow_pipe(struct result *r, int stall_ms, const char *const *args)
{
    const char *argv[40] = { prog };
    for (size_t n = 1; args[n - 1] && n < 39; n++)
        argv[n] = args[n - 1];
    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
    char err_path[128];
    snprintf(err_path, sizeof err_path, "%s/stderr", dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int rc = posix_spawn(&pid, prog, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    ck_assert_int_eq(rc, 0);
    usleep((useconds_t)stall_ms * 1000);
    char buf[65536];
    ssize_t got;
    r->out_len = 0;
    while ((got = read(fds[0], buf, sizeof buf)) > 0)
        r->out_len += (size_t)got;
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        ;
    r->code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    slurp("stderr", r->err, sizeof r->err);
    drop_sanitizer_lines(r->err);
}

/* Run the program as run_into does (stdout and stderr to files of dir),
 * with RLIMIT_NOFILE lowered to `nofile` in the child: fork, then only
 * async-signal-safe calls before execv (this process has threads). */
static void run_with_fd_limit(struct result *r, rlim_t nofile, const char *const *args)
{
    const char *argv[40] = { prog };
    for (size_t n = 1; args[n - 1] && n < 39; n++)
        argv[n] = args[n - 1];
    char out_path[128], err_path[128];
    snprintf(out_path, sizeof out_path, "%s/stdout", dir);
    snprintf(err_path, sizeof err_path, "%s/stderr", dir);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
            dup2(err, 2) < 0 || chdir(dir) < 0)
            _exit(126);
        for (int fd = 3; fd < 1024; fd++)       /* nothing of ours takes the child's slots */
            close(fd);
        struct rlimit rl = { nofile, nofile };
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            _exit(126);
        execv(prog, (char *const *)argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        ;
    r->code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r->out_len = slurp("stdout", r->out, sizeof r->out);
    slurp("stderr", r->err, sizeof r->err);
    drop_sanitizer_lines(r->err);
}

#define GET(...) run_into(&R, NULL, (const char *const[]){ __VA_ARGS__, NULL })
#define GET_TO(out, ...) run_into(&R, (out), (const char *const[]){ __VA_ARGS__, NULL })

/* The same from a task, on a pool thread, so the loop keeps serving the
 * canned server meanwhile.  Suspends. */
struct get_job {
    const char *const *args;
};

static int get_job_run(void *arg)
{
    run_into(&R, NULL, ((struct get_job *)arg)->args);
    return 0;
}

static void await_get_args(const char *const *args)
{
    struct get_job job = { args };
    ck_assert_int_eq(await_thread(get_job_run, &job, sizeof job, NULL, co_deadline_in_ms(20000)), 0);
}
#define AWAIT_GET(...) await_get_args((const char *const[]){ __VA_ARGS__, NULL })

/* How many times needle occurs in hay. */
static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *at = hay; (at = strstr(at, needle)); at += strlen(needle))
        n++;
    return n;
}

#define ck_assert_has(hay, needle) ck_assert_msg(strstr((hay), (needle)) != NULL, \
    "expected \"%s\" in:\n%s", (needle), (hay))
#define ck_assert_lacks(hay, needle) ck_assert_msg(strstr((hay), (needle)) == NULL, \
    "did not expect \"%s\" in:\n%s", (needle), (hay))

static void setup(void)
{
    ck_assert_ptr_nonnull(realpath("../demos/coloop-get", prog));
    snprintf(dir, sizeof dir, "/tmp/coloop-get-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    memset(&R, 0, sizeof R);
}

static void teardown(void)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            char path[400];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    closedir(d);
    rmdir(dir);
}

/* ---- httpbin on threads of its own ---- */

static httpbin_thread *bin;
static char base[64];           /* "http://127.0.0.1:PORT" or https */

static void bin_start(tls_ctx *tls)
{
    struct httpbin_opts o = { .server = { .tls = tls } };
    ck_assert_int_eq(httpbin_start_thread(&o, &bin), 0);
    snprintf(base, sizeof base, "%s://127.0.0.1:%d", tls ? "https" : "http",
             httpbin_thread_port(bin));
}

static void bin_stop(struct server_stats *st)
{
    ck_assert_int_eq(httpbin_stop_thread(bin, 50, st), 0);
    bin = NULL;
}

/* base + path, in one of four rotating buffers. */
static const char *url(const char *path)
{
    static char bufs[4][256];
    static int next;
    char *b = bufs[next++ % 4];
    snprintf(b, sizeof bufs[0], "%s%s", base, path);
    return b;
}

/* ---- fetching and the options ---- */

START_TEST(body_goes_to_stdout_and_nothing_to_stderr)
{
    bin_start(NULL);
    GET(url("/hello"));
    bin_stop(NULL);
    ck_assert_int_eq(R.code, 0);
    ck_assert_str_eq(R.out, "Hello, World!\n");
    ck_assert_str_eq(R.err, "");
}
END_TEST

START_TEST(several_urls_share_one_kept_alive_connection)
{
    bin_start(NULL);
    GET("--json", url("/hello"), url("/bytes/10"), url("/get"));
    struct server_stats st;
    bin_stop(&st);
    ck_assert_int_eq(R.code, 0);
    ck_assert_uint_eq(st.accepted, 1);      /* one connection ... */
    ck_assert_uint_eq(st.requests, 3);
    ck_assert_uint_eq(st.reused, 2);        /* ... carried all three */
    ck_assert_int_eq(count(R.err, "\"reused\":false"), 1);
    ck_assert_int_eq(count(R.err, "\"reused\":true"), 2);
    ck_assert_has(R.out, "Hello, World!\n");
    ck_assert_has(R.out, "\"method\": \"GET\"");
}
END_TEST

START_TEST(method_headers_and_data_reach_the_server)
{
    bin_start(NULL);
    GET("-X", "PUT", "-H", "X-Test: yes", "-H", "X-Other:  two words", "-d", "a=1", "-d", "b=2",
        url("/anything"));
    bin_stop(NULL);
    ck_assert_int_eq(R.code, 0);
    ck_assert_has(R.out, "\"method\": \"PUT\"");
    ck_assert_has(R.out, "\"X-Test\": \"yes\"");
    ck_assert_has(R.out, "\"X-Other\": \"two words\"");
    ck_assert_has(R.out, "\"Content-Type\": \"application/x-www-form-urlencoded\"");
    ck_assert_has(R.out, "a=1&b=2");
}
END_TEST

START_TEST(data_binary_from_a_missing_file_is_exit_26)
{
    bin_start(NULL);
    GET("--data-binary", "@missing.txt", url("/anything"));
    struct server_stats st;
    bin_stop(&st);
    ck_assert_int_eq(R.code, 26);
    ck_assert_has(R.err, "coloop-get: read: missing.txt: No such file or directory");
    ck_assert_uint_eq(st.accepted, 0);      /* nothing was sent */
}
END_TEST

START_TEST(data_binary_body_arrives_byte_for_byte)
{
    put_file("body.txt", "one\ntwo\n", 8);
    bin_start(NULL);
    GET("--data-binary", "@body.txt", "-H", "Content-Type: text/plain", url("/anything"));
    bin_stop(NULL);
    ck_assert_int_eq(R.code, 0);
    ck_assert_has(R.out, "\"method\": \"POST\"");
    ck_assert_has(R.out, "\"data\": \"one\\u000atwo\\u000a\"");
    ck_assert_has(R.out, "\"Content-Type\": \"text/plain\"");
}
END_TEST

START_TEST(head_prints_the_head_and_no_body)
{
    bin_start(NULL);
    GET("-I", url("/bytes/100"));
    bin_stop(NULL);
    ck_assert_int_eq(R.code, 0);
    ck_assert_int_eq(strncmp(R.out, "HTTP/1.1 200 OK\r\n", 17), 0);
    ck_assert_has(R.out, "Content-Length: 100\r\n");
    ck_assert_int_eq(strcmp(R.out + R.out_len - 4, "\r\n\r\n"), 0);
    ck_assert_uint_lt(R.out_len, 200);
}
END_TEST

START_TEST(include_prints_the_head_before_the_body)
{
    bin_start(NULL);
    GET("-i", url("/hello"));
    bin_stop(NULL);
    ck_assert_int_eq(R.code, 0);
    ck_assert_int_eq(strncmp(R.out, "HTTP/1.1 200 OK\r\n", 17), 0);
    ck_assert_has(R.out, "Content-Length: 14\r\n\r\nHello, World!\n");
}
END_TEST

START_TEST(location_follows_and_dump_header_keeps_every_head)
{
    bin_start(NULL);
    GET("-L", "-D", "heads.txt", url("/redirect/2"));
    ck_assert_int_eq(R.code, 0);
    ck_assert_has(R.out, "\"url\": \"http://127.0.0.1:");   /* /get's echo, and only it */
    ck_assert_lacks(R.out, "HTTP/1.1");
    char heads[4096];
    slurp("heads.txt", heads, sizeof heads);
    ck_assert_int_eq(count(heads, "HTTP/1.1 302 Found\r\n"), 2);
    ck_assert_int_eq(count(heads, "HTTP/1.1 200 OK\r\n"), 1);
    ck_assert_has(heads, "Location: /get\r\n");

    GET("-i", url("/redirect/1"));           /* without -L: the 302 is the answer */
    bin_stop(NULL);
    ck_assert_int_eq(R.code, 0);
    ck_assert_int_eq(strncmp(R.out, "HTTP/1.1 302 Found\r\n", 20), 0);
    ck_assert_lacks(R.out, "200 OK");
}
END_TEST

START_TEST(redirects_change_the_method_and_drop_credentials_as_the_client_does)
{
    bin_start(NULL);
    GET("-L", "-d", "a=1", url("/redirect-to?url=/anything&status_code=302"));
    ck_assert_int_eq(R.code, 0);
    ck_assert_has(R.out, "\"method\": \"GET\"");         /* POST + 302: GET, no body */
    ck_assert_lacks(R.out, "a=1");
    ck_assert_lacks(R.out, "Content-Type");
    GET("-L", "-d", "a=1", url("/redirect-to?url=/anything&status_code=307"));
    ck_assert_int_eq(R.code, 0);
    ck_assert_has(R.out, "\"method\": \"POST\"");        /* 307: the same request again */
    ck_assert_has(R.out, "a=1");
    GET("-L", "-H", "Authorization: Bearer s3cret", url("/redirect/1"));
    ck_assert_has(R.out, "s3cret");                         /* same origin: kept */
    char elsewhere[128];
    snprintf(elsewhere, sizeof elsewhere, "/redirect-to?url=http://localhost:%d/get",
             httpbin_thread_port(bin));
    GET("-L", "-H", "Authorization: Bearer s3cret", url(elsewhere));
    bin_stop(NULL);
    ck_assert_int_eq(R.code, 0);
    ck_assert_has(R.out, "\"Host\": \"localhost:");        /* another origin: dropped */
    ck_assert_lacks(R.out, "s3cret");
}
END_TEST

START_TEST(max_redirs_stops_the_chain_with_exit_47)
{
    bin_start(NULL);
    GET("-L", "--max-redirs", "1", url("/redirect/3"));
    struct server_stats st;
    bin_stop(&st);
    ck_assert_int_eq(R.code, 47);
    ck_assert_uint_eq(st.requests, 2);
    ck_assert_has(R.err, "coloop-get: redirect: too many redirects: stopped after 1 redirects");
    ck_assert_str_eq(R.out, "");
}
END_TEST

START_TEST(outputs_pair_with_urls_in_order)
{
    bin_start(NULL);
    GET("-o", "first.bin", "-O", url("/bytes/64"), url("/bytes/32"), url("/hello"));
    bin_stop(NULL);
    ck_assert_int_eq(R.code, 0);
    char buf[256];
    ck_assert_uint_eq(slurp("first.bin", buf, sizeof buf), 64);
    ck_assert_uint_eq(slurp("32", buf, sizeof buf), 32);        /* -O: the last segment */
    ck_assert_str_eq(R.out, "Hello, World!\n");                  /* the rest: stdout */
}
END_TEST

START_TEST(fail_turns_an_http_error_into_exit_22)
{
    bin_start(NULL);
    GET("--fail", url("/status/404"));
    ck_assert_int_eq(R.code, 22);
    ck_assert_has(R.err, "coloop-get: http: the server answered 404 Not Found (--fail)");
    ck_assert_str_eq(R.out, "");
    GET(url("/status/404"));
    bin_stop(NULL);
    ck_assert_int_eq(R.code, 0);                 /* a 404 is a response */
}
END_TEST

START_TEST(verbose_shows_connection_request_and_response)
{
    bin_start(NULL);
    char by_name[96];
    snprintf(by_name, sizeof by_name, "http://localhost:%d/hello", httpbin_thread_port(bin));
    GET("-v", "-H", "X-Test: 1", url("/hello"), url("/hello"), by_name);
    int port = httpbin_thread_port(bin);
    bin_stop(NULL);
    ck_assert_int_eq(R.code, 0);
    ck_assert_has(R.err, "> GET /hello HTTP/1.1\n");
    ck_assert_has(R.err, "> X-Test: 1\n");
    char line[160];
    snprintf(line, sizeof line, "* new connection to http://127.0.0.1:%d at 127.0.0.1:%d: TCP "
             "connect ", port, port);
    ck_assert_has(R.err, line);
    snprintf(line, sizeof line, "* reused a kept-alive connection to http://127.0.0.1:%d at "
             "127.0.0.1:%d\n", port, port);
    ck_assert_has(R.err, line);
    ck_assert_has(R.err, "< HTTP/1.1 200 OK\n");
    ck_assert_has(R.err, "* 14 body bytes");
    /* Another origin by name: the address it actually used (localhost may
     * resolve to ::1 first; httpbin listens on 127.0.0.1 only), and the
     * lookup's time, with no second lookup of the program's own. */
    snprintf(line, sizeof line, "* new connection to http://localhost:%d at 127.0.0.1:%d: DNS "
             "lookup ", port, port);
    ck_assert_has(R.err, line);
    ck_assert_lacks(R.err, "* TLS");                        /* plain http */
    ck_assert_str_eq(R.out, "Hello, World!\nHello, World!\nHello, World!\n");
}
END_TEST

START_TEST(json_out_writes_one_line_per_url_with_errors_named)
{
    bin_start(NULL);
    GET("--json-out", "log.json", url("/bytes/5"), url("/delay/2000"), "-m", "0.2");
    bin_stop(NULL);
    ck_assert_int_eq(R.code, 28);
    char log[4096];
    slurp("log.json", log, sizeof log);
    ck_assert_int_eq(count(log, "\n"), 2);
    ck_assert_has(log, "\"status\":200,\"bytes\":5,\"redirects\":0,\"reused\":false,");
    ck_assert_has(log, "\"time_dns_ms\":");
    ck_assert_has(log, "\"time_first_byte_ms\":");
    ck_assert_has(log, "\"exit\":0,\"error\":null}");
    ck_assert_has(log, "\"exit\":28,\"error\":{\"kind\":\"timeout\",\"message\":\"total timeout");
    ck_assert_lacks(R.err, "{\"url\"");          /* the lines went to the file */
}
END_TEST

START_TEST(max_filesize_caps_announced_and_unannounced_bodies)
{
    bin_start(NULL);
    GET("--max-filesize", "100", url("/bytes/1000"));       /* Content-Length: 1000 */
    ck_assert_int_eq(R.code, 63);
    ck_assert_has(R.err, "coloop-get: too large: body larger than the body limit");
    GET("--max-filesize", "100", url("/stream/20"));        /* chunked */
    ck_assert_int_eq(R.code, 63);
    ck_assert_uint_le(R.out_len, 100);
    GET("--max-filesize", "100", url("/bytes/100"));
    bin_stop(NULL);
    ck_assert_int_eq(R.code, 0);
    ck_assert_uint_eq(R.out_len, 100);
}
END_TEST

START_TEST(a_slow_reader_of_stdout_does_not_trip_the_read_timeout)
{
    /* The body fills the pipe (64 KiB) in about 300 ms, then the program
     * cannot write for 600 ms, twice the read timeout.  Written on the
     * loop's thread, that stall would freeze the loop's clock and the next
     * read would time out at once; written on the pool, nothing notices. */
    bin_start(NULL);
    run_into_slow_pipe(&R, 900, (const char *const[]){ "--read-timeout", "0.3",
                       url("/drip?bytes=200000&duration=1000"), NULL });
    bin_stop(NULL);
    ck_assert_msg(R.code == 0, "exit %d: %s", R.code, R.err);
    ck_assert_uint_eq(R.out_len, 200000);
}
END_TEST

START_TEST(long_options_do_what_the_short_ones_do)
{
    bin_start(NULL);
    GET("--request", "PUT", "--header", "X-Test: yes", "--data", "a=1", "--include", "--output",
        "out.txt", url("/anything"));
    ck_assert_int_eq(R.code, 0);
    ck_assert_str_eq(R.out, "");                             /* --output took the body */
    char buf[4096];
    slurp("out.txt", buf, sizeof buf);
    ck_assert_int_eq(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17), 0);   /* --include */
    ck_assert_has(buf, "\"method\": \"PUT\"");
    ck_assert_has(buf, "\"X-Test\": \"yes\"");
    ck_assert_has(buf, "a=1");

    GET("--location", "--max-redirs", "2", "--dump-header", "heads.txt", "--max-time", "10",
        "--connect-timeout", "10", "--read-timeout", "10", url("/redirect/2"));
    ck_assert_int_eq(R.code, 0);
    ck_assert_has(R.out, "\"url\": \"http://127.0.0.1:");
    slurp("heads.txt", buf, sizeof buf);
    ck_assert_int_eq(count(buf, "HTTP/1.1 302 Found\r\n"), 2);
    ck_assert_int_eq(count(buf, "HTTP/1.1 200 OK\r\n"), 1);

    GET("--head", "--verbose", url("/bytes/100"));
    ck_assert_int_eq(R.code, 0);
    ck_assert_int_eq(strncmp(R.out, "HTTP/1.1 200 OK\r\n", 17), 0);
    ck_assert_uint_lt(R.out_len, 200);                       /* no body */
    ck_assert_has(R.err, "> HEAD /bytes/100 HTTP/1.1\n");

    GET("--remote-name", "--json-out", "log.json", url("/bytes/7"));
    ck_assert_int_eq(R.code, 0);
    ck_assert_uint_eq(slurp("7", buf, sizeof buf), 7);
    slurp("log.json", buf, sizeof buf);
    ck_assert_has(buf, "\"status\":200,\"bytes\":7,");

    GET("--max-filesize", "10", url("/bytes/100"));
    ck_assert_int_eq(R.code, 63);

    GET("--silent", "--fail", url("/status/404"));
    bin_stop(NULL);
    ck_assert_int_eq(R.code, 22);
    ck_assert_str_eq(R.err, "");
    ck_assert_str_eq(R.out, "");
}
END_TEST

static void dump_to_stdout_case(struct canned_env *env)
{
    AWAIT_GET("-D", "-", canned_path(env->srv, "/"));
}

START_TEST(dump_header_dash_writes_the_heads_to_stdout_before_the_body)
{
    /* Interim heads included, byte for byte, then the body after them. */
    struct canned_server s = { .scripts = { {
        C_READ, C_SEND("HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
                       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") } } };
    canned_run(&s, NULL, dump_to_stdout_case, NULL);
    canned_server_free(&s);
    ck_assert_msg(R.code == 0, "exit %d: %s", R.code, R.err);
    ck_assert_str_eq(R.out, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
                            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    ck_assert_str_eq(R.err, "");

    /* Every hop of a redirect chain, in order, then the final body. */
    bin_start(NULL);
    GET("-L", "-D", "-", url("/redirect/1"));
    bin_stop(NULL);
    ck_assert_int_eq(R.code, 0);
    ck_assert_int_eq(strncmp(R.out, "HTTP/1.1 302 Found\r\n", 20), 0);
    const char *ok = strstr(R.out, "HTTP/1.1 200 OK\r\n");
    const char *body = ok ? strstr(ok, "\r\n\r\n{") : NULL;
    ck_assert_msg(ok && body, "302, 200, body in order in:\n%s", R.out);
    ck_assert_has(body, "\"url\": \"http://127.0.0.1:");
    ck_assert_int_eq(count(R.out, "HTTP/1.1 "), 2);
}
END_TEST

/* Bytes a form field never has: NUL, CR LF, 0xff, and the separators. */
static const char file_a[] = "a\0b\r\nc\xff&=%";
static const char file_b[] = "\0\0\x01\x7f\n\xfe end";

static void data_files_case(struct canned_env *env)
{
    const char *u = canned_path(env->srv, "/");
    AWAIT_GET("-d", "@a.bin", u);
    ck_assert_msg(R.code == 0, "exit %d: %s", R.code, R.err);
    AWAIT_GET("--data-binary", "@b.bin", "-H", "Content-Type: application/octet-stream", u);
    ck_assert_msg(R.code == 0, "exit %d: %s", R.code, R.err);
    AWAIT_GET("-d", "@a.bin", "--data-binary", "@b.bin", u);
    ck_assert_msg(R.code == 0, "exit %d: %s", R.code, R.err);
}

START_TEST(data_from_a_file_sends_the_files_bytes_exactly)
{
    size_t a = sizeof file_a - 1, b = sizeof file_b - 1;
    put_file("a.bin", file_a, a);
    put_file("b.bin", file_b, b);
    struct canned_server s = { .scripts = { {
        C_READ, C_SEND("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), C_REPEAT } } };
    canned_run(&s, NULL, data_files_case, NULL);
    ck_assert_int_eq(s.requests, 3);
    char joined[64], cl[64];
    memcpy(joined, file_a, a);
    joined[a] = '&';
    memcpy(joined + a + 1, file_b, b);
    const struct { const char *bytes; size_t len; const char *type; } want[] = {
        { file_a, a, "Content-Type: application/x-www-form-urlencoded\r\n" },
        { file_b, b, "Content-Type: application/octet-stream\r\n" },
        { joined, a + 1 + b, "Content-Type: application/x-www-form-urlencoded\r\n" },
    };
    for (int i = 0; i < 3; i++) {
        const struct canned_request *q = &s.reqs[i];
        ck_assert_msg(strncmp(q->head, "POST / HTTP/1.1\r\n", 17) == 0, "%s", q->head);
        snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", want[i].len);
        ck_assert_has(q->head, cl);
        ck_assert_has(q->head, want[i].type);
        ck_assert_uint_eq(q->body_len, want[i].len);
        ck_assert_int_eq(memcmp(q->body, want[i].bytes, want[i].len), 0);
    }
    canned_server_free(&s);
}
END_TEST

/* ---- every kind of failure, with its exit code ---- */

START_TEST(max_time_bounds_the_whole_url_with_exit_28)
{
    bin_start(NULL);
    GET("-m", "0.2", url("/delay/3000"));
    bin_stop(NULL);
    ck_assert_int_eq(R.code, 28);
    ck_assert_has(R.err, "coloop-get: timeout: total timeout");
    ck_assert_int_lt(R.ms, 2000);
}
END_TEST

START_TEST(a_body_cut_short_is_exit_56)
{
    bin_start(NULL);
    GET(url("/close?bytes=100&after=10"));
    bin_stop(NULL);
    ck_assert_int_eq(R.code, 56);
    ck_assert_has(R.err, "coloop-get: closed: ");
    ck_assert_uint_eq(R.out_len, 10);        /* what came is written, as curl does */
}
END_TEST

START_TEST(a_refused_connection_is_exit_7)
{
    int lfd;
    ck_assert_int_eq(sock_listen("127.0.0.1", 0, NULL, &lfd), 0);
    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/", sock_local_port(lfd));
    close(lfd);
    GET(u);
    ck_assert_int_eq(R.code, 7);
    ck_assert_has(R.err, "coloop-get: connect: Connection refused: connect to 127.0.0.1:");
}
END_TEST

START_TEST(an_unknown_host_is_exit_6)
{
    /* A 64-byte label is longer than DNS allows: the resolver refuses it
     * without asking the network, so this is fast and offline. */
    char u[128];
    snprintf(u, sizeof u, "http://%.64s.invalid/", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                                  "aaaaaaaaaaaaaaaaaaaaaaaaa");
    GET("--connect-timeout", "5", u);
    ck_assert_int_eq(R.code, 6);
    ck_assert_has(R.err, "coloop-get: dns: ");
    ck_assert_has(R.err, "cannot resolve");
}
END_TEST

START_TEST(header_injection_is_refused_before_sending)
{
    bin_start(NULL);
    GET("-H", "X-A: b\r\nX-Evil: 1", url("/get"));
    ck_assert_int_eq(R.code, 3);
    ck_assert_has(R.err, "coloop-get: request: request refused before sending");
    ck_assert_has(R.err, "the value has a CR, LF, NUL");
    GET("-H", "X-A\r\nX-Evil: 1", url("/get"));      /* through the name */
    ck_assert_int_eq(R.code, 3);
    GET("-H", "X-A: b\nX-Evil: 1", url("/get"));     /* a bare LF too */
    ck_assert_int_eq(R.code, 3);
    struct server_stats st;
    bin_stop(&st);
    ck_assert_uint_eq(st.accepted, 0);               /* not a byte went out */
}
END_TEST

START_TEST(usage_errors_are_exit_2_and_help_lists_every_code)
{
    GET("--no-such-option", "http://127.0.0.1:1/");
    ck_assert_int_eq(R.code, 2);
    ck_assert_has(R.err, "try 'coloop-get --help'");
    GET("-s");
    ck_assert_int_eq(R.code, 2);
    ck_assert_has(R.err, "no URL given");
    GET("-H", "no colon", "http://127.0.0.1:1/");
    ck_assert_int_eq(R.code, 2);
    GET("-m", "soon", "http://127.0.0.1:1/");
    ck_assert_int_eq(R.code, 2);
    GET("-o", "a", "-o", "b", "http://127.0.0.1:1/");
    ck_assert_int_eq(R.code, 2);
    GET("--help");
    ck_assert_int_eq(R.code, 0);
    const char *codes[] = { " 2  usage", " 3  request", " 6  dns", " 7  connect", " 8  protocol",
                            "22  http", "23  write", "26  read", "28  timeout", "35  tls",
                            "47  redirect", "56  closed", "60  certificate", "63  too large",
                            "77  cacert" };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        ck_assert_has(R.out, codes[i]);
}
END_TEST

START_TEST(a_write_error_is_exit_23)
{
    bin_start(NULL);
    GET_TO("/dev/full", url("/bytes/100000"));
    ck_assert_int_eq(R.code, 23);
    ck_assert_has(R.err, "coloop-get: write: stdout: No space left on device");
    GET("-o", "no-such-dir/file", url("/hello"));
    bin_stop(NULL);
    ck_assert_int_eq(R.code, 23);
}
END_TEST

START_TEST(silent_drops_the_error_line_not_the_exit_code)
{
    bin_start(NULL);
    GET("-s", "--fail", url("/status/500"));
    bin_stop(NULL);
    ck_assert_int_eq(R.code, 22);
    ck_assert_str_eq(R.err, "");
}
END_TEST

/* ---- byte-exact servers: the canned server on this thread's loop ---- */

static void read_timeout_case(struct canned_env *env)
{
    AWAIT_GET("--read-timeout", "0.2", canned_path(env->srv, "/"));
}

START_TEST(a_silent_server_is_a_read_timeout)
{
    struct canned_server s = { .scripts = { { C_READ, C_SLEEP(3000) } } };
    canned_run(&s, NULL, read_timeout_case, NULL);
    canned_server_free(&s);
    ck_assert_int_eq(R.code, 28);
    ck_assert_has(R.err, "coloop-get: timeout: read timeout");
    ck_assert_int_lt(R.ms, 2000);
}
END_TEST

static void connect_timeout_case(struct canned_env *env)
{
    AWAIT_GET("--connect-timeout", "0.2", canned_path(env->srv, "/"));
}

START_TEST(a_connect_that_never_completes_is_a_connect_timeout)
{
    struct canned_server s = { .no_accept = true };
    canned_run(&s, NULL, connect_timeout_case, NULL);
    canned_server_free(&s);
    ck_assert_int_eq(R.code, 28);
    ck_assert_has(R.err, "coloop-get: timeout: connect timeout");
}
END_TEST

static void plain_case(struct canned_env *env)
{
    AWAIT_GET("-i", canned_path(env->srv, "/"));
}

START_TEST(a_protocol_violation_names_the_rule_with_exit_8)
{
    struct canned_server s = { .scripts = { {
        C_READ, C_SEND("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "2\r\nok\r\n0\r\n\r\n") } } };
    canned_run(&s, NULL, plain_case, NULL);
    canned_server_free(&s);
    ck_assert_int_eq(R.code, 8);
    ck_assert_has(R.err, "coloop-get: protocol: ");
    ck_assert_has(R.err, co_strerror(-HTTP_E_CL_AND_TE));
    ck_assert_str_eq(R.out, "");
}
END_TEST

START_TEST(an_interim_response_is_not_the_response)
{
    struct canned_server s = { .scripts = { {
        C_READ, C_SEND("HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
                       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") } } };
    canned_run(&s, NULL, plain_case, NULL);
    canned_server_free(&s);
    ck_assert_int_eq(R.code, 0);
    ck_assert_str_eq(R.out, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
}
END_TEST

static void interim_dump_case(struct canned_env *env)
{
    AWAIT_GET("-i", "-v", "-D", "heads.txt", canned_path(env->srv, "/"));
}

START_TEST(dump_header_and_verbose_show_interim_heads_before_the_final_one)
{
    struct canned_server s = { .scripts = { {
        C_READ, C_SEND("HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
                       "HTTP/1.1 100 Continue\r\n\r\n"
                       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") } } };
    canned_run(&s, NULL, interim_dump_case, NULL);
    canned_server_free(&s);
    ck_assert_msg(R.code == 0, "exit %d: %s", R.code, R.err);
    /* -D: every head received, in order, as curl writes them. */
    char heads[1024];
    slurp("heads.txt", heads, sizeof heads);
    ck_assert_str_eq(heads, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
                            "HTTP/1.1 100 Continue\r\n\r\n"
                            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
    /* -i: still the final head only. */
    ck_assert_str_eq(R.out, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    /* -v: the connection, then each head in order. */
    const char *conn = strstr(R.err, "* new connection to http://127.0.0.1:");
    const char *early = strstr(R.err, "< HTTP/1.1 103 Early Hints\n< Link: </a.css>\n");
    const char *cont = strstr(R.err, "< HTTP/1.1 100 Continue\n");
    const char *ok = strstr(R.err, "< HTTP/1.1 200 OK\n");
    ck_assert_msg(conn && early && cont && ok && conn < early && early < cont && cont < ok,
                  "connection, 103, 100, 200 in order in:\n%s", R.err);
}
END_TEST

START_TEST(trailers_are_printed_after_the_body_with_include)
{
    struct canned_server s = { .scripts = { {
        C_READ, C_SEND("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "5\r\nhello\r\n0\r\nX-Checksum: 42\r\n\r\n") } } };
    canned_run(&s, NULL, plain_case, NULL);
    canned_server_free(&s);
    ck_assert_int_eq(R.code, 0);
    ck_assert_has(R.out, "Transfer-Encoding: chunked\r\n\r\nhello");
    ck_assert_has(R.out, "helloX-Checksum: 42\r\n\r\n");
}
END_TEST

/* A head over each of the client's head limits: 32 KiB in all, one line
 * (8 KiB), 100 fields. */
static char big_head[40000], long_line[12000], many_fields[4000];

static size_t make_head(char *buf, size_t cap, int lines, size_t value_len, const char *name)
{
    size_t n = (size_t)snprintf(buf, cap, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < lines; i++) {
        n += (size_t)snprintf(buf + n, cap - n, "%s%d: ", name, i);
        memset(buf + n, 'a', value_len);
        n += value_len;
        n += (size_t)snprintf(buf + n, cap - n, "\r\n");
    }
    n += (size_t)snprintf(buf + n, cap - n, "Content-Length: 2\r\n\r\nok");
    ck_assert_uint_lt(n, cap - 1);
    return n;
}

static void head_limits_case(struct canned_env *env)
{
    const int codes[] = { -HTTP_E_HEADER_TOO_LARGE, -HTTP_E_LINE_TOO_LONG,
                          -HTTP_E_TOO_MANY_HEADERS };
    for (int i = 0; i < 3; i++) {       /* one connection each, in order */
        AWAIT_GET(canned_path(env->srv, "/"));
        ck_assert_msg(R.code == 63, "case %d: exit %d: %s", i, R.code, R.err);
        ck_assert_has(R.err, "coloop-get: too large: ");
        ck_assert_has(R.err, co_strerror(codes[i]));
        ck_assert_str_eq(R.out, "");
    }
}

START_TEST(a_head_over_the_limits_is_exit_63)
{
    size_t big = make_head(big_head, sizeof big_head, 8, 4500, "X-Big-");
    size_t line = make_head(long_line, sizeof long_line, 1, 10000, "X-Long-");
    size_t many = make_head(many_fields, sizeof many_fields, 150, 1, "X-F");
    ck_assert_uint_gt(big, HTTP_CLIENT_HEAD_MAX_DEFAULT);
    struct canned_server s = { .scripts = {
        { C_READ, { CANNED_SEND, big_head, big, 0 } },
        { C_READ, { CANNED_SEND, long_line, line, 0 } },
        { C_READ, { CANNED_SEND, many_fields, many, 0 } },
    } };
    canned_run(&s, NULL, head_limits_case, NULL);
    ck_assert_int_eq(s.connections, 3);
    canned_server_free(&s);
}
END_TEST

static void bad_location_case(struct canned_env *env)
{
    const char *u = canned_path(env->srv, "/");
    AWAIT_GET("-L", u);                 /* a scheme the client does not speak */
    ck_assert_msg(R.code == 47, "exit %d: %s", R.code, R.err);
    ck_assert_has(R.err, "coloop-get: redirect: ");
    ck_assert_has(R.err, co_strerror(-HTTP_E_BAD_REDIRECT));
    ck_assert_has(R.err, "to \"ftp://example.com/file\": ");
    ck_assert_has(R.err, co_strerror(-HTTP_E_URL_SCHEME));
    ck_assert_str_eq(R.out, "");
    AWAIT_GET("-L", "--json", u);       /* an IPv6 literal that does not end */
    ck_assert_msg(R.code == 47, "exit %d: %s", R.code, R.err);
    ck_assert_has(R.err, "to \"http://[::1/x\": ");
    ck_assert_has(R.err, co_strerror(-HTTP_E_URL_IPV6));
    ck_assert_has(R.err, "\"status\":301,");
    ck_assert_has(R.err, "\"exit\":47,\"error\":{\"kind\":\"redirect\"");
    AWAIT_GET("-i", u);                 /* without -L the 301 is the answer */
    ck_assert_msg(R.code == 0, "exit %d: %s", R.code, R.err);
    ck_assert_int_eq(strncmp(R.out, "HTTP/1.1 301 Moved Permanently\r\n", 32), 0);
}

START_TEST(an_unusable_location_is_exit_47)
{
    struct canned_server s = { .scripts = {
        { C_READ, C_SEND("HTTP/1.1 302 Found\r\nLocation: ftp://example.com/file\r\n"
                         "Content-Length: 0\r\n\r\n") },
        { C_READ, C_SEND("HTTP/1.1 301 Moved Permanently\r\nLocation: http://[::1/x\r\n"
                         "Content-Length: 0\r\n\r\n") },
    } };
    canned_run(&s, NULL, bad_location_case, NULL);
    ck_assert_int_eq(s.connections, 3);
    ck_assert_int_eq(s.requests, 3);    /* no Location was followed */
    canned_server_free(&s);
}
END_TEST

START_TEST(a_method_with_cr_or_lf_is_refused_with_exit_3)
{
    bin_start(NULL);
    GET("-X", "GET / HTTP/1.1\r\nX-Evil: 1\r\n\r\nGET", url("/get"));
    ck_assert_int_eq(R.code, 3);
    ck_assert_has(R.err, "coloop-get: request: request refused before sending");
    ck_assert_has(R.err, "the method is not a token");
    GET("-X", "GET\nX", url("/get"));               /* a bare LF */
    ck_assert_int_eq(R.code, 3);
    GET("--request", "PO\rST", "-d", "a=1", url("/post"));
    ck_assert_int_eq(R.code, 3);
    struct server_stats st;
    bin_stop(&st);
    ck_assert_uint_eq(st.accepted, 0);              /* not a byte went out */
}
END_TEST

START_TEST(running_out_of_descriptors_is_exit_1)
{
    /* Exit 1 is for what has no kind of its own: here the socket for the
     * connection cannot be made (EMFILE).  The lowest limit at which the
     * program gets that far depends on how many descriptors it opens
     * first (the loop's), so raise the limit until it does.  Valgrind
     * emulates RLIMIT_NOFILE: the program it execs would not see the limit. */
    if (getenv("COLOOP_UNDER_VALGRIND"))
        return;
    bin_start(NULL);
    bool seen = false;
    for (rlim_t n = 3; n <= 32 && !seen; n++) {
        run_with_fd_limit(&R, n, (const char *const[]){ url("/hello"), NULL });
        seen = R.code == 1 && strstr(R.err, "coloop-get: error: ") != NULL;
    }
    static char err_at_1[sizeof R.err];         /* the last run's (the exit-1 one if seen) */
    memcpy(err_at_1, R.err, sizeof R.err);
    int code_at_32 = R.code;
    run_with_fd_limit(&R, 64, (const char *const[]){ url("/hello"), NULL });
    bin_stop(NULL);
    ck_assert_msg(seen, "no limit gave exit 1; at 32: exit %d: %s", code_at_32, err_at_1);
    ck_assert_has(err_at_1, "Too many open files");
    ck_assert_int_eq(R.code, 0);                    /* with enough, it works */
    ck_assert_str_eq(R.out, "Hello, World!\n");
}
END_TEST

/* ---- TLS, with a CA made for the test ---- */

static struct test_pki pki;
static char ca_path[256];

/* The test PKI, and its CA in a file for --cacert (once per test). */
static void pki_ready(void)
{
    if (!pki.ca_pem) {
        ck_assert_int_eq(test_pki_make(&pki), 0);
        ck_assert_int_eq(test_pki_write_temp(pki.ca_pem, ca_path, sizeof ca_path), 0);
    }
}

/* httpbin over TLS with this identity. */
static tls_ctx *tls_bin_start(const struct test_cert *id)
{
    pki_ready();
    struct tls_server_opts so = { .cert_pem = id->cert_pem, .key_pem = id->key_pem };
    tls_ctx *ctx;
    ck_assert_int_eq(tls_ctx_new_server(&so, &ctx, NULL), 0);
    bin_start(ctx);
    return ctx;
}

static void tls_bin_stop(tls_ctx *ctx)
{
    bin_stop(NULL);
    tls_ctx_free(ctx);
}

static void tls_teardown(void)
{
    if (ca_path[0])
        unlink(ca_path);
    ca_path[0] = '\0';
    test_pki_free(&pki);
    memset(&pki, 0, sizeof pki);
    teardown();
}

START_TEST(tls_verified_against_the_test_ca)
{
    pki_ready();
    tls_ctx *ctx = tls_bin_start(&pki.good);
    GET("-v", "--cacert", ca_path, url("/hello"), url("/hello"));
    tls_bin_stop(ctx);
    ck_assert_int_eq(R.code, 0);
    ck_assert_str_eq(R.out, "Hello, World!\nHello, World!\n");
    ck_assert_has(R.err, "certificate chain and host name verified against ");
    ck_assert_has(R.err, "* reused a kept-alive connection to https://127.0.0.1:");
    /* The TLS version and the ALPN result, for the new connection (with
     * the handshake) and the reused one alike. */
    ck_assert_int_eq(count(R.err, "* TLS: TLSv1."), 2);
    ck_assert_int_eq(count(R.err, ", ALPN http/1.1, handshake "), 1);
    ck_assert_int_eq(count(R.err, ", ALPN http/1.1\n"), 1);
}
END_TEST

START_TEST(tls_refused_without_the_ca_with_exit_60)
{
    pki_ready();
    tls_ctx *ctx = tls_bin_start(&pki.good);
    GET(url("/hello"));                      /* the system store does not know our CA */
    tls_bin_stop(ctx);
    ck_assert_int_eq(R.code, 60);
    ck_assert_has(R.err, "coloop-get: certificate: TLS certificate verification failed");
    ck_assert_str_eq(R.out, "");
}
END_TEST

START_TEST(bad_certificates_refused_unless_insecure)
{
    struct { const struct test_cert *id; const char *why; } bad[] = {
        { &pki.expired, "expired" },
        { &pki.wrong_host, "mismatch" },
        { &pki.self_signed, "self-signed" },
        { &pki.untrusted, "" },
    };
    pki_ready();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tls_ctx *ctx = tls_bin_start(bad[i].id);
        GET("--cacert", ca_path, url("/hello"));
        ck_assert_int_eq(R.code, 60);
        ck_assert_has(R.err, "coloop-get: certificate: ");
        ck_assert_has(R.err, bad[i].why);
        GET("-k", url("/hello"));
        ck_assert_int_eq(R.code, 0);
        ck_assert_str_eq(R.out, "Hello, World!\n");
        ck_assert_has(R.err, "WARNING");
        ck_assert_has(R.err, "NOT verified");
        tls_bin_stop(ctx);
    }
}
END_TEST

START_TEST(tls_to_a_plain_server_is_exit_35)
{
    bin_start(NULL);
    char u[96];
    snprintf(u, sizeof u, "https://127.0.0.1:%d/hello", httpbin_thread_port(bin));
    GET(u);
    bin_stop(NULL);
    ck_assert_int_eq(R.code, 35);
    ck_assert_has(R.err, "coloop-get: tls: TLS protocol error");
}
END_TEST

START_TEST(an_unreadable_cacert_is_exit_77)
{
    GET("--cacert", "no-such-ca.pem", "https://127.0.0.1:1/");
    ck_assert_int_eq(R.code, 77);
    ck_assert_has(R.err, "coloop-get: cacert: ");
    ck_assert_has(R.err, "no-such-ca.pem");
}
END_TEST

/* A number after "key": in a JSON line, or -1. */
static double json_ms(const char *line, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *at = strstr(line, pat);
    return at ? strtod(at + strlen(pat), NULL) : -1;
}

START_TEST(json_over_tls_times_the_handshake_of_the_new_connection_only)
{
    pki_ready();
    tls_ctx *ctx = tls_bin_start(&pki.good);
    GET("--json", "--cacert", ca_path, url("/hello"), url("/hello"));
    tls_bin_stop(ctx);
    ck_assert_msg(R.code == 0, "exit %d: %s", R.code, R.err);
    ck_assert_int_eq(count(R.err, "\n"), 2);
    char *second = strchr(R.err, '\n') + 1;
    second[-1] = '\0';
    const char *first = R.err;
    ck_assert_has(first, "\"reused\":false,");
    ck_assert_double_gt(json_ms(first, "time_tls_ms"), 0);
    ck_assert_double_gt(json_ms(first, "time_connect_ms"), 0);
    ck_assert_double_gt(json_ms(first, "time_first_byte_ms"), 0);
    ck_assert_double_ge(json_ms(first, "time_total_ms"), json_ms(first, "time_tls_ms"));
    ck_assert_has(second, "\"reused\":true,");      /* kept alive: no connect, no handshake */
    ck_assert_double_eq(json_ms(second, "time_tls_ms"), 0);
    ck_assert_double_eq(json_ms(second, "time_connect_ms"), 0);
    ck_assert_double_eq(json_ms(second, "time_dns_ms"), 0);
    ck_assert_double_gt(json_ms(second, "time_first_byte_ms"), 0);
}
END_TEST

START_TEST(verbose_insecure_says_the_certificate_was_not_verified)
{
    pki_ready();
    tls_ctx *ctx = tls_bin_start(&pki.self_signed);
    GET("-v", "-k", url("/hello"));
    ck_assert_msg(R.code == 0, "exit %d: %s", R.code, R.err);
    ck_assert_has(R.err, "* TLS: TLSv1.");
    ck_assert_has(R.err, "; certificate NOT verified (--insecure)\n");
    ck_assert_lacks(R.err, "verified against");
    ck_assert_str_eq(R.out, "Hello, World!\n");
    GET("--verbose", "--insecure", url("/hello"));   /* the long names */
    tls_bin_stop(ctx);
    ck_assert_msg(R.code == 0, "exit %d: %s", R.code, R.err);
    ck_assert_has(R.err, "; certificate NOT verified (--insecure)\n");
    ck_assert_str_eq(R.out, "Hello, World!\n");
}
END_TEST

static Suite *coloop_get_suite(void)
{
    Suite *s = suite_create("coloop_get");
    TCase *tc = tcase_create("options");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, body_goes_to_stdout_and_nothing_to_stderr);
    tcase_add_test(tc, several_urls_share_one_kept_alive_connection);
    tcase_add_test(tc, method_headers_and_data_reach_the_server);
    tcase_add_test(tc, data_binary_from_a_missing_file_is_exit_26);
    tcase_add_test(tc, data_binary_body_arrives_byte_for_byte);
    tcase_add_test(tc, head_prints_the_head_and_no_body);
    tcase_add_test(tc, include_prints_the_head_before_the_body);
    tcase_add_test(tc, location_follows_and_dump_header_keeps_every_head);
    tcase_add_test(tc, redirects_change_the_method_and_drop_credentials_as_the_client_does);
    tcase_add_test(tc, max_redirs_stops_the_chain_with_exit_47);
    tcase_add_test(tc, outputs_pair_with_urls_in_order);
    tcase_add_test(tc, fail_turns_an_http_error_into_exit_22);
    tcase_add_test(tc, verbose_shows_connection_request_and_response);
    tcase_add_test(tc, json_out_writes_one_line_per_url_with_errors_named);
    tcase_add_test(tc, max_filesize_caps_announced_and_unannounced_bodies);
    tcase_add_test(tc, a_slow_reader_of_stdout_does_not_trip_the_read_timeout);
    tcase_add_test(tc, long_options_do_what_the_short_ones_do);
    tcase_add_test(tc, dump_header_dash_writes_the_heads_to_stdout_before_the_body);
    tcase_add_test(tc, data_from_a_file_sends_the_files_bytes_exactly);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, max_time_bounds_the_whole_url_with_exit_28);
    tcase_add_test(tc, a_body_cut_short_is_exit_56);
    tcase_add_test(tc, a_refused_connection_is_exit_7);
    tcase_add_test(tc, an_unknown_host_is_exit_6);
    tcase_add_test(tc, header_injection_is_refused_before_sending);
    tcase_add_test(tc, usage_errors_are_exit_2_and_help_lists_every_code);
    tcase_add_test(tc, a_write_error_is_exit_23);
    tcase_add_test(tc, silent_drops_the_error_line_not_the_exit_code);
    tcase_add_test(tc, a_silent_server_is_a_read_timeout);
    tcase_add_test(tc, a_connect_that_never_completes_is_a_connect_timeout);
    tcase_add_test(tc, a_protocol_violation_names_the_rule_with_exit_8);
    tcase_add_test(tc, an_interim_response_is_not_the_response);
    tcase_add_test(tc, dump_header_and_verbose_show_interim_heads_before_the_final_one);
    tcase_add_test(tc, trailers_are_printed_after_the_body_with_include);
    tcase_add_test(tc, a_head_over_the_limits_is_exit_63);
    tcase_add_test(tc, an_unusable_location_is_exit_47);
    tcase_add_test(tc, a_method_with_cr_or_lf_is_refused_with_exit_3);
    tcase_add_test(tc, running_out_of_descriptors_is_exit_1);
    suite_add_tcase(s, tc);

    tc = tcase_create("tls");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, tls_teardown);
    tcase_add_test(tc, tls_verified_against_the_test_ca);
    tcase_add_test(tc, tls_refused_without_the_ca_with_exit_60);
    tcase_add_test(tc, bad_certificates_refused_unless_insecure);
    tcase_add_test(tc, tls_to_a_plain_server_is_exit_35);
    tcase_add_test(tc, an_unreadable_cacert_is_exit_77);
    tcase_add_test(tc, json_over_tls_times_the_handshake_of_the_new_connection_only);
    tcase_add_test(tc, verbose_insecure_says_the_certificate_was_not_verified);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(coloop_get_suite)
