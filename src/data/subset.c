/* Seeded, class-stratified subsets of a dataset (--train-subset N). */
#include "clscale/data.h"
#include "clscale/rng.h"

#include <string.h>

#include "../core/internal.h"

cls_status cls_dataset_subset(cls_dataset *out, const cls_dataset *in, int64_t n, uint64_t seed)
{
    if (!out || !in || !in->images || !in->labels)
        return cls_set_error(CLS_E_INVALID_ARG, "dataset subset: NULL argument");
    if (n < 1 || n > in->n)
        return cls_set_error(CLS_E_INVALID_ARG, "dataset subset: n = %lld outside [1, %lld]",
                             (long long)n, (long long)in->n);
    int64_t nc = 0;
    for (int64_t i = 0; i < in->n; i++) {
        if (in->labels[i] < 0 || in->labels[i] > 1000000)
            return cls_set_error(CLS_E_INVALID_ARG, "dataset subset: labels[%lld] is %lld",
                                 (long long)i, (long long)in->labels[i]);
        if (in->labels[i] + 1 > nc) nc = in->labels[i] + 1;
    }
    int64_t np = in->height * in->width;
    int64_t *count = cls_calloc((size_t)nc, sizeof *count, "subset counts");
    int64_t *take = cls_calloc((size_t)nc, sizeof *take, "subset quotas");
    double *rem = cls_calloc((size_t)nc, sizeof *rem, "subset remainders");
    int64_t *idx = cls_alloc((size_t)in->n * sizeof *idx, "subset indices");
    uint8_t *keep = cls_calloc((size_t)in->n, 1, "subset mask");
    float *img = cls_alloc((size_t)n * (size_t)np * sizeof *img, "subset images");
    int64_t *lab = cls_alloc((size_t)n * sizeof *lab, "subset labels");
    if (!count || !take || !rem || !idx || !keep || !img || !lab) {
        cls_free(count); cls_free(take); cls_free(rem); cls_free(idx); cls_free(keep);
        cls_free(img); cls_free(lab);
        return CLS_E_NOMEM;
    }
    for (int64_t i = 0; i < in->n; i++) count[in->labels[i]]++;
    /* Quotas: floor of each class's share, then the largest remainders. */
    int64_t assigned = 0;
    for (int64_t c = 0; c < nc; c++) {
        double share = (double)n * (double)count[c] / (double)in->n;
        take[c] = (int64_t)share;
        if (take[c] > count[c]) take[c] = count[c];
        rem[c] = share - (double)take[c];
        assigned += take[c];
    }
    while (assigned < n) {
        int64_t best = -1;
        for (int64_t c = 0; c < nc; c++)
            if (take[c] < count[c] && (best < 0 || rem[c] > rem[best])) best = c;
        take[best]++;
        rem[best] = -1.0;
        assigned++;
    }
    /* Per class: a seeded partial Fisher-Yates over that class's indices. */
    for (int64_t c = 0; c < nc; c++) {
        if (take[c] == 0) continue;
        int64_t m = 0;
        for (int64_t i = 0; i < in->n; i++)
            if (in->labels[i] == c) idx[m++] = i;
        cls_rng rng;
        cls_rng_seed_stream(&rng, seed, (uint64_t)c);
        for (int64_t k = 0; k < take[c]; k++) {
            int64_t j = k + (int64_t)cls_rng_below(&rng, (uint64_t)(m - k));
            int64_t t = idx[k];
            idx[k] = idx[j];
            idx[j] = t;
            keep[idx[k]] = 1;
        }
    }
    int64_t k = 0;
    for (int64_t i = 0; i < in->n; i++) {
        if (!keep[i]) continue;
        memcpy(img + k * np, in->images + i * np, (size_t)np * sizeof *img);
        lab[k++] = in->labels[i];
    }
    cls_free(count); cls_free(take); cls_free(rem); cls_free(idx); cls_free(keep);
    out->images = img;
    out->labels = lab;
    out->n = n;
    out->height = in->height;
    out->width = in->width;
    return CLS_OK;
}
