/* Helpers for the CLI, tests and benchmarks: wall-clock time and resident
 * memory. Not part of the stable API (Linux-specific: /proc/self/status);
 * not included by clscale.h. */
#ifndef CLSCALE_SYS_H
#define CLSCALE_SYS_H

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

#ifdef __cplusplus
}
#endif

#endif /* CLSCALE_SYS_H */
