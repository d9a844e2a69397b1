/* The reference-price rules of a trade: price.band (the trade's price lies within
 * price.band_pct percent of the asset's reference price) and price.stale (the reference price was
 * set no longer than price.max_age_s before the trade).
 *
 * The reference price is a licence parameter that only regulator directives change, so neither
 * rule depends on anything the operator sets. Integer arithmetic only, with 128-bit
 * intermediates (ledger_muldiv) and checked sums: no price or timestamp can overflow an edge.
 */
#include "compliance/internal.h"

#include "ledger/amount.h"

/* The band around `ref`: the lowest and highest prices within `pct` percent of it. A price p is
 * inside when |p - ref| * 100 <= ref * pct, i.e. |p - ref| <= floor(ref * pct / 100). */
static void
band_edges(int64_t ref, int64_t pct, int64_t *lo, int64_t *hi)
{
    int64_t width;

    if (ledger_muldiv(ref, pct, 100, &width) != SBX_OK) /* pct <= 100: width <= ref */
        width = ref;
    *lo = ref - width;
    if (ledger_add(ref, width, hi) != SBX_OK)
        *hi = INT64_MAX;
}

int
cmp_prices_check_trade(const struct cmp_engine *e, int asset, int64_t price, int64_t now,
                       struct cmp_result *res)
{
    const struct cmp_params *p = &e->params;
    int64_t lo, hi, age, max_age_ms = p->v[CMP_P_PRICE_MAX_AGE_S] * 1000;

    band_edges(p->ref_price[asset], p->v[CMP_P_PRICE_BAND_PCT], &lo, &hi);
    if (price < lo)
        return cmp_engine_reject(res, CMP_RULE_PRICE_BAND, lo, p->ref_price[asset], price,
                                 "price below the band around the reference price"),
               1;
    if (price > hi)
        return cmp_engine_reject(res, CMP_RULE_PRICE_BAND, hi, p->ref_price[asset], price,
                                 "price above the band around the reference price"),
               1;
    if (ledger_sub(now, p->ref_set_ms[asset], &age) != SBX_OK)
        age = now < 0 ? INT64_MIN : INT64_MAX;
    if (max_age_ms > 0 && age > max_age_ms)
        return cmp_engine_reject(res, CMP_RULE_PRICE_STALE, max_age_ms, age, 0,
                                 "the reference price is older than price.max_age_s"),
               1;
    return 0;
}
