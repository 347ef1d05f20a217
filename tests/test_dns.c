/* test_dns.c - names on the worker pool, and dialing every address (F1, F2).
 *
 * Most tests inject a stub resolver (dns_set_resolver): offline, a real
 * resolver may hang or fail in ways a test cannot choose, so the stub fails,
 * hangs and answers on demand.  Two tests use the real one: "localhost"
 * (from /etc/hosts) and one ".invalid" name (RFC 6761), bounded by a
 * deadline whatever the network does.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/dial.h"
#include "net/dns.h"
#include "runtime/pool.h"
#include "tests/support.h"

/* ---- the stub resolver: behaviour chosen by the name ---- */

static atomic_int stub_calls, stub_running, stub_max_running;

static struct addrinfo *stub_entry(const char *ip)
{
    struct addrinfo *ai = calloc(1, sizeof *ai + sizeof(struct sockaddr_storage));
    struct sockaddr_storage *ss = (struct sockaddr_storage *)(ai + 1);
    ai->ai_socktype = SOCK_STREAM;
    ai->ai_protocol = IPPROTO_TCP;
    ai->ai_addr = (struct sockaddr *)ss;
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        inet_pton(AF_INET6, ip, &s6->sin6_addr);
        ai->ai_family = AF_INET6;
        ai->ai_addrlen = sizeof *s6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        inet_pton(AF_INET, ip, &s4->sin_addr);
        ai->ai_family = AF_INET;
        ai->ai_addrlen = sizeof *s4;
    }
    return ai;
}

static int stub_answer(struct addrinfo **res, const char *first, const char *second)
{
    *res = stub_entry(first);
    if (second)
        (*res)->ai_next = stub_entry(second);
    return 0;
}

static int stub_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                            struct addrinfo **res)
{
    (void)service;
    (void)hints;
    atomic_fetch_add(&stub_calls, 1);
    int running = atomic_fetch_add(&stub_running, 1) + 1;
    int max = atomic_load(&stub_max_running);
    while (running > max && !atomic_compare_exchange_weak(&stub_max_running, &max, running))
        ;
    int rc = EAI_NONAME;
    if (strcmp(node, "again.test") == 0)
        rc = EAI_AGAIN;
    else if (strcmp(node, "fail.test") == 0)
        rc = EAI_FAIL;
    else if (strcmp(node, "slow.test") == 0)
        usleep(300 * 1000);   /* a resolver that takes its time, then says no */
    else if (strncmp(node, "wait", 4) == 0) {
        usleep(200 * 1000);
        rc = stub_answer(res, "127.0.0.1", NULL);
    } else if (strcmp(node, "two.test") == 0)
        rc = stub_answer(res, "127.0.0.2", "127.0.0.1");   /* nobody on .2: refused */
    else if (strcmp(node, "v6first.test") == 0)
        rc = stub_answer(res, "::1", "127.0.0.1");         /* like localhost on many hosts */
    atomic_fetch_sub(&stub_running, 1);
    return rc;
}

static void stub_freeaddrinfo(struct addrinfo *res)
{
    while (res) {
        struct addrinfo *next = res->ai_next;
        free(res);
        res = next;
    }
}

static const struct dns_resolver stub = { stub_getaddrinfo, stub_freeaddrinfo };

/* Run fn as the only task of a fresh loop, with the stub (or the real
 * resolver), and end with the clean-loop checks. */
static void run_story(co_task_fn fn, void *arg, bool use_stub)
{
    int fds = open_fd_count();
    co_loop *loop = test_loop_new();
    dns_set_resolver(use_stub ? &stub : NULL);
    test_run_main(fn, arg);
    dns_set_resolver(NULL);
    loop_free_clean(loop, fds);
}

/* ---- tests ---- */

static int numeric_story(void *arg)
{
    (void)arg;
    struct dns_stats before, after;
    dns_get_stats(&before);
    int calls_before = atomic_load(&stub_calls);
    struct dns_result r;
    char buf[SOCK_ADDR_STRLEN];
    ck_assert_int_eq(dns_await_resolve("127.0.0.1", 80, 0, &r, NULL, CO_NO_DEADLINE), 0);
    ck_assert_int_eq(r.count, 1);
    ck_assert_str_eq(sock_addr_format(&r.addrs[0], buf, sizeof buf), "127.0.0.1:80");
    ck_assert_int_eq(dns_await_resolve("[::1]", 443, 0, &r, NULL, CO_NO_DEADLINE), 0);
    ck_assert_str_eq(sock_addr_format(&r.addrs[0], buf, sizeof buf), "[::1]:443");
    struct net_detail why;
    ck_assert_int_eq(dns_await_resolve("127.0.0.1", 80, AF_INET6, &r, &why, CO_NO_DEADLINE),
                     -NET_EDNS_NOTFOUND);
    ck_assert_int_eq(dns_await_resolve("", 80, 0, &r, &why, CO_NO_DEADLINE), -EINVAL);
    dns_get_stats(&after);
    ck_assert_uint_eq(after.pool_jobs, before.pool_jobs);   /* never went to the pool */
    ck_assert_uint_eq(after.numeric - before.numeric, 3);
    ck_assert_int_eq(atomic_load(&stub_calls), calls_before);
    return 0;
}

START_TEST(numeric_hosts_skip_the_pool)
{
    run_story(numeric_story, NULL, true);
}
END_TEST

static int localhost_story(void *arg)
{
    (void)arg;
    struct dns_stats before, after;
    dns_get_stats(&before);
    struct dns_result r;
    struct net_detail why;
    int rc = dns_await_resolve("localhost", 8080, 0, &r, &why, co_deadline_in_ms(5000));
    ck_assert_msg(rc == 0, "%s: %s", net_strerror(rc), why.text);
    ck_assert_int_ge(r.count, 1);
    for (int i = 0; i < r.count; i++) {
        char buf[SOCK_ADDR_STRLEN];
        sock_addr_format(&r.addrs[i], buf, sizeof buf);
        ck_assert_msg(strncmp(buf, "127.", 4) == 0 || strcmp(buf, "[::1]:8080") == 0, "%s", buf);
        ck_assert_int_eq(sock_addr_port(&r.addrs[i]), 8080);
    }
    ck_assert_int_eq(dns_await_resolve("localhost", 9090, 0, &r, &why, co_deadline_in_ms(5000)), 0);
    ck_assert_int_eq(sock_addr_port(&r.addrs[0]), 9090);   /* cached, with the new port */
    dns_get_stats(&after);
    ck_assert_uint_eq(after.pool_jobs - before.pool_jobs, 1);
    ck_assert_uint_eq(after.cache_hits - before.cache_hits, 1);
    return 0;
}

START_TEST(localhost_resolves_on_the_pool_then_from_the_cache)
{
    run_story(localhost_story, NULL, false);
}
END_TEST

struct dial_case {
    const char *host;
    int lfd, port;
    int rc;
    struct sock_addr peer;
    struct net_detail why;
};

static int dial_story(void *arg)
{
    struct dial_case *d = arg;
    int fd;
    d->rc = dial_await_tcp(d->host, d->port, NULL, &fd, &d->peer, &d->why, co_deadline_in_ms(5000));
    if (d->rc == 0) {
        int sfd;
        ck_assert_int_eq(sock_await_accept(d->lfd, NULL, &sfd, co_deadline_in_ms(5000)), 0);
        sock_close(sfd);
        sock_close(fd);
    }
    return 0;
}

static void run_dial(struct dial_case *d, bool use_stub, bool listening)
{
    ck_assert_int_eq(sock_listen("127.0.0.1", 0, NULL, &d->lfd), 0);
    d->port = sock_local_port(d->lfd);
    if (!listening) {
        sock_close(d->lfd);
        d->lfd = -1;
    }
    run_story(dial_story, d, use_stub);
    if (listening)
        sock_close(d->lfd);
}

START_TEST(dial_tries_every_address_in_order)
{
    const char *names[] = { "two.test", "v6first.test" };
    for (int i = 0; i < 2; i++) {
        struct dial_case d = { .host = names[i] };
        run_dial(&d, true, true);
        ck_assert_msg(d.rc == 0, "%s: %s: %s", names[i], net_strerror(d.rc), d.why.text);
        char buf[SOCK_ADDR_STRLEN];
        sock_addr_format(&d.peer, buf, sizeof buf);
        ck_assert_msg(strncmp(buf, "127.0.0.1:", 10) == 0, "%s: connected to %s", names[i], buf);
    }
}
END_TEST

START_TEST(dial_localhost_with_the_real_resolver)
{
    struct dial_case d = { .host = "localhost" };
    run_dial(&d, false, true);
    ck_assert_msg(d.rc == 0, "%s: %s", net_strerror(d.rc), d.why.text);
}
END_TEST

START_TEST(dial_reports_every_refusal)
{
    struct dial_case d = { .host = "two.test" };
    run_dial(&d, true, false);
    ck_assert_int_eq(d.rc, -ECONNREFUSED);
    ck_assert_msg(strstr(d.why.text, "two.test") && strstr(d.why.text, "127.0.0.2:") &&
                  strstr(d.why.text, "127.0.0.1:"), "detail: %s", d.why.text);
}
END_TEST

struct fail_case { const char *host; int want; int rc; struct net_detail why; };

static int fail_story(void *arg)
{
    struct fail_case *f = arg;
    struct dns_result r;
    f->rc = dns_await_resolve(f->host, 80, 0, &r, &f->why, co_deadline_in_ms(2000));
    return 0;
}

START_TEST(failed_lookups_give_clear_codes_naming_the_host)
{
    struct fail_case cases[] = {
        { "nx.test", -NET_EDNS_NOTFOUND },
        { "again.test", -NET_EDNS_TEMP },
        { "fail.test", -NET_EDNS_FAIL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_story(fail_story, &cases[i], true);
        ck_assert_msg(cases[i].rc == cases[i].want, "%s: got %d (%s)", cases[i].host, cases[i].rc,
                      net_strerror(cases[i].rc));
        ck_assert_msg(strstr(cases[i].why.text, cases[i].host), "detail: %s", cases[i].why.text);
    }
    ck_assert_str_eq(net_strerror(-NET_EDNS_NOTFOUND), "host name not found");
    ck_assert_str_eq(net_strerror(-ECONNREFUSED), "Connection refused");   /* falls through */
}
END_TEST

struct slow_case { int rc, after_rc; int64_t elapsed_ns; struct net_detail why; co_task *victim; };

static int slow_lookup(void *arg)
{
    struct slow_case *s = arg;
    struct dns_result r;
    int64_t t0 = co_now_ns();
    s->rc = dns_await_resolve("slow.test", 80, 0, &r, &s->why, co_deadline_in_ms(50));
    s->elapsed_ns = co_now_ns() - t0;
    await_sleep_ms(400);   /* the abandoned lookup ends meanwhile; its slot is free again */
    struct pool_stats ps;
    pool_get_stats(pool_default(), &ps);
    ck_assert_uint_eq(ps.running, 0);
    ck_assert_uint_ge(ps.abandoned, 1);
    s->after_rc = dns_await_resolve("wait.test", 80, 0, &r, NULL, co_deadline_in_ms(2000));
    return 0;
}

START_TEST(hanging_resolver_hits_the_deadline_and_frees_the_slot)
{
    struct slow_case s = { 0 };
    run_story(slow_lookup, &s, true);
    ck_assert_int_eq(s.rc, -ETIMEDOUT);
    ck_assert_int_lt(s.elapsed_ns, 250 * 1000000LL);
    ck_assert_msg(strstr(s.why.text, "slow.test"), "detail: %s", s.why.text);
    ck_assert_int_eq(s.after_rc, 0);
}
END_TEST

static int cancel_lookup(void *arg)
{
    struct slow_case *s = arg;
    struct dns_result r;
    s->rc = dns_await_resolve("slow.test", 80, 0, &r, NULL, co_deadline_in_ms(5000));
    return 0;
}

static int cancel_story(void *arg)
{
    struct slow_case *s = arg;
    task_spawn(&s->victim, cancel_lookup, s);
    await_sleep_ms(20);
    task_cancel(s->victim);
    await_task(s->victim, NULL, CO_NO_DEADLINE);
    await_sleep_ms(400);   /* let the worker finish before the fd count */
    return 0;
}

START_TEST(cancel_during_a_lookup)
{
    struct slow_case s = { 0 };
    run_story(cancel_story, &s, true);
    ck_assert_int_eq(s.rc, -ECANCELED);
}
END_TEST

struct cap_case { int done; int64_t other_job_ns; };

static int one_wait_lookup(void *arg)
{
    struct cap_case *c = arg;
    static int n;
    char name[32];
    snprintf(name, sizeof name, "wait%d.test", n++);   /* distinct: no cache hits */
    struct dns_result r;
    ck_assert_int_eq(dns_await_resolve(name, 80, 0, &r, NULL, co_deadline_in_ms(5000)), 0);
    c->done++;
    return 0;
}

static int quick_job(void *arg)
{
    (void)arg;
    return 7;
}

static int cap_story(void *arg)
{
    struct cap_case *c = arg;
    for (int i = 0; i < 6; i++)
        test_spawn_detached(one_wait_lookup, c, NULL);
    await_sleep_ms(20);   /* lookups now hold every DNS slot and queue behind them */
    int64_t t0 = co_now_ns();
    int result = 0, dummy = 0;
    ck_assert_int_eq(await_thread(quick_job, &dummy, sizeof dummy, &result, co_deadline_in_ms(2000)), 0);
    c->other_job_ns = co_now_ns() - t0;
    ck_assert_int_eq(result, 7);
    while (c->done < 6)
        await_sleep_ms(20);
    return 0;
}

START_TEST(lookups_are_capped_below_the_pool_size)
{
    pool_shutdown_default();
    setenv("COLOOP_POOL_THREADS", "3", 1);
    ck_assert_int_eq(dns_max_concurrent(), 2);
    atomic_store(&stub_max_running, 0);
    struct cap_case c = { 0 };
    run_story(cap_story, &c, true);
    ck_assert_int_eq(c.done, 6);
    ck_assert_int_eq(atomic_load(&stub_max_running), 2);
    ck_assert_int_lt(c.other_job_ns, 150 * 1000000LL);   /* a worker was left for other work */
    unsetenv("COLOOP_POOL_THREADS");
}
END_TEST

static int invalid_story(void *arg)
{
    struct fail_case *f = arg;
    struct dns_result r;
    int64_t t0 = co_now_ns();
    f->rc = dns_await_resolve("coloop-check.invalid", 80, 0, &r, &f->why, co_deadline_in_ms(3000));
    ck_assert_int_lt(co_now_ns() - t0, 3500 * 1000000LL);
    if (f->rc == -ETIMEDOUT) {   /* a hung resolver: let its socket close before the fd count */
        for (int i = 0; i < 100; i++) {
            struct pool_stats ps;
            pool_get_stats(pool_default(), &ps);
            if (ps.running == 0)
                break;
            await_sleep_ms(100);
        }
    }
    return 0;
}

START_TEST(real_invalid_name_fails_within_the_deadline)
{
    struct fail_case f = { "coloop-check.invalid", 0 };
    run_story(invalid_story, &f, false);
    ck_assert_msg(f.rc == -NET_EDNS_NOTFOUND || f.rc == -NET_EDNS_TEMP || f.rc == -NET_EDNS_FAIL ||
                  f.rc == -ETIMEDOUT, "rc %d (%s)", f.rc, net_strerror(f.rc));
    ck_assert_msg(strstr(f.why.text, "coloop-check.invalid"), "detail: %s", f.why.text);
}
END_TEST

static Suite *dns_suite(void)
{
    Suite *s = suite_create("dns");
    TCase *tc = tcase_create("dns");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, numeric_hosts_skip_the_pool);
    tcase_add_test(tc, localhost_resolves_on_the_pool_then_from_the_cache);
    tcase_add_test(tc, dial_tries_every_address_in_order);
    tcase_add_test(tc, dial_localhost_with_the_real_resolver);
    tcase_add_test(tc, dial_reports_every_refusal);
    tcase_add_test(tc, failed_lookups_give_clear_codes_naming_the_host);
    tcase_add_test(tc, hanging_resolver_hits_the_deadline_and_frees_the_slot);
    tcase_add_test(tc, cancel_during_a_lookup);
    tcase_add_test(tc, lookups_are_capped_below_the_pool_size);
    tcase_add_test(tc, real_invalid_name_fails_within_the_deadline);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(dns_suite)
