/* Unit tests of the time rules of trades: time.executed_at at each of its edges, and
 * trading.hours judged on executed_at (not on the transaction's timestamp) around the opening
 * and closing minute in UTC+7.
 */
#include "tests/unit/test_common.h"
#include "tests/unit/test_compliance.h"

/* A BTC trade of 1,000 VND from HOUSE to `buyer`, stamped `ts`, executed at `at`. */
static const struct cmp_result *
trade_at(struct fx *f, const char *buyer, int64_t ts, int64_t at)
{
    struct ledger_tx tx;

    mk_trade(&tx, next_id(f, "t"), buyer, HOUSE, "BTC", 1000, PRICE, ts);
    tx.u.trade.executed_at = at;
    return run(f, &tx);
}

void
test_executed_at(void **state)
{
    struct fx *f = *state;
    int64_t ts = T0 + HOUR_MS, skew = 60000, age = 60000;

    fx_init(f, NULL); /* the defaults: time.max_skew_ms and time.max_trade_age_ms 60000 */
    funded_retail(f, "A", 50 * M, T0);
    EXPECT_OK(trade_at(f, "A", ts, ts));
    EXPECT_OK(trade_at(f, "A", ts, ts + skew));
    EXPECT_REJ_FIGS(trade_at(f, "A", ts, ts + skew + 1), CMP_RULE_TIME_EXECUTED_AT, ts + skew, 0,
                    ts + skew + 1);
    EXPECT_OK(trade_at(f, "A", ts, ts - age));
    EXPECT_REJ_FIGS(trade_at(f, "A", ts, ts - age - 1), CMP_RULE_TIME_EXECUTED_AT, ts - age, 0,
                    ts - age - 1);
    /* a rejected trade moved nothing: three trades of 1,000 base units went through */
    assert_true(balance(f, "A", 1) == 3000);
}

void
test_executed_at_params(void **state)
{
    struct fx *f = *state;
    int64_t ts = T0 + HOUR_MS;

    fx_init(f, "\"time.max_skew_ms\": 2000, \"time.max_trade_age_ms\": 500");
    funded_retail(f, "A", 50 * M, T0);
    EXPECT_OK(trade_at(f, "A", ts, ts + 2000));
    EXPECT_REJ(trade_at(f, "A", ts, ts + 2001), CMP_RULE_TIME_EXECUTED_AT);
    EXPECT_OK(trade_at(f, "A", ts, ts - 500));
    EXPECT_REJ(trade_at(f, "A", ts, ts - 501), CMP_RULE_TIME_EXECUTED_AT);
    /* zero: executed_at must equal the timestamp */
    fx_release(f);
    fx_init(f, "\"time.max_skew_ms\": 0, \"time.max_trade_age_ms\": 0");
    funded_retail(f, "A", 50 * M, T0);
    EXPECT_OK(trade_at(f, "A", ts, ts));
    EXPECT_REJ(trade_at(f, "A", ts, ts + 1), CMP_RULE_TIME_EXECUTED_AT);
    EXPECT_REJ(trade_at(f, "A", ts, ts - 1), CMP_RULE_TIME_EXECUTED_AT);
}

/* time.executed_at comes before trading.hours: an executed_at out of its window is reported as
 * such even outside trading hours. */
void
test_executed_at_before_hours(void **state)
{
    struct fx *f = *state;
    int64_t day = local_ms(2025, 10, 1, 0, 0, 0, 0);

    fx_init(f, "\"trading.open_min\": 540, \"trading.close_min\": 1020");
    funded_retail(f, "A", 50 * M, day);
    EXPECT_REJ(trade_at(f, "A", day + 20 * HOUR_MS, day + 20 * HOUR_MS + 60001),
               CMP_RULE_TIME_EXECUTED_AT);
}

void
test_trading_hours_executed_at(void **state)
{
    struct fx *f = *state;
    int64_t open = local_ms(2025, 10, 1, 9, 0, 0, 0), close = local_ms(2025, 10, 1, 17, 0, 0, 0);

    fx_init(f, "\"trading.open_min\": 540, \"trading.close_min\": 1020");
    funded_retail(f, "A", 50 * M, open - HOUR_MS);
    /* executed 1 ms before 09:00 local, recorded at 09:00:30: outside the hours */
    EXPECT_REJ_FIGS(trade_at(f, "A", open + 30000, open - 1), CMP_RULE_TRADING_HOURS, 1020, 539, 0);
    /* executed at 09:00:00.000, recorded 30 s later */
    EXPECT_OK(trade_at(f, "A", open + 30000, open));
    /* executed at 09:00, recorded at 08:59:30: the transaction's time does not decide */
    EXPECT_OK(trade_at(f, "A", open - 30000, open));
    /* executed at 16:59:59.999, recorded after the close: inside the hours */
    EXPECT_OK(trade_at(f, "A", close + 30000, close - 1));
    /* executed at 17:00:00.000, recorded at 16:59:30: outside */
    EXPECT_REJ_FIGS(trade_at(f, "A", close - 30000, close), CMP_RULE_TRADING_HOURS, 1020, 1020, 0);
    EXPECT_REJ(trade_at(f, "A", close + 30000, close), CMP_RULE_TRADING_HOURS);
}
