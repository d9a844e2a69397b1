/* The LevelDB store: blocks, their indexes, and every state record, under <datadir>/ledger/.
 *
 * Keys start with one byte that names the record kind (LEDGER_K_*). A block and all that it
 * changes are written in one synced WriteBatch together with the new tip, so after a crash the
 * store holds the whole block or none of it. Records are never pruned.
 *
 * Every key is built by one function below (ledger_store_key_*, and ledger_store_prefix_* for
 * the prefixes that scans start from); nothing else writes key bytes by hand. The keys:
 *
 *   key                                 built by                       value
 *   'M' "schema"                        ledger_store_key_meta_schema   u32 schema version
 *   'M' "tip"                           ledger_store_key_meta_tip      u64 height | 32 block hash |
 *                                                                      32 state digest
 *   'M' "state"                         ledger_store_key_meta_state    u64 height the state
 *                                                                      records reflect (node/)
 *   'M' "tally"                         ledger_store_key_meta_tally    what the blocks up to the
 *                                                                      state height hold (node/)
 *   'M' 'A' u64 seq                     ledger_store_key_meta_alert    node alert, JSON (node/);
 *                                       ledger_store_prefix_meta_alert  never in a block
 *   'B' u64 height                      ledger_store_key_block         encoded block
 *   'H' 32 block hash                   ledger_store_key_hash          u64 height
 *   'T' 32 txid                         ledger_store_key_tx            varint height | varint
 *                                                                      index in block
 *   'I' u8 kind, id                     ledger_store_key_idem          32 txid (idempotency:
 *                                                                      account, trade, transfer)
 *   'A' account id                      ledger_store_key_account       account record (state.c)
 *   'U' account id                      ledger_store_key_usage         usage counters (compliance)
 *   'D' address                         ledger_store_key_address       Travel Rule window of an
 *                                                                      external address
 * (compliance) 'P' 'p'                             ledger_store_key_params        licence
 * parameters 'S' 'g'                             ledger_store_key_list_global   compliance global
 * record 'S' u8 list, entry                  ledger_store_key_list          "\x01": sanctions, list
 *                                                                      LEDGER_LIST_ACCOUNT/ADDRESS
 *   'L' 32 alert id                     ledger_store_key_alert         alert record (compliance)
 *   'K' u8 kind u64 time 32 alert id    ledger_store_key_alert_index   "" (alerts by kind, time);
 *                                       ledger_store_prefix_alert_index  per kind
 *   'X' account 0x00 POS                ledger_store_key_index         "" (transactions by
 *                                                                      account and time)
 *   'Y' asset 0x00 POS                  (the same)                     "" (trades by asset, time)
 *   'R' u16 rule POS                    (the same)                     "" (rejections by rule)
 *   'Q' POS                             (the same)                     "" (all rejections)
 *   'V' u8 len, state key, u64 height   ledger_store_key_history       the record as the
 *                                       ledger_store_prefix_history    checkpoint at `height`
 *                                                                      wrote it; empty if deleted
 *                                                                      (node/); with len 0 and no
 *                                                                      state key: "", the mark of
 *                                                                      a checkpoint
 *   'S' 'l'                             ledger_store_key_list_liabilities  liabilities and
 *                                                                      reserves (compliance)
 *   'W' u64 height                      ledger_store_key_liabilities   the balances snapshot of
 *                                                                      the liabilities record in
 *                                                                      that block (node/)
 *
 * where POS = u64 time | u64 height | u32 index in block (LEDGER_INDEX_TAIL bytes): the
 * transaction's timestamp, then its place on the ledger, so that entries with the same
 * millisecond keep ledger order; the place names the transaction (its txid is in the block), so
 * the key needs no txid. ledger_store_prefix_index gives the part before POS. There is no index
 * of all trades: the by-asset ranges, merged by POS, are one (rpc/'s listtrades). All
 * integers big-endian, so keys sort by time. Ids are cut at SBX_ID_MAX bytes (list entries at
 * SBX_ADDRESS_MAX), as the writers always did.
 */
#ifndef SBX_LEDGER_STORE_H
#define SBX_LEDGER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/changes.h"
#include "ledger/tx.h"
#include "util/buf.h"
#include "util/err.h"

/* The schema version: 2 since transactions carry an auth byte (encoding version 2), index keys
 * end in (time, height, index) without the txid, there is no all-trades index and a location is
 * two varints. */
#define LEDGER_STORE_SCHEMA 2

#define LEDGER_K_META 'M'
#define LEDGER_K_BLOCK 'B'
#define LEDGER_K_HASH 'H'
#define LEDGER_K_TX 'T'
#define LEDGER_K_IDEM 'I'
#define LEDGER_K_ACCOUNT 'A'
#define LEDGER_K_USAGE 'U'
#define LEDGER_K_ADDRESS 'D'
#define LEDGER_K_PARAM 'P'
#define LEDGER_K_LIST 'S'
#define LEDGER_K_ALERT 'L'
#define LEDGER_K_ALERT_IDX 'K'
#define LEDGER_K_BY_ACCOUNT 'X'
#define LEDGER_K_BY_ASSET 'Y'
#define LEDGER_K_REJECTION 'R'
#define LEDGER_K_REJECTION_ALL 'Q'
#define LEDGER_K_HISTORY 'V'
#define LEDGER_K_LIABILITIES 'W'
#define LEDGER_INDEX_TAIL (8 + 8 + 4)
#define LEDGER_STORE_KINDS 256 /* one counter per first key byte */

/* The lists under 'S' (the byte after the kind). */
#define LEDGER_LIST_ACCOUNT 'a'     /* sanctioned account ids */
#define LEDGER_LIST_ADDRESS 'd'     /* sanctioned crypto addresses */
#define LEDGER_LIST_GLOBAL 'g'      /* not a list: the compliance global record */
#define LEDGER_LIST_LIABILITIES 'l' /* not a list: the liabilities and reserves record */

/* Room each builder needs (its longest key). */
#define LEDGER_STORE_KEY_META_MAX 7 /* 'M' "schema" */
#define LEDGER_STORE_KEY_META_ALERT_LEN (1 + 1 + 8)
#define LEDGER_STORE_KEY_BLOCK_LEN (1 + 8)
#define LEDGER_STORE_KEY_HASH_LEN (1 + 32) /* 'H', 'T' and 'L' keys */
#define LEDGER_STORE_KEY_IDEM_MAX (2 + SBX_ID_MAX)
#define LEDGER_STORE_KEY_ACCOUNT_MAX (1 + SBX_ID_MAX) /* 'A' and 'U' keys */
#define LEDGER_STORE_KEY_ADDRESS_MAX (1 + SBX_REF_MAX)
#define LEDGER_STORE_KEY_LIST_MAX (2 + SBX_ADDRESS_MAX)
#define LEDGER_STORE_KEY_PAIR_LEN 2 /* 'P' 'p', 'S' 'g', and the two-byte prefixes */
#define LEDGER_STORE_KEY_ALERT_INDEX_LEN (1 + 1 + 8 + 32)
#define LEDGER_STORE_PREFIX_INDEX_MAX (1 + 2 + SBX_ID_MAX + 1)
#define LEDGER_STORE_KEY_INDEX_MAX (LEDGER_STORE_PREFIX_INDEX_MAX + LEDGER_INDEX_TAIL)
#define LEDGER_STORE_STATE_KEY_MAX 255 /* a state key the history keeps: one length byte */
#define LEDGER_STORE_KEY_HISTORY_MAX (2 + LEDGER_STORE_STATE_KEY_MAX + 8)

/* Key builders: each writes its key to `out` and returns its length. */
size_t ledger_store_key_meta_schema(uint8_t out[static LEDGER_STORE_KEY_META_MAX]);
size_t ledger_store_key_meta_tip(uint8_t out[static LEDGER_STORE_KEY_META_MAX]);
size_t ledger_store_key_meta_state(uint8_t out[static LEDGER_STORE_KEY_META_MAX]);
size_t ledger_store_key_meta_tally(uint8_t out[static LEDGER_STORE_KEY_META_MAX]);
/* A node alert: 'M' 'A' u64 seq; the prefix of them all is 'M' 'A'. */
size_t ledger_store_key_meta_alert(uint8_t out[static LEDGER_STORE_KEY_META_ALERT_LEN],
                                   uint64_t seq);
size_t ledger_store_prefix_meta_alert(uint8_t out[static LEDGER_STORE_KEY_PAIR_LEN]);
size_t ledger_store_key_block(uint8_t out[static LEDGER_STORE_KEY_BLOCK_LEN], uint64_t height);
size_t ledger_store_key_hash(uint8_t out[static LEDGER_STORE_KEY_HASH_LEN],
                             const uint8_t hash[static 32]);
size_t ledger_store_key_tx(uint8_t out[static LEDGER_STORE_KEY_HASH_LEN],
                           const uint8_t txid[static 32]);
/* The record of a used id: 'I' kind id (kind: the CMP_ID_* of compliance/). */
size_t ledger_store_key_idem(uint8_t out[static LEDGER_STORE_KEY_IDEM_MAX], uint8_t kind,
                             const char *id);
size_t ledger_store_key_account(uint8_t out[static LEDGER_STORE_KEY_ACCOUNT_MAX], const char *id);
size_t ledger_store_key_usage(uint8_t out[static LEDGER_STORE_KEY_ACCOUNT_MAX],
                              const char *account);
/* The Travel Rule window of an external crypto address (a transfer's reference): 'D' address. */
size_t ledger_store_key_address(uint8_t out[static LEDGER_STORE_KEY_ADDRESS_MAX],
                                const char *address);
size_t ledger_store_key_params(uint8_t out[static LEDGER_STORE_KEY_PAIR_LEN]);
size_t ledger_store_key_list_global(uint8_t out[static LEDGER_STORE_KEY_PAIR_LEN]);
size_t ledger_store_key_list_liabilities(uint8_t out[static LEDGER_STORE_KEY_PAIR_LEN]);
/* The snapshot of balances behind the liabilities record of block `height`: 'W' u64 height. */
size_t ledger_store_key_liabilities(uint8_t out[static LEDGER_STORE_KEY_BLOCK_LEN],
                                    uint64_t height);
/* An entry of list `list` (LEDGER_LIST_ACCOUNT or LEDGER_LIST_ADDRESS). */
size_t ledger_store_key_list(uint8_t out[static LEDGER_STORE_KEY_LIST_MAX], uint8_t list,
                             const char *entry);
size_t ledger_store_key_alert(uint8_t out[static LEDGER_STORE_KEY_HASH_LEN],
                              const uint8_t id[static 32]);
size_t ledger_store_key_alert_index(uint8_t out[static LEDGER_STORE_KEY_ALERT_INDEX_LEN],
                                    uint8_t kind, int64_t time_ms, const uint8_t id[static 32]);
/* 'K' kind: the prefix of one kind's alert index entries. */
size_t ledger_store_prefix_alert_index(uint8_t out[static LEDGER_STORE_KEY_PAIR_LEN], uint8_t kind);
/* The part of an index key before POS: `kind` (LEDGER_K_BY_ACCOUNT, _BY_ASSET, _REJECTION or
 * _REJECTION_ALL), then u16 `rule` when rule >= 0, then `name` and a 0x00 when name is
 * not NULL. */
size_t ledger_store_prefix_index(uint8_t out[static LEDGER_STORE_PREFIX_INDEX_MAX], uint8_t kind,
                                 const char *name, int rule);
/* A whole index entry: the prefix above, then POS (time_ms, the block height and the index in
 * the block). */
size_t ledger_store_key_index(uint8_t out[static LEDGER_STORE_KEY_INDEX_MAX], uint8_t kind,
                              const char *name, int rule, int64_t time_ms, uint64_t height,
                              uint32_t index);
/* `prefix` then u64 `time`: where a scan of time-ordered keys ('X', 'Y', 'R', 'Q', 'K' kind)
 * reaches `time` (out holds plen + 8). */
size_t ledger_store_key_seek(uint8_t *out, const uint8_t *prefix, size_t plen, uint64_t time);
/* 1 if `key` is an alert record or alert index entry ('L', 'K'): these go with their block, not
 * with the state checkpoints. */
int ledger_store_key_is_alert(const uint8_t *key, size_t klen);
/* 1 if `key` is a state record the history keeps a version of at every checkpoint that writes it
 * ('A', 'U', 'D', 'P', 'S': what the engine loads; not the ids, which only grow). */
int ledger_store_key_is_state(const uint8_t *key, size_t klen);
/* 'V' u8 klen, then the state key `key`: the prefix of all the versions of one record. The key
 * is at most LEDGER_STORE_STATE_KEY_MAX bytes. */
size_t ledger_store_prefix_history(uint8_t out[static LEDGER_STORE_KEY_HISTORY_MAX],
                                   const uint8_t *key, size_t klen);
/* The prefix above, then u64 `height`: the version of `key` that block `height` wrote. */
size_t ledger_store_key_history(uint8_t out[static LEDGER_STORE_KEY_HISTORY_MAX],
                                const uint8_t *key, size_t klen, uint64_t height);
/* The parts of a history key: the state key (pointing into `hkey`) and the height. 0 if `hkey`
 * is not one. */
int ledger_store_key_history_parse(const uint8_t *hkey, size_t hlen, const uint8_t **key,
                                   size_t *klen, uint64_t *height);

struct ledger_store;

struct ledger_tip {
    uint64_t height;
    uint8_t hash[32];
    uint8_t state_digest[32];
};

/* Open (creating if `create`) the store in directory `dir`. Checks the schema version: a store
 * written by another schema is refused with SBX_ECORRUPT and a message saying which. */
int ledger_store_open(struct ledger_store **out, const char *dir, int create,
                      struct sbx_err *err) SBX_WARN_UNUSED;
void ledger_store_close(struct ledger_store *s);

/* The tip; SBX_ENOTFOUND when the store holds no block yet. */
int ledger_store_tip(struct ledger_store *s, struct ledger_tip *tip,
                     struct sbx_err *err) SBX_WARN_UNUSED;

/* One block's writes. Build it, then ledger_store_commit() it (synced) in one WriteBatch. */
struct ledger_store_batch;
struct ledger_store_batch *ledger_store_batch_new(void);
void ledger_store_batch_free(struct ledger_store_batch *b);
void ledger_store_batch_put(struct ledger_store_batch *b, const void *key, size_t klen,
                            const void *val, size_t vlen);
void ledger_store_batch_del(struct ledger_store_batch *b, const void *key, size_t klen);
/* Add every entry of a finished change set. */
void ledger_store_batch_changes(struct ledger_store_batch *b, const struct ledger_changes *c);
/* Add the block, its hash -> height entry, one 'T' entry per txid, and the new tip. */
void ledger_store_batch_block(struct ledger_store_batch *b, const struct ledger_tip *tip,
                              const uint8_t *block, size_t len, const uint8_t (*txids)[32],
                              size_t ntx);
/* Add every write of `src` to `dst`, after dst's own (several blocks in one commit). */
void ledger_store_batch_append(struct ledger_store_batch *dst,
                               const struct ledger_store_batch *src);
/* Write the batch; `sync` = fsync before returning. SBX_EIO with the LevelDB message logged. */
int ledger_store_commit(struct ledger_store *s, struct ledger_store_batch *b, int sync,
                        struct sbx_err *err) SBX_WARN_UNUSED;
/* Why the first commit that failed since the store was opened failed, as a stable word:
 * "disk_full" (ENOSPC, EDQUOT), "io_error" (EIO) or "write_error" (anything else LevelDB
 * reported); NULL while every commit has succeeded. Any thread. */
const char *ledger_store_write_failure(struct ledger_store *s);
/* The key and value bytes committed since the store was opened, by key kind (out[kind]; a
 * delete counts its key): what each record family costs the write path. */
void ledger_store_written(struct ledger_store *s, uint64_t out[static LEDGER_STORE_KINDS]);

/* Point reads. `val` receives the value (reset first). SBX_ENOTFOUND if absent. */
int ledger_store_get(struct ledger_store *s, const void *key, size_t klen, struct buf *val,
                     struct sbx_err *err) SBX_WARN_UNUSED;
int ledger_store_get_block(struct ledger_store *s, uint64_t height, struct buf *out,
                           struct sbx_err *err) SBX_WARN_UNUSED;
int ledger_store_height_of(struct ledger_store *s, const uint8_t hash[static 32], uint64_t *height,
                           struct sbx_err *err) SBX_WARN_UNUSED;
int ledger_store_tx_location(struct ledger_store *s, const uint8_t txid[static 32],
                             uint64_t *height, uint32_t *index,
                             struct sbx_err *err) SBX_WARN_UNUSED;

/* Iterate keys that start with `prefix`, from `start` (>= prefix; NULL = the prefix itself),
 * ascending, or descending from the last key < `start` when `reverse`. The callback gets key
 * and value and returns 0 to go on, 1 to stop. Returns SBX_OK or SBX_EIO. */
typedef int (*ledger_store_scan_fn)(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
                                    size_t vlen);
int ledger_store_scan(struct ledger_store *s, const void *prefix, size_t plen, const void *start,
                      size_t slen, int reverse, ledger_store_scan_fn fn, void *ctx,
                      struct sbx_err *err) SBX_WARN_UNUSED;
/* Every record of one kind (keys starting with the byte `kind`), ascending. */
int ledger_store_scan_kind(struct ledger_store *s, uint8_t kind, ledger_store_scan_fn fn, void *ctx,
                           struct sbx_err *err) SBX_WARN_UNUSED;

/* Re-read blocks from..to (inclusive; to is clamped to the tip): each decodes, its hash links to
 * the previous block, roots match, the producer signature and every transaction signature
 * verify, and the 'H' and 'T' indexes agree. `*checked` gets the number of blocks checked; on
 * failure `*failed_at` the first bad height and `err` the reason. Compliance verdicts and state
 * digests are re-checked by the chain layer (node/), which owns the rules. */
int ledger_store_verify(struct ledger_store *s, uint64_t from, uint64_t to, uint64_t *checked,
                        uint64_t *failed_at, struct sbx_err *err) SBX_WARN_UNUSED;

#endif
