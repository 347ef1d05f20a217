/* backtrace.c - return addresses to "function at file:line" (see backtrace.h).
 *
 * Two sources of addresses: glibc's backtrace() for a thread that is running
 * (called from a signal handler on that thread, in watchdog.c), and
 * bt_scan_stack() for a thread blocked in a system call, which reads the
 * blocked task's stack from the watchdog thread without disturbing it.
 *
 * The scan keeps a word only if it points into executable code right after
 * something that looks like a call instruction: `call rel32` (E8 xx xx xx xx),
 * or `call *...` (FF /2) in its 2-, 3- and 6-byte forms.  x86-64 only; on
 * other machines every word in code is kept.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "runtime/backtrace.h"

#define MAX_SEGMENTS 128

struct code_segment {
    uintptr_t start, end;   /* executable bytes [start, end) */
    uintptr_t bias;         /* the object's load bias (addr2line wants addr - bias) */
    bool is_program;        /* the main executable, not a shared library */
};

static struct code_segment segments[MAX_SEGMENTS];
static int segment_count;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static int collect_segment(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    int *object_index = arg;
    for (int i = 0; i < info->dlpi_phnum && segment_count < MAX_SEGMENTS; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        segments[segment_count++] = (struct code_segment){
            start, start + ph->p_memsz, info->dlpi_addr, *object_index == 0 };
    }
    (*object_index)++;
    return 0;
}

static void load_segments(void)
{
    int object_index = 0;   /* dl_iterate_phdr lists the program first */
    dl_iterate_phdr(collect_segment, &object_index);
}

void bt_init(void)
{
    pthread_once(&init_once, load_segments);
}

static const struct code_segment *segment_of(uintptr_t addr)
{
    for (int i = 0; i < segment_count; i++)
        if (addr >= segments[i].start && addr < segments[i].end)
            return &segments[i];
    return NULL;
}

static bool follows_a_call(const struct code_segment *seg, uintptr_t ret)
{
#if defined(__x86_64__)
    if (ret < seg->start + 6)
        return false;
    const unsigned char *p = (const unsigned char *)ret;
    if (p[-5] == 0xe8)
        return true;                                   /* call rel32 */
    if (p[-2] == 0xff && (p[-1] & 0x38) == 0x10)
        return true;                                   /* call *%reg, call *(%reg) */
    if (p[-3] == 0xff && (p[-2] & 0x38) == 0x10)
        return true;                                   /* call *disp8(%reg), SIB forms */
    return p[-6] == 0xff && (p[-5] & 0x38) == 0x10;   /* call *disp32(...), call *x(%rip) */
#else
    (void)seg;
    (void)ret;
    return true;
#endif
}

/* Reading another task's stack word by word crosses AddressSanitizer's
 * redzones between its frames on purpose: tell ASan this function may. */
__attribute__((no_sanitize_address))
int bt_scan_stack(uintptr_t sp, uintptr_t top, uintptr_t *pcs, int max)
{
    int n = 0;
    for (uintptr_t at = sp & ~(uintptr_t)7; at + sizeof(uintptr_t) <= top && n < max; at += 8) {
        uintptr_t word = *(const uintptr_t *)at;
        const struct code_segment *seg = segment_of(word);
        if (seg && follows_a_call(seg, word))
            pcs[n++] = word;
    }
    return n;
}

/* What addr2line said about one program frame. */
struct frame_name {
    bool ok;
    char func[256];
    char where[512];
};

#define BT_SYMBOLISE_MAX 64     /* frames looked up in one addr2line run */

/* Ask ONE addr2line process for "function\nfile:line" of every program
 * address in offsets[0..n) (one process per frame made a 4-frame report
 * take over 100 ms, so the watchdog's "has held the loop" could arrive after
 * the task had already let go).  names[i].ok is false where it had no
 * answer. */
static void addr2line_all(const uintptr_t *offsets, int n, struct frame_name *names)
{
    char cmd[96 + BT_SYMBOLISE_MAX * 20];
    int len = snprintf(cmd, sizeof cmd, "addr2line -f -C -e /proc/%d/exe", (int)getpid());
    for (int i = 0; i < n; i++)
        len += snprintf(cmd + len, sizeof cmd - (size_t)len, " 0x%lx", (unsigned long)offsets[i]);
    snprintf(cmd + len, sizeof cmd - (size_t)len, " 2>/dev/null");
    FILE *p = popen(cmd, "r");
    if (!p)
        return;
    for (int i = 0; i < n; i++) {
        struct frame_name *nm = &names[i];
        if (!fgets(nm->func, sizeof nm->func, p) || !fgets(nm->where, sizeof nm->where, p))
            break;
        nm->func[strcspn(nm->func, "\n")] = '\0';
        nm->where[strcspn(nm->where, "\n")] = '\0';
        nm->ok = strcmp(nm->func, "??") != 0;
    }
    pclose(p);
}

/* The address to look up for frame i: the call, not what follows it. */
static uintptr_t lookup_address(const uintptr_t *pcs, int i, int first_is_pc)
{
    return (i == 0 && first_is_pc) ? pcs[i] : pcs[i] - 1;
}

static void print_frame(FILE *out, int i, uintptr_t pc, uintptr_t lookup,
                        const struct frame_name *name)
{
    if (name && name->ok) {
        fprintf(out, "    #%-2d %s at %s\n", i, name->func, name->where);
        return;
    }
    Dl_info info;
    if (dladdr((void *)lookup, &info) && info.dli_fname) {
        const char *object = strrchr(info.dli_fname, '/');
        object = object ? object + 1 : info.dli_fname;
        if (info.dli_sname)
            fprintf(out, "    #%-2d %s+0x%lx (%s)\n", i, info.dli_sname,
                    (unsigned long)(lookup - (uintptr_t)info.dli_saddr), object);
        else
            fprintf(out, "    #%-2d %s+0x%lx\n", i, object,
                    (unsigned long)(lookup - (uintptr_t)info.dli_fbase));
        return;
    }
    fprintf(out, "    #%-2d 0x%lx\n", i, (unsigned long)pc);
}

void bt_print(FILE *out, const uintptr_t *pcs, int n, int first_is_pc)
{
    /* Collect the frames in the program itself (libraries are named by
     * dladdr), symbolise them in one go, then print every frame in order. */
    uintptr_t offsets[BT_SYMBOLISE_MAX];
    int slot[BT_SYMBOLISE_MAX];
    struct frame_name names[BT_SYMBOLISE_MAX];
    int wanted = 0;
    for (int i = 0; i < n && i < BT_SYMBOLISE_MAX; i++) {
        uintptr_t lookup = lookup_address(pcs, i, first_is_pc);
        const struct code_segment *seg = segment_of(lookup);
        slot[i] = -1;
        if (seg && seg->is_program) {
            slot[i] = wanted;
            offsets[wanted++] = lookup - seg->bias;
        }
    }
    memset(names, 0, sizeof names);
    if (wanted > 0)
        addr2line_all(offsets, wanted, names);
    for (int i = 0; i < n; i++) {
        int k = i < BT_SYMBOLISE_MAX ? slot[i] : -1;
        print_frame(out, i, pcs[i], lookup_address(pcs, i, first_is_pc), k >= 0 ? &names[k] : NULL);
    }
}
