/* compliance/ unit tests: evaluation has no side effects, the state digest is deterministic
 * (and changes when one trade does), the state persists through the store, and every rule id
 * is produced by some test.
 */
#include "tests/unit/test_common.h"
#include "tests/unit/test_compliance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compliance/params.h"
#include "ledger/store.h"

/* ------------------------------------------------------------------ purity, determinism */

void
test_evaluate_is_pure(void **state)
{
    struct fx *f = *state;
    struct ledger_changes ch;
    struct ledger_tx tx;
    struct cmp_result r1;
    uint8_t h1[32], h2[32];

    fx_init(f, NULL);
    funded_retail(f, "A", 500 * M, T0);
    end_block(f, NULL);
    mk_trade(&tx, "T-pure", "A", HOUSE, "BTC", 100 * M, PRICE, T0 + 1);
    EXPECT_OK(check(f, &tx));
    r1 = f->res;
    EXPECT_OK(check(f, &tx));
    expect_same_verdict(&r1.verdict, &f->res.verdict);
    ledger_changes_init(&ch);
    assert_int_equal(cmp_collect(f->e, &ch), SBX_OK);
    assert_int_equal(ch.n, 0);
    ledger_changes_hash(&ch, h1);
    ledger_changes_release(&ch);
    EXPECT_OK(run(f, &tx));
    ledger_changes_init(&ch);
    assert_int_equal(cmp_collect(f->e, &ch), SBX_OK);
    assert_true(ch.n > 0);
    ledger_changes_hash(&ch, h2);
    ledger_changes_release(&ch);
    assert_memory_not_equal(h1, h2, 32);
}

#define SEQ_ACCOUNTS 20
#define SEQ_TRADES_AT (3 + 3 * SEQ_ACCOUNTS) /* index of the first trade in the sequence */
#define SEQ_TWEAKED 77                       /* the trade that `tweak` changes */

static const char *
seq_acct(int i)
{
    static char names[SEQ_ACCOUNTS][16];

    snprintf(names[i], sizeof(names[i]), "C%02d", i);
    return names[i];
}

/* Transaction `i` of a fixed ~200-transaction sequence; `tweak` adds one base unit to one trade.
 * Returns 0 past the end. */
static int
seq_tx(struct ledger_tx *tx, int i, int tweak, uint32_t *rng)
{
    int64_t t = T0 + (int64_t)i * 7 * MIN_MS;
    char id[32];

    if (i == 0)
        return mk_open(tx, HOUSE, 3, LEDGER_CLASS_DOMESTIC_ORG, t), 1;
    if (i == 1) {
        mk_xfer(tx, LEDGER_TX_DEPOSIT, "H-BTC", HOUSE, "BTC", HOUSE_FUNDS, t);
        set_tr(tx);
        return 1;
    }
    if (i == 2)
        return mk_xfer(tx, LEDGER_TX_DEPOSIT, "H-VND", HOUSE, "VND", HOUSE_FUNDS, t), 1;
    i -= 3;
    if (i < SEQ_ACCOUNTS)
        return mk_open(tx, seq_acct(i), 1 + i % 3,
                       i % 4 == 3 ? LEDGER_CLASS_FOREIGN_INDIVIDUAL
                                  : LEDGER_CLASS_DOMESTIC_INDIVIDUAL,
                       t),
               1;
    i -= SEQ_ACCOUNTS;
    if (i < 2 * SEQ_ACCOUNTS) {
        snprintf(id, sizeof(id), "D-%d", i);
        /* some BTC deposits are too large for tier 1's holding limit */
        mk_xfer(tx, LEDGER_TX_DEPOSIT, id, seq_acct(i / 2), i % 2 ? "VND" : "BTC",
                (int64_t)(i / 2 + 1) * 30 * M, t);
        set_tr(tx);
        return 1;
    }
    i -= 2 * SEQ_ACCOUNTS;
    if (i == 60) { /* a directive in the middle: lower tier 2's daily limit */
        mk_dir(tx, LEDGER_DIR_SET_PARAM, KEY_REG, NULL, t);
        cpy(tx->u.directive.name, sizeof(tx->u.directive.name), "limit.daily.tier2");
        tx->u.directive.value = 150 * M;
        return 1;
    }
    if (i == 100) {
        mk_dir(tx, LEDGER_DIR_FREEZE, KEY_REG, NULL, t);
        cpy(tx->u.directive.account, sizeof(tx->u.directive.account), seq_acct(5));
        return 1;
    }
    if (i < 157) {
        int b, s;
        int64_t qty;

        *rng = *rng * 1103515245u + 12345u;
        b = (int)((*rng >> 8) % (SEQ_ACCOUNTS + 1));
        *rng = *rng * 1103515245u + 12345u;
        s = (int)((*rng >> 8) % (SEQ_ACCOUNTS + 1));
        *rng = *rng * 1103515245u + 12345u;
        qty = 1 + (int64_t)((*rng >> 4) % (120 * M)); /* some over tier 1's per-trade limit */
        if (i == SEQ_TWEAKED && tweak)
            qty++;
        snprintf(id, sizeof(id), "T-%d", i % 150); /* the last few reuse ids */
        mk_trade(tx, id, b == SEQ_ACCOUNTS ? HOUSE : seq_acct(b),
                 s == SEQ_ACCOUNTS ? HOUSE : seq_acct(s), i % 5 == 4 ? "ETH" : "BTC", qty, PRICE,
                 t);
        tx->u.trade.fee_buyer = qty / 1000;
        tx->u.trade.fee_seller = qty / 2000;
        if (i % 23 == 22)
            cpy(tx->u.trade.buyer, sizeof(tx->u.trade.buyer), "NOBODY");
        return 1;
    }
    return 0;
}

struct seq_out {
    uint8_t digest[32];
    size_t ntx, accepted, rejected, alerts;
    uint8_t verdicts[256];
};

static void
run_sequence(int tweak, struct seq_out *out)
{
    struct fx f;
    struct ledger_tx tx;
    struct ledger_changes ch;
    uint8_t h[32];
    uint32_t rng = 12345;
    int i;

    memset(out, 0, sizeof(*out));
    fx_init_opt(&f, NULL, 2, 1, 1);
    ledger_changes_init(&ch);
    /* the genesis records come first */
    assert_int_equal(cmp_collect(f.e, &ch), SBX_OK);
    ledger_changes_hash(&ch, h);
    ledger_state_digest_next(out->digest, h, out->digest);
    ledger_changes_reset(&ch);
    for (i = 0; seq_tx(&tx, i, tweak, &rng); i++) {
        const struct cmp_result *r = run(&f, &tx);

        assert_true(i < (int)sizeof(out->verdicts));
        out->verdicts[i] =
            r->verdict.status == LEDGER_VERDICT_ACCEPTED ? 0 : (uint8_t)r->verdict.rule;
        out->accepted += r->verdict.status == LEDGER_VERDICT_ACCEPTED;
        out->rejected += r->verdict.status == LEDGER_VERDICT_REJECTED;
        out->alerts += r->nalerts;
        if (i % 10 == 9) {
            assert_int_equal(cmp_collect(f.e, &ch), SBX_OK);
            ledger_changes_hash(&ch, h);
            ledger_state_digest_next(out->digest, h, out->digest);
            ledger_changes_reset(&ch);
            f.height++;
        }
    }
    assert_int_equal(cmp_collect(f.e, &ch), SBX_OK);
    ledger_changes_hash(&ch, h);
    ledger_state_digest_next(out->digest, h, out->digest);
    out->ntx = (size_t)i;
    ledger_changes_release(&ch);
    fx_release(&f);
}

void
test_determinism(void **state)
{
    struct seq_out a, b, c;

    (void)state;
    run_sequence(0, &a);
    run_sequence(0, &b);
    run_sequence(1, &c);
    assert_true(a.ntx >= 200);
    /* the sequence exercises both outcomes and several rules */
    assert_true(a.accepted > 100);
    assert_true(a.rejected > 20);
    assert_true(a.alerts > 0);
    assert_int_equal(a.verdicts[SEQ_TRADES_AT + SEQ_TWEAKED], 0); /* an accepted trade */
    assert_int_equal(c.verdicts[SEQ_TRADES_AT + SEQ_TWEAKED], 0);
    assert_int_equal(a.accepted, b.accepted);
    assert_memory_equal(a.verdicts, b.verdicts, sizeof(a.verdicts));
    assert_memory_equal(a.digest, b.digest, 32);
    /* one base unit in one trade changes the digest */
    assert_memory_not_equal(a.digest, c.digest, 32);
}

/* ------------------------------------------------------------------ persistence */

/* ledger_store_scan's callback: every state record into the engine, as node/asof.c loads the
 * versions of the history one by one. */
static int
load_one_record(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    struct sbx_err err;

    if (ledger_store_key_is_state(key, klen) &&
        cmp_engine_load_record(ctx, key, klen, val, vlen, &err) != SBX_OK)
        fail_msg("cmp_engine_load_record: %s", err.msg);
    return 0;
}

/* The ids ('I'), which the history does not keep, are looked up in the store (as getreport
 * does). */
static int
store_id_lookup(void *ctx, const uint8_t *key, size_t klen)
{
    struct buf v;
    int rc;

    buf_init(&v, 64);
    rc = ledger_store_get(ctx, key, klen, &v, NULL);
    buf_release(&v);
    return rc == SBX_OK ? 1 : rc == SBX_ENOTFOUND ? 0 : -1;
}

/* What `e` collects hashes to `want` and holds `n` changes. */
static void
expect_collect(struct cmp_engine *e, const uint8_t want[32], size_t n)
{
    struct ledger_changes ch;
    uint8_t h[32];

    ledger_changes_init(&ch);
    assert_int_equal(cmp_collect(e, &ch), SBX_OK);
    ledger_changes_hash(&ch, h);
    assert_int_equal(ch.n, n);
    assert_memory_equal(h, want, 32);
    ledger_changes_release(&ch);
}

/* An engine filled record by record from the store (cmp_engine_load_record), its ids looked
 * up there; records that are not state, or do not decode, are refused. */
static struct cmp_engine *
load_by_record(struct ledger_store *s, const struct ledger_tx *genesis)
{
    static const uint8_t params_key[] = {'P', 'p'}, short_params[] = {2};
    struct cmp_engine *e = NULL;
    struct sbx_err err;

    assert_int_equal(cmp_engine_new(&e, genesis, &err), SBX_OK);
    assert_int_equal(cmp_engine_load_record(e, (const uint8_t *)"Itx", 3, short_params, 1, NULL),
                     SBX_ECORRUPT);
    assert_int_equal(cmp_engine_load_record(e, params_key, 2, short_params, 1, NULL), SBX_ECORRUPT);
    assert_int_equal(ledger_store_scan(s, NULL, 0, NULL, 0, 0, load_one_record, e, &err), SBX_OK);
    cmp_engine_set_id_lookup(e, store_id_lookup, s);
    return e;
}

void
test_persistence(void **state)
{
    struct fx *f = *state;
    struct ledger_store *s = NULL;
    struct cmp_engine *e2 = NULL, *e3;
    struct ledger_changes ch;
    struct ledger_tx tx;
    struct cmp_result r2, r3;
    struct sbx_err err;
    struct cmp_block_ctx ctx;
    uint8_t h1[32], txid[32];
    char *dir = test_tmpdir();
    uint32_t rng = 777;
    int64_t tp;
    size_t nalerts = 0;
    int i;

    assert_non_null(dir);
    fx_init_opt(f, NULL, 2, 1, 1);
    if (ledger_store_open(&s, dir, 1, &err) != SBX_OK)
        fail_msg("store open: %s", err.msg);
    ledger_changes_init(&ch);
    for (i = 0; seq_tx(&tx, i, 0, &rng); i++) {
        run(f, &tx);
        if (i % 10 == 9) {
            assert_int_equal(cmp_collect(f->e, &ch), SBX_OK);
            commit_changes(s, &ch);
            ledger_changes_reset(&ch);
            f->height++;
        }
    }
    /* a sanction and an alert-raising trade, then everything committed */
    tp = tx.timestamp + MIN_MS; /* right after the sequence: its rolling windows still count */
    mk_dir(&tx, LEDGER_DIR_SANCTION_ADD, KEY_REG, NULL, tp);
    cpy(tx.u.directive.account, sizeof(tx.u.directive.account), seq_acct(7));
    EXPECT_OK(run(f, &tx));
    /* a reference price and the time it was set (price.stale) survive the reload */
    EXPECT_OK(set_param(f, "asset.ETH.ref_price_vnd", PRICE + 1, tp));
    assert_int_equal(cmp_collect(f->e, &ch), SBX_OK);
    commit_changes(s, &ch);
    ledger_changes_reset(&ch);
    ledger_store_close(s);
    s = NULL;

    /* reopen and load into a fresh engine from the same genesis */
    if (ledger_store_open(&s, dir, 0, &err) != SBX_OK)
        fail_msg("store reopen: %s", err.msg);
    assert_int_equal(cmp_engine_new(&e2, &f->genesis, &err), SBX_OK);
    if (cmp_engine_load(e2, s, &err) != SBX_OK)
        fail_msg("cmp_engine_load: %s", err.msg);
    assert_int_equal(ledger_state_count(cmp_engine_state(e2)),
                     ledger_state_count(cmp_engine_state(f->e)));
    assert_int_equal(cmp_engine_params(e2)->version, cmp_engine_params(f->e)->version);
    assert_int_equal(cmp_engine_params(e2)->ref_price[2], PRICE + 1);
    assert_int_equal(cmp_engine_params(e2)->ref_set_ms[2], tp);
    assert_int_equal(cmp_engine_params(e2)->ref_set_ms[1], GENESIS_MS);
    assert_true(cmp_engine_is_sanctioned(e2, seq_acct(7), NULL));
    assert_true(ledger_state_get(cmp_engine_state(e2), seq_acct(5))->frozen);
    e3 = load_by_record(s, &f->genesis);
    assert_int_equal(ledger_state_count(cmp_engine_state(e3)),
                     ledger_state_count(cmp_engine_state(f->e)));
    assert_true(cmp_engine_is_sanctioned(e3, seq_acct(7), NULL));

    /* the next transactions get the same verdicts, alerts and change sets on both; the small
     * deposits at the end cross the velocity threshold, which reads the reloaded windows */
    for (i = 0; i < 7 + 3 * 22; i++) {
        int64_t t = tp + 1000 + i;

        if (i == 0)
            mk_trade(&tx, "T-3", seq_acct(2), HOUSE, "BTC", 1000, PRICE, t); /* duplicate id */
        else if (i == 1)
            mk_trade(&tx, "P-1", seq_acct(7), HOUSE, "BTC", 1000, PRICE, t); /* sanctioned */
        else if (i == 2)
            mk_trade(&tx, "P-2", seq_acct(5), HOUSE, "BTC", 1000, PRICE, t); /* frozen */
        else if (i == 3)
            mk_trade(&tx, "P-3", seq_acct(2), HOUSE, "BTC", 150 * M, PRICE, t); /* tier 3 */
        else if (i == 4)
            mk_xfer(&tx, LEDGER_TX_WITHDRAWAL, "D-1", seq_acct(1), "VND", 1, t); /* duplicate */
        else if (i == 5)
            mk_xfer(&tx, LEDGER_TX_DEPOSIT, "P-D", seq_acct(2), "VND", 10 * M, t);
        else if (i == 6)
            mk_trade(&tx, "P-4", seq_acct(2), HOUSE, "BTC", 1000, PRICE, t);
        else
            mk_xfer(&tx, LEDGER_TX_DEPOSIT, next_id(f, "P"), seq_acct(2 + 2 * ((i - 7) % 3)), "VND",
                    1000, t);
        ctx.height = f->height;
        ctx.time_ms = t;
        txid_for(txid, 90000 + (uint32_t)i);
        assert_int_equal(cmp_process(f->e, &tx, txid, &ctx, &f->res), SBX_OK);
        assert_int_equal(cmp_process(e2, &tx, txid, &ctx, &r2), SBX_OK);
        assert_int_equal(cmp_process(e3, &tx, txid, &ctx, &r3), SBX_OK);
        expect_same_verdict(&f->res.verdict, &r2.verdict);
        expect_same_verdict(&f->res.verdict, &r3.verdict);
        assert_int_equal(r2.nalerts, r3.nalerts);
        assert_int_equal(f->res.nalerts, r2.nalerts);
        for (size_t k = 0; k < r2.nalerts; k++) {
            assert_int_equal(f->res.alerts[k].kind, r2.alerts[k].kind);
            assert_memory_equal(f->res.alerts[k].id, r2.alerts[k].id, 32);
            nalerts += f->res.alerts[k].kind == CMP_ALERT_VELOCITY;
        }
        if (i == 6)
            assert_int_equal(f->res.verdict.status, LEDGER_VERDICT_ACCEPTED);
    }
    assert_int_equal(nalerts, 3);
    assert_int_equal(cmp_collect(f->e, &ch), SBX_OK);
    ledger_changes_hash(&ch, h1);
    expect_collect(e2, h1, ch.n);
    expect_collect(e3, h1, ch.n);

    ledger_changes_release(&ch);
    cmp_engine_free(e2);
    cmp_engine_free(e3);
    ledger_store_close(s);
    test_rmtree(dir);
    free(dir);
}

/* ------------------------------------------------------------------ coverage of rule ids */

void
test_every_rule_produced(void **state)
{
    int missing = 0;

    (void)state;
#define CHECK_SEEN(e, n, s)                                                                        \
    if (!rules_seen[n]) {                                                                          \
        print_error("no test produced rule %s\n", s);                                              \
        missing++;                                                                                 \
    }
    CMP_RULES(CHECK_SEEN)
#undef CHECK_SEEN
    assert_int_equal(missing, 0);
}
