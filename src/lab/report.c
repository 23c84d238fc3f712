/* The lab's report: summary.json, report.md and a self-contained report.html
 * (inline SVG plots made by gnuplot, a note in place of each plot when gnuplot
 * is missing). Every number is printed with the same rounding (6 significant
 * digits) in the three files, so the report shows every number of the summary. */
#define _GNU_SOURCE
#include "lab_internal.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

void cls_lab_report_options_init(cls_lab_report_options *opt)
{
    if (!opt) return; /* NULL is a no-op, like every _init */
    memset(opt, 0, sizeof *opt);
    opt->plots = 1;
    opt->gnuplot = "gnuplot";
}

/* ---- numbers ---- */

/* Text of a number as both the report and summary.json show it ('.' the
 * decimal point whatever the locale). */
static const char *fmt(char *b, double v)
{
    if (!isfinite(v)) return "n/a";
    return lab_fmt_num(b, 40, "%.6g", v);
}

static double round6(double v)
{
    if (!isfinite(v)) return v;
    char b[40];
    return cls_strtod_c(fmt(b, v), NULL);
}

static cJSON *jnum(double v) { return isfinite(v) ? cJSON_CreateNumber(round6(v)) : cJSON_CreateNull(); }
static cJSON *jint(int64_t v) { return cJSON_CreateNumber((double)v); }
static cJSON *jpair(const double *p)
{
    cJSON *a = cJSON_CreateArray();
    cJSON_AddItemToArray(a, jnum(p[0]));
    cJSON_AddItemToArray(a, jnum(p[1]));
    return a;
}

/* ---- summary.json ---- */

static const char *law_key[4] = {"loss_frontier", "loss_nd", "probe_frontier", "probe_nd"};
static const char *law_title[4] = {"held-out loss on the compute frontier: L = E + A C^-alpha",
                                   "held-out loss: L(N, D) = E + A/N^alpha + B/D^beta",
                                   "probe error on the compute frontier: err = E + A C^-alpha",
                                   "probe error: err(N, D) = E + A/N^alpha + B/D^beta"};

static const cls_lab_law *law_at(const cls_lab_analysis *a, int i)
{
    const cls_lab_law *l[4] = {&a->loss_frontier, &a->loss_nd, &a->probe_frontier, &a->probe_nd};
    return l[i];
}

static cJSON *law_json(const cls_lab_law *law)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", law->ok);
    cJSON_AddItemToObject(o, "n_points", jint(law->n_points));
    if (!law->ok) {
        cJSON_AddStringToObject(o, "message", law->message);
        return o;
    }
    const cls_fit_result *f = &law->fit;
    cJSON_AddStringToObject(o, "law", cls_fit_law_name(f->law));
    cJSON_AddItemToObject(o, "bootstrap", jint(law->bootstrap));
    cJSON *p = cJSON_AddObjectToObject(o, "params"), *c = cJSON_AddObjectToObject(o, "ci95");
    for (int q = 0; q < f->nparams + f->nderived; q++) {
        const char *name = q < f->nparams ? f->param_names[q] : f->derived_names[q - f->nparams];
        cJSON_AddItemToObject(p, name, jnum(q < f->nparams ? f->params[q] : f->derived[q - f->nparams]));
        cJSON_AddItemToObject(c, name, jpair(f->ci95[q]));
    }
    return o;
}

static cJSON *extra_json(const cls_lab_records *recs, const cls_lab_extrapolation *ex)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "verdict", ex->verdict);
    cJSON_AddBoolToObject(o, "predicts", ex->predicts);
    cJSON_AddItemToObject(o, "n_fit", jint(ex->n_fit));
    cJSON_AddItemToObject(o, "n_holdout", jint(ex->n_holdout));
    cJSON_AddItemToObject(o, "mean_abs_rel_error", jnum(ex->mean_abs_rel_error));
    cJSON_AddItemToObject(o, "fit", law_json(&ex->law));
    cJSON *runs = cJSON_AddArrayToObject(o, "runs");
    for (int64_t h = 0; h < ex->n_holdout && ex->pred; h++) {
        const cls_lab_prediction *p = &ex->pred[h];
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "id", recs->runs[p->run].spec.id);
        cJSON_AddItemToObject(r, "compute", jnum(p->compute));
        cJSON_AddItemToObject(r, "predicted", jnum(p->predicted));
        cJSON_AddItemToObject(r, "ci95", jpair(p->ci95));
        cJSON_AddItemToObject(r, "measured", jnum(p->measured));
        cJSON_AddItemToObject(r, "rel_error", jnum(p->rel_error));
        cJSON_AddItemToArray(runs, r);
    }
    return o;
}

static cJSON *summary_object(const cls_lab_records *recs, const cls_lab_analysis *a, double wall)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *runs = cJSON_AddArrayToObject(root, "runs");
    for (int64_t i = 0; i < recs->n; i++) {
        const cls_lab_record *r = &recs->runs[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", r->spec.id);
        cJSON_AddStringToObject(o, "model", r->spec.model);
        cJSON_AddItemToObject(o, "width", jint(r->spec.width));
        cJSON_AddItemToObject(o, "train_subset", jint(r->spec.train_subset));
        cJSON_AddItemToObject(o, "steps", jint(r->spec.steps));
        cJSON_AddItemToObject(o, "seed", jint((int64_t)r->spec.seed));
        cJSON_AddStringToObject(o, "status", r->ok ? "ok" : "failed");
        if (!r->ok) cJSON_AddStringToObject(o, "error", r->error);
        lab_record_json_measurements(o, r, jnum); /* as in record.json, rounded as the report shows them */
        cJSON_AddItemToArray(runs, o);
    }
    cJSON_AddItemToObject(root, "n_runs", jint(a->n_runs));
    cJSON_AddItemToObject(root, "n_ok", jint(a->n_ok));
    cJSON_AddItemToObject(root, "n_failed", jint(a->n_failed));
    cJSON *fit = cJSON_AddObjectToObject(root, "fit");
    for (int i = 0; i < 4; i++) cJSON_AddItemToObject(fit, law_key[i], law_json(law_at(a, i)));
    cJSON *ex = cJSON_AddObjectToObject(root, "extrapolation");
    cJSON_AddItemToObject(ex, "holdout_fraction", jnum(a->holdout_fraction));
    cJSON_AddItemToObject(ex, "tolerance", jnum(a->predict_tolerance));
    cJSON_AddItemToObject(ex, "loss", extra_json(recs, &a->loss_extra));
    cJSON_AddItemToObject(ex, "probe_error", extra_json(recs, &a->probe_extra));
    cJSON *opt = cJSON_AddObjectToObject(root, "optimal");
    cJSON_AddStringToObject(opt, "law", "loss_nd");
    cJSON_AddItemToObject(opt, "cost_factor", jnum(a->cost_factor));
    cJSON *pts = cJSON_AddArrayToObject(opt, "points");
    for (int i = 0; i < a->n_optimal; i++) {
        const cls_lab_optimal *o = &a->optimal[i];
        cJSON *p = cJSON_CreateObject();
        cJSON_AddItemToObject(p, "C", jnum(o->compute));
        cJSON_AddItemToObject(p, "N", jnum(o->N));
        cJSON_AddItemToObject(p, "N_ci95", jpair(o->N_ci95));
        cJSON_AddItemToObject(p, "D", jnum(o->D));
        cJSON_AddItemToObject(p, "D_ci95", jpair(o->D_ci95));
        cJSON_AddItemToObject(p, "loss", jnum(o->loss));
        cJSON_AddItemToObject(p, "loss_ci95", jpair(o->loss_ci95));
        cJSON_AddItemToArray(pts, p);
    }
    cJSON *aa = cJSON_AddObjectToObject(root, "alpha_accuracy");
    cJSON_AddItemToObject(aa, "spearman", jnum(a->alpha_accuracy.rho));
    cJSON_AddItemToObject(aa, "p_value", jnum(a->alpha_accuracy.p_value));
    cJSON_AddItemToObject(aa, "n", jint(a->alpha_accuracy.n));
    cJSON_AddItemToObject(aa, "permutations", jint(a->permutations));
    cJSON_AddItemToObject(aa, "rankme_spearman", jnum(a->rankme_accuracy.rho));
    cJSON_AddItemToObject(aa, "rankme_p_value", jnum(a->rankme_accuracy.p_value));
    cJSON_AddItemToObject(root, "seconds", jnum(a->seconds));
    if (wall > 0) cJSON_AddItemToObject(root, "wall_seconds", jnum(wall));
    return root;
}

cls_status cls_lab_summary_json(const cls_lab_records *recs, const cls_lab_analysis *a, double wall_seconds,
                                char **json)
{
    cJSON *root = summary_object(recs, a, wall_seconds);
    char *text = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text) return cls_set_error(CLS_E_NOMEM, "summary: out of memory");
    *json = text;
    return CLS_OK;
}

/* ---- headlines ---- */

static int law_param(const cls_lab_law *law, const char *name)
{
    if (!law->ok) return -1;
    for (int q = 0; q < law->fit.nparams; q++)
        if (strcmp(law->fit.param_names[q], name) == 0) return q;
    return -1;
}

void cls_lab_headlines(const cls_lab_analysis *a, char lines[3][256])
{
    char b1[40], b2[40], b3[40], b4[40], b5[40], b6[40];
    int qa = law_param(&a->loss_nd, "alpha"), qb = law_param(&a->loss_nd, "beta");
    int qf = law_param(&a->loss_frontier, "alpha");
    if (qa >= 0 && qb >= 0) {
        const cls_fit_result *f = &a->loss_nd.fit;
        snprintf(lines[0], 256, "loss exponents: alpha_N = %s [%s, %s], beta_D = %s [%s, %s] (95 %%, %d run resamples)",
                 fmt(b1, f->params[qa]), fmt(b2, f->ci95[qa][0]), fmt(b3, f->ci95[qa][1]), fmt(b4, f->params[qb]),
                 fmt(b5, f->ci95[qb][0]), fmt(b6, f->ci95[qb][1]), a->loss_nd.bootstrap);
    } else if (qf >= 0) {
        const cls_fit_result *f = &a->loss_frontier.fit;
        snprintf(lines[0], 256, "loss frontier exponent: alpha_C = %s [%s, %s] (95 %%); L(N, D) not fitted: %s",
                 fmt(b1, f->params[qf]), fmt(b2, f->ci95[qf][0]), fmt(b3, f->ci95[qf][1]), a->loss_nd.message);
    } else {
        snprintf(lines[0], 256, "no scaling law fitted: %s", a->loss_nd.message);
    }
    snprintf(lines[1], 256, "extrapolation (loss, top %s %% of runs by compute held out): %s",
             fmt(b1, 100 * a->holdout_fraction), a->loss_extra.verdict);
    if (isfinite(a->alpha_accuracy.rho))
        snprintf(lines[2], 256, "alpha vs accuracy: Spearman rho(|alpha - 1|, probe accuracy) = %s, p = %s (n = %lld)",
                 fmt(b1, a->alpha_accuracy.rho), fmt(b2, a->alpha_accuracy.p_value), (long long)a->alpha_accuracy.n);
    else
        snprintf(lines[2], 256, "alpha vs accuracy: not enough runs with a spectrum (n = %lld)",
                 (long long)a->alpha_accuracy.n);
}

/* ---- gnuplot ---- */

static void put_quoted(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputc('\'', f);
        fputc(*s, f);
    }
    fputc('\'', f);
}

typedef struct {
    const char *dir;
    const cls_lab_report_options *opt;
    int missing; /* gnuplot not found: notes from then on */
} plotter;

/* Run gnuplot on `body` (after the terminal and output lines) and return the
 * SVG element (malloc'd) or NULL with a note in *note. */
static char *plot_svg(plotter *pl, const char *name, const char *body, char *note, size_t note_len)
{
    if (!pl->opt->plots) {
        snprintf(note, note_len, "plots were turned off");
        return NULL;
    }
    if (pl->missing) {
        snprintf(note, note_len, "plot not drawn: gnuplot is not installed (install gnuplot-nox and rerun "
                 "with --report-only)");
        return NULL;
    }
    char *gp = NULL, *svg = NULL, *logp = NULL, *text = NULL, *out = NULL;
    asprintf(&gp, "%s/plots/%s.gp", pl->dir, name);
    asprintf(&svg, "%s/plots/%s.svg", pl->dir, name);
    asprintf(&logp, "%s/plots/%s.log", pl->dir, name);
    size_t len = 0;
    FILE *f = gp && svg && logp ? fopen(gp, "w") : NULL;
    if (!f) {
        snprintf(note, note_len, "plot not drawn: cannot write its gnuplot script");
        goto done;
    }
    fputs("set terminal svg size 760,460 dynamic noenhanced font 'sans,11' background rgb 'white'\nset output ", f);
    put_quoted(f, svg);
    fputc('\n', f);
    fputs(body, f);
    fclose(f);
    unlink(svg);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, logp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    char *argv[] = {(char *)pl->opt->gnuplot, gp, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, pl->opt->gnuplot, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    int status = 0;
    if (rc == 0) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    if (rc != 0 || (WIFEXITED(status) && WEXITSTATUS(status) == 127)) {
        pl->missing = 1;
        snprintf(note, note_len, "plot not drawn: gnuplot is not installed (install gnuplot-nox and rerun "
                 "with --report-only)");
        goto done;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || lab_read_file(svg, &text, &len) != CLS_OK) {
        cls_clear_error();
        snprintf(note, note_len, "plot not drawn: gnuplot failed (see plots/%s.log)", name);
        goto done;
    }
    char *start = strstr(text, "<svg");
    if (!start) {
        snprintf(note, note_len, "plot not drawn: gnuplot wrote no SVG (see plots/%s.log)", name);
        goto done;
    }
    out = strdup(start);
done:
    free(text);
    free(gp);
    free(svg);
    free(logp);
    return out;
}

static void curve_range(const double *C, int64_t n, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = 0;
    for (int64_t i = 0; i < n; i++)
        if (C[i] > 0 && isfinite(C[i])) {
            *lo = fmin(*lo, C[i]);
            *hi = fmax(*hi, C[i]);
        }
}

/* y (loss or probe error) against compute: every run the analysis fits
 * (held-out ones marked), the compute frontier (the runs the frontier law is
 * fitted to, joined as the step envelope they define), the fitted frontier
 * law and the compute-optimal L(N, D). */
static char *script_vs_compute(const cls_lab_records *recs, const cls_lab_analysis *a, int probe)
{
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    if (!f) return NULL;
    const cls_lab_law *fr = probe ? &a->probe_frontier : &a->loss_frontier;
    const cls_lab_law *nd = probe ? &a->probe_nd : &a->loss_nd;
    const cls_lab_extrapolation *ex = probe ? &a->probe_extra : &a->loss_extra;
    fprintf(f, "set logscale xy\nset grid\nset key below Left reverse\nset xlabel 'training compute C (FLOP)'\n"
               "set ylabel '%s'\nset title '%s against compute'\n",
            probe ? "linear probe error" : "held-out NT-Xent loss", probe ? "probe error" : "held-out loss");
    fputs("$runs << EOD\n", f);
    size_t m = (size_t)(recs->n > 0 ? recs->n : 1);
    double *Cs = malloc(sizeof(double) * m * 4), *ys = Cs ? Cs + m : NULL, *fc = Cs ? Cs + 2 * m : NULL;
    double *fy = Cs ? Cs + 3 * m : NULL;
    int64_t nc = 0;
    double ylo = INFINITY, yhi = 0;
    for (int64_t i = 0; i < recs->n; i++) {
        const cls_lab_record *r = &recs->runs[i];
        if (!lab_record_fittable(r)) continue;
        double y = probe ? r->probe_error : r->heldout_loss;
        int held = 0;
        for (int64_t h = 0; h < ex->n_holdout && ex->pred; h++) held |= ex->pred[h].run == i;
        fprintf(f, "%.10g %.10g %d\n", r->flops, y, held);
        if (Cs) {
            Cs[nc] = r->flops;
            ys[nc++] = y;
        }
        ylo = fmin(ylo, y);
        yhi = fmax(yhi, y);
    }
    fputs("EOD\n$front << EOD\n", f);
    int64_t nf = Cs ? lab_frontier(Cs, ys, nc, fc, fy) : 0;
    for (int64_t j = 0; j < nf; j++) fprintf(f, "%.10g %.10g\n", fc[j], fy[j]);
    fputs("EOD\n", f);
    double lo = 1, hi = 10;
    if (Cs) curve_range(Cs, nc, &lo, &hi);
    free(Cs);
    if (!(hi > 0)) lo = 1, hi = 10;
    /* a tight y range: the losses of a sweep often span less than a decade */
    if (yhi > 0 && ylo > 0 && yhi < 10 * ylo) { /* under a decade: linear y, no empty log axis */
        double pad = 0.12 * (yhi - ylo) + 1e-3 * yhi;
        fprintf(f, "unset logscale y\nset yrange [%.10g:%.10g]\n", ylo - pad, yhi + pad);
    }
    fputs("$law << EOD\n", f);
    if (fr->ok)
        for (int s = 0; s <= 100; s++) {
            double c = exp(log(lo / 2) + (log(hi * 4) - log(lo / 2)) * s / 100.0);
            fprintf(f, "%.10g %.10g\n", c, cls_fit_predict(&fr->fit, &c));
        }
    fputs("EOD\n$opt << EOD\n", f);
    if (nd->ok && a->cost_factor > 0)
        for (int s = 0; s <= 60; s++) {
            double c = exp(log(lo / 2) + (log(hi * 4) - log(lo / 2)) * s / 60.0);
            cls_plan_point p;
            if (cls_fit_plan(&nd->fit, c, a->cost_factor, NULL, &p) == CLS_OK) fprintf(f, "%.10g %.10g\n", c, p.loss);
        }
    cls_clear_error();
    fputs("EOD\nplot $runs using 1:($3==0?$2:1/0) with points pt 7 ps 0.8 lc rgb '#1f77b4' title 'runs', "
          "$runs using 1:($3==1?$2:1/0) with points pt 9 ps 1.2 lc rgb '#d62728' title 'held out (extrapolation)'",
          f);
    if (nf > 0)
        fprintf(f, ", $front with steps lw 1 dt 3 lc rgb '#2ca02c' notitle, $front with points pt 6 ps 1.8 "
                   "lc rgb '#2ca02c' title 'compute frontier (%lld runs no cheaper run beats)'", (long long)nf);
    if (fr->ok) fputs(", $law with lines lw 2 lc rgb '#2ca02c' title 'frontier fit E + A C^-alpha'", f);
    if (nd->ok && a->cost_factor > 0)
        fprintf(f, ", $opt with lines lw 2 dt 2 lc rgb '#9467bd' title 'compute-optimal %s(N, D)'",
                probe ? "err" : "L");
    fputc('\n', f);
    fclose(f);
    return s;
}

static char *script_optimal(const cls_lab_analysis *a)
{
    if (a->n_optimal == 0) return NULL;
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    if (!f) return NULL;
    fputs("set logscale xy\nset grid\nset key top left\nset xlabel 'compute C (FLOP)'\n"
          "set ylabel 'N* (parameters), D* (samples)'\nset title 'compute-optimal allocation (95 % intervals)'\n"
          "$opt << EOD\n", f);
    for (int i = 0; i < a->n_optimal; i++) {
        const cls_lab_optimal *o = &a->optimal[i];
        double v[6] = {o->N_ci95[0], o->N_ci95[1], o->D_ci95[0], o->D_ci95[1]};
        for (int j = 0; j < 4; j++)
            if (!isfinite(v[j])) v[j] = j < 2 ? o->N : o->D;
        fprintf(f, "%.10g %.10g %.10g %.10g %.10g %.10g %.10g\n", o->compute, o->N, v[0], v[1], o->D, v[2], v[3]);
    }
    fputs("EOD\nplot $opt using 1:2:3:4 with yerrorlines pt 7 lw 2 title 'N*(C)', "
          "$opt using 1:5:6:7 with yerrorlines pt 5 lw 2 title 'D*(C)'\n", f);
    fclose(f);
    return s;
}

static int cmp_by_flops(const void *x, const void *y, void *ctx)
{
    const cls_lab_records *r = ctx;
    double a = r->runs[*(const int64_t *)x].flops, b = r->runs[*(const int64_t *)y].flops;
    return (a > b) - (a < b);
}

static char *script_spectra(const cls_lab_records *recs)
{
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)(recs->n + 1)), m = 0;
    if (!idx) return NULL;
    for (int64_t i = 0; i < recs->n; i++)
        if (recs->runs[i].ok && recs->runs[i].n_eig > 1 && isfinite(recs->runs[i].flops)) idx[m++] = i;
    if (m == 0) {
        free(idx);
        return NULL;
    }
    qsort_r(idx, (size_t)m, sizeof *idx, cmp_by_flops, (void *)recs);
    int64_t pick[3] = {idx[0], idx[m / 2], idx[m - 1]};
    int np = m >= 3 ? 3 : m == 2 ? 2 : 1;
    if (m == 2) pick[1] = idx[1];
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    if (f) {
        fputs("set logscale xy\nset grid\nset key bottom left\nset xlabel 'rank k'\nset format y '%.0e'\n"
              "set ylabel 'eigenvalue / trace'\nset title 'eigenspectra of the test representations'\n", f);
        for (int p = 0; p < np; p++) {
            const cls_lab_record *r = &recs->runs[pick[p]];
            double tot = 0;
            for (int64_t k = 0; k < r->n_eig; k++) tot += r->eig[k] > 0 ? r->eig[k] : 0;
            fprintf(f, "$e%d << EOD\n", p);
            for (int64_t k = 0; k < r->n_eig; k++)
                if (r->eig[k] > 0 && tot > 0) fprintf(f, "%lld %.10g\n", (long long)k + 1, r->eig[k] / tot);
            fputs("EOD\n", f);
        }
        fputs("plot ", f);
        for (int p = 0; p < np; p++) {
            const cls_lab_record *r = &recs->runs[pick[p]];
            char title[200];
            char b1[40];
            snprintf(title, sizeof title, "%s (alpha %s)", r->spec.id, fmt(b1, r->alpha));
            fprintf(f, "%s$e%d with lines lw 2 title ", p ? ", " : "", p);
            put_quoted(f, title);
        }
        fputc('\n', f);
        fclose(f);
    }
    free(idx);
    return s;
}

static char *script_alpha(const cls_lab_records *recs, const cls_lab_analysis *a)
{
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    if (!f) return NULL;
    char b1[40], b2[40];
    fprintf(f, "set grid\nset key top right\nset xlabel 'alpha (eigenspectrum exponent)'\n"
               "set ylabel 'linear probe accuracy'\nset title 'rho(|alpha - 1|, accuracy) = %s, p = %s'\n"
               "set arrow from 1, graph 0 to 1, graph 1 nohead dt 2\n$a << EOD\n",
            fmt(b1, a->alpha_accuracy.rho), fmt(b2, a->alpha_accuracy.p_value));
    int64_t m = 0;
    double lo = 1, hi = 1; /* the range shows alpha = 1, the reference of |alpha - 1| */
    for (int64_t i = 0; i < recs->n; i++) {
        const cls_lab_record *r = &recs->runs[i];
        if (!r->ok || !isfinite(r->alpha) || !isfinite(r->probe_error)) continue;
        fprintf(f, "%.10g %.10g\n", r->alpha, 1.0 - r->probe_error);
        lo = fmin(lo, r->alpha);
        hi = fmax(hi, r->alpha);
        m++;
    }
    double pad = 0.06 * (hi - lo) + 0.02;
    fprintf(f, "EOD\nset xrange [%.10g:%.10g]\nplot $a with points pt 7 ps 1 title 'runs', 1/0 with lines dt 2 "
               "lc rgb 'black' title 'alpha = 1'\n", lo - pad, hi + pad);
    fclose(f);
    if (m == 0) {
        free(s);
        return NULL;
    }
    return s;
}

static char *script_extra(const cls_lab_extrapolation *ex, int probe)
{
    if (!ex->law.ok || ex->n_holdout == 0) return NULL;
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    if (!f) return NULL;
    double lo = INFINITY, hi = 0;
    fprintf(f, "set logscale xy\nset grid\nset key top left\nset xlabel 'measured %s'\nset ylabel 'predicted'\n"
               "set title 'extrapolation: L(N, D) fitted without the held-out runs'\n$p << EOD\n",
            probe ? "probe error" : "held-out loss");
    for (int64_t h = 0; h < ex->n_holdout; h++) {
        const cls_lab_prediction *p = &ex->pred[h];
        double l = isfinite(p->ci95[0]) ? p->ci95[0] : p->predicted, u = isfinite(p->ci95[1]) ? p->ci95[1] : p->predicted;
        fprintf(f, "%.10g %.10g %.10g %.10g\n", p->measured, p->predicted, l, u);
        lo = fmin(lo, fmin(p->measured, l));
        hi = fmax(hi, fmax(p->measured, u));
    }
    if (!(lo > 0) || !isfinite(hi)) lo = 0.1, hi = 10;
    double xlo = lo / 1.1, xhi = hi * 1.1;
    if (hi < 10 * lo) { /* under a decade: linear axes (a log axis would have no labelled tick) */
        double pad = 0.08 * (hi - lo) + 1e-3 * hi;
        xlo = lo - pad;
        xhi = hi + pad;
        fputs("EOD\nunset logscale xy\n", f);
    } else {
        fputs("EOD\n", f);
    }
    fprintf(f, "set xrange [%.10g:%.10g]\nset yrange [%.10g:%.10g]\n"
               "plot $p using 1:2:3:4 with yerrorbars pt 7 ps 1 title 'held-out runs (95 %% intervals)', x with "
               "lines dt 2 title 'predicted = measured'\n", xlo, xhi, xlo, xhi);
    fclose(f);
    return s;
}

/* ---- HTML / Markdown ---- */

static void esc(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* Markdown table cell: escape the pipe. */
static void md(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|') fputc('\\', f);
        if (*s == '\n') {
            fputc(' ', f);
            continue;
        }
        fputc(*s, f);
    }
}

typedef struct {
    FILE *h, *m;
} out2;

static void figure(out2 *o, plotter *pl, const char *name, const char *caption, char *script)
{
    char note[300];
    char *svg = NULL;
    if (script) svg = plot_svg(pl, name, script, note, sizeof note);
    else snprintf(note, sizeof note, "nothing to plot (not enough successful runs or no fitted law)");
    free(script);
    fputs("<figure>", o->h);
    if (svg) fputs(svg, o->h);
    else {
        fputs("<p class=\"note\">", o->h);
        esc(o->h, note);
        fputs("</p>", o->h);
    }
    fputs("<figcaption>", o->h);
    esc(o->h, caption);
    fputs("</figcaption></figure>\n", o->h);
    fprintf(o->m, "*Figure (%s): %s* — %s\n\n", name, caption, svg ? "see report.html" : note);
    free(svg);
}

static void law_table(out2 *o, const cls_lab_law *law, const char *title)
{
    char b1[40], b2[40], b3[40];
    fputs("<h3>", o->h);
    esc(o->h, title);
    fputs("</h3>\n", o->h);
    fprintf(o->m, "### %s\n\n", title);
    if (!law->ok) {
        fputs("<p class=\"note\">not fitted: ", o->h);
        esc(o->h, law->message);
        fputs("</p>\n", o->h);
        fprintf(o->m, "not fitted: %s\n\n", law->message);
        return;
    }
    const cls_fit_result *f = &law->fit;
    fprintf(o->h, "<p>%s law on %lld points; 95 %% percentile intervals from %d resamples of the runs.</p>\n"
                  "<table><tr><th>parameter</th><th>estimate</th><th>95 %% low</th><th>95 %% high</th></tr>\n",
            cls_fit_law_name(f->law), (long long)law->n_points, law->bootstrap);
    fprintf(o->m, "%s law on %lld points; 95 %% intervals from %d resamples of the runs.\n\n"
                  "| parameter | estimate | 95 %% low | 95 %% high |\n|---|---|---|---|\n",
            cls_fit_law_name(f->law), (long long)law->n_points, law->bootstrap);
    for (int q = 0; q < f->nparams + f->nderived; q++) {
        const char *name = q < f->nparams ? f->param_names[q] : f->derived_names[q - f->nparams];
        double v = q < f->nparams ? f->params[q] : f->derived[q - f->nparams];
        fputs("<tr><td>", o->h);
        esc(o->h, name);
        fprintf(o->h, "</td><td>%s</td><td>%s</td><td>%s</td></tr>\n", fmt(b1, v), fmt(b2, f->ci95[q][0]),
                fmt(b3, f->ci95[q][1]));
        fprintf(o->m, "| %s | %s | %s | %s |\n", name, b1, b2, b3);
    }
    fputs("</table>\n", o->h);
    fputs("\n", o->m);
    for (int w = 0; w < f->nwarnings; w++) {
        fputs("<p class=\"note\">warning: ", o->h);
        esc(o->h, f->warnings[w]);
        fputs("</p>\n", o->h);
        fprintf(o->m, "warning: %s\n\n", f->warnings[w]);
    }
}

static void extra_table(out2 *o, const cls_lab_records *recs, const cls_lab_extrapolation *ex, const char *what)
{
    char b[7][40];
    fprintf(o->h, "<h3>%s</h3>\n<p><b>", what);
    esc(o->h, ex->verdict);
    fprintf(o->h, "</b></p>\n<p>fitted on %lld runs, %lld held out; mean |relative error| %s.</p>\n",
            (long long)ex->n_fit, (long long)ex->n_holdout, fmt(b[0], ex->mean_abs_rel_error));
    fprintf(o->m, "### %s\n\n**%s**\n\nfitted on %lld runs, %lld held out; mean |relative error| %s.\n\n", what,
            ex->verdict, (long long)ex->n_fit, (long long)ex->n_holdout, b[0]);
    if (ex->law.ok) {
        char t[200];
        snprintf(t, sizeof t, "%s: the law fitted without the held-out runs", what);
        law_table(o, &ex->law, t);
    }
    if (ex->n_holdout == 0 || !ex->pred) return;
    fputs("<table><tr><th>held-out run</th><th>compute C</th><th>predicted</th><th>95 % low</th>"
          "<th>95 % high</th><th>measured</th><th>relative error</th></tr>\n", o->h);
    fputs("| held-out run | compute C | predicted | 95 % low | 95 % high | measured | relative error |\n"
          "|---|---|---|---|---|---|---|\n", o->m);
    for (int64_t h = 0; h < ex->n_holdout; h++) {
        const cls_lab_prediction *p = &ex->pred[h];
        const char *id = recs->runs[p->run].spec.id;
        fputs("<tr><td>", o->h);
        esc(o->h, id);
        fmt(b[0], p->compute);
        fmt(b[1], p->predicted);
        fmt(b[2], p->ci95[0]);
        fmt(b[3], p->ci95[1]);
        fmt(b[4], p->measured);
        fmt(b[5], p->rel_error);
        const char *s[6];
        double v[6] = {p->compute, p->predicted, p->ci95[0], p->ci95[1], p->measured, p->rel_error};
        for (int j = 0; j < 6; j++) s[j] = isfinite(v[j]) ? b[j] : "n/a";
        fprintf(o->h, "</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n", s[0], s[1],
                s[2], s[3], s[4], s[5]);
        fprintf(o->m, "| %s | %s | %s | %s | %s | %s | %s |\n", id, s[0], s[1], s[2], s[3], s[4], s[5]);
    }
    fputs("</table>\n", o->h);
    fputs("\n", o->m);
}

static void write_body(out2 *o, plotter *pl, const cls_lab_records *recs, const cls_lab_analysis *a, double wall)
{
    char b[8][40];
    char lines[3][256];
    cls_lab_headlines(a, lines);
    fputs("<h1>clscale lab report</h1>\n<div class=\"head\">", o->h);
    fputs("# clscale lab report\n\n", o->m);
    for (int i = 0; i < 3; i++) {
        fputs("<p>", o->h);
        esc(o->h, lines[i]);
        fputs("</p>", o->h);
        fprintf(o->m, "- %s\n", lines[i]);
    }
    fputs("</div>\n", o->h);
    fprintf(o->h, "<p>%lld runs: %lld finished, %lld failed; %s seconds of runs in total", (long long)a->n_runs,
            (long long)a->n_ok, (long long)a->n_failed, fmt(b[0], a->seconds));
    fprintf(o->m, "\n%lld runs: %lld finished, %lld failed; %s seconds of runs in total", (long long)a->n_runs,
            (long long)a->n_ok, (long long)a->n_failed, b[0]);
    if (wall > 0) {
        fprintf(o->h, "; %s seconds of wall time for the lab", fmt(b[1], wall));
        fprintf(o->m, "; %s seconds of wall time for the lab", b[1]);
    }
    fputs(".</p>\n", o->h);
    fputs(".\n\n", o->m);

    fputs("<h2>Scaling with compute</h2>\n", o->h);
    fputs("## Scaling with compute\n\n", o->m);
    figure(o, pl, "loss_vs_compute", "held-out NT-Xent loss against training compute: every run (red: the runs "
           "the extrapolation check holds out), the compute frontier (green circles: the runs no cheaper run beats, "
           "joined as the step envelope they define), the saturating law fitted to them, and the loss of the "
           "compute-optimal L(N, D)", script_vs_compute(recs, a, 0));
    figure(o, pl, "error_vs_compute", "linear probe error against training compute: every run (red: held out by "
           "the extrapolation check), its compute frontier (green circles, step envelope), the saturating law "
           "fitted to it, and the error of the compute-optimal err(N, D) under the same cost model",
           script_vs_compute(recs, a, 1));

    fputs("<h2>Fitted laws</h2>\n", o->h);
    fputs("## Fitted laws\n\n", o->m);
    for (int i = 0; i < 4; i++) law_table(o, law_at(a, i), law_title[i]);

    fputs("<h2>Extrapolation check</h2>\n", o->h);
    fputs("## Extrapolation check\n\n", o->m);
    fprintf(o->h, "<p>L(N, D) is fitted on all runs but the top %s of them by compute (fraction), then predicts "
                  "those; a prediction is good within a relative error of %s or when the measurement is inside "
                  "its 95 %% interval.</p>\n", fmt(b[0], a->holdout_fraction), fmt(b[1], a->predict_tolerance));
    fprintf(o->m, "L(N, D) is fitted on all runs but the top %s of them by compute (fraction), then predicts "
                  "those; a prediction is good within a relative error of %s or inside its 95 %% interval.\n\n",
            b[0], b[1]);
    extra_table(o, recs, &a->loss_extra, "held-out loss");
    extra_table(o, recs, &a->probe_extra, "probe error");
    figure(o, pl, "extrapolation", "extrapolation of the held-out loss: for each held-out run, the loss "
           "predicted by L(N, D) fitted without the held-out runs (bars: 95 % interval from the bootstrap refits) "
           "against the measured loss; dashed: predicted = measured", script_extra(&a->loss_extra, 0));

    fputs("<h2>Compute-optimal allocation</h2>\n", o->h);
    fputs("## Compute-optimal allocation\n\n", o->m);
    fprintf(o->h, "<p>From L(N, D) of the held-out loss with the cost model C = k N D, k = %s (the median over "
                  "the runs of C / (N D)); bands from the bootstrap refits.</p>\n", fmt(b[0], a->cost_factor));
    fprintf(o->m, "From L(N, D) of the held-out loss with C = k N D, k = %s; bands from the bootstrap refits.\n\n",
            b[0]);
    if (a->n_optimal) {
        fputs("<table><tr><th>compute C</th><th>N*</th><th>N* 95 %</th><th>D*</th><th>D* 95 %</th><th>loss</th>"
              "<th>loss 95 %</th></tr>\n", o->h);
        fputs("| compute C | N* | N* 95 % | D* | D* 95 % | loss | loss 95 % |\n|---|---|---|---|---|---|---|\n", o->m);
        for (int i = 0; i < a->n_optimal; i++) {
            const cls_lab_optimal *p = &a->optimal[i];
            char c[10][40];
            fmt(c[0], p->compute), fmt(c[1], p->N), fmt(c[2], p->N_ci95[0]), fmt(c[3], p->N_ci95[1]);
            fmt(c[4], p->D), fmt(c[5], p->D_ci95[0]), fmt(c[6], p->D_ci95[1]);
            fmt(c[7], p->loss), fmt(c[8], p->loss_ci95[0]), fmt(c[9], p->loss_ci95[1]);
            const char *s[10];
            double v[10] = {p->compute, p->N, p->N_ci95[0], p->N_ci95[1], p->D, p->D_ci95[0], p->D_ci95[1],
                            p->loss, p->loss_ci95[0], p->loss_ci95[1]};
            for (int j = 0; j < 10; j++) s[j] = isfinite(v[j]) ? c[j] : "n/a";
            fprintf(o->h, "<tr><td>%s</td><td>%s</td><td>[%s, %s]</td><td>%s</td><td>[%s, %s]</td><td>%s</td>"
                          "<td>[%s, %s]</td></tr>\n", s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9]);
            fprintf(o->m, "| %s | %s | [%s, %s] | %s | [%s, %s] | %s | [%s, %s] |\n", s[0], s[1], s[2], s[3], s[4],
                    s[5], s[6], s[7], s[8], s[9]);
        }
        fputs("</table>\n", o->h);
        fputs("\n", o->m);
    } else {
        fputs("<p class=\"note\">no plan: L(N, D) of the loss was not fitted.</p>\n", o->h);
        fputs("no plan: L(N, D) of the loss was not fitted.\n\n", o->m);
    }
    figure(o, pl, "optimal", "compute-optimal N*(C) and D*(C) at the budgets of the table above (bars: 95 % "
           "intervals from the bootstrap refits)", script_optimal(a));

    fputs("<h2>Spectrum against accuracy</h2>\n", o->h);
    fputs("## Spectrum against accuracy\n\n", o->m);
    fprintf(o->h, "<p>Spearman rho between |alpha - 1| and linear probe accuracy over %lld runs: <b>%s</b>, "
                  "permutation p-value %s (%d permutations). Spearman rho between RankMe and accuracy: %s, "
                  "p-value %s.</p>\n", (long long)a->alpha_accuracy.n, fmt(b[0], a->alpha_accuracy.rho),
            fmt(b[1], a->alpha_accuracy.p_value), a->permutations, fmt(b[2], a->rankme_accuracy.rho),
            fmt(b[3], a->rankme_accuracy.p_value));
    fprintf(o->m, "Spearman rho(|alpha - 1|, probe accuracy) over %lld runs: **%s**, permutation p-value %s "
                  "(%d permutations). Spearman rho(RankMe, accuracy): %s, p-value %s.\n\n",
            (long long)a->alpha_accuracy.n, b[0], b[1], a->permutations, b[2], b[3]);
    figure(o, pl, "alpha_accuracy", "eigenspectrum exponent alpha against linear probe accuracy, one point per "
           "run (dashed: alpha = 1, the reference of |alpha - 1|)", script_alpha(recs, a));
    figure(o, pl, "spectra", "eigenspectra of the cheapest, the median and the most expensive run",
           script_spectra(recs));

    fputs("<h2>What was run</h2>\n<table><tr><th>run</th><th>status</th><th>width</th><th>train subset</th>"
          "<th>steps</th><th>seed</th><th>N params</th><th>D samples</th><th>C FLOP</th><th>held-out loss</th>"
          "<th>probe error</th><th>k-NN error</th><th>alpha</th><th>alpha R2</th><th>RankMe</th><th>seconds</th>"
          "</tr>\n", o->h);
    fputs("## What was run\n\n| run | status | width | train subset | steps | seed | N | D | C | held-out loss | "
          "probe error | k-NN error | alpha | alpha R2 | RankMe | seconds |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n", o->m);
    for (int64_t i = 0; i < recs->n; i++) {
        const cls_lab_record *r = &recs->runs[i];
        double v[8] = {r->flops, r->heldout_loss, r->probe_error, r->knn_error, r->alpha, r->alpha_r2, r->rankme,
                       r->seconds};
        const char *s[8];
        for (int j = 0; j < 8; j++) s[j] = fmt(b[j], v[j]);
        fputs("<tr><td>", o->h);
        esc(o->h, r->spec.id);
        fputs("</td><td>", o->h);
        if (r->ok) fputs("ok", o->h);
        else {
            fputs("failed: ", o->h);
            esc(o->h, r->error);
        }
        fprintf(o->h, "</td><td>%lld</td><td>%lld</td><td>%lld</td><td>%llu</td><td>%lld</td><td>%lld</td>",
                (long long)r->spec.width, (long long)r->spec.train_subset, (long long)r->spec.steps,
                (unsigned long long)r->spec.seed, (long long)r->params, (long long)r->samples_seen);
        for (int j = 0; j < 8; j++) fprintf(o->h, "<td>%s</td>", s[j]);
        fputs("</tr>\n", o->h);
        fprintf(o->m, "| %s | ", r->spec.id);
        if (r->ok) fputs("ok", o->m);
        else {
            fputs("failed: ", o->m);
            md(o->m, r->error);
        }
        fprintf(o->m, " | %lld | %lld | %lld | %llu | %lld | %lld |", (long long)r->spec.width,
                (long long)r->spec.train_subset, (long long)r->spec.steps, (unsigned long long)r->spec.seed,
                (long long)r->params, (long long)r->samples_seen);
        for (int j = 0; j < 8; j++) fprintf(o->m, " %s |", s[j]);
        fputc('\n', o->m);
    }
    fputs("</table>\n", o->h);
    fputs("\n", o->m);
}

static const char *css =
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:0.9em}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}"
    "td:first-child{text-align:left}.note{color:#a33}.head{background:#f6f8fa;padding:0.5em 1em;"
    "border-left:4px solid #1f77b4}figure{margin:1em 0}figure svg{max-width:100%;height:auto}"
    "figcaption{font-size:0.9em;color:#555}";

cls_status cls_lab_report_write(const char *dir, const cls_lab_records *recs, const cls_lab_analysis *a,
                                const cls_lab_report_options *opt_in)
{
    cls_lab_report_options defaults;
    cls_lab_report_options_init(&defaults);
    const cls_lab_report_options *opt = opt_in ? opt_in : &defaults;
    if (!opt->gnuplot) return cls_set_error(CLS_E_INVALID_ARG, "report: no gnuplot program given");
    char *plots = lab_path(dir, "plots");
    if (!plots) return cls_set_error(CLS_E_NOMEM, "out of memory");
    cls_status st = opt->plots ? lab_mkdir(plots) : CLS_OK;
    free(plots);
    if (st) return st;

    char *json = NULL;
    st = cls_lab_summary_json(recs, a, opt->wall_seconds, &json);
    if (st) return st;
    char *sp = lab_path(dir, "summary.json");
    size_t jl = strlen(json);
    json = realloc(json, jl + 2);
    json[jl] = '\n';
    st = sp ? lab_write_file_atomic(sp, json, jl + 1) : cls_set_error(CLS_E_NOMEM, "out of memory");
    free(sp);
    free(json);
    if (st) return st;

    char *html = NULL, *mdt = NULL;
    size_t hl = 0, ml = 0;
    out2 o = {open_memstream(&html, &hl), open_memstream(&mdt, &ml)};
    if (!o.h || !o.m) {
        if (o.h) fclose(o.h);
        if (o.m) fclose(o.m);
        free(html);
        free(mdt);
        return cls_set_error(CLS_E_NOMEM, "report: out of memory");
    }
    fprintf(o.h, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>clscale lab report"
                 "</title><style>%s</style></head><body>\n", css);
    plotter pl = {dir, opt, 0};
    write_body(&o, &pl, recs, a, opt->wall_seconds);
    fputs("<p class=\"foot\">Made by clscale lab (libclscale " CLS_VERSION_STRING "); the numbers are also in "
          "summary.json and runs.csv beside this file.</p>\n</body></html>\n", o.h);
    fclose(o.h);
    fclose(o.m);
    char *hp = lab_path(dir, "report.html"), *mp = lab_path(dir, "report.md");
    st = hp && mp ? lab_write_file_atomic(hp, html, hl) : cls_set_error(CLS_E_NOMEM, "out of memory");
    if (!st) st = lab_write_file_atomic(mp, mdt, ml);
    free(hp);
    free(mp);
    free(html);
    free(mdt);
    return st;
}
