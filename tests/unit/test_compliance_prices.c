/* The reference-price rules of a trade (compliance/prices.c): price.band at both edges and one
 * VND past them, the band following a regulator's set_param from its transaction on, and
 * price.stale exactly at price.max_age_s and one millisecond past it. The fixture's reference
 * price is PRICE for BTC and ETH; price.band_pct keeps its default of 10.
 */
#include "tests/unit/test_common.h"
#include "tests/unit/test_compliance.h"

void
test_price_band(void **state)
{
    struct fx *f = *state;
    const int64_t lo = PRICE - PRICE / 10, hi = PRICE + PRICE / 10;

    fx_init(f, NULL);
    funded(f, "A", 3, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 1000 * M, 0, T0);
    /* exactly at each edge passes, one VND past it is rejected: limit = the edge crossed */
    EXPECT_OK(trade_fee(f, "A", HOUSE, "BTC", 1000, hi, 0, 0, T0));
    EXPECT_REJ_FIGS(trade_fee(f, "A", HOUSE, "BTC", 1000, hi + 1, 0, 0, T0), CMP_RULE_PRICE_BAND,
                    hi, PRICE, hi + 1);
    EXPECT_OK(trade_fee(f, "A", HOUSE, "BTC", 1000, lo, 0, 0, T0));
    EXPECT_REJ_FIGS(trade_fee(f, "A", HOUSE, "BTC", 1000, lo - 1, 0, 0, T0), CMP_RULE_PRICE_BAND,
                    lo, PRICE, lo - 1);
    /* the case: one satoshi at 1 VND per BTC */
    EXPECT_REJ_FIGS(trade_fee(f, HOUSE, "A", "BTC", 1, 1, 0, 0, T0), CMP_RULE_PRICE_BAND, lo, PRICE,
                    1);
    /* the band is checked right after the listing and halt checks, before trading hours and
     * the parties: an unknown buyer at a price outside it hears of the price */
    EXPECT_REJ(trade_fee(f, "NOBODY", HOUSE, "BTC", 1000, hi + 1, 0, 0, T0), CMP_RULE_PRICE_BAND);
    EXPECT_REJ(trade_fee(f, "NOBODY", HOUSE, "BTC", 1000, hi, 0, 0, T0), CMP_RULE_ACCOUNT_UNKNOWN);
    /* a width that does not divide evenly is rounded towards the reference: 1% of
     * 1,000,000,099 is 10,000,000.99, so the edges are 10,000,000 away */
    EXPECT_OK(set_param(f, "price.band_pct", 1, T0));
    EXPECT_OK(set_param(f, "asset.ETH.ref_price_vnd", 1000000099, T0));
    EXPECT_OK(trade_fee(f, "A", HOUSE, "ETH", 1000, 1010000099, 0, 0, T0));
    EXPECT_REJ_FIGS(trade_fee(f, "A", HOUSE, "ETH", 1000, 1010000100, 0, 0, T0),
                    CMP_RULE_PRICE_BAND, 1010000099, 1000000099, 1010000100);
    EXPECT_OK(trade_fee(f, "A", HOUSE, "ETH", 1000, 990000099, 0, 0, T0));
    EXPECT_REJ_FIGS(trade_fee(f, "A", HOUSE, "ETH", 1000, 990000098, 0, 0, T0), CMP_RULE_PRICE_BAND,
                    990000099, 1000000099, 990000098);
    /* the range of price.band_pct: 1..100 */
    EXPECT_REJ(set_param(f, "price.band_pct", 0, T0), CMP_RULE_DIRECTIVE_INVALID);
    EXPECT_REJ(set_param(f, "price.band_pct", 101, T0), CMP_RULE_DIRECTIVE_INVALID);
}

void
test_price_band_follows_directive(void **state)
{
    struct fx *f = *state;
    struct ledger_tx tx;

    fx_init(f, NULL);
    funded(f, "A", 3, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 1000 * M, 0, T0);
    /* inside the old band, outside the new: accepted before the directive, rejected after */
    EXPECT_OK(trade_fee(f, "A", HOUSE, "BTC", 1000, PRICE + PRICE / 10, 0, 0, T0));
    EXPECT_OK(set_param(f, "asset.BTC.ref_price_vnd", 2 * PRICE, T0 + 1));
    EXPECT_REJ_FIGS(trade_fee(f, "A", HOUSE, "BTC", 1000, PRICE + PRICE / 10, 0, 0, T0 + 2),
                    CMP_RULE_PRICE_BAND, 2 * PRICE - 2 * PRICE / 10, 2 * PRICE, PRICE + PRICE / 10);
    EXPECT_OK(trade_fee(f, "A", HOUSE, "BTC", 1000, 2 * PRICE + 2 * PRICE / 10, 0, 0, T0 + 2));
    /* the other asset keeps its reference */
    EXPECT_OK(trade_fee(f, "A", HOUSE, "ETH", 1000, PRICE, 0, 0, T0 + 2));
    /* the trade's value for the limits is at the reference price: 1,000 units are worth 2,000
     * VND now whatever the trade's price */
    mk_trade(&tx, "T-v", "A", HOUSE, "BTC", 1000, 2 * PRICE - 2 * PRICE / 10, T0 + 2);
    assert_int_equal(check(f, &tx)->value_vnd, 2000);
}

void
test_price_stale(void **state)
{
    struct fx *f = *state;
    const int64_t age = 3600 * 1000;

    fx_init(f, "\"price.max_age_s\": 3600");
    funded(f, "A", 3, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 1000 * M, 0, T0);
    /* the genesis prices were set at the genesis, weeks ago */
    EXPECT_REJ_FIGS(trade_fee(f, "A", HOUSE, "BTC", 1000, PRICE, 0, 0, T0), CMP_RULE_PRICE_STALE,
                    age, T0 - GENESIS_MS, 0);
    /* a set_param counts from its transaction's timestamp: exactly max_age old passes, one
     * millisecond older is rejected */
    EXPECT_OK(set_param(f, "asset.BTC.ref_price_vnd", PRICE, T0));
    EXPECT_OK(trade_fee(f, "A", HOUSE, "BTC", 1000, PRICE, 0, 0, T0 + age));
    EXPECT_REJ_FIGS(trade_fee(f, "A", HOUSE, "BTC", 1000, PRICE, 0, 0, T0 + age + 1),
                    CMP_RULE_PRICE_STALE, age, age + 1, 0);
    /* per asset: ETH was not refreshed */
    EXPECT_REJ(trade_fee(f, "A", HOUSE, "ETH", 1000, PRICE, 0, 0, T0 + 1), CMP_RULE_PRICE_STALE);
    /* the band comes first: a stale price outside the band is a band rejection */
    EXPECT_REJ(trade_fee(f, "A", HOUSE, "ETH", 1000, 2 * PRICE, 0, 0, T0 + 1), CMP_RULE_PRICE_BAND);
    /* 0 turns the rule off */
    EXPECT_OK(set_param(f, "price.max_age_s", 0, T0 + 1));
    EXPECT_OK(trade_fee(f, "A", HOUSE, "ETH", 1000, PRICE, 0, 0, T0 + 2));
    EXPECT_OK(trade_fee(f, "A", HOUSE, "BTC", 1000, PRICE, 0, 0, T0 + age + 1));
}
