/* Following: validate and apply a block received (node_chain_apply, node_chain_check_txs).
 *
 * A block is checked in this order: its height, the header signature and every transaction's
 * signature (on the pool's threads, or ahead of time by the caller's verifiers), the links to
 * our tip, the producer, the time, the roots, then every transaction's timestamp is checked
 * against the block's (the block rule time.skew) and the transaction applied through
 * node_chain_add and its verdict compared with the block's, and last the state digest
 * (node_chain_build_finish, shared with sealing). Block 0 is recorded as is once
 * node_chain_genesis_load has checked it.
 *
 * Threads: node_chain_check_txs on any thread (stateless; the follower's verifiers); the rest on
 * the sequencer (the follower's applier), or on the thread that opens, reindexes or
 * replay-checks a chain it alone uses.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/chain_internal.h"
#include "util/log.h"
#include "util/par.h"

int
node_chain_check_txs(const struct ledger_block *b, size_t from, size_t to, uint8_t (*txids)[32],
                     size_t *bad, struct sbx_err *err)
{
    for (size_t i = from; i < to; i++) {
        const struct ledger_block_entry *e = &b->entries[i];
        int type = -1;
        int rc = ledger_tx_check_in_block(e->tx, e->tx_len, b->hdr.producer, txids[i], &type, err);

        if (rc == SBX_OK && type == LEDGER_TX_GENESIS)
            rc = sbx_err_set(err, SBX_ECORRUPT, "a genesis transaction after block 0");
        if (rc) {
            *bad = i;
            return rc;
        }
    }
    return SBX_OK;
}

/* node_chain_check_txs over a whole block on the pool's threads. */
struct check_all {
    const struct ledger_block *b;
    uint8_t (*txids)[32];
    size_t nslices;
    pthread_mutex_t mu;
    size_t bad; /* the first failure by index, and its message */
    char msg[SBX_ERR_MSG_MAX];
};

static void
check_slice(void *ctx, size_t k)
{
    struct check_all *ca = ctx;
    size_t n = ca->b->ntx, from = n * k / ca->nslices, to = n * (k + 1) / ca->nslices, bad;
    struct sbx_err err;

    sbx_err_clear(&err);
    if (node_chain_check_txs(ca->b, from, to, ca->txids, &bad, &err) != SBX_OK) {
        pthread_mutex_lock(&ca->mu);
        if (bad < ca->bad) {
            ca->bad = bad;
            snprintf(ca->msg, sizeof(ca->msg), "%s", err.msg);
        }
        pthread_mutex_unlock(&ca->mu);
    }
}

static int
check_all_txs(struct node_chain *c, const struct ledger_block *b, uint8_t (*txids)[32],
              struct sbx_err *err)
{
    struct check_all ca;

    memset(&ca, 0, sizeof(ca));
    ca.b = b;
    ca.txids = txids;
    ca.nslices = b->ntx < 64 ? 1 : b->ntx / 32; /* slices of about 32 signature checks */
    ca.bad = SIZE_MAX;
    pthread_mutex_init(&ca.mu, NULL);
    par_run(c->pool, ca.nslices, check_slice, &ca);
    pthread_mutex_destroy(&ca.mu);
    if (ca.bad != SIZE_MAX)
        return sbx_err_set(err, SBX_ECORRUPT, "block %llu tx %zu: %s",
                           (unsigned long long)b->hdr.height, ca.bad, ca.msg);
    return SBX_OK;
}

int
node_chain_check_roots(const struct ledger_block *b, const uint8_t (*txids)[32],
                       struct sbx_err *err)
{
    uint8_t root[32];

    ledger_merkle_root(txids, b->ntx, root);
    if (memcmp(root, b->hdr.tx_root, 32) != 0)
        return sbx_err_set(err, SBX_ECORRUPT, "tx_root does not match the transactions");
    if (node_chain_verdict_root(b, root) != SBX_OK)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    if (memcmp(root, b->hdr.verdict_root, 32) != 0)
        return sbx_err_set(err, SBX_ECORRUPT, "verdict_root does not match the verdicts");
    return SBX_OK;
}

/* The roots of a block whose txids are known, unless the caller checked them. */
static int
check_roots(const struct ledger_block *b, const uint8_t (*txids)[32], int checked,
            struct sbx_err *err)
{
    int rc = checked ? SBX_OK : node_chain_check_roots(b, txids, err);

    if (rc == SBX_ECORRUPT)
        sbx_err_set(err, rc, "block %llu: %s", (unsigned long long)b->hdr.height,
                    err ? err->msg : "");
    return rc;
}

/* The height expected next (the caller checked that there is a tip). */
static int
check_height(const struct node_chain *c, const struct ledger_block *b, struct sbx_err *err)
{
    if (b->hdr.height != c->tip.height + 1)
        return sbx_err_set(err, SBX_EINVAL, "block: height %llu, expected %llu",
                           (unsigned long long)b->hdr.height,
                           (unsigned long long)c->tip.height + 1);
    return SBX_OK;
}

/* What the header says against our tip and the genesis: link, producer, time, count. */
static int
check_links(const struct node_chain *c, const struct ledger_block *b, struct sbx_err *err)
{
    unsigned long long height = (unsigned long long)b->hdr.height;

    if (memcmp(b->hdr.prev_hash, c->tip.hash, 32) != 0)
        return sbx_err_set(err, SBX_ECORRUPT, "block %llu: does not link to our tip", height);
    if (memcmp(b->hdr.producer, c->genesis.u.genesis.operator_key, 32) != 0)
        return sbx_err_set(err, SBX_ECORRUPT, "block %llu: not produced by the operator key",
                           height);
    if (b->hdr.time_ms < c->tip_time)
        return sbx_err_set(err, SBX_ECORRUPT, "block %llu: time goes backwards", height);
    if (b->ntx != b->hdr.ntx)
        return sbx_err_set(err, SBX_ECORRUPT,
                           "block %llu: header says %lu transactions, block has %zu", height,
                           (unsigned long)b->hdr.ntx, b->ntx);
    return SBX_OK;
}

/* Apply transaction `i` of `b` (its signature checked) and compare the verdict the rules give
 * with the block's. */
static int
apply_one(struct node_chain *c, const struct ledger_block *b, size_t i, const uint8_t txid[32],
          struct sbx_err *err)
{
    unsigned long long height = (unsigned long long)b->hdr.height;
    const struct ledger_block_entry *e = &b->entries[i];
    uint8_t venc[LEDGER_VERDICT_SIZE], wenc[LEDGER_VERDICT_SIZE];
    struct cmp_result res;
    struct ledger_tx tx;
    const char *want, *got;
    int rc;

    /* decoded and checked by node_chain_check_txs; decoding again is cheaper than keeping
     * every decoded transaction of a block */
    rc = ledger_tx_decode(&tx, e->tx, e->tx_len, NULL, err);
    if (rc == SBX_OK && node_chain_time_fit(c, tx.timestamp, tx.type) != 0) {
        long long ts = (long long)tx.timestamp;

        ledger_tx_release(&tx);
        return sbx_err_set(err, SBX_ECORRUPT,
                           "block %llu tx %zu: time.skew: timestamp %lld is more than "
                           "time.max_skew_ms (%lld; a directive: + supervision.proposal_ttl_s "
                           "before) from the block's time %lld",
                           height, i, ts,
                           (long long)cmp_engine_params(c->eng)->v[CMP_P_MAX_SKEW_MS],
                           (long long)b->hdr.time_ms);
    }
    rc = rc ? rc : node_chain_add(c, e->tx, e->tx_len, &tx, txid, &res);
    ledger_tx_release(&tx);
    if (rc)
        return sbx_err_set(err, SBX_ECORRUPT, "block %llu tx %zu: %s", height, i,
                           err ? err->msg : sbx_rc_name(rc));
    ledger_verdict_encode(&res.verdict, venc);
    ledger_verdict_encode(&e->verdict, wenc);
    if (memcmp(venc, wenc, sizeof(venc)) == 0)
        return SBX_OK;
    want = cmp_rule_name(res.verdict.rule);
    got = cmp_rule_name(e->verdict.rule);
    return sbx_err_set(err, SBX_ECORRUPT,
                       "block %llu tx %zu: verdict differs: the block says %s, the rules say %s",
                       height, i, got ? got : "accepted", want ? want : "accepted");
}

/* A decoded block after genesis whose signatures (header and transactions, giving `txids`)
 * were checked: everything else, then seal it into *sealed. */
static int
apply_decoded(struct node_chain *c, const uint8_t *block, size_t len, const struct ledger_block *b,
              const uint8_t (*txids)[32], int roots_checked, struct node_sealed *sealed,
              struct sbx_err *err)
{
    int rc;

    memset(sealed, 0, sizeof(*sealed));
    if (c->tip.height == UINT64_MAX)
        SBX_BUG("node_chain_apply of a decoded block before genesis");
    rc = check_height(c, b, err);
    rc = rc ? rc : check_links(c, b, err);
    rc = rc ? rc : check_roots(b, txids, roots_checked, err);
    rc = rc ? rc : node_chain_begin(c, b->hdr.time_ms);
    if (rc)
        return rc;
    c->apply_dirty = 1;
    for (size_t i = 0; i < b->ntx && rc == SBX_OK; i++)
        rc = apply_one(c, b, i, txids[i], err);
    rc = rc ? rc : node_chain_build_finish(c, NULL, &b->hdr, block, len, sealed, err);
    if (rc == SBX_OK)
        c->apply_dirty = 0;
    /* refused: the engine may hold part of the block; see node_chain_reload */
    node_chain_build_drop(c);
    return rc;
}

/* Block 0 (node_chain_create, reindex, replay): recorded as is once the genesis load checked
 * it. */
static int
apply_genesis(struct node_chain *c, const uint8_t *block, size_t len, const struct ledger_block *b,
              struct node_sealed *sealed, struct sbx_err *err)
{
    int rc = node_chain_genesis_load(c, block, len, err);

    rc = rc ? rc : node_chain_begin(c, b->hdr.time_ms);
    rc = rc ? rc : node_chain_build_room(c);
    rc = rc ? rc : buf_put(&c->txs, b->entries[0].tx, b->entries[0].tx_len);
    if (rc == SBX_OK) {
        c->e[0].off = 0;
        c->e[0].len = b->entries[0].tx_len;
        c->e[0].verdict = b->entries[0].verdict;
        ledger_tx_id_raw(c->txids[0], b->entries[0].tx, b->entries[0].tx_len - 64);
        c->n = 1;
        rc = node_chain_build_finish(c, NULL, &b->hdr, block, len, sealed, err);
    }
    node_chain_build_drop(c);
    return rc;
}

/* An encoded block: decode it, check every signature (on the pool), apply and seal it. */
static int
apply_encoded(struct node_chain *c, const uint8_t *block, size_t len, struct node_sealed *sealed,
              struct sbx_err *err)
{
    struct ledger_block b;
    uint8_t(*txids)[32] = NULL;
    int rc;

    memset(sealed, 0, sizeof(*sealed));
    rc = ledger_block_decode(&b, block, len, err);
    if (rc)
        return rc;
    if (c->tip.height == UINT64_MAX) {
        rc = b.hdr.height == 0 ? apply_genesis(c, block, len, &b, sealed, err)
                               : sbx_err_set(err, SBX_EINVAL, "block: height %llu, expected 0",
                                             (unsigned long long)b.hdr.height);
        goto out;
    }
    rc = check_height(c, &b, err);
    if (rc)
        goto out;
    txids = malloc((b.ntx ? b.ntx : 1) * 32);
    rc = txids ? ledger_block_verify_sig(&b.hdr, err)
               : sbx_err_set(err, SBX_ENOMEM, "out of memory");
    rc = rc ? rc : check_all_txs(c, &b, txids, err);
    rc = rc ? rc : apply_decoded(c, block, len, &b, (const uint8_t(*)[32])txids, 0, sealed, err);
out:
    free(txids);
    ledger_block_release(&b);
    return rc;
}

int
node_chain_apply(struct node_chain *c, const uint8_t *block, size_t len,
                 const struct node_chain_apply_opts *opts, struct sbx_err *err)
{
    static const struct node_chain_apply_opts defaults;
    struct node_sealed own, *sealed;
    uint64_t height = c->tip.height + 1;
    int rc;

    if (opts == NULL)
        opts = &defaults;
    if ((opts->decoded == NULL) != (opts->txids == NULL))
        SBX_BUG("node_chain_apply: a decoded block comes with its txids");
    sealed = opts->seal_into != NULL ? opts->seal_into : &own;
    if (opts->decoded != NULL)
        rc = apply_decoded(c, block, len, opts->decoded, opts->txids, opts->roots_checked, sealed,
                           err);
    else
        rc = apply_encoded(c, block, len, sealed, err);
    if (opts->seal_into != NULL)
        return rc; /* the caller writes it, or reloads */
    rc = rc ? rc : node_chain_write(c, &own, err);
    node_sealed_release(&own);
    if (rc && height > 0) {
        struct sbx_err e2;

        if (node_chain_reload(c, &e2) != SBX_OK)
            LOG_ERROR(LOG_NODE, "cannot reload the state after a refused block: %s", e2.msg);
    }
    return rc;
}
