/* node/ unit tests of the chain and the pipeline: a real devnet node on a temporary datadir
 * (real LevelDB, real threads), driven through node_submit and an event loop; and a follower
 * chain that re-validates the operator's blocks and refuses tampered ones. */
#include "tests/unit/test_common.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "compliance/engine.h"
#include "ledger/keys.h"
#include "ledger/store.h"
#include "node/chain.h"
#include "node/devnet.h"
#include "node/node.h"
#include "util/buf.h"
#include "util/sha256.h"
#include "util/time.h"

struct waiter {
    struct event_base *base;
    int pending;
    struct node_result last;
};

static void
on_done(void *arg, const struct node_result *r)
{
    struct waiter *w = arg;

    w->last = *r;
    if (--w->pending == 0)
        event_base_loopbreak(w->base);
}

/* Submit one transaction and run the loop until its result is in. */
static struct node_result
submit(struct node *n, struct event_base *base, const struct ledger_tx *tx)
{
    struct waiter w = {base, 1, {0}};

    node_submit(n, tx, on_done, &w);
    if (w.pending)
        event_base_dispatch(base);
    return w.last;
}

static struct ledger_tx
open_tx(const char *id, int tier)
{
    struct ledger_tx tx;

    ledger_tx_init(&tx, LEDGER_TX_ACCOUNT_OPEN);
    snprintf(tx.u.account_open.account, sizeof(tx.u.account_open.account), "%s", id);
    tx.u.account_open.kyc_tier = (uint8_t)tier;
    tx.u.account_open.investor_class = LEDGER_CLASS_DOMESTIC_INDIVIDUAL;
    memcpy(tx.u.account_open.country, "VN", 3);
    memset(tx.u.account_open.kyc_ref, 1, 32);
    memset(tx.u.account_open.bank_ref, 2, 32);
    return tx;
}

static struct ledger_tx
deposit_tx(const char *transfer, const char *acct, const char *asset, int64_t amount)
{
    struct ledger_tx tx;

    ledger_tx_init(&tx, LEDGER_TX_DEPOSIT);
    snprintf(tx.u.transfer.transfer_id, sizeof(tx.u.transfer.transfer_id), "%s", transfer);
    snprintf(tx.u.transfer.account, sizeof(tx.u.transfer.account), "%s", acct);
    snprintf(tx.u.transfer.asset, sizeof(tx.u.transfer.asset), "%s", asset);
    tx.u.transfer.amount = amount;
    snprintf(tx.u.transfer.reference, sizeof(tx.u.transfer.reference), "bank-%s", transfer);
    if (strcmp(asset, "VND") != 0) { /* crypto carries a screening result */
        tx.u.transfer.has_screening = 1;
        snprintf(tx.u.transfer.screening.provider, sizeof(tx.u.transfer.screening.provider),
                 "chainscan");
    }
    return tx;
}

static struct ledger_tx
trade_tx(const char *id, const char *buyer, const char *seller, int64_t qty, int64_t price)
{
    /* fixed within a run (part of the content, so a resubmission is the same trade) and recent
     * (time.executed_at: within time.max_trade_age_ms of the time the node stamps) */
    static int64_t executed_at;
    struct ledger_tx tx;

    ledger_tx_init(&tx, LEDGER_TX_TRADE);
    snprintf(tx.u.trade.trade_id, sizeof(tx.u.trade.trade_id), "%s", id);
    snprintf(tx.u.trade.buyer, sizeof(tx.u.trade.buyer), "%s", buyer);
    snprintf(tx.u.trade.seller, sizeof(tx.u.trade.seller), "%s", seller);
    snprintf(tx.u.trade.asset, sizeof(tx.u.trade.asset), "BTC");
    tx.u.trade.quantity = qty;
    tx.u.trade.price = price;
    if (executed_at == 0)
        executed_at = time_now_ms();
    tx.u.trade.executed_at = executed_at;
    return tx;
}

struct fixture {
    char *dir;
    struct event_base *base;
    struct node *node;
    struct node_config cfg;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct sbx_err err;

    evthread_use_pthreads();
    f->dir = test_tmpdir();
    f->base = event_base_new();
    node_config_defaults(&f->cfg);
    f->cfg.datadir = f->dir;
    f->cfg.devnet = 1;
    f->cfg.workers = 2;
    if (node_open(&f->node, &f->cfg, f->base, &err) != SBX_OK) {
        fprintf(stderr, "node_open: %s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    node_close(f->node);
    event_base_free(f->base);
    test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void
reopen(struct fixture *f)
{
    struct sbx_err err;

    node_close(f->node);
    f->cfg.devnet = 0; /* the chain exists now: no devnet set-up needed */
    assert_int_equal(node_open(&f->node, &f->cfg, f->base, &err), SBX_OK);
}

static void
test_node_submit_trade(void **state)
{
    struct fixture *f = *state;
    struct ledger_tx tx;
    struct node_result r, r2;
    struct ledger_tip tip;
    uint64_t checked, failed;
    struct sbx_err err;

    tx = open_tx("alice", 1);
    r = submit(f->node, f->base, &tx);
    assert_int_equal(r.rc, SBX_OK);
    assert_int_equal(r.verdict.status, LEDGER_VERDICT_ACCEPTED);
    assert_true(r.height >= 2); /* genesis, the devnet house account, then this */
    tx = open_tx("bob", 1);
    assert_int_equal(submit(f->node, f->base, &tx).rc, SBX_OK);
    tx = deposit_tx("d1", "alice", "VND", 200000000);
    assert_int_equal(submit(f->node, f->base, &tx).rc, SBX_OK);
    /* 0.1 BTC = 250,000,000 VND at the reference price: within tier 1's holding limit */
    tx = deposit_tx("d2", "bob", "BTC", 10000000);
    assert_int_equal(submit(f->node, f->base, &tx).verdict.rule, CMP_RULE_TRAVEL_RULE_MISSING);
    tx = deposit_tx("d2b", "bob", "BTC", 10000000); /* with its Travel Rule record */
    tx.u.transfer.has_travel_rule = 1;
    tx.u.transfer.travel_rule.protocol = LEDGER_TRAVEL_TRISA;
    snprintf(tx.u.transfer.travel_rule.vasp, sizeof(tx.u.transfer.travel_rule.vasp), "vasp-1");
    memset(tx.u.transfer.travel_rule.originator_hash, 3, 32);
    memset(tx.u.transfer.travel_rule.beneficiary_hash, 4, 32);
    tx.u.transfer.travel_rule.status = LEDGER_TRAVEL_ACCEPTED;
    assert_int_equal(submit(f->node, f->base, &tx).rc, SBX_OK);
    /* 0.02 BTC at 2,500,000,000 = 50,000,000 VND: within tier 1's 100,000,000 per trade */
    tx = trade_tx("t1", "alice", "bob", 2000000, 2500000000);
    r = submit(f->node, f->base, &tx);
    if (r.rc != SBX_OK)
        fail_msg("trade t1: %s (%s)", sbx_rc_name(r.rc), r.message);
    /* a rejected attempt is recorded: over the per-trade limit */
    tx = trade_tx("t2", "alice", "bob", 4000001, 2500000000);
    r2 = submit(f->node, f->base, &tx);
    assert_int_equal(r2.rc, SBX_EREJECTED);
    assert_int_equal(r2.verdict.rule, CMP_RULE_LIMIT_PER_TRADE);
    assert_int_equal(r2.verdict.limit, 100000000);
    assert_true(r2.height > r.height);
    /* the same trade again: the first receipt, not a new transaction */
    tx = trade_tx("t1", "alice", "bob", 2000000, 2500000000);
    r2 = submit(f->node, f->base, &tx);
    assert_int_equal(r2.rc, SBX_OK);
    assert_memory_equal(r2.txid, r.txid, 32);
    assert_int_equal(r2.height, r.height);
    assert_memory_equal(r2.block_hash, r.block_hash, 32);
    /* the same trade id with different content: a conflict */
    tx = trade_tx("t1", "alice", "bob", 2000001, 2500000000);
    assert_int_equal(submit(f->node, f->base, &tx).rc, SBX_ECONFLICT);
    /* everything survives a restart and the chain verifies, verdicts and digests included */
    node_tip(f->node, &tip);
    reopen(f);
    {
        struct ledger_tip tip2;
        struct node_account a;

        node_tip(f->node, &tip2);
        assert_int_equal(tip2.height, tip.height);
        assert_memory_equal(tip2.state_digest, tip.state_digest, 32);
        assert_int_equal(node_account_get(f->node, "alice", time_now_ms(), &a), SBX_OK);
        assert_int_equal(a.account.balance[0], 150000000);
        assert_int_equal(a.account.balance[1], 2000000);
    }
    tx = trade_tx("t1", "alice", "bob", 2000000, 2500000000);
    r2 = submit(f->node, f->base, &tx);
    assert_int_equal(r2.rc, SBX_OK);
    assert_memory_equal(r2.txid, r.txid, 32);
    assert_int_equal(node_verify(f->node, 0, UINT64_MAX, &checked, &failed, &err), SBX_OK);
    assert_int_equal(checked, tip.height + 1);
}

/* Many submissions at once share blocks (group commit) and all get their own receipt. */
static void
test_node_group_commit(void **state)
{
    struct fixture *f = *state;
    struct waiter w = {f->base, 0, {0}};
    struct ledger_tx tx;
    char id[32];
    int n = 500;
    struct ledger_tip before, after;
    struct node_exchange_usage usage;

    node_tip(f->node, &before);
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "acct-%d", i);
        tx = open_tx(id, 2);
        w.pending++;
        node_submit(f->node, &tx, on_done, &w);
    }
    event_base_dispatch(f->base);
    assert_int_equal(w.pending, 0);
    node_tip(f->node, &after);
    /* fewer blocks than transactions: they were committed in groups */
    assert_true(after.height - before.height < (uint64_t)n);
    /* every account opened is active: the house account and the n new ones */
    node_exchange_usage_get(f->node, time_now_ms(), &usage);
    assert_int_equal(usage.active_accounts, n + 1);
}

/* A follower re-validates the operator's blocks; a block with a wrong verdict or a wrong state
 * digest is refused and leaves the follower's state as it was. */
/* A follower's chain in `fdir` from the genesis of `store`, with the blocks below `height`
 * applied (`raw` is scratch). */
static struct node_chain *
follower_below(struct ledger_store *store, const char *fdir, uint64_t height, struct buf *raw)
{
    struct node_chain *fol = NULL;
    struct sbx_err err;
    char path[4096];

    snprintf(path, sizeof(path), "%s/ledger", fdir);
    assert_int_equal(ledger_store_get_block(store, 0, raw, &err), SBX_OK);
    assert_int_equal(node_chain_create(path, raw->data, raw->len, &err), SBX_OK);
    assert_int_equal(node_chain_open(&fol, path, 0, 1, &err), SBX_OK);
    for (uint64_t h = 1; h < height; h++) {
        assert_int_equal(ledger_store_get_block(store, h, raw, &err), SBX_OK);
        assert_int_equal(node_chain_apply(fol, raw->data, raw->len, NULL, &err), SBX_OK);
    }
    return fol;
}

static void
test_follower_revalidates(void **state)
{
    struct fixture *f = *state;
    struct ledger_store *store;
    struct node_chain *fol;
    struct ledger_tx tx;
    struct ledger_tip tip;
    struct buf raw;
    struct sbx_err err;
    char *fdir = test_tmpdir();

    tx = open_tx("carol", 1);
    assert_int_equal(submit(f->node, f->base, &tx).rc, SBX_OK);
    tx = deposit_tx("dc", "carol", "VND", 5);
    assert_int_equal(submit(f->node, f->base, &tx).rc, SBX_OK);
    tx = trade_tx("tc", "carol", "HOUSE", 1000, 2500000000); /* no BTC at HOUSE: rejected */
    assert_int_equal(submit(f->node, f->base, &tx).rc, SBX_EREJECTED);
    node_tip(f->node, &tip);
    store = node_store(f->node);
    buf_init(&raw, LEDGER_BLOCK_MAX_SIZE);
    fol = follower_below(store, fdir, tip.height, &raw);
    /* the last block has the rejected trade: flip its verdict to "accepted", re-sign it with
     * the operator key as a dishonest operator would, and the follower refuses it */
    assert_int_equal(ledger_store_get_block(store, tip.height, &raw, &err), SBX_OK);
    {
        struct ledger_block b;
        struct ledger_key op;
        struct buf forged;
        char kpath[4096];
        uint8_t before[32];

        snprintf(kpath, sizeof(kpath), "%s/keys/operator.key", f->dir);
        assert_int_equal(ledger_keys_load(&op, kpath, &err), SBX_OK);
        assert_int_equal(ledger_block_decode(&b, raw.data, raw.len, &err), SBX_OK);
        assert_int_equal(b.entries[b.ntx - 1].verdict.status, LEDGER_VERDICT_REJECTED);
        b.entries[b.ntx - 1].verdict.status = LEDGER_VERDICT_ACCEPTED;
        b.entries[b.ntx - 1].verdict.rule = 0;
        b.entries[b.ntx - 1].verdict.limit = b.entries[b.ntx - 1].verdict.used =
            b.entries[b.ntx - 1].verdict.requested = 0;
        assert_int_equal(ledger_block_roots(&b, b.hdr.tx_root, b.hdr.verdict_root, NULL, &err),
                         SBX_OK);
        assert_int_equal(ledger_block_sign(&b.hdr, &op), SBX_OK);
        buf_init(&forged, LEDGER_BLOCK_MAX_SIZE);
        assert_int_equal(ledger_block_encode(&b, &forged, &err), SBX_OK);
        memcpy(before, node_chain_tip(fol)->state_digest, 32);
        assert_int_equal(node_chain_apply(fol, forged.data, forged.len, NULL, &err), SBX_ECORRUPT);
        assert_non_null(strstr(err.msg, "verdict differs"));
        assert_memory_equal(node_chain_tip(fol)->state_digest, before, 32);
        /* the same with a wrong state digest instead */
        ledger_block_release(&b);
        assert_int_equal(ledger_block_decode(&b, raw.data, raw.len, &err), SBX_OK);
        b.hdr.state_digest[0] ^= 1;
        assert_int_equal(ledger_block_sign(&b.hdr, &op), SBX_OK);
        buf_reset(&forged);
        assert_int_equal(ledger_block_encode(&b, &forged, &err), SBX_OK);
        assert_int_equal(node_chain_apply(fol, forged.data, forged.len, NULL, &err), SBX_ECORRUPT);
        if (strstr(err.msg, "state digest") == NULL)
            fail_msg("unexpected reason: %s", err.msg);
        ledger_block_release(&b);
        buf_release(&forged);
        ledger_keys_wipe(&op);
    }
    /* and the honest block still applies after the refusals */
    assert_int_equal(node_chain_apply(fol, raw.data, raw.len, NULL, &err), SBX_OK);
    assert_memory_equal(node_chain_tip(fol)->state_digest, tip.state_digest, 32);
    buf_release(&raw);
    node_chain_close(fol);
    test_rmtree(fdir);
    free(fdir);
}

/* Sign `b` (decoded from an honest block) again with the operator key after a change, and
 * apply it to `fol`: the code, and the reason in `err`. */
static int
apply_forged(struct node_chain *fol, struct ledger_block *b, const struct ledger_key *op,
             struct sbx_err *err)
{
    struct buf forged;
    int rc;

    assert_int_equal(ledger_block_roots(b, b->hdr.tx_root, b->hdr.verdict_root, NULL, err), SBX_OK);
    assert_int_equal(ledger_block_sign(&b->hdr, op), SBX_OK);
    buf_init(&forged, LEDGER_BLOCK_MAX_SIZE);
    assert_int_equal(ledger_block_encode(b, &forged, err), SBX_OK);
    rc = node_chain_apply(fol, forged.data, forged.len, NULL, err);
    buf_release(&forged);
    return rc;
}

/* What a test of forged blocks starts from: an account opened alone in the tip block `tip`, a
 * follower in `fdir` holding every block below it, the operator key, the tip block decoded into
 * `b` from `raw`, and its one transaction decoded into `tx`. */
struct forge {
    struct ledger_tip tip;
    struct node_chain *fol;
    char *fdir;
    struct ledger_key op;
    struct buf raw;
    struct ledger_block b;
    struct ledger_tx tx;
};

static void
forge_setup(struct fixture *f, struct forge *g, const char *account)
{
    struct ledger_store *store = node_store(f->node);
    struct ledger_tx tx = open_tx(account, 1);
    struct sbx_err err;
    char path[4096];

    assert_int_equal(submit(f->node, f->base, &tx).rc, SBX_OK); /* alone in the tip block */
    node_tip(f->node, &g->tip);
    g->fdir = test_tmpdir();
    buf_init(&g->raw, LEDGER_BLOCK_MAX_SIZE);
    g->fol = follower_below(store, g->fdir, g->tip.height, &g->raw);
    snprintf(path, sizeof(path), "%s/keys/operator.key", f->dir);
    assert_int_equal(ledger_keys_load(&g->op, path, &err), SBX_OK);
    assert_int_equal(ledger_store_get_block(store, g->tip.height, &g->raw, &err), SBX_OK);
    assert_int_equal(ledger_block_decode(&g->b, g->raw.data, g->raw.len, &err), SBX_OK);
    assert_int_equal(g->b.ntx, 1);
    assert_int_equal(
        ledger_tx_decode(&g->tx, g->b.entries[0].tx, g->b.entries[0].tx_len, NULL, &err), SBX_OK);
}

static void
forge_release(struct forge *g)
{
    ledger_block_release(&g->b);
    ledger_tx_release(&g->tx);
    ledger_keys_wipe(&g->op);
    buf_release(&g->raw);
    node_chain_close(g->fol);
    test_rmtree(g->fdir);
    free(g->fdir);
}

/* The block rule time.skew: a transaction's timestamp within time.max_skew_ms of its block's
 * time, both edges included; a follower refuses a block with one 1 ms further either way. */
static void
test_follower_time_skew(void **state)
{
    struct fixture *f = *state;
    struct forge g;
    struct sbx_err err;
    struct buf txenc;
    int64_t skew, t, ts0;
    uint8_t txid[32];

    forge_setup(f, &g, "dave");
    skew = cmp_engine_params(node_chain_engine(g.fol))->v[CMP_P_MAX_SKEW_MS];

    /* the edges, against a block being built */
    assert_int_equal(node_chain_begin(g.fol, time_now_ms()), SBX_OK);
    t = node_chain_block_time(g.fol);
    assert_int_equal(node_chain_time_fit(g.fol, t, LEDGER_TX_TRADE), 0);
    assert_int_equal(node_chain_time_fit(g.fol, t - skew, LEDGER_TX_TRADE), 0);
    assert_int_equal(node_chain_time_fit(g.fol, t + skew, LEDGER_TX_TRADE), 0);
    assert_int_equal(node_chain_time_fit(g.fol, t - skew - 1, LEDGER_TX_TRADE), -1);
    assert_int_equal(node_chain_time_fit(g.fol, t + skew + 1, LEDGER_TX_TRADE), 1);
    /* a directive may be older by supervision.proposal_ttl_s (its cosignatures are gathered
     * after it was signed), never newer */
    {
        int64_t ttl = cmp_engine_params(node_chain_engine(g.fol))->v[CMP_P_PROPOSAL_TTL_S] * 1000;

        assert_int_equal(node_chain_time_fit(g.fol, t - skew - ttl, LEDGER_TX_DIRECTIVE), 0);
        assert_int_equal(node_chain_time_fit(g.fol, t - skew - ttl - 1, LEDGER_TX_DIRECTIVE), -1);
        assert_int_equal(node_chain_time_fit(g.fol, t + skew + 1, LEDGER_TX_DIRECTIVE), 1);
    }
    node_chain_abort_empty(g.fol);

    ts0 = g.tx.timestamp;
    /* a block dated 1 ms more than the skew after its transaction */
    g.b.hdr.time_ms = ts0 + skew + 1;
    assert_int_equal(apply_forged(g.fol, &g.b, &g.op, &err), SBX_ECORRUPT);
    if (strstr(err.msg, "time.skew") == NULL)
        fail_msg("unexpected reason: %s", err.msg);
    /* a transaction dated 1 ms more than the skew after its block (encoded again) */
    g.b.hdr.time_ms = ts0;
    g.tx.timestamp = ts0 + skew + 1;
    buf_init(&txenc, SBX_TX_MAX_SIZE);
    assert_int_equal(ledger_tx_seal_for_block(&g.tx, g.op.pubkey, &txenc, txid, &err), SBX_OK);
    g.b.entries[0].tx = txenc.data;
    g.b.entries[0].tx_len = txenc.len;
    assert_int_equal(apply_forged(g.fol, &g.b, &g.op, &err), SBX_ECORRUPT);
    if (strstr(err.msg, "time.skew") == NULL)
        fail_msg("unexpected reason: %s", err.msg);
    ledger_block_release(&g.b);
    /* exactly the skew after its transaction: the block applies, same state as the operator's */
    assert_int_equal(ledger_block_decode(&g.b, g.raw.data, g.raw.len, &err), SBX_OK);
    g.b.hdr.time_ms = ts0 + skew;
    assert_int_equal(apply_forged(g.fol, &g.b, &g.op, &err), SBX_OK);
    assert_memory_equal(node_chain_tip(g.fol)->state_digest, g.tip.state_digest, 32);
    buf_release(&txenc);
    forge_release(&g);
}

/* The operator's liabilities record at the day's end (UTC+7 on devnet): a block begun in the
 * last millisecond of the tip's local day gets none; one begun at the next local midnight gets
 * it first, reflecting the tip, accepted; the next block that day gets none. */
static void
test_liabilities_day_end(void **state)
{
    struct fixture *f = *state;
    struct forge g;
    struct node_sealed s;
    struct ledger_block b;
    struct ledger_tx tx;
    struct sbx_err err;
    int off;
    int64_t midnight;
    uint64_t reflects;

    forge_setup(f, &g, "erin");
    off = (int)cmp_engine_params(node_chain_engine(g.fol))->v[CMP_P_UTC_OFFSET_MIN];
    reflects = node_chain_tip(g.fol)->height;
    /* a block time before the tip's is the tip's: this reads the tip's time */
    assert_int_equal(node_chain_begin(g.fol, 0), SBX_OK);
    midnight = time_local_day_start_ms(time_local_day(node_chain_block_time(g.fol), off) + 1, off);
    node_chain_abort_empty(g.fol);
    assert_int_equal(node_chain_begin(g.fol, midnight - 1), SBX_OK);
    assert_int_equal(node_chain_liabilities_add(g.fol, &g.op, &err), SBX_OK);
    assert_int_equal(node_chain_pending(g.fol), 0);
    node_chain_abort_empty(g.fol);

    assert_int_equal(node_chain_begin(g.fol, midnight), SBX_OK);
    assert_int_equal(node_chain_liabilities_add(g.fol, &g.op, &err), SBX_OK);
    assert_int_equal(node_chain_pending(g.fol), 1);
    assert_int_equal(node_chain_seal(g.fol, &g.op, &s, &err), SBX_OK);
    assert_int_equal(ledger_block_decode(&b, s.block.data, s.block.len, &err), SBX_OK);
    assert_int_equal(b.ntx, 1);
    assert_int_equal(b.entries[0].verdict.status, LEDGER_VERDICT_ACCEPTED);
    assert_int_equal(ledger_tx_decode(&tx, b.entries[0].tx, b.entries[0].tx_len, NULL, &err),
                     SBX_OK);
    assert_int_equal(tx.type, LEDGER_TX_LIABILITIES);
    assert_true(tx.u.liabilities.reflects_height == reflects);
    ledger_tx_release(&tx);
    ledger_block_release(&b);
    assert_int_equal(node_chain_write(g.fol, &s, &err), SBX_OK);
    node_sealed_release(&s);

    assert_int_equal(node_chain_begin(g.fol, midnight + 1), SBX_OK);
    assert_int_equal(node_chain_liabilities_add(g.fol, &g.op, &err), SBX_OK);
    assert_int_equal(node_chain_pending(g.fol), 0);
    node_chain_abort_empty(g.fol);
    forge_release(&g);
}

/* Block-authenticated transactions: what the node builds from its submissions carries no
 * signature, and its signer is the producer. A follower refuses a block whose signature has one
 * bit flipped, and a block the producer signed holding an unsigned transaction whose signer is
 * another key (a regulator's); it accepts the same block with the producer as signer. -reindex
 * and verifychain pass over such a chain. */
static void
test_follower_block_auth(void **state)
{
    struct fixture *f = *state;
    struct forge g;
    struct ledger_key reg;
    struct sbx_err err;
    struct buf forged, txenc;
    char path[4096];
    uint64_t checked, failed;
    uint8_t txid[32];

    forge_setup(f, &g, "erin");
    assert_int_equal(node_devnet_regulator_key(&reg), SBX_OK);
    assert_int_equal(g.tx.auth, LEDGER_TX_AUTH_BLOCK);
    assert_memory_equal(g.tx.signer, g.op.pubkey, 32);
    assert_memory_equal(g.b.hdr.producer, g.op.pubkey, 32);

    /* (a) one bit of the block's signature flipped */
    g.b.hdr.sig[21] ^= 0x08;
    buf_init(&forged, LEDGER_BLOCK_MAX_SIZE);
    assert_int_equal(ledger_block_encode(&g.b, &forged, &err), SBX_OK);
    assert_int_not_equal(node_chain_apply(g.fol, forged.data, forged.len, NULL, &err), SBX_OK);
    if (strstr(err.msg, "sig") == NULL)
        fail_msg("unexpected reason: %s", err.msg);
    buf_release(&forged);

    /* (b) the producer's block holding an unsigned transaction of the regulator's */
    buf_init(&txenc, SBX_TX_MAX_SIZE);
    assert_int_equal(ledger_tx_seal_for_block(&g.tx, reg.pubkey, &txenc, txid, &err), SBX_OK);
    g.b.entries[0].tx = txenc.data;
    g.b.entries[0].tx_len = txenc.len;
    assert_int_not_equal(apply_forged(g.fol, &g.b, &g.op, &err), SBX_OK);
    if (strstr(err.msg, "producer") == NULL)
        fail_msg("unexpected reason: %s", err.msg);
    /* ... and the same with the producer as the signer applies */
    buf_reset(&txenc);
    assert_int_equal(ledger_tx_seal_for_block(&g.tx, g.op.pubkey, &txenc, txid, &err), SBX_OK);
    g.b.entries[0].tx = txenc.data;
    g.b.entries[0].tx_len = txenc.len;
    assert_int_equal(apply_forged(g.fol, &g.b, &g.op, &err), SBX_OK);
    assert_memory_equal(node_chain_tip(g.fol)->state_digest, g.tip.state_digest, 32);

    /* -reindex and verifychain over the chain of block-authenticated transactions */
    node_chain_close(g.fol);
    snprintf(path, sizeof(path), "%s/ledger", g.fdir);
    assert_int_equal(node_chain_open(&g.fol, path, 1, 1, &err), SBX_OK);
    assert_memory_equal(node_chain_tip(g.fol)->state_digest, g.tip.state_digest, 32);
    assert_int_equal(node_verify(f->node, 0, UINT64_MAX, &checked, &failed, &err), SBX_OK);
    assert_int_equal(checked, g.tip.height + 1);

    ledger_keys_wipe(&reg);
    buf_release(&txenc);
    forge_release(&g);
}

/* State checkpoints: a follower that stops without one (a crash) loads the last checkpoint
 * (genesis here) and replays the blocks after it on open: same tip, same state, and the next
 * block still applies; the replay then writes a checkpoint, so a second open replays nothing. */
static void
test_checkpoint_replay(void **state)
{
    struct fixture *f = *state;
    struct node_chain *fol;
    struct ledger_store *store;
    struct ledger_tx tx;
    struct ledger_tip tip, before;
    struct buf raw, v;
    struct sbx_err err;
    const struct ledger_account *a;
    static const uint8_t state_key[] = {LEDGER_K_META, 's', 't', 'a', 't', 'e'};
    char *fdir = test_tmpdir(), path[4096];
    int64_t dave_vnd;

    tx = open_tx("dave", 1);
    assert_int_equal(submit(f->node, f->base, &tx).rc, SBX_OK);
    tx = deposit_tx("dd1", "dave", "VND", 7000000);
    assert_int_equal(submit(f->node, f->base, &tx).rc, SBX_OK);
    tx = deposit_tx("dd2", "dave", "VND", 1000);
    assert_int_equal(submit(f->node, f->base, &tx).rc, SBX_OK);
    node_tip(f->node, &tip);
    assert_true(tip.height >= 4);
    store = node_store(f->node);
    buf_init(&raw, LEDGER_BLOCK_MAX_SIZE);
    buf_init(&v, 64);
    snprintf(path, sizeof(path), "%s/ledger", fdir);
    assert_int_equal(ledger_store_get_block(store, 0, &raw, &err), SBX_OK);
    assert_int_equal(node_chain_create(path, raw.data, raw.len, &err), SBX_OK);
    assert_int_equal(node_chain_open(&fol, path, 0, 1, &err), SBX_OK);
    for (uint64_t h = 1; h < tip.height; h++) {
        assert_int_equal(ledger_store_get_block(store, h, &raw, &err), SBX_OK);
        assert_int_equal(node_chain_apply(fol, raw.data, raw.len, NULL, &err), SBX_OK);
    }
    before = *node_chain_tip(fol);
    a = ledger_state_get(cmp_engine_state(node_chain_engine(fol)), "dave");
    assert_non_null(a);
    dave_vnd = a->balance[0];
    assert_int_equal(dave_vnd, 7000000);
    /* the store's state is still genesis's: only the blocks went to disk */
    assert_int_equal(
        ledger_store_get(node_chain_store(fol), state_key, sizeof(state_key), &v, &err), SBX_OK);
    assert_int_equal(buf_load_u64(v.data), 0);
    node_chain_close(fol); /* no checkpoint: as after a crash */

    assert_int_equal(node_chain_open(&fol, path, 0, 1, &err), SBX_OK);
    assert_int_equal(node_chain_tip(fol)->height, before.height);
    assert_memory_equal(node_chain_tip(fol)->hash, before.hash, 32);
    assert_memory_equal(node_chain_tip(fol)->state_digest, before.state_digest, 32);
    a = ledger_state_get(cmp_engine_state(node_chain_engine(fol)), "dave");
    assert_non_null(a);
    assert_int_equal(a->balance[0], dave_vnd);
    assert_int_equal(
        ledger_store_get(node_chain_store(fol), state_key, sizeof(state_key), &v, &err), SBX_OK);
    assert_int_equal(buf_load_u64(v.data), before.height);
    /* the replayed state is the real one: the operator's next block applies on it */
    assert_int_equal(ledger_store_get_block(store, tip.height, &raw, &err), SBX_OK);
    assert_int_equal(node_chain_apply(fol, raw.data, raw.len, NULL, &err), SBX_OK);
    assert_memory_equal(node_chain_tip(fol)->state_digest, tip.state_digest, 32);
    assert_int_equal(node_chain_checkpoint(fol, &err), SBX_OK);
    node_chain_close(fol);
    assert_int_equal(node_chain_open(&fol, path, 0, 1, &err), SBX_OK);
    assert_int_equal(
        ledger_store_get(node_chain_store(fol), state_key, sizeof(state_key), &v, &err), SBX_OK);
    assert_int_equal(buf_load_u64(v.data), tip.height);
    a = ledger_state_get(cmp_engine_state(node_chain_engine(fol)), "dave");
    assert_int_equal(a->balance[0], 7001000);
    node_chain_close(fol);
    buf_release(&raw);
    buf_release(&v);
    test_rmtree(fdir);
    free(fdir);
}

/* A new chain is made aside and renamed once block 0 is synced: a leftover half-made store (a
 * first start that failed, a full disk) is removed and made again; a chain already there is
 * not touched. */
static void
test_chain_create_aside(void **state)
{
    struct fixture *f = *state;
    struct ledger_store *half = NULL;
    struct node_chain *c = NULL;
    struct sbx_err err;
    struct buf raw;
    struct stat st;
    char *fdir = test_tmpdir(), path[4096], tmp[4200];

    snprintf(path, sizeof(path), "%s/ledger", fdir);
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    buf_init(&raw, LEDGER_BLOCK_MAX_SIZE);
    assert_int_equal(ledger_store_get_block(node_store(f->node), 0, &raw, &err), SBX_OK);
    /* what a start that failed after making the store, before block 0, leaves */
    assert_int_equal(ledger_store_open(&half, tmp, 1, &err), SBX_OK);
    ledger_store_close(half);
    assert_int_equal(node_chain_create(path, raw.data, raw.len, &err), SBX_OK);
    assert_int_not_equal(stat(tmp, &st), 0);
    assert_int_equal(node_chain_open(&c, path, 0, 1, &err), SBX_OK);
    assert_int_equal(node_chain_tip(c)->height, 0);
    node_chain_close(c);
    assert_int_equal(node_chain_create(path, raw.data, raw.len, &err), SBX_ECONFLICT);
    buf_release(&raw);
    test_rmtree(fdir);
    free(fdir);
}

/* The tally of what the blocks hold (GET /metrics): the operator counts as it builds, a follower
 * as it applies the same blocks, to the same figures; it is kept with each checkpoint, and a
 * follower that stopped without one (a crash) counts the replayed blocks again, once. */
static void
test_tally(void **state)
{
    struct fixture *f = *state;
    struct node_metrics_snapshot *op = calloc(1, sizeof(*op));
    struct node_tally t, t0;
    struct node_chain *fol;
    struct ledger_tx tx;
    struct ledger_tip tip;
    struct buf raw;
    struct sbx_err err;
    char *fdir = test_tmpdir(), path[4096];

    assert_non_null(op);
    node_metrics_get(f->node, op); /* the devnet's house account is open already */
    t0 = op->tally;
    tx = open_tx("tina", 1);
    assert_int_equal(submit(f->node, f->base, &tx).rc, SBX_OK);
    tx = deposit_tx("td1", "tina", "VND", 400000000); /* at the large-value threshold */
    assert_int_equal(submit(f->node, f->base, &tx).rc, SBX_OK);
    tx = trade_tx("tt1", "nobody", "tina", 1000, 2500000000);
    assert_int_equal(submit(f->node, f->base, &tx).rc, SBX_EREJECTED);
    node_metrics_get(f->node, op);
    assert_int_equal(op->tally.tx[LEDGER_TX_ACCOUNT_OPEN][0], t0.tx[LEDGER_TX_ACCOUNT_OPEN][0] + 1);
    assert_int_equal(op->tally.tx[LEDGER_TX_DEPOSIT][0], t0.tx[LEDGER_TX_DEPOSIT][0] + 1);
    assert_int_equal(op->tally.tx[LEDGER_TX_TRADE][1], t0.tx[LEDGER_TX_TRADE][1] + 1);
    assert_int_equal(op->tally.rejections[CMP_RULE_ACCOUNT_UNKNOWN],
                     t0.rejections[CMP_RULE_ACCOUNT_UNKNOWN] + 1);
    assert_int_equal(op->tally.alerts[CMP_ALERT_LARGE_VALUE], t0.alerts[CMP_ALERT_LARGE_VALUE] + 1);
    assert_true(op->commit.count >= 1);
    assert_true(op->block_txs.count >= 1);

    node_tip(f->node, &tip);
    buf_init(&raw, LEDGER_BLOCK_MAX_SIZE);
    fol = follower_below(node_store(f->node), fdir, tip.height + 1, &raw);
    node_chain_tally(fol, &t);
    assert_memory_equal(&t, &op->tally, sizeof(t));
    node_chain_close(fol); /* no checkpoint: the blocks are replayed and counted on open */
    snprintf(path, sizeof(path), "%s/ledger", fdir);
    assert_int_equal(node_chain_open(&fol, path, 0, 1, &err), SBX_OK);
    node_chain_tally(fol, &t);
    assert_memory_equal(&t, &op->tally, sizeof(t));
    node_chain_close(fol); /* the replay wrote a checkpoint: nothing is counted twice */
    assert_int_equal(node_chain_open(&fol, path, 0, 1, &err), SBX_OK);
    node_chain_tally(fol, &t);
    assert_memory_equal(&t, &op->tally, sizeof(t));
    node_chain_close(fol);
    assert_int_equal(node_chain_open(&fol, path, 1, 1, &err), SBX_OK); /* -reindex */
    node_chain_tally(fol, &t);
    assert_memory_equal(&t, &op->tally, sizeof(t));
    node_chain_close(fol);
    buf_release(&raw);
    free(op);
    test_rmtree(fdir);
    free(fdir);
}

/* A full queue answers SBX_EOVERLOAD at once instead of growing; the dry run records nothing. */
static void
test_node_overload_and_dry_run(void **state)
{
    struct fixture *f = *state;
    struct waiter w = {f->base, 0, {0}};
    struct ledger_tx tx;
    struct cmp_result res;
    struct ledger_tip before, after;
    struct sbx_err err;
    struct node_result refused;
    int overloaded = 0;

    node_close(f->node);
    f->cfg.devnet = 0;
    f->cfg.queue_max = 1;
    assert_int_equal(node_open(&f->node, &f->cfg, f->base, &err), SBX_OK);
    /* nothing runs the event loop between these calls: the first fills the queue */
    tx = open_tx("q1", 1);
    w.pending++;
    node_submit(f->node, &tx, on_done, &w);
    for (int i = 0; i < 3; i++) {
        struct waiter r = {f->base, 1, {0}};

        tx = open_tx(i == 0 ? "q2" : i == 1 ? "q3" : "q4", 1);
        node_submit(f->node, &tx, on_done, &r);
        if (r.pending == 0 && r.last.rc == SBX_EOVERLOAD) {
            overloaded++;
            refused = r.last;
        }
    }
    /* the worker may already have taken q1 off the queue; at least one of three was refused */
    assert_true(overloaded >= 1);
    assert_int_equal(refused.rc, SBX_EOVERLOAD);
    event_base_dispatch(f->base);
    assert_int_equal(w.last.rc, SBX_OK);

    /* checktrade's dry run: a verdict, and no block, no state change */
    node_tip(f->node, &before);
    tx = trade_tx("dry", "q1", "HOUSE", 1000, 2500000000);
    assert_int_equal(node_check(f->node, &tx, &res, &err), SBX_OK);
    assert_int_equal(res.verdict.status, LEDGER_VERDICT_REJECTED);
    assert_int_equal(res.verdict.rule, CMP_RULE_BALANCE_INSUFFICIENT);
    node_tip(f->node, &after);
    assert_int_equal(after.height, before.height);
    assert_memory_equal(after.state_digest, before.state_digest, 32);
}

/* ------------------------------------------------------------------ the background job */

struct job_probe {
    struct node *n;
    struct event_base *base;
    atomic_int release; /* the job runs until this is set, or until the node stops */
    int calls, rc;      /* done's calls and its last rc (event loop) */
};

static int
job_wait(void *arg, struct sbx_err *err)
{
    struct job_probe *p = arg;

    while (!atomic_load(&p->release)) {
        if (node_job_stopping(p->n))
            return sbx_err_set(err, SBX_EUNAVAIL, "stopped");
        sched_yield();
    }
    return SBX_OK;
}

static void
job_done(void *arg, int rc, const struct sbx_err *err)
{
    struct job_probe *p = arg;

    (void)err;
    p->calls++;
    p->rc = rc;
    event_base_loopbreak(p->base);
}

/* One job at a time: a second is refused at once; the first's result comes on the loop; a job
 * still running when the node closes is stopped and answered. */
static void
test_background_job(void **state)
{
    struct fixture *f = *state;
    struct job_probe a = {f->node, f->base, 0, 0, 0}, b = {f->node, f->base, 0, 0, 0};

    node_job_async(f->node, job_wait, job_done, &a);
    node_job_async(f->node, job_wait, job_done, &b);
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.rc, SBX_EUNAVAIL);
    assert_int_equal(a.calls, 0);
    atomic_store(&a.release, 1);
    event_base_dispatch(f->base);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.rc, SBX_OK);
    /* the runner is free again; a job running at node_close is stopped */
    b.calls = 0;
    node_job_async(f->node, job_wait, job_done, &b);
    assert_int_equal(b.calls, 0);
    reopen(f);
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.rc, SBX_EUNAVAIL);
}

/* Put `raw` as the stored block at `height` (a corruption on disk, or its repair). */
static void
put_block(struct ledger_store *s, uint64_t height, const struct buf *raw)
{
    struct ledger_store_batch *b = ledger_store_batch_new();
    uint8_t key[LEDGER_STORE_KEY_BLOCK_LEN];
    struct sbx_err err;

    assert_non_null(b);
    ledger_store_batch_put(b, key, ledger_store_key_block(key, height), raw->data, raw->len);
    assert_int_equal(ledger_store_commit(s, b, 1, &err), SBX_OK);
    ledger_store_batch_free(b);
}

/* verifychain and -reindex check blocks on the pool, ranges and windows of blocks at a time:
 * a corrupt block past the first range and window is still found, at its height,
 * with every block before it counted as checked; the repaired chain verifies whole. */
static void
test_verify_and_reindex_find_corrupt_block(void **state)
{
    struct fixture *f = *state;
    struct ledger_tip tip;
    struct buf honest, bad;
    struct sbx_err err;
    uint64_t k, checked, failed;
    struct node_chain *c = NULL;
    char path[4096];

    for (int i = 0; i < 70; i++) { /* one block each */
        char id[16];
        struct ledger_tx tx;

        snprintf(id, sizeof(id), "v%d", i);
        tx = open_tx(id, 1);
        assert_int_equal(submit(f->node, f->base, &tx).rc, SBX_OK);
    }
    node_tip(f->node, &tip);
    assert_true(tip.height >= 70);
    k = tip.height - 2;
    buf_init(&honest, LEDGER_BLOCK_MAX_SIZE);
    buf_init(&bad, LEDGER_BLOCK_MAX_SIZE);
    assert_int_equal(ledger_store_get_block(node_store(f->node), k, &honest, &err), SBX_OK);
    assert_int_equal(buf_put(&bad, honest.data, honest.len), SBX_OK);
    /* the last byte of the last transaction: a block-authenticated account opening, so its
     * txid changes and the block's tx_root no longer matches */
    bad.data[bad.len - 1 - LEDGER_VERDICT_SIZE] ^= 1;
    put_block(node_store(f->node), k, &bad);
    assert_int_equal(node_verify(f->node, 0, UINT64_MAX, &checked, &failed, &err), SBX_ECORRUPT);
    assert_int_equal(failed, k);
    assert_int_equal(checked, k);
    /* from a later height: only what lies before the bad block in the range counts */
    assert_int_equal(node_verify(f->node, 40, UINT64_MAX, &checked, &failed, &err), SBX_ECORRUPT);
    assert_int_equal(failed, k);
    assert_int_equal(checked, k - 40);
    put_block(node_store(f->node), k, &honest);
    assert_int_equal(node_verify(f->node, 0, UINT64_MAX, &checked, &failed, &err), SBX_OK);
    assert_int_equal(checked, tip.height + 1);

    /* -reindex refuses the chain with the bad block, and rebuilds the repaired one */
    put_block(node_store(f->node), k, &bad);
    node_close(f->node);
    f->node = NULL;
    snprintf(path, sizeof(path), "%s/ledger", f->dir);
    assert_int_equal(node_chain_open(&c, path, 1, 0, &err), SBX_ECORRUPT);
    assert_null(c);
    snprintf(path, sizeof(path), "block %llu: tx_root", (unsigned long long)k);
    if (strstr(err.msg, path) == NULL)
        fail_msg("unexpected reason: %s", err.msg);
    {
        struct ledger_store *s;

        snprintf(path, sizeof(path), "%s/ledger", f->dir);
        assert_int_equal(ledger_store_open(&s, path, 0, &err), SBX_OK);
        put_block(s, k, &honest);
        ledger_store_close(s);
    }
    /* the refused reindex left the tip at the block before the bad one (each block's batch
     * carries the tip); run again, it still rebuilds every stored block */
    f->cfg.devnet = 0;
    f->cfg.reindex = 1;
    assert_int_equal(node_open(&f->node, &f->cfg, f->base, &err), SBX_OK);
    f->cfg.reindex = 0;
    {
        struct ledger_tip tip2;

        node_tip(f->node, &tip2);
        assert_int_equal(tip2.height, tip.height);
        assert_memory_equal(tip2.state_digest, tip.state_digest, 32);
    }
    buf_release(&honest);
    buf_release(&bad);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_node_submit_trade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_node_group_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follower_revalidates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follower_time_skew, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follower_block_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_liabilities_day_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tally, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chain_create_aside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_node_overload_and_dry_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_background_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_and_reindex_find_corrupt_block, setup,
                                        teardown),
    };

    return cmocka_run_group_tests_name("node_chain", tests, NULL, NULL);
}
