/* JSON-RPC methods: the method table, parameter parsing, results and the error-code table.
 *
 * Each handler unpacks its named parameters with one json_unpack_ex format ('!' refuses unknown
 * names), checks each value with a parser that names the field, and either answers from the
 * store and the engine or gives back a transaction for the server to submit. Nothing here
 * blocks on the pipeline; list methods bound the keys they scan per call (SCAN_BUDGET) so that a
 * query cannot hold the event loop for long, and hand back a cursor to go on.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "rpc/methods.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compliance/engine.h"
#include "compliance/params.h"
#include "compliance/rules.h"
#include "ledger/amount.h"
#include "ledger/block.h"
#include "ledger/state.h"
#include "ledger/store.h"
#include "node/net.h"
#include "util/buf.h"
#include "util/hex.h"
#include "util/log.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

/* Most index keys one list call may look at before it hands back a cursor. */
#define SCAN_BUDGET 20000
/* Longest index key: 'X' account 0x00 u64 time 32 txid. */
#define INDEX_KEY_MAX (1 + SBX_ID_MAX + 1 + 2 + LEDGER_INDEX_TAIL)

/* ------------------------------------------------------------------ error codes */

/* The one table from sbx return codes to JSON-RPC codes (DESIGN.md 7). Anything not listed is
 * an internal error (-32603): the client gets a generic message, the log gets the details. */
static const struct {
    int rc;
    int code;
} code_table[] = {
    {SBX_EINVAL, RPC_INVALID_PARAMS},    {SBX_ETRUNCATED, RPC_INVALID_PARAMS},
    {SBX_ETRAILING, RPC_INVALID_PARAMS}, {SBX_ETOOLONG, RPC_INVALID_PARAMS},
    {SBX_EVERSION, RPC_INVALID_PARAMS},  {SBX_ETYPE, RPC_INVALID_PARAMS},
    {SBX_EPUBKEY, RPC_INVALID_PARAMS},   {SBX_EOVERFLOW, RPC_INVALID_PARAMS},
    {SBX_ENONCANON, RPC_INVALID_PARAMS}, {SBX_ENOTFOUND, RPC_NOT_FOUND},
    {SBX_EDENIED, RPC_FORBIDDEN},        {SBX_ECONFLICT, RPC_CONFLICT},
    {SBX_EUNAVAIL, RPC_UNAVAILABLE},     {SBX_EBADSIG, RPC_BAD_SIGNATURE},
    {SBX_EOVERLOAD, RPC_OVERLOADED},     {SBX_EREJECTED, RPC_REJECTED},
};

int
rpc_methods_code(int rc)
{
    if (rc == SBX_OK)
        return 0;
    for (size_t i = 0; i < SBX_ARRAY_LEN(code_table); i++) {
        if (code_table[i].rc == rc)
            return code_table[i].code;
    }
    return RPC_INTERNAL_ERROR;
}

/* ------------------------------------------------------------------ outcomes */

void
rpc_outcome_init(struct rpc_outcome *o)
{
    memset(o, 0, sizeof(*o));
    o->kind = RPC_OUT_RESULT;
}

/* Drop whatever the outcome holds, keeping the stop mark. */
static void
clear_payload(struct rpc_outcome *o)
{
    json_decref(o->result);
    o->result = NULL;
    json_decref(o->data);
    o->data = NULL;
    free(o->tx);
    o->tx = NULL;
    free(o->raw);
    o->raw = NULL;
    o->rawlen = 0;
    o->code = 0;
    o->message[0] = '\0';
}

void
rpc_outcome_release(struct rpc_outcome *o)
{
    clear_payload(o);
    rpc_outcome_init(o);
}

void
rpc_outcome_error(struct rpc_outcome *o, int code, const char *fmt, ...)
{
    va_list ap;

    clear_payload(o);
    o->kind = RPC_OUT_ERROR;
    o->code = code;
    va_start(ap, fmt);
    vsnprintf(o->message, sizeof(o->message), fmt, ap);
    va_end(ap);
}

void
rpc_outcome_fail(struct rpc_outcome *o, int rc, const char *message)
{
    int code = rpc_methods_code(rc);
    const char *m = message != NULL && message[0] != '\0' ? message : sbx_rc_name(rc);

    if (code == RPC_INTERNAL_ERROR || code == 0) {
        LOG_ERROR(LOG_RPC, "internal error (%s): %s", sbx_rc_name(rc), m);
        rpc_outcome_error(o, RPC_INTERNAL_ERROR, "internal error");
        return;
    }
    rpc_outcome_error(o, code, "%s", m);
}

static void
set_result(struct rpc_outcome *o, json_t *r)
{
    clear_payload(o);
    if (r == NULL) {
        rpc_outcome_fail(o, SBX_ENOMEM, "out of memory building a result");
        return;
    }
    o->kind = RPC_OUT_RESULT;
    o->result = r;
}

/* ------------------------------------------------------------------ JSON helpers */

/* A JSON string for text that may not be valid UTF-8 (free text from the ledger): as is if it
 * is, else with every byte outside printable ASCII replaced by '?'. */
static json_t *
text_json(const char *s)
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

static json_t *
hex_json(const uint8_t *p, size_t n)
{
    char s[2 * 64 + 1];

    if (n > 64)
        SBX_BUG("hex_json: more than 64 bytes");
    hex_encode(s, p, n);
    return json_string(s);
}

static json_t *
amount_json(int64_t v, unsigned decimals)
{
    char s[LEDGER_AMOUNT_STR_MAX];

    ledger_amount_format(s, v, decimals);
    return json_string(s);
}

static json_t *
int_json(int64_t v)
{
    return json_integer((json_int_t)v);
}

static json_t *
u64_json(uint64_t v)
{
    return json_integer(v > (uint64_t)INT64_MAX ? (json_int_t)INT64_MAX : (json_int_t)v);
}

static void
put(json_t *obj, const char *key, json_t *v)
{
    json_object_set_new(obj, key, v);
}

json_t *
rpc_methods_error_object(const struct rpc_outcome *o)
{
    json_t *e = json_object();

    if (e == NULL)
        return NULL;
    put(e, "code", json_integer(o->code));
    put(e, "message", text_json(o->message));
    if (o->data != NULL)
        put(e, "data", json_incref(o->data));
    return e;
}

/* ------------------------------------------------------------------ names */

static const char *const licence_status_names[] = {
    [CMP_LICENCE_ACTIVE] = "active",
    [CMP_LICENCE_SUSPENDED] = "suspended",
    [CMP_LICENCE_WIND_DOWN] = "wind_down",
    [CMP_LICENCE_REVOKED] = "revoked",
};

static const char *
licence_status_name(int s)
{
    if (s < 0 || (size_t)s >= SBX_ARRAY_LEN(licence_status_names) ||
        licence_status_names[s] == NULL)
        return "unknown";
    return licence_status_names[s];
}

static const char *
node_role_name(enum node_role r)
{
    switch (r) {
    case NODE_ROLE_OPERATOR:
        return "operator";
    case NODE_ROLE_REGULATOR:
        return "regulator";
    case NODE_ROLE_OBSERVER:
        return "observer";
    }
    return "unknown";
}

/* A rule's id, or "rule.<n>" for a number this build does not know. */
static json_t *
rule_json(int rule)
{
    const char *name = cmp_rule_name(rule);
    char tmp[32];

    if (name != NULL)
        return json_string(name);
    snprintf(tmp, sizeof(tmp), "rule.%d", rule);
    return json_string(tmp);
}

/* ------------------------------------------------------------------ parameter parsers */

static int
present(const json_t *v)
{
    return v != NULL && !json_is_null(v);
}

/* A string of 1..max (or 0..max with allow_empty) bytes; `ids` restricts it to printable ASCII
 * without spaces, else it may hold anything but control bytes. */
static int
parse_str(const json_t *v, size_t max, int allow_empty, int ids, char *out, const char *field,
          struct sbx_err *err)
{
    const char *s;
    size_t n;

    out[0] = '\0';
    if (!present(v))
        return sbx_err_set(err, SBX_EINVAL, "%s: missing", field);
    if (!json_is_string(v))
        return sbx_err_set(err, SBX_EINVAL, "%s: must be a string", field);
    s = json_string_value(v);
    n = json_string_length(v);
    if (n == 0 && !allow_empty)
        return sbx_err_set(err, SBX_EINVAL, "%s: must not be empty", field);
    if (n > max)
        return sbx_err_set(err, SBX_EINVAL, "%s: longer than %zu bytes", field, max);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (ids ? (c < 0x21 || c > 0x7e) : (c < 0x20 || c == 0x7f))
            return sbx_err_set(err, SBX_EINVAL, "%s: %s", field,
                               ids ? "must be printable ASCII without spaces"
                                   : "must not contain control characters");
    }
    memcpy(out, s, n);
    out[n] = '\0';
    return SBX_OK;
}

int
rpc_methods_parse_id(const json_t *v, size_t max, char *out, const char *field, struct sbx_err *err)
{
    return parse_str(v, max, 0, 1, out, field, err);
}

int
rpc_methods_parse_int(const json_t *v, int64_t lo, int64_t hi, int64_t *out, const char *field,
                      struct sbx_err *err)
{
    json_int_t x;

    *out = 0;
    if (!present(v))
        return sbx_err_set(err, SBX_EINVAL, "%s: missing", field);
    if (!json_is_integer(v))
        return sbx_err_set(err, SBX_EINVAL, "%s: must be an integer", field);
    x = json_integer_value(v);
    if (x < lo || x > hi) {
        if (hi == INT64_MAX)
            return sbx_err_set(err, SBX_EINVAL, "%s: must be >= %lld", field, (long long)lo);
        return sbx_err_set(err, SBX_EINVAL, "%s: must be %lld..%lld", field, (long long)lo,
                           (long long)hi);
    }
    *out = (int64_t)x;
    return SBX_OK;
}

int
rpc_methods_parse_amount(const json_t *v, unsigned decimals, int positive, int64_t *out,
                         const char *field, struct sbx_err *err)
{
    int rc;

    *out = 0;
    if (!present(v))
        return sbx_err_set(err, SBX_EINVAL, "%s: missing", field);
    if (json_is_number(v))
        return sbx_err_set(
            err, SBX_EINVAL,
            "%s: must be a decimal string such as \"1.5\" (JSON numbers are refused)", field);
    if (!json_is_string(v))
        return sbx_err_set(err, SBX_EINVAL, "%s: must be a decimal string", field);
    rc = ledger_amount_parse(json_string_value(v), decimals, out, field, err);
    if (rc)
        return rc;
    if (positive && *out == 0)
        return sbx_err_set(err, SBX_EINVAL, "%s: must be > 0", field);
    return SBX_OK;
}

int
rpc_methods_parse_hex32(const json_t *v, uint8_t out[static 32], const char *field,
                        struct sbx_err *err)
{
    memset(out, 0, 32);
    if (!present(v))
        return sbx_err_set(err, SBX_EINVAL, "%s: missing", field);
    if (!json_is_string(v) ||
        hex_decode(out, 32, json_string_value(v), json_string_length(v)) != SBX_OK)
        return sbx_err_set(err, SBX_EINVAL, "%s: must be 64 lowercase hex characters", field);
    return SBX_OK;
}

static int
parse_bool(const json_t *v, int *out, const char *field, struct sbx_err *err)
{
    *out = 0;
    if (!present(v))
        return SBX_OK;
    if (!json_is_boolean(v))
        return sbx_err_set(err, SBX_EINVAL, "%s: must be true or false", field);
    *out = json_is_true(v);
    return SBX_OK;
}

/* An asset symbol: 1..SBX_ASSET_MAX of A-Z and 0-9. */
static int
parse_symbol(const json_t *v, char *out, const char *field, struct sbx_err *err)
{
    int rc = parse_str(v, SBX_ASSET_MAX, 0, 1, out, field, err);

    if (rc)
        return rc;
    for (const char *p = out; *p; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return sbx_err_set(err, SBX_EINVAL, "%s: must be 1..%d characters A-Z and 0-9", field,
                               SBX_ASSET_MAX);
    }
    return SBX_OK;
}

/* A name from a fixed list (`parse` gives -1 for an unknown one). */
static int
parse_enum(const json_t *v, int (*parse)(const char *), const char *allowed, int *out,
           const char *field, struct sbx_err *err)
{
    *out = -1;
    if (!present(v))
        return sbx_err_set(err, SBX_EINVAL, "%s: missing", field);
    if (!json_is_string(v))
        return sbx_err_set(err, SBX_EINVAL, "%s: must be a string (%s)", field, allowed);
    *out = parse(json_string_value(v));
    if (*out < 0)
        return sbx_err_set(err, SBX_EINVAL, "%s: must be one of %s", field, allowed);
    return SBX_OK;
}

static int
parse_rule_name(const char *s)
{
    return cmp_rule_parse(s);
}

static int
parse_alert_kind(const char *s)
{
    return cmp_alert_parse(s);
}

/* "prefix.name", or "name" when prefix is empty. */
static void
field_name(char *out, size_t cap, const char *prefix, const char *name, size_t nlen)
{
    snprintf(out, cap, "%s%s%.*s", prefix, prefix[0] ? "." : "", (int)nlen, name);
}

int
rpc_methods_unpack_error(const json_error_t *je, const char *prefix, struct sbx_err *err)
{
    static const char notfound[] = "Object item not found: ";
    static const char unpacked[] = "left unpacked: ";
    const char *t = je->text, *p;
    char f[96];

    if (strncmp(t, notfound, sizeof(notfound) - 1) == 0) {
        p = t + sizeof(notfound) - 1;
        field_name(f, sizeof(f), prefix, p, strlen(p));
        return sbx_err_set(err, SBX_EINVAL, "%s: missing", f);
    }
    p = strstr(t, unpacked);
    if (p != NULL) {
        p += sizeof(unpacked) - 1;
        field_name(f, sizeof(f), prefix, p, strcspn(p, ","));
        return sbx_err_set(err, SBX_EINVAL, "%s: unknown parameter", f);
    }
    if (strncmp(t, "Expected object", 15) == 0)
        return sbx_err_set(err, SBX_EINVAL, "%s: must be an object", prefix[0] ? prefix : "params");
    return sbx_err_set(err, SBX_EINVAL, "%s: %s", prefix[0] ? prefix : "params", t);
}

/* Decimals of `symbol` among the genesis assets; an unlisted asset gets the most any asset may
 * have, so that its amount parses and the rules reject it as asset.unlisted. */
static unsigned
asset_decimals(const struct ledger_asset_def *assets, size_t n, const char *symbol)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(assets[i].symbol, symbol) == 0)
            return assets[i].decimals;
    }
    return SBX_ASSET_DECIMALS_MAX;
}

/* Decimals for showing an amount of `symbol` (an unlisted asset: base units). */
static unsigned
asset_decimals_show(const struct ledger_asset_def *assets, size_t n, const char *symbol)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(assets[i].symbol, symbol) == 0)
            return assets[i].decimals;
    }
    return 0;
}

/* Take `units` from the request's render budget; 0 if they are not left. */
static int
take_budget(const struct rpc_env *env, size_t units)
{
    if (env->budget == NULL)
        return 1;
    if (*env->budget < units)
        return 0;
    *env->budget -= units;
    return 1;
}

/* ------------------------------------------------------------------ building transactions */

static const char class_names[] =
    "domestic_individual, domestic_org, foreign_individual, foreign_org";

static int
build_openaccount(json_t *params, struct ledger_tx *tx, struct sbx_err *err)
{
    json_t *account = NULL, *tier = NULL, *cls = NULL, *country = NULL, *kyc = NULL, *bank = NULL;
    struct ledger_account_open *o = &tx->u.account_open;
    json_error_t je;
    int64_t v;
    int e, rc;

    if (json_unpack_ex(params, &je, 0, "{s:o, s:o, s:o, s:o, s:o, s:o !}", "account", &account,
                       "kyc_tier", &tier, "investor_class", &cls, "country", &country, "kyc_ref",
                       &kyc, "bank_ref", &bank) != 0)
        return rpc_methods_unpack_error(&je, "", err);
    ledger_tx_init(tx, LEDGER_TX_ACCOUNT_OPEN);
    rc = rpc_methods_parse_id(account, SBX_ID_MAX, o->account, "account", err);
    if (rc)
        return rc;
    rc = rpc_methods_parse_int(tier, 1, 3, &v, "kyc_tier", err);
    if (rc)
        return rc;
    o->kyc_tier = (uint8_t)v;
    rc = parse_enum(cls, ledger_investor_class_parse, class_names, &e, "investor_class", err);
    if (rc)
        return rc;
    o->investor_class = (uint8_t)e;
    rc = parse_str(country, 2, 0, 1, o->country, "country", err);
    if (rc == SBX_OK && (strlen(o->country) != 2 || o->country[0] < 'A' || o->country[0] > 'Z' ||
                         o->country[1] < 'A' || o->country[1] > 'Z'))
        rc = sbx_err_set(err, SBX_EINVAL, "country: must be two uppercase letters (ISO 3166)");
    if (rc)
        return rc;
    rc = rpc_methods_parse_hex32(kyc, o->kyc_ref, "kyc_ref", err);
    return rc ? rc : rpc_methods_parse_hex32(bank, o->bank_ref, "bank_ref", err);
}

static int
build_updateaccount(json_t *params, struct ledger_tx *tx, struct sbx_err *err)
{
    json_t *account = NULL, *tier = NULL, *status = NULL;
    struct ledger_account_update *u = &tx->u.account_update;
    json_error_t je;
    int64_t v;
    int e, rc;

    if (json_unpack_ex(params, &je, 0, "{s:o, s?o, s?o !}", "account", &account, "kyc_tier", &tier,
                       "status", &status) != 0)
        return rpc_methods_unpack_error(&je, "", err);
    ledger_tx_init(tx, LEDGER_TX_ACCOUNT_UPDATE);
    rc = rpc_methods_parse_id(account, SBX_ID_MAX, u->account, "account", err);
    if (rc)
        return rc;
    if (!present(tier) && !present(status))
        return sbx_err_set(err, SBX_EINVAL, "kyc_tier: give kyc_tier or status (or both)");
    if (present(tier)) {
        rc = rpc_methods_parse_int(tier, 1, 3, &v, "kyc_tier", err);
        if (rc)
            return rc;
        u->kyc_tier = (uint8_t)v;
    }
    if (present(status)) {
        rc = parse_enum(status, ledger_account_status_parse, "active, closed", &e, "status", err);
        if (rc)
            return rc;
        u->status = (uint8_t)e;
    }
    return SBX_OK;
}

static int
build_travel_rule(json_t *obj, struct ledger_travel_rule *t, struct sbx_err *err)
{
    json_t *protocol = NULL, *vasp = NULL, *orig = NULL, *benef = NULL, *status = NULL;
    json_error_t je;
    int e, rc;

    if (!json_is_object(obj))
        return sbx_err_set(err, SBX_EINVAL, "travel_rule: must be an object");
    if (json_unpack_ex(obj, &je, 0, "{s:o, s:o, s:o, s:o, s:o !}", "protocol", &protocol, "vasp",
                       &vasp, "originator_hash", &orig, "beneficiary_hash", &benef, "status",
                       &status) != 0)
        return rpc_methods_unpack_error(&je, "travel_rule", err);
    rc = parse_enum(protocol, ledger_travel_protocol_parse, "trisa, trp, other", &e,
                    "travel_rule.protocol", err);
    if (rc)
        return rc;
    t->protocol = (uint8_t)e;
    rc = rpc_methods_parse_id(vasp, SBX_VASP_MAX, t->vasp, "travel_rule.vasp", err);
    if (rc)
        return rc;
    rc = rpc_methods_parse_hex32(orig, t->originator_hash, "travel_rule.originator_hash", err);
    if (rc)
        return rc;
    rc = rpc_methods_parse_hex32(benef, t->beneficiary_hash, "travel_rule.beneficiary_hash", err);
    if (rc)
        return rc;
    rc = parse_enum(status, ledger_travel_status_parse, "accepted, pending, rejected", &e,
                    "travel_rule.status", err);
    t->status = (uint8_t)(rc ? 0 : e);
    return rc;
}

static int
build_screening(json_t *obj, struct ledger_screening *s, struct sbx_err *err)
{
    json_t *provider = NULL, *score = NULL, *categories = NULL;
    json_error_t je;
    int64_t v;
    int rc;

    if (!json_is_object(obj))
        return sbx_err_set(err, SBX_EINVAL, "screening: must be an object");
    if (json_unpack_ex(obj, &je, 0, "{s:o, s:o, s?o !}", "provider", &provider, "score", &score,
                       "categories", &categories) != 0)
        return rpc_methods_unpack_error(&je, "screening", err);
    rc = rpc_methods_parse_id(provider, SBX_PROVIDER_MAX, s->provider, "screening.provider", err);
    if (rc)
        return rc;
    rc = rpc_methods_parse_int(score, 0, 100, &v, "screening.score", err);
    if (rc)
        return rc;
    s->score = (uint8_t)v;
    if (present(categories))
        rc = parse_str(categories, SBX_CATEGORIES_MAX, 1, 0, s->categories, "screening.categories",
                       err);
    return rc;
}

static int
build_transfer(json_t *params, int type, const struct ledger_asset_def *assets, size_t nassets,
               struct ledger_tx *tx, struct sbx_err *err)
{
    json_t *id = NULL, *account = NULL, *asset = NULL, *amount = NULL, *ref = NULL, *tr = NULL,
           *scr = NULL;
    struct ledger_transfer *t = &tx->u.transfer;
    json_error_t je;
    int rc;

    if (json_unpack_ex(params, &je, 0, "{s:o, s:o, s:o, s:o, s:o, s?o, s?o !}", "transfer_id", &id,
                       "account", &account, "asset", &asset, "amount", &amount, "reference", &ref,
                       "travel_rule", &tr, "screening", &scr) != 0)
        return rpc_methods_unpack_error(&je, "", err);
    ledger_tx_init(tx, (enum ledger_tx_type)type);
    rc = rpc_methods_parse_id(id, SBX_ID_MAX, t->transfer_id, "transfer_id", err);
    rc = rc ? rc : rpc_methods_parse_id(account, SBX_ID_MAX, t->account, "account", err);
    rc = rc ? rc : parse_symbol(asset, t->asset, "asset", err);
    if (rc)
        return rc;
    rc = rpc_methods_parse_amount(amount, asset_decimals(assets, nassets, t->asset), 1, &t->amount,
                                  "amount", err);
    rc = rc ? rc : parse_str(ref, SBX_REF_MAX, 1, 1, t->reference, "reference", err);
    if (rc)
        return rc;
    if (present(tr)) {
        t->has_travel_rule = 1;
        rc = build_travel_rule(tr, &t->travel_rule, err);
        if (rc)
            return rc;
    }
    if (present(scr)) {
        t->has_screening = 1;
        rc = build_screening(scr, &t->screening, err);
    }
    return rc;
}

static int
build_trade(json_t *params, const struct ledger_asset_def *assets, size_t nassets,
            struct ledger_tx *tx, struct sbx_err *err)
{
    json_t *id = NULL, *buyer = NULL, *seller = NULL, *asset = NULL, *qty = NULL, *price = NULL,
           *fb = NULL, *fs = NULL, *at = NULL, *bo = NULL, *so = NULL;
    struct ledger_trade *t = &tx->u.trade;
    json_error_t je;
    int rc;

    if (json_unpack_ex(params, &je, 0, "{s:o, s:o, s:o, s:o, s:o, s:o, s?o, s?o, s:o, s?o, s?o !}",
                       "trade_id", &id, "buyer", &buyer, "seller", &seller, "asset", &asset,
                       "quantity", &qty, "price", &price, "fee_buyer", &fb, "fee_seller", &fs,
                       "executed_at", &at, "buyer_order", &bo, "seller_order", &so) != 0)
        return rpc_methods_unpack_error(&je, "", err);
    ledger_tx_init(tx, LEDGER_TX_TRADE);
    rc = rpc_methods_parse_id(id, SBX_ID_MAX, t->trade_id, "trade_id", err);
    rc = rc ? rc : rpc_methods_parse_id(buyer, SBX_ID_MAX, t->buyer, "buyer", err);
    rc = rc ? rc : rpc_methods_parse_id(seller, SBX_ID_MAX, t->seller, "seller", err);
    if (rc == SBX_OK && strcmp(t->buyer, t->seller) == 0)
        rc = sbx_err_set(err, SBX_EINVAL, "seller: same account as the buyer");
    rc = rc ? rc : parse_symbol(asset, t->asset, "asset", err);
    if (rc)
        return rc;
    rc = rpc_methods_parse_amount(qty, asset_decimals(assets, nassets, t->asset), 1, &t->quantity,
                                  "quantity", err);
    rc = rc ? rc : rpc_methods_parse_amount(price, 0, 1, &t->price, "price", err);
    if (rc == SBX_OK && present(fb))
        rc = rpc_methods_parse_amount(fb, 0, 0, &t->fee_buyer, "fee_buyer", err);
    if (rc == SBX_OK && present(fs))
        rc = rpc_methods_parse_amount(fs, 0, 0, &t->fee_seller, "fee_seller", err);
    rc = rc ? rc : rpc_methods_parse_int(at, 1, INT64_MAX, &t->executed_at, "executed_at", err);
    if (rc == SBX_OK && present(bo))
        rc = rpc_methods_parse_id(bo, SBX_ID_MAX, t->buyer_order, "buyer_order", err);
    if (rc == SBX_OK && present(so))
        rc = rpc_methods_parse_id(so, SBX_ID_MAX, t->seller_order, "seller_order", err);
    return rc;
}

/* Which optional fields each directive kind takes (the same split as ledger/tx.c). */
enum {
    D_ASSET = 1,    /* optional: one asset, or the whole market */
    D_ACCOUNT = 2,  /* required */
    D_NAME = 4,     /* required, with value */
    D_VALID_TO = 8, /* required */
    D_TARGET = 16,  /* exactly one of account or address */
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
    default:
        return 0;
    }
}

static const char kind_names[] =
    "halt, resume, freeze, unfreeze, set_param, licence_extend, licence_suspend, "
    "licence_wind_down, licence_revoke, licence_reinstate, sanction_add, sanction_remove";

static int
build_directive(json_t *params, struct ledger_tx *tx, struct sbx_err *err)
{
    json_t *kind = NULL, *asset = NULL, *account = NULL, *address = NULL, *name = NULL,
           *value = NULL, *valid_to = NULL, *reason = NULL, *basis = NULL;
    struct ledger_directive *d = &tx->u.directive;
    const char *kname;
    json_error_t je;
    unsigned use;
    int k, rc;

    if (json_unpack_ex(params, &je, 0, "{s:o, s?o, s?o, s?o, s?o, s?o, s?o, s:o, s:o !}", "kind",
                       &kind, "asset", &asset, "account", &account, "address", &address, "name",
                       &name, "value", &value, "valid_to", &valid_to, "reason", &reason,
                       "legal_basis", &basis) != 0)
        return rpc_methods_unpack_error(&je, "", err);
    ledger_tx_init(tx, LEDGER_TX_DIRECTIVE);
    rc = parse_enum(kind, ledger_directive_kind_parse, kind_names, &k, "kind", err);
    if (rc)
        return rc;
    d->kind = (uint8_t)k;
    kname = ledger_directive_kind_name(k);
    use = directive_fields(k);

    /* a field the kind does not take is refused by name */
    if (present(asset) && !(use & D_ASSET))
        return sbx_err_set(err, SBX_EINVAL, "asset: not used by kind %s", kname);
    if (present(account) && !(use & (D_ACCOUNT | D_TARGET)))
        return sbx_err_set(err, SBX_EINVAL, "account: not used by kind %s", kname);
    if (present(address) && !(use & D_TARGET))
        return sbx_err_set(err, SBX_EINVAL, "address: not used by kind %s", kname);
    if (present(name) && !(use & D_NAME))
        return sbx_err_set(err, SBX_EINVAL, "name: not used by kind %s", kname);
    if (present(value) && !(use & D_NAME))
        return sbx_err_set(err, SBX_EINVAL, "value: not used by kind %s", kname);
    if (present(valid_to) && !(use & D_VALID_TO))
        return sbx_err_set(err, SBX_EINVAL, "valid_to: not used by kind %s", kname);

    if (present(asset))
        rc = parse_symbol(asset, d->asset, "asset", err);
    if (rc == SBX_OK && (use & D_ACCOUNT))
        rc = rpc_methods_parse_id(account, SBX_ID_MAX, d->account, "account", err);
    if (rc == SBX_OK && (use & D_TARGET)) {
        if (present(account) == present(address))
            return sbx_err_set(err, SBX_EINVAL, "account: give exactly one of account or address");
        if (present(account))
            rc = rpc_methods_parse_id(account, SBX_ID_MAX, d->account, "account", err);
        else
            rc = rpc_methods_parse_id(address, SBX_ADDRESS_MAX, d->address, "address", err);
    }
    if (rc == SBX_OK && (use & D_NAME)) {
        rc = rpc_methods_parse_id(name, SBX_PARAM_NAME_MAX, d->name, "name", err);
        if (rc == SBX_OK && !present(value))
            rc = sbx_err_set(err, SBX_EINVAL, "value: missing");
        else if (rc == SBX_OK && json_is_integer(value))
            rc = rpc_methods_parse_int(value, 0, INT64_MAX, &d->value, "value", err);
        else if (rc == SBX_OK && json_is_string(value))
            rc = rpc_methods_parse_amount(value, 0, 0, &d->value, "value", err);
        else if (rc == SBX_OK)
            rc = sbx_err_set(err, SBX_EINVAL,
                             "value: must be a decimal string or an integer (counts, seconds)");
    }
    if (rc == SBX_OK && (use & D_VALID_TO))
        rc = rpc_methods_parse_int(valid_to, 1, INT64_MAX, &d->value, "valid_to", err);
    rc = rc ? rc : parse_str(reason, SBX_TEXT_MAX, 0, 0, d->reason, "reason", err);
    rc = rc ? rc : parse_str(basis, SBX_TEXT_MAX, 0, 0, d->legal_basis, "legal_basis", err);
    return rc;
}

int
rpc_methods_build_tx(const char *method, json_t *params, const struct ledger_asset_def *assets,
                     size_t nassets, struct ledger_tx *tx, struct sbx_err *err)
{
    ledger_tx_init(tx, LEDGER_TX_ACCOUNT_OPEN);
    if (!json_is_object(params))
        return sbx_err_set(err, SBX_EINVAL, "params: must be an object");
    if (strcmp(method, "openaccount") == 0)
        return build_openaccount(params, tx, err);
    if (strcmp(method, "updateaccount") == 0)
        return build_updateaccount(params, tx, err);
    if (strcmp(method, "deposit") == 0)
        return build_transfer(params, LEDGER_TX_DEPOSIT, assets, nassets, tx, err);
    if (strcmp(method, "withdraw") == 0)
        return build_transfer(params, LEDGER_TX_WITHDRAWAL, assets, nassets, tx, err);
    if (strcmp(method, "submittrade") == 0 || strcmp(method, "checktrade") == 0)
        return build_trade(params, assets, nassets, tx, err);
    if (strcmp(method, "submitdirective") == 0)
        return build_directive(params, tx, err);
    return sbx_err_set(err, SBX_ENOTFOUND, "%s: not a submitting method", method);
}

/* ------------------------------------------------------------------ results of submissions */

/* The figures of a verdict that apply, as VND decimal strings. */
static void
put_figures(json_t *o, const struct ledger_verdict *v)
{
    if (v->limit != 0)
        put(o, "limit", amount_json(v->limit, 0));
    if (v->used != 0)
        put(o, "used", amount_json(v->used, 0));
    if (v->requested != 0)
        put(o, "requested", amount_json(v->requested, 0));
}

void
rpc_methods_submit_done(struct rpc_outcome *o, const struct node_result *r)
{
    json_t *res, *data;
    const char *rule;

    if (r->rc == SBX_OK) {
        res = json_object();
        if (res != NULL) {
            put(res, "txid", hex_json(r->txid, 32));
            put(res, "height", u64_json(r->height));
            put(res, "block_hash", hex_json(r->block_hash, 32));
            put(res, "verdict", json_string("accepted"));
        }
        set_result(o, res);
        return;
    }
    if (r->rc != SBX_EREJECTED) {
        rpc_outcome_fail(o, r->rc, r->message);
        return;
    }
    rule = cmp_rule_name(r->verdict.rule);
    if (r->message[0] != '\0')
        rpc_outcome_error(o, RPC_REJECTED, "%s", r->message);
    else
        rpc_outcome_error(o, RPC_REJECTED, "rejected by rule %s", rule ? rule : "unknown");
    data = json_object();
    if (data == NULL)
        return;
    put(data, "rule", rule_json(r->verdict.rule));
    put(data, "message", text_json(o->message));
    put(data, "txid", hex_json(r->txid, 32));
    put(data, "height", u64_json(r->height));
    put_figures(data, &r->verdict);
    o->data = data;
}

/* ------------------------------------------------------------------ reading blocks */

/* One decoded block, kept while a call reads several of its transactions. */
struct blk {
    int loaded;
    uint64_t height;
    uint8_t hash[32];
    struct buf raw;
    struct ledger_block b;
};

static void
blk_init(struct blk *k)
{
    memset(k, 0, sizeof(*k));
    buf_init(&k->raw, LEDGER_BLOCK_MAX_SIZE);
}

static void
blk_release(struct blk *k)
{
    if (k->loaded)
        ledger_block_release(&k->b);
    buf_release(&k->raw);
    k->loaded = 0;
}

static int
blk_load(struct ledger_store *st, uint64_t height, struct blk *k, struct sbx_err *err)
{
    struct sbx_err e;
    int rc;

    if (k->loaded && k->height == height)
        return SBX_OK;
    if (k->loaded) {
        ledger_block_release(&k->b);
        k->loaded = 0;
    }
    rc = ledger_store_get_block(st, height, &k->raw, err);
    if (rc)
        return rc;
    sbx_err_clear(&e);
    rc = ledger_block_decode(&k->b, k->raw.data, k->raw.len, &e);
    if (rc) /* what is stored went in through our own checks: not the caller's fault */
        return sbx_err_set(err, SBX_ECORRUPT, "stored block %llu does not decode: %s",
                           (unsigned long long)height, e.msg);
    ledger_block_hash(&k->b.hdr, k->hash);
    k->height = height;
    k->loaded = 1;
    return SBX_OK;
}

/* Decode entry `i` of a loaded block (release `tx` after). */
static int
blk_tx(const struct blk *k, size_t i, struct ledger_tx *tx, uint8_t txid[static 32],
       struct sbx_err *err)
{
    const struct ledger_block_entry *e;
    struct sbx_err de;
    size_t ulen = 0;
    int rc;

    if (i >= k->b.ntx)
        return sbx_err_set(err, SBX_ECORRUPT, "block %llu has no entry %zu",
                           (unsigned long long)k->height, i);
    e = &k->b.entries[i];
    sbx_err_clear(&de);
    rc = ledger_tx_decode(tx, e->tx, e->tx_len, &ulen, &de);
    if (rc)
        return sbx_err_set(err, SBX_ECORRUPT, "block %llu entry %zu does not decode: %s",
                           (unsigned long long)k->height, i, de.msg);
    ledger_tx_id_raw(txid, e->tx, ulen);
    return SBX_OK;
}

/* ------------------------------------------------------------------ transactions as JSON */

static json_t *
travel_rule_json(const struct ledger_travel_rule *t)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    put(o, "protocol", json_string(ledger_travel_protocol_name(t->protocol)));
    put(o, "vasp", json_string(t->vasp));
    put(o, "originator_hash", hex_json(t->originator_hash, 32));
    put(o, "beneficiary_hash", hex_json(t->beneficiary_hash, 32));
    put(o, "status", json_string(ledger_travel_status_name(t->status)));
    return o;
}

static json_t *
screening_json(const struct ledger_screening *s)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    put(o, "provider", json_string(s->provider));
    put(o, "score", json_integer(s->score));
    put(o, "categories", text_json(s->categories));
    return o;
}

static void
genesis_fields(json_t *o, const struct ledger_genesis *g)
{
    json_t *regs = json_array(), *assets = json_array(), *lic;

    put(o, "network", json_string(g->network));
    put(o, "operator_key", hex_json(g->operator_key, 32));
    for (unsigned i = 0; regs != NULL && i < g->nregulators; i++)
        json_array_append_new(regs, hex_json(g->regulator_keys[i], 32));
    put(o, "regulator_keys", regs);
    put(o, "directive_quorum", json_integer(g->directive_quorum));
    put(o, "attestation_quorum", json_integer(g->attestation_quorum));
    for (unsigned i = 0; assets != NULL && i < g->nassets; i++)
        json_array_append_new(assets, json_pack("{s:s, s:i}", "symbol", g->assets[i].symbol,
                                                "decimals", (int)g->assets[i].decimals));
    put(o, "assets", assets);
    lic = g->licence_json ? json_loadb(g->licence_json, g->licence_len, 0, NULL) : NULL;
    put(o, "licence", lic ? lic : json_null());
}

/* The transaction's own fields: txid, type, signer, timestamp and the body by type. */
static json_t *
tx_json(const struct rpc_env *env, const struct ledger_tx *tx, const uint8_t txid[static 32])
{
    json_t *o = json_object();
    unsigned dec;

    if (o == NULL)
        return NULL;
    put(o, "txid", hex_json(txid, 32));
    put(o, "type", json_string(ledger_tx_type_name(tx->type)));
    put(o, "signer", hex_json(tx->signer, 32));
    put(o, "timestamp", int_json(tx->timestamp));
    switch (tx->type) {
    case LEDGER_TX_GENESIS:
        genesis_fields(o, &tx->u.genesis);
        break;
    case LEDGER_TX_ACCOUNT_OPEN: {
        const struct ledger_account_open *a = &tx->u.account_open;

        put(o, "account", json_string(a->account));
        put(o, "kyc_tier", json_integer(a->kyc_tier));
        put(o, "investor_class", json_string(ledger_investor_class_name(a->investor_class)));
        put(o, "country", json_string(a->country));
        put(o, "kyc_ref", hex_json(a->kyc_ref, 32));
        put(o, "bank_ref", hex_json(a->bank_ref, 32));
        break;
    }
    case LEDGER_TX_ACCOUNT_UPDATE: {
        const struct ledger_account_update *u = &tx->u.account_update;

        put(o, "account", json_string(u->account));
        if (u->kyc_tier != 0)
            put(o, "kyc_tier", json_integer(u->kyc_tier));
        if (u->status != 0)
            put(o, "status", json_string(ledger_account_status_name(u->status)));
        break;
    }
    case LEDGER_TX_DEPOSIT:
    case LEDGER_TX_WITHDRAWAL: {
        const struct ledger_transfer *t = &tx->u.transfer;

        dec = asset_decimals_show(env->assets, env->nassets, t->asset);
        put(o, "transfer_id", json_string(t->transfer_id));
        put(o, "account", json_string(t->account));
        put(o, "asset", json_string(t->asset));
        put(o, "amount", amount_json(t->amount, dec));
        put(o, "reference", json_string(t->reference));
        if (t->has_travel_rule)
            put(o, "travel_rule", travel_rule_json(&t->travel_rule));
        if (t->has_screening)
            put(o, "screening", screening_json(&t->screening));
        break;
    }
    case LEDGER_TX_TRADE: {
        const struct ledger_trade *t = &tx->u.trade;
        int64_t notional;

        dec = asset_decimals_show(env->assets, env->nassets, t->asset);
        put(o, "trade_id", json_string(t->trade_id));
        put(o, "buyer", json_string(t->buyer));
        put(o, "seller", json_string(t->seller));
        put(o, "asset", json_string(t->asset));
        put(o, "quantity", amount_json(t->quantity, dec));
        put(o, "price", amount_json(t->price, 0));
        if (ledger_notional(t->quantity, t->price, dec, &notional) == SBX_OK)
            put(o, "notional", amount_json(notional, 0));
        put(o, "fee_buyer", amount_json(t->fee_buyer, 0));
        put(o, "fee_seller", amount_json(t->fee_seller, 0));
        put(o, "executed_at", int_json(t->executed_at));
        if (t->buyer_order[0] != '\0')
            put(o, "buyer_order", json_string(t->buyer_order));
        if (t->seller_order[0] != '\0')
            put(o, "seller_order", json_string(t->seller_order));
        break;
    }
    case LEDGER_TX_DIRECTIVE: {
        const struct ledger_directive *d = &tx->u.directive;
        json_t *cos = json_array();

        put(o, "kind", json_string(ledger_directive_kind_name(d->kind)));
        if (d->asset[0] != '\0')
            put(o, "asset", json_string(d->asset));
        if (d->account[0] != '\0')
            put(o, "account", json_string(d->account));
        if (d->address[0] != '\0')
            put(o, "address", json_string(d->address));
        if (d->kind == LEDGER_DIR_SET_PARAM) {
            put(o, "name", json_string(d->name));
            put(o, "value", amount_json(d->value, 0));
        } else if (d->kind == LEDGER_DIR_LICENCE_EXTEND) {
            put(o, "valid_to", int_json(d->value));
        }
        put(o, "reason", text_json(d->reason));
        put(o, "legal_basis", text_json(d->legal_basis));
        for (unsigned i = 0; cos != NULL && i < d->ncosig && i < SBX_MAX_COSIGS; i++)
            json_array_append_new(cos, hex_json(d->cosig[i].pubkey, 32));
        put(o, "cosigners", cos);
        break;
    }
    case LEDGER_TX_ATTESTATION:
        put(o, "attested_height", u64_json(tx->u.attestation.height));
        put(o, "attested_hash", hex_json(tx->u.attestation.block_hash, 32));
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
        put(o, "verdict", json_string("accepted"));
    } else {
        put(o, "verdict", json_string("rejected"));
        put(o, "rule", rule_json(v->rule));
        put_figures(o, v);
    }
    put(o, "param_version", json_integer(v->param_version));
}

/* Entry `i` of a loaded block: the transaction, its verdict and where it is. NULL with `err` set
 * on failure. */
static json_t *
located_json(const struct rpc_env *env, const struct blk *k, size_t i, int *type,
             struct sbx_err *err)
{
    struct ledger_tx tx;
    uint8_t txid[32];
    json_t *o;
    int rc;

    rc = blk_tx(k, i, &tx, txid, err);
    if (rc)
        return NULL;
    if (type != NULL)
        *type = tx.type;
    o = tx_json(env, &tx, txid);
    ledger_tx_release(&tx);
    if (o == NULL) {
        sbx_err_set(err, SBX_ENOMEM, "out of memory");
        return NULL;
    }
    put_verdict(o, &k->b.entries[i].verdict);
    put(o, "height", u64_json(k->height));
    put(o, "block_hash", hex_json(k->hash, 32));
    put(o, "index", json_integer((json_int_t)i));
    return o;
}

/* The located JSON of transaction `txid`, loading its block into `k`. */
static json_t *
txid_json(const struct rpc_env *env, const uint8_t txid[static 32], struct blk *k, int *type,
          struct sbx_err *err)
{
    struct ledger_store *st = node_store(env->node);
    uint64_t height;
    uint32_t index;
    int rc;

    rc = ledger_store_tx_location(st, txid, &height, &index, err);
    rc = rc ? rc : blk_load(st, height, k, err);
    if (rc)
        return NULL;
    return located_json(env, k, index, type, err);
}

/* ------------------------------------------------------------------ handlers: submissions */

static void
submit_built(const struct rpc_env *env, json_t *params, struct rpc_outcome *out, const char *method)
{
    struct ledger_tx *tx = malloc(sizeof(*tx));
    struct sbx_err err;
    int rc;

    if (tx == NULL) {
        rpc_outcome_fail(out, SBX_ENOMEM, "out of memory");
        return;
    }
    sbx_err_clear(&err);
    rc = rpc_methods_build_tx(method, params, env->assets, env->nassets, tx, &err);
    if (rc) {
        free(tx);
        rpc_outcome_fail(out, rc, err.msg);
        return;
    }
    clear_payload(out);
    out->kind = RPC_OUT_SUBMIT;
    out->tx = tx;
}

static void
m_openaccount(const struct rpc_env *env, json_t *params, struct rpc_outcome *out)
{
    submit_built(env, params, out, "openaccount");
}

static void
m_updateaccount(const struct rpc_env *env, json_t *params, struct rpc_outcome *out)
{
    submit_built(env, params, out, "updateaccount");
}

static void
m_deposit(const struct rpc_env *env, json_t *params, struct rpc_outcome *out)
{
    submit_built(env, params, out, "deposit");
}

static void
m_withdraw(const struct rpc_env *env, json_t *params, struct rpc_outcome *out)
{
    submit_built(env, params, out, "withdraw");
}

static void
m_submittrade(const struct rpc_env *env, json_t *params, struct rpc_outcome *out)
{
    submit_built(env, params, out, "submittrade");
}

static void
m_submitdirective(const struct rpc_env *env, json_t *params, struct rpc_outcome *out)
{
    submit_built(env, params, out, "submitdirective");
}

static void
m_submitrawtx(const struct rpc_env *env, json_t *params, struct rpc_outcome *out)
{
    json_t *hex = NULL;
    json_error_t je;
    struct sbx_err err;
    uint8_t *raw;
    size_t len = 0, n;
    int rc;

    (void)env;
    sbx_err_clear(&err);
    if (json_unpack_ex(params, &je, 0, "{s:o !}", "hex", &hex) != 0) {
        rc = rpc_methods_unpack_error(&je, "", &err);
        rpc_outcome_fail(out, rc, err.msg);
        return;
    }
    if (!json_is_string(hex)) {
        rpc_outcome_error(out, RPC_INVALID_PARAMS, "hex: must be a string");
        return;
    }
    n = json_string_length(hex);
    if (n == 0 || n % 2 != 0 || n / 2 > SBX_TX_MAX_SIZE) {
        rpc_outcome_error(out, RPC_INVALID_PARAMS,
                          "hex: must be an even number of lowercase hex digits, at most %d bytes",
                          SBX_TX_MAX_SIZE);
        return;
    }
    raw = malloc(n / 2);
    if (raw == NULL) {
        rpc_outcome_fail(out, SBX_ENOMEM, "out of memory");
        return;
    }
    if (hex_decode_var(raw, n / 2, &len, json_string_value(hex), n) != SBX_OK) {
        free(raw);
        rpc_outcome_error(out, RPC_INVALID_PARAMS, "hex: must be lowercase hex digits");
        return;
    }
    clear_payload(out);
    out->kind = RPC_OUT_SUBMIT_RAW;
    out->raw = raw;
    out->rawlen = len;
}

static void
m_checktrade(const struct rpc_env *env, json_t *params, struct rpc_outcome *out)
{
    struct ledger_tx tx;
    struct cmp_result res;
    struct sbx_err err;
    json_t *r, *alerts;
    int rc;

    sbx_err_clear(&err);
    rc = rpc_methods_build_tx("checktrade", params, env->assets, env->nassets, &tx, &err);
    if (rc == SBX_OK) {
        memset(&res, 0, sizeof(res));
        rc = node_check(env->node, &tx, &res, &err);
    }
    if (rc) {
        rpc_outcome_fail(out, rc, err.msg);
        return;
    }
    r = json_object();
    if (r != NULL) {
        int ok = res.verdict.status == LEDGER_VERDICT_ACCEPTED;

        put(r, "ok", json_boolean(ok));
        if (!ok) {
            put(r, "rule", rule_json(res.verdict.rule));
            put(r, "message", text_json(res.message));
            put_figures(r, &res.verdict);
        }
        alerts = json_array();
        for (size_t i = 0; alerts != NULL && i < res.nalerts && i < CMP_MAX_ALERTS; i++) {
            const char *name = cmp_alert_name(res.alerts[i].kind);

            json_array_append_new(alerts, json_string(name ? name : "unknown"));
        }
        put(r, "alerts", alerts);
    }
    set_result(out, r);
}

/* ------------------------------------------------------------------ handlers: node and licence */

/* No parameters: refuse any name. */
static int
no_params(json_t *params, struct rpc_outcome *out)
{
    json_error_t je;
    struct sbx_err err;

    if (json_unpack_ex(params, &je, 0, "{!}") == 0)
        return 0;
    sbx_err_clear(&err);
    rpc_outcome_fail(out, rpc_methods_unpack_error(&je, "", &err), err.msg);
    return -1;
}

static int
cmp_u64_desc(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

    return (a < b) - (a > b);
}

/* The highest height attested by attestation_quorum regulators (0 if none). Lock held. */
static uint64_t
final_height(const struct cmp_engine *e)
{
    const struct ledger_genesis *g = cmp_engine_genesis(e);
    uint64_t h[SBX_MAX_REGULATORS];
    size_t n = g->nregulators < SBX_MAX_REGULATORS ? g->nregulators : SBX_MAX_REGULATORS;
    int64_t t;

    if (g->attestation_quorum == 0 || g->attestation_quorum > n)
        return 0;
    for (size_t i = 0; i < n; i++)
        cmp_engine_attested(e, i, &h[i], &t);
    qsort(h, n, sizeof(h[0]), cmp_u64_desc);
    return h[g->attestation_quorum - 1];
}

static void
m_getinfo(const struct rpc_env *env, json_t *params, struct rpc_outcome *out)
{
    struct ledger_tip tip;
    struct cmp_engine *e;
    uint64_t fin;
    int status, halted;
    json_t *r;

    if (no_params(params, out))
        return;
    node_tip(env->node, &tip);
    node_lock(env->node);
    e = node_engine(env->node);
    status = cmp_engine_licence_status(e);
    halted = cmp_engine_market_halted(e);
    fin = final_height(e);
    node_unlock(env->node);
    r = json_object();
    if (r != NULL) {
        put(r, "network", json_string(node_network(env->node)));
        put(r, "role", json_string(node_role_name(node_role(env->node))));
        put(r, "height", u64_json(tip.height));
        put(r, "tip_hash", hex_json(tip.hash, 32));
        put(r, "final_height", u64_json(fin));
        put(r, "licence_status", json_string(licence_status_name(status)));
        put(r, "halted", json_boolean(halted));
        put(r, "node_key", hex_json(node_identity(env->node)->pubkey, 32));
        put(r, "following", json_boolean(node_following(env->node)));
        put(r, "critical_alerts",
            json_integer((json_int_t)node_alert_count(env->node, NODE_ALERT_CRITICAL)));
        put(r, "version", json_string(PACKAGE_VERSION));
    }
    set_result(out, r);
}

/* VND amounts travel as decimal strings; counts, times and percentages as integers. */
static int
is_amount_param(const char *name)
{
    size_t n = strlen(name);

    if (n > 4 && strcmp(name + n - 4, "_vnd") == 0)
        return 1;
    return strncmp(name, "limit.", 6) == 0 && strcmp(name, "limit.participants_max") != 0 &&
           strcmp(name, "limit.foreign_factor_pct") != 0;
}

static void
put_param(json_t *o, const char *name, int64_t v)
{
    put(o, name, is_amount_param(name) ? amount_json(v, 0) : int_json(v));
}

static void
m_getlicence(const struct rpc_env *env, json_t *params, struct rpc_outcome *out)
{
    struct cmp_params p;
    struct cmp_engine *e;
    int status, halted, asset_halted[SBX_MAX_ASSETS] = {0};
    json_t *r, *ps, *ha;
    size_t na = env->nassets < SBX_MAX_ASSETS ? env->nassets : SBX_MAX_ASSETS;

    if (no_params(params, out))
        return;
    node_lock(env->node);
    e = node_engine(env->node);
    p = *cmp_engine_params(e);
    status = cmp_engine_licence_status(e);
    halted = cmp_engine_market_halted(e);
    for (size_t i = 1; i < na; i++)
        asset_halted[i] = cmp_engine_asset_halted(e, (int)i);
    node_unlock(env->node);

    r = json_object();
    ps = json_object();
    ha = json_array();
    if (r == NULL || ps == NULL || ha == NULL) {
        json_decref(r);
        json_decref(ps);
        json_decref(ha);
        set_result(out, NULL);
        return;
    }
    put(r, "licence_id", json_string(p.licence_id));
    put(r, "house_account", json_string(p.house_account));
    put(r, "status", json_string(licence_status_name(status)));
    put(r, "version", json_integer(p.version));
    put(r, "valid_from", int_json(p.v[CMP_P_VALID_FROM]));
    put(r, "valid_to", int_json(p.v[CMP_P_VALID_TO]));
    put(r, "halted", json_boolean(halted));
    for (size_t i = 1; i < na; i++) {
        if (asset_halted[i])
            json_array_append_new(ha, json_string(env->assets[i].symbol));
    }
    put(r, "halted_assets", ha);
    for (int i = 0; i < CMP_P_COUNT; i++)
        put_param(ps, cmp_params_name((enum cmp_param)i), p.v[i]);
    for (size_t i = 1; i < na; i++) {
        char name[SBX_PARAM_NAME_MAX + 1];

        snprintf(name, sizeof(name), "asset.%s.ref_price_vnd", env->assets[i].symbol);
        put_param(ps, name, p.ref_price[i]);
    }
    put(r, "params", ps);
    set_result(out, r);
}

static void
m_getsupervision(const struct rpc_env *env, json_t *params, struct rpc_outcome *out)
{
    struct {
        uint8_t key[32];
        uint64_t height;
        int64_t time;
    } regs[SBX_MAX_REGULATORS];
    const struct ledger_genesis *g;
    struct cmp_engine *e;
    size_t n;
    uint64_t fin;
    int64_t lag = 0, max_lag_s;
    int ok, aq, dq;
    json_t *r, *arr;

    if (no_params(params, out))
        return;
    node_lock(env->node);
    e = node_engine(env->node);
    g = cmp_engine_genesis(e);
    n = g->nregulators < SBX_MAX_REGULATORS ? g->nregulators : SBX_MAX_REGULATORS;
    for (size_t i = 0; i < n; i++) {
        memcpy(regs[i].key, g->regulator_keys[i], 32);
        cmp_engine_attested(e, i, &regs[i].height, &regs[i].time);
    }
    aq = g->attestation_quorum;
    dq = g->directive_quorum;
    fin = final_height(e);
    ok = cmp_engine_supervision_ok(e, env->now_ms, &lag) == SBX_OK;
    max_lag_s = cmp_engine_params(e)->v[CMP_P_MAX_LAG_S];
    node_unlock(env->node);

    r = json_object();
    arr = json_array();
    if (r == NULL || arr == NULL) {
        json_decref(r);
        json_decref(arr);
        set_result(out, NULL);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();

        if (o == NULL)
            continue;
        put(o, "key", hex_json(regs[i].key, 32));
        put(o, "attested_height", u64_json(regs[i].height));
        if (regs[i].time > 0) {
            put(o, "attested_at", int_json(regs[i].time));
            put(o, "lag_ms", int_json(env->now_ms > regs[i].time ? env->now_ms - regs[i].time : 0));
        } else {
            put(o, "attested_at", json_null());
            put(o, "lag_ms", json_null());
        }
        json_array_append_new(arr, o);
    }
    put(r, "regulators", arr);
    put(r, "attestation_quorum", json_integer(aq));
    put(r, "directive_quorum", json_integer(dq));
    put(r, "final_height", u64_json(fin));
    put(r, "supervision_ok", json_boolean(ok));
    put(r, "lag_ms", int_json(lag));
    put(r, "max_lag_s", int_json(max_lag_s));
    node_supervision_json(env->node, r);
    set_result(out, r);
}

static void
m_getpeerinfo(const struct rpc_env *env, json_t *params, struct rpc_outcome *out)
{
    json_t *peers;

    if (no_params(params, out))
        return;
    peers = node_peers_json(env->node);
    set_result(out, peers ? json_pack("{s:o}", "peers", peers) : NULL);
}

/* What this node itself saw go wrong (refused blocks, equivocation, directives not included). */
static void
m_listnodealerts(const struct rpc_env *env, json_t *params, struct rpc_outcome *out)
{
    json_t *items;

    if (no_params(params, out))
        return;
    items = node_alerts_json(env->node);
    set_result(out, items ? json_pack("{s:o}", "items", items) : NULL);
}

#ifdef SBX_TEST_HOOKS
/* Test builds only: make the operator misbehave so that followers can be seen to catch it. */
static void
m_testhook(const struct rpc_env *env, json_t *params, struct rpc_outcome *out)
{
    const char *action = NULL;
    json_error_t je;
    struct sbx_err err;

    if (json_unpack_ex(params, &je, 0, "{s:s !}", "action", &action) != 0) {
        rpc_outcome_fail(out, rpc_methods_unpack_error(&je, "", &err), err.msg);
        return;
    }
    if (node_role(env->node) != NODE_ROLE_OPERATOR) {
        rpc_outcome_fail(out, SBX_EDENIED, "testhook: only on the operator");
        return;
    }
    if (strcmp(action, "wrong_verdict") == 0) {
        node_test_fault(env->node, NODE_FAULT_VERDICT);
    } else if (strcmp(action, "wrong_digest") == 0) {
        node_test_fault(env->node, NODE_FAULT_DIGEST);
    } else if (strcmp(action, "equivocate") == 0 && env->net != NULL) {
        node_net_test_equivocate(env->net);
    } else {
        rpc_outcome_fail(out, SBX_EINVAL, "action: one of wrong_verdict, wrong_digest, equivocate");
        return;
    }
    set_result(out, json_pack("{s:s}", "armed", action));
}
#endif

static void
m_stop(const struct rpc_env *env, json_t *params, struct rpc_outcome *out)
{
    (void)env;
    if (no_params(params, out))
        return;
    set_result(out, json_pack("{s:b}", "stopping", 1));
    out->stop = 1;
}

static void
m_verifychain(const struct rpc_env *env, json_t *params, struct rpc_outcome *out)
{
    json_t *jfrom = NULL, *jto = NULL;
    struct ledger_tip tip;
    struct sbx_err err;
    json_error_t je;
    int64_t from = 0, to;
    int rc;

    sbx_err_clear(&err);
    if (json_unpack_ex(params, &je, 0, "{s?o, s?o !}", "from", &jfrom, "to", &jto) != 0) {
        rc = rpc_methods_unpack_error(&je, "", &err);
        rpc_outcome_fail(out, rc, err.msg);
        return;
    }
    node_tip(env->node, &tip);
    to = (int64_t)tip.height;
    rc = present(jfrom) ? rpc_methods_parse_int(jfrom, 0, INT64_MAX, &from, "from", &err) : 0;
    if (rc == SBX_OK && present(jto))
        rc = rpc_methods_parse_int(jto, 0, INT64_MAX, &to, "to", &err);
    if (rc == SBX_OK && from > to)
        rc = sbx_err_set(&err, SBX_EINVAL, "from: after to (%lld > %lld)", (long long)from,
                         (long long)to);
    if (rc) {
        rpc_outcome_fail(out, rc, err.msg);
        return;
    }
    /* a long chain takes a while: the node checks it on a thread of its own and the reply
     * follows (rpc/server.c hands this to node_verify_async) */
    out->kind = RPC_OUT_VERIFY;
    out->vfrom = (uint64_t)from;
    out->vto = (uint64_t)to;
}

void
rpc_methods_verify_done(struct rpc_outcome *o, const struct node_verify_result *v)
{
    json_t *r;

    o->kind = RPC_OUT_RESULT;
    if (v->rc == SBX_EIO || v->rc == SBX_ENOMEM || v->rc == SBX_EINTERNAL ||
        v->rc == SBX_EUNAVAIL) {
        rpc_outcome_fail(o, v->rc, v->message);
        return;
    }
    r = json_object();
    if (r != NULL) {
        put(r, "ok", json_boolean(v->rc == SBX_OK));
        put(r, "checked", u64_json(v->checked));
        if (v->rc != SBX_OK) {
            put(r, "failed_at", u64_json(v->failed_at));
            put(r, "error", text_json(v->message[0] ? v->message : sbx_rc_name(v->rc)));
        }
    }
    set_result(o, r);
}

/* ------------------------------------------------------------------ handlers: accounts, usage */

static json_t *
limit_json(int64_t used, int64_t limit, const char *period)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    put(o, "used", amount_json(used, 0));
    put(o, "limit", amount_json(limit, 0));
    put(o, "remaining", amount_json(limit > used ? limit - used : 0, 0));
    put(o, "period", json_string(period));
    return o;
}

/* The usage of one account, read with the state lock held. */
struct account_usage {
    struct cmp_usage_view u;
    int64_t holding_used; /* VND value of its largest crypto holding (what limit.holding caps) */
};

static int
read_usage(const struct cmp_engine *e, const char *id, int64_t now_ms, struct account_usage *au)
{
    const struct ledger_account *a = ledger_state_get(cmp_engine_state(e), id);
    const struct ledger_genesis *g = cmp_engine_genesis(e);
    int rc;

    memset(au, 0, sizeof(*au));
    if (a == NULL)
        return SBX_ENOTFOUND;
    rc = cmp_engine_usage(e, id, now_ms, &au->u);
    for (size_t i = 1; rc == SBX_OK && i < g->nassets && i < SBX_MAX_ASSETS; i++) {
        int64_t v;

        if (ledger_notional(a->balance[i], cmp_engine_price(e, (int)i), g->assets[i].decimals,
                            &v) != SBX_OK)
            v = INT64_MAX;
        if (v > au->holding_used)
            au->holding_used = v;
    }
    return rc;
}

static json_t *
account_limits_json(const struct account_usage *au)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    /* a single trade uses nothing beforehand: the whole limit is left for the next one */
    put(o, "limit.per_trade", limit_json(0, au->u.per_trade_limit, "trade"));
    put(o, "limit.daily", limit_json(au->u.daily_used, au->u.daily_limit, "day"));
    put(o, "limit.monthly", limit_json(au->u.monthly_used, au->u.monthly_limit, "month"));
    put(o, "limit.holding", limit_json(au->holding_used, au->u.holding_limit, "holding"));
    return o;
}

static void
m_getaccount(const struct rpc_env *env, json_t *params, struct rpc_outcome *out)
{
    char id[SBX_ID_MAX + 1];
    json_t *jacc = NULL, *r, *bal;
    const struct ledger_account *a;
    struct ledger_account acc;
    struct account_usage u;
    struct cmp_engine *e;
    struct sbx_err err;
    json_error_t je;
    size_t na = env->nassets < SBX_MAX_ASSETS ? env->nassets : SBX_MAX_ASSETS;
    int rc, sanctioned = 0, found = 0;

    sbx_err_clear(&err);
    if (json_unpack_ex(params, &je, 0, "{s:o !}", "account", &jacc) != 0)
        rc = rpc_methods_unpack_error(&je, "", &err);
    else
        rc = rpc_methods_parse_id(jacc, SBX_ID_MAX, id, "account", &err);
    if (rc) {
        rpc_outcome_fail(out, rc, err.msg);
        return;
    }
    memset(&u, 0, sizeof(u));
    node_lock(env->node);
    e = node_engine(env->node);
    a = ledger_state_get(cmp_engine_state(e), id);
    if (a != NULL) {
        found = 1;
        acc = *a;
        acc.ext = NULL;
        sanctioned = cmp_engine_is_sanctioned(e, id, NULL);
        rc = read_usage(e, id, env->now_ms, &u);
    }
    node_unlock(env->node);
    if (!found) {
        rpc_outcome_error(out, RPC_NOT_FOUND, "account: no account %s", id);
        return;
    }
    if (rc) {
        rpc_outcome_fail(out, rc, "usage of an existing account");
        return;
    }
    r = json_object();
    bal = json_object();
    if (r == NULL || bal == NULL) {
        json_decref(r);
        json_decref(bal);
        set_result(out, NULL);
        return;
    }
    put(r, "account", json_string(acc.id));
    put(r, "kyc_tier", json_integer(acc.kyc_tier));
    put(r, "investor_class", json_string(ledger_investor_class_name(acc.investor_class)));
    put(r, "country", json_string(acc.country));
    put(r, "status", json_string(ledger_account_status_name(acc.status)));
    put(r, "frozen", json_boolean(acc.frozen));
    put(r, "sanctioned", json_boolean(sanctioned));
    put(r, "kyc_ref", hex_json(acc.kyc_ref, 32));
    put(r, "bank_ref", hex_json(acc.bank_ref, 32));
    put(r, "opened_at", int_json(acc.opened_ms));
    put(r, "updated_at", int_json(acc.updated_ms));
    put(r, "last_activity_at", int_json(acc.last_activity_ms));
    for (size_t i = 0; i < na; i++)
        put(bal, env->assets[i].symbol, amount_json(acc.balance[i], env->assets[i].decimals));
    put(r, "balances", bal);
    put(r, "usage", account_limits_json(&u));
    set_result(out, r);
}

static void
m_getusage(const struct rpc_env *env, json_t *params, struct rpc_outcome *out)
{
    char id[SBX_ID_MAX + 1];
    json_t *jacc = NULL, *r, *limits = NULL;
    struct account_usage u;
    struct cmp_params p;
    struct cmp_engine *e;
    struct sbx_err err;
    json_error_t je;
    int64_t day = 0, total = 0, active = 0;
    int rc = SBX_OK;

    sbx_err_clear(&err);
    if (json_unpack_ex(params, &je, 0, "{s?o !}", "account", &jacc) != 0)
        rc = rpc_methods_unpack_error(&je, "", &err);
    else if (present(jacc))
        rc = rpc_methods_parse_id(jacc, SBX_ID_MAX, id, "account", &err);
    if (rc) {
        rpc_outcome_fail(out, rc, err.msg);
        return;
    }
    memset(&u, 0, sizeof(u));
    node_lock(env->node);
    e = node_engine(env->node);
    p = *cmp_engine_params(e);
    if (present(jacc)) {
        rc = read_usage(e, id, env->now_ms, &u);
    } else {
        cmp_engine_exchange_usage(e, env->now_ms, &day, &total);
        active = (int64_t)ledger_state_count_active(cmp_engine_state(e));
    }
    node_unlock(env->node);
    if (rc == SBX_ENOTFOUND) {
        rpc_outcome_error(out, RPC_NOT_FOUND, "account: no account %s", id);
        return;
    }
    if (rc) {
        rpc_outcome_fail(out, rc, "usage");
        return;
    }
    r = json_object();
    if (r == NULL) {
        set_result(out, NULL);
        return;
    }
    if (present(jacc)) {
        put(r, "account", json_string(id));
        limits = account_limits_json(&u);
    } else {
        limits = json_object();
        if (limits != NULL) {
            put(limits, "limit.exchange_daily", limit_json(day, p.v[CMP_P_EXCHANGE_DAILY], "day"));
            put(limits, "limit.exchange_total",
                limit_json(total, p.v[CMP_P_EXCHANGE_TOTAL], "licence"));
            put(limits, "limit.participants",
                json_pack("{s:I, s:I, s:I, s:s}", "used", (json_int_t)active, "limit",
                          (json_int_t)p.v[CMP_P_PARTICIPANTS_MAX], "remaining",
                          (json_int_t)(p.v[CMP_P_PARTICIPANTS_MAX] > active
                                           ? p.v[CMP_P_PARTICIPANTS_MAX] - active
                                           : 0),
                          "period", "licence"));
        }
    }
    put(r, "time", int_json(env->now_ms));
    put(r, "limits", limits);
    set_result(out, r);
}

/* ------------------------------------------------------------------ handlers: blocks, txs */

static void
m_getblock(const struct rpc_env *env, json_t *params, struct rpc_outcome *out)
{
    json_t *jh = NULL, *jhash = NULL, *jv = NULL, *jx = NULL, *r, *list;
    struct ledger_store *st = node_store(env->node);
    struct sbx_err err;
    json_error_t je;
    struct blk k;
    uint8_t hash[32];
    int64_t h = 0;
    int verbose = 0, want_hex = 0, rc;

    sbx_err_clear(&err);
    blk_init(&k);
    if (json_unpack_ex(params, &je, 0, "{s?o, s?o, s?o, s?o !}", "height", &jh, "hash", &jhash,
                       "verbose", &jv, "hex", &jx) != 0) {
        rc = rpc_methods_unpack_error(&je, "", &err);
        goto fail;
    }
    if (present(jh) == present(jhash)) {
        rc = sbx_err_set(&err, SBX_EINVAL, "height: give either height or hash");
        goto fail;
    }
    rc = parse_bool(jv, &verbose, "verbose", &err);
    rc = rc ? rc : parse_bool(jx, &want_hex, "hex", &err);
    if (rc)
        goto fail;
    if (present(jh)) {
        rc = rpc_methods_parse_int(jh, 0, INT64_MAX, &h, "height", &err);
    } else {
        uint64_t hu = 0;

        rc = rpc_methods_parse_hex32(jhash, hash, "hash", &err);
        rc = rc ? rc : ledger_store_height_of(st, hash, &hu, &err);
        if (rc == SBX_ENOTFOUND)
            sbx_err_set(&err, rc, "hash: no block with this hash");
        h = (int64_t)hu;
    }
    rc = rc ? rc : blk_load(st, (uint64_t)h, &k, &err);
    if (rc == SBX_ENOTFOUND && present(jh))
        sbx_err_set(&err, rc, "height: no block at height %lld", (long long)h);
    if (rc)
        goto fail;

    r = json_object();
    list = json_array();
    if (r == NULL || list == NULL) {
        json_decref(r);
        json_decref(list);
        rc = sbx_err_set(&err, SBX_ENOMEM, "out of memory");
        goto fail;
    }
    put(r, "hash", hex_json(k.hash, 32));
    put(r, "height", u64_json(k.b.hdr.height));
    put(r, "version", json_integer(k.b.hdr.version));
    put(r, "prev_hash", hex_json(k.b.hdr.prev_hash, 32));
    put(r, "time", int_json(k.b.hdr.time_ms));
    put(r, "tx_root", hex_json(k.b.hdr.tx_root, 32));
    put(r, "verdict_root", hex_json(k.b.hdr.verdict_root, 32));
    put(r, "state_digest", hex_json(k.b.hdr.state_digest, 32));
    put(r, "producer", hex_json(k.b.hdr.producer, 32));
    put(r, "signature", hex_json(k.b.hdr.sig, 64));
    put(r, "ntx", json_integer((json_int_t)k.b.ntx));
    if (!take_budget(env, k.b.ntx * (verbose ? RPC_UNITS_TX : RPC_UNITS_TXID))) {
        json_decref(r);
        json_decref(list);
        rc = sbx_err_set(&err, SBX_EINVAL,
                         "%s: a block of %zu transactions is more than is left to show in this "
                         "request; ask for it alone%s",
                         verbose ? "verbose" : "height", k.b.ntx,
                         verbose ? ", or without verbose and use gettx" : "");
        goto fail;
    }
    for (size_t i = 0; i < k.b.ntx; i++) {
        json_t *item;

        if (verbose) {
            item = located_json(env, &k, i, NULL, &err);
        } else {
            struct ledger_tx tx;
            uint8_t txid[32];

            item = NULL;
            if (blk_tx(&k, i, &tx, txid, &err) == SBX_OK) {
                item = hex_json(txid, 32);
                ledger_tx_release(&tx);
            }
        }
        if (item == NULL) {
            json_decref(r);
            json_decref(list);
            rc = err.code ? err.code : SBX_ENOMEM;
            goto fail;
        }
        json_array_append_new(list, item);
    }
    put(r, verbose ? "transactions" : "txids", list);
    if (want_hex) {
        /* the whole encoded block: what peers exchange, and how a follower gets its genesis */
        if (!take_budget(env, k.b.ntx * RPC_UNITS_TX)) {
            json_decref(r);
            rc = sbx_err_set(&err, SBX_EINVAL,
                             "hex: a block of %zu transactions is more than is left to show in "
                             "this request",
                             k.b.ntx);
            goto fail;
        }
        char *hx = malloc(2 * k.raw.len + 1);

        if (hx == NULL) {
            json_decref(r);
            rc = sbx_err_set(&err, SBX_ENOMEM, "out of memory");
            goto fail;
        }
        hex_encode(hx, k.raw.data, k.raw.len);
        put(r, "hex", json_stringn_nocheck(hx, 2 * k.raw.len));
        free(hx);
    }
    blk_release(&k);
    set_result(out, r);
    return;
fail:
    blk_release(&k);
    rpc_outcome_fail(out, rc, err.msg);
}

static void
located_result(const struct rpc_env *env, const uint8_t txid[static 32], struct rpc_outcome *out)
{
    struct sbx_err err;
    struct blk k;
    json_t *r;

    sbx_err_clear(&err);
    blk_init(&k);
    r = txid_json(env, txid, &k, NULL, &err);
    blk_release(&k);
    if (r == NULL && err.code == SBX_ENOTFOUND) {
        char hex[65];

        hex_encode(hex, txid, 32);
        rpc_outcome_error(out, RPC_NOT_FOUND, "txid: no transaction %s", hex);
        return;
    }
    if (r == NULL) {
        rpc_outcome_fail(out, err.code ? err.code : SBX_ENOMEM, err.msg);
        return;
    }
    set_result(out, r);
}

static void
m_gettx(const struct rpc_env *env, json_t *params, struct rpc_outcome *out)
{
    json_t *jt = NULL;
    struct sbx_err err;
    json_error_t je;
    uint8_t txid[32];
    int rc;

    sbx_err_clear(&err);
    if (json_unpack_ex(params, &je, 0, "{s:o !}", "txid", &jt) != 0)
        rc = rpc_methods_unpack_error(&je, "", &err);
    else
        rc = rpc_methods_parse_hex32(jt, txid, "txid", &err);
    if (rc) {
        rpc_outcome_fail(out, rc, err.msg);
        return;
    }
    located_result(env, txid, out);
}

static void
m_gettrade(const struct rpc_env *env, json_t *params, struct rpc_outcome *out)
{
    char id[SBX_ID_MAX + 1];
    uint8_t key[2 + SBX_ID_MAX], txid[32];
    json_t *jt = NULL;
    struct sbx_err err;
    json_error_t je;
    size_t n;
    int rc;

    sbx_err_clear(&err);
    if (json_unpack_ex(params, &je, 0, "{s:o !}", "trade_id", &jt) != 0)
        rc = rpc_methods_unpack_error(&je, "", &err);
    else
        rc = rpc_methods_parse_id(jt, SBX_ID_MAX, id, "trade_id", &err);
    if (rc) {
        rpc_outcome_fail(out, rc, err.msg);
        return;
    }
    n = strlen(id);
    key[0] = LEDGER_K_IDEM;
    key[1] = CMP_ID_TRADE;
    memcpy(key + 2, id, n);
    /* the id may be only in memory until the next state checkpoint (chain.h) */
    rc = node_find_id(env->node, key, 2 + n, txid);
    if (rc && rc != SBX_ENOTFOUND)
        sbx_err_set(&err, rc, "reading the trade id record of %s failed", id);
    if (rc == SBX_ENOTFOUND) {
        rpc_outcome_error(out, RPC_NOT_FOUND, "trade_id: no trade %s", id);
        return;
    }
    if (rc) {
        rpc_outcome_fail(out, rc, err.msg);
        return;
    }
    located_result(env, txid, out);
}

/* ------------------------------------------------------------------ handlers: lists */

/* The common parameters of list methods. */
struct list_args {
    int64_t from, to; /* inclusive, ms */
    int has_to;
    size_t limit;
    uint8_t cursor[INDEX_KEY_MAX];
    size_t cursor_len; /* 0: none */
};

static int
parse_list_args(json_t *jfrom, json_t *jto, json_t *jlimit, json_t *jcursor, struct list_args *a,
                struct sbx_err *err)
{
    int64_t lim = RPC_LIST_LIMIT_DEFAULT;
    int rc = SBX_OK;

    memset(a, 0, sizeof(*a));
    a->to = INT64_MAX;
    if (present(jfrom))
        rc = rpc_methods_parse_int(jfrom, 0, INT64_MAX, &a->from, "from", err);
    if (rc == SBX_OK && present(jto)) {
        rc = rpc_methods_parse_int(jto, 0, INT64_MAX, &a->to, "to", err);
        a->has_to = 1;
    }
    if (rc == SBX_OK && a->from > a->to)
        rc = sbx_err_set(err, SBX_EINVAL, "from: after to");
    if (rc == SBX_OK && present(jlimit))
        rc = rpc_methods_parse_int(jlimit, 1, RPC_LIST_LIMIT_MAX, &lim, "limit", err);
    a->limit = (size_t)lim;
    if (rc == SBX_OK && present(jcursor)) {
        if (!json_is_string(jcursor) ||
            hex_decode_var(a->cursor, sizeof(a->cursor), &a->cursor_len, json_string_value(jcursor),
                           json_string_length(jcursor)) != SBX_OK ||
            a->cursor_len == 0)
            rc = sbx_err_set(err, SBX_EINVAL, "cursor: not a cursor returned by this method");
    }
    return rc;
}

/* A reverse scan of one index (prefix, then u64 time, then 32 txid), newest first. */
struct listq {
    const struct rpc_env *env;
    struct ledger_store *st;
    const uint8_t *prefix;
    size_t plen;
    int64_t from;
    size_t limit;
    int want_type;     /* -1: any */
    const char *asset; /* trades of this asset only, or NULL */
    json_t *items;
    size_t nitems;
    uint8_t last[INDEX_KEY_MAX]; /* the last key looked at */
    size_t lastlen;
    int more;
    size_t scanned;
    struct blk blk;
    int rc;
    struct sbx_err err;
};

static int
list_cb(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    struct listq *q = ctx;
    int64_t t;
    int type = -1;
    json_t *item;

    (void)val;
    (void)vlen;
    if (klen != q->plen + LEDGER_INDEX_TAIL)
        return 0; /* not an entry of this index (cannot happen with the prefixes used) */
    t = (int64_t)buf_load_u64(key + q->plen);
    if (t < q->from)
        return 1;
    if (q->scanned >= SCAN_BUDGET || !take_budget(q->env, RPC_UNITS_TX)) {
        q->more = 1;
        return 1;
    }
    q->scanned++;
    item = txid_json(q->env, key + q->plen + LEDGER_INDEX_TAIL - 32, &q->blk, &type, &q->err);
    if (item == NULL) {
        q->rc = q->err.code ? q->err.code : SBX_ENOMEM;
        return 1;
    }
    if (q->asset != NULL) {
        const char *as = json_string_value(json_object_get(item, "asset"));

        if (as == NULL || strcmp(as, q->asset) != 0)
            type = -2; /* another asset: skip */
    }
    if ((q->want_type >= 0 && type != q->want_type) || q->nitems == q->limit) {
        /* not shown: give its share of the budget back */
        json_decref(item);
        if (q->env->budget != NULL)
            *q->env->budget += RPC_UNITS_TX;
        if (q->nitems == q->limit) {
            q->more = 1;
            return 1;
        }
        memcpy(q->last, key, klen);
        q->lastlen = klen;
        return 0;
    }
    json_array_append_new(q->items, item);
    q->nitems++;
    memcpy(q->last, key, klen);
    q->lastlen = klen;
    return 0;
}

/* Run a list query over index `prefix` and answer {items, next_cursor}. */
static void
list_index(const struct rpc_env *env, const uint8_t *prefix, size_t plen, const struct list_args *a,
           int want_type, const char *asset, struct rpc_outcome *out)
{
    uint8_t start[INDEX_KEY_MAX];
    size_t slen = 0;
    const uint8_t *sp = NULL;
    struct listq q;
    char cur[2 * INDEX_KEY_MAX + 1];
    json_t *r;
    int rc;

    memset(&q, 0, sizeof(q));
    if (a->cursor_len > 0) {
        if (a->cursor_len != plen + LEDGER_INDEX_TAIL || memcmp(a->cursor, prefix, plen) != 0) {
            rpc_outcome_error(out, RPC_INVALID_PARAMS,
                              "cursor: not a cursor returned by this query");
            return;
        }
        sp = a->cursor;
        slen = a->cursor_len;
    } else if (a->has_to && a->to < INT64_MAX) {
        memcpy(start, prefix, plen);
        buf_store_u64(start + plen, (uint64_t)a->to + 1);
        sp = start;
        slen = plen + 8;
    }
    q.env = env;
    q.st = node_store(env->node);
    q.prefix = prefix;
    q.plen = plen;
    q.from = a->from;
    q.limit = a->limit;
    q.want_type = want_type;
    q.asset = asset;
    q.items = json_array();
    blk_init(&q.blk);
    sbx_err_clear(&q.err);
    if (q.items == NULL) {
        blk_release(&q.blk);
        rpc_outcome_fail(out, SBX_ENOMEM, "out of memory");
        return;
    }
    rc = ledger_store_scan(q.st, prefix, plen, sp, slen, 1, list_cb, &q, &q.err);
    blk_release(&q.blk);
    if (rc == SBX_OK)
        rc = q.rc;
    if (rc) {
        json_decref(q.items);
        rpc_outcome_fail(out, rc, q.err.msg);
        return;
    }
    r = json_object();
    if (r == NULL) {
        json_decref(q.items);
        set_result(out, NULL);
        return;
    }
    put(r, "items", q.items);
    if (q.more && q.lastlen == 0) {
        /* stopped before looking at any key: a cursor just above the range asked for */
        memcpy(q.last, prefix, plen);
        if (sp != NULL && slen == plen + LEDGER_INDEX_TAIL) {
            memcpy(q.last, sp, slen);
        } else {
            buf_store_u64(q.last + plen, sp != NULL ? buf_load_u64(sp + plen) : UINT64_MAX);
            memset(q.last + plen + 8, sp != NULL ? 0x00 : 0xff, LEDGER_INDEX_TAIL - 8);
        }
        q.lastlen = plen + LEDGER_INDEX_TAIL;
    }
    if (q.more) {
        hex_encode(cur, q.last, q.lastlen);
        put(r, "next_cursor", json_string(cur));
    } else {
        put(r, "next_cursor", json_null());
    }
    set_result(out, r);
}

static void
m_listtrades(const struct rpc_env *env, json_t *params, struct rpc_outcome *out)
{
    json_t *jacc = NULL, *jasset = NULL, *jfrom = NULL, *jto = NULL, *jlimit = NULL,
           *jcursor = NULL;
    char account[SBX_ID_MAX + 1], asset[SBX_ASSET_MAX + 1];
    uint8_t prefix[1 + SBX_ID_MAX + 1];
    struct list_args a;
    struct sbx_err err;
    json_error_t je;
    size_t plen = 1;
    int rc;

    sbx_err_clear(&err);
    if (json_unpack_ex(params, &je, 0, "{s?o, s?o, s?o, s?o, s?o, s?o !}", "account", &jacc,
                       "asset", &jasset, "from", &jfrom, "to", &jto, "limit", &jlimit, "cursor",
                       &jcursor) != 0)
        rc = rpc_methods_unpack_error(&je, "", &err);
    else
        rc = parse_list_args(jfrom, jto, jlimit, jcursor, &a, &err);
    if (rc == SBX_OK && present(jacc))
        rc = rpc_methods_parse_id(jacc, SBX_ID_MAX, account, "account", &err);
    if (rc == SBX_OK && present(jasset))
        rc = parse_symbol(jasset, asset, "asset", &err);
    if (rc) {
        rpc_outcome_fail(out, rc, err.msg);
        return;
    }
    if (present(jacc)) {
        /* every transaction of the account: keep its trades (of the asset, if given) */
        prefix[0] = LEDGER_K_BY_ACCOUNT;
        memcpy(prefix + 1, account, strlen(account));
        plen = 1 + strlen(account);
        prefix[plen++] = 0;
        list_index(env, prefix, plen, &a, LEDGER_TX_TRADE, present(jasset) ? asset : NULL, out);
    } else if (present(jasset)) {
        prefix[0] = LEDGER_K_BY_ASSET;
        memcpy(prefix + 1, asset, strlen(asset));
        plen = 1 + strlen(asset);
        prefix[plen++] = 0;
        list_index(env, prefix, plen, &a, LEDGER_TX_TRADE, NULL, out);
    } else {
        prefix[0] = LEDGER_K_TRADES;
        list_index(env, prefix, 1, &a, LEDGER_TX_TRADE, NULL, out);
    }
}

static void
m_listrejections(const struct rpc_env *env, json_t *params, struct rpc_outcome *out)
{
    json_t *jrule = NULL, *jfrom = NULL, *jto = NULL, *jlimit = NULL, *jcursor = NULL;
    uint8_t prefix[3];
    struct list_args a;
    struct sbx_err err;
    json_error_t je;
    int rc, rule = -1;

    sbx_err_clear(&err);
    if (json_unpack_ex(params, &je, 0, "{s?o, s?o, s?o, s?o, s?o !}", "rule", &jrule, "from",
                       &jfrom, "to", &jto, "limit", &jlimit, "cursor", &jcursor) != 0)
        rc = rpc_methods_unpack_error(&je, "", &err);
    else
        rc = parse_list_args(jfrom, jto, jlimit, jcursor, &a, &err);
    if (rc == SBX_OK && present(jrule))
        rc = parse_enum(jrule, parse_rule_name, "the rule ids of doc/compliance.md", &rule, "rule",
                        &err);
    if (rc) {
        rpc_outcome_fail(out, rc, err.msg);
        return;
    }
    if (rule >= 0) {
        prefix[0] = LEDGER_K_REJECTION;
        buf_store_u16(prefix + 1, (uint16_t)rule);
        list_index(env, prefix, 3, &a, -1, NULL, out);
    } else {
        prefix[0] = LEDGER_K_REJECTION_ALL;
        list_index(env, prefix, 1, &a, -1, NULL, out);
    }
}

/* An alert index entry: 'K' kind u64 time 32 id. */
#define ALERT_KEY_SIZE (1 + 1 + 8 + 32)

struct alert_ref {
    uint64_t time;
    uint8_t kind;
    uint8_t id[32];
};

struct alertq {
    struct alert_ref *refs;
    size_t n, cap, per_kind, this_kind;
    int64_t from;
};

static int
alert_cb(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    struct alertq *q = ctx;
    struct alert_ref *r;

    (void)val;
    (void)vlen;
    if (klen != ALERT_KEY_SIZE)
        return 0;
    if ((int64_t)buf_load_u64(key + 2) < q->from)
        return 1;
    if (q->this_kind >= q->per_kind || q->n >= q->cap)
        return 1;
    r = &q->refs[q->n++];
    r->kind = key[1];
    r->time = buf_load_u64(key + 2);
    memcpy(r->id, key + 10, 32);
    q->this_kind++;
    return 0;
}

/* Newest first: time, then kind, then id, all descending (the order of the cursor). */
static int
alert_ref_cmp(const void *x, const void *y)
{
    const struct alert_ref *a = x, *b = y;
    int c;

    if (a->time != b->time)
        return a->time < b->time ? 1 : -1;
    if (a->kind != b->kind)
        return a->kind < b->kind ? 1 : -1;
    c = memcmp(a->id, b->id, 32);
    return -c;
}

static json_t *
alert_json(const struct cmp_alert *al)
{
    const char *kind = cmp_alert_name(al->kind);
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    put(o, "id", hex_json(al->id, 32));
    put(o, "kind", json_string(kind ? kind : "unknown"));
    put(o, "account", json_string(al->account));
    put(o, "time", int_json(al->time_ms));
    put(o, "amount_vnd", amount_json(al->amount_vnd, 0));
    put(o, "txid", hex_json(al->txid, 32));
    return o;
}

static void
m_listalerts(const struct rpc_env *env, json_t *params, struct rpc_outcome *out)
{
    json_t *jkind = NULL, *jfrom = NULL, *jto = NULL, *jlimit = NULL, *jcursor = NULL, *items, *r;
    struct ledger_store *st = node_store(env->node);
    struct alertq q;
    struct list_args a;
    struct sbx_err err;
    json_error_t je;
    struct buf val;
    size_t nkinds, take;
    int rc, kind = -1, more;
    char cur[2 * ALERT_KEY_SIZE + 1];

    sbx_err_clear(&err);
    memset(&q, 0, sizeof(q));
    if (json_unpack_ex(params, &je, 0, "{s?o, s?o, s?o, s?o, s?o !}", "kind", &jkind, "from",
                       &jfrom, "to", &jto, "limit", &jlimit, "cursor", &jcursor) != 0)
        rc = rpc_methods_unpack_error(&je, "", &err);
    else
        rc = parse_list_args(jfrom, jto, jlimit, jcursor, &a, &err);
    if (rc == SBX_OK && present(jkind))
        rc = parse_enum(jkind, parse_alert_kind,
                        "aml.large_value, aml.structuring, aml.rapid_in_out, aml.velocity", &kind,
                        "kind", &err);
    if (rc == SBX_OK && a.cursor_len > 0 &&
        (a.cursor_len != ALERT_KEY_SIZE || a.cursor[0] != LEDGER_K_ALERT_IDX || a.cursor[1] < 1 ||
         a.cursor[1] > CMP_ALERT_MAX || (kind > 0 && a.cursor[1] != kind)))
        rc = sbx_err_set(&err, SBX_EINVAL, "cursor: not a cursor returned by this query");
    if (rc) {
        rpc_outcome_fail(out, rc, err.msg);
        return;
    }
    nkinds = kind > 0 ? 1 : CMP_ALERT_MAX;
    q.per_kind = a.limit + 1;
    q.cap = q.per_kind * nkinds;
    q.from = a.from;
    q.refs = calloc(q.cap, sizeof(q.refs[0]));
    if (q.refs == NULL) {
        rpc_outcome_fail(out, SBX_ENOMEM, "out of memory");
        return;
    }
    /* one reverse scan per kind, each starting just after the cursor in the merged order */
    for (int k = 1; rc == SBX_OK && k <= CMP_ALERT_MAX; k++) {
        uint8_t prefix[2] = {LEDGER_K_ALERT_IDX, (uint8_t)k}, start[ALERT_KEY_SIZE];
        size_t slen = 0;

        if (kind > 0 && k != kind)
            continue;
        if (a.cursor_len > 0) {
            uint64_t ct = buf_load_u64(a.cursor + 2);

            memcpy(start, prefix, 2);
            if (k == a.cursor[1]) {
                memcpy(start, a.cursor, ALERT_KEY_SIZE);
                slen = ALERT_KEY_SIZE;
            } else {
                /* a lower kind sorts after the cursor at the same time; a higher one before */
                buf_store_u64(start + 2, k < a.cursor[1] ? ct + 1 : ct);
                slen = 10;
            }
        } else if (a.has_to && a.to < INT64_MAX) {
            memcpy(start, prefix, 2);
            buf_store_u64(start + 2, (uint64_t)a.to + 1);
            slen = 10;
        }
        q.this_kind = 0;
        rc = ledger_store_scan(st, prefix, 2, slen ? start : NULL, slen, 1, alert_cb, &q, &err);
    }
    if (rc) {
        free(q.refs);
        rpc_outcome_fail(out, rc, err.msg);
        return;
    }
    qsort(q.refs, q.n, sizeof(q.refs[0]), alert_ref_cmp);
    take = q.n < a.limit ? q.n : a.limit;
    more = q.n > a.limit;
    if (env->budget != NULL && take > *env->budget / RPC_UNITS_ALERT) {
        take = *env->budget / RPC_UNITS_ALERT;
        more = 1;
        if (take == 0) {
            free(q.refs);
            rpc_outcome_error(out, RPC_INVALID_PARAMS,
                              "limit: this request has already shown all it may; ask in "
                              "smaller batches");
            return;
        }
    }
    if (env->budget != NULL)
        *env->budget -= take * RPC_UNITS_ALERT;
    items = json_array();
    r = json_object();
    buf_init(&val, 1024);
    for (size_t i = 0; items != NULL && i < take; i++) {
        uint8_t key[1 + 32];
        struct cmp_alert al;

        key[0] = LEDGER_K_ALERT;
        memcpy(key + 1, q.refs[i].id, 32);
        rc = ledger_store_get(st, key, sizeof(key), &val, &err);
        if (rc == SBX_ENOTFOUND) {
            rc = SBX_OK; /* an index entry without its record: skip it */
            continue;
        }
        rc = rc ? rc : cmp_alert_decode(&al, val.data, val.len, &err);
        if (rc)
            break;
        json_array_append_new(items, alert_json(&al));
    }
    buf_release(&val);
    if (rc || items == NULL || r == NULL) {
        json_decref(items);
        json_decref(r);
        free(q.refs);
        rpc_outcome_fail(out, rc ? rc : SBX_ENOMEM, rc ? err.msg : "out of memory");
        return;
    }
    put(r, "items", items);
    if (more && take > 0) {
        uint8_t key[ALERT_KEY_SIZE];
        const struct alert_ref *last = &q.refs[take - 1];

        key[0] = LEDGER_K_ALERT_IDX;
        key[1] = last->kind;
        buf_store_u64(key + 2, last->time);
        memcpy(key + 10, last->id, 32);
        hex_encode(cur, key, sizeof(key));
        put(r, "next_cursor", json_string(cur));
    } else {
        put(r, "next_cursor", json_null());
    }
    free(q.refs);
    set_result(out, r);
}

/* ------------------------------------------------------------------ the table */

#define OPERATOR (RPC_ROLE_OPERATOR | RPC_ROLE_ADMIN)
#define SUPERVISOR (RPC_ROLE_SUPERVISOR | RPC_ROLE_ADMIN)
#define ADMIN RPC_ROLE_ADMIN
#define ANY RPC_ROLES_ANY

static const struct rpc_method method_table[] = {
    {"getinfo", ANY, m_getinfo},
    {"openaccount", OPERATOR, m_openaccount},
    {"updateaccount", OPERATOR, m_updateaccount},
    {"deposit", OPERATOR, m_deposit},
    {"withdraw", OPERATOR, m_withdraw},
    {"submittrade", OPERATOR, m_submittrade},
    {"submitrawtx", OPERATOR | SUPERVISOR, m_submitrawtx},
    {"checktrade", OPERATOR | SUPERVISOR, m_checktrade},
    {"getblock", ANY, m_getblock},
    {"gettx", ANY, m_gettx},
    {"gettrade", ANY, m_gettrade},
    {"listtrades", ANY, m_listtrades},
    {"getaccount", ANY, m_getaccount},
    {"getusage", ANY, m_getusage},
    {"getlicence", ANY, m_getlicence},
    {"listalerts", ANY, m_listalerts},
    {"listrejections", ANY, m_listrejections},
    {"submitdirective", SUPERVISOR, m_submitdirective},
    {"getsupervision", ANY, m_getsupervision},
    {"verifychain", SUPERVISOR, m_verifychain},
    {"getpeerinfo", ANY, m_getpeerinfo},
    {"listnodealerts", ANY, m_listnodealerts},
#ifdef SBX_TEST_HOOKS
    {"testhook", ADMIN, m_testhook},
#endif
    {"stop", ADMIN, m_stop},
};

const struct rpc_method *
rpc_methods_find(const char *name)
{
    for (size_t i = 0; i < SBX_ARRAY_LEN(method_table); i++) {
        if (strcmp(method_table[i].name, name) == 0)
            return &method_table[i];
    }
    return NULL;
}

const struct rpc_method *
rpc_methods_table(size_t *n)
{
    *n = SBX_ARRAY_LEN(method_table);
    return method_table;
}

void
rpc_methods_call(const struct rpc_env *env, const char *method, json_t *params,
                 struct rpc_outcome *out)
{
    const struct rpc_method *m = rpc_methods_find(method);
    json_t *empty = NULL;

    if (m == NULL) {
        rpc_outcome_error(out, RPC_METHOD_NOT_FOUND, "method not found: %.64s", method);
        return;
    }
    if ((m->roles & (unsigned)env->role) == 0) {
        const char *rn = rpc_auth_role_name(env->role);

        rpc_outcome_error(out, RPC_FORBIDDEN, "%s: not allowed for role %s", m->name,
                          rn ? rn : "none");
        return;
    }
    if (params == NULL || json_is_null(params) ||
        (json_is_array(params) && json_array_size(params) == 0)) {
        empty = json_object();
        if (empty == NULL) {
            rpc_outcome_fail(out, SBX_ENOMEM, "out of memory");
            return;
        }
        params = empty;
    } else if (json_is_array(params)) {
        rpc_outcome_error(out, RPC_INVALID_PARAMS, "params: must be an object of named parameters");
        return;
    } else if (!json_is_object(params)) {
        rpc_outcome_error(out, RPC_INVALID_PARAMS, "params: must be an object");
        return;
    }
    m->fn(env, params, out);
    json_decref(empty);
}
