/* Placeholder: the featlearn simulator's public API is written by its issue. */
#ifndef CLSCALE_FEATLEARN_H
#define CLSCALE_FEATLEARN_H
#endif
