/* ledger/ unit tests: exact amounts, notional arithmetic at the int64 edges, account state. */
#include "tests/unit/test_common.h"
#include "tests/unit/test_ledger.h"

#include <stdio.h>
#include <string.h>

#include "ledger/amount.h"
#include "ledger/changes.h"
#include "ledger/state.h"
#include "ledger/store.h"

static void
test_amount_parse(void **state)
{
    struct sbx_err e;
    int64_t v;

    (void)state;
    assert_int_equal(ledger_amount_parse("0.015", 8, &v, "quantity", &e), SBX_OK);
    assert_int_equal(v, 1500000);
    assert_int_equal(ledger_amount_parse("2450000000", 0, &v, "price", &e), SBX_OK);
    assert_int_equal(v, 2450000000);
    assert_int_equal(ledger_amount_parse("0", 0, &v, "fee", &e), SBX_OK);
    assert_int_equal(v, 0);
    assert_int_equal(ledger_amount_parse("1.00000000", 8, &v, "quantity", &e), SBX_OK);
    assert_int_equal(v, 100000000);
    /* exactly INT64_MAX base units, and one more */
    assert_int_equal(ledger_amount_parse("92233720368.54775807", 8, &v, "quantity", &e), SBX_OK);
    assert_int_equal(v, INT64_MAX);
    assert_int_equal(ledger_amount_parse("92233720368.54775808", 8, &v, "quantity", &e),
                     SBX_EOVERFLOW);
    assert_int_equal(ledger_amount_parse("9223372036854775807", 0, &v, "amount", &e), SBX_OK);
    assert_int_equal(ledger_amount_parse("9223372036854775808", 0, &v, "amount", &e),
                     SBX_EOVERFLOW);
    assert_int_equal(ledger_amount_parse("99999999999999999999999", 0, &v, "amount", &e),
                     SBX_EOVERFLOW);
    /* too many decimals, signs, exponents, floats, spaces, leading zeros: refused, field named */
    assert_int_equal(ledger_amount_parse("0.123456789", 8, &v, "quantity", &e), SBX_EINVAL);
    assert_non_null(strstr(e.msg, "quantity"));
    assert_int_equal(ledger_amount_parse("1.5", 0, &v, "amount", &e), SBX_EINVAL);
    const char *bad[] = {"-1", "+1",   "1e5", "1E5",  " 1",    "1 ",  "",   ".5",
                         "5.", "1..2", "01",  "0x10", "1,000", "NaN", "inf"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(ledger_amount_parse(bad[i], 8, &v, "amount", &e), SBX_EINVAL);
        assert_int_equal(v, 0);
    }
}

static void
test_amount_format(void **state)
{
    char s[LEDGER_AMOUNT_STR_MAX];

    (void)state;
    ledger_amount_format(s, 1500000, 8);
    assert_string_equal(s, "0.01500000");
    ledger_amount_format(s, 2450000000, 0);
    assert_string_equal(s, "2450000000");
    ledger_amount_format(s, INT64_MAX, 8);
    assert_string_equal(s, "92233720368.54775807");
    ledger_amount_format(s, -5, 2);
    assert_string_equal(s, "-0.05");
}

static void
test_notional_edges(void **state)
{
    int64_t n;

    (void)state;
    /* 0.015 BTC at 2,450,000,000 VND = 36,750,000 VND */
    assert_int_equal(ledger_notional(1500000, 2450000000, 8, &n), SBX_OK);
    assert_int_equal(n, 36750000);
    /* rounds down: 1 satoshi at 99 VND/BTC = 0.00000099 VND -> 0 */
    assert_int_equal(ledger_notional(1, 99, 8, &n), SBX_OK);
    assert_int_equal(n, 0);
    assert_int_equal(ledger_notional(3, 33333333, 8, &n), SBX_OK);
    assert_int_equal(n, 0);
    assert_int_equal(ledger_notional(300000000, 33333333, 8, &n), SBX_OK);
    assert_int_equal(n, 99999999);
    /* the product overflows 64 bits but the quotient fits: 128-bit intermediate */
    assert_int_equal(ledger_notional(INT64_MAX, 100000000, 8, &n), SBX_OK);
    assert_int_equal(n, INT64_MAX);
    assert_int_equal(ledger_notional(INT64_MAX, 1000000000, 18, &n), SBX_OK);
    assert_int_equal(n, INT64_MAX / 1000000000);
    assert_int_equal(ledger_notional(INT64_MAX, INT64_MAX, 18, &n), SBX_EOVERFLOW);
    /* the quotient does not fit */
    assert_int_equal(ledger_notional(INT64_MAX, 100000001, 8, &n), SBX_EOVERFLOW);
    assert_int_equal(ledger_notional(INT64_MAX, 2, 0, &n), SBX_EOVERFLOW);
    assert_int_equal(ledger_notional(INT64_MAX, 1, 0, &n), SBX_OK);
    assert_int_equal(n, INT64_MAX);
    /* negative inputs are refused */
    assert_int_equal(ledger_notional(-1, 1, 0, &n), SBX_EINVAL);
    /* checked add/sub */
    assert_int_equal(ledger_add(INT64_MAX, 1, &n), SBX_EOVERFLOW);
    assert_int_equal(ledger_add(INT64_MAX - 1, 1, &n), SBX_OK);
    assert_int_equal(n, INT64_MAX);
    assert_int_equal(ledger_sub(INT64_MIN, 1, &n), SBX_EOVERFLOW);
}

static const struct ledger_asset_def assets[] = {{"VND", 0}, {"BTC", 8}, {"ETH", 8}};

static struct ledger_account
make_account(const char *id)
{
    struct ledger_account a;

    memset(&a, 0, sizeof(a));
    snprintf(a.id, sizeof(a.id), "%s", id);
    a.kyc_tier = 2;
    a.investor_class = LEDGER_CLASS_FOREIGN_ORG;
    a.status = LEDGER_ACCOUNT_ACTIVE;
    memcpy(a.country, "VN", 3);
    memset(a.kyc_ref, 0xab, 32);
    memset(a.bank_ref, 0xcd, 32);
    a.opened_ms = 1764000000000;
    return a;
}

static void
test_account_record(void **state)
{
    struct ledger_account a = make_account("alice"), b;
    uint8_t rec[512];
    size_t len;
    struct sbx_err e;

    (void)state;
    a.balance[0] = 123456789;
    a.balance[2] = INT64_MAX;
    a.frozen = 1;
    assert_int_equal(ledger_account_encode(&a, 3, rec, sizeof(rec), &len), SBX_OK);
    assert_int_equal(ledger_account_decode(&b, 3, rec, len, &e), SBX_OK);
    assert_string_equal(b.id, "alice");
    assert_int_equal(b.balance[0], 123456789);
    assert_int_equal(b.balance[2], INT64_MAX);
    assert_int_equal(b.frozen, 1);
    assert_int_equal(b.investor_class, LEDGER_CLASS_FOREIGN_ORG);
    assert_memory_equal(b.kyc_ref, a.kyc_ref, 32);
    /* truncated anywhere, trailing byte, wrong asset count: refused as corrupt */
    for (size_t i = 0; i < len; i++)
        assert_int_equal(ledger_account_decode(&b, 3, rec, i, &e), SBX_ECORRUPT);
    rec[len] = 0;
    assert_int_equal(ledger_account_decode(&b, 3, rec, len + 1, &e), SBX_ECORRUPT);
    assert_int_equal(ledger_account_decode(&b, 2, rec, len, &e), SBX_ECORRUPT);
    /* an id holding a NUL or a space (found by tests/fuzz/fuzz_state): it would load under
     * another id than its key's, and not encode again */
    rec[2] = '\0';
    assert_int_equal(ledger_account_decode(&b, 3, rec, len, &e), SBX_ECORRUPT);
    rec[2] = 'a';
    rec[4] = '\0';
    assert_int_equal(ledger_account_decode(&b, 3, rec, len, &e), SBX_ECORRUPT);
    rec[4] = ' ';
    assert_int_equal(ledger_account_decode(&b, 3, rec, len, &e), SBX_ECORRUPT);
    rec[4] = 'i';
    assert_int_equal(ledger_account_decode(&b, 3, rec, len, &e), SBX_OK);
}

static void
test_state_balances(void **state)
{
    struct ledger_state *st = ledger_state_new(assets, 3, NULL);
    struct ledger_account a = make_account("alice"), *m;

    (void)state;
    assert_non_null(st);
    assert_int_equal(ledger_state_asset_index(st, "BTC"), 1);
    assert_int_equal(ledger_state_asset_index(st, "DOGE"), -1);
    assert_int_equal(ledger_state_add(st, &a), SBX_OK);
    assert_int_equal(ledger_state_add(st, &a), SBX_ECONFLICT);
    assert_null(ledger_state_get(st, "bob"));
    m = ledger_state_get_mut(st, "alice");
    assert_non_null(m);
    assert_int_equal(ledger_state_credit(m, 1, 100), SBX_OK);
    /* exactly the balance can be debited; one unit more is refused and changes nothing */
    assert_int_equal(ledger_state_debit(m, 1, 101), SBX_EINVAL);
    assert_int_equal(m->balance[1], 100);
    assert_int_equal(ledger_state_debit(m, 1, 100), SBX_OK);
    assert_int_equal(m->balance[1], 0);
    assert_int_equal(ledger_state_debit(m, 1, 1), SBX_EINVAL);
    assert_int_equal(ledger_state_credit(m, 0, INT64_MAX), SBX_OK);
    assert_int_equal(ledger_state_credit(m, 0, 1), SBX_EOVERFLOW);
    assert_int_equal(m->balance[0], INT64_MAX);
    assert_int_equal(ledger_state_credit(m, 0, -1), SBX_EINVAL);
    ledger_state_free(st);
}

static int
collect_ids(void *ctx, const struct ledger_account *a)
{
    char *out = ctx;
    size_t n = strlen(out);

    snprintf(out + n, 64 - n, "%s,", a->id);
    return 0;
}

static void
test_state_collect_sorted(void **state)
{
    struct ledger_state *st = ledger_state_new(assets, 3, NULL);
    const char *ids[] = {"zeta", "alpha", "mike", "bravo"};
    struct ledger_changes c;
    char order[64] = "";

    (void)state;
    ledger_changes_init(&c);
    for (size_t i = 0; i < 4; i++) {
        struct ledger_account a = make_account(ids[i]);

        assert_int_equal(ledger_state_add(st, &a), SBX_OK);
    }
    assert_int_equal(ledger_state_count(st), 4);
    assert_int_equal(ledger_state_count_active(st), 4);
    assert_int_equal(ledger_state_collect(st, &c), SBX_OK);
    assert_int_equal(c.n, 4);
    /* nothing dirty any more: a second collect adds nothing */
    ledger_changes_reset(&c);
    assert_int_equal(ledger_state_collect(st, &c), SBX_OK);
    assert_int_equal(c.n, 0);
    /* one change, one record; reads do not dirty */
    assert_non_null(ledger_state_get(st, "mike"));
    ledger_state_set_status(st, ledger_state_get_mut(st, "mike"), LEDGER_ACCOUNT_CLOSED);
    assert_int_equal(ledger_state_count_active(st), 3); /* at once, not at collect */
    assert_int_equal(ledger_state_collect(st, &c), SBX_OK);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.v[0].key[0], LEDGER_K_ACCOUNT);
    assert_memory_equal(c.v[0].key + 1, "mike", 4);
    assert_int_equal(ledger_state_count_active(st), 3);
    assert_int_equal(ledger_state_foreach_sorted(st, collect_ids, order), SBX_OK);
    assert_string_equal(order, "alpha,bravo,mike,zeta,");
    ledger_changes_release(&c);
    ledger_state_free(st);
}

int
test_ledger_state_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_amount_parse),   cmocka_unit_test(test_amount_format),
        cmocka_unit_test(test_notional_edges), cmocka_unit_test(test_account_record),
        cmocka_unit_test(test_state_balances), cmocka_unit_test(test_state_collect_sorted),
    };

    return cmocka_run_group_tests_name("ledger_state", tests, NULL, NULL);
}
