/* The submitting methods' handlers (see the table in rpc/methods.c and doc/rpc.md). */
#ifndef SBX_RPC_M_SUBMIT_H
#define SBX_RPC_M_SUBMIT_H

#include "rpc/outcome.h"

/* Any method with a builder (openaccount, updateaccount, deposit, withdraw, submittrade,
 * submitdirective): build the transaction with m->build and hand it to the server to submit. */
int rpc_m_submit_built(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                       struct rpc_outcome *out, struct sbx_err *err);
/* submitrawtx: a signed transaction as hex, handed to the server to submit as it is. */
int rpc_m_submit_raw(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                     struct rpc_outcome *out, struct sbx_err *err);
/* checktrade: the verdict the rules would give a trade now, without submitting it. */
int rpc_m_submit_check(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                       struct rpc_outcome *out, struct sbx_err *err);

#endif
