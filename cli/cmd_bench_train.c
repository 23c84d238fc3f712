/* clscale bench train: throughput and memory of training steps. */
#include "cli.h"

#include "clscale/train.h"

#include <getopt.h>
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
           "  --memory-budget BYTES  activation budget for chunk 0 (default 1073741824)\n"
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
    enum { O_MODEL = 1000, O_WIDTH, O_BATCH, O_CHUNK, O_BUDGET, O_STEPS, O_OPT, O_DATA, O_THREADS,
           O_JSON, O_HELP };
    static const struct option longopts[] = {
        {"model", required_argument, 0, O_MODEL}, {"width", required_argument, 0, O_WIDTH},
        {"batch", required_argument, 0, O_BATCH}, {"chunk", required_argument, 0, O_CHUNK},
        {"memory-budget", required_argument, 0, O_BUDGET}, {"steps", required_argument, 0, O_STEPS},
        {"optimizer", required_argument, 0, O_OPT}, {"data", required_argument, 0, O_DATA},
        {"threads", required_argument, 0, O_THREADS}, {"json", no_argument, 0, O_JSON},
        {"help", no_argument, 0, O_HELP},         {0, 0, 0, 0}};
    cls_train_config cfg;
    cls_train_config_init(&cfg);
    int64_t steps = 3;
    int json = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case O_MODEL:
            if (cls_model_kind_parse(optarg, &cfg.model))
                return cli_usage_error("bench train", "--model must be mlp or cnn, not '%s'", optarg);
            break;
        case O_WIDTH:
            if (!cli_parse_int64("--width", optarg, &cfg.width)) return CLI_USAGE;
            break;
        case O_BATCH:
            if (!cli_parse_int64("--batch", optarg, &cfg.batch)) return CLI_USAGE;
            if (cfg.batch < 2) return cli_usage_error("bench train", "--batch must be >= 2");
            break;
        case O_CHUNK:
            if (!cli_parse_int64("--chunk", optarg, &cfg.chunk)) return CLI_USAGE;
            break;
        case O_BUDGET:
            if (!cli_parse_int64("--memory-budget", optarg, &cfg.memory_budget)) return CLI_USAGE;
            break;
        case O_STEPS:
            if (!cli_parse_int64("--steps", optarg, &steps)) return CLI_USAGE;
            if (steps < 1) return cli_usage_error("bench train", "--steps must be >= 1");
            break;
        case O_OPT:
            if (cls_optim_kind_parse(optarg, &cfg.optimizer))
                return cli_usage_error("bench train", "--optimizer must be lars, adamw or sgd");
            break;
        case O_DATA: cfg.data = optarg; break;
        case O_THREADS:
            if (!cli_parse_int("--threads", optarg, &cfg.threads)) return CLI_USAGE;
            break;
        case O_JSON: json = 1; break;
        case O_HELP:
        case 'h': usage(); return CLI_OK;
        default:
            return cli_usage_error("bench train", "unknown option or missing value: '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage_error("bench train", "unexpected argument '%s'", argv[optind]);
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
