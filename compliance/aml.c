/* Anti-money-laundering rules: the Travel Rule (a complete originator/beneficiary record once a
 * client's crypto transfers, or the transfers of every account to or from the same external
 * address, reach the threshold within the window), the re-verification of a dormant account
 * (kyc.refresh_required), and the alerts an accepted movement raises (large value per
 * transaction and per local day of VND transfers, structuring, velocity, rapid in-and-out), with
 * the rolling windows they read. Screening and the sanctions list are checked where the
 * movements are (movements.c, accounts.c).
 */
#include "compliance/internal.h"

#include <string.h>

#include "ledger/amount.h"
#include "util/time.h"

/* ------------------------------------------------------------------ checks */

static int
travel_rule_complete(const struct ledger_transfer *t)
{
    static const uint8_t zero[32];

    return t->has_travel_rule && t->travel_rule.status == LEDGER_TRAVEL_ACCEPTED &&
           t->travel_rule.vasp[0] && memcmp(t->travel_rule.originator_hash, zero, 32) != 0 &&
           memcmp(t->travel_rule.beneficiary_hash, zero, 32) != 0;
}

int
cmp_aml_check_travel_rule(const struct cmp_engine *e, const struct ledger_account *a,
                          const struct ledger_transfer *t, int64_t now, int64_t value,
                          struct cmp_result *res)
{
    const struct cmp_usage *u = cmp_engine_usage_of(a);
    const struct cmp_window *addr = t->reference[0] ? cmp_addresses_window(e, t->reference) : NULL;
    int64_t window = e->params.v[CMP_P_TRAVEL_RULE_WINDOW_S] * 1000;
    int64_t threshold = e->params.v[CMP_P_TRAVEL_RULE_VND];
    int64_t prior = cmp_usage_window_sum(&u->xfer, now, window), by_address;

    /* linked by the account or by the address: the larger aggregate (a transfer of this account
     * to this address is in both, so they are not added) */
    if (addr && (by_address = cmp_usage_window_sum(addr, now, window)) > prior)
        prior = by_address;
    if ((prior > INT64_MAX - value || prior + value >= threshold) && !travel_rule_complete(t))
        return cmp_engine_reject(res, CMP_RULE_TRAVEL_RULE_MISSING, threshold, prior, value,
                                 "a complete, accepted Travel Rule record is required"),
               1;
    return 0;
}

/* kyc.refresh_required: a dormant account that moves >= the trigger on the day it comes back
 * must have been re-verified (an account_update) since it went dormant. */
int
cmp_aml_check_dormant(const struct cmp_engine *e, const struct ledger_account *a, int64_t now,
                      int64_t value, struct cmp_result *res)
{
    const struct cmp_usage *u = cmp_engine_usage_of(a);
    int64_t dormant_ms = e->params.v[CMP_P_DORMANT_DAYS] * CMP_DAY_MS;
    int64_t trigger = e->params.v[CMP_P_DORMANT_TRIGGER];
    int64_t ref = a->last_activity_ms ? a->last_activity_ms : a->opened_ms;
    int offset = cmp_engine_offset_min(e);
    int64_t moved = 0;

    if (cmp_engine_is_house(e, a->id))
        return 0;
    if (now - ref >= dormant_ms) {
        if (a->updated_ms >= ref + dormant_ms)
            return 0; /* re-verified while dormant */
    } else if (u->react_ms && time_local_day(u->react_ms, offset) == time_local_day(now, offset)) {
        if (a->updated_ms >= u->react_ms)
            return 0;
        moved = u->react_vnd;
    } else {
        return 0;
    }
    if (moved > INT64_MAX - value || moved + value >= trigger)
        return cmp_engine_reject(res, CMP_RULE_KYC_REFRESH_REQUIRED, trigger, moved, value,
                                 "dormant account must be re-verified"),
               1;
    return 0;
}

/* ------------------------------------------------------------------ alerts */

static void
add_alert(struct cmp_result *res, int kind, const char *account, int64_t now, int64_t value,
          const uint8_t txid[static 32])
{
    if (res->nalerts < CMP_MAX_ALERTS)
        cmp_alert_make(&res->alerts[res->nalerts++], kind, account, now, value, txid);
}

/* 1 if `value` is just under the large-value threshold (the structuring band). */
static int
near_threshold(const struct cmp_params *p, int64_t value)
{
    int64_t lv = p->v[CMP_P_LARGE_VALUE_VND], band_lo;

    return ledger_muldiv(lv, p->v[CMP_P_STRUCTURING_BAND], 100, &band_lo) == SBX_OK &&
           value >= band_lo && value < lv;
}

/* aml.large_value over an account's VND deposits and withdrawals of one local day: the day's sum
 * with `value`, when it reaches the threshold on a day that has not reached it before; else 0.
 * A transfer that reaches it on its own raises the per-transaction alert and fills the day. */
static int64_t
fiat_day_sum_due(const struct cmp_engine *e, const struct cmp_usage *u, int64_t now, int64_t value)
{
    int64_t day = time_local_day(now, cmp_engine_offset_min(e));
    int64_t sum = cmp_usage_period_used(u->fiat_day, u->fiat_day_vnd, day);

    if (u->fiat_alert_day == day)
        return 0;
    if (__builtin_add_overflow(sum, value, &sum))
        sum = INT64_MAX;
    return sum >= e->params.v[CMP_P_LARGE_VALUE_VND] ? sum : 0;
}

/* Alerts for one party's accepted movement of `value` VND. */
static void
party_alerts(const struct cmp_engine *e, const struct ledger_account *a, int64_t now, int64_t value,
             const uint8_t txid[static 32], struct cmp_result *res)
{
    const struct cmp_usage *u = cmp_engine_usage_of(a);
    const struct cmp_params *p = &e->params;

    if (cmp_engine_is_house(e, a->id))
        return;
    if (value >= p->v[CMP_P_LARGE_VALUE_VND])
        add_alert(res, CMP_ALERT_LARGE_VALUE, a->id, now, value, txid);
    if (near_threshold(p, value) &&
        cmp_usage_ring_count(&u->near, now, p->v[CMP_P_STRUCTURING_WINDOW_S] * 1000) + 1 >=
            p->v[CMP_P_STRUCTURING_N])
        add_alert(res, CMP_ALERT_STRUCTURING, a->id, now, value, txid);
    if (cmp_usage_ring_count(&u->vel, now, p->v[CMP_P_VELOCITY_WINDOW_S] * 1000) + 1 ==
        p->v[CMP_P_VELOCITY_N])
        add_alert(res, CMP_ALERT_VELOCITY, a->id, now, value, txid);
}

/* A withdrawal of most of a recent deposit of the same asset. */
static void
rapid_alert(const struct cmp_engine *e, const struct ledger_account *a,
            const struct ledger_transfer *t, int asset, int64_t now, int64_t value,
            const uint8_t txid[static 32], struct cmp_result *res)
{
    const struct cmp_usage *u = cmp_engine_usage_of(a);
    int64_t window = e->params.v[CMP_P_RAPID_WINDOW_S] * 1000, need;

    if (cmp_engine_is_house(e, a->id))
        return;
    for (int i = 0; i < u->dep.n; i++) {
        const struct cmp_event *d = &u->dep.ev[i];

        if (d->asset != asset || now - d->t >= window)
            continue;
        if (ledger_muldiv(d->v, e->params.v[CMP_P_RAPID_PCT], 100, &need) == SBX_OK &&
            t->amount >= need) {
            add_alert(res, CMP_ALERT_RAPID_IN_OUT, a->id, now, value, txid);
            return;
        }
    }
}

void
cmp_aml_alerts(const struct cmp_engine *e, const struct ledger_tx *tx,
               const uint8_t txid[static 32], struct cmp_result *res)
{
    if (tx->type == LEDGER_TX_TRADE) {
        party_alerts(e, ledger_state_get(e->st, tx->u.trade.buyer), tx->timestamp, res->value_vnd,
                     txid, res);
        party_alerts(e, ledger_state_get(e->st, tx->u.trade.seller), tx->timestamp, res->value_vnd,
                     txid, res);
    } else if (tx->type == LEDGER_TX_DEPOSIT || tx->type == LEDGER_TX_WITHDRAWAL) {
        const struct ledger_account *a = ledger_state_get(e->st, tx->u.transfer.account);
        int64_t day_sum;

        party_alerts(e, a, tx->timestamp, res->value_vnd, txid, res);
        if (res->asset == 0 && res->value_vnd < e->params.v[CMP_P_LARGE_VALUE_VND] &&
            !cmp_engine_is_house(e, a->id) &&
            (day_sum = fiat_day_sum_due(e, cmp_engine_usage_of(a), tx->timestamp, res->value_vnd)) >
                0)
            add_alert(res, CMP_ALERT_LARGE_VALUE, a->id, tx->timestamp, day_sum, txid);
        if (tx->type == LEDGER_TX_WITHDRAWAL)
            rapid_alert(e, a, &tx->u.transfer, res->asset, tx->timestamp, res->value_vnd, txid,
                        res);
    }
}

/* ------------------------------------------------------------------ recording */

void
cmp_aml_record_movement(const struct cmp_engine *e, const struct ledger_account *a,
                        struct cmp_usage *u, int64_t now, int64_t value)
{
    int64_t dormant_ms = e->params.v[CMP_P_DORMANT_DAYS] * CMP_DAY_MS;
    int64_t ref = a->last_activity_ms ? a->last_activity_ms : a->opened_ms;
    int offset = cmp_engine_offset_min(e);
    struct cmp_event dropped;
    int dropped_one;

    if (now - ref >= dormant_ms) {
        /* re-verified while dormant: nothing left to check on this day (check_dormant would
         * otherwise compare updated_ms with react_ms and reject the day's later movements) */
        u->react_ms = a->updated_ms >= ref + dormant_ms ? 0 : now;
        u->react_vnd = value;
    } else if (u->react_ms && time_local_day(u->react_ms, offset) == time_local_day(now, offset)) {
        if (__builtin_add_overflow(u->react_vnd, value, &u->react_vnd))
            u->react_vnd = INT64_MAX;
    }
    if (near_threshold(&e->params, value))
        cmp_usage_ring_push(&u->near, now, 0, 0, &dropped, &dropped_one);
    cmp_usage_ring_push(&u->vel, now, 0, 0, &dropped, &dropped_one);
}

int
cmp_aml_record_transfer(struct cmp_engine *e, struct cmp_usage *u, const struct ledger_tx *tx,
                        const struct cmp_result *res)
{
    int64_t window = e->params.v[CMP_P_TRAVEL_RULE_WINDOW_S] * 1000, now = tx->timestamp;
    const char *addr = tx->u.transfer.reference;
    struct cmp_event dropped;
    int dropped_one, rc = SBX_OK;

    if (res->asset != 0) {
        cmp_usage_window_push(&u->xfer, now, res->value_vnd, window);
        if (addr[0])
            rc = cmp_addresses_record(e, addr, now, res->value_vnd);
    } else {
        int64_t day = time_local_day(now, cmp_engine_offset_min(e));

        cmp_usage_add_period(&u->fiat_day, &u->fiat_day_vnd, day, res->value_vnd);
        if (cmp_usage_period_used(u->fiat_day, u->fiat_day_vnd, day) >=
            e->params.v[CMP_P_LARGE_VALUE_VND])
            u->fiat_alert_day = day;
    }
    if (tx->type == LEDGER_TX_DEPOSIT)
        cmp_usage_ring_push(&u->dep, now, tx->u.transfer.amount, res->asset, &dropped,
                            &dropped_one);
    return rc;
}
