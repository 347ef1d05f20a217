/* fuzz_chunked.c - libFuzzer target for the chunked decoder alone: the
 * same bytes decoded whole and in random pieces must give the same data,
 * stop at the same place (the trailer section or the same error), every
 * span must lie inside the bytes passed in, and the decoded total must stay
 * within the body limit.  Input: byte 0 picks the limits, the rest is the
 * chunked body.  Built by tests/fuzz/run.sh. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/chunked.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
    uint64_t hash;      /* FNV-1a of the decoded bytes */
    uint64_t total;     /* decoded bytes */
    size_t consumed;    /* input bytes consumed */
    int error;          /* 0, or the error that stopped it */
    int at_trailers;    /* reached the trailer section */
};

static void mix(uint64_t *h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        *h ^= (unsigned char)p[i];
        *h *= 0x100000001b3ULL;
    }
}

/* Decode in[0..len) in pieces of 1..piece_max bytes chosen by rng (0: whole). */
static struct outcome decode(const uint8_t *in, size_t len, uint64_t body_max, size_t ext_max, uint64_t rng,
                             size_t piece_max)
{
    struct http_chunked c;
    struct outcome o = { 0xcbf29ce484222325ULL, 0, 0, 0, 0 };
    http_chunked_init(&c, body_max, ext_max);
    size_t arrived = 0;
    while (!o.error && !http_chunked_at_trailers(&c)) {
        if (o.consumed == arrived) {
            if (arrived == len)
                break;
            rng ^= rng << 13;                       /* xorshift: pieces replay exactly */
            rng ^= rng >> 7;
            rng ^= rng << 17;
            size_t step = rng ? 1 + (size_t)(rng % piece_max) : len;
            arrived = len - arrived < step ? len : arrived + step;
        }
        size_t n = arrived - o.consumed;
        char *buf = malloc(n);                      /* exactly n: ASan sees an over-read */
        memcpy(buf, in + o.consumed, n);
        struct http_span span;
        int rc = http_chunked_feed(&c, buf, n, &span);
        if (rc < 0) {
            o.error = rc;
        } else {
            if (span.len && (span.data < buf || span.data + span.len > buf + rc))
                abort();
            mix(&o.hash, span.data, span.len);
            o.consumed += (size_t)rc;
        }
        free(buf);
    }
    if (c.total > body_max)
        abort();
    o.total = c.total;
    o.at_trailers = http_chunked_at_trailers(&c);
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint64_t body_max[] = { (uint64_t)64 << 20, 100, 0, UINT64_MAX };
    static const size_t ext_max[] = { 1024, 0, 4, 64 };
    if (size == 0)
        return 0;
    uint64_t bmax = body_max[data[0] & 3];
    size_t emax = ext_max[(data[0] >> 2) & 3];
    struct outcome whole = decode(data + 1, size - 1, bmax, emax, 0, 1);
    for (int i = 0; i < 2; i++) {
        uint64_t seed = whole.hash + (uint64_t)i * 0x9e3779b97f4a7c15ULL + size;
        struct outcome split = decode(data + 1, size - 1, bmax, emax, seed ? seed : 1, i ? 64 : 4);
        if (split.hash != whole.hash || split.total != whole.total || split.error != whole.error ||
            split.at_trailers != whole.at_trailers ||
            (!whole.error && split.consumed != whole.consumed))
            abort();
    }
    return 0;
}
