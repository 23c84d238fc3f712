/* Internal helpers shared by every module (not installed, not public).
 * Modules include this as "../core/internal.h"; core is the one folder every
 * other module may depend on. */
#ifndef CLS_CORE_INTERNAL_H
#define CLS_CORE_INTERNAL_H

#include "clscale.h"
#include "clscale/sys.h"

#include <stdarg.h>

#if defined(__GNUC__)
#define CLS_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CLS_PRINTF(f, a)
#endif

/* Record a formatted message as this thread's last error and return status, so
 * callers can write `return cls_set_error(CLS_E_SHAPE, "b has %d rows", n);`. */
cls_status cls_set_error(cls_status status, const char *fmt, ...) CLS_PRINTF(2, 3);

/* Prefix the current error message with "context: " (for callers that add
 * where a failure happened, e.g. a file name). Returns status unchanged. */
cls_status cls_error_context(cls_status status, const char *fmt, ...) CLS_PRINTF(2, 3);

/* The first error raised inside OpenMP worker threads, with its message: the
 * message buffer is thread-local, so the caller's thread re-raises it after
 * the region (cls_worker_report). Initialise with {CLS_OK, {0}}. */
typedef struct {
    cls_status status;
    char message[512];
} cls_worker_error;
void cls_worker_fail(cls_worker_error *e, cls_status status); /* no-op for CLS_OK */
cls_status cls_worker_report(const cls_worker_error *e);

/* Scan a rows x cols row-major array for NaN/Inf; on the first one, set an
 * error naming it as name[row][col] and return CLS_E_NONFINITE. */
cls_status cls_check_finite_f32(const float *x, int64_t rows, int64_t cols, const char *name);
cls_status cls_check_finite_f64(const double *x, int64_t rows, int64_t cols, const char *name);

/* Allocation helpers that set an error message on failure (return NULL). The
 * memory is 64-byte aligned and must be released with cls_free (public, in
 * clscale.h). */
void *cls_alloc(size_t bytes, const char *what);
void *cls_calloc(size_t count, size_t size, const char *what);

/* Overflow-checked size product: returns 0 and sets an error if a*b*c would
 * overflow size_t (all of a, b, c must be >= 0). */
int cls_size_mul(size_t *out, int64_t a, int64_t b, int64_t c);

/* Thread settings: cls_thread_state, cls_threads_enter and cls_threads_leave
 * are declared in clscale/sys.h (exported for the CLI's benchmarks). Every
 * public entry point that runs BLAS or OpenMP work brackets it with them, so
 * a call changes the host's settings only while it runs:
 *
 *     cls_thread_state saved;
 *     cls_threads_enter(opt->threads, &saved);   // BLAS and the OpenMP default = threads
 *     ... work ...
 *     cls_threads_leave(&saved);                  // the caller's values again
 *
 * No other file calls openblas_set_num_threads or omp_set_num_threads.
 *
 * cls_threads_enter_local is the form for code already inside one of our
 * parallel regions: it sets only this thread's OpenMP default (a per-task
 * setting) and leaves the process-wide BLAS count alone; cls_threads_leave
 * then restores only the OpenMP default. */
void cls_threads_enter_local(int threads, cls_thread_state *saved);

/* 1 when OMP_WAIT_POLICY asks for passive waiting: idle OpenMP threads sleep
 * in the kernel, so code that opens thousands of tiny parallel regions
 * (BLAS-2 loops) pays a wake-up per region and can run faster on one thread. */
int cls_omp_wait_passive(void);

/* cls_errno_string (thread-safe strerror) and cls_strtod_c (strtod in the
 * "C" locale) are declared in clscale/sys.h: use them instead of strerror and
 * strtod/atof everywhere (the CLI too). */

#endif
