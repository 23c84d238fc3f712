/* featlearn engines, timed against each other in one process (the machine is
 * shared: medians of 5 repeats and ratios, never absolute times alone).
 *   1. function-space engine vs the plain-loop reference (rich, N = M = 300)
 *   2. width engine vs function-space engine where AUTO picks width
 *      (rich, N = 100, M = 2000)
 *   3. rich vs lazy step cost at the default size (N = 2000, M = 1000) */
#include <stdio.h>
#include <stdlib.h>

#include "clscale.h"
#include "clscale/sys.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_seconds(cls_featlearn_config c, int reps)
{
    double t[16];
    for (int i = 0; i < reps; i++) {
        cls_featlearn_result *r = NULL;
        double t0 = cls_now_seconds();
        if (cls_featlearn_run(&c, &r) != CLS_OK) {
            fprintf(stderr, "bench_featlearn: %s\n", cls_last_error());
            exit(1);
        }
        t[i] = cls_now_seconds() - t0;
        cls_featlearn_result_free(r);
    }
    qsort(t, (size_t)reps, sizeof t[0], cmp);
    return t[reps / 2];
}

int main(void)
{
    cls_featlearn_config c;
    cls_featlearn_config_init(&c);
    c.seeds = 1;
    c.threads = 1;
    c.gamma = 0.5;

    c.N = 300; c.M = 300; c.steps = 200;
    c.engine = CLS_FEATLEARN_REFERENCE;
    double ref = median_seconds(c, 5);
    c.engine = CLS_FEATLEARN_FUNCTION;
    double fun = median_seconds(c, 5);
    printf("rich N=300 M=300 T=200: reference %.4f s, function-space %.4f s, speedup %.1fx\n",
           ref, fun, ref / fun);

    c.N = 100; c.M = 2000; c.steps = 200;
    c.engine = CLS_FEATLEARN_FUNCTION;
    fun = median_seconds(c, 5);
    c.engine = CLS_FEATLEARN_WIDTH;
    double wid = median_seconds(c, 5);
    printf("rich N=100 M=2000 T=200: function-space %.4f s, width %.4f s, speedup %.1fx\n", fun,
           wid, fun / wid);

    c.N = 2000; c.M = 1000; c.steps = 2000;
    c.engine = CLS_FEATLEARN_AUTO;
    double rich = median_seconds(c, 5);
    c.gamma = 0.0;
    double lazy = median_seconds(c, 5);
    printf("N=2000 M=1000 T=2000 (one draw, setup included): rich %.3f s, lazy %.3f s, "
           "rich/lazy %.1fx\n", rich, lazy, rich / lazy);
    return 0;
}
