/* client_pipeline.c - HTTP/1.1 pipelining (RFC 9112 9.3.2): several bodiless
 * GET/HEAD requests written back to back on one connection, their responses
 * read in order from the same buffer.  Only idempotent requests, so any the
 * server did not answer can be sent again on a fresh connection.  Mostly a
 * test of the response parser's boundaries and a load-generator tool: the
 * plain calls never pipeline.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http/client_internal.h"
#include "runtime/error.h"
#include "runtime/task.h"

static int check_all(http_client *c, const struct http_request *reqs, size_t n,
                     struct http_response *resps, struct http_call *ks, int64_t deadline)
{
    for (size_t i = 0; i < n; i++) {
        const struct http_request *q = &reqs[i];
        const char *m = q->method ? q->method : "GET";
        struct http_call *k = &ks[i];
        client_call_init(k, c, q, &resps[i], deadline);
        k->max_redirects = -1;
        int rc = client_check_request(q, &resps[i]);
        if (rc < 0)
            return rc;
        if ((strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) || q->body || q->body_read ||
            q->expect_continue) {
            net_detail_set(&resps[i].detail, "pipelined requests must be bodiless GET or HEAD");
            return -EINVAL;
        }
        if ((rc = http_url_parse(&k->url, q->url, strlen(q->url))) < 0) {
            net_detail_set(&resps[i].detail, "URL \"%.200s\": %s", q->url, co_strerror(rc));
            return rc;
        }
        if (i > 0 && !http_url_same_origin(&k->url, &ks[0].url)) {
            net_detail_set(&resps[i].detail, "pipelined requests must share one origin");
            return -EINVAL;
        }
    }
    return 0;
}

/* Write the heads of ks[0..n) in one go on ks[0]'s connection. */
static int await_send_all(struct http_call *ks, size_t n)
{
    char *all = NULL;
    size_t len = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *head;
        size_t hlen;
        if ((rc = client_exchange_format_head(&ks[i], 0, &head, &hlen)) < 0)
            break;
        char *grown = realloc(all, len + hlen);
        if (grown) {
            memcpy(grown + len, head, hlen);
            all = grown;
            len += hlen;
        } else {
            rc = -ENOMEM;
        }
        free(head);
    }
    int64_t t = client_mono_ns();
    for (size_t i = 0; i < n; i++)
        ks[i].t_sent = t;
    if (rc == 0)
        rc = client_exchange_await_write(&ks[0], all, len, "sending pipelined requests");
    free(all);
    return rc;
}

int http_await_pipeline(http_client *c, const struct http_request *reqs, size_t n,
                        struct http_response *resps, int64_t deadline)
{
    if (n == 0 || !c || !reqs || !resps)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        memset(&resps[i], 0, sizeof resps[i]);
    c->st.requests += n;
    struct http_call *ks = calloc(n, sizeof *ks);
    if (!ks)
        return -ENOMEM;
    int rc = check_all(c, reqs, n, resps, ks, deadline);
    size_t done = 0;
    bool retried = false;
    while (rc == 0 && done < n) {
        struct http_call *lead = &ks[done];
        if ((rc = connpool_await_acquire(lead)) < 0)
            break;
        struct http_conn *conn = lead->conn;
        bool reused = lead->reused;
        size_t answered = 0;
        c->holders++;
        for (size_t i = done; i < n; i++) {
            ks[i].conn = conn;
            ks[i].reused = reused || i > done;
            ks[i].pipelined = i + 1 < n;
            ks[i].resp->reused = ks[i].reused;
        }
        rc = await_send_all(lead, n - done);
        for (size_t i = done; rc == 0 && i < n; i++) {
            c->st.exchanges++;
            c->st.conns_reused += ks[i].reused;
            if ((rc = client_exchange_await_receive(&ks[i])) < 0)
                break;
            answered++;
            done++;
            if (ks[i].fate != CONN_KEEP)   /* the server closes: the rest go elsewhere */
                break;
        }
        enum conn_fate fate = rc < 0 ? CONN_ABORT : done == n ? ks[n - 1].fate : CONN_CLOSE;
        connpool_release(c, conn, fate);
        c->holders--;
        if (rc < 0 && !ks[done].got_byte && client_stale_error(rc) &&
            (answered > 0 || (reused && !retried))) {
            retried |= answered == 0;
            c->st.retries++;
            resps[done].retried = true;
            client_body_reset_response(&resps[done], false);
            rc = 0;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (i < done && !resps[i].url)
            resps[i].url = strdup(ks[i].url.href);
        resps[i].timings.total_ns = client_mono_ns() - ks[i].t0;
        if (i >= done && rc < 0) {
            client_body_reset_response(&resps[i], false);
            if (i > done || !resps[i].detail.text[0])
                net_detail_set(&resps[i].detail, "not answered: request %zu of the pipeline "
                               "failed: %s", done, co_strerror(rc));
        }
        http_url_fini(&ks[i].url);
        free(ks[i].location);
    }
    free(ks);
    c->st.failures += n - done;
    return done > 0 ? (int)done : rc;
}
