/* Transaction building from a method's params; see build.h.
 *
 * Each builder reads the values of a params object that the dispatcher has already checked
 * against the method's parameter spec (names known, required ones there) and refuses a bad
 * value by the field's name. The nested objects of a transfer (travel_rule, screening) are
 * checked here, against their own specs.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "rpc/build.h"

#include <string.h>

#include "ledger/tx.h"
#include "rpc/params.h"

static const char class_names[] =
    "domestic_individual, domestic_org, foreign_individual, foreign_org";

int
rpc_build_openaccount(json_t *params, const struct ledger_asset_def *assets, size_t nassets,
                      struct ledger_tx *tx, struct sbx_err *err)
{
    json_t *account = json_object_get(params, "account");
    json_t *tier = json_object_get(params, "kyc_tier");
    json_t *cls = json_object_get(params, "investor_class");
    json_t *country = json_object_get(params, "country");
    json_t *kyc = json_object_get(params, "kyc_ref");
    json_t *bank = json_object_get(params, "bank_ref");
    struct ledger_account_open *o = &tx->u.account_open;
    int64_t v;
    int e, rc;

    (void)assets;
    (void)nassets;
    ledger_tx_init(tx, LEDGER_TX_ACCOUNT_OPEN);
    rc = rpc_params_id(account, SBX_ID_MAX, o->account, "account", err);
    if (rc)
        return rc;
    rc = rpc_params_int(tier, 1, 3, &v, "kyc_tier", err);
    if (rc)
        return rc;
    o->kyc_tier = (uint8_t)v;
    rc = rpc_params_enum(cls, ledger_investor_class_parse, class_names, &e, "investor_class", err);
    if (rc)
        return rc;
    o->investor_class = (uint8_t)e;
    rc = rpc_params_str(country, 2, 0, 1, o->country, "country", err);
    if (rc == SBX_OK && (strlen(o->country) != 2 || o->country[0] < 'A' || o->country[0] > 'Z' ||
                         o->country[1] < 'A' || o->country[1] > 'Z'))
        rc = sbx_err_set(err, SBX_EINVAL, "country: must be two uppercase letters (ISO 3166)");
    if (rc)
        return rc;
    rc = rpc_params_hex32(kyc, o->kyc_ref, "kyc_ref", err);
    return rc ? rc : rpc_params_hex32(bank, o->bank_ref, "bank_ref", err);
}

int
rpc_build_updateaccount(json_t *params, const struct ledger_asset_def *assets, size_t nassets,
                        struct ledger_tx *tx, struct sbx_err *err)
{
    json_t *account = json_object_get(params, "account");
    json_t *tier = json_object_get(params, "kyc_tier");
    json_t *status = json_object_get(params, "status");
    struct ledger_account_update *u = &tx->u.account_update;
    int64_t v;
    int e, rc;

    (void)assets;
    (void)nassets;
    ledger_tx_init(tx, LEDGER_TX_ACCOUNT_UPDATE);
    rc = rpc_params_id(account, SBX_ID_MAX, u->account, "account", err);
    if (rc)
        return rc;
    if (!rpc_params_present(tier) && !rpc_params_present(status))
        return sbx_err_set(err, SBX_EINVAL, "kyc_tier: give kyc_tier or status (or both)");
    if (rpc_params_present(tier)) {
        rc = rpc_params_int(tier, 1, 3, &v, "kyc_tier", err);
        if (rc)
            return rc;
        u->kyc_tier = (uint8_t)v;
    }
    if (rpc_params_present(status)) {
        rc = rpc_params_enum(status, ledger_account_status_parse, "active, closed", &e, "status",
                             err);
        if (rc)
            return rc;
        u->status = (uint8_t)e;
    }
    return SBX_OK;
}

static int
build_travel_rule(json_t *obj, struct ledger_travel_rule *t, struct sbx_err *err)
{
    json_t *protocol = json_object_get(obj, "protocol");
    json_t *vasp = json_object_get(obj, "vasp");
    json_t *orig = json_object_get(obj, "originator_hash");
    json_t *benef = json_object_get(obj, "beneficiary_hash");
    json_t *status = json_object_get(obj, "status");
    int e, rc;

    rc = rpc_params_check(obj, "protocol vasp originator_hash beneficiary_hash status",
                          "travel_rule", err);
    if (rc)
        return rc;
    rc = rpc_params_enum(protocol, ledger_travel_protocol_parse, "trisa, trp, other", &e,
                         "travel_rule.protocol", err);
    if (rc)
        return rc;
    t->protocol = (uint8_t)e;
    rc = rpc_params_id(vasp, SBX_VASP_MAX, t->vasp, "travel_rule.vasp", err);
    if (rc)
        return rc;
    rc = rpc_params_hex32(orig, t->originator_hash, "travel_rule.originator_hash", err);
    if (rc)
        return rc;
    rc = rpc_params_hex32(benef, t->beneficiary_hash, "travel_rule.beneficiary_hash", err);
    if (rc)
        return rc;
    rc = rpc_params_enum(status, ledger_travel_status_parse, "accepted, pending, rejected", &e,
                         "travel_rule.status", err);
    t->status = (uint8_t)(rc ? 0 : e);
    return rc;
}

static int
build_screening(json_t *obj, struct ledger_screening *s, struct sbx_err *err)
{
    json_t *provider = json_object_get(obj, "provider");
    json_t *score = json_object_get(obj, "score");
    json_t *categories = json_object_get(obj, "categories");
    int64_t v;
    int rc;

    rc = rpc_params_check(obj, "provider score categories?", "screening", err);
    if (rc)
        return rc;
    rc = rpc_params_id(provider, SBX_PROVIDER_MAX, s->provider, "screening.provider", err);
    if (rc)
        return rc;
    rc = rpc_params_int(score, 0, 100, &v, "screening.score", err);
    if (rc)
        return rc;
    s->score = (uint8_t)v;
    if (rpc_params_present(categories))
        rc = rpc_params_str(categories, SBX_CATEGORIES_MAX, 1, 0, s->categories,
                            "screening.categories", err);
    return rc;
}

static int
build_transfer(json_t *params, int type, const struct ledger_asset_def *assets, size_t nassets,
               struct ledger_tx *tx, struct sbx_err *err)
{
    json_t *id = json_object_get(params, "transfer_id");
    json_t *account = json_object_get(params, "account");
    json_t *asset = json_object_get(params, "asset");
    json_t *amount = json_object_get(params, "amount");
    json_t *ref = json_object_get(params, "reference");
    json_t *tr = json_object_get(params, "travel_rule");
    json_t *scr = json_object_get(params, "screening");
    struct ledger_transfer *t = &tx->u.transfer;
    int rc;

    ledger_tx_init(tx, (enum ledger_tx_type)type);
    rc = rpc_params_id(id, SBX_ID_MAX, t->transfer_id, "transfer_id", err);
    rc = rc ? rc : rpc_params_id(account, SBX_ID_MAX, t->account, "account", err);
    rc = rc ? rc : rpc_params_symbol(asset, t->asset, "asset", err);
    if (rc)
        return rc;
    rc = rpc_params_amount(amount,
                           rpc_params_decimals(assets, nassets, t->asset, SBX_ASSET_DECIMALS_MAX),
                           1, &t->amount, "amount", err);
    rc = rc ? rc : rpc_params_str(ref, SBX_REF_MAX, 1, 1, t->reference, "reference", err);
    if (rc)
        return rc;
    if (rpc_params_present(tr)) {
        t->has_travel_rule = 1;
        rc = build_travel_rule(tr, &t->travel_rule, err);
        if (rc)
            return rc;
    }
    if (rpc_params_present(scr)) {
        t->has_screening = 1;
        rc = build_screening(scr, &t->screening, err);
    }
    return rc;
}

int
rpc_build_trade(json_t *params, const struct ledger_asset_def *assets, size_t nassets,
                struct ledger_tx *tx, struct sbx_err *err)
{
    json_t *id = json_object_get(params, "trade_id");
    json_t *buyer = json_object_get(params, "buyer");
    json_t *seller = json_object_get(params, "seller");
    json_t *asset = json_object_get(params, "asset");
    json_t *qty = json_object_get(params, "quantity");
    json_t *price = json_object_get(params, "price");
    json_t *fb = json_object_get(params, "fee_buyer");
    json_t *fs = json_object_get(params, "fee_seller");
    json_t *at = json_object_get(params, "executed_at");
    json_t *bo = json_object_get(params, "buyer_order");
    json_t *so = json_object_get(params, "seller_order");
    struct ledger_trade *t = &tx->u.trade;
    int rc;

    ledger_tx_init(tx, LEDGER_TX_TRADE);
    rc = rpc_params_id(id, SBX_ID_MAX, t->trade_id, "trade_id", err);
    rc = rc ? rc : rpc_params_id(buyer, SBX_ID_MAX, t->buyer, "buyer", err);
    rc = rc ? rc : rpc_params_id(seller, SBX_ID_MAX, t->seller, "seller", err);
    if (rc == SBX_OK && strcmp(t->buyer, t->seller) == 0)
        rc = sbx_err_set(err, SBX_EINVAL, "seller: same account as the buyer");
    rc = rc ? rc : rpc_params_symbol(asset, t->asset, "asset", err);
    if (rc)
        return rc;
    rc = rpc_params_amount(qty,
                           rpc_params_decimals(assets, nassets, t->asset, SBX_ASSET_DECIMALS_MAX),
                           1, &t->quantity, "quantity", err);
    rc = rc ? rc : rpc_params_amount(price, 0, 1, &t->price, "price", err);
    if (rc == SBX_OK && rpc_params_present(fb))
        rc = rpc_params_amount(fb, 0, 0, &t->fee_buyer, "fee_buyer", err);
    if (rc == SBX_OK && rpc_params_present(fs))
        rc = rpc_params_amount(fs, 0, 0, &t->fee_seller, "fee_seller", err);
    rc = rc ? rc : rpc_params_int(at, 1, LEDGER_TIME_END - 1, &t->executed_at, "executed_at", err);
    if (rc == SBX_OK && rpc_params_present(bo))
        rc = rpc_params_id(bo, SBX_ID_MAX, t->buyer_order, "buyer_order", err);
    if (rc == SBX_OK && rpc_params_present(so))
        rc = rpc_params_id(so, SBX_ID_MAX, t->seller_order, "seller_order", err);
    return rc;
}

/* Which optional fields each directive kind takes (the same split as ledger/tx.c). */
enum {
    D_ASSET = 1,    /* optional: one asset, or the whole market */
    D_ACCOUNT = 2,  /* required */
    D_NAME = 4,     /* required, with value */
    D_VALID_TO = 8, /* required */
    D_TARGET = 16,  /* exactly one of account or address */
    D_RESERVE = 32, /* asset, amount (in its units) and reference, all required */
};

static unsigned
directive_fields(int kind)
{
    switch (kind) {
    case LEDGER_DIR_HALT:
    case LEDGER_DIR_RESUME:
        return D_ASSET;
    case LEDGER_DIR_FREEZE:
    case LEDGER_DIR_UNFREEZE:
        return D_ACCOUNT;
    case LEDGER_DIR_SET_PARAM:
        return D_NAME;
    case LEDGER_DIR_LICENCE_EXTEND:
        return D_VALID_TO;
    case LEDGER_DIR_SANCTION_ADD:
    case LEDGER_DIR_SANCTION_REMOVE:
        return D_TARGET;
    case LEDGER_DIR_RESERVES_ATTEST:
        return D_RESERVE;
    default:
        return 0;
    }
}

static const char kind_names[] =
    "halt, resume, freeze, unfreeze, set_param, licence_extend, licence_suspend, "
    "licence_wind_down, licence_revoke, licence_reinstate, sanction_add, sanction_remove, "
    "liabilities_snapshot, reserves_attest";

/* reserves_attest: the asset (required), the amount in its units and the reference (the bank
 * statement or wallet proof the regulator checked). */
static int
build_reserve(json_t *params, const struct ledger_asset_def *assets, size_t nassets,
              struct ledger_directive *d, struct sbx_err *err)
{
    int rc = rpc_params_symbol(json_object_get(params, "asset"), d->asset, "asset", err);

    rc = rc ? rc
            : rpc_params_amount(json_object_get(params, "amount"),
                                rpc_params_decimals(assets, nassets, d->asset, 0), 0, &d->value,
                                "amount", err);
    return rc ? rc
              : rpc_params_id(json_object_get(params, "reference"), SBX_ADDRESS_MAX, d->address,
                              "reference", err);
}

int
rpc_build_directive(json_t *params, const struct ledger_asset_def *assets, size_t nassets,
                    struct ledger_tx *tx, struct sbx_err *err)
{
    json_t *kind = json_object_get(params, "kind");
    json_t *asset = json_object_get(params, "asset");
    json_t *account = json_object_get(params, "account");
    json_t *address = json_object_get(params, "address");
    json_t *name = json_object_get(params, "name");
    json_t *value = json_object_get(params, "value");
    json_t *valid_to = json_object_get(params, "valid_to");
    json_t *reason = json_object_get(params, "reason");
    json_t *basis = json_object_get(params, "legal_basis");
    struct ledger_directive *d = &tx->u.directive;
    const char *kname;
    unsigned use;
    int k, rc;

    ledger_tx_init(tx, LEDGER_TX_DIRECTIVE);
    rc = rpc_params_enum(kind, ledger_directive_kind_parse, kind_names, &k, "kind", err);
    if (rc)
        return rc;
    d->kind = (uint8_t)k;
    kname = ledger_directive_kind_name(k);
    use = directive_fields(k);

    /* a field the kind does not take is refused by name */
    if (rpc_params_present(asset) && !(use & (D_ASSET | D_RESERVE)))
        return sbx_err_set(err, SBX_EINVAL, "asset: not used by kind %s", kname);
    if ((rpc_params_present(json_object_get(params, "amount")) ||
         rpc_params_present(json_object_get(params, "reference"))) &&
        !(use & D_RESERVE))
        return sbx_err_set(
            err, SBX_EINVAL, "%s: not used by kind %s",
            rpc_params_present(json_object_get(params, "amount")) ? "amount" : "reference", kname);
    if (rpc_params_present(account) && !(use & (D_ACCOUNT | D_TARGET)))
        return sbx_err_set(err, SBX_EINVAL, "account: not used by kind %s", kname);
    if (rpc_params_present(address) && !(use & D_TARGET))
        return sbx_err_set(err, SBX_EINVAL, "address: not used by kind %s", kname);
    if (rpc_params_present(name) && !(use & D_NAME))
        return sbx_err_set(err, SBX_EINVAL, "name: not used by kind %s", kname);
    if (rpc_params_present(value) && !(use & D_NAME))
        return sbx_err_set(err, SBX_EINVAL, "value: not used by kind %s", kname);
    if (rpc_params_present(valid_to) && !(use & D_VALID_TO))
        return sbx_err_set(err, SBX_EINVAL, "valid_to: not used by kind %s", kname);

    if (use & D_RESERVE)
        rc = build_reserve(params, assets, nassets, d, err);
    else if (rpc_params_present(asset))
        rc = rpc_params_symbol(asset, d->asset, "asset", err);
    if (rc == SBX_OK && (use & D_ACCOUNT))
        rc = rpc_params_id(account, SBX_ID_MAX, d->account, "account", err);
    if (rc == SBX_OK && (use & D_TARGET)) {
        if (rpc_params_present(account) == rpc_params_present(address))
            return sbx_err_set(err, SBX_EINVAL, "account: give exactly one of account or address");
        if (rpc_params_present(account))
            rc = rpc_params_id(account, SBX_ID_MAX, d->account, "account", err);
        else
            rc = rpc_params_id(address, SBX_ADDRESS_MAX, d->address, "address", err);
    }
    if (rc == SBX_OK && (use & D_NAME)) {
        rc = rpc_params_id(name, SBX_PARAM_NAME_MAX, d->name, "name", err);
        if (rc == SBX_OK && !rpc_params_present(value))
            rc = sbx_err_set(err, SBX_EINVAL, "value: missing");
        else if (rc == SBX_OK && json_is_integer(value))
            rc = rpc_params_int(value, 0, INT64_MAX, &d->value, "value", err);
        else if (rc == SBX_OK && json_is_string(value))
            rc = rpc_params_amount(value, 0, 0, &d->value, "value", err);
        else if (rc == SBX_OK)
            rc = sbx_err_set(err, SBX_EINVAL,
                             "value: must be a decimal string or an integer (counts, seconds)");
    }
    if (rc == SBX_OK && (use & D_VALID_TO))
        rc = rpc_params_int(valid_to, 1, INT64_MAX, &d->value, "valid_to", err);
    rc = rc ? rc : rpc_params_str(reason, SBX_TEXT_MAX, 0, 0, d->reason, "reason", err);
    rc = rc ? rc : rpc_params_str(basis, SBX_TEXT_MAX, 0, 0, d->legal_basis, "legal_basis", err);
    return rc;
}

int
rpc_build_deposit(json_t *params, const struct ledger_asset_def *assets, size_t nassets,
                  struct ledger_tx *tx, struct sbx_err *err)
{
    return build_transfer(params, LEDGER_TX_DEPOSIT, assets, nassets, tx, err);
}

int
rpc_build_withdraw(json_t *params, const struct ledger_asset_def *assets, size_t nassets,
                   struct ledger_tx *tx, struct sbx_err *err)
{
    return build_transfer(params, LEDGER_TX_WITHDRAWAL, assets, nassets, tx, err);
}
