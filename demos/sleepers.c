/* sleepers.c - the placeholder for `make demo`: waiting, done one after another
 * and all at once.  (The real headline experiment, HTTP requests against the
 * built-in server, replaces it when http/ lands.)
 *
 * Each "job" waits 200 ms, the way a request waits for a slow server.  Done
 * one after another, N jobs take N x 200 ms.  Done as N tasks on one loop,
 * they all wait at the same time and take ~200 ms in total: async is about
 * waiting efficiently, not about computing faster.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "coloop.h"

#define WAIT_MS 200

static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static int job(void *arg)
{
    (void)arg;
    return await_sleep_ms(WAIT_MS);
}

static int one_after_another(void *arg)
{
    int n = *(int *)arg;
    for (int i = 0; i < n; i++) {
        co_task *t;
        int rc = task_spawn(&t, job, NULL);
        if (rc < 0)
            return rc;
        await_task(t, NULL, CO_NO_DEADLINE);   /* wait for each before starting the next */
    }
    return 0;
}

static int all_at_once(void *arg)
{
    int n = *(int *)arg;
    co_task **tasks = calloc((size_t)n, sizeof *tasks);
    int started = 0, rc = 0;
    for (; started < n; started++)              /* start them all... */
        if ((rc = task_spawn(&tasks[started], job, NULL)) < 0)
            break;
    for (int i = 0; i < started; i++)           /* ...then wait for them all */
        await_task(tasks[i], NULL, CO_NO_DEADLINE);
    free(tasks);
    return rc;
}

int main(int argc, char **argv)
{
    int sequential_n = 10;
    int concurrent_n = argc > 1 ? atoi(argv[1]) : 10000;
    struct timespec start;

    printf("Each job waits %d ms, like a request to a slow server.\n\n", WAIT_MS);
    clock_gettime(CLOCK_MONOTONIC, &start);
    int rc = co_run(one_after_another, &sequential_n);
    double seq = seconds_since(&start);
    printf("  %6d jobs, awaited one after another: %6.2f s  (%.0f ms per job)\n",
           sequential_n, seq, seq * 1000 / sequential_n);

    clock_gettime(CLOCK_MONOTONIC, &start);
    rc = rc < 0 ? rc : co_run(all_at_once, &concurrent_n);
    double conc = seconds_since(&start);
    if (rc < 0) {
        fprintf(stderr, "demo failed: %s\n", co_strerror(rc));
        return 1;
    }
    printf("  %6d jobs, all started, then joined:  %6.2f s\n\n", concurrent_n, conc);
    printf("One after another, %d jobs would take %.0f s; as tasks on one loop they took %.2f s.\n"
           "The waiting overlapped: the CPU work per job is the same either way.\n",
           concurrent_n, seq / sequential_n * concurrent_n, conc);
    return 0;
}
