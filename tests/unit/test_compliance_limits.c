/* compliance/ unit tests: the limits (per trade by tier, foreign investors, daily across
 * midnight in UTC+7, monthly, holding, exchange-wide) and parameter changes; frozen accounts,
 * balances and fees, the cooling-off period, duplicate ids and amount overflow.
 */
#include "tests/unit/test_common.h"
#include "tests/unit/test_compliance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compliance/params.h"
#include "ledger/store.h"

/* ------------------------------------------------------------------ limits */

void
test_per_trade_tiers(void **state)
{
    struct fx *f = *state;

    fx_init(f, NULL);
    funded(f, "T1", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 1000 * M, 0, T0);
    funded(f, "T2", 2, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 1000 * M, 0, T0);
    funded(f, "T3", 3, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 10000 * M, 0, T0);
    EXPECT_REJ_FIGS(trade(f, "T1", HOUSE, 100 * M + 1, T0), CMP_RULE_LIMIT_PER_TRADE, 100 * M, 0,
                    100 * M + 1);
    EXPECT_OK(trade(f, "T1", HOUSE, 100 * M, T0));
    /* the seller's limit too */
    EXPECT_REJ_FIGS(trade(f, HOUSE, "T1", 100 * M + 1, T0), CMP_RULE_LIMIT_PER_TRADE, 100 * M, 0,
                    100 * M + 1);
    EXPECT_REJ_FIGS(trade(f, "T2", HOUSE, 500 * M + 1, T0), CMP_RULE_LIMIT_PER_TRADE, 500 * M, 0,
                    500 * M + 1);
    EXPECT_OK(trade(f, "T2", HOUSE, 500 * M, T0));
    EXPECT_REJ_FIGS(trade(f, "T3", HOUSE, 2500 * M + 1, T0), CMP_RULE_LIMIT_PER_TRADE, 2500 * M, 0,
                    2500 * M + 1);
    EXPECT_OK(trade(f, "T3", HOUSE, 2500 * M, T0));
    /* a realistic price: 0.04000003 ETH at 2,500,000,000 VND = 100,000,075 VND */
    EXPECT_OK(set_param(f, "asset.ETH.ref_price_vnd", 2500000000, T0));
    EXPECT_REJ_FIGS(trade_fee(f, "T1", HOUSE, "ETH", 4000003, 2500000000, 0, 0, T0 + 1),
                    CMP_RULE_LIMIT_PER_TRADE, 100 * M, 0, 100000075);
    EXPECT_OK(trade_fee(f, "T1", HOUSE, "ETH", 4000000, 2500000000, 0, 0, T0 + 1));
    /* ... and rounded down: 1 base unit at 99 VND per whole unit is worth nothing */
    EXPECT_OK(set_param(f, "asset.ETH.ref_price_vnd", 99, T0 + 1));
    EXPECT_OK(trade_fee(f, "T1", HOUSE, "ETH", 1, 99, 0, 0, T0 + 1));
    assert_int_equal(balance(f, "T1", 2), 4000001);
}

void
test_foreign_factor(void **state)
{
    struct fx *f = *state;
    struct cmp_usage_view u;

    fx_init(f, "\"limit.foreign_factor_pct\": 50");
    funded(f, "FI", 1, LEDGER_CLASS_FOREIGN_INDIVIDUAL, 500 * M, 0, T0);
    funded(f, "FO", 1, LEDGER_CLASS_FOREIGN_ORG, 500 * M, 0, T0);
    funded_retail(f, "DI", 500 * M, T0);
    EXPECT_REJ_FIGS(trade(f, "FI", HOUSE, 50 * M + 1, T0), CMP_RULE_LIMIT_PER_TRADE, 50 * M, 0,
                    50 * M + 1);
    EXPECT_OK(trade(f, "FI", HOUSE, 50 * M, T0));
    EXPECT_REJ_FIGS(trade(f, "FO", HOUSE, 50 * M + 1, T0), CMP_RULE_LIMIT_PER_TRADE, 50 * M, 0,
                    50 * M + 1);
    EXPECT_OK(trade(f, "DI", HOUSE, 50 * M + 1, T0));
    EXPECT_OK(trade(f, "DI", HOUSE, 100 * M, T0));
    /* daily: 200M for the foreigner */
    EXPECT_OK(trade(f, "FI", HOUSE, 50 * M, T0));
    EXPECT_OK(trade(f, "FI", HOUSE, 50 * M, T0));
    EXPECT_OK(trade(f, "FI", HOUSE, 50 * M, T0));
    EXPECT_REJ_FIGS(trade(f, "FI", HOUSE, 1, T0), CMP_RULE_LIMIT_DAILY, 200 * M, 200 * M, 1);
    assert_int_equal(cmp_engine_usage(f->e, "FI", T0, &u), SBX_OK);
    assert_int_equal(u.per_trade_limit, 50 * M);
    assert_int_equal(u.daily_limit, 200 * M);
    assert_int_equal(u.daily_used, 200 * M);
    assert_int_equal(u.monthly_limit, 500 * M);
    assert_int_equal(u.holding_limit, 250 * M);
    assert_int_equal(cmp_engine_usage(f->e, "DI", T0, &u), SBX_OK);
    assert_int_equal(u.per_trade_limit, 100 * M);
    assert_int_equal(u.holding_limit, 500 * M);
    assert_int_equal(cmp_engine_usage(f->e, "NOBODY", T0, &u), SBX_ENOTFOUND);
}

#define NO_HOLDING "\"limit.holding.tier1\": 1000000000000000"

/* `acct` has used exactly `daily` and `monthly` VND of its limits as seen at `at`. */
static void
expect_used(struct fx *f, const char *acct, int64_t at, int64_t daily, int64_t monthly)
{
    struct cmp_usage_view u;

    assert_int_equal(cmp_engine_usage(f->e, acct, at, &u), SBX_OK);
    assert_int_equal(u.daily_used, daily);
    assert_int_equal(u.monthly_used, monthly);
}

void
test_daily_midnight(void **state)
{
    struct fx *f = *state;
    int64_t last = local_ms(2025, 10, 1, 23, 59, 59, 999);
    int64_t next = local_ms(2025, 10, 2, 0, 0, 0, 0);
    struct cmp_usage_view u;

    assert_int_equal(next - last, 1);
    fx_init(f, NO_HOLDING);
    funded_retail(f, "A", 1000 * M, T0);
    /* 400M as buyer and seller on 1 October (local) */
    EXPECT_OK(trade(f, "A", HOUSE, 100 * M, T0));
    EXPECT_OK(trade(f, "A", HOUSE, 100 * M, last - 2));
    EXPECT_OK(trade(f, HOUSE, "A", 100 * M, last - 1));
    EXPECT_OK(trade(f, HOUSE, "A", 100 * M, last));
    EXPECT_REJ_FIGS(trade(f, "A", HOUSE, 1, last), CMP_RULE_LIMIT_DAILY, 400 * M, 400 * M, 1);
    EXPECT_REJ_FIGS(trade(f, HOUSE, "A", 1, last), CMP_RULE_LIMIT_DAILY, 400 * M, 400 * M, 1);
    assert_int_equal(cmp_engine_usage(f->e, "A", last, &u), SBX_OK);
    assert_int_equal(u.daily_used, 400 * M);
    /* local midnight: a new day */
    expect_used(f, "A", next, 0, 400 * M);
    EXPECT_OK(trade(f, "A", HOUSE, 100 * M, next));
    EXPECT_OK(trade(f, "A", HOUSE, 100 * M, next + HOUR_MS));
    EXPECT_OK(trade(f, "A", HOUSE, 100 * M, next + 2 * HOUR_MS));
    /* UTC midnight (07:00 local) is not a day boundary */
    EXPECT_OK(trade(f, "A", HOUSE, 100 * M, local_ms(2025, 10, 2, 6, 59, 59, 999)));
    EXPECT_REJ_FIGS(trade(f, "A", HOUSE, 1, local_ms(2025, 10, 2, 7, 0, 0, 0)),
                    CMP_RULE_LIMIT_DAILY, 400 * M, 400 * M, 1);
    expect_used(f, "A", next, 400 * M, 800 * M);
}

void
test_monthly_boundary(void **state)
{
    struct fx *f = *state;
    int64_t last = local_ms(2025, 10, 31, 23, 59, 59, 999);
    int64_t next = local_ms(2025, 11, 1, 0, 0, 0, 0);

    fx_init(f, NO_HOLDING);
    funded_retail(f, "A", 2000 * M, local_ms(2025, 10, 29, 9, 0, 0, 0));
    for (int d = 29; d <= 30; d++)
        for (int i = 0; i < 4; i++)
            EXPECT_OK(
                trade(f, "A", HOUSE, 100 * M, local_ms(2025, 10, (unsigned)d, 10 + i, 0, 0, 0)));
    EXPECT_OK(trade(f, "A", HOUSE, 100 * M, last - 1000));
    EXPECT_OK(trade(f, "A", HOUSE, 100 * M, last - 1));
    /* 1,000M this month; 200M today */
    EXPECT_REJ_FIGS(trade(f, "A", HOUSE, 1, last), CMP_RULE_LIMIT_MONTHLY, 1000 * M, 1000 * M, 1);
    expect_used(f, "A", last, 200 * M, 1000 * M);
    EXPECT_OK(trade(f, "A", HOUSE, 100 * M, next));
    expect_used(f, "A", next, 100 * M, 100 * M);
}

void
test_holding(void **state)
{
    struct fx *f = *state;

    fx_init(f, NULL);
    funded_retail(f, "A", 0, T0);
    funded_retail(f, "B", 200 * M, T0);
    funded(f, "C", 3, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 0, 0, T0);
    funded(f, "D", 3, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 1000 * M, 0, T0);
    /* by deposit, valued at the reference price */
    EXPECT_OK(deposit_tr(f, "A", "BTC", 500 * M, T0));
    EXPECT_REJ_FIGS(deposit_tr(f, "A", "BTC", 1, T0), CMP_RULE_LIMIT_HOLDING, 500 * M, 500 * M, 1);
    EXPECT_OK(deposit_tr(f, "A", "ETH", 500 * M, T0)); /* per asset */
    EXPECT_OK(deposit_tr(f, "C", "BTC", 12500 * M, T0));
    EXPECT_REJ_FIGS(deposit_tr(f, "C", "BTC", 1, T0), CMP_RULE_LIMIT_HOLDING, 12500 * M, 12500 * M,
                    1);
    /* by a buy */
    EXPECT_OK(deposit_tr(f, "B", "BTC", 400 * M, T0));
    EXPECT_OK(trade(f, "B", HOUSE, 100 * M - 1, T0));
    EXPECT_OK(trade(f, "B", HOUSE, 1, T0));
    EXPECT_REJ_FIGS(trade(f, "B", HOUSE, 1, T0), CMP_RULE_LIMIT_HOLDING, 500 * M, 500 * M, 1);
    /* selling is fine, and makes room */
    EXPECT_OK(trade(f, HOUSE, "B", 1, T0));
    EXPECT_OK(trade(f, "B", HOUSE, 1, T0));
    /* the valuation follows the reference price, never a trade's: a trade at the band's edge
     * leaves it, a regulator's set_param moves it; at twice the price A now holds 1,000M */
    EXPECT_OK(trade_fee(f, "D", HOUSE, "BTC", 1, PRICE + PRICE / 10, 0, 0, T0));
    assert_int_equal(cmp_engine_price(f->e, 1), PRICE);
    EXPECT_REJ_FIGS(deposit_tr(f, "A", "BTC", 1, T0), CMP_RULE_LIMIT_HOLDING, 500 * M, 500 * M, 1);
    EXPECT_OK(set_param(f, "asset.BTC.ref_price_vnd", 2 * PRICE, T0));
    assert_int_equal(cmp_engine_price(f->e, 1), 2 * PRICE);
    assert_int_equal(cmp_engine_price(f->e, 2), PRICE);
    assert_int_equal(cmp_engine_price(f->e, 0), 1);
    EXPECT_REJ_FIGS(deposit_tr(f, "A", "BTC", 1, T0), CMP_RULE_LIMIT_HOLDING, 500 * M, 1000 * M, 2);
    EXPECT_OK(deposit(f, "A", "VND", 1000 * M, T0)); /* VND has no holding limit */
}

void
test_exchange_limits(void **state)
{
    struct fx *f = *state;
    int64_t d1 = local_ms(2025, 10, 1, 10, 0, 0, 0), d2 = local_ms(2025, 10, 2, 10, 0, 0, 0);
    int64_t daily, total;

    fx_init(f, "\"limit.exchange_daily\": 1000000000, \"limit.exchange_total\": 1500000000");
    funded(f, "A", 3, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 5000 * M, 0, d1);
    funded(f, "B", 3, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 5000 * M, 0, d1);
    EXPECT_OK(trade(f, "A", HOUSE, 600 * M, d1));
    EXPECT_OK(trade(f, "B", HOUSE, 400 * M, d1 + 1));
    EXPECT_REJ_FIGS(trade(f, "B", HOUSE, 1, d1 + 2), CMP_RULE_LIMIT_EXCHANGE_DAILY, 1000 * M,
                    1000 * M, 1);
    /* trades of the house count too: the limit is exchange-wide */
    EXPECT_REJ(trade(f, HOUSE, HOUSE, 1, d1 + 2), CMP_RULE_LIMIT_EXCHANGE_DAILY);
    cmp_engine_exchange_usage(f->e, d1, &daily, &total);
    assert_int_equal(daily, 1000 * M);
    assert_int_equal(total, 1000 * M);
    EXPECT_OK(trade(f, "A", HOUSE, 500 * M, d2));
    EXPECT_REJ_FIGS(trade(f, "B", HOUSE, 1, d2 + 1), CMP_RULE_LIMIT_EXCHANGE_TOTAL, 1500 * M,
                    1500 * M, 1);
    cmp_engine_exchange_usage(f->e, d2, &daily, &total);
    assert_int_equal(daily, 500 * M);
    assert_int_equal(total, 1500 * M);
}

void
test_set_param(void **state)
{
    struct fx *f = *state;
    struct ledger_tx tx;
    struct cmp_usage_view u;
    int64_t t = T0;

    fx_init(f, NULL);
    funded_retail(f, "A", 1000 * M, t);
    EXPECT_OK(trade(f, "A", HOUSE, 100 * M, t + 1));
    assert_int_equal(f->res.verdict.param_version, 1);
    EXPECT_OK(trade(f, "A", HOUSE, 100 * M, t + 2));
    assert_int_equal(f->res.verdict.param_version, 1);
    /* a dry run before the directive still passes 200M more */
    mk_trade(&tx, "T-dry", "A", HOUSE, "BTC", 100 * M, PRICE, t + 3);
    EXPECT_OK(check(f, &tx));
    mk_dir(&tx, LEDGER_DIR_SET_PARAM, KEY_REG, NULL, t + 3);
    cpy(tx.u.directive.name, sizeof(tx.u.directive.name), "limit.daily.tier1");
    tx.u.directive.value = 150 * M;
    EXPECT_OK(directive(f, &tx));
    assert_int_equal(f->res.verdict.param_version, 1); /* the version it was judged under */
    assert_int_equal(cmp_engine_params(f->e)->version, 2);
    assert_int_equal(cmp_engine_params(f->e)->v[CMP_P_DAILY_T1], 150 * M);
    /* earlier trades stand; later ones see the new limit */
    EXPECT_REJ_FIGS(trade(f, "A", HOUSE, 1, t + 4), CMP_RULE_LIMIT_DAILY, 150 * M, 200 * M, 1);
    assert_int_equal(f->res.verdict.param_version, 2);
    assert_int_equal(cmp_engine_usage(f->e, "A", t + 4, &u), SBX_OK);
    assert_int_equal(u.daily_limit, 150 * M);
    assert_int_equal(u.daily_used, 200 * M);
    /* the next day: exactly the new limit */
    EXPECT_OK(trade(f, "A", HOUSE, 100 * M, t + DAY_MS));
    EXPECT_OK(trade(f, "A", HOUSE, 50 * M, t + DAY_MS));
    assert_int_equal(f->res.verdict.param_version, 2);
    EXPECT_REJ_FIGS(trade(f, "A", HOUSE, 1, t + DAY_MS), CMP_RULE_LIMIT_DAILY, 150 * M, 150 * M, 1);
    /* a per-asset reference price is a parameter too */
    mk_dir(&tx, LEDGER_DIR_SET_PARAM, KEY_REG, NULL, t + DAY_MS);
    cpy(tx.u.directive.name, sizeof(tx.u.directive.name), "asset.ETH.ref_price_vnd");
    tx.u.directive.value = 3 * PRICE;
    EXPECT_OK(directive(f, &tx));
    assert_int_equal(cmp_engine_params(f->e)->version, 3);
    assert_int_equal(cmp_engine_price(f->e, 2), 3 * PRICE);
    /* refusals do not bump the version */
    cpy(tx.u.directive.name, sizeof(tx.u.directive.name), "limit.nope");
    EXPECT_REJ(directive(f, &tx), CMP_RULE_DIRECTIVE_INVALID);
    cpy(tx.u.directive.name, sizeof(tx.u.directive.name), "aml.screening_block_score");
    tx.u.directive.value = 102;
    EXPECT_REJ(directive(f, &tx), CMP_RULE_DIRECTIVE_INVALID);
    cpy(tx.u.directive.name, sizeof(tx.u.directive.name), "licence.valid_to");
    tx.u.directive.value = VALID_FROM;
    EXPECT_REJ(directive(f, &tx), CMP_RULE_DIRECTIVE_INVALID);
    cpy(tx.u.directive.name, sizeof(tx.u.directive.name), "asset.VND.ref_price_vnd");
    tx.u.directive.value = 1;
    EXPECT_REJ(directive(f, &tx), CMP_RULE_DIRECTIVE_INVALID);
    mk_dir(&tx, LEDGER_DIR_LICENCE_EXTEND, KEY_REG, NULL, t + DAY_MS);
    tx.u.directive.value = VALID_FROM;
    EXPECT_REJ_FIGS(directive(f, &tx), CMP_RULE_DIRECTIVE_INVALID, VALID_FROM, 0, VALID_FROM);
    assert_int_equal(cmp_engine_params(f->e)->version, 3);
}

/* ------------------------------------------------------------------ accounts, balances */

void
test_frozen(void **state)
{
    struct fx *f = *state;
    struct ledger_tx tx;

    fx_init(f, NULL);
    funded(f, "A", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 50 * M, 10 * M, T0);
    funded(f, "B", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 50 * M, 10 * M, T0);
    mk_dir(&tx, LEDGER_DIR_FREEZE, KEY_REG, NULL, T0 + 1);
    cpy(tx.u.directive.account, sizeof(tx.u.directive.account), "A");
    EXPECT_OK(directive(f, &tx));
    EXPECT_REJ(trade(f, "A", "B", 1000, T0 + 2), CMP_RULE_ACCOUNT_FROZEN); /* frozen buyer */
    EXPECT_REJ(trade(f, "B", "A", 1000, T0 + 2), CMP_RULE_ACCOUNT_FROZEN); /* frozen seller */
    EXPECT_REJ(deposit(f, "A", "VND", 1000, T0 + 2), CMP_RULE_ACCOUNT_FROZEN);
    EXPECT_REJ(withdraw(f, "A", "VND", 1000, T0 + 2), CMP_RULE_ACCOUNT_FROZEN);
    EXPECT_OK(trade(f, "B", HOUSE, 1000, T0 + 2));
    assert_true(ledger_state_get(cmp_engine_state(f->e), "A")->frozen);
    mk_dir(&tx, LEDGER_DIR_UNFREEZE, KEY_REG, NULL, T0 + 3);
    cpy(tx.u.directive.account, sizeof(tx.u.directive.account), "A");
    EXPECT_OK(directive(f, &tx));
    EXPECT_OK(trade(f, "A", "B", 1000, T0 + 4));
    EXPECT_OK(trade(f, "B", "A", 1000, T0 + 4));
    mk_dir(&tx, LEDGER_DIR_FREEZE, KEY_REG, NULL, T0 + 5);
    cpy(tx.u.directive.account, sizeof(tx.u.directive.account), "NOBODY");
    EXPECT_REJ(directive(f, &tx), CMP_RULE_DIRECTIVE_INVALID);
}

void
test_balance(void **state)
{
    struct fx *f = *state;
    int64_t house_vnd;

    fx_init(f, NULL);
    funded_retail(f, "A", 10010000, T0);
    funded_retail(f, "B", 10009999, T0);
    house_vnd = balance(f, HOUSE, 0);
    /* the buyer needs notional + fee */
    EXPECT_REJ_FIGS(trade_fee(f, "B", HOUSE, "BTC", 10 * M, PRICE, 10000, 0, T0),
                    CMP_RULE_BALANCE_INSUFFICIENT, 10009999, 0, 10010000);
    EXPECT_OK(trade_fee(f, "A", HOUSE, "BTC", 10 * M, PRICE, 10000, 0, T0));
    assert_int_equal(balance(f, "A", 0), 0);
    assert_int_equal(balance(f, "A", 1), 10 * M);
    assert_int_equal(balance(f, HOUSE, 0), house_vnd + 10010000); /* notional + fee */
    /* the seller needs the asset */
    EXPECT_REJ_FIGS(trade(f, "B", "A", 10 * M + 1, T0), CMP_RULE_BALANCE_INSUFFICIENT, 10 * M, 0,
                    10 * M + 1);
    EXPECT_OK(trade_fee(f, "B", "A", "BTC", 5 * M, PRICE, 5009999, 7000, T0));
    assert_int_equal(balance(f, "B", 0), 0);
    assert_int_equal(balance(f, "A", 0), 5 * M - 7000);
    assert_int_equal(balance(f, "A", 1), 5 * M);
    assert_int_equal(balance(f, "B", 1), 5 * M);
    assert_int_equal(balance(f, HOUSE, 0), house_vnd + 10010000 + 5009999 + 7000);
    /* a seller fee above the notional needs VND */
    EXPECT_OK(open_acct(f, "C", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, T0));
    EXPECT_OK(deposit_tr(f, "C", "BTC", 10, T0));
    EXPECT_REJ_FIGS(trade_fee(f, HOUSE, "C", "BTC", 10, PRICE, 0, 11, T0),
                    CMP_RULE_BALANCE_INSUFFICIENT, 0, 0, 1);
    EXPECT_OK(deposit(f, "C", "VND", 1, T0));
    EXPECT_OK(trade_fee(f, HOUSE, "C", "BTC", 10, PRICE, 0, 11, T0));
    assert_int_equal(balance(f, "C", 0), 0);
    /* withdrawals */
    EXPECT_REJ_FIGS(withdraw(f, "A", "VND", 5 * M - 6999, T0), CMP_RULE_BALANCE_INSUFFICIENT,
                    5 * M - 7000, 0, 5 * M - 6999);
    EXPECT_OK(withdraw(f, "A", "VND", 5 * M - 7000, T0));
    EXPECT_REJ(withdraw(f, "A", "BTC", 5 * M + 1, T0), CMP_RULE_BALANCE_INSUFFICIENT);
    EXPECT_OK(withdraw(f, "A", "BTC", 5 * M, T0));
    assert_int_equal(balance(f, "A", 0), 0);
    assert_int_equal(balance(f, "A", 1), 0);
}

void
test_self_trade_fees(void **state)
{
    struct fx *f = *state;

    /* buyer and seller are one account: the seller's fee must be payable after the buyer's side
     * (evaluate used to accept this and apply then failed half-way) */
    fx_init(f, NULL);
    funded(f, "S", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 110, 100, T0);
    EXPECT_REJ_FIGS(trade_fee(f, "S", "S", "BTC", 100, PRICE, 10, 101, T0),
                    CMP_RULE_BALANCE_INSUFFICIENT, 0, 0, 1);
    EXPECT_OK(trade_fee(f, "S", "S", "BTC", 100, PRICE, 10, 100, T0));
    assert_int_equal(balance(f, "S", 0), 0);
    assert_int_equal(balance(f, "S", 1), 100);
}

void
test_cooling_off(void **state)
{
    struct fx *f = *state;

    fx_init(f, "\"kyc.cooling_off_s\": 3600");
    funded_retail(f, "A", 50 * M, T0);
    funded(f, "B", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 0, 10 * M, T0 + 1000);
    EXPECT_REJ_FIGS(trade(f, "A", HOUSE, 1000, T0 + HOUR_MS - 1), CMP_RULE_KYC_COOLING_OFF,
                    T0 + HOUR_MS, T0 + HOUR_MS - 1, 0);
    EXPECT_OK(trade(f, "A", HOUSE, 1000, T0 + HOUR_MS));
    /* the seller too */
    EXPECT_REJ_FIGS(trade(f, "A", "B", 1000, T0 + HOUR_MS + 999), CMP_RULE_KYC_COOLING_OFF,
                    T0 + 1000 + HOUR_MS, T0 + HOUR_MS + 999, 0);
    EXPECT_OK(trade(f, "A", "B", 1000, T0 + HOUR_MS + 1000));
}

void
test_id_duplicate(void **state)
{
    struct fx *f = *state;
    struct ledger_tx tx;

    fx_init(f, NULL);
    funded_retail(f, "A", 1000, T0);
    /* a rejected first attempt still takes the id */
    mk_trade(&tx, "T-1", "A", HOUSE, "BTC", 2000, PRICE, T0);
    EXPECT_REJ(run(f, &tx), CMP_RULE_BALANCE_INSUFFICIENT);
    EXPECT_OK(deposit(f, "A", "VND", 1000, T0));
    EXPECT_REJ(run(f, &tx), CMP_RULE_ID_DUPLICATE);
    mk_trade(&tx, "T-2", "A", HOUSE, "BTC", 2000, PRICE, T0);
    EXPECT_OK(run(f, &tx));
    EXPECT_REJ(run(f, &tx), CMP_RULE_ID_DUPLICATE);
    /* also in a later block */
    end_block(f, NULL);
    EXPECT_REJ(run(f, &tx), CMP_RULE_ID_DUPLICATE);
    EXPECT_REJ(check(f, &tx), CMP_RULE_ID_DUPLICATE);
    /* transfers */
    mk_xfer(&tx, LEDGER_TX_DEPOSIT, "X-1", "A", "VND", 1000, T0);
    EXPECT_OK(run(f, &tx));
    EXPECT_REJ(run(f, &tx), CMP_RULE_ID_DUPLICATE);
    mk_xfer(&tx, LEDGER_TX_WITHDRAWAL, "X-1", "A", "VND", 1000, T0);
    EXPECT_REJ(run(f, &tx), CMP_RULE_ID_DUPLICATE);
    mk_xfer(&tx, LEDGER_TX_WITHDRAWAL, "X-2", "A", "VND", 1 * M, T0);
    EXPECT_REJ(run(f, &tx), CMP_RULE_BALANCE_INSUFFICIENT);
    mk_xfer(&tx, LEDGER_TX_WITHDRAWAL, "X-2", "A", "VND", 1000, T0);
    EXPECT_REJ(run(f, &tx), CMP_RULE_ID_DUPLICATE);
    /* trade ids and transfer ids are separate namespaces */
    mk_trade(&tx, "X-1", "A", HOUSE, "BTC", 1, PRICE, T0);
    EXPECT_OK(run(f, &tx));
    /* a licence rejection takes the id too */
    mk_trade(&tx, "T-3", "A", HOUSE, "BTC", 1, PRICE, VALID_FROM - 1);
    EXPECT_REJ(run(f, &tx), CMP_RULE_LICENCE_WINDOW);
    tx.timestamp = T0;
    EXPECT_REJ(run(f, &tx), CMP_RULE_ID_DUPLICATE);
}

void
test_amount_overflow(void **state)
{
    struct fx *f = *state;
    struct ledger_tx tx;

    fx_init(f, NULL);
    funded(f, "A", 3, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 1000, 0, T0);
    EXPECT_REJ_FIGS(trade_fee(f, "A", HOUSE, "BTC", INT64_MAX, PRICE + PRICE / 10, 0, 0, T0),
                    CMP_RULE_AMOUNT_OVERFLOW, 0, 0, 0);
    /* the notional fits, notional + fee does not */
    EXPECT_REJ(trade_fee(f, "A", HOUSE, "BTC", INT64_MAX, PRICE, 1, 0, T0),
               CMP_RULE_AMOUNT_OVERFLOW);
    EXPECT_REJ(trade_fee(f, "A", HOUSE, "BTC", INT64_MAX, PRICE, 0, 0, T0),
               CMP_RULE_LIMIT_PER_TRADE);
    /* a deposit whose VND value overflows */
    mk_dir(&tx, LEDGER_DIR_SET_PARAM, KEY_REG, NULL, T0);
    cpy(tx.u.directive.name, sizeof(tx.u.directive.name), "asset.ETH.ref_price_vnd");
    tx.u.directive.value = 2 * PRICE;
    EXPECT_OK(directive(f, &tx));
    EXPECT_REJ(deposit_tr(f, "A", "ETH", INT64_MAX / 2 + 1, T0), CMP_RULE_AMOUNT_OVERFLOW);
    /* a balance that would overflow */
    EXPECT_REJ(deposit(f, HOUSE, "VND", INT64_MAX, T0), CMP_RULE_AMOUNT_OVERFLOW);
}
