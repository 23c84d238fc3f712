/* Helpers for the CLI, tests and benchmarks: wall-clock time, resident
 * memory and thread settings. Not part of the stable API (Linux-specific: /proc/self/status);
 * not included by clscale.h. */
#ifndef CLSCALE_SYS_H
#define CLSCALE_SYS_H

#include <stddef.h>
#include <stdint.h>

#include "../clscale.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Wall-clock seconds from a monotonic clock (for timing runs). */
CLS_API double cls_now_seconds(void);

/* Peak resident set size of this process in bytes (VmHWM), 0 if unknown. */
CLS_API int64_t cls_peak_rss_bytes(void);

/* Current resident set size of this process in bytes (VmRSS), 0 if unknown. */
CLS_API int64_t cls_current_rss_bytes(void);

/* The calling host thread's OpenBLAS and OpenMP thread settings, saved by
 * cls_threads_enter and put back by cls_threads_leave. The library brackets
 * its own BLAS/OpenMP work with these; a tool that times BLAS at a chosen
 * thread count (clscale bench) does the same:
 *
 *     cls_thread_state saved;
 *     cls_threads_enter(threads, &saved);  // BLAS and the OpenMP default = threads
 *     ... work ...
 *     cls_threads_leave(&saved);           // the caller's values again
 *
 * threads <= 0 means all cores. threads == 1 pins BLAS to one thread (a
 * one-thread OpenMP team is not "active", so OpenBLAS would otherwise start
 * its own threads). The OpenMP default (nthreads-var) is per host thread; the
 * OpenBLAS count is process-wide, so concurrent calls with different counts
 * each see their own OpenMP setting but share the last BLAS count written.
 * A zero field in the saved state is left untouched by cls_threads_leave. */
typedef struct {
    int blas; /* openblas_get_num_threads(), 0: not saved */
    int omp;  /* omp_get_max_threads(), 0: not saved */
} cls_thread_state;

CLS_API void cls_threads_enter(int threads, cls_thread_state *saved);
CLS_API void cls_threads_leave(const cls_thread_state *saved);

/* strtod in the "C" locale, whatever LC_NUMERIC the host program set: '.' is
 * always the decimal point (plain strtod under de_DE reads "2.5" as 2). Same
 * contract as strtod (errno, end; end may be NULL). Thread-safe. */
CLS_API double cls_strtod_c(const char *s, char **end);

/* Thread-safe strerror: writes the message for errnum into buf (len bytes)
 * and returns buf (strerror's buffer is shared between threads). */
CLS_API const char *cls_errno_string(int errnum, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* CLSCALE_SYS_H */
