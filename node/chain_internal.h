/* Internal to node/chain*.c: the chain object and the functions its files share. Not part of
 * the API of node/ (that is node/chain.h); nothing outside node/chain*.c includes this file.
 *
 *   chain.c             open, create, close, reindex, reload, replay; accessors
 *   chain_genesis.c     making and loading the genesis block
 *   chain_build.c       building a block: begin, add, seal (the shared finish), write
 *   chain_apply.c       following: validate and apply a block received
 *   chain_index.c       secondary indexes (by account, asset, rule, time) of a block's batch
 *   chain_ids.c         idempotency ids of blocks not yet in the store
 *   chain_checkpoint.c  state records deferred to the next checkpoint
 *   chain_replay.c      stored blocks applied again (reindex, replay, verifychain), checked ahead
 *
 * Threads: the sequencer (the operator's block builder, or the follower's applier) owns every
 * field of struct node_chain except `ids`/`ids_lock` (also read by RPC threads through
 * node_chain_lookup_id and by the committer) and `last_substantive` (atomic).
 */
#ifndef SBX_NODE_CHAIN_INTERNAL_H
#define SBX_NODE_CHAIN_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "node/chain.h"
#include "util/map.h"

#define RECENT_HASHES 1024

/* One transaction of the block being built: where its encoding is in `txs`, and its verdict. */
struct node_chain_entry {
    size_t off;
    uint32_t len;
    struct ledger_verdict verdict;
};

/* The size of an idempotency key as a block records it (NUL-padded). */
#define NODE_CHAIN_IDKEY (2 + SBX_ID_MAX + 1)

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
    struct node_chain_entry *e;
    uint8_t (*txids)[32];
    size_t n, alloc;
    struct ledger_store_batch *batch; /* index entries so far */
    /* ids of the block being built and of sealed blocks not yet written */
    pthread_mutex_t ids_lock;
    struct map ids;                         /* guarded by ids_lock */
    uint8_t (*block_ids)[NODE_CHAIN_IDKEY]; /* keys recorded by the block being built */
    uint8_t absent_key[2 + SBX_ID_MAX];     /* see chain_ids.c */
    size_t absent_len;
    size_t nblock_ids, block_ids_alloc;
    /* following */
    struct par_pool *pool; /* signature checks of a block in parallel (NULL: one thread) */
    int sync_writes;       /* blocks written are synced (default 1; 0 for reindex, replay) */
    int block_substantive; /* the block being built holds more than attestations */
    _Atomic uint64_t last_substantive; /* any thread */
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
    int no_checkpoint;         /* while replaying blocks whose state is being rebuilt */
    struct node_tally tally;   /* up to the block being built; kept with each checkpoint */
    struct cmp_alert *balerts; /* the alerts of the block being built */
    size_t nbalerts, balerts_alloc;
#ifdef SBX_TEST_HOOKS
    int test_fault;      /* 1: the next sealed block carries a flipped verdict; 2: a wrong digest;
                            3: the next transaction signed is backdated */
    int test_liab_short; /* the next liabilities record is one base unit short */
#endif
};

/* Make room for element `n` of the array whose pointer is at `arrp` (a `T **`), of *alloc
 * elements of `size` bytes: when full it doubles, or starts at `first`. SBX_ENOMEM leaves the
 * array and *alloc as they were. The one way the chain's arrays grow. */

/* chain.c */
/* A fresh chain object for `dir` (no store opened). NULL when out of memory. */
struct node_chain *node_chain_alloc(const char *dir);
/* The header of the stored block at `height`. */
int node_chain_stored_header(struct node_chain *c, uint64_t height, struct ledger_block_header *h,
                             struct sbx_err *err) SBX_WARN_UNUSED;
/* The engine's hook for attestations: 1 and the hash of the block at `height`, or 0. */
int node_chain_hash_lookup(void *ctx, uint64_t height, uint8_t hash[32]);

/* chain_replay.c */
struct node_chain_replay_opts {
    struct ledger_store *src; /* where the blocks are read (the chain's own store, or another) */
    int verify;               /* check the header and transaction signatures too */
    int write;                /* write each block's batch (else only the engine's state moves) */
    const atomic_int *cancel; /* stop between blocks when set (NULL: never) */
    const char *progress;     /* log "<progress>: N blocks" every 1,000 blocks (NULL: quiet) */
};
/* Apply the stored blocks `from`..`to` of o->src to `c` in order (`c`'s tip is the block before
 * `from`, or none for `from` 0), the stateless checks of the next blocks running on c->pool
 * meanwhile. On failure *failed_at is the height refused and nothing is reloaded: the engine
 * may hold part of that block (the caller discards the chain, or reloads it). Uses c->pool
 * (one par_start at a time), so it must not run inside a par_run of that pool. */
int node_chain_replay(struct node_chain *c, const struct node_chain_replay_opts *o, uint64_t from,
                      uint64_t to, uint64_t *failed_at, struct sbx_err *err) SBX_WARN_UNUSED;

/* chain_liabilities.c */
/* Keep the balances behind an accepted liabilities record in the block's batch ('W'). */
void node_chain_liabilities_keep(struct node_chain *c, const struct ledger_tx *tx,
                                 const struct ledger_verdict *v);
#ifdef SBX_TEST_HOOKS
/* The operator's short record gets an accepted verdict (before it is applied), once. */
void node_chain_test_liabilities_take(struct node_chain *c, const struct ledger_tx *tx,
                                      struct cmp_result *res);
#endif

/* chain_genesis.c */
/* Decode block 0's genesis transaction into c->genesis and make a fresh engine from it. */
int node_chain_genesis_load(struct node_chain *c, const uint8_t *raw, size_t len,
                            struct sbx_err *err) SBX_WARN_UNUSED;

/* chain_build.c */
/* Room for one more entry in the block being built. */
int node_chain_build_room(struct node_chain *c) SBX_WARN_UNUSED;
/* Close the block being built into *out. Sealing: `hdr_in` NULL, a header is made and signed
 * by `producer`. Following: `hdr_in` is the header received (its state digest must be the one
 * the rules give) and raw_in/raw_len the block as received. */
int node_chain_build_finish(struct node_chain *c, const struct ledger_key *producer,
                            const struct ledger_block_header *hdr_in, const uint8_t *raw_in,
                            size_t raw_len, struct node_sealed *out,
                            struct sbx_err *err) SBX_WARN_UNUSED;
/* Drop the block being built, if any (its batch; the engine keeps what was applied). */
void node_chain_build_drop(struct node_chain *c);
/* The verdict root of the entries of `b`. SBX_ENOMEM. */
int node_chain_verdict_root(const struct ledger_block *b, uint8_t root[static 32]) SBX_WARN_UNUSED;

/* chain_index.c */
/* Put the index entries of transaction c->n of the block being built into c->batch. */
void node_chain_index_tx(struct node_chain *c, const struct ledger_tx *tx,
                         const struct ledger_verdict *v);

/* chain_ids.c */
void node_chain_ids_init(struct node_chain *c);
void node_chain_ids_release(struct node_chain *c);
/* The engine's hook: 1 if the id key is used, 0 if not, -1 on a store error. */
int node_chain_ids_lookup(void *ctx, const uint8_t *key, size_t klen);
/* Record that transaction `txid` of the block at `height` uses id `id` of `kind`. */
int node_chain_ids_add(struct node_chain *c, uint8_t kind, const char *id,
                       const uint8_t txid[static 32], uint64_t height) SBX_WARN_UNUSED;
/* Forget the in-flight ids among `keys` of blocks up to `height` (they are in the store). */
void node_chain_ids_written(struct node_chain *c, uint64_t height,
                            const uint8_t (*keys)[NODE_CHAIN_IDKEY], size_t nkeys);
/* A checkpoint up to `height` is in the store: forget the in-flight ids it holds. */
void node_chain_ids_checkpointed(struct node_chain *c, uint64_t height);
/* Forget every in-flight id. */
void node_chain_ids_clear(struct node_chain *c);

/* chain_checkpoint.c */
void node_chain_checkpoint_init(struct node_chain *c);
void node_chain_checkpoint_release(struct node_chain *c);
/* Forget the deferred state records and start counting anew. */
void node_chain_checkpoint_clear(struct node_chain *c);
/* Keep one state change for the next checkpoint (alerts go into `batch` at once). */
int node_chain_checkpoint_defer(struct node_chain *c, struct ledger_store_batch *batch,
                                const struct ledger_change *ch) SBX_WARN_UNUSED;
/* Whether the block at `height`, just counted, should carry a checkpoint. */
int node_chain_checkpoint_due(const struct node_chain *c, uint64_t height);
/* Add the checkpoint at `height` to `batch` and start the next one. */
void node_chain_checkpoint_into(struct node_chain *c, struct ledger_store_batch *batch,
                                uint64_t height);
/* The height whose state the store's state records hold (the tip for a store written before
 * checkpoints existed). */
int node_chain_checkpoint_height(struct node_chain *c, uint64_t *out,
                                 struct sbx_err *err) SBX_WARN_UNUSED;
/* Read the tally kept with the last checkpoint into c->tally (zero if there is none). */
int node_chain_checkpoint_load_tally(struct node_chain *c, struct sbx_err *err) SBX_WARN_UNUSED;
/* Remove every record but the blocks and the schema, for -reindex. */
int node_chain_checkpoint_wipe(struct ledger_store *s, struct sbx_err *err) SBX_WARN_UNUSED;

#endif
