/* Internals shared by the training sources (not installed). */
#ifndef CLS_TRAIN_INTERNAL_H
#define CLS_TRAIN_INTERNAL_H

#include "clscale/train.h"

/* What a configuration resolves to on its data. */
typedef struct {
    int64_t n_data, data_dim, data_height, data_width;
    int64_t width, params;
    double flops_per_image;
    int64_t chunk, steps_per_epoch, total_steps, warmup_steps;
    double lr;
    uint64_t config_hash;
} cls__train_plan;

double cls__train_temperature(const cls_train_config *cfg);
double cls__train_epochs(const cls_train_config *cfg); /* 0 -> the model's default */
uint64_t cls__train_config_hash(const cls_train_config *cfg, int64_t chunk);
cls_status cls__train_config_write(const cls_train_config *cfg, const cls__train_plan *plan,
                                   const char *path);

/* Data-parallel training (train_mpi.c, in libclscale_mpi): the trainer stays
 * free of MPI and calls these collectives. Every rank calls each hook at the
 * same points with the same sizes. rank 0 owns the run directory's files. */
typedef struct {
    int rank, size;
    void *user;
    /* Every rank learns whether all succeeded; a failure on any rank becomes
     * an error on all (the failing rank's message, naming its rank). */
    cls_status (*agree)(void *user, cls_status st);
    /* The global-batch loss from this rank's rows (cls_loss_ring_compute). */
    cls_status (*loss)(void *user, cls_loss_result *res, float *ga, float *gb, const float *a,
                       const float *b, int64_t n, int64_t d, const cls_loss_options *o);
    /* g <- the sum over ranks of g, added in a fixed order (the same bits on all). */
    cls_status (*reduce)(void *user, float *g, int64_t n);
    /* Rank 0's *data (*size bytes, malloc'd) to every rank: the others get a
     * malloc'd copy (NULL, 0 when rank 0 sends nothing). */
    cls_status (*bcast)(void *user, void **data, size_t *size);
    /* 1 on every rank when flag is nonzero on any. */
    int (*any)(void *user, int flag);
    /* Start counting communication afresh (bench after its warm-up step). */
    void (*reset_stats)(void *user);
} cls__train_dist;

cls_status cls__train_run_dist(const cls_train_config *cfg, const char *out_dir, int resume,
                               cls_train_result *out, const cls__train_dist *dist);
cls_status cls__train_bench_dist(const cls_train_config *cfg, int64_t steps,
                                 cls_train_bench_result *out, const cls__train_dist *dist);

#endif
