/* libFuzzer target for the .npy reader: any byte string must give CLS_OK or
 * an error status, never a crash, a leak or an out-of-bounds read.
 * Build: cmake -S . -B build-fuzz -DCLS_FUZZ=ON -DCMAKE_C_COMPILER=clang
 * Run:   build-fuzz/fuzz_npy -max_total_time=60 */
#include "clscale.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/fuzz_npy_%d.npy", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);

    cls_array a;
    if (cls_npy_load(path, &a) == CLS_OK) cls_array_free(&a);
    float *x = NULL;
    int64_t r, c;
    if (cls_npy_load_matrix_f32(path, &x, &r, &c) == CLS_OK) free(x);
    int64_t *v = NULL, n;
    if (cls_npy_load_vector_i64(path, &v, &n) == CLS_OK) free(v);
    cls_npy_reader *rd = NULL;
    if (cls_npy_reader_open(path, &rd) == CLS_OK) {
        double buf[256];
        int64_t got, cols;
        cls_npy_reader_shape(rd, NULL, &cols, NULL);
        if (cols > 0 && cols <= 256) {
            while (cls_npy_reader_read_f64(rd, buf, 256 / cols, &got) == CLS_OK && got > 0) {
            }
        }
        cls_npy_reader_free(rd);
    }
    remove(path);
    return 0;
}
