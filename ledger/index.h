/* Reading the chain's time-ordered indexes ('X', 'Y', 'R', 'Q' in ledger/store.h): the place an
 * entry names (POS), and the newest entries of one kind across all its names merged into one
 * list, which is how the list of all trades is served from the by-asset index without an index
 * of its own. Store reads need no lock.
 */
#ifndef SBX_LEDGER_INDEX_H
#define SBX_LEDGER_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/store.h"
#include "util/err.h"

/* POS: a transaction's timestamp, then its place on the ledger (the order of the index). */
struct ledger_index_pos {
    uint64_t time;
    uint64_t height;
    uint32_t index;
};

/* POS from the last LEDGER_INDEX_TAIL bytes of an index key (`tail` points at them). */
void ledger_index_pos_load(struct ledger_index_pos *pos,
                           const uint8_t tail[static LEDGER_INDEX_TAIL]);

/* The newest entries of every name of index `kind` (keys `kind name 0x00 POS`, e.g.
 * LEDGER_K_BY_ASSET), merged: up to `n` positions strictly before `before` (NULL: from the newest
 * entry) and with time >= `from_ms`, newest first, into `out` (room for `n`); `*got` gets their
 * number. Looks at no more than `budget` keys: SBX_EUNAVAIL if that is not enough (more names
 * than a call may visit), SBX_EIO if the store fails. */
int ledger_index_merge(struct ledger_store *st, uint8_t kind, const struct ledger_index_pos *before,
                       int64_t from_ms, size_t n, struct ledger_index_pos *out, size_t *got,
                       size_t budget, struct sbx_err *err) SBX_WARN_UNUSED;

#endif
