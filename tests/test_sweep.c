/* test_sweep.c - demos/sweep (claim C4) in its quick configuration: the table
 * has a row per N and a column per concurrency level, every cell is near its
 * ideal ceil(N/C) x delay and never below it, unlimited concurrency beats
 * C=5 by far, a server limit makes concurrency past it buy nothing, failures
 * are shown, and the SVG chart is well-formed XML (checked by the small
 * checker below, itself tested on broken documents).
 *
 * The suite runs from $(BUILD)/tests, next to $(BUILD)/demos.  The chart goes
 * to a temporary directory that every test removes. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support.h"

#define DEMO "../demos/sweep "

static char output[65536];
static char dir[64];        /* the temporary directory of the running test */
static char svg_path[128];  /* DIR/sweep.svg */

static void make_dir(void)
{
    strcpy(dir, "/tmp/coloop-sweep-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(svg_path, sizeof svg_path, "%s/sweep.svg", dir);
}

static void remove_dir(void)
{
    unlink(svg_path);
    ck_assert_int_eq(rmdir(dir), 0);
}

/* Run the demo with `args` and --svg DIR/sweep.svg; keep stdout+stderr in
 * `output`; return its exit status. */
static int run(const char *args)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, DEMO "%s --svg %s 2>&1", args, svg_path);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(output, 1, sizeof output - 1, p);
    output[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The explanation's bullet points are wrapped: `output` with each
 * continuation line ("\n  ") joined back to its point, for phrase checks. */
static const char *unwrapped(void)
{
    static char text[sizeof output];
    size_t n = 0;
    for (const char *p = output; *p; p++) {
        if (p[0] == '\n' && p[1] == ' ' && p[2] == ' ' && p[3] != ' ') {
            text[n++] = ' ';
            p += 2;
        } else {
            text[n++] = *p;
        }
    }
    text[n] = '\0';
    return text;
}

/* --- the table --------------------------------------------------------------- */

#define MAX 8

struct table {
    int rows, cols;
    int n[MAX];                 /* each row's N */
    char col[MAX][16];          /* "C=5", ..., "unlimited" */
    double wall[MAX][MAX], ideal[MAX][MAX];
    char mark[MAX][MAX];        /* ' ', '!' (failures) or '^' (capped) */
};

static void parse_header(const char *text, struct table *t)
{
    char line[512];
    snprintf(line, sizeof line, "%.*s", (int)strcspn(text, "\n"), text);
    const char *p = strchr(line, '|');
    t->cols = 0;
    while (p && p[1] && t->cols < MAX) {
        const char *end = strchr(p + 1, '|');
        if (!end)
            break;
        const char *s = p + 1;
        while (*s == ' ')
            s++;
        const char *e = end;
        while (e > s && e[-1] == ' ')
            e--;
        snprintf(t->col[t->cols++], sizeof t->col[0], "%.*s", (int)(e - s), s);
        p = end;
    }
}

static bool parse_row(const char *line, struct table *t)
{
    char *end;
    long n = strtol(line, &end, 10);
    if (end == line || strncmp(end, " |", 2) != 0 || t->rows == MAX)
        return false;
    int r = t->rows++, k = 0;
    t->n[r] = (int)n;
    for (const char *p = end + 2; *p && k < MAX; k++) {
        ck_assert_int_eq(sscanf(p, " %lf s (%lf)%c", &t->wall[r][k], &t->ideal[r][k],
                                &t->mark[r][k]), 3);
        p = strchr(p, '|');
        ck_assert_ptr_nonnull(p);
        p++;
        if (*p == '\n' || *p == '\0')
            break;
    }
    ck_assert_int_eq(k + 1, t->cols);
    return true;
}

/* The table in `output`: the header line "N | C=... |", then a line per N. */
static void parse_table(struct table *t)
{
    memset(t, 0, sizeof *t);
    const char *line = strstr(output, "       N |");
    ck_assert_msg(line != NULL, "no table header in:\n%s", output);
    parse_header(line, t);
    for (line = strchr(line, '\n'); line; line = strchr(line + 1, '\n'))
        if (line[1] == ' ' && isdigit((unsigned char)line[1 + strspn(line + 1, " ")]))
            parse_row(line + 1, t);
}

static int column(const struct table *t, const char *name)
{
    for (int k = 0; k < t->cols; k++)
        if (strcmp(t->col[k], name) == 0)
            return k;
    ck_abort_msg("no column %s", name);
    return -1;
}

/* --- a small XML well-formedness checker ------------------------------------------ */

/* After '&': one of the five predefined entities or a character reference.
 * Returns the position after the ';', or NULL. */
static const char *xml_entity(const char *p)
{
    static const char *const named[] = { "amp;", "lt;", "gt;", "quot;", "apos;" };
    p++;
    for (size_t i = 0; i < 5; i++)
        if (strncmp(p, named[i], strlen(named[i])) == 0)
            return p + strlen(named[i]);
    if (*p++ != '#')
        return NULL;
    bool hex = *p == 'x';
    p += hex;
    const char *digits = p;
    while (hex ? isxdigit((unsigned char)*p) : isdigit((unsigned char)*p))
        p++;
    return p > digits && *p == ';' ? p + 1 : NULL;
}

static const char *xml_name(const char *p, char *out, size_t len)
{
    size_t n = 0;
    if (!isalpha((unsigned char)*p) && *p != '_')
        return NULL;
    while (isalnum((unsigned char)*p) || strchr("-_:.", *p)) {
        if (n + 1 < len)
            out[n++] = *p;
        p++;
    }
    out[n] = '\0';
    return p;
}

/* Attributes up to '>' or '/>': each preceded by space, NAME="value" or
 * NAME='value', the value without '<' and with valid entities.  Returns the
 * position after the tag, *empty set for '/>', or NULL. */
static const char *xml_attributes(const char *p, bool *empty)
{
    for (;;) {
        const char *before = p;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '>' || (p[0] == '/' && p[1] == '>')) {
            *empty = *p == '/';
            return p + (*empty ? 2 : 1);
        }
        char name[64];
        if (p == before || !(p = xml_name(p, name, sizeof name)) || *p++ != '=')
            return NULL;
        char quote = *p++;
        if (quote != '"' && quote != '\'')
            return NULL;
        while (*p != quote) {
            if (*p == '\0' || *p == '<')
                return NULL;
            p = *p == '&' ? xml_entity(p) : p + 1;
            if (!p)
                return NULL;
        }
        p++;
    }
}

/* NULL if `doc` is well-formed with a single root element <svg>, else why. */
static const char *xml_check(const char *doc)
{
    char stack[32][64];
    int depth = 0, roots = 0;
    const char *p = doc + strspn(doc, " \t\r\n");
    if (strncmp(p, "<?xml", 5) == 0) {
        if (!(p = strstr(p, "?>")))
            return "unterminated XML declaration";
        p += 2;
    }
    while (*p) {
        if (*p != '<') {
            if (depth == 0 && !isspace((unsigned char)*p))
                return "text outside the root element";
            p = *p == '&' ? xml_entity(p) : p + 1;
            if (!p)
                return "a bare & or an unknown entity";
            continue;
        }
        if (strncmp(p, "<!--", 4) == 0) {
            if (!(p = strstr(p + 4, "-->")))
                return "unterminated comment";
            p += 3;
            continue;
        }
        char name[64];
        if (p[1] == '/') {
            if (!(p = xml_name(p + 2, name, sizeof name)) || depth == 0 ||
                strcmp(name, stack[depth - 1]) != 0)
                return "an end tag that does not match its start tag";
            p += strspn(p, " \t\r\n");
            if (*p++ != '>')
                return "a malformed end tag";
            depth--;
            continue;
        }
        if (!(p = xml_name(p + 1, name, sizeof name)))
            return "a malformed start tag";
        if (depth == 0 && (roots++ > 0 || strcmp(name, "svg") != 0))
            return "a root element other than a single <svg>";
        bool empty;
        if (!(p = xml_attributes(p, &empty)))
            return "a malformed attribute (unquoted, no '=', '<' or a bad entity in the value)";
        if (!empty) {
            if (depth == 32)
                return "nested too deep";
            snprintf(stack[depth++], sizeof stack[0], "%s", name);
        }
    }
    if (depth)
        return "an element left open";
    return roots == 1 ? NULL : "no root element";
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "%s was not written", path);
    static char text[262144];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

static int count(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, what)); p++)
        n++;
    return n;
}

/* --- the tests -------------------------------------------------------------------------- */

START_TEST(xml_checker_accepts_good_and_rejects_broken_documents)
{
    ck_assert_ptr_null(xml_check("<?xml version=\"1.0\"?>\n<svg a=\"1\" b='x &amp; &#215; &#x41;'>"
                                 "<g><text>a &lt; b</text><line x='1'/></g><!-- c --></svg>\n"));
    const char *bad[] = {
        "<svg><g></svg>",                   /* unbalanced */
        "<svg><g></h></svg>",               /* mismatched */
        "<svg a=1></svg>",                  /* unquoted attribute */
        "<svg a=\"x<y\"></svg>",            /* '<' in a value */
        "<svg><text>R&D</text></svg>",      /* bare & */
        "<svg><text>&nbsp;</text></svg>",   /* not one of the five */
        "<svg a=\"1\"b=\"2\"></svg>",       /* no space between attributes */
        "<svg></svg><svg></svg>",           /* two roots */
        "<html></html>",                    /* not svg */
        "<svg>",                            /* left open */
        "text<svg></svg>",                  /* text outside */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(xml_check(bad[i]) != NULL, "accepted: %s", bad[i]);
}
END_TEST

START_TEST(quick_sweep_prints_every_cell_near_its_ideal_and_a_valid_svg)
{
    make_dir();
    ck_assert_msg(run("--quick") == 0, "%s", output);
    struct table t;
    parse_table(&t);
    ck_assert_int_eq(t.rows, 2);
    ck_assert_int_eq(t.n[0], 20);
    ck_assert_int_eq(t.n[1], 100);
    ck_assert_int_eq(t.cols, 3);
    int c5 = column(&t, "C=5"), c20 = column(&t, "C=20"), all = column(&t, "unlimited");
    for (int r = 0; r < t.rows; r++)
        for (int k = 0; k < t.cols; k++) {
            ck_assert_int_ne(t.mark[r][k], '!');
            /* the waiting cannot be skipped; and 20 ms waves leave room for
             * sanitizer builds, but not for running the requests one by one */
            ck_assert_double_ge(t.wall[r][k], 0.95 * t.ideal[r][k]);
            ck_assert_double_lt(t.wall[r][k], t.ideal[r][k] + 0.5);
        }
    ck_assert_double_eq_tol(t.ideal[1][c5], 0.400, 1e-9);    /* ceil(100/5) x 20 ms */
    ck_assert_double_eq_tol(t.ideal[1][c20], 0.100, 1e-9);
    ck_assert_double_eq_tol(t.ideal[1][all], 0.020, 1e-9);
    ck_assert_double_lt(t.wall[1][all], t.wall[1][c5] / 2);  /* 20x in theory; ASan slows setup */
    ck_assert_double_lt(t.wall[1][c20], t.wall[1][c5] / 2);  /* 4x in theory */
    ck_assert_ptr_nonnull(strstr(output, "What the numbers show:"));
    ck_assert_ptr_nonnull(strstr(unwrapped(), "- N=100: 5 -> 20 in flight"));
    ck_assert_ptr_nonnull(strstr(output, "Chart written to "));

    const char *svg = read_file(svg_path);
    const char *why = xml_check(svg);
    ck_assert_msg(why == NULL, "the SVG is not well-formed: %s", why);
    ck_assert_int_eq(count(svg, "<polyline"), 2 * 2);        /* measured + ideal per N */
    ck_assert_int_eq(count(svg, "<circle"), 2 * 3 + 2);      /* a marker per cell + legend */
    ck_assert_ptr_nonnull(strstr(svg, "N = 100"));
    ck_assert_ptr_nonnull(strstr(svg, ">unlimited</text>"));
    remove_dir();
}
END_TEST

START_TEST(server_limit_makes_concurrency_past_it_buy_nothing)
{
    make_dir();
    ck_assert_msg(run("--quick --server-limit 20") == 0, "%s", output);
    struct table t;
    parse_table(&t);
    ck_assert_int_eq(t.rows, 2);
    int c20 = column(&t, "C=20"), all = column(&t, "unlimited");
    /* N=100 with 100 in flight, but the target serves 20 at a time: 5 waves
     * of 20 ms, like C=20, instead of the one wave unlimited gets without it */
    ck_assert_double_ge(t.wall[1][all], 0.9 * 0.100);
    ck_assert_double_ge(t.wall[1][all], 0.8 * t.wall[1][c20]);
    ck_assert_ptr_nonnull(strstr(unwrapped(), "returns diminished past 20 in flight, because the "
                                              "target serves 20 at a time"));
    ck_assert_ptr_nonnull(strstr(unwrapped(), "- Server limit 20: 1 of the 1 cells"));
    const char *why = xml_check(read_file(svg_path));
    ck_assert_msg(why == NULL, "the SVG is not well-formed: %s", why);
    ck_assert_ptr_nonnull(strstr(read_file(svg_path), "server limit: 20 at once"));
    remove_dir();
}
END_TEST

START_TEST(json_has_one_object_per_cell)
{
    make_dir();
    ck_assert_msg(run("--quick --json -c 0") == 0, "%s", output);
    ck_assert_ptr_nonnull(strstr(output, "{\"claim\":\"C4\""));
    ck_assert_int_eq(count(output, "{\"n\":"), 2);
    ck_assert_int_eq(count(output, "\"failed\":0,"), 2);
    ck_assert_ptr_nonnull(strstr(output, "{\"n\":100,\"c\":0,\"in_flight\":100,"));
    ck_assert_ptr_null(strstr(output, "What the numbers show"));  /* JSON instead of the table */
    remove_dir();
}
END_TEST

/* A port where nothing listens: bound (so nobody else takes it), not listening. */
static int closed_port(int *fd)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    *fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(*fd, 0);
    ck_assert_int_eq(bind(*fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(*fd, (struct sockaddr *)&a, &len), 0);
    return ntohs(a.sin_port);
}

START_TEST(failed_requests_are_counted_and_shown)
{
    make_dir();
    int fd;
    char args[128];
    snprintf(args, sizeof args, "--url http://127.0.0.1:%d -n 3 -c 0 --delay-ms 1",
             closed_port(&fd));
    ck_assert_int_eq(run(args), 1);
    close(fd);
    struct table t;
    parse_table(&t);
    ck_assert_int_eq(t.mark[0][0], '!');
    ck_assert_ptr_nonnull(strstr(output, "! N=3, unlimited: 3 of 3 requests FAILED (first: "));
    ck_assert_ptr_nonnull(strstr(output, "refused"));
    ck_assert_ptr_null(xml_check(read_file(svg_path)));
    remove_dir();
}
END_TEST

START_TEST(bad_options_are_refused_with_the_usage)
{
    make_dir();
    ck_assert_int_eq(run("--bogus"), 2);
    ck_assert_ptr_nonnull(strstr(output, "usage: sweep"));
    ck_assert_int_eq(run("-n 0"), 2);
    ck_assert_int_eq(run("--url ftp://example.org"), 2);
    ck_assert_int_eq(run("--url http://127.0.0.1:1 --server-limit 5"), 2);
    ck_assert_int_eq(run("--help"), 0);
    ck_assert_ptr_nonnull(strstr(output, "--server-limit K"));
    ck_assert_int_eq(access(svg_path, F_OK), -1);   /* nothing ran, nothing written */
    remove_dir();
}
END_TEST

static Suite *sweep_suite(void)
{
    Suite *s = suite_create("sweep");
    TCase *tc = tcase_create("sweep");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, xml_checker_accepts_good_and_rejects_broken_documents);
    tcase_add_test(tc, quick_sweep_prints_every_cell_near_its_ideal_and_a_valid_svg);
    tcase_add_test(tc, server_limit_makes_concurrency_past_it_buy_nothing);
    tcase_add_test(tc, json_has_one_object_per_cell);
    tcase_add_test(tc, failed_requests_are_counted_and_shown);
    tcase_add_test(tc, bad_options_are_refused_with_the_usage);
    suite_add_tcase(s, tc);
    return s;
}

COLOOP_TEST_SUITE(sweep_suite)
