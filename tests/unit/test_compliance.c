/* Unit tests for compliance/: every rule at its edges, alerts, directives, determinism of the
 * state digest and persistence through the store.
 *
 * Transactions are built as structs (signatures are checked elsewhere; compliance only compares
 * keys). Amounts are chosen so that edges are exact: BTC and ETH have 8 decimals and a reference
 * price of 100,000,000 VND per whole unit, so one base unit is worth exactly 1 VND and "one unit
 * over a limit" is one VND of notional. Calendar times are built in Vietnam time (UTC+7) with
 * time_days_from_civil().
 */
#include "tests/unit/test_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compliance/engine.h"
#include "compliance/params.h"
#include "compliance/rules.h"
#include "ledger/changes.h"
#include "ledger/store.h"
#include "util/time.h"

#define OFFSET_MIN 420
#define MIN_MS INT64_C(60000)
#define HOUR_MS INT64_C(3600000)
#define DAY_MS INT64_C(86400000)
#define PRICE INT64_C(100000000) /* VND per whole BTC/ETH: 1 base unit = 1 VND */
#define M INT64_C(1000000)

/* ------------------------------------------------------------------ fixture */

/* Local (UTC+7) civil time -> ms since the epoch. */
static int64_t
local_ms(int64_t y, unsigned mo, unsigned d, int h, int mi, int s, int ms)
{
    return time_days_from_civil(y, mo, d) * DAY_MS + h * HOUR_MS + mi * MIN_MS + s * 1000 + ms -
           OFFSET_MIN * MIN_MS;
}

#define VALID_FROM local_ms(2025, 9, 1, 0, 0, 0, 0)
#define VALID_TO local_ms(2028, 9, 1, 0, 0, 0, 0)
#define GENESIS_MS (VALID_FROM - DAY_MS)
#define T0 local_ms(2025, 10, 1, 10, 0, 0, 0) /* a Wednesday morning */

enum { KEY_OPERATOR = 0x01, KEY_OTHER = 0x77, KEY_REG = 0x10 };

static void
key(uint8_t out[32], int tag)
{
    memset(out, tag, 32);
}

struct fx {
    struct cmp_engine *e;
    struct ledger_tx genesis;
    char *licence;
    uint64_t height;
    uint32_t ntx;
    uint32_t seq; /* for generated ids */
    uint8_t txid[32];
    struct cmp_result res;
};

/* Rules produced anywhere in this binary (checked by the last test). */
static int rules_seen[CMP_RULE_MAX + 1];

static char *
make_licence(const char *params, const char *house)
{
    char raw[4096];
    struct sbx_err err;
    char *out;
    int n;

    /* deliberately not canonical (order, spaces): canonicalize must sort it */
    n = snprintf(raw, sizeof(raw),
                 "{ \"params\": { \"licence.valid_to\": %lld, \"licence.valid_from\": %lld, "
                 "\"asset.ETH.ref_price_vnd\": %lld, \"asset.BTC.ref_price_vnd\": %lld%s%s }, "
                 "\"licence_id\": \"DN-SBX-2025-001\"%s%s%s }",
                 (long long)VALID_TO, (long long)VALID_FROM, (long long)PRICE, (long long)PRICE,
                 params && params[0] ? ", " : "", params ? params : "",
                 house ? ", \"house_account\": \"" : "", house ? house : "", house ? "\"" : "");
    assert_true(n > 0 && (size_t)n < sizeof(raw));
    out = cmp_params_canonicalize(raw, strlen(raw), &err);
    assert_non_null(out);
    return out;
}

static void
make_genesis(struct ledger_tx *g, char *licence, int nreg, int dquorum, int aquorum)
{
    struct ledger_genesis *gen = &g->u.genesis;

    ledger_tx_init(g, LEDGER_TX_GENESIS);
    key(g->signer, KEY_OPERATOR);
    g->timestamp = GENESIS_MS;
    snprintf(gen->network, sizeof(gen->network), "%s", "sbx-unit");
    key(gen->operator_key, KEY_OPERATOR);
    gen->nregulators = (uint8_t)nreg;
    for (int i = 0; i < nreg; i++)
        key(gen->regulator_keys[i], KEY_REG + i);
    gen->directive_quorum = (uint8_t)dquorum;
    gen->attestation_quorum = (uint8_t)aquorum;
    gen->nassets = 3;
    snprintf(gen->assets[0].symbol, sizeof(gen->assets[0].symbol), "%s", "VND");
    gen->assets[0].decimals = 0;
    snprintf(gen->assets[1].symbol, sizeof(gen->assets[1].symbol), "%s", "BTC");
    gen->assets[1].decimals = 8;
    snprintf(gen->assets[2].symbol, sizeof(gen->assets[2].symbol), "%s", "ETH");
    gen->assets[2].decimals = 8;
    gen->licence_json = licence;
    gen->licence_len = (uint32_t)strlen(licence);
}

static const struct cmp_result *run(struct fx *f, const struct ledger_tx *tx);
static const struct cmp_result *deposit_tr(struct fx *f, const char *acct, const char *asset,
                                           int64_t amount, int64_t ts);
static const struct cmp_result *open_acct(struct fx *f, const char *id, int tier, int cls,
                                          int64_t ts);

#define HOUSE "HOUSE"
#define HOUSE_FUNDS INT64_C(1000000000000000) /* 10^15 of each asset */

/* An engine for a network with `nreg` regulators (directive quorum `dq`), licence parameters
 * `params` (a JSON fragment of "name": value pairs, may be NULL) and house account HOUSE, opened
 * and funded with every asset unless `no_house`. */
static void
fx_init_opt(struct fx *f, const char *params, int nreg, int dq, int no_house)
{
    struct sbx_err err;
    int rc;

    memset(f, 0, sizeof(*f));
    f->height = 1;
    f->licence = make_licence(params, HOUSE);
    make_genesis(&f->genesis, f->licence, nreg, dq, 1);
    rc = cmp_engine_new(&f->e, &f->genesis, &err);
    if (rc != SBX_OK)
        fail_msg("cmp_engine_new: %s", err.msg);
    if (!no_house) {
        const struct cmp_result *r = open_acct(f, HOUSE, 3, LEDGER_CLASS_DOMESTIC_ORG, VALID_FROM);

        assert_int_equal(r->verdict.status, LEDGER_VERDICT_ACCEPTED);
        assert_int_equal(deposit_tr(f, HOUSE, "VND", HOUSE_FUNDS, VALID_FROM)->verdict.status,
                         LEDGER_VERDICT_ACCEPTED);
        assert_int_equal(deposit_tr(f, HOUSE, "BTC", HOUSE_FUNDS, VALID_FROM)->verdict.status,
                         LEDGER_VERDICT_ACCEPTED);
        assert_int_equal(deposit_tr(f, HOUSE, "ETH", HOUSE_FUNDS, VALID_FROM)->verdict.status,
                         LEDGER_VERDICT_ACCEPTED);
    }
}

static void
fx_init(struct fx *f, const char *params)
{
    fx_init_opt(f, params, 2, 1, 0);
}

static void
fx_release(struct fx *f)
{
    cmp_engine_free(f->e);
    f->e = NULL;
    free(f->licence);
    f->licence = NULL;
}

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    *state = f;
    return f == NULL;
}

static int
teardown(void **state)
{
    struct fx *f = *state;

    if (f) {
        fx_release(f);
        free(f);
    }
    return 0;
}

/* ------------------------------------------------------------------ transactions */

static void
txid_for(uint8_t out[32], uint32_t n)
{
    memset(out, 0xa5, 32);
    out[0] = (uint8_t)(n >> 24);
    out[1] = (uint8_t)(n >> 16);
    out[2] = (uint8_t)(n >> 8);
    out[3] = (uint8_t)n;
}

static void
cpy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src);
}

static struct ledger_tx *
mk_open(struct ledger_tx *tx, const char *id, int tier, int cls, int64_t ts)
{
    struct ledger_account_open *o = &tx->u.account_open;

    ledger_tx_init(tx, LEDGER_TX_ACCOUNT_OPEN);
    key(tx->signer, KEY_OPERATOR);
    tx->timestamp = ts;
    cpy(o->account, sizeof(o->account), id);
    o->kyc_tier = (uint8_t)tier;
    o->investor_class = (uint8_t)cls;
    cpy(o->country, sizeof(o->country),
        cls == LEDGER_CLASS_FOREIGN_INDIVIDUAL || cls == LEDGER_CLASS_FOREIGN_ORG ? "SG" : "VN");
    memset(o->kyc_ref, 0x11, 32);
    memset(o->bank_ref, 0x22, 32);
    return tx;
}

static struct ledger_tx *
mk_update(struct ledger_tx *tx, const char *id, int tier, int status, int64_t ts)
{
    ledger_tx_init(tx, LEDGER_TX_ACCOUNT_UPDATE);
    key(tx->signer, KEY_OPERATOR);
    tx->timestamp = ts;
    cpy(tx->u.account_update.account, sizeof(tx->u.account_update.account), id);
    tx->u.account_update.kyc_tier = (uint8_t)tier;
    tx->u.account_update.status = (uint8_t)status;
    return tx;
}

static struct ledger_tx *
mk_xfer(struct ledger_tx *tx, int type, const char *xid, const char *acct, const char *asset,
        int64_t amount, int64_t ts)
{
    struct ledger_transfer *t = &tx->u.transfer;

    ledger_tx_init(tx, (enum ledger_tx_type)type);
    key(tx->signer, KEY_OPERATOR);
    tx->timestamp = ts;
    cpy(t->transfer_id, sizeof(t->transfer_id), xid);
    cpy(t->account, sizeof(t->account), acct);
    cpy(t->asset, sizeof(t->asset), asset);
    t->amount = amount;
    snprintf(t->reference, sizeof(t->reference), "ref-%s", xid);
    return tx;
}

/* A complete, accepted Travel Rule record. */
static void
set_tr(struct ledger_tx *tx)
{
    struct ledger_travel_rule *r = &tx->u.transfer.travel_rule;

    tx->u.transfer.has_travel_rule = 1;
    r->protocol = LEDGER_TRAVEL_TRISA;
    cpy(r->vasp, sizeof(r->vasp), "vasp-sg-001");
    memset(r->originator_hash, 0x33, 32);
    memset(r->beneficiary_hash, 0x44, 32);
    r->status = LEDGER_TRAVEL_ACCEPTED;
}

static struct ledger_tx *
mk_trade(struct ledger_tx *tx, const char *tid, const char *buyer, const char *seller,
         const char *asset, int64_t qty, int64_t price, int64_t ts)
{
    struct ledger_trade *t = &tx->u.trade;

    ledger_tx_init(tx, LEDGER_TX_TRADE);
    key(tx->signer, KEY_OPERATOR);
    tx->timestamp = ts;
    cpy(t->trade_id, sizeof(t->trade_id), tid);
    cpy(t->buyer, sizeof(t->buyer), buyer);
    cpy(t->seller, sizeof(t->seller), seller);
    cpy(t->asset, sizeof(t->asset), asset);
    t->quantity = qty;
    t->price = price;
    t->executed_at = ts;
    return tx;
}

/* A directive signed by regulator `signer_tag` with cosigners `cosigs` (tags, 0-terminated). */
static struct ledger_tx *
mk_dir(struct ledger_tx *tx, int kind, int signer_tag, const int *cosigs, int64_t ts)
{
    struct ledger_directive *d = &tx->u.directive;

    ledger_tx_init(tx, LEDGER_TX_DIRECTIVE);
    key(tx->signer, signer_tag);
    tx->timestamp = ts;
    d->kind = (uint8_t)kind;
    cpy(d->reason, sizeof(d->reason), "unit test");
    cpy(d->legal_basis, sizeof(d->legal_basis), "Resolution 136/2024/QH15");
    for (int i = 0; cosigs && cosigs[i]; i++) {
        key(d->cosig[i].pubkey, cosigs[i]);
        memset(d->cosig[i].sig, 0x5a, 64);
        d->ncosig++;
    }
    return tx;
}

static struct ledger_tx *
mk_attest(struct ledger_tx *tx, int signer_tag, uint64_t height, int64_t ts)
{
    ledger_tx_init(tx, LEDGER_TX_ATTESTATION);
    key(tx->signer, signer_tag);
    tx->timestamp = ts;
    tx->u.attestation.height = height;
    memset(tx->u.attestation.block_hash, 0x66, 32);
    return tx;
}

/* Evaluate and apply `tx` in the fixture's current block (block time = tx time). */
static const struct cmp_result *
run(struct fx *f, const struct ledger_tx *tx)
{
    struct cmp_block_ctx ctx = {f->height, tx->timestamp};
    int rc;

    txid_for(f->txid, ++f->ntx);
    rc = cmp_process(f->e, tx, f->txid, &ctx, &f->res);
    if (rc != SBX_OK)
        fail_msg("cmp_process: internal failure %s", sbx_rc_name(rc));
    if (f->res.verdict.status == LEDGER_VERDICT_REJECTED && f->res.verdict.rule <= CMP_RULE_MAX)
        rules_seen[f->res.verdict.rule] = 1;
    return &f->res;
}

/* Evaluate only (the checktrade dry run). */
static const struct cmp_result *
check(struct fx *f, const struct ledger_tx *tx)
{
    struct cmp_block_ctx ctx = {f->height, tx->timestamp};
    uint8_t txid[32];

    txid_for(txid, 0xffffffffu);
    assert_int_equal(cmp_evaluate(f->e, tx, txid, &ctx, &f->res), SBX_OK);
    return &f->res;
}

static const char *
next_id(struct fx *f, const char *prefix)
{
    static char buf[SBX_ID_MAX + 1];

    snprintf(buf, sizeof(buf), "%s-%u", prefix, ++f->seq);
    return buf;
}

static const struct cmp_result *
open_acct(struct fx *f, const char *id, int tier, int cls, int64_t ts)
{
    struct ledger_tx tx;

    return run(f, mk_open(&tx, id, tier, cls, ts));
}

static const struct cmp_result *
xfer(struct fx *f, int type, const char *acct, const char *asset, int64_t amount, int64_t ts,
     int tr)
{
    struct ledger_tx tx;

    mk_xfer(&tx, type, next_id(f, "x"), acct, asset, amount, ts);
    if (tr)
        set_tr(&tx);
    return run(f, &tx);
}

static const struct cmp_result *
deposit(struct fx *f, const char *acct, const char *asset, int64_t amount, int64_t ts)
{
    return xfer(f, LEDGER_TX_DEPOSIT, acct, asset, amount, ts, 0);
}

static const struct cmp_result *
deposit_tr(struct fx *f, const char *acct, const char *asset, int64_t amount, int64_t ts)
{
    return xfer(f, LEDGER_TX_DEPOSIT, acct, asset, amount, ts, 1);
}

static const struct cmp_result *
withdraw(struct fx *f, const char *acct, const char *asset, int64_t amount, int64_t ts)
{
    return xfer(f, LEDGER_TX_WITHDRAWAL, acct, asset, amount, ts, 0);
}

static const struct cmp_result *
trade_fee(struct fx *f, const char *buyer, const char *seller, const char *asset, int64_t qty,
          int64_t price, int64_t fee_b, int64_t fee_s, int64_t ts)
{
    struct ledger_tx tx;

    mk_trade(&tx, next_id(f, "t"), buyer, seller, asset, qty, price, ts);
    tx.u.trade.fee_buyer = fee_b;
    tx.u.trade.fee_seller = fee_s;
    return run(f, &tx);
}

/* A BTC trade at PRICE: `qty` base units = `qty` VND of notional. */
static const struct cmp_result *
trade(struct fx *f, const char *buyer, const char *seller, int64_t qty, int64_t ts)
{
    return trade_fee(f, buyer, seller, "BTC", qty, PRICE, 0, 0, ts);
}

static const struct cmp_result *
directive(struct fx *f, struct ledger_tx *tx)
{
    return run(f, tx);
}

/* Collect the pending changes, as at the end of a block, and start the next block. */
static void
end_block(struct fx *f, struct ledger_changes *out)
{
    struct ledger_changes tmp;

    ledger_changes_init(&tmp);
    assert_int_equal(cmp_collect(f->e, out ? out : &tmp), SBX_OK);
    ledger_changes_release(&tmp);
    f->height++;
}

/* ------------------------------------------------------------------ verdict assertions */

static void
expect_ok_(const struct cmp_result *r, const char *file, int line)
{
    if (r->verdict.status != LEDGER_VERDICT_ACCEPTED) {
        print_error("expected accepted, got %s (%s)\n", cmp_rule_name(r->verdict.rule), r->message);
        _fail(file, line);
    }
    if (r->verdict.rule != 0 || r->verdict.limit || r->verdict.used || r->verdict.requested) {
        print_error("accepted verdict carries figures\n");
        _fail(file, line);
    }
}

static void
expect_rej_(const struct cmp_result *r, int rule, const char *file, int line)
{
    if (r->verdict.status != LEDGER_VERDICT_REJECTED || r->verdict.rule != rule) {
        print_error("expected %s, got %s %s (%s)\n", cmp_rule_name(rule),
                    r->verdict.status == LEDGER_VERDICT_ACCEPTED ? "accepted" : "rejected",
                    r->verdict.rule ? cmp_rule_name(r->verdict.rule) : "", r->message);
        _fail(file, line);
    }
    if (r->nalerts != 0) {
        print_error("a rejected transaction raised %zu alerts\n", r->nalerts);
        _fail(file, line);
    }
}

static void
expect_figs_(const struct cmp_result *r, int64_t limit, int64_t used, int64_t requested,
             const char *file, int line)
{
    if (r->verdict.limit != limit || r->verdict.used != used || r->verdict.requested != requested) {
        print_error("figures limit/used/requested: got %lld/%lld/%lld, want %lld/%lld/%lld\n",
                    (long long)r->verdict.limit, (long long)r->verdict.used,
                    (long long)r->verdict.requested, (long long)limit, (long long)used,
                    (long long)requested);
        _fail(file, line);
    }
}

#define EXPECT_OK(expr) expect_ok_((expr), __FILE__, __LINE__)
#define EXPECT_REJ(expr, rule) expect_rej_((expr), (rule), __FILE__, __LINE__)
#define EXPECT_REJ_FIGS(expr, rule, limit, used, req)                                              \
    do {                                                                                           \
        const struct cmp_result *r_ = (expr);                                                      \
        expect_rej_(r_, (rule), __FILE__, __LINE__);                                               \
        expect_figs_(r_, (limit), (used), (req), __FILE__, __LINE__);                              \
    } while (0)

/* Accepted with exactly these alerts (kinds, in order, for these accounts). */
static void
expect_alerts_(const struct cmp_result *r, const char *file, int line, size_t n, ...)
{
    va_list ap;

    if (r->verdict.status != LEDGER_VERDICT_ACCEPTED) {
        print_error("expected accepted, got %s (%s)\n", cmp_rule_name(r->verdict.rule), r->message);
        _fail(file, line);
    }
    if (r->nalerts != n) {
        print_error("expected %zu alerts, got %zu (first: %s)\n", n, r->nalerts,
                    r->nalerts ? cmp_alert_name(r->alerts[0].kind) : "-");
        _fail(file, line);
    }
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        int kind = va_arg(ap, int);
        const char *acct = va_arg(ap, const char *);

        if (r->alerts[i].kind != kind || strcmp(r->alerts[i].account, acct) != 0) {
            print_error("alert %zu: got %s for %s, want %s for %s\n", i,
                        cmp_alert_name(r->alerts[i].kind), r->alerts[i].account,
                        cmp_alert_name(kind), acct);
            va_end(ap);
            _fail(file, line);
        }
    }
    va_end(ap);
}

#define EXPECT_ALERTS(expr, ...) expect_alerts_((expr), __FILE__, __LINE__, __VA_ARGS__)
#define EXPECT_NO_ALERTS(expr) expect_alerts_((expr), __FILE__, __LINE__, (size_t)0)

static void
expect_same_verdict(const struct ledger_verdict *a, const struct ledger_verdict *b)
{
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->rule, b->rule);
    assert_int_equal(a->limit, b->limit);
    assert_int_equal(a->used, b->used);
    assert_int_equal(a->requested, b->requested);
    assert_int_equal(a->param_version, b->param_version);
}

static int64_t
balance(struct fx *f, const char *acct, int asset)
{
    const struct ledger_account *a = ledger_state_get(cmp_engine_state(f->e), acct);

    assert_non_null(a);
    return a->balance[asset];
}

/* Open `id` at `ts` and fund it with `vnd` VND and `btc` BTC base units. */
static void
funded(struct fx *f, const char *id, int tier, int cls, int64_t vnd, int64_t btc, int64_t ts)
{
    EXPECT_OK(open_acct(f, id, tier, cls, ts));
    if (vnd)
        EXPECT_OK(deposit(f, id, "VND", vnd, ts));
    if (btc)
        EXPECT_OK(deposit_tr(f, id, "BTC", btc, ts));
}

/* ------------------------------------------------------------------ names and parameters */

static void
test_rule_names(void **state)
{
    (void)state;
    for (int r = 1; r <= CMP_RULE_MAX; r++) {
        const char *n = cmp_rule_name(r);

        assert_non_null(n);
        assert_int_equal(cmp_rule_parse(n), r);
    }
    assert_null(cmp_rule_name(0));
    assert_null(cmp_rule_name(CMP_RULE_MAX + 1));
    assert_int_equal(cmp_rule_parse("limit.nope"), -1);
    assert_string_equal(cmp_rule_name(CMP_RULE_LIMIT_DAILY), "limit.daily");
    for (int k = 1; k <= CMP_ALERT_MAX; k++)
        assert_int_equal(cmp_alert_parse(cmp_alert_name(k)), k);
    assert_null(cmp_alert_name(CMP_ALERT_MAX + 1));
}

static void
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

static void
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
    EXPECT_REJ_FIGS(deposit(f, "A", "VND", 1000, VALID_TO), CMP_RULE_LICENCE_WINDOW, VALID_TO,
                    VALID_TO, 0);
    EXPECT_REJ(withdraw(f, "A", "VND", 1000, VALID_TO + DAY_MS), CMP_RULE_LICENCE_WINDOW);
    /* directives are not business: the regulator acts at any time; an extension reopens it */
    mk_dir(&tx, LEDGER_DIR_LICENCE_EXTEND, KEY_REG, NULL, VALID_TO + 5);
    tx.u.directive.value = VALID_TO + DAY_MS;
    EXPECT_OK(directive(f, &tx));
    assert_int_equal(cmp_engine_params(f->e)->v[CMP_P_VALID_TO], VALID_TO + DAY_MS);
    assert_int_equal(cmp_engine_params(f->e)->version, 2);
    EXPECT_OK(deposit(f, "A", "VND", 1000, VALID_TO));
    EXPECT_OK(deposit(f, "A", "VND", 1000, VALID_TO + DAY_MS - 1));
    EXPECT_REJ(deposit(f, "A", "VND", 1000, VALID_TO + DAY_MS), CMP_RULE_LICENCE_WINDOW);
    assert_int_equal(balance(f, "A", 0), 4000);
}

static void
test_auth_signer(void **state)
{
    struct fx *f = *state;
    struct ledger_tx tx;
    static const int other[] = {KEY_OTHER, 0};

    fx_init(f, NULL);
    funded(f, "A", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 10 * M, 0, T0);
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

static void
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

static void
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

static void
test_halts(void **state)
{
    struct fx *f = *state;
    struct ledger_tx tx;

    fx_init(f, NULL);
    funded(f, "A", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 50 * M, 0, T0);
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

static void
test_licence_status(void **state)
{
    struct fx *f = *state;
    struct ledger_tx tx;

    fx_init(f, NULL);
    funded(f, "A", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 50 * M, 0, T0);
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
    /* wind-down: withdrawals only */
    EXPECT_OK(run(f, mk_dir(&tx, LEDGER_DIR_LICENCE_WIND_DOWN, KEY_REG, NULL, T0 + 5)));
    assert_int_equal(cmp_engine_licence_status(f->e), CMP_LICENCE_WIND_DOWN);
    EXPECT_OK(withdraw(f, "A", "VND", 1000, T0 + 6));
    EXPECT_OK(withdraw(f, "A", "BTC", 1000, T0 + 6));
    EXPECT_REJ(deposit(f, "A", "VND", 1000, T0 + 6), CMP_RULE_LICENCE_STATUS);
    EXPECT_REJ(trade(f, "A", HOUSE, 1000, T0 + 6), CMP_RULE_LICENCE_STATUS);
    EXPECT_REJ(open_acct(f, "B", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, T0 + 6),
               CMP_RULE_LICENCE_STATUS);
    EXPECT_REJ(run(f, mk_update(&tx, "A", 2, 0, T0 + 6)), CMP_RULE_LICENCE_STATUS);
    /* after the licence ends, a wound-down licence still lets clients withdraw; nothing else */
    EXPECT_OK(withdraw(f, "A", "VND", 1000, VALID_TO));
    EXPECT_OK(withdraw(f, "A", "VND", 1000, VALID_TO + 86400000));
    EXPECT_REJ(deposit(f, "A", "VND", 1000, VALID_TO), CMP_RULE_LICENCE_WINDOW);
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

static void
test_trading_hours(void **state)
{
    struct fx *f = *state;
    int64_t day = local_ms(2025, 10, 1, 0, 0, 0, 0);

    fx_init(f, "\"trading.open_min\": 540, \"trading.close_min\": 1020");
    funded(f, "A", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 50 * M, 0, day);
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

static void
test_settlement_currency(void **state)
{
    struct fx *f = *state;

    fx_init(f, NULL);
    funded(f, "A", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 50 * M, 0, T0);
    EXPECT_REJ(trade_fee(f, "A", HOUSE, "VND", 1000, 1, 0, 0, T0), CMP_RULE_SETTLEMENT_CURRENCY);
    EXPECT_REJ(trade_fee(f, "A", HOUSE, "USD", 1000, PRICE, 0, 0, T0),
               CMP_RULE_SETTLEMENT_CURRENCY);
    EXPECT_REJ(trade_fee(f, "A", HOUSE, "DOGE", 1000, PRICE, 0, 0, T0), CMP_RULE_ASSET_UNLISTED);
    EXPECT_REJ(deposit(f, "A", "USD", 1000, T0), CMP_RULE_SETTLEMENT_CURRENCY);
    EXPECT_REJ(withdraw(f, "A", "EUR", 1000, T0), CMP_RULE_SETTLEMENT_CURRENCY);
    EXPECT_REJ(deposit(f, "A", "DOGE", 1000, T0), CMP_RULE_ASSET_UNLISTED);
    EXPECT_OK(trade_fee(f, "A", HOUSE, "ETH", 1000, PRICE, 0, 0, T0));
}

/* ------------------------------------------------------------------ limits */

static void
test_per_trade_tiers(void **state)
{
    struct fx *f = *state;

    fx_init(f, NULL);
    funded(f, "T1", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 1000 * M, 0, T0);
    funded(f, "T2", 2, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 1000 * M, 0, T0);
    funded(f, "T3", 3, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 10000 * M, 0, T0);
    EXPECT_REJ_FIGS(trade(f, "T1", HOUSE, 100 * M + 1, T0), CMP_RULE_LIMIT_PER_TRADE, 100 * M, 0,
                    100 * M + 1);
    EXPECT_OK(trade(f, "T1", HOUSE, 100 * M, T0));
    /* the seller's limit too */
    EXPECT_REJ_FIGS(trade(f, HOUSE, "T1", 100 * M + 1, T0), CMP_RULE_LIMIT_PER_TRADE, 100 * M, 0,
                    100 * M + 1);
    EXPECT_REJ_FIGS(trade(f, "T2", HOUSE, 500 * M + 1, T0), CMP_RULE_LIMIT_PER_TRADE, 500 * M, 0,
                    500 * M + 1);
    EXPECT_OK(trade(f, "T2", HOUSE, 500 * M, T0));
    EXPECT_REJ_FIGS(trade(f, "T3", HOUSE, 2500 * M + 1, T0), CMP_RULE_LIMIT_PER_TRADE, 2500 * M, 0,
                    2500 * M + 1);
    EXPECT_OK(trade(f, "T3", HOUSE, 2500 * M, T0));
    /* a realistic price: 0.04000003 ETH at 2,500,000,000 VND = 100,000,075 VND */
    EXPECT_REJ_FIGS(trade_fee(f, "T1", HOUSE, "ETH", 4000003, 2500000000, 0, 0, T0 + 1),
                    CMP_RULE_LIMIT_PER_TRADE, 100 * M, 0, 100000075);
    EXPECT_OK(trade_fee(f, "T1", HOUSE, "ETH", 4000000, 2500000000, 0, 0, T0 + 1));
    /* ... and rounded down: 1 base unit at 99 VND per whole unit is worth nothing */
    EXPECT_OK(trade_fee(f, "T1", HOUSE, "ETH", 1, 99, 0, 0, T0 + 1));
    assert_int_equal(balance(f, "T1", 2), 4000001);
}

static void
test_foreign_factor(void **state)
{
    struct fx *f = *state;
    struct cmp_usage_view u;

    fx_init(f, "\"limit.foreign_factor_pct\": 50");
    funded(f, "FI", 1, LEDGER_CLASS_FOREIGN_INDIVIDUAL, 500 * M, 0, T0);
    funded(f, "FO", 1, LEDGER_CLASS_FOREIGN_ORG, 500 * M, 0, T0);
    funded(f, "DI", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 500 * M, 0, T0);
    EXPECT_REJ_FIGS(trade(f, "FI", HOUSE, 50 * M + 1, T0), CMP_RULE_LIMIT_PER_TRADE, 50 * M, 0,
                    50 * M + 1);
    EXPECT_OK(trade(f, "FI", HOUSE, 50 * M, T0));
    EXPECT_REJ_FIGS(trade(f, "FO", HOUSE, 50 * M + 1, T0), CMP_RULE_LIMIT_PER_TRADE, 50 * M, 0,
                    50 * M + 1);
    EXPECT_OK(trade(f, "DI", HOUSE, 50 * M + 1, T0));
    EXPECT_OK(trade(f, "DI", HOUSE, 100 * M, T0));
    /* daily: 200M for the foreigner */
    EXPECT_OK(trade(f, "FI", HOUSE, 50 * M, T0));
    EXPECT_OK(trade(f, "FI", HOUSE, 50 * M, T0));
    EXPECT_OK(trade(f, "FI", HOUSE, 50 * M, T0));
    EXPECT_REJ_FIGS(trade(f, "FI", HOUSE, 1, T0), CMP_RULE_LIMIT_DAILY, 200 * M, 200 * M, 1);
    assert_int_equal(cmp_engine_usage(f->e, "FI", T0, &u), SBX_OK);
    assert_int_equal(u.per_trade_limit, 50 * M);
    assert_int_equal(u.daily_limit, 200 * M);
    assert_int_equal(u.daily_used, 200 * M);
    assert_int_equal(u.monthly_limit, 500 * M);
    assert_int_equal(u.holding_limit, 250 * M);
    assert_int_equal(cmp_engine_usage(f->e, "DI", T0, &u), SBX_OK);
    assert_int_equal(u.per_trade_limit, 100 * M);
    assert_int_equal(u.holding_limit, 500 * M);
    assert_int_equal(cmp_engine_usage(f->e, "NOBODY", T0, &u), SBX_ENOTFOUND);
}

#define NO_HOLDING "\"limit.holding.tier1\": 1000000000000000"

static void
test_daily_midnight(void **state)
{
    struct fx *f = *state;
    int64_t last = local_ms(2025, 10, 1, 23, 59, 59, 999);
    int64_t next = local_ms(2025, 10, 2, 0, 0, 0, 0);
    struct cmp_usage_view u;

    assert_int_equal(next - last, 1);
    fx_init(f, NO_HOLDING);
    funded(f, "A", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 1000 * M, 0, T0);
    /* 400M as buyer and seller on 1 October (local) */
    EXPECT_OK(trade(f, "A", HOUSE, 100 * M, T0));
    EXPECT_OK(trade(f, "A", HOUSE, 100 * M, last - 2));
    EXPECT_OK(trade(f, HOUSE, "A", 100 * M, last - 1));
    EXPECT_OK(trade(f, HOUSE, "A", 100 * M, last));
    EXPECT_REJ_FIGS(trade(f, "A", HOUSE, 1, last), CMP_RULE_LIMIT_DAILY, 400 * M, 400 * M, 1);
    EXPECT_REJ_FIGS(trade(f, HOUSE, "A", 1, last), CMP_RULE_LIMIT_DAILY, 400 * M, 400 * M, 1);
    assert_int_equal(cmp_engine_usage(f->e, "A", last, &u), SBX_OK);
    assert_int_equal(u.daily_used, 400 * M);
    /* local midnight: a new day */
    assert_int_equal(cmp_engine_usage(f->e, "A", next, &u), SBX_OK);
    assert_int_equal(u.daily_used, 0);
    assert_int_equal(u.monthly_used, 400 * M);
    EXPECT_OK(trade(f, "A", HOUSE, 100 * M, next));
    EXPECT_OK(trade(f, "A", HOUSE, 100 * M, next + HOUR_MS));
    EXPECT_OK(trade(f, "A", HOUSE, 100 * M, next + 2 * HOUR_MS));
    /* UTC midnight (07:00 local) is not a day boundary */
    EXPECT_OK(trade(f, "A", HOUSE, 100 * M, local_ms(2025, 10, 2, 6, 59, 59, 999)));
    EXPECT_REJ_FIGS(trade(f, "A", HOUSE, 1, local_ms(2025, 10, 2, 7, 0, 0, 0)),
                    CMP_RULE_LIMIT_DAILY, 400 * M, 400 * M, 1);
    assert_int_equal(cmp_engine_usage(f->e, "A", next, &u), SBX_OK);
    assert_int_equal(u.daily_used, 400 * M);
    assert_int_equal(u.monthly_used, 800 * M);
}

static void
test_monthly_boundary(void **state)
{
    struct fx *f = *state;
    int64_t last = local_ms(2025, 10, 31, 23, 59, 59, 999);
    int64_t next = local_ms(2025, 11, 1, 0, 0, 0, 0);
    struct cmp_usage_view u;

    fx_init(f, NO_HOLDING);
    funded(f, "A", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 2000 * M, 0,
           local_ms(2025, 10, 29, 9, 0, 0, 0));
    for (int d = 29; d <= 30; d++)
        for (int i = 0; i < 4; i++)
            EXPECT_OK(
                trade(f, "A", HOUSE, 100 * M, local_ms(2025, 10, (unsigned)d, 10 + i, 0, 0, 0)));
    EXPECT_OK(trade(f, "A", HOUSE, 100 * M, last - 1000));
    EXPECT_OK(trade(f, "A", HOUSE, 100 * M, last - 1));
    /* 1,000M this month; 200M today */
    EXPECT_REJ_FIGS(trade(f, "A", HOUSE, 1, last), CMP_RULE_LIMIT_MONTHLY, 1000 * M, 1000 * M, 1);
    assert_int_equal(cmp_engine_usage(f->e, "A", last, &u), SBX_OK);
    assert_int_equal(u.monthly_used, 1000 * M);
    assert_int_equal(u.daily_used, 200 * M);
    EXPECT_OK(trade(f, "A", HOUSE, 100 * M, next));
    assert_int_equal(cmp_engine_usage(f->e, "A", next, &u), SBX_OK);
    assert_int_equal(u.monthly_used, 100 * M);
    assert_int_equal(u.daily_used, 100 * M);
}

static void
test_holding(void **state)
{
    struct fx *f = *state;

    fx_init(f, NULL);
    funded(f, "A", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 0, 0, T0);
    funded(f, "B", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 200 * M, 0, T0);
    funded(f, "C", 3, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 0, 0, T0);
    funded(f, "D", 3, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 1000 * M, 0, T0);
    /* by deposit, valued at the reference price */
    EXPECT_OK(deposit_tr(f, "A", "BTC", 500 * M, T0));
    EXPECT_REJ_FIGS(deposit_tr(f, "A", "BTC", 1, T0), CMP_RULE_LIMIT_HOLDING, 500 * M, 500 * M, 1);
    EXPECT_OK(deposit_tr(f, "A", "ETH", 500 * M, T0)); /* per asset */
    EXPECT_OK(deposit_tr(f, "C", "BTC", 12500 * M, T0));
    EXPECT_REJ_FIGS(deposit_tr(f, "C", "BTC", 1, T0), CMP_RULE_LIMIT_HOLDING, 12500 * M, 12500 * M,
                    1);
    /* by a buy */
    EXPECT_OK(deposit_tr(f, "B", "BTC", 400 * M, T0));
    EXPECT_OK(trade(f, "B", HOUSE, 100 * M - 1, T0));
    EXPECT_OK(trade(f, "B", HOUSE, 1, T0));
    EXPECT_REJ_FIGS(trade(f, "B", HOUSE, 1, T0), CMP_RULE_LIMIT_HOLDING, 500 * M, 500 * M, 1);
    /* selling is fine, and makes room */
    EXPECT_OK(trade(f, HOUSE, "B", 1, T0));
    EXPECT_OK(trade(f, "B", HOUSE, 1, T0));
    /* the valuation follows the last trade price: at twice the price A now holds 1,000M */
    EXPECT_OK(trade_fee(f, "D", HOUSE, "BTC", 1, 2 * PRICE, 0, 0, T0));
    assert_int_equal(cmp_engine_price(f->e, 1), 2 * PRICE);
    assert_int_equal(cmp_engine_price(f->e, 2), PRICE);
    assert_int_equal(cmp_engine_price(f->e, 0), 1);
    EXPECT_REJ_FIGS(deposit_tr(f, "A", "BTC", 1, T0), CMP_RULE_LIMIT_HOLDING, 500 * M, 1000 * M, 2);
    EXPECT_OK(deposit(f, "A", "VND", 1000 * M, T0)); /* VND has no holding limit */
}

static void
test_exchange_limits(void **state)
{
    struct fx *f = *state;
    int64_t d1 = local_ms(2025, 10, 1, 10, 0, 0, 0), d2 = local_ms(2025, 10, 2, 10, 0, 0, 0);
    int64_t daily, total;

    fx_init(f, "\"limit.exchange_daily\": 1000000000, \"limit.exchange_total\": 1500000000");
    funded(f, "A", 3, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 5000 * M, 0, d1);
    funded(f, "B", 3, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 5000 * M, 0, d1);
    EXPECT_OK(trade(f, "A", HOUSE, 600 * M, d1));
    EXPECT_OK(trade(f, "B", HOUSE, 400 * M, d1 + 1));
    EXPECT_REJ_FIGS(trade(f, "B", HOUSE, 1, d1 + 2), CMP_RULE_LIMIT_EXCHANGE_DAILY, 1000 * M,
                    1000 * M, 1);
    /* trades of the house count too: the limit is exchange-wide */
    EXPECT_REJ(trade(f, HOUSE, HOUSE, 1, d1 + 2), CMP_RULE_LIMIT_EXCHANGE_DAILY);
    cmp_engine_exchange_usage(f->e, d1, &daily, &total);
    assert_int_equal(daily, 1000 * M);
    assert_int_equal(total, 1000 * M);
    EXPECT_OK(trade(f, "A", HOUSE, 500 * M, d2));
    EXPECT_REJ_FIGS(trade(f, "B", HOUSE, 1, d2 + 1), CMP_RULE_LIMIT_EXCHANGE_TOTAL, 1500 * M,
                    1500 * M, 1);
    cmp_engine_exchange_usage(f->e, d2, &daily, &total);
    assert_int_equal(daily, 500 * M);
    assert_int_equal(total, 1500 * M);
}

static void
test_set_param(void **state)
{
    struct fx *f = *state;
    struct ledger_tx tx;
    struct cmp_usage_view u;
    int64_t t = T0;

    fx_init(f, NULL);
    funded(f, "A", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 1000 * M, 0, t);
    EXPECT_OK(trade(f, "A", HOUSE, 100 * M, t + 1));
    assert_int_equal(f->res.verdict.param_version, 1);
    EXPECT_OK(trade(f, "A", HOUSE, 100 * M, t + 2));
    assert_int_equal(f->res.verdict.param_version, 1);
    /* a dry run before the directive still passes 200M more */
    mk_trade(&tx, "T-dry", "A", HOUSE, "BTC", 100 * M, PRICE, t + 3);
    EXPECT_OK(check(f, &tx));
    mk_dir(&tx, LEDGER_DIR_SET_PARAM, KEY_REG, NULL, t + 3);
    cpy(tx.u.directive.name, sizeof(tx.u.directive.name), "limit.daily.tier1");
    tx.u.directive.value = 150 * M;
    EXPECT_OK(directive(f, &tx));
    assert_int_equal(f->res.verdict.param_version, 1); /* the version it was judged under */
    assert_int_equal(cmp_engine_params(f->e)->version, 2);
    assert_int_equal(cmp_engine_params(f->e)->v[CMP_P_DAILY_T1], 150 * M);
    /* earlier trades stand; later ones see the new limit */
    EXPECT_REJ_FIGS(trade(f, "A", HOUSE, 1, t + 4), CMP_RULE_LIMIT_DAILY, 150 * M, 200 * M, 1);
    assert_int_equal(f->res.verdict.param_version, 2);
    assert_int_equal(cmp_engine_usage(f->e, "A", t + 4, &u), SBX_OK);
    assert_int_equal(u.daily_limit, 150 * M);
    assert_int_equal(u.daily_used, 200 * M);
    /* the next day: exactly the new limit */
    EXPECT_OK(trade(f, "A", HOUSE, 100 * M, t + DAY_MS));
    EXPECT_OK(trade(f, "A", HOUSE, 50 * M, t + DAY_MS));
    assert_int_equal(f->res.verdict.param_version, 2);
    EXPECT_REJ_FIGS(trade(f, "A", HOUSE, 1, t + DAY_MS), CMP_RULE_LIMIT_DAILY, 150 * M, 150 * M, 1);
    /* a per-asset reference price is a parameter too */
    mk_dir(&tx, LEDGER_DIR_SET_PARAM, KEY_REG, NULL, t + DAY_MS);
    cpy(tx.u.directive.name, sizeof(tx.u.directive.name), "asset.ETH.ref_price_vnd");
    tx.u.directive.value = 3 * PRICE;
    EXPECT_OK(directive(f, &tx));
    assert_int_equal(cmp_engine_params(f->e)->version, 3);
    assert_int_equal(cmp_engine_price(f->e, 2), 3 * PRICE);
    /* refusals do not bump the version */
    cpy(tx.u.directive.name, sizeof(tx.u.directive.name), "limit.nope");
    EXPECT_REJ(directive(f, &tx), CMP_RULE_DIRECTIVE_INVALID);
    cpy(tx.u.directive.name, sizeof(tx.u.directive.name), "aml.screening_block_score");
    tx.u.directive.value = 102;
    EXPECT_REJ(directive(f, &tx), CMP_RULE_DIRECTIVE_INVALID);
    cpy(tx.u.directive.name, sizeof(tx.u.directive.name), "licence.valid_to");
    tx.u.directive.value = VALID_FROM;
    EXPECT_REJ(directive(f, &tx), CMP_RULE_DIRECTIVE_INVALID);
    cpy(tx.u.directive.name, sizeof(tx.u.directive.name), "asset.VND.ref_price_vnd");
    tx.u.directive.value = 1;
    EXPECT_REJ(directive(f, &tx), CMP_RULE_DIRECTIVE_INVALID);
    mk_dir(&tx, LEDGER_DIR_LICENCE_EXTEND, KEY_REG, NULL, t + DAY_MS);
    tx.u.directive.value = VALID_FROM;
    EXPECT_REJ_FIGS(directive(f, &tx), CMP_RULE_DIRECTIVE_INVALID, VALID_FROM, 0, VALID_FROM);
    assert_int_equal(cmp_engine_params(f->e)->version, 3);
}

/* ------------------------------------------------------------------ accounts, balances */

static void
test_frozen(void **state)
{
    struct fx *f = *state;
    struct ledger_tx tx;

    fx_init(f, NULL);
    funded(f, "A", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 50 * M, 10 * M, T0);
    funded(f, "B", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 50 * M, 10 * M, T0);
    mk_dir(&tx, LEDGER_DIR_FREEZE, KEY_REG, NULL, T0 + 1);
    cpy(tx.u.directive.account, sizeof(tx.u.directive.account), "A");
    EXPECT_OK(directive(f, &tx));
    EXPECT_REJ(trade(f, "A", "B", 1000, T0 + 2), CMP_RULE_ACCOUNT_FROZEN); /* frozen buyer */
    EXPECT_REJ(trade(f, "B", "A", 1000, T0 + 2), CMP_RULE_ACCOUNT_FROZEN); /* frozen seller */
    EXPECT_REJ(deposit(f, "A", "VND", 1000, T0 + 2), CMP_RULE_ACCOUNT_FROZEN);
    EXPECT_REJ(withdraw(f, "A", "VND", 1000, T0 + 2), CMP_RULE_ACCOUNT_FROZEN);
    EXPECT_OK(trade(f, "B", HOUSE, 1000, T0 + 2));
    assert_true(ledger_state_get(cmp_engine_state(f->e), "A")->frozen);
    mk_dir(&tx, LEDGER_DIR_UNFREEZE, KEY_REG, NULL, T0 + 3);
    cpy(tx.u.directive.account, sizeof(tx.u.directive.account), "A");
    EXPECT_OK(directive(f, &tx));
    EXPECT_OK(trade(f, "A", "B", 1000, T0 + 4));
    EXPECT_OK(trade(f, "B", "A", 1000, T0 + 4));
    mk_dir(&tx, LEDGER_DIR_FREEZE, KEY_REG, NULL, T0 + 5);
    cpy(tx.u.directive.account, sizeof(tx.u.directive.account), "NOBODY");
    EXPECT_REJ(directive(f, &tx), CMP_RULE_DIRECTIVE_INVALID);
}

static void
test_balance(void **state)
{
    struct fx *f = *state;
    int64_t house_vnd;

    fx_init(f, NULL);
    funded(f, "A", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 10010000, 0, T0);
    funded(f, "B", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 10009999, 0, T0);
    house_vnd = balance(f, HOUSE, 0);
    /* the buyer needs notional + fee */
    EXPECT_REJ_FIGS(trade_fee(f, "B", HOUSE, "BTC", 10 * M, PRICE, 10000, 0, T0),
                    CMP_RULE_BALANCE_INSUFFICIENT, 10009999, 0, 10010000);
    EXPECT_OK(trade_fee(f, "A", HOUSE, "BTC", 10 * M, PRICE, 10000, 0, T0));
    assert_int_equal(balance(f, "A", 0), 0);
    assert_int_equal(balance(f, "A", 1), 10 * M);
    assert_int_equal(balance(f, HOUSE, 0), house_vnd + 10010000); /* notional + fee */
    /* the seller needs the asset */
    EXPECT_REJ_FIGS(trade(f, "B", "A", 10 * M + 1, T0), CMP_RULE_BALANCE_INSUFFICIENT, 10 * M, 0,
                    10 * M + 1);
    EXPECT_OK(trade_fee(f, "B", "A", "BTC", 5 * M, PRICE, 5009999, 7000, T0));
    assert_int_equal(balance(f, "B", 0), 0);
    assert_int_equal(balance(f, "A", 0), 5 * M - 7000);
    assert_int_equal(balance(f, "A", 1), 5 * M);
    assert_int_equal(balance(f, "B", 1), 5 * M);
    assert_int_equal(balance(f, HOUSE, 0), house_vnd + 10010000 + 5009999 + 7000);
    /* a seller fee above the notional needs VND */
    EXPECT_OK(open_acct(f, "C", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, T0));
    EXPECT_OK(deposit_tr(f, "C", "BTC", 10, T0));
    EXPECT_REJ_FIGS(trade_fee(f, HOUSE, "C", "BTC", 10, PRICE, 0, 11, T0),
                    CMP_RULE_BALANCE_INSUFFICIENT, 0, 0, 1);
    EXPECT_OK(deposit(f, "C", "VND", 1, T0));
    EXPECT_OK(trade_fee(f, HOUSE, "C", "BTC", 10, PRICE, 0, 11, T0));
    assert_int_equal(balance(f, "C", 0), 0);
    /* withdrawals */
    EXPECT_REJ_FIGS(withdraw(f, "A", "VND", 5 * M - 6999, T0), CMP_RULE_BALANCE_INSUFFICIENT,
                    5 * M - 7000, 0, 5 * M - 6999);
    EXPECT_OK(withdraw(f, "A", "VND", 5 * M - 7000, T0));
    EXPECT_REJ(withdraw(f, "A", "BTC", 5 * M + 1, T0), CMP_RULE_BALANCE_INSUFFICIENT);
    EXPECT_OK(withdraw(f, "A", "BTC", 5 * M, T0));
    assert_int_equal(balance(f, "A", 0), 0);
    assert_int_equal(balance(f, "A", 1), 0);
}

static void
test_self_trade_fees(void **state)
{
    struct fx *f = *state;

    /* buyer and seller are one account: the seller's fee must be payable after the buyer's side
     * (evaluate used to accept this and apply then failed half-way) */
    fx_init(f, NULL);
    funded(f, "S", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 110, 100, T0);
    EXPECT_REJ_FIGS(trade_fee(f, "S", "S", "BTC", 100, PRICE, 10, 101, T0),
                    CMP_RULE_BALANCE_INSUFFICIENT, 0, 0, 1);
    EXPECT_OK(trade_fee(f, "S", "S", "BTC", 100, PRICE, 10, 100, T0));
    assert_int_equal(balance(f, "S", 0), 0);
    assert_int_equal(balance(f, "S", 1), 100);
}

static void
test_cooling_off(void **state)
{
    struct fx *f = *state;

    fx_init(f, "\"kyc.cooling_off_s\": 3600");
    funded(f, "A", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 50 * M, 0, T0);
    funded(f, "B", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 0, 10 * M, T0 + 1000);
    EXPECT_REJ_FIGS(trade(f, "A", HOUSE, 1000, T0 + HOUR_MS - 1), CMP_RULE_KYC_COOLING_OFF,
                    T0 + HOUR_MS, T0 + HOUR_MS - 1, 0);
    EXPECT_OK(trade(f, "A", HOUSE, 1000, T0 + HOUR_MS));
    /* the seller too */
    EXPECT_REJ_FIGS(trade(f, "A", "B", 1000, T0 + HOUR_MS + 999), CMP_RULE_KYC_COOLING_OFF,
                    T0 + 1000 + HOUR_MS, T0 + HOUR_MS + 999, 0);
    EXPECT_OK(trade(f, "A", "B", 1000, T0 + HOUR_MS + 1000));
}

static void
test_id_duplicate(void **state)
{
    struct fx *f = *state;
    struct ledger_tx tx;

    fx_init(f, NULL);
    funded(f, "A", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 1000, 0, T0);
    /* a rejected first attempt still takes the id */
    mk_trade(&tx, "T-1", "A", HOUSE, "BTC", 2000, PRICE, T0);
    EXPECT_REJ(run(f, &tx), CMP_RULE_BALANCE_INSUFFICIENT);
    EXPECT_OK(deposit(f, "A", "VND", 1000, T0));
    EXPECT_REJ(run(f, &tx), CMP_RULE_ID_DUPLICATE);
    mk_trade(&tx, "T-2", "A", HOUSE, "BTC", 2000, PRICE, T0);
    EXPECT_OK(run(f, &tx));
    EXPECT_REJ(run(f, &tx), CMP_RULE_ID_DUPLICATE);
    /* also in a later block */
    end_block(f, NULL);
    EXPECT_REJ(run(f, &tx), CMP_RULE_ID_DUPLICATE);
    EXPECT_REJ(check(f, &tx), CMP_RULE_ID_DUPLICATE);
    /* transfers */
    mk_xfer(&tx, LEDGER_TX_DEPOSIT, "X-1", "A", "VND", 1000, T0);
    EXPECT_OK(run(f, &tx));
    EXPECT_REJ(run(f, &tx), CMP_RULE_ID_DUPLICATE);
    mk_xfer(&tx, LEDGER_TX_WITHDRAWAL, "X-1", "A", "VND", 1000, T0);
    EXPECT_REJ(run(f, &tx), CMP_RULE_ID_DUPLICATE);
    mk_xfer(&tx, LEDGER_TX_WITHDRAWAL, "X-2", "A", "VND", 1 * M, T0);
    EXPECT_REJ(run(f, &tx), CMP_RULE_BALANCE_INSUFFICIENT);
    mk_xfer(&tx, LEDGER_TX_WITHDRAWAL, "X-2", "A", "VND", 1000, T0);
    EXPECT_REJ(run(f, &tx), CMP_RULE_ID_DUPLICATE);
    /* trade ids and transfer ids are separate namespaces */
    mk_trade(&tx, "X-1", "A", HOUSE, "BTC", 1, PRICE, T0);
    EXPECT_OK(run(f, &tx));
    /* a licence rejection takes the id too */
    mk_trade(&tx, "T-3", "A", HOUSE, "BTC", 1, PRICE, VALID_TO);
    EXPECT_REJ(run(f, &tx), CMP_RULE_LICENCE_WINDOW);
    tx.timestamp = T0;
    EXPECT_REJ(run(f, &tx), CMP_RULE_ID_DUPLICATE);
}

static void
test_amount_overflow(void **state)
{
    struct fx *f = *state;
    struct ledger_tx tx;

    fx_init(f, NULL);
    funded(f, "A", 3, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 1000, 0, T0);
    EXPECT_REJ_FIGS(trade_fee(f, "A", HOUSE, "BTC", INT64_C(1000000000000000000),
                              INT64_C(1000000000000), 0, 0, T0),
                    CMP_RULE_AMOUNT_OVERFLOW, 0, 0, 0);
    /* the notional fits, notional + fee does not */
    EXPECT_REJ(trade_fee(f, "A", HOUSE, "BTC", INT64_MAX, PRICE, 1, 0, T0),
               CMP_RULE_AMOUNT_OVERFLOW);
    EXPECT_REJ(trade_fee(f, "A", HOUSE, "BTC", INT64_MAX, PRICE, 0, 0, T0),
               CMP_RULE_LIMIT_PER_TRADE);
    /* a deposit whose VND value overflows */
    mk_dir(&tx, LEDGER_DIR_SET_PARAM, KEY_REG, NULL, T0);
    cpy(tx.u.directive.name, sizeof(tx.u.directive.name), "asset.ETH.ref_price_vnd");
    tx.u.directive.value = 2 * PRICE;
    EXPECT_OK(directive(f, &tx));
    EXPECT_REJ(deposit_tr(f, "A", "ETH", INT64_MAX / 2 + 1, T0), CMP_RULE_AMOUNT_OVERFLOW);
    /* a balance that would overflow */
    EXPECT_REJ(deposit(f, HOUSE, "VND", INT64_MAX, T0), CMP_RULE_AMOUNT_OVERFLOW);
}

/* ------------------------------------------------------------------ AML and Travel Rule */

static void
test_travel_rule(void **state)
{
    struct fx *f = *state;
    int64_t t = T0;
    struct ledger_tx tx;

    fx_init(f, NULL);
    funded(f, "A", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 0, 0, t);
    funded(f, "B", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 0, 0, t);
    funded(f, "C", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 0, 0, t);
    funded(f, "D", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 0, 0, t);
    funded(f, "E", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 0, 0, t);
    /* three transfers inside 24 h: the third reaches the threshold exactly */
    EXPECT_OK(xfer(f, LEDGER_TX_DEPOSIT, "A", "ETH", 5 * M, t, 0));
    EXPECT_OK(xfer(f, LEDGER_TX_DEPOSIT, "A", "ETH", 5 * M, t + HOUR_MS, 0));
    EXPECT_REJ_FIGS(xfer(f, LEDGER_TX_DEPOSIT, "A", "ETH", 3 * M, t + DAY_MS - 1, 0),
                    CMP_RULE_TRAVEL_RULE_MISSING, 13 * M, 10 * M, 3 * M);
    EXPECT_OK(xfer(f, LEDGER_TX_DEPOSIT, "A", "ETH", 3 * M - 1, t + DAY_MS - 1, 0));
    EXPECT_REJ(xfer(f, LEDGER_TX_DEPOSIT, "A", "ETH", 1, t + DAY_MS - 1, 0),
               CMP_RULE_TRAVEL_RULE_MISSING);
    EXPECT_OK(xfer(f, LEDGER_TX_DEPOSIT, "A", "ETH", 3 * M, t + DAY_MS - 1, 1));
    /* across 25 hours the first has left the window */
    EXPECT_OK(xfer(f, LEDGER_TX_DEPOSIT, "B", "ETH", 5 * M, t, 0));
    EXPECT_OK(xfer(f, LEDGER_TX_DEPOSIT, "B", "ETH", 5 * M, t + HOUR_MS, 0));
    EXPECT_OK(xfer(f, LEDGER_TX_DEPOSIT, "B", "ETH", 3 * M, t + 25 * HOUR_MS, 0));
    /* ... and at exactly 24 hours */
    EXPECT_OK(xfer(f, LEDGER_TX_DEPOSIT, "C", "ETH", 5 * M, t, 0));
    EXPECT_OK(xfer(f, LEDGER_TX_DEPOSIT, "C", "ETH", 5 * M, t + HOUR_MS, 0));
    EXPECT_OK(xfer(f, LEDGER_TX_DEPOSIT, "C", "ETH", 3 * M, t + DAY_MS, 0));
    /* one transfer at the threshold; other assets aggregate too */
    EXPECT_REJ_FIGS(xfer(f, LEDGER_TX_DEPOSIT, "D", "BTC", 13 * M, t, 0),
                    CMP_RULE_TRAVEL_RULE_MISSING, 13 * M, 0, 13 * M);
    EXPECT_OK(xfer(f, LEDGER_TX_DEPOSIT, "D", "BTC", 13 * M - 1, t, 0));
    EXPECT_REJ_FIGS(xfer(f, LEDGER_TX_DEPOSIT, "D", "ETH", 1, t, 0), CMP_RULE_TRAVEL_RULE_MISSING,
                    13 * M, 13 * M - 1, 1);
    /* incomplete records */
    for (int i = 0; i < 4; i++) {
        mk_xfer(&tx, LEDGER_TX_DEPOSIT, next_id(f, "x"), "D", "ETH", 13 * M, t);
        set_tr(&tx);
        if (i == 0)
            tx.u.transfer.travel_rule.status = LEDGER_TRAVEL_PENDING;
        else if (i == 1)
            tx.u.transfer.travel_rule.vasp[0] = '\0';
        else if (i == 2)
            memset(tx.u.transfer.travel_rule.originator_hash, 0, 32);
        else
            memset(tx.u.transfer.travel_rule.beneficiary_hash, 0, 32);
        EXPECT_REJ(run(f, &tx), CMP_RULE_TRAVEL_RULE_MISSING);
    }
    /* withdrawals count, in the same aggregate as deposits */
    EXPECT_OK(xfer(f, LEDGER_TX_DEPOSIT, "E", "ETH", 10 * M, t, 1));
    EXPECT_REJ_FIGS(xfer(f, LEDGER_TX_WITHDRAWAL, "E", "ETH", 3 * M, t + 1, 0),
                    CMP_RULE_TRAVEL_RULE_MISSING, 13 * M, 10 * M, 3 * M);
    EXPECT_OK(xfer(f, LEDGER_TX_WITHDRAWAL, "E", "ETH", 3 * M, t + 1, 1));
    /* VND never needs a record */
    EXPECT_OK(xfer(f, LEDGER_TX_DEPOSIT, "E", "VND", 20 * M, t + 2, 0));
    EXPECT_OK(xfer(f, LEDGER_TX_WITHDRAWAL, "E", "VND", 20 * M, t + 2, 0));
}

static void
test_sanctions(void **state)
{
    struct fx *f = *state;
    struct ledger_tx tx;

    fx_init(f, NULL);
    funded(f, "A", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 50 * M, 0, T0);
    funded(f, "B", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 50 * M, 0, T0);
    EXPECT_OK(deposit_tr(f, "B", "ETH", 10 * M, T0));
    mk_dir(&tx, LEDGER_DIR_SANCTION_ADD, KEY_REG, NULL, T0 + 1);
    cpy(tx.u.directive.account, sizeof(tx.u.directive.account), "A");
    EXPECT_OK(directive(f, &tx));
    EXPECT_REJ(directive(f, &tx), CMP_RULE_DIRECTIVE_INVALID); /* already listed */
    assert_true(cmp_engine_is_sanctioned(f->e, "A", NULL));
    EXPECT_REJ(trade(f, "A", HOUSE, 1000, T0 + 2), CMP_RULE_AML_SANCTIONED);
    EXPECT_REJ(trade(f, "B", "A", 1000, T0 + 2), CMP_RULE_AML_SANCTIONED);
    EXPECT_REJ(deposit(f, "A", "VND", 1000, T0 + 2), CMP_RULE_AML_SANCTIONED);
    EXPECT_REJ(withdraw(f, "A", "VND", 1000, T0 + 2), CMP_RULE_AML_SANCTIONED);
    /* listed before opening */
    cpy(tx.u.directive.account, sizeof(tx.u.directive.account), "BAD");
    EXPECT_OK(directive(f, &tx));
    EXPECT_REJ(open_acct(f, "BAD", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, T0 + 2),
               CMP_RULE_AML_SANCTIONED);
    /* a crypto address: the withdrawal's reference */
    mk_dir(&tx, LEDGER_DIR_SANCTION_ADD, KEY_REG, NULL, T0 + 3);
    cpy(tx.u.directive.address, sizeof(tx.u.directive.address), "0xdeadbeef");
    EXPECT_OK(directive(f, &tx));
    assert_true(cmp_engine_is_sanctioned(f->e, NULL, "0xdeadbeef"));
    mk_xfer(&tx, LEDGER_TX_WITHDRAWAL, "W-1", "B", "ETH", 1000, T0 + 4);
    cpy(tx.u.transfer.reference, sizeof(tx.u.transfer.reference), "0xdeadbeef");
    EXPECT_REJ(run(f, &tx), CMP_RULE_AML_SANCTIONED);
    mk_xfer(&tx, LEDGER_TX_DEPOSIT, "D-1", "B", "ETH", 1000, T0 + 4);
    cpy(tx.u.transfer.reference, sizeof(tx.u.transfer.reference), "0xdeadbeef");
    EXPECT_REJ(run(f, &tx), CMP_RULE_AML_SANCTIONED);
    mk_xfer(&tx, LEDGER_TX_WITHDRAWAL, "W-2", "B", "ETH", 1000, T0 + 4);
    cpy(tx.u.transfer.reference, sizeof(tx.u.transfer.reference), "0xfeedface");
    EXPECT_OK(run(f, &tx));
    /* a fiat reference is a bank reference, not an address */
    mk_xfer(&tx, LEDGER_TX_WITHDRAWAL, "W-3", "B", "VND", 1000, T0 + 4);
    cpy(tx.u.transfer.reference, sizeof(tx.u.transfer.reference), "0xdeadbeef");
    EXPECT_OK(run(f, &tx));
    /* removal */
    mk_dir(&tx, LEDGER_DIR_SANCTION_REMOVE, KEY_REG, NULL, T0 + 5);
    cpy(tx.u.directive.account, sizeof(tx.u.directive.account), "A");
    EXPECT_OK(directive(f, &tx));
    EXPECT_REJ(directive(f, &tx), CMP_RULE_DIRECTIVE_INVALID); /* not listed */
    assert_false(cmp_engine_is_sanctioned(f->e, "A", NULL));
    EXPECT_OK(trade(f, "A", HOUSE, 1000, T0 + 6));
}

static void
test_screening(void **state)
{
    struct fx *f = *state;
    struct ledger_tx tx;

    fx_init(f, NULL);
    funded(f, "A", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 0, 0, T0);
    mk_xfer(&tx, LEDGER_TX_DEPOSIT, "S-1", "A", "BTC", 1000, T0);
    tx.u.transfer.has_screening = 1;
    cpy(tx.u.transfer.screening.provider, sizeof(tx.u.transfer.screening.provider), "chainscan");
    tx.u.transfer.screening.score = 80;
    EXPECT_REJ_FIGS(run(f, &tx), CMP_RULE_AML_SCREENING, 80, 80, 80);
    cpy(tx.u.transfer.transfer_id, sizeof(tx.u.transfer.transfer_id), "S-2");
    tx.u.transfer.screening.score = 79;
    EXPECT_OK(run(f, &tx));
    /* withdrawals are not screened by this rule */
    mk_xfer(&tx, LEDGER_TX_WITHDRAWAL, "S-3", "A", "BTC", 1000, T0);
    tx.u.transfer.has_screening = 1;
    tx.u.transfer.screening.score = 100;
    EXPECT_OK(run(f, &tx));
    /* 101 switches the rule off */
    mk_dir(&tx, LEDGER_DIR_SET_PARAM, KEY_REG, NULL, T0);
    cpy(tx.u.directive.name, sizeof(tx.u.directive.name), "aml.screening_block_score");
    tx.u.directive.value = 101;
    EXPECT_OK(directive(f, &tx));
    mk_xfer(&tx, LEDGER_TX_DEPOSIT, "S-4", "A", "BTC", 1000, T0);
    tx.u.transfer.has_screening = 1;
    tx.u.transfer.screening.score = 100;
    EXPECT_OK(run(f, &tx));
}

/* The alert record and its index are in the next change set, and the record decodes. */
static void
expect_alert_recorded(struct fx *f, const struct cmp_alert *a)
{
    struct ledger_changes ch;
    uint8_t k[33];
    int found = 0, indexed = 0;

    ledger_changes_init(&ch);
    end_block(f, &ch);
    k[0] = LEDGER_K_ALERT;
    memcpy(k + 1, a->id, 32);
    for (size_t i = 0; i < ch.n; i++) {
        const struct ledger_change *c = &ch.v[i];

        if (c->klen == 33 && memcmp(c->key, k, 33) == 0) {
            struct cmp_alert d;

            assert_int_equal(cmp_alert_decode(&d, c->val, c->vlen, NULL), SBX_OK);
            assert_int_equal(d.kind, a->kind);
            assert_string_equal(d.account, a->account);
            assert_int_equal(d.time_ms, a->time_ms);
            assert_int_equal(d.amount_vnd, a->amount_vnd);
            assert_memory_equal(d.txid, a->txid, 32);
            assert_memory_equal(d.id, a->id, 32);
            found++;
        }
        if (c->key[0] == LEDGER_K_ALERT_IDX && c->klen == 42 && c->key[1] == a->kind &&
            memcmp(c->key + 10, a->id, 32) == 0)
            indexed++;
    }
    ledger_changes_release(&ch);
    assert_int_equal(found, 1);
    assert_int_equal(indexed, 1);
}

static void
test_structuring_large_value(void **state)
{
    struct fx *f = *state;
    struct cmp_alert a;
    int64_t t = T0;

    fx_init(f, NULL);
    funded(f, "S", 3, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 5000 * M, 0, t);
    funded(f, "P", 3, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 5000 * M, 1000 * M, t);
    /* three near-threshold trades (each in [320M, 400M)) in 24 h; the house has no alerts */
    EXPECT_NO_ALERTS(trade(f, "S", HOUSE, 320 * M, t));
    EXPECT_NO_ALERTS(trade(f, "S", HOUSE, 400 * M - 1, t + HOUR_MS));
    EXPECT_NO_ALERTS(trade(f, "S", HOUSE, 320 * M - 1, t + 2 * HOUR_MS)); /* below the band */
    EXPECT_ALERTS(trade(f, "S", HOUSE, 350 * M, t + DAY_MS - 1), (size_t)1, CMP_ALERT_STRUCTURING,
                  "S");
    a = f->res.alerts[0];
    assert_int_equal(a.amount_vnd, 350 * M);
    assert_int_equal(a.time_ms, t + DAY_MS - 1);
    assert_memory_equal(a.txid, f->txid, 32);
    expect_alert_recorded(f, &a);
    /* large value at exactly the threshold, for both parties, not structuring */
    EXPECT_ALERTS(trade(f, "S", "P", 400 * M, t + DAY_MS), (size_t)2, CMP_ALERT_LARGE_VALUE, "S",
                  CMP_ALERT_LARGE_VALUE, "P");
    assert_memory_not_equal(f->res.alerts[0].id, f->res.alerts[1].id, 32);
    assert_int_equal(f->res.alerts[0].amount_vnd, 400 * M);
    EXPECT_NO_ALERTS(trade(f, "P", HOUSE, 320 * M - 1, t + DAY_MS));
    /* S: two near ones left in the window (t+1h, t+24h-1ms): one more makes three */
    EXPECT_ALERTS(trade(f, "S", HOUSE, 399 * M, t + DAY_MS + 1), (size_t)1, CMP_ALERT_STRUCTURING,
                  "S");
    /* a deposit at the threshold */
    EXPECT_ALERTS(deposit(f, "P", "VND", 400 * M, t + DAY_MS + 2), (size_t)1, CMP_ALERT_LARGE_VALUE,
                  "P");
    EXPECT_NO_ALERTS(deposit(f, "P", "VND", 1, t + DAY_MS + 2));
    /* spread over more than 24 h: none */
    EXPECT_NO_ALERTS(trade(f, "P", HOUSE, 330 * M, t + 3 * DAY_MS));
    EXPECT_NO_ALERTS(trade(f, "P", HOUSE, 330 * M, t + 4 * DAY_MS));
    EXPECT_NO_ALERTS(trade(f, "P", HOUSE, 330 * M, t + 5 * DAY_MS));
}

static void
test_rapid_in_out(void **state)
{
    struct fx *f = *state;
    int64_t t = T0;

    fx_init(f, NULL);
    funded(f, "A", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 0, 0, t);
    funded(f, "B", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 0, 0, t);
    funded(f, "C", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 0, 0, t);
    funded(f, "D", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 0, 0, t);
    EXPECT_NO_ALERTS(deposit(f, "A", "VND", 10 * M, t));
    EXPECT_ALERTS(withdraw(f, "A", "VND", 8 * M, t + HOUR_MS), (size_t)1, CMP_ALERT_RAPID_IN_OUT,
                  "A");
    assert_int_equal(f->res.alerts[0].amount_vnd, 8 * M);
    EXPECT_NO_ALERTS(deposit(f, "B", "VND", 10 * M, t));
    EXPECT_NO_ALERTS(withdraw(f, "B", "VND", 8 * M - 1, t + HOUR_MS));
    EXPECT_NO_ALERTS(deposit(f, "C", "VND", 10 * M, t));
    EXPECT_NO_ALERTS(withdraw(f, "C", "VND", 8 * M, t + DAY_MS));
    /* the deposit must be of the same asset */
    EXPECT_NO_ALERTS(deposit_tr(f, "D", "ETH", 10 * M, t));
    EXPECT_NO_ALERTS(deposit(f, "D", "VND", 20 * M, t));
    EXPECT_NO_ALERTS(withdraw(f, "D", "VND", 8 * M, t + 1));
    xfer(f, LEDGER_TX_WITHDRAWAL, "D", "ETH", 8 * M, t + 2, 1);
    EXPECT_ALERTS(&f->res, (size_t)1, CMP_ALERT_RAPID_IN_OUT, "D");
}

static void
test_velocity(void **state)
{
    struct fx *f = *state;
    int64_t t = T0;

    fx_init(f, NULL);
    funded(f, "V", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 0, 0, t);
    for (int i = 1; i <= 19; i++)
        EXPECT_NO_ALERTS(deposit(f, "V", "VND", 1000, t + i * MIN_MS));
    EXPECT_ALERTS(deposit(f, "V", "VND", 1000, t + 20 * MIN_MS), (size_t)1, CMP_ALERT_VELOCITY,
                  "V");
    EXPECT_NO_ALERTS(trade(f, "V", HOUSE, 1000, t + 21 * MIN_MS)); /* the 21st: already raised */
    /* 24 h after the second, 19 are left in the window: this one is the 20th again */
    EXPECT_NO_ALERTS(trade(f, "V", HOUSE, 1000, t + DAY_MS + 1 * MIN_MS));
    EXPECT_ALERTS(trade(f, "V", HOUSE, 1000, t + DAY_MS + 3 * MIN_MS), (size_t)1,
                  CMP_ALERT_VELOCITY, "V");
}

static void
test_dormant(void **state)
{
    struct fx *f = *state;
    struct ledger_tx tx;
    int64_t t = T0, dormant = 180 * DAY_MS;

    fx_init(f, NULL);
    funded(f, "Y", 3, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 1000, 0, t);
    funded(f, "Z", 3, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 1000, 0, t);
    funded(f, "W", 3, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 1000, 0, t);
    funded(f, "X", 3, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 1000 * M, 0, t);
    /* one millisecond short of dormancy */
    EXPECT_OK(deposit(f, "Y", "VND", 400 * M, t + dormant - 1));
    /* dormant: at the trigger refused, below it accepted, then the day's total counts */
    EXPECT_REJ_FIGS(deposit(f, "Z", "VND", 400 * M, t + dormant), CMP_RULE_KYC_REFRESH_REQUIRED,
                    400 * M, 0, 400 * M);
    EXPECT_OK(deposit(f, "Z", "VND", 400 * M - 1, t + dormant));
    EXPECT_REJ_FIGS(deposit(f, "Z", "VND", 1, t + dormant + 1000), CMP_RULE_KYC_REFRESH_REQUIRED,
                    400 * M, 400 * M - 1, 1);
    EXPECT_OK(run(f, mk_update(&tx, "Z", 3, 0, t + dormant + 2000)));
    EXPECT_OK(deposit(f, "Z", "VND", 1, t + dormant + 3000));
    EXPECT_OK(deposit(f, "Z", "VND", 500 * M, t + dormant + 4000));
    /* re-verified while dormant: the whole day is free */
    EXPECT_OK(run(f, mk_update(&tx, "W", 3, 0, t + 200 * DAY_MS)));
    EXPECT_OK(deposit(f, "W", "VND", 400 * M, t + 200 * DAY_MS + 1000));
    EXPECT_OK(deposit(f, "W", "VND", 400 * M, t + 200 * DAY_MS + 2000));
    /* a trade party */
    EXPECT_REJ_FIGS(trade(f, "X", HOUSE, 400 * M, t + dormant), CMP_RULE_KYC_REFRESH_REQUIRED,
                    400 * M, 0, 400 * M);
    EXPECT_OK(trade(f, "X", HOUSE, 400 * M - 1, t + dormant));
    /* the house is exempt */
    EXPECT_OK(deposit(f, HOUSE, "VND", 400 * M, t + 2 * dormant));
}

/* ------------------------------------------------------------------ directives, attestations */

static void
test_directive_quorum(void **state)
{
    struct fx *f = *state;
    struct ledger_tx tx;
    static const int one[] = {KEY_REG + 1, 0}, bad[] = {KEY_OTHER, 0},
                     two[] = {KEY_REG + 1, KEY_REG + 2, 0};

    fx_init_opt(f, NULL, 3, 2, 0);
    mk_dir(&tx, LEDGER_DIR_HALT, KEY_REG, NULL, T0);
    EXPECT_REJ_FIGS(directive(f, &tx), CMP_RULE_DIRECTIVE_QUORUM, 2, 1, 0);
    assert_false(cmp_engine_market_halted(f->e));
    mk_dir(&tx, LEDGER_DIR_HALT, KEY_OTHER, one, T0);
    EXPECT_REJ(directive(f, &tx), CMP_RULE_AUTH_SIGNER);
    mk_dir(&tx, LEDGER_DIR_HALT, KEY_REG, bad, T0);
    EXPECT_REJ(directive(f, &tx), CMP_RULE_AUTH_SIGNER);
    mk_dir(&tx, LEDGER_DIR_HALT, KEY_REG + 2, one, T0);
    EXPECT_OK(directive(f, &tx));
    assert_true(cmp_engine_market_halted(f->e));
    mk_dir(&tx, LEDGER_DIR_RESUME, KEY_REG, two, T0);
    EXPECT_OK(directive(f, &tx));
    assert_false(cmp_engine_market_halted(f->e));
    assert_true(cmp_engine_is_regulator(f->e, tx.signer));
    key(tx.signer, KEY_OPERATOR);
    assert_false(cmp_engine_is_regulator(f->e, tx.signer));
    /* an unknown kind */
    mk_dir(&tx, 99, KEY_REG, one, T0);
    EXPECT_REJ(directive(f, &tx), CMP_RULE_DIRECTIVE_INVALID);
}

static void
test_attestation(void **state)
{
    struct fx *f = *state;
    struct ledger_tx tx;
    uint64_t h;
    int64_t at;

    fx_init(f, NULL);
    f->height = 10;
    EXPECT_OK(run(f, mk_attest(&tx, KEY_REG, 5, T0)));
    cmp_engine_attested(f->e, 0, &h, &at);
    assert_int_equal(h, 5);
    assert_int_equal(at, T0);
    cmp_engine_attested(f->e, 1, &h, &at);
    assert_int_equal(h, 0);
    EXPECT_REJ_FIGS(run(f, mk_attest(&tx, KEY_REG, 4, T0 + 1)), CMP_RULE_ATTESTATION_INVALID, 10, 5,
                    4);
    EXPECT_REJ_FIGS(run(f, mk_attest(&tx, KEY_REG, 10, T0 + 1)), CMP_RULE_ATTESTATION_INVALID, 10,
                    5, 10);
    EXPECT_OK(run(f, mk_attest(&tx, KEY_REG, 5, T0 + 2)));
    EXPECT_OK(run(f, mk_attest(&tx, KEY_REG, 9, T0 + 3)));
    EXPECT_OK(run(f, mk_attest(&tx, KEY_REG + 1, 1, T0 + 3)));
    EXPECT_REJ(run(f, mk_attest(&tx, KEY_OTHER, 1, T0 + 3)), CMP_RULE_AUTH_SIGNER);
    cmp_engine_attested(f->e, 0, &h, &at);
    assert_int_equal(h, 9);
}

static void
test_supervision_lag(void **state)
{
    struct fx *f = *state;
    struct ledger_tx tx;
    int64_t lag;

    /* supervision.lag is a gate the node applies before accepting business, not a verdict */
    fx_init(f, NULL);
    assert_int_equal(cmp_engine_supervision_ok(f->e, GENESIS_MS + 300000, &lag), SBX_OK);
    assert_int_equal(lag, 300000);
    assert_int_equal(cmp_engine_supervision_ok(f->e, GENESIS_MS + 300001, &lag), SBX_EUNAVAIL);
    assert_int_equal(lag, 300001);
    f->height = 3;
    EXPECT_OK(run(f, mk_attest(&tx, KEY_REG + 1, 2, T0)));
    assert_int_equal(cmp_engine_supervision_ok(f->e, T0 + 300000, &lag), SBX_OK);
    assert_int_equal(cmp_engine_supervision_ok(f->e, T0 + 300001, &lag), SBX_EUNAVAIL);
    assert_int_equal(lag, 300001);
    mk_dir(&tx, LEDGER_DIR_SET_PARAM, KEY_REG, NULL, T0);
    cpy(tx.u.directive.name, sizeof(tx.u.directive.name), "supervision.max_lag_s");
    tx.u.directive.value = 0;
    EXPECT_OK(directive(f, &tx));
    assert_int_equal(cmp_engine_supervision_ok(f->e, T0 + 10 * DAY_MS, &lag), SBX_OK);
    rules_seen[CMP_RULE_SUPERVISION_LAG] = 1;
}

/* ------------------------------------------------------------------ purity, determinism */

static void
test_evaluate_is_pure(void **state)
{
    struct fx *f = *state;
    struct ledger_changes ch;
    struct ledger_tx tx;
    struct cmp_result r1;
    uint8_t h1[32], h2[32];

    fx_init(f, NULL);
    funded(f, "A", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 500 * M, 0, T0);
    end_block(f, NULL);
    mk_trade(&tx, "T-pure", "A", HOUSE, "BTC", 100 * M, PRICE, T0 + 1);
    EXPECT_OK(check(f, &tx));
    r1 = f->res;
    EXPECT_OK(check(f, &tx));
    expect_same_verdict(&r1.verdict, &f->res.verdict);
    ledger_changes_init(&ch);
    assert_int_equal(cmp_collect(f->e, &ch), SBX_OK);
    assert_int_equal(ch.n, 0);
    ledger_changes_hash(&ch, h1);
    ledger_changes_release(&ch);
    EXPECT_OK(run(f, &tx));
    ledger_changes_init(&ch);
    assert_int_equal(cmp_collect(f->e, &ch), SBX_OK);
    assert_true(ch.n > 0);
    ledger_changes_hash(&ch, h2);
    ledger_changes_release(&ch);
    assert_memory_not_equal(h1, h2, 32);
}

#define SEQ_ACCOUNTS 20
#define SEQ_TRADES_AT (3 + 3 * SEQ_ACCOUNTS) /* index of the first trade in the sequence */
#define SEQ_TWEAKED 77                       /* the trade that `tweak` changes */

static const char *
seq_acct(int i)
{
    static char names[SEQ_ACCOUNTS][16];

    snprintf(names[i], sizeof(names[i]), "C%02d", i);
    return names[i];
}

/* Transaction `i` of a fixed ~200-transaction sequence; `tweak` adds one base unit to one trade.
 * Returns 0 past the end. */
static int
seq_tx(struct ledger_tx *tx, int i, int tweak, uint32_t *rng)
{
    int64_t t = T0 + (int64_t)i * 7 * MIN_MS;
    char id[32];

    if (i == 0)
        return mk_open(tx, HOUSE, 3, LEDGER_CLASS_DOMESTIC_ORG, t), 1;
    if (i == 1) {
        mk_xfer(tx, LEDGER_TX_DEPOSIT, "H-BTC", HOUSE, "BTC", HOUSE_FUNDS, t);
        set_tr(tx);
        return 1;
    }
    if (i == 2)
        return mk_xfer(tx, LEDGER_TX_DEPOSIT, "H-VND", HOUSE, "VND", HOUSE_FUNDS, t), 1;
    i -= 3;
    if (i < SEQ_ACCOUNTS)
        return mk_open(tx, seq_acct(i), 1 + i % 3,
                       i % 4 == 3 ? LEDGER_CLASS_FOREIGN_INDIVIDUAL
                                  : LEDGER_CLASS_DOMESTIC_INDIVIDUAL,
                       t),
               1;
    i -= SEQ_ACCOUNTS;
    if (i < 2 * SEQ_ACCOUNTS) {
        snprintf(id, sizeof(id), "D-%d", i);
        /* some BTC deposits are too large for tier 1's holding limit */
        mk_xfer(tx, LEDGER_TX_DEPOSIT, id, seq_acct(i / 2), i % 2 ? "VND" : "BTC",
                (int64_t)(i / 2 + 1) * 30 * M, t);
        set_tr(tx);
        return 1;
    }
    i -= 2 * SEQ_ACCOUNTS;
    if (i == 60) { /* a directive in the middle: lower tier 2's daily limit */
        mk_dir(tx, LEDGER_DIR_SET_PARAM, KEY_REG, NULL, t);
        cpy(tx->u.directive.name, sizeof(tx->u.directive.name), "limit.daily.tier2");
        tx->u.directive.value = 150 * M;
        return 1;
    }
    if (i == 100) {
        mk_dir(tx, LEDGER_DIR_FREEZE, KEY_REG, NULL, t);
        cpy(tx->u.directive.account, sizeof(tx->u.directive.account), seq_acct(5));
        return 1;
    }
    if (i < 157) {
        int b, s;
        int64_t qty;

        *rng = *rng * 1103515245u + 12345u;
        b = (int)((*rng >> 8) % (SEQ_ACCOUNTS + 1));
        *rng = *rng * 1103515245u + 12345u;
        s = (int)((*rng >> 8) % (SEQ_ACCOUNTS + 1));
        *rng = *rng * 1103515245u + 12345u;
        qty = 1 + (int64_t)((*rng >> 4) % (120 * M)); /* some over tier 1's per-trade limit */
        if (i == SEQ_TWEAKED && tweak)
            qty++;
        snprintf(id, sizeof(id), "T-%d", i % 150); /* the last few reuse ids */
        mk_trade(tx, id, b == SEQ_ACCOUNTS ? HOUSE : seq_acct(b),
                 s == SEQ_ACCOUNTS ? HOUSE : seq_acct(s), i % 5 == 4 ? "ETH" : "BTC", qty, PRICE,
                 t);
        tx->u.trade.fee_buyer = qty / 1000;
        tx->u.trade.fee_seller = qty / 2000;
        if (i % 23 == 22)
            cpy(tx->u.trade.buyer, sizeof(tx->u.trade.buyer), "NOBODY");
        return 1;
    }
    return 0;
}

struct seq_out {
    uint8_t digest[32];
    size_t ntx, accepted, rejected, alerts;
    uint8_t verdicts[256];
};

static void
run_sequence(int tweak, struct seq_out *out)
{
    struct fx f;
    struct ledger_tx tx;
    struct ledger_changes ch;
    uint8_t h[32];
    uint32_t rng = 12345;
    int i;

    memset(out, 0, sizeof(*out));
    fx_init_opt(&f, NULL, 2, 1, 1);
    ledger_changes_init(&ch);
    /* the genesis records come first */
    assert_int_equal(cmp_collect(f.e, &ch), SBX_OK);
    ledger_changes_hash(&ch, h);
    ledger_state_digest_next(out->digest, h, out->digest);
    ledger_changes_reset(&ch);
    for (i = 0; seq_tx(&tx, i, tweak, &rng); i++) {
        const struct cmp_result *r = run(&f, &tx);

        assert_true(i < (int)sizeof(out->verdicts));
        out->verdicts[i] =
            r->verdict.status == LEDGER_VERDICT_ACCEPTED ? 0 : (uint8_t)r->verdict.rule;
        out->accepted += r->verdict.status == LEDGER_VERDICT_ACCEPTED;
        out->rejected += r->verdict.status == LEDGER_VERDICT_REJECTED;
        out->alerts += r->nalerts;
        if (i % 10 == 9) {
            assert_int_equal(cmp_collect(f.e, &ch), SBX_OK);
            ledger_changes_hash(&ch, h);
            ledger_state_digest_next(out->digest, h, out->digest);
            ledger_changes_reset(&ch);
            f.height++;
        }
    }
    assert_int_equal(cmp_collect(f.e, &ch), SBX_OK);
    ledger_changes_hash(&ch, h);
    ledger_state_digest_next(out->digest, h, out->digest);
    out->ntx = (size_t)i;
    ledger_changes_release(&ch);
    fx_release(&f);
}

static void
test_determinism(void **state)
{
    struct seq_out a, b, c;

    (void)state;
    run_sequence(0, &a);
    run_sequence(0, &b);
    run_sequence(1, &c);
    assert_true(a.ntx >= 200);
    /* the sequence exercises both outcomes and several rules */
    assert_true(a.accepted > 100);
    assert_true(a.rejected > 20);
    assert_true(a.alerts > 0);
    assert_int_equal(a.verdicts[SEQ_TRADES_AT + SEQ_TWEAKED], 0); /* an accepted trade */
    assert_int_equal(c.verdicts[SEQ_TRADES_AT + SEQ_TWEAKED], 0);
    assert_int_equal(a.accepted, b.accepted);
    assert_memory_equal(a.verdicts, b.verdicts, sizeof(a.verdicts));
    assert_memory_equal(a.digest, b.digest, 32);
    /* one base unit in one trade changes the digest */
    assert_memory_not_equal(a.digest, c.digest, 32);
}

/* ------------------------------------------------------------------ persistence */

static void
commit_changes(struct ledger_store *s, struct ledger_changes *ch)
{
    struct ledger_store_batch *b = ledger_store_batch_new();
    struct sbx_err err;

    assert_non_null(b);
    ledger_changes_finish(ch);
    ledger_store_batch_changes(b, ch);
    if (ledger_store_commit(s, b, 0, &err) != SBX_OK)
        fail_msg("commit: %s", err.msg);
    ledger_store_batch_free(b);
}

static void
test_persistence(void **state)
{
    struct fx *f = *state;
    struct ledger_store *s = NULL;
    struct cmp_engine *e2 = NULL;
    struct ledger_changes ch, ch2;
    struct ledger_tx tx;
    struct cmp_result r2;
    struct sbx_err err;
    struct cmp_block_ctx ctx;
    uint8_t h1[32], h2[32], txid[32];
    char *dir = test_tmpdir();
    uint32_t rng = 777;
    int64_t tp;
    size_t nalerts = 0;
    int i;

    assert_non_null(dir);
    fx_init_opt(f, NULL, 2, 1, 1);
    if (ledger_store_open(&s, dir, 1, &err) != SBX_OK)
        fail_msg("store open: %s", err.msg);
    ledger_changes_init(&ch);
    ledger_changes_init(&ch2);
    for (i = 0; seq_tx(&tx, i, 0, &rng); i++) {
        run(f, &tx);
        if (i % 10 == 9) {
            assert_int_equal(cmp_collect(f->e, &ch), SBX_OK);
            commit_changes(s, &ch);
            ledger_changes_reset(&ch);
            f->height++;
        }
    }
    /* a sanction and an alert-raising trade, then everything committed */
    tp = tx.timestamp + MIN_MS; /* right after the sequence: its rolling windows still count */
    mk_dir(&tx, LEDGER_DIR_SANCTION_ADD, KEY_REG, NULL, tp);
    cpy(tx.u.directive.account, sizeof(tx.u.directive.account), seq_acct(7));
    EXPECT_OK(run(f, &tx));
    assert_int_equal(cmp_collect(f->e, &ch), SBX_OK);
    commit_changes(s, &ch);
    ledger_changes_reset(&ch);
    ledger_store_close(s);
    s = NULL;

    /* reopen and load into a fresh engine from the same genesis */
    if (ledger_store_open(&s, dir, 0, &err) != SBX_OK)
        fail_msg("store reopen: %s", err.msg);
    assert_int_equal(cmp_engine_new(&e2, &f->genesis, &err), SBX_OK);
    if (cmp_engine_load(e2, s, &err) != SBX_OK)
        fail_msg("cmp_engine_load: %s", err.msg);
    assert_int_equal(ledger_state_count(cmp_engine_state(e2)),
                     ledger_state_count(cmp_engine_state(f->e)));
    assert_int_equal(cmp_engine_params(e2)->version, cmp_engine_params(f->e)->version);
    assert_true(cmp_engine_is_sanctioned(e2, seq_acct(7), NULL));
    assert_true(ledger_state_get(cmp_engine_state(e2), seq_acct(5))->frozen);

    /* the next transactions get the same verdicts, alerts and change sets on both; the small
     * deposits at the end cross the velocity threshold, which reads the reloaded windows */
    for (i = 0; i < 7 + 3 * 22; i++) {
        int64_t t = tp + 1000 + i;

        if (i == 0)
            mk_trade(&tx, "T-3", seq_acct(2), HOUSE, "BTC", 1000, PRICE, t); /* duplicate id */
        else if (i == 1)
            mk_trade(&tx, "P-1", seq_acct(7), HOUSE, "BTC", 1000, PRICE, t); /* sanctioned */
        else if (i == 2)
            mk_trade(&tx, "P-2", seq_acct(5), HOUSE, "BTC", 1000, PRICE, t); /* frozen */
        else if (i == 3)
            mk_trade(&tx, "P-3", seq_acct(2), HOUSE, "BTC", 150 * M, PRICE, t); /* tier 3 */
        else if (i == 4)
            mk_xfer(&tx, LEDGER_TX_WITHDRAWAL, "D-1", seq_acct(1), "VND", 1, t); /* duplicate */
        else if (i == 5)
            mk_xfer(&tx, LEDGER_TX_DEPOSIT, "P-D", seq_acct(2), "VND", 10 * M, t);
        else if (i == 6)
            mk_trade(&tx, "P-4", seq_acct(2), HOUSE, "BTC", 1000, PRICE, t);
        else
            mk_xfer(&tx, LEDGER_TX_DEPOSIT, next_id(f, "P"), seq_acct(2 + 2 * ((i - 7) % 3)), "VND",
                    1000, t);
        ctx.height = f->height;
        ctx.time_ms = t;
        txid_for(txid, 90000 + (uint32_t)i);
        assert_int_equal(cmp_process(f->e, &tx, txid, &ctx, &f->res), SBX_OK);
        assert_int_equal(cmp_process(e2, &tx, txid, &ctx, &r2), SBX_OK);
        expect_same_verdict(&f->res.verdict, &r2.verdict);
        assert_int_equal(f->res.nalerts, r2.nalerts);
        for (size_t k = 0; k < r2.nalerts; k++) {
            assert_int_equal(f->res.alerts[k].kind, r2.alerts[k].kind);
            assert_memory_equal(f->res.alerts[k].id, r2.alerts[k].id, 32);
            nalerts += f->res.alerts[k].kind == CMP_ALERT_VELOCITY;
        }
        if (i == 6)
            assert_int_equal(f->res.verdict.status, LEDGER_VERDICT_ACCEPTED);
    }
    assert_int_equal(nalerts, 3);
    assert_int_equal(cmp_collect(f->e, &ch), SBX_OK);
    assert_int_equal(cmp_collect(e2, &ch2), SBX_OK);
    ledger_changes_hash(&ch, h1);
    ledger_changes_hash(&ch2, h2);
    assert_int_equal(ch.n, ch2.n);
    assert_memory_equal(h1, h2, 32);

    ledger_changes_release(&ch);
    ledger_changes_release(&ch2);
    cmp_engine_free(e2);
    ledger_store_close(s);
    test_rmtree(dir);
    free(dir);
}

/* ------------------------------------------------------------------ coverage of rule ids */

static void
test_every_rule_produced(void **state)
{
    int missing = 0;

    (void)state;
    for (int r = 1; r <= CMP_RULE_MAX; r++) {
        if (!rules_seen[r]) {
            print_error("no test produced rule %s\n", cmp_rule_name(r));
            missing++;
        }
    }
    assert_int_equal(missing, 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_rule_names),
        T(test_params_licence),
        T(test_licence_window),
        T(test_auth_signer),
        T(test_accounts),
        T(test_participants_house_last),
        T(test_halts),
        T(test_licence_status),
        T(test_trading_hours),
        T(test_settlement_currency),
        T(test_per_trade_tiers),
        T(test_foreign_factor),
        T(test_daily_midnight),
        T(test_monthly_boundary),
        T(test_holding),
        T(test_exchange_limits),
        T(test_set_param),
        T(test_frozen),
        T(test_balance),
        T(test_self_trade_fees),
        T(test_cooling_off),
        T(test_id_duplicate),
        T(test_amount_overflow),
        T(test_travel_rule),
        T(test_sanctions),
        T(test_screening),
        T(test_structuring_large_value),
        T(test_rapid_in_out),
        T(test_velocity),
        T(test_dormant),
        T(test_directive_quorum),
        T(test_attestation),
        T(test_supervision_lag),
        T(test_evaluate_is_pure),
        T(test_determinism),
        T(test_persistence),
        T(test_every_rule_produced), /* last: reads what the others produced */
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
