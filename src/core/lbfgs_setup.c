/* libLBFGS parameter setup shared by the fitter and the probe (lbfgs_setup.h). */
#include "lbfgs_setup.h"

void cls_lbfgs_setup(lbfgs_parameter_t *p, double epsilon, int past, double delta, int max_iterations,
                     int max_linesearch)
{
    lbfgs_parameter_init(p);
    p->m = 10;
    p->epsilon = epsilon;
    p->past = past;
    p->delta = delta;
    p->max_iterations = max_iterations;
    p->linesearch = LBFGS_LINESEARCH_MORETHUENTE;
    p->max_linesearch = max_linesearch;
}
