/* The chain: store + compliance engine, block building and block validation; see chain.h.
 *
 * One implementation serves the operator and its followers: node_chain_add() is the only place
 * where a transaction meets the rules, and sealing (operator) and checking (follower) share the
 * code that turns the applied transactions into a change set, a state digest and a store batch.
 * Secondary indexes (by account, asset, rule, time) go into the same batch but not into the
 * state digest: they are derived from the block and can be rebuilt with -reindex.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include "node/chain.h"

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compliance/params.h"
#include "util/log.h"
#include "util/map.h"
#include "util/par.h"
#include "util/sha256.h"

#define RECENT_HASHES 1024

/* A state record waiting for the next checkpoint. */
struct deferred {
    uint8_t del;
    uint32_t vlen;
    uint8_t val[];
};

/* A checkpoint (every state record changed since the last one, and the height they reflect)
 * goes into a block's batch at the first block past any of these. */
#define CHECKPOINT_BLOCKS 256
#define CHECKPOINT_TXS 100000
#define CHECKPOINT_BYTES ((size_t)32 * 1024 * 1024)

static const uint8_t state_height_key[] = {LEDGER_K_META, 's', 't', 'a', 't', 'e'};

struct entry {
    size_t off;
    uint32_t len;
    struct ledger_verdict verdict;
};

/* an id recorded by a block that is not yet in the store */
struct inflight_id {
    uint8_t txid[32];
    uint64_t height;
};

struct node_chain {
    char *dir;
    struct ledger_store *store;
    struct cmp_engine *eng;
    struct ledger_tx genesis;
    uint8_t genesis_hash[32];
    struct ledger_tip tip;
    int64_t tip_time;
    /* the block being built */
    int building;
    int64_t time_ms;
    struct buf txs;
    struct entry *e;
    uint8_t (*txids)[32];
    size_t n, alloc;
    struct ledger_store_batch *batch; /* index entries so far */
    /* ids of the block being built and of sealed blocks not yet written */
    pthread_mutex_t ids_lock;
    struct map ids;
    uint8_t (*block_ids)[2 + SBX_ID_MAX + 1]; /* keys recorded by the block being built */
    uint8_t absent_key[2 + SBX_ID_MAX];       /* see find_id */
    size_t absent_len;
    size_t nblock_ids, block_ids_alloc;
    /* following */
    struct par_pool *pool; /* signature checks of a block in parallel (NULL: one thread) */
    int sync_writes;       /* blocks applied are synced (default 1) */
    int block_substantive; /* the block being built holds more than attestations */
    uint64_t last_substantive;
    int apply_dirty; /* a refused block may have left part of itself in the engine */
    /* hashes of the latest blocks (some may not be written yet), for attestations */
    struct {
        uint64_t height1; /* height + 1; 0 = empty */
        uint8_t hash[32];
    } recent[RECENT_HASHES];
    /* state checkpoints: the state records changed since the last one (key -> latest value) */
    struct map deferred;
    size_t deferred_bytes;
    uint64_t since_blocks, since_txs;
    int no_checkpoint; /* while replaying blocks whose state is being rebuilt */
#ifdef SBX_TEST_HOOKS
    int test_fault; /* 1: the next sealed block carries a flipped verdict; 2: a wrong digest */
#endif
};

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* Remove a scratch directory tree (verifychain's replay store). */
static void
rmtree(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ------------------------------------------------------------------ ids */

/* Where an id was used: an in-flight block (the map) or the store. The sequencer asks twice
 * about each new id (the node's idempotency check, then the engine's id.duplicate rule), so
 * the key that the store last reported absent is remembered and the second question costs no
 * second LevelDB read. An id reaches the store only through ids_add (which forgets the
 * remembered key when it is the one added) and the map, which is asked first. */
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

static int
find_id(struct node_chain *c, const uint8_t *key, size_t klen, uint8_t txid[static 32])
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

/* The header of the stored block at `height`. */
static int
stored_header(struct node_chain *c, uint64_t height, struct ledger_block_header *h,
              struct sbx_err *err)
{
    struct buf raw;
    int rc;

    buf_init(&raw, LEDGER_BLOCK_MAX_SIZE);
    rc = ledger_store_get_block(c->store, height, &raw, err);
    if (rc == SBX_OK && raw.len < LEDGER_HEADER_SIZE)
        rc = sbx_err_set(err, SBX_ECORRUPT, "block %llu: truncated", (unsigned long long)height);
    rc = rc ? rc : ledger_block_header_decode(h, raw.data, LEDGER_HEADER_SIZE, err);
    buf_release(&raw);
    return rc;
}

/* The engine's hook for attestations: the hash of the block at `height`. */
static int
hash_lookup(void *ctx, uint64_t height, uint8_t hash[32])
{
    struct node_chain *c = ctx;
    struct ledger_block_header h;

    if (c->tip.height == UINT64_MAX || height > c->tip.height)
        return 0;
    if (c->recent[height % RECENT_HASHES].height1 == height + 1) {
        memcpy(hash, c->recent[height % RECENT_HASHES].hash, 32);
        return 1;
    }
    if (stored_header(c, height, &h, NULL) != SBX_OK)
        return 0;
    ledger_block_hash(&h, hash);
    return 1;
}

static int
ids_lookup(void *ctx, const uint8_t *key, size_t klen)
{
    uint8_t txid[32];
    int rc = find_id(ctx, key, klen, txid);

    return rc == SBX_OK ? 1 : rc == SBX_ENOTFOUND ? 0 : -1;
}

int
node_chain_find_id(struct node_chain *c, const uint8_t *key, size_t klen, uint8_t txid[static 32])
{
    return find_id(c, key, klen, txid);
}

int
node_chain_lookup_id(struct node_chain *c, const uint8_t *key, size_t klen, uint8_t txid[static 32])
{
    return inflight_id(c, key, klen, txid) ? SBX_OK : stored_id(c, key, klen, txid);
}

static int
ids_add(struct node_chain *c, uint8_t kind, const char *id, const uint8_t txid[static 32],
        uint64_t height)
{
    uint8_t key[2 + SBX_ID_MAX + 1];
    size_t n = strnlen(id, SBX_ID_MAX);
    struct inflight_id *f = malloc(sizeof(*f));
    int rc;

    if (f == NULL)
        return SBX_ENOMEM;
    key[0] = LEDGER_K_IDEM;
    key[1] = kind;
    memcpy(key + 2, id, n);
    memcpy(f->txid, txid, 32);
    f->height = height;
    if (c->nblock_ids == c->block_ids_alloc) {
        size_t alloc = c->block_ids_alloc ? c->block_ids_alloc * 2 : 256;
        void *p = realloc(c->block_ids, alloc * sizeof(*c->block_ids));

        if (p == NULL) {
            free(f);
            return SBX_ENOMEM;
        }
        c->block_ids = p;
        c->block_ids_alloc = alloc;
    }
    if (c->absent_len == 2 + n && memcmp(c->absent_key, key, 2 + n) == 0)
        c->absent_len = 0; /* used now: forget that the store had not seen it */
    memset(c->block_ids[c->nblock_ids], 0, sizeof(c->block_ids[0]));
    memcpy(c->block_ids[c->nblock_ids], key, 2 + n);
    c->nblock_ids++;
    pthread_mutex_lock(&c->ids_lock);
    free(map_get(&c->ids, key, 2 + n));
    rc = map_put(&c->ids, key, 2 + n, f);
    pthread_mutex_unlock(&c->ids_lock);
    if (rc)
        free(f);
    return rc;
}

static void
free_id(void *ctx, const void *key, size_t klen, void *val)
{
    free(val);
}

/* Forget the in-flight ids of blocks up to `height` (they are in the store now). */
static void
ids_written(struct node_chain *c, uint64_t height, const uint8_t *keys, size_t nkeys, size_t stride)
{
    pthread_mutex_lock(&c->ids_lock);
    for (size_t i = 0; i < nkeys; i++) {
        const uint8_t *k = keys + i * stride;
        size_t klen = 2 + strnlen((const char *)k + 2, SBX_ID_MAX);
        struct inflight_id *f = map_get(&c->ids, k, klen);

        if (f && f->height <= height) {
            map_del(&c->ids, k, klen);
            free(f);
        }
    }
    pthread_mutex_unlock(&c->ids_lock);
}

struct forget {
    uint64_t height;
    uint8_t (*keys)[2 + SBX_ID_MAX + 1];
    size_t n, alloc;
};

static void
forget_pick(void *ctx, const void *key, size_t klen, void *val)
{
    struct forget *fg = ctx;
    struct inflight_id *f = val;

    if (f->height > fg->height || klen > sizeof(fg->keys[0]) - 1)
        return;
    if (fg->n == fg->alloc) {
        size_t alloc = fg->alloc ? 2 * fg->alloc : 1024;
        void *p = realloc(fg->keys, alloc * sizeof(fg->keys[0]));

        if (p == NULL)
            return; /* kept: a later checkpoint forgets it */
        fg->keys = p;
        fg->alloc = alloc;
    }
    memset(fg->keys[fg->n], 0, sizeof(fg->keys[0]));
    memcpy(fg->keys[fg->n], key, klen);
    fg->n++;
}

/* A checkpoint up to `height` is in the store: forget the in-flight ids it holds. */
static void
ids_checkpointed(struct node_chain *c, uint64_t height)
{
    struct forget fg = {height, NULL, 0, 0};

    pthread_mutex_lock(&c->ids_lock);
    map_foreach(&c->ids, forget_pick, &fg);
    pthread_mutex_unlock(&c->ids_lock);
    ids_written(c, height, (const uint8_t *)fg.keys, fg.n, sizeof(fg.keys[0]));
    free(fg.keys);
}

/* ------------------------------------------------------------------ checkpoints */

static void
free_deferred(void *ctx, const void *key, size_t klen, void *val)
{
    free(val);
}

static void
deferred_clear(struct node_chain *c)
{
    map_foreach(&c->deferred, free_deferred, NULL);
    map_release(&c->deferred);
    map_init(&c->deferred);
    c->deferred_bytes = 0;
    c->since_blocks = c->since_txs = 0;
}

/* Alerts ('L', 'K') are written with their block: they are append-only, the rules never read
 * them back, and listalerts reads them from the store. Every other state record waits for the
 * next checkpoint, so that the store's state is always that of one height. */
static int
defer_change(struct node_chain *c, struct ledger_store_batch *batch, const struct ledger_change *ch)
{
    struct deferred *d, *old;
    int rc;

    if (ch->key[0] == LEDGER_K_ALERT || ch->key[0] == LEDGER_K_ALERT_IDX) {
        if (ch->del)
            ledger_store_batch_del(batch, ch->key, ch->klen);
        else
            ledger_store_batch_put(batch, ch->key, ch->klen, ch->val, ch->vlen);
        return SBX_OK;
    }
    d = malloc(sizeof(*d) + (ch->del ? 0 : ch->vlen));
    if (d == NULL)
        return SBX_ENOMEM;
    d->del = ch->del;
    d->vlen = ch->del ? 0 : ch->vlen;
    if (d->vlen)
        memcpy(d->val, ch->val, d->vlen);
    old = map_get(&c->deferred, ch->key, ch->klen);
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

static void
put_deferred(void *ctx, const void *key, size_t klen, void *val)
{
    struct deferred *d = val;

    if (d->del)
        ledger_store_batch_del(ctx, key, klen);
    else
        ledger_store_batch_put(ctx, key, klen, d->val, d->vlen);
}

/* Add the checkpoint at `height` to `batch` and start the next one. */
static void
checkpoint_into(struct node_chain *c, struct ledger_store_batch *batch, uint64_t height)
{
    uint8_t h[8];

    map_foreach(&c->deferred, put_deferred, batch);
    buf_store_u64(h, height);
    ledger_store_batch_put(batch, state_height_key, sizeof(state_height_key), h, sizeof(h));
    deferred_clear(c);
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
    checkpoint_into(c, b, c->tip.height);
    rc = ledger_store_commit(c->store, b, 1, err);
    ledger_store_batch_free(b);
    if (rc == SBX_OK)
        ids_checkpointed(c, c->tip.height);
    return rc;
}

/* The height whose state the store's state records hold (the tip for a store written before
 * checkpoints existed). */
static int
state_height(struct node_chain *c, uint64_t *out, struct sbx_err *err)
{
    struct buf v;
    int rc;

    buf_init(&v, 16);
    rc = ledger_store_get(c->store, state_height_key, sizeof(state_height_key), &v, err);
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

/* ------------------------------------------------------------------ open / create */

static void
chain_free(struct node_chain *c)
{
    if (c == NULL)
        return;
    cmp_engine_free(c->eng);
    ledger_store_close(c->store);
    ledger_tx_release(&c->genesis);
    buf_release(&c->txs);
    free(c->e);
    free(c->txids);
    ledger_store_batch_free(c->batch);
    map_foreach(&c->ids, free_id, NULL);
    map_release(&c->ids);
    map_foreach(&c->deferred, free_deferred, NULL);
    map_release(&c->deferred);
    free(c->block_ids);
    pthread_mutex_destroy(&c->ids_lock);
    free(c->dir);
    free(c);
}

void
node_chain_close(struct node_chain *c)
{
    chain_free(c);
}

static struct node_chain *
chain_alloc(const char *dir)
{
    struct node_chain *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->dir = strdup(dir);
    if (c->dir == NULL) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->ids_lock, NULL);
    map_init(&c->ids);
    map_init(&c->deferred);
    c->sync_writes = 1;
    buf_init(&c->txs, LEDGER_BLOCK_MAX_SIZE);
    return c;
}

/* Decode block 0's genesis transaction into c->genesis and make a fresh engine from it. */
static int
load_genesis(struct node_chain *c, const uint8_t *raw, size_t len, struct sbx_err *err)
{
    struct ledger_block b;
    int rc;

    rc = ledger_block_decode(&b, raw, len, err);
    if (rc)
        return rc;
    if (b.hdr.height != 0 || b.ntx != 1) {
        rc = sbx_err_set(err, SBX_ECORRUPT, "genesis block: must be height 0 with one transaction");
        goto out;
    }
    rc = ledger_block_check(&b, err);
    if (rc)
        goto out;
    ledger_tx_release(&c->genesis);
    rc = ledger_tx_decode(&c->genesis, b.entries[0].tx, b.entries[0].tx_len, NULL, err);
    if (rc)
        goto out;
    if (c->genesis.type != LEDGER_TX_GENESIS ||
        memcmp(c->genesis.signer, c->genesis.u.genesis.operator_key, 32) != 0 ||
        memcmp(b.hdr.producer, c->genesis.u.genesis.operator_key, 32) != 0) {
        rc = sbx_err_set(err, SBX_ECORRUPT,
                         "genesis block: its transaction must be a genesis signed and produced "
                         "by the operator key");
        goto out;
    }
    {
        uint8_t txid[32];

        ledger_tx_id_raw(txid, b.entries[0].tx, b.entries[0].tx_len - 64);
        rc = ledger_keys_verify_tx(&c->genesis, txid, err);
        if (rc)
            goto out;
    }
    ledger_block_hash(&b.hdr, c->genesis_hash);
    cmp_engine_free(c->eng);
    c->eng = NULL;
    rc = cmp_engine_new(&c->eng, &c->genesis, err);
    if (rc)
        goto out;
    cmp_engine_set_id_lookup(c->eng, ids_lookup, c);
    cmp_engine_set_hash_lookup(c->eng, hash_lookup, c);
out:
    ledger_block_release(&b);
    return rc;
}

int
node_chain_make_genesis(const char *network, const struct ledger_key *operator_key,
                        const uint8_t (*regulators)[32], size_t nregulators, int directive_quorum,
                        int attestation_quorum, const struct ledger_asset_def *assets,
                        size_t nassets, const char *licence_json, int64_t time_ms, struct buf *out,
                        struct sbx_err *err)
{
    struct ledger_tx tx;
    struct ledger_genesis *g = &tx.u.genesis;
    struct cmp_engine *eng = NULL;
    struct ledger_changes ch;
    struct ledger_block b;
    struct ledger_block_entry entry;
    struct buf raw;
    uint8_t txid[32], zero[32] = {0}, h[32];
    int rc;

    ledger_tx_init(&tx, LEDGER_TX_GENESIS);
    ledger_changes_init(&ch);
    buf_init(&raw, SBX_TX_MAX_SIZE);
    memset(&b, 0, sizeof(b));
    if (strlen(network) > SBX_NETWORK_MAX || nregulators > SBX_MAX_REGULATORS ||
        nassets > SBX_MAX_ASSETS) {
        rc = sbx_err_set(err, SBX_EINVAL, "genesis: too many regulators or assets");
        goto out;
    }
    memcpy(g->network, network, strlen(network) + 1);
    memcpy(g->operator_key, operator_key->pubkey, 32);
    g->nregulators = (uint8_t)nregulators;
    memcpy(g->regulator_keys, regulators, nregulators * 32);
    g->directive_quorum = (uint8_t)directive_quorum;
    g->attestation_quorum = (uint8_t)attestation_quorum;
    g->nassets = (uint8_t)nassets;
    memcpy(g->assets, assets, nassets * sizeof(*assets));
    g->licence_json = cmp_params_canonicalize(licence_json, strlen(licence_json), err);
    if (g->licence_json == NULL) {
        rc = err ? err->code : SBX_EINVAL;
        goto out;
    }
    g->licence_len = (uint32_t)strlen(g->licence_json);
    tx.timestamp = time_ms;
    rc = ledger_keys_sign_tx(&tx, operator_key, txid, err);
    rc = rc ? rc : ledger_tx_encode(&tx, &raw, err);
    rc = rc ? rc : cmp_engine_new(&eng, &tx, err);
    rc = rc ? rc : cmp_collect(eng, &ch);
    if (rc)
        goto out;
    ledger_changes_hash(&ch, h);
    b.hdr.version = LEDGER_BLOCK_VERSION;
    b.hdr.height = 0;
    b.hdr.time_ms = time_ms;
    ledger_state_digest_next(zero, h, b.hdr.state_digest);
    memcpy(b.hdr.producer, operator_key->pubkey, 32);
    b.hdr.ntx = 1;
    b.ntx = 1;
    entry.tx = raw.data;
    entry.tx_len = (uint32_t)raw.len;
    memset(&entry.verdict, 0, sizeof(entry.verdict));
    entry.verdict.status = LEDGER_VERDICT_ACCEPTED;
    entry.verdict.param_version = 1;
    b.entries = &entry;
    rc = ledger_block_roots(&b, b.hdr.tx_root, b.hdr.verdict_root, NULL, err);
    rc = rc ? rc : ledger_block_sign(&b.hdr, operator_key);
    rc = rc ? rc : ledger_block_encode(&b, out, err);
out:
    cmp_engine_free(eng);
    ledger_changes_release(&ch);
    buf_release(&raw);
    ledger_tx_release(&tx);
    return rc;
}

int
node_chain_create(const char *dir, const uint8_t *genesis_block, size_t len, struct sbx_err *err)
{
    struct node_chain *c = chain_alloc(dir);
    struct ledger_tip tip;
    int rc;

    if (c == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    rc = ledger_store_open(&c->store, dir, 1, err);
    if (rc)
        goto out;
    if (ledger_store_tip(c->store, &tip, NULL) == SBX_OK) {
        rc = sbx_err_set(err, SBX_ECONFLICT, "%s already holds a chain", dir);
        goto out;
    }
    c->tip.height = UINT64_MAX; /* "before genesis" for node_chain_apply */
    rc = node_chain_apply(c, genesis_block, len, err);
out:
    chain_free(c);
    return rc;
}

static int replay_after_checkpoint(struct node_chain *c, struct sbx_err *err);

static int
del_one(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    ledger_store_batch_del(ctx, key, klen);
    return 0;
}

/* Remove every record but the blocks and the schema, for -reindex. */
static int
wipe_state(struct ledger_store *s, struct sbx_err *err)
{
    static const uint8_t tip_key[] = {LEDGER_K_META, 't', 'i', 'p'};
    struct ledger_store_batch *b = ledger_store_batch_new();
    int rc = SBX_OK;

    if (b == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    for (int p = 0x20; p < 0x7f && rc == SBX_OK; p++) {
        uint8_t prefix = (uint8_t)p;

        if (prefix == LEDGER_K_BLOCK || prefix == LEDGER_K_META)
            continue;
        rc = ledger_store_scan(s, &prefix, 1, NULL, 0, 0, del_one, b, err);
    }
    ledger_store_batch_del(b, tip_key, sizeof(tip_key));
    ledger_store_batch_del(b, state_height_key, sizeof(state_height_key));
    if (rc == SBX_OK)
        rc = ledger_store_commit(s, b, 1, err);
    ledger_store_batch_free(b);
    return rc;
}

static int
reindex(struct node_chain *c, struct sbx_err *err)
{
    struct ledger_tip old;
    struct buf raw;
    int rc;

    rc = ledger_store_tip(c->store, &old, err);
    if (rc)
        return rc;
    LOG_INFO(LOG_NODE, "reindex: rebuilding the state of %llu blocks",
             (unsigned long long)old.height + 1);
    rc = wipe_state(c->store, err);
    if (rc)
        return rc;
    buf_init(&raw, LEDGER_BLOCK_MAX_SIZE);
    c->tip.height = UINT64_MAX;
    /* unsynced until the checkpoint at the end, which syncs everything before it: a reindex
     * that does not finish is simply run again */
    c->sync_writes = 0;
    for (uint64_t h = 0; h <= old.height && rc == SBX_OK; h++) {
        rc = ledger_store_get_block(c->store, h, &raw, err);
        rc = rc ? rc : node_chain_apply(c, raw.data, raw.len, err);
        if (h % 1000 == 0 && h)
            LOG_INFO(LOG_NODE, "reindex: %llu blocks", (unsigned long long)h);
    }
    c->sync_writes = 1;
    if (rc == SBX_OK)
        rc = node_chain_checkpoint(c, err);
    buf_release(&raw);
    return rc;
}

int
node_chain_open(struct node_chain **out, const char *dir, int reindex_all, int checkblocks,
                struct sbx_err *err)
{
    struct node_chain *c = chain_alloc(dir);
    struct buf raw;
    uint64_t checked, failed;
    int rc;

    *out = NULL;
    if (c == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    buf_init(&raw, LEDGER_BLOCK_MAX_SIZE);
    rc = ledger_store_open(&c->store, dir, 0, err);
    rc = rc ? rc : ledger_store_get_block(c->store, 0, &raw, err);
    if (rc == SBX_ENOTFOUND)
        rc = sbx_err_set(err, SBX_ENOTFOUND, "%s holds no genesis block", dir);
    rc = rc ? rc : load_genesis(c, raw.data, raw.len, err);
    if (rc)
        goto out;
    if (reindex_all) {
        rc = reindex(c, err);
        if (rc)
            goto out;
    }
    {
        struct ledger_block_header h;

        rc = ledger_store_tip(c->store, &c->tip, err);
        rc = rc ? rc : stored_header(c, c->tip.height, &h, err);
        if (rc)
            goto out;
        c->tip_time = h.time_ms;
    }
    /* unknown after a restart: attest the tip once */
    __atomic_store_n(&c->last_substantive, c->tip.height, __ATOMIC_RELAXED);
    if (!reindex_all) { /* after a reindex the engine holds the state already */
        rc = cmp_engine_load(c->eng, c->store, err);
        rc = rc ? rc : replay_after_checkpoint(c, err);
        if (rc)
            goto out;
    }
    if (checkblocks > 0) {
        uint64_t from =
            c->tip.height >= (uint64_t)checkblocks ? c->tip.height - checkblocks + 1 : 0;

        rc = ledger_store_verify(c->store, from, c->tip.height, &checked, &failed, err);
        if (rc)
            goto out;
        LOG_INFO(LOG_NODE, "checked blocks %llu..%llu", (unsigned long long)from,
                 (unsigned long long)c->tip.height);
    }
    *out = c;
    c = NULL;
out:
    buf_release(&raw);
    chain_free(c);
    return rc;
}

/* ------------------------------------------------------------------ accessors */

struct cmp_engine *
node_chain_engine(struct node_chain *c)
{
    return c->eng;
}

struct ledger_store *
node_chain_store(struct node_chain *c)
{
    return c->store;
}

const struct ledger_tip *
node_chain_tip(const struct node_chain *c)
{
    return &c->tip;
}

const struct ledger_genesis *
node_chain_genesis(const struct node_chain *c)
{
    return &c->genesis.u.genesis;
}

const uint8_t *
node_chain_genesis_hash(const struct node_chain *c)
{
    return c->genesis_hash;
}

size_t
node_chain_pending(const struct node_chain *c)
{
    return c->n;
}

/* ------------------------------------------------------------------ building */

int
node_chain_begin(struct node_chain *c, int64_t time_ms)
{
    if (c->building)
        SBX_BUG("node_chain_begin while a block is open");
    c->building = 1;
    c->time_ms = time_ms < c->tip_time ? c->tip_time : time_ms;
    c->n = 0;
    c->nblock_ids = 0;
    c->block_substantive = 0;
    buf_reset(&c->txs);
    c->batch = ledger_store_batch_new();
    return c->batch ? SBX_OK : SBX_ENOMEM;
}

void
node_chain_abort_empty(struct node_chain *c)
{
    if (!c->building || c->n != 0)
        SBX_BUG("node_chain_abort_empty on a block with transactions");
    ledger_store_batch_free(c->batch);
    c->batch = NULL;
    c->building = 0;
}

static void
index_put(struct node_chain *c, uint8_t prefix, const char *name, int64_t time,
          const uint8_t txid[static 32], int rule)
{
    uint8_t key[1 + SBX_ID_MAX + 1 + 2 + LEDGER_INDEX_TAIL];
    size_t n = 0, l;

    key[n++] = prefix;
    if (rule >= 0) {
        buf_store_u16(key + n, (uint16_t)rule);
        n += 2;
    }
    if (name != NULL) {
        l = strnlen(name, SBX_ID_MAX);
        memcpy(key + n, name, l);
        n += l;
        key[n++] = 0;
    }
    /* POS: time, then the place on the ledger (see store.h) */
    buf_store_u64(key + n, (uint64_t)time);
    buf_store_u64(key + n + 8, c->tip.height + 1);
    buf_store_u32(key + n + 16, (uint32_t)c->n);
    memcpy(key + n + 20, txid, 32);
    n += LEDGER_INDEX_TAIL;
    ledger_store_batch_put(c->batch, key, n, "", 0);
}

static void
index_tx(struct node_chain *c, const struct ledger_tx *tx, const uint8_t txid[static 32],
         const struct ledger_verdict *v)
{
    int64_t t = tx->timestamp;

    switch (tx->type) {
    case LEDGER_TX_ACCOUNT_OPEN:
        index_put(c, LEDGER_K_BY_ACCOUNT, tx->u.account_open.account, t, txid, -1);
        break;
    case LEDGER_TX_ACCOUNT_UPDATE:
        index_put(c, LEDGER_K_BY_ACCOUNT, tx->u.account_update.account, t, txid, -1);
        break;
    case LEDGER_TX_DEPOSIT:
    case LEDGER_TX_WITHDRAWAL:
        index_put(c, LEDGER_K_BY_ACCOUNT, tx->u.transfer.account, t, txid, -1);
        break;
    case LEDGER_TX_TRADE:
        index_put(c, LEDGER_K_BY_ACCOUNT, tx->u.trade.buyer, t, txid, -1);
        index_put(c, LEDGER_K_BY_ACCOUNT, tx->u.trade.seller, t, txid, -1);
        index_put(c, LEDGER_K_BY_ASSET, tx->u.trade.asset, t, txid, -1);
        index_put(c, LEDGER_K_TRADES, NULL, t, txid, -1);
        break;
    default:
        break;
    }
    if (v->status == LEDGER_VERDICT_REJECTED) {
        index_put(c, LEDGER_K_REJECTION, NULL, t, txid, v->rule);
        index_put(c, LEDGER_K_REJECTION_ALL, NULL, t, txid, -1);
    }
}

/* Room for one more entry in the block being built. */
static int
entry_room(struct node_chain *c)
{
    if (c->n >= LEDGER_BLOCK_MAX_TXS)
        return SBX_ETOOLONG;
    if (c->n == c->alloc) {
        size_t alloc = c->alloc ? c->alloc * 2 : 1024;
        struct entry *e = realloc(c->e, alloc * sizeof(*e));
        uint8_t(*ids)[32];

        if (e == NULL)
            return SBX_ENOMEM;
        c->e = e;
        ids = realloc(c->txids, alloc * sizeof(*ids));
        if (ids == NULL)
            return SBX_ENOMEM;
        c->txids = ids;
        c->alloc = alloc;
    }
    return SBX_OK;
}

int
node_chain_add(struct node_chain *c, const uint8_t *raw, size_t len, const struct ledger_tx *tx,
               const uint8_t txid[static 32], struct cmp_result *res)
{
    struct cmp_block_ctx ctx = {c->tip.height + 1, c->time_ms};
    const char *id;
    uint8_t kind;
    int rc;

    if (!c->building)
        SBX_BUG("node_chain_add without node_chain_begin");
    rc = entry_room(c);
    if (rc)
        return rc;
    rc = cmp_evaluate(c->eng, tx, txid, &ctx, res);
    if (rc)
        return rc;
    rc = buf_put(&c->txs, raw, len);
    if (rc)
        return rc;
    rc = cmp_apply(c->eng, tx, txid, &ctx, res);
    if (rc) {
        /* the engine may be half-way through a change: nothing of it may be written */
        LOG_ERROR(LOG_NODE, "applying a verdict failed: %s", sbx_rc_name(rc));
        return SBX_EINTERNAL;
    }
    id = cmp_records_id(tx, res, &kind);
    if (id != NULL && (rc = ids_add(c, kind, id, txid, ctx.height)) != SBX_OK)
        return rc;
    c->e[c->n].off = c->txs.len - len;
    c->e[c->n].len = (uint32_t)len;
    c->e[c->n].verdict = res->verdict;
    memcpy(c->txids[c->n], txid, 32);
    index_tx(c, tx, txid, &res->verdict); /* at index c->n */
    if (tx->type != LEDGER_TX_ATTESTATION)
        c->block_substantive = 1;
    c->n++;
    return SBX_OK;
}

/* Shared by sealing (hdr_in NULL: make and sign a header) and following (hdr_in: the header
 * received, whose digest and roots must match). */
static int
finish(struct node_chain *c, const struct ledger_key *producer,
       const struct ledger_block_header *hdr_in, const uint8_t *raw_in, size_t raw_len,
       struct node_sealed *out, struct sbx_err *err)
{
    struct ledger_changes ch;
    struct ledger_block b;
    uint8_t h[32];
    int rc;

    memset(out, 0, sizeof(*out));
    buf_init(&out->block, LEDGER_BLOCK_MAX_SIZE + 1);
    ledger_changes_init(&ch);
    memset(&b, 0, sizeof(b));
    rc = cmp_collect(c->eng, &ch);
    if (rc) {
        rc = sbx_err_set(err, SBX_EINTERNAL, "collecting state changes failed");
        goto out;
    }
    ledger_changes_hash(&ch, h);
    b.hdr.version = LEDGER_BLOCK_VERSION;
    b.hdr.height = c->tip.height + 1;
    memcpy(b.hdr.prev_hash, c->tip.hash, 32);
    if (b.hdr.height == 0)
        memset(b.hdr.prev_hash, 0, 32);
    b.hdr.time_ms = c->time_ms;
    ledger_state_digest_next(b.hdr.height ? c->tip.state_digest : (const uint8_t[32]){0}, h,
                             b.hdr.state_digest);
    b.hdr.ntx = (uint32_t)c->n;
    b.ntx = c->n;
    b.entries = calloc(c->n ? c->n : 1, sizeof(*b.entries));
    if (b.entries == NULL) {
        rc = sbx_err_set(err, SBX_ENOMEM, "out of memory");
        goto out;
    }
#ifdef SBX_TEST_HOOKS
    if (hdr_in == NULL && c->test_fault == 1 && c->n > 0) {
        struct ledger_verdict *v = &c->e[0].verdict;

        if (v->status == LEDGER_VERDICT_ACCEPTED) {
            v->status = LEDGER_VERDICT_REJECTED;
            v->rule = 1;
        } else {
            memset(v, 0, sizeof(*v));
            v->status = LEDGER_VERDICT_ACCEPTED;
        }
        LOG_WARN(LOG_NODE, "test hook: block %llu carries a flipped verdict",
                 (unsigned long long)b.hdr.height);
        c->test_fault = 0;
    }
    if (hdr_in == NULL && c->test_fault == 2) {
        b.hdr.state_digest[0] ^= 1;
        LOG_WARN(LOG_NODE, "test hook: block %llu carries a wrong state digest",
                 (unsigned long long)b.hdr.height);
        c->test_fault = 0;
    }
#endif
    for (size_t i = 0; i < c->n; i++) {
        b.entries[i].tx = c->txs.data + c->e[i].off;
        b.entries[i].tx_len = c->e[i].len;
        b.entries[i].verdict = c->e[i].verdict;
    }
    if (hdr_in != NULL) {
        if (memcmp(hdr_in->state_digest, b.hdr.state_digest, 32) != 0) {
            rc = sbx_err_set(err, SBX_ECORRUPT,
                             "block %llu: state digest differs from the state the rules give",
                             (unsigned long long)b.hdr.height);
            goto out;
        }
        b.hdr = *hdr_in;
        rc = buf_put(&out->block, raw_in, raw_len);
    } else {
        uint8_t(*leaves)[32] = malloc((c->n ? c->n : 1) * 32);

        if (leaves == NULL) {
            rc = sbx_err_set(err, SBX_ENOMEM, "out of memory");
            goto out;
        }
        ledger_merkle_root((const uint8_t(*)[32])c->txids, c->n, b.hdr.tx_root);
        for (size_t i = 0; i < c->n; i++)
            ledger_verdict_hash(&c->e[i].verdict, leaves[i]);
        ledger_merkle_root((const uint8_t(*)[32])leaves, c->n, b.hdr.verdict_root);
        free(leaves);
        memcpy(b.hdr.producer, producer->pubkey, 32);
        rc = ledger_block_sign(&b.hdr, producer);
        rc = rc ? rc : ledger_block_encode(&b, &out->block, err);
    }
    if (rc)
        goto out;
    out->hdr = b.hdr;
    out->tip.height = b.hdr.height;
    ledger_block_hash(&b.hdr, out->tip.hash);
    memcpy(out->tip.state_digest, b.hdr.state_digest, 32);
    out->ntx = c->n;
    for (size_t i = 0; i < ch.n; i++) {
        rc = defer_change(c, c->batch, &ch.v[i]);
        if (rc) {
            rc = sbx_err_set(err, rc, "out of memory");
            goto out;
        }
    }
    c->since_blocks++;
    c->since_txs += c->n;
    if (!c->no_checkpoint &&
        (out->tip.height == 0 || c->since_blocks >= CHECKPOINT_BLOCKS ||
         c->since_txs >= CHECKPOINT_TXS || c->deferred_bytes >= CHECKPOINT_BYTES)) {
        checkpoint_into(c, c->batch, out->tip.height);
        out->checkpoint = 1;
    }
    ledger_store_batch_block(c->batch, &out->tip, out->block.data, out->block.len,
                             (const uint8_t(*)[32])c->txids, c->n);
    out->batch = c->batch;
    c->batch = NULL;
    out->ids = c->block_ids; /* the sealed block takes the list; the next block starts anew */
    out->nids = c->nblock_ids;
    c->block_ids = NULL;
    c->nblock_ids = c->block_ids_alloc = 0;
    c->tip = out->tip;
    c->tip_time = b.hdr.time_ms;
    c->recent[out->tip.height % RECENT_HASHES].height1 = out->tip.height + 1;
    memcpy(c->recent[out->tip.height % RECENT_HASHES].hash, out->tip.hash, 32);
    if (c->block_substantive)
        __atomic_store_n(&c->last_substantive, out->tip.height, __ATOMIC_RELAXED);
    c->building = 0;
out:
    free(b.entries);
    ledger_changes_release(&ch);
    if (rc)
        buf_release(&out->block);
    return rc;
}

int
node_chain_seal(struct node_chain *c, const struct ledger_key *producer, struct node_sealed *out,
                struct sbx_err *err)
{
    int rc;

    if (!c->building)
        SBX_BUG("node_chain_seal without node_chain_begin");
    rc = finish(c, producer, NULL, NULL, 0, out, err);
    return rc;
}

#ifdef SBX_TEST_HOOKS
void
node_chain_test_fault(struct node_chain *c, int fault)
{
    c->test_fault = fault;
}
#endif

void
node_chain_set_pool(struct node_chain *c, struct par_pool *pool)
{
    c->pool = pool;
}

void
node_chain_set_sync(struct node_chain *c, int sync)
{
    c->sync_writes = sync;
}

uint64_t
node_chain_last_substantive(const struct node_chain *c)
{
    return __atomic_load_n(&c->last_substantive, __ATOMIC_RELAXED);
}

int
node_chain_write(struct node_chain *c, struct node_sealed *s, struct sbx_err *err)
{
    int rc = ledger_store_commit(c->store, s->batch, c->sync_writes, err);

    if (rc)
        return rc;
    /* the ids up to a checkpoint are in the store now: forget the in-flight copies */
    if (s->checkpoint)
        ids_checkpointed(c, s->tip.height);
    return SBX_OK;
}

void
node_sealed_release(struct node_sealed *s)
{
    free(s->ids);
    s->ids = NULL;
    s->nids = 0;
    buf_release(&s->block);
    ledger_store_batch_free(s->batch);
    s->batch = NULL;
}

/* ------------------------------------------------------------------ following */

/* The txids of a block's transactions (blocks from our own store: already verified). */
static int
txids_of(const struct ledger_block *b, uint8_t (*txids)[32], struct sbx_err *err)
{
    for (size_t i = 0; i < b->ntx; i++) {
        struct ledger_tx tx;
        size_t ulen;
        int rc = ledger_tx_decode(&tx, b->entries[i].tx, b->entries[i].tx_len, &ulen, err);

        if (rc)
            return rc;
        ledger_tx_release(&tx);
        ledger_tx_id_raw(txids[i], b->entries[i].tx, ulen);
    }
    return SBX_OK;
}

/* The engine holds the state of the last checkpoint: apply the stored blocks after it again
 * (every verdict and state digest is checked as it was the first time), then checkpoint. */
static int
replay_after_checkpoint(struct node_chain *c, struct sbx_err *err)
{
    struct ledger_tip tip = c->tip;
    struct ledger_block_header h;
    struct buf raw;
    uint64_t sh = 0;
    int rc;

    rc = state_height(c, &sh, err);
    if (rc || sh == tip.height)
        return rc;
    if (sh > tip.height)
        return sbx_err_set(err, SBX_ECORRUPT, "state checkpoint at %llu is past the tip %llu",
                           (unsigned long long)sh, (unsigned long long)tip.height);
    buf_init(&raw, LEDGER_BLOCK_MAX_SIZE);
    rc = stored_header(c, sh, &h, err);
    if (rc)
        goto out;
    c->tip.height = sh;
    ledger_block_hash(&h, c->tip.hash);
    memcpy(c->tip.state_digest, h.state_digest, 32);
    c->tip_time = h.time_ms;
    c->no_checkpoint = 1;
    for (uint64_t ht = sh + 1; ht <= tip.height && rc == SBX_OK; ht++) {
        struct ledger_block b;
        struct node_sealed sealed;
        uint8_t(*txids)[32] = NULL;

        memset(&sealed, 0, sizeof(sealed));
        rc = ledger_store_get_block(c->store, ht, &raw, err);
        rc = rc ? rc : ledger_block_decode(&b, raw.data, raw.len, err);
        if (rc)
            break;
        txids = malloc((b.ntx ? b.ntx : 1) * 32);
        rc = txids ? txids_of(&b, txids, err) : sbx_err_set(err, SBX_ENOMEM, "out of memory");
        rc = rc ? rc
                : node_chain_apply_checked(c, raw.data, raw.len, &b, (const uint8_t(*)[32])txids, 1,
                                           &sealed, err);
        node_sealed_release(&sealed);
        free(txids);
        ledger_block_release(&b);
        if (rc)
            rc = sbx_err_set(err, SBX_ECORRUPT,
                             "replaying block %llu after the state checkpoint: %s",
                             (unsigned long long)ht, err ? err->msg : sbx_rc_name(rc));
    }
    c->no_checkpoint = 0;
    if (rc == SBX_OK && memcmp(c->tip.hash, tip.hash, 32) != 0)
        rc = sbx_err_set(err, SBX_ECORRUPT,
                         "replay after the state checkpoint did not reach the tip");
    if (rc == SBX_OK) {
        LOG_INFO(LOG_NODE, "state: checkpoint at %llu, replayed blocks %llu..%llu",
                 (unsigned long long)sh, (unsigned long long)sh + 1,
                 (unsigned long long)tip.height);
        rc = node_chain_checkpoint(c, err);
    }
out:
    buf_release(&raw);
    return rc;
}

static void
ids_clear(struct node_chain *c)
{
    pthread_mutex_lock(&c->ids_lock);
    map_foreach(&c->ids, free_id, NULL);
    map_release(&c->ids);
    map_init(&c->ids);
    pthread_mutex_unlock(&c->ids_lock);
    c->absent_len = 0;
}

static int
reload_engine(struct node_chain *c, struct sbx_err *err)
{
    struct buf raw;
    int rc;

    buf_init(&raw, LEDGER_BLOCK_MAX_SIZE);
    rc = ledger_store_get_block(c->store, 0, &raw, err);
    rc = rc ? rc : load_genesis(c, raw.data, raw.len, err);
    if (rc == SBX_OK && ledger_store_tip(c->store, &c->tip, NULL) == SBX_OK) {
        struct ledger_block_header h;

        /* the state of the last checkpoint, then the blocks after it */
        deferred_clear(c);
        ids_clear(c);
        rc = stored_header(c, c->tip.height, &h, err);
        if (rc == SBX_OK)
            c->tip_time = h.time_ms;
        rc = rc ? rc : cmp_engine_load(c->eng, c->store, err);
        rc = rc ? rc : replay_after_checkpoint(c, err);
    }
    buf_release(&raw);
    return rc;
}

int
node_chain_check_txs(const struct ledger_block *b, size_t from, size_t to, uint8_t (*txids)[32],
                     size_t *bad, struct sbx_err *err)
{
    for (size_t i = from; i < to; i++) {
        const struct ledger_block_entry *e = &b->entries[i];
        struct ledger_tx tx;
        size_t ulen;
        int rc;

        rc = ledger_tx_decode(&tx, e->tx, e->tx_len, &ulen, err);
        if (rc == SBX_OK) {
            ledger_tx_id_raw(txids[i], e->tx, ulen);
            rc = ledger_keys_verify_tx(&tx, txids[i], err);
            if (rc == SBX_OK && tx.type == LEDGER_TX_GENESIS)
                rc = sbx_err_set(err, SBX_ECORRUPT, "a genesis transaction after block 0");
            ledger_tx_release(&tx);
        }
        if (rc) {
            *bad = i;
            return rc;
        }
    }
    return SBX_OK;
}

/* node_chain_check_txs over a whole block on the pool's threads. */
struct check_all {
    const struct ledger_block *b;
    uint8_t (*txids)[32];
    size_t nslices;
    pthread_mutex_t mu;
    size_t bad; /* the first failure by index, and its message */
    char msg[SBX_ERR_MSG_MAX];
};

static void
check_slice(void *ctx, size_t k)
{
    struct check_all *ca = ctx;
    size_t n = ca->b->ntx, from = n * k / ca->nslices, to = n * (k + 1) / ca->nslices, bad;
    struct sbx_err err;

    sbx_err_clear(&err);
    if (node_chain_check_txs(ca->b, from, to, ca->txids, &bad, &err) != SBX_OK) {
        pthread_mutex_lock(&ca->mu);
        if (bad < ca->bad) {
            ca->bad = bad;
            snprintf(ca->msg, sizeof(ca->msg), "%s", err.msg);
        }
        pthread_mutex_unlock(&ca->mu);
    }
}

static int
check_all_txs(struct node_chain *c, const struct ledger_block *b, uint8_t (*txids)[32],
              struct sbx_err *err)
{
    struct check_all ca;

    memset(&ca, 0, sizeof(ca));
    ca.b = b;
    ca.txids = txids;
    ca.nslices = b->ntx < 64 ? 1 : b->ntx / 32; /* slices of about 32 signature checks */
    ca.bad = SIZE_MAX;
    pthread_mutex_init(&ca.mu, NULL);
    par_run(c->pool, ca.nslices, check_slice, &ca);
    pthread_mutex_destroy(&ca.mu);
    if (ca.bad != SIZE_MAX)
        return sbx_err_set(err, SBX_ECORRUPT, "block %llu tx %zu: %s",
                           (unsigned long long)b->hdr.height, ca.bad, ca.msg);
    return SBX_OK;
}

/* The roots of a block whose txids are known. */
static int
check_roots(const struct ledger_block *b, const uint8_t (*txids)[32], struct sbx_err *err)
{
    uint8_t root[32], (*leaves)[32];

    ledger_merkle_root(txids, b->ntx, root);
    if (memcmp(root, b->hdr.tx_root, 32) != 0)
        return sbx_err_set(err, SBX_ECORRUPT, "block %llu: tx_root does not match the transactions",
                           (unsigned long long)b->hdr.height);
    leaves = malloc((b->ntx ? b->ntx : 1) * 32);
    if (leaves == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    for (size_t i = 0; i < b->ntx; i++)
        ledger_verdict_hash(&b->entries[i].verdict, leaves[i]);
    ledger_merkle_root((const uint8_t(*)[32])leaves, b->ntx, root);
    free(leaves);
    if (memcmp(root, b->hdr.verdict_root, 32) != 0)
        return sbx_err_set(err, SBX_ECORRUPT,
                           "block %llu: verdict_root does not match the verdicts",
                           (unsigned long long)b->hdr.height);
    return SBX_OK;
}

int
node_chain_apply_checked(struct node_chain *c, const uint8_t *block, size_t len,
                         const struct ledger_block *bp, const uint8_t (*txids)[32],
                         int header_checked, struct node_sealed *sealed, struct sbx_err *err)
{
    const struct ledger_block *b = bp;
    uint64_t height = c->tip.height + 1;
    int rc;

    memset(sealed, 0, sizeof(*sealed));
    if (c->tip.height == UINT64_MAX)
        SBX_BUG("node_chain_apply_checked before genesis");
    if (b->hdr.height != height)
        return sbx_err_set(err, SBX_EINVAL, "block: height %llu, expected %llu",
                           (unsigned long long)b->hdr.height, (unsigned long long)height);
    if (memcmp(b->hdr.prev_hash, c->tip.hash, 32) != 0)
        return sbx_err_set(err, SBX_ECORRUPT, "block %llu: does not link to our tip",
                           (unsigned long long)height);
    if (memcmp(b->hdr.producer, c->genesis.u.genesis.operator_key, 32) != 0)
        return sbx_err_set(err, SBX_ECORRUPT, "block %llu: not produced by the operator key",
                           (unsigned long long)height);
    if (b->hdr.time_ms < c->tip_time)
        return sbx_err_set(err, SBX_ECORRUPT, "block %llu: time goes backwards",
                           (unsigned long long)height);
    if (b->ntx != b->hdr.ntx)
        return sbx_err_set(err, SBX_ECORRUPT,
                           "block %llu: header says %lu transactions, block has %zu",
                           (unsigned long long)height, (unsigned long)b->hdr.ntx, b->ntx);
    if (!header_checked && (rc = ledger_block_verify_sig(&b->hdr, err)) != SBX_OK)
        return rc;
    rc = check_roots(b, txids, err);
    if (rc)
        return rc;
    rc = node_chain_begin(c, b->hdr.time_ms);
    if (rc)
        return rc;
    c->apply_dirty = 1;
    for (size_t i = 0; i < b->ntx; i++) {
        struct ledger_tx tx;
        struct cmp_result res;
        uint8_t venc[LEDGER_VERDICT_SIZE], wenc[LEDGER_VERDICT_SIZE];

        /* decoded and checked by node_chain_check_txs; decoding again is cheaper than
         * keeping every decoded transaction of a block */
        rc = ledger_tx_decode(&tx, b->entries[i].tx, b->entries[i].tx_len, NULL, err);
        rc = rc ? rc
                : node_chain_add(c, b->entries[i].tx, b->entries[i].tx_len, &tx, txids[i], &res);
        ledger_tx_release(&tx);
        if (rc) {
            rc = sbx_err_set(err, SBX_ECORRUPT, "block %llu tx %zu: %s", (unsigned long long)height,
                             i, err ? err->msg : sbx_rc_name(rc));
            goto out;
        }
        ledger_verdict_encode(&res.verdict, venc);
        ledger_verdict_encode(&b->entries[i].verdict, wenc);
        if (memcmp(venc, wenc, sizeof(venc)) != 0) {
            const char *want = cmp_rule_name(res.verdict.rule);
            const char *got = cmp_rule_name(b->entries[i].verdict.rule);

            rc = sbx_err_set(err, SBX_ECORRUPT,
                             "block %llu tx %zu: verdict differs: the block says %s, the rules "
                             "say %s",
                             (unsigned long long)height, i, got ? got : "accepted",
                             want ? want : "accepted");
            goto out;
        }
    }
    rc = finish(c, NULL, &b->hdr, block, len, sealed, err);
    if (rc == SBX_OK)
        c->apply_dirty = 0;
out:
    if (c->building) {
        /* refused: the engine may hold part of the block; see node_chain_reload */
        ledger_store_batch_free(c->batch);
        c->batch = NULL;
        c->building = 0;
    }
    return rc;
}

/* Block 0 (node_chain_create, reindex, replay): recorded as is once load_genesis checked it. */
static int
apply_genesis(struct node_chain *c, const uint8_t *block, size_t len, const struct ledger_block *b,
              struct node_sealed *sealed, struct sbx_err *err)
{
    int rc = load_genesis(c, block, len, err);

    rc = rc ? rc : node_chain_begin(c, b->hdr.time_ms);
    rc = rc ? rc : entry_room(c);
    rc = rc ? rc : buf_put(&c->txs, b->entries[0].tx, b->entries[0].tx_len);
    if (rc == SBX_OK) {
        c->e[0].off = 0;
        c->e[0].len = b->entries[0].tx_len;
        c->e[0].verdict = b->entries[0].verdict;
        ledger_tx_id_raw(c->txids[0], b->entries[0].tx, b->entries[0].tx_len - 64);
        c->n = 1;
        rc = finish(c, NULL, &b->hdr, block, len, sealed, err);
    }
    if (c->building) {
        ledger_store_batch_free(c->batch);
        c->batch = NULL;
        c->building = 0;
    }
    return rc;
}

int
node_chain_apply_seal(struct node_chain *c, const uint8_t *block, size_t len,
                      struct node_sealed *sealed, struct sbx_err *err)
{
    struct ledger_block b;
    uint8_t(*txids)[32] = NULL;
    int rc;

    memset(sealed, 0, sizeof(*sealed));
    rc = ledger_block_decode(&b, block, len, err);
    if (rc)
        return rc;
    if (c->tip.height == UINT64_MAX) {
        rc = b.hdr.height == 0 ? apply_genesis(c, block, len, &b, sealed, err)
                               : sbx_err_set(err, SBX_EINVAL, "block: height %llu, expected 0",
                                             (unsigned long long)b.hdr.height);
        goto out;
    }
    if (b.hdr.height != c->tip.height + 1) {
        rc = sbx_err_set(err, SBX_EINVAL, "block: height %llu, expected %llu",
                         (unsigned long long)b.hdr.height, (unsigned long long)c->tip.height + 1);
        goto out;
    }
    txids = malloc((b.ntx ? b.ntx : 1) * 32);
    rc = txids ? ledger_block_verify_sig(&b.hdr, err)
               : sbx_err_set(err, SBX_ENOMEM, "out of memory");
    rc = rc ? rc : check_all_txs(c, &b, txids, err);
    rc = rc ? rc
            : node_chain_apply_checked(c, block, len, &b, (const uint8_t(*)[32])txids, 1, sealed,
                                       err);
out:
    free(txids);
    ledger_block_release(&b);
    return rc;
}

int
node_chain_reload(struct node_chain *c, struct sbx_err *err)
{
    if (!c->apply_dirty)
        return SBX_OK;
    c->apply_dirty = 0;
    /* forget the ids of a refused block, then rebuild the engine from the store */
    ids_written(c, UINT64_MAX, (const uint8_t *)c->block_ids, c->nblock_ids,
                sizeof(c->block_ids[0]));
    c->nblock_ids = 0;
    return reload_engine(c, err);
}

int
node_chain_apply(struct node_chain *c, const uint8_t *block, size_t len, struct sbx_err *err)
{
    struct node_sealed sealed;
    uint64_t height = c->tip.height + 1;
    int rc;

    rc = node_chain_apply_seal(c, block, len, &sealed, err);
    rc = rc ? rc : node_chain_write(c, &sealed, err);
    node_sealed_release(&sealed);
    if (rc && height > 0) {
        struct sbx_err e2;

        if (node_chain_reload(c, &e2) != SBX_OK)
            LOG_ERROR(LOG_NODE, "cannot reload the state after a refused block: %s", e2.msg);
    }
    return rc;
}

int
node_chain_write_all(struct node_chain *c, struct node_sealed **s, size_t n, struct sbx_err *err)
{
    int rc;

    if (n == 0)
        return SBX_OK;
    for (size_t i = 1; i < n; i++)
        ledger_store_batch_append(s[0]->batch, s[i]->batch);
    rc = ledger_store_commit(c->store, s[0]->batch, c->sync_writes, err);
    if (rc)
        return rc;
    for (size_t i = n; i-- > 0;) {
        if (s[i]->checkpoint) {
            ids_checkpointed(c, s[i]->tip.height);
            break;
        }
    }
    return SBX_OK;
}

int
node_chain_replay_check(struct node_chain *c, uint64_t from, uint64_t to, uint64_t *checked,
                        uint64_t *failed_at, const int *cancel, struct sbx_err *err)
{
    char *tmpdir = NULL;
    struct node_chain *r = NULL;
    struct buf raw;
    struct ledger_tip tip;
    int rc;

    *checked = 0;
    *failed_at = 0;
    buf_init(&raw, LEDGER_BLOCK_MAX_SIZE);
    rc = ledger_store_tip(c->store, &tip, err);
    if (rc)
        goto out;
    if (to > tip.height)
        to = tip.height;
    /* a scratch chain in a temporary store, fed the stored blocks one by one */
    {
        const char *base = getenv("TMPDIR");
        size_t n = strlen(base ? base : "/tmp") + 32;

        tmpdir = malloc(n);
        if (tmpdir == NULL) {
            rc = sbx_err_set(err, SBX_ENOMEM, "out of memory");
            goto out;
        }
        snprintf(tmpdir, n, "%s/sbx-verify.XXXXXX", base ? base : "/tmp");
        if (mkdtemp(tmpdir) == NULL) {
            rc = sbx_err_set(err, SBX_EIO, "cannot make a scratch directory");
            goto out;
        }
    }
    r = chain_alloc(tmpdir);
    if (r == NULL) {
        rc = sbx_err_set(err, SBX_ENOMEM, "out of memory");
        goto out;
    }
    {
        size_t n = strlen(tmpdir) + 8;
        char *db = malloc(n);

        if (db == NULL) {
            rc = sbx_err_set(err, SBX_ENOMEM, "out of memory");
            goto out;
        }
        snprintf(db, n, "%s/db", tmpdir);
        rc = ledger_store_open(&r->store, db, 1, err);
        free(db);
        if (rc)
            goto out;
    }
    r->tip.height = UINT64_MAX;
    r->pool = c->pool;
    r->sync_writes = 0; /* a scratch store */
    for (uint64_t h = 0; h <= to; h++) {
        if (cancel != NULL && __atomic_load_n(cancel, __ATOMIC_RELAXED)) {
            rc = sbx_err_set(err, SBX_EUNAVAIL, "verification stopped: the node is stopping");
            goto out;
        }
        rc = ledger_store_get_block(c->store, h, &raw, err);
        rc = rc ? rc : node_chain_apply(r, raw.data, raw.len, err);
        if (rc) {
            *failed_at = h;
            goto out;
        }
        if (h >= from)
            (*checked)++;
    }
out:
    buf_release(&raw);
    chain_free(r);
    if (tmpdir) {
        rmtree(tmpdir);
        free(tmpdir);
    }
    return rc;
}
