/* stack.c - mapping, guarding, caching and budgeting coroutine stacks.
 *
 * Layout of one guarded stack (addresses grow to the right):
 *
 *     map                lo                                    lo + size
 *     | guard page       | usable stack  <- grows down from here |
 *     | PROT_NONE        | PROT_READ|PROT_WRITE                  |
 *
 * The pages are reserved, not committed: the kernel hands out physical memory
 * only for pages a task actually touches, so an idle task with a 64 KiB stack
 * costs a page or two of RAM.
 *
 * The limit nobody expects: every guarded stack is two kernel mappings (the
 * RW part and the guard), and a process may hold vm.max_map_count of them
 * (65530 by default), so only ~32,700 guarded stacks fit.  Worse, at the limit
 * unrelated calls (malloc of a large block, fopen) fail too.  So we keep a
 * budget with headroom and refuse a new guarded stack with a clear message
 * before the kernel refuses everything.  Unguarded stacks (an explicit opt-in)
 * are adjacent mappings with the same protection, which the kernel merges, so
 * they do not count against the budget.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "runtime/error.h"
#include "runtime/sanitizers.h"
#include "runtime/stack.h"

/* Mappings left for libc, the loader and the program: ~1000 maps of room. */
#define MAP_HEADROOM 1024

static atomic_long guarded_in_use;
static atomic_long guarded_limit_override;   /* 0 = use the computed limit */
static long guarded_limit_computed = -1;     /* computed once; a benign race at worst recomputes */
static _Thread_local char error_detail[256];

static long read_long_file(const char *path, long fallback)
{
    FILE *f = fopen(path, "r");
    long value = fallback;
    if (f) {
        if (fscanf(f, "%ld", &value) != 1)
            value = fallback;
        fclose(f);
    }
    return value;
}

static long count_current_mappings(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return 0;
    long lines = 0;
    int ch;
    while ((ch = getc(f)) != EOF)
        lines += (ch == '\n');
    fclose(f);
    return lines;
}

static long compute_guarded_limit(void)
{
    long max_maps = read_long_file("/proc/sys/vm/max_map_count", 65530);
    long room = max_maps - count_current_mappings() - MAP_HEADROOM;
    return room > 0 ? room / 2 : 0;
}

long stack_guarded_limit(void)
{
    long forced = atomic_load(&guarded_limit_override);
    if (forced > 0)
        return forced;
    if (guarded_limit_computed < 0)
        guarded_limit_computed = compute_guarded_limit();
    return guarded_limit_computed;
}

void stack_set_guarded_limit(long limit)
{
    atomic_store(&guarded_limit_override, limit > 0 ? limit : 0);
}

long stack_guarded_in_use(void)
{
    return atomic_load(&guarded_in_use);
}

const char *stack_error_detail(void)
{
    return error_detail;
}

/* Claim one slot of the guarded-stack budget, or explain why not. */
static int reserve_guarded_slot(void)
{
    long limit = stack_guarded_limit();
    long used = atomic_fetch_add(&guarded_in_use, 1);
    if (used < limit)
        return 0;
    atomic_fetch_sub(&guarded_in_use, 1);
    snprintf(error_detail, sizeof error_detail,
             "%ld guarded stacks exist and the budget is %ld (each takes 2 of the "
             "vm.max_map_count=%ld mappings); raise it with 'sysctl -w vm.max_map_count=262144', "
             "use fewer tasks, or spawn with guard pages off",
             used, limit, read_long_file("/proc/sys/vm/max_map_count", -1));
    return -CO_ENOSTACK;
}

/* Name the limit a failed stack mapping most likely hit: ENOMEM from mmap is
 * the address-space limit (ulimit -v), the overcommit policy or real memory;
 * from mprotect, which splits one mapping into two, it is vm.max_map_count. */
static void explain_map_failure(bool in_mprotect, size_t len, int err)
{
    const char *what = in_mprotect ? "mprotect (the guard page)" : "mmap";
    char limit[160] = "";
    struct rlimit as;
    if (err == ENOMEM && in_mprotect) {
        snprintf(limit, sizeof limit, "; the process is out of mappings: vm.max_map_count=%ld",
                 read_long_file("/proc/sys/vm/max_map_count", -1));
    } else if (err == ENOMEM && getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) {
        snprintf(limit, sizeof limit, "; the address-space limit RLIMIT_AS (ulimit -v) is %llu KiB",
                 (unsigned long long)as.rlim_cur / 1024);
    } else if (err == ENOMEM) {
        snprintf(limit, sizeof limit, "; out of memory (vm.overcommit_memory=%ld)",
                 read_long_file("/proc/sys/vm/overcommit_memory", -1));
    }
    snprintf(error_detail, sizeof error_detail, "%s of a %zu KiB task stack failed: %s%s", what,
             len / 1024, co_strerror(err), limit);
}

static size_t round_to_pages(size_t n, size_t page)
{
    return (n + page - 1) / page * page;
}

int stack_alloc(struct co_stack *s, size_t size, bool guarded)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (size < CO_STACK_MIN_SIZE)
        size = CO_STACK_MIN_SIZE;
    size = round_to_pages(size, page);
    if (guarded) {
        int rc = reserve_guarded_slot();
        if (rc < 0)
            return rc;
    }
    size_t len = size + (guarded ? page : 0);
    void *map = mmap(NULL, len, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    int err = errno;
    bool in_mprotect = false;
    if (map == MAP_FAILED)
        goto fail;
    if (guarded && mprotect(map, page, PROT_NONE) < 0) {
        err = errno;   /* ENOMEM here means the mapping count, not memory */
        in_mprotect = true;
        munmap(map, len);
        goto fail;
    }
    s->map = map;
    s->map_len = len;
    s->lo = (char *)map + (guarded ? page : 0);
    s->size = size;
    s->guarded = guarded;
    s->vg_id = CO_VALGRIND_STACK_REGISTER(s->lo, s->size);
    return 0;
fail:
    if (guarded)
        atomic_fetch_sub(&guarded_in_use, 1);
    explain_map_failure(in_mprotect, len, err);
    return -err;
}

void stack_free(struct co_stack *s)
{
    if (!s->map)
        return;
    CO_VALGRIND_STACK_DEREGISTER(s->vg_id);
    munmap(s->map, s->map_len);
    if (s->guarded)
        atomic_fetch_sub(&guarded_in_use, 1);
    memset(s, 0, sizeof *s);
}

int stack_cache_get(struct co_stack_cache *c, struct co_stack *s, size_t size, bool guarded)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t want = round_to_pages(size < CO_STACK_MIN_SIZE ? CO_STACK_MIN_SIZE : size, page);
    /* Most recently returned first: its pages are still warm and resident. */
    for (int i = c->count - 1; i >= 0; i--) {
        if (c->slots[i].size == want && c->slots[i].guarded == guarded) {
            *s = c->slots[i];
            c->slots[i] = c->slots[--c->count];
            c->hits++;
            return 0;
        }
    }
    c->misses++;
    return stack_alloc(s, want, guarded);
}

void stack_cache_put(struct co_stack_cache *c, struct co_stack *s)
{
    if (!s->map)
        return;
    if (c->count == CO_STACK_CACHE_MAX) {
        stack_free(s);
        return;
    }
    /* A finished task may leave ASan poison (redzones of its frames) behind;
     * the next task on this stack must start clean (RELIABILITY.md R1.7). */
    CO_ASAN_UNPOISON(s->lo, s->size);
    c->slots[c->count++] = *s;
    memset(s, 0, sizeof *s);
}

void stack_cache_drain(struct co_stack_cache *c)
{
    while (c->count > 0)
        stack_free(&c->slots[--c->count]);
}
