/* Augmentations and counter-based randomness: determinism under any chunking
 * and thread count, crop area and aspect in range, a flip mirrors, values in
 * [0, 1]; the epoch permutation; the stratified subset. */
#include "check.h"
#include "clscale.h"

#include <math.h>
#include <string.h>

/* A synthetic dataset: n images of 28 x 28 with structure (gradients, blobs). */
static void make_data(cls_dataset *d, int64_t n)
{
    d->n = n;
    d->height = d->width = 28;
    d->images = malloc((size_t)n * 784 * sizeof(float));
    d->labels = malloc((size_t)n * sizeof(int64_t));
    cls_rng rng;
    cls_rng_seed(&rng, 7);
    for (int64_t i = 0; i < n; i++) {
        d->labels[i] = (int64_t)cls_rng_below(&rng, 10);
        for (int64_t k = 0; k < 784; k++) {
            double v = 0.5 + 0.5 * sin(0.1 * (double)(k % 28) * (double)(1 + i % 5) + (double)(k / 28) * 0.07);
            v *= cls_rng_uniform(&rng) < 0.9 ? 1.0 : 0.0;
            d->images[i * 784 + k] = (float)v;
        }
    }
}

int main(void)
{
    cls_dataset d;
    make_data(&d, 257);
    cls_augment_options opt;
    cls_augment_options_init(&opt);

    /* Counter RNG: pure function, fields distinguish, roughly uniform. */
    CHECK(cls_counter_u64(1, 2, 3, 0, 4) == cls_counter_u64(1, 2, 3, 0, 4), "counter is a pure function");
    CHECK(cls_counter_u64(1, 2, 3, 0, 4) != cls_counter_u64(1, 2, 3, 1, 4), "view changes the draw");
    CHECK(cls_counter_u64(1, 2, 3, 0, 4) != cls_counter_u64(1, 3, 2, 0, 4), "fields are not symmetric");
    double mean = 0, m2 = 0;
    const int ND = 100000;
    for (int k = 0; k < ND; k++) {
        double u = cls_counter_uniform(11, 0, (uint64_t)k, 0, 0);
        CHECK(u >= 0 && u < 1, "uniform in [0,1)");
        mean += u;
        m2 += u * u;
    }
    mean /= ND;
    m2 = m2 / ND - mean * mean;
    /* 5 sigma: sd of the mean is sqrt(1/12/ND) = 9.1e-4. */
    CHECK_CLOSE(mean, 0.5, 5 * 9.1e-4, 0, "mean of counter uniforms");
    CHECK_CLOSE(m2, 1.0 / 12, 2e-3, 0, "variance of counter uniforms");

    /* Whole-batch reference with 1 thread. */
    int64_t n = d.n;
    int64_t *idx = malloc((size_t)n * sizeof *idx);
    CHECK(cls_epoch_permutation(idx, n, 5, 3) == CLS_OK, "permutation");
    int64_t *seen = calloc((size_t)n, sizeof *seen);
    for (int64_t i = 0; i < n; i++) seen[idx[i]]++;
    int perm_ok = 1, identity = 1;
    for (int64_t i = 0; i < n; i++) {
        perm_ok &= seen[i] == 1;
        identity &= idx[i] == i;
    }
    CHECK(perm_ok && !identity, "epoch permutation is a non-trivial permutation");
    int64_t *idx2 = malloc((size_t)n * sizeof *idx2);
    cls_epoch_permutation(idx2, n, 5, 3);
    CHECK(memcmp(idx, idx2, (size_t)n * sizeof *idx) == 0, "same (seed, epoch) same order");
    cls_epoch_permutation(idx2, n, 5, 4);
    CHECK(memcmp(idx, idx2, (size_t)n * sizeof *idx) != 0, "another epoch another order");

    float *ref = malloc((size_t)n * 784 * sizeof(float));
    float *got = malloc((size_t)n * 784 * sizeof(float));
    for (int view = 0; view < 2; view++) {
        CHECK(cls_augment_batch(ref, &d, idx, n, view, 42, 1, &opt, 1) == CLS_OK, "augment batch");
        /* Any chunking, any thread count: the same bits. */
        int64_t chunks[] = {1, 7, 64, 256};
        int threads[] = {2, 3, 0, 1};
        for (int t = 0; t < 4; t++) {
            memset(got, 0xff, (size_t)n * 784 * sizeof(float));
            for (int64_t s = 0; s < n; s += chunks[t]) {
                int64_t m = n - s < chunks[t] ? n - s : chunks[t];
                cls_augment_batch(got + s * 784, &d, idx + s, m, view, 42, 1, &opt, threads[t]);
            }
            CHECK(memcmp(ref, got, (size_t)n * 784 * sizeof(float)) == 0,
                  "view %d: chunk %lld threads %d gives the same bits", view, (long long)chunks[t],
                  threads[t]);
        }
        int inrange = 1;
        for (int64_t k = 0; k < n * 784; k++) inrange &= ref[k] >= 0.0f && ref[k] <= 1.0f;
        CHECK(inrange, "view %d stays in [0, 1]", view);
    }
    /* The two views and two epochs differ. */
    cls_augment_batch(got, &d, idx, n, 0, 42, 1, &opt, 1);
    CHECK(memcmp(ref, got, (size_t)n * 784 * sizeof(float)) != 0, "views differ");
    float *e2 = malloc((size_t)n * 784 * sizeof(float));
    cls_augment_batch(e2, &d, idx, n, 1, 42, 2, &opt, 1);
    CHECK(memcmp(e2, got, (size_t)n * 784 * sizeof(float)) != 0, "epochs differ");

    /* Parameter ranges over many draws; flip frequency ~ 0.5. */
    int flips = 0, area_ok = 1, aspect_ok = 1, bc_ok = 1;
    double amin = 1, amax = 0;
    const int NP = 20000;
    for (int k = 0; k < NP; k++) {
        cls_augment_params p;
        cls_augment_params_draw(&p, &opt, 28, 28, 9, 0, k, k & 1);
        double area = p.cw * p.ch / 784.0, aspect = p.cw / p.ch;
        area_ok &= area >= 0.5 - 1e-12 && area <= 1.0 + 1e-12;
        aspect_ok &= aspect >= 0.75 - 1e-12 && aspect <= 4.0 / 3.0 + 1e-12;
        bc_ok &= fabs(p.brightness) <= 0.4 && p.contrast >= 0.6 && p.contrast <= 1.4;
        if (aspect < amin) amin = aspect;
        if (aspect > amax) amax = aspect;
        flips += p.flip;
        /* Position: inside the image when the crop fits, covering it when it doesn't. */
        double lo = fmin(0.0, 28 - p.cw), hi = fmax(0.0, 28 - p.cw);
        CHECK(p.x0 >= lo && p.x0 <= hi, "x0 %g in [%g, %g]", p.x0, lo, hi);
    }
    CHECK(area_ok, "crop area fraction in [0.5, 1]");
    CHECK(aspect_ok, "crop aspect in [3/4, 4/3]");
    CHECK(amin < 0.76 && amax > 1.32, "aspects reach both ends (%g, %g)", amin, amax);
    CHECK(bc_ok, "brightness in [-0.4, 0.4], contrast in [0.6, 1.4]");
    CHECK_CLOSE(flips / (double)NP, 0.5, 5 * 0.0036, 0, "flip probability");

    /* A flip mirrors: the same parameters with flip on give the mirrored view. */
    {
        cls_augment_params p;
        cls_augment_params_draw(&p, &opt, 28, 28, 3, 0, 5, 0);
        float a[784], b[784];
        p.flip = 0;
        cls_augment_apply(a, d.images + 5 * 784, 28, 28, &p, &opt, 3, 0, 5, 0);
        p.flip = 1;
        cls_augment_apply(b, d.images + 5 * 784, 28, 28, &p, &opt, 3, 0, 5, 0);
        int mirror = 1;
        for (int i = 0; i < 28; i++)
            for (int j = 0; j < 28; j++) mirror &= a[i * 28 + j] == b[i * 28 + 27 - j];
        CHECK(mirror, "flip mirrors the view");
    }
    /* The identity crop with no photometric change reproduces the image. */
    {
        cls_augment_params p;
        memset(&p, 0, sizeof p);
        p.cw = p.ch = 28;
        p.contrast = 1;
        float a[784];
        cls_augment_apply(a, d.images + 9 * 784, 28, 28, &p, &opt, 0, 0, 9, 0);
        double md = 0;
        for (int k = 0; k < 784; k++) md = fmax(md, fabs(a[k] - d.images[9 * 784 + k]));
        CHECK_CLOSE(md, 0, 1e-6, 0, "identity crop reproduces the image");
        /* A half-size crop of the top-left quadrant samples it bilinearly:
         * output pixel (2i+1/2 .. ) -> source (i/2 - 1/4); check one against
         * the hand-computed bilinear value. */
        p.cw = p.ch = 14;
        cls_augment_apply(a, d.images + 9 * 784, 28, 28, &p, &opt, 0, 0, 9, 0);
        const float *s = d.images + 9 * 784;
        /* out(5, 7): y = (5.5)*0.5 - 0.5 = 2.25, x = 7.5*0.5 - 0.5 = 3.25 */
        double want = 0.75 * (0.75 * s[2 * 28 + 3] + 0.25 * s[2 * 28 + 4]) +
                      0.25 * (0.75 * s[3 * 28 + 3] + 0.25 * s[3 * 28 + 4]);
        CHECK_CLOSE(a[5 * 28 + 7], want, 1e-6, 0, "bilinear sample");
    }
    /* Contrast and brightness about the view's mean, clamped. */
    {
        cls_augment_params p;
        memset(&p, 0, sizeof p);
        p.cw = p.ch = 28;
        p.contrast = 1.3;
        p.brightness = -0.1;
        float a[784];
        const float *s = d.images + 2 * 784;
        cls_augment_apply(a, s, 28, 28, &p, &opt, 0, 0, 2, 0);
        double m = 0;
        for (int k = 0; k < 784; k++) m += s[k];
        m /= 784;
        int ok = 1;
        for (int k = 0; k < 784; k++) {
            double w = (s[k] - m) * 1.3 + m - 0.1;
            w = w < 0 ? 0 : (w > 1 ? 1 : w);
            ok &= fabs(a[k] - w) <= 1e-5;
        }
        CHECK(ok, "contrast about the mean then brightness, clamped");
    }
    /* Optional noise and erasing keep [0, 1] and stay deterministic. */
    {
        cls_augment_options o2 = opt;
        o2.noise_std = 0.1;
        o2.erase_prob = 1.0;
        cls_augment_batch(ref, &d, idx, 64, 0, 1, 0, &o2, 1);
        cls_augment_batch(got, &d, idx, 64, 0, 1, 0, &o2, 2);
        CHECK(memcmp(ref, got, 64 * 784 * sizeof(float)) == 0, "noise/erase deterministic");
        int inr = 1;
        for (int64_t k = 0; k < 64 * 784; k++) inr &= ref[k] >= 0.0f && ref[k] <= 1.0f;
        CHECK(inr, "noise/erase views in [0, 1]");
    }
    /* Bad indices are refused. */
    int64_t bad = n;
    CHECK_STATUS(cls_augment_batch(got, &d, &bad, 1, 0, 0, 0, &opt, 1), CLS_E_INVALID_ARG, "index n");

    /* Stratified subset: class shares kept, seeded, deterministic. */
    {
        cls_dataset s1, s2;
        CHECK(cls_dataset_subset(&s1, &d, 100, 3) == CLS_OK, "subset");
        CHECK(cls_dataset_subset(&s2, &d, 100, 3) == CLS_OK, "subset again");
        CHECK(s1.n == 100 && memcmp(s1.images, s2.images, 100 * 784 * sizeof(float)) == 0,
              "same seed same subset");
        int64_t cf[10] = {0}, cs[10] = {0};
        for (int64_t i = 0; i < d.n; i++) cf[d.labels[i]]++;
        for (int64_t i = 0; i < s1.n; i++) cs[s1.labels[i]]++;
        int strat = 1;
        for (int c = 0; c < 10; c++) {
            double share = 100.0 * (double)cf[c] / (double)d.n;
            strat &= fabs((double)cs[c] - share) < 1.0;
        }
        CHECK(strat, "each class within one image of its share");
        cls_dataset_free(&s2);
        CHECK(cls_dataset_subset(&s2, &d, 100, 4) == CLS_OK, "other seed");
        CHECK(memcmp(s1.images, s2.images, 100 * 784 * sizeof(float)) != 0, "other seed other subset");
        /* Every subset image is one of the dataset's, with its label. */
        int found_all = 1;
        for (int64_t i = 0; i < s2.n; i++) {
            int found = 0;
            for (int64_t j = 0; j < d.n && !found; j++)
                found = d.labels[j] == s2.labels[i] &&
                        memcmp(d.images + j * 784, s2.images + i * 784, 784 * sizeof(float)) == 0;
            found_all &= found;
        }
        CHECK(found_all, "subset rows come from the dataset with their labels");
        CHECK_STATUS(cls_dataset_subset(&s2, &d, d.n + 1, 0), CLS_E_INVALID_ARG, "n > dataset");
        cls_dataset_free(&s1);
        cls_dataset_free(&s2);
    }
    free(ref); free(got); free(e2); free(idx); free(idx2); free(seen);
    free(d.images); free(d.labels);
    return check_summary("augment");
}
