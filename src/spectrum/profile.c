/* Phase timers for the spectrum passes, a debugging aid: off unless the
 * environment names a file in CLS_SPECTRUM_PROFILE, then each public call
 * appends one line per phase (wall and process CPU seconds, all threads)
 * to that file. The library itself never prints. Only the calling thread
 * marks phases; the cost when off is one branch per mark. */
#include "spectrum_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SPEC_PROF_MAX 24

static _Thread_local struct { /* per host thread: concurrent spectrum calls do not share it */
    const char *file;
    int on, count;
    double wall0, cpu0;
    const char *name[SPEC_PROF_MAX];
    double wall[SPEC_PROF_MAX], cpu[SPEC_PROF_MAX];
} prof;

static double now(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void spec_prof_begin(void)
{
    prof.file = getenv("CLS_SPECTRUM_PROFILE");
    prof.on = prof.file && *prof.file;
    prof.count = 0;
    if (!prof.on) return;
    prof.wall0 = now(CLOCK_MONOTONIC);
    prof.cpu0 = now(CLOCK_PROCESS_CPUTIME_ID);
}

void spec_prof_mark(const char *phase)
{
    if (!prof.on) return;
    double w = now(CLOCK_MONOTONIC), c = now(CLOCK_PROCESS_CPUTIME_ID);
    int k = 0;
    while (k < prof.count && strcmp(prof.name[k], phase)) k++;
    if (k == prof.count) {
        if (k == SPEC_PROF_MAX) return;
        prof.name[prof.count++] = phase;
        prof.wall[k] = prof.cpu[k] = 0;
    }
    prof.wall[k] += w - prof.wall0;
    prof.cpu[k] += c - prof.cpu0;
    prof.wall0 = w;
    prof.cpu0 = c;
}

void spec_prof_end(void)
{
    if (!prof.on) return;
    FILE *f = fopen(prof.file, "a");
    prof.on = 0;
    if (!f) return; /* a debugging aid: nothing to report it to */
    double tw = 0, tc = 0;
    for (int k = 0; k < prof.count; k++) {
        fprintf(f, "%-24s %8.3f wall %8.3f cpu\n", prof.name[k], prof.wall[k], prof.cpu[k]);
        tw += prof.wall[k], tc += prof.cpu[k];
    }
    fprintf(f, "%-24s %8.3f wall %8.3f cpu\n", "total", tw, tc);
    fclose(f);
}
