/* libFuzzer target for the CSV reader (cls_csv_parse, in memory): parse
 * arbitrary bytes, then walk every cell, convert every column and apply a
 * filter. Seeds: fuzz/corpus/csv/. See docs/fuzzing.md. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clscale.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cls_csv *c = NULL;
    if (cls_csv_parse((const char *)data, size, "fuzz", &c) != CLS_OK) return 0;
    int64_t rows = cls_csv_rows(c), cols = cls_csv_cols(c);
    size_t total = 0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < cols; j++) total += strlen(cls_csv_cell(c, r, j));
    double *v = malloc(sizeof(double) * (size_t)(rows + 1));
    int64_t *sel = malloc(sizeof(int64_t) * (size_t)(rows + 1)), n = 0;
    for (int64_t j = 0; j < cols && v && sel; j++) {
        const char *name = cls_csv_header(c, j);
        (void)cls_csv_column_f64(c, name, NULL, rows, v);
        char filter[64];
        size_t len = strlen(name) < 40 ? strlen(name) : 40;
        memcpy(filter, name, len);
        memcpy(filter + len, "=1", 3);
        const char *f[] = {filter};
        (void)cls_csv_select(c, f, 1, sel, &n);
    }
    free(v);
    free(sel);
    cls_csv_free(c);
    return (int)(total & 0);
}
