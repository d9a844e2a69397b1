/* getliabilityproof: a client's proof of inclusion in a liabilities record (rpc/m_liabilities.c,
 * doc/rpc.md); its "format" member is RPC_LIABPROOF_FORMAT and `sbx-cli verifyliabilityproof`
 * checks it offline. */
#ifndef SBX_RPC_M_LIABILITIES_H
#define SBX_RPC_M_LIABILITIES_H

#include "rpc/outcome.h"

#define RPC_LIABPROOF_FORMAT "sbx-liabproof-1"

int rpc_m_liabilities_getliabilityproof(const struct rpc_env *env, const struct rpc_method *m,
                                        json_t *params, struct rpc_outcome *out,
                                        struct sbx_err *err);

#endif
