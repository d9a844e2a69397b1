/* State checkpoints of the chain (see node_chain_checkpoint in chain.h and chain_internal.h).
 *
 * A block's batch holds the block, its indexes and the tip. The state records it changes
 * (accounts, usage, parameters, lists, ids) wait here, latest value per key, and go into the
 * store together as one checkpoint with the height they reflect: every CHECKPOINT_BLOCKS
 * blocks, CHECKPOINT_TXS transactions or CHECKPOINT_BYTES bytes, at genesis, and on
 * node_chain_checkpoint. The store's state is thus always that of one height; opening a chain
 * replays the blocks after it.
 *
 * Threads: all from the sequencer (node_chain_checkpoint also at shutdown, with no block open).
 */
#include <stdlib.h>
#include <string.h>

#include "node/chain_internal.h"

/* A checkpoint goes into a block's batch at the first block past any of these. */
#define CHECKPOINT_BLOCKS 256
#define CHECKPOINT_TXS 20000
#define CHECKPOINT_BYTES ((size_t)32 * 1024 * 1024)

/* A state record waiting for the next checkpoint. */
struct deferred {
    uint8_t del;
    uint32_t vlen;
    uint32_t cap; /* room in val: a later value that fits is copied in place */
    uint8_t val[];
};

static void
free_deferred(void *ctx, const void *key, size_t klen, void *val)
{
    free(val);
}

void
node_chain_checkpoint_init(struct node_chain *c)
{
    map_init(&c->deferred);
}

void
node_chain_checkpoint_release(struct node_chain *c)
{
    map_foreach(&c->deferred, free_deferred, NULL);
    map_release(&c->deferred);
}

void
node_chain_checkpoint_clear(struct node_chain *c)
{
    node_chain_checkpoint_release(c);
    map_init(&c->deferred);
    c->deferred_bytes = 0;
    c->since_blocks = c->since_txs = 0;
}

/* Alerts ('L', 'K') are written with their block: they are append-only, the rules never read
 * them back, and listalerts reads them from the store. Every other state record waits for the
 * next checkpoint, so that the store's state is always that of one height. */
int
node_chain_checkpoint_defer(struct node_chain *c, struct ledger_store_batch *batch,
                            const struct ledger_change *ch)
{
    struct deferred *d, *old;
    int rc;

    if (ledger_store_key_is_alert(ch->key, ch->klen)) {
        if (ch->del)
            ledger_store_batch_del(batch, ch->key, ch->klen);
        else
            ledger_store_batch_put(batch, ch->key, ch->klen, ch->val, ch->vlen);
        return SBX_OK;
    }
    old = map_get(&c->deferred, ch->key, ch->klen);
    if (old != NULL && (ch->del || ch->vlen <= old->cap)) {
        /* the same records change block after block (a busy account): no allocation */
        c->deferred_bytes -= old->vlen;
        old->del = ch->del;
        old->vlen = ch->del ? 0 : ch->vlen;
        if (old->vlen)
            memcpy(old->val, ch->val, old->vlen);
        c->deferred_bytes += old->vlen;
        return SBX_OK;
    }
    d = malloc(sizeof(*d) + (ch->del ? 0 : ch->vlen));
    if (d == NULL)
        return SBX_ENOMEM;
    d->del = ch->del;
    d->vlen = d->cap = ch->del ? 0 : ch->vlen;
    if (d->vlen)
        memcpy(d->val, ch->val, d->vlen);
    rc = map_put(&c->deferred, ch->key, ch->klen, d);
    if (rc) {
        free(d);
        return rc;
    }
    if (old) {
        c->deferred_bytes -= old->vlen + ch->klen;
        free(old);
    }
    c->deferred_bytes += d->vlen + ch->klen;
    return SBX_OK;
}

int
node_chain_checkpoint_due(const struct node_chain *c, uint64_t height)
{
    return !c->no_checkpoint &&
           (height == 0 || c->since_blocks >= CHECKPOINT_BLOCKS || c->since_txs >= CHECKPOINT_TXS ||
            c->deferred_bytes >= CHECKPOINT_BYTES);
}

struct put_ctx {
    struct ledger_store_batch *batch;
    uint64_t height;
};

/* A deferred record into the checkpoint's batch, and its version at the checkpoint's height
 * into the history ('V' key: the record, or empty when deleted), from which node/asof.c reads
 * the state as of any height. */
static void
put_deferred(void *ctx, const void *key, size_t klen, void *val)
{
    struct put_ctx *p = ctx;
    struct deferred *d = val;
    uint8_t hkey[LEDGER_STORE_KEY_HISTORY_MAX];

    if (d->del)
        ledger_store_batch_del(p->batch, key, klen);
    else
        ledger_store_batch_put(p->batch, key, klen, d->val, d->vlen);
    if (ledger_store_key_is_state(key, klen))
        ledger_store_batch_put(p->batch, hkey, ledger_store_key_history(hkey, key, klen, p->height),
                               d->val, d->vlen);
}

/* The tally record: for each count that is not zero, u8 class (0 transactions by type and
 * verdict, 1 rejections by rule, 2 alerts by kind), u16 index, u64 count. A transaction count's
 * index is type * 2 + (1 if rejected). */
#define TALLY_ENTRY 11

static size_t
tally_put(uint8_t *p, uint8_t cls, size_t idx, uint64_t v)
{
    if (v == 0)
        return 0;
    p[0] = cls;
    p[1] = (uint8_t)(idx >> 8);
    p[2] = (uint8_t)idx;
    buf_store_u64(p + 3, v);
    return TALLY_ENTRY;
}

static void
tally_into(const struct node_tally *t, struct ledger_store_batch *batch)
{
    uint8_t rec[(NODE_TALLY_TYPES * 2 + NODE_TALLY_RULES + NODE_TALLY_ALERTS) * TALLY_ENTRY];
    uint8_t key[LEDGER_STORE_KEY_META_MAX];
    size_t len = 0;

    for (size_t i = 0; i < NODE_TALLY_TYPES * 2; i++)
        len += tally_put(rec + len, 0, i, t->tx[i / 2][i % 2]);
    for (size_t i = 0; i < NODE_TALLY_RULES; i++)
        len += tally_put(rec + len, 1, i, t->rejections[i]);
    for (size_t i = 0; i < NODE_TALLY_ALERTS; i++)
        len += tally_put(rec + len, 2, i, t->alerts[i]);
    ledger_store_batch_put(batch, key, ledger_store_key_meta_tally(key), rec, len);
}

int
node_chain_checkpoint_load_tally(struct node_chain *c, struct sbx_err *err)
{
    uint8_t key[LEDGER_STORE_KEY_META_MAX];
    struct node_tally *t = &c->tally;
    struct buf v;
    int rc;

    memset(t, 0, sizeof(*t));
    buf_init(&v, sizeof(*t) * 2);
    rc = ledger_store_get(c->store, key, ledger_store_key_meta_tally(key), &v, err);
    if (rc == SBX_ENOTFOUND) {
        rc = SBX_OK; /* a store written before tallies: the counts start now */
        goto out;
    }
    if (rc == SBX_OK && v.len % TALLY_ENTRY != 0)
        rc = sbx_err_set(err, SBX_ECORRUPT, "tally record is malformed");
    for (size_t off = 0; rc == SBX_OK && off < v.len; off += TALLY_ENTRY) {
        const uint8_t *p = v.data + off;
        size_t idx = (size_t)p[1] << 8 | p[2];
        uint64_t n = buf_load_u64(p + 3);

        if (p[0] == 0 && idx < NODE_TALLY_TYPES * 2)
            t->tx[idx / 2][idx % 2] = n;
        else if (p[0] == 1 && idx < NODE_TALLY_RULES)
            t->rejections[idx] = n;
        else if (p[0] == 2 && idx < NODE_TALLY_ALERTS)
            t->alerts[idx] = n;
    }
out:
    buf_release(&v);
    return rc;
}

void
node_chain_checkpoint_into(struct node_chain *c, struct ledger_store_batch *batch, uint64_t height)
{
    uint8_t h[8], key[LEDGER_STORE_KEY_META_MAX], mark[LEDGER_STORE_KEY_HISTORY_MAX];
    size_t klen = ledger_store_key_meta_state(key);
    struct put_ctx p = {batch, height};

    map_foreach(&c->deferred, put_deferred, &p);
    /* the history's mark of a checkpoint: the versions above are complete up to `height` */
    ledger_store_batch_put(batch, mark,
                           ledger_store_key_history(mark, (const uint8_t *)"", 0, height), "", 0);
    buf_store_u64(h, height);
    ledger_store_batch_put(batch, key, klen, h, sizeof(h));
    tally_into(&c->tally, batch);
    node_chain_checkpoint_clear(c);
}

int
node_chain_checkpoint(struct node_chain *c, struct sbx_err *err)
{
    struct ledger_store_batch *b;
    int rc;

    if (c->building)
        SBX_BUG("node_chain_checkpoint with a block open");
    if (c->since_blocks == 0 && c->deferred_bytes == 0)
        return SBX_OK;
    b = ledger_store_batch_new();
    if (b == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    node_chain_checkpoint_into(c, b, c->tip.height);
    rc = ledger_store_commit(c->store, b, 1, err);
    ledger_store_batch_free(b);
    if (rc == SBX_OK)
        node_chain_ids_checkpointed(c, c->tip.height);
    return rc;
}

int
node_chain_checkpoint_height(struct node_chain *c, uint64_t *out, struct sbx_err *err)
{
    uint8_t key[LEDGER_STORE_KEY_META_MAX];
    size_t klen = ledger_store_key_meta_state(key);
    struct buf v;
    int rc;

    buf_init(&v, 16);
    rc = ledger_store_get(c->store, key, klen, &v, err);
    if (rc == SBX_ENOTFOUND) {
        *out = c->tip.height;
        rc = SBX_OK;
    } else if (rc == SBX_OK) {
        if (v.len != 8)
            rc = sbx_err_set(err, SBX_ECORRUPT, "state height record is malformed");
        else
            *out = buf_load_u64(v.data);
    }
    buf_release(&v);
    return rc;
}

static int
del_one(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    ledger_store_batch_del(ctx, key, klen);
    return 0;
}

int
node_chain_checkpoint_wipe(struct ledger_store *s, struct sbx_err *err)
{
    struct ledger_store_batch *b = ledger_store_batch_new();
    uint8_t key[LEDGER_STORE_KEY_META_MAX];
    int rc = SBX_OK;

    if (b == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    /* every kind but the blocks and the meta records; of those, the tip and the state height */
    for (int p = 0x20; p < 0x7f && rc == SBX_OK; p++) {
        uint8_t prefix = (uint8_t)p;

        if (prefix == LEDGER_K_BLOCK || prefix == LEDGER_K_META)
            continue;
        rc = ledger_store_scan(s, &prefix, 1, NULL, 0, 0, del_one, b, err);
    }
    ledger_store_batch_del(b, key, ledger_store_key_meta_tip(key));
    ledger_store_batch_del(b, key, ledger_store_key_meta_state(key));
    ledger_store_batch_del(b, key, ledger_store_key_meta_tally(key));
    if (rc == SBX_OK)
        rc = ledger_store_commit(s, b, 1, err);
    ledger_store_batch_free(b);
    return rc;
}
