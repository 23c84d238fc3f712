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
uint64_t cls__train_config_hash(const cls_train_config *cfg, int64_t chunk);
cls_status cls__train_config_write(const cls_train_config *cfg, const cls__train_plan *plan,
                                   const char *path);

#endif
