/* client.c - the client's public calls: options, checking a request before
 * anything is sent, the hop loop (redirects with their method, body and
 * header rules), the one retry on a stale pooled connection, timeouts named
 * by kind, statistics, and the words for the client's error codes.
 *
 * One call = one or more hops (redirects); one hop = one exchange, or two
 * when a pooled connection turns out to be dead (Go's rule: retry once, only
 * if the connection was reused, no response byte arrived, and the method is
 * idempotent, RFC 9110 9.2.2).  The exchange itself is client_exchange.c,
 * the pool connpool.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/chars.h"
#include "http/client_internal.h"
#include "runtime/error.h"
#include "runtime/task.h"

/* ---- error words ---- */

static const char *const client_messages[] = {
    [HTTP_E_CONNECT_TIMEOUT - HTTP_CLIENT_ERR_BASE] =
        "connect timeout: no connection (DNS, TCP, TLS) within the connect timeout",
    [HTTP_E_READ_TIMEOUT - HTTP_CLIENT_ERR_BASE] =
        "read timeout: the server sent nothing for longer than the read timeout",
    [HTTP_E_WRITE_TIMEOUT - HTTP_CLIENT_ERR_BASE] =
        "write timeout: the server took no request bytes for longer than the read timeout",
    [HTTP_E_TOTAL_TIMEOUT - HTTP_CLIENT_ERR_BASE] =
        "total timeout: the request did not finish within its total time or deadline",
    [HTTP_E_POOL_TIMEOUT - HTTP_CLIENT_ERR_BASE] =
        "pool timeout: no connection slot came free within the pool timeout",
    [HTTP_E_REQUEST_INVALID - HTTP_CLIENT_ERR_BASE] =
        "request refused before sending: a method, header name or value the client must not "
        "send (CR, LF, NUL or another control byte: RFC 9112 11.1)",
    [HTTP_E_TOO_MANY_REDIRECTS - HTTP_CLIENT_ERR_BASE] = "too many redirects",
    [HTTP_E_BAD_REDIRECT - HTTP_CLIENT_ERR_BASE] = "redirect with an unusable Location",
    [HTTP_E_BODY_SOURCE - HTTP_CLIENT_ERR_BASE] =
        "the request body source gave a different number of bytes than announced",
};

static const char *describe_client_code(int code)
{
    if (code > HTTP_CLIENT_ERR_BASE && code < HTTP_CLIENT_ERR_END)
        return client_messages[code - HTTP_CLIENT_ERR_BASE];
    if (code > HTTP_ERR_BASE && code < HTTP_ERR_END)
        return http_strerror(code);
    return NULL;
}

/* co_strerror() answers for the client's codes (httperr.c registers the
 * parser's). */
__attribute__((constructor)) static void register_client_errors(void)
{
    co_error_register_domain(HTTP_CLIENT_ERR_BASE + 1, HTTP_CLIENT_ERR_BASE + 499,
                             describe_client_code);
}

bool http_error_is_timeout(int code)
{
    int c = code < 0 ? -code : code;
    return c == ETIMEDOUT || (c >= HTTP_E_CONNECT_TIMEOUT && c <= HTTP_E_POOL_TIMEOUT);
}

/* ---- clocks and timeouts ---- */

int64_t client_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t client_deadline_min(int64_t deadline, int64_t ms)
{
    if (ms < 0)
        return deadline;
    int64_t d = co_deadline_in_ms(ms);
    return deadline == CO_NO_DEADLINE || d < deadline ? d : deadline;
}

int client_timeout(struct http_call *k, int64_t used, int kind, const char *what)
{
    const struct http_client_opts *o = &k->c->o;
    struct net_detail *d = &k->resp->detail;
    const char *where = k->url.origin ? k->url.origin : "?";
    if (used == k->deadline && k->deadline != CO_NO_DEADLINE) {
        if (k->caller_deadline)
            net_detail_set(d, "total timeout: the caller's deadline passed while %s (%s)", what,
                           where);
        else
            net_detail_set(d, "total timeout: the request took more than %lld ms; it was %s (%s)",
                           (long long)o->total_timeout_ms, what, where);
        return -HTTP_E_TOTAL_TIMEOUT;
    }
    switch (kind) {
    case HTTP_E_CONNECT_TIMEOUT:
        net_detail_set(d, "connect timeout: no connection to %s within %lld ms (stuck %s)", where,
                       (long long)o->connect_timeout_ms, what);
        break;
    case HTTP_E_WRITE_TIMEOUT:
        net_detail_set(d, "write timeout: %s took no request bytes for %lld ms (while %s)", where,
                       (long long)o->read_timeout_ms, what);
        break;
    default:
        kind = HTTP_E_READ_TIMEOUT;
        net_detail_set(d, "read timeout: no byte from %s for %lld ms (while %s)", where,
                       (long long)o->read_timeout_ms, what);
        break;
    }
    return -kind;
}

/* ---- the client object ---- */

static int64_t default_ms(int64_t v, int64_t def) { return v == 0 ? def : v < 0 ? -1 : v; }

int http_client_new(const struct http_client_opts *opts, http_client **out)
{
    *out = NULL;
    struct http_client_opts o = opts ? *opts : (struct http_client_opts){ 0 };
    if (o.max_conns_per_host < 0 || o.max_conns_total < 0 || o.max_redirects < -1)
        return -EINVAL;
    if (!o.max_conns_per_host)
        o.max_conns_per_host = HTTP_CONNS_PER_HOST_DEFAULT;
    o.max_conns_total = o.max_conns_total ? o.max_conns_total : HTTP_CONNS_TOTAL_DEFAULT;
    o.connect_timeout_ms = default_ms(o.connect_timeout_ms, HTTP_CONNECT_TIMEOUT_DEFAULT_MS);
    o.read_timeout_ms = default_ms(o.read_timeout_ms, HTTP_READ_TIMEOUT_DEFAULT_MS);
    o.total_timeout_ms = default_ms(o.total_timeout_ms, -1);
    o.pool_timeout_ms = default_ms(o.pool_timeout_ms, HTTP_POOL_TIMEOUT_DEFAULT_MS);
    o.idle_timeout_ms = default_ms(o.idle_timeout_ms, HTTP_IDLE_TIMEOUT_DEFAULT_MS);
    o.expect_timeout_ms = default_ms(o.expect_timeout_ms, HTTP_EXPECT_TIMEOUT_DEFAULT_MS);
    o.max_redirects = o.max_redirects ? o.max_redirects : HTTP_REDIRECTS_DEFAULT;
    o.body_max = o.body_max ? o.body_max : HTTP_BODY_MAX_DEFAULT;
    o.head_max = o.head_max ? o.head_max : HTTP_CLIENT_HEAD_MAX_DEFAULT;
    if (o.head_max < 1024)
        o.head_max = 1024;
    o.fields_max = o.fields_max ? o.fields_max : HTTP_FIELDS_DEFAULT;
    o.interim_max = o.interim_max ? o.interim_max : HTTP_INTERIM_MAX_DEFAULT;
    o.drain_max = o.drain_max ? o.drain_max : HTTP_DRAIN_MAX_DEFAULT;
    http_client *c = calloc(1, sizeof *c);
    if (!c || !(c->user_agent = strdup(o.user_agent ? o.user_agent : HTTP_USER_AGENT_DEFAULT))) {
        free(c);
        return -ENOMEM;
    }
    o.user_agent = c->user_agent;
    c->tls = o.tls;
    if (!c->tls && o.tls_opts) {
        int rc = tls_ctx_new_client(o.tls_opts, &c->tls, NULL);
        if (rc < 0) {
            free(c->user_agent);
            free(c);
            return rc;
        }
        c->own_tls = true;
    }
    o.tls_opts = NULL;
    c->o = o;
    *out = c;
    return 0;
}

void http_client_free(http_client *c)
{
    if (!c)
        return;
    if (c->holders > 0 || c->st.waiting > 0) {
        fprintf(stderr, "coloop: http_client_free: %zu requests still hold a connection and %llu "
                        "wait for one; the client is leaked, not freed under them\n",
                c->holders, (unsigned long long)c->st.waiting);
        return;
    }
    connpool_free(c);
    if (c->own_tls)
        tls_ctx_free(c->tls);
    free(c->user_agent);
    free(c);
}

void http_client_close_idle(http_client *c) { connpool_close_idle(c, true); }

void http_client_get_stats(const http_client *c, struct http_client_stats *out)
{
    *out = c->st;
    out->in_flight = c->holders;
}

/* ---- checking a request before anything is sent (RFC 9112 11.1, H6.1-H6.5) ---- */

static bool is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!http_is_tchar((unsigned char)*s))
            return false;
    return true;
}

static bool name_is(const struct http_header *f, const char *name)
{
    return http_equal_nocase(f->name, f->name_len, name, strlen(name));
}

/* Refuse the request: nothing is sent and no connection is made. */
static int refuse(struct http_response *r, size_t i, const char *why)
{
    if (i == (size_t)-1)
        net_detail_set(&r->detail, "request refused: %s", why);
    else
        net_detail_set(&r->detail, "request refused: header %zu: %s", i, why);
    return -HTTP_E_REQUEST_INVALID;
}

#define NO_FIELD ((size_t)-1)

int client_check_request(const struct http_request *q, struct http_response *r)
{
    if (!q->url)
        return refuse(r, NO_FIELD, "no URL");
    if (!is_token(q->method ? q->method : "GET"))
        return refuse(r, NO_FIELD, "the method is not a token (SP, CR, LF, NUL and other "
                                   "separators are not allowed: RFC 9112 3.1)");
    if (q->header_count > 0 && !q->headers)
        return refuse(r, NO_FIELD, "header_count without headers");
    for (size_t i = 0; i < q->header_count; i++) {
        const struct http_header *f = &q->headers[i];
        if (!f->name || f->name_len == 0 || (!f->value && f->value_len > 0))
            return refuse(r, i, "no name, or a value length without a value");
        for (size_t j = 0; j < f->name_len; j++)
            if (!http_is_tchar((unsigned char)f->name[j]))
                return refuse(r, i, "the name is not a token (CR, LF, NUL, SP and ':' are not "
                                    "allowed: RFC 9110 5.1)");
        for (size_t j = 0; j < f->value_len; j++)
            if (!http_is_field_byte((unsigned char)f->value[j]))
                return refuse(r, i, "the value has a CR, LF, NUL or another control byte "
                                    "(response splitting: RFC 9112 11.1)");
        if (name_is(f, "host") || name_is(f, "content-length") || name_is(f, "transfer-encoding"))
            return refuse(r, i, "Host, Content-Length and Transfer-Encoding are set by the "
                                "client, from the URL and the body");
        if (name_is(f, "expect"))
            return refuse(r, i, "set expect_continue instead of an Expect field");
    }
    if ((q->body || q->body_len) && q->body_read)
        return refuse(r, NO_FIELD, "body and body_read are both set");
    if (q->body_len && !q->body)
        return refuse(r, NO_FIELD, "body_len without body");
    if (q->body_read && q->body_length < -1)
        return refuse(r, NO_FIELD, "body_length must be -1 (unknown) or the size");
    return 0;
}

/* ---- responses ---- */

void http_response_fini(struct http_response *r)
{
    client_body_reset_response(r, false);
    memset(r, 0, sizeof *r);
}

const char *http_response_header(const struct http_response *r, const char *name)
{
    size_t cursor = 0;
    const struct http_header *f = http_header_find(r->headers, r->header_count, name, &cursor);
    return f ? f->value : NULL;
}

/* ---- hops ---- */

static bool method_idempotent(const char *m)
{
    static const char *const safe[] = { "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE" };
    for (size_t i = 0; i < sizeof safe / sizeof safe[0]; i++)
        if (strcmp(m, safe[i]) == 0)
            return true;
    return false;
}

/* The connection broke before the server said anything: what a pooled
 * connection the server had already closed looks like. */
bool client_stale_error(int rc)
{
    return rc == -HTTP_E_CLOSED || rc == -ECONNRESET || rc == -EPIPE || rc == -NET_EEOF ||
           rc == -NET_ETLS_TRUNCATED;
}

/* One hop: a connection, an exchange, and maybe the retry. */
static int await_hop(struct http_call *k)
{
    http_client *c = k->c;
    for (int attempt = 0;; attempt++) {
        /* The connection facts are this attempt's (the exchange fills them
         * in): a hop or a retry that gets no connection must not show the
         * address of the one before it. */
        k->resp->peer[0] = k->resp->tls_version[0] = k->resp->tls_alpn[0] = '\0';
        int rc = connpool_await_acquire(k);
        if (rc < 0)
            return rc;
        c->holders++;
        c->st.exchanges++;
        c->st.conns_reused += k->reused;
        k->resp->reused = k->reused;
        k->head_sent = k->body_pending = k->got_byte = k->pipelined = false;
        k->fate = CONN_ABORT;
        rc = client_exchange_await_send(k);
        if (rc == 0)
            rc = client_exchange_await_receive(k);
        connpool_release(c, k->conn, k->fate);
        k->conn = NULL;
        c->holders--;
        if (rc < 0 && attempt == 0 && k->reused && !k->got_byte && k->idempotent &&
            client_stale_error(rc)) {
            c->st.retries++;
            k->resp->retried = true;
            client_body_reset_response(k->resp, true);
            net_detail_set(&k->resp->detail, "%s", "");
            continue;
        }
        return rc;
    }
}

/* Where a redirect leads, and how the next hop differs (RFC 9110 15.4). */
static int follow(struct http_call *k, int status, int redirects)
{
    struct http_url next;
    int rc = http_url_resolve(&next, &k->url, k->location, strlen(k->location));
    if (rc < 0) {
        net_detail_set(&k->resp->detail, "redirect %d from %s to \"%.120s\": %s", status,
                       k->url.href, k->location, co_strerror(rc));
        return -HTTP_E_BAD_REDIRECT;
    }
    if (redirects >= k->max_redirects) {
        net_detail_set(&k->resp->detail, "stopped after %d redirects; the next was %d to %.200s",
                       redirects, status, next.href);
        http_url_fini(&next);
        return -HTTP_E_TOO_MANY_REDIRECTS;
    }
    /* 303: GET (HEAD stays HEAD).  301/302 after POST: GET, as every
     * browser does (RFC 9110 15.4.2-3 allow it).  307/308 keep both. */
    bool to_get = (status == 303 && strcmp(k->method, "HEAD") != 0) ||
                  ((status == 301 || status == 302) && strcmp(k->method, "POST") == 0);
    if (to_get) {
        k->method = "GET";
        k->send_body = false;
        k->strip_content = true;
        k->idempotent = true;
    }
    /* Credentials never follow to another origin, and stay dropped (H5.6). */
    if (!http_url_same_origin(&k->url, &next))
        k->strip_auth = true;
    http_url_fini(&k->url);
    k->url = next;
    k->c->st.redirects++;
    return 0;
}

void client_call_init(struct http_call *k, http_client *c, const struct http_request *req,
                      struct http_response *resp, int64_t deadline)
{
    memset(k, 0, sizeof *k);
    k->c = c;
    k->req = req;
    k->resp = resp;
    k->t0 = client_mono_ns();
    k->deadline = client_deadline_min(deadline, c->o.total_timeout_ms);
    k->caller_deadline = k->deadline == deadline && deadline != CO_NO_DEADLINE;
    k->method = req->method ? req->method : "GET";
    k->idempotent = method_idempotent(k->method);
    k->send_body = req->body || req->body_read;
    k->max_redirects = req->max_redirects ? req->max_redirects : c->o.max_redirects;
    k->body_max = req->body_max ? req->body_max : c->o.body_max;
}

int http_await_request(http_client *c, const struct http_request *req, struct http_response *resp,
                       int64_t deadline)
{
    if (!resp)
        return -EINVAL;
    memset(resp, 0, sizeof *resp);
    if (!c || !req)     /* checked before anything touches the client */
        return -EINVAL;
    c->st.requests++;
    if (!task_self()) {
        fprintf(stderr, "coloop: http_await_request() called outside a task\n");
        return -CO_ENOTASK;
    }
    struct http_call k;
    client_call_init(&k, c, req, resp, deadline);
    int rc = client_check_request(req, resp);
    if (rc == 0 && (rc = http_url_parse(&k.url, req->url, strlen(req->url))) < 0)
        net_detail_set(&resp->detail, "URL \"%.200s\": %s", req->url, co_strerror(rc));
    for (int redirects = 0; rc == 0; redirects++) {
        memset(&resp->timings, 0, sizeof resp->timings);
        rc = await_hop(&k);
        resp->redirects = redirects;
        if (rc < 0 || !k.location)
            break;
        int status = resp->status;
        client_body_reset_response(resp, false);
        rc = follow(&k, status, redirects);
        free(k.location);
        k.location = NULL;
        if (rc == 0)
            resp->redirects = redirects + 1;
    }
    free(k.location);
    if (k.url.href && !resp->url)
        resp->url = strdup(k.url.href);
    http_url_fini(&k.url);
    resp->timings.total_ns = client_mono_ns() - k.t0;
    if (rc < 0) {
        c->st.failures++;
        client_body_reset_response(resp, true);
    }
    return rc;
}

int http_await_get(http_client *c, const char *url, struct http_response *resp, int64_t deadline)
{
    struct http_request q = { .method = "GET", .url = url };
    return http_await_request(c, &q, resp, deadline);
}

int http_await_head(http_client *c, const char *url, struct http_response *resp, int64_t deadline)
{
    struct http_request q = { .method = "HEAD", .url = url };
    return http_await_request(c, &q, resp, deadline);
}

int http_await_post(http_client *c, const char *url, const char *content_type, const void *body,
                    size_t len, struct http_response *resp, int64_t deadline)
{
    size_t ct_len = content_type ? strlen(content_type) : 0;
    struct http_header ct = { "Content-Type", 12, content_type, ct_len };
    struct http_request q = { .method = "POST", .url = url, .headers = &ct,
                              .header_count = content_type ? 1 : 0, .body = body ? body : "",
                              .body_len = len };
    return http_await_request(c, &q, resp, deadline);
}
