/* The LevelDB store: blocks, their indexes, and every state record, under <datadir>/ledger/.
 *
 * Keys start with one byte that names the record kind (LEDGER_K_*). A block and all that it
 * changes are written in one synced WriteBatch together with the new tip, so after a crash the
 * store holds the whole block or none of it. Records are never pruned.
 *
 *   'M' "schema"                   -> u32 schema version
 *   'M' "tip"                      -> u64 height | 32 block hash | 32 state digest
 *   'B' u64 height                 -> encoded block
 *   'H' 32 block hash              -> u64 height
 *   'T' 32 txid                    -> u64 height | u32 index in block
 *   'I' u8 kind, id                -> 32 txid        (idempotency: account, trade, transfer ids)
 *   'A' account id                 -> account record (ledger/state.c)
 *   'U' ...                        -> usage counters (compliance)
 *   'P' name                       -> licence parameter (compliance)
 *   'S' ...                        -> sanctions list and other compliance lists
 *   'L' 32 alert id                -> alert record;  'K' kind, u64 time, 32 id -> ""
 *   'X' account 0x00 POS             -> ""           (transactions by account and time)
 *   'Y' asset 0x00 POS               -> ""           (trades by asset and time)
 *   'R' u16 rule POS                 -> ""           (rejections by rule and time)
 *   'Q' POS                          -> ""           (all rejections by time)
 *   'Z' POS                          -> ""           (all trades by time)
 * where POS = u64 time | u64 height | u32 index in block | 32 txid (LEDGER_INDEX_TAIL bytes):
 * the transaction's timestamp, then its place on the ledger, so that entries with the same
 * millisecond keep ledger order. All big-endian, so keys sort by time.
 */
#ifndef SBX_LEDGER_STORE_H
#define SBX_LEDGER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/changes.h"
#include "util/buf.h"
#include "util/err.h"

#define LEDGER_STORE_SCHEMA 1

#define LEDGER_K_META 'M'
#define LEDGER_K_BLOCK 'B'
#define LEDGER_K_HASH 'H'
#define LEDGER_K_TX 'T'
#define LEDGER_K_IDEM 'I'
#define LEDGER_K_ACCOUNT 'A'
#define LEDGER_K_USAGE 'U'
#define LEDGER_K_PARAM 'P'
#define LEDGER_K_LIST 'S'
#define LEDGER_K_ALERT 'L'
#define LEDGER_K_ALERT_IDX 'K'
#define LEDGER_K_BY_ACCOUNT 'X'
#define LEDGER_K_BY_ASSET 'Y'
#define LEDGER_K_REJECTION 'R'
#define LEDGER_K_REJECTION_ALL 'Q'
#define LEDGER_K_TRADES 'Z'
#define LEDGER_INDEX_TAIL (8 + 8 + 4 + 32)

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

/* Re-read blocks from..to (inclusive; to is clamped to the tip): each decodes, its hash links to
 * the previous block, roots match, the producer signature and every transaction signature
 * verify, and the 'H' and 'T' indexes agree. `*checked` gets the number of blocks checked; on
 * failure `*failed_at` the first bad height and `err` the reason. Compliance verdicts and state
 * digests are re-checked by the chain layer (node/), which owns the rules. */
int ledger_store_verify(struct ledger_store *s, uint64_t from, uint64_t to, uint64_t *checked,
                        uint64_t *failed_at, struct sbx_err *err) SBX_WARN_UNUSED;

#endif
