/* xoshiro256** (Blackman & Vigna) seeded through splitmix64. */
#include "clscale/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void cls_rng_seed(cls_rng *rng, uint64_t seed) { cls_rng_seed_stream(rng, seed, 0); }

void cls_rng_seed_stream(cls_rng *rng, uint64_t seed, uint64_t stream)
{
    /* Mix the stream id into the splitmix state through a second splitmix so
     * that (seed, stream) pairs give unrelated states. */
    uint64_t mix = stream;
    uint64_t st = seed ^ splitmix64(&mix);
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&st);
    if ((rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3]) == 0) rng->s[0] = 1;
    rng->has_spare = 0;
    rng->spare = 0.0;
}

uint64_t cls_rng_u64(cls_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double cls_rng_uniform(cls_rng *rng) { return (double)(cls_rng_u64(rng) >> 11) * 0x1.0p-53; }

uint64_t cls_rng_below(cls_rng *rng, uint64_t n)
{
    if (n <= 1) return 0;
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do {
        x = cls_rng_u64(rng);
    } while (x >= limit);
    return x % n;
}

double cls_rng_normal(cls_rng *rng)
{
    if (rng->has_spare) {
        rng->has_spare = 0;
        return rng->spare;
    }
    /* Box-Muller on (0, 1] x [0, 1): u1 is never 0, so log is finite. */
    double u1 = 1.0 - cls_rng_uniform(rng);
    double u2 = cls_rng_uniform(rng);
    double r = sqrt(-2.0 * log(u1));
    double th = 6.283185307179586476925 * u2;
    rng->spare = r * sin(th);
    rng->has_spare = 1;
    return r * cos(th);
}

void cls_rng_fill_normal_f32(cls_rng *rng, float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) x[i] = (float)cls_rng_normal(rng);
}

void cls_rng_fill_normal_f64(cls_rng *rng, double *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) x[i] = cls_rng_normal(rng);
}
