/* Rule and alert identifiers.
 *
 * A rule's number is what a block's verdict records (ledger/block.h), so numbers are stable
 * forever: add new rules at the end, never renumber. The names are the ids of
 * doc/compliance.md (tests/check_compliance_doc.sh keeps the two in step).
 */
#ifndef SBX_COMPLIANCE_RULES_H
#define SBX_COMPLIANCE_RULES_H

/* The tables of compliance/ are X-macros of X(enum, number, "text"): this makes an enum's
 * constants of one; names.c makes the name and parse functions of the same table. */
#define CMP_ENUM_CONSTANT(e, n, s) e = n,

#define CMP_RULES(X)                                                                               \
    X(CMP_RULE_AUTH_SIGNER, 1, "auth.signer")                                                      \
    X(CMP_RULE_LICENCE_WINDOW, 2, "licence.window")                                                \
    X(CMP_RULE_LICENCE_STATUS, 3, "licence.status")                                                \
    X(CMP_RULE_ID_DUPLICATE, 4, "id.duplicate")                                                    \
    X(CMP_RULE_MARKET_HALTED, 5, "market.halted")                                                  \
    X(CMP_RULE_ASSET_UNLISTED, 6, "asset.unlisted")                                                \
    X(CMP_RULE_ASSET_HALTED, 7, "asset.halted")                                                    \
    X(CMP_RULE_SETTLEMENT_CURRENCY, 8, "settlement.currency")                                      \
    X(CMP_RULE_TRADING_HOURS, 9, "trading.hours")                                                  \
    X(CMP_RULE_SUPERVISION_LAG, 10, "supervision.lag")                                             \
    X(CMP_RULE_ACCOUNT_UNKNOWN, 11, "account.unknown")                                             \
    X(CMP_RULE_ACCOUNT_CLOSED, 12, "account.closed")                                               \
    X(CMP_RULE_ACCOUNT_FROZEN, 13, "account.frozen")                                               \
    X(CMP_RULE_ACCOUNT_DUPLICATE, 14, "account.duplicate")                                         \
    X(CMP_RULE_LIMIT_PARTICIPANTS, 15, "limit.participants")                                       \
    X(CMP_RULE_AML_SANCTIONED, 16, "aml.sanctioned")                                               \
    X(CMP_RULE_AML_SCREENING, 17, "aml.screening")                                                 \
    X(CMP_RULE_TRAVEL_RULE_MISSING, 18, "travel_rule.missing")                                     \
    X(CMP_RULE_KYC_COOLING_OFF, 19, "kyc.cooling_off")                                             \
    X(CMP_RULE_AMOUNT_OVERFLOW, 20, "amount.overflow")                                             \
    X(CMP_RULE_LIMIT_PER_TRADE, 21, "limit.per_trade")                                             \
    X(CMP_RULE_LIMIT_DAILY, 22, "limit.daily")                                                     \
    X(CMP_RULE_LIMIT_MONTHLY, 23, "limit.monthly")                                                 \
    X(CMP_RULE_LIMIT_EXCHANGE_DAILY, 24, "limit.exchange_daily")                                   \
    X(CMP_RULE_LIMIT_EXCHANGE_TOTAL, 25, "limit.exchange_total")                                   \
    X(CMP_RULE_LIMIT_HOLDING, 26, "limit.holding")                                                 \
    X(CMP_RULE_KYC_REFRESH_REQUIRED, 27, "kyc.refresh_required")                                   \
    X(CMP_RULE_BALANCE_INSUFFICIENT, 28, "balance.insufficient")                                   \
    X(CMP_RULE_DIRECTIVE_QUORUM, 29, "directive.quorum")                                           \
    X(CMP_RULE_DIRECTIVE_INVALID, 30, "directive.invalid")                                         \
    X(CMP_RULE_ATTESTATION_INVALID, 31, "attestation.invalid")                                     \
    X(CMP_RULE_PRICE_BAND, 32, "price.band")                                                       \
    X(CMP_RULE_PRICE_STALE, 33, "price.stale")                                                     \
    X(CMP_RULE_TIME_EXECUTED_AT, 34, "time.executed_at")                                           \
    X(CMP_RULE_SCREENING_MISSING, 35, "screening.missing")                                         \
    X(CMP_RULE_LICENCE_EXPIRED, 36, "licence.expired")                                             \
    X(CMP_RULE_LIABILITIES_MISMATCH, 37, "liabilities.mismatch")

#define CMP_ALERTS(X)                                                                              \
    X(CMP_ALERT_LARGE_VALUE, 1, "aml.large_value")                                                 \
    X(CMP_ALERT_STRUCTURING, 2, "aml.structuring")                                                 \
    X(CMP_ALERT_RAPID_IN_OUT, 3, "aml.rapid_in_out")                                               \
    X(CMP_ALERT_VELOCITY, 4, "aml.velocity")

enum cmp_rule { CMP_RULE_NONE = 0, CMP_RULES(CMP_ENUM_CONSTANT) };
enum cmp_alert_kind { CMP_ALERT_NONE = 0, CMP_ALERTS(CMP_ENUM_CONSTANT) };
#define CMP_RULE_MAX 37
#define CMP_ALERT_MAX 4

/* "limit.daily" for CMP_RULE_LIMIT_DAILY; NULL for an unknown number. */
const char *cmp_rule_name(int rule);
/* The number of a rule id, or -1. */
int cmp_rule_parse(const char *name);
/* "aml.large_value" for CMP_ALERT_LARGE_VALUE; NULL for an unknown number. */
const char *cmp_alert_name(int kind);
/* The number of an alert id, or -1. */
int cmp_alert_parse(const char *name);

#endif
