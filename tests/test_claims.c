/* test_claims.c - the claims index stays complete and true: every claim ID
 * C1..C21 has a row in docs/CLAIMS.md (a command in backticks, a verdict in
 * bold); every command a row names (program and subcommand) is one that
 * tools/claims.sh runs for that claim in its short form, and every program
 * claims.sh runs for a claim is named in its row; and `make claims`
 * (tools/claims.sh on this build's demos) runs them all, printing the table
 * with a fresh figure for every row. */
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

/* The row of claim `id` in the index, as a copy without its newline. */
static void index_row(const char *index, int id, char *row, size_t len)
{
    char head[32];   /* room for any int, so -Wformat-truncation stays quiet at every -O */
    snprintf(head, sizeof head, "\n| C%d | ", id);
    const char *at = strstr(index, head);
    ck_assert_msg(at != NULL, "docs/CLAIMS.md has no row for C%d", id);
    at++;
    const char *end = strchr(at, '\n');
    size_t n = end ? (size_t)(end - at) : strlen(at);
    ck_assert_msg(n < len, "C%d: row too long", id);
    memcpy(row, at, n);
    row[n] = '\0';
}

/* Column `col` (0: the ID) of a table row, copied into cell. */
static void row_cell(const char *row, int col, char *cell, size_t len)
{
    const char *at = row;
    for (int i = 0; i <= col; i++) {
        at = strchr(at, '|');
        ck_assert_msg(at != NULL, "row has no column %d: %.60s", col, row);
        at++;
    }
    const char *end = strchr(at, '|');
    size_t n = end ? (size_t)(end - at) : strlen(at);
    ck_assert_uint_lt(n, len);
    memcpy(cell, at, n);
    cell[n] = '\0';
}

/* The program name and subcommand of a command line: its first word, and its
 * second when that is a word (not a flag or a number), else "". */
static void program_and_sub(const char *cmd, char *prog, char *sub, size_t len)
{
    char copy[512];
    snprintf(copy, sizeof copy, "%s", cmd);
    char *save = NULL;
    const char *w1 = strtok_r(copy, " ", &save);
    const char *w2 = strtok_r(NULL, " ", &save);
    snprintf(prog, len, "%s", w1 ? w1 : "");
    snprintf(sub, len, "%s", w2 && w2[0] >= 'a' && w2[0] <= 'z' ? w2 : "");
}

/* Whether the line `cmd` (words separated by spaces) has the word `word`. */
static int has_word(const char *cmd, const char *word)
{
    size_t n = strlen(word);
    for (const char *at = strstr(cmd, word); at; at = strstr(at + 1, word))
        if ((at == cmd || at[-1] == ' ') && (at[n] == ' ' || at[n] == '\0'))
            return 1;
    return 0;
}

START_TEST(every_claim_has_a_row_in_the_index)
{
    char root[PATH_MAX], path[PATH_MAX + 32];
    find_root(root, sizeof root);
    snprintf(path, sizeof path, "%s/docs/CLAIMS.md", root);
    const char *index = read_file(path);
    for (int id = 1; id <= CLAIMS; id++) {
        char row[4096], cell[4096];
        index_row(index, id, row, sizeof row);
        /* ID, claim, command, measured, verdict */
        row_cell(row, 2, cell, sizeof cell);
        ck_assert_msg(strchr(cell, '`') != NULL, "C%d: no command in backticks", id);
        row_cell(row, 3, cell, sizeof cell);
        ck_assert_msg(strstr(cell, "demos-claims.md") == NULL && strspn(cell, " ") < strlen(cell),
                      "C%d: no figure measured here", id);
        row_cell(row, 4, cell, sizeof cell);
        ck_assert_msg(strstr(cell, "**") != NULL, "C%d: no verdict", id);
    }
}
END_TEST

/* claims.sh --list: "ID<TAB>command" for every command it runs. */
START_TEST(every_index_command_is_run_by_claims_sh)
{
    char root[PATH_MAX], path[PATH_MAX + 32], cmd[PATH_MAX + 64];
    find_root(root, sizeof root);
    snprintf(path, sizeof path, "%s/docs/CLAIMS.md", root);
    const char *index = read_file(path);
    snprintf(cmd, sizeof cmd, "sh '%s/tools/claims.sh' --list", root);
    ck_assert_int_eq(run(cmd), 0);
    for (int id = 1; id <= CLAIMS; id++) {
        char row[4096], cell[4096], head[32];
        snprintf(head, sizeof head, "C%d\t", id);
        /* the commands claims.sh runs for this claim */
        char runs[16][512];
        int nruns = 0;
        for (const char *line = output; *line;) {
            const char *end = strchr(line, '\n');
            size_t n = end ? (size_t)(end - line) : strlen(line);
            if (strncmp(line, head, strlen(head)) == 0 && nruns < 16) {
                size_t skip = strlen(head), len = n - skip;
                ck_assert_uint_lt(len, sizeof runs[0]);
                memcpy(runs[nruns], line + skip, len);
                runs[nruns++][len] = '\0';
            }
            line += n + (end != NULL);
        }
        ck_assert_msg(nruns > 0, "tools/claims.sh runs nothing for C%d", id);

        /* every command the row names (in backticks) is among them */
        index_row(index, id, row, sizeof row);
        row_cell(row, 2, cell, sizeof cell);
        for (char *open = strchr(cell, '`'); open; open = strchr(open, '`')) {
            char *close = strchr(open + 1, '`');
            ck_assert_msg(close != NULL, "C%d: unbalanced backticks", id);
            *close = '\0';
            char prog[128], sub[128];
            program_and_sub(open + 1, prog, sub, sizeof prog);
            int found = 0;
            for (int r = 0; r < nruns && !found; r++) {
                char rprog[128], rsub[128];
                program_and_sub(runs[r], rprog, rsub, sizeof rprog);
                found = strcmp(prog, rprog) == 0 && (!sub[0] || has_word(runs[r], sub));
            }
            ck_assert_msg(found, "C%d: the index names `%s`, but tools/claims.sh does not run %s%s%s for it",
                          id, open + 1, prog, sub[0] ? " " : "", sub);
            open = close + 1;
        }
        /* and every program claims.sh runs for it is named in the row */
        row_cell(row, 2, cell, sizeof cell);
        for (int r = 0; r < nruns; r++) {
            char rprog[128], rsub[128], named[160];
            program_and_sub(runs[r], rprog, rsub, sizeof rprog);
            snprintf(named, sizeof named, "`%s", rprog);
            ck_assert_msg(strstr(cell, named) != NULL,
                          "C%d: tools/claims.sh runs %s, which the index row does not name", id, rprog);
        }
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
    const char *complaint = strstr(output, "\n! ");
    ck_assert_msg(status == 0, "claims.sh exited %d: %.600s", status,
                  complaint ? complaint + 1 : output);
    for (int id = 1; id <= CLAIMS; id++) {
        char head[32];
        snprintf(head, sizeof head, "\n| C%d ", id);
        const char *at = strstr(output, head);
        ck_assert_msg(at != NULL, "claims.sh's table has no row for C%d", id);
        ck_assert_msg(strstr(at + 1, head) == NULL, "claims.sh's table has two rows for C%d", id);
        const char *end = strchr(at + 1, '\n');
        ck_assert_ptr_nonnull(end);
        /* ID, claim, command, figures, verdict: five cells, none empty */
        int bars = 0;
        for (const char *c = at + 1; c < end; c++)
            bars += *c == '|';
        ck_assert_msg(bars == 6, "C%d: the row has %d cells: %.*s", id, bars - 1,
                      (int)(end - at - 1), at + 1);
        ck_assert_msg(memmem(at, (size_t)(end - at), "MISSING", 7) == NULL &&
                      memmem(at, (size_t)(end - at), "FAILED", 6) == NULL,
                      "C%d: %.*s", id, (int)(end - at - 1), at + 1);
        ck_assert_msg(memmem(at, (size_t)(end - at), "|  ", 3) == NULL,
                      "C%d: an empty cell: %.*s", id, (int)(end - at - 1), at + 1);
    }
    ck_assert_ptr_null(complaint);
}
END_TEST

static Suite *claims_suite(void)
{
    Suite *s = suite_create("claims");
    TCase *tc = tcase_create("index");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, every_claim_has_a_row_in_the_index);
    tcase_add_test(tc, every_index_command_is_run_by_claims_sh);
    tcase_add_test(tc, every_claim_command_runs_and_prints_its_figures);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(claims_suite)
