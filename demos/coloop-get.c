/* coloop-get.c - HTTP requests from the command line, curl-style, on
 * coloop's HTTP client (http/client.h): the client's errors, limits,
 * timeouts, timings and keep-alive pool, seen from a shell.
 *
 *     build/demos/coloop-get [options] URL...
 *
 * Every URL is fetched in order by ONE client, so URLs on the same origin
 * share a kept-alive connection (--json shows "reused").  Bodies go to
 * stdout, or to -o FILE / -O (the URL's file name), the n-th -o/-O going
 * with the n-th URL.  Every failure prints one line on stderr: the kind, the
 * client's own words for the code (co_strerror) and its detail, verbatim;
 * each kind has its own exit code (--help lists them, docs/coloop-get.md
 * explains them).  The exit status is the first failure's, 0 if none.
 *
 * How it is built, and why:
 *   - One task does everything: co_run() runs await_fetch_all() on a fresh
 *     loop.  Even so, output that can block (stdout into a pipe whose reader
 *     is slow) is written on the worker pool, not on the loop's thread: a
 *     loop stopped in write(2) stops its clock, and the client's next read
 *     timeout would fire at once (struct sink says more).
 *   - The client follows no redirects itself (max_redirects = -1): -L is
 *     done here, hop by hop, with the client's own rules (follow_redirect),
 *     because -i, -D and -v show every response head, and the client's
 *     redirect loop would hide the intermediate ones.
 *   - The body is streamed through a callback (on_body), so a large download
 *     never sits in memory; --max-filesize becomes the request's body cap,
 *     which the parser enforces whether or not the size was announced.
 *
 *   - Interim 1xx heads (100 Continue, 103 Early Hints) come from the
 *     request's on_interim callback, as the client reads past them: -D
 *     writes them, and -v shows them, in order before the final head, as
 *     curl does.  -i and -I show the final head only.
 *   - -v's connection lines (the address used, TLS version, ALPN) come from
 *     the response's peer, tls_version and tls_alpn, which the client fills
 *     for new and reused connections alike: no second DNS lookup here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "coloop.h"

/* ---- exit codes: one per kind of failure ---- */

/* Numbered like curl's where curl has the same kind, so scripts that know
 * curl's codes read these right. */
enum exit_code {
    EXIT_OK = 0,
    EXIT_OTHER = 1,         /* anything else (out of memory, ...) */
    EXIT_USAGE = 2,         /* bad command line */
    EXIT_REQUEST = 3,       /* refused before sending: bad URL, CR/LF in -H or -X */
    EXIT_DNS = 6,           /* the host name did not resolve */
    EXIT_CONNECT = 7,       /* TCP connect failed (refused, unreachable) */
    EXIT_PROTOCOL = 8,      /* the response broke an HTTP/1.1 rule */
    EXIT_HTTP = 22,         /* --fail and the status was >= 400 */
    EXIT_WRITE = 23,        /* the body could not be written out */
    EXIT_READ = 26,         /* the --data-binary @FILE could not be read */
    EXIT_TIMEOUT = 28,      /* a timeout fired: connect, read, write or total */
    EXIT_TLS = 35,          /* TLS handshake or protocol failure */
    EXIT_REDIRECT = 47,     /* too many redirects, or an unusable Location */
    EXIT_CLOSED = 56,       /* the connection closed or broke mid-response */
    EXIT_CERTIFICATE = 60,  /* the server's certificate was refused */
    EXIT_TOO_LARGE = 63,    /* the body (--max-filesize) or head exceeded its limit */
    EXIT_CACERT = 77,       /* --cacert could not be loaded */
};

struct kind {
    int exit;               /* the exit code */
    const char *name;       /* what the error line starts with */
    const char *meaning;    /* for --help */
};

static const struct kind kinds[] = {
    { EXIT_OTHER, "error", "any other failure (out of memory, ...)" },
    { EXIT_USAGE, "usage", "bad command line" },
    { EXIT_REQUEST, "request", "request refused before sending: bad URL, CR/LF in -H or -X" },
    { EXIT_DNS, "dns", "the host name did not resolve" },
    { EXIT_CONNECT, "connect", "TCP connect failed (refused, unreachable)" },
    { EXIT_PROTOCOL, "protocol", "the response broke an HTTP/1.1 rule (the rule is named)" },
    { EXIT_HTTP, "http", "--fail, and the status was 400 or more" },
    { EXIT_WRITE, "write", "the output could not be written" },
    { EXIT_READ, "read", "the --data-binary @FILE could not be read" },
    { EXIT_TIMEOUT, "timeout", "a timeout fired (connect, read, write or total: named)" },
    { EXIT_TLS, "tls", "TLS handshake or protocol failure" },
    { EXIT_REDIRECT, "redirect", "too many redirects, or a Location that is not a URL" },
    { EXIT_CLOSED, "closed", "the server closed or reset the connection mid-response" },
    { EXIT_CERTIFICATE, "certificate", "the server's certificate was refused (reason named)" },
    { EXIT_TOO_LARGE, "too large", "the body (--max-filesize) or the head is over its limit" },
    { EXIT_CACERT, "cacert", "the --cacert file could not be loaded" },
};

static const char *kind_name(int exit_code)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kinds[i].exit == exit_code)
            return kinds[i].name;
    return "error";
}

/* Which kind a code the client returned is.  Never suspends.  Timeouts
 * come first: -ETIMEDOUT would otherwise look like a connect error. */
static int classify(int rc)
{
    int c = -rc;
    if (http_error_is_timeout(rc))
        return EXIT_TIMEOUT;
    switch (c) {
    case NET_EDNS_NOTFOUND: case NET_EDNS_TEMP: case NET_EDNS_FAIL:
        return EXIT_DNS;
    case ECONNREFUSED: case EHOSTUNREACH: case ENETUNREACH: case EHOSTDOWN: case ENETDOWN:
    case EADDRNOTAVAIL: case EACCES: case EPERM:
        return EXIT_CONNECT;
    case NET_ETLS_VERIFY:
        return EXIT_CERTIFICATE;
    case NET_ETLS: case NET_ETLS_ALPN:
        return EXIT_TLS;
    case NET_ETLS_CONFIG:
        return EXIT_CACERT;
    case HTTP_E_CLOSED: case HTTP_E_INCOMPLETE: case NET_ETLS_TRUNCATED: case NET_EEOF:
    case ECONNRESET: case EPIPE: case ECONNABORTED:
        return EXIT_CLOSED;
    case HTTP_E_BODY_TOO_LARGE: case HTTP_E_HEADER_TOO_LARGE: case HTTP_E_TOO_MANY_HEADERS:
    case HTTP_E_LINE_TOO_LONG:
        return EXIT_TOO_LARGE;
    case HTTP_E_TOO_MANY_REDIRECTS: case HTTP_E_BAD_REDIRECT:
        return EXIT_REDIRECT;
    case HTTP_E_REQUEST_INVALID: case EINVAL:
        return EXIT_REQUEST;
    }
    if (c >= HTTP_E_URL_TOO_LONG && c <= HTTP_E_URL_CHAR)
        return EXIT_REQUEST;
    if (c > HTTP_ERR_BASE && c < HTTP_ERR_END)      /* every other parser rule */
        return EXIT_PROTOCOL;
    return EXIT_OTHER;
}

/* ---- the command line ---- */

/* Where the n-th URL's body goes. */
struct output {
    const char *path;           /* -o FILE ("-": stdout), or NULL for -O */
};

struct options {
    const char *method;         /* -X, or NULL: GET, HEAD (-I) or POST (-d) */
    struct http_header *headers; /* -H, in order; names and values point into argv */
    size_t header_count;
    char *data;                 /* -d / --data-binary, joined with '&' (malloc'd) */
    size_t data_len;
    bool has_data;
    bool head;                  /* -I: HEAD, and print the heads */
    bool include;               /* -i: print each head before its body */
    const char *dump_path;      /* -D FILE ("-": stdout) */
    bool follow;                /* -L */
    int max_redirs;             /* --max-redirs (default 10, as the client's) */
    int64_t connect_ms;         /* --connect-timeout; 0: the client's default */
    int64_t max_time_ms;        /* -m: each URL, redirects included; 0: none */
    int64_t read_ms;            /* --read-timeout; 0: the client's default */
    uint64_t max_filesize;      /* --max-filesize; 0: none (a streamed body has no cap) */
    const char *cacert;         /* --cacert FILE */
    bool insecure;              /* -k */
    bool verbose;               /* -v */
    bool json;                  /* --json (or --json-out) */
    const char *json_path;      /* --json-out FILE */
    bool fail;                  /* --fail */
    bool silent;                /* -s: no error line (the exit code still tells) */
    const char **urls;          /* the URLs, in order */
    size_t url_count;
    struct output *outputs;     /* outputs[i] for urls[i], i < output_count */
    size_t output_count;
};

static void usage_hint(void)
{
    fprintf(stderr, "coloop-get: try 'coloop-get --help'\n");
}

static void help(void)
{
    printf("usage: coloop-get [options] URL...\n"
           "Fetch each URL in order over one HTTP client (keep-alive connections are reused\n"
           "between URLs of the same origin) and write each body to stdout.\n\n"
           "  -X, --request METHOD      the method (default GET; POST with -d)\n"
           "  -H, --header 'Name: value'  an extra header field (repeatable; CR/LF refused)\n"
           "  -d, --data DATA           a request body (repeatable: joined with '&'); @FILE reads FILE\n"
           "      --data-binary DATA    the same (@FILE: the file's bytes, as they are)\n"
           "  -I, --head                HEAD, and print the response heads\n"
           "  -i, --include             print the status line and header fields before the body,\n"
           "                            and the trailer fields after it\n"
           "  -D, --dump-header FILE    write every response head, 1xx included (and trailers),\n"
           "                            to FILE ('-': stdout)\n"
           "  -L, --location            follow redirects\n"
           "      --max-redirs N        at most N redirects with -L (default 10)\n"
           "      --connect-timeout S   DNS + TCP connect + TLS handshake, seconds (default 10)\n"
           "  -m, --max-time S          each URL as a whole, redirects included (default: none)\n"
           "      --read-timeout S      the longest silence from the server (default 30)\n"
           "      --max-filesize BYTES  the body cap, announced or not (default: none)\n"
           "      --cacert FILE         trust the CAs in FILE (PEM) instead of the system store\n"
           "  -k, --insecure            do NOT verify certificates (tests only)\n"
           "  -o, --output FILE         the next URL's body to FILE ('-': stdout)\n"
           "  -O, --remote-name         the next URL's body to a file named as the URL's last segment\n"
           "  -v, --verbose             connection (address, times, TLS version, ALPN), request\n"
           "                            and response heads on stderr\n"
           "      --json                one JSON line per URL on stderr: status, bytes, timings, reuse\n"
           "      --json-out FILE       ... into FILE instead\n"
           "      --fail                exit 22 when the status is 400 or more (no body written)\n"
           "  -s, --silent              no error line on stderr (the exit code still tells)\n"
           "  -h, --help                this text\n\n"
           "Exit codes (the first failing URL's):\n"
           "   0  every URL got a complete response\n");
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        printf("  %2d  %-12s %s\n", kinds[i].exit, kinds[i].name, kinds[i].meaning);
}

/* Seconds ("0.25") to milliseconds, rounded up; -1 if not a positive number. */
static int64_t parse_seconds(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v > 0) || v > 1e6)
        return -1;
    return (int64_t)ceil(v * 1000);
}

/* A decimal count; false if it is not one. */
static bool parse_count(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-')
        return false;
    *out = v;
    return true;
}

/* -H 'Name: value': split at the first colon, drop the spaces after it.
 * The bytes are not checked here: the client refuses a name that is not a
 * token and a value with CR, LF or another control byte (HTTP_E_REQUEST_
 * INVALID, nothing sent), and that refusal is what the user should see. */
static bool add_header(struct options *o, const char *arg)
{
    const char *colon = strchr(arg, ':');
    if (!colon || colon == arg)
        return false;
    const char *value = colon + 1;
    while (*value == ' ' || *value == '\t')
        value++;
    o->headers[o->header_count++] = (struct http_header){ arg, (size_t)(colon - arg), value,
                                                          strlen(value) };
    return true;
}

/* The whole of a file, read before the loop starts (so plain blocking reads
 * are fine).  0, or -errno. */
static int read_file(const char *path, char **out, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return -errno;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if (n == cap) {
            char *b = realloc(buf, cap = cap ? 2 * cap : 65536);
            if (!b) {
                rc = -ENOMEM;
                break;
            }
            buf = b;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                rc = -EIO;
            break;
        }
    }
    if (f != stdin)
        fclose(f);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* -d / --data-binary: DATA, or @FILE; several are joined with '&', as a
 * form's fields are.  0, or an exit code (the message printed). */
static int add_data(struct options *o, const char *arg)
{
    char *piece = (char *)arg;
    size_t len = strlen(arg);
    if (arg[0] == '@') {
        int rc = read_file(arg + 1, &piece, &len);
        if (rc < 0) {
            fprintf(stderr, "coloop-get: read: %s: %s\n", arg + 1, strerror(-rc));
            return EXIT_READ;
        }
    }
    char *joined = realloc(o->data, o->data_len + 1 + len + 1);
    if (joined) {
        if (o->has_data)
            joined[o->data_len++] = '&';
        if (len)
            memcpy(joined + o->data_len, piece, len);
        o->data = joined;
        o->data_len += len;
        o->data[o->data_len] = '\0';
        o->has_data = true;
    }
    if (piece != arg)
        free(piece);
    if (!joined)
        fprintf(stderr, "coloop-get: error: %s\n", strerror(ENOMEM));
    return joined ? 0 : EXIT_OTHER;
}

enum long_only {
    OPT_DATA_BINARY = 256, OPT_MAX_REDIRS, OPT_CONNECT_TIMEOUT, OPT_READ_TIMEOUT,
    OPT_MAX_FILESIZE, OPT_CACERT, OPT_JSON, OPT_JSON_OUT, OPT_FAIL
};

static const struct option long_options[] = {
    { "request", required_argument, NULL, 'X' },
    { "header", required_argument, NULL, 'H' },
    { "data", required_argument, NULL, 'd' },
    { "data-binary", required_argument, NULL, OPT_DATA_BINARY },
    { "head", no_argument, NULL, 'I' },
    { "include", no_argument, NULL, 'i' },
    { "dump-header", required_argument, NULL, 'D' },
    { "location", no_argument, NULL, 'L' },
    { "max-redirs", required_argument, NULL, OPT_MAX_REDIRS },
    { "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
    { "max-time", required_argument, NULL, 'm' },
    { "read-timeout", required_argument, NULL, OPT_READ_TIMEOUT },
    { "max-filesize", required_argument, NULL, OPT_MAX_FILESIZE },
    { "cacert", required_argument, NULL, OPT_CACERT },
    { "insecure", no_argument, NULL, 'k' },
    { "output", required_argument, NULL, 'o' },
    { "remote-name", no_argument, NULL, 'O' },
    { "verbose", no_argument, NULL, 'v' },
    { "json", no_argument, NULL, OPT_JSON },
    { "json-out", required_argument, NULL, OPT_JSON_OUT },
    { "fail", no_argument, NULL, OPT_FAIL },
    { "silent", no_argument, NULL, 's' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

/* One option.  0, or an exit code (the message printed). */
static int take_option(struct options *o, int opt, const char *arg)
{
    uint64_t n;
    int64_t ms;
    switch (opt) {
    case 'X': o->method = arg; return 0;
    case 'd': case OPT_DATA_BINARY: return add_data(o, arg);
    case 'I': o->head = true; return 0;
    case 'i': o->include = true; return 0;
    case 'D': o->dump_path = arg; return 0;
    case 'L': o->follow = true; return 0;
    case OPT_CACERT: o->cacert = arg; return 0;
    case 'k': o->insecure = true; return 0;
    case 'v': o->verbose = true; return 0;
    case OPT_JSON: o->json = true; return 0;
    case OPT_JSON_OUT: o->json = true; o->json_path = arg; return 0;
    case OPT_FAIL: o->fail = true; return 0;
    case 's': o->silent = true; return 0;
    case 'o': case 'O':
        o->outputs[o->output_count++].path = opt == 'o' ? arg : NULL;
        return 0;
    case 'H':
        if (add_header(o, arg))
            return 0;
        fprintf(stderr, "coloop-get: usage: -H wants 'Name: value', not '%s'\n", arg);
        return EXIT_USAGE;
    case OPT_MAX_REDIRS:
        if (parse_count(arg, &n) && n <= 1000) {
            o->max_redirs = (int)n;
            return 0;
        }
        break;
    case OPT_MAX_FILESIZE:
        if (parse_count(arg, &n) && n > 0) {
            o->max_filesize = n;
            return 0;
        }
        break;
    case OPT_CONNECT_TIMEOUT: case 'm': case OPT_READ_TIMEOUT:
        if ((ms = parse_seconds(arg)) > 0) {
            *(opt == 'm' ? &o->max_time_ms : opt == OPT_READ_TIMEOUT ? &o->read_ms
                                                                      : &o->connect_ms) = ms;
            return 0;
        }
        break;
    default:
        return EXIT_USAGE;      /* getopt said what was wrong */
    }
    fprintf(stderr, "coloop-get: usage: '%s' is not a valid value for this option\n", arg);
    return EXIT_USAGE;
}

/* Parse argv into *o.  0, -1 for --help (printed), or an exit code. */
static int parse_args(int argc, char **argv, struct options *o)
{
    *o = (struct options){ .max_redirs = HTTP_REDIRECTS_DEFAULT };
    /* Each option or URL takes at least one argv slot: argc bounds them all. */
    o->headers = calloc((size_t)argc, sizeof *o->headers);
    o->outputs = calloc((size_t)argc, sizeof *o->outputs);
    o->urls = calloc((size_t)argc, sizeof *o->urls);
    if (!o->headers || !o->outputs || !o->urls) {
        fprintf(stderr, "coloop-get: error: %s\n", strerror(ENOMEM));
        return EXIT_OTHER;
    }
    int opt;
    while ((opt = getopt_long(argc, argv, "X:H:d:IiD:Lm:o:Ovskh", long_options, NULL)) != -1) {
        if (opt == 'h') {
            help();
            return -1;
        }
        int rc = take_option(o, opt, optarg);
        if (rc == EXIT_USAGE)
            usage_hint();
        if (rc)
            return rc;
    }
    for (int i = optind; i < argc; i++)
        o->urls[o->url_count++] = argv[i];
    const char *problem = o->url_count == 0 ? "no URL given"
                          : o->output_count > o->url_count ? "more -o/-O than URLs"
                          : o->head && o->has_data ? "-I and -d do not go together" : NULL;
    if (problem) {
        fprintf(stderr, "coloop-get: usage: %s\n", problem);
        usage_hint();
        return EXIT_USAGE;
    }
    return 0;
}

/* ---- output: where bodies and heads go ---- */

/* A destination for the body, the -i heads or -D.  A regular file takes
 * its bytes at once; a pipe or a terminal may make write(2) wait for as long
 * as its reader likes, and a wait on the loop's thread would stop the loop:
 * its clock would stand still and the client's next read timeout would fire
 * at once (try `coloop-get URL | (sleep 5; cat)` with that mistake in).  So
 * those are written on the worker pool, like any other blocking call. */
struct sink {
    FILE *f;                    /* the stream (stdout or a file we opened) */
    const char *name;           /* for messages: "stdout" or the path */
    bool direct;                /* a regular file: written on the loop's thread */
    int err;                    /* the first write error (errno), 0 if none */
};

static void sink_init(struct sink *s, FILE *f, const char *name)
{
    struct stat st;
    *s = (struct sink){ .f = f, .name = name };
    s->direct = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
}

struct write_job {
    FILE *f;
    const char *data;
    size_t len;
};

/* On a worker thread: write and flush, so the bytes leave here, not later
 * on the loop's thread.  0 or an errno (errno is per thread: this one is
 * the worker's own). */
static int write_job_run(void *arg)
{
    const struct write_job *j = arg;
    if (fwrite(j->data, 1, j->len, j->f) != j->len || fflush(j->f) != 0)
        return errno ? errno : EIO;
    return 0;
}

/* Write len bytes to s.  Suspends (unless s is a regular file).  0, or the
 * negated errno of the first failure (kept in s->err: later writes fail too). */
static int await_sink_write(struct sink *s, const char *data, size_t len)
{
    if (s->err || len == 0)
        return -s->err;
    int err = 0;
    if (s->direct) {
        if (fwrite(data, 1, len, s->f) != len)
            err = errno ? errno : EIO;      /* read right after the call: still ours */
    } else {
        struct write_job job = { s->f, data, len };
        int rc = await_thread(write_job_run, &job, sizeof job, &err, CO_NO_DEADLINE);
        if (rc < 0)
            err = -rc;
    }
    s->err = err;
    return -err;
}

/* A head to print: a final response's or an interim one's (whose strings
 * are not NUL-terminated, hence the lengths everywhere). */
struct head_view {
    unsigned version_minor;
    int status;
    const char *reason;
    size_t reason_len;
    const struct http_header *fields;
    size_t count;
};

static struct head_view final_head(const struct http_response *r)
{
    return (struct head_view){ r->version_minor, r->status, r->reason,
                               r->reason ? strlen(r->reason) : 0, r->headers, r->header_count };
}

static struct head_view interim_head(const struct http_interim *h)
{
    return (struct head_view){ h->version_minor, h->status, h->reason, h->reason_len, h->fields,
                               h->field_count };
}

/* A head as text (reconstructed from the parsed fields, so the whitespace
 * around values is normalized), each line starting with `prefix` and ending
 * in `eol`, and a blank line after it when eol is CRLF (the wire format:
 * -i, -D); with `trailers`, only the fields (a trailer section: no status
 * line, and no blank line when there are none).  malloc'd (*len bytes), or
 * NULL. */
static char *format_head(const struct head_view *h, bool trailers, const char *prefix,
                         const char *eol, size_t *len)
{
    char *text = NULL;
    FILE *m = open_memstream(&text, len);
    if (!m)
        return NULL;
    if (!trailers)
        fprintf(m, "%sHTTP/1.%u %d%s%.*s%s", prefix, h->version_minor, h->status,
                h->reason_len ? " " : "", (int)h->reason_len, h->reason ? h->reason : "", eol);
    for (size_t i = 0; i < h->count; i++)
        fprintf(m, "%s%.*s: %.*s%s", prefix, (int)h->fields[i].name_len, h->fields[i].name,
                (int)h->fields[i].value_len, h->fields[i].value, eol);
    if ((!trailers || h->count > 0) && strcmp(eol, "\r\n") == 0)
        fputs(eol, m);
    fclose(m);
    return text;
}

/* The head, or with `trailers` the trailer fields, of r. */
static char *format_fields(const struct http_response *r, bool trailers, const char *prefix,
                           const char *eol, size_t *len)
{
    struct head_view h = final_head(r);
    if (trailers) {
        h.fields = r->trailers;
        h.count = r->trailer_count;
    }
    return format_head(&h, trailers, prefix, eol, len);
}

/* Write formatted text to s and free it; NULL (no memory) counts as a
 * write error.  Suspends. */
static void await_print_text(struct sink *s, char *text, size_t len)
{
    if (text)
        await_sink_write(s, text, len);
    else
        s->err = s->err ? s->err : ENOMEM;
    free(text);
}

/* A head to s in the wire format.  Suspends. */
static void await_print_head(struct sink *s, const struct head_view *h)
{
    size_t len = 0;
    char *text = format_head(h, false, "", "\r\n", &len);
    await_print_text(s, text, len);
}

/* The head (or trailers) of r to s in the wire format.  Suspends. */
static void await_print_fields(struct sink *s, const struct http_response *r, bool trailers)
{
    size_t len = 0;
    char *text = format_fields(r, trailers, "", "\r\n", &len);
    await_print_text(s, text, len);
}

/* -v: the same on stderr, "< " before each line.  Diagnostics are written
 * directly: stderr is unbuffered and usually a terminal. */
static void verbose_fields(const struct http_response *r, bool trailers)
{
    size_t len;
    char *text = format_fields(r, trailers, "< ", "\n", &len);
    if (text)
        fputs(text, stderr);
    free(text);
}

static void verbose_head(const struct head_view *h)
{
    size_t len;
    char *text = format_head(h, false, "< ", "\n", &len);
    if (text)
        fputs(text, stderr);
    free(text);
}

static double ms(int64_t ns)
{
    return (double)ns / 1e6;
}

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* ---- one URL ---- */

/* Where one request goes next: the first URL, then each redirect's target,
 * with the method, body and credential rules of RFC 9110 15.4 (the same
 * ones the client applies when it follows redirects itself). */
struct hop {
    const char *url;            /* what the client is asked for */
    struct http_url parsed;     /* url parsed (zeroed if it does not parse: the client says why) */
    const char *method;
    bool send_body;             /* the -d body goes with this hop */
    bool strip_auth;            /* another origin was visited: no credentials */
    bool strip_content;         /* the method became GET: no Content-* fields */
};

/* Everything about the URL being fetched, for the body callback too. */
struct fetch {
    const struct options *o;
    size_t index;               /* which URL (0-based) */
    struct hop hop;
    struct http_response resp;  /* the current hop's response */
    struct sink out;            /* body (and -i / -I heads) */
    struct sink *dump;          /* -D, or NULL */
    bool head_done;             /* this hop's head has been shown */
    bool conn_shown;            /* -v: this hop's connection lines are printed */
    bool redirecting;           /* this hop's response is a redirect we follow: no body */
    bool failing;               /* --fail and status >= 400: no body */
    int redirects;              /* hops followed */
};

static bool is_redirect(int status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

static bool name_is(const struct http_header *f, const char *name)
{
    return f->name_len == strlen(name) && strncasecmp(f->name, name, f->name_len) == 0;
}

static bool has_field(const struct options *o, const char *name)
{
    for (size_t i = 0; i < o->header_count; i++)
        if (name_is(&o->headers[i], name))
            return true;
    return false;
}

/* The header fields for this hop: the user's, less what a redirect took
 * away, plus a Content-Type for -d unless the user set one.  out has room
 * for header_count + 1.  Returns how many. */
static size_t hop_fields(const struct fetch *f, struct http_header *out)
{
    const struct options *o = f->o;
    size_t n = 0;
    for (size_t i = 0; i < o->header_count; i++) {
        const struct http_header *h = &o->headers[i];
        if (f->hop.strip_auth && (name_is(h, "authorization") || name_is(h, "cookie") ||
                                  name_is(h, "proxy-authorization")))
            continue;
        if (f->hop.strip_content && h->name_len >= 8 && strncasecmp(h->name, "content-", 8) == 0)
            continue;
        out[n++] = *h;
    }
    if (f->hop.send_body && !has_field(o, "content-type"))
        out[n++] = (struct http_header){ "Content-Type", 12, "application/x-www-form-urlencoded",
                                         33 };
    return n;
}

/* -v: the request head as the client will write it (it adds User-Agent
 * unless given, and the framing of the body). */
static void verbose_request(const struct fetch *f, const struct http_header *fields, size_t n)
{
    const struct http_url *u = &f->hop.parsed;
    if (!u->href)
        return;
    fprintf(stderr, "* %s %s\n", f->hop.method, u->href);
    fprintf(stderr, "> %s %s HTTP/1.1\n> Host: %s\n", f->hop.method, u->target, u->host_header);
    bool ua = false;
    for (size_t i = 0; i < n; i++) {
        fprintf(stderr, "> %.*s: %.*s\n", (int)fields[i].name_len, fields[i].name,
                (int)fields[i].value_len, fields[i].value);
        ua |= name_is(&fields[i], "user-agent");
    }
    if (!ua)
        fprintf(stderr, "> User-Agent: %s\n", HTTP_USER_AGENT_DEFAULT);
    const char *m = f->hop.method;
    if (f->hop.send_body || !strcmp(m, "POST") || !strcmp(m, "PUT"))   /* as the client does */
        fprintf(stderr, "> Content-Length: %zu\n", f->hop.send_body ? f->o->data_len : 0);
    fprintf(stderr, ">\n");
}

/* -v: how the connection came about: new or reused, the address the
 * client actually connected to (of all those the name resolved to), the
 * phases' times, and for https the TLS version, ALPN result and what the
 * certificate was verified against.  All from the response: the client
 * fills peer, tls_version and tls_alpn for new and reused connections
 * alike.  Printed once per hop, before its first head (an interim one, if
 * any).  Never suspends. */
static void verbose_connection(struct fetch *f)
{
    const struct http_response *r = &f->resp;
    const struct http_url *u = &f->hop.parsed;
    if (f->conn_shown)
        return;
    f->conn_shown = true;
    if (r->reused) {
        fprintf(stderr, "* reused a kept-alive connection to %s at %s\n", u->origin, r->peer);
    } else {
        fprintf(stderr, "* new connection to %s at %s: ", u->origin, r->peer);
        if (u->host_kind == HTTP_HOST_NAME)
            fprintf(stderr, "DNS lookup %.3f ms, ", ms(r->timings.dns_ns));
        fprintf(stderr, "TCP connect %.3f ms\n", ms(r->timings.connect_ns));
    }
    if (!r->tls_version[0])
        return;
    const char *alpn = r->tls_alpn[0] ? r->tls_alpn : "none (the server ignored it)";
    if (r->reused) {
        fprintf(stderr, "* TLS: %s, ALPN %s\n", r->tls_version, alpn);
        return;
    }
    const struct options *o = f->o;
    fprintf(stderr, "* TLS: %s, ALPN %s, handshake %.3f ms; %s%s\n", r->tls_version, alpn,
            ms(r->timings.tls_ns),
            o->insecure ? "certificate NOT verified (--insecure)"
                        : "certificate chain and host name verified against ",
            o->insecure ? "" : o->cacert ? o->cacert : "the system trust store");
}

/* The client's on_interim callback: a 1xx head (100 Continue, 103 Early
 * Hints, ...) before this hop's final one.  -v shows it and -D writes it,
 * in the order they come, as curl does; -i and -I keep to final heads.
 * Always 0: a -D write error is reported when the URL is done, like the
 * body's.  Suspends (await_sink_write). */
static int await_interim(void *arg, const struct http_interim *h)
{
    struct fetch *f = arg;
    struct head_view v = interim_head(h);
    if (f->o->verbose) {
        verbose_connection(f);
        verbose_head(&v);
    }
    if (f->dump)
        await_print_head(f->dump, &v);
    return 0;
}

/* The moment a hop's head is known (its first body byte, or the end of a
 * bodiless response): decide where its body goes and show the head where
 * -v, -D, -i and -I want it.  Suspends (writing -D, -i). */
static void await_head_known(struct fetch *f)
{
    const struct options *o = f->o;
    const struct http_response *r = &f->resp;
    f->head_done = true;
    f->redirecting = o->follow && is_redirect(r->status) && http_response_header(r, "location");
    f->failing = o->fail && r->status >= 400;
    if (o->verbose) {
        verbose_connection(f);
        verbose_fields(r, false);
    }
    if (f->dump)
        await_print_fields(f->dump, r, false);
    if ((o->include || o->head) && !f->failing)
        await_print_fields(&f->out, r, false);
}

/* The client's on_body callback: pieces of the current hop's body, in
 * order.  The client has filled in resp's status and fields by the time the
 * first piece arrives.  Suspends (await_head_known, await_sink_write). */
static int await_body_piece(void *arg, const char *data, size_t len)
{
    struct fetch *f = arg;
    if (!f->head_done)
        await_head_known(f);
    if (f->redirecting || f->failing)
        return 0;                   /* read, so the connection stays usable; not written */
    return await_sink_write(&f->out, data, len);
}

/* -L: turn the current hop into the next one, per the response's Location.
 * 0, or HTTP_E_BAD_REDIRECT / HTTP_E_TOO_MANY_REDIRECTS with *why set. */
static int follow_redirect(struct fetch *f, struct net_detail *why)
{
    const struct http_response *r = &f->resp;
    const char *loc = http_response_header(r, "location");
    struct http_url next;
    int rc = http_url_resolve(&next, &f->hop.parsed, loc, strlen(loc));
    if (rc < 0) {
        net_detail_set(why, "redirect %d from %s to \"%.120s\": %s", r->status,
                       f->hop.parsed.href, loc, co_strerror(rc));
        return -HTTP_E_BAD_REDIRECT;
    }
    if (f->redirects >= f->o->max_redirs) {
        net_detail_set(why, "stopped after %d redirects (--max-redirs); the next was %d to %.200s",
                       f->redirects, r->status, next.href);
        http_url_fini(&next);
        return -HTTP_E_TOO_MANY_REDIRECTS;
    }
    /* 303: GET (HEAD stays HEAD); 301/302 after POST: GET, as browsers do;
     * 307/308 keep the method and the body. */
    if ((r->status == 303 && strcmp(f->hop.method, "HEAD") != 0) ||
        ((r->status == 301 || r->status == 302) && strcmp(f->hop.method, "POST") == 0)) {
        f->hop.method = "GET";
        f->hop.send_body = false;
        f->hop.strip_content = true;
    }
    if (!http_url_same_origin(&f->hop.parsed, &next))
        f->hop.strip_auth = true;       /* and it stays so, even back on the first origin */
    http_url_fini(&f->hop.parsed);
    f->hop.parsed = next;
    f->hop.url = next.href;
    f->redirects++;
    return 0;
}

/* One exchange of the current hop.  Suspends.  As http_await_request. */
static int await_hop(struct fetch *f, http_client *c, int64_t deadline)
{
    const struct options *o = f->o;
    struct http_header *fields = calloc(o->header_count + 1, sizeof *fields);
    if (!fields)
        return -ENOMEM;
    size_t n = hop_fields(f, fields);
    struct http_request q = {
        .method = f->hop.method,
        .url = f->hop.url,
        .headers = fields,
        .header_count = n,
        .body = f->hop.send_body ? o->data : NULL,
        .body_len = f->hop.send_body ? o->data_len : 0,
        .on_body = await_body_piece,
        .on_body_arg = f,
        .on_interim = await_interim,
        .on_interim_arg = f,
        .body_max = o->max_filesize,
        .max_redirects = -1,            /* every hop is ours: see the top of the file */
    };
    if (o->verbose)
        verbose_request(f, fields, n);
    http_response_fini(&f->resp);
    f->head_done = f->conn_shown = f->redirecting = f->failing = false;
    int rc = http_await_request(c, &q, &f->resp, deadline);
    if (rc == 0 && !f->head_done)       /* no body: the head is all there was */
        await_head_known(f);
    if (rc < 0 && o->verbose && f->resp.peer[0])
        verbose_connection(f);          /* it failed on a connection: say which */
    free(fields);
    return rc;
}

/* The first URL's hop: its method from -X, -I or -d. */
static void hop_init(struct hop *h, const struct options *o, const char *url)
{
    *h = (struct hop){ .url = url, .send_body = o->has_data };
    h->method = o->method ? o->method : o->head ? "HEAD" : o->has_data ? "POST" : "GET";
    if (http_url_parse(&h->parsed, url, strlen(url)) < 0)
        memset(&h->parsed, 0, sizeof h->parsed);
}

/* ---- reporting ---- */

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

/* --json: one line per URL.  Phase times are the last hop's (a reused
 * connection has no DNS, connect or TLS); total covers every hop. */
static void json_line(FILE *j, const struct fetch *f, int exit_code, int rc,
                      const struct net_detail *why, int64_t total_ns)
{
    const struct http_response *r = &f->resp;
    const struct http_timings *t = &r->timings;
    fputs("{\"url\":", j);
    json_string(j, f->o->urls[f->index]);
    fputs(",\"effective_url\":", j);
    json_string(j, f->hop.url);
    fprintf(j, ",\"status\":%d,\"bytes\":%" PRIu64 ",\"redirects\":%d,\"reused\":%s,"
               "\"time_dns_ms\":%.3f,\"time_connect_ms\":%.3f,\"time_tls_ms\":%.3f,"
               "\"time_first_byte_ms\":%.3f,\"time_total_ms\":%.3f,\"exit\":%d,\"error\":",
            r->status, r->body_received, f->redirects, r->reused ? "true" : "false",
            ms(t->dns_ns), ms(t->connect_ns), ms(t->tls_ns), ms(t->first_byte_ns), ms(total_ns),
            exit_code);
    if (exit_code == EXIT_OK) {
        fputs("null}\n", j);
        return;
    }
    fputs("{\"kind\":", j);
    json_string(j, kind_name(exit_code));
    fputs(",\"message\":", j);
    json_string(j, rc < 0 ? co_strerror(rc) : "");
    fputs(",\"detail\":", j);
    json_string(j, why->text);
    fputs("}}\n", j);
}

/* The one error line: kind, the client's words for the code, its detail. */
static void error_line(const struct fetch *f, int exit_code, int rc, const struct net_detail *why)
{
    const char *url = f->o->urls[f->index];
    if (exit_code == EXIT_WRITE) {
        const struct sink *bad = f->out.err ? &f->out : f->dump;
        fprintf(stderr, "coloop-get: write: %s: %s [%s]\n", bad->name, strerror(bad->err), url);
    }
    else if (exit_code == EXIT_HTTP)
        fprintf(stderr, "coloop-get: http: the server answered %d%s%s (--fail) [%s]\n",
                f->resp.status, f->resp.reason && *f->resp.reason ? " " : "",
                f->resp.reason ? f->resp.reason : "", url);
    else
        fprintf(stderr, "coloop-get: %s: %s%s%s [%s]\n", kind_name(exit_code), co_strerror(rc),
                why->text[0] ? ": " : "", why->text, url);
}

/* ---- output files ---- */

/* -O: the URL's last path segment, into buf; false if it has none. */
static bool remote_name(const char *url, char *buf, size_t len)
{
    struct http_url u;
    if (http_url_parse(&u, url, strlen(url)) < 0)
        return false;
    const char *end = u.target + u.path_len, *start = end;
    while (start > u.target && start[-1] != '/')
        start--;
    bool ok = end > start && (size_t)(end - start) < len;
    if (ok)
        snprintf(buf, len, "%.*s", (int)(end - start), start);
    http_url_fini(&u);
    return ok;
}

/* Open where the i-th URL's body goes.  0, or EXIT_WRITE (message printed). */
static int open_output(struct fetch *f, char *name, size_t name_len)
{
    const struct options *o = f->o;
    const char *path = f->index < o->output_count ? o->outputs[f->index].path : "-";
    if (!path) {                        /* -O */
        if (!remote_name(o->urls[f->index], name, name_len)) {
            fprintf(stderr, "coloop-get: write: -O: no file name in %s\n", o->urls[f->index]);
            return EXIT_WRITE;
        }
        path = name;
    }
    FILE *file = strcmp(path, "-") == 0 ? stdout : fopen(path, "wb");
    if (!file) {
        fprintf(stderr, "coloop-get: write: %s: %s\n", path, strerror(errno));
        return EXIT_WRITE;
    }
    sink_init(&f->out, file, file == stdout ? "stdout" : path);
    return 0;
}

/* Flush (and close a file we opened): a full disk may show only here. */
static void close_sink(struct sink *s)
{
    bool failed = fflush(s->f) != 0 || ferror(s->f);
    int err = errno;
    if (s->f != stdout)
        failed |= fclose(s->f) != 0;
    if (failed && !s->err)
        s->err = err ? err : EIO;
}

/* ---- the program ---- */

struct program {
    struct options o;
    tls_ctx *tls;               /* from --cacert / -k, or NULL: the client's default */
    struct sink dump;           /* -D (dump.f NULL without) */
    FILE *json;                 /* --json: stderr or --json-out */
};

/* Fetch the i-th URL, following redirects with -L.  Suspends.  Its exit
 * code. */
static int await_fetch_url(struct program *p, http_client *c, size_t i)
{
    struct fetch f = { .o = &p->o, .index = i, .dump = p->dump.f ? &p->dump : NULL };
    struct net_detail why = { "" };
    char name[256];
    int exit_code = open_output(&f, name, sizeof name);
    if (exit_code)
        return exit_code;
    hop_init(&f.hop, &p->o, p->o.urls[i]);
    int64_t deadline = p->o.max_time_ms ? co_deadline_in_ms(p->o.max_time_ms) : CO_NO_DEADLINE;
    int64_t t0 = mono_ns();
    int rc;
    for (;;) {
        rc = await_hop(&f, c, deadline);
        if (rc < 0 || !f.redirecting)
            break;
        if ((rc = follow_redirect(&f, &why)) < 0)
            break;
    }
    int64_t total_ns = mono_ns() - t0;
    if (rc == 0) {                      /* the trailers come after the body */
        if ((p->o.include || p->o.head) && !f.failing)
            await_print_fields(&f.out, &f.resp, true);
        if (f.dump)
            await_print_fields(f.dump, &f.resp, true);
        if (p->o.verbose)
            verbose_fields(&f.resp, true);
    } else if (!why.text[0]) {
        why = f.resp.detail;
    }
    close_sink(&f.out);
    if (f.dump)
        fflush(f.dump->f);
    bool write_failed = f.out.err || (f.dump && f.dump->err);
    exit_code = write_failed ? EXIT_WRITE : rc < 0 ? classify(rc) : f.failing ? EXIT_HTTP : 0;
    if (p->o.verbose && rc == 0)
        fprintf(stderr, "* %" PRIu64 " body bytes, first byte after %.3f ms, %.3f ms in all\n",
                f.resp.body_received, ms(f.resp.timings.first_byte_ns), ms(total_ns));
    if (exit_code && !p->o.silent)
        error_line(&f, exit_code, rc, &why);
    if (p->json) {
        json_line(p->json, &f, exit_code, rc, &why, total_ns);
        fflush(p->json);
    }
    http_response_fini(&f.resp);
    http_url_fini(&f.hop.parsed);
    return exit_code;
}

/* The program's one task: a client, the URLs in order, the first failure's
 * exit code. */
static int await_fetch_all(void *arg)
{
    struct program *p = arg;
    struct http_client_opts co = {
        .tls = p->tls,
        .connect_timeout_ms = p->o.connect_ms,
        .read_timeout_ms = p->o.read_ms,
        .max_redirects = -1,
    };
    http_client *c;
    int rc = http_client_new(&co, &c);
    if (rc < 0) {
        if (!p->o.silent)
            fprintf(stderr, "coloop-get: error: %s\n", co_strerror(rc));
        return EXIT_OTHER;
    }
    int first = EXIT_OK;
    for (size_t i = 0; i < p->o.url_count; i++) {
        int code = await_fetch_url(p, c, i);
        if (first == EXIT_OK)
            first = code;
    }
    http_client_free(c);
    return first;
}

/* --cacert / -k: a TLS context of our own, so that a CA file that cannot be
 * loaded is reported with its reason.  0, or EXIT_CACERT. */
static int make_tls(struct program *p)
{
    if (!p->o.cacert && !p->o.insecure)
        return 0;
    struct tls_client_opts to = { .ca_file = p->o.cacert, .insecure = p->o.insecure };
    struct net_detail why = { "" };
    int rc = tls_ctx_new_client(&to, &p->tls, &why);
    if (rc < 0) {
        if (!p->o.silent)
            fprintf(stderr, "coloop-get: cacert: %s%s%s\n", co_strerror(rc), why.text[0] ? ": " : "",
                    why.text);
        return rc == -NET_ETLS_CONFIG ? EXIT_CACERT : EXIT_OTHER;
    }
    return 0;
}

/* -D and --json-out files.  0, or EXIT_WRITE (message printed). */
static int open_reports(struct program *p)
{
    const struct options *o = &p->o;
    const char *bad = NULL;
    if (o->dump_path) {
        FILE *d = strcmp(o->dump_path, "-") == 0 ? stdout : fopen(o->dump_path, "wb");
        if (d)
            sink_init(&p->dump, d, d == stdout ? "stdout" : o->dump_path);
        else
            bad = o->dump_path;
    }
    if (o->json && !bad && !(p->json = o->json_path ? fopen(o->json_path, "w") : stderr))
        bad = o->json_path;
    if (bad) {
        fprintf(stderr, "coloop-get: write: %s: %s\n", bad, strerror(errno));
        return EXIT_WRITE;
    }
    return 0;
}

static int close_reports(struct program *p)
{
    bool failed = false;
    if (p->dump.f) {
        close_sink(&p->dump);
        failed |= p->dump.err != 0;
    }
    if (p->json && p->json != stderr)
        failed |= fclose(p->json) != 0;
    return failed ? EXIT_WRITE : 0;
}

int main(int argc, char **argv)
{
    struct program p = { 0 };
    int code = parse_args(argc, argv, &p.o);
    if (code == 0)
        code = make_tls(&p);
    if (code == 0)
        code = open_reports(&p);
    if (code == 0) {
        int rc = co_run(await_fetch_all, &p);
        if (rc < 0 && !p.o.silent)      /* no loop (no descriptor, no memory): still one line */
            fprintf(stderr, "coloop-get: error: cannot run the event loop: %s\n", co_strerror(rc));
        code = rc < 0 ? EXIT_OTHER : rc;
        int closed = close_reports(&p);
        code = code ? code : closed;
    }
    tls_ctx_free(p.tls);
    free(p.o.headers);
    free(p.o.outputs);
    free(p.o.urls);
    free(p.o.data);
    return code < 0 ? EXIT_OK : code;     /* -1: --help */
}
