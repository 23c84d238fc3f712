/* Placeholder: the csv module's public API is written by its issue. */
#ifndef CLSCALE_CSV_H
#define CLSCALE_CSV_H
#endif
