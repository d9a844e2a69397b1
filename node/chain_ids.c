/* Idempotency ids of blocks not yet in the store (part of the chain; see chain_internal.h).
 *
 * A block records the ids its transactions use ('I' records, written with the next state
 * checkpoint). Until then a map of in-flight ids (key -> txid, height) answers for them, so
 * that the sequencer and RPC threads see an id as used from the moment its transaction is
 * applied. The map is guarded by ids_lock; everything else here belongs to the sequencer.
 *
 * Threads: node_chain_lookup_id from any thread (RPC); node_chain_ids_checkpointed from the
 * sequencer or the committer (after a write); everything else from the sequencer.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "node/chain_internal.h"
#include "util/array.h"

/* an id recorded by a block that is not yet in the store */
struct inflight_id {
    uint8_t txid[32];
    uint64_t height;
};

/* The store key of id `id` of `kind` ('I' kind id, NUL-padded to NODE_CHAIN_IDKEY); returns
 * its length. */
static size_t
idem_key(uint8_t key[static NODE_CHAIN_IDKEY], uint8_t kind, const char *id)
{
    memset(key, 0, NODE_CHAIN_IDKEY);
    return ledger_store_key_idem(key, kind, id);
}

static void
free_id(void *ctx, const void *key, size_t klen, void *val)
{
    free(val);
}

void
node_chain_ids_init(struct node_chain *c)
{
    pthread_mutex_init(&c->ids_lock, NULL);
    map_init(&c->ids);
}

void
node_chain_ids_release(struct node_chain *c)
{
    map_foreach(&c->ids, free_id, NULL);
    map_release(&c->ids);
    free(c->block_ids);
    pthread_mutex_destroy(&c->ids_lock);
}

/* Where an id was used: an in-flight block (the map) or the store. The sequencer asks twice
 * about each new id (the node's idempotency check, then the engine's id.duplicate rule), so
 * the key that the store last reported absent is remembered and the second question costs no
 * second LevelDB read. An id reaches the store only through node_chain_ids_add (which forgets
 * the remembered key when it is the one added) and the map, which is asked first. */
static int
inflight_id(struct node_chain *c, const uint8_t *key, size_t klen, uint8_t txid[static 32])
{
    struct inflight_id *f;

    pthread_mutex_lock(&c->ids_lock);
    f = map_get(&c->ids, key, klen);
    if (f)
        memcpy(txid, f->txid, 32);
    pthread_mutex_unlock(&c->ids_lock);
    return f != NULL;
}

static int
stored_id(struct node_chain *c, const uint8_t *key, size_t klen, uint8_t txid[static 32])
{
    struct buf v;
    int rc;

    buf_init(&v, 64);
    rc = ledger_store_get(c->store, key, klen, &v, NULL);
    if (rc == SBX_OK && v.len != 32)
        rc = SBX_ECORRUPT;
    if (rc == SBX_OK)
        memcpy(txid, v.data, 32);
    buf_release(&v);
    return rc;
}

int
node_chain_find_id(struct node_chain *c, const uint8_t *key, size_t klen, uint8_t txid[static 32])
{
    int rc;

    if (inflight_id(c, key, klen, txid))
        return SBX_OK;
    if (klen == c->absent_len && memcmp(key, c->absent_key, klen) == 0)
        return SBX_ENOTFOUND;
    rc = stored_id(c, key, klen, txid);
    if (rc == SBX_ENOTFOUND && klen <= sizeof(c->absent_key)) {
        memcpy(c->absent_key, key, klen);
        c->absent_len = klen;
    }
    return rc;
}

int
node_chain_lookup_id(struct node_chain *c, const uint8_t *key, size_t klen, uint8_t txid[static 32])
{
    return inflight_id(c, key, klen, txid) ? SBX_OK : stored_id(c, key, klen, txid);
}

int
node_chain_ids_lookup(void *ctx, const uint8_t *key, size_t klen)
{
    uint8_t txid[32];
    int rc = node_chain_find_id(ctx, key, klen, txid);

    return rc == SBX_OK ? 1 : rc == SBX_ENOTFOUND ? 0 : -1;
}

int
node_chain_ids_add(struct node_chain *c, uint8_t kind, const char *id,
                   const uint8_t txid[static 32], uint64_t height)
{
    uint8_t key[NODE_CHAIN_IDKEY];
    size_t klen = idem_key(key, kind, id);
    struct inflight_id *f = malloc(sizeof(*f));
    int rc;

    if (f == NULL)
        return SBX_ENOMEM;
    memcpy(f->txid, txid, 32);
    f->height = height;
    if (array_reserve(&c->block_ids, c->nblock_ids + 1, &c->block_ids_alloc, sizeof(*c->block_ids),
                      256) != SBX_OK) {
        free(f);
        return SBX_ENOMEM;
    }
    if (c->absent_len == klen && memcmp(c->absent_key, key, klen) == 0)
        c->absent_len = 0; /* used now: forget that the store had not seen it */
    memcpy(c->block_ids[c->nblock_ids], key, NODE_CHAIN_IDKEY);
    c->nblock_ids++;
    pthread_mutex_lock(&c->ids_lock);
    free(map_get(&c->ids, key, klen));
    rc = map_put(&c->ids, key, klen, f);
    pthread_mutex_unlock(&c->ids_lock);
    if (rc)
        free(f);
    return rc;
}

void
node_chain_ids_written(struct node_chain *c, uint64_t height,
                       const uint8_t (*keys)[NODE_CHAIN_IDKEY], size_t nkeys)
{
    pthread_mutex_lock(&c->ids_lock);
    for (size_t i = 0; i < nkeys; i++) {
        const uint8_t *k = keys[i];
        size_t klen = 2 + strnlen((const char *)k + 2, SBX_ID_MAX);
        struct inflight_id *f = map_get(&c->ids, k, klen);

        if (f && f->height <= height) {
            map_del(&c->ids, k, klen);
            free(f);
        }
    }
    pthread_mutex_unlock(&c->ids_lock);
}

/* The keys of the in-flight ids of blocks up to `height`. */
struct forget {
    uint64_t height;
    uint8_t (*keys)[NODE_CHAIN_IDKEY];
    size_t n, alloc;
};

static void
forget_pick(void *ctx, const void *key, size_t klen, void *val)
{
    struct forget *fg = ctx;
    struct inflight_id *f = val;

    if (f->height > fg->height || klen > sizeof(fg->keys[0]) - 1)
        return;
    if (array_reserve(&fg->keys, fg->n + 1, &fg->alloc, sizeof(fg->keys[0]), 1024) != SBX_OK)
        return; /* kept: a later checkpoint forgets it */
    memset(fg->keys[fg->n], 0, sizeof(fg->keys[0]));
    memcpy(fg->keys[fg->n], key, klen);
    fg->n++;
}

void
node_chain_ids_checkpointed(struct node_chain *c, uint64_t height)
{
    struct forget fg = {height, NULL, 0, 0};

    pthread_mutex_lock(&c->ids_lock);
    map_foreach(&c->ids, forget_pick, &fg);
    pthread_mutex_unlock(&c->ids_lock);
    node_chain_ids_written(c, height, (const uint8_t(*)[NODE_CHAIN_IDKEY])fg.keys, fg.n);
    free(fg.keys);
}

void
node_chain_ids_clear(struct node_chain *c)
{
    pthread_mutex_lock(&c->ids_lock);
    map_foreach(&c->ids, free_id, NULL);
    map_release(&c->ids);
    map_init(&c->ids);
    pthread_mutex_unlock(&c->ids_lock);
    c->absent_len = 0;
}
