/* Unit tests of compliance/names.c: every enum text of compliance/ round-trips through its name
 * and parse functions, and unknown numbers and texts are refused (listed in test_compliance.c).
 */
#include "tests/unit/test_common.h"
#include "tests/unit/test_compliance.h"

#include <string.h>

#include "compliance/engine.h"
#include "compliance/rules.h"

void
test_licence_status_names(void **state)
{
    (void)state;
    for (int s = CMP_LICENCE_ACTIVE; s <= CMP_LICENCE_EXPIRED; s++) {
        const char *n = cmp_licence_status_name(s);

        assert_non_null(n);
        assert_int_equal(cmp_licence_status_parse(n), s);
    }
    assert_string_equal(cmp_licence_status_name(CMP_LICENCE_ACTIVE), "active");
    assert_string_equal(cmp_licence_status_name(CMP_LICENCE_WIND_DOWN), "wind_down");
    assert_string_equal(cmp_licence_status_name(CMP_LICENCE_EXPIRED), "expired");
    assert_null(cmp_licence_status_name(0));
    assert_null(cmp_licence_status_name(CMP_LICENCE_EXPIRED + 1));
    assert_int_equal(cmp_licence_status_parse("Active"), -1);
    assert_int_equal(cmp_licence_status_parse(""), -1);
}

void
test_alert_names(void **state)
{
    (void)state;
    assert_string_equal(cmp_alert_name(CMP_ALERT_RAPID_IN_OUT), "aml.rapid_in_out");
    assert_null(cmp_alert_name(0));
    assert_int_equal(cmp_alert_parse("aml.nope"), -1);
    /* a rule id is not an alert id, and the reverse */
    assert_int_equal(cmp_alert_parse("limit.daily"), -1);
    assert_int_equal(cmp_rule_parse("aml.velocity"), -1);
}
