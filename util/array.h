/* Growing a plain C array (pointer, count, capacity), the one way the code base does it.
 *
 * The capacity doubles from a first size, so appending n elements one at a time costs O(n)
 * copies in all. For byte buffers filled from outside, use struct buf (util/buf.h): it has a
 * cap; an array grown here holds what the program itself made.
 */
#ifndef SBX_UTIL_ARRAY_H
#define SBX_UTIL_ARRAY_H

#include <stddef.h>

#include "util/err.h"

/* Make the array `*arrp` (arrp is the address of a T * pointer; elements of `size` bytes, `*alloc`
 * of them allocated) hold at least `need` elements: its capacity doubles, starting at `first`
 * (or 1), until it does. Returns SBX_OK, or SBX_ENOMEM when memory or size_t runs out, leaving the
 * array and *alloc as they were. */
int array_reserve(void *arrp, size_t need, size_t *alloc, size_t size,
                  size_t first) SBX_WARN_UNUSED;

#endif
