/* libFuzzer target for the saved-fit JSON reader (cls_fit_parse_json, what
 * cls_fit_load and `clscale plan` use): any byte string must give CLS_OK or an
 * error status, never a crash, a leak or undefined behaviour. A fit that loads
 * is also planned once (the planner reads every bootstrap refit).
 * Seeds: fuzz/corpus/fit_json/. See docs/fuzzing.md. */
#include "clscale.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cls_fit_result r;
    if (cls_fit_parse_json((const char *)data, size, "fuzz.json", &r) != CLS_OK) return 0;
    cls_plan_point p;
    (void)cls_fit_plan(&r, 1e21, 6.0, NULL, &p);
    cls_fit_result_free(&r);
    return 0;
}
