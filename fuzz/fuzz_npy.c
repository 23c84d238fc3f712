/* libFuzzer target for the .npy reader: any byte string must give CLS_OK or
 * an error status, never a crash, a leak or an out-of-bounds read. Reads the
 * bytes whole (cls_npy_load_buffer) and through the streaming reader
 * (cls_npy_reader_open_buffer). Seeds: fuzz/corpus/npy/. See docs/fuzzing.md. */
#include "clscale.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cls_array a;
    if (cls_npy_load_buffer(data, size, "fuzz.npy", &a) == CLS_OK) {
        /* Touch every byte so ASan checks the allocation covers the shape. */
        volatile unsigned char sink = 0;
        const unsigned char *p = a.data;
        for (int64_t k = 0; k < a.count * (int64_t)cls_dtype_size(a.dtype); k++) sink ^= p[k];
        (void)sink;
        cls_array_free(&a);
    }
    cls_npy_reader *rd = NULL;
    if (cls_npy_reader_open_buffer(data, size, "fuzz.npy", &rd) == CLS_OK) {
        double buf[256];
        int64_t got, cols;
        cls_npy_reader_shape(rd, NULL, &cols, NULL);
        if (cols > 0 && cols <= 256) {
            for (int pass = 0; pass < 2; pass++) {
                while (cls_npy_reader_read_f64(rd, buf, 256 / cols, &got) == CLS_OK && got > 0) {
                }
                if (cls_npy_reader_rewind(rd) != CLS_OK) break;
            }
        }
        cls_npy_reader_free(rd);
    }
    return 0;
}
