/* The compliance engine; see engine.h and doc/compliance.md.
 *
 * Optimised for the sequencer's hot path: a trade costs two account lookups (usage counters
 * hang on the account), integer arithmetic with 128-bit intermediates, and a few ring scans of
 * at most CMP_RING_MAX entries. evaluate() is a pure function of (state, tx, block context);
 * apply() is the only writer. The order of checks below is the documented order.
 */
#include "compliance/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compliance/internal.h"
#include "ledger/amount.h"
#include "ledger/keys.h"
#include "ledger/store.h"
#include "util/map.h"
#include "util/time.h"

#define GLOBAL_VERSION 1
#define PARAMS_VERSION 1

struct attested {
    uint64_t height;
    int64_t time_ms;
};

struct cmp_engine {
    struct ledger_genesis genesis; /* licence_json not kept (NULL) */
    int64_t genesis_ms;
    struct ledger_state *st;
    struct cmp_params params;
    uint8_t licence_status;
    uint8_t market_halted;
    uint32_t halted_assets; /* bit i = asset i halted */
    int64_t ex_day, ex_day_vnd, ex_total_vnd;
    int64_t last_price[SBX_MAX_ASSETS];
    struct attested att[SBX_MAX_REGULATORS];
    struct map sanctions; /* "a" + account or "d" + address -> non-NULL */
    int global_dirty, params_dirty;
    /* pending records for the next collect */
    struct ledger_changes pending; /* sanctions, ids, alerts */
    struct ledger_account **usage_dirty;
    size_t nusage_dirty, usage_dirty_alloc;
    /* ids: in memory (no hook), or this block's and the previous block's (with a hook) */
    struct map ids_cur, ids_prev;
    int (*id_lookup)(void *ctx, const uint8_t *key, size_t klen);
    void *id_ctx;
    int (*hash_lookup)(void *ctx, uint64_t height, uint8_t hash[32]);
    void *hash_ctx;
};

static const char *const fiat_codes[] = {"USD", "EUR", "JPY", "CNY", "KRW", "SGD", "THB", "GBP",
                                         "AUD", "HKD", "TWD", "CHF", "CAD", "MYR", "IDR", "PHP"};

/* ------------------------------------------------------------------ lifecycle */

int
cmp_engine_new(struct cmp_engine **out, const struct ledger_tx *genesis, struct sbx_err *err)
{
    const struct ledger_genesis *g = &genesis->u.genesis;
    struct cmp_engine *e;
    int rc;

    *out = NULL;
    if (genesis->type != LEDGER_TX_GENESIS)
        return sbx_err_set(err, SBX_EINVAL, "genesis: not a genesis transaction");
    e = calloc(1, sizeof(*e));
    if (e == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    e->genesis = *g;
    e->genesis.licence_json = NULL;
    e->genesis_ms = genesis->timestamp;
    rc = cmp_params_from_json(&e->params, g->licence_json, g->licence_len, 1, g->assets, g->nassets,
                              err);
    if (rc)
        goto fail;
    e->st = ledger_state_new(g->assets, g->nassets, cmp_usage_free);
    if (e->st == NULL) {
        rc = sbx_err_set(err, SBX_ENOMEM, "out of memory");
        goto fail;
    }
    map_init(&e->sanctions);
    map_init(&e->ids_cur);
    map_init(&e->ids_prev);
    ledger_changes_init(&e->pending);
    e->licence_status = CMP_LICENCE_ACTIVE;
    e->global_dirty = 1;
    e->params_dirty = 1;
    *out = e;
    return SBX_OK;
fail:
    free(e);
    return rc;
}

void
cmp_engine_free(struct cmp_engine *e)
{
    if (e == NULL)
        return;
    ledger_state_free(e->st);
    map_release(&e->sanctions);
    map_release(&e->ids_cur);
    map_release(&e->ids_prev);
    ledger_changes_release(&e->pending);
    free(e->usage_dirty);
    free(e);
}

void
cmp_engine_set_id_lookup(struct cmp_engine *e, int (*fn)(void *, const uint8_t *, size_t),
                         void *ctx)
{
    e->id_lookup = fn;
    e->id_ctx = ctx;
}

void
cmp_engine_set_hash_lookup(struct cmp_engine *e, int (*fn)(void *, uint64_t, uint8_t[32]),
                           void *ctx)
{
    e->hash_lookup = fn;
    e->hash_ctx = ctx;
}

const struct cmp_params *
cmp_engine_params(const struct cmp_engine *e)
{
    return &e->params;
}

const struct ledger_state *
cmp_engine_state(const struct cmp_engine *e)
{
    return e->st;
}

int
cmp_engine_licence_status(const struct cmp_engine *e)
{
    return e->licence_status;
}

int
cmp_engine_market_halted(const struct cmp_engine *e)
{
    return e->market_halted;
}

int
cmp_engine_asset_halted(const struct cmp_engine *e, int asset)
{
    return asset >= 0 && asset < SBX_MAX_ASSETS && (e->halted_assets >> asset) & 1;
}

const struct ledger_genesis *
cmp_engine_genesis(const struct cmp_engine *e)
{
    return &e->genesis;
}

int64_t
cmp_engine_price(const struct cmp_engine *e, int asset)
{
    if (asset <= 0 || (size_t)asset >= e->genesis.nassets)
        return asset == 0 ? 1 : 0;
    return e->last_price[asset] ? e->last_price[asset] : e->params.ref_price[asset];
}

int
cmp_engine_is_regulator(const struct cmp_engine *e, const uint8_t key[static 32])
{
    for (size_t i = 0; i < e->genesis.nregulators; i++)
        if (memcmp(e->genesis.regulator_keys[i], key, 32) == 0)
            return 1;
    return 0;
}

static int
regulator_index(const struct cmp_engine *e, const uint8_t key[static 32])
{
    for (size_t i = 0; i < e->genesis.nregulators; i++)
        if (memcmp(e->genesis.regulator_keys[i], key, 32) == 0)
            return (int)i;
    return -1;
}

static size_t
sanction_key(char kind, const char *s, char out[static 2 + SBX_ADDRESS_MAX])
{
    size_t n = strnlen(s, SBX_ADDRESS_MAX);

    out[0] = kind;
    memcpy(out + 1, s, n);
    return 1 + n;
}

int
cmp_engine_is_sanctioned(const struct cmp_engine *e, const char *account, const char *address)
{
    char k[2 + SBX_ADDRESS_MAX];

    if (account && account[0] && map_get(&e->sanctions, k, sanction_key('a', account, k)))
        return 1;
    if (address && address[0] && map_get(&e->sanctions, k, sanction_key('d', address, k)))
        return 1;
    return 0;
}

/* ------------------------------------------------------------------ helpers */

static int
offset_min(const struct cmp_engine *e)
{
    return (int)e->params.v[CMP_P_UTC_OFFSET_MIN];
}

static const struct cmp_usage *
usage_of(const struct ledger_account *a)
{
    static const struct cmp_usage zero;

    return a->ext ? a->ext : &zero;
}

static int
is_house(const struct cmp_engine *e, const char *id)
{
    return e->params.house_account[0] && strcmp(e->params.house_account, id) == 0;
}

/* Open client accounts: the house account is not a participant, so it is left out of the count
 * as well as exempt from the limit (else the limit would depend on the order of opening). */
static int64_t
participants(const struct cmp_engine *e)
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

static int
reject(struct cmp_result *res, int rule, int64_t limit, int64_t used, int64_t requested,
       const char *what)
{
    res->verdict.status = LEDGER_VERDICT_REJECTED;
    res->verdict.rule = (uint16_t)rule;
    res->verdict.limit = limit;
    res->verdict.used = used;
    res->verdict.requested = requested;
    if (what)
        snprintf(res->message, sizeof(res->message), "%.40s: %.110s", cmp_rule_name(rule), what);
    return SBX_OK;
}

static int
is_fiat_code(const char *s)
{
    for (size_t i = 0; i < SBX_ARRAY_LEN(fiat_codes); i++)
        if (strcmp(fiat_codes[i], s) == 0)
            return 1;
    return 0;
}

static size_t
id_key(uint8_t kind, const char *id, uint8_t out[static 2 + SBX_ID_MAX])
{
    size_t n = strnlen(id, SBX_ID_MAX);

    out[0] = LEDGER_K_IDEM;
    out[1] = kind;
    memcpy(out + 2, id, n);
    return 2 + n;
}

/* 1 if the id was used before, 0 if not, < 0 on a lookup error. */
static int
id_seen(const struct cmp_engine *e, uint8_t kind, const char *id)
{
    uint8_t k[2 + SBX_ID_MAX];
    size_t n = id_key(kind, id, k);

    if (map_get(&e->ids_cur, k, n) || map_get(&e->ids_prev, k, n))
        return 1;
    if (e->id_lookup)
        return e->id_lookup(e->id_ctx, k, n);
    return 0;
}

/* VND value of `amount` base units of `asset` (VND itself: the amount). */
static int
value_vnd(const struct cmp_engine *e, int asset, int64_t amount, int64_t *out)
{
    if (asset == 0) {
        *out = amount;
        return SBX_OK;
    }
    return ledger_notional(amount, cmp_engine_price(e, asset), e->genesis.assets[asset].decimals,
                           out);
}

/* The account checks shared by every movement: exists, active, not frozen. */
static int
check_party(const struct ledger_account *a, const char *id, struct cmp_result *res)
{
    if (a == NULL)
        return reject(res, CMP_RULE_ACCOUNT_UNKNOWN, 0, 0, 0, id), 1;
    if (a->status != LEDGER_ACCOUNT_ACTIVE)
        return reject(res, CMP_RULE_ACCOUNT_CLOSED, 0, 0, 0, id), 1;
    if (a->frozen)
        return reject(res, CMP_RULE_ACCOUNT_FROZEN, 0, 0, 0, id), 1;
    return 0;
}

/* kyc.refresh_required: a dormant account that moves >= the trigger on the day it comes back
 * must have been re-verified (an account_update) since it went dormant. */
static int
check_dormant(const struct cmp_engine *e, const struct ledger_account *a, int64_t now,
              int64_t value, struct cmp_result *res)
{
    const struct cmp_usage *u = usage_of(a);
    int64_t dormant_ms = e->params.v[CMP_P_DORMANT_DAYS] * CMP_DAY_MS;
    int64_t trigger = e->params.v[CMP_P_DORMANT_TRIGGER];
    int64_t ref = a->last_activity_ms ? a->last_activity_ms : a->opened_ms;
    int64_t moved = 0;

    if (now - ref >= dormant_ms) {
        if (a->updated_ms >= ref + dormant_ms)
            return 0; /* re-verified while dormant */
    } else if (u->react_ms &&
               time_local_day(u->react_ms, offset_min(e)) == time_local_day(now, offset_min(e))) {
        if (a->updated_ms >= u->react_ms)
            return 0;
        moved = u->react_vnd;
    } else {
        return 0;
    }
    if (moved > INT64_MAX - value || moved + value >= trigger)
        return reject(res, CMP_RULE_KYC_REFRESH_REQUIRED, trigger, moved, value,
                      "dormant account must be re-verified"),
               1;
    return 0;
}

static int
travel_rule_complete(const struct ledger_transfer *t)
{
    static const uint8_t zero[32];

    return t->has_travel_rule && t->travel_rule.status == LEDGER_TRAVEL_ACCEPTED &&
           t->travel_rule.vasp[0] && memcmp(t->travel_rule.originator_hash, zero, 32) != 0 &&
           memcmp(t->travel_rule.beneficiary_hash, zero, 32) != 0;
}

static int
check_travel_rule(const struct cmp_engine *e, const struct ledger_account *a,
                  const struct ledger_transfer *t, int64_t now, int64_t value,
                  struct cmp_result *res)
{
    const struct cmp_usage *u = usage_of(a);
    int64_t window = e->params.v[CMP_P_TRAVEL_RULE_WINDOW_S] * 1000;
    int64_t threshold = e->params.v[CMP_P_TRAVEL_RULE_VND];
    int64_t prior = cmp_ring_sum(&u->xfer, now, window);

    if (u->xfer_over_until > now && __builtin_add_overflow(prior, u->xfer_over_vnd, &prior))
        prior = INT64_MAX;
    if ((prior > INT64_MAX - value || prior + value >= threshold) && !travel_rule_complete(t))
        return reject(res, CMP_RULE_TRAVEL_RULE_MISSING, threshold, prior, value,
                      "a complete, accepted Travel Rule record is required"),
               1;
    return 0;
}

/* limit.holding: value of the asset held after receiving `qty` more. */
static int
check_holding(const struct cmp_engine *e, const struct ledger_account *a, int asset, int64_t qty,
              struct cmp_result *res)
{
    int64_t limit, held, after;

    if (asset == 0 || is_house(e, a->id))
        return 0;
    limit = cmp_params_tier_limit(&e->params, CMP_P_HOLDING_T1, a->kyc_tier, a->investor_class);
    if (value_vnd(e, asset, a->balance[asset], &held) != SBX_OK ||
        ledger_add(a->balance[asset], qty, &after) != SBX_OK ||
        value_vnd(e, asset, after, &after) != SBX_OK)
        return reject(res, CMP_RULE_AMOUNT_OVERFLOW, 0, 0, 0, "holding value overflows"), 1;
    if (after > limit)
        return reject(res, CMP_RULE_LIMIT_HOLDING, limit, held, after - held, a->id), 1;
    return 0;
}

/* ------------------------------------------------------------------ evaluation by type */

static int
eval_account_open(const struct cmp_engine *e, const struct ledger_tx *tx, struct cmp_result *res)
{
    const struct ledger_account_open *o = &tx->u.account_open;
    int64_t max = e->params.v[CMP_P_PARTICIPANTS_MAX];
    int64_t n = participants(e);
    int seen;

    if (ledger_state_get(e->st, o->account) != NULL)
        return reject(res, CMP_RULE_ACCOUNT_DUPLICATE, 0, 0, 0, o->account);
    seen = id_seen(e, CMP_ID_ACCOUNT, o->account);
    if (seen < 0)
        return SBX_EIO;
    if (seen)
        return reject(res, CMP_RULE_ACCOUNT_DUPLICATE, 0, 0, 0, o->account);
    if (!is_house(e, o->account) && n + 1 > max)
        return reject(res, CMP_RULE_LIMIT_PARTICIPANTS, max, n, 1, "too many open accounts");
    if (cmp_engine_is_sanctioned(e, o->account, NULL))
        return reject(res, CMP_RULE_AML_SANCTIONED, 0, 0, 0, o->account);
    return SBX_OK;
}

static int
eval_account_update(const struct cmp_engine *e, const struct ledger_tx *tx, struct cmp_result *res)
{
    const struct ledger_account_update *up = &tx->u.account_update;
    const struct ledger_account *a = ledger_state_get(e->st, up->account);
    int64_t max = e->params.v[CMP_P_PARTICIPANTS_MAX];
    int64_t n = participants(e);

    if (a == NULL)
        return reject(res, CMP_RULE_ACCOUNT_UNKNOWN, 0, 0, 0, up->account);
    if (up->status == LEDGER_ACCOUNT_ACTIVE && a->status != LEDGER_ACCOUNT_ACTIVE &&
        !is_house(e, a->id) && n + 1 > max)
        return reject(res, CMP_RULE_LIMIT_PARTICIPANTS, max, n, 1, "too many open accounts");
    return SBX_OK;
}

static int
eval_transfer(const struct cmp_engine *e, const struct ledger_tx *tx, struct cmp_result *res)
{
    const struct ledger_transfer *t = &tx->u.transfer;
    const struct ledger_account *a;
    int deposit = tx->type == LEDGER_TX_DEPOSIT;
    int asset, house, seen;
    int64_t value, now = tx->timestamp;

    seen = id_seen(e, CMP_ID_TRANSFER, t->transfer_id);
    if (seen < 0)
        return SBX_EIO;
    if (seen)
        return reject(res, CMP_RULE_ID_DUPLICATE, 0, 0, 0, t->transfer_id);
    a = ledger_state_get(e->st, t->account);
    if (check_party(a, t->account, res))
        return SBX_OK;
    house = is_house(e, a->id);
    asset = ledger_state_asset_index(e->st, t->asset);
    if (asset < 0)
        return reject(
            res, is_fiat_code(t->asset) ? CMP_RULE_SETTLEMENT_CURRENCY : CMP_RULE_ASSET_UNLISTED, 0,
            0, 0, t->asset);
    res->asset = asset;
    if (cmp_engine_is_sanctioned(e, a->id, asset ? t->reference : NULL))
        return reject(res, CMP_RULE_AML_SANCTIONED, 0, 0, 0, "account or address listed");
    if (deposit && t->has_screening && t->screening.score >= e->params.v[CMP_P_SCREENING_BLOCK])
        return reject(res, CMP_RULE_AML_SCREENING, e->params.v[CMP_P_SCREENING_BLOCK],
                      t->screening.score, t->screening.score, "risk score too high");
    if (value_vnd(e, asset, t->amount, &value) != SBX_OK)
        return reject(res, CMP_RULE_AMOUNT_OVERFLOW, 0, 0, 0, "value overflows");
    res->value_vnd = value;
    if (asset != 0 && check_travel_rule(e, a, t, now, value, res))
        return SBX_OK;
    if (!house && check_dormant(e, a, now, value, res))
        return SBX_OK;
    if (deposit) {
        int64_t after;

        if (check_holding(e, a, asset, t->amount, res))
            return SBX_OK;
        if (ledger_add(a->balance[asset], t->amount, &after) != SBX_OK)
            return reject(res, CMP_RULE_AMOUNT_OVERFLOW, 0, 0, 0, "balance overflows");
    } else if (a->balance[asset] < t->amount) {
        return reject(res, CMP_RULE_BALANCE_INSUFFICIENT, a->balance[asset], 0, t->amount, a->id);
    }
    return SBX_OK;
}

/* Per-account volume limit checks for one party of a trade. */
static int
check_trade_limits(const struct cmp_engine *e, const struct ledger_account *a, int64_t now,
                   int64_t notional, int which, struct cmp_result *res)
{
    const struct cmp_usage *u = usage_of(a);
    int64_t limit, used;

    if (is_house(e, a->id))
        return 0;
    switch (which) {
    case CMP_RULE_LIMIT_PER_TRADE:
        limit =
            cmp_params_tier_limit(&e->params, CMP_P_PER_TRADE_T1, a->kyc_tier, a->investor_class);
        if (notional > limit)
            return reject(res, which, limit, 0, notional, a->id), 1;
        return 0;
    case CMP_RULE_LIMIT_DAILY:
        limit = cmp_params_tier_limit(&e->params, CMP_P_DAILY_T1, a->kyc_tier, a->investor_class);
        used = cmp_period_used(u->day, u->day_vnd, time_local_day(now, offset_min(e)));
        break;
    default:
        limit = cmp_params_tier_limit(&e->params, CMP_P_MONTHLY_T1, a->kyc_tier, a->investor_class);
        used = cmp_period_used(u->month, u->month_vnd, time_local_month(now, offset_min(e)));
        break;
    }
    if (notional > limit || used > limit - notional)
        return reject(res, which, limit, used, notional, a->id), 1;
    return 0;
}

static int
eval_trade(const struct cmp_engine *e, const struct ledger_tx *tx, struct cmp_result *res)
{
    const struct ledger_trade *t = &tx->u.trade;
    const struct ledger_account *b, *s;
    int64_t now = tx->timestamp, notional, cost, limit, used;
    int asset, minute, seen;
    static const int limit_rules[] = {CMP_RULE_LIMIT_PER_TRADE, CMP_RULE_LIMIT_DAILY,
                                      CMP_RULE_LIMIT_MONTHLY};

    seen = id_seen(e, CMP_ID_TRADE, t->trade_id);
    if (seen < 0)
        return SBX_EIO;
    if (seen)
        return reject(res, CMP_RULE_ID_DUPLICATE, 0, 0, 0, t->trade_id);
    if (e->market_halted)
        return reject(res, CMP_RULE_MARKET_HALTED, 0, 0, 0, "trading is halted");
    asset = ledger_state_asset_index(e->st, t->asset);
    if (asset == 0 || (asset < 0 && is_fiat_code(t->asset)))
        return reject(res, CMP_RULE_SETTLEMENT_CURRENCY, 0, 0, 0, "trades settle crypto for VND");
    if (asset < 0)
        return reject(res, CMP_RULE_ASSET_UNLISTED, 0, 0, 0, t->asset);
    res->asset = asset;
    if (cmp_engine_asset_halted(e, asset))
        return reject(res, CMP_RULE_ASSET_HALTED, 0, 0, 0, t->asset);
    minute = time_local_minute_of_day(now, offset_min(e));
    if (minute < e->params.v[CMP_P_TRADING_OPEN_MIN] ||
        minute >= e->params.v[CMP_P_TRADING_CLOSE_MIN])
        return reject(res, CMP_RULE_TRADING_HOURS, e->params.v[CMP_P_TRADING_CLOSE_MIN], minute, 0,
                      "outside trading hours");
    b = ledger_state_get(e->st, t->buyer);
    if (check_party(b, t->buyer, res))
        return SBX_OK;
    s = ledger_state_get(e->st, t->seller);
    if (check_party(s, t->seller, res))
        return SBX_OK;
    if (cmp_engine_is_sanctioned(e, b->id, NULL) || cmp_engine_is_sanctioned(e, s->id, NULL))
        return reject(res, CMP_RULE_AML_SANCTIONED, 0, 0, 0, "a party is listed");
    for (int i = 0; i < 2; i++) {
        const struct ledger_account *a = i ? s : b;
        int64_t from = a->opened_ms + e->params.v[CMP_P_COOLING_OFF_S] * 1000;

        if (!is_house(e, a->id) && now < from)
            return reject(res, CMP_RULE_KYC_COOLING_OFF, from, now, 0, a->id);
    }
    if (ledger_notional(t->quantity, t->price, e->genesis.assets[asset].decimals, &notional) ||
        ledger_add(notional, t->fee_buyer, &cost))
        return reject(res, CMP_RULE_AMOUNT_OVERFLOW, 0, 0, 0, "notional overflows");
    res->value_vnd = notional;
    for (size_t r = 0; r < SBX_ARRAY_LEN(limit_rules); r++) {
        if (check_trade_limits(e, b, now, notional, limit_rules[r], res) ||
            check_trade_limits(e, s, now, notional, limit_rules[r], res))
            return SBX_OK;
    }
    limit = e->params.v[CMP_P_EXCHANGE_DAILY];
    used = cmp_period_used(e->ex_day, e->ex_day_vnd, time_local_day(now, offset_min(e)));
    if (notional > limit || used > limit - notional)
        return reject(res, CMP_RULE_LIMIT_EXCHANGE_DAILY, limit, used, notional, NULL);
    limit = e->params.v[CMP_P_EXCHANGE_TOTAL];
    if (notional > limit || e->ex_total_vnd > limit - notional)
        return reject(res, CMP_RULE_LIMIT_EXCHANGE_TOTAL, limit, e->ex_total_vnd, notional, NULL);
    if (check_holding(e, b, asset, t->quantity, res))
        return SBX_OK;
    if ((!is_house(e, b->id) && check_dormant(e, b, now, notional, res)) ||
        (!is_house(e, s->id) && check_dormant(e, s, now, notional, res)))
        return SBX_OK;
    if (b->balance[0] < cost)
        return reject(res, CMP_RULE_BALANCE_INSUFFICIENT, b->balance[0], 0, cost, b->id);
    if (s->balance[asset] < t->quantity)
        return reject(res, CMP_RULE_BALANCE_INSUFFICIENT, s->balance[asset], 0, t->quantity, s->id);
    {
        /* a self-trade pays the buyer's side first (apply's order) */
        int64_t avail = s->balance[0] - (s == b ? cost : 0);

        if (t->fee_seller > notional && avail < t->fee_seller - notional)
            return reject(res, CMP_RULE_BALANCE_INSUFFICIENT, avail, 0, t->fee_seller - notional,
                          s->id);
    }
    {
        int64_t after;

        if (ledger_add(b->balance[asset], t->quantity, &after) ||
            ledger_add(s->balance[0], notional, &after))
            return reject(res, CMP_RULE_AMOUNT_OVERFLOW, 0, 0, 0, "balance overflows");
    }
    return SBX_OK;
}

static int
count_directive_signers(const struct cmp_engine *e, const struct ledger_tx *tx, int *count)
{
    const struct ledger_directive *d = &tx->u.directive;

    *count = 0;
    if (!cmp_engine_is_regulator(e, tx->signer))
        return 0;
    *count = 1;
    for (int i = 0; i < d->ncosig; i++) {
        if (!cmp_engine_is_regulator(e, d->cosig[i].pubkey))
            return 0;
        (*count)++; /* distinctness is checked with the signatures (ledger_tx_verify) */
    }
    return 1;
}

static int
eval_directive(const struct cmp_engine *e, const struct ledger_tx *tx, struct cmp_result *res)
{
    const struct ledger_directive *d = &tx->u.directive;
    struct cmp_params tmp;
    struct sbx_err err;
    int signers, asset;

    if (!count_directive_signers(e, tx, &signers))
        return reject(res, CMP_RULE_AUTH_SIGNER, 0, 0, 0, "a signer is not a regulator");
    if (signers < e->genesis.directive_quorum)
        return reject(res, CMP_RULE_DIRECTIVE_QUORUM, e->genesis.directive_quorum, signers, 0,
                      "not enough regulator signatures");
    switch (d->kind) {
    case LEDGER_DIR_HALT:
    case LEDGER_DIR_RESUME:
        if (d->asset[0]) {
            asset = ledger_state_asset_index(e->st, d->asset);
            if (asset <= 0)
                return reject(res, CMP_RULE_DIRECTIVE_INVALID, 0, 0, 0, "unknown asset");
        }
        break;
    case LEDGER_DIR_FREEZE:
    case LEDGER_DIR_UNFREEZE:
        if (ledger_state_get(e->st, d->account) == NULL)
            return reject(res, CMP_RULE_DIRECTIVE_INVALID, 0, 0, 0, "unknown account");
        break;
    case LEDGER_DIR_SET_PARAM:
        tmp = e->params;
        if (cmp_params_set(&tmp, d->name, d->value, e->genesis.assets, e->genesis.nassets, &err) !=
            SBX_OK)
            return reject(res, CMP_RULE_DIRECTIVE_INVALID, 0, 0, d->value, err.msg);
        break;
    case LEDGER_DIR_LICENCE_EXTEND:
        if (d->value <= e->params.v[CMP_P_VALID_FROM])
            return reject(res, CMP_RULE_DIRECTIVE_INVALID, e->params.v[CMP_P_VALID_FROM], 0,
                          d->value, "new end before the licence start");
        break;
    case LEDGER_DIR_LICENCE_SUSPEND:
        if (e->licence_status != CMP_LICENCE_ACTIVE)
            return reject(res, CMP_RULE_DIRECTIVE_INVALID, 0, 0, 0, "licence is not active");
        break;
    case LEDGER_DIR_LICENCE_WIND_DOWN:
        if (e->licence_status != CMP_LICENCE_ACTIVE && e->licence_status != CMP_LICENCE_SUSPENDED)
            return reject(res, CMP_RULE_DIRECTIVE_INVALID, 0, 0, 0,
                          "licence is neither active nor suspended");
        break;
    case LEDGER_DIR_LICENCE_REVOKE:
        if (e->licence_status == CMP_LICENCE_REVOKED)
            return reject(res, CMP_RULE_DIRECTIVE_INVALID, 0, 0, 0, "licence already revoked");
        break;
    case LEDGER_DIR_LICENCE_REINSTATE:
        if (e->licence_status != CMP_LICENCE_SUSPENDED)
            return reject(res, CMP_RULE_DIRECTIVE_INVALID, 0, 0, 0, "licence is not suspended");
        break;
    case LEDGER_DIR_SANCTION_ADD:
    case LEDGER_DIR_SANCTION_REMOVE: {
        int listed = cmp_engine_is_sanctioned(e, d->account, d->address);

        if (listed == (d->kind == LEDGER_DIR_SANCTION_ADD))
            return reject(res, CMP_RULE_DIRECTIVE_INVALID, 0, 0, 0,
                          listed ? "already listed" : "not listed");
        break;
    }
    default:
        return reject(res, CMP_RULE_DIRECTIVE_INVALID, 0, 0, 0, "unknown kind");
    }
    return SBX_OK;
}

static int
eval_attestation(const struct cmp_engine *e, const struct ledger_tx *tx,
                 const struct cmp_block_ctx *ctx, struct cmp_result *res)
{
    int i = regulator_index(e, tx->signer);

    if (i < 0)
        return reject(res, CMP_RULE_AUTH_SIGNER, 0, 0, 0, "not a regulator key");
    if (tx->u.attestation.height >= ctx->height || tx->u.attestation.height < e->att[i].height)
        return reject(res, CMP_RULE_ATTESTATION_INVALID, (int64_t)ctx->height,
                      (int64_t)e->att[i].height, (int64_t)tx->u.attestation.height,
                      "height must be below this block and not below the last attested");
    if (e->hash_lookup) {
        uint8_t h[32];

        if (e->hash_lookup(e->hash_ctx, tx->u.attestation.height, h) != 1 ||
            memcmp(h, tx->u.attestation.block_hash, 32) != 0)
            return reject(res, CMP_RULE_ATTESTATION_INVALID, 0, 0,
                          (int64_t)tx->u.attestation.height,
                          "block_hash is not the hash of the block at that height");
    }
    return SBX_OK;
}

/* Alerts for one party's accepted movement of `value` VND. */
static void
add_alert(struct cmp_result *res, int kind, const char *account, int64_t now, int64_t value,
          const uint8_t txid[static 32])
{
    if (res->nalerts < CMP_MAX_ALERTS)
        cmp_alert_make(&res->alerts[res->nalerts++], kind, account, now, value, txid);
}

static void
party_alerts(const struct cmp_engine *e, const struct ledger_account *a, int64_t now, int64_t value,
             const uint8_t txid[static 32], struct cmp_result *res)
{
    const struct cmp_usage *u = usage_of(a);
    const struct cmp_params *p = &e->params;
    int64_t lv = p->v[CMP_P_LARGE_VALUE_VND], band_lo;

    if (is_house(e, a->id))
        return;
    if (value >= lv)
        add_alert(res, CMP_ALERT_LARGE_VALUE, a->id, now, value, txid);
    if (ledger_muldiv(lv, p->v[CMP_P_STRUCTURING_BAND], 100, &band_lo) == SBX_OK &&
        value >= band_lo && value < lv &&
        cmp_ring_count(&u->near, now, p->v[CMP_P_STRUCTURING_WINDOW_S] * 1000) + 1 >=
            p->v[CMP_P_STRUCTURING_N])
        add_alert(res, CMP_ALERT_STRUCTURING, a->id, now, value, txid);
    if (cmp_ring_count(&u->vel, now, p->v[CMP_P_VELOCITY_WINDOW_S] * 1000) + 1 ==
        p->v[CMP_P_VELOCITY_N])
        add_alert(res, CMP_ALERT_VELOCITY, a->id, now, value, txid);
}

static void
rapid_alert(const struct cmp_engine *e, const struct ledger_account *a,
            const struct ledger_transfer *t, int asset, int64_t now, int64_t value,
            const uint8_t txid[static 32], struct cmp_result *res)
{
    const struct cmp_usage *u = usage_of(a);
    int64_t window = e->params.v[CMP_P_RAPID_WINDOW_S] * 1000, need;

    if (is_house(e, a->id))
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

int
cmp_evaluate(const struct cmp_engine *e, const struct ledger_tx *tx, const uint8_t txid[static 32],
             const struct cmp_block_ctx *ctx, struct cmp_result *res)
{
    int business = tx->type >= LEDGER_TX_ACCOUNT_OPEN && tx->type <= LEDGER_TX_TRADE;
    int rc = SBX_OK;

    memset(res, 0, sizeof(*res));
    res->asset = -1;
    res->verdict.status = LEDGER_VERDICT_ACCEPTED;
    res->verdict.param_version = e->params.version;

    if (business) {
        int64_t now = tx->timestamp;

        if (memcmp(tx->signer, e->genesis.operator_key, 32) != 0)
            return reject(res, CMP_RULE_AUTH_SIGNER, 0, 0, 0, "not the operator key");
        /* a wound-down licence lets clients withdraw after its end: their funds are theirs */
        int unwinding =
            e->licence_status == CMP_LICENCE_WIND_DOWN && tx->type == LEDGER_TX_WITHDRAWAL;

        if (!unwinding &&
            (now < e->params.v[CMP_P_VALID_FROM] || now >= e->params.v[CMP_P_VALID_TO]))
            return reject(res, CMP_RULE_LICENCE_WINDOW, e->params.v[CMP_P_VALID_TO], now, 0,
                          "outside the licence period");
        if (e->licence_status == CMP_LICENCE_SUSPENDED ||
            e->licence_status == CMP_LICENCE_REVOKED ||
            (e->licence_status == CMP_LICENCE_WIND_DOWN && tx->type != LEDGER_TX_WITHDRAWAL))
            return reject(res, CMP_RULE_LICENCE_STATUS, 0, 0, 0, "licence does not allow this");
    }
    switch (tx->type) {
    case LEDGER_TX_ACCOUNT_OPEN:
        rc = eval_account_open(e, tx, res);
        break;
    case LEDGER_TX_ACCOUNT_UPDATE:
        rc = eval_account_update(e, tx, res);
        break;
    case LEDGER_TX_DEPOSIT:
    case LEDGER_TX_WITHDRAWAL:
        rc = eval_transfer(e, tx, res);
        break;
    case LEDGER_TX_TRADE:
        rc = eval_trade(e, tx, res);
        break;
    case LEDGER_TX_DIRECTIVE:
        rc = eval_directive(e, tx, res);
        break;
    case LEDGER_TX_ATTESTATION:
        rc = eval_attestation(e, tx, ctx, res);
        break;
    default: /* genesis is handled by cmp_engine_new; nothing else decodes */
        return reject(res, CMP_RULE_AUTH_SIGNER, 0, 0, 0, "not allowed in a block");
    }
    if (rc != SBX_OK || res->verdict.status != LEDGER_VERDICT_ACCEPTED)
        return rc;

    /* alerts of an accepted movement */
    if (tx->type == LEDGER_TX_TRADE) {
        party_alerts(e, ledger_state_get(e->st, tx->u.trade.buyer), tx->timestamp, res->value_vnd,
                     txid, res);
        party_alerts(e, ledger_state_get(e->st, tx->u.trade.seller), tx->timestamp, res->value_vnd,
                     txid, res);
    } else if (tx->type == LEDGER_TX_DEPOSIT || tx->type == LEDGER_TX_WITHDRAWAL) {
        const struct ledger_account *a = ledger_state_get(e->st, tx->u.transfer.account);

        party_alerts(e, a, tx->timestamp, res->value_vnd, txid, res);
        if (tx->type == LEDGER_TX_WITHDRAWAL)
            rapid_alert(e, a, &tx->u.transfer, res->asset, tx->timestamp, res->value_vnd, txid,
                        res);
    }
    return SBX_OK;
}

/* ------------------------------------------------------------------ apply */

static struct cmp_usage *
usage_mut(struct cmp_engine *e, struct ledger_account *a)
{
    struct cmp_usage *u = a->ext;

    if (u == NULL) {
        u = cmp_usage_new();
        if (u == NULL)
            return NULL;
        a->ext = u;
    }
    if (!u->dirty) {
        if (e->nusage_dirty == e->usage_dirty_alloc) {
            size_t alloc = e->usage_dirty_alloc ? e->usage_dirty_alloc * 2 : 64;
            struct ledger_account **v = realloc(e->usage_dirty, alloc * sizeof(*v));

            if (v == NULL)
                return NULL;
            e->usage_dirty = v;
            e->usage_dirty_alloc = alloc;
        }
        e->usage_dirty[e->nusage_dirty++] = a;
        u->dirty = 1;
    }
    return u;
}

static void
add_period(int64_t *last, int64_t *sum, int64_t period, int64_t v)
{
    if (period > *last) {
        *last = period;
        *sum = 0;
    }
    if (__builtin_add_overflow(*sum, v, sum))
        *sum = INT64_MAX;
}

/* Record one party's accepted movement of `value` VND at `now`. */
static int
record_movement(struct cmp_engine *e, struct ledger_account *a, int64_t now, int64_t value,
                int trade)
{
    const struct cmp_params *p = &e->params;
    int64_t dormant_ms = p->v[CMP_P_DORMANT_DAYS] * CMP_DAY_MS;
    int64_t ref = a->last_activity_ms ? a->last_activity_ms : a->opened_ms;
    int64_t lv = p->v[CMP_P_LARGE_VALUE_VND], band_lo;
    struct cmp_usage *u;
    struct cmp_event dropped;
    int dropped_one;

    if (is_house(e, a->id)) {
        a->last_activity_ms = now;
        return SBX_OK;
    }
    u = usage_mut(e, a);
    if (u == NULL)
        return SBX_ENOMEM;
    if (trade) {
        add_period(&u->day, &u->day_vnd, time_local_day(now, offset_min(e)), value);
        add_period(&u->month, &u->month_vnd, time_local_month(now, offset_min(e)), value);
    }
    if (now - ref >= dormant_ms) {
        /* re-verified while dormant: nothing left to check on this day (check_dormant would
         * otherwise compare updated_ms with react_ms and reject the day's later movements) */
        u->react_ms = a->updated_ms >= ref + dormant_ms ? 0 : now;
        u->react_vnd = value;
    } else if (u->react_ms &&
               time_local_day(u->react_ms, offset_min(e)) == time_local_day(now, offset_min(e))) {
        if (__builtin_add_overflow(u->react_vnd, value, &u->react_vnd))
            u->react_vnd = INT64_MAX;
    }
    if (ledger_muldiv(lv, p->v[CMP_P_STRUCTURING_BAND], 100, &band_lo) == SBX_OK &&
        value >= band_lo && value < lv)
        cmp_ring_push(&u->near, now, 0, 0, &dropped, &dropped_one);
    cmp_ring_push(&u->vel, now, 0, 0, &dropped, &dropped_one);
    if (now > a->last_activity_ms)
        a->last_activity_ms = now;
    return SBX_OK;
}

static int
apply_transfer(struct cmp_engine *e, const struct ledger_tx *tx, const struct cmp_result *res)
{
    const struct ledger_transfer *t = &tx->u.transfer;
    struct ledger_account *a = ledger_state_get_mut(e->st, t->account);
    int64_t now = tx->timestamp;
    struct cmp_event dropped;
    int dropped_one, rc;

    if (a == NULL)
        return SBX_EINTERNAL;
    if (tx->type == LEDGER_TX_DEPOSIT)
        rc = ledger_state_credit(a, res->asset, t->amount);
    else
        rc = ledger_state_debit(a, res->asset, t->amount);
    if (rc)
        return SBX_EINTERNAL; /* evaluate said it fits */
    rc = record_movement(e, a, now, res->value_vnd, 0);
    if (rc || is_house(e, a->id))
        return rc;
    {
        struct cmp_usage *u = usage_mut(e, a);
        int64_t window = e->params.v[CMP_P_TRAVEL_RULE_WINDOW_S] * 1000;

        if (u == NULL)
            return SBX_ENOMEM;
        if (res->asset != 0) {
            cmp_ring_push(&u->xfer, now, res->value_vnd, res->asset, &dropped, &dropped_one);
            if (dropped_one && now - dropped.t < window) {
                if (u->xfer_over_until <= now)
                    u->xfer_over_vnd = 0;
                if (__builtin_add_overflow(u->xfer_over_vnd, dropped.v, &u->xfer_over_vnd))
                    u->xfer_over_vnd = INT64_MAX;
                if (dropped.t + window > u->xfer_over_until)
                    u->xfer_over_until = dropped.t + window;
            }
        }
        if (tx->type == LEDGER_TX_DEPOSIT)
            cmp_ring_push(&u->dep, now, t->amount, res->asset, &dropped, &dropped_one);
    }
    return SBX_OK;
}

static int
apply_trade(struct cmp_engine *e, const struct ledger_tx *tx, const struct cmp_result *res)
{
    const struct ledger_trade *t = &tx->u.trade;
    struct ledger_account *b = ledger_state_get_mut(e->st, t->buyer);
    struct ledger_account *s = ledger_state_get_mut(e->st, t->seller);
    struct ledger_account *house = NULL;
    int64_t notional = res->value_vnd, now = tx->timestamp, fees;
    int asset = res->asset, rc;

    if (b == NULL || s == NULL)
        return SBX_EINTERNAL;
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
    rc = record_movement(e, b, now, notional, 1);
    rc = rc ? rc : record_movement(e, s, now, notional, 1);
    if (rc)
        return rc;
    add_period(&e->ex_day, &e->ex_day_vnd, time_local_day(now, offset_min(e)), notional);
    if (__builtin_add_overflow(e->ex_total_vnd, notional, &e->ex_total_vnd))
        e->ex_total_vnd = INT64_MAX;
    e->last_price[asset] = t->price;
    e->global_dirty = 1;
    return SBX_OK;
}

static int
set_sanction(struct cmp_engine *e, char kind, const char *s, int on)
{
    char k[2 + SBX_ADDRESS_MAX];
    uint8_t key[3 + SBX_ADDRESS_MAX];
    size_t n = sanction_key(kind, s, k);
    int rc;

    key[0] = LEDGER_K_LIST;
    memcpy(key + 1, k, n);
    if (on) {
        rc = map_put(&e->sanctions, k, n, (void *)1);
        return rc ? rc : ledger_changes_put(&e->pending, key, n + 1, "\x01", 1);
    }
    rc = map_put(&e->sanctions, k, n, NULL); /* a NULL value reads as absent */
    return rc ? rc : ledger_changes_del(&e->pending, key, n + 1);
}

static int
apply_directive(struct cmp_engine *e, const struct ledger_tx *tx)
{
    const struct ledger_directive *d = &tx->u.directive;
    struct ledger_account *a;
    int asset;

    e->global_dirty = 1;
    switch (d->kind) {
    case LEDGER_DIR_HALT:
    case LEDGER_DIR_RESUME: {
        int on = d->kind == LEDGER_DIR_HALT;

        if (!d->asset[0]) {
            e->market_halted = (uint8_t)on;
            break;
        }
        asset = ledger_state_asset_index(e->st, d->asset);
        if (on)
            e->halted_assets |= 1u << asset;
        else
            e->halted_assets &= ~(1u << asset);
        break;
    }
    case LEDGER_DIR_FREEZE:
    case LEDGER_DIR_UNFREEZE:
        a = ledger_state_get_mut(e->st, d->account);
        if (a == NULL)
            return SBX_EINTERNAL;
        a->frozen = d->kind == LEDGER_DIR_FREEZE;
        break;
    case LEDGER_DIR_SET_PARAM:
        if (cmp_params_set(&e->params, d->name, d->value, e->genesis.assets, e->genesis.nassets,
                           NULL) != SBX_OK)
            return SBX_EINTERNAL;
        e->params.version++;
        e->params_dirty = 1;
        break;
    case LEDGER_DIR_LICENCE_EXTEND:
        e->params.v[CMP_P_VALID_TO] = d->value;
        e->params.version++;
        e->params_dirty = 1;
        break;
    case LEDGER_DIR_LICENCE_SUSPEND:
        e->licence_status = CMP_LICENCE_SUSPENDED;
        break;
    case LEDGER_DIR_LICENCE_WIND_DOWN:
        e->licence_status = CMP_LICENCE_WIND_DOWN;
        break;
    case LEDGER_DIR_LICENCE_REVOKE:
        e->licence_status = CMP_LICENCE_REVOKED;
        break;
    case LEDGER_DIR_LICENCE_REINSTATE:
        e->licence_status = CMP_LICENCE_ACTIVE;
        break;
    case LEDGER_DIR_SANCTION_ADD:
    case LEDGER_DIR_SANCTION_REMOVE: {
        int on = d->kind == LEDGER_DIR_SANCTION_ADD;

        if (d->account[0])
            return set_sanction(e, 'a', d->account, on);
        return set_sanction(e, 'd', d->address, on);
    }
    default:
        return SBX_EINTERNAL;
    }
    return SBX_OK;
}

static int
record_id(struct cmp_engine *e, uint8_t kind, const char *id, const uint8_t txid[static 32])
{
    uint8_t k[2 + SBX_ID_MAX];
    size_t n = id_key(kind, id, k);
    int rc = map_put(&e->ids_cur, k, n, (void *)1);

    return rc ? rc : ledger_changes_put(&e->pending, k, n, txid, 32);
}

const char *
cmp_records_id(const struct ledger_tx *tx, const struct cmp_result *res, uint8_t *kind)
{
    int taken = res->verdict.rule != CMP_RULE_ID_DUPLICATE &&
                res->verdict.rule != CMP_RULE_AUTH_SIGNER &&
                res->verdict.rule != CMP_RULE_ACCOUNT_DUPLICATE;

    switch (tx->type) {
    case LEDGER_TX_ACCOUNT_OPEN:
        *kind = CMP_ID_ACCOUNT;
        return res->verdict.status == LEDGER_VERDICT_ACCEPTED ? tx->u.account_open.account : NULL;
    case LEDGER_TX_DEPOSIT:
    case LEDGER_TX_WITHDRAWAL:
        *kind = CMP_ID_TRANSFER;
        return taken ? tx->u.transfer.transfer_id : NULL;
    case LEDGER_TX_TRADE:
        *kind = CMP_ID_TRADE;
        return taken ? tx->u.trade.trade_id : NULL;
    default:
        *kind = 0;
        return NULL;
    }
}

int
cmp_apply(struct cmp_engine *e, const struct ledger_tx *tx, const uint8_t txid[static 32],
          const struct cmp_block_ctx *ctx, const struct cmp_result *res)
{
    int accepted = res->verdict.status == LEDGER_VERDICT_ACCEPTED;
    int rc = SBX_OK;

    (void)ctx;
    /* ids are taken by the first attempt, accepted or not: resubmitting returns that result */
    {
        uint8_t kind;
        const char *id = cmp_records_id(tx, res, &kind);

        if (id != NULL)
            rc = record_id(e, kind, id, txid);
    }
    if (rc || !accepted)
        return rc;

    switch (tx->type) {
    case LEDGER_TX_ACCOUNT_OPEN: {
        const struct ledger_account_open *o = &tx->u.account_open;
        struct ledger_account a;

        memset(&a, 0, sizeof(a));
        memcpy(a.id, o->account, sizeof(a.id));
        a.kyc_tier = o->kyc_tier;
        a.investor_class = o->investor_class;
        a.status = LEDGER_ACCOUNT_ACTIVE;
        memcpy(a.country, o->country, sizeof(a.country));
        memcpy(a.kyc_ref, o->kyc_ref, 32);
        memcpy(a.bank_ref, o->bank_ref, 32);
        a.opened_ms = tx->timestamp;
        rc = ledger_state_add(e->st, &a);
        break;
    }
    case LEDGER_TX_ACCOUNT_UPDATE: {
        const struct ledger_account_update *up = &tx->u.account_update;
        struct ledger_account *a = ledger_state_get_mut(e->st, up->account);

        if (a == NULL)
            return SBX_EINTERNAL;
        if (up->kyc_tier)
            a->kyc_tier = up->kyc_tier;
        if (up->status)
            ledger_state_set_status(e->st, a, up->status);
        a->updated_ms = tx->timestamp;
        break;
    }
    case LEDGER_TX_DEPOSIT:
    case LEDGER_TX_WITHDRAWAL:
        rc = apply_transfer(e, tx, res);
        break;
    case LEDGER_TX_TRADE:
        rc = apply_trade(e, tx, res);
        break;
    case LEDGER_TX_DIRECTIVE:
        rc = apply_directive(e, tx);
        break;
    case LEDGER_TX_ATTESTATION: {
        int i = regulator_index(e, tx->signer);

        e->att[i].height = tx->u.attestation.height;
        e->att[i].time_ms = tx->timestamp;
        e->global_dirty = 1;
        break;
    }
    default:
        return SBX_EINTERNAL;
    }
    for (size_t i = 0; rc == SBX_OK && i < res->nalerts; i++)
        rc = cmp_alert_changes(&res->alerts[i], &e->pending);
    return rc;
}

int
cmp_process(struct cmp_engine *e, const struct ledger_tx *tx, const uint8_t txid[static 32],
            const struct cmp_block_ctx *ctx, struct cmp_result *res)
{
    int rc = cmp_evaluate(e, tx, txid, ctx, res);

    return rc ? rc : cmp_apply(e, tx, txid, ctx, res);
}

/* ------------------------------------------------------------------ persistence */

static const uint8_t global_key[] = {LEDGER_K_LIST, 'g'};
static const uint8_t params_key[] = {LEDGER_K_PARAM, 'p'};

static int
encode_global(const struct cmp_engine *e, struct buf *b)
{
    int rc = buf_put_u8(b, GLOBAL_VERSION);

    rc = rc ? rc : buf_put_u8(b, e->licence_status);
    rc = rc ? rc : buf_put_u8(b, e->market_halted);
    rc = rc ? rc : buf_put_u32(b, e->halted_assets);
    rc = rc ? rc : buf_put_i64(b, e->ex_day);
    rc = rc ? rc : buf_put_i64(b, e->ex_day_vnd);
    rc = rc ? rc : buf_put_i64(b, e->ex_total_vnd);
    for (size_t i = 0; rc == SBX_OK && i < e->genesis.nassets; i++)
        rc = buf_put_i64(b, e->last_price[i]);
    for (size_t i = 0; rc == SBX_OK && i < e->genesis.nregulators; i++) {
        rc = buf_put_u64(b, e->att[i].height);
        rc = rc ? rc : buf_put_i64(b, e->att[i].time_ms);
    }
    return rc;
}

static int
decode_global(struct cmp_engine *e, const uint8_t *in, size_t len)
{
    struct buf_reader r;
    uint8_t ver;
    int rc;

    buf_reader_init(&r, in, len);
    rc = buf_read_u8(&r, &ver);
    if (rc == SBX_OK && ver != GLOBAL_VERSION)
        return SBX_ECORRUPT;
    rc = rc ? rc : buf_read_u8(&r, &e->licence_status);
    rc = rc ? rc : buf_read_u8(&r, &e->market_halted);
    rc = rc ? rc : buf_read_u32(&r, &e->halted_assets);
    rc = rc ? rc : buf_read_i64(&r, &e->ex_day);
    rc = rc ? rc : buf_read_i64(&r, &e->ex_day_vnd);
    rc = rc ? rc : buf_read_i64(&r, &e->ex_total_vnd);
    for (size_t i = 0; rc == SBX_OK && i < e->genesis.nassets; i++)
        rc = buf_read_i64(&r, &e->last_price[i]);
    for (size_t i = 0; rc == SBX_OK && i < e->genesis.nregulators; i++) {
        rc = buf_read_u64(&r, &e->att[i].height);
        rc = rc ? rc : buf_read_i64(&r, &e->att[i].time_ms);
    }
    if (rc || buf_reader_left(&r))
        return SBX_ECORRUPT;
    return SBX_OK;
}

static int
encode_params(const struct cmp_engine *e, struct buf *b)
{
    const struct cmp_params *p = &e->params;
    size_t hl = strlen(p->house_account), ll = strlen(p->licence_id);
    int rc = buf_put_u8(b, PARAMS_VERSION);

    rc = rc ? rc : buf_put_u32(b, p->version);
    rc = rc ? rc : buf_put_u8(b, CMP_P_COUNT);
    for (int i = 0; rc == SBX_OK && i < CMP_P_COUNT; i++)
        rc = buf_put_i64(b, p->v[i]);
    for (size_t i = 0; rc == SBX_OK && i < e->genesis.nassets; i++)
        rc = buf_put_i64(b, p->ref_price[i]);
    rc = rc ? rc : buf_put_u8(b, (uint8_t)hl);
    rc = rc ? rc : buf_put(b, p->house_account, hl);
    rc = rc ? rc : buf_put_u8(b, (uint8_t)ll);
    rc = rc ? rc : buf_put(b, p->licence_id, ll);
    return rc;
}

static int
decode_params(struct cmp_engine *e, const uint8_t *in, size_t len)
{
    struct cmp_params *p = &e->params;
    struct buf_reader r;
    uint8_t ver, n, hl = 0, ll = 0;
    int rc;

    buf_reader_init(&r, in, len);
    rc = buf_read_u8(&r, &ver);
    if (rc == SBX_OK && ver != PARAMS_VERSION)
        return SBX_ECORRUPT;
    rc = rc ? rc : buf_read_u32(&r, &p->version);
    rc = rc ? rc : buf_read_u8(&r, &n);
    if (rc == SBX_OK && n != CMP_P_COUNT)
        return SBX_ECORRUPT;
    for (int i = 0; rc == SBX_OK && i < CMP_P_COUNT; i++)
        rc = buf_read_i64(&r, &p->v[i]);
    for (size_t i = 0; rc == SBX_OK && i < e->genesis.nassets; i++)
        rc = buf_read_i64(&r, &p->ref_price[i]);
    rc = rc ? rc : buf_read_u8(&r, &hl);
    if (rc == SBX_OK && hl > SBX_ID_MAX)
        return SBX_ECORRUPT;
    memset(p->house_account, 0, sizeof(p->house_account));
    rc = rc ? rc : buf_read(&r, p->house_account, hl);
    rc = rc ? rc : buf_read_u8(&r, &ll);
    if (rc == SBX_OK && ll > SBX_ID_MAX)
        return SBX_ECORRUPT;
    memset(p->licence_id, 0, sizeof(p->licence_id));
    rc = rc ? rc : buf_read(&r, p->licence_id, ll);
    if (rc || buf_reader_left(&r))
        return SBX_ECORRUPT;
    return SBX_OK;
}

static size_t
usage_key(const char *id, uint8_t out[static 1 + SBX_ID_MAX])
{
    size_t n = strnlen(id, SBX_ID_MAX);

    out[0] = LEDGER_K_USAGE;
    memcpy(out + 1, id, n);
    return 1 + n;
}

int
cmp_collect(struct cmp_engine *e, struct ledger_changes *out)
{
    uint8_t key[1 + SBX_ID_MAX];
    struct buf b;
    int rc;

    buf_init(&b, 1 << 16);
    rc = ledger_state_collect(e->st, out);
    for (size_t i = 0; i < e->nusage_dirty; i++) {
        struct ledger_account *a = e->usage_dirty[i];
        struct cmp_usage *u = a->ext;

        u->dirty = 0;
        if (rc)
            continue;
        buf_reset(&b);
        rc = cmp_usage_encode(u, &b);
        rc = rc ? rc : ledger_changes_put(out, key, usage_key(a->id, key), b.data, b.len);
    }
    e->nusage_dirty = 0;
    if (rc == SBX_OK && e->global_dirty) {
        buf_reset(&b);
        rc = encode_global(e, &b);
        rc = rc ? rc : ledger_changes_put(out, global_key, sizeof(global_key), b.data, b.len);
        e->global_dirty = 0;
    }
    if (rc == SBX_OK && e->params_dirty) {
        buf_reset(&b);
        rc = encode_params(e, &b);
        rc = rc ? rc : ledger_changes_put(out, params_key, sizeof(params_key), b.data, b.len);
        e->params_dirty = 0;
    }
    for (size_t i = 0; rc == SBX_OK && i < e->pending.n; i++) {
        const struct ledger_change *c = &e->pending.v[i];

        rc = c->del ? ledger_changes_del(out, c->key, c->klen)
                    : ledger_changes_put(out, c->key, c->klen, c->val, c->vlen);
    }
    ledger_changes_reset(&e->pending);
    if (e->id_lookup) {
        /* keep this block's ids until the next collect: the store has them by then */
        map_release(&e->ids_prev);
        e->ids_prev = e->ids_cur;
        map_init(&e->ids_cur);
    }
    buf_release(&b);
    return rc;
}

struct load_ctx {
    struct cmp_engine *e;
    int rc;
};

static int
load_usage(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    struct load_ctx *c = ctx;
    char id[SBX_ID_MAX + 1] = {0};
    struct ledger_account *a;
    struct cmp_usage *u;

    if (klen < 2 || klen - 1 > SBX_ID_MAX) {
        c->rc = SBX_ECORRUPT;
        return 1;
    }
    memcpy(id, key + 1, klen - 1);
    a = (struct ledger_account *)ledger_state_get(c->e->st, id);
    u = cmp_usage_new();
    if (a == NULL || u == NULL || cmp_usage_decode(u, val, vlen) != SBX_OK) {
        cmp_usage_free(u);
        c->rc = a == NULL || u != NULL ? SBX_ECORRUPT : SBX_ENOMEM;
        return 1;
    }
    cmp_usage_free(a->ext);
    a->ext = u;
    return 0;
}

static int
load_list(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    struct load_ctx *c = ctx;

    if (klen == sizeof(global_key) && memcmp(key, global_key, klen) == 0) {
        c->rc = decode_global(c->e, val, vlen);
    } else if (klen >= 3 && (key[1] == 'a' || key[1] == 'd')) {
        c->rc = map_put(&c->e->sanctions, key + 1, klen - 1, (void *)1);
    } else {
        c->rc = SBX_ECORRUPT;
    }
    return c->rc != SBX_OK;
}

static int
load_id(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    struct load_ctx *c = ctx;

    c->rc = map_put(&c->e->ids_cur, key, klen, (void *)1);
    return c->rc != SBX_OK;
}

int
cmp_engine_load(struct cmp_engine *e, struct ledger_store *store, struct sbx_err *err)
{
    struct load_ctx c = {e, SBX_OK};
    struct buf v;
    uint8_t prefix;
    int rc;

    buf_init(&v, 1 << 16);
    rc = ledger_store_get(store, params_key, sizeof(params_key), &v, err);
    if (rc == SBX_OK && decode_params(e, v.data, v.len) != SBX_OK)
        rc = sbx_err_set(err, SBX_ECORRUPT, "store: licence parameter record is malformed");
    buf_release(&v);
    if (rc)
        return rc;
    rc = ledger_state_load(e->st, store, err);
    if (rc)
        return rc;
    prefix = LEDGER_K_USAGE;
    rc = ledger_store_scan(store, &prefix, 1, NULL, 0, 0, load_usage, &c, err);
    if (rc == SBX_OK && c.rc == SBX_OK) {
        prefix = LEDGER_K_LIST;
        rc = ledger_store_scan(store, &prefix, 1, NULL, 0, 0, load_list, &c, err);
    }
    if (rc == SBX_OK && c.rc == SBX_OK && e->id_lookup == NULL) {
        prefix = LEDGER_K_IDEM;
        rc = ledger_store_scan(store, &prefix, 1, NULL, 0, 0, load_id, &c, err);
    }
    if (rc == SBX_OK && c.rc != SBX_OK)
        rc = sbx_err_set(err, c.rc, "store: compliance record is malformed");
    e->global_dirty = 0;
    e->params_dirty = 0;
    return rc;
}

/* ------------------------------------------------------------------ queries */

int
cmp_engine_usage(const struct cmp_engine *e, const char *account, int64_t now_ms,
                 struct cmp_usage_view *out)
{
    const struct ledger_account *a = ledger_state_get(e->st, account);
    const struct cmp_usage *u;

    memset(out, 0, sizeof(*out));
    if (a == NULL)
        return SBX_ENOTFOUND;
    u = usage_of(a);
    out->daily_used = cmp_period_used(u->day, u->day_vnd, time_local_day(now_ms, offset_min(e)));
    out->monthly_used =
        cmp_period_used(u->month, u->month_vnd, time_local_month(now_ms, offset_min(e)));
    out->daily_limit =
        cmp_params_tier_limit(&e->params, CMP_P_DAILY_T1, a->kyc_tier, a->investor_class);
    out->monthly_limit =
        cmp_params_tier_limit(&e->params, CMP_P_MONTHLY_T1, a->kyc_tier, a->investor_class);
    out->per_trade_limit =
        cmp_params_tier_limit(&e->params, CMP_P_PER_TRADE_T1, a->kyc_tier, a->investor_class);
    out->holding_limit =
        cmp_params_tier_limit(&e->params, CMP_P_HOLDING_T1, a->kyc_tier, a->investor_class);
    return SBX_OK;
}

void
cmp_engine_exchange_usage(const struct cmp_engine *e, int64_t now_ms, int64_t *daily_used,
                          int64_t *total_used)
{
    *daily_used = cmp_period_used(e->ex_day, e->ex_day_vnd, time_local_day(now_ms, offset_min(e)));
    *total_used = e->ex_total_vnd;
}

void
cmp_engine_attested(const struct cmp_engine *e, size_t i, uint64_t *height, int64_t *time_ms)
{
    *height = i < e->genesis.nregulators ? e->att[i].height : 0;
    *time_ms = i < e->genesis.nregulators ? e->att[i].time_ms : 0;
}

static int
cmp_i64_desc(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;

    return (a < b) - (a > b);
}

int
cmp_engine_supervision_ok(const struct cmp_engine *e, int64_t now_ms, int64_t *lag_ms)
{
    int64_t times[SBX_MAX_REGULATORS], newest;
    int64_t max_lag = e->params.v[CMP_P_MAX_LAG_S] * 1000;
    size_t n = e->genesis.nregulators, q = e->genesis.attestation_quorum;

    for (size_t i = 0; i < n; i++)
        times[i] = e->att[i].time_ms ? e->att[i].time_ms : e->genesis_ms;
    qsort(times, n, sizeof(times[0]), cmp_i64_desc);
    /* the time by which attestation_quorum regulators had all attested */
    newest = n ? times[(q ? q : 1) - 1] : e->genesis_ms;
    *lag_ms = now_ms > newest ? now_ms - newest : 0;
    if (max_lag > 0 && *lag_ms > max_lag)
        return SBX_EUNAVAIL;
    return SBX_OK;
}
