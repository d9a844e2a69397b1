/* JSON-RPC methods: the method table (name, roles allowed, handler), the parameter parsers, the
 * result builders and the one table that maps sbx return codes to JSON-RPC error codes.
 *
 * A handler reads its named parameters and gives an outcome: a result, an error, or a
 * transaction to submit (the server hands it to node_submit / node_submit_raw and turns the
 * node's answer into a receipt or an error with rpc_methods_submit_done). Handlers run on the
 * event-loop thread; reads of the compliance engine hold node_lock(), store reads need no lock.
 * Every method, parameter, result and error is documented in doc/rpc.md (DESIGN.md section 7).
 */
#ifndef SBX_RPC_METHODS_H
#define SBX_RPC_METHODS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ledger/tx.h"
#include "node/node.h"
#include "rpc/auth.h"
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

#define RPC_LIST_LIMIT_DEFAULT 100
#define RPC_LIST_LIMIT_MAX 1000

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
/* Make `o` an error with a JSON-RPC code and a message. */
void rpc_outcome_error(struct rpc_outcome *o, int code, const char *fmt, ...) SBX_PRINTF(3, 4);
/* Make `o` the error for sbx code `rc` (through the table). For -32603 the client gets a generic
 * message and `message` goes to the log (LOG_RPC). */
void rpc_outcome_fail(struct rpc_outcome *o, int rc, const char *message);
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

typedef void (*rpc_method_fn)(const struct rpc_env *env, json_t *params, struct rpc_outcome *out);

struct rpc_method {
    const char *name;
    unsigned roles; /* RPC_ROLE_* bits allowed (admin is in every set) */
    rpc_method_fn fn;
};

/* The method called `name`, or NULL. */
const struct rpc_method *rpc_methods_find(const char *name);
/* The whole table (for documentation checks). */
const struct rpc_method *rpc_methods_table(size_t *n);

/* One call: method lookup (-32601), role check (-32002), params shape (an object; absent, null
 * or [] stand for no parameters; anything else is -32602), then the handler. `out` must be
 * initialised. */
void rpc_methods_call(const struct rpc_env *env, const char *method, json_t *params,
                      struct rpc_outcome *out);

/* Parameter parsers. Each accepts a json_t that may be NULL (absent) and returns SBX_OK or an
 * error code (SBX_EINVAL, SBX_EOVERFLOW) with a message that starts with `field`. */

/* A decimal string with at most `decimals` fractional digits (ledger_amount_parse); JSON
 * numbers are refused. `positive`: 0 is refused too. */
int rpc_methods_parse_amount(const json_t *v, unsigned decimals, int positive, int64_t *out,
                             const char *field, struct sbx_err *err) SBX_WARN_UNUSED;
/* 64 lowercase hex characters. */
int rpc_methods_parse_hex32(const json_t *v, uint8_t out[static 32], const char *field,
                            struct sbx_err *err) SBX_WARN_UNUSED;
/* An identifier: 1..max bytes of printable ASCII without spaces; out holds max + 1 bytes. */
int rpc_methods_parse_id(const json_t *v, size_t max, char *out, const char *field,
                         struct sbx_err *err) SBX_WARN_UNUSED;
/* A JSON integer (not a real) in lo..hi. */
int rpc_methods_parse_int(const json_t *v, int64_t lo, int64_t hi, int64_t *out, const char *field,
                          struct sbx_err *err) SBX_WARN_UNUSED;
/* The message for a failed json_unpack_ex on a params object: "NAME: missing" or
 * "NAME: unknown parameter" (field names prefixed with `prefix`, which may be ""). */
int rpc_methods_unpack_error(const json_error_t *je, const char *prefix,
                             struct sbx_err *err) SBX_WARN_UNUSED;

/* Build the unsigned transaction of a submitting method (openaccount, updateaccount, deposit,
 * withdraw, submittrade, checktrade, submitdirective) from its params object. Quantities and
 * transfer amounts use the asset's decimals from `assets` (an asset not listed: up to 8, and the
 * rules reject it as asset.unlisted); prices and fees are VND. SBX_EINVAL & co. naming the
 * field; SBX_ENOTFOUND if `method` is not one of these. */
int rpc_methods_build_tx(const char *method, json_t *params, const struct ledger_asset_def *assets,
                         size_t nassets, struct ledger_tx *tx, struct sbx_err *err) SBX_WARN_UNUSED;

#endif
