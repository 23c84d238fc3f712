/* Shared helpers for the training tests: a small synthetic IDX dataset, runs
 * under a temporary root, a run's checkpointed parameters, and a progress
 * callback that stops a run at a given step. */
#ifndef CLS_TRAIN_TESTUTIL_H
#define CLS_TRAIN_TESTUTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clscale.h"
#include "clscale/train.h"

/* The temporary directory the runs go under (the test fills it with mkdtemp). */
static char root[64];

static inline void be32(FILE *f, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                          (unsigned char)v};
    fwrite(b, 1, 4, f);
}

/* n images of 28x28 in 10 classes: a class-dependent stroke pattern plus noise. */
static inline void write_idx(const char *dir, const char *prefix, int n, uint64_t seed)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte", dir, prefix);
    FILE *f = fopen(p, "wb");
    be32(f, 0x803);
    be32(f, (uint32_t)n);
    be32(f, 28);
    be32(f, 28);
    cls_rng rng;
    cls_rng_seed(&rng, seed);
    unsigned char *lab = malloc((size_t)n);
    for (int i = 0; i < n; i++) {
        int c = i % 10;
        lab[i] = (unsigned char)c;
        for (int y = 0; y < 28; y++)
            for (int x = 0; x < 28; x++) {
                double v = 0.5 + 0.5 * sin(0.3 * (c + 1) * x + 0.2 * (9 - c) * y);
                v = v * (y > 3 && y < 24 && x > 2 + c / 3 && x < 25) + 0.15 * cls_rng_uniform(&rng);
                int b = (int)(v * 255);
                fputc(b < 0 ? 0 : b > 255 ? 255 : b, f);
            }
    }
    fclose(f);
    snprintf(p, sizeof p, "%s/%s-labels-idx1-ubyte", dir, prefix);
    f = fopen(p, "wb");
    be32(f, 0x801);
    be32(f, (uint32_t)n);
    fwrite(lab, 1, (size_t)n, f);
    fclose(f);
    free(lab);
}

static inline void run_path(char *buf, size_t cap, const char *name, const char *file)
{
    snprintf(buf, cap, "%s/%s/%s", root, name, file);
}

/* Train into root/name. */
static inline cls_status train(const cls_train_config *c, const char *name, int resume, cls_train_result *r)
{
    char dir[256];
    snprintf(dir, sizeof dir, "%s/%s", root, name);
    return cls_train_run(c, dir, resume, r);
}

/* Parameters of a run's latest checkpoint (malloc'd), count in *n. */
static inline float *params_of(const char *name, int64_t *n)
{
    char p[256];
    run_path(p, sizeof p, name, "checkpoint.bin");
    cls_checkpoint ck;
    if (cls_checkpoint_read(&ck, p) != CLS_OK) return NULL;
    *n = ck.param_count[0] + ck.param_count[1] + ck.param_count[2];
    float *x = malloc((size_t)*n * 4);
    if (x) memcpy(x, ck.params, (size_t)*n * 4);
    cls_checkpoint_free(&ck);
    return x;
}

/* A progress callback that stops a run once it reaches step stop_at. */
static int stop_at;
static inline int stop_cb(void *user, const cls_train_progress *p)
{
    (void)user;
    return p->step >= stop_at;
}

#endif
