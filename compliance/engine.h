/* The compliance engine: the pilot licence as deterministic rules over the chain's state.
 *
 * A `struct cmp_engine` holds the state the rules read: accounts and balances (ledger/state.h),
 * usage counters per account and exchange-wide, licence parameters and status, halts, freezes,
 * sanctions and regulator attestations. For each transaction:
 *
 *   cmp_evaluate()  reads the state and gives a verdict (accept, or reject with the first broken
 *                   rule and its figures) and the alerts; it changes nothing, so it also serves
 *                   the `checktrade` dry run;
 *   cmp_apply()     records what the verdict says (balances, counters, ids, alerts, directive
 *                   effects); a rejected transaction changes only its id record;
 *   cmp_collect()   at the end of a block, appends every changed record to a change set, whose
 *                   hash feeds the block's state digest.
 *
 * Determinism: nothing here reads a clock, a random source or floating point, or iterates a
 * hash table where the order matters. Time is the transaction's timestamp. The order in which
 * rules are checked is documented in doc/compliance.md and is part of consensus.
 *
 * Threads: one engine belongs to one thread (the sequencer) at a time.
 */
#ifndef SBX_COMPLIANCE_ENGINE_H
#define SBX_COMPLIANCE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "compliance/params.h"
#include "compliance/rules.h"
#include "ledger/block.h"
#include "ledger/changes.h"
#include "ledger/liabilities.h"
#include "ledger/state.h"
#include "ledger/tx.h"
#include "util/err.h"

struct ledger_store;
struct cmp_engine;

/* X(enum, number, "name"); the number is stored in the licence state record. `expired` is never
 * stored: it is the status after licence.valid_to and its wind-down (cmp_engine_licence_status_at),
 * as `wind_down` is during that wind-down. */
#define CMP_LICENCE_STATUSES(X)                                                                    \
    X(CMP_LICENCE_ACTIVE, 1, "active")                                                             \
    X(CMP_LICENCE_SUSPENDED, 2, "suspended")                                                       \
    X(CMP_LICENCE_WIND_DOWN, 3, "wind_down")                                                       \
    X(CMP_LICENCE_REVOKED, 4, "revoked")                                                           \
    X(CMP_LICENCE_EXPIRED, 5, "expired")

enum cmp_licence_status { CMP_LICENCE_STATUSES(CMP_ENUM_CONSTANT) };

/* "wind_down" for CMP_LICENCE_WIND_DOWN; NULL for an unknown number. */
const char *cmp_licence_status_name(int status);
/* The number of a licence status name, or -1. */
int cmp_licence_status_parse(const char *name);

/* Idempotency id kinds ('I' records). */
enum cmp_id_kind {
    CMP_ID_ACCOUNT = 'a',
    CMP_ID_TRADE = 't',
    CMP_ID_TRANSFER = 'x',
    CMP_ID_DIRECTIVE = 'd', /* an accepted directive's txid, in hex: it takes effect once */
};

struct cmp_alert {
    uint8_t kind; /* enum cmp_alert_kind */
    char account[SBX_ID_MAX + 1];
    int64_t time_ms;
    int64_t amount_vnd; /* the value that triggered it */
    uint8_t txid[32];
    uint8_t id[32]; /* tagged hash of txid, kind and account: the same on every node */
};

#define CMP_MAX_ALERTS 8

struct cmp_result {
    struct ledger_verdict verdict;
    char message[SBX_ERR_MSG_MAX]; /* why, for people; not part of consensus */
    size_t nalerts;
    struct cmp_alert alerts[CMP_MAX_ALERTS];
    /* what apply needs, computed once by evaluate */
    int asset;         /* asset index, -1 if none */
    int64_t value_vnd; /* VND value at the reference price: a trade's quantity, a transfer */
};

/* The block a transaction is evaluated in. */
struct cmp_block_ctx {
    uint64_t height;
    int64_t time_ms;
};

/* A new engine for the network that `genesis` (a LEDGER_TX_GENESIS transaction) defines. Its
 * licence document must be canonical and valid. The genesis records are pending for the first
 * cmp_collect(). */
int cmp_engine_new(struct cmp_engine **out, const struct ledger_tx *genesis,
                   struct sbx_err *err) SBX_WARN_UNUSED;
void cmp_engine_free(struct cmp_engine *e);

/* Read the state back from a store written through cmp_collect() (at start-up). The engine must
 * be new (made from the same genesis) and nothing may be pending. */
int cmp_engine_load(struct cmp_engine *e, struct ledger_store *store,
                    struct sbx_err *err) SBX_WARN_UNUSED;

/* Load one stored state record ('P', 'A', 'U', 'D' or 'S': key and value as cmp_collect() wrote
 * them) into a new engine, as cmp_engine_load() does for the whole store: the state as of a past
 * height is rebuilt from the history records this way. Records go in key order (an account's
 * 'A' before its 'U'). SBX_ECORRUPT for a record that does not decode or another kind. */
int cmp_engine_load_record(struct cmp_engine *e, const uint8_t *key, size_t klen,
                           const uint8_t *val, size_t vlen, struct sbx_err *err) SBX_WARN_UNUSED;

/* Ids recorded in earlier blocks are looked up through this hook (the node points it at the
 * store's 'I' records): return 1 if the key exists, 0 if not, < 0 on error. Without a hook the
 * engine keeps every id in memory (fine for tests and small chains). */
void cmp_engine_set_id_lookup(struct cmp_engine *e,
                              int (*fn)(void *ctx, const uint8_t *key, size_t klen), void *ctx);

/* Block hashes for attestations: fn(ctx, height, hash) returns 1 and the hash of the block at
 * `height` (below the block being built), 0 if there is none. Without a hook an attestation's
 * hash is not checked (unit tests). */
void cmp_engine_set_hash_lookup(struct cmp_engine *e,
                                int (*fn)(void *ctx, uint64_t height, uint8_t hash[32]), void *ctx);

/* Read access for queries. */
const struct cmp_params *cmp_engine_params(const struct cmp_engine *e);
const struct ledger_state *cmp_engine_state(const struct cmp_engine *e);
/* The status the directives left (active, suspended, wind_down, revoked). */
int cmp_engine_licence_status(const struct cmp_engine *e);
/* The status in force at `now_ms`: from licence.valid_to the licence winds down by itself for
 * licence.wind_down_days (wind_down; a suspended licence stays suspended), then it is expired;
 * revoked stays revoked. */
int cmp_engine_licence_status_at(const struct cmp_engine *e, int64_t now_ms);
int cmp_engine_market_halted(const struct cmp_engine *e);
int cmp_engine_asset_halted(const struct cmp_engine *e, int asset);
int cmp_engine_is_sanctioned(const struct cmp_engine *e, const char *account, const char *address);
int cmp_engine_is_regulator(const struct cmp_engine *e, const uint8_t key[static 32]);
const struct ledger_genesis *cmp_engine_genesis(const struct cmp_engine *e);
/* Valuation of one whole unit of asset `asset` in VND: its reference price
 * (asset.<SYMBOL>.ref_price_vnd); 1 for VND, 0 for an unknown index. Trade prices never count. */
int64_t cmp_engine_price(const struct cmp_engine *e, int asset);

/* Usage of one account against its limits at time `now_ms` (the current day and month), for
 * getaccount/getusage. Figures in VND. */
struct cmp_usage_view {
    int64_t daily_used, daily_limit;
    int64_t monthly_used, monthly_limit;
    int64_t per_trade_limit;
    int64_t holding_limit;
};
int cmp_engine_usage(const struct cmp_engine *e, const char *account, int64_t now_ms,
                     struct cmp_usage_view *out) SBX_WARN_UNUSED;
/* Exchange-wide usage at `now_ms`. */
void cmp_engine_exchange_usage(const struct cmp_engine *e, int64_t now_ms, int64_t *daily_used,
                               int64_t *total_used);
/* Attestations recorded so far: regulator i's latest attested height and the timestamp of the
 * attestation; 0/0 if none. */
void cmp_engine_attested(const struct cmp_engine *e, size_t i, uint64_t *height, int64_t *time_ms);

/* The verdict on `tx` (already decoded and signature-checked; `txid` its id) in block `ctx`.
 * Returns SBX_OK with res->verdict filled (accepted or rejected), or an error code for an
 * internal failure (then nothing was decided). Never changes the engine. */
int cmp_evaluate(const struct cmp_engine *e, const struct ledger_tx *tx,
                 const uint8_t txid[static 32], const struct cmp_block_ctx *ctx,
                 struct cmp_result *res) SBX_WARN_UNUSED;

/* Record `tx` with the verdict `res` that cmp_evaluate gave in the same state. */
int cmp_apply(struct cmp_engine *e, const struct ledger_tx *tx, const uint8_t txid[static 32],
              const struct cmp_block_ctx *ctx, const struct cmp_result *res) SBX_WARN_UNUSED;

/* The id (trade id, transfer id, account id, or a directive's txid `txid` in hex, written into
 * `buf`) that applying `tx` with verdict `res` records as used, with its kind (enum
 * cmp_id_kind), or NULL if it records none. The first attempt with an id takes it, accepted or
 * rejected (an account id only when the account opens, a directive's only when accepted). */
const char *cmp_records_id(const struct ledger_tx *tx, const uint8_t txid[static 32],
                           const struct cmp_result *res, uint8_t *kind, char buf[static 65]);

/* Evaluate then apply. */
int cmp_process(struct cmp_engine *e, const struct ledger_tx *tx, const uint8_t txid[static 32],
                const struct cmp_block_ctx *ctx, struct cmp_result *res) SBX_WARN_UNUSED;

/* Append every record changed since the last collect (accounts, usage, licence state, ids,
 * alerts and their indexes) to `out`. */
int cmp_collect(struct cmp_engine *e, struct ledger_changes *out) SBX_WARN_UNUSED;

/* The supervision gate (rule supervision.lag): SBX_OK if attestations are recent enough at
 * `now_ms` (or supervision.max_lag_s is 0), else SBX_EUNAVAIL. The node applies it before
 * accepting business transactions; it is not a block verdict, since attestations arrive on
 * their own schedule. */
int cmp_engine_supervision_ok(const struct cmp_engine *e, int64_t now_ms, int64_t *lag_ms);

/* Proof of liabilities (liabilities.c). The liabilities record the operator would make now
 * under `seed`, reflecting block `reflects_height` (the tip): every asset's sum tree over every
 * client account (the house account left out). `short_by` > 0 makes VND's line that much short
 * (test builds' liabilities_short). Costs about 2n hashes per asset for n accounts. */
int cmp_liabilities_make(const struct cmp_engine *e, const uint8_t seed[static 32],
                         uint64_t reflects_height, int64_t short_by,
                         struct ledger_liabilities *out) SBX_WARN_UNUSED;
/* The balances those trees are made from (the caller releases the snapshot). */
int cmp_liabilities_snapshot(const struct cmp_engine *e,
                             struct ledger_liab_snapshot *snap) SBX_WARN_UNUSED;

/* Per asset, the last recorded liabilities and the last attested reserve (-1: none); an asset
 * is short when both exist and the liabilities exceed the reserve. */
struct cmp_liabilities_line {
    char asset[SBX_ASSET_MAX + 1];
    int64_t liabilities, reserve;
    int shortfall;
};
struct cmp_liabilities_view {
    uint64_t record_height; /* block of the last liabilities record, 0 = none */
    int requested;          /* a liabilities_snapshot directive waits for a record */
    int shortfall;          /* some asset is short */
    size_t nassets;
    struct cmp_liabilities_line assets[SBX_MAX_ASSETS];
};
void cmp_engine_liabilities(const struct cmp_engine *e, struct cmp_liabilities_view *out);

/* Alert record encoding ('L' value). */
int cmp_alert_decode(struct cmp_alert *a, const uint8_t *in, size_t len,
                     struct sbx_err *err) SBX_WARN_UNUSED;

#endif
