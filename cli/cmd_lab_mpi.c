/* clscale lab under mpirun: rank 0 keeps the lab (sweep.json, runs.csv,
 * record.json, the report: cls_lab_run with an executor) and deals the runs
 * to ranks 1 .. P-1, one run per rank at a time, a free rank getting the next
 * unfinished run. A worker trains its run in DIR/runs/<id>/ (its own
 * checkpoint and logs, so DIR must be on a filesystem every rank sees) and
 * sends the record back; it never writes the lab's shared files.
 *
 * Messages (MPI_COMM_WORLD, all from or to rank 0):
 *   WORK   0 -> r   lab_work: run index, resume flag, spec, lab directory
 *   RESULT r -> 0   lab_result: index, kind (record / stopped / error), the
 *                   record without its eigenvalues, then
 *   EIG    r -> 0   the record's n_eig eigenvalues (only for a record)
 *   STOP   0 -> r   stop the run at its next checkpoint (Ctrl-C)
 *   QUIT   0 -> r   the sweep is over
 * Waiting is by MPI_Iprobe and a short sleep, not Open MPI's busy polling:
 * rank 0 and idle workers leave the cores to the ranks that train.
 * A worker that dies ends the job (mpirun aborts it): runs.csv holds every
 * run finished before, and --resume continues. */
#include "cmd_lab_mpi.h"

#ifdef CLS_HAVE_MPI

#include <mpi.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { TAG_WORK = 701, TAG_RESULT, TAG_EIG, TAG_STOP, TAG_QUIT };
enum { KIND_RECORD = 0, KIND_STOPPED = 1, KIND_ERROR = 2 };

typedef struct {
    int64_t index;
    int32_t resume, pad;
    cls_lab_spec spec;
    char dir[PATH_MAX];
} lab_work;

typedef struct {
    int64_t index;
    int32_t kind, pad;
    char error[512];      /* KIND_ERROR: what went wrong on the worker */
    cls_lab_record record; /* KIND_RECORD: eig is sent after (n_eig doubles) */
} lab_result;

static int g_ranks = 1;
static int64_t *g_running; /* per rank: the run under way, -1 when free */
static int g_stop_sent;
static volatile sig_atomic_t *g_interrupted;
static char g_error[700]; /* why the executor failed (the CLI cannot set the library's message) */

#define EXEC_FAIL(status, ...) (snprintf(g_error, sizeof g_error, __VA_ARGS__), (status))

static void nap(void)
{
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

void lab_mpi_init(int *rank, int *ranks)
{
    int provided;
    MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, ranks);
    g_ranks = *ranks;
}

/* ---- workers ---- */

typedef struct {
    volatile sig_atomic_t *interrupted;
    int stop;
} worker_state;

/* A run's progress on a worker: stop when rank 0 asks or on SIGINT/SIGTERM. */
static int worker_progress(void *user, const cls_lab_progress *p)
{
    (void)p;
    worker_state *w = user;
    int flag = 0;
    MPI_Status stt;
    MPI_Iprobe(0, TAG_STOP, MPI_COMM_WORLD, &flag, &stt);
    if (flag) {
        MPI_Recv(NULL, 0, MPI_BYTE, 0, TAG_STOP, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        w->stop = 1;
    }
    if (*w->interrupted) w->stop = 1;
    return w->stop;
}

int lab_mpi_worker(const cls_lab_options *opt, volatile sig_atomic_t *interrupted)
{
    lab_work *work = malloc(sizeof *work);
    lab_result *res = malloc(sizeof *res);
    if (!work || !res) {
        free(work);
        free(res);
        int rank = 0;
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        cli_error("rank %d: out of memory", rank);
        MPI_Abort(MPI_COMM_WORLD, 1);
        return CLI_FAIL;
    }
    worker_state ws = {interrupted, 0};
    cls_lab_options o = *opt;
    o.progress = worker_progress;
    o.progress_user = &ws;
    o.executor = NULL;
    for (;;) {
        int flag = 0;
        MPI_Status stt;
        MPI_Iprobe(0, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &stt);
        if (!flag) {
            nap();
            continue;
        }
        if (stt.MPI_TAG == TAG_QUIT) {
            MPI_Recv(NULL, 0, MPI_BYTE, 0, TAG_QUIT, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            break;
        }
        if (stt.MPI_TAG != TAG_WORK) { /* a STOP that came after its run ended */
            MPI_Recv(NULL, 0, MPI_BYTE, 0, stt.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            continue;
        }
        MPI_Recv(work, (int)sizeof *work, MPI_BYTE, 0, TAG_WORK, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        ws.stop = 0;
        memset(res, 0, sizeof *res);
        res->index = work->index;
        int stopped = 0;
        cls_status st = cls_lab_run_one(&work->spec, work->dir, work->resume, &o, work->index, &res->record, &stopped);
        if (st) {
            res->kind = KIND_ERROR;
            snprintf(res->error, sizeof res->error, "%s", cls_last_error());
        } else {
            res->kind = stopped ? KIND_STOPPED : KIND_RECORD;
        }
        double *eig = res->record.eig;
        int n_eig = res->kind == KIND_RECORD && eig ? (int)res->record.n_eig : 0;
        res->record.eig = NULL;
        res->record.n_eig = n_eig;
        MPI_Send(res, (int)sizeof *res, MPI_BYTE, 0, TAG_RESULT, MPI_COMM_WORLD);
        if (res->kind == KIND_RECORD) MPI_Send(eig, n_eig, MPI_DOUBLE, 0, TAG_EIG, MPI_COMM_WORLD);
        free(eig);
    }
    free(work);
    free(res);
    MPI_Finalize();
    return CLI_OK;
}

/* ---- rank 0: the executor ---- */

static void send_stop(void *user)
{
    (void)user;
    for (int r = 1; r < g_ranks; r++)
        if (g_running[r] >= 0) MPI_Send(NULL, 0, MPI_BYTE, r, TAG_STOP, MPI_COMM_WORLD);
    g_stop_sent = 1;
}

static cls_status exec_start(void *user, int64_t index, const cls_lab_spec *spec, int resume)
{
    const char *dir = user;
    int r = 1;
    while (r < g_ranks && g_running[r] >= 0) r++;
    if (r == g_ranks) return EXEC_FAIL(CLS_E_INTERNAL, "lab over MPI: no free rank for run %lld", (long long)index);
    lab_work *w = calloc(1, sizeof *w);
    if (!w) return EXEC_FAIL(CLS_E_NOMEM, "out of memory");
    w->index = index;
    w->resume = resume;
    w->spec = *spec;
    /* the workers' working directory may differ: an absolute path when there is one */
    char abs[PATH_MAX];
    const char *d = realpath(dir, abs) ? abs : dir;
    if (strlen(d) >= sizeof w->dir) {
        free(w);
        return EXEC_FAIL(CLS_E_INVALID_ARG, "lab directory path is longer than %d bytes", (int)sizeof w->dir - 1);
    }
    strcpy(w->dir, d);
    MPI_Send(w, (int)sizeof *w, MPI_BYTE, r, TAG_WORK, MPI_COMM_WORLD);
    free(w);
    g_running[r] = index;
    return CLS_OK;
}

static cls_status exec_wait(void *user, int64_t *index, cls_lab_record *out, int *stopped)
{
    (void)user;
    MPI_Status stt;
    for (;;) {
        int flag = 0;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_RESULT, MPI_COMM_WORLD, &flag, &stt);
        if (flag) break;
        if (*g_interrupted && !g_stop_sent) send_stop(NULL); /* Ctrl-C, or mpirun ending the job */
        nap();
    }
    int r = stt.MPI_SOURCE;
    lab_result *res = malloc(sizeof *res);
    if (!res) return EXEC_FAIL(CLS_E_NOMEM, "out of memory");
    MPI_Recv(res, (int)sizeof *res, MPI_BYTE, r, TAG_RESULT, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    cls_status st = CLS_OK;
    *index = res->index;
    if (res->index != g_running[r]) {
        st = EXEC_FAIL(CLS_E_INTERNAL, "lab over MPI: rank %d returned run %lld, dealt run %lld", r,
                           (long long)res->index, (long long)g_running[r]);
    } else if (res->kind == KIND_ERROR) {
        st = EXEC_FAIL(CLS_E_IO, "rank %d, run %s: %s", r, res->record.spec.id, res->error);
    } else if (res->kind == KIND_STOPPED) {
        *stopped = 1;
    } else {
        *out = res->record;
        out->eig = NULL;
        out->n_eig = 0;
        int n = (int)res->record.n_eig;
        double *eig = n > 0 ? malloc(sizeof(double) * (size_t)n) : NULL;
        MPI_Recv(eig, eig ? n : 0, MPI_DOUBLE, r, TAG_EIG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (n > 0 && !eig) st = EXEC_FAIL(CLS_E_NOMEM, "out of memory");
        out->eig = eig;
        out->n_eig = eig ? n : 0;
    }
    free(res);
    g_running[r] = -1;
    return st;
}

void lab_mpi_executor(cls_lab_executor *ex, const char *dir, volatile sig_atomic_t *interrupted)
{
    g_interrupted = interrupted;
    free(g_running);
    g_running = malloc(sizeof(int64_t) * (size_t)g_ranks);
    for (int r = 0; r < g_ranks; r++) g_running[r] = -1;
    memset(ex, 0, sizeof *ex);
    ex->slots = g_ranks - 1;
    ex->start = exec_start;
    ex->wait = exec_wait;
    ex->stop = send_stop;
    ex->user = (void *)dir;
}

const char *lab_mpi_error(void) { return g_error[0] ? g_error : NULL; }

int lab_mpi_rank_of(int64_t index)
{
    for (int r = 1; g_running && r < g_ranks; r++)
        if (g_running[r] == index) return r;
    return 0;
}

void lab_mpi_finish(int quit_workers)
{
    int busy = 0;
    for (int r = 1; g_running && r < g_ranks; r++) busy |= g_running[r] >= 0;
    if (busy) MPI_Abort(MPI_COMM_WORLD, 1); /* the sweep failed with runs in flight */
    for (int r = 1; quit_workers && r < g_ranks; r++) MPI_Send(NULL, 0, MPI_BYTE, r, TAG_QUIT, MPI_COMM_WORLD);
    free(g_running);
    g_running = NULL;
    MPI_Finalize();
}

#endif
