/* The real runner: train one run (src/train), then measure it: held-out
 * NT-Xent on the test images, linear probe and k-NN (src/eval) on its
 * representations, and the eigenspectrum of the test representations.
 *
 * The training and evaluation modules came from branches wip/train and
 * wip/eval (merged into wip/lab). The __has_include guard stays: a tree
 * without train.h/eval.h builds a stub that returns CLS_E_UNSUPPORTED. */
#define _GNU_SOURCE
#include "lab_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include("clscale/train.h") && __has_include("clscale/eval.h")
#define CLS_LAB_HAVE_TRAIN 1
#include "clscale/eval.h"
#include "clscale/train.h"
#endif
#endif

void cls_lab_train_options_init(cls_lab_train_options *opt)
{
    if (!opt) return; /* NULL is a no-op, like every _init */
    memset(opt, 0, sizeof *opt);
    opt->probe_train = 10000;
    opt->probe_grid = 3;
    opt->probe_max_iter = 200;
    opt->eig_keep = 256;
}

#ifndef CLS_LAB_HAVE_TRAIN

int cls_lab_have_train(void) { return 0; }

cls_status cls_lab_runner_train(void *user, const cls_lab_spec *spec, const char *run_dir,
                                const cls_lab_run_context *ctx, cls_lab_record *out)
{
    return cls_set_error(CLS_E_UNSUPPORTED, "this build has no training module (src/train, src/eval): "
                         "only the synthetic runner is available");
}

#else

int cls_lab_have_train(void) { return 1; }

typedef struct {
    const cls_lab_run_context *ctx;
    int stopped;
} train_progress_state;

static int train_progress(void *user, const cls_train_progress *p)
{
    train_progress_state *s = user;
    if (!s->ctx || !s->ctx->progress || p->total_steps <= 0) return 0;
    /* training is most of a run; evaluation the rest */
    if (s->ctx->progress(s->ctx->progress_user, 0.9 * (double)p->step / (double)p->total_steps)) s->stopped = 1;
    return s->stopped;
}

/* run_dir/timing.json: where a run's time went (best effort). */
static void write_timing(const char *run_dir, const double *ph)
{
    char text[400];
    int n = snprintf(text, sizeof text, "{\"train\": %.3f, \"heldout_loss\": %.3f, \"embed\": %.3f, "
                     "\"probe\": %.3f, \"knn\": %.3f, \"spectrum\": %.3f}\n", ph[0], ph[1], ph[2], ph[3], ph[4],
                     ph[5]);
    char *p = lab_path(run_dir, "timing.json");
    if (p && n > 0) lab_write_file_atomic(p, text, (size_t)n);
    free(p);
    cls_clear_error();
}

cls_status cls_lab_runner_train(void *user, const cls_lab_spec *spec, const char *run_dir,
                                const cls_lab_run_context *ctx, cls_lab_record *out)
{
    cls_lab_train_options defaults;
    cls_lab_train_options_init(&defaults);
    const cls_lab_train_options *lo = user ? user : &defaults;
    double t0 = cls_now_seconds();

    cls_train_config cfg;
    cls_train_config_init(&cfg);
    if (strcmp(spec->model, "cnn") == 0) cfg.model = CLS_MODEL_CNN;
    else cfg.model = CLS_MODEL_MLP;
    cfg.width = spec->width;
    cfg.train_subset = spec->train_subset;
    cfg.steps = spec->steps;
    if (spec->steps == 0) cfg.epochs = spec->epochs;
    if (spec->batch > 0) cfg.batch = spec->batch;
    cfg.seed = spec->seed;
    /* the lab's recipe keeps NT-Xent at tau = 0.5 whatever the trainer's default
     * (0.2 since the 60-epoch recipe): a preset's runs, and the committed
     * docs/lab-full report, do not move when that default changes */
    cfg.temperature = 0.5;
    cfg.threads = ctx ? ctx->threads : 0;
    if (ctx && ctx->data) cfg.data = ctx->data;
    train_progress_state ps = {ctx, 0};
    cfg.progress = train_progress;
    cfg.progress_user = &ps;

    char *ck = lab_path(run_dir, "checkpoint.bin");
    if (!ck) return cls_set_error(CLS_E_NOMEM, "out of memory");
    int resume = ctx && ctx->resume && lab_exists(ck);
    free(ck);
    cls_train_result tr;
    memset(&tr, 0, sizeof tr);
    double ph[6] = {0}; /* seconds: train, held-out loss, embed, probe, k-NN, spectrum */
    double t_train = cls_now_seconds();
    cls_status st = cls_train_run(&cfg, run_dir, resume, &tr);
    t_train = cls_now_seconds() - t_train;
    ph[0] = t_train;
    double tp = cls_now_seconds();
    if (st) return cls_error_context(st, "training %s", spec->id);
    if (ps.stopped) return CLS_OK; /* stopped early by the lab: resumable from the checkpoint */

    /* fixed tau for every run: the option, else the trainer's (0 there means NT-Xent's 0.5) */
    double temperature = lo->heldout_temperature > 0 ? lo->heldout_temperature
                         : cfg.temperature > 0          ? cfg.temperature
                                                        : 0.5;
    st = cls_train_heldout_loss(run_dir, temperature, lo->heldout_seed, &out->heldout_loss);
    if (st) return cls_error_context(st, "held-out loss of %s", spec->id);
    ph[1] = cls_now_seconds() - tp;
    tp = cls_now_seconds();

    float *tr_x = NULL, *te_x = NULL;
    int64_t *tr_y = NULL, *te_y = NULL, n_tr = 0, n_te = 0, d_tr = 0, d_te = 0;
    st = cls_train_embed(run_dir, CLS_SPLIT_TRAIN, &tr_x, &tr_y, &n_tr, &d_tr);
    if (!st) st = cls_train_embed(run_dir, CLS_SPLIT_TEST, &te_x, &te_y, &n_te, &d_te);
    if (!st && d_tr != d_te)
        st = cls_set_error(CLS_E_SHAPE, "train representations have %lld columns, test %lld", (long long)d_tr,
                           (long long)d_te);
    if (st) {
        cls_error_context(st, "representations of %s", spec->id);
        goto done;
    }
    ph[2] = cls_now_seconds() - tp;
    tp = cls_now_seconds();
    if (ctx && ctx->progress) ctx->progress(ctx->progress_user, 0.93);
    /* the probe and the k-NN index use the first probe_train training images
     * (Fashion-MNIST's training file is in random class order) */
    int64_t n_fit = lo->probe_train > 0 && lo->probe_train < n_tr ? lo->probe_train : n_tr;
    cls_probe_options po;
    cls_probe_options_init(&po);
    po.threads = cfg.threads;
    po.seed = spec->seed;
    if (lo->probe_grid > 0) po.grid_n = lo->probe_grid;
    if (lo->probe_max_iter > 0) po.max_iter = lo->probe_max_iter;
    cls_probe_result pr;
    memset(&pr, 0, sizeof pr);
    st = cls_eval_probe(tr_x, tr_y, n_fit, te_x, te_y, n_te, d_tr, &po, &pr);
    if (st) {
        cls_error_context(st, "linear probe of %s", spec->id);
        goto done;
    }
    out->probe_error = 1.0 - pr.accuracy;
    cls_probe_result_free(&pr);
    ph[3] = cls_now_seconds() - tp;
    tp = cls_now_seconds();
    if (ctx && ctx->progress) ctx->progress(ctx->progress_user, 0.96);
    cls_knn_options ko;
    cls_knn_options_init(&ko);
    ko.threads = cfg.threads;
    cls_knn_result kr;
    memset(&kr, 0, sizeof kr);
    st = cls_eval_knn(tr_x, tr_y, n_fit, te_x, te_y, n_te, d_tr, &ko, &kr);
    if (st) {
        cls_error_context(st, "k-NN of %s", spec->id);
        goto done;
    }
    out->knn_error = 1.0 - kr.accuracy;
    cls_knn_result_free(&kr);
    ph[4] = cls_now_seconds() - tp;
    tp = cls_now_seconds();

    cls_spectrum_options so;
    cls_spectrum_options_init(&so);
    so.threads = cfg.threads;
    if (so.fit_hi > d_te / 2) so.fit_hi = d_te / 2 > so.fit_lo + 2 ? d_te / 2 : so.fit_lo + 2;
    cls_spectrum_result sr;
    memset(&sr, 0, sizeof sr);
    st = cls_spectrum_analyze_f32(te_x, n_te, d_te, &so, &sr);
    if (st) {
        cls_error_context(st, "spectrum of %s", spec->id);
        goto done;
    }
    out->alpha = sr.alpha;
    out->alpha_r2 = sr.r2;
    out->rankme = sr.rankme;
    int64_t keep = sr.eig.count < lo->eig_keep ? sr.eig.count : lo->eig_keep;
    out->eig = keep > 0 ? malloc(sizeof(double) * (size_t)keep) : NULL;
    if (out->eig) {
        memcpy(out->eig, sr.eig.values, sizeof(double) * (size_t)keep);
        out->n_eig = keep;
    }
    cls_spectrum_result_free(&sr);
    ph[5] = cls_now_seconds() - tp;
    write_timing(run_dir, ph);

    out->params = tr.params;
    out->samples_seen = tr.samples_seen;
    out->flops = tr.train_flops;
    /* wall time of this call, plus the training time of earlier sessions when resumed */
    out->seconds = cls_now_seconds() - t0 + (resume && tr.seconds > t_train ? tr.seconds - t_train : 0);
    out->ok = 1;
    if (ctx && ctx->progress) ctx->progress(ctx->progress_user, 1.0);
done:
    cls_free(tr_x);
    cls_free(te_x);
    cls_free(tr_y);
    cls_free(te_y);
    return st;
}

#endif
