/* Placeholder: the lcl simulator's public API is written by its issue. */
#ifndef CLSCALE_LCL_H
#define CLSCALE_LCL_H
#endif
