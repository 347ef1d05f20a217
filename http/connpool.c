/* connpool.c - the client's connections: one entry per origin (scheme, host,
 * port) with its idle connections and its queue of waiting requests, caps
 * per origin and in total, idle expiry, and dialling (DNS, TCP, TLS, each
 * timed).  Used by client.c; nothing here parses HTTP.
 *
 * Slots.  A connection counts against the caps from the moment a request
 * reserves the right to dial it until it is closed, idle time included.  A
 * request that finds no idle connection and no free slot queues on its
 * origin, FIFO; across origins the oldest eligible waiter is served first
 * (arrival numbers).  When the total cap is what blocks a waiter, the least
 * recently used idle connection of another origin is closed for it.
 *
 * Invariant: after every change (a connection released, closed or expired)
 * no waiter could be served, so a newcomer that can be served now is not
 * jumping anyone's turn.  Granting never suspends: the waker picks the
 * waiter, gives it the connection or the slot, and sets its event; a waiter
 * that wakes by its deadline or a cancel in the same turn gives the grant
 * back (so nothing is lost: DESIGN.md, "a cancelled waiter passes its wakeup
 * on").  Dispatch costs O(origins with waiters) per grant.  Dialling a new
 * connection is client_dial.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/client_internal.h"
#include "runtime/error.h"
#include "runtime/task.h"

/* ---- the origin table (chained hash, doubled when full) ---- */

static size_t hash_origin(const char *s)
{
    uint64_t h = 1469598103934665603ull;    /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)h;
}

static int table_grow(http_client *c)
{
    size_t n = c->nbuckets ? c->nbuckets * 2 : 16;
    struct pool_host **b = calloc(n, sizeof *b);
    if (!b)
        return -ENOMEM;
    for (size_t i = 0; i < c->nbuckets; i++) {
        for (struct pool_host *h = c->buckets[i], *next; h; h = next) {
            next = h->chain;
            size_t j = hash_origin(h->origin) & (n - 1);
            h->chain = b[j];
            b[j] = h;
        }
    }
    free(c->buckets);
    c->buckets = b;
    c->nbuckets = n;
    return 0;
}

static struct pool_host *host_get(http_client *c, const char *origin)
{
    if (c->nbuckets) {
        size_t i = hash_origin(origin) & (c->nbuckets - 1);
        for (struct pool_host *h = c->buckets[i]; h; h = h->chain)
            if (strcmp(h->origin, origin) == 0)
                return h;
    }
    if (c->nhosts >= c->nbuckets && table_grow(c) < 0)
        return NULL;
    struct pool_host *h = calloc(1, sizeof *h);
    if (!h || !(h->origin = strdup(origin))) {
        free(h);
        return NULL;
    }
    size_t i = hash_origin(origin) & (c->nbuckets - 1);
    h->chain = c->buckets[i];
    c->buckets[i] = h;
    c->nhosts++;
    return h;
}

/* An origin with no connection and no waiter is forgotten (a scraper visits
 * thousands of hosts once each). */
static void host_maybe_free(http_client *c, struct pool_host *h)
{
    if (h->open > 0 || h->waiting > 0)
        return;
    struct pool_host **p = &c->buckets[hash_origin(h->origin) & (c->nbuckets - 1)];
    while (*p != h)
        p = &(*p)->chain;
    *p = h->chain;
    c->nhosts--;
    free(h->origin);
    free(h);
}

/* ---- idle lists: per origin and for the whole client, most recent first ---- */

static void idle_push(http_client *c, struct http_conn *conn)
{
    struct pool_host *h = conn->host;
    conn->idle_since = co_now_ns();
    conn->prev = NULL;
    conn->next = h->idle_head;
    if (h->idle_head)
        h->idle_head->prev = conn;
    h->idle_head = conn;
    h->idle++;
    conn->gprev = NULL;
    conn->gnext = c->gidle_head;
    if (c->gidle_head)
        c->gidle_head->gprev = conn;
    else
        c->gidle_tail = conn;
    c->gidle_head = conn;
    c->st.conns_idle++;
}

static void idle_remove(http_client *c, struct http_conn *conn)
{
    struct pool_host *h = conn->host;
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        h->idle_head = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    h->idle--;
    if (conn->gprev)
        conn->gprev->gnext = conn->gnext;
    else
        c->gidle_head = conn->gnext;
    if (conn->gnext)
        conn->gnext->gprev = conn->gprev;
    else
        c->gidle_tail = conn->gprev;
    c->st.conns_idle--;
}

/* ---- slots ---- */

static void slot_take(http_client *c, struct pool_host *h)
{
    h->open++;
    c->open_total++;
    c->st.conns_open++;
}

static void conn_destroy(http_client *c, struct http_conn *conn, enum conn_fate fate)
{
    if (fate == CONN_ABORT)
        stream_abort(conn->s);
    else
        stream_close(conn->s);
    free(conn);
    c->st.conns_closed++;
}

static void connpool_dispatch(http_client *c);

/* A slot came free: serve whoever can be served now.  The host is not freed
 * here (callers may still hold it). */
static void slot_free(http_client *c, struct pool_host *h)
{
    h->open--;
    c->open_total--;
    c->st.conns_open--;
    if (c->whead)
        connpool_dispatch(c);
}

/* Close the least recently used idle connection (any origin) to make room
 * under the total cap.  false if there is none. */
static bool evict_one_idle(http_client *c)
{
    struct http_conn *old = c->gidle_tail;
    if (!old)
        return false;
    struct pool_host *h = old->host;
    idle_remove(c, old);
    conn_destroy(c, old, CONN_CLOSE);
    h->open--;
    c->open_total--;
    c->st.conns_open--;
    host_maybe_free(c, h);
    return true;
}

/* ---- waiters ---- */

static void waiter_unlink(http_client *c, struct pool_waiter *w)
{
    struct pool_host *h = w->host;
    if (w->prev)
        w->prev->next = w->next;
    else
        h->wait_head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        h->wait_tail = w->prev;
    c->st.waiting--;
    if (--h->waiting == 0) {     /* leave the list of origins with waiters */
        if (h->wprev)
            h->wprev->wnext = h->wnext;
        else
            c->whead = h->wnext;
        if (h->wnext)
            h->wnext->wprev = h->wprev;
        else
            c->wtail = h->wprev;
        h->wprev = h->wnext = NULL;
    }
}

static void waiter_link(http_client *c, struct pool_waiter *w)
{
    struct pool_host *h = w->host;
    w->seq = ++c->wait_seq;
    w->next = NULL;
    w->prev = h->wait_tail;
    if (h->wait_tail)
        h->wait_tail->next = w;
    else
        h->wait_head = w;
    h->wait_tail = w;
    c->st.waiting++;
    if (h->waiting++ == 0) {
        h->wnext = NULL;
        h->wprev = c->wtail;
        if (c->wtail)
            c->wtail->wnext = h;
        else
            c->whead = h;
        c->wtail = h;
    }
}

static void grant(http_client *c, struct pool_waiter *w, enum pool_grant g, struct http_conn *conn)
{
    waiter_unlink(c, w);
    w->grant = g;
    w->conn = conn;
    event_set(&w->ready);
}

/* Can the first waiter of h be served now? */
static bool host_servable(const http_client *c, const struct pool_host *h)
{
    return h->idle_head || (h->open < (size_t)c->o.max_conns_per_host &&
                            (c->open_total < (size_t)c->o.max_conns_total || c->gidle_tail));
}

/* Serve waiters, oldest eligible first, until none can be served. */
static void connpool_dispatch(http_client *c)
{
    for (;;) {
        struct pool_host *best = NULL;
        for (struct pool_host *h = c->whead; h; h = h->wnext)
            if (host_servable(c, h) && (!best || h->wait_head->seq < best->wait_head->seq))
                best = h;
        if (!best)
            return;
        struct pool_waiter *w = best->wait_head;
        if (best->idle_head) {
            struct http_conn *conn = best->idle_head;
            idle_remove(c, conn);
            grant(c, w, GRANT_CONN, conn);
        } else {
            if (c->open_total >= (size_t)c->o.max_conns_total)
                evict_one_idle(c);
            slot_take(c, best);
            grant(c, w, GRANT_DIAL, NULL);
        }
    }
}

/* Queue for h and wait for a grant, bounded by pool_timeout and the call's
 * deadline.  0 with *conn (a connection) or *dial (a slot), or an error. */
static int await_turn(struct http_call *k, struct pool_host *h, struct http_conn **conn, bool *dial)
{
    http_client *c = k->c;
    struct pool_waiter w = { .host = h };
    event_init(&w.ready);
    waiter_link(c, &w);
    c->st.pool_waits++;
    int64_t dl = client_deadline_min(k->deadline, c->o.pool_timeout_ms);
    int rc = event_await(&w.ready, dl);
    event_fini(&w.ready);
    if (w.grant == GRANT_NONE)
        waiter_unlink(c, &w);
    if (rc < 0 && w.grant == GRANT_CONN)
        connpool_release(c, w.conn, CONN_KEEP);    /* woken in the same turn: pass it on */
    else if (rc < 0 && w.grant == GRANT_DIAL)
        slot_free(c, h);
    if (rc == -ETIMEDOUT && dl != k->deadline) {
        c->st.pool_timeouts++;
        net_detail_set(&k->resp->detail,
                       "pool timeout: no connection to %s came free within %lld ms "
                       "(%zu open to it, %zu in all; caps %d per origin, %d in all)",
                       h->origin, (long long)c->o.pool_timeout_ms, h->open, c->open_total,
                       c->o.max_conns_per_host, c->o.max_conns_total);
        return -HTTP_E_POOL_TIMEOUT;
    }
    if (rc == -ETIMEDOUT)
        return client_timeout(k, dl, HTTP_E_POOL_TIMEOUT, "waiting for a connection slot");
    if (rc < 0)
        return rc;
    *conn = w.conn;
    *dial = w.grant == GRANT_DIAL;
    return 0;
}

/* An idle connection is usable if nothing arrived on it: not the server's
 * FIN or RST (it closed the idle connection), and no bytes nobody asked for
 * (RFC 9112 9.2: they must not be taken as a response).  The read is tried
 * with a deadline already past, so it never suspends. */
static bool conn_alive(struct http_conn *conn)
{
    if (stream_buffered(conn->s, NULL) > 0)
        return false;
    return stream_await_fill(conn->s, 0) == -ETIMEDOUT;
}

/* ---- the pool's entry points ---- */

void connpool_close_idle(http_client *c, bool all)
{
    int64_t now = co_now_ns();
    int64_t ttl = c->o.idle_timeout_ms;
    while (c->gidle_tail) {
        struct http_conn *old = c->gidle_tail;
        if (!all && (ttl < 0 || now - old->idle_since < ttl * 1000000))
            break;
        if (!all)
            c->st.idle_expired++;
        struct pool_host *h = old->host;
        idle_remove(c, old);
        conn_destroy(c, old, CONN_CLOSE);
        slot_free(c, h);
        host_maybe_free(c, h);
    }
}

int connpool_await_acquire(struct http_call *k)
{
    http_client *c = k->c;
    connpool_close_idle(c, false);
    struct pool_host *h = host_get(c, k->url.origin);
    if (!h)
        return -ENOMEM;
    int64_t t = client_mono_ns();
    int rc = 0;
    for (;;) {
        struct http_conn *conn = NULL;
        bool dial = false;
        if (h->waiting == 0 && h->idle_head) {
            conn = h->idle_head;
            idle_remove(c, conn);
        } else if (h->waiting == 0 && host_servable(c, h)) {
            if (c->open_total >= (size_t)c->o.max_conns_total)
                evict_one_idle(c);
            slot_take(c, h);
            dial = true;
        } else if ((rc = await_turn(k, h, &conn, &dial)) < 0) {
            break;
        }
        k->resp->timings.pool_wait_ns = client_mono_ns() - t;
        /* A connection given back in this same loop turn was read a moment
         * ago: for an idempotent request skip the extra read (a syscall per
         * request); if the server did close it, the retry rule covers it. */
        bool fresh = conn && k->idempotent && conn->idle_since == co_now_ns();
        if (conn && !fresh && !conn_alive(conn)) {
            c->st.stale_closed++;
            conn_destroy(c, conn, CONN_CLOSE);
            slot_free(c, h);
            continue;
        }
        if (conn) {
            k->conn = conn;
            k->reused = true;
            return 0;
        }
        if ((rc = client_await_dial(k, h, &conn)) < 0) {
            slot_free(c, h);
            break;
        }
        k->conn = conn;
        k->reused = false;
        return 0;
    }
    host_maybe_free(c, h);
    return rc;
}

void connpool_release(http_client *c, struct http_conn *conn, enum conn_fate fate)
{
    struct pool_host *h = conn->host;
    if (fate == CONN_KEEP) {
        conn->exchanges++;
        conn->idle_since = co_now_ns();
        if (h->wait_head) {     /* hand it straight to the next in line */
            grant(c, h->wait_head, GRANT_CONN, conn);
            return;
        }
        idle_push(c, conn);
        if (c->whead)           /* a waiter elsewhere may be blocked by the total cap */
            connpool_dispatch(c);
        return;
    }
    conn_destroy(c, conn, fate);
    slot_free(c, h);
    host_maybe_free(c, h);
}

void connpool_free(http_client *c)
{
    connpool_close_idle(c, true);
    for (size_t i = 0; i < c->nbuckets; i++) {
        for (struct pool_host *h = c->buckets[i], *next; h; h = next) {
            next = h->chain;
            free(h->origin);
            free(h);
        }
    }
    free(c->buckets);
    c->buckets = NULL;
    c->nbuckets = c->nhosts = 0;
}
