/* clscale data: datasets and augmentations for training and evaluation
 * (spec: train.md, "Data" and "Augmentations").
 *
 * Images are float32 row-major n x (height*width), one channel, scaled to
 * [0, 1]; labels are int64. IDX files (the MNIST family's format) are read
 * with zlib, gzip'd or plain; magic numbers, dimensions and the agreement of
 * image and label counts are checked, and a corrupt or truncated file is an
 * error naming the file. */
#ifndef CLSCALE_DATA_H
#define CLSCALE_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "../clscale.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { CLS_SPLIT_TRAIN = 0, CLS_SPLIT_TEST = 1 } cls_split;

typedef struct {
    float *images;   /* n x (height*width), in [0, 1] */
    int64_t *labels; /* n */
    int64_t n, height, width;
} cls_dataset;

/* Debian's dataset-fashion-mnist location. */
#define CLS_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* Load a split. source is "fashion-mnist" (CLS_FASHION_MNIST_DIR) or a
 * directory holding {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]. */
CLS_API cls_status cls_dataset_load(cls_dataset *out, const char *source, cls_split split);
/* Load one images file and its labels file. */
CLS_API cls_status cls_dataset_load_idx(cls_dataset *out, const char *images_path,
                                        const char *labels_path);
/* Release the arrays; *d is zeroed. NULL is a no-op. */
CLS_API void cls_dataset_free(cls_dataset *d);

/* Parse an in-memory (already decompressed) IDX file of unsigned bytes: dims
 * (at most 4) into dims[] and their count into *ndim; *payload points into
 * data. The entry point the fuzzer drives. */
CLS_API cls_status cls_idx_parse(const void *data, size_t size, int *ndim, int64_t dims[4],
                                 const uint8_t **payload);


/* ---- Subsets (train helper: src/data/subset.c) ---------------------------- */

/* A seeded, class-stratified subset of n images of in: each class keeps its
 * share of n (largest remainders; ties to the lower label), images drawn from
 * a per-class seeded permutation, output in the input's order. n == in->n
 * copies in. out owns its arrays (cls_dataset_free). */
CLS_API cls_status cls_dataset_subset(cls_dataset *out, const cls_dataset *in, int64_t n,
                                      uint64_t seed);

/* ---- Counter-based randomness and augmentations (src/data/augment.c) ------ *
 * Every random draw is a pure function of (seed, epoch, index, view, draw):
 * a SplitMix64-style hash of those fields. The same image gets the same views
 * whichever chunk, thread or rank computes it, and however often. */

/* 64 hashed bits of (seed, epoch, index, view, draw). */
CLS_API uint64_t cls_counter_u64(uint64_t seed, uint64_t epoch, uint64_t index, uint64_t view,
                                 uint64_t draw);
/* Uniform double in [0, 1) (53 bits) of the same counters. */
CLS_API double cls_counter_uniform(uint64_t seed, uint64_t epoch, uint64_t index, uint64_t view,
                                   uint64_t draw);

/* The permutation of 0..n-1 used as the data order of an epoch: a Fisher-Yates
 * shuffle whose draws are counters of (seed, epoch), so any epoch's order can
 * be rebuilt without replaying the ones before it. */
CLS_API cls_status cls_epoch_permutation(int64_t *perm, int64_t n, uint64_t seed, uint64_t epoch);

typedef struct {
    double crop_area_min, crop_area_max; /* area fraction of the crop (default 0.5, 1) */
    double aspect_min, aspect_max;       /* aspect w/h, drawn log-uniform (default 3/4, 4/3) */
    double flip_prob;                    /* horizontal flip (default 0.5) */
    double brightness;                   /* shift uniform in [-b, b] (default 0.4) */
    double contrast;                     /* factor uniform in [1-c, 1+c] (default 0.4) */
    double noise_std;                    /* Gaussian noise sigma, 0 = off (default 0) */
    double erase_prob;                   /* random erasing probability, 0 = off (default 0) */
} cls_augment_options;

CLS_API void cls_augment_options_init(cls_augment_options *opt);

/* The drawn parameters of one view (in input pixels): crop rectangle
 * [x0, x0+cw) x [y0, y0+ch), possibly reaching outside the image (where
 * pixels are 0), flip, brightness shift and contrast factor, erasing box. */
typedef struct {
    double area, aspect; /* area fraction and aspect (cw/ch) drawn */
    double x0, y0, cw, ch;
    int flip;
    double brightness, contrast;
    int erase;
    int64_t ex0, ey0, ew, eh;
} cls_augment_params;

/* Draws 0..7 of the counters (seed, epoch, index, view, .) give the
 * parameters of a height x width view; pixel noise uses draws >= 16. */
CLS_API void cls_augment_params_draw(cls_augment_params *out, const cls_augment_options *opt,
                                     int64_t height, int64_t width, uint64_t seed, uint64_t epoch,
                                     int64_t index, int view);

/* Apply drawn parameters to one image (height x width) into out (same size):
 * crop resampled bilinearly, flip, contrast about the view's mean then
 * brightness, optional erasing and noise, clamped to [0, 1]. The counters are
 * used only for the noise. */
CLS_API void cls_augment_apply(float *out, const float *image, int64_t height, int64_t width,
                               const cls_augment_params *p, const cls_augment_options *opt,
                               uint64_t seed, uint64_t epoch, int64_t index, int view);

/* View `view` (0 or 1) of images[indices[i]] for i < n into out (n x h*w),
 * in parallel over images (threads: 0 = all cores). The counter index is the
 * image's index in the dataset. Same bits for any thread count or chunking. */
CLS_API cls_status cls_augment_batch(float *out, const cls_dataset *d, const int64_t *indices,
                                     int64_t n, int view, uint64_t seed, uint64_t epoch,
                                     const cls_augment_options *opt, int threads);

/* ---- Paired features (src/data/pairs.c) ------------------------------------ *
 * Two modalities' precomputed embeddings of the same n items (--pairs A B). */
typedef struct {
    float *a, *b; /* n x da, n x db */
    int64_t n, da, db;
} cls_pairs;

/* Load two 2-D float .npy files with the same number of rows (non-finite
 * values refused, naming the file and entry). */
CLS_API cls_status cls_pairs_load(cls_pairs *out, const char *path_a, const char *path_b);
CLS_API void cls_pairs_free(cls_pairs *p); /* NULL is a no-op; *p zeroed */

#ifdef __cplusplus
}
#endif

#endif /* CLSCALE_DATA_H */
