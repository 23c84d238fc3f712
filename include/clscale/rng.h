/* Deterministic random numbers: xoshiro256** seeded through splitmix64.
 * The same seed gives the same stream on every platform and thread count;
 * independent streams come from cls_rng_seed_stream (seed, stream id). */
/* Before the guard: clscale.h (CLS_API) includes this header back. */
#include "../clscale.h"

#ifndef CLSCALE_RNG_H
#define CLSCALE_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint64_t s[4];
    int has_spare;   /* Box-Muller produces normals in pairs */
    double spare;
} cls_rng;

/* Seed a generator. */
CLS_API void cls_rng_seed(cls_rng *rng, uint64_t seed);

/* Seed stream number `stream` of `seed`: streams are statistically
 * independent, so parallel workers can each own one and stay deterministic. */
CLS_API void cls_rng_seed_stream(cls_rng *rng, uint64_t seed, uint64_t stream);

/* Next raw 64-bit value. */
CLS_API uint64_t cls_rng_u64(cls_rng *rng);

/* Uniform double in [0, 1) with 53 random bits. */
CLS_API double cls_rng_uniform(cls_rng *rng);

/* Uniform integer in [0, n) without modulo bias (n >= 1). */
CLS_API uint64_t cls_rng_below(cls_rng *rng, uint64_t n);

/* Standard normal N(0, 1). */
CLS_API double cls_rng_normal(cls_rng *rng);

/* Fill x[0..n) with N(0, 1) (float and double variants). */
CLS_API void cls_rng_fill_normal_f32(cls_rng *rng, float *x, int64_t n);
CLS_API void cls_rng_fill_normal_f64(cls_rng *rng, double *x, int64_t n);

#ifdef __cplusplus
}
#endif

#endif
