/* clscale spectrum: label-free quality of an embedding matrix from the
 * eigenspectrum of its covariance (alpha-ReQ, RankMe, effective rank,
 * participation ratio), with optional CSV of the spectrum and a log-log plot. */
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    printf("usage: clscale spectrum X.npy [options]\n"
           "\n"
           "Eigenspectrum of the embeddings' covariance (rows = samples) and the label-free\n"
           "quality metrics built on it: alpha (power-law exponent, alpha-ReQ), RankMe,\n"
           "effective rank, participation ratio. X is a 2-D float32/float64 .npy, streamed.\n"
           "\n"
           "options:\n"
           "  --fit-range LO:HI     ranks fitted for alpha, 1-based inclusive (default 4:100);\n"
           "                        HI beyond the available ranks is clamped with a warning\n"
           "  --weights inv|none    least-squares weights 1/k or none (default inv)\n"
           "  --center              centre the columns for alpha, effective rank and\n"
           "                        participation ratio (default)\n"
           "  --no-center           use the uncentred second moment for those instead\n"
           "                        (RankMe is always on the uncentred X)\n"
           "  --method M            auto|exact|randomized (default auto: exact when\n"
           "                        min(n, d) <= %d, randomized top ranks otherwise)\n"
           "  --bootstrap B         95%% percentile interval for alpha from B row\n"
           "                        resamples (default 0: none; each costs one pass)\n"
           "  --seed S              seed for the bootstrap and the randomized sketch (default 0)\n"
           "  --eigenvalues-out F   write rank,eigenvalue,normalized as CSV (default: none)\n"
           "  --plot P.png|P.svg    log-log spectrum with the fitted line and the fit range\n"
           "                        marked, via gnuplot (a note, not a failure, without it)\n"
           "  --json                print one JSON object on one line\n"
           "  --threads T           BLAS threads, 0 = all cores (default 0)\n"
           "  --help                show this help\n",
           CLS_SPECTRUM_AUTO_EXACT_MAX);
}

static cJSON *num_or_null(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static int write_csv(const char *path, const cls_spectrum_result *r)
{
    FILE *f = fopen(path, "w");
    if (!f) return cli_error("cannot write %s", path);
    fprintf(f, "rank,eigenvalue,normalized\n");
    for (int64_t k = 0; k < r->eig.count; k++)
        fprintf(f, "%lld,%.17g,%.17g\n", (long long)(k + 1), r->eig.values[k],
                r->eig.values[k] / r->eig.total);
    if (fclose(f) != 0) return cli_error("cannot write %s", path);
    return CLI_OK;
}

static int plot(const char *path, const char *input, const cls_spectrum_result *r)
{
    char *s = NULL;
    size_t len = 0;
    FILE *f = cli_gnuplot_open(path, &s, &len);
    if (!f) return CLI_USAGE;
    char title[600];
    snprintf(title, sizeof title, "%s: alpha = %.3f, R^2 = %.3f (ranks %lld..%lld)", input, r->alpha, r->r2,
             (long long)r->fit_lo, (long long)r->fit_hi);
    fputs("set logscale xy\nset grid\nset xlabel 'rank k'\nset ylabel 'normalized eigenvalue'\nset title ", f);
    cli_gnuplot_quote(f, title);
    fprintf(f, " noenhanced\n"
               "set arrow from %lld, graph 0 to %lld, graph 1 nohead dt 2 lc rgb 'gray40'\n"
               "set arrow from %lld, graph 0 to %lld, graph 1 nohead dt 2 lc rgb 'gray40'\n"
               "f(x) = exp(%.17g) * x**(-%.17g)\n"
               "plot '-' using 1:2 with lines lw 2 title 'spectrum', "
               "[%lld:%lld] f(x) with lines lw 2 dt 2 lc rgb 'red' title 'fit (LO..HI)'\n",
            (long long)r->fit_lo, (long long)r->fit_lo, (long long)r->fit_hi, (long long)r->fit_hi,
            r->intercept, r->alpha, (long long)r->fit_lo, (long long)r->fit_hi);
    for (int64_t k = 0; k < r->eig.count; k++)
        if (r->eig.values[k] > 0) fprintf(f, "%lld %.10g\n", (long long)(k + 1), r->eig.values[k] / r->eig.total);
    fputs("e\n", f);
    return cli_gnuplot_finish(f, &s, path);
}

static int parse_range(const char *text, int64_t *lo, int64_t *hi)
{
    const char *colon = text ? strchr(text, ':') : NULL;
    if (!colon) {
        cli_usage_error("spectrum", "--fit-range: '%s' is not LO:HI", text ? text : "");
        return 0;
    }
    char buf[64];
    size_t l = (size_t)(colon - text);
    if (l == 0 || l >= sizeof buf) {
        cli_usage_error("spectrum", "--fit-range: '%s' is not LO:HI", text);
        return 0;
    }
    memcpy(buf, text, l);
    buf[l] = 0;
    if (!cli_parse_int64("--fit-range LO", buf, lo) || !cli_parse_int64("--fit-range HI", colon + 1, hi))
        return 0;
    if (*lo < 1 || *hi <= *lo) {
        cli_usage_error("spectrum", "--fit-range %s: need 1 <= LO < HI", text);
        return 0;
    }
    return 1;
}

int cmd_spectrum(int argc, char **argv)
{
    cls_spectrum_options opt;
    cls_spectrum_options_init(&opt);
    const char *eig_out = NULL, *plot_out = NULL, *range = NULL;
    int json = 0, center = 0, no_center = 0, weights = -1, method = -1, first = 0;
    int64_t seed = (int64_t)opt.seed;
    const cli_option opts[] = {
        CLI_STRING("fit-range", &range), CLI_CHOICE("weights", &weights, "inv|none"),
        CLI_FLAG("center", &center), CLI_FLAG("no-center", &no_center),
        CLI_CHOICE("method", &method, "auto|exact|randomized"),
        CLI_INT64("bootstrap", &opt.bootstrap, 0, 1e9), CLI_INT64("seed", &seed, NAN, NAN),
        CLI_STRING("eigenvalues-out", &eig_out), CLI_STRING("plot", &plot_out), CLI_FLAG("json", &json),
        CLI_INT("threads", &opt.threads, 0, 4096), CLI_END};
    int prc = cli_parse_options("spectrum", opts, argc, argv, usage, &first);
    if (prc) return prc == CLI_HELP ? CLI_OK : prc;
    if (range && !parse_range(range, &opt.fit_lo, &opt.fit_hi)) return CLI_USAGE;
    if (center && no_center) return cli_usage_error("spectrum", "--center and --no-center contradict each other");
    if (center) opt.center = 1;
    if (no_center) opt.center = 0;
    if (weights >= 0) opt.weights = weights == 0 ? CLS_SPECTRUM_WEIGHTS_INV : CLS_SPECTRUM_WEIGHTS_NONE;
    if (method >= 0)
        opt.method = method == 0 ? CLS_SPECTRUM_AUTO : method == 1 ? CLS_SPECTRUM_EXACT : CLS_SPECTRUM_RANDOMIZED;
    opt.seed = (uint64_t)seed;
    if (plot_out && !cli_gnuplot_terminal(plot_out)) return CLI_USAGE;
    if (first != argc - 1)
        return cli_usage_error("spectrum", first >= argc ? "missing the input X.npy" : "exactly one input X.npy expected");
    const char *input = argv[first];

    cls_spectrum_result r;
    cls_status st = cls_spectrum_analyze_npy(input, &opt, &r);
    if (st) return cli_status_error(st, NULL) /* the library message names the file */;

    int rc = CLI_OK;
    if (eig_out) rc = write_csv(eig_out, &r);
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "alpha", num_or_null(r.alpha));
        cJSON_AddItemToObject(o, "intercept", num_or_null(r.intercept));
        cJSON_AddItemToObject(o, "r2", num_or_null(r.r2));
        if (opt.bootstrap > 0) {
            if (r.bootstrap > 0) {
                cJSON *ci = cJSON_CreateArray();
                cJSON_AddItemToArray(ci, cJSON_CreateNumber(r.alpha_ci95[0]));
                cJSON_AddItemToArray(ci, cJSON_CreateNumber(r.alpha_ci95[1]));
                cJSON_AddItemToObject(o, "alpha_ci95", ci);
            } else {
                cJSON_AddNullToObject(o, "alpha_ci95");
            }
            cJSON_AddNumberToObject(o, "bootstrap", r.bootstrap);
        }
        cJSON_AddItemToObject(o, "rankme", num_or_null(r.rankme));
        cJSON_AddItemToObject(o, "effective_rank", num_or_null(r.effective_rank));
        cJSON_AddItemToObject(o, "effective_rank_eig", num_or_null(r.effective_rank_eig));
        cJSON_AddItemToObject(o, "participation_ratio", num_or_null(r.participation_ratio));
        cJSON_AddNumberToObject(o, "n", (double)r.n);
        cJSON_AddNumberToObject(o, "d", (double)r.d);
        cJSON *fr = cJSON_CreateArray();
        cJSON_AddItemToArray(fr, cJSON_CreateNumber((double)r.fit_lo));
        cJSON_AddItemToArray(fr, cJSON_CreateNumber((double)r.fit_hi));
        cJSON_AddItemToObject(o, "fit_range", fr);
        cJSON_AddStringToObject(o, "method", cls_spectrum_method_name(r.method));
        cJSON_AddBoolToObject(o, "centered", r.centered);
        cJSON_AddStringToObject(o, "weights", opt.weights == CLS_SPECTRUM_WEIGHTS_INV ? "inv" : "none");
        cJSON_AddItemToObject(o, "total_variance", num_or_null(r.eig.total));
        cJSON *w = cJSON_CreateArray();
        for (int i = 0; i < r.n_warnings; i++) cJSON_AddItemToArray(w, cJSON_CreateString(r.warning_text[i]));
        cJSON_AddItemToObject(o, "warnings", w);
        cli_json_print(o);
    } else {
        printf("spectrum of %s: n = %lld, d = %lld, method %s, %s\n", input, (long long)r.n,
               (long long)r.d, cls_spectrum_method_name(r.method), r.centered ? "centred" : "uncentred");
        printf("  alpha                %10.4f   ranks %lld..%lld, weights %s\n", r.alpha,
               (long long)r.fit_lo, (long long)r.fit_hi, opt.weights == CLS_SPECTRUM_WEIGHTS_INV ? "1/k" : "none");
        if (r.bootstrap > 0)
            printf("  alpha 95%% CI        [%.4f, %.4f]   %lld bootstrap resamples\n", r.alpha_ci95[0],
                   r.alpha_ci95[1], (long long)r.bootstrap);
        printf("  intercept            %10.4f\n", r.intercept);
        printf("  R^2                  %10.4f\n", r.r2);
        printf("  RankMe               %10.2f   uncentred, eps 1e-7\n", r.rankme);
        printf("  effective rank       %10.2f   singular values, eps 0\n", r.effective_rank);
        printf("  effective rank (eig) %10.2f   eigenvalues, eps 0\n", r.effective_rank_eig);
        printf("  participation ratio  %10.2f\n", r.participation_ratio);
        for (int i = 0; i < r.n_warnings; i++) cli_warning("%s", r.warning_text[i]);
    }
    if (rc == CLI_OK && plot_out) rc = plot(plot_out, input, &r);
    cls_spectrum_result_free(&r);
    return rc;
}
