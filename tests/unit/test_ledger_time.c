/* Unit tests of the time bound of ledger/: every time a transaction or a block carries (a
 * transaction's timestamp, a trade's executed_at, a licence_extend's new valid_to, a block's
 * time_ms) is refused from 2200-01-01T00:00:00Z (LEDGER_TIME_END) on and below zero, by the
 * stateless check, the encoder and the decoder; the last millisecond before is accepted.
 */
#include "tests/unit/test_common.h"
#include "tests/unit/test_ledger.h"
#include "tests/unit/test_ledger_chainbuild.h"
#include "tests/unit/test_ledger_txbuild.h"

#include <stdlib.h>
#include <string.h>

#define LAST_MS (LEDGER_TIME_END - 1) /* 2199-12-31T23:59:59.999Z */

static int
group_setup(void **state)
{
    int rc = txbuild_group_setup(state);

    return rc ? rc : chainbuild_group_setup(state);
}

static int
group_teardown(void **state)
{
    int rc = txbuild_group_teardown(state);

    return rc ? rc : chainbuild_group_teardown(state);
}

/* Replace the only big-endian occurrence of `from` in `b` by `to`. */
static void
patch_i64(struct buf *b, int64_t from, int64_t to)
{
    uint8_t f[8], t[8];
    size_t hits = 0, at = 0;

    buf_store_u64(f, (uint64_t)from);
    buf_store_u64(t, (uint64_t)to);
    for (size_t i = 0; i + 8 <= b->len; i++) {
        if (memcmp(b->data + i, f, 8) == 0) {
            hits++;
            at = i;
        }
    }
    assert_int_equal(hits, 1);
    memcpy(b->data + at, t, 8);
}

/* `tx` (unsigned) with *field = LAST_MS is valid and round-trips; LEDGER_TIME_END and -1 are
 * refused by the check and the encoder, and LEDGER_TIME_END by the decoder, naming `name`. */
static void
check_time_field(struct ledger_tx *tx, int64_t *field, const struct ledger_key *k, const char *name)
{
    struct buf b;

    *field = LAST_MS;
    sign_and_check(tx, k);
    signed_encoding(tx, &b);
    patch_i64(&b, LAST_MS, LEDGER_TIME_END);
    expect_decode_rc(b.data, b.len, SBX_EINVAL, name);
    buf_release(&b);
    *field = LEDGER_TIME_END;
    expect_refused(tx, SBX_EINVAL, name);
    *field = -1;
    expect_refused(tx, SBX_EINVAL, name);
}

static void
test_tx_timestamp(void **state)
{
    struct ledger_tx tx;

    (void)state;
    make_trade(&tx, 0);
    check_time_field(&tx, &tx.timestamp, OP, "tx.timestamp");
    make_account_open(&tx, 0);
    check_time_field(&tx, &tx.timestamp, OP, "tx.timestamp");
    make_attestation(&tx);
    check_time_field(&tx, &tx.timestamp, REG(0), "tx.timestamp");
}

static void
test_trade_executed_at(void **state)
{
    struct ledger_tx tx;

    (void)state;
    make_trade(&tx, 0);
    check_time_field(&tx, &tx.u.trade.executed_at, OP, "trade.executed_at");
}

static void
test_licence_extend_valid_to(void **state)
{
    struct ledger_tx tx;

    (void)state;
    make_directive(&tx, LEDGER_DIR_LICENCE_EXTEND, 0);
    check_time_field(&tx, &tx.u.directive.value, REG(0), "directive.value");
}

static void
test_block_time(void **state)
{
    static const uint8_t zero[32];
    struct ledger_block b;
    struct sbx_err err;
    struct tblock t;
    struct buf out;
    uint8_t *p;

    (void)state;
    tblock_build(&t, 2, 1, zero, zero, 5);
    p = malloc(t.enc.len);
    assert_non_null(p);
    for (int k = 0; k < 3; k++) {
        int64_t ms = k == 0 ? LAST_MS : k == 1 ? LEDGER_TIME_END : -1;

        memcpy(p, t.enc.data, t.enc.len);
        buf_store_u64(p + OFF_TIME, (uint64_t)ms);
        sbx_err_clear(&err);
        assert_int_equal(ledger_block_decode(&b, p, t.enc.len, &err), k ? SBX_EINVAL : SBX_OK);
        if (k == 0) {
            assert_true(b.hdr.time_ms == LAST_MS);
            ledger_block_release(&b);
        } else {
            assert_non_null(strstr(err.msg, "time_ms"));
        }
        assert_int_equal(ledger_block_header_decode(&b.hdr, p, LEDGER_HEADER_SIZE, &err),
                         k ? SBX_EINVAL : SBX_OK);
        /* the encoder never makes what the decoder refuses */
        t.b.hdr.time_ms = ms;
        buf_init(&out, LEDGER_BLOCK_MAX_SIZE);
        assert_int_equal(ledger_block_encode(&t.b, &out, NULL), k ? SBX_EINVAL : SBX_OK);
        buf_release(&out);
    }
    free(p);
    tblock_free(&t);
}

int
test_ledger_time_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tx_timestamp),
        cmocka_unit_test(test_trade_executed_at),
        cmocka_unit_test(test_licence_extend_valid_to),
        cmocka_unit_test(test_block_time),
    };

    return cmocka_run_group_tests_name("ledger_time", tests, group_setup, group_teardown);
}
