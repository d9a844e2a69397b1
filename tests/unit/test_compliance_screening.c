/* compliance/ unit tests: screening that cannot be skipped (screening.missing for crypto
 * deposits and withdrawals, the block score on withdrawals at its edge), the Travel Rule linked
 * by external address across accounts (and its 'D' records through a store), and the
 * aml.large_value alert over an account's VND transfers of one local day, around local midnight.
 */
#include "tests/unit/test_common.h"
#include "tests/unit/test_compliance.h"

#include <stdlib.h>
#include <string.h>

#include "compliance/params.h"
#include "ledger/store.h"
#include "tests/unit/test_helpers.h"

/* A transfer without a screening result (mk_xfer gives crypto a clean one). */
static struct ledger_tx *
unscreened(struct ledger_tx *tx)
{
    tx->u.transfer.has_screening = 0;
    memset(&tx->u.transfer.screening, 0, sizeof(tx->u.transfer.screening));
    return tx;
}

/* A transfer with screening score `score` to or from `addr` (NULL: its own reference). */
static struct ledger_tx *
mk_screened(struct fx *f, struct ledger_tx *tx, int type, const char *acct, const char *asset,
            int64_t amount, int64_t ts, int score, const char *addr)
{
    mk_xfer(tx, type, next_id(f, "s"), acct, asset, amount, ts);
    tx->u.transfer.has_screening = 1;
    cpy(tx->u.transfer.screening.provider, sizeof(tx->u.transfer.screening.provider), "chainscan");
    tx->u.transfer.screening.score = (uint8_t)score;
    if (addr)
        cpy(tx->u.transfer.reference, sizeof(tx->u.transfer.reference), addr);
    return tx;
}

/* ------------------------------------------------------------------ screening */

void
test_screening_required(void **state)
{
    struct fx *f = *state;
    struct ledger_tx tx;

    fx_init(f, NULL);
    funded(f, "A", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 10 * M, 1 * M, T0);
    /* crypto without a screening result: rejected either way, nothing moves */
    mk_xfer(&tx, LEDGER_TX_DEPOSIT, "U-1", "A", "BTC", 1000, T0 + 1);
    EXPECT_REJ_FIGS(run(f, unscreened(&tx)), CMP_RULE_SCREENING_MISSING, 0, 0, 0);
    mk_xfer(&tx, LEDGER_TX_WITHDRAWAL, "U-2", "A", "ETH", 1, T0 + 1);
    EXPECT_REJ(run(f, unscreened(&tx)), CMP_RULE_SCREENING_MISSING);
    mk_xfer(&tx, LEDGER_TX_WITHDRAWAL, "U-3", "A", "BTC", 1000, T0 + 1);
    EXPECT_REJ(run(f, unscreened(&tx)), CMP_RULE_SCREENING_MISSING);
    assert_int_equal(balance(f, "A", 1), 1 * M);
    /* the sanctions list comes first: a listed address is aml.sanctioned, screened or not */
    /* VND needs none */
    EXPECT_OK(deposit(f, "A", "VND", 1000, T0 + 2));
    EXPECT_OK(withdraw(f, "A", "VND", 1000, T0 + 2));
    /* with a result, the same transfers pass */
    EXPECT_OK(run(f, mk_screened(f, &tx, LEDGER_TX_DEPOSIT, "A", "BTC", 1000, T0 + 3, 0, NULL)));
    EXPECT_OK(run(f, mk_screened(f, &tx, LEDGER_TX_WITHDRAWAL, "A", "BTC", 1000, T0 + 3, 0, NULL)));
    /* the licence may switch the requirement off */
    EXPECT_OK(set_param(f, "aml.screening_required", 0, T0 + 4));
    mk_xfer(&tx, LEDGER_TX_DEPOSIT, "U-4", "A", "BTC", 1000, T0 + 5);
    EXPECT_OK(run(f, unscreened(&tx)));
    mk_dir(&tx, LEDGER_DIR_SET_PARAM, KEY_REG, NULL, T0 + 6);
    cpy(tx.u.directive.name, sizeof(tx.u.directive.name), "aml.screening_required");
    tx.u.directive.value = 2;
    EXPECT_REJ(directive(f, &tx), CMP_RULE_DIRECTIVE_INVALID);
    assert_int_equal(cmp_params_default(CMP_P_SCREENING_REQUIRED), 1);
}

/* Withdrawals at the block score: score = block - 1 passes, score = block is rejected. */
void
test_screening_withdrawal_edges(void **state)
{
    struct fx *f = *state;
    struct ledger_tx tx;

    fx_init(f, NULL);
    funded(f, "A", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 0, 1 * M, T0);
    EXPECT_OK(
        run(f, mk_screened(f, &tx, LEDGER_TX_WITHDRAWAL, "A", "BTC", 1000, T0 + 1, 79, NULL)));
    EXPECT_REJ_FIGS(
        run(f, mk_screened(f, &tx, LEDGER_TX_WITHDRAWAL, "A", "BTC", 1000, T0 + 1, 80, NULL)),
        CMP_RULE_AML_SCREENING, 80, 80, 80);
    /* the edge follows the parameter */
    EXPECT_OK(set_param(f, "aml.screening_block_score", 50, T0 + 2));
    EXPECT_OK(
        run(f, mk_screened(f, &tx, LEDGER_TX_WITHDRAWAL, "A", "BTC", 1000, T0 + 3, 49, NULL)));
    EXPECT_REJ_FIGS(
        run(f, mk_screened(f, &tx, LEDGER_TX_WITHDRAWAL, "A", "BTC", 1000, T0 + 3, 50, NULL)),
        CMP_RULE_AML_SCREENING, 50, 50, 50);
    EXPECT_REJ(run(f, mk_screened(f, &tx, LEDGER_TX_DEPOSIT, "A", "BTC", 1000, T0 + 3, 50, NULL)),
               CMP_RULE_AML_SCREENING);
    assert_int_equal(balance(f, "A", 1), 1 * M - 2000);
}

/* ------------------------------------------------------------------ Travel Rule by address */

void
test_travel_rule_by_address(void **state)
{
    struct fx *f = *state;
    int64_t t = T0 + DAY_MS; /* funding a day before: out of every account's window */
    struct ledger_tx tx;

    fx_init(f, NULL);
    funded(f, "A", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 0, 10 * M, T0);
    funded(f, "B", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 0, 10 * M, T0);
    funded(f, "C", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 0, 10 * M, T0);
    funded(f, "D", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 0, 20 * M, T0);
    funded(f, "E", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 0, 10 * M, T0);
    /* two accounts, each just under the threshold, to one address: the second trips the rule */
    EXPECT_OK(run(f, mk_screened(f, &tx, LEDGER_TX_WITHDRAWAL, "A", "BTC", 7 * M, t, 0, "bc1-x")));
    EXPECT_REJ_FIGS(
        run(f, mk_screened(f, &tx, LEDGER_TX_WITHDRAWAL, "B", "BTC", 6 * M, t + 1, 0, "bc1-x")),
        CMP_RULE_TRAVEL_RULE_MISSING, 13 * M, 7 * M, 6 * M);
    /* one VND under the threshold passes; then a deposit from that address by a third account
     * needs a record (deposits and withdrawals share the address's window) */
    EXPECT_OK(run(
        f, mk_screened(f, &tx, LEDGER_TX_WITHDRAWAL, "B", "BTC", 6 * M - 1, t + 1, 0, "bc1-x")));
    EXPECT_REJ_FIGS(
        run(f, mk_screened(f, &tx, LEDGER_TX_DEPOSIT, "C", "BTC", 1, t + 2, 0, "bc1-x")),
        CMP_RULE_TRAVEL_RULE_MISSING, 13 * M, 13 * M - 1, 1);
    mk_screened(f, &tx, LEDGER_TX_DEPOSIT, "C", "BTC", 1, t + 2, 0, "bc1-x");
    set_tr(&tx);
    EXPECT_OK(run(f, &tx));
    /* another address is not linked */
    EXPECT_OK(
        run(f, mk_screened(f, &tx, LEDGER_TX_WITHDRAWAL, "C", "BTC", 6 * M, t + 3, 0, "bc1-y")));
    /* an account's own transfers to the address count once (the larger aggregate, not a sum) */
    EXPECT_OK(
        run(f, mk_screened(f, &tx, LEDGER_TX_WITHDRAWAL, "D", "BTC", 6 * M, t + 4, 0, "bc1-z")));
    EXPECT_OK(run(
        f, mk_screened(f, &tx, LEDGER_TX_WITHDRAWAL, "D", "BTC", 7 * M - 1, t + 5, 0, "bc1-z")));
    EXPECT_REJ_FIGS(
        run(f, mk_screened(f, &tx, LEDGER_TX_WITHDRAWAL, "D", "BTC", 1, t + 6, 0, "bc1-z")),
        CMP_RULE_TRAVEL_RULE_MISSING, 13 * M, 13 * M - 1, 1);
    /* the address's window is aml.travel_rule_window_s: its transfers leave it after 24 h */
    EXPECT_REJ(run(f, mk_screened(f, &tx, LEDGER_TX_WITHDRAWAL, "E", "BTC", 1 * M, t + DAY_MS - 1,
                                  0, "bc1-x")),
               CMP_RULE_TRAVEL_RULE_MISSING);
    EXPECT_OK(run(f, mk_screened(f, &tx, LEDGER_TX_WITHDRAWAL, "E", "BTC", 1 * M, t + 2 + DAY_MS, 0,
                                 "bc1-x")));
}

/* The 'D' records are state: in the change set (so in the digest), and read back at start-up
 * with the same verdicts after. */
void
test_address_records_persist(void **state)
{
    struct fx *f = *state;
    struct ledger_store *s = NULL;
    struct cmp_engine *e2 = NULL;
    struct ledger_changes ch;
    struct ledger_tx tx;
    struct cmp_result r1, r2;
    struct cmp_block_ctx ctx;
    struct sbx_err err;
    uint8_t k[LEDGER_STORE_KEY_ADDRESS_MAX], txid[32];
    size_t klen = ledger_store_key_address(k, "bc1-p");
    char *dir = test_tmpdir();
    int found = 0;

    assert_non_null(dir);
    fx_init(f, NULL);
    funded(f, "A", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 0, 10 * M, T0);
    funded(f, "B", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 0, 10 * M, T0);
    EXPECT_OK(run(
        f, mk_screened(f, &tx, LEDGER_TX_WITHDRAWAL, "A", "BTC", 7 * M, T0 + DAY_MS, 0, "bc1-p")));
    if (ledger_store_open(&s, dir, 1, &err) != SBX_OK)
        fail_msg("store open: %s", err.msg);
    ledger_changes_init(&ch);
    assert_int_equal(cmp_collect(f->e, &ch), SBX_OK);
    for (size_t i = 0; i < ch.n; i++)
        found += ch.v[i].klen == klen && memcmp(ch.v[i].key, k, klen) == 0;
    assert_int_equal(found, 1);
    commit_changes(s, &ch);
    ledger_changes_release(&ch);

    assert_int_equal(cmp_engine_new(&e2, &f->genesis, &err), SBX_OK);
    if (cmp_engine_load(e2, s, &err) != SBX_OK)
        fail_msg("cmp_engine_load: %s", err.msg);
    /* B's transfer to the address is linked to A's on both engines */
    mk_screened(f, &tx, LEDGER_TX_WITHDRAWAL, "B", "BTC", 6 * M, T0 + DAY_MS + 1, 0, "bc1-p");
    txid_for(txid, 999);
    ctx.height = 99;
    ctx.time_ms = tx.timestamp;
    assert_int_equal(cmp_evaluate(f->e, &tx, txid, &ctx, &r1), SBX_OK);
    assert_int_equal(cmp_evaluate(e2, &tx, txid, &ctx, &r2), SBX_OK);
    EXPECT_REJ_FIGS(&r1, CMP_RULE_TRAVEL_RULE_MISSING, 13 * M, 7 * M, 6 * M);
    expect_same_verdict(&r1.verdict, &r2.verdict);
    cmp_engine_free(e2);
    ledger_store_close(s);
    test_rmtree(dir);
    free(dir);
}

/* ------------------------------------------------------------------ large value per local day */

void
test_large_value_fiat_day(void **state)
{
    struct fx *f = *state;
    int64_t eve = local_ms(2025, 10, 2, 23, 59, 59, 999), midnight = eve + 1;
    const int64_t lv = 400 * M;

    fx_init(f, NULL);
    funded(f, "A", 3, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 0, 0, T0);
    funded(f, "B", 3, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 0, 0, T0);
    /* deposits and withdrawals of one local day add up; the alert comes when the sum reaches
     * the threshold (amount: the day's sum), once */
    EXPECT_NO_ALERTS(deposit(f, "A", "VND", 200 * M, local_ms(2025, 10, 2, 0, 0, 0, 0)));
    EXPECT_NO_ALERTS(withdraw(f, "A", "VND", 100 * M, local_ms(2025, 10, 2, 12, 0, 0, 0)));
    EXPECT_ALERTS(deposit(f, "A", "VND", 100 * M, eve), 1, CMP_ALERT_LARGE_VALUE, "A");
    assert_int_equal(f->res.alerts[0].amount_vnd, lv);
    EXPECT_NO_ALERTS(deposit(f, "A", "VND", 1 * M, eve));
    /* 00:00 local is a new day: its sum starts at zero */
    EXPECT_NO_ALERTS(deposit(f, "A", "VND", 399 * M, midnight));
    EXPECT_ALERTS(deposit(f, "A", "VND", 1 * M, midnight + 1), 1, CMP_ALERT_LARGE_VALUE, "A");
    assert_int_equal(f->res.alerts[0].amount_vnd, lv);
    /* one VND short at 23:59:59.999, the rest at 00:00: no day reaches it */
    EXPECT_NO_ALERTS(deposit(f, "B", "VND", lv - 1, eve));
    EXPECT_NO_ALERTS(deposit(f, "B", "VND", 1, midnight));
    /* a transfer at the threshold on its own: the per-transaction alert, which fills the day */
    EXPECT_ALERTS(deposit(f, "B", "VND", lv, midnight + 2), 1, CMP_ALERT_LARGE_VALUE, "B");
    assert_int_equal(f->res.alerts[0].amount_vnd, lv);
    EXPECT_NO_ALERTS(deposit(f, "B", "VND", 1 * M, midnight + 3));
    /* ... and it stays per transaction for each large one */
    EXPECT_ALERTS(deposit(f, "B", "VND", lv, midnight + 4), 1, CMP_ALERT_LARGE_VALUE, "B");
    /* crypto does not count in the VND day */
    EXPECT_NO_ALERTS(deposit_tr(f, "A", "BTC", 1 * M, midnight + DAY_MS));
}
