/* Secondary indexes of the chain: by account, by asset, rejections by rule and all rejections,
 * each ordered by time and then by place on the ledger (see ledger/store.h). A trade is indexed
 * under its buyer, its seller and its asset; the list of all trades merges the by-asset ranges
 * (rpc/), so it costs no entry of its own.
 *
 * They go into the block's store batch but not into the state digest: they are derived from
 * the block and can be rebuilt with -reindex.
 *
 * Threads: the sequencer (while a block is being built or applied).
 */
#include <string.h>

#include "node/chain_internal.h"

static void
index_put(struct node_chain *c, uint8_t prefix, const char *name, int64_t time, int rule)
{
    uint8_t key[LEDGER_STORE_KEY_INDEX_MAX];
    size_t n =
        ledger_store_key_index(key, prefix, name, rule, time, c->tip.height + 1, (uint32_t)c->n);

    ledger_store_batch_put(c->batch, key, n, "", 0);
}

void
node_chain_index_tx(struct node_chain *c, const struct ledger_tx *tx,
                    const struct ledger_verdict *v)
{
    int64_t t = tx->timestamp;

    switch (tx->type) {
    case LEDGER_TX_ACCOUNT_OPEN:
        index_put(c, LEDGER_K_BY_ACCOUNT, tx->u.account_open.account, t, -1);
        break;
    case LEDGER_TX_ACCOUNT_UPDATE:
        index_put(c, LEDGER_K_BY_ACCOUNT, tx->u.account_update.account, t, -1);
        break;
    case LEDGER_TX_DEPOSIT:
    case LEDGER_TX_WITHDRAWAL:
        index_put(c, LEDGER_K_BY_ACCOUNT, tx->u.transfer.account, t, -1);
        break;
    case LEDGER_TX_TRADE:
        index_put(c, LEDGER_K_BY_ACCOUNT, tx->u.trade.buyer, t, -1);
        index_put(c, LEDGER_K_BY_ACCOUNT, tx->u.trade.seller, t, -1);
        index_put(c, LEDGER_K_BY_ASSET, tx->u.trade.asset, t, -1);
        break;
    default:
        break;
    }
    if (v->status == LEDGER_VERDICT_REJECTED) {
        index_put(c, LEDGER_K_REJECTION, NULL, t, v->rule);
        index_put(c, LEDGER_K_REJECTION_ALL, NULL, t, -1);
    }
}
