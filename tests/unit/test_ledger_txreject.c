/* Unit tests for ledger/tx.c: each refusal of the stateless check, the encoder and the decoder
 * (header, strings and free text, enums, fields a type does not use, amounts, genesis), each
 * checked for its code and for the field its message names.
 */
#include "tests/unit/test_common.h"
#include "tests/unit/test_ledger.h"
#include "tests/unit/test_ledger_txbuild.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* One field of a fresh, signed transaction set to a value it may not have, and the refusal. */
struct field_case {
    int kind;         /* for a directive: its kind */
    size_t off, size; /* the field in struct ledger_tx */
    const char *text; /* a string field's value; NULL: an int64_t field gets `value` */
    int64_t value;
    int code;
    const char *names; /* what the refusal must name */
};
#define TEXT_CASE(kind, m, s, code, names)                                                         \
    {                                                                                              \
        (kind), offsetof(struct ledger_tx, m), sizeof(((struct ledger_tx *)0)->m), (s), 0, (code), \
            (names)                                                                                \
    }
#define INT_CASE(kind, m, v, code, names)                                                          \
    {                                                                                              \
        (kind), offsetof(struct ledger_tx, m), sizeof(int64_t), NULL, (v), (code), (names)         \
    }

/* Make a trade (a directive of c->kind if `directive`), sign it, set the field, and expect the
 * refusal. */
static void
expect_field_refused(const struct field_case *c, int directive)
{
    struct ledger_tx tx;
    uint8_t *field = (uint8_t *)&tx + c->off;

    if (directive)
        make_directive(&tx, c->kind, 0);
    else
        make_trade(&tx, 0);
    sign(&tx, directive ? REG(0) : OP);
    if (c->text != NULL)
        snprintf((char *)field, c->size, "%s", c->text);
    else
        memcpy(field, &c->value, sizeof(c->value));
    expect_refused(&tx, c->code, c->names);
}

static void
test_reject_header(void **state)
{
    struct ledger_tx tx;
    struct buf b;
    uint8_t *p;

    (void)state;
    make_trade(&tx, 0);
    signed_encoding(&tx, &b);
    p = b.data;

    expect_decode_rc(p, 0, SBX_ETRUNCATED, "version");
    p[0] = LEDGER_TX_VERSION + 1;
    expect_decode_rc(p, b.len, SBX_EVERSION, "version");
    p[0] = 0;
    expect_decode_rc(p, b.len, SBX_EVERSION, "version");
    p[0] = LEDGER_TX_VERSION;
    p[1] = 99;
    expect_decode_rc(p, b.len, SBX_ETYPE, "type");
    p[1] = LEDGER_TX_TYPE_MAX + 1;
    expect_decode_rc(p, b.len, SBX_ETYPE, "type");
    p[1] = LEDGER_TX_TRADE;
    p[2] = LEDGER_TX_AUTH_MAX + 1;
    expect_decode_rc(p, b.len, SBX_ETYPE, "tx.auth");
    p[2] = 0xff;
    expect_decode_rc(p, b.len, SBX_ETYPE, "tx.auth");
    p[2] = LEDGER_TX_AUTH_SIG;
    memset(p + 3, 0xff, 32); /* x >= p: not on the curve */
    expect_decode_rc(p, b.len, SBX_EPUBKEY, "signer");
    memset(p + 3, 0, 32);
    expect_decode_rc(p, b.len, SBX_EPUBKEY, "signer");
    buf_release(&b);

    make_trade(&tx, 0);
    tx.version = LEDGER_TX_VERSION + 1;
    expect_refused(&tx, SBX_EVERSION, "version");
    make_trade(&tx, 0);
    tx.auth = LEDGER_TX_AUTH_MAX + 1;
    expect_refused(&tx, SBX_ETYPE, "tx.auth");
    make_trade(&tx, 0);
    tx.type = 99;
    expect_refused(&tx, SBX_ETYPE, "type");
    make_trade(&tx, 0); /* never signed: signer is zero */
    {
        /* the check and the decoder refuse it; encoding skips the curve check for speed (its
         * keys are our own), and a zero key can never verify */
        struct sbx_err err;
        struct buf zb;

        assert_int_equal(ledger_tx_check(&tx, &err), SBX_EPUBKEY);
        assert_non_null(strstr(err.msg, "signer"));
        buf_init(&zb, SBX_TX_MAX_SIZE);
        assert_int_equal(ledger_tx_encode(&tx, &zb, NULL), SBX_OK);
        expect_decode_rc(zb.data, zb.len, SBX_EPUBKEY, "signer");
        buf_release(&zb);
    }
    sign(&tx, OP);
    tx.timestamp = -1;
    expect_refused(&tx, SBX_EINVAL, "timestamp");

    /* anything over the size cap is refused before it is read */
    p = calloc(1, SBX_TX_MAX_SIZE + 1);
    assert_non_null(p);
    expect_decode_rc(p, SBX_TX_MAX_SIZE + 1, SBX_ETOOLONG, "tx");
    free(p);
}

static void
test_reject_strings(void **state)
{
    struct ledger_tx tx;
    struct buf b;
    uint8_t *p;
    size_t n;

    (void)state;
    /* account id of 65 bytes, hand-crafted from a valid 64-byte one */
    make_account_open(&tx, 1);
    signed_encoding(&tx, &b);
    assert_int_equal(b.data[HDR], SBX_ID_MAX);
    n = b.len + 1;
    p = malloc(n);
    assert_non_null(p);
    memcpy(p, b.data, HDR);
    p[HDR] = SBX_ID_MAX + 1;
    memset(p + HDR + 1, 'a', SBX_ID_MAX + 1);
    memcpy(p + HDR + 2 + SBX_ID_MAX, b.data + HDR + 1 + SBX_ID_MAX, b.len - HDR - 1 - SBX_ID_MAX);
    expect_decode_rc(p, n, SBX_ETOOLONG, "account_open.account");
    p[HDR] = 0xff; /* the length alone decides, before the bytes are read */
    expect_decode_rc(p, HDR + 1, SBX_ETOOLONG, "account_open.account");
    free(p);

    /* a space, a DEL and a NUL inside the id */
    p = b.data;
    p[HDR + 5] = ' ';
    expect_decode_rc(p, b.len, SBX_EINVAL, "account_open.account");
    p[HDR + 5] = 0x7f;
    expect_decode_rc(p, b.len, SBX_EINVAL, "account_open.account");
    p[HDR + 5] = 0;
    expect_decode_rc(p, b.len, SBX_EINVAL, "account_open.account");
    p[HDR + 5] = 'a';
    p[HDR] = 0; /* empty id: bytes shift into the following fields; any refusal will do */
    {
        struct ledger_tx t2;
        struct sbx_err err;

        assert_int_not_equal(decode_copy(&t2, p, b.len, NULL, &err), SBX_OK);
    }
    buf_release(&b);

    /* the same through the stateless check */
    make_account_open(&tx, 0);
    sign(&tx, OP);
    SET(tx.u.account_open.account, "acc 1");
    expect_refused(&tx, SBX_EINVAL, "account_open.account");
    tx.u.account_open.account[0] = '\0';
    expect_refused(&tx, SBX_EINVAL, "account_open.account");
    memset(tx.u.account_open.account, 'a', sizeof(tx.u.account_open.account)); /* no NUL */
    expect_refused(&tx, SBX_ETOOLONG, "account_open.account");

    /* reason over its u16 maximum, and control bytes / bad UTF-8 in free text */
    make_directive(&tx, LEDGER_DIR_LICENCE_SUSPEND, 0);
    signed_encoding(&tx, &b);
    /* kind | 4 empty strings | value: reason length at HDR + 1 + 4 + 8 */
    assert_int_equal(buf_load_u16(b.data + HDR + 13), strlen(tx.u.directive.reason));
    buf_store_u16(b.data + HDR + 13, SBX_TEXT_MAX + 1);
    expect_decode_rc(b.data, b.len, SBX_ETOOLONG, "directive.reason");
    buf_release(&b);

    make_directive(&tx, LEDGER_DIR_LICENCE_SUSPEND, 0);
    sign(&tx, REG(0));
    SET(tx.u.directive.reason, "line one\nline two");
    expect_refused(&tx, SBX_EINVAL, "directive.reason");
    SET(tx.u.directive.reason, "tab\there");
    expect_refused(&tx, SBX_EINVAL, "directive.reason");
    SET(tx.u.directive.reason, "bad \xc3\x28 utf8");
    expect_refused(&tx, SBX_EINVAL, "directive.reason");
    SET(tx.u.directive.reason, "overlong \xc0\xaf");
    expect_refused(&tx, SBX_EINVAL, "directive.reason");
    SET(tx.u.directive.reason, "overlong3 \xe0\x80\xaf");
    expect_refused(&tx, SBX_EINVAL, "directive.reason");
    SET(tx.u.directive.reason, "overlong4 \xf0\x80\x80\xaf");
    expect_refused(&tx, SBX_EINVAL, "directive.reason");
    SET(tx.u.directive.reason, "too big \xf4\x90\x80\x80");
    expect_refused(&tx, SBX_EINVAL, "directive.reason");
    SET(tx.u.directive.reason, "lone continuation \x80");
    expect_refused(&tx, SBX_EINVAL, "directive.reason");
    SET(tx.u.directive.reason, "surrogate \xed\xa0\x80");
    expect_refused(&tx, SBX_EINVAL, "directive.reason");
    SET(tx.u.directive.reason, "cut \xe1\xbb");
    expect_refused(&tx, SBX_EINVAL, "directive.reason");
    SET(tx.u.directive.reason, "c1 \xc2\x85");
    expect_refused(&tx, SBX_EINVAL, "directive.reason");
    SET(tx.u.directive.reason, "del \x7f");
    expect_refused(&tx, SBX_EINVAL, "directive.reason");
    tx.u.directive.reason[0] = '\0';
    expect_refused(&tx, SBX_EINVAL, "directive.reason");
    SET(tx.u.directive.reason, "ok");
    tx.u.directive.legal_basis[0] = '\0';
    expect_refused(&tx, SBX_EINVAL, "directive.legal_basis");
    SET(tx.u.directive.legal_basis, "\xf0\x9f\x93\x9c scroll"); /* 4-byte UTF-8 is fine */
    assert_int_equal(ledger_tx_check(&tx, NULL), SBX_OK);
}

static void
test_reject_enums(void **state)
{
    struct ledger_tx tx;
    struct buf b;
    size_t off;

    (void)state;
    /* investor class: header | str account | tier | class */
    make_account_open(&tx, 0);
    signed_encoding(&tx, &b);
    off = HDR + 1 + strlen(tx.u.account_open.account) + 1;
    assert_int_equal(b.data[off], LEDGER_CLASS_DOMESTIC_INDIVIDUAL);
    b.data[off] = 5;
    expect_decode_rc(b.data, b.len, SBX_ETYPE, "account_open.investor_class");
    b.data[off] = 0;
    expect_decode_rc(b.data, b.len, SBX_ETYPE, "account_open.investor_class");
    b.data[off] = LEDGER_CLASS_DOMESTIC_INDIVIDUAL;
    b.data[off - 1] = 4;
    expect_decode_rc(b.data, b.len, SBX_EINVAL, "account_open.kyc_tier");
    b.data[off - 1] = 0;
    expect_decode_rc(b.data, b.len, SBX_EINVAL, "account_open.kyc_tier");
    buf_release(&b);

    make_account_open(&tx, 0);
    sign(&tx, OP);
    SET(tx.u.account_open.country, "vn");
    expect_refused(&tx, SBX_EINVAL, "account_open.country");
    SET(tx.u.account_open.country, "V");
    expect_refused(&tx, SBX_EINVAL, "account_open.country");

    /* directive kind is the first body byte */
    make_directive(&tx, LEDGER_DIR_LICENCE_SUSPEND, 0);
    signed_encoding(&tx, &b);
    b.data[HDR] = 0;
    expect_decode_rc(b.data, b.len, SBX_ETYPE, "directive.kind");
    b.data[HDR] = LEDGER_DIR_KIND_MAX + 1;
    expect_decode_rc(b.data, b.len, SBX_ETYPE, "directive.kind");
    buf_release(&b);

    /* account update */
    make_account_update(&tx, 1, 1);
    sign(&tx, OP); /* signed while valid, then broken */
    tx.u.account_update.kyc_tier = 0;
    tx.u.account_update.status = 3;
    expect_refused(&tx, SBX_ETYPE, "account_update.status");
    tx.u.account_update.kyc_tier = 4;
    tx.u.account_update.status = 0;
    expect_refused(&tx, SBX_EINVAL, "account_update.kyc_tier");
    tx.u.account_update.kyc_tier = 0;
    expect_refused(&tx, SBX_EINVAL, "account_update");

    /* travel rule and screening */
    make_transfer(&tx, LEDGER_TX_DEPOSIT, 3);
    sign(&tx, OP);
    tx.u.transfer.travel_rule.protocol = 4;
    expect_refused(&tx, SBX_ETYPE, "deposit.travel_rule.protocol");
    tx.u.transfer.travel_rule.protocol = LEDGER_TRAVEL_OTHER;
    tx.u.transfer.travel_rule.status = 0;
    expect_refused(&tx, SBX_ETYPE, "deposit.travel_rule.status");
    tx.u.transfer.travel_rule.status = LEDGER_TRAVEL_PENDING;
    tx.u.transfer.travel_rule.vasp[0] = '\0';
    expect_refused(&tx, SBX_EINVAL, "deposit.travel_rule.vasp");
    SET(tx.u.transfer.travel_rule.vasp, "v");
    tx.u.transfer.screening.score = 101;
    expect_refused(&tx, SBX_EINVAL, "deposit.screening.score");
    tx.u.transfer.screening.score = 0;
    tx.u.transfer.screening.provider[0] = '\0';
    expect_refused(&tx, SBX_EINVAL, "deposit.screening.provider");
    SET(tx.u.transfer.screening.provider, "p");
    SET(tx.u.transfer.screening.categories, "a\tb");
    expect_refused(&tx, SBX_EINVAL, "deposit.screening.categories");
    tx.u.transfer.screening.categories[0] = '\0';
    assert_int_equal(ledger_tx_check(&tx, NULL), SBX_OK);
}

/* Offset of the has_travel_rule flag in a transfer encoding. */
static size_t
transfer_flag_off(const struct ledger_transfer *t)
{
    return HDR + 1 + strlen(t->transfer_id) + 1 + strlen(t->account) + 1 + strlen(t->asset) + 8 +
           1 + strlen(t->reference);
}

static const struct field_case unused_directive_fields[] = {
    TEXT_CASE(LEDGER_DIR_HALT, u.directive.account, "acc-1", SBX_ENONCANON, "directive.account"),
    INT_CASE(LEDGER_DIR_HALT, u.directive.value, 1, SBX_ENONCANON, "directive.value"),
    TEXT_CASE(LEDGER_DIR_FREEZE, u.directive.asset, "BTC", SBX_ENONCANON, "directive.asset"),
    TEXT_CASE(LEDGER_DIR_FREEZE, u.directive.address, "bc1q", SBX_ENONCANON, "directive.address"),
    TEXT_CASE(LEDGER_DIR_LICENCE_REVOKE, u.directive.name, "x", SBX_ENONCANON, "directive.name"),
};

static const struct field_case required_directive_fields[] = {
    TEXT_CASE(LEDGER_DIR_FREEZE, u.directive.account, "", SBX_EINVAL, "directive.account"),
    TEXT_CASE(LEDGER_DIR_SET_PARAM, u.directive.name, "", SBX_EINVAL, "directive.name"),
    INT_CASE(LEDGER_DIR_SET_PARAM, u.directive.value, -1, SBX_EINVAL, "directive.value"),
    INT_CASE(LEDGER_DIR_LICENCE_EXTEND, u.directive.value, 0, SBX_EINVAL, "directive.value"),
};

static const struct field_case lower_case_asset =
    TEXT_CASE(LEDGER_DIR_HALT, u.directive.asset, "btc", SBX_EINVAL, "directive.asset");

static void
test_reject_unused_fields(void **state)
{
    struct ledger_tx tx;
    struct buf b;
    size_t off;

    (void)state;
    /* presence flags are 0 or 1 */
    make_transfer(&tx, LEDGER_TX_WITHDRAWAL, 0);
    signed_encoding(&tx, &b);
    off = transfer_flag_off(&tx.u.transfer);
    assert_int_equal(b.data[off], 0);
    assert_int_equal(b.data[off + 1], 0);
    b.data[off] = 2;
    expect_decode_rc(b.data, b.len, SBX_ENONCANON, "has_travel_rule");
    b.data[off] = 0;
    b.data[off + 1] = 0xff;
    expect_decode_rc(b.data, b.len, SBX_ENONCANON, "has_screening");
    buf_release(&b);

    /* absent optional parts must be all zero */
    make_transfer(&tx, LEDGER_TX_DEPOSIT, 0);
    sign(&tx, OP);
    tx.u.transfer.travel_rule.originator_hash[31] = 1;
    expect_refused(&tx, SBX_ENONCANON, "deposit.travel_rule");
    make_transfer(&tx, LEDGER_TX_DEPOSIT, 0);
    sign(&tx, OP);
    tx.u.transfer.screening.score = 5;
    expect_refused(&tx, SBX_ENONCANON, "deposit.screening");
    tx.u.transfer.screening.score = 0;
    tx.u.transfer.has_travel_rule = 2;
    expect_refused(&tx, SBX_ENONCANON, "deposit.has_travel_rule");
    tx.u.transfer.has_travel_rule = 0;
    tx.u.transfer.has_screening = 2;
    expect_refused(&tx, SBX_ENONCANON, "deposit.has_screening");

    /* directive fields the kind does not use */
    for (size_t i = 0; i < SBX_ARRAY_LEN(unused_directive_fields); i++)
        expect_field_refused(&unused_directive_fields[i], 1);
    make_directive(&tx, LEDGER_DIR_SET_PARAM, 0);
    sign(&tx, REG(0));
    tx.u.directive.cosig[3].sig[0] = 1; /* a cosignature slot past ncosig */
    expect_refused(&tx, SBX_ENONCANON, "directive.cosig");

    /* ... and the same through the decoder: a halt whose account field is set */
    make_directive(&tx, LEDGER_DIR_HALT, 0);
    signed_encoding(&tx, &b);
    {
        struct buf c;

        buf_init(&c, SBX_TX_MAX_SIZE);
        assert_int_equal(buf_put(&c, b.data, HDR + 2), SBX_OK); /* kind, empty asset */
        assert_int_equal(buf_put_u8(&c, 1), SBX_OK);
        assert_int_equal(buf_put_u8(&c, 'x'), SBX_OK);
        assert_int_equal(buf_put(&c, b.data + HDR + 3, b.len - HDR - 3), SBX_OK);
        expect_decode_rc(c.data, c.len, SBX_ENONCANON, "directive.account");
        buf_release(&c);
    }
    buf_release(&b);

    /* required and exclusive directive targets */
    for (size_t i = 0; i < SBX_ARRAY_LEN(required_directive_fields); i++)
        expect_field_refused(&required_directive_fields[i], 1);
    make_directive(&tx, LEDGER_DIR_SANCTION_ADD, 0);
    sign(&tx, REG(0));
    SET(tx.u.directive.account, "acc-1"); /* both */
    expect_refused(&tx, SBX_EINVAL, "directive.account");
    tx.u.directive.account[0] = '\0';
    tx.u.directive.address[0] = '\0'; /* neither */
    expect_refused(&tx, SBX_EINVAL, "directive.account");
    SET(tx.u.directive.address, "has space");
    expect_refused(&tx, SBX_EINVAL, "directive.address");
    expect_field_refused(&lower_case_asset, 1);
}

static const struct field_case trade_fields[] = {
    INT_CASE(0, u.trade.quantity, -5, SBX_EINVAL, "trade.quantity"),
    INT_CASE(0, u.trade.price, 0, SBX_EINVAL, "trade.price"),
    INT_CASE(0, u.trade.price, INT64_MIN, SBX_EINVAL, "trade.price"),
    INT_CASE(0, u.trade.fee_buyer, -1, SBX_EINVAL, "trade.fee_buyer"),
    INT_CASE(0, u.trade.fee_seller, -1, SBX_EINVAL, "trade.fee_seller"),
    INT_CASE(0, u.trade.executed_at, 0, SBX_EINVAL, "trade.executed_at"),
    TEXT_CASE(0, u.trade.seller, "alice", SBX_EINVAL, "trade.seller"), /* the buyer's id */
    TEXT_CASE(0, u.trade.buyer_order, "o 1", SBX_EINVAL, "trade.buyer_order"),
};

static void
test_reject_amounts(void **state)
{
    struct ledger_tx tx;
    struct buf b;
    size_t off;

    (void)state;
    /* deposit amount 0 and -1 through the decoder */
    make_transfer(&tx, LEDGER_TX_DEPOSIT, 0);
    signed_encoding(&tx, &b);
    off = transfer_flag_off(&tx.u.transfer) - 1 - strlen(tx.u.transfer.reference) - 8;
    assert_int_equal((int64_t)buf_load_u64(b.data + off), 1);
    buf_store_u64(b.data + off, 0);
    expect_decode_rc(b.data, b.len, SBX_EINVAL, "deposit.amount");
    buf_store_u64(b.data + off, UINT64_MAX);
    expect_decode_rc(b.data, b.len, SBX_EINVAL, "deposit.amount");
    buf_store_u64(b.data + off, (uint64_t)INT64_MIN);
    expect_decode_rc(b.data, b.len, SBX_EINVAL, "deposit.amount");
    buf_release(&b);

    make_transfer(&tx, LEDGER_TX_WITHDRAWAL, 0);
    sign(&tx, OP);
    tx.u.transfer.amount = 0;
    expect_refused(&tx, SBX_EINVAL, "withdrawal.amount");
    tx.u.transfer.amount = 1;
    SET(tx.u.transfer.asset, "");
    expect_refused(&tx, SBX_EINVAL, "withdrawal.asset");
    SET(tx.u.transfer.asset, "VND");
    SET(tx.u.transfer.reference, "two words");
    expect_refused(&tx, SBX_EINVAL, "withdrawal.reference");

    /* trade */
    make_trade(&tx, 0);
    signed_encoding(&tx, &b);
    off = HDR + 3 + 6 + 4 + 4; /* quantity */
    buf_store_u64(b.data + off, 0);
    expect_decode_rc(b.data, b.len, SBX_EINVAL, "trade.quantity");
    buf_release(&b);

    for (size_t i = 0; i < SBX_ARRAY_LEN(trade_fields); i++)
        expect_field_refused(&trade_fields[i], 0);
}

static void
test_reject_genesis(void **state)
{
    struct ledger_tx tx;
    struct buf b;
    char *doc;

    (void)state;
    make_genesis(&tx, 0);
    sign(&tx, OP);
    doc = tx.u.genesis.licence_json;

#define G tx.u.genesis
    memset(G.regulator_keys[0], 0xff, 32);
    expect_refused(&tx, SBX_EPUBKEY, "genesis.regulator_keys[0]");
    memcpy(G.regulator_keys[0], OP->pubkey, 32);
    expect_refused(&tx, SBX_EINVAL, "genesis.regulator_keys[0]");
    memcpy(G.regulator_keys[0], REG(0)->pubkey, 32);
    memset(G.operator_key, 0xff, 32);
    expect_refused(&tx, SBX_EPUBKEY, "genesis.operator_key");
    memcpy(G.operator_key, OP->pubkey, 32);

    G.nregulators = 2;
    memcpy(G.regulator_keys[1], REG(0)->pubkey, 32);
    expect_refused(&tx, SBX_EINVAL, "genesis.regulator_keys[1]");
    memcpy(G.regulator_keys[1], REG(1)->pubkey, 32);
    G.directive_quorum = 3;
    expect_refused(&tx, SBX_EINVAL, "genesis.directive_quorum");
    G.directive_quorum = 0;
    expect_refused(&tx, SBX_EINVAL, "genesis.directive_quorum");
    G.directive_quorum = 2;
    G.attestation_quorum = 0;
    expect_refused(&tx, SBX_EINVAL, "genesis.attestation_quorum");
    G.attestation_quorum = 2;
    assert_int_equal(ledger_tx_check(&tx, NULL), SBX_OK);
    G.nregulators = 1; /* key [1] left behind in an unused slot */
    G.directive_quorum = G.attestation_quorum = 1;
    expect_refused(&tx, SBX_ENONCANON, "genesis.regulator_keys");
    memset(G.regulator_keys[1], 0, 32);
    G.nregulators = 0;
    expect_refused(&tx, SBX_EINVAL, "genesis.regulator_keys");
    G.nregulators = SBX_MAX_REGULATORS + 1;
    expect_refused(&tx, SBX_ETOOLONG, "genesis.regulator_keys");
    G.nregulators = 1;

    SET(G.assets[0].symbol, "USD");
    expect_refused(&tx, SBX_EINVAL, "genesis.assets[0]");
    SET(G.assets[0].symbol, "VND");
    G.assets[0].decimals = 2;
    expect_refused(&tx, SBX_EINVAL, "genesis.assets[0]");
    G.assets[0].decimals = 0;
    G.nassets = 3;
    SET(G.assets[1].symbol, "BTC");
    G.assets[1].decimals = 8;
    SET(G.assets[2].symbol, "BTC");
    expect_refused(&tx, SBX_EINVAL, "genesis.assets[2].symbol");
    SET(G.assets[2].symbol, "Eth");
    expect_refused(&tx, SBX_EINVAL, "genesis.assets[2].symbol");
    SET(G.assets[2].symbol, "ETH");
    G.assets[2].decimals = 9;
    expect_refused(&tx, SBX_EINVAL, "genesis.assets[2].decimals");
    G.assets[2].decimals = 8;
    assert_int_equal(ledger_tx_check(&tx, NULL), SBX_OK);
    G.nassets = 0;
    expect_refused(&tx, SBX_EINVAL, "genesis.assets");
    G.nassets = 2; /* ETH left behind */
    expect_refused(&tx, SBX_ENONCANON, "genesis.assets");
    G.nassets = 3;

    SET(G.network, "my net");
    expect_refused(&tx, SBX_EINVAL, "genesis.network");
    G.network[0] = '\0';
    expect_refused(&tx, SBX_EINVAL, "genesis.network");
    SET(G.network, "net");

    G.licence_len = 0;
    expect_refused(&tx, SBX_EINVAL, "genesis.licence_json");
    G.licence_len = SBX_LICENCE_DOC_MAX + 1;
    expect_refused(&tx, SBX_ETOOLONG, "genesis.licence_json");
    G.licence_len = 2;
    G.licence_json = NULL;
    expect_refused(&tx, SBX_EINVAL, "genesis.licence_json");
    G.licence_json = doc;
    doc[1] = '\0';
    expect_refused(&tx, SBX_EINVAL, "genesis.licence_json");
    doc[1] = '}';
    assert_int_equal(ledger_tx_check(&tx, NULL), SBX_OK);

    /* through the decoder: a licence length over the maximum, and past the end */
    signed_encoding(&tx, &b);
    {
        size_t off = b.len - 64 - 2 - 4;

        assert_int_equal(buf_load_u32(b.data + off), 2);
        buf_store_u32(b.data + off, SBX_LICENCE_DOC_MAX + 1);
        expect_decode_rc(b.data, b.len, SBX_ETOOLONG, "genesis.licence_json");
        buf_store_u32(b.data + off, UINT32_MAX);
        expect_decode_rc(b.data, b.len, SBX_ETOOLONG, "genesis.licence_json");
        buf_store_u32(b.data + off, 2 + 64 + 1);
        expect_decode_rc(b.data, b.len, SBX_ETRUNCATED, "genesis.licence_json");
        /* a regulator count over the maximum */
        off = HDR + 1 + strlen(G.network) + 32;
        assert_int_equal(b.data[off], 1);
        b.data[off] = SBX_MAX_REGULATORS + 1;
        expect_decode_rc(b.data, b.len, SBX_ETOOLONG, "genesis.regulator_keys");
    }
    buf_release(&b);
#undef G
    ledger_tx_release(&tx);
}

int
test_ledger_txreject_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reject_header),  cmocka_unit_test(test_reject_strings),
        cmocka_unit_test(test_reject_enums),   cmocka_unit_test(test_reject_unused_fields),
        cmocka_unit_test(test_reject_amounts), cmocka_unit_test(test_reject_genesis),
    };

    return cmocka_run_group_tests_name("ledger_txreject", tests, txbuild_group_setup,
                                       txbuild_group_teardown);
}
