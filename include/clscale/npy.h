/* NumPy .npy files: read and write float32, float64, int32 and int64 arrays
 * (little-endian, C order, header versions 1, 2 and 3), whole or streamed by
 * rows. Anything else (big-endian, Fortran order, object arrays, a truncated
 * file, an absurd shape, garbage) is a CLS_E_FORMAT / CLS_E_DTYPE error whose
 * message names the file and the problem. Writes are atomic: a temporary file
 * is renamed over the target only once it is complete. */
#ifndef CLSCALE_NPY_H
#define CLSCALE_NPY_H

#include <stdint.h>
#include <stdio.h>

#include "../clscale.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CLS_NPY_MAX_DIMS 8

typedef enum {
    CLS_DTYPE_F32 = 0,
    CLS_DTYPE_F64 = 1,
    CLS_DTYPE_I32 = 2,
    CLS_DTYPE_I64 = 3
} cls_dtype;

/* Bytes per element of a dtype; name as in NumPy ("float32", ...). */
CLS_API size_t cls_dtype_size(cls_dtype dtype);
CLS_API const char *cls_dtype_name(cls_dtype dtype);

/* An n-dimensional array as stored in a file. `data` is owned by the array
 * and released by cls_array_free. */
typedef struct {
    cls_dtype dtype;
    int ndim;
    int64_t shape[CLS_NPY_MAX_DIMS];
    int64_t count;   /* product of shape (1 for a 0-d array) */
    void *data;
} cls_array;

CLS_API void cls_array_free(cls_array *array);

/* Read a whole file in its own dtype. */
CLS_API cls_status cls_npy_load(const char *path, cls_array *out);

/* Read a whole .npy image held in memory (size bytes at data; name is used in
 * error messages, NULL gives "<memory>"). Same checks as cls_npy_load. */
CLS_API cls_status cls_npy_load_buffer(const void *data, size_t size, const char *name, cls_array *out);

/* Read a 2-D array (rows x cols) converted to float32 / float64. A 1-D array
 * is refused: embeddings must be matrices. *out is released with cls_free. */
CLS_API cls_status cls_npy_load_matrix_f32(const char *path, float **out, int64_t *rows, int64_t *cols);
CLS_API cls_status cls_npy_load_matrix_f64(const char *path, double **out, int64_t *rows, int64_t *cols);

/* Read a 1-D integer array (int32 or int64 on disk) as int64; release it with cls_free. */
CLS_API cls_status cls_npy_load_vector_i64(const char *path, int64_t **out, int64_t *n);

/* Write an array (atomically: temp file, then rename). */
CLS_API cls_status cls_npy_save(const char *path, cls_dtype dtype, int ndim, const int64_t *shape,
                        const void *data);
CLS_API cls_status cls_npy_save_matrix_f32(const char *path, const float *data, int64_t rows, int64_t cols);
CLS_API cls_status cls_npy_save_matrix_f64(const char *path, const double *data, int64_t rows, int64_t cols);

/* Streaming reader for 2-D files larger than memory: rows are read in chunks
 * and converted to float64. */
typedef struct cls_npy_reader cls_npy_reader;

CLS_API cls_status cls_npy_reader_open(const char *path, cls_npy_reader **out);
/* The same over a .npy image in memory; data must outlive the reader. */
CLS_API cls_status cls_npy_reader_open_buffer(const void *data, size_t size, const char *name,
                                              cls_npy_reader **out);
/* Shape and dtype of the file behind the reader. */
CLS_API void cls_npy_reader_shape(const cls_npy_reader *r, int64_t *rows, int64_t *cols, cls_dtype *dtype);
/* Read up to max_rows rows into buf (max_rows x cols doubles); *got is the
 * number read, 0 at the end. Non-finite values are an error naming the row. */
CLS_API cls_status cls_npy_reader_read_f64(cls_npy_reader *r, double *buf, int64_t max_rows, int64_t *got);
/* The same for float32 files, without conversion: buf holds max_rows x cols
 * floats. CLS_E_UNSUPPORTED for a float64 file. */
CLS_API cls_status cls_npy_reader_read_f32(cls_npy_reader *r, float *buf, int64_t max_rows, int64_t *got);
/* Go back to the first row. */
CLS_API cls_status cls_npy_reader_rewind(cls_npy_reader *r);
/* Go to row `row` (0 <= row <= rows): the next read starts there, reading
 * only that row range of the file (used by the MPI CLI, one range per rank). */
CLS_API cls_status cls_npy_reader_seek(cls_npy_reader *r, int64_t row);
CLS_API void cls_npy_reader_free(cls_npy_reader *r);

#ifdef __cplusplus
}
#endif

#endif
