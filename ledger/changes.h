/* A block's state changes: a set of key -> value writes (or deletions) in canonical order.
 *
 * Everything that changes state (accounts, balances, usage counters, parameters, alerts) is
 * recorded here as store records. The set has two uses: it goes into the block's LevelDB batch,
 * and its hash feeds the state digest, digest_n = tagged("sbx/state", digest_{n-1} || H(changes)),
 * where H(changes) hashes, in ascending key order (bytewise), each entry as
 * u16 klen | key | u8 op (1 put, 2 delete) | u32 vlen | value. A later write to the same key
 * replaces an earlier one, so the order in which rules wrote does not matter.
 */
#ifndef SBX_LEDGER_CHANGES_H
#define SBX_LEDGER_CHANGES_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define LEDGER_KEY_MAX 256
#define LEDGER_VALUE_MAX (1u << 20)

struct ledger_change {
    uint8_t *key; /* owned; key and value share one allocation */
    uint16_t klen;
    uint8_t del;
    uint8_t *val;
    uint32_t vlen;
};

struct ledger_changes {
    struct ledger_change *v;
    size_t n, alloc;
    int sorted; /* set by ledger_changes_finish */
};

void ledger_changes_init(struct ledger_changes *c);
void ledger_changes_release(struct ledger_changes *c);
void ledger_changes_reset(struct ledger_changes *c);

int ledger_changes_put(struct ledger_changes *c, const void *key, size_t klen, const void *val,
                       size_t vlen) SBX_WARN_UNUSED;
int ledger_changes_del(struct ledger_changes *c, const void *key, size_t klen) SBX_WARN_UNUSED;

/* Sort by key and keep only the last write to each key. Idempotent. */
void ledger_changes_finish(struct ledger_changes *c);
/* H(changes) as above (calls ledger_changes_finish). */
void ledger_changes_hash(struct ledger_changes *c, uint8_t out[static 32]);
/* next = tagged("sbx/state", prev || changes_hash). */
void ledger_state_digest_next(const uint8_t prev[static 32], const uint8_t changes_hash[static 32],
                              uint8_t next[static 32]);

#endif
