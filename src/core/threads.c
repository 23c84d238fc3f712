/* Thread-count resolution and OpenBLAS thread control.
 *
 * We use the OpenMP build of OpenBLAS: it shares the OpenMP runtime with our
 * own loops, so a BLAS call issued from inside one of our parallel regions
 * runs single-threaded instead of oversubscribing the cores. */
#include "internal.h"

#include <omp.h>

/* Provided by OpenBLAS. */
extern void openblas_set_num_threads(int num_threads);
extern int openblas_get_num_threads(void);

int cls_threads_resolve(int threads)
{
    if (threads > 0) return threads;
    int n = omp_get_num_procs();
    return n > 0 ? n : 1;
}

int cls_blas_set_threads(int threads)
{
    int previous = openblas_get_num_threads();
    openblas_set_num_threads(cls_threads_resolve(threads));
    return previous;
}
