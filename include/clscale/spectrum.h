/* Placeholder: the spectrum module's public API is written by its issue. */
#ifndef CLSCALE_SPECTRUM_H
#define CLSCALE_SPECTRUM_H
#endif
