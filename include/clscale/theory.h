/* Theory simulators: sketched linear contrastive learning (lcl.h),
 * high-dimensional SGD dynamics against its ODE limit (dynamics.h), and the
 * solvable feature-learning model (featlearn.h). */
#ifndef CLSCALE_THEORY_H
#define CLSCALE_THEORY_H

#include "lcl.h"
#include "dynamics.h"
#include "featlearn.h"

#endif
