/* Running a sweep: one directory per run, runs.csv rewritten atomically after
 * every finished run, resume, progress and ETA. */
#define _GNU_SOURCE
#include "lab_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void cls_lab_options_init(cls_lab_options *opt)
{
    if (!opt) return; /* NULL is a no-op, like every _init */
    memset(opt, 0, sizeof *opt);
    opt->runner = cls_lab_runner_train;
}

typedef struct {
    const cls_lab_options *opt;
    cls_lab_progress p;
    double cost_done, cost_total, cost_run, t0, run_t0, seconds_done, cost_timed;
    int stop;
} sweep_state;

static void fill_eta(sweep_state *s, double run_frac)
{
    double now = cls_now_seconds();
    s->p.elapsed = now - s->t0;
    s->p.run_frac = run_frac;
    double done = s->cost_done + run_frac * s->cost_run;
    s->p.sweep_frac = s->cost_total > 0 ? done / s->cost_total : 0;
    /* seconds per unit of cost from the runs timed in this session (and the
     * current one once it is under way) */
    double secs = s->seconds_done + (now - s->run_t0), cost = s->cost_timed + run_frac * s->cost_run;
    s->p.eta = cost > 0 && secs > 0.5 ? (s->cost_total - done) * secs / cost : NAN;
}

static int emit(sweep_state *s)
{
    if (!s->opt->progress) return 0;
    if (s->opt->progress(s->opt->progress_user, &s->p)) s->stop = 1;
    return s->stop;
}

static int on_run_progress(void *user, double frac)
{
    sweep_state *s = user;
    if (frac < 0) frac = 0;
    if (frac > 1) frac = 1;
    fill_eta(s, frac);
    s->p.event = CLS_LAB_EVENT_STEP;
    s->p.record = NULL;
    return emit(s);
}

static cls_status copy_record(cls_lab_record *dst, const cls_lab_record *src)
{
    *dst = *src;
    dst->eig = NULL;
    dst->n_eig = 0;
    if (src->n_eig > 0 && src->eig) {
        dst->eig = malloc(sizeof(double) * (size_t)src->n_eig);
        if (!dst->eig) return cls_set_error(CLS_E_NOMEM, "out of memory");
        memcpy(dst->eig, src->eig, sizeof(double) * (size_t)src->n_eig);
        dst->n_eig = src->n_eig;
    }
    return CLS_OK;
}

cls_status cls_lab_run(const cls_lab_sweep *sweep_in, const char *dir, int resume, const cls_lab_options *opt_in,
                       int *stopped)
{
    cls_lab_options defaults;
    cls_lab_options_init(&defaults);
    const cls_lab_options *opt = opt_in ? opt_in : &defaults;
    if (stopped) *stopped = 0;
    if (!dir || !*dir) return cls_set_error(CLS_E_INVALID_ARG, "no lab directory given");
    if (!opt->runner) return cls_set_error(CLS_E_INVALID_ARG, "no runner given");

    char *sweep_path = lab_path(dir, "sweep.json"), *csv_path = lab_path(dir, "runs.csv");
    char *runs_dir = lab_path(dir, "runs");
    cls_lab_sweep loaded = {0};
    cls_lab_records done = {0}, out = {0};
    const cls_lab_sweep *sweep = sweep_in;
    cls_status st = CLS_OK;
    if (!sweep_path || !csv_path || !runs_dir) {
        st = cls_set_error(CLS_E_NOMEM, "out of memory");
        goto end;
    }
    if (resume) {
        if (!lab_exists(sweep_path)) {
            st = cls_set_error(CLS_E_IO, "%s: no sweep.json: not a lab directory (start one with --out)", dir);
            goto end;
        }
        if ((st = cls_lab_sweep_load(sweep_path, &loaded))) goto end;
        sweep = &loaded; /* the saved sweep is what is continued */
        if (lab_exists(csv_path) && (st = cls_lab_records_read(dir, &done))) goto end;
    } else {
        if (!sweep) {
            st = cls_set_error(CLS_E_INVALID_ARG, "no sweep given");
            goto end;
        }
        if ((st = lab_mkdir(dir))) goto end;
        if (lab_exists(csv_path) || lab_exists(sweep_path)) {
            st = cls_set_error(CLS_E_INVALID_ARG, "%s already holds a lab (sweep.json/runs.csv): continue it with "
                               "--resume or choose another directory", dir);
            goto end;
        }
        if ((st = cls_lab_sweep_save(sweep, sweep_path))) goto end;
    }
    if ((st = lab_mkdir(runs_dir))) goto end;

    out.runs = calloc((size_t)sweep->n, sizeof *out.runs);
    char *finished = calloc((size_t)sweep->n, 1);
    if (!out.runs || !finished) {
        free(finished);
        st = cls_set_error(CLS_E_NOMEM, "out of memory");
        goto end;
    }
    sweep_state s;
    memset(&s, 0, sizeof s);
    s.opt = opt;
    s.t0 = cls_now_seconds();
    s.p.total = sweep->n;
    for (int64_t i = 0; i < sweep->n; i++) s.cost_total += lab_spec_cost(&sweep->runs[i]);
    /* carry over the runs already finished successfully */
    for (int64_t i = 0; i < sweep->n; i++)
        for (int64_t j = 0; j < done.n; j++)
            if (done.runs[j].ok && strcmp(done.runs[j].spec.id, sweep->runs[i].id) == 0) finished[i] = 1;

    for (int64_t i = 0; i < sweep->n && !st; i++) {
        const cls_lab_spec *spec = &sweep->runs[i];
        double cost = lab_spec_cost(spec);
        s.p.index = i;
        s.p.id = spec->id;
        if (finished[i]) {
            for (int64_t j = 0; j < done.n; j++)
                if (strcmp(done.runs[j].spec.id, spec->id) == 0) {
                    st = copy_record(&out.runs[out.n], &done.runs[j]);
                    break;
                }
            if (st) break;
            out.n++;
            s.cost_done += cost;
            s.cost_run = 0;
            s.run_t0 = cls_now_seconds();
            fill_eta(&s, 0);
            s.p.event = CLS_LAB_EVENT_SKIPPED;
            s.p.record = &out.runs[out.n - 1];
            if (emit(&s)) break;
            continue;
        }
        char *rdir = lab_path(runs_dir, spec->id);
        if (!rdir) {
            st = cls_set_error(CLS_E_NOMEM, "out of memory");
            break;
        }
        s.cost_run = cost;
        s.run_t0 = cls_now_seconds();
        fill_eta(&s, 0);
        s.p.event = CLS_LAB_EVENT_START;
        s.p.record = NULL;
        if (emit(&s)) {
            free(rdir);
            break;
        }
        cls_lab_record *r = &out.runs[out.n];
        cls_lab_record_init(r);
        r->spec = *spec;
        cls_status rs = lab_mkdir(rdir);
        if (!rs) {
            cls_lab_run_context ctx = {opt->threads, opt->data ? opt->data : "fashion-mnist", resume,
                                       on_run_progress, &s};
            double t = cls_now_seconds();
            cls_clear_error();
            rs = opt->runner(opt->runner_user, spec, rdir, &ctx, r);
            if (!rs && !isfinite(r->seconds)) r->seconds = cls_now_seconds() - t;
        }
        if (s.stop) { /* interrupted: not recorded, resume continues it */
            cls_lab_record_clear(r);
            free(rdir);
            break;
        }
        if (rs) {
            const char *msg = cls_last_error();
            cls_lab_record_clear(r);
            cls_lab_record_init(r);
            r->spec = *spec;
            r->ok = 0;
            snprintf(r->error, sizeof r->error, "%s: %s", cls_strerror(rs), *msg ? msg : "failed");
        } else {
            r->ok = 1;
            r->error[0] = 0;
        }
        out.n++;
        char *rj = lab_path(rdir, "record.json");
        free(rdir);
        st = rj ? lab_record_save_json(r, rj) : cls_set_error(CLS_E_NOMEM, "out of memory");
        free(rj);
        if (!st) st = cls_lab_records_write_csv(&out, csv_path);
        if (st) break;
        double took = cls_now_seconds() - s.run_t0;
        s.seconds_done += took;
        s.cost_timed += cost;
        s.cost_done += cost;
        s.cost_run = 0;
        s.run_t0 = cls_now_seconds();
        fill_eta(&s, 0);
        s.p.event = r->ok ? CLS_LAB_EVENT_DONE : CLS_LAB_EVENT_FAILED;
        s.p.record = r;
        if (emit(&s)) break;
    }
    free(finished);
    if (!st && stopped) *stopped = s.stop;
end:
    cls_lab_records_free(&out);
    cls_lab_records_free(&done);
    cls_lab_sweep_free(&loaded);
    free(sweep_path);
    free(csv_path);
    free(runs_dir);
    return st;
}
