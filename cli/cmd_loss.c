/* clscale loss: exact contrastive loss and gradients of two embedding files,
 * computed in tiles (memory O(b d), never the b x b logits). */
#include "cli.h"
#include "cmd_loss_mpi.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fputs("usage: clscale loss --a A.npy --b B.npy [options]\n\n"
          "Exact contrastive loss and its gradients, computed in tiles (memory grows with\n"
          "b*d, never b^2). A and B are float32/float64 .npy matrices (rows x dim).\n\n"
          "options:\n"
          "  --a PATH               first view / queries (na x d), required\n"
          "  --b PATH               second view / keys (nb x d), required\n"
          "  --loss NAME            clip | infonce | ntxent | siglip (default clip)\n"
          "  --logit-scale S        s = 1/temperature, > 0 (default 14.2857 = 1/0.07)\n"
          "  --bias BETA            SigLIP bias (default -10)\n"
          "  --normalize            L2-normalise rows inside the loss (default off)\n"
          "  --reduction R          mean | sum (default mean)\n"
          "  --label-smoothing E    in [0, 1), clip / infonce / ntxent (default 0)\n"
          "  --labels PATH          int64/int32 .npy of length na: positive key of each\n"
          "                         query (infonce only; default labels[i] = i; keys may\n"
          "                         outnumber queries, the extra ones are negatives)\n"
          "  --grad-a PATH          write dL/dA as float32 .npy (default: not written)\n"
          "  --grad-b PATH          write dL/dB as float32 .npy (default: not written)\n"
          "  --tile T               tile edge in rows, 0 = automatic (default 0)\n"
          "  --threads T            threads, 0 = all cores (default 0)\n"
          "  --precision P          fp32 | bf16 tile products, fp32 accumulation (default fp32)\n"
          "  --json                 print one JSON object: loss, grad_logit_scale,\n"
          "                         grad_bias (siglip), batch, dim, seconds, peak_rss_bytes\n"
          "  -h, --help             this help\n",
          out);
}

/* First NaN/Inf of a loaded matrix, reported with the file it came from. */
static int check_finite_file(const float *x, int64_t rows, int64_t cols, const char *path)
{
    for (int64_t k = 0; k < rows * cols; k++)
        if (!isfinite(x[k]))
            return cli_error("%s: row %lld, column %lld is %s", path, (long long)(k / cols), (long long)(k % cols),
                             isnan(x[k]) ? "NaN" : "Inf");
    return CLI_OK;
}

enum { OPT_A = 256, OPT_B, OPT_LOSS, OPT_SCALE, OPT_BIAS, OPT_NORMALIZE, OPT_REDUCTION, OPT_SMOOTHING, OPT_LABELS,
       OPT_GRAD_A, OPT_GRAD_B, OPT_TILE, OPT_THREADS, OPT_JSON, OPT_PRECISION };

int cmd_loss(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"a", required_argument, NULL, OPT_A},
        {"b", required_argument, NULL, OPT_B},
        {"loss", required_argument, NULL, OPT_LOSS},
        {"logit-scale", required_argument, NULL, OPT_SCALE},
        {"bias", required_argument, NULL, OPT_BIAS},
        {"normalize", no_argument, NULL, OPT_NORMALIZE},
        {"reduction", required_argument, NULL, OPT_REDUCTION},
        {"label-smoothing", required_argument, NULL, OPT_SMOOTHING},
        {"labels", required_argument, NULL, OPT_LABELS},
        {"grad-a", required_argument, NULL, OPT_GRAD_A},
        {"grad-b", required_argument, NULL, OPT_GRAD_B},
        {"tile", required_argument, NULL, OPT_TILE},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"json", no_argument, NULL, OPT_JSON},
        {"precision", required_argument, NULL, OPT_PRECISION},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path_a = NULL, *path_b = NULL, *path_labels = NULL, *path_ga = NULL, *path_gb = NULL;
    int json = 0;
    cls_loss_options opt;
    cls_loss_options_init(&opt, CLS_LOSS_CLIP);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_A: path_a = optarg; break;
        case OPT_B: path_b = optarg; break;
        case OPT_LOSS:
            if (cls_loss_kind_parse(optarg, &opt.kind) != CLS_OK)
                return cli_usage_error("loss", "--loss: unknown loss '%s' (clip, infonce, ntxent, siglip)", optarg);
            break;
        case OPT_SCALE:
            if (!cli_parse_double("--logit-scale", optarg, &opt.logit_scale)) return CLI_USAGE;
            if (!(opt.logit_scale > 0.0) || !isfinite(opt.logit_scale))
                return cli_usage_error("loss", "--logit-scale must be positive and finite, got '%s'", optarg);
            break;
        case OPT_BIAS:
            if (!cli_parse_double("--bias", optarg, &opt.bias)) return CLI_USAGE;
            if (!isfinite(opt.bias)) return cli_usage_error("loss", "--bias must be finite, got '%s'", optarg);
            break;
        case OPT_NORMALIZE: opt.normalize = 1; break;
        case OPT_REDUCTION:
            if (strcmp(optarg, "mean") == 0) opt.reduction = CLS_REDUCE_MEAN;
            else if (strcmp(optarg, "sum") == 0) opt.reduction = CLS_REDUCE_SUM;
            else return cli_usage_error("loss", "--reduction: expected mean or sum, got '%s'", optarg);
            break;
        case OPT_SMOOTHING:
            if (!cli_parse_double("--label-smoothing", optarg, &opt.label_smoothing)) return CLI_USAGE;
            if (!(opt.label_smoothing >= 0.0 && opt.label_smoothing < 1.0))
                return cli_usage_error("loss", "--label-smoothing must be in [0, 1), got '%s'", optarg);
            break;
        case OPT_LABELS: path_labels = optarg; break;
        case OPT_GRAD_A: path_ga = optarg; break;
        case OPT_GRAD_B: path_gb = optarg; break;
        case OPT_TILE:
            if (!cli_parse_int64("--tile", optarg, &opt.tile)) return CLI_USAGE;
            if (opt.tile < 0) return cli_usage_error("loss", "--tile must be >= 0 (0 = automatic), got '%s'", optarg);
            break;
        case OPT_THREADS:
            if (!cli_parse_int("--threads", optarg, &opt.threads)) return CLI_USAGE;
            if (opt.threads < 0) return cli_usage_error("loss", "--threads must be >= 0 (0 = all cores), got '%s'", optarg);
            break;
        case OPT_JSON: json = 1; break;
        case OPT_PRECISION:
            if (cls_loss_precision_parse(optarg, &opt.precision) != CLS_OK)
                return cli_usage_error("loss", "--precision: unknown precision '%s' (fp32, bf16)", optarg);
            break;
        case 'h': usage(stdout); return CLI_OK;
        case ':': return cli_usage_error("loss", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("loss", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage_error("loss", "unexpected argument '%s'", argv[optind]);
    if (!path_a || !path_b) return cli_usage_error("loss", "--a and --b are required");
    if (path_labels && opt.kind != CLS_LOSS_INFONCE)
        return cli_usage_error("loss", "--labels is only used by --loss infonce");
#ifdef CLS_HAVE_MPI
    if (cli_mpi_launched()) /* mpirun -np P clscale loss ...: docs/distributed.md */
        return cmd_loss_mpi(&opt, path_a, path_b, path_labels, path_ga, path_gb, json);
#endif

    int rc = CLI_FAIL;
    float *a = NULL, *b = NULL, *ga = NULL, *gb = NULL;
    int64_t *labels = NULL;
    int64_t na = 0, nb = 0, da = 0, db = 0, nl = 0;
    cls_status s;
    if ((s = cls_npy_load_matrix_f32(path_a, &a, &na, &da)) != CLS_OK) {
        rc = cli_status_error(s, "--a");
        goto done;
    }
    if ((s = cls_npy_load_matrix_f32(path_b, &b, &nb, &db)) != CLS_OK) {
        rc = cli_status_error(s, "--b");
        goto done;
    }
    if (na == 0 || da == 0) {
        rc = cli_error("%s: empty matrix (%lld x %lld); need at least one row and one column", path_a, (long long)na,
                       (long long)da);
        goto done;
    }
    if (nb == 0 || db == 0) {
        rc = cli_error("%s: empty matrix (%lld x %lld); need at least one row and one column", path_b, (long long)nb,
                       (long long)db);
        goto done;
    }
    if (da != db) {
        rc = cli_error("%s has %lld columns but %s has %lld; the dimensions must match", path_a, (long long)da, path_b,
                       (long long)db);
        goto done;
    }
    if (opt.kind == CLS_LOSS_INFONCE ? na > nb : na != nb) {
        rc = cli_error(opt.kind == CLS_LOSS_INFONCE
                           ? "%s has %lld rows (queries) but %s only %lld (keys); infonce needs keys >= queries"
                           : "%s has %lld rows but %s has %lld; they must match for this loss",
                       path_a, (long long)na, path_b, (long long)nb);
        goto done;
    }
    if ((rc = check_finite_file(a, na, da, path_a)) != CLI_OK) goto done;
    if ((rc = check_finite_file(b, nb, db, path_b)) != CLI_OK) goto done;
    rc = CLI_FAIL;
    if (path_labels) {
        if ((s = cls_npy_load_vector_i64(path_labels, &labels, &nl)) != CLS_OK) {
            rc = cli_status_error(s, "--labels");
            goto done;
        }
        if (nl != na) {
            rc = cli_error("%s has %lld labels but %s has %lld rows", path_labels, (long long)nl, path_a, (long long)na);
            goto done;
        }
        for (int64_t i = 0; i < nl; i++)
            if (labels[i] < 0 || labels[i] >= nb) {
                rc = cli_error("%s: entry %lld is %lld, outside [0, %lld) (the rows of %s)", path_labels, (long long)i,
                               (long long)labels[i], (long long)nb, path_b);
                goto done;
            }
    }
    ga = malloc((size_t)(na * da) * sizeof(float));
    gb = malloc((size_t)(nb * db) * sizeof(float));
    if (!ga || !gb) {
        rc = cli_error("cannot allocate the gradients (%lld + %lld rows x %lld)", (long long)na, (long long)nb,
                       (long long)da);
        goto done;
    }
    cls_loss_result res;
    double t0 = cls_now_seconds();
    s = cls_loss_compute(&res, ga, gb, a, na, b, nb, da, labels, &opt);
    double seconds = cls_now_seconds() - t0;
    if (s != CLS_OK) {
        char ctx[600];
        snprintf(ctx, sizeof ctx, "%s loss of %s and %s", cls_loss_kind_name(opt.kind), path_a, path_b);
        rc = cli_status_error(s, ctx);
        goto done;
    }
    if (path_ga && (s = cls_npy_save_matrix_f32(path_ga, ga, na, da)) != CLS_OK) {
        rc = cli_status_error(s, "--grad-a");
        goto done;
    }
    if (path_gb && (s = cls_npy_save_matrix_f32(path_gb, gb, nb, db)) != CLS_OK) {
        rc = cli_status_error(s, "--grad-b");
        goto done;
    }
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "loss_kind", cls_loss_kind_name(opt.kind));
        cJSON_AddNumberToObject(o, "loss", res.loss);
        cJSON_AddNumberToObject(o, "grad_logit_scale", res.grad_logit_scale);
        if (opt.kind == CLS_LOSS_SIGLIP) cJSON_AddNumberToObject(o, "grad_bias", res.grad_bias);
        cJSON_AddNumberToObject(o, "batch", (double)na);
        if (nb != na) cJSON_AddNumberToObject(o, "keys", (double)nb);
        cJSON_AddNumberToObject(o, "dim", (double)da);
        cJSON_AddNumberToObject(o, "logit_scale", opt.logit_scale);
        cJSON_AddNumberToObject(o, "threads", cls_threads_resolve(opt.threads));
        cJSON_AddNumberToObject(o, "seconds", seconds);
        cJSON_AddNumberToObject(o, "peak_rss_bytes", (double)cls_peak_rss_bytes());
        cli_json_print(o);
    } else {
        printf("loss              %.10g (%s, %s)\n", res.loss, cls_loss_kind_name(opt.kind),
               opt.reduction == CLS_REDUCE_SUM ? "sum" : "mean");
        printf("grad_logit_scale  %.10g\n", res.grad_logit_scale);
        if (opt.kind == CLS_LOSS_SIGLIP) printf("grad_bias         %.10g\n", res.grad_bias);
        printf("batch             %lld", (long long)na);
        if (nb != na) printf(" queries, %lld keys", (long long)nb);
        printf("\ndim               %lld\n", (long long)da);
        printf("seconds           %.3f (%d threads)\n", seconds, cls_threads_resolve(opt.threads));
        printf("peak_rss_bytes    %lld\n", (long long)cls_peak_rss_bytes());
        if (path_ga) printf("wrote             %s\n", path_ga);
        if (path_gb) printf("wrote             %s\n", path_gb);
    }
    rc = CLI_OK;
done:
    free(a);
    free(b);
    free(ga);
    free(gb);
    free(labels);
    return rc;
}
