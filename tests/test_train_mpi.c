/* Data-parallel training over MPI (cls_train_run_mpi), run with mpirun -np 1,
 * 2 and 3 (W = the world size). Small runs: 256 Fashion-MNIST images, mlp
 * width 32, batch 25 (uneven shards at W = 2, 3), 5 steps, one thread.
 *
 * 1. Views: each rank's contiguous range of a batch, augmented on its own,
 *    is bit-identical to the same rows of the whole batch augmented at once
 *    (the counter-based RNG the distributed trainer relies on).
 * 2. Equivalence: for NT-Xent, CLIP with a learned temperature, SigLIP (learned
 *    bias) and a chunked (gradient-cached) NT-Xent run, 5 steps on W ranks give
 *    parameters (every entry, both models' and the scalars) within
 *    |x - ref| <= 1e-5 max|ref| + 1e-5 |ref| of cls_train_run on one process
 *    (the independent reference: the MPI-free trainer) with the same global
 *    batch and seed; the final loss agrees to 1e-6 relative and is the same
 *    bits on every rank. On MPI_COMM_SELF the run is bit-identical to
 *    cls_train_run (checkpoint bytes equal).
 * 3. Resume at another P: ranks 0..W-2 (P = W-1) stop after step 2 (rank 0's
 *    progress callback asks), then all W ranks resume to step 5: the
 *    parameters match the uninterrupted single-process run with the same
 *    tolerance (W = 1: resumed on the same single rank, bit-identical).
 * 4. Errors: bad data on the last rank only, and a configuration that differs
 *    on the last rank, return an error on every rank (no hang: the ctest
 *    timeout is 180 s) naming the failing rank and the cause. */
#define _GNU_SOURCE
#include "clscale.h"
#include "clscale/train_mpi.h"
#include "check.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int W, rank;
static char root_dir[PATH_MAX];

static void base_config(cls_train_config *c)
{
    cls_train_config_init(c);
    c->train_subset = 256;
    c->width = 32;
    c->proj_dim = 16;
    c->batch = 25;
    c->steps = 5;
    c->threads = 1;
    c->seed = 7;
    c->log_every = 1;
    c->checkpoint_every = 1;
    c->lr = 3e-3;
    c->warmup_epochs = 0.2;
}

static void dir_of(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", root_dir, name);
}

/* Every parameter of checkpoint x against ref: |x - r| <= 1e-5 max|r| + 1e-5 |r|. */
static void compare_params(const char *dir_x, const char *dir_ref, double tol, const char *what)
{
    char px[PATH_MAX + 32], pr[PATH_MAX + 32];
    snprintf(px, sizeof px, "%s/checkpoint.bin", dir_x);
    snprintf(pr, sizeof pr, "%s/checkpoint.bin", dir_ref);
    cls_checkpoint x, r;
    CHECK_STATUS(cls_checkpoint_read(&x, px), CLS_OK, "%s: read %s", what, px);
    CHECK_STATUS(cls_checkpoint_read(&r, pr), CLS_OK, "%s: read %s", what, pr);
    int64_t n = r.param_count[0] + r.param_count[1] + r.param_count[2];
    CHECK(x.step == r.step && x.param_count[0] == r.param_count[0] && x.param_count[1] == r.param_count[1],
          "%s: step %lld vs %lld, shapes differ", what, (long long)x.step, (long long)r.step);
    if (x.step == r.step && x.param_count[0] == r.param_count[0] && x.param_count[1] == r.param_count[1]) {
        double mx = 0, worst = 0;
        for (int64_t i = 0; i < n; i++) mx = fmax(mx, fabs(r.params[i]));
        int64_t bad = -1;
        for (int64_t i = 0; i < n; i++) {
            double e = fabs((double)x.params[i] - r.params[i]) - (tol * mx + tol * fabs(r.params[i]));
            if (e > worst) worst = e, bad = i;
        }
        if (tol == 0)
            CHECK(memcmp(x.params, r.params, (size_t)n * 4) == 0 &&
                      memcmp(x.state, r.state, (size_t)(x.state_count[0] + x.state_count[1] + x.state_count[2]) * 4) == 0,
                  "%s: parameters/state not bit-identical", what);
        else if (bad >= 0)
            CHECK_CLOSE(x.params[bad], r.params[bad], tol * mx, tol, "%s: parameter %lld of %lld", what,
                        (long long)bad, (long long)n);
        else
            CHECK(1, "%s", what);
    }
    cls_checkpoint_free(&x);
    cls_checkpoint_free(&r);
}

static void test_views(void)
{
    cls_dataset full, d;
    if (cls_dataset_load(&full, "fashion-mnist", CLS_SPLIT_TRAIN) != CLS_OK) {
        CHECK(0, "load fashion-mnist: %s", cls_last_error());
        return;
    }
    CHECK_STATUS(cls_dataset_subset(&d, &full, 256, 7), CLS_OK, "subset");
    cls_dataset_free(&full);
    const int64_t B = 25, np = d.height * d.width;
    int64_t *perm = malloc(256 * sizeof(int64_t));
    float *all = malloc((size_t)(B * np) * sizeof(float)), *mine = malloc((size_t)(B * np) * sizeof(float));
    cls_augment_options ao;
    cls_augment_options_init(&ao);
    CHECK_STATUS(cls_epoch_permutation(perm, 256, 7, 3), CLS_OK, "permutation");
    for (int view = 0; view < 2; view++) {
        CHECK_STATUS(cls_augment_batch(all, &d, perm + B, B, view, 99, 3, &ao, 1), CLS_OK, "whole batch");
        const int64_t off = B * rank / W, len = B * (rank + 1) / W - off;
        CHECK_STATUS(cls_augment_batch(mine, &d, perm + B + off, len, view, 99, 3, &ao, 1), CLS_OK, "rank's part");
        CHECK(memcmp(mine, all + off * np, (size_t)(len * np) * sizeof(float)) == 0,
              "view %d of images %lld..%lld built on rank %d differs from the whole batch's", view, (long long)off,
              (long long)(off + len), rank);
    }
    free(perm), free(all), free(mine);
    cls_dataset_free(&d);
}

/* The same final loss bits on every rank of comm. */
static void check_same_loss(double loss, MPI_Comm comm, const char *what)
{
    double lo, hi;
    MPI_Allreduce(&loss, &lo, 1, MPI_DOUBLE, MPI_MIN, comm);
    MPI_Allreduce(&loss, &hi, 1, MPI_DOUBLE, MPI_MAX, comm);
    CHECK(lo == hi, "%s: final loss differs over ranks (%.17g .. %.17g)", what, lo, hi);
}

static void test_equivalence(const char *name, void (*tweak)(cls_train_config *))
{
    cls_train_config c;
    base_config(&c);
    tweak(&c);
    char ref[PATH_MAX], self[PATH_MAX], dp[PATH_MAX];
    char n1[64], n2[64], n3[64];
    snprintf(n1, sizeof n1, "%s_ref", name);
    snprintf(n2, sizeof n2, "%s_self", name);
    snprintf(n3, sizeof n3, "%s_dp", name);
    dir_of(ref, sizeof ref, n1);
    dir_of(self, sizeof self, n2);
    dir_of(dp, sizeof dp, n3);
    cls_train_result r_ref, r_self, r_dp;
    if (rank == 0) {
        CHECK_STATUS(cls_train_run(&c, ref, 0, &r_ref), CLS_OK, "%s: single-process run", name);
        CHECK_STATUS(cls_train_run_mpi(&c, self, 0, &r_self, MPI_COMM_SELF), CLS_OK, "%s: P = 1 run", name);
        compare_params(self, ref, 0.0, "P = 1 over MPI vs one process");
    }
    MPI_Bcast(&r_ref.final_loss, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    cls_status st = cls_train_run_mpi(&c, dp, 0, &r_dp, MPI_COMM_WORLD);
    CHECK_STATUS(st, CLS_OK, "%s: run on %d ranks", name, W);
    if (st) return;
    CHECK(r_dp.steps == 5, "%s: %lld steps", name, (long long)r_dp.steps);
    CHECK_CLOSE(r_dp.final_loss, r_ref.final_loss, 0, 1e-6, "%s: final loss on %d ranks", name, W);
    check_same_loss(r_dp.final_loss, MPI_COMM_WORLD, name);
    if (rank == 0) {
        char what[128];
        snprintf(what, sizeof what, "%s: %d ranks vs one process", name, W);
        compare_params(dp, ref, 1e-5, what);
    }
    MPI_Barrier(MPI_COMM_WORLD);
}

static void tw_ntxent(cls_train_config *c) { (void)c; }
static void tw_clip(cls_train_config *c)
{
    c->loss = CLS_LOSS_CLIP;
    c->learn_temperature = 1;
}
static void tw_siglip(cls_train_config *c) { c->loss = CLS_LOSS_SIGLIP; }
static void tw_chunked(cls_train_config *c) { c->chunk = 6; }

static int stop_at_2(void *user, const cls_train_progress *p)
{
    (void)user;
    return p->step >= 2;
}

static void test_resume_other_p(void)
{
    cls_train_config c;
    base_config(&c);
    char ref[PATH_MAX], part[PATH_MAX];
    dir_of(ref, sizeof ref, "ntxent_ref"); /* the uninterrupted single-process run of test_equivalence */
    dir_of(part, sizeof part, "resume");
    const int P1 = W > 1 ? W - 1 : 1;
    MPI_Comm sub;
    MPI_Comm_split(MPI_COMM_WORLD, rank < P1 ? 0 : MPI_UNDEFINED, rank, &sub);
    if (sub != MPI_COMM_NULL) {
        cls_train_config c1 = c;
        c1.progress = stop_at_2;
        cls_train_result r;
        CHECK_STATUS(cls_train_run_mpi(&c1, part, 0, &r, sub), CLS_OK, "first part on %d ranks", P1);
        CHECK(r.stopped_early && r.steps == 2, "first part: stopped %d after %lld steps", r.stopped_early,
              (long long)r.steps);
        MPI_Comm_free(&sub);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    cls_train_result r;
    CHECK_STATUS(cls_train_run_mpi(&c, part, 1, &r, MPI_COMM_WORLD), CLS_OK, "resume on %d ranks", W);
    CHECK(r.start_step == 2 && r.steps == 5, "resume: from %lld to %lld", (long long)r.start_step, (long long)r.steps);
    if (rank == 0) {
        char what[128];
        snprintf(what, sizeof what, "checkpointed at P = %d, resumed at P = %d, vs uninterrupted", P1, W);
        compare_params(part, ref, W == 1 ? 0.0 : 1e-5, what);
    }
    MPI_Barrier(MPI_COMM_WORLD);
}

static void test_errors(void)
{
    cls_train_config c;
    base_config(&c);
    char dir[PATH_MAX];
    dir_of(dir, sizeof dir, "bad");
    const int last = W - 1;
    if (rank == last) c.data = "/nonexistent/fashion";
    cls_train_result r;
    cls_status st = cls_train_run_mpi(&c, dir, 0, &r, MPI_COMM_WORLD);
    CHECK(st != CLS_OK, "bad data on rank %d: rank %d returned OK", last, rank);
    char want[32];
    snprintf(want, sizeof want, "rank %d: ", last);
    CHECK(strstr(cls_last_error(), "/nonexistent/fashion") && (W == 1 || strstr(cls_last_error(), want)),
          "bad data on rank %d: rank %d's message '%s'", last, rank, cls_last_error());

    base_config(&c);
    dir_of(dir, sizeof dir, "mismatch");
    if (rank == last && W > 1) c.batch = 26;
    st = cls_train_run_mpi(&c, dir, 0, &r, MPI_COMM_WORLD);
    if (W > 1) {
        CHECK(st == CLS_E_INVALID_ARG, "other batch on rank %d: rank %d got %d", last, rank, (int)st);
        CHECK(strstr(cls_last_error(), "differs from rank 0") != NULL, "mismatch: rank %d's message '%s'", rank,
              cls_last_error());
    } else {
        CHECK_STATUS(st, CLS_OK, "one rank: nothing differs");
    }
    /* batch smaller than the rank count */
    base_config(&c);
    c.batch = W > 1 ? W - 1 : 1;
    dir_of(dir, sizeof dir, "small");
    st = cls_train_run_mpi(&c, dir, 0, &r, MPI_COMM_WORLD);
    CHECK(st == CLS_E_INVALID_ARG, "batch %lld on %d ranks: rank %d got %d", (long long)c.batch, W, rank, (int)st);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_size(MPI_COMM_WORLD, &W);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0) {
        snprintf(root_dir, sizeof root_dir, "train_mpi_np%d_XXXXXX", W);
        if (!mkdtemp(root_dir)) root_dir[0] = '\0';
    }
    MPI_Bcast(root_dir, (int)sizeof root_dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    if (!root_dir[0]) {
        fprintf(stderr, "cannot create a scratch directory\n");
        MPI_Finalize();
        return 1;
    }
    test_views();
    test_equivalence("ntxent", tw_ntxent);
    test_equivalence("clip", tw_clip);
    test_equivalence("siglip", tw_siglip);
    test_equivalence("chunked", tw_chunked);
    test_resume_other_p();
    test_errors();
    int failed = check_failed, any;
    MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0 && any == 0) {
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root_dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", root_dir);
    }
    char suite[64];
    snprintf(suite, sizeof suite, "train_mpi rank %d of %d", rank, W);
    int rc = check_summary(suite);
    MPI_Finalize();
    return any ? 1 : rc;
}
