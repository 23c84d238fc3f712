/* Row-independent forward product with bfloat16 inputs and fp32
 * accumulation (see rowgemm.c for why the forward is row-independent).
 *
 * Each output is b[o] plus, for k-pairs p = 0, 1, ... in ascending order, the
 * two products x[2p] w[2p] and x[2p+1] w[2p+1] of bf16-rounded values (exact
 * in fp32) added to the fp32 accumulator: with AVX-512 BF16 one vdpbf16ps per
 * pair (its rounding: the CPU's, denormals flushed); without it two fused
 * multiply-adds per pair. A row's bits never depend on the other rows of
 * the call, or on the thread that runs it. */
#include <string.h>

#include "../core/internal.h"
#include "clscale/gemm.h"
#include "rowgemm.h"

#if defined(__AVX512BF16__) && defined(__AVX512F__)
#include <immintrin.h>
#define HAVE_DPBF16 1
#endif

#define VL 16            /* fp32 lanes per vector */
#define CB 2             /* vectors per column block */
#define PW (VL * CB)     /* columns per panel */
#define RB 8             /* rows per register block */

int64_t cls_nn_rowgemm_bf16_pack_floats(int64_t in, int64_t out)
{
    int64_t op = (out + PW - 1) / PW * PW, kp = (in + 1) / 2;
    return kp * op + op;
}

void cls_nn_rowgemm_bf16_pack(float *packed, const uint16_t *wb, const float *b, int64_t in, int64_t out)
{
    const int64_t op = (out + PW - 1) / PW * PW, kp = (in + 1) / 2;
    uint32_t *u = (uint32_t *)packed;
    for (int64_t p = 0; p < op; p += PW) {
        uint32_t *dst = u + p * kp;
        for (int64_t j = 0; j < PW; j++) {
            const uint16_t *row = p + j < out ? wb + (p + j) * in : NULL;
            for (int64_t k = 0; k < kp; k++) {
                uint32_t lo = row ? row[2 * k] : 0, hi = row && 2 * k + 1 < in ? row[2 * k + 1] : 0;
                dst[k * PW + j] = lo | hi << 16; /* element 2k in the low half */
            }
        }
    }
    float *bp = packed + kp * op;
    for (int64_t j = 0; j < op; j++) bp[j] = b && j < out ? b[j] : 0.0f;
}

void cls_nn_bf16_rows(uint16_t *xb, const float *x, int64_t n, int64_t in)
{
    const int64_t s = cls_nn_bf16_stride(in);
    for (int64_t i = 0; i < n; i++) {
        cls_bf16_from_f32(xb + i * s, x + i * in, in);
        if (s > in) xb[i * s + in] = 0;
    }
}

#ifdef HAVE_DPBF16
#define KERNEL(R)                                                                            \
    do {                                                                                     \
        __m512 acc[R][CB];                                                                   \
        for (int r = 0; r < R; r++)                                                          \
            for (int c = 0; c < CB; c++) acc[r][c] = _mm512_loadu_ps(bias + c * VL);         \
        for (int64_t k = 0; k < kp; k++) {                                                   \
            __m512i wv[CB];                                                                  \
            for (int c = 0; c < CB; c++)                                                     \
                wv[c] = _mm512_loadu_si512((const void *)(panel + k * PW + c * VL));         \
            for (int r = 0; r < R; r++) {                                                    \
                uint32_t pair;                                                               \
                memcpy(&pair, xb + (i + r) * s + 2 * k, sizeof pair);                        \
                __m512i xv = _mm512_set1_epi32((int)pair);                                   \
                for (int c = 0; c < CB; c++)                                                 \
                    acc[r][c] = _mm512_dpbf16_ps(acc[r][c], (__m512bh)xv, (__m512bh)wv[c]);  \
            }                                                                                \
        }                                                                                    \
        for (int r = 0; r < R; r++) {                                                        \
            float tmp[PW];                                                                   \
            for (int c = 0; c < CB; c++) _mm512_storeu_ps(tmp + c * VL, acc[r][c]);          \
            memcpy(y + (i + r) * out + p, tmp, (size_t)cols * sizeof(float));               \
        }                                                                                    \
    } while (0)
#else
static inline float widen(uint32_t bits16)
{
    uint32_t u = bits16 << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
/* Portable: two fused multiply-adds per pair, odd element first (the order
 * of vdpbf16ps's definition). */
#define KERNEL(R)                                                                            \
    do {                                                                                     \
        for (int r = 0; r < R; r++) {                                                        \
            float acc[PW];                                                                   \
            for (int j = 0; j < PW; j++) acc[j] = bias[j];                                   \
            for (int64_t k = 0; k < kp; k++) {                                               \
                float x0 = widen(xb[(i + r) * s + 2 * k]);                                   \
                float x1 = widen(xb[(i + r) * s + 2 * k + 1]);                               \
                for (int j = 0; j < PW; j++) {                                               \
                    uint32_t wp = panel[k * PW + j];                                         \
                    acc[j] = __builtin_fmaf(x1, widen(wp >> 16), acc[j]);                    \
                    acc[j] = __builtin_fmaf(x0, widen(wp & 0xffffu), acc[j]);                \
                }                                                                            \
            }                                                                                \
            memcpy(y + (i + r) * out + p, acc, (size_t)cols * sizeof(float));               \
        }                                                                                    \
    } while (0)
#endif

void cls_nn_rowgemm_bf16(float *y, const uint16_t *xb, const float *packed, int64_t n, int64_t in,
                         int64_t out)
{
    const int64_t op = (out + PW - 1) / PW * PW, kp = (in + 1) / 2, s = cls_nn_bf16_stride(in);
    const uint32_t *u = (const uint32_t *)packed;
    for (int64_t p = 0; p < op; p += PW) {
        const uint32_t *panel = u + p * kp;
        const float *bias = packed + kp * op + p;
        const int64_t cols = out - p < PW ? out - p : PW;
        int64_t i = 0;
        for (; i + RB <= n; i += RB) KERNEL(RB);
        for (; i < n; i++) KERNEL(1);
    }
}
