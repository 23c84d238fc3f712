/* ABI introspection: sizes, field offsets and enum values of the public
 * structs, exported so that bindings written in other languages (the ctypes
 * package in python/clscale) check their struct layouts at load time instead
 * of trusting a hand-copied layout that could drift silently.
 *
 * Type names are the C typedef names ("cls_loss_options"); field names are the
 * member names ("logit_scale"). Every struct a binding passes by pointer is
 * listed, with every member in declaration order. */
#ifndef CLSCALE_ABI_H
#define CLSCALE_ABI_H

#include <stddef.h>
#include <stdint.h>

#include "../clscale.h"

#ifdef __cplusplus
extern "C" {
#endif

/* sizeof(type), or 0 for an unknown type name. */
CLS_API size_t cls_abi_sizeof(const char *type_name);

/* offsetof(type, field), or (size_t)-1 for an unknown type or field. */
CLS_API size_t cls_abi_offsetof(const char *type_name, const char *field);

/* Number of members of a type (-1 for an unknown type) and the name of
 * member `index` in declaration order (NULL when out of range). */
CLS_API int cls_abi_field_count(const char *type_name);
CLS_API const char *cls_abi_field_name(const char *type_name, int index);

/* Value of a named enum constant or array-size macro ("CLS_LOSS_SIGLIP",
 * "CLS_FIT_MAX_PARAMS"); CLS_E_INVALID_ARG for an unknown name. */
CLS_API cls_status cls_abi_constant(const char *name, int64_t *value);

#ifdef __cplusplus
}
#endif

#endif
