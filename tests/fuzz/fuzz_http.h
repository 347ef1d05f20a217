/* fuzz_http.h - what fuzz_response.c and fuzz_request.c share: a connection
 * played over the fuzzer's bytes, reduced to a digest of everything the
 * parser reported (heads, body bytes, trailers, the error), so that the same
 * bytes fed whole and fed in pieces can be compared.  A difference is a
 * framing disagreement (the shape of every smuggling bug), reported by
 * abort() so libFuzzer keeps the input.
 *
 * Input format: byte 0 configures the run (bits 0-1: the request method for
 * responses, GET/HEAD/CONNECT/GET; bit 2: tiny limits; bits 3-7: salt for
 * the split points); the rest is the stream.  Each piece is passed in its
 * own heap copy of exactly its length, so ASan sees a one-byte over-read.
 */
#ifndef COLOOP_FUZZ_HTTP_H
#define COLOOP_FUZZ_HTTP_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/parse.h"

#define FUZZ_FIELDS 32          /* field array size in the fuzz runs */
#define FUZZ_PIECE_SMALL 8      /* one splitting uses pieces of 1..8 bytes */
#define FUZZ_PIECE_LARGE 64     /* the other 1..64 */

struct fuzz_digest {
    uint64_t hash;      /* FNV-1a over the events */
    int error;          /* the last code returned (0 when none) */
    unsigned messages;  /* complete heads */
};

static void fuzz_mix(struct fuzz_digest *d, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        d->hash ^= b[i];
        d->hash *= 0x100000001b3ULL;
    }
}

static void fuzz_mix_int(struct fuzz_digest *d, uint64_t v) { fuzz_mix(d, &v, sizeof v); }

/* Everything a head says, and a check that it points into the buffer. */
static void fuzz_mix_head(struct fuzz_digest *d, const struct http_parser *p, const char *buf, size_t len)
{
    const struct http_head *h = &p->head;
    if (h->length > len || h->field_count > FUZZ_FIELDS)
        abort();
    fuzz_mix_int(d, 'H');
    fuzz_mix_int(d, (uint64_t)h->status << 32 | h->version_minor);
    fuzz_mix_int(d, (uint64_t)h->framing << 32 | (uint64_t)h->keep_alive << 1 | h->te_other);
    fuzz_mix_int(d, h->content_length);
    fuzz_mix(d, h->method ? h->method : "", h->method_len);
    fuzz_mix(d, h->target ? h->target : "", h->target_len);
    for (size_t i = 0; i < h->field_count; i++) {
        const struct http_header *f = &h->fields[i];
        if (f->name < buf || f->value < buf || f->value + f->value_len > buf + h->length)
            abort();
        fuzz_mix(d, f->name, f->name_len);
        fuzz_mix(d, ":", 1);
        fuzz_mix(d, f->value, f->value_len);
    }
    d->messages++;
}

/* The message ended: its trailers (the body bytes were mixed as they came). */
static void fuzz_mix_end(struct fuzz_digest *d, const struct http_parser *p)
{
    fuzz_mix_int(d, 'E');
    for (size_t i = 0; i < p->trailer_count; i++) {
        fuzz_mix(d, p->trailers[i].name, p->trailers[i].name_len);
        fuzz_mix(d, p->trailers[i].value, p->trailers[i].value_len);
    }
}

/* The next piece boundary: deterministic from the input, so a crash replays. */
static size_t fuzz_next_split(uint64_t *rng, size_t at, size_t len, size_t piece_max)
{
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    size_t step = 1 + (size_t)(*rng % piece_max);
    return len - at < step ? len : at + step;
}

struct fuzz_conn {
    struct http_parser p;
    struct http_header fields[FUZZ_FIELDS];
    struct http_header trailers[FUZZ_FIELDS];
    struct fuzz_digest d;
    int in_body;
};

/* One parser call over [off, arrived), in a heap copy of exactly that size.
 * Returns 1 progress, 0 need more, -1 stop. */
static int fuzz_step(struct fuzz_conn *c, int role, const uint8_t *in, size_t *off, size_t arrived)
{
    size_t n = arrived - *off;
    char *buf = malloc(n ? n : 1);
    memcpy(buf, in + *off, n);
    int rc, result = 1;
    if (!c->in_body) {
        rc = http_parse_head(&c->p, buf, n);
        if (rc > 0) {
            fuzz_mix_head(&c->d, &c->p, buf, n);
            *off += (size_t)rc;
            int interim = role == HTTP_ROLE_RESPONSE ? http_response_interim(&c->p) : 0;
            if (interim < 0)
                rc = interim;
            c->in_body = interim == 0;
        }
    } else {
        struct http_span span;
        rc = http_parse_body(&c->p, buf, n, &span);
        if (rc >= 0) {
            if (span.len && (span.data < buf || span.data + span.len > buf + n))
                abort();
            fuzz_mix(&c->d, span.data, span.len);
            *off += (size_t)rc;
            if (rc == 0 && !http_parser_done(&c->p))
                result = 0;
        }
    }
    if (rc < 0) {
        c->d.error = rc;
        result = -1;
    } else if (rc == 0 && !c->in_body) {
        result = 0;
    }
    if (result >= 0 && c->in_body && http_parser_done(&c->p)) {
        fuzz_mix_end(&c->d, &c->p);
        c->in_body = 0;
    }
    free(buf);
    return result;
}

/* Play the whole stream; pieces of up to piece_max bytes end where `rng`
 * says (rng 0: one piece). */
static struct fuzz_digest fuzz_run(int role, uint8_t config, const uint8_t *in, size_t len, uint64_t rng,
                                   size_t piece_max)
{
    static const char *const methods[] = { "GET", "HEAD", "CONNECT", "GET" };
    static struct fuzz_conn c;
    struct http_limits l;
    http_limits_default(&l);
    if (config & 4) {
        l.head_max = 200;
        l.line_max = 40;
        l.body_max = 100;
        l.chunk_ext_max = 8;
        l.interim_max = 2;
    }
    memset(&c.d, 0, sizeof c.d);
    c.d.hash = 0xcbf29ce484222325ULL;
    c.in_body = 0;
    http_parser_init(&c.p, role, &l, c.fields, config & 4 ? 4 : FUZZ_FIELDS);
    http_parser_set_trailers(&c.p, c.trailers, FUZZ_FIELDS);
    http_parser_expect(&c.p, methods[config & 3], strlen(methods[config & 3]));
    size_t off = 0, arrived = rng ? fuzz_next_split(&rng, 0, len, piece_max) : len;
    for (;;) {
        int rc = fuzz_step(&c, role, in, &off, arrived);
        if (rc < 0)
            break;
        if (rc > 0 && off < arrived)
            continue;
        if (arrived < len) {
            arrived = rng ? fuzz_next_split(&rng, arrived, len, piece_max) : len;
            continue;
        }
        if (c.in_body || off < len) {
            int eof = http_parse_eof(&c.p);
            c.d.error = eof;
            if (eof == 0)
                fuzz_mix_end(&c.d, &c.p);
        }
        break;
    }
    fuzz_mix_int(&c.d, (uint64_t)(int64_t)c.d.error);
    return c.d;
}

/* The whole input against two random splittings (small and larger
 * pieces): any difference aborts. */
static void fuzz_compare(int role, const uint8_t *data, size_t size)
{
    if (size == 0)
        return;
    uint8_t config = data[0];
    const uint8_t *in = data + 1;
    size_t len = size - 1;
    struct fuzz_digest whole = fuzz_run(role, config, in, len, 0, len);
    uint64_t seed = whole.hash ^ ((uint64_t)config << 56) ^ 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 2; i++) {
        struct fuzz_digest split = fuzz_run(role, config, in, len, seed + (uint64_t)i * 0x632be59bd9b4e019ULL,
                                            i == 0 ? FUZZ_PIECE_SMALL : FUZZ_PIECE_LARGE);
        if (split.hash != whole.hash || split.error != whole.error || split.messages != whole.messages)
            abort();
    }
}

#endif
