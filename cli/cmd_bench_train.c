/* clscale bench train: throughput and memory of training steps. */
#include "cli.h"

#include "clscale/train.h"

#include <stdio.h>
#include <string.h>

static void usage(void)
{
    printf("usage: clscale bench train [options]\n"
           "\n"
           "Time training steps (augment, encode, loss, gradient caching, optimiser) on the\n"
           "Fashion-MNIST training images; one warm-up step is not timed.\n"
           "\n"
           "options:\n"
           "  --model mlp|cnn        encoder (default mlp)\n"
           "  --width W              width / channels (default 0: mlp 1024, cnn 32)\n"
           "  --batch B              images per step (default 512)\n"
           "  --chunk C              views per chunk (default 0: from the memory budget)\n"
           "  --memory-budget BYTES  activation budget for chunk 0; K/M/G suffixes\n"
           "                         (default 1073741824)\n"
           "  --steps S              timed steps (default 3)\n"
           "  --optimizer lars|adamw|sgd  (default adamw)\n"
           "  --data SRC             fashion-mnist or an IDX directory (default fashion-mnist)\n"
           "  --threads T            0 = all cores (default 0)\n"
           "  --json                 print one JSON object: samples_per_s, seconds_per_step,\n"
           "                         peak_rss_bytes, flops_per_image, gflops, chunk\n"
           "  --help                 show this help\n");
}

int cmd_bench_train(int argc, char **argv)
{
    cls_train_config cfg;
    cls_train_config_init(&cfg);
    int64_t steps = 3;
    int json = 0;
    const char *model = NULL, *optimizer = NULL;
    const cli_option opts[] = {
        CLI_STRING("model", &model),
        CLI_INT64("width", &cfg.width, 0, INFINITY),
        CLI_INT64("batch", &cfg.batch, 2, INFINITY),
        CLI_INT64("chunk", &cfg.chunk, 0, INFINITY),
        CLI_BYTES("memory-budget", &cfg.memory_budget),
        CLI_INT64("steps", &steps, 1, INFINITY),
        CLI_STRING("optimizer", &optimizer),
        CLI_STRING("data", &cfg.data),
        CLI_INT("threads", &cfg.threads, 0, INFINITY),
        CLI_FLAG("json", &json),
        CLI_END};
    int first, rc = cli_parse_options("bench train", opts, argc, argv, usage, &first);
    if (rc == CLI_HELP) return CLI_OK;
    if (rc) return rc;
    if (model && cls_model_kind_parse(model, &cfg.model))
        return cli_usage_error("bench train", "--model must be mlp or cnn, not '%s'", model);
    if (optimizer && cls_optim_kind_parse(optimizer, &cfg.optimizer))
        return cli_usage_error("bench train", "--optimizer must be lars, adamw or sgd, not '%s'", optimizer);
    if (first < argc) return cli_usage_error("bench train", "unexpected argument '%s'", argv[first]);
    cls_train_bench_result r;
    cls_status st = cls_train_bench(&cfg, steps, &r);
    if (st) return cli_status_error(st, "bench train");
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "model", cls_model_kind_name(cfg.model));
        cJSON_AddNumberToObject(o, "width", (double)cfg.width);
        cJSON_AddNumberToObject(o, "batch", (double)cfg.batch);
        cJSON_AddNumberToObject(o, "chunk", (double)r.chunk);
        cJSON_AddNumberToObject(o, "steps", (double)steps);
        cJSON_AddNumberToObject(o, "samples_per_s", r.samples_per_s);
        cJSON_AddNumberToObject(o, "seconds_per_step", r.seconds_per_step);
        cJSON_AddNumberToObject(o, "peak_rss_bytes", (double)r.peak_rss_bytes);
        cJSON_AddNumberToObject(o, "flops_per_image", r.flops_per_image);
        cJSON_AddNumberToObject(o, "gflops", r.gflops);
        cli_json_print(o);
    } else {
        printf("%s batch %lld chunk %lld: %.1f images/s, %.3f s/step, %.1f GFLOP/s, peak RSS %.0f MiB\n",
               cls_model_kind_name(cfg.model), (long long)cfg.batch, (long long)r.chunk,
               r.samples_per_s, r.seconds_per_step, r.gflops, (double)r.peak_rss_bytes / 1048576.0);
    }
    return CLI_OK;
}
