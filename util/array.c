/* Growing a plain C array; see array.h. */
#include "util/array.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int
array_reserve(void *arrp, size_t need, size_t *alloc, size_t size, size_t first)
{
    size_t want = *alloc ? *alloc : (first ? first : 1);
    void *arr, *p;

    if (need <= *alloc)
        return SBX_OK;
    while (want < need) {
        if (want > SIZE_MAX / 2)
            return SBX_ENOMEM;
        want *= 2;
    }
    if (size == 0 || want > SIZE_MAX / size)
        return SBX_ENOMEM;
    memcpy(&arr, arrp, sizeof(arr)); /* a T * read through void * (same representation) */
    p = realloc(arr, want * size);
    if (p == NULL)
        return SBX_ENOMEM;
    memcpy(arrp, &p, sizeof(p));
    *alloc = want;
    return SBX_OK;
}
