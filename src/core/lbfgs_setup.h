/* One setup of libLBFGS's parameters for every L-BFGS user in the library
 * (the scaling-law fitter, the linear probe): memory 10, More-Thuente line
 * search, and the stopping rules each caller chooses. Internal. */
#ifndef CLS_CORE_LBFGS_SETUP_H
#define CLS_CORE_LBFGS_SETUP_H

#include <lbfgs.h>

/* Fill *p: liblbfgs's defaults, then m = 10, More-Thuente line search with at
 * most max_linesearch trials, the gradient test ||g|| < epsilon max(1, ||x||),
 * the relative-decrease test (f_past - f) / f < delta over `past` iterations
 * (past = 0: off) and at most max_iterations iterations (0: until converged). */
void cls_lbfgs_setup(lbfgs_parameter_t *p, double epsilon, int past, double delta, int max_iterations,
                     int max_linesearch);

#endif
