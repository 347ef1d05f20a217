/* fuzz_response.c - libFuzzer target for the response parser (the client
 * side): the same bytes parsed whole and in two random splittings must give
 * the same heads, body bytes, trailers and error (fuzz_http.h), and no read
 * may leave the bytes passed in (ASan).  Built by tests/fuzz/run.sh. */
#include "tests/fuzz/fuzz_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_compare(HTTP_ROLE_RESPONSE, data, size);
    return 0;
}
