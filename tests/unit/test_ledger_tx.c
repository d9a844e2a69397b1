/* Unit tests for ledger/tx.c: canonical encoding of every transaction type (round trips at the
 * shortest and the longest, the byte layout of one trade) and the names of its enums.
 * The decoder's refusals are in test_ledger_txreject.c, signatures and key files in
 * test_ledger_keys.c; the builders they share in test_ledger_txbuild.c.
 */
#include "tests/unit/test_common.h"
#include "tests/unit/test_ledger.h"
#include "tests/unit/test_ledger_txbuild.h"

#include <string.h>

#include "util/sha256.h"

/* ---- round trips -------------------------------------------------------------------------- */

static void
test_roundtrip_genesis(void **state)
{
    struct ledger_tx tx;

    (void)state;
    for (int max = 0; max <= 1; max++) {
        make_genesis(&tx, max);
        sign_and_check(&tx, OP);
        ledger_tx_release(&tx);
        assert_null(tx.u.genesis.licence_json);
        ledger_tx_release(&tx); /* twice is harmless */
    }
}

static void
test_roundtrip_accounts(void **state)
{
    static const uint8_t upd[][2] = {{1, 0}, {0, LEDGER_ACCOUNT_CLOSED}, {3, 1}};
    struct ledger_tx tx;

    (void)state;
    for (int max = 0; max <= 1; max++) {
        make_account_open(&tx, max);
        sign_and_check(&tx, OP);
    }
    for (size_t i = 0; i < SBX_ARRAY_LEN(upd); i++) {
        make_account_update(&tx, upd[i][0], upd[i][1]);
        sign_and_check(&tx, OP);
    }
}

static void
test_roundtrip_transfers(void **state)
{
    struct ledger_tx tx;

    (void)state;
    for (int which = 0; which < 8; which++) {
        make_transfer(&tx, (which & 1) ? LEDGER_TX_WITHDRAWAL : LEDGER_TX_DEPOSIT, which);
        sign_and_check(&tx, OP);
        make_transfer(&tx, (which & 1) ? LEDGER_TX_DEPOSIT : LEDGER_TX_WITHDRAWAL, which);
        sign_and_check(&tx, OP);
    }
}

static void
test_roundtrip_trade(void **state)
{
    struct ledger_tx tx;

    (void)state;
    for (int max = 0; max <= 1; max++) {
        make_trade(&tx, max);
        sign_and_check(&tx, OP);
    }
}

static void
test_roundtrip_directives(void **state)
{
    struct ledger_tx tx;
    struct sbx_err err;

    (void)state;
    for (int kind = 1; kind <= LEDGER_DIR_KIND_MAX; kind++) {
        for (int max = 0; max <= 1; max++) {
            make_directive(&tx, kind, max);
            sign_and_check(&tx, REG(0));
            sbx_err_clear(&err);
            assert_int_equal(ledger_tx_cosign(&tx, REG(1), &err), SBX_OK);
            assert_int_equal(ledger_tx_cosign(&tx, REG(2), &err), SBX_OK);
            assert_int_equal(tx.u.directive.ncosig, 2);
            check_encoding(&tx);
        }
    }
    /* the most cosignatures there can be */
    make_directive(&tx, LEDGER_DIR_LICENCE_REVOKE, 1);
    sign(&tx, REG(0));
    for (int i = 0; i < SBX_MAX_COSIGS; i++)
        assert_int_equal(ledger_tx_cosign(&tx, &g_keys[2 + i], NULL), SBX_OK);
    assert_int_equal(ledger_tx_cosign(&tx, &g_keys[2 + SBX_MAX_COSIGS], &err), SBX_ETOOLONG);
    check_encoding(&tx);
}

static void
test_roundtrip_attestation(void **state)
{
    struct ledger_tx tx;

    (void)state;
    make_attestation(&tx);
    sign_and_check(&tx, REG(0));
}

/* The layout, byte for byte, for one trade (pins the field order and integer widths). */
static void
test_encoding_layout(void **state)
{
    static const char want_hex[] =
        "02"                                                               /* version */
        "05"                                                               /* type */
        "00"                                                               /* auth */
        "f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9" /* signer */
        "0000018bcfe56800"                                                 /* timestamp */
        "027431"                                                           /* "t1" */
        "05616c696365"                                                     /* "alice" */
        "03626f62"                                                         /* "bob" */
        "03425443"                                                         /* "BTC" */
        "0000000008f0d180"                                                 /* quantity */
        "0000000092080880"                                                 /* price */
        "00000000000003e8"                                                 /* fee_buyer */
        "0000000000000000"                                                 /* fee_seller */
        "0000018bcfe56800"                                                 /* executed_at */
        "00"                                                               /* buyer_order */
        "036f2d39";                                                        /* seller_order */
    uint8_t want[sizeof(want_hex) / 2], id[32], ref[32];
    struct ledger_tx tx;
    struct buf b;

    (void)state;
    unhex(want, sizeof(want), want_hex);
    make_trade(&tx, 0);
    unhex(tx.signer, 32, "f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9");
    buf_init(&b, SBX_TX_MAX_SIZE);
    assert_int_equal(ledger_tx_encode_unsigned(&tx, &b, NULL), SBX_OK);
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));
    assert_int_equal(ledger_tx_id(&tx, id, NULL), SBX_OK);
    sha256_tagged_slow(ref, "sbx/tx", want, sizeof(want));
    assert_memory_equal(id, ref, 32);
    buf_release(&b);
}

/* ---- names -------------------------------------------------------------------------------- */

static void
test_names(void **state)
{
    (void)state;
    assert_string_equal(ledger_tx_type_name(LEDGER_TX_GENESIS), "genesis");
    assert_string_equal(ledger_tx_type_name(LEDGER_TX_ACCOUNT_UPDATE), "account_update");
    assert_string_equal(ledger_tx_type_name(LEDGER_TX_ATTESTATION), "attestation");
    assert_null(ledger_tx_type_name(LEDGER_TX_TYPE_MAX + 1));
    assert_null(ledger_tx_type_name(-1));

    for (int i = 1; i <= 4; i++)
        assert_int_equal(ledger_investor_class_parse(ledger_investor_class_name(i)), i);
    assert_string_equal(ledger_investor_class_name(LEDGER_CLASS_FOREIGN_ORG), "foreign_org");
    assert_null(ledger_investor_class_name(0));
    assert_null(ledger_investor_class_name(5));
    assert_int_equal(ledger_investor_class_parse("domestic"), -1);
    assert_int_equal(ledger_investor_class_parse(""), -1);
    assert_int_equal(ledger_investor_class_parse(NULL), -1);

    for (int i = 1; i <= LEDGER_DIR_KIND_MAX; i++)
        assert_int_equal(ledger_directive_kind_parse(ledger_directive_kind_name(i)), i);
    assert_string_equal(ledger_directive_kind_name(LEDGER_DIR_LICENCE_WIND_DOWN),
                        "licence_wind_down");
    assert_int_equal(ledger_directive_kind_parse("sanction_remove"), LEDGER_DIR_SANCTION_REMOVE);
    assert_null(ledger_directive_kind_name(0));
    assert_null(ledger_directive_kind_name(LEDGER_DIR_KIND_MAX + 1));
    assert_int_equal(ledger_directive_kind_parse("HALT"), -1);

    for (int i = 1; i <= 3; i++) {
        assert_int_equal(ledger_travel_protocol_parse(ledger_travel_protocol_name(i)), i);
        assert_int_equal(ledger_travel_status_parse(ledger_travel_status_name(i)), i);
    }
    assert_string_equal(ledger_travel_protocol_name(LEDGER_TRAVEL_TRP), "trp");
    assert_string_equal(ledger_travel_status_name(LEDGER_TRAVEL_PENDING), "pending");
    assert_null(ledger_travel_protocol_name(4));
    assert_int_equal(ledger_travel_status_parse("ok"), -1);

    assert_string_equal(ledger_account_status_name(LEDGER_ACCOUNT_CLOSED), "closed");
    assert_int_equal(ledger_account_status_parse("active"), LEDGER_ACCOUNT_ACTIVE);
    assert_null(ledger_account_status_name(0));
    assert_int_equal(ledger_account_status_parse("frozen"), -1);

    assert_true(ledger_id_valid("a", 1));
    assert_false(ledger_id_valid("ab", 1));
    assert_false(ledger_id_valid("", 8));
    assert_false(ledger_id_valid("a b", 8));
    assert_false(ledger_id_valid("a\x80", 8));
    assert_true(ledger_id_valid("!~", 8));
}

int
test_ledger_tx_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_genesis),    cmocka_unit_test(test_roundtrip_accounts),
        cmocka_unit_test(test_roundtrip_transfers),  cmocka_unit_test(test_roundtrip_trade),
        cmocka_unit_test(test_roundtrip_directives), cmocka_unit_test(test_roundtrip_attestation),
        cmocka_unit_test(test_encoding_layout),      cmocka_unit_test(test_names),
    };

    return cmocka_run_group_tests_name("ledger_tx", tests, txbuild_group_setup,
                                       txbuild_group_teardown);
}
