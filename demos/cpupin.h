/* cpupin.h - placing a benchmark's server and client on different CPUs.
 *
 * The benchmarks (clientbench, serverbench) run a server and a client on the
 * same machine.  Left to the scheduler, the two sometimes share a core and
 * sometimes not, and the same build measured 0.67x to 1.30x of wrk in four
 * runs.  Pinned - the server to the first CPU this process may use, the
 * client to the second - every run meets the same conditions, which is what a
 * ratio needs.  With one CPU nothing is pinned and both share it.
 *
 * Affinity is per thread and inherited: a thread pinned before it forks a
 * server process or starts a server thread hands the pin down, so the
 * pattern is "pin to the server CPU, start the server, pin to the client CPU".
 */
#ifndef COLOOP_DEMOS_CPUPIN_H
#define COLOOP_DEMOS_CPUPIN_H

#include <sched.h>
#include <stdio.h>

/* The n-th CPU this process may run on (0-based), or -1 if there is none. */
static inline int cpupin_nth_allowed(int n)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return -1;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, &set) && n-- == 0)
            return cpu;
    return -1;
}

/* Pin the calling thread (and what it starts from now on) to `cpu`;
 * -1 leaves it alone. */
static inline void cpupin_to(int cpu)
{
    if (cpu < 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0)
        perror("sched_setaffinity");
}

struct cpupin_plan {
    int server_cpu, client_cpu;   /* -1, -1 with a single CPU */
    cpu_set_t allowed;            /* every CPU the process could use at the start */
};

/* Decide the placement (does not pin anything yet) and say it on stdout. */
static inline struct cpupin_plan cpupin_plan_print(const char *prog)
{
    struct cpupin_plan p = { cpupin_nth_allowed(0), cpupin_nth_allowed(1), { { 0 } } };
    if (sched_getaffinity(0, sizeof p.allowed, &p.allowed) != 0)
        CPU_ZERO(&p.allowed);
    if (p.client_cpu < 0) {
        p.server_cpu = -1;
        printf("%s: one CPU: server and client share it\n", prog);
    } else {
        printf("%s: server pinned to CPU %d, client(s) to CPU %d\n", prog, p.server_cpu,
               p.client_cpu);
    }
    return p;
}

/* Undo the pinning for the calling thread: every CPU allowed at the start. */
static inline void cpupin_release(const struct cpupin_plan *p)
{
    if (CPU_COUNT(&p->allowed) > 0)
        sched_setaffinity(0, sizeof p->allowed, &p->allowed);
}

#endif
