/* The compliance/ unit test binary: every rule at its edges, alerts, directives, determinism
 * of the state digest and persistence through the store. The tests are in
 * test_compliance_{market,limits,aml,state,prices,time,names}.c, their fixture in
 * test_compliance_fx.c.
 */
#include "tests/unit/test_common.h"
#include "tests/unit/test_compliance.h"

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_rule_names),
        cmocka_unit_test(test_licence_status_names),
        cmocka_unit_test(test_alert_names),
        T(test_params_licence),
        T(test_licence_window),
        cmocka_unit_test(test_licence_file_complete),
        cmocka_unit_test(test_licence_file_refused),
        cmocka_unit_test(test_licence_file_read),
        T(test_auth_signer),
        T(test_accounts),
        T(test_participants_house_last),
        T(test_halts),
        T(test_licence_status),
        T(test_trading_hours),
        T(test_settlement_currency),
        T(test_per_trade_tiers),
        T(test_foreign_factor),
        T(test_daily_midnight),
        T(test_monthly_boundary),
        T(test_holding),
        T(test_exchange_limits),
        T(test_set_param),
        T(test_frozen),
        T(test_balance),
        T(test_self_trade_fees),
        T(test_cooling_off),
        T(test_id_duplicate),
        T(test_amount_overflow),
        T(test_travel_rule),
        T(test_sanctions),
        T(test_screening),
        T(test_structuring_large_value),
        T(test_rapid_in_out),
        T(test_velocity),
        T(test_dormant),
        T(test_directive_quorum),
        T(test_attestation),
        T(test_supervision_lag),
        T(test_executed_at),
        T(test_executed_at_params),
        T(test_executed_at_before_hours),
        T(test_trading_hours_executed_at),
        T(test_evaluate_is_pure),
        T(test_determinism),
        T(test_persistence),
        T(test_liabilities),
        T(test_price_band),
        T(test_price_band_follows_directive),
        T(test_price_stale),
        T(test_screening_required),
        T(test_screening_withdrawal_edges),
        T(test_travel_rule_by_address),
        T(test_address_records_persist),
        T(test_large_value_fiat_day),
        T(test_licence_end_wind_down),
        T(test_licence_dates_not_by_set_param),
        T(test_licence_valid_to_2028),
        T(test_every_rule_produced), /* last: reads what the others produced */
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
