/* Training configuration: the default recipe, config.json and the
 * fingerprint of the options that decide a run's bits. */
#define _GNU_SOURCE
#include "clscale/train.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "train_internal.h"

void cls_train_config_init(cls_train_config *cfg)
{
    if (!cfg) return; /* NULL is a no-op, like every _init */
    memset(cfg, 0, sizeof *cfg);
    cfg->data = "fashion-mnist";
    cfg->model = CLS_MODEL_MLP;
    cfg->width = 0;
    cfg->loss = CLS_LOSS_NTXENT;
    cfg->temperature = 0;
    cfg->learn_temperature = 0;
    cfg->batch = 512;
    cfg->chunk = 0;
    cfg->memory_budget = (int64_t)1 << 30;
    cfg->optimizer = CLS_OPTIM_ADAMW;
    cfg->lr = 1e-3;
    cfg->lr_scaling = CLS_LR_SCALE_NONE;
    cfg->weight_decay = 1e-6;
    cfg->warmup_epochs = 1;
    cfg->epochs = 0; /* by model, cls__train_epochs: each default fits ~20 min on 2 cores */
    cfg->steps = 0;
    cfg->train_subset = 0;
    cfg->seed = 0;
    cfg->threads = 0;
    cfg->log_every = 10;
    cfg->checkpoint_every = 0;
    cfg->proj_dim = 128;
    cls_augment_options_init(&cfg->augment);
    cfg->precision = CLS_PRECISION_FP32;
}

void cls_train_config_clear(cls_train_config *cfg)
{
    if (!cfg) return;
    free(cfg->owned_strings_);
    cfg->owned_strings_ = NULL;
}

double cls__train_temperature(const cls_train_config *cfg)
{
    if (cfg->temperature > 0) return cfg->temperature;
    return cfg->loss == CLS_LOSS_NTXENT ? 0.2 : 0.1;
}

/* The default schedule is chosen per model so that `clscale train --model M --out DIR` finishes
 * in under 20 minutes on two cores (docs/benchmarks.md, "Training quality, third session"):
 * the mlp trains ~4 600 images/s there (75 epochs: 16 min), the cnn ~980 (15: 15 min). */
double cls__train_epochs(const cls_train_config *cfg)
{
    if (cfg->epochs > 0) return cfg->epochs;
    return cfg->model == CLS_MODEL_CNN && !cfg->pairs_a ? 15 : 75;
}

static const char *lr_scaling_name(cls_lr_scaling s)
{
    return s == CLS_LR_SCALE_LINEAR ? "linear" : s == CLS_LR_SCALE_SQRT ? "sqrt" : "none";
}

/* FNV-1a of a canonical text of every option that changes the bits. */
uint64_t cls__train_config_hash(const cls_train_config *cfg, int64_t chunk)
{
    /* room for three paths of PATH_MAX (4096) and the options: nothing cut off */
    char s[16384];
    const cls_augment_options *a = &cfg->augment;
    snprintf(s, sizeof s,
             "data=%s|pairs=%s,%s|model=%d|width=%lld|proj=%lld|loss=%d|tau=%.17g|learn=%d|"
             "batch=%lld|chunk=%lld|opt=%d|lr=%.17g|scale=%d|wd=%.17g|warm=%.17g|epochs=%.17g|"
             "steps=%lld|subset=%lld|seed=%llu|aug=%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g",
             cfg->data ? cfg->data : "", cfg->pairs_a ? cfg->pairs_a : "",
             cfg->pairs_b ? cfg->pairs_b : "", (int)cfg->model, (long long)cfg->width,
             (long long)cfg->proj_dim, (int)cfg->loss, cls__train_temperature(cfg),
             cfg->learn_temperature, (long long)cfg->batch, (long long)chunk, (int)cfg->optimizer,
             cfg->lr, (int)cfg->lr_scaling, cfg->weight_decay, cfg->warmup_epochs, cls__train_epochs(cfg),
             (long long)cfg->steps, (long long)cfg->train_subset, (unsigned long long)cfg->seed,
             a->crop_area_min, a->crop_area_max, a->aspect_min, a->aspect_max, a->flip_prob,
             a->brightness, a->contrast, a->noise_std, a->erase_prob);
    /* appended only when not fp32: fp32 runs keep the fingerprints (and
     * checkpoints) written before the option existed */
    char tail[32] = "";
    if (cfg->precision != CLS_PRECISION_FP32) snprintf(tail, sizeof tail, "|precision=%d", (int)cfg->precision);
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const char *p = s; *p; p++) h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    for (const char *p = tail; *p; p++) h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    return h;
}

cls_status cls__train_config_write(const cls_train_config *cfg, const cls__train_plan *plan,
                                   const char *path)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "clscale_version", cls_version());
    cJSON_AddNumberToObject(o, "checkpoint_version", CLS_CHECKPOINT_VERSION);
    cJSON_AddStringToObject(o, "data", cfg->data ? cfg->data : "fashion-mnist");
    if (cfg->pairs_a) {
        cJSON_AddStringToObject(o, "pairs_a", cfg->pairs_a);
        cJSON_AddStringToObject(o, "pairs_b", cfg->pairs_b);
    }
    cJSON_AddNumberToObject(o, "data_n", (double)plan->n_data);
    cJSON_AddNumberToObject(o, "data_dim", (double)plan->data_dim);
    cJSON_AddNumberToObject(o, "data_height", (double)plan->data_height);
    cJSON_AddNumberToObject(o, "data_width", (double)plan->data_width);
    cJSON_AddStringToObject(o, "model", cls_model_kind_name(cfg->model));
    cJSON_AddNumberToObject(o, "width", (double)cfg->width);
    cJSON_AddNumberToObject(o, "width_resolved", (double)plan->width);
    cJSON_AddNumberToObject(o, "proj_dim", (double)cfg->proj_dim);
    cJSON_AddNumberToObject(o, "params", (double)plan->params);
    cJSON_AddNumberToObject(o, "flops_per_image", plan->flops_per_image);
    cJSON_AddStringToObject(o, "loss", cls_loss_kind_name(cfg->loss));
    cJSON_AddNumberToObject(o, "temperature", cfg->temperature);
    cJSON_AddNumberToObject(o, "temperature_resolved", cls__train_temperature(cfg));
    cJSON_AddBoolToObject(o, "learn_temperature", cfg->learn_temperature);
    cJSON_AddNumberToObject(o, "batch", (double)cfg->batch);
    cJSON_AddNumberToObject(o, "chunk", (double)cfg->chunk);
    cJSON_AddNumberToObject(o, "chunk_resolved", (double)plan->chunk);
    cJSON_AddNumberToObject(o, "memory_budget", (double)cfg->memory_budget);
    cJSON_AddStringToObject(o, "optimizer", cls_optim_kind_name(cfg->optimizer));
    cJSON_AddStringToObject(o, "precision", cls_loss_precision_name(cfg->precision));
    cJSON_AddNumberToObject(o, "lr", cfg->lr);
    cJSON_AddNumberToObject(o, "lr_resolved", plan->lr);
    cJSON_AddStringToObject(o, "lr_scaling", lr_scaling_name(cfg->lr_scaling));
    cJSON_AddNumberToObject(o, "weight_decay", cfg->weight_decay);
    cJSON_AddNumberToObject(o, "warmup_epochs", cfg->warmup_epochs);
    cJSON_AddNumberToObject(o, "warmup_steps", (double)plan->warmup_steps);
    cJSON_AddNumberToObject(o, "epochs", cfg->epochs);
    cJSON_AddNumberToObject(o, "epochs_resolved", cls__train_epochs(cfg));
    cJSON_AddNumberToObject(o, "steps", (double)cfg->steps);
    cJSON_AddNumberToObject(o, "steps_per_epoch", (double)plan->steps_per_epoch);
    cJSON_AddNumberToObject(o, "total_steps", (double)plan->total_steps);
    cJSON_AddNumberToObject(o, "train_subset", (double)cfg->train_subset);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)cfg->seed);
    cJSON_AddStringToObject(o, "seed", seed); /* a string: 64 bits survive JSON */
    cJSON_AddNumberToObject(o, "threads", cfg->threads);
    cJSON_AddNumberToObject(o, "threads_resolved", cls_threads_resolve(cfg->threads));
    cJSON_AddNumberToObject(o, "log_every", (double)cfg->log_every);
    cJSON_AddNumberToObject(o, "checkpoint_every", (double)cfg->checkpoint_every);
    cJSON *a = cJSON_AddObjectToObject(o, "augment");
    cJSON_AddNumberToObject(a, "crop_area_min", cfg->augment.crop_area_min);
    cJSON_AddNumberToObject(a, "crop_area_max", cfg->augment.crop_area_max);
    cJSON_AddNumberToObject(a, "aspect_min", cfg->augment.aspect_min);
    cJSON_AddNumberToObject(a, "aspect_max", cfg->augment.aspect_max);
    cJSON_AddNumberToObject(a, "flip_prob", cfg->augment.flip_prob);
    cJSON_AddNumberToObject(a, "brightness", cfg->augment.brightness);
    cJSON_AddNumberToObject(a, "contrast", cfg->augment.contrast);
    cJSON_AddNumberToObject(a, "noise_std", cfg->augment.noise_std);
    cJSON_AddNumberToObject(a, "erase_prob", cfg->augment.erase_prob);
    char hash[32];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)plan->config_hash);
    cJSON_AddStringToObject(o, "config_hash", hash);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text) return cls_set_error(CLS_E_NOMEM, "config.json: out of memory");
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        free(text);
        return cls_set_error(CLS_E_IO, "%s: cannot write", tmp);
    }
    int ok = fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    ok &= fclose(f) == 0;
    free(text);
    if (!ok || rename(tmp, path) != 0) return cls_set_error(CLS_E_IO, "%s: cannot write", path);
    return CLS_OK;
}

static double num(const cJSON *o, const char *key, double def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : def;
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

cls_status cls_train_config_load(cls_train_config *cfg, const char *run_dir)
{
    if (!cfg || !run_dir) return cls_set_error(CLS_E_INVALID_ARG, "config load: NULL argument");
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", run_dir);
    FILE *f = fopen(path, "rb");
    if (!f) return cls_set_error(CLS_E_IO, "%s: cannot open (not a training run?)", path);
    char *text = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? 2 * cap : 16384;
            char *t = realloc(text, cap);
            if (!t) {
                free(text);
                fclose(f);
                return cls_set_error(CLS_E_NOMEM, "%s: out of memory", path);
            }
            text = t;
        }
        size_t k = fread(text + len, 1, 4096, f);
        len += k;
        if (k < 4096) break;
    }
    fclose(f);
    text[len] = 0;
    cJSON *o = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return cls_set_error(CLS_E_FORMAT, "%s: not a JSON object", path);
    }
    cls_train_config c;
    cls_train_config_init(&c);
    cls_status st = CLS_OK;
    const char *s;
    if ((s = str(o, "model")) && (st = cls_model_kind_parse(s, &c.model))) goto bad;
    if ((s = str(o, "loss")) && (st = cls_loss_kind_parse(s, &c.loss))) goto bad;
    if ((s = str(o, "optimizer")) && (st = cls_optim_kind_parse(s, &c.optimizer))) goto bad;
    if ((s = str(o, "lr_scaling")) && (st = cls_lr_scaling_parse(s, &c.lr_scaling))) goto bad;
    if ((s = str(o, "precision")) && (st = cls_loss_precision_parse(s, &c.precision))) goto bad;
    c.width = (int64_t)num(o, "width", (double)c.width);
    c.proj_dim = (int64_t)num(o, "proj_dim", (double)c.proj_dim);
    c.temperature = num(o, "temperature", c.temperature);
    c.learn_temperature = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "learn_temperature"));
    c.batch = (int64_t)num(o, "batch", (double)c.batch);
    c.chunk = (int64_t)num(o, "chunk", (double)c.chunk);
    c.memory_budget = (int64_t)num(o, "memory_budget", (double)c.memory_budget);
    c.lr = num(o, "lr", c.lr);
    c.weight_decay = num(o, "weight_decay", c.weight_decay);
    c.warmup_epochs = num(o, "warmup_epochs", c.warmup_epochs);
    c.epochs = num(o, "epochs", c.epochs);
    c.steps = (int64_t)num(o, "steps", (double)c.steps);
    c.train_subset = (int64_t)num(o, "train_subset", (double)c.train_subset);
    if ((s = str(o, "seed"))) c.seed = strtoull(s, NULL, 10);
    c.threads = (int)num(o, "threads", c.threads);
    c.log_every = (int64_t)num(o, "log_every", (double)c.log_every);
    c.checkpoint_every = (int64_t)num(o, "checkpoint_every", (double)c.checkpoint_every);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "augment");
    if (cJSON_IsObject(a)) {
        c.augment.crop_area_min = num(a, "crop_area_min", c.augment.crop_area_min);
        c.augment.crop_area_max = num(a, "crop_area_max", c.augment.crop_area_max);
        c.augment.aspect_min = num(a, "aspect_min", c.augment.aspect_min);
        c.augment.aspect_max = num(a, "aspect_max", c.augment.aspect_max);
        c.augment.flip_prob = num(a, "flip_prob", c.augment.flip_prob);
        c.augment.brightness = num(a, "brightness", c.augment.brightness);
        c.augment.contrast = num(a, "contrast", c.augment.contrast);
        c.augment.noise_std = num(a, "noise_std", c.augment.noise_std);
        c.augment.erase_prob = num(a, "erase_prob", c.augment.erase_prob);
    }
    /* Strings: one allocation holding data, pairs_a, pairs_b. */
    const char *d = str(o, "data"), *pa = str(o, "pairs_a"), *pb = str(o, "pairs_b");
    size_t ld = d ? strlen(d) + 1 : 0, la = pa ? strlen(pa) + 1 : 0, lb = pb ? strlen(pb) + 1 : 0;
    char *own = malloc(ld + la + lb + 1);
    if (!own) {
        st = cls_set_error(CLS_E_NOMEM, "%s: out of memory", path);
        goto bad;
    }
    char *p = own;
    if (d) { memcpy(p, d, ld); c.data = p; p += ld; }
    if (pa && pb) {
        memcpy(p, pa, la); c.pairs_a = p; p += la;
        memcpy(p, pb, lb); c.pairs_b = p; p += lb;
    }
    c.owned_strings_ = own;
    cJSON_Delete(o);
    cls_train_config_clear(cfg);
    *cfg = c;
    return CLS_OK;
bad:
    cJSON_Delete(o);
    return cls_error_context(st, "%s", path);
}
