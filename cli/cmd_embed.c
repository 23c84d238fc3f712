/* clscale embed: representations h of a training run's latest checkpoint. */
#include "cli.h"

#include "clscale/train.h"

#include <getopt.h>
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
    enum { O_OUT = 1000, O_SPLIT, O_LABELS, O_JSON, O_HELP };
    static const struct option longopts[] = {
        {"out", required_argument, 0, O_OUT},       {"split", required_argument, 0, O_SPLIT},
        {"labels-out", required_argument, 0, O_LABELS}, {"json", no_argument, 0, O_JSON},
        {"help", no_argument, 0, O_HELP},           {0, 0, 0, 0}};
    const char *out = NULL, *labels_out = NULL, *run = NULL;
    cls_split split = CLS_SPLIT_TEST;
    int json = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case O_OUT: out = optarg; break;
        case O_LABELS: labels_out = optarg; break;
        case O_SPLIT:
            if (strcmp(optarg, "train") == 0) split = CLS_SPLIT_TRAIN;
            else if (strcmp(optarg, "test") == 0) split = CLS_SPLIT_TEST;
            else return cli_usage_error("embed", "--split must be train or test, not '%s'", optarg);
            break;
        case O_JSON: json = 1; break;
        case O_HELP:
        case 'h': usage(); return CLI_OK;
        default: return cli_usage_error("embed", "unknown option or missing value: '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) run = argv[optind++];
    if (optind < argc) return cli_usage_error("embed", "unexpected argument '%s'", argv[optind]);
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
