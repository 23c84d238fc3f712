/* Mapped reading of .npy data (src/core/npy.c; internal, not installed).
 *
 * cls_npy_reader_map maps the file of a reader read-only (POSIX mmap) and
 * points *data at row 0 of its C-order data, so a caller can use the rows in
 * place instead of copying them with cls_npy_reader_read_*. The mapping
 * lives until cls_npy_reader_free. CLS_E_UNSUPPORTED (an error set, nothing
 * mapped) for a buffer reader, a file shorter than its header says (the
 * streaming reader then reports the truncation), data at an offset that is
 * not a multiple of the element size, or a failed mmap: callers
 * fall back to reading. The values are not checked for NaN/Inf: that is the
 * caller's job. (A file truncated by another process while mapped makes the
 * access fault, as with any mmap.)
 *
 * cls_npy_map_prefetch asks the kernel to read [p, p + bytes) ahead
 * (madvise WILLNEED): the disk reads of the next rows overlap the work on
 * these, with no reader thread. cls_npy_map_release drops the pages of rows
 * that are done from the process (madvise DONTNEED; they stay in the page
 * cache), so a pass over a large file does not grow the resident set. */
#ifndef CLS_CORE_NPY_MAP_H
#define CLS_CORE_NPY_MAP_H

#include "clscale.h"

#include <stddef.h>

cls_status cls_npy_reader_map(cls_npy_reader *r, const void **data);
void cls_npy_map_prefetch(const void *p, size_t bytes);
void cls_npy_map_release(const void *p, size_t bytes);

#endif
