/* Helpers shared by the probe and k-NN (not public). */
#ifndef CLS_EVAL_INTERNAL_H
#define CLS_EVAL_INTERNAL_H

#include "clscale/eval.h"

#include <stdint.h>

/* Validate one evaluation's inputs: non-empty sets, dim >= 1, finite
 * features (named by row and column), non-negative labels. */
cls_status cls_eval_check_inputs(const float *train, const int64_t *train_labels, int64_t n_train,
                                 const float *test, const int64_t *test_labels, int64_t n_test,
                                 int64_t dim);

/* The distinct values of labels[0..n), increasing, into *classes
 * (cls_alloc'd) and their count; fewer than 2 is an error. */
cls_status cls_eval_classes(const int64_t *labels, int64_t n, int64_t **classes, int64_t *n_classes);

/* Map label values to class indices 0..K-1 (-1 for a value not in classes). */
void cls_eval_map_labels(const int64_t *labels, int64_t n, const int64_t *classes, int64_t n_classes,
                         int64_t *idx);

#endif
