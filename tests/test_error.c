/* test_error.c - one co_strerror for every layer's codes. */
#include <errno.h>
#include <string.h>

#include "net/neterr.h"
#include "tests/support.h"

START_TEST(co_strerror_names_errno_runtime_and_net_codes)
{
    ck_assert_str_eq(co_strerror(-ETIMEDOUT), "Connection timed out");
    ck_assert_str_eq(co_strerror(ETIMEDOUT), "Connection timed out");   /* sign does not matter */
    ck_assert_ptr_nonnull(strstr(co_strerror(-CO_EDEADLOCK), "deadlock"));
    ck_assert_ptr_nonnull(strstr(co_strerror(-CO_ECLOSED), "closed"));
    ck_assert_str_eq(co_strerror(-NET_ETLS_VERIFY), "TLS certificate verification failed");
    ck_assert_str_eq(net_strerror(-NET_EDNS_NOTFOUND), co_strerror(-NET_EDNS_NOTFOUND));
    ck_assert_str_eq(co_strerror(0), "success");
    ck_assert_str_eq(co_strerror(-99999), "unknown error");
}
END_TEST

static Suite *error_suite(void)
{
    Suite *s = suite_create("error");
    TCase *tc = tcase_create("error");
    tcase_add_test(tc, co_strerror_names_errno_runtime_and_net_codes);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(error_suite)
