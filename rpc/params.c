/* Parameter parsing for JSON-RPC methods; see params.h.
 *
 * Optimised for clear refusals, not speed: a params object holds a handful of names, so the
 * spec check walks the spec string and the object without building anything.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "rpc/params.h"

#include <stdio.h>
#include <string.h>

#include "ledger/amount.h"
#include "util/hex.h"

int
rpc_params_present(const json_t *v)
{
    return v != NULL && !json_is_null(v);
}

int
rpc_params_spec_next(const char **p, const char **name, size_t *len, int *optional)
{
    const char *s = *p;

    while (*s == ' ')
        s++;
    if (*s == '\0')
        return 0;
    *name = s;
    *len = strcspn(s, " ?");
    s += *len;
    *optional = *s == '?';
    if (*optional)
        s++;
    *p = s;
    return 1;
}

/* 1 if `key` is one of the names of `spec`: an occurrence that starts the spec or follows a
 * space and ends it or comes before a space or a '?' (a key holding either can be no name).
 * Every parameter of every call is looked up here: one search, not a walk of the spec per
 * key. */
static int
spec_has(const char *spec, const char *key)
{
    size_t klen = strcspn(key, " ?");
    const char *s = spec;

    if (klen == 0 || key[klen] != '\0')
        return 0;
    while ((s = strstr(s, key)) != NULL) {
        if ((s == spec || s[-1] == ' ') && (s[klen] == '\0' || s[klen] == ' ' || s[klen] == '?'))
            return 1;
        s += klen;
    }
    return 0;
}

int
rpc_params_check(const json_t *params, const char *spec, const char *prefix, struct sbx_err *err)
{
    const char *p = spec, *name, *key, *sep = prefix[0] ? "." : "";
    size_t len;
    int optional;
    json_t *v;

    if (!json_is_object(params))
        return sbx_err_set(err, SBX_EINVAL, "%s: must be an object", prefix[0] ? prefix : "params");
    while (rpc_params_spec_next(&p, &name, &len, &optional)) {
        char key_buf[64];

        if (optional || len >= sizeof(key_buf))
            continue;
        memcpy(key_buf, name, len);
        key_buf[len] = '\0';
        if (json_object_get(params, key_buf) == NULL)
            return sbx_err_set(err, SBX_EINVAL, "%s%s%s: missing", prefix, sep, key_buf);
    }
    /* in the order the client gave them, as Jansson's strict unpacking reports them */
    json_object_foreach((json_t *)params, key, v)
    {
        if (!spec_has(spec, key))
            return sbx_err_set(err, SBX_EINVAL, "%s%s%.64s: unknown parameter", prefix, sep, key);
    }
    return SBX_OK;
}

int
rpc_params_str(const json_t *v, size_t max, int allow_empty, int ids, char *out, const char *field,
               struct sbx_err *err)
{
    const char *s;
    size_t n;

    out[0] = '\0';
    if (!rpc_params_present(v))
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
rpc_params_id(const json_t *v, size_t max, char *out, const char *field, struct sbx_err *err)
{
    return rpc_params_str(v, max, 0, 1, out, field, err);
}

int
rpc_params_int(const json_t *v, int64_t lo, int64_t hi, int64_t *out, const char *field,
               struct sbx_err *err)
{
    json_int_t x;

    *out = 0;
    if (!rpc_params_present(v))
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
rpc_params_amount(const json_t *v, unsigned decimals, int positive, int64_t *out, const char *field,
                  struct sbx_err *err)
{
    int rc;

    *out = 0;
    if (!rpc_params_present(v))
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
rpc_params_hex32(const json_t *v, uint8_t out[static 32], const char *field, struct sbx_err *err)
{
    memset(out, 0, 32);
    if (!rpc_params_present(v))
        return sbx_err_set(err, SBX_EINVAL, "%s: missing", field);
    if (!json_is_string(v) ||
        hex_decode(out, 32, json_string_value(v), json_string_length(v)) != SBX_OK)
        return sbx_err_set(err, SBX_EINVAL, "%s: must be 64 lowercase hex characters", field);
    return SBX_OK;
}

int
rpc_params_bool(const json_t *v, int *out, const char *field, struct sbx_err *err)
{
    *out = 0;
    if (!rpc_params_present(v))
        return SBX_OK;
    if (!json_is_boolean(v))
        return sbx_err_set(err, SBX_EINVAL, "%s: must be true or false", field);
    *out = json_is_true(v);
    return SBX_OK;
}

int
rpc_params_symbol(const json_t *v, char *out, const char *field, struct sbx_err *err)
{
    int rc = rpc_params_str(v, SBX_ASSET_MAX, 0, 1, out, field, err);

    if (rc)
        return rc;
    for (const char *p = out; *p; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return sbx_err_set(err, SBX_EINVAL, "%s: must be 1..%d characters A-Z and 0-9", field,
                               SBX_ASSET_MAX);
    }
    return SBX_OK;
}

int
rpc_params_enum(const json_t *v, int (*parse)(const char *), const char *allowed, int *out,
                const char *field, struct sbx_err *err)
{
    *out = -1;
    if (!rpc_params_present(v))
        return sbx_err_set(err, SBX_EINVAL, "%s: missing", field);
    if (!json_is_string(v))
        return sbx_err_set(err, SBX_EINVAL, "%s: must be a string (%s)", field, allowed);
    *out = parse(json_string_value(v));
    if (*out < 0)
        return sbx_err_set(err, SBX_EINVAL, "%s: must be one of %s", field, allowed);
    return SBX_OK;
}

unsigned
rpc_params_decimals(const struct ledger_asset_def *assets, size_t n, const char *symbol,
                    unsigned unlisted)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(assets[i].symbol, symbol) == 0)
            return assets[i].decimals;
    }
    return unlisted;
}

int
rpc_params_list(const json_t *params, struct rpc_params_list *a, struct sbx_err *err)
{
    json_t *jfrom = json_object_get(params, "from"), *jto = json_object_get(params, "to");
    json_t *jlimit = json_object_get(params, "limit"), *jcursor = json_object_get(params, "cursor");
    int64_t lim = RPC_LIST_LIMIT_DEFAULT;
    int rc = SBX_OK;

    memset(a, 0, sizeof(*a));
    a->to = INT64_MAX;
    if (rpc_params_present(jfrom))
        rc = rpc_params_int(jfrom, 0, INT64_MAX, &a->from, "from", err);
    if (rc == SBX_OK && rpc_params_present(jto)) {
        rc = rpc_params_int(jto, 0, INT64_MAX, &a->to, "to", err);
        a->has_to = 1;
    }
    if (rc == SBX_OK && a->from > a->to)
        rc = sbx_err_set(err, SBX_EINVAL, "from: after to");
    if (rc == SBX_OK && rpc_params_present(jlimit))
        rc = rpc_params_int(jlimit, 1, RPC_LIST_LIMIT_MAX, &lim, "limit", err);
    a->limit = (size_t)lim;
    if (rc == SBX_OK && rpc_params_present(jcursor)) {
        if (!json_is_string(jcursor) ||
            hex_decode_var(a->cursor, sizeof(a->cursor), &a->cursor_len, json_string_value(jcursor),
                           json_string_length(jcursor)) != SBX_OK ||
            a->cursor_len == 0)
            rc = sbx_err_set(err, SBX_EINVAL, "cursor: not a cursor returned by this method");
    }
    return rc;
}
