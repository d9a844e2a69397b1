/* JSON rendering for the RPC results: amounts, rules and free text, transactions with their
 * verdicts and places in the chain, block headers, submission receipts and rejections, alerts.
 * The shapes are those of doc/rpc.md. Each function returns a new reference, or NULL when out
 * of memory (a NULL member handed to json_object_set_new is dropped by Jansson).
 */
#ifndef SBX_RPC_RENDER_H
#define SBX_RPC_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "compliance/engine.h"
#include "ledger/tx.h"
#include "node/node.h"
#include "ledger/locate.h"
#include "rpc/outcome.h"
#include "util/err.h"

/* Text that may not be valid UTF-8 (free text from the ledger): as is if it is, else with every
 * byte outside printable ASCII replaced by '?'. */
json_t *rpc_render_text(const char *s);
/* `v` base units as a decimal string with `decimals` fractional digits. */
json_t *rpc_render_amount(int64_t v, unsigned decimals);
json_t *rpc_render_int(int64_t v);
/* Capped at INT64_MAX (JSON integers are signed here). */
json_t *rpc_render_u64(uint64_t v);
/* A rule's id, or "rule.<n>" for a number this build does not know. */
json_t *rpc_render_rule(int rule);
/* The name of a CMP_LICENCE_* status ("unknown" for another number). */
const char *rpc_render_licence_status(int status);
/* Add the figures of a verdict that apply (limit, used, requested; VND strings) to `o`. */
void rpc_render_figures(json_t *o, const struct ledger_verdict *v);

/* The transaction's own fields: txid, type, signer, timestamp and the body by type (amounts
 * with the decimals of env->assets). */
json_t *rpc_render_tx(const struct rpc_env *env, const struct ledger_tx *tx,
                      const uint8_t txid[static 32]);
/* Entry `i` of the block loaded in `k`: the transaction, its verdict and where it is (height,
 * block_hash, index); `*type` (if not NULL) gets the transaction's type. NULL with `err` set on
 * failure. */
json_t *rpc_render_entry(const struct rpc_env *env, const struct ledger_locate *k, size_t i,
                         int *type, struct sbx_err *err);
/* The header fields of the block loaded in `k` and its ntx. */
json_t *rpc_render_block_header(const struct ledger_locate *k);

/* The room rpc_render_receipt_text needs (the text, its NUL included). */
#define RPC_RECEIPT_TEXT_MAX 224
/* The receipt of an accepted submission as compact JSON text, {"txid", "height", "block_hash",
 * "verdict": "accepted"} in that order (what Jansson would write for the same object), into
 * `out`; returns its length (without the NUL). */
size_t rpc_render_receipt_text(char out[static RPC_RECEIPT_TEXT_MAX], const struct rpc_receipt *r);
/* The error data of a rejected submission: {rule, message, txid, height, figures}. */
json_t *rpc_render_rejection(const struct node_result *r, const char *message);

/* A k-of-n directive's proposal: {proposal_id, kind, params (the directive's fields), proposer,
 * signers (every key that signed, the proposer first), signatures, quorum, proposed_at,
 * expires}. */
json_t *rpc_render_proposal(const struct rpc_env *env, const struct node_proposal_view *v);
/* submitdirective's answer when the directive became a proposal: {proposal_id, signatures,
 * quorum, expires}. */
json_t *rpc_render_proposed(const struct node_result *r);

/* One AML alert: {id, kind, account, time, amount_vnd, txid}. */
json_t *rpc_render_alert(const struct cmp_alert *al);

#endif
