/* The operator's liabilities records, and the balances kept behind every record (see
 * ledger/liabilities.h and doc/protocol.md, "Liabilities").
 *
 * The operator records liabilities as the first transaction of a block when the block is the
 * first of a new local day (time.utc_offset_min) after the tip's, so the record reflects the
 * last block of the day before, or when a liabilities_snapshot directive asked for one. The seed
 * is fresh from OpenSSL's random source; the rules (compliance/liabilities.c) check the roots and
 * totals on every node. Every node that applies an accepted record keeps the snapshot of the
 * balances it was made from under 'W' height in the block's batch, so that getliabilityproof can
 * answer later: it costs one row per client account (id and one i64 per asset) per record, not
 * in the state digest, rebuilt by -reindex.
 *
 * Threads: node_chain_liabilities_add on the sequencer (state_mu held, a block just begun);
 * node_chain_liabilities_keep from node_chain_add (the sequencer or the follower's applier).
 */
#include <string.h>

#include <openssl/rand.h>

#include "node/chain_internal.h"
#include "util/log.h"
#include "util/time.h"

/* 1 if the operator records liabilities at the start of the block just begun. */
static int
due(const struct node_chain *c)
{
    const struct cmp_engine *e = c->eng;
    int off = (int)cmp_engine_params(e)->v[CMP_P_UTC_OFFSET_MIN];
    struct cmp_liabilities_view v;

    cmp_engine_liabilities(e, &v);
    if (v.requested)
        return 1;
    return c->tip.height > 0 && time_local_day(c->time_ms, off) > time_local_day(c->tip_time, off);
}

int
node_chain_liabilities_add(struct node_chain *c, const struct ledger_key *op, struct sbx_err *err)
{
    struct ledger_tx tx;
    struct cmp_result res;
    struct buf enc;
    uint8_t seed[32], txid[32];
    int64_t short_by = 0;
    int rc;

    if (!c->building || c->n != 0)
        SBX_BUG("node_chain_liabilities_add outside a block just begun");
    if (!due(c))
        return SBX_OK;
#ifdef SBX_TEST_HOOKS
    short_by = c->test_liab_short ? 1 : 0;
#endif
    if (RAND_bytes(seed, sizeof(seed)) != 1)
        return sbx_err_set(err, SBX_EINTERNAL, "liabilities: no random seed");
    buf_init(&enc, SBX_TX_MAX_SIZE);
    ledger_tx_init(&tx, LEDGER_TX_LIABILITIES);
    tx.timestamp = c->time_ms;
    rc = cmp_liabilities_make(c->eng, seed, c->tip.height, short_by, &tx.u.liabilities);
    rc = rc ? rc : ledger_tx_sign(&tx, op, txid, err);
    rc = rc ? rc : ledger_tx_encode(&tx, &enc, err);
    rc = rc ? rc : node_chain_add(c, enc.data, enc.len, &tx, txid, &res);
    if (rc == SBX_OK && res.verdict.status != LEDGER_VERDICT_ACCEPTED)
        LOG_ERROR(LOG_NODE, "the liabilities record of block %llu was rejected: %s",
                  (unsigned long long)c->tip.height + 1, res.message);
    else if (rc == SBX_OK)
        LOG_INFO(LOG_NODE, "liabilities recorded as of block %llu",
                 (unsigned long long)c->tip.height);
    buf_release(&enc);
    OPENSSL_cleanse(seed, sizeof(seed));
    if (rc)
        return sbx_err_set(err, rc, "liabilities: %s", sbx_rc_name(rc));
    return SBX_OK;
}

void
node_chain_liabilities_keep(struct node_chain *c, const struct ledger_tx *tx,
                            const struct ledger_verdict *v)
{
    struct ledger_liab_snapshot snap;
    uint8_t key[LEDGER_STORE_KEY_BLOCK_LEN];
    struct buf val;

    if (tx->type != LEDGER_TX_LIABILITIES || v->status != LEDGER_VERDICT_ACCEPTED)
        return;
    buf_init(&val, (size_t)1 << 30);
    if (cmp_liabilities_snapshot(c->eng, &snap) != SBX_OK) {
        LOG_ERROR(LOG_NODE, "out of memory: no snapshot kept for the liabilities record");
        return;
    }
    if (ledger_liabilities_snapshot_encode(&snap, &val) == SBX_OK)
        ledger_store_batch_put(c->batch, key, ledger_store_key_liabilities(key, c->tip.height + 1),
                               val.data, val.len);
    else
        LOG_ERROR(LOG_NODE, "out of memory: no snapshot kept for the liabilities record");
    ledger_liabilities_snapshot_release(&snap);
    buf_release(&val);
}

#ifdef SBX_TEST_HOOKS
void
node_chain_test_liabilities_short(struct node_chain *c)
{
    c->test_liab_short = 1;
}

/* The operator believes its own short record (node_chain_add, before applying it): its verdict
 * becomes accepted, once, so that the block carries it and the regulators refuse it. */
void
node_chain_test_liabilities_take(struct node_chain *c, const struct ledger_tx *tx,
                                 struct cmp_result *res)
{
    if (!c->test_liab_short || tx->type != LEDGER_TX_LIABILITIES)
        return;
    c->test_liab_short = 0;
    if (res->verdict.rule != CMP_RULE_LIABILITIES_MISMATCH)
        return;
    LOG_WARN(LOG_NODE, "test hook: a liabilities record one base unit short, recorded as accepted");
    memset(&res->verdict, 0, sizeof(res->verdict));
    res->verdict.status = LEDGER_VERDICT_ACCEPTED;
    res->verdict.param_version = cmp_engine_params(c->eng)->version;
    res->message[0] = '\0';
}
#endif
