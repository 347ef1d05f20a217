/* format.c - writing a request head, safely.  The other direction of
 * parse.c: whatever the caller passes (method, target, host, fields) is
 * checked byte by byte before anything is written, so a CR or LF smuggled
 * into a value can never start a header or a request of its own (response
 * splitting / CRLF injection, RFC 9112 11.1; CVE-2019-9740, CVE-2020-26116,
 * urllib3 CVE-2019-11236).  Refuse, never escape: escaping would send
 * something the caller did not ask for.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "http/chars.h"
#include "http/parse.h"

static bool all_bytes(const char *s, size_t n, bool (*ok)(unsigned char))
{
    for (size_t i = 0; i < n; i++)
        if (!ok((unsigned char)s[i]))
            return false;
    return true;
}

/* uri-host as coloop's URL code produces it: names, IPv4, [IPv6], and ":port". */
static bool is_host_byte(unsigned char c)
{
    return http_is_alpha(c) || http_is_digit(c) || c == '.' || c == '-' || c == '_' || c == ':' ||
           c == '[' || c == ']';
}

static bool is_token(const char *s, size_t n) { return n > 0 && all_bytes(s, n, http_is_tchar); }

/* Validate the fields (H6.4, H6.5): token names, values without control
 * bytes except HTAB, no Host (it comes from `host`), digits-only
 * Content-Length, never both Content-Length and Transfer-Encoding. */
static int check_fields(const struct http_header *fields, size_t count)
{
    bool cl = false, te = false;
    for (size_t i = 0; i < count; i++) {
        const struct http_header *f = &fields[i];
        if (!is_token(f->name, f->name_len) || !all_bytes(f->value, f->value_len, http_is_field_byte))
            return -EINVAL;
        if (http_equal_nocase(f->name, f->name_len, "host", 4))
            return -EINVAL;
        if (http_equal_nocase(f->name, f->name_len, "content-length", 14)) {
            if (f->value_len == 0 || !all_bytes(f->value, f->value_len, http_is_digit))
                return -EINVAL;
            cl = true;
        }
        te |= http_equal_nocase(f->name, f->name_len, "transfer-encoding", 17);
    }
    return cl && te ? -EINVAL : 0;
}

/* *total += n, refusing to wrap. */
static int add_len(size_t *total, size_t n)
{
    if (n > SIZE_MAX - *total)
        return -ENOSPC;
    *total += n;
    return 0;
}

static char *put(char *at, const char *s, size_t n)
{
    if (n > 0)              /* an empty value may come with a NULL pointer */
        memcpy(at, s, n);
    return at + n;
}

int http_format_request(char *out, size_t size, const char *method, const char *target,
                        const char *host, const struct http_header *fields, size_t count)
{
    static const char version[] = " HTTP/1.1\r\nHost: ";
    size_t mlen = strlen(method), tlen = strlen(target), hlen = strlen(host);
    if (!is_token(method, mlen) || tlen == 0 || !all_bytes(target, tlen, http_is_vchar) ||
        hlen == 0 || !all_bytes(host, hlen, is_host_byte))
        return -EINVAL;
    int rc = check_fields(fields, count);
    if (rc < 0)
        return rc;
    size_t total = 0;
    rc = add_len(&total, mlen + 1 + tlen + (sizeof version - 1) + hlen + 2 + 2);
    for (size_t i = 0; i < count && rc == 0; i++)
        rc = add_len(&total, fields[i].name_len + 2 + fields[i].value_len + 2);
    if (rc < 0 || total > size || total > INT_MAX)
        return -ENOSPC;
    char *at = put(out, method, mlen);
    at = put(at, " ", 1);
    at = put(at, target, tlen);
    at = put(at, version, sizeof version - 1);
    at = put(at, host, hlen);
    at = put(at, "\r\n", 2);
    for (size_t i = 0; i < count; i++) {
        at = put(at, fields[i].name, fields[i].name_len);
        at = put(at, ": ", 2);
        at = put(at, fields[i].value, fields[i].value_len);
        at = put(at, "\r\n", 2);
    }
    put(at, "\r\n", 2);
    return (int)total;
}
