/* Amounts: exact decimal strings <-> integer base units, and checked arithmetic.
 *
 * VND has no minor unit; an asset has 0..8 decimals. Quantities are in the asset's base units,
 * prices in VND per whole unit, so notional (VND) = quantity * price / 10^decimals, computed
 * with a 128-bit intermediate and rounded down. Nothing here uses floating point.
 */
#ifndef SBX_LEDGER_AMOUNT_H
#define SBX_LEDGER_AMOUNT_H

#include <stdint.h>

#include "util/err.h"

#define LEDGER_AMOUNT_STR_MAX 32 /* "-9223372036854775808" with a point: fits with room */

/* Parse a decimal string "123", "0.015" with at most `decimals` fractional digits into base
 * units. The accepted form is (0|[1-9][0-9]*)(.[0-9]+)?: no sign, exponent, spaces or leading
 * zeros. SBX_EINVAL for a bad form or too many decimals (message names `field`), SBX_EOVERFLOW
 * when the value does not fit in int64. */
int ledger_amount_parse(const char *s, unsigned decimals, int64_t *out, const char *field,
                        struct sbx_err *err) SBX_WARN_UNUSED;

/* Format `v` base units with exactly `decimals` fractional digits ("0.01500000", "2450000000"). */
void ledger_amount_format(char out[static LEDGER_AMOUNT_STR_MAX], int64_t v, unsigned decimals);

/* notional = floor(qty * price / 10^decimals); qty, price >= 0. SBX_EOVERFLOW if > INT64_MAX. */
int ledger_notional(int64_t qty, int64_t price, unsigned decimals, int64_t *out) SBX_WARN_UNUSED;

/* Checked int64 arithmetic: SBX_EOVERFLOW instead of wrapping. */
int ledger_add(int64_t a, int64_t b, int64_t *out) SBX_WARN_UNUSED;
int ledger_sub(int64_t a, int64_t b, int64_t *out) SBX_WARN_UNUSED;
/* floor(a * num / den) for a >= 0, num >= 0, den > 0, via 128 bits; SBX_EOVERFLOW if too big. */
int ledger_muldiv(int64_t a, int64_t num, int64_t den, int64_t *out) SBX_WARN_UNUSED;

/* 10^d for d in 0..18. */
int64_t ledger_pow10(unsigned d);

#endif
