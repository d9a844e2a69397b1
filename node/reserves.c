/* Every node's watch on reserves: the critical node alert `reserves.shortfall` when an asset's
 * last recorded liabilities (the operator's liabilities transaction) exceed the reserve a
 * regulator last attested for it (the reserves_attest directive). Both are ledger state, so
 * every node that holds the same chain raises the same alert; an asset without an attested
 * reserve, or without a liabilities record yet, is never short.
 *
 * The check copies a few numbers under state_mu each time the durable tip moves: cheap. It
 * alerts when an asset becomes short, not again while it stays short, and again if it recovers
 * and becomes short once more (after a restart, a shortfall that still holds alerts once more,
 * when the first block is made or applied).
 *
 * Threads: node_reserves_check runs on the event-loop thread (commit.c's notify); the bits of
 * what was short are the event loop's alone.
 */
#include <pthread.h>

#include "ledger/amount.h"
#include "node/node_int.h"

void
node_reserves_check(struct node *n)
{
    struct cmp_liabilities_view v;
    const struct ledger_genesis *g;
    char owed[LEDGER_AMOUNT_STR_MAX], held[LEDGER_AMOUNT_STR_MAX];

    pthread_mutex_lock(&n->state_mu);
    cmp_engine_liabilities(node_chain_engine(n->chain), &v);
    g = cmp_engine_genesis(node_chain_engine(n->chain));
    pthread_mutex_unlock(&n->state_mu);
    for (size_t i = 0; i < v.nassets; i++) {
        const struct cmp_liabilities_line *a = &v.assets[i];
        uint32_t bit = 1u << i;

        if (!a->shortfall) {
            n->reserves.short_assets &= ~bit;
            continue;
        }
        if (n->reserves.short_assets & bit)
            continue;
        n->reserves.short_assets |= bit;
        ledger_amount_format(owed, a->liabilities, g->assets[i].decimals);
        ledger_amount_format(held, a->reserve, g->assets[i].decimals);
        node_alert(n, NODE_ALERT_CRITICAL, "reserves.shortfall", v.record_height, NULL, NULL,
                   "%s: the liabilities recorded in block %llu (%s) exceed the attested reserve "
                   "(%s)",
                   a->asset, (unsigned long long)v.record_height, owed, held);
    }
}
