/* Secondary indexes of the chain: by account, by asset, all trades, rejections by rule and all
 * rejections, each ordered by time and then by place on the ledger (see ledger/store.h).
 *
 * They go into the block's store batch but not into the state digest: they are derived from
 * the block and can be rebuilt with -reindex.
 *
 * Threads: the sequencer (while a block is being built or applied).
 */
#include <string.h>

#include "node/chain_internal.h"

/* The largest index key: prefix, rule, name and its NUL, position. */
#define INDEX_KEY_MAX (1 + SBX_ID_MAX + 1 + 2 + LEDGER_INDEX_TAIL)

/* The key of an index entry: `prefix`, the rule (if `rule` >= 0, u16), the name and a NUL (if
 * `name`), then the position: time, height, index in the block, txid. Returns its length. */
static size_t
index_key(uint8_t key[static INDEX_KEY_MAX], uint8_t prefix, const char *name, int rule,
          int64_t time, uint64_t height, uint32_t index, const uint8_t txid[static 32])
{
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
    buf_store_u64(key + n, (uint64_t)time);
    buf_store_u64(key + n + 8, height);
    buf_store_u32(key + n + 16, index);
    memcpy(key + n + 20, txid, 32);
    return n + LEDGER_INDEX_TAIL;
}

static void
index_put(struct node_chain *c, uint8_t prefix, const char *name, int64_t time,
          const uint8_t txid[static 32], int rule)
{
    uint8_t key[INDEX_KEY_MAX];
    size_t n = index_key(key, prefix, name, rule, time, c->tip.height + 1, (uint32_t)c->n, txid);

    ledger_store_batch_put(c->batch, key, n, "", 0);
}

void
node_chain_index_tx(struct node_chain *c, const struct ledger_tx *tx, const uint8_t txid[static 32],
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
