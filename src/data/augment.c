/* Counter-based randomness and the two-view augmentations (spec: train.md,
 * "Augmentations"). Every draw is a pure function of (seed, epoch, index,
 * view, draw), so views do not depend on chunking, threads or ranks. */
#include "clscale/data.h"

#include <math.h>
#include <string.h>

#include "../core/internal.h"

/* SplitMix64's finaliser (Stafford's mix13). */
static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

uint64_t cls_counter_u64(uint64_t seed, uint64_t epoch, uint64_t index, uint64_t view, uint64_t draw)
{
    /* Absorb one field at a time, each step a full avalanche, with distinct
     * odd constants so that permuting fields changes the result. */
    uint64_t h = mix64(seed + 0x9E3779B97F4A7C15ULL);
    h = mix64(h ^ (epoch + 0xD1B54A32D192ED03ULL));
    h = mix64(h ^ (index + 0x8CB92BA72F3D8DD7ULL));
    h = mix64(h ^ (view + 0xABC98388FB8FAC03ULL));
    h = mix64(h ^ (draw + 0xD6E8FEB86659FD93ULL));
    return h;
}

double cls_counter_uniform(uint64_t seed, uint64_t epoch, uint64_t index, uint64_t view, uint64_t draw)
{
    return (double)(cls_counter_u64(seed, epoch, index, view, draw) >> 11) * 0x1.0p-53;
}

/* The permutation draws live on their own "view" so they never coincide with
 * an image's augmentation draws. */
#define PERM_VIEW 0x7065726DULL /* "perm" */

cls_status cls_epoch_permutation(int64_t *perm, int64_t n, uint64_t seed, uint64_t epoch)
{
    if (!perm || n < 0) return cls_set_error(CLS_E_INVALID_ARG, "epoch permutation: n = %lld", (long long)n);
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        /* Uniform in [0, i] from 64 bits: bias <= (i+1)/2^64, negligible. */
        uint64_t r = cls_counter_u64(seed, epoch, (uint64_t)i, PERM_VIEW, 0);
        int64_t j = (int64_t)(((unsigned __int128)r * (uint64_t)(i + 1)) >> 64);
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    return CLS_OK;
}

void cls_augment_options_init(cls_augment_options *opt)
{
    if (!opt) return; /* NULL is a no-op, like every _init */
    memset(opt, 0, sizeof *opt);
    opt->crop_area_min = 0.5;
    opt->crop_area_max = 1.0;
    opt->aspect_min = 3.0 / 4.0;
    opt->aspect_max = 4.0 / 3.0;
    opt->flip_prob = 0.5;
    opt->brightness = 0.4;
    opt->contrast = 0.4;
    opt->noise_std = 0.0;
    opt->erase_prob = 0.0;
}

enum { D_AREA = 0, D_ASPECT, D_X, D_Y, D_FLIP, D_BRIGHT, D_CONTRAST, D_ERASE, D_ERASE_AREA = 8,
       D_ERASE_ASPECT, D_ERASE_X, D_ERASE_Y, D_NOISE = 16 };

void cls_augment_params_draw(cls_augment_params *p, const cls_augment_options *opt, int64_t height,
                             int64_t width, uint64_t seed, uint64_t epoch, int64_t index, int view)
{
#define U(d) cls_counter_uniform(seed, epoch, (uint64_t)index, (uint64_t)view, (d))
    memset(p, 0, sizeof *p);
    double H = (double)height, W = (double)width;
    p->area = opt->crop_area_min + (opt->crop_area_max - opt->crop_area_min) * U(D_AREA);
    double la = log(opt->aspect_min), lb = log(opt->aspect_max);
    p->aspect = exp(la + (lb - la) * U(D_ASPECT));
    double a = p->area * H * W;
    p->cw = sqrt(a * p->aspect);
    p->ch = sqrt(a / p->aspect);
    /* Position uniform over the placements; a crop wider than the image
     * (area near 1, aspect != 1) reaches outside it, where pixels are 0. */
    p->x0 = (W - p->cw) * U(D_X);
    p->y0 = (H - p->ch) * U(D_Y);
    p->flip = U(D_FLIP) < opt->flip_prob;
    p->brightness = opt->brightness * (2.0 * U(D_BRIGHT) - 1.0);
    p->contrast = 1.0 + opt->contrast * (2.0 * U(D_CONTRAST) - 1.0);
    p->erase = opt->erase_prob > 0 && U(D_ERASE) < opt->erase_prob;
    if (p->erase) {
        /* Random erasing (Zhong et al.): area 2-33 %, aspect log-uniform [0.3, 3.3]. */
        double ea = (0.02 + 0.31 * U(D_ERASE_AREA)) * H * W;
        double er = exp(log(0.3) + (log(3.3) - log(0.3)) * U(D_ERASE_ASPECT));
        int64_t ew = (int64_t)fmin(W, floor(sqrt(ea * er) + 0.5));
        int64_t eh = (int64_t)fmin(H, floor(sqrt(ea / er) + 0.5));
        if (ew < 1) ew = 1;
        if (eh < 1) eh = 1;
        p->ew = ew;
        p->eh = eh;
        p->ex0 = (int64_t)floor((double)(width - ew + 1) * U(D_ERASE_X));
        p->ey0 = (int64_t)floor((double)(height - eh + 1) * U(D_ERASE_Y));
    }
#undef U
}

static inline double pixel(const float *img, int64_t h, int64_t w, int64_t y, int64_t x)
{
    return (y < 0 || y >= h || x < 0 || x >= w) ? 0.0 : (double)img[y * w + x];
}

void cls_augment_apply(float *out, const float *image, int64_t height, int64_t width,
                       const cls_augment_params *p, const cls_augment_options *opt, uint64_t seed,
                       uint64_t epoch, int64_t index, int view)
{
    /* Output pixel (i, j) samples the crop at its centre: source coordinate
     * y0 + (i + 0.5) * ch / height - 0.5 (pixel centres at integers). */
    double sy = p->ch / (double)height, sx = p->cw / (double)width;
    double sum = 0.0;
    for (int64_t i = 0; i < height; i++) {
        double y = p->y0 + ((double)i + 0.5) * sy - 0.5;
        double fy = floor(y), ty = y - fy;
        int64_t y0 = (int64_t)fy;
        for (int64_t j = 0; j < width; j++) {
            int64_t jj = p->flip ? width - 1 - j : j;
            double x = p->x0 + ((double)j + 0.5) * sx - 0.5;
            double fx = floor(x), tx = x - fx;
            int64_t x0 = (int64_t)fx;
            double v = (1 - ty) * ((1 - tx) * pixel(image, height, width, y0, x0) +
                                   tx * pixel(image, height, width, y0, x0 + 1)) +
                       ty * ((1 - tx) * pixel(image, height, width, y0 + 1, x0) +
                             tx * pixel(image, height, width, y0 + 1, x0 + 1));
            out[i * width + jj] = (float)v;
            sum += v;
        }
    }
    int64_t np = height * width;
    double mean = sum / (double)np;
    for (int64_t k = 0; k < np; k++) {
        double v = ((double)out[k] - mean) * p->contrast + mean + p->brightness;
        out[k] = (float)v;
    }
    if (p->erase)
        for (int64_t i = p->ey0; i < p->ey0 + p->eh && i < height; i++)
            for (int64_t j = p->ex0; j < p->ex0 + p->ew && j < width; j++) out[i * width + j] = 0.0f;
    if (opt->noise_std > 0) {
        for (int64_t k = 0; k < np; k++) {
            /* Box-Muller, one normal per pixel from two counter draws. */
            double u1 = cls_counter_uniform(seed, epoch, (uint64_t)index, (uint64_t)view,
                                            D_NOISE + 2 * (uint64_t)k);
            double u2 = cls_counter_uniform(seed, epoch, (uint64_t)index, (uint64_t)view,
                                            D_NOISE + 2 * (uint64_t)k + 1);
            double g = sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2);
            out[k] = (float)((double)out[k] + opt->noise_std * g);
        }
    }
    for (int64_t k = 0; k < np; k++) {
        float v = out[k];
        out[k] = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
    }
}

cls_status cls_augment_batch(float *out, const cls_dataset *d, const int64_t *indices, int64_t n,
                             int view, uint64_t seed, uint64_t epoch, const cls_augment_options *opt,
                             int threads)
{
    if (!out || !d || !d->images || (n > 0 && !indices) || n < 0)
        return cls_set_error(CLS_E_INVALID_ARG, "augment: NULL argument or n = %lld", (long long)n);
    cls_augment_options def;
    if (!opt) {
        cls_augment_options_init(&def);
        opt = &def;
    }
    for (int64_t i = 0; i < n; i++)
        if (indices[i] < 0 || indices[i] >= d->n)
            return cls_set_error(CLS_E_INVALID_ARG, "augment: indices[%lld] = %lld outside [0, %lld)",
                                 (long long)i, (long long)indices[i], (long long)d->n);
    int64_t h = d->height, w = d->width, np = h * w;
#pragma omp parallel for schedule(static) num_threads(cls_threads_resolve(threads))
    for (int64_t i = 0; i < n; i++) {
        cls_augment_params p;
        cls_augment_params_draw(&p, opt, h, w, seed, epoch, indices[i], view);
        cls_augment_apply(out + i * np, d->images + indices[i] * np, h, w, &p, opt, seed, epoch,
                          indices[i], view);
    }
    return CLS_OK;
}
