/* fuzz_url.c - libFuzzer target for URL parsing and resolution.  Input:
 * "base\nref" resolves ref against base (LF can never be part of a URL, so
 * it is a safe separator); input without LF is parsed as an absolute URL
 * and also resolved against a fixed base.  Every URL accepted must keep the
 * promises of url.h, checked here:
 *   - href is scheme "://" host_header target, all bytes 0x21..0x7E;
 *   - the target starts with "/" and path_len ends at "?" or the end;
 *   - normalizing is idempotent: parsing href gives href again, and
 *     resolving href against the base gives href again.
 * Any broken promise aborts.  Built by tests/fuzz/run.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FIXED_BASE "http://a/b/c/d;p?q"

static int visible(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7E)
            return 0;
    return 1;
}

static void check(const struct http_url *u, const struct http_url *base)
{
    static char joined[3 * HTTP_URL_MAX + 1024];
    snprintf(joined, sizeof joined, "%s://%s%s", http_scheme_name(u->scheme), u->host_header, u->target);
    if (strcmp(joined, u->href) != 0 || u->target[0] != '/' || !visible(u->href) || !visible(u->origin) ||
        (u->target[u->path_len] != '\0' && u->target[u->path_len] != '?'))
        abort();
    struct http_url again;
    if (http_url_parse(&again, u->href, strlen(u->href)) != 0 || strcmp(again.href, u->href) != 0 ||
        !http_url_same_origin(&again, u))
        abort();
    http_url_fini(&again);
    if (base) {
        if (http_url_resolve(&again, base, u->href, strlen(u->href)) != 0 || strcmp(again.href, u->href) != 0)
            abort();
        http_url_fini(&again);
    }
}

/* ref[0..n) in its own heap block of exactly n bytes: ASan sees an over-read. */
static int resolve(struct http_url *u, const struct http_url *base, const uint8_t *ref, size_t n)
{
    char *copy = malloc(n ? n : 1);
    memcpy(copy, ref, n);
    int rc = base ? http_url_resolve(u, base, copy, n) : http_url_parse(u, copy, n);
    free(copy);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_url base, u;
    const uint8_t *lf = memchr(data, '\n', size);
    if (lf) {
        if (resolve(&base, NULL, data, (size_t)(lf - data)) != 0)
            return 0;
        check(&base, NULL);
        if (resolve(&u, &base, lf + 1, size - (size_t)(lf - data) - 1) == 0) {
            check(&u, &base);
            http_url_fini(&u);
        }
        http_url_fini(&base);
        return 0;
    }
    if (resolve(&u, NULL, data, size) == 0) {
        check(&u, NULL);
        http_url_fini(&u);
    }
    if (http_url_parse(&base, FIXED_BASE, strlen(FIXED_BASE)) != 0)
        abort();
    if (resolve(&u, &base, data, size) == 0) {
        check(&u, &base);
        http_url_fini(&u);
    }
    http_url_fini(&base);
    return 0;
}
