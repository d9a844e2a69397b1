/* Open-addressing hash map with linear probing; see map.h. */
#include "util/map.h"

#include <stdlib.h>
#include <string.h>

static uint64_t
hash_bytes(const void *key, size_t len)
{
    const uint8_t *p = key;
    uint64_t h = UINT64_C(0xcbf29ce484222325);

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001b3);
    }
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    return h ? h : 1;
}

void
map_init(struct map *m)
{
    m->slots = NULL;
    m->cap = 0;
    m->n = 0;
}

void
map_release(struct map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].key);
    free(m->slots);
    map_init(m);
}

static struct map_slot *
find(const struct map *m, uint64_t h, const void *key, size_t klen)
{
    size_t mask = m->cap - 1;

    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct map_slot *s = &m->slots[i];

        if (s->hash == 0)
            return s;
        if (s->hash == h && s->klen == klen && memcmp(s->key, key, klen) == 0)
            return s;
    }
}

void *
map_get(const struct map *m, const void *key, size_t klen)
{
    struct map_slot *s;

    if (m->cap == 0)
        return NULL;
    s = find(m, hash_bytes(key, klen), key, klen);
    return s->hash ? s->val : NULL;
}

static int
grow(struct map *m)
{
    struct map old = *m;
    size_t cap = m->cap ? m->cap * 2 : 64;

    m->slots = calloc(cap, sizeof(*m->slots));
    if (m->slots == NULL) {
        *m = old;
        return SBX_ENOMEM;
    }
    m->cap = cap;
    for (size_t i = 0; i < old.cap; i++) {
        if (old.slots[i].hash)
            *find(m, old.slots[i].hash, old.slots[i].key, old.slots[i].klen) = old.slots[i];
    }
    free(old.slots);
    return SBX_OK;
}

int
map_put(struct map *m, const void *key, size_t klen, void *val)
{
    uint64_t h = hash_bytes(key, klen);
    struct map_slot *s;

    if ((m->n + 1) * 4 > m->cap * 3) {
        int rc = grow(m);

        if (rc)
            return rc;
    }
    s = find(m, h, key, klen);
    if (s->hash == 0) {
        s->key = malloc(klen ? klen : 1);
        if (s->key == NULL)
            return SBX_ENOMEM;
        memcpy(s->key, key, klen);
        s->klen = klen;
        s->hash = h;
        m->n++;
    }
    s->val = val;
    return SBX_OK;
}

int
map_del(struct map *m, const void *key, size_t klen)
{
    struct map_slot *s;
    size_t mask, i, j;

    if (m->cap == 0)
        return 0;
    s = find(m, hash_bytes(key, klen), key, klen);
    if (s->hash == 0)
        return 0;
    free(s->key);
    mask = m->cap - 1;
    i = (size_t)(s - m->slots);
    /* backward-shift: move each following entry of the run into the hole if its home slot
     * does not lie cyclically in (hole, its position] */
    for (j = (i + 1) & mask; m->slots[j].hash != 0; j = (j + 1) & mask) {
        size_t home = m->slots[j].hash & mask;
        int stays = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);

        if (!stays) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    memset(&m->slots[i], 0, sizeof(m->slots[i]));
    m->n--;
    return 1;
}

void
map_foreach(const struct map *m, void (*fn)(void *ctx, const void *key, size_t klen, void *val),
            void *ctx)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].hash)
            fn(ctx, m->slots[i].key, m->slots[i].klen, m->slots[i].val);
}
