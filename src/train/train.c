/* The training loop with gradient caching (spec: train.md, "Gradient
 * caching", "Runs, checkpoints, logs").
 *
 * A step over a batch of B images (2B views, rows 0..B-1 view 0 and B..2B-1
 * view 1; for paired features, B rows per tower):
 *   1. encode the rows chunk by chunk with no activations kept, keeping z;
 *   2. the tiled loss on all of z gives the loss and dL/dz;
 *   3. per chunk: rebuild the same rows (counter-based views), encode keeping
 *      activations, back-propagate that chunk's dL/dz (gradients accumulate);
 *      the last chunk first, its activations still cached from step 1;
 *   4. one optimiser step at the scheduled learning rate.
 * When the memory budget holds all rows at once, step 1 keeps activations
 * and step 3 is a single backward.
 *
 * Data-parallel (cls__train_dist, train_mpi.c): rank r of P holds images
 * [r B / P, (r+1) B / P) of the batch and encodes only their views (the
 * counter-based augmentations give the views one process would build); step
 * 2 is the ring loss on the global batch; after step 3 the parameter
 * gradients are summed over ranks in a fixed order, and every rank takes the same
 * step. Rank 0 writes the run's files; the checkpoint holds only global state,
 * so a run resumes at any P. */
#define _GNU_SOURCE
#include "clscale/train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/internal.h"
#include "train_internal.h"

#define MAX_LOG_SCALE 4.605170185988092 /* ln 100: CLIP's clip of the logit scale */
#define AUG_SALT 0x6175676d656e74ULL    /* "augment": separates view draws from the data order */

typedef struct {
    cls_train_config cfg;
    int pairs, n_models;
    cls_dataset data;
    cls_pairs pr;
    cls_model *model[2];
    cls_optimizer *opt[2], *sopt;
    float scal[2], sgrad[2]; /* log logit scale, SigLIP bias */
    cls_loss_options lopt;
    cls__train_plan plan;
    const cls__train_dist *dist; /* NULL: one process */
    int64_t nb, boff;     /* this rank's images of the batch: [boff, boff + nb) */
    int64_t chunk;        /* rows per encoder chunk here (plan.chunk is the global run's) */
    int64_t dz_dim, rows; /* rows per tower per step here: 2 nb (images) or nb (pairs) */
    float *z, *dz, *x;
    uint8_t *zero; /* rows of z guarded by guard_zero_rows */
    cls_model_cache *cache[2];
    int64_t *perm, perm_epoch, *bidx;
    uint64_t aug_seed;
} trainer;

static void trainer_free(trainer *t)
{
    for (int m = 0; m < 2; m++) {
        cls_model_free(t->model[m]);
        cls_optimizer_free(t->opt[m]);
        cls_model_cache_free(t->cache[m]);
    }
    cls_optimizer_free(t->sopt);
    cls_dataset_free(&t->data);
    cls_pairs_free(&t->pr);
    cls_free(t->z);
    cls_free(t->dz);
    cls_free(t->x);
    cls_free(t->perm);
    cls_free(t->zero);
    memset(t, 0, sizeof *t);
}

static int64_t in_dim_of(const trainer *t, int m)
{
    return cls_model_in_dim(t->model[m]);
}

/* Largest chunk whose activations and inputs fit the budget (at least 1). */
static int64_t chunk_for_budget(const trainer *t, int64_t budget)
{
    int64_t lo = 1, hi = t->rows;
    int64_t in = 0;
    for (int m = 0; m < t->n_models; m++)
        if (in_dim_of(t, m) > in) in = in_dim_of(t, m);
#define COST(c) (cls_model_activation_bytes(t->model[0], (c)) + (c) * in * 4)
    if (COST(hi) <= budget) return hi;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo + 1) / 2;
        if (COST(mid) <= budget) lo = mid;
        else hi = mid - 1;
    }
#undef COST
    return lo;
}

static cls_status trainer_setup(trainer *t, const cls_train_config *cfg_in, const cls__train_dist *dist)
{
    memset(t, 0, sizeof *t);
    t->dist = dist;
    t->cfg = *cfg_in;
    t->cfg.owned_strings_ = NULL; /* the caller's strings outlive the trainer */
    cls_train_config *cfg = &t->cfg;
    cls_status st;
    if (cfg->batch < 2) return cls_set_error(CLS_E_INVALID_ARG, "batch %lld: need at least 2", (long long)cfg->batch);
    if (cfg->lr <= 0 || !isfinite(cfg->lr)) return cls_set_error(CLS_E_INVALID_ARG, "lr %g: need > 0", cfg->lr);
    if (cfg->steps <= 0 && !(cfg->epochs >= 0 && cfg->epochs <= 1e9))
        return cls_set_error(CLS_E_INVALID_ARG, "epochs %g: need a value in (0, 1e9], or 0 for the model's default",
                             cfg->epochs);
    if (cfg->temperature < 0 || cfg->warmup_epochs < 0 || cfg->weight_decay < 0 || cfg->chunk < 0 ||
        cfg->train_subset < 0 || cfg->proj_dim < 1)
        return cls_set_error(CLS_E_INVALID_ARG,
                             "negative temperature, warm-up, weight decay, chunk or subset, or proj_dim < 1");
    if (cfg->precision != CLS_PRECISION_FP32 && cfg->precision != CLS_PRECISION_BF16)
        return cls_set_error(CLS_E_INVALID_ARG, "precision %d: expected fp32 or bf16", (int)cfg->precision);
    if (cfg->loss != CLS_LOSS_NTXENT && cfg->loss != CLS_LOSS_CLIP && cfg->loss != CLS_LOSS_SIGLIP)
        return cls_set_error(CLS_E_INVALID_ARG, "loss %s: training takes ntxent, clip or siglip",
                             cls_loss_kind_name(cfg->loss));
    t->pairs = cfg->pairs_a != NULL;
    t->n_models = t->pairs ? 2 : 1;
    int64_t n;
    if (t->pairs) {
        if (!cfg->pairs_b) return cls_set_error(CLS_E_INVALID_ARG, "pairs: two files are needed");
        if ((st = cls_pairs_load(&t->pr, cfg->pairs_a, cfg->pairs_b))) return st;
        n = t->pr.n;
        t->plan.data_dim = t->pr.da;
        t->plan.data_height = t->pr.n;
        t->plan.data_width = t->pr.db;
    } else {
        cls_dataset full;
        if ((st = cls_dataset_load(&full, cfg->data ? cfg->data : "fashion-mnist", CLS_SPLIT_TRAIN)))
            return st;
        if (cfg->train_subset > 0 && cfg->train_subset < full.n) {
            st = cls_dataset_subset(&t->data, &full, cfg->train_subset, cfg->seed);
            cls_dataset_free(&full);
            if (st) return st;
        } else {
            t->data = full;
        }
        n = t->data.n;
        t->plan.data_dim = t->data.height * t->data.width;
        t->plan.data_height = t->data.height;
        t->plan.data_width = t->data.width;
    }
    t->plan.n_data = n;
    if (cfg->batch > n) {
        st = cls_set_error(CLS_E_INVALID_ARG, "batch %lld is larger than the data (%lld %s)",
                           (long long)cfg->batch, (long long)n, t->pairs ? "pairs" : "images");
        trainer_free(t); /* after the message: it clears cfg */
        return st;
    }
    /* Models. */
    for (int m = 0; m < t->n_models; m++) {
        cls_model_config mc;
        cls_model_config_init(&mc, t->pairs ? CLS_MODEL_MLP : cfg->model);
        if (cfg->width > 0) mc.width = cfg->width;
        mc.proj_dim = cfg->proj_dim;
        mc.seed = cfg->seed + (uint64_t)m;
        if (t->pairs) {
            mc.in_dim = m == 0 ? t->pr.da : t->pr.db;
        } else {
            mc.height = t->data.height;
            mc.image_w = t->data.width;
        }
        if ((st = cls_model_create(&t->model[m], &mc)) ||
            (st = cls_model_set_precision(t->model[m], cfg->precision))) {
            trainer_free(t);
            return st;
        }
        int64_t cnt;
        const int64_t *off, *len;
        const uint8_t *isb;
        cls_model_segments(t->model[m], &cnt, &off, &len, &isb);
        cls_optim_options oo;
        cls_optim_options_init(&oo, cfg->optimizer);
        oo.threads = cfg->threads;
        oo.weight_decay = cfg->weight_decay;
        if ((st = cls_optimizer_create(&t->opt[m], &oo, cls_model_param_count(t->model[m]), cnt, off,
                                       len, isb))) {
            trainer_free(t);
            return st;
        }
        t->plan.params += cls_model_param_count(t->model[m]);
    }
    if (t->pairs && cls_model_out_dim(t->model[0]) != cls_model_out_dim(t->model[1])) {
        trainer_free(t);
        return cls_set_error(CLS_E_INTERNAL, "towers disagree on dim(z)");
    }
    {
        cls_optim_options oo;
        cls_optim_options_init(&oo, cfg->optimizer);
        oo.threads = cfg->threads;
        oo.weight_decay = 0;
        int64_t off[1] = {0}, len[1] = {2};
        uint8_t isb[1] = {1}; /* excluded from decay and from LARS's trust ratio */
        if ((st = cls_optimizer_create(&t->sopt, &oo, 2, 1, off, len, isb))) {
            trainer_free(t);
            return st;
        }
    }
    t->plan.width = cls_model_get_config(t->model[0])->width;
    t->plan.flops_per_image = cls_model_flops_per_input(t->model[0]);
    if (t->pairs) t->plan.flops_per_image += cls_model_flops_per_input(t->model[1]);
    t->dz_dim = cls_model_out_dim(t->model[0]);
    t->rows = t->pairs ? cfg->batch : 2 * cfg->batch;
    /* The plan (chunk, schedule, fingerprint) is the global run's whatever P. */
    t->plan.chunk = cfg->chunk > 0 ? (cfg->chunk < t->rows ? cfg->chunk : t->rows)
                                   : chunk_for_budget(t, cfg->memory_budget);
    int P = dist ? dist->size : 1, r = dist ? dist->rank : 0;
    if (cfg->batch < P) {
        st = cls_set_error(CLS_E_INVALID_ARG, "batch %lld over %d ranks: each rank needs at least one %s",
                           (long long)cfg->batch, P, t->pairs ? "pair" : "image");
        trainer_free(t);
        return st;
    }
    t->boff = cfg->batch * r / P;
    t->nb = cfg->batch * (r + 1) / P - t->boff;
    t->rows = t->pairs ? t->nb : 2 * t->nb;
    t->chunk = t->plan.chunk < t->rows ? t->plan.chunk : t->rows;
    t->plan.steps_per_epoch = n / cfg->batch;
    int64_t spe = t->plan.steps_per_epoch;
    t->plan.total_steps = cfg->steps > 0 ? cfg->steps : (int64_t)ceil(cls__train_epochs(cfg) * (double)spe - 1e-9);
    if (t->plan.total_steps < 1) t->plan.total_steps = 1;
    t->plan.warmup_steps = (int64_t)llround(cfg->warmup_epochs * (double)spe);
    if (t->plan.warmup_steps > t->plan.total_steps) t->plan.warmup_steps = t->plan.total_steps;
    t->plan.lr = cls_lr_scaled(cfg->lr, cfg->batch, cfg->lr_scaling);
    t->plan.config_hash = cls__train_config_hash(cfg, t->plan.chunk);
    /* Buffers: z and dz for this rank's rows of both towers, inputs for one chunk. */
    int64_t zrows = t->pairs ? 2 * t->nb : t->rows;
    int64_t in = in_dim_of(t, 0);
    if (t->pairs && in_dim_of(t, 1) > in) in = in_dim_of(t, 1);
    t->z = cls_alloc((size_t)zrows * (size_t)t->dz_dim * sizeof(float), "z of the batch");
    t->dz = cls_alloc((size_t)zrows * (size_t)t->dz_dim * sizeof(float), "dL/dz of the batch");
    t->x = cls_alloc((size_t)t->chunk * (size_t)in * sizeof(float), "encoder inputs");
    t->perm = cls_alloc((size_t)n * sizeof(int64_t), "epoch order");
    t->zero = cls_alloc((size_t)zrows, "zero-row flags");
    if (!t->z || !t->dz || !t->x || !t->perm || !t->zero) {
        trainer_free(t);
        return CLS_E_NOMEM;
    }
    for (int m = 0; m < t->n_models; m++)
        if ((st = cls_model_cache_create(&t->cache[m], t->model[m], t->chunk))) {
            trainer_free(t);
            return st;
        }
    t->perm_epoch = -1;
    t->aug_seed = cfg->seed ^ AUG_SALT;
    cls_loss_options_init(&t->lopt, cfg->loss);
    t->lopt.normalize = 1;
    t->lopt.threads = cfg->threads;
    t->scal[0] = (float)log(1.0 / cls__train_temperature(cfg));
    if (t->scal[0] > MAX_LOG_SCALE) t->scal[0] = (float)MAX_LOG_SCALE;
    t->scal[1] = cfg->loss == CLS_LOSS_SIGLIP ? (float)t->lopt.bias : 0.0f;
    return CLS_OK;
}

/* Inputs of rows [r0, r1) of tower m for the current batch into t->x. */
static cls_status build_rows(trainer *t, int m, int64_t epoch, int64_t r0, int64_t r1)
{
    int64_t B = t->nb;
    if (t->pairs) {
        const float *src = m == 0 ? t->pr.a : t->pr.b;
        int64_t d = m == 0 ? t->pr.da : t->pr.db;
        for (int64_t r = r0; r < r1; r++)
            memcpy(t->x + (r - r0) * d, src + t->bidx[r] * d, (size_t)d * sizeof(float));
        return CLS_OK;
    }
    int64_t np = t->data.height * t->data.width;
    cls_status st;
    /* Rows below B (this rank's images) are view 0 of bidx[r], the rest view 1 of bidx[r - B]. */
    if (r0 < B) {
        int64_t e = r1 < B ? r1 : B;
        if ((st = cls_augment_batch(t->x, &t->data, t->bidx + r0, e - r0, 0, t->aug_seed,
                                    (uint64_t)epoch, &t->cfg.augment, t->cfg.threads)))
            return st;
    }
    if (r1 > B) {
        int64_t s = r0 > B ? r0 : B;
        if ((st = cls_augment_batch(t->x + (s - r0) * np, &t->data, t->bidx + (s - B), r1 - s, 1,
                                    t->aug_seed, (uint64_t)epoch, &t->cfg.augment, t->cfg.threads)))
            return st;
    }
    return CLS_OK;
}

/* A view whose representation is all zero (every ReLU unit dead; biases
 * start at 0) has no direction for the loss's normalisation. Such rows get a
 * fixed direction (all entries 1e-6) and, after the loss, a zero gradient:
 * they carry no signal, as a dead unit carries none. Returns how many. */
static int64_t guard_zero_rows(float *z, int64_t n, int64_t d, uint8_t *zero)
{
    int64_t count = 0;
    for (int64_t i = 0; i < n; i++) {
        double s = 0;
        for (int64_t j = 0; j < d; j++) s += (double)z[i * d + j] * z[i * d + j];
        zero[i] = s < 1e-30;
        if (zero[i]) {
            for (int64_t j = 0; j < d; j++) z[i * d + j] = 1e-6f;
            count++;
        }
    }
    return count;
}

/* The rank-local part of a step: encode this rank's rows (first pass). */
static cls_status encode_rows(trainer *t, int64_t epoch)
{
    int64_t B = t->nb, C = t->chunk, R = t->rows, dd = t->dz_dim;
    /* the last chunk's activations stay cached from the first pass (all rows
     * when one chunk holds them): its backward needs no second forward */
    int64_t last0 = (R - 1) / C * C;
    cls_status st;
    for (int m = 0; m < t->n_models; m++) {
        cls_model_zero_grad(t->model[m]);
        float *zm = t->z + (t->pairs ? m * B * dd : 0);
        for (int64_t r0 = 0; r0 < R; r0 += C) {
            int64_t r1 = r0 + C < R ? r0 + C : R;
            if ((st = build_rows(t, m, epoch, r0, r1))) return st;
            if ((st = cls_model_forward(t->model[m], t->x, r1 - r0, NULL, zm + r0 * dd,
                                        r0 == last0 ? t->cache[m] : NULL, t->cfg.threads)))
                return st;
        }
    }
    return CLS_OK;
}

/* Second pass: back-propagate this rank's rows of dL/dz (gradients accumulate):
 * the last chunk from the first pass's cache, then the others re-encoded. */
static cls_status backprop_rows(trainer *t, int64_t epoch)
{
    int64_t B = t->nb, C = t->chunk, R = t->rows, dd = t->dz_dim;
    int64_t last0 = (R - 1) / C * C;
    cls_status st;
    for (int m = 0; m < t->n_models; m++) {
        const float *dzm = t->dz + (t->pairs ? m * B * dd : 0);
        if ((st = cls_model_backward(t->model[m], t->cache[m], dzm + last0 * dd, NULL, R - last0,
                                     t->cfg.threads)))
            return st;
        for (int64_t r0 = 0; r0 < last0; r0 += C) {
            int64_t r1 = r0 + C < R ? r0 + C : R;
            if ((st = build_rows(t, m, epoch, r0, r1))) return st;
            if ((st = cls_model_forward(t->model[m], t->x, r1 - r0, NULL, NULL, t->cache[m],
                                        t->cfg.threads)) ||
                (st = cls_model_backward(t->model[m], t->cache[m], dzm + r0 * dd, NULL, r1 - r0,
                                         t->cfg.threads)))
                return st;
        }
    }
    return CLS_OK;
}

static cls_status dist_agree(const trainer *t, cls_status st)
{
    return t->dist ? t->dist->agree(t->dist->user, st) : st;
}

/* One step; *loss gets the batch loss (the global batch's on every rank). A
 * non-finite loss or gradient returns CLS_E_NONFINITE with the parameters
 * untouched. */
static cls_status train_step(trainer *t, int64_t step, double *loss, double *lr_out)
{
    int64_t B = t->nb, spe = t->plan.steps_per_epoch;
    int64_t epoch = step / spe, pos = step % spe;
    cls_status st = CLS_OK;
    if (t->perm_epoch != epoch) {
        int64_t n = t->plan.n_data;
        if ((st = cls_epoch_permutation(t->perm, n, t->cfg.seed, (uint64_t)epoch)) == CLS_OK)
            t->perm_epoch = epoch;
    }
    t->bidx = t->perm + pos * t->cfg.batch + t->boff;
    int64_t R = t->rows, dd = t->dz_dim;
    if (st == CLS_OK) st = encode_rows(t, epoch);
    if ((st = dist_agree(t, st))) return st;
    t->lopt.logit_scale = exp((double)t->scal[0]);
    t->lopt.bias = t->scal[1];
    int64_t zrows = t->pairs ? 2 * B : R;
    int64_t nzero = guard_zero_rows(t->z, zrows, dd, t->zero);
    cls_loss_result res;
    if (t->dist)
        st = t->dist->loss(t->dist->user, &res, t->dz, t->dz + B * dd, t->z, t->z + B * dd, B, dd, &t->lopt);
    else
        st = cls_loss_compute(&res, t->dz, t->dz + B * dd, t->z, B, t->z + B * dd, B, dd, NULL, &t->lopt);
    if (st) return st;
    if (nzero)
        for (int64_t i = 0; i < zrows; i++)
            if (t->zero[i]) memset(t->dz + i * dd, 0, (size_t)dd * sizeof(float));
    *loss = res.loss; /* the same on every rank */
    if (!isfinite(res.loss)) return cls_set_error(CLS_E_NONFINITE, "loss is %g", res.loss);
    st = backprop_rows(t, epoch);
    if (t->dist) {
        if ((st = dist_agree(t, st))) return st;
        for (int m = 0; m < t->n_models && !st; m++)
            st = t->dist->reduce(t->dist->user, cls_model_grads(t->model[m]), cls_model_param_count(t->model[m]));
    }
    if (st) return st;
    double lr = cls_lr_schedule(t->plan.lr, step, t->plan.warmup_steps, t->plan.total_steps);
    *lr_out = lr;
    /* Check every gradient before touching any parameter. */
    for (int m = 0; m < t->n_models; m++) {
        int64_t np = cls_model_param_count(t->model[m]);
        if ((st = cls_check_finite_f32(cls_model_grads(t->model[m]), 1, np, "gradient"))) return st;
    }
    for (int m = 0; m < t->n_models; m++)
        if ((st = cls_optimizer_step(t->opt[m], cls_model_params(t->model[m]),
                                     cls_model_grads(t->model[m]), lr)))
            return st;
    int learn_s = t->cfg.learn_temperature, learn_b = t->cfg.loss == CLS_LOSS_SIGLIP;
    if (learn_s || learn_b) {
        /* d/d(log s) = s * dL/ds. */
        t->sgrad[0] = learn_s ? (float)(t->lopt.logit_scale * res.grad_logit_scale) : 0.0f;
        t->sgrad[1] = learn_b ? (float)res.grad_bias : 0.0f;
        if ((st = cls_optimizer_step(t->sopt, t->scal, t->sgrad, lr))) return st;
        if (t->scal[0] > (float)MAX_LOG_SCALE) t->scal[0] = (float)MAX_LOG_SCALE;
    }
    return CLS_OK;
}

/* ---- checkpoints of a trainer -------------------------------------------- */

static cls_status trainer_checkpoint(trainer *t, int64_t steps_done, const char *dir)
{
    cls_checkpoint ck;
    memset(&ck, 0, sizeof ck);
    ck.n_models = t->n_models;
    ck.optim_kind = t->cfg.optimizer;
    for (int m = 0; m < t->n_models; m++) {
        ck.model[m] = *cls_model_get_config(t->model[m]);
        ck.param_count[m] = cls_model_param_count(t->model[m]);
        ck.state_count[m] = cls_optimizer_state_count(t->opt[m]);
    }
    ck.param_count[2] = 2;
    ck.state_count[2] = cls_optimizer_state_count(t->sopt);
    ck.step = steps_done;
    ck.epoch = steps_done / t->plan.steps_per_epoch;
    ck.seed = t->cfg.seed;
    ck.config_hash = t->plan.config_hash;
    ck.log_logit_scale = t->scal[0];
    ck.bias = t->scal[1];
    int64_t np = ck.param_count[0] + ck.param_count[1] + 2;
    int64_t ns = ck.state_count[0] + ck.state_count[1] + ck.state_count[2];
    ck.params = cls_alloc((size_t)np * 4, "checkpoint parameters");
    ck.state = cls_alloc((size_t)(ns ? ns : 1) * 4, "checkpoint state");
    if (!ck.params || !ck.state) {
        cls_checkpoint_free(&ck);
        return CLS_E_NOMEM;
    }
    int64_t po = 0, so = 0;
    for (int m = 0; m < t->n_models; m++) {
        memcpy(ck.params + po, cls_model_params(t->model[m]), (size_t)ck.param_count[m] * 4);
        po += ck.param_count[m];
        memcpy(ck.state + so, cls_optimizer_state(t->opt[m]), (size_t)ck.state_count[m] * 4);
        so += ck.state_count[m];
    }
    memcpy(ck.params + po, t->scal, 2 * 4);
    if (ck.state_count[2]) memcpy(ck.state + so, cls_optimizer_state(t->sopt), (size_t)ck.state_count[2] * 4);
    char path[4096], prev[4096];
    snprintf(path, sizeof path, "%s/checkpoint.bin", dir);
    snprintf(prev, sizeof prev, "%s/checkpoint.prev.bin", dir);
    cls_status st = cls_checkpoint_write(&ck, path, prev);
    cls_checkpoint_free(&ck);
    return st;
}

static void describe_models(char *s, size_t cap, const cls_checkpoint *ck)
{
    if (ck->n_models == 2)
        snprintf(s, cap, "two mlp towers (in %lld and %lld, width %lld)", (long long)ck->model[0].in_dim,
                 (long long)ck->model[1].in_dim, (long long)ck->model[0].width);
    else
        snprintf(s, cap, "%s width %lld on %lldx%lld inputs, proj %lld, seed %llu",
                 cls_model_kind_name(ck->model[0].kind), (long long)ck->model[0].width,
                 (long long)ck->model[0].height, (long long)ck->model[0].image_w,
                 (long long)ck->model[0].proj_dim, (unsigned long long)ck->model[0].seed);
}

static int same_model(const cls_model_config *a, const cls_model_config *b, int pairs)
{
    return a->kind == b->kind && a->width == b->width && a->proj_dim == b->proj_dim &&
           a->seed == b->seed && a->in_dim == b->in_dim &&
           (pairs || (a->height == b->height && a->image_w == b->image_w));
}

/* Load the checkpoint into the trainer; checks that it belongs to this model
 * and configuration. */
static cls_status trainer_restore(trainer *t, const cls_checkpoint *ck, const char *name)
{
    cls_checkpoint mine;
    memset(&mine, 0, sizeof mine);
    mine.n_models = t->n_models;
    for (int m = 0; m < t->n_models; m++) mine.model[m] = *cls_model_get_config(t->model[m]);
    int ok = ck->n_models == t->n_models;
    for (int m = 0; ok && m < t->n_models; m++) ok = same_model(&ck->model[m], &mine.model[m], t->pairs);
    if (!ok) {
        char theirs[256], ours[256];
        describe_models(theirs, sizeof theirs, ck);
        describe_models(ours, sizeof ours, &mine);
        return cls_set_error(CLS_E_FORMAT, "%s is a checkpoint of another model (%s); this run trains %s",
                             name, theirs, ours);
    }
    for (int m = 0; m < t->n_models; m++)
        if (ck->param_count[m] != cls_model_param_count(t->model[m]) ||
            ck->state_count[m] != cls_optimizer_state_count(t->opt[m]))
            return cls_set_error(CLS_E_FORMAT, "%s: model %d has %lld parameters / %lld state, expected %lld / %lld",
                                 name, m, (long long)ck->param_count[m], (long long)ck->state_count[m],
                                 (long long)cls_model_param_count(t->model[m]),
                                 (long long)cls_optimizer_state_count(t->opt[m]));
    if (ck->optim_kind != (int32_t)t->cfg.optimizer || ck->param_count[2] != 2 ||
        ck->state_count[2] != cls_optimizer_state_count(t->sopt))
        return cls_set_error(CLS_E_FORMAT, "%s: optimiser %s, this run uses %s", name,
                             cls_optim_kind_name((cls_optim_kind)ck->optim_kind),
                             cls_optim_kind_name(t->cfg.optimizer));
    if (ck->config_hash != t->plan.config_hash || ck->seed != t->cfg.seed)
        return cls_set_error(CLS_E_FORMAT,
                             "%s was written by a different configuration (fingerprint %016llx, this "
                             "run %016llx): resume with the options in config.json",
                             name, (unsigned long long)ck->config_hash,
                             (unsigned long long)t->plan.config_hash);
    if (ck->step > t->plan.total_steps)
        return cls_set_error(CLS_E_FORMAT, "%s: step %lld beyond the run's %lld steps", name,
                             (long long)ck->step, (long long)t->plan.total_steps);
    int64_t po = 0, so = 0;
    for (int m = 0; m < t->n_models; m++) {
        memcpy(cls_model_params(t->model[m]), ck->params + po, (size_t)ck->param_count[m] * 4);
        po += ck->param_count[m];
        memcpy(cls_optimizer_state(t->opt[m]), ck->state + so, (size_t)ck->state_count[m] * 4);
        so += ck->state_count[m];
        cls_optimizer_set_steps(t->opt[m], ck->step);
    }
    memcpy(t->scal, ck->params + po, 2 * 4);
    if (ck->state_count[2]) memcpy(cls_optimizer_state(t->sopt), ck->state + so, (size_t)ck->state_count[2] * 4);
    if (t->cfg.learn_temperature || t->cfg.loss == CLS_LOSS_SIGLIP) cls_optimizer_set_steps(t->sopt, ck->step);
    return CLS_OK;
}

/* Read dir's latest usable checkpoint: checkpoint.bin, or the previous one
 * when the latest is missing. *found = 0 when neither exists. A damaged
 * latest checkpoint is refused by name, offering the previous one. */
static cls_status read_latest(cls_checkpoint *ck, const char *dir, int *found, char *name, size_t cap)
{
    char path[4096], prev[4096];
    snprintf(path, sizeof path, "%s/checkpoint.bin", dir);
    snprintf(prev, sizeof prev, "%s/checkpoint.prev.bin", dir);
    *found = 0;
    int has = access(path, F_OK) == 0, has_prev = access(prev, F_OK) == 0;
    if (!has && !has_prev) return CLS_OK;
    *found = 1;
    if (!has) {
        snprintf(name, cap, "%s", prev);
        return cls_checkpoint_read(ck, prev);
    }
    snprintf(name, cap, "%s", path);
    cls_status st = cls_checkpoint_read(ck, path);
    if (st == CLS_OK) return CLS_OK;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", cls_last_error());
    cls_checkpoint p;
    if (has_prev && cls_checkpoint_read(&p, prev) == CLS_OK) {
        int64_t s = p.step;
        cls_checkpoint_free(&p);
        return cls_set_error(st, "%s; the previous checkpoint %s (step %lld) is intact: copy it over "
                                 "%s to resume from it", msg, prev, (long long)s, path);
    }
    return cls_set_error(st, "%s (and no intact previous checkpoint %s)", msg, prev);
}

/* Keep metrics lines up to step `upto` (a resumed run rewrites the rest). */
static void truncate_metrics(const char *path, int64_t upto)
{
    FILE *f = fopen(path, "r");
    if (!f) return;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *g = fopen(tmp, "w");
    if (!g) {
        fclose(f);
        return;
    }
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        long long s;
        if (strchr(line, '\n') == NULL) break; /* a line cut by a kill */
        if (sscanf(line, "{\"step\":%lld", &s) == 1 && s > upto) continue;
        fputs(line, g);
    }
    fclose(f);
    fclose(g);
    rename(tmp, path);
}

static cls_status make_dir(const char *dir)
{
    struct stat sb;
    if (stat(dir, &sb) == 0) {
        if (!S_ISDIR(sb.st_mode)) return cls_set_error(CLS_E_IO, "%s exists and is not a directory", dir);
        return CLS_OK;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return cls_set_error(CLS_E_IO, "cannot create %s: %s", dir, cls_errno_string(errno, (char[128]){0}, 128));
    return CLS_OK;
}

/* Training FLOPs of one step of the whole batch and the loss (forward 2
 * GEMMs' worth, backward 2 more: 6 n^2 d for 2n rows). Useful (executed 0):
 * the usual 3x forward per row, the compute C of the scaling laws. Executed:
 * the backward as run (no dX of the input layer) and the re-encoding of
 * gradient caching, the rate to set against the GEMM peak. */
static double step_flops(const trainer *t, int executed)
{
    double rows = (double)(t->pairs ? t->cfg.batch : 2 * t->cfg.batch), f = 0;
    for (int m = 0; m < t->n_models; m++) {
        double per = cls_model_flops_per_input(t->model[m]);
        /* executed: the chunks before the last are encoded twice (counted on
         * this rank's rows, scaled to the whole batch) */
        double again = executed ? (double)((t->rows - 1) / t->chunk * t->chunk) * (rows / (double)t->rows) : 0.0;
        f += executed ? (rows + again) * per + rows * cls_model_backward_flops_per_input(t->model[m]) : 3.0 * rows * per;
    }
    f += 6.0 * rows * rows * (double)t->dz_dim;
    return f;
}

static int is_root(const cls__train_dist *dist) { return !dist || dist->rank == 0; }

static cls_status agree(const cls__train_dist *dist, cls_status st)
{
    return dist ? dist->agree(dist->user, st) : st;
}

/* The latest checkpoint of dir (rank 0 reads it; the others receive its
 * bytes), restored into t; *start gets its step (0 when there is none). */
/* The precision is a run option most likely changed on purpose: a resume
 * with the other one is refused by name (config.json written before the
 * option existed reads as fp32, which those runs were). */
static cls_status check_precision(const trainer *t, const char *dir)
{
    cls_train_config c;
    cls_train_config_init(&c);
    if (cls_train_config_load(&c, dir) != CLS_OK) { /* the checkpoint decides */
        cls_clear_error();
        return CLS_OK;
    }
    cls_precision was = c.precision;
    cls_train_config_clear(&c);
    if (was == t->cfg.precision) return CLS_OK;
    return cls_set_error(CLS_E_FORMAT,
                         "%s was trained with --precision %s; this run asks for %s: resume with "
                         "--precision %s (the precision is part of a run's bits)",
                         dir, cls_loss_precision_name(was), cls_loss_precision_name(t->cfg.precision),
                         cls_loss_precision_name(was));
}

static cls_status resume_from(trainer *t, const char *dir, int64_t *start)
{
    const cls__train_dist *dist = t->dist;
    cls_checkpoint ck;
    memset(&ck, 0, sizeof ck);
    int found = 0;
    char name[4096];
    cls_status st = CLS_OK;
    *start = 0;
    if (is_root(dist)) st = read_latest(&ck, dir, &found, name, sizeof name);
    if (is_root(dist) && !st && found && (st = check_precision(t, dir))) cls_checkpoint_free(&ck);
    if ((st = agree(dist, st))) return st;
    if (dist) {
        void *buf = NULL;
        size_t size = 0;
        if (dist->rank == 0 && found) st = cls_checkpoint_serialize(&ck, &buf, &size);
        if ((st = agree(dist, st)) == CLS_OK) st = dist->bcast(dist->user, &buf, &size);
        if (st == CLS_OK) {
            found = size > 0;
            if (dist->rank != 0) snprintf(name, sizeof name, "%s/checkpoint.bin (sent by rank 0)", dir);
            if (dist->rank != 0 && found) st = cls_checkpoint_parse(&ck, buf, size, name);
        }
        free(buf);
        if ((st = agree(dist, st))) {
            cls_checkpoint_free(&ck);
            return st;
        }
    }
    if (found) {
        st = trainer_restore(t, &ck, name);
        *start = ck.step;
        cls_checkpoint_free(&ck);
    }
    return agree(dist, st);
}

/* Every rank runs the same configuration: rank 0's fingerprint, batch and
 * data size against each rank's. */
static cls_status check_same_config(const trainer *t)
{
    const cls__train_dist *dist = t->dist;
    if (!dist) return CLS_OK;
    uint64_t mine[4] = {t->plan.config_hash, (uint64_t)t->cfg.batch, (uint64_t)t->plan.n_data,
                        (uint64_t)t->plan.params};
    void *buf = NULL;
    size_t size = 0;
    cls_status st = CLS_OK;
    if (dist->rank == 0) {
        if (!(buf = malloc(sizeof mine))) st = cls_set_error(CLS_E_NOMEM, "train: 32 bytes");
        else memcpy(buf, mine, sizeof mine), size = sizeof mine;
    }
    if ((st = agree(dist, st))) return st;
    if ((st = dist->bcast(dist->user, &buf, &size))) return st;
    if (size != sizeof mine || memcmp(buf, mine, sizeof mine) != 0)
        st = cls_set_error(CLS_E_INVALID_ARG, "train: this rank's configuration differs from rank 0's "
                                              "(fingerprint %016llx, batch %lld, %lld images, %lld parameters)",
                           (unsigned long long)mine[0], (long long)mine[1], (long long)mine[2],
                           (long long)mine[3]);
    free(buf);
    return agree(dist, st);
}

static cls_status run_impl(const cls_train_config *cfg, const char *out_dir, int resume,
                           cls_train_result *out, const cls__train_dist *dist)
{
    if (!cfg || !out_dir) return agree(dist, cls_set_error(CLS_E_INVALID_ARG, "train: NULL argument"));
    const int root = is_root(dist);
    cls_status st = root ? make_dir(out_dir) : CLS_OK;
    if ((st = agree(dist, st))) return st;
    trainer t;
    st = trainer_setup(&t, cfg, dist);
    if ((st = agree(dist, st))) {
        trainer_free(&t); /* all NULL after its own failure; set up when another rank failed */
        return st;
    }
    FILE *mf = NULL;
    char path[4096], metrics[4096];
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", out_dir);
    int64_t start = 0;
    if ((st = check_same_config(&t))) goto done;
    if (resume) {
        if ((st = resume_from(&t, out_dir, &start))) goto done;
        if (root) truncate_metrics(metrics, start);
    } else if (root) {
        /* A fresh run never overwrites another run's checkpoint silently. */
        snprintf(path, sizeof path, "%s/checkpoint.bin", out_dir);
        if (access(path, F_OK) == 0)
            st = cls_set_error(CLS_E_INVALID_ARG, "%s already holds a run (%s): use --resume to "
                                                  "continue it or another --out",
                               out_dir, path);
        else
            remove(metrics);
    }
    if (root && !st) {
        snprintf(path, sizeof path, "%s/config.json", out_dir);
        st = cls__train_config_write(&t.cfg, &t.plan, path);
        if (!st && !(mf = fopen(metrics, "a"))) st = cls_set_error(CLS_E_IO, "%s: cannot open for writing", metrics);
    }
    if ((st = agree(dist, st))) goto done;
    int64_t total = t.plan.total_steps, spe = t.plan.steps_per_epoch, B = t.cfg.batch;
    int64_t log_every = t.cfg.log_every > 0 ? t.cfg.log_every : 10;
    double t0 = cls_now_seconds(), loss = NAN, lr = 0;
    int stopped = 0;
    int64_t s = start, last_ckpt = start;
    for (; s < total && !stopped; s++) {
        st = train_step(&t, s, &loss, &lr);
        if (st == CLS_E_NONFINITE) {
            char msg[1024], kept[256];
            snprintf(msg, sizeof msg, "%s", cls_last_error());
            if (last_ckpt > 0)
                snprintf(kept, sizeof kept, "the last good checkpoint (step %lld) is kept",
                         (long long)last_ckpt);
            else
                snprintf(kept, sizeof kept, "no checkpoint had been written yet");
            st = cls_set_error(CLS_E_NONFINITE, "training diverged at step %lld (epoch %lld): %s; "
                               "stopped, %s in %s", (long long)(s + 1), (long long)(s / spe), msg,
                               kept, out_dir);
        }
        if (st) break;
        int64_t done_steps = s + 1;
        double el = cls_now_seconds() - t0;
        int is_log = done_steps % log_every == 0 || done_steps == total || done_steps == start + 1;
        if (is_log) {
            cls_train_progress p = {done_steps, total, (double)done_steps / (double)spe, loss, lr,
                                    exp(-(double)t.scal[0]),
                                    (double)(done_steps - start) * (double)B / (el > 0 ? el : 1e-9), el};
            if (root) {
                fprintf(mf,
                        "{\"step\":%lld,\"epoch\":%.6f,\"loss\":%.9g,\"lr\":%.9g,\"temperature\":%.9g,"
                        "\"samples_per_s\":%.4g,\"seconds\":%.3f,\"peak_rss_bytes\":%lld}\n",
                        (long long)done_steps, p.epoch, loss, lr, p.temperature, p.samples_per_s, el,
                        (long long)cls_peak_rss_bytes());
                fflush(mf);
                if (t.cfg.progress && t.cfg.progress(t.cfg.progress_user, &p)) stopped = 1;
            }
            if (dist) stopped = dist->any(dist->user, stopped); /* rank 0's callback decides */
        }
        int64_t every = t.cfg.checkpoint_every > 0 ? t.cfg.checkpoint_every : spe;
        if (done_steps % every == 0 || done_steps == total || stopped)
        {
            st = root ? trainer_checkpoint(&t, done_steps, out_dir) : CLS_OK;
            if ((st = agree(dist, st))) break;
            last_ckpt = done_steps;
        }
    }
    if (st) goto done;
    double el = cls_now_seconds() - t0;
    if (out) {
        memset(out, 0, sizeof *out);
        out->steps = s;
        out->start_step = start;
        out->samples_seen = s * B;
        out->params = t.plan.params;
        out->peak_rss_bytes = cls_peak_rss_bytes();
        out->epochs = (double)s / (double)spe;
        out->final_loss = loss;
        out->seconds = el;
        out->samples_per_s = el > 0 ? (double)(s - start) * (double)B / el : 0;
        out->flops_per_image = t.plan.flops_per_image;
        out->train_flops = (double)s * step_flops(&t, 0);
        out->chunk = t.plan.chunk;
        out->stopped_early = stopped;
    }
done:
    if (mf) fclose(mf);
    trainer_free(&t);
    return st;
}

cls_status cls_train_run(const cls_train_config *cfg, const char *out_dir, int resume,
                         cls_train_result *out)
{
    return run_impl(cfg, out_dir, resume, out, NULL);
}

cls_status cls__train_run_dist(const cls_train_config *cfg, const char *out_dir, int resume,
                               cls_train_result *out, const cls__train_dist *dist)
{
    return run_impl(cfg, out_dir, resume, out, dist);
}

static cls_status bench_impl(const cls_train_config *cfg, int64_t steps, cls_train_bench_result *out,
                             const cls__train_dist *dist)
{
    if (!cfg || !out || steps < 1)
        return agree(dist, cls_set_error(CLS_E_INVALID_ARG, "bench: bad arguments"));
    cls_train_config c = *cfg;
    if (c.steps <= 0) c.steps = steps + 1;
    trainer t;
    cls_status st = trainer_setup(&t, &c, dist);
    if ((st = agree(dist, st))) {
        trainer_free(&t); /* all NULL after its own failure; set up when another rank failed */
        return st;
    }
    double loss, lr;
    if ((st = train_step(&t, 0, &loss, &lr))) goto done; /* warm-up */
    if (dist && dist->reset_stats) dist->reset_stats(dist->user);
    double t0 = cls_now_seconds();
    for (int64_t s = 1; s <= steps && !st; s++) st = train_step(&t, s, &loss, &lr);
    if (st) goto done;
    double el = cls_now_seconds() - t0;
    memset(out, 0, sizeof *out);
    out->seconds_per_step = el / (double)steps;
    out->samples_per_s = (double)steps * (double)c.batch / el;
    out->flops_per_image = t.plan.flops_per_image;
    out->gflops = step_flops(&t, 1) * (double)steps / el * 1e-9;
    out->peak_rss_bytes = cls_peak_rss_bytes();
    out->chunk = t.chunk;
done:
    trainer_free(&t);
    return st;
}

cls_status cls_train_bench(const cls_train_config *cfg, int64_t steps, cls_train_bench_result *out)
{
    return bench_impl(cfg, steps, out, NULL);
}

cls_status cls__train_bench_dist(const cls_train_config *cfg, int64_t steps, cls_train_bench_result *out,
                                 const cls__train_dist *dist)
{
    return bench_impl(cfg, steps, out, dist);
}

/* ---- inference on a run --------------------------------------------------- */

/* The model of a run's latest checkpoint and the run's configuration. */
static cls_status load_run_model(const char *run_dir, cls_train_config *cfg, cls_model **model)
{
    cls_status st = cls_train_config_load(cfg, run_dir);
    if (st) return st;
    if (cfg->pairs_a) {
        cls_train_config_clear(cfg);
        return cls_set_error(CLS_E_UNSUPPORTED, "%s is a two-tower run on paired features: it has no "
                                                "image encoder to embed with", run_dir);
    }
    cls_checkpoint ck;
    int found;
    char name[4096];
    if ((st = read_latest(&ck, run_dir, &found, name, sizeof name))) goto fail;
    if (!found) {
        st = cls_set_error(CLS_E_IO, "%s: no checkpoint yet", run_dir);
        goto fail;
    }
    if (ck.n_models != 1) {
        cls_checkpoint_free(&ck);
        st = cls_set_error(CLS_E_FORMAT, "%s: not an image-encoder checkpoint", name);
        goto fail;
    }
    if ((st = cls_model_create(model, &ck.model[0]))) {
        cls_checkpoint_free(&ck);
        goto fail;
    }
    if (cls_model_param_count(*model) != ck.param_count[0]) {
        cls_model_free(*model);
        *model = NULL;
        cls_checkpoint_free(&ck);
        st = cls_set_error(CLS_E_FORMAT, "%s: %lld parameters for a model of %lld", name,
                           (long long)ck.param_count[0], (long long)cls_model_param_count(*model));
        goto fail;
    }
    memcpy(cls_model_params(*model), ck.params, (size_t)ck.param_count[0] * 4);
    cls_checkpoint_free(&ck);
    return CLS_OK;
fail:
    cls_train_config_clear(cfg);
    return st;
}

cls_status cls_train_embed(const char *run_dir, cls_split split, float **repr, int64_t **labels,
                           int64_t *n, int64_t *dim)
{
    if (!run_dir || !repr || !labels || !n || !dim)
        return cls_set_error(CLS_E_INVALID_ARG, "embed: NULL argument");
    cls_train_config cfg;
    cls_train_config_init(&cfg);
    cls_model *model = NULL;
    cls_status st = load_run_model(run_dir, &cfg, &model);
    if (st) return st;
    cls_dataset d;
    st = cls_dataset_load(&d, cfg.data ? cfg.data : "fashion-mnist", split);
    cls_train_config_clear(&cfg);
    if (st) {
        cls_model_free(model);
        return st;
    }
    int64_t hd = cls_model_repr_dim(model), in = cls_model_in_dim(model);
    if (in != d.height * d.width) {
        st = cls_set_error(CLS_E_SHAPE, "embed: the model takes %lld inputs, the data has %lldx%lld",
                           (long long)in, (long long)d.height, (long long)d.width);
        goto out;
    }
    float *h = cls_alloc((size_t)d.n * (size_t)hd * sizeof(float), "representations");
    if (!h) {
        st = CLS_E_NOMEM;
        goto out;
    }
    const int64_t chunk = 1024;
    for (int64_t r = 0; r < d.n && !st; r += chunk) {
        int64_t m = d.n - r < chunk ? d.n - r : chunk;
        st = cls_model_forward(model, d.images + r * in, m, h + r * hd, NULL, NULL, 0);
    }
    if (st) {
        cls_free(h);
        goto out;
    }
    *repr = h;
    *labels = d.labels;
    d.labels = NULL;
    *n = d.n;
    *dim = hd;
out:
    cls_dataset_free(&d);
    cls_model_free(model);
    return st;
}

cls_status cls_train_heldout_loss(const char *run_dir, double temperature, uint64_t seed, double *loss)
{
    if (!run_dir || !loss || !(temperature > 0))
        return cls_set_error(CLS_E_INVALID_ARG, "heldout loss: bad arguments (temperature %g)", temperature);
    cls_train_config cfg;
    cls_train_config_init(&cfg);
    cls_model *model = NULL;
    cls_status st = load_run_model(run_dir, &cfg, &model);
    if (st) return st;
    cls_dataset d;
    cls_augment_options aug = cfg.augment;
    st = cls_dataset_load(&d, cfg.data ? cfg.data : "fashion-mnist", CLS_SPLIT_TEST);
    cls_train_config_clear(&cfg);
    if (st) {
        cls_model_free(model);
        return st;
    }
    int64_t n = d.n, in = d.height * d.width, dd = cls_model_out_dim(model);
    const int64_t chunk = 1024;
    float *z = cls_alloc((size_t)(2 * n) * (size_t)dd * sizeof(float), "held-out z");
    float *x = cls_alloc((size_t)chunk * (size_t)in * sizeof(float), "held-out views");
    int64_t *idx = cls_alloc((size_t)n * sizeof(int64_t), "held-out indices");
    if (!z || !x || !idx) {
        st = CLS_E_NOMEM;
        goto out;
    }
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    for (int view = 0; view < 2 && !st; view++)
        for (int64_t r = 0; r < n && !st; r += chunk) {
            int64_t m = n - r < chunk ? n - r : chunk;
            st = cls_augment_batch(x, &d, idx + r, m, view, seed, 0, &aug, 0);
            if (!st) st = cls_model_forward(model, x, m, NULL, z + (view * n + r) * dd, NULL, 0);
        }
    if (!st) {
        uint8_t *zero = cls_alloc((size_t)(2 * n), "zero-row flags");
        if (zero) guard_zero_rows(z, 2 * n, dd, zero);
        cls_free(zero);
        cls_loss_options lo;
        cls_loss_options_init(&lo, CLS_LOSS_NTXENT);
        lo.logit_scale = 1.0 / temperature;
        lo.normalize = 1;
        cls_loss_result res;
        st = cls_loss_compute(&res, NULL, NULL, z, n, z + n * dd, n, dd, NULL, &lo);
        if (!st) *loss = res.loss;
    }
out:
    cls_free(z);
    cls_free(x);
    cls_free(idx);
    cls_dataset_free(&d);
    cls_model_free(model);
    return st;
}
