/* Checked allocation and array validation helpers. */
#include "internal.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void *cls_alloc(size_t bytes, const char *what)
{
    void *p = NULL;
    size_t rounded = (bytes + 63) & ~(size_t)63;
    if (rounded == 0) rounded = 64;
    if (posix_memalign(&p, 64, rounded) != 0) p = NULL;
    if (!p) cls_set_error(CLS_E_NOMEM, "cannot allocate %zu bytes for %s", bytes, what);
    return p;
}

void *cls_calloc(size_t count, size_t size, const char *what)
{
    if (size != 0 && count > SIZE_MAX / size) {
        cls_set_error(CLS_E_NOMEM, "size of %s overflows (%zu x %zu)", what, count, size);
        return NULL;
    }
    void *p = cls_alloc(count * size, what);
    if (p) memset(p, 0, count * size);
    return p;
}

void cls_free(void *p) { free(p); }

int cls_size_mul(size_t *out, int64_t a, int64_t b, int64_t c)
{
    if (a < 0 || b < 0 || c < 0) {
        cls_set_error(CLS_E_INVALID_ARG, "negative size (%lld x %lld x %lld)",
                      (long long)a, (long long)b, (long long)c);
        return 0;
    }
    size_t r = (size_t)a;
    if (b != 0 && r > SIZE_MAX / (size_t)b) goto overflow;
    r *= (size_t)b;
    if (c != 0 && r > SIZE_MAX / (size_t)c) goto overflow;
    r *= (size_t)c;
    *out = r;
    return 1;
overflow:
    cls_set_error(CLS_E_INVALID_ARG, "size overflows (%lld x %lld x %lld)",
                  (long long)a, (long long)b, (long long)c);
    return 0;
}

cls_status cls_check_finite_f32(const float *x, int64_t rows, int64_t cols, const char *name)
{
    int64_t n = rows * cols;
    /* a branch-free scan first (it vectorises: NaN/Inf have every exponent
     * bit set), then the loop below only when there is something to name */
    uint32_t bad = 0;
    for (int64_t k = 0; k < n; k++) {
        uint32_t u;
        memcpy(&u, x + k, sizeof u);
        bad |= (uint32_t)((u & 0x7f800000u) == 0x7f800000u);
    }
    if (!bad) return CLS_OK;
    for (int64_t k = 0; k < n; k++) {
        if (!isfinite(x[k]))
            return cls_set_error(CLS_E_NONFINITE, "%s[%lld][%lld] is %s", name,
                                 (long long)(k / cols), (long long)(k % cols),
                                 isnan(x[k]) ? "NaN" : "Inf");
    }
    return CLS_OK;
}

cls_status cls_check_finite_f64(const double *x, int64_t rows, int64_t cols, const char *name)
{
    int64_t n = rows * cols;
    for (int64_t k = 0; k < n; k++) {
        if (!isfinite(x[k]))
            return cls_set_error(CLS_E_NONFINITE, "%s[%lld][%lld] is %s", name,
                                 (long long)(k / cols), (long long)(k % cols),
                                 isnan(x[k]) ? "NaN" : "Inf");
    }
    return CLS_OK;
}
