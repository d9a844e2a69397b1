/* Money movements: deposits, withdrawals and trades. Evaluation runs their checks in the
 * documented order (ids, halts, listing, reference price (prices.c), execution time, trading
 * hours, parties, sanctions and screening (a screening result required for crypto, its score
 * below the block level), value, Travel Rule, cooling-off, limits, dormancy, balances), calling
 * on the rule families of limits.c and aml.c; apply moves the balances and counts the movement
 * in the usage records.
 */
#include "compliance/internal.h"

#include <string.h>

#include "ledger/amount.h"
#include "util/time.h"

static const char *const fiat_codes[] = {"USD", "EUR", "JPY", "CNY", "KRW", "SGD", "THB", "GBP",
                                         "AUD", "HKD", "TWD", "CHF", "CAD", "MYR", "IDR", "PHP"};

static int
is_fiat_code(const char *s)
{
    for (size_t i = 0; i < SBX_ARRAY_LEN(fiat_codes); i++)
        if (strcmp(fiat_codes[i], s) == 0)
            return 1;
    return 0;
}

/* The account checks shared by every movement: exists, active, not frozen. */
static int
check_party(const struct ledger_account *a, const char *id, struct cmp_result *res)
{
    if (a == NULL)
        return cmp_engine_reject(res, CMP_RULE_ACCOUNT_UNKNOWN, 0, 0, 0, id), 1;
    if (a->status != LEDGER_ACCOUNT_ACTIVE)
        return cmp_engine_reject(res, CMP_RULE_ACCOUNT_CLOSED, 0, 0, 0, id), 1;
    if (a->frozen)
        return cmp_engine_reject(res, CMP_RULE_ACCOUNT_FROZEN, 0, 0, 0, id), 1;
    return 0;
}

/* ------------------------------------------------------------------ deposits and withdrawals */

int
cmp_movements_eval_transfer(const struct cmp_engine *e, const struct ledger_tx *tx,
                            const struct cmp_block_ctx *ctx, struct cmp_result *res)
{
    const struct ledger_transfer *t = &tx->u.transfer;
    const struct ledger_account *a;
    int deposit = tx->type == LEDGER_TX_DEPOSIT;
    int asset, seen;
    int64_t value, now = tx->timestamp;

    (void)ctx;
    seen = cmp_persist_id_seen(e, CMP_ID_TRANSFER, t->transfer_id);
    if (seen < 0)
        return SBX_EIO;
    if (seen)
        return cmp_engine_reject(res, CMP_RULE_ID_DUPLICATE, 0, 0, 0, t->transfer_id);
    a = ledger_state_get(e->st, t->account);
    if (check_party(a, t->account, res))
        return SBX_OK;
    asset = ledger_state_asset_index(e->st, t->asset);
    if (asset < 0)
        return cmp_engine_reject(
            res, is_fiat_code(t->asset) ? CMP_RULE_SETTLEMENT_CURRENCY : CMP_RULE_ASSET_UNLISTED, 0,
            0, 0, t->asset);
    res->asset = asset;
    if (cmp_engine_is_sanctioned(e, a->id, asset ? t->reference : NULL))
        return cmp_engine_reject(res, CMP_RULE_AML_SANCTIONED, 0, 0, 0,
                                 "account or address listed");
    if (asset != 0 && !t->has_screening && e->params.v[CMP_P_SCREENING_REQUIRED])
        return cmp_engine_reject(res, CMP_RULE_SCREENING_MISSING, 0, 0, 0,
                                 "a crypto transfer needs a screening result");
    if (t->has_screening && t->screening.score >= e->params.v[CMP_P_SCREENING_BLOCK])
        return cmp_engine_reject(res, CMP_RULE_AML_SCREENING, e->params.v[CMP_P_SCREENING_BLOCK],
                                 t->screening.score, t->screening.score, "risk score too high");
    if (cmp_engine_value_vnd(e, asset, t->amount, &value) != SBX_OK)
        return cmp_engine_reject(res, CMP_RULE_AMOUNT_OVERFLOW, 0, 0, 0, "value overflows");
    res->value_vnd = value;
    if (asset != 0 && cmp_aml_check_travel_rule(e, a, t, now, value, res))
        return SBX_OK;
    if (cmp_aml_check_dormant(e, a, now, value, res))
        return SBX_OK;
    if (deposit) {
        int64_t after;

        if (cmp_limits_check_holding(e, a, asset, t->amount, res))
            return SBX_OK;
        if (ledger_add(a->balance[asset], t->amount, &after) != SBX_OK)
            return cmp_engine_reject(res, CMP_RULE_AMOUNT_OVERFLOW, 0, 0, 0, "balance overflows");
    } else if (a->balance[asset] < t->amount) {
        return cmp_engine_reject(res, CMP_RULE_BALANCE_INSUFFICIENT, a->balance[asset], 0,
                                 t->amount, a->id);
    }
    return SBX_OK;
}

int
cmp_movements_apply_transfer(struct cmp_engine *e, const struct ledger_tx *tx,
                             const struct cmp_result *res)
{
    const struct ledger_transfer *t = &tx->u.transfer;
    struct ledger_account *a = ledger_state_get_mut(e->st, t->account);
    struct cmp_usage *u;
    int rc;

    if (a == NULL)
        return SBX_EINTERNAL;
    if (tx->type == LEDGER_TX_DEPOSIT)
        rc = ledger_state_credit(a, res->asset, t->amount);
    else
        rc = ledger_state_debit(a, res->asset, t->amount);
    if (rc)
        return SBX_EINTERNAL; /* evaluate said it fits */
    rc = cmp_usage_record_movement(e, a, tx->timestamp, res->value_vnd, 0);
    if (rc || cmp_engine_is_house(e, a->id))
        return rc;
    u = cmp_usage_mut(e, a);
    if (u == NULL)
        return SBX_ENOMEM;
    return cmp_aml_record_transfer(e, u, tx, res);
}

/* ------------------------------------------------------------------ trades */

/* time.executed_at: the trade was executed no later than its transaction's timestamp plus
 * time.max_skew_ms and no earlier than time.max_trade_age_ms before it (both edges valid).
 * Times are below the year 2200 and parameters at most a day, so nothing overflows. */
static int
check_executed_at(const struct cmp_engine *e, const struct ledger_tx *tx, struct cmp_result *res)
{
    int64_t at = tx->u.trade.executed_at;
    int64_t latest = tx->timestamp + e->params.v[CMP_P_MAX_SKEW_MS];
    int64_t earliest = tx->timestamp - e->params.v[CMP_P_MAX_TRADE_AGE_MS];

    if (at > latest)
        return cmp_engine_reject(res, CMP_RULE_TIME_EXECUTED_AT, latest, 0, at,
                                 "executed_at is after the transaction's time"),
               1;
    if (at < earliest)
        return cmp_engine_reject(res, CMP_RULE_TIME_EXECUTED_AT, earliest, 0, at,
                                 "executed_at is older than time.max_trade_age_ms"),
               1;
    return 0;
}

int
cmp_movements_eval_trade(const struct cmp_engine *e, const struct ledger_tx *tx,
                         const struct cmp_block_ctx *ctx, struct cmp_result *res)
{
    const struct ledger_trade *t = &tx->u.trade;
    const struct ledger_account *b, *s;
    int64_t now = tx->timestamp, notional, value, cost;
    int asset, minute, seen;

    (void)ctx;
    seen = cmp_persist_id_seen(e, CMP_ID_TRADE, t->trade_id);
    if (seen < 0)
        return SBX_EIO;
    if (seen)
        return cmp_engine_reject(res, CMP_RULE_ID_DUPLICATE, 0, 0, 0, t->trade_id);
    if (e->market_halted)
        return cmp_engine_reject(res, CMP_RULE_MARKET_HALTED, 0, 0, 0, "trading is halted");
    asset = ledger_state_asset_index(e->st, t->asset);
    if (asset == 0 || (asset < 0 && is_fiat_code(t->asset)))
        return cmp_engine_reject(res, CMP_RULE_SETTLEMENT_CURRENCY, 0, 0, 0,
                                 "trades settle crypto for VND");
    if (asset < 0)
        return cmp_engine_reject(res, CMP_RULE_ASSET_UNLISTED, 0, 0, 0, t->asset);
    res->asset = asset;
    if (cmp_engine_asset_halted(e, asset))
        return cmp_engine_reject(res, CMP_RULE_ASSET_HALTED, 0, 0, 0, t->asset);
    if (cmp_prices_check_trade(e, asset, t->price, now, res))
        return SBX_OK;
    if (check_executed_at(e, tx, res))
        return SBX_OK;
    minute = time_local_minute_of_day(t->executed_at, cmp_engine_offset_min(e));
    if (minute < e->params.v[CMP_P_TRADING_OPEN_MIN] ||
        minute >= e->params.v[CMP_P_TRADING_CLOSE_MIN])
        return cmp_engine_reject(res, CMP_RULE_TRADING_HOURS, e->params.v[CMP_P_TRADING_CLOSE_MIN],
                                 minute, 0, "outside trading hours");
    b = ledger_state_get(e->st, t->buyer);
    if (check_party(b, t->buyer, res))
        return SBX_OK;
    s = ledger_state_get(e->st, t->seller);
    if (check_party(s, t->seller, res))
        return SBX_OK;
    if (cmp_engine_is_sanctioned(e, b->id, NULL) || cmp_engine_is_sanctioned(e, s->id, NULL))
        return cmp_engine_reject(res, CMP_RULE_AML_SANCTIONED, 0, 0, 0, "a party is listed");
    for (int i = 0; i < 2; i++) {
        const struct ledger_account *a = i ? s : b;
        int64_t from = a->opened_ms + e->params.v[CMP_P_COOLING_OFF_S] * 1000;

        if (!cmp_engine_is_house(e, a->id) && now < from)
            return cmp_engine_reject(res, CMP_RULE_KYC_COOLING_OFF, from, now, 0, a->id);
    }
    /* the money that moves is at the trade's price; limits and alerts count the value at the
     * reference price, which the operator does not set */
    if (ledger_notional(t->quantity, t->price, e->genesis.assets[asset].decimals, &notional) ||
        ledger_add(notional, t->fee_buyer, &cost) ||
        cmp_engine_value_vnd(e, asset, t->quantity, &value))
        return cmp_engine_reject(res, CMP_RULE_AMOUNT_OVERFLOW, 0, 0, 0, "notional overflows");
    res->value_vnd = value;
    if (cmp_limits_check_trade(e, b, s, now, value, res))
        return SBX_OK;
    if (cmp_limits_check_holding(e, b, asset, t->quantity, res))
        return SBX_OK;
    if (cmp_aml_check_dormant(e, b, now, value, res) ||
        cmp_aml_check_dormant(e, s, now, value, res))
        return SBX_OK;
    if (b->balance[0] < cost)
        return cmp_engine_reject(res, CMP_RULE_BALANCE_INSUFFICIENT, b->balance[0], 0, cost, b->id);
    if (s->balance[asset] < t->quantity)
        return cmp_engine_reject(res, CMP_RULE_BALANCE_INSUFFICIENT, s->balance[asset], 0,
                                 t->quantity, s->id);
    {
        /* a self-trade pays the buyer's side first (apply's order) */
        int64_t avail = s->balance[0] - (s == b ? cost : 0);

        if (t->fee_seller > notional && avail < t->fee_seller - notional)
            return cmp_engine_reject(res, CMP_RULE_BALANCE_INSUFFICIENT, avail, 0,
                                     t->fee_seller - notional, s->id);
    }
    {
        int64_t after;

        if (ledger_add(b->balance[asset], t->quantity, &after) ||
            ledger_add(s->balance[0], notional, &after))
            return cmp_engine_reject(res, CMP_RULE_AMOUNT_OVERFLOW, 0, 0, 0, "balance overflows");
    }
    return SBX_OK;
}

int
cmp_movements_apply_trade(struct cmp_engine *e, const struct ledger_tx *tx,
                          const struct cmp_result *res)
{
    const struct ledger_trade *t = &tx->u.trade;
    struct ledger_account *b = ledger_state_get_mut(e->st, t->buyer);
    struct ledger_account *s = ledger_state_get_mut(e->st, t->seller);
    struct ledger_account *house = NULL;
    int64_t notional, value = res->value_vnd, now = tx->timestamp, fees;
    int asset = res->asset, rc;

    if (b == NULL || s == NULL ||
        ledger_notional(t->quantity, t->price, e->genesis.assets[asset].decimals, &notional))
        return SBX_EINTERNAL; /* evaluate said it fits */
    /* buyer pays notional + fee; seller delivers the asset and receives notional - fee */
    rc = ledger_state_debit(b, 0, notional);
    rc = rc ? rc : ledger_state_debit(b, 0, t->fee_buyer);
    rc = rc ? rc : ledger_state_debit(s, asset, t->quantity);
    rc = rc ? rc : ledger_state_credit(b, asset, t->quantity);
    rc = rc ? rc : ledger_state_credit(s, 0, notional);
    rc = rc ? rc : ledger_state_debit(s, 0, t->fee_seller);
    if (rc)
        return SBX_EINTERNAL;
    if (e->params.house_account[0] && ledger_add(t->fee_buyer, t->fee_seller, &fees) == SBX_OK &&
        fees > 0) {
        house = ledger_state_get_mut(e->st, e->params.house_account);
        if (house && ledger_state_credit(house, 0, fees) != SBX_OK)
            return SBX_EINTERNAL;
    }
    rc = cmp_usage_record_movement(e, b, now, value, 1);
    rc = rc ? rc : cmp_usage_record_movement(e, s, now, value, 1);
    if (rc)
        return rc;
    cmp_limits_record_exchange(e, now, value);
    e->global_dirty = 1; /* the exchange-wide counters */
    return SBX_OK;
}
