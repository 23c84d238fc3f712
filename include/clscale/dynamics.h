/* Placeholder: the dynamics simulator's public API is written by its issue. */
#ifndef CLSCALE_DYNAMICS_H
#define CLSCALE_DYNAMICS_H
#endif
