/* The limit.* rules: open participants, per trade, daily and monthly per account (by KYC tier
 * and investor class), exchange-wide daily and total, and holdings; and the exchange-wide
 * counters they read. Calendar periods are local days and months in the licence's time zone.
 */
#include "compliance/internal.h"

#include "ledger/amount.h"
#include "util/time.h"

/* Open client accounts: the house account is not a participant, so it is left out of the count
 * as well as exempt from the limit (else the limit would depend on the order of opening). */
int64_t
cmp_limits_participants(const struct cmp_engine *e)
{
    const struct ledger_account *h;
    int64_t n = (int64_t)ledger_state_count_active(e->st);

    if (e->params.house_account[0]) {
        h = ledger_state_get(e->st, e->params.house_account);
        if (h && h->status == LEDGER_ACCOUNT_ACTIVE && n > 0)
            n--;
    }
    return n;
}

int
cmp_limits_check_participants(const struct cmp_engine *e, const char *id, struct cmp_result *res)
{
    int64_t max = e->params.v[CMP_P_PARTICIPANTS_MAX];
    int64_t n = cmp_limits_participants(e);

    if (!cmp_engine_is_house(e, id) && n + 1 > max)
        return cmp_engine_reject(res, CMP_RULE_LIMIT_PARTICIPANTS, max, n, 1,
                                 "too many open accounts"),
               1;
    return 0;
}

/* Per-account volume limit checks for one party of a trade. */
static int
check_party_limit(const struct cmp_engine *e, const struct ledger_account *a, int64_t now,
                  int64_t notional, int which, struct cmp_result *res)
{
    const struct cmp_usage *u = cmp_engine_usage_of(a);
    int64_t limit, used;

    if (cmp_engine_is_house(e, a->id))
        return 0;
    switch (which) {
    case CMP_RULE_LIMIT_PER_TRADE:
        limit =
            cmp_params_tier_limit(&e->params, CMP_P_PER_TRADE_T1, a->kyc_tier, a->investor_class);
        if (notional > limit)
            return cmp_engine_reject(res, which, limit, 0, notional, a->id), 1;
        return 0;
    case CMP_RULE_LIMIT_DAILY:
        limit = cmp_params_tier_limit(&e->params, CMP_P_DAILY_T1, a->kyc_tier, a->investor_class);
        used = cmp_usage_period_used(u->day, u->day_vnd,
                                     time_local_day(now, cmp_engine_offset_min(e)));
        break;
    default:
        limit = cmp_params_tier_limit(&e->params, CMP_P_MONTHLY_T1, a->kyc_tier, a->investor_class);
        used = cmp_usage_period_used(u->month, u->month_vnd,
                                     time_local_month(now, cmp_engine_offset_min(e)));
        break;
    }
    if (notional > limit || used > limit - notional)
        return cmp_engine_reject(res, which, limit, used, notional, a->id), 1;
    return 0;
}

int
cmp_limits_check_trade(const struct cmp_engine *e, const struct ledger_account *buyer,
                       const struct ledger_account *seller, int64_t now, int64_t notional,
                       struct cmp_result *res)
{
    static const int limit_rules[] = {CMP_RULE_LIMIT_PER_TRADE, CMP_RULE_LIMIT_DAILY,
                                      CMP_RULE_LIMIT_MONTHLY};
    int64_t limit, used;

    for (size_t r = 0; r < SBX_ARRAY_LEN(limit_rules); r++) {
        if (check_party_limit(e, buyer, now, notional, limit_rules[r], res) ||
            check_party_limit(e, seller, now, notional, limit_rules[r], res))
            return 1;
    }
    limit = e->params.v[CMP_P_EXCHANGE_DAILY];
    used = cmp_usage_period_used(e->ex_day, e->ex_day_vnd,
                                 time_local_day(now, cmp_engine_offset_min(e)));
    if (notional > limit || used > limit - notional)
        return cmp_engine_reject(res, CMP_RULE_LIMIT_EXCHANGE_DAILY, limit, used, notional, NULL),
               1;
    limit = e->params.v[CMP_P_EXCHANGE_TOTAL];
    if (notional > limit || e->ex_total_vnd > limit - notional)
        return cmp_engine_reject(res, CMP_RULE_LIMIT_EXCHANGE_TOTAL, limit, e->ex_total_vnd,
                                 notional, NULL),
               1;
    return 0;
}

int
cmp_limits_check_holding(const struct cmp_engine *e, const struct ledger_account *a, int asset,
                         int64_t qty, struct cmp_result *res)
{
    int64_t limit, held, after;

    if (asset == 0 || cmp_engine_is_house(e, a->id))
        return 0;
    limit = cmp_params_tier_limit(&e->params, CMP_P_HOLDING_T1, a->kyc_tier, a->investor_class);
    if (cmp_engine_value_vnd(e, asset, a->balance[asset], &held) != SBX_OK ||
        ledger_add(a->balance[asset], qty, &after) != SBX_OK ||
        cmp_engine_value_vnd(e, asset, after, &after) != SBX_OK)
        return cmp_engine_reject(res, CMP_RULE_AMOUNT_OVERFLOW, 0, 0, 0, "holding value overflows"),
               1;
    if (after > limit)
        return cmp_engine_reject(res, CMP_RULE_LIMIT_HOLDING, limit, held, after - held, a->id), 1;
    return 0;
}

void
cmp_limits_record_exchange(struct cmp_engine *e, int64_t now, int64_t notional)
{
    cmp_usage_add_period(&e->ex_day, &e->ex_day_vnd, time_local_day(now, cmp_engine_offset_min(e)),
                         notional);
    if (__builtin_add_overflow(e->ex_total_vnd, notional, &e->ex_total_vnd))
        e->ex_total_vnd = INT64_MAX;
}
