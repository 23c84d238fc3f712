/* Thread-count resolution and OpenBLAS thread control.
 *
 * We use the OpenMP build of OpenBLAS: it shares the OpenMP runtime with our
 * own loops, so a BLAS call issued from inside one of our parallel regions
 * runs single-threaded instead of oversubscribing the cores. */
#include "internal.h"

#include <omp.h>
#include <stdlib.h>
#include <strings.h>

/* Provided by OpenBLAS. */
extern void openblas_set_num_threads(int num_threads);
extern int openblas_get_num_threads(void);

int cls_threads_resolve(int threads)
{
    if (threads > 0) return threads;
    int n = omp_get_num_procs();
    return n > 0 ? n : 1;
}

/* Set the number of threads BLAS may use for calls made outside our own
 * OpenMP regions; returns the previous count. With the OpenMP build of
 * OpenBLAS this also sets OpenMP's default team size, and OpenBLAS re-syncs its
 * count to that default before each call unless the count is 1: so it is only
 * ever used through cls_threads_enter/leave, which save and restore both. */
static int blas_set_threads(int threads)
{
    int previous = openblas_get_num_threads();
    openblas_set_num_threads(cls_threads_resolve(threads));
    return previous;
}

void cls_threads_enter(int threads, cls_thread_state *saved)
{
    if (!saved) return;
    saved->omp = omp_get_max_threads();
    saved->blas = blas_set_threads(threads); /* also sets the OpenMP default */
    omp_set_num_threads(cls_threads_resolve(threads));
}

void cls_threads_enter_local(int threads, cls_thread_state *saved)
{
    if (!saved) return;
    saved->blas = 0; /* process-wide: not touched from inside a region */
    saved->omp = omp_get_max_threads();
    omp_set_num_threads(cls_threads_resolve(threads));
}

void cls_threads_leave(const cls_thread_state *saved)
{
    if (!saved) return;
    if (saved->blas > 0) openblas_set_num_threads(saved->blas);
    if (saved->omp > 0) omp_set_num_threads(saved->omp);
}

int cls_omp_wait_passive(void)
{
    const char *p = getenv("OMP_WAIT_POLICY");
    return p && strcasecmp(p, "passive") == 0;
}
