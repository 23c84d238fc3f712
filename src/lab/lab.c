/* Running a sweep: one directory per run, runs.csv rewritten atomically after
 * every finished run (in sweep order, whatever order the runs end in), resume,
 * progress and ETA; the runs go one at a time through the runner in this
 * process, or several at once through an executor (the CLI's MPI dealer). */
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
    double t_first; /* when the first run of this session was started (0: none yet) */
    int parallel;   /* runs go through an executor */
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
     * current one once it is under way); with an executor, runs overlap: the
     * wall time since the first start over the cost finished since */
    double secs, cost;
    if (s->parallel) {
        secs = s->t_first > 0 ? now - s->t_first : 0;
        cost = s->cost_timed;
    } else {
        secs = s->seconds_done + (now - s->run_t0);
        cost = s->cost_timed + run_frac * s->cost_run;
    }
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

/* The runner's progress, remembering whether it asked to stop. */
typedef struct {
    int (*fn)(void *user, double frac);
    void *user;
    int stopped;
} stop_watch;

static int watch_progress(void *user, double frac)
{
    stop_watch *w = user;
    if (w->fn && w->fn(w->user, frac)) w->stopped = 1;
    return w->stopped;
}

/* One run in runs_dir/<id>: the runner's failure becomes a failed record;
 * a run stopped through the progress callback leaves *stopped = 1 and a
 * cleared record. Errors only for out of memory. */
static cls_status execute(const cls_lab_spec *spec, const char *runs_dir, int resume, const cls_lab_options *opt,
                          int (*progress)(void *, double), void *progress_user, cls_lab_record *r, int *stopped)
{
    cls_lab_record_init(r);
    r->spec = *spec;
    *stopped = 0;
    char *rdir = lab_path(runs_dir, spec->id);
    if (!rdir) return cls_set_error(CLS_E_NOMEM, "out of memory");
    stop_watch w = {progress, progress_user, 0};
    cls_status rs = lab_mkdir(rdir);
    if (!rs) {
        cls_lab_run_context ctx = {opt->threads, opt->data ? opt->data : "fashion-mnist", resume, watch_progress,
                                   &w};
        double t = cls_now_seconds();
        cls_clear_error();
        rs = opt->runner(opt->runner_user, spec, rdir, &ctx, r);
        if (!rs && !isfinite(r->seconds)) r->seconds = cls_now_seconds() - t;
    }
    free(rdir);
    if (w.stopped) { /* interrupted: not a result, resume continues it */
        cls_lab_record_clear(r);
        *stopped = 1;
        return CLS_OK;
    }
    if (rs) {
        const char *msg = cls_last_error();
        char err[CLS_LAB_ERROR_LEN];
        snprintf(err, sizeof err, "%s: %s", cls_strerror(rs), *msg ? msg : "failed");
        cls_lab_record_clear(r);
        cls_lab_record_init(r);
        r->spec = *spec;
        r->ok = 0;
        memcpy(r->error, err, sizeof err);
    } else {
        r->ok = 1;
        r->error[0] = 0;
    }
    return CLS_OK;
}

typedef struct {
    const cls_lab_options *opt;
    cls_lab_progress p;
} one_state;

static int on_one_progress(void *user, double frac)
{
    one_state *o = user;
    if (!o->opt->progress) return 0;
    o->p.run_frac = frac < 0 ? 0 : frac > 1 ? 1 : frac;
    return o->opt->progress(o->opt->progress_user, &o->p);
}

cls_status cls_lab_run_one(const cls_lab_spec *spec, const char *dir, int resume, const cls_lab_options *opt_in,
                           int64_t index, cls_lab_record *out, int *stopped)
{
    cls_lab_options defaults;
    cls_lab_options_init(&defaults);
    const cls_lab_options *opt = opt_in ? opt_in : &defaults;
    int dummy;
    if (!stopped) stopped = &dummy;
    *stopped = 0;
    if (!spec || !out) return cls_set_error(CLS_E_INVALID_ARG, "run: spec and output must not be NULL");
    cls_lab_record_init(out);
    out->spec = *spec;
    if (!dir || !*dir) return cls_set_error(CLS_E_INVALID_ARG, "no lab directory given");
    if (!opt->runner) return cls_set_error(CLS_E_INVALID_ARG, "no runner given");
    cls_status st = cls_lab_spec_check(spec);
    if (st) return cls_error_context(st, "run %s", spec->id);
    char *runs_dir = lab_path(dir, "runs");
    if (!runs_dir) return cls_set_error(CLS_E_NOMEM, "out of memory");
    one_state o;
    memset(&o, 0, sizeof o);
    o.opt = opt;
    o.p.event = CLS_LAB_EVENT_STEP;
    o.p.index = index;
    o.p.id = spec->id;
    o.p.eta = NAN;
    st = lab_mkdir(runs_dir);
    if (!st) st = execute(spec, runs_dir, resume, opt, on_one_progress, &o, out, stopped);
    free(runs_dir);
    return st;
}

/* runs.csv: the records held so far, in sweep order. */
static cls_status write_csv(const cls_lab_record *slot, const char *have, int64_t n, const char *csv_path,
                            cls_lab_record *scratch)
{
    cls_lab_records out = {0, scratch};
    for (int64_t i = 0; i < n; i++)
        if (have[i]) scratch[out.n++] = slot[i];
    return cls_lab_records_write_csv(&out, csv_path);
}

cls_status cls_lab_run(const cls_lab_sweep *sweep_in, const char *dir, int resume, const cls_lab_options *opt_in,
                       int *stopped)
{
    cls_lab_options defaults;
    cls_lab_options_init(&defaults);
    const cls_lab_options *opt = opt_in ? opt_in : &defaults;
    const cls_lab_executor *ex = opt->executor;
    if (stopped) *stopped = 0;
    if (!dir || !*dir) return cls_set_error(CLS_E_INVALID_ARG, "no lab directory given");
    if (!opt->runner && !ex) return cls_set_error(CLS_E_INVALID_ARG, "no runner given");
    if (ex && (ex->slots < 1 || !ex->start || !ex->wait))
        return cls_set_error(CLS_E_INVALID_ARG, "executor: %d slots (need >= 1) or no start/wait function",
                             ex->slots);

    char *sweep_path = lab_path(dir, "sweep.json"), *csv_path = lab_path(dir, "runs.csv");
    char *runs_dir = lab_path(dir, "runs");
    cls_lab_sweep loaded = {0};
    cls_lab_records done = {0};
    cls_lab_record *slot = NULL, *scratch = NULL;
    char *have = NULL, *flying = NULL;
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

    int64_t n = sweep->n;
    size_t m = (size_t)(n > 0 ? n : 1);
    slot = calloc(m, sizeof *slot);
    scratch = calloc(m, sizeof *scratch);
    have = calloc(m, 1);   /* slot[i] holds run i's record (carried over or finished now) */
    flying = calloc(m, 1); /* run i is under way */
    if (!slot || !scratch || !have || !flying) {
        st = cls_set_error(CLS_E_NOMEM, "out of memory");
        goto end;
    }
    sweep_state s;
    memset(&s, 0, sizeof s);
    s.opt = opt;
    s.parallel = ex != NULL;
    s.t0 = cls_now_seconds();
    s.p.total = n;
    for (int64_t i = 0; i < n; i++) s.cost_total += lab_spec_cost(&sweep->runs[i]);
    /* carry over the runs already finished successfully (all of them at once:
     * an executor may have finished them in any order) */
    for (int64_t i = 0; i < n && !st; i++)
        for (int64_t j = 0; j < done.n; j++)
            if (done.runs[j].ok && strcmp(done.runs[j].spec.id, sweep->runs[i].id) == 0) {
                st = copy_record(&slot[i], &done.runs[j]);
                have[i] = 1;
                break;
            }
    if (st) goto end;

    int slots = ex ? ex->slots : 1, stop_sent = 0;
    int64_t next = 0, inflight = 0;
    /* the run done in this process, between "start" and "wait" */
    int64_t local_i = -1;
    cls_lab_record local;
    int local_stopped = 0;
    cls_lab_record_init(&local);
    while (!st) {
        /* deal: start runs in sweep order while there are free slots */
        while (!s.stop && inflight < slots && next < n) {
            int64_t i = next++;
            const cls_lab_spec *spec = &sweep->runs[i];
            double cost = lab_spec_cost(spec);
            s.p.index = i;
            s.p.id = spec->id;
            if (have[i]) {
                s.cost_done += cost;
                s.cost_run = 0;
                s.run_t0 = cls_now_seconds();
                fill_eta(&s, 0);
                s.p.event = CLS_LAB_EVENT_SKIPPED;
                s.p.record = &slot[i];
                emit(&s);
                continue;
            }
            s.cost_run = ex ? 0 : cost;
            s.run_t0 = cls_now_seconds();
            if (s.t_first == 0) s.t_first = s.run_t0;
            fill_eta(&s, 0);
            s.p.event = CLS_LAB_EVENT_START;
            s.p.record = NULL;
            if (ex) { /* started first, so that the callback can ask the executor where it runs */
                if ((st = ex->start(ex->user, i, spec, resume))) break;
                flying[i] = 1;
                inflight++;
                emit(&s);
                continue;
            }
            if (emit(&s)) break;
            local_i = i;
            if ((st = execute(spec, runs_dir, resume, opt, on_run_progress, &s, &local, &local_stopped))) break;
            flying[i] = 1;
            inflight++;
        }
        if (st || inflight == 0) break;
        if (s.stop && ex && ex->stop && !stop_sent) { /* the runs in flight stop at their next checkpoint */
            ex->stop(ex->user);
            stop_sent = 1;
        }

        /* collect one result */
        int64_t i = -1;
        int rstopped = 0;
        cls_lab_record rec;
        if (ex) {
            cls_lab_record_init(&rec);
            if ((st = ex->wait(ex->user, &i, &rec, &rstopped))) break;
            if (i < 0 || i >= n || !flying[i]) {
                cls_lab_record_clear(&rec);
                st = cls_set_error(CLS_E_INTERNAL, "executor: returned run %lld, which is not under way", (long long)i);
                break;
            }
        } else {
            i = local_i;
            rec = local;
            rstopped = local_stopped;
            cls_lab_record_init(&local);
        }
        flying[i] = 0;
        inflight--;
        const cls_lab_spec *spec = &sweep->runs[i];
        if (rstopped) { /* interrupted: not recorded, resume continues it */
            cls_lab_record_clear(&rec);
            s.stop = 1;
        } else {
            rec.spec = *spec;
            if (!rec.ok && !rec.error[0]) snprintf(rec.error, sizeof rec.error, "failed");
            slot[i] = rec;
            have[i] = 1;
            char *rdir = lab_path(runs_dir, spec->id);
            char *rj = rdir ? lab_path(rdir, "record.json") : NULL;
            st = rj ? lab_mkdir(rdir) : cls_set_error(CLS_E_NOMEM, "out of memory");
            if (!st) st = lab_record_save_json(&slot[i], rj);
            free(rj);
            free(rdir);
            if (!st) st = write_csv(slot, have, n, csv_path, scratch);
            if (st) break;
            double cost = lab_spec_cost(spec);
            double took = cls_now_seconds() - s.run_t0;
            s.seconds_done += took;
            s.cost_timed += cost;
            s.cost_done += cost;
            s.cost_run = 0;
            s.run_t0 = cls_now_seconds();
            fill_eta(&s, 0);
            s.p.index = i;
            s.p.id = spec->id;
            s.p.event = slot[i].ok ? CLS_LAB_EVENT_DONE : CLS_LAB_EVENT_FAILED;
            s.p.record = &slot[i];
            emit(&s);
        }
    }
    cls_lab_record_clear(&local);
    if (st && ex && ex->stop && inflight > 0 && !stop_sent) ex->stop(ex->user);
    if (!st && stopped) *stopped = s.stop;
end:
    for (int64_t i = 0; slot && i < sweep->n; i++) cls_lab_record_clear(&slot[i]);
    free(slot);
    free(scratch);
    free(have);
    free(flying);
    cls_lab_records_free(&done);
    cls_lab_sweep_free(&loaded);
    free(sweep_path);
    free(csv_path);
    free(runs_dir);
    return st;
}
