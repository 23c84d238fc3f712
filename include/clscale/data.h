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

#ifdef __cplusplus
}
#endif

#endif /* CLSCALE_DATA_H */
