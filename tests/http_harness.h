/* http_harness.h - how the parser suites feed a message (RELIABILITY.md
 * H7.1-H7.3): every vector is parsed whole, byte by byte, split at every
 * position (the long generated limit tests, above HARNESS_SPLIT_ALL_MAX
 * bytes, use a stride), split at every pair of positions (inputs up to
 * HARNESS_PAIR_MAX bytes), and pipelined three times back to back; every
 * way must give the same outcome, and that outcome must be the one the
 * vector expects.  Each call sees its bytes copied to the very end of a page
 * followed by a PROT_NONE page, so a one-byte over-read faults even
 * without ASan (and the buffer moves between calls, as a real one may).
 *
 * The outcome is a short text, one entry per message, " | " between them:
 *   response  "200 L5 ka [hello]"       status, framing, keep-alive, body
 *   request   "POST /x C ka [abc] {t=v}" method target, ..., trailers
 *   framing   N none, L<n> length, C chunked, X until close
 *   extras    "1.0" after the start line for HTTP/1.0, "te" for other codings
 *   error     "!CL_AND_TE" (the code's name without HTTP_E_); an error inside
 *             a body comes after the data delivered before it:
 *             "200 C ka [hello] | !BAD_CHUNK_END"
 */
#ifndef COLOOP_TESTS_HTTP_HARNESS_H
#define COLOOP_TESTS_HTTP_HARNESS_H

#include <stddef.h>

#include "http/parse.h"

#define HARNESS_PAIR_MAX 160        /* longest input split at every pair of positions */
#define HARNESS_SPLIT_ALL_MAX 4096  /* longest input split at every position (longer: a stride) */

enum h_role {
    H_RESP,         /* response to GET */
    H_RESP_HEAD,    /* response to HEAD */
    H_RESP_CONNECT, /* response to CONNECT */
    H_REQ           /* request */
};

/* One vector: a name saying which rule it tests, the bytes, the outcome. */
struct h_case {
    const char *name;
    enum h_role role;
    const char *in;
    size_t len;
    const char *want;
};

/* One line per vector; the length comes from the literal, so NULs count. */
#define H_CASE(name, role, literal, want) { name, role, literal, sizeof(literal) - 1, want }

/* Parser configuration for a run; NULL fields mean the defaults
 * (default limits, HTTP_FIELDS_DEFAULT fields, trailers kept). */
struct h_config {
    const struct http_limits *limits;
    size_t fields_cap;
};

/* data[0..len) copied to end right before an unreadable page. */
const char *h_guard_copy(const char *data, size_t len);

/* Parse in[0..len) arriving in pieces that end at splits[0..n) (the last
 * must be len), and return the outcome (static storage, overwritten by the
 * next call). */
const char *h_run(const struct h_config *cfg, enum h_role role, const char *in, size_t len,
                  const size_t *splits, size_t nsplits);

/* Check one vector in every mode (Check assertions). */
void h_check_case(const struct h_config *cfg, const struct h_case *c);

/* The short name of an http error code ("CL_AND_TE"), or "?". */
const char *h_error_name(int code);

#endif
