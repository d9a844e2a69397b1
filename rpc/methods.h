/* JSON-RPC methods: the one method table (name, roles allowed, handler, builder, parameter
 * spec), the dispatcher, the outcome of a call and the one table that maps sbx return codes to
 * JSON-RPC error codes.
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
#include "util/err.h"

struct node_net;

/* JSON-RPC error codes (DESIGN.md section 7). Only rpc/ knows these. */
enum rpc_code {
    RPC_PARSE_ERROR = -32700,
    RPC_INVALID_REQUEST = -32600,
    RPC_METHOD_NOT_FOUND = -32601,
    RPC_INVALID_PARAMS = -32602,
    RPC_INTERNAL_ERROR = -32603,
    RPC_REJECTED = -32000,
    RPC_NOT_FOUND = -32001,
    RPC_FORBIDDEN = -32002,
    RPC_CONFLICT = -32003,
    RPC_UNAVAILABLE = -32004,
    RPC_BAD_SIGNATURE = -32005,
    RPC_OVERLOADED = -32006,
};

/* The JSON-RPC code for an sbx return code (SBX_OK has none: 0). The one mapping table. */
int rpc_methods_code(int rc);

enum rpc_outcome_kind {
    RPC_OUT_RESULT = 0, /* `result` holds the answer */
    RPC_OUT_ERROR,      /* code, message, data */
    RPC_OUT_SUBMIT,     /* `tx` to hand to node_submit */
    RPC_OUT_SUBMIT_RAW, /* `raw` to hand to node_submit_raw */
    RPC_OUT_VERIFY,     /* `vfrom`..`vto` to hand to node_verify_async */
};

#define RPC_MESSAGE_MAX 256

/* What one call gives. Owns what its pointers point to; rpc_outcome_release frees it. */
struct rpc_outcome {
    int kind;
    json_t *result;
    int code;
    char message[RPC_MESSAGE_MAX];
    json_t *data;         /* error data, or NULL */
    struct ledger_tx *tx; /* malloc'd */
    uint8_t *raw;         /* malloc'd */
    size_t rawlen;
    uint64_t vfrom, vto; /* RPC_OUT_VERIFY */
    int stop;            /* the call was `stop`: run the stop callback once the reply is out */
};

void rpc_outcome_init(struct rpc_outcome *o);
void rpc_outcome_release(struct rpc_outcome *o);
/* Make `o` an error with a JSON-RPC code and a message: only for the errors of the JSON-RPC
 * envelope that no sbx code stands for (parse error, invalid request, method not found);
 * everything else goes through rpc_outcome_fail. */
void rpc_outcome_error(struct rpc_outcome *o, int code, const char *fmt, ...) SBX_PRINTF(3, 4);
/* Make `o` the error for sbx code `rc` (through the table). For -32603 the client gets a generic
 * message and `message` goes to the log (LOG_RPC). */
void rpc_outcome_fail(struct rpc_outcome *o, int rc, const char *message);
/* Make `o` the result `r` (taking the reference) and return SBX_OK; a NULL `r` (out of memory)
 * gives SBX_ENOMEM with a message in `err` and leaves `o` as it was. */
int rpc_outcome_result(struct rpc_outcome *o, json_t *r, struct sbx_err *err) SBX_WARN_UNUSED;
/* Make `o` a transaction to submit (taking `tx`, malloc'd) or a raw one (taking `raw`). */
void rpc_outcome_submit(struct rpc_outcome *o, struct ledger_tx *tx);
void rpc_outcome_submit_raw(struct rpc_outcome *o, uint8_t *raw, size_t rawlen);
/* The JSON-RPC error object {code, message, data?} of an error outcome (new reference). */
json_t *rpc_methods_error_object(const struct rpc_outcome *o);
/* Turn a submission's node_result into a receipt, a -32000 rejection with its data, or the
 * mapped error. */
void rpc_methods_submit_done(struct rpc_outcome *o, const struct node_result *r);
/* Turn a verifychain run's outcome into its result ({ok, checked, failed_at?, error?}). */
void rpc_methods_verify_done(struct rpc_outcome *o, const struct node_verify_result *v);

/* What a handler may use. */
struct rpc_env {
    struct node *node;
    int role;                              /* the caller's RPC_ROLE_* */
    int64_t now_ms;                        /* wall clock for usage periods */
    const struct ledger_asset_def *assets; /* genesis assets, [0] = VND */
    size_t nassets;
    size_t *budget;       /* what this HTTP request may still show, in RPC_UNITS_*; NULL: no cap */
    struct node_net *net; /* the peer links (test hooks); may be NULL */
};

/* One HTTP request (a whole batch) shows at most RPC_RENDER_BUDGET units, so that no request
 * can make the node build a reply of unbounded size: a transaction shown in full costs
 * RPC_UNITS_TX, a txid RPC_UNITS_TXID, an alert RPC_UNITS_ALERT. Lists stop early (with a
 * cursor) when the budget runs out; a verbose block that does not fit is refused. */
#define RPC_RENDER_BUDGET 200000
#define RPC_UNITS_TX 10
#define RPC_UNITS_TXID 1
#define RPC_UNITS_ALERT 2

struct rpc_method;

/* A handler: SBX_OK with `out` set, or an sbx code with a message in `err` (that names the
 * parameter at fault). `params` is an object already checked against `m->params`. */
typedef int (*rpc_method_fn)(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                             struct rpc_outcome *out, struct sbx_err *err);

struct rpc_method {
    const char *name;
    unsigned roles;     /* RPC_ROLE_* bits allowed (admin is in every set) */
    rpc_method_fn fn;   /* the handler */
    rpc_build_fn build; /* the transaction builder of a submitting method, else NULL */
    const char *params; /* the parameter spec (rpc_params_check): "name other? ..." */
};

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
