/* clscale train: contrastive training of an encoder on Fashion-MNIST (or any
 * IDX dataset, or paired features), batches beyond memory by gradient
 * caching. */
#include "cli.h"

#include "clscale/train.h"

#include <getopt.h>
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
           "  --temperature T         tau = 1/logit scale (default 0: ntxent 0.5, else 0.1)\n"
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
           "  --epochs E              (default %g)\n"
           "  --steps S               overrides --epochs (default 0)\n"
           "  --train-subset N        seeded class-stratified subset (default 0: all)\n"
           "  --seed S                init, data order, augmentations (default %llu)\n"
           "  --threads T             0 = all cores (default 0)\n"
           "  --log-every K           steps between metrics lines (default %lld)\n"
           "  --checkpoint-every K    steps between checkpoints (default 0: every epoch\n"
           "                          and at the end)\n"
           "  --json                  print one JSON object at the end\n"
           "  --help                  show this help\n",
           d.data, cls_model_kind_name(d.model), cls_loss_kind_name(d.loss), (long long)d.batch,
           (long long)d.memory_budget, cls_optim_kind_name(d.optimizer), d.lr, d.weight_decay,
           d.warmup_epochs, d.epochs, (unsigned long long)d.seed, (long long)d.log_every);
}

/* BYTES with an optional K/M/G (binary) suffix. */
static int parse_bytes(const char *opt, const char *text, int64_t *out)
{
    char buf[64];
    size_t n = strlen(text);
    if (n == 0 || n >= sizeof buf) return cli_parse_int64(opt, text, out);
    memcpy(buf, text, n + 1);
    int64_t mul = 1;
    char last = buf[n - 1];
    if (last == 'K' || last == 'k') mul = (int64_t)1 << 10;
    if (last == 'M' || last == 'm') mul = (int64_t)1 << 20;
    if (last == 'G' || last == 'g') mul = (int64_t)1 << 30;
    if (mul > 1) buf[n - 1] = 0;
    if (!cli_parse_int64(opt, buf, out)) return 0;
    if (*out < 1 || *out > INT64_MAX / mul) {
        cli_usage_error("train", "%s %s: out of range", opt, text);
        return 0;
    }
    *out *= mul;
    return 1;
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
    enum { O_OUT = 1000, O_RESUME, O_DATA, O_PAIRS, O_MODEL, O_WIDTH, O_LOSS, O_TEMP, O_LEARNT,
           O_BATCH, O_CHUNK, O_BUDGET, O_OPT, O_LR, O_LRSCALE, O_WD, O_WARM, O_EPOCHS, O_STEPS,
           O_SUBSET, O_SEED, O_THREADS, O_LOG, O_CKPT, O_JSON, O_HELP };
    static const struct option longopts[] = {
        {"out", required_argument, 0, O_OUT},         {"resume", no_argument, 0, O_RESUME},
        {"data", required_argument, 0, O_DATA},       {"pairs", required_argument, 0, O_PAIRS},
        {"model", required_argument, 0, O_MODEL},     {"width", required_argument, 0, O_WIDTH},
        {"loss", required_argument, 0, O_LOSS},       {"temperature", required_argument, 0, O_TEMP},
        {"learn-temperature", no_argument, 0, O_LEARNT}, {"batch", required_argument, 0, O_BATCH},
        {"chunk", required_argument, 0, O_CHUNK},     {"memory-budget", required_argument, 0, O_BUDGET},
        {"optimizer", required_argument, 0, O_OPT},   {"lr", required_argument, 0, O_LR},
        {"lr-scaling", required_argument, 0, O_LRSCALE}, {"weight-decay", required_argument, 0, O_WD},
        {"warmup-epochs", required_argument, 0, O_WARM}, {"epochs", required_argument, 0, O_EPOCHS},
        {"steps", required_argument, 0, O_STEPS},     {"train-subset", required_argument, 0, O_SUBSET},
        {"seed", required_argument, 0, O_SEED},       {"threads", required_argument, 0, O_THREADS},
        {"log-every", required_argument, 0, O_LOG},   {"checkpoint-every", required_argument, 0, O_CKPT},
        {"json", no_argument, 0, O_JSON},             {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0}};
    cls_train_config cfg;
    cls_train_config_init(&cfg);
    /* First pass: --out and --resume decide the base configuration. */
    const char *out = NULL;
    int resume = 0, json = 0, c;
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
    int64_t v;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case O_OUT: out = optarg; break;
        case O_RESUME: resume = 1; break;
        case O_DATA: cfg.data = optarg; break;
        case O_PAIRS:
            if (optind >= argc || argv[optind][0] == '-')
                return cli_usage_error("train", "--pairs needs two files: --pairs A.npy B.npy");
            cfg.pairs_a = optarg;
            cfg.pairs_b = argv[optind++];
            break;
        case O_MODEL:
            if (cls_model_kind_parse(optarg, &cfg.model))
                return cli_usage_error("train", "--model must be mlp or cnn, not '%s'", optarg);
            break;
        case O_WIDTH:
            if (!cli_parse_int64("--width", optarg, &cfg.width)) return CLI_USAGE;
            if (cfg.width < 0) return cli_usage_error("train", "--width must be >= 0");
            break;
        case O_LOSS:
            if (cls_loss_kind_parse(optarg, &cfg.loss) || cfg.loss == CLS_LOSS_INFONCE)
                return cli_usage_error("train", "--loss must be ntxent, clip or siglip, not '%s'", optarg);
            break;
        case O_TEMP:
            if (!cli_parse_double("--temperature", optarg, &cfg.temperature)) return CLI_USAGE;
            if (!(cfg.temperature > 0)) return cli_usage_error("train", "--temperature must be > 0");
            break;
        case O_LEARNT: cfg.learn_temperature = 1; break;
        case O_BATCH:
            if (!cli_parse_int64("--batch", optarg, &cfg.batch)) return CLI_USAGE;
            if (cfg.batch < 2) return cli_usage_error("train", "--batch must be >= 2");
            break;
        case O_CHUNK:
            if (!cli_parse_int64("--chunk", optarg, &cfg.chunk)) return CLI_USAGE;
            if (cfg.chunk < 0) return cli_usage_error("train", "--chunk must be >= 0");
            break;
        case O_BUDGET:
            if (!parse_bytes("--memory-budget", optarg, &cfg.memory_budget)) return CLI_USAGE;
            break;
        case O_OPT:
            if (cls_optim_kind_parse(optarg, &cfg.optimizer))
                return cli_usage_error("train", "--optimizer must be lars, adamw or sgd, not '%s'", optarg);
            break;
        case O_LR:
            if (!cli_parse_double("--lr", optarg, &cfg.lr)) return CLI_USAGE;
            if (!(cfg.lr > 0)) return cli_usage_error("train", "--lr must be > 0");
            break;
        case O_LRSCALE:
            if (cls_lr_scaling_parse(optarg, &cfg.lr_scaling))
                return cli_usage_error("train", "--lr-scaling must be none, linear or sqrt, not '%s'", optarg);
            break;
        case O_WD:
            if (!cli_parse_double("--weight-decay", optarg, &cfg.weight_decay)) return CLI_USAGE;
            if (cfg.weight_decay < 0) return cli_usage_error("train", "--weight-decay must be >= 0");
            break;
        case O_WARM:
            if (!cli_parse_double("--warmup-epochs", optarg, &cfg.warmup_epochs)) return CLI_USAGE;
            if (cfg.warmup_epochs < 0) return cli_usage_error("train", "--warmup-epochs must be >= 0");
            break;
        case O_EPOCHS:
            if (!cli_parse_double("--epochs", optarg, &cfg.epochs)) return CLI_USAGE;
            if (!(cfg.epochs > 0)) return cli_usage_error("train", "--epochs must be > 0");
            cfg.steps = 0;
            break;
        case O_STEPS:
            if (!cli_parse_int64("--steps", optarg, &cfg.steps)) return CLI_USAGE;
            if (cfg.steps < 1) return cli_usage_error("train", "--steps must be >= 1");
            break;
        case O_SUBSET:
            if (!cli_parse_int64("--train-subset", optarg, &cfg.train_subset)) return CLI_USAGE;
            if (cfg.train_subset < 0) return cli_usage_error("train", "--train-subset must be >= 0");
            break;
        case O_SEED:
            if (!cli_parse_int64("--seed", optarg, &v)) return CLI_USAGE;
            cfg.seed = (uint64_t)v;
            break;
        case O_THREADS:
            if (!cli_parse_int("--threads", optarg, &cfg.threads)) return CLI_USAGE;
            if (cfg.threads < 0) return cli_usage_error("train", "--threads must be >= 0");
            break;
        case O_LOG:
            if (!cli_parse_int64("--log-every", optarg, &cfg.log_every)) return CLI_USAGE;
            if (cfg.log_every < 1) return cli_usage_error("train", "--log-every must be >= 1");
            break;
        case O_CKPT:
            if (!cli_parse_int64("--checkpoint-every", optarg, &cfg.checkpoint_every)) return CLI_USAGE;
            if (cfg.checkpoint_every < 0) return cli_usage_error("train", "--checkpoint-every must be >= 0");
            break;
        case O_JSON: json = 1; break;
        case O_HELP:
        case 'h': usage(); return CLI_OK;
        default:
            return cli_usage_error("train", "unknown option or missing value: '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage_error("train", "unexpected argument '%s'", argv[optind]);
    if (!out) return cli_usage_error("train", "--out DIR is required");
    progress_state ps = {isatty(STDERR_FILENO)};
    cfg.progress = on_progress;
    cfg.progress_user = &ps;
    signal(SIGINT, on_sigint);
    cls_train_result r;
    cls_status st = cls_train_run(&cfg, out, resume, &r);
    cli_progress_done();
    signal(SIGINT, SIG_DFL);
    cls_train_config_clear(&cfg);
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
        cJSON_AddNumberToObject(o, "start_step", (double)r.start_step);
        cJSON_AddBoolToObject(o, "stopped_early", r.stopped_early);
        cli_json_print(o);
    } else {
        printf("%s %lld steps (%.2f epochs) in %.1f s: final loss %.6f, %.1f images/s, "
               "peak RSS %.0f MiB -> %s\n",
               r.stopped_early ? "stopped after" : "trained", (long long)r.steps, r.epochs, r.seconds,
               r.final_loss, r.samples_per_s, (double)r.peak_rss_bytes / 1048576.0, out);
    }
    return CLI_OK;
}
