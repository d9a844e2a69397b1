/* The node's own methods: getinfo, getpeerinfo, listnodealerts, stop and (test builds only)
 * testhook. See the table in rpc/methods.c and doc/rpc.md. */
#ifndef SBX_RPC_M_ADMIN_H
#define SBX_RPC_M_ADMIN_H

#include "rpc/outcome.h"

int rpc_m_admin_getinfo(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                        struct rpc_outcome *out, struct sbx_err *err);
int rpc_m_admin_getpeerinfo(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                            struct rpc_outcome *out, struct sbx_err *err);
/* What this node itself saw go wrong (refused blocks, equivocation, directives not included). */
int rpc_m_admin_listnodealerts(const struct rpc_env *env, const struct rpc_method *m,
                               json_t *params, struct rpc_outcome *out, struct sbx_err *err);
/* Answer, and mark the outcome so that the server stops the node once the reply is out. */
int rpc_m_admin_stop(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                     struct rpc_outcome *out, struct sbx_err *err);
#ifdef SBX_TEST_HOOKS
/* Test builds only: make the operator misbehave so that followers can be seen to catch it. */
int rpc_m_admin_testhook(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                         struct rpc_outcome *out, struct sbx_err *err);
#endif

#endif
