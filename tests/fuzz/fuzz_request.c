/* fuzz_request.c - libFuzzer target for the request side: the request
 * parser, whole against split (fuzz_http.h); and the request formatter,
 * whose output, whenever it accepts its input, must read back through the
 * parser as exactly what was given (nothing injected, nothing lost).
 * Built by tests/fuzz/run.sh. */
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_http.h"

#define FORMAT_PARTS 5      /* method, target, host, field name, field value */
#define FORMAT_SEP 0xFE     /* separates the parts in the input */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Cut data into NUL-terminated parts at FORMAT_SEP (the last part keeps
 * the rest).  The strings live in one heap block. */
static char *cut(const uint8_t *data, size_t size, char *part[FORMAT_PARTS], size_t len[FORMAT_PARTS])
{
    char *mem = malloc(size + FORMAT_PARTS);
    size_t at = 0, k = 0;
    part[0] = mem;
    len[0] = 0;
    for (size_t i = 0; i < size; i++) {
        if (data[i] == FORMAT_SEP && k + 1 < FORMAT_PARTS) {
            mem[at++] = '\0';
            part[++k] = mem + at;
            len[k] = 0;
        } else {
            mem[at++] = (char)data[i];
            len[k]++;
        }
    }
    mem[at] = '\0';
    for (k++; k < FORMAT_PARTS; k++) {
        part[k] = mem + at;
        len[k] = 0;
    }
    return mem;
}

static bool same(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

/* A head the formatter wrote must parse back to what it was given. */
static void check_round_trip(const uint8_t *data, size_t size)
{
    char *part[FORMAT_PARTS], out[1024];
    size_t len[FORMAT_PARTS];
    char *mem = cut(data, size, part, len);
    for (int k = 0; k < 3; k++)     /* method, target and host are C strings: a NUL ends them */
        len[k] = strlen(part[k]);
    struct http_header f = { part[3], len[3], part[4], len[4] }, got[4];
    int n = http_format_request(out, sizeof out, part[0], part[1], part[2], &f, 1);
    if (n > 0) {
        struct http_parser p;
        http_parser_init(&p, HTTP_ROLE_REQUEST, NULL, got, 4);
        int rc = http_parse_head(&p, out, (size_t)n);
        const struct http_head *h = &p.head;
        /* a value's surrounding whitespace is not part of it when read back */
        size_t vs = 0, ve = len[4];
        while (vs < ve && (part[4][vs] == ' ' || part[4][vs] == '\t'))
            vs++;
        while (ve > vs && (part[4][ve - 1] == ' ' || part[4][ve - 1] == '\t'))
            ve--;
        if (rc == -HTTP_E_CL_AND_TE || rc == -HTTP_E_BAD_CONTENT_LENGTH || rc == -HTTP_E_BAD_TRANSFER_ENCODING ||
            rc == -HTTP_E_TE_NOT_CHUNKED || rc == -HTTP_E_TE_UNSUPPORTED || rc == -HTTP_E_BODY_TOO_LARGE ||
            rc == -HTTP_E_TARGET_TOO_LONG || rc == -HTTP_E_LINE_TOO_LONG)
            goto done;      /* well-formed, refused for its framing or size: not an injection */
        if (rc != n || h->field_count != 2 || !same(h->method, h->method_len, part[0], len[0]) ||
            !same(h->target, h->target_len, part[1], len[1]) ||
            !same(h->fields[0].value, h->fields[0].value_len, part[2], len[2]) ||
            !same(h->fields[1].name, h->fields[1].name_len, part[3], len[3]) ||
            !same(h->fields[1].value, h->fields[1].value_len, part[4] + vs, ve - vs))
            abort();
    }
done:
    free(mem);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_compare(HTTP_ROLE_REQUEST, data, size);
    check_round_trip(data, size);
    return 0;
}
