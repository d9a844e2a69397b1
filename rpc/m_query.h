/* The query methods: getblock, gettx, gettrade, gettxproof, listtrades, listrejections,
 * listalerts. See the table in rpc/methods.c and doc/rpc.md. */
#ifndef SBX_RPC_M_QUERY_H
#define SBX_RPC_M_QUERY_H

#include "rpc/outcome.h"

int rpc_m_query_getblock(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                         struct rpc_outcome *out, struct sbx_err *err);
int rpc_m_query_gettx(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                      struct rpc_outcome *out, struct sbx_err *err);
/* gettxproof: the offline proof of a transaction (doc/rpc.md; checked by ledger_proof_check and
 * `sbx-cli verifytxproof`); its "format" member is RPC_TXPROOF_FORMAT. */
#define RPC_TXPROOF_FORMAT "sbx-txproof-1"
struct ledger_locate;
/* The gettxproof result for entry `index` of the block loaded in `k` (doc/protocol.md,
 * "Transaction proofs"); NULL with `err` set on failure. getliabilityproof embeds it. */
json_t *rpc_m_query_txproof_json(const struct rpc_env *env, const struct ledger_locate *k,
                                 uint32_t index, struct sbx_err *err);
int rpc_m_query_gettxproof(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                           struct rpc_outcome *out, struct sbx_err *err);
int rpc_m_query_gettrade(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                         struct rpc_outcome *out, struct sbx_err *err);
int rpc_m_query_listtrades(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                           struct rpc_outcome *out, struct sbx_err *err);
int rpc_m_query_listrejections(const struct rpc_env *env, const struct rpc_method *m,
                               json_t *params, struct rpc_outcome *out, struct sbx_err *err);
int rpc_m_query_listalerts(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                           struct rpc_outcome *out, struct sbx_err *err);

#endif
