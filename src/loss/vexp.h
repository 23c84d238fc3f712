/* A small vectorisable exp(x) for float, used by the tiled loss kernels.
 *
 * Why: the tiled kernels evaluate about four exponentials per logit (two in the
 * forward, two in the backward); with libm's scalar expf those would cost more
 * than the matrix products. This is Cephes' expf (range reduction x = n ln2 + r
 * with a two-part ln2, degree-6 polynomial on |r| <= ln2/2, scale by 2^n via the
 * exponent bits), written with GCC vector extensions so it compiles to AVX-512,
 * AVX2 or SSE as the target allows, plus a scalar twin for loop tails that
 * performs the same operations. Accuracy: within 2 ulp of exp over
 * [-87.3, 88] (tests/test_loss.c checks it against double exp). Results
 * below e^-87.33 (FLT_MIN) are flushed to 0, which also maps -inf to 0; the
 * kernels only evaluate exp(x - max) <= 1, so overflow cannot occur there. */
#ifndef CLS_LOSS_VEXP_H
#define CLS_LOSS_VEXP_H

#include <stdint.h>
#include <string.h>

/* The vectors are 64 bytes whatever the target; every helper here is static
 * inline, so GCC's note that passing such vectors without AVX-512 changes the
 * psABI (portable builds) concerns no real call boundary. */
#pragma GCC diagnostic ignored "-Wpsabi"

#define CLS_VW 16 /* floats per vector */
typedef float cls_vf __attribute__((vector_size(64)));
typedef int32_t cls_vi __attribute__((vector_size(64)));

#define CLS_EXP_LO (-87.33654f) /* ln(FLT_MIN): below this the result is flushed to 0 */
#define CLS_EXP_HI 88.0f /* keeps 2^n finite (n <= 127) */
#define CLS_EXP_LOG2E 1.44269504088896341f
#define CLS_EXP_C1 0.693359375f
#define CLS_EXP_C2 (-2.12194440e-4f)
#define CLS_EXP_ROUND 12582912.0f /* 1.5 * 2^23: adding it rounds to an integer */

/* The fused tile passes (one exponential per logit, shifted by one value per
 * tile instead of per row / column) are taken when every row and column max
 * (forward) or log-sum-exp (backward) lies within this span: no kept sum can
 * underflow, and the terms flushed to 0 are below e^-27 of the largest term
 * of their row or column. */
#define CLS_LSE_FUSE_SPAN 60.0f

static inline cls_vf cls_vf_load(const float *p)
{
    cls_vf v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void cls_vf_store(float *p, cls_vf v) { memcpy(p, &v, sizeof v); }

static inline cls_vf cls_vf_set1(float x)
{
    cls_vf v = {x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x};
    return v;
}

static inline cls_vf cls_vf_max(cls_vf a, cls_vf b)
{
    cls_vi m = a > b;
    return (cls_vf)(((cls_vi)a & m) | ((cls_vi)b & ~m));
}

static inline float cls_vf_hmax(cls_vf v)
{
    float m = v[0];
    for (int k = 1; k < CLS_VW; k++) m = v[k] > m ? v[k] : m;
    return m;
}

static inline double cls_vf_hsum(cls_vf v)
{
    double s = 0.0;
    for (int k = 0; k < CLS_VW; k++) s += (double)v[k];
    return s;
}

static inline __attribute__((always_inline)) cls_vf cls_vexp(cls_vf x)
{
    cls_vi keep = x >= cls_vf_set1(CLS_EXP_LO);
    cls_vf hi = cls_vf_set1(CLS_EXP_HI), lo = cls_vf_set1(CLS_EXP_LO);
    cls_vi over = x > hi;
    x = (cls_vf)(((cls_vi)hi & over) | ((cls_vi)x & ~over));
    x = (cls_vf)(((cls_vi)x & keep) | ((cls_vi)lo & ~keep));
    cls_vf n = (x * CLS_EXP_LOG2E + CLS_EXP_ROUND) - CLS_EXP_ROUND;
    cls_vf r = x - n * CLS_EXP_C1;
    r = r - n * CLS_EXP_C2;
    cls_vf p = cls_vf_set1(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    cls_vf y = p * (r * r) + r + 1.0f;
    cls_vi e = (__builtin_convertvector(n, cls_vi) + 127) << 23;
    y = y * (cls_vf)e;
    return (cls_vf)((cls_vi)y & keep);
}

/* Scalar twin of cls_vexp (same operations, same results) for loop tails and
 * for `#pragma omp simd` loops: branch-free (selects only), so those loops
 * vectorise. NaN and x < CLS_EXP_LO give 0, like the vector form. */
static inline float cls_sexp(float x)
{
    const float keep = x >= CLS_EXP_LO ? 1.0f : 0.0f;
    x = x >= CLS_EXP_LO ? x : CLS_EXP_LO;
    x = x > CLS_EXP_HI ? CLS_EXP_HI : x;
    float n = (x * CLS_EXP_LOG2E + CLS_EXP_ROUND) - CLS_EXP_ROUND;
    float r = x - n * CLS_EXP_C1;
    r = r - n * CLS_EXP_C2;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * (r * r) + r + 1.0f;
    union {
        int32_t i;
        float f;
    } scale;
    scale.i = ((int32_t)n + 127) << 23;
    return y * scale.f * keep;
}

#endif
