/* The licence file of a new network: reading it and checking every field, so that `sbxd
 * -init` refuses a bad file with one message naming the field before it creates anything; see
 * licence_file.h. The licence document it builds for the genesis block is checked once more by
 * cmp_params_from_json, the reader every node applies to block 0.
 *
 * Threads: any (no shared state).
 */
#include "compliance/licence_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "compliance/params.h"
#include "ledger/keys.h"
#include "util/hex.h"
#include "util/time.h"

/* The parsing context: the file's object and where the error goes. */
struct lf_read {
    struct cmp_licence_file *lf;
    struct sbx_err *err;
};

/* SBX_EINVAL naming `field` unless every key of `obj` is one of the NULL-ended `known`. */
static int
check_known(const json_t *obj, const char *const *known, const char *field, struct sbx_err *err)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)obj, key, v)
    {
        size_t i = 0;

        while (known[i] != NULL && strcmp(known[i], key) != 0)
            i++;
        if (known[i] == NULL)
            return sbx_err_set(err, SBX_EINVAL, "%s%s%s: unknown field", field, field[0] ? "." : "",
                               key);
    }
    return SBX_OK;
}

/* The member `key` of `obj`, which must be there and of JSON type `type`; `field` names it. */
static int
member(const json_t *obj, const char *key, json_type type, const char *field, json_t **out,
       struct sbx_err *err)
{
    static const char *const type_names[] = {"an object", "an array",  "a string",  "an integer",
                                             "a number",  "a boolean", "a boolean", "null"};

    *out = json_object_get(obj, key);
    if (*out == NULL)
        return sbx_err_set(err, SBX_EINVAL, "%s: missing", field);
    if (json_typeof(*out) != type)
        return sbx_err_set(err, SBX_EINVAL, "%s: must be %s", field, type_names[type]);
    return SBX_OK;
}

/* An identifier `key` of `obj` into dst (1..max printable characters without spaces). */
static int
get_id(const json_t *obj, const char *key, const char *field, char *dst, size_t max,
       struct sbx_err *err)
{
    json_t *v;
    int rc = member(obj, key, JSON_STRING, field, &v, err);

    if (rc)
        return rc;
    if (!ledger_id_valid(json_string_value(v), max))
        return sbx_err_set(err, SBX_EINVAL, "%s: 1..%zu printable characters, no spaces", field,
                           max);
    memcpy(dst, json_string_value(v), strlen(json_string_value(v)) + 1);
    return SBX_OK;
}

/* An integer `key` of `obj` in [lo, hi]. */
static int
get_int(const json_t *obj, const char *key, const char *field, int64_t lo, int64_t hi, int64_t *out,
        struct sbx_err *err)
{
    json_t *v;
    int rc = member(obj, key, JSON_INTEGER, field, &v, err);

    if (rc)
        return rc;
    *out = json_integer_value(v);
    if (*out < lo || *out > hi)
        return sbx_err_set(err, SBX_EINVAL, "%s: %lld out of range %lld..%lld", field,
                           (long long)*out, (long long)lo, (long long)hi);
    return SBX_OK;
}

/* An RFC 3339 time `key` of `obj`, in ms. */
static int
get_time(const json_t *obj, const char *key, int64_t *out, struct sbx_err *err)
{
    json_t *v;
    int rc = member(obj, key, JSON_STRING, key, &v, err);

    if (rc)
        return rc;
    if (time_parse_rfc3339(json_string_value(v), out) != 0 || !ledger_time_valid(*out))
        return sbx_err_set(err, SBX_EINVAL,
                           "%s: not an RFC 3339 time with its offset, such as "
                           "\"2025-09-01T00:00:00+07:00\"",
                           key);
    return SBX_OK;
}

/* regulators: [{"name", "key"}], 1..SBX_MAX_REGULATORS, no name or key twice. */
static int
read_regulators(struct lf_read *r, const json_t *root)
{
    static const char *const known[] = {"name", "key", NULL};
    struct cmp_licence_file *lf = r->lf;
    char field[64];
    json_t *list, *e, *k;
    size_t i;
    int rc = member(root, "regulators", JSON_ARRAY, "regulators", &list, r->err);

    if (rc)
        return rc;
    if (json_array_size(list) < 1 || json_array_size(list) > SBX_MAX_REGULATORS)
        return sbx_err_set(r->err, SBX_EINVAL, "regulators: 1..%d regulators", SBX_MAX_REGULATORS);
    json_array_foreach(list, i, e)
    {
        snprintf(field, sizeof(field), "regulators[%zu]", i);
        if (!json_is_object(e))
            return sbx_err_set(r->err, SBX_EINVAL, "%s: must be an object", field);
        rc = check_known(e, known, field, r->err);
        snprintf(field, sizeof(field), "regulators[%zu].name", i);
        rc = rc ? rc : get_id(e, "name", field, lf->regulator_names[i], SBX_ID_MAX, r->err);
        snprintf(field, sizeof(field), "regulators[%zu].key", i);
        rc = rc ? rc : member(e, "key", JSON_STRING, field, &k, r->err);
        if (rc)
            return rc;
        if (strlen(json_string_value(k)) != 64 ||
            hex_decode(lf->regulator_keys[i], 32, json_string_value(k), 64) != SBX_OK ||
            !ledger_keys_pubkey_valid(lf->regulator_keys[i]))
            return sbx_err_set(r->err, SBX_EINVAL,
                               "%s: not a public key (64 hex characters, as sbxd -genkey prints)",
                               field);
        for (size_t j = 0; j < i; j++) {
            if (memcmp(lf->regulator_keys[i], lf->regulator_keys[j], 32) == 0)
                return sbx_err_set(r->err, SBX_EINVAL, "%s: duplicate of regulators[%zu].key",
                                   field, j);
            if (strcmp(lf->regulator_names[i], lf->regulator_names[j]) == 0)
                return sbx_err_set(r->err, SBX_EINVAL,
                                   "regulators[%zu].name: duplicate of regulators[%zu].name", i, j);
        }
        lf->nregulators = i + 1;
    }
    return SBX_OK;
}

/* assets: [{"symbol", "decimals", "ref_price_vnd"}], VND implicit and first; the reference
 * prices go into `params` as asset.<SYMBOL>.ref_price_vnd. */
static int
read_assets(struct lf_read *r, const json_t *root, json_t *params)
{
    static const char *const known[] = {"symbol", "decimals", "ref_price_vnd", NULL};
    struct cmp_licence_file *lf = r->lf;
    char field[64], name[SBX_ASSET_MAX + 32];
    json_t *list, *e, *s;
    int64_t dec, price;
    size_t i;
    int rc = member(root, "assets", JSON_ARRAY, "assets", &list, r->err);

    if (rc)
        return rc;
    if (json_array_size(list) < 1 || json_array_size(list) > SBX_MAX_ASSETS - 1)
        return sbx_err_set(r->err, SBX_EINVAL, "assets: 1..%d assets (VND is implicit)",
                           SBX_MAX_ASSETS - 1);
    memcpy(lf->assets[0].symbol, "VND", 4);
    lf->nassets = 1;
    json_array_foreach(list, i, e)
    {
        struct ledger_asset_def *a = &lf->assets[i + 1];

        snprintf(field, sizeof(field), "assets[%zu]", i);
        if (!json_is_object(e))
            return sbx_err_set(r->err, SBX_EINVAL, "%s: must be an object", field);
        rc = check_known(e, known, field, r->err);
        snprintf(field, sizeof(field), "assets[%zu].symbol", i);
        rc = rc ? rc : member(e, "symbol", JSON_STRING, field, &s, r->err);
        if (rc)
            return rc;
        if (!ledger_symbol_valid(json_string_value(s)))
            return sbx_err_set(r->err, SBX_EINVAL, "%s: 1..%d characters A-Z and 0-9", field,
                               SBX_ASSET_MAX);
        memcpy(a->symbol, json_string_value(s), strlen(json_string_value(s)) + 1);
        if (strcmp(a->symbol, "VND") == 0)
            return sbx_err_set(r->err, SBX_EINVAL, "%s: VND is implicit, do not list it", field);
        for (size_t j = 1; j <= i; j++) {
            if (strcmp(a->symbol, lf->assets[j].symbol) == 0)
                return sbx_err_set(r->err, SBX_EINVAL, "%s: duplicate of assets[%zu].symbol", field,
                                   j - 1);
        }
        snprintf(field, sizeof(field), "assets[%zu].decimals", i);
        rc = get_int(e, "decimals", field, 0, SBX_ASSET_DECIMALS_MAX, &dec, r->err);
        snprintf(field, sizeof(field), "assets[%zu].ref_price_vnd", i);
        rc = rc ? rc : get_int(e, "ref_price_vnd", field, 1, INT64_MAX, &price, r->err);
        if (rc)
            return rc;
        a->decimals = (uint8_t)dec;
        snprintf(name, sizeof(name), "asset.%s.ref_price_vnd", a->symbol);
        if (json_object_set_new(params, name, json_integer(price)) != 0)
            return sbx_err_set(r->err, SBX_ENOMEM, "out of memory");
        lf->nassets = i + 2;
    }
    return SBX_OK;
}

/* params: every name a licence parameter set outside the licence window and the reference
 * prices (which have fields of their own), each an integer in its range; the required ones
 * there. Copied into `out`, the document's params. */
static int
read_params(struct lf_read *r, const json_t *root, json_t *out)
{
    struct cmp_licence_file *lf = r->lf;
    struct cmp_params scratch;
    struct sbx_err e;
    const char *key;
    json_t *params, *v;
    int param, asset, rc = member(root, "params", JSON_OBJECT, "params", &params, r->err);

    if (rc)
        return rc;
    cmp_params_defaults(&scratch);
    json_object_foreach(params, key, v)
    {
        if (cmp_params_lookup(key, lf->assets, lf->nassets, &param, &asset) != SBX_OK)
            return sbx_err_set(r->err, SBX_EINVAL, "params.%s: unknown parameter", key);
        if (param == CMP_P_VALID_FROM || param == CMP_P_VALID_TO || asset >= 0)
            return sbx_err_set(r->err, SBX_EINVAL, "params.%s: set by the field %s", key,
                               asset >= 0
                                   ? "assets[].ref_price_vnd"
                                   : (param == CMP_P_VALID_FROM ? "valid_from" : "valid_to"));
        if (!json_is_integer(v))
            return sbx_err_set(r->err, SBX_EINVAL, "params.%s: must be an integer", key);
        rc = cmp_params_set(&scratch, key, json_integer_value(v), lf->assets, lf->nassets, &e);
        if (rc)
            return sbx_err_set(r->err, rc, "params.%s", e.msg);
        if (json_object_set(out, key, v) != 0)
            return sbx_err_set(r->err, SBX_ENOMEM, "out of memory");
    }
    for (int i = 0; i < CMP_P_COUNT; i++) {
        if (cmp_params_required((enum cmp_param)i) &&
            json_object_get(params, cmp_params_name((enum cmp_param)i)) == NULL)
            return sbx_err_set(r->err, SBX_EINVAL, "params.%s: missing (a licence must set it)",
                               cmp_params_name((enum cmp_param)i));
    }
    return SBX_OK;
}

/* The top level's fields but the lists and params. */
static int
read_top(struct lf_read *r, const json_t *root, json_t *doc)
{
    static const char *const known[] = {
        "network",    "licence_id",       "house_account",      "valid_from", "valid_to",
        "regulators", "directive_quorum", "attestation_quorum", "assets",     "params",
        NULL};
    struct cmp_licence_file *lf = r->lf;
    char id[SBX_ID_MAX + 1], house[SBX_ID_MAX + 1];
    int rc = check_known(root, known, "", r->err);

    rc = rc ? rc : get_id(root, "network", "network", lf->network, SBX_NETWORK_MAX, r->err);
    rc = rc ? rc : get_id(root, "licence_id", "licence_id", id, SBX_ID_MAX, r->err);
    rc = rc ? rc : get_id(root, "house_account", "house_account", house, SBX_ID_MAX, r->err);
    rc = rc ? rc : get_time(root, "valid_from", &lf->valid_from, r->err);
    rc = rc ? rc : get_time(root, "valid_to", &lf->valid_to, r->err);
    if (rc)
        return rc;
    if (lf->valid_to <= lf->valid_from)
        return sbx_err_set(r->err, SBX_EINVAL, "valid_to: must be after valid_from");
    if (json_object_set_new(doc, "licence_id", json_string(id)) != 0 ||
        json_object_set_new(doc, "house_account", json_string(house)) != 0)
        return sbx_err_set(r->err, SBX_ENOMEM, "out of memory");
    return SBX_OK;
}

/* directive_quorum and attestation_quorum: 1..the number of regulators. */
static int
read_quorums(struct lf_read *r, const json_t *root)
{
    static const char *const names[] = {"directive_quorum", "attestation_quorum"};
    int *dst[] = {&r->lf->directive_quorum, &r->lf->attestation_quorum};
    int64_t q;

    for (int i = 0; i < 2; i++) {
        int rc = get_int(root, names[i], names[i], 1, INT64_MAX, &q, r->err);

        if (rc)
            return rc;
        if (q > (int64_t)r->lf->nregulators)
            return sbx_err_set(r->err, SBX_EINVAL, "%s: %lld is more than the %zu regulators",
                               names[i], (long long)q, r->lf->nregulators);
        *dst[i] = (int)q;
    }
    return SBX_OK;
}

int
cmp_licence_file_parse(struct cmp_licence_file *lf, const char *json, size_t len,
                       struct sbx_err *err)
{
    struct lf_read r = {lf, err};
    struct cmp_params check;
    json_error_t jerr;
    json_t *root, *doc = json_object(), *params = json_object();
    int rc;

    memset(lf, 0, sizeof(*lf));
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        rc = sbx_err_set(err, SBX_EINVAL, "not JSON (%s at line %d)", jerr.text, jerr.line);
        goto out;
    }
    if (doc == NULL || params == NULL) {
        rc = sbx_err_set(err, SBX_ENOMEM, "out of memory");
        goto out;
    }
    if (!json_is_object(root)) {
        rc = sbx_err_set(err, SBX_EINVAL, "must be a JSON object");
        goto out;
    }
    rc = read_top(&r, root, doc);
    rc = rc ? rc : read_regulators(&r, root);
    rc = rc ? rc : read_quorums(&r, root);
    rc = rc ? rc : read_assets(&r, root, params);
    rc = rc ? rc : read_params(&r, root, params);
    if (rc)
        goto out;
    if (json_object_set_new(params, "licence.valid_from", json_integer(lf->valid_from)) != 0 ||
        json_object_set_new(params, "licence.valid_to", json_integer(lf->valid_to)) != 0 ||
        json_object_set(doc, "params", params) != 0 ||
        (lf->licence_json = json_dumps(doc, JSON_SORT_KEYS | JSON_COMPACT)) == NULL) {
        rc = sbx_err_set(err, SBX_ENOMEM, "out of memory");
        goto out;
    }
    /* what every node will read from block 0 (the checks between parameters) */
    rc = cmp_params_from_json(&check, lf->licence_json, strlen(lf->licence_json), 1, lf->assets,
                              lf->nassets, err);
out:
    json_decref(params);
    json_decref(doc);
    json_decref(root);
    return rc;
}

int
cmp_licence_file_read(struct cmp_licence_file *lf, const char *path, struct sbx_err *err)
{
    struct sbx_err e;
    FILE *f;
    char *data;
    size_t n;
    int rc;

    memset(lf, 0, sizeof(*lf));
    f = fopen(path, "rb");
    if (f == NULL)
        return sbx_err_set(err, SBX_EIO, "%s: cannot open: %s", path, strerror(errno));
    data = malloc(CMP_LICENCE_FILE_MAX + 1);
    if (data == NULL) {
        fclose(f);
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    }
    n = fread(data, 1, CMP_LICENCE_FILE_MAX + 1, f);
    if (ferror(f)) {
        rc = sbx_err_set(err, SBX_EIO, "%s: cannot read", path);
    } else if (n > CMP_LICENCE_FILE_MAX) {
        rc = sbx_err_set(err, SBX_EINVAL, "%s: larger than %d bytes", path, CMP_LICENCE_FILE_MAX);
    } else {
        rc = cmp_licence_file_parse(lf, data, n, &e);
        if (rc)
            sbx_err_set(err, rc, "%s: %s", path, e.msg);
    }
    fclose(f);
    free(data);
    return rc;
}

void
cmp_licence_file_release(struct cmp_licence_file *lf)
{
    if (lf == NULL)
        return;
    free(lf->licence_json);
    lf->licence_json = NULL;
}
