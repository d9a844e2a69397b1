/* compliance/ unit tests: the end of the licence. At licence.valid_to the licence winds down by
 * itself for licence.wind_down_days (withdrawals and account updates only, everything else
 * licence.expired), then everything is licence.expired; the status getlicence shows follows;
 * the licence dates change only through the licence directives; and the millisecond value of
 * valid_to for a licence ending on 2028-08-31 in UTC+7.
 */
#include "tests/unit/test_common.h"
#include "tests/unit/test_compliance.h"

#include <string.h>

#include "compliance/params.h"

void
test_licence_end_wind_down(void **state)
{
    struct fx *f = *state;
    int64_t end = VALID_TO + 90 * DAY_MS; /* licence.wind_down_days 90 */
    struct ledger_tx tx;

    fx_init(f, NULL);
    funded(f, "A", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 10 * M, 1 * M, T0);
    /* valid_to - 1 ms: in force */
    EXPECT_OK(trade(f, "A", HOUSE, 1000, VALID_TO - 1));
    EXPECT_OK(deposit(f, "A", "VND", 1000, VALID_TO - 1));
    assert_int_equal(cmp_engine_licence_status_at(f->e, VALID_TO - 1), CMP_LICENCE_ACTIVE);
    /* valid_to: wind-down; withdrawals and re-verification only */
    assert_int_equal(cmp_engine_licence_status_at(f->e, VALID_TO), CMP_LICENCE_WIND_DOWN);
    assert_int_equal(cmp_engine_licence_status(f->e), CMP_LICENCE_ACTIVE); /* as the directives */
    EXPECT_OK(withdraw(f, "A", "VND", 1000, VALID_TO));
    EXPECT_OK(run(f, mk_update(&tx, "A", 2, 0, VALID_TO)));
    EXPECT_REJ_FIGS(trade(f, "A", HOUSE, 1000, VALID_TO), CMP_RULE_LICENCE_EXPIRED, VALID_TO,
                    VALID_TO, 0);
    EXPECT_REJ(deposit(f, "A", "VND", 1000, VALID_TO), CMP_RULE_LICENCE_EXPIRED);
    EXPECT_REJ(open_acct(f, "B", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, VALID_TO),
               CMP_RULE_LICENCE_EXPIRED);
    /* the last ms of the wind-down */
    assert_int_equal(cmp_engine_licence_status_at(f->e, end - 1), CMP_LICENCE_WIND_DOWN);
    EXPECT_OK(withdraw(f, "A", "BTC", 1000, end - 1));
    EXPECT_REJ(trade(f, "A", HOUSE, 1000, end - 1), CMP_RULE_LICENCE_EXPIRED);
    /* the first ms after: nothing, with the end of the wind-down as the limit */
    assert_int_equal(cmp_engine_licence_status_at(f->e, end), CMP_LICENCE_EXPIRED);
    EXPECT_REJ_FIGS(withdraw(f, "A", "VND", 1000, end), CMP_RULE_LICENCE_EXPIRED, end, end, 0);
    EXPECT_REJ(run(f, mk_update(&tx, "A", 1, 0, end)), CMP_RULE_LICENCE_EXPIRED);
    /* directives still pass: the regulator acts at any time, and an extension reopens it */
    mk_dir(&tx, LEDGER_DIR_LICENCE_EXTEND, KEY_REG, NULL, end);
    tx.u.directive.value = end + DAY_MS;
    EXPECT_OK(directive(f, &tx));
    assert_int_equal(cmp_engine_licence_status_at(f->e, end), CMP_LICENCE_ACTIVE);
    EXPECT_OK(trade(f, "A", HOUSE, 1000, end));
    /* a suspension holds in the wind-down; after it, expired */
    EXPECT_OK(run(f, mk_dir(&tx, LEDGER_DIR_LICENCE_SUSPEND, KEY_REG, NULL, end)));
    assert_int_equal(cmp_engine_licence_status_at(f->e, end + DAY_MS), CMP_LICENCE_SUSPENDED);
    EXPECT_REJ(withdraw(f, "A", "VND", 1000, end + DAY_MS), CMP_RULE_LICENCE_STATUS);
    assert_int_equal(cmp_engine_licence_status_at(f->e, end + DAY_MS + 90 * DAY_MS),
                     CMP_LICENCE_EXPIRED);
    EXPECT_OK(run(f, mk_dir(&tx, LEDGER_DIR_LICENCE_REINSTATE, KEY_REG, NULL, end)));
    /* a revoked licence stays revoked */
    EXPECT_OK(run(f, mk_dir(&tx, LEDGER_DIR_LICENCE_REVOKE, KEY_REG, NULL, end + 1)));
    assert_int_equal(cmp_engine_licence_status_at(f->e, end + 2 * DAY_MS), CMP_LICENCE_REVOKED);
}

/* licence.wind_down_days 0: valid_to ends everything at once. */
static void
no_wind_down(struct fx *f)
{
    fx_release(f);
    fx_init(f, "\"licence.wind_down_days\":0");
    funded(f, "A", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 10 * M, 0, T0);
    EXPECT_OK(withdraw(f, "A", "VND", 1000, VALID_TO - 1));
    EXPECT_REJ_FIGS(withdraw(f, "A", "VND", 1000, VALID_TO), CMP_RULE_LICENCE_EXPIRED, VALID_TO,
                    VALID_TO, 0);
}

void
test_licence_dates_not_by_set_param(void **state)
{
    static const char *const names[] = {"licence.valid_from", "licence.valid_to"};
    struct fx *f = *state;
    struct ledger_tx tx;

    fx_init(f, NULL);
    for (size_t i = 0; i < 2; i++) {
        mk_dir(&tx, LEDGER_DIR_SET_PARAM, KEY_REG, NULL, T0);
        cpy(tx.u.directive.name, sizeof(tx.u.directive.name), names[i]);
        tx.u.directive.value = VALID_TO + DAY_MS;
        EXPECT_REJ(directive(f, &tx), CMP_RULE_DIRECTIVE_INVALID);
        assert_non_null(strstr(f->res.message, names[i]));
    }
    assert_int_equal(cmp_engine_params(f->e)->v[CMP_P_VALID_TO], VALID_TO);
    assert_int_equal(cmp_engine_params(f->e)->v[CMP_P_VALID_FROM], VALID_FROM);
    /* the wind-down's length is a parameter like the others */
    mk_dir(&tx, LEDGER_DIR_SET_PARAM, KEY_REG, NULL, T0);
    cpy(tx.u.directive.name, sizeof(tx.u.directive.name), "licence.wind_down_days");
    tx.u.directive.value = 30;
    EXPECT_OK(directive(f, &tx));
    assert_int_equal(cmp_engine_licence_status_at(f->e, VALID_TO + 30 * DAY_MS - 1),
                     CMP_LICENCE_WIND_DOWN);
    assert_int_equal(cmp_engine_licence_status_at(f->e, VALID_TO + 30 * DAY_MS),
                     CMP_LICENCE_EXPIRED);
    no_wind_down(f);
}

/* A licence "valid to 2028-08-31" in UTC+7 ends at 2028-09-01T00:00:00+07:00, that is
 * 2028-08-31T17:00:00Z = 1,851,354,000,000 ms (doc/compliance.md quotes this number). */
void
test_licence_valid_to_2028(void **state)
{
    (void)state;
    assert_int_equal(VALID_TO, INT64_C(1851354000000));
    assert_int_equal(local_ms(2028, 8, 31, 23, 59, 59, 999), INT64_C(1851353999999));
    assert_int_equal(VALID_FROM, INT64_C(1756659600000)); /* 2025-09-01T00:00:00+07:00 */
}
