/* clscale train: contrastive training of the nn encoders on real data, with
 * batches beyond memory by gradient caching (spec: train.md).
 *
 * One step: the batch's 2B augmented views (counter-based randomness, so a
 * view is the same however often it is rebuilt) are encoded chunk by chunk
 * without keeping activations, keeping only z (2B x 128); the tiled loss
 * engine gives the loss and dL/dz on all of z at once; each chunk is then
 * encoded again keeping activations and back-propagated with its rows of
 * dL/dz, accumulating the parameter gradients; one optimiser step follows.
 * When all 2B views fit the memory budget the first pass keeps activations
 * and the second is skipped. The step equals the un-chunked step up to
 * summation order.
 *
 * A run is a directory: config.json (every resolved option, data and library
 * versions), metrics.jsonl (one object per logged step), checkpoint.bin and
 * checkpoint.prev.bin (atomic, CRC-32 checked). Resuming continues to the same
 * bits an uninterrupted run produces (same thread count). */
#ifndef CLSCALE_TRAIN_H
#define CLSCALE_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "../clscale.h"
#include "data.h"
#include "loss.h"
#include "nn.h"
#include "optim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int64_t step, total_steps;
    double epoch, loss, lr, temperature, samples_per_s, seconds;
} cls_train_progress;

/* Called after each logged step; return nonzero to stop the run early
 * (cleanly, after writing a checkpoint). */
typedef int (*cls_train_progress_fn)(void *user, const cls_train_progress *p);

typedef struct {
    const char *data;            /* "fashion-mnist" (default) or an IDX directory */
    cls_model_kind model;        /* default CLS_MODEL_MLP */
    int64_t width;               /* 0 = the model's default (mlp 1024, cnn 32) */
    cls_loss_kind loss;          /* default CLS_LOSS_NTXENT (also CLIP, SIGLIP) */
    double temperature;          /* 0 = the loss's default: ntxent 0.5, clip 0.1, siglip 0.1 */
    int learn_temperature;       /* log-parametrised, logit scale clipped at 100 (default 0) */
    int64_t batch;               /* images per step (default 512) */
    int64_t chunk;               /* rows (views) per encoder chunk; 0 = from memory_budget */
    int64_t memory_budget;       /* bytes for activations when chunk = 0 (default 1 GiB) */
    cls_optim_kind optimizer;    /* default AdamW */
    double lr;                   /* base learning rate, before lr_scaling (default 1e-3) */
    cls_lr_scaling lr_scaling;   /* by batch / 256 (default none) */
    double weight_decay;         /* default 1e-6 */
    double warmup_epochs;        /* linear warm-up, then cosine to 0 (default 1) */
    double epochs;               /* default 0: by model, mlp 75, cnn 15 */
    int64_t steps;               /* > 0 overrides epochs */
    int64_t train_subset;        /* 0 = all training images */
    uint64_t seed;               /* initialisation, data order and augmentations (default 0) */
    int threads;                 /* 0 = all cores */
    int64_t log_every;           /* steps between metrics lines (default 10) */
    int64_t checkpoint_every;    /* steps between checkpoints; 0 = every epoch and at the end */
    cls_train_progress_fn progress;
    void *progress_user;
    /* -- added fields -- */
    const char *pairs_a, *pairs_b; /* non-NULL: two-tower training on paired features */
    int64_t proj_dim;              /* dim(z) (default 128) */
    cls_augment_options augment;   /* the spec's augmentations (noise, erasing off) */
    char *owned_strings_;          /* internal: strings owned after cls_train_config_load */
    /* Linear layers' products (forward y = x W^T, backward dX = dY W,
     * dW += dY^T X): CLS_PRECISION_FP32 (default) or CLS_PRECISION_BF16 (inputs
     * rounded to bfloat16, fp32 accumulation; parameters, optimiser, loss and
     * convolutions stay fp32). A run option: part of the fingerprint,
     * checkpoints hold fp32 parameters either way (docs/train.md, "Precision"). */
    cls_precision precision;
} cls_train_config;

/* The default recipe (clscale train --out run alone). */
CLS_API void cls_train_config_init(cls_train_config *cfg);
/* Read a run's config.json into cfg (strings owned by cfg until
 * cls_train_config_clear); the progress callback is left NULL. */
CLS_API cls_status cls_train_config_load(cls_train_config *cfg, const char *run_dir);
CLS_API void cls_train_config_clear(cls_train_config *cfg);

typedef struct {
    int64_t steps, samples_seen, params, peak_rss_bytes;
    double epochs, final_loss, samples_per_s, seconds, flops_per_image, train_flops;
    /* -- added fields -- */
    int64_t chunk;       /* the chunk used (rows) */
    int64_t start_step;  /* step resumed from (0 for a fresh run) */
    int stopped_early;   /* the progress callback asked to stop */
} cls_train_result;

/* Train into out_dir (created if missing); resume != 0 continues from
 * out_dir's checkpoint (starting afresh when none was written yet) to the
 * same bits. A NaN loss stops the run naming the step and keeps the last good
 * checkpoint (CLS_E_NONFINITE). */
CLS_API cls_status cls_train_run(const cls_train_config *cfg, const char *out_dir, int resume,
                                 cls_train_result *out);

/* Representations h of a run's latest checkpoint for a split (float32 n x
 * dim, int64 labels); release both with cls_free. */
CLS_API cls_status cls_train_embed(const char *run_dir, cls_split split, float **repr,
                                   int64_t **labels, int64_t *n, int64_t *dim);

/* Held-out contrastive loss: NT-Xent at the given temperature on the 10k test
 * images of the run's data, two views each from fixed seeds, one exact batch
 * (the tiled engine), on z as trained (L2-normalised). */
CLS_API cls_status cls_train_heldout_loss(const char *run_dir, double temperature, uint64_t seed,
                                          double *loss);

/* One timed training configuration for `clscale bench train`: runs `steps`
 * steps on the training images (no run directory) after one warm-up step. */
typedef struct {
    double seconds_per_step, samples_per_s, flops_per_image, gflops;
    int64_t peak_rss_bytes, chunk;
} cls_train_bench_result;
CLS_API cls_status cls_train_bench(const cls_train_config *cfg, int64_t steps,
                                   cls_train_bench_result *out);

/* ---- Checkpoints ------------------------------------------------------------
 * Little-endian file: magic "CLSCKPT1", format version, header with shapes
 * (model configs, parameter and optimiser-state counts per part, optimiser
 * kind), then the payload (parameters, optimiser state, step, epoch, RNG
 * counters (seed, step), learned logit scale and bias, configuration
 * fingerprint) and a zlib CRC-32 over every byte before it. Parts: model 0,
 * model 1 (two-tower only), and the two scalars (log logit scale, SigLIP
 * bias). */
#define CLS_CHECKPOINT_VERSION 1

typedef struct {
    int32_t n_models;              /* 1 (encoder) or 2 (two towers) */
    cls_model_config model[2];
    int32_t optim_kind;            /* cls_optim_kind */
    int64_t param_count[3];        /* per part: model 0, model 1, scalars (2) */
    int64_t state_count[3];        /* optimiser state floats per part */
    int64_t step;                  /* steps completed */
    int64_t epoch;                 /* epoch of the next step */
    uint64_t seed;                 /* counter-RNG seed (the step is the counter) */
    uint64_t config_hash;          /* fingerprint of the options that decide the bits */
    double log_logit_scale, bias;  /* learned temperature (log s) and SigLIP bias */
    float *params;                 /* sum(param_count) floats, parts in order */
    float *state;                  /* sum(state_count) floats, parts in order */
} cls_checkpoint;

/* Parse an in-memory checkpoint; name is used in messages (e.g. the file
 * name). Every field is checked (magic, version, shapes, sizes, CRC), and a
 * truncated or corrupt buffer is an error, never a crash. The fuzzer's
 * entry point. */
CLS_API cls_status cls_checkpoint_parse(cls_checkpoint *out, const void *data, size_t size,
                                        const char *name);
CLS_API cls_status cls_checkpoint_read(cls_checkpoint *out, const char *path);
/* Serialise to a malloc'd buffer (for tests and the fuzz corpus). */
CLS_API cls_status cls_checkpoint_serialize(const cls_checkpoint *ck, void **data, size_t *size);
/* Write atomically: path.tmp written and fsync'd, the current file kept as
 * prev_path (if prev_path is non-NULL), then renamed over path; the
 * directory is fsync'd. At every moment path holds a complete checkpoint. */
CLS_API cls_status cls_checkpoint_write(const cls_checkpoint *ck, const char *path,
                                        const char *prev_path);
CLS_API void cls_checkpoint_free(cls_checkpoint *ck); /* arrays released; NULL is a no-op */

#ifdef __cplusplus
}
#endif

#endif /* CLSCALE_TRAIN_H */
