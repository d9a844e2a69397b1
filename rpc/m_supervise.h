/* The supervision methods: getlicence, getsupervision, verifychain, getreport. See the table in
 * rpc/methods.c and doc/rpc.md. */
#ifndef SBX_RPC_M_SUPERVISE_H
#define SBX_RPC_M_SUPERVISE_H

#include <stdint.h>

#include "compliance/engine.h"
#include "rpc/outcome.h"

int rpc_m_supervise_getlicence(const struct rpc_env *env, const struct rpc_method *m,
                               json_t *params, struct rpc_outcome *out, struct sbx_err *err);
/* listproposals: the pending k-of-n proposals this node holds, {proposals: [...]}
 * (rpc_render_proposal). Node's loop (RPC_METHOD_MAIN). */
int rpc_m_supervise_listproposals(const struct rpc_env *env, const struct rpc_method *m,
                                  json_t *params, struct rpc_outcome *out, struct sbx_err *err);
/* cosigndirective: this node's regulator signature (or pubkey and signature made elsewhere)
 * added to a proposal (node_proposals_cosign); answered with the proposal as it now is. Node's
 * loop (RPC_METHOD_MAIN). */
int rpc_m_supervise_cosigndirective(const struct rpc_env *env, const struct rpc_method *m,
                                    json_t *params, struct rpc_outcome *out, struct sbx_err *err);
int rpc_m_supervise_getsupervision(const struct rpc_env *env, const struct rpc_method *m,
                                   json_t *params, struct rpc_outcome *out, struct sbx_err *err);
/* Checks from/to and makes the check of the range a background job (RPC_OUT_JOB: node_verify
 * on the node's job thread) answered with {ok, checked, failed_at?, error?}. */
int rpc_m_supervise_verifychain(const struct rpc_env *env, const struct rpc_method *m,
                                json_t *params, struct rpc_outcome *out, struct sbx_err *err);
/* Checks kind/date/month/format and makes the report (rpc/report.h) a background job
 * (RPC_OUT_JOB) answered with the report as JSON or as {csv, report_hash}. */
int rpc_m_supervise_getreport(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                              struct rpc_outcome *out, struct sbx_err *err);

#endif
