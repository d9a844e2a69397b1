/* A block's state changes in canonical order; see changes.h.
 *
 * Writes are appended as they come (O(1) each); ledger_changes_finish sorts them once with a
 * stable merge sort and keeps the last write to each key. Stability is what makes "last write
 * wins" hold: entries with equal keys keep their order of arrival. The array `v` is allocated
 * with room for 2 * alloc entries and the upper half is the merge sort's scratch space, so
 * finishing (and hashing) never allocates and cannot fail.
 */
#include "ledger/changes.h"

#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/sha256.h"

#define OP_PUT 1
#define OP_DEL 2

void
ledger_changes_init(struct ledger_changes *c)
{
    c->v = NULL;
    c->n = 0;
    c->alloc = 0;
    c->sorted = 1; /* the empty set is in canonical order */
}

void
ledger_changes_reset(struct ledger_changes *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i].key);
    c->n = 0;
    c->sorted = 1;
}

void
ledger_changes_release(struct ledger_changes *c)
{
    ledger_changes_reset(c);
    free(c->v);
    ledger_changes_init(c);
}

/* Append one write; `val` is NULL for a deletion. */
static int
add(struct ledger_changes *c, const void *key, size_t klen, int del, const void *val, size_t vlen)
{
    struct ledger_change *e;
    uint8_t *mem;

    if (klen == 0)
        return SBX_EINVAL;
    if (klen > LEDGER_KEY_MAX || vlen > LEDGER_VALUE_MAX)
        return SBX_ETOOLONG;
    if (c->n == c->alloc) {
        size_t alloc = c->alloc ? c->alloc * 2 : 64;
        struct ledger_change *v;

        if (alloc > SIZE_MAX / (2 * sizeof(*v)))
            return SBX_ENOMEM;
        v = realloc(c->v, 2 * alloc * sizeof(*v)); /* upper half: sort scratch */
        if (v == NULL)
            return SBX_ENOMEM;
        c->v = v;
        c->alloc = alloc;
    }
    mem = malloc(klen + vlen);
    if (mem == NULL)
        return SBX_ENOMEM;
    memcpy(mem, key, klen);
    if (vlen)
        memcpy(mem + klen, val, vlen);
    e = &c->v[c->n++];
    e->key = mem;
    e->klen = (uint16_t)klen;
    e->del = (uint8_t)(del != 0);
    e->val = mem + klen;
    e->vlen = (uint32_t)vlen;
    c->sorted = 0;
    return SBX_OK;
}

int
ledger_changes_put(struct ledger_changes *c, const void *key, size_t klen, const void *val,
                   size_t vlen)
{
    return add(c, key, klen, 0, val, vlen);
}

int
ledger_changes_del(struct ledger_changes *c, const void *key, size_t klen)
{
    return add(c, key, klen, 1, NULL, 0);
}

/* Bytewise key order; a key sorts before any longer key it is a prefix of (LevelDB's order). */
static int
key_cmp(const struct ledger_change *a, const struct ledger_change *b)
{
    size_t n = a->klen < b->klen ? a->klen : b->klen;
    int r = memcmp(a->key, b->key, n);

    if (r)
        return r;
    return (a->klen > b->klen) - (a->klen < b->klen);
}

/* Stable bottom-up merge sort of v[0..n) using tmp[0..n). */
static void
merge_sort(struct ledger_change *v, struct ledger_change *tmp, size_t n)
{
    struct ledger_change *src = v, *dst = tmp, *t;

    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = mid + width < n ? mid + width : n;
            size_t i = lo, j = mid, k = lo;

            /* ties take the left run first: equal keys keep their order */
            while (i < mid && j < hi)
                dst[k++] = key_cmp(&src[j], &src[i]) < 0 ? src[j++] : src[i++];
            while (i < mid)
                dst[k++] = src[i++];
            while (j < hi)
                dst[k++] = src[j++];
        }
        t = src;
        src = dst;
        dst = t;
    }
    if (src != v)
        memcpy(v, src, n * sizeof(*v));
}

void
ledger_changes_finish(struct ledger_changes *c)
{
    size_t out = 0;

    if (c->sorted)
        return;
    if (c->n > 1)
        merge_sort(c->v, c->v + c->alloc, c->n);
    /* keep the last of each run of equal keys */
    for (size_t i = 0; i < c->n; i++) {
        if (i + 1 < c->n && key_cmp(&c->v[i], &c->v[i + 1]) == 0) {
            free(c->v[i].key);
            continue;
        }
        c->v[out++] = c->v[i];
    }
    c->n = out;
    c->sorted = 1;
}

void
ledger_changes_hash(struct ledger_changes *c, uint8_t out[static 32])
{
    struct sha256_ctx h;
    uint8_t pre[2], mid[1 + 4];

    ledger_changes_finish(c);
    /* Only an allocation failure of a small OpenSSL context can fail here. */
    if (sha256_ctx_init(&h) != SBX_OK)
        SBX_BUG("cannot allocate a SHA-256 context");
    for (size_t i = 0; i < c->n; i++) {
        const struct ledger_change *e = &c->v[i];

        buf_store_u16(pre, e->klen);
        mid[0] = e->del ? OP_DEL : OP_PUT;
        buf_store_u32(mid + 1, e->vlen);
        sha256_ctx_update(&h, pre, sizeof(pre));
        sha256_ctx_update(&h, e->key, e->klen);
        sha256_ctx_update(&h, mid, sizeof(mid));
        if (e->vlen)
            sha256_ctx_update(&h, e->val, e->vlen);
    }
    sha256_ctx_final(&h, out);
    sha256_ctx_release(&h);
}

void
ledger_state_digest_next(const uint8_t prev[static 32], const uint8_t changes_hash[static 32],
                         uint8_t next[static 32])
{
    uint8_t msg[64];

    memcpy(msg, prev, 32);
    memcpy(msg + 32, changes_hash, 32);
    sha256_tagged(&SHA256_TAG_STATE, next, msg, sizeof(msg));
}
