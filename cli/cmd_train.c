/* clscale train: contrastive training of an encoder on Fashion-MNIST (or any
 * IDX dataset, or paired features), batches beyond memory by gradient
 * caching. */
#include "cli.h"

#include "clscale/train.h"
#include "cmd_loss_mpi.h"
#ifdef CLS_HAVE_MPI
#include "clscale/train_mpi.h"
#endif

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(void)
{
    cls_train_config d;
    cls_train_config_init(&d);
    printf("usage: clscale train --out DIR [options]\n"
           "\n"
           "Self-supervised contrastive training (SimCLR-style two augmented views per image)\n"
           "of an mlp or cnn encoder with a projection head. Steps use gradient caching, so the\n"
           "batch is limited by time, not memory. DIR receives config.json, metrics.jsonl and\n"
           "checkpoint.bin (+ checkpoint.prev.bin). Defaults are a recipe that works.\n"
           "Under mpirun (mpirun -np P clscale train ...) the batch is split over the P ranks\n"
           "(data-parallel, ring loss on the global batch; rank 0 writes DIR; resume at any P;\n"
           "docs/distributed.md).\n"
           "\n"
           "options:\n"
           "  --out DIR               run directory (required)\n"
           "  --resume                continue DIR's run to the same bits (options come from\n"
           "                          DIR/config.json; ones given must agree)\n"
           "  --data SRC              fashion-mnist or an IDX directory (default %s)\n"
           "  --pairs A.npy B.npy     two-tower training on paired features (mlp towers)\n"
           "  --model mlp|cnn         encoder (default %s)\n"
           "  --width W               mlp width / cnn channels (default 0: mlp 1024, cnn 32)\n"
           "  --loss ntxent|clip|siglip  loss on z (default %s)\n"
           "  --temperature T         tau = 1/logit scale (default 0: ntxent 0.2, else 0.1)\n"
           "  --learn-temperature     learn log(1/tau), scale clipped at 100 (default off)\n"
           "  --batch B               images per step (default %lld)\n"
           "  --chunk C               views encoded at once (default 0: from the budget)\n"
           "  --memory-budget BYTES   activation memory for chunk 0; K/M/G suffixes\n"
           "                          (default %lld)\n"
           "  --optimizer lars|adamw|sgd  (default %s)\n"
           "  --lr LR                 base learning rate (default %g)\n"
           "  --lr-scaling none|linear|sqrt  by batch/256 (default none)\n"
           "  --weight-decay WD       (default %g)\n"
           "  --warmup-epochs E       linear warm-up, then cosine to 0 (default %g)\n"
           "  --epochs E              (default 0: mlp 75, cnn 15, under 20 minutes\n"
           "                          on two cores each)\n"
           "  --steps S               overrides --epochs (default 0)\n"
           "  --train-subset N        seeded class-stratified subset (default 0: all)\n"
           "  --seed S                init, data order, augmentations (default %llu)\n"
           "  --precision fp32|bf16   Linear layers' products: fp32, or bf16 inputs with fp32\n"
           "                          accumulation (mlp steps ~1.65x faster with AVX-512 BF16;\n"
           "                          weights, optimiser, loss, convolutions stay fp32;\n"
           "                          docs/train.md \"Precision\") (default %s)\n"
           "  --threads T             0 = all cores (default 0)\n"
           "  --log-every K           steps between metrics lines (default %lld)\n"
           "  --checkpoint-every K    steps between checkpoints (default 0: every epoch\n"
           "                          and at the end)\n"
           "  --json                  print one JSON object at the end\n"
           "  --help                  show this help\n",
           d.data, cls_model_kind_name(d.model), cls_loss_kind_name(d.loss), (long long)d.batch,
           (long long)d.memory_budget, cls_optim_kind_name(d.optimizer), d.lr, d.weight_decay,
            d.warmup_epochs, (unsigned long long)d.seed, cls_loss_precision_name(d.precision),
            (long long)d.log_every);
}

static volatile sig_atomic_t interrupted = 0;
static void on_sigint(int sig) { (void)sig; interrupted = 1; }

typedef struct {
    int tty;
} progress_state;

static int on_progress(void *user, const cls_train_progress *p)
{
    progress_state *ps = user;
    double eta = p->samples_per_s > 0 && p->step > 0
                     ? p->seconds / (double)p->step * (double)(p->total_steps - p->step)
                     : 0;
    if (ps->tty) {
        char label[160];
        snprintf(label, sizeof label, "epoch %.2f step %lld/%lld loss %.4f %.0f img/s ETA %.0fs",
                 p->epoch, (long long)p->step, (long long)p->total_steps, p->loss, p->samples_per_s,
                 eta);
        cli_progress(label, (double)p->step / (double)p->total_steps);
    } else {
        fprintf(stderr, "step %lld/%lld epoch %.3f loss %.6f lr %.3g tau %.4g %.1f img/s %.1f s\n",
                (long long)p->step, (long long)p->total_steps, p->epoch, p->loss, p->lr,
                p->temperature, p->samples_per_s, p->seconds);
    }
    return interrupted ? 1 : 0;
}

static cJSON *num_or_null(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

int cmd_train(int argc, char **argv)
{
    cls_train_config cfg;
    cls_train_config_init(&cfg);
    /* First pass: --out and --resume decide the base configuration. */
    const char *out = NULL;
    int resume = 0, json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage();
            return CLI_OK;
        }
        if (strcmp(argv[i], "--resume") == 0) resume = 1;
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) out = argv[i + 1];
        if (strncmp(argv[i], "--out=", 6) == 0) out = argv[i] + 6;
    }
    if (resume && out) {
        char p[4096];
        snprintf(p, sizeof p, "%s/config.json", out);
        if (access(p, F_OK) == 0) {
            cls_status st = cls_train_config_load(&cfg, out);
            if (st) return cli_status_error(st, "train --resume");
        }
    }
    int64_t seed64 = (int64_t)cfg.seed;
    int epochs_seen = 0, steps_seen = 0;
    const char *model = NULL, *loss = NULL, *optimizer = NULL, *lr_scaling = NULL, *precision = NULL;
    const char *pairs[2] = {cfg.pairs_a, cfg.pairs_b};
    cli_option opts[] = {
        CLI_STRING("out", &out),
        CLI_FLAG("resume", &resume),
        CLI_STRING("data", &cfg.data),
        CLI_STRING_PAIR("pairs", pairs),
        CLI_STRING("model", &model),
        CLI_INT64("width", &cfg.width, 0, INFINITY),
        CLI_STRING("loss", &loss),
        CLI_DOUBLE("temperature", &cfg.temperature, 1e-300, INFINITY),
        CLI_FLAG("learn-temperature", &cfg.learn_temperature),
        CLI_INT64("batch", &cfg.batch, 2, INFINITY),
        CLI_INT64("chunk", &cfg.chunk, 0, INFINITY),
        CLI_BYTES("memory-budget", &cfg.memory_budget),
        CLI_STRING("optimizer", &optimizer),
        CLI_DOUBLE("lr", &cfg.lr, 1e-300, INFINITY),
        CLI_STRING("lr-scaling", &lr_scaling),
        CLI_DOUBLE("weight-decay", &cfg.weight_decay, 0, INFINITY),
        CLI_DOUBLE("warmup-epochs", &cfg.warmup_epochs, 0, INFINITY),
        CLI_DOUBLE("epochs", &cfg.epochs, 0, INFINITY),
        CLI_INT64("steps", &cfg.steps, 1, INFINITY),
        CLI_INT64("train-subset", &cfg.train_subset, 0, INFINITY),
        CLI_INT64("seed", &seed64, NAN, NAN),
        CLI_INT("threads", &cfg.threads, 0, INFINITY),
        CLI_STRING("precision", &precision),
        CLI_INT64("log-every", &cfg.log_every, 1, INFINITY),
        CLI_INT64("checkpoint-every", &cfg.checkpoint_every, 0, INFINITY),
        CLI_FLAG("json", &json),
        CLI_END};
    opts[17].seen = &epochs_seen;
    opts[18].seen = &steps_seen;
    int first, rc = cli_parse_options("train", opts, argc, argv, usage, &first);
    if (rc == CLI_HELP) return CLI_OK;
    if (rc) return rc;
    cfg.pairs_a = pairs[0];
    cfg.pairs_b = pairs[1];
    cfg.seed = (uint64_t)seed64;
    if (epochs_seen && !steps_seen) cfg.steps = 0; /* --steps overrides --epochs */
    if (model && cls_model_kind_parse(model, &cfg.model))
        return cli_usage_error("train", "--model must be mlp or cnn, not '%s'", model);
    if (loss && (cls_loss_kind_parse(loss, &cfg.loss) || cfg.loss == CLS_LOSS_INFONCE))
        return cli_usage_error("train", "--loss must be ntxent, clip or siglip, not '%s'", loss);
    if (optimizer && cls_optim_kind_parse(optimizer, &cfg.optimizer))
        return cli_usage_error("train", "--optimizer must be lars, adamw or sgd, not '%s'", optimizer);
    if (lr_scaling && cls_lr_scaling_parse(lr_scaling, &cfg.lr_scaling))
        return cli_usage_error("train", "--lr-scaling must be none, linear or sqrt, not '%s'", lr_scaling);
    if (precision && cls_loss_precision_parse(precision, &cfg.precision))
        return cli_usage_error("train", "--precision must be fp32 or bf16, not '%s'", precision);
    if (first < argc) return cli_usage_error("train", "unexpected argument '%s'", argv[first]);
    if (!out) return cli_usage_error("train", "--out DIR is required");
    progress_state ps = {isatty(STDERR_FILENO)};
    cfg.progress = on_progress;
    cfg.progress_user = &ps;
    signal(SIGINT, on_sigint);
    cls_train_result r;
    int rank = 0, ranks = 1;
    cls_status st;
#ifdef CLS_HAVE_MPI
    const int mpi = cli_mpi_launched();
    if (mpi) {
        /* every rank trains; only rank 0 reports (a failure anywhere is one
         * message, naming the rank, returned on every rank) */
        MPI_Init(NULL, NULL);
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        MPI_Comm_size(MPI_COMM_WORLD, &ranks);
        st = cls_train_run_mpi(&cfg, out, resume, &r, MPI_COMM_WORLD);
    } else
#endif
        st = cls_train_run(&cfg, out, resume, &r);
    cli_progress_done();
    signal(SIGINT, SIG_DFL);
    cls_train_config_clear(&cfg);
#ifdef CLS_HAVE_MPI
    if (mpi) {
        /* rank 0 prints the failure before the barrier: a rank that exits
         * non-zero makes mpirun kill the others, and a message printed after
         * MPI_Finalize could be lost with rank 0 */
        int rc = st ? (rank == 0 ? cli_status_error(st, "train") : CLI_FAIL) : CLI_OK;
        fflush(stdout);
        fflush(stderr);
        MPI_Barrier(MPI_COMM_WORLD);
        MPI_Finalize();
        if (st || rank != 0) return rc;
    }
#endif
    if (st) return cli_status_error(st, "train");
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "steps", (double)r.steps);
        cJSON_AddNumberToObject(o, "epochs", r.epochs);
        cJSON_AddItemToObject(o, "final_loss", num_or_null(r.final_loss));
        cJSON_AddNumberToObject(o, "samples_per_s", r.samples_per_s);
        cJSON_AddNumberToObject(o, "seconds", r.seconds);
        cJSON_AddNumberToObject(o, "peak_rss_bytes", (double)r.peak_rss_bytes);
        cJSON_AddNumberToObject(o, "params", (double)r.params);
        cJSON_AddNumberToObject(o, "flops_per_image", r.flops_per_image);
        cJSON_AddNumberToObject(o, "train_flops", r.train_flops);
        cJSON_AddNumberToObject(o, "chunk", (double)r.chunk);
        cJSON_AddStringToObject(o, "precision", cls_loss_precision_name(cfg.precision));
        cJSON_AddNumberToObject(o, "start_step", (double)r.start_step);
        cJSON_AddBoolToObject(o, "stopped_early", r.stopped_early);
        if (ranks > 1) cJSON_AddNumberToObject(o, "ranks", ranks);
        cli_json_print(o);
    } else {
        if (ranks > 1) printf("%d ranks: ", ranks);
        printf("%s %lld steps (%.2f epochs) in %.1f s: final loss %.6f, %.1f images/s, "
               "peak RSS %.0f MiB -> %s\n",
               r.stopped_early ? "stopped after" : "trained", (long long)r.steps, r.epochs, r.seconds,
               r.final_loss, r.samples_per_s, (double)r.peak_rss_bytes / 1048576.0, out);
    }
    return CLI_OK;
}
