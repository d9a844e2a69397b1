/* JSON rendering of transactions, blocks, receipts and alerts; see render.h.
 *
 * Amounts leave as decimal strings with their asset's decimals (never JSON numbers), hashes and
 * keys as lowercase hex, rules by their ids; free text from the ledger is made valid UTF-8.
 * Everything here is a pure function of its arguments.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "rpc/render.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compliance/engine.h"
#include "compliance/rules.h"
#include "ledger/amount.h"
#include "rpc/params.h"
#include "util/hex.h"

/* A JSON string for text that may not be valid UTF-8 (free text from the ledger): as is if it
 * is, else with every byte outside printable ASCII replaced by '?'. */
json_t *
rpc_render_text(const char *s)
{
    json_t *j = json_string(s);
    size_t n;
    char *copy;

    if (j != NULL || s == NULL)
        return j;
    n = strlen(s);
    copy = malloc(n + 1);
    if (copy == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        copy[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    copy[n] = '\0';
    j = json_string(copy);
    free(copy);
    return j;
}

json_t *
rpc_render_amount(int64_t v, unsigned decimals)
{
    char s[LEDGER_AMOUNT_STR_MAX];

    ledger_amount_format(s, v, decimals);
    return json_string(s);
}

json_t *
rpc_render_int(int64_t v)
{
    return json_integer((json_int_t)v);
}

json_t *
rpc_render_u64(uint64_t v)
{
    return json_integer(v > (uint64_t)INT64_MAX ? (json_int_t)INT64_MAX : (json_int_t)v);
}

const char *
rpc_render_licence_status(int s)
{
    const char *name = cmp_licence_status_name(s);

    return name != NULL ? name : "unknown";
}

/* A rule's id, or "rule.<n>" for a number this build does not know. */
json_t *
rpc_render_rule(int rule)
{
    const char *name = cmp_rule_name(rule);
    char tmp[32];

    if (name != NULL)
        return json_string(name);
    snprintf(tmp, sizeof(tmp), "rule.%d", rule);
    return json_string(tmp);
}

/* The figures of a verdict that apply, as VND decimal strings. */
void
rpc_render_figures(json_t *o, const struct ledger_verdict *v)
{
    if (v->limit != 0)
        json_object_set_new(o, "limit", rpc_render_amount(v->limit, 0));
    if (v->used != 0)
        json_object_set_new(o, "used", rpc_render_amount(v->used, 0));
    if (v->requested != 0)
        json_object_set_new(o, "requested", rpc_render_amount(v->requested, 0));
}

static json_t *
travel_rule_json(const struct ledger_travel_rule *t)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    json_object_set_new(o, "protocol", json_string(ledger_travel_protocol_name(t->protocol)));
    json_object_set_new(o, "vasp", json_string(t->vasp));
    json_object_set_new(o, "originator_hash", hex_json(t->originator_hash, 32));
    json_object_set_new(o, "beneficiary_hash", hex_json(t->beneficiary_hash, 32));
    json_object_set_new(o, "status", json_string(ledger_travel_status_name(t->status)));
    return o;
}

static json_t *
screening_json(const struct ledger_screening *s)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    json_object_set_new(o, "provider", json_string(s->provider));
    json_object_set_new(o, "score", json_integer(s->score));
    json_object_set_new(o, "categories", rpc_render_text(s->categories));
    return o;
}

static void
genesis_fields(json_t *o, const struct ledger_genesis *g)
{
    json_t *regs = json_array(), *assets = json_array(), *lic;

    json_object_set_new(o, "network", json_string(g->network));
    json_object_set_new(o, "operator_key", hex_json(g->operator_key, 32));
    for (unsigned i = 0; regs != NULL && i < g->nregulators; i++)
        json_array_append_new(regs, hex_json(g->regulator_keys[i], 32));
    json_object_set_new(o, "regulator_keys", regs);
    json_object_set_new(o, "directive_quorum", json_integer(g->directive_quorum));
    json_object_set_new(o, "attestation_quorum", json_integer(g->attestation_quorum));
    for (unsigned i = 0; assets != NULL && i < g->nassets; i++)
        json_array_append_new(assets, json_pack("{s:s, s:i}", "symbol", g->assets[i].symbol,
                                                "decimals", (int)g->assets[i].decimals));
    json_object_set_new(o, "assets", assets);
    lic = g->licence_json ? json_loadb(g->licence_json, g->licence_len, 0, NULL) : NULL;
    json_object_set_new(o, "licence", lic ? lic : json_null());
}

/* The transaction's own fields: txid, type, signer, auth (and signature when signed),
 * timestamp and the body by type. */
/* A directive's fields: those its kind uses, its reason and legal basis, its cosigners. */
static void
directive_fields(const struct rpc_env *env, json_t *o, const struct ledger_directive *d)
{
    json_t *cos = json_array();

    json_object_set_new(o, "kind", json_string(ledger_directive_kind_name(d->kind)));
    if (d->asset[0] != '\0')
        json_object_set_new(o, "asset", json_string(d->asset));
    if (d->account[0] != '\0')
        json_object_set_new(o, "account", json_string(d->account));
    if (d->kind == LEDGER_DIR_RESERVES_ATTEST) {
        json_object_set_new(
            o, "amount",
            rpc_render_amount(d->value,
                              rpc_params_decimals(env->assets, env->nassets, d->asset, 0)));
        json_object_set_new(o, "reference", json_string(d->address));
    } else if (d->address[0] != '\0') {
        json_object_set_new(o, "address", json_string(d->address));
    }
    if (d->kind == LEDGER_DIR_SET_PARAM) {
        json_object_set_new(o, "name", json_string(d->name));
        json_object_set_new(o, "value", rpc_render_amount(d->value, 0));
    } else if (d->kind == LEDGER_DIR_LICENCE_EXTEND) {
        json_object_set_new(o, "valid_to", rpc_render_int(d->value));
    }
    json_object_set_new(o, "reason", rpc_render_text(d->reason));
    json_object_set_new(o, "legal_basis", rpc_render_text(d->legal_basis));
    for (unsigned i = 0; cos != NULL && i < d->ncosig && i < SBX_MAX_COSIGS; i++)
        json_array_append_new(cos, hex_json(d->cosig[i].pubkey, 32));
    json_object_set_new(o, "cosigners", cos);
}

/* A liabilities record: what it reflects, its seed, and per asset the total (in the asset's
 * units) and the root of its sum tree. */
static void
render_liabilities(const struct rpc_env *env, json_t *o, const struct ledger_liabilities *l)
{
    json_t *a = json_array();

    json_object_set_new(o, "reflects_height", rpc_render_u64(l->reflects_height));
    json_object_set_new(o, "seed_commit", hex_json(l->seed_commit, 32));
    json_object_set_new(o, "seed", hex_json(l->seed, 32));
    for (size_t i = 0; a != NULL && i < l->nassets; i++) {
        const struct ledger_liability *x = &l->assets[i];
        unsigned dec = rpc_params_decimals(env->assets, env->nassets, x->asset, 0);

        json_array_append_new(a, json_pack("{s:s,s:o,s:o}", "asset", x->asset, "total",
                                           rpc_render_amount(x->total, dec), "root",
                                           hex_json(x->root, 32)));
    }
    json_object_set_new(o, "assets", a);
}

json_t *
rpc_render_tx(const struct rpc_env *env, const struct ledger_tx *tx, const uint8_t txid[static 32])
{
    json_t *o = json_object();
    unsigned dec;

    if (o == NULL)
        return NULL;
    json_object_set_new(o, "txid", hex_json(txid, 32));
    json_object_set_new(o, "type", json_string(ledger_tx_type_name(tx->type)));
    json_object_set_new(o, "signer", hex_json(tx->signer, 32));
    json_object_set_new(o, "auth", json_string(ledger_tx_auth_name(tx->auth)));
    if (tx->auth == LEDGER_TX_AUTH_SIG)
        json_object_set_new(o, "signature", hex_json(tx->sig, 64));
    json_object_set_new(o, "timestamp", rpc_render_int(tx->timestamp));
    switch (tx->type) {
    case LEDGER_TX_GENESIS:
        genesis_fields(o, &tx->u.genesis);
        break;
    case LEDGER_TX_ACCOUNT_OPEN: {
        const struct ledger_account_open *a = &tx->u.account_open;

        json_object_set_new(o, "account", json_string(a->account));
        json_object_set_new(o, "kyc_tier", json_integer(a->kyc_tier));
        json_object_set_new(o, "investor_class",
                            json_string(ledger_investor_class_name(a->investor_class)));
        json_object_set_new(o, "country", json_string(a->country));
        json_object_set_new(o, "kyc_ref", hex_json(a->kyc_ref, 32));
        json_object_set_new(o, "bank_ref", hex_json(a->bank_ref, 32));
        break;
    }
    case LEDGER_TX_ACCOUNT_UPDATE: {
        const struct ledger_account_update *u = &tx->u.account_update;

        json_object_set_new(o, "account", json_string(u->account));
        if (u->kyc_tier != 0)
            json_object_set_new(o, "kyc_tier", json_integer(u->kyc_tier));
        if (u->status != 0)
            json_object_set_new(o, "status", json_string(ledger_account_status_name(u->status)));
        break;
    }
    case LEDGER_TX_DEPOSIT:
    case LEDGER_TX_WITHDRAWAL: {
        const struct ledger_transfer *t = &tx->u.transfer;

        dec = rpc_params_decimals(env->assets, env->nassets, t->asset, 0);
        json_object_set_new(o, "transfer_id", json_string(t->transfer_id));
        json_object_set_new(o, "account", json_string(t->account));
        json_object_set_new(o, "asset", json_string(t->asset));
        json_object_set_new(o, "amount", rpc_render_amount(t->amount, dec));
        json_object_set_new(o, "reference", json_string(t->reference));
        if (t->has_travel_rule)
            json_object_set_new(o, "travel_rule", travel_rule_json(&t->travel_rule));
        if (t->has_screening)
            json_object_set_new(o, "screening", screening_json(&t->screening));
        break;
    }
    case LEDGER_TX_TRADE: {
        const struct ledger_trade *t = &tx->u.trade;
        int64_t notional;

        dec = rpc_params_decimals(env->assets, env->nassets, t->asset, 0);
        json_object_set_new(o, "trade_id", json_string(t->trade_id));
        json_object_set_new(o, "buyer", json_string(t->buyer));
        json_object_set_new(o, "seller", json_string(t->seller));
        json_object_set_new(o, "asset", json_string(t->asset));
        json_object_set_new(o, "quantity", rpc_render_amount(t->quantity, dec));
        json_object_set_new(o, "price", rpc_render_amount(t->price, 0));
        if (ledger_notional(t->quantity, t->price, dec, &notional) == SBX_OK)
            json_object_set_new(o, "notional", rpc_render_amount(notional, 0));
        json_object_set_new(o, "fee_buyer", rpc_render_amount(t->fee_buyer, 0));
        json_object_set_new(o, "fee_seller", rpc_render_amount(t->fee_seller, 0));
        json_object_set_new(o, "executed_at", rpc_render_int(t->executed_at));
        if (t->buyer_order[0] != '\0')
            json_object_set_new(o, "buyer_order", json_string(t->buyer_order));
        if (t->seller_order[0] != '\0')
            json_object_set_new(o, "seller_order", json_string(t->seller_order));
        break;
    }
    case LEDGER_TX_DIRECTIVE:
        directive_fields(env, o, &tx->u.directive);
        break;
    case LEDGER_TX_ATTESTATION:
        json_object_set_new(o, "attested_height", rpc_render_u64(tx->u.attestation.height));
        json_object_set_new(o, "attested_hash", hex_json(tx->u.attestation.block_hash, 32));
        break;
    case LEDGER_TX_LIABILITIES:
        render_liabilities(env, o, &tx->u.liabilities);
        break;
    default:
        break;
    }
    return o;
}

static void
put_verdict(json_t *o, const struct ledger_verdict *v)
{
    if (v->status == LEDGER_VERDICT_ACCEPTED) {
        json_object_set_new(o, "verdict", json_string("accepted"));
    } else {
        json_object_set_new(o, "verdict", json_string("rejected"));
        json_object_set_new(o, "rule", rpc_render_rule(v->rule));
        rpc_render_figures(o, v);
    }
    json_object_set_new(o, "param_version", json_integer(v->param_version));
}

json_t *
rpc_render_entry(const struct rpc_env *env, const struct ledger_locate *k, size_t i, int *type,
                 struct sbx_err *err)
{
    const struct ledger_verdict *verdict;
    struct ledger_tx tx;
    uint8_t txid[32];
    json_t *o;
    int rc;

    rc = ledger_locate_entry(k, i, &tx, txid, &verdict, err);
    if (rc)
        return NULL;
    if (type != NULL)
        *type = tx.type;
    o = rpc_render_tx(env, &tx, txid);
    ledger_tx_release(&tx);
    if (o == NULL) {
        sbx_err_set(err, SBX_ENOMEM, "out of memory");
        return NULL;
    }
    put_verdict(o, verdict);
    json_object_set_new(o, "height", rpc_render_u64(k->height));
    json_object_set_new(o, "block_hash", hex_json(k->hash, 32));
    json_object_set_new(o, "index", json_integer((json_int_t)i));
    return o;
}

json_t *
rpc_render_alert(const struct cmp_alert *al)
{
    const char *kind = cmp_alert_name(al->kind);
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    json_object_set_new(o, "id", hex_json(al->id, 32));
    json_object_set_new(o, "kind", json_string(kind ? kind : "unknown"));
    json_object_set_new(o, "account", json_string(al->account));
    json_object_set_new(o, "time", rpc_render_int(al->time_ms));
    json_object_set_new(o, "amount_vnd", rpc_render_amount(al->amount_vnd, 0));
    json_object_set_new(o, "txid", hex_json(al->txid, 32));
    return o;
}

size_t
rpc_render_receipt_text(char out[static RPC_RECEIPT_TEXT_MAX], const struct rpc_receipt *r)
{
    char txid[65], hash[65];
    uint64_t h = r->height > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : r->height;
    int n;

    hex_encode(txid, r->txid, 32);
    hex_encode(hash, r->block_hash, 32);
    n = snprintf(out, RPC_RECEIPT_TEXT_MAX,
                 "{\"txid\":\"%s\",\"height\":%" PRIu64
                 ",\"block_hash\":\"%s\",\"verdict\":\"accepted\"}",
                 txid, h, hash);
    if (n < 0 || n >= RPC_RECEIPT_TEXT_MAX)
        SBX_BUG("a receipt longer than RPC_RECEIPT_TEXT_MAX");
    return (size_t)n;
}

json_t *
rpc_render_proposal(const struct rpc_env *env, const struct node_proposal_view *v)
{
    static const char *const envelope[] = {"txid",      "type",      "signer",    "auth",
                                           "signature", "timestamp", "cosigners", "kind"};
    const struct ledger_directive *d = &v->tx.u.directive;
    json_t *o = json_object(), *fields = rpc_render_tx(env, &v->tx, v->id), *signers = json_array();

    if (o == NULL || fields == NULL || signers == NULL) {
        json_decref(o);
        json_decref(fields);
        json_decref(signers);
        return NULL;
    }
    for (size_t i = 0; i < SBX_ARRAY_LEN(envelope); i++)
        json_object_del(fields, envelope[i]);
    json_array_append_new(signers, hex_json(v->tx.signer, 32));
    for (unsigned i = 0; i < d->ncosig && i < SBX_MAX_COSIGS; i++)
        json_array_append_new(signers, hex_json(d->cosig[i].pubkey, 32));
    json_object_set_new(o, "proposal_id", hex_json(v->id, 32));
    json_object_set_new(o, "kind", json_string(ledger_directive_kind_name(d->kind)));
    json_object_set_new(o, "params", fields);
    json_object_set_new(o, "proposer", hex_json(v->tx.signer, 32));
    json_object_set_new(o, "signers", signers);
    json_object_set_new(o, "signatures", json_integer(v->signers));
    json_object_set_new(o, "quorum", json_integer(v->quorum));
    json_object_set_new(o, "proposed_at", rpc_render_int(v->tx.timestamp));
    json_object_set_new(o, "expires", rpc_render_int(v->expires_ms));
    return o;
}

json_t *
rpc_render_proposed(const struct node_result *r)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    json_object_set_new(o, "proposal_id", hex_json(r->txid, 32));
    json_object_set_new(o, "signatures", json_integer(r->signers));
    json_object_set_new(o, "quorum", json_integer(r->quorum));
    json_object_set_new(o, "expires", rpc_render_int(r->expires_ms));
    return o;
}

json_t *
rpc_render_rejection(const struct node_result *r, const char *message)
{
    json_t *data = json_object();

    if (data == NULL)
        return NULL;
    json_object_set_new(data, "rule", rpc_render_rule(r->verdict.rule));
    json_object_set_new(data, "message", rpc_render_text(message));
    json_object_set_new(data, "txid", hex_json(r->txid, 32));
    json_object_set_new(data, "height", rpc_render_u64(r->height));
    rpc_render_figures(data, &r->verdict);
    return data;
}

json_t *
rpc_render_block_header(const struct ledger_locate *k)
{
    const struct ledger_block_header *h = &k->b.hdr;
    json_t *r = json_object();

    if (r == NULL)
        return NULL;
    json_object_set_new(r, "hash", hex_json(k->hash, 32));
    json_object_set_new(r, "height", rpc_render_u64(h->height));
    json_object_set_new(r, "version", json_integer(h->version));
    json_object_set_new(r, "prev_hash", hex_json(h->prev_hash, 32));
    json_object_set_new(r, "time", rpc_render_int(h->time_ms));
    json_object_set_new(r, "tx_root", hex_json(h->tx_root, 32));
    json_object_set_new(r, "verdict_root", hex_json(h->verdict_root, 32));
    json_object_set_new(r, "state_digest", hex_json(h->state_digest, 32));
    json_object_set_new(r, "producer", hex_json(h->producer, 32));
    json_object_set_new(r, "signature", hex_json(h->sig, 64));
    json_object_set_new(r, "ntx", json_integer((json_int_t)k->b.ntx));
    return r;
}
