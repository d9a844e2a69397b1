/* Transaction building: the unsigned transaction of each submitting method (openaccount,
 * updateaccount, deposit, withdraw, submittrade and checktrade, submitdirective) from its
 * params object.
 *
 * The method table (rpc/methods.c) names each method's builder beside its parameter spec;
 * a builder expects `params` already checked against that spec (rpc_params_check), reads each
 * value with the parsers of rpc/params.h and fills `tx` (initialised to its type first).
 * Quantities and transfer amounts use the asset's decimals from `assets` (an asset not listed:
 * up to 8, and the rules reject it as asset.unlisted); prices and fees are VND. They return
 * SBX_OK or SBX_EINVAL & co. with a message naming the field.
 */
#ifndef SBX_RPC_BUILD_H
#define SBX_RPC_BUILD_H

#include <stddef.h>

#include <jansson.h>

#include "ledger/tx.h"
#include "util/err.h"

/* What every builder looks like. */
typedef int (*rpc_build_fn)(json_t *params, const struct ledger_asset_def *assets, size_t nassets,
                            struct ledger_tx *tx, struct sbx_err *err);

int rpc_build_openaccount(json_t *params, const struct ledger_asset_def *assets, size_t nassets,
                          struct ledger_tx *tx, struct sbx_err *err) SBX_WARN_UNUSED;
int rpc_build_updateaccount(json_t *params, const struct ledger_asset_def *assets, size_t nassets,
                            struct ledger_tx *tx, struct sbx_err *err) SBX_WARN_UNUSED;
int rpc_build_deposit(json_t *params, const struct ledger_asset_def *assets, size_t nassets,
                      struct ledger_tx *tx, struct sbx_err *err) SBX_WARN_UNUSED;
int rpc_build_withdraw(json_t *params, const struct ledger_asset_def *assets, size_t nassets,
                       struct ledger_tx *tx, struct sbx_err *err) SBX_WARN_UNUSED;
int rpc_build_trade(json_t *params, const struct ledger_asset_def *assets, size_t nassets,
                    struct ledger_tx *tx, struct sbx_err *err) SBX_WARN_UNUSED;
int rpc_build_directive(json_t *params, const struct ledger_asset_def *assets, size_t nassets,
                        struct ledger_tx *tx, struct sbx_err *err) SBX_WARN_UNUSED;

#endif
