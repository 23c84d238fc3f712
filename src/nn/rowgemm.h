/* Row-independent forward product (see rowgemm.c). Internal. */
#ifndef CLS_NN_ROWGEMM_H
#define CLS_NN_ROWGEMM_H

#include <stdint.h>

/* Floats of the packed form of a Linear layer (W out x in, bias out). */
int64_t cls_nn_rowgemm_pack_floats(int64_t in, int64_t out);
/* Pack W (out x in, PyTorch layout) and b (may be NULL: zeros). */
void cls_nn_rowgemm_pack(float *packed, const float *w, const float *b, int64_t in, int64_t out);
/* y (n x out) = x (n x in) W^T + b, each row independent of the others. */
void cls_nn_rowgemm(float *y, const float *x, const float *packed, int64_t n, int64_t in,
                    int64_t out);

#endif
