/* Shared between the dynamics simulator's files (not public). */
#ifndef CLS_DYNAMICS_INTERNAL_H
#define CLS_DYNAMICS_INTERNAL_H

#include "clscale/dynamics.h"

/* Largest number of c-value combinations (product over features) the ODE sums. */
#define CLS_DYNAMICS_MAX_COMBOS 4096

/* Symmetric square root of a K x K PSD matrix (eigenvalues clamped at 0):
 * out = V diag(sqrt(max(l, 0))) V^T. Returns the smallest eigenvalue in *min_eig. */
cls_status cls_dynamics_sym_sqrt(int K, const double *A, double *out, double *min_eig);

#endif
