/* error.c - words for error codes: errno values through glibc, coloop's own
 * codes from the table below.  Kept in one place so that every layer (runtime,
 * net, http) answers the same question the same way. */
#define _GNU_SOURCE
#include <string.h>
#include "runtime/error.h"

static const char *const coloop_messages[] = {
    [CO_ENOTASK - CO_ERR_BASE] = "await_* called outside a task (only a task can suspend)",
    [CO_ENOSTACK - CO_ERR_BASE] = "no coroutine stack available (mapping budget used up: see vm.max_map_count)",
    [CO_ENOLOOP - CO_ERR_BASE] = "no coloop loop on this thread",
    [CO_ENESTED - CO_ERR_BASE] = "a loop is already running on this thread (co_run cannot nest)",
    [CO_EDEADLOCK - CO_ERR_BASE] = "deadlock: every task is blocked and nothing can wake them",
    [CO_ECLOSED - CO_ERR_BASE] = "closed: the channel was closed (or the primitive finalised) while in use",
};

#define MAX_DOMAINS 8

struct error_domain {
    int first, last;               /* inclusive range of positive codes */
    co_error_describer describe;
};

/* Written by constructors before main (single-threaded), read-only after. */
static struct error_domain domains[MAX_DOMAINS];
static int domain_count;

void co_error_register_domain(int first, int last, co_error_describer describe)
{
    if (domain_count < MAX_DOMAINS)
        domains[domain_count++] = (struct error_domain){ first, last, describe };
}

static const char *domain_message(int code)
{
    for (int i = 0; i < domain_count; i++)
        if (code >= domains[i].first && code <= domains[i].last)
            return domains[i].describe(code);
    return NULL;
}

const char *co_strerror(int code)
{
    if (code < 0)
        code = -code;
    if (code == 0)
        return "success";
    if (code > CO_ERR_BASE && code < CO_ERR_END)
        return coloop_messages[code - CO_ERR_BASE];
    const char *layer = domain_message(code);
    if (layer)
        return layer;
    /* strerrordesc_np (glibc >= 2.32) returns a static string, unlike
     * strerror it never formats into a shared buffer. */
    const char *msg = strerrordesc_np(code);
    return msg ? msg : "unknown error";
}
