/* What a JSON-RPC handler sees and gives: the environment of a call (struct rpc_env), its entry
 * in the method table (struct rpc_method), and its outcome (struct rpc_outcome), with the one
 * table that maps sbx return codes to JSON-RPC error codes.
 *
 * The handlers (rpc/m_*.c) include this header, not rpc/methods.h: the table in methods.c
 * points at the handlers, and the handlers do not need the table.
 */
#ifndef SBX_RPC_OUTCOME_H
#define SBX_RPC_OUTCOME_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ledger/tx.h"
#include "node/node.h"
#include "rpc/build.h"
#include "util/err.h"

struct node_net;

/* JSON-RPC error codes (doc/rpc.md). Only rpc/ knows these. */
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
int rpc_outcome_code(int rc);

enum rpc_outcome_kind {
    RPC_OUT_RESULT = 0, /* `result` holds the answer */
    RPC_OUT_ERROR,      /* code, message, data */
    RPC_OUT_SUBMIT,     /* `tx` to hand to node_submit */
    RPC_OUT_SUBMIT_RAW, /* `raw` to hand to node_submit_raw */
    RPC_OUT_JOB,        /* `job` to run as the node's background job (node_job_async) */
};

struct rpc_outcome;

/* A call that takes a while (verifychain, getreport): the server runs it as the node's
 * background job (node_job_async) and answers when it is done. `run` goes on the job thread and
 * may only read the store and the job's own memory (node.h says what that means); `finish`, on
 * the event-loop thread, gets what run returned in `rc` and `err` (or the node's refusal,
 * SBX_EUNAVAIL, without run having run) and, like a handler, sets `o` and returns SBX_OK or
 * returns an sbx code with its message in `err`; `release` frees the job. A handler embeds this
 * as the first member of a job struct of its own. */
struct rpc_job {
    int (*run)(struct rpc_job *j, struct sbx_err *err);
    int (*finish)(struct rpc_job *j, struct rpc_outcome *o, int rc, struct sbx_err *err);
    void (*release)(struct rpc_job *j);
};

/* A durable receipt of a submission, kept as values: the reply writes its JSON text
 * (rpc_render_receipt_text) without building a tree, on the path of every trade. */
struct rpc_receipt {
    uint8_t txid[32];
    uint8_t block_hash[32];
    uint64_t height;
};

/* What one call gives. Owns what its pointers point to; rpc_outcome_release frees it. */
struct rpc_outcome {
    int kind;
    json_t *result;
    int has_receipt; /* RPC_OUT_RESULT: the answer is `receipt` (`result` is NULL) */
    struct rpc_receipt receipt;
    int code;
    char message[SBX_ERR_MSG_MAX];
    json_t *data;         /* error data, or NULL */
    struct ledger_tx *tx; /* malloc'd */
    uint8_t *raw;         /* malloc'd */
    size_t rawlen;
    struct rpc_job *job; /* RPC_OUT_JOB: released with the outcome */
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
/* Make `o` the receipt `r` (the result of an accepted submission). */
void rpc_outcome_receipt(struct rpc_outcome *o, const struct rpc_receipt *r);
/* Make `o` a transaction to submit (taking `tx`, malloc'd) or a raw one (taking `raw`). */
void rpc_outcome_submit(struct rpc_outcome *o, struct ledger_tx *tx);
void rpc_outcome_submit_raw(struct rpc_outcome *o, uint8_t *raw, size_t rawlen);
/* Make `o` a job to run in the background (taking `j`). */
void rpc_outcome_job(struct rpc_outcome *o, struct rpc_job *j);
/* Event loop, once the node has run (or refused) the job of `o`: make `o` its answer (through
 * the job's finish) and release the job. */
void rpc_outcome_job_done(struct rpc_outcome *o, int rc, const struct sbx_err *err);
/* What a handler may use. */
struct rpc_env {
    struct node *node;
    int role;                              /* the caller's RPC_ROLE_* */
    int64_t now_ms;                        /* wall clock for usage periods */
    const struct ledger_asset_def *assets; /* genesis assets, [0] = VND */
    size_t nassets;
    size_t *budget;       /* what this HTTP request may still show, in RPC_UNITS_*; NULL: no cap */
    struct node_net *net; /* the peer links (test hooks); may be NULL */
    /* A transaction the handler may take instead of malloc'ing one (a few kilobytes, malloc's
     * slow path): the slot of the loop running the call, touched on its thread only; the server
     * puts the transaction of a submission back once the node has copied it. NULL: none. */
    struct ledger_tx **tx_spare;
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
    unsigned flags;     /* RPC_METHOD_* */
};

/* The handler reads what only the node's event loop may touch (the network layer, the
 * background job): the server runs it on loop 0 whichever loop read the request. */
#define RPC_METHOD_MAIN 1u

#endif
