/* The compliance engine's entry points; see engine.h and doc/compliance.md.
 *
 * Optimised for the sequencer's hot path: a trade costs two account lookups (usage counters
 * hang on the account), integer arithmetic with 128-bit intermediates, and a few ring scans of
 * at most CMP_RING_MAX entries. evaluate() is a pure function of (state, tx, block context);
 * apply() is the only writer. This file holds the engine's lifecycle and read access, the
 * licence gate that every business transaction passes first, the dispatch of evaluate and apply
 * by transaction type to the rule families (internal.h lists the files), attestations, and the
 * queries. The order of checks is the documented order. Crypto is valued at its reference price
 * (a licence parameter only regulators change), never at a trade price.
 */
#include "compliance/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compliance/internal.h"
#include "ledger/amount.h"
#include "util/hex.h"
#include "util/time.h"

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
    for (size_t i = 1; i < g->nassets; i++)
        e->params.ref_set_ms[i] = genesis->timestamp;
    e->st = ledger_state_new(g->assets, g->nassets, cmp_usage_free);
    if (e->st == NULL) {
        rc = sbx_err_set(err, SBX_ENOMEM, "out of memory");
        goto fail;
    }
    map_init(&e->sanctions);
    map_init(&e->ids_cur);
    map_init(&e->ids_prev);
    map_init(&e->addresses);
    ledger_changes_init(&e->pending);
    STAILQ_INIT(&e->usage_dirty);
    STAILQ_INIT(&e->addr_dirty);
    e->licence_status = CMP_LICENCE_ACTIVE;
    cmp_liabilities_init(e);
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
    cmp_addresses_release(e);
    ledger_changes_release(&e->pending);
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

/* ------------------------------------------------------------------ read access */

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
    return e->params.ref_price[asset];
}

static int
regulator_index(const struct cmp_engine *e, const uint8_t key[static 32])
{
    for (size_t i = 0; i < e->genesis.nregulators; i++)
        if (memcmp(e->genesis.regulator_keys[i], key, 32) == 0)
            return (int)i;
    return -1;
}

int
cmp_engine_is_regulator(const struct cmp_engine *e, const uint8_t key[static 32])
{
    return regulator_index(e, key) >= 0;
}

int
cmp_engine_is_sanctioned(const struct cmp_engine *e, const char *account, const char *address)
{
    if (account && account[0] && cmp_persist_sanctioned(e, LEDGER_LIST_ACCOUNT, account))
        return 1;
    if (address && address[0] && cmp_persist_sanctioned(e, LEDGER_LIST_ADDRESS, address))
        return 1;
    return 0;
}

/* ------------------------------------------------------------------ helpers for the rules */

int
cmp_engine_offset_min(const struct cmp_engine *e)
{
    return (int)e->params.v[CMP_P_UTC_OFFSET_MIN];
}

const struct cmp_usage *
cmp_engine_usage_of(const struct ledger_account *a)
{
    static const struct cmp_usage zero;

    return a->ext ? a->ext : &zero;
}

int
cmp_engine_is_house(const struct cmp_engine *e, const char *id)
{
    return e->params.house_account[0] && strcmp(e->params.house_account, id) == 0;
}

int
cmp_engine_reject(struct cmp_result *res, int rule, int64_t limit, int64_t used, int64_t requested,
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

int
cmp_engine_value_vnd(const struct cmp_engine *e, int asset, int64_t amount, int64_t *out)
{
    if (asset == 0) {
        *out = amount;
        return SBX_OK;
    }
    return ledger_notional(amount, cmp_engine_price(e, asset), e->genesis.assets[asset].decimals,
                           out);
}

/* ------------------------------------------------------------------ attestations */

static int
eval_attestation(const struct cmp_engine *e, const struct ledger_tx *tx,
                 const struct cmp_block_ctx *ctx, struct cmp_result *res)
{
    int i = regulator_index(e, tx->signer);

    if (i < 0)
        return cmp_engine_reject(res, CMP_RULE_AUTH_SIGNER, 0, 0, 0, "not a regulator key");
    if (tx->u.attestation.height >= ctx->height || tx->u.attestation.height < e->att[i].height)
        return cmp_engine_reject(res, CMP_RULE_ATTESTATION_INVALID, (int64_t)ctx->height,
                                 (int64_t)e->att[i].height, (int64_t)tx->u.attestation.height,
                                 "height must be below this block and not below the last attested");
    if (e->hash_lookup) {
        uint8_t h[32];

        if (e->hash_lookup(e->hash_ctx, tx->u.attestation.height, h) != 1 ||
            memcmp(h, tx->u.attestation.block_hash, 32) != 0)
            return cmp_engine_reject(res, CMP_RULE_ATTESTATION_INVALID, 0, 0,
                                     (int64_t)tx->u.attestation.height,
                                     "block_hash is not the hash of the block at that height");
    }
    return SBX_OK;
}

static int
apply_attestation(struct cmp_engine *e, const struct ledger_tx *tx, const struct cmp_result *res)
{
    int i = regulator_index(e, tx->signer);

    (void)res;
    e->att[i].height = tx->u.attestation.height;
    e->att[i].time_ms = tx->timestamp;
    e->global_dirty = 1;
    return SBX_OK;
}

/* ------------------------------------------------------------------ evaluate and apply */

/* Evaluate and apply by transaction type; genesis is handled by cmp_engine_new and nothing else
 * decodes, so a gap in the table is refused (evaluate) or an internal error (apply). */
static const struct tx_rules {
    cmp_eval_fn *evaluate;
    cmp_apply_fn *apply;
} by_type[] = {
    [LEDGER_TX_ACCOUNT_OPEN] = {cmp_accounts_eval_open, cmp_accounts_apply_open},
    [LEDGER_TX_ACCOUNT_UPDATE] = {cmp_accounts_eval_update, cmp_accounts_apply_update},
    [LEDGER_TX_DEPOSIT] = {cmp_movements_eval_transfer, cmp_movements_apply_transfer},
    [LEDGER_TX_WITHDRAWAL] = {cmp_movements_eval_transfer, cmp_movements_apply_transfer},
    [LEDGER_TX_TRADE] = {cmp_movements_eval_trade, cmp_movements_apply_trade},
    [LEDGER_TX_DIRECTIVE] = {cmp_directives_eval, cmp_directives_apply},
    [LEDGER_TX_ATTESTATION] = {eval_attestation, apply_attestation},
    [LEDGER_TX_LIABILITIES] = {cmp_liabilities_eval, cmp_liabilities_apply},
};

static const struct tx_rules *
rules_for(const struct ledger_tx *tx)
{
    if ((unsigned)tx->type >= SBX_ARRAY_LEN(by_type) || by_type[tx->type].evaluate == NULL)
        return NULL;
    return &by_type[tx->type];
}

/* The end of the wind-down that follows licence.valid_to (saturating). */
static int64_t
wind_down_end(const struct cmp_params *p)
{
    int64_t end;

    if (__builtin_add_overflow(p->v[CMP_P_VALID_TO], p->v[CMP_P_WIND_DOWN_DAYS] * CMP_DAY_MS, &end))
        return INT64_MAX;
    return end;
}

int
cmp_engine_licence_status_at(const struct cmp_engine *e, int64_t now_ms)
{
    int st = e->licence_status;

    if (st == CMP_LICENCE_REVOKED || now_ms < e->params.v[CMP_P_VALID_TO])
        return st;
    if (now_ms >= wind_down_end(&e->params))
        return CMP_LICENCE_EXPIRED;
    /* a suspension holds in the wind-down too (licence_allows rejects with licence.status) */
    return st == CMP_LICENCE_SUSPENDED ? st : CMP_LICENCE_WIND_DOWN;
}

/* The gate of business transactions: the operator's key, the licence period and status. In a
 * wind-down (from licence.valid_to for licence.wind_down_days, or by directive) clients may
 * still withdraw their funds and be re-verified to do so (account_update); after it nothing.
 * Returns 1 to go on, 0 after filling `res` with the rejection. */
static int
licence_allows(const struct cmp_engine *e, const struct ledger_tx *tx, struct cmp_result *res)
{
    const struct cmp_params *p = &e->params;
    int64_t now = tx->timestamp, end = wind_down_end(p);
    int unwinding = tx->type == LEDGER_TX_WITHDRAWAL || tx->type == LEDGER_TX_ACCOUNT_UPDATE;

    if (memcmp(tx->signer, e->genesis.operator_key, 32) != 0)
        return cmp_engine_reject(res, CMP_RULE_AUTH_SIGNER, 0, 0, 0, "not the operator key"), 0;
    if (now < p->v[CMP_P_VALID_FROM])
        return cmp_engine_reject(res, CMP_RULE_LICENCE_WINDOW, p->v[CMP_P_VALID_TO], now, 0,
                                 "before the licence period"),
               0;
    if (now >= end)
        return cmp_engine_reject(res, CMP_RULE_LICENCE_EXPIRED, end, now, 0,
                                 "the licence and its wind-down have ended"),
               0;
    if (now >= p->v[CMP_P_VALID_TO] && !unwinding)
        return cmp_engine_reject(res, CMP_RULE_LICENCE_EXPIRED, p->v[CMP_P_VALID_TO], now, 0,
                                 "licence ended: withdrawals and account updates only"),
               0;
    if (e->licence_status == CMP_LICENCE_SUSPENDED || e->licence_status == CMP_LICENCE_REVOKED ||
        (e->licence_status == CMP_LICENCE_WIND_DOWN && !unwinding))
        return cmp_engine_reject(res, CMP_RULE_LICENCE_STATUS, 0, 0, 0,
                                 "licence does not allow this"),
               0;
    return 1;
}

int
cmp_evaluate(const struct cmp_engine *e, const struct ledger_tx *tx, const uint8_t txid[static 32],
             const struct cmp_block_ctx *ctx, struct cmp_result *res)
{
    int business = ledger_tx_is_business(tx->type);
    const struct tx_rules *r = rules_for(tx);
    int rc;

    memset(res, 0, sizeof(*res));
    res->asset = -1;
    res->verdict.status = LEDGER_VERDICT_ACCEPTED;
    res->verdict.param_version = e->params.version;

    if (business && !licence_allows(e, tx, res))
        return SBX_OK;
    if (r == NULL)
        return cmp_engine_reject(res, CMP_RULE_AUTH_SIGNER, 0, 0, 0, "not allowed in a block");
    if (tx->type == LEDGER_TX_DIRECTIVE) {
        /* a directive takes effect once: its signatures stay valid for
         * supervision.proposal_ttl_s, so the same bytes could be submitted again */
        char id[65];
        int seen;

        hex_encode(id, txid, 32);
        seen = cmp_persist_id_seen(e, CMP_ID_DIRECTIVE, id);
        if (seen < 0)
            return SBX_EIO;
        if (seen)
            return cmp_engine_reject(res, CMP_RULE_ID_DUPLICATE, 0, 0, 0,
                                     "this directive is recorded already");
    }
    rc = r->evaluate(e, tx, ctx, res);
    if (rc != SBX_OK || res->verdict.status != LEDGER_VERDICT_ACCEPTED)
        return rc;
    cmp_aml_alerts(e, tx, txid, res);
    return SBX_OK;
}

const char *
cmp_records_id(const struct ledger_tx *tx, const uint8_t txid[static 32],
               const struct cmp_result *res, uint8_t *kind, char buf[static 65])
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
    case LEDGER_TX_DIRECTIVE:
        *kind = CMP_ID_DIRECTIVE;
        if (res->verdict.status != LEDGER_VERDICT_ACCEPTED)
            return NULL;
        hex_encode(buf, txid, 32);
        return buf;
    default:
        *kind = 0;
        return NULL;
    }
}

int
cmp_apply(struct cmp_engine *e, const struct ledger_tx *tx, const uint8_t txid[static 32],
          const struct cmp_block_ctx *ctx, const struct cmp_result *res)
{
    const struct tx_rules *r = rules_for(tx);
    uint8_t kind;
    char buf[65];
    const char *id = cmp_records_id(tx, txid, res, &kind, buf);
    int rc = SBX_OK;

    e->seen_height = ctx->height;
    /* ids are taken by the first attempt, accepted or not: resubmitting returns that result */
    if (id != NULL)
        rc = cmp_persist_put_id(e, kind, id, txid);
    if (rc || res->verdict.status != LEDGER_VERDICT_ACCEPTED)
        return rc;
    if (r == NULL)
        return SBX_EINTERNAL;
    rc = r->apply(e, tx, res);
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

int
cmp_collect(struct cmp_engine *e, struct ledger_changes *out)
{
    return cmp_persist_collect(e, out);
}

int
cmp_engine_load(struct cmp_engine *e, struct ledger_store *store, struct sbx_err *err)
{
    return cmp_persist_load(e, store, err);
}

int
cmp_engine_load_record(struct cmp_engine *e, const uint8_t *key, size_t klen, const uint8_t *val,
                       size_t vlen, struct sbx_err *err)
{
    return cmp_persist_load_record(e, key, klen, val, vlen, err);
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
    u = cmp_engine_usage_of(a);
    out->daily_used =
        cmp_usage_period_used(u->day, u->day_vnd, time_local_day(now_ms, cmp_engine_offset_min(e)));
    out->monthly_used = cmp_usage_period_used(u->month, u->month_vnd,
                                              time_local_month(now_ms, cmp_engine_offset_min(e)));
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
    *daily_used = cmp_usage_period_used(e->ex_day, e->ex_day_vnd,
                                        time_local_day(now_ms, cmp_engine_offset_min(e)));
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
