/* The fixture of the compliance/ unit tests: see test_compliance.h. */
#include "tests/unit/test_common.h"
#include "tests/unit/test_compliance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compliance/params.h"
#include "ledger/store.h"
#include "util/time.h"

/* Local (UTC+7) civil time -> ms since the epoch. */
int64_t
local_ms(int64_t y, unsigned mo, unsigned d, int h, int mi, int s, int ms)
{
    return time_days_from_civil(y, mo, d) * DAY_MS + h * HOUR_MS + mi * MIN_MS + s * 1000 + ms -
           OFFSET_MIN * MIN_MS;
}

void
key(uint8_t out[32], int tag)
{
    memset(out, tag, 32);
}

int rules_seen[CMP_RULE_MAX + 1];

char *
make_licence(const char *params, const char *house)
{
    char raw[4096];
    struct sbx_err err;
    char *out;
    int n;

    /* deliberately not canonical (order, spaces): canonicalize must sort it */
    n = snprintf(raw, sizeof(raw),
                 "{ \"params\": { \"licence.valid_to\": %lld, \"licence.valid_from\": %lld, "
                 "\"asset.ETH.ref_price_vnd\": %lld, \"asset.BTC.ref_price_vnd\": %lld%s%s%s }, "
                 "\"licence_id\": \"DN-SBX-2025-001\"%s%s%s }",
                 (long long)VALID_TO, (long long)VALID_FROM, (long long)PRICE, (long long)PRICE,
                 /* the fixture trades weeks after genesis: price.stale only where a test asks */
                 params && strstr(params, "price.max_age_s") ? "" : ", \"price.max_age_s\": 0",
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
    test_genesis_assets(gen, licence);
}

void
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

void
fx_init(struct fx *f, const char *params)
{
    fx_init_opt(f, params, 2, 1, 0);
}

void
fx_release(struct fx *f)
{
    cmp_engine_free(f->e);
    f->e = NULL;
    free(f->licence);
    f->licence = NULL;
}

int
fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    *state = f;
    return f == NULL;
}

int
fx_teardown(void **state)
{
    struct fx *f = *state;

    if (f) {
        fx_release(f);
        free(f);
    }
    return 0;
}

/* ------------------------------------------------------------------ transactions */

void
txid_for(uint8_t out[32], uint32_t n)
{
    test_txid_for(out, 0xa5, n);
}

void
cpy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src);
}

struct ledger_tx *
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

struct ledger_tx *
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

struct ledger_tx *
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
    if (strcmp(asset, "VND") != 0) {
        /* crypto carries a screening result (aml.screening_required), a clean one */
        t->has_screening = 1;
        cpy(t->screening.provider, sizeof(t->screening.provider), "chainscan");
        t->screening.score = 0;
    }
    return tx;
}

/* A complete, accepted Travel Rule record. */
void
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

struct ledger_tx *
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
struct ledger_tx *
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

struct ledger_tx *
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
const struct cmp_result *
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
const struct cmp_result *
check(struct fx *f, const struct ledger_tx *tx)
{
    struct cmp_block_ctx ctx = {f->height, tx->timestamp};
    uint8_t txid[32];

    txid_for(txid, 0xffffffffu);
    assert_int_equal(cmp_evaluate(f->e, tx, txid, &ctx, &f->res), SBX_OK);
    return &f->res;
}

const char *
next_id(struct fx *f, const char *prefix)
{
    static char buf[SBX_ID_MAX + 1];

    snprintf(buf, sizeof(buf), "%s-%u", prefix, ++f->seq);
    return buf;
}

const struct cmp_result *
open_acct(struct fx *f, const char *id, int tier, int cls, int64_t ts)
{
    struct ledger_tx tx;

    return run(f, mk_open(&tx, id, tier, cls, ts));
}

const struct cmp_result *
xfer(struct fx *f, int type, const char *acct, const char *asset, int64_t amount, int64_t ts,
     int tr)
{
    struct ledger_tx tx;

    mk_xfer(&tx, type, next_id(f, "x"), acct, asset, amount, ts);
    if (tr)
        set_tr(&tx);
    return run(f, &tx);
}

const struct cmp_result *
deposit(struct fx *f, const char *acct, const char *asset, int64_t amount, int64_t ts)
{
    return xfer(f, LEDGER_TX_DEPOSIT, acct, asset, amount, ts, 0);
}

const struct cmp_result *
deposit_tr(struct fx *f, const char *acct, const char *asset, int64_t amount, int64_t ts)
{
    return xfer(f, LEDGER_TX_DEPOSIT, acct, asset, amount, ts, 1);
}

const struct cmp_result *
withdraw(struct fx *f, const char *acct, const char *asset, int64_t amount, int64_t ts)
{
    return xfer(f, LEDGER_TX_WITHDRAWAL, acct, asset, amount, ts, 0);
}

const struct cmp_result *
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
const struct cmp_result *
trade(struct fx *f, const char *buyer, const char *seller, int64_t qty, int64_t ts)
{
    return trade_fee(f, buyer, seller, "BTC", qty, PRICE, 0, 0, ts);
}

const struct cmp_result *
directive(struct fx *f, struct ledger_tx *tx)
{
    return run(f, tx);
}

const struct cmp_result *
set_param(struct fx *f, const char *name, int64_t value, int64_t ts)
{
    struct ledger_tx tx;

    mk_dir(&tx, LEDGER_DIR_SET_PARAM, KEY_REG, NULL, ts);
    cpy(tx.u.directive.name, sizeof(tx.u.directive.name), name);
    tx.u.directive.value = value;
    return run(f, &tx);
}

/* Collect the pending changes, as at the end of a block, and start the next block. */
void
end_block(struct fx *f, struct ledger_changes *out)
{
    struct ledger_changes tmp;

    ledger_changes_init(&tmp);
    assert_int_equal(cmp_collect(f->e, out ? out : &tmp), SBX_OK);
    ledger_changes_release(&tmp);
    f->height++;
}

/* ------------------------------------------------------------------ verdict assertions */

void
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

void
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

void
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

/* Accepted with exactly these alerts (kinds, in order, for these accounts). */
void
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

void
expect_same_verdict(const struct ledger_verdict *a, const struct ledger_verdict *b)
{
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->rule, b->rule);
    assert_int_equal(a->limit, b->limit);
    assert_int_equal(a->used, b->used);
    assert_int_equal(a->requested, b->requested);
    assert_int_equal(a->param_version, b->param_version);
}

int64_t
balance(struct fx *f, const char *acct, int asset)
{
    const struct ledger_account *a = ledger_state_get(cmp_engine_state(f->e), acct);

    assert_non_null(a);
    return a->balance[asset];
}

/* Open `id` at `ts` and fund it with `vnd` VND and `btc` BTC base units. */
void
funded(struct fx *f, const char *id, int tier, int cls, int64_t vnd, int64_t btc, int64_t ts)
{
    EXPECT_OK(open_acct(f, id, tier, cls, ts));
    if (vnd)
        EXPECT_OK(deposit(f, id, "VND", vnd, ts));
    if (btc)
        EXPECT_OK(deposit_tr(f, id, "BTC", btc, ts));
}

void
funded_retail(struct fx *f, const char *id, int64_t vnd, int64_t ts)
{
    funded(f, id, 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, vnd, 0, ts);
}

void
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
