/* getreport's aggregation: replay the period's stored blocks through an engine of our own and sum
 * up what they recorded (rpc/report.h says why a replay: a report must be a pure function of the
 * ledger up to the period's last block, and the balances, investor classes, KYC tiers,
 * reference prices, parameter versions and licence status at a past instant are what the
 * verdicts of the period depend on).
 *
 * The engine starts as the state the block before the period left, which node/asof.c rebuilds
 * from the store's history records (node_asof_engine: one pass over the state keys, the same
 * path getaccount, getusage and getlicence take with a height); the replay then covers only the
 * period's blocks, each verdict checked again. The cost is thus one pass over the state plus one
 * decode and one evaluation per transaction of the period, whatever the chain's length, on the
 * node's job thread (every function here but rpc_report_period and rpc_report_hash, which any
 * thread may call): it touches only the store, the caller's copy of the environment and its own
 * engine, and stops between blocks once the node is stopping. Ids and block hashes are looked up
 * in the store, as the node does, so memory stays bounded by the state and one block.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "rpc/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compliance/engine.h"
#include "compliance/params.h"
#include "compliance/rules.h"
#include "ledger/amount.h"
#include "ledger/locate.h"
#include "ledger/state.h"
#include "ledger/store.h"
#include "rpc/render.h"
#include "util/hex.h"
#include "util/sha256.h"
#include "util/time.h"

/* Lists in a report (large-value alerts, directives) stop here; `*_more` says there were more. */
#define REPORT_LIST_MAX 1000
#define NCLASSES 5 /* investor classes 1..4 */
#define NTIERS 4   /* KYC tiers 1..3 */

struct flow {
    uint64_t count;
    int64_t amount;
    int64_t value_vnd;
};

struct side {
    uint64_t buys, sells;
    int64_t bought_vnd, sold_vnd;
};

struct report {
    const struct rpc_env *env;
    struct ledger_store *st;
    struct cmp_engine *eng;
    uint64_t height; /* the block being replayed */
    uint64_t start;  /* the first block to replay: the period's first, or 0 */
    uint64_t tip;    /* the last block to replay */
    int64_t from, to;
    int any, complete, overflow;
    uint64_t first_h, last_h;
    int64_t last_time;
    uint64_t accepted, rejected;
    uint64_t trades;
    int64_t notional, fees;
    struct flow asset_trades[SBX_MAX_ASSETS]; /* amount = quantity, value = notional */
    struct side classes[NCLASSES], tiers[NTIERS];
    uint64_t opened, closed;
    struct flow deposits[SBX_MAX_ASSETS], withdrawals[SBX_MAX_ASSETS];
    uint64_t rules[CMP_RULE_MAX + 1];
    uint64_t alerts[CMP_ALERT_MAX + 1];
    json_t *large, *directives, *versions;
    int large_more, directives_more;
    uint32_t version_seen;
    struct flow travel;
    int64_t liabilities[SBX_MAX_ASSETS];
    uint64_t clients;
};

/* ------------------------------------------------------------------ the period */

int
rpc_report_period(enum rpc_report_kind kind, const char *s, int offset_min, int64_t *from,
                  int64_t *to, const char *field, struct sbx_err *err)
{
    int64_t day, month;
    unsigned y = 0, m = 0;

    if (kind == RPC_REPORT_DAILY) {
        if (strlen(s) != 10 || time_parse_day(s, &day) != 0 || s[0] < '1' ||
            (s[0] == '1' && strncmp(s, "1970", 4) < 0) || strncmp(s, "2200", 4) >= 0)
            return sbx_err_set(err, SBX_EINVAL, "%s: not a date YYYY-MM-DD (1970..2199)", field);
        *from = time_local_day_start_ms(day, offset_min);
        *to = time_local_day_start_ms(day + 1, offset_min);
        return SBX_OK;
    }
    if (strlen(s) != 7 || s[4] != '-')
        return sbx_err_set(err, SBX_EINVAL, "%s: not a month YYYY-MM", field);
    for (int i = 0; i < 7; i++) {
        if (i == 4)
            continue;
        if (s[i] < '0' || s[i] > '9')
            return sbx_err_set(err, SBX_EINVAL, "%s: not a month YYYY-MM", field);
        if (i < 4)
            y = y * 10 + (unsigned)(s[i] - '0');
        else
            m = m * 10 + (unsigned)(s[i] - '0');
    }
    if (y < 1970 || y > 2199 || m < 1 || m > 12)
        return sbx_err_set(err, SBX_EINVAL, "%s: no month %s (1970-01..2199-12)", field, s);
    month = (int64_t)y * 12 + (int64_t)m - 1;
    *from = time_local_month_start_ms(month, offset_min);
    *to = time_local_month_start_ms(month + 1, offset_min);
    return SBX_OK;
}

/* ------------------------------------------------------------------ the engine's hooks */

/* An id is taken if the store records it in a block below the one being replayed (the store
 * holds the ids of later blocks too, which the replay must not see yet). */
static int
id_lookup(void *ctx, const uint8_t *key, size_t klen)
{
    struct report *r = ctx;
    struct buf val;
    uint64_t h;
    uint32_t idx;
    int rc, found = 0;

    buf_init(&val, 32);
    rc = ledger_store_get(r->st, key, klen, &val, NULL);
    if (rc == SBX_OK && val.len == 32) {
        rc = ledger_store_tx_location(r->st, val.data, &h, &idx, NULL);
        found = rc == SBX_OK && h < r->height;
    }
    buf_release(&val);
    if (rc != SBX_OK && rc != SBX_ENOTFOUND)
        return -1;
    return found;
}

static int
hash_lookup(void *ctx, uint64_t height, uint8_t hash[32])
{
    struct report *r = ctx;
    struct ledger_block_header h;
    struct buf raw;
    int rc;

    if (height >= r->height)
        return 0;
    buf_init(&raw, LEDGER_BLOCK_MAX_SIZE);
    rc = ledger_store_get_block(r->st, height, &raw, NULL);
    if (rc == SBX_OK)
        rc = raw.len < LEDGER_HEADER_SIZE
                 ? SBX_ECORRUPT
                 : ledger_block_header_decode(&h, raw.data, LEDGER_HEADER_SIZE, NULL);
    buf_release(&raw);
    if (rc)
        return 0;
    ledger_block_hash(&h, hash);
    return 1;
}

/* ------------------------------------------------------------------ aggregation */

static void
add(struct report *r, int64_t *sum, int64_t v)
{
    if (ledger_add(*sum, v, sum) != SBX_OK)
        r->overflow = 1;
}

static void
add_side(struct report *r, const struct ledger_account *a, int buy, int64_t notional)
{
    struct side *s[2] = {NULL, NULL};

    if (a == NULL)
        return;
    if (a->investor_class < NCLASSES)
        s[0] = &r->classes[a->investor_class];
    if (a->kyc_tier < NTIERS)
        s[1] = &r->tiers[a->kyc_tier];
    for (int i = 0; i < 2; i++) {
        if (s[i] == NULL)
            continue;
        if (buy) {
            s[i]->buys++;
            add(r, &s[i]->bought_vnd, notional);
        } else {
            s[i]->sells++;
            add(r, &s[i]->sold_vnd, notional);
        }
    }
}

/* An accepted trade, before it is applied (the parties' class and tier as they were). */
static void
count_trade(struct report *r, const struct ledger_tx *tx, const struct cmp_result *res)
{
    const struct ledger_trade *t = &tx->u.trade;
    const struct ledger_state *s = cmp_engine_state(r->eng);
    int64_t notional = 0;
    int a = res->asset;

    if (a <= 0 || (size_t)a >= r->env->nassets ||
        ledger_notional(t->quantity, t->price, r->env->assets[a].decimals, &notional) != SBX_OK)
        SBX_BUG("an accepted trade without an asset or a notional");
    r->trades++;
    add(r, &r->notional, notional);
    add(r, &r->fees, t->fee_buyer);
    add(r, &r->fees, t->fee_seller);
    r->asset_trades[a].count++;
    add(r, &r->asset_trades[a].amount, t->quantity);
    add(r, &r->asset_trades[a].value_vnd, notional);
    add_side(r, ledger_state_get(s, t->buyer), 1, notional);
    add_side(r, ledger_state_get(s, t->seller), 0, notional);
}

static void
count_transfer(struct report *r, const struct ledger_tx *tx, const struct cmp_result *res)
{
    struct flow *f = tx->type == LEDGER_TX_DEPOSIT ? r->deposits : r->withdrawals;
    int a = res->asset;

    if (a < 0 || (size_t)a >= r->env->nassets)
        SBX_BUG("an accepted transfer without an asset");
    f[a].count++;
    add(r, &f[a].amount, tx->u.transfer.amount);
    add(r, &f[a].value_vnd, res->value_vnd);
    if (tx->u.transfer.has_travel_rule) {
        r->travel.count++;
        add(r, &r->travel.value_vnd, res->value_vnd);
    }
}

static int
append(json_t *arr, json_t *v, int *more)
{
    if (v == NULL)
        return SBX_ENOMEM;
    if (json_array_size(arr) >= REPORT_LIST_MAX) {
        *more = 1;
        json_decref(v);
        return SBX_OK;
    }
    return json_array_append_new(arr, v) == 0 ? SBX_OK : SBX_ENOMEM;
}

/* Entry `i` of the block in `k`, in the period: count it (before it is applied). */
static int
count_entry(struct report *r, const struct ledger_locate *k, size_t i, const struct ledger_tx *tx,
            const struct cmp_result *res, struct sbx_err *err)
{
    int accepted = res->verdict.status == LEDGER_VERDICT_ACCEPTED;
    int rc = SBX_OK;

    if (!accepted) {
        r->rejected++;
        if (res->verdict.rule <= CMP_RULE_MAX)
            r->rules[res->verdict.rule]++;
    } else {
        r->accepted++;
    }
    if (tx->type == LEDGER_TX_DIRECTIVE)
        rc = append(r->directives, rpc_render_entry(r->env, k, i, NULL, err), &r->directives_more);
    if (rc || !accepted)
        return rc;
    switch (tx->type) {
    case LEDGER_TX_TRADE:
        count_trade(r, tx, res);
        break;
    case LEDGER_TX_DEPOSIT:
    case LEDGER_TX_WITHDRAWAL:
        count_transfer(r, tx, res);
        break;
    case LEDGER_TX_ACCOUNT_OPEN:
        r->opened++;
        break;
    case LEDGER_TX_ACCOUNT_UPDATE:
        if (tx->u.account_update.status == LEDGER_ACCOUNT_CLOSED)
            r->closed++;
        break;
    default:
        break;
    }
    for (size_t j = 0; rc == SBX_OK && j < res->nalerts; j++) {
        const struct cmp_alert *al = &res->alerts[j];

        if (al->kind <= CMP_ALERT_MAX)
            r->alerts[al->kind]++;
        if (al->kind == CMP_ALERT_LARGE_VALUE)
            rc = append(r->large, rpc_render_alert(al), &r->large_more);
    }
    return rc;
}

/* The parameter version in force now, listed once. */
static int
note_version(struct report *r)
{
    uint32_t v = cmp_engine_params(r->eng)->version;

    if (v == r->version_seen)
        return SBX_OK;
    r->version_seen = v;
    return json_array_append_new(r->versions, json_integer(v)) == 0 ? SBX_OK : SBX_ENOMEM;
}

/* ------------------------------------------------------------------ the replay */

/* Evaluate entry `i` of the loaded block, check that the rules give the stored verdict, count
 * it if the block is in the period, apply it. */
static int
replay_entry(struct report *r, const struct ledger_locate *k, size_t i, int in_period,
             struct sbx_err *err)
{
    struct cmp_block_ctx ctx = {k->height, k->b.hdr.time_ms};
    uint8_t txid[32], a[LEDGER_VERDICT_SIZE], b[LEDGER_VERDICT_SIZE];
    const struct ledger_verdict *v;
    struct cmp_result res;
    struct ledger_tx tx;
    int rc;

    rc = ledger_locate_entry(k, i, &tx, txid, &v, err);
    if (rc)
        return rc;
    rc = cmp_evaluate(r->eng, &tx, txid, &ctx, &res);
    if (rc)
        goto out;
    ledger_verdict_encode(&res.verdict, a);
    ledger_verdict_encode(v, b);
    if (memcmp(a, b, sizeof(a)) != 0) {
        rc = sbx_err_set(err, SBX_ECORRUPT,
                         "block %llu tx %zu (type %d): the replay gives rule %d status %d, the "
                         "block rule %d status %d",
                         (unsigned long long)k->height, i, tx.type, res.verdict.rule,
                         res.verdict.status, v->rule, v->status);
        goto out;
    }
    if (in_period) {
        rc = count_entry(r, k, i, &tx, &res, err);
        if (rc)
            goto out;
    }
    rc = cmp_apply(r->eng, &tx, txid, &ctx, &res);
    if (rc == SBX_OK && in_period)
        rc = note_version(r);
out:
    ledger_tx_release(&tx);
    return rc;
}

/* The offset of local days: time.utc_offset_min as the licence had it at genesis, so that a
 * later change of the parameter does not move the periods of past reports. */
static int
genesis_offset(const struct report *r, int64_t *offset, struct sbx_err *err)
{
    struct cmp_engine *g;
    int rc = node_asof_engine(r->env->node, 0, NODE_ASOF_LICENCE, NULL, &g, NULL, err);

    if (rc)
        return rc;
    *offset = cmp_engine_params(g)->v[CMP_P_UTC_OFFSET_MIN];
    cmp_engine_free(g);
    return SBX_OK;
}

/* The engine as the block before the period left the state (node/asof.c), and the first block
 * to replay; when the period starts at or before genesis, the engine of block 0 and the replay
 * from 0 (whose genesis transaction is not replayed). */
static int
replay_start(struct report *r, struct sbx_err *err)
{
    uint64_t before = 0;
    int rc = node_asof_height_at(r->env->node, r->from - 1, &before, NULL);

    if (rc == SBX_OK) {
        if (before > r->tip) /* the period begins after the tip: nothing of it to replay */
            before = r->tip;
        r->start = before + 1;
    } else if (rc == SBX_ENOTFOUND) {
        r->start = 0;
    } else {
        return sbx_err_set(err, rc, "the block before the period cannot be read");
    }
    rc = node_asof_engine(r->env->node, before, NODE_ASOF_ALL, NULL, &r->eng, &r->last_time, err);
    if (rc)
        return rc;
    cmp_engine_set_id_lookup(r->eng, id_lookup, r);
    cmp_engine_set_hash_lookup(r->eng, hash_lookup, r);
    return SBX_OK;
}

/* Replay blocks start..tip into the engine that replay_start made, counting those of [from, to);
 * stop at the first block at or after `to` (the period is then complete). */
static int
replay(struct report *r, struct sbx_err *err)
{
    struct ledger_changes scratch;
    struct ledger_locate k;
    int rc = SBX_OK;

    ledger_locate_init(&k);
    ledger_changes_init(&scratch);
    for (uint64_t h = r->start; rc == SBX_OK && h <= r->tip; h++) {
        int in_period;

        if (node_job_stopping(r->env->node)) {
            rc = sbx_err_set(err, SBX_EUNAVAIL, "the report stopped: the node is stopping");
            break;
        }
        rc = ledger_locate_block(r->st, h, &k, err);
        if (rc)
            break;
        if (k.b.hdr.time_ms >= r->to) {
            r->complete = 1;
            break;
        }
        in_period = k.b.hdr.time_ms >= r->from;
        if (in_period) {
            if (!r->any)
                r->first_h = h;
            r->any = 1;
            r->last_h = h;
            rc = note_version(r);
        }
        r->last_time = k.b.hdr.time_ms;
        r->height = h;
        for (size_t i = h == 0 ? 1 : 0; rc == SBX_OK && i < k.b.ntx; i++)
            rc = replay_entry(r, &k, i, in_period, err);
        /* what the engine would write: dropped, the store has it already */
        if (rc == SBX_OK)
            rc = cmp_collect(r->eng, &scratch);
        ledger_changes_reset(&scratch);
    }
    ledger_changes_release(&scratch);
    ledger_locate_release(&k);
    return rc;
}

static int
sum_liability(void *ctx, const struct ledger_account *a)
{
    struct report *r = ctx;
    const char *house = cmp_engine_params(r->eng)->house_account;

    if (house[0] && strcmp(house, a->id) == 0)
        return SBX_OK;
    r->clients++;
    for (size_t i = 0; i < r->env->nassets && i < SBX_MAX_ASSETS; i++)
        add(r, &r->liabilities[i], a->balance[i]);
    return SBX_OK;
}

/* ------------------------------------------------------------------ the JSON */

static json_t *
flow_json(const struct report *r, const struct flow *f, size_t i, const char *amount_name)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    json_object_set_new(o, "asset", json_string(r->env->assets[i].symbol));
    json_object_set_new(o, "count", rpc_render_u64(f->count));
    json_object_set_new(o, amount_name, rpc_render_amount(f->amount, r->env->assets[i].decimals));
    json_object_set_new(o, amount_name[0] == 'q' ? "notional_vnd" : "value_vnd",
                        rpc_render_amount(f->value_vnd, 0));
    return o;
}

/* [{asset, count, amount|quantity, value_vnd|notional_vnd}] for assets first..n-1. */
static json_t *
flows_json(const struct report *r, const struct flow *f, size_t first, const char *amount_name)
{
    json_t *arr = json_array();

    for (size_t i = first; arr != NULL && i < r->env->nassets; i++) {
        if (json_array_append_new(arr, flow_json(r, &f[i], i, amount_name)) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return arr;
}

static json_t *
sides_json(const struct side *s, size_t n, const char *key, int by_class)
{
    json_t *arr = json_array();

    for (size_t i = 1; arr != NULL && i < n; i++) {
        json_t *o = json_object();

        if (o == NULL || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return NULL;
        }
        if (by_class)
            json_object_set_new(o, key, json_string(ledger_investor_class_name((int)i)));
        else
            json_object_set_new(o, key, json_integer((json_int_t)i));
        json_object_set_new(o, "buy_count", rpc_render_u64(s[i].buys));
        json_object_set_new(o, "buy_notional_vnd", rpc_render_amount(s[i].bought_vnd, 0));
        json_object_set_new(o, "sell_count", rpc_render_u64(s[i].sells));
        json_object_set_new(o, "sell_notional_vnd", rpc_render_amount(s[i].sold_vnd, 0));
    }
    return arr;
}

static json_t *
trades_json(const struct report *r)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    json_object_set_new(o, "count", rpc_render_u64(r->trades));
    json_object_set_new(o, "notional_vnd", rpc_render_amount(r->notional, 0));
    json_object_set_new(o, "fees_vnd", rpc_render_amount(r->fees, 0));
    json_object_set_new(o, "by_asset", flows_json(r, r->asset_trades, 1, "quantity"));
    json_object_set_new(o, "by_investor_class",
                        sides_json(r->classes, NCLASSES, "investor_class", 1));
    json_object_set_new(o, "by_kyc_tier", sides_json(r->tiers, NTIERS, "kyc_tier", 0));
    return o;
}

/* {count, by_rule: [{rule, count}]} (rules with a count only, in rule-number order) or the same
 * for alerts, with every kind listed. */
static json_t *
counts_json(const uint64_t *c, int max, int alerts, uint64_t total)
{
    json_t *o = json_object(), *arr = json_array();

    if (o == NULL || arr == NULL) {
        json_decref(o);
        json_decref(arr);
        return NULL;
    }
    for (int i = 1; i <= max; i++) {
        json_t *e;

        if (!alerts && c[i] == 0)
            continue;
        e = json_object();
        if (e == NULL || json_array_append_new(arr, e) != 0)
            continue;
        json_object_set_new(e, alerts ? "kind" : "rule",
                            alerts ? json_string(cmp_alert_name(i)) : rpc_render_rule(i));
        json_object_set_new(e, "count", rpc_render_u64(c[i]));
    }
    json_object_set_new(o, "count", rpc_render_u64(total));
    json_object_set_new(o, alerts ? "by_kind" : "by_rule", arr);
    return o;
}

static json_t *
licence_json(const struct report *r)
{
    const struct cmp_params *p = cmp_engine_params(r->eng);
    int64_t at = r->complete ? r->to - 1 : r->last_time;
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    json_object_set_new(o, "licence_id", json_string(p->licence_id));
    json_object_set_new(
        o, "status",
        json_string(rpc_render_licence_status(cmp_engine_licence_status_at(r->eng, at))));
    json_object_set_new(o, "valid_to", rpc_render_int(p->v[CMP_P_VALID_TO]));
    json_object_set_new(o, "param_version", json_integer(p->version));
    json_object_set_new(o, "param_versions", json_incref(r->versions));
    return o;
}

static json_t *
liabilities_json(const struct report *r)
{
    json_t *o = json_object(), *arr = json_array();
    const char *house = cmp_engine_params(r->eng)->house_account;
    struct cmp_liabilities_view v;

    cmp_engine_liabilities(r->eng, &v);
    if (o == NULL || arr == NULL) {
        json_decref(o);
        json_decref(arr);
        return NULL;
    }
    for (size_t i = 0; i < r->env->nassets; i++) {
        json_t *e = json_object();

        if (e == NULL || json_array_append_new(arr, e) != 0)
            continue;
        json_object_set_new(e, "asset", json_string(r->env->assets[i].symbol));
        json_object_set_new(e, "amount",
                            rpc_render_amount(r->liabilities[i], r->env->assets[i].decimals));
        /* the last liabilities record and attested reserve by the period's end */
        json_object_set_new(
            e, "recorded",
            i < v.nassets && v.assets[i].liabilities >= 0
                ? rpc_render_amount(v.assets[i].liabilities, r->env->assets[i].decimals)
                : json_null());
        json_object_set_new(e, "reserve",
                            i < v.nassets && v.assets[i].reserve >= 0
                                ? rpc_render_amount(v.assets[i].reserve, r->env->assets[i].decimals)
                                : json_null());
        json_object_set_new(e, "shortfall", json_boolean(i < v.nassets && v.assets[i].shortfall));
    }
    json_object_set_new(o, "record_height",
                        v.record_height ? rpc_render_u64(v.record_height) : json_null());
    json_object_set_new(o, "excluded_account", house[0] ? json_string(house) : json_null());
    json_object_set_new(o, "client_accounts", rpc_render_u64(r->clients));
    json_object_set_new(o, "by_asset", arr);
    return o;
}

static json_t *
height_json(const struct report *r, uint64_t h)
{
    return r->any ? rpc_render_u64(h) : json_null();
}

/* The report object (without report_hash). */
static json_t *
report_json(const struct report *r, enum rpc_report_kind kind, const char *label)
{
    json_t *o = json_object(), *accounts = json_object(), *travel = json_object(), *al;
    uint64_t nalerts = 0;

    if (o == NULL || accounts == NULL || travel == NULL) {
        json_decref(o);
        json_decref(accounts);
        json_decref(travel);
        return NULL;
    }
    json_object_set_new(o, "kind", json_string(kind == RPC_REPORT_DAILY ? "daily" : "monthly"));
    json_object_set_new(o, kind == RPC_REPORT_DAILY ? "date" : "month", json_string(label));
    json_object_set_new(o, "from", rpc_render_int(r->from));
    json_object_set_new(o, "to", rpc_render_int(r->to));
    json_object_set_new(o, "complete", json_boolean(r->complete));
    json_object_set_new(o, "first_height", height_json(r, r->first_h));
    json_object_set_new(o, "last_height", height_json(r, r->last_h));
    json_object_set_new(o, "transactions", rpc_render_u64(r->accepted + r->rejected));
    json_object_set_new(o, "trades", trades_json(r));
    json_object_set_new(accounts, "opened", rpc_render_u64(r->opened));
    json_object_set_new(accounts, "closed", rpc_render_u64(r->closed));
    json_object_set_new(o, "accounts", accounts);
    json_object_set_new(o, "deposits", flows_json(r, r->deposits, 0, "amount"));
    json_object_set_new(o, "withdrawals", flows_json(r, r->withdrawals, 0, "amount"));
    json_object_set_new(o, "rejections", counts_json(r->rules, CMP_RULE_MAX, 0, r->rejected));
    for (int i = 0; i <= CMP_ALERT_MAX; i++)
        nalerts += r->alerts[i];
    al = counts_json(r->alerts, CMP_ALERT_MAX, 1, nalerts);
    if (al != NULL) {
        json_object_set_new(al, "large_value", json_incref(r->large));
        json_object_set_new(al, "large_value_more", json_boolean(r->large_more));
    }
    json_object_set_new(o, "alerts", al);
    json_object_set_new(o, "directives", json_incref(r->directives));
    json_object_set_new(o, "directives_more", json_boolean(r->directives_more));
    json_object_set_new(travel, "count", rpc_render_u64(r->travel.count));
    json_object_set_new(travel, "value_vnd", rpc_render_amount(r->travel.value_vnd, 0));
    json_object_set_new(o, "travel_rule", travel);
    json_object_set_new(o, "licence", licence_json(r));
    json_object_set_new(o, "liabilities", liabilities_json(r));
    return o;
}

int
rpc_report_hash(const json_t *report, char hex[static 65])
{
    json_t *copy = json_copy((json_t *)report);
    uint8_t h[32];
    char *s;

    if (copy == NULL)
        return SBX_ENOMEM;
    json_object_del(copy, "report_hash");
    s = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(copy);
    if (s == NULL)
        return SBX_ENOMEM;
    sha256(h, s, strlen(s));
    free(s);
    hex_encode(hex, h, 32);
    hex[64] = '\0';
    return SBX_OK;
}

int
rpc_report_build(const struct rpc_env *env, uint64_t tip, enum rpc_report_kind kind,
                 const char *label, json_t **out, struct sbx_err *err)
{
    struct report *r = calloc(1, sizeof(*r));
    int64_t offset = 0;
    char hex[65];
    json_t *o = NULL;
    int rc;

    *out = NULL;
    if (r == NULL)
        return SBX_ENOMEM;
    r->env = env;
    r->tip = tip;
    r->st = node_store(env->node);
    r->large = json_array();
    r->directives = json_array();
    r->versions = json_array();
    rc = r->large && r->directives && r->versions ? SBX_OK : SBX_ENOMEM;
    if (rc == SBX_OK)
        rc = genesis_offset(r, &offset, err);
    if (rc == SBX_OK)
        rc = rpc_report_period(kind, label, (int)offset, &r->from, &r->to,
                               kind == RPC_REPORT_DAILY ? "date" : "month", err);
    if (rc == SBX_OK)
        rc = replay_start(r, err);
    if (rc == SBX_OK)
        rc = replay(r, err);
    /* a period without a block: the version in force at its end */
    if (rc == SBX_OK && json_array_size(r->versions) == 0)
        rc = note_version(r);
    if (rc == SBX_OK)
        rc = ledger_state_foreach_sorted(cmp_engine_state(r->eng), sum_liability, r);
    if (rc == SBX_OK && r->overflow)
        rc = sbx_err_set(err, SBX_EOVERFLOW, "a sum of the report exceeds 2^63");
    if (rc == SBX_OK) {
        o = report_json(r, kind, label);
        rc = o ? rpc_report_hash(o, hex) : SBX_ENOMEM;
    }
    if (rc == SBX_OK && json_object_set_new(o, "report_hash", json_string(hex)) != 0)
        rc = SBX_ENOMEM;
    if (rc == SBX_OK) {
        *out = o;
        o = NULL;
    }
    json_decref(o);
    json_decref(r->large);
    json_decref(r->directives);
    json_decref(r->versions);
    cmp_engine_free(r->eng);
    free(r);
    return rc;
}
