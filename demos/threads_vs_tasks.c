/* threads_vs_tasks.c - claim C6: "coroutines are cheap, threads top out at hundreds".
 *
 *   threads_vs_tasks [--quick] [--timer | --socket] [--wait-ms MS] [N...]
 *                                                   (default N: 100 1000 10000)
 *
 * For each N, N waiters each wait MS milliseconds (default 1000), once as OS
 * threads (pthreads with 64 KiB stacks, the size of a coloop task's stack)
 * and once as coloop tasks on one loop, in two variants (both by default):
 *   timer   each waiter sleeps (threads: clock_nanosleep; tasks: await_sleep_ms);
 *   socket  each waiter connects to the built-in httpbin and GETs /delay/MS
 *           (threads: a blocking socket each; tasks: sock_await_connect,
 *           sock_await_write_all, sock_await_read).
 * Each run happens in a child process of its own, so its peak resident memory
 * (VmHWM) is its own.  The target is build/demos/coloop-httpbin in a process
 * of its own (see target_start): its memory is not counted against the
 * waiters, and each side needs only N of its own descriptors (RLIMIT_NOFILE
 * is per process) instead of 2N in one.
 * The table shows how long creating the waiters took, the wall time, the peak
 * memory and the memory per waiter.  A run that cannot start every waiter says
 * which limit stopped it (diagnose(): the numbers at the moment of failure
 * against ulimit -v, vm.max_map_count, cgroup pids.max, ulimit -u,
 * kernel.threads-max, kernel.pid_max and memory); the end of the output says
 * which of them threads would hit first on this machine.
 * --quick: N = 100 1000, MS = 200 (for the tests and `make claims`).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "coloop.h"
#include "runtime/coro.h"

#define THREAD_STACK (64 * 1024)
#define THREAD_NEED_KIB (THREAD_STACK / 1024 + 4)   /* stack + guard page of address space */
#define MAX_SIZES 8
#define FDS_SPARE 32          /* descriptors a process needs besides one per waiter */
#define PIDS_RESERVED 300     /* the kernel never hands out PIDs below this after boot */

enum variant { VARIANT_TIMER = 1, VARIANT_SOCKET = 2 };

struct result {
    long wanted, created;   /* waiters asked for / actually started */
    long failed;            /* started, but their wait failed (socket variant) */
    int start_error;        /* negative code of the first failed start, 0 if none */
    int wait_error;         /* negative code of the first failed wait, 0 if none */
    double create_ms;       /* time to start them all */
    double wall_ms;         /* time until all had finished waiting */
    long base_kib, peak_kib;/* VmRSS before, VmHWM after */
    char why[512];          /* which limit stopped the starts, in words */
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The number after `field` in a "Name: value" file such as /proc/self/status. */
static long field_long(const char *path, const char *field)
{
    FILE *f = fopen(path, "r");
    char line[256];
    long v = -1;
    size_t len = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, len) == 0)
            v = strtol(line + len, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

static long status_kib(const char *field) { return field_long("/proc/self/status", field); }

/* The first number in a file, or -1 (also for "max"). */
static long read_long(const char *path)
{
    FILE *f = fopen(path, "r");
    long v = -1;
    if (f && fscanf(f, "%ld", &v) != 1)
        v = -1;
    if (f)
        fclose(f);
    return v;
}

static long count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    long lines = 0;
    int ch;
    if (!f)
        return -1;
    while ((ch = getc(f)) != EOF)
        lines += (ch == '\n');
    fclose(f);
    return lines;
}

/* --- limits: what stops new waiters, and a diagnosis ----------------------------- */

/* Everything that can stop a new thread, as numbers; -1 = unlimited/unknown. */
struct limits {
    long created;           /* waiters this process had started (when one failed) */
    int error;              /* errno of the failure (positive), 0 when not failing */
    long maps, max_map_count;       /* kernel mappings of this process / vm.max_map_count */
    long nproc;             /* RLIMIT_NPROC (ulimit -u), soft */
    int nproc_exempt;       /* 1: not enforced for this process (root) */
    long user_threads;      /* threads of every process of this real uid (we can see) */
    long system_threads;    /* every thread on the machine (/proc/loadavg) */
    long threads_max, pid_max;      /* kernel.threads-max, kernel.pid_max */
    long cg_pids, cg_pids_max;      /* this cgroup's pids.current / pids.max */
    long vm_kib, as_kib;    /* VmSize; RLIMIT_AS (ulimit -v) in KiB */
    long avail_kib;         /* MemAvailable */
    long need_kib;          /* address space one more waiter needs */
};

/* Threads of all processes of real uid `uid` that /proc shows. */
static long threads_of_user(uid_t uid)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    long total = 0;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/%.256s/status", e->d_name);
        FILE *f = fopen(path, "r");
        char line[256];
        long real_uid = -1, threads = 0;
        while (f && fgets(line, sizeof line, f)) {
            if (strncmp(line, "Uid:", 4) == 0)
                real_uid = strtol(line + 4, NULL, 10);
            else if (strncmp(line, "Threads:", 8) == 0)
                threads = strtol(line + 8, NULL, 10);
        }
        if (f)
            fclose(f);
        if (real_uid == (long)uid)
            total += threads;
    }
    if (d)
        closedir(d);
    return total;
}

/* This process's cgroup pids controller: pids.current and pids.max (cgroup v1 or v2). */
static void cgroup_pids(long *current, long *max)
{
    *current = *max = -1;
    FILE *f = fopen("/proc/self/cgroup", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *ctrl = strchr(line, ':'), *path = ctrl ? strchr(ctrl + 1, ':') : NULL;
        if (!path)
            continue;
        *path++ = '\0';
        ctrl++;
        char dir[600];
        if (strcmp(ctrl, "pids") == 0)
            snprintf(dir, sizeof dir, "/sys/fs/cgroup/pids%.400s", path);
        else if (ctrl[0] == '\0')
            snprintf(dir, sizeof dir, "/sys/fs/cgroup%.400s", path);
        else
            continue;
        char file[700];
        snprintf(file, sizeof file, "%s/pids.max", dir);
        long m = read_long(file);
        snprintf(file, sizeof file, "%s/pids.current", dir);
        long c = read_long(file);
        if (m >= 0 && c >= 0) {
            *max = m, *current = c;
            break;
        }
    }
    if (f)
        fclose(f);
}

/* The numbers now (error: the errno a start just failed with, or 0). */
static void limits_snapshot(struct limits *l, long created, int error)
{
    struct rlimit rl;
    memset(l, 0, sizeof *l);
    l->created = created;
    l->error = error;
    l->maps = count_lines("/proc/self/maps");
    l->max_map_count = read_long("/proc/sys/vm/max_map_count");
    getrlimit(RLIMIT_NPROC, &rl);
    l->nproc = rl.rlim_cur == RLIM_INFINITY ? -1 : (long)rl.rlim_cur;
    l->nproc_exempt = getuid() == 0;   /* the kernel skips the check for root's processes */
    l->user_threads = threads_of_user(getuid());
    FILE *f = fopen("/proc/loadavg", "r");
    double la[3];
    long running;
    l->system_threads = -1;
    if (f && fscanf(f, "%lf %lf %lf %ld/%ld", &la[0], &la[1], &la[2], &running,
                    &l->system_threads) != 5)
        l->system_threads = -1;
    if (f)
        fclose(f);
    l->threads_max = read_long("/proc/sys/kernel/threads-max");
    l->pid_max = read_long("/proc/sys/kernel/pid_max");
    cgroup_pids(&l->cg_pids, &l->cg_pids_max);
    l->vm_kib = status_kib("VmSize:");
    getrlimit(RLIMIT_AS, &rl);
    l->as_kib = rl.rlim_cur == RLIM_INFINITY ? -1 : (long)(rl.rlim_cur / 1024);
    l->avail_kib = field_long("/proc/meminfo", "MemAvailable:");
    l->need_kib = THREAD_NEED_KIB;
}

/* used has reached limit, give or take `slack` (things other processes do meanwhile). */
static bool at_limit(long used, long limit, long slack)
{
    return limit >= 0 && used >= 0 && used + slack >= limit;
}

/* Which limit stopped the starts, from the numbers at the moment one failed:
 * a pure function of *l (the test feeds it real failures under a lowered
 * limit).  threads: OS threads (all the limits apply) or coloop tasks (only
 * the memory ones: address space, mappings, memory).  Returns buf. */
static const char *diagnose(const struct limits *l, bool threads, char *buf, size_t len)
{
    if (l->as_kib >= 0 && l->vm_kib >= 0 && l->vm_kib + l->need_kib > l->as_kib) {
        snprintf(buf, len, "ulimit -v (RLIMIT_AS) %ld KiB: the process already mapped %ld KiB "
                 "with %ld %s started, and one more needs ~%ld KiB (64 KiB stack + guard page)",
                 l->as_kib, l->vm_kib, l->created, threads ? "threads" : "tasks", l->need_kib);
    } else if (at_limit(l->maps + 2, l->max_map_count, 8)) {
        snprintf(buf, len, "vm.max_map_count %ld: %ld %s = vm.max_map_count %ld / 2 mappings "
                 "each (stack + guard page), less %ld other mappings of the process",
                 l->max_map_count, l->created, threads ? "threads" : "tasks", l->max_map_count,
                 l->maps - 2 * l->created > 0 ? l->maps - 2 * l->created : 0);
    } else if (threads && at_limit(l->cg_pids + 1, l->cg_pids_max, 2)) {
        snprintf(buf, len, "cgroup pids.max %ld: this cgroup (container or service) runs %ld "
                 "threads and processes, %ld of them these threads", l->cg_pids_max, l->cg_pids,
                 l->created);
    } else if (threads && !l->nproc_exempt && at_limit(l->user_threads, l->nproc, 4)) {
        snprintf(buf, len, "ulimit -u (RLIMIT_NPROC) %ld: this user runs %ld threads and "
                 "processes, %ld of them these threads", l->nproc, l->user_threads, l->created);
    } else if (threads && at_limit(l->system_threads + 1, l->threads_max, 64)) {
        snprintf(buf, len, "kernel.threads-max %ld: the machine runs %ld threads, %ld of them "
                 "these", l->threads_max, l->system_threads, l->created);
    } else if (threads && at_limit(l->system_threads + PIDS_RESERVED, l->pid_max,
                                   l->pid_max / 50)) {
        snprintf(buf, len, "kernel.pid_max %ld: every thread takes a PID, and the machine runs "
                 "%ld threads, %ld of them these", l->pid_max, l->system_threads, l->created);
    } else if (l->error == ENOMEM || (l->avail_kib >= 0 && l->avail_kib < 64 * l->need_kib)) {
        snprintf(buf, len, "memory: %ld KiB available (MemAvailable) with %ld %s started",
                 l->avail_kib, l->created, threads ? "threads" : "tasks");
    } else {
        snprintf(buf, len, "none of ulimit -v, vm.max_map_count (%ld of %ld mappings), "
                 "ulimit -u (%ld of %ld), kernel.threads-max (%ld of %ld), kernel.pid_max "
                 "or memory (%ld KiB available) is at its limit",
                 l->maps, l->max_map_count, l->user_threads, l->nproc, l->system_threads,
                 l->threads_max, l->avail_kib);
    }
    return buf;
}

/* How many more threads this process could start, and which limit would stop
 * it first (the same limits as diagnose(); memory at rss_kib per thread). */
static long thread_headroom(const struct limits *l, long rss_kib, char *buf, size_t len)
{
    struct { long room; const char *name; long value; const char *note; } c[] = {
        { l->as_kib < 0 ? -1 : (l->as_kib - l->vm_kib) / l->need_kib, "ulimit -v",
          l->as_kib, "KiB: ~68 KiB of address space per thread" },
        { (l->max_map_count - l->maps) / 2, "vm.max_map_count", l->max_map_count,
          ": 2 mappings per thread, stack + guard page" },
        { l->cg_pids_max < 0 ? -1 : l->cg_pids_max - l->cg_pids, "cgroup pids.max",
          l->cg_pids_max, ": every thread counts" },
        { l->nproc < 0 || l->nproc_exempt ? -1 : l->nproc - l->user_threads, "ulimit -u",
          l->nproc, ": this user's threads and processes" },
        { l->threads_max - l->system_threads, "kernel.threads-max", l->threads_max,
          ": all threads of the machine" },
        { l->pid_max - PIDS_RESERVED - l->system_threads, "kernel.pid_max", l->pid_max,
          ": every thread takes a PID" },
        { rss_kib > 0 ? l->avail_kib / rss_kib : -1, "memory:", l->avail_kib,
          "KiB available at the measured RSS per thread" },
    };
    int best = -1;
    for (int i = 0; i < (int)(sizeof c / sizeof c[0]); i++)
        if (c[i].room >= 0 && (best < 0 || c[i].room < c[best].room))
            best = i;
    if (best < 0) {
        snprintf(buf, len, "no limit found");
        return -1;
    }
    snprintf(buf, len, "%s %ld%s%s", c[best].name, c[best].value,
             c[best].note[0] == 'K' ? " " : "", c[best].note);
    return c[best].room;
}

/* --- the socket target: httpbin in a child process -------------------------------- */

struct target { pid_t pid; int port; };

/* build/demos/coloop-httpbin, found next to this program. */
static int target_path(char *buf, size_t len)
{
    char self[512];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -errno;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    snprintf(buf, len, "%s/coloop-httpbin", self);
    return access(buf, X_OK) == 0 ? 0 : -errno;
}

/* Start the built-in httpbin (coloop-httpbin --port 0: 127.0.0.1, one loop)
 * in a child process and read its port from the line it prints.  A program
 * of its own rather than httpbin_start_thread() in a fork of this one: its
 * memory and descriptors are not the waiters', and this binary need not link
 * the HTTP code, whose thread-local DNS cache (net/dns.c, ~19 KiB of TLS)
 * glibc would zero in every thread's stack: +16 KiB RSS per thread, a cost
 * of the linkage, not of threads. */
static int target_start(struct target *t, const char *path)
{
    int out[2];
    if (pipe(out) < 0)
        return -errno;
    pid_t parent = getpid();
    t->pid = fork();
    if (t->pid < 0) {
        int e = errno;
        close(out[0]), close(out[1]);
        return -e;
    }
    if (t->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);   /* survives exec: never outlive the demo */
        if (getppid() != parent)
            _exit(1);
        dup2(out[1], STDOUT_FILENO);
        close(out[0]), close(out[1]);
        execl(path, path, "--port", "0", "--host", "127.0.0.1", "--grace", "0", "--quiet",
              (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    FILE *f = fdopen(out[0], "r");
    char line[256];
    t->port = -1;
    if (f && fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "127.0.0.1:");
        if (p)
            t->port = atoi(p + strlen("127.0.0.1:"));
    }
    if (f)
        fclose(f);
    else
        close(out[0]);
    if (t->port <= 0) {
        kill(t->pid, SIGKILL);
        waitpid(t->pid, NULL, 0);
        return -EIO;
    }
    return 0;
}

static void target_stop(struct target *t)
{
    kill(t->pid, SIGTERM);
    waitpid(t->pid, NULL, 0);
}

/* --- what each waiter does ---------------------------------------------------------- */

static struct {
    int wait_ms;
    struct timespec wake_at;        /* timer threads sleep until this absolute time */
    int port;                       /* socket waiters: the target's */
    char request[128];
    size_t request_len;
    atomic_long failed;
    atomic_int first_error;         /* negative code */
} job;

static void waiter_failed(int code)
{
    int none = 0;
    atomic_fetch_add(&job.failed, 1);
    atomic_compare_exchange_strong(&job.first_error, &none, code);
}

/* The first bytes of an answer, as they arrive: enough to see its status. */
struct answer_head { char bytes[16]; size_t len; };

static void keep_head(struct answer_head *h, const char *buf, ssize_t n)
{
    for (ssize_t i = 0; i < n && h->len < sizeof h->bytes; i++)
        h->bytes[h->len++] = buf[i];
}

/* The end of a socket waiter, thread or task: the answer must start with a
 * 200 status line; a failure is counted. */
static void socket_waiter_done(int rc, const struct answer_head *h)
{
    if (rc == 0 && !(h->len >= 12 && memcmp(h->bytes, "HTTP/1.1 200", 12) == 0))
        rc = -EPROTO;
    if (rc < 0)
        waiter_failed(rc);
}

static void *thread_timer_waiter(void *arg)
{
    (void)arg;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &job.wake_at, NULL) == EINTR)
        ;
    return NULL;
}

/* A blocking GET /delay/MS with Connection: close, read to the end. */
static void *thread_socket_waiter(void *arg)
{
    (void)arg;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)job.port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        waiter_failed(-errno);
        return NULL;
    }
    int rc = 0;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
        rc = -errno;
    for (size_t off = 0; rc == 0 && off < job.request_len;) {
        ssize_t n = send(fd, job.request + off, job.request_len - off, MSG_NOSIGNAL);
        if (n < 0 && errno != EINTR)
            rc = -errno;
        else if (n > 0)
            off += (size_t)n;
    }
    char buf[1024];
    struct answer_head head = { 0 };
    while (rc == 0) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n == 0)
            break;
        if (n < 0 && errno != EINTR)
            rc = -errno;
        keep_head(&head, buf, n);
    }
    socket_waiter_done(rc, &head);
    close(fd);
    return NULL;
}

static int task_timer_waiter(void *arg)
{
    (void)arg;
    int rc = await_sleep_ms(job.wait_ms);
    if (rc < 0)
        waiter_failed(rc);   /* counted here: a detached task's error would only be logged */
    return 0;
}

/* The same GET with coloop's sockets: the task suspends where the thread blocks. */
static int task_socket_waiter(void *arg)
{
    (void)arg;
    struct sock_addr addr;
    int fd = -1;
    int rc = sock_addr_parse("127.0.0.1", job.port, &addr);
    if (rc == 0)
        rc = sock_await_connect(&addr, NULL, &fd, CO_NO_DEADLINE);
    if (rc == 0)
        rc = sock_await_write_all(fd, job.request, job.request_len, CO_NO_DEADLINE);
    char buf[1024];
    struct answer_head head = { 0 };
    while (rc == 0) {
        ssize_t n = sock_await_read(fd, buf, sizeof buf, CO_NO_DEADLINE);
        if (n == 0)
            break;
        if (n < 0)
            rc = (int)n;
        keep_head(&head, buf, n);
    }
    socket_waiter_done(rc, &head);
    if (fd >= 0)
        sock_close(fd);
    return 0;
}

/* --- N threads, N tasks ---------------------------------------------------------------- */

static void run_threads(enum variant v, long n, struct result *r)
{
    pthread_t *ids = calloc((size_t)n, sizeof *ids);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, THREAD_STACK);
    double start = now_ms();
    clock_gettime(CLOCK_MONOTONIC, &job.wake_at);
    job.wake_at.tv_sec += job.wait_ms / 1000;
    job.wake_at.tv_nsec += (long)(job.wait_ms % 1000) * 1000000;
    if (job.wake_at.tv_nsec >= 1000000000) {
        job.wake_at.tv_sec++;
        job.wake_at.tv_nsec -= 1000000000;
    }
    void *(*fn)(void *) = v == VARIANT_TIMER ? thread_timer_waiter : thread_socket_waiter;
    for (r->created = 0; ids && r->created < n; r->created++) {
        int rc = pthread_create(&ids[r->created], &attr, fn, NULL);
        if (rc != 0) {
            struct limits l;
            limits_snapshot(&l, r->created, rc);   /* while the others still run */
            diagnose(&l, true, r->why, sizeof r->why);
            r->start_error = -rc;
            break;
        }
    }
    r->create_ms = now_ms() - start;
    for (long i = 0; i < r->created; i++)
        pthread_join(ids[i], NULL);
    r->wall_ms = now_ms() - start;
    pthread_attr_destroy(&attr);
    free(ids);
}

struct task_run { enum variant v; struct result *r; double start; };

static int spawn_waiters(void *arg)
{
    struct task_run *run = arg;
    struct result *r = run->r;
    co_task_fn fn = run->v == VARIANT_TIMER ? task_timer_waiter : task_socket_waiter;
    for (r->created = 0; r->created < r->wanted; r->created++) {
        co_task *t;
        int rc = task_spawn(&t, fn, NULL);
        if (rc < 0) {
            r->start_error = rc;
            if (rc == -CO_ENOSTACK) {
                snprintf(r->why, sizeof r->why, "%s", stack_error_detail());
            } else {
                struct limits l;
                limits_snapshot(&l, r->created, -rc);
                diagnose(&l, false, r->why, sizeof r->why);
            }
            break;
        }
        task_detach(t);
    }
    r->create_ms = now_ms() - run->start;
    return 0;
}

static void run_tasks(enum variant v, struct result *r)
{
    struct task_run run = { v, r, now_ms() };
    co_loop *loop;
    int rc = loop_new(&loop);
    if (rc < 0) {
        r->start_error = rc;
        snprintf(r->why, sizeof r->why, "no loop: %s", co_strerror(rc));
        return;
    }
    co_task *t;
    rc = task_spawn(&t, spawn_waiters, &run);
    if (rc == 0) {
        task_detach(t);
        loop_run(loop);   /* returns when every waiter has ended */
    } else {
        r->start_error = rc;
        snprintf(r->why, sizeof r->why, "%s", co_strerror(rc));
    }
    r->wall_ms = now_ms() - run.start;
    loop_free(loop);
}

/* --- one measurement in a child process ---------------------------------------------- */

static int measure(enum variant v, bool threads, long n, struct result *out)
{
    int fds[2];
    if (pipe(fds) < 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fds[0]), close(fds[1]);
        return -e;
    }
    if (pid == 0) {
        close(fds[0]);
        struct result r = { .wanted = n, .base_kib = status_kib("VmRSS:") };
        if (threads)
            run_threads(v, n, &r);
        else
            run_tasks(v, &r);
        r.failed = atomic_load(&job.failed);
        r.wait_error = atomic_load(&job.first_error);
        r.peak_kib = status_kib("VmHWM:");
        ssize_t w = write(fds[1], &r, sizeof r);
        _exit(w == (ssize_t)sizeof r ? 0 : 1);
    }
    close(fds[1]);
    ssize_t got = read(fds[0], out, sizeof *out);
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    return got == (ssize_t)sizeof *out ? 0 : -EIO;
}

/* Threads' codes are errno values, tasks' are coloop codes (which include errno's). */
static const char *error_text(bool threads, int code)
{
    return threads ? strerror(-code) : co_strerror(code);
}

static void print_row(bool threads, const struct result *r)
{
    long used = r->peak_kib - r->base_kib;
    char note[96] = "";
    if (r->created < r->wanted)
        snprintf(note, sizeof note, "FAILED: %ld of %ld started", r->created, r->wanted);
    else if (r->failed > 0)
        snprintf(note, sizeof note, "FAILED: %ld of %ld waits", r->failed, r->wanted);
    printf("  %6ld  %-8s %9.1f ms %9.1f ms %9.1f MiB %9.1f KiB  %s\n", r->wanted,
           threads ? "threads" : "tasks", r->create_ms, r->wall_ms, (double)used / 1024.0,
           r->created ? (double)used / (double)r->created : 0.0, note);
    if (r->created < r->wanted)
        printf("  %6s  %-8s start error: %s\n  %6s  %-8s stopped by %s\n", "", "",
               error_text(threads, r->start_error), "", "", r->why);
    if (r->failed > 0)
        printf("  %6s  %-8s %ld waits failed, the first with: %s\n", "", "", r->failed,
               error_text(threads, r->wait_error));
}

static const char *limit_text(long v, char *buf, size_t len)
{
    if (v < 0)
        snprintf(buf, len, "unlimited");
    else
        snprintf(buf, len, "%ld", v);
    return buf;
}

static void print_limits(const struct limits *l)
{
    char nproc[32], as[32], cg[64] = "none";
    if (l->cg_pids_max >= 0)
        snprintf(cg, sizeof cg, "%ld (%ld in use)", l->cg_pids_max, l->cg_pids);
    printf("Limits here: ulimit -u %s%s, kernel.threads-max %ld,\n"
           "  kernel.pid_max %ld, vm.max_map_count %ld, ulimit -v %s%s, cgroup pids.max %s,\n"
           "  %ld MiB available, %ld CPUs\n", limit_text(l->nproc, nproc, sizeof nproc),
           l->nproc_exempt ? " (not enforced: root)" : "", l->threads_max, l->pid_max,
           l->max_map_count, limit_text(l->as_kib, as, sizeof as), l->as_kib < 0 ? "" : " KiB",
           cg, l->avail_kib / 1024, sysconf(_SC_NPROCESSORS_ONLN));
}

/* Raise the soft RLIMIT_NOFILE to the hard one; returns the limit in force. */
static long raise_fd_limit(long *before)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return *before = -1;
    *before = (long)rl.rlim_cur;
    if (rl.rlim_cur != rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur == RLIM_INFINITY ? 1L << 30 : (long)rl.rlim_cur;
}

static void run_variant(enum variant v, const long *sizes, int count, long *thread_rss_kib)
{
    printf("\n  %6s  %-8s %12s %12s %13s %13s\n", "N", "kind", "create", "wall", "peak memory",
           "per waiter");
    for (int i = 0; i < count; i++) {
        struct result r;
        for (int k = 0; k < 2; k++) {
            if (measure(v, k == 0, sizes[i], &r) == 0) {
                print_row(k == 0, &r);
                if (k == 0 && r.created > 0 && r.created >= 1000)
                    *thread_rss_kib = (r.peak_kib - r.base_kib) / r.created;
            } else {
                printf("  %6ld  %-8s the measuring child process died\n", sizes[i],
                       k == 0 ? "threads" : "tasks");
            }
        }
        fflush(stdout);
    }
}

int main(int argc, char **argv)
{
    long sizes[MAX_SIZES] = { 100, 1000, 10000 };
    int count = 3, given = 0, variants = 0;
    job.wait_ms = 1000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            sizes[0] = 100, sizes[1] = 1000, count = 2, job.wait_ms = 200;
        } else if (strcmp(argv[i], "--timer") == 0) {
            variants |= VARIANT_TIMER;
        } else if (strcmp(argv[i], "--socket") == 0) {
            variants |= VARIANT_SOCKET;
        } else if (strcmp(argv[i], "--wait-ms") == 0 && i + 1 < argc) {
            job.wait_ms = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--help") == 0) {
            printf("usage: threads_vs_tasks [--quick] [--timer | --socket] [--wait-ms MS] "
                   "[N...]\n"
                   "  N waiters wait MS ms (default 1000) as threads and as tasks, each on a\n"
                   "  timer (--timer) and on a socket to the built-in httpbin (--socket);\n"
                   "  default: both variants, N = 100 1000 10000.  --quick: N = 100 1000, MS 200.\n");
            return 0;
        } else if (atol(argv[i]) > 0 && given < MAX_SIZES) {
            sizes[given++] = atol(argv[i]);
            count = given;
        } else {
            fprintf(stderr, "threads_vs_tasks: bad argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }
    if (variants == 0)
        variants = VARIANT_TIMER | VARIANT_SOCKET;
    if (job.wait_ms < 0 || job.wait_ms > HTTPBIN_DELAY_MAX_MS) {
        fprintf(stderr, "threads_vs_tasks: --wait-ms must be 0..%d\n", HTTPBIN_DELAY_MAX_MS);
        return 2;
    }

    struct limits here;
    limits_snapshot(&here, 0, 0);
    printf("N waiters each wait %d ms: as OS threads (pthreads, 64 KiB stacks) and as coloop "
           "tasks\n(64 KiB stacks, %s switch, one loop); each run in a child process of its "
           "own.\n", job.wait_ms, coro_switch_kind());
    print_limits(&here);
    long thread_rss_kib = 0;

    if (variants & VARIANT_TIMER) {
        printf("\nVariant 1, timer: each waiter sleeps %d ms (threads: clock_nanosleep; tasks: "
               "await_sleep_ms).\n", job.wait_ms);
        run_variant(VARIANT_TIMER, sizes, count, &thread_rss_kib);
    }

    if (variants & VARIANT_SOCKET) {
        long before, fd_limit = raise_fd_limit(&before), largest = 0;
        for (int i = 0; i < count; i++)
            largest = sizes[i] > largest ? sizes[i] : largest;
        struct target t = { .pid = -1, .port = 0 };
        char path[600] = "coloop-httpbin";
        int rc = target_path(path, sizeof path);
        if (rc == 0)
            rc = target_start(&t, path);
        printf("\nVariant 2, socket: each waiter connects to the built-in httpbin and GETs "
               "/delay/%d\n(threads: blocking sockets; tasks: sock_await_*).  The target, "
               "coloop-httpbin, runs\nin a process of its own (port %d), so its memory is not "
               "counted and each side\nneeds only its own N + %d descriptors (%ld at N=%ld): "
               "ulimit -n %ld", job.wait_ms, t.port, FDS_SPARE, largest + FDS_SPARE, largest,
               fd_limit);
        if (before != fd_limit)
            printf(" (the soft limit, raised from %ld)", before);
        printf(".\n");
        if (rc < 0) {
            printf("  cannot start the target %s: %s (make demos builds it)\n", path,
                   strerror(-rc));
            return 1;
        }
        job.port = t.port;
        job.request_len = (size_t)snprintf(job.request, sizeof job.request,
                                           "GET /delay/%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                                           "Connection: close\r\n\r\n", job.wait_ms, t.port);
        for (int i = 0; i < count; i++)
            if (sizes[i] + FDS_SPARE > fd_limit) {
                printf("  N=%ld needs %ld descriptors per process, more than ulimit -n %ld: "
                       "running %ld instead\n", sizes[i], sizes[i] + FDS_SPARE, fd_limit,
                       fd_limit - FDS_SPARE);
                sizes[i] = fd_limit - FDS_SPARE > 1 ? fd_limit - FDS_SPARE : 1;
            }
        run_variant(VARIANT_SOCKET, sizes, count, &thread_rss_kib);
        target_stop(&t);
    }

    char first[256];
    long room = thread_headroom(&here, thread_rss_kib, first, sizeof first);
    printf("\nWhat it shows: both kinds wait concurrently, so the wall time stays ~%d ms%s\n"
           "The difference is cost: a thread is a kernel object with its own stack and a\n"
           "system call to create, a task is a malloc and a cached stack. In C on Linux,\n"
           "tens of thousands of threads are possible: here threads would first fail at\n"
           "about %ld, stopped by %s.\n"
           "\"Threads top out at hundreds\" is about Python's threads, not the kernel's.\n",
           job.wait_ms, variants & VARIANT_SOCKET ? "\n(on sockets, plus setting up N "
           "connections to one server)." : ".", room, first);
    return 0;
}
