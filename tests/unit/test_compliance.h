/* The fixture of the compliance/ unit tests (test_compliance*.c): an engine over a genesis
 * with a licence built from a few parameters, builders of every transaction type, helpers that
 * run one transaction through the engine, and assertions on verdicts and alerts.
 *
 * Transactions are built as structs (signatures are checked elsewhere; compliance only compares
 * keys). Amounts are chosen so that edges are exact: BTC and ETH have 8 decimals and a reference
 * price of 100,000,000 VND per whole unit, so one base unit is worth exactly 1 VND and "one unit
 * over a limit" is one VND of notional. Calendar times are built in Vietnam time (UTC+7) with
 * time_days_from_civil().
 */
#ifndef SBX_TEST_COMPLIANCE_H
#define SBX_TEST_COMPLIANCE_H

#include <stddef.h>
#include <stdint.h>

#include "compliance/engine.h"
#include "compliance/rules.h"
#include "ledger/changes.h"
#include "ledger/tx.h"

#define OFFSET_MIN 420
#define MIN_MS INT64_C(60000)
#define HOUR_MS INT64_C(3600000)
#define DAY_MS INT64_C(86400000)
#define PRICE INT64_C(100000000) /* VND per whole BTC/ETH: 1 base unit = 1 VND */
#define M INT64_C(1000000)

/* Local (UTC+7) civil time -> ms since the epoch. */
int64_t local_ms(int64_t y, unsigned mo, unsigned d, int h, int mi, int s, int ms);

#define VALID_FROM local_ms(2025, 9, 1, 0, 0, 0, 0)
#define VALID_TO local_ms(2028, 9, 1, 0, 0, 0, 0)
#define GENESIS_MS (VALID_FROM - DAY_MS)
#define T0 local_ms(2025, 10, 1, 10, 0, 0, 0) /* a Wednesday morning */

enum { KEY_OPERATOR = 0x01, KEY_OTHER = 0x77, KEY_REG = 0x10 };

/* A key made of the byte `tag` 32 times. */
void key(uint8_t out[32], int tag);

struct fx {
    struct cmp_engine *e;
    struct ledger_tx genesis;
    char *licence;
    uint64_t height;
    uint32_t ntx;
    uint32_t seq; /* for generated ids */
    uint8_t txid[32];
    struct cmp_result res;
};

/* Rules produced anywhere in this binary (checked by the last test). */
extern int rules_seen[CMP_RULE_MAX + 1];

#define HOUSE "HOUSE"
#define HOUSE_FUNDS INT64_C(1000000000000000) /* 10^15 of each asset */

/* An engine for a network with `nreg` regulators (directive quorum `dq`), licence parameters
 * `params` (a JSON fragment of "name": value pairs, may be NULL) and house account HOUSE, opened
 * and funded with every asset unless `no_house`. */
void fx_init_opt(struct fx *f, const char *params, int nreg, int dq, int no_house);
/* fx_init_opt with two regulators, a directive quorum of one and the house account. */
void fx_init(struct fx *f, const char *params);
void fx_release(struct fx *f);
/* cmocka set-up and tear-down: *state is a zeroed struct fx, released afterwards. */
int fx_setup(void **state);
int fx_teardown(void **state);

/* The licence document (canonical) for `params` (a JSON fragment, may be NULL) and `house`. */
char *make_licence(const char *params, const char *house);

/* Transactions, signed (by key tag) by the operator unless said otherwise. */
void txid_for(uint8_t out[32], uint32_t n);
void cpy(char *dst, size_t cap, const char *src);
struct ledger_tx *mk_open(struct ledger_tx *tx, const char *id, int tier, int cls, int64_t ts);
struct ledger_tx *mk_update(struct ledger_tx *tx, const char *id, int tier, int status, int64_t ts);
struct ledger_tx *mk_xfer(struct ledger_tx *tx, int type, const char *xid, const char *acct,
                          const char *asset, int64_t amount, int64_t ts);
/* A complete, accepted Travel Rule record. */
void set_tr(struct ledger_tx *tx);
struct ledger_tx *mk_trade(struct ledger_tx *tx, const char *tid, const char *buyer,
                           const char *seller, const char *asset, int64_t qty, int64_t price,
                           int64_t ts);
/* A directive signed by regulator `signer_tag` with cosigners `cosigs` (tags, 0-terminated). */
struct ledger_tx *mk_dir(struct ledger_tx *tx, int kind, int signer_tag, const int *cosigs,
                         int64_t ts);
struct ledger_tx *mk_attest(struct ledger_tx *tx, int signer_tag, uint64_t height, int64_t ts);

/* Evaluate and apply `tx` in the fixture's current block (block time = tx time). */
const struct cmp_result *run(struct fx *f, const struct ledger_tx *tx);
/* Evaluate only (the checktrade dry run). */
const struct cmp_result *check(struct fx *f, const struct ledger_tx *tx);
/* "prefix-N" with a fresh N (a static buffer). */
const char *next_id(struct fx *f, const char *prefix);
const struct cmp_result *open_acct(struct fx *f, const char *id, int tier, int cls, int64_t ts);
/* A transfer with a fresh id, with a Travel Rule record if `tr`. */
const struct cmp_result *xfer(struct fx *f, int type, const char *acct, const char *asset,
                              int64_t amount, int64_t ts, int tr);
const struct cmp_result *deposit(struct fx *f, const char *acct, const char *asset, int64_t amount,
                                 int64_t ts);
const struct cmp_result *deposit_tr(struct fx *f, const char *acct, const char *asset,
                                    int64_t amount, int64_t ts);
const struct cmp_result *withdraw(struct fx *f, const char *acct, const char *asset, int64_t amount,
                                  int64_t ts);
const struct cmp_result *trade_fee(struct fx *f, const char *buyer, const char *seller,
                                   const char *asset, int64_t qty, int64_t price, int64_t fee_b,
                                   int64_t fee_s, int64_t ts);
/* A BTC trade at PRICE: `qty` base units = `qty` VND of notional. */
const struct cmp_result *trade(struct fx *f, const char *buyer, const char *seller, int64_t qty,
                               int64_t ts);
const struct cmp_result *directive(struct fx *f, struct ledger_tx *tx);
/* A set_param directive from the first regulator (a quorum of one). */
const struct cmp_result *set_param(struct fx *f, const char *name, int64_t value, int64_t ts);
/* Collect the pending changes (into `out` if not NULL), as at the end of a block, and start
 * the next block. */
void end_block(struct fx *f, struct ledger_changes *out);

/* Verdict assertions (use the macros: they report the caller's line). */
void expect_ok_(const struct cmp_result *r, const char *file, int line);
void expect_rej_(const struct cmp_result *r, int rule, const char *file, int line);
void expect_figs_(const struct cmp_result *r, int64_t limit, int64_t used, int64_t requested,
                  const char *file, int line);
/* Accepted with exactly these alerts (n pairs of kind, account; in order). */
void expect_alerts_(const struct cmp_result *r, const char *file, int line, size_t n, ...);
#define EXPECT_OK(expr) expect_ok_((expr), __FILE__, __LINE__)
#define EXPECT_REJ(expr, rule) expect_rej_((expr), (rule), __FILE__, __LINE__)
#define EXPECT_REJ_FIGS(expr, rule, limit, used, req)                                              \
    do {                                                                                           \
        const struct cmp_result *r_ = (expr);                                                      \
        expect_rej_(r_, (rule), __FILE__, __LINE__);                                               \
        expect_figs_(r_, (limit), (used), (req), __FILE__, __LINE__);                              \
    } while (0)

#define EXPECT_ALERTS(expr, ...) expect_alerts_((expr), __FILE__, __LINE__, __VA_ARGS__)
#define EXPECT_NO_ALERTS(expr) expect_alerts_((expr), __FILE__, __LINE__, (size_t)0)
void expect_same_verdict(const struct ledger_verdict *a, const struct ledger_verdict *b);
/* The balance of `acct` in asset number `asset` (the account must exist). */
int64_t balance(struct fx *f, const char *acct, int asset);
/* Open `id` at `ts` and fund it with `vnd` VND and `btc` BTC base units. */
void funded(struct fx *f, const char *id, int tier, int cls, int64_t vnd, int64_t btc, int64_t ts);
/* funded() for a tier-1 domestic individual with VND only. */
void funded_retail(struct fx *f, const char *id, int64_t vnd, int64_t ts);

struct ledger_store;
/* Write a finished change set to the store (unsynced), as a checkpoint does. */
void commit_changes(struct ledger_store *s, struct ledger_changes *ch);

/* The tests, by file. */
/* test_compliance_market.c */
void test_rule_names(void **state);
void test_licence_status_names(void **state); /* test_compliance_names.c */
void test_alert_names(void **state);
void test_params_licence(void **state);
void test_licence_window(void **state);
void test_licence_file_complete(void **state);
void test_licence_file_refused(void **state);
void test_licence_file_read(void **state);
void test_auth_signer(void **state);
void test_accounts(void **state);
void test_participants_house_last(void **state);
void test_halts(void **state);
void test_licence_status(void **state);
void test_trading_hours(void **state);
void test_settlement_currency(void **state);
/* test_compliance_limits.c */
void test_per_trade_tiers(void **state);
void test_foreign_factor(void **state);
void test_daily_midnight(void **state);
void test_monthly_boundary(void **state);
void test_holding(void **state);
void test_exchange_limits(void **state);
void test_set_param(void **state);
void test_frozen(void **state);
void test_balance(void **state);
void test_self_trade_fees(void **state);
void test_cooling_off(void **state);
void test_id_duplicate(void **state);
void test_amount_overflow(void **state);
/* test_compliance_aml.c */
void test_travel_rule(void **state);
void test_sanctions(void **state);
void test_screening(void **state);
void test_structuring_large_value(void **state);
void test_rapid_in_out(void **state);
void test_velocity(void **state);
void test_dormant(void **state);
void test_directive_quorum(void **state);
void test_attestation(void **state);
void test_supervision_lag(void **state);
/* test_compliance_state.c */
void test_evaluate_is_pure(void **state);
void test_determinism(void **state);
void test_persistence(void **state);
void test_liabilities(void **state); /* test_compliance_liab.c */
void test_every_rule_produced(void **state);
/* test_compliance_prices.c */
void test_price_band(void **state);
void test_price_band_follows_directive(void **state);
void test_price_stale(void **state);
/* test_compliance_time.c */
void test_executed_at(void **state);
void test_executed_at_params(void **state);
void test_executed_at_before_hours(void **state);
void test_trading_hours_executed_at(void **state);
/* test_compliance_screening.c */
void test_screening_required(void **state);
void test_screening_withdrawal_edges(void **state);
void test_travel_rule_by_address(void **state);
void test_address_records_persist(void **state);
void test_large_value_fiat_day(void **state);
/* test_compliance_licence.c */
void test_licence_end_wind_down(void **state);
void test_licence_dates_not_by_set_param(void **state);
void test_licence_valid_to_2028(void **state);

#endif
