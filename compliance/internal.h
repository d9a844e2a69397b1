/* Internal to compliance/: the engine's state, per-account usage records and the functions the
 * engine's files share. Not part of the folder's API (see engine.h for that).
 *
 * The engine is split by concern:
 *   engine.c      the public entry points: lifecycle, read access, the licence gate and the
 *                 dispatch of evaluate/apply by transaction type, queries;
 *   accounts.c    account_open / account_update;
 *   movements.c   deposits, withdrawals and trades: the order of their checks, and their effects;
 *   limits.c      the limit.* rules (participants, per trade, daily, monthly, exchange-wide,
 *                 holding) and the exchange-wide counters;
 *   prices.c      the reference-price rules of a trade (price.band, price.stale);
 *   aml.c         the Travel Rule, the dormant-account refresh and the AML alerts;
 *   directives.c  regulator directives;
 *   persist.c     the records the engine stores (ids, sanctions, licence state, parameters,
 *                 usage): collect and load;
 *   usage.c       per-account usage counters and rolling windows;
 *   addresses.c   the Travel Rule window of each external crypto address;
 *   liabilities.c the liabilities transaction, the reserves and snapshot directives, their record;
 *   alerts.c      alert records;
 *   names.c       the text of every enum (rules, alerts, licence statuses).
 */
#ifndef SBX_COMPLIANCE_INTERNAL_H
#define SBX_COMPLIANCE_INTERNAL_H

#include <stdint.h>
#include <sys/queue.h>

#include "compliance/engine.h"
#include "compliance/params.h"
#include "ledger/liabilities.h"
#include "ledger/store.h"
#include "util/buf.h"
#include "util/map.h"

struct cmp_event {
    int64_t t; /* ms */
    int64_t v; /* VND value, or base units for deposits */
    int asset; /* deposits only */
};

/* A fixed-capacity list of recent events, oldest first. When full, the oldest is dropped. */
struct cmp_ring {
    uint8_t n;
    struct cmp_event ev[CMP_RING_MAX];
};

/* A Travel Rule window: recent accepted crypto transfers (VND value) and what a full ring
 * dropped, still counted (conservatively) until `over_until`. An account has one, and so has
 * every external address (addresses.c). */
struct cmp_window {
    struct cmp_ring ev;
    int64_t over_vnd;
    int64_t over_until;
};

/* An external crypto address (a crypto transfer's reference) and its Travel Rule window, across
 * every account that sent to it or received from it. */
struct cmp_address {
    char addr[SBX_REF_MAX + 1];
    struct cmp_window w;
    /* not stored: changed since the last collect, on the engine's address dirty list */
    uint8_t dirty;
    STAILQ_ENTRY(cmp_address) dirty_link;
};

STAILQ_HEAD(cmp_address_list, cmp_address);

/* Per-account usage (hung on ledger_account.ext). */
struct cmp_usage {
    int64_t day, day_vnd;     /* local day number and notional traded that day */
    int64_t month, month_vnd; /* local month number and notional that month */
    int64_t react_ms;         /* when the account last came back from dormancy, 0 = never */
    int64_t react_vnd;        /* value moved since then, on that local day */
    struct cmp_window xfer;   /* accepted crypto transfers, VND value (Travel Rule) */
    int64_t fiat_day;         /* local day number of ... */
    int64_t fiat_day_vnd;     /* ... the VND deposited and withdrawn that day (large value) */
    int64_t fiat_alert_day;   /* the last local day whose VND sum reached aml.large_value_vnd */
    struct cmp_ring near;     /* near-threshold transactions (structuring) */
    struct cmp_ring vel;      /* all accepted movements (velocity) */
    struct cmp_ring dep;      /* deposits, base units (rapid in-and-out) */
    /* not stored: changed since the last collect, on the engine's dirty list */
    uint8_t dirty;
    struct ledger_account *owner; /* set when it goes on the list */
    STAILQ_ENTRY(cmp_usage) dirty_link;
};

STAILQ_HEAD(cmp_usage_list, cmp_usage);

struct cmp_attested {
    uint64_t height;
    int64_t time_ms;
};

/* The liabilities record ('S' 'l'): the last liabilities transaction and attested reserves. */
struct cmp_liab_state {
    uint64_t height;                 /* block of the last liabilities record; 0 = none */
    uint8_t requested;               /* a liabilities_snapshot directive waits for a record */
    int64_t total[SBX_MAX_ASSETS];   /* its total per asset; -1 = none recorded */
    int64_t reserve[SBX_MAX_ASSETS]; /* the last attested reserve per asset; -1 = none */
    int dirty;                       /* written at the next collect (never before first use) */
};

struct cmp_engine {
    struct ledger_genesis genesis; /* licence_json not kept (NULL) */
    int64_t genesis_ms;
    struct ledger_state *st;
    struct cmp_params params;
    uint8_t licence_status;
    uint8_t market_halted;
    uint32_t halted_assets; /* bit i = asset i halted */
    int64_t ex_day, ex_day_vnd, ex_total_vnd;
    struct cmp_attested att[SBX_MAX_REGULATORS];
    struct map sanctions; /* "a" + account or "d" + address -> non-NULL */
    int global_dirty, params_dirty;
    /* pending records for the next collect */
    struct ledger_changes pending; /* sanctions, ids, alerts */
    struct cmp_usage_list usage_dirty;
    struct map addresses; /* 'D' key of an address -> struct cmp_address (owned) */
    struct cmp_address_list addr_dirty;
    /* ids: in memory (no hook), or this block's and the previous block's (with a hook) */
    struct map ids_cur, ids_prev;
    int (*id_lookup)(void *ctx, const uint8_t *key, size_t klen);
    void *id_ctx;
    int (*hash_lookup)(void *ctx, uint64_t height, uint8_t hash[32]);
    void *hash_ctx;
    struct cmp_liab_state liab;
    uint64_t seen_height; /* the block of the last transaction applied (not stored) */
};

/* The evaluate and apply steps of one transaction type (see engine.c's dispatch table).
 * Evaluate returns SBX_OK with the verdict in `res`, or an internal error; apply records an
 * accepted transaction. */
typedef int cmp_eval_fn(const struct cmp_engine *e, const struct ledger_tx *tx,
                        const struct cmp_block_ctx *ctx, struct cmp_result *res);
typedef int cmp_apply_fn(struct cmp_engine *e, const struct ledger_tx *tx,
                         const struct cmp_result *res);

/* engine.c: helpers every rule family uses */
/* Fill `res` with a rejection by `rule` and its figures; `what` (may be NULL) for the message.
 * Returns SBX_OK (a rejection is a verdict, not a failure). */
int cmp_engine_reject(struct cmp_result *res, int rule, int64_t limit, int64_t used,
                      int64_t requested, const char *what);
/* The licence's UTC offset in minutes (time.utc_offset_min). */
int cmp_engine_offset_min(const struct cmp_engine *e);
/* 1 if `id` is the house account (exempt from client limits and alerts). */
int cmp_engine_is_house(const struct cmp_engine *e, const char *id);
/* The account's usage record, or an all-zero one if it has none yet. */
const struct cmp_usage *cmp_engine_usage_of(const struct ledger_account *a);
/* VND value of `amount` base units of `asset` (VND itself: the amount). */
int cmp_engine_value_vnd(const struct cmp_engine *e, int asset, int64_t amount,
                         int64_t *out) SBX_WARN_UNUSED;

/* accounts.c */
cmp_eval_fn cmp_accounts_eval_open, cmp_accounts_eval_update;
cmp_apply_fn cmp_accounts_apply_open, cmp_accounts_apply_update;

/* movements.c */
cmp_eval_fn cmp_movements_eval_transfer, cmp_movements_eval_trade;
cmp_apply_fn cmp_movements_apply_transfer, cmp_movements_apply_trade;

/* prices.c: checks as in limits.c */
/* price.band, then price.stale, for a trade of asset `asset` at `price` at time `now`. */
int cmp_prices_check_trade(const struct cmp_engine *e, int asset, int64_t price, int64_t now,
                           struct cmp_result *res);

/* limits.c: each check returns 1 after filling `res` with a rejection, else 0 */
/* Open client accounts (the house account left out). */
int64_t cmp_limits_participants(const struct cmp_engine *e);
/* limit.participants for one more open account `id`. */
int cmp_limits_check_participants(const struct cmp_engine *e, const char *id,
                                  struct cmp_result *res);
/* limit.per_trade, limit.daily, limit.monthly for both parties, then the exchange-wide ones. */
int cmp_limits_check_trade(const struct cmp_engine *e, const struct ledger_account *buyer,
                           const struct ledger_account *seller, int64_t now, int64_t notional,
                           struct cmp_result *res);
/* limit.holding: value of the asset held after receiving `qty` more. */
int cmp_limits_check_holding(const struct cmp_engine *e, const struct ledger_account *a, int asset,
                             int64_t qty, struct cmp_result *res);
/* Count an accepted trade's notional in the exchange-wide counters. */
void cmp_limits_record_exchange(struct cmp_engine *e, int64_t now, int64_t notional);

/* aml.c: checks as in limits.c */
int cmp_aml_check_travel_rule(const struct cmp_engine *e, const struct ledger_account *a,
                              const struct ledger_transfer *t, int64_t now, int64_t value,
                              struct cmp_result *res);
/* kyc.refresh_required (house account exempt). */
int cmp_aml_check_dormant(const struct cmp_engine *e, const struct ledger_account *a, int64_t now,
                          int64_t value, struct cmp_result *res);
/* The alerts of an accepted movement, appended to res->alerts. */
void cmp_aml_alerts(const struct cmp_engine *e, const struct ledger_tx *tx,
                    const uint8_t txid[static 32], struct cmp_result *res);
/* Record one party's accepted movement of `value` VND in its AML windows (dormancy, near
 * threshold, velocity). */
void cmp_aml_record_movement(const struct cmp_engine *e, const struct ledger_account *a,
                             struct cmp_usage *u, int64_t now, int64_t value);
/* Record an accepted transfer: the Travel Rule windows of the account and of its address
 * (crypto), the day's VND sum (fiat), the deposits window. SBX_ENOMEM possible. */
int cmp_aml_record_transfer(struct cmp_engine *e, struct cmp_usage *u, const struct ledger_tx *tx,
                            const struct cmp_result *res) SBX_WARN_UNUSED;

/* directives.c */
cmp_eval_fn cmp_directives_eval;
cmp_apply_fn cmp_directives_apply;

/* liabilities.c */
void cmp_liabilities_init(struct cmp_engine *e);
cmp_eval_fn cmp_liabilities_eval;
cmp_apply_fn cmp_liabilities_apply;
/* The checks and effects of liabilities_snapshot and reserves_attest (directives.c's). */
int cmp_liabilities_eval_directive(const struct cmp_engine *e, const struct ledger_directive *d,
                                   struct cmp_result *res);
int cmp_liabilities_apply_directive(struct cmp_engine *e,
                                    const struct ledger_directive *d) SBX_WARN_UNUSED;
/* The 'S' 'l' record. */
int cmp_liabilities_encode(const struct cmp_engine *e, struct buf *b) SBX_WARN_UNUSED;
int cmp_liabilities_decode(struct cmp_engine *e, const uint8_t *in, size_t len) SBX_WARN_UNUSED;

/* persist.c */
/* 1 if the id was used before, 0 if not, < 0 on a lookup error. */
int cmp_persist_id_seen(const struct cmp_engine *e, uint8_t kind, const char *id);
/* Take the id (this block's ids, and its record for the next collect). */
int cmp_persist_put_id(struct cmp_engine *e, uint8_t kind, const char *id,
                       const uint8_t txid[static 32]) SBX_WARN_UNUSED;
/* 1 if the account (kind LEDGER_LIST_ACCOUNT) or address (LEDGER_LIST_ADDRESS) `s` is on the
 * sanctions list (ledger/store.h). */
int cmp_persist_sanctioned(const struct cmp_engine *e, char kind, const char *s);
/* List (on) or unlist `s`, and its record for the next collect. */
int cmp_persist_set_sanction(struct cmp_engine *e, char kind, const char *s,
                             int on) SBX_WARN_UNUSED;
int cmp_persist_collect(struct cmp_engine *e, struct ledger_changes *out) SBX_WARN_UNUSED;
int cmp_persist_load_record(struct cmp_engine *e, const uint8_t *key, size_t klen,
                            const uint8_t *val, size_t vlen, struct sbx_err *err) SBX_WARN_UNUSED;
int cmp_persist_load(struct cmp_engine *e, struct ledger_store *store,
                     struct sbx_err *err) SBX_WARN_UNUSED;
/* Start reading a record whose first byte is its format version: SBX_ECORRUPT if that is not
 * `version`. */
int cmp_persist_open_record(struct buf_reader *r, const uint8_t *in, size_t len,
                            uint8_t version) SBX_WARN_UNUSED;
/* Put or read `n` signed 64-bit fields in order (the layout of a record's counters). */
int cmp_persist_put_i64s(struct buf *b, const int64_t *const *v, size_t n) SBX_WARN_UNUSED;
int cmp_persist_read_i64s(struct buf_reader *r, int64_t *const *v, size_t n) SBX_WARN_UNUSED;

/* usage.c */
struct cmp_usage *cmp_usage_new(void);
void cmp_usage_free(void *u);
/* The account's usage record for writing, created if need be and put on the engine's dirty list
 * (NULL: out of memory). */
struct cmp_usage *cmp_usage_mut(struct cmp_engine *e, struct ledger_account *a);
/* Record one party's accepted movement of `value` VND at `now` (`trade`: also the calendar
 * counters); the house account only gets its last activity. */
int cmp_usage_record_movement(struct cmp_engine *e, struct ledger_account *a, int64_t now,
                              int64_t value, int trade) SBX_WARN_UNUSED;
/* Add `v` to a calendar counter (`*last` its period, `*sum` its total), saturating. */
void cmp_usage_add_period(int64_t *last, int64_t *sum, int64_t period, int64_t v);
void cmp_usage_ring_push(struct cmp_ring *r, int64_t t, int64_t v, int asset,
                         struct cmp_event *dropped, int *did_drop);
/* Number of events with now - t < window_ms (events later than now count too). */
int cmp_usage_ring_count(const struct cmp_ring *r, int64_t now, int64_t window_ms);
/* Sum of values of those events (saturating). */
int64_t cmp_usage_ring_sum(const struct cmp_ring *r, int64_t now, int64_t window_ms);
int cmp_usage_encode(const struct cmp_usage *u, struct buf *out) SBX_WARN_UNUSED;
int cmp_usage_decode(struct cmp_usage *u, const uint8_t *in, size_t len) SBX_WARN_UNUSED;
/* Used amount in the period `period` of a counter whose last period is `last` holding `sum`:
 * the same period -> sum; a later one -> 0; an earlier one (a timestamp that went backwards)
 * -> sum, counted against the latest period so nothing escapes a limit. */
int64_t cmp_usage_period_used(int64_t last, int64_t sum, int64_t period);

/* Sum of a Travel Rule window's events with now - t < window_ms, and its overflow while it
 * lasts (saturating). */
int64_t cmp_usage_window_sum(const struct cmp_window *w, int64_t now, int64_t window_ms);
/* Add an event of `v` VND at `now`; what a full ring drops still counts until its window ends. */
void cmp_usage_window_push(struct cmp_window *w, int64_t now, int64_t v, int64_t window_ms);
/* A ring in a record: times only (RING_T), with values (RING_TV), and assets (RING_TVA). */
enum cmp_ring_fields { RING_T = 0, RING_TV = 1, RING_TVA = 2 };
int cmp_usage_put_ring(struct buf *b, const struct cmp_ring *r,
                       enum cmp_ring_fields f) SBX_WARN_UNUSED;
int cmp_usage_get_ring(struct buf_reader *rd, struct cmp_ring *r,
                       enum cmp_ring_fields f) SBX_WARN_UNUSED;

/* addresses.c */
/* The window of external address `addr`, or NULL when no transfer has used it. */
const struct cmp_window *cmp_addresses_window(const struct cmp_engine *e, const char *addr);
/* Count an accepted crypto transfer of `value` VND at `now` for `addr` (created if new, put on
 * the engine's address dirty list). SBX_ENOMEM possible. */
int cmp_addresses_record(struct cmp_engine *e, const char *addr, int64_t now,
                         int64_t value) SBX_WARN_UNUSED;
/* Append the records of the addresses changed since the last collect to `out` (the list is
 * emptied even after a failure; `rc` is the result so far). */
int cmp_addresses_collect(struct cmp_engine *e, struct buf *b, struct ledger_changes *out,
                          int rc) SBX_WARN_UNUSED;
/* Read one stored 'D' record back (at start-up). SBX_ECORRUPT or SBX_ENOMEM. */
int cmp_addresses_load(struct cmp_engine *e, const uint8_t *key, size_t klen, const uint8_t *val,
                       size_t vlen) SBX_WARN_UNUSED;
/* Free every address record (engine teardown). */
void cmp_addresses_release(struct cmp_engine *e);

/* alerts.c */
void cmp_alert_make(struct cmp_alert *a, int kind, const char *account, int64_t time_ms,
                    int64_t amount_vnd, const uint8_t txid[static 32]);
int cmp_alert_encode(const struct cmp_alert *a, struct buf *out) SBX_WARN_UNUSED;
/* Append the alert record and its index entry to `c`. */
int cmp_alert_changes(const struct cmp_alert *a, struct ledger_changes *c) SBX_WARN_UNUSED;

#endif
