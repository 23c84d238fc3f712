/* Row-independent product for the forward passes: y = x W^T + b where every
 * output element is computed as b[o] + x[i][0] w[o][0] + x[i][1] w[o][1] + ...
 * (one fused multiply-add per k, k ascending), whatever rows share its
 * register block. So a row's result depends only on that row: a forward of
 * rows [0,n) gives the bits of forwards of [0,k) and [k,n) (OpenBLAS's sgemm
 * does not: its results depend on a row's position in the call, measured).
 * The backward products, where only summation order is at stake, go through
 * cls_gemm_f32. */
#include <string.h>

#include "../core/internal.h"
#include "rowgemm.h"

#ifndef RB
#ifdef __AVX512F__
#define RB 8 /* rows per register block: 8 x 32 outputs = 16 zmm accumulators */
#else
#define RB 4 /* 4 x 32 outputs with 256-bit vectors */
#endif
#endif
#define VL 16 /* floats per vector */
#ifndef CB
#define CB 2 /* vectors per column block */
#endif
typedef float vf __attribute__((vector_size(VL * sizeof(float)), aligned(4)));

int64_t cls_nn_rowgemm_pack_floats(int64_t in, int64_t out)
{
    int64_t op = (out + VL * CB - 1) / (VL * CB) * (VL * CB);
    return in * op + op;
}

void cls_nn_rowgemm_pack(float *packed, const float *w, const float *b, int64_t in, int64_t out)
{
    const int64_t op = (out + VL * CB - 1) / (VL * CB) * (VL * CB);
    /* panels of 32 columns, each in x 32 contiguous, then the padded bias */
    for (int64_t p = 0; p < op; p += VL * CB) {
        float *dst = packed + p * in;
        for (int64_t k = 0; k < in; k++)
            for (int64_t j = 0; j < VL * CB; j++)
                dst[k * VL * CB + j] = p + j < out ? w[(p + j) * in + k] : 0.0f;
    }
    float *bp = packed + in * op;
    for (int64_t j = 0; j < op; j++) bp[j] = b && j < out ? b[j] : 0.0f;
}

static inline vf vload(const float *p)
{
    vf v;
    memcpy(&v, p, sizeof(v));
    return v;
}

#define KERNEL(R)                                                                          \
    do {                                                                                   \
        vf acc[R][CB];                                                                     \
        for (int r = 0; r < R; r++)                                                        \
            for (int c = 0; c < CB; c++) acc[r][c] = vload(bias + c * VL);                 \
        for (int64_t k = 0; k < in; k++) {                                                 \
            vf wv[CB];                                                                     \
            for (int c = 0; c < CB; c++) wv[c] = vload(panel + k * VL * CB + c * VL);      \
            for (int r = 0; r < R; r++) {                                                  \
                vf xv = (vf){0} + x[(i + r) * in + k];                                     \
                for (int c = 0; c < CB; c++) acc[r][c] = xv * wv[c] + acc[r][c]; \
            }                                                                              \
        }                                                                                  \
        for (int r = 0; r < R; r++) {                                                      \
            float tmp[VL * CB];                                                            \
            memcpy(tmp, acc[r], sizeof(tmp));                                              \
            memcpy(y + (i + r) * out + p, tmp, (size_t)cols * sizeof(float));              \
        }                                                                                  \
    } while (0)

void cls_nn_rowgemm(float *y, const float *x, const float *packed, int64_t n, int64_t in,
                    int64_t out)
{
    const int64_t op = (out + VL * CB - 1) / (VL * CB) * (VL * CB);
    for (int64_t p = 0; p < op; p += VL * CB) {
        const float *panel = packed + p * in, *bias = packed + in * op + p;
        const int64_t cols = out - p < VL * CB ? out - p : VL * CB;
        int64_t i = 0;
        for (; i + RB <= n; i += RB) KERNEL(RB);
        for (; i < n; i++) KERNEL(1);
    }
}
