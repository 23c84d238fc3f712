/* clscale loss: exact contrastive loss and gradients of two embedding files,
 * computed in tiles (memory O(b d), never the b x b logits). */
#include "cli.h"
#include "cmd_loss_mpi.h"

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

static void usage_stdout(void) { usage(stdout); }

int cmd_loss(int argc, char **argv)
{
    const char *path_a = NULL, *path_b = NULL, *path_labels = NULL, *path_ga = NULL, *path_gb = NULL;
    int json = 0, seen_bias = 0, seen_smoothing = 0, seen_scale = 0, kind = CLS_LOSS_CLIP, reduction = -1;
    int first = 0, precision = CLS_PRECISION_FP32;
    cls_loss_options opt;
    cls_loss_options_init(&opt, CLS_LOSS_CLIP);
    cli_option table[] = {
        CLI_STRING("a", &path_a), CLI_STRING("b", &path_b),
        CLI_CHOICE("loss", &kind, "clip|infonce|ntxent|siglip"), /* the order of cls_loss_kind */
        CLI_DOUBLE("logit-scale", &opt.logit_scale, 1e-300, 1e300), CLI_DOUBLE("bias", &opt.bias, NAN, NAN),
        CLI_FLAG("normalize", &opt.normalize), CLI_CHOICE("reduction", &reduction, "mean|sum"),
        CLI_DOUBLE("label-smoothing", &opt.label_smoothing, 0, 0.999999999), CLI_STRING("labels", &path_labels),
        CLI_STRING("grad-a", &path_ga), CLI_STRING("grad-b", &path_gb), CLI_INT64("tile", &opt.tile, 0, 1e15),
        CLI_INT("threads", &opt.threads, 0, 4096), CLI_FLAG("json", &json),
        CLI_CHOICE("precision", &precision, "fp32|bf16"), /* the order of cls_precision */
        CLI_END};
    table[3].seen = &seen_scale;
    table[4].seen = &seen_bias;
    table[7].seen = &seen_smoothing;
    int prc = cli_parse_options("loss", table, argc, argv, usage_stdout, &first);
    if (prc) return prc == CLI_HELP ? CLI_OK : prc;
    opt.kind = (cls_loss_kind)kind;
    opt.precision = (cls_precision)precision;
    if (reduction >= 0) opt.reduction = reduction == 0 ? CLS_REDUCE_MEAN : CLS_REDUCE_SUM;
    if (first < argc) return cli_usage_error("loss", "unexpected argument '%s'", argv[first]);
    if (!path_a || !path_b) return cli_usage_error("loss", "--a and --b are required");
    if (path_labels && opt.kind != CLS_LOSS_INFONCE)
        return cli_usage_error("loss", "--labels is only used by --loss infonce");
    if (seen_bias && opt.kind != CLS_LOSS_SIGLIP)
        return cli_usage_error("loss", "--bias is only used by --loss siglip");
    if (seen_smoothing && opt.kind == CLS_LOSS_SIGLIP)
        return cli_usage_error("loss", "--label-smoothing does not apply to --loss siglip");
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
    /* The default scale (1/0.07) assumes unit-norm rows: with longer rows the
     * logits saturate and the loss collapses to 0 without --normalize. */
    char norm_warning[320] = "";
    if (!opt.normalize && !seen_scale) {
        double worst = 0.0;
        const char *worst_path = path_a;
        for (int side = 0; side < 2; side++) {
            const float *m = side ? b : a;
            int64_t rows = side ? nb : na;
            for (int64_t i = 0; i < rows; i++) {
                double ss = 0.0;
                for (int64_t j = 0; j < da; j++) ss += (double)m[i * da + j] * m[i * da + j];
                double dev = fabs(sqrt(ss) - 1.0);
                if (dev > worst) worst = dev, worst_path = side ? path_b : path_a;
            }
        }
        if (worst > 1e-3) {
            snprintf(norm_warning, sizeof norm_warning,
                     "rows of %s are not unit-norm (| ||row|| - 1 | up to %.3g): the default --logit-scale %g "
                     "assumes unit-norm rows; pass --normalize or set --logit-scale",
                     worst_path, worst, opt.logit_scale);
            cli_warning("%s", norm_warning);
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
        cJSON *w = cJSON_AddArrayToObject(o, "warnings");
        if (norm_warning[0]) cJSON_AddItemToArray(w, cJSON_CreateString(norm_warning));
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
