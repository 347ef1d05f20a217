/* test_claims.c - the claims index stays complete and true: every claim ID
 * C1..C21 has a row in docs/CLAIMS.md and a command in tools/claims.sh, and
 * `make claims` (tools/claims.sh on this build's demos) runs every command in
 * its short configuration, each printing the lines its claim points at. */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support.h"

#define CLAIMS 21

static char output[256 * 1024];

static int run(const char *cmd)
{
    char full[PATH_MAX * 3 + 8];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(output, 1, sizeof output - 1, p);
    output[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The source tree: the suite runs in $(BUILD)/tests, a few levels below. */
static void find_root(char *root, size_t len)
{
    char path[PATH_MAX];
    ck_assert_ptr_nonnull(getcwd(root, len));
    for (int up = 0; up < 6; up++) {
        snprintf(path, sizeof path, "%s/tools/claims.sh", root);
        if (access(path, R_OK) == 0)
            return;
        char *slash = strrchr(root, '/');
        ck_assert_ptr_nonnull(slash);
        *slash = '\0';
    }
    ck_abort_msg("tools/claims.sh not found above the test's directory");
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    static char text[128 * 1024];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

START_TEST(every_claim_has_a_row_in_the_index)
{
    char root[PATH_MAX], path[PATH_MAX + 32];
    find_root(root, sizeof root);
    snprintf(path, sizeof path, "%s/docs/CLAIMS.md", root);
    const char *index = read_file(path);
    for (int id = 1; id <= CLAIMS; id++) {
        char row[32];   /* room for any int, so -Wformat-truncation stays quiet at every -O */
        snprintf(row, sizeof row, "\n| C%d | ", id);
        const char *at = strstr(index, row);
        ck_assert_msg(at != NULL, "docs/CLAIMS.md has no row for C%d", id);
        /* the row names a command (in backticks) and a verdict (in bold) */
        const char *end = strchr(at + 1, '\n');
        ck_assert_msg(memchr(at, '`', (size_t)(end - at)) != NULL, "C%d: no command", id);
        ck_assert_msg(memmem(at, (size_t)(end - at), "**", 2) != NULL, "C%d: no verdict", id);
    }
}
END_TEST

START_TEST(every_claim_command_runs_and_prints_its_figures)
{
    char root[PATH_MAX], build[PATH_MAX], cmd[PATH_MAX * 3];
    find_root(root, sizeof root);
    ck_assert_ptr_nonnull(realpath("..", build));
    snprintf(cmd, sizeof cmd, "sh '%s/tools/claims.sh' '%s'", root, build);
    int status = run(cmd);
    /* Check's messages are short: show the first complaint, not everything. */
    const char *complaint = strstr(output, "     ! ");
    ck_assert_msg(status == 0, "claims.sh exited %d: %.600s", status,
                  complaint && complaint - output > 200 ? complaint - 200 : output);
    for (int id = 1; id <= CLAIMS; id++) {
        char head[16];
        snprintf(head, sizeof head, "\nC%d ", id);
        const char *at = strstr(output, head);
        ck_assert_msg(at != NULL, "claims.sh printed nothing for C%d", id);
        ck_assert_msg(strstr(at, "\n     > ") != NULL, "C%d: no figure line", id);
    }
    ck_assert_ptr_null(strstr(output, "     ! "));
}
END_TEST

static Suite *claims_suite(void)
{
    Suite *s = suite_create("claims");
    TCase *tc = tcase_create("index");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, every_claim_has_a_row_in_the_index);
    tcase_add_test(tc, every_claim_command_runs_and_prints_its_figures);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(claims_suite)
