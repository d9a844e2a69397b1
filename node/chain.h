/* The chain: the ledger store plus the compliance engine, and the one implementation of "a
 * block" that the operator (building blocks) and every follower (re-validating them) share.
 *
 * Building (operator): node_chain_begin() a block, node_chain_add() each transaction (the
 * verdict comes from the rules, which also apply it to the state), node_chain_seal() computes
 * the change set, the state digest, the merkle roots, signs the header and prepares one store
 * batch (block, state changes, indexes, tip); node_chain_write() makes it durable.
 *
 * Following: node_chain_apply() takes a block from the operator, re-checks everything (links,
 * roots, signatures, every verdict, the state digest) and writes it, or seals it for the caller
 * to write; a block that fails leaves the store untouched (the in-memory state is then rebuilt
 * from the store).
 *
 * Threads: begin/add/seal/apply run on one thread (the sequencer); write may run on another
 * (the committer) for a sealed block while the next one is being built.
 */
#ifndef SBX_NODE_CHAIN_H
#define SBX_NODE_CHAIN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "compliance/engine.h"
#include "ledger/block.h"
#include "ledger/keys.h"
#include "ledger/store.h"
#include "ledger/tx.h"
#include "util/buf.h"
#include "util/err.h"

struct node_chain;

/* What the blocks of the chain hold, counted as each transaction is added (building) or
 * re-checked (following) and kept with every state checkpoint, so that a restart replays only
 * the blocks after the last one: transactions by type and verdict, rejections by rule,
 * compliance alerts by kind. The genesis transaction is not counted. */
#define NODE_TALLY_TYPES (LEDGER_TX_TYPE_MAX + 1)
#define NODE_TALLY_RULES 256
#define NODE_TALLY_ALERTS 16
struct node_tally {
    uint64_t tx[NODE_TALLY_TYPES][2];      /* [type][0: accepted, 1: rejected] */
    uint64_t rejections[NODE_TALLY_RULES]; /* by rule number */
    uint64_t alerts[NODE_TALLY_ALERTS];    /* by alert kind */
};

/* A block ready to be written. */
struct node_sealed {
    struct ledger_tip tip; /* the block's height, hash and state digest */
    struct ledger_block_header hdr;
    struct buf block; /* encoded block */
    struct ledger_store_batch *batch;
    size_t ntx;
    uint8_t (*ids)[2 + SBX_ID_MAX + 1]; /* idempotency keys the block records (NUL-padded) */
    size_t nids;
    int checkpoint;           /* the batch also holds a state checkpoint at this height */
    struct cmp_alert *alerts; /* the compliance alerts its transactions raised */
    size_t nalerts;
};

/* Create a chain in `dir` (which must not hold one) from an encoded genesis block: block 0 with
 * one LEDGER_TX_GENESIS transaction signed by the operator key, produced by that key. A `dir`
 * that does not exist yet appears only once block 0 is synced (made in `dir`.new, renamed). */
int node_chain_create(const char *dir, const uint8_t *genesis_block, size_t len,
                      struct sbx_err *err) SBX_WARN_UNUSED;

/* Build the genesis block for a new network; `licence_json` is canonicalised. */
int node_chain_make_genesis(const char *network, const struct ledger_key *operator_key,
                            const uint8_t (*regulators)[32], size_t nregulators,
                            int directive_quorum, int attestation_quorum,
                            const struct ledger_asset_def *assets, size_t nassets,
                            const char *licence_json, int64_t time_ms, struct buf *out,
                            struct sbx_err *err) SBX_WARN_UNUSED;

/* Open the chain in `dir` (rebuilding all state from the blocks first with `reindex`), load the
 * engine's state, and re-verify the last `checkblocks` blocks. */
int node_chain_open(struct node_chain **out, const char *dir, int reindex, int checkblocks,
                    struct sbx_err *err) SBX_WARN_UNUSED;
void node_chain_close(struct node_chain *c);

struct cmp_engine *node_chain_engine(struct node_chain *c);
struct ledger_store *node_chain_store(struct node_chain *c);
/* The tip as applied in memory (may be ahead of the store while a block is being written). */
const struct ledger_tip *node_chain_tip(const struct node_chain *c);
const struct ledger_genesis *node_chain_genesis(const struct node_chain *c);
const uint8_t *node_chain_genesis_hash(const struct node_chain *c);

/* Building. `time_ms` is the block's timestamp (>= the previous block's). */
int node_chain_begin(struct node_chain *c, int64_t time_ms) SBX_WARN_UNUSED;
/* Add one decoded, signature-checked transaction (`raw` its encoding, `txid` its id): evaluate,
 * apply, record. `res` gets the verdict. */
int node_chain_add(struct node_chain *c, const uint8_t *raw, size_t len, const struct ledger_tx *tx,
                   const uint8_t txid[static 32], struct cmp_result *res) SBX_WARN_UNUSED;
size_t node_chain_pending(const struct node_chain *c);
/* The block rule time.skew for the block being built: 0 if time `ts` of a transaction of type
 * `tx_type` lies within time.max_skew_ms (the engine's value now) of the block's time, either
 * edge included (a directive may be older by supervision.proposal_ttl_s more:
 * cmp_params_time_before_ms); -1 if it is earlier, 1 if later. Followers refuse a block holding
 * a transaction that does not fit (chain_apply.c); the operator keeps such a transaction out
 * (node/pipeline.c). */
int node_chain_time_fit(const struct node_chain *c, int64_t ts, int tx_type);
/* The time of the block being built (node_chain_begin's, never before the tip's). */
int64_t node_chain_block_time(const struct node_chain *c);
/* Drop a block that was begun but received no transaction (no empty blocks are written). */
void node_chain_abort_empty(struct node_chain *c);
/* Close the block: state changes, digest, roots, signature by `producer`, the store batch. */
int node_chain_seal(struct node_chain *c, const struct ledger_key *producer,
                    struct node_sealed *out, struct sbx_err *err) SBX_WARN_UNUSED;
/* Write a sealed block (synced). Then release it with node_sealed_release. */
int node_chain_write(struct node_chain *c, struct node_sealed *s,
                     struct sbx_err *err) SBX_WARN_UNUSED;
void node_sealed_release(struct node_sealed *s);

/* Copy the chain's tally (on the thread that builds or applies, or under its lock). */
void node_chain_tally(const struct node_chain *c, struct node_tally *out);

/* The txid that used idempotency key `key` ('I' kind id): in a block not yet written, or in
 * the store. SBX_ENOTFOUND if the id is unused. */
int node_chain_find_id(struct node_chain *c, const uint8_t *key, size_t klen,
                       uint8_t txid[static 32]) SBX_WARN_UNUSED;

/* Operator, right after node_chain_begin (sequencer, state_mu held): add the liabilities record
 * as the block's first transaction when one is due (the first block of a new local day, or a
 * liabilities_snapshot directive waits), signed with `op`. SBX_OK when none is due too (a
 * rejected record is logged: it is in the block, as every attempt is). A failure is the node's
 * own (no random seed, memory, an engine error) and the caller stops taking submissions, as for
 * any failure of node_chain_add. (chain_liabilities.c) */
int node_chain_liabilities_add(struct node_chain *c, const struct ledger_key *op,
                               struct sbx_err *err) SBX_WARN_UNUSED;

#ifdef SBX_TEST_HOOKS
/* Test builds only: the next liabilities record is one base unit of VND short (and the operator
 * takes it as valid). */
void node_chain_test_liabilities_short(struct node_chain *c);
/* Test builds only: 1 = the next block sealed carries a flipped verdict, 2 = a wrong digest,
 * 3 = the next transaction the operator signs is backdated (node_chain_test_backdate_take). */
void node_chain_test_fault(struct node_chain *c, int fault);
/* Test builds only: 1 once after node_chain_test_fault(c, 3), then 0. */
int node_chain_test_backdate_take(struct node_chain *c);
#endif

struct par_pool;
/* Check the signatures of the blocks node_chain_apply() takes on `pool`'s threads (NULL: on the
 * calling thread). The pool must outlive the chain's use of it. */
void node_chain_set_pool(struct node_chain *c, struct par_pool *pool);
/* The height of the last block that holds anything but attestations (0 if none). Followers
 * attest such blocks; a block of attestations alone needs no attestation of its own. Any
 * thread, without the state lock. */
uint64_t node_chain_last_substantive(const struct node_chain *c);

/* The same from any thread (for reads by RPC): in-flight ids, then the store. */
int node_chain_lookup_id(struct node_chain *c, const uint8_t *key, size_t klen,
                         uint8_t txid[static 32]) SBX_WARN_UNUSED;

/* How node_chain_apply takes a block. All zero (or a NULL pointer for the whole) is the plain
 * case: decode the block, check every signature (on the pool), write it (synced) and, if it is
 * refused, rebuild the in-memory state from the store before returning. */
struct node_chain_apply_opts {
    /* The block decoded already, and the txids of its transactions, with the header's and every
     * transaction's signature checked already (node_chain_check_txs). Both or neither. Only for
     * a block after genesis. */
    const struct ledger_block *decoded;
    const uint8_t (*txids)[32];
    /* With `decoded`: the merkle roots were checked against `txids` and the verdicts already
     * (node_chain_check_roots, on a follower's verifier thread). */
    int roots_checked;
    /* Non-NULL: do not write the block; seal its store batch into *seal_into (write it with
     * node_chain_write or node_chain_write_all, then node_sealed_release). On failure the
     * engine may hold part of the block: call node_chain_reload once every block sealed before
     * it is written. */
    struct node_sealed *seal_into;
};

/* Following: validate and apply an encoded block at the next height (block 0 on a chain being
 * created). SBX_EINVAL for another height; SBX_ECORRUPT (with the reason: which check, which
 * transaction) if it is invalid; SBX_ENOMEM, SBX_EIO. The one way to apply a block. */
int node_chain_apply(struct node_chain *c, const uint8_t *block, size_t len,
                     const struct node_chain_apply_opts *opts, struct sbx_err *err) SBX_WARN_UNUSED;

/* Decode transactions [from, to) of decoded block `b`, fill their txids and check their
 * signatures (on failure *bad is the index), so that a follower can check the signatures of
 * later blocks while it applies earlier ones (then node_chain_apply with opts->decoded).
 * Stateless and thread-safe. */
int node_chain_check_txs(const struct ledger_block *b, size_t from, size_t to, uint8_t (*txids)[32],
                         size_t *bad, struct sbx_err *err) SBX_WARN_UNUSED;
/* Whether the header of decoded block `b` commits to `txids` (its transactions' ids) and to
 * its verdicts: SBX_OK, SBX_ECORRUPT naming the root that differs, SBX_ENOMEM. Stateless and
 * thread-safe. */
int node_chain_check_roots(const struct ledger_block *b, const uint8_t (*txids)[32],
                           struct sbx_err *err) SBX_WARN_UNUSED;
/* Rebuild the in-memory state from the store (after a refused block). */
int node_chain_reload(struct node_chain *c, struct sbx_err *err) SBX_WARN_UNUSED;
/* Write several sealed blocks, in order, as one commit (synced). */
int node_chain_write_all(struct node_chain *c, struct node_sealed **s, size_t n,
                         struct sbx_err *err) SBX_WARN_UNUSED;

/* State checkpoints. A block's batch holds the block, its indexes and the tip; the state
 * records it changes (accounts, usage, parameters, lists, ids) are kept in memory and written
 * as one checkpoint (with the height they reflect) every few hundred blocks, at genesis, and by
 * node_chain_checkpoint. Opening a chain loads the last checkpoint and replays the blocks after
 * it (every verdict and state digest checked again), so nothing acknowledged is lost: the
 * blocks are the record. Write the pending state now (no block may be open; none unwritten). */
int node_chain_checkpoint(struct node_chain *c, struct sbx_err *err) SBX_WARN_UNUSED;

/* Replay blocks 0..to from the store into a scratch engine and compare every verdict and state
 * digest with what is stored (verifychain). Stops with SBX_EUNAVAIL once *cancel (if given)
 * becomes non-zero. */
int node_chain_replay_check(struct node_chain *c, uint64_t from, uint64_t to, uint64_t *checked,
                            uint64_t *failed_at, const atomic_int *cancel,
                            struct sbx_err *err) SBX_WARN_UNUSED;

#endif
