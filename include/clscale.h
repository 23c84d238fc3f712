/* clscale: contrastive representation learning at scale.
 *
 * Umbrella header: version, status codes and error reporting, plus every
 * module's public header. Every fallible function returns cls_status
 * (CLS_OK == 0); on failure cls_last_error() holds a thread-local message that
 * says what went wrong and where. The library never exits, aborts or prints.
 *
 * Naming: options and configs are filled with defaults by cls_<x>_init(T *)
 * (or _config_init); objects and results that own memory are released by
 * cls_<x>_free (or _clear for a struct the caller owns). All of them accept
 * NULL as a no-op (tests/python/test_null_api.py calls every one found in the
 * headers with NULL). Counts are int64_t.
 * Timing and memory helpers for tools (Linux-specific) are in
 * clscale/sys.h, which is not part of the stable API.
 *
 * Threads and thread safety:
 * - Every function may be called from several host threads at once on
 *   different data: there is no hidden global state beyond the thread-local
 *   error message (cls_last_error) and the BLAS/OpenMP settings below. An
 *   object (cls_csv, cls_npy_reader, a result being filled) must not be used
 *   by two threads at the same time; const inputs may be shared.
 * - A `threads` field or argument is the number of threads a call may use
 *   for its own work: 0 (or negative) means all cores (omp_get_num_procs),
 *   1 runs everything on the calling thread. Same inputs, seed and thread
 *   count give the same bits.
 * - The library sets the OpenBLAS and OpenMP thread counts only inside a call
 *   and puts the caller's values back before it returns (core's
 *   cls_threads_enter/leave). The OpenMP default is per host thread; the
 *   OpenBLAS count is process-wide: two host threads calling at once with
 *   different counts may see BLAS use either count, so BLAS-based results
 *   (the spectrum) are bit-reproducible only when concurrent calls ask for
 *   the same count (e.g. threads = 1 in every host thread). A host program
 *   that runs its own parallel region around library calls gets
 *   single-threaded BLAS inside it (the OpenMP build of OpenBLAS), which is
 *   the intended use.
 * - Checked by tests/test_threads.c: the loss, the spectrum and the fitter
 *   called from two host threads at once (threads = 1) give the bits of the
 *   same calls made one at a time. */
#ifndef CLSCALE_H
#define CLSCALE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CLS_API marks the public, exported functions of libclscale. Everything else
 * is built with hidden visibility and stays internal to the library. */
#if defined(CLS_STATIC_ONLY)
#define CLS_API
#elif defined(__GNUC__)
#define CLS_API __attribute__((visibility("default")))
#else
#define CLS_API
#endif

/* CLS_VERSION_MAJOR/MINOR/PATCH/STRING/NUMBER, generated from CMake's project(VERSION). */
#include "clscale/version.h"

typedef enum {
    CLS_OK = 0,
    CLS_E_INVALID_ARG = 1,  /* a parameter is out of range or inconsistent */
    CLS_E_NONFINITE = 2,    /* NaN or Inf in input data */
    CLS_E_SHAPE = 3,        /* array shapes do not match or are empty */
    CLS_E_NOMEM = 4,        /* an allocation failed */
    CLS_E_IO = 5,           /* a file could not be opened, read or written */
    CLS_E_FORMAT = 6,       /* a file is corrupt or in an unsupported format */
    CLS_E_DTYPE = 7,        /* an array has an unsupported element type */
    CLS_E_NUMERIC = 8,      /* a numerical method failed (no convergence, singular) */
    CLS_E_UNSUPPORTED = 9,  /* a valid request this build cannot serve */
    CLS_E_INTERNAL = 10     /* a bug in clscale: please report it */
} cls_status;

/* Library version as a string, e.g. "0.1.0". */
CLS_API const char *cls_version(void);

/* Library version as a number, major * 10000 + minor * 100 + patch (0.1.0 -> 100),
 * for comparing the library loaded at run time with CLS_VERSION_NUMBER. */
CLS_API int cls_version_number(void);

/* Short name of a status code ("invalid argument", ...). Never NULL. */
CLS_API const char *cls_strerror(cls_status status);

/* Thread-local message describing the last failure on this thread
 * ("a[17][3] is NaN"). Empty string when nothing failed. Never NULL. */
CLS_API const char *cls_last_error(void);

/* Clear the thread-local error message. */
CLS_API void cls_clear_error(void);

/* Release memory the library hands out through an out-pointer (the arrays of
 * cls_npy_load_matrix_f32 and friends, cls_train_embed's outputs, ...; 64-byte
 * aligned allocations). NULL is a no-op. Memory handed
 * out inside a result struct is released by that struct's _free instead. */
CLS_API void cls_free(void *p);

/* Number of threads a request of `threads` resolves to: 0 (or negative) means
 * all cores, as reported by OpenMP. */
CLS_API int cls_threads_resolve(int threads);

#ifdef __cplusplus
}
#endif

#include "clscale/rng.h"
#include "clscale/stats.h"
#include "clscale/npy.h"
#include "clscale/csv.h"
#include "clscale/loss.h"
#include "clscale/spectrum.h"
#include "clscale/fit.h"
#include "clscale/theory.h"
#include "clscale/gemm.h"
#include "clscale/nn.h"
#include "clscale/optim.h"
#include "clscale/data.h"
#include "clscale/abi.h"
#include "clscale/eval.h"
#include "clscale/lab.h"

#endif /* CLSCALE_H */
