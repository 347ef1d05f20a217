/* test_headline.c - the headline experiment (demos/headline.c, `make demo`)
 * in a small configuration: the table has every way, the numbers have the
 * shape the claims predict (overlapped waits beat sequential ones by far;
 * awaiting one at a time does not), the JSON is complete, and bad options
 * are refused.  --url is run against httpbin on a thread of this process
 * (plain, and TLS with the throwaway PKI of tests/tls_certs.c), so its
 * request count shows the program went there.  The suite runs from
 * $(BUILD)/tests, next to $(BUILD)/demos. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/support.h"
#include "tests/tls_certs.h"

#define DEMO "../demos/headline "

static char output[65536];

/* Run a command, keep stdout+stderr in `output`, return its exit status. */
static int run(const char *cmd)
{
    char full[512];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(output, 1, sizeof output - 1, p);
    output[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The wall-time column of the table row labelled `label` (seconds), or -1. */
static double row_seconds(const char *label)
{
    const char *table = strstr(output, "wall time");   /* the table's header */
    const char *row = table ? strstr(table, label) : NULL;
    if (!row)
        return -1;
    const char *end = strchr(row, '\n');
    /* the wall time is the first number followed by " s" on the row */
    for (const char *p = row + strlen(label); p && p < end; p++) {
        char *stop;
        double v = strtod(p, &stop);
        if (stop != p && strncmp(stop, " s", 2) == 0)
            return v;
        if (stop != p)
            p = stop - 1;
    }
    return -1;
}

/* A JSON number after "key": in `from`, or -1. */
static double json_number(const char *from, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *at = strstr(from, pat);
    return at ? strtod(at + strlen(pat), NULL) : -1;
}

START_TEST(quick_run_shows_overlapped_waits_beating_sequential_ones)
{
    /* 12 requests of 100 ms; the sequential ways measure 4 and scale up. */
    ck_assert_int_eq(run(DEMO "-n 12 --delay-ms 100 --sample 4 --threads 3,N"), 0);
    double seq = row_seconds("sequential, blocking sockets");
    double pool3 = row_seconds("thread pool, 3 threads");
    double pool12 = row_seconds("thread pool, 12 threads");
    double all = row_seconds("coroutines, all in flight");
    double each = row_seconds("coroutines, awaited one by one");
    ck_assert_msg(seq > 0 && pool3 > 0 && pool12 > 0 && all > 0 && each > 0, "%s", output);
    ck_assert_ptr_nonnull(strstr(output, "4 of 12"));       /* the sample is labelled */
    ck_assert_ptr_nonnull(strstr(output, "scaled to 12"));
    ck_assert_double_ge(seq, 1.1);                          /* 12 x 100 ms, estimated */
    ck_assert_double_ge(each, 1.1);
    ck_assert_double_ge(pool3, 0.39);                       /* 4 rounds of 100 ms */
    ck_assert_double_lt(pool3, seq);
    /* Overlapped: every wait at once, so about one delay, far below 12. */
    ck_assert_double_ge(all, 0.1);
    ck_assert_double_lt(all, seq / 3);
    ck_assert_double_lt(pool12, seq / 3);
    ck_assert_ptr_nonnull(strstr(output, "What the numbers show"));
    ck_assert_ptr_null(strstr(output, "failed"));
}
END_TEST

START_TEST(json_has_every_way_with_its_threads)
{
    ck_assert_int_eq(run(DEMO "-n 6 --delay-ms 50 --sample 2 --threads N --json"), 0);
    const char *ways[] = { "sequential-blocking", "threads-6", "coroutines-all",
                           "coroutines-one-by-one" };
    for (size_t i = 0; i < sizeof ways / sizeof *ways; i++) {
        char key[64];
        snprintf(key, sizeof key, "\"way\": \"%s\"", ways[i]);
        const char *at = strstr(output, key);
        ck_assert_msg(at != NULL, "%s missing in %s", ways[i], output);
        ck_assert_double_ge(json_number(at, "wall_s"), 0.05);
        ck_assert_msg(json_number(at, "ok") == json_number(at, "requests"), "%s", at);
    }
    /* Six threads did the requests of the pool way (plus the main thread);
     * the coroutines ran on one. */
    ck_assert_double_ge(json_number(strstr(output, "threads-6"), "threads_peak"), 7);
    ck_assert_double_eq(json_number(strstr(output, "coroutines-all"), "threads_peak"), 1);
    ck_assert_ptr_nonnull(strstr(output, "\"extrapolated\": true"));
}
END_TEST

START_TEST(unreachable_url_is_reported_not_hidden)
{
    /* Port 1 on loopback: nothing listens; every way must say so and the
     * program must exit non-zero. */
    ck_assert_int_eq(run(DEMO "-n 2 --sample 1 --threads 2 --url http://127.0.0.1:1/delay/0"), 1);
    ck_assert_msg(strstr(output, "requests failed; the first: connect") != NULL, "%s", output);
    ck_assert_ptr_nonnull(strstr(output, "Connection refused"));
}
END_TEST

START_TEST(bad_options_are_refused)
{
    ck_assert_int_eq(run(DEMO "-n 0"), 2);
    ck_assert_int_eq(run(DEMO "--threads 5,x"), 2);
    ck_assert_int_eq(run(DEMO "--url"), 2);
    ck_assert_int_eq(run(DEMO "--help"), 0);
    ck_assert_ptr_nonnull(strstr(output, "--delay-ms"));
}
END_TEST

/* ---- --url: a target of the test's own ---- */

static httpbin_thread *bin;
static struct test_pki pki;

/* httpbin on 127.0.0.1, port 0, on a thread of its own (tls may be NULL). */
static int bin_start(tls_ctx *tls)
{
    struct httpbin_opts o = { .server = { .host = "127.0.0.1", .tls = tls } };
    ck_assert_int_eq(httpbin_start_thread(&o, &bin), 0);
    return httpbin_thread_port(bin);
}

/* Stop it; the requests it answered. */
static uint64_t bin_stop(void)
{
    struct server_stats st;
    ck_assert_int_eq(httpbin_stop_thread(bin, 50, &st), 0);
    bin = NULL;
    return st.requests;
}

START_TEST(url_run_over_http_has_the_tables_shape)
{
    int port = bin_start(NULL);
    char cmd[256], target[96];
    snprintf(target, sizeof target, "http://127.0.0.1:%d/delay/100", port);
    snprintf(cmd, sizeof cmd, DEMO "-n 8 --sample 2 --threads 4,N --url %s", target);
    int code = run(cmd);
    uint64_t requests = bin_stop();
    ck_assert_msg(code == 0, "exit %d: %s", code, output);
    /* 2 + 8 + 8 + 8 + 2: every way went to this server, none to a built-in one. */
    ck_assert_uint_eq(requests, 28);
    char head[160];
    snprintf(head, sizeof head, "8 GET requests to %s, fetched 5 ways.", target);
    ck_assert_msg(strstr(output, head) != NULL, "%s", output);
    ck_assert_ptr_null(strstr(output, "built-in target"));
    double seq = row_seconds("sequential, blocking sockets");
    double pool4 = row_seconds("thread pool, 4 threads");
    double pool8 = row_seconds("thread pool, 8 threads");
    double all = row_seconds("coroutines, all in flight");
    double each = row_seconds("coroutines, awaited one by one");
    ck_assert_msg(seq > 0 && pool4 > 0 && pool8 > 0 && all > 0 && each > 0, "%s", output);
    ck_assert_ptr_nonnull(strstr(output, "2 of 8"));
    ck_assert_ptr_nonnull(strstr(output, "scaled to 8"));
    ck_assert_double_ge(seq, 0.75);                         /* 8 x 100 ms, estimated */
    ck_assert_double_ge(each, 0.75);
    ck_assert_double_ge(pool4, 0.19);                       /* 2 rounds of 100 ms */
    ck_assert_double_lt(pool4, seq);
    ck_assert_double_ge(all, 0.1);                          /* every wait at once */
    ck_assert_double_lt(all, seq / 3);
    ck_assert_double_lt(pool8, seq / 3);
    /* The explanation speaks of this URL, not of --delay-ms (unused here),
     * and of the 4-thread pool as 2 rounds. */
    ck_assert_ptr_nonnull(strstr(output, "What the numbers show"));
    ck_assert_ptr_nonnull(strstr(output, "4 threads overlap 4 waits at a time: ~2 rounds"));
    ck_assert_ptr_nonnull(strstr(output, "8 threads overlap them all too"));
    ck_assert_ptr_nonnull(strstr(output, "Here every request waited about 0.1"));
    ck_assert_ptr_null(strstr(output, "1000 ms"));
    ck_assert_ptr_null(strstr(output, "failed"));
}
END_TEST

START_TEST(url_run_over_https_with_insecure)
{
    ck_assert_int_eq(test_pki_make(&pki), 0);
    struct tls_server_opts so = { .cert_pem = pki.good.cert_pem, .key_pem = pki.good.key_pem };
    tls_ctx *ctx;
    ck_assert_int_eq(tls_ctx_new_server(&so, &ctx, NULL), 0);
    int port = bin_start(ctx);
    char cmd[256], target[96];
    snprintf(target, sizeof target, "https://127.0.0.1:%d/delay/100", port);
    snprintf(cmd, sizeof cmd, DEMO "-n 6 --sample 2 --threads N --insecure --json --url %s",
             target);
    int code = run(cmd);
    static char json[sizeof output];
    memcpy(json, output, sizeof output);
    /* Without --insecure the test CA is unknown: every way says so. */
    snprintf(cmd, sizeof cmd, DEMO "-n 2 --sample 1 --threads 2 --url %s", target);
    int refused = run(cmd);
    uint64_t requests = bin_stop();
    tls_ctx_free(ctx);
    test_pki_free(&pki);
    memset(&pki, 0, sizeof pki);

    ck_assert_msg(code == 0, "exit %d: %s", code, json);
    ck_assert_uint_eq(requests, 16);        /* 2 + 6 + 6 + 2; the refused ones never got to ask */
    char key[160];
    snprintf(key, sizeof key, "\"url\": \"%s\"", target);
    ck_assert_msg(strstr(json, key) != NULL, "%s", json);
    ck_assert_ptr_nonnull(strstr(json, "\"delay_ms\": null"));
    const char *ways[] = { "sequential-blocking", "threads-6", "coroutines-all",
                           "coroutines-one-by-one" };
    for (size_t i = 0; i < sizeof ways / sizeof *ways; i++) {
        snprintf(key, sizeof key, "\"way\": \"%s\"", ways[i]);
        const char *at = strstr(json, key);
        ck_assert_msg(at != NULL, "%s missing in %s", ways[i], json);
        ck_assert_double_ge(json_number(at, "wall_s"), 0.1);
        ck_assert_msg(json_number(at, "ok") == json_number(at, "requests"), "%s", at);
    }
    double seq = json_number(strstr(json, "\"sequential-blocking\""), "wall_s");
    double all = json_number(strstr(json, "\"coroutines-all\""), "wall_s");
    ck_assert_double_ge(seq, 0.55);                         /* 6 x 100 ms, estimated */
    ck_assert_double_lt(all, seq / 2);

    ck_assert_int_eq(refused, 1);
    ck_assert_msg(strstr(output, "requests failed; the first: ") != NULL, "%s", output);
    ck_assert_msg(strstr(output, "certificate") != NULL, "%s", output);
}
END_TEST

static Suite *headline_suite(void)
{
    Suite *s = suite_create("headline");
    TCase *tc = tcase_create("demo");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, quick_run_shows_overlapped_waits_beating_sequential_ones);
    tcase_add_test(tc, json_has_every_way_with_its_threads);
    tcase_add_test(tc, unreachable_url_is_reported_not_hidden);
    tcase_add_test(tc, bad_options_are_refused);
    tcase_add_test(tc, url_run_over_http_has_the_tables_shape);
    tcase_add_test(tc, url_run_over_https_with_insecure);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(headline_suite)
