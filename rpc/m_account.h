/* The account methods: getaccount and getusage, now or as of a past block ("height" or "time"),
 * and the reading of those two parameters, which getlicence shares. See doc/rpc.md. */
#ifndef SBX_RPC_M_ACCOUNT_H
#define SBX_RPC_M_ACCOUNT_H

#include <stdint.h>

#include "rpc/outcome.h"

/* The block a query's "height" or "time" (ms: the last block at or before it) names: `*set` 1
 * and `*height` it, or `*set` 0 when neither is given (the state now). SBX_EINVAL naming the
 * field for both at once or a malformed value; SBX_ENOTFOUND naming "time" for a time before the
 * genesis block (a height above the tip is node_asof_engine's SBX_ENOTFOUND). */
int rpc_m_account_asof(const struct rpc_env *env, const json_t *params, int *set, uint64_t *height,
                       struct sbx_err *err) SBX_WARN_UNUSED;

int rpc_m_account_getaccount(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                             struct rpc_outcome *out, struct sbx_err *err);
int rpc_m_account_getusage(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                           struct rpc_outcome *out, struct sbx_err *err);

#endif
