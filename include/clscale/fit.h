/* Placeholder: the fit module's public API is written by its issue. */
#ifndef CLSCALE_FIT_H
#define CLSCALE_FIT_H
#endif
