/* clscale eval: the frozen-representation evaluation protocol (linear probe,
 * k-NN, spectrum) on any embeddings + labels, on raw Fashion-MNIST pixels
 * (--baseline pixels), or on a training run's encoder (RUN_DIR). */
#include "cli.h"

#include <clscale/train.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage(void)
{
    cls_probe_options po;
    cls_probe_options_init(&po);
    printf("usage: clscale eval --train Z.npy --train-labels y.npy --test Z.npy --test-labels y.npy [options]\n"
           "       clscale eval --baseline pixels|random-mlp|random-cnn [--data fashion-mnist|DIR] [options]\n"
           "       clscale eval RUN_DIR [options]\n"
           "\n"
           "Evaluate frozen representations: a linear probe (multinomial logistic regression,\n"
           "L2 chosen on a held-out 10%% of the training rows), k-NN (cosine, k = 200, votes\n"
           "exp(s/0.07)) and the spectrum of the test representations (alpha with R^2, RankMe,\n"
           "effective rank). Features: 2-D float32/float64 .npy (rows = samples); labels: 1-D\n"
           "int32/int64 .npy of non-negative values (any values: mapped to classes 0..K-1).\n"
           "With no metric flag, all three metrics are computed.\n"
           "\n"
           "inputs:\n"
           "  --train Z.npy           training features\n"
           "  --train-labels y.npy    training labels\n"
           "  --test Z.npy            test features\n"
           "  --test-labels y.npy     test labels\n"
           "  --baseline pixels       evaluate raw pixels of an IDX dataset instead\n"
           "  --baseline random-mlp|random-cnn  representations h of a randomly\n"
           "                          initialised encoder (initialised with --seed) on that dataset\n"
           "  --width W               encoder width for random-mlp/random-cnn (default: the\n"
           "                          model's default, mlp 1024, cnn 32)\n"
           "  --data fashion-mnist|DIR  the IDX dataset for --baseline (default fashion-mnist:\n"
           "                          %s)\n"
           "  RUN_DIR                 a training run's directory: embed train and test sets with\n"
           "                          the run's latest checkpoint\n"
           "\n"
           "metrics:\n"
           "  --probe                 linear probe\n"
           "  --knn K                 k-NN with K neighbours (the default metric set uses 200)\n"
           "  --knn-vote weighted|majority  k-NN votes exp(s/0.07) or 1 each (default weighted)\n"
           "  --spectrum              alpha, R^2, RankMe, effective rank of the test features\n"
           "\n"
           "options:\n"
           "  --probe-grid LO:HI:N    L2 strengths lambda = 1/C tried: N log-spaced values from LO\n"
           "                          to HI (default %g:%g:%d); N = 1 fits LO without a held-out split\n"
           "  --seed S                seed of the held-out split and of a random encoder (default 0)\n"
           "  --threads T             threads, 0 = all cores (default 0)\n"
           "  --confusion C.csv       write the probe's test confusion matrix (rows true, columns\n"
           "                          predicted) as CSV\n"
           "  --json                  print one JSON object on one line\n"
           "  --help                  show this help\n",
           CLS_FASHION_MNIST_DIR, po.grid_lo, po.grid_hi, po.grid_n);
}

/* ---- the one place a training run's encoder would be called ---- */

/* Representations h of a training run's latest checkpoint for one split. */
static int run_embed(const char *run_dir, cls_split split, float **repr, int64_t **labels, int64_t *n,
                     int64_t *dim)
{
    cls_status st = cls_train_embed(run_dir, split, repr, labels, n, dim);
    return st ? cli_status_error(st, run_dir) : CLI_OK;
}

static int parse_grid(const char *text, cls_probe_options *po)
{
    char buf[256];
    if (strlen(text) >= sizeof buf) return cli_usage_error("eval", "--probe-grid '%s' is too long", text);
    strcpy(buf, text);
    char *a = buf, *b = strchr(a, ':'), *c = b ? strchr(b + 1, ':') : NULL;
    if (!b || !c) return cli_usage_error("eval", "--probe-grid '%s' is not LO:HI:N", text);
    *b++ = 0;
    *c++ = 0;
    if (!cli_parse_double("--probe-grid LO", a, &po->grid_lo) || !cli_parse_double("--probe-grid HI", b, &po->grid_hi) ||
        !cli_parse_int("--probe-grid N", c, &po->grid_n))
        return CLI_USAGE;
    if (!(po->grid_lo > 0) || !(po->grid_hi >= po->grid_lo) || !isfinite(po->grid_hi) || po->grid_n < 1)
        return cli_usage_error("eval", "--probe-grid %s: need 0 < LO <= HI and N >= 1", text);
    return CLI_OK;
}

typedef struct {
    float *x;
    int64_t *y;
    int64_t n, dim;
    int64_t height, width; /* images from an IDX dataset; 0 otherwise */
    int library_owned; /* from cls_dataset (cls_free) rather than the npy reader (free) */
} split_data;

static void split_free(split_data *s)
{
    if (s->library_owned) {
        cls_dataset d = {s->x, s->y, s->n, 0, 0};
        cls_dataset_free(&d);
    } else {
        free(s->x);
        free(s->y);
    }
    memset(s, 0, sizeof *s);
}

static int load_npy_split(const char *xpath, const char *ypath, const char *what, split_data *s)
{
    memset(s, 0, sizeof *s);
    cls_status st = cls_npy_load_matrix_f32(xpath, &s->x, &s->n, &s->dim);
    if (st) return cli_status_error(st, xpath);
    int64_t ny = 0;
    st = cls_npy_load_vector_i64(ypath, &s->y, &ny);
    if (st) {
        split_free(s);
        return cli_status_error(st, ypath);
    }
    if (ny != s->n) {
        int64_t rows = s->n;
        split_free(s);
        return cli_error("%s labels %s hold %lld values but %s features %s have %lld rows", what, ypath,
                         (long long)ny, what, xpath, (long long)rows);
    }
    if (s->n == 0) {
        split_free(s);
        return cli_error("%s features %s have no rows", what, xpath);
    }
    return CLI_OK;
}

/* Replace a split's pixels by the representations h of a randomly initialised
 * encoder (the "random encoder" baseline: what the architecture gives before
 * any training). */
static int embed_random(cls_model *model, split_data *s, int threads)
{
    int64_t dim = cls_model_repr_dim(model);
    float *h = malloc((size_t)s->n * (size_t)dim * sizeof *h);
    int64_t *y = malloc((size_t)s->n * sizeof *y);
    if (!h || !y) {
        free(h);
        free(y);
        return cli_error("out of memory for %lld x %lld representations", (long long)s->n, (long long)dim);
    }
    cls_status st = cls_model_forward(model, s->x, s->n, h, NULL, NULL, threads);
    if (st) {
        free(h);
        free(y);
        return cli_status_error(st, "random encoder");
    }
    memcpy(y, s->y, (size_t)s->n * sizeof *y);
    int64_t n = s->n;
    split_free(s);
    s->x = h;
    s->y = y;
    s->n = n;
    s->dim = dim;
    return CLI_OK;
}

static int load_idx_split(const char *source, cls_split split, split_data *s)
{
    memset(s, 0, sizeof *s);
    cls_dataset d;
    cls_status st = cls_dataset_load(&d, source, split);
    if (st) return cli_status_error(st, source);
    s->x = d.images;
    s->y = d.labels;
    s->n = d.n;
    s->dim = d.height * d.width;
    s->height = d.height;
    s->width = d.width;
    s->library_owned = 1;
    return CLI_OK;
}

static cJSON *num_or_null(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static int write_confusion(const char *path, const cls_probe_result *r)
{
    FILE *f = fopen(path, "w");
    if (!f) return cli_error("cannot write %s", path);
    fprintf(f, "true\\predicted");
    for (int64_t j = 0; j < r->n_classes; j++) fprintf(f, ",%lld", (long long)r->classes[j]);
    fputc('\n', f);
    for (int64_t i = 0; i < r->n_classes; i++) {
        fprintf(f, "%lld", (long long)r->classes[i]);
        for (int64_t j = 0; j < r->n_classes; j++)
            fprintf(f, ",%lld", (long long)r->confusion[i * r->n_classes + j]);
        fputc('\n', f);
    }
    if (fclose(f) != 0) return cli_error("cannot write %s", path);
    return CLI_OK;
}

int cmd_eval(int argc, char **argv)
{
    static const char *const baselines[] = {"pixels", "random-mlp", "random-cnn"};
    const char *train = NULL, *train_y = NULL, *test = NULL, *test_y = NULL, *confusion = NULL;
    const char *baseline = NULL, *data = "fashion-mnist", *grid = NULL;
    int do_probe = 0, do_knn = 0, do_spectrum = 0, json = 0, threads = 0, vote = 0, base = -1;
    int64_t seed64 = 0, width = 0;
    cls_probe_options po;
    cls_probe_options_init(&po);
    cls_knn_options ko;
    cls_knn_options_init(&ko);
    cli_option opts[] = {
        CLI_STRING("train", &train),
        CLI_STRING("train-labels", &train_y),
        CLI_STRING("test", &test),
        CLI_STRING("test-labels", &test_y),
        CLI_FLAG("probe", &do_probe),
        CLI_INT64("knn", &ko.k, 1, INFINITY),
        CLI_CHOICE("knn-vote", &vote, "weighted|majority"),
        CLI_FLAG("spectrum", &do_spectrum),
        CLI_STRING("probe-grid", &grid),
        CLI_INT64("seed", &seed64, NAN, NAN),
        CLI_INT("threads", &threads, 0, INFINITY),
        CLI_STRING("confusion", &confusion),
        CLI_FLAG("json", &json),
        CLI_CHOICE("baseline", &base, "pixels|random-mlp|random-cnn"),
        CLI_STRING("data", &data),
        CLI_INT64("width", &width, 1, INFINITY),
        CLI_END};
    opts[5].seen = &do_knn;
    int first, rc = cli_parse_options("eval", opts, argc, argv, usage, &first);
    if (rc == CLI_HELP) return CLI_OK;
    if (rc) return rc;
    if (grid && parse_grid(grid, &po) != CLI_OK) return CLI_USAGE;
    ko.weighted = vote == 0;
    if (base >= 0) baseline = baselines[base];
    uint64_t seed = (uint64_t)seed64;
    const char *run_dir = NULL;
    if (first < argc) {
        if (first != argc - 1) return cli_usage_error("eval", "at most one RUN_DIR expected");
        run_dir = argv[first];
    }
    int have_files = train || train_y || test || test_y;
    if ((have_files != 0) + (baseline != NULL) + (run_dir != NULL) != 1)
        return cli_usage_error("eval", "give either --train/--train-labels/--test/--test-labels, or --baseline "
                                       "pixels, or a RUN_DIR (see --help)");
    if (have_files && !(train && train_y && test && test_y))
        return cli_usage_error("eval", "--train, --train-labels, --test and --test-labels go together");
    if (!do_probe && !do_knn && !do_spectrum) do_probe = do_knn = do_spectrum = 1;
    if (confusion && !do_probe) return cli_usage_error("eval", "--confusion needs the probe (--probe)");
    int random_encoder = baseline && strncmp(baseline, "random-", 7) == 0;
    if (width && !random_encoder)
        return cli_usage_error("eval", "--width applies to --baseline random-mlp|random-cnn only");
    po.threads = ko.threads = threads;
    po.seed = seed;
    po.confusion = confusion != NULL;

    double t0 = cls_now_seconds();
    split_data tr, te;
    if (run_dir) {
        struct stat sb;
        if (stat(run_dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
            return cli_error("eval: %s is not a directory (a training run's directory was expected)", run_dir);
        memset(&tr, 0, sizeof tr);
        memset(&te, 0, sizeof te);
        tr.library_owned = te.library_owned = 1; /* cls_train_embed's arrays: cls_free */
        rc = run_embed(run_dir, CLS_SPLIT_TRAIN, &tr.x, &tr.y, &tr.n, &tr.dim);
        if (rc) return rc;
        rc = run_embed(run_dir, CLS_SPLIT_TEST, &te.x, &te.y, &te.n, &te.dim);
        if (rc) {
            split_free(&tr);
            return rc;
        }
    } else if (baseline) {
        rc = load_idx_split(data, CLS_SPLIT_TRAIN, &tr);
        if (rc) return rc;
        rc = load_idx_split(data, CLS_SPLIT_TEST, &te);
        if (rc) {
            split_free(&tr);
            return rc;
        }
        if (random_encoder) {
            cls_model_config mc;
            cls_status st = cls_model_kind_parse(baseline + 7, &mc.kind);
            if (!st) {
                cls_model_config_init(&mc, mc.kind);
                if (width) mc.width = width;
                mc.height = tr.height;
                mc.image_w = tr.width;
                mc.proj_dim = 0;
                mc.seed = seed;
            }
            cls_model *model = NULL;
            if (!st) st = cls_model_create(&model, &mc);
            rc = st ? cli_status_error(st, "random encoder") : CLI_OK;
            if (!rc) rc = embed_random(model, &tr, threads);
            if (!rc) rc = embed_random(model, &te, threads);
            cls_model_free(model);
            if (rc) {
                split_free(&tr);
                split_free(&te);
                return rc;
            }
        }
    } else {
        rc = load_npy_split(train, train_y, "train", &tr);
        if (rc) return rc;
        rc = load_npy_split(test, test_y, "test", &te);
        if (rc) {
            split_free(&tr);
            return rc;
        }
    }
    if (tr.dim != te.dim) {
        rc = cli_error("train features have %lld columns but test features have %lld", (long long)tr.dim,
                       (long long)te.dim);
        goto out;
    }

    cls_probe_result pr;
    cls_knn_result kr;
    cls_spectrum_result sr;
    memset(&pr, 0, sizeof pr);
    memset(&kr, 0, sizeof kr);
    memset(&sr, 0, sizeof sr);
    cls_status st;
    if (do_probe) {
        st = cls_eval_probe(tr.x, tr.y, tr.n, te.x, te.y, te.n, tr.dim, &po, &pr);
        if (st) { rc = cli_status_error(st, "linear probe"); goto out; }
    }
    if (do_knn) {
        st = cls_eval_knn(tr.x, tr.y, tr.n, te.x, te.y, te.n, tr.dim, &ko, &kr);
        if (st) { rc = cli_status_error(st, "k-NN"); goto free_results; }
    }
    if (do_spectrum) {
        cls_spectrum_options so;
        cls_spectrum_options_init(&so);
        so.threads = threads;
        st = cls_spectrum_analyze_f32(te.x, te.n, te.dim, &so, &sr);
        if (st) { rc = cli_status_error(st, "spectrum of the test features"); goto free_results; }
    }
    if (confusion) {
        rc = write_confusion(confusion, &pr);
        if (rc) goto free_results;
    }
    double seconds = cls_now_seconds() - t0;
    if (json) {
        cJSON *o = cJSON_CreateObject();
        if (baseline) {
            cJSON_AddStringToObject(o, "baseline", baseline);
            cJSON_AddStringToObject(o, "data", data);
        }
        if (do_probe) {
            cJSON_AddNumberToObject(o, "probe_accuracy", pr.accuracy);
            cJSON_AddNumberToObject(o, "probe_l2", pr.l2);
            cJSON_AddNumberToObject(o, "probe_C", pr.C);
            cJSON *g = cJSON_CreateArray(), *ga = cJSON_CreateArray();
            for (int i = 0; i < pr.grid_n; i++) {
                cJSON_AddItemToArray(g, cJSON_CreateNumber(pr.grid[i]));
                cJSON_AddItemToArray(ga, num_or_null(pr.grid_accuracy[i]));
            }
            cJSON_AddItemToObject(o, "probe_grid", g);
            cJSON_AddItemToObject(o, "probe_grid_accuracy", ga);
            cJSON *pc = cJSON_CreateArray(), *cl = cJSON_CreateArray();
            for (int64_t i = 0; i < pr.n_classes; i++) {
                cJSON_AddItemToArray(pc, num_or_null(pr.per_class[i]));
                cJSON_AddItemToArray(cl, cJSON_CreateNumber((double)pr.classes[i]));
            }
            cJSON_AddItemToObject(o, "probe_per_class", pc);
            cJSON_AddItemToObject(o, "classes", cl);
            cJSON_AddNumberToObject(o, "probe_objective", pr.objective);
            cJSON_AddNumberToObject(o, "probe_iterations", pr.iterations);
        }
        if (do_knn) {
            cJSON_AddNumberToObject(o, "knn_accuracy", kr.accuracy);
            cJSON_AddNumberToObject(o, "knn_k", (double)kr.k);
            cJSON_AddStringToObject(o, "knn_vote", ko.weighted ? "weighted" : "majority");
        }
        if (do_spectrum) {
            cJSON_AddItemToObject(o, "alpha", num_or_null(sr.alpha));
            cJSON_AddItemToObject(o, "alpha_r2", num_or_null(sr.r2));
            cJSON_AddItemToObject(o, "rankme", num_or_null(sr.rankme));
            cJSON_AddItemToObject(o, "effective_rank", num_or_null(sr.effective_rank));
        }
        cJSON_AddNumberToObject(o, "n_train", (double)tr.n);
        cJSON_AddNumberToObject(o, "n_test", (double)te.n);
        cJSON_AddNumberToObject(o, "dim", (double)tr.dim);
        cJSON_AddNumberToObject(o, "seconds", seconds);
        cli_json_print(o);
    } else {
        printf("eval: %lld train x %lld test rows, dim %lld%s\n", (long long)tr.n, (long long)te.n,
               (long long)tr.dim,
               !baseline ? "" : random_encoder ? " (randomly initialised encoder)" : " (raw pixels)");
        if (do_probe) {
            printf("  linear probe accuracy  %.4f   lambda %.4g (C %.4g) of", pr.accuracy, pr.l2, pr.C);
            for (int i = 0; i < pr.grid_n; i++) printf(" %.3g", pr.grid[i]);
            printf("\n  per class             ");
            for (int64_t i = 0; i < pr.n_classes && i < 20; i++)
                printf(" %lld:%.3f", (long long)pr.classes[i], pr.per_class[i]);
            printf("%s\n", pr.n_classes > 20 ? " ..." : "");
        }
        if (do_knn)
            printf("  k-NN accuracy          %.4f   k %lld, %s votes\n", kr.accuracy, (long long)kr.k,
                   ko.weighted ? "exp(s/0.07)" : "majority");
        if (do_spectrum) {
            printf("  alpha                  %.4f   R^2 %.4f\n", sr.alpha, sr.r2);
            printf("  RankMe                 %.2f\n", sr.rankme);
            printf("  effective rank         %.2f\n", sr.effective_rank);
            for (int i = 0; i < sr.n_warnings; i++) cli_warning("spectrum: %s", sr.warning_text[i]);
        }
        printf("  seconds                %.2f\n", seconds);
    }
    rc = CLI_OK;
free_results:
    cls_probe_result_free(&pr);
    cls_knn_result_free(&kr);
    if (do_spectrum) cls_spectrum_result_free(&sr);
out:
    split_free(&tr);
    split_free(&te);
    return rc;
}
