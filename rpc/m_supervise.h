/* The supervision methods: getlicence, getsupervision, verifychain, getreport. See the table in
 * rpc/methods.c and doc/rpc.md. */
#ifndef SBX_RPC_M_SUPERVISE_H
#define SBX_RPC_M_SUPERVISE_H

#include <stdint.h>

#include "compliance/engine.h"
#include "rpc/outcome.h"

int rpc_m_supervise_getlicence(const struct rpc_env *env, const struct rpc_method *m,
                               json_t *params, struct rpc_outcome *out, struct sbx_err *err);
int rpc_m_supervise_getsupervision(const struct rpc_env *env, const struct rpc_method *m,
                                   json_t *params, struct rpc_outcome *out, struct sbx_err *err);
/* Checks from/to and hands the range to the server (RPC_OUT_VERIFY), which runs it on the node
 * and answers with rpc_methods_verify_done. */
int rpc_m_supervise_verifychain(const struct rpc_env *env, const struct rpc_method *m,
                                json_t *params, struct rpc_outcome *out, struct sbx_err *err);
/* A daily or monthly report (rpc/report.h), as JSON or as {csv, report_hash}. */
int rpc_m_supervise_getreport(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                              struct rpc_outcome *out, struct sbx_err *err);

#endif
