/* JSON-RPC methods: the one method table (name, roles allowed, handler, builder, parameter
 * spec), the dispatcher, and the node's answers turned into outcomes. What a handler sees and
 * gives (rpc_env, rpc_method, rpc_outcome) and the one table that maps sbx return codes to
 * JSON-RPC error codes are in rpc/outcome.h.
 *
 * The dispatcher checks a call's params against the method's spec (rpc/params.h) and runs its
 * handler. A handler gives an outcome: a result, or a transaction to submit (the server hands
 * it to node_submit / node_submit_raw and turns the node's answer into a receipt or an error
 * with rpc_methods_submit_done); when it fails it returns an sbx code with a message, and the
 * dispatcher maps the code (rpc_outcome_fail), so no handler names a JSON-RPC code. The
 * handlers live by family in rpc/m_submit.c, m_query.c, m_supervise.c and m_admin.c. They run
 * on the event-loop thread; they read the compliance engine through node/'s snapshot functions
 * (node_status_get, node_account_get, ...), the store directly (it is thread-safe). Every
 * method, parameter, result and error is documented in doc/rpc.md.
 */
#ifndef SBX_RPC_METHODS_H
#define SBX_RPC_METHODS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ledger/tx.h"
#include "node/node.h"
#include "rpc/auth.h"
#include "rpc/build.h"
#include "rpc/outcome.h"
#include "util/err.h"

/* The JSON-RPC error object {code, message, data?} of an error outcome (new reference). */
json_t *rpc_methods_error_object(const struct rpc_outcome *o);
/* Turn a submission's node_result into a receipt, a -32000 rejection with its data, or the
 * mapped error. */
void rpc_methods_submit_done(struct rpc_outcome *o, const struct node_result *r);

/* The method called `name`, or NULL. */
const struct rpc_method *rpc_methods_find(const char *name);
/* The whole table (for documentation checks). */
const struct rpc_method *rpc_methods_table(size_t *n);

/* One call: method lookup (-32601), role check (-32002), params shape (an object; absent, null
 * or [] stand for no parameters; anything else is -32602), params against the method's spec
 * (-32602), then the handler, whose failure is mapped by rpc_outcome_fail. `out` must be
 * initialised. */
void rpc_methods_call(const struct rpc_env *env, const char *method, json_t *params,
                      struct rpc_outcome *out);

/* Build the unsigned transaction of a submitting method (openaccount, updateaccount, deposit,
 * withdraw, submittrade, checktrade, submitdirective) from its params object, as a call would:
 * the params checked against the method's spec, then the method's builder (rpc/build.h).
 * SBX_EINVAL & co. naming the field; SBX_ENOTFOUND if `method` is not one of these. */
int rpc_methods_build_tx(const char *method, json_t *params, const struct ledger_asset_def *assets,
                         size_t nassets, struct ledger_tx *tx, struct sbx_err *err) SBX_WARN_UNUSED;

#endif
