/* Data preparation before a fit, shared by `clscale fit` and the tests:
 * tokens from compute (D = C / (cost_factor N)), error from accuracy (1 - y),
 * and dropping the K highest y (Epoch drops Chinchilla's 5 highest losses). */
#include "fit_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void cls_fit_prep_options_init(cls_fit_prep_options *opt)
{
    if (!opt) return;
    memset(opt, 0, sizeof *opt);
    opt->cost_factor = 6.0;
}

typedef struct {
    double y;
    int64_t i;
} ranked;

/* Highest y first; ties (and NaNs, which rank first) by row index, so the
 * rows dropped do not depend on the sort implementation. */
static int cmp_desc(const void *a, const void *b)
{
    const ranked *p = a, *q = b;
    int pn = isnan(p->y), qn = isnan(q->y);
    if (pn != qn) return qn - pn;
    if (!pn && p->y != q->y) return p->y < q->y ? 1 : -1;
    return (p->i > q->i) - (p->i < q->i);
}

cls_status cls_fit_prepare(double *x, double *y, int nvars, int64_t *n, const cls_fit_prep_options *opt,
                           int64_t *kept)
{
    if (!x || !y || !n || !opt) return cls_set_error(CLS_E_INVALID_ARG, "fit prepare: NULL argument");
    const int64_t m = *n;
    if (m < 0) return cls_set_error(CLS_E_INVALID_ARG, "fit prepare: n = %lld", (long long)m);
    if (nvars < 1 || nvars > CLS_FIT_MAX_VARS)
        return cls_set_error(CLS_E_INVALID_ARG, "fit prepare: nvars must be in [1, %d], got %d",
                             CLS_FIT_MAX_VARS, nvars);
    if (opt->tokens_from_compute && nvars != 2)
        return cls_set_error(CLS_E_INVALID_ARG, "fit prepare: tokens from compute needs 2 columns "
                             "(N, C), got %d", nvars);
    if (opt->tokens_from_compute && !(opt->cost_factor > 0 && isfinite(opt->cost_factor)))
        return cls_set_error(CLS_E_INVALID_ARG, "fit prepare: cost_factor must be positive, got %g",
                             opt->cost_factor);
    if (opt->drop_top < 0 || opt->drop_top >= (m > 0 ? m : 1))
        return cls_set_error(CLS_E_INVALID_ARG, "fit prepare: dropping the %lld highest y leaves no "
                             "rows (%lld given)", (long long)opt->drop_top, (long long)m);
    ranked *rk = NULL;
    char *dropped = NULL;
    if (opt->drop_top > 0) {
        rk = malloc(sizeof *rk * (size_t)m);
        dropped = calloc((size_t)m, 1);
        if (!rk || !dropped) {
            free(rk);
            free(dropped);
            return cls_set_error(CLS_E_NOMEM, "fit prepare: out of memory (%lld rows)", (long long)m);
        }
    }
    if (opt->one_minus_y)
        for (int64_t i = 0; i < m; i++) y[i] = 1.0 - y[i];
    if (opt->tokens_from_compute)
        for (int64_t i = 0; i < m; i++) x[i * 2 + 1] /= opt->cost_factor * x[i * 2];
    if (opt->drop_top > 0) {
        for (int64_t i = 0; i < m; i++) rk[i] = (ranked){y[i], i};
        qsort(rk, (size_t)m, sizeof *rk, cmp_desc);
        for (int64_t d = 0; d < opt->drop_top; d++) dropped[rk[d].i] = 1;
    }
    /* Keep rows in their order, minus the dropped ones. */
    int64_t k = 0;
    for (int64_t i = 0; i < m; i++) {
        if (dropped && dropped[i]) continue;
        if (k != i) {
            memmove(x + k * nvars, x + i * nvars, sizeof(double) * (size_t)nvars);
            y[k] = y[i];
        }
        if (kept) kept[k] = i;
        k++;
    }
    free(rk);
    free(dropped);
    *n = k;
    return CLS_OK;
}
