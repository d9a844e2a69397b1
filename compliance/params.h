/* Licence parameters: names, defaults, ranges, the genesis licence document, and versions.
 *
 * Every number the rules use is a parameter here, set first by the genesis licence document
 * (a JSON object, stored in canonical form: keys sorted, no spaces) and changed afterwards only
 * by regulator `set_param` / `licence_extend` directives (the licence dates only by the latter:
 * set_param refuses them). Each change bumps the version; every
 * verdict records the version it used. VND amounts are integers (VND has no minor unit).
 *
 * The licence document:
 *   { "licence_id": "DN-SBX-2025-001",          (optional text)
 *     "house_account": "HOUSE",                 (the operator's own account; optional)
 *     "params": { "licence.valid_from": 1756659600000, "limit.daily.tier1": 400000000, ... } }
 * Parameters not named take their default; licence.valid_from and licence.valid_to are
 * required. Unknown names, values out of range and valid_from >= valid_to are refused.
 * Per-asset reference prices are "asset.<SYMBOL>.ref_price_vnd" for each genesis asset; the
 * parameters also keep when each reference price was set (the genesis timestamp, then the
 * timestamp of the set_param directive that changed it), for the rule price.stale.
 */
#ifndef SBX_COMPLIANCE_PARAMS_H
#define SBX_COMPLIANCE_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/tx.h"
#include "util/err.h"

#define CMP_DAY_MS INT64_C(86400000)
#define CMP_RING_MAX 32 /* largest count a rolling-window parameter may ask for */

/* X(enum, "name", default, min, max) — every parameter but per-asset reference prices. */
#define CMP_PARAMS(X)                                                                              \
    X(CMP_P_VALID_FROM, "licence.valid_from", 0, 0, INT64_MAX)                                     \
    X(CMP_P_VALID_TO, "licence.valid_to", 0, 0, INT64_MAX)                                         \
    X(CMP_P_TRADING_OPEN_MIN, "trading.open_min", 0, 0, 1440)                                      \
    X(CMP_P_TRADING_CLOSE_MIN, "trading.close_min", 1440, 0, 1440)                                 \
    X(CMP_P_MAX_LAG_S, "supervision.max_lag_s", 300, 0, 86400 * 30)                                \
    X(CMP_P_DIRECTIVE_TIMEOUT_S, "supervision.directive_timeout_s", 30, 1, 86400)                  \
    X(CMP_P_PARTICIPANTS_MAX, "limit.participants_max", 10000, 0, 100000000)                       \
    X(CMP_P_COOLING_OFF_S, "kyc.cooling_off_s", 0, 0, 86400 * 365)                                 \
    X(CMP_P_DORMANT_DAYS, "aml.dormant_days", 180, 1, 3650)                                        \
    X(CMP_P_DORMANT_TRIGGER, "aml.dormant_trigger_vnd", 400000000, 0, INT64_MAX)                   \
    X(CMP_P_PER_TRADE_T1, "limit.per_trade.tier1", 100000000, 0, INT64_MAX)                        \
    X(CMP_P_PER_TRADE_T2, "limit.per_trade.tier2", 500000000, 0, INT64_MAX)                        \
    X(CMP_P_PER_TRADE_T3, "limit.per_trade.tier3", 2500000000, 0, INT64_MAX)                       \
    X(CMP_P_DAILY_T1, "limit.daily.tier1", 400000000, 0, INT64_MAX)                                \
    X(CMP_P_DAILY_T2, "limit.daily.tier2", 2000000000, 0, INT64_MAX)                               \
    X(CMP_P_DAILY_T3, "limit.daily.tier3", 10000000000, 0, INT64_MAX)                              \
    X(CMP_P_MONTHLY_T1, "limit.monthly.tier1", 1000000000, 0, INT64_MAX)                           \
    X(CMP_P_MONTHLY_T2, "limit.monthly.tier2", 5000000000, 0, INT64_MAX)                           \
    X(CMP_P_MONTHLY_T3, "limit.monthly.tier3", 25000000000, 0, INT64_MAX)                          \
    X(CMP_P_HOLDING_T1, "limit.holding.tier1", 500000000, 0, INT64_MAX)                            \
    X(CMP_P_HOLDING_T2, "limit.holding.tier2", 2500000000, 0, INT64_MAX)                           \
    X(CMP_P_HOLDING_T3, "limit.holding.tier3", 12500000000, 0, INT64_MAX)                          \
    X(CMP_P_EXCHANGE_DAILY, "limit.exchange_daily", 50000000000, 0, INT64_MAX)                     \
    X(CMP_P_EXCHANGE_TOTAL, "limit.exchange_total", 5000000000000, 0, INT64_MAX)                   \
    X(CMP_P_FOREIGN_FACTOR_PCT, "limit.foreign_factor_pct", 100, 0, 10000)                         \
    X(CMP_P_TRAVEL_RULE_VND, "aml.travel_rule_vnd", 13000000, 0, INT64_MAX)                        \
    X(CMP_P_TRAVEL_RULE_WINDOW_S, "aml.travel_rule_window_s", 86400, 1, 86400 * 7)                 \
    X(CMP_P_SCREENING_BLOCK, "aml.screening_block_score", 80, 0, 101)                              \
    X(CMP_P_LARGE_VALUE_VND, "aml.large_value_vnd", 400000000, 1, INT64_MAX)                       \
    X(CMP_P_STRUCTURING_N, "aml.structuring_count", 3, 1, CMP_RING_MAX)                            \
    X(CMP_P_STRUCTURING_BAND, "aml.structuring_band_pct", 80, 1, 100)                              \
    X(CMP_P_STRUCTURING_WINDOW_S, "aml.structuring_window_s", 86400, 1, 86400 * 7)                 \
    X(CMP_P_RAPID_PCT, "aml.rapid_pct", 80, 1, 1000)                                               \
    X(CMP_P_RAPID_WINDOW_S, "aml.rapid_window_s", 86400, 1, 86400 * 7)                             \
    X(CMP_P_VELOCITY_N, "aml.velocity_count", 20, 1, CMP_RING_MAX)                                 \
    X(CMP_P_VELOCITY_WINDOW_S, "aml.velocity_window_s", 86400, 1, 86400 * 7)                       \
    X(CMP_P_MAX_SKEW_MS, "time.max_skew_ms", 60000, 0, 86400000)                                   \
    X(CMP_P_UTC_OFFSET_MIN, "time.utc_offset_min", 420, -720, 840)                                 \
    X(CMP_P_PRICE_BAND_PCT, "price.band_pct", 10, 1, 100)                                          \
    X(CMP_P_PRICE_MAX_AGE_S, "price.max_age_s", 86400, 0, 86400 * 365)                             \
    X(CMP_P_MAX_TRADE_AGE_MS, "time.max_trade_age_ms", 60000, 0, 86400000)                         \
    X(CMP_P_SCREENING_REQUIRED, "aml.screening_required", 1, 0, 1)                                 \
    X(CMP_P_WIND_DOWN_DAYS, "licence.wind_down_days", 90, 0, 3650)                                 \
    X(CMP_P_PROPOSAL_TTL_S, "supervision.proposal_ttl_s", 86400, 1, 86400 * 30)

/* The parameters a licence file (`sbxd -init`, compliance/licence_file.c) must set: their
 * defaults above serve existing devnet genesis documents only, never a new network. */
#define CMP_PARAMS_REQUIRED(X)                                                                     \
    X(CMP_P_PARTICIPANTS_MAX) X(CMP_P_EXCHANGE_DAILY) X(CMP_P_EXCHANGE_TOTAL)

#define X(e, name, def, lo, hi) e,
enum cmp_param { CMP_PARAMS(X) CMP_P_COUNT };
#undef X

struct cmp_params {
    int64_t v[CMP_P_COUNT];
    int64_t ref_price[SBX_MAX_ASSETS];  /* asset.<SYMBOL>.ref_price_vnd, index as genesis */
    int64_t ref_set_ms[SBX_MAX_ASSETS]; /* when each was set: genesis or directive timestamp */
    uint32_t version;                   /* 1 at genesis, +1 per change */
    char house_account[SBX_ID_MAX + 1];
    char licence_id[SBX_ID_MAX + 1];
};

/* Name, default and range of parameter `p`. */
const char *cmp_params_name(enum cmp_param p);
int64_t cmp_params_default(enum cmp_param p);
/* How long before a block's time (or the operator's clock) a transaction of type `tx_type` may
 * be dated (the block rule time.skew): time.max_skew_ms, and for a directive also
 * supervision.proposal_ttl_s (its cosignatures are gathered after it was signed). At most about
 * 3.3 * 10^9 ms: no overflow against a time below LEDGER_TIME_END. */
int64_t cmp_params_time_before_ms(const struct cmp_params *p, int tx_type);
/* 1 if a licence file must set parameter `p` (CMP_PARAMS_REQUIRED), else 0. */
int cmp_params_required(enum cmp_param p);

/* Defaults for everything (valid_from = valid_to = 0, reference prices and their times 0,
 * version 1). */
void cmp_params_defaults(struct cmp_params *p);

/* Look up a parameter name, including "asset.<SYMBOL>.ref_price_vnd" (then *asset_index >= 0
 * and *param = -1). SBX_ENOTFOUND for an unknown name. */
int cmp_params_lookup(const char *name, const struct ledger_asset_def *assets, size_t nassets,
                      int *param, int *asset_index) SBX_WARN_UNUSED;

/* Set a parameter by name after checking its range (and valid_from < valid_to, open <= close).
 * Does not bump the version (the caller does, once per directive). */
int cmp_params_set(struct cmp_params *p, const char *name, int64_t value,
                   const struct ledger_asset_def *assets, size_t nassets,
                   struct sbx_err *err) SBX_WARN_UNUSED;

/* Parse a licence document. `canonical` set: the bytes must be the canonical form (as in a
 * genesis block); SBX_ENONCANON otherwise. Errors name the offending key. */
int cmp_params_from_json(struct cmp_params *p, const char *json, size_t len, int canonical,
                         const struct ledger_asset_def *assets, size_t nassets,
                         struct sbx_err *err) SBX_WARN_UNUSED;
/* Canonical form of a licence document (for building a genesis block); malloc'd string. */
char *cmp_params_canonicalize(const char *json, size_t len, struct sbx_err *err);
/* The licence document that states `p` completely, canonical; malloc'd string. */
char *cmp_params_to_json(const struct cmp_params *p, const struct ledger_asset_def *assets,
                         size_t nassets);

/* Limits by KYC tier (1..3) and investor class, foreign factor applied (rounded down). */
int64_t cmp_params_tier_limit(const struct cmp_params *p, enum cmp_param tier1_param, int tier,
                              int investor_class);

#endif
