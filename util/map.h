/* A hash map from byte-string keys to pointers (open addressing, linear probing).
 *
 * For in-memory state looked up on the hot path (accounts by id). Keys are copied. Iteration
 * order is unspecified: never let it feed a hash or a verdict (sort first).
 */
#ifndef SBX_UTIL_MAP_H
#define SBX_UTIL_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct map_slot {
    uint64_t hash; /* 0 = empty */
    char *key;
    size_t klen;
    void *val;
};

struct map {
    struct map_slot *slots;
    size_t cap; /* power of two */
    size_t n;
};

void map_init(struct map *m);
/* Free the map's own memory (keys, slots), not the values. */
void map_release(struct map *m);
void *map_get(const struct map *m, const void *key, size_t klen);
/* Insert or replace. SBX_ENOMEM on allocation failure. */
int map_put(struct map *m, const void *key, size_t klen, void *val) SBX_WARN_UNUSED;
/* Remove `key` if present (its value is not freed). Returns 1 if it was there. */
int map_del(struct map *m, const void *key, size_t klen);
/* Call fn for each entry (unspecified order). */
void map_foreach(const struct map *m,
                 void (*fn)(void *ctx, const void *key, size_t klen, void *val), void *ctx);

#endif
