/* libFuzzer target for the IDX parser (src/data/idx.c): any byte string must
 * give CLS_OK with a payload lying inside the input and dims whose product is
 * the payload size, or an error status; never a crash or an out-of-bounds read.
 * Build: cmake -S . -B build-fuzz -DCLS_FUZZ=ON -DCMAKE_C_COMPILER=clang
 *        cmake --build build-fuzz --target fuzz_idx
 * Run:   build-fuzz/fuzz_idx fuzz/corpus/idx -runs=10000000 */
#include "clscale.h"
#include "clscale/data.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int ndim = 0;
    int64_t dims[4];
    const uint8_t *payload = NULL;
    if (cls_idx_parse(data, size, &ndim, dims, &payload) == CLS_OK) {
        if (ndim < 1 || ndim > 4 || payload < data || payload > data + size) abort();
        uint64_t total = 1;
        for (int i = 0; i < ndim; i++) total *= (uint64_t)dims[i];
        if ((uint64_t)(data + size - payload) != total) abort();
        volatile uint8_t sum = 0; /* touch every payload byte (ASan checks the bounds) */
        for (uint64_t i = 0; i < total; i++) sum += payload[i];
        (void)sum;
    }
    return 0;
}
