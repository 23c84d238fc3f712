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

/* bfloat16 variant (rowgemm_bf16.c): inputs rounded to bf16, products
 * accumulated in fp32 (AVX-512 BF16 dot products where the build has them),
 * equally row-independent. The packed form holds, per panel of 32 output
 * columns and per pair of inputs k, 2k+1, the pair of bf16 weights of each
 * column as one 32-bit unit, then the fp32 bias. */
int64_t cls_nn_rowgemm_bf16_pack_floats(int64_t in, int64_t out);
/* From wb = W already rounded to bf16 (out x in, cls_bf16_from_f32). */
void cls_nn_rowgemm_bf16_pack(float *packed, const uint16_t *wb, const float *b, int64_t in, int64_t out);
/* Row stride (bf16 elements) of the rounded inputs: in rounded up to even. */
static inline int64_t cls_nn_bf16_stride(int64_t in) { return (in + 1) / 2 * 2; }
/* xb (n x cls_nn_bf16_stride(in), uint16 bits of bf16) = x rounded, zero padded. */
void cls_nn_bf16_rows(uint16_t *xb, const float *x, int64_t n, int64_t in);
/* y (n x out) = xb W^T + b with xb from cls_nn_bf16_rows. */
void cls_nn_rowgemm_bf16(float *y, const uint16_t *xb, const float *packed, int64_t n, int64_t in,
                         int64_t out);

#endif
