/* Licence parameters; see params.h. */
#include "compliance/params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ledger/amount.h"

struct param_def {
    const char *name;
    int64_t def, lo, hi;
};

#define X(e, name, def, lo, hi) {name, def, lo, hi},
static const struct param_def defs[CMP_P_COUNT] = {CMP_PARAMS(X)};
#undef X

const char *
cmp_params_name(enum cmp_param p)
{
    return (unsigned)p < CMP_P_COUNT ? defs[p].name : NULL;
}

int64_t
cmp_params_default(enum cmp_param p)
{
    return (unsigned)p < CMP_P_COUNT ? defs[p].def : 0;
}

int64_t
cmp_params_time_before_ms(const struct cmp_params *p, int tx_type)
{
    int64_t skew = p->v[CMP_P_MAX_SKEW_MS];

    /* a k-of-n directive keeps the proposer's timestamp while its cosignatures are gathered */
    if (tx_type == LEDGER_TX_DIRECTIVE)
        return skew + p->v[CMP_P_PROPOSAL_TTL_S] * 1000;
    return skew;
}

int
cmp_params_required(enum cmp_param p)
{
#define X(e)                                                                                       \
    if (p == (e))                                                                                  \
        return 1;
    CMP_PARAMS_REQUIRED(X)
#undef X
    return 0;
}

void
cmp_params_defaults(struct cmp_params *p)
{
    memset(p, 0, sizeof(*p));
    for (int i = 0; i < CMP_P_COUNT; i++)
        p->v[i] = defs[i].def;
    p->version = 1;
}

int
cmp_params_lookup(const char *name, const struct ledger_asset_def *assets, size_t nassets,
                  int *param, int *asset_index)
{
    static const char pre[] = "asset.", suf[] = ".ref_price_vnd";
    size_t n = strlen(name);

    *param = -1;
    *asset_index = -1;
    for (int i = 0; i < CMP_P_COUNT; i++) {
        if (strcmp(defs[i].name, name) == 0) {
            *param = i;
            return SBX_OK;
        }
    }
    if (n > sizeof(pre) - 1 + sizeof(suf) - 1 && strncmp(name, pre, sizeof(pre) - 1) == 0 &&
        strcmp(name + n - (sizeof(suf) - 1), suf) == 0) {
        size_t slen = n - (sizeof(pre) - 1) - (sizeof(suf) - 1);
        const char *sym = name + sizeof(pre) - 1;

        for (size_t i = 1; i < nassets; i++) { /* 0 is VND: it has no reference price */
            if (strlen(assets[i].symbol) == slen && strncmp(assets[i].symbol, sym, slen) == 0) {
                *asset_index = (int)i;
                return SBX_OK;
            }
        }
    }
    return SBX_ENOTFOUND;
}

int
cmp_params_set(struct cmp_params *p, const char *name, int64_t value,
               const struct ledger_asset_def *assets, size_t nassets, struct sbx_err *err)
{
    int param, asset;

    if (cmp_params_lookup(name, assets, nassets, &param, &asset) != SBX_OK)
        return sbx_err_set(err, SBX_EINVAL, "%s: unknown parameter", name);
    if (asset >= 0) {
        if (value <= 0)
            return sbx_err_set(err, SBX_EINVAL, "%s: must be > 0", name);
        p->ref_price[asset] = value;
        return SBX_OK;
    }
    if (value < defs[param].lo || value > defs[param].hi)
        return sbx_err_set(err, SBX_EINVAL, "%s: %lld out of range %lld..%lld", name,
                           (long long)value, (long long)defs[param].lo, (long long)defs[param].hi);
    if (param == CMP_P_VALID_TO && p->v[CMP_P_VALID_FROM] >= value)
        return sbx_err_set(err, SBX_EINVAL, "%s: must be after licence.valid_from", name);
    if (param == CMP_P_VALID_FROM && p->v[CMP_P_VALID_TO] != 0 && value >= p->v[CMP_P_VALID_TO])
        return sbx_err_set(err, SBX_EINVAL, "%s: must be before licence.valid_to", name);
    if (param == CMP_P_TRADING_OPEN_MIN && value > p->v[CMP_P_TRADING_CLOSE_MIN])
        return sbx_err_set(err, SBX_EINVAL, "%s: must not be after trading.close_min", name);
    if (param == CMP_P_TRADING_CLOSE_MIN && value < p->v[CMP_P_TRADING_OPEN_MIN])
        return sbx_err_set(err, SBX_EINVAL, "%s: must not be before trading.open_min", name);
    p->v[param] = value;
    return SBX_OK;
}

static int
copy_text(char *dst, size_t max, json_t *v, const char *key, struct sbx_err *err)
{
    const char *s;

    if (!json_is_string(v))
        return sbx_err_set(err, SBX_EINVAL, "licence.%s: must be a string", key);
    s = json_string_value(v);
    if (!ledger_id_valid(s, max))
        return sbx_err_set(err, SBX_EINVAL, "licence.%s: 1..%zu printable characters, no spaces",
                           key, max);
    memcpy(dst, s, strlen(s) + 1);
    return SBX_OK;
}

int
cmp_params_from_json(struct cmp_params *p, const char *json, size_t len, int canonical,
                     const struct ledger_asset_def *assets, size_t nassets, struct sbx_err *err)
{
    json_error_t jerr;
    json_t *root, *params, *v;
    const char *key;
    char *canon = NULL;
    int rc = SBX_OK;

    cmp_params_defaults(p);
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return sbx_err_set(err, SBX_EINVAL, "licence: not JSON (%s at line %d)", jerr.text,
                           jerr.line);
    if (!json_is_object(root)) {
        rc = sbx_err_set(err, SBX_EINVAL, "licence: must be a JSON object");
        goto out;
    }
    if (canonical) {
        canon = json_dumps(root, JSON_SORT_KEYS | JSON_COMPACT);
        if (canon == NULL || strlen(canon) != len || memcmp(canon, json, len) != 0) {
            rc = sbx_err_set(err, SBX_ENONCANON, "licence: not in canonical form");
            goto out;
        }
    }
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "params") == 0)
            continue;
        if (strcmp(key, "licence_id") == 0)
            rc = copy_text(p->licence_id, SBX_ID_MAX, v, key, err);
        else if (strcmp(key, "house_account") == 0)
            rc = copy_text(p->house_account, SBX_ID_MAX, v, key, err);
        else
            rc = sbx_err_set(err, SBX_EINVAL, "licence.%s: unknown key", key);
        if (rc)
            goto out;
    }
    params = json_object_get(root, "params");
    if (!json_is_object(params)) {
        rc = sbx_err_set(err, SBX_EINVAL, "licence.params: must be an object");
        goto out;
    }
    /* the window first, so that range checks between the two see both */
    v = json_object_get(params, "licence.valid_from");
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        rc = sbx_err_set(err, SBX_EINVAL, "licence.valid_from: required, ms since the epoch");
        goto out;
    }
    p->v[CMP_P_VALID_FROM] = json_integer_value(v);
    v = json_object_get(params, "licence.valid_to");
    if (!json_is_integer(v)) {
        rc = sbx_err_set(err, SBX_EINVAL, "licence.valid_to: required, ms since the epoch");
        goto out;
    }
    rc = cmp_params_set(p, "licence.valid_to", json_integer_value(v), assets, nassets, err);
    if (rc)
        goto out;
    /* open/close: set close first so that open <= close holds whichever is named */
    v = json_object_get(params, "trading.close_min");
    if (json_is_integer(v)) {
        p->v[CMP_P_TRADING_OPEN_MIN] = 0;
        rc = cmp_params_set(p, "trading.close_min", json_integer_value(v), assets, nassets, err);
        if (rc)
            goto out;
    }
    json_object_foreach(params, key, v)
    {
        if (!json_is_integer(v)) {
            rc = sbx_err_set(err, SBX_EINVAL, "%s: must be an integer", key);
            goto out;
        }
        if (strcmp(key, "licence.valid_from") == 0 || strcmp(key, "licence.valid_to") == 0 ||
            strcmp(key, "trading.close_min") == 0)
            continue;
        rc = cmp_params_set(p, key, json_integer_value(v), assets, nassets, err);
        if (rc)
            goto out;
    }
    for (size_t i = 1; i < nassets; i++) {
        if (p->ref_price[i] <= 0) {
            rc = sbx_err_set(err, SBX_EINVAL, "asset.%s.ref_price_vnd: required for every asset",
                             assets[i].symbol);
            goto out;
        }
    }
out:
    free(canon);
    json_decref(root);
    return rc;
}

char *
cmp_params_canonicalize(const char *json, size_t len, struct sbx_err *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    char *out;

    if (root == NULL) {
        sbx_err_set(err, SBX_EINVAL, "licence: not JSON (%s at line %d)", jerr.text, jerr.line);
        return NULL;
    }
    out = json_dumps(root, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(root);
    if (out == NULL)
        sbx_err_set(err, SBX_ENOMEM, "licence: out of memory");
    return out;
}

char *
cmp_params_to_json(const struct cmp_params *p, const struct ledger_asset_def *assets,
                   size_t nassets)
{
    json_t *root = json_object(), *params = json_object();
    char name[SBX_PARAM_NAME_MAX + 32];
    char *out = NULL;

    if (root == NULL || params == NULL)
        goto out;
    for (int i = 0; i < CMP_P_COUNT; i++)
        json_object_set_new(params, defs[i].name, json_integer(p->v[i]));
    for (size_t i = 1; i < nassets; i++) {
        snprintf(name, sizeof(name), "asset.%s.ref_price_vnd", assets[i].symbol);
        json_object_set_new(params, name, json_integer(p->ref_price[i]));
    }
    json_object_set(root, "params", params);
    if (p->licence_id[0])
        json_object_set_new(root, "licence_id", json_string(p->licence_id));
    if (p->house_account[0])
        json_object_set_new(root, "house_account", json_string(p->house_account));
    out = json_dumps(root, JSON_SORT_KEYS | JSON_COMPACT);
out:
    json_decref(params);
    json_decref(root);
    return out;
}

int64_t
cmp_params_tier_limit(const struct cmp_params *p, enum cmp_param tier1_param, int tier,
                      int investor_class)
{
    int64_t limit, scaled;

    if (tier < 1 || tier > 3)
        tier = 1;
    limit = p->v[tier1_param + (tier - 1)];
    if (investor_class == LEDGER_CLASS_FOREIGN_INDIVIDUAL ||
        investor_class == LEDGER_CLASS_FOREIGN_ORG) {
        if (ledger_muldiv(limit, p->v[CMP_P_FOREIGN_FACTOR_PCT], 100, &scaled) != SBX_OK)
            scaled = INT64_MAX;
        limit = scaled;
    }
    return limit;
}
