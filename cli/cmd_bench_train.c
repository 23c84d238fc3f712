/* clscale bench train: throughput and memory of training steps. */
#include "cli.h"

#include "clscale/train.h"
#include "cmd_loss_mpi.h"
#ifdef CLS_HAVE_MPI
#include "clscale/train_mpi.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    printf("usage: clscale bench train [options]\n"
           "\n"
           "Time training steps (augment, encode, loss, gradient caching, optimiser) on the\n"
           "Fashion-MNIST training images; one warm-up step is not timed.\n"
           "Under mpirun (mpirun -np P clscale bench train ...) the batch is split over the\n"
           "ranks as in mpirun clscale train; rank 0 prints per-rank and total throughput,\n"
           "bytes each rank sends per step and the share of the step spent waiting in MPI\n"
           "(the ring's waits, the gradient exchange and the ranks' agreement).\n"
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
           "  --loss ntxent|clip|siglip  (default ntxent)\n"
           "  --train-subset N       images to load (default 0: all)\n"
           "  --data SRC             fashion-mnist or an IDX directory (default fashion-mnist)\n"
           "  --precision fp32|bf16  Linear layers' products (default fp32; bf16: bf16 inputs,\n"
           "                         fp32 accumulation, as clscale train --precision)\n"
           "  --threads T            0 = all cores (default 0)\n"
           "  --json                 print one JSON object: samples_per_s, seconds_per_step,\n"
           "                         peak_rss_bytes, flops_per_image, gflops, chunk\n"
           "  --help                 show this help\n");
}

#ifdef CLS_HAVE_MPI
/* Every rank times its steps; rank 0 gathers and prints. */
static int bench_train_mpi(const cls_train_config *cfg, int64_t steps, int json)
{
    MPI_Init(NULL, NULL);
    int P, p;
    MPI_Comm_size(MPI_COMM_WORLD, &P);
    MPI_Comm_rank(MPI_COMM_WORLD, &p);
    cls_train_bench_mpi_result r;
    cls_status st = cls_train_bench_mpi(cfg, steps, &r, MPI_COMM_WORLD);
    int rc = CLI_OK;
    if (st) {
        rc = p == 0 ? cli_status_error(st, "bench train") : CLI_FAIL;
        MPI_Barrier(MPI_COMM_WORLD); /* rank 0's message is out before any rank exits */
        MPI_Finalize();
        return rc;
    }
    enum { K = 6 };
    double mine[K] = {(double)r.local_images, r.bench.seconds_per_step, r.bytes_sent_per_step,
                      r.ring_wait_seconds_per_step, r.exchange_seconds_per_step, r.wait_share};
    double *all = p == 0 ? calloc((size_t)P * K, sizeof(double)) : NULL;
    MPI_Gather(mine, K, MPI_DOUBLE, all, K, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    if (p == 0 && all) {
        double worst = 0, bytes = 0;
        for (int q = 0; q < P; q++) {
            if (all[q * K + 5] > worst) worst = all[q * K + 5];
            bytes += all[q * K + 2];
        }
        if (json) {
            cJSON *o = cJSON_CreateObject(), *ranks = cJSON_CreateArray();
            cJSON_AddStringToObject(o, "model", cls_model_kind_name(cfg->model));
            cJSON_AddStringToObject(o, "loss", cls_loss_kind_name(cfg->loss));
            cJSON_AddNumberToObject(o, "ranks", P);
            cJSON_AddNumberToObject(o, "batch", (double)cfg->batch);
            cJSON_AddNumberToObject(o, "steps", (double)steps);
            cJSON_AddNumberToObject(o, "seconds_per_step", r.bench.seconds_per_step);
            cJSON_AddNumberToObject(o, "samples_per_s", r.bench.samples_per_s);
            cJSON_AddNumberToObject(o, "gflops", r.bench.gflops);
            cJSON_AddNumberToObject(o, "bytes_sent_per_step", bytes);
            cJSON_AddNumberToObject(o, "wait_share_max", worst);
            for (int q = 0; q < P; q++) {
                const double *a = all + q * K;
                cJSON *e = cJSON_CreateObject();
                cJSON_AddNumberToObject(e, "rank", q);
                cJSON_AddNumberToObject(e, "images", a[0]);
                cJSON_AddNumberToObject(e, "samples_per_s", a[0] / a[1]);
                cJSON_AddNumberToObject(e, "bytes_sent_per_step", a[2]);
                cJSON_AddNumberToObject(e, "ring_wait_s", a[3]);
                cJSON_AddNumberToObject(e, "exchange_s", a[4]);
                cJSON_AddNumberToObject(e, "wait_share", a[5]);
                cJSON_AddItemToArray(ranks, e);
            }
            cJSON_AddItemToObject(o, "per_rank", ranks);
            cli_json_print(o);
        } else {
            printf("%s %s batch %lld over %d ranks: %.1f images/s total, %.3f s/step, %.1f GFLOP/s total\n",
                   cls_model_kind_name(cfg->model), cls_loss_kind_name(cfg->loss), (long long)cfg->batch, P,
                   r.bench.samples_per_s, r.bench.seconds_per_step, r.bench.gflops);
            printf("rank  images  images/s  MB sent/step  ring wait s  exchange s  wait share\n");
            for (int q = 0; q < P; q++) {
                const double *a = all + q * K;
                printf("%4d  %6.0f  %8.1f  %12.3f  %11.4f  %10.4f  %10.3f\n", q, a[0], a[0] / a[1], a[2] / 1e6,
                       a[3], a[4], a[5]);
            }
        }
    }
    free(all);
    fflush(stdout);
    MPI_Finalize();
    return rc;
}
#endif

int cmd_bench_train(int argc, char **argv)
{
    cls_train_config cfg;
    cls_train_config_init(&cfg);
    int64_t steps = 3;
    int json = 0;
    const char *model = NULL, *optimizer = NULL, *loss = NULL, *precision = NULL;
    const cli_option opts[] = {
        CLI_STRING("model", &model),
        CLI_INT64("width", &cfg.width, 0, INFINITY),
        CLI_INT64("batch", &cfg.batch, 2, INFINITY),
        CLI_INT64("chunk", &cfg.chunk, 0, INFINITY),
        CLI_BYTES("memory-budget", &cfg.memory_budget),
        CLI_INT64("steps", &steps, 1, INFINITY),
        CLI_STRING("optimizer", &optimizer),
        CLI_STRING("loss", &loss),
        CLI_INT64("train-subset", &cfg.train_subset, 0, INFINITY),
        CLI_STRING("data", &cfg.data),
        CLI_INT("threads", &cfg.threads, 0, INFINITY),
        CLI_STRING("precision", &precision),
        CLI_FLAG("json", &json),
        CLI_END};
    int first, rc = cli_parse_options("bench train", opts, argc, argv, usage, &first);
    if (rc == CLI_HELP) return CLI_OK;
    if (rc) return rc;
    if (model && cls_model_kind_parse(model, &cfg.model))
        return cli_usage_error("bench train", "--model must be mlp or cnn, not '%s'", model);
    if (optimizer && cls_optim_kind_parse(optimizer, &cfg.optimizer))
        return cli_usage_error("bench train", "--optimizer must be lars, adamw or sgd, not '%s'", optimizer);
    if (loss && (cls_loss_kind_parse(loss, &cfg.loss) || cfg.loss == CLS_LOSS_INFONCE))
        return cli_usage_error("bench train", "--loss must be ntxent, clip or siglip, not '%s'", loss);
    if (precision && cls_loss_precision_parse(precision, &cfg.precision))
        return cli_usage_error("bench train", "--precision must be fp32 or bf16, not '%s'", precision);
    if (first < argc) return cli_usage_error("bench train", "unexpected argument '%s'", argv[first]);
#ifdef CLS_HAVE_MPI
    if (cli_mpi_launched()) return bench_train_mpi(&cfg, steps, json);
#endif
    cls_train_bench_result r;
    cls_status st = cls_train_bench(&cfg, steps, &r);
    if (st) return cli_status_error(st, "bench train");
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "model", cls_model_kind_name(cfg.model));
        cJSON_AddNumberToObject(o, "width", (double)cfg.width);
        cJSON_AddNumberToObject(o, "batch", (double)cfg.batch);
        cJSON_AddStringToObject(o, "precision", cls_loss_precision_name(cfg.precision));
        cJSON_AddNumberToObject(o, "chunk", (double)r.chunk);
        cJSON_AddNumberToObject(o, "steps", (double)steps);
        cJSON_AddNumberToObject(o, "samples_per_s", r.samples_per_s);
        cJSON_AddNumberToObject(o, "seconds_per_step", r.seconds_per_step);
        cJSON_AddNumberToObject(o, "peak_rss_bytes", (double)r.peak_rss_bytes);
        cJSON_AddNumberToObject(o, "flops_per_image", r.flops_per_image);
        cJSON_AddNumberToObject(o, "gflops", r.gflops);
        cli_json_print(o);
    } else {
        printf("%s %s batch %lld chunk %lld: %.1f images/s, %.3f s/step, %.1f GFLOP/s, peak RSS %.0f MiB\n",
               cls_model_kind_name(cfg.model), cls_loss_precision_name(cfg.precision),
               (long long)cfg.batch, (long long)r.chunk, r.samples_per_s, r.seconds_per_step, r.gflops, (double)r.peak_rss_bytes / 1048576.0);
    }
    return CLI_OK;
}
