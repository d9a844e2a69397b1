/* compliance/ unit tests: rule names and licence parameters, the licence window and status,
 * who may sign what, accounts, halts, trading hours and the settlement currency.
 */
#include "tests/unit/test_common.h"
#include "tests/unit/test_compliance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compliance/params.h"
#include "ledger/store.h"

/* ------------------------------------------------------------------ names and parameters */

void
test_rule_names(void **state)
{
    (void)state;
    /* every rule of the table by its name, and no number from 1 to CMP_RULE_MAX without one */
#define CHECK_RULE(e, n, s)                                                                        \
    assert_string_equal(cmp_rule_name(n), s);                                                      \
    assert_int_equal(cmp_rule_parse(s), n);                                                        \
    assert_true((n) <= CMP_RULE_MAX);
    CMP_RULES(CHECK_RULE)
#undef CHECK_RULE
    for (int r = 1; r <= CMP_RULE_MAX; r++)
        assert_non_null(cmp_rule_name(r));
    assert_null(cmp_rule_name(0));
    assert_null(cmp_rule_name(CMP_RULE_MAX + 1));
    assert_int_equal(cmp_rule_parse("limit.nope"), -1);
    assert_string_equal(cmp_rule_name(CMP_RULE_LIMIT_DAILY), "limit.daily");
    for (int k = 1; k <= CMP_ALERT_MAX; k++)
        assert_int_equal(cmp_alert_parse(cmp_alert_name(k)), k);
    assert_null(cmp_alert_name(CMP_ALERT_MAX + 1));
}

void
test_params_licence(void **state)
{
    struct fx *f = *state;
    struct ledger_asset_def assets[3] = {{"VND", 0}, {"BTC", 8}, {"ETH", 8}};
    struct cmp_params p;
    struct sbx_err err;
    char *canon = make_licence("\"limit.daily.tier1\": 5", NULL);
    const char *noncanon = "{\"params\": {\"licence.valid_from\": 1, \"licence.valid_to\": 2, "
                           "\"asset.BTC.ref_price_vnd\": 1, \"asset.ETH.ref_price_vnd\": 1}}";
    char *c2;

    (void)f;
    assert_int_equal(cmp_params_from_json(&p, canon, strlen(canon), 1, assets, 3, &err), SBX_OK);
    assert_int_equal(p.v[CMP_P_DAILY_T1], 5);
    assert_int_equal(p.v[CMP_P_MONTHLY_T1], cmp_params_default(CMP_P_MONTHLY_T1));
    assert_int_equal(p.ref_price[1], PRICE);
    assert_int_equal(p.version, 1);
    free(canon);
    /* valid content, but not canonical bytes */
    assert_int_equal(cmp_params_from_json(&p, noncanon, strlen(noncanon), 1, assets, 3, &err),
                     SBX_ENONCANON);
    assert_int_equal(cmp_params_from_json(&p, noncanon, strlen(noncanon), 0, assets, 3, &err),
                     SBX_OK);
    c2 = cmp_params_canonicalize(noncanon, strlen(noncanon), &err);
    assert_non_null(c2);
    assert_int_equal(cmp_params_from_json(&p, c2, strlen(c2), 1, assets, 3, &err), SBX_OK);
    free(c2);
    /* refusals */
    {
        static const char *const bad[] = {
            "{\"params\":{\"licence.valid_to\":2}}",
            "{\"params\":{\"asset.BTC.ref_price_vnd\":1,\"asset.ETH.ref_price_vnd\":1,"
            "\"licence.valid_from\":2,\"licence.valid_to\":2}}",
            "{\"params\":{\"asset.BTC.ref_price_vnd\":1,\"asset.ETH.ref_price_vnd\":1,"
            "\"licence.valid_from\":1,\"licence.valid_to\":2,\"limit.nope\":1}}",
            "{\"params\":{\"asset.BTC.ref_price_vnd\":1,\"licence.valid_from\":1,"
            "\"licence.valid_to\":2}}",
            "{\"params\":{\"asset.BTC.ref_price_vnd\":1,\"asset.ETH.ref_price_vnd\":1,"
            "\"licence.valid_from\":1,\"licence.valid_to\":2,\"aml.screening_block_score\":102}}",
            "{\"params\":{\"asset.BTC.ref_price_vnd\":1,\"asset.ETH.ref_price_vnd\":1,"
            "\"licence.valid_from\":1,\"licence.valid_to\":2,\"trading.open_min\":600,"
            "\"trading.close_min\":500}}",
            "{\"oops\":1,\"params\":{\"asset.BTC.ref_price_vnd\":1,\"asset.ETH.ref_price_vnd\":1,"
            "\"licence.valid_from\":1,\"licence.valid_to\":2}}",
        };

        for (size_t i = 0; i < SBX_ARRAY_LEN(bad); i++)
            assert_int_equal(cmp_params_from_json(&p, bad[i], strlen(bad[i]), 0, assets, 3, &err),
                             SBX_EINVAL);
    }
    /* tier limits and the foreign factor (rounded down) */
    cmp_params_defaults(&p);
    assert_int_equal(cmp_params_tier_limit(&p, CMP_P_DAILY_T1, 1, LEDGER_CLASS_DOMESTIC_ORG),
                     400000000);
    assert_int_equal(cmp_params_tier_limit(&p, CMP_P_DAILY_T1, 2, LEDGER_CLASS_DOMESTIC_ORG),
                     2000000000);
    assert_int_equal(cmp_params_tier_limit(&p, CMP_P_DAILY_T1, 3, LEDGER_CLASS_DOMESTIC_ORG),
                     INT64_C(10000000000));
    p.v[CMP_P_FOREIGN_FACTOR_PCT] = 33;
    assert_int_equal(
        cmp_params_tier_limit(&p, CMP_P_PER_TRADE_T1, 1, LEDGER_CLASS_FOREIGN_INDIVIDUAL),
        33000000);
    p.v[CMP_P_PER_TRADE_T1] = 100000001;
    assert_int_equal(cmp_params_tier_limit(&p, CMP_P_PER_TRADE_T1, 1, LEDGER_CLASS_FOREIGN_ORG),
                     33000000); /* 33,000,000.33 rounded down */
}

/* ------------------------------------------------------------------ licence and market */

void
test_licence_window(void **state)
{
    struct fx *f = *state;
    struct ledger_tx tx;

    fx_init_opt(f, NULL, 2, 1, 1);
    /* the window is [valid_from, valid_to) */
    EXPECT_REJ_FIGS(open_acct(f, "A", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, VALID_FROM - 1),
                    CMP_RULE_LICENCE_WINDOW, VALID_TO, VALID_FROM - 1, 0);
    EXPECT_OK(open_acct(f, "A", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, VALID_FROM));
    EXPECT_OK(deposit(f, "A", "VND", 1000, VALID_FROM));
    EXPECT_OK(deposit(f, "A", "VND", 1000, VALID_TO - 1)); /* below the dormancy trigger */
    /* from valid_to the licence winds down by itself (test_compliance_licence.c) */
    EXPECT_REJ_FIGS(deposit(f, "A", "VND", 1000, VALID_TO), CMP_RULE_LICENCE_EXPIRED, VALID_TO,
                    VALID_TO, 0);
    EXPECT_OK(withdraw(f, "A", "VND", 1000, VALID_TO + DAY_MS));
    /* directives are not business: the regulator acts at any time; an extension reopens it */
    mk_dir(&tx, LEDGER_DIR_LICENCE_EXTEND, KEY_REG, NULL, VALID_TO + 5);
    tx.u.directive.value = VALID_TO + DAY_MS;
    EXPECT_OK(directive(f, &tx));
    assert_int_equal(cmp_engine_params(f->e)->v[CMP_P_VALID_TO], VALID_TO + DAY_MS);
    assert_int_equal(cmp_engine_params(f->e)->version, 2);
    EXPECT_OK(deposit(f, "A", "VND", 1000, VALID_TO));
    EXPECT_OK(deposit(f, "A", "VND", 1000, VALID_TO + DAY_MS - 1));
    EXPECT_REJ(deposit(f, "A", "VND", 1000, VALID_TO + DAY_MS), CMP_RULE_LICENCE_EXPIRED);
    assert_int_equal(balance(f, "A", 0), 3000);
}

void
test_auth_signer(void **state)
{
    struct fx *f = *state;
    struct ledger_tx tx;
    static const int other[] = {KEY_OTHER, 0};

    fx_init(f, NULL);
    funded_retail(f, "A", 10 * M, T0);
    /* business transactions must be signed by the operator key */
    mk_trade(&tx, "T-auth", "A", HOUSE, "BTC", 1000, PRICE, T0);
    key(tx.signer, KEY_REG);
    EXPECT_REJ_FIGS(run(f, &tx), CMP_RULE_AUTH_SIGNER, 0, 0, 0);
    mk_open(&tx, "B", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, T0);
    key(tx.signer, KEY_OTHER);
    EXPECT_REJ(run(f, &tx), CMP_RULE_AUTH_SIGNER);
    mk_xfer(&tx, LEDGER_TX_DEPOSIT, "X-auth", "A", "VND", 5, T0);
    key(tx.signer, KEY_OTHER);
    EXPECT_REJ(run(f, &tx), CMP_RULE_AUTH_SIGNER);
    /* ... and the rejection did not take the ids */
    mk_trade(&tx, "T-auth", "A", HOUSE, "BTC", 1000, PRICE, T0);
    EXPECT_OK(run(f, &tx));
    mk_xfer(&tx, LEDGER_TX_DEPOSIT, "X-auth", "A", "VND", 5, T0);
    EXPECT_OK(run(f, &tx));
    /* directives only from regulators: the operator key, an unknown key, an unknown cosigner */
    mk_dir(&tx, LEDGER_DIR_HALT, KEY_OPERATOR, NULL, T0);
    EXPECT_REJ(directive(f, &tx), CMP_RULE_AUTH_SIGNER);
    mk_dir(&tx, LEDGER_DIR_HALT, KEY_OTHER, NULL, T0);
    EXPECT_REJ(directive(f, &tx), CMP_RULE_AUTH_SIGNER);
    mk_dir(&tx, LEDGER_DIR_HALT, KEY_REG, other, T0);
    EXPECT_REJ(directive(f, &tx), CMP_RULE_AUTH_SIGNER);
    assert_false(cmp_engine_market_halted(f->e));
    /* attestations only from regulators */
    EXPECT_REJ(run(f, mk_attest(&tx, KEY_OPERATOR, 0, T0)), CMP_RULE_AUTH_SIGNER);
    /* a genesis is never a block transaction */
    EXPECT_REJ(check(f, &f->genesis), CMP_RULE_AUTH_SIGNER);
}

void
test_accounts(void **state)
{
    struct fx *f = *state;
    struct ledger_tx tx;

    fx_init(f, "\"limit.participants_max\": 3");
    /* the house account (opened first by the fixture) is not a participant */
    EXPECT_OK(open_acct(f, "A", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, T0));
    EXPECT_OK(open_acct(f, "B", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, T0));
    EXPECT_OK(open_acct(f, "C", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, T0));
    EXPECT_REJ_FIGS(open_acct(f, "D", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, T0),
                    CMP_RULE_LIMIT_PARTICIPANTS, 3, 3, 1);
    EXPECT_REJ(open_acct(f, "A", 2, LEDGER_CLASS_DOMESTIC_ORG, T0), CMP_RULE_ACCOUNT_DUPLICATE);
    EXPECT_REJ(open_acct(f, HOUSE, 2, LEDGER_CLASS_DOMESTIC_ORG, T0), CMP_RULE_ACCOUNT_DUPLICATE);
    /* closing one makes room (from the next block: the active count is kept per block) */
    EXPECT_OK(run(f, mk_update(&tx, "C", 0, LEDGER_ACCOUNT_CLOSED, T0 + 1)));
    end_block(f, NULL);
    EXPECT_OK(open_acct(f, "D", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, T0 + 2));
    EXPECT_REJ_FIGS(run(f, mk_update(&tx, "C", 0, LEDGER_ACCOUNT_ACTIVE, T0 + 3)),
                    CMP_RULE_LIMIT_PARTICIPANTS, 3, 3, 1);
    EXPECT_OK(run(f, mk_update(&tx, "C", 2, 0, T0 + 3))); /* a tier change is fine */
    EXPECT_REJ(run(f, mk_update(&tx, "NOBODY", 2, 0, T0 + 3)), CMP_RULE_ACCOUNT_UNKNOWN);
    /* unknown and closed parties */
    EXPECT_OK(deposit(f, "A", "VND", 10 * M, T0 + 4));
    EXPECT_OK(deposit_tr(f, "B", "BTC", 10 * M, T0 + 4));
    EXPECT_REJ(trade(f, "NOBODY", "B", 1000, T0 + 5), CMP_RULE_ACCOUNT_UNKNOWN);
    EXPECT_REJ(trade(f, "A", "NOBODY", 1000, T0 + 5), CMP_RULE_ACCOUNT_UNKNOWN);
    EXPECT_REJ(trade(f, "A", "C", 1000, T0 + 5), CMP_RULE_ACCOUNT_CLOSED);
    EXPECT_REJ(trade(f, "C", "B", 1000, T0 + 5), CMP_RULE_ACCOUNT_CLOSED);
    EXPECT_REJ(deposit(f, "C", "VND", 1000, T0 + 5), CMP_RULE_ACCOUNT_CLOSED);
    EXPECT_REJ(deposit(f, "NOBODY", "VND", 1000, T0 + 5), CMP_RULE_ACCOUNT_UNKNOWN);
    EXPECT_OK(trade(f, "A", "B", 1000, T0 + 5));
    assert_int_equal(balance(f, "A", 1), 1000);
    assert_int_equal(balance(f, "B", 0), 1000);
}

void
test_participants_house_last(void **state)
{
    struct fx *f = *state;

    /* without the house opened first: the limit counts clients, and the house is exempt */
    fx_init_opt(f, "\"limit.participants_max\": 2", 2, 1, 1);
    EXPECT_OK(open_acct(f, "A", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, T0));
    EXPECT_OK(open_acct(f, "B", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, T0));
    EXPECT_OK(open_acct(f, HOUSE, 3, LEDGER_CLASS_DOMESTIC_ORG, T0));
    EXPECT_REJ_FIGS(open_acct(f, "C", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, T0),
                    CMP_RULE_LIMIT_PARTICIPANTS, 2, 2, 1);
}

void
test_halts(void **state)
{
    struct fx *f = *state;
    struct ledger_tx tx;

    fx_init(f, NULL);
    funded_retail(f, "A", 50 * M, T0);
    mk_dir(&tx, LEDGER_DIR_HALT, KEY_REG, NULL, T0 + 1);
    cpy(tx.u.directive.asset, sizeof(tx.u.directive.asset), "BTC");
    EXPECT_OK(directive(f, &tx));
    assert_true(cmp_engine_asset_halted(f->e, 1));
    assert_false(cmp_engine_asset_halted(f->e, 2));
    EXPECT_REJ(trade(f, "A", HOUSE, 1000, T0 + 2), CMP_RULE_ASSET_HALTED);
    EXPECT_OK(trade_fee(f, "A", HOUSE, "ETH", 1000, PRICE, 0, 0, T0 + 2));
    EXPECT_OK(deposit_tr(f, "A", "BTC", 1000, T0 + 2)); /* a halt stops trading only */
    /* the whole market */
    mk_dir(&tx, LEDGER_DIR_HALT, KEY_REG, NULL, T0 + 3);
    EXPECT_OK(directive(f, &tx));
    assert_true(cmp_engine_market_halted(f->e));
    EXPECT_REJ(trade_fee(f, "A", HOUSE, "ETH", 1000, PRICE, 0, 0, T0 + 4), CMP_RULE_MARKET_HALTED);
    EXPECT_REJ(trade(f, "A", HOUSE, 1000, T0 + 4), CMP_RULE_MARKET_HALTED);
    mk_dir(&tx, LEDGER_DIR_RESUME, KEY_REG, NULL, T0 + 5);
    EXPECT_OK(directive(f, &tx));
    EXPECT_OK(trade_fee(f, "A", HOUSE, "ETH", 1000, PRICE, 0, 0, T0 + 6));
    EXPECT_REJ(trade(f, "A", HOUSE, 1000, T0 + 6), CMP_RULE_ASSET_HALTED);
    mk_dir(&tx, LEDGER_DIR_RESUME, KEY_REG, NULL, T0 + 7);
    cpy(tx.u.directive.asset, sizeof(tx.u.directive.asset), "BTC");
    EXPECT_OK(directive(f, &tx));
    EXPECT_OK(trade(f, "A", HOUSE, 1000, T0 + 8));
    /* VND and unknown assets cannot be halted */
    mk_dir(&tx, LEDGER_DIR_HALT, KEY_REG, NULL, T0 + 9);
    cpy(tx.u.directive.asset, sizeof(tx.u.directive.asset), "VND");
    EXPECT_REJ(directive(f, &tx), CMP_RULE_DIRECTIVE_INVALID);
    cpy(tx.u.directive.asset, sizeof(tx.u.directive.asset), "DOGE");
    EXPECT_REJ(directive(f, &tx), CMP_RULE_DIRECTIVE_INVALID);
}

void
test_licence_status(void **state)
{
    struct fx *f = *state;
    struct ledger_tx tx;

    fx_init(f, NULL);
    funded_retail(f, "A", 50 * M, T0);
    EXPECT_OK(run(f, mk_dir(&tx, LEDGER_DIR_LICENCE_SUSPEND, KEY_REG, NULL, T0 + 1)));
    assert_int_equal(cmp_engine_licence_status(f->e), CMP_LICENCE_SUSPENDED);
    EXPECT_REJ(trade(f, "A", HOUSE, 1000, T0 + 2), CMP_RULE_LICENCE_STATUS);
    EXPECT_REJ(deposit(f, "A", "VND", 1000, T0 + 2), CMP_RULE_LICENCE_STATUS);
    EXPECT_REJ(withdraw(f, "A", "VND", 1000, T0 + 2), CMP_RULE_LICENCE_STATUS);
    EXPECT_REJ(open_acct(f, "B", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, T0 + 2),
               CMP_RULE_LICENCE_STATUS);
    EXPECT_REJ(run(f, mk_dir(&tx, LEDGER_DIR_LICENCE_SUSPEND, KEY_REG, NULL, T0 + 3)),
               CMP_RULE_DIRECTIVE_INVALID);
    EXPECT_OK(run(f, mk_dir(&tx, LEDGER_DIR_LICENCE_REINSTATE, KEY_REG, NULL, T0 + 3)));
    EXPECT_REJ(run(f, mk_dir(&tx, LEDGER_DIR_LICENCE_REINSTATE, KEY_REG, NULL, T0 + 3)),
               CMP_RULE_DIRECTIVE_INVALID);
    EXPECT_OK(trade(f, "A", HOUSE, 1000, T0 + 4));
    /* wind-down: withdrawals and re-verification (account_update) only */
    EXPECT_OK(run(f, mk_dir(&tx, LEDGER_DIR_LICENCE_WIND_DOWN, KEY_REG, NULL, T0 + 5)));
    assert_int_equal(cmp_engine_licence_status(f->e), CMP_LICENCE_WIND_DOWN);
    EXPECT_OK(withdraw(f, "A", "VND", 1000, T0 + 6));
    EXPECT_OK(withdraw(f, "A", "BTC", 1000, T0 + 6));
    EXPECT_REJ(deposit(f, "A", "VND", 1000, T0 + 6), CMP_RULE_LICENCE_STATUS);
    EXPECT_REJ(trade(f, "A", HOUSE, 1000, T0 + 6), CMP_RULE_LICENCE_STATUS);
    EXPECT_REJ(open_acct(f, "B", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, T0 + 6),
               CMP_RULE_LICENCE_STATUS);
    EXPECT_OK(run(f, mk_update(&tx, "A", 1, 0, T0 + 6)));
    /* after the licence ends, clients still withdraw during the wind-down; nothing else */
    EXPECT_OK(withdraw(f, "A", "VND", 1000, VALID_TO));
    EXPECT_OK(withdraw(f, "A", "VND", 1000, VALID_TO + 86400000));
    EXPECT_REJ(deposit(f, "A", "VND", 1000, VALID_TO), CMP_RULE_LICENCE_EXPIRED);
    EXPECT_REJ(run(f, mk_dir(&tx, LEDGER_DIR_LICENCE_SUSPEND, KEY_REG, NULL, T0 + 7)),
               CMP_RULE_DIRECTIVE_INVALID);
    EXPECT_REJ(run(f, mk_dir(&tx, LEDGER_DIR_LICENCE_REINSTATE, KEY_REG, NULL, T0 + 7)),
               CMP_RULE_DIRECTIVE_INVALID);
    /* revoked: nothing */
    EXPECT_OK(run(f, mk_dir(&tx, LEDGER_DIR_LICENCE_REVOKE, KEY_REG, NULL, T0 + 8)));
    EXPECT_REJ(withdraw(f, "A", "VND", 1000, T0 + 9), CMP_RULE_LICENCE_STATUS);
    EXPECT_REJ(run(f, mk_dir(&tx, LEDGER_DIR_LICENCE_REVOKE, KEY_REG, NULL, T0 + 9)),
               CMP_RULE_DIRECTIVE_INVALID);
    EXPECT_REJ(run(f, mk_dir(&tx, LEDGER_DIR_LICENCE_WIND_DOWN, KEY_REG, NULL, T0 + 9)),
               CMP_RULE_DIRECTIVE_INVALID);
    assert_int_equal(cmp_engine_licence_status(f->e), CMP_LICENCE_REVOKED);
}

void
test_trading_hours(void **state)
{
    struct fx *f = *state;
    int64_t day = local_ms(2025, 10, 1, 0, 0, 0, 0);

    fx_init(f, "\"trading.open_min\": 540, \"trading.close_min\": 1020");
    funded_retail(f, "A", 50 * M, day);
    EXPECT_REJ_FIGS(trade(f, "A", HOUSE, 1000, day + 9 * HOUR_MS - 1), CMP_RULE_TRADING_HOURS, 1020,
                    539, 0);
    EXPECT_OK(trade(f, "A", HOUSE, 1000, day + 9 * HOUR_MS));
    EXPECT_OK(trade(f, "A", HOUSE, 1000, day + 17 * HOUR_MS - 1));
    EXPECT_REJ_FIGS(trade(f, "A", HOUSE, 1000, day + 17 * HOUR_MS), CMP_RULE_TRADING_HOURS, 1020,
                    1020, 0);
    /* 09:00 local is 02:00 UTC: the window is in local time */
    EXPECT_REJ(trade(f, "A", HOUSE, 1000, local_ms(2025, 10, 2, 2, 0, 0, 0)),
               CMP_RULE_TRADING_HOURS);
    EXPECT_OK(deposit(f, "A", "VND", 1000, day + 20 * HOUR_MS)); /* transfers at any hour */
}

void
test_settlement_currency(void **state)
{
    struct fx *f = *state;

    fx_init(f, NULL);
    funded_retail(f, "A", 50 * M, T0);
    EXPECT_REJ(trade_fee(f, "A", HOUSE, "VND", 1000, 1, 0, 0, T0), CMP_RULE_SETTLEMENT_CURRENCY);
    EXPECT_REJ(trade_fee(f, "A", HOUSE, "USD", 1000, PRICE, 0, 0, T0),
               CMP_RULE_SETTLEMENT_CURRENCY);
    EXPECT_REJ(trade_fee(f, "A", HOUSE, "DOGE", 1000, PRICE, 0, 0, T0), CMP_RULE_ASSET_UNLISTED);
    EXPECT_REJ(deposit(f, "A", "USD", 1000, T0), CMP_RULE_SETTLEMENT_CURRENCY);
    EXPECT_REJ(withdraw(f, "A", "EUR", 1000, T0), CMP_RULE_SETTLEMENT_CURRENCY);
    EXPECT_REJ(deposit(f, "A", "DOGE", 1000, T0), CMP_RULE_ASSET_UNLISTED);
    EXPECT_OK(trade_fee(f, "A", HOUSE, "ETH", 1000, PRICE, 0, 0, T0));
}
