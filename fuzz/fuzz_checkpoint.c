/* libFuzzer target for the checkpoint reader: any byte string must give
 * CLS_OK or an error status, never a crash, a leak or an out-of-bounds read.
 * Build: cmake -S . -B build-fuzz -DCLS_FUZZ=ON -DCMAKE_C_COMPILER=clang
 * Run:   build-fuzz/fuzz_checkpoint fuzz/corpus/checkpoint -max_total_time=60
 * The seed corpus holds small valid checkpoints (one and two models). */
#include "clscale.h"
#include "clscale/train.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cls_checkpoint ck;
    if (cls_checkpoint_parse(&ck, data, size, "fuzz") == CLS_OK) {
        /* Touch every payload float so ASan sees any out-of-bounds layout. */
        int64_t np = ck.param_count[0] + ck.param_count[1] + ck.param_count[2];
        int64_t ns = ck.state_count[0] + ck.state_count[1] + ck.state_count[2];
        volatile float s = 0;
        for (int64_t i = 0; i < np; i++) s += ck.params[i];
        for (int64_t i = 0; i < ns; i++) s += ck.state[i];
        void *buf;
        size_t n;
        if (cls_checkpoint_serialize(&ck, &buf, &n) == CLS_OK) free(buf);
        cls_checkpoint_free(&ck);
    }
    return 0;
}
