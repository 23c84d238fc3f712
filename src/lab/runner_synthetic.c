/* Synthetic runner: records from known scaling laws with noise, for tests and
 * for trying the analysis without training. Deterministic in (spec, seed);
 * "trains" in 10 chunks with a checkpoint file so that interruption and
 * resume can be exercised. */
#define _GNU_SOURCE
#include "lab_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SYN_CHUNKS 10
#define SYN_EIG 128

void cls_lab_synthetic_init(cls_lab_synthetic *s)
{
    if (!s) return; /* NULL is a no-op, like every _init */
    memset(s, 0, sizeof *s);
    s->E = 2.0;
    s->A = 60.0;
    s->alpha = 0.35;
    s->B = 120.0;
    s->beta = 0.40;
    s->pE = 0.08;
    s->pA = 3.0;
    s->palpha = 0.30;
    s->pB = 5.0;
    s->pbeta = 0.35;
    s->noise = 0.01;
    s->fail_width = -1;
}

static uint64_t hash_str(const char *s, uint64_t h)
{
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

static int read_chunk(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int c = 0;
    if (fscanf(f, "%d", &c) != 1) c = 0;
    fclose(f);
    return c < 0 ? 0 : c > SYN_CHUNKS ? SYN_CHUNKS : c;
}

cls_status cls_lab_runner_synthetic(void *user, const cls_lab_spec *spec, const char *run_dir,
                                    const cls_lab_run_context *ctx, cls_lab_record *out)
{
    cls_lab_synthetic defaults;
    cls_lab_synthetic_init(&defaults);
    const cls_lab_synthetic *p = user ? user : &defaults;
    if ((int64_t)p->fail_width == spec->width)
        return cls_set_error(CLS_E_NUMERIC, "synthetic failure: width %lld diverged", (long long)spec->width);

    char *ck = lab_path(run_dir, "checkpoint.txt");
    if (!ck) return cls_set_error(CLS_E_NOMEM, "out of memory");
    int start = ctx && ctx->resume ? read_chunk(ck) : 0;
    for (int c = start; c < SYN_CHUNKS; c++) {
        if (p->delay_s > 0) {
            struct timespec ts = {(time_t)p->delay_s, (long)((p->delay_s - floor(p->delay_s)) * 1e9)};
            nanosleep(&ts, NULL);
        }
        char buf[32];
        int len = snprintf(buf, sizeof buf, "%d\n", c + 1);
        cls_status st = lab_write_file_atomic(ck, buf, (size_t)len);
        if (st) {
            free(ck);
            return st;
        }
        if (ctx && ctx->progress && ctx->progress(ctx->progress_user, (double)(c + 1) / SYN_CHUNKS)) {
            free(ck);
            return CLS_OK; /* stopped early, resumable */
        }
    }
    free(ck);

    double w = spec->width > 0 ? (double)spec->width : 256.0;
    double batch = spec->batch > 0 ? (double)spec->batch : 256.0;
    double subset = spec->train_subset > 0 ? (double)spec->train_subset : 60000.0;
    double N = w * 784.0 + w + w * w + w + w * 128.0 + 128.0;
    double D = spec->steps > 0 ? (double)spec->steps * batch : floor(spec->epochs * subset);
    cls_rng rng;
    cls_rng_seed_stream(&rng, p->seed, hash_str(spec->id, 0xcbf29ce484222325ull));
    double z1 = cls_rng_normal(&rng), z2 = cls_rng_normal(&rng), z3 = cls_rng_normal(&rng);
    double z4 = cls_rng_normal(&rng), z5 = cls_rng_normal(&rng);
    out->params = (int64_t)N;
    out->samples_seen = (int64_t)D;
    out->flops = 6.0 * 2.0 * N * D;
    out->heldout_loss = (p->E + p->A * pow(N, -p->alpha) + p->B * pow(D, -p->beta)) * exp(p->noise * z1);
    out->probe_error = (p->pE + p->pA * pow(N, -p->palpha) + p->pB * pow(D, -p->pbeta)) * exp(p->noise * z2);
    if (out->probe_error > 0.9) out->probe_error = 0.9;
    out->knn_error = fmin(0.9, out->probe_error * 1.1 * exp(p->noise * z3));
    /* spectrum: |a - 1| grows with the probe error (plus noise) */
    double a = 1.0 + 2.0 * (out->probe_error - p->pE) + 0.05 * z4;
    out->eig = malloc(sizeof(double) * SYN_EIG);
    if (!out->eig) return cls_set_error(CLS_E_NOMEM, "out of memory");
    out->n_eig = SYN_EIG;
    double total = 0;
    for (int k = 0; k < SYN_EIG; k++) {
        out->eig[k] = pow(k + 1.0, -a) * exp(0.02 * sin(3.0 * k + z5));
        total += out->eig[k];
    }
    double intercept;
    unsigned warn;
    cls_status st = cls_spectrum_fit_alpha(out->eig, SYN_EIG, total, 4, 100, CLS_SPECTRUM_WEIGHTS_INV, 10000,
                                           SYN_EIG, &out->alpha, &intercept, &out->alpha_r2, &warn);
    if (st) return st;
    out->rankme = cls_spectrum_rankme(out->eig, SYN_EIG);
    out->seconds = out->flops / 2.0e10; /* simulated, so that runs.csv is reproducible */
    out->ok = 1;
    return CLS_OK;
}
