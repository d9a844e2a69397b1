/* Locating a transaction in the stored chain and reading its verdict: the one way the node gets
 * from a txid or a (height, index) to the decoded transaction and what the rules said of it
 * (rpc/'s gettx, gettrade, getblock and list methods, and the operator's answer to a repeated
 * id, all go through here).
 *
 * A `struct ledger_locate` holds one decoded block, so that a call reading several transactions of
 * the same block (a list, a verbose block) decodes it once. Store reads need no lock.
 */
#ifndef SBX_LEDGER_LOCATE_H
#define SBX_LEDGER_LOCATE_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/block.h"
#include "ledger/store.h"
#include "ledger/tx.h"
#include "util/buf.h"
#include "util/err.h"

struct ledger_locate {
    int loaded;
    uint64_t height;
    uint8_t hash[32]; /* of the loaded block */
    struct buf raw;   /* its encoding */
    struct ledger_block b;
};

void ledger_locate_init(struct ledger_locate *k);
void ledger_locate_release(struct ledger_locate *k);

/* Load the block at `height` into `k` (nothing to do if it is loaded already). SBX_ENOTFOUND
 * if there is none; SBX_ECORRUPT if what is stored does not decode. */
int ledger_locate_block(struct ledger_store *st, uint64_t height, struct ledger_locate *k,
                        struct sbx_err *err) SBX_WARN_UNUSED;

/* The header of the block at `height`, without decoding its transactions. SBX_ENOTFOUND if
 * there is none; SBX_ECORRUPT if what is stored is too short or does not decode. */
int ledger_locate_header(struct ledger_store *st, uint64_t height, struct ledger_block_header *h,
                         struct sbx_err *err) SBX_WARN_UNUSED;

/* Load the block that holds `txid` into `k`; `*index` gets its place in the block.
 * SBX_ENOTFOUND if the chain has no such transaction. */
int ledger_locate_txid(struct ledger_store *st, const uint8_t txid[static 32],
                       struct ledger_locate *k, uint32_t *index,
                       struct sbx_err *err) SBX_WARN_UNUSED;

/* Decode entry `i` of the loaded block into `tx` (release it after) and its id into `txid`;
 * `*verdict` (if not NULL) points at the entry's verdict in `k`. SBX_ECORRUPT on failure. */
int ledger_locate_entry(const struct ledger_locate *k, size_t i, struct ledger_tx *tx,
                        uint8_t txid[static 32], const struct ledger_verdict **verdict,
                        struct sbx_err *err) SBX_WARN_UNUSED;

#endif
