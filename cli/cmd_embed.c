/* clscale embed: representations h of a training run's latest checkpoint. */
#include "cli.h"

#include "clscale/train.h"

#include <stdio.h>
#include <string.h>

static void usage(void)
{
    printf("usage: clscale embed RUN_DIR --out Z.npy [options]\n"
           "\n"
           "Encode a split of the run's dataset with the encoder of its latest checkpoint and\n"
           "write the representations h (float32 n x dim(h), as the probe and k-NN use them).\n"
           "\n"
           "options:\n"
           "  --out Z.npy            representations (required)\n"
           "  --split train|test     which split (default test)\n"
           "  --labels-out y.npy     also write the labels (int64)\n"
           "  --json                 print one JSON object (n, dim, paths)\n"
           "  --help                 show this help\n");
}

int cmd_embed(int argc, char **argv)
{
    const char *out = NULL, *labels_out = NULL, *run = NULL;
    int json = 0, which = 1;
    const cli_option opts[] = {
        CLI_STRING("out", &out),
        CLI_CHOICE("split", &which, "train|test"),
        CLI_STRING("labels-out", &labels_out),
        CLI_FLAG("json", &json),
        CLI_END};
    int first, rc = cli_parse_options("embed", opts, argc, argv, usage, &first);
    if (rc == CLI_HELP) return CLI_OK;
    if (rc) return rc;
    cls_split split = which == 0 ? CLS_SPLIT_TRAIN : CLS_SPLIT_TEST;
    if (first < argc) run = argv[first++];
    if (first < argc) return cli_usage_error("embed", "unexpected argument '%s'", argv[first]);
    if (!run) return cli_usage_error("embed", "RUN_DIR is required");
    if (!out) return cli_usage_error("embed", "--out Z.npy is required");
    float *h = NULL;
    int64_t *y = NULL, n = 0, dim = 0;
    cls_status st = cls_train_embed(run, split, &h, &y, &n, &dim);
    if (st) return cli_status_error(st, "embed");
    st = cls_npy_save_matrix_f32(out, h, n, dim);
    if (!st && labels_out) {
        int64_t shape[1] = {n};
        st = cls_npy_save(labels_out, CLS_DTYPE_I64, 1, shape, y);
    }
    cls_free(h);
    cls_free(y);
    if (st) return cli_status_error(st, "embed: writing the output");
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "n", (double)n);
        cJSON_AddNumberToObject(o, "dim", (double)dim);
        cJSON_AddStringToObject(o, "out", out);
        if (labels_out) cJSON_AddStringToObject(o, "labels_out", labels_out);
        cli_json_print(o);
    } else {
        printf("%lld x %lld representations -> %s\n", (long long)n, (long long)dim, out);
    }
    return CLI_OK;
}
