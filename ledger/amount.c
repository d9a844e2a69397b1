/* Exact amounts; see amount.h. */
#include "ledger/amount.h"

#include <stdio.h>
#include <string.h>

__extension__ typedef unsigned __int128 u128;

int64_t
ledger_pow10(unsigned d)
{
    int64_t v = 1;

    if (d > 18)
        SBX_BUG("ledger_pow10 out of range");
    while (d--)
        v *= 10;
    return v;
}

int
ledger_amount_parse(const char *s, unsigned decimals, int64_t *out, const char *field,
                    struct sbx_err *err)
{
    uint64_t v = 0;
    unsigned frac = 0;
    int seen_point = 0, ndigits = 0;
    const char *p = s;

    *out = 0;
    if (decimals > 18)
        SBX_BUG("decimals out of range");
    if (*p == '\0')
        return sbx_err_set(err, SBX_EINVAL, "%s: empty amount", field);
    if (p[0] == '0' && p[1] >= '0' && p[1] <= '9')
        return sbx_err_set(err, SBX_EINVAL, "%s: leading zero in amount", field);
    for (; *p; p++) {
        if (*p == '.') {
            if (seen_point || ndigits == 0)
                return sbx_err_set(err, SBX_EINVAL, "%s: malformed decimal point", field);
            seen_point = 1;
            continue;
        }
        if (*p < '0' || *p > '9')
            return sbx_err_set(err, SBX_EINVAL,
                               "%s: amount must be a plain decimal string (digits and one point)",
                               field);
        if (seen_point && ++frac > decimals)
            return sbx_err_set(err, SBX_EINVAL, "%s: more than %u decimals", field, decimals);
        if (v > (UINT64_MAX - 9) / 10)
            return sbx_err_set(err, SBX_EOVERFLOW, "%s: amount too large", field);
        v = v * 10 + (uint64_t)(*p - '0');
        ndigits++;
    }
    if (seen_point && frac == 0)
        return sbx_err_set(err, SBX_EINVAL, "%s: no digits after the decimal point", field);
    for (; frac < decimals; frac++) {
        if (v > UINT64_MAX / 10)
            return sbx_err_set(err, SBX_EOVERFLOW, "%s: amount too large", field);
        v *= 10;
    }
    if (v > (uint64_t)INT64_MAX)
        return sbx_err_set(err, SBX_EOVERFLOW, "%s: amount too large", field);
    *out = (int64_t)v;
    return SBX_OK;
}

void
ledger_amount_format(char out[static LEDGER_AMOUNT_STR_MAX], int64_t v, unsigned decimals)
{
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    uint64_t scale = (uint64_t)ledger_pow10(decimals);
    char tmp[64]; /* room for any int64 with a sign and a point */

    if (decimals == 0)
        snprintf(tmp, sizeof(tmp), "%s%llu", v < 0 ? "-" : "", (unsigned long long)u);
    else
        snprintf(tmp, sizeof(tmp), "%s%llu.%0*llu", v < 0 ? "-" : "",
                 (unsigned long long)(u / scale), (int)decimals, (unsigned long long)(u % scale));
    memcpy(out, tmp, LEDGER_AMOUNT_STR_MAX - 1);
    out[LEDGER_AMOUNT_STR_MAX - 1] = '\0';
}

int
ledger_muldiv(int64_t a, int64_t num, int64_t den, int64_t *out)
{
    u128 r;

    *out = 0;
    if (a < 0 || num < 0 || den <= 0)
        return SBX_EINVAL;
    r = (u128)(uint64_t)a * (uint64_t)num / (uint64_t)den;
    if (r > (u128)INT64_MAX)
        return SBX_EOVERFLOW;
    *out = (int64_t)r;
    return SBX_OK;
}

int
ledger_notional(int64_t qty, int64_t price, unsigned decimals, int64_t *out)
{
    return ledger_muldiv(qty, price, ledger_pow10(decimals), out);
}

int
ledger_add(int64_t a, int64_t b, int64_t *out)
{
    if (__builtin_add_overflow(a, b, out))
        return SBX_EOVERFLOW;
    return SBX_OK;
}

int
ledger_sub(int64_t a, int64_t b, int64_t *out)
{
    if (__builtin_sub_overflow(a, b, out))
        return SBX_EOVERFLOW;
    return SBX_OK;
}
