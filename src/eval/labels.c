/* Input checks and label-to-class mapping shared by the probe and k-NN. */
#include "eval_internal.h"

#include "../core/internal.h"

#include <stdlib.h>
#include <string.h>

static cls_status check_labels(const int64_t *y, int64_t n, const char *name)
{
    for (int64_t i = 0; i < n; i++)
        if (y[i] < 0) return cls_set_error(CLS_E_INVALID_ARG, "%s[%lld] is %lld (labels must be >= 0)", name,
                                           (long long)i, (long long)y[i]);
    return CLS_OK;
}

cls_status cls_eval_check_inputs(const float *train, const int64_t *train_labels, int64_t n_train,
                                 const float *test, const int64_t *test_labels, int64_t n_test,
                                 int64_t dim)
{
    if (n_train < 1) return cls_set_error(CLS_E_SHAPE, "the training set is empty");
    if (n_test < 1) return cls_set_error(CLS_E_SHAPE, "the test set is empty");
    if (dim < 1) return cls_set_error(CLS_E_SHAPE, "features have %lld columns", (long long)dim);
    if (!train || !train_labels || !test || !test_labels)
        return cls_set_error(CLS_E_INVALID_ARG, "NULL features or labels");
    cls_status st = cls_check_finite_f32(train, n_train, dim, "train");
    if (!st) st = cls_check_finite_f32(test, n_test, dim, "test");
    if (!st) st = check_labels(train_labels, n_train, "train_labels");
    if (!st) st = check_labels(test_labels, n_test, "test_labels");
    return st;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

cls_status cls_eval_classes(const int64_t *labels, int64_t n, int64_t **classes, int64_t *n_classes)
{
    *classes = NULL;
    int64_t *c = cls_alloc((size_t)n * sizeof *c, "class list");
    if (!c) return CLS_E_NOMEM;
    memcpy(c, labels, (size_t)n * sizeof *c);
    qsort(c, (size_t)n, sizeof *c, cmp_i64);
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        if (k == 0 || c[i] != c[k - 1]) c[k++] = c[i];
    if (k < 2) {
        cls_free(c);
        return cls_set_error(CLS_E_INVALID_ARG, "the training labels hold a single class (%lld): need at least 2",
                             (long long)labels[0]);
    }
    *classes = c;
    *n_classes = k;
    return CLS_OK;
}

void cls_eval_map_labels(const int64_t *labels, int64_t n, const int64_t *classes, int64_t n_classes,
                         int64_t *idx)
{
    for (int64_t i = 0; i < n; i++) {
        int64_t lo = 0, hi = n_classes; /* first class >= label */
        while (lo < hi) {
            int64_t mid = lo + (hi - lo) / 2;
            if (classes[mid] < labels[i]) lo = mid + 1;
            else hi = mid;
        }
        idx[i] = (lo < n_classes && classes[lo] == labels[i]) ? lo : -1;
    }
}
